/* bench_step.c: how fast the step model answers, on one core, for MoE models: DeepSeek-V3 on
 * 8 x H200 (EP8) and on a GB200 NVL72 (EP72, 32 redundant experts with EPLB), Mixtral 8x7B on
 * 8 x H200 (EP8). Three figures per deployment:
 *   - first use: a sweep over decode batches of 1..320 sequences per rank with nothing on disk,
 *     so the routing grid's nodes are computed by the Monte Carlo (step/routing.c, "the token
 *     grid") and written to the cache file;
 *   - never-seen shapes: token counts in that range not asked before (the group's tokens not a
 *     multiple of the ranks), in a new process's memo (the grid read back from its cache file,
 *     which is timed) and then in a warm one; goal <= 20 us each;
 *   - repeated shapes: a sweep over shapes already asked (DeepSeek-V3 EP8), per CPU second, from
 *     a plan made once: its slim path (the time alone, sim_step_plan_time; goal >= 5 M/s, issue 20)
 *     and with the breakdown (sim_step_plan_eval), and from scratch (sim_step_eval).
 *   Then the steady-state serving model (sim_serve_eval, what search ranks candidates with: two
 *   steps with their breakdown per evaluation) over 64 concurrencies, per CPU second, with one
 *   plan for the deployment (sim_serve_opts.plan, as search and sim_serve_at_rate use it) and
 *   without (each step from scratch).
 *   `bench_step repeated` prints only that figure (BENCH_PLAN_ONLY=1: only its plan half, for profiling).
 * The routing cache files go to a fresh temporary directory, removed at the end. */
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "model/registry.h"
#include "serve/serving.h"
#include "step/routing.h"
#include "step/step.h"

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec * 1e-9;
}

enum { SHAPES = 64, BATCHES = 320 };

/* Decode shapes of 1 + 5i sequences per rank (i < SHAPES). Set 0: the group's tokens are dp
 * times that, as every rank decodes as many; set s > 0: s more tokens in the group, counts no
 * other set asks for (s < dp). */
static void shapes_set(sim_step_shape *sh, int set, int dp)
{
    for (int i = 0; i < SHAPES; i++) {
        double seqs = 1 + 5 * i;
        sh[i] = (sim_step_shape){ .decode_seqs = seqs, .decode_ctx = 2048, .group_tokens = dp * seqs + set };
    }
}

/* Seconds per evaluation over n shapes; < 0 on error. */
static double time_n(sim_deploy *d, const sim_memfit *fit, const sim_step_shape *sh, int n, double *sink)
{
    sim_err err = { 0 };
    sim_step_result r;
    double t0 = now();
    for (int i = 0; i < n; i++) {
        if (sim_step_eval(d, fit, &sh[i], &r, &err)) {
            fprintf(stderr, "bench_step: %s\n", err.msg);
            return -1;
        }
        *sink += r.time_s;
    }
    return (now() - t0) / n;
}

static double time_set(sim_deploy *d, const sim_memfit *fit, const sim_step_shape *sh, double *sink)
{
    return time_n(d, fit, sh, SHAPES, sink);
}

typedef struct setup {
    const char *label, *model, *hw;
    int gpus, ep, redundant;
} setup;

static int load(const setup *s, sim_model *m, sim_hw *hw, sim_deploy *d, sim_memfit *fit)
{
    sim_err err = { 0 };
    if (sim_registry_model(s->model, m, &err) || sim_registry_hw(s->hw, hw, &err)) {
        fprintf(stderr, "bench_step: %s\n", err.msg);
        return 1;
    }
    sim_deploy_defaults(d, m, hw);
    d->gpus = s->gpus, d->tp = 1, d->dp = s->gpus, d->ep = s->ep;
    if (s->redundant > 0)
        sim_deploy_set_redundant(d, s->redundant, true);
    sim_deploy_set_precision(d, SIM_WF_FP8);
    if (sim_deploy_check(d, &err)) {
        fprintf(stderr, "bench_step: %s: %s\n", s->label, err.msg);
        return 1;
    }
    sim_memfit_eval(d, 2048, 64, fit);
    return 0;
}

