/* main.c: the `moesim` command: dispatch to subcommands, and the small ones (eval,
 * models, hw) that only turn arguments into a request and print the result. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "report/catalog.h"
#include "cli/cli_args.h"
#include "cli/commands.h"
#include "report/report.h"
#include "cli/request.h"

#ifndef MOESIM_VERSION
#define MOESIM_VERSION "0.1.0"
#endif

static void eval_usage(FILE *f)
{
    fprintf(f, "usage: moesim eval --model M --hw H [options] [--json]\n"
               "  serving:  --isl N --osl N --concurrency C\n"
               "  one step: --phase prefill|decode --batch B --context L\n"
               "  llama-bench rows: --llama-bench [--pp N] [--tg N] [--ubatch N] [--depth N] [--format md|table|csv|json]\n"
               "            (one sequence, as llama-bench's -p, -n, -ub and -d: ppN a prompt of N tokens in micro-batches of\n"
               "            --ubatch, tgN N tokens generated, each test after --depth tokens already in the cache; defaults\n"
               "            llama-bench's: pp512, tg128, ubatch 512, depth 0. md: llama-bench's markdown table (the default),\n"
               "            table: aligned columns, csv and json: one row per test; --json = --format json)\n"
               "options (each also a field of moesim.eval{} in Lua, with '_' for '-'):\n");
    sim_cli_option_help(f);
}

/* Print a report object and free it; NULL means building it ran out of memory. */
static int print_json(cJSON *j)
{
    char *text = j ? cJSON_Print(j) : NULL;
    cJSON_Delete(j);
    if (!text)
        return cmd_fail(SIM_EFAIL, "out of memory printing JSON");
    puts(text);
    free(text);
    return 0;
}

typedef enum { BENCH_MD, BENCH_TABLE, BENCH_CSV, BENCH_JSON } bench_format;

/* --format's word, as llama-bench's -o names its outputs (md, csv, json) plus moesim's table. */
static int bench_format_parse(const char *text, bool json, bench_format *out)
{
    static const char *const names[] = { "md", "table", "csv", "json" };
    *out = json ? BENCH_JSON : BENCH_MD;
    if (!text)
        return 0;
    for (int i = 0; i < 4; i++)
        if (!strcmp(text, names[i])) {
            if (json && i != BENCH_JSON)
                return cmd_fail(SIM_EINPUT, "eval: --json and --format ask for two different outputs; give one");
            *out = (bench_format)i;
            return 0;
        }
    char msg[160];
    snprintf(msg, sizeof msg, "eval: --format must be md, table, csv or json (got '%.64s')", text);
    return cmd_fail(SIM_EINPUT, msg);
}

/* The rows (sim_report_llama_bench) in the chosen format; md is printed from the structs. */
static int print_bench(const sim_deploy *d, const sim_local_bench *b, bench_format fmt)
{
    static const char *const cols[] = { "model", "size_gib", "params_b", "backend", "gpus", "test", "t_s", "fits",
                                        "reason" };
    if (fmt == BENCH_MD) {
        sim_report_print_llama_bench(stdout, d, b);
        return 0;
    }
    cJSON *rows = sim_report_llama_bench(d, b);
    if (!rows)
        return cmd_fail(SIM_EFAIL, "out of memory building the rows");
    if (fmt == BENCH_JSON)
        return print_json(rows);
    int ncols = b->fits ? 8 : 9; /* a reason only where it does not fit */
    if (fmt == BENCH_TABLE) {
        sim_table_print(stdout, rows, cols, ncols);
        cJSON_Delete(rows);
        return 0;
    }
    char *text = sim_table_csv(rows, cols, ncols);
    cJSON_Delete(rows);
    if (!text)
        return cmd_fail(SIM_EFAIL, "out of memory printing CSV");
    fputs(text, stdout);
    free(text);
    return 0;
}

/* One of --llama-bench's sizes: a whole number in [lo, 10000000], or the default where not given. */
static int bench_size(const char *text, const char *flag, const char *what, long lo, int *out)
{
    if (!text)
        return 0;
    char *end;
    long v = strtol(text, &end, 10);
    if (end == text || *end || v < lo || v > 10000000) {
        char msg[200];
        snprintf(msg, sizeof msg, "eval: %s must be a whole number of %s, %ld to 10000000 (got '%.40s')", flag, what, lo,
                 text);
        return cmd_fail(SIM_EINPUT, msg);
    }
    *out = (int)v;
    return 0;
}

