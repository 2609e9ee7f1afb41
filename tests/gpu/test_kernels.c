/* test_kernels.c: each CUDA kernel (engine/cuda/kernels.cu) against its CPU definition
 * (kernels_ref.c) on shapes around the 16-byte vectors, with empty experts. Needs a GPU:
 * without one it prints "SKIP: no CUDA device" and exits 0. */
#include "../../engine/cuda/fp8.h"
#include "../../engine/cuda/kernels_ref.h"
#include "../../engine/cuda/topk_rule.h"
#include "../../engine/weights.h"

#include <cuda_runtime_api.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int fails;

#define CK(x)                                                                                  \
    do {                                                                                       \
        cudaError_t e_ = (cudaError_t)(x);                                                     \
        if (e_ != cudaSuccess) {                                                               \
            fprintf(stderr, "FAIL: %s: %s\n", #x, cudaGetErrorString(e_));                     \
            exit(1);                                                                           \
        }                                                                                      \
    } while (0)

static void *up(const void *h, size_t bytes)
{
    void *d = NULL;
    CK(cudaMalloc(&d, bytes ? bytes : 16));
    if (bytes)
        CK(cudaMemcpy(d, h, bytes, cudaMemcpyHostToDevice));
    return d;
}

static void down(void *h, const void *d, size_t bytes)
{
    CK(cudaDeviceSynchronize());
    if (bytes)
        CK(cudaMemcpy(h, d, bytes, cudaMemcpyDeviceToHost));
}

static double rel_err(const float *a, const float *b, size_t n)
{
    double mx = 1e-30, e = 0;
    for (size_t i = 0; i < n; i++)
        mx = fmax(mx, fabs(b[i]));
    for (size_t i = 0; i < n; i++)
        e = fmax(e, fabs((double)a[i] - b[i]) / mx);
    return e;
}

static void expect(int ok, const char *what)
{
    if (!ok) {
        fprintf(stderr, "FAIL: %s\n", what);
        fails++;
    }
}

static float unit(uint64_t k) { return (float)eng_hash_unit(k); }

/* the expert kernel: every weight type, gate/up (pair) and down, shapes off the vector width */
static void test_ffn(void)
{
    const int Ks[] = { 1, 17, 32, 64, 100, 256, 2048 }, Ns[] = { 2, 6, 34, 130 };
    const int cnts[] = { 0, 1, 3, 0, 9, 17, 2 };
    const int n_exp = (int)(sizeof cnts / sizeof cnts[0]);
    for (int wt = EK_F32; wt <= EK_FP8; wt++)
        for (size_t a = 0; a < sizeof Ks / sizeof Ks[0]; a++)
            for (size_t b = 0; b < sizeof Ns / sizeof Ns[0]; b++)
                for (int pair = 0; pair < 2; pair++) {
                    const int K = Ks[a], rows = Ns[b], W = pair ? rows / 2 : rows;
                    const size_t esz = wt == EK_F32 ? 4 : wt == EK_BF16 ? 2 : 1, per = (size_t)rows * K;
                    int off[16], act[16], na = 0;
                    off[0] = 0;
                    for (int e = 0; e < n_exp; e++) {
                        off[e + 1] = off[e] + cnts[e];
                        if (cnts[e])
                            act[na++] = e;
                    }
                    const int M = off[n_exp];
                    unsigned char *w = malloc(per * esz * n_exp);
                    float *sc = malloc(sizeof(float) * rows * n_exp), *x = malloc(sizeof(float) * (size_t)M * K);
                    float *ref = calloc((size_t)M * W + 1, sizeof(float)), *got = calloc((size_t)M * W + 1, sizeof(float));
                    for (size_t i = 0; i < per * n_exp; i++) {
                        float v = unit(i + 7 * a + 13 * b) / sqrtf((float)K);
                        if (wt == EK_F32)
                            ((float *)w)[i] = v;
                        else if (wt == EK_BF16)
                            ((uint16_t *)w)[i] = eng_f32_to_bf16(v);
                        else if (wt == EK_I8)
                            ((int8_t *)w)[i] = (int8_t)lrintf(v * sqrtf((float)K) * 127);
                        else
                            w[i] = eng_fp8_encode(v * sqrtf((float)K) * 400);
                    }
                    for (int r = 0; r < rows * n_exp; r++)
                        sc[r] = wt == EK_I8 ? 1.0f / 127 / sqrtf((float)K) : 1.0f / 512 / sqrtf((float)K);
                    for (size_t i = 0; i < (size_t)M * K; i++)
                        x[i] = unit(i * 3 + 1);
                    ek_ffn h = { (ek_wtype)wt, w, sc, (long long)per, rows, K, pair, x, off, act, &na, 0, ref };
                    ekr_ffn(&h, n_exp, ref);
                    ek_ffn g = h;
                    g.w = up(w, per * esz * n_exp);
                    g.scale = up(sc, sizeof(float) * rows * n_exp);
                    g.x = up(x, sizeof(float) * (size_t)M * K);
                    g.off = up(off, sizeof(int) * (n_exp + 1));
                    g.act = up(act, sizeof(int) * 16);
                    g.nact = up(&na, sizeof(int));
                    g.out = up(NULL, sizeof(float) * (size_t)M * W);
                    CK(ek_ffn_small(&g, 64, NULL));
                    down(got, g.out, sizeof(float) * (size_t)M * W);
                    double e = rel_err(got, ref, (size_t)M * W);
                    if (e > 1e-5) {
                        fprintf(stderr, "FAIL: ffn wt %d K %d rows %d pair %d: rel err %.2e\n", wt, K, rows, pair, e);
                        fails++;
                    }
                    cudaFree((void *)g.w), cudaFree((void *)g.scale), cudaFree((void *)g.x), cudaFree((void *)g.off);
                    cudaFree((void *)g.act), cudaFree((void *)g.nact), cudaFree(g.out);
                    free(w), free(sc), free(x), free(ref), free(got);
                }
    printf("ok: expert kernel, 4 weight types x 7 K x 4 widths x gate/up and down\n");
}

static void test_router_and_permutation(void)
{
    const int shapes[][3] = { { 1, 8, 2 }, { 5, 3, 3 }, { 37, 64, 6 }, { 200, 128, 8 }, { 3, 256, 1 } };
    for (size_t s = 0; s < sizeof shapes / sizeof shapes[0]; s++)
        for (int sig = 0; sig < 2; sig++) {
            const int T = shapes[s][0], E = shapes[s][1], k = shapes[s][2], d = 24;
            const long n = (long)T * k;
            float *l = malloc(sizeof(float) * T * E), *wr = malloc(sizeof(float) * n), *wg = malloc(sizeof(float) * n);
            int *ir = malloc(sizeof(int) * n), *ig = malloc(sizeof(int) * n);
            for (int i = 0; i < T * E; i++)
                l[i] = 3 * unit((uint64_t)i + s * 1000);
            ekr_topk(l, T, E, k, sig, ir, wr);
            float *dl = up(l, sizeof(float) * T * E);
            int *di = up(NULL, sizeof(int) * n);
            float *dw = up(NULL, sizeof(float) * n);
            CK(ek_topk(dl, T, E, k, sig, di, dw, NULL));
            down(ig, di, sizeof(int) * n);
            down(wg, dw, sizeof(float) * n);
            expect(!memcmp(ig, ir, sizeof(int) * n), "top-k ids differ from the reference");
            expect(rel_err(wg, wr, (size_t)n) < 1e-5, "top-k weights differ from the reference");
            /* permutation: counts, offsets, slots a permutation grouping rows by expert, gather */
            int *cnt = up(NULL, sizeof(int) * E), *off = up(NULL, sizeof(int) * (E + 1)), *cur = up(NULL, sizeof(int) * E);
            int *slot = up(NULL, sizeof(int) * n), *act = up(NULL, sizeof(int) * E), *na = up(NULL, sizeof(int));
            CK(ek_count(di, n, E, cnt, NULL));
            CK(ek_offsets(cnt, E, off, act, na, NULL));
            CK(ek_scatter(di, n, E, off, cur, slot, NULL));
            float *x = malloc(sizeof(float) * T * d), *xs = malloc(sizeof(float) * n * d);
            for (int i = 0; i < T * d; i++)
                x[i] = unit((uint64_t)i * 5);
            float *dx = up(x, sizeof(float) * T * d), *dxs = up(NULL, sizeof(float) * n * d);
            CK(ek_gather(dx, d, slot, n, k, dxs, NULL));
            int *ho = malloc(sizeof(int) * (E + 1)), *hs = malloc(sizeof(int) * n), *seen = calloc((size_t)n, sizeof(int));
            down(ho, off, sizeof(int) * (E + 1));
            down(hs, slot, sizeof(int) * n);
            down(xs, dxs, sizeof(float) * n * d);
            int ok = ho[0] == 0 && ho[E] == n;
            for (long i = 0; i < n && ok; i++) {
                const int e = ir[i];
                ok = hs[i] >= ho[e] && hs[i] < ho[e + 1] && !seen[hs[i]]++ &&
                     !memcmp(xs + (size_t)hs[i] * d, x + (size_t)(i / k) * d, sizeof(float) * d);
            }
            expect(ok, "permutation: slots are not a grouping by expert, or gathered rows differ");
            /* combine of the gathered rows with the weights gives sum_j w_j x_t = x_t */
            float *y = malloc(sizeof(float) * T * d), *yr = malloc(sizeof(float) * T * d);
            float *dy = up(NULL, sizeof(float) * T * d);
            CK(ek_combine(dxs, d, slot, dw, T, k, dy, 0, NULL));
            down(y, dy, sizeof(float) * T * d);
            ekr_combine(xs, d, hs, wg, T, k, yr, 0);
            expect(rel_err(y, yr, (size_t)T * d) < 1e-6, "combine differs from the reference");
            cudaFree(dl), cudaFree(di), cudaFree(dw), cudaFree(cnt), cudaFree(off), cudaFree(cur), cudaFree(slot);
            cudaFree(act), cudaFree(na), cudaFree(dx), cudaFree(dxs), cudaFree(dy);
            free(l), free(wr), free(wg), free(ir), free(ig), free(x), free(xs), free(ho), free(hs), free(seen), free(y), free(yr);
        }
    printf("ok: top-k (softmax, sigmoid), counts/scan/scatter/gather, combine\n");
}

static void test_swiglu_and_widen(void)
{
    const long rows = 33;
    const int F = 19;
    float *gu = malloc(sizeof(float) * rows * 2 * F), *h = malloc(sizeof(float) * rows * F), *hr = malloc(sizeof(float) * rows * F);
    for (long i = 0; i < rows * 2 * F; i++)
        gu[i] = 4 * unit((uint64_t)i);
    ekr_swiglu(gu, rows, F, hr);
    float *dg = up(gu, sizeof(float) * rows * 2 * F), *dh = up(NULL, sizeof(float) * rows * F);
    CK(ek_swiglu(dg, rows, F, dh, 0, NULL));
    down(h, dh, sizeof(float) * rows * F);
    expect(rel_err(h, hr, (size_t)rows * F) < 1e-5, "SwiGLU differs from the reference");
    /* FP8 codes times power-of-two scales widen to BF16 exactly */
    uint8_t codes[64];
    float sc[4] = { 0.25f, 1.0f / 1024, 8.0f, 1.0f };
    uint16_t out[64];
    for (int i = 0; i < 64; i++)
        codes[i] = (uint8_t)((i * 37) & 0xff) == 0x7f || (uint8_t)((i * 37) & 0xff) == 0xff ? 0x10 : (uint8_t)((i * 37) & 0xff);
    void *dc = up(codes, 64), *ds = up(sc, sizeof sc), *dout = up(NULL, sizeof out);
    CK(ek_widen_bf16(EK_FP8, dc, ds, 4, 16, dout, NULL));
    down(out, dout, sizeof out);
    int ok = 1;
    for (int i = 0; i < 64; i++)
        ok &= eng_bf16_to_f32(out[i]) == eng_fp8_decode(codes[i]) * sc[i / 16];
    expect(ok, "FP8 widening is not exact");
    cudaFree(dg), cudaFree(dh), cudaFree(dc), cudaFree(ds), cudaFree(dout);
    free(gu), free(h), free(hr);
    printf("ok: SwiGLU, FP8 -> BF16 widening\n");
}

/* the grouped GEMM's BF16 outputs: SwiGLU straight from BF16 gate/up rows, BF16 -> FP32
 * widening (exact); and the yardsticks' random fill (no zeros, values in [-1, 1), repeatable) */
static void test_bf16_paths_and_fill(void)
{
    const long rows = 21;
    const int F = 13;
    uint16_t gu16[21 * 26], h16[21 * 13];
    float gu[21 * 26], hr[21 * 13], h[21 * 13], back[21 * 26];
    for (long i = 0; i < rows * 2 * F; i++) {
        gu16[i] = eng_f32_to_bf16(4 * unit((uint64_t)i * 11));
        gu[i] = eng_bf16_to_f32(gu16[i]);
    }
    ekr_swiglu(gu, rows, F, hr);
    void *dg = up(gu16, sizeof gu16), *dh = up(NULL, sizeof h16), *db = up(NULL, sizeof back);
    CK(ek_swiglu_bf16(dg, rows, F, dh, NULL));
    CK(ek_bf16_to_f32(dg, rows * 2 * F, db, NULL));
    down(h16, dh, sizeof h16);
    down(back, db, sizeof back);
    for (long i = 0; i < rows * F; i++)
        h[i] = eng_bf16_to_f32(h16[i]);
    expect(rel_err(h, hr, (size_t)(rows * F)) < 8e-3, "SwiGLU from BF16 rows differs from the reference (beyond BF16 rounding)");
    expect(!memcmp(back, gu, sizeof gu), "BF16 -> FP32 widening is not exact");
    const size_t n = 4096;
    uint16_t *r1 = malloc(2 * n), *r2 = malloc(2 * n);
    void *dr = up(NULL, 2 * n);
    CK(ek_fill_random(dr, 2 * n, 1, 42, NULL));
    down(r1, dr, 2 * n);
    CK(ek_fill_random(dr, 2 * n, 1, 42, NULL));
    down(r2, dr, 2 * n);
    int zeros = 0, inrange = 1;
    double mean = 0;
    for (size_t i = 0; i < n; i++) {
        const float v = eng_bf16_to_f32(r1[i]);
        zeros += v == 0;
        inrange &= v >= -1 && v <= 1;
        mean += v / n;
    }
    expect(!memcmp(r1, r2, 2 * n), "random fill is not repeatable for one seed");
    expect(zeros < 8 && inrange && fabs(mean) < 0.05, "random BF16 fill: zeros, out of [-1, 1] or biased");
    cudaFree(dg), cudaFree(dh), cudaFree(db), cudaFree(dr);
    free(r1), free(r2);
    printf("ok: SwiGLU from BF16 rows, BF16 -> FP32, random fill\n");
}

/* top-k on the tokens the host rule (topk_rule.h) was fixed for: tied scores, fewer than k
 * finite logits, all -inf, NaN; the GPU must pick exactly what ek_topk_row picks */
static void test_topk_edges(void)
{
    const int T = 6, E = 40, k = 8;
    float l[6 * 40], w[6 * 8], wg[6 * 8];
    int ids[6 * 8], ig[6 * 8];
    for (int t = 0; t < T; t++)
        for (int e = 0; e < E; e++) {
            float v = floorf(2 * unit((uint64_t)(t * E + e) * 3));            /* tied: few values */
            if (t == 1 && e != 3 && e != 37)
                v = -INFINITY;                                               /* two finite, k = 8 */
            if (t == 2)
                v = -INFINITY;                                               /* none finite */
            if (t == 3 && e % 5 == 0)
                v = NAN;
            if (t == 4 && e % 7 == 0)
                v = INFINITY;
            l[t * E + e] = v;
        }
    for (int sig = 0; sig < 2; sig++) {
        for (int t = 0; t < T; t++)
            ek_topk_row(l + t * E, E, k, sig, ids + t * k, w + t * k);
        float *dl = up(l, sizeof l);
        int *di = up(NULL, sizeof ids);
        float *dw = up(NULL, sizeof w);
        CK(ek_topk(dl, T, E, k, sig, di, dw, NULL));
        down(ig, di, sizeof ig);
        down(wg, dw, sizeof wg);
        expect(!memcmp(ig, ids, sizeof ids), "top-k ids on tied / non-finite logits differ from topk_rule.h");
        expect(rel_err(wg, w, (size_t)(T * k)) < 1e-5, "top-k weights on tied / non-finite logits differ");
        cudaFree(dl), cudaFree(di), cudaFree(dw);
    }
    printf("ok: top-k on tied scores, fewer than k finite logits, NaN and +inf\n");
}

int main(void)
{
    int n = 0;
    cudaError_t e = cudaGetDeviceCount(&n);
    if (e != cudaSuccess || n == 0) {
        printf("SKIP: no CUDA device (cudaGetDeviceCount: %s)\n", e != cudaSuccess ? cudaGetErrorString(e) : "0 devices");
        return 0;
    }
    test_ffn();
    test_router_and_permutation();
    test_topk_edges();
    test_swiglu_and_widen();
    test_bf16_paths_and_fill();
    if (fails)
        fprintf(stderr, "test_kernels: %d failure(s)\n", fails);
    return fails != 0;
}
