/* serve_request.c: the option table (request.h) to a discrete-event simulation and back:
 * the deployment, the workload, the simulator's options and replicas from a request; the
 * progress line is the front end's (the core only calls back). */
#include "cli/serve_request.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "base/progress.h"
#include "report/bill_report.h"

static int length_law(const char *name, const char *opt, double mean, double cv, int max, sim_len_dist *out,
                      sim_err *err)
{
    out->kind = SIM_LEN_FIXED;
    if (name[0] && sim_len_kind_parse(name, &out->kind))
        return sim_fail(err, SIM_EINPUT, "option '%s': unknown length law '%s' (one of fixed, uniform, exponential, "
                                         "lognormal)", opt, name);
    out->mean = mean;
    out->cv = cv;
    out->max = max;
    return SIM_OK;
}

/* The checks every workload passes, trace or not. */
static int check_arrival(const sim_request *r, sim_err *err)
{
    if (r->arrival[0] && strcasecmp(r->arrival, "trace") && strcasecmp(r->arrival, "poisson") &&
        strcasecmp(r->arrival, "gamma"))
        return sim_fail(err, SIM_EINPUT, "option 'arrival' must be poisson, gamma or trace (got '%s')", r->arrival);
    if (r->requests < 0)
        return sim_fail(err, SIM_EINPUT, "option 'requests' must be >= 1 (got %d)", r->requests);
    return SIM_OK;
}

static bool is_trace(const sim_request *r)
{
    return r->trace[0] || strcasecmp(r->arrival, "trace") == 0;
}

int cli_serve_wl_opts(const sim_request *r, int max_context, sim_wl_opts *o, sim_err *err)
{
    int rc = check_arrival(r, err);
    if (rc)
        return rc;
    if (is_trace(r))
        return sim_fail(err, SIM_EINPUT, r->trace[0] ? "a trace replays its own arrivals; use rate with isl/osl here"
                                                     : "arrival 'trace' needs the option 'trace' (a CSV file)");
    bool gamma = strcasecmp(r->arrival, "gamma") == 0;
    if (!gamma && r->burstiness != 1)
        return sim_fail(err, SIM_EINPUT, "option 'burstiness' needs arrival 'gamma' (Poisson arrivals have none)");
    if (!(r->rate > 0))
        return sim_fail(err, SIM_EINPUT, "option 'rate' must be a positive number of requests per second (got %g)",
                        r->rate);
    if (!(r->isl >= 1) || !(r->osl >= 1))
        return sim_fail(err, SIM_EINPUT, "isl and osl must be >= 1 token (got %g and %g)", r->isl, r->osl);
    /* Draws stay under 16x the mean and within the model's context. */
    int cap_i = (int)fmin(fmax(r->isl, fmin(16 * r->isl, max_context)), 1e8);
    int cap_o = (int)fmin(fmax(r->osl, fmin(16 * r->osl, max_context)), 1e8);
    *o = (sim_wl_opts){ .requests = r->requests, .rate = r->rate, .burstiness = r->burstiness,
                        .seed = (unsigned long)r->seed };
    if ((rc = length_law(r->isl_dist, "isl_dist", r->isl, r->len_cv, cap_i, &o->isl, err)) ||
        (rc = length_law(r->osl_dist, "osl_dist", r->osl, r->len_cv, cap_o, &o->osl, err)))
        return rc;
    return SIM_OK;
}

int cli_serve_workload(const sim_request *r, int max_context, sim_workload *w, sim_err *err)
{
    int rc = check_arrival(r, err);
    if (rc)
        return rc;
    if (is_trace(r)) {
        if (!r->trace[0])
            return sim_fail(err, SIM_EINPUT, "arrival 'trace' needs the option 'trace' (a CSV file)");
        if (r->arrival[0] && strcasecmp(r->arrival, "trace"))
            return sim_fail(err, SIM_EINPUT, "option 'trace' replays its own arrival times; drop arrival '%s'",
                            r->arrival);
        if (r->rate != 0)
            return sim_fail(err, SIM_EINPUT, "option 'rate' does not apply to a trace (its arrival times are used)");
        return sim_workload_load(r->trace, r->requests, w, err);
    }
    sim_wl_opts o;
    if ((rc = cli_serve_wl_opts(r, max_context, &o, err)))
        return rc;
    return sim_workload_generate(&o, w, err);
}

