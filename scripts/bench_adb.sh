#!/usr/bin/env bash
# Benchmark: phone to verdict over adb, per Android version, each figure beside its baseline.
#
#   scripts/bench_adb.sh [WORKDIR]
#
# Fake phones (fake-adbd with "sdk", so each behaves and costs like a real phone of that
# version: ~40 ms per pm/cmd call on Android 9+, 350 ms per pm call before, dumpsys 0.3 s + 5 ms
# per package, 2 ms per toybox tool), adopted by the real Debian adb server on a private port
# and HOME. Each phone has 300 packages: 240 system apps and 60 third-party apps whose APKs total
# about 3 GB (real signed APKs built by aapt/apksigner, padded in front to sizes like real apps),
# on a link with 2 ms round trip and 35 MB/s. Measured in one run:
#   - baseline: the per-package pattern existing tools use, with the adb CLI: `pm path`, then a
#     `sha256sum` per file, then `adb pull` (pulls timed on a sample and extrapolated by bytes);
#   - Android 14: appsweep cold (empty fingerprint cache) and re-scan (warm cache), with the
#     target of each figure: cold < 2.5 s, bytes <= 0.5 % of APK bytes, re-scan <= 0.8x cold
#     and no APK bytes;
#   - the same phone as Android 7 (no `base64 -w 0`, no sha256sum, pm at 350 ms): < 10 s and
#     <= 2 %; as Android 6 (4 KiB payload, no shell v2, no base64): right verdict, server alive,
#     <= 5 %;
#   - eight Android 14 phones scanned at once: <= 1.5x one;
#   - each fallback way of reading APK ranges (APPSWEEP_ADB_READ) on the Android 14 phone.
# Round trips are services the phone opened, bytes what it sent (the fake's counters).
set -euo pipefail
WORK=${1:-/tmp/appsweep-bench-adb}
ROOT=$(cd "$(dirname "$0")/.." && pwd)
FRAMEWORK=/usr/share/android-framework-res/framework-res.apk
for t in adb aapt zipalign apksigner keytool python3; do
  command -v "$t" >/dev/null || { echo "missing $t (apt-get install -y adb aapt zipalign apksigner android-framework-res)" >&2; exit 2; }
done
rm -rf "$WORK"; mkdir -p "$WORK/apk" "$WORK/home"
cd "$ROOT"
cargo build --release --quiet --bin appsweep --bin fake-adbd
BIN="$ROOT/target/release/appsweep"; FAKE="$ROOT/target/release/fake-adbd"
echo "machine: $(nproc) cores, load $(cut -d' ' -f1-3 /proc/loadavg)"

cd "$WORK/apk"
keytool -genkeypair -keystore key.jks -storepass benchpass -keypass benchpass -alias bench \
  -keyalg RSA -keysize 2048 -validity 10000 -dname "CN=bench" >/dev/null 2>&1
for i in 0 1 2; do
  mkdir -p "m$i"
  cat > "m$i/AndroidManifest.xml" <<XML
<manifest xmlns:android="http://schemas.android.com/apk/res/android" package="org.bench.base$i"
  android:versionCode="$((i + 1))" android:versionName="1.$i">
  <application android:label="B$i"><activity android:name=".Main" android:exported="true"/></application>
</manifest>
XML
  aapt package -f -M "m$i/AndroidManifest.xml" -I "$FRAMEWORK" -F "u$i.apk" >/dev/null
  zipalign -f -p 4 "u$i.apk" "a$i.apk"
  apksigner sign --ks key.jks --ks-pass pass:benchpass --out "base$i.apk" "a$i.apk"
done

# One scenario per Android version: scenario-SDK.json; third.tsv lists the third-party APKs.
python3 - "$WORK" <<'PY'
import json, os, random, sys
work = sys.argv[1]
rng = random.Random(42)
pkgs, third = [], []
# 60 third-party apps, sizes like real apps (log-uniform 10-300 MB), about 3 GB in all.
sizes = [int(10e6 * (300 / 10) ** rng.random()) for _ in range(60)]
scale = 3e9 / sum(sizes)
sizes = [int(s * scale) for s in sizes]
for i, size in enumerate(sizes):
    base = f"{work}/apk/base{i % 3}.apk"
    name = f"com.vendor{i}.app"
    real = os.path.getsize(base)
    path = f"/data/app/~~r{i}==/{name}-x{i}==/base.apk"
    pkgs.append({"name": name, "users": [0], "uid": 10100 + i, "version_code": 100 + i,
                 "version_name": f"1.{i}", "installer": "com.android.vending",
                 "first_install": "2024-03-01 09:00:00", "last_update": "2024-06-01 09:00:00",
                 "apks": [{"path": path, "file": base, "prefix_junk": max(0, size - real)}]})
    third.append((name, path, max(size, real)))
