/* test_gguf.c: GGUF weight formats (issue 14): bits per weight from llama.cpp's block layouts,
 * the llama-quantize recipes checked against the sizes of published files, and a deployment
 * at a GGUF file type costed on the bytes that file holds. */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "deploy/deploy.h"
#include "deploy/memfit.h"
#include "model/gguf.h"
#include "model/registry.h"
#include "serve/serving.h"
#include "step/step.h"

#define GIB 1073741824.0

static void load_model(sim_model *m, const char *name)
{
    sim_err err = {0};
    if (sim_registry_model(name, m, &err))
        fail_msg("%s", err.msg);
}

/* Bits per weight = 8 x block bytes / block elements, as the comments beside the block structs
 * of ggml/src/ggml-common.h state them. */
static void test_bits_per_weight(void **state)
{
    (void)state;
    static const struct { sim_wformat f; double bpw; int block; } t[] = {
        {SIM_WF_Q4_0, 4.5, 32},     {SIM_WF_Q8_0, 8.5, 32},      {SIM_WF_Q2_K, 2.625, 256},
        {SIM_WF_Q3_K, 3.4375, 256}, {SIM_WF_Q4_K, 4.5, 256},     {SIM_WF_Q5_K, 5.5, 256},
        {SIM_WF_Q6_K, 6.5625, 256}, {SIM_WF_IQ2_XXS, 2.0625, 256}, {SIM_WF_IQ3_XXS, 3.0625, 256},
        {SIM_WF_IQ4_XS, 4.25, 256}, {SIM_WF_IQ3_S, 3.4375, 256}, {SIM_WF_MXFP4, 4.25, 1},
    };
    for (size_t i = 0; i < sizeof t / sizeof t[0]; i++) {
        assert_true(fabs(sim_wformat_bytes(t[i].f) * 8 - t[i].bpw) < 1e-12);
        assert_int_equal(sim_wformat_block(t[i].f), t[i].block);
    }
    /* GGUF's MXFP4 block (e8m0 + 16 bytes per 32) is the mxfp4 format moesim already had */
    assert_true(sim_wformat_bytes(SIM_WF_MXFP4_MOE) == sim_wformat_bytes(SIM_WF_MXFP4));
    sim_wformat f;
    assert_int_equal(sim_wformat_parse("Q4_K_M", &f), 0);
    assert_int_equal(f, SIM_WF_Q4_K_M);
    assert_true(sim_wformat_is_recipe(f));
    assert_false(sim_wformat_is_recipe(SIM_WF_Q4_K));
    assert_false(sim_wformat_is_gguf(SIM_WF_INT4));
    assert_int_equal(sim_gguf_ftype(SIM_WF_Q4_K), SIM_WF_Q4_K_M); /* llama-quantize's alias */
    assert_int_equal(sim_wformat_compute_chain(SIM_WF_Q3_K_S)[0], SIM_DT_INT8);
}

/* Published file sizes (llama-bench's "size" column: tensor data, GiB) derived from the card and
 * the recipe within 2%. */
