/* cal_run.h: the measurement plan and running it: `moe-engine bench` (found next to the
 * moesim binary) once per step, each writing its JSON into a folder; progress on stderr. */
#ifndef MOESIM_CAL_RUN_H
#define MOESIM_CAL_RUN_H

#include <stdbool.h>
#include <stdio.h>

#include "base/err.h"

typedef struct cal_step {
    const char *what;        /* progress label */
    const char *model;       /* model card for --model, or NULL for the explicit sizes below */
    const char *sizes;       /* "--hidden 2048 --ffn 256 --experts 8 --top-k 8" when model is NULL */
    const char *dtype;
    const char *tokens;
    int reps;
    bool primitives;         /* triad and the GEMM sweep ride along with this step */
    int ranks;               /* > 1: under mpirun, for the all-to-all (skipped without mpirun) */
} cal_step;

/* The plan: quick (a laptop, under two minutes on two cores) or full. */
const cal_step *cal_plan(bool quick, int *n);

/* Print the plan, one line per step. */
void cal_plan_describe(const cal_step *plan, int n, const char *backend, FILE *f);

/* The engine binary next to this program (/proc/self/exe's folder). */
int cal_engine_path(char *out, size_t cap, sim_err *err);

/* Run every step with `backend` into folder `dir`, appending each JSON written to `files`
 * (comma-separated, capacity cap). A step under mpirun that cannot start is skipped with a
 * note; any other failure stops with the engine's own last message. SIGINT and SIGTERM reach
 * the running engine too; a `temporary` folder is then removed. */
int cal_run_plan(const cal_step *plan, int n, const char *backend, const char *dir, bool temporary, char *files,
                 size_t cap, sim_err *err);

#endif
