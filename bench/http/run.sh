#!/usr/bin/env bash
# bench/http/run.sh - HTTP throughput, latency and CPU cost of `gust serve` next to peer
# servers answering a tiny fixed body: nginx, plain Node.js http, workerd, and the Google
# Cloud Functions Framework.
#
# Method: every server pinned to CPU 1 and wrk -t1 to CPU 0,
# so they never compete for a core; keep-alive at 64 and 1 connections; rounds interleaved
# across servers so that machine noise spreads over all of them. Server CPU per request =
# utime+stime of the server's whole process tree (for Gust: the host AND its workers) read
# before and after each wrk run, divided by the requests wrk completed.
#
# Usage: bench/http/run.sh [--quick] [ROUNDS [DURATION_S]]
#   --quick: 1 round of 3 s (smoke test). Env: ROUNDS (3), DURATION (10), WARM (5 s of
#   warm-up per server), CONNS ("64 1"), SERVERS ("gust gust-pool4 gust-thread nginx node
#   workerd ff"; gust-pool4 is hello with four warm instances, gust-thread runs it on host
#   threads; gust-key requires a function key and is called with one, gust-nokey is the same
#   host called without one (every answer a 401); gust-base serves hello with the binary
#   BASELINE_GUST, another build to compare),
#   PEERS_DIR (/tmp/gust-bench-peers), RESULTS (bench/http/results-<timestamp>),
#   BASE_PORT (18080), BUILD_DIR (build-bench).
set -euo pipefail

HERE=$(cd "$(dirname "$0")" && pwd)
REPO=$(cd "$HERE/../.." && pwd)
ROUNDS=${ROUNDS:-3} DURATION=${DURATION:-10} WARM=${WARM:-5}
if [[ ${1:-} == --quick ]]; then ROUNDS=1 DURATION=3 WARM=1; shift; fi
ROUNDS=${1:-$ROUNDS} DURATION=${2:-$DURATION}
CONNS=${CONNS:-"64 1"}
SERVERS=${SERVERS:-"gust gust-pool4 gust-thread nginx node workerd ff"}
PEERS_DIR=${PEERS_DIR:-/tmp/gust-bench-peers}
OUT=${RESULTS:-$HERE/results-$(date +%Y%m%d-%H%M%S)}
BASE_PORT=${BASE_PORT:-18080}
BUILD_DIR=${BUILD_DIR:-$REPO/build-bench}
WORKERD_VERSION=${WORKERD_VERSION:-1.20261117.1} FF_VERSION=${FF_VERSION:-5.0.5}
SERVER_CPU=1 CLIENT_CPU=0
HZ=$(getconf CLK_TCK)
TIMEFORMAT='%U %S'  # `time` prints wrk's own CPU, to tell when the load generator saturates

log() { echo "[bench] $*" >&2; }
mkdir -p "$OUT" "$PEERS_DIR"

# ---- install and build ------------------------------------------------------------------
# setup.sh fails when node comes from elsewhere (e.g. NodeSource's nodejs bundles npm and
# conflicts with Debian's npm package); what matters is that the tools are there.
if ! "$REPO/scripts/setup.sh" bench; then
  for t in wrk nginx node npm taskset pgrep curl; do
    command -v "$t" >/dev/null || { log "missing $t and scripts/setup.sh bench failed"; exit 1; }
  done
  log "scripts/setup.sh bench failed, but every tool it provides is present; going on"
fi
# The build dir is our own (release, asserts off) so that nobody else's build is disturbed.
[[ -d $BUILD_DIR ]] || meson setup "$BUILD_DIR" "$REPO" --buildtype=release -Db_ndebug=true >/dev/null
ninja -C "$BUILD_DIR" gust >/dev/null
GUST=$BUILD_DIR/gust
"$GUST" build "$REPO/examples/hello" >&2
# The binary is built from the working tree as it is now: record which one was measured.
{ "$GUST" version; sha256sum "$GUST"; stat -c 'built %y' "$GUST"; } >"$OUT/gust-build.txt" 2>&1 || true

