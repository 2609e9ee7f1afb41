/* test_engine.c: the engine's unit tests: each CPU kernel against its plain loop, the
 * reference against a layer worked out by hand, the CPU backend against the reference on the
 * edge cases and random shapes, and the messages bad configs get. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "../../engine/backend.h"
#include "../../engine/check.h"
#include "../../engine/kernels_cpu.h"
#include "../../engine/reference.h"
#include "kernel_cases.h"

/* Run body once at each kernel level this CPU has (eng_k_isa_level reads the request per
 * call), with and without VNNI where it has that, so an AVX-512 machine also checks the AVX2
 * and plain builds, and each of them prefetching into L1 and into L2 (MOESIM_CPU_PREFETCH:
 * only the speed may differ); under MOESIM_GENERIC=1 once, the plain one. */
static void at_each_level(void (*body)(void))
{
    static const char *const names[] = { "x86-64", "x86-64-v3", "x86-64-v3+vnni", "x86-64-v4", "x86-64-v4+vnni" };
    static const int levels[] = { 1, 3, 3, 4, 4 }, vnni[] = { 0, 0, 1, 0, 1 };
    const char *generic = getenv("MOESIM_GENERIC");
    if (generic && *generic && strcmp(generic, "0") != 0) { /* every level would be the plain one */
        body();
        return;
    }
    const char *old = getenv("MOESIM_CPU_KERNELS");
    char *saved = old ? strdup(old) : NULL;
    int ran = 0;
    for (int i = 0; i < 5; i++) {
        if (levels[i] > eng_k_isa_cpu_level() || (vnni[i] && !eng_k_isa_cpu_vnni(levels[i])))
            continue;
        setenv("MOESIM_CPU_KERNELS", names[i], 1);
#ifdef __x86_64__
        const char *name = names[i];
#else
        const char *name = i == 0 ? "baseline" : names[i]; /* another architecture's plain build */
#endif
        if (eng_k_isa_level() != levels[i] || eng_k_isa_vnni() != vnni[i] || strcmp(eng_k_isa_name(), name) != 0)
            fail_msg("MOESIM_CPU_KERNELS=%s gave level %d, vnni %d, name %s", names[i], eng_k_isa_level(),
                     eng_k_isa_vnni(), eng_k_isa_name());
        for (int pf = 0; pf < 2; pf++) {
            setenv("MOESIM_CPU_PREFETCH", pf ? "l2" : "l1", 1);
            assert_string_equal(eng_k_prefetch_name(), pf ? "l2" : "l1");
            body();
        }
        unsetenv("MOESIM_CPU_PREFETCH");
        ran++;
    }
    if (saved)
        setenv("MOESIM_CPU_KERNELS", saved, 1);
    else
        unsetenv("MOESIM_CPU_KERNELS");
    free(saved);
    assert_true(ran >= 1);
}

/* The cases (kernel_cases.c), at every level this CPU has. */
static void kernels_match_plain_loops(void)
{
    char msg[256] = "";
    long off = eng_kcases_match_plain(msg, sizeof msg);
    if (off)
        fail_msg("%ld outputs off the plain loop, first: %s", off, msg);
}

/* The panels hold the same elements: eng_mat_get and eng_k_dequant read the packed matrix
 * back exactly, for rows not a multiple of the panel and columns around the 64-byte chunk
 * (16, 32, 64 elements in FP32, BF16, INT8); INT4_G32 is left row-major, read back alike. */
