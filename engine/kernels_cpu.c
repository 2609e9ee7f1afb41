/* kernels_cpu.c: small-batch Y = X W^T over FP32/BF16/INT8/INT4_G32 weights, written once with GCC
 * vector types and compiled for AVX-512 (x86-64-v4), AVX2 (x86-64-v3) and plain x86-64; each
 * call runs the widest the CPU has, or a narrower one the environment asks for
 * (MOESIM_GENERIC=1, MOESIM_CPU_KERNELS), so one binary runs anywhere and the tests cover
 * every level the machine has. */
#include "kernels_cpu.h"

#include <float.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* The levels are built by GCC and clang alike (make CC=clang); AVX-VNNI is found with cpuid
 * (avx_vnni_cpuid), since Debian 12's clang 14 knows no "avxvnni" for __builtin_cpu_supports. */
#if defined(__x86_64__)
#define ENG_X86_LEVELS 1
#include <cpuid.h>
#endif

/* The helpers below pass 64-byte vectors by value; they are always inlined into the clones,
 * so the calling convention GCC warns about never exists. */
#pragma GCC diagnostic ignored "-Wpsabi"

#define INLINE static inline __attribute__((always_inline))

/* The activations of one call as the BF16 and INT8 tiles read them, prepared per group of XG
 * tokens (the most the backend sends: ENG_CPU_SMALL_ROWS) and block of KC columns; 64 KiB on
 * the stack of the calling thread. KC is a multiple of every width's step (2 VW <= 32). */
#define XG 8
#define KC 2048
typedef struct eng_xprep {
    union {
        float f[XG * KC];     /* BF16: de-interleaved FP32 activations */
        int16_t q[XG * KC];   /* INT8: quantized activations */
    };
    float sx[XG];             /* INT8: their scale per token */
} eng_xprep;

/* Which half of a 32-bit word holds the even bf16 element: the low one on a little-endian
 * machine (BF16_LO 0: the low halves meet x[2j]). */
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_BIG_ENDIAN__
#define BF16_LO 1
#else
#define BF16_LO 0
#endif

/* INT8 at the x86 levels: 2 VW weights widened to int16 once (vpmovsxbw), then per token one
 * multiply-add of int16 pairs into VW int32 lanes (vpmaddwd). Each is compiled for the level
 * whose clones inline it. */
#ifdef ENG_X86_LEVELS
#include <immintrin.h>
__attribute__((target("arch=x86-64-v4"))) INLINE __m512i x86_i8_widen_zmm(const int8_t *p)
{
    return _mm512_cvtepi8_epi16(_mm256_loadu_si256((const __m256i *)p));
}
__attribute__((target("arch=x86-64-v4"))) INLINE __m512i x86_i8_madd_zmm(__m512i w, const int16_t *x)
{
    return _mm512_madd_epi16(w, _mm512_loadu_si512((const void *)x));
}
__attribute__((target("arch=x86-64-v3"))) INLINE __m256i x86_i8_widen_ymm(const int8_t *p)
{
    return _mm256_cvtepi8_epi16(_mm_loadu_si128((const __m128i *)p));
}
__attribute__((target("arch=x86-64-v3"))) INLINE __m256i x86_i8_madd_ymm(__m256i w, const int16_t *x)
{
    return _mm256_madd_epi16(w, _mm256_loadu_si256((const __m256i *)x));
}
/* VNNI (AVX512-VNNI with AVX-512, AVX-VNNI with AVX2): vpdpwssd adds the pair products into
 * the accumulator in one instruction, wrapping as vpmaddwd + vpaddd do, so the sums are the
 * same. It halves the instructions per token and weight vector, which is what INT8 decode at
 * 2-4 tokens per expert is short of on a machine with much bandwidth per core (Zen 5 VM, 2
 * cores at 2.6 GHz, ~90 GB/s: INT8 4 tokens from L2 ran at 23 GB/s a core). */
