/* test_fake_cuda.c: engine/cuda/backend_cuda.c's host code run on the fake device
 * (fake_cuda.c), no GPU and no nvcc needed: the call sequence of one MoE layer forward and the
 * stream it runs on (each layer its own), the outputs against the CPU backend through both the
 * small-kernel and the cuBLAS paths, buffer growth (no churn at a size seen before, the old
 * buffer freed before the larger one is allocated, nothing leaked), and the error paths: out
 * of GPU memory, a failed free, a failed kernel launch, no device, and the grouped GEMM's
 * statuses (NOT_SUPPORTED falls back to one GEMM per expert and says so in expert_path;
 * INVALID_VALUE is an error). With --ep under mpirun: expert parallelism over the host
 * transport (counts exchanged, segments, regroup, staging on the layer's stream) against the CPU
 * backend over MPI, and one rank's failure reported on every rank instead of a hang.
 * Usage: test_fake_cuda [--trace] (prints the decode sequence) | mpirun -np N test_fake_cuda --ep */
#include "fake_cuda.h"
#include "../../engine/backend.h"
#include "../../engine/cuda/cuda_api.h"
#include "../../engine/cuda/transport_host.h"
#include "../../engine/engine.h"
#include "../../engine/reference.h"

#include <mpi.h>

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* status values as in the toolkit (fakecuda/ headers): this file sees no CUDA header */
enum { E_OOM = 2, E_LAUNCH = 719, E_NODEV = 100, S_INVALID = 7, S_NOT_SUPPORTED = 15 };

static int fails;
#define EXPECT(c, ...)                                                                           \
    do {                                                                                         \
        if (!(c)) {                                                                              \
            fprintf(stderr, "FAIL %s:%d: ", __func__, __LINE__);                                 \
            fprintf(stderr, __VA_ARGS__);                                                        \
            fprintf(stderr, "\n");                                                               \
            fails++;                                                                             \
        }                                                                                        \
    } while (0)

static const uint64_t SEED = 7;

static eng_config cfg(eng_dtype dt)
{
    /* small but with every stage: 8 experts top-2, a shared expert, softmax routing */
    eng_config c = { 64, 32, 8, 2, 1, 32, ENG_SOFTMAX, dt };
    return c;
}

static eng_layer *mk(const eng_config *c, eng_backend b)
{
    eng_layer *l = NULL;
    sim_err err = { 0 };
    if (eng_layer_create(&l, c, b, NULL, SEED, &err) != SIM_OK) {
        fprintf(stderr, "FAIL: creating a %s layer: %s\n", eng_backend_name(b), err.msg);
        exit(1);
    }
    return l;
}

typedef struct run {
    float *x, *y;
    int *ids;
    float *w;
    int T, rc;
    sim_err err;
} run;

static run fwd(eng_layer *l, int T)
{
    const eng_config *c = eng_layer_config(l);
    run r = { malloc(sizeof(float) * (size_t)T * c->hidden + 4), malloc(sizeof(float) * (size_t)T * c->hidden + 4),
              malloc(sizeof(int) * (size_t)T * c->top_k + 4), malloc(sizeof(float) * (size_t)T * c->top_k + 4), T, 0,
              { 0 } };
    eng_fill_input(r.x, T, c->hidden, SEED + 1, 0);
    eng_routing rout = { T, c->top_k, r.ids, r.w };
    eng_timing tm;
    r.rc = eng_forward(l, r.x, T, r.y, NULL, &rout, &tm, &r.err);
    return r;
}

static void run_free(run *r) { free(r->x), free(r->y), free(r->ids), free(r->w); }

/* max |a - b| over max |b| */
static double rel_err(const float *a, const float *b, long n)
{
    double d = 0, m = 0;
    for (long i = 0; i < n; i++) {
        if (!isfinite(a[i]))
            return INFINITY;
        d = fmax(d, fabs((double)a[i] - b[i])), m = fmax(m, fabs((double)b[i]));
    }
    return m > 0 ? d / m : d;
}

static double max_abs(const float *a, long n)
{
    double m = 0;
    for (long i = 0; i < n; i++)
        m = fmax(m, fabs((double)a[i]));
    return m;
}