static void test_packed_layout_keeps_elements(void **state)
{
    (void)state;
    const int Ks[] = { 1, 15, 16, 17, 31, 32, 33, 63, 64, 65, 100, 129 }, Fs[] = { 1, 2, 3, 5 };
    for (int dt = 0; dt < ENG_DTYPE_COUNT; dt++)
        for (size_t a = 0; a < sizeof Ks / sizeof Ks[0]; a++)
            for (size_t b = 0; b < sizeof Fs / sizeof Fs[0]; b++) {
                const int K = Ks[a], F = Fs[b], R = 2 * F;   /* w13: 2, 4, 6, 10 rows */
                eng_config cfg = { K, F, 1, 1, 0, 0, ENG_SOFTMAX, (eng_dtype)dt };
                eng_weights w;
                sim_err err = { 0, "" };
                assert_int_equal(eng_weights_init(&w, &cfg, 1, 0, 11 + a + b, &err), SIM_OK);
                eng_mat *m = &w.w13[0];
                float *before = malloc(sizeof(float) * (size_t)R * K), *deq = malloc(sizeof(float) * (size_t)R * K);
                assert_non_null(before);
                assert_non_null(deq);
                eng_k_dequant(m, 0, R, before);
                assert_int_equal(eng_mat_pack(m, &err), SIM_OK);
                assert_int_equal(m->panel, dt == ENG_INT4_G32 ? 0 : ENG_PANEL_ROWS);   /* INT4_G32 stays row-major */
                assert_int_equal(eng_mat_pack(m, &err), SIM_OK);   /* packing twice is a no-op */
                for (int r = 0; r < R; r++)
                    for (int c = 0; c < K; c++)
                        assert_true(eng_mat_get(m, r, c) == before[(size_t)r * K + c]);
                for (int r0 = 0; r0 < R; r0++) {
                    eng_k_dequant(m, r0, R - r0, deq);
                    assert_memory_equal(deq, before + (size_t)r0 * K, sizeof(float) * (size_t)(R - r0) * K);
                }
                free(before);
                free(deq);
                eng_weights_free(&w);
            }
}

/* eng_weights_gather moves every expert matrix (routed and shared) into one block, packed or
 * as it was, without changing an element: each matrix read back equals the drawn one, lies
 * inside the arena on a cache line, and a second gather is a no-op. Freeing is checked by the
 * sanitizer builds. */
static void test_gathered_weights_keep_elements(void **state)
{
    (void)state;
    for (int dt = 0; dt < ENG_DTYPE_COUNT; dt++)
        for (int panels = 0; panels < 2; panels++) {
            eng_config cfg = { 33, 5, 3, 1, 1, 7, ENG_SOFTMAX, (eng_dtype)dt };
            eng_weights w, ref;
            sim_err err = { 0, "" };
            assert_int_equal(eng_weights_init(&w, &cfg, 1, 0, 29, &err), SIM_OK);
            assert_int_equal(eng_weights_init(&ref, &cfg, 1, 0, 29, &err), SIM_OK);
            assert_int_equal(eng_weights_gather(&w, panels, &err), SIM_OK);
            assert_non_null(w.arena);
            void *arena = w.arena;
            assert_int_equal(eng_weights_gather(&w, panels, &err), SIM_OK);
            assert_ptr_equal(w.arena, arena);
            const eng_mat *got[] = { &w.w13[0], &w.w2[0], &w.w13[1], &w.w2[1], &w.w13[2], &w.w2[2], &w.s13, &w.s2 };
            const eng_mat *want[] = { &ref.w13[0], &ref.w2[0], &ref.w13[1], &ref.w2[1], &ref.w13[2], &ref.w2[2], &ref.s13,
                                      &ref.s2 };
            const char *prev_end = arena;
            for (size_t i = 0; i < sizeof got / sizeof got[0]; i++) {
                const eng_mat *g = got[i], *r = want[i];
                assert_int_equal(g->panel, panels && dt != ENG_INT4_G32 ? ENG_PANEL_ROWS : 0);
                assert_true((const char *)g->data >= prev_end);   /* in order, never overlapping */
                assert_int_equal((uintptr_t)g->data % 64, 0);
                prev_end = (const char *)g->data + (size_t)g->rows * eng_mat_row_bytes(g);
                for (int row = 0; row < g->rows; row++)
                    for (int c = 0; c < g->cols; c++)
                        assert_true(eng_mat_get(g, row, c) == eng_mat_get(r, row, c));
            }
            eng_weights_free(&w);
            eng_weights_free(&ref);
        }
}

static void test_kernels_match_plain_loops(void **state)
{
    (void)state;
    at_each_level(kernels_match_plain_loops);
}

/* INT8 quantizes activations: a NaN or infinite one must still reach the outputs (kernel_cases.c). */
static void int8_kernel_keeps_nan(void)
{
    char msg[256] = "";
    long off = eng_kcases_int8_keeps_nan(msg, sizeof msg);
    if (off)
        fail_msg("%ld outputs wrong, first: %s", off, msg);
}