#define TGT16N __attribute__((target("arch=x86-64-v4,avx512vnni")))
#define TGT8N __attribute__((target("arch=x86-64-v3,avxvnni")))
TGT16N INLINE __m512i x86_i8_dpadd_zmm(__m512i acc, __m512i w, const int16_t *x)
{
    return _mm512_dpwssd_epi32(acc, w, _mm512_loadu_si512((const void *)x));
}
/* VW bytes zero-extended to VW 32-bit lanes (vpmovzxbd), for the INT4_G32 tile's nibbles. */
__attribute__((target("arch=x86-64-v4"))) INLINE __m512i x86_u8_widen_zmm(const uint8_t *p)
{
    return _mm512_cvtepu8_epi32(_mm_loadu_si128((const __m128i *)p));
}
/* Lane i of the result is table[idx[i] & 15] (vpermps). */
__attribute__((target("arch=x86-64-v4"))) INLINE __m512 x86_q4_lookup_zmm(__m512i idx, __m512 table)
{
    return _mm512_permutexvar_ps(idx, table);
}
/* The block's BF16 scale at p as FP32 in every lane: the 4 bytes at p broadcast as they are (a
 * load, no shuffle), the scale in each lane's low half (little-endian) shifted to the high one. */
__attribute__((target("arch=x86-64-v4"))) INLINE __m512 x86_q4_scale_zmm(const uint8_t *p)
{
    float f;
    memcpy(&f, p, sizeof f);
    return _mm512_castsi512_ps(_mm512_slli_epi32(_mm512_castps_si512(_mm512_set1_ps(f)), 16));
}
__attribute__((target("arch=x86-64-v3"))) INLINE __m256i x86_u8_widen_ymm(const uint8_t *p)
{
    return _mm256_cvtepu8_epi32(_mm_loadl_epi64((const __m128i *)p));
}
/* A block's 16 nibble bytes as int16 nib - 8: lo = elements 0-15 (low nibbles), hi = 16-31. */
__attribute__((target("arch=x86-64-v3"))) INLINE void x86_q4_unpack_ymm(const uint8_t *p, __m256i *lo, __m256i *hi)
{
    const __m256i t = _mm256_cvtepu8_epi16(_mm_loadu_si128((const __m128i *)p)), eight = _mm256_set1_epi16(8);
    *lo = _mm256_sub_epi16(_mm256_and_si256(t, _mm256_set1_epi16(15)), eight);
    *hi = _mm256_sub_epi16(_mm256_srli_epi16(t, 4), eight);
}
TGT8N INLINE __m256i x86_i8_dpadd_ymm(__m256i acc, __m256i w, const int16_t *x)
{
    return _mm256_dpwssd_avx_epi32(acc, w, _mm256_loadu_si256((const __m256i *)x));
}
#endif

/* Where a tile's rows lie: chunk j (ENG_PANEL_BYTES of a row) of row r0 + r is at element
 * base + off[r] + j * stride, its leftover columns (past full) at tail + toff[r]. Rows past
 * nr repeat the last one. In a packed matrix the tile's rows are in one panel, so its chunks
 * follow each other: one sequential stream. */
typedef struct eng_rows {
    size_t base, stride, off[4];
    size_t tail, toff[4];
    size_t full;        /* columns in whole chunks */
    size_t pf;          /* what the tile prefetches: this many elements past each chunk */
    int pf_l2;          /* prefetch into L2 rather than L1 (prefetch_choice) */
} eng_rows;

/* eng_dtype_bytes, inline (a constant where dt is one) */
#define DT_BYTES(dt) ((dt) == ENG_FP32 ? 4u : (dt) == ENG_BF16 ? 2u : 1u)

static inline __attribute__((always_inline)) eng_rows rows_of(const eng_mat *w, size_t r0, int nr, int pf_l2)
{
    const size_t K = (size_t)w->cols, es = DT_BYTES(w->dtype), ce = ENG_PANEL_BYTES / es;
    eng_rows rw;
    rw.pf_l2 = pf_l2;
    rw.full = K / ce * ce;
    rw.pf = 4 * K;      /* the same chunk of the next tile, in either layout */
    if (!w->panel) {
        rw.base = rw.tail = r0 * K;
        rw.stride = ce;
        rw.tail += rw.full;
        for (int r = 0; r < 4; r++)
            rw.off[r] = rw.toff[r] = (size_t)(r < nr ? r : nr - 1) * K;
        return rw;
    }
    const size_t P = (size_t)w->panel, p0 = r0 / P * P, pr = (size_t)w->rows - p0 < P ? (size_t)w->rows - p0 : P;
    rw.base = p0 * K + (r0 - p0) * ce;
    rw.stride = pr * ce;
    rw.tail = p0 * K + rw.full * pr + (r0 - p0) * (K - rw.full);
    rw.pf = 4 * K;
    for (int r = 0; r < 4; r++) {
        rw.off[r] = (size_t)(r < nr ? r : nr - 1) * ce;
        rw.toff[r] = (size_t)(r < nr ? r : nr - 1) * (K - rw.full);
    }
    return rw;
}

