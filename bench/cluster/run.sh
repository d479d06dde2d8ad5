#!/usr/bin/env bash
# bench/cluster/run.sh - what a host pays for being part of a cluster (docs/scale-out.md).
#
# 1. Queue and topic throughput of the Redis backend beside the embedded one, through the
#    same QueueBackend calls (bench/cluster/queue_backends.cc), with Redis as durable as
#    gust.db (appendonly yes, appendfsync always: an ack is on disk), and redis-benchmark's
#    XADD on that Redis as the ceiling of one Redis command per message.
# 2. HTTP: requests/s and the host's CPU per request (host and workers, utime+stime) for the
#    hello example on an embedded host and on a host with --backend, one after the other,
#    the host pinned to CPU 1 and wrk to CPU 0. The backend is off the HTTP path, so the two
#    should match.
# 3. How long a deploy through one host takes to be served by another.
# 4. How long an event published through one host waits before an idle consumer on another
#    host starts on it (woken by the cluster's notice, docs/scale-out.md "Notices"), beside
#    one published through the consumer's own host.
#
# Usage: bench/cluster/run.sh [SECONDS_PER_RUN]   (default 3). The databases and Redis's
# append-only file go to $CLUSTER_BENCH_DIR (default: a temp dir under $TMPDIR or /tmp); put
# it on a real disk: on tmpfs fsync costs nothing.
set -euo pipefail
cd "$(dirname "$0")/../.."
seconds=${1:-3}

scripts/setup.sh build >/dev/null
command -v redis-server >/dev/null || scripts/setup.sh test >/dev/null
command -v wrk >/dev/null || scripts/setup.sh bench >/dev/null
[ -f build-bench/build.ninja ] || meson setup build-bench --buildtype=release -Db_ndebug=true >/dev/null
ninja -C build-bench gust bench/cluster_queue_backends >/dev/null

work=$(mktemp -d "${CLUSTER_BENCH_DIR:-${TMPDIR:-/tmp}}/gust-cluster-bench-XXXXXX")
pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; wait 2>/dev/null || true; rm -rf "$work"; }
trap cleanup EXIT
fs=$(stat -f -c %T "$work")
[ "$fs" = "tmpfs" ] && echo "warning: tmpfs makes fsync free; set CLUSTER_BENCH_DIR to a real disk" >&2
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

redis_port=$(free_port)
mkdir -p "$work/redis"
redis-server --port "$redis_port" --bind 127.0.0.1 --dir "$work/redis" --save "" --appendonly yes \
  --appendfsync always --daemonize no --loglevel warning >/dev/null &
pids+=($!)
until redis-cli -p "$redis_port" ping >/dev/null 2>&1; do sleep 0.1; done
echo "on $(nproc) cores, $fs; Redis $(redis-server --version | sed 's/.*v=\([^ ]*\).*/\1/') with appendfsync always"

echo "== 1. queues"
build-bench/bench/cluster_queue_backends "$work" "redis://127.0.0.1:$redis_port" "$seconds"
body=$(head -c 100 /dev/zero | tr '\0' b)
for pipeline in 1 32; do
  rate=$(redis-benchmark -p "$redis_port" -c 16 -n 100000 -P "$pipeline" -q XADD bench-stream '*' body "$body" |
         tr '\r' '\n' | awk '/requests per second/ { print $(NF-5) }' | tail -1)
  echo "  redis-benchmark XADD, 16 clients, pipeline $pipeline: $rate requests/s (the ceiling of one command per message)"
done

echo "== 2. HTTP through the hello example (wrk -t1 -c16, ${seconds} s, after 1 s of warm-up)"
build-bench/gust build examples/hello >/dev/null
build-bench/gust build examples/orders >/dev/null
hz=$(getconf CLK_TCK)
descendants() { local c; for c in $(pgrep -P "$1" || true); do echo "$c"; descendants "$c"; done; }
tree_ticks() {
  local p
  for p in "$1" $(descendants "$1"); do sed 's/^.*) //' "/proc/$p/stat" 2>/dev/null; done |
    awk 'NF > 14 { s += $12 + $13 + $14 + $15 } END { print s + 0 }'
}
serve() {  # name, extra arguments... -> starts a host; sets host_pid and host_port
  local data="$work/data-$1"; shift
  taskset -c 1 build-bench/gust serve --port 0 --data-dir "$data" --log-level warn "$@" >"$data.out" 2>&1 &
  host_pid=$!
  pids+=("$host_pid")
  until grep -q "listening on http://" "$data.out" 2>/dev/null; do
    kill -0 "$host_pid" 2>/dev/null || { echo "bench: the host in $data did not start:" >&2; cat "$data.out" >&2; exit 1; }
    sleep 0.1
  done
  host_port=$(grep -o "listening on http://[^ ]*" "$data.out" | sed 's/.*://')
}
for kind in embedded redis; do
  if [ "$kind" = redis ]; then
    serve "$kind" examples/hello --backend "redis://127.0.0.1:$redis_port"
  else
    serve "$kind" examples/hello
  fi
  taskset -c 0 wrk -t1 -c16 -d1s "http://127.0.0.1:$host_port/hello/bench" >/dev/null
  before=$(tree_ticks "$host_pid")
  out=$(taskset -c 0 wrk -t1 -c16 -d"${seconds}s" "http://127.0.0.1:$host_port/hello/bench")
  after=$(tree_ticks "$host_pid")
  requests=$(echo "$out" | awk '/requests in/ { print $1 }')
  rps=$(echo "$out" | awk '/Requests\/sec/ { print $2 }')
  awk -v k="$kind" -v r="$requests" -v rps="$rps" -v t=$((after - before)) -v hz="$hz" \
    'BEGIN { printf "  %-9s %10.0f requests/s   %6.1f us of host CPU per request\n", k, rps, t / hz * 1e6 / r }'
  kill "$host_pid"; wait "$host_pid" 2>/dev/null || true
