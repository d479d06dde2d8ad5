#!/usr/bin/env bash
# Sets up, builds and runs Gust serving the examples on 127.0.0.1:8080 (the embedded
# defaults). Extra arguments go to `gust serve`, e.g. scripts/run.sh --port 9000.
set -euo pipefail
cd "$(dirname "$0")/.."

# Each phase says how long it took: the first build compiles the whole project (minutes on
# two cores), and its progress shows (scripts/build_progress.sh).
t0=$SECONDS
scripts/setup.sh build
echo "run: setup took $((SECONDS - t0)) s"
t0=$SECONDS
[ -f build/build.ninja ] || meson setup build >/dev/null
scripts/build_progress.sh build gust
echo "run: building gust took $((SECONDS - t0)) s"
t0=$SECONDS
apps=()
for app in examples/*/; do
  [ -f "$app/gust.json" ] || continue
  build/gust build "$app"
  apps+=("$app")
done
echo "run: building the examples took $((SECONDS - t0)) s"
# Loopback callbacks and webhooks are allowed here, as `gust dev` allows them: the examples'
# webhook receivers run on this machine (examples/orders). A host facing the world leaves
# --callback-allow out (docs/security.md).
exec build/gust serve "${apps[@]}" --callback-allow 127.0.0.1/32 "$@"
