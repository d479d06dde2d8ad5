#!/usr/bin/env bash
# Idle real-time clients: N WebSocket clients held open on a topic stream (bench/realtime/app:
# "streams": /ticks), the host's memory per idle connection, and the time from one publish
# to its arrival at every client; beside Node's `ws` server doing the same fan-out in the
# same run. Also how long the host's event loop iterations ran in each phase (the connects,
# the fan-outs, all clients leaving at once), from gust_event_loop_iteration_busy_seconds:
# an iteration is the longest any client waits for the loop, and the issue bounds it at 5 ms.
# With two cores or more, the server runs on core 0 and the clients on core 1, so that the
# loop's figure is its own work, not time the kernel gave the clients instead.
# Usage: bench/realtime/run.sh [N...]   (default 1000 10000)
# The host's figure includes committing the event to gust.db before the fan-out; the
# baseline stores nothing. Memory is the server process's RSS after the clients connect
# and sit idle for 2 s, less its RSS before, divided by N.
set -euo pipefail
cd "$(dirname "$0")/../.."
counts=("$@")
[ ${#counts[@]} -gt 0 ] || counts=(1000 10000)

scripts/setup.sh test  # node and tests/js/node_modules (ws)
# Each client is a descriptor in the clients' process and one in the server's: raise the
# limit to the hard one for both, and check it holds the largest N.
ulimit -n "$(ulimit -Hn)"
largest=$(printf '%s\n' "${counts[@]}" | sort -n | tail -1)
[ "$(ulimit -n)" -ge $((largest + 1000)) ] ||
  { echo "bench: the descriptor limit is $(ulimit -n); $largest clients need $((largest + 1000)) (raise the hard limit)" >&2; exit 1; }
[ -f build-bench/build.ninja ] || meson setup build-bench --buildtype=release -Db_ndebug=true >/dev/null
ninja -C build-bench gust >/dev/null

work=$(mktemp -d)
server=""
clients=""
trap '[ -n "$clients" ] && kill "$clients" 2>/dev/null; [ -n "$server" ] && kill "$server" 2>/dev/null; wait 2>/dev/null; rm -rf "$work"' EXIT
cp -r bench/realtime/app "$work/app"
build-bench/gust build "$work/app" >/dev/null
export NODE_PATH=$PWD/tests/js/node_modules
on_server_core=()
on_client_core=()
if [ "$(nproc)" -ge 2 ] && command -v taskset >/dev/null; then
  on_server_core=(taskset -c 0)
  on_client_core=(taskset -c 1)
fi

rss_kib() { awk '/^VmRSS:/ {print $2}' "/proc/$1/status"; }

# The host's loop iterations so far, as "LE COUNT" lines of its busy-time histogram
# (cumulative, as /metrics has them); nothing for node.
loop_histogram() {
  [ -S "$work/data/admin.sock" ] || return 0
  curl -sf --unix-socket "$work/data/admin.sock" -H "Authorization: Bearer $(cat "$work/data/admin.token")" \
    http://gust/metrics | sed -n 's/^gust_event_loop_iteration_busy_seconds_bucket{le="\([^"]*\)"} \([0-9]*\)$/\1 \2/p'
}

# What the loop did between two histograms ($1 before, $2 after): its iterations, how many
# were over the 5 ms bound, and the bucket the longest one fell in. A delta, so that the
# host's start (loading apps, before it listens) does not count against the phase.
loop_phase() {
  awk 'NR == FNR { before[$1] = $2; next }
       { n = $2 - before[$1]; if ($1 == "+Inf") total = n; else if ($1 + 0 >= 0.005 && !over_set) { within = n; over_set = 1 }
         if (n > last && $1 != "+Inf") { longest = $1 } last = n }
       END { longest_ms = (longest == "" ? "-" : sprintf("%g", longest * 1000));
             printf "%d iterations, %d over 5 ms, longest <= %s ms", total, total - within, longest_ms }' "$1" "$2"
}

# Runs the clients against ws://127.0.0.1:$port$path with N=$1 and prints a result line
# named $2; the server's pid is $server.
measure() {
  local n=$1 name=$2 ws_url=$3 publish_url=$4
  local before; before=$(rss_kib "$server")
  coproc CLIENTS { exec "${on_client_core[@]}" node bench/realtime/clients.cjs "$ws_url" "$publish_url" "$n" 5 2>&1; }
  clients=$CLIENTS_PID
  local line open_ms="" after="" fanout=""
  loop_histogram >"$work/h0"
  while IFS= read -r line <&"${CLIENTS[0]}"; do
    case "$line" in
      *'"phase":"open"'*) open_ms=$(node -p "JSON.parse(process.argv[1]).ms.toFixed(0)" "$line") ;;
      *'"phase":"idle"'*) after=$(rss_kib "$server"); loop_histogram >"$work/h1"; echo go >&"${CLIENTS[1]}" ;;
      *'"phase":"fanout"'*) fanout=$line; loop_histogram >"$work/h2"; echo go >&"${CLIENTS[1]}"; break ;;
      *) echo "$name: $line" >&2 ;;
    esac
  done
  wait "$clients" || true
  clients=""
  sleep 1  # the server sees every client leave
  loop_histogram >"$work/h3"
  [ -n "$fanout" ] || { echo "$name: the clients failed (above)" >&2; return 1; }
  local per_conn; per_conn=$(awk -v a="$after" -v b="$before" -v n="$n" 'BEGIN {printf "%.2f", (a - b) / n}')
  local median max
  median=$(node -p "JSON.parse(process.argv[1]).median_ms.toFixed(1)" "$fanout")
  max=$(node -p "JSON.parse(process.argv[1]).max_ms.toFixed(1)" "$fanout")
  printf '%-6s N=%-6s %8s KiB/conn  fan-out median %7s ms  max %7s ms  (connect all: %s ms)\n' \
    "$name" "$n" "$per_conn" "$median" "$max" "$open_ms"
  if [ -s "$work/h0" ]; then
    echo "       loop while connecting: $(loop_phase "$work/h0" "$work/h1")"
    echo "       loop in the fan-outs:  $(loop_phase "$work/h1" "$work/h2")"
    echo "       loop as all leave:     $(loop_phase "$work/h2" "$work/h3")"
  fi
}