static void test_published_file_sizes(void **state)
{
    (void)state;
    static const struct { const char *card; sim_wformat f; double gib; } t[] = {
        /* llama-bench "llama 8B Q4_K - Medium 4.58 GiB 8.03 B" and "llama 70B Q4_K - Medium 39.59 GiB
         * 70.55 B" (many ggml-org/llama.cpp issue reports, e.g. the SYCL and CUDA benchmark threads) */
        {"llama3.1-8b", SIM_WF_Q4_K_M, 4.58},
        {"llama3.1-70b", SIM_WF_Q4_K_M, 39.59},
        /* "qwen3moe 30B.A3B Q4_K - Medium 17.28 GiB 30.53 B" (llama-bench, ggml-org/llama.cpp reports) */
        {"qwen3-30b-a3b", SIM_WF_Q4_K_M, 17.28},
        /* measurements.md M7: DeepSeek-V2-Lite Q4_K_M 9.78 GiB (ikawrakow/ik_llama.cpp PR 232) */
        {"deepseek-v2-lite", SIM_WF_Q4_K_M, 9.78},
        /* "gpt-oss 120B MXFP4 MoE 59.02 GiB 116.83 B" (ggml-org/llama.cpp PR 19922) */
        {"gpt-oss-120b", SIM_WF_MXFP4_MOE, 59.02},
        /* "llama 7B mostly Q8_0 46.22 GiB" for Mixtral-8x7B Instruct (ggml-org/llama.cpp PR 4406) */
        {"mixtral-8x7b", SIM_WF_Q8_0, 46.22},
    };
    for (size_t i = 0; i < sizeof t / sizeof t[0]; i++) {
        static sim_model m;
        load_model(&m, t[i].card);
        double gib = sim_gguf_file_bytes(&m, t[i].f) / GIB;
        if (!(fabs(gib / t[i].gib - 1) <= 0.02))
            fail_msg("%s %s: %.3f GiB, published %.2f GiB", t[i].card, sim_wformat_name(t[i].f), gib, t[i].gib);
    }
}

/* The recipe's choices, tensor class by tensor class (llama_tensor_get_type_impl). */
static void test_recipe_classes(void **state)
{
    (void)state;
    static sim_model m;
    sim_wmix w[SIM_WCLASS_COUNT];
    load_model(&m, "llama3.1-8b");
    sim_gguf_mix(&m, SIM_WF_Q4_K_M, w);
    /* output.weight at Q6_K, token_embd stays Q4_K */
    assert_true(w[SIM_WCLASS_HEAD].elems[SIM_WF_Q6_K] == w[SIM_WCLASS_HEAD].total);
    assert_true(w[SIM_WCLASS_EMBED].elems[SIM_WF_Q4_K] == w[SIM_WCLASS_EMBED].total);
    /* ffn_down at Q6_K on the use_more_bits layers: 32 layers -> 0-3, 28-31 and every third
     * between (6, 9, ..., 27): 4 + 4 + 8 = 16 of 32, i.e. half the down matrices, a sixth of the FFN */
    assert_true(fabs(w[SIM_WCLASS_DENSE_FFN].elems[SIM_WF_Q6_K] / w[SIM_WCLASS_DENSE_FFN].total - 16.0 / 32 / 3) < 1e-12);
    /* Q3_K_S moves nothing but the output */
    sim_gguf_mix(&m, SIM_WF_Q3_K_S, w);
    assert_true(w[SIM_WCLASS_ATTN].elems[SIM_WF_Q3_K] == w[SIM_WCLASS_ATTN].total);
    assert_true(w[SIM_WCLASS_HEAD].elems[SIM_WF_Q6_K] == w[SIM_WCLASS_HEAD].total);
    /* Mixtral's 8 experts: attn_v and attn_k at Q8_0 in every K-quant file */
    load_model(&m, "mixtral-8x7b");
    sim_gguf_mix(&m, SIM_WF_Q4_K_M, w);
    assert_true(w[SIM_WCLASS_ATTN].elems[SIM_WF_Q8_0] > 0);
    /* DeepSeek-V2-Lite's experts are 1408 wide, not a multiple of 256: ffn_down_exps falls back
     * from Q4_K to Q5_0 (and from Q6_K to Q8_0) */
    load_model(&m, "deepseek-v2-lite");
    sim_gguf_mix(&m, SIM_WF_Q4_K_M, w);
    assert_true(w[SIM_WCLASS_EXPERTS].elems[SIM_WF_Q5_0] > 0 && w[SIM_WCLASS_EXPERTS].elems[SIM_WF_Q8_0] > 0);
    assert_true(w[SIM_WCLASS_EXPERTS].elems[SIM_WF_Q6_K] == 0);
}

/* A custom file (ByteShape's Qwen3-30B-A3B "Q3_K_S-2.70bpw", 9.58 GiB, measurements.md M6): the
 * deployment holds the stated bytes, the routed experts alone shrink, and a file too small for its
 * other tensors is refused. */