/* The GPU layer's output against the CPU backend's on the same weights and input. */
static void vs_cpu(eng_layer *g, const run *r, double tol, const char *what)
{
    eng_layer *cpu = mk(eng_layer_config(g), ENG_BACKEND_CPU);
    run c = fwd(cpu, r->T);
    const long n = (long)r->T * eng_layer_config(g)->hidden;
    double e = rel_err(r->y, c.y, n);
    EXPECT(c.rc == SIM_OK && e <= tol, "%s, %d tokens: fake-device output off the CPU backend by %.3g (tolerance %.3g)",
           what, r->T, e, tol);
    if (getenv("FAKE_CUDA_VERBOSE"))
        printf("  %s, %d tokens: off the CPU backend by %.3g of max |y| %.3g\n", what, r->T, e, max_abs(c.y, n));
    run_free(&c);
    eng_layer_destroy(cpu);
}

static const char *path_of(eng_layer *l)
{
    const char *p = eng_layer_extra(l)->expert_path(eng_layer_impl(l));
    return p ? p : "(none)";
}

static int distinct_experts(const run *r, int k, int E)
{
    int seen[256] = { 0 }, n = 0;
    for (int i = 0; i < r->T * k; i++)
        if (r->ids[i] >= 0 && r->ids[i] < E && !seen[r->ids[i]]++)
            n++;
    return n;
}

/* The stream recorded by the layer's cudaStreamCreateWithFlags (log reset before creating it). */
static const void *created_stream(void)
{
    for (int i = 0; i < fake_log_len(); i++)
        if (!strcmp(fake_log_at(i)->name, "cudaStreamCreateWithFlags"))
            return fake_log_at(i)->stream;
    return NULL;
}

/* Calls that take a stream (or run on the cuBLAS handle's): all must be on `st`. */
static int off_stream(const void *st)
{
    static const char *const none[] = { "cudaMalloc", "cudaFree", "cudaMemcpy", "cudaSetDevice", "cudaMemGetInfo",
                                        "cudaEventElapsedTime", "cudaGetLastError", "cudaEventSynchronize", NULL };
    int bad = 0;
    for (int i = 0; i < fake_log_len(); i++) {
        const fake_call *c = fake_log_at(i);
        int skip = 0;
        for (int j = 0; none[j]; j++)
            skip |= !strcmp(c->name, none[j]);
        if (!skip && c->stream != st) {
            fprintf(stderr, "  call %d %s on stream %p, not the layer's %p\n", i, c->name, c->stream, st);
            bad++;
        }
    }
    return bad;
}

/* The log as one string of names, " "-separated. */
static char *trace(void)
{
    size_t n = 1;
    for (int i = 0; i < fake_log_len(); i++)
        n += strlen(fake_log_at(i)->name) + 1;
    char *s = calloc(1, n);
    for (int i = 0; i < fake_log_len(); i++)
        strcat(strcat(s, i ? " " : ""), fake_log_at(i)->name);
    return s;
}

/* (1) The decode forward: the calls, in order, each on the layer's stream; two layers, two streams. */
static void test_sequence(int print)
{
    const char *want =
        "cudaSetDevice cudaMemcpyAsync cudaEventRecord cublasSgemm ek_topk cudaEventRecord "
        "ek_count ek_offsets ek_scatter ek_gather cudaEventRecord cudaEventRecord "
        "ek_ffn_small ek_ffn_small cudaEventRecord ek_ffn_small ek_ffn_small cudaEventRecord "
        "ek_combine cudaEventRecord cudaMemcpyAsync cudaMemcpyAsync cudaMemcpyAsync cudaStreamSynchronize "
        "cudaEventElapsedTime cudaEventElapsedTime cudaEventElapsedTime cudaEventElapsedTime "
        "cudaEventElapsedTime cudaEventElapsedTime";
    eng_config c = cfg(ENG_FP32);
    fake_log_reset();
    eng_layer *a = mk(&c, ENG_BACKEND_CUDA);
    const void *sa = created_stream();
    fake_log_reset();
    eng_layer *b = mk(&c, ENG_BACKEND_CUDA);
    const void *sb = created_stream();
    EXPECT(sa && sb && sa != sb, "two layers share stream %p", sa);

    run w = fwd(a, 4);   /* first forward allocates */
    EXPECT(w.rc == SIM_OK, "warm-up forward: %s", w.err.msg);
    run_free(&w);
    fake_log_reset();
    run r = fwd(a, 4);
    char *got = trace();
    if (print)
        printf("%s\n", got);
    EXPECT(r.rc == SIM_OK, "decode forward: %s", r.err.msg);
    EXPECT(!strcmp(got, want), "decode sequence:\n  got  %s\n  want %s", got, want);
    EXPECT(off_stream(sa) == 0, "layer A's calls left its stream");
    EXPECT(!strcmp(path_of(a), "small-kernel"), "decode expert_path %s, want small-kernel", path_of(a));
    vs_cpu(a, &r, 1e-5, "decode (FP32)");
    free(got);
    run_free(&r);

    fake_log_reset();
    run rb = fwd(b, 4);
    EXPECT(rb.rc == SIM_OK && off_stream(sb) == 0, "layer B's calls left its stream (%s)", rb.err.msg);
    run_free(&rb);
    eng_layer_destroy(a);
    eng_layer_destroy(b);
    EXPECT(fake_live_allocs() == 0, "%d device allocations left after destroying both layers", fake_live_allocs());
}

