/* fp8.c: FP8 E4M3 (1 sign, 4 exponent bits with bias 7, 3 mantissa bits; no infinities, one
 * NaN pattern per sign) by its definition; tests/gpu/test_fp8.c holds encoding to brute force. */
#include "fp8.h"

#include <math.h>

float eng_fp8_decode(uint8_t code)
{
    const int s = code >> 7, e = (code >> 3) & 15, m = code & 7;
    if (e == 15 && m == 7)
        return NAN;
    float v = e == 0 ? ldexpf((float)m / 8.0f, -6) : ldexpf(1.0f + (float)m / 8.0f, e - 7);
    return s ? -v : v;
}

/* Round |v| on the grid of its binade (8 steps per power of two; subnormals below 2^-6 step
 * by 2^-9): rintf rounds ties to even, and an even quotient is an even mantissa, so this is
 * round-to-nearest-even. The code is then read off the rounded value. */
uint8_t eng_fp8_encode(float v)
{
    if (isnan(v))
        return 0x7f;
    const uint8_t sign = signbit(v) ? 0x80 : 0;
    const float a = fabsf(v);
    if (a >= 448.0f)
        return sign | 0x7e;
    int ex;
    frexpf(a, &ex);                                  /* a = f 2^ex, 0.5 <= f < 1 */
    const float step = a < 0.015625f ? ldexpf(1.0f, -9) : ldexpf(1.0f, ex - 4);
    const float r = fminf(rintf(a / step) * step, 448.0f);
    if (r < 0.015625f)
        return sign | (uint8_t)lrintf(r / ldexpf(1.0f, -9));   /* subnormal: code = m */
    const float f = frexpf(r, &ex);                  /* r = f 2^ex: exponent field ex - 1 + 7 */
    return sign | (uint8_t)(((ex + 6) << 3) | (int)lrintf((f * 2.0f - 1.0f) * 8.0f));
}

float eng_fp8_row_scale(const float *row, int n)
{
    float mx = 0;
    for (int i = 0; i < n; i++)
        mx = fmaxf(mx, fabsf(row[i]));
    if (!(mx > 0))
        return 1.0f;
    int ex;
    frexpf(mx / 448.0f, &ex);               /* mx / 448 = f * 2^ex, 0.5 <= f < 1 */
    float s = ldexpf(1.0f, ex);
    if (mx / ldexpf(1.0f, ex - 1) <= 448.0f)  /* exactly a power of two: the smaller one fits */
        s = ldexpf(1.0f, ex - 1);
    return s;
}
