/* test_search.c: checks sim/search/search.c: the space is counted before any evaluation and
 * a space over the limit is refused with its size (unless forced); each candidate
 * deployment is built exactly once; every frontier point is Pareto-optimal among the
 * points of its hardware; the cheapest configuration meeting an SLO is confirmed by
 * simulation, and an SLO nothing meets says so with the closest one; the front end's list
 * parsing (cli/search_request.c) rejects malformed values. Mixtral-8x7B FP8 on up to 2 GPUs
 * keeps it fast. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <math.h>
#include <string.h>

#include "cli/search_request.h"
#include "cli/session.h"
#include "report/search_report.h"
#include "search/search.h"

/* One session for the whole program: the cards it loads live until exit. */
static sim_session *test_session(void)
{
    static sim_session *s;
    if (!s)
        s = sim_session_alloc();
    return s;
}

/* The space the tests search: Mixtral-8x7B in FP8 on H100, isl 512 / osl 128, 1..2 GPUs. */
static sim_search_space small(void)
{
    sim_err err = { 0 };
    sim_search_space s;
    sim_search_space_defaults(&s);
    s.model = sim_session_model(test_session(), "mixtral-8x7b", &err);
    s.hw[0] = sim_session_hw(test_session(), "h100-sxm", &err);
    assert_non_null(s.model);
    assert_non_null(s.hw[0]);
    s.nhw = 1;
    sim_deploy_defaults(&s.tmpl, s.model, s.hw[0]);
    sim_deploy_set_precision(&s.tmpl, SIM_WF_FP8);
    s.serve.isl = 512;
    s.serve.osl = 128;
    s.max_gpus = 2;
    return s;
}

/* The cheapest question at `rate`, with 1000 requests to confirm (search's default: the
 * confirmation must reach a steady state to call the rate sustainable, issue 15). */
static sim_search_space cheap(double rate, double slo_ttft_s, double slo_tpot_s)
{
    sim_search_space s = small();
    s.rate = rate;
    s.slo_ttft_s = slo_ttft_s;
    s.slo_tpot_s = slo_tpot_s;
    s.des.slo_ttft_s = slo_ttft_s;
    s.des.slo_tpot_s = slo_tpot_s;
    s.workload = (sim_wl_opts){ .requests = 1000, .rate = rate, .burstiness = 1, .seed = 20250101,
                                .isl = { SIM_LEN_FIXED, 512, 0.5, 8192 }, .osl = { SIM_LEN_FIXED, 128, 0.5, 2048 } };
    return s;
}

static void test_size_and_limit(void **state)
{
    (void)state;
    sim_search_space s = small();
    long evals, configs;
    sim_err err = { 0 };
    /* by default no pipeline split: 1 GPU: one split; 2 GPUs: tp2 (ep 1, 2), dp2 (ep 1, 2) */
    assert_int_equal(sim_search_count(&s, true, &evals, &configs, &err), 0);
    assert_int_equal(configs, 5);
    /* with pipeline splits allowed: also pp2 (ep 1); 6 configurations */
    s.max_pp = 0;
    assert_int_equal(sim_search_count(&s, true, &evals, &configs, &err), 0);
    assert_int_equal(configs, 6);
    assert_int_equal(evals, 6 * s.nconc);
    s.limit = 10;
    sim_search_result res;
    assert_int_equal(sim_search_run_frontier(&s, &res, &err), SIM_EINPUT);
    assert_non_null(strstr(err.msg, "space holds 54 evaluations (6 configurations x concurrency points)"));
    assert_non_null(strstr(err.msg, "limit of 10"));
    s.force = true;
    assert_int_equal(sim_search_run_frontier(&s, &res, &err), 0);
    sim_search_result_free(&res);
}

/* Each candidate's deployment is built once: while counting, and again once per search,
 * whose evaluation and DES confirm reuse it. Over a space with two hardware, two precisions,
 * two token caps and prefill pools. */