static void test_int8_kernel_keeps_nan(void **state)
{
    (void)state;
    at_each_level(int8_kernel_keeps_nan);
}

/* INT8 computes the same integer sums at every level (kernel_cases.c): the first level's
 * digest is the one every other level must give. */
static uint64_t int8_first_digest;
static int int8_digests;
static void int8_same_at_every_level(void)
{
    char msg[256] = "";
    uint64_t d = 0;
    if (eng_kcases_int8_digest(&d, msg, sizeof msg))
        fail_msg("%s", msg);
    if (int8_digests++ == 0)
        int8_first_digest = d;
    else if (d != int8_first_digest)
        fail_msg("INT8 outputs at %s (digest %016llx) differ from the first level's (%016llx)", eng_k_isa_name(),
                 (unsigned long long)d, (unsigned long long)int8_first_digest);
}

static void test_int8_same_at_every_level(void **state)
{
    (void)state;
    int8_digests = 0;
    at_each_level(int8_same_at_every_level);
}

/* The level a request gives: never above the CPU's; a name not understood, or a level the
 * CPU lacks, is refused by eng_k_isa_check with the variable named. */
static void test_level_requests(void **state)
{
    (void)state;
    if (getenv("MOESIM_GENERIC"))
        skip();
    char msg[160];
    setenv("MOESIM_CPU_KERNELS", "x86-64", 1);
    assert_int_equal(eng_k_isa_check(msg, sizeof msg), 0);
    assert_int_equal(eng_k_isa_level(), 1);
    setenv("MOESIM_CPU_KERNELS", "avx9", 1);
    assert_int_equal(eng_k_isa_check(msg, sizeof msg), -1);
    assert_non_null(strstr(msg, "MOESIM_CPU_KERNELS is 'avx9'"));
    assert_int_equal(eng_k_isa_level(), eng_k_isa_cpu_level());
    if (eng_k_isa_cpu_level() < 4) {
        setenv("MOESIM_CPU_KERNELS", "x86-64-v4", 1);
        assert_int_equal(eng_k_isa_check(msg, sizeof msg), -1);
        assert_non_null(strstr(msg, "this CPU runs at most"));
        assert_int_equal(eng_k_isa_level(), eng_k_isa_cpu_level());
    }
    /* VNNI: named with the level, refused where the CPU lacks it at that level; a level named
     * without it runs without it */
    for (int level = 3; level <= 4 && level <= eng_k_isa_cpu_level(); level++) {
        setenv("MOESIM_CPU_KERNELS", level == 4 ? "x86-64-v4+vnni" : "x86-64-v3+vnni", 1);
        assert_int_equal(eng_k_isa_check(msg, sizeof msg), eng_k_isa_cpu_vnni(level) ? 0 : -1);
        if (!eng_k_isa_cpu_vnni(level))
            assert_non_null(strstr(msg, level == 4 ? "no AVX512-VNNI" : "no AVX-VNNI"));
        assert_int_equal(eng_k_isa_vnni(), eng_k_isa_cpu_vnni(level));
        setenv("MOESIM_CPU_KERNELS", level == 4 ? "x86-64-v4" : "x86-64-v3", 1);
        assert_int_equal(eng_k_isa_check(msg, sizeof msg), 0);
        assert_int_equal(eng_k_isa_vnni(), 0);
    }
    /* the prefetch target: l1 or l2, anything else refused with the variable named */
    unsetenv("MOESIM_CPU_KERNELS");
    setenv("MOESIM_CPU_PREFETCH", "l3", 1);
    assert_int_equal(eng_k_isa_check(msg, sizeof msg), -1);
    assert_non_null(strstr(msg, "MOESIM_CPU_PREFETCH is 'l3' (expected l1 or l2)"));
    setenv("MOESIM_CPU_PREFETCH", "l2", 1);
    assert_int_equal(eng_k_isa_check(msg, sizeof msg), 0);
    unsetenv("MOESIM_CPU_PREFETCH");
    setenv("MOESIM_GENERIC", "1", 1);
    unsetenv("MOESIM_CPU_KERNELS");
    assert_int_equal(eng_k_isa_vnni(), 0);
    unsetenv("MOESIM_GENERIC");
    /* nothing asked: the CPU's level, with VNNI where it has it there */
    assert_int_equal(eng_k_isa_check(msg, sizeof msg), 0);
    assert_int_equal(eng_k_isa_level(), eng_k_isa_cpu_level());
    assert_int_equal(eng_k_isa_vnni(), eng_k_isa_cpu_vnni(eng_k_isa_cpu_level()));
}

