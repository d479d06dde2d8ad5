#!/usr/bin/env bash
# Idle real-time clients: N WebSocket clients held open on a topic stream (bench/realtime/app:
# "streams": /ticks), the host's memory per idle connection, and the time from one publish
# to its arrival at every client; beside Node's `ws` server doing the same fan-out in the
# same run. Also the host's longest event loop iteration (gust_event_loop_busy_max_seconds),
# which the issue bounds at 5 ms: up to the end of the connects, of the fan-outs, and of all
# clients leaving at once.
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

# The host's longest loop iteration so far, in ms (the gust runs only; "-" for node).
longest_ms() {
  [ -S "$work/data/admin.sock" ] || { echo -; return; }
  curl -sf --unix-socket "$work/data/admin.sock" -H "Authorization: Bearer $(cat "$work/data/admin.token")" \
    http://gust/metrics | awk '/^gust_event_loop_busy_max_seconds/ {printf "%.2f", $2 * 1000}'
}

# Runs the clients against ws://127.0.0.1:$port$path with N=$1 and prints a result line
# named $2; the server's pid is $server.
measure() {
  local n=$1 name=$2 ws_url=$3 publish_url=$4
  local before; before=$(rss_kib "$server")
  coproc CLIENTS { exec "${on_client_core[@]}" node bench/realtime/clients.cjs "$ws_url" "$publish_url" "$n" 5 2>&1; }
  clients=$CLIENTS_PID
  local line open_ms="" after="" fanout="" busy_open="" busy_fanout=""
  while IFS= read -r line <&"${CLIENTS[0]}"; do
    case "$line" in
      *'"phase":"open"'*) open_ms=$(node -p "JSON.parse(process.argv[1]).ms.toFixed(0)" "$line") ;;
      *'"phase":"idle"'*) after=$(rss_kib "$server"); busy_open=$(longest_ms); echo go >&"${CLIENTS[1]}" ;;
      *'"phase":"fanout"'*) fanout=$line; busy_fanout=$(longest_ms); echo go >&"${CLIENTS[1]}"; break ;;
      *) echo "$name: $line" >&2 ;;
    esac
  done
  wait "$clients" || true
  clients=""
  sleep 1  # the server sees every client leave
  local busy_end; busy_end=$(longest_ms)
  [ -n "$fanout" ] || { echo "$name: the clients failed (above)" >&2; return 1; }
  local per_conn; per_conn=$(awk -v a="$after" -v b="$before" -v n="$n" 'BEGIN {printf "%.2f", (a - b) / n}')
  local median max
  median=$(node -p "JSON.parse(process.argv[1]).median_ms.toFixed(1)" "$fanout")
  max=$(node -p "JSON.parse(process.argv[1]).max_ms.toFixed(1)" "$fanout")
  printf '%-6s N=%-6s %8s KiB/conn  fan-out median %7s ms  max %7s ms  (connect all: %s ms)\n' \
    "$name" "$n" "$per_conn" "$median" "$max" "$open_ms"
  [ "$busy_open" = - ] || printf '       longest loop iteration: %s ms to the end of the connects, %s ms to the end of the fan-outs, %s ms once all left\n' \
    "$busy_open" "$busy_fanout" "$busy_end"
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
