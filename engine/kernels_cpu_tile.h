/* kernels_cpu_tile.h: the small-batch Y = X W^T tile of kernels_cpu.c at one vector width,
 * included once per width with VW (lanes of FP32), MBMAX (tokens per tile) and SFX(name)
 * defined, so each instruction set gets a tile that fits its registers:
 *   VW 16, MBMAX 4 (AVX-512, 32 zmm): 16 accumulators + weight and token vectors;
 *   VW 8,  MBMAX 2 (AVX2, 16 ymm):    8 accumulators + 2 weight halves + 4 token halves;
 *   VW 4,  MBMAX 2 (SSE2 / NEON, 16 xmm): the same count at 128 bits.
 * TILE3 (FP32) and TILE3_Q(dt) (BF16, INT8): a group of exactly 3 tokens left over (or the
 * whole call) runs as one tile of 3 rather than 2 + 1, so the rows stream once instead of
 * being passed over twice; MBACC sizes the accumulators for it. Decode at 16 tokens has
 * experts with 3 rows. Measured on this machine, paired, 3 tokens: AVX-512 FP32 and INT8
 * +3-6%, BF16 even; AVX2 BF16 +10%, FP32 +7%, INT8 -4% (12 int32 accumulators and the
 * widened weights leave AVX2 short of registers), so AVX2 INT8 keeps 2 + 1.
 * Decode is memory-bound only if the work per weight byte stays well below what the cores
 * issue, so BF16 and INT8 weights are no longer widened lane by lane (vpmovzxwd / vpmovsxbd +
 * convert, 3-4 instructions per 8 weights); what still holds decode below the triad on this
 * machine was the access pattern (kernels_cpu.c, at eng_rows and PF_AHEAD; the CPU backend
 * now packs its weights so that a tile reads one stream):
 *   BF16: a vector of 32-bit words holds 2 VW weights; `w << 16` is the FP32 of the low
 *     half of each word, `w & 0xffff0000` that of the high half (one shift and one AND per
 *     2 VW weights). The activations of a call are de-interleaved once (low-half elements,
 *     then high-half ones, per 2 VW) so both halves meet their tokens without a shuffle.
 *   INT8: the activations of a call are quantized to int16 per token and K block (scale
 *     max|x| / 32767); weights widen to int16 once (vpmovsxbw) and each token takes one
 *     multiply-add of int16 pairs into int32 (vpmaddwd) and one add: the sum over a block is
 *     exact in integers, then scaled. Where the level has no such instruction (VW 4) the same
 *     integer sum is formed with 32-bit lanes, so every level computes the same thing.
 * FP32 weights load straight into the multiply-add, as before.
 * TGT is the target attribute of the level that runs the width (empty for the baseline): every
 * function in the chain carries it, so GCC can inline the intrinsics all the way. I8_WIDE_T,
 * I8_WIDEN and I8_MADD, when defined, are that level's int8 -> int16 widening and int16
 * pair multiply-add, and Q4_WIDEN VW bytes zero-extended to 32-bit lanes (GCC scalarizes
 * __builtin_convertvector from 8-bit lanes: INT4_G32 decode ran at 12% of the triad with it),
 * and I8_DPADD, when defined, the multiply-add into an accumulator in one
 * instruction (VNNI's vpdpwssd; kernels_cpu.c). I8_ROLLED, when defined, keeps the INT8 tile's
 * steps within a chunk a loop: unrolled, AVX2 without VNNI ran short of its 16 registers and
 * spilled accumulators to the stack (one core, from L2, 2 / 3 / 4 tokens: 18.3 / 12.2 / 9.4 ->
 * 22.0 / 13.7 / 11.5 GB/s), where the other levels lose 0-10% rolled. Private to kernels_cpu.c (no include guard: it is meant
 * to be included several times). */

typedef float SFX(vf) __attribute__((vector_size(VW * 4)));
typedef uint32_t SFX(vu) __attribute__((vector_size(VW * 4)));
typedef int32_t SFX(vi) __attribute__((vector_size(VW * 4)));
typedef int16_t SFX(vs) __attribute__((vector_size(VW * 2)));
typedef int8_t SFX(vb) __attribute__((vector_size(VW)));

TGT INLINE SFX(vf) SFX(load_f32)(const float *p)
{
    SFX(vf) v;
    memcpy(&v, p, sizeof v);
    return v;
}

TGT INLINE float SFX(hsum)(SFX(vf) v)
{
    float s = 0;
    for (int i = 0; i < VW; i++)
        s += v[i];
    return s;
}

TGT INLINE int64_t SFX(hsum_i)(SFX(vi) v)
{
    int64_t s = 0;
    for (int i = 0; i < VW; i++)
        s += v[i];
    return s;
}

/* --- FP32 weights: a tile of 4 weight rows by MB tokens (MB <= MBMAX, a constant after
 * inlining). Each weight vector is loaded once and used MB times; rows past the end (nr < 4)
 * repeat the last row and their sums are dropped, so full and ragged tiles share one path.
 * The rows are read chunk by chunk (ENG_PANEL_BYTES of each row, eng_rows says where), so
 * the same loop reads row-major matrices and the backend's panels. */
