/* test_hw.c: hardware models: every shipped hwmodel loads, key figures match the spec sheets
 * by hand, curve and peak fallbacks work, and bad files fail with messages naming the field. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include <dirent.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "model/hw.h"
#include "model/registry.h"
#include "base/jsonfile.h"

#ifndef MOESIM_SOURCE_DIR
#define MOESIM_SOURCE_DIR "."
#endif

static const char *const shipped[] = {"rpi5",  "laptop-ddr5", "m4-max", "rtx4090",     "l40s",        "a100-sxm", "h100-sxm",
                                      "h800", "h200",        "b200",   "gb200-nvl72", "gb300-nvl72", "mi300x", "m2-max", "ryzen-7950x", "m2-ultra",
                                      /* issue 14 item 6: devices people own */
                                      "rpi5-8gb", "ryzen-9950x", "m1-max", "m3-max", "m3-ultra", "rtx3090", "rtx5090",
                                      "dgx-spark", "jetson-agx-orin-64gb", "strix-halo", "xeon-8480-2s"};
#define N_SHIPPED (sizeof shipped / sizeof shipped[0])

static const char *home(void)
{
    const char *h = getenv("MOESIM_HOME");
    return h && *h ? h : MOESIM_SOURCE_DIR;
}

static void load_named(const char *name, sim_hw *hw)
{
    char path[1024];
    snprintf(path, sizeof path, "%s/hwmodels/%s.json", home(), name);
    sim_err err = {0};
    int rc = sim_hw_load(hw, path, &err);
    if (rc)
        fail_msg("%s: %s", name, err.msg);
}

static void assert_close(double got, double want)
{
    if (fabs(got - want) > 1e-9 * fabs(want))
        fail_msg("got %.9g, want %.9g", got, want);
}

/* ---- shipped files ------------------------------------------------------------------- */

static void every_shipped_model_loads(void **state)
{
    (void)state;
    for (size_t i = 0; i < N_SHIPPED; i++) {
        sim_hw hw;
        sim_err err = {0};
        /* through the registry, which follows efficiency_from (m2-max takes m4-max's) */
        if (sim_registry_hw(shipped[i], &hw, &err))
            fail_msg("%s: %s", shipped[i], err.msg);
        assert_string_equal(hw.name, shipped[i]);
        assert_true(hw.n_tiers >= 1);
        assert_true(hw.eff.memory.max > 0 && hw.eff.memory.max <= 1);
        assert_string_equal(hw.eff.provenance, "prior");
        /* Every data type got a curve, directly or by fallback. */
        for (int t = 0; t < SIM_DT_COUNT; t++) {
            assert_true(hw.eff.gemm[t].max > 0);
            assert_true(hw.eff.grouped_gemm[t].max > 0);
        }
    }
}

/* No stray file in hwmodels/ escapes the list above untested. */
static void every_json_in_hwmodels_is_listed(void **state)
{
    (void)state;
    char dir[1024];
    snprintf(dir, sizeof dir, "%s/hwmodels", home());
    DIR *d = opendir(dir);
    assert_non_null(d);
    int n = 0;
    for (struct dirent *e; (e = readdir(d));) {
        size_t len = strlen(e->d_name);
        if (len < 6 || strcmp(e->d_name + len - 5, ".json") != 0)
            continue;
        bool listed = false;
        for (size_t i = 0; i < N_SHIPPED; i++)
            listed |= strlen(shipped[i]) == len - 5 && strncmp(shipped[i], e->d_name, len - 5) == 0;
        if (!listed)
            fail_msg("hwmodels/%s is not in the test's list", e->d_name);
        n++;
    }
    closedir(d);
    assert_int_equal(n, (int)N_SHIPPED);
}

static void h100_figures(void **state)
{
    (void)state;
    sim_hw hw;
    load_named("h100-sxm", &hw);
    assert_int_equal(hw.cls, SIM_HW_GPU);
    assert_string_equal(hw.backend, "cuda-graph");
    assert_close(hw.peak_flops[SIM_DT_BF16], 989e12);
    assert_close(hw.peak_flops[SIM_DT_FP8], 1979e12);
    assert_true(hw.peak_flops[SIM_DT_FP4] == 0);
    assert_close(hw.tiers[0].bandwidth_Bps, 3.35e12);
    assert_close(hw.tiers[0].capacity_bytes, 80e9);
    assert_false(hw.tiers[0].spill_default);
    assert_int_equal(hw.scale_up.domain_size, 8);
    assert_close(hw.scale_up.bandwidth_Bps, 450e9);
    assert_close(hw.scale_up.latency_s, 3e-6);
    assert_close(hw.eff.kernel_overhead_s, 2e-6);
    /* half_mb 3.35 MB: Little's law, 3.35 TB/s x 1 us. */
    assert_close(hw.eff.memory.half, 3.35e6);
    /* DC GPUs fuse unpacking into the GEMM. */
    for (int f = 0; f < SIM_WF_COUNT; f++)
        assert_true(hw.eff.dequant_elems_per_s[f] == 0);
    assert_close(hw.power_w + hw.host_power_w, 10200.0 / 8);
}

static void gb200_rack_is_one_domain(void **state)
{
    (void)state;
    sim_hw hw;
    load_named("gb200-nvl72", &hw);
    assert_int_equal(hw.scale_up.domain_size, 72);
    assert_int_equal(hw.devices_per_node, 72);
    assert_int_equal(hw.n_tiers, 2);
    assert_non_null(strstr(hw.tiers[1].name, "Grace"));
    assert_close(hw.peak_flops[SIM_DT_FP4], 10000e12);
}

static void rpi5_peak_by_hand(void **state)
{
    (void)state;
    sim_hw hw;
    load_named("rpi5", &hw);
    assert_int_equal(hw.cls, SIM_HW_CPU);
    /* 4 cores x 2.4 GHz x 16 FLOP/cycle. */
    assert_close(hw.peak_flops[SIM_DT_FP32], 4 * 2.4e9 * 16);
    assert_true(hw.peak_flops[SIM_DT_BF16] == 0); /* Cortex-A76 has no BF16 */
    assert_close(hw.tiers[0].capacity_bytes, 16e9);
    assert_int_equal(hw.scale_up.domain_size, 1);
    assert_true(hw.scale_out.bandwidth_Bps == 0);
    /* The SSD tier takes weights by default (llama.cpp mmap). */
    assert_int_equal(hw.n_tiers, 2);
    assert_true(hw.tiers[1].spill_default);
    assert_true(hw.eff.dequant_elems_per_s[SIM_WF_INT4] > 0);
}