static void test_bf16_rounding(void **state)
{
    (void)state;
    assert_int_equal(eng_f32_to_bf16(1.0f), 0x3f80);
    /* halfway cases round to even */
    union { uint32_t u; float f; } v = { 0x3f808000u };
    assert_int_equal(eng_f32_to_bf16(v.f), 0x3f80);
    v.u = 0x3f818000u;
    assert_int_equal(eng_f32_to_bf16(v.f), 0x3f82);
    assert_true(eng_bf16_to_f32(0xc000) == -2.0f);
}

/* INT4_G32 by hand (weights.h): a row of 40 = one whole block and a part block. Block 0 has
 * scale 0.5 (BF16 0x3f00) and byte j = nibble j | nibble (15 - j) << 4, so element j < 16 is
 * (j - 8) x 0.5 and element 16 + j is (7 - j) x 0.5; block 1 has scale -2 (0xc000), byte 0 =
 * 0x0f (element 32: 7 x -2 = -14, element 48 past the row). The drawn layers keep every
 * weight within its block's [-8, 7] x scale, with the largest magnitude at 7 x scale. */
static void test_int4_blocks_by_hand(void **state)
{
    (void)state;
    uint8_t blocks[2 * ENG_Q4_BLOCK];
    memset(blocks, 0x88, sizeof blocks);
    blocks[0] = 0x00;
    blocks[1] = 0x3f;
    for (int j = 0; j < 16; j++)
        blocks[2 + j] = (uint8_t)(j | (15 - j) << 4);
    blocks[ENG_Q4_BLOCK] = 0x00;
    blocks[ENG_Q4_BLOCK + 1] = 0xc0;
    blocks[ENG_Q4_BLOCK + 2] = 0x0f;
    eng_mat m = { ENG_INT4_G32, 1, 40, blocks, NULL, 0 };
    assert_int_equal(eng_mat_row_bytes(&m), 2 * ENG_Q4_BLOCK);
    float deq[40];
    eng_k_dequant(&m, 0, 1, deq);
    for (int j = 0; j < 16; j++) {
        assert_true(eng_mat_get(&m, 0, j) == (float)(j - 8) * 0.5f);
        assert_true(eng_mat_get(&m, 0, 16 + j) == (float)(7 - j) * 0.5f);
    }
    assert_true(eng_mat_get(&m, 0, 32) == -14.0f);
    for (int c = 33; c < 40; c++)
        assert_true(eng_mat_get(&m, 0, c) == 0.0f);   /* q = 0 (0x88 bytes) */
    for (int c = 0; c < 40; c++)
        assert_true(deq[c] == eng_mat_get(&m, 0, c));
    /* x = 1 at column 3 and 2 at column 32: y = -2.5 - 28 */
    float x[40] = { 0 }, y = 0;
    x[3] = 1;
    x[32] = 2;
    eng_k_nt_small(1, 1, x, 40, &m, 0, &y, 1);
    assert_true(fabsf(y - (-30.5f)) < 1e-3f);

    eng_config cfg = { 70, 3, 1, 1, 0, 0, ENG_SOFTMAX, ENG_INT4_G32 };
    eng_weights w;
    sim_err err = { 0, "" };
    assert_int_equal(eng_weights_init(&w, &cfg, 1, 0, 5, &err), SIM_OK);
    const eng_mat *g = &w.w13[0];
    assert_int_equal(eng_mat_bytes(g), (size_t)g->rows * 3 * ENG_Q4_BLOCK);
    for (int r = 0; r < g->rows; r++)
        for (int c0 = 0; c0 < g->cols; c0 += ENG_Q4_GROUP) {
            const uint8_t *b = (const uint8_t *)g->data + (size_t)r * eng_mat_row_bytes(g) + (size_t)c0 / 32 * ENG_Q4_BLOCK;
            const float sc = eng_bf16_to_f32((uint16_t)(b[0] | b[1] << 8));
            float mx = 0;
            for (int c = c0; c < g->cols && c < c0 + ENG_Q4_GROUP; c++) {
                const float v = eng_mat_get(g, r, c);
                assert_true(v >= -8 * sc && v <= 7 * sc);
                mx = fabsf(v) > mx ? fabsf(v) : mx;
            }
            assert_true(mx == 7 * sc);
        }
    eng_weights_free(&w);
}