void cli_serve_des_opts(const sim_request *r, const sim_serve_opts *so, sim_des_opts *o)
{
    sim_des_defaults(o);
    o->block_tokens = r->block_size;
    o->max_num_seqs = r->max_num_seqs;
    o->graph_max = r->cuda_graph_max;
    o->prefix_hit = so->prefix_hit;
    o->spec_tokens = so->spec_tokens;
    o->spec_accept = so->spec_accept;
    o->spec_source = so->spec_source;
    o->slo_ttft_s = r->slo_ttft_s;
    o->slo_tpot_s = r->slo_tpot_s;
    o->cost = so->cost;
}

/* Replicas: one instance is simulated with its share of the requests; a trace is dealt
 * round-robin. */
static void thin_trace(sim_workload *w, int R)
{
    long k = 0;
    for (long i = 0; i < w->n; i += R)
        w->r[k++] = w->r[i];
    w->n = k;
}

/* Run sizing (issue 15): with no --requests, one instance's arrivals span SIZE_SERVICE_TIMES
 * times the longer of the predicted end-to-end latency and the backlog's relaxation time
 * (sim_rate_point: near the largest rate the queue wanders far longer than a request
 * lasts), so that after the warm-up (at most half the span, at least two service times)
 * and the cool-down (one) the measured window spans well over 10 service times
 * (des_stats.c's steady-state test), with at least SIZE_MIN requests (percentiles need a
 * few hundred in the window). SIZE_MAX keeps a run near a second (the simulation costs
 * about 5 us a request, README "Benchmarks"); a run that hits it says so. */
enum { SIZE_SERVICE_TIMES = 40, SIZE_MIN = 2000, SIZE_MAX = 200000 };

/* The steady-state model at the workload's mean lengths and one instance's rate. A
 * deployment the model cannot judge leaves *p with NaN figures. */
static int predict(const cli_serve_run *run, const sim_serve_opts *so, double isl, double osl, double rate,
                   sim_rate_point *p, sim_err *err)
{
    sim_serve_opts o = *so;
    o.isl = isl;
    o.osl = osl;
    o.replicas = 1;
    o.prefill = run->has_prefill ? &run->prefill : NULL;
    return sim_serve_at_rate(&run->deploy, &o, rate, p, err);
}

/* How many requests one instance simulates when none was asked. */
static void size_run(cli_serve_run *run, double rate, const sim_rate_point *p, int *requests)
{
    run->sized = true;
    run->predicted_e2e_s = p->e2e_s;
    run->predicted_relax_s = p->relax_s;
    double scale = p->reached ? fmax(p->e2e_s, p->relax_s) : p->e2e_s; /* out of reach: the run shows growth */
    double n = isfinite(scale) ? ceil(rate * SIZE_SERVICE_TIMES * scale) : SIZE_MAX;
    *requests = (int)fmin(SIZE_MAX, fmax(SIZE_MIN, n));
    run->sized_capped = n > SIZE_MAX;
}

/* A daily traffic: the run simulates its peak (requests_per_day / 86400 x peak factor) on the
 * replicas given, else on those the steady state sizes for it (as eval does). *rr gets the rate. */
static int traffic_peak(const sim_request *r, const sim_traffic *t, cli_serve_run *run, sim_serve_opts *so,
                        sim_request *rr, double *peak, sim_err *err)
{
    if (is_trace(r))
        return sim_fail(err, SIM_EINPUT, "option 'requests_per_day' sets the arrivals; a trace has its own (give "
                        "'price' alone to bill a trace at its own rate)");
    if (r->rate > 0)
        return sim_fail(err, SIM_EINPUT, "options 'rate' and 'requests_per_day' both given: give one (serve simulates "
                        "the traffic's peak, requests_per_day / 86400 x peak_factor)");
    *peak = t->peak_factor > 0 ? t->peak_factor : SIM_DEFAULT_PEAK_FACTOR;
    rr->rate = t->requests_per_day / 86400.0 * *peak;
    if (r->replicas)
        return SIM_OK;
    sim_serve_opts o = *so;
    o.prefill = run->has_prefill ? &run->prefill : NULL;
    sim_eval ev;
    sim_bill b;
    int rc = sim_serve_size_for_traffic(&run->deploy, &o, t, &ev, &b, err);
    if (!rc && ev.fits)
        so->replicas = b.replicas;
    return rc;
}

