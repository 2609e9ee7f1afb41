/* kernels_ref.c: the CPU definitions of the CUDA kernels (double accumulators, one loop per
 * sum), against which tests/gpu/test_kernels.c checks each kernel on the device. */
#include "kernels_ref.h"
#include "fp8.h"
#include "../weights.h"

#include <math.h>
#include <string.h>

float ekr_weight(ek_wtype wt, const void *w, const float *scale, int K, long long r, int k)
{
    const long long i = r * K + k;
    switch (wt) {
    case EK_BF16: return eng_bf16_to_f32(((const uint16_t *)w)[i]);
    case EK_I8: return (float)((const int8_t *)w)[i] * scale[r];
    case EK_FP8: return eng_fp8_decode(((const uint8_t *)w)[i]) * scale[r];
    default: return ((const float *)w)[i];
    }
}

void ekr_ffn(const ek_ffn *a, int n_exp, float *out)
{
    const int K = a->K, W = a->pair ? a->rows / 2 : a->rows;
    for (int e = 0; e < n_exp; e++) {
        const int m0 = a->off ? a->off[e] : 0, m = a->off ? a->off[e + 1] - m0 : a->m;
        const long long rb = (long long)e * a->rows;   /* rows of all experts back to back */
        for (int t = m0; t < m0 + m; t++)
            for (int n = 0; n < W; n++) {
                double g = 0, u = 0;
                for (int k = 0; k < K; k++) {
                    const double x = a->x[(size_t)t * K + k];
                    g += x * ekr_weight(a->wt, a->w, a->scale, K, rb + n, k);
                    if (a->pair)
                        u += x * ekr_weight(a->wt, a->w, a->scale, K, rb + W + n, k);
                }
                out[(size_t)t * W + n] = a->pair ? (float)(g / (1.0 + exp(-g)) * u) : (float)g;
            }
    }
}

void ekr_topk(const float *logits, int T, int E, int k, int sigmoid, int *ids, float *wts)
{
    for (int t = 0; t < T; t++) {
        const float *l = logits + (size_t)t * E;
        double p[4096], sum = 0, mx = -INFINITY;
        for (int e = 0; e < E; e++)
            mx = fmax(mx, l[e]);
        for (int e = 0; e < E; e++)
            sum += (p[e] = sigmoid ? 1.0 / (1.0 + exp(-l[e])) : exp(l[e] - mx));
        if (!sigmoid)
            for (int e = 0; e < E; e++)
                p[e] /= sum;
        double tot = 0;
        for (int j = 0; j < k; j++) {
            int best = -1;
            for (int e = 0; e < E; e++) {
                int taken = 0;
                for (int i = 0; i < j; i++)
                    taken |= ids[(size_t)t * k + i] == e;
                if (!taken && (best < 0 || p[e] > p[best]))
                    best = e;
            }
            ids[(size_t)t * k + j] = best;
            tot += p[best];
        }
        for (int j = 0; j < k; j++)
            wts[(size_t)t * k + j] = (float)(p[ids[(size_t)t * k + j]] / tot);
    }
}

void ekr_combine(const float *ye, int d, const int *slot, const float *wts, int T, int k, float *y, int accumulate)
{
    for (int t = 0; t < T; t++)
        for (int i = 0; i < d; i++) {
            double s = accumulate ? y[(size_t)t * d + i] : 0;
            for (int j = 0; j < k; j++)
                s += (double)wts[(size_t)t * k + j] * ye[(size_t)slot[(size_t)t * k + j] * d + i];
            y[(size_t)t * d + i] = (float)s;
        }
}

void ekr_swiglu(const float *gu, long rows, int F, float *h)
{
    for (long r = 0; r < rows; r++)
        for (int f = 0; f < F; f++) {
            const double g = gu[r * 2 * F + f];
            h[r * F + f] = (float)(g / (1.0 + exp(-g)) * gu[r * 2 * F + F + f]);
        }
}
