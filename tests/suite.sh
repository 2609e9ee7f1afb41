#!/usr/bin/env bash
# suite.sh RESULTS NAME -- COMMAND...: run one test suite, show its output, and append its
# tally "NAME PASSED FAILED" to RESULTS, so `make test` runs every suite even when one fails
# and ends with one total (tests/summary.sh). The tally is read from the suite's own closing
# line: cmocka's "[  PASSED  ] N test(s)." / "[  FAILED  ] N test(s)", or a shell suite's
# "NAME: N passed, N failed"; a suite that prints neither counts as one check, passed when it
# exits 0. A suite that exits non-zero always counts at least one failure. Exits 0.
results=$1 name=$2
shift 3
# The routing statistics' grid files (sim/step/routing.c) go beside the results, not into the
# user's cache: a test run neither reads nor leaves files elsewhere (results never depend on
# them; they only save recomputation between the suite's processes).
export MOESIM_CACHE_DIR="${MOESIM_CACHE_DIR:-$(dirname "$results")/routing-cache}"
log=$(mktemp)
echo "== $name"
set +e
"$@" 2>&1 | tee "$log"
status=${PIPESTATUS[0]}
set -e
passed=0 failed=0 found=0
if grep -qE '^\[  (PASSED|FAILED)  \] [0-9]+ test' "$log"; then
  found=1
  passed=$(grep -E '^\[  PASSED  \] [0-9]+ test' "$log" | grep -oE '[0-9]+' | awk '{s+=$1} END {print s+0}')
  failed=$(grep -E '^\[  FAILED  \] [0-9]+ test' "$log" | grep -oE '[0-9]+' | head -n 1 | awk '{s+=$1} END {print s+0}')
fi
line=$(grep -E '(^|[ :])[0-9]+ passed, [0-9]+ failed' "$log" | tail -n 1 || true)
if [ "$found" = 0 ] && [ -n "$line" ]; then
  found=1
  passed=$(echo "$line" | grep -oE '[0-9]+ passed' | grep -oE '[0-9]+')
  failed=$(echo "$line" | grep -oE '[0-9]+ failed' | grep -oE '[0-9]+')
fi
if [ "$found" = 0 ]; then
  if [ "$status" -eq 0 ]; then passed=1; else failed=1; fi
elif [ "$status" -ne 0 ] && [ "$failed" -eq 0 ]; then
  failed=1 # it said all passed, then failed anyway (a crash after the tally, a sanitizer report)
fi
[ "$status" -ne 0 ] && echo "== $name: FAILED (exit $status)"
echo "$name $passed $failed" >>"$results"
rm -f "$log"
exit 0
