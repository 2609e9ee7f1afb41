/* bench_routing.c: how long a routing query takes, and how close the token grid comes to the
 * Monte Carlo. Part 1 times the direct Monte Carlo (a cache miss before the grid: what a
 * never-seen token count cost) for the DeepSeek-V3 shape (E=256, k=8) at decode and prefill
 * token counts, uniform and skewed, at ep=8 and ep=64. Part 2 compares, for DeepSeek-V3 EP8,
 * EP72 with EPLB and 32 redundant experts, and Mixtral 8x7B EP8, the grid's figures against
 * the Monte Carlo at each token count between nodes (step/routing.c, "the token grid"), and
 * beside it how far two seeds of the Monte Carlo itself lie apart. Part 3 is the rate of
 * cached lookups. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "deploy/deploy.h"
#include "step/routing.h"

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec * 1e-9;
}

/* One timed Monte Carlo; prints the row. Returns 0 on success. */
static int time_miss(long tokens, int ep, double skew)
{
    sim_routing_query q = {.experts = 256, .top_k = 8, .tokens = tokens, .ep = ep,
                           .ranks_per_node = ep < 8 ? ep : 8, .skew = skew, .seed = 1, .direct = true};
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

/* The figures the step model reads (step.c, moe_ops and ep_alltoall): relative error, except
 * the two shares, whose error is absolute (a share near 0 has no useful relative error). */
enum { NF = 9 };
static const char *const fig_name[NF] = {"max_tok_rank", "max_exp_rank", "max_copies", "dest_ranks", "dest_nodes",
                                         "unbalanced", "small_exp_sh", "small_tok_sh", "distinct"};

static void figures(const sim_routing_stats *s, double f[NF])
{
    double v[NF] = {s->max_tokens_per_rank, s->max_experts_per_rank, s->max_token_copies_per_rank,
                    s->mean_dest_ranks_per_token, s->mean_dest_nodes_per_token, s->max_tokens_per_rank_unbalanced,
                    s->small_expert_share, s->small_token_share, s->distinct_experts};
    for (int i = 0; i < NF; i++)
        f[i] = v[i];
}

static double fig_err(int i, double got, double want)
{
    if (isnan(got) && isnan(want))
        return 0;
    if (i == 6 || i == 7)
        return fabs(got - want);
    return want != 0 ? fabs(got - want) / fabs(want) : fabs(got);
}

/* Max over token counts in [lo, hi] (about 40 of them, off the grid's nodes) of the grid's
 * error against the Monte Carlo, and of the Monte Carlo's seed-to-seed difference. */
static int accuracy(const char *label, sim_routing_query law, long lo, long hi)
{
    double grid_err[NF] = {0}, seed_err[NF] = {0};
    long worst_T[NF] = {0};
    sim_routing_cache *cache = sim_routing_cache_alloc();
    sim_err err = {0};
    int n = 0;
    for (double t = lo; t <= hi; t *= 1.13) {
        sim_routing_query q = law;
        q.tokens = (long)t;
        sim_routing_stats g, mc, mc2;
        q.direct = false;
        if (sim_routing_stats_get(cache, &q, &g, &err))
            goto fail;
        q.direct = true;
        if (sim_routing_stats_get(NULL, &q, &mc, &err))
            goto fail;
        q.seed += 1000;
        if (sim_routing_stats_get(NULL, &q, &mc2, &err))
            goto fail;
        double fg[NF], fm[NF], fm2[NF];
        figures(&g, fg), figures(&mc, fm), figures(&mc2, fm2);
        for (int i = 0; i < NF; i++) {
            double e = fig_err(i, fg[i], fm[i]), e2 = fig_err(i, fm2[i], fm[i]);
            if (e > grid_err[i])
                grid_err[i] = e, worst_T[i] = q.tokens;
            if (e2 > seed_err[i])
                seed_err[i] = e2;
        }
        n++;
    }
    sim_routing_cache_free(cache);
    printf("%s, T %ld..%ld (%d counts): grid vs Monte Carlo, max error (seed vs seed) [worst T]\n", label, lo, hi, n);
    for (int i = 0; i < NF; i++)
        printf("  %-13s %6.2f%s (%5.2f%s) [%ld]\n", fig_name[i], grid_err[i] * 100, i == 6 || i == 7 ? " pt" : " % ",
               seed_err[i] * 100, i == 6 || i == 7 ? " pt" : " % ", worst_T[i]);
    return 0;
fail:
    fprintf(stderr, "bench_routing: %s\n", err.msg);
    sim_routing_cache_free(cache);
    return 1;
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

int main(int argc, char **argv)
{
    (void)argv;
    /* The grid's cache files would make part 2 time nothing: keep them out. */
    setenv("MOESIM_CACHE_DIR", "", 1);
    static const long tokens[] = {1, 64, 2048, 16384};
    static const int eps[] = {8, 64};
    static const double skews[] = {0, SIM_DEPLOY_DEFAULT_SKEW};
    if (argc < 2) {
        printf("routing Monte Carlo time (a never-seen token count before the grid), E=256 k=8 (max/mean = "
               "max_tokens_per_rank / mean)\n");
        printf("%6s %4s %5s %9s %7s %12s %8s %8s\n", "T", "ep", "skew", "mc_ms", "trials",
               "distinct", "max/mean", "maxexp");
        for (size_t s = 0; s < sizeof skews / sizeof *skews; s++)
            for (size_t e = 0; e < sizeof eps / sizeof *eps; e++)
                for (size_t t = 0; t < sizeof tokens / sizeof *tokens; t++)
                    if (time_miss(tokens[t], eps[e], skews[s]))
                        return 1;
    }
    double mixtral_skew;
    sim_err err = {0};
    if (sim_routing_skew_for_ratio(8, 2, 1.5, &mixtral_skew, &err)) {
        fprintf(stderr, "bench_routing: %s\n", err.msg);
        return 1;
    }
    /* the laws of bench_step's deployments: DeepSeek-V3's card skew 0.69, Mixtral's imbalance 1.5;
     * small_rows 16 exercises the kernel-switch shares */
    sim_routing_query ds8 = {.experts = 256, .top_k = 8, .ep = 8, .ranks_per_node = 8, .skew = 0.69, .seed = 1,
                             .small_rows = 16};
    sim_routing_query ds72 = {.experts = 256, .top_k = 8, .ep = 72, .ranks_per_node = 72, .skew = 0.69, .seed = 1,
                              .redundant = 32, .eplb = true, .small_rows = 16};
    sim_routing_query ds8u = ds8;
    ds8u.skew = 0;
    sim_routing_query mix = {.experts = 8, .top_k = 2, .ep = 8, .ranks_per_node = 8, .skew = mixtral_skew, .seed = 1,
                             .small_rows = 16};
    if (accuracy("deepseek-v3 EP8 skew 0.69", ds8, 2, 20000) || accuracy("deepseek-v3 EP8 uniform", ds8u, 2, 20000) ||
        accuracy("deepseek-v3 EP72 skew 0.69, EPLB + 32 redundant", ds72, 2, 50000) ||
        accuracy("mixtral-8x7b EP8 imbalance 1.5", mix, 2, 20000))
        return 1;
    return argc < 2 ? time_hits() : 0;
}
