/* routing.c: MoE routing statistics for one step (see routing.h).
 *
 * A query is answered in three layers:
 *   1. closed forms for the uniform means (distinct experts, experts per rank, destination
 *      ranks and nodes per token), exact when skew is 0 and no expert is replicated;
 *   2. seeded Monte Carlo for everything else, above all the maxima over ranks and experts,
 *      which have no closed form even under uniform routing;
 *   3. a cache keyed on the whole query, so a sweep that repeats a query pays nothing.
 *
 * The Monte Carlo draws T tokens per trial, each choosing k distinct experts with
 * probabilities p (successive sampling without replacement, i.e. Plackett-Luce). Three exact
 * samplers cover the shapes: partial Fisher-Yates when p is uniform, Walker-alias draws with
 * repeats rejected when k is small against E, Gumbel-top-k otherwise. When one trial would
 * need more work than the per-query budget allows for the minimum number of trials (2^16
 * draws, e.g. T > 8192 at k = 8), per-expert counts come from one multinomial draw instead
 * (approximation described at trial_counts; within 2% of token-by-token routing on the maxima
 * at T = 4096, tested).
 *
 * Placement: without EPLB expert e sits on rank e / (E/ep) and the popularity ranking is a
 * fresh random permutation per trial (nobody chose where the hot experts sit). With EPLB the
 * `redundant` extra slots replicate the experts with the most load per replica (DeepSeek's EPLB
 * rule, so the hottest may get several) and slots are packed greedily by
 * expected load (place_eplb); a token routed to a replicated expert uses either replica.
 * EPLB places by the loads of past iterations, and a batch's expert popularity differs from
 * them (prompts differ): with eplb_drift > 0 each trial's popularity is the law's times a
 * lognormal factor per expert (drift_batch), while the placement keeps the law's expected
 * loads. Published residual and its fit: routing.h, SIM_ROUTING_EPLB_DRIFT.
 *
 * Trials run until the standard error of every maximum is below 1% of its value, within
 * [MIN_TRIALS, MAX_TRIALS] and a work budget that keeps a cache miss near 50 ms on one core.
 *
 * Speed without changing a figure (issue 20): the draws are GSL's mt19937 stream, inlined
 * (step/mt.h), and one Monte Carlo serves every ranks_per_node of a law up to 64 ranks
 * (NODE_MASK_EP), the only figure that depends on it counting no draws. */
#include "step/routing.h"

#include <float.h>
#include <limits.h>
#include <math.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* GSL's documented switch for inlining gsl_rng_uniform and friends: the draw loop calls
 * them hundreds of thousands of times per query. The hottest draws (uniform integers, alias
 * draws, the shuffle, Gumbel keys) go through step/mt.h's inline copies of GSL's, on the same
 * stream. */
#define HAVE_INLINE 1
#include <gsl/gsl_randist.h>
#include <gsl/gsl_rng.h>

#include "step/mt.h"

#define MIN_TRIALS 16
#define MAX_TRIALS 1024
#define TARGET_REL_SE 0.01
/* Work units one query may spend: a unit is one random draw with its bookkeeping, 20-35 ns
 * on a 2020s core, so a cache miss stays under ~40 ms. A token costs k units (uniform), its
 * expected number of alias draws (rejection) or E (Gumbel-top-k). */
#define WORK_BUDGET (1L << 20)
#define MAX_TOKENS 2147483647L

/* A trial whose work exceeds this takes the multinomial path; MIN_TRIALS exact trials
 * then fit in WORK_BUDGET. Tests lower it (query.exact_work_limit) to compare both paths on
 * one query. */
#define DEFAULT_EXACT_LIMIT (WORK_BUDGET / MIN_TRIALS)

enum sampler { SAMPLE_ALL, SAMPLE_UNIFORM, SAMPLE_REJECT, SAMPLE_GUMBEL };

/* Node sizes one Monte Carlo counts destination nodes for. Only mean_dest_nodes_per_token
 * depends on the ranks per node, and it consumes no random draws, so with ep <= NODE_MASK_EP
 * one Monte Carlo counts it for every divisor of ep at once (a token's ranks as a 64-bit mask,
 * folded per node size: the same integer counts as a stamp per node) and the token grid
 * of a law serves every ranks_per_node (`search` asks EP16-64 with 8 ranks per node and with
 * 1, the same routing). Larger ep keeps one node size per law. 12 = the most divisors of any
 * n <= 64. */
enum { NODE_MASK_EP = 64, MAX_DIV = 12 };

/* Where experts live and how popular they are; fixed for a query. Popularity index j (0 =
 * hottest) is mapped to a logical expert by perm[] (redrawn each trial without EPLB), an
 * expert to its first slot, and a slot to the rank that holds it. */
typedef struct layout {
    int E, k, ep, rpn, nodes, slots;
    int ndiv;                 /* node sizes counted: every divisor of ep (node_mask), else rpn alone */
    int div[MAX_DIV];         /* ranks per node of each */
    uint64_t div_start[MAX_DIV]; /* node_mask: a bit at each node's first rank */
    bool node_mask;           /* ep <= NODE_MASK_EP: nodes counted from a token's rank mask */
    int small_rows;     /* split the busiest rank's experts at this many rows (0 = no split) */
    int tile_rows;      /* round each of the busiest rank's experts up to tiles of this many rows (0 = none) */
    long T;
    double *pop;        /* pop[j], sums to 1 */
    double *incl;       /* incl[j]: P(a token picks j), Rosén's approximation (multinomial path) */
    int *first_slot;    /* first_slot[e]; replicas of e occupy consecutive slot ids */
    int *nrep;          /* replicas of logical expert e: 1, more for the ones EPLB replicated */
    int *slot_rank;     /* rank holding slot s */
    int *slot_expert;   /* logical expert in slot s */
    bool permute;       /* hot experts land anywhere: shuffle perm[] every trial */
    double drift;       /* sigma of each trial's lognormal popularity factors (0 = the law itself) */
    enum sampler how;
    double token_work;  /* work units per token for the chosen sampler */
    gsl_ran_discrete_t *alias;
} layout;

/* Per-trial scratch and counters. */
typedef struct work {
    int *perm, *pidx;           /* popularity index -> expert and back */
    int *pick, *fy;             /* a token's choices; Fisher-Yates deck */
    long *seen;                 /* stamp per popularity index (rejection sampler) */
    double *key;                /* Gumbel keys */
    int *keyidx;
    long *cnt_slot, *cnt_expert, *rank_tok, *rank_exp, *copies;
    long *stamp_rank, *stamp_node;
    unsigned int *mult;         /* multinomial output */
    double *mult_p;
    double *miss_rank, *reach_rank;
    double reach_nodes[MAX_DIV]; /* reach_probs: expected nodes a token reaches, per node size */
    int *m_rank;
    /* The popularity this trial routes by: the layout's, or with drift this trial's own. */
    const double *pop_cur, *incl_cur;
    const gsl_ran_discrete_t *alias_cur;
    double *pop_t, *incl_t;     /* drift: this trial's popularity and inclusion probabilities */
    gsl_ran_discrete_t *alias_t;
    double lambda;              /* drift: the last Rosén multiplier (Newton's start) */
    bool incl_stale;            /* drift: incl_t not yet computed for this trial */
    bool reach_done;
    long tick;                  /* token stamp, never reset so no clearing is needed */
    double dest_ranks, dest_nodes[MAX_DIV]; /* dest_nodes per node size (layout.div) */
} work;

/* One trial's figures. */
typedef struct trial {
    double distinct, mean_exp_rank, dest_ranks, dest_nodes[MAX_DIV];
    double max_tok_rank, max_exp_rank, max_tok_expert, max_copies;
    double small_exp_share, small_tok_share; /* on the rank with the most assignments */
    double padded_tok_share;                 /* ... its rows in whole tiles over its assignments */
    double hot_tokens, cold_tokens;          /* tokens of the most and the least popular expert */
} trial;

enum { N_MAX = 4 };

/* ---------------------------------------------------------------- validation */

static int validate(const sim_routing_query *q, sim_err *err)
{
    if (q->experts < 1)
        return sim_fail(err, SIM_EINPUT, "routing: experts (%d) must be >= 1", q->experts);
    if (q->top_k < 1)
        return sim_fail(err, SIM_EINPUT, "routing: top_k (%d) must be >= 1", q->top_k);
    if (q->top_k > q->experts)
        return sim_fail(err, SIM_EINPUT, "routing: top_k (%d) must be <= experts (%d)",
                        q->top_k, q->experts);
    if (q->ep < 1)
        return sim_fail(err, SIM_EINPUT, "routing: ep (%d) must be >= 1", q->ep);
    if (q->ranks_per_node < 1)
        return sim_fail(err, SIM_EINPUT, "routing: ranks_per_node (%d) must be >= 1",
                        q->ranks_per_node);
    if (q->ep % q->ranks_per_node != 0)
        return sim_fail(err, SIM_EINPUT, "routing: ranks_per_node (%d) must divide ep (%d)",
                        q->ranks_per_node, q->ep);
    if (q->tokens < 0)
        return sim_fail(err, SIM_EINPUT, "routing: tokens (%ld) must be >= 0", q->tokens);
    if (q->tokens > MAX_TOKENS)
        return sim_fail(err, SIM_EINPUT, "routing: tokens (%ld) must be <= %ld",
                        q->tokens, MAX_TOKENS);
    if (!(q->skew >= 0) || !isfinite(q->skew))
        return sim_fail(err, SIM_EINPUT, "routing: skew (%g) must be finite and >= 0", q->skew);
    if (q->redundant < 0)
        return sim_fail(err, SIM_EINPUT, "routing: redundant (%d) must be >= 0", q->redundant);
    if (q->small_rows < 0)
        return sim_fail(err, SIM_EINPUT, "routing: small_rows (%d) must be >= 0", q->small_rows);
    if (q->tile_rows < 0)
        return sim_fail(err, SIM_EINPUT, "routing: tile_rows (%d) must be >= 0", q->tile_rows);
    if (!(q->eplb_drift >= 0) || !isfinite(q->eplb_drift))
        return sim_fail(err, SIM_EINPUT, "routing: eplb_drift (%g) must be finite and >= 0", q->eplb_drift);
    if (q->redundant > 0 && !q->eplb)
        return sim_fail(err, SIM_EINPUT,
                        "routing: redundant (%d) needs eplb: replicas are placed by EPLB",
                        q->redundant);
    if (q->redundant > q->experts)
        return sim_fail(err, SIM_EINPUT,
                        "routing: redundant (%d) must be <= experts (%d): at most one redundant slot per expert",
                        q->redundant, q->experts);
    /* Every rank holds as many slots: EP72 serves 256 experts with 32 redundant ones. */
    if ((q->experts + q->redundant) % q->ep != 0)
        return sim_fail(err, SIM_EINPUT,
                        "routing: ep (%d) must divide the expert slots (%d experts + %d redundant)",
                        q->ep, q->experts, q->redundant);
    return SIM_OK;
}

