/* backend_cuda.c: the CUDA backend behind engine.h: weights on the device (FP32, BF16, INT8 or
 * FP8 with row scales), router and top-k, permutation, expert FFNs (own memory-bound kernel or
 * cuBLAS), shared experts, combine; expert parallelism through an NCCL or host transport. */
#include "cuda_api.h"
#include "fp8.h"
#include "kernels.h"
#include "transport_host.h"
#include "../backend.h"

#include <cublas_v2.h>
#include <cuda_runtime_api.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#ifndef MOESIM_CUDA_TARGETS
#define MOESIM_CUDA_TARGETS "unknown targets"
#endif

/* Up to this many rows per expert the FFNs run on the memory-bound kernel (kernels.cu), whose
 * grid walks the active experts from device memory: no host sync, as decode needs. Above it,
 * cuBLAS tensor-core GEMMs, which need the per-expert counts on the host (one sync). With one
 * rank no expert can get more rows than there are tokens, so the choice is made from T alone. */
#define SMALL_ROWS ENG_CUDA_SMALL_ROWS

typedef struct dbuf {
    void *p;
    size_t cap;
} dbuf;

enum { EV_START, EV_ROUTER, EV_PERMUTE, EV_DISPATCH, EV_EXPERTS, EV_SHARED, EV_COMBINE, EV_N };

/* The expert FFN path of the last forward, for the bench JSON's expert_path. */
enum { GP_NONE, GP_SMALL, GP_GROUPED, GP_PER_EXPERT, GP_WIDENED };
static const char *gp_name(int p, int f32)
{
    switch (p) {
    case GP_SMALL: return "small-kernel";
    case GP_GROUPED: return f32 ? "cublas-grouped-fp32" : "cublas-grouped-bf16";
    case GP_PER_EXPERT: return f32 ? "cublas-per-expert-fp32" : "cublas-per-expert-bf16";
    case GP_WIDENED: return "cublas-per-expert-widened-bf16";
    default: return NULL;
    }
}

typedef struct cu_layer {
    eng_config c;
    eng_transport *tr;
    eng_weights w;                /* host copy (for FP8: the dequantized values) */
    int el, dev, nsm, grid, fp8, no_grouped;
    int path;                     /* GP_*: how the routed experts ran in the last forward */
    ek_wtype wt;
    size_t esz;                   /* bytes per stored weight */
    cudaStream_t st;
    cublasHandle_t cb;
    cudaEvent_t ev[EV_N];
    void *w13, *w2, *s13, *s2;    /* device weights: local experts back to back; shared */
    float *sc13, *sc2, *ssc13, *ssc2, *router;
    dbuf x, y, logits, ids, wts, cnt, off, cur, slot, xs, xr, xe, gu, h, ye, yr, yb;
    dbuf lcnt, loff, act, nact, seg, xb, wb, ptrs, flush, bw, sink, cb16;
    int *hcnt, *hrcnt, *hseg, *lc, *lo;   /* host: counts sent and received, segments, local counts/offsets */
    size_t *sb, *rb;
    int hcap, nseg;
    size_t bw_bytes;
} cu_layer;

