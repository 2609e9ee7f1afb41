#!/usr/bin/env bash
# test_cli.sh: the moesim command as a user meets it: listings, eval (the acceptance cases
# of the simulator issue), bad input (exit status 2 and a message naming the problem), the
# Lua sandbox, and the quickstart's golden output.
set -euo pipefail
. "$(dirname "$0")/lib.sh"

# --- listings
n=$("$M" models --json | jq length)
[ "$n" -eq 22 ] && ok || bad "models --json lists $n models, expected 22"
"$M" models | grep -q "deepseek-v3" && ok || bad "models table lacks deepseek-v3"
# a checkpoint that keeps its shared experts wider than the routed ones says so (issue 17)
"$M" models --json | jq -e '.[] | select(.name == "kimi-k2-thinking") | .native_precision == "int4_g32, shared bf16"' \
  >/dev/null && ok || bad "models: kimi-k2-thinking's native precision should name its BF16 shared expert"
"$M" eval --model kimi-k2-thinking --hw h200 --gpus 8 --tp 8 --json \
  | jq -e '.deployment.shared_expert_precision == "bf16" and .deployment.precision == "int4_g32"' >/dev/null \
  && ok || bad "eval: kimi-k2-thinking's deployment should keep the shared expert in BF16"
"$M" eval --model kimi-k2-thinking --hw h200 --gpus 8 --tp 8 --precision fp8 --json \
  | jq -e '.deployment | has("shared_expert_precision") | not' >/dev/null \
  && ok || bad "eval: --precision fp8 should put the shared expert in FP8 too"
n=$("$M" hw --json | jq '[.[] | select(.name | startswith("calibrated/") | not)] | length')
[ "$n" -eq 27 ] && ok || bad "hw --json lists $n shipped hwmodels, expected 27"
"$M" hw --json | jq -e 'map(select(.name == "gb200-nvl72"))[0].scale_up_domain == 72' >/dev/null && ok || bad "NVL72 domain"

# --- the acceptance cases
j=$("$M" eval --model deepseek-v3 --hw h200 --gpus 8 --ep 8 --dp 8 --precision fp8 \
      --isl 1024 --osl 1024 --concurrency 256 --json)
for field in fits memory_per_gpu_bytes ttft_s tpot_s output_tokens_per_s_per_gpu input_tokens_per_s_per_gpu \
             output_tokens_per_s_per_user usd_per_mtok_output usd_per_mtok_input joules_per_output_token bound \
             breakdown; do
  echo "$j" | jq -e "has(\"$field\")" >/dev/null && ok || bad "eval JSON lacks $field"
done
echo "$j" | jq -e '.fits == true and .tpot_s > 0 and .output_tokens_per_s_per_gpu > 0' >/dev/null && ok \
  || bad "deepseek-v3 on 8xH200 fp8 should fit"
echo "$j" | jq -e '.breakdown.decode | has("compute_s") and has("memory_s") and has("communication_s") and has("overhead_s") and (.by_kind_s | has("experts"))' >/dev/null \
  && ok || bad "breakdown lacks parts or per-kind times"
j=$("$M" eval --model deepseek-v3 --hw h100-sxm --gpus 8 --ep 8 --dp 8 --precision bf16 \
      --isl 1024 --osl 1024 --concurrency 256 --json)
echo "$j" | jq -e '.fits == false and (.reason | test("weights need"))' >/dev/null && ok \
  || bad "deepseek-v3 on 8xH100 bf16 should not fit, with a reason"
# --engine: KV capacity as vLLM allocates it (vllm-project/vllm#19996 printed 3.13x for Llama 3.1 8B
# on one H100 at 131,072 tokens; the unit test test_engine_kv holds the published cases), and
# nothing of it in the report without --engine
j=$("$M" eval --model llama3.1-8b --hw h100-sxm --isl 131000 --osl 72 --engine vllm --json)
echo "$j" | jq -e '.memory.engine.name == "vllm" and .memory.engine.kv_block_tokens == 16 and
  (.memory.engine.max_concurrency > 3.13 * 0.9) and (.memory.engine.max_concurrency < 3.13 * 1.1) and
  .memory.max_sequences_per_rank == 3 and .memory.engine.max_batched_tokens == 8192' >/dev/null \
  && ok || bad "--engine vllm: memory.engine for llama3.1-8b on H100 at 131072 tokens"
"$M" eval --model llama3.1-8b --hw h100-sxm --isl 131000 --osl 72 --json | jq -e '.memory | has("engine") | not' >/dev/null \
  && ok || bad "without --engine the memory report has no engine"
"$M" eval --model llama3.1-8b --hw h100-sxm --engine sglang --gpus 2 --tp 2 --json \
  | jq -e '.memory.engine.mem_fraction == 0.87 and .memory.engine.kv_block_tokens == 1' >/dev/null \
  && ok || bad "--engine sglang: mem_fraction_static 0.87 at TP 2"
"$M" eval --model llama3.1-8b --hw h100-sxm --engine trtllm --mem-fraction 0.5 --json \
  | jq -e '.memory.engine.mem_fraction == 0.5 and .memory.engine.mem_fraction_basis == "option"' >/dev/null \
  && ok || bad "--engine trtllm --mem-fraction 0.5"
# alias and paths
"$M" eval --model deepseek-r1-zero --hw h200 --gpus 8 --dp 8 --tp 1 --json | jq -e '.model == "deepseek-r1"' >/dev/null \
  && ok || bad "alias deepseek-r1-zero"
"$M" eval --model scenarios/models/mixtral-8x7b.json --hw hwmodels/h100-sxm.json --json | jq -e '.model == "mixtral-8x7b"' >/dev/null \
  && ok || bad "paths for --model and --hw"
# one phase
"$M" eval --model mixtral-8x7b --hw h100-sxm --phase decode --batch 8 --context 2048 --json \
  | jq -e '.phase == "decode" and .step_s > 0' >/dev/null && ok || bad "--phase decode"

# one decode step with speculative decoding (issue 15): the verify pass of batch x (k+1) rows
# plus the draft, tokens/s counting batch x accepted tokens per step, the acceptance's source
PH=(eval --model deepseek-v3 --hw h200 --gpus 8 --tp 8 --phase decode --batch 32 --context 2048)
"$M" "${PH[@]}" --json >"$tmp/ph0.json"
"$M" "${PH[@]}" --spec-tokens 1 --json >"$tmp/ph1.json"
jq -e -s '.[1].speculative as $s | $s.method == "mtp" and $s.draft_tokens == 1 and $s.verify_tokens_per_sequence == 2
          and $s.accepted_tokens_per_step == 1.875 and ($s.acceptance_source | test("arXiv:2412.19437"))
          and $s.draft_s > 0 and (($s.draft_s + $s.verify_s) / .[1].step_s - 1 | fabs) < 1e-12
          and .[1].step_s > .[0].step_s and ((.[1].tokens_per_s_per_gpu * .[1].step_s * 8 / (32 * 1.875)) - 1 | fabs) < 1e-9
          and ((.[0].tokens_per_s_per_gpu * .[0].step_s * 8 / 32) - 1 | fabs) < 1e-9
          and .[1].memory.mtp_weights_bytes > 0 and (.[0] | has("speculative") | not)' "$tmp/ph0.json" "$tmp/ph1.json" \
  >/dev/null && ok || bad "--phase decode --spec-tokens 1: $(jq -c '[.step_s, .tokens_per_s_per_gpu, .speculative]' "$tmp/ph1.json")"
