/* test_des_stretch.c: decode-only stretches as one event (issue 20: while every sequence of a
 * pool only decodes and nothing else can happen, n iterations are advanced at once) against
 * one event per iteration (sim_des_opts.per_iteration), over several configurations: long and
 * short outputs, Mixtral on H100s, DeepSeek-V3 with attention DP8 and EP8, a small local
 * device, MTP speculative decoding (des_requests.h, mtp_cases), xPyD pools, KV
 * pressure with preemptions, pipeline stages with small CUDA graphs, a rate near
 * saturation, and an overload with prefix hits (a queue head that does not fit). A stretch moves the clock as the per-iteration path does (one rounded addition
 * per iteration), so every time, latency and percentile, and every scheduling decision, must be
 * equal to the last bit; the counts too (iterations, preemptions, step-model calls, the
 * verdict). What a stretch takes in one piece are the integrals over it (requests in system,
 * the timeline's counts and KV use, the arrival-span bins behind the queue trend and the
 * measured throughput): one product where the per-iteration path sums n terms, so they move
 * by rounding, a relative ~1e-16 per term: they must agree within a relative 1e-9 (seen:
 * 1.1e-13 at most). A stretch one iteration too long or too short, or one that runs past a
 * step-time bucket or a KV transfer, moves a time or a count and fails (seen when injected).
 * Each case where stretches can happen must take fewer events than the per-iteration path,
 * so that stretches are exercised. */
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

static const double TOL = 1e-9;

static double worst; /* the largest relative difference seen, printed per case */

/* Equal within TOL relative (NaN equal to NaN: a figure that cannot be computed is NaN on
 * both paths). */
static void near(double a, double b, const char *what, const char *name)
{
    if (isnan(a) && isnan(b))
        return;
    double d = fabs(a - b), m = fmax(fabs(a), fabs(b));
    if (!(d <= TOL * m))
        fail_msg("%s: %s differs: stretches %.17g, per iteration %.17g (relative %.3g > %g)", name, what, a, b,
                 d / m, TOL);
    double rel = m > 0 ? d / m : 0;
    if (rel > worst)
        worst = rel;
}

/* A time or a latency: equal (NaN equal to NaN). */
static void near_t(double a, double b, const char *what, const char *name)
{
    if (!(a == b || (isnan(a) && isnan(b))))
        fail_msg("%s: %s differs: stretches %.17g, per iteration %.17g", name, what, a, b);
}

static void same(long a, long b, const char *what, const char *name)
{
    if (a != b)
        fail_msg("%s: %s differs: stretches %ld, per iteration %ld", name, what, a, b);
}

static void near_pct(const sim_des_pct *a, const sim_des_pct *b, const char *what, const char *name)
{
    char w[64];
    const double *x = &a->mean, *y = &b->mean;
    const char *part[] = { "mean", "p50", "p90", "p99", "max" };
    for (int i = 0; i < 5; i++) {
        snprintf(w, sizeof w, "%s %s", what, part[i]);
        near_t(x[i], y[i], w, name);
    }
}

/* Simulate `r` with stretches (the default) and one event per iteration; compare. With
 * `stretches` false the case is one where none can happen (speculative decoding whose
 * decoders are walked: B den past CREDIT_CELLS_MAX, des_internal.h). */
static void compare(const char *name, const sim_request *r, long min_iterations, bool stretches)
{
    cli_serve_run run;
    sim_err err = { 0 };
    if (cli_serve_simulate(test_session(), r, false, false, &run, &err))
        fail_msg("%s: %s", name, err.msg);
    assert_false(run.opts.per_iteration);
    sim_des_opts o = run.opts;
    o.per_iteration = true;
    sim_des_result ref;
    if (sim_des_run(&run.deploy, &o, &run.workload, &ref, &err))
        fail_msg("%s: per iteration: %s", name, err.msg);
    sim_des_scale_replicas(&ref, run.replicas);
    const sim_des_result *a = &run.result, *b = &ref;
    assert_int_equal(a->completed, a->requests);
    if (a->iterations < min_iterations)
        fail_msg("%s: %ld iterations, expected at least %ld (the case is too small to test anything)", name,
                 a->iterations, min_iterations);
    if (stretches && !(a->events < b->events))
        fail_msg("%s: %ld events with stretches, %ld per iteration: no stretch happened", name, a->events,
                 b->events);
    if (!stretches)
        same(a->events, b->events, "events", name);
    worst = 0;
    same(a->iterations, b->iterations, "iterations", name);
    same(a->preemptions, b->preemptions, "preemptions", name);
    same(a->step_evals, b->step_evals, "step-model calls", name);
    same(a->step_cache_hits, b->step_cache_hits, "step memo hits", name);
    same(a->verdict, b->verdict, "verdict", name);
    same(a->sustainable, b->sustainable, "sustainable", name);
    near_t(a->end_s, b->end_s, "end time", name);
    near(a->output_tps, b->output_tps, "output tokens/s", name);
    near(a->input_tps, b->input_tps, "input tokens/s", name);
    near(a->goodput_rps, b->goodput_rps, "goodput", name);
    near(a->slo_attainment, b->slo_attainment, "SLO attainment", name);
    near(a->utilization, b->utilization, "utilization", name);
    near(a->prefill_utilization, b->prefill_utilization, "prefill utilization", name);
    near(a->mean_batch, b->mean_batch, "mean batch", name);
    near(a->mean_in_system, b->mean_in_system, "mean in system", name);
    near(a->kv_peak_share, b->kv_peak_share, "KV peak", name);
    near(a->queue_growth, b->queue_growth, "queue growth", name);
    near_pct(&a->ttft, &b->ttft, "TTFT", name);
    near_pct(&a->tpot, &b->tpot, "TPOT", name);
    near_pct(&a->e2e, &b->e2e, "end-to-end", name);
    near_pct(&a->queue, &b->queue, "queue", name);
    assert_int_equal(a->nwindows, b->nwindows);
    for (int i = 0; i < a->nwindows; i++) {
        near(a->windows[i].running, b->windows[i].running, "timeline running", name);
        near(a->windows[i].busy, b->windows[i].busy, "timeline busy", name);
        /* KV use: a share of a window's blocks; compared against the window's full scale, since
         * the stretch's correction is a difference of block-seconds */
        near(a->windows[i].kv_used + 1, b->windows[i].kv_used + 1, "timeline KV use (+1)", name);
    }
    print_message("%-55s %8ld iterations  events %8ld -> %7ld  largest relative difference %.2g\n", name,
                  a->iterations, b->events, a->events, worst);
    sim_des_result_free(&ref);
    cli_serve_run_free(&run);
}

