# topk.sh: the router top-k rule the CUDA kernel runs (engine/cuda/topk_rule.h), on the host.
set -u
BUILD=${BUILD:-build/rel}
"$BUILD/tests/gpu/test_topk"