"$M" "${PH[@]}" --spec-tokens 1 | grep -q "^speculative decoding (MTP): 1 draft token, 2 verified per sequence, 1.875 accepted tokens per step; the step: verify" \
  && ok || bad "--phase decode --spec-tokens 1: the text lacks the speculative decoding"
# ... the same step eval's disaggregated decode pool takes at that batch and mean context (1024 + 1024 / 2)
"$M" eval --model deepseek-v3 --hw h200 --gpus 8 --tp 8 --prefill-gpus 8 --prefill-tp 8 --concurrency 32 --spec-tokens 1 \
  --json >"$tmp/phe.json"
"$M" "${PH[@]/2048/1536}" --spec-tokens 1 --json >"$tmp/ph2.json"
jq -e -s '.[0].batch_per_rank == 32 and ((.[0].speculative.verify_s + .[0].speculative.draft_s) / .[1].step_s - 1 | fabs) < 1e-12' \
  "$tmp/phe.json" "$tmp/ph2.json" >/dev/null && ok ||
  bad "phase decode --spec-tokens differs from eval's decode step: $(jq -c -s '[.[0].speculative, .[1].step_s]' "$tmp/phe.json" "$tmp/ph2.json")"
# the same in Lua; 'batch' without 'phase' is refused there as on the command line
cat >"$tmp/phase.lua" <<'LUA'
local base = { model = "deepseek-v3", hw = "h200", gpus = 8, tp = 8, phase = "decode", batch = 32, context = 2048 }
local plain = moesim.eval(base)
base.spec_tokens = 1
local r = moesim.eval(base)
assert(r.speculative.accepted_tokens_per_step == 1.875 and r.tokens_per_s_per_gpu > plain.tokens_per_s_per_gpu)
local ok, err = pcall(moesim.eval, { model = "deepseek-v3", hw = "h200", gpus = 8, batch = 32 })
assert(not ok and err:find("option 'batch' goes with 'phase'", 1, true), tostring(err))
ok, err = pcall(moesim.llama_bench, { model = "qwen3-30b-a3b", hw = "rtx4090", precision = "q4_k_m", isl = 100 })
assert(not ok and err:find("option 'isl' goes with serving", 1, true), tostring(err))
ok, err = pcall(moesim.llama_bench, { model = "qwen3-30b-a3b", hw = "rtx4090", precision = "q4_k_m", ubatch = 0.5 })
assert(not ok and err:find("field 'ubatch' must be a whole number of tokens, 1 to 10000000 (got 0.5)", 1, true), tostring(err))
local lb = moesim.llama_bench{ model = "qwen3-30b-a3b", hw = "rtx4090", precision = "q4_k_m", pp = 2048, ubatch = 2048, depth = 100 }
assert(lb[1].test == "pp2048 @ d100" and lb[1].n_ubatch == 2048 and lb[2].n_depth == 100, lb[1].test)
print("lua phase ok")
LUA
"$M" run "$tmp/phase.lua" --out "$tmp/luaphase" 2>"$tmp/lperr" | grep -q "lua phase ok" && ok ||
  bad "Lua phase with speculative decoding: $(cat "$tmp/lperr")"

# --- bad input: exit 2, a message naming the problem
expect_fail 2 "unknown model 'deepseek-v4'; did you mean: .*deepseek-v3" -- "$M" eval --model deepseek-v4 --hw h200
expect_fail 2 "unknown hardware 'h201'; did you mean: .*h200" -- "$M" eval --model deepseek-v3 --hw h201
printf '{\n  "schema": "moesim-model/1",\n  "name": "broken",\n  "hidden": 4096,,\n}\n' >"$tmp/broken.json"
expect_fail 2 "broken.json:4:[0-9]+: malformed JSON" -- "$M" eval --model "$tmp/broken.json" --hw h200
expect_fail 2 "ep \(3\) must divide the expert slots" -- "$M" eval --model mixtral-8x7b --hw h100-sxm --gpus 3 --tp 1 --dp 3 --ep 3
expect_fail 2 "tp \(3\) must divide the attention heads" -- "$M" eval --model mixtral-8x7b --hw h100-sxm --gpus 3 --tp 3 --ep 1
expect_fail 2 "tp x dp x pp must equal gpus" -- "$M" eval --model mixtral-8x7b --hw h100-sxm --gpus 8 --tp 2 --dp 2
expect_fail 2 "unknown option '--tensor-parallel'" -- "$M" eval --model mixtral-8x7b --hw h100-sxm --tensor-parallel 8
expect_fail 2 "option 'gpus' must be an integer" -- "$M" eval --model mixtral-8x7b --hw h100-sxm --gpus eight
expect_fail 2 "unknown precision 'fp6'" -- "$M" eval --model mixtral-8x7b --hw h100-sxm --precision fp6
expect_fail 2 "concurrency must be >= 1" -- "$M" eval --model mixtral-8x7b --hw h100-sxm --concurrency 0
expect_fail 2 "unknown command" -- "$M" frobnicate

# --- scenarios: errors name the line; the sandbox holds
printf 'local r = moesim.eval { model = "mixtral-8x7b", hw = "h100-sxm", tp = "two" }\n' >"$tmp/bad.lua"
expect_fail 2 "bad.lua:1: .*option 'tp' must be an integer" -- "$M" run "$tmp/bad.lua" --out "$tmp/o1"
printf 'io.open("/tmp/x", "w")\n' >"$tmp/io.lua"
expect_fail 2 "io" -- "$M" run "$tmp/io.lua" --out "$tmp/o2"
printf 'os.execute("true")\n' >"$tmp/os.lua"
expect_fail 2 "execute" -- "$M" run "$tmp/os.lua" --out "$tmp/o3"
printf 'moesim.write_csv("../escape.csv", {{a=1}})\n' >"$tmp/esc.lua"
expect_fail 2 "inside the output folder" -- "$M" run "$tmp/esc.lua" --out "$tmp/o4"
[ ! -e "$tmp/escape.csv" ] && ok || bad "write_csv escaped the output folder"

