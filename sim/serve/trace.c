/* trace.c: request streams for the discrete-event simulator: seeded draws (GSL) and CSV
 * traces. A trace error says where it is, as a compiler would: "FILE:LINE:COL: what". */
#include "serve/trace.h"
#include "base/readfile.h"

#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <gsl/gsl_randist.h>
#include <gsl/gsl_rng.h>

static const char *const len_names[] = { "fixed", "uniform", "exponential", "lognormal" };

int sim_len_kind_parse(const char *s, sim_len_kind *out)
{
    for (int i = 0; i < 4; i++)
        if (strcasecmp(s, len_names[i]) == 0) {
            *out = (sim_len_kind)i;
            return 0;
        }
    if (strcasecmp(s, "exp") == 0) {
        *out = SIM_LEN_EXPONENTIAL;
        return 0;
    }
    return -1;
}

const char *sim_len_kind_name(sim_len_kind k)
{
    return k <= SIM_LEN_LOGNORMAL ? len_names[k] : "?";
}

void sim_workload_free(sim_workload *w)
{
    free(w->r);
    w->r = NULL;
    w->n = 0;
}

/* One length; draws outside [1, max] are clipped and counted. */
static int draw_len(const sim_len_dist *d, gsl_rng *r, long *clipped)
{
    double x = d->mean;
    switch (d->kind) {
    case SIM_LEN_FIXED:
        break;
    case SIM_LEN_UNIFORM: {
        /* a uniform law of standard deviation cv*mean has half-width cv*mean*sqrt(3) */
        double h = fmin(d->cv * d->mean * sqrt(3.0), d->mean - 0.5);
        x = gsl_ran_flat(r, d->mean - h, d->mean + h);
        break;
    }
    case SIM_LEN_EXPONENTIAL:
        x = gsl_ran_exponential(r, d->mean);
        break;
    case SIM_LEN_LOGNORMAL: {
        double s2 = log1p(d->cv * d->cv);
        x = gsl_ran_lognormal(r, log(d->mean) - s2 / 2, sqrt(s2));
        break;
    }
    }
    long v = lround(x);
    if (v < 1 || v > d->max) {
        (*clipped)++;
        v = v < 1 ? 1 : d->max;
    }
    return (int)v;
}

static int check_len(const sim_len_dist *d, const char *what, sim_err *err)
{
    if (!(d->mean >= 1) || !isfinite(d->mean))
        return sim_fail(err, SIM_EINPUT, "%s must be >= 1 token (got %g)", what, d->mean);
    if (d->max < d->mean)
        return sim_fail(err, SIM_EINPUT, "%s mean %g exceeds the longest allowed length %d", what, d->mean, d->max);
    if ((d->kind == SIM_LEN_UNIFORM || d->kind == SIM_LEN_LOGNORMAL) && !(d->cv >= 0 && d->cv <= 10))
        return sim_fail(err, SIM_EINPUT, "len_cv must be in [0, 10] (got %g)", d->cv);
    return SIM_OK;
}

int sim_workload_generate(const sim_wl_opts *o, sim_workload *out, sim_err *err)
{
    memset(out, 0, sizeof *out);
    if (!(o->rate > 0) || !isfinite(o->rate))
        return sim_fail(err, SIM_EINPUT, "rate must be a positive number of requests per second (got %g)", o->rate);
    if (o->requests < 1)
        return sim_fail(err, SIM_EINPUT, "requests must be >= 1 (got %ld)", o->requests);
    if (o->requests > 100000000)
        return sim_fail(err, SIM_EINPUT, "requests must be at most 100,000,000 (got %ld)", o->requests);
    if (!(o->burstiness > 0) || !isfinite(o->burstiness))
        return sim_fail(err, SIM_EINPUT, "burstiness (gamma shape) must be positive (got %g)", o->burstiness);
    int rc;
    if ((rc = check_len(&o->isl, "isl", err)) || (rc = check_len(&o->osl, "osl", err)))
        return rc;
    out->r = malloc((size_t)o->requests * sizeof *out->r);
    if (!out->r)
        return sim_fail(err, SIM_EFAIL, "out of memory for %ld requests", o->requests);
    gsl_rng *r = gsl_rng_alloc(gsl_rng_mt19937);
    if (!r) {
        sim_workload_free(out);
        return sim_fail(err, SIM_EFAIL, "out of memory for the random generator");
    }
    gsl_rng_set(r, o->seed);
    bool poisson = o->burstiness == 1;
    double t = 0;
    for (long i = 0; i < o->requests; i++) {
        /* the first request arrives at 0 so a run never starts with an idle gap */
        if (i > 0)
            t += poisson ? gsl_ran_exponential(r, 1 / o->rate)
                         : gsl_ran_gamma(r, o->burstiness, 1 / (o->rate * o->burstiness));
        out->r[i].arrival_s = t;
        out->r[i].isl = draw_len(&o->isl, r, &out->clipped);
        out->r[i].osl = draw_len(&o->osl, r, &out->clipped);
    }
    gsl_rng_free(r);
    out->n = o->requests;
    snprintf(out->source, sizeof out->source, "%s", poisson ? "poisson" : "gamma");
    return SIM_OK;
}

/* --- CSV traces --- */

typedef struct field {
    const char *start;
    size_t len;
    int col;
} field;

/* Split one line at commas, trimming blanks; keeps the first `cap` fields and returns how
 * many there were. */