TGT INLINE void SFX(tile_f32)(int MB, int nr, int K, const float *x, size_t ldx, const float *wd,
                              const eng_rows *rw, float *y, size_t ldy)
{
    enum { CE = ENG_PANEL_BYTES / 4, S = CE / VW };
    _Static_assert(CE % VW == 0, "a chunk holds whole vectors");
    SFX(vf) acc[MBACC][4], odd[4];
    for (int r = 0; r < 4; r++) {
        odd[r] = (SFX(vf)){ 0 };
        for (int m = 0; m < MB; m++)
            acc[m][r] = (SFX(vf)){ 0 };
    }
    const float *p = wd + rw->base;
    for (size_t k = 0; k < rw->full; k += CE, p += rw->stride) {
        if (PF_F32)
            for (int r = 0; r < 4; r++)
                PF_AHEAD(p + rw->off[r] + rw->pf, rw->pf_l2);
        for (int s = 0; s < S; s++) {
            SFX(vf) w[4];
            for (int r = 0; r < 4; r++)
                w[r] = SFX(load_f32)(p + rw->off[r] + s * VW);
            for (int m = 0; m < MB; m++) {
                SFX(vf) xv = SFX(load_f32)(x + m * ldx + k + s * VW);
                /* one token: each accumulator would take one multiply-add per step, so the
                 * adds' latency, not the loads, would set the pace; odd steps go to a second
                 * set of accumulators */
                for (int r = 0; r < 4; r++) {
                    if (MB == 1 && (s & 1))
                        odd[r] += w[r] * xv;
                    else
                        acc[m][r] += w[r] * xv;
                }
            }
        }
    }
    for (int m = 0; m < MB; m++)
        for (int r = 0; r < nr; r++) {
            float s = SFX(hsum)(MB == 1 ? acc[m][r] + odd[r] : acc[m][r]);
            for (size_t kk = rw->full; kk < (size_t)K; kk++)
                s += wd[rw->tail + rw->toff[r] + kk - rw->full] * x[m * ldx + kk];
            y[m * ldy + r] = s;
        }
}

/* --- BF16 weights --- */

/* The FP32 values of 2 VW bf16 weights: lo from the low half of each 32-bit word, hi from
 * the high half. On a little-endian machine the low half is the even element. */
TGT INLINE void SFX(bf16_split)(const uint16_t *p, SFX(vf) *lo, SFX(vf) *hi)
{
    SFX(vu) u;
    memcpy(&u, p, sizeof u);
    *lo = (SFX(vf))(u << 16);
    *hi = (SFX(vf))(u & 0xffff0000u);
}

/* MG tokens of kn activations, de-interleaved per 2 VW to match bf16_split: xp[m * KC + k + j]
 * = x[m][k + 2j + LO], xp[m * KC + k + VW + j] = x[m][k + 2j + 1 - LO], for the whole steps;
 * the tail (kn % 2 VW) is read from x itself. */
TGT INLINE void SFX(prep_bf16)(int MG, int kn, const float *x, size_t ldx, float *xp)
{
    const int kv = kn - kn % (2 * VW);
    for (int m = 0; m < MG; m++)
        for (int k = 0; k < kv; k += 2 * VW)
            for (int j = 0; j < VW; j++) {
                xp[(size_t)m * KC + k + j] = x[m * ldx + k + 2 * j + BF16_LO];
                xp[(size_t)m * KC + k + VW + j] = x[m * ldx + k + 2 * j + 1 - BF16_LO];
            }
}

/* 4 rows by MB tokens over one K block of kn elements starting at column kb (a multiple of
 * KC, so of the chunk); add: add to y (a later block) rather than store. x and xp start at
 * column kb. */
TGT INLINE void SFX(tile_bf16)(int MB, int nr, int K, int kb, int kn, const float *xp, const float *x, size_t ldx,
                               const uint16_t *wd, const eng_rows *rw, float *y, size_t ldy, int add)
{
    enum { CE = ENG_PANEL_BYTES / 2, S = CE / (2 * VW) };
    _Static_assert(CE % (2 * VW) == 0, "a chunk holds whole steps");
    const size_t kend = (size_t)kb + (size_t)kn < rw->full ? (size_t)kb + (size_t)kn : rw->full;
    /* one token: lo and hi halves into separate accumulators, so each takes one multiply-add
     * per step (8 chains in flight); more tokens have enough chains with one set */
    SFX(vf) acc[MBACC][4], hacc[4];
    for (int r = 0; r < 4; r++) {
        hacc[r] = (SFX(vf)){ 0 };
        for (int m = 0; m < MB; m++)
            acc[m][r] = (SFX(vf)){ 0 };
    }
    const uint16_t *p = wd + rw->base + (size_t)kb / CE * rw->stride;
    for (size_t k = 0; k + kb < kend; k += CE, p += rw->stride) {
        for (int r = 0; r < 4; r++)
            PF_AHEAD(p + rw->off[r] + rw->pf, rw->pf_l2);
        for (int s = 0; s < S; s++)
            for (int r = 0; r < 4; r++) {
                SFX(vf) lo, hi;
                SFX(bf16_split)(p + rw->off[r] + s * 2 * VW, &lo, &hi);
                for (int m = 0; m < MB; m++) {
                    const float *xm = xp + (size_t)m * KC + k + s * 2 * VW;
                    acc[m][r] += lo * SFX(load_f32)(xm);
                    if (MB == 1)
                        hacc[r] += hi * SFX(load_f32)(xm + VW);
                    else
                        acc[m][r] += hi * SFX(load_f32)(xm + VW);
                }
            }
    }
    const size_t t0 = (size_t)kb + (size_t)kn == (size_t)K ? rw->full : (size_t)K;  /* leftover columns: last block */
    for (int m = 0; m < MB; m++)
        for (int r = 0; r < nr; r++) {
            float s = SFX(hsum)(MB == 1 ? acc[m][r] + hacc[r] : acc[m][r]);
            for (size_t kk = t0; kk < (size_t)K; kk++)
                s += eng_bf16_to_f32(wd[rw->tail + rw->toff[r] + kk - rw->full]) * x[m * ldx + kk - kb];
            y[m * ldy + r] = add ? y[m * ldy + r] + s : s;
        }
}