static void test_stated_file_size(void **state)
{
    (void)state;
    static sim_model m;
    static sim_hw hw;
    sim_err err = {0};
    load_model(&m, "qwen3-30b-a3b");
    if (sim_registry_hw("rpi5", &hw, &err))
        fail_msg("%s", err.msg);
    sim_deploy d;
    sim_deploy_defaults(&d, &m, &hw);
    sim_deploy_set_precision(&d, SIM_WF_Q3_K_S);
    sim_wmix before[SIM_WCLASS_COUNT], after[SIM_WCLASS_COUNT];
    sim_deploy_weight_mix(&d, before);
    double bpw = 0;
    assert_int_equal(sim_deploy_set_file_bytes(&d, 9.58 * GIB, &bpw, &err), SIM_OK);
    sim_deploy_weight_mix(&d, after);
    /* Q3_K is 3.4375 bits per weight; the experts of a 2.70-bit file get fewer */
    assert_true(bpw > SIM_GGUF_MIN_BPW && bpw < 3.4375);
    for (int c = 0; c < SIM_WCLASS_COUNT; c++)
        if (c != SIM_WCLASS_EXPERTS)
            assert_true(sim_wmix_bytes(&after[c], SIM_WF_BF16) == sim_wmix_bytes(&before[c], SIM_WF_BF16));
    assert_true(sim_wmix_main(&after[SIM_WCLASS_EXPERTS], SIM_WF_BF16) == SIM_WF_Q3_K); /* still unpacked as Q3_K */
    sim_memfit f;
    sim_memfit_eval(&d, 1024, 1, &f);
    if (!(fabs(f.weight_bytes / (9.58 * GIB) - 1) < 1e-3))
        fail_msg("weights %.4f GiB, file 9.58 GiB", f.weight_bytes / GIB);
    /* another precision (a search) runs its own recipe, not this file */
    sim_deploy_set_precision(&d, SIM_WF_Q4_K_M);
    sim_memfit_eval(&d, 1024, 1, &f);
    assert_true(fabs(f.weight_bytes / sim_gguf_file_bytes(&m, SIM_WF_Q4_K_M) - 1) < 1e-3);
    /* 2 GiB leaves the experts under IQ1_S; fp8 is no GGUF file; a dense model has no experts */
    sim_deploy_set_precision(&d, SIM_WF_Q3_K_S);
    assert_int_equal(sim_deploy_set_file_bytes(&d, 2 * GIB, NULL, &err), SIM_EINPUT);
    sim_deploy_set_precision(&d, SIM_WF_FP8);
    assert_int_equal(sim_deploy_set_file_bytes(&d, 9.58 * GIB, NULL, &err), SIM_EINPUT);
    load_model(&m, "llama3.1-8b");
    sim_deploy_defaults(&d, &m, &hw);
    sim_deploy_set_precision(&d, SIM_WF_Q4_K_M);
    assert_int_equal(sim_deploy_set_file_bytes(&d, 4 * GIB, NULL, &err), SIM_EINPUT);
}

/* A dense model at --precision q4_k_m holds its file's bytes and decodes memory-bound on them. */
static void test_dense_q4_k_m_is_memory_bound(void **state)
{
    (void)state;
    static sim_model m;
    static sim_hw hw;
    sim_err err = {0};
    load_model(&m, "llama3.1-8b");
    if (sim_registry_hw("h100-sxm", &hw, &err))
        fail_msg("%s", err.msg);
    sim_deploy d;
    sim_deploy_defaults(&d, &m, &hw);
    sim_deploy_set_precision(&d, SIM_WF_Q4_K_M);
    assert_int_equal(sim_deploy_head_fmt(&d), SIM_WF_Q6_K);
    sim_memfit f;
    sim_memfit_eval(&d, 1024, 1, &f);
    double file = sim_gguf_file_bytes(&m, SIM_WF_Q4_K_M);
    assert_true(fabs(f.weight_bytes / file - 1) < 0.01);
    sim_step_result s;
    assert_int_equal(sim_phase_eval(&d, false, 1, 1024, &s, &f, &err), SIM_OK);
    /* every weight read once: the memory part no faster than the file at full bandwidth and
     * within 1.6x of it; the fixed costs (kernels, step) come on top */
    double floor_s = file / 3.35e12;
    if (!(s.memory_s > floor_s && s.memory_s < 1.6 * floor_s && s.compute_s < s.memory_s))
        fail_msg("memory %.3g s, compute %.3g s, file at full bandwidth %.3g s", s.memory_s, s.compute_s, floor_s);
    assert_int_equal(s.bound, SIM_BOUND_MEMORY);
    /* --dense-precision still overrides the dense part */
    sim_deploy_set_dense_precision(&d, SIM_WF_BF16);
    sim_memfit_eval(&d, 1024, 1, &f);
    assert_true(f.weight_bytes > 2.5 * file);
}