static void test_deploys_once(void **state)
{
    (void)state;
    sim_search_space s = small();
    s.max_pp = 0; /* pipeline splits too: a larger space */
    sim_err err = { 0 };
    s.hw[1] = sim_session_hw(test_session(), "h200", &err);
    s.nhw = 2;
    s.precisions[0] = SIM_WF_FP8;
    s.precisions[1] = SIM_WF_NVFP4;
    s.nprec = 2;
    s.mbt[0] = 4096;
    s.mbt[1] = 8192;
    s.nmbt = 2;
    s.max_gpus = 4;
    s.disagg = true;
    long evals, configs;
    assert_int_equal(sim_search_count(&s, true, &evals, &configs, &err), 0);
    sim_search_result res;
    assert_int_equal(sim_search_run_frontier(&s, &res, &err), 0);
    assert_int_equal(res.configs, configs);
    assert_true(res.configs > 200);
    assert_int_equal(res.deploys, res.configs + res.invalid);
    sim_search_result_free(&res);

    /* with splits the checks reject (EP 16 over Mixtral's 8 experts) */
    sim_search_space w = small();
    w.max_gpus = 16;
    assert_int_equal(sim_search_run_frontier(&w, &res, &err), 0);
    assert_true(res.invalid > 0);
    assert_int_equal(res.deploys, res.configs + res.invalid);
    sim_search_result_free(&res);

    sim_search_space c = cheap(5, 1, 0.05);
    c.hw[1] = s.hw[1];
    c.nhw = 2;
    c.disagg = true;
    c.confirm = 2;
    assert_int_equal(sim_search_run_cheapest(&c, &res, &err), 0);
    assert_true(res.nconfirmed >= 1);
    assert_int_equal(res.deploys, res.configs + res.invalid);
    sim_search_result_free(&res);
}

static void test_frontier_is_pareto(void **state)
{
    (void)state;
    sim_search_space s = small();
    s.max_pp = 0; /* pipeline splits too: a larger space */
    sim_err err = { 0 };
    s.hw[1] = sim_session_hw(test_session(), "h200", &err);
    s.nhw = 2;
    sim_search_result res;
    assert_int_equal(sim_search_run_frontier(&s, &res, &err), 0);
    assert_true(res.frontier);
    assert_true(res.nrows >= 4);
    assert_true(res.points >= res.nrows);
    /* within a hardware, interactivity rises and throughput per GPU falls along the list */
    int hws = 0;
    for (long i = 0; i < res.nrows; i++) {
        const sim_search_row *a = &res.rows[i], *b = i ? &res.rows[i - 1] : NULL;
        if (!b || a->hw != b->hw) {
            hws++;
        } else {
            assert_true(a->output_tps_per_user > b->output_tps_per_user);
            assert_true(a->output_tps_per_gpu < b->output_tps_per_gpu);
        }
    }
    assert_int_equal(hws, 2);
    /* the JSON carries the same rows */
    cJSON *j = sim_search_report_json(&res);
    const cJSON *f = cJSON_GetObjectItemCaseSensitive(j, "frontier");
    assert_int_equal(cJSON_GetArraySize(f), res.nrows);
    assert_string_equal(cJSON_GetObjectItemCaseSensitive(cJSON_GetArrayItem(f, 0), "split")->valuestring,
                        res.rows[0].split);
    cJSON_Delete(j);
    sim_search_result_free(&res);
}

