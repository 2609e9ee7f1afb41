/* kernels_cpu_tile.h: the small-batch Y = X W^T tile of kernels_cpu.c at one vector width,
 * included once per width with VW (lanes of FP32), MBMAX (tokens per tile) and SFX(name)
 * defined, so each instruction set gets a tile that fits its registers:
 *   VW 16, MBMAX 4 (AVX-512, 32 zmm): 16 accumulators + 4 weight vectors + 1 token vector;
 *   VW 8,  MBMAX 2 (AVX2, 16 ymm):    8 + 4 + 1, with two left for widening BF16 / INT8;
 *   VW 4,  MBMAX 2 (SSE2 / NEON, 16 xmm): the same count at 128 bits.
 * With VW lanes, BF16 widens as one zero-extend and shift (vpmovzxwd, vpslld) and INT8 as one
 * sign-extend and convert (vpmovsxbd, vcvtdq2ps) per vector, not element by element.
 * TGT is the target attribute of the level that runs the width (empty for the baseline): every
 * function in the chain carries it, so GCC can inline the widening intrinsics all the way.
 * Private to kernels_cpu.c (no include guard: it is meant to be included several times). */

typedef float SFX(vf) __attribute__((vector_size(VW * 4)));
typedef uint32_t SFX(vu) __attribute__((vector_size(VW * 4)));
typedef int32_t SFX(vi) __attribute__((vector_size(VW * 4)));
typedef uint16_t SFX(vh) __attribute__((vector_size(VW * 2)));
typedef int8_t SFX(vb) __attribute__((vector_size(VW)));

TGT INLINE SFX(vf) SFX(load_f32)(const float *p)
{
    SFX(vf) v;
    memcpy(&v, p, sizeof v);
    return v;
}

/* VW weights at element index i as FP32; dt is a constant after inlining. Where the width has
 * a widening intrinsic (WIDEN_BF16 / WIDEN_I8, defined before the include), it is used: GCC
 * lowers __builtin_convertvector of int8 lanes element by element. */
TGT INLINE SFX(vf) SFX(load_w)(eng_dtype dt, const void *base, size_t i)
{
    if (dt == ENG_BF16) {
#ifdef WIDEN_BF16
        return WIDEN_BF16((const uint16_t *)base + i);
#else
        SFX(vh) h;
        memcpy(&h, (const uint16_t *)base + i, sizeof h);
        return (SFX(vf))(__builtin_convertvector(h, SFX(vu)) << 16);
#endif
    }
    if (dt == ENG_INT8) {
#ifdef WIDEN_I8
        return WIDEN_I8((const int8_t *)base + i);
#else
        SFX(vb) b;
        memcpy(&b, (const int8_t *)base + i, sizeof b);
        return __builtin_convertvector(__builtin_convertvector(b, SFX(vi)), SFX(vf));
#endif
    }
    return SFX(load_f32)((const float *)base + i);
}

TGT INLINE float SFX(hsum)(SFX(vf) v)
{
    float s = 0;
    for (int i = 0; i < VW; i++)
        s += v[i];
    return s;
}

/* A tile of 4 weight rows by MB tokens (MB <= MBMAX, a constant after inlining). Each weight
 * vector is loaded once and used MB times; rows past the end (nr < 4) repeat the last row and
 * their sums are dropped, so full and ragged tiles share one path. INT8 sums are scaled once
 * per row at the end. */
TGT INLINE void SFX(tile)(eng_dtype dt, int MB, int nr, int K, const float *x, size_t ldx, const void *wd,
                      const float *scale, size_t r0, float *y, size_t ldy)
{
    size_t row[4];
    for (int r = 0; r < 4; r++)
        row[r] = (r0 + (size_t)(r < nr ? r : nr - 1)) * (size_t)K;
    SFX(vf) acc[MBMAX][4];
    for (int m = 0; m < MB; m++)
        for (int r = 0; r < 4; r++)
            acc[m][r] = (SFX(vf)){ 0 };
    int k = 0;
    if (MB == 1) {
        /* one token: each accumulator takes one multiply-add per step, so the adds' latency, not
         * the loads, would set the pace; a second set of accumulators for odd steps halves it */
        SFX(vf) odd[4] = { { 0 }, { 0 }, { 0 }, { 0 } };
        for (; k + 2 * VW <= K; k += 2 * VW) {
            SFX(vf) xa = SFX(load_f32)(x + k), xb = SFX(load_f32)(x + k + VW);
            for (int r = 0; r < 4; r++) {
                acc[0][r] += SFX(load_w)(dt, wd, row[r] + k) * xa;
                odd[r] += SFX(load_w)(dt, wd, row[r] + k + VW) * xb;
            }
        }
        for (int r = 0; r < 4; r++)
            acc[0][r] += odd[r];
    }
    for (; k + VW <= K; k += VW) {
        SFX(vf) w0 = SFX(load_w)(dt, wd, row[0] + k), w1 = SFX(load_w)(dt, wd, row[1] + k);
        SFX(vf) w2 = SFX(load_w)(dt, wd, row[2] + k), w3 = SFX(load_w)(dt, wd, row[3] + k);
        for (int m = 0; m < MB; m++) {
            SFX(vf) xv = SFX(load_f32)(x + m * ldx + k);
            acc[m][0] += w0 * xv;
            acc[m][1] += w1 * xv;
            acc[m][2] += w2 * xv;
            acc[m][3] += w3 * xv;
        }
    }
    for (int m = 0; m < MB; m++)
        for (int r = 0; r < nr; r++) {
            float s = SFX(hsum)(acc[m][r]);
            for (int kk = k; kk < K; kk++)
                s += load_w1(dt, wd, row[r] + kk) * x[m * ldx + kk];
            y[m * ldy + r] = dt == ENG_INT8 ? s * scale[r0 + r] : s;
        }
}

/* All tiles of an M x N block: for each 4 rows, the tokens in groups of MBMAX, then 2, then 1
 * (each group size a constant in its call, so the token loop unrolls). The 4 rows stay in
 * cache while the groups pass over them: DRAM serves each weight once. */
TGT INLINE void SFX(nt_body)(eng_dtype dt, int M, int N, const float *x, size_t ldx, const eng_mat *w, int row0,
                         float *y, size_t ldy)
{
    const int K = w->cols;
    for (int n = 0; n < N; n += 4) {
        int nr = N - n < 4 ? N - n : 4;
        int m = 0;
        for (; m + MBMAX <= M; m += MBMAX)
            SFX(tile)(dt, MBMAX, nr, K, x + m * ldx, ldx, w->data, w->scale, (size_t)row0 + n, y + m * ldy + n, ldy);
        for (; m + 2 <= M; m += 2)
            SFX(tile)(dt, 2, nr, K, x + m * ldx, ldx, w->data, w->scale, (size_t)row0 + n, y + m * ldy + n, ldy);
        for (; m < M; m++)
            SFX(tile)(dt, 1, nr, K, x + m * ldx, ldx, w->data, w->scale, (size_t)row0 + n, y + m * ldy + n, ldy);
    }
}

/* The parameters were for this width only: the next include sets its own. */
#undef VW
#undef MBMAX
#undef SFX
#undef TGT
#undef WIDEN_I8
#undef WIDEN_BF16