static int cu_fail(sim_err *err, cudaError_t e, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static int cu_fail(sim_err *err, cudaError_t e, const char *fmt, ...)
{
    char what[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(what, sizeof what, fmt, ap);
    va_end(ap);
    cudaGetLastError();   /* clear a non-sticky error so later calls are not blamed for it */
    return sim_fail(err, SIM_EFAIL, "CUDA error in %s: %s (%s)", what, cudaGetErrorString(e), cudaGetErrorName(e));
}

static int cb_fail(sim_err *err, cublasStatus_t s, const char *what, int M, int N, int K)
{
    return sim_fail(err, SIM_EFAIL, "cuBLAS error in %s (M %d, N %d, K %d): %s (status %d)", what, M, N, K,
                    cublasGetStatusString(s), (int)s);
}

#define CK(call, ...)                                                                            \
    do {                                                                                         \
        cudaError_t e_ = (cudaError_t)(call);                                                    \
        if (e_ != cudaSuccess)                                                                   \
            return cu_fail(err, e_, __VA_ARGS__);                                                \
    } while (0)

/* Device allocation with the sizes in the message: out of memory names what and how much. */
static int dalloc(void **p, size_t bytes, const char *what, sim_err *err)
{
    cudaError_t e = cudaMalloc(p, bytes ? bytes : 16);
    if (e == cudaSuccess)
        return SIM_OK;
    *p = NULL;
    cudaGetLastError();
    size_t fr = 0, tot = 0;
    cudaMemGetInfo(&fr, &tot);
    if (e == cudaErrorMemoryAllocation)
        return sim_fail(err, SIM_EFAIL, "out of GPU memory allocating %zu bytes for %s (%.2f GiB free of %.2f GiB)",
                        bytes, what, fr / 1073741824.0, tot / 1073741824.0);
    return cu_fail(err, e, "cudaMalloc (%zu bytes for %s)", bytes, what);
}

static int dgrow(dbuf *b, size_t bytes, const char *what, sim_err *err)
{
    if (bytes <= b->cap && b->p)
        return SIM_OK;
    cudaError_t e = b->p ? cudaFree(b->p) : cudaSuccess;
    b->p = NULL;
    b->cap = 0;
    if (e != cudaSuccess)   /* a failed free is a sticky error from earlier work: say so here */
        return cu_fail(err, e, "cudaFree (%s, before growing it to %zu bytes)", what, bytes);
    if (dalloc(&b->p, bytes, what, err) != SIM_OK)
        return SIM_EFAIL;
    b->cap = bytes;
    return SIM_OK;
}

static int hgrow(cu_layer *L, int n, sim_err *err)
{
    if (n <= L->hcap)
        return SIM_OK;
    free(L->hcnt), free(L->hrcnt), free(L->hseg), free(L->lc), free(L->lo), free(L->sb), free(L->rb);
    L->hcnt = malloc(sizeof(int) * (size_t)n);
    L->hrcnt = malloc(sizeof(int) * (size_t)n);
    L->hseg = malloc(sizeof(int) * 3 * (size_t)n);
    L->lc = malloc(sizeof(int) * (size_t)n);
    L->lo = malloc(sizeof(int) * (size_t)(n + 1));
    L->sb = malloc(sizeof(size_t) * (size_t)n);
    L->rb = malloc(sizeof(size_t) * (size_t)n);
    if (!L->hcnt || !L->hrcnt || !L->hseg || !L->lc || !L->lo || !L->sb || !L->rb) {
        L->hcap = 0;
        return sim_fail(err, SIM_EFAIL, "out of memory for %d expert counts", n);
    }
    L->hcap = n;
    return SIM_OK;
}

/* --- devices --- */

int eng_cuda_pick_device(int rank, sim_err *err)
{
    int n = 0;
    cudaError_t e = cudaGetDeviceCount(&n);
    if (e != cudaSuccess || n == 0) {
        cudaGetLastError();
        sim_fail(err, SIM_EINPUT, "backend cuda: no CUDA device found (cudaGetDeviceCount: %s)",
                 e != cudaSuccess ? cudaGetErrorString(e) : "0 devices");
        return -1;
    }
    const char *lr = getenv("OMPI_COMM_WORLD_LOCAL_RANK");
    if (!lr)
        lr = getenv("MPI_LOCALRANKID");
    int local = lr ? atoi(lr) : rank;
    return (local < 0 ? 0 : local) % n;
}

int eng_cuda_describe(char *out, size_t cap)
{
    int n = 0, drv = 0, rt = 0;
    cudaError_t e = cudaGetDeviceCount(&n);
    if (e != cudaSuccess || n == 0) {
        cudaGetLastError();
        snprintf(out, cap, "CUDA built (%s), no CUDA device found (cudaGetDeviceCount: %s)", MOESIM_CUDA_TARGETS,
                 e != cudaSuccess ? cudaGetErrorString(e) : "0 devices");
        return 0;
    }
    cudaDriverGetVersion(&drv);
    cudaRuntimeGetVersion(&rt);
    size_t len = (size_t)snprintf(out, cap, "CUDA built (%s), runtime %d.%d, driver %d.%d, %d device(s):", MOESIM_CUDA_TARGETS,
                                  rt / 1000, rt % 1000 / 10, drv / 1000, drv % 1000 / 10, n);
    for (int i = 0; i < n && len < cap; i++) {
        struct cudaDeviceProp p;
        if (cudaGetDeviceProperties(&p, i) == cudaSuccess)
            len += (size_t)snprintf(out + len, cap - len, " [%d] %s (sm_%d%d, %d SMs, %.0f GiB)", i, p.name, p.major,
                                    p.minor, p.multiProcessorCount, p.totalGlobalMem / 1073741824.0);
    }
    return n;
}

/* --- weights --- */

static ek_wtype wtype_of(const cu_layer *L)
{
    if (L->fp8)
        return EK_FP8;
    return L->c.dtype == ENG_BF16 ? EK_BF16 : L->c.dtype == ENG_INT8 ? EK_I8 : EK_F32;
}

/* FP8: quantize the host matrix row by row into codes + scales, and replace the host matrix by
 * the exact dequantized values in BF16 (power-of-two scales make them exact), which is what the
 * reference then checks against. */
static int quantize_fp8(eng_mat *m, uint8_t *codes, float *scales, sim_err *err)
{
    const int K = m->cols;
    uint16_t *deq = eng_alloc(sizeof(uint16_t) * (size_t)m->rows * (size_t)K, "dequantized FP8 weights", err);
    if (!deq)
        return SIM_EFAIL;
    int bad = 0;
    #pragma omp parallel for schedule(static) reduction(|: bad)
    for (int r = 0; r < m->rows; r++) {
        float *row = malloc(sizeof(float) * (size_t)(K ? K : 1));
        if (!row) {
            bad = 1;
            continue;
        }
        for (int k = 0; k < K; k++)
            row[k] = eng_mat_get(m, r, k);
        const float s = eng_fp8_row_scale(row, K);
        scales[r] = s;
        for (int k = 0; k < K; k++) {
            uint8_t q = eng_fp8_encode(row[k] / s);
            codes[(size_t)r * K + k] = q;
            deq[(size_t)r * K + k] = eng_f32_to_bf16(eng_fp8_decode(q) * s);
        }
        free(row);
    }
    if (bad) {
        free(deq);
        return sim_fail(err, SIM_EFAIL, "out of memory quantizing %d x %d weights to FP8", m->rows, K);
    }
    free(m->data);
    free(m->scale);
    m->data = deq;
    m->scale = NULL;
    m->dtype = ENG_BF16;
    return SIM_OK;
}

/* Matrices mats[0..n) (rows x K each) into one device array, scales into another. */
static int upload(cu_layer *L, eng_mat *mats, int n, void **dw, float **dsc, const char *what, sim_err *err)
{
    if (n == 0)
        return SIM_OK;
    const int rows = mats[0].rows, K = mats[0].cols;
    const size_t per = (size_t)rows * K, bytes = per * L->esz;
    const int scaled = L->wt == EK_I8 || L->wt == EK_FP8;
    if (dalloc(dw, bytes * (size_t)n, what, err) != SIM_OK)
        return SIM_EFAIL;
    if (scaled && dalloc((void **)dsc, sizeof(float) * (size_t)rows * n, what, err) != SIM_OK)
        return SIM_EFAIL;
    uint8_t *codes = L->fp8 ? malloc(per ? per : 1) : NULL;
    float *sc = L->fp8 ? malloc(sizeof(float) * (size_t)rows) : NULL;
    if (L->fp8 && (!codes || !sc)) {
        free(codes), free(sc);
        return sim_fail(err, SIM_EFAIL, "out of memory staging %s", what);
    }
    int rc = SIM_OK;
    for (int i = 0; i < n && rc == SIM_OK; i++) {
        const void *src = mats[i].data;
        const float *ssrc = mats[i].scale;
        if (L->fp8) {
            if ((rc = quantize_fp8(&mats[i], codes, sc, err)) != SIM_OK)
                break;
            src = codes;
            ssrc = sc;
        }
        cudaError_t e = cudaMemcpy((char *)*dw + bytes * i, src, bytes, cudaMemcpyHostToDevice);
        if (e == cudaSuccess && scaled)
            e = cudaMemcpy(*dsc + (size_t)rows * i, ssrc, sizeof(float) * rows, cudaMemcpyHostToDevice);
        if (e != cudaSuccess)
            rc = cu_fail(err, e, "cudaMemcpy (%zu bytes of %s)", bytes, what);
    }
    free(codes), free(sc);
    return rc;
}

/* --- FFNs --- */

typedef struct ffn_dev {
    const void *w13, *w2;
    const float *sc13, *sc2;
    int width;                    /* F (routed) or shared * shared_ffn */
} ffn_dev;

static int ffn_small(cu_layer *L, const ffn_dev *f, const float *x, const int *off, const int *act,
                     const int *nact, int m, float *h, float *y, sim_err *err)
{
    const int d = L->c.hidden, W = f->width;
    ek_ffn a = { L->wt, f->w13, f->sc13, (long long)2 * W * d, 2 * W, d, 1, x, off, act, nact, m, h };
    CK(ek_ffn_small(&a, L->grid, L->st), "the expert gate/up kernel (hidden %d, width %d, %s)", d, W,
       off ? "routed" : "shared");
    ek_ffn b = { L->wt, f->w2, f->sc2, (long long)d * W, d, W, 0, h, off, act, nact, m, y };
    CK(ek_ffn_small(&b, L->grid, L->st), "the expert down kernel (hidden %d, width %d)", d, W);
    return SIM_OK;
}

/* C[M][N] = A[M][K] B[N][K]^T for each listed group, row-major, through cuBLAS's column-major
 * view (C^T = B A^T). One grouped call when the library takes it; otherwise one call each.
 *
 * Types: cublasGemmGroupedBatchedEx under CUBLAS_COMPUTE_32F takes only matching A/B/C types
 * (BF16->BF16, F16->F16, F32->F32; cuBLAS documentation, cublasGemmGroupedBatchedEx). BF16
 * inputs with FP32 outputs, as this backend first asked, returned NOT_SUPPORTED on the first
 * call and every prefill ran per expert. So the grouped call writes BF16 (FP32 accumulation,
 * one rounding at the end, as torch's BF16 grouped_mm returns) into C16, and the caller widens
 * or consumes it; the per-expert fallback, which cublasGemmEx runs with FP32 output, writes
 * C directly. *grouped says which ran. */
typedef struct gemm_set {
    int n;
    int *M;                       /* [n] */
    const void **A, **B;
    void **C, **C16;              /* FP32 outputs (per-expert path); BF16 outputs (grouped, BF16) */
    int N, K;
} gemm_set;

static int gemm_grouped(cu_layer *L, gemm_set *g, cudaDataType_t ab, cublasStatus_t *s, sim_err *err)
{
    const int G = g->n;
    cublasOperation_t *ta = malloc(sizeof *ta * G), *tb = malloc(sizeof *tb * G);
    int *m = malloc(sizeof(int) * G), *nn = malloc(sizeof(int) * G), *k = malloc(sizeof(int) * G);
    int *lda = malloc(sizeof(int) * G), *ldb = malloc(sizeof(int) * G), *ldc = malloc(sizeof(int) * G);
    int *gs = malloc(sizeof(int) * G);
    float *al = malloc(sizeof(float) * G), *be = malloc(sizeof(float) * G);
    const void **hp = malloc(sizeof(void *) * 3 * G);
    int rc = ta && tb && m && nn && k && lda && ldb && ldc && gs && al && be && hp ? SIM_OK
             : sim_fail(err, SIM_EFAIL, "out of memory for %d grouped GEMMs", G);
    if (rc == SIM_OK)
        rc = dgrow(&L->ptrs, sizeof(void *) * 3 * G, "grouped GEMM pointers", err);
    if (rc == SIM_OK) {
        for (int i = 0; i < G; i++) {
            ta[i] = CUBLAS_OP_T, tb[i] = CUBLAS_OP_N;
            m[i] = g->N, nn[i] = g->M[i], k[i] = g->K;
            lda[i] = ldb[i] = g->K, ldc[i] = g->N, gs[i] = 1, al[i] = 1.0f, be[i] = 0.0f;
            hp[i] = g->B[i], hp[G + i] = g->A[i], hp[2 * G + i] = ab == CUDA_R_32F ? g->C[i] : g->C16[i];
        }
        /* pageable source: the copy has left hp when the call returns, so hp may be freed */
        cudaError_t e = cudaMemcpyAsync(L->ptrs.p, hp, sizeof(void *) * 3 * G, cudaMemcpyHostToDevice, L->st);
        if (e != cudaSuccess)
            rc = cu_fail(err, e, "cudaMemcpyAsync (grouped GEMM pointers, %d groups)", G);
    }
    if (rc == SIM_OK) {
        const void *const *dA = (const void *const *)L->ptrs.p;
        if (ab == CUDA_R_32F)
            *s = cublasSgemmGroupedBatched(L->cb, ta, tb, m, nn, k, al, (const float *const *)dA, lda,
                                           (const float *const *)(dA + G), ldb, be, (float *const *)(dA + 2 * G),
                                           ldc, G, gs);
        else
            *s = cublasGemmGroupedBatchedEx(L->cb, ta, tb, m, nn, k, al, dA, ab, lda, dA + G, ab, ldb, be,
                                            (void *const *)(dA + 2 * G), ab, ldc, G, gs, CUBLAS_COMPUTE_32F);
    }
    free(ta), free(tb), free(m), free(nn), free(k), free(lda), free(ldb), free(ldc), free(gs), free(al), free(be);
    free(hp);
    return rc;
}

static int gemm_groups(cu_layer *L, gemm_set *g, cudaDataType_t ab, int *grouped, sim_err *err)
{
    *grouped = 0;
    if (g->n == 0)
        return SIM_OK;
    const float one = 1.0f, zero = 0.0f;
    if (!L->no_grouped && (ab == CUDA_R_32F || g->C16)) {
        cublasStatus_t s = CUBLAS_STATUS_NOT_SUPPORTED;
        int rc = gemm_grouped(L, g, ab, &s, err);
        if (rc != SIM_OK)
            return rc;
        if (s == CUBLAS_STATUS_SUCCESS) {
            *grouped = 1;
            return SIM_OK;
        }
        /* only "this library cannot": any other status is an error, not a reason to go slow */
        if (s != CUBLAS_STATUS_NOT_SUPPORTED)
            return cb_fail(err, s, ab == CUDA_R_32F ? "cublasSgemmGroupedBatched" : "cublasGemmGroupedBatchedEx (BF16)",
                           g->M[0], g->N, g->K);
        L->no_grouped = 1;   /* this library or GPU has no grouped GEMM for the type: loop from now on */
    }
    for (int i = 0; i < g->n; i++) {
        cublasStatus_t s = cublasGemmEx(L->cb, CUBLAS_OP_T, CUBLAS_OP_N, g->N, g->M[i], g->K, &one, g->B[i], ab, g->K,
                                        g->A[i], ab, g->K, &zero, g->C[i], CUDA_R_32F, g->N, CUBLAS_COMPUTE_32F,
                                        CUBLAS_GEMM_DEFAULT);
        if (s != CUBLAS_STATUS_SUCCESS)
            return cb_fail(err, s, "cublasGemmEx (expert GEMM)", g->M[i], g->N, g->K);
    }
    return SIM_OK;
}

/* Scratch of the large path for `rows` rows of an FFN `W` wide, sized before the ranks agree. */
static int size_large(cu_layer *L, long rows, int W, sim_err *err)
{
    const int d = L->c.hidden, f32 = L->wt == EK_F32, direct = L->wt == EK_F32 || L->wt == EK_BF16;
    const size_t ab = f32 ? 4 : 2, wmax = (size_t)(2 * W > d ? 2 * W : d) * (size_t)(W > d ? W : d);
    if (dgrow(&L->gu, sizeof(float) * (size_t)rows * 2 * W + 16, "gate/up rows", err) ||
        dgrow(&L->h, ab * (size_t)rows * W + 16, "expert hidden rows", err) ||
        (!f32 && dgrow(&L->xb, 2 * (size_t)rows * d + 16, "BF16 expert inputs", err)) ||
        (!direct && dgrow(&L->wb, 2 * wmax, "widened expert weights", err)) ||
        (!f32 && dgrow(&L->cb16, 2 * (size_t)rows * (size_t)(2 * W > d ? 2 * W : d) + 16, "BF16 GEMM outputs", err)) ||
        dgrow(&L->ptrs, sizeof(void *) * 3 * (size_t)(L->c.experts + 1), "grouped GEMM pointers", err))
        return SIM_EFAIL;
    return SIM_OK;
}

/* Large batches: n FFNs (experts) with hcnt[i] rows from hoff[i], on the tensor cores (BF16
 * in, FP32 accumulation) or in FP32 for FP32 weights. BF16 weights: one grouped GEMM per
 * projection with BF16 outputs (gemm_groups), SwiGLU read from them, the down projection
 * widened to FP32 for the combine. INT8/FP8 experts are widened to BF16 one at a time into a
 * scratch buffer and multiplied one GEMM each (exact for FP8: power-of-two scales; not native
 * FP8, issue 19 item 4). *path: the path that ran (gp_name). */
static int ffn_large(cu_layer *L, const ffn_dev *f, int n, const float *x, const int *hcnt, const int *hoff,
                     float *y, int *path, sim_err *err)
{
    const int d = L->c.hidden, W = f->width;
    const long rows = hoff[n];
    if (rows == 0)
        return SIM_OK;
    const int f32 = L->wt == EK_F32, direct = L->wt == EK_F32 || L->wt == EK_BF16;
    const size_t ab = f32 ? 4 : 2;
    if (size_large(L, rows, W, err) != SIM_OK)
        return SIM_EFAIL;
    const void *xin = x;
    if (!f32) {
        CK(ek_to_bf16(x, rows * d, L->xb.p, L->st), "the BF16 conversion kernel (%ld rows x %d)", rows, d);
        xin = L->xb.p;
    }
    int *M = malloc(sizeof(int) * n);
    const void **A = malloc(sizeof(void *) * n), **B = malloc(sizeof(void *) * n);
    void **C = malloc(sizeof(void *) * n), **C16 = malloc(sizeof(void *) * n);
    int rc = M && A && B && C && C16 ? SIM_OK : sim_fail(err, SIM_EFAIL, "out of memory for %d GEMM descriptors", n);
    const cudaDataType_t t = f32 ? CUDA_R_32F : CUDA_R_16BF;
    uint16_t *o16 = L->cb16.p;
    *path = direct ? GP_GROUPED : GP_WIDENED;
    for (int phase = 0; phase < 2 && rc == SIM_OK; phase++) {
        /* phase 0: gu = x W13^T (2W wide); phase 1: y = h W2^T (d wide) */
        const int N = phase ? d : 2 * W, K = phase ? W : d;
        const void *wbase = phase ? f->w2 : f->w13;
        const float *sc = phase ? f->sc2 : f->sc13;
        float *out = phase ? y : (float *)L->gu.p;
        gemm_set g = { 0, M, A, B, C, direct && !f32 ? C16 : NULL, N, K };
        int grouped = 0;
        for (int i = 0; i < n && rc == SIM_OK; i++) {
            if (!hcnt[i])
                continue;
            const void *wi = (const char *)wbase + (size_t)i * N * K * L->esz;
            const void *ai = phase ? (const char *)L->h.p + ab * (size_t)hoff[i] * W : (const char *)xin + ab * (size_t)hoff[i] * d;
            if (!direct) {
                /* one expert at a time through the scratch: each GEMM right after its widening */
                CK(ek_widen_bf16(L->wt, wi, sc + (size_t)i * N, N, K, L->wb.p, L->st), "the widening kernel (expert %d, %d x %d)", i, N, K);
                gemm_set one = { 1, M, A, B, C, NULL, N, K };
                M[0] = hcnt[i], A[0] = ai, B[0] = L->wb.p, C[0] = out + (size_t)hoff[i] * N;
                rc = gemm_groups(L, &one, t, &grouped, err);
                continue;
            }
            M[g.n] = hcnt[i], A[g.n] = ai, B[g.n] = wi, C[g.n] = out + (size_t)hoff[i] * N;
            C16[g.n] = o16 + (size_t)hoff[i] * N;
            g.n++;
        }
        if (rc == SIM_OK && direct) {
            rc = gemm_groups(L, &g, t, &grouped, err);
            if (rc == SIM_OK && !grouped)
                *path = GP_PER_EXPERT;
        }
        /* BF16 outputs of the grouped call: SwiGLU reads them; the down projection is widened */
        const int b16 = rc == SIM_OK && direct && !f32 && grouped;
        if (rc == SIM_OK && phase == 0) {
            cudaError_t e = b16 ? ek_swiglu_bf16(o16, rows, W, L->h.p, L->st) : ek_swiglu(L->gu.p, rows, W, L->h.p, !f32, L->st);
            if (e != cudaSuccess)
                rc = cu_fail(err, e, "the SwiGLU kernel (%ld rows x %d)", rows, W);
        } else if (b16) {
            cudaError_t e = ek_bf16_to_f32(o16, rows * d, y, L->st);
            if (e != cudaSuccess)
                rc = cu_fail(err, e, "the BF16 widening kernel (%ld rows x %d)", rows, d);
        }
    }
    free(M), free(A), free(B), free(C), free(C16);
    return rc;
}

/* --- forward --- */

static int cu_forward_body(cu_layer *L, const float *x, int T, float *y, const eng_routing *force,
                           eng_routing *rout, sim_err *err)
{
    eng_transport *tr = L->tr;
    const int d = L->c.hidden, E = L->c.experts, k = L->c.top_k, ep = tr->size, el = L->el, F = L->c.ffn;
    const int S = L->c.shared * L->c.shared_ffn;
    const long rows = (long)T * k;
    const size_t row = sizeof(float) * (size_t)d;
    int rc = force ? eng_routing_check(force, T, &L->c, err) : SIM_OK;
    if (rc == SIM_OK && rows > INT_MAX / 2)
        rc = sim_fail(err, SIM_EINPUT, "%d tokens x top-%d = %ld rows: more than the CUDA backend's int row index", T, k, rows);
    if (rc == SIM_OK && (dgrow(&L->x, row * T, "input rows", err) || dgrow(&L->y, row * T, "output rows", err) ||
                         dgrow(&L->logits, sizeof(float) * (size_t)T * E, "router logits", err) ||
                         dgrow(&L->ids, sizeof(int) * rows, "routing ids", err) ||
                         dgrow(&L->wts, sizeof(float) * rows, "routing weights", err) ||
                         dgrow(&L->cnt, sizeof(int) * E, "expert counts", err) ||
                         dgrow(&L->off, sizeof(int) * (E + 1), "expert offsets", err) ||
                         dgrow(&L->cur, sizeof(int) * E, "expert cursors", err) ||
                         dgrow(&L->slot, sizeof(int) * rows, "permutation", err) ||
                         dgrow(&L->xs, row * rows, "dispatch rows", err) ||
                         dgrow(&L->lcnt, sizeof(int) * (el + 1), "local counts", err) ||
                         dgrow(&L->loff, sizeof(int) * (el + 1), "local offsets", err) ||
                         dgrow(&L->act, sizeof(int) * (el + 1), "active experts", err) ||
                         dgrow(&L->nact, sizeof(int), "active experts", err) ||
                         dgrow(&L->seg, sizeof(int) * 3 * (size_t)E, "regroup segments", err) ||
                         (S > 0 && dgrow(&L->h, sizeof(float) * (size_t)T * S, "shared hidden rows", err)) ||
                         (ep > 1 && dgrow(&L->yb, row * rows, "combine rows", err)) ||
                         hgrow(L, E, err)))
        rc = SIM_EFAIL;
    int all = tr->ops->agree(tr, rc);
    if (all != SIM_OK)
        return rc != SIM_OK ? rc : sim_fail(err, all, "forward failed on another rank");

    if (T > 0)
        CK(cudaMemcpyAsync(L->x.p, x, row * T, cudaMemcpyHostToDevice, L->st), "copying %d input rows (%zu bytes) to the GPU", T, row * T);
    CK(cudaEventRecord(L->ev[EV_START], L->st), "cudaEventRecord");

    /* router: logits = x R^T (FP32, as models ship it), then top-k with scoring fused */
    if (force) {
        CK(cudaMemcpyAsync(L->ids.p, force->expert, sizeof(int) * rows, cudaMemcpyHostToDevice, L->st), "copying a routing");
        CK(cudaMemcpyAsync(L->wts.p, force->weight, sizeof(float) * rows, cudaMemcpyHostToDevice, L->st), "copying a routing");
    } else if (T > 0) {
        const float one = 1.0f, zero = 0.0f;
        cublasStatus_t s = cublasSgemm(L->cb, CUBLAS_OP_T, CUBLAS_OP_N, E, T, d, &one, L->router, d, L->x.p, d, &zero,
                                       L->logits.p, E);
        if (s != CUBLAS_STATUS_SUCCESS)
            return cb_fail(err, s, "cublasSgemm (router)", T, E, d);
        CK(ek_topk(L->logits.p, T, E, k, L->c.scoring == ENG_SIGMOID, L->ids.p, L->wts.p, L->st),
           "the top-k kernel (%d tokens, %d experts, top-%d)", T, E, k);
    }
    CK(cudaEventRecord(L->ev[EV_ROUTER], L->st), "cudaEventRecord");

    /* permute: counts, offsets, slots, gather, all on the device */
    CK(ek_count(L->ids.p, rows, E, L->cnt.p, L->st), "the count kernel (%ld rows, %d experts)", rows, E);
    CK(ek_offsets(L->cnt.p, E, L->off.p, ep == 1 ? L->act.p : NULL, ep == 1 ? L->nact.p : NULL, L->st), "the scan kernel (%d experts)", E);
    CK(ek_scatter(L->ids.p, rows, E, L->off.p, L->cur.p, L->slot.p, L->st), "the scatter kernel (%ld rows)", rows);
    CK(ek_gather(L->x.p, d, L->slot.p, rows, k, L->xs.p, L->st), "the gather kernel (%ld rows x %d)", rows, d);
    CK(cudaEventRecord(L->ev[EV_PERMUTE], L->st), "cudaEventRecord");

    /* dispatch: with one rank a no-op; otherwise counts to the host, exchanged, rows sent */
    long recv_rows = rows;
    int small = T <= SMALL_ROWS;
    const float *xe = L->xs.p;
    const int *loff_dev = L->off.p;
    if (ep > 1) {
        CK(cudaMemcpyAsync(L->hcnt, L->cnt.p, sizeof(int) * E, cudaMemcpyDeviceToHost, L->st), "copying expert counts");
        CK(cudaStreamSynchronize(L->st), "the permutation (%ld rows)", rows);
        if ((rc = tr->ops->exchange(tr, L->hcnt, L->hrcnt, sizeof(int) * (size_t)el, err)) != SIM_OK)
            return sim_wrap(err, "dispatch counts");
        /* hrcnt[p][i]: rows from rank p for local expert i. From it: bytes per peer, local
         * counts and offsets in expert order, and the segments that move (rank, expert)
         * blocks into expert order */
        recv_rows = 0;
        for (int p = 0; p < ep; p++) {
            size_t sn = 0, rn = 0;
            for (int i = 0; i < el; i++)
                sn += (size_t)L->hcnt[p * el + i], rn += (size_t)L->hrcnt[p * el + i];
            L->sb[p] = sn * row, L->rb[p] = rn * row;
            recv_rows += (long)rn;
        }
        int maxc = 0;
        L->lo[0] = 0;
        for (int i = 0; i < el; i++) {
            L->lc[i] = 0;
            for (int p = 0; p < ep; p++)
                L->lc[i] += L->hrcnt[p * el + i];
            L->lo[i + 1] = L->lo[i] + L->lc[i];
            maxc = L->lc[i] > maxc ? L->lc[i] : maxc;
        }
        int src = 0;
        L->nseg = 0;
        for (int p = 0; p < ep; p++)
            for (int i = 0; i < el; i++) {
                int n = L->hrcnt[p * el + i], dst = L->lo[i];
                for (int q = 0; q < p; q++)
                    dst += L->hrcnt[q * el + i];
                if (n) {
                    int *sg = L->hseg + 3 * L->nseg++;
                    sg[0] = src, sg[1] = dst, sg[2] = n;
                }
                src += n;
            }
        small = maxc <= SMALL_ROWS;
        /* everything the rest of the forward needs is allocated before the ranks agree */
        if (dgrow(&L->xr, row * recv_rows, "received rows", err) || dgrow(&L->xe, row * recv_rows, "expert rows", err) ||
            dgrow(&L->yr, row * recv_rows, "returned rows", err) || dgrow(&L->ye, row * recv_rows, "expert outputs", err) ||
            dgrow(&L->h, sizeof(float) * (size_t)recv_rows * (F > S ? F : S) + 16, "expert hidden rows", err) ||
            (!small && size_large(L, recv_rows, F, err)))
            rc = SIM_EFAIL;
        if (rc == SIM_OK) {
            cudaError_t e = cudaMemcpyAsync(L->lcnt.p, L->lc, sizeof(int) * el, cudaMemcpyHostToDevice, L->st);
            if (e == cudaSuccess)
                e = cudaMemcpyAsync(L->seg.p, L->hseg, sizeof(int) * 3 * (size_t)(L->nseg ? L->nseg : 1),
                                    cudaMemcpyHostToDevice, L->st);
            if (e == cudaSuccess)
                e = ek_offsets(L->lcnt.p, el, L->loff.p, L->act.p, L->nact.p, L->st);
            if (e == cudaSuccess)
                e = cudaStreamSynchronize(L->st);   /* hseg is rewritten for the combine */
            if (e != cudaSuccess)
                rc = cu_fail(err, e, "uploading %d local expert offsets", el);
        }
        if ((all = tr->ops->agree(tr, rc)) != SIM_OK)
            return rc != SIM_OK ? rc : sim_fail(err, all, "dispatch: allocation failed on another rank");
        if ((rc = tr->ops->alltoallv(tr, L->xs.p, L->sb, L->xr.p, L->rb, err)) != SIM_OK)
            return sim_wrap(err, "dispatch");
        CK(ek_regroup(L->xr.p, L->xe.p, d, L->seg.p, L->nseg, L->st), "the regroup kernel (%ld rows)", recv_rows);
        xe = L->xe.p;
        loff_dev = L->loff.p;
    } else {
        if (dgrow(&L->ye, row * rows, "expert outputs", err) ||
            dgrow(&L->h, sizeof(float) * (size_t)rows * (F > S ? F : S) + 16, "expert hidden rows", err) ||
            (!small && size_large(L, rows, F, err)) || (S > 0 && T > SMALL_ROWS && size_large(L, T, S, err)))
            return SIM_EFAIL;
        if (!small && rows > 0) {
            /* cuBLAS needs the per-expert row counts on the host: the one sync of the prefill path */
            CK(cudaMemcpyAsync(L->lc, L->cnt.p, sizeof(int) * E, cudaMemcpyDeviceToHost, L->st), "copying expert counts");
            CK(cudaStreamSynchronize(L->st), "the permutation (%ld rows)", rows);
            L->lo[0] = 0;
            for (int e = 0; e < E; e++)
                L->lo[e + 1] = L->lo[e] + L->lc[e];
        }
    }
    if (ep > 1 && S > 0 && T > SMALL_ROWS && size_large(L, T, S, err))
        return SIM_EFAIL;
    CK(cudaEventRecord(L->ev[EV_DISPATCH], L->st), "cudaEventRecord");

    /* experts: tokens of all ranks, this rank's experts */
    L->path = GP_NONE;
    if (recv_rows > 0) {
        ffn_dev f = { L->w13, L->w2, L->sc13, L->sc2, F };
        L->path = GP_SMALL;
        rc = small ? ffn_small(L, &f, xe, loff_dev, L->act.p, L->nact.p, 0, L->h.p, L->ye.p, err)
                   : ffn_large(L, &f, el, xe, L->lc, L->lo, L->ye.p, &L->path, err);
        if (rc != SIM_OK)
            return rc;
    }
    CK(cudaEventRecord(L->ev[EV_EXPERTS], L->st), "cudaEventRecord");

    /* shared experts write y; the combine adds the routed experts on top */
    if (S > 0 && T > 0) {
        ffn_dev f = { L->s13, L->s2, L->ssc13, L->ssc2, S };
        if (T <= SMALL_ROWS) {
            rc = ffn_small(L, &f, L->x.p, NULL, NULL, NULL, T, L->h.p, L->y.p, err);
        } else {
            int c1 = T, o2[2] = { 0, T }, sp = GP_NONE;
            rc = ffn_large(L, &f, 1, L->x.p, &c1, o2, L->y.p, &sp, err);
        }
        if (rc != SIM_OK)
            return rc;
    }
    CK(cudaEventRecord(L->ev[EV_SHARED], L->st), "cudaEventRecord");

    /* combine: outputs back to their ranks, then the weighted sum per token */
    const float *yb = L->ye.p;
    if (ep > 1) {
        /* the segments reversed: expert order back to (rank, expert) order */
        const int ns = L->nseg;
        for (int s = 0; s < ns; s++) {
            int t0 = L->hseg[3 * s];
            L->hseg[3 * s] = L->hseg[3 * s + 1];
            L->hseg[3 * s + 1] = t0;
        }
        CK(cudaMemcpyAsync(L->seg.p, L->hseg, sizeof(int) * 3 * (size_t)(ns ? ns : 1), cudaMemcpyHostToDevice, L->st), "uploading segments");
        CK(ek_regroup(L->ye.p, L->yr.p, d, L->seg.p, ns, L->st), "the regroup kernel (%ld rows)", recv_rows);
        CK(cudaStreamSynchronize(L->st), "the expert stage");
        if ((rc = tr->ops->alltoallv(tr, L->yr.p, L->rb, L->yb.p, L->sb, err)) != SIM_OK)
            return sim_wrap(err, "combine");
        yb = L->yb.p;
    }
    CK(ek_combine(yb, d, L->slot.p, L->wts.p, T, k, L->y.p, S > 0, L->st), "the combine kernel (%d tokens x %d)", T, d);
    CK(cudaEventRecord(L->ev[EV_COMBINE], L->st), "cudaEventRecord");
    if (T > 0)
        CK(cudaMemcpyAsync(y, L->y.p, row * T, cudaMemcpyDeviceToHost, L->st), "copying %d output rows (%zu bytes) from the GPU", T, row * T);
    if (rout && T > 0) {
        CK(cudaMemcpyAsync(rout->expert, L->ids.p, sizeof(int) * rows, cudaMemcpyDeviceToHost, L->st), "copying the routing");
        CK(cudaMemcpyAsync(rout->weight, L->wts.p, sizeof(float) * rows, cudaMemcpyDeviceToHost, L->st), "copying the routing");
    }
    CK(cudaStreamSynchronize(L->st), "the forward (%d tokens, hidden %d, %d experts, top-%d)", T, d, E, k);
    return SIM_OK;
}

static int cu_host_copy(void *ctx, void *dst, const void *src, size_t bytes, int to_host, sim_err *err);

static int cu_forward(void *impl, const float *x, int T, float *y, const eng_routing *force, eng_routing *rout,
                      eng_timing *tm, sim_err *err)
{
    cu_layer *L = impl;
    memset(tm, 0, sizeof *tm);
    cudaError_t e = cudaSetDevice(L->dev);
    if (e != cudaSuccess)
        return cu_fail(err, e, "cudaSetDevice(%d)", L->dev);
    /* the transport is shared by every layer of the rank: it moves this layer's buffers on
     * this layer's stream (it kept the last-created layer's before, for all layers) */
    if (!strcmp(L->tr->name, "host"))
        eng_transport_host_set_copy(L->tr, cu_host_copy, L);
#ifdef MOESIM_NCCL
    if (!strcmp(L->tr->name, "nccl"))
        eng_transport_nccl_set_stream(L->tr, L->st);
#endif
    int rc = cu_forward_body(L, x, T, y, force, rout, err);
    if (rc != SIM_OK)
        return rc;
    /* stage times from the events recorded between the stages (the copies of x and y to and
     * from the host are outside them: a serving engine keeps activations on the GPU) */
    float ms[EV_N];
    for (int i = 1; i < EV_N; i++) {
        e = cudaEventElapsedTime(&ms[i], L->ev[i - 1], L->ev[i]);
        if (e != cudaSuccess)
            return cu_fail(err, e, "cudaEventElapsedTime");
    }
    tm->router = ms[EV_ROUTER] * 1e-3, tm->permute = ms[EV_PERMUTE] * 1e-3, tm->dispatch = ms[EV_DISPATCH] * 1e-3;
    tm->experts = ms[EV_EXPERTS] * 1e-3, tm->shared = ms[EV_SHARED] * 1e-3, tm->combine = ms[EV_COMBINE] * 1e-3;
    tm->total = tm->router + tm->permute + tm->dispatch + tm->experts + tm->shared + tm->combine;
    return SIM_OK;
}

static const eng_weights *cu_weights(const void *impl)
{
    return &((const cu_layer *)impl)->w;
}

/* Teardown is best effort: the results are out, and a destroy hook has no error to return. */
static void cu_destroy(void *impl)
{
    cu_layer *L = impl;
    if (!L)
        return;
    cudaSetDevice(L->dev);
    dbuf *all[] = { &L->x, &L->y, &L->logits, &L->ids, &L->wts, &L->cnt, &L->off, &L->cur, &L->slot, &L->xs, &L->xr,
                    &L->xe, &L->gu, &L->h, &L->ye, &L->yr, &L->yb, &L->lcnt, &L->loff, &L->act, &L->nact, &L->seg,
                    &L->xb, &L->wb, &L->ptrs, &L->flush, &L->bw, &L->sink, &L->cb16 };
    for (size_t i = 0; i < sizeof all / sizeof all[0]; i++)
        if (all[i]->p)
            cudaFree(all[i]->p);
    void *dev[] = { L->w13, L->w2, L->s13, L->s2, L->sc13, L->sc2, L->ssc13, L->ssc2, L->router };
    for (size_t i = 0; i < sizeof dev / sizeof dev[0]; i++)
        if (dev[i])
            cudaFree(dev[i]);
    for (int i = 0; i < EV_N; i++)
        if (L->ev[i])
            cudaEventDestroy(L->ev[i]);
    if (L->cb)
        cublasDestroy(L->cb);
    if (L->st)
        cudaStreamDestroy(L->st);
    free(L->hcnt), free(L->hrcnt), free(L->hseg), free(L->lc), free(L->lo), free(L->sb), free(L->rb);
    eng_weights_free(&L->w);
    free(L);
}

static const eng_backend_ops cu_ops = { cu_forward, cu_weights, cu_destroy };

/* --- bench extras --- */

/* Evicts the L2 by reading a buffer twice its size. A memset (as before) left the L2 full of
 * dirty lines whose write-back then competed with the timed kernel's reads; reading leaves
 * clean lines, and the buffer's own first write was flushed by the warm-up runs. */
static int cu_flush(void *impl, sim_err *err)
{
    cu_layer *L = impl;
    if (!L->flush.p)
        return SIM_OK;
    CK(ek_read(L->flush.p, L->flush.cap / 16 * 16, L->sink.p, L->nsm * 4, L->st), "the L2 flush read kernel (%zu bytes)",
       L->flush.cap);
    return SIM_OK;
}

static const char *cu_expert_path(const void *impl)
{
    const cu_layer *L = impl;
    return gp_name(L->path, L->wt == EK_F32);
}

static double cu_expert_bytes(const void *impl)
{
    const cu_layer *L = impl;
    const double n = 3.0 * L->c.hidden * (double)L->c.ffn;
    const double scales = (L->wt == EK_I8 || L->wt == EK_FP8) ? 4.0 * (2.0 * L->c.ffn + L->c.hidden) : 0;
    return n * (double)L->esz + scales;
}

static const char *cu_precision(const void *impl)
{
    return ((const cu_layer *)impl)->fp8 ? "fp8" : NULL;
}

static void cu_info(const void *impl, eng_gpu_info *o)
{
    const cu_layer *L = impl;
    memset(o, 0, sizeof *o);
    struct cudaDeviceProp p;
    if (cudaGetDeviceProperties(&p, L->dev) == cudaSuccess) {
        snprintf(o->name, sizeof o->name, "%s", p.name);
        o->cc_major = p.major, o->cc_minor = p.minor, o->sms = p.multiProcessorCount;
        o->mem_gib = p.totalGlobalMem / 1073741824.0;
        o->l2_mib = p.l2CacheSize / 1048576.0;
    }
    cudaDriverGetVersion(&o->driver);
    cudaRuntimeGetVersion(&o->runtime);
    snprintf(o->targets, sizeof o->targets, "%s", MOESIM_CUDA_TARGETS);
}

/* Timed with events, L2 flushed before each run: a read-only stream over 1 GiB (or a quarter
 * of free memory), the pattern of the expert kernel, as the decode yardstick. */
static int cu_membw(void *impl, long reps, double *times, double *bytes, sim_err *err)
{
    cu_layer *L = impl;
    size_t fr = 0, tot = 0;
    CK(cudaMemGetInfo(&fr, &tot), "cudaMemGetInfo");
    size_t n = (size_t)1 << 30;
    if (n > fr / 4)
        n = fr / 4 / 16 * 16;
    if (dgrow(&L->bw, n, "bandwidth test buffer", err))
        return SIM_EFAIL;
    CK(ek_fill_random(L->bw.p, n, 0, 0x6277ull, L->st), "the random fill kernel (%zu bytes)", n);
    for (long r = -2; r < reps; r++) {
        if (cu_flush(L, err) != SIM_OK)
            return SIM_EFAIL;
        CK(cudaEventRecord(L->ev[0], L->st), "cudaEventRecord");
        CK(ek_read(L->bw.p, n, L->sink.p, L->nsm * 4, L->st), "the read kernel (%zu bytes)", n);
        CK(cudaEventRecord(L->ev[1], L->st), "cudaEventRecord");
        CK(cudaEventSynchronize(L->ev[1]), "the read kernel (%zu bytes)", n);
        float ms = 0;
        CK(cudaEventElapsedTime(&ms, L->ev[0], L->ev[1]), "cudaEventElapsedTime");
        if (r >= 0)
            times[r] = ms * 1e-3;
    }
    *bytes = (double)n;
    return SIM_OK;
}

/* One timed cuBLAS GEMM; CK-style checks on every call, the call named. */
static int gemm_once(cu_layer *L, int M, int N, int K, const void *w, const void *a, void *c, float *ms, sim_err *err)
{
    const float one = 1.0f, zero = 0.0f;
    CK(cudaEventRecord(L->ev[0], L->st), "cudaEventRecord (GEMM sweep start)");
    cublasStatus_t s = cublasGemmEx(L->cb, CUBLAS_OP_T, CUBLAS_OP_N, N, M, K, &one, w, CUDA_R_16BF, K, a, CUDA_R_16BF, K,
                                    &zero, c, CUDA_R_32F, N, CUBLAS_COMPUTE_32F, CUBLAS_GEMM_DEFAULT);
    if (s != CUBLAS_STATUS_SUCCESS)
        return cb_fail(err, s, "cublasGemmEx (GEMM sweep)", M, N, K);
    CK(cudaEventRecord(L->ev[1], L->st), "cudaEventRecord (GEMM sweep end)");
    CK(cudaEventSynchronize(L->ev[1]), "cudaEventSynchronize (GEMM sweep, M %d, N %d, K %d)", M, N, K);
    CK(cudaEventElapsedTime(ms, L->ev[0], L->ev[1]), "cudaEventElapsedTime (GEMM sweep)");
    return SIM_OK;
}

/* BF16 GEMM yardstick on random operands (kernels.cu, ek_fill_random: zeros run faster), the
 * weights cycling through a pool of at least 256 MiB so that they stream from HBM. */
static int cu_gemm(void *impl, int M, int N, int K, long reps, double *times, sim_err *err)
{
    cu_layer *L = impl;
    const size_t wb = 2 * (size_t)N * K;
    int pool = (int)((256.0 * 1048576 + (double)wb - 1) / (double)wb);
    pool = pool < 1 ? 1 : pool > 64 ? 64 : pool;
    void *a = NULL, *w = NULL, *c = NULL;
    int rc = dalloc(&a, 2 * (size_t)M * K, "GEMM input", err);
    if (rc == SIM_OK)
        rc = dalloc(&w, wb * pool, "GEMM weight pool", err);
    if (rc == SIM_OK)
        rc = dalloc(&c, 4 * (size_t)M * N, "GEMM output", err);
    cudaError_t e = cudaSuccess;
    if (rc == SIM_OK && (e = ek_fill_random(a, 2 * (size_t)M * K, 1, 0xa11ull + (uint64_t)M, L->st)) != cudaSuccess)
        rc = cu_fail(err, e, "the random fill kernel (GEMM input, %d x %d)", M, K);
    if (rc == SIM_OK && (e = ek_fill_random(w, wb * pool, 1, 0x3e1ull + (uint64_t)N * 7 + K, L->st)) != cudaSuccess)
        rc = cu_fail(err, e, "the random fill kernel (GEMM weights, %d x %d x %d)", pool, N, K);
    for (long r = -pool; rc == SIM_OK && r < reps; r++) {
        const void *wi = (const char *)w + wb * (size_t)((r + pool) % pool);
        float ms = 0;
        rc = gemm_once(L, M, N, K, wi, a, c, &ms, err);
        if (rc == SIM_OK && r >= 0)
            times[r] = ms * 1e-3;
    }
    if (a)
        cudaFree(a);
    if (w)
        cudaFree(w);
    if (c)
        cudaFree(c);
    return rc;
}

static const eng_backend_extra cu_extra = { cu_flush, cu_expert_bytes, cu_precision, cu_info, cu_membw, cu_gemm,
                                             cu_expert_path };

/* The host transport stages device buffers through host memory on the layer's stream. */
static int cu_host_copy(void *ctx, void *dst, const void *src, size_t bytes, int to_host, sim_err *err)
{
    cu_layer *L = ctx;
    if (!bytes)
        return SIM_OK;
    CK(cudaMemcpyAsync(dst, src, bytes, to_host ? cudaMemcpyDeviceToHost : cudaMemcpyHostToDevice, L->st),
       "cudaMemcpyAsync (%zu bytes, host transport %s)", bytes, to_host ? "send" : "receive");
    CK(cudaStreamSynchronize(L->st), "the host transport copy (%zu bytes)", bytes);
    return SIM_OK;
}

static int cu_create(void **impl, const eng_backend_ops **ops, const eng_backend_extra **extra, const eng_config *c,
                     eng_transport *tr, uint64_t seed, sim_err *err)
{
    if (tr->size > 1 && strcmp(tr->name, "nccl") && strcmp(tr->name, "host"))
        return sim_fail(err, SIM_EINPUT, "backend cuda with %d ranks: transport %s moves host memory only; "
                        "use --transport nccl (a GPU per rank) or --transport host (ranks may share a GPU)",
                        tr->size, tr->name);
    int dev = eng_cuda_pick_device(tr->rank, err);
    if (dev < 0)
        return SIM_EINPUT;
    cu_layer *L = calloc(1, sizeof *L);
    if (!L)
        return sim_fail(err, SIM_EFAIL, "out of memory allocating a CUDA layer");
    L->c = *c;
    L->tr = tr;
    L->dev = dev;
    L->el = c->experts / tr->size;
    L->fp8 = eng_fp8_weights;
    L->wt = wtype_of(L);
    L->esz = L->wt == EK_F32 ? 4 : L->wt == EK_BF16 ? 2 : 1;
    int rc = SIM_OK;
    struct cudaDeviceProp p;
    cudaError_t e = cudaSetDevice(dev);
    if (e == cudaSuccess)
        e = cudaGetDeviceProperties(&p, dev);
    if (e == cudaSuccess)
        e = cudaStreamCreateWithFlags(&L->st, cudaStreamNonBlocking);
    for (int i = 0; e == cudaSuccess && i < EV_N; i++)
        e = cudaEventCreate(&L->ev[i]);
    if (e != cudaSuccess) {
        rc = cu_fail(err, e, "setting up device %d", dev);
    } else {
        L->nsm = p.multiProcessorCount;
        L->grid = p.multiProcessorCount * 8;
        cublasStatus_t s = cublasCreate(&L->cb);
        if (s == CUBLAS_STATUS_SUCCESS)
            s = cublasSetStream(L->cb, L->st);
        if (s != CUBLAS_STATUS_SUCCESS) {
            L->cb = s == CUBLAS_STATUS_SUCCESS ? L->cb : NULL;
            rc = sim_fail(err, SIM_EFAIL, "cublasCreate on device %d: %s", dev, cublasGetStatusString(s));
        }
        /* the L2 flush buffer: twice the L2, read between timed runs (random contents, written once) */
        if (rc == SIM_OK)
            rc = dgrow(&L->flush, 2 * (size_t)(p.l2CacheSize > 0 ? p.l2CacheSize : (1 << 20)), "L2 flush buffer", err);
        if (rc == SIM_OK)
            rc = dgrow(&L->sink, 64, "read kernel sink", err);
        if (rc == SIM_OK && (e = ek_fill_random(L->flush.p, L->flush.cap, 0, 0xf1u, L->st)) != cudaSuccess)
            rc = cu_fail(err, e, "the random fill kernel (L2 flush buffer, %zu bytes)", L->flush.cap);
    }
    if (rc == SIM_OK)
        rc = eng_weights_init(&L->w, c, tr->size, tr->rank, seed, err);
    const size_t rbytes = sizeof(float) * (size_t)c->experts * c->hidden;
    if (rc == SIM_OK && (rc = dalloc((void **)&L->router, rbytes, "router weights", err)) == SIM_OK) {
        e = cudaMemcpy(L->router, L->w.router, rbytes, cudaMemcpyHostToDevice);
        if (e != cudaSuccess)
            rc = cu_fail(err, e, "cudaMemcpy (%zu bytes of router weights)", rbytes);
    }
    if (rc == SIM_OK)
        rc = upload(L, L->w.w13, L->el, &L->w13, &L->sc13, "expert gate/up weights", err);
    if (rc == SIM_OK)
        rc = upload(L, L->w.w2, L->el, &L->w2, &L->sc2, "expert down weights", err);
    if (rc == SIM_OK && c->shared > 0)
        rc = upload(L, &L->w.s13, 1, &L->s13, &L->ssc13, "shared gate/up weights", err);
    if (rc == SIM_OK && c->shared > 0)
        rc = upload(L, &L->w.s2, 1, &L->s2, &L->ssc2, "shared down weights", err);
    if (rc != SIM_OK) {
        cu_destroy(L);
        return rc;
    }
    *impl = L;
    *ops = &cu_ops;
    *extra = &cu_extra;
    return SIM_OK;
}

void eng_cuda_register(void)
{
    eng_cuda_create_hook = cu_create;
}
