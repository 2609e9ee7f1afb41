#!/usr/bin/env bash
# test_bad_input.sh: the bad-input catalogue. Each class of bad input (malformed, wrong type,
# missing, null, NaN/Inf, negative, zero, huge, unknown name, impossible parallelism,
# oversized, unreadable path) fed into each input (model card, hwmodel, trace, eval, serve and
# search options) must exit 2 with a message naming the field, and never crash, hang or print
# a result. One table row per case: class | pattern the message must match | command.
set -euo pipefail
HOME_DIR=${MOESIM_HOME:-.}
. "$(dirname "$0")/lib.sh"

card="$HOME_DIR/scenarios/models/mixtral-8x7b.json"
hwm="$HOME_DIR/hwmodels/h200.json"
mk_card() { jq "$1" "$card" >"$tmp/$2.json"; }
mk_hw() { jq "$1" "$hwm" >"$tmp/$2.json"; }

# --- files made for the table
printf '{ "name": "broken",\n  "layers": 4,\n  "attention": {\n' >"$tmp/m_malformed.json"
mk_card '.attention.heads = "eight"' m_type
mk_card 'del(.layers)' m_missing
mk_card '.attention.heads = null' m_null
mk_card '.layers = -4' m_negative
mk_card '.ffn.experts = 0' m_zero
mk_card '.layers = 1e12' m_huge
mk_card '.wings = 2' m_unknown
mk_card '.ffn.top_k = 8 | del(.routing)' m_topall
mk_card '.routing.imbalance = 0.7' m_imbalance
mk_card '.routing.skew = 0.5' m_both
mk_card '.speculative = {"accepted_tokens": [1.9], "source": "a test"}' m_spec_nomtp
mk_card '.native_precision.shared_experts = "bf16"' m_shared_noshared
mk_card '.native_precision.shared_experts = "int3"' m_shared_fmt
jq '.speculative.accepted_tokens[1] = 3.5' "$HOME_DIR/scenarios/models/deepseek-r1.json" >"$tmp/m_spec_range.json"
nano="$HOME_DIR/scenarios/models/nemotron-3-nano.json"
jq '.hybrid.mixers = "SA"' "$nano" >"$tmp/m_hybrid_short.json"
jq '.hybrid.ssm.heads = "64"' "$nano" >"$tmp/m_hybrid_type.json"
jq '.hybrid.ssm.chunk = 0' "$nano" >"$tmp/m_hybrid_zero.json"
cp "$hwm" "$tmp/h_malformed.json" && printf '{{' >>"$tmp/h_malformed.json"
mk_hw '.memory.tiers[0].bandwidth_gbs = "fast"' h_type
mk_hw 'del(.memory)' h_missing
mk_hw '.memory.tiers[0].bandwidth_gbs = null' h_null
mk_hw '.compute.tflops.bf16 = -1' h_negative
mk_hw '.compute.tflops.bf16 = 0' h_zero
mk_hw '.compute.sms = 131.5' h_sms_frac
mk_hw '.compute.sms = -4' h_sms_neg
mk_hw '.memory.tiers[0].bandwidth_gbs = 1e-300' h_tiny
mk_hw '.memory.tiers[0].capacity_gb = 1e300' h_huge
mk_hw '.efficiency.dequant_gelem_s = {"q4_k_m": 5}' h_recipe
mk_hw '.efficiency.dequant_measured = "int4_g32"' h_dqm_type
mk_hw '.efficiency.dequant_gelem_s = {"int4": 5} | .efficiency.dequant_measured = ["int4_g32", "fp6"]' h_dqm_unknown
mk_hw '.efficiency.dequant_gelem_s = {"int4": 5} | .efficiency.dequant_measured = ["nvfp4"]' h_dqm_norate
mk_hw '.formats.native += ["fp6"]' h_fmt_unknown
mk_hw 'del(.formats.source)' h_fmt_nosource
mk_hw '.formats.weight_only += ["fp8"]' h_fmt_twice
xeon="$HOME_DIR/hwmodels/xeon-8480-2s.json"
jq '.numa.sockets = 0' "$xeon" >"$tmp/h_numa_zero.json"
jq 'del(.numa.link_gbs)' "$xeon" >"$tmp/h_numa_nolink.json"
mk_hw '.numa = {"source": "s", "sockets": 2, "link_gbs": 100}' h_numa_gpu
printf '0,1024,256\nx,y\n' >"$tmp/t_malformed.csv"
printf '0,1024,256\n1,many,5\n' >"$tmp/t_type.csv"
printf 'arrival_s,input_tokens,output_tokens\n' >"$tmp/t_empty.csv"
printf '0,1024,256\n-1,5,5\n' >"$tmp/t_negative.csv"
printf '0,1024,256\n1,0,5\n' >"$tmp/t_zero.csv"
printf '0,1024,256\n1,1e12,5\n' >"$tmp/t_huge.csv"
printf '0,1024,256\n1,nan,5\n' >"$tmp/t_nan.csv"
mkdir -p "$tmp/unreadable"

