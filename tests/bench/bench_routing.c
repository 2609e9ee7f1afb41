/* bench_routing.c: how long a routing query takes. Cache misses are timed for the
 * DeepSeek-V3 shape (E=256, k=8) at decode and prefill token counts, uniform and skewed, at
 * ep=8 and ep=64; then the rate of cached lookups. The simulator asks this module once per
 * (layer shape, batch) in a sweep, so a miss must stay well under a second and a hit must be
 * negligible. Build: gcc -O2 -std=c11 -D_GNU_SOURCE sim/err.c sim/routing.c
 * tests/bench/bench_routing.c -lgsl -lgslcblas -lm */
#include <stdio.h>
#include <time.h>

#include "deploy/deploy.h"
#include "step/routing.h"

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec * 1e-9;
}

/* One timed cache miss; prints the row. Returns 0 on success. */
static int time_miss(long tokens, int ep, double skew)
{
    sim_routing_query q = {.experts = 256, .top_k = 8, .tokens = tokens, .ep = ep,
                           .ranks_per_node = ep < 8 ? ep : 8, .skew = skew, .seed = 1};
    sim_routing_stats s;
    sim_err err = {0};
    double t0 = now();
    if (sim_routing_stats_get(NULL, &q, &s, &err)) { /* no memo: a miss */
        fprintf(stderr, "bench_routing: %s\n", err.msg);
        return 1;
    }
    double ms = (now() - t0) * 1e3;
    printf("%6ld %4d %5.2f %9.2f %7d %12.2f %8.3f %8.2f\n", tokens, ep, skew, ms, s.trials,
           s.distinct_experts, s.max_tokens_per_rank / (s.mean_tokens_per_rank > 0 ? s.mean_tokens_per_rank : 1),
           s.max_experts_per_rank);
    return 0;
}

/* Rate of cached lookups over a small working set of queries. */
static int time_hits(void)
{
    enum { N = 64, ROUNDS = 20000 };
    sim_routing_query q[N];
    sim_routing_stats s;
    sim_err err = {0};
    sim_routing_cache *cache = sim_routing_cache_alloc();
    if (!cache)
        return 1;
    for (int i = 0; i < N; i++) {
        q[i] = (sim_routing_query){.experts = 256, .top_k = 8, .tokens = 1 + i, .ep = 8,
                                   .ranks_per_node = 8, .skew = SIM_DEPLOY_DEFAULT_SKEW, .seed = 1};
        if (sim_routing_stats_get(cache, &q[i], &s, &err)) {
            fprintf(stderr, "bench_routing: %s\n", err.msg);
            sim_routing_cache_free(cache);
            return 1;
        }
    }
    double t0 = now(), sink = 0;
    for (int r = 0; r < ROUNDS; r++)
        for (int i = 0; i < N; i++) {
            sim_routing_stats_get(cache, &q[i], &s, &err);
            sink += s.max_tokens_per_rank;
        }
    double dt = now() - t0;
    long entries, hits, misses;
    sim_routing_cache_info(cache, &entries, &hits, &misses);
    sim_routing_cache_free(cache);
    printf("cached lookups: %.1f M/s (%.0f ns each; %ld entries, %ld hits, %ld misses; checksum %.0f)\n",
           (double)N * ROUNDS / dt / 1e6, dt / ((double)N * ROUNDS) * 1e9, entries, hits, misses, sink);
    return 0;
}

int main(void)
{
    static const long tokens[] = {1, 64, 2048, 16384};
    static const int eps[] = {8, 64};
    static const double skews[] = {0, SIM_DEPLOY_DEFAULT_SKEW};
    printf("routing cache-miss time, E=256 k=8 (max/mean = max_tokens_per_rank / mean)\n");
    printf("%6s %4s %5s %9s %7s %12s %8s %8s\n", "T", "ep", "skew", "miss_ms", "trials",
           "distinct", "max/mean", "maxexp");
    for (size_t s = 0; s < sizeof skews / sizeof *skews; s++)
        for (size_t e = 0; e < sizeof eps / sizeof *eps; e++)
            for (size_t t = 0; t < sizeof tokens / sizeof *tokens; t++)
                if (time_miss(tokens[t], eps[e], skews[s]))
                    return 1;
    return time_hits();
}
