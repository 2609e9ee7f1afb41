/* bill_report.c: prices by kind and monthly bills (bill_report.h). */
#include "report/bill_report.h"

#include <math.h>
#include <string.h>

#include "base/jsonfile.h"

cJSON *sim_report_price(const sim_hw *hw, const sim_cost_opts *o)
{
    if (!o->kind)
        return NULL;
    cJSON *j = cJSON_CreateObject();
    if (!j)
        return NULL;
    cJSON_AddStringToObject(j, "kind", o->kind);
    const sim_price_row *row = sim_cost_rate_for(hw, o);
    if (row) {
        sim_json_add_num(j, "usd_per_gpu_hour", row->usd_per_gpu_hour);
        cJSON_AddStringToObject(j, "provider", row->provider);
        cJSON_AddStringToObject(j, "instance", row->instance);
        cJSON_AddStringToObject(j, "date", row->date);
        cJSON_AddStringToObject(j, "source", row->source);
        cJSON_AddStringToObject(j, "note", row->note);
    } else if (strcmp(o->kind, "tco") == 0) {
        sim_json_add_num(j, "usd_per_gpu_hour", hw->usd_per_hour);
        cJSON_AddStringToObject(j, "source", hw->price_source);
    } else {
        sim_json_add_num(j, "purchase_usd", hw->purchase_usd);
        sim_json_add_num(j, "lifetime_years", o->lifetime_years > 0 ? o->lifetime_years : hw->lifetime_years);
        sim_json_add_num(j, "usd_per_kwh", o->usd_per_kwh);
        sim_json_add_num(j, "pue", sim_cost_pue(hw, o));
        cJSON_AddStringToObject(j, "source", hw->price_source);
    }
    return j;
}

void sim_report_print_price(FILE *f, const sim_hw *hw, const sim_cost_opts *o)
{
    if (!o->kind)
        return;
    const sim_price_row *row = sim_cost_rate_for(hw, o);
    if (row)
        fprintf(f, "price: %s, %s %s: $%.2f per GPU-hour (%s); %s\n  source: %s\n", row->kind, row->provider,
                row->instance, row->usd_per_gpu_hour, row->date, row->note, row->source);
    else if (strcmp(o->kind, "tco") == 0)
        fprintf(f, "price: tco, the hwmodel's $%.2f per GPU-hour (%s)\n", hw->usd_per_hour, hw->price_source);
    else
        fprintf(f, "price: own, $%.0f per device over %g years + energy at $%.3f/kWh x PUE %.2f (%s)\n",
                hw->purchase_usd, o->lifetime_years > 0 ? o->lifetime_years : hw->lifetime_years, o->usd_per_kwh,
                sim_cost_pue(hw, o), hw->price_source);
}

double sim_report_api_month(const sim_api_price *api, const sim_bill *b, double isl, double osl)
{
    double req = b->mean_rps * 3600 * SIM_HOURS_PER_MONTH;
    return req * (isl * api->usd_per_mtok_input + osl * api->usd_per_mtok_output) / 1e6;
}

cJSON *sim_report_bill(const sim_bill *b, const char *model, double isl, double osl, const sim_prices *prices)
{
    cJSON *j = cJSON_CreateObject();
    if (!j)
        return NULL;
    sim_json_add_num(j, "requests_per_day", b->requests_per_day);
    sim_json_add_num(j, "peak_factor", b->peak_factor);
    cJSON_AddBoolToObject(j, "peak_factor_default", b->peak_factor_default);
    cJSON_AddStringToObject(j, "peak_factor_source", b->peak_source);
    sim_json_add_num(j, "mean_requests_per_s", b->mean_rps);
    sim_json_add_num(j, "peak_requests_per_s", b->peak_rps);
    sim_json_add_num(j, "replicas", b->replicas);
    sim_json_add_num(j, "capacity_requests_per_s", b->capacity_rps);
    sim_json_add_num(j, "utilization", b->utilization);
    cJSON_AddBoolToObject(j, "meets_slo", b->meets_slo);
    sim_json_add_num(j, "usd_per_hour", b->usd_per_hour);
    sim_json_add_num(j, "usd_per_day", b->usd_per_day);
    sim_json_add_num(j, "usd_per_month", b->usd_per_month);
    sim_json_add_num(j, "usd_per_mtok_input_at_load", b->usd_per_mtok_input);
    sim_json_add_num(j, "usd_per_mtok_output_at_load", b->usd_per_mtok_output);
    sim_json_add_num(j, "kwh_per_month", b->kwh_per_month);
    cJSON_AddStringToObject(j, "note", b->note);
    if (b->measured) { /* moesim serve: what the simulation measured at the peak */
        cJSON *m = cJSON_AddObjectToObject(j, "simulated_at_peak");
        sim_json_add_num(m, "peak_requests_per_s", b->peak_rps);
        sim_json_add_num(m, "served_requests_per_s", b->served_rps);
        sim_json_add_num(m, "busy_share", b->busy_share);
        sim_json_add_num(m, "output_tokens_per_s", b->output_tps);
        sim_json_add_num(m, "input_tokens_per_s", b->input_tps);
    }
    cJSON_AddItemToObject(j, "hosted_api", sim_report_api_rows(prices, model, b->requests_per_day, isl, osl));
    return j;
}

