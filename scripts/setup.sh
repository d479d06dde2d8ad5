#!/usr/bin/env bash
# Installs the Debian packages Gust needs, only those missing. Idempotent; runs as root or
# through sudo. Usage: scripts/setup.sh [build|test|bench]   (each includes the one before)
set -euo pipefail

profile=${1:-build}
build_pkgs=(g++ meson ninja-build pkg-config doctest-dev libuv1-dev nlohmann-json3-dev libcpp-httplib-dev
            libspdlog-dev libhttp-parser-dev libsqlite3-dev libhowardhinnant-date-dev libssl-dev libseccomp-dev tzdata curl
            libhiredis-dev ccache)
# ccache: meson compiles through it when it is installed, so a second checkout or a rebuilt
# build dir reuses what was compiled (scripts/test.sh lets it ignore the checkout's path).
# doctest-dev is in build so that build/, which scripts/run.sh and scripts/test.sh share, always
# defines the tests. python3-prometheus-client: the reference parser the metrics test reads
# our exposition with. redis-server: the tests of the Redis backend start their own.
# systemd: systemd-analyze checks deploy/systemd/gust.service. chromium and chromium-driver:
# the console's test drives a headless browser through WebDriver (tests/integration/console_test.cc).
test_pkgs=(clang libclang-rt-dev python3-prometheus-client redis-server systemd nginx-light chromium chromium-driver)
bench_pkgs=(wrk procps util-linux)
# Node.js runs the independent protocol clients of the tests (tests/js: ws, eventsource,
# graphql-ws, graphql) and the check of deploy/'s files (kubernetes-models, yaml). It may come from elsewhere (NodeSource, nvm): take Debian's only when
# none is on PATH.
command -v node >/dev/null || test_pkgs+=(nodejs)
command -v npm >/dev/null || test_pkgs+=(npm)

case "$profile" in
  build) pkgs=("${build_pkgs[@]}") ;;
  test) pkgs=("${build_pkgs[@]}" "${test_pkgs[@]}") ;;
  bench) pkgs=("${build_pkgs[@]}" "${test_pkgs[@]}" "${bench_pkgs[@]}") ;;
  *) echo "usage: scripts/setup.sh [build|test|bench]" >&2; exit 2 ;;
esac

missing=()
for p in "${pkgs[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done

# The npm clients of tests/js, at the versions its package-lock.json pins, installed again
# only when the lock changes (a stamp of its hash sits beside them).
install_test_clients() {
  case "$profile" in build) return 0 ;; esac
  local dir; dir="$(cd "$(dirname "$0")/.." && pwd)/tests/js"
  local want; want=$(sha256sum "$dir/package-lock.json" | cut -d' ' -f1)
  [ "$(cat "$dir/node_modules/.gust-lock" 2>/dev/null)" = "$want" ] && return 0
  echo "setup: installing the test clients of tests/js (npm ci)" >&2
  (cd "$dir" && npm ci --no-audit --no-fund --loglevel=error >/dev/null) ||
    { echo "setup: npm ci in $dir failed; is the npm registry reachable?" >&2; return 1; }
  echo "$want" >"$dir/node_modules/.gust-lock"
}

if [ ${#missing[@]} -eq 0 ]; then install_test_clients; exit; fi

sudo=""
if [ "$(id -u)" -ne 0 ]; then
  command -v sudo >/dev/null || { echo "setup: installing ${missing[*]} needs root or sudo" >&2; exit 1; }
  sudo=sudo
fi
echo "setup: installing ${missing[*]}" >&2
export DEBIAN_FRONTEND=noninteractive
$sudo apt-get update -q >/dev/null
$sudo apt-get install -y -q --no-install-recommends "${missing[@]}" >/dev/null
install_test_clients
