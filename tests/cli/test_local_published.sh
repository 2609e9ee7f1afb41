#!/usr/bin/env bash
# test_local_published.sh: moesim against the published local (llama.cpp / ik_llama.cpp) MoE
# results in tests/published/local.json, run by scenarios/local_published.lua with shipped
# priors that were derived from the file's dense-model and kernel-level rows only:
# - no MoE row fed a prior (a row with a non-empty `fed` is circular and must not be checked);
# - every row within a factor of 2 of the published figure (|error| <= 100%), except the rows
#   named in KNOWN_OUT below, which are outside it for a stated reason and reported as they
#   fall in the README; a known row that comes back inside the bound fails too, so the list
#   stays true;
# - every row's error as recorded in tests/golden/local_published.tsv (within 0.5 points): a
#   change that moves a case is deliberate, regenerated with `make golden`, and explained.
set -euo pipefail
BIN=${BIN:-bin}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
# Mixtral on the M2 Max, prompt processing (measurements.md M5, llama.cpp build 1631 of December
# 2023, the first Mixtral support): 4-9x slower than the expert GEMMs at the dense-derived Metal GEMM efficiency.
# No dense or kernel-level source gives llama.cpp's Metal MUL_MAT_ID rate, so the prior keeps the
# dense value rather than one fitted to these rows (README, "Local cases").
# gpt-oss-20b prompt on the RTX 4090 (L4, llama.cpp pull 15631): 2.5x slower than predicted. The
# rtx4090 INT8 prior comes from llama.cpp's own dense Q4_0 prompt row (D61); what is missing is
# MoE prefill's own cost (expert GEMMs priced like the dense one) and a dense row for MXFP4.
# Flash attention off (not stated; llama-bench's default then) does not fit the table's own
# micro-batch curve as the cause (README, "Local cases", L4).
KNOWN_OUT=("M5 q2_k pp512" "M5 q3_k_m pp512" "M5 q4_k_m pp512" "M5 q4_0 pp512"
           "M5 q5_k_m pp512" "M5 q5_0 pp512" "M5 q6_k pp512" "M5 q8_0 pp512"
           "L4 pp4096")
"$BIN/moesim" run scenarios/local_published.lua --out "$tmp" >"$tmp/table.txt"
cat "$tmp/table.txt"
out="$tmp/local_published.json"
fail=0
fed=$(jq -r '.cases[] | select(.fed != "") | .id' "$out")
if [ -n "$fed" ]; then
  echo "FAIL: MoE rows that fed a prior are checked against it: $fed" >&2
  fail=$((fail + 1))
fi
while IFS=$'\t' read -r id err; do
  known=0
  for k in "${KNOWN_OUT[@]}"; do [ "$k" = "$id" ] && known=1; done
  inside=$(awk -v e="$err" 'BEGIN { print (e <= 100 && e >= -100) ? 1 : 0 }')
  if [ "$inside" = 0 ] && [ "$known" = 0 ]; then
    echo "FAIL: $id is off by ${err}% (tolerance 100%)" >&2
    fail=$((fail + 1))
  elif [ "$inside" = 1 ] && [ "$known" = 1 ]; then
    echo "FAIL: $id is now within a factor of 2 (${err}%): take it off KNOWN_OUT and the README's note" >&2
    fail=$((fail + 1))
  fi
done < <(jq -r '.cases[] | [.id, .error_pct] | @tsv' "$out")
jq -r '.cases[] | [.id, (.error_pct * 10 | round / 10)] | @tsv' "$out" >"$tmp/errors.tsv"
if ! awk -F'\t' 'NR == FNR { want[$1] = $2; next }
                 { if (!($1 in want)) { print "FAIL: " $1 " is not in tests/golden/local_published.tsv"; bad = 1; next }
                   d = $2 - want[$1]; if (d > 0.5 || d < -0.5) { print "FAIL: " $1 " error " $2 "%, recorded " want[$1] "% (intended? make golden, and say why in the README)"; bad = 1 }
                   seen[$1] = 1 }
                 END { for (k in want) if (!(k in seen)) { print "FAIL: " k " recorded but not run"; bad = 1 }; exit bad }' \
     tests/golden/local_published.tsv "$tmp/errors.tsv" >&2; then
  fail=$((fail + 1))