echo "gust $(build-bench/gust version | cut -d' ' -f2-), node $(node --version), $(nproc) cores"
for n in "${counts[@]}"; do
  # gust: a fresh host per N, so each run starts from the same memory.
  rm -rf "$work/data"
  "${on_server_core[@]}" build-bench/gust serve "$work/app" --port 0 --data-dir "$work/data" --max-websockets $((n + 100)) \
    >"$work/out" 2>"$work/err" &
  server=$!
  for _ in $(seq 200); do grep -q listening "$work/out" && break; sleep 0.05; done
  port=$(sed -n 's/.*listening on http:\/\/127.0.0.1:\([0-9]*\).*/\1/p' "$work/out")
  [ -n "$port" ] || { echo "the host did not start:" >&2; cat "$work/err" >&2; exit 1; }
  curl -sf -X POST "http://127.0.0.1:$port/publish" -d warm >/dev/null  # the publisher's worker is up
  # The host's first loop turns finish its start (about 7 ms here): not part of any phase.
  sleep 1
  measure "$n" gust "ws://127.0.0.1:$port/ticks" "http://127.0.0.1:$port/publish"
  kill "$server"; wait "$server" 2>/dev/null || true; server=""
  rm -rf "$work/data"

  port=$((20000 + RANDOM % 20000))
  PORT=$port "${on_server_core[@]}" node bench/realtime/node_server.cjs >"$work/node.out" 2>&1 &
  server=$!
  for _ in $(seq 100); do grep -q listening "$work/node.out" && break; sleep 0.05; done
  measure "$n" node "ws://127.0.0.1:$port/ticks" "http://127.0.0.1:$port/publish"
  kill "$server"; wait "$server" 2>/dev/null || true; server=""
done
