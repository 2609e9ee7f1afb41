/* test_formulas.c: each formula of the step, memory, communication, serving and cost
 * models checked against a computation written out by hand. A synthetic device with round
 * numbers keeps the arithmetic readable; shipped cards and hwmodels check the plumbing. */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "step/comm.h"
#include "deploy/cost.h"
#include "deploy/deploy.h"
#include "deploy/memfit.h"
#include "model/registry.h"
#include "step/routing.h"
#include "serve/serving.h"
#include "step/step.h"

#include "../assert_close.h"

/* 1 PFLOP/s BF16, 1 TB/s memory, flat memory efficiency 0.8, 5 us per kernel. */
static sim_hw synthetic(void)
{
    sim_hw hw;
    memset(&hw, 0, sizeof hw);
    strcpy(hw.name, "synthetic");
    hw.cls = SIM_HW_GPU;
    hw.peak_flops[SIM_DT_BF16] = 1e15;
    hw.n_tiers = 1;
    hw.tiers[0].capacity_bytes = 100e9;
    hw.tiers[0].bandwidth_Bps = 1e12;
    hw.eff.gemm[SIM_DT_BF16] = (sim_curve){ .max = 0.5, .half = 100 };
    hw.eff.grouped_gemm[SIM_DT_BF16] = (sim_curve){ .max = 0.4, .half = 50 };
    hw.eff.memory = (sim_curve){ .max = 0.8, .half = 0 };
    hw.eff.kernel_overhead_s = 5e-6;
    hw.scale_up = (sim_link){ .domain_size = 8, .bandwidth_Bps = 450e9, .latency_s = 3e-6 };
    hw.scale_out = (sim_link){ .bandwidth_Bps = 50e9, .latency_s = 10e-6 };
    hw.eff.link_scale_up = 0.8;
    hw.eff.link_scale_out = 0.9;
    return hw;
}

static void test_gemm_op(void **state)
{
    (void)state;
    sim_hw hw = synthetic();
    double tc, tm;
    /* m=1000 rows, 2000x3000 BF16 weights.
     * eta = 0.5 * 1000 / (1000 + 100) = 0.454545...
     * FLOPs = 2 * 1000 * 2000 * 3000 = 1.2e10  ->  t_c = 1.2e10 / (1e15 * 0.4545) = 2.64e-5 s
     * bytes = 2000*3000*2 (weights) + 1000*(2000+3000)*2 (activations) = 1.2e7 + 1e7 = 2.2e7
     *   -> t_m = 2.2e7 / (1e12 * 0.8) = 2.75e-5 s
     * t = max(t_c, t_m) + 5e-6 = 3.25e-5 s (memory-bound) */
    double t = sim_gemm_time(&hw, SIM_DT_BF16, 1000, 2000, 3000, 2.0, false, &tc, &tm);
    assert_close(tc, 1.2e10 / (1e15 * 0.5 * 1000 / 1100), 1e-12);
    assert_close(tm, 2.2e7 / 0.8e12, 1e-12);
    assert_close(t, 2.75e-5 + 5e-6, 1e-12);
    /* grouped curve: 16 tokens per expert, eta = 0.4 * 16 / 66 */
    sim_gemm_time(&hw, SIM_DT_BF16, 16, 2048, 7168, 1.0, true, &tc, NULL);
    assert_close(tc, 2.0 * 16 * 2048 * 7168 / (1e15 * 0.4 * 16 / 66), 1e-12);
}

/* One MoE layer of E experts of hidden x ffn (SwiGLU), top-k, on the synthetic device at
 * 1 TFLOP/s (so expert GEMMs are compute-bound), its grouped curve with a kernel switch at 8
 * rows: (max 0.1, half 2) up to 8 rows per expert, (0.4, 50) above. Returns the routed
 * experts' time of the layer at T tokens. */
static double layer_experts_s(const sim_hw *hwp, int E, int k, double T, double observed, sim_routing_stats *rs)
{
    sim_hw hw = *hwp;
    static sim_model m;
    memset(&m, 0, sizeof m);
    strcpy(m.name, "switch");
    m.hidden = 1024, m.layers = 1, m.vocab = 1, m.max_context = 1;
    m.attn.kind = SIM_ATTN_GQA, m.attn.heads = m.attn.kv_heads = 1, m.attn.head_dim = 1024;
    m.ffn.activation = SIM_ACT_SWIGLU, m.ffn.moe_layers = 1, m.ffn.experts = E, m.ffn.top_k = k;
    m.ffn.expert_intermediate = 512, m.ffn.scoring = SIM_SCORE_SOFTMAX;
    m.native_experts = m.native_shared = m.native_dense = SIM_WF_BF16;
    sim_deploy d;
    sim_deploy_defaults(&d, &m, &hw);
    d.expert_fmt = d.shared_fmt = d.dense_fmt = SIM_WF_BF16;
    d.skew = 0;
    d.observed_experts = observed;
    sim_memfit fit;
    memset(&fit, 0, sizeof fit);
    fit.fits = true;
    fit.expert_frac[0] = fit.other_frac[0] = 1;
    sim_step_result r;
    sim_err err = { 0 };
    if (sim_moe_layer_eval(&d, &fit, T, &r, &err))
        fail_msg("%s", err.msg);
    sim_routing_query q = { .experts = E, .top_k = k, .tokens = (long)T, .ep = 1, .ranks_per_node = 1,
                            .seed = d.seed, .small_rows = 8 };
    if (rs && sim_routing_stats_get(NULL, &q, rs, &err))
        fail_msg("%s", err.msg);
    return r.by_kind_s[SIM_LK_EXPERTS];
}

static double switch_layer_experts_s(int E, int k, double T, sim_routing_stats *rs)
{
    sim_hw hw = synthetic();
    hw.peak_flops[SIM_DT_BF16] = 1e12;
    hw.eff.grouped_gemm[SIM_DT_BF16] = (sim_curve){ .max = 0.4, .half = 50, .group_s = 100e-6, .small_rows = 8,
                                                .small_max = 0.1, .small_half = 2, .small_group_s = 20e-6 };
    return layer_experts_s(&hw, E, k, T, 0, rs);
}

/* A measured step's routing (calibration): the experts it touched replace the expectation.
 * Memory-bound on the synthetic device: each touched expert reads 3 * 1024 * 512 * 2 bytes at
 * 0.8 TB/s, so 32 against 16 observed experts differ by 16 * 3145728 / 0.8e12 s. */
static void test_observed_experts(void **state)
{
    (void)state;
    sim_hw hw = synthetic();
    double t32 = layer_experts_s(&hw, 64, 8, 4, 32, NULL), t16 = layer_experts_s(&hw, 64, 8, 4, 16, NULL);
    assert_close(t32 - t16, 16 * 3145728.0 / 0.8e12, 1e-9);
    /* 0: the routing model's expectation, 64 (1 - (1 - 8/64)^4) = 26.47 experts */
    double te = layer_experts_s(&hw, 64, 8, 4, 0, NULL);
    assert_close(te - t16, (sim_routing_distinct_uniform(64, 8, 4) - 16) * 3145728.0 / 0.8e12, 1e-6);
}

static void test_kernel_switch(void **state)
{
    (void)state;
    /* Every token to every expert (k = E = 4): each expert gets exactly T rows.
     * One expert row: 2 * 3 * 1024 * 512 FLOPs = 3145728; 4 experts, T rows each.
     * T = 8 (at the switch): eta = 0.1 * 8 / (8 + 2) = 0.08
     *   t = 4 * 8 * 3145728 / (1e12 * 0.08) = 1.2582912e-3 s, + 3 kernels x 5 us + 4 FFNs x 20 us
     * T = 9 (above): eta = 0.4 * 9 / (9 + 50) = 0.061017
     *   t = 4 * 9 * 3145728 / (1e12 * 0.4 * 9 / 59) = 1.85598e-3 s, + 15 us + 4 FFNs x 100 us */
    const double row = 2.0 * 3 * 1024 * 512;
    assert_close(switch_layer_experts_s(4, 4, 8, NULL), 4 * 8 * row / (1e12 * 0.1 * 8 / 10) + 15e-6 + 80e-6, 1e-9);
    assert_close(switch_layer_experts_s(4, 4, 9, NULL), 4 * 9 * row / (1e12 * 0.4 * 9 / 59) + 15e-6 + 400e-6, 1e-9);

    /* A real split: 64 experts, top-8, 64 tokens (8 rows per expert on average). The experts
     * at or below 8 rows and those above are costed apart, each group at its own mean rows:
     *   t = row / peak * [A_s / eta_s(A_s / n_s) + A_b / eta_b(A_b / n_b)] */
    sim_routing_stats rs;
    double got = switch_layer_experts_s(64, 8, 64, &rs);
    assert_true(rs.small_expert_share > 0.2 && rs.small_expert_share < 0.9);
    double A = rs.max_tokens_per_rank, n = rs.max_experts_per_rank;
    double As = rs.small_token_share * A, ns = rs.small_expert_share * n, Ab = A - As, nb = n - ns;
    double eta_s = 0.1 * (As / ns) / (As / ns + 2), eta_b = 0.4 * (Ab / nb) / (Ab / nb + 50);
    assert_close(got, row / 1e12 * (As / eta_s + Ab / eta_b) + 15e-6 + ns * 20e-6 + nb * 100e-6, 1e-9);
    /* and it is not what the mean rows per expert on either curve would give */
    double one_small = row * A / (1e12 * 0.1 * (A / n) / (A / n + 2)) + 15e-6 + n * 20e-6;
    double one_big = row * A / (1e12 * 0.4 * (A / n) / (A / n + 50)) + 15e-6 + n * 100e-6;
    assert_true(fabs(got - one_small) > 0.05 * got && fabs(got - one_big) > 0.05 * got);
}

