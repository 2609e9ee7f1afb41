/* mt.c: GSL's MT19937 as a gsl_rng_type over an inline-readable state (see mt.h). */
#include "step/mt.h"

#define UPPER_MASK 0x80000000u
#define LOWER_MASK 0x7fffffffu

static inline uint32_t magic(uint32_t y)
{
    return (y & 1u) ? 0x9908b0dfu : 0;
}

void mt_refill(mt_state *s)
{
    uint32_t *mt = s->mt;
    int kk;
    for (kk = 0; kk < MT_N - MT_M; kk++) {
        uint32_t y = (mt[kk] & UPPER_MASK) | (mt[kk + 1] & LOWER_MASK);
        mt[kk] = mt[kk + MT_M] ^ (y >> 1) ^ magic(y);
    }
    for (; kk < MT_N - 1; kk++) {
        uint32_t y = (mt[kk] & UPPER_MASK) | (mt[kk + 1] & LOWER_MASK);
        mt[kk] = mt[kk + (MT_M - MT_N)] ^ (y >> 1) ^ magic(y);
    }
    uint32_t y = (mt[MT_N - 1] & UPPER_MASK) | (mt[0] & LOWER_MASK);
    mt[MT_N - 1] = mt[MT_M - 1] ^ (y >> 1) ^ magic(y);
    s->mti = 0;
}

/* GSL's mt_set: seed 0 is GSL's default 4357; Knuth's multiplier for the rest of the state. */
static void mt_set(void *vs, unsigned long seed)
{
    mt_state *s = vs;
    if (seed == 0)
        seed = 4357;
    s->mt[0] = (uint32_t)(seed & 0xffffffffUL);
    for (int i = 1; i < MT_N; i++)
        s->mt[i] = (uint32_t)(1812433253UL * (s->mt[i - 1] ^ (s->mt[i - 1] >> 30)) + (unsigned long)i);
    s->mti = MT_N;
}

static unsigned long mt_get(void *vs)
{
    return mt_next(vs);
}

static double mt_get_double(void *vs)
{
    return mt_uniform(vs);
}

const gsl_rng_type mt_rng_type = {"moesim-mt19937", 0xffffffffUL, 0, sizeof(mt_state), &mt_set, &mt_get,
                                  &mt_get_double};