/* Two experts, hidden 2, one FFN column: the layer worked out by hand. */
static void test_reference_by_hand(void **state)
{
    (void)state;
    eng_config c = { 2, 1, 2, 1, 0, 0, ENG_SOFTMAX, ENG_FP32 };
    eng_weights w;
    sim_err err = { 0, "" };
    assert_int_equal(eng_weights_init(&w, &c, 1, 0, 1, &err), SIM_OK);
    const float router[4] = { 1, 0, 0, 1 };          /* logit e = x[e] */
    memcpy(w.router, router, sizeof router);
    float *g0 = w.w13[0].data, *d0 = w.w2[0].data, *g1 = w.w13[1].data, *d1 = w.w2[1].data;
    g0[0] = 1, g0[1] = 0, g0[2] = 0, g0[3] = 1;      /* gate = x0, up = x1 */
    d0[0] = 1, d0[1] = 2;                            /* y = h, 2h */
    g1[0] = 0, g1[1] = 1, g1[2] = 1, g1[3] = 0;
    d1[0] = -1, d1[1] = 0;
    const float x[2] = { 2.0f, 0.5f };               /* expert 0 wins: 2 > 0.5 */
    float y[2];
    assert_int_equal(eng_ref_forward(&w, x, 1, NULL, NULL, y, &err), SIM_OK);
    double h = 2.0 / (1.0 + exp(-2.0)) * 0.5;        /* silu(2) * 0.5, weight 1 after renormalizing */
    assert_true(fabs(y[0] - h) < 1e-6 && fabs(y[1] - 2 * h) < 1e-6);
    /* sigmoid scoring, top-2 = both experts, weights proportional to the sigmoids */
    c.scoring = ENG_SIGMOID;
    w.cfg.scoring = ENG_SIGMOID;
    w.cfg.top_k = 2;
    assert_int_equal(eng_ref_forward(&w, x, 1, NULL, NULL, y, &err), SIM_OK);
    double s0 = 1 / (1 + exp(-2.0)), s1 = 1 / (1 + exp(-0.5)), w0 = s0 / (s0 + s1), w1 = s1 / (s0 + s1);
    double h1 = 0.5 / (1.0 + exp(-0.5)) * 2.0;       /* gate = x1, up = x0 */
    assert_true(fabs(y[0] - (w0 * h - w1 * h1)) < 1e-6);
    assert_true(fabs(y[1] - w0 * 2 * h) < 1e-6);
    eng_weights_free(&w);
}

static void test_backend_matches_reference(void **state)
{
    (void)state;
    eng_check_case cases[64];
    int n = eng_check_cases(cases, 64, 1, 12, 42);
    for (int i = 0; i < n; i++) {
        eng_check_result r;
        sim_err err = { 0, "" };
        assert_int_equal(eng_check_run(&cases[i], ENG_BACKEND_CPU, NULL, &r, &err), SIM_OK);
        if (!r.ok)
            print_error("case %s: err %g, tol %g, routing bad %d\n", cases[i].label, r.err_ref, r.tol, r.route_bad);
        assert_true(r.ok);
    }
}

static void expect_config_error(eng_config c, int ep, const char *needle)
{
    sim_err err = { 0, "" };
    assert_int_equal(eng_config_check(&c, ep, &err), SIM_EINPUT);
    if (!strstr(err.msg, needle))
        print_error("message '%s' lacks '%s'\n", err.msg, needle);
    assert_non_null(strstr(err.msg, needle));
}