static void test_ring_allreduce(void **state)
{
    (void)state;
    sim_hw hw = synthetic();
    /* 8 devices inside the scale-up domain, 1 MB buffer:
     * 2(n-1) = 14 latency steps of 3 us = 42 us; each device moves 2*7/8 * 1e6 = 1.75e6 bytes
     * at 450e9 * 0.8 = 3.6e11 B/s = 4.8611e-6 s. */
    assert_close(sim_comm_allreduce_bytes(8, 1e6), 1.75e6, 1e-12);
    assert_close(sim_comm_allreduce_s(&hw, 8, 1e6), 42e-6 + 1.75e6 / 3.6e11, 1e-12);
    /* 16 devices leave the domain: the NIC, 50e9 * 0.9 */
    assert_close(sim_comm_allreduce_s(&hw, 16, 1e6), 30 * 10e-6 + 2.0 * 15 / 16 * 1e6 / 45e9, 1e-12);
    assert_true(sim_comm_allreduce_s(&hw, 1, 1e6) == 0);
}

static void test_alltoall_bytes(void **state)
{
    (void)state;
    /* DeepEP low-latency dispatch at EP8: 128 tokens, top-8, one copy per remote expert
     * = 8 * (1 - 1/8) = 7 copies of 7168 FP8 bytes: 128 * 7 * 7168 = 6,422,528 bytes. */
    assert_close(sim_comm_a2a_bytes(128, 8 * (1 - 1.0 / 8), 7168, 1.0), 6422528.0, 1e-12);
    /* combine returns the same copies in BF16: twice the bytes */
    assert_close(sim_comm_a2a_bytes(128, 7, 7168, 2.0), 2 * 6422528.0, 1e-12);
}

static void load(sim_model *m, sim_hw *hw, const char *model, const char *hwname)
{
    sim_err err = { 0 };
    if (sim_registry_model(model, m, &err) || sim_registry_hw(hwname, hw, &err))
        fail_msg("%s", err.msg);
}

static void test_memory_fit_deepseek_h200(void **state)
{
    (void)state;
    static sim_model m;
    static sim_hw hw;
    load(&m, &hw, "deepseek-v3", "h200");
    sim_deploy d;
    sim_deploy_defaults(&d, &m, &hw);
    d.gpus = 8, d.tp = 1, d.dp = 8, d.ep = 8;
    sim_deploy_set_precision(&d, SIM_WF_FP8);
    sim_err err = { 0 };
    assert_int_equal(sim_deploy_check(&d, &err), SIM_OK);
    sim_memfit f;
    sim_memfit_eval(&d, 2048, 32, &f);
    /* Experts per GPU: 256 / 8 = 32 routed + 1 shared per MoE layer, 58 MoE layers, each
     * expert 3 * 7168 * 2048 = 44,040,192 parameters at 1 + 4/16384 bytes (FP8 + FP32 scale
     * per 128x128 block). */
    double expert = 3.0 * 7168 * 2048;
    assert_close(f.expert_weight_bytes, (32 + 1) * 58 * expert * (1 + 4.0 / 16384), 1e-9);
    /* MLA KV: 61 layers x (512 + 64) latent elements x 2 bytes (BF16) = 70,272 bytes per token */
    assert_close(f.kv_bytes_per_token, 61 * 576 * 2.0, 1e-12);
    assert_close(f.kv_bytes_per_seq, 61 * 576 * 2.0 * 2048, 1e-12);
    assert_true(f.fits);
    /* usable = 141 GB * 0.9 */
    assert_close(f.usable_bytes, 141e9 * 0.9, 1e-12);
    assert_close(f.kv_budget_bytes, f.usable_bytes - f.workspace_bytes - f.weight_bytes, 1e-9);

    /* The same on 8 x H100 in BF16: twice the bytes per expert, and 80 GB devices: no fit. */
    static sim_hw h100;
    load(&m, &h100, "deepseek-v3", "h100-sxm");
    d.hw = &h100;
    sim_deploy_set_precision(&d, SIM_WF_BF16);
    sim_memfit_eval(&d, 2048, 32, &f);
    assert_false(f.fits);
    assert_non_null(strstr(f.reason, "weights need"));
}

static void test_gqa_tp_kv_split(void **state)
{
    (void)state;
    static sim_model m;
    static sim_hw hw;
    load(&m, &hw, "llama3.1-70b", "h100-sxm");
    sim_deploy d;
    sim_deploy_defaults(&d, &m, &hw);
    d.gpus = d.tp = 4;
    sim_memfit f;
    sim_memfit_eval(&d, 1000, 1, &f);
    /* 80 layers x 2 (K,V) x 8 KV heads x 128 x 2 bytes = 327,680 bytes per token, split over
     * TP 4 (2 KV heads each): 81,920 */
    assert_close(f.kv_bytes_per_token, 80 * 2 * 8 * 128 * 2.0 / 4, 1e-12);
    /* TP 16 > 8 KV heads: each device keeps one head (replicated): 80 x 2 x 128 x 2 */
    d.gpus = d.tp = 16;
    sim_memfit_eval(&d, 1000, 1, &f);
    assert_close(f.kv_bytes_per_token, 80 * 2 * 1 * 128 * 2.0, 1e-12);
}

static void test_spill_to_slower_tier(void **state)
{
    (void)state;
    static sim_model m;
    static sim_hw hw;
    load(&m, &hw, "qwen3-30b-a3b", "rpi5");
    sim_deploy d;
    sim_deploy_defaults(&d, &m, &hw);
    sim_deploy_set_precision(&d, SIM_WF_INT4);
    sim_memfit f;
    sim_memfit_eval(&d, 1280, 1, &f);
    /* 30.5B parameters at ~0.52 bytes do not fit in 16 GB x 0.9: experts spill to the
     * NVMe tier the Pi's hwmodel allows (llama.cpp mmap), and the step reads them there. */
    assert_true(f.fits);
    assert_true(f.tiers_used == 2);
    assert_true(f.expert_frac[1] > 0 && f.expert_frac[1] < 1);
    assert_close(f.expert_frac[0] + f.expert_frac[1], 1.0, 1e-9);
    sim_step_result s;
    sim_step_shape shape = { .decode_seqs = 1, .decode_ctx = 1280 };
    sim_err err = { 0 };
    assert_int_equal(sim_step_eval(&d, &f, &shape, &s, &err), SIM_OK);
    assert_true(s.slow_tier_bytes > 0);
}

static void test_decode_roofline_bound(void **state)
{
    (void)state;
    static sim_model m;
    static sim_hw hw;
    load(&m, &hw, "llama3.1-8b", "h100-sxm");
    sim_deploy d;
    sim_deploy_defaults(&d, &m, &hw);
    sim_step_result s;
    sim_memfit f;
    sim_err err = { 0 };
    assert_int_equal(sim_phase_eval(&d, false, 1, 1024, &s, &f, &err), SIM_OK);
    /* Batch-1 decode reads every weight once: 8.03e9 parameters x 2 bytes at 3.35 TB/s is
     * 4.8 ms at full bandwidth. The step can be no faster, and with the memory efficiency,
     * kernel and step fixed costs it stays within 1.6x of it. */
    sim_param_counts pc;
    sim_model_params(&m, &pc);
    double floor_s = pc.total * 2 / 3.35e12;
    assert_true(s.time_s > floor_s);
    assert_true(s.time_s < 1.6 * floor_s);
    assert_int_equal(s.bound, SIM_BOUND_MEMORY);
}

