#!/usr/bin/env bash
# device_run.sh: the CUDA engine's whole GPU check, for a GPU machine that has the CUDA driver
# and runtime but no -dev packages, no package registry and no mpirun or jq, in at most
# 8 minutes. Needs bash, coreutils and the folder scripts/pack_gpu_run.sh packs here (the
# programs and the libraries such a machine lacks). Steps, each under its own time limit:
#   1. the libraries: packed ones first, the CUDA ones (cuBLAS, NCCL, runtime) found on the
#      device (toolkit or PyTorch's nvidia-* packages); none may be missing
#   2. kernel tests against the CPU references (test_kernels), the top-k rule and FP8 codec
#   3. moe-engine check --backend cuda, BF16 and FP8 weights
#   4. bench, BF16: Qwen3-30B-A3B, Mixtral-8x7B and DeepSeek-V3 layers at 1 to 16K tokens
#   5. moesim calibrate --backend cuda --quick
#   6. scripts/compare_torch.py (torch._grouped_mm side by side) when python3 has torch
# Output (a device run brings back at most 8 files): OUT/summary.json and OUT/summary.txt
# (every step: ok, fail, skip or timeout, seconds, why), OUT/results.tar.gz (every JSON file
# and log), OUT/device_run.log. OUT is $OUT (the device tool's) or --out DIR.
#
# Without a GPU (or without CUDA built) the GPU steps skip with the reason and the host steps
# still run: exit 0. --dry-run goes through every step printing what it would run, runs
# nothing but the library check, and writes the summary. Exit 1 when a step failed.
# usage: tests/gpu/device_run.sh [--dry-run] [--pack DIR] [--out DIR] [--budget SECONDS]
set -u
root=$(cd "$(dirname "$0")/../.." && pwd)
pack=$root/gpu-run
out=${OUT:-$root/out/device-run}
dry=0
budget=480
while [ $# -gt 0 ]; do
  case "$1" in
    --dry-run) dry=1 ;;
    --pack) pack=${2:?--pack needs a folder}; shift ;;
    --out) out=${2:?--out needs a folder}; shift ;;
    --budget) budget=${2:?--budget needs seconds}; shift ;;
    *) echo "device_run.sh: unknown option '$1' (expected --dry-run, --pack DIR, --out DIR, --budget SECONDS)" >&2; exit 2 ;;
  esac
  shift
done
case "$budget" in '' | *[!0-9]*) echo "device_run.sh: --budget $budget: expected whole seconds" >&2; exit 2 ;; esac
[ -x "$pack/bin/moe-engine" ] || { echo "device_run.sh: $pack/bin/moe-engine missing: run scripts/pack_gpu_run.sh first (and carry its folder)" >&2; exit 2; }
mkdir -p "$out" || exit 2
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
mkdir -p "$work/results"
res=$work/results
log=$out/device_run.log
: >"$log"
t0=$(date +%s)
steps=()      # one JSON object per step
lines=()      # one text line per step
fails=0
say() { echo "$*" | tee -a "$log"; }
left() { echo $((budget - ($(date +%s) - t0))); }
json_str() { printf '%s' "$1" | sed 's/\\/\\\\/g; s/"/\\"/g' | tr '\n\t' '  '; }
record() {   # name status seconds why
  steps+=("{\"step\": \"$(json_str "$1")\", \"status\": \"$2\", \"seconds\": $3, \"why\": \"$(json_str "$4")\"}")
  lines+=("$(printf '%-28s %-8s %5ss  %s' "$1" "$2" "$3" "$4")")
  say "== $1: $2 ($3 s)${4:+: $4}"
  [ "$2" = fail ] || [ "$2" = timeout ] && fails=$((fails + 1))
  return 0
}
# step NAME LIMIT_S NEEDS_GPU CMD...: runs CMD under a time limit (never past the budget),
# output into results/NAME.log; skips without a GPU or when the budget is spent
step() {
  local name=$1 limit=$2 gpu=$3 s e rc lim
  shift 3
  if [ "$dry" = 1 ]; then
    say "+ $*"
    record "$name" dry-run 0 "would run under ${limit} s: $*"
    return 0
  fi
  if [ "$gpu" = 1 ] && [ -n "$nogpu" ]; then
    record "$name" skip 0 "$nogpu"
    return 0
  fi
  lim=$(left)
  [ "$lim" -gt "$limit" ] && lim=$limit
  if [ "$lim" -lt 5 ]; then
    record "$name" skip 0 "the ${budget} s budget is spent"
    return 0
  fi
  say "+ $*"
  s=$(date +%s)
  timeout --kill-after=10 "$lim" "$@" >"$res/$name.log" 2>&1
  rc=$?
  e=$(($(date +%s) - s))
  tail -n 4 "$res/$name.log" | sed 's/^/    /' | tee -a "$log"
  if [ $rc -eq 124 ] || [ $rc -eq 137 ]; then
    record "$name" timeout "$e" "stopped after ${lim} s"
  elif [ $rc -ne 0 ]; then
    record "$name" fail "$e" "exit $rc: $(grep -v '^\s*$' "$res/$name.log" | tail -n 1 | cut -c 1-200)"
  elif grep -q "^SKIP" "$res/$name.log"; then
    record "$name" skip "$e" "$(grep -m 1 '^SKIP' "$res/$name.log" | cut -c 1-200)"
  else
    record "$name" ok "$e" ""
  fi
}

