/* report.h: the report layer: result structs as JSON (cJSON) and as text. The JSON object
 * is what `moesim eval --json` prints and what Lua scenarios receive as a table; the text
 * report prints the same structs, so both show the same figures. Tables and CSV print
 * arrays of flat objects (rows built in Lua or by the table builders). */
#ifndef MOESIM_REPORT_H
#define MOESIM_REPORT_H

#include <cjson/cJSON.h>
#include <stdio.h>

#include "serve/serving.h"

cJSON *sim_report_step(const sim_hw *hw, const sim_step_result *s);
cJSON *sim_report_memory(const sim_deploy *d, const sim_memfit *m);
cJSON *sim_report_deploy(const sim_deploy *d);
/* One line, "EMULATED (--emulate): ...", when the deployment runs formats its device does not
 * support (sim_deploy_emulated); nothing otherwise. */
void sim_report_emulated_line(FILE *f, const sim_deploy *d);
cJSON *sim_report_eval(const sim_deploy *d, const sim_serve_opts *o, const sim_eval *r);
cJSON *sim_report_phase(const sim_deploy *d, const sim_phase_result *p);
/* The JSON builders return a new object the caller frees with cJSON_Delete (NULL when out
 * of memory). */

/* Human-readable report of a serving evaluation (sim_serve_eval) or of one phase
 * (sim_phase_run), the text of `moesim eval`. */
void sim_report_print_eval(FILE *f, const sim_deploy *d, const sim_serve_opts *o, const sim_eval *r);
void sim_report_print_phase(FILE *f, const sim_deploy *d, const sim_phase_result *p);

/* Speculative decoding as eval, serve, search and a decode phase all show it: the drafter
 * (the card's MTP module, an EAGLE-3 head or a draft model), the draft tokens, the rows a
 * step verifies per sequence, the accepted tokens a step produces and where that figure
 * comes from (the card's published figure or the option spec_accept). */
typedef struct sim_spec_view {
    int draft_tokens;           /* 0 = off (nothing is shown) */
    double accepted;            /* tokens a decode step produces per sequence */
    const char *draft_model;    /* the draft model's name; NULL for the MTP module or an EAGLE-3 head */
    bool eagle3;
    const char *source;         /* where `accepted` comes from; NULL = not stated */
} sim_spec_view;
#define SIM_SPEC_NOTE "TPOT and tokens/s count accepted tokens: a decode step's time over the tokens it produces"
/* The view of deployment d drafting `draft_tokens` tokens per step (its drafter from d). */
sim_spec_view sim_report_spec_view(const sim_deploy *d, int draft_tokens, double accepted, const char *source);
/* Adds method, draft_model (when one), draft_tokens, verify_tokens_per_sequence,
 * accepted_tokens_per_step and acceptance_source to the object s. */
void sim_report_spec_fields(cJSON *s, const sim_spec_view *v);
/* "speculative decoding (MTP): 1 draft token, 2 verified per sequence, 1.875 accepted tokens
 * per step<tail>" and "acceptance source: ..." (its first sentence); nothing when off. */
void sim_report_print_spec(FILE *f, const sim_spec_view *v, const char *tail);

/* An aligned table of an array of flat objects. `columns` (NULL = the keys of the first
 * row, in order) picks and orders columns. Numbers print with 4 significant digits. */
void sim_table_print(FILE *f, const cJSON *rows, const char *const *columns, int ncolumns);

/* CSV of the same (RFC 4180 quoting). Returns a malloc'ed string. */
char *sim_table_csv(const cJSON *rows, const char *const *columns, int ncolumns);

/* Format a number for a table: 4 significant digits, no exponent for ordinary magnitudes. */
void sim_format_number(char *buf, size_t cap, double v);

/* llama-bench-shaped rows (model, size, params, backend, test, t/s) of a local benchmark:
 * a markdown table like llama-bench's, or JSON rows. */
struct sim_local_bench;
void sim_report_print_llama_bench(FILE *f, const sim_deploy *d, const struct sim_local_bench *b);
cJSON *sim_report_llama_bench(const sim_deploy *d, const struct sim_local_bench *b);

#endif
