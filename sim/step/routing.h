/* routing.h: MoE routing statistics for one step. With T tokens each choosing top-k of E
 * experts, how many distinct experts are touched (whose weights must be read), and how
 * many tokens land on the busiest expert and the busiest expert-parallel rank (the slowest
 * rank sets the step time). Uniform routing has closed forms; skewed routing (expert
 * popularity p_i ∝ (i+1)^-skew) is estimated by seeded Monte Carlo with GSL's generators
 * and cached, so a sweep that asks the same question again pays nothing.
 *
 * The cache and the test hook below are process-wide state without locks: call this module
 * from one thread at a time. */
#ifndef MOESIM_ROUTING_H
#define MOESIM_ROUTING_H

#include <stdbool.h>

#include "base/err.h"

/* Default popularity exponent (p_i ∝ (i+1)^-skew over the E routed experts) when a model card
 * or scenario gives none.
 * Source: ai-dynamo/aiconfigurator, collector/helper.py (_generate_power_law_distribution,
 * sample_power_law) and its power-law document: each expert's token count is drawn i.i.d.
 * from a truncated power-law *density* x^-alpha on [1, 0.8 T] (T k > E), scaled to T k, and
 * the busiest EP rank is benchmarked. alpha = 1.01 is their estimate for DeepSeek-V3/R1 (1.2
 * for Qwen3-235B) on CNN-DailyMail/OpenOrca, found by matching observed latency, not by
 * recording routing. That alpha is not a rank exponent: with alpha ~ 1 the loads are
 * log-uniform on [1, 0.8 T], so their max/mean grows like ln T. Mapping it by the quantity
 * that sets step time, E[max rank load]/mean, for E=256, k=8 with hot experts placed at random
 * (this module without EPLB): the matching Zipf exponent is 0.49/0.43 at T=64 (ep 8/32),
 * 0.69/0.60 at T=512, 0.73/0.67 at T=2048, 0.82/0.72 at T=8192. No single exponent
 * reproduces it at every T; 0.7 is the match at the batch sizes that dominate serving time
 * (T of 512-8192 tokens per step across the EP group), where aiconfigurator's alpha=1.01 gives
 * max/mean rank load 1.39-1.51 at ep 8 and 2.2-2.7 at ep 32. No published per-batch routing
 * trace of DeepSeek-V3 with a max/mean figure was found (DeepEP PR #393 shows such traces,
 * fitted by a log-normal, as plots only). Scenarios with a measured skew should set it. */
#define SIM_ROUTING_DEFAULT_SKEW 0.7

typedef struct sim_routing_query {
    int experts;            /* E, routed experts per layer */
    int top_k;              /* k distinct experts per token */
    long tokens;            /* T tokens routed in this step across the whole EP group */
    int ep;                 /* ranks the experts are spread over (1 = all local) */
    int ranks_per_node;     /* EP ranks per node, for per-node dispatch counts (>= 1) */
    double skew;            /* popularity exponent: 0 = uniform */
    int redundant;          /* redundant expert slots (EPLB replicas of the hottest experts) */
    bool eplb;              /* place experts by expected load (EPLB); else contiguous, popularity random */
    unsigned long seed;     /* Monte Carlo seed; results are deterministic for a given seed */
    int small_rows;         /* > 0: also split the busiest rank's experts at this many rows (the
                               kernel switch of hw.h's sim_curve); 0 = no split */
} sim_routing_query;

typedef struct sim_routing_stats {
    double distinct_experts;          /* E[# experts with >= 1 token], whole group */
    double distinct_experts_uniform;  /* closed form E(1 - (1 - k/E)^T) */
    double mean_tokens_per_rank;      /* T k / ep (token-expert assignments) */
    double max_tokens_per_rank;       /* E[max over ranks of assignments on that rank] */
    double mean_experts_per_rank;     /* E[distinct experts touched on a rank] */
    double max_experts_per_rank;      /* E[max over ranks of distinct experts touched] */
    double max_tokens_per_expert;     /* E[max over experts of tokens]; with EPLB replicas, per replica
                                         (the largest group a rank's grouped GEMM sees) */
    double mean_dest_ranks_per_token; /* E[distinct ranks a token's k experts live on] */
    double mean_dest_nodes_per_token; /* E[distinct nodes a token's k experts live on] */
    double max_token_copies_per_rank; /* E[max over ranks of distinct tokens received] (one copy per rank) */
    double small_expert_share;        /* small_rows > 0: of the experts touched on the rank with the most
                                         assignments, the share with 1..small_rows tokens (mean over trials) */
    double small_token_share;         /* ... and the share of that rank's assignments they hold */
    int trials;                       /* Monte Carlo trials behind the figures (0 = closed form) */
} sim_routing_stats;

/* Fill `out` for query `q`. Fails (SIM_EINPUT) on an impossible query: k > E, E % ep != 0,
 * tokens < 0, skew < 0, ranks_per_node not dividing ep... */
int sim_routing_stats_get(const sim_routing_query *q, sim_routing_stats *out, sim_err *err);

/* The closed form E(1 - (1 - k/E)^T) of distinct experts under uniform routing. */
double sim_routing_distinct_uniform(int experts, int top_k, double tokens);

/* Drop every cached result (tests; memory). */
void sim_routing_cache_clear(void);
/* Number of cached queries, and how many lookups hit the cache (bench, tests). */
void sim_routing_cache_info(long *entries, long *hits, long *misses);

/* Tests only: route tokens one by one while a trial needs at most `work` draws (T k), else
 * use the multinomial approximation; work <= 0 restores the default. Clears the cache. */
void sim_routing_set_exact_limit(long work);

#endif