for i in range(240):
    name = f"com.android.sys{i}"
    pkgs.append({"name": name, "users": [0], "system": True, "version_code": 34,
                 "version_name": "14",
                 "apks": [{"path": f"/system/app/Sys{i}/Sys{i}.apk", "synthetic_size": 5_000_000}]})
for sdk in (34, 25, 23):
    scenario = {
        "sdk": sdk,
        "serial_banner": {"product": "bench", "model": "Bench_Phone", "device": "bench"},
        "auth": "accept",
        "props": {"ro.product.manufacturer": "bench", "ro.product.model": "Bench Phone"},
        "users": [{"id": 0, "name": "Owner", "flags": "c13", "running": True}],
        "packages": pkgs,
        # 2 ms round trip: 1 ms each way.
        "link": {"latency_ms": 1, "bandwidth_bytes_per_s": 35_000_000},
    }
    json.dump(scenario, open(f"{work}/scenario-{sdk}.json", "w"))
with open(f"{work}/third.tsv", "w") as f:
    for t in third:
        f.write("\t".join(map(str, t)) + "\n")
print(f"phone: {len(pkgs)} packages, 60 third-party totalling {sum(t[2] for t in third)/1e9:.2f} GB of APKs; link 2 ms RTT, 35 MB/s; on-phone costs of each Android version")
PY

PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
export HOME="$WORK/home"
ADB=(adb -P "$PORT")
"${ADB[@]}" start-server >/dev/null 2>&1
PIDS=()
cleanup() {
  for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
  "${ADB[@]}" kill-server >/dev/null 2>&1 || true
}
trap cleanup EXIT

# start_phone NAME SDK: starts a fake phone and connects it; sets SERIAL_<NAME>.
start_phone() {
  local name=$1 sdk=$2
  "$FAKE" --scenario "$WORK/scenario-$sdk.json" --port 0 --stats-file "$WORK/stats-$name.json" \
    > "$WORK/fake-$name.out" 2>"$WORK/fake-$name.err" &
  PIDS+=($!)
  for _ in $(seq 100); do grep -q LISTENING "$WORK/fake-$name.out" 2>/dev/null && break; sleep 0.1; done
  local serial="127.0.0.1:$(awk '/LISTENING/ {print $2}' "$WORK/fake-$name.out")"
  "${ADB[@]}" connect "$serial" >/dev/null
  for _ in $(seq 100); do "${ADB[@]}" devices | grep -q "$serial.device" && break; sleep 0.1; done
  printf -v "SERIAL_$name" '%s' "$serial"
}
# counters NAME: "opens bytes" of that phone so far.
counters() { python3 -c "import json;s=json.load(open('$WORK/stats-$1.json'));print(s['opens'], s['bytes_sent'])"; }
now() { date +%s.%N; }
# scan OUT [args...]: one appsweep run; prints its wall time.
scan() {
  local out=$1; shift
  local t0; t0=$(now)
  "$BIN" scan adb --adb-server "127.0.0.1:$PORT" --format json "$@" > "$out" 2>>"$WORK/appsweep.err" || true
  python3 -c "print($(now) - $t0)"
}

start_phone a14 34
start_phone a7 25
start_phone a6 23
for k in 1 2 3 4 5 6 7 8; do start_phone "m$k" 34; done

# Baseline: per package, pm path + sha256sum + pull (pull timed on a sample of 3, extrapolated).
S=$SERIAL_a14
read -r O0 B0 < <(counters a14)
t0=$(now)
while IFS=$'\t' read -r name path size; do
  "${ADB[@]}" -s "$S" shell pm path "$name" >/dev/null </dev/null
  "${ADB[@]}" -s "$S" shell sha256sum "$path" >/dev/null </dev/null
done < "$WORK/third.tsv"
t1=$(now)
read -r O1 B1 < <(counters a14)
PULLED=0; tp0=$(now)
while IFS=$'\t' read -r name path size; do
  "${ADB[@]}" -s "$S" pull "$path" "$WORK/pulled.apk" >/dev/null 2>&1 </dev/null
  PULLED=$((PULLED + size)); rm -f "$WORK/pulled.apk"
done < <(sort -t$'\t' -k3,3n "$WORK/third.tsv" | head -3)
tp1=$(now)

