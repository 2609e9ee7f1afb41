/* traffic.c: a deployment sized for a daily traffic (serving.h, sim_serve_size_for_traffic):
 * replicas for the peak rate at the SLO, and the monthly bill with the idle time paid for. */
#include <math.h>
#include <stdio.h>
#include <string.h>

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