/* The prefill (cuBLAS) path in FP32: the counts come to the host once, synchronized before use,
 * and the expert GEMMs run as one grouped call per projection. */
static void test_prefill_fp32(void)
{
    eng_config c = cfg(ENG_FP32);
    eng_layer *l = mk(&c, ENG_BACKEND_CUDA);
    run w = fwd(l, 100);
    run_free(&w);
    fake_log_reset();
    run r = fwd(l, 100);
    EXPECT(r.rc == SIM_OK, "prefill forward: %s", r.err.msg);
    EXPECT(!strcmp(path_of(l), "cublas-grouped-fp32"), "prefill expert_path %s, want cublas-grouped-fp32", path_of(l));
    /* routed gate/up and down, then the shared expert's two (one group each) */
    EXPECT(fake_log_count("cublasSgemmGroupedBatched") == 4 && fake_log_count("cublasGemmEx") == 0,
           "grouped calls %d (want 4), per-expert calls %d (want 0)", fake_log_count("cublasSgemmGroupedBatched"),
           fake_log_count("cublasGemmEx"));
    /* the host reads the counts (E ints, copied after the gather) only once the stream is synchronized */
    int gather = -1, copy = -1, sync = -1, gemm = -1;
    for (int i = 0; i < fake_log_len(); i++) {
        const char *n = fake_log_at(i)->name;
        if (gather < 0 && !strcmp(n, "ek_gather"))
            gather = i;
        if (gather >= 0 && copy < 0 && !strcmp(n, "cudaMemcpyAsync") && fake_log_at(i)->bytes == sizeof(int) * (size_t)c.experts)
            copy = i;
        if (copy >= 0 && sync < 0 && !strcmp(n, "cudaStreamSynchronize"))
            sync = i;
        if (gemm < 0 && !strcmp(n, "cublasSgemmGroupedBatched"))
            gemm = i;
    }
    EXPECT(copy >= 0 && sync > copy && gemm > sync, "expert counts: copy at %d, sync at %d, first GEMM at %d", copy, sync, gemm);
    vs_cpu(l, &r, 1e-5, "prefill (FP32, grouped)");
    run_free(&r);
    eng_layer_destroy(l);
}

/* (2) Buffer growth: no allocation at a size seen before or smaller; a larger batch frees
 * each outgrown buffer right before allocating its replacement; nothing leaks. */
