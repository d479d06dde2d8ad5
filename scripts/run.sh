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
exec build/gust serve "${apps[@]}" "$@"