/* Decode at batch 1 on a CPU whose hwmodel gives GGUF mat-vec shares (efficiency.gguf_matvec):
 * each matrix's compute runs at share x the INT8 peak for its type, a type without a share at
 * the INT8 curve's one-row point, and the class mix adds the times. Checked by hand on the
 * Ryzen 9 7950X with its memory made fast enough that compute sets every operation. */
static void test_gguf_matvec_by_hand(void **state)
{
    (void)state;
    static sim_model m;
    static sim_hw hw;
    sim_err err = {0};
    load_model(&m, "llama3.1-8b");
    if (sim_registry_hw("ryzen-7950x", &hw, &err))
        fail_msg("%s", err.msg);
    hw.tiers[0].bandwidth_Bps = 1e16; /* compute-bound everywhere */
    memset(hw.eff.gemm_share, 0, sizeof hw.eff.gemm_share); /* more rows: the curve (test_gguf_gemm_by_hand) */
    memset(hw.eff.matvec_share, 0, sizeof hw.eff.matvec_share);
    hw.eff.matvec_share[SIM_WF_Q4_K] = 0.125;
    hw.eff.matvec_share[SIM_WF_Q6_K] = 0.1;
    const double int8 = 9.216e12, ovh = 5e-6; /* the file's INT8 peak and kernel overhead */
    const double eta1 = 0.152 / 2;              /* its INT8 curve (max 0.152, half 1) at one row */
    assert_true(fabs(hw.peak_flops[SIM_DT_INT8] - int8) < 1);
    sim_deploy d;
    sim_deploy_defaults(&d, &m, &hw);
    sim_deploy_set_precision(&d, SIM_WF_Q4_K_S);
    sim_wmix w[SIM_WCLASS_COUNT];
    sim_deploy_weight_mix(&d, w);
    sim_memfit f;
    sim_step_result s;
    assert_int_equal(sim_phase_eval(&d, false, 1, 128, &s, &f, &err), SIM_OK);

    /* LM head: Q6_K alone, 4096 x 128256 at 0.1 of the INT8 peak; 3 ops */
    double head = 2.0 * 4096 * 128256 / (0.1 * int8) + 3 * ovh;
    if (!(fabs(s.by_kind_s[SIM_LK_LM_HEAD] / head - 1) < 1e-9))
        fail_msg("lm_head %.9g s, by hand %.9g s", s.by_kind_s[SIM_LK_LM_HEAD], head);
    /* dense FFN: 3 x 4096 x 14336 per layer, 32 layers, 4 ops each; its mix of Q4_K (0.125) and
     * Q5_K (no share: the curve's 0.086) adds each type's time */
    const sim_wmix *ff = &w[SIM_WCLASS_DENSE_FFN];
    double q5 = ff->elems[SIM_WF_Q5_K] / ff->total, q4 = ff->elems[SIM_WF_Q4_K] / ff->total;
    assert_true(q5 > 0 && q4 > 0 && fabs(q4 + q5 - 1) < 1e-12); /* the recipe's ffn_down in the first layers */
    double per_flop = q4 / (0.125 * int8) + q5 / (eta1 * int8);
    double ffn = 32 * (2.0 * 3 * 4096 * 14336 * per_flop + 4 * ovh);
    if (!(fabs(s.by_kind_s[SIM_LK_DENSE_FFN] / ffn - 1) < 1e-9))
        fail_msg("dense_ffn %.9g s, by hand %.9g s", s.by_kind_s[SIM_LK_DENSE_FFN], ffn);
    assert_true(s.basis_matvec[SIM_LK_DENSE_FFN] && s.basis_matvec[SIM_LK_LM_HEAD]);
    assert_false(s.basis_matvec[SIM_LK_ATTN_CORE]);

    /* two rows: outside the measured shape, the curve (no share) */
    assert_int_equal(sim_phase_eval(&d, false, 2, 128, &s, &f, &err), SIM_OK);
    assert_false(s.basis_matvec[SIM_LK_DENSE_FFN]);
    double curve = 32 * (2.0 * 3 * 4096 * 14336 * 2 / (0.152 * 2 / 3 * int8) + 4 * ovh);
    if (!(fabs(s.by_kind_s[SIM_LK_DENSE_FFN] / curve - 1) < 1e-9))
        fail_msg("dense_ffn at 2 rows %.9g s, by the curve %.9g s", s.by_kind_s[SIM_LK_DENSE_FFN], curve);

    /* a file whose types have no share runs as before: Q8_0 at the curve's one-row point */
    sim_deploy_set_precision(&d, SIM_WF_Q8_0);
    assert_int_equal(sim_phase_eval(&d, false, 1, 128, &s, &f, &err), SIM_OK);
    assert_false(s.basis_matvec[SIM_LK_DENSE_FFN]);
    ffn = 32 * (2.0 * 3 * 4096 * 14336 / (eta1 * int8) + 4 * ovh);
    if (!(fabs(s.by_kind_s[SIM_LK_DENSE_FFN] / ffn - 1) < 1e-9))
        fail_msg("q8_0 dense_ffn %.9g s, by the curve %.9g s", s.by_kind_s[SIM_LK_DENSE_FFN], ffn);
}