cp -r "$HERE/peers/." "$PEERS_DIR/"
cd "$PEERS_DIR"
[[ -f package.json ]] || echo '{ "private": true }' >package.json  # keeps npm from walking up
npm_has() { [[ $(node -p "require('./node_modules/$1/package.json').version" 2>/dev/null) == "$2" ]]; }
# (saved to the scratch package.json: with --no-save the next install would prune the first)
npm_add() { npm install --no-audit --no-fund --save-exact "$1@$2" >>"$OUT/npm.log" 2>&1; }
# workerd: the peers kit's version, else the newest one below it that installs.
if ! npm_has workerd "$WORKERD_VERSION" && ! npm_add workerd "$WORKERD_VERSION"; then
  alt=$(npm view "workerd@<=$WORKERD_VERSION" version --json 2>/dev/null |
        node -e 'const v=JSON.parse(require("fs").readFileSync(0));console.log([].concat(v).pop()||"")' || true)
  [[ -n $alt ]] && npm_add workerd "$alt" && log "workerd $WORKERD_VERSION did not install; using $alt"
fi
npm_has @google-cloud/functions-framework "$FF_VERSION" || npm_add @google-cloud/functions-framework "$FF_VERSION" || true
WORKERD_BIN=$PEERS_DIR/node_modules/@cloudflare/workerd-linux-64/bin/workerd
FF_MAIN=$PEERS_DIR/node_modules/@google-cloud/functions-framework/build/src/main.js

# ---- process tree helpers ---------------------------------------------------------------
descendants() { local c; for c in $(pgrep -P "$1" || true); do echo "$c"; descendants "$c"; done; }
# "ROOT_TICKS ALL_TICKS": utime+stime of the root alone, and of the whole tree. The tree sum
# adds cutime+cstime so that CPU of a worker that exited (and was reaped) mid-run still counts.
cpu_ticks() {
  local p
  for p in "$1" $(descendants "$1"); do echo "$p $(sed 's/^.*) //' "/proc/$p/stat" 2>/dev/null)"; done |
    awk -v root="$1" 'NF > 16 { s = $13 + $14; all += s + $15 + $16; if ($1 == root) r = s }
                      END { print r + 0, all + 0 }'
}
alive() { local st; st=$(sed 's/^.*) //' "/proc/$1/stat" 2>/dev/null | cut -d' ' -f1); [[ -n $st && $st != Z ]]; }
rss_kib() {
  local p
  for p in "$1" $(descendants "$1"); do cat "/proc/$p/status" 2>/dev/null; done | awk '/^VmRSS/ { s += $2 } END { print s + 0 }'
}

