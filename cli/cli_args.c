/* cli_args.c: command-line options of the subcommands that take the request options
 * (eval, serve, search, calibrate...): --kv-precision fp8 sets the request field
 * kv_precision, plus each command's own flags. */
#include "cli/cli_args.h"

#include <stdio.h>
#include <string.h>

#include "cli/commands.h"

/* Parse --option value pairs into r, and the command's own flags. Returns 0, 1 for --help,
 * or an exit status >= 2 after printing the error. */
int sim_cli_parse(const char *cmd, int argc, char **argv, sim_request *r, const sim_cli_flag *x, int nx)
{
    sim_err err = { 0 };
    char msg[1200];
    for (int i = 0; i < argc; i++) {
        const char *a = argv[i];
        if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0)
            return 1;
        bool matched = false;
        for (int k = 0; k < nx && !matched; k++) {
            if (strcmp(a, x[k].name) != 0)
                continue;
            matched = true;
            if (x[k].value) {
                if (i + 1 >= argc) {
                    snprintf(msg, sizeof msg, "%s: option '%s' needs a value", cmd, a);
                    return cmd_fail(SIM_EINPUT, msg);
                }
                *x[k].value = argv[++i];
            }
            if (x[k].on)
                *x[k].on = true;
        }
        if (matched)
            continue;
        if (strncmp(a, "--", 2) != 0) {
            snprintf(msg, sizeof msg, "%s: expected --option, got '%s' (see moesim %s --help)", cmd, a, cmd);
            return cmd_fail(SIM_EINPUT, msg);
        }
        char name[64];
        snprintf(name, sizeof name, "%s", a + 2);
        for (char *p = name; *p; p++)
            if (*p == '-')
                *p = '_';
        const sim_opt_spec *spec = sim_request_find(name);
        if (!spec) {
            snprintf(msg, sizeof msg, "%s: unknown option '%s' (see moesim %s --help)", cmd, a, cmd);
            return cmd_fail(SIM_EINPUT, msg);
        }
        const char *value = NULL;
        bool takes = spec->type != SIM_OPT_BOOL ||
                     (i + 1 < argc && (strcmp(argv[i + 1], "true") == 0 || strcmp(argv[i + 1], "false") == 0));
        if (takes) {
            if (i + 1 >= argc) {
                snprintf(msg, sizeof msg, "%s: option '%s' needs a value", cmd, a);
                return cmd_fail(SIM_EINPUT, msg);
            }
            value = argv[++i];
        }
        if (sim_request_set_text(r, name, value, &err)) {
            snprintf(msg, sizeof msg, "%s: %s", cmd, err.msg);
            return cmd_fail(err.code, msg);
        }
    }
    return 0;
}

void sim_cli_option_help(FILE *f)
{
    const sim_opt_spec *o;
    for (size_t i = 0; (o = sim_request_option(i)); i++) {
        char flag[64];
        snprintf(flag, sizeof flag, "--%s", o->name);
        for (char *p = flag + 2; *p; p++)
            if (*p == '_')
                *p = '-';
        fprintf(f, "  %-24s %s\n", flag, o->help);
    }
}

