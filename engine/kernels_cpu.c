/* kernels_cpu.c: small-batch Y = X W^T over FP32/BF16/INT8 weights, written once with GCC
 * vector types and compiled for AVX-512 (x86-64-v4), AVX2 (x86-64-v3) and plain x86-64; each
 * call runs the widest the CPU has, or plain x86-64 when MOESIM_GENERIC is set, so one binary
 * runs anywhere and the tests can cover the generic path on any machine. */
#include "kernels_cpu.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#if defined(__x86_64__) && !defined(__clang__)
#define ENG_X86_LEVELS 1
#endif

/* The helpers below pass 64-byte vectors by value; they are always inlined into the clones,
 * so the calling convention GCC warns about never exists. */
#pragma GCC diagnostic ignored "-Wpsabi"

#define INLINE static inline __attribute__((always_inline))

INLINE float load_w1(eng_dtype dt, const void *base, size_t i)
{
    if (dt == ENG_BF16)
        return eng_bf16_to_f32(((const uint16_t *)base)[i]);
    if (dt == ENG_INT8)
        return (float)((const int8_t *)base)[i];
    return ((const float *)base)[i];
}

/* One vector of weights widened to FP32 by the instruction made for it: vpmovsxbd + vcvtdq2ps
 * (INT8), vpmovzxwd + vpslld (BF16). Each is compiled for the level whose clones inline it. */
#ifdef ENG_X86_LEVELS
#include <immintrin.h>
typedef float eng_v16f __attribute__((vector_size(64)));
typedef float eng_v8f __attribute__((vector_size(32)));
__attribute__((target("arch=x86-64-v4"))) INLINE eng_v16f widen_i8_16(const int8_t *p)
{
    return (eng_v16f)_mm512_cvtepi32_ps(_mm512_cvtepi8_epi32(_mm_loadu_si128((const __m128i *)p)));
}
__attribute__((target("arch=x86-64-v4"))) INLINE eng_v16f widen_bf16_16(const uint16_t *p)
{
    return (eng_v16f)_mm512_slli_epi32(_mm512_cvtepu16_epi32(_mm256_loadu_si256((const __m256i *)p)), 16);
}
__attribute__((target("arch=x86-64-v3"))) INLINE eng_v8f widen_i8_8(const int8_t *p)
{
    return (eng_v8f)_mm256_cvtepi32_ps(_mm256_cvtepi8_epi32(_mm_loadl_epi64((const __m128i *)p)));
}
__attribute__((target("arch=x86-64-v3"))) INLINE eng_v8f widen_bf16_8(const uint16_t *p)
{
    return (eng_v8f)_mm256_slli_epi32(_mm256_cvtepu16_epi32(_mm_loadu_si128((const __m128i *)p)), 16);
}
#endif

/* The tile at three widths (kernels_cpu_tile.h says why these sizes); the 512- and 256-bit
 * ones exist only where the x86 levels are built. */
#ifdef ENG_X86_LEVELS
#define TGT16 __attribute__((target("arch=x86-64-v4")))
#define TGT8 __attribute__((target("arch=x86-64-v3")))
#define VW 16
#define MBMAX 4
#define SFX(name) name##_16
#define TGT TGT16
#define WIDEN_I8 widen_i8_16
#define WIDEN_BF16 widen_bf16_16
#include "kernels_cpu_tile.h"
#define VW 8
#define MBMAX 2
#define SFX(name) name##_8
#define TGT TGT8
#define WIDEN_I8 widen_i8_8
#define WIDEN_BF16 widen_bf16_8
#include "kernels_cpu_tile.h"
#endif
#define VW 4
#define MBMAX 2
#define SFX(name) name##_4
#define TGT
#include "kernels_cpu_tile.h"

int eng_k_isa_level(void)
{
    const char *generic = getenv("MOESIM_GENERIC");
    if (generic && *generic && strcmp(generic, "0") != 0)
        return 1;
#ifdef ENG_X86_LEVELS
    __builtin_cpu_init();
    if (__builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
        __builtin_cpu_supports("avx512dq") && __builtin_cpu_supports("avx512vl"))
        return 4;
    if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma") && __builtin_cpu_supports("bmi2"))
        return 3;
#endif
    return 1;
}

const char *eng_k_isa_name(void)
{
#ifdef ENG_X86_LEVELS
    static const char *const names[] = { "", "x86-64", "", "x86-64-v3", "x86-64-v4" };
    return names[eng_k_isa_level()];
#else
    return "baseline";
#endif
}

/* One kernel in three builds and the call that picks one. BODY4, BODY3 and BODY1 are
 * always-inline functions taking ARGS, the widest each level runs well (they may be the same
 * function); LINKAGE is `static` or empty. Without the x86 levels (clang, other
 * architectures) BODY1, the 128-bit one, is the only build. */