void sim_report_print_bill(FILE *f, const sim_bill *b, const char *model, double isl, double osl,
                           const sim_prices *prices)
{
    fprintf(f, "traffic: %g requests/day = %.4g req/s mean, peak x%.4g (%s%s) = %.4g req/s\n", b->requests_per_day,
            b->mean_rps, b->peak_factor, b->peak_source,
            b->peak_factor_default ? "; --peak-factor or --diurnal to change it" : "", b->peak_rps);
    fprintf(f, "%s: %s; utilization %.2g%% of what they carry at their largest batch (%.4g req/s)\n",
            b->measured ? "simulated" : "sized for the peak", b->note, 100 * b->utilization, b->capacity_rps);
    fprintf(f, "bill (every replica paid all month, idle or not): $%.2f/h, $%.0f/day, $%.0f/month; "
               "at the actual load $%.3f per M input and $%.3f per M output tokens; %.0f kWh/month "
               "(rated power x PUE: an upper bound)\n",
            b->usd_per_hour, b->usd_per_day, b->usd_per_month, b->usd_per_mtok_input, b->usd_per_mtok_output,
            b->kwh_per_month);
    sim_report_print_api(f, prices, model, b->requests_per_day, isl, osl);
    /* the answer in one line: which is cheaper here, and the traffic where they cross (the
     * self-hosted bill is flat until the replicas fill, the API's grows with the requests) */
    for (int i = 0; prices && i < prices->napi; i++) {
        const sim_api_price *a = &prices->api[i];
        if (strcmp(a->model, model) != 0)
            continue;
        double api = sim_report_api_month(a, b, isl, osl);
        double per_req = (isl * a->usd_per_mtok_input + osl * a->usd_per_mtok_output) / 1e6;
        double cross = b->usd_per_month / (per_req * SIM_HOURS_PER_MONTH / 24);
        fprintf(f, "verdict at %g requests/day: %s ($%.0f/month against $%.0f); the API's bill reaches this "
                   "deployment's at about %.3g requests/day%s\n",
                b->requests_per_day, api < b->usd_per_month ? "the hosted API is cheaper" : "self-hosting is cheaper",
                fmin(api, b->usd_per_month), fmax(api, b->usd_per_month), cross,
                cross * b->peak_factor / 86400 > b->capacity_rps ? " (more than these replicas carry at the peak: "
                                                                  "more replicas, a larger bill)" : "");
        break;
    }
}

cJSON *sim_report_api_rows(const sim_prices *prices, const char *model, double requests_per_day, double isl, double osl)
{
    cJSON *apis = cJSON_CreateArray();
    sim_bill b = { .requests_per_day = requests_per_day, .mean_rps = requests_per_day / 86400.0 };
    for (int i = 0; prices && apis && i < prices->napi; i++) {
        const sim_api_price *a = &prices->api[i];
        if (strcmp(a->model, model) != 0)
            continue;
        cJSON *o = cJSON_CreateObject();
        if (!o)
            break;
        cJSON_AddStringToObject(o, "provider", a->provider);
        cJSON_AddStringToObject(o, "api_model", a->api_model);
        sim_json_add_num(o, "usd_per_mtok_input", a->usd_per_mtok_input);
        sim_json_add_num(o, "usd_per_mtok_output", a->usd_per_mtok_output);
        sim_json_add_num(o, "usd_per_month", sim_report_api_month(a, &b, isl, osl));
        sim_json_add_num(o, "usd_per_request", (isl * a->usd_per_mtok_input + osl * a->usd_per_mtok_output) / 1e6);
        cJSON_AddStringToObject(o, "date", a->date);
        cJSON_AddStringToObject(o, "source", a->source);
        cJSON_AddItemToArray(apis, o);
    }
    return apis;
}

void sim_report_print_api(FILE *f, const sim_prices *prices, const char *model, double requests_per_day, double isl,
                          double osl)
{
    sim_bill b = { .requests_per_day = requests_per_day, .mean_rps = requests_per_day / 86400.0 };
    bool any = false;
    for (int i = 0; prices && i < prices->napi; i++) {
        const sim_api_price *a = &prices->api[i];
        if (strcmp(a->model, model) != 0)
            continue;
        if (!any)
            fprintf(f, "hosted API for the same traffic (list prices, cache-miss input, no batch discount):\n");
        any = true;
        fprintf(f, "  %s %s: $%.2f in / $%.2f out per M tokens -> $%.0f/month (%s; %s)\n", a->provider, a->api_model,
                a->usd_per_mtok_input, a->usd_per_mtok_output, sim_report_api_month(a, &b, isl, osl), a->date,
                a->source);
    }
    if (!any)
        fprintf(f, "hosted API: no price for %s in prices/apis.json\n", model);
}
