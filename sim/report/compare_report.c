/* compare_report.c: a two-system comparison as text, JSON and plots, and the answer
 * paragraph, written from the level table (no figure in it is fixed text). */
#include "report/compare_report.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "report/plot.h"
#include "report/report.h"

void sim_compare_name(const sim_compare_result *r, const sim_compare_context *c, int side, char *buf, size_t cap)
{
    if (c && c->name[side] && c->name[side][0])
        snprintf(buf, cap, "%s", c->name[side]);
    else
        snprintf(buf, cap, "%s x %d", r->side[side].hw->name, r->side[side].gpus);
}

void sim_compare_definition(const sim_compare_result *r, int side, char *buf, size_t cap)
{
    const sim_compare_side *s = &r->side[side];
    const sim_hw *hw = s->hw;
    int dom = hw->scale_up.domain_size;
    int n = snprintf(buf, cap, "%s x %d = %d x %s", hw->name, s->gpus, s->gpus, hw->display_name);
    if (dom > 0 && n > 0 && (size_t)n < cap) {
        int domains = (s->gpus + dom - 1) / dom;
        n += snprintf(buf + n, cap - (size_t)n, ", %d %s domain%s of %d (%.0f GB/s per GPU per direction)%s",
                      domains, hw->scale_up.name[0] ? hw->scale_up.name : "scale-up", domains > 1 ? "s" : "",
                      dom < s->gpus ? dom : s->gpus, hw->scale_up.bandwidth_Bps / 1e9,
                      domains > 1 ? ", joined by the scale-out network" : "");
    }
    if (n > 0 && (size_t)n < cap)
        snprintf(buf + n, cap - (size_t)n, "; an instance spans a divisor of %d GPUs, copies fill the system", s->gpus);
}

/* A point's layout in a few words: the split (pp1 left out), the precision, MTP. */
static void layout(const sim_search_row *row, char *buf, size_t cap)
{
    char split[192];
    snprintf(split, sizeof split, "%s", row->split);
    char *pp = strstr(split, " pp1");
    if (pp)
        memmove(pp, pp + 4, strlen(pp + 4) + 1);
    /* native: the checkpoint's formats class by class, named by its routed experts' */
    int n = snprintf(buf, cap, "%s %s%s%s", split, sim_wformat_name(row->precision),
                     row->native_formats ? " native" : "", row->emulated ? " (emulated)" : "");
    if (row->spec_tokens > 0 && n > 0 && (size_t)n < cap)
        snprintf(buf + n, cap - (size_t)n, " mtp%d (%.2f tok/step)", row->spec_tokens, row->spec_accept);
}

static void add_num(cJSON *o, const char *k, double v)
{
    if (isfinite(v))
        cJSON_AddNumberToObject(o, k, v);
    else
        cJSON_AddNullToObject(o, k);
}

static cJSON *frontier_json(const sim_compare_result *r, const sim_compare_context *c, int side, cJSON *into)
{
    char name[128];
    sim_compare_name(r, c, side, name, sizeof name);
    const sim_compare_side *s = &r->side[side];
    for (long i = 0; i < s->nrows; i++) {
        const sim_search_row *w = &s->rows[i];
        cJSON *o = cJSON_CreateObject();
        if (!o)
            return NULL;
        char l[320];
        layout(w, l, sizeof l);
        cJSON_AddStringToObject(o, "system", name);
        cJSON_AddStringToObject(o, "layout", l);
        cJSON_AddStringToObject(o, "split", w->split);
        cJSON_AddNumberToObject(o, "instance_gpus", w->gpus);
        cJSON_AddNumberToObject(o, "tp", w->tp);
        cJSON_AddNumberToObject(o, "ep", w->ep);
        cJSON_AddNumberToObject(o, "dp", w->dp);
        cJSON_AddNumberToObject(o, "prefill_gpus", w->prefill_gpus);
        cJSON_AddNumberToObject(o, "redundant_experts", w->redundant_experts);
        cJSON_AddStringToObject(o, "precision", sim_wformat_name(w->precision));
        cJSON_AddBoolToObject(o, "native_formats", w->native_formats);
        cJSON_AddNumberToObject(o, "spec_tokens", w->spec_tokens);
        cJSON_AddNumberToObject(o, "spec_accept", w->spec_accept);
        cJSON_AddNumberToObject(o, "concurrency", w->concurrency);
        add_num(o, "output_tokens_per_s_per_user", w->output_tps_per_user);
        add_num(o, "output_tokens_per_s_per_gpu", w->output_tps_per_gpu);
        add_num(o, "usd_per_mtok_output", w->usd_per_mtok_output);
        add_num(o, "joules_per_output_token", w->joules_per_output_token);
        add_num(o, "ttft_s", w->ttft_s);
        add_num(o, "tpot_s", w->tpot_s);
        cJSON_AddItemToArray(into, o);
    }
    return into;
}