/* Rows in the tile starting at row r of w, with n left: 4, fewer at the end, and in a packed
 * matrix never past the end of r's panel. */
static inline __attribute__((always_inline)) int tile_rows(const eng_mat *w, int r, int n)
{
    int nr = n < 4 ? n : 4;
    if (w->panel) {
        int room = w->panel - r % w->panel;
        nr = nr < room ? nr : room;
    }
    return nr;
}

/* The tiles prefetch one line per row and chunk: the same line of the next tile (4 rows on),
 * so that DRAM keeps serving while a tile computes, and keeps serving while a tile with more
 * tokens than MBMAX passes over its rows again from cache (a prefetch a fixed 1-4 KiB ahead
 * left DRAM idle during those passes: packed BF16, 4 tokens, 26-44 GB/s against 38-44 for
 * the next tile). Row-major: each row of the bench shapes is one 4 KiB page (BF16, K 2048)
 * or half of one (INT8), and the hardware prefetchers stop at page boundaries, so each tile
 * would otherwise start its pages cold (one core, one token: BF16 26 -> 30 GB/s, INT8 17 -> 32
 * GB/s). Packed, the stream is sequential and the prefetch runs one tile ahead of it
 * (paired runs, 2 threads, 256 MiB of weights: as good as 8-16 KiB ahead, better than 2-4).
 * FP32 now prefetches too: packed, 2 tokens, 56 -> 68 GB/s. Tiles of one row (a single
 * stream) were tried before the panels and lost: reloading the activations for every row
 * made them load-bound (BF16 one core 32 -> 23 GB/s, two tokens 30 -> 15). A prefetch past
 * the matrix cannot fault. l2: into L2 rather than L1 (prefetch_choice says when); a branch
 * the same way for a whole call, since a prefetch's locality must be a constant. */
#define PF_AHEAD(p, l2)                                       \
    do {                                                      \
        if (l2)                                               \
            __builtin_prefetch((const void *)(p), 0, 2);      \
        else                                                  \
            __builtin_prefetch((const void *)(p), 0, 3);      \
    } while (0)
#ifndef PF_F32
#define PF_F32 1
#endif

/* The tile at three widths (kernels_cpu_tile.h says why these sizes); the 512- and 256-bit
 * ones exist only where the x86 levels are built. */
#ifdef ENG_X86_LEVELS
#define TGT16 __attribute__((target("arch=x86-64-v4")))
#define TGT8 __attribute__((target("arch=x86-64-v3")))
#define VW 16
#define MBMAX 4
#define TILE3 1
#define TILE3_Q(dt) 1
#define MBACC 4
#define SFX(name) name##_16
#define TGT TGT16
#define I8_WIDE_T __m512i
#define I8_WIDEN x86_i8_widen_zmm
#define I8_MADD x86_i8_madd_zmm
#define Q4_WIDEN x86_u8_widen_zmm
#define Q4_LOOKUP(u, t) x86_q4_lookup_zmm((__m512i)(u), (__m512)(t))
#define Q4_SCALE x86_q4_scale_zmm
#include "kernels_cpu_tile.h"
#define VW 8
#define MBMAX 2
#define TILE3 1
#define TILE3_Q(dt) ((dt) == ENG_BF16)
#define MBACC 3
#define SFX(name) name##_8
#define TGT TGT8
#define I8_WIDE_T __m256i
#define I8_WIDEN x86_i8_widen_ymm
#define I8_MADD x86_i8_madd_ymm
#define I8_ROLLED 1
#define Q4_WIDEN x86_u8_widen_ymm
#define Q4_INT 1
#define Q4_UNPACK x86_q4_unpack_ymm
#include "kernels_cpu_tile.h"
/* the same two widths with VNNI, for INT8 and (the 256-bit one) INT4_G32 (eng_k_isa_vnni,
 * with_vnni) */
