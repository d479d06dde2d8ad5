#!/usr/bin/env bash
# Sets up, builds and runs Gust serving the examples on 127.0.0.1:8080 (the embedded
# defaults). Extra arguments go to `gust serve`, e.g. scripts/run.sh --port 9000.
set -euo pipefail
cd "$(dirname "$0")/.."

scripts/setup.sh build
[ -f build/build.ninja ] || meson setup build >/dev/null
ninja -C build gust >/dev/null
apps=()
for app in examples/*/; do
  [ -f "$app/gust.json" ] || continue
  build/gust build "$app"
  apps+=("$app")
done
# Loopback callbacks and webhooks are allowed here, as `gust dev` allows them: the examples'
# webhook receivers run on this machine (examples/orders). A host facing the world leaves
# --callback-allow out (docs/security.md).
exec build/gust serve "${apps[@]}" --callback-allow 127.0.0.1/32 "$@"