/* The level table as rows: figures of both sides, the ratios, and each side's layout. */
static cJSON *levels_json(const sim_compare_result *r)
{
    cJSON *a = cJSON_CreateArray();
    for (int i = 0; a && i < r->nlevels; i++) {
        const sim_compare_level *l = &r->levels[i];
        cJSON *o = cJSON_CreateObject();
        if (!o)
            break;
        cJSON_AddNumberToObject(o, "tps_user", l->tps_user);
        static const char *const tag[2] = { "a", "b" };
        for (int s = 0; s < 2; s++) {
            char k[48], lay[320] = "";
            snprintf(k, sizeof k, "%s_tps_gpu", tag[s]);
            add_num(o, k, l->tps_gpu[s]);
            snprintf(k, sizeof k, "%s_usd_per_mtok", tag[s]);
            add_num(o, k, l->usd_per_mtok[s]);
            snprintf(k, sizeof k, "%s_joules_per_token", tag[s]);
            add_num(o, k, l->joules_per_token[s]);
            snprintf(k, sizeof k, "%s_layout", tag[s]);
            if (l->row[s] >= 0)
                layout(&r->side[s].rows[l->row[s]], lay, sizeof lay);
            else
                snprintf(lay, sizeof lay, "out of reach");
            cJSON_AddStringToObject(o, k, lay);
        }
        add_num(o, "ratio_tps_gpu", l->ratio_tps_gpu);
        add_num(o, "ratio_usd_per_mtok", l->ratio_usd);
        add_num(o, "ratio_joules_per_token", l->ratio_joules);
        cJSON_AddItemToArray(a, o);
    }
    return a;
}

/* ------------------------------------------------------------------ the answer */

typedef struct text {
    char *buf;
    size_t cap, n;
} text;

static void put(text *t, const char *fmt, ...)
{
    if (t->n >= t->cap)
        return;
    va_list ap;
    va_start(ap, fmt);
    int k = vsnprintf(t->buf + t->n, t->cap - t->n, fmt, ap);
    va_end(ap);
    if (k > 0)
        t->n += (size_t)k < t->cap - t->n ? (size_t)k : t->cap - t->n - 1;
}

/* The range of a ratio over the levels both systems reach; false when there is none. */
static bool ratio_range(const sim_compare_result *r, int which, double *lo, double *hi, int *ilo, int *ihi)
{
    *lo = INFINITY;
    *hi = -INFINITY;
    *ilo = *ihi = -1;
    for (int i = 0; i < r->nlevels; i++) {
        const sim_compare_level *l = &r->levels[i];
        double v = which == 0 ? l->ratio_tps_gpu : which == 1 ? l->ratio_usd : l->ratio_joules;
        if (!isfinite(v))
            continue;
        if (v < *lo)
            *lo = v, *ilo = i;
        if (v > *hi)
            *hi = v, *ihi = i;
    }
    return *ilo >= 0;
}

/* Where the throughput ratio reaches the claim: every matched level from some level up
 * (*from), or scattered levels (counted). */
