#!/usr/bin/env bash
# expert_fixed_cost.sh: the measurement behind the per-expert fixed cost (`overhead_us` in a
# hwmodel curve, calibrate/README.md). One token through a 16-expert, top-8 layer of seven
# expert shapes, BF16, on the CPU engine; prints each expert's time against its weights and
# the least-squares line t = a + b * MB over them. A curve in rows per expert alone makes a
# = 0, i.e. time proportional to the weights.
# Usage: scripts/expert_fixed_cost.sh [BIN_DIR]   (default bin; needs jq)
set -euo pipefail
bin=${1:-bin}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
printf '%-12s %8s %10s %12s\n' "hidden x ffn" "experts" "MB/expert" "ms/expert"
for shape in "2048 768" "2048 1408" "2880 2880" "4096 1536" "7168 2048" "3072 1024" "2560 2560"; do
  set -- $shape
  "$bin/moe-engine" bench --backend cpu --hidden "$1" --ffn "$2" --experts 16 --top-k 8 --dtype bf16 \
    --tokens 1 --reps 10 --no-primitives --json "$tmp/b.json" >/dev/null 2>&1
  jq -r --arg s "$1x$2" '.results[] | select(.kind == "moe_layer")
    | [$s, .experts_touched, .expert_bytes / .experts_touched / 1e6, .stages.experts.min_s * 1e3 / .experts_touched]
    | @tsv' "$tmp/b.json"
done | tee "$tmp/rows" | awk -F'\t' '{ printf "%-12s %8d %10.2f %12.3f\n", $1, $2, $3, $4 }'
awk -F'\t' '{ n++; x += $3; y += $4; xx += $3 * $3; xy += $3 * $4 }
  END { b = (n * xy - x * y) / (n * xx - x * x); a = (y - b * x) / n;
        printf "least squares: t = %.3f ms + %.4f ms per MB (fixed cost per expert %.0f us)\n", a, b, a * 1000 }' "$tmp/rows"