# ---- servers ----------------------------------------------------------------------------
declare -A PID URL HEADER  # HEADER: one request header the server needs, e.g. its key
ACTIVE=()
start() { # NAME PORT PATH CMD... : launch pinned to the server CPU (exec keeps the pid ours)
  local name=$1 port=$2 path=$3; shift 3
  (exec taskset -c "$SERVER_CPU" "$@") >"$OUT/$name.log" 2>&1 &
  PID[$name]=$!
  URL[$name]="http://127.0.0.1:$port$path"
}
cleanup() {
  local n kids=""
  for n in "${!PID[@]}"; do kids+=" $(descendants "${PID[$n]}")"; kill -TERM "${PID[$n]}" 2>/dev/null || true; done
  # SIGTERM makes the Gust host drain and stop its workers, and the nginx master its worker.
  for n in "${!PID[@]}"; do
    for _ in $(seq 100); do alive "${PID[$n]}" || break; sleep 0.1; done
    alive "${PID[$n]}" && kill -KILL "${PID[$n]}" 2>/dev/null && log "$n (pid ${PID[$n]}) ignored SIGTERM for 10 s; killed"
    wait "${PID[$n]}" 2>/dev/null || true
  done
  # A server's children get a moment to finish exiting (zombies waiting to be reaped count
  # as gone); one still running then outlived its server, which is worth knowing.
  for _ in $(seq 20); do
    local left=""; for n in $kids; do alive "$n" && left+=" $n"; done
    [[ -z $left ]] && break; sleep 0.1
  done
  for n in $left; do alive "$n" && kill -KILL "$n" 2>/dev/null && log "child pid $n outlived its server by 2 s; killed"; done
  return 0
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# A copy of examples/hello whose manifest also sets $2 (JSON members), e.g. a pool of
# several instances or thread isolation; prints its folder.
variant() {
  local dir="$PEERS_DIR/hello-$1"
  rm -rf "$dir" && mkdir -p "$dir/build"
  cp "$REPO/examples/hello/build/hello.so" "$dir/build/"
  python3 - "$REPO/examples/hello/gust.json" "$dir/gust.json" "$2" <<'PY'
import json, sys
manifest = json.load(open(sys.argv[1]))
manifest.update(json.loads("{" + sys.argv[3] + "}"))
json.dump(manifest, open(sys.argv[2], "w"), indent=2)
PY
  echo "$dir"
}

port=$BASE_PORT
for s in $SERVERS; do
  port=$((port + 1))
  case $s in
    # Each Gust host has its admin socket in its own data dir: several run side by side here.
    gust) start gust "$port" /hello/world "$GUST" serve "$REPO/examples/hello" --port "$port" \
            --data-dir "$PEERS_DIR/gust-data" ;;
    # The same app served by another build of Gust (BASELINE_GUST, e.g. the commit before a
    # change), so that before and after are measured in one interleaved run.
    gust-base) [[ -x ${BASELINE_GUST:-} ]] || { log "SKIP gust-base: set BASELINE_GUST to a gust binary"; continue; }
               start gust-base "$port" /hello/world "$BASELINE_GUST" serve "$REPO/examples/hello" --port "$port" \
                 --data-dir "$PEERS_DIR/gust-data-base" ;;
    # The same app with four warm instances, and run on host threads.
    gust-pool4) start "$s" "$port" /hello/world "$GUST" serve "$(variant pool4 '"min_instances": 4, "max_instances": 4')" \
                  --port "$port" --data-dir "$PEERS_DIR/gust-data-pool4" ;;
    gust-thread) start "$s" "$port" /hello/world "$GUST" serve "$(variant thread '"isolation": "thread", "max_instances": 4')" \
                   --port "$port" --data-dir "$PEERS_DIR/gust-data-thread" ;;
    # hello behind a function key, called with the key the host's admin API makes for it.
    gust-key) rm -rf "$PEERS_DIR/gust-data-key"
              start "$s" "$port" /hello/world "$GUST" serve "$(variant key '"auth": "key"')" \
                --port "$port" --data-dir "$PEERS_DIR/gust-data-key"
              key=""
              for _ in $(seq 300); do
                key=$("$GUST" keys create hello --name bench --data-dir "$PEERS_DIR/gust-data-key" 2>/dev/null) && break
                sleep 0.1
              done
              [[ -n $key ]] || { log "SKIP gust-key: no key from its host (see $OUT/gust-key.log)"; unset "PID[$s]"; continue; }
              HEADER[$s]="x-gust-key: $key" ;;
    # The same host called without a key: the cost of refusing a caller (401s, non2xx).
    gust-nokey) [[ -n ${PID[gust-key]:-} ]] || { log "SKIP gust-nokey: list gust-key before it in SERVERS"; continue; }
                PID[$s]=${PID[gust-key]} URL[$s]=${URL[gust-key]} ;;
    nginx) mkdir -p nginx/tmp && sed -i "s/listen 127.0.0.1:[0-9@A-Z]*;/listen 127.0.0.1:$port;/" nginx.conf
           start nginx "$port" / nginx -p "$PEERS_DIR/" -c nginx.conf ;;
    node) start node "$port" / env PORT="$port" node node.js ;;
    workerd) [[ -x $WORKERD_BIN ]] || { log "SKIP workerd: npm install failed (see $OUT/npm.log)"; continue; }
             start workerd "$port" / "$WORKERD_BIN" serve workerd.capnp --socket-addr "http=127.0.0.1:$port" ;;
    ff) [[ -f $FF_MAIN ]] || { log "SKIP ff: npm install failed (see $OUT/npm.log)"; continue; }
        start ff "$port" / node "$FF_MAIN" --target=hello --source=ff --port="$port" ;;
    *) log "unknown server $s"; exit 2 ;;
  esac
done
for s in "${!PID[@]}"; do
  ok=0
  hdr=(); [[ -n ${HEADER[$s]:-} ]] && hdr=(-H "${HEADER[$s]}")
  want=200; [[ $s == gust-nokey ]] && want=401
  for _ in $(seq 300); do
    [[ $(curl -s -o /dev/null -w '%{http_code}' "${hdr[@]}" "${URL[$s]}") == "$want" ]] && { ok=1; break; }
    sleep 0.1
  done
  if ((ok)); then ACTIVE+=("$s"); else log "SKIP $s: no answer at ${URL[$s]} in 30 s (see $OUT/$s.log)"; fi