/* Long outputs at a low rate: many iterations between arrivals. */
static void test_long_osl(void **state)
{
    (void)state;
    sim_request r = req("mixtral-8x7b", "h100-sxm", "fp8", 1, 300, 1024, 2048);
    r.gpus = 2;
    compare("Mixtral 8x7B FP8, 2x H100, osl 2048", &r, 20000, true);
}

static void test_short_osl(void **state)
{
    (void)state;
    sim_request r = req("mixtral-8x7b", "h100-sxm", "fp8", 4, 1500, 512, 64);
    r.gpus = 2;
    compare("Mixtral 8x7B FP8, 2x H100, osl 64", &r, 2000, true);
}

static void test_deepseek_ep(void **state)
{
    (void)state;
    sim_request r = req("deepseek-v3", "h200", "fp8", 4, 1500, 1024, 512);
    r.gpus = 8;
    r.dp = 8;
    compare("DeepSeek-V3 FP8, 8x H200, DP8 + EP8, osl 512", &r, 2000, true);
}

/* Near the steady-state model's capacity (about 31 req/s): a queue that the KV cache holds back. */
static void test_near_saturation(void **state)
{
    (void)state;
    sim_request r = req("deepseek-v3", "h200", "fp8", 28, 6000, 1024, 256);
    r.gpus = 8;
    r.dp = 8;
    compare("DeepSeek-V3 FP8, 8x H200, DP8 + EP8, 28 req/s", &r, 1000, true);
}

static void test_local_device(void **state)
{
    (void)state;
    sim_request r = req("qwen3-30b-a3b", "m4-max", "q4_k_m", 0.1, 60, 512, 512);
    compare("Qwen3-30B-A3B Q4_K_M, M4 Max", &r, 2000, true);
}

/* Speculative decoding (MTP): stretches follow each decoder's exact credit wherever the
 * decoders are lazy (des_requests.h, mtp_cases). */
static void test_mtp(void **state)
{
    (void)state;
    mtp_case c[N_MTP_CASES];
    mtp_cases(c);
    for (int i = 0; i < N_MTP_CASES; i++)
        compare(c[i].name, &c[i].r, c[i].min_iterations, c[i].stretches);
}

static void test_xpyd(void **state)
{
    (void)state;
    sim_request r = req("qwen3-30b-a3b", "h100-sxm", "fp8", 4, 800, 2048, 1024);
    r.prefill_gpus = 1;
    r.prefill_instances = 2;
    r.decode_instances = 2;
    compare("Qwen3-30B-A3B FP8, 2P2D on H100, osl 1024", &r, 2000, true);
}

/* Long sequences on a device with little room for KV: stretches end where the free blocks do. */
static void test_kv_pressure(void **state)
{
    (void)state;
    sim_request r = req("qwen3-30b-a3b", "l40s", "fp8", 50, 120, 6000, 3000);
    compare("Qwen3-30B-A3B FP8, L40S, KV pressure", &r, 2000, true);
}

/* Far over capacity with prefix hits: a queue whose head does not fit, so nothing is admitted
 * (the KV peak must count those iterations on both paths). */
static void test_overload(void **state)
{
    (void)state;
    sim_request r = req("glm-4.5-air", "h200", "fp8", 100, 1500, 1024, 256);
    r.prefix_hit = 0.5;
    compare("GLM-4.5-Air FP8, H200, overloaded, 50% prefix hits", &r, 1000, true);
}

/* Pipeline stages, a cap on running sequences, 32-token KV blocks and small CUDA graphs. */
static void test_pp_caps(void **state)
{
    (void)state;
    sim_request r = req("mixtral-8x7b", "h100-sxm", "fp8", 3, 1000, 1024, 512);
    r.gpus = 2;
    r.pp = 2;
    r.max_num_seqs = 48;
    r.max_num_seqs_given = true;
    r.block_size = 32;
    r.block_size_given = true;
    r.cuda_graph_max = 64;
    r.cuda_graph_max_given = true;
    compare("Mixtral 8x7B FP8, 2x H100, PP2, 48 sequences, 32-token blocks", &r, 2000, true);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_long_osl),    cmocka_unit_test(test_short_osl), cmocka_unit_test(test_deepseek_ep),
        cmocka_unit_test(test_near_saturation), cmocka_unit_test(test_local_device), cmocka_unit_test(test_mtp),
        cmocka_unit_test(test_xpyd),        cmocka_unit_test(test_kv_pressure), cmocka_unit_test(test_pp_caps),
        cmocka_unit_test(test_overload),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