/* ---------------------------------------------------------------- closed forms */

double sim_routing_distinct_uniform(int experts, int top_k, double tokens)
{
    if (experts <= 0 || tokens <= 0)
        return 0;
    if (top_k >= experts)
        return experts;
    /* Each token picks k distinct of E uniformly, so an expert escapes one token with
     * probability 1 - k/E and all T tokens independently. log1p keeps small k/E exact. */
    return experts * -expm1(tokens * log1p(-(double)top_k / experts));
}

/* C(E - m, k) / C(E, k): probability that k distinct uniform experts all miss a set of m. */
static double miss_all_uniform(int E, int k, int m)
{
    if (m + k > E)
        return 0;
    double r = 1;
    for (int j = 0; j < k; j++)
        r *= (double)(E - m - j) / (E - j);
    return r;
}

/* Expected distinct groups (ranks or nodes, each of E/groups experts) a token reaches. */
static double dest_groups_uniform(int E, int k, int groups)
{
    return groups * (1 - miss_all_uniform(E, k, E / groups));
}

/* ---------------------------------------------------------------- layout */

static void layout_free(layout *L)
{
    free(L->pop);
    free(L->incl);
    free(L->first_slot);
    free(L->nrep);
    free(L->slot_rank);
    free(L->slot_expert);
    if (L->alias)
        gsl_ran_discrete_free(L->alias);
    memset(L, 0, sizeof *L);
}

/* Rosén's approximation to the inclusion probabilities of successive sampling:
 * incl_j = 1 - exp(-lambda p_j) with lambda set so that they sum to k. Exact for uniform p;
 * gives the multinomial path its per-expert means and EPLB its expected loads (the imbalance
 * law's ratio uses the exact race_inclusion below: Rosén's is 4% off for Mixtral's top-2 of 8). */
static void rosen_inclusion(const double *pop, int E, int k, double *incl)
{
    if (k >= E) {
        for (int j = 0; j < E; j++)
            incl[j] = 1;
        return;
    }
    double lo = 0, hi = 1;
    for (;;) {
        double s = 0;
        for (int j = 0; j < E; j++)
            s += -expm1(-hi * pop[j]);
        if (s >= k || hi > 1e300)
            break;
        hi *= 2;
    }
    for (int it = 0; it < 200 && hi - lo > 1e-12 * hi; it++) {
        double mid = 0.5 * (lo + hi), s = 0;
        for (int j = 0; j < E; j++)
            s += -expm1(-mid * pop[j]);
        if (s < k)
            lo = mid;
        else
            hi = mid;
    }
    for (int j = 0; j < E; j++)
        incl[j] = -expm1(-hi * pop[j]);
}

static void inclusion_probs(layout *L)
{
    rosen_inclusion(L->pop, L->E, L->k, L->incl);
}

/* Zipf popularity p_j ∝ (j+1)^-skew over E experts, summing to 1. */
static void zipf_popularity(int E, double skew, double *pop)
{
    double sum = 0;
    for (int j = 0; j < E; j++)
        sum += pop[j] = pow(j + 1.0, -skew);
    for (int j = 0; j < E; j++)
        pop[j] /= sum;
}

/* ---------------------------------------------------------------- the imbalance law */

/* Largest exponent the inversion tries: past it the coldest expert's popularity leaves the
 * range of a double for the largest expert counts shipped, and the ratio is beyond any
 * published one by orders of magnitude. */
#define MAX_LAW_SKEW 100.0

/* The exact probability that a token picks expert j among its k under successive sampling
 * (Plackett-Luce, what the Monte Carlo draws): as an exponential race, each expert fires at
 * an Exp(p_i) time and the first k to fire are picked, so
 *   incl_j = integral over t of p_j e^(-p_j t) P(at most k-1 others fired by t) dt,
 * the probability a Poisson-binomial count over the others (each fired with 1 - e^(-p_i t))
 * by dynamic programming. Integrated by Simpson's rule in x = ln t over the span where
 * p_j t e^(-p_j t) is above 1e-11 of its peak; the integrand is smooth on the scale of 1 in x,
 * and 20 points per unit keep the rule's error below 1e-9. dp holds k doubles. */
static double race_inclusion(const double *pop, int E, int k, int j, double *dp)
{
    const int n = 640;
    double pj = pop[j], x0 = -log(pj) - 28, x1 = -log(pj) + 4, h = (x1 - x0) / n, sum = 0;
    for (int m = 0; m <= n; m++) {
        double t = exp(x0 + m * h);
        for (int c = 0; c < k; c++)
            dp[c] = c == 0;
        for (int i = 0; i < E; i++) {
            if (i == j)
                continue;
            double q = -expm1(-pop[i] * t);
            for (int c = k - 1; c > 0; c--)
                dp[c] = dp[c] * (1 - q) + dp[c - 1] * q;
            dp[0] *= 1 - q;
        }
        double f = 0;
        for (int c = 0; c < k; c++)
            f += dp[c];
        double g = pj * t * exp(-pj * t) * f;
        sum += g * (m == 0 || m == n ? 1 : m % 2 ? 4 : 2);
    }
    return sum * h / 3;
}

/* incl_0 / incl_{E-1} without the checks; NAN when out of memory. */
static double expert_ratio(int E, int k, double skew)
{
    if (E <= 1 || k >= E || skew == 0)
        return 1;
    double *buf = malloc(((size_t)E + (size_t)k) * sizeof *buf);
    if (!buf)
        return NAN;
    double *pop = buf, *dp = buf + E;
    zipf_popularity(E, skew, pop);
    double cold = race_inclusion(pop, E, k, E - 1, dp);
    double r = cold > 0 ? race_inclusion(pop, E, k, 0, dp) / cold : INFINITY;
    free(buf);
    return r;
}

double sim_routing_expert_ratio(int experts, int top_k, double skew)
{
    if (experts < 1 || top_k < 1 || !(skew >= 0) || !isfinite(skew))
        return NAN;
    return expert_ratio(experts, top_k, skew);
}

/* ---------------------------------------------------------------- the page cache */

double sim_che_time(const double *rate, int n, double capacity)
{
    int live = 0;
    for (int i = 0; i < n; i++)
        live += rate[i] > 0;
    if (capacity <= 0)
        return 0;
    if (capacity >= live)
        return INFINITY;
    /* sum_i (1 - exp(-rate_i t)) rises from 0 to `live` in t: bracket, then bisect */
    double lo = 0, hi = 1;
    for (;;) {
        double s = 0;
        for (int i = 0; i < n; i++)
            s += -expm1(-rate[i] * hi);
        if (s >= capacity || hi > 1e300)
            break;
        lo = hi;
        hi *= 2;
    }
    for (int it = 0; it < 200 && hi - lo > 1e-13 * hi; it++) {
        double mid = 0.5 * (lo + hi), s = 0;
        for (int i = 0; i < n; i++)
            s += -expm1(-rate[i] * mid);
        if (s < capacity)
            lo = mid;
        else
            hi = mid;
    }
    return 0.5 * (lo + hi);
}

/* Why an LRU model, and why Che's: llama.cpp maps the GGUF file (llama_model_default_params:
 * use_mmap = true; src/llama-mmap.cpp mmap(PROT_READ, MAP_SHARED)), so weights that do not fit
 * in RAM are faulted in from the file on first touch and kept in the OS page cache, whose
 * reclaim evicts the least recently used file pages (Linux: the active/inactive LRU lists of
 * mm/vmscan.c; a two-list approximation of LRU). Each token touches the k experts it picks
 * in every MoE layer; what every token reads (attention, norms, router, shared experts, head)
 * is touched once per token and stays resident whenever the cache holds more than one
 * token's reads, so the routed experts are what the cache decides. All layers follow one
 * law, so a cache over all layers solves the same T_C equation as one layer's share of it:
 * the figures are per layer. */
int sim_routing_pagecache_get(int experts, int top_k, double skew, double resident, double tokens,
                              sim_routing_pagecache *out, sim_err *err)
{
    memset(out, 0, sizeof *out);
    if (experts < 1 || top_k < 1 || top_k > experts)
        return sim_fail(err, SIM_EINPUT, "page cache: top_k (%d) must be within 1..experts (%d)", top_k, experts);
    if (!(skew >= 0) || !isfinite(skew))
        return sim_fail(err, SIM_EINPUT, "page cache: skew (%g) must be finite and >= 0", skew);
    if (!(tokens >= 1))
        return sim_fail(err, SIM_EINPUT, "page cache: tokens (%g) must be >= 1", tokens);
    int E = experts, k = top_k;
    double *buf = malloc(2 * (size_t)E * sizeof *buf);
    if (!buf)
        return sim_fail(err, SIM_EFAIL, "page cache: out of memory for %d experts", E);
    double *pop = buf, *incl = buf + E;
    zipf_popularity(E, skew, pop);
    rosen_inclusion(pop, E, k, incl);
    out->resident = resident < 0 ? 0 : resident > E ? E : resident;
    out->t_c = sim_che_time(incl, E, out->resident);
    double hits = 0, pinned = 0, whole = floor(out->resident);
    for (int i = 0; i < E; i++) {
        double hit = isinf(out->t_c) ? 1 : -expm1(-incl[i] * out->t_c);
        double touch = -expm1(tokens * log1p(-fmin(incl[i], 1.0)));
        if (incl[i] >= 1)
            touch = 1;
        hits += incl[i] * hit;
        /* experts are pinned whole: the hottest floor(R), and a share of the next */
        pinned += incl[i] * (i < whole ? 1 : i == whole ? out->resident - whole : 0);
        out->touched_per_step += touch;
        out->misses_per_step += touch * (1 - hit);
    }
    out->hit_rate = hits / k;
    out->pinned_hit_rate = pinned / k;
    free(buf);
    return SIM_OK;
}