static void claim_sentence(text *t, const sim_compare_result *r, const char *a, const char *b)
{
    int first = -1, last = -1, count = 0, matched = 0;
    for (int i = 0; i < r->nlevels; i++) {
        const sim_compare_level *l = &r->levels[i];
        if (!isfinite(l->ratio_tps_gpu))
            continue;
        matched++;
        if (l->ratio_tps_gpu >= r->claim) {
            if (first < 0)
                first = i;
            last = i;
            count++;
        }
    }
    double lo, hi;
    int ilo, ihi;
    ratio_range(r, 0, &lo, &hi, &ilo, &ihi);
    if (count == 0) {
        put(t, "%s never reaches %gx the output tokens/s per GPU of %s at matched interactivity: at most %.2gx (at %g "
               "tokens/s per user), %.2gx at %g",
            b, r->claim, a, hi, r->levels[ihi].tps_user, lo, r->levels[ilo].tps_user);
    } else if (count == matched) {
        put(t, "%s delivers %gx or more the output tokens/s per GPU of %s at every matched interactivity (%.2gx to "
               "%.2gx from %g to %g tokens/s per user)",
            b, r->claim, a, lo, hi, r->levels[first].tps_user, r->levels[last].tps_user);
    } else {
        bool upper = true; /* every matched level from `first` up reaches it */
        for (int i = first; i < r->nlevels; i++)
            if (isfinite(r->levels[i].ratio_tps_gpu) && r->levels[i].ratio_tps_gpu < r->claim)
                upper = false;
        if (upper)
            put(t, "%s is %gx %s or more (output tokens/s per GPU) from %g tokens/s per user up (%.2gx at best, at %g)",
                b, r->claim, a, r->levels[first].tps_user, hi, r->levels[ihi].tps_user);
        else
            put(t, "%s is %gx %s or more (output tokens/s per GPU) at %d of %d matched levels between %g and %g "
                   "tokens/s per user (%.2gx at best, at %g)",
                b, r->claim, a, count, matched, r->levels[first].tps_user, r->levels[last].tps_user, hi,
                r->levels[ihi].tps_user);
        put(t, "; %.2gx at %g tokens/s per user", lo, r->levels[ilo].tps_user);
    }
}

/* The levels only one system reaches. */
static void reach_sentence(text *t, const sim_compare_result *r, const char *name[2])
{
    for (int s = 0; s < 2; s++) {
        int first = -1;
        for (int i = 0; i < r->nlevels; i++)
            if (r->levels[i].ok[s] && !r->levels[i].ok[1 - s]) {
                first = i;
                break;
            }
        if (first >= 0) {
            const sim_compare_side *o = &r->side[1 - s];
            put(t, " Only %s reaches %g tokens/s per user or more (%s tops out at %.3g).", name[s],
                r->levels[first].tps_user, name[1 - s], o->rows[o->nrows - 1].output_tps_per_user);
        }
    }
}

/* What a GPU-hour costs on a side, as its evaluations priced it (rent, override or owned). */
static double gpu_hour(const sim_compare_side *s)
{
    return s->nrows > 0 && s->rows[0].gpus > 0 ? s->rows[0].usd_per_hour / s->rows[0].gpus : NAN;
}

void sim_compare_answer(const sim_compare_result *r, const sim_compare_context *c, char *buf, size_t cap)
{
    text t = { buf, cap, 0 };
    buf[0] = '\0';
    char a[128], b[128];
    sim_compare_name(r, c, 0, a, sizeof a);
    sim_compare_name(r, c, 1, b, sizeof b);
    const char *name[2] = { a, b };
    double lo, hi;
    int ilo, ihi;
    if (!ratio_range(r, 0, &lo, &hi, &ilo, &ihi)) {
        put(&t, "%s and %s reach no common interactivity on %s, so no ratio can be computed.", a, b,
            c && c->model ? c->model : "this model");
        reach_sentence(&t, r, name);
        return;
    }
    if (r->claim > 0)
        claim_sentence(&t, r, a, b);
    else
        put(&t, "%s delivers %.2gx to %.2gx the output tokens/s per GPU of %s at matched interactivity", b, lo, hi, a);
    put(&t, ".");
    if (ratio_range(r, 1, &lo, &hi, &ilo, &ihi)) {
        put(&t, " Its cost per output token is %.2gx to %.2gx of %s's (%.2gx at %g tokens/s per user, %.2gx at %g; "
                "%s prices: $%.2f against $%.2f per GPU-hour)",
            lo, hi, a, lo, r->levels[ilo].tps_user, hi, r->levels[ihi].tps_user,
            c && c->cost_mode ? c->cost_mode : "hwmodel", gpu_hour(&r->side[1]), gpu_hour(&r->side[0]));
        if (r->claim > 0)
            put(&t, lo <= 1 / r->claim ? ", reaching 1/%g" : ", never 1/%g", r->claim);
        put(&t, ".");
    }
    if (ratio_range(r, 2, &lo, &hi, &ilo, &ihi))
        put(&t, " Its energy per output token is %.2gx to %.2gx of %s's.", lo, hi, a);
    else
        put(&t, " Energy per token: no ratio (a hwmodel states no power).");
    reach_sentence(&t, r, name);
}