/* The devices of issue 14 item 6: figures by hand from the sources their files name. */
/* Through the registry, which follows efficiency_from. */
static void reg_named(const char *name, sim_hw *hw)
{
    sim_err err = {0};
    if (sim_registry_hw(name, hw, &err))
        fail_msg("%s: %s", name, err.msg);
}

static void owned_devices_by_hand(void **state)
{
    (void)state;
    sim_hw hw;
    sim_err err = {0};
    /* rpi5-16gb is the 16 GB board's alias: the same file, its own name kept */
    if (sim_registry_hw("rpi5-16gb", &hw, &err))
        fail_msg("rpi5-16gb: %s", err.msg);
    assert_string_equal(hw.name, "rpi5");
    assert_close(hw.tiers[0].capacity_bytes, 16e9);
    /* the 8 GB board: same SoC and bus, half the memory, the 16 GB board's priors */
    if (sim_registry_hw("rpi5-8gb", &hw, &err))
        fail_msg("rpi5-8gb: %s", err.msg);
    assert_close(hw.tiers[0].capacity_bytes, 8e9);
    assert_close(hw.tiers[0].bandwidth_Bps, 17.07e9); /* 4267 MT/s x 4 B, rounded as rpi5.json does */
    assert_string_equal(hw.eff.efficiency_from, "rpi5");
    /* Zen 5 desktop: 16 cores x 4.3 GHz x 64 FLOP/cycle; DDR5-6000 x 2 channels x 8 B */
    reg_named("ryzen-9950x", &hw);
    assert_close(hw.peak_flops[SIM_DT_FP32], 4.403e12);
    assert_close(hw.tiers[0].bandwidth_Bps, 96e9);
    /* 2 x Xeon 8480+: 112 cores x 2.0 GHz x 1024 AMX BF16 FLOP/cycle; 2 x 8 x 8 B x 4800 MT/s */
    reg_named("xeon-8480-2s", &hw);
    assert_close(hw.peak_flops[SIM_DT_BF16], 229.4e12);
    assert_close(hw.tiers[0].bandwidth_Bps, 614.4e9);
    assert_int_equal(hw.numa.sockets, 2);
    assert_close(hw.numa.link_Bps, 128e9);
    /* a single-socket file has one socket */
    reg_named("ryzen-7950x", &hw);
    assert_int_equal(hw.numa.sockets, 1);
    /* RTX 5090 and GB10 compute NVFP4 natively, the 3090 only widens it */
    reg_named("rtx5090", &hw);
    assert_int_equal(sim_hw_format_support(&hw, SIM_WF_NVFP4), SIM_FMT_NATIVE);
    assert_close(hw.tiers[0].bandwidth_Bps, 1792e9);
    reg_named("dgx-spark", &hw);
    assert_int_equal(sim_hw_format_support(&hw, SIM_WF_NVFP4), SIM_FMT_NATIVE);
    assert_close(hw.tiers[0].bandwidth_Bps, 273e9);
    reg_named("rtx3090", &hw);
    assert_int_equal(sim_hw_format_support(&hw, SIM_WF_NVFP4), SIM_FMT_WEIGHT_ONLY);
    assert_int_equal(sim_hw_format_support(&hw, SIM_WF_FP8), SIM_FMT_WEIGHT_ONLY);
    /* Apple: 819.2 GB/s on the M3 Ultra; Strix Halo 256-bit x 8000 MT/s */
    reg_named("m3-ultra", &hw);
    assert_close(hw.tiers[0].bandwidth_Bps, 819.2e9);
    reg_named("strix-halo", &hw);
    assert_close(hw.tiers[0].bandwidth_Bps, 32 * 8000e6);
}

static void h200_fp4_falls_back_to_fp8(void **state)
{
    (void)state;
    sim_hw hw;
    load_named("h200", &hw);
    sim_dtype used = SIM_DT_COUNT;
    double p = sim_hw_peak_for(&hw, sim_wformat_compute_chain(SIM_WF_NVFP4), &used);
    assert_int_equal(used, SIM_DT_FP8);
    assert_close(p, 1979e12);
    /* B200 has FP4 itself. */
    load_named("b200", &hw);
    p = sim_hw_peak_for(&hw, sim_wformat_compute_chain(SIM_WF_NVFP4), &used);
    assert_int_equal(used, SIM_DT_FP4);
    assert_close(p, 9000e12);
    /* No type in the chain: 0, and *used untouched. */
    static const int none[] = {-1};
    used = SIM_DT_BF16;
    assert_true(sim_hw_peak_for(&hw, none, &used) == 0);
    assert_int_equal(used, SIM_DT_BF16);
}

static void class_names(void **state)
{
    (void)state;
    assert_string_equal(sim_hw_class_name(SIM_HW_GPU), "gpu");
    assert_string_equal(sim_hw_class_name(SIM_HW_CPU), "cpu");
    assert_string_equal(sim_hw_class_name(SIM_HW_APPLE_GPU), "apple-gpu");
}

/* ---- synthetic files ----------------------------------------------------------------- */

/* A minimal valid model; tests splice one change into it. `%s` marks are filled in order:
 * an extra top-level member, the efficiency block's gemm table. */
static const char *const base_model =
    "{\n"
    "  \"schema\": \"moesim-hwmodel/1\", \"name\": \"t\", \"display_name\": \"T\",\n"
    "  \"class\": \"gpu\", \"backend\": \"cuda-graph\",%s\n"
    "  \"compute\": {\"source\": \"s\", \"tflops\": {\"bf16\": 100, \"fp8\": 200}},\n"
    "  \"memory\": {\"source\": \"s\", \"tiers\": [{\"name\": \"HBM\", \"capacity_gb\": 10, \"bandwidth_gbs\": 1000}]},\n"
    "  \"interconnect\": {\"source\": \"s\", \"devices_per_node\": 1, \"scale_up\": {\"name\": \"none\", \"domain_size\": 1}},\n"
    "  \"power\": {\"source\": \"s\", \"device_w\": 100, \"host_w\": 10},\n"
    "  \"price\": {\"source\": \"s\", \"usd_per_hour\": 1, \"purchase_usd\": 0, \"lifetime_years\": 5},\n"
    "  \"efficiency\": {\"provenance\": \"prior\", \"source\": \"s\",\n"
    "    \"gemm\": %s,\n"
    "    \"grouped_gemm\": {\"bf16\": {\"max\": 0.5, \"half\": 32}},\n"
    "    \"memory\": {\"max\": 0.8, \"half_mb\": 1},\n"
    "    \"attention_decode\": {\"mem_max\": 0.8, \"half_tokens\": 100, \"compute\": 0.5},\n"
    "    \"attention_prefill\": {\"compute\": 0.5},\n"
    "    \"kernel_overhead_us\": 2, \"step_overhead_us\": 100}\n"
    "}\n";
