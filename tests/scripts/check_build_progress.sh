#!/usr/bin/env bash
# scripts/build_progress.sh with its output in a file, as in a log or CI: a step count each
# tenth of the way, the compiler's lines as they came but without control characters, and
# ninja's exit status. A fake ninja stands in for a build, so this takes no time; and
# scripts/test.sh --help answers without running anything.
set -uo pipefail
root=$1
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
fail() { echo "FAIL: $*" >&2; echo "--- output:" >&2; cat -A "$work/out" >&2; exit 1; }

# 25 edges with the status line ninja would print (NINJA_STATUS, %f of %t), then a colored
# compiler error ending in \r\n, and a failed build's status.
cat >"$work/ninja" <<'FAKE'
#!/usr/bin/env bash
for i in $(seq 25); do
  status=${NINJA_STATUS:-[%f/%t] }; status=${status//%f/$i}; status=${status//%t/25}
  echo "${status}Compiling C++ object thing$i.o"
done
printf '\033[1mthing.cc:1:1: \033[31merror:\033[0m bad\r\n'
exit 3
FAKE
chmod +x "$work/ninja"

NINJA="$work/ninja" "$root/scripts/build_progress.sh" "$work" >"$work/out" </dev/null
status=$?
[ "$status" -eq 3 ] || fail "exit status $status, not ninja's 3"
[ "$(grep -c '^build: step ' "$work/out")" -eq 10 ] || fail "not one step line per tenth"
grep -qx 'build: step 3/25 (10%)' "$work/out" || fail "no line at a tenth"
grep -qx 'build: step 25/25 (100%)' "$work/out" || fail "no line at the end"
grep -qx 'thing.cc:1:1: error: bad' "$work/out" || fail "the compiler's line is lost or keeps its escapes"
! grep -q $'[\r\033]' "$work/out" || fail "control characters in the output"

"$root/scripts/build_progress.sh" >"$work/out" 2>&1 && fail "no usage error without a build folder"
"$root/scripts/test.sh" --help >"$work/out" || fail "scripts/test.sh --help failed"
grep -q 'tests: N passed, N failed' "$work/out" || fail "scripts/test.sh --help does not say its closing line"
echo "ok"