int sim_routing_skew_for_ratio(int experts, int top_k, double ratio, double *skew, sim_err *err)
{
    if (!(ratio >= 1) || !isfinite(ratio))
        return sim_fail(err, SIM_EINPUT,
                        "expert imbalance must be a finite busiest/idlest ratio >= 1 (got %g; 1 = uniform)", ratio);
    if (experts < 1 || top_k < 1 || top_k > experts)
        return sim_fail(err, SIM_EINPUT, "expert imbalance: needs 1 <= top_k (%d) <= experts (%d)", top_k, experts);
    *skew = 0;
    if (ratio == 1)
        return SIM_OK;
    if (top_k >= experts || experts == 1)
        return sim_fail(err, SIM_EINPUT,
                        "expert imbalance %g cannot be: every token reaches all %d experts (top_k %d), so every "
                        "expert gets every token (the ratio is 1)", ratio, experts, top_k);
    /* The ratio grows with the exponent (the hottest gain, the coldest lose): bracket, then
     * regula falsi (Illinois) on ln ratio, which is close to linear in the exponent. */
    double lo = 0, hi = 1, target = log(ratio), rhi;
    while ((rhi = expert_ratio(experts, top_k, hi)) < ratio) {
        if (isnan(rhi))
            return sim_fail(err, SIM_EFAIL, "expert imbalance: out of memory");
        if (hi >= MAX_LAW_SKEW)
            return sim_fail(err, SIM_EINPUT,
                            "expert imbalance %g is beyond the law: exponent %g gives %g over %d experts (top_k %d)",
                            ratio, MAX_LAW_SKEW, rhi, experts, top_k);
        lo = hi;
        hi = fmin(2 * hi, MAX_LAW_SKEW);
    }
    double flo = log(expert_ratio(experts, top_k, lo)) - target, fhi = log(rhi) - target, mid = hi;
    int side = 0;
    for (int it = 0; it < 200 && hi - lo > 1e-13 * hi; it++) {
        mid = (lo * fhi - hi * flo) / (fhi - flo);
        if (!(mid > lo && mid < hi))
            mid = 0.5 * (lo + hi);
        double r = expert_ratio(experts, top_k, mid);
        if (isnan(r))
            return sim_fail(err, SIM_EFAIL, "expert imbalance: out of memory");
        double fm = log(r) - target;
        if (fm == 0)
            break;
        if (fm < 0) {
            lo = mid, flo = fm;
            if (side == -1)
                fhi /= 2;
            side = -1;
        } else {
            hi = mid, fhi = fm;
            if (side == 1)
                flo /= 2;
            side = 1;
        }
        if (fabs(fm) < 1e-14)
            break;
    }
    *skew = mid;
    return SIM_OK;
}

/* Exact rejection needs about sum_j 1/(1 - mass of the j hottest) draws per token at worst;
 * past E draws Gumbel-top-k (E keys per token) is cheaper. Sets L->token_work. */
static enum sampler choose_sampler(layout *L, double skew)
{
    L->token_work = L->k;
    if (L->k == L->E)
        return SAMPLE_ALL;
    if (skew == 0)
        return SAMPLE_UNIFORM;
    L->token_work = L->E;
    if (4 * L->k > L->E)
        return SAMPLE_GUMBEL;
    double mass = 0, draws = 0;
    for (int j = 0; j < L->k; j++) {
        draws += 1 / fmax(1 - mass, 1e-300);
        mass += L->pop[j];
    }
    if (draws > L->E)
        return SAMPLE_GUMBEL;
    L->token_work = draws;
    return SAMPLE_REJECT;
}

/* EPLB placement by expected load, as deepseek-ai/EPLB (eplb.py) does it: each redundant slot
 * goes in turn to the expert with the largest load per replica (replicate_experts), so a very
 * hot expert may get several replicas and a mild one none; a token to a replicated expert goes
 * to one replica at random (load / replicas each). Then slots go, largest load first, to the
 * least-loaded rank that has a free slot (balanced_packing), avoiding a rank that already
 * holds another replica of the same expert when possible. An
 * expert's expected load is T incl_e, not T k p_e: a token takes an expert at most once, so
 * the hottest experts saturate (with skew 1 over 256 experts, k p_0 = 1.3 > 1), and EPLB,
 * which measures loads, sees the saturated figure. */
static int place_eplb(layout *L, int redundant)
{
    int S = L->slots, per = S / L->ep;
    double *load = calloc((size_t)L->ep, sizeof *load);
    int *used = calloc((size_t)L->ep, sizeof *used);
    /* Slots in expert order are by load descending except that a replica carries half its
     * expert's load: sort explicitly. */
    int *order = malloc((size_t)S * sizeof *order);
    double *sload = malloc((size_t)S * sizeof *sload);
    if (!load || !used || !order || !sload) {
        free(load), free(used), free(order), free(sload);
        return -1;
    }
    /* No slot has a rank until it is placed: the twin test below must not read a rank a
     * replica has not been given yet. */
    for (int t = 0; t < S; t++)
        L->slot_rank[t] = -1;
    for (int e = 0; e < L->E; e++)
        L->nrep[e] = 1;
    for (int i = 0; i < redundant; i++) {
        int best = 0;
        for (int e = 1; e < L->E; e++)
            if (L->incl[e] / L->nrep[e] > L->incl[best] / L->nrep[best])
                best = e;
        L->nrep[best]++;
    }
    int s = 0;
    for (int e = 0; e < L->E; e++) {
        L->first_slot[e] = s;
        for (int r = 0; r < L->nrep[e]; r++, s++) {
            L->slot_expert[s] = e;
            sload[s] = L->incl[e] / L->nrep[e];
            order[s] = s;
        }
    }
    /* Insertion sort, stable, descending by load: S is a few hundred. */
    for (int i = 1; i < S; i++) {
        int v = order[i], j = i;
        while (j > 0 && sload[order[j - 1]] < sload[v]) {
            order[j] = order[j - 1];
            j--;
        }
        order[j] = v;
    }
    for (int i = 0; i < S; i++) {
        int sl = order[i], e = L->slot_expert[sl], best = -1, best_twin = -1;
        for (int r = 0; r < L->ep; r++) {
            if (used[r] >= per)
                continue;
            bool twin = false;
            for (int t = L->first_slot[e]; t < L->first_slot[e] + L->nrep[e]; t++)
                twin |= t != sl && L->slot_rank[t] == r;
            if (!twin && (best < 0 || load[r] < load[best]))
                best = r;
            if (best_twin < 0 || load[r] < load[best_twin])
                best_twin = r;
        }
        int r = best >= 0 ? best : best_twin;
        L->slot_rank[sl] = r;
        load[r] += sload[sl];
        used[r]++;
    }
    free(load);
    free(used);
    free(order);
    free(sload);
    return 0;
}

/* Contiguous placement: expert e on rank e / (E/ep), one slot each. */
static void place_contiguous(layout *L)
{
    int per = L->E / L->ep;
    for (int e = 0; e < L->E; e++) {
        L->nrep[e] = 1;
        L->first_slot[e] = e;
        L->slot_expert[e] = e;
        L->slot_rank[e] = e / per;
    }
}

static int layout_init(layout *L, const sim_routing_query *q, sim_err *err)
{
    memset(L, 0, sizeof *L);
    L->E = q->experts;
    L->k = q->top_k;
    L->ep = q->ep;
    /* ranks_per_node 0: a grid's law for every node size (node_mask only) */
    L->rpn = q->ranks_per_node > 0 ? q->ranks_per_node : q->ep;
    L->nodes = q->ep / L->rpn;
    L->node_mask = q->ep <= NODE_MASK_EP;
    if (L->node_mask) {
        for (int d = 1; d <= q->ep; d++)
            if (q->ep % d == 0) {
                uint64_t start = 0;
                for (int b = 0; b < q->ep; b += d)
                    start |= 1ULL << b;
                L->div_start[L->ndiv] = start;
                L->div[L->ndiv++] = d;
            }
    } else {
        L->ndiv = 1;
        L->div[0] = L->rpn;
    }
    L->T = q->tokens;
    L->slots = q->experts + q->redundant;
    L->small_rows = q->small_rows;
    L->tile_rows = q->tile_rows;
    L->pop = malloc((size_t)L->E * sizeof *L->pop);
    L->incl = malloc((size_t)L->E * sizeof *L->incl);
    L->first_slot = malloc((size_t)L->E * sizeof *L->first_slot);
    L->nrep = malloc((size_t)L->E * sizeof *L->nrep);
    L->slot_rank = malloc((size_t)L->slots * sizeof *L->slot_rank);
    L->slot_expert = malloc((size_t)L->slots * sizeof *L->slot_expert);
    if (!L->pop || !L->incl || !L->first_slot || !L->nrep || !L->slot_rank || !L->slot_expert) {
        layout_free(L);
        return sim_fail(err, SIM_EFAIL, "routing: out of memory");
    }
    zipf_popularity(L->E, q->skew, L->pop);
    inclusion_probs(L);
    if (q->eplb) {
        if (place_eplb(L, q->redundant) != 0) {
            layout_free(L);
            return sim_fail(err, SIM_EFAIL, "routing: out of memory");
        }
    } else
        place_contiguous(L);
    /* Without EPLB nobody chose where the hot experts sit; with uniform popularity it
     * does not matter where they sit. */
    L->permute = !q->eplb && q->skew > 0;
    /* The drift moves a placement chosen by statistics away from the batch: without EPLB the
     * hot experts already land anywhere each trial, with uniform routing there is no law to
     * drift from, and a token that takes every expert does not depend on popularity. */
    L->drift = q->eplb && q->skew > 0 && q->top_k < q->experts ? q->eplb_drift : 0;
    L->how = choose_sampler(L, q->skew);
    if (L->how == SAMPLE_REJECT) {
        L->alias = gsl_ran_discrete_preproc((size_t)L->E, L->pop);
        if (!L->alias) {
            layout_free(L);
            return sim_fail(err, SIM_EFAIL, "routing: cannot build alias table");
        }
    }
    return SIM_OK;
}

/* ---------------------------------------------------------------- work space */

static void work_free(work *w)
{
    free(w->perm);
    free(w->pidx);
    free(w->pick);
    free(w->fy);
    free(w->seen);
    free(w->key);
    free(w->keyidx);
    free(w->cnt_slot);
    free(w->cnt_expert);
    free(w->rank_tok);
    free(w->rank_exp);
    free(w->copies);
    free(w->stamp_rank);
    free(w->stamp_node);
    free(w->mult);
    free(w->mult_p);
    free(w->miss_rank);
    free(w->reach_rank);
    free(w->m_rank);
    free(w->pop_t);
    free(w->incl_t);
    if (w->alias_t)
        gsl_ran_discrete_free(w->alias_t);
    memset(w, 0, sizeof *w);
}