/* --- INT8 weights --- */

/* 2 VW int8 weights widened for I8_MADD (or, without it, as two vectors of 32-bit lanes). */
#ifdef I8_WIDEN
typedef I8_WIDE_T SFX(wide);
TGT INLINE SFX(wide) SFX(i8_widen)(const int8_t *p)
{
    return I8_WIDEN(p);
}
/* A token's 2 VW int16 activations as I8_MADD reads them: from memory, as they are. */
typedef const int16_t *SFX(xact);
TGT INLINE SFX(xact) SFX(i8_xload)(const int16_t *xq)
{
    return xq;
}
/* VW lanes, each the sum of two products of a weight and a token's int16 activation. */
TGT INLINE SFX(vi) SFX(i8_madd)(SFX(wide) w, SFX(xact) xq)
{
    return (SFX(vi))I8_MADD(w, xq);
}
/* acc plus i8_madd: one instruction where the level has VNNI's vpdpwssd (I8_DPADD: the same
 * products and the same wrapping 32-bit adds, so the same sums), else two. */
TGT INLINE SFX(vi) SFX(i8_acc)(SFX(vi) acc, SFX(wide) w, SFX(xact) xq)
{
#ifdef I8_DPADD
    return (SFX(vi))I8_DPADD((I8_WIDE_T)acc, w, xq);
#else
    return acc + SFX(i8_madd)(w, xq);
#endif
}
#else
typedef struct {
    SFX(vi) lo, hi;
} SFX(wide);
TGT INLINE SFX(wide) SFX(i8_widen)(const int8_t *p)
{
    SFX(vb) a, b;
    memcpy(&a, p, sizeof a);
    memcpy(&b, p + VW, sizeof b);
    return (SFX(wide)){ __builtin_convertvector(a, SFX(vi)), __builtin_convertvector(b, SFX(vi)) };
}
/* A token's 2 VW activations widened to 32-bit lanes, once per K step for all four rows of a
 * tile: widened inside the row loop, the generic build converted them four times (INT8
 * decode 2-3x slower than the float widening it replaced, on MOESIM_GENERIC=1). */
typedef SFX(wide) SFX(xact);
TGT INLINE SFX(xact) SFX(i8_xload)(const int16_t *xq)
{
    SFX(vs) a, b;
    memcpy(&a, xq, sizeof a);
    memcpy(&b, xq + VW, sizeof b);
    return (SFX(xact)){ __builtin_convertvector(a, SFX(vi)), __builtin_convertvector(b, SFX(vi)) };
}
TGT INLINE SFX(vi) SFX(i8_madd)(SFX(wide) w, SFX(xact) x)
{
    return w.lo * x.lo + w.hi * x.hi;
}
TGT INLINE SFX(vi) SFX(i8_acc)(SFX(vi) acc, SFX(wide) w, SFX(xact) x)
{
    return acc + SFX(i8_madd)(w, x);
}
#endif

/* MG tokens of kn activations as int16, each token with its own scale sx[m] = max|x| / 32767
 * over the block, rounded to nearest (|x - sx xq| <= sx / 2). A token with an infinite or
 * NaN activation gets sx = NaN, so its outputs are NaN as the plain loop's would be.
 * Vectorized: the backend prepares a call's activations once per task of (expert, column
 * block), so a decode step prepares each token's activations several times; done an element
 * at a time this was ~20% of AVX2 INT8 decode at 16 tokens (perf, Qwen3-30B-A3B). |x| is
 * taken as the bits of x without its sign: for non-negative floats the unsigned order of the
 * bits is the order of the values, and every infinity or NaN lies above FLT_MAX's bits, so
 * one unsigned maximum finds max|x| and any non-finite element alike. The rounding is the
 * same float arithmetic at every width (x inv, clamp, + 0.5 with x's sign, truncate), so every
 * level quantizes alike. */
