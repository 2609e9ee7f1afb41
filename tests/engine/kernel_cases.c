/* kernel_cases.c: eng_k_nt_small against eng_k_nt_plain, and NaN activations through INT8
 * (kernel_cases.h). Plain C with no test framework, so the Arm cross check builds it with
 * nothing but the kernels, the weights and base/err. */
#include "kernel_cases.h"

#include "../../engine/kernels_cpu.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Counts a failed check and keeps the first one's message. */
static void note(long *fails, char *msg, size_t cap, const char *fmt, ...)
{
    va_list ap;
    if ((*fails)++ == 0 && cap) {
        va_start(ap, fmt);
        vsnprintf(msg, cap, fmt, ap);
        va_end(ap);
    }
}

/* How far eng_k_nt_small may land from the plain loop at (m, n). FP32 and BF16 differ only
 * in the order of FP32 additions, as INT4_G32 does with AVX-512. INT8 (and INT4_G32 below
 * AVX-512: tile_q4i) multiplies int16 activations, quantized per token and
 * block of columns with scale max|x| / 32767 (<= the row's), so each product is off by at most
 * |w| * scale / 2: the bound is that sum, plus the FP32 rounding allowance. */
static float kernel_tol(const eng_mat *w, int row, const float *xm, int K, float yref)
{
    float tol = 1e-5f * (1 + fabsf(yref));
    if (w->dtype != ENG_INT8 && w->dtype != ENG_INT4_G32)
        return tol;
    float amax = 0;
    double wsum = 0;
    for (int k = 0; k < K; k++) {
        amax = fabsf(xm[k]) > amax ? fabsf(xm[k]) : amax;
        wsum += fabsf(eng_mat_get(w, row, k));
    }
    return tol + (float)(wsum * 0.5 * amax / 32767.0 * 1.001);
}

/* Every format, and shapes around the vector widths (4, 8, 16), the step of two vectors, the
 * 4-row tiles of 1, 2 and 4 tokens, the groups of 8 tokens and the 2048-column blocks the
 * BF16 and INT8 activations are prepared in; row-major, then the CPU backend's panels (row0 2:
 * the first tile ends at a panel boundary; rows past it start the next panel). */
long eng_kcases_match_plain(char *msg, size_t cap)
{
    const int Ks[] = { 1, 3, 7, 8, 9, 15, 16, 17, 31, 32, 33, 63, 64, 65, 100, 2048, 2085, 4133 };
    const int Ms[] = { 1, 2, 3, 4, 5, 7, 8, 9, 13 }, Ns[] = { 1, 3, 4, 5, 9 };
    long fails = 0;
    float *x = malloc(sizeof(float) * 13 * 4133), *y1 = malloc(sizeof(float) * 13 * 16), *y2 = malloc(sizeof(float) * 13 * 16);
    if (!x || !y1 || !y2) {
        note(&fails, msg, cap, "out of memory");
        goto done;
    }
    for (int dt = 0; dt < ENG_DTYPE_COUNT; dt++)
        for (size_t a = 0; a < sizeof Ks / sizeof Ks[0]; a++)
            for (size_t b = 0; b < sizeof Ms / sizeof Ms[0]; b++)
                for (size_t c = 0; c < sizeof Ns / sizeof Ns[0]; c++) {
                    const int K = Ks[a], M = Ms[b], N = Ns[c], row0 = 2;
                    if (K > 100 && (M % 4 == 0 || N % 4 == 0))
                        continue;   /* the long rows: ragged shapes suffice, and keep the test quick */
                    eng_config cfg = { K, (N + row0 + 1) / 2, 1, 1, 0, 0, ENG_SOFTMAX, (eng_dtype)dt };
                    eng_weights w;
                    sim_err err = { 0, "" };
                    if (eng_weights_init(&w, &cfg, 1, 0, 7 + a + b + c, &err) != SIM_OK) {
                        note(&fails, msg, cap, "dtype %d K %d: %s", dt, K, err.msg);
                        continue;
                    }
                    eng_fill_input(x, M, K, 3 + a, 0);
                    eng_k_nt_plain(M, N, x, K, &w.w13[0], row0, y2, 16);
                    for (int packed = 0; packed < 2; packed++) {
                        if (packed && eng_mat_pack(&w.w13[0], &err) != SIM_OK) {
                            note(&fails, msg, cap, "dtype %d K %d packing: %s", dt, K, err.msg);
                            break;
                        }
                        eng_k_nt_small(M, N, x, K, &w.w13[0], row0, y1, 16);
                        for (int m = 0; m < M; m++)
                            for (int n = 0; n < N; n++) {
                                float d = fabsf(y1[m * 16 + n] - y2[m * 16 + n]);
                                float tol = kernel_tol(&w.w13[0], row0 + n, x + (size_t)m * K, K, y2[m * 16 + n]);
                                if (!(d <= tol))
                                    note(&fails, msg, cap, "dtype %d K %d M %d N %d packed %d at (%d, %d): %g vs %g, tol %g",
                                         dt, K, M, N, packed, m, n, y1[m * 16 + n], y2[m * 16 + n], tol);
                            }
                    }
                    eng_weights_free(&w);
                }
done:
    free(x);
    free(y1);
    free(y2);
    return fails;
}