static int work_init(work *w, const layout *L, sim_err *err)
{
    size_t E = (size_t)L->E, S = (size_t)L->slots, R = (size_t)L->ep, N = (size_t)L->nodes;
    memset(w, 0, sizeof *w);
    w->perm = malloc(E * sizeof *w->perm);
    w->pidx = malloc(E * sizeof *w->pidx);
    w->pick = malloc(E * sizeof *w->pick);
    w->fy = malloc(E * sizeof *w->fy);
    w->seen = calloc(E, sizeof *w->seen);
    w->key = malloc(E * sizeof *w->key);
    w->keyidx = malloc(E * sizeof *w->keyidx);
    w->cnt_slot = malloc(S * sizeof *w->cnt_slot);
    w->cnt_expert = malloc(E * sizeof *w->cnt_expert);
    w->rank_tok = malloc(R * sizeof *w->rank_tok);
    w->rank_exp = malloc(R * sizeof *w->rank_exp);
    w->copies = malloc(R * sizeof *w->copies);
    w->stamp_rank = calloc(R, sizeof *w->stamp_rank);
    w->stamp_node = calloc(N, sizeof *w->stamp_node);
    w->mult = malloc(E * sizeof *w->mult);
    w->mult_p = malloc(E * sizeof *w->mult_p);
    w->miss_rank = malloc(R * sizeof *w->miss_rank);
    w->reach_rank = malloc(R * sizeof *w->reach_rank);
    w->m_rank = malloc(R * sizeof *w->m_rank);
    if (!w->perm || !w->pidx || !w->pick || !w->fy || !w->seen || !w->key || !w->keyidx ||
        !w->cnt_slot || !w->cnt_expert || !w->rank_tok || !w->rank_exp || !w->copies ||
        !w->stamp_rank || !w->stamp_node || !w->mult || !w->mult_p || !w->miss_rank ||
        !w->reach_rank || !w->m_rank) {
        work_free(w);
        return sim_fail(err, SIM_EFAIL, "routing: out of memory");
    }
    for (int j = 0; j < L->E; j++)
        w->perm[j] = w->pidx[j] = w->fy[j] = j;
    w->pop_cur = L->pop;
    w->incl_cur = L->incl;
    w->alias_cur = L->alias;
    if (L->drift > 0) {
        w->pop_t = malloc(E * sizeof *w->pop_t);
        w->incl_t = malloc(E * sizeof *w->incl_t);
        if (!w->pop_t || !w->incl_t) {
            work_free(w);
            return sim_fail(err, SIM_EFAIL, "routing: out of memory");
        }
        w->pop_cur = w->pop_t;
        w->incl_cur = w->incl_t;
        w->lambda = 0;
    }
    return SIM_OK;
}

/* ---------------------------------------------------------------- one token's k experts */

/* Partial Fisher-Yates: the first k cards of a uniformly shuffled deck. The deck need not be
 * restored: any permutation of it shuffles just as well. */
static void pick_uniform(const layout *L, work *w, gsl_rng *r)
{
    for (int i = 0; i < L->k; i++) {
        int j = i + (int)mt_uniform_int(mt_of(r), (unsigned long)(L->E - i));
        int t = w->fy[i];
        w->fy[i] = w->fy[j];
        w->fy[j] = t;
        w->pick[i] = w->fy[i];
    }
}

/* Successive draws from the alias table, repeats rejected: exactly sampling without
 * replacement, since a rejected draw leaves the remaining experts' relative odds unchanged. */
static void pick_reject(const layout *L, work *w, gsl_rng *r)
{
    long stamp = w->tick;
    mt_state *s = mt_of(r);
    for (int i = 0; i < L->k;) {
        int j = (int)mt_discrete(s, w->alias_cur);
        if (w->seen[j] == stamp)
            continue;
        w->seen[j] = stamp;
        w->pick[i++] = j;
    }
}

/* Move the k largest keys to the front of keyidx (Hoare selection, expected O(E)). */
static void select_top(const double *key, int *idx, int n, int k)
{
    int lo = 0, hi = n - 1;
    while (lo < hi) {
        double pivot = key[idx[lo + (hi - lo) / 2]];
        int i = lo, j = hi;
        while (i <= j) {
            while (key[idx[i]] > pivot)
                i++;
            while (key[idx[j]] < pivot)
                j--;
            if (i <= j) {
                int t = idx[i];
                idx[i++] = idx[j];
                idx[j--] = t;
            }
        }
        if (k - 1 <= j)
            hi = j;
        else if (k - 1 >= i)
            lo = i;
        else
            break;
    }
}

/* Gumbel-top-k: the k largest of log p_j + Gumbel noise are distributed exactly as k
 * successive draws without replacement. */
static void pick_gumbel(const layout *L, work *w, gsl_rng *r)
{
    mt_state *s = mt_of(r);
    for (int j = 0; j < L->E; j++) {
        w->key[j] = log(w->pop_cur[j]) - log(-log(mt_uniform_pos(s)));
        w->keyidx[j] = j;
    }
    select_top(w->key, w->keyidx, L->E, L->k);
    memcpy(w->pick, w->keyidx, (size_t)L->k * sizeof *w->pick);
}

static void pick_token(const layout *L, work *w, gsl_rng *r)
{
    switch (L->how) {
    case SAMPLE_ALL:
        for (int j = 0; j < L->k; j++)
            w->pick[j] = j;
        break;
    case SAMPLE_UNIFORM:
        pick_uniform(L, w, r);
        break;
    case SAMPLE_REJECT:
        pick_reject(L, w, r);
        break;
    case SAMPLE_GUMBEL:
        pick_gumbel(L, w, r);
        break;
    }
}

/* ---------------------------------------------------------------- one trial */

/* Rosén's inclusion probabilities (rosen_inclusion) by Newton's method from the last trial's
 * multiplier: sum_j (1 - e^(-lambda p_j)) = k is increasing and concave in lambda, so Newton
 * converges from either side, in a few steps from a close start. */
static void rosen_newton(const double *pop, int E, int k, double *lambda, double *incl)
{
    double lam = *lambda > 0 ? *lambda : k;
    for (int it = 0; it < 100; it++) {
        double f = -k, df = 0;
        for (int j = 0; j < E; j++) {
            double e = exp(-lam * pop[j]);
            f += 1 - e;
            df += pop[j] * e;
        }
        double next = lam - f / df;
        if (!(next > 0))
            next = lam / 2;
        bool done = fabs(next - lam) <= 1e-13 * lam;
        lam = next;
        if (done)
            break;
    }
    *lambda = lam;
    for (int j = 0; j < E; j++)
        incl[j] = -expm1(-lam * pop[j]);
}

/* This trial's batch: each expert's popularity times exp(sigma z - sigma^2 / 2), z standard
 * normal (a factor of mean 1), renormalized. The placement stays where the law's expected
 * loads put it: EPLB placed by statistics the batch does not exactly follow. */
static int drift_batch(const layout *L, work *w, gsl_rng *r)
{
    double sum = 0, s = L->drift;
    for (int j = 0; j < L->E; j++)
        sum += w->pop_t[j] = L->pop[j] * exp(s * gsl_ran_gaussian_ziggurat(r, 1.0) - 0.5 * s * s);
    for (int j = 0; j < L->E; j++)
        w->pop_t[j] /= sum;
    w->incl_stale = true;
    if (L->how == SAMPLE_REJECT) {
        if (w->alias_t)
            gsl_ran_discrete_free(w->alias_t);
        w->alias_t = gsl_ran_discrete_preproc((size_t)L->E, w->pop_t);
        w->alias_cur = w->alias_t;
        if (!w->alias_t)
            return -1;
    }
    return 0;
}

/* This trial's inclusion probabilities (the multinomial path and the reach probabilities). */
static void trial_inclusion(const layout *L, work *w)
{
    if (L->drift > 0 && w->incl_stale) {
        rosen_newton(w->pop_t, L->E, L->k, &w->lambda, w->incl_t);
        w->incl_stale = false;
    }
}

static int trial_reset(const layout *L, work *w, gsl_rng *r)
{
    memset(w->cnt_slot, 0, (size_t)L->slots * sizeof *w->cnt_slot);
    memset(w->cnt_expert, 0, (size_t)L->E * sizeof *w->cnt_expert);
    memset(w->copies, 0, (size_t)L->ep * sizeof *w->copies);
    w->dest_ranks = 0;
    memset(w->dest_nodes, 0, sizeof w->dest_nodes);
    if (L->permute) {
        mt_shuffle(mt_of(r), w->perm, (size_t)L->E);
        for (int j = 0; j < L->E; j++)
            w->pidx[w->perm[j]] = j;
    }
    return L->drift > 0 ? drift_batch(L, w, r) : 0;
}

/* The slot a token's assignment to expert e lands in: one of its replicas at random. */
static int slot_for(const layout *L, int e, gsl_rng *r)
{
    int s = L->first_slot[e];
    return L->nrep[e] > 1 ? s + (int)mt_uniform_int(mt_of(r), (unsigned long)L->nrep[e]) : s;
}

/* Bit b of the result: any of bits b..b+d-1 of m (d >= 1). */
static inline uint64_t fold_window(uint64_t m, int d)
{
    int span = 1;
    while (2 * span <= d) {
        m |= m >> span;
        span *= 2;
    }
    return span < d ? m | m >> (d - span) : m;
}

/* Set bits of x (SWAR: the builtin is a libgcc call without -mpopcnt, which a portable build
 * cannot assume). */
static inline int popcount64(uint64_t x)
{
    x -= (x >> 1) & 0x5555555555555555ULL;
    x = (x & 0x3333333333333333ULL) + ((x >> 2) & 0x3333333333333333ULL);
    x = (x + (x >> 4)) & 0x0f0f0f0f0f0f0f0fULL;
    return (int)((x * 0x0101010101010101ULL) >> 56);
}

/* Distinct nodes of d ranks each among the ranks in mask m. */
static inline long nodes_in_mask(uint64_t m, int d, uint64_t start)
{
    return popcount64(fold_window(m, d) & start);
}

/* Exact trial: route every token. */
static void trial_exact(const layout *L, work *w, gsl_rng *r)
{
    long dest_r = 0, dest_n[MAX_DIV] = {0};
    for (long t = 0; t < L->T; t++) {
        long stamp = ++w->tick;
        uint64_t mask = 0;
        pick_token(L, w, r);
        for (int i = 0; i < L->k; i++) {
            int e = w->perm[w->pick[i]];
            int s = slot_for(L, e, r), rk = L->slot_rank[s];
            w->cnt_slot[s]++;
            w->cnt_expert[e]++;
            if (w->stamp_rank[rk] != stamp) {
                w->stamp_rank[rk] = stamp;
                w->copies[rk]++;
                dest_r++;
            }
            if (L->node_mask)
                mask |= 1ULL << rk;
            else {
                int nd = rk / L->rpn;
                if (w->stamp_node[nd] != stamp) {
                    w->stamp_node[nd] = stamp;
                    dest_n[0]++;
                }
            }
        }
        if (L->node_mask)
            for (int i = 0; i < L->ndiv; i++)
                dest_n[i] += nodes_in_mask(mask, L->div[i], L->div_start[i]);
    }
    w->dest_ranks = L->T ? (double)dest_r / L->T : 0;
    for (int i = 0; i < L->ndiv; i++)
        w->dest_nodes[i] = L->T ? (double)dest_n[i] / L->T : 0;
}