TGT INLINE void SFX(prep_i8)(int MG, int kn, const float *x, size_t ldx, int16_t *xq, float *sx)
{
    const int kv = kn - kn % VW;
    const uint32_t max_finite = 0x7f7fffffu;   /* FLT_MAX's bits */
    for (int m = 0; m < MG; m++) {
        const float *xm = x + m * ldx;
        int16_t *qm = xq + (size_t)m * KC;
        SFX(vu) vmax = { 0 };
        for (int k = 0; k < kv; k += VW) {
            SFX(vu) a;
            memcpy(&a, xm + k, sizeof a);
            a &= 0x7fffffffu;
            SFX(vu) gt = (SFX(vu))(a > vmax);
            vmax = (a & gt) | (vmax & ~gt);
        }
        uint32_t bits = 0;
        for (int i = 0; i < VW; i++)
            bits = vmax[i] > bits ? vmax[i] : bits;
        for (int k = kv; k < kn; k++) {
            uint32_t a;
            memcpy(&a, xm + k, sizeof a);
            a &= 0x7fffffffu;
            bits = a > bits ? a : bits;
        }
        if (bits > max_finite) {
            sx[m] = NAN;
            memset(qm, 0, sizeof(int16_t) * (size_t)kn);
            continue;
        }
        float amax;
        memcpy(&amax, &bits, sizeof amax);
        const float inv = amax > 0 ? 32767.0f / amax : 0.0f;
        sx[m] = amax / 32767.0f;
        for (int k = 0; k < kv; k += VW) {
            SFX(vf) v = SFX(load_f32)(xm + k) * inv;
            SFX(vu) hi = (SFX(vu))(v > 32767.0f), lo = (SFX(vu))(v < -32767.0f);
            v = (SFX(vf))((hi & (SFX(vu))((SFX(vf)){ 0 } + 32767.0f)) | (~hi & (SFX(vu))v));
            v = (SFX(vf))((lo & (SFX(vu))((SFX(vf)){ 0 } - 32767.0f)) | (~lo & (SFX(vu))v));
            SFX(vf) half = (SFX(vf))(((SFX(vu))v & 0x80000000u) | 0x3f000000u);   /* 0.5 with v's sign */
            SFX(vs) q = __builtin_convertvector(__builtin_convertvector(v + half, SFX(vi)), SFX(vs));
            memcpy(qm + k, &q, sizeof q);
        }
        for (int k = kv; k < kn; k++) {
            float v = xm[k] * inv;
            v = v > 32767.0f ? 32767.0f : v < -32767.0f ? -32767.0f : v;
            qm[k] = (int16_t)(v + (v >= 0 ? 0.5f : -0.5f));
        }
    }
}

/* 4 rows by MB tokens over one K block. Each lane adds two products of at most
 * 128 x 32767 per step, and a block has at most KC / 8 = 256 steps (VW 4): under 2^31, so the
 * 32-bit lanes cannot overflow; lanes are summed in 64 bits. */
TGT INLINE void SFX(tile_i8)(int MB, int nr, int K, int kb, int kn, const int16_t *xq, const float *sx,
                             const int8_t *wd, const float *scale, size_t r0, const eng_rows *rw, float *y, size_t ldy,
                             int add)
{
    _Static_assert(KC / (2 * VW) * 2 * 128 * 32767L < 2147483647L, "int32 lanes overflow within a K block");
    enum { CE = ENG_PANEL_BYTES, S = CE / (2 * VW) };
    _Static_assert(CE % (2 * VW) == 0, "a chunk holds whole steps");
    const size_t kend = (size_t)kb + (size_t)kn < rw->full ? (size_t)kb + (size_t)kn : rw->full;
    SFX(vi) acc[MBACC][4];
    for (int m = 0; m < MB; m++)
        for (int r = 0; r < 4; r++)
            acc[m][r] = (SFX(vi)){ 0 };
    const int8_t *p = wd + rw->base + (size_t)kb / CE * rw->stride;
    for (size_t k = 0; k + kb < kend; k += CE, p += rw->stride) {
        for (int r = 0; r < 4; r++)
            PF_AHEAD(p + rw->off[r] + rw->pf, rw->pf_l2);
#ifdef I8_ROLLED
        _Pragma("GCC unroll 1")
#endif
        for (int s = 0; s < S; s++) {
            SFX(xact) xa[MBACC];
            for (int m = 0; m < MB; m++)
                xa[m] = SFX(i8_xload)(xq + (size_t)m * KC + k + s * 2 * VW);
            for (int r = 0; r < 4; r++) {
                SFX(wide) w = SFX(i8_widen)(p + rw->off[r] + s * 2 * VW);
                for (int m = 0; m < MB; m++)
                    acc[m][r] = SFX(i8_acc)(acc[m][r], w, xa[m]);
            }
        }
    }
    const size_t t0 = (size_t)kb + (size_t)kn == (size_t)K ? rw->full : (size_t)K;  /* leftover columns: last block */
    for (int m = 0; m < MB; m++)
        for (int r = 0; r < nr; r++) {
            int64_t s = SFX(hsum_i)(acc[m][r]);
            for (size_t kk = t0; kk < (size_t)K; kk++)
                s += (int32_t)wd[rw->tail + rw->toff[r] + kk - rw->full] * xq[(size_t)m * KC + kk - kb];
            float v = (float)((double)s * sx[m] * scale[r0 + r]);
            y[m * ldy + r] = add ? y[m * ldy + r] + v : v;
        }
}

/* --- INT4_G32 weights (weights.h: 18-byte blocks of a BF16 scale and 32 nibbles, rows
 * row-major) --- */