#define VW 16
#define MBMAX 4
#define TILE3 1
#define TILE3_Q(dt) 1
#define MBACC 4
#define SFX(name) name##_16n
#define TGT TGT16N
#define I8_WIDE_T __m512i
#define I8_WIDEN x86_i8_widen_zmm
#define I8_MADD x86_i8_madd_zmm
#define I8_DPADD x86_i8_dpadd_zmm
#include "kernels_cpu_tile.h"
#define VW 8
#define MBMAX 2
#define TILE3 1
#define TILE3_Q(dt) 1
#define MBACC 3
#define SFX(name) name##_8n
#define TGT TGT8N
#define I8_WIDE_T __m256i
#define I8_WIDEN x86_i8_widen_ymm
#define I8_MADD x86_i8_madd_ymm
#define I8_DPADD x86_i8_dpadd_ymm
#define Q4_INT 1
#define Q4_UNPACK x86_q4_unpack_ymm
#include "kernels_cpu_tile.h"
#endif
#define VW 4
#define MBMAX 2
#define TILE3 0
#define TILE3_Q(dt) 0
#define MBACC 2
#define SFX(name) name##_4
#define TGT
#ifdef ENG_X86_LEVELS
/* Plain x86-64 has SSE2's pmaddwd but neither pmovsxbw nor pmulld (both SSE4.1), so without
 * these the INT8 tile formed 32-bit products GCC must emulate: MOESIM_GENERIC=1 INT8 decode
 * took 5.2 ms a Qwen3 layer at one token against BF16's 1.3 ms (Zen 5, 2 cores). A byte
 * unpacked into both halves of a 16-bit lane and shifted back arithmetically is its sign
 * extension. Other architectures keep the generic form (NEON has 32-bit multiplies). */
INLINE __m128i x86_i8_widen_xmm(const int8_t *p)
{
    __m128i v = _mm_loadl_epi64((const __m128i *)p);
    return _mm_srai_epi16(_mm_unpacklo_epi8(v, v), 8);
}
INLINE __m128i x86_i8_madd_xmm(__m128i w, const int16_t *x)
{
    return _mm_madd_epi16(w, _mm_loadu_si128((const __m128i *)x));
}
#define I8_WIDE_T __m128i
#define I8_WIDEN x86_i8_widen_xmm
#define I8_MADD x86_i8_madd_xmm
/* 4 bytes zero-extended to 32-bit lanes with SSE2's unpacks (pmovzxbd is SSE4.1) */
INLINE __m128i x86_u8_widen_xmm(const uint8_t *p)
{
    uint32_t w;
    memcpy(&w, p, sizeof w);
    const __m128i z = _mm_setzero_si128();
    return _mm_unpacklo_epi16(_mm_unpacklo_epi8(_mm_cvtsi32_si128((int)w), z), z);
}
#define Q4_WIDEN x86_u8_widen_xmm
/* a block's 16 bytes as int16 nib - 8 in two xmm each: lo = elements 0-7, 8-15; hi = 16-23, 24-31 */
INLINE void x86_q4_unpack_xmm(const uint8_t *p, __m128i *lo, __m128i *hi)
{
    const __m128i v = _mm_loadu_si128((const __m128i *)p), z = _mm_setzero_si128();
    const __m128i m = _mm_set1_epi16(15), eight = _mm_set1_epi16(8);
    const __m128i t0 = _mm_unpacklo_epi8(v, z), t1 = _mm_unpackhi_epi8(v, z);
    lo[0] = _mm_sub_epi16(_mm_and_si128(t0, m), eight);
    lo[1] = _mm_sub_epi16(_mm_and_si128(t1, m), eight);
    hi[0] = _mm_sub_epi16(_mm_srli_epi16(t0, 4), eight);
    hi[1] = _mm_sub_epi16(_mm_srli_epi16(t1, 4), eight);
}
#define Q4_UNPACK x86_q4_unpack_xmm
#endif
#define Q4_INT 1
#include "kernels_cpu_tile.h"