/* The uniform correction for a group of m slots: C(E-m, k)/C(E, k) and (1 - k/E)^m, kept for
 * the last m asked (every rank, and every node of one size, holds as many slots). */
typedef struct group_corr {
    int m;
    double mau, indep;
} group_corr;

static void corr_for(const layout *L, group_corr *g, int m)
{
    if (g->m == m)
        return;
    g->m = m;
    g->mau = miss_all_uniform(L->E, L->k, m);
    g->indep = pow(1 - (double)L->k / L->E, m);
}

/* Probability that a token reaches a group of m slots whose independent miss product is miss. */
static double reach_of(const group_corr *g, double miss)
{
    return 1 - fmin(1, g->indep > 0 ? miss * g->mau / g->indep : 0);
}

/* Probability that a token reaches each rank (reach_rank), and the expected nodes it reaches
 * for each node size (dest_nodes, summed over the nodes in order).
 * Inclusions of different experts are treated as independent, which overstates the miss
 * probability since a token's k picks exclude each other; the factor corr, the exact uniform
 * miss probability over its independent approximation for a group of m slots, puts that back
 * (exact when p is uniform and nothing is replicated). */
static void reach_probs(const layout *L, work *w)
{
    for (int rk = 0; rk < L->ep; rk++) {
        w->miss_rank[rk] = 1;
        w->m_rank[rk] = 0;
    }
    for (int s = 0; s < L->slots; s++) {
        int rk = L->slot_rank[s], e = L->slot_expert[s];
        w->miss_rank[rk] *= 1 - w->incl_cur[w->pidx[e]] / L->nrep[e];
        w->m_rank[rk]++;
    }
    for (int i = 0; i < L->ndiv; i++) {
        int d = L->div[i];
        group_corr g = {.m = -1};
        double dn = 0;
        for (int nd = 0; nd < L->ep / d; nd++) {
            double miss = 1;
            int m = 0;
            for (int rk = nd * d; rk < (nd + 1) * d; rk++) {
                miss *= w->miss_rank[rk];
                m += w->m_rank[rk];
            }
            corr_for(L, &g, m);
            dn += reach_of(&g, miss);
        }
        w->reach_nodes[i] = dn;
    }
    group_corr g = {.m = -1};
    for (int rk = 0; rk < L->ep; rk++) {
        corr_for(L, &g, w->m_rank[rk]);
        w->reach_rank[rk] = reach_of(&g, w->miss_rank[rk]);
    }
}

/* Multinomial trial for large T k (above exact_limit work). Per-expert counts are one
 * multinomial of T k draws over probabilities incl_j / k, where incl_j is the probability
 * that a token picks expert j (Rosén's approximation for sampling without replacement).
 * Means per expert are right; the variance is T incl (1 - incl/k) instead of the exact
 * T incl (1 - incl), slightly larger for the hottest experts, negligible at these T.
 * Replicated experts split their count uniformly over their replicas. Per-token figures (destination ranks,
 * copies per rank) come from the reach probabilities of reach_probs: the mean is
 * the sum of reach probabilities, copies per rank are Binomial(T, reach). */
static void trial_counts(const layout *L, work *w, gsl_rng *r)
{
    trial_inclusion(L, w);
    for (int j = 0; j < L->E; j++)
        w->mult_p[j] = w->incl_cur[j];
    long left = L->T * L->k;
    while (left > 0) {
        unsigned int n = (unsigned int)(left < (1L << 30) ? left : (1L << 30));
        gsl_ran_multinomial(r, (size_t)L->E, n, w->mult_p, w->mult);
        for (int j = 0; j < L->E; j++)
            w->cnt_expert[w->perm[j]] += w->mult[j];
        left -= n;
    }
    for (int e = 0; e < L->E; e++) {
        long c = w->cnt_expert[e];
        int s = L->first_slot[e], n = L->nrep[e];
        /* Each assignment picks one of the n replicas at random: a uniform multinomial split,
         * drawn as successive binomials. */
        for (int i = 0; i < n - 1; i++) {
            long a = (long)gsl_ran_binomial(r, 1.0 / (n - i), (unsigned int)c);
            w->cnt_slot[s + i] = a;
            c -= a;
        }
        w->cnt_slot[s + n - 1] = c;
    }
    /* Placement is fixed with EPLB, so its reach probabilities are computed once (per trial
     * when the batch drifts). */
    if (L->permute || L->drift > 0 || !w->reach_done) {
        reach_probs(L, w);
        w->reach_done = true;
    }
    double dr = 0;
    for (int rk = 0; rk < L->ep; rk++) {
        w->copies[rk] = (long)gsl_ran_binomial(r, w->reach_rank[rk], (unsigned int)L->T);
        dr += w->reach_rank[rk];
    }
    w->dest_ranks = dr;
    memcpy(w->dest_nodes, w->reach_nodes, sizeof w->dest_nodes);
}

/* Reduce the counters of a trial to its figures. */
static void trial_summarize(const layout *L, work *w, trial *o)
{
    memset(w->rank_tok, 0, (size_t)L->ep * sizeof *w->rank_tok);
    memset(w->rank_exp, 0, (size_t)L->ep * sizeof *w->rank_exp);
    long max_slot = 0, distinct = 0;
    for (int s = 0; s < L->slots; s++) {
        long c = w->cnt_slot[s];
        int rk = L->slot_rank[s];
        w->rank_tok[rk] += c;
        w->rank_exp[rk] += c > 0;
        if (c > max_slot)
            max_slot = c;
    }
    for (int e = 0; e < L->E; e++)
        distinct += w->cnt_expert[e] > 0;
    long max_tok = 0, max_exp = 0, max_cp = 0, sum_exp = 0;
    int busiest = 0;
    for (int rk = 0; rk < L->ep; rk++) {
        if (w->rank_tok[rk] > max_tok) {
            max_tok = w->rank_tok[rk];
            busiest = rk;
        }
        if (w->rank_exp[rk] > max_exp)
            max_exp = w->rank_exp[rk];
        if (w->copies[rk] > max_cp)
            max_cp = w->copies[rk];
        sum_exp += w->rank_exp[rk];
    }
    o->distinct = (double)distinct;
    o->mean_exp_rank = (double)sum_exp / L->ep;
    o->dest_ranks = w->dest_ranks;
    memcpy(o->dest_nodes, w->dest_nodes, sizeof o->dest_nodes);
    o->max_tok_rank = (double)max_tok;
    o->max_exp_rank = (double)max_exp;
    o->max_tok_expert = (double)max_slot;
    o->max_copies = (double)max_cp;
    o->hot_tokens = (double)w->cnt_expert[w->perm[0]];
    o->cold_tokens = (double)w->cnt_expert[w->perm[L->E - 1]];
    o->small_exp_share = o->small_tok_share = 0;
    if (L->small_rows > 0 && max_tok > 0) {
        long small_exp = 0, small_tok = 0;
        for (int s = 0; s < L->slots; s++) {
            long c = w->cnt_slot[s];
            if (L->slot_rank[s] == busiest && c > 0 && c <= L->small_rows) {
                small_exp++;
                small_tok += c;
            }
        }
        o->small_exp_share = (double)small_exp / (double)w->rank_exp[busiest];
        o->small_tok_share = (double)small_tok / (double)max_tok;
    }
    o->padded_tok_share = 1;
    if (L->tile_rows > 0 && max_tok > 0) {
        long padded = 0, t = L->tile_rows;
        for (int s = 0; s < L->slots; s++)
            if (L->slot_rank[s] == busiest)
                padded += (w->cnt_slot[s] + t - 1) / t * t;
        o->padded_tok_share = (double)padded / (double)max_tok;
    }
}

/* ---------------------------------------------------------------- the Monte Carlo loop */

enum { N_SUM = 12 };

typedef struct accum {
    double sum[N_SUM], sq[N_MAX];
    double nodes[MAX_DIV]; /* dest_nodes per node size */
    int n;
} accum;

static void accum_add(accum *a, const trial *t)
{
    const double v[N_SUM] = {t->max_tok_rank, t->max_exp_rank, t->max_tok_expert, t->max_copies,
                             t->distinct, t->mean_exp_rank, t->dest_ranks,
                             t->small_exp_share, t->small_tok_share, t->hot_tokens, t->cold_tokens,
                             t->padded_tok_share};
    for (int i = 0; i < N_SUM; i++)
        a->sum[i] += v[i];
    for (int i = 0; i < MAX_DIV; i++)
        a->nodes[i] += t->dest_nodes[i];
    for (int i = 0; i < N_MAX; i++)
        a->sq[i] += v[i] * v[i];
    a->n++;
}

/* True once every maximum's standard error is below TARGET_REL_SE of its mean. */
static bool accum_precise(const accum *a)
{
    for (int i = 0; i < N_MAX; i++) {
        double m = a->sum[i] / a->n;
        double var = fmax(0, a->sq[i] / a->n - m * m) * a->n / (a->n - 1);
        if (m > 0 && sqrt(var / a->n) > TARGET_REL_SE * m)
            return false;
    }
    return true;
}

/* The Monte Carlo at q. mean_dest_nodes_per_token is for q's ranks_per_node (0 when q has none);
 * nodes, when not NULL, gets it for every node size the layout counts, in the order of
 * node_sizes(q) (below). */
static int monte_carlo(const sim_routing_query *q, sim_routing_stats *out, double *nodes, sim_err *err)
{
    layout L;
    work w;
    if (layout_init(&L, q, err))
        return err ? err->code : SIM_EFAIL;
    if (work_init(&w, &L, err)) {
        layout_free(&L);
        return err ? err->code : SIM_EFAIL;
    }
    gsl_rng *r = gsl_rng_alloc(&mt_rng_type); /* GSL's mt19937, inline-readable (step/mt.h) */
    if (!r) {
        work_free(&w);
        layout_free(&L);
        return sim_fail(err, SIM_EFAIL, "routing: cannot allocate the random generator");
    }
    gsl_rng_set(r, q->seed);

    long trial_work = (long)ceil((double)L.T * L.token_work);
    long exact_limit = q->exact_work_limit > 0 ? q->exact_work_limit : DEFAULT_EXACT_LIMIT;
    bool exact = trial_work <= exact_limit;
    if (!exact)
        trial_work = 2L * L.E + L.slots + L.ep;
    if (trial_work < 1)
        trial_work = 1;

    accum a = {0};
    long spent = 0;
    trial t;
    while (a.n < MAX_TRIALS) {
        if (a.n >= MIN_TRIALS && (accum_precise(&a) || spent + trial_work > WORK_BUDGET))
            break;
        if (trial_reset(&L, &w, r) != 0) {
            gsl_rng_free(r);
            work_free(&w);
            layout_free(&L);
            return sim_fail(err, SIM_EFAIL, "routing: cannot build alias table");
        }
        if (exact)
            trial_exact(&L, &w, r);
        else
            trial_counts(&L, &w, r);
        trial_summarize(&L, &w, &t);
        accum_add(&a, &t);
        spent += trial_work;
    }
    out->max_tokens_per_rank = a.sum[0] / a.n;
    out->max_experts_per_rank = a.sum[1] / a.n;
    out->max_tokens_per_expert = a.sum[2] / a.n;
    out->max_token_copies_per_rank = a.sum[3] / a.n;
    out->distinct_experts = a.sum[4] / a.n;
    out->mean_experts_per_rank = a.sum[5] / a.n;
    out->mean_dest_ranks_per_token = a.sum[6] / a.n;
    out->mean_dest_nodes_per_token = 0;
    for (int i = 0; i < L.ndiv; i++) {
        double v = a.nodes[i] / a.n;
        if (L.div[i] == q->ranks_per_node)
            out->mean_dest_nodes_per_token = v;
        if (nodes)
            nodes[i] = v;
    }
    out->small_expert_share = a.sum[7] / a.n;
    out->small_token_share = a.sum[8] / a.n;
    out->hot_cold_tokens = a.sum[10] > 0 ? a.sum[9] / a.sum[10] : 0;
    out->padded_token_share = a.sum[11] / a.n;
    out->trials = a.n;

    gsl_rng_free(r);
    work_free(&w);
    layout_free(&L);
    return SIM_OK;
}