#define GEMM_OK "{\"bf16\": {\"max\": 0.8, \"half\": 64}}"

typedef struct {
    char path[256];
} tmpfile_state;

static int setup_tmp(void **state)
{
    tmpfile_state *t = calloc(1, sizeof *t);
    snprintf(t->path, sizeof t->path, "/tmp/moesim_test_hw_%ld.json", (long)getpid());
    *state = t;
    return 0;
}

static int teardown_tmp(void **state)
{
    tmpfile_state *t = *state;
    unlink(t->path);
    free(t);
    return 0;
}

static void write_text(const char *path, const char *text)
{
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fputs(text, f);
    fclose(f);
}

/* Writes the base model with `extra` (top level) and `gemm`, or with one literal
 * substitution of `from` by `to` in the result, loads it, and returns the status. */
static int load_variant(tmpfile_state *t, const char *extra, const char *gemm, const char *from, const char *to,
                        sim_hw *hw, sim_err *err)
{
    char text[4096], out[4096];
    snprintf(text, sizeof text, base_model, extra, gemm);
    const char *at = from ? strstr(text, from) : NULL;
    if (from && !at)
        fail_msg("test bug: '%s' not in the base model", from);
    if (at)
        snprintf(out, sizeof out, "%.*s%s%s", (int)(at - text), text, to, at + strlen(from));
    else
        snprintf(out, sizeof out, "%s", text);
    write_text(t->path, out);
    memset(err, 0, sizeof *err);
    return sim_hw_load(hw, t->path, err);
}

static void assert_msg_has(const sim_err *err, const char *needle)
{
    if (!strstr(err->msg, needle))
        fail_msg("message '%s' lacks '%s'", err->msg, needle);
}

static void base_model_loads_and_fills_curves(void **state)
{
    tmpfile_state *t = *state;
    sim_hw hw;
    sim_err err;
    assert_int_equal(load_variant(t, "", GEMM_OK, NULL, NULL, &hw, &err), SIM_OK);
    assert_close(hw.peak_flops[SIM_DT_BF16], 100e12);
    assert_close(hw.tiers[0].capacity_bytes, 10e9);
    assert_close(hw.eff.memory.half, 1e6);
    /* Only bf16 given: every other type takes its curve. */
    assert_close(hw.eff.gemm[SIM_DT_FP4].max, 0.8);
    assert_close(hw.eff.gemm[SIM_DT_FP32].half, 64);
    assert_true(hw.eff.link_scale_up == 0);
    /* fp8 given too: fp4 takes fp8's curve, not bf16's. */
    assert_int_equal(load_variant(t, "", "{\"bf16\": {\"max\": 0.8, \"half\": 64}, \"fp8\": {\"max\": 0.6, \"half\": 128}}",
                                  NULL, NULL, &hw, &err),
                     SIM_OK);
    assert_close(hw.eff.gemm[SIM_DT_FP4].max, 0.6);
    assert_close(hw.eff.gemm[SIM_DT_INT8].half, 128);
    assert_close(hw.eff.gemm[SIM_DT_FP16].max, 0.8);
    /* efficiency_from is kept as is. */
    assert_int_equal(load_variant(t, "", GEMM_OK, "\"prior\",", "\"calibrated\", \"efficiency_from\": \"h100-sxm\",",
                                  &hw, &err),
                     SIM_OK);
    assert_string_equal(hw.eff.efficiency_from, "h100-sxm");
    assert_string_equal(hw.eff.provenance, "calibrated");
}

static void malformed_json_names_line_and_column(void **state)
{
    tmpfile_state *t = *state;
    write_text(t->path, "{\n  \"schema\": \"moesim-hwmodel/1\",\n  \"name\" \"x\"\n}\n");
    sim_hw hw;
    sim_err err = {0};
    assert_int_equal(sim_hw_load(&hw, t->path, &err), SIM_EINPUT);
    char want[300];
    snprintf(want, sizeof want, "%s:3:", t->path);
    assert_msg_has(&err, want);
    assert_msg_has(&err, "malformed JSON");
}

static void unknown_fields_are_named(void **state)
{
    tmpfile_state *t = *state;
    sim_hw hw;
    sim_err err;
    assert_int_equal(load_variant(t, " \"colour\": \"green\",", GEMM_OK, NULL, NULL, &hw, &err), SIM_EINPUT);
    assert_msg_has(&err, "unknown field 'colour'");
    assert_msg_has(&err, t->path);
    assert_int_equal(load_variant(t, "", GEMM_OK, "\"device_w\"", "\"device_watts\"", &hw, &err), SIM_EINPUT);
    assert_msg_has(&err, "unknown field 'power.device_watts'");
    assert_int_equal(load_variant(t, "", GEMM_OK, "\"fp8\": 200", "\"fp9\": 200", &hw, &err), SIM_EINPUT);
    assert_msg_has(&err, "compute.tflops.fp9");
    assert_int_equal(load_variant(t, "", "{\"bf16\": {\"max\": 0.8, \"half\": 64, \"slope\": 1}}", NULL, NULL, &hw, &err),
                     SIM_EINPUT);
    assert_msg_has(&err, "efficiency.gemm.bf16.slope");
    assert_int_equal(load_variant(t, "", GEMM_OK, "\"bandwidth_gbs\": 1000}", "\"bandwidth_gbs\": 1000, \"ecc\": true}",
                                  &hw, &err),
                     SIM_EINPUT);
    assert_msg_has(&err, "memory.tiers[0].ecc");
    assert_int_equal(load_variant(t, "", GEMM_OK, "\"kernel_overhead_us\": 2,",
                                  "\"dequant_gelem_s\": {\"int3\": 5}, \"kernel_overhead_us\": 2,", &hw, &err),
                     SIM_EINPUT);
    assert_msg_has(&err, "efficiency.dequant_gelem_s.int3");
}

