/* test_numa.c: a multi-socket CPU as a deployment uses it (--numa, sim_deploy_numa): the factors
 * each mode gives, worked by hand from the 2 x Xeon 8480+ hwmodel's figures (2 sockets, 614.4 GB/s
 * of DDR5 together, 128 GB/s of UPI each way, 1024 GB), their effect on memory (one socket's
 * capacity, a copy of the weights per socket) and on a memory-bound decode step, the runtimes'
 * defaults, and the refusals. */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "deploy/deploy.h"
#include "deploy/memfit.h"
#include "model/registry.h"
#include "step/step.h"

static sim_model model;
static sim_hw xeon, ryzen, gpu;

static int setup(void **state)
{
    (void)state;
    sim_err err = { 0 };
    if (sim_registry_model("qwen3-30b-a3b", &model, &err) || sim_registry_hw("xeon-8480-2s", &xeon, &err) ||
        sim_registry_hw("ryzen-7950x", &ryzen, &err) || sim_registry_hw("rtx4090", &gpu, &err)) {
        fprintf(stderr, "%s\n", err.msg);
        return -1;
    }
    return 0;
}

static void close_to(double got, double want)
{
    if (!(fabs(got - want) <= 1e-9 * fabs(want)))
        fail_msg("got %.12g, want %.12g", got, want);
}

static void deploy(sim_deploy *d, const sim_hw *hw, sim_numa_mode mode)
{
    sim_deploy_defaults(d, &model, hw);
    sim_deploy_set_precision(d, SIM_WF_Q4_K_M);
    d->numa = mode;
    sim_err err = { 0 };
    const sim_split_req one = { 1, 1, 1, 1, 1 };
    if (sim_deploy_split(d, &one, "", &err) || sim_deploy_check(d, &err))
        fail_msg("%s", err.msg);
}

/* The factors by hand. Interleaved, each socket's threads read half of their bytes from the
 * other socket: B/4 crosses the link each way, so the weights stream at min(614.4, 2^2 x 128) =
 * 512 GB/s, 512 / 614.4 of tier 0; duplicated, every read is local (614.4) with 2 copies; one
 * socket: 307.2 GB/s, half the cores, 512 GB. */
static void test_factors_by_hand(void **state)
{
    (void)state;
    sim_deploy d;
    sim_numa_use u;
    deploy(&d, &xeon, SIM_NUMA_INTERLEAVE);
    sim_deploy_numa(&d, &xeon, &u);
    assert_true(u.active && !u.defaulted && u.link_bound);
    assert_int_equal(u.sockets, 2);
    close_to(u.bw_factor * 614.4e9, 512e9);
    close_to(u.compute_factor, 1);
    close_to(u.weight_copies, 1);
    deploy(&d, &xeon, SIM_NUMA_DUPLICATE);
    sim_deploy_numa(&d, &xeon, &u);
    close_to(u.bw_factor, 1);
    close_to(u.weight_copies, 2);
    close_to(u.capacity_factor, 1);
    deploy(&d, &xeon, SIM_NUMA_SINGLE);
    sim_deploy_numa(&d, &xeon, &u);
    close_to(u.bw_factor * 614.4e9, 307.2e9);
    close_to(u.compute_factor, 0.5);
    close_to(u.capacity_factor * 1024e9, 512e9);
    /* one socket: nothing to do */
    deploy(&d, &ryzen, SIM_NUMA_DEFAULT);
    sim_deploy_numa(&d, &ryzen, &u);
    assert_false(u.active);
    close_to(u.bw_factor, 1);
}

/* Defaults: llama.cpp on the CPU itself runs one socket; beside a GPU, ktransformers duplicates
 * the experts per socket and llama.cpp keeps one socket. */
static void test_runtime_defaults(void **state)
{
    (void)state;
    sim_deploy d;
    sim_numa_use u;
    deploy(&d, &xeon, SIM_NUMA_DEFAULT);
    sim_deploy_numa(&d, &xeon, &u);
    assert_true(u.defaulted);
    assert_int_equal(u.mode, SIM_NUMA_SINGLE);
    assert_string_equal(u.runtime, "llama.cpp");
    sim_deploy_defaults(&d, &model, &gpu);
    d.host_cpu = &xeon;
    d.cpu_moe_layers = 1000;
    d.cpu_moe_runtime = SIM_CPU_MOE_KTRANSFORMERS;
    sim_deploy_numa(&d, &xeon, &u);
    assert_int_equal(u.mode, SIM_NUMA_DUPLICATE);
    assert_string_equal(u.runtime, "ktransformers");
    d.cpu_moe_runtime = SIM_CPU_MOE_LLAMACPP;
    sim_deploy_numa(&d, &xeon, &u);
    assert_int_equal(u.mode, SIM_NUMA_SINGLE);
}