/* Node sizes a law counts destination nodes for (layout_init's div[], ascending): every divisor
 * of ep when ep <= NODE_MASK_EP, else q's ranks_per_node alone. Returns how many. */
static int node_sizes(const sim_routing_query *q, int div[MAX_DIV])
{
    int n = 0;
    if (q->ep > NODE_MASK_EP) {
        div[n++] = q->ranks_per_node > 0 ? q->ranks_per_node : q->ep;
        return n;
    }
    for (int d = 1; d <= q->ep; d++)
        if (q->ep % d == 0)
            div[n++] = d;
    return n;
}

/* Index of q's ranks_per_node among node_sizes(q); -1 when absent. */
static int node_size_index(const sim_routing_query *q)
{
    int div[MAX_DIV], n = node_sizes(q, div);
    for (int i = 0; i < n; i++)
        if (div[i] == q->ranks_per_node)
            return i;
    return -1;
}

/* Every token reaches every expert: nothing is random (unless replicas split the load). */
static void all_experts(const sim_routing_query *q, sim_routing_stats *out)
{
    double T = (double)q->tokens, E = q->experts;
    out->distinct_experts = E;
    out->mean_tokens_per_rank = out->max_tokens_per_rank = T * E / q->ep;
    out->mean_experts_per_rank = out->max_experts_per_rank = E / q->ep;
    out->max_tokens_per_expert = T;
    out->mean_dest_ranks_per_token = q->ep;
    out->mean_dest_nodes_per_token = q->ranks_per_node > 0 ? (double)q->ep / q->ranks_per_node : 0;
    out->max_token_copies_per_rank = T;
    /* every expert gets all T tokens: all small or none */
    out->small_expert_share = out->small_token_share = q->small_rows > 0 && T <= q->small_rows ? 1 : 0;
    /* every expert gets all T tokens: ceil(T / tile) tiles each */
    out->padded_token_share = q->tile_rows > 0 && T > 0 ? ceil(T / q->tile_rows) * q->tile_rows / T : 1;
    out->max_tokens_per_rank_unbalanced = out->max_tokens_per_rank;
    out->max_tokens_per_rank_placed = out->max_tokens_per_rank;
    out->hot_cold_tokens = 1;
    out->trials = 0;
}

/* The figures with closed forms at q's token count: the uniform distinct experts, the mean rank
 * load, and with uniform routing and no replicas the means the Monte Carlo would only estimate.
 * Applied after the Monte Carlo and again after interpolating between grid nodes. */
static void closed_forms(const sim_routing_query *q, sim_routing_stats *out)
{
    int E = q->experts, k = q->top_k;
    double T = (double)q->tokens;
    out->distinct_experts_uniform = sim_routing_distinct_uniform(E, k, T);
    /* The mean over ranks of assignments is T k / ep whatever the routing. */
    out->mean_tokens_per_rank = T * k / q->ep;
    if (q->skew == 0 && q->redundant == 0) {
        out->distinct_experts = out->distinct_experts_uniform;
        out->mean_experts_per_rank = out->distinct_experts_uniform / q->ep;
        out->mean_dest_ranks_per_token = dest_groups_uniform(E, k, q->ep);
        if (q->ranks_per_node > 0)
            out->mean_dest_nodes_per_token = dest_groups_uniform(E, k, q->ep / q->ranks_per_node);
        /* The maximum is sampled but the mean is exact: keep max >= mean where sampling
         * noise would break it (ep = 1, or every rank saturated). */
        if (out->max_experts_per_rank < out->mean_experts_per_rank)
            out->max_experts_per_rank = out->mean_experts_per_rank;
    }
}

/* The busiest rank's tokens for a variant of a query (EPLB's law without the drift, or no
 * placement at all), to print beside the query's own: only that figure is read, so the
 * padded-row statistics are left out. */
static int busiest_rank_of(sim_routing_query v, double *max_tokens_per_rank, sim_err *err)
{
    v.small_rows = 0;
    v.tile_rows = 0;
    sim_routing_stats st;
    int rc = monte_carlo(&v, &st, NULL, err);
    if (rc == SIM_OK)
        *max_tokens_per_rank = st.max_tokens_per_rank;
    return rc;
}

/* The figures at exactly q's token count: closed forms where they exist, else the Monte Carlo.
 * nodes, when not NULL, gets mean_dest_nodes_per_token for every node size of node_sizes(q)
 * (q->ranks_per_node may then be 0: a law for every node size). */
static int compute_at(const sim_routing_query *q, sim_routing_stats *out, double *nodes, sim_err *err)
{
    memset(out, 0, sizeof *out);
    int E = q->experts, k = q->top_k, div[MAX_DIV], ndiv = node_sizes(q, div);
    if (nodes)
        for (int i = 0; i < MAX_DIV; i++)
            nodes[i] = 0;
    out->distinct_experts_uniform = sim_routing_distinct_uniform(E, k, (double)q->tokens);
    if (q->tokens == 0)
        return SIM_OK;
    if (k == E && q->redundant == 0) {
        all_experts(q, out);
        out->distinct_experts_uniform = E;
        for (int i = 0; nodes && i < ndiv; i++)
            nodes[i] = (double)q->ep / div[i];
        return SIM_OK;
    }
    int rc = monte_carlo(q, out, nodes, err);
    if (rc)
        return rc;
    out->max_tokens_per_rank_unbalanced = out->max_tokens_per_rank;
    out->max_tokens_per_rank_placed = out->max_tokens_per_rank;
    if (q->eplb && q->eplb_drift > 0 && q->skew > 0 && k < E) {
        /* What the drift added: the same batch drawn from the law EPLB placed by. */
        sim_routing_query placed = *q;
        placed.eplb_drift = 0;
        if ((rc = busiest_rank_of(placed, &out->max_tokens_per_rank_placed, err)))
            return rc;
    }
    if (q->eplb && q->experts % q->ep != 0) {
        /* Only the redundant slots make the experts divide over the ranks (EP72 serves 256
         * experts in 288 slots): there is no placement without them to compare with. */
        out->max_tokens_per_rank_unbalanced = NAN;
    } else if (q->eplb) {
        /* What EPLB took away: the same tokens and law with nobody placing the experts. */
        sim_routing_query plain = *q;
        plain.eplb = false;
        plain.redundant = 0;
        if ((rc = busiest_rank_of(plain, &out->max_tokens_per_rank_unbalanced, err)))
            return rc;
    }
    closed_forms(q, out);
    if (nodes && q->skew == 0 && q->redundant == 0) /* closed_forms' dest nodes, per node size */
        for (int i = 0; i < ndiv; i++)
            nodes[i] = dest_groups_uniform(E, k, q->ep / div[i]);
    return SIM_OK;
}

/* ---------------------------------------------------------------- the token grid */

/* A law is a query less its token count. Its figures are smooth in T: every one is an
 * expectation (of a maximum, a count or a share) over a sum of T independent tokens, so
 * between nodes close together in log T it is interpolated, and the Monte Carlo runs only
 * at the nodes, once per law, cached in memory and on disk. Nodes: every T from 1 to
 * GRID_DENSE (where small counts are discrete and the Monte Carlo is cheap), then
 * GRID_PER_OCTAVE per doubling up to MAX_TOKENS. A query on a node gets that node's Monte
 * Carlo unchanged (the same figures as before the grid existed); between nodes each figure is
 * interpolated linearly in (log T, log figure), exact for a power law, which the maxima
 * approach (max ~ mean + c sqrt(mean)), and linearly in log T where a figure is 0 at a node.
 * Log-log interpolation keeps the bounds every node satisfies and that are themselves power
 * laws in T (mean <= max <= T k, copies <= T, experts <= slots per rank). The error against
 * the Monte Carlo at the query's own T is measured by test_grid_matches_monte_carlo and
 * bench_routing (README, "Speed"). */
#define GRID_DENSE 16
#define GRID_PER_OCTAVE 4
/* 16 dense nodes, then 16 * 2^(i/4) for i = 1..108 (16 * 2^27 = 2^31 > MAX_TOKENS, capped). */
#define GRID_NODES (GRID_DENSE + 27 * GRID_PER_OCTAVE)
/* Bump when the Monte Carlo, the samplers, EPLB placement, the nodes or the file layout change:
 * it names the cache files, so figures of an older code are never read back. */
#define GRID_CODE_VERSION 3 /* 3: EPLB's batch drift (eplb_drift, max_tokens_per_rank_placed) */
#define MAX_GRIDS 64

static long node_tokens(int j)
{
    if (j < GRID_DENSE)
        return j + 1;
    double t = GRID_DENSE * exp2((double)(j - GRID_DENSE + 1) / GRID_PER_OCTAVE);
    return t >= (double)MAX_TOKENS ? MAX_TOKENS : (long)llround(t);
}

/* The largest node at or below T (T >= 1). */
static int node_below(long T)
{
    if (T <= GRID_DENSE)
        return (int)T - 1;
    int j = GRID_DENSE - 1 + (int)floor(GRID_PER_OCTAVE * log2((double)T / GRID_DENSE));
    if (j > GRID_NODES - 1)
        j = GRID_NODES - 1;
    while (j + 1 < GRID_NODES && node_tokens(j + 1) <= T)
        j++;
    while (node_tokens(j) > T)
        j--;
    return j;
}

