#!/usr/bin/env bash
# The test command. Installs what is missing, builds, runs the suites, prints how long each
# phase took, and ends with "tests: N passed, N failed".
#
#   scripts/test.sh          the everyday loop: one build (build/, shared with scripts/run.sh),
#                            then the unit, integration and escape suites in parallel
#   scripts/test.sh --full   what CI runs (.ci/run): the everyday loop, then the slow suite,
#                            the same suites but escape in an AddressSanitizer + UBSan build
#                            (build-asan/), and each libFuzzer target (build-fuzz/, which
#                            compiles only the fuzzers) for FUZZ_SECONDS (default 20)
#
# TEST_JOBS (default 4) sets how many test programs run at once: most of them wait on
# processes and sockets, not on the CPU. Sanitized hosts and workers do use the CPU, and
# beside each other on two cores their real-time windows slip, so the ASan integration and
# slow suites run ASAN_TEST_JOBS (default 1) at once.
set -uo pipefail
cd "$(dirname "$0")/.."
# ccache (when installed, meson compiles through it) reuses objects compiled in another
# checkout of the same sources: the sanitized build's debug info would otherwise tie each
# object to its checkout's directory. Rebuilding a clean clone then costs seconds.
export CCACHE_NOHASHDIR=1

full=false
case "${1:-}" in
  "") ;;
  --full) full=true ;;
  -h|--help) sed -n '2,15p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
  *) echo "usage: scripts/test.sh [--full]" >&2; exit 2 ;;
esac
jobs=${TEST_JOBS:-4}
passed=0
failed=0
failures=()  # what failed, named, repeated at the end where CI's tail shows it
phases=()
started=$SECONDS

# Runs "$@" as the phase $1, timed; its status is the command's.
phase() {
  local name=$1; shift
  local t0=$SECONDS
  echo "== $name"
  "$@"
  local status=$?
  phases+=("$(printf '%-34s %5d s%s' "$name" $((SECONDS - t0)) "$([ $status -eq 0 ] || echo '  FAILED')")")
  return $status
}

# Configures DIR (meson options after it) unless it is, and reconfigures a build dir that
# an older checkout configured without tests.
configure() {
  local dir=$1; shift
  if [ -f "$dir/build.ninja" ] && [ "$(meson introspect --tests "$dir" 2>/dev/null)" = "[]" ]; then
    echo "test: $dir was configured without tests; configuring it again"
    meson setup --reconfigure "$dir" "$@" >/dev/null || { failed=$((failed + 1)); return 1; }
  fi
  [ -f "$dir/build.ninja" ] || meson setup "$dir" "$@" >/dev/null ||
    { echo "test: meson setup $dir failed" >&2; failed=$((failed + 1)); return 1; }
}

build() {  # dir, ninja targets...
  local dir=$1; shift
  # The progress of the longest phase: ninja's status line on a terminal, a step count
  # every tenth of the way in a log.
  scripts/build_progress.sh "$dir" "$@" ||
    { echo "test: the build in $dir failed (above)" >&2; failed=$((failed + 1)); return 1; }
}

# meson test prints "Ok: N", "Fail: N", "Timeout: N" ...; count them toward the closing line.
suites() {  # dir, meson test arguments...
  local dir=$1; shift
  local log
  log=$(mktemp)
  meson test -C "$dir" --no-rebuild --print-errorlogs --num-processes "$jobs" "$@" 2>&1 | tee "$log"
  local ok fail timeout unexpected
  ok=$(awk '/^Ok:/{print $2}' "$log"); fail=$(awk '/^Fail:/{print $2}' "$log")
  timeout=$(awk '/^Timeout:/{print $2}' "$log"); unexpected=$(awk '/^Unexpected Pass:/{print $3}' "$log")
  passed=$((passed + ${ok:-0}))
  failed=$((failed + ${fail:-0} + ${timeout:-0} + ${unexpected:-0}))
  [ -n "$ok" ] || { echo "test: no suite ran in $dir" >&2; failed=$((failed + 1)); }
  local name
  while IFS= read -r name; do failures+=("$dir: $name"); done < <(
    awk '/^ *[0-9]+\/[0-9]+ / && / (FAIL|TIMEOUT) / {
           sub(/^ *[0-9]+\/[0-9]+ /, ""); sub(/ +(FAIL|TIMEOUT) .*/, ""); print }' "$log")
  rm -f "$log"
  [ -n "$ok" ] && [ "${fail:-0}" -eq 0 ] && [ "${timeout:-0}" -eq 0 ]
}

fuzz() {
  local target name corpus
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
      failed=$((failed + 1)); failures+=("fuzz: $name (build-fuzz/$name.log)")
    fi
    rm -rf "$corpus"
  done
}

fuzz_targets() { meson introspect --targets build-fuzz | python3 -c \
  'import json,sys; print(" ".join(t["filename"][0].split("build-fuzz/",1)[1] for t in json.load(sys.stdin) if t["name"].startswith("fuzz_")))'; }

if ! phase "setup" scripts/setup.sh test; then
  echo "tests: 0 passed, 1 failed"; exit 1
fi

configure build && phase "build" build build &&
  phase "unit + integration" suites build --suite unit --suite integration --suite escape
if $full; then
  phase "slow" suites build --suite slow
  configure build-asan -Db_sanitize=address,undefined -Db_lundef=false -Ddebug=true -Doptimization=1 &&
    phase "build (ASan + UBSan)" build build-asan &&
    { phase "unit (ASan)" suites build-asan --suite unit
      phase "integration + slow (ASan)" suites build-asan --suite integration --suite slow \
        --num-processes "${ASAN_TEST_JOBS:-1}"; }
  CC=clang CXX=clang++ configure build-fuzz -Dfuzz=true -Db_sanitize=address,undefined -Db_lundef=false &&
    phase "build (fuzzers)" build build-fuzz $(fuzz_targets) &&
    phase "fuzz (${FUZZ_SECONDS:-20} s each)" fuzz
fi

echo
echo "phases:"
printf '  %s\n' "${phases[@]}"
printf '  %-34s %5d s\n' "total" $((SECONDS - started))
echo
[ ${#failures[@]} -eq 0 ] || { echo "failed:"; printf '  %s\n' "${failures[@]}"; echo; }
echo "tests: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
