/* test_plan.c: a step plan (sim_step_plan_eval: the deployment's constants resolved once, kernel
 * candidates, answers and routing statistics memoized, each shape's answers replayed from its
 * tape) gives sim_step_eval's result bit for bit, and its slim path (sim_step_plan_time) the same
 * time, across deployments with measured kernel rows (DeepEP's internode ones too), overlap, TP,
 * a hybrid model, a GGUF mix and GGUF mat-vec shares, when shapes that ask different kernel
 * queries are interleaved and repeated, when more shapes come than the plan keeps tapes for, and
 * when a query leaves a shape's tape (issue 20 item 3). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "deploy/deploy.h"
#include "deploy/memfit.h"
#include "model/registry.h"
#include "step/routing.h"
#include "step/step.h"

typedef struct setup {
    const char *model, *hw;
    int gpus, tp, ep;
    sim_wformat prec;
    bool overlap;
} setup;

/* Every figure of the result, compared exactly (doubles as bytes, so -0 and NAN count too). */
static void same_result(const sim_step_result *a, const sim_step_result *b)
{
    const double da[] = { a->time_s, a->stage_time_s, a->compute_s, a->memory_s, a->comm_s, a->overhead_s,
                          a->comm_total_s, a->flops, a->bytes, a->comm_bytes, a->slow_tier_bytes, a->tokens,
                          a->tokens_per_expert, a->experts_touched_per_rank, a->max_tokens_per_rank, a->imbalance,
                          a->imbalance_unbalanced, a->imbalance_placed };
    const double db[] = { b->time_s, b->stage_time_s, b->compute_s, b->memory_s, b->comm_s, b->overhead_s,
                          b->comm_total_s, b->flops, b->bytes, b->comm_bytes, b->slow_tier_bytes, b->tokens,
                          b->tokens_per_expert, b->experts_touched_per_rank, b->max_tokens_per_rank, b->imbalance,
                          b->imbalance_unbalanced, b->imbalance_placed };
    assert_memory_equal(da, db, sizeof da);
    assert_memory_equal(a->by_kind_s, b->by_kind_s, sizeof a->by_kind_s);
    assert_memory_equal(a->tier_weight_bytes, b->tier_weight_bytes, sizeof a->tier_weight_bytes);
    assert_memory_equal(a->basis, b->basis, sizeof a->basis);
    assert_memory_equal(a->basis_source, b->basis_source, sizeof a->basis_source);
    assert_memory_equal(a->basis_held, b->basis_held, sizeof a->basis_held);
    assert_memory_equal(a->basis_matvec, b->basis_matvec, sizeof a->basis_matvec);
    assert_int_equal(a->bound, b->bound);
    assert_int_equal(a->expert_dtype, b->expert_dtype);
    assert_int_equal(a->dense_dtype, b->dense_dtype);
}

/* The setup's deployment and placement (m and hw hold the cards). */
static void deploy_of(const setup *su, sim_model *m, sim_hw *hw, sim_deploy *d, sim_memfit *fit)
{
    sim_err err = { 0 };
    if (sim_registry_model(su->model, m, &err) || sim_registry_hw(su->hw, hw, &err))
        fail_msg("%s", err.msg);
    sim_deploy_defaults(d, m, hw);
    d->gpus = su->gpus, d->tp = su->tp, d->dp = su->gpus / su->tp, d->ep = su->ep;
    if (su->overlap)
        d->overlap = SIM_OVERLAP_TWO_BATCH;
    sim_deploy_set_precision(d, su->prec);
    if (sim_deploy_check(d, &err))
        fail_msg("%s on %s: %s", su->model, su->hw, err.msg);
    sim_memfit_eval(d, 2048, 64, fit);
    d->routing_cache = sim_routing_cache_alloc();
}

/* sim_step_eval, the plan and its slim path agree bit for bit on shape s. */
static void same_three(const sim_deploy *d, const sim_memfit *fit, sim_step_plan *plan, const sim_step_shape *s)
{
    sim_err err = { 0 };
    sim_step_result a, b;
    int ra = sim_step_eval(d, fit, s, &a, &err);
    int rb = sim_step_plan_eval(plan, s, &b, &err);
    assert_int_equal(ra, rb);
    double t = -1;
    assert_int_equal(sim_step_plan_time(plan, s, &t, &err), ra);
    if (ra == 0) {
        same_result(&a, &b);
        assert_memory_equal(&t, &a.time_s, sizeof t); /* the slim path's time, bit for bit */
    }
}