# --- 1. libraries: the packed ones, then the CUDA ones the device must have ---
export LD_LIBRARY_PATH="$pack/lib${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
export MOESIM_HOME=$root OMP_NUM_THREADS=${OMP_NUM_THREADS:-$(nproc)}
cuda_dirs() {   # where a GPU machine keeps CUDA libraries: the toolkit, then PyTorch's wheels
  ls -d /usr/local/cuda*/lib64 /usr/local/cuda*/targets/*/lib /usr/lib/x86_64-linux-gnu 2>/dev/null
  ls -d /opt/*/.venv/lib/python3*/site-packages/nvidia/*/lib /usr/local/lib/python3*/dist-packages/nvidia/*/lib \
        /usr/lib/python3/dist-packages/nvidia/*/lib 2>/dev/null
  command -v python3 >/dev/null && python3 -c 'import nvidia, os, glob; [print(d) for p in nvidia.__path__ for d in glob.glob(os.path.join(p, "*", "lib"))]' 2>/dev/null
}
for lib in $(ldd "$pack/bin/moe-engine" "$pack/bin/test_kernels" 2>/dev/null | awk '$3 == "not" { print $1 }' | sort -u); do
  for d in $(cuda_dirs); do
    if [ -e "$d/$lib" ]; then
      export LD_LIBRARY_PATH="$LD_LIBRARY_PATH:$d"
      say "library $lib: from $d"
      break
    fi
  done