/* The INT8 outputs over shapes around every level's step (8-32 columns) and chunk (64), the
 * 2048-column blocks and 1-9 tokens, row-major and packed, as one digest of their bits: every
 * level forms the same integer sums from the same quantized activations (kernels_cpu_tile.h),
 * so every level must give the same digest, whichever instructions it multiplies with. */
long eng_kcases_int8_digest(uint64_t *digest, char *msg, size_t cap)
{
    const int Ks[] = { 5, 16, 31, 32, 33, 64, 65, 100, 2048, 2085, 4133 }, Ms[] = { 1, 2, 3, 4, 5, 9 };
    long fails = 0;
    uint64_t h = 1469598103934665603ull;
    float *x = malloc(sizeof(float) * 9 * 4133), y[9 * 16];
    if (!x) {
        note(&fails, msg, cap, "out of memory");
        return fails;
    }
    for (size_t a = 0; a < sizeof Ks / sizeof Ks[0]; a++) {
        const int K = Ks[a], N = 7, row0 = 2;
        eng_config cfg = { K, (N + row0 + 1) / 2, 1, 1, 0, 0, ENG_SOFTMAX, ENG_INT8 };
        eng_weights w;
        sim_err err = { 0, "" };
        if (eng_weights_init(&w, &cfg, 1, 0, 17 + a, &err) != SIM_OK) {
            note(&fails, msg, cap, "K %d: %s", K, err.msg);
            continue;
        }
        for (int packed = 0; packed < 2; packed++) {
            if (packed && eng_mat_pack(&w.w13[0], &err) != SIM_OK) {
                note(&fails, msg, cap, "K %d packing: %s", K, err.msg);
                break;
            }
            for (size_t b = 0; b < sizeof Ms / sizeof Ms[0]; b++) {
                const int M = Ms[b];
                eng_fill_input(x, M, K, 5 + a + b, 0);
                eng_k_nt_small(M, N, x, K, &w.w13[0], row0, y, 16);
                for (int m = 0; m < M; m++)
                    for (int n = 0; n < N; n++) {
                        uint32_t bits;
                        memcpy(&bits, &y[m * 16 + n], sizeof bits);
                        h = (h ^ bits) * 1099511628211ull;
                    }
            }
        }
        eng_weights_free(&w);
    }
    free(x);
    *digest = h;
    return fails;
}

/* INT8 quantizes activations: a NaN or infinite one must still reach the outputs (as NaN),
 * not be scaled away (a NaN was, before the quantization took |x| by its bits: a comparison
 * with NaN is false, so the maximum skipped it and the token's outputs came out finite). */
long eng_kcases_int8_keeps_nan(char *msg, size_t cap)
{
    eng_config cfg = { 40, 4, 1, 1, 0, 0, ENG_SOFTMAX, ENG_INT8 };
    eng_weights w;
    sim_err err = { 0, "" };
    long fails = 0;
    if (eng_weights_init(&w, &cfg, 1, 0, 5, &err) != SIM_OK) {
        note(&fails, msg, cap, "%s", err.msg);
        return fails;
    }
    float x[3 * 40], y[3 * 8];
    eng_fill_input(x, 3, 40, 1, 0);
    x[40 + 7] = INFINITY;
    x[80 + 33] = NAN;   /* in the scalar tail of every width (40 = 2 x 16 + 8) */
    eng_k_nt_small(3, 8, x, 40, &w.w13[0], 0, y, 8);
    for (int n = 0; n < 8; n++) {
        if (!isfinite(y[n]))
            note(&fails, msg, cap, "token 0 (finite) output %d is %g", n, y[n]);
        if (!isnan(y[8 + n]))
            note(&fails, msg, cap, "token 1 (an infinity) output %d is %g, not NaN", n, y[8 + n]);
        if (!isnan(y[16 + n]))
            note(&fails, msg, cap, "token 2 (a NaN in the tail) output %d is %g, not NaN", n, y[16 + n]);
    }
    x[80 + 33] = 0, x[80 + 3] = NAN;   /* in the vector part */
    eng_k_nt_small(3, 8, x, 40, &w.w13[0], 0, y, 8);
    for (int n = 0; n < 8; n++)
        if (!isnan(y[16 + n]))
            note(&fails, msg, cap, "token 2 (a NaN in the vector part) output %d is %g, not NaN", n, y[16 + n]);
    eng_weights_free(&w);
    return fails;
}
