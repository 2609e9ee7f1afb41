# fake_cuda.sh: the CUDA backend's host code on the host-only fake device (test_fake_cuda.c):
# launch sequence and streams, buffer growth, error paths; then expert parallelism over the host
# transport with 2 and 4 ranks (a rank that fails must not leave the others waiting: the
# timeout turns a hang into a failure). Needs neither a GPU nor nvcc.
set -u
BUILD=${BUILD:-build/rel}
fails=0
"$BUILD/tests/gpu/test_fake_cuda" || fails=$((fails + 1))
if command -v mpirun >/dev/null; then
  mpi=(timeout 300 mpirun --allow-run-as-root --oversubscribe -x OMP_NUM_THREADS=1)
  [ "${SAN:-0}" = 1 ] && mpi+=(-x ASAN_OPTIONS=detect_leaks=0)   # OpenMPI's own allocations, see tests/engine/mpi.sh
  for np in 2 4; do
    "${mpi[@]}" -np $np "$BUILD/tests/gpu/test_fake_cuda" --ep || { echo "FAIL: test_fake_cuda --ep with $np ranks"; fails=$((fails + 1)); }
  done
else
  echo "SKIP: test_fake_cuda --ep (no mpirun)"
fi
[ "$fails" -eq 0 ] || { echo "fake_cuda.sh: $fails failure(s)"; exit 1; }
