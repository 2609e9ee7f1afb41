/* compare_request.c: systems and MTP depths parsed, one search space per system and depth
 * built through cli/search_request.c (so every search option means the same here), and the
 * comparison run (search/compare.c). */
#include "cli/compare_request.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void cli_compare_defaults(cli_compare_opts *o)
{
    memset(o, 0, sizeof *o);
    cli_search_defaults(&o->search);
    o->search.disagg = true;
    o->claim = 10;
}

/* One system: "hw", "hw:gpus" or "name=hw:gpus". */
static int parse_system(const char *item, int i, cli_compare_opts *o, sim_err *err)
{
    const char *eq = strchr(item, '='), *hw = eq ? eq + 1 : item;
    if (eq) {
        if (eq == item || (size_t)(eq - item) >= sizeof o->name[i])
            return sim_fail(err, SIM_EINPUT, "option 'hw': a system's name must be 1 to 63 characters (got '%s')", item);
        snprintf(o->name[i], sizeof o->name[i], "%.*s", (int)(eq - item), item);
    }
    const char *colon = strchr(hw, ':');
    size_t len = colon ? (size_t)(colon - hw) : strlen(hw);
    if (len == 0 || len >= sizeof o->hw[i])
        return sim_fail(err, SIM_EINPUT, "option 'hw': expected hw, hw:gpus or name=hw:gpus (got '%s')", item);
    snprintf(o->hw[i], sizeof o->hw[i], "%.*s", (int)len, hw);
    if (colon) {
        char *end;
        long g = strtol(colon + 1, &end, 10);
        if (!colon[1] || *end || g < 1 || g > 4096)
            return sim_fail(err, SIM_EINPUT, "option 'hw': the GPU count after ':' must be an integer in [1, 4096] "
                            "(got '%s')", colon + 1);
        o->gpus[i] = (int)g;
    }
    return SIM_OK;
}

int cli_compare_parse_systems(const char *text, cli_compare_opts *o, sim_err *err)
{
    const char *comma = strchr(text, ',');
    if (!comma || strchr(comma + 1, ','))
        return sim_fail(err, SIM_EINPUT, "option 'hw' must name two systems, A,B (got '%s')", text);
    char a[256], b[256];
    if ((size_t)(comma - text) >= sizeof a || strlen(comma + 1) >= sizeof b)
        return sim_fail(err, SIM_EINPUT, "option 'hw': a system is too long");
    snprintf(a, sizeof a, "%.*s", (int)(comma - text), text);
    snprintf(b, sizeof b, "%s", comma + 1);
    int rc = parse_system(a, 0, o, err);
    return rc ? rc : parse_system(b, 1, o, err);
}

int cli_compare_parse_mtp(const char *text, cli_compare_opts *o, sim_err *err)
{
    int n = 0;
    const char *p = text;
    while (*p) {
        char *end;
        long k = strtol(p, &end, 10);
        if (end == p || (*end && *end != ',') || k < 0 || k > 16)
            return sim_fail(err, SIM_EINPUT, "option 'mtp' must be a comma-separated list of draft depths in [0, 16] "
                            "(got '%s')", text);
        if (n == SIM_COMPARE_MAX_SPACES)
            return sim_fail(err, SIM_EINPUT, "option 'mtp': at most %d depths", SIM_COMPARE_MAX_SPACES);
        o->mtp[n++] = (int)k;
        p = *end ? end + 1 : end;
        if (*end && !*p)
            return sim_fail(err, SIM_EINPUT, "option 'mtp' ends with a comma");
    }
    if (n == 0)
        return sim_fail(err, SIM_EINPUT, "option 'mtp' is empty");
    o->nmtp = n;
    return SIM_OK;
}

/* The depths: as asked; a request with spec_tokens searches that one; else none and the
 * card's published depths up to 3 (past 3 the published acceptance barely grows). */
