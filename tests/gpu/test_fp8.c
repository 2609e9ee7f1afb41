/* test_fp8.c: the host FP8 E4M3 codec against its definition (every code, rounding to the
 * nearest with ties to even, saturation) and the per-row power-of-two scales. No GPU needed. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <math.h>

#include "../../engine/cuda/fp8.h"

static void test_decode_known_values(void **state)
{
    (void)state;
    assert_true(eng_fp8_decode(0x00) == 0.0f);
    assert_true(eng_fp8_decode(0x38) == 1.0f);          /* exponent 7 = bias */
    assert_true(eng_fp8_decode(0x7e) == 448.0f);        /* largest finite */
    assert_true(eng_fp8_decode(0x01) == ldexpf(1, -9)); /* smallest subnormal */
    assert_true(eng_fp8_decode(0xb8) == -1.0f);
    assert_true(isnan(eng_fp8_decode(0x7f)));
}

/* encode(decode(c)) == c for every finite code, and every float lands on a nearest code */
static void test_encode_is_nearest(void **state)
{
    (void)state;
    for (int c = 0; c < 256; c++)
        if ((c & 0x7f) != 0x7f && c != 0x80)
            assert_int_equal(eng_fp8_encode(eng_fp8_decode((uint8_t)c)), c);
    for (int i = -5000; i <= 5000; i++) {
        const float v = (float)i * 0.0917f;
        const uint8_t q = eng_fp8_encode(v);
        const float got = eng_fp8_decode(q);
        for (int c = 0; c < 256; c++) {
            const float o = eng_fp8_decode((uint8_t)c);
            if (!isnan(o) && fabsf(v) <= 448.0f)
                assert_true(fabsf(got - v) <= fabsf(o - v));
        }
    }
    assert_int_equal(eng_fp8_encode(1e6f), 0x7e);        /* saturates */
    assert_int_equal(eng_fp8_encode(-1e6f), 0xfe);
    /* a tie between 1.0 (0x38, even) and 1.125 (0x39) goes to the even code */
    assert_int_equal(eng_fp8_encode(1.0625f), 0x38);
    assert_int_equal(eng_fp8_encode(1.1875f), 0x3a);     /* between 0x39 and 0x3a: even */
}

static void test_row_scale(void **state)
{
    (void)state;
    const float a[3] = { 0.5f, -3.0f, 1.0f };
    float s = eng_fp8_row_scale(a, 3);
    assert_true(3.0f / s <= 448.0f && 3.0f / (s / 2) > 448.0f);
    assert_true(frexpf(s, &(int){ 0 }) == 0.5f);          /* a power of two */
    const float z[2] = { 0, 0 };
    assert_true(eng_fp8_row_scale(z, 2) == 1.0f);
    const float p[1] = { 448.0f };
    assert_true(eng_fp8_row_scale(p, 1) == 1.0f);
    /* quantization error of a row: within half a step of 3 mantissa bits, relative */
    float r[64];
    for (int i = 0; i < 64; i++)
        r[i] = sinf((float)i) * 0.03f;
    s = eng_fp8_row_scale(r, 64);
    for (int i = 0; i < 64; i++) {
        float q = eng_fp8_decode(eng_fp8_encode(r[i] / s)) * s;
        assert_true(fabsf(q - r[i]) <= fabsf(r[i]) / 16 + ldexpf(1, -10) * s);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_decode_known_values),
        cmocka_unit_test(test_encode_is_nearest),
        cmocka_unit_test(test_row_scale),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