E=(eval --model mixtral-8x7b --hw h200)
R=(eval --model deepseek-r1 --hw b200 --gpus 8)
S=(serve --model mixtral-8x7b --hw h200 --rate 1 --requests 20)
T=(serve --model mixtral-8x7b --hw h200 --requests 20)
cases=(
  # class        | message pattern                                          | arguments (one per line after the first two fields, split on '|')
  "malformed     |m_malformed.json:[0-9]+:[0-9]+: malformed JSON            |eval --model $tmp/m_malformed.json --hw h200"
  "wrong type    |field 'attention.heads' must be an integer               |eval --model $tmp/m_type.json --hw h200"
  "missing       |field 'layers' is missing                                 |eval --model $tmp/m_missing.json --hw h200"
  "null          |field 'attention.heads' must be an integer \(got null\)  |eval --model $tmp/m_null.json --hw h200"
  "negative      |field 'layers'                                            |eval --model $tmp/m_negative.json --hw h200"
  "zero          |experts                                                   |eval --model $tmp/m_zero.json --hw h200"
  "huge          |field 'layers' must be an integer                         |eval --model $tmp/m_huge.json --hw h200"
  "unknown field |unknown field 'wings'                                     |eval --model $tmp/m_unknown.json --hw h200"
  "unknown name  |unknown model 'mixtral-9x7b'; did you mean                |eval --model mixtral-9x7b --hw h200"
  "oversized     |/dev/zero: larger than 64 MiB                             |eval --model /dev/zero --hw h200"
  "unreadable    |nonexistent.json: cannot open                             |eval --model $tmp/nonexistent.json --hw h200"
  "unreadable    |unreadable: is a folder, not a file                      |eval --model $tmp/unreadable --hw h200"
  "malformed     |h_malformed.json:[0-9]+:[0-9]+:                           |eval --model mixtral-8x7b --hw $tmp/h_malformed.json"
  "wrong type    |field 'memory.tiers\[0\].bandwidth_gbs' must be a number  |eval --model mixtral-8x7b --hw $tmp/h_type.json"
  "missing       |memory                                                    |eval --model mixtral-8x7b --hw $tmp/h_missing.json"
  "null          |field 'memory.tiers\[0\].bandwidth_gbs' must be a number \(got null\) |eval --model mixtral-8x7b --hw $tmp/h_null.json"
  "negative      |field 'compute.tflops.bf16' is -1                         |eval --model mixtral-8x7b --hw $tmp/h_negative.json"
  "zero          |field 'compute.tflops.bf16' is 0                          |eval --model mixtral-8x7b --hw $tmp/h_zero.json"
  "sms fraction  |field 'compute.sms' is 131.5 \(expected a whole number    |eval --model mixtral-8x7b --hw $tmp/h_sms_frac.json"
  "sms negative  |field 'compute.sms' is -4                                 |eval --model mixtral-8x7b --hw $tmp/h_sms_neg.json"
  "tiny          |field 'memory.tiers\[0\].bandwidth_gbs' is 1e-300         |eval --model mixtral-8x7b --hw $tmp/h_tiny.json"
  "huge          |field 'memory.tiers\[0\].capacity_gb' is 1e\+300          |eval --model mixtral-8x7b --hw $tmp/h_huge.json"
  "unknown name  |unknown hardware 'h201'; did you mean                     |eval --model mixtral-8x7b --hw h201"
  "oversized     |/dev/zero: larger than 64 MiB                             |eval --model mixtral-8x7b --hw /dev/zero"
  "wrong type    |option 'gpus' must be an integer                          |${E[*]} --gpus eight"
  "NaN           |option 'isl' must be a finite number                      |${E[*]} --isl nan"
  "Inf           |option 'osl' must be a finite number                      |${E[*]} --osl inf"
  "negative      |option 'usd_per_gpu_hour' must be >= 0                    |${E[*]} --usd-per-gpu-hour -5"
  "negative      |option 'usd_per_kwh' must be >= 0                         |${E[*]} --owned --usd-per-kwh -1"
  "negative      |option 'skew' must be >= 0                                |${E[*]} --skew -1"
  "below range   |option 'expert_imbalance' must be >= 1 \(got 0.5\)        |${E[*]} --expert-imbalance 0.5"
  "zero          |option 'expert_imbalance' must be >= 1                    |${E[*]} --expert-imbalance 0"
  "NaN           |option 'expert_imbalance' must be a finite number         |${E[*]} --expert-imbalance nan"
  "Inf           |option 'expert_imbalance' must be a finite number         |${E[*]} --expert-imbalance inf"
  "conflicting   |options 'skew' and 'expert_imbalance' both given          |${E[*]} --skew 0.5 --expert-imbalance 1.5"
  "above range   |option 'eplb_drift' must be <= 2 \(got 2.5\)               |${E[*]} --eplb --eplb-drift 2.5"
  "negative      |option 'eplb_drift' must be >= 0                          |${E[*]} --eplb --eplb-drift -0.1"
  "NaN           |option 'eplb_drift' must be a finite number               |${E[*]} --eplb --eplb-drift nan"
  "impossible    |option 'eplb_drift' needs EPLB: give 'eplb'               |${E[*]} --eplb-drift 0.2"
  "impossible    |option 'eplb_drift' needs EPLB                            |serve --model mixtral-8x7b --hw h200 --rate 1 --requests 20 --eplb-drift 0"
  "impossible    |option 'eplb_drift' needs EPLB                            |search --model mixtral-8x7b --hw h200 --max-gpus 1 --eplb-drift 0"
  "impossible    |cannot be: every token reaches all 8 experts              |eval --model $tmp/m_topall.json --hw h200 --expert-imbalance 2"
  "out of range  |field 'routing.imbalance' must be a finite ratio >= 1     |eval --model $tmp/m_imbalance.json --hw h200"
  "conflicting   |'routing.imbalance' and 'routing.skew' are both set       |eval --model $tmp/m_both.json --hw h200"
  "negative      |parallel degrees and gpus must be positive|option 'tp' must be >= 0 |${E[*]} --tp -2"
  "zero          |concurrency must be >= 1                                  |${E[*]} --concurrency 0"
  "zero          |isl and osl must be >= 1                                  |${E[*]} --isl 0"
  "huge          |option 'isl' must be <= 1e\+08                            |${E[*]} --isl 1e12"
  "huge          |option 'pue' must be <= 5                                 |${E[*]} --pue 50"
  "huge          |option 'concurrency' must be <= 1e\+09                    |${E[*]} --concurrency 1e12"
  "impossible    |tp \(3\) must divide the attention heads                  |${E[*]} --tp 3"
  "impossible    |65536 x 65536 x 1 = 4294967296|parallel degrees too large |${E[*]} --tp 65536 --dp 65536"
  "impossible    |ep \(3\) must divide the expert slots                     |${E[*]} --gpus 3 --dp 3 --ep 3"
  "unknown name  |unknown precision 'fp6'                                   |${E[*]} --precision fp6"
  "unknown name  |option 'engine': unknown 'tgi' \(one of vllm, sglang, trtllm\)|${E[*]} --engine tgi"
  "huge          |option 'mem_fraction' must be <= 1                        |${E[*]} --engine vllm --mem-fraction 1.5"
  "negative      |option 'mem_fraction' must be >= 0                        |${E[*]} --engine vllm --mem-fraction -0.1"
  "impossible    |mem_fraction is the fraction of an engine                 |${E[*]} --mem-fraction 0.8"
  "impossible    |engine: vllm's memory accounting is for GPUs              |eval --model mixtral-8x7b --hw m4-max --engine vllm"
  "unknown name  |unknown precision 'q9_k'.*q3_k_s.*q4_k_m.*iq4_xs           |${E[*]} --precision q9_k"
  "unknown name  |unknown precision 'q4_k_x'.*mxfp4_moe                      |${E[*]} --dense-precision q4_k_x"
  "unknown name  |'kv_precision': 'q4_k_m' is a GGUF file recipe              |${E[*]} --kv-precision q4_k_m"
  "unknown name  |'dispatch_precision': 'q3_k_s' is a GGUF file recipe        |${E[*]} --dispatch-precision q3_k_s"
  "unknown name  |h_recipe.json: unknown field 'efficiency.dequant_gelem_s.q4_k_m'|eval --model mixtral-8x7b --hw $tmp/h_recipe.json"
  "wrong type    |h_dqm_type.json: field 'efficiency.dequant_measured' must be an array|eval --model mixtral-8x7b --hw $tmp/h_dqm_type.json"
  "unknown name  |h_dqm_unknown.json: an entry of 'efficiency.dequant_measured' is not a storage format|eval --model mixtral-8x7b --hw $tmp/h_dqm_unknown.json"
  "impossible    |h_dqm_norate.json: 'efficiency.dequant_measured' lists nvfp4, which has no rate|eval --model mixtral-8x7b --hw $tmp/h_dqm_norate.json"
  "unknown name  |h_fmt_unknown.json: field 'formats.native' has unknown format 'fp6'|eval --model mixtral-8x7b --hw $tmp/h_fmt_unknown.json"
  "missing       |h_fmt_nosource.json.*formats.*source                        |eval --model mixtral-8x7b --hw $tmp/h_fmt_nosource.json"
  "impossible    |h_fmt_twice.json: field 'formats': 'fp8' is listed twice    |eval --model mixtral-8x7b --hw $tmp/h_fmt_twice.json"
  "unsupported   |mi300x .*does not support nvfp4 \(experts\).*weight-only mxfp4 gguf.*--emulate|eval --model mixtral-8x7b --hw mi300x --precision nvfp4"
  "unsupported   |laptop-ddr5 .*does not support fp8 \(KV cache\)           |eval --model mixtral-8x7b --hw laptop-ddr5 --precision int4 --kv-precision fp8"
  "unsupported   |does not support nvfp4                                      |serve --model mixtral-8x7b --hw mi300x --precision nvfp4 --rate 1 --requests 20"
  "unsupported   |formats the hardware does not support.*--emulate            |search --model mixtral-8x7b --hw mi300x --max-gpus 2 --precision nvfp4"
  "unknown name  |option 'experts_on': unknown 'disk' \(one of gpu, cpu\)   |eval --model qwen3-30b-a3b --hw rtx4090 --experts-on disk --host-cpu ryzen-7950x"
  "conflicting   |'experts_on' and 'cpu_moe_layers' both given              |eval --model qwen3-30b-a3b --hw rtx4090 --experts-on cpu --cpu-moe-layers 4 --host-cpu ryzen-7950x"
  "missing       |name the host CPU that computes them with --host-cpu      |eval --model qwen3-30b-a3b --hw rtx4090 --experts-on cpu"
  "unknown name  |option 'host_cpu'.*nohost                                 |eval --model qwen3-30b-a3b --hw rtx4090 --experts-on cpu --host-cpu nohost"
  "impossible    |--host-cpu h100-sxm: a host CPU must be a hwmodel of class cpu|eval --model qwen3-30b-a3b --hw rtx4090 --experts-on cpu --host-cpu h100-sxm"
  "impossible    |ryzen-7950x is not a GPU with a host DRAM tier            |eval --model qwen3-30b-a3b --hw ryzen-7950x --experts-on cpu --host-cpu laptop-ddr5"
  "impossible    |beside one GPU.*gpus = 2                                  |eval --model qwen3-30b-a3b --hw h100-sxm --gpus 2 --experts-on cpu --host-cpu ryzen-7950x"
  "impossible    |llama3.1-8b is a dense model                              |eval --model llama3.1-8b --hw rtx4090 --experts-on cpu --host-cpu ryzen-7950x"
  "impossible    |'cpu_moe_runtime' needs experts on the CPU                |eval --model qwen3-30b-a3b --hw rtx4090 --cpu-moe-runtime ktransformers"
  "unknown name  |option 'cpu_moe_runtime': unknown 'vllm'                  |eval --model qwen3-30b-a3b --hw rtx4090 --cpu-moe-layers 4 --host-cpu ryzen-7950x --cpu-moe-runtime vllm"
  "impossible    |option 'gguf_file_gib': a 2.00 GiB file leaves            |eval --model qwen3-30b-a3b --hw rpi5 --precision q3_k_s --gguf-file-gib 2"
  "impossible    |option 'gguf_bpw' describes a GGUF file                   |eval --model qwen3-30b-a3b --hw rpi5 --gguf-bpw 2.7"
  "impossible    |option 'gguf_file_gib': a GGUF file's size needs a GGUF   |eval --model qwen3-30b-a3b --hw rpi5 --precision fp8 --gguf-file-gib 9.58"
  "impossible    |option 'gguf_file_gib': llama3.1-8b has no routed experts |eval --model llama3.1-8b --hw rpi5 --precision q4_k_m --gguf-file-gib 4"
  "impossible    |options 'gguf_file_gib' and 'gguf_bpw' both given         |eval --model qwen3-30b-a3b --hw rpi5 --precision q3_k_s --gguf-file-gib 9.58 --gguf-bpw 2.7"
  "negative      |option 'gguf_file_gib' must be >= 0                       |eval --model qwen3-30b-a3b --hw rpi5 --precision q3_k_s --gguf-file-gib -1"
  "huge          |option 'gguf_bpw' must be <= 32                           |eval --model qwen3-30b-a3b --hw rpi5 --precision q3_k_s --gguf-bpw 40"
  "unknown name  |option 'runtime': unknown 'vllm'                          |eval --model qwen3-30b-a3b --hw ryzen-7950x --precision q4_k_m --runtime vllm"
  "unknown name  |option 'numa': unknown 'mirror' \(one of interleave, duplicate, single\)|eval --model qwen3-30b-a3b --hw xeon-8480-2s --numa mirror"
  "impossible    |option 'numa' \(duplicate\) needs a multi-socket CPU: ryzen-7950x|eval --model qwen3-30b-a3b --hw ryzen-7950x --numa duplicate"
  "impossible    |option 'numa' \(single\) needs a multi-socket CPU: rtx4090 and its host ryzen-7950x|eval --model qwen3-30b-a3b --hw rtx4090 --experts-on cpu --host-cpu ryzen-7950x --numa single"
  "zero          |field 'numa.sockets' is 0                                 |eval --model qwen3-30b-a3b --hw $tmp/h_numa_zero.json"
  "missing       |field 'numa.link_gbs' is missing                          |eval --model qwen3-30b-a3b --hw $tmp/h_numa_nolink.json"
  "impossible    |field 'numa' is given for a gpu model                     |eval --model qwen3-30b-a3b --hw $tmp/h_numa_gpu.json"
  "negative      |option 'cpu_moe_layers' must be >= 0                      |eval --model qwen3-30b-a3b --hw rtx4090 --cpu-moe-layers -1 --host-cpu ryzen-7950x"
  "unsupported   |host CPU ryzen-7950x does not run fp8 experts             |eval --model deepseek-v3 --hw rtx4090 --experts-on cpu --host-cpu ryzen-7950x"
  "zero          |option 'prefill_instances' must be >= 1                    |${E[*]} --prefill-gpus 1 --prefill-instances 0"
  "negative      |option 'decode_instances' must be >= 1                     |${E[*]} --prefill-gpus 1 --decode-instances -2"
  "impossible    |'prefill_instances' and 'decode_instances' need a prefill pool|${E[*]} --decode-instances 2"
  "unknown name  |unknown option '--tensor-parallel'                        |${E[*]} --tensor-parallel 8"
  "unknown name  |option 'phase' must be prefill or decode                  |${E[*]} --phase both --batch 1 --context 10"
  "impossible    |option 'batch' goes with 'phase'.*for serving give 'concurrency' |${E[*]} --batch 32"
  "impossible    |option 'context' goes with 'phase'.*for serving give 'isl' and 'osl' |${E[*]} --context 2048"
  "impossible    |option 'spec_tokens' goes with phase decode: speculative decoding drafts and verifies decode steps |${R[*]} --phase prefill --batch 2 --context 1024 --spec-tokens 1"
  "impossible    |option 'draft_model' goes with phase decode           |eval --model llama3.1-70b --hw h100-sxm --gpus 4 --phase prefill --batch 1 --context 512 --draft-model llama3.1-8b"
  "impossible    |option 'isl' goes with serving .*not with 'phase'      |${E[*]} --phase decode --batch 8 --context 1024 --isl 1024"
  "impossible    |option 'concurrency' goes with serving .*not with 'phase' |${E[*]} --phase decode --batch 8 --context 1024 --concurrency 8"
  "impossible    |option 'rate' goes with serving .*not with 'phase'     |${E[*]} --phase decode --batch 8 --context 1024 --rate 2"
  "impossible    |option 'prefix_hit' goes with serving, not with 'phase' |${E[*]} --phase prefill --batch 8 --context 1024 --prefix-hit 0.5"
  "impossible    |option 'requests_per_hour' goes with serving, not with 'phase', which reports time and tokens/s, no cost |${E[*]} --phase decode --batch 8 --context 1024 --requests-per-hour 100"
  "impossible    |option 'usd_per_gpu_hour' goes with serving, not with 'phase' |${E[*]} --phase decode --batch 8 --context 1024 --usd-per-gpu-hour 2"
  "impossible    |option 'prefill_gpus' describes disaggregated serving's prefill pool, not 'phase', which evaluates one deployment |${E[*]} --phase decode --batch 8 --context 1024 --prefill-gpus 2"
  "impossible    |option 'rate' goes with serve \(the request-level simulation\); eval is the steady state |${E[*]} --rate 2"
  "impossible    |option 'block_size' goes with serve                   |${E[*]} --block-size 32"
  "impossible    |option 'slo_ttft_s' goes with 'requests_per_day' or 'requests_per_hour' in eval |${E[*]} --slo-ttft-s 1"
  "impossible    |option 'batch' does not go with llama-bench's tests   |eval --model qwen3-30b-a3b --hw rtx4090 --precision q4_k_m --llama-bench --batch 4"
  "impossible    |option 'isl' goes with serving .*not with llama-bench's tests |eval --model qwen3-30b-a3b --hw rtx4090 --precision q4_k_m --llama-bench --isl 100"
  "impossible    |option 'spec_tokens' goes with eval or eval --phase decode: llama-bench's tg test |eval --model qwen3-30b-a3b --hw rtx4090 --precision q4_k_m --llama-bench --spec-tokens 1 --spec-accept 1.5"
  "impossible    |serve: option 'batch' describes one step of eval      |${S[*]} --batch 8"
  "impossible    |serve: option 'phase' describes one step of eval      |${S[*]} --phase decode"
  "impossible    |search: option 'context' describes one step of eval   |search --model mixtral-8x7b --hw h200 --max-gpus 1 --context 2048"
  "malformed     |t_malformed.csv:2:1: expected 3 columns                   |${T[*]} --trace $tmp/t_malformed.csv"
  "wrong type    |t_type.csv:2:3: input_tokens                              |${T[*]} --trace $tmp/t_type.csv"
  "missing       |t_empty.csv: the trace holds no requests                  |${T[*]} --trace $tmp/t_empty.csv"
  "negative      |t_negative.csv:2:1: arrival_s must be >= 0                |${T[*]} --trace $tmp/t_negative.csv"
  "zero          |t_zero.csv:2:3: input_tokens must be a whole number       |${T[*]} --trace $tmp/t_zero.csv"
  "huge          |t_huge.csv:2:3: input_tokens                              |${T[*]} --trace $tmp/t_huge.csv"
  "NaN           |t_nan.csv:2:3: input_tokens                               |${T[*]} --trace $tmp/t_nan.csv"
  "oversized     |/dev/zero: larger than 256 MiB                            |${T[*]} --trace /dev/zero"
  "unreadable    |nonexistent.csv: cannot open                              |${T[*]} --trace $tmp/nonexistent.csv"
  "NaN           |option 'rate' must be a finite number                     |${S[*]} --rate nan"
  "negative      |option 'rate' must be a positive number                   |serve --model mixtral-8x7b --hw h200 --rate -2"
  "zero          |option 'rate' must be a positive number                   |serve --model mixtral-8x7b --hw h200 --rate 0"
  "huge          |option 'rate' must be <= 1e\+09                           |serve --model mixtral-8x7b --hw h200 --rate 1e20"
  "negative      |option 'requests' must be >= 1                            |${S[*]} --requests -5"
  "huge          |option 'prefix_hit' must be <= 0.999999                   |${S[*]} --prefix-hit 1"
  "zero          |option 'spec_accept' must be >= 1                         |${S[*]} --spec-accept 0"
  "out of range  |option 'spec_accept' \(accepted tokens per step per sequence\) must be in \[1, spec_tokens \+ 1 = 4\] \(got 4.5\) |${R[*]} --spec-tokens 3 --spec-accept 4.5"
  "out of range  |option 'spec_accept' .*must be in \[1, spec_tokens \+ 1 = 1\] |${R[*]} --spec-accept 2"
  "out of range  |option 'spec_accept' must be >= 1 \(got 0.5\)             |${R[*]} --spec-tokens 1 --spec-accept 0.5"
  "out of range  |option 'spec_accept' .*must be in \[1, spec_tokens \+ 1 = 2\] |search --model deepseek-r1 --hw b200 --min-gpus 8 --max-gpus 8 --spec-tokens 1 --spec-accept 2.5"
  "out of range  |option 'prefix_hit' must be <= 0.999999 \(got 1\)         |${R[*]} --prefix-hit 1"
  "negative      |option 'prefix_hit' must be >= 0                          |${R[*]} --prefix-hit -0.2"
  "out of range  |option 'prefix_hit' must be <= 0.999999                   |search --model deepseek-r1 --hw b200 --min-gpus 8 --max-gpus 8 --prefix-hit 1.5"
  "missing       |option 'spec_accept' is required with spec_tokens 2: the card of deepseek-v3 |eval --model deepseek-v3 --hw b200 --gpus 8 --spec-tokens 2"
  "impossible    |option 'spec_tokens': mixtral-8x7b has no MTP module      |${E[*]} --spec-tokens 1 --spec-accept 1.5"
  "huge          |option 'spec_tokens' must be <= 16                        |${R[*]} --spec-tokens 17"
  "unknown name  |option 'draft_model'.*no-such-draft                       |eval --model llama3.1-70b --hw h100-sxm --gpus 4 --draft-model no-such-draft --spec-tokens 2 --spec-accept 2"
  "missing       |option 'spec_accept' is required with 'draft_model'       |eval --model llama3.1-70b --hw h100-sxm --gpus 4 --draft-model llama3.1-8b --spec-tokens 2"
  "missing       |option 'draft_model' drafts spec_tokens tokens per step   |eval --model llama3.1-70b --hw h100-sxm --gpus 4 --draft-model llama3.1-8b"
  "unknown name  |option 'spec_method': unknown 'medusa' \(one of mtp, eagle3\) |eval --model llama3.1-70b --hw h100-sxm --gpus 4 --spec-method medusa --spec-tokens 2 --spec-accept 2"
  "impossible    |option 'spec_method' eagle3 drafts with an EAGLE-3 head, option 'draft_model' |eval --model llama3.1-70b --hw h100-sxm --gpus 4 --spec-method eagle3 --draft-model llama3.1-8b --spec-tokens 2 --spec-accept 2"
  "missing       |option 'spec_accept' is required with spec_method eagle3  |eval --model llama3.1-70b --hw h100-sxm --gpus 4 --spec-method eagle3 --spec-tokens 2"
  "missing       |option 'spec_method' eagle3 drafts spec_tokens tokens per step |eval --model llama3.1-70b --hw h100-sxm --gpus 4 --spec-method eagle3"
  "impossible    |option 'spec_method' eagle3: an EAGLE-3 head is one dense decoder layer |eval --model mixtral-8x7b --hw h100-sxm --gpus 8 --spec-method eagle3 --spec-tokens 2 --spec-accept 2"
  "impossible    |draft_model: qwen3-30b-a3b \(vocabulary 151936\) cannot draft for llama3.1-70b |eval --model llama3.1-70b --hw h100-sxm --gpus 4 --draft-model qwen3-30b-a3b --spec-tokens 2 --spec-accept 2"
  "impossible    |field 'speculative' applies only to cards with an MTP module |eval --model $tmp/m_spec_nomtp.json --hw h200"
  "impossible    |field 'native_precision.shared_experts' applies only to cards with shared experts |eval --model $tmp/m_shared_noshared.json --hw h200"
  "wrong type    |field 'native_precision.shared_experts' must be one of |eval --model $tmp/m_shared_fmt.json --hw h200"
  "out of range  |field 'speculative.accepted_tokens\[1\]' must be a number in \[1, 3\] |eval --model $tmp/m_spec_range.json --hw b200 --gpus 8"
  "impossible    |field 'hybrid.mixers' must have one character per layer \(52; got 2\) |eval --model $tmp/m_hybrid_short.json --hw rtx4090"
  "wrong type    |hybrid.ssm.heads                               |eval --model $tmp/m_hybrid_type.json --hw rtx4090"
  "zero          |field 'hybrid.ssm.chunk' must be >= 1 \(got 0\)  |eval --model $tmp/m_hybrid_zero.json --hw rtx4090"
  "zero          |max-gpus' must be an integer in \[1, 4096\]               |search --model mixtral-8x7b --hw h200 --max-gpus 0"
  "unknown name  |unknown hardware 'h201'                                   |search --model mixtral-8x7b --hw h200,h201 --max-gpus 2"
  "unknown name  |option 'price': unknown kind 'retail'                     |eval --model mixtral-8x7b --hw h200 --price retail"
  "unknown name  |option 'price': no spot:nobody price for h100-sxm         |eval --model mixtral-8x7b --hw h100-sxm --price spot:nobody"
  "impossible    |option 'price': no reserved-3y price for h200             |eval --model mixtral-8x7b --hw h200 --price reserved-3y"
  "impossible    |option 'price': rpi5 has no rent price in its hwmodel     |eval --model qwen3-30b-a3b --hw rpi5 --price tco"
  "impossible    |option 'price' \(spot\) and option 'usd_per_gpu_hour'     |eval --model mixtral-8x7b --hw h100-sxm --price spot --usd-per-gpu-hour 2"
  "unknown name  |option 'price': unknown kind 'cheap'                      |search --model mixtral-8x7b --hw h200 --max-gpus 1 --price cheap"
  "negative      |option 'requests_per_day' must be >= 0                    |eval --model mixtral-8x7b --hw h200 --requests-per-day -5"
  "negative      |option 'requests_per_hour' must be >= 0                   |eval --model mixtral-8x7b --hw h200 --requests-per-hour -1"
  "NaN/Inf       |option 'requests_per_day' must be a finite number         |eval --model mixtral-8x7b --hw h200 --requests-per-day inf"
  "out of range  |option 'peak_factor' must be >= 1                         |eval --model mixtral-8x7b --hw h200 --requests-per-day 100 --peak-factor 0.5"
  "impossible    |option 'peak_factor' goes with 'requests_per_day'         |eval --model mixtral-8x7b --hw h200 --peak-factor 3"
  "impossible    |options 'requests_per_day' and 'requests_per_hour' both   |eval --model mixtral-8x7b --hw h200 --requests-per-day 100 --requests-per-hour 5"
  "unknown name  |option 'diurnal': unknown profile 'weekly'                |eval --model mixtral-8x7b --hw h200 --requests-per-day 100 --diurnal weekly"
  "impossible    |options 'peak_factor' and 'diurnal' both given           |eval --model mixtral-8x7b --hw h200 --requests-per-day 100 --peak-factor 2 --diurnal flat"
  "impossible    |option 'diurnal' goes with 'requests_per_day'            |serve --model mixtral-8x7b --hw h200 --rate 1 --diurnal flat"
  "unreadable    |diurnal                                                  |eval --model mixtral-8x7b --hw h200 --requests-per-day 100 --diurnal /nonexistent/day.txt"
  "impossible    |options 'replicas' and 'concurrency' are sized from       |eval --model mixtral-8x7b --hw h200 --requests-per-day 100 --concurrency 8"
  "impossible    |options 'rate' and 'requests_per_day' both given          |search --model mixtral-8x7b --hw h200 --max-gpus 1 --rate 1 --requests-per-day 100 --slo-tpot-s 0.1"
  "negative      |option 'requests_per_day' must be >= 0                    |search --model mixtral-8x7b --hw h200 --max-gpus 1 --requests-per-day -1 --slo-tpot-s 0.1"
  "out of range  |option 'peak_factor' must be >= 1                         |search --model mixtral-8x7b --hw h200 --max-gpus 1 --requests-per-day 100 --peak-factor 0 --slo-tpot-s 0.1"
  "missing       |compare: option '--hw' is required                         |compare --model deepseek-r1"
  "malformed     |compare: option 'hw' must name two systems                 |compare --model deepseek-r1 --hw h200"
  "malformed     |compare: option 'hw' must name two systems                 |compare --model deepseek-r1 --hw h200,b200,gb200-nvl72"
  "zero          |compare: option 'hw': the GPU count after ':' must be      |compare --model deepseek-r1 --hw h200:0,b200"
  "wrong type    |compare: option 'hw': the GPU count after ':' must be      |compare --model deepseek-r1 --hw h200:eight,b200"
  "unknown name  |unknown hardware 'h201'                                   |compare --model deepseek-r1 --hw h200,h201"
  "negative      |compare: option '--claim' must be a positive ratio         |compare --model deepseek-r1 --hw h200,b200 --claim -10"
  "NaN/Inf       |compare: option '--claim' must be a positive ratio         |compare --model deepseek-r1 --hw h200,b200 --claim nan"
  "wrong type    |compare: option 'mtp' must be a comma-separated list       |compare --model deepseek-r1 --hw h200,b200 --mtp two"
  "huge          |compare: option 'mtp' must be a comma-separated list       |compare --model deepseek-r1 --hw h200,b200 --mtp 17"
  "unknown name  |compare: option 'precision': unknown precision 'fp9'      |compare --model deepseek-r1 --hw h200,b200 --precision fp9"
  "negative      |compare: option '--concurrency-per-gpu'                    |compare --model deepseek-r1 --hw h200,b200 --concurrency-per-gpu -1"
  "impossible    |option 'spec_tokens': mixtral-8x7b has no MTP module      |compare --model mixtral-8x7b --hw h200,b200 --mtp 0,1"
  "unknown name  |compare: unknown option '--gpus-per-system'               |compare --model deepseek-r1 --hw h200,b200 --gpus-per-system 8"
)
for row in "${cases[@]}"; do
  IFS='|' read -r class pattern args <<<"$row"
  # a pattern may hold one alternative after a second '|': take the last field as the arguments
  if [[ "$args" == *"|"* ]]; then pattern="$pattern|${args%|*}"; args=${args##*|}; fi
  pattern=$(echo "$pattern" | sed 's/ *$//'); class=$(echo "$class" | sed 's/ *$//')
  read -r -a argv <<<"$args"
  status=0
  timeout 60 "$M" "${argv[@]}" >"$tmp/out" 2>"$tmp/err" || status=$?
  if [ "$status" -ne 2 ]; then bad "[$class] moesim $args: exit $status, expected 2: $(head -c 300 "$tmp/err")"; continue; fi
  if ! grep -qE -- "$pattern" "$tmp/err"; then bad "[$class] moesim $args: message lacks /$pattern/: $(head -c 300 "$tmp/err")"; continue; fi
  if [ -s "$tmp/out" ]; then bad "[$class] moesim $args: printed a result on stdout despite failing"; continue; fi
  ok
done
echo "test_bad_input.sh: $pass passed, $fail failed"
[ "$fail" -eq 0 ]