static void test_parallelism_errors(void **state)
{
    (void)state;
    static sim_model m;
    static sim_hw hw;
    load(&m, &hw, "deepseek-v3", "h200");
    sim_deploy d;
    sim_err err = { 0 };
    sim_deploy_defaults(&d, &m, &hw);
    d.gpus = 8, d.tp = 2, d.dp = 2, d.ep = 4;
    assert_int_equal(sim_deploy_check(&d, &err), SIM_EINPUT);
    assert_non_null(strstr(err.msg, "tp x dp x pp must equal gpus"));
    d.gpus = 6, d.tp = 1, d.dp = 6, d.ep = 6;
    assert_int_equal(sim_deploy_check(&d, &err), SIM_EINPUT);
    assert_non_null(strstr(err.msg, "ep (6) must divide the expert slots"));
    d.gpus = 3, d.tp = 3, d.dp = 1, d.ep = 1;
    assert_int_equal(sim_deploy_check(&d, &err), SIM_EINPUT);
    assert_non_null(strstr(err.msg, "tp (3) must divide the attention heads"));
    /* degrees whose int product wraps (65536 x 65536 = 2^32 -> 0) are refused, not divided by
     * (issue 12: this was a SIGFPE) */
    d.gpus = 8, d.tp = 65536, d.dp = 65536, d.pp = 1, d.ep = 1;
    assert_int_equal(sim_deploy_check(&d, &err), SIM_EINPUT);
    assert_non_null(strstr(err.msg, "65536 x 65536 x 1 = 4294967296, gpus = 8"));
    sim_deploy_defaults(&d, &m, &hw);
    const sim_split_req huge = { .tp = 65536, .dp = 65536 };
    assert_int_equal(sim_deploy_split(&d, &huge, "", &err), SIM_EINPUT);
    assert_non_null(strstr(err.msg, "parallel degrees too large"));
    const sim_split_req derived = { .gpus = 8, .dp = 8 }; /* tp from gpus, ep over the stage */
    assert_int_equal(sim_deploy_split(&d, &derived, "", &err), SIM_OK);
    assert_true(d.gpus == 8 && d.tp == 1 && d.dp == 8 && d.pp == 1 && d.ep == 8);
    sim_deploy_defaults(&d, &m, &hw);
    /* EP72 works with 32 redundant slots: 288 = 72 x 4 */
    static sim_hw nvl;
    load(&m, &nvl, "deepseek-v3", "gb200-nvl72");
    sim_deploy_defaults(&d, &m, &nvl);
    d.gpus = 72, d.tp = 1, d.dp = 72, d.ep = 72, d.redundant_experts = 32, d.eplb = true;
    assert_int_equal(sim_deploy_check(&d, &err), SIM_OK);
    /* EPLB's batch drift: the sourced default until set; only with EPLB, only a sigma in [0, 2],
     * and a refused value leaves the deployment as it was */
    assert_true(d.eplb_drift == SIM_ROUTING_EPLB_DRIFT && !d.eplb_drift_given);
    assert_int_equal(sim_deploy_set_eplb_drift(&d, 2.5, &err), SIM_EINPUT);
    assert_non_null(strstr(err.msg, "in [0, 2] (got 2.5"));
    assert_int_equal(sim_deploy_set_eplb_drift(&d, -0.1, &err), SIM_EINPUT);
    assert_int_equal(sim_deploy_set_eplb_drift(&d, NAN, &err), SIM_EINPUT);
    assert_true(d.eplb_drift == SIM_ROUTING_EPLB_DRIFT && !d.eplb_drift_given);
    assert_int_equal(sim_deploy_set_eplb_drift(&d, 0, &err), SIM_OK);
    assert_true(d.eplb_drift == 0 && d.eplb_drift_given);
    sim_deploy plain;
    sim_deploy_defaults(&plain, &m, &nvl);
    assert_int_equal(sim_deploy_set_eplb_drift(&plain, 0.2, &err), SIM_EINPUT);
    assert_non_null(strstr(err.msg, "needs EPLB"));
    assert_true(plain.eplb_drift == SIM_ROUTING_EPLB_DRIFT && !plain.eplb_drift_given);
    /* a laptop has no network: two of them cannot form one deployment */
    static sim_hw lap;
    load(&m, &lap, "qwen3-30b-a3b", "laptop-ddr5");
    sim_deploy_defaults(&d, &m, &lap);
    d.gpus = 2, d.tp = 2, d.ep = 2;
    assert_int_equal(sim_deploy_check(&d, &err), SIM_EINPUT);
    assert_non_null(strstr(err.msg, "no network"));
}

/* --precision means every weight (issue 14): experts and dense weights alike, and a dense
 * model quantizes whole; the head follows at INT8 beside 4-bit weights. */
static void test_precision_means_every_weight(void **state)
{
    (void)state;
    static sim_model m, dense;
    static sim_hw hw;
    load(&m, &hw, "qwen3-30b-a3b", "laptop-ddr5");
    sim_deploy d;
    sim_deploy_defaults(&d, &m, &hw);
    sim_deploy_set_precision(&d, SIM_WF_INT4);
    assert_int_equal(d.expert_fmt, SIM_WF_INT4);
    assert_int_equal(d.dense_fmt, SIM_WF_INT4);
    assert_int_equal(sim_deploy_head_fmt(&d), SIM_WF_INT8);
    sim_deploy_set_precision(&d, SIM_WF_FP8);
    assert_int_equal(d.dense_fmt, SIM_WF_FP8);
    assert_int_equal(sim_deploy_head_fmt(&d), SIM_WF_BF16); /* serving stacks keep lm_head in BF16 */

    /* Llama 3.1 70B at int4: 70.6e9 weights; everything but the embeddings and head (2 x 128256
     * x 8192 = 2.10e9, INT8) at int4's bytes per weight */
    sim_hw mac;
    load(&dense, &mac, "llama3.1-70b", "m4-max");
    sim_deploy_defaults(&d, &dense, &mac);
    sim_deploy_set_precision(&d, SIM_WF_INT4);
    sim_memfit f;
    sim_memfit_eval(&d, 1024, 1, &f);
    sim_param_counts pc;
    sim_model_params(&dense, &pc);
    double head = (pc.embedding + pc.lm_head) * sim_wformat_bytes(SIM_WF_INT8);
    double body = (pc.total - pc.embedding - pc.lm_head - pc.norms) * sim_wformat_bytes(SIM_WF_INT4);
    assert_close(f.weight_bytes, head + body + pc.norms * 2.0, 0.01);
    assert_true(f.weight_bytes < 45e9); /* not the 141 GB of BF16 dense weights */
}

/* With no precision asked for, a deployment runs what the checkpoint holds, tensor class by
 * tensor class (issue 17): gpt-oss's MXFP4 experts beside BF16 attention and head; a card's
 * head format is used as it stands until a precision is asked for, and again with
 * --dense-precision native. */
static void test_default_precision_is_the_checkpoints(void **state)
{
    (void)state;
    static sim_model m;
    static sim_hw hw;
    load(&m, &hw, "gpt-oss-120b", "h200");
    sim_deploy d;
    sim_deploy_defaults(&d, &m, &hw);
    assert_int_equal(d.expert_fmt, SIM_WF_MXFP4);
    assert_int_equal(d.dense_fmt, SIM_WF_BF16);
    assert_int_equal(sim_deploy_head_fmt(&d), SIM_WF_BF16);

    m.native_head = SIM_WF_FP8; /* a checkpoint whose head is FP8: the default follows the card */
    sim_deploy_defaults(&d, &m, &hw);
    assert_int_equal(sim_deploy_head_fmt(&d), SIM_WF_FP8);
    sim_deploy_set_precision(&d, SIM_WF_INT4); /* every weight: the head by the serving rule */
    assert_int_equal(sim_deploy_head_fmt(&d), SIM_WF_INT8);
    sim_deploy_set_native_dense(&d);
    assert_int_equal(d.expert_fmt, SIM_WF_INT4);
    assert_int_equal(d.dense_fmt, SIM_WF_BF16);
    assert_int_equal(sim_deploy_head_fmt(&d), SIM_WF_FP8);
    sim_deploy_set_dense_precision(&d, SIM_WF_FP8);
    assert_int_equal(sim_deploy_head_fmt(&d), SIM_WF_BF16);
}

/* Shared experts at their own precision (issue 17): Kimi K2 Thinking's checkpoint quantizes
 * only the routed experts to INT4 (group 32), its shared expert stays BF16. By hand, on 8 x
 * H200 at TP 8 (EP 1, so every expert is split 8 ways): the shared expert is 60 MoE layers x
 * 3 x 7168 x 2048 = 2,642,411,520 weights, 660,602,880 bytes a GPU at BF16; the routed ones
 * 60 x 384 x 44,040,192 = 1,014,686,023,680 weights, 126,835,752,960 a GPU at 0.5625 bytes =
 * 71,345,111,040 bytes. Counted at int4_g32 (the card's one format before, and --precision
 * int4_g32 now) the shared expert is 2,642,411,520 x 0.5625 / 8 = 185,794,560 bytes a GPU:
 * 474,808,320 bytes (0.47 GB) a GPU, 3.80 GB in all, less. A decode step reads each weight
 * once, so its bytes move by the same amount. */
