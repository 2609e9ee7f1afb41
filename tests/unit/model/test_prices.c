/* test_prices.c: the price tables (prices/devices.json, prices/apis.json): every shipped row
 * loads with a date and a source, unknown fields and kinds are refused naming the field, and
 * the lookup picks the first row of a device and kind unless a provider is named. Also the
 * bill's arithmetic (cost.h sim_cost_bill): a month is 730 hours paid idle or not. */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "deploy/cost.h"
#include "model/prices.h"
#include "serve/serving.h"

static void test_shipped_rows_are_dated_and_sourced(void **state)
{
    (void)state;
    sim_prices p;
    sim_err err = { 0 };
    if (sim_prices_load_home(&p, &err))
        fail_msg("%s", err.msg);
    assert_true(p.ndev > 0 && p.napi > 0);
    for (int i = 0; i < p.ndev; i++) {
        assert_true(p.dev[i].date[0] && p.dev[i].source[0]);
        assert_true(p.dev[i].usd_per_gpu_hour > 0);
    }
    for (int i = 0; i < p.napi; i++)
        assert_true(p.api[i].date[0] && p.api[i].source[0] && p.api[i].usd_per_mtok_output > 0);
    const sim_price_row *first = sim_prices_find(&p, "h100-sxm", "on-demand", NULL);
    const sim_price_row *aws = sim_prices_find(&p, "h100-sxm", "on-demand", "aws");
    assert_non_null(first);
    assert_non_null(aws);
    assert_string_equal(aws->provider, "aws");
    /* AWS p5.48xlarge, the newest dated list price: $55.04 per instance-hour over 8 GPUs; the
     * pre-cut $98.32 stays reachable under its date */
    assert_true(fabs(aws->usd_per_gpu_hour - 55.04 / 8) < 0.01);
    const sim_price_row *old = sim_prices_find(&p, "h100-sxm", "on-demand", "aws:2026-q1");
    assert_non_null(old);
    assert_true(fabs(old->usd_per_gpu_hour - 98.32 / 8) < 0.01);
    /* the one 3-year commitment found with a date: GCP a3-highgpu-8g, $28,371.00 a month over 730 h and 8 GPUs */
    const sim_price_row *r3 = sim_prices_find(&p, "h100-sxm", "reserved-3y", NULL);
    assert_non_null(r3);
    assert_string_equal(r3->provider, "gcp");
    assert_true(fabs(r3->usd_per_gpu_hour - 28370.998 / 730 / 8) < 0.001);
    assert_null(sim_prices_find(&p, "h200", "reserved-3y", NULL));
    /* every device with a rent row: MI300X and A100 now have on-demand rows */
    assert_non_null(sim_prices_find(&p, "mi300x", "on-demand", NULL));
    assert_non_null(sim_prices_find(&p, "a100-sxm", "on-demand", NULL));
    assert_null(sim_prices_find(&p, "no-such-device", "on-demand", NULL));
    sim_prices_free(&p);
}

/* Write DIR/devices.json and DIR/apis.json and load them. */
static int load_text(const char *dev, const char *api, sim_err *err)
{
    char dir[] = "/tmp/moesim_prices_XXXXXX";
    if (!mkdtemp(dir))
        fail_msg("mkdtemp");
    char path[256];
    snprintf(path, sizeof path, "%s/devices.json", dir);
    FILE *f = fopen(path, "w");
    fputs(dev, f);
    fclose(f);
    char path2[256];
    snprintf(path2, sizeof path2, "%s/apis.json", dir);
    f = fopen(path2, "w");
    fputs(api, f);
    fclose(f);
    sim_prices p;
    int rc = sim_prices_load(dir, &p, err);
    if (!rc)
        sim_prices_free(&p);
    unlink(path);
    unlink(path2);
    rmdir(dir);
    return rc;
}

#define ROW(extra) "{\"rows\":[{\"hw\":\"h200\",\"kind\":\"spot\",\"provider\":\"x\",\"instance\":\"y\"," \
                   "\"usd_per_gpu_hour\":2,\"date\":\"2026\",\"source\":\"s\"" extra "}]}"
#define API "{\"rows\":[]}"