/* The FP32 values of one block's 32 weights: w[j] are elements j VW ... j VW + VW - 1 of the
 * block (j < 32 / VW). Each byte is widened to a 32-bit lane once (vpmovzxbd), its low nibble
 * (elements 0-15) and high nibble (16-31) converted and scaled: nib x s - 8 s is (nib - 8) x s
 * exactly (a 4-bit integer times a BF16 scale fits FP32's 24 bits), so every level and the
 * plain loop read the same weights. The unpacking is paid once per weight and row, and shared
 * by the tile's tokens. */
/* The block's BF16 scale as FP32 in every lane: Q4_SCALE where the level has one (a broadcast
 * load and a shift), else a splat through integer lanes (`{0} + sc` in floats is an add, since
 * 0 + -0 is +0, and a loop of lane stores became 8 inserts: AVX2 INT4_G32 decode at 28% of the
 * triad). */
TGT INLINE SFX(vf) SFX(q4_vscale)(const uint8_t *b)
{
#ifdef Q4_SCALE
    return (SFX(vf))Q4_SCALE(b);
#else
    return (SFX(vf))((SFX(vu)){ 0 } + ((uint32_t)(b[0] | b[1] << 8) << 16));
#endif
}

TGT INLINE void SFX(q4_block)(const uint8_t *b, SFX(vf) *w)
{
    enum { H = 16 / VW };
    const SFX(vf) vs = SFX(q4_vscale)(b);
#ifdef Q4_LOOKUP
    if (VW == 16) {
        /* the block's 16 possible weights in one register, (n - 8) x s for n = 0..15 (exact,
         * as above); each 32-bit lane's low 4 bits pick one (vpermps ignores the rest), so a
         * nibble costs a lookup instead of a mask, a conversion and a multiply-add */
        SFX(vf) table;
        for (int n = 0; n < VW; n++)
            table[n] = (float)(n - 8);
        table *= vs;
        const SFX(vu) u = (SFX(vu))Q4_WIDEN(b + 2);
        w[0] = (SFX(vf))Q4_LOOKUP(u, table);
        w[1] = (SFX(vf))Q4_LOOKUP(u >> 4, table);
        return;
    }
#endif
    const SFX(vf) off = vs * -8.0f;   /* exact: a power of two times the scale */
    for (int j = 0; j < H; j++) {
#ifdef Q4_WIDEN
        const SFX(vu) u = (SFX(vu))Q4_WIDEN(b + 2 + j * VW);
#else
        typedef uint8_t bytes_t __attribute__((vector_size(VW)));
        bytes_t by;
        memcpy(&by, b + 2 + j * VW, sizeof by);
        const SFX(vu) u = __builtin_convertvector(by, SFX(vu));
#endif
        w[j] = __builtin_convertvector((SFX(vi))(u & 15u), SFX(vf)) * vs + off;
        w[H + j] = __builtin_convertvector((SFX(vi))(u >> 4), SFX(vf)) * vs + off;
    }
}

/* The 4 rows of a tile (rows past nr repeat the last), each from block b0; and the prefetch of
 * the next tile's rows (4 on) once per 64-byte line, where a block at offset o starts within
 * the line's first 18 bytes (exactly one block does). */
TGT INLINE void SFX(q4_rows)(const uint8_t *wd, size_t rb, size_t r0, int nr, size_t b0, const uint8_t **row)
{
    for (int r = 0; r < 4; r++)
        row[r] = wd + (r0 + (size_t)(r < nr ? r : nr - 1)) * rb + b0 * ENG_Q4_BLOCK;
}
TGT INLINE void SFX(q4_prefetch)(const uint8_t *const *row, size_t o, size_t rb, int pf_l2)
{
    if ((((uintptr_t)row[0] + o) & 63) < ENG_Q4_BLOCK)
        for (int r = 0; r < 4; r++)
            PF_AHEAD(row[r] + o + 4 * rb, pf_l2);
}

/* 4 rows by MB tokens over a whole row in FP32 (x as the layer holds it: no preparation): the
 * AVX-512 build's decode tile (the levels with Q4_INT run tile_q4i). One token: the block's low
 * and high halves go to separate accumulators (two chains per row). Each row's blocks are one
 * sequential stream (q4_prefetch). The last block of a row not a multiple of 32 long is summed
 * element by element. */
TGT INLINE void SFX(tile_q4)(int MB, int nr, int K, const float *x, size_t ldx, const uint8_t *wd, size_t rb,
                             size_t r0, float *y, size_t ldy, int pf_l2)
{
    enum { G = ENG_Q4_GROUP, NV = G / VW, H = NV / 2 };
    SFX(vf) acc[MBACC][4], hacc[4];
    for (int r = 0; r < 4; r++) {
        hacc[r] = (SFX(vf)){ 0 };
        for (int m = 0; m < MB; m++)
            acc[m][r] = (SFX(vf)){ 0 };
    }
    const uint8_t *row[4];
    SFX(q4_rows)(wd, rb, r0, nr, 0, row);
    const int nb = K / G;
    for (int b = 0; b < nb; b++) {
        const size_t o = (size_t)b * ENG_Q4_BLOCK;
        SFX(q4_prefetch)(row, o, rb, pf_l2);
        for (int r = 0; r < 4; r++) {
            SFX(vf) w[NV];
            SFX(q4_block)(row[r] + o, w);
            for (int m = 0; m < MB; m++) {
                const float *xm = x + m * ldx + (size_t)b * G;
                for (int j = 0; j < H; j++) {
                    acc[m][r] += w[j] * SFX(load_f32)(xm + j * VW);
                    if (MB == 1)
                        hacc[r] += w[H + j] * SFX(load_f32)(xm + (H + j) * VW);
                    else
                        acc[m][r] += w[H + j] * SFX(load_f32)(xm + (H + j) * VW);
                }
            }
        }
    }
    for (int m = 0; m < MB; m++)
        for (int r = 0; r < nr; r++) {
            float s = SFX(hsum)(MB == 1 ? acc[m][r] + hacc[r] : acc[m][r]);
            if (nb * G < K) {
                const uint8_t *bl = row[r] + (size_t)nb * ENG_Q4_BLOCK;
                for (int i = 0; i < K - nb * G; i++)
                    s += (float)eng_q4_q(bl, i) * eng_q4_scale(bl) * x[m * ldx + nb * G + i];
            }
            y[m * ldy + r] = s;
        }
}

