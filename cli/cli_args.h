/* cli_args.h: parsing `--option value` arguments into a sim_request (request.h), with a
 * command's own extra flags, and the option help every such command prints. */
#ifndef MOESIM_CLI_ARGS_H
#define MOESIM_CLI_ARGS_H

#include <stdbool.h>
#include <stdio.h>

#include "cli/request.h"

/* A command's own flag: "--json" (a switch, sets *on) or "--csv FILE" (sets *value). */
typedef struct sim_cli_flag {
    const char *name;
    const char **value;   /* NULL: a switch */
    bool *on;
} sim_cli_flag;

/* Parse argv into r and the extra flags. Returns 0, 1 for --help, or an exit status >= 2
 * after printing the error ("CMD: unknown option '--x' (see moesim CMD --help)"). */
int sim_cli_parse(const char *cmd, int argc, char **argv, sim_request *r, const sim_cli_flag *x, int nx);

/* "  --kv-precision           KV cache precision..." for every request option. */
void sim_cli_option_help(FILE *f);

#endif