done

echo "== 3. a deploy through one host, served by another"
serve a --backend "redis://127.0.0.1:$redis_port"; a_data="$work/data-a"
serve b --backend "redis://127.0.0.1:$redis_port"; b_data="$work/data-b"
version_on_b() {
  curl -s --unix-socket "$b_data/admin.sock" -H "Authorization: Bearer $(cat "$b_data/admin.token")" \
    http://b/v1/apps/hello | python3 -c 'import json, sys; print(json.load(sys.stdin).get("version", ""))'
}
# Each round deploys a new version: the same module under a manifest with another timeout.
cp -r examples/hello "$work/hello"
for round in 1 2 3; do
  python3 - "$work/hello/gust.json" "$round" <<'PY'
import json, sys
manifest = json.load(open(sys.argv[1]))
manifest["timeout"] = f"{10 + int(sys.argv[2])}s"
json.dump(manifest, open(sys.argv[1], "w"))
PY
  before=$(version_on_b)
  start=$(date +%s%N)
  build-bench/gust deploy "$work/hello" --admin "unix:$a_data/admin.sock" --data-dir "$a_data" >/dev/null
  answered=$(date +%s%N)
  until [ "$(version_on_b)" != "$before" ]; do sleep 0.01; done
  served=$(date +%s%N)
  echo "  deploy $round: answered by A in $(( (answered - start) / 1000000 )) ms; B serves it" \
       "$(( (served - answered) / 1000000 )) ms after that answer"
done

echo "== 4. an event published through one host, picked up by an idle consumer on another"
kill "$host_pid" 2>/dev/null || true
serve consumer examples/orders --backend "redis://127.0.0.1:$redis_port"; c_data="$work/data-consumer"
serve publisher --backend "redis://127.0.0.1:$redis_port"; p_data="$work/data-publisher"
python3 - "$p_data" "$c_data" <<'PY'
import http.client, json, socket, statistics, sys, time
from datetime import datetime

class Admin(http.client.HTTPConnection):
    def __init__(self, data):
        super().__init__("localhost")
        self.sock_path, self.token = data + "/admin.sock", open(data + "/admin.token").read().strip()
    def connect(self):
        self.sock = socket.socket(socket.AF_UNIX)
        self.sock.connect(self.sock_path)
    def call(self, method, path, body=None, headers=None):
        self.request(method, path, body, {"Authorization": "Bearer " + self.token, **(headers or {})})
        r = self.getresponse()
        return r.status, r.read()

publisher, consumer = Admin(sys.argv[1]), Admin(sys.argv[2])
def last_payment():
    _, body = consumer.call("GET", "/v1/invocations?app=orders&function=payment&limit=1")
    records = json.loads(body)["invocations"]
    return records[0] if records else None

def pickup(through, n):
    waits = []
    for i in range(n):
        before = last_payment()
        time.sleep(0.3)  # the consumer is idle again
        sent = time.time()
        status, _ = through.call("POST", "/v1/topics/order.placed/events", b'{"id":"bench","total":1}',
                                 {"ce-type": "order.placed", "ce-id": f"bench-{id(through)}-{i}"})
        assert status == 201, status
        while (record := last_payment()) is None or (before and record["id"] == before["id"]):
            time.sleep(0.002)
        started = datetime.fromisoformat(record["started_at"].replace("Z", "+00:00")).timestamp()
        waits.append((started - sent) * 1000)
    return statistics.median(waits), max(waits)

local = pickup(consumer, 15)
remote = pickup(publisher, 15)
print(f"  published through the consumer's host: {local[0]:6.1f} ms median, {local[1]:6.1f} ms max")
print(f"  published through another host:        {remote[0]:6.1f} ms median, {remote[1]:6.1f} ms max"
      f"   ({remote[0] / max(local[0], 0.1):.2f}x)")
PY
