/* traffic.c: a deployment sized for a daily traffic (serving.h, sim_serve_size_for_traffic):
 * replicas for the peak rate at the SLO, and the monthly bill with the idle time paid for. */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "serve/des.h"
#include "serve/serving.h"

static bool meets(const sim_traffic *t, const sim_eval *ev)
{
    return (!(t->slo_ttft_s > 0) || ev->ttft_s <= t->slo_ttft_s) && (!(t->slo_tpot_s > 0) || ev->tpot_s <= t->slo_tpot_s);
}

/* The share of the bill prompt tokens take: as serving.c splits the hourly cost. */
static double input_share(const sim_eval *ev)
{
    double in = ev->usd_per_mtok_input * ev->input_tps, out = ev->usd_per_mtok_output * ev->output_tps;
    return in + out > 0 && isfinite(in + out) ? in / (in + out) : 0;
}

static double watts_of(const sim_deploy *d, const sim_serve_opts *o, int R)
{
    double w = sim_cost_watts(d->hw, d->gpus);
    if (o->prefill)
        w += sim_cost_watts(o->prefill->hw, o->prefill->gpus);
    return w * R;
}

int sim_serve_size_for_traffic(const sim_deploy *d, sim_serve_opts *o, const sim_traffic *t, sim_eval *ev,
                               sim_bill *b, sim_err *err)
{
    memset(b, 0, sizeof *b);
    if (!(t->requests_per_day > 0))
        return sim_fail(err, SIM_EINPUT, "option 'requests_per_day' must be > 0 to size a deployment (got %g)",
                        t->requests_per_day);
    b->requests_per_day = t->requests_per_day;
    b->peak_factor_default = !(t->peak_factor > 0);
    b->peak_factor = b->peak_factor_default ? SIM_DEFAULT_PEAK_FACTOR : t->peak_factor;
    snprintf(b->peak_source, sizeof b->peak_source, "%s",
             b->peak_factor_default || !t->peak_source[0] ? SIM_DEFAULT_PEAK_SOURCE : t->peak_source);
    b->mean_rps = t->requests_per_day / 86400.0;
    b->peak_rps = b->mean_rps * b->peak_factor;
    int R = 1, rc;
    sim_rate_point pt = { 0 };
    for (int iter = 0; iter < 256; iter++) {
        o->replicas = 1;
        if ((rc = sim_serve_at_rate(d, o, b->peak_rps / R, &pt, err)))
            return rc;
        if (!isfinite(pt.capacity_rps)) { /* does not fit: the evaluation says why */
            o->concurrency = 1;
            return sim_serve_eval(d, o, ev, err);
        }
        if (!pt.reached) {
            int need = (int)ceil(b->peak_rps / pt.capacity_rps);
            R = need > R ? need : R + 1;
            continue;
        }
        o->replicas = R;
        o->concurrency = pt.concurrency * R;
        if ((rc = sim_serve_eval(d, o, ev, err)))
            return rc;
        b->meets_slo = meets(t, ev);
        /* at one request in flight per replica more replicas no longer lower the latency */
        if (b->meets_slo || pt.concurrency <= 1 || R >= 1 << 20)
            break;
        R++;
    }
    b->replicas = R;
    b->capacity_rps = R * pt.capacity_rps;
    snprintf(b->note, sizeof b->note, "%d replica%s for the peak %.3g req/s (%s x %g%s)%s", R, R == 1 ? "" : "s",
             b->peak_rps, "mean", b->peak_factor, b->peak_factor_default ? ", the default peak factor" : "",
             b->meets_slo ? "" : "; the SLO is not met even at one request in flight per replica");
    sim_cost_bill(b, ev->usd_per_hour, watts_of(d, o, R), sim_cost_pue(d->hw, &o->cost), o->isl, o->osl,
                  input_share(ev));
    return SIM_OK;
}