/* A prompt on a CPU whose hwmodel gives GGUF GEMM shares (efficiency.gguf_gemm): each matrix
 * runs at share x the INT8 peak for its type times the curve's shape at its rows (eta / max), a
 * type without a share at the curve; the routed experts (MUL_MAT_ID) take no dense-only share.
 * Checked by hand on the Ryzen 9 7950X (INT8 curve max 0.152, half 1 row) made compute-bound. */
static void test_gguf_gemm_by_hand(void **state)
{
    (void)state;
    static sim_model m;
    static sim_hw hw;
    sim_err err = {0};
    load_model(&m, "llama3.1-8b");
    if (sim_registry_hw("ryzen-7950x", &hw, &err))
        fail_msg("%s", err.msg);
    hw.tiers[0].bandwidth_Bps = 1e16; /* compute-bound everywhere */
    memset(hw.eff.gemm_share, 0, sizeof hw.eff.gemm_share);
    memset(hw.eff.gemm_dense_only, 0, sizeof hw.eff.gemm_dense_only);
    hw.eff.gemm_share[SIM_WF_Q4_K] = 0.15;
    hw.eff.gemm_share[SIM_WF_Q5_K] = 0.1;
    const double int8 = 9.216e12, ovh = 5e-6, T = 512;
    sim_deploy d;
    sim_deploy_defaults(&d, &m, &hw);
    sim_deploy_set_precision(&d, SIM_WF_Q4_K_S);
    sim_wmix w[SIM_WCLASS_COUNT];
    sim_deploy_weight_mix(&d, w);
    sim_memfit f;
    sim_step_result s;
    assert_int_equal(sim_phase_eval(&d, true, 1, T, &s, &f, &err), SIM_OK);
    /* dense FFN: 3 x 4096 x 14336 per layer, 32 layers, 4 ops each, 512 rows; its Q4_K (0.15)
     * and Q5_K (0.1) add their times, and the curve's shape at 512 rows is 512 / 513 */
    const sim_wmix *ff = &w[SIM_WCLASS_DENSE_FFN];
    double q5 = ff->elems[SIM_WF_Q5_K] / ff->total, q4 = ff->elems[SIM_WF_Q4_K] / ff->total;
    assert_true(q5 > 0 && q4 > 0 && fabs(q4 + q5 - 1) < 1e-12);
    double per_flop = (q4 / (0.15 * int8) + q5 / (0.1 * int8)) * (T + 1) / T;
    double ffn = 32 * (2.0 * 3 * 4096 * 14336 * T * per_flop + 4 * ovh);
    if (!(fabs(s.by_kind_s[SIM_LK_DENSE_FFN] / ffn - 1) < 1e-9))
        fail_msg("dense_ffn %.9g s, by hand %.9g s", s.by_kind_s[SIM_LK_DENSE_FFN], ffn);
    assert_true(s.basis_gemm_shares[SIM_LK_DENSE_FFN] && s.basis_gemm_shares[SIM_LK_ATTN_PROJ]);
    assert_false(s.basis_gemm_shares[SIM_LK_ATTN_CORE]);
    assert_false(s.basis_gemm_shares[SIM_LK_LM_HEAD]); /* one row: the mat-vec side */

    /* Qwen3-30B-A3B at Q8_0 (every matrix Q8_0), Q8_0 dense-only as tinyBLAS is: the attention
     * projections take the share, the routed experts keep the curve */
    static sim_model q;
    load_model(&q, "qwen3-30b-a3b");
    hw.eff.gemm_share[SIM_WF_Q8_0] = 0.2;
    hw.eff.gemm_dense_only[SIM_WF_Q8_0] = true;
    sim_deploy_defaults(&d, &q, &hw);
    sim_deploy_set_precision(&d, SIM_WF_Q8_0);
    sim_step_result with, curve;
    assert_int_equal(sim_phase_eval(&d, true, 1, T, &with, &f, &err), SIM_OK);
    assert_true(with.basis_gemm_shares[SIM_LK_ATTN_PROJ]);
    assert_false(with.basis_gemm_shares[SIM_LK_EXPERTS]);
    hw.eff.gemm_share[SIM_WF_Q8_0] = 0; /* no share at all: the curve everywhere */
    assert_int_equal(sim_phase_eval(&d, true, 1, T, &curve, &f, &err), SIM_OK);
    assert_false(curve.basis_gemm_shares[SIM_LK_ATTN_PROJ]);
    /* projections: the same overheads, compute at 0.2 x 512/513 in place of 0.152 x 512/513 */
    double hq = q.hidden, nh = q.attn.heads, kv = q.attn.kv_heads, hd = q.attn.head_dim;
    double proj = 2 * T * q.layers * (hq * nh * hd * 2 + hq * kv * hd * 2);
    double want = proj * (T + 1) / T / int8 * (1 / 0.2 - 1 / 0.152);
    double got = with.by_kind_s[SIM_LK_ATTN_PROJ] - curve.by_kind_s[SIM_LK_ATTN_PROJ];
    if (!(fabs(got / want - 1) < 1e-9))
        fail_msg("attention projections moved %.9g s, by hand %.9g s", got, want);
    if (!(fabs(with.by_kind_s[SIM_LK_EXPERTS] / curve.by_kind_s[SIM_LK_EXPERTS] - 1) < 1e-12))
        fail_msg("dense-only share moved the experts: %.9g s against %.9g s", with.by_kind_s[SIM_LK_EXPERTS],
                 curve.by_kind_s[SIM_LK_EXPERTS]);
    /* not dense-only: the experts too, at the curve's shape at their rows per expert, m / (m + 1) */
    hw.eff.gemm_share[SIM_WF_Q8_0] = 0.2;
    hw.eff.gemm_dense_only[SIM_WF_Q8_0] = false;
    assert_int_equal(sim_phase_eval(&d, true, 1, T, &with, &f, &err), SIM_OK);
    assert_true(with.basis_gemm_shares[SIM_LK_EXPERTS]);
    double mrow = with.tokens_per_expert, assign = T * q.ffn.top_k; /* one rank holds every expert */
    assert_true(mrow > 1 && fabs(mrow * with.experts_touched_per_rank - assign) < 1e-6 * assign);
    double ex = 2.0 * 3 * hq * q.ffn.expert_intermediate * assign * q.ffn.moe_layers;
    want = ex * (mrow + 1) / mrow / int8 * (1 / 0.2 - 1 / 0.152);
    got = with.by_kind_s[SIM_LK_EXPERTS] - curve.by_kind_s[SIM_LK_EXPERTS];
    if (!(fabs(got / want - 1) < 1e-9))
        fail_msg("experts moved %.9g s, by hand %.9g s", got, want);
}

