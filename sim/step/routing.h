/* routing.h: MoE routing statistics for one step. With T tokens each choosing top-k of E
 * experts, how many distinct experts are touched (whose weights must be read), and how
 * many tokens land on the busiest expert and the busiest expert-parallel rank (the slowest
 * rank sets the step time). Uniform routing has closed forms; skewed routing (expert
 * popularity p_i ∝ (i+1)^-skew) is estimated by seeded Monte Carlo with GSL's generators.
 * The Monte Carlo runs at a log grid of token counts per law (the query less its token count,
 * and up to 64 ranks less its ranks per node: one Monte Carlo counts destination nodes for every
 * node size) and figures between nodes are interpolated, so a token count never seen costs an
 * interpolation once the law's nodes are known. Results and grids are memoized in a caller-owned sim_routing_cache (grids also in
 * files under the user's cache directory), so a sweep that asks the same question again pays
 * nothing; the module itself holds no state. A cache is not shared
 * between threads. */
#ifndef MOESIM_ROUTING_H
#define MOESIM_ROUTING_H

#include <stdbool.h>

#include "base/err.h"


/* The drift of expert popularity between the statistics EPLB places by and the batch it routes,
 * as sim_routing_query.eplb_drift. Source: NVIDIA TensorRT-LLM tech blog 4, "Scaling Expert
 * Parallelism in TensorRT-LLM (Part 1)" (docs/source/blogs/tech_blog/blog4_Scaling_Expert_
 * Parallelism_in_TensorRT-LLM.md), Table 1: DeepSeek-R1 decode on 32 GB200, 1024 routed tokens
 * per rank per step, EPLB placed offline from the counts of iterations 100-200
 * (examples/ep_load_balancer/generate_eplb_config.py sums them), measured per layer and
 * iteration: the busiest rank carries 1.109x the mean (EP32, 9 slots per rank) and 1.115x (EP36,
 * 8 slots), standard deviation over ranks 52.0 and 53.9 tokens. Routing the same law EPLB placed
 * by gives 1.07x (sampling noise alone; std about 31). The sigma below is the one for which
 * routing.c gives 1.109x at the EP32 shape (fitted, mean of seeds: tests/unit/step/test_routing.c,
 * test_eplb_matches_published); the EP36 row is the check. Not published: how the drift scales
 * with the batch. It is taken as a drift of each expert's share, the same at every batch size,
 * so at prefill's large batches, where sampling noise vanishes, it is the whole residual. */
#define SIM_ROUTING_EPLB_DRIFT 0.115
/* The default's source in a line, for reports (--eplb-drift overrides it). */
#define SIM_ROUTING_EPLB_DRIFT_SOURCE "fitted to NVIDIA TensorRT-LLM tech blog 4, Table 1 (DeepSeek-R1, EP32 with EPLB)"

typedef struct sim_routing_query {
    int experts;            /* E, routed experts per layer */
    int top_k;              /* k distinct experts per token */
    long tokens;            /* T tokens routed in this step across the whole EP group */
    int ep;                 /* ranks the experts are spread over (1 = all local) */
    int ranks_per_node;     /* EP ranks per node, for per-node dispatch counts (>= 1) */
    double skew;            /* popularity exponent: 0 = uniform */
    int redundant;          /* redundant expert slots (EPLB replicas of the hottest experts) */
    bool eplb;              /* place experts by expected load (EPLB); else contiguous, popularity random */
    double eplb_drift;      /* eplb and skew > 0: each batch's expert popularity is the law's times a
                               lognormal factor per expert, sigma eplb_drift (the batch differs from the
                               statistics EPLB placed by); 0 = every batch follows the law EPLB placed by.
                               Callers modelling a deployment pass the deployment's (sim_deploy.eplb_drift:
                               SIM_ROUTING_EPLB_DRIFT unless --eplb-drift); part of the memo's and the
                               grid files' keys */
    unsigned long seed;     /* Monte Carlo seed; results are deterministic for a given seed */
    int small_rows;         /* > 0: also split the busiest rank's experts at this many rows (the
                               kernel switch of hw.h's sim_curve); 0 = no split */
    int tile_rows;          /* > 0: the grouped GEMM computes each expert's rows in tiles of this many
                               (a partial tile costs a whole one): also give the busiest rank's padded
                               rows (padded_token_share); 0 = no tiles */
    long exact_work_limit;  /* tests: route tokens one by one while a trial needs at most this many
                               draws (T k), else use the multinomial approximation; 0 = default */
    bool direct;            /* tests, bench: the Monte Carlo at exactly this token count, not the
                               token grid (see sim_routing_stats_get) */
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
    double padded_token_share;        /* tile_rows > 0: the rows that rank's grouped GEMM computes, each
                                         touched expert's count rounded up to whole tiles, over its
                                         assignments (>= 1; mean over trials); 1 without tiles */
    double max_tokens_per_rank_unbalanced; /* eplb: E[max rank load] of the same routing with the experts
                                         contiguous, hot ones wherever they fall, no replicas (what EPLB
                                         and the redundant slots took away); else = max_tokens_per_rank;
                                         NAN when the experts divide over the ranks only with the
                                         redundant slots (no placement without them exists) */
    double max_tokens_per_rank_placed; /* eplb with eplb_drift > 0: E[max rank load] if every batch followed
                                         the law EPLB placed by (the drift taken away: what is left is one
                                         batch's sampling noise); else = max_tokens_per_rank */
    double hot_cold_tokens;           /* tokens the hottest expert got over those the coldest got, summed
                                         over the trials (an estimate of sim_routing_expert_ratio; 0 when
                                         the coldest got none) */
    int trials;                       /* Monte Carlo trials behind the figures (0 = closed form) */
} sim_routing_stats;

