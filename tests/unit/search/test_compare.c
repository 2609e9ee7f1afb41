/* test_compare.c: checks sim/search/compare.c and the system mode of search.c: a merged
 * frontier keeps exactly the Pareto points in rising interactivity; a frontier is read
 * log-log between neighbours, at its first point below it and not at all above it; a system
 * search proposes only instances that divide the system, EP over every rank with the
 * redundant experts that make the slots divide, and no pipeline split under max_pp 1; the
 * ratios are B / A and NaN where one side cannot reach the level; a "native" precision entry
 * prices every weight class as the card's native_precision says (Kimi K2 Thinking's BF16
 * shared expert beside its INT4 routed ones), not every weight at the routed experts' format. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <math.h>
#include <string.h>

#include "cli/session.h"
#include "search/compare.h"

static sim_search_row pt(double x, double y)
{
    sim_search_row r;
    memset(&r, 0, sizeof r);
    r.output_tps_per_user = x;
    r.output_tps_per_gpu = y;
    r.usd_per_mtok_output = 1 / y;
    r.joules_per_output_token = NAN;
    return r;
}

static void test_pareto_keeps_the_frontier(void **state)
{
    (void)state;
    sim_search_row rows[] = { pt(10, 100), pt(20, 50), pt(20, 80), pt(5, 90), pt(40, 10), pt(30, 5) };
    sim_search_row out[6];
    long n = sim_compare_pareto(rows, 6, out);
    assert_int_equal(n, 3); /* (10,100), (20,80), (40,10); (5,90) and (20,50), (30,5) are dominated */
    assert_true(out[0].output_tps_per_user == 10 && out[0].output_tps_per_gpu == 100);
    assert_true(out[1].output_tps_per_user == 20 && out[1].output_tps_per_gpu == 80);
    assert_true(out[2].output_tps_per_user == 40 && out[2].output_tps_per_gpu == 10);
}

static void test_frontier_is_read_log_log(void **state)
{
    (void)state;
    sim_search_row rows[] = { pt(10, 1000), pt(40, 10) };
    double y, usd, j;
    long row;
    /* halfway in log x between 10 and 40 is 20: halfway in log y between 1000 and 10 is 100 */
    assert_true(sim_compare_at(rows, 2, 20, &y, &usd, &j, &row));
    assert_true(fabs(y - 100) < 1e-9 && fabs(usd - 0.01) < 1e-12);
    assert_int_equal(row, 1); /* the point that reaches 20 tokens/s per user */
    assert_true(isnan(j));     /* no power: NaN, never 0 */
    assert_true(sim_compare_at(rows, 2, 5, &y, &usd, &j, &row)); /* below: the first point serves it */
    assert_true(y == 1000 && row == 0);
    assert_false(sim_compare_at(rows, 2, 41, &y, &usd, &j, &row)); /* above: out of reach */
    assert_true(isnan(y) && row == -1);
}

static sim_search_space system_space(const char *hw, int gpus, sim_session *ses)
{
    sim_err err = { 0 };
    sim_search_space s;
    sim_search_space_defaults(&s);
    s.model = sim_session_model(ses, "deepseek-r1", &err);
    s.hw[0] = sim_session_hw(ses, hw, &err);
    assert_non_null(s.model);
    assert_non_null(s.hw[0]);
    s.nhw = 1;
    sim_deploy_defaults(&s.tmpl, s.model, s.hw[0]);
    sim_deploy_set_precision(&s.tmpl, SIM_WF_NVFP4);
    s.serve.isl = 1024;
    s.serve.osl = 1024;
    s.max_gpus = s.system_gpus = gpus;
    s.max_pp = 1;
    static const double conc[] = { 16 };
    s.nconc = 1;
    memcpy(s.conc_per_gpu, conc, sizeof conc);
    return s;
}

static void test_system_search_tiles_the_system(void **state)
{
    (void)state;
    sim_session *ses = sim_session_alloc();
    sim_search_space s = system_space("gb200-nvl72", 72, ses);
    s.disagg = true;
    sim_search_result r;
    sim_err err = { 0 };
    assert_int_equal(sim_search_run_frontier(&s, &r, &err), SIM_OK);
    assert_true(r.nrows > 0);
    for (long i = 0; i < r.nrows; i++) {
        const sim_search_row *w = &r.rows[i];
        assert_int_equal(72 % w->gpus, 0);
        assert_int_equal(w->pp, 1);
        assert_int_equal((256 + w->redundant_experts) % w->ep, 0);
    }
    /* 72 GPUs in one instance: powers-of-two EP (at most 8 here) leaves 9-way expert TP, which
     * 2048 does not divide, so only EP over every rank (with 32 redundant experts) passes */
    long evals, configs;
    sim_search_space one = s;
    one.disagg = false;
    one.min_gpus = 72;
    assert_int_equal(sim_search_count(&one, true, &evals, &configs, &err), SIM_OK);
    assert_true(configs > 0);
    one.system_gpus = 0;
    assert_int_equal(sim_search_count(&one, true, &evals, &configs, &err), SIM_OK);
    assert_int_equal(configs, 0);
    sim_search_result_free(&r);
    /* a system count that is not max_gpus is refused */
    s.max_gpus = 64;
    assert_int_equal(sim_search_run_frontier(&s, &r, &err), SIM_EINPUT);
    assert_non_null(strstr(err.msg, "equal max_gpus"));
    sim_session_free(ses);
}