static void check_setup(const setup *su)
{
    static sim_model m;
    static sim_hw hw;
    sim_err err = { 0 };
    sim_deploy d;
    sim_memfit fit;
    deploy_of(su, &m, &hw, &d, &fit);
    sim_step_plan *plan = sim_step_plan_new(&d, &fit, &err);
    assert_non_null(plan);
    const sim_step_shape shapes[] = {
        { .decode_seqs = 1, .decode_ctx = 2048 },
        { .decode_seqs = 64, .decode_ctx = 4096 },
        { .prefill_tokens = 4096, .prefill_seqs = 2, .prefill_ctx = 2048 },
        { .decode_seqs = 17, .decode_ctx = 1000, .decode_q = 3, .draft_tokens = 2 },
        { .prefill_tokens = 512, .prefill_seqs = 1, .prefill_ctx = 8192, .decode_seqs = 32, .decode_ctx = 3000 },
        { .decode_seqs = 200, .decode_ctx = 512, .group_tokens = 1601 },
    };
    int n = sizeof shapes / sizeof *shapes;
    for (int round = 0; round < 3; round++) /* the second and third rounds answer from the memos */
        for (int i = 0; i < n; i++)
            same_three(&d, &fit, plan, &shapes[round == 1 ? n - 1 - i : i]);
    sim_step_result r;
    sim_step_shape bad = { .decode_seqs = -1 };
    assert_int_not_equal(sim_step_plan_eval(plan, &bad, &r, &err), 0);
    sim_step_plan_free(plan);
    sim_routing_cache_free(d.routing_cache);
}

static void test_plan_equals_eval(void **state)
{
    (void)state;
    static const setup setups[] = {
        { "deepseek-v3", "h200", 8, 1, 8, SIM_WF_FP8, false },
        { "deepseek-v3", "h200", 8, 1, 8, SIM_WF_FP8, true },
        { "deepseek-v3", "gb200-nvl72", 8, 2, 8, SIM_WF_NVFP4, false },
        { "mixtral-8x7b", "h200", 8, 2, 8, SIM_WF_BF16, false },
        { "qwen3-next-80b-a3b", "h200", 4, 1, 4, SIM_WF_FP8, false },
        { "qwen3-30b-a3b", "rtx4090", 1, 1, 1, SIM_WF_Q4_K_M, false },
        { "llama3.1-70b", "mi300x", 8, 8, 1, SIM_WF_FP8, false },
        /* DeepEP's internode rows, read by their own byte count (sim_kernel_hit.count: a replayed
         * answer carries it too) */
        { "deepseek-v3", "h100-sxm", 32, 1, 32, SIM_WF_FP8, false },
        /* the per-GGUF-type mat-vec shares at one row (matvec_op) */
        { "qwen3-30b-a3b", "ryzen-7950x", 1, 1, 1, SIM_WF_Q4_K_M, false },
    };
    for (size_t i = 0; i < sizeof setups / sizeof *setups; i++)
        check_setup(&setups[i]);
}

/* More shapes than the plan keeps tapes for (it empties its table and records again), then a
 * query the tape did not record: a shape replayed after the deployment's observed experts per
 * rank changed asks the experts' kernel rows at another x, leaves its tape and answers as
 * sim_step_eval does (a plan is documented for an unchanged deployment; the tape checks
 * each answer's query all the same). */
static void test_plan_tapes(void **state)
{
    (void)state;
    static sim_model m;
    static sim_hw hw;
    static const setup su = { "deepseek-v3", "h200", 8, 1, 8, SIM_WF_FP8, false };
    sim_err err = { 0 };
    sim_deploy d;
    sim_memfit fit;
    deploy_of(&su, &m, &hw, &d, &fit);
    sim_step_plan *plan = sim_step_plan_new(&d, &fit, &err);
    assert_non_null(plan);
    for (int round = 0; round < 2; round++)
        for (int i = 0; i < 300; i++) {
            sim_step_shape s = { .decode_seqs = 1 + i % 150, .decode_ctx = 1024 + 8 * i };
            same_three(&d, &fit, plan, &s);
        }
    sim_step_shape s = { .decode_seqs = 40, .decode_ctx = 2048 };
    same_three(&d, &fit, plan, &s);
    same_three(&d, &fit, plan, &s); /* replayed */
    d.observed_experts = 3;
    same_three(&d, &fit, plan, &s); /* off the tape: the experts' rows at 40 x 8 x 8 / 8 / 3 rows */
    same_three(&d, &fit, plan, &s); /* recorded again, replayed */
    sim_step_plan_free(plan);
    sim_routing_cache_free(d.routing_cache);
}

int main(void)
{
    setenv("MOESIM_CACHE_DIR", "", 1); /* no routing grid files from or into the user's cache */
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_plan_equals_eval),
        cmocka_unit_test(test_plan_tapes),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
