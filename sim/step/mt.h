/* mt.h: GSL's MT19937 generator (gsl_rng_mt19937) and the draws the routing Monte Carlo makes
 * from it, as inline functions, so a draw costs no call through GSL's function pointers.
 *
 * Why: the routing Monte Carlo (routing.c) makes ~10^6 draws per grid node, and through GSL each
 * uniform was two indirect calls (gsl_rng_uniform -> get_double -> get) and each alias draw a
 * third (gsl_ran_discrete): half of `search`'s time. The stream is GSL's, word for word:
 *   - seeding and generation follow GSL 2.x rng/mt.c (Matsumoto and Nishimura's mt19937ar.c
 *     with its 2002 seeding; seed 0 means 4357, as in GSL);
 *   - mt_uniform is GSL's mt_get_double (the word over 2^32), mt_uniform_pos gsl_rng_uniform_pos,
 *     mt_uniform_int gsl_rng_uniform_int (range / n buckets, the rest rejected), mt_shuffle
 *     gsl_ran_shuffle (Fisher-Yates from the top), mt_discrete gsl_ran_discrete (Walker's alias
 *     table with Knuth's convention: column u K, keep it while u < F[c]; read off libgsl.so.27's
 *     disassembly);
 *   - mt_rng_type is a gsl_rng_type over the same state, so GSL's own samplers (binomial,
 *     multinomial) draw from the same stream between the inline draws.
 * tests/unit/step/test_mt.c checks every function against GSL's, draw for draw. */
#ifndef MOESIM_MT_H
#define MOESIM_MT_H

#include <stddef.h>
#include <stdint.h>

#include <gsl/gsl_randist.h>
#include <gsl/gsl_rng.h>

enum { MT_N = 624, MT_M = 397 };

typedef struct mt_state {
    uint32_t mt[MT_N];
    int mti;
} mt_state;

/* The next N words at once (GSL's mt_get when mti reaches N). */
void mt_refill(mt_state *s);

/* The generator as a gsl_rng_type: gsl_rng_alloc(&mt_rng_type) gives a gsl_rng whose state is an
 * mt_state (r->state), seeded with gsl_rng_set as GSL's mt19937. */
extern const gsl_rng_type mt_rng_type;

static inline mt_state *mt_of(const gsl_rng *r)
{
    return (mt_state *)r->state;
}

static inline uint32_t mt_next(mt_state *s)
{
    if (s->mti >= MT_N)
        mt_refill(s);
    uint32_t k = s->mt[s->mti++];
    k ^= k >> 11;
    k ^= (k << 7) & 0x9d2c5680u;
    k ^= (k << 15) & 0xefc60000u;
    k ^= k >> 18;
    return k;
}

/* [0, 1) */
static inline double mt_uniform(mt_state *s)
{
    return mt_next(s) / 4294967296.0;
}

/* (0, 1) */
static inline double mt_uniform_pos(mt_state *s)
{
    double x;
    do
        x = mt_uniform(s);
    while (x == 0);
    return x;
}

/* 0..n-1 for 1 <= n <= 2^32 - 1 (GSL's bucket rule: its range is max - min = 2^32 - 1). */
static inline unsigned long mt_uniform_int(mt_state *s, unsigned long n)
{
    unsigned long scale = 0xffffffffUL / n, k;
    do
        k = mt_next(s) / scale;
    while (k >= n);
    return k;
}

/* gsl_ran_shuffle over an int array. */
static inline void mt_shuffle(mt_state *s, int *a, size_t n)
{
    for (size_t i = n - 1; i > 0 && n > 0; i--) {
        size_t j = mt_uniform_int(s, i + 1);
        int t = a[i];
        a[i] = a[j];
        a[j] = t;
    }
}

/* gsl_ran_discrete over a table from gsl_ran_discrete_preproc. GSL returns c when F[c] is 1 or
 * u < F[c]; u < 1 always, so u < F[c] alone decides, and with both answers loaded first the
 * choice needs no branch (the alias column is taken at random: a branch mispredicts often). */
static inline size_t mt_discrete(mt_state *s, const gsl_ran_discrete_t *g)
{
    double u = mt_uniform(s);
    size_t c = (size_t)(int64_t)(u * (double)g->K); /* 0 <= u K < K: as GSL's size_t cast, without its >= 2^63 branch */
    size_t alias = g->A[c];
    return u < g->F[c] ? c : alias;
}

#endif
