#!/usr/bin/env bash
# test_local_priors.sh: every local device prior reproduces the dense row it was derived from.
# A prior is the value at which moesim's own step model gives back its row (tests/published/
# local.json): derived by hand, a share also holds costs the model adds again (fixed per-op and
# per-step costs) or FLOPs the model does not run (a prompt's embedding and all-but-last LM
# head), and the MoE cases checked with it inherit that error. Each row below runs as
# llama-bench ran it, on the hwmodel whose prior it set, and must come back within 2% of its
# published figure (read from local.json, not repeated here).
# Not run (no moesim card for the row's model; their priors are re-derived by hand in the
# hwmodel's source): D2 (TinyLlama 1.1B, rpi5 GEMM), D55 (Llama 2 7B, jetson-agx-orin-64gb). D20-D49 set per-type mat-vec shares that take the
# place of the curve at one row (checked by the unit tests of gguf_matvec), D15-D18 and D62-D87
# per-type prompt shares (efficiency.gguf_gemm, derived on the layer weights the model computes,
# 6.979 G for LLaMA-3-8B, so they give their rows back within 1-4%). D10 (ik_llama.cpp's repacked IQ4_XS_R4, which set ik_llama.cpp's base curve for the
# types its table lacks) names a repacked type moesim cannot: run as iq4_xs it takes the plain
# type's share (D73-D87), not the curve D10 set.
set -euo pipefail
BIN=${BIN:-bin}
fail=0 n=0
# D50 (strix-halo memory): moesim gives back 86% of it. Inverting it would need 0.97 of the
# bus, more than a bus sustains: the fixed costs carried from the M4 Max (15 us per kernel) are
# the likelier error, so the end-to-end share stays and the row is named here as known.
KNOWN=("D50")
check() { # id hw card format test tokens runtime
  local id=$1 hw=$2 card=$3 fmt=$4 kind=$5 tokens=$6 rt=$7
  local want got
  want=$(jq -r --arg id "$id" '.rows[] | select(.id == $id) | .tok_s' tests/published/local.json)
  # a prompt in the micro-batches the row ran (its ubatch; null: llama-bench's default)
  local ub
  ub=$(jq -r --arg id "$id" '.rows[] | select(.id == $id) | .ubatch // 512' tests/published/local.json)
  local bench=("--$kind" "$tokens")
  [ "$kind" = pp ] && bench+=(--ubatch "$ub")
  # and after the depth its test names (llama-bench's "pp2048 @ d4096")
  local depth
  depth=$(jq -r --arg id "$id" '.rows[] | select(.id == $id) | (.test | capture("@ d(?<d>[0-9]+)$").d) // "0"' tests/published/local.json)
  bench+=(--depth "$depth")
  got=$("$BIN/moesim" eval --model "$card" --hw "$hw" --precision "$fmt" --runtime "$rt" --llama-bench \
          "${bench[@]}" --json | jq --arg k "$kind" '.[] | select(.test | startswith($k)) | .t_s')
  local err
  err=$(awk -v g="$got" -v w="$want" 'BEGIN { printf "%.1f", (g / w - 1) * 100 }')
  local inside
  inside=$(awk -v e="$err" 'BEGIN { print (e <= 2 && e >= -2) ? 1 : 0 }')
  local known=0
  for k in "${KNOWN[@]}"; do [ "$k" = "$id" ] && known=1; done
  n=$((n + 1))
  printf '%-4s %-12s %-13s %-7s %s%-4s  published %9.2f  moesim %9.2f  (%s%%)\n' "$id" "$hw" "$card" "$fmt" "$kind" "$tokens" "$want" "$got" "$err"
  if [ "$inside" = 0 ] && [ "$known" = 0 ]; then
    echo "FAIL: $id does not come back from the prior it set (${err}%, tolerance 2%): re-derive it" >&2
    fail=$((fail + 1))
  elif [ "$inside" = 1 ] && [ "$known" = 1 ]; then
    echo "FAIL: $id now comes back within 2%: take it off KNOWN" >&2
    fail=$((fail + 1))
  fi
}
check D1  rpi5        llama3.1-8b  q4_k_m tg 128 llamacpp
check D4  m1-max      llama3.1-8b  q4_k_m pp 512 llamacpp
check D15 ryzen-7950x llama3.1-8b  q4_k_s pp 512 llamacpp
check D50 strix-halo  llama3.1-8b  q4_k_m tg 128 llamacpp
# D53 is llama-bench's pp512 at micro-batch 1 (one token per step): generation, run as tg128
check D53 rtx3090     llama3.1-8b  q4_0   tg 128 llamacpp
check D54 rtx3090     llama3.1-8b  q5_0   pp 512 llamacpp
check D59 m3-ultra    llama3.1-70b q4_k_m pp 512 llamacpp
check D60 m3-ultra    llama3.1-70b q4_k_m tg 128 llamacpp
check D61 rtx4090     llama3.1-8b  q4_0   pp 512 llamacpp
# D88-D90 and D92 are pp2048 at micro-batch 512: four micro-batches, each against the cache the
# earlier ones wrote, as llama-bench ran them (D91 is a plain pp512)
check D88 rtx4090     llama3.1-8b  q4_k_s pp 2048 llamacpp
check D89 rtx3090     llama3.1-8b  q6_k   pp 2048 llamacpp
check D90 rtx3090     llama3.1-8b  q3_k_s pp 2048 llamacpp
check D91 rtx3090     llama3.1-8b  q5_1   pp 512 llamacpp
check D92 rtx3090     llama3.1-8b  q5_k_s pp 2048 llamacpp
# the Apple family's attention prefill share: an M2 Ultra's pp16384 of Qwen2.5-Coder 7B at
# micro-batch 2048 (eight micro-batches against a growing cache)
check D14  m2-ultra   qwen2.5-7b   q8_0   pp 16384 llamacpp
# the DGX Spark's dense rows (Qwen2.5-Coder 7B, card qwen2.5-7b): pp2048 and tg32 at depth 0 and
# after 4096-32768 tokens in the cache, at micro-batch 2048 (INT8 GEMM, memory and both
# attention shares)
check D51  dgx-spark  qwen2.5-7b   q8_0   pp 2048 llamacpp
check D52  dgx-spark  qwen2.5-7b   q8_0   tg 32   llamacpp
for id in D93 D94 D95 D96; do check "$id" dgx-spark qwen2.5-7b q8_0 pp 2048 llamacpp; done
for id in D97 D98 D99 D100; do check "$id" dgx-spark qwen2.5-7b q8_0 tg 32 llamacpp; done
echo "local priors: $n rows, $fail failed"
[ "$fail" -eq 0 ]