static int depths(const sim_request *r, const sim_model *m, const cli_compare_opts *o, int *out)
{
    if (o->nmtp) {
        memcpy(out, o->mtp, (size_t)o->nmtp * sizeof *out);
        return o->nmtp;
    }
    if (r->spec_tokens > 0) {
        out[0] = r->spec_tokens;
        return 1;
    }
    int n = 0;
    out[n++] = 0;
    for (int k = 1; m->mtp_layers > 0 && k <= m->spec.n && k <= 3; k++)
        out[n++] = k;
    return n;
}

static void describe_mtp(const sim_model *m, const int *k, int n, const sim_request *r, char *buf, size_t cap)
{
    size_t used = 0;
    buf[0] = '\0';
    for (int i = 0; i < n && used < cap; i++) {
        int w;
        if (k[i] == 0)
            w = snprintf(buf + used, cap - used, "%soff", i ? "; " : "");
        else if (r->spec_accept_given)
            w = snprintf(buf + used, cap - used, "%s%d draft tokens, %.2f accepted per step (option spec_accept)",
                         i ? "; " : "", k[i], r->spec_accept);
        else
            w = snprintf(buf + used, cap - used, "%s%d draft tokens, %.2f accepted per step", i ? "; " : "", k[i],
                         k[i] <= m->spec.n ? m->spec.accepted[k[i] - 1] : NAN);
        used += w > 0 ? (size_t)w : 0;
    }
    /* the source itself, as eval and serve print it, so the figure can be traced from here */
    if ((n > 1 || k[0] > 0) && !r->spec_accept_given) {
        /* the source's first sentence, as eval prints the routing source; the whole is in the card */
        const char *src = m->spec.source[0] ? m->spec.source : "none in the model card";
        const char *dot = strstr(src, ". ");
        int len = dot && dot - src < 200 ? (int)(dot - src) : (int)strlen(src);
        if (len > 200)
            len = 200;
        snprintf(buf + (used < cap ? used : cap - 1), cap - (used < cap ? used : cap - 1),
                 " (acceptance source: %.*s%s; whole source: %s)", len, src, len < (int)strlen(src) ? " ..." : "",
                 m->path);
    }
}

/* The checkpoint as shipped joins the default list: "native", every weight class at the card's
 * native_precision (Kimi K2 Thinking: INT4 routed experts, BF16 shared expert, attention and
 * head), unless an entry already prices every class the same way. */
void cli_compare_add_native(sim_session *session, const sim_request *r, cli_compare_opts *o)
{
    sim_err ignored = { 0 };
    const sim_model *m = o->precisions_given ? NULL : sim_session_model(session, r->model, &ignored);
    if (!m || o->search.nprec >= SIM_SEARCH_MAX_LIST)
        return;
    for (int i = 0; i < o->search.nprec; i++) {
        sim_wformat f;
        if (cli_precision_is_native(o->search.precisions[i]))
            return;
        if (sim_wformat_parse(o->search.precisions[i], &f) != 0)
            continue;
        sim_deploy t;
        sim_deploy_defaults(&t, m, NULL);
        sim_deploy_set_precision(&t, f);
        if (f == m->native_experts && f == m->native_shared && f == m->native_dense &&
            sim_deploy_head_fmt(&t) == m->native_head)
            return;
    }
    snprintf(o->search.precisions[o->search.nprec++], sizeof o->search.precisions[0], "native");
}

/* The space of system s at MTP depth k. */
static int system_space(sim_session *session, const sim_request *r, const cli_compare_opts *o, int s, int k,
                        int gpus, sim_search_space *sp, sim_err *err)
{
    sim_request one = *r;
    snprintf(one.hw, sizeof one.hw, "%s", o->hw[s]);
    one.spec_tokens = k;
    if (k == 0) {
        one.spec_accept = 1;
        one.spec_accept_given = false;
    }
    cli_search_opts so = o->search;
    so.nhw = 1;
    snprintf(so.hw[0], sizeof so.hw[0], "%s", o->hw[s]);
    so.min_gpus = 1;
    so.max_gpus = gpus;
    so.progress = NULL;
    int rc = cli_search_space(session, &one, &so, true, sp, err);
    if (rc)
        return rc;
    sp->system_gpus = gpus;
    sp->max_pp = 1; /* pipeline bubbles are not costed, so pipeline splits are not proposed */
    return SIM_OK;
}