/* Two-batch overlap, DeepEP's schedule: four segments per layer, each the longer of one
 * part of one micro-batch's work and one phase of the other's exchange. */
static void test_tbo_layer_segments(void **state)
{
    (void)state;
    /* attention 3, MoE 1, dispatch 1, combine 3 (ms):
     * [attn 3 | disp 1] 3 + [moe 1 | disp 1] 1 + [moe 1 | comb 3] 3 + [attn 3 | comb 3] 3 = 10.
     * Work (2 x 4) and exchange (2 x 4) are equal, yet the combine outlasts the MoE part it
     * hides behind: 2 ms show, where pooling the whole layer against the whole exchange
     * (2 max(4, 4) = 8) would hide all of it. */
    assert_close(sim_step_tbo_layer_s(3e-3, 1e-3, 1e-3, 3e-3, 1), 10e-3, 1e-12);
    /* no exchange: both micro-batches' work, 2 x (3 + 2) = 10 */
    assert_close(sim_step_tbo_layer_s(3e-3, 2e-3, 0, 0, 1), 10e-3, 1e-12);
    /* no work: both exchanges, 2 x (1 + 2) = 6 */
    assert_close(sim_step_tbo_layer_s(0, 0, 1e-3, 2e-3, 1), 6e-3, 1e-12);
    /* each phase shorter than the part it hides behind: the work alone, 2 x (4 + 3) = 14 */
    assert_close(sim_step_tbo_layer_s(4e-3, 3e-3, 2e-3, 2.5e-3, 1), 14e-3, 1e-12);
    /* exchange-bound: attention 2, MoE 1, dispatch 3, combine 4:
     * max(2,3) + max(1,3) + max(1,4) + max(2,4) = 3 + 3 + 4 + 4 = 14 = 2 x (3 + 4) */
    assert_close(sim_step_tbo_layer_s(2e-3, 1e-3, 3e-3, 4e-3, 1), 14e-3, 1e-12);
    /* an exchange that takes a quarter of the SMs (share 0.75): attention 3, MoE 2,
     * dispatch 2, combine 2:
     *   [attn 3 | disp 2]: 3 > 0.75 x 2 = 1.5, so 3 + 0.25 x 2 = 3.5
     *   [moe 2 | disp 2]:  2 > 1.5, so 2 + 0.5 = 2.5; [moe 2 | comb 2] 2.5; [attn 3 | comb 2] 3.5
     * = 12, against 2 x (3 + 2) = 10 with every SM left to the work. */
    assert_close(sim_step_tbo_layer_s(3e-3, 2e-3, 2e-3, 2e-3, 0.75), 12e-3, 1e-12);
    /* work no longer than share x exchange ends with the exchange: attention 1, MoE 1,
     * dispatch 2, combine 4, share 0.5: 2 + 2 + 4 + 4 = 12 = 2 x (2 + 4) */
    assert_close(sim_step_tbo_layer_s(1e-3, 1e-3, 2e-3, 4e-3, 0.5), 12e-3, 1e-12);
    /* a share outside (0, 1] is no share taken */
    assert_close(sim_step_tbo_layer_s(3e-3, 2e-3, 2e-3, 2e-3, 0), 10e-3, 1e-12);
}

static void test_shared_experts_own_precision(void **state)
{
    (void)state;
    static sim_model m;
    static sim_hw hw;
    load(&m, &hw, "kimi-k2-thinking", "h200");
    sim_deploy d;
    sim_deploy_defaults(&d, &m, &hw);
    d.gpus = d.tp = 8;
    d.ep = 1;
    sim_err err = { 0 };
    if (sim_deploy_check(&d, &err))
        fail_msg("%s", err.msg);
    assert_int_equal(d.expert_fmt, SIM_WF_INT4_G32);
    assert_int_equal(d.shared_fmt, SIM_WF_BF16);
    sim_wmix w[SIM_WCLASS_COUNT];
    sim_deploy_weight_mix(&d, w);
    assert_close(w[SIM_WCLASS_SHARED].total, 2642411520.0, 1e-12);
    assert_close(w[SIM_WCLASS_SHARED].elems[SIM_WF_BF16], 2642411520.0, 1e-12);
    assert_close(w[SIM_WCLASS_EXPERTS].elems[SIM_WF_INT4_G32], 1014686023680.0, 1e-12);

    sim_memfit after, before;
    sim_memfit_eval(&d, 1024, 1, &after);
    assert_close(after.shared_weight_bytes, 660602880.0, 1e-12);
    assert_close(after.expert_weight_bytes, 71345111040.0 + 660602880.0, 1e-12);

    sim_deploy all4 = d; /* the shared expert counted in the routed experts' format */
    all4.shared_fmt = all4.expert_fmt;
    sim_memfit_eval(&all4, 1024, 1, &before);
    assert_close(before.shared_weight_bytes, 185794560.0, 1e-12);
    assert_close(after.weight_bytes - before.weight_bytes, 474808320.0, 1e-9);

    /* --precision P is every weight: the shared expert follows it */
    sim_deploy p = d;
    sim_deploy_set_precision(&p, SIM_WF_INT4_G32);
    assert_int_equal(p.shared_fmt, SIM_WF_INT4_G32);
    sim_memfit fp;
    sim_memfit_eval(&p, 1024, 1, &fp);
    assert_close(fp.expert_weight_bytes, before.expert_weight_bytes, 1e-12);

    /* the decode step reads the BF16 shared expert: its bytes grow by the same 474,808,320 */
    sim_step_shape s = { .decode_seqs = 1, .decode_ctx = 1024 };
    sim_step_result ra, rb;
    if (sim_step_eval(&d, &after, &s, &ra, &err) || sim_step_eval(&all4, &before, &s, &rb, &err))
        fail_msg("%s", err.msg);
    assert_close(ra.bytes - rb.bytes, 474808320.0, 1e-6);
    assert_true(ra.by_kind_s[SIM_LK_SHARED] > rb.by_kind_s[SIM_LK_SHARED]);
}

/* Hot weights first (issue 14): when weights exceed the fast tier, what every token reads
 * stays there and the routed experts spill. */
static void test_hot_weights_stay_in_fast_memory(void **state)
{
    (void)state;
    static sim_model m;
    static sim_hw pi;
    load(&m, &pi, "qwen3-30b-a3b", "rpi5");
    sim_deploy d;
    sim_deploy_defaults(&d, &m, &pi);
    sim_deploy_set_precision(&d, SIM_WF_INT4);
    sim_memfit f;
    sim_memfit_eval(&d, 1280, 1, &f);
    assert_true(f.fits);
    assert_true(f.weight_bytes > f.usable_bytes); /* it does not all fit in RAM */
    assert_close(f.other_frac[0], 1.0, 1e-12);    /* attention, router, head: all in RAM */
    assert_true(f.expert_frac[0] > 0.5 && f.expert_frac[0] < 1.0);
    assert_close(f.expert_frac[0] + f.expert_frac[1], 1.0, 1e-9);
    /* the RAM the experts got is what the rest left: usable - workspace - KV - other */
    double ram_for_experts = f.usable_bytes - f.workspace_bytes - f.kv_bytes_per_seq - f.other_weight_bytes;
    assert_close(f.expert_frac[0] * f.expert_weight_bytes, ram_for_experts, 1e-6);
}

/* The page cache (issue 14): the Pi's SSD holds an mmap'd file (page_cache), so the routed
 * experts that do not fit are read on misses of an LRU cache of the resident slots, which
 * under a skewed law hit more than the resident share; as a static placement (page_cache
 * false) the spilled share is read in proportion, as before. */
static void test_paged_experts(void **state)
{
    (void)state;
    static sim_model m;
    static sim_hw pi;
    load(&m, &pi, "qwen3-30b-a3b", "rpi5");
    assert_true(pi.tiers[1].page_cache);
    sim_deploy d;
    sim_deploy_defaults(&d, &m, &pi);
    sim_deploy_set_precision(&d, SIM_WF_INT4);
    sim_memfit f;
    sim_memfit_eval(&d, 1280, 1, &f);
    assert_int_equal(f.paged_tier, 1);
    assert_close(f.resident_experts, f.routed_frac[0] * m.ffn.experts, 1e-9);
    sim_step_shape sh = {.decode_seqs = 1, .decode_ctx = 1024};
    sim_step_result s;
    sim_err err;
    assert_int_equal(sim_step_eval(&d, &f, &sh, &s, &err), SIM_OK);
    assert_int_equal(s.page_tier, 1);
    assert_close(s.resident_share, f.routed_frac[0], 1e-9);
    assert_true(s.page_hit_rate > s.resident_share && s.page_hit_rate < s.pinned_hit_rate);
    assert_close(s.tier_weight_bytes[1], s.slow_tier_bytes, 1e-6);
    assert_close(s.tokens, 1, 1e-12);

    pi.tiers[1].page_cache = false;
    sim_memfit g;
    sim_memfit_eval(&d, 1280, 1, &g);
    assert_int_equal(g.paged_tier, -1);
    sim_step_result t;
    assert_int_equal(sim_step_eval(&d, &g, &sh, &t, &err), SIM_OK);
    assert_int_equal(t.page_tier, 0);
    /* proportional reading takes more from the SSD than the page cache's misses */
    assert_true(t.slow_tier_bytes > s.slow_tier_bytes);
}

