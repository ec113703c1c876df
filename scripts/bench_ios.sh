#!/usr/bin/env bash
# Benchmark: iPhone to verdict over usbmuxd (live iOS).
#
#   scripts/bench_ios.sh [WORKDIR] [RUNS]
#
# Fake iPhones (fake-iphone) behind a private usbmuxd socket, each with 200 apps (120 user apps
# with iTunesMetadata, TikTok among them, and 80 system apps), every answer of a phone delayed by
# 2 ms (one USB round trip). Measured in one run, interleaved, RUNS times each (median quoted):
#   - baseline: what the existing tools give on the same phone, `ideviceinfo` (identity) then
#     `ideviceinstaller -l -o list_all` (the app list, no verdict);
#   - appsweep scan ios on that phone: time to verdict, round trips (from the report), lockdown
#     sessions and Browse calls (counted by the fake);
#   - appsweep scan ios on four such phones at once.
# Prints the ratios: appsweep against the baseline, and four phones against one.
set -euo pipefail
WORK=${1:-/tmp/appsweep-bench-ios}
RUNS=${2:-7}
ROOT=$(cd "$(dirname "$0")/.." && pwd)
for t in ideviceinfo ideviceinstaller python3; do
  command -v "$t" >/dev/null || { echo "missing $t (apt-get install -y libimobiledevice-utils ideviceinstaller python3)" >&2; exit 2; }
done
mkdir -p "$WORK/keys"
rm -rf "$WORK/one" "$WORK/four"; mkdir -p "$WORK/one" "$WORK/four"
cd "$ROOT"
cargo build --release --quiet --bin appsweep --bin fake-iphone
BIN="$ROOT/target/release/appsweep"; FAKE="$ROOT/target/release/fake-iphone"

python3 - "$WORK" <<'PY'
import json, sys
work = sys.argv[1]
def phone(n):
    apps = [{"id": "com.zhiliaoapp.musically", "name": "TikTok", "version": "34.1.0",
             "item_id": 835599320, "artist": "TikTok Ltd.", "apple_id": "buyer@example.com"}]
    return {"udid": "00008110-%016X" % (0xBE7C0000 + n), "paired": True,
            "serial": "F2LBENCH%04d" % n, "imei": "356789012345678",
            "apps": apps, "filler_user_apps": 119, "filler_system_apps": 80}
for name, phones in (("one", [phone(0)]), ("four", [phone(i) for i in range(1, 5)])):
    sc = {"round_trip_ms": 2, "key_cache": f"{work}/keys", "phones": phones}
    json.dump(sc, open(f"{work}/{name}/scenario.json", "w"))
PY

PIDS=()
cleanup() { for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done; }
trap cleanup EXIT
start() {
  "$FAKE" --scenario "$WORK/$1/scenario.json" --socket "$WORK/$1/usbmuxd" \
    --stats-file "$WORK/$1/stats.json" > "$WORK/$1/listening" 2> "$WORK/$1/fake.log" &
  PIDS+=($!)
  for _ in $(seq 600); do grep -q LISTENING "$WORK/$1/listening" 2>/dev/null && return; sleep 0.1; done
  echo "fake-iphone did not start: $(cat "$WORK/$1/fake.log")" >&2; exit 1
}
start one
start four

python3 - "$WORK" "$BIN" "$RUNS" <<'PY'
import json, os, statistics, subprocess, sys, time
work, binary, runs = sys.argv[1], sys.argv[2], int(sys.argv[3])
env = {k: v for k, v in os.environ.items() if not k.startswith(("APPSWEEP_", "USBMUXD_"))}
def at(name):
    e = dict(env, USBMUXD_SOCKET_ADDRESS=f"UNIX:{work}/{name}/usbmuxd", HOME=f"{work}/{name}")
    return e
def run(cmds, e):
    t0 = time.perf_counter()
    out = None
    for c in cmds:
        p = subprocess.run(c, env=e, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
        out = p
    return time.perf_counter() - t0, out
baseline = [["ideviceinfo"], ["ideviceinstaller", "-l", "-o", "list_all"]]
scan = [[binary, "scan", "ios", "--format", "json"]]
times = {"baseline": [], "one": [], "four": []}
last = {}
def stats(name):
    try:
        return json.load(open(f"{work}/{name}/stats.json"))
    except Exception:
        return {}
# Warm-up, then interleaved runs.
for name, cmds, where in (("baseline", baseline, "one"), ("one", scan, "one"), ("four", scan, "four")):
    run(cmds, at(where))
for _ in range(runs):
    for name, cmds, where in (("baseline", baseline, "one"), ("one", scan, "one"), ("four", scan, "four")):
        before = stats(where)
        t, out = run(cmds, at(where))
        times[name].append(t)
        last[name] = (out, before, stats(where))
def med(xs): return statistics.median(xs)
one_out, before, after = last["one"]
doc = json.loads(one_out.stdout)
rep = doc["reports"][0]
udid = rep["device"]["id"]
delta = lambda k: after.get(udid, {}).get(k, 0) - before.get(udid, {}).get(k, 0)
four_doc = json.loads(last["four"][0].stdout)
lines = [
    f"phone: 200 apps (120 user, 80 system), 2 ms per round trip; {runs} interleaved runs, medians",
    f"baseline ideviceinfo + ideviceinstaller -l (list, no verdict): {med(times['baseline']):.3f} s",
    f"appsweep scan ios, one phone:   {med(times['one']):.3f} s  status={rep['status']} apps={rep['counts']['apps']} "
    f"round_trips={rep['stats']['round_trips']} bytes={rep['stats']['bytes_transferred']} "
    f"lockdown_sessions={delta('sessions')} browses={delta('browses')}",
    f"appsweep scan ios, four phones: {med(times['four']):.3f} s  statuses={sorted(r['status'] for r in four_doc['reports'])}",
    f"ratio appsweep / baseline (one phone): {med(times['one']) / med(times['baseline']):.2f}x "
    f"({med(times['baseline']) / med(times['one']):.1f}x faster, with a verdict)",
    f"ratio four phones / one phone: {med(times['four']) / med(times['one']):.2f} (goal <= 1.5)",
    f"one phone under 1 s: {'yes' if med(times['one']) < 1.0 else 'NO'}",
]
print("\n".join(lines))
PY