static void test_growth(void)
{
    eng_config c = cfg(ENG_FP32);
    const int base = fake_live_allocs();
    eng_layer *l = mk(&c, ENG_BACKEND_CUDA);
    run r = fwd(l, 4);
    run_free(&r);
    const int live4 = fake_live_allocs();
    fake_log_reset();
    r = fwd(l, 4);
    EXPECT(r.rc == SIM_OK && fake_log_count("cudaMalloc") == 0 && fake_log_count("cudaFree") == 0,
           "second forward at 4 tokens: %d allocations, %d frees (want none)", fake_log_count("cudaMalloc"),
           fake_log_count("cudaFree"));
    run_free(&r);
    fake_log_reset();
    const size_t bytes4 = fake_live_bytes();
    r = fwd(l, 200);
    const int m = fake_log_count("cudaMalloc"), f = fake_log_count("cudaFree");
    EXPECT(r.rc == SIM_OK && f > 0 && m > f, "growing to 200 tokens: %d allocations, %d frees (%s)", m, f, r.err.msg);
    EXPECT(fake_live_allocs() == live4 + m - f, "live allocations %d, want %d", fake_live_allocs(), live4 + m - f);
    EXPECT(fake_live_bytes() > bytes4, "live bytes did not grow");
    for (int i = 0; i < fake_log_len(); i++)
        if (!strcmp(fake_log_at(i)->name, "cudaFree")) {
            const fake_call *nx = fake_log_at(i + 1);
            EXPECT(nx && !strcmp(nx->name, "cudaMalloc") && nx->bytes > fake_log_at(i)->bytes,
                   "call %d: a free of %zu bytes not followed by a larger allocation", i, fake_log_at(i)->bytes);
        }
    vs_cpu(l, &r, 1e-5, "after growth");
    run_free(&r);
    for (int T = 200; T >= 50; T -= 150) {
        fake_log_reset();
        r = fwd(l, T);
        EXPECT(r.rc == SIM_OK && fake_log_count("cudaMalloc") + fake_log_count("cudaFree") == 0,
               "forward at %d tokens after 200: %d allocations, %d frees (want none)", T, fake_log_count("cudaMalloc"),
               fake_log_count("cudaFree"));
        run_free(&r);
    }
    eng_layer_destroy(l);
    EXPECT(fake_live_allocs() == base, "%d device allocations leaked", fake_live_allocs() - base);
}

static void expect_msg(const run *r, const char *a, const char *b, const char *what)
{
    EXPECT(r->rc != SIM_OK, "%s: the forward succeeded", what);
    EXPECT(strstr(r->err.msg, a) && (!b || strstr(r->err.msg, b)), "%s: message \"%s\" lacks \"%s\"%s%s", what,
           r->err.msg, a, b ? " or " : "", b ? b : "");
}

/* (3) Errors named in the message, and the layer usable again once the fault is gone. */
static void test_errors(void)
{
    eng_config c = cfg(ENG_FP32);
    const int base = fake_live_allocs();
    eng_layer *l = mk(&c, ENG_BACKEND_CUDA);
    run r = fwd(l, 4);
    run_free(&r);

    fake_fail("cudaMalloc", 1, E_OOM, 0);
    r = fwd(l, 200);
    expect_msg(&r, "out of GPU memory allocating 51200 bytes for input rows", "GiB free", "cudaMalloc out of memory");
    run_free(&r);
    r = fwd(l, 200);
    EXPECT(r.rc == SIM_OK, "forward after the out-of-memory: %s", r.err.msg);
    vs_cpu(l, &r, 1e-5, "after out of memory");
    run_free(&r);

    fake_fail("cudaFree", 1, E_LAUNCH, 0);
    r = fwd(l, 300);
    expect_msg(&r, "cudaFree (input rows, before growing it to 76800 bytes)", "cudaErrorLaunchFailure", "failed free");
    run_free(&r);

    fake_fail("ek_topk", 1, E_LAUNCH, 0);
    r = fwd(l, 4);
    expect_msg(&r, "the top-k kernel (4 tokens, 8 experts, top-2)", "unspecified launch failure", "kernel launch");
    run_free(&r);

    fake_fail("cudaMemcpyAsync", 1, 1, 0);
    r = fwd(l, 4);
    expect_msg(&r, "copying 4 input rows (1024 bytes) to the GPU", "cudaErrorInvalidValue", "input copy");
    run_free(&r);

    fake_fail("cublasSgemm", 1, S_INVALID, 0);
    r = fwd(l, 4);
    expect_msg(&r, "cublasSgemm (router)", "CUBLAS_STATUS_INVALID_VALUE", "router GEMM");
    run_free(&r);
    eng_layer_destroy(l);
    EXPECT(fake_live_allocs() == base, "%d device allocations leaked", fake_live_allocs() - base);

    /* creation: no device, and out of memory part-way (what was allocated is freed) */
    eng_layer *x = NULL;
    sim_err err = { 0 };
    fake_fail("cudaGetDeviceCount", 1, E_NODEV, 0);
    EXPECT(eng_layer_create(&x, &c, ENG_BACKEND_CUDA, NULL, SEED, &err) != SIM_OK && strstr(err.msg, "no CUDA device found"),
           "no device: \"%s\"", err.msg);
    fake_fail("cudaMalloc", 4, E_OOM, 0);
    EXPECT(eng_layer_create(&x, &c, ENG_BACKEND_CUDA, NULL, SEED, &err) != SIM_OK && strstr(err.msg, "out of GPU memory"),
           "out of memory creating a layer: \"%s\"", err.msg);
    EXPECT(fake_live_allocs() == base, "failed creation leaked %d device allocations", fake_live_allocs() - base);
    fake_fail_clear();
}