static void test_cost(void **state)
{
    (void)state;
    static sim_model m;
    static sim_hw hw;
    load(&m, &hw, "deepseek-v3", "h200");
    sim_cost_opts o;
    sim_cost_defaults(&o);
    const char *mode;
    /* rent: 8 GPUs x the hwmodel's $/GPU-hour */
    assert_close(sim_cost_usd_per_hour(&hw, 8, &o, &mode), 8 * hw.usd_per_hour, 1e-12);
    assert_string_equal(mode, "rent");
    /* $ per million tokens: $11.28/h at 1000 tokens/s = 11.28 / 3.6e6 * 1e6 = 3.1333 */
    assert_close(sim_cost_usd_per_mtok(11.28, 1000), 11.28 / 3.6, 1e-12);
    /* owned: purchase over lifetime hours + (device + host) kW x PUE 1.3 x $0.10/kWh */
    o.owned = true;
    double expect = 8 * (hw.purchase_usd / (hw.lifetime_years * 8760) +
                         (hw.power_w + hw.host_power_w) / 1000 * 1.3 * 0.10);
    assert_close(sim_cost_usd_per_hour(&hw, 8, &o, &mode), expect, 1e-12);
    assert_string_equal(mode, "own");
}

static void test_poisson_max(void **state)
{
    (void)state;
    assert_close(sim_poisson_expected_max(2.5, 1), 2.5, 1e-12);
    assert_true(sim_poisson_expected_max(0, 8) == 0);
    /* lambda = 0.01 over 8 ranks: P(X >= 1) = 1 - e^-0.01 = 0.00995017; the max is >= 1
     * with probability 1 - (1 - 0.00995017)^8 = 0.0769; >= 2 adds 1 - F(1)^8 where
     * F(1) = e^-0.01 (1 + 0.01) = 0.99995033: 3.97e-4; >= 3 adds 1 - F(2)^8 with
     * F(2) = F(1) + e^-0.01 0.01^2 / 2: 1.3e-6. Sum 0.077282. */
    double p1 = 1 - exp(-0.01), F1 = exp(-0.01) * 1.01, F2 = F1 + exp(-0.01) * 0.0001 / 2;
    double expect = (1 - pow(1 - p1, 8)) + (1 - pow(F1, 8)) + (1 - pow(F2, 8));
    assert_close(sim_poisson_expected_max(0.01, 8), expect, 1e-5);
}

static void test_single_user_tpot_is_decode_step(void **state)
{
    (void)state;
    static sim_model m;
    static sim_hw hw;
    load(&m, &hw, "qwen3-30b-a3b", "h100-sxm");
    sim_deploy d;
    sim_deploy_defaults(&d, &m, &hw);
    sim_serve_opts o;
    sim_serve_defaults(&o);
    o.isl = 1000, o.osl = 200, o.concurrency = 1;
    sim_eval ev;
    sim_err err = { 0 };
    assert_int_equal(sim_serve_eval(&d, &o, &ev, &err), SIM_OK);
    /* One user: no other request's prompt rides along, so TPOT is a batch-1 decode step at
     * the mean context isl + osl/2 = 1100. */
    sim_step_result s;
    sim_memfit f;
    assert_int_equal(sim_phase_eval(&d, false, 1, 1100, &s, &f, &err), SIM_OK);
    assert_close(ev.tpot_s, s.time_s, 1e-9);
    /* Throughput over a request's life: osl tokens in (one prefill chunk + osl decode steps) */
    assert_close(ev.output_tps, 200 / (ev.first.stage_time_s + 200 * s.stage_time_s), 1e-9);
}

/* One user's prompt: a step that carries the chunk routes the chunk's tokens to the experts,
 * not the chunk averaged over the request's life (it read 31 s for a 1,024-token prompt on a
 * Pi where a prefill of that prompt takes ~79 s). The mixed step's experts cost what the
 * prefill phase's do (within 5%), and TTFT is that prefill plus the wait for an iteration. */
static void test_single_user_ttft_is_the_prefill(void **state)
{
    (void)state;
    static sim_model m;
    static sim_hw hw;
    load(&m, &hw, "qwen3-30b-a3b", "h100-sxm");
    sim_deploy d;
    sim_deploy_defaults(&d, &m, &hw);
    sim_serve_opts o;
    sim_serve_defaults(&o);
    o.isl = 1024, o.osl = 256, o.concurrency = 1;
    sim_eval ev;
    sim_err err = { 0 };
    assert_int_equal(sim_serve_eval(&d, &o, &ev, &err), SIM_OK);
    sim_step_result s;
    sim_memfit f;
    assert_int_equal(sim_phase_eval(&d, true, 1, 1024, &s, &f, &err), SIM_OK);
    assert_close(ev.first.by_kind_s[SIM_LK_EXPERTS], s.by_kind_s[SIM_LK_EXPERTS], 0.05);
    /* TTFT adds the wait for an iteration to start and the decoding sequence beside the chunk */
    assert_true(ev.ttft_s >= s.time_s && ev.ttft_s <= 1.25 * s.time_s);
}

/* Verifying k draft tokens: a sequence carries k+1 query tokens. Against k+1 sequences of
 * one token each at the same context, every GEMM, the routing and the LM head see the same
 * rows (same FLOPs), while attention reads one context instead of k+1. */
static void test_verify_reads_context_once(void **state)
{
    (void)state;
    static sim_model m;
    static sim_hw hw;
    load(&m, &hw, "qwen3-30b-a3b", "h100-sxm");
    sim_deploy d;
    sim_deploy_defaults(&d, &m, &hw);
    sim_memfit f;
    sim_memfit_eval(&d, 2000, 4, &f);
    sim_err err = { 0 };
    sim_step_shape four = { .decode_seqs = 4, .decode_ctx = 2000, .group_tokens = 4 };
    sim_step_shape verify = { .decode_seqs = 1, .decode_ctx = 2000, .decode_q = 4, .group_tokens = 4 };
    sim_step_result a, b;
    assert_int_equal(sim_step_eval(&d, &f, &four, &a, &err), SIM_OK);
    assert_int_equal(sim_step_eval(&d, &f, &verify, &b, &err), SIM_OK);
    assert_close(b.flops, a.flops, 1e-12);
    /* KV bytes of one context: GQA K and V rows, 2 x 4 KV heads x 128 x 2 bytes = 2048 bytes
     * per token per layer, 48 layers, 2000 tokens; four sequences read three more. */
    assert_close(a.bytes - b.bytes, 3 * 2000.0 * 2048 * 48, 1e-9);
    assert_true(b.time_s < a.time_s);
    assert_true(b.by_kind_s[SIM_LK_DRAFT] == 0);
}

/* Drafting: each draft token is one pass of the MTP module (one decoder layer, its 2h -> h
 * projection, the LM head) at one row per sequence, booked under mtp_draft and added whole. */
static void test_draft_cost(void **state)
{
    (void)state;
    static sim_model m;
    static sim_hw hw;
    load(&m, &hw, "qwen3-30b-a3b", "h100-sxm");
    sim_deploy d;
    sim_deploy_defaults(&d, &m, &hw);
    sim_memfit f;
    sim_memfit_eval(&d, 2000, 1, &f);
    sim_err err = { 0 };
    sim_step_shape plain = { .decode_seqs = 1, .decode_ctx = 2000, .group_tokens = 1 };
    sim_step_shape verify = { .decode_seqs = 1, .decode_ctx = 2000, .decode_q = 4, .group_tokens = 4 };
    sim_step_shape spec = verify;
    spec.draft_tokens = 3;
    sim_step_result p, v, s;
    assert_int_equal(sim_step_eval(&d, &f, &plain, &p, &err), SIM_OK);
    assert_int_equal(sim_step_eval(&d, &f, &verify, &v, &err), SIM_OK);
    assert_int_equal(sim_step_eval(&d, &f, &spec, &s, &err), SIM_OK);
    double draft = s.by_kind_s[SIM_LK_DRAFT];
    assert_close(s.stage_time_s - v.stage_time_s, draft, 1e-9);
    /* one pass >= one of the 48 (identical, MoE) layers of a batch-1 step plus its LM head;
     * the projection (2 x 2048 x 2048 BF16 = 16.8 MB) adds at most 16.8 MB at a third of
     * 3.35 TB/s and its three kernels */
    double layer = (p.stage_time_s - p.by_kind_s[SIM_LK_LM_HEAD] - p.by_kind_s[SIM_LK_STEP]) / 48;
    double pass_lo = layer + p.by_kind_s[SIM_LK_LM_HEAD];
    double proj_hi = 2.0 * 2048 * 2048 * 2 / (3.35e12 / 3) + 3 * hw.eff.kernel_overhead_s;
    assert_true(draft >= 3 * pass_lo * (1 - 1e-9));
    assert_true(draft <= 3 * (pass_lo + proj_hi));
}

