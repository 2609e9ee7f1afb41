/* weights.c: drawing a layer's weights from a seed and storing them as FP32, BF16, INT8 or
 * INT4_G32.
 * Each element is a hash of (seed, tensor, expert, index), so a rank can draw only its own
 * experts and still hold exactly what a single rank would. */
#include "weights.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

enum { T_ROUTER = 1, T_W13, T_W2, T_S13, T_S2, T_INPUT };

uint64_t eng_mix(uint64_t x)
{
    x += 0x9e3779b97f4a7c15ull;
    x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ull;
    x = (x ^ (x >> 27)) * 0x94d049bb133111ebull;
    return x ^ (x >> 31);
}

double eng_hash_unit(uint64_t key)
{
    return (double)(eng_mix(key) >> 11) * 0x1.0p-52 - 1.0;
}

static uint64_t tensor_key(uint64_t seed, int tensor, long expert)
{
    return eng_mix(eng_mix(seed) ^ ((uint64_t)tensor << 48) ^ (uint64_t)expert);
}

uint16_t eng_f32_to_bf16(float f)
{
    union { float f; uint32_t u; } v = { f };
    if ((v.u & 0x7fffffffu) > 0x7f800000u)       /* NaN stays NaN */
        return (uint16_t)((v.u >> 16) | 0x40);
    v.u += 0x7fffu + ((v.u >> 16) & 1u);
    return (uint16_t)(v.u >> 16);
}

size_t eng_dtype_bytes(eng_dtype d)
{
    return d == ENG_FP32 ? 4 : d == ENG_BF16 ? 2 : d == ENG_INT8 ? 1 : 0;
}

double eng_dtype_weight_bytes(eng_dtype d)
{
    return d == ENG_INT4_G32 ? (double)ENG_Q4_BLOCK / ENG_Q4_GROUP : (double)eng_dtype_bytes(d);
}

size_t eng_mat_row_bytes(const eng_mat *m)
{
    if (m->dtype == ENG_INT4_G32)
        return ((size_t)m->cols + ENG_Q4_GROUP - 1) / ENG_Q4_GROUP * ENG_Q4_BLOCK;
    return (size_t)m->cols * eng_dtype_bytes(m->dtype);
}

size_t eng_mat_index(const eng_mat *m, int r, int c)
{
    const size_t K = (size_t)m->cols;
    if (!m->panel)
        return (size_t)r * K + (size_t)c;
    const size_t P = (size_t)m->panel, ce = ENG_PANEL_BYTES / eng_dtype_bytes(m->dtype);
    const size_t p = (size_t)r / P, rr = (size_t)r % P, full = K / ce * ce;
    const size_t pr = (size_t)m->rows - p * P < P ? (size_t)m->rows - p * P : P;
    const size_t base = p * P * K;
    if ((size_t)c < full)
        return base + (size_t)c / ce * pr * ce + rr * ce + (size_t)c % ce;
    return base + full * pr + rr * (K - full) + ((size_t)c - full);
}

/* Bytes of m's elements (its INT8 scales are kept apart). */
static size_t elem_bytes(const eng_mat *m)
{
    return (size_t)m->rows * eng_mat_row_bytes(m);
}

/* What m takes in eng_weights_gather's block: each matrix starts on a cache line, so the
 * tile's chunks stay aligned. */
static size_t gathered_bytes(const eng_mat *m)
{
    return (elem_bytes(m) + 63) / 64 * 64;
}

/* m's elements in panels (weights.h) at `to`, which holds rows x cols elements. */
static void copy_packed(const eng_mat *m, char *to)
{
    const size_t es = eng_dtype_bytes(m->dtype), K = (size_t)m->cols;
    const char *from = m->data;
    eng_mat packed = *m;
    packed.panel = ENG_PANEL_ROWS;
    /* row by row, each run of a chunk (or the leftover) copied whole */
    const size_t ce = ENG_PANEL_BYTES / es, full = K / ce * ce;
    #pragma omp parallel for schedule(static)
    for (int r = 0; r < m->rows; r++) {
        const char *src = from + (size_t)r * K * es;
        for (size_t c = 0; c < K; c += ce) {
            size_t n = c < full ? ce : K - full;
            memcpy(to + eng_mat_index(&packed, r, (int)c) * es, src + c * es, n * es);
        }
    }
}

