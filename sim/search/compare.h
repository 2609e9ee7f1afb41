/* compare.h: two systems on one model, compared across interactivity (`moesim compare`,
 * moesim.compare{}). A system is a hardware model with its device count ("HGX H200" = h200 x
 * 8, one NVLink domain; "GB200 NVL72" = gb200-nvl72 x 72). Each system's Pareto frontier of
 * output tokens/s per GPU against tokens/s per user comes from the configuration search
 * (search.h) over its layouts, one search per MTP draft depth, merged; then, at matched
 * levels of tokens/s per user, the ratios B / A of tokens/s per GPU, of $ per million output
 * tokens and of joules per output token, each side interpolated on its own frontier
 * (log-log between neighbouring frontier points) and naming the layout that reaches the
 * level. Structs in, structs out; report/compare_report.h prints. */
#ifndef MOESIM_COMPARE_H
#define MOESIM_COMPARE_H

#include <stdbool.h>

#include "base/err.h"
#include "search/search.h"

#define SIM_COMPARE_MAX_SPACES 8   /* searches per system: one per MTP draft depth */
#define SIM_COMPARE_MAX_LEVELS 64

/* One system's searches: every space has system_gpus set and the same hardware. */
typedef struct sim_compare_system {
    const sim_search_space *spaces[SIM_COMPARE_MAX_SPACES];
    int nspaces;
} sim_compare_system;

/* One system's result: its frontier over all its searches, rising interactivity. */
typedef struct sim_compare_side {
    const sim_hw *hw;
    int gpus;                       /* the system's devices */
    sim_search_row *rows;
    long nrows;
    long configs, points, invalid, no_fit, unsupported;
} sim_compare_side;

/* A matched level of tokens/s per user. A side that cannot reach it has ok false and NaN
 * figures; row is the frontier point at or just above the level (the layout that reaches
 * it), -1 when none. */
typedef struct sim_compare_level {
    double tps_user;
    bool ok[2];
    double tps_gpu[2], usd_per_mtok[2], joules_per_token[2];
    long row[2];
    double ratio_tps_gpu;           /* B / A; NaN when a side cannot reach the level */
    double ratio_usd;               /* B / A of $ per million output tokens */
    double ratio_joules;            /* B / A of joules per output token (NaN without power data) */
} sim_compare_level;

typedef struct sim_compare_result {
    sim_compare_side side[2];       /* A (the baseline), B */
    sim_compare_level levels[SIM_COMPARE_MAX_LEVELS];
    int nlevels;
    double claim;                   /* the ratio the answer checks (e.g. 10) */
} sim_compare_result;

/* Search both systems and compare. `claim` > 0: the ratio the answer is about. Fails with
 * the search's error (SIM_EINPUT) when a system has no configuration that fits. The caller
 * frees the result with sim_compare_result_free. */
int sim_compare_run(const sim_compare_system sys[2], double claim, sim_compare_result *out, sim_err *err);

/* A frontier's figures at `tps_user`: tokens/s per GPU, $/M output tokens and J per output
 * token interpolated log-log between the neighbouring points (rows in rising
 * interactivity); *row the point at or just above. false when outside the frontier. */
bool sim_compare_at(const sim_search_row *rows, long n, double tps_user, double *tps_gpu, double *usd,
                    double *joules, long *row);

/* The Pareto frontier of rows (any order): kept are the points that deliver more tokens/s
 * per GPU than every point of higher tokens/s per user; written to out in rising
 * interactivity; returns how many. out may be rows. */
long sim_compare_pareto(const sim_search_row *rows, long n, sim_search_row *out);

void sim_compare_result_free(sim_compare_result *r);

#endif