/* The widest level this CPU runs (4, 3 or 1), whatever the environment asks. */
int eng_k_isa_cpu_level(void)
{
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

#ifdef ENG_X86_LEVELS
/* AVX-VNNI (VEX-encoded, 256-bit): CPUID leaf 7, sub-leaf 1, EAX bit 4 (Intel SDM vol. 2A,
 * CPUID). Asked only at level 3 or above, where the OS already saves the ymm state. */
static int avx_vnni_cpuid(void)
{
    unsigned a, b, c, d;
    return __get_cpuid_count(7, 1, &a, &b, &c, &d) && (a >> 4 & 1);
}
#endif

/* Whether this CPU has VNNI's vpdpwssd at a level: AVX512-VNNI at 4, AVX-VNNI at 3. */
int eng_k_isa_cpu_vnni(int level)
{
#ifdef ENG_X86_LEVELS
    __builtin_cpu_init();
    if (level == 4)
        return __builtin_cpu_supports("avx512vnni") != 0;
    if (level == 3)
        return avx_vnni_cpuid();
#else
    (void)level;
#endif
    return 0;
}

/* The level the environment asks for: MOESIM_GENERIC (set and not "0") asks for 1, else
 * MOESIM_CPU_KERNELS names one ("x86-64", "x86-64-v3", "x86-64-v3+vnni", "x86-64-v4",
 * "x86-64-v4+vnni"); 0 when neither asks, -1 when MOESIM_CPU_KERNELS names none of them.
 * *vnni: 1 when the name asks for VNNI, 0 when it names a level without it (or
 * MOESIM_GENERIC asks for the plain one), -1 when nothing is asked (the CPU's, then). */
static int isa_requested(int *vnni)
{
    *vnni = -1;
    const char *generic = getenv("MOESIM_GENERIC");
    if (generic && *generic && strcmp(generic, "0") != 0)
        return *vnni = 0, 1;
    const char *name = getenv("MOESIM_CPU_KERNELS");
    if (!name || !*name)
        return 0;
    static const struct { const char *name; int level, vnni; } names[] = {
        { "x86-64", 1, 0 }, { "x86-64-v3", 3, 0 }, { "x86-64-v3+vnni", 3, 1 },
        { "x86-64-v4", 4, 0 }, { "x86-64-v4+vnni", 4, 1 },
    };
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++)
        if (!strcmp(name, names[i].name))
            return *vnni = names[i].vnni, names[i].level;
    return -1;
}

/* The level and whether INT8 runs VNNI, resolved together. Called per kernel call (two
 * getenvs and a cpuid check: nothing beside a kernel's work), so a test can change the level
 * between calls. A request above the CPU's level, or not understood, leaves the CPU's
 * (eng_k_isa_check says so to the user). */
static int isa_choice(int *vnni)
{
    int asked, cpu = eng_k_isa_cpu_level(), want = isa_requested(&asked);
    int level = want > 0 && want < cpu ? want : cpu;
    *vnni = asked != 0 && eng_k_isa_cpu_vnni(level);
    return level;
}

/* Which cache the decode tiles prefetch the next tile into: 1 (L1, prefetcht0) or 2 (L2,
 * prefetcht1). Intel cores hold each L1 miss in one of few fill buffers (16 on Golden Cove)
 * and a server core's DRAM bandwidth is bound by how many misses it keeps in flight, so a
 * prefetch into L1 competes with the demand loads for those buffers; into L2 it waits in the
 * larger L2 queue instead. On a 2-core Intel Xeon VM (AVX-512, AMX; 2026-12-01, triad ~30
 * GB/s), packed 1536 x 2048 matrices streamed on both cores (bench_tile stream), 1 / 2 / 4
 * tokens, L1 -> L2: FP32 26.3 / 25.4 / 22.7 -> 29.9 / 28.9 / 28.1 GB/s, INT8 21.0 / 21.5 / 22.0
 * -> 28.5 / 26.9 / 26.0, BF16 26.7 / 23.6 / 20.9 -> 29.2 / 26.9 / 25.8 (`bench_tile read`, a plain sum: 27);
 * prefetchnta fell to 9-11. On the AMD Zen 5 VM of the sessions before, L2 was 3-7% slower
 * for BF16 than L1, so L1 stays the default on every CPU but Intel's.
 * MOESIM_CPU_PREFETCH=l1|l2 asks for one; a value not understood leaves the CPU's default
 * (eng_k_isa_check says so). Resolved per call, as the level is. */
static int prefetch_choice(void)
{
    const char *name = getenv("MOESIM_CPU_PREFETCH");
    if (name && !strcmp(name, "l1"))
        return 1;
    if (name && !strcmp(name, "l2"))
        return 2;
#ifdef ENG_X86_LEVELS
    __builtin_cpu_init();
    if (__builtin_cpu_is("intel"))
        return 2;
#endif
    return 1;
}

int eng_k_prefetch_l2(void)
{
    return prefetch_choice() == 2;
}

