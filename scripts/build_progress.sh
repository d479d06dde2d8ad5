#!/usr/bin/env bash
# Builds with ninja and shows how far it is: on a terminal, ninja's own status line; elsewhere
# (a log, CI) "build: step N/M (P%)" each tenth of the way, and what the compiler says as it
# says it, with no control characters. Exits with ninja's status.
# Usage: scripts/build_progress.sh BUILD_DIR [TARGET...]      ($NINJA: the ninja to run)
set -uo pipefail
ninja=${NINJA:-ninja}
[ $# -ge 1 ] || { echo "usage: scripts/build_progress.sh BUILD_DIR [TARGET...]" >&2; exit 2; }
dir=$1; shift
if [ -t 1 ] && [ "${TERM:-dumb}" != dumb ]; then exec "$ninja" -C "$dir" "$@"; fi
# NINJA_STATUS marks ninja's own lines, so that they are told from the compiler's.
NINJA_STATUS='[step %f/%t] ' "$ninja" -C "$dir" "$@" 2>&1 | awk '
  /^\[step [0-9]+\/[0-9]+\] / {
    split(substr($2, 1, length($2) - 1), n, "/")
    tenth = int(n[1] * 10 / n[2])
    if (tenth > shown) { shown = tenth; printf "build: step %d/%d (%d%%)\n", n[1], n[2], tenth * 10; fflush() }
    next
  }
  { gsub(/\033\[[0-9;]*[A-Za-z]/, ""); gsub(/\r/, ""); print; fflush() }'
exit "${PIPESTATUS[0]}"