static void test_ratios_are_b_over_a(void **state)
{
    (void)state;
    sim_session *ses = sim_session_alloc();
    sim_search_space a = system_space("h200", 8, ses), b = system_space("b200", 8, ses);
    static const double conc[] = { 1, 8, 64 };
    a.nconc = b.nconc = 3;
    memcpy(a.conc_per_gpu, conc, sizeof conc);
    memcpy(b.conc_per_gpu, conc, sizeof conc);
    sim_compare_system sys[2] = { { { &a }, 1 }, { { &b }, 1 } };
    sim_compare_result r;
    sim_err err = { 0 };
    assert_int_equal(sim_compare_run(sys, 10, &r, &err), SIM_OK);
    assert_true(r.nlevels > 0);
    int both = 0;
    for (int i = 0; i < r.nlevels; i++) {
        const sim_compare_level *l = &r.levels[i];
        if (l->ok[0] && l->ok[1]) {
            both++;
            assert_true(fabs(l->ratio_tps_gpu - l->tps_gpu[1] / l->tps_gpu[0]) < 1e-12 * l->ratio_tps_gpu);
            assert_true(fabs(l->ratio_usd - l->usd_per_mtok[1] / l->usd_per_mtok[0]) < 1e-12 * l->ratio_usd);
        } else {
            assert_true(isnan(l->ratio_tps_gpu));
        }
    }
    assert_true(both > 0);
    sim_compare_result_free(&r);
    sim_session_free(ses);
}

/* Kimi K2 Thinking ships INT4 (int4_g32) routed experts beside a BF16 shared expert, attention
 * and head. The "native" entry must be that checkpoint: the same frontier as the template left
 * at the card's formats, and not the one of int4_g32 for every weight (lighter shared expert
 * and attention: more KV room, faster decode). */
static void test_native_entry_is_the_checkpoint(void **state)
{
    (void)state;
    sim_session *ses = sim_session_alloc();
    sim_err err = { 0 };
    sim_search_space s;
    sim_search_space_defaults(&s);
    s.model = sim_session_model(ses, "kimi-k2-thinking", &err);
    s.hw[0] = sim_session_hw(ses, "h200", &err);
    assert_non_null(s.model);
    assert_non_null(s.hw[0]);
    assert_int_equal(s.model->native_experts, SIM_WF_INT4_G32);
    assert_int_equal(s.model->native_shared, SIM_WF_BF16);
    s.nhw = 1;
    sim_deploy_defaults(&s.tmpl, s.model, s.hw[0]); /* the card's formats, class by class */
    s.serve.isl = s.serve.osl = 1024;
    s.max_gpus = s.system_gpus = 8;
    s.max_pp = 1;
    s.nconc = 1;
    s.conc_per_gpu[0] = 16;
    sim_search_result base, native, flat;
    assert_int_equal(sim_search_run_frontier(&s, &base, &err), SIM_OK);
    sim_search_space n = s;
    sim_deploy_set_precision(&n.tmpl, SIM_WF_FP8); /* a template at another format: the entry overrides it */
    n.nprec = 1;
    n.precisions[0] = SIM_WF_INT4_G32;
    n.native[0] = true;
    assert_int_equal(sim_search_run_frontier(&n, &native, &err), SIM_OK);
    n.native[0] = false;
    assert_int_equal(sim_search_run_frontier(&n, &flat, &err), SIM_OK);
    assert_true(base.nrows > 0);
    assert_int_equal(native.nrows, base.nrows);
    for (long i = 0; i < base.nrows; i++) {
        assert_true(native.rows[i].native_formats && base.rows[i].native_formats);
        assert_int_equal(native.rows[i].precision, SIM_WF_INT4_G32);
        assert_string_equal(native.rows[i].split, base.rows[i].split);
        assert_true(native.rows[i].output_tps_per_gpu == base.rows[i].output_tps_per_gpu);
        assert_true(native.rows[i].output_tps_per_user == base.rows[i].output_tps_per_user);
    }
    /* int4_g32 for every weight is another deployment: not flagged native, and its best
     * tokens/s per GPU differs (a 4.5-bit shared expert and attention read faster than BF16) */
    double best_native = 0, best_flat = 0;
    for (long i = 0; i < native.nrows; i++)
        best_native = fmax(best_native, native.rows[i].output_tps_per_gpu);
    for (long i = 0; i < flat.nrows; i++) {
        assert_false(flat.rows[i].native_formats);
        best_flat = fmax(best_flat, flat.rows[i].output_tps_per_gpu);
    }
    assert_true(best_flat > best_native * 1.001);
    sim_search_result_free(&base);
    sim_search_result_free(&native);
    sim_search_result_free(&flat);
    sim_session_free(ses);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_pareto_keeps_the_frontier),
        cmocka_unit_test(test_frontier_is_read_log_log),
        cmocka_unit_test(test_system_search_tiles_the_system),
        cmocka_unit_test(test_ratios_are_b_over_a),
        cmocka_unit_test(test_native_entry_is_the_checkpoint),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
