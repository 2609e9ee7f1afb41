/* test_formats.c: checks the hwmodels' `formats` tables (sim/model/hw.c) and their use by
 * sim/deploy (sim_deploy_check) and sim/search: every shipped hwmodel states its formats; over
 * every shipped hwmodel and every storage format, search never proposes a candidate in a format
 * the device does not support (it counts them skipped), eval's check refuses each unsupported
 * pair naming the device and the format, and --emulate lets it through marked emulated. A few
 * sourced facts are pinned (MI300X has no NVFP4; Hopper runs it weight-only; Blackwell natively),
 * so a table edited by mistake fails here. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/session.h"
#include "search/search.h"

static sim_session *test_session(void)
{
    static sim_session *s;
    if (!s)
        s = sim_session_alloc();
    return s;
}

/* The shipped hwmodels: hwmodels/NAME.json and hwmodels/calibrated/NAME.json. */
static int shipped(char names[][80], int cap)
{
    const char *home = getenv("MOESIM_HOME");
    char dir[512];
    int n = 0;
    const char *sub[] = { "", "calibrated/" };
    for (int k = 0; k < 2; k++) {
        snprintf(dir, sizeof dir, "%s/hwmodels/%s", home ? home : ".", sub[k]);
        DIR *d = opendir(dir);
        assert_non_null(d);
        for (struct dirent *e; (e = readdir(d)) && n < cap;) {
            size_t len = strlen(e->d_name);
            if (len > 5 && strcmp(e->d_name + len - 5, ".json") == 0)
                snprintf(names[n++], sizeof names[0], "%s%.*s", sub[k], (int)(len - 5), e->d_name);
        }
        closedir(d);
    }
    return n;
}

static const sim_hw *hw_named(const char *name)
{
    sim_err err = { 0 };
    const sim_hw *hw = sim_session_hw(test_session(), name, &err);
    if (!hw)
        fail_msg("%s: %s", name, err.msg);
    return hw;
}

static void test_every_shipped_hwmodel_states_formats(void **state)
{
    (void)state;
    char names[64][80];
    int n = shipped(names, 64);
    assert_true(n >= 14);
    for (int i = 0; i < n; i++) {
        const sim_hw *hw = hw_named(names[i]);
        if (!hw->formats.stated)
            fail_msg("hwmodels/%s.json states no 'formats'", names[i]);
        /* fp32 runs everywhere; the table is not empty by accident */
        assert_int_equal(sim_hw_format_support(hw, SIM_WF_FP32), SIM_FMT_NATIVE);
        /* int4_g32 runs on the W4A16 kernels int4 runs on, and unpacks at int4's rate */
        if (sim_hw_format_support(hw, SIM_WF_INT4_G32) != sim_hw_format_support(hw, SIM_WF_INT4))
            fail_msg("hwmodels/%s.json: int4_g32 is %s but int4 %s", names[i],
                     sim_fmt_support_name(sim_hw_format_support(hw, SIM_WF_INT4_G32)),
                     sim_fmt_support_name(sim_hw_format_support(hw, SIM_WF_INT4)));
        assert_true(hw->eff.dequant_elems_per_s[SIM_WF_INT4_G32] == hw->eff.dequant_elems_per_s[SIM_WF_INT4]);
    }
}

static void test_pinned_facts(void **state)
{
    (void)state;
    assert_int_equal(sim_hw_format_support(hw_named("mi300x"), SIM_WF_NVFP4), SIM_FMT_UNSUPPORTED);
    assert_int_equal(sim_hw_format_support(hw_named("mi300x"), SIM_WF_FP8), SIM_FMT_NATIVE);
    assert_int_equal(sim_hw_format_support(hw_named("h100-sxm"), SIM_WF_NVFP4), SIM_FMT_WEIGHT_ONLY);
    assert_int_equal(sim_hw_format_support(hw_named("b200"), SIM_WF_NVFP4), SIM_FMT_NATIVE);
    assert_int_equal(sim_hw_format_support(hw_named("a100-sxm"), SIM_WF_FP8), SIM_FMT_WEIGHT_ONLY);
    assert_int_equal(sim_hw_format_support(hw_named("laptop-ddr5"), SIM_WF_FP8), SIM_FMT_UNSUPPORTED);
    assert_int_equal(sim_hw_format_support(hw_named("m4-max"), SIM_WF_Q4_K_M), SIM_FMT_WEIGHT_ONLY);
    /* devices people own (issue 14 item 6): Blackwell consumer parts take FP4 natively, Ampere
     * ones only widen it; the Pi's A76 has no BF16 math; Sapphire Rapids' AMX takes BF16 and INT8 */
    assert_int_equal(sim_hw_format_support(hw_named("rtx5090"), SIM_WF_NVFP4), SIM_FMT_NATIVE);
    assert_int_equal(sim_hw_format_support(hw_named("dgx-spark"), SIM_WF_MXFP4), SIM_FMT_NATIVE);
    assert_int_equal(sim_hw_format_support(hw_named("rtx3090"), SIM_WF_NVFP4), SIM_FMT_WEIGHT_ONLY);
    assert_int_equal(sim_hw_format_support(hw_named("jetson-agx-orin-64gb"), SIM_WF_FP8), SIM_FMT_WEIGHT_ONLY);
    assert_int_equal(sim_hw_format_support(hw_named("rpi5-8gb"), SIM_WF_BF16), SIM_FMT_WEIGHT_ONLY);
    assert_int_equal(sim_hw_format_support(hw_named("xeon-8480-2s"), SIM_WF_BF16), SIM_FMT_NATIVE);
    assert_int_equal(sim_hw_format_support(hw_named("xeon-8480-2s"), SIM_WF_INT8), SIM_FMT_NATIVE);
    assert_int_equal(sim_hw_format_support(hw_named("xeon-8480-2s"), SIM_WF_FP8), SIM_FMT_UNSUPPORTED);
    assert_int_equal(sim_hw_format_support(hw_named("m3-ultra"), SIM_WF_FP8), SIM_FMT_UNSUPPORTED);
    /* weight-only computes at 16 bits: NVFP4 on H100 is a W4A16 kernel, not FP8 math */
    sim_dtype dt = SIM_DT_FP32;
    assert_true(sim_hw_format_peak(hw_named("h100-sxm"), SIM_WF_NVFP4, &dt) > 0);
    assert_int_equal(dt, SIM_DT_BF16);
    assert_true(sim_hw_format_peak(hw_named("b200"), SIM_WF_NVFP4, &dt) > 0);
    assert_int_equal(dt, SIM_DT_FP4);
}

