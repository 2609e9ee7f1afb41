/* search_request.c: the search's front-end half: list options parsed, cards loaded
 * through the session, the request turned into a search space (template deployment,
 * serving, simulation and workload options), and the result handed to the report layer. */
#include "cli/search_request.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "cli/serve_request.h"
#include "report/bill_report.h"
#include "report/search_report.h"

bool cli_precision_is_native(const char *name)
{
    return strcasecmp(name, "native") == 0;
}

void cli_search_defaults(cli_search_opts *o)
{
    memset(o, 0, sizeof *o);
    sim_search_space s;
    sim_search_space_defaults(&s);
    o->min_gpus = s.min_gpus;
    o->max_gpus = s.max_gpus;
    o->nconc = s.nconc;
    memcpy(o->conc_per_gpu, s.conc_per_gpu, sizeof o->conc_per_gpu);
    o->limit = s.limit;
    o->confirm = s.confirm;
}

int cli_search_parse_list(const char *text, const char *what, cli_search_opts *o, sim_err *err)
{
    bool hw = strcmp(what, "hw") == 0, prec = strcmp(what, "precisions") == 0;
    bool mbt = strcmp(what, "mbt") == 0, conc = strcmp(what, "concurrency_per_gpu") == 0;
    if (!hw && !prec && !mbt && !conc)
        return sim_fail(err, SIM_EINPUT, "no list named '%s'", what);
    int n = 0;
    const char *p = text;
    while (*p) {
        const char *e = strchr(p, ',');
        size_t len = e ? (size_t)(e - p) : strlen(p);
        if (len == 0 || len > 63)
            return sim_fail(err, SIM_EINPUT, "'%s' must be a comma-separated list of values (got '%s')", what,
                            text);
        if (n == SIM_SEARCH_MAX_LIST)
            return sim_fail(err, SIM_EINPUT, "at most %d values in '%s'", SIM_SEARCH_MAX_LIST, what);
        char item[64];
        memcpy(item, p, len);
        item[len] = '\0';
        if (hw) {
            snprintf(o->hw[n], sizeof o->hw[n], "%s", item);
        } else if (prec) {
            if (len >= sizeof o->precisions[n])
                return sim_fail(err, SIM_EINPUT, "unknown precision '%s'", item);
            snprintf(o->precisions[n], sizeof o->precisions[n], "%s", item);
        } else {
            char *end;
            double v = strtod(item, &end);
            if (*end || !(v > 0) || (mbt && (v != floor(v) || v > 1e7)) || !isfinite(v))
                return sim_fail(err, SIM_EINPUT, "'%s' values must be positive %s (got '%s')", what,
                                mbt ? "integers" : "numbers", item);
            if (mbt)
                o->mbt[n] = (int)v;
            else
                o->conc_per_gpu[n] = v;
        }
        n++;
        p += len + (e ? 1 : 0);
        if (e && !*p)
            return sim_fail(err, SIM_EINPUT, "'%s' ends with a comma", what);
    }
    if (n == 0)
        return sim_fail(err, SIM_EINPUT, "'%s' is empty", what);
    *(hw ? &o->nhw : prec ? &o->nprec : mbt ? &o->nmbt : &o->nconc) = n;
    return SIM_OK;
}

static int load_cards(sim_session *session, const sim_request *r, const cli_search_opts *o, sim_search_space *s,
                      sim_err *err)
{
    /* the model and every hardware must load: their errors name the closest shipped names */
    if (!r->model[0] || !r->hw[0])
        return sim_fail(err, SIM_EINPUT, "options 'model' and 'hw' are required");
    if (!(s->model = sim_session_model(session, r->model, err)))
        return err->code;
    s->nhw = o->nhw ? o->nhw : 1;
    for (int i = 0; i < s->nhw; i++)
        if (!(s->hw[i] = sim_session_hw(session, o->nhw ? o->hw[i] : r->hw, err)))
            return err->code;
    return SIM_OK;
}

/* A format for every weight, or "native": the checkpoint's own formats class by class (the
 * card's native_precision), named in rows by its routed experts' format. */
static int parse_precisions(const cli_search_opts *o, sim_search_space *s, sim_err *err)
{
    for (int i = 0; i < o->nprec; i++) {
        s->native[i] = cli_precision_is_native(o->precisions[i]);
        if (s->native[i])
            s->precisions[i] = s->model->native_experts;
        else if (sim_wformat_parse(o->precisions[i], &s->precisions[i]) != 0)
            return sim_fail(err, SIM_EINPUT, "option 'precision': unknown precision '%s' (one of %s, or native)",
                            o->precisions[i], sim_wformat_names());
    }
    s->nprec = o->nprec;
    return SIM_OK;
}

