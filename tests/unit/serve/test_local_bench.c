/* test_local_bench.c: llama-bench's tests (sim_local_bench_run) against the steps they are
 * made of, worked out here: a prompt in micro-batches of `ubatch` tokens, each against the cache
 * the earlier ones wrote, tests after `depth` tokens already in the cache, and the sizes refused
 * with the parameter named. */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "deploy/deploy.h"
#include "deploy/memfit.h"
#include "model/registry.h"
#include "serve/serving.h"
#include "step/step.h"

#include "../assert_close.h"

/* gpt-oss-20b in its MXFP4 file on an RTX 4090, one GPU: an MoE prompt whose expert GEMMs see
 * fewer rows in a smaller micro-batch. The model and hwmodel are static: the deployment points
 * into them. */
static sim_deploy gpt_oss_4090(void)
{
    static sim_model m;
    static sim_hw hw;
    sim_err err = { 0 };
    if (sim_registry_model("gpt-oss-20b", &m, &err) || sim_registry_hw("rtx4090", &hw, &err))
        fail_msg("%s", err.msg);
    sim_deploy d;
    sim_deploy_defaults(&d, &m, &hw);
    sim_deploy_set_precision(&d, SIM_WF_MXFP4_MOE);
    return d;
}

/* The stage time of one prefill step of n tokens whose tokens attend to ctx keys on average,
 * with `logits` rows of the LM head, at the fit for a cache of `cached` tokens. */
static double prefill_step(const sim_deploy *d, double n, double ctx, double logits, double cached)
{
    sim_memfit fit;
    sim_step_result st;
    sim_err err = { 0 };
    assert_int_equal(sim_phase_eval(d, true, 1, cached, &st, &fit, &err), SIM_OK);
    sim_step_shape s = { .prefill_tokens = n, .prefill_ctx = ctx, .prefill_seqs = logits };
    assert_int_equal(sim_step_eval(d, &fit, &s, &st, &err), SIM_OK);
    return st.stage_time_s;
}

/* llama-bench's tests on d at pp, ubatch and depth (tg 128), which must succeed. */
static sim_local_bench bench(const sim_deploy *d, int pp, int ubatch, int depth)
{
    sim_local_bench_opts o;
    sim_local_bench_defaults(&o);
    o.pp = pp;
    o.ubatch = ubatch;
    o.depth = depth;
    sim_local_bench b;
    sim_err err = { 0 };
    if (sim_local_bench_run(d, &o, &b, &err) != SIM_OK)
        fail_msg("pp %d, ubatch %d, depth %d: %s", pp, ubatch, depth, err.msg);
    return b;
}

/* llama-bench's defaults are its own: pp512, tg128, -ub 512, -d 0. */
static void test_defaults(void **state)
{
    (void)state;
    sim_local_bench_opts o;
    sim_local_bench_defaults(&o);
    assert_true(o.pp == 512 && o.tg == 128 && o.ubatch == 512 && o.depth == 0);
}

/* A prompt no longer than its micro-batch is one pass: the prefill phase of the whole prompt,
 * bit for bit (what moesim computed for every prompt before micro-batches). */
static void test_one_micro_batch_is_the_prefill_phase(void **state)
{
    (void)state;
    sim_deploy d = gpt_oss_4090();
    const sim_local_bench b = bench(&d, 2048, 2048, 0);
    sim_err err = { 0 };
    sim_phase_result p;
    assert_int_equal(sim_phase_run(&d, true, 1, 2048, &p, &err), SIM_OK);
    assert_int_equal(b.micro_batches, 1);
    assert_true(b.pp_tps == 2048 / p.step.stage_time_s);
}

/* pp 1200 at -ub 512: micro-batches of 512, 512 and 176 tokens after 0, 512 and 1024 in the
 * cache, whose tokens attend to 256, 768 and 1024 + 88 = 1112 keys on average; only the last
 * reads the prompt's logits row; the KV holds 1200 tokens. */