static void test_bad_configs_are_named(void **state)
{
    (void)state;
    const eng_config ok = { 64, 32, 8, 2, 0, 0, ENG_SOFTMAX, ENG_BF16 };
    eng_config c = ok;
    c.top_k = 9;
    expect_config_error(c, 1, "top_k = 9 exceeds experts = 8");
    c = ok, c.hidden = 0;
    expect_config_error(c, 1, "hidden = 0");
    c = ok, c.ffn = -1;
    expect_config_error(c, 1, "ffn = -1");
    c = ok, c.experts = 0, c.top_k = 0;
    expect_config_error(c, 1, "experts = 0");
    c = ok, c.shared = 1, c.shared_ffn = 0;
    expect_config_error(c, 1, "shared_ffn");
    expect_config_error(ok, 3, "ep = 3 does not divide experts = 8");
    c = ok, c.hidden = 1 << 20, c.ffn = 1 << 20, c.experts = 1 << 10;
    expect_config_error(c, 1, "weights need");
    sim_err err = { 0, "" };
    assert_int_equal(eng_config_check(&ok, 4, &err), SIM_OK);
}

static void test_dense_model_is_refused(void **state)
{
    (void)state;
    eng_config c;
    sim_err err = { 0, "" };
    assert_int_equal(eng_config_from_model(&c, "llama3.1-8b", ENG_FP32, &err), SIM_EINPUT);
    assert_non_null(strstr(err.msg, "llama3.1-8b"));
    assert_non_null(strstr(err.msg, "dense"));
    assert_int_equal(eng_config_from_model(&c, "qwen3-30b-a3b", ENG_BF16, &err), SIM_OK);
    assert_int_equal(c.hidden, 2048);
    assert_int_equal(c.ffn, 768);
    assert_int_equal(c.experts, 128);
    assert_int_equal(c.top_k, 8);
    assert_int_equal(eng_config_from_model(&c, "deepseek-v3", ENG_BF16, &err), SIM_OK);
    assert_int_equal(c.scoring, ENG_SIGMOID);
    assert_int_equal(c.shared, 1);
    assert_int_equal(c.shared_ffn, 2048);
}

static void test_forced_routing_is_checked(void **state)
{
    (void)state;
    eng_config c = { 16, 8, 4, 2, 0, 0, ENG_SOFTMAX, ENG_FP32 };
    eng_layer *l;
    sim_err err = { 0, "" };
    assert_int_equal(eng_layer_create(&l, &c, ENG_BACKEND_CPU, NULL, 5, &err), SIM_OK);
    float x[2 * 16], y[2 * 16];
    eng_fill_input(x, 2, 16, 1, 0);
    int ids[4] = { 0, 1, 3, 3 };
    float wts[4] = { 0.5f, 0.5f, 0.5f, 0.5f };
    eng_routing r = { 2, 2, ids, wts };
    assert_int_equal(eng_forward(l, x, 2, y, &r, NULL, NULL, &err), SIM_EINPUT);
    assert_non_null(strstr(err.msg, "token 1 picks expert 3 twice"));
    ids[3] = 4;
    assert_int_equal(eng_forward(l, x, 2, y, &r, NULL, NULL, &err), SIM_EINPUT);
    assert_non_null(strstr(err.msg, "expert 4 outside 0..3"));
    ids[3] = 2;
    assert_int_equal(eng_forward(l, x, 2, y, &r, NULL, NULL, &err), SIM_OK);
    /* zero tokens is a valid call (a rank may hold no tokens) */
    assert_int_equal(eng_forward(l, x, 0, y, NULL, NULL, NULL, &err), SIM_OK);
    eng_layer_destroy(l);
    eng_backend b;
    assert_int_equal(eng_backend_parse("cuda", &b), 0);
    assert_int_equal(eng_layer_create(&l, &c, b, NULL, 5, &err), SIM_EINPUT);
    assert_non_null(strstr(err.msg, "backend cuda"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_kernels_match_plain_loops),
        cmocka_unit_test(test_packed_layout_keeps_elements),
        cmocka_unit_test(test_gathered_weights_keep_elements),
        cmocka_unit_test(test_int8_kernel_keeps_nan),
        cmocka_unit_test(test_int8_same_at_every_level),
        cmocka_unit_test(test_level_requests),
        cmocka_unit_test(test_bf16_rounding),
        cmocka_unit_test(test_int4_blocks_by_hand),
        cmocka_unit_test(test_reference_by_hand),
        cmocka_unit_test(test_backend_matches_reference),
        cmocka_unit_test(test_bad_configs_are_named),
        cmocka_unit_test(test_dense_model_is_refused),
        cmocka_unit_test(test_forced_routing_is_checked),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