# --- sweeps and plots from Lua
cat >"$tmp/sweep.lua" <<'LUA'
local rows = moesim.sweep { base = { model = "qwen3-30b-a3b", hw = "h100-sxm", precision = "fp8" },
                            vary = { concurrency = { 1, 8, 64 }, isl = { 512, 2048 } } }
assert(#rows == 6, "6 points expected, got " .. #rows)
for _, r in ipairs(rows) do assert(r.concurrency and r.isl and r.tpot_s > 0) end
-- more users, more throughput per GPU, slower for each user
assert(rows[1].concurrency == 1 and rows[5].concurrency == 64 and rows[1].isl == rows[5].isl)
assert(rows[5].output_tokens_per_s_per_gpu > rows[1].output_tokens_per_s_per_gpu)
assert(rows[5].tpot_s > rows[1].tpot_s)
moesim.plot { rows = rows, x = "output_tokens_per_s_per_user", y = "output_tokens_per_s_per_gpu",
              by = "isl", file = "sweep.png" }
moesim.plot { rows = rows, x = "output_tokens_per_s_per_user", y = "tpot_s", file = "sweep.svg" }
print("ok")
LUA
"$M" run "$tmp/sweep.lua" --out "$tmp/sw" | grep -q '^ok$' && ok || bad "moesim.sweep scenario"
[ -s "$tmp/sw/sweep.png" ] && head -c 8 "$tmp/sw/sweep.png" | grep -q PNG && ok || bad "plot did not write a PNG"
grep -q "<svg" "$tmp/sw/sweep.svg" && ok || bad "plot did not write an SVG"
printf 'moesim.plot { rows = {{a=1,b=2}}, x = "a", y = "b", file = "x.gif" }\n' >"$tmp/plot.lua"
expect_fail 2 "must end in .png or .svg" -- "$M" run "$tmp/plot.lua" --out "$tmp/o5"

# --- disaggregated prefill and decode pools
j=$("$M" eval --model deepseek-v3 --hw h200 --gpus 8 --tp 1 --dp 8 --ep 8 --precision fp8 --concurrency 512 \
      --isl 4096 --osl 512 --prefill-gpus 8 --prefill-dp 8 --prefill-tp 1 --prefill-ep 8 --json)
echo "$j" | jq -e '.gpus == 16 and .fits and .ttft_s > 0 and .usd_per_mtok_input > 0 and has("prefill_limited") and (.breakdown | has("prefill_pool_iteration"))' >/dev/null \
  && ok || bad "disaggregated pools"
# xPyD: one prefill instance limits this 1P1D (4096-token prompts); a second one lifts the
# output until decode limits; a second decode instance instead leaves the output where the
# prefill side holds it and halves the decode side's busy share; the KV per request is
# DeepSeek-V3's MLA cache of the prompt (61 layers x (512 + 64) elements x 2 bytes of BF16
# x 4096 tokens); 16 H200s exceed the 8-GPU NVLink domain: NICs
X="eval --model deepseek-v3 --hw h200 --gpus 8 --tp 1 --dp 8 --ep 8 --precision fp8 --isl 4096 --osl 512 --prefill-gpus 8 --prefill-dp 8 --prefill-tp 1 --prefill-ep 8 --json"
a=$("$M" $X --concurrency 512)
b=$("$M" $X --concurrency 512 --prefill-instances 2)
c=$("$M" $X --concurrency 1024 --decode-instances 2)
jq -n --argjson a "$a" --argjson b "$b" --argjson c "$c" -e '
  ($a.disaggregated.limited_by == "prefill") and ($b.disaggregated.limited_by == "decode")
  and ($b.gpus == 24) and ($c.gpus == 24) and ($b.output_tokens_per_s > 1.5 * $a.output_tokens_per_s)
  and (($c.output_tokens_per_s / $a.output_tokens_per_s - 1) | fabs < 1e-9)
  and (($c.disaggregated.decode_utilization / $a.disaggregated.decode_utilization - 0.5) | fabs < 1e-9)
  and ($a.disaggregated.kv_bytes_per_request == 61 * 576 * 2 * 4096)
  and ($a.disaggregated.kv_link == "scale-out") and ($b.disaggregated.prefill_instances == 2)' >/dev/null \
  && ok || bad "xPyD eval"
# four plus four H200s sit in one 8-GPU NVLink domain: the KV moves over NVLink, faster
u=$("$M" eval --model qwen3-30b-a3b --hw h200 --gpus 4 --precision fp8 --isl 4096 --osl 256 --concurrency 64 --prefill-gpus 4 --json)
v=$("$M" eval --model qwen3-30b-a3b --hw h200 --gpus 4 --precision fp8 --isl 4096 --osl 256 --concurrency 64 --prefill-gpus 4 --decode-instances 2 --json)
jq -n --argjson u "$u" --argjson v "$v" -e '($u.disaggregated.kv_link == "scale-up") and ($v.disaggregated.kv_link == "scale-out")
  and ($u.disaggregated.kv_transfer_s < $v.disaggregated.kv_transfer_s)' >/dev/null && ok || bad "xPyD KV link"
# a one-GPU prefill pool cannot hold DeepSeek-V3: the reason names the pool
"$M" eval --model deepseek-v3 --hw h200 --gpus 8 --tp 1 --dp 8 --ep 8 --precision fp8 --prefill-gpus 1 --json \
  | jq -e '.fits == false and (.reason | startswith("prefill pool"))' >/dev/null && ok || bad "prefill pool fit"
# replicas scale totals, not per-GPU figures
a=$("$M" eval --model mixtral-8x7b --hw h200 --precision fp8 --concurrency 64 --json)
b=$("$M" eval --model mixtral-8x7b --hw h200 --precision fp8 --concurrency 256 --replicas 4 --json)
jq -n --argjson a "$a" --argjson b "$b" -e '($b.gpus == 4) and (($b.output_tokens_per_s / $a.output_tokens_per_s - 4) | fabs < 1e-9) and (($b.output_tokens_per_s_per_gpu - $a.output_tokens_per_s_per_gpu) | fabs < 1e-9)' >/dev/null \
  && ok || bad "replicas"

# --- the quickstart: runs, writes its CSV, and prints what the golden file holds
"$M" run scenarios/quickstart.lua --out "$tmp/qs" >"$tmp/qs.txt"
[ -s "$tmp/qs/quickstart.csv" ] && ok || bad "quickstart.csv not written"
[ "$(grep -vc ',calibrated/' "$tmp/qs/quickstart.csv")" -eq 16 ] && ok || bad "quickstart.csv should have 15 shipped rows and a header"
# Rows for hardware calibrated on this machine depend on the machine: the golden file holds
# the shipped hardware only, with runs of blanks squeezed (those rows widen the columns).
sed "s|$tmp/qs|OUT|" "$tmp/qs.txt" | grep -v ' calibrated/' | tr -s ' ' | sed 's/-\{2,\}/--/g' >"$tmp/qs.norm"
if diff -u tests/golden/quickstart.txt "$tmp/qs.norm" >"$tmp/diff"; then ok; else
  bad "quickstart output differs from tests/golden/quickstart.txt (if the change is intended: make golden)"
  head -40 "$tmp/diff" >&2
fi

# --precision means every weight; --dense-precision native keeps the checkpoint's (issue 14)
[ "$("$M" eval --model deepseek-v3 --hw b200 --gpus 8 --dp 8 --precision nvfp4 --json | jq -r .deployment.dense_precision)" = nvfp4 ] \
  && ok || bad "--precision nvfp4 left the dense weights in another format"
[ "$("$M" eval --model deepseek-v3 --hw b200 --gpus 8 --dp 8 --precision nvfp4 --dense-precision native --json | jq -r .deployment.dense_precision)" = fp8 ] \
  && ok || bad "--dense-precision native is not the card's native dense format"
"$M" eval --help >"$tmp/help" # whole, then searched: grep -q on a pipe may end it early (SIGPIPE under pipefail)
grep -q -- "--dense-precision.*follows --precision" "$tmp/help" && ok || bad "help does not say dense follows --precision"
# a dense model at int4 reads int4 weights: Llama 3.1 70B on an M4 Max about 8 tok/s, not 0.1
tps=$("$M" eval --model llama3.1-70b --hw m4-max --precision int4 --json | jq .output_tokens_per_s_per_user)
awk -v t="$tps" 'BEGIN { exit !(t > 4 && t < 16) }' && ok || bad "llama3.1-70b int4 on m4-max: $tps tok/s per user"
# a deployment that does not fit has no rates or costs: null, never 0
"$M" eval --model deepseek-v3 --hw rpi5 --precision int4 --json | jq -e '.fits == false and .tpot_s == null and
  .output_tokens_per_s_per_gpu == null and .usd_per_mtok_output == null and (.reason | length > 0)' >/dev/null \
  && ok || bad "a non-fitting eval reports numbers instead of null"

# a Hugging Face config.json: import-hf makes a card that loads and evaluates (issue 17); given
# as --model it is named as what it is
mkdir -p "$tmp/Mixtral-8x7B-v0.1"
cat >"$tmp/Mixtral-8x7B-v0.1/config.json" <<'JSON'
{"architectures":["MixtralForCausalLM"],"model_type":"mixtral","hidden_size":4096,"num_hidden_layers":32,
 "num_attention_heads":32,"num_key_value_heads":8,"intermediate_size":14336,"num_local_experts":8,
 "num_experts_per_tok":2,"vocab_size":32000,"tie_word_embeddings":false,"max_position_embeddings":32768}
JSON
"$M" import-hf "$tmp/Mixtral-8x7B-v0.1/config.json" --out "$tmp/mx.json" 2>/dev/null && ok || bad "import-hf failed"
jq -e '.name == "mixtral-8x7b-v0.1" and .ffn.experts == 8 and (.published.source | test("derive"))' "$tmp/mx.json" >/dev/null \
  && ok || bad "import-hf card: $(jq -c '{name, experts: .ffn.experts}' "$tmp/mx.json" 2>&1)"
"$M" eval --model "$tmp/mx.json" --hw h200 --json | jq -e '.fits and .tpot_s > 0' >/dev/null && ok || bad "imported card does not evaluate"
expect_fail 2 "is a Hugging Face config.json, not a moesim model card: convert it with .moesim models import" -- \
  "$M" eval --model "$tmp/Mixtral-8x7B-v0.1/config.json" --hw h200
# `moesim models import` is the same command; --safetensors-index checks the card's weights
# against the checkpoint's size (bf16 Mixtral: 46.7 G weights x 2 bytes = 93.4 GB)
"$M" models import "$tmp/Mixtral-8x7B-v0.1/config.json" --out "$tmp/mx2.json" 2>/dev/null && cmp -s "$tmp/mx.json" "$tmp/mx2.json" \
  && ok || bad "models import differs from import-hf"
echo '{"metadata": {"total_size": 93405585408}, "weight_map": {}}' >"$tmp/index.json"
"$M" models import "$tmp/Mixtral-8x7B-v0.1/config.json" --safetensors-index "$tmp/index.json" >/dev/null 2>"$tmp/err" \
  && grep -q "checkpoint 93.41 GB" "$tmp/err" && ok || bad "safetensors index check: $(cat "$tmp/err")"
echo '{"metadata": {"total_size": 40000000000}, "weight_map": {}}' >"$tmp/index.json"
expect_fail 2 "index.json\) holds 40 GB but the card's weights come to 93.41 GB" -- \
  "$M" models import "$tmp/Mixtral-8x7B-v0.1/config.json" --safetensors-index "$tmp/index.json"
# every public config fixture imports through the command line to the shipped card's counts
# (the field-by-field comparison is tests/unit/model/test_hf_roundtrip.c)
for cfg in "${MOESIM_HOME:-.}"/tests/fixtures/hf/*.config.json; do
  card=$(basename "$cfg" .config.json)
  "$M" models import "$cfg" --name "$card" --out "$tmp/rt.json" 2>/dev/null \
    && [ "$(jq -r .published.total_params "$tmp/rt.json")" = \
         "$("$M" models --json | jq -r --arg n "$card" '.[] | select(.name == $n) | .total_params_b * 1e9 | round')" ] \
    && ok || bad "models import $cfg: not the shipped $card's total"
done
echo '{"model_type":"llama","num_hidden_layers":2}' >"$tmp/cfg.json"
expect_fail 2 "cfg.json: field 'hidden_size' is missing" -- "$M" import-hf "$tmp/cfg.json" --name x

# aliases are listed, so the names that work can be seen (issue 17: deepseek-r1 was hidden)
"$M" models >"$tmp/models"
grep -qE "^deepseek-r1 .* deepseek-r1-zero *$" "$tmp/models" && ok || bad "moesim models hides the deepseek-r1-zero alias"

# expert imbalance (issue 15): Mixtral's card law is NVIDIA's measured 40-60% (busiest over
# idlest expert), the option gives it exactly, the basis and the busiest/mean rank are printed
j=$("$M" eval --model mixtral-8x7b --hw h100-sxm --gpus 8 --ep 8 --concurrency 64 --json)
echo "$j" | jq -e '.deployment.routing | .busiest_over_idlest_expert >= 1.4 and .busiest_over_idlest_expert <= 1.6
  and .basis == "card" and (.source | test("40-60%"))' >/dev/null && ok || bad "Mixtral default imbalance: $(echo "$j" | jq -c .deployment.routing)"
echo "$j" | jq -e '.breakdown.decode.moe.busiest_over_mean_rank >= 1' >/dev/null && ok || bad "busiest/mean rank missing"
"$M" eval --model mixtral-8x7b --hw h100-sxm --gpus 8 --ep 8 --expert-imbalance 1.5 >"$tmp/imb"
grep -q "^routing: busiest/idlest expert 1.500x expected tokens (skew 0.2141 solved from option expert_imbalance)" "$tmp/imb" \
  && grep -q "x the mean rank's tokens" "$tmp/imb" && ok || bad "--expert-imbalance 1.5: $(grep routing "$tmp/imb")"
"$M" eval --model mixtral-8x7b --hw h100-sxm --gpus 8 --ep 8 --expert-imbalance 1 --json |
  jq -e '.deployment.routing | .busiest_over_idlest_expert == 1 and .skew == 0 and .basis == "option"' >/dev/null \
  && ok || bad "--expert-imbalance 1 is uniform"
"$M" eval --model qwen3-30b-a3b --hw h200 --json | jq -e '.deployment.routing | .basis == "fallback" and .skew == 0.7
  and (.source | test("No published measurement"))' >/dev/null && ok || bad "qwen3 falls back, saying why"
# DeepSeek-V3 EP32 with EPLB and 32 redundant slots: the busiest rank near the mean, and the
# breakdown says what EPLB took away (TensorRT-LLM tech blog 4 measures 1.109x; without EPLB 2.564x)
"$M" eval --model deepseek-v3 --hw gb200-nvl72 --gpus 32 --tp 1 --dp 32 --ep 32 --eplb --redundant-experts 32 \
  --phase decode --batch 128 --context 2048 --json >"$tmp/eplb.json"
jq -e '.breakdown.decode.moe | .busiest_over_mean_rank < 1.3 and .busiest_over_mean_rank_without_eplb > 2' "$tmp/eplb.json" \
  >/dev/null && ok || bad "EPLB at EP32: $(jq -c .breakdown.decode.moe "$tmp/eplb.json")"
# --eplb-drift 0: every batch follows the statistics EPLB placed by, so the busiest rank is the
# figure the default run reports "if the batch followed" them (the same law, the same Monte Carlo),
# and the deployment and the breakdown say the sigma and that it came from the option
"$M" eval --model deepseek-v3 --hw gb200-nvl72 --gpus 32 --tp 1 --dp 32 --ep 32 --eplb --redundant-experts 32 \
  --phase decode --batch 128 --context 2048 --eplb-drift 0 --json >"$tmp/eplb0.json"
jq -e --slurpfile d "$tmp/eplb.json" '.breakdown.decode.moe.busiest_over_mean_rank ==
    $d[0].breakdown.decode.moe.busiest_over_mean_rank_if_batch_followed_eplb_statistics
  and .breakdown.decode.moe.busiest_over_mean_rank < $d[0].breakdown.decode.moe.busiest_over_mean_rank
  and (.breakdown.decode.moe | has("busiest_over_mean_rank_if_batch_followed_eplb_statistics") | not)
  and .deployment.eplb_drift == 0 and .deployment.eplb_drift_source == "option eplb_drift"
  and $d[0].deployment.eplb_drift == 0.115 and ($d[0].deployment.eplb_drift_source | test("tech blog 4"))' \
  "$tmp/eplb0.json" >/dev/null && ok || bad "--eplb-drift 0: $(jq -c .breakdown.decode.moe "$tmp/eplb0.json")"
"$M" eval --model deepseek-v3 --hw gb200-nvl72 --gpus 32 --tp 1 --dp 32 --ep 32 --eplb --redundant-experts 32 \
  --phase decode --batch 128 --context 2048 --eplb-drift 0.2 >"$tmp/eplb2.txt"
grep -qE 'busiest EP rank: .* \(EPLB, drift 0.2 from option eplb_drift; [0-9.]+x if the batch followed' "$tmp/eplb2.txt" \
  && ok || bad "--eplb-drift 0.2 breakdown: $(grep 'busiest EP' "$tmp/eplb2.txt")"
expect_fail 2 "option 'expert_imbalance' must be >= 1" -- "$M" eval --model mixtral-8x7b --hw h100-sxm --expert-imbalance 0.9

# llama-bench-shaped rows (issue 14): pp512 and tg128 for one sequence, beside llama-bench's
"$M" eval --model mixtral-8x7b --hw m4-max --precision int4 --llama-bench >"$tmp/lb"
grep -qE '^\| mixtral-8x7b int4 \| [0-9.]+ GiB \| 46.70 B \| m4-max \| pp512 \| [0-9.]+ \|$' "$tmp/lb" &&
  grep -qE '\| tg128 \| [0-9.]+ \|$' "$tmp/lb" && ok || bad "llama-bench rows: $(cat "$tmp/lb")"
"$M" eval --model mixtral-8x7b --hw m4-max --precision int4 --llama-bench --pp 256 --tg 64 --json |
  jq -e '[.[].test] == ["pp256", "tg64"] and all(.[]; .t_s > 0)' >/dev/null && ok || bad "llama-bench JSON rows"
"$M" eval --model deepseek-v3 --hw rpi5 --precision int4 --llama-bench | grep -q "| pp512 | - |" && ok \
  || bad "llama-bench on a deployment that does not fit prints a number"
expect_fail 2 "--pp must be a whole number" -- "$M" eval --model mixtral-8x7b --hw m4-max --llama-bench --pp 0
# llama-bench's -ub and -d: a prompt in micro-batches, tests after a depth, named as llama-bench names them
"$M" eval --model gpt-oss-20b --hw rtx4090 --precision mxfp4_moe --llama-bench --pp 4096 --ubatch 1024 --depth 512 --json |
  jq -e '[.[].test] == ["pp4096 @ d512", "tg128 @ d512"] and all(.[]; .n_ubatch == 1024 and .n_depth == 512)' >/dev/null \
  && ok || bad "llama-bench --ubatch/--depth JSON rows"
one=$("$M" eval --model gpt-oss-20b --hw rtx4090 --precision mxfp4_moe --llama-bench --pp 4096 --ubatch 4096 --json | jq '.[0].t_s')
four=$("$M" eval --model gpt-oss-20b --hw rtx4090 --precision mxfp4_moe --llama-bench --pp 4096 --ubatch 1024 --json | jq '.[0].t_s')
awk -v a="$one" -v b="$four" 'BEGIN { exit !(b < a) }' && ok || bad "an MoE prompt in 4 micro-batches ($four t/s) is not slower than in one ($one)"
"$M" eval --model gpt-oss-20b --hw rtx4090 --precision mxfp4_moe --llama-bench --pp 4096 --ubatch 1024 |
  grep -qE '^\| gpt-oss-20b mxfp4_moe \| [0-9.]+ GiB \| [0-9.]+ B \| rtx4090 \| 1024 \| pp4096 \| [0-9.]+ \|$' && ok \
  || bad "llama-bench markdown: an n_ubatch column where it is not the default"
expect_fail 2 "--ubatch must be a whole number of tokens per micro-batch" -- "$M" eval --model mixtral-8x7b --hw m4-max --llama-bench --ubatch 0
expect_fail 2 "--depth must be a whole number of tokens already in the cache" -- "$M" eval --model mixtral-8x7b --hw m4-max --llama-bench --depth -1
expect_fail 2 "pp 100000 in micro-batches of 8 is 12500 passes; at most 4096" -- "$M" eval --model mixtral-8x7b --hw m4-max --llama-bench --pp 100000 --ubatch 8
expect_fail 2 "--ubatch, --depth and --format go with --llama-bench" -- "$M" eval --model mixtral-8x7b --hw m4-max --ubatch 512
# --format (issue 14 item 7): csv and table carry the same rows as JSON; a reason is printed whole
"$M" eval --model mixtral-8x7b --hw m4-max --precision int4 --llama-bench --format csv >"$tmp/lb.csv"
head -1 "$tmp/lb.csv" | grep -qx 'model,size_gib,params_b,backend,gpus,test,t_s,fits' &&
  [ "$(grep -c ',true$' "$tmp/lb.csv")" = 2 ] && grep -q ',tg128,' "$tmp/lb.csv" && ok || bad "llama-bench CSV: $(cat "$tmp/lb.csv")"
"$M" eval --model mixtral-8x7b --hw m4-max --precision int4 --llama-bench --format table | grep -qE '^mixtral-8x7b int4 .* pp512 ' \
  && ok || bad "llama-bench table"
"$M" eval --model deepseek-v3 --hw rtx4090 --precision q4_k_m --experts-on cpu --host-cpu rpi5 --llama-bench \
  --format csv | grep -q ',tg128,-,false,".*could help"$' && ok || bad "llama-bench CSV of a split that does not fit: null and the whole reason"
expect_fail 2 "--format must be md, table, csv or json .got 'xml'." -- "$M" eval --model mixtral-8x7b --hw m4-max --llama-bench --format xml
expect_fail 2 "--json and --format ask for two different outputs" -- "$M" eval --model mixtral-8x7b --hw m4-max --llama-bench --json --format csv
expect_fail 2 "--format go with --llama-bench" -- "$M" eval --model mixtral-8x7b --hw m4-max --format csv

# Formats a device does not support (hwmodel 'formats', issue 18): refused, or run with --emulate
# and said so in the text and the JSON; a weight-only format (NVFP4 on Hopper: Marlin W4A16)
# runs without it and computes at 16 bits.
expect_fail 2 "mi300x .*does not support nvfp4" -- "$M" eval --model mixtral-8x7b --hw mi300x --precision nvfp4
"$M" eval --model mixtral-8x7b --hw mi300x --precision nvfp4 --emulate | grep -q "^EMULATED (--emulate): mi300x .*nvfp4 experts computed as fp8" \
  && ok || bad "--emulate text does not say EMULATED with the assumed compute type"
"$M" eval --model mixtral-8x7b --hw mi300x --precision nvfp4 --emulate --json \
  | jq -e '.deployment.emulated == "nvfp4 experts computed as fp8; nvfp4 dense layers computed as fp8" and .deployment.format_support["nvfp4 experts"] == "emulated"' >/dev/null \
  && ok || bad "--emulate JSON lacks deployment.emulated"
"$M" eval --model mixtral-8x7b --hw h200 --precision nvfp4 --json \
  | jq -e '.deployment.format_support["nvfp4 experts"] == "weight-only" and (.deployment.emulated == null)' >/dev/null \
  && ok || bad "nvfp4 on h200 should run weight-only, not emulated"
"$M" search --model mixtral-8x7b --hw mi300x,h200 --max-gpus 1 --precision nvfp4,fp8 --json \
  | jq -e '.skipped_unsupported == 1 and ([.frontier[] | select(.hw == "mi300x" and .precision == "nvfp4")] | length == 0)' >/dev/null \
  && ok || bad "search proposed nvfp4 on mi300x or did not count it skipped"

# Traffic to a monthly bill (issue 18 items 1, 2, 4): 100 / 1,000 / 10,000 requests a day give
# different answers with $/month: the self-hosted bill is the deployment's, paid idle or not,
# so its price per token falls tenfold with each tier while the hosted API's bill rises tenfold.
for n in 100 1000 10000; do
  "$M" eval --model mixtral-8x7b --hw h100-sxm --precision fp8 --isl 2000 --osl 500 --slo-ttft-s 2 --slo-tpot-s 0.05 \
    --requests-per-day $n --price spot:vast --json >"$tmp/bill$n"
done
jq -s -e '
  all(.[]; .bill.usd_per_month > 0 and .bill.replicas >= 1 and .bill.meets_slo and .price.kind == "spot"
      and .price.provider == "vast" and (.price.date | length > 0) and (.price.source | length > 0))
  and (.[0].bill.usd_per_month == .[2].bill.usd_per_month)
  and ((.[0].bill.usd_per_mtok_output_at_load / .[2].bill.usd_per_mtok_output_at_load - 100) | fabs < 1)
  and ((.[2].bill.hosted_api[0].usd_per_month / .[0].bill.hosted_api[0].usd_per_month - 100) | fabs < 1e-6)
  and (.[0].bill.usd_per_month > .[0].bill.hosted_api[0].usd_per_month)
  and (.[1].bill.peak_factor == 2.236 and .[1].bill.peak_factor_default
       and (.[1].bill.peak_factor_source | test("Azure LLM inference trace 2024")))
  and ((.[0].bill.usd_per_month - 1.49 * 730) | fabs < 0.01)' "$tmp/bill100" "$tmp/bill1000" "$tmp/bill10000" >/dev/null \
  && ok || bad "bills for 100 / 1,000 / 10,000 requests a day: $(jq -c .bill "$tmp/bill100")"
# enough traffic needs more replicas, each paid: 2,000,000 a day on one H100
"$M" eval --model mixtral-8x7b --hw h100-sxm --precision fp8 --isl 2000 --osl 500 --requests-per-day 2000000 \
  --peak-factor 3 --price on-demand --json | jq -e '.bill.replicas > 1 and .bill.peak_factor_default == false
  and (.bill.usd_per_month - .bill.replicas * 2.23 * 730 | fabs < 0.01) and .price.provider == "coreweave"' >/dev/null \
  && ok || bad "a large traffic is not sized over replicas"
"$M" eval --model mixtral-8x7b --hw h100-sxm --requests-per-day 1000 --price tco | grep -q "^price: tco, the hwmodel's \$1.31" \
  && ok || bad "--price tco does not name the hwmodel's price"
"$M" eval --model mixtral-8x7b --hw h100-sxm --precision fp8 --requests-per-day 1000 | grep -q "^hosted API for the same traffic" \
  && ok || bad "the bill does not print the hosted API beside it"
"$M" eval --model mixtral-8x7b --hw h100-sxm --requests-per-day 1000 --json | jq -e '.bill.usd_per_month == null
  and (.bill.reason | test("does not fit"))' >/dev/null && ok || bad "a bill that cannot be computed is not null with a reason"
# search ranks by what the traffic pays and prints $/month
"$M" search --model mixtral-8x7b --hw h100-sxm,h200 --max-gpus 2 --precision fp8 --isl 2000 --osl 500 \
  --slo-tpot-s 0.05 --requests-per-day 1000 --price on-demand --confirm 1 --json >"$tmp/sbill"
jq -e '.requests_per_day == 1000 and (.rate - 1000 / 86400 * 2.236 | fabs < 1e-9)
  and ([.ranked[].usd_per_month] as $m | $m == ($m | sort))
  and all(.ranked[]; .usd_per_mtok_output_at_load > 0)
  and (.prices | length == 2) and (.hosted_api | length >= 1)' "$tmp/sbill" >/dev/null \
  && ok || bad "search with a daily traffic: $(head -c 400 "$tmp/sbill")"
# search sizes each candidate for the traffic's peak: replicas = ceil(peak / what one replica
# carries within the SLO in steady state), more when the simulated p99 needs them, ranked by
# $/month; 100 / 1,000 / 10,000 a day give different answers and say why
for n in 100 1000 10000; do
  "$M" search --model qwen3-30b-a3b --hw m4-max --max-gpus 2 --isl 2000 --osl 500 --slo-ttft-s 3 --slo-tpot-s 0.1 \
    --requests-per-day $n --confirm 1 --json >"$tmp/size$n" || bad "search --requests-per-day $n failed"
  "$M" search --model qwen3-30b-a3b --hw m4-max --max-gpus 2 --isl 2000 --osl 500 --slo-ttft-s 3 --slo-tpot-s 0.1 \
    --requests-per-day $n --confirm 1 | grep -q "^answer at $n requests/day: .* so ceil(" \
    && ok || bad "search at $n requests/day does not explain its replicas"
done
jq -s -e '
  all(.[]; .met and .best as $r | $r.replicas >= 1 and $r.total_gpus == $r.replicas * $r.gpus
      and ($r.replicas >= (.rate / $r.requests_per_s_per_replica_at_slo | ceil))
      and (($r.utilization - .requests_per_day / 86400 / ($r.replicas * $r.requests_per_s_per_replica_at_slo)) | fabs < 1e-9)
      and (($r.usd_per_month - $r.usd_per_hour * 730) | fabs < 1e-6) and $r.simulated.meets_slo)
  and all(.[]; [.ranked[] | select(.slo_score <= 1) | .usd_per_month] as $m | $m == ($m | sort))
  and .[0].best.replicas == 1 and .[1].best.replicas == 1 and .[2].best.replicas >= 2
  and ((.[1].best.utilization / .[0].best.utilization - 10) | fabs < 1e-6)
  and ((.[2].best.usd_per_month - .[2].best.replicas * .[1].best.usd_per_month) | fabs < 1e-6)
  and .[0].best.usd_per_mtok_output_at_load > .[1].best.usd_per_mtok_output_at_load' \
  "$tmp/size100" "$tmp/size1000" "$tmp/size10000" >/dev/null \
  && ok || bad "search replicas for 100 / 1,000 / 10,000 a day: $(jq -c '.best' "$tmp/size10000")"
# --diurnal: a named profile or a file of 24 hourly rates sets the peak factor (peak hour / mean hour)
"$M" eval --model mixtral-8x7b --hw h100-sxm --precision fp8 --requests-per-day 1000 --diurnal azure-conv-2024 --json \
  | jq -e '(.bill.peak_factor - 1.337 | fabs) < 2e-3 and (.bill.peak_factor_source | test("conversation"))' >/dev/null \
  && ok || bad "--diurnal azure-conv-2024 does not set the peak factor"
seq 1 24 >"$tmp/day.txt"
"$M" eval --model mixtral-8x7b --hw h100-sxm --precision fp8 --requests-per-day 1000 --diurnal "$tmp/day.txt" --json \
  | jq -e '(.bill.peak_factor - 24 / 12.5 | fabs) < 1e-9' >/dev/null && ok || bad "--diurnal FILE: peak factor not 24 / 12.5"
expect_fail 2 "option 'replicas' is sized from 'requests_per_day'" -- "$M" search --model mixtral-8x7b --hw h100-sxm \
  --slo-tpot-s 0.05 --requests-per-day 1000 --replicas 2
# --- moesim compare: two systems, their frontiers with a layout per point, ratios at matched
# interactivity, an answer written from the numbers (MTP off and aggregated only, to stay quick)
"$M" compare --model deepseek-r1 --hw "HGX H200=h200:8,gb200-nvl72" --mtp 0 --no-disagg --isl 1024 --osl 1024 \
  --json >"$tmp/cmp.json" && ok || bad "compare failed"
jq -e '.systems[0].name == "HGX H200" and .systems[0].gpus == 8 and .systems[1].gpus == 72
       and (.systems[0].definition | test("h200 x 8 = 8 x NVIDIA H200.*domain of 8"))
       and (.systems[1].definition | test("gb200-nvl72 x 72 = 72 x .*domain of 72"))' "$tmp/cmp.json" >/dev/null \
  && ok || bad "compare: system definitions (name, gpus, devices and domain) missing"
jq -e '[.systems[].frontier[] | select((.layout | test("^tp[0-9]+ ep[0-9]+ dp[0-9]+")) | not)] | length == 0' \
  "$tmp/cmp.json" >/dev/null && ok || bad "compare: a frontier point without its layout"
# a 72-GPU instance needs EP over every rank, which takes redundant experts (256 + 32 = 288 = 72 x 4)
jq -e '[.systems[1].frontier[] | select(.instance_gpus == 72)] | all(.redundant_experts == 0 or ((256 + .redundant_experts) % .ep == 0))' \
  "$tmp/cmp.json" >/dev/null && ok || bad "compare: redundant experts do not make the expert slots divide"
jq -e '[.systems[].frontier[] | .instance_gpus as $g | select(($g | . as $x | 8 % $x != 0) and ($g | . as $x | 72 % $x != 0))] | length == 0' \
  "$tmp/cmp.json" >/dev/null && ok || bad "compare: an instance that does not divide its system"
jq -e '[.levels[] | select(.ratio_tps_gpu != null)] | length >= 3 and
       all(.ratio_tps_gpu > 0 and (.b_tps_gpu / .a_tps_gpu - .ratio_tps_gpu | fabs) < 1e-9 * .ratio_tps_gpu
           and (.a_layout | test("^tp")) and (.b_layout | test("^tp")))' "$tmp/cmp.json" >/dev/null \
  && ok || bad "compare: level ratios are not B / A or lack layouts"
jq -e '[.levels[] | select(.ratio_tps_gpu == null)] | all(.a_layout == "out of reach" or .b_layout == "out of reach")' \
  "$tmp/cmp.json" >/dev/null && ok || bad "compare: a level without a ratio is not marked out of reach"
# the answer quotes the table: its best ratio is the table's
best=$(jq -r '[.levels[].ratio_tps_gpu | select(. != null)] | max | . * 100 | round / 100' "$tmp/cmp.json")
jq -r .answer "$tmp/cmp.json" | grep -qE "(at most|best, at|to) $(printf '%.2g' "$best")x" \
  && ok || bad "compare: the answer does not quote the best ratio ($best): $(jq -r .answer "$tmp/cmp.json")"
"$M" compare --model deepseek-r1 --hw h200,gb200-nvl72 --mtp 0 --no-disagg --isl 1024 --osl 1024 >"$tmp/cmp.txt" \
  && grep -q "^  h200 x 8: h200 x 8 = 8 x " "$tmp/cmp.txt" && grep -q "^answer: gb200-nvl72 x 72 " "$tmp/cmp.txt" \
  && grep -q "a_layout" "$tmp/cmp.txt" && ok || bad "compare text: definitions, level table or answer missing"
# a claim met everywhere: said so, from the numbers
"$M" compare --model deepseek-r1 --hw h200,gb200-nvl72 --mtp 0 --no-disagg --claim 1 --json \
  | jq -r .answer | grep -q "1x or more the output tokens/s per GPU of h200 x 8 at every matched" \
  && ok || bad "compare --claim 1: the answer does not say the claim holds everywhere"
# MTP: the card's depths are searched and named per point
"$M" compare --model deepseek-r1 --hw h200,b200 --mtp 0,2 --no-disagg --json \
  | jq -e '[.systems[].frontier[].spec_tokens] | any(. == 2)' >/dev/null \
  && ok || bad "compare --mtp 0,2: no frontier point uses MTP 2"
# "native" is the checkpoint as shipped, class by class (Kimi K2 Thinking: INT4 routed experts,
# BF16 shared expert): named by the routed experts' format and flagged; it joins the default list
"$M" compare --model kimi-k2-thinking --hw h200,b200 --precision native --mtp 0 --no-disagg --concurrency-per-gpu 16 \
  --json | jq -e '[.systems[].frontier[]] | length > 0 and all(.native_formats and .precision == "int4_g32"
                  and (.layout | test(" int4_g32 native")))' >/dev/null \
  && ok || bad "compare --precision native: frontier points not at the checkpoint's formats"
"$M" compare --model kimi-k2-thinking --hw h200,b200 --mtp 0 --no-disagg --concurrency-per-gpu 16 \
  | grep -q "weight formats fp8, nvfp4, native where" && ok || bad "compare: native is not in the default list"

# EAGLE-3 head (--spec-method eagle3): k passes of one head (one dense layer, its 3h -> h
# fusion, the LM head), a verify step of k+1 rows per sequence, TPOT = step / accepted tokens.
# Memory adds the head by hand: Llama 3.1 70B (h 8192, 64 heads, 8 KV heads of 128, FFN 28672):
# attention 8192 x (8192 + 2 x 1024) + 8192^2 = 150994944, fusion 3 x 8192^2 = 201326592,
# FFN 3 x 8192 x 28672 = 704643072; FP8 with a 4-byte scale per 128x128 block, over TP 4:
# 1056964608 x (1 + 4/16384) / 4 = 264305664 bytes.
E3=(eval --model llama3.1-70b --hw h100-sxm --gpus 4 --precision fp8 --json)
"$M" "${E3[@]}" >"$tmp/e3_0.json"
"$M" "${E3[@]}" --spec-method eagle3 --spec-tokens 1 --spec-accept 1.5 >"$tmp/e3_1.json"
"$M" "${E3[@]}" --spec-method eagle3 --spec-tokens 3 --spec-accept 2.5 >"$tmp/e3_3.json"
jq -e -s '(.[1].memory.weights_bytes - .[0].memory.weights_bytes) == 264305664' "$tmp/e3_0.json" "$tmp/e3_1.json" \
  >/dev/null && ok || bad "eagle3: memory should add the head's 264305664 bytes per GPU"
jq -e -s '.[1].speculative as $a | .[2].speculative as $b | $b.method == "eagle3" and $b.verify_tokens_per_sequence == 4
          and (($b.draft_s / $a.draft_s) - 3 | fabs) < 1e-9 and $b.verify_s > .[0].tpot_s and $b.draft_s > 0
          and ((.[2].tpot_s * 2.5 / ($b.verify_s + $b.draft_s)) - 1 | fabs) < 1e-6' \
  "$tmp/e3_0.json" "$tmp/e3_1.json" "$tmp/e3_3.json" >/dev/null \
  && ok || bad "eagle3: 3 draft tokens should cost 3 head passes plus a 4-row verify step, TPOT per accepted token"

# The MTP module is in memory only while it drafts (engines load it for speculative decoding
# only: deploy.c sim_deploy_mtp_drafts). DeepSeek-V3 by hand (h 7168, TP 8, EP 8, FP8 with a
# 4-byte scale per 128x128 block = 1 + 4/16384 bytes, router and norms BF16): MLA attention
# 7168x1536 + 1536 + 1536x128x192 + 7168x576 + 512 + 512x128x256 + 128x128x7168 = 187107328 / 8,
# routed experts 256 x 3 x 7168 x 2048 / 8 = 1409286144, shared expert 3 x 7168 x 2048 / 8 =
# 5505024, eh_proj 2 x 7168^2 / 8 = 12845056: 1450024512 x (1 + 4/16384); router 256 x 7168 and
# five norms of 7168 x 2 bytes: 1455120590.0625 bytes per GPU (the module: 11.61B weights;
# DeepSeek's README_WEIGHTS: 11.5B unique).
MT=(eval --model deepseek-v3 --hw h200 --gpus 8 --json)
"$M" "${MT[@]}" >"$tmp/mtp0.json"
"$M" "${MT[@]}" --spec-tokens 1 >"$tmp/mtp1.json"
jq -e -s '(.[1].memory.weights_bytes - .[0].memory.weights_bytes - 1455120590.0625 | fabs) < 1e-3
          and .[1].memory.mtp_weights_bytes == 1455120590.0625 and (.[0].memory | has("mtp_weights_bytes") | not)' \
  "$tmp/mtp0.json" "$tmp/mtp1.json" >/dev/null && ok || bad "mtp: memory should add the module's 1455120590.0625 bytes per GPU while it drafts, and only then"

echo "cli: $pass passed, $fail failed"
[ "$fail" -eq 0 ]