int eng_mat_pack(eng_mat *m, sim_err *err)
{
    if (m->panel || !m->data || m->dtype == ENG_INT4_G32)
        return SIM_OK;
    /* huge pages: one TLB entry per 2 MiB of the stream instead of a page walk per 4 KiB
     * (paired bench runs, triad ~87 GB/s, decode at 4 / 16 tokens: FP32 +12 / +11%, INT8
     * +10 / +3%, BF16 -4 / +6%) */
    char *to = eng_alloc_huge(elem_bytes(m), "packed expert weights", err);
    if (!to)
        return SIM_EFAIL;
    copy_packed(m, to);
    free(m->data);
    m->data = to;
    m->panel = ENG_PANEL_ROWS;
    return SIM_OK;
}

/* The i-th matrix eng_weights_gather moves, in the order they are laid out (each expert's w13
 * then w2, then the shared FFN's if any); NULL past the last. */
static eng_mat *gathered(eng_weights *w, int i)
{
    if (i < 2 * w->n_local)
        return i % 2 ? &w->w2[i / 2] : &w->w13[i / 2];
    i -= 2 * w->n_local;
    eng_mat *shared[2] = { &w->s13, &w->s2 };
    return i < 2 && shared[i]->data ? shared[i] : NULL;
}

/* memcpy in 2 MiB pieces over the threads: the first write to each huge page of the block
 * faults it in and the kernel zeroes it there, so one thread copying also zeroed the whole
 * block alone (Intel Xeon VM, 2026-12-01: creating Qwen3's FP32 layer took 19 s with huge pages
 * against 3 s without, nearly all of it clear_page under those faults; the threads share it). */
static void copy_parallel(char *to, const char *from, size_t n)
{
    const size_t piece = (size_t)2 << 20;
    const long pieces = (long)((n + piece - 1) / piece);
    #pragma omp parallel for schedule(static)
    for (long i = 0; i < pieces; i++) {
        const size_t o = (size_t)i * piece;
        memcpy(to + o, from + o, n - o < piece ? n - o : piece);
    }
}

int eng_weights_gather(eng_weights *w, int panels, sim_err *err)
{
    if (w->arena)
        return SIM_OK;
    size_t total = 0;
    for (int i = 0; gathered(w, i); i++)
        total += gathered_bytes(gathered(w, i));
    if (!total)
        return SIM_OK;
    char *arena = eng_alloc_huge(total, "expert weights", err);
    if (!arena)
        return SIM_EFAIL;
    /* the block is only reserved until written, and each matrix's old copy is freed as soon as
     * it has moved: the peak stays one matrix over the weights */
    size_t off = 0;
    for (int i = 0; gathered(w, i); i++) {
        eng_mat *m = gathered(w, i);
        if (panels && !m->panel && m->dtype != ENG_INT4_G32) {
            copy_packed(m, arena + off);
            m->panel = ENG_PANEL_ROWS;
        } else {
            copy_parallel(arena + off, m->data, elem_bytes(m));
        }
        free(m->data);
        m->data = arena + off;
        off += gathered_bytes(m);
    }
    w->arena = arena;
    return SIM_OK;
}

/* INT4_G32 element (r, c): q x scale of its block (weights.h). */
static float q4_get(const eng_mat *m, int r, int c)
{
    const uint8_t *b = (const uint8_t *)m->data + (size_t)r * eng_mat_row_bytes(m) +
                       (size_t)(c / ENG_Q4_GROUP) * ENG_Q4_BLOCK;
    return (float)eng_q4_q(b, c % ENG_Q4_GROUP) * eng_q4_scale(b);
}

float eng_mat_get(const eng_mat *m, int r, int c)
{
    if (m->dtype == ENG_INT4_G32)
        return q4_get(m, r, c);
    size_t i = eng_mat_index(m, r, c);
    switch (m->dtype) {
    case ENG_BF16: return eng_bf16_to_f32(((const uint16_t *)m->data)[i]);
    case ENG_INT8: return (float)((const int8_t *)m->data)[i] * m->scale[r];
    default:       return ((const float *)m->data)[i];
    }
}