/* Memory: duplicated weights take tier 0 twice; one socket holds half the capacity. */
static void test_memory(void **state)
{
    (void)state;
    sim_deploy d;
    sim_memfit one, two, half;
    deploy(&d, &xeon, SIM_NUMA_INTERLEAVE);
    sim_memfit_eval(&d, 1024, 1, &one);
    deploy(&d, &xeon, SIM_NUMA_DUPLICATE);
    sim_memfit_eval(&d, 1024, 1, &two);
    deploy(&d, &xeon, SIM_NUMA_SINGLE);
    sim_memfit_eval(&d, 1024, 1, &half);
    assert_true(one.fits && two.fits && half.fits);
    close_to(two.numa_copies, 2);
    close_to(two.total_bytes - one.total_bytes, one.weight_bytes); /* the second copy */
    close_to(half.capacity_bytes, 512e9);
    close_to(one.capacity_bytes, 1024e9);
}

/* A decode step of one sequence is memory-bound: its memory time goes as 1 / bandwidth (the
 * memory curve's efficiency depends on the bytes, not the mode): single / duplicate = 2,
 * interleave / duplicate = 614.4 / 512 = 1.2. */
static void test_decode_memory_time(void **state)
{
    (void)state;
    const sim_numa_mode modes[] = { SIM_NUMA_DUPLICATE, SIM_NUMA_INTERLEAVE, SIM_NUMA_SINGLE };
    double mem[3];
    for (int i = 0; i < 3; i++) {
        sim_deploy d;
        deploy(&d, &xeon, modes[i]);
        sim_memfit f;
        sim_memfit_eval(&d, 1024, 1, &f);
        const sim_step_shape s = { .decode_seqs = 1, .decode_ctx = 1024 };
        sim_step_result r;
        sim_err err = { 0 };
        if (sim_step_eval(&d, &f, &s, &r, &err))
            fail_msg("%s", err.msg);
        assert_int_equal(r.bound, SIM_BOUND_MEMORY);
        assert_true(r.compute_s == 0 || r.compute_s < r.memory_s);
        mem[i] = r.memory_s;
    }
    if (!(fabs(mem[2] / mem[0] - 2) < 1e-6))
        fail_msg("single / duplicate memory time %.9g, want 2", mem[2] / mem[0]);
    if (!(fabs(mem[1] / mem[0] - 1.2) < 1e-6))
        fail_msg("interleave / duplicate memory time %.9g, want 1.2", mem[1] / mem[0]);
}

/* --numa on a single-socket device is refused, naming the option. */
static void test_refusals(void **state)
{
    (void)state;
    sim_deploy d;
    sim_deploy_defaults(&d, &model, &ryzen);
    d.numa = SIM_NUMA_DUPLICATE;
    sim_err err = { 0 };
    const sim_split_req one = { 1, 1, 1, 1, 1 };
    assert_int_equal(sim_deploy_split(&d, &one, "", &err), SIM_OK);
    assert_int_equal(sim_deploy_check(&d, &err), SIM_EINPUT);
    assert_non_null(strstr(err.msg, "option 'numa'"));
    assert_non_null(strstr(err.msg, "ryzen-7950x"));
    sim_numa_mode m;
    assert_int_equal(sim_numa_parse("Interleave", &m), 0);
    assert_int_equal(m, SIM_NUMA_INTERLEAVE);
    assert_int_equal(sim_numa_parse("default", &m), -1);
    assert_int_equal(sim_numa_parse("mirror", &m), -1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_factors_by_hand), cmocka_unit_test(test_runtime_defaults),
        cmocka_unit_test(test_memory),          cmocka_unit_test(test_decode_memory_time),
        cmocka_unit_test(test_refusals),
    };
    return cmocka_run_group_tests(tests, setup, NULL);
}