int cli_compare_run(sim_session *session, const sim_request *r, const cli_compare_opts *o, sim_compare_result *out,
                    sim_compare_context *ctx, cli_compare_text *t, sim_err *err)
{
    memset(out, 0, sizeof *out);
    if (!r->model[0] || !o->hw[0][0] || !o->hw[1][0])
        return sim_fail(err, SIM_EINPUT, "options 'model' and 'hw' (two systems, A,B) are required");
    if (!(o->claim > 0) || !isfinite(o->claim))
        return sim_fail(err, SIM_EINPUT, "option 'claim' must be a positive ratio (got %g)", o->claim);
    const sim_model *m = sim_session_model(session, r->model, err);
    if (!m)
        return err->code;
    int k[SIM_COMPARE_MAX_SPACES];
    int nk = depths(r, m, o, k);
    sim_search_space *sp = calloc((size_t)(2 * nk), sizeof *sp);
    if (!sp)
        return sim_fail(err, SIM_EFAIL, "out of memory");
    sim_compare_system sys[2] = { 0 };
    int rc = SIM_OK;
    for (int s = 0; s < 2 && !rc; s++) {
        const sim_hw *hw = sim_session_hw(session, o->hw[s], err);
        if (!hw) {
            rc = err->code;
            break;
        }
        int gpus = o->gpus[s] > 0 ? o->gpus[s] : hw->scale_up.domain_size > 0 ? hw->scale_up.domain_size : 1;
        for (int i = 0; i < nk && !rc; i++) {
            rc = system_space(session, r, o, s, k[i], gpus, &sp[s * nk + i], err);
            sys[s].spaces[sys[s].nspaces++] = &sp[s * nk + i];
        }
    }
    if (!rc)
        rc = sim_compare_run(sys, o->claim, out, err);
    free(sp);
    if (rc)
        return rc;
    memset(ctx, 0, sizeof *ctx);
    for (int s = 0; s < 2; s++) {
        snprintf(t->name[s], sizeof t->name[s], "%s", o->name[s]);
        ctx->name[s] = t->name[s][0] ? t->name[s] : NULL;
    }
    ctx->model = m->name;
    ctx->isl = r->isl;
    ctx->osl = r->osl;
    size_t used = 0;
    t->precisions[0] = '\0';
    for (int i = 0; i < o->search.nprec; i++)
        used += (size_t)snprintf(t->precisions + used, sizeof t->precisions - used, "%s%s", i ? ", " : "",
                                 o->search.precisions[i]);
    if (o->search.nprec == 0)
        snprintf(t->precisions, sizeof t->precisions, "%s (the request's)", r->precision[0] ? r->precision : "native");
    ctx->precisions = t->precisions;
    describe_mtp(m, k, nk, r, t->mtp, sizeof t->mtp);
    ctx->mtp = t->mtp;
    ctx->cost_mode = r->owned ? "own" : "rent";
    return SIM_OK;
}

int cli_compare_json(sim_session *session, const sim_request *r, const cli_compare_opts *o, cJSON **result,
                     sim_err *err)
{
    *result = NULL;
    sim_compare_result res;
    sim_compare_context ctx;
    cli_compare_text t;
    int rc = cli_compare_run(session, r, o, &res, &ctx, &t, err);
    if (rc)
        return rc;
    if (!(*result = sim_compare_report_json(&res, &ctx)))
        rc = sim_fail(err, SIM_EFAIL, "out of memory building the report");
    sim_compare_result_free(&res);
    return rc;
}
