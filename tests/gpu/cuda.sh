# cuda.sh: the CUDA backend. Without CUDA built, or without a device, it checks the message
# and the exit status, prints SKIP and passes. With a GPU: every kernel against its CPU
# definition, the layer against the reference (all check cases, BF16/FP32/INT8 weights and
# FP8), two ranks sharing one GPU through the host transport, NCCL when there are two GPUs,
# and the bench JSON.
set -u
BIN=${BIN:-bin}
BUILD=${BUILD:-build/rel}
eng="$BIN/moe-engine"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
fails=0
bad() { echo "FAIL: $1"; [ -f "$tmp/err" ] && sed 's/^/    /' "$tmp/err" | tail -n 20; fails=$((fails + 1)); }

"$eng" backends >"$tmp/b" 2>&1 || bad "moe-engine backends"
sed 's/^/  /' "$tmp/b"
if ! grep -q "^cuda: CUDA built" "$tmp/b"; then
  grep -q "^cuda: not built" "$tmp/b" || bad "backends does not say whether CUDA was built"
  "$eng" bench --hidden 8 --ffn 8 --experts 2 --top-k 1 --dtype bf16 --tokens 1 --backend cuda >"$tmp/out" 2>"$tmp/err"
  [ $? -eq 2 ] && grep -q "backend cuda: not built" "$tmp/err" || bad "--backend cuda without CUDA built"
  [ "$fails" -eq 0 ] && echo "SKIP: CUDA not built into this moe-engine (no nvcc, or the sanitizer build)"
  exit $((fails != 0))
fi
if grep -q "no CUDA device found" "$tmp/b"; then
  "$eng" bench --hidden 8 --ffn 8 --experts 2 --top-k 1 --dtype bf16 --tokens 1 --backend cuda >"$tmp/out" 2>"$tmp/err"
  rc=$?
  [ $rc -eq 2 ] && grep -q "backend cuda: no CUDA device found (cudaGetDeviceCount: " "$tmp/err" &&
    echo "ok: --backend cuda without a device: $(head -n 1 "$tmp/err" | cut -c 1-120)" || bad "--backend cuda without a device -> exit $rc"
  "$eng" check --backend cuda --cases 0 >"$tmp/out" 2>"$tmp/err"
  [ $? -eq 2 ] && grep -q "no CUDA device found" "$tmp/err" || bad "check --backend cuda without a device"
  "$BUILD/tests/gpu/test_kernels" >"$tmp/out" 2>"$tmp/err" && grep -q "SKIP: no CUDA device" "$tmp/out" || bad "test_kernels skip"
  [ "$fails" -eq 0 ] && echo "SKIP: no CUDA device"
  exit $((fails != 0))
fi

ngpu=$(grep -o "[0-9]* device(s)" "$tmp/b" | grep -o "^[0-9]*")
mpi=(mpirun --allow-run-as-root --oversubscribe -x OMP_NUM_THREADS=1)

"$BUILD/tests/gpu/test_kernels" >"$tmp/out" 2>"$tmp/err" && cat "$tmp/out" || bad "test_kernels"

# the layer against the reference: the edge cases and random shapes of the CPU issue
"$eng" check --backend cuda --cases 40 >"$tmp/out" 2>"$tmp/err" && echo "ok: $(tail -n 1 "$tmp/err")" || { cat "$tmp/out"; bad "check --backend cuda"; }
"$eng" check --backend cuda --fp8 --cases 40 --seed 7 >"$tmp/out" 2>"$tmp/err" && echo "ok (fp8): $(tail -n 1 "$tmp/err")" || { cat "$tmp/out"; bad "check --backend cuda --fp8"; }

# two ranks share the one GPU through host memory (NCCL refuses two ranks on one device)
for np in 2 4; do
  "${mpi[@]}" -np $np "$eng" check --backend cuda --transport host --cases 12 --seed $np >"$tmp/out" 2>"$tmp/err" &&
    echo "ok: $np ranks on $ngpu GPU(s), host transport: $(tail -n 1 "$tmp/err")" || { cat "$tmp/out"; bad "check, $np ranks, host transport"; }
done
"${mpi[@]}" -np 2 "$eng" check --backend cuda --transport host --fp8 --cases 8 >"$tmp/out" 2>"$tmp/err" &&
  echo "ok: 2 ranks, host transport, fp8" || bad "check, 2 ranks, host transport, fp8"
if [ "${ngpu:-1}" -ge 2 ]; then
  "${mpi[@]}" -np 2 "$eng" check --backend cuda --transport nccl --cases 12 >"$tmp/out" 2>"$tmp/err" &&
    echo "ok: 2 ranks, NCCL: $(tail -n 1 "$tmp/err")" || bad "check, 2 ranks, NCCL"
else
  echo "SKIP: NCCL expert parallelism needs two GPUs (this machine has ${ngpu:-1})"
fi

# bench: JSON with the device, the stages, the yardsticks
if "$eng" bench --backend cuda --hidden 256 --ffn 128 --experts 16 --top-k 2 --shared 1 --dtype bf16 --tokens 1,64,512 \
     --reps 3 --warmup 1 --json "$tmp/g.json" >"$tmp/out" 2>"$tmp/err" &&
   jq -e '.backend == "cuda" and (.device.gpu | length > 0) and .device.cuda_driver > 0
          and ([.results[] | select(.kind == "moe_layer")] | length == 3)
          and ([.results[] | select(.kind == "membw" and .gbs > 0)] | length == 1)
          and ([.results[] | select(.kind == "gemm" and .library == "cublas-bf16")] | length == 30)' "$tmp/g.json" >/dev/null &&
   grep -q "decode      1 tokens: experts read" "$tmp/out"; then
  echo "ok: bench --backend cuda JSON and speed-check lines"
else
  cat "$tmp/out"; bad "bench --backend cuda"
fi

# bad input: a layer that does not fit names the allocation and sizes
"$eng" bench --backend cuda --hidden 16384 --ffn 65536 --experts 64 --top-k 2 --dtype bf16 --tokens 1 >"$tmp/out" 2>"$tmp/err"
rc=$?
[ $rc -ne 0 ] && grep -q -e "out of GPU memory allocating [0-9]* bytes for" -e "weights need" "$tmp/err" &&
  echo "ok: too large for the GPU: $(head -n 2 "$tmp/err" | tail -n 1 | cut -c 1-140)" || bad "GPU out of memory -> exit $rc"

[ "$fails" -eq 0 ] || { echo "cuda.sh: $fails failure(s)"; exit 1; }