/* Rows [row0, row0 + n) of an INT4_G32 matrix as FP32 into out[n][cols] (the BLAS path),
 * a block at a time through q4_block: written element by element, GCC's vectorized loop
 * shuffled lanes and the AVX2 widening took 18% of a 1,024-token layer. */
TGT INLINE void SFX(dequant_q4)(const eng_mat *w, int row0, int n, float *out)
{
    enum { G = ENG_Q4_GROUP, NV = G / VW };
    const size_t K = (size_t)w->cols, rb = eng_mat_row_bytes(w);
    for (int r = 0; r < n; r++) {
        const uint8_t *b = (const uint8_t *)w->data + (size_t)(row0 + r) * rb;
        float *o = out + (size_t)r * K;
        size_t c0 = 0;
        for (; c0 + G <= K; c0 += G, b += ENG_Q4_BLOCK) {
            SFX(vf) v[NV];
            SFX(q4_block)(b, v);
            memcpy(o + c0, v, sizeof v);
        }
        for (size_t i = 0; c0 + i < K; i++)   /* a part block ends the row */
            o[c0 + i] = (float)eng_q4_q(b, (int)i) * eng_q4_scale(b);
    }
}

#if defined(Q4_INT) && !defined(Q4_UNPACK)
/* A block's 16 bytes as lo (elements 0-15) and hi (16-31), nib - 8, in the 32-bit lanes of the
 * generic `wide` (no I8_WIDEN at this level: 2 VW weights a wide). */
TGT INLINE void SFX(q4_unpack)(const uint8_t *p, SFX(wide) *lo, SFX(wide) *hi)
{
    for (int j = 0; j < 16 / (2 * VW); j++) {
        typedef uint8_t bytes_t __attribute__((vector_size(VW)));
        bytes_t a, b;
        memcpy(&a, p + j * 2 * VW, sizeof a);
        memcpy(&b, p + j * 2 * VW + VW, sizeof b);
        const SFX(vi) ua = __builtin_convertvector(a, SFX(vi)), ub = __builtin_convertvector(b, SFX(vi));
        lo[j] = (SFX(wide)){ (ua & 15) - 8, (ub & 15) - 8 };
        hi[j] = (SFX(wide)){ (ua >> 4) - 8, (ub >> 4) - 8 };
    }
}
#define Q4_UNPACK(p, lo, hi) SFX(q4_unpack)(p, lo, hi)
#endif

#ifdef Q4_INT
/* INT4_G32 in integers, where the level has no 16-entry lookup (AVX2, SSE2, NEON): a float
 * weight per nibble cost a mask or shift, a conversion and a multiply-add per 8 weights (AVX2
 * INT4_G32 decode 45% of the triad, compute-bound). Here a block's 32 nibbles widen to int16
 * once (Q4_UNPACK: lo = elements 0-15, hi = 16-31, each nib - 8), meet the token's int16
 * activations (prep_i8, as INT8's) in pair multiply-adds, and the block's integer sum is
 * converted and scaled once per token: |sum| <= 32 x 8 x 32767 < 2^24, exact in FP32. So these
 * levels carry INT8's activation rounding (|x - sx xq| <= sx / 2); the AVX-512 lookup keeps
 * FP32 activations. The tests bound both. */
