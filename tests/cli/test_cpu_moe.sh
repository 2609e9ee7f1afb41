#!/usr/bin/env bash
# test_cpu_moe.sh: routed experts on the host CPU beside a GPU (--experts-on cpu,
# --cpu-moe-layers, --host-cpu, --cpu-moe-runtime). Checks mechanisms, not timings: the
# experts leave GPU memory, the breakdown shows CPU expert and PCIe time, llama.cpp offloads a
# >= 32-token batch by copying the experts, ktransformers hides CPU time behind the shared
# experts (never slower than llama.cpp), a host whose DRAM is short pages the rest from its SSD, and
# a host too small for that says so and by how much.
set -euo pipefail
HOME_DIR=${MOESIM_HOME:-.}
. "$(dirname "$0")/lib.sh"

base=(eval --model deepseek-v2-lite --hw rtx4090 --context 512 --batch 1 --json)
host=(--host-cpu ryzen-7950x)
j() { "$M" "${base[@]}" "$@"; }

gpu=$(j --phase decode)
cpu=$(j --phase decode --experts-on cpu "${host[@]}")
kt=$(j --phase decode --experts-on cpu "${host[@]}" --cpu-moe-runtime ktransformers)
half=$(j --phase decode --cpu-moe-layers 10 "${host[@]}")
pre=$(j --phase prefill --experts-on cpu "${host[@]}")

k() { jq -r ".breakdown.$2.by_kind_s.$3 // 0" <<<"$1"; }
check() { if awk "BEGIN{exit !($1)}"; then ok; else bad "$2 ($1)"; fi; }

check "$(k "$gpu" decode cpu_experts) == 0" "GPU-only run books no cpu_experts"
check "$(k "$cpu" decode cpu_experts) > 0" "experts on cpu book cpu_experts"
check "$(k "$cpu" decode pcie_transfer) > 0" "experts on cpu book pcie_transfer"
check "$(k "$cpu" decode experts) == 0" "experts on cpu leave no GPU expert op"
check "$(k "$half" decode experts) > 0 && $(k "$half" decode cpu_experts) > 0" "--cpu-moe-layers 10 splits the layers"
check "$(k "$half" decode cpu_experts) < $(k "$cpu" decode cpu_experts)" "10 CPU layers cost less CPU time than all"
check "$(jq .step_s <<<"$kt") < $(jq .step_s <<<"$cpu")" "ktransformers overlaps CPU experts with the shared experts"
check "$(k "$pre" prefill cpu_experts) == 0 && $(k "$pre" prefill experts) > 0" "llama.cpp offloads a 512-token batch to the GPU"
check "$(k "$pre" prefill pcie_transfer) > $(k "$cpu" decode pcie_transfer)" "the offload copies the experts over PCIe"

# GPU memory falls by the experts' bytes; the host holds them
g0=$("$M" eval --model qwen3-30b-a3b --hw rtx4090 --phase decode --batch 1 --context 512 | grep -o 'weights [0-9.]* GB' | head -1)
g1=$("$M" eval --model qwen3-30b-a3b --hw rtx4090 --phase decode --batch 1 --context 512 --experts-on cpu "${host[@]}" | grep -o 'weights [0-9.]* GB' | head -1)
check "${g1//[^0-9.]/} < ${g0//[^0-9.]/} / 5" "experts on cpu take the routed experts out of GPU weights ($g0 -> $g1)"

# a host whose DRAM is too small pages the rest from its SSD (llama.cpp's and ktransformers' mmap'd
# GGUF): gpt-oss-120b's 61 GB of experts beside 57.6 GB usable run, mostly resident, and say so
out=$("$M" eval --model gpt-oss-120b --hw rtx4090 --phase decode --batch 1 --context 512 --experts-on cpu "${host[@]}" --json)
jq -e '.breakdown.decode.host_page_cache | (.tier | test("NVMe")) and .host_experts_resident_share > 0.9
       and .host_experts_resident_share < 1 and .hit_rate > .host_experts_resident_share' <<<"$out" >/dev/null \
  && ok || bad "host DRAM short: paged from the SSD: $(jq -c .breakdown.decode.host_page_cache <<<"$out")"
"$M" eval --model gpt-oss-120b --hw rtx4090 --phase decode --batch 1 --context 512 --experts-on cpu "${host[@]}" |
  grep -q "host page cache (mmap'd GGUF, LRU" && ok || bad "the text breakdown names the host page cache"
# a host too small for the rest too: the tier that is short, and by how much
out=$("$M" eval --model deepseek-v3 --hw rtx4090 --precision q4_k_m --phase decode --batch 1 --context 512 --experts-on cpu \
      --host-cpu rpi5 2>&1 || true)
if grep -qE "host DRAM is short by [0-9.]+ GB and its NVMe SSD over PCIe 2.0 x1 \(256 GB\) cannot hold the rest" <<<"$out"; then ok
else bad "host too small: $out"; fi

# search takes the host CPU too: the one-GPU split with CPU experts is found and evaluated
out=$("$M" search --model qwen3-30b-a3b --hw rtx4090 --experts-on cpu "${host[@]}" --precision q4_k_m --isl 1024 \
      --osl 256 --max-gpus 2 --json 2>&1 || true)
if jq -e '[.frontier[] | select(.gpus == 1)] | length > 0' <<<"$out" >/dev/null 2>&1; then ok; else bad "search with CPU experts: $out"; fi

echo "test_cpu_moe.sh: $pass passed, $fail failed"
[ "$fail" -eq 0 ]
