/* weights.h: how a layer's weights are stored, shared by the reference and every backend.
 * Matrices are row-major [out][in] (the reduction runs along a row), drawn from a seed. */
#ifndef MOESIM_ENG_WEIGHTS_H
#define MOESIM_ENG_WEIGHTS_H

#include "engine.h"

typedef struct eng_mat {
    eng_dtype dtype;
    int rows, cols;
    void *data;          /* float, uint16_t (bf16 bits), int8_t, or INT4_G32 blocks (below) */
    float *scale;        /* INT8: one per row; NULL otherwise */
    int panel;           /* 0: row-major. ENG_PANEL_ROWS: the CPU backend's panels (below) */
} eng_mat;

/* The CPU backend's packed layout (eng_mat_pack), so that its decode tile, which reads 4 rows
 * at once, reads one sequential stream instead of 4 (one page each in the bench shapes):
 * rows in panels of ENG_PANEL_ROWS (the last may hold fewer, pr); inside a panel, the
 * columns in chunks of ENG_PANEL_BYTES, chunk j of each of the pr rows in turn
 * ([K / c][pr][c], c = ENG_PANEL_BYTES / element size), then the K % c leftover columns of
 * each row in turn ([pr][K % c]). Panels follow each other; the INT8 scales stay per row, in
 * row order. Same bytes as row-major, and eng_mat_get reads either. */
#define ENG_PANEL_ROWS 4
#define ENG_PANEL_BYTES 64

/* INT4_G32 rows are always row-major: each row is ceil(cols / 32) blocks of ENG_Q4_BLOCK
 * bytes, llama.cpp's block_q4_0 with a BF16 scale: the scale's bits (uint16, little-endian),
 * then 16 bytes whose low nibbles are the block's elements 0-15 and high nibbles 16-31, each
 * stored as q + 8 (q in [-8, 7]); element = q x scale, exact in FP32. A last block past the
 * row's end is padded with q = 0. One stream per row, scales inline, so a row is read once and
 * in order; its 0.5625 bytes per weight are the simulator's int4_g32. */
#define ENG_Q4_BLOCK 18

typedef struct eng_weights {
    eng_config cfg;
    int ep, rank;
    int e0, n_local;     /* experts [e0, e0 + n_local) are held here */
    float *router;       /* [E][hidden], FP32 */
    eng_mat *w13;        /* per local expert: [2 ffn][hidden], gate rows then up rows */
    eng_mat *w2;         /* per local expert: [hidden][ffn] */
    eng_mat s13, s2;     /* shared experts as one FFN: [2 S][hidden], [hidden][S]; S = shared * shared_ffn */
    void *arena;         /* NULL, or (eng_weights_gather) the one block that holds every matrix's
                          * elements above, owned here and freed by eng_weights_free */
} eng_weights;

/* Draw the weights of experts [e0, e0 + E/ep) for `rank`, and the router and shared experts. */
int eng_weights_init(eng_weights *w, const eng_config *c, int ep, int rank, uint64_t seed, sim_err *err);
void eng_weights_free(eng_weights *w);

/* Element (r, c) as a float: the definition of each storage format. */
static inline float eng_bf16_to_f32(uint16_t h)
{
    union { uint32_t u; float f; } v = { (uint32_t)h << 16 };
    return v.f;
}
/* An INT4_G32 block's scale, and its element i (0-31) as q = nib - 8 (weights.h, above). */
static inline float eng_q4_scale(const uint8_t *blk)
{
    return eng_bf16_to_f32((uint16_t)(blk[0] | blk[1] << 8));
}
static inline int eng_q4_q(const uint8_t *blk, int i)
{
    return (i < 16 ? blk[2 + i] & 15 : blk[2 + i - 16] >> 4) - 8;
}
float eng_mat_get(const eng_mat *m, int r, int c);
/* Where element (r, c) lies in m->data, in elements, for either layout (not INT4_G32, whose
 * elements are half bytes: eng_mat_get reads its blocks). */
size_t eng_mat_index(const eng_mat *m, int r, int c);
/* Rewrite m in panels of ENG_PANEL_ROWS (a no-op if it already is, or for INT4_G32, which
 * stays row-major): a new copy, then the old one freed, so the peak is one more matrix. */
int eng_mat_pack(eng_mat *m, sim_err *err);
/* Move the elements of every expert matrix (routed, then shared) into one block backed by
 * transparent huge pages where the system offers them, in panels if `panels` (else as they
 * are; INT4_G32 always as it is). Per-matrix blocks got huge pages only for their whole 2 MiB, so a matrix under 2 MiB
 * (Qwen3-30B-A3B's INT8 down projection: 1.5 MiB) and every tail were read a page walk per
 * 4 KiB. A no-op if already gathered. Peak memory: the weights plus one matrix. The copy runs
 * on every OpenMP thread, which share the block's first-touch page faults. */
int eng_weights_gather(eng_weights *w, int panels, sim_err *err);
/* Bytes of one stored row (INT8's scale, kept apart, not included). */
size_t eng_mat_row_bytes(const eng_mat *m);
/* Bytes the matrix occupies (INT8 scales included). */
size_t eng_mat_bytes(const eng_mat *m);
/* Bytes of one routed expert (both matrices). */
size_t eng_expert_bytes(const eng_config *c);

/* Round-to-nearest-even FP32 -> BF16. */
uint16_t eng_f32_to_bf16(float f);

/* A double in [-1, 1) from a 64-bit key (splitmix64). */
double eng_hash_unit(uint64_t key);
uint64_t eng_mix(uint64_t x);

#endif
