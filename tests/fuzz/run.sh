#!/usr/bin/env bash
# run.sh TARGET SECONDS: run one libFuzzer target (built by `make FUZZ=1 fuzz-build`) over its
# seeds and kept crash reproducers, then SECONDS of new inputs. New inputs go to a scratch
# folder (the tree is not changed); a crash leaves its reproducer in build/fuzz/crashes/ and
# fails. Prints the executions made.
set -euo pipefail
t=$1 seconds=$2
case $t in
  model) seeds="scenarios/models tests/fuzz/corpus/model" ;;
  hw) seeds="hwmodels hwmodels/calibrated hwmodels/kernels tests/unit/model/fixtures/kernels" ;;
  calibration) seeds="calibrate/fixtures" ;;
  trace) seeds="tests/fuzz/corpus/trace" ;;
  cli | eval) seeds="tests/fuzz/corpus/cli" ;;
  lua) seeds="tests/fuzz/corpus/lua" ;; # small scripts: the shipped scenarios take seconds each under the sanitizers
  *) echo "run.sh: unknown target '$t'" >&2; exit 2 ;;
esac
# Targets whose code prints its error messages: keep the fuzzer's own report, drop theirs.
case $t in cli | eval | lua) quiet=-close_fd_mask=3 ;; *) quiet= ;; esac
regress=tests/fuzz/regressions/$t
mkdir -p build/fuzz/crashes
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
dirs=("$work")
[ -d "$regress" ] && dirs+=("$regress")
for s in $seeds; do [ -d "$s" ] && dirs+=("$s"); done
echo "fuzz_$t: $seconds s over ${dirs[*]:1}"
if MOESIM_HOME=${MOESIM_HOME:-$PWD} build/fuzz/fuzz/fuzz_$t -max_total_time="$seconds" -timeout=20 \
     -rss_limit_mb=2048 -max_len=65536 -print_final_stats=1 $quiet -artifact_prefix=build/fuzz/crashes/$t- \
     "${dirs[@]}" >"$work/log" 2>&1; then
  runs=$(grep -oE 'stat::number_of_executed_units: *[0-9]+' "$work/log" | grep -oE '[0-9]+$')
  echo "fuzz_$t: $runs executions, no crash, leak or hang"
else
  tail -n 60 "$work/log"
  echo "fuzz_$t: FAILED; the reproducer is in build/fuzz/crashes/$t-*: keep it in $regress/ once fixed"
  exit 1
fi