TGT INLINE void SFX(tile_q4i)(int MB, int nr, int K, int kb, int kn, const int16_t *xq, const float *sx,
                              const uint8_t *wd, size_t rb, size_t r0, float *y, size_t ldy, int add, int pf_l2)
{
    enum { G = ENG_Q4_GROUP, NW = G / 2 / (2 * VW) };
    SFX(vf) acc[MBACC][4];
    for (int m = 0; m < MB; m++)
        for (int r = 0; r < 4; r++)
            acc[m][r] = (SFX(vf)){ 0 };
    const uint8_t *row[4];
    SFX(q4_rows)(wd, rb, r0, nr, (size_t)kb / G, row);
    const int nb = kn / G;
    for (int b = 0; b < nb; b++) {
        const size_t o = (size_t)b * ENG_Q4_BLOCK;
        SFX(q4_prefetch)(row, o, rb, pf_l2);
        SFX(xact) xlo[MBACC][NW], xhi[MBACC][NW];
        for (int m = 0; m < MB; m++)
            for (int j = 0; j < NW; j++) {
                xlo[m][j] = SFX(i8_xload)(xq + (size_t)m * KC + (size_t)b * G + j * 2 * VW);
                xhi[m][j] = SFX(i8_xload)(xq + (size_t)m * KC + (size_t)b * G + G / 2 + j * 2 * VW);
            }
        for (int r = 0; r < 4; r++) {
            const uint8_t *bl = row[r] + o;
            const SFX(vf) vs = SFX(q4_vscale)(bl);
            SFX(wide) lo[NW], hi[NW];
            Q4_UNPACK(bl + 2, lo, hi);
            for (int m = 0; m < MB; m++) {
                SFX(vi) is = (SFX(vi)){ 0 };
                for (int j = 0; j < NW; j++) {
                    is = SFX(i8_acc)(is, lo[j], xlo[m][j]);
                    is = SFX(i8_acc)(is, hi[j], xhi[m][j]);
                }
                acc[m][r] += __builtin_convertvector(is, SFX(vf)) * vs;
            }
        }
    }
    const int tail = kb + kn == K ? K - (kb + nb * G) : 0;   /* a part block ends the row */
    for (int m = 0; m < MB; m++)
        for (int r = 0; r < nr; r++) {
            float s = SFX(hsum)(acc[m][r]);
            if (tail > 0) {
                const uint8_t *bl = row[r] + (size_t)nb * ENG_Q4_BLOCK;
                int32_t t = 0;
                for (int i = 0; i < tail; i++)
                    t += eng_q4_q(bl, i) * xq[(size_t)m * KC + (size_t)nb * G + i];
                s += (float)t * eng_q4_scale(bl);
            }
            const float v = s * sx[m];
            y[m * ldy + r] = add ? y[m * ldy + r] + v : v;
        }
}
#endif

/* One tile of the prepared-activation formats (dt a constant after inlining); xp is the
 * preparation of the tile's first token. */
TGT INLINE void SFX(tile_q)(eng_dtype dt, int MB, int nr, int K, int kb, int kn, const float *x, size_t ldx,
                            const eng_xprep *xp, int m, const eng_mat *w, size_t r0, const eng_rows *rw, float *y,
                            size_t ldy, int add)
{
    if (dt == ENG_BF16)
        SFX(tile_bf16)(MB, nr, K, kb, kn, xp->f + (size_t)m * KC, x, ldx, (const uint16_t *)w->data, rw, y, ldy, add);
    else
        SFX(tile_i8)(MB, nr, K, kb, kn, xp->q + (size_t)m * KC, xp->sx + m, (const int8_t *)w->data, w->scale, r0,
                     rw, y, ldy, add);
}

/* All tiles of an M x N block. For each 4 rows (in a packed matrix: never across two
 * panels, so a ragged tile comes first when row0 is not a panel's first row), the tokens in
 * groups of MBMAX, then 2, then 1 (each group size a constant in its call, so the token loop
 * unrolls). The 4 rows stay in cache while the groups pass over them: DRAM serves each
 * weight once. BF16 and INT8 take their activations prepared per group of up to XG tokens and
 * KC columns (one group and one block at decode sizes: the bench's K is 2048 or 768), so a
 * longer K is read in blocks of KC, still once. */
