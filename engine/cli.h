/* cli.h: the parts of `moe-engine` its subcommands share: the rank context (MPI or one rank),
 * option parsing helpers (engine/cli.c), and the two subcommands (bench.c, cmd_check.c) that
 * main.c dispatches to. Calls go one way: main.c -> subcommands -> cli.c. */
#ifndef MOESIM_ENG_CLI_H
#define MOESIM_ENG_CLI_H

#include "engine.h"

typedef struct eng_ctx {
    eng_transport *tr;       /* MPI when started by mpirun with >1 rank, else local */
    int rank, size;
    int argc;
    char **argv;
} eng_ctx;

/* Print on rank 0 only (progress to stderr, results to stdout). */
void eng_say(const eng_ctx *cx, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Every rank must run the same command: ranks given different options (--tokens, sizes)
 * would wait forever in different collectives. The first collective of each command compares
 * a hash of the arguments; a difference fails on every rank with SIM_EINPUT. */
int eng_same_args(const eng_ctx *cx, sim_err *err);

/* Parse an int option value: "--name" must be followed by an integer in [lo, hi]. */
int eng_opt_int(const char *name, const char *val, long lo, long hi, long *out, sim_err *err);

/* Layer options shared by bench and check: --model, --hidden, --ffn, --experts, --top-k,
 * --shared, --shared-ffn, --scoring, --dtype, --backend. Returns 1 if argv[*i] was one of
 * them (advancing *i past its value), 0 if not, or an error status (negated) */
typedef struct eng_layer_opts {
    const char *model;
    long hidden, ffn, experts, top_k, shared, shared_ffn;
    eng_scoring scoring;
    eng_dtype dtype;
    eng_backend backend;
    int dtype_set;
} eng_layer_opts;
void eng_layer_opts_init(eng_layer_opts *o);
int eng_layer_opt(eng_layer_opts *o, int argc, char **argv, int *i, sim_err *err);
/* The config the options describe (a model card or explicit sizes). */
int eng_layer_opts_config(const eng_layer_opts *o, eng_config *c, sim_err *err);

int eng_cmd_bench(eng_ctx *cx, sim_err *err);
int eng_cmd_check(eng_ctx *cx, sim_err *err);

#endif