static void test_bad_rows_are_refused(void **state)
{
    (void)state;
    sim_err err = { 0 };
    assert_int_equal(load_text(ROW(""), API, &err), SIM_OK);
    assert_int_equal(load_text(ROW(",\"colour\":1"), API, &err), SIM_EINPUT);
    assert_non_null(strstr(err.msg, "colour"));
    assert_int_equal(load_text("{\"rows\":[{\"hw\":\"h200\",\"kind\":\"tco\",\"provider\":\"x\",\"instance\":\"y\","
                               "\"usd_per_gpu_hour\":2,\"date\":\"2026\",\"source\":\"s\"}]}", API, &err), SIM_EINPUT);
    assert_non_null(strstr(err.msg, "kind"));
    assert_int_equal(load_text("{\"rows\":[{\"hw\":\"h200\",\"kind\":\"spot\",\"provider\":\"x\",\"instance\":\"y\","
                               "\"usd_per_gpu_hour\":0,\"date\":\"2026\",\"source\":\"s\"}]}", API, &err), SIM_EINPUT);
    assert_non_null(strstr(err.msg, "usd_per_gpu_hour"));
    assert_int_equal(load_text("{\"rows\":[{\"hw\":\"h200\",\"kind\":\"spot\",\"provider\":\"x\",\"instance\":\"y\","
                               "\"usd_per_gpu_hour\":2,\"source\":\"s\"}]}", API, &err), SIM_EINPUT);
    assert_non_null(strstr(err.msg, "date"));
}

static void test_bill_pays_idle_time(void **state)
{
    (void)state;
    sim_bill b = { .requests_per_day = 8640, .mean_rps = 0.1, .capacity_rps = 1 };
    /* $10/h, 1 kW, PUE 1.5, 1,000 in / 100 out, prompts take 20% of device time */
    sim_cost_bill(&b, 10, 1000, 1.5, 1000, 100, 0.2);
    assert_true(fabs(b.usd_per_month - 7300) < 1e-9);
    assert_true(fabs(b.usd_per_day - 240) < 1e-9);
    assert_true(fabs(b.kwh_per_month - 1095) < 1e-9);
    assert_true(fabs(b.utilization - 0.1) < 1e-12);
    /* 0.1 req/s x 730 h x 3600 s = 262,800 requests: 262.8 M input and 26.28 M output tokens */
    assert_true(fabs(b.usd_per_mtok_input - 7300 * 0.2 / 262.8) < 1e-9);
    assert_true(fabs(b.usd_per_mtok_output - 7300 * 0.8 / 26.28) < 1e-9);
    /* ten times the traffic on the same deployment: the same bill, a tenth the price per token */
    sim_bill c = { .mean_rps = 1, .capacity_rps = 1 };
    sim_cost_bill(&c, 10, 1000, 1.5, 1000, 100, 0.2);
    assert_true(fabs(c.usd_per_month - b.usd_per_month) < 1e-9);
    assert_true(fabs(c.usd_per_mtok_output * 10 - b.usd_per_mtok_output) < 1e-9);
}

/* The default peak factor is the named coding profile's, and a profile's peak factor is its
 * peak hour over its mean hour; bad profiles are refused naming the option. */
static void test_diurnal_peak_factor(void **state)
{
    (void)state;
    double rate[SIM_DIURNAL_HOURS], pf;
    sim_err err = { 0 };
    assert_int_equal(sim_diurnal_named("azure-code-2024", rate, NULL, &err), SIM_OK);
    assert_int_equal(sim_diurnal_peak_factor(rate, &pf, &err), SIM_OK);
    assert_true(fabs(pf - SIM_DEFAULT_PEAK_FACTOR) < 2e-3);
    assert_int_equal(sim_diurnal_named("azure-conv-2024", rate, NULL, &err), SIM_OK);
    assert_int_equal(sim_diurnal_peak_factor(rate, &pf, &err), SIM_OK);
    assert_true(fabs(pf - 1.337) < 2e-3);
    for (int h = 0; h < SIM_DIURNAL_HOURS; h++) /* 12 busy hours at 3, 12 idle at 1: mean 2, peak 3 */
        rate[h] = h < 12 ? 3 : 1;
    assert_int_equal(sim_diurnal_peak_factor(rate, &pf, &err), SIM_OK);
    assert_true(fabs(pf - 1.5) < 1e-12);
    rate[5] = -1;
    assert_int_equal(sim_diurnal_peak_factor(rate, &pf, &err), SIM_EINPUT);
    assert_non_null(strstr(err.msg, "diurnal"));
    memset(rate, 0, sizeof rate);
    assert_int_equal(sim_diurnal_peak_factor(rate, &pf, &err), SIM_EINPUT);
    assert_int_equal(sim_diurnal_named("weekly", rate, NULL, &err), SIM_EINPUT);
    assert_non_null(strstr(err.msg, "azure-code-2024"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_shipped_rows_are_dated_and_sourced),
        cmocka_unit_test(test_bad_rows_are_refused),
        cmocka_unit_test(test_bill_pays_idle_time),
        cmocka_unit_test(test_diurnal_peak_factor),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
