#!/usr/bin/env bash
# Durable queue throughput. Section 1: the ceiling, raw SQLite inserts on
# this machine's disk with gust.db's settings (WAL; synchronous FULL and NORMAL; 1 and 32
# per transaction), beside the embedded queue's own send -> lease -> ack through its API,
# and a topic's fan-out into 1, 3 and 10 subscriptions beside a plain queue's send.
# The end-to-end figures (through host and workers) are printed beside these.
# Usage: bench/queue/run.sh [SECONDS_PER_RUN]   (default 2)
# The databases go to $QUEUE_BENCH_DIR (default: a temp dir under $TMPDIR or /tmp); put it
# on the disk you care about: on tmpfs fsync costs nothing and the figures mean little.
set -euo pipefail
cd "$(dirname "$0")/../.."
seconds=${1:-2}

scripts/setup.sh build
[ -f build-bench/build.ninja ] || meson setup build-bench --buildtype=release -Db_ndebug=true >/dev/null
ninja -C build-bench bench/queue_sqlite_ceiling >/dev/null

work=$(mktemp -d "${QUEUE_BENCH_DIR:-${TMPDIR:-/tmp}}/gust-queue-bench-XXXXXX")
trap 'rm -rf "$work"' EXIT
fs=$(stat -f -c %T "$work")
echo "queue ceiling on $(nproc) cores, databases on $fs ($work)"
[ "$fs" = "tmpfs" ] && echo "warning: tmpfs makes fsync free; set QUEUE_BENCH_DIR to a real disk" >&2
build-bench/bench/queue_sqlite_ceiling "$work" "$seconds"

# Section 2: end to end through a release host: orders posted to the orders example, which
# fans each out to three subscribers and aggregates their results in the app's state
# (bench/queue/e2e.py). Batch 1 and 32, FULL and NORMAL.
ninja -C build-bench gust >/dev/null
build-bench/gust build examples/orders >/dev/null
echo "end to end (POST /orders -> order.placed -> payment, inventory, notification -> aggregator), ${QUEUE_BENCH_MESSAGES:-2000} orders:"
for sync in FULL NORMAL; do
  for batch in 1 32; do
    python3 bench/queue/e2e.py build-bench/gust examples/orders "$work" "$batch" "$sync" "${QUEUE_BENCH_MESSAGES:-2000}"
  done
done