/* The confirm step's draws: the request's rate and requests, each replica taking its share
 * (a Poisson stream split at random over R replicas: R Poisson streams). */
static int confirm_workload(const sim_request *r, sim_search_space *s, sim_err *err)
{
    int R = s->serve.replicas > 0 ? s->serve.replicas : 1;
    sim_request one = *r;
    if (one.requests == 0) /* unset: serve sizes its own run; the confirmation keeps its 1000 */
        one.requests = 1000;
    if (R > 1) {
        one.rate = r->rate / R;
        one.requests = (one.requests + R - 1) / R;
    }
    int max_context = s->model->max_context > 0 ? s->model->max_context : 1 << 20;
    return cli_serve_wl_opts(&one, max_context, &s->workload, err);
}

bool cli_search_has_rate(const sim_request *r)
{
    return r->rate > 0 || r->requests_per_day > 0 || r->requests_per_hour > 0;
}

/* A daily traffic becomes the rate the search must carry: its peak. */
static int traffic_rate(const sim_request *in, sim_request *r, double *rpd, double *peak, sim_err *err)
{
    *r = *in;
    *rpd = *peak = 0;
    sim_traffic t;
    int rc = sim_request_traffic(in, &t, err);
    if (rc || !(t.requests_per_day > 0))
        return rc;
    if (in->rate > 0)
        return sim_fail(err, SIM_EINPUT, "options 'rate' and 'requests_per_day' both given: give one (the search "
                        "carries the traffic's peak, requests_per_day / 86400 x peak_factor)");
    if (in->replicas)
        return sim_fail(err, SIM_EINPUT, "option 'replicas' is sized from 'requests_per_day' (replicas = ceil(peak / "
                        "what one replica carries within the SLO)): give the traffic or the replicas, not both");
    *rpd = t.requests_per_day;
    *peak = t.peak_factor > 0 ? t.peak_factor : SIM_DEFAULT_PEAK_FACTOR;
    r->rate = *rpd / 86400.0 * *peak;
    return SIM_OK;
}

int cli_search_space(sim_session *session, const sim_request *in, const cli_search_opts *o, bool frontier,
                     sim_search_space *s, sim_err *err)
{
    sim_search_space_defaults(s);
    sim_request req;
    const sim_request *r = &req;
    int rc = sim_request_no_phase(in, "search and compare rank serving configurations (give 'isl' and 'osl'; "
                                  "concurrency is searched)", err);
    if (rc || (rc = traffic_rate(in, &req, &s->requests_per_day, &s->peak_factor, err)))
        return rc;
    if (frontier && s->requests_per_day > 0)
        return sim_fail(err, SIM_EINPUT, "option 'requests_per_day' goes with the cheapest configuration "
                        "(give slo_ttft_s and/or slo_tpot_s), not with the frontier");
    if (!frontier && (rc = sim_search_check_goal(r->rate, r->slo_ttft_s, r->slo_tpot_s, err)))
        return rc;
    if (!frontier && r->trace[0])
        return sim_fail(err, SIM_EINPUT, "use rate with isl/osl (a trace is for moesim serve)");
    if ((rc = load_cards(session, r, o, s, err)) || (rc = parse_precisions(o, s, err)))
        return rc;
    if ((rc = sim_request_deploy_options(r, s->model, s->hw[0], &s->tmpl, err)))
        return rc;
    s->tmpl.routing_cache = sim_session_routing(session); /* every candidate shares the session's memo */
    if (r->draft_model[0] && !(s->tmpl.draft_model = sim_session_model(session, r->draft_model, err)))
        return sim_wrap(err, "option 'draft_model'");
    /* the host CPU that computes experts beside the GPU (--experts-on cpu, --cpu-moe-layers) */
    if (r->host_cpu[0] && !(s->tmpl.host_cpu = sim_session_hw(session, r->host_cpu, err)))
        return sim_wrap(err, "option 'host_cpu'");
    s->dense_fixed = r->dense_precision[0] != '\0';
    memcpy(s->mbt, o->mbt, sizeof s->mbt);
    s->nmbt = o->nmbt;
    memcpy(s->conc_per_gpu, o->conc_per_gpu, sizeof s->conc_per_gpu);
    s->nconc = o->nconc;
    s->min_gpus = o->min_gpus;
    s->max_gpus = o->max_gpus;
    s->disagg = o->disagg || o->xpyd;
    s->xpyd = o->xpyd;
    s->limit = o->limit;
    s->force = o->force;
    s->confirm = o->confirm;
    s->progress = o->progress;
    s->progress_ctx = o->progress_ctx;
    sim_request_serve_opts(r, &s->serve);
    if ((rc = sim_request_price(session, r, s->hw, s->nhw, &s->serve.cost, err)))
        return rc;
    if ((rc = sim_request_spec_opts(r, s->model, &s->serve, err)))
        return rc;
    cli_serve_des_opts(r, &s->serve, &s->des);
    /* the simulation that confirms a candidate produces as many tokens per step as the steady state */
    s->des.spec_accept = s->serve.spec_accept;
    s->rate = r->rate;
    s->slo_ttft_s = r->slo_ttft_s;
    s->slo_tpot_s = r->slo_tpot_s;
    return frontier ? SIM_OK : confirm_workload(r, s, err);
}

