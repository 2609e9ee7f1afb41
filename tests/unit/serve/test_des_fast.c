/* test_des_fast.c: the serving simulator's lazy decoders (issue 20: per-rank aggregates in
 * place of walking every running sequence twice an iteration) against the reference walk
 * (sim_des_opts.reference_walk, the path before them), over several configurations: Mixtral
 * on H100s, DeepSeek-V3 with attention DP and EP, a small local device, MTP speculative
 * decoding (nineteen cases, des_requests.h: lazy decoders by position and exact credit), xPyD pools,
 * prefix-cache hits, KV pressure with preemptions, pipeline stages with a sequence cap and
 * other block and graph sizes, and an overloaded rate. The tolerance is zero: both paths make
 * the same scheduling decisions in the same order and sum the same integers, so every figure
 * must be bit-identical (throughput, TTFT / TPOT / end-to-end / queue percentiles, SLO
 * attainment, goodput, iterations, preemptions, step-model calls and memo hits, utilization,
 * KV peak, the verdict). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <math.h>
#include <stdio.h>
#include <string.h>

#include "cli/request.h"
#include "cli/serve_request.h"
#include "serve/des.h"
#include "tests/unit/serve/des_requests.h"

/* Equal, NaN equal to NaN (a figure that cannot be computed is NaN on both paths). */
static void same(double a, double b, const char *what, const char *name)
{
    if (!(a == b || (isnan(a) && isnan(b))))
        fail_msg("%s: %s differs: lazy %.17g, reference walk %.17g", name, what, a, b);
}

static void same_pct(const sim_des_pct *a, const sim_des_pct *b, const char *what, const char *name)
{
    char w[64];
    const double *x = &a->mean, *y = &b->mean;
    const char *part[] = { "mean", "p50", "p90", "p99", "max" };
    for (int i = 0; i < 5; i++) {
        snprintf(w, sizeof w, "%s %s", what, part[i]);
        same(x[i], y[i], w, name);
    }
}

/* Simulate `r` on the lazy path (the default) and on the reference walk; compare. */
static void compare(const char *name, const sim_request *r, long min_iterations, bool preempts)
{
    cli_serve_run run;
    sim_err err = { 0 };
    if (cli_serve_simulate(test_session(), r, false, false, &run, &err))
        fail_msg("%s: %s", name, err.msg);
    assert_false(run.opts.reference_walk);
    sim_des_opts o = run.opts;
    o.per_iteration = true; /* decode-only stretches as one event move figures by rounding (test_des_stretch.c) */
    sim_des_result lazy, ref;
    if (sim_des_run(&run.deploy, &o, &run.workload, &lazy, &err))
        fail_msg("%s: lazy: %s", name, err.msg);
    sim_des_scale_replicas(&lazy, run.replicas);
    o.reference_walk = true;
    if (sim_des_run(&run.deploy, &o, &run.workload, &ref, &err))
        fail_msg("%s: reference walk: %s", name, err.msg);
    sim_des_scale_replicas(&ref, run.replicas);
    const sim_des_result *a = &lazy, *b = &ref;
    assert_int_equal(a->completed, a->requests);
    if (a->iterations < min_iterations)
        fail_msg("%s: %ld iterations, expected at least %ld (the case is too small to test anything)", name,
                 a->iterations, min_iterations);
    if (preempts && a->preemptions == 0)
        fail_msg("%s: no preemption (the case is meant to exercise them)", name);
    same((double)a->iterations, (double)b->iterations, "iterations", name);
    same((double)a->preemptions, (double)b->preemptions, "preemptions", name);
    same((double)a->step_evals, (double)b->step_evals, "step-model calls", name);
    same((double)a->step_cache_hits, (double)b->step_cache_hits, "step memo hits", name);
    same(a->end_s, b->end_s, "end time", name);
    same(a->output_tps, b->output_tps, "output tokens/s", name);
    same(a->input_tps, b->input_tps, "input tokens/s", name);
    same(a->goodput_rps, b->goodput_rps, "goodput", name);
    same(a->slo_attainment, b->slo_attainment, "SLO attainment", name);
    same(a->utilization, b->utilization, "utilization", name);
    same(a->prefill_utilization, b->prefill_utilization, "prefill utilization", name);
    same(a->mean_batch, b->mean_batch, "mean batch", name);
    same(a->mean_in_system, b->mean_in_system, "mean in system", name);
    same(a->kv_peak_share, b->kv_peak_share, "KV peak", name);
    same(a->queue_growth, b->queue_growth, "queue growth", name);
    same((double)a->verdict, (double)b->verdict, "verdict", name);
    same_pct(&a->ttft, &b->ttft, "TTFT", name);
    same_pct(&a->tpot, &b->tpot, "TPOT", name);
    same_pct(&a->e2e, &b->e2e, "end-to-end", name);
    same_pct(&a->queue, &b->queue, "queue", name);
    assert_int_equal(a->nwindows, b->nwindows);
    for (int i = 0; i < a->nwindows; i++) {
        same(a->windows[i].running, b->windows[i].running, "timeline running", name);
        same(a->windows[i].kv_used, b->windows[i].kv_used, "timeline KV use", name);
    }
    sim_des_result_free(&lazy);
    sim_des_result_free(&ref);
    cli_serve_run_free(&run);
}

static void test_mixtral_h100(void **state)
{
    (void)state;
    sim_request r = req("mixtral-8x7b", "h100-sxm", "fp8", 12, 1500, 1024, 256);
    r.gpus = 2;
    compare("Mixtral 8x7B FP8, 2x H100", &r, 2000, false);
}

