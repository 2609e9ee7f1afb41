/* bench_des.c: how fast the discrete-event serving simulator runs. One million requests
 * (Poisson, 1024 prompt / 256 output tokens, lognormal lengths) through DeepSeek-V3 FP8
 * on 8x H200 with attention DP8 + EP8, on one core: at 30 req/s (the steady-state model's
 * largest rate is about 31 req/s, so the queue grows: the batches are as large as they get)
 * with nothing cached (the routing grid behind the step model is computed in the run: the
 * cache directory is a fresh temporary one), the same again with the grid in memory, then
 * at 20 req/s (sustained), then 200,000 requests with 2048 output tokens at 2.5 req/s and with
 * 8192 at 0.625 req/s (the same output-token rate: long decode-only stretches between
 * arrivals, each one event, so the CPU time should barely grow with the output length; issue
 * 20). Prints CPU seconds and simulated requests per second, iterations and events, and for
 * the first run the memory: peak resident size over the resident size before it, per request.
 * Goals (issue 20): <= 2 s CPU for the million, <= 200 bytes per request.
 * Build: link with build/rel/libmoesim.a and the simulator's libraries; run from the repo
 * root or with MOESIM_HOME set. */
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#include "serve/des.h"
#include "cli/request.h"
#include "cli/serve_request.h"
#include "step/routing.h"
#include "serve/serving.h"

/* One session for the whole program: the cards it loads live until exit. */
static sim_session *test_session(void)
{
    static sim_session *s;
    if (!s)
        s = sim_session_alloc();
    return s;
}

/* CPU time of this process: the figure is about one core, whatever else shares the machine. */
static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
    return ts.tv_sec + ts.tv_nsec * 1e-9;
}

/* Resident bytes now (Linux /proc/self/statm); -1 when unknown. */
static double rss_now(void)
{
    FILE *f = fopen("/proc/self/statm", "r");
    long size, res;
    int ok = f && fscanf(f, "%ld %ld", &size, &res) == 2;
    if (f)
        fclose(f);
    return ok ? (double)res * sysconf(_SC_PAGESIZE) : -1;
}

/* The peak resident bytes of the process so far (getrusage: kilobytes on Linux). */
static double rss_peak(void)
{
    struct rusage ru;
    return getrusage(RUSAGE_SELF, &ru) == 0 ? ru.ru_maxrss * 1024.0 : -1;
}

static int run(long requests, double rate, int osl, bool memory)
{
    sim_request r;
    sim_request_defaults(&r);
    sim_err err = { 0 };
    const char *text[][2] = {
        { "model", "deepseek-v3" }, { "hw", "h200" },          { "gpus", "8" },
        { "dp", "8" },              { "precision", "fp8" },    { "isl", "1024" },
        { "isl_dist", "lognormal" }, { "osl_dist", "lognormal" },
    };
    for (size_t i = 0; i < sizeof text / sizeof text[0]; i++)
        if (sim_request_set_text(&r, text[i][0], text[i][1], &err))
            goto fail;
    char osl_text[16];
    snprintf(osl_text, sizeof osl_text, "%d", osl);
    if (sim_request_set_text(&r, "osl", osl_text, &err))
        goto fail;
    r.rate = rate;
    r.requests = (int)requests;
    double rss0 = rss_now(), t0 = now();
    cJSON *rep = NULL;
    sim_des_result res;
    if (cli_serve_request_run(test_session(), &r, false, false, &rep, &res, &err))
        goto fail;
    double s = now() - t0, peak = rss_peak();
    printf("%9ld requests  osl %4d  %6.3g req/s offered  %8.2f s CPU (goal <= %.1f)  %10.0f simulated requests/s  "
           "%7ld iterations in %7ld events  %5ld step-model calls  p99 TTFT %.3f s  p99 TPOT %.1f ms  %s\n",
           requests, osl, rate, s, 2.0 * requests / 1e6, requests / s, res.iterations, res.events, res.step_evals,
           res.ttft.p99, res.tpot.p99 * 1e3, res.sustainable ? "sustainable" : "NOT sustainable");
    if (memory && rss0 > 0 && peak > 0)
        printf("           memory: peak resident %.1f MB over %.1f MB before the run: %.0f bytes per request (goal <= 200)\n",
               peak / 1e6, rss0 / 1e6, (peak - rss0) / requests);
    else if (memory)
        printf("           memory: null (no /proc/self/statm or getrusage here)\n");
    long entries, hits, misses;
    sim_routing_cache_info(sim_session_routing(test_session()), &entries, &hits, &misses);
    printf("           routing statistics: %ld cached queries, %ld misses so far\n", entries, misses);
    cJSON_Delete(rep);
    sim_des_result_free(&res);
    return 0;
fail:
    fprintf(stderr, "bench_des: %s\n", err.msg);
    return 1;
}

int main(void)
{
    char dir[] = "/tmp/moesim-bench-des-XXXXXX";
    if (!mkdtemp(dir) || setenv("MOESIM_CACHE_DIR", dir, 1)) {
        fprintf(stderr, "bench_des: cannot make a temporary cache directory\n");
        return 1;
    }
    printf("bench_des: DeepSeek-V3 FP8, 8x H200, DP8 + EP8, isl 1024 / osl 256 (lognormal), one core\n");
    int rc = run(1000000, 30, 256, true); /* cold: the routing grid behind the step model is computed here too */
    if (!rc)
        rc = run(1000000, 30, 256, false); /* the grid in memory */
    if (!rc)
        rc = run(1000000, 20, 256, false);
    if (!rc)
        rc = run(200000, 2.5, 2048, false); /* long outputs: decode-only stretches */
    if (!rc)
        rc = run(200000, 0.625, 8192, false);
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    if (system(cmd) != 0)
        fprintf(stderr, "bench_des: could not remove %s\n", dir);
    return rc;
}
