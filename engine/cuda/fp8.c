/* fp8.c: FP8 E4M3 (1 sign, 4 exponent bits with bias 7, 3 mantissa bits; no infinities, one
 * NaN pattern per sign) by its definition; encoding searches the 127 finite magnitudes. */
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

uint8_t eng_fp8_encode(float v)
{
    if (isnan(v))
        return 0x7f;
    const uint8_t sign = signbit(v) ? 0x80 : 0;
    float a = fabsf(v);
    /* magnitudes increase with the code from 0x00 to 0x7e (448): binary search the bracket */
    int lo = 0, hi = 0x7e;
    if (a >= 448.0f)
        return sign | 0x7e;
    while (hi - lo > 1) {
        int mid = (lo + hi) / 2;
        if (eng_fp8_decode((uint8_t)mid) <= a)
            lo = mid;
        else
            hi = mid;
    }
    float dl = a - eng_fp8_decode((uint8_t)lo), dh = eng_fp8_decode((uint8_t)hi) - a;
    int c = dl < dh ? lo : dh < dl ? hi : (lo & 1 ? hi : lo);
    return (uint8_t)(sign | c);
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
