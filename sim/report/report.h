/* report.h: results as JSON (cJSON). The same object is what `moesim eval --json` prints,
 * what Lua scenarios receive as a table, and what the text report and the table printer
 * read, so a field has one name everywhere. */
#ifndef MOESIM_REPORT_H
#define MOESIM_REPORT_H

#include <cjson/cJSON.h>
#include <stdio.h>

#include "serve/serving.h"

cJSON *sim_report_step(const sim_step_result *s);
cJSON *sim_report_memory(const sim_deploy *d, const sim_memfit *m);
cJSON *sim_report_deploy(const sim_deploy *d);
cJSON *sim_report_eval(const sim_deploy *d, const sim_serve_opts *o, const sim_eval *r);
cJSON *sim_report_phase(const sim_deploy *d, const char *phase, double batch, double ctx,
                        const sim_step_result *s, const sim_memfit *m);

/* Human-readable report of an eval or phase object. */
void sim_report_print(FILE *f, const cJSON *result);

/* An aligned table of an array of flat objects. `columns` (NULL = the keys of the first
 * row, in order) picks and orders columns. Numbers print with 4 significant digits. */
void sim_table_print(FILE *f, const cJSON *rows, const char *const *columns, int ncolumns);

/* CSV of the same (RFC 4180 quoting). Returns a malloc'ed string. */
char *sim_table_csv(const cJSON *rows, const char *const *columns, int ncolumns);

/* Format a number for a table: 4 significant digits, no exponent for ordinary magnitudes. */
void sim_format_number(char *buf, size_t cap, double v);

#endif