static void test_cheapest(void **state)
{
    (void)state;
    sim_search_space s = cheap(5, 1, 0.05);
    sim_err err = { 0 };
    sim_search_result res;
    assert_int_equal(sim_search_run_cheapest(&s, &res, &err), 0);
    assert_true(res.met);
    assert_true(res.best >= 0);
    const sim_search_row *best = &res.rows[res.best];
    assert_true(best->simulated && best->sim.meets_slo);
    assert_true(best->sim.tpot_p99_s <= 0.05);
    /* nothing is cheaper among the steady-state feasible ones: the ranking is by cost */
    assert_true(res.rows[0].usd_per_hour <= best->usd_per_hour + 1e-9);
    cJSON *j = sim_search_report_json(&res);
    const cJSON *sim = cJSON_GetObjectItemCaseSensitive(cJSON_GetObjectItemCaseSensitive(j, "best"), "simulated");
    assert_true(cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(sim, "meets_slo")));
    assert_true(cJSON_GetArraySize(cJSON_GetObjectItemCaseSensitive(j, "ranked")) <= 10);
    cJSON_Delete(j);
    sim_search_result_free(&res);

    s = cheap(5, 1, 1e-5); /* no hardware decodes a token in 10 us */
    assert_int_equal(sim_search_run_cheapest(&s, &res, &err), 0);
    assert_false(res.met);
    assert_true(res.closest >= 0);
    assert_non_null(strstr(res.message, "no configuration meets the SLO"));
    sim_search_result_free(&res);

    s = cheap(0, 1, 0.05);
    assert_int_equal(sim_search_run_cheapest(&s, &res, &err), SIM_EINPUT);
    assert_non_null(strstr(err.msg, "positive rate"));
    s = cheap(1, 0, 0);
    assert_int_equal(sim_search_run_cheapest(&s, &res, &err), SIM_EINPUT);
    assert_non_null(strstr(err.msg, "slo_ttft_s"));
}

/* The front end: lists, bounds and card names. */
static sim_request request(void)
{
    sim_request r;
    sim_request_defaults(&r);
    sim_err err = { 0 };
    assert_int_equal(sim_request_set_text(&r, "model", "mixtral-8x7b", &err), 0);
    assert_int_equal(sim_request_set_text(&r, "hw", "h100-sxm", &err), 0);
    assert_int_equal(sim_request_set_text(&r, "precision", "fp8", &err), 0);
    r.isl = 512;
    r.osl = 128;
    return r;
}

static void test_lists(void **state)
{
    (void)state;
    cli_search_opts o;
    cli_search_defaults(&o);
    sim_err err = { 0 };
    assert_int_equal(cli_search_parse_list("2048,8192", "mbt", &o, &err), 0);
    assert_int_equal(o.nmbt, 2);
    assert_int_equal(o.mbt[1], 8192);
    assert_int_equal(cli_search_parse_list("2048,abc", "mbt", &o, &err), SIM_EINPUT);
    assert_non_null(strstr(err.msg, "positive integers (got 'abc')"));
    assert_int_equal(cli_search_parse_list("fp8,", "precisions", &o, &err), SIM_EINPUT);
    assert_int_equal(cli_search_parse_list("1,-2", "concurrency_per_gpu", &o, &err), SIM_EINPUT);
    o.max_gpus = 0;
    sim_request r = request();
    sim_search_result res;
    assert_int_equal(cli_search_run(test_session(), &r, &o, true, &res, &err), SIM_EINPUT);
    cli_search_defaults(&o);
    sim_request_set_text(&r, "model", "mixtrall-8x7b", &err);
    assert_int_equal(cli_search_run(test_session(), &r, &o, true, &res, &err), SIM_EINPUT);
    /* the front end's space matches the one built by hand, as the search sees it */
    r = request();
    cli_search_defaults(&o);
    o.max_gpus = 2;
    assert_int_equal(cli_search_run(test_session(), &r, &o, true, &res, &err), 0);
    sim_search_space s = small();
    sim_search_result mine;
    assert_int_equal(sim_search_run_frontier(&s, &mine, &err), 0);
    assert_int_equal(res.nrows, mine.nrows);
    for (long i = 0; i < res.nrows; i++)
        assert_true(res.rows[i].output_tps_per_gpu == mine.rows[i].output_tps_per_gpu);
    sim_search_result_free(&res);
    sim_search_result_free(&mine);
    /* an unknown precision in the list is refused by name */
    assert_int_equal(cli_search_parse_list("fp8,fp9", "precisions", &o, &err), 0);
    assert_int_equal(cli_search_run(test_session(), &r, &o, true, &res, &err), SIM_EINPUT);
    assert_non_null(strstr(err.msg, "unknown precision 'fp9'"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_size_and_limit),
        cmocka_unit_test(test_deploys_once),
        cmocka_unit_test(test_frontier_is_pareto),
        cmocka_unit_test(test_cheapest),
        cmocka_unit_test(test_lists),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