int cli_serve_simulate(sim_session *session, const sim_request *req, bool keep_records, bool progress,
                       cli_serve_run *run, sim_err *err)
{
    memset(run, 0, sizeof *run);
    sim_request rr = *req; /* with a daily traffic: its peak as the rate */
    const sim_request *r = &rr;
    sim_serve_opts so;
    int rc = sim_request_no_phase(r, "serve simulates requests arriving (give 'rate', 'isl' and 'osl'; the batch "
                                  "follows from them)", err);
    if (!rc)
        rc = sim_request_deploy(session, r, &run->deploy, &run->prefill, &run->has_prefill, &so, err);
    /* speculative decoding and prefix hits as eval and search read them: the accepted tokens
     * per step from the option, else the card's published figure, else an error */
    if (rc || (rc = sim_request_spec_opts(r, run->deploy.model, &so, err)))
        return rc;
    sim_traffic t;
    double peak = 1;
    if ((rc = sim_request_traffic(r, &t, err)))
        return rc;
    if (t.requests_per_day > 0 && (rc = traffic_peak(req, &t, run, &so, &rr, &peak, err)))
        return rc;
    run->has_bill = t.requests_per_day > 0 || r->price[0];
    if (run->has_bill && !(run->prices = sim_session_prices(session, err)))
        return err->code;
    run->model_name = run->deploy.model->name;
    run->isl = r->isl;
    run->osl = r->osl;
    int R = so.replicas > 0 ? so.replicas : 1;
    run->replicas = R;
    sim_request one = *r;
    if (R > 1 && !r->trace[0]) { /* a Poisson stream split at random over R replicas: R Poisson streams */
        one.rate = r->rate / R;
        one.requests = (r->requests + R - 1) / R;
    }
    sim_rate_point p;
    sim_err ignored = { 0 }; /* a prediction that fails only leaves the run unsized or unjudged */
    if (!is_trace(r) && r->requests == 0 && r->rate > 0 && r->rate <= 1e9 && r->isl >= 1 && r->osl >= 1) {
        if (predict(run, &so, r->isl, r->osl, one.rate, &p, &ignored))
            p.e2e_s = NAN;
        size_run(run, one.rate, &p, &one.requests);
    }
    const sim_model *m = run->deploy.model;
    if ((rc = cli_serve_workload(&one, m->max_context > 0 ? m->max_context : 1 << 20, &run->workload, err)))
        return rc;
    if (R > 1 && r->trace[0])
        thin_trace(&run->workload, R);
    cli_serve_des_opts(r, &so, &run->opts);
    /* --engine: its scheduler's decode limits where the request sets none (sources in deploy.c) */
    if (run->deploy.engine != SIM_ENGINE_NONE) {
        if (!r->max_num_seqs_given)
            run->opts.max_num_seqs = sim_engine_default_max_seqs(run->deploy.engine, run->deploy.hw);
        if (!r->block_size_given)
            run->opts.block_tokens = sim_engine_block(run->deploy.engine);
        int g = sim_engine_default_cuda_graph_max(run->deploy.engine, run->deploy.hw);
        if (!r->cuda_graph_max_given && g > 0)
            run->opts.graph_max = g;
    }
    /* The simulator judges runs too short to show a trend against the largest rate the
     * steady-state model predicts at the workload's own mean lengths. */
    const sim_workload *w = &run->workload;
    double isl = 0, osl = 0, span = w->r[w->n - 1].arrival_s - w->r[0].arrival_s;
    for (long i = 0; i < w->n; i++) {
        isl += w->r[i].isl;
        osl += w->r[i].osl;
    }
    if (span > 0 && predict(run, &so, isl / w->n, osl / w->n, (w->n - 1) / span, &p, &ignored) == SIM_OK)
        run->opts.predicted_capacity_rps = isfinite(p.capacity_rps) ? p.capacity_rps : 0;
    run->opts.prefill = run->has_prefill ? &run->prefill : NULL;
    run->opts.prefill_instances = so.prefill_instances;
    run->opts.decode_instances = so.decode_instances;
    run->opts.keep_records = keep_records;
    sim_progress shown = { "moesim serve: %d%% of requests done", -1 };
    if (progress && run->workload.n >= 200000) {
        run->opts.progress = sim_progress_tenths;
        run->opts.progress_ctx = &shown;
    }
    rc = sim_des_run(&run->deploy, &run->opts, &run->workload, &run->result, err);
    run->opts.progress = NULL; /* `shown` ends here */
    run->opts.progress_ctx = NULL;
    if (rc)
        return rc;
    sim_des_scale_replicas(&run->result, R);
    if (!run->has_bill)
        return SIM_OK;
    /* without a daily traffic the run is a constant load at its own rate */
    bool traffic = t.requests_per_day > 0;
    double rpd = traffic ? t.requests_per_day : (r->rate > 0 ? r->rate : run->result.offered_rate) * 86400;
    if (!traffic) { /* a trace: its mean lengths */
        run->isl = run->result.served_rps > 0 ? run->result.input_tps / run->result.served_rps : r->isl;
        run->osl = run->result.served_rps > 0 ? run->result.output_tps / run->result.served_rps : r->osl;
    }
    const char *source = !traffic ? "a constant load at the simulated rate" : t.peak_factor > 0 ? t.peak_source : NULL;
    return sim_des_bill(&run->deploy, &run->opts, &run->result, R, rpd, peak, source, &run->bill, err);
}