static void missing_source_is_named(void **state)
{
    tmpfile_state *t = *state;
    sim_hw hw;
    sim_err err;
    assert_int_equal(load_variant(t, "", GEMM_OK, "\"power\": {\"source\": \"s\", ", "\"power\": {", &hw, &err),
                     SIM_EINPUT);
    assert_msg_has(&err, "'power.source' is missing");
    assert_int_equal(load_variant(t, "", GEMM_OK, "\"compute\": {\"source\": \"s\"", "\"compute\": {\"source\": \"\"",
                                  &hw, &err),
                     SIM_EINPUT);
    assert_msg_has(&err, "'compute.source' must be a non-empty string");
}

static void efficiency_above_one_is_rejected(void **state)
{
    tmpfile_state *t = *state;
    sim_hw hw;
    sim_err err;
    assert_int_equal(load_variant(t, "", "{\"bf16\": {\"max\": 1.2, \"half\": 64}}", NULL, NULL, &hw, &err), SIM_EINPUT);
    assert_msg_has(&err, "efficiency.gemm.bf16.max");
    assert_msg_has(&err, "(0, 1]");
    assert_int_equal(load_variant(t, "", GEMM_OK, "\"mem_max\": 0.8", "\"mem_max\": 0", &hw, &err), SIM_EINPUT);
    assert_msg_has(&err, "efficiency.attention_decode.mem_max");
}

static void bad_values_are_rejected(void **state)
{
    tmpfile_state *t = *state;
    sim_hw hw;
    sim_err err;
    assert_int_equal(load_variant(t, "", GEMM_OK, "\"capacity_gb\": 10", "\"capacity_gb\": -1", &hw, &err),
                     SIM_EINPUT);
    assert_msg_has(&err, "memory.tiers[0].capacity_gb");
    assert_int_equal(load_variant(t, "", GEMM_OK, "\"class\": \"gpu\"", "\"class\": \"tpu\"", &hw, &err), SIM_EINPUT);
    assert_msg_has(&err, "'class' is 'tpu'");
    assert_int_equal(load_variant(t, "", GEMM_OK, "\"cuda-graph\"", "\"opencl\"", &hw, &err), SIM_EINPUT);
    assert_msg_has(&err, "backend");
    assert_int_equal(load_variant(t, "", GEMM_OK, "\"domain_size\": 1", "\"domain_size\": 0", &hw, &err), SIM_EINPUT);
    assert_msg_has(&err, "interconnect.scale_up.domain_size");
    /* A real scale-up link needs a bandwidth, and then a link efficiency. */
    assert_int_equal(load_variant(t, "", GEMM_OK, "\"domain_size\": 1", "\"domain_size\": 8", &hw, &err), SIM_EINPUT);
    assert_msg_has(&err, "interconnect.scale_up.bandwidth_gbs");
    assert_int_equal(load_variant(t, "", GEMM_OK, "\"domain_size\": 1",
                                  "\"domain_size\": 8, \"bandwidth_gbs\": 450, \"latency_us\": 3", &hw, &err),
                     SIM_EINPUT);
    assert_msg_has(&err, "efficiency.link");
    assert_int_equal(load_variant(t, "", GEMM_OK, "\"schema\": \"moesim-hwmodel/1\"", "\"schema\": \"moesim-hwmodel/2\"",
                                  &hw, &err),
                     SIM_EINPUT);
    assert_msg_has(&err, "schema");
    assert_int_equal(load_variant(t, "", GEMM_OK, "\"usd_per_hour\": 1", "\"usd_per_hour\": 0", &hw, &err), SIM_EINPUT);
    assert_msg_has(&err, "price.usd_per_hour");
    assert_int_equal(load_variant(t, "", "{}", NULL, NULL, &hw, &err), SIM_EINPUT);
    assert_msg_has(&err, "efficiency.gemm");
    assert_int_equal(load_variant(t, "", GEMM_OK, "\"tiers\": [", "\"tiers\": [{\"name\": \"a\", \"capacity_gb\": 1, \"bandwidth_gbs\": 1}, {\"name\": \"b\", \"capacity_gb\": 1, \"bandwidth_gbs\": 1}, {\"name\": \"c\", \"capacity_gb\": 1, \"bandwidth_gbs\": 1}, {\"name\": \"d\", \"capacity_gb\": 1, \"bandwidth_gbs\": 1},", &hw, &err),
                     SIM_EINPUT);
    assert_msg_has(&err, "memory.tiers' has 5 tiers");
    assert_int_equal(load_variant(t, "", GEMM_OK, "\"tflops\": {", "\"tflops\": {\"bf16\": 1, ", &hw, &err),
                     SIM_EINPUT);
    assert_msg_has(&err, "twice");
}