TGT INLINE void SFX(nt_body)(eng_dtype dt, int M, int N, const float *x, size_t ldx, const eng_mat *w, int row0,
                             float *y, size_t ldy, int pf_l2)
{
    const int K = w->cols;
    if (w->panel) {
        /* the first tile too (each tile prefetches the next one): a call starts its stream
         * cold (paired runs, 256 rows per call, K 768: INT8 +2-3%, BF16 +0-1%) */
        const size_t es = DT_BYTES(dt);
        const char *p0 = (const char *)w->data + eng_mat_index(w, row0 - row0 % w->panel, 0) * es;
        for (size_t b = 0; b < 4 * (size_t)K * es; b += 64)
            PF_AHEAD(p0 + b, pf_l2);
    }
    if (dt == ENG_FP32) {
        const float *wd = w->data;
        for (int n = 0, nr; n < N; n += nr) {
            nr = tile_rows(w, row0 + n, N - n);
            const eng_rows rw = rows_of(w, (size_t)row0 + n, nr, pf_l2);
            int m = 0;
            for (; m + MBMAX <= M && (!TILE3 || M - m != 3); m += MBMAX)
                SFX(tile_f32)(MBMAX, nr, K, x + m * ldx, ldx, wd, &rw, y + m * ldy + n, ldy);
            if (TILE3 && M - m == 3) {
                SFX(tile_f32)(3, nr, K, x + m * ldx, ldx, wd, &rw, y + m * ldy + n, ldy);
                m += 3;
            }
            for (; m + 2 <= M; m += 2)
                SFX(tile_f32)(2, nr, K, x + m * ldx, ldx, wd, &rw, y + m * ldy + n, ldy);
            for (; m < M; m++)
                SFX(tile_f32)(1, nr, K, x + m * ldx, ldx, wd, &rw, y + m * ldy + n, ldy);
        }
        return;
    }
#ifdef Q4_INT
    if (dt == ENG_INT4_G32) {
        const uint8_t *wd = w->data;
        const size_t rb = eng_mat_row_bytes(w);
        eng_xprep xp;
        for (int m0 = 0; m0 < M; m0 += XG) {
            const int mg = M - m0 < XG ? M - m0 : XG;
            for (int kb = 0; kb < K; kb += KC) {
                const int kn = K - kb < KC ? K - kb : KC;
                SFX(prep_i8)(mg, kn, x + m0 * ldx + kb, ldx, xp.q, xp.sx);
                float *yb = y + m0 * ldy;
                for (int n = 0, nr; n < N; n += nr) {
                    nr = N - n < 4 ? N - n : 4;
                    const size_t r0 = (size_t)row0 + n;
                    int m = 0;
                    for (; m + MBMAX <= mg; m += MBMAX)
                        SFX(tile_q4i)(MBMAX, nr, K, kb, kn, xp.q + (size_t)m * KC, xp.sx + m, wd, rb, r0,
                                      yb + m * ldy + n, ldy, kb > 0, pf_l2);
                    for (; m + 2 <= mg; m += 2)
                        SFX(tile_q4i)(2, nr, K, kb, kn, xp.q + (size_t)m * KC, xp.sx + m, wd, rb, r0,
                                      yb + m * ldy + n, ldy, kb > 0, pf_l2);
                    for (; m < mg; m++)
                        SFX(tile_q4i)(1, nr, K, kb, kn, xp.q + (size_t)m * KC, xp.sx + m, wd, rb, r0,
                                      yb + m * ldy + n, ldy, kb > 0, pf_l2);
                }
            }
        }
        return;
    }
#endif
    if (dt == ENG_INT4_G32) {
        const uint8_t *wd = w->data;
        const size_t rb = eng_mat_row_bytes(w);
        for (int n = 0, nr; n < N; n += nr) {
            nr = N - n < 4 ? N - n : 4;
            const size_t r0 = (size_t)row0 + n;
            int m = 0;
            for (; m + MBMAX <= M && (!TILE3 || M - m != 3); m += MBMAX)
                SFX(tile_q4)(MBMAX, nr, K, x + m * ldx, ldx, wd, rb, r0, y + m * ldy + n, ldy, pf_l2);
            if (TILE3 && M - m == 3) {
                SFX(tile_q4)(3, nr, K, x + m * ldx, ldx, wd, rb, r0, y + m * ldy + n, ldy, pf_l2);
                m += 3;
            }
            for (; m + 2 <= M; m += 2)
                SFX(tile_q4)(2, nr, K, x + m * ldx, ldx, wd, rb, r0, y + m * ldy + n, ldy, pf_l2);
            for (; m < M; m++)
                SFX(tile_q4)(1, nr, K, x + m * ldx, ldx, wd, rb, r0, y + m * ldy + n, ldy, pf_l2);
        }
        return;
    }
    eng_xprep xp;
    for (int m0 = 0; m0 < M; m0 += XG) {
        const int mg = M - m0 < XG ? M - m0 : XG;
        for (int kb = 0; kb < K; kb += KC) {
            const int kn = K - kb < KC ? K - kb : KC;
            const float *xb = x + m0 * ldx + kb;
            float *yb = y + m0 * ldy;
            if (dt == ENG_BF16)
                SFX(prep_bf16)(mg, kn, xb, ldx, xp.f);
            else
                SFX(prep_i8)(mg, kn, xb, ldx, xp.q, xp.sx);
            for (int n = 0, nr; n < N; n += nr) {
                nr = tile_rows(w, row0 + n, N - n);
                const size_t r0 = (size_t)row0 + n;
                const eng_rows rw = rows_of(w, r0, nr, pf_l2);
                int m = 0;
                for (; m + MBMAX <= mg && (!TILE3_Q(dt) || mg - m != 3); m += MBMAX)
                    SFX(tile_q)(dt, MBMAX, nr, K, kb, kn, xb + m * ldx, ldx, &xp, m, w, r0, &rw, yb + m * ldy + n, ldy, kb > 0);
                if (TILE3_Q(dt) && mg - m == 3) {
                    SFX(tile_q)(dt, 3, nr, K, kb, kn, xb + m * ldx, ldx, &xp, m, w, r0, &rw, yb + m * ldy + n, ldy, kb > 0);
                    m += 3;
                }
                for (; m + 2 <= mg; m += 2)
                    SFX(tile_q)(dt, 2, nr, K, kb, kn, xb + m * ldx, ldx, &xp, m, w, r0, &rw, yb + m * ldy + n, ldy, kb > 0);
                for (; m < mg; m++)
                    SFX(tile_q)(dt, 1, nr, K, kb, kn, xb + m * ldx, ldx, &xp, m, w, r0, &rw, yb + m * ldy + n, ldy, kb > 0);
            }
        }
    }
}

/* The parameters were for this width only: the next include sets its own. */
#undef VW
#undef MBMAX
#undef MBACC
#undef TILE3
#undef TILE3_Q
#undef SFX
#undef TGT
#undef I8_WIDE_T
#undef I8_WIDEN
#undef I8_MADD
#undef I8_DPADD
#undef I8_ROLLED
#undef Q4_WIDEN
#undef Q4_LOOKUP
#undef Q4_SCALE
#undef Q4_INT
#undef Q4_UNPACK