/* The three never-seen figures for one deployment; returns 0 when all ran. */
static int never_seen(const setup *s, double *sink)
{
    static sim_model m;
    static sim_hw hw;
    sim_deploy d;
    sim_memfit fit;
    if (load(s, &m, &hw, &d, &fit))
        return 1;
    /* first use: a sweep over every batch of 1..BATCHES sequences per rank */
    sim_step_shape a[BATCHES], b[SHAPES], c[SHAPES];
    for (int i = 0; i < BATCHES; i++)
        a[i] = (sim_step_shape){ .decode_seqs = 1 + i, .decode_ctx = 2048, .group_tokens = s->gpus * (1.0 + i) };
    shapes_set(b, 1, s->gpus), shapes_set(c, 2, s->gpus);
    d.routing_cache = sim_routing_cache_alloc();
    double first = time_n(&d, &fit, a, BATCHES, sink);
    long grids, computed;
    sim_routing_grid_info(d.routing_cache, &grids, &computed, NULL);
    sim_routing_cache_free(d.routing_cache);
    d.routing_cache = sim_routing_cache_alloc(); /* a new process: the grid comes from its file */
    double from_file = time_set(&d, &fit, b, sink);
    long loaded;
    sim_routing_grid_info(d.routing_cache, NULL, NULL, &loaded);
    double warm = time_set(&d, &fit, c, sink);
    sim_routing_cache_free(d.routing_cache);
    if (first < 0 || from_file < 0 || warm < 0)
        return 1;
    printf("%-34s first use %7.3f ms/eval (%ld grid nodes computed); never-seen shapes: %5.1f us/eval with the "
           "grid read from its file (%ld nodes), %5.1f us/eval warm (goal <= 20 us: %s)\n",
           s->label, first * 1e3, computed, from_file * 1e6, loaded, warm * 1e6,
           from_file <= 20e-6 && warm <= 20e-6 ? "met" : "MISSED");
    return 0;
}

static double cpu_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
    return ts.tv_sec + ts.tv_nsec * 1e-9;
}

/* Evaluations per CPU second of a sweep over `sh` for 2 s, by sim_step_eval (plan NULL) or a plan
 * (slim: its time alone, sim_step_plan_time). */
static double rate_of(sim_deploy *d, const sim_memfit *fit, sim_step_plan *plan, bool slim, const sim_step_shape *sh,
                      double *sink)
{
    sim_err err = { 0 };
    sim_step_result r;
    long n = 0;
    double t0 = now(), c0 = cpu_now();
    do {
        for (int i = 0; i < SHAPES; i++, n++) {
            if (plan && slim)
                sim_step_plan_time(plan, &sh[i], &r.time_s, &err);
            else if (plan)
                sim_step_plan_eval(plan, &sh[i], &r, &err);
            else
                sim_step_eval(d, fit, &sh[i], &r, &err);
            *sink += r.time_s;
        }
    } while (now() - t0 < 2.0);
    return n / (cpu_now() - c0);
}

/* Steady-state serving evaluations per CPU second over 64 concurrencies for 2 s, with a plan
 * for the deployment or without; < 0 on error. */
static double serve_rate(sim_deploy *d, sim_step_plan *plan, double *sink)
{
    sim_serve_opts so;
    sim_serve_defaults(&so);
    so.osl = 256;
    so.plan = plan;
    sim_err err = { 0 };
    sim_eval ev;
    long n = 0;
    double t0 = now(), c0 = cpu_now();
    do {
        for (int i = 0; i < SHAPES; i++, n++) {
            so.concurrency = 8 * (1 + 5 * i);
            if (sim_serve_eval(d, &so, &ev, &err)) {
                fprintf(stderr, "bench_step: %s\n", err.msg);
                return -1;
            }
            *sink += ev.tpot_s;
        }
    } while (now() - t0 < 2.0);
    return n / (cpu_now() - c0);
}

