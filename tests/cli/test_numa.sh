#!/usr/bin/env bash
# test_numa.sh: a multi-socket CPU (hwmodel `numa`, --numa, the Lua field `numa`). Checks
# mechanisms, not timings: the breakdown names the mode and why, the runtime's default (llama.cpp:
# one socket; ktransformers beside a GPU: a copy per socket), duplicated weights count twice in
# memory and a host too small for two copies says so, each mode's effective bandwidth in the JSON
# is the one worked by hand (xeon-8480-2s: 614.4 GB/s of DDR5, 128 GB/s of UPI each way), one
# socket is the slowest decode and duplicate the fastest, and the Lua field does what the option
# does.
set -euo pipefail
HOME_DIR=${MOESIM_HOME:-.}
. "$(dirname "$0")/lib.sh"

check() { if awk "BEGIN{exit !($1)}"; then ok; else bad "$2 ($1)"; fi; }
base=(eval --model qwen3-30b-a3b --hw xeon-8480-2s --precision q4_k_m --phase decode --batch 1 --context 512)
j() { "$M" "${base[@]}" --json "$@"; }

# text: the mode, its basis and its effect
txt=$("$M" "${base[@]}")
grep -q "^numa: xeon-8480-2s, 2 sockets, single (llama.cpp's default" <<<"$txt" && ok || bad "default line: $txt"
txt=$("$M" "${base[@]}" --numa interleave)
grep -q "min(614.4, 2^2 x 128.0) = 512.0 GB/s, bound by the link" <<<"$txt" && ok || bad "interleave line: $txt"
# single-socket devices print no numa line
"$M" eval --model qwen3-30b-a3b --hw ryzen-7950x --precision q4_k_m | grep -q "^numa:" && bad "numa line on one socket" || ok

# JSON: each mode's figures, by hand
bw() { jq -r '.deployment.numa.weight_bandwidth_bytes_per_s' <<<"$1"; }
single=$(j); inter=$(j --numa interleave); dup=$(j --numa duplicate)
check "$(bw "$single") == 307.2e9" "single: one socket's 307.2 GB/s"
check "$(bw "$inter") == 512e9" "interleave: 4 x 128 GB/s of UPI"
check "$(bw "$dup") == 614.4e9" "duplicate: every read local"
[ "$(jq -r .deployment.numa.basis <<<"$single")" = "runtime default" ] && ok || bad "default basis"
[ "$(jq -r .deployment.numa.basis <<<"$dup")" = "option" ] && ok || bad "option basis"
check "$(jq .step_s <<<"$single") > $(jq .step_s <<<"$inter")" "one socket decodes slower than interleaved"
check "$(jq .step_s <<<"$inter") > $(jq .step_s <<<"$dup")" "interleaved decodes slower than duplicated"
check "$(jq .memory_per_gpu_bytes <<<"$dup") > 1.9 * $(jq .memory.weights_bytes <<<"$dup")" "duplicate holds the weights twice"

# beside a GPU: ktransformers duplicates the experts per socket by default, and a host that
# cannot hold two copies says so
kt=(eval --model deepseek-v3 --hw rtx4090 --experts-on cpu --host-cpu xeon-8480-2s --cpu-moe-runtime ktransformers)
out=$("$M" "${kt[@]}" --precision q4_k_m)
grep -q "numa: xeon-8480-2s, 2 sockets, duplicate (ktransformers's default" <<<"$out" && ok || bad "ktransformers default: $out"
out=$("$M" "${kt[@]}" --precision q8_0 2>&1 || true)
grep -qE "host DRAM \(a copy per socket, --numa duplicate\).*short by [0-9.]+ GB" <<<"$out" && ok || bad "two copies do not fit: $out"
out=$("$M" "${kt[@]}" --precision q8_0 --numa interleave 2>&1 || true)
grep -q "DOES NOT FIT" <<<"$out" && bad "interleaved q8_0 experts fit one copy: $out" || ok
check "$("$M" "${kt[@]}" --precision q4_k_m --json --numa single --phase decode --batch 1 --context 512 | jq .step_s) > \
$("$M" "${kt[@]}" --precision q4_k_m --json --phase decode --batch 1 --context 512 | jq .step_s)" "one socket of the host is slower"

# the Lua field is the option
cat >"$tmp/numa.lua" <<'EOF'
local a = moesim.eval{ model = "qwen3-30b-a3b", hw = "xeon-8480-2s", precision = "q4_k_m", numa = "duplicate",
                       phase = "decode", batch = 1, context = 512 }
print(("%s %.0f"):format(a.deployment.numa.mode, a.deployment.numa.weight_bandwidth_bytes_per_s / 1e9))
local ok, err = pcall(moesim.eval, { model = "qwen3-30b-a3b", hw = "xeon-8480-2s", numa = "mirror" })
print(ok, err)
EOF
out=$("$M" run "$tmp/numa.lua" --out "$tmp/lua" 2>&1 || true)
grep -q "^duplicate 614$" <<<"$out" && ok || bad "Lua numa field: $out"
grep -q "option 'numa': unknown 'mirror'" <<<"$out" && ok || bad "Lua bad numa: $out"

echo "test_numa.sh: $pass passed, $fail failed"
[ "$fail" -eq 0 ]