/* (3) The grouped BF16 GEMM: taken when cuBLAS runs it; NOT_SUPPORTED falls back to one GEMM per
 * expert, says so in expert_path, and stays there; any other status is an error, not a fallback. */
static void test_grouped_status(void)
{
    eng_config c = cfg(ENG_BF16);
    /* BF16 activations and GEMM outputs against the CPU's FP32 ones: 0.2-0.4% here, so a 1%
     * systematic error (a scale, a dropped term) fails */
    const double tol = 1e-2;
    eng_layer *l = mk(&c, ENG_BACKEND_CUDA);
    fake_log_reset();
    run r = fwd(l, 100);
    EXPECT(r.rc == SIM_OK && !strcmp(path_of(l), "cublas-grouped-bf16"), "BF16 prefill: path %s (%s)", path_of(l), r.err.msg);
    EXPECT(fake_log_count("cublasGemmGroupedBatchedEx") == 4 && fake_log_count("cublasGemmEx") == 0,
           "BF16 grouped: %d grouped, %d per-expert calls", fake_log_count("cublasGemmGroupedBatchedEx"),
           fake_log_count("cublasGemmEx"));
    vs_cpu(l, &r, tol, "BF16 grouped");
    run_free(&r);
    eng_layer_destroy(l);

    l = mk(&c, ENG_BACKEND_CUDA);
    fake_log_reset();
    fake_fail("cublasGemmGroupedBatchedEx", 1, S_NOT_SUPPORTED, 0);
    r = fwd(l, 100);
    const int ne = distinct_experts(&r, c.top_k, c.experts);
    EXPECT(r.rc == SIM_OK && !strcmp(path_of(l), "cublas-per-expert-bf16"), "NOT_SUPPORTED: path %s, want "
           "cublas-per-expert-bf16 (%s)", path_of(l), r.err.msg);
    /* one refused grouped call, then per expert: routed gate/up + down, shared gate/up + down */
    EXPECT(fake_log_count("cublasGemmGroupedBatchedEx") == 1 && fake_log_count("cublasGemmEx") == 2 * ne + 2,
           "NOT_SUPPORTED: %d grouped calls (want 1), %d per-expert calls (want %d)",
           fake_log_count("cublasGemmGroupedBatchedEx"), fake_log_count("cublasGemmEx"), 2 * ne + 2);
    vs_cpu(l, &r, tol, "BF16 per-expert fallback");
    run_free(&r);
    fake_log_reset();
    r = fwd(l, 100);
    EXPECT(r.rc == SIM_OK && fake_log_count("cublasGemmGroupedBatchedEx") == 0 && !strcmp(path_of(l), "cublas-per-expert-bf16"),
           "after NOT_SUPPORTED the grouped call was tried again (%d) or the path is %s",
           fake_log_count("cublasGemmGroupedBatchedEx"), path_of(l));
    run_free(&r);
    eng_layer_destroy(l);

    l = mk(&c, ENG_BACKEND_CUDA);
    fake_log_reset();
    fake_fail("cublasGemmGroupedBatchedEx", 1, S_INVALID, 0);
    r = fwd(l, 100);
    expect_msg(&r, "cublasGemmGroupedBatchedEx (BF16)", "CUBLAS_STATUS_INVALID_VALUE", "grouped INVALID_VALUE");
    EXPECT(fake_log_count("cublasGemmEx") == 0, "INVALID_VALUE fell back to %d per-expert GEMMs", fake_log_count("cublasGemmEx"));
    run_free(&r);
    r = fwd(l, 100);
    EXPECT(r.rc == SIM_OK && !strcmp(path_of(l), "cublas-grouped-bf16"), "after INVALID_VALUE the grouped path was "
           "given up: %s (%s)", path_of(l), r.err.msg);
    run_free(&r);
    eng_layer_destroy(l);
}