typedef struct grid {
    sim_routing_query law; /* tokens 0, direct false; ranks_per_node 0 when ep <= NODE_MASK_EP */
    uint64_t hash;
    bool have[GRID_NODES];
    sim_routing_stats node[GRID_NODES];
    double nodes[GRID_NODES][MAX_DIV]; /* law without ranks_per_node: dest nodes per node size */
} grid;

/* A query's law: less its token count, and less its ranks per node where one Monte Carlo counts
 * every node size (NODE_MASK_EP). */
static sim_routing_query law_of(const sim_routing_query *q)
{
    sim_routing_query law = *q;
    law.tokens = 0;
    law.direct = false;
    if (law.ep <= NODE_MASK_EP)
        law.ranks_per_node = 0;
    return law;
}

/* Node j's figures for q (q's law is g's): its dest nodes for q's node size. */
static sim_routing_stats node_for(const grid *g, int j, const sim_routing_query *q)
{
    sim_routing_stats s = g->node[j];
    if (g->law.ranks_per_node == 0) {
        int i = node_size_index(q);
        s.mean_dest_nodes_per_token = i >= 0 ? g->nodes[j][i] : NAN;
    }
    return s;
}

/* The figures of sim_routing_stats that are interpolated and stored, all doubles. */
static const size_t stat_fields[] = {
    offsetof(sim_routing_stats, distinct_experts), offsetof(sim_routing_stats, distinct_experts_uniform),
    offsetof(sim_routing_stats, mean_tokens_per_rank), offsetof(sim_routing_stats, max_tokens_per_rank),
    offsetof(sim_routing_stats, mean_experts_per_rank), offsetof(sim_routing_stats, max_experts_per_rank),
    offsetof(sim_routing_stats, max_tokens_per_expert), offsetof(sim_routing_stats, mean_dest_ranks_per_token),
    offsetof(sim_routing_stats, mean_dest_nodes_per_token), offsetof(sim_routing_stats, max_token_copies_per_rank),
    offsetof(sim_routing_stats, small_expert_share), offsetof(sim_routing_stats, small_token_share),
    offsetof(sim_routing_stats, max_tokens_per_rank_unbalanced), offsetof(sim_routing_stats, hot_cold_tokens),
    offsetof(sim_routing_stats, padded_token_share), offsetof(sim_routing_stats, max_tokens_per_rank_placed),
};
enum { N_FIELDS = sizeof stat_fields / sizeof *stat_fields };
/* A node on disk: the fields, the dest nodes per node size (grid.nodes), the trials. */
enum { N_STORED = N_FIELDS + MAX_DIV };

static double *field(sim_routing_stats *s, int i)
{
    return (double *)((char *)s + stat_fields[i]);
}

/* Node j of g, computed by the Monte Carlo unless held; *fresh counts the nodes computed. */
static int grid_node(grid *g, int j, long *fresh, sim_err *err)
{
    if (g->have[j])
        return SIM_OK;
    sim_routing_query q = g->law;
    q.tokens = node_tokens(j);
    int rc = compute_at(&q, &g->node[j], g->nodes[j], err);
    if (rc)
        return rc;
    g->have[j] = true;
    (*fresh)++;
    return SIM_OK;
}

/* Figures at q->tokens between nodes a (at Ta) and b (at Tb). */
static void interpolate(const sim_routing_query *q, const sim_routing_stats *a, long Ta, const sim_routing_stats *b,
                        long Tb, sim_routing_stats *out)
{
    double x = log((double)q->tokens / Ta) / log((double)Tb / Ta);
    *out = *a;
    for (int i = 0; i < N_FIELDS; i++) {
        double fa = *field((sim_routing_stats *)a, i), fb = *field((sim_routing_stats *)b, i);
        double *f = field(out, i);
        if (isnan(fa) || isnan(fb))
            *f = NAN;
        else if (fa > 0 && fb > 0)
            *f = exp(log(fa) + x * (log(fb) - log(fa)));
        else
            *f = fa + x * (fb - fa);
    }
    out->trials = a->trials < b->trials ? a->trials : b->trials;
    closed_forms(q, out);
}

/* ---------------------------------------------------------------- the grid on disk */

/* One file per law, $MOESIM_CACHE_DIR (empty: no files), else $XDG_CACHE_HOME/moesim, else
 * ~/.cache/moesim: routing-v<code version>-<law hash>.grid. Layout (native byte order, checked):
 * "MOESIMRG", u32 version, u32 0x01020304, u32 fields, u32 nodes, i64 key[12] (the law and the
 * build), u32 count,
 * count x (u32 node, f64 figures[fields] (the stats' fields, then the dest nodes per node size),
 * f64 trials), u64 FNV-1a of all bytes before it. A file that is
 * short, of another version or law, or fails its checksum is ignored (and replaced on the next
 * write); files are written to a temporary name and renamed, so a reader never sees half of
 * one. Deleting them only costs the Monte Carlo again. */
enum { KEY_WORDS = 13, FILE_MAX = 1 << 16 };
/* When this file was compiled, part of every file's key: a rebuild (a changed Monte Carlo
 * without a new GRID_CODE_VERSION, above all while developing) never reads figures of
 * another build. Costs the first use of each law once per build. */
static const char build_stamp[] = __DATE__ " " __TIME__;
static const char grid_magic[8] = {'M', 'O', 'E', 'S', 'I', 'M', 'R', 'G'};

static bool cache_dir(char *buf, size_t n)
{
    const char *d = getenv("MOESIM_CACHE_DIR");
    if (d) {
        snprintf(buf, n, "%s", d);
        return *d != 0;
    }
    if ((d = getenv("XDG_CACHE_HOME")) && d[0] == '/') /* the XDG spec ignores a relative path */
        snprintf(buf, n, "%s/moesim", d);
    else if ((d = getenv("HOME")) && *d)
        snprintf(buf, n, "%s/.cache/moesim", d);
    else
        return false;
    return true;
}

static bool grid_path(const grid *g, char *buf, size_t n)
{
    char dir[4096];
    if (!cache_dir(dir, sizeof dir))
        return false;
    int w = snprintf(buf, n, "%s/routing-v%d-%016llx.grid", dir, GRID_CODE_VERSION, (unsigned long long)g->hash);
    return w > 0 && (size_t)w < n;
}

static uint64_t fnv1a(const unsigned char *p, size_t n)
{
    uint64_t h = 14695981039346656037ULL;
    for (size_t i = 0; i < n; i++)
        h = (h ^ p[i]) * 1099511628211ULL;
    return h;
}

static void law_key(const sim_routing_query *q, int64_t key[KEY_WORDS])
{
    double skew = q->skew == 0 ? 0 : q->skew;
    int64_t skew_bits, drift_bits;
    memcpy(&skew_bits, &skew, sizeof skew_bits);
    double drift = q->eplb_drift == 0 ? 0 : q->eplb_drift;
    memcpy(&drift_bits, &drift, sizeof drift_bits);
    int64_t k[KEY_WORDS] = {q->experts, q->top_k, q->ep, q->ranks_per_node, skew_bits,
                            q->redundant, q->eplb, (int64_t)q->seed, q->small_rows, q->exact_work_limit,
                            q->tile_rows, (int64_t)fnv1a((const unsigned char *)build_stamp, sizeof build_stamp - 1),
                            drift_bits};
    memcpy(key, k, sizeof k);
}

typedef struct buf {
    unsigned char *p;
    size_t n, at;
} buf;

static void put(buf *b, const void *v, size_t n)
{
    if (b->at + n <= b->n)
        memcpy(b->p + b->at, v, n);
    b->at += n;
}

static bool take(buf *b, void *v, size_t n)
{
    if (b->at + n > b->n)
        return false;
    memcpy(v, b->p + b->at, n);
    b->at += n;
    return true;
}

static void put_u32(buf *b, uint32_t v)
{
    put(b, &v, sizeof v);
}

static bool take_u32(buf *b, uint32_t *v)
{
    return take(b, v, sizeof *v);
}

/* Merge the nodes of g's file into g (nodes g already holds are kept); *loaded counts them. */
static void grid_load(grid *g, long *loaded)
{
    char path[4200];
    if (!grid_path(g, path, sizeof path))
        return;
    FILE *f = fopen(path, "rb");
    if (!f)
        return;
    static const size_t cap = FILE_MAX;
    unsigned char *data = malloc(cap);
    size_t n = data ? fread(data, 1, cap, f) : 0;
    fclose(f);
    uint64_t sum;
    if (!data || n < sizeof sum || n == cap || (memcpy(&sum, data + n - sizeof sum, sizeof sum), sum != fnv1a(data, n - sizeof sum))) {
        free(data);
        return;
    }
    buf b = {data, n - sizeof sum, 0};
    char magic[8];
    uint32_t version, endian, fields, nodes, count;
    int64_t key[KEY_WORDS], want[KEY_WORDS];
    law_key(&g->law, want);
    if (!take(&b, magic, sizeof magic) || memcmp(magic, grid_magic, sizeof magic) || !take_u32(&b, &version) ||
        version != GRID_CODE_VERSION || !take_u32(&b, &endian) || endian != 0x01020304u || !take_u32(&b, &fields) ||
        fields != N_STORED || !take_u32(&b, &nodes) || nodes != GRID_NODES || !take(&b, key, sizeof key) ||
        memcmp(key, want, sizeof key) || !take_u32(&b, &count) || count > GRID_NODES) {
        free(data);
        return;
    }
    for (uint32_t i = 0; i < count; i++) {
        uint32_t j;
        double v[N_STORED + 1];
        if (!take_u32(&b, &j) || !take(&b, v, sizeof v) || j >= GRID_NODES)
            break;
        bool ok = v[N_STORED] >= 0 && v[N_STORED] <= INT_MAX;
        for (int k = 0; k < N_STORED; k++) /* only the unbalanced load may be NAN (routing.h) */
            ok &= isfinite(v[k]) || (k < N_FIELDS && stat_fields[k] == offsetof(sim_routing_stats, max_tokens_per_rank_unbalanced) && isnan(v[k]));
        if (!ok)
            break;
        if (g->have[j])
            continue;
        sim_routing_stats s = {0};
        for (int k = 0; k < N_FIELDS; k++)
            *field(&s, k) = v[k];
        s.trials = (int)v[N_STORED];
        g->node[j] = s;
        memcpy(g->nodes[j], v + N_FIELDS, sizeof g->nodes[j]);
        g->have[j] = true;
        (*loaded)++;
    }
    free(data);
}

/* mkdir -p; true when the directory exists at the end. */
static bool make_dirs(const char *dir)
{
    char p[4096];
    snprintf(p, sizeof p, "%s", dir);
    for (char *c = p + 1; *c; c++)
        if (*c == '/') {
            *c = 0;
            mkdir(p, 0755);
            *c = '/';
        }
    struct stat st;
    return mkdir(p, 0755) == 0 || (stat(p, &st) == 0 && S_ISDIR(st.st_mode));
}

