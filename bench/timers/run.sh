#!/usr/bin/env bash
# Timer lateness: how long after its scheduled instant a timer function starts running,
# through host and worker (p50/p99), beside the floor of a bare clock_nanosleep loop run in
# the same script. Usage: bench/timers/run.sh [SECONDS]   (default 30 samples of each)
set -euo pipefail
cd "$(dirname "$0")/../.."
seconds=${1:-30}

scripts/setup.sh build
[ -f build-bench/build.ninja ] || meson setup build-bench --buildtype=release -Db_ndebug=true >/dev/null
ninja -C build-bench gust bench/timers_baseline >/dev/null

work=$(mktemp -d)
host=""
trap '[ -n "$host" ] && kill "$host" 2>/dev/null; wait 2>/dev/null; rm -rf "$work"' EXIT
cp -r bench/timers/app "$work/lateness"
build-bench/gust build "$work/lateness" >/dev/null

percentiles() {  # reads "lateness_us N" lines, prints p50 p99 (µs) and the count
  awk '/^lateness_us/{print $2}' | sort -n | awk '{v[NR]=$1} END {
    if (NR == 0) { print "no samples"; exit 1 }
    printf "p50 %d us  p99 %d us  (%d samples)\n", v[int((NR-1)*0.5)+1], v[int((NR-1)*0.99)+1], NR }'
}

echo "timer lateness, $seconds s each, on $(nproc) cores"
printf 'baseline (clock_nanosleep to each whole second): '
build-bench/bench/timers_baseline "$seconds" | percentiles

build-bench/gust serve "$work/lateness" --port 0 --data-dir "$work/data" >"$work/out" 2>"$work/err" &
host=$!
# Skip the first run (it may start the pool cold); then collect.
sleep "$((seconds + 2))"
kill -TERM "$host"; wait "$host" || true; host=""
printf 'gust (scheduled instant -> function running):  '
grep -o 'lateness_us [0-9-]* past_due 0' "$work/err" | tail -n +2 | percentiles
printf 'of which cold starts (first run):               '
grep -o 'lateness_us [0-9-]* past_due 0' "$work/err" | head -n 1 | percentiles
