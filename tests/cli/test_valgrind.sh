#!/usr/bin/env bash
# test_valgrind.sh: every shipped scenario and the README's eval examples under valgrind's
# memcheck: no invalid read or write, no use of uninitialised memory, no definitely-lost
# byte (issue 12). Plain build only: a sanitizer build cannot run under valgrind.
set -euo pipefail
HOME_DIR=${MOESIM_HOME:-.}
. "$(dirname "$0")/lib.sh"

if [[ "$BIN" == *san* ]]; then
  echo "test_valgrind.sh: skipped in the sanitizer build (AddressSanitizer and valgrind exclude each other)"
  echo "test_valgrind.sh: 0 passed, 0 failed"
  exit 0
fi
if ! command -v valgrind >/dev/null; then
  echo "test_valgrind.sh: valgrind is not installed (scripts/ensure-deps.sh installs it)"
  echo "test_valgrind.sh: 0 passed, 1 failed"
  exit 1
fi
vg=(valgrind -q --error-exitcode=99 --leak-check=full --errors-for-leak-kinds=definite --show-leak-kinds=definite)
check() {
  local name=$1; shift
  local status=0
  "${vg[@]}" "$@" >/dev/null 2>"$tmp/vg.err" || status=$?
  if [ "$status" -eq 99 ]; then bad "$name: valgrind: $(grep -m 3 -E '==[0-9]+== [A-Z]' "$tmp/vg.err" | tr '\n' ' ')"
  elif [ "$status" -ne 0 ]; then bad "$name: exit $status: $(tail -2 "$tmp/vg.err")"
  else ok; fi
}
for f in "$HOME_DIR"/scenarios/*.lua; do
  check "$(basename "$f")" "$M" run "$f" --out "$tmp/out"
done
check "eval dsv3 8xh200" "$M" eval --model deepseek-v3 --hw h200 --gpus 8 --tp 1 --dp 8 --ep 8 --precision fp8 \
  --isl 1024 --osl 1024 --concurrency 256
check "eval dsv3 nvl72 eplb" "$M" eval --model deepseek-v3 --hw gb200-nvl72 --gpus 72 --dp 72 --ep 72 \
  --redundant-experts 32 --precision nvfp4 --isl 1024 --osl 256 --concurrency 2304 --json
check "serve disaggregated" "$M" serve --model deepseek-v3 --hw h200 --gpus 16 --dp 16 --ep 16 --prefill-gpus 8 \
  --prefill-dp 8 --rate 20 --requests 200 --json
echo "test_valgrind.sh: $pass passed, $fail failed"
[ "$fail" -eq 0 ]
