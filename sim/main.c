/* main.c: the `moesim` command: dispatch to subcommands, and the small ones (eval,
 * models, hw) that only turn arguments into a request and print the result. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "catalog.h"
#include "commands.h"
#include "report.h"
#include "request.h"

#ifndef MOESIM_VERSION
#define MOESIM_VERSION "0.1.0"
#endif

int cmd_fail(int code, const char *msg)
{
    fprintf(stderr, "moesim: %s\n", msg);
    return code == SIM_EINPUT ? 2 : 1;
}

static void eval_usage(FILE *f)
{
    fprintf(f, "usage: moesim eval --model M --hw H [options] [--json]\n"
               "  serving:  --isl N --osl N --concurrency C\n"
               "  one step: --phase prefill|decode --batch B --context L\n"
               "options (each also a field of moesim.eval{} in Lua, with '_' for '-'):\n");
    for (const sim_opt_spec *o = sim_request_options(); o->name; o++) {
        char flag[64];
        snprintf(flag, sizeof flag, "--%s", o->name);
        for (char *p = flag + 2; *p; p++)
            if (*p == '_')
                *p = '-';
        fprintf(f, "  %-24s %s\n", flag, o->help);
    }
}

int cmd_eval(int argc, char **argv)
{
    sim_request r;
    sim_request_defaults(&r);
    sim_err err = { 0 };
    bool json = false;
    for (int i = 0; i < argc; i++) {
        const char *a = argv[i];
        if (strcmp(a, "--json") == 0) {
            json = true;
            continue;
        }
        if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0) {
            eval_usage(stdout);
            return 0;
        }
        if (strncmp(a, "--", 2) != 0)
            return cmd_fail(SIM_EINPUT, "eval: expected --option, got a bare argument (see moesim eval --help)");
        char name[64];
        snprintf(name, sizeof name, "%s", a + 2);
        for (char *p = name; *p; p++)
            if (*p == '-')
                *p = '_';
        const sim_opt_spec *spec = sim_request_find(name);
        if (!spec) {
            char list[1024], msg[1200];
            sim_request_option_list(list, sizeof list);
            snprintf(msg, sizeof msg, "eval: unknown option '%s' (see moesim eval --help)", a);
            return cmd_fail(SIM_EINPUT, msg);
        }
        const char *value = NULL;
        bool takes_value = spec->type != OPT_BOOL;
        if (!takes_value && i + 1 < argc && (strcmp(argv[i + 1], "true") == 0 || strcmp(argv[i + 1], "false") == 0))
            takes_value = true;
        if (takes_value) {
            if (i + 1 >= argc) {
                char msg[128];
                snprintf(msg, sizeof msg, "eval: option '%s' needs a value", a);
                return cmd_fail(SIM_EINPUT, msg);
            }
            value = argv[++i];
        }
        if (sim_request_set_text(&r, name, value, &err))
            return cmd_fail(err.code, err.msg);
    }
    cJSON *result = NULL;
    if (sim_request_run(&r, &result, &err))
        return cmd_fail(err.code, err.msg);
    if (json) {
        char *text = cJSON_Print(result);
        if (!text) {
            cJSON_Delete(result);
            return cmd_fail(SIM_EFAIL, "out of memory printing JSON");
        }
        puts(text);
        free(text);
    } else {
        sim_report_print(stdout, result);
    }
    cJSON_Delete(result);
    return 0;
}

static int print_rows(cJSON *rows, bool json, const char *const *cols, int ncols)
{
    if (json) {
        char *text = cJSON_Print(rows);
        if (!text)
            return cmd_fail(SIM_EFAIL, "out of memory printing JSON");
        puts(text);
        free(text);
    } else {
        sim_table_print(stdout, rows, cols, ncols);
    }
    return 0;
}

static int list_command(int argc, char **argv, bool models)
{
    bool json = false;
    for (int i = 0; i < argc; i++) {
        if (strcmp(argv[i], "--json") == 0)
            json = true;
        else {
            char msg[256];
            snprintf(msg, sizeof msg, "%s: unknown argument '%s' (only --json)", models ? "models" : "hw", argv[i]);
            return cmd_fail(SIM_EINPUT, msg);
        }
    }
    sim_err err = { 0 };
    cJSON *rows = NULL;
    if ((models ? sim_catalog_models(&rows, &err) : sim_catalog_hw(&rows, &err)))
        return cmd_fail(err.code, err.msg);
    static const char *const model_cols[] = { "name",    "total_params_b", "active_params_b", "layers",
                                              "attention", "experts", "top_k", "shared_experts",
                                              "kv_kib_per_token_bf16", "native_precision" };
    static const char *const hw_cols[] = { "name", "class", "bf16_tflops", "fp8_tflops", "fp4_tflops",
                                           "memory_gb", "memory_gbs", "scale_up_domain", "usd_per_hour",
                                           "watts", "efficiency" };
    int rc = models ? print_rows(rows, json, model_cols, 10) : print_rows(rows, json, hw_cols, 11);
    cJSON_Delete(rows);
    return rc;
}

int cmd_models(int argc, char **argv)
{
    return list_command(argc, argv, true);
}

int cmd_hw(int argc, char **argv)
{
    return list_command(argc, argv, false);
}

static void usage(FILE *f)
{
    fprintf(f, "moesim %s: what a Mixture-of-Experts model costs and how fast it runs on given hardware\n\n"
               "usage:\n"
               "  moesim run FILE.lua [--out DIR]     run a what-if scenario (results into DIR, default out/)\n"
               "  moesim eval --model M --hw H ...    one configuration, broken down (--help for options)\n"
               "  moesim models [--json]              shipped model cards with parameter counts\n"
               "  moesim hw [--json]                  shipped hardware models\n"
               "  moesim serve --model M --hw H --rate R ...  simulate requests: TTFT/TPOT percentiles, goodput\n"
               "  moesim search --model M --hw H,H2 ...  Pareto frontier, or the cheapest config meeting an SLO\n"
               "  moesim calibrate [--quick] [--backend cpu|cuda] ...  measure here, fit, write hwmodels/calibrated/NAME.json\n"
               "  moesim version\n",
            MOESIM_VERSION);
}

typedef struct command {
    const char *name;
    int (*fn)(int, char **);
} command;

static const command commands[] = {
    { "run", cmd_run },
    { "eval", cmd_eval },
    { "models", cmd_models },
    { "hw", cmd_hw },
    { "serve", cmd_serve },
    { "search", cmd_search },
    { "calibrate", cmd_calibrate },
};

int main(int argc, char **argv)
{
    if (argc < 2 || strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0 || strcmp(argv[1], "help") == 0) {
        usage(argc < 2 ? stderr : stdout);
        return argc < 2 ? 2 : 0;
    }
    if (strcmp(argv[1], "version") == 0 || strcmp(argv[1], "--version") == 0) {
        printf("moesim %s\n", MOESIM_VERSION);
        return 0;
    }
    for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++)
        if (strcmp(argv[1], commands[i].name) == 0)
            return commands[i].fn(argc - 2, argv + 2);
    fprintf(stderr, "moesim: unknown command '%s'\n", argv[1]);
    usage(stderr);
    return 2;
}