/* Qwen3-30B-A3B on one H100 given one MTP module (its card has none), deployed by default:
 * the speculative-decoding tests' fixture. m and hw must outlive d. */
static void qwen_with_mtp(sim_model *m, sim_hw *hw, sim_deploy *d)
{
    load(m, hw, "qwen3-30b-a3b", "h100-sxm");
    m->mtp_layers = 1;
    sim_deploy_defaults(d, m, hw);
}

/* Speculative decoding in the steady state: one user's TPOT is a verify-and-draft step over
 * the tokens it produces; throughput counts accepted tokens; the bounds are refused. */
static void test_spec_tpot_per_accepted_token(void **state)
{
    (void)state;
    static sim_model m;
    static sim_hw hw;
    sim_deploy d;
    qwen_with_mtp(&m, &hw, &d);
    sim_serve_opts o;
    sim_serve_defaults(&o);
    o.isl = 1000, o.osl = 200, o.concurrency = 1;
    o.spec_tokens = 3, o.spec_accept = 2.5;
    sim_eval ev;
    sim_err err = { 0 };
    assert_int_equal(sim_serve_eval(&d, &o, &ev, &err), SIM_OK);
    sim_memfit f;
    sim_memfit_eval(&d, 1203, 1, &f);
    sim_step_shape sh = { .decode_seqs = 1, .decode_ctx = 1100, .decode_q = 4, .draft_tokens = 3, .group_tokens = 4 };
    sim_step_result s;
    assert_int_equal(sim_step_eval(&d, &f, &sh, &s, &err), SIM_OK);
    assert_close(ev.tpot_s, s.time_s / 2.5, 1e-9);
    assert_close(ev.decode.time_s, s.time_s, 1e-9);
    /* a request: one prefill chunk, then 200 / 2.5 = 80 decode steps */
    assert_close(ev.output_tps, 200 / (ev.first.stage_time_s + 80 * s.stage_time_s), 1e-9);
    o.spec_accept = 4.01;
    assert_int_equal(sim_serve_eval(&d, &o, &ev, &err), SIM_EINPUT);
    o.spec_accept = 0.99;
    assert_int_equal(sim_serve_eval(&d, &o, &ev, &err), SIM_EINPUT);
    o.spec_accept = 2.5;
    m.mtp_layers = 0; /* nothing to draft with */
    assert_int_equal(sim_serve_eval(&d, &o, &ev, &err), SIM_EINPUT);
}

/* One decode phase with speculative decoding (moesim eval --phase decode --spec-tokens k): the
 * step verifies batch x (k+1) rows and drafts k tokens per sequence, the KV holds context + k
 * rows, the MTP module sits beside the weights, and tokens/s count batch x accept per step.
 * A prefill, an acceptance out of range and a model with no drafter are refused; k = 0 is the
 * plain phase. */
static void test_phase_spec_step(void **state)
{
    (void)state;
    static sim_model m;
    static sim_hw hw;
    sim_deploy d;
    qwen_with_mtp(&m, &hw, &d);
    sim_err err = { 0 };
    const sim_phase_spec spec = { 3, 2.5, "a test" };
    sim_phase_result p, plain, zero;
    assert_int_equal(sim_phase_run_spec(&d, false, 8, 1100, &spec, &p, &err), SIM_OK);
    sim_deploy dm = d;
    dm.mtp_loaded = true;
    sim_memfit f;
    sim_memfit_eval(&dm, 1103, 8, &f);
    assert_close(p.mem.total_bytes, f.total_bytes, 1e-12);
    sim_memfit f0;
    sim_memfit_eval(&d, 1100, 8, &f0);
    assert_true(p.mem.weight_bytes > f0.weight_bytes); /* the MTP module's weights */
    sim_step_shape sh = { .decode_seqs = 8, .decode_ctx = 1100, .decode_q = 4, .draft_tokens = 3 };
    sim_step_result s;
    assert_int_equal(sim_step_eval(&d, &f, &sh, &s, &err), SIM_OK);
    assert_close(p.step.time_s, s.time_s, 1e-12);
    assert_close(p.tokens_per_s_per_gpu, 8 * 2.5 * d.dp / s.stage_time_s / d.gpus, 1e-12);
    assert_true(p.draft_s > 0);
    assert_close(p.draft_s, s.by_kind_s[SIM_LK_DRAFT] * d.pp, 1e-12);
    assert_close(p.verify_s + p.draft_s, s.time_s, 1e-12);
    assert_true(p.spec.tokens == 3 && p.spec.accept == 2.5 && strcmp(p.spec.source, "a test") == 0);
    /* more rows per step than one token per sequence, fewer steps per token */
    assert_int_equal(sim_phase_run(&d, false, 8, 1100, &plain, &err), SIM_OK);
    assert_true(p.step.time_s > plain.step.time_s);
    assert_close(plain.tokens_per_s_per_gpu, 8 * d.dp / plain.step.stage_time_s / d.gpus, 1e-12);
    const sim_phase_spec off = { 0, 1, NULL };
    assert_int_equal(sim_phase_run_spec(&d, false, 8, 1100, &off, &zero, &err), SIM_OK);
    assert_true(zero.step.time_s == plain.step.time_s && zero.tokens_per_s_per_gpu == plain.tokens_per_s_per_gpu &&
                zero.spec.tokens == 0 && zero.draft_s == 0);
    /* refusals */
    assert_int_equal(sim_phase_run_spec(&d, true, 8, 1100, &spec, &p, &err), SIM_EINPUT);
    assert_non_null(strstr(err.msg, "decode steps"));
    const sim_phase_spec high = { 3, 4.01, NULL }, low = { 3, 0.99, NULL };
    assert_int_equal(sim_phase_run_spec(&d, false, 8, 1100, &high, &p, &err), SIM_EINPUT);
    assert_int_equal(sim_phase_run_spec(&d, false, 8, 1100, &low, &p, &err), SIM_EINPUT);
    m.mtp_layers = 0; /* nothing to draft with */
    assert_int_equal(sim_phase_run_spec(&d, false, 8, 1100, &spec, &p, &err), SIM_EINPUT);
}

/* A separate draft model: a verify-and-draft step is the verify step plus k decode steps of
 * the draft's own deployment (the target's tp devices) at one row per sequence; memory holds
 * the draft's weights beside the target's and its KV beside the target's KV; a draft with
 * another vocabulary (another tokenizer) is refused. */
static void test_draft_model_step_and_memory(void **state)
{
    (void)state;
    static sim_model m, dm, other;
    static sim_hw hw;
    load(&m, &hw, "llama3.1-70b", "h100-sxm");
    sim_err err = { 0 };
    if (sim_registry_model("llama3.1-8b", &dm, &err) || sim_registry_model("qwen3-30b-a3b", &other, &err))
        fail_msg("%s", err.msg);
    sim_deploy d;
    sim_deploy_defaults(&d, &m, &hw);
    d.gpus = d.tp = 4;
    sim_deploy_set_precision(&d, SIM_WF_FP8);
    sim_memfit plain_fit, fit;
    sim_memfit_eval(&d, 2048, 1, &plain_fit);
    d.draft_model = &dm;
    assert_int_equal(sim_deploy_check(&d, &err), SIM_OK);
    sim_memfit_eval(&d, 2048, 1, &fit);

    sim_deploy dd;
    sim_deploy_draft(&d, &dd);
    assert_int_equal(dd.tp, 4);
    assert_int_equal(dd.gpus, 4);
    assert_int_equal(dd.dense_fmt, SIM_WF_FP8);
    sim_memfit dfit;
    sim_memfit_eval(&dd, 2048, 1, &dfit);
    assert_close(fit.draft_weight_bytes, dfit.weight_bytes, 1e-12);
    assert_close(fit.weight_bytes, plain_fit.weight_bytes + dfit.weight_bytes, 1e-12);
    assert_close(fit.kv_bytes_per_seq, plain_fit.kv_bytes_per_seq + dfit.kv_bytes_per_seq, 1e-12);
    /* the 8B at FP8 over 4 devices: about 8.0e9 / 4 bytes */
    assert_true(fit.draft_weight_bytes > 1.8e9 && fit.draft_weight_bytes < 2.3e9);

    sim_step_shape verify = { .decode_seqs = 8, .decode_ctx = 2048, .decode_q = 4, .group_tokens = 32 };
    sim_step_shape spec = verify;
    spec.draft_tokens = 3;
    sim_step_shape one = { .decode_seqs = 8, .decode_ctx = 2048, .group_tokens = 8 };
    sim_step_result v, s, dstep;
    assert_int_equal(sim_step_eval(&d, &fit, &verify, &v, &err), SIM_OK);
    assert_int_equal(sim_step_eval(&d, &fit, &spec, &s, &err), SIM_OK);
    assert_int_equal(sim_step_eval(&dd, &dfit, &one, &dstep, &err), SIM_OK);
    assert_close(s.by_kind_s[SIM_LK_DRAFT], 3 * dstep.time_s, 1e-9);
    assert_close(s.stage_time_s, v.stage_time_s + 3 * dstep.time_s, 1e-9);

    d.draft_model = &other;
    assert_int_equal(sim_deploy_check(&d, &err), SIM_EINPUT);
    assert_non_null(strstr(err.msg, "draft_model"));
    assert_non_null(strstr(err.msg, "vocabulary"));
}

