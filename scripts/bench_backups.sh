#!/usr/bin/env bash
# Benchmark of `appsweep scan backup` on a tree of synthetic iOS backups (issue: iOS backups).
#
#   scripts/bench_backups.sh [N] [WORKDIR] [MVT_COUNT]
#
# Makes N backups with scripts/gen_backups.py (default 2000; ~6 MB Info.plist with 150 apps,
# ~16 MB Manifest.db with 30,000 rows; big files hard-linked from 100 templates so the set stays
# in the page cache), builds the release binary, warms the cache, then measures in one run:
#   1. the I/O floor: `cat` of every Info.plist, Manifest.plist, Status.plist and Manifest.db;
#   2. `appsweep scan backup DIR --format jsonl > /dev/null`: backups/s, ratio to cat, peak RSS;
#   3. MVT (`mvt-ios check-backup`) on the first MVT_COUNT backups (default 20), one process per
#      backup as MVT works, against appsweep on the same backups: seconds per backup and ratio.
#      MVT is installed into /tmp/mvtenv with pip when missing; if that fails, it says so.
# Generated data stays under WORKDIR (default /tmp/appsweep-bench-backups-N); nothing is
# committed.
set -euo pipefail
N=${1:-2000}
WORK=${2:-/tmp/appsweep-bench-backups-$N}
MVT_N=${3:-20}
ROOT=$(cd "$(dirname "$0")/.." && pwd)

python3 "$ROOT/scripts/gen_backups.py" "$N" "$WORK"
BK="$WORK/backups"
(cd "$ROOT" && cargo build --release --quiet)
BIN="$ROOT/target/release/appsweep"

LIST="$WORK/files.list"
find "$BK" -mindepth 2 -maxdepth 2 \( -name Info.plist -o -name Manifest.plist -o -name Status.plist -o -name Manifest.db \) -print0 > "$LIST"
COUNT=$(find "$BK" -mindepth 1 -maxdepth 1 -type d | wc -l)
BYTES=$(xargs -0 stat -c %s < "$LIST" | awk '{s+=$1} END {printf "%.0f", s}')

now() { date +%s.%N; }
best() { sort -g | head -1; }

# Warm the page cache.
xargs -0 cat < "$LIST" > /dev/null
xargs -0 cat < "$LIST" > /dev/null

cat_times=()
app_times=()
for _ in 1 2 3; do
  t0=$(now); xargs -0 cat < "$LIST" > /dev/null; t1=$(now)
  cat_times+=("$(echo "$t1 - $t0" | bc -l)")
  t0=$(now); "$BIN" -q scan backup "$BK" --format jsonl > /dev/null || test $? -le 3; t1=$(now)
  app_times+=("$(echo "$t1 - $t0" | bc -l)")
done
CAT=$(printf '%s\n' "${cat_times[@]}" | best)
APP=$(printf '%s\n' "${app_times[@]}" | best)
RSS=$( { /usr/bin/time -f '%M' "$BIN" -q scan backup "$BK" --format jsonl > /dev/null; } 2>&1 | tail -1 || true)
LINES=$("$BIN" -q scan backup "$BK" --format jsonl | wc -l || true)

printf 'backups: %d (%d report lines), files: %s bytes (%.1f MB per backup), cores: %d\n' \
  "$COUNT" "$LINES" "$BYTES" "$(echo "$BYTES / $COUNT / 1000000" | bc -l)" "$(nproc)"
printf 'cat (I/O floor):   %8.3f s  %9.1f backups/s  %6.2f GB/s\n' "$CAT" "$(echo "$COUNT / $CAT" | bc -l)" "$(echo "$BYTES / $CAT / 1000000000" | bc -l)"
printf 'appsweep jsonl:    %8.3f s  %9.1f backups/s  ratio to cat %.2fx  peak RSS %s KB\n' \
  "$APP" "$(echo "$COUNT / $APP" | bc -l)" "$(echo "$APP / $CAT" | bc -l)" "$RSS"

# MVT on the first MVT_N backups (MVT_COUNT 0 skips it).
[ "$MVT_N" -gt 0 ] || exit 0
MVT="/tmp/mvtenv/bin/mvt-ios"
if [ ! -x "$MVT" ]; then
  (python3 -m venv /tmp/mvtenv && /tmp/mvtenv/bin/pip install -q mvt) > "$WORK/mvt-install.log" 2>&1 || true
fi
if [ ! -x "$MVT" ]; then
  echo "mvt: could not be installed (see $WORK/mvt-install.log); no MVT comparison"
  exit 0
fi
SUB="$WORK/mvt-subset"
rm -rf "$SUB"; mkdir -p "$SUB"
find "$BK" -mindepth 1 -maxdepth 1 -type d | sort > "$WORK/all-backups.list"
head -n "$MVT_N" "$WORK/all-backups.list" | while read -r d; do ln -s "$d" "$SUB/"; done
t0=$(now)
for d in "$SUB"/*; do
  out="$WORK/mvt-out/$(basename "$d")"
  rm -rf "$out"; mkdir -p "$out"
  "$MVT" check-backup --output "$out" "$d" > "$WORK/mvt-last.log" 2>&1 || echo "mvt failed on $d (see $WORK/mvt-last.log)"
done
t1=$(now)
MVT_T=$(echo "$t1 - $t0" | bc -l)
t0=$(now)
for d in "$SUB"/*; do "$BIN" -q scan backup "$d" --format json > /dev/null || test $? -le 3; done
t1=$(now)
ONE_T=$(echo "$t1 - $t0" | bc -l)
printf 'mvt-ios check-backup, %d backups one by one: %8.3f s per backup\n' "$MVT_N" "$(echo "$MVT_T / $MVT_N" | bc -l)"
printf 'appsweep, same backups one process each:      %8.3f s per backup  (mvt/appsweep %.1fx)\n' \
  "$(echo "$ONE_T / $MVT_N" | bc -l)" "$(echo "$MVT_T / $ONE_T" | bc -l)"
printf 'appsweep bulk rate:                           %8.3f s per backup  (mvt/appsweep %.1fx)\n' \
  "$(echo "$APP / $COUNT" | bc -l)" "$(echo "($MVT_T / $MVT_N) / ($APP / $COUNT)" | bc -l)"