/* --llama-bench: llama-bench's pp and tg tests for the deployment a request describes. */
static int llama_bench(const sim_request *r, const char *const text[4], bench_format fmt)
{
    sim_local_bench_opts o;
    sim_local_bench_defaults(&o);
    sim_err err = { 0 };
    int rc;
    if ((rc = bench_size(text[0], "--pp", "prompt tokens", 1, &o.pp)) ||
        (rc = bench_size(text[1], "--tg", "generated tokens", 1, &o.tg)) ||
        (rc = bench_size(text[2], "--ubatch", "tokens per micro-batch (llama-bench's -ub)", 1, &o.ubatch)) ||
        (rc = bench_size(text[3], "--depth", "tokens already in the cache (llama-bench's -d)", 0, &o.depth)))
        return rc;
    sim_session *session = sim_session_alloc();
    if (!session)
        return cmd_fail(SIM_EFAIL, "out of memory");
    sim_deploy d, pre;
    sim_serve_opts so;
    bool has_prefill;
    sim_local_bench b;
    rc = sim_request_bench_options(r, &err);
    if (rc == SIM_OK)
        rc = sim_request_deploy(session, r, &d, &pre, &has_prefill, &so, &err);
    if (rc == SIM_OK)
        rc = sim_local_bench_run(&d, &o, &b, &err);
    if (rc)
        rc = cmd_fail(err.code, err.msg);
    else
        rc = print_bench(&d, &b, fmt);
    sim_session_free(session); /* the deployment points into it: last */
    return rc;
}

int cmd_eval(int argc, char **argv)
{
    sim_request r;
    sim_request_defaults(&r);
    bool json = false, bench = false;
    const char *sizes[4] = { NULL, NULL, NULL, NULL }, *format = NULL; /* --pp, --tg, --ubatch, --depth */
    const sim_cli_flag flags[] = { { "--json", NULL, &json },      { "--llama-bench", NULL, &bench },
                                   { "--pp", &sizes[0], NULL },     { "--tg", &sizes[1], NULL },
                                   { "--ubatch", &sizes[2], NULL }, { "--depth", &sizes[3], NULL },
                                   { "--format", &format, NULL } };
    int rc = sim_cli_parse("eval", argc, argv, &r, flags, 7);
    if (rc == 1) {
        eval_usage(stdout);
        return 0;
    }
    if (rc)
        return rc;
    if (bench) {
        bench_format fmt;
        if ((rc = bench_format_parse(format, json, &fmt)))
            return rc;
        return llama_bench(&r, sizes, fmt);
    }
    if (sizes[0] || sizes[1] || sizes[2] || sizes[3] || format)
        return cmd_fail(SIM_EINPUT, "eval: --pp, --tg, --ubatch, --depth and --format go with --llama-bench");
    sim_err err = { 0 };
    sim_session *session = sim_session_alloc();
    sim_request_result *res = malloc(sizeof *res);
    if (!session || !res) {
        sim_session_free(session);
        free(res);
        return cmd_fail(SIM_EFAIL, "out of memory");
    }
    /* the result points into the session: print before freeing it */
    rc = sim_request_eval(session, &r, res, &err);
    if (rc)
        rc = cmd_fail(err.code, err.msg);
    else if (json)
        rc = print_json(sim_request_result_json(res));
    else
        sim_request_result_print(stdout, res);
    free(res);
    sim_session_free(session);
    return rc;
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
                                              "kv_kib_per_token_bf16", "native_precision", "aliases" };
    static const char *const hw_cols[] = { "name", "class", "bf16_tflops", "fp8_tflops", "fp4_tflops",
                                           "memory_gb", "memory_gbs", "scale_up_domain", "usd_per_hour",
                                           "watts", "efficiency" };
    int rc = models ? print_rows(rows, json, model_cols, 11) : print_rows(rows, json, hw_cols, 11);
    cJSON_Delete(rows);
    return rc;
}

int cmd_models(int argc, char **argv)
{
    if (argc > 0 && strcmp(argv[0], "import") == 0)
        return cmd_import_hf(argc - 1, argv + 1);
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
               "      [--allow-slow] [--max-instructions N] [--max-memory MB]  lift or set the scenario's limits\n"
               "  moesim eval --model M --hw H ...    one configuration, broken down (--help for options)\n"
               "  moesim models [--json]              shipped model cards with parameter counts\n"
               "  moesim hw [--json]                  shipped hardware models\n"
               "  moesim serve --model M --hw H --rate R ...  simulate requests: TTFT/TPOT percentiles, goodput\n"
               "  moesim search --model M --hw H,H2 ...  Pareto frontier, or the cheapest config meeting an SLO\n"
               "  moesim compare --model M --hw A,B ...  two systems' frontiers and their ratios at matched tok/s/user\n"
               "  moesim calibrate [--quick] [--backend cpu|cuda] ...  measure here, fit, write hwmodels/calibrated/NAME.json\n"
               "  moesim models import CONFIG.json [--name N] [--out FILE] [--safetensors-index FILE]\n"
               "                                      a Hugging Face config.json as a model card (also: import-hf)\n"
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
    { "compare", cmd_compare },
    { "calibrate", cmd_calibrate },
    { "import-hf", cmd_import_hf },
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