/* Prefix cache: only (1 - hit) of the prompt is computed, the decode steps are unchanged
 * (their context is the whole prompt), so TTFT falls and TPOT stays. */
static void test_prefix_hit(void **state)
{
    (void)state;
    static sim_model m;
    static sim_hw hw;
    load(&m, &hw, "qwen3-30b-a3b", "h100-sxm");
    sim_deploy d;
    sim_deploy_defaults(&d, &m, &hw);
    sim_serve_opts o;
    sim_serve_defaults(&o);
    o.isl = 1000, o.osl = 200, o.concurrency = 1;
    sim_eval cold, warm;
    sim_err err = { 0 };
    assert_int_equal(sim_serve_eval(&d, &o, &cold, &err), SIM_OK);
    o.prefix_hit = 0.75;
    assert_int_equal(sim_serve_eval(&d, &o, &warm, &err), SIM_OK);
    assert_close(warm.prompt_computed, 250, 1e-12);
    assert_close(cold.prompt_computed, 1000, 1e-12);
    assert_close(warm.decode.time_s, cold.decode.time_s, 1e-12);
    assert_true(warm.ttft_s < cold.ttft_s);
    assert_true(warm.first.flops < cold.first.flops);
    assert_close(warm.input_tps / warm.output_tps, 1000.0 / 200, 1e-12); /* every prompt token is served */
    o.prefix_hit = 1;
    assert_int_equal(sim_serve_eval(&d, &o, &warm, &err), SIM_EINPUT);
}

/* Issue 17: a hybrid model's decode step at context 128 and at 128k differs only by its
 * attention layers' KV reads. Nemotron 3 Nano: 6 attention layers of 2 KV heads x 128, BF16
 * KV (1024 bytes per token per layer); 23 Mamba-2 layers whose state does not grow. */
static void test_hybrid_decode_grows_only_by_attention(void **state)
{
    (void)state;
    static sim_model m;
    static sim_hw hw;
    load(&m, &hw, "nemotron-3-nano", "h200");
    sim_deploy d;
    sim_deploy_defaults(&d, &m, &hw);
    sim_memfit f;
    sim_memfit_eval(&d, 131072, 4, &f);
    sim_err err = { 0 };
    sim_step_shape s_short = { .decode_seqs = 4, .decode_ctx = 128, .group_tokens = 4 };
    sim_step_shape s_long = { .decode_seqs = 4, .decode_ctx = 131072, .group_tokens = 4 };
    sim_step_result a, b;
    assert_int_equal(sim_step_eval(&d, &f, &s_short, &a, &err), SIM_OK);
    assert_int_equal(sim_step_eval(&d, &f, &s_long, &b, &err), SIM_OK);
    double dL = 131072 - 128;
    assert_close(b.bytes - a.bytes, 6 * 1024.0 * dL * 4, 1e-9);
    /* QK^T and PV: 4 x 32 heads x 128 per key, 6 layers, 4 sequences */
    assert_close(b.flops - a.flops, 4.0 * 32 * 128 * dL * 6 * 4, 1e-9);
    for (int k = 0; k < SIM_LK_COUNT; k++)
        if (k != SIM_LK_ATTN_CORE && a.by_kind_s[k] != b.by_kind_s[k])
            fail_msg("%s moved with the context: %g -> %g s", sim_layer_kind_name((sim_layer_kind)k), a.by_kind_s[k],
                     b.by_kind_s[k]);
    assert_true(a.by_kind_s[SIM_LK_SSM] > 0);
    assert_true(b.by_kind_s[SIM_LK_ATTN_CORE] > a.by_kind_s[SIM_LK_ATTN_CORE]);

    /* the same for Qwen3-Next: 12 gated-attention layers of 2 KV heads x 256 (2048 bytes) */
    load(&m, &hw, "qwen3-next-80b-a3b", "h200");
    sim_deploy_defaults(&d, &m, &hw);
    sim_memfit_eval(&d, 131072, 4, &f);
    assert_int_equal(sim_step_eval(&d, &f, &s_short, &a, &err), SIM_OK);
    assert_int_equal(sim_step_eval(&d, &f, &s_long, &b, &err), SIM_OK);
    assert_close(b.bytes - a.bytes, 12 * 2048.0 * dL * 4, 1e-9);
    for (int k = 0; k < SIM_LK_COUNT; k++)
        if (k != SIM_LK_ATTN_CORE)
            assert_true(a.by_kind_s[k] == b.by_kind_s[k]);
}

/* The scan FLOPs per token by hand (formulas in step.c, ssm FLOPs).
 * Nemotron 3 Nano, Mamba-2 SSD: H 64, P 64, N 128, G 8, chunk Q 128:
 *   prefill 2 Q (G N + H P) + 4 H N P + H N P / Q = 2*128*(1024 + 4096) + 4*524288 + 524288/128
 *         = 1310720 + 2097152 + 4096 = 3411968;  decode 5 H P N = 2621440.
 * Qwen3-Next, Gated DeltaNet: H 32 value heads, P 128, N 128, chunk 64:
 *   prefill H (6 N P + Q (6 N + 4 P) + Q^2 / 3) = 32 (98304 + 64*1280 + 4096/3);
 *   decode 7 H P N = 3670016. */
static void test_ssm_scan_flops(void **state)
{
    (void)state;
    static sim_model m;
    static sim_hw hw;
    load(&m, &hw, "nemotron-3-nano", "h200");
    assert_close(sim_step_ssm_scan_flops(&m, 64, 8, true), 3411968.0, 1e-15);
    assert_close(sim_step_ssm_scan_flops(&m, 64, 8, false), 2621440.0, 1e-15);
    load(&m, &hw, "qwen3-next-80b-a3b", "h200");
    assert_close(sim_step_ssm_scan_flops(&m, 32, 16, true), 32 * (98304 + 81920 + 4096.0 / 3), 1e-15);
    assert_close(sim_step_ssm_scan_flops(&m, 32, 16, false), 3670016.0, 1e-15);

    /* a prefill-only step: the 23 Mamba layers add (scan + convolution 2 x 6144 x 4) per token
     * to what the 1024 tokens cost; checked against a step with the scan's chunk doubled, which
     * changes only the 2 Q (G N + H P) + H N P / Q terms */
    load(&m, &hw, "nemotron-3-nano", "h200");
    sim_deploy d;
    sim_deploy_defaults(&d, &m, &hw);
    sim_memfit f;
    sim_memfit_eval(&d, 1024, 1, &f);
    sim_err err = { 0 };
    sim_step_shape p = { .prefill_tokens = 1024, .prefill_ctx = 512, .prefill_seqs = 1, .group_tokens = 1024 };
    sim_step_result a, b;
    assert_int_equal(sim_step_eval(&d, &f, &p, &a, &err), SIM_OK);
    m.hybrid.chunk = 256;
    assert_int_equal(sim_step_eval(&d, &f, &p, &b, &err), SIM_OK);
    double per_tok = 2.0 * 128 * (1024 + 4096) + 524288.0 / 256 - 524288.0 / 128;
    assert_close(b.flops - a.flops, 23 * 1024 * per_tok, 1e-9);
}

/* Memory holds each sequence's state in place of KV in the Mamba layers: 23 layers x (64 x
 * 64 x 128 FP32 scan state + 3 x 6144 BF16 convolution inputs) = 23 x 2134016 bytes, and
 * KV only in the 6 attention layers; TP 2 halves both (heads split). */
