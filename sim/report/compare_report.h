/* compare_report.h: a two-system comparison (search/compare.h) as text, JSON, plots and a
 * one-paragraph answer written from its numbers: what `moesim compare` prints and what
 * moesim.compare{} returns. */
#ifndef MOESIM_COMPARE_REPORT_H
#define MOESIM_COMPARE_REPORT_H

#include <cjson/cJSON.h>
#include <stdio.h>

#include "base/err.h"
#include "search/compare.h"

/* What the report says about the question beside the numbers. */
typedef struct sim_compare_context {
    const char *name[2];            /* the systems as the user called them ("HGX H200"); NULL = "hw x gpus" */
    const char *model;
    double isl, osl;
    const char *precisions;         /* the formats searched, as asked ("fp8,nvfp4") */
    const char *mtp;                /* the MTP draft depths searched and their acceptance, in words */
    const char *cost_mode;          /* "rent" or "own" */
} sim_compare_context;

/* A system's name: the context's, or "h200 x 8". */
void sim_compare_name(const sim_compare_result *r, const sim_compare_context *c, int side, char *buf, size_t cap);

/* The definition of a system in words: devices, scale-up domains, price per device-hour. */
void sim_compare_definition(const sim_compare_result *r, int side, char *buf, size_t cap);

/* The one-paragraph answer, from the level table: where B / A reaches the claim, the range
 * of the ratio, the cost and energy ratios, and the levels only one system reaches. */
void sim_compare_answer(const sim_compare_result *r, const sim_compare_context *c, char *buf, size_t cap);

/* The text report: definitions, each frontier with its layouts, the level table with the
 * layout on each side, the answer. */
void sim_compare_report_print(FILE *f, const sim_compare_result *r, const sim_compare_context *c);

/* { systems = [{ name, hw, gpus, definition, frontier = [rows] }], levels = [...], claim,
 * answer }; NaN figures are null. NULL when out of memory; free with cJSON_Delete. */
cJSON *sim_compare_report_json(const sim_compare_result *r, const sim_compare_context *c);

/* Both frontiers in one plot, each point labelled with its layout: `what` is "throughput"
 * (tokens/s per GPU) or "cost" ($ per million output tokens), against tokens/s per user. */
int sim_compare_report_plot(const char *path, const sim_compare_result *r, const sim_compare_context *c,
                            const char *what, sim_err *err);

/* The ratios B / A (tokens/s per GPU, $/Mtok, J/token) against tokens/s per user. */
int sim_compare_report_ratio_plot(const char *path, const sim_compare_result *r, const sim_compare_context *c,
                                  sim_err *err);

#endif
