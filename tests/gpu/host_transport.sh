# host_transport.sh: what the GPU path shares with the CPU and can be tested without a GPU: the
# FP8 codec, the host-memory transport against MPI (raw exchanges, then whole layers on the CPU
# backend, EP=2 and 3, against the MPI transport and one rank), and the global options.
set -u
BIN=${BIN:-bin}
BUILD=${BUILD:-build/rel}
eng="$BIN/moe-engine"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
fails=0
mpi=(mpirun --allow-run-as-root --oversubscribe -x OMP_NUM_THREADS=1)
[ "${SAN:-0}" = 1 ] && mpi+=(-x ASAN_OPTIONS=detect_leaks=0)   # OpenMPI's own allocations, see tests/engine/mpi.sh

bad() { echo "FAIL: $1"; [ -f "$tmp/err" ] && sed 's/^/    /' "$tmp/err"; fails=$((fails + 1)); }

"$BUILD/tests/gpu/test_fp8" >"$tmp/out" 2>"$tmp/err" && echo "ok: FP8 E4M3 codec" || bad "test_fp8"
for np in 2 3; do
  if "${mpi[@]}" -np $np "$BUILD/tests/gpu/test_transport_host" >"$tmp/out" 2>"$tmp/err"; then
    cat "$tmp/out"
  else
    bad "test_transport_host with $np ranks"
  fi
done

# whole layers: the same cases through both transports give the same lines (each line also
# compares with one rank and with the reference)
for np in 2 3; do
  for t in mpi host; do
    "${mpi[@]}" -np $np "$eng" check --cases 8 --seed $((np + 10)) --transport $t >"$tmp/$t.out" 2>"$tmp/err" || bad "check --transport $t, $np ranks"
  done
  if cmp -s "$tmp/mpi.out" "$tmp/host.out" && [ -s "$tmp/host.out" ]; then
    echo "ok: check with $np ranks: --transport host gives the MPI transport's results ($(wc -l <"$tmp/host.out") cases)"
  else
    echo "FAIL: --transport host and mpi differ with $np ranks"; diff "$tmp/mpi.out" "$tmp/host.out" | head; fails=$((fails + 1))
  fi
done

if "${mpi[@]}" -np 2 "$eng" bench --hidden 64 --ffn 32 --experts 8 --top-k 2 --shared 1 --dtype bf16 --tokens 1,64 \
     --reps 2 --warmup 1 --transport host --json "$tmp/h.json" >"$tmp/out" 2>"$tmp/err" &&
   jq -e '[.results[] | select(.kind == "moe_layer" and .ep == 2)] | length == 2' "$tmp/h.json" >/dev/null &&
   grep -q "alltoall (host, 2 ranks)" "$tmp/out"; then
  echo "ok: bench with 2 ranks over the host transport"
else
  bad "bench --transport host"
fi

# bad global options are named; CPU-only combinations are refused with a message
"$eng" bench --hidden 8 --ffn 8 --experts 2 --top-k 1 --dtype fp32 --tokens 1 --transport carrier-pigeon >"$tmp/out" 2>"$tmp/err"
[ $? -eq 2 ] && grep -q "transport carrier-pigeon: expected mpi, host or nccl" "$tmp/err" && echo "ok: unknown transport named" || bad "unknown transport"
"$eng" bench --hidden 8 --ffn 8 --experts 2 --top-k 1 --dtype fp8 --tokens 1 --backend cpu >"$tmp/out" 2>"$tmp/err"
[ $? -eq 2 ] && grep -q "fp8: FP8 expert weights need --backend cuda" "$tmp/err" && echo "ok: --dtype fp8 on the CPU refused" || bad "fp8 on cpu"
"${mpi[@]}" -np 2 "$eng" check --cases 0 --transport nccl >"$tmp/out" 2>"$tmp/err"
rc=$?
if [ $rc -ne 0 ] && grep -q -e "transport nccl moves GPU memory" -e "built without CUDA/NCCL" -e "no CUDA device" "$tmp/err"; then
  echo "ok: --transport nccl with the CPU backend refused: $(grep -m 1 -o -e 'transport nccl[^(]*' -e 'no CUDA device' "$tmp/err" | head -n 1)"
else
  bad "--transport nccl on the CPU backend -> exit $rc"
fi

[ "$fails" -eq 0 ] || { echo "host_transport.sh: $fails failure(s)"; exit 1; }