const char *eng_k_prefetch_name(void)
{
    return eng_k_prefetch_l2() ? "l2" : "l1";
}

int eng_k_isa_level(void)
{
    int vnni;
    return isa_choice(&vnni);
}

int eng_k_isa_vnni(void)
{
    int vnni;
    isa_choice(&vnni);
    return vnni;
}

static const char *level_name(int level)
{
#ifdef ENG_X86_LEVELS
    return level == 4 ? "x86-64-v4" : level == 3 ? "x86-64-v3" : "x86-64";
#else
    (void)level;
    return "baseline";
#endif
}

const char *eng_k_isa_name(void)
{
    int vnni, level = isa_choice(&vnni);
    if (vnni)
        return level == 4 ? "x86-64-v4+vnni" : "x86-64-v3+vnni";
    return level_name(level);
}

int eng_k_isa_check(char *msg, size_t cap)
{
    const char *pf = getenv("MOESIM_CPU_PREFETCH");
    if (pf && *pf && strcmp(pf, "l1") && strcmp(pf, "l2")) {
        snprintf(msg, cap, "MOESIM_CPU_PREFETCH is '%s' (expected l1 or l2)", pf);
        return -1;
    }
    int vnni, want = isa_requested(&vnni), cpu = eng_k_isa_cpu_level();
    if (want < 0) {
        snprintf(msg, cap,
                 "MOESIM_CPU_KERNELS is '%s' (expected x86-64, x86-64-v3, x86-64-v3+vnni, x86-64-v4 or x86-64-v4+vnni)",
                 getenv("MOESIM_CPU_KERNELS"));
        return -1;
    }
    if (want > cpu) {
        snprintf(msg, cap, "MOESIM_CPU_KERNELS asks for %s, but this CPU runs at most %s", getenv("MOESIM_CPU_KERNELS"),
                 level_name(cpu));
        return -1;
    }
    if (vnni == 1 && !eng_k_isa_cpu_vnni(want)) {
        snprintf(msg, cap, "MOESIM_CPU_KERNELS asks for %s, but this CPU has no %s", getenv("MOESIM_CPU_KERNELS"),
                 want == 4 ? "AVX512-VNNI" : "AVX-VNNI");
        return -1;
    }
    return 0;
}

/* One kernel in three builds and the call that picks one. BODY4, BODY3 and BODY1 are
 * always-inline functions taking ARGS, the widest each level runs well (they may be the same
 * function); LINKAGE is `static` or empty. Without the x86 levels (other architectures)
 * BODY1, the 128-bit one, is the only build. */
#ifdef ENG_X86_LEVELS
#define ENG_KERNEL3(LINKAGE, NAME, BODY4, BODY3, BODY1, PARAMS, ARGS) \
    ENG_KERNEL3_AT(LINKAGE, NAME, BODY4, BODY3, BODY1, PARAMS, ARGS, eng_k_isa_level())