/* Tiles (grouped_gemm tile_rows, Metal's kernel_mul_mm_id computes each expert's tokens in
 * tiles of 32): a one-token prompt gives each of Qwen3-30B-A3B's 8 picked experts one row, so
 * with tiles at every batch each computes a whole tile of 32 and the experts' compute time grows
 * exactly 32-fold, the fixed costs (3 kernels per MoE layer at the hwmodel's overhead) staying;
 * with tiles from 32 tokens (tile_from_tokens) the one token takes the mat-vec and nothing moves. */
static void test_tile_padding_by_hand(void **state)
{
    (void)state;
    static sim_model m;
    static sim_hw hw;
    sim_err err = {0};
    load_model(&m, "qwen3-30b-a3b");
    if (sim_registry_hw("m4-max", &hw, &err))
        fail_msg("%s", err.msg);
    hw.tiers[0].bandwidth_Bps = 1e16; /* compute-bound everywhere */
    for (int t = 0; t < SIM_DT_COUNT; t++)
        hw.eff.grouped_gemm[t].tile_rows = 0;
    sim_deploy d;
    sim_deploy_defaults(&d, &m, &hw);
    sim_deploy_set_precision(&d, SIM_WF_BF16);
    sim_memfit f;
    sim_step_result plain, tiled;
    assert_int_equal(sim_phase_eval(&d, true, 1, 1, &plain, &f, &err), SIM_OK);
    for (int t = 0; t < SIM_DT_COUNT; t++) {
        hw.eff.grouped_gemm[t].tile_rows = 32;
        hw.eff.grouped_gemm[t].tile_from_tokens = 32; /* the shipped switch: one token takes the mat-vec */
    }
    assert_int_equal(sim_phase_eval(&d, true, 1, 1, &tiled, &f, &err), SIM_OK);
    assert_true(tiled.by_kind_s[SIM_LK_EXPERTS] == plain.by_kind_s[SIM_LK_EXPERTS]);
    for (int t = 0; t < SIM_DT_COUNT; t++)
        hw.eff.grouped_gemm[t].tile_from_tokens = 0; /* tiles at every batch */
    assert_int_equal(sim_phase_eval(&d, true, 1, 1, &tiled, &f, &err), SIM_OK);
    double fixed = m.ffn.moe_layers * 3 * hw.eff.kernel_overhead_s;
    double compute = plain.by_kind_s[SIM_LK_EXPERTS] - fixed;
    assert_true(compute > 0);
    double want = fixed + 32 * compute;
    if (!(fabs(tiled.by_kind_s[SIM_LK_EXPERTS] / want - 1) < 1e-9))
        fail_msg("tiled experts %.9g s, by hand %.9g s", tiled.by_kind_s[SIM_LK_EXPERTS], want);
    /* the dense projections have no tiles */
    assert_true(tiled.by_kind_s[SIM_LK_ATTN_PROJ] == plain.by_kind_s[SIM_LK_ATTN_PROJ]);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_bits_per_weight),
        cmocka_unit_test(test_published_file_sizes),
        cmocka_unit_test(test_recipe_classes),
        cmocka_unit_test(test_dense_q4_k_m_is_memory_bound),
        cmocka_unit_test(test_stated_file_size),
        cmocka_unit_test(test_gguf_matvec_by_hand),
        cmocka_unit_test(test_gguf_gemm_by_hand),
        cmocka_unit_test(test_tile_padding_by_hand),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