/* `numa` (a multi-socket CPU) and `aliases`: loaded, and bad values refused naming the field. */
static void numa_and_aliases_are_checked(void **state)
{
    tmpfile_state *t = *state;
    sim_hw hw;
    sim_err err;
    const char *numa = "\n  \"numa\": {\"source\": \"s\", \"sockets\": 2, \"link_name\": \"UPI\", \"link_gbs\": 100},";
    /* a GPU has no sockets */
    assert_int_equal(load_variant(t, numa, GEMM_OK, NULL, NULL, &hw, &err), SIM_EINPUT);
    assert_msg_has(&err, "'numa'");
    assert_msg_has(&err, "class cpu");
    /* a CPU has */
    assert_int_equal(load_variant(t, numa, GEMM_OK, "\"class\": \"gpu\", \"backend\": \"cuda-graph\"",
                                  "\"class\": \"cpu\", \"backend\": \"cpu\"", &hw, &err),
                     SIM_OK);
    assert_int_equal(hw.numa.sockets, 2);
    assert_close(hw.numa.link_Bps, 100e9);
    assert_string_equal(hw.numa.link_name, "UPI");
    /* two sockets need their link */
    const char *nolink = "\n  \"numa\": {\"source\": \"s\", \"sockets\": 2},";
    assert_int_equal(load_variant(t, nolink, GEMM_OK, "\"class\": \"gpu\", \"backend\": \"cuda-graph\"",
                                  "\"class\": \"cpu\", \"backend\": \"cpu\"", &hw, &err),
                     SIM_EINPUT);
    assert_msg_has(&err, "numa.link_gbs");
    const char *zero = "\n  \"numa\": {\"source\": \"s\", \"sockets\": 0, \"link_gbs\": 1},";
    assert_int_equal(load_variant(t, zero, GEMM_OK, NULL, NULL, &hw, &err), SIM_EINPUT);
    assert_msg_has(&err, "numa.sockets");
    const char *nosrc = "\n  \"numa\": {\"sockets\": 2, \"link_gbs\": 1},";
    assert_int_equal(load_variant(t, nosrc, GEMM_OK, NULL, NULL, &hw, &err), SIM_EINPUT);
    assert_msg_has(&err, "numa.source");
    const char *odd = "\n  \"numa\": {\"source\": \"s\", \"sockets\": 2, \"link_gbs\": 1, \"qpi\": 1},";
    assert_int_equal(load_variant(t, odd, GEMM_OK, NULL, NULL, &hw, &err), SIM_EINPUT);
    assert_msg_has(&err, "qpi");
    /* aliases: names, nothing else */
    assert_int_equal(load_variant(t, "\n  \"aliases\": [\"t2\"],", GEMM_OK, NULL, NULL, &hw, &err), SIM_OK);
    assert_int_equal(load_variant(t, "\n  \"aliases\": [1],", GEMM_OK, NULL, NULL, &hw, &err), SIM_EINPUT);
    assert_msg_has(&err, "aliases");
    assert_int_equal(load_variant(t, "\n  \"aliases\": \"t2\",", GEMM_OK, NULL, NULL, &hw, &err), SIM_EINPUT);
    assert_msg_has(&err, "aliases");
}

/* A GEMM curve with a second kernel regime and fixed costs per FFN (SCHEMA.md, "small"). */
static void kernel_regimes_load_and_bad_ones_are_named(void **state)
{
    tmpfile_state *t = *state;
    sim_hw hw;
    sim_err err;
    const char *from = "{\"bf16\": {\"max\": 0.5, \"half\": 32}}";
    assert_int_equal(load_variant(t, "", GEMM_OK, from,
                                  "{\"bf16\": {\"max\": 0.5, \"half\": 32, \"overhead_us\": 1200, "
                                  "\"small\": {\"rows\": 8, \"max\": 0.2, \"half\": 1, \"overhead_us\": 90}}}",
                                  &hw, &err),
                     SIM_OK);
    sim_curve c = hw.eff.grouped_gemm[SIM_DT_BF16];
    assert_int_equal(c.small_rows, 8);
    assert_close(c.small_max, 0.2);
    assert_close(c.group_s, 1200e-6);
    assert_close(c.small_group_s, 90e-6);
    assert_close(sim_curve_at(c, 8), 0.2 * 8 / 9.0);    /* at the switch: the small kernel */
    assert_close(sim_curve_at(c, 9), 0.5 * 9 / 41.0);   /* above it: the curve's own */
    assert_close(sim_curve_group_s(c, 8), 90e-6);
    assert_close(sim_curve_group_s(c, 9), 1200e-6);
    assert_int_equal(hw.eff.grouped_gemm[SIM_DT_FP8].small_rows, 8); /* the fallback copies the regime */
    assert_int_equal(hw.eff.gemm[SIM_DT_BF16].small_rows, 0);         /* a curve without one has none */
    assert_int_equal(load_variant(t, "", GEMM_OK, from,
                                  "{\"bf16\": {\"max\": 0.5, \"half\": 32, \"small\": {\"rows\": 8.5, \"max\": 0.2, "
                                  "\"half\": 1}}}",
                                  &hw, &err),
                     SIM_EINPUT);
    assert_msg_has(&err, "efficiency.grouped_gemm.bf16.small.rows");
    assert_msg_has(&err, "whole number");
    assert_int_equal(load_variant(t, "", GEMM_OK, from,
                                  "{\"bf16\": {\"max\": 0.5, \"half\": 32, \"small\": {\"rows\": 8, \"max\": 0.2}}}",
                                  &hw, &err),
                     SIM_EINPUT);
    assert_msg_has(&err, "efficiency.grouped_gemm.bf16.small");
    assert_msg_has(&err, "half");
    assert_int_equal(load_variant(t, "", GEMM_OK, from,
                                  "{\"bf16\": {\"max\": 0.5, \"half\": 32, \"overhead_us\": -1}}", &hw, &err),
                     SIM_EINPUT);
    assert_msg_has(&err, "efficiency.grouped_gemm.bf16.overhead_us");
    assert_int_equal(load_variant(t, "", GEMM_OK, from, "{\"bf16\": {\"max\": 0.5, \"half\": 32, \"small\": 8}}",
                                  &hw, &err),
                     SIM_EINPUT);
    assert_msg_has(&err, "must be an object");
}

static void missing_file_is_named(void **state)
{
    (void)state;
    sim_hw hw;
    sim_err err = {0};
    assert_int_equal(sim_hw_load(&hw, "/nonexistent/moesim/x.json", &err), SIM_EINPUT);
    assert_msg_has(&err, "/nonexistent/moesim/x.json");
}

/* A CPU file's base GEMM curves are mainline llama.cpp's; ik_llama.cpp's listed types override
 * them under that runtime, unlisted ones keep the base (ryzen-7950x: dense rows D15 and D10). */
static void runtime_curves_pick_by_runtime(void **state)
{
    (void)state;
    sim_hw hw;
    load_named("ryzen-7950x", &hw);
    assert_true(hw.eff.runtime[SIM_RUNTIME_IK_LLAMACPP].set);
    sim_curve base = sim_hw_gemm_curve(&hw, SIM_RUNTIME_LLAMACPP, SIM_DT_INT8, false);
    sim_curve ik = sim_hw_gemm_curve(&hw, SIM_RUNTIME_IK_LLAMACPP, SIM_DT_INT8, true);
    assert_true(base.max < ik.max); /* ik_llama.cpp's repacked GEMMs are faster on this CPU */
    assert_close(sim_hw_gemm_curve(&hw, SIM_RUNTIME_IK_LLAMACPP, SIM_DT_BF16, false).max, hw.eff.gemm[SIM_DT_BF16].max);
    sim_runtime r;
    assert_int_equal(sim_runtime_parse("ik_llamacpp", &r), 0);
    assert_int_equal(r, SIM_RUNTIME_IK_LLAMACPP);
    assert_int_equal(sim_runtime_parse("vllm", &r), -1);
    /* a shipped GPU file has none: every runtime reads its base curves */
    load_named("h100-sxm", &hw);
    assert_close(sim_hw_gemm_curve(&hw, SIM_RUNTIME_IK_LLAMACPP, SIM_DT_BF16, true).max,
                 hw.eff.grouped_gemm[SIM_DT_BF16].max);
}

