#!/usr/bin/env bash
# run_on_gpu.sh OUTDIR: the one command for a GPU machine. Builds (CUDA included), runs the GPU
# tests (which must pass, not skip), the bench on the issue's shapes (JSON into OUTDIR), and the
# PyTorch comparison (JSON into OUTDIR). Prints what it runs; stops at the first failure.
set -euo pipefail
out=${1:?usage: tests/gpu/run_on_gpu.sh OUTDIR}
mkdir -p "$out"
cd "$(dirname "$0")/../.."
run() { echo "+ $*" >&2; "$@"; }

run make build
run bin/moe-engine backends | tee "$out/backends.txt"
grep -q "^cuda: CUDA built.* device(s):" "$out/backends.txt" || { echo "no usable CUDA device: stop" >&2; exit 1; }
nvidia-smi --query-gpu=name,driver_version,memory.total,clocks.max.sm --format=csv | tee "$out/nvidia-smi.csv" || true

# tests: the GPU ones must not skip here
run make check-gpu 2>&1 | tee "$out/check-gpu.txt"
if grep -q "SKIP: no CUDA device" "$out/check-gpu.txt"; then echo "GPU tests skipped on a GPU machine" >&2; exit 1; fi
run make check-engine 2>&1 | tail -n 5

# bench: decode and prefill token counts on the issue's shapes, BF16 and FP8
toks=1,2,4,8,16,32,64,512,4096,8192,16384
for m in mixtral-8x7b deepseek-v3 qwen3-30b-a3b; do
  for dt in bf16 fp8; do
    run bin/moe-engine bench --backend cuda --model "$m" --dtype "$dt" --tokens "$toks" --reps 20 --warmup 3 \
      --json "$out/bench-cuda-$m-$dt.json" | tee "$out/bench-cuda-$m-$dt.txt"
  done
done
# two ranks sharing the GPU (host transport), for the dispatch/combine path
run mpirun --allow-run-as-root --oversubscribe -np 2 bin/moe-engine bench --backend cuda --transport host \
  --model qwen3-30b-a3b --dtype bf16 --tokens 1,64,4096 --reps 10 --json "$out/bench-cuda-ep2-host.json" | tee "$out/bench-cuda-ep2-host.txt"

# PyTorch side by side (torch._grouped_mm and a per-expert loop) on the same shapes and token counts
for m in mixtral-8x7b deepseek-v3 qwen3-30b-a3b; do
  run python3 scripts/compare_torch.py --model "$m" --tokens "$toks" --json "$out/compare-torch-$m.json" | tee "$out/compare-torch-$m.txt"
done
echo "done: results in $out (copy the JSON to calibrate/measurements/ with the device, driver, date and command it records)"