static void test_hybrid_state_per_sequence(void **state)
{
    (void)state;
    static sim_model m;
    static sim_hw hw;
    load(&m, &hw, "nemotron-3-nano", "h200");
    sim_deploy d;
    sim_deploy_defaults(&d, &m, &hw);
    sim_memfit f;
    sim_memfit_eval(&d, 1000, 1, &f);
    double state_b = 23 * (524288.0 * 4 + 18432.0 * 2);
    assert_close(f.state_bytes_per_seq, state_b, 1e-12);
    assert_close(f.kv_bytes_per_seq, state_b + 6 * 512.0 * 2 * 1000, 1e-12);
    assert_close(f.kv_bytes_per_token, 6 * 512.0 * 2, 1e-12);
    d.tp = d.gpus = 2;
    sim_memfit_eval(&d, 1000, 1, &f);
    assert_close(f.state_bytes_per_seq, state_b / 2, 1e-12);
}

/* The memory passes between GEMMs that kernel rows leave out (step.c, elementwise_op), by hand:
 * a pass of B bytes takes B / (bandwidth x memory efficiency at B). Per layer at tp 1: the
 * residual add + RMSNorm before each block reads the residual and the block's output and
 * writes the residual (BF16) and the next GEMM's input (1 byte for FP8, 2 for the gate's BF16):
 * (6 + b) T h bytes; a dense SwiGLU FFN's activation reads gate and up (BF16) and writes the
 * down GEMM's input: (4 + b) T inter. A fused-MoE row holds its own activation; under tensor
 * parallelism the norm is fused into the all-reduce; curves fitted end to end hold them all. */
static double pass_s(const sim_hw *hw, double bytes)
{
    return bytes / (hw->tiers[0].bandwidth_Bps * sim_curve_at(hw->eff.memory, bytes));
}

static void test_elementwise_passes(void **state)
{
    (void)state;
    static sim_model m;
    static sim_hw hw;
    sim_err err = { 0 };
    sim_step_result s;
    sim_memfit f;
    const double T = 4 * 1024;

    /* Mixtral FP8 on one H100: TensorRT-LLM's fused-MoE rows, measured projections */
    load(&m, &hw, "mixtral-8x7b", "h100-sxm");
    sim_deploy d;
    sim_deploy_defaults(&d, &m, &hw);
    sim_deploy_set_precision(&d, SIM_WF_FP8);
    assert_int_equal(sim_phase_eval(&d, true, 4, 1024, &s, &f, &err), SIM_OK);
    assert_int_equal(s.basis[SIM_LK_ATTN_PROJ], SIM_BASIS_MEASURED);
    assert_int_equal(s.basis[SIM_LK_EXPERTS], SIM_BASIS_MEASURED);
    double h = m.hidden;
    double want = m.layers * (pass_s(&hw, (6 + 1) * T * h) + pass_s(&hw, (6 + 2) * T * h));
    assert_close(s.by_kind_s[SIM_LK_ELEMENTWISE], want, 1e-9);
    /* tp 2 (EP2 experts): the norms ride in the all-reduce, and the fused row holds the activation */
    d.tp = 2, d.gpus = 2, d.ep = 2;
    assert_int_equal(sim_phase_eval(&d, true, 4, 1024, &s, &f, &err), SIM_OK);
    assert_true(s.by_kind_s[SIM_LK_ELEMENTWISE] == 0);

    /* a dense model on DeepGEMM's FP8 rows: the FFN's activation too */
    load(&m, &hw, "llama3.1-8b", "h100-sxm");
    sim_deploy_defaults(&d, &m, &hw);
    sim_deploy_set_precision(&d, SIM_WF_FP8);
    assert_int_equal(sim_phase_eval(&d, true, 4, 1024, &s, &f, &err), SIM_OK);
    assert_int_equal(s.basis[SIM_LK_DENSE_FFN], SIM_BASIS_MEASURED);
    h = m.hidden;
    double inter = m.ffn.dense_intermediate;
    want = m.layers * (pass_s(&hw, 7 * T * h) + pass_s(&hw, 7 * T * h + (4 + 1) * T * inter));
    assert_close(s.by_kind_s[SIM_LK_ELEMENTWISE], want, 1e-9);

    /* the same model on a device whose GEMMs rest on curves alone: no passes added */
    static sim_hw rtx;
    load(&m, &rtx, "llama3.1-8b", "rtx4090");
    sim_deploy_defaults(&d, &m, &rtx);
    sim_deploy_set_precision(&d, SIM_WF_FP8);
    assert_int_equal(sim_phase_eval(&d, true, 1, 1024, &s, &f, &err), SIM_OK);
    assert_true(s.basis[SIM_LK_DENSE_FFN] != SIM_BASIS_MEASURED);
    assert_true(s.by_kind_s[SIM_LK_ELEMENTWISE] == 0);
}

/* The attention projections as the engines run them: DeepSeek-V3's four MLA GEMMs each at its
 * own shape. The shipped H800 table holds DeepGEMM's README rows for exactly these shapes at
 * M = 4096 (FP8, 1x128 / 128x128 scaling): q_a + kv_a (N 2112, K 7168) 1127 TFLOP/s, q_b
 * (24576 x 1536) 1212, o (7168 x 16384) 1520, all compute-bound, and kv_b (32768 x 512) 775
 * TFLOP/s at 1620 GB/s, memory-bound on the H800 (its share is of the bandwidth, so its time
 * is the GEMM's bytes, FP8 weight with its FP32 scale per 128 x 128 block and BF16 input and
 * output as sim_gemm_time counts them, at 1620 GB/s). A 4,096-token prompt's projections take
 * each GEMM at its own row, and the 9 launches beside the core. */
static void test_attention_projection_parts(void **state)
{
    (void)state;
    static sim_model m;
    static sim_hw hw;
    load(&m, &hw, "deepseek-v3", "h800");
    sim_deploy d;
    sim_deploy_defaults(&d, &m, &hw);
    sim_deploy_set_precision(&d, SIM_WF_FP8);
    sim_memfit fit;
    memset(&fit, 0, sizeof fit);
    fit.fits = true;
    fit.expert_frac[0] = fit.other_frac[0] = 1;
    const double T = 4096, h = 7168;
    sim_step_shape shape = { .prefill_tokens = T, .prefill_ctx = T, .prefill_seqs = 1 };
    sim_step_result r;
    sim_err err = { 0 };
    assert_int_equal(sim_step_eval(&d, &fit, &shape, &r, &err), SIM_OK);
    assert_int_equal(r.basis[SIM_LK_ATTN_PROJ], SIM_BASIS_MEASURED);
    double per_layer = 2 * T * 2112 * h / 1127e12 + 2 * T * 24576 * 1536 / 1212e12 +
                       (32768.0 * 512 * (1 + 4.0 / (128 * 128)) + T * (32768 + 512) * 2) / 1620e9 + 2 * T * h * 16384 / 1520e12 +
                       9 * hw.eff.kernel_overhead_s;
    assert_close(r.by_kind_s[SIM_LK_ATTN_PROJ], m.layers * per_layer, 1e-9);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_gemm_op),
        cmocka_unit_test(test_ring_allreduce),
        cmocka_unit_test(test_alltoall_bytes),
        cmocka_unit_test(test_memory_fit_deepseek_h200),
        cmocka_unit_test(test_gqa_tp_kv_split),
        cmocka_unit_test(test_spill_to_slower_tier),
        cmocka_unit_test(test_decode_roofline_bound),
        cmocka_unit_test(test_parallelism_errors),
        cmocka_unit_test(test_precision_means_every_weight),
        cmocka_unit_test(test_default_precision_is_the_checkpoints),
        cmocka_unit_test(test_hot_weights_stay_in_fast_memory),
        cmocka_unit_test(test_paged_experts),
        cmocka_unit_test(test_cost),
        cmocka_unit_test(test_kernel_switch),
        cmocka_unit_test(test_observed_experts),
        cmocka_unit_test(test_poisson_max),
        cmocka_unit_test(test_single_user_tpot_is_decode_step),
        cmocka_unit_test(test_single_user_ttft_is_the_prefill),
        cmocka_unit_test(test_verify_reads_context_once),
        cmocka_unit_test(test_draft_cost),
        cmocka_unit_test(test_spec_tpot_per_accepted_token),
        cmocka_unit_test(test_phase_spec_step),
        cmocka_unit_test(test_draft_model_step_and_memory),
        cmocka_unit_test(test_prefix_hit),
        cmocka_unit_test(test_hybrid_decode_grows_only_by_attention),
        cmocka_unit_test(test_ssm_scan_flops),
        cmocka_unit_test(test_hybrid_state_per_sequence),
        cmocka_unit_test(test_shared_experts_own_precision),
        cmocka_unit_test(test_tbo_layer_segments),
        cmocka_unit_test(test_elementwise_passes),
        cmocka_unit_test(test_attention_projection_parts),
    };
    return cmocka_run_group_tests_name("formulas", tests, NULL, NULL);
}