/* A memo of answered queries. Bounded: when half of its 8192 slots are used it is emptied
 * (sweeps revisit a working set far smaller than that). */
typedef struct sim_routing_cache sim_routing_cache;

/* A new, empty cache, or NULL when out of memory (then pass NULL below: no memo, only
 * slower). The caller frees it with sim_routing_cache_free. */
sim_routing_cache *sim_routing_cache_alloc(void);
void sim_routing_cache_free(sim_routing_cache *c); /* NULL is allowed */
/* Entries held, and lookups that hit or missed since the cache was made (bench, tests). */
void sim_routing_cache_info(const sim_routing_cache *c, long *entries, long *hits, long *misses);

/* Laws (queries less their token count) held in the cache, their grid nodes computed by the
 * Monte Carlo and those read from cache files since the cache was made (bench, tests). */
void sim_routing_grid_info(const sim_routing_cache *c, long *grids, long *computed, long *loaded);

/* Fill `out` for query `q`, through `cache` when it is not NULL. The Monte Carlo runs at a grid
 * of token counts per law (every count to 16, then 4 per doubling) and figures between two
 * nodes are interpolated in log T (routing.c, "the token grid"); the answer depends only on the
 * query, not on the cache or the order of queries. With a cache the nodes are kept, and also
 * written to a file per law under $MOESIM_CACHE_DIR (set but empty: no files), else
 * $XDG_CACHE_HOME/moesim, else ~/.cache/moesim; the files are safe to delete. Fails
 * (SIM_EINPUT) on an impossible query: k > E, E % ep != 0, tokens < 0, skew < 0,
 * ranks_per_node not dividing ep... */
int sim_routing_stats_get(sim_routing_cache *cache, const sim_routing_query *q, sim_routing_stats *out,
                          sim_err *err);

/* The imbalance law in the terms it is published in: the expected tokens of the busiest expert
 * over those of the idlest, incl_0 / incl_{E-1}, where incl_j is the probability that a token
 * picks the j-th most popular expert among its k, exact for the successive sampling the Monte
 * Carlo draws (routing.c, race_inclusion; tested against token-by-token routing). Costs a few
 * milliseconds at E = 256: not for inner loops.
 * With k = 1 this is the popularity ratio E^skew; with k > 1 a token takes an expert at most
 * once, so the hottest saturate and the ratio is below E^skew. 1 when skew is 0 or k >= E. */
double sim_routing_expert_ratio(int experts, int top_k, double skew);

/* The popularity exponent whose expert ratio (above) is `ratio` (>= 1), to 1e-12 relative.
 * Fails (SIM_EINPUT) on a ratio below 1 or not finite, and on a ratio above 1 when every token
 * reaches every expert (k >= E), which no skew can give. */
int sim_routing_skew_for_ratio(int experts, int top_k, double ratio, double *skew, sim_err *err);

/* The closed form E(1 - (1 - k/E)^T) of distinct experts under uniform routing. */
double sim_routing_distinct_uniform(int experts, int top_k, double tokens);

/* Che's approximation to an LRU cache (Che, Tung, Wang, IEEE JSAC 20(7), 2002; shown
 * asymptotically exact for large caches by Fricker, Robert, Roberts, ITC 2012): items
 * requested as independent Poisson streams of rates rate[i] (here: per token), a cache of
 * `capacity` items (0 < capacity < n) behaves as if each item stayed for the characteristic
 * time T_C after its last request, T_C solving sum_i (1 - exp(-rate[i] T_C)) = capacity;
 * item i's hit probability is 1 - exp(-rate[i] T_C). Returns T_C (0 when capacity <= 0,
 * INFINITY when capacity >= the items with a positive rate). */
double sim_che_time(const double *rate, int n, double capacity);

/* An mmap'd file's routed experts under the OS page cache (LRU-like), per MoE layer: of E
 * experts, `resident` fit in memory; the rest are read from the backing tier on a miss. */
typedef struct sim_routing_pagecache {
    double resident;            /* expert slots per layer the cache holds (as given, clamped to [0, E]) */
    double t_c;                 /* Che's characteristic time, in tokens */
    double hit_rate;            /* of the experts a token picks, the expected share found resident */
    double pinned_hit_rate;     /* the same if the `resident` hottest experts were pinned instead
                                   (a static placement): their share of the picks */
    double touched_per_step;    /* expected distinct experts a step of `tokens` tokens reads */
    double misses_per_step;     /* ... of which expected misses: experts read from the backing tier */
} sim_routing_pagecache;

/* The page cache under the routing law the Monte Carlo draws (p_i ∝ (i+1)^-skew, top-k
 * without replacement): request rates per token are the inclusion probabilities (Rosén's,
 * routing.c), hits by Che's approximation; a step of `tokens` tokens touches expert i with
 * probability 1 - (1 - incl_i)^tokens and misses it with that times exp(-incl_i T_C).
 * Fails (SIM_EINPUT) on E < 1, k outside 1..E, skew < 0, tokens < 1. */
int sim_routing_pagecache_get(int experts, int top_k, double skew, double resident, double tokens,
                              sim_routing_pagecache *out, sim_err *err);


#endif
