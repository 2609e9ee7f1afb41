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

#define VL 16
typedef float v16f __attribute__((vector_size(64)));
typedef uint32_t v16u __attribute__((vector_size(64)));
typedef uint16_t v16h __attribute__((vector_size(32)));
typedef int8_t v16b __attribute__((vector_size(16)));
typedef int32_t v16i __attribute__((vector_size(64)));

#define INLINE static inline __attribute__((always_inline))

INLINE v16f load_f32(const float *p)
{
    v16f v;
    memcpy(&v, p, sizeof v);
    return v;
}

/* 16 weights at p (element index) as FP32; dt is a constant after inlining, so the switch
 * disappears and each kernel below is specialised to one format. */
INLINE v16f load_w(eng_dtype dt, const void *base, size_t i)
{
    if (dt == ENG_BF16) {
        v16h h;
        memcpy(&h, (const uint16_t *)base + i, sizeof h);
        return (v16f)(__builtin_convertvector(h, v16u) << 16);
    }
    if (dt == ENG_INT8) {
        v16b b;
        memcpy(&b, (const int8_t *)base + i, sizeof b);
        return __builtin_convertvector(__builtin_convertvector(b, v16i), v16f);
    }
    return load_f32((const float *)base + i);
}

INLINE float load_w1(eng_dtype dt, const void *base, size_t i)
{
    if (dt == ENG_BF16)
        return eng_bf16_to_f32(((const uint16_t *)base)[i]);
    if (dt == ENG_INT8)
        return (float)((const int8_t *)base)[i];
    return ((const float *)base)[i];
}

INLINE float hsum(v16f v)
{
    float s = 0;
    for (int i = 0; i < VL; i++)
        s += v[i];
    return s;
}

/* A tile of 4 weight rows by MB tokens. Each weight vector is loaded once and used MB times;
 * rows past the end (nr < 4) repeat the last row and their sums are dropped, so there is one
 * code path for full and ragged tiles. INT8 sums are scaled once per row at the end. */
INLINE void tile(eng_dtype dt, int MB, int nr, int K, const float *x, size_t ldx, const void *wd,
                 const float *scale, size_t r0, float *y, size_t ldy)
{
    size_t row[4];
    for (int r = 0; r < 4; r++)
        row[r] = (r0 + (size_t)(r < nr ? r : nr - 1)) * (size_t)K;
    v16f acc[4][4];
    for (int m = 0; m < MB; m++)
        for (int r = 0; r < 4; r++)
            acc[m][r] = (v16f){ 0 };
    int k = 0;
    for (; k + VL <= K; k += VL) {
        v16f w0 = load_w(dt, wd, row[0] + k), w1 = load_w(dt, wd, row[1] + k);
        v16f w2 = load_w(dt, wd, row[2] + k), w3 = load_w(dt, wd, row[3] + k);
        for (int m = 0; m < MB; m++) {
            v16f xv = load_f32(x + m * ldx + k);
            acc[m][0] += w0 * xv;
            acc[m][1] += w1 * xv;
            acc[m][2] += w2 * xv;
            acc[m][3] += w3 * xv;
        }
    }
    for (int m = 0; m < MB; m++)
        for (int r = 0; r < nr; r++) {
            float s = hsum(acc[m][r]);
            for (int kk = k; kk < K; kk++)
                s += load_w1(dt, wd, row[r] + kk) * x[m * ldx + kk];
            y[m * ldy + r] = dt == ENG_INT8 ? s * scale[r0 + r] : s;
        }
}

/* All tiles of an M x N block, tokens in groups of 4, 2, 1 (the group size is a constant in
 * each call so the compiler unrolls the token loop). */
INLINE void nt_body(eng_dtype dt, int M, int N, const float *x, size_t ldx, const eng_mat *w, int row0,
                    float *y, size_t ldy)
{
    const int K = w->cols;
    for (int n = 0; n < N; n += 4) {
        int nr = N - n < 4 ? N - n : 4;
        int m = 0;
        for (; m + 4 <= M; m += 4)
            tile(dt, 4, nr, K, x + m * ldx, ldx, w->data, w->scale, (size_t)row0 + n, y + m * ldy + n, ldy);
        for (; m + 2 <= M; m += 2)
            tile(dt, 2, nr, K, x + m * ldx, ldx, w->data, w->scale, (size_t)row0 + n, y + m * ldy + n, ldy);
        for (; m < M; m++)
            tile(dt, 1, nr, K, x + m * ldx, ldx, w->data, w->scale, (size_t)row0 + n, y + m * ldy + n, ldy);
    }
}

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

/* One kernel in three builds and the call that picks one. BODY is an always-inline function
 * taking ARGS; LINKAGE is `static` or empty. */
#ifdef ENG_X86_LEVELS
#define ENG_KERNEL(LINKAGE, NAME, BODY, PARAMS, ARGS)                        \
    __attribute__((target("arch=x86-64-v4"))) static void NAME##_v4 PARAMS \
    {                                                                        \
        BODY ARGS;                                                           \
    }                                                                        \
    __attribute__((target("arch=x86-64-v3"))) static void NAME##_v3 PARAMS \
    {                                                                        \
        BODY ARGS;                                                           \
    }                                                                        \
    static void NAME##_v1 PARAMS                                             \
    {                                                                        \
        BODY ARGS;                                                           \
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
#define ENG_KERNEL(LINKAGE, NAME, BODY, PARAMS, ARGS) \
    LINKAGE void NAME PARAMS                           \
    {                                                  \
        BODY ARGS;                                     \
    }
#endif

#define NT_PARAMS (int M, int N, const float *x, size_t ldx, const eng_mat *w, int row0, float *y, size_t ldy)
#define NT_ARGS (M, N, x, ldx, w, row0, y, ldy)
INLINE void nt_f32_body NT_PARAMS { nt_body(ENG_FP32, M, N, x, ldx, w, row0, y, ldy); }
INLINE void nt_bf16_body NT_PARAMS { nt_body(ENG_BF16, M, N, x, ldx, w, row0, y, ldy); }
INLINE void nt_i8_body NT_PARAMS { nt_body(ENG_INT8, M, N, x, ldx, w, row0, y, ldy); }
ENG_KERNEL(static, nt_f32, nt_f32_body, NT_PARAMS, NT_ARGS)
ENG_KERNEL(static, nt_bf16, nt_bf16_body, NT_PARAMS, NT_ARGS)
ENG_KERNEL(static, nt_i8, nt_i8_body, NT_PARAMS, NT_ARGS)

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
