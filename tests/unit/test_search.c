/* test_search.c: checks sim/search.c: the space is counted before any evaluation and a
 * space over the limit is refused with its size (unless forced); every frontier point is
 * Pareto-optimal among the points of its hardware; the cheapest configuration meeting an
 * SLO is confirmed by simulation, and an SLO nothing meets says so with the closest one;
 * list parsing rejects malformed values. Mixtral-8x7B FP8 on up to 2 GPUs keeps it fast. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <math.h>
#include <string.h>

#include "search/search.h"

/* One session for the whole program: the cards it loads live until exit. */
static sim_session *test_session(void)
{
    static sim_session *s;
    if (!s)
        s = sim_session_alloc();
    return s;
}

static sim_request base(void)
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

static sim_search_opts small(void)
{
    sim_search_opts o;
    sim_search_defaults(&o);
    o.max_gpus = 2;
    return o;
}

static double num(const cJSON *o, const char *k)
{
    const cJSON *it = cJSON_GetObjectItemCaseSensitive(o, k);
    assert_true(cJSON_IsNumber(it));
    return it->valuedouble;
}

static void test_size_and_limit(void **state)
{
    (void)state;
    sim_request r = base();
    sim_search_opts o = small();
    long evals, configs;
    sim_err err = { 0 };
    assert_int_equal(sim_search_size(test_session(), &r, &o, true, &evals, &configs, &err), 0);
    /* 1 GPU: one split; 2 GPUs: tp2 (ep 1, 2), pp2 (ep 1), dp2 (ep 1, 2) = 5; 6 configurations */
    assert_int_equal(configs, 6);
    assert_int_equal(evals, 6 * o.nconc);
    o.limit = 10;
    cJSON *res = NULL;
    assert_int_equal(sim_search_frontier(test_session(), &r, &o, &res, &err), SIM_EINPUT);
    assert_non_null(strstr(err.msg, "space holds 54 evaluations (6 configurations x concurrency points)"));
    assert_non_null(strstr(err.msg, "limit of 10"));
    o.force = true;
    assert_int_equal(sim_search_frontier(test_session(), &r, &o, &res, &err), 0);
    cJSON_Delete(res);
}

static void test_frontier_is_pareto(void **state)
{
    (void)state;
    sim_request r = base();
    sim_search_opts o = small();
    sim_err err = { 0 };
    assert_int_equal(sim_search_parse_list("h100-sxm,h200", "hw", &o, &err), 0);
    cJSON *res = NULL;
    assert_int_equal(sim_search_frontier(test_session(), &r, &o, &res, &err), 0);
    const cJSON *f = cJSON_GetObjectItemCaseSensitive(res, "frontier");
    assert_true(cJSON_GetArraySize(f) >= 4);
    assert_true(num(res, "points") >= cJSON_GetArraySize(f));
    /* within a hardware, interactivity rises and throughput per GPU falls along the list */
    const cJSON *a, *b = NULL;
    int hws = 0;
    cJSON_ArrayForEach(a, f)
    {
        const char *hw = cJSON_GetObjectItemCaseSensitive(a, "hw")->valuestring;
        if (!b || strcmp(hw, cJSON_GetObjectItemCaseSensitive(b, "hw")->valuestring) != 0) {
            hws++;
        } else {
            assert_true(num(a, "output_tokens_per_s_per_user") > num(b, "output_tokens_per_s_per_user"));
            assert_true(num(a, "output_tokens_per_s_per_gpu") < num(b, "output_tokens_per_s_per_gpu"));
        }
        b = a;
    }
    assert_int_equal(hws, 2);
    cJSON_Delete(res);
}

static void test_cheapest(void **state)
{
    (void)state;
    sim_request r = base();
    r.rate = 5;
    r.requests = 200;
    r.slo_ttft_s = 1;
    r.slo_tpot_s = 0.05;
    sim_search_opts o = small();
    sim_err err = { 0 };
    cJSON *res = NULL;
    assert_int_equal(sim_search_cheapest(test_session(), &r, &o, &res, &err), 0);
    assert_true(cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(res, "met")));
    const cJSON *best = cJSON_GetObjectItemCaseSensitive(res, "best");
    const cJSON *sim = cJSON_GetObjectItemCaseSensitive(best, "simulated");
    assert_true(cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(sim, "meets_slo")));
    assert_true(num(sim, "tpot_p99_s") <= 0.05);
    /* nothing is cheaper among the steady-state feasible ones: the ranking is by cost */
    const cJSON *ranked = cJSON_GetObjectItemCaseSensitive(res, "ranked");
    assert_true(num(cJSON_GetArrayItem(ranked, 0), "usd_per_hour") <= num(best, "usd_per_hour") + 1e-9);
    cJSON_Delete(res);

    r.slo_tpot_s = 1e-5; /* no hardware decodes a token in 10 us */
    assert_int_equal(sim_search_cheapest(test_session(), &r, &o, &res, &err), 0);
    assert_false(cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(res, "met")));
    assert_non_null(cJSON_GetObjectItemCaseSensitive(res, "closest"));
    assert_non_null(strstr(cJSON_GetObjectItemCaseSensitive(res, "message")->valuestring,
                           "no configuration meets the SLO"));
    cJSON_Delete(res);

    r.rate = 0;
    assert_int_equal(sim_search_cheapest(test_session(), &r, &o, &res, &err), SIM_EINPUT);
    assert_non_null(strstr(err.msg, "positive rate"));
    r.rate = 1;
    r.slo_ttft_s = r.slo_tpot_s = 0;
    assert_int_equal(sim_search_cheapest(test_session(), &r, &o, &res, &err), SIM_EINPUT);
    assert_non_null(strstr(err.msg, "slo_ttft_s"));
}

static void test_lists(void **state)
{
    (void)state;
    sim_search_opts o;
    sim_search_defaults(&o);
    sim_err err = { 0 };
    assert_int_equal(sim_search_parse_list("2048,8192", "mbt", &o, &err), 0);
    assert_int_equal(o.nmbt, 2);
    assert_int_equal(o.mbt[1], 8192);
    assert_int_equal(sim_search_parse_list("2048,abc", "mbt", &o, &err), SIM_EINPUT);
    assert_non_null(strstr(err.msg, "positive integers (got 'abc')"));
    assert_int_equal(sim_search_parse_list("fp8,", "precisions", &o, &err), SIM_EINPUT);
    assert_int_equal(sim_search_parse_list("1,-2", "concurrency_per_gpu", &o, &err), SIM_EINPUT);
    o.max_gpus = 0;
    sim_request r = base();
    long e, c;
    assert_int_equal(sim_search_size(test_session(), &r, &o, true, &e, &c, &err), SIM_EINPUT);
    sim_search_defaults(&o);
    sim_request_set_text(&r, "model", "mixtrall-8x7b", &err);
    assert_int_equal(sim_search_size(test_session(), &r, &o, true, &e, &c, &err), SIM_EINPUT);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_size_and_limit),
        cmocka_unit_test(test_frontier_is_pareto),
        cmocka_unit_test(test_cheapest),
        cmocka_unit_test(test_lists),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