/* INT8 weights: decode on the small kernel, prefill widened to BF16 one expert at a time. */
static void test_int8(void)
{
    eng_config c = cfg(ENG_INT8);
    eng_layer *l = mk(&c, ENG_BACKEND_CUDA);
    run r = fwd(l, 4);
    EXPECT(r.rc == SIM_OK && !strcmp(path_of(l), "small-kernel"), "INT8 decode: path %s (%s)", path_of(l), r.err.msg);
    /* The CPU backend's INT8 decode quantizes the activations to int16 per token and block of
     * 2,048 columns (engine/README.md, "What the small-batch kernel computes": each product off
     * by at most |w| s_x / 2, ~1.5e-5 of the largest activation; `check` lands near 4e-5), the
     * fake device's kernel multiplies them in float: 5e-4 holds that and stays well under what
     * a wrong scale gives (a 0.2% scale error is 2e-3). */
    vs_cpu(l, &r, 5e-4, "INT8 decode");
    run_free(&r);
    fake_log_reset();
    r = fwd(l, 100);
    const int ne = distinct_experts(&r, c.top_k, c.experts);
    EXPECT(r.rc == SIM_OK && !strcmp(path_of(l), "cublas-per-expert-widened-bf16"), "INT8 prefill: path %s (%s)",
           path_of(l), r.err.msg);
    /* each routed expert's two matrices and the shared expert's two, each widened before its GEMM */
    EXPECT(fake_log_count("ek_widen_bf16") == 2 * ne + 2 && fake_log_count("cublasGemmEx") == 2 * ne + 2,
           "INT8 prefill: %d widenings, %d GEMMs (want %d each)", fake_log_count("ek_widen_bf16"),
           fake_log_count("cublasGemmEx"), 2 * ne + 2);
    vs_cpu(l, &r, 1e-2, "INT8 prefill (BF16 activations)");
    run_free(&r);
    eng_layer_destroy(l);
}

/* The bench extras: L2 flush, the bandwidth and GEMM yardsticks run on the layer's stream, keep
 * or free their buffers, and name the failing call; the GEMM sweep frees its buffers on error. */
static void test_bench_extras(void)
{
    eng_config c = cfg(ENG_BF16);
    eng_layer *l = mk(&c, ENG_BACKEND_CUDA);
    const eng_backend_extra *ex = eng_layer_extra(l);
    void *im = eng_layer_impl(l);
    const void *st = NULL;
    sim_err err = { 0 };
    double t[2] = { -1, -1 }, bytes = 0;

    fake_log_reset();
    EXPECT(ex->flush(im, &err) == SIM_OK && fake_log_count("ek_read") == 1, "flush: %s", err.msg);
    st = fake_log_at(0)->stream;
    EXPECT(ex->membw(im, 2, t, &bytes, &err) == SIM_OK && bytes > 0 && t[0] >= 0 && t[1] >= 0, "membw: %s", err.msg);
    EXPECT(off_stream(st) == 0, "the yardsticks left the layer's stream");
    const int live = fake_live_allocs();
    fake_log_reset();
    EXPECT(ex->membw(im, 2, t, &bytes, &err) == SIM_OK && fake_log_count("cudaMalloc") == 0,
           "second membw allocated %d buffers", fake_log_count("cudaMalloc"));

    fake_log_reset();
    EXPECT(ex->gemm(im, 64, 128, 64, 2, t, &err) == SIM_OK && fake_live_allocs() == live, "GEMM sweep: %s, %d buffers "
           "left", err.msg, fake_live_allocs() - live);
    /* 16 KiB of weights: the pool is capped at 64 matrices, one warm-up run each, then 2 timed */
    EXPECT(fake_log_count("cublasGemmEx") == 66 && fake_log_count("ek_fill_random") == 2,
           "GEMM sweep: %d GEMMs (want 66), %d random fills (want 2)", fake_log_count("cublasGemmEx"),
           fake_log_count("ek_fill_random"));
    fake_fail("cublasGemmEx", 3, S_INVALID, 0);
    EXPECT(ex->gemm(im, 64, 128, 64, 2, t, &err) != SIM_OK && strstr(err.msg, "cublasGemmEx (GEMM sweep) (M 64, N 128, K 64)"),
           "GEMM sweep failure: \"%s\"", err.msg);
    EXPECT(fake_live_allocs() == live, "failed GEMM sweep left %d buffers", fake_live_allocs() - live);
    fake_fail("cudaMalloc", 2, E_OOM, 0);
    EXPECT(ex->gemm(im, 64, 128, 64, 2, t, &err) != SIM_OK && strstr(err.msg, "out of GPU memory allocating 1048576 bytes for GEMM weight pool"),
           "GEMM sweep out of memory: \"%s\"", err.msg);
    EXPECT(fake_live_allocs() == live, "GEMM sweep out of memory left %d buffers", fake_live_allocs() - live);
    fake_fail("ek_read", 1, E_LAUNCH, 0);
    EXPECT(ex->flush(im, &err) != SIM_OK && strstr(err.msg, "the L2 flush read kernel"), "flush failure: \"%s\"", err.msg);
    fake_fail_clear();

    eng_gpu_info gi;
    ex->info(im, &gi);
    EXPECT(!strcmp(gi.name, "fake device (host-only test)") && !strcmp(gi.targets, "fake device"),
           "info: %s, %s", gi.name, gi.targets);
    eng_layer_destroy(l);
}