/* efficiency.gguf_matvec: shares by GGUF tensor type, base and per runtime, loaded as given;
 * a runtime without its own figure for a type reads the base one; a type no block lists has none. */
static void gguf_matvec_shares_load(void **state)
{
    tmpfile_state *t = *state;
    sim_hw hw;
    sim_err err;
    const char *at = "\"kernel_overhead_us\"";
    assert_int_equal(load_variant(t, "", GEMM_OK, at,
                                  "\"gguf_matvec\": {\"source\": \"s\", \"q4_k\": 0.125, \"iq3_s\": 0.05}, "
                                  "\"runtimes\": {\"ik_llamacpp\": {\"source\": \"x\", \"gemm\": {\"bf16\": {\"max\": 0.5, \"half\": 1}}, \"grouped_gemm\": {\"bf16\": {\"max\": 0.5, \"half\": 1}}, "
                                  "\"gguf_matvec\": {\"source\": \"ik\", \"q4_k\": 0.25}}}, \"kernel_overhead_us\"",
                                  &hw, &err),
                     SIM_OK);
    const char *src = NULL;
    assert_close(sim_hw_matvec_share(&hw, SIM_RUNTIME_LLAMACPP, SIM_WF_Q4_K, &src), 0.125);
    assert_string_equal(src, "s");
    assert_close(sim_hw_matvec_share(&hw, SIM_RUNTIME_IK_LLAMACPP, SIM_WF_Q4_K, &src), 0.25);
    assert_string_equal(src, "ik");
    assert_close(sim_hw_matvec_share(&hw, SIM_RUNTIME_IK_LLAMACPP, SIM_WF_IQ3_S, NULL), 0.05);
    assert_true(sim_hw_matvec_share(&hw, SIM_RUNTIME_LLAMACPP, SIM_WF_Q6_K, NULL) == 0);
    /* the shipped Zen 4 files carry both; the Pi has no per-type source */
    load_named("ryzen-7950x", &hw);
    assert_true(sim_hw_matvec_share(&hw, SIM_RUNTIME_LLAMACPP, SIM_WF_Q3_K, NULL) > 0);
    assert_true(sim_hw_matvec_share(&hw, SIM_RUNTIME_IK_LLAMACPP, SIM_WF_Q3_K, NULL) >
                sim_hw_matvec_share(&hw, SIM_RUNTIME_LLAMACPP, SIM_WF_Q3_K, NULL));
    load_named("rpi5", &hw);
    assert_true(sim_hw_matvec_share(&hw, SIM_RUNTIME_LLAMACPP, SIM_WF_Q3_K, NULL) == 0);
}

/* efficiency.gguf_gemm: shares by GGUF tensor type (MXFP4 too) for batched matmuls; a type listed
 * in dense_only has no figure for the routed experts (MUL_MAT_ID); a runtime with its own curves
 * reads only its own table, since the base figures are of mainline's kernels. */
static void gguf_gemm_shares_load(void **state)
{
    tmpfile_state *t = *state;
    sim_hw hw;
    sim_err err;
    const char *at = "\"kernel_overhead_us\"";
    assert_int_equal(load_variant(t, "", GEMM_OK, at,
                                  "\"gguf_gemm\": {\"source\": \"g\", \"q4_k\": 0.15, \"q8_0\": 0.18, \"mxfp4\": 0.09, "
                                  "\"dense_only\": [\"q8_0\"]}, "
                                  "\"runtimes\": {\"ik_llamacpp\": {\"source\": \"x\", \"gemm\": {\"bf16\": {\"max\": 0.5, \"half\": 1}}, \"grouped_gemm\": {\"bf16\": {\"max\": 0.5, \"half\": 1}}}}, \"kernel_overhead_us\"",
                                  &hw, &err),
                     SIM_OK);
    const char *src = NULL;
    assert_close(sim_hw_gemm_share(&hw, SIM_RUNTIME_LLAMACPP, SIM_WF_Q4_K, false, &src), 0.15);
    assert_string_equal(src, "g");
    assert_close(sim_hw_gemm_share(&hw, SIM_RUNTIME_LLAMACPP, SIM_WF_Q4_K, true, NULL), 0.15);
    assert_close(sim_hw_gemm_share(&hw, SIM_RUNTIME_LLAMACPP, SIM_WF_MXFP4, true, NULL), 0.09);
    assert_close(sim_hw_gemm_share(&hw, SIM_RUNTIME_LLAMACPP, SIM_WF_Q8_0, false, NULL), 0.18);
    assert_true(sim_hw_gemm_share(&hw, SIM_RUNTIME_LLAMACPP, SIM_WF_Q8_0, true, NULL) == 0); /* dense-only */
    assert_true(sim_hw_gemm_share(&hw, SIM_RUNTIME_LLAMACPP, SIM_WF_Q6_K, false, NULL) == 0);
    /* ik_llama.cpp has its own curves and no table of its own: no figure */
    assert_true(sim_hw_gemm_share(&hw, SIM_RUNTIME_IK_LLAMACPP, SIM_WF_Q4_K, false, NULL) == 0);
    /* the shipped 7950X: tinyBLAS types dense-only, vec_dot types for both ops */
    load_named("ryzen-7950x", &hw);
    assert_true(sim_hw_gemm_share(&hw, SIM_RUNTIME_LLAMACPP, SIM_WF_Q4_0, false, NULL) > 0);
    assert_true(sim_hw_gemm_share(&hw, SIM_RUNTIME_LLAMACPP, SIM_WF_Q4_0, true, NULL) == 0);
    assert_true(sim_hw_gemm_share(&hw, SIM_RUNTIME_LLAMACPP, SIM_WF_Q6_K, true, NULL) > 0);
    assert_close(sim_hw_gemm_share(&hw, SIM_RUNTIME_LLAMACPP, SIM_WF_MXFP4, true, NULL),
                 sim_hw_gemm_share(&hw, SIM_RUNTIME_LLAMACPP, SIM_WF_IQ4_NL, true, NULL));
    /* ik_llama.cpp's own table: its iqk kernels, faster per type, and no dense-only split */
    assert_true(sim_hw_gemm_share(&hw, SIM_RUNTIME_IK_LLAMACPP, SIM_WF_Q4_K, true, NULL) >
                sim_hw_gemm_share(&hw, SIM_RUNTIME_LLAMACPP, SIM_WF_Q4_K, true, NULL));
    assert_true(sim_hw_gemm_share(&hw, SIM_RUNTIME_IK_LLAMACPP, SIM_WF_Q8_0, true, NULL) > 0);
    load_named("rpi5", &hw);
    assert_true(sim_hw_gemm_share(&hw, SIM_RUNTIME_LLAMACPP, SIM_WF_Q4_K, false, NULL) == 0);
}

