# fake_cuda.sh: the CUDA backend's host code on the host-only fake device (test_fake_cuda.c):
# launch sequence and streams, buffer growth, error paths. Needs neither a GPU nor nvcc.
set -u
BUILD=${BUILD:-build/rel}
"$BUILD/tests/gpu/test_fake_cuda"