fi
# moesim.published reads a bare name under tests/published only, and says what it expected
printf 'moesim.published("../../hwmodels/rpi5")\n' >"$tmp/bad.lua"
if "$BIN/moesim" run "$tmp/bad.lua" --out "$tmp/bad" >"$tmp/bad.txt" 2>&1 \
   || ! grep -q "not a file name under tests/published" "$tmp/bad.txt"; then
  echo "FAIL: moesim.published accepted a path, or did not say what it expected: $(cat "$tmp/bad.txt")" >&2
  fail=$((fail + 1))
fi
# scenarios/local.lua (issue 14 item 8): every local device has rows, the Pi question is answered
# in so many words, and the Pi's Qwen3-30B-A3B Q3_K_S row is resident with a generation rate
"$BIN/moesim" run scenarios/local.lua --out "$tmp/local" >"$tmp/local.txt"
for hw in rpi5 rpi5-8gb laptop-ddr5 ryzen-7950x ryzen-9950x m1-max m2-max m3-max m4-max m2-ultra m3-ultra strix-halo \
          dgx-spark jetson-agx-orin-64gb rtx3090 rtx4090 rtx5090 xeon-8480-2s; do
  if ! awk -F, -v hw="$hw" 'NR > 1 && $1 == hw { found = 1 } END { exit !found }' "$tmp/local/local.csv"; then
    echo "FAIL: scenarios/local.lua has no row for $hw" >&2
    fail=$((fail + 1))
  fi
done
if ! grep -q "^Qwen3-30B-A3B on a Pi 5 16 GB: yes, with a Q3_K_S file" "$tmp/local.txt" \
   || ! awk -F, 'NR > 1 && $1 == "rpi5" && $2 == "qwen3-30b-a3b" && $3 == "q3_k_s" && $5 == "resident" && $6 > 0 { ok = 1 } END { exit !ok }' "$tmp/local/local.csv"; then
  echo "FAIL: scenarios/local.lua does not answer the Pi question with a resident Q3_K_S row: $(grep Pi "$tmp/local.txt")" >&2
  fail=$((fail + 1))
fi
# a desktop GPU runs a file larger than its memory as llama.cpp's --n-cpu-moe: gpt-oss-120b (59 GiB)
# on the RTX 4090 with the fewest MoE layers on the host CPU, a file-size row, and a rate
if ! awk -F, 'NR > 1 && $1 == "rtx4090" && $2 == "gpt-oss-120b" && $5 ~ /^--n-cpu-moe [0-9]+ on ryzen-7950x/ && $4 > 50 && $6 > 0 { ok = 1 }
              END { exit !ok }' "$tmp/local/local.csv"; then
  echo "FAIL: scenarios/local.lua has no --n-cpu-moe row for gpt-oss-120b on the RTX 4090: $(grep 'rtx4090,gpt-oss-120b' "$tmp/local/local.csv")" >&2
  fail=$((fail + 1))
fi
# issue 14's must-hold, on the name the issue uses (rpi5-16gb): Qwen3-30B-A3B Q3_K_S (ByteShape's
# 9.58 GiB file, M6) generates within 25% of the published 7.99 tok/s
tg=$("$BIN/moesim" eval --model qwen3-30b-a3b --hw rpi5-16gb --precision q3_k_s --gguf-file-gib 9.58 \
       --llama-bench --pp 512 --tg 128 --json | jq '.[] | select(.test == "tg128") | .t_s')
if ! awk -v t="$tg" 'BEGIN { exit !(t >= 7.99 * 0.75 && t <= 7.99 * 1.25) }'; then
  echo "FAIL: Qwen3-30B-A3B Q3_K_S (9.58 GiB) on rpi5-16gb generates at ${tg} tok/s, not within 25% of 7.99" >&2
  fail=$((fail + 1))
fi
n=$(jq '.cases | length' "$out")
echo "local published: $n cases, median |error| $(jq '.median_abs_error_pct | round' "$out")%, $fail failed checks"
[ "$fail" -eq 0 ]