/* One device of hw, every weight in fmt: the check refuses exactly the unsupported pairs. */
static void check_eval(const sim_model *m, const sim_hw *hw, sim_wformat fmt)
{
    sim_deploy d;
    sim_deploy_defaults(&d, m, hw);
    sim_deploy_set_precision(&d, fmt);
    sim_err err = { 0 };
    const sim_split_req one = { 1, 1, 1, 1, 1 };
    assert_int_equal(sim_deploy_split(&d, &one, "", &err), SIM_OK);
    int rc = sim_deploy_check(&d, &err);
    if (sim_deploy_formats_supported(&d)) {
        if (rc != SIM_OK)
            fail_msg("%s %s: %s", hw->name, sim_wformat_name(fmt), err.msg);
        return;
    }
    assert_int_equal(rc, SIM_EINPUT);
    assert_non_null(strstr(err.msg, hw->name));
    assert_non_null(strstr(err.msg, "does not support"));
    assert_non_null(strstr(err.msg, "--emulate"));
    if (sim_hw_format_support(hw, fmt) == SIM_FMT_UNSUPPORTED)
        assert_non_null(strstr(err.msg, sim_wformat_name(fmt)));
    d.emulate = true;
    assert_int_equal(sim_deploy_check(&d, &err), SIM_OK);
    char emu[256];
    sim_deploy_emulated(&d, emu, sizeof emu);
    assert_true(emu[0] != 0);
}

static void test_search_never_proposes_unsupported(void **state)
{
    (void)state;
    sim_err err = { 0 };
    const sim_model *m = sim_session_model(test_session(), "deepseek-v2-lite", &err);
    assert_non_null(m);
    char names[64][80];
    int n = shipped(names, 64);
    for (int i = 0; i < n; i++) {
        const sim_hw *hw = hw_named(names[i]);
        sim_search_space s;
        sim_search_space_defaults(&s);
        s.model = m;
        s.hw[0] = hw;
        s.nhw = 1;
        sim_deploy_defaults(&s.tmpl, m, hw);
        s.serve.isl = 256;
        s.serve.osl = 64;
        s.max_gpus = 1;
        s.nconc = 1;
        long unsupported = 0;
        for (int w = 0; w < SIM_WF_COUNT; w++) {
            /* fill the list in batches of SIM_SEARCH_MAX_LIST */
            s.precisions[s.nprec++] = (sim_wformat)w;
            check_eval(m, hw, (sim_wformat)w);
            sim_deploy probe = s.tmpl;
            sim_deploy_set_precision(&probe, (sim_wformat)w);
            unsupported += !sim_deploy_formats_supported(&probe);
            if (s.nprec < SIM_SEARCH_MAX_LIST && w + 1 < SIM_WF_COUNT)
                continue;
            sim_search_result res = { 0 };
            int rc = sim_search_run_frontier(&s, &res, &err);
            assert_int_equal(res.unsupported, unsupported);
            for (long r = 0; rc == SIM_OK && r < res.nrows; r++) {
                if (sim_hw_format_support(res.rows[r].hw, res.rows[r].precision) == SIM_FMT_UNSUPPORTED ||
                    res.rows[r].emulated)
                    fail_msg("search proposed %s on %s", sim_wformat_name(res.rows[r].precision), hw->name);
            }
            sim_search_result_free(&res);
            s.nprec = 0;
            unsupported = 0;
        }
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_every_shipped_hwmodel_states_formats),
        cmocka_unit_test(test_pinned_facts),
        cmocka_unit_test(test_search_never_proposes_unsupported),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