# Android 14: cold, then re-scan with the cache it filled.
export XDG_CACHE_HOME="$WORK/cache"
read -r O2 B2 < <(counters a14)
T_COLD=$(scan "$WORK/a14-cold.json" --serial "$S")
read -r O3 B3 < <(counters a14)
T_WARM=$(scan "$WORK/a14-warm.json" --serial "$S")
read -r O4 B4 < <(counters a14)
# Android 7 and 6, cold.
read -r O5 B5 < <(counters a7)
T_A7=$(scan "$WORK/a7.json" --serial "$SERIAL_a7" --no-cache)
read -r O6 B6 < <(counters a7)
read -r O7 B7 < <(counters a6)
T_A6=$(scan "$WORK/a6.json" --serial "$SERIAL_a6" --no-cache)
read -r O8 B8 < <(counters a6)
A6_STATE=$("${ADB[@]}" devices | awk -v s="$SERIAL_a6" '$1 == s {print $2}')
# One Android 14 phone, then eight at once (cold).
T_ONE=$(scan "$WORK/one.json" --serial "$SERIAL_m1" --no-cache)
EIGHT=(); for k in 1 2 3 4 5 6 7 8; do v="SERIAL_m$k"; EIGHT+=(--serial "${!v}"); done
T_EIGHT=$(scan "$WORK/eight.json" "${EIGHT[@]}" --no-cache)
# Each fallback way of reading ranges, on the Android 14 phone, cold.
FALLBACKS=""
for way in base64-w0 base64 od; do
  read -r Oa Ba < <(counters a14)
  t=$(APPSWEEP_ADB_READ=$way scan "$WORK/way-$way.json" --serial "$S" --no-cache)
  read -r Ob Bb < <(counters a14)
  FALLBACKS+="$way $t $((Bb - Ba)) "
done

python3 - <<PY
import json
third = [l.split("\t") for l in open("$WORK/third.tsv").read().splitlines()]
total = sum(int(t[2]) for t in third)

def report(path, serial=None):
    rs = json.load(open(path))["reports"]
    return [r for r in rs if serial is None or r["device"]["id"] == serial]

def verdict(r):
    apps = [a for a in r["apps"] if not a["system"]]
    signed = sum(1 for a in apps if a["signers_sha256"])
    return f"status {r['status']}, signers {signed}/{len(apps)}"

def pct(b):
    return 100 * b / total

base_listing = $t1 - $t0
pull_rate = $PULLED / ($tp1 - $tp0)
baseline = base_listing + total / pull_rate
cold, warm = $T_COLD, $T_WARM
a14 = report("$WORK/a14-cold.json")[0]
warm_r = report("$WORK/a14-warm.json")[0]
print(f"baseline (adb CLI, per package pm path + sha256sum, then pulls): {base_listing:.1f} s and {$O1 - $O0} round trips before pulls; "
      f"pulls at {pull_rate/1e6:.1f} MB/s -> {baseline:.0f} s to every signer (extrapolated)")
print(f"Android 14 cold:    {cold:5.2f} s (target < 2.5 s; {baseline/cold:.0f}x faster than the baseline), {$O3 - $O2} round trips, "
      f"{($B3 - $B2)/1e6:.1f} MB = {pct($B3 - $B2):.3f}% of APK bytes (target <= 0.5%), {verdict(a14)}")
print(f"Android 14 re-scan: {warm:5.2f} s = {warm/cold:.2f}x cold (target <= 0.8x), {$O4 - $O3} round trips, "
      f"{($B4 - $B3)/1e6:.2f} MB moved, cache hits {warm_r['stats']['cache_hits']}, full pulls {warm_r['stats']['full_pulls']}, {verdict(warm_r)}")
a7 = report("$WORK/a7.json")[0]
print(f"Android 7.1:        {$T_A7:5.2f} s (target < 10 s; {$T_A7/cold:.1f}x Android 14), {$O6 - $O5} round trips, "
      f"{($B6 - $B5)/1e6:.1f} MB = {pct($B6 - $B5):.3f}% of APK bytes (target <= 2%), {verdict(a7)}")
a6 = report("$WORK/a6.json")[0]
print(f"Android 6.0:        {$T_A6:5.2f} s ({$T_A6/cold:.1f}x Android 14), {$O8 - $O7} round trips, "
      f"{($B8 - $B7)/1e6:.1f} MB = {pct($B8 - $B7):.3f}% of APK bytes (target <= 5%), {verdict(a6)}, adb server still lists it: {'$A6_STATE' or 'NO'}")
eight = report("$WORK/eight.json")
ok = sum(1 for r in eight if r["status"] == "clean" and "signers 60/60" in verdict(r))
print(f"eight Android 14 phones at once: {$T_EIGHT:5.2f} s = {$T_EIGHT/$T_ONE:.2f}x one phone ({$T_ONE:.2f} s) (target <= 1.5x), {ok}/8 complete")
f = "$FALLBACKS".split()
for i in range(0, len(f), 3):
    way, t, b = f[i], float(f[i+1]), int(f[i+2])
    print(f"  ranges via {way:10s} {t:5.2f} s = {t/cold:.2f}x raw, {b/1e6:.1f} MB = {pct(b):.3f}% of APK bytes")
PY