size_t eng_mat_bytes(const eng_mat *m)
{
    size_t n = elem_bytes(m);
    return m->dtype == ENG_INT8 ? n + (size_t)m->rows * sizeof(float) : n;
}

size_t eng_expert_bytes(const eng_config *c)
{
    eng_mat a = { c->dtype, 2 * c->ffn, c->hidden, NULL, NULL, 0 };
    eng_mat b = { c->dtype, c->hidden, c->ffn, NULL, NULL, 0 };
    return eng_mat_bytes(&a) + eng_mat_bytes(&b);
}

/* One INT4_G32 row at d, drawn as `key` + column (the values mat_init draws for the other
 * formats): per group of 32, the scale is max|v| / 7 rounded to BF16, and each q = v / scale
 * rounded to nearest, clamped to [-8, 7]; a part block is padded with q = 0. */
static void q4_row(uint8_t *d, uint64_t key, int cols, double amp)
{
    for (int c0 = 0; c0 < cols; c0 += ENG_Q4_GROUP, d += ENG_Q4_BLOCK) {
        const int n = cols - c0 < ENG_Q4_GROUP ? cols - c0 : ENG_Q4_GROUP;
        double v[ENG_Q4_GROUP], mx = 0;
        for (int i = 0; i < n; i++) {
            v[i] = amp * eng_hash_unit(key + (size_t)c0 + (size_t)i);
            mx = fmax(mx, fabs(v[i]));
        }
        uint16_t sb = eng_f32_to_bf16(mx > 0 ? (float)(mx / 7.0) : 1.0f);
        const double s = eng_bf16_to_f32(sb);
        d[0] = (uint8_t)(sb & 0xff);
        d[1] = (uint8_t)(sb >> 8);
        memset(d + 2, 0x88, 16);          /* q = 0 past the row's end */
        for (int i = 0; i < n; i++) {
            long q = lrint(v[i] / s);
            uint8_t nib = (uint8_t)((q > 7 ? 7 : q < -8 ? -8 : q) + 8);
            uint8_t *byte = d + 2 + i % 16;
            *byte = i < 16 ? (uint8_t)((*byte & 0xf0) | nib) : (uint8_t)((*byte & 0x0f) | nib << 4);
        }
    }
}

/* Fill m with values uniform in [-1, 1) / sqrt(cols) (fan-in scaling keeps activations O(1)
 * through the layer), rounded to the matrix's format. */
static int mat_init(eng_mat *m, eng_dtype dt, int rows, int cols, uint64_t key, const char *what, sim_err *err)
{
    m->dtype = dt;
    m->rows = rows;
    m->cols = cols;
    m->scale = NULL;
    m->panel = 0;
    m->data = eng_alloc((size_t)rows * eng_mat_row_bytes(m), what, err);
    if (!m->data)
        return SIM_EFAIL;
    if (dt == ENG_INT8 && !(m->scale = eng_alloc((size_t)rows * sizeof(float), what, err)))
        return SIM_EFAIL;
    const double amp = 1.0 / sqrt((double)cols);
    #pragma omp parallel for schedule(static)
    for (int r = 0; r < rows; r++) {
        size_t base = (size_t)r * (size_t)cols;
        if (dt == ENG_FP32) {
            float *d = (float *)m->data + base;
            for (int c = 0; c < cols; c++)
                d[c] = (float)(amp * eng_hash_unit(key + base + (size_t)c));
        } else if (dt == ENG_BF16) {
            uint16_t *d = (uint16_t *)m->data + base;
            for (int c = 0; c < cols; c++)
                d[c] = eng_f32_to_bf16((float)(amp * eng_hash_unit(key + base + (size_t)c)));
        } else if (dt == ENG_INT4_G32) {
            q4_row((uint8_t *)m->data + (size_t)r * eng_mat_row_bytes(m), key + base, cols, amp);
        } else {
            /* symmetric per-row quantization: the row's largest magnitude maps to 127 */
            int8_t *d = (int8_t *)m->data + base;
            double mx = 0;
            for (int c = 0; c < cols; c++)
                mx = fmax(mx, fabs(amp * eng_hash_unit(key + base + (size_t)c)));
            float s = mx > 0 ? (float)(mx / 127.0) : 1.0f;
            m->scale[r] = s;
            for (int c = 0; c < cols; c++) {
                long q = lrint(amp * eng_hash_unit(key + base + (size_t)c) / s);
                d[c] = (int8_t)(q > 127 ? 127 : q < -127 ? -127 : q);
            }
        }
    }
    return SIM_OK;
}

