#!/usr/bin/env bash
# Edit–reload with `gust dev`: the time from saving a one-line edit of a hello-sized app
# (`gust init`'s http template) to the new version answering HTTP, beside the compiles it
# is made of, all in one run:
#   - `c++` of the same file with the flags `gust build` uses: the SDK as it is, and with
#     nlohmann/json included as gust.hpp did before it left JSON to gust/json.hpp
#   - `gust build --force` with the precompiled SDK header, and without it (GUST_PCH=0)
#   - the reload: save (a rename over main.cpp, as editors do), then curl until the new
#     text answers
# Usage: bench/dev_reload/run.sh [RUNS]     (default 10; medians, best and worst)
set -euo pipefail
cd "$(dirname "$0")/../.."
runs=${1:-10}

scripts/setup.sh build
[ -f build/build.ninja ] || meson setup build >/dev/null
ninja -C build gust >/dev/null
gust=$PWD/build/gust
sdk=$PWD/sdk/include

work=$(mktemp -d)
dev=""
trap '[ -n "$dev" ] && kill -INT "$dev" 2>/dev/null; wait 2>/dev/null; rm -rf "$work"' EXIT
export GUST_CACHE_DIR=$work/cache  # a cache of its own: the first build precompiles
"$gust" init app --dir "$work/app" >/dev/null
main=$work/app/main.cpp

now_ms() { echo $(( $(date +%s%N) / 1000000 )); }
# "median (best–worst)" of the numbers on stdin. On a machine others share, the best is the
# figure closest to a quiet one.
summary() { sort -n | awk '{ v[NR] = $1 } END { printf "%d ms (%d–%d)", v[int((NR + 1) / 2)], v[1], v[NR] }'; }
# Runs "$@" RUNS times and prints the summaries of its wall times and of its CPU time (user
# + system, its children's included), which a busy machine changes far less.
timed() {
  local TIMEFORMAT='%R %U %S' t
  for _ in $(seq "$runs"); do
    t=$( { time "$@" >/dev/null 2>&1; } 2>&1 )
    echo "$t" | awk '{ printf "%d %d\n", $1 * 1000, ($2 + $3) * 1000 }'
  done >"$work/times"
  echo "wall $(cut -d' ' -f1 "$work/times" | summary), CPU $(cut -d' ' -f2 "$work/times" | summary)"
}

flags=(-std=c++20 -O2 -g -fPIC -shared -fvisibility=hidden -Wall -Wextra "-I$sdk")
first_t0=$(now_ms)
"$gust" build "$work/app" >/dev/null 2>&1
first=$(( $(now_ms) - first_t0 ))

echo "dev reload on $(nproc) cores, load $(cut -d' ' -f1-3 /proc/loadavg); $(c++ --version | head -1); $runs runs each"
printf '  %-56s %s\n' "c++ main.cpp, gust.hpp (no JSON)" "$(timed c++ "${flags[@]}" "$main" -o "$work/plain.so")"
printf '  %-56s %s\n' "c++ main.cpp, gust.hpp + nlohmann/json (the SDK before)" \
  "$(timed c++ "${flags[@]}" -include nlohmann/json.hpp "$main" -o "$work/plain.so")"
printf '  %-56s %s\n' "gust build --force, precompiled SDK header" "$(timed "$gust" build --force "$work/app")"
printf '  %-56s %s\n' "gust build --force, GUST_PCH=0" "$(GUST_PCH=0 timed "$gust" build --force "$work/app")"
printf '  %-56s %d ms\n' "first gust build (precompiles the SDK header)" "$first"

"$gust" dev "$work/app" --port 0 >"$work/dev.out" 2>"$work/dev.err" &
dev=$!
for _ in $(seq 600); do grep -q '^watching' "$work/dev.out" && break; sleep 0.1; done
grep -q '^watching' "$work/dev.out" || { echo "gust dev did not start:" >&2; cat "$work/dev.out" "$work/dev.err" >&2; exit 1; }
port=$(sed -n 's/.*http:\/\/127.0.0.1:\([0-9]*\).*/\1/p' "$work/dev.out" | head -1)
for i in $(seq "$runs"); do
  sed "s/\"hello, \"/\"edit $i, \"/" "$main" >"$work/.main.cpp.swp"
  t0=$(now_ms)
  mv "$work/.main.cpp.swp" "$main"
  until curl -sf "http://127.0.0.1:$port/app/hello/x" 2>/dev/null | grep -q "^edit $i, x"; do
    [ $(( $(now_ms) - t0 )) -lt 60000 ] || { echo "reload $i did not answer in 60 s:" >&2; cat "$work/dev.err" >&2; exit 1; }
    sleep 0.05  # a curl every 50 ms: more often, the polling itself slows the build it waits for
  done
  echo $(( $(now_ms) - t0 )) >>"$work/reloads"
  sed -i "s/\"edit $i, \"/\"hello, \"/" "$main"  # back, and wait for that reload too
  until curl -sf "http://127.0.0.1:$port/app/hello/x" 2>/dev/null | grep -q "^hello, x"; do sleep 0.05; done
done
printf '  %-56s %s\n' "gust dev: save → the new text answers" "$(summary <"$work/reloads")"
printf '  %-56s %s\n' "gust dev: its own \"reloaded in\" (change seen → deployed)" \
  "$(grep -o 'reloaded in [0-9]*' "$work/dev.out" | awk '{print $3}' | summary)"
printf '  %-56s %s\n' "  of which the build" "$(grep -o 'built in [0-9]*' "$work/dev.out" | awk '{print $3}' | summary)"
printf '  %-56s %s\n' "  of which the host starting the version" \
  "$(grep -o 'started it in [0-9]*' "$work/dev.out" | awk '{print $4}' | summary)"
