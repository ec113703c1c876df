#!/usr/bin/env bash
# Benchmark: phone to verdict over adb (issue: live Android).
#
#   scripts/bench_adb.sh [WORKDIR]
#
# A fake phone (fake-adbd, adopted by the real Debian adb server on a private port and HOME) with
# 300 packages: 240 system apps and 60 third-party apps whose APKs total about 8 GB (real signed
# APKs built by aapt/apksigner, padded in front to sizes like real apps), on a link with 2 ms
# round trip and 35 MB/s. Measured in one run:
#   - baseline: the per-package pattern existing tools use, with the adb CLI: `pm path`, then a
#     `sha256sum` per file, then `adb pull` (pulls are timed on a sample and extrapolated by bytes,
#     said so in the output: pulling 8 GB at 35 MB/s takes minutes);
#   - appsweep scan adb, first run (empty fingerprint cache) and second run (warm cache):
#     time to verdict with signer certificates of every third-party app, round trips (services the
#     phone opened) and bytes moved (from the fake's counters).
set -euo pipefail
WORK=${1:-/tmp/appsweep-bench-adb}
ROOT=$(cd "$(dirname "$0")/.." && pwd)
FRAMEWORK=/usr/share/android-framework-res/framework-res.apk
for t in adb aapt zipalign apksigner keytool python3; do
  command -v "$t" >/dev/null || { echo "missing $t (apt-get install -y adb aapt zipalign apksigner android-framework-res)" >&2; exit 2; }
done
rm -rf "$WORK"; mkdir -p "$WORK/apk" "$WORK/home" "$WORK/cache"
cd "$ROOT"
cargo build --release --quiet --bin appsweep --bin fake-adbd
BIN="$ROOT/target/release/appsweep"; FAKE="$ROOT/target/release/fake-adbd"

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

python3 - "$WORK" <<'PY'
import json, os, random, sys
work = sys.argv[1]
rng = random.Random(42)
pkgs = []
third = []
# 60 third-party apps, sizes like real apps (log-uniform 15-500 MB), about 8 GB in all.
sizes = [int(15e6 * (500 / 15) ** rng.random()) for _ in range(60)]
scale = 8e9 / sum(sizes)
sizes = [int(s * scale) for s in sizes]
for i, size in enumerate(sizes):
    base = f"{work}/apk/base{i % 3}.apk"
    name = f"com.vendor{i}.app"
    real = os.path.getsize(base)
    pkgs.append({"name": name, "users": [0], "uid": 10100 + i, "version_code": 100 + i,
                 "version_name": f"1.{i}", "installer": "com.android.vending",
                 "apks": [{"path": f"/data/app/~~r{i}==/{name}-x{i}==/base.apk", "file": base,
                           "prefix_junk": max(0, size - real)}]})
    third.append((name, f"/data/app/~~r{i}==/{name}-x{i}==/base.apk", max(size, real)))
for i in range(240):
    name = f"com.android.sys{i}"
    pkgs.append({"name": name, "users": [0], "system": True, "version_code": 34,
                 "version_name": "14",
                 "apks": [{"path": f"/system/app/Sys{i}/Sys{i}.apk", "synthetic_size": 5_000_000}]})
scenario = {
    "serial_banner": {"product": "bench", "model": "Bench_Phone", "device": "bench"},
    "auth": "accept", "android_sdk": 34,
    "props": {"ro.product.manufacturer": "bench", "ro.product.model": "Bench Phone",
              "ro.build.version.release": "14", "ro.build.version.sdk": "34"},
    "users": [{"id": 0, "name": "Owner", "flags": "c13", "running": True}],
    "packages": pkgs,
    # 2 ms round trip: 1 ms each way.
    "link": {"latency_ms": 1, "bandwidth_bytes_per_s": 35_000_000},
    "shell_v2": True,
}
json.dump(scenario, open(f"{work}/scenario.json", "w"))
with open(f"{work}/third.tsv", "w") as f:
    for t in third:
        f.write("\t".join(map(str, t)) + "\n")
print(f"scenario: {len(pkgs)} packages, 60 third-party totalling {sum(t[2] for t in third)/1e9:.2f} GB")
PY

PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
export HOME="$WORK/home"
ADB=(adb -P "$PORT")
"${ADB[@]}" start-server >/dev/null 2>&1
"$FAKE" --scenario "$WORK/scenario.json" --port 0 --stats-file "$WORK/stats.json" > "$WORK/fake.out" 2>"$WORK/fake.err" &
FAKE_PID=$!
cleanup() { kill "$FAKE_PID" 2>/dev/null || true; "${ADB[@]}" kill-server >/dev/null 2>&1 || true; }
trap cleanup EXIT
for _ in $(seq 50); do grep -q LISTENING "$WORK/fake.out" 2>/dev/null && break; sleep 0.1; done
FPORT=$(awk '/LISTENING/ {print $2}' "$WORK/fake.out")
SERIAL="127.0.0.1:$FPORT"
"${ADB[@]}" connect "$SERIAL" >/dev/null
for _ in $(seq 100); do "${ADB[@]}" devices | grep -q "$SERIAL.device" && break; sleep 0.1; done

stat_of() { python3 -c "import json;s=json.load(open('$WORK/stats.json'));print(s['opens'], s['bytes_sent'])"; }
now() { date +%s.%N; }

# Baseline: per package, pm path + sha256sum + pull (pull timed on a sample of 3, extrapolated).
read -r O0 B0 < <(stat_of)
t0=$(now)
while IFS=$'\t' read -r name path size; do
  "${ADB[@]}" -s "$SERIAL" shell pm path "$name" >/dev/null </dev/null
  "${ADB[@]}" -s "$SERIAL" shell sha256sum "$path" >/dev/null </dev/null
done < "$WORK/third.tsv"
t1=$(now)
read -r O1 B1 < <(stat_of)
PULLED=0; tp0=$(now)
while IFS=$'\t' read -r name path size; do
  "${ADB[@]}" -s "$SERIAL" pull "$path" "$WORK/pulled.apk" >/dev/null 2>&1 </dev/null
  PULLED=$((PULLED + size)); rm -f "$WORK/pulled.apk"
done < <(sort -t$'\t' -k3,3n "$WORK/third.tsv" | head -3)
tp1=$(now)
read -r O2 B2 < <(stat_of)

# appsweep, first scan (empty cache) and second scan (warm cache).
export XDG_CACHE_HOME="$WORK/cache"
t2=$(now); "$BIN" scan adb --adb-server "127.0.0.1:$PORT" --serial "$SERIAL" --format json > "$WORK/first.json" || true; t3=$(now)
read -r O3 B3 < <(stat_of)
t4=$(now); "$BIN" scan adb --adb-server "127.0.0.1:$PORT" --serial "$SERIAL" --format json > "$WORK/second.json" || true; t5=$(now)
read -r O4 B4 < <(stat_of)

python3 - <<PY
import json
third = [l.split("\t") for l in open("$WORK/third.tsv").read().splitlines()]
total = sum(int(t[2]) for t in third)
r = json.load(open("$WORK/first.json"))["reports"][0]
apps = [a for a in r["apps"] if not a["system"]]
signed = sum(1 for a in apps if a["signers_sha256"])
base_listing = $t1 - $t0
pull_sample = $tp1 - $tp0
pull_rate = $PULLED / pull_sample if pull_sample > 0 else 0
pull_all = total / pull_rate if pull_rate else float("nan")
baseline = base_listing + pull_all
first, second = $t3 - $t2, $t5 - $t4
print(f"phone: 300 packages, 60 third-party, {total/1e9:.2f} GB of third-party APKs; link 2 ms RTT, 35 MB/s")
print(f"baseline (pm path + sha256sum per package): {base_listing:.1f} s, {$O1 - $O0} round trips")
print(f"baseline pulls: {pull_sample:.1f} s for 3 APKs ({$PULLED/1e6:.0f} MB, {pull_rate/1e6:.1f} MB/s) -> {pull_all:.0f} s extrapolated for all 60")
print(f"baseline total (extrapolated): {baseline:.0f} s, {$O2 - $O0}+ round trips")
print(f"appsweep first scan:  {first:.2f} s, {$O3 - $O2} round trips, {($B3 - $B2)/1e6:.2f} MB moved "
      f"({100*($B3 - $B2)/total:.3f}% of APK bytes), status {r['status']}, signers for {signed}/{len(apps)} third-party apps")
print(f"appsweep second scan: {second:.2f} s, {$O4 - $O3} round trips, {($B4 - $B3)/1e6:.2f} MB moved; {first/second:.1f}x faster than the first")
print(f"speed-up vs baseline: {baseline/first:.0f}x (first scan), {base_listing/first:.1f}x vs the baseline without pulls")
PY