int cli_search_run(sim_session *session, const sim_request *r, const cli_search_opts *o, bool frontier,
                   sim_search_result *res, sim_err *err)
{
    memset(res, 0, sizeof *res);
    sim_search_space *s = malloc(sizeof *s);
    if (!s)
        return sim_fail(err, SIM_EFAIL, "out of memory");
    int rc = cli_search_space(session, r, o, frontier, s, err);
    if (!rc)
        rc = frontier ? sim_search_run_frontier(s, res, err) : sim_search_run_cheapest(s, res, err);
    free(s);
    return rc;
}

int cli_search_extras(sim_session *session, const sim_request *r, const cli_search_opts *o, cJSON *j, FILE *f,
                      sim_err *err)
{
    cJSON *prices = j && r->price[0] ? cJSON_AddArrayToObject(j, "prices") : NULL;
    for (int i = 0; r->price[0] && i < (o->nhw ? o->nhw : 1); i++) {
        const sim_hw *hw = sim_session_hw(session, o->nhw ? o->hw[i] : r->hw, err);
        if (!hw)
            return err->code;
        sim_cost_opts c;
        sim_cost_defaults(&c);
        int rc = sim_request_price(session, r, &hw, 1, &c, err);
        if (rc)
            return rc;
        if (f) {
            fprintf(f, "%s ", hw->name);
            sim_report_print_price(f, hw, &c);
        }
        cJSON *p = prices ? sim_report_price(hw, &c) : NULL;
        if (p) {
            cJSON_AddStringToObject(p, "hw", hw->name);
            cJSON_AddItemToArray(prices, p);
        }
    }
    sim_traffic t;
    int rc = sim_request_traffic(r, &t, err);
    if (rc || !(t.requests_per_day > 0))
        return rc;
    const sim_model *m = sim_session_model(session, r->model, err);
    const sim_prices *p = m ? sim_session_prices(session, err) : NULL;
    if (!p)
        return err->code;
    if (j)
        cJSON_AddItemToObject(j, "hosted_api", sim_report_api_rows(p, m->name, t.requests_per_day, r->isl, r->osl));
    if (f)
        sim_report_print_api(f, p, m->name, t.requests_per_day, r->isl, r->osl);
    return SIM_OK;
}

static int search_json(sim_session *session, const sim_request *r, const cli_search_opts *o, bool frontier,
                       cJSON **result, sim_err *err)
{
    *result = NULL;
    sim_search_result res;
    int rc = cli_search_run(session, r, o, frontier, &res, err);
    if (!rc && !(*result = sim_search_report_json(&res)))
        rc = sim_fail(err, SIM_EFAIL, "out of memory building the report");
    if (!rc)
        rc = cli_search_extras(session, r, o, *result, NULL, err);
    sim_search_result_free(&res);
    return rc;
}

int cli_search_frontier(sim_session *session, const sim_request *r, const cli_search_opts *o, cJSON **result,
                        sim_err *err)
{
    return search_json(session, r, o, true, result, err);
}

int cli_search_cheapest(sim_session *session, const sim_request *r, const cli_search_opts *o, cJSON **result,
                        sim_err *err)
{
    return search_json(session, r, o, false, result, err);
}