static void mat_free(eng_mat *m)
{
    free(m->data);
    free(m->scale);
    m->data = NULL;
    m->scale = NULL;
}

int eng_weights_init(eng_weights *w, const eng_config *c, int ep, int rank, uint64_t seed, sim_err *err)
{
    memset(w, 0, sizeof *w);
    w->cfg = *c;
    w->ep = ep;
    w->rank = rank;
    w->n_local = c->experts / ep;
    w->e0 = rank * w->n_local;
    const int d = c->hidden, f = c->ffn, s = c->shared * c->shared_ffn;
    int rc = SIM_OK;
    w->router = eng_alloc((size_t)c->experts * (size_t)d * sizeof(float), "router weights", err);
    w->w13 = eng_alloc((size_t)w->n_local * sizeof(eng_mat), "expert table", err);
    w->w2 = eng_alloc((size_t)w->n_local * sizeof(eng_mat), "expert table", err);
    /* empty tables first, so that freeing after a failure frees only what was allocated */
    if (w->w13)
        memset(w->w13, 0, (size_t)w->n_local * sizeof(eng_mat));
    if (w->w2)
        memset(w->w2, 0, (size_t)w->n_local * sizeof(eng_mat));
    if (!w->router || !w->w13 || !w->w2) {
        eng_weights_free(w);
        return SIM_EFAIL;
    }
    uint64_t rk = tensor_key(seed, T_ROUTER, 0);
    const double ramp = 1.0 / sqrt((double)d);
    #pragma omp parallel for schedule(static)
    for (int e = 0; e < c->experts; e++)
        for (int j = 0; j < d; j++) {
            size_t i = (size_t)e * (size_t)d + (size_t)j;
            w->router[i] = (float)(ramp * eng_hash_unit(rk + i));
        }
    for (int le = 0; le < w->n_local && rc == SIM_OK; le++) {
        long e = w->e0 + le;
        rc = mat_init(&w->w13[le], c->dtype, 2 * f, d, tensor_key(seed, T_W13, e), "expert gate/up weights", err);
        if (rc == SIM_OK)
            rc = mat_init(&w->w2[le], c->dtype, d, f, tensor_key(seed, T_W2, e), "expert down weights", err);
    }
    if (rc == SIM_OK && s > 0) {
        rc = mat_init(&w->s13, c->dtype, 2 * s, d, tensor_key(seed, T_S13, 0), "shared gate/up weights", err);
        if (rc == SIM_OK)
            rc = mat_init(&w->s2, c->dtype, d, s, tensor_key(seed, T_S2, 0), "shared down weights", err);
    }
    if (rc != SIM_OK)
        eng_weights_free(w);
    return rc;
}

void eng_weights_free(eng_weights *w)
{
    if (w->arena) {
        /* the matrices' elements live in the arena: only their scales are their own */
        for (int i = 0; w->w13 && w->w2 && i < w->n_local; i++)
            w->w13[i].data = w->w2[i].data = NULL;
        w->s13.data = w->s2.data = NULL;
        free(w->arena);
        w->arena = NULL;
    }
    if (w->w13)
        for (int i = 0; i < w->n_local; i++)
            mat_free(&w->w13[i]);
    if (w->w2)
        for (int i = 0; i < w->n_local; i++)
            mat_free(&w->w2[i]);
    mat_free(&w->s13);
    mat_free(&w->s2);
    free(w->router);
    free(w->w13);
    free(w->w2);
    w->router = NULL;
    w->w13 = w->w2 = NULL;
}

void eng_fill_input(float *x, int tokens, int hidden, uint64_t seed, long t0)
{
    uint64_t key = tensor_key(seed, T_INPUT, 0);
    for (int t = 0; t < tokens; t++)
        for (int j = 0; j < hidden; j++)
            x[(size_t)t * (size_t)hidden + (size_t)j] =
                (float)eng_hash_unit(key + (uint64_t)(t0 + t) * (uint64_t)hidden + (uint64_t)j);
}