/* Write every node g holds (after merging what another run wrote meanwhile), atomically.
 * Failures are silent: the file is only a cache. */
static void grid_save(grid *g, long *loaded)
{
    char path[4200], dir[4096], tmp[4300];
    if (!grid_path(g, path, sizeof path) || !cache_dir(dir, sizeof dir) || !make_dirs(dir))
        return;
    grid_load(g, loaded);
    unsigned char *data = malloc(FILE_MAX);
    if (!data)
        return;
    buf b = {data, FILE_MAX, 0};
    int64_t key[KEY_WORDS];
    law_key(&g->law, key);
    uint32_t count = 0;
    for (int j = 0; j < GRID_NODES; j++)
        count += g->have[j];
    put(&b, grid_magic, sizeof grid_magic);
    put_u32(&b, GRID_CODE_VERSION);
    put_u32(&b, 0x01020304u);
    put_u32(&b, N_STORED);
    put_u32(&b, GRID_NODES);
    put(&b, key, sizeof key);
    put_u32(&b, count);
    for (int j = 0; j < GRID_NODES; j++) {
        if (!g->have[j])
            continue;
        double v[N_STORED + 1];
        for (int k = 0; k < N_FIELDS; k++)
            v[k] = *field(&g->node[j], k);
        memcpy(v + N_FIELDS, g->nodes[j], sizeof g->nodes[j]);
        v[N_STORED] = g->node[j].trials;
        put_u32(&b, (uint32_t)j);
        put(&b, v, sizeof v);
    }
    uint64_t sum = fnv1a(data, b.at < b.n ? b.at : b.n);
    put(&b, &sum, sizeof sum);
    snprintf(tmp, sizeof tmp, "%s.XXXXXX", path);
    int fd = b.at <= b.n ? mkstemp(tmp) : -1;
    if (fd >= 0) {
        bool ok = write(fd, data, b.at) == (ssize_t)b.at;
        ok &= close(fd) == 0;
        if (!ok || rename(tmp, path) != 0)
            unlink(tmp);
    }
    free(data);
}

/* ---------------------------------------------------------------- cache */

/* Open addressing, linear probing. When half full it is emptied: sweeps revisit a working
 * set far smaller than CACHE_MAX, and clearing keeps memory bounded without bookkeeping. */
#define CACHE_SLOTS 8192
#define CACHE_MAX (CACHE_SLOTS / 2)

typedef struct cache_entry {
    bool used;
    uint64_t hash;
    sim_routing_query key;
    sim_routing_stats stats;
} cache_entry;

struct sim_routing_cache {
    cache_entry *slots; /* CACHE_SLOTS entries, allocated with the cache */
    long entries, hits, misses;
    grid *grids[MAX_GRIDS]; /* the laws met so far, allocated on first use */
    int ngrids;
    long computed, loaded;  /* grid nodes from the Monte Carlo and from files */
};

sim_routing_cache *sim_routing_cache_alloc(void)
{
    sim_routing_cache *c = calloc(1, sizeof *c);
    if (c && !(c->slots = calloc(CACHE_SLOTS, sizeof *c->slots))) {
        free(c);
        return NULL;
    }
    return c;
}

void sim_routing_cache_free(sim_routing_cache *c)
{
    if (!c)
        return;
    for (int i = 0; i < c->ngrids; i++)
        free(c->grids[i]);
    free(c->slots);
    free(c);
}

void sim_routing_cache_info(const sim_routing_cache *c, long *entries, long *hits, long *misses)
{
    if (entries)
        *entries = c ? c->entries : 0;
    if (hits)
        *hits = c ? c->hits : 0;
    if (misses)
        *misses = c ? c->misses : 0;
}

void sim_routing_grid_info(const sim_routing_cache *c, long *grids, long *computed, long *loaded)
{
    if (grids)
        *grids = c ? c->ngrids : 0;
    if (computed)
        *computed = c ? c->computed : 0;
    if (loaded)
        *loaded = c ? c->loaded : 0;
}

/* One 64-bit word into the hash: murmur3's finalizer over h ^ v (a few cycles a field;
 * hashing the fields byte by byte cost a sixth of a cached lookup). */
static uint64_t mix(uint64_t h, uint64_t v)
{
    h ^= v + 0x9e3779b97f4a7c15ULL + (h << 6) + (h >> 2);
    h ^= h >> 33;
    h *= 0xff51afd7ed558ccdULL;
    h ^= h >> 33;
    return h;
}

/* Hash field by field: the struct's padding bytes are not part of the query. */
static uint64_t query_hash(const sim_routing_query *q)
{
    double skew = q->skew == 0 ? 0 : q->skew; /* -0 and 0 are one query */
    uint64_t skew_bits;
    memcpy(&skew_bits, &skew, sizeof skew_bits);
    uint64_t h = 14695981039346656037ULL;
    h = mix(h, (uint64_t)(uint32_t)q->experts | (uint64_t)(uint32_t)q->top_k << 32);
    h = mix(h, (uint64_t)q->tokens);
    h = mix(h, (uint64_t)(uint32_t)q->ep | (uint64_t)(uint32_t)q->ranks_per_node << 32);
    h = mix(h, skew_bits);
    h = mix(h, (uint64_t)(uint32_t)q->redundant | (uint64_t)q->eplb << 32);
    h = mix(h, (uint64_t)q->seed);
    h = mix(h, (uint64_t)(uint32_t)q->small_rows | (uint64_t)(uint32_t)q->tile_rows << 32);
    h = mix(h, (uint64_t)q->exact_work_limit);
    h = mix(h, (uint64_t)q->direct);
    double drift = q->eplb_drift == 0 ? 0 : q->eplb_drift;
    uint64_t drift_bits;
    memcpy(&drift_bits, &drift, sizeof drift_bits);
    h = mix(h, drift_bits);
    return h;
}

static bool query_equal(const sim_routing_query *a, const sim_routing_query *b)
{
    return a->experts == b->experts && a->top_k == b->top_k && a->tokens == b->tokens &&
           a->ep == b->ep && a->ranks_per_node == b->ranks_per_node && a->skew == b->skew &&
           a->redundant == b->redundant && a->eplb == b->eplb && a->seed == b->seed &&
           a->small_rows == b->small_rows && a->tile_rows == b->tile_rows && a->exact_work_limit == b->exact_work_limit &&
           a->direct == b->direct && a->eplb_drift == b->eplb_drift;
}

static cache_entry *cache_find(sim_routing_cache *c, const sim_routing_query *q, uint64_t h)
{
    for (size_t i = h % CACHE_SLOTS;; i = (i + 1) % CACHE_SLOTS) {
        cache_entry *e = &c->slots[i];
        if (!e->used)
            return NULL;
        if (e->hash == h && query_equal(&e->key, q))
            return e;
    }
}

static void cache_store(sim_routing_cache *c, const sim_routing_query *q, uint64_t h, const sim_routing_stats *s)
{
    if (c->entries >= CACHE_MAX) {
        memset(c->slots, 0, CACHE_SLOTS * sizeof *c->slots);
        c->entries = 0;
    }
    size_t i = h % CACHE_SLOTS;
    while (c->slots[i].used)
        i = (i + 1) % CACHE_SLOTS;
    c->slots[i] = (cache_entry){.used = true, .hash = h, .key = *q, .stats = *s};
    c->entries++;
}

/* The grid of q's law in c, read from its file when first met; NULL when out of memory. When
 * MAX_GRIDS laws are held they are all dropped (their nodes are on disk). */
static grid *grid_for(sim_routing_cache *c, const sim_routing_query *q)
{
    sim_routing_query law = law_of(q);
    uint64_t h = query_hash(&law);
    for (int i = 0; i < c->ngrids; i++)
        if (c->grids[i]->hash == h && query_equal(&c->grids[i]->law, &law))
            return c->grids[i];
    if (c->ngrids == MAX_GRIDS) {
        for (int i = 0; i < c->ngrids; i++)
            free(c->grids[i]);
        c->ngrids = 0;
    }
    grid *g = calloc(1, sizeof *g);
    if (!g)
        return NULL;
    g->law = law;
    g->hash = h;
    grid_load(g, &c->loaded);
    c->grids[c->ngrids++] = g;
    return g;
}

/* The figures for q: on a grid node, that node's Monte Carlo; between two, interpolated. Without
 * a cache the two nodes are computed for this query alone (the same figures, only slower). */
static int answer(sim_routing_cache *c, const sim_routing_query *q, sim_routing_stats *out, sim_err *err)
{
    if (q->direct || q->tokens == 0 || (q->top_k == q->experts && q->redundant == 0))
        return compute_at(q, out, NULL, err);
    grid *g = c ? grid_for(c, q) : NULL, *own = NULL;
    if (!g) {
        if (!(g = own = calloc(1, sizeof *g)))
            return sim_fail(err, SIM_EFAIL, "routing: out of memory");
        g->law = law_of(q);
    }
    long fresh = 0;
    int j = node_below(q->tokens), rc = SIM_OK;
    /* The dense nodes are filled together: small batches come in every count, and each of
     * these Monte Carlos is cheap (few tokens). */
    for (int i = 0; i < GRID_DENSE && j < GRID_DENSE && !rc; i++)
        rc = grid_node(g, i, &fresh, err);
    if (!rc)
        rc = grid_node(g, j, &fresh, err);
    bool on_node = node_tokens(j) == q->tokens;
    if (!rc && !on_node)
        rc = grid_node(g, j + 1, &fresh, err);
    if (!rc) {
        sim_routing_stats a = node_for(g, j, q);
        if (on_node)
            *out = a;
        else {
            sim_routing_stats b = node_for(g, j + 1, q);
            interpolate(q, &a, node_tokens(j), &b, node_tokens(j + 1), out);
        }
    }
    if (c && !own) {
        c->computed += fresh;
        if (fresh > 0 && !rc)
            grid_save(g, &c->loaded);
    }
    free(own);
    return rc;
}

/* ---------------------------------------------------------------- entry point */

int sim_routing_stats_get(sim_routing_cache *cache, const sim_routing_query *q, sim_routing_stats *out,
                          sim_err *err)
{
    if (!q || !out)
        return sim_fail(err, SIM_EINPUT, "routing: query and result must not be NULL");
    int rc = validate(q, err);
    if (rc)
        return rc;
    if (!cache)
        return answer(NULL, q, out, err);
    uint64_t h = query_hash(q);
    const cache_entry *c = cache_find(cache, q, h);
    if (c) {
        cache->hits++;
        *out = c->stats;
        return SIM_OK;
    }
    cache->misses++;
    sim_routing_stats s;
    rc = answer(cache, q, &s, err);
    if (rc)
        return rc;
    cache_store(cache, q, h, &s);
    *out = s;
    return SIM_OK;
}