/* Repeated shapes: a sweep over shapes whose routing is memoized, per CPU second, each
 * evaluation from scratch (sim_step_eval) and from a plan made once for the deployment
 * (sim_step_plan_eval, what a sweep uses; the goal is on it). */
static int repeated(const setup *s, double *sink)
{
    static sim_model m;
    static sim_hw hw;
    sim_deploy d;
    sim_memfit fit;
    if (load(s, &m, &hw, &d, &fit))
        return 1;
    sim_step_shape sh[SHAPES];
    shapes_set(sh, 0, s->gpus);
    d.routing_cache = sim_routing_cache_alloc();
    sim_err err = { 0 };
    sim_step_plan *plan = sim_step_plan_new(&d, &fit, &err);
    if (!plan || time_set(&d, &fit, sh, sink) < 0) {
        sim_routing_cache_free(d.routing_cache);
        sim_step_plan_free(plan);
        return 1;
    }
    double scratch = getenv("BENCH_PLAN_ONLY") ? 0 : rate_of(&d, &fit, NULL, false, sh, sink);
    double planned = rate_of(&d, &fit, plan, false, sh, sink), slim = rate_of(&d, &fit, plan, true, sh, sink);
    double serve_plan = getenv("BENCH_PLAN_ONLY") ? 0 : serve_rate(&d, plan, sink);
    double serve_scratch = getenv("BENCH_PLAN_ONLY") ? 0 : serve_rate(&d, NULL, sink);
    sim_step_plan_free(plan);
    sim_routing_cache_free(d.routing_cache);
    printf("%-34s repeated shapes, evaluations per CPU second: %.0f (%.0f ns each) for the time alone "
           "(sim_step_plan_time; goal >= 5000000: %s), %.0f with the breakdown from a plan, %.0f each from scratch\n",
           s->label, slim, 1e9 / slim, slim >= 5e6 ? "met" : "MISSED", planned, scratch);
    if (serve_plan < 0 || serve_scratch < 0)
        return 1;
    printf("%-34s steady-state serving evaluations (sim_serve_eval) per CPU second: %.0f with a plan for the "
           "deployment, %.0f without\n",
           s->label, serve_plan, serve_scratch);
    return 0;
}

int main(int argc, char **argv)
{
    /* `bench_step repeated`: only the repeated-shapes figure (for profiling the warm path) */
    bool only_repeated = argc > 1 && strcmp(argv[1], "repeated") == 0;
    char dir[] = "/tmp/moesim-bench-step-XXXXXX";
    if (!mkdtemp(dir) || setenv("MOESIM_CACHE_DIR", dir, 1)) {
        fprintf(stderr, "bench_step: cannot make a temporary cache directory\n");
        return 1;
    }
    static const setup setups[] = {
        { "deepseek-v3 on 8 x h200, EP8", "deepseek-v3", "h200", 8, 8, 0 },
        { "deepseek-v3 on gb200-nvl72, EP72", "deepseek-v3", "gb200-nvl72", 72, 72, 32 },
        { "mixtral-8x7b on 8 x h200, EP8", "mixtral-8x7b", "h200", 8, 8, 0 },
    };
    double sink = 0;
    int rc = 0;
    printf("step model, 64 decode shapes per figure, one core\n");
    for (size_t i = 0; i < sizeof setups / sizeof *setups && !rc && !only_repeated; i++)
        rc = never_seen(&setups[i], &sink);
    if (!rc)
        rc = repeated(&setups[0], &sink);
    printf("[checksum %.6g]\n", sink);
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    if (system(cmd) != 0)
        fprintf(stderr, "bench_step: could not remove %s\n", dir);
    return rc;
}