/* Expert parallelism (under mpirun): the fake-device layer over the host transport against the
 * CPU layer over MPI, each rank its own shard of tokens; then one rank out of memory. */
static void test_ep(void)
{
    eng_transport *th = NULL, *tm = NULL;
    sim_err err = { 0 };
    if (eng_transport_host(&th, &err) != SIM_OK || eng_transport_mpi(&tm, &err) != SIM_OK) {
        fprintf(stderr, "FAIL: transports: %s\n", err.msg);
        fails++;
        return;
    }
    const int rank = th->rank;
    for (int dt = 0; dt < 2; dt++) {
        eng_config c = cfg(dt ? ENG_BF16 : ENG_FP32);
        eng_layer *g = NULL, *cpu = NULL;
        if (eng_layer_create(&g, &c, ENG_BACKEND_CUDA, th, SEED, &err) != SIM_OK ||
            eng_layer_create(&cpu, &c, ENG_BACKEND_CPU, tm, SEED, &err) != SIM_OK) {
            EXPECT(0, "EP layers: %s", err.msg);
            break;
        }
        static const int Ts[] = { 4, 200, 0, 100 };
        for (int i = 0; i < 4; i++) {
            const int T = Ts[i];
            const size_t n = (size_t)T * c.hidden;
            float *x = malloc(sizeof(float) * n + 4), *y = malloc(sizeof(float) * n + 4), *yc = malloc(sizeof(float) * n + 4);
            eng_fill_input(x, T, c.hidden, SEED + 1, (long)rank * T);
            const size_t staged = eng_transport_host_staged(th);
            fake_log_reset();
            int rc = eng_forward(g, x, T, y, NULL, NULL, NULL, &err);
            EXPECT(rc == SIM_OK, "rank %d, %s, %d tokens: %s", rank, eng_dtype_name(c.dtype), T, err.msg);
            EXPECT(T == 0 || eng_transport_host_staged(th) > staged, "rank %d, %d tokens: nothing staged through the "
                   "host transport", rank, T);
            /* 4 tokens: at most 8 rows per local expert (small kernel); 200: 800 rows over 8
             * experts, more than 64 on some expert (cuBLAS); 100 may go either way */
            const char *p = path_of(g);
            EXPECT((T != 4 || !strcmp(p, "small-kernel")) &&
                   (T != 200 || !strcmp(p, dt ? "cublas-grouped-bf16" : "cublas-grouped-fp32")),
                   "rank %d, %d tokens: expert_path %s", rank, T, p);
            rc = eng_forward(cpu, x, T, yc, NULL, NULL, NULL, &err);
            const double e = rel_err(y, yc, (long)n), tol = dt ? 1e-2 : 1e-5;
            EXPECT(rc == SIM_OK && e <= tol, "rank %d, %s, %d tokens: off the CPU backend over MPI by %.3g (tolerance %.3g)",
                   rank, eng_dtype_name(c.dtype), T, e, tol);
            free(x), free(y), free(yc);
        }
        /* rank 1 cannot grow its input buffer: every rank fails, rank 1 saying why */
        const int T = 300;
        float *x = malloc(sizeof(float) * (size_t)T * c.hidden), *y = malloc(sizeof(float) * (size_t)T * c.hidden);
        eng_fill_input(x, T, c.hidden, SEED + 1, (long)rank * T);
        if (rank == 1)
            fake_fail("cudaMalloc", 1, E_OOM, 0);
        int rc = eng_forward(g, x, T, y, NULL, NULL, NULL, &err);
        EXPECT(rc != SIM_OK && strstr(err.msg, rank == 1 ? "out of GPU memory allocating" : "failed on another rank"),
               "rank %d, one rank out of memory: rc %d, \"%s\"", rank, rc, err.msg);
        rc = eng_forward(g, x, T, y, NULL, NULL, NULL, &err);
        EXPECT(rc == SIM_OK, "rank %d, the forward after one rank's out-of-memory: %s", rank, err.msg);
        free(x), free(y);
        eng_layer_destroy(g);
        eng_layer_destroy(cpu);
    }
    EXPECT(fake_live_allocs() == 0, "rank %d: %d device allocations left", rank, fake_live_allocs());
    eng_transport_destroy(th);
    eng_transport_destroy(tm);
}