int sim_des_bill(const sim_deploy *d, const sim_des_opts *o, const sim_des_result *res, int replicas,
                 double requests_per_day, double peak_factor, const char *peak_source, sim_bill *b, sim_err *err)
{
    memset(b, 0, sizeof *b);
    if (!(requests_per_day > 0) || !(res->served_rps > 0))
        return sim_fail(err, SIM_EINPUT, "a bill needs a positive traffic and a run that served requests");
    int R = replicas > 0 ? replicas : 1;
    b->requests_per_day = requests_per_day;
    b->peak_factor = peak_factor;
    b->peak_factor_default = !peak_source;
    snprintf(b->peak_source, sizeof b->peak_source, "%s", peak_source ? peak_source : SIM_DEFAULT_PEAK_SOURCE);
    b->mean_rps = requests_per_day / 86400.0;
    b->peak_rps = b->mean_rps * peak_factor;
    b->replicas = R;
    b->capacity_rps = isfinite(res->capacity_rps) && res->capacity_rps > 0 ? res->capacity_rps : NAN;
    b->measured = true;
    b->busy_share = res->utilization;
    b->served_rps = res->served_rps;
    b->output_tps = res->output_tps;
    b->input_tps = res->input_tps;
    b->meets_slo = res->sustainable && (!(o->slo_ttft_s > 0) || res->ttft.p99 <= o->slo_ttft_s) &&
                   (!(o->slo_tpot_s > 0) || res->tpot.p99 <= o->slo_tpot_s);
    /* the prompt tokens' share of device time, as eval splits it, at the run's mean load */
    sim_serve_opts so;
    sim_serve_defaults(&so);
    so.isl = res->input_tps / res->served_rps;
    so.osl = res->output_tps / res->served_rps;
    so.concurrency = fmax(1, res->mean_in_system / R);
    so.cost = o->cost;
    so.prefill = o->prefill;
    so.prefill_instances = o->prefill_instances;
    so.decode_instances = o->decode_instances;
    so.spec_tokens = o->spec_tokens;
    so.spec_accept = o->spec_accept;
    so.prefix_hit = o->prefix_hit;
    sim_eval ev;
    int rc = sim_serve_eval(d, &so, &ev, err);
    if (rc)
        return rc;
    int X = o->prefill && o->prefill_instances > 0 ? o->prefill_instances : 1;
    int Y = o->prefill && o->decode_instances > 0 ? o->decode_instances : 1;
    double watts = sim_cost_watts(d->hw, Y * d->gpus) + (o->prefill ? sim_cost_watts(o->prefill->hw, X * o->prefill->gpus) : 0);
    snprintf(b->note, sizeof b->note, "%d replica%s at the peak: %.4g req/s offered (as drawn), %.4g served, busy %.3g%% "
             "of the time%s", R, R == 1 ? "" : "s", res->offered_rate, b->served_rps, 100 * b->busy_share,
             res->verdict == SIM_DES_SUSTAINABLE ? ""
             : res->verdict == SIM_DES_NOT_SUSTAINABLE ? "; NOT sustainable there: these replicas do not carry the traffic"
                                                       : "; whether they carry it is undetermined (the run is too short)");
    sim_cost_bill(b, res->usd_per_hour, watts * R, sim_cost_pue(d->hw, &o->cost), so.isl, so.osl,
                  ev.fits ? input_share(&ev) : 0);
    return SIM_OK;
}

/* Named diurnal profiles: requests per hour of day (UTC), relative to the mean hour, from the
 * Azure LLM inference trace 2024 (Azure/AzurePublicDataset AzureLLMInferenceDataset2024.md,
 * one week of production requests, May 10-18 2024; Stojkovic et al., "DynamoLLM", HPCA 2025).
 * Arithmetic: the trace's requests counted per hour (from its per-10-second counts as
 * processed in cybsbbb/LLM_energy_optimization_rl data/llm_inference_trace/processed/2024/
 * invocations_ten_second_{Coding,Conversation}.csv, commit 12c71903; totals 16,803,695 and
 * 27,303,999 requests, the trace's own counts; daily peak-to-trough 8.6-11.3 and 1.8-2.2 as a
 * published analysis of the full CSVs finds), averaged per hour of day over the five full
 * weekdays of each service, divided by the mean of the 24 averages, rounded to 3 decimals.
 * Peak over mean: coding 2.236 (daily 2.14-2.32), conversation 1.337 (daily 1.25-1.39). */
static const struct {
    const char *name, *source;
    double rate[SIM_DIURNAL_HOURS];
} diurnal[] = {
    { "azure-code-2024", "Azure LLM inference trace 2024, coding service, weekday mean profile (UTC hours)",
      { 0.704, 0.678, 0.637, 0.518, 0.412, 0.341, 0.293, 0.246, 0.229, 0.235, 0.251, 0.366,
        0.684, 1.176, 1.674, 1.835, 1.736, 1.979, 2.189, 2.236, 2.106, 1.531, 1.113, 0.829 } },
    { "azure-conv-2024", "Azure LLM inference trace 2024, conversation service, weekday mean profile (UTC hours)",
      { 0.890, 0.964, 0.964, 0.791, 0.799, 0.867, 1.010, 1.081, 1.111, 1.080, 0.980, 1.027,
        1.142, 1.273, 1.337, 1.249, 1.136, 1.078, 1.082, 1.020, 0.931, 0.770, 0.696, 0.721 } },
    { "flat", "a constant rate all day (peak factor 1)",
      { 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1 } },
};

int sim_diurnal_named(const char *name, double rate[SIM_DIURNAL_HOURS], const char **source, sim_err *err)
{
    for (size_t i = 0; i < sizeof diurnal / sizeof diurnal[0]; i++)
        if (strcmp(diurnal[i].name, name) == 0) {
            memcpy(rate, diurnal[i].rate, sizeof diurnal[i].rate);
            if (source)
                *source = diurnal[i].source;
            return SIM_OK;
        }
    return sim_fail(err, SIM_EINPUT, "option 'diurnal': unknown profile '%s' (azure-code-2024, azure-conv-2024, "
                    "flat, or a file of 24 hourly rates)", name);
}

int sim_diurnal_peak_factor(const double rate[SIM_DIURNAL_HOURS], double *peak_factor, sim_err *err)
{
    double sum = 0, max = 0;
    for (int h = 0; h < SIM_DIURNAL_HOURS; h++) {
        if (!isfinite(rate[h]) || rate[h] < 0)
            return sim_fail(err, SIM_EINPUT, "option 'diurnal': hour %d's rate must be a finite number >= 0 (got %g)",
                            h, rate[h]);
        sum += rate[h];
        max = fmax(max, rate[h]);
    }
    if (!(sum > 0))
        return sim_fail(err, SIM_EINPUT, "option 'diurnal': at least one hour's rate must be positive");
    *peak_factor = max / (sum / SIM_DIURNAL_HOURS);
    return SIM_OK;
}