static void bad_gguf_gemm_is_named(void **state)
{
    tmpfile_state *t = *state;
    sim_hw hw;
    sim_err err;
    const char *at = "\"kernel_overhead_us\"";
    static const struct { const char *json, *needle; } bad[] = {
        {"\"gguf_gemm\": {\"source\": \"s\", \"q4_k_m\": 0.1}", "efficiency.gguf_gemm.q4_k_m"},
        {"\"gguf_gemm\": {\"source\": \"s\", \"bf16\": 0.1}", "efficiency.gguf_gemm.bf16"},
        {"\"gguf_gemm\": {\"source\": \"s\", \"q4_0\": 1.5}", "efficiency.gguf_gemm.q4_0"},
        {"\"gguf_gemm\": {\"q4_0\": 0.1}", "efficiency.gguf_gemm.source"},
        {"\"gguf_gemm\": {\"source\": \"s\"}", "lists no GGUF tensor type"},
        {"\"gguf_gemm\": {\"source\": \"s\", \"q4_0\": 0.1, \"dense_only\": \"q4_0\"}", "efficiency.gguf_gemm.dense_only"},
        {"\"gguf_gemm\": {\"source\": \"s\", \"q4_0\": 0.1, \"dense_only\": [\"q8_0\"]}", "gives no share"},
        {"\"gguf_gemm\": {\"source\": \"s\", \"q4_0\": 0.1, \"dense_only\": [\"q4_k_m\"]}", "entry 'q4_k_m'"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        char to[512];
        snprintf(to, sizeof to, "%s, \"kernel_overhead_us\"", bad[i].json);
        assert_int_equal(load_variant(t, "", GEMM_OK, at, to, &hw, &err), SIM_EINPUT);
        assert_msg_has(&err, t->path);
        assert_msg_has(&err, bad[i].needle);
    }
}

/* grouped_gemm tile_rows: loaded for an expert curve, refused on a dense one or when not a
 * whole number of rows, naming the field. */
static void tile_rows_load_and_errors(void **state)
{
    tmpfile_state *t = *state;
    sim_hw hw;
    sim_err err;
    const char *at = "\"grouped_gemm\": {\"bf16\": {\"max\": 0.5, \"half\": 32}}";
    assert_int_equal(load_variant(t, "", GEMM_OK, at, "\"grouped_gemm\": {\"bf16\": {\"max\": 0.5, \"half\": 32, \"tile_rows\": 32}}",
                                  &hw, &err), SIM_OK);
    assert_int_equal(hw.eff.grouped_gemm[SIM_DT_BF16].tile_rows, 32);
    assert_int_equal(hw.eff.gemm[SIM_DT_BF16].tile_rows, 0);
    assert_int_equal(load_variant(t, "", "{\"bf16\": {\"max\": 0.8, \"half\": 64, \"tile_rows\": 32}}", NULL, NULL,
                                  &hw, &err), SIM_EINPUT);
    assert_msg_has(&err, "efficiency.gemm.bf16.tile_rows");
    assert_msg_has(&err, "grouped_gemm curves only");
    assert_int_equal(load_variant(t, "", GEMM_OK, at, "\"grouped_gemm\": {\"bf16\": {\"max\": 0.5, \"half\": 32, \"tile_rows\": 2.5}}",
                                  &hw, &err), SIM_EINPUT);
    assert_msg_has(&err, "efficiency.grouped_gemm.bf16.tile_rows");
    assert_int_equal(load_variant(t, "", GEMM_OK, at, "\"grouped_gemm\": {\"bf16\": {\"max\": 0.5, \"half\": 32, \"tile_from_tokens\": 32}}",
                                  &hw, &err), SIM_EINPUT);
    assert_msg_has(&err, "needs 'efficiency.grouped_gemm.bf16.tile_rows'");
    /* the shipped Apple files: Metal's 32-token tiles */
    load_named("m4-max", &hw);
    assert_int_equal(hw.eff.grouped_gemm[SIM_DT_FP16].tile_rows, 32);
    assert_int_equal(hw.eff.grouped_gemm[SIM_DT_FP16].tile_from_tokens, 32);
    load_named("m3-ultra", &hw);
    assert_int_equal(hw.eff.grouped_gemm[SIM_DT_FP16].tile_rows, 32);
    load_named("h100-sxm", &hw);
    assert_int_equal(hw.eff.grouped_gemm[SIM_DT_BF16].tile_rows, 0);
}

static void bad_gguf_matvec_is_named(void **state)
{
    tmpfile_state *t = *state;
    sim_hw hw;
    sim_err err;
    const char *at = "\"kernel_overhead_us\"";
    assert_int_equal(load_variant(t, "", GEMM_OK, at, "\"gguf_matvec\": {\"source\": \"s\", \"q4_k_m\": 0.1}, \"kernel_overhead_us\"",
                                  &hw, &err), SIM_EINPUT);
    assert_msg_has(&err, t->path);
    assert_msg_has(&err, "efficiency.gguf_matvec.q4_k_m");
    assert_msg_has(&err, "recipes");
    assert_int_equal(load_variant(t, "", GEMM_OK, at, "\"gguf_matvec\": {\"source\": \"s\", \"bf16\": 0.1}, \"kernel_overhead_us\"",
                                  &hw, &err), SIM_EINPUT);
    assert_msg_has(&err, "efficiency.gguf_matvec.bf16");
    assert_int_equal(load_variant(t, "", GEMM_OK, at, "\"gguf_matvec\": {\"source\": \"s\", \"q4_0\": 1.5}, \"kernel_overhead_us\"",
                                  &hw, &err), SIM_EINPUT);
    assert_msg_has(&err, "efficiency.gguf_matvec.q4_0");
    assert_int_equal(load_variant(t, "", GEMM_OK, at, "\"gguf_matvec\": {\"q4_0\": 0.1}, \"kernel_overhead_us\"", &hw, &err),
                     SIM_EINPUT);
    assert_msg_has(&err, "efficiency.gguf_matvec.source");
    assert_int_equal(load_variant(t, "", GEMM_OK, at, "\"gguf_matvec\": {\"source\": \"s\"}, \"kernel_overhead_us\"", &hw, &err),
                     SIM_EINPUT);
    assert_msg_has(&err, "lists no GGUF tensor type");
    assert_int_equal(load_variant(t, "", GEMM_OK, at,
                                  "\"runtimes\": {\"ik_llamacpp\": {\"source\": \"x\", \"gemm\": {\"bf16\": {\"max\": 0.5, \"half\": 1}}, \"grouped_gemm\": {\"bf16\": {\"max\": 0.5, \"half\": 1}}, "
                                  "\"gguf_matvec\": {\"source\": \"ik\", \"q4_k\": 0}}}, \"kernel_overhead_us\"",
                                  &hw, &err), SIM_EINPUT);
    assert_msg_has(&err, "efficiency.runtimes.ik_llamacpp.gguf_matvec.q4_k");
}

static void bad_runtime_curves_are_named(void **state)
{
    tmpfile_state *t = *state;
    sim_hw hw;
    sim_err err;
    const char *at = "\"kernel_overhead_us\"";
    assert_int_equal(load_variant(t, "", GEMM_OK, at,
                                  "\"runtimes\": {\"llamacpp\": {}}, \"kernel_overhead_us\"", &hw, &err), SIM_EINPUT);
    assert_msg_has(&err, "efficiency.runtimes.llamacpp");
    assert_int_equal(load_variant(t, "", GEMM_OK, at,
                                  "\"runtimes\": {\"ik_llamacpp\": {\"source\": \"x\", \"gemm\": {\"int8\": {\"max\": 1.5, \"half\": 1}}, "
                                  "\"grouped_gemm\": {\"int8\": {\"max\": 0.4, \"half\": 1}}}}, \"kernel_overhead_us\"", &hw, &err),
                     SIM_EINPUT);
    assert_msg_has(&err, "efficiency.runtimes.ik_llamacpp.gemm.int8.max");
    assert_int_equal(load_variant(t, "", GEMM_OK, at,
                                  "\"runtimes\": {\"ik_llamacpp\": {\"source\": \"x\", \"gemm\": {\"int8\": {\"max\": 0.5, \"half\": 1}}, "
                                  "\"grouped_gemm\": {\"bf16\": {\"max\": 0.4, \"half\": 1}}}}, \"kernel_overhead_us\"", &hw, &err),
                     SIM_EINPUT);
    assert_msg_has(&err, "must list the same types");
    assert_int_equal(load_variant(t, "", GEMM_OK, at,
                                  "\"runtimes\": {\"ik_llamacpp\": {\"gemm\": {\"int8\": {\"max\": 0.5, \"half\": 1}}, "
                                  "\"grouped_gemm\": {\"int8\": {\"max\": 0.4, \"half\": 1}}}}, \"kernel_overhead_us\"", &hw, &err),
                     SIM_EINPUT);
    assert_msg_has(&err, "source");
    assert_int_equal(load_variant(t, "", GEMM_OK, at,
                                  "\"runtimes\": {\"ik_llamacpp\": {\"source\": \"x\", \"gemm\": {\"int8\": {\"max\": 0.5, \"half\": 1}}, "
                                  "\"grouped_gemm\": {\"int8\": {\"max\": 0.4, \"half\": 1}}}}, \"kernel_overhead_us\"", &hw, &err),
                     SIM_OK);
    assert_close(sim_hw_gemm_curve(&hw, SIM_RUNTIME_IK_LLAMACPP, SIM_DT_INT8, true).max, 0.4);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(every_shipped_model_loads),
        cmocka_unit_test(every_json_in_hwmodels_is_listed),
        cmocka_unit_test(h100_figures),
        cmocka_unit_test(gb200_rack_is_one_domain),
        cmocka_unit_test(rpi5_peak_by_hand),
        cmocka_unit_test(owned_devices_by_hand),
        cmocka_unit_test(h200_fp4_falls_back_to_fp8),
        cmocka_unit_test(class_names),
        cmocka_unit_test_setup_teardown(base_model_loads_and_fills_curves, setup_tmp, teardown_tmp),
        cmocka_unit_test_setup_teardown(malformed_json_names_line_and_column, setup_tmp, teardown_tmp),
        cmocka_unit_test_setup_teardown(unknown_fields_are_named, setup_tmp, teardown_tmp),
        cmocka_unit_test_setup_teardown(missing_source_is_named, setup_tmp, teardown_tmp),
        cmocka_unit_test_setup_teardown(efficiency_above_one_is_rejected, setup_tmp, teardown_tmp),
        cmocka_unit_test_setup_teardown(bad_values_are_rejected, setup_tmp, teardown_tmp),
        cmocka_unit_test_setup_teardown(kernel_regimes_load_and_bad_ones_are_named, setup_tmp, teardown_tmp),
        cmocka_unit_test_setup_teardown(numa_and_aliases_are_checked, setup_tmp, teardown_tmp),
        cmocka_unit_test(missing_file_is_named),
        cmocka_unit_test(runtime_curves_pick_by_runtime),
        cmocka_unit_test_setup_teardown(bad_runtime_curves_are_named, setup_tmp, teardown_tmp),
        cmocka_unit_test_setup_teardown(gguf_matvec_shares_load, setup_tmp, teardown_tmp),
        cmocka_unit_test_setup_teardown(bad_gguf_matvec_is_named, setup_tmp, teardown_tmp),
        cmocka_unit_test_setup_teardown(gguf_gemm_shares_load, setup_tmp, teardown_tmp),
        cmocka_unit_test_setup_teardown(tile_rows_load_and_errors, setup_tmp, teardown_tmp),
        cmocka_unit_test_setup_teardown(bad_gguf_gemm_is_named, setup_tmp, teardown_tmp),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