cJSON *cli_serve_report_json(const cli_serve_run *run)
{
    sim_serve_view v = cli_serve_view(run);
    cJSON *rep = sim_serve_report_json(&v);
    cJSON *price = rep ? sim_report_price(run->deploy.hw, &run->opts.cost) : NULL;
    if (price)
        cJSON_AddItemToObject(rep, "price", price);
    if (rep && run->has_bill)
        cJSON_AddItemToObject(rep, "bill", sim_report_bill(&run->bill, run->model_name, run->isl, run->osl,
                                                           run->prices));
    return rep;
}

void cli_serve_report_print(FILE *f, const cli_serve_run *run)
{
    sim_serve_view v = cli_serve_view(run);
    sim_serve_report_print(f, &v);
    sim_report_print_price(f, run->deploy.hw, &run->opts.cost);
    if (run->has_bill)
        sim_report_print_bill(f, &run->bill, run->model_name, run->isl, run->osl, run->prices);
}

void cli_serve_run_free(cli_serve_run *run)
{
    sim_des_result_free(&run->result);
    sim_workload_free(&run->workload);
}

sim_serve_view cli_serve_view(const cli_serve_run *run)
{
    return (sim_serve_view){ &run->deploy, &run->opts,   &run->workload,      &run->result,
                             run->replicas, run->sized, run->sized_capped, run->predicted_e2e_s,
                             run->predicted_relax_s };
}

int cli_serve_request_run(sim_session *session, const sim_request *r, bool keep_records, bool progress,
                          cJSON **report, sim_des_result *res, sim_err *err)
{
    *report = NULL;
    if (res)
        memset(res, 0, sizeof *res);
    cli_serve_run *run = malloc(sizeof *run);
    if (!run)
        return sim_fail(err, SIM_EFAIL, "out of memory");
    int rc = cli_serve_simulate(session, r, keep_records, progress, run, err);
    if (!rc) {
        if (!(*report = cli_serve_report_json(run)))
            rc = sim_fail(err, SIM_EFAIL, "out of memory building the report");
    }
    if (!rc && res) { /* the caller takes the result */
        *res = run->result;
        memset(&run->result, 0, sizeof run->result);
    }
    cli_serve_run_free(run);
    free(run);
    return rc;
}