done
# Keep the order of $SERVERS for the rounds and the table.
mapfile -t ACTIVE < <(for s in $SERVERS; do [[ " ${ACTIVE[*]} " == *" $s "* ]] && echo "$s"; done)
((${#ACTIVE[@]})) || { log "no server answered"; exit 1; }

# ---- load -------------------------------------------------------------------------------
taskset -cp "$CLIENT_CPU" $$ >/dev/null  # this script's own polling stays off the server CPU
printf 'server\tconns\tround\trequests\trps\tp50_us\tp99_us\tsock_errors\tnon2xx\tcpu_us_req\troot_us_req\tchildren_us_req\tserver_cpu_pct\twrk_cpu_pct\trss_kib\tprocs\tloadavg1\n' >"$OUT/summary.tsv"

run_one() { # SERVER CONNS ROUND
  local s=$1 c=$2 r=$3 f="$OUT/$1-c$2-r$3.txt" a0 a1 b0 b1 wrk_cpu stats n rps p50 p99 errs bad
  read -r a0 a1 < <(cpu_ticks "${PID[$s]}")
  local hdr=(); [[ -n ${HEADER[$s]:-} ]] && hdr=(-H "${HEADER[$s]}")
  wrk_cpu=$( { time taskset -c "$CLIENT_CPU" wrk -t1 -c"$c" -d"${DURATION}s" --latency "${hdr[@]}" "${URL[$s]}" >"$f" 2>&1; } 2>&1 )
  read -r b0 b1 < <(cpu_ticks "${PID[$s]}")
  # requests rps p50 p99 socket-errors non-2xx, latencies in microseconds
  stats=$(awk 'function us(v) { if (v ~ /us$/) return v + 0; if (v ~ /ms$/) return v * 1000; return v * 1e6 }
    / requests in / { n = $1 } /^Requests\/sec/ { rps = $2 } $1 == "50%" { p50 = us($2) } $1 == "99%" { p99 = us($2) }
    /Socket errors/ { gsub(",", ""); e = $4 + $6 + $8 + $10 } /Non-2xx/ { bad = $5 }
    END { printf "%d %s %.0f %.0f %d %d", n, rps, p50, p99, e, bad }' "$f")
  read -r n rps p50 p99 errs bad <<<"$stats"
  awk -v OFS='\t' -v s="$s" -v c="$c" -v r="$r" -v n="$n" -v rps="$rps" -v p50="$p50" -v p99="$p99" \
      -v e="$errs" -v bad="$bad" -v a0="$a0" -v a1="$a1" -v b0="$b0" -v b1="$b1" -v hz="$HZ" -v d="$DURATION" \
      -v w="$wrk_cpu" -v rss="$(rss_kib "${PID[$s]}")" -v procs="$(descendants "${PID[$s]}" | wc -l)" -v load="$(cut -d" " -f1 /proc/loadavg)" \
      'BEGIN { k = 1e6 / hz / (n > 0 ? n : 1); split(w, wc, " ")
               print s, c, r, n, rps, p50, p99, e, bad, (b1 - a1) * k, (b0 - a0) * k, (b1 - a1 - b0 + a0) * k,
                     (b1 - a1) / hz / d * 100, (wc[1] + wc[2]) / d * 100, rss, procs + 1, load }' | tee -a "$OUT/summary.tsv" >&2
}

# Other work on the machine skews every figure; say so rather than silently report it.
load=$(cut -d' ' -f1 /proc/loadavg)
awk -v l="$load" 'BEGIN { exit !(l > 0.5) }' && log "WARNING: load average is $load before the run; figures will be noisy"
log "servers: ${ACTIVE[*]}; $ROUNDS round(s) x $DURATION s at -c ${CONNS// /,}; results in $OUT"
for s in "${ACTIVE[@]}"; do
  hdr=(); [[ -n ${HEADER[$s]:-} ]] && hdr=(-H "${HEADER[$s]}")
  taskset -c "$CLIENT_CPU" wrk -t1 -c64 -d"${WARM}s" "${hdr[@]}" "${URL[$s]}" >/dev/null
done
for r in $(seq "$ROUNDS"); do
  for s in "${ACTIVE[@]}"; do
    for c in $CONNS; do run_one "$s" "$c" "$r"; done
  done
done
python3 "$HERE/report.py" "$OUT/summary.tsv" | tee "$OUT/report.txt"
