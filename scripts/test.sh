#!/usr/bin/env bash
# Sets up, builds and runs every test suite: unit and integration tests in a normal build
# and again under AddressSanitizer + UBSan, then each libFuzzer target for a short while.
# FUZZ_SECONDS (default 20) sets how long each fuzz target runs.
set -uo pipefail
cd "$(dirname "$0")/.."

scripts/setup.sh test || exit 1
passed=0
failed=0

# meson test prints "Ok: N" and "Fail: N"; count them toward the closing line.
run_suite() {
  local dir=$1
  local log
  log=$(mktemp)
  meson test -C "$dir" --print-errorlogs --num-processes 2 2>&1 | tee "$log"
  local ok fail timeout
  ok=$(awk '/^Ok:/{print $2}' "$log"); fail=$(awk '/^Fail:/{print $2}' "$log")
  timeout=$(awk '/^Timeout:/{print $2}' "$log")
  passed=$((passed + ${ok:-0}))
  failed=$((failed + ${fail:-0} + ${timeout:-0}))
  [ -n "$ok" ] || failed=$((failed + 1))  # the suite did not even run
  rm -f "$log"
}

build() {  # dir, meson options...
  local dir=$1; shift
  if [ ! -f "$dir/build.ninja" ]; then
    meson setup "$dir" "$@" >/dev/null || { echo "test: meson setup $dir failed" >&2; failed=$((failed + 1)); return 1; }
  fi
  ninja -C "$dir" || { echo "test: build in $dir failed" >&2; failed=$((failed + 1)); return 1; }
}

echo "== build and test (debugoptimized)"
build build && run_suite build

echo "== build and test under AddressSanitizer and UBSan"
build build-asan -Db_sanitize=address,undefined -Db_lundef=false && run_suite build-asan

echo "== fuzz targets (${FUZZ_SECONDS:-20} s each)"
if CC=clang CXX=clang++ build build-fuzz -Dfuzz=true -Db_sanitize=address,undefined -Db_lundef=false; then
  for target in build-fuzz/tests/fuzz/fuzz_*; do
    [ -f "$target" ] && [ -x "$target" ] || continue
    name=$(basename "$target")
    corpus=$(mktemp -d)
    [ -d "tests/fuzz/corpus/$name" ] && cp -r "tests/fuzz/corpus/$name/." "$corpus/"
    if "$target" -max_total_time="${FUZZ_SECONDS:-20}" -rss_limit_mb=2048 -print_final_stats=0 "$corpus" \
         >"build-fuzz/$name.log" 2>&1; then
      echo "fuzz $name: ok ($(grep -c . "build-fuzz/$name.log") log lines)"
      passed=$((passed + 1))
    else
      echo "fuzz $name: FAILED; the crash is in build-fuzz/$name.log:"; tail -40 "build-fuzz/$name.log"
      failed=$((failed + 1))
    fi
    rm -rf "$corpus"
  done
fi

echo
echo "tests: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
