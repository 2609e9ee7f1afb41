/* trace.h: the requests a serving simulation replays: arrival times and prompt/output
 * lengths, drawn from seeded distributions (Poisson or gamma arrivals; fixed, uniform,
 * exponential or log-normal lengths) or read from a CSV trace whose errors name the line
 * and column. */
#ifndef MOESIM_TRACE_H
#define MOESIM_TRACE_H

#include "base/err.h"

typedef struct sim_wl_req {
    double arrival_s;
    int isl, osl;
} sim_wl_req;

/* Requests in order of arrival (arrival_s non-decreasing). */
typedef struct sim_workload {
    long n;
    sim_wl_req *r;
    char source[64];          /* "poisson", "gamma" or "trace" */
    long clipped;             /* draws cut to max_len */
    long rows_left;           /* a trace longer than the request limit: data lines not read (reported) */
} sim_workload;

typedef enum { SIM_LEN_FIXED, SIM_LEN_UNIFORM, SIM_LEN_EXPONENTIAL, SIM_LEN_LOGNORMAL } sim_len_kind;

typedef struct sim_len_dist {
    sim_len_kind kind;
    double mean;              /* tokens, >= 1 */
    double cv;                /* coefficient of variation: uniform and log-normal (exponential has 1) */
    int max;                  /* draws are clipped to [1, max] */
} sim_len_dist;

typedef struct sim_wl_opts {
    long requests;
    double rate;              /* requests per second */
    double burstiness;        /* gamma shape: 1 = Poisson, < 1 burstier, > 1 smoother */
    sim_len_dist isl, osl;
    unsigned long seed;
} sim_wl_opts;

/* "fixed", "uniform", "exponential" (or "exp"), "lognormal". */
int sim_len_kind_parse(const char *s, sim_len_kind *out);
const char *sim_len_kind_name(sim_len_kind k);

/* Draw `requests` requests with gamma-distributed gaps of mean 1/rate (shape = burstiness;
 * burstiness 1 is a Poisson process). Fails with SIM_EINPUT on a non-positive rate,
 * count or length, and names the option. */
int sim_workload_generate(const sim_wl_opts *o, sim_workload *out, sim_err *err);

/* Parse a CSV trace: "arrival_s,input_tokens,output_tokens" per line; an optional header
 * line, blank lines and '#' comments are skipped. `name` labels messages ("FILE:LINE:COL:").
 * At most `limit` rows are kept (0 = all). */
int sim_workload_parse(const char *text, const char *name, long limit, sim_workload *out, sim_err *err);
int sim_workload_load(const char *path, long limit, sim_workload *out, sim_err *err);

void sim_workload_free(sim_workload *w);

#endif