/* ------------------------------------------------------------------ text */

static void print_frontier(FILE *f, const sim_compare_result *r, const sim_compare_context *c, int s)
{
    char name[128];
    sim_compare_name(r, c, s, name, sizeof name);
    const sim_compare_side *d = &r->side[s];
    fprintf(f, "\n%s: %ld configurations, %ld points (%ld splits rejected, %ld do not fit, %ld with an unsupported "
               "format skipped); frontier of %ld points:\n",
            name, d->configs, d->points, d->invalid, d->no_fit, d->unsupported, d->nrows);
    cJSON *rows = cJSON_CreateArray();
    if (!rows || !frontier_json(r, c, s, rows)) {
        cJSON_Delete(rows);
        return;
    }
    static const char *const cols[] = { "layout", "instance_gpus", "concurrency", "output_tokens_per_s_per_user",
                                        "output_tokens_per_s_per_gpu", "usd_per_mtok_output",
                                        "joules_per_output_token", "ttft_s" };
    sim_table_print(f, rows, cols, 8);
    cJSON_Delete(rows);
}

void sim_compare_report_print(FILE *f, const sim_compare_result *r, const sim_compare_context *c)
{
    char a[128], b[128], def[512];
    sim_compare_name(r, c, 0, a, sizeof a);
    sim_compare_name(r, c, 1, b, sizeof b);
    fprintf(f, "%s, isl %g / osl %g: %s (A) against %s (B)\n", c && c->model ? c->model : "", c ? c->isl : 0,
            c ? c->osl : 0, a, b);
    for (int s = 0; s < 2; s++) {
        sim_compare_definition(r, s, def, sizeof def);
        fprintf(f, "  %s: %s\n", s ? b : a, def);
    }
    if (c && c->precisions)
        fprintf(f, "  layouts searched: TP x EP x DP splits (no pipeline parallelism: bubbles are not costed), "
                   "aggregated and disaggregated; weight formats %s where the device supports them\n",
                c->precisions);
    if (c && c->mtp)
        fprintf(f, "  MTP: %s\n", c->mtp);
    for (int s = 0; s < 2; s++)
        print_frontier(f, r, c, s);
    fprintf(f, "\nat matched interactivity (B / A; each side interpolated log-log on its frontier, layout = the "
               "frontier point that reaches the level):\n");
    cJSON *rows = levels_json(r);
    static const char *const cols[] = { "tps_user", "a_tps_gpu", "b_tps_gpu", "ratio_tps_gpu", "ratio_usd_per_mtok",
                                        "ratio_joules_per_token", "a_layout", "b_layout" };
    sim_table_print(f, rows, cols, 8);
    cJSON_Delete(rows);
    char ans[2048];
    sim_compare_answer(r, c, ans, sizeof ans);
    fprintf(f, "\nanswer: %s\n", ans);
}