done
missing=$(ldd "$pack"/bin/* 2>/dev/null | awk '$3 == "not" { print $1 }' | sort -u | tr '\n' ' ')
if [ -n "$missing" ]; then
  record libraries fail 0 "not found on this machine: $missing(searched the packed folder, the CUDA toolkit, PyTorch's nvidia packages)"
else
  record libraries ok 0 "LD_LIBRARY_PATH=$LD_LIBRARY_PATH"
fi
eng=$pack/bin/moe-engine
nogpu=""
if [ -n "$missing" ]; then
  nogpu="libraries missing: $missing"
else
  "$eng" backends >"$res/backends.txt" 2>&1
  sed 's/^/  /' "$res/backends.txt" | tee -a "$log"
  if ! grep -q "^cuda: CUDA built" "$res/backends.txt"; then
    nogpu="CUDA not built into this moe-engine (pack on a machine with nvcc)"
  elif grep -q "no CUDA device found" "$res/backends.txt"; then
    nogpu="no CUDA device ($(grep -o 'cudaGetDeviceCount: [^)]*' "$res/backends.txt" | head -n 1))"
  fi
fi
command -v nvidia-smi >/dev/null && [ -z "$nogpu" ] &&
  nvidia-smi --query-gpu=name,driver_version,memory.total,clocks.max.sm --format=csv >"$res/nvidia-smi.csv" 2>&1

# --- 2. kernels against their CPU references; the host-side rules ---
step test_topk 30 0 "$pack/bin/test_topk"
step test_fp8 30 0 "$pack/bin/test_fp8"
step test_kernels 90 1 "$pack/bin/test_kernels"

# --- 3. the layer against the reference, BF16 and FP8 weights ---
step check_bf16 60 1 "$eng" check --backend cuda --cases 40
step check_fp8 60 1 "$eng" check --backend cuda --fp8 --cases 40 --seed 7

# --- 4. decode and prefill, three layer shapes; the yardsticks once (Qwen3: its two shapes) ---
toks=1,2,4,8,16,32,64,256,1024,4096,16384
step bench_qwen3-30b-a3b 75 1 "$eng" bench --backend cuda --model qwen3-30b-a3b --dtype bf16 --tokens "$toks" \
  --reps 5 --warmup 1 --json "$res/bench-cuda-qwen3-30b-a3b-bf16.json"
step bench_mixtral-8x7b 60 1 "$eng" bench --backend cuda --model mixtral-8x7b --dtype bf16 --tokens "$toks" \
  --reps 5 --warmup 1 --no-primitives --json "$res/bench-cuda-mixtral-8x7b-bf16.json"
step bench_deepseek-v3 100 1 "$eng" bench --backend cuda --model deepseek-v3 --dtype bf16 --tokens "$toks" \
  --reps 5 --warmup 1 --no-primitives --json "$res/bench-cuda-deepseek-v3-bf16.json"

# --- 5. calibration, quick plan ---
step calibrate_quick 120 1 "$pack/bin/moesim" calibrate --backend cuda --quick --out "$res/calibrated-cuda-quick.json"

# --- 6. torch._grouped_mm side by side, where python3 has torch ---
if [ "$dry" = 0 ] && ! python3 -c 'import torch' >/dev/null 2>&1; then
  record compare_torch skip 0 "python3 with torch not found"
else
  MOESIM_ENGINE=$eng step compare_torch 60 1 python3 "$root/scripts/compare_torch.py" --model qwen3-30b-a3b \
    --tokens 1,64,4096 --reps 5 --warmup 2 --json "$res/compare-torch-qwen3-30b-a3b.json"
fi

# --- summary: JSON and text, then everything packed into one archive ---
total=$(($(date +%s) - t0))
{
  echo "{"
  echo "  \"script\": \"tests/gpu/device_run.sh\", \"dry_run\": $([ "$dry" = 1 ] && echo true || echo false),"
  echo "  \"date\": \"$(date -u +%Y-%m-%dT%H:%M:%SZ)\", \"seconds\": $total, \"budget_s\": $budget,"
  echo "  \"host\": \"$(json_str "$(uname -srm)")\", \"gpu\": \"$(json_str "${nogpu:-$(grep '^cuda:' "$res/backends.txt" 2>/dev/null)}")\","
  echo "  \"pack_manifest\": \"$(json_str "$(head -n 3 "$pack/MANIFEST.txt" 2>/dev/null | tail -n 2 | tr '\n' ' ')")\","
  echo "  \"failures\": $fails,"
  echo "  \"steps\": ["
  for i in "${!steps[@]}"; do echo "    ${steps[$i]}$([ "$i" -lt $((${#steps[@]} - 1)) ] && echo ,)"; done
  echo "  ]"
  echo "}"
} >"$out/summary.json"
{
  echo "device_run.sh $(date -u +%Y-%m-%dT%H:%M:%SZ), ${total} s of ${budget}; ${nogpu:+GPU steps skipped: $nogpu; }failures: $fails"
  printf '%s\n' "${lines[@]}"
} >"$out/summary.txt"
cp "$out/summary.json" "$res/" 2>/dev/null
cp "$pack/MANIFEST.txt" "$res/pack-manifest.txt" 2>/dev/null
tar -czf "$out/results.tar.gz" -C "$work" results
cat "$out/summary.txt"
exit $((fails != 0))
