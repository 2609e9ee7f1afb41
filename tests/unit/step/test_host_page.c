/* test_host_page.c: routed experts on the host CPU that exceed its DRAM are paged from its SSD
 * (llama.cpp and ktransformers read the GGUF file through a memory mapping): memfit's resident
 * share by hand, and the CPU experts' decode time against a host with room for them all: the
 * faulted bytes (the LRU misses of sim_routing_pagecache_get) move from DRAM's rate to the SSD's.
 * A host whose SSD cannot hold the rest does not fit, and says which tier and by how much. */
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
#include "serve/serving.h"
#include "step/routing.h"
#include "step/step.h"

#define GB 1e9

static sim_model model;
static sim_hw gpu, host, roomy;

/* DeepSeek-V2-Lite Q4_K_M on an RTX 4090 with a 7950X host whose DRAM is cut to 8 GB: its routed
 * experts (26 MoE layers x 64 x 3 x 2048 x 1408 weights, ~8.4 GB) no longer fit in DRAM's usable
 * 90%. `roomy` is the same host with 1 TB. */
static int setup(void **state)
{
    (void)state;
    sim_err err = { 0 };
    if (sim_registry_model("deepseek-v2-lite", &model, &err) || sim_registry_hw("rtx4090", &gpu, &err) ||
        sim_registry_hw("ryzen-7950x", &host, &err) || sim_registry_hw("ryzen-7950x", &roomy, &err)) {
        fprintf(stderr, "%s\n", err.msg);
        return -1;
    }
    host.tiers[0].capacity_bytes = 8 * GB;
    roomy.tiers[0].capacity_bytes = 1000 * GB;
    return 0;
}

static void close_to(double got, double want, double rel)
{
    if (!(fabs(got - want) <= rel * fabs(want)))
        fail_msg("got %.12g, want %.12g", got, want);
}

static void deploy(sim_deploy *d, const sim_hw *h, sim_cpu_moe_runtime rt)
{
    sim_deploy_defaults(d, &model, &gpu);
    sim_deploy_set_precision(d, SIM_WF_Q4_K_M);
    d->host_cpu = h;
    d->cpu_moe_layers = 1000;
    d->cpu_moe_runtime = rt;
    sim_err err = { 0 };
    const sim_split_req one = { 1, 1, 1, 1, 1 };
    if (sim_deploy_split(d, &one, "", &err) || sim_deploy_check(d, &err))
        fail_msg("%s", err.msg);
}

/* Resident share = usable DRAM / host expert bytes; the misses come from tier 1, the SSD. */
static void test_memfit_pages(void **state)
{
    (void)state;
    sim_deploy d;
    sim_memfit f, r;
    for (int rt = 0; rt < 2; rt++) {
        deploy(&d, &host, (sim_cpu_moe_runtime)rt);
        sim_memfit_eval(&d, 512, 1, &f);
        assert_true(f.fits);
        assert_true(f.host_expert_bytes > 8 * GB);
        assert_int_equal(f.host_paged_tier, 1);
        close_to(f.host_usable_bytes, 0.9 * 8 * GB, 1e-12);
        close_to(f.host_resident_share, 0.9 * 8 * GB / f.host_expert_bytes, 1e-12);
    }
    deploy(&d, &roomy, SIM_CPU_MOE_LLAMACPP);
    sim_memfit_eval(&d, 512, 1, &r);
    assert_true(r.fits);
    assert_int_equal(r.host_paged_tier, 0);
    close_to(r.host_resident_share, 1, 0);
    close_to(r.host_expert_bytes, f.host_expert_bytes, 1e-12);
}

/* One decode token: 6 experts touched per layer, each 3 x 2048 x 1408 weights at the Q4_K_M
 * recipe's bytes. Paged, the misses' bytes are read at the SSD's rate (bandwidth x the host's
 * memory efficiency, as any spill tier) instead of DRAM's; everything else is the same. The
 * DRAM side is memory-bound at one token on a 7950X, so the difference is exactly
 * faulted x (1/ssd - 1/dram) per layer, with dram's efficiency taken at each side's DRAM bytes. */
static void test_decode_reads_misses_from_the_ssd(void **state)
{
    (void)state;
    sim_deploy dp, dr;
    sim_memfit fp, fr;
    sim_step_result sp, sr;
    sim_err err = { 0 };
    deploy(&dp, &host, SIM_CPU_MOE_LLAMACPP);
    deploy(&dr, &roomy, SIM_CPU_MOE_LLAMACPP);
    assert_int_equal(sim_phase_eval(&dp, false, 1, 512, &sp, &fp, &err), SIM_OK);
    assert_int_equal(sim_phase_eval(&dr, false, 1, 512, &sr, &fr, &err), SIM_OK);
    assert_int_equal(sp.host_page_tier, 1);
    assert_string_equal(sp.host_page_tier_name, host.tiers[1].name);
    assert_int_equal(sr.host_page_tier, 0);

    sim_routing_pagecache pc;
    assert_int_equal(sim_routing_pagecache_get(model.ffn.experts, model.ffn.top_k, dp.skew,
                                               fp.host_resident_share * model.ffn.experts, 1, &pc, &err),
                     SIM_OK);
    close_to(sp.host_page_hit_rate, pc.hit_rate, 1e-12);
    double miss = pc.misses_per_step / pc.touched_per_step;
    assert_true(miss > 0 && miss < 1);

    double touched = model.ffn.top_k; /* one token: its k distinct experts */
    double per_expert = 3.0 * model.hidden * model.ffn.expert_intermediate;
    double expert_bytes = fr.host_expert_bytes / (model.ffn.experts * (double)sim_deploy_cpu_moe_layers(&dr));
    double wb = expert_bytes / per_expert; /* bytes per weight of the recipe's expert tensors */
    double bytes = touched * per_expert * wb + 1 * (2.0 * model.hidden + 3.0 * model.ffn.expert_intermediate) * 2;
    double faulted = miss * touched * per_expert * wb;
    double dram = host.tiers[0].bandwidth_Bps, ssd = host.tiers[1].bandwidth_Bps * host.eff.memory.max;
    double t_paged = (bytes - faulted) / (dram * sim_curve_at(host.eff.memory, bytes - faulted)) + faulted / ssd;
    double t_roomy = bytes / (dram * sim_curve_at(host.eff.memory, bytes));
    double layers = sim_deploy_cpu_moe_layers(&dr);
    close_to(sp.by_kind_s[SIM_LK_CPU_EXPERTS] - sr.by_kind_s[SIM_LK_CPU_EXPERTS], layers * (t_paged - t_roomy), 1e-9);
}

/* An SSD too small for the rest: does not fit, naming DRAM's shortfall and the SSD. */
static void test_ssd_too_small(void **state)
{
    (void)state;
    sim_hw tiny = host;
    tiny.tiers[1].capacity_bytes = 1 * GB;
    sim_deploy d;
    sim_memfit f;
    deploy(&d, &tiny, SIM_CPU_MOE_KTRANSFORMERS);
    sim_memfit_eval(&d, 512, 1, &f);
    assert_false(f.fits);
    assert_int_equal(f.host_paged_tier, 0);
    assert_non_null(strstr(f.reason, "host DRAM is short by"));
    assert_non_null(strstr(f.reason, "cannot hold the rest"));
    assert_non_null(strstr(f.reason, tiny.tiers[1].name));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_memfit_pages),
        cmocka_unit_test(test_decode_reads_misses_from_the_ssd),
        cmocka_unit_test(test_ssd_too_small),
    };
    return cmocka_run_group_tests(tests, setup, NULL);
}