/* FP8 weights (--fp8): codes and row scales uploaded, the layer's weights replaced by their
 * dequantized values; decode and the widened prefill against the reference on those. */
static void test_fp8(void)
{
    eng_config c = cfg(ENG_BF16);
    eng_fp8_weights = 1;
    eng_layer *l = mk(&c, ENG_BACKEND_CUDA);
    eng_fp8_weights = 0;
    const char *pr = eng_layer_extra(l)->precision(eng_layer_impl(l));
    EXPECT(pr && !strcmp(pr, "fp8"), "FP8 layer: precision %s", pr ? pr : "(null)");
    for (int i = 0; i < 2; i++) {
        const int T = i ? 100 : 4;
        run r = fwd(l, T);
        float *yr = malloc(sizeof(float) * (size_t)T * c.hidden);
        sim_err err = { 0 };
        int rc = eng_ref_forward(eng_layer_weights(l), r.x, T, NULL, NULL, yr, &err);
        const double e = rel_err(r.y, yr, (long)T * c.hidden), tol = i ? 1e-2 : 1e-5;
        EXPECT(r.rc == SIM_OK && rc == SIM_OK && e <= tol, "FP8, %d tokens: off the reference by %.3g (tolerance %.3g; %s%s)",
               T, e, tol, r.err.msg, err.msg);
        EXPECT(!strcmp(path_of(l), i ? "cublas-per-expert-widened-bf16" : "small-kernel"), "FP8, %d tokens: path %s", T, path_of(l));
        free(yr);
        run_free(&r);
    }
    eng_layer_destroy(l);
}

int main(int argc, char **argv)
{
    eng_cuda_register();
    if (argc > 1 && !strcmp(argv[1], "--ep")) {
        MPI_Init(&argc, &argv);
        test_ep();
        int all = 0;
        MPI_Allreduce(&fails, &all, 1, MPI_INT, MPI_SUM, MPI_COMM_WORLD);
        int rank = 0, size = 1;
        MPI_Comm_rank(MPI_COMM_WORLD, &rank);
        MPI_Comm_size(MPI_COMM_WORLD, &size);
        if (rank == 0)
            printf("test_fake_cuda --ep: %s (%d ranks)\n", all ? "FAILED" : "ok", size);
        MPI_Finalize();
        return fails ? 1 : 0;
    }
    test_sequence(argc > 1 && !strcmp(argv[1], "--trace"));
    test_prefill_fp32();
    test_growth();
    test_errors();
    test_grouped_status();
    test_int8();
    test_fp8();
    test_bench_extras();
    EXPECT(fake_bad_frees() == 0, "%d frees of pointers never allocated", fake_bad_frees());
    if (fails)
        fprintf(stderr, "test_fake_cuda: %d failure(s)\n", fails);
    else
        printf("test_fake_cuda: ok\n");
    return fails ? 1 : 0;
}
