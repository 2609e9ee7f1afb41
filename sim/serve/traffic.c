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
    b->peak_factor_assumed = !(t->peak_factor > 0);
    b->peak_factor = b->peak_factor_assumed ? SIM_DEFAULT_PEAK_FACTOR : t->peak_factor;
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
             b->peak_rps, "mean", b->peak_factor, b->peak_factor_assumed ? ", an assumed peak factor" : "",
             b->meets_slo ? "" : "; the SLO is not met even at one request in flight per replica");
    sim_cost_bill(b, ev->usd_per_hour, watts_of(d, o, R), sim_cost_pue(d->hw, &o->cost), o->isl, o->osl,
                  input_share(ev));
    return SIM_OK;
}

int sim_des_bill(const sim_deploy *d, const sim_des_opts *o, const sim_des_result *res, int replicas,
                 double requests_per_day, double peak_factor, bool peak_factor_assumed, sim_bill *b, sim_err *err)
{
    memset(b, 0, sizeof *b);
    if (!(requests_per_day > 0) || !(res->served_rps > 0))
        return sim_fail(err, SIM_EINPUT, "a bill needs a positive traffic and a run that served requests");
    int R = replicas > 0 ? replicas : 1;
    b->requests_per_day = requests_per_day;
    b->peak_factor = peak_factor;
    b->peak_factor_assumed = peak_factor_assumed;
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
             res->sustainable ? "" : "; NOT sustainable there: these replicas do not carry the traffic");
    sim_cost_bill(b, res->usd_per_hour, watts * R, sim_cost_pue(d->hw, &o->cost), so.isl, so.osl,
                  ev.fits ? input_share(&ev) : 0);
    return SIM_OK;
}