static void test_deepseek_ep(void **state)
{
    (void)state;
    sim_request r = req("deepseek-v3", "h200", "fp8", 20, 3000, 1024, 256);
    r.gpus = 8;
    r.dp = 8;
    compare("DeepSeek-V3 FP8, 8x H200, DP8 + EP8", &r, 2000, false);
}

static void test_local_device(void **state)
{
    (void)state;
    sim_request r = req("qwen3-30b-a3b", "m4-max", "q4_k_m", 0.3, 150, 512, 128);
    compare("Qwen3-30B-A3B Q4_K_M, M4 Max", &r, 2000, false);
}

/* Speculative decoding (MTP): lazy decoders by position and exact credit (des_requests.h, mtp_cases). */
static void test_mtp(void **state)
{
    (void)state;
    mtp_case c[N_MTP_CASES];
    mtp_cases(c);
    for (int i = 0; i < N_MTP_CASES; i++)
        compare(c[i].name, &c[i].r, c[i].min_iterations, c[i].preempts);
}

/* The acceptance the simulator steps, as an exact fraction (des_internal.h, credit_frac):
 * decimals of up to three places are exact, anything else is rounded to the nearest 1/1000
 * and flagged; without speculative decoding 1/1. */
static void test_credit_fraction(void **state)
{
    (void)state;
    const struct {
        int k;
        double a;
        int num, den;
        bool rounded;
    } c[] = { { 0, 1, 1, 1, false },     { 1, 1.92, 48, 25, false },      { 2, 2.58, 129, 50, false },
              { 3, 2.82, 141, 50, false }, { 1, 1.875, 15, 8, false },      { 3, 4, 4, 1, false },
              { 1, 1.015625, 65, 64, false }, { 2, 2.999, 2999, 1000, false }, { 1, 1.23456, 247, 200, true },
              { 2, 1.0 / 3 + 2, 7, 3, false } };
    for (size_t i = 0; i < sizeof c / sizeof c[0]; i++) {
        sim_request r = req("glm-4.5-air", "h200", "fp8", 2, 20, 256, 64);
        if (c[i].k > 0)
            mtp_spec(&r, c[i].k, c[i].a);
        cli_serve_run run;
        sim_err err = { 0 };
        if (cli_serve_simulate(test_session(), &r, false, false, &run, &err))
            fail_msg("acceptance %g: %s", c[i].a, err.msg);
        if (run.result.spec_num != c[i].num || run.result.spec_den != c[i].den ||
            run.result.spec_rounded != c[i].rounded)
            fail_msg("acceptance %g: simulated %d/%d%s, expected %d/%d%s", c[i].a, run.result.spec_num,
                     run.result.spec_den, run.result.spec_rounded ? " (rounded)" : "", c[i].num, c[i].den,
                     c[i].rounded ? " (rounded)" : "");
        cli_serve_run_free(&run);
    }
}

static void test_xpyd(void **state)
{
    (void)state;
    sim_request r = req("qwen3-30b-a3b", "h100-sxm", "fp8", 20, 1200, 2048, 128);
    r.prefill_gpus = 1;
    r.prefill_instances = 3;
    r.decode_instances = 2;
    compare("Qwen3-30B-A3B FP8, 3P2D on H100", &r, 2000, false);
}

static void test_prefix_hits(void **state)
{
    (void)state;
    sim_request r = req("mixtral-8x7b", "h100-sxm", "fp8", 15, 1500, 2048, 200);
    r.gpus = 2;
    r.prefix_hit = 0.6;
    compare("Mixtral 8x7B FP8, 2x H100, 60% prefix hits", &r, 2000, false);
}

/* Long sequences on a device with little room for KV: preemptions, where the lazy part is
 * flushed into the walk. */
static void test_kv_pressure(void **state)
{
    (void)state;
    sim_request r = req("qwen3-30b-a3b", "l40s", "fp8", 50, 120, 6000, 3000);
    compare("Qwen3-30B-A3B FP8, L40S, KV pressure", &r, 2000, true);
}

/* Pipeline stages, a cap on running sequences, 32-token KV blocks and small CUDA graphs. */
static void test_pp_caps(void **state)
{
    (void)state;
    sim_request r = req("mixtral-8x7b", "h100-sxm", "fp8", 10, 1500, 1024, 256);
    r.gpus = 2;
    r.pp = 2;
    r.max_num_seqs = 48;
    r.max_num_seqs_given = true;
    r.block_size = 32;
    r.block_size_given = true;
    r.cuda_graph_max = 64;
    r.cuda_graph_max_given = true;
    compare("Mixtral 8x7B FP8, 2x H100, PP2, 48 sequences, 32-token blocks", &r, 2000, false);
}

/* Far over capacity: a backlog, admissions every iteration, the KV cache full. */
static void test_overload(void **state)
{
    (void)state;
    sim_request r = req("qwen3-30b-a3b", "h100-sxm", "fp8", 400, 3000, 1024, 256);
    compare("Qwen3-30B-A3B FP8, H100, overloaded", &r, 2000, true);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_mixtral_h100), cmocka_unit_test(test_deepseek_ep), cmocka_unit_test(test_local_device),
        cmocka_unit_test(test_mtp),          cmocka_unit_test(test_credit_fraction), cmocka_unit_test(test_xpyd),        cmocka_unit_test(test_prefix_hits),
        cmocka_unit_test(test_kv_pressure),  cmocka_unit_test(test_pp_caps),      cmocka_unit_test(test_overload),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