cJSON *sim_compare_report_json(const sim_compare_result *r, const sim_compare_context *c)
{
    cJSON *j = cJSON_CreateObject();
    cJSON *systems = j ? cJSON_AddArrayToObject(j, "systems") : NULL;
    if (!systems) {
        cJSON_Delete(j);
        return NULL;
    }
    for (int s = 0; s < 2; s++) {
        char name[128], def[512];
        sim_compare_name(r, c, s, name, sizeof name);
        sim_compare_definition(r, s, def, sizeof def);
        cJSON *o = cJSON_CreateObject();
        cJSON_AddItemToArray(systems, o);
        cJSON_AddStringToObject(o, "name", name);
        cJSON_AddStringToObject(o, "hw", r->side[s].hw->name);
        cJSON_AddNumberToObject(o, "gpus", r->side[s].gpus);
        cJSON_AddStringToObject(o, "definition", def);
        cJSON_AddNumberToObject(o, "configurations", (double)r->side[s].configs);
        cJSON_AddNumberToObject(o, "skipped_unsupported", (double)r->side[s].unsupported);
        frontier_json(r, c, s, cJSON_AddArrayToObject(o, "frontier"));
    }
    cJSON_AddItemToObject(j, "levels", levels_json(r));
    add_num(j, "claim", r->claim > 0 ? r->claim : NAN);
    char ans[2048];
    sim_compare_answer(r, c, ans, sizeof ans);
    cJSON_AddStringToObject(j, "answer", ans);
    return j;
}

/* ------------------------------------------------------------------ plots */

int sim_compare_report_plot(const char *path, const sim_compare_result *r, const sim_compare_context *c,
                            const char *what, sim_err *err)
{
    bool cost = strcmp(what, "cost") == 0;
    cJSON *rows = cJSON_CreateArray();
    for (int s = 0; rows && s < 2; s++)
        if (!frontier_json(r, c, s, rows))
            break;
    if (!rows)
        return sim_fail(err, SIM_EFAIL, "out of memory");
    char title[384];
    snprintf(title, sizeof title, "%s, isl %g / osl %g: %s against interactivity (Pareto layouts)",
             c && c->model ? c->model : "", c ? c->isl : 0, c ? c->osl : 0,
             cost ? "cost per output token" : "throughput per GPU");
    sim_plot_opts po = { .x = "output_tokens_per_s_per_user",
                         .y = cost ? "usd_per_mtok_output" : "output_tokens_per_s_per_gpu", .by = "system",
                         .file = path, .title = title, .xlabel = "interactivity (output tokens/s per user, log scale)",
                         .ylabel = cost ? "US$ per million output tokens (log scale)"
                                        : "output tokens/s per GPU (log scale)",
                         .logx = true, .logy = true, .lines = true, .label = "layout" };
    int rc = sim_plot(rows, &po, err);
    cJSON_Delete(rows);
    return rc;
}

int sim_compare_report_ratio_plot(const char *path, const sim_compare_result *r, const sim_compare_context *c,
                                  sim_err *err)
{
    char a[128], b[128];
    sim_compare_name(r, c, 0, a, sizeof a);
    sim_compare_name(r, c, 1, b, sizeof b);
    cJSON *rows = cJSON_CreateArray();
    static const char *const what[3] = { "tokens/s per GPU", "US$ per million output tokens", "joules per output token" };
    for (int i = 0; rows && i < r->nlevels; i++) {
        const sim_compare_level *l = &r->levels[i];
        const double v[3] = { l->ratio_tps_gpu, l->ratio_usd, l->ratio_joules };
        for (int k = 0; k < 3; k++) {
            cJSON *o = cJSON_CreateObject();
            if (!o)
                break;
            cJSON_AddStringToObject(o, "ratio", what[k]);
            cJSON_AddNumberToObject(o, "tps_user", l->tps_user);
            add_num(o, "value", v[k]);
            cJSON_AddItemToArray(rows, o);
        }
    }
    if (!rows)
        return sim_fail(err, SIM_EFAIL, "out of memory");
    char title[384], ylabel[320];
    snprintf(title, sizeof title, "%s, isl %g / osl %g: %s over %s at matched interactivity",
             c && c->model ? c->model : "", c ? c->isl : 0, c ? c->osl : 0, b, a);
    snprintf(ylabel, sizeof ylabel, "ratio %s / %s (log scale)", b, a);
    sim_plot_opts po = { .x = "tps_user", .y = "value", .by = "ratio", .file = path, .title = title,
                         .xlabel = "interactivity (output tokens/s per user, log scale)", .ylabel = ylabel,
                         .logx = true, .logy = true, .lines = true };
    int rc = sim_plot(rows, &po, err);
    cJSON_Delete(rows);
    return rc;
}