#ifdef ENG_X86_LEVELS
#define ENG_KERNEL3(LINKAGE, NAME, BODY4, BODY3, BODY1, PARAMS, ARGS)         \
    __attribute__((target("arch=x86-64-v4"))) static void NAME##_v4 PARAMS \
    {                                                                        \
        BODY4 ARGS;                                                          \
    }                                                                        \
    __attribute__((target("arch=x86-64-v3"))) static void NAME##_v3 PARAMS \
    {                                                                        \
        BODY3 ARGS;                                                          \
    }                                                                        \
    static void NAME##_v1 PARAMS                                             \
    {                                                                        \
        BODY1 ARGS;                                                          \
    }                                                                        \
    LINKAGE void NAME PARAMS                                                 \
    {                                                                        \
        switch (eng_k_isa_level()) {                                         \
        case 4: NAME##_v4 ARGS; break;                                       \
        case 3: NAME##_v3 ARGS; break;                                       \
        default: NAME##_v1 ARGS; break;                                      \
        }                                                                    \
    }
#else
#define ENG_KERNEL3(LINKAGE, NAME, BODY4, BODY3, BODY1, PARAMS, ARGS) \
    LINKAGE void NAME PARAMS                                           \
    {                                                                  \
        BODY1 ARGS;                                                    \
    }
#endif
#define ENG_KERNEL(LINKAGE, NAME, BODY, PARAMS, ARGS) ENG_KERNEL3(LINKAGE, NAME, BODY, BODY, BODY, PARAMS, ARGS)

#define NT_PARAMS (int M, int N, const float *x, size_t ldx, const eng_mat *w, int row0, float *y, size_t ldy)
#define NT_ARGS (M, N, x, ldx, w, row0, y, ldy)
#ifdef ENG_X86_LEVELS
#define NT_WIDE(T, DT)                                                                                       \
    TGT16 INLINE void nt_##T##_16 NT_PARAMS { nt_body_16(DT, M, N, x, ldx, w, row0, y, ldy); }                \
    TGT8 INLINE void nt_##T##_8 NT_PARAMS { nt_body_8(DT, M, N, x, ldx, w, row0, y, ldy); }
#else
#define NT_WIDE(T, DT)
#endif
#define NT_WIDTHS(T, DT)                                                                                     \
    NT_WIDE(T, DT)                                                                                           \
    INLINE void nt_##T##_4 NT_PARAMS { nt_body_4(DT, M, N, x, ldx, w, row0, y, ldy); }                        \
    ENG_KERNEL3(static, nt_##T, nt_##T##_16, nt_##T##_8, nt_##T##_4, NT_PARAMS, NT_ARGS)
NT_WIDTHS(f32, ENG_FP32)
NT_WIDTHS(bf16, ENG_BF16)
NT_WIDTHS(i8, ENG_INT8)

void eng_k_nt_small(int M, int N, const float *x, size_t ldx, const eng_mat *w, int row0, float *y, size_t ldy)
{
    if (M <= 0 || N <= 0)
        return;
    switch (w->dtype) {
    case ENG_BF16: nt_bf16(M, N, x, ldx, w, row0, y, ldy); break;
    case ENG_INT8: nt_i8(M, N, x, ldx, w, row0, y, ldy); break;
    default:       nt_f32(M, N, x, ldx, w, row0, y, ldy); break;
    }
}

void eng_k_nt_plain(int M, int N, const float *x, size_t ldx, const eng_mat *w, int row0, float *y, size_t ldy)
{
    for (int m = 0; m < M; m++)
        for (int n = 0; n < N; n++) {
            float s = 0;
            for (int k = 0; k < w->cols; k++)
                s += eng_mat_get(w, row0 + n, k) * x[m * ldx + k];
            y[m * ldy + n] = s;
        }
}

INLINE void dequant_body(const eng_mat *w, int row0, int n, float *out)
{
    const size_t K = (size_t)w->cols;
    for (int r = 0; r < n; r++) {
        size_t base = (size_t)(row0 + r) * K;
        float *o = out + (size_t)r * K;
        if (w->dtype == ENG_BF16) {
            const uint16_t *s = (const uint16_t *)w->data + base;
            for (size_t k = 0; k < K; k++)
                o[k] = eng_bf16_to_f32(s[k]);
        } else if (w->dtype == ENG_INT8) {
            const int8_t *s = (const int8_t *)w->data + base;
            const float sc = w->scale[row0 + r];
            for (size_t k = 0; k < K; k++)
                o[k] = (float)s[k] * sc;
        } else {
            memcpy(o, (const float *)w->data + base, K * sizeof(float));
        }
    }
}

INLINE void swiglu_body(int M, int n, const float *g, size_t ldg, const float *u, size_t ldu, float *out, size_t ldo)
{
    for (int m = 0; m < M; m++)
        for (int f = 0; f < n; f++) {
            float gv = g[m * ldg + f];
            out[m * ldo + f] = gv / (1.0f + expf(-gv)) * u[m * ldu + f];
        }
}

INLINE void triad_body(float *a, const float *b, const float *c, float s, size_t n)
{
    for (size_t i = 0; i < n; i++)
        a[i] = b[i] + s * c[i];
}

ENG_KERNEL(, eng_k_dequant, dequant_body, (const eng_mat *w, int row0, int n, float *out), (w, row0, n, out))
ENG_KERNEL(, eng_k_swiglu, swiglu_body,
           (int M, int n, const float *g, size_t ldg, const float *u, size_t ldu, float *out, size_t ldo),
           (M, n, g, ldg, u, ldu, out, ldo))
ENG_KERNEL(, eng_k_triad, triad_body, (float *a, const float *b, const float *c, float s, size_t n), (a, b, c, s, n))