static void test_micro_batches_by_hand(void **state)
{
    (void)state;
    sim_deploy d = gpt_oss_4090();
    const sim_local_bench b = bench(&d, 1200, 512, 0);
    assert_int_equal(b.micro_batches, 3);
    const double t = prefill_step(&d, 512, 256, 0, 1200) + prefill_step(&d, 512, 768, 0, 1200) +
                     prefill_step(&d, 176, 1112, 1, 1200);
    assert_close(b.pp_tps, 1200 / t, 1e-12);
    /* an MoE prompt in smaller micro-batches: fewer rows per expert GEMM, the weights read
     * once per micro-batch, so fewer tokens/s than in one pass */
    assert_true(b.pp_tps < bench(&d, 1200, 1200, 0).pp_tps);
}

/* pp 3000 at -ub 768: llama-bench hands llama_decode chunks of n_batch 2048 tokens, each split
 * into micro-batches and returning its last token's logits: 768, 768, 512 (logits) after 0,
 * 768 and 1536 in the cache, then 768, 184 (logits) after 2048 and 2816. */
static void test_chunks_of_n_batch(void **state)
{
    (void)state;
    sim_deploy d = gpt_oss_4090();
    const sim_local_bench b = bench(&d, 3000, 768, 0);
    assert_int_equal(b.micro_batches, 5);
    const double t = prefill_step(&d, 768, 384, 0, 3000) + prefill_step(&d, 768, 1152, 0, 3000) +
                     prefill_step(&d, 512, 1792, 1, 3000) + prefill_step(&d, 768, 2432, 0, 3000) +
                     prefill_step(&d, 184, 2908, 1, 3000);
    assert_close(b.pp_tps, 3000 / t, 1e-12);
}

/* -d 4096: pp512 attends to 4096 + 256 keys per token on average in one micro-batch; tg128
 * is the decode step at 4096 + 64.5 tokens of context; the cache must hold 4096 + 512. */
static void test_depth(void **state)
{
    (void)state;
    sim_deploy d = gpt_oss_4090();
    const sim_local_bench b = bench(&d, 512, 512, 4096), flat = bench(&d, 512, 512, 0);
    sim_err err = { 0 };
    assert_close(b.pp_tps, 512 / prefill_step(&d, 512, 4096 + 256, 1, 4096 + 512), 1e-12);
    sim_phase_result dec;
    assert_int_equal(sim_phase_run(&d, false, 1, 4096 + 64.5, &dec, &err), SIM_OK);
    assert_close(b.tg_tps, dec.tokens_per_s_per_gpu * d.gpus / d.dp, 1e-12);
    assert_true(b.pp_tps < flat.pp_tps && b.tg_tps < flat.tg_tps);
}

/* Sizes out of range are refused, each naming its parameter and llama-bench's flag. */
static void test_bad_sizes(void **state)
{
    (void)state;
    sim_deploy d = gpt_oss_4090();
    const struct {
        sim_local_bench_opts o;
        const char *says;
    } cases[] = {
        { { 0, 128, 512, 0 }, "pp and tg" },
        { { 512, 128, 0, 0 }, "ubatch (the micro-batch, llama-bench's -ub)" },
        { { 512, 128, 512, -1 }, "depth (tokens already in the cache, llama-bench's -d)" },
        { { 100000, 128, 16, 0 }, "6250 passes; at most 4096 (raise ubatch)" },
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        sim_local_bench b;
        sim_err err = { 0 };
        assert_int_equal(sim_local_bench_run(&d, &cases[i].o, &b, &err), SIM_EINPUT);
        if (!strstr(err.msg, cases[i].says))
            fail_msg("case %zu: '%s' does not say '%s'", i, err.msg, cases[i].says);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_defaults),
        cmocka_unit_test(test_one_micro_batch_is_the_prefill_phase),
        cmocka_unit_test(test_micro_batches_by_hand),
        cmocka_unit_test(test_chunks_of_n_batch),
        cmocka_unit_test(test_depth),
        cmocka_unit_test(test_bad_sizes),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