#define ENG_KERNEL3_AT(LINKAGE, NAME, BODY4, BODY3, BODY1, PARAMS, ARGS, LEVEL)  \
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
        switch (LEVEL) {                                                     \
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
#define ENG_KERNEL3_AT(LINKAGE, NAME, BODY4, BODY3, BODY1, PARAMS, ARGS, LEVEL) \
    ENG_KERNEL3(LINKAGE, NAME, BODY4, BODY3, BODY1, PARAMS, ARGS)
#endif
#define ENG_KERNEL(LINKAGE, NAME, BODY, PARAMS, ARGS) ENG_KERNEL3(LINKAGE, NAME, BODY, BODY, BODY, PARAMS, ARGS)

#define NT_PARAMS (int M, int N, const float *x, size_t ldx, const eng_mat *w, int row0, float *y, size_t ldy, int pf_l2)
#define NT_ARGS (M, N, x, ldx, w, row0, y, ldy, pf_l2)
#ifdef ENG_X86_LEVELS
#define NT_WIDE(T, DT)                                                                                       \
    TGT16 INLINE void nt_##T##_16 NT_PARAMS { nt_body_16(DT, M, N, x, ldx, w, row0, y, ldy, pf_l2); }         \
    TGT8 INLINE void nt_##T##_8 NT_PARAMS { nt_body_8(DT, M, N, x, ldx, w, row0, y, ldy, pf_l2); }
#else
#define NT_WIDE(T, DT)
#endif
#define NT_WIDTHS(T, DT)                                                                                     \
    NT_WIDE(T, DT)                                                                                           \
    INLINE void nt_##T##_4 NT_PARAMS { nt_body_4(DT, M, N, x, ldx, w, row0, y, ldy, pf_l2); }                \
    ENG_KERNEL3(static, nt_##T, nt_##T##_16, nt_##T##_8, nt_##T##_4, NT_PARAMS, NT_ARGS)
NT_WIDTHS(f32, ENG_FP32)
NT_WIDTHS(bf16, ENG_BF16)
NT_WIDTHS(i8x, ENG_INT8)
NT_WIDTHS(q4x, ENG_INT4_G32)

/* INT8 and INT4_G32 run the VNNI builds where they run (eng_k_isa_vnni), else their level's
 * (nt_i8x, nt_q4x). INT4_G32 has one only with AVX2: with AVX-512 it looks its weights up in
 * FP32 (tile_q4), VNNI or not, and the AVX2 build adds its int16 pair products (tile_q4i) with
 * AVX-VNNI's vpdpwssd. */
typedef void (*nt_fn) NT_PARAMS;
#ifdef ENG_X86_LEVELS
TGT16N static void nt_i8_v4n NT_PARAMS
{
    nt_body_16n(ENG_INT8, M, N, x, ldx, w, row0, y, ldy, pf_l2);
}
TGT8N static void nt_i8_v3n NT_PARAMS
{
    nt_body_8n(ENG_INT8, M, N, x, ldx, w, row0, y, ldy, pf_l2);
}
TGT8N static void nt_q4_v3n NT_PARAMS
{
    nt_body_8n(ENG_INT4_G32, M, N, x, ldx, w, row0, y, ldy, pf_l2);
}
#endif
/* The VNNI build of dt at the level in force, or `plain` where none runs. */
static nt_fn with_vnni(eng_dtype dt, nt_fn plain)
{
#ifdef ENG_X86_LEVELS
    int vnni, level = isa_choice(&vnni);
    if (vnni && dt == ENG_INT8)
        return level == 4 ? nt_i8_v4n : nt_i8_v3n;
    if (vnni && dt == ENG_INT4_G32 && level == 3)
        return nt_q4_v3n;
#else
    (void)dt;
#endif
    return plain;
}

void eng_k_nt_small(int M, int N, const float *x, size_t ldx, const eng_mat *w, int row0, float *y, size_t ldy)
{
    if (M <= 0 || N <= 0)
        return;
    const int pf_l2 = eng_k_prefetch_l2();
    switch (w->dtype) {
    case ENG_BF16: nt_bf16(M, N, x, ldx, w, row0, y, ldy, pf_l2); break;
    case ENG_INT8: with_vnni(ENG_INT8, nt_i8x)(M, N, x, ldx, w, row0, y, ldy, pf_l2); break;
    case ENG_INT4_G32: with_vnni(ENG_INT4_G32, nt_q4x)(M, N, x, ldx, w, row0, y, ldy, pf_l2); break;
    default:       nt_f32(M, N, x, ldx, w, row0, y, ldy, pf_l2); break;
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

/* One row's run of n elements at src as FP32 (dt a constant after inlining). */
INLINE void widen_run(eng_dtype dt, const void *src, size_t n, float sc, float *o)
{
    if (dt == ENG_BF16) {
        const uint16_t *s = src;
        for (size_t k = 0; k < n; k++)
            o[k] = eng_bf16_to_f32(s[k]);
    } else if (dt == ENG_INT8) {
        const int8_t *s = src;
        for (size_t k = 0; k < n; k++)
            o[k] = (float)s[k] * sc;
    } else {
        memcpy(o, src, n * sizeof(float));
    }
}

/* The rows of a packed block, one panel at a time and chunk by chunk, so the panel is read
 * in order (ce a constant after inlining, so each chunk's loop unrolls). */
INLINE void dequant_dt(eng_dtype dt, const eng_mat *w, int row0, int n, float *out)
{
    const size_t K = (size_t)w->cols, es = DT_BYTES(dt), ce = ENG_PANEL_BYTES / es;
    if (!w->panel) {
        for (int r = 0; r < n; r++)
            widen_run(dt, (const char *)w->data + (size_t)(row0 + r) * K * es, K,
                      dt == ENG_INT8 ? w->scale[row0 + r] : 1.0f, out + (size_t)r * K);
        return;
    }
    for (int r = 0, nr; r < n; r += nr) {
        nr = tile_rows(w, row0 + r, n - r);
        const eng_rows rw = rows_of(w, (size_t)row0 + r, nr, 0); /* no prefetch here */
        float sc[4];
        for (int i = 0; i < nr; i++)
            sc[i] = dt == ENG_INT8 ? w->scale[row0 + r + i] : 1.0f;
        const char *p = (const char *)w->data + rw.base * es;
        for (size_t c = 0; c < rw.full; c += ce, p += rw.stride * es)
            for (int i = 0; i < nr; i++)
                widen_run(dt, p + rw.off[i] * es, ce, sc[i], out + (size_t)(r + i) * K + c);
        for (int i = 0; i < nr; i++)
            widen_run(dt, (const char *)w->data + (rw.tail + rw.toff[i]) * es, K - rw.full, sc[i],
                      out + (size_t)(r + i) * K + rw.full);
    }
}

/* INT4_G32 rows (always row-major) as FP32 at the level in force (kernels_cpu_tile.h,
 * dequant_q4). */
#ifdef ENG_X86_LEVELS
TGT16 INLINE void dq4_w16(const eng_mat *w, int row0, int n, float *out) { dequant_q4_16(w, row0, n, out); }
TGT8 INLINE void dq4_w8(const eng_mat *w, int row0, int n, float *out) { dequant_q4_8(w, row0, n, out); }
#endif
INLINE void dq4_w4(const eng_mat *w, int row0, int n, float *out) { dequant_q4_4(w, row0, n, out); }
ENG_KERNEL3(static, dequant_q4, dq4_w16, dq4_w8, dq4_w4,
            (const eng_mat *w, int row0, int n, float *out), (w, row0, n, out))

/* Either layout. */
INLINE void dequant_body(const eng_mat *w, int row0, int n, float *out)
{
    switch (w->dtype) {
    case ENG_INT4_G32: dequant_q4(w, row0, n, out); break;
    case ENG_BF16: dequant_dt(ENG_BF16, w, row0, n, out); break;
    case ENG_INT8: dequant_dt(ENG_INT8, w, row0, n, out); break;
    default:       dequant_dt(ENG_FP32, w, row0, n, out); break;
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

/* *sum = the sum of b[0, n) as 64-bit words (n a multiple of 4): four accumulators, integers, so
 * the loop vectorizes without reassociating floats */
INLINE void read_sum_body(const uint64_t *b, size_t n, uint64_t *sum)
{
    uint64_t a0 = 0, a1 = 0, a2 = 0, a3 = 0;
    for (size_t i = 0; i < n; i += 4)
        a0 += b[i], a1 += b[i + 1], a2 += b[i + 2], a3 += b[i + 3];
    *sum = a0 + a1 + a2 + a3;
}

ENG_KERNEL(, eng_k_dequant, dequant_body, (const eng_mat *w, int row0, int n, float *out), (w, row0, n, out))
ENG_KERNEL(, eng_k_swiglu, swiglu_body,
           (int M, int n, const float *g, size_t ldg, const float *u, size_t ldu, float *out, size_t ldo),
           (M, n, g, ldg, u, ldu, out, ldo))
/* The triad measures the memory, not a kernel level: it runs at the widest level the CPU has,
 * whatever MOESIM_GENERIC or MOESIM_CPU_KERNELS ask, so every level's decode is judged against
 * the same bandwidth (on the Intel Xeon VM of 2026-12-01 the AVX2 triad read 4-6% less than the
 * AVX-512 one, one core 14.8-14.9 against 15.6-15.8 GB/s, which flattered the AVX2 shares). */
ENG_KERNEL3_AT(, eng_k_triad, triad_body, triad_body, triad_body,
               (float *a, const float *b, const float *c, float s, size_t n), (a, b, c, s, n), eng_k_isa_cpu_level())
/* The plain read too: a narrow loop keeps fewer lines in flight (the baseline build read 22
 * GB/s on two cores where AVX-512 read 29-30 on the Intel VM of 2026-12-01). */
ENG_KERNEL3_AT(, eng_k_read_sum, read_sum_body, read_sum_body, read_sum_body,
               (const uint64_t *b, size_t n, uint64_t *sum), (b, n, sum), eng_k_isa_cpu_level())
