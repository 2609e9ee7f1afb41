#!/usr/bin/env bash
# engine_ab.sh: two engine builds (or two environments) compared on a shared, noisy machine.
# A host's load drifts over minutes, so one run of each, or all of A then all of B, measures the
# drift as much as the change: here A and B alternate run by run, and each token count's median
# (and range) of the experts' read rate (`exp GB/s`, decode) is printed per side.
#
#   scripts/engine_ab.sh [-n ROUNDS] [-d DTYPE] [-t TOKENS] [-a 'VAR=V ...'] [-b 'VAR=V ...'] BIN_A [BIN_B]
#
# ROUNDS 5, DTYPE bf16, TOKENS 1,2,4,8,16 (Qwen3-30B-A3B's layer, as `make bench-engine`); -a and -b
# set environment variables for one side (e.g. -a MOESIM_NO_PACK=0 -b MOESIM_NO_PACK=1 with one
# binary). Exit 2 on bad arguments.
set -euo pipefail

usage() { echo "usage: $0 [-n ROUNDS] [-d DTYPE] [-t TOKENS] [-a ENV] [-b ENV] BIN_A [BIN_B]" >&2; exit 2; }
rounds=5 dtype=bf16 tokens=1,2,4,8,16 env_a="" env_b=""
while getopts "n:d:t:a:b:" o; do
  case $o in
    n) rounds=$OPTARG ;;
    d) dtype=$OPTARG ;;
    t) tokens=$OPTARG ;;
    a) env_a=$OPTARG ;;
    b) env_b=$OPTARG ;;
    *) usage ;;
  esac
done
shift $((OPTIND - 1))
[ $# -ge 1 ] && [ $# -le 2 ] || usage
[[ $rounds =~ ^[1-9][0-9]*$ ]] || { echo "$0: -n: expected a positive count, got '$rounds'" >&2; exit 2; }
bin_a=$1 bin_b=${2:-$1}
for b in "$bin_a" "$bin_b"; do
  [ -x "$b" ] || { echo "$0: $b: not an executable" >&2; exit 2; }
done
export MOESIM_HOME=${MOESIM_HOME:-$(cd "$(dirname "$0")/.." && pwd)}

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
for ((i = 1; i <= rounds; i++)); do
  echo "round $i of $rounds" >&2
  for side in A B; do
    if [ $side = A ]; then bin=$bin_a e=$env_a; else bin=$bin_b e=$env_b; fi
    # shellcheck disable=SC2086 # the side's VAR=V words, split on purpose
    env $e "$bin" bench --backend cpu --model qwen3-30b-a3b --dtype "$dtype" --tokens "$tokens" --reps 5 --warmup 1 \
      --no-primitives 2>"$tmp/err" | awk '/^ +[0-9]+ /{print $1, $(NF-2)}' >>"$tmp/$side" ||
      { cat "$tmp/err" >&2; exit 1; }
  done
done
for side in A B; do
  printf "%s:" "$side"
  sort -k1,1n -k2,2n "$tmp/$side" | awk '
    { v[$1] = v[$1] " " $2; n[$1]++; if (!($1 in seen)) { seen[$1] = 1; order[++k] = $1 } }
    END { for (i = 1; i <= k; i++) { t = order[i]; split(substr(v[t], 2), x, " ");
            printf "  %s tok %s (%s-%s)", t, x[int((n[t] + 1) / 2)], x[1], x[n[t]] } print "  GB/s" }'
done