static int split(const char *line, size_t len, field *f, int cap)
{
    int n = 0;
    size_t i = 0;
    for (;;) {
        size_t a = i;
        while (i < len && line[i] != ',')
            i++;
        size_t b = i;
        while (a < b && isspace((unsigned char)line[a]))
            a++;
        while (b > a && isspace((unsigned char)line[b - 1]))
            b--;
        if (n < cap)
            f[n] = (field){ line + a, b - a, (int)a + 1 };
        n++;
        if (i >= len)
            return n;
        i++;
    }
}

static bool parse_num(const field *f, double *v)
{
    char buf[64];
    if (f->len == 0 || f->len >= sizeof buf)
        return false;
    memcpy(buf, f->start, f->len);
    buf[f->len] = '\0';
    char *end;
    errno = 0;
    *v = strtod(buf, &end);
    return *end == '\0' && errno == 0 && isfinite(*v);
}

static int bad(sim_err *err, const char *name, long line, int col, const char *what, const field *f)
{
    return sim_fail(err, SIM_EINPUT, "%s:%ld:%d: %s (got '%.*s')", name, line, col, what,
                    (int)(f->len > 40 ? 40 : f->len), f->start);
}

/* One data line into *q; `prev` is the previous arrival (non-decreasing times). */
static int parse_row(const field *f, const char *name, long line, double prev, sim_wl_req *q, sim_err *err)
{
    static const char *const cols[3] = { "arrival_s", "input_tokens", "output_tokens" };
    double v[3];
    for (int i = 0; i < 3; i++) {
        if (!parse_num(&f[i], &v[i])) {
            char what[96];
            snprintf(what, sizeof what, "%s must be a number", cols[i]);
            return bad(err, name, line, f[i].col, what, &f[i]);
        }
    }
    if (v[0] < 0)
        return bad(err, name, line, f[0].col, "arrival_s must be >= 0", &f[0]);
    if (v[0] < prev)
        return bad(err, name, line, f[0].col, "arrival times must not decrease (sort the trace by arrival)", &f[0]);
    for (int i = 1; i < 3; i++)
        if (v[i] < 1 || v[i] != floor(v[i]) || v[i] > 1e8) {
            char what[96];
            snprintf(what, sizeof what, "%s must be a whole number of tokens >= 1", cols[i]);
            return bad(err, name, line, f[i].col, what, &f[i]);
        }
    *q = (sim_wl_req){ v[0], (int)v[1], (int)v[2] };
    return SIM_OK;
}

static bool is_header(const field *f)
{
    double v;
    return f->len > 0 && !parse_num(f, &v) && isalpha((unsigned char)f->start[0]);
}

int sim_workload_parse(const char *text, const char *name, long limit, sim_workload *out, sim_err *err)
{
    memset(out, 0, sizeof *out);
    long cap = 0, line = 0;
    bool first = true;
    const char *p = text;
    while (*p && (limit <= 0 || out->n < limit)) {
        const char *nl = strchr(p, '\n');
        size_t len = nl ? (size_t)(nl - p) : strlen(p);
        line++;
        const char *l = p;
        p = nl ? nl + 1 : p + len;
        if (len > 0 && l[len - 1] == '\r')
            len--;
        size_t s = 0;
        while (s < len && isspace((unsigned char)l[s]))
            s++;
        if (s == len || l[s] == '#')
            continue;
        field f[3];
        int nf = split(l, len, f, 3);
        if (first && is_header(&f[0])) {
            first = false;
            continue;
        }
        first = false;
        if (nf != 3) {
            sim_workload_free(out);
            return sim_fail(err, SIM_EINPUT, "%s:%ld:1: expected 3 columns (arrival_s,input_tokens,output_tokens), found %d",
                            name, line, nf);
        }
        if (out->n == cap) {
            cap = cap ? 2 * cap : 1024;
            sim_wl_req *nr = realloc(out->r, (size_t)cap * sizeof *nr);
            if (!nr) {
                sim_workload_free(out);
                return sim_fail(err, SIM_EFAIL, "%s: out of memory", name);
            }
            out->r = nr;
        }
        double prev = out->n ? out->r[out->n - 1].arrival_s : 0;
        int rc = parse_row(f, name, line, prev, &out->r[out->n], err);
        if (rc) {
            sim_workload_free(out);
            return rc;
        }
        out->n++;
    }
    /* Stopped at the limit: count what was left, so the cut is said, never silent. */
    for (; *p; line++) {
        const char *nl = strchr(p, '\n');
        size_t len = nl ? (size_t)(nl - p) : strlen(p);
        size_t s = 0;
        while (s < len && isspace((unsigned char)p[s]))
            s++;
        if (s < len && p[s] != '#')
            out->rows_left++;
        p = nl ? nl + 1 : p + len;
    }
    if (out->n == 0)
        return sim_fail(err, SIM_EINPUT, "%s: the trace holds no requests (lines of arrival_s,input_tokens,output_tokens)",
                        name);
    snprintf(out->source, sizeof out->source, "trace");
    return SIM_OK;
}

int sim_workload_load(const char *path, long limit, sim_workload *out, sim_err *err)
{
    memset(out, 0, sizeof *out);
    size_t len;
    char *buf = sim_read_file(path, SIM_MAX_TRACE_BYTES, "trace", &len, err);
    if (!buf)
        return sim_wrap(err, "trace");
    if (memchr(buf, '\0', len)) {
        free(buf);
        return sim_fail(err, SIM_EINPUT, "trace %s: not a text file (NUL byte)", path);
    }
    int rc = sim_workload_parse(buf, path, limit, out, err);
    free(buf);
    return rc;
}
