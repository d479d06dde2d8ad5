#!/usr/bin/env bash
# Cold starts: the time from a request's arrival to its response when the app is scaled to
# zero, beside the same request on a warm instance.
# Usage: bench/coldstart/run.sh [RUNS] [BASELINE_GUST]
# With BASELINE_GUST (a gust binary built from another commit), the same runs are made
# against it first, on the same machine and module, so that the two can be compared.
set -euo pipefail
cd "$(dirname "$0")/../.."
runs=${1:-200}
baseline=${2:-}

scripts/setup.sh build
[ -f build-bench/build.ninja ] || meson setup build-bench --buildtype=release -Db_ndebug=true >/dev/null
ninja -C build-bench gust bench/coldstart_client >/dev/null

work=$(mktemp -d)
host=""
trap '[ -n "$host" ] && kill "$host" 2>/dev/null; wait 2>/dev/null; rm -rf "$work"' EXIT
cp -r examples/hello "$work/hello"
rm -rf "$work/hello/build"
# Scale to zero 50 ms after each request.
sed -i 's/"name": "hello",/"name": "hello", "idle_timeout": "50ms",/' "$work/hello/gust.json"
build-bench/gust build "$work/hello" >/dev/null

# Serves the app with the gust binary $1 and measures it.
measure() {
  rm -rf "$work/data"
  taskset -c 1 "$1" serve "$work/hello" --port 0 --data-dir "$work/data" >"$work/out" 2>"$work/err" &
  host=$!
  for _ in $(seq 200); do grep -q listening "$work/out" && break; sleep 0.05; done
  port=$(sed -n 's/.*listening on http:\/\/127.0.0.1:\([0-9]*\).*/\1/p' "$work/out")
  [ -n "$port" ] || { echo "the host did not start:" >&2; cat "$work/err" >&2; exit 1; }
  taskset -c 0 build-bench/bench/coldstart_client "$port" /hello/world "$runs" 150
  kill "$host"
  wait "$host" || true
  host=""
}

echo "gust $(build-bench/gust version | cut -d' ' -f2-) on $(nproc) cores; host pinned to CPU 1; $runs runs"
if [ -n "$baseline" ]; then
  echo "-- baseline: $baseline"
  measure "$baseline"
  echo "-- this tree: build-bench/gust"
fi
measure build-bench/gust
