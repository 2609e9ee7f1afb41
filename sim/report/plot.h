/* plot.h: charts through gnuplot. Rows are JSON objects; one series per distinct value of
 * `by`, each with its own colour and marker (no two of the first 32 series share both), text
 * taken literally (no gnuplot subscripts from underscores). The image is written whole or not
 * at all (temporary file, then rename). */
#ifndef MOESIM_PLOT_H
#define MOESIM_PLOT_H

#include <cjson/cJSON.h>
#include <stdbool.h>

#include "base/err.h"

typedef struct sim_plot_opts {
    const char *x, *y, *by;          /* column names; by may be NULL */
    const char *file;                /* .png or .svg */
    const char *title, *xlabel, *ylabel;  /* NULL = derived from the column names, with units */
    bool logx, logy;
    bool lines;                      /* connect points (default true) */
    const char *label;               /* column whose text labels each point (e.g. the layout); NULL = none */
} sim_plot_opts;

int sim_plot(const cJSON *rows, const sim_plot_opts *o, sim_err *err);

/* A readable axis label with units for a column name ("tpot_s" -> "TPOT (s)"). */
void sim_plot_label(const char *column, char *buf, size_t cap);

#endif
