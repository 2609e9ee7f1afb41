/* test_mt.c: step/mt.h's inline MT19937 draws against GSL's own, draw for draw: the raw words
 * (seeds 0, 1, the deployments' default and one above 2^32), uniforms on [0,1) and (0,1),
 * uniform integers, the shuffle, alias-table draws, and GSL's binomial and multinomial
 * sampling through mt_rng_type. The routing Monte Carlo's figures are GSL's exactly when these
 * hold. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <math.h>
#include <string.h>

#include "step/mt.h"

static const unsigned long seeds[] = {0, 1, 7, 20250101, 4294967301UL};
enum { NSEEDS = sizeof seeds / sizeof *seeds, DRAWS = 3 * MT_N + 17 }; /* past three refills */

/* A pair of generators on one seed: GSL's mt19937 and ours. */
typedef struct pair {
    gsl_rng *gsl, *ours;
} pair;

static pair pair_new(unsigned long seed)
{
    pair p = {gsl_rng_alloc(gsl_rng_mt19937), gsl_rng_alloc(&mt_rng_type)};
    assert_non_null(p.gsl);
    assert_non_null(p.ours);
    gsl_rng_set(p.gsl, seed);
    gsl_rng_set(p.ours, seed);
    return p;
}

static void pair_free(pair p)
{
    gsl_rng_free(p.gsl);
    gsl_rng_free(p.ours);
}

static void test_words(void **state)
{
    (void)state;
    for (int s = 0; s < NSEEDS; s++) {
        pair p = pair_new(seeds[s]);
        for (int i = 0; i < DRAWS; i++) {
            unsigned long want = gsl_rng_get(p.gsl);
            /* half through the inline path, half through GSL's function pointer */
            unsigned long got = i % 2 ? mt_next(mt_of(p.ours)) : gsl_rng_get(p.ours);
            if (got != want)
                fail_msg("seed %lu draw %d: %lu, GSL %lu", seeds[s], i, got, want);
        }
        pair_free(p);
    }
}

static void test_uniforms(void **state)
{
    (void)state;
    for (int s = 0; s < NSEEDS; s++) {
        pair p = pair_new(seeds[s]);
        for (int i = 0; i < DRAWS; i++) {
            assert_true(mt_uniform(mt_of(p.ours)) == gsl_rng_uniform(p.gsl));
            assert_true(mt_uniform_pos(mt_of(p.ours)) == gsl_rng_uniform_pos(p.gsl));
            assert_true(gsl_rng_uniform(p.ours) == gsl_rng_uniform(p.gsl));
        }
        pair_free(p);
    }
}

static void test_uniform_int(void **state)
{
    (void)state;
    static const unsigned long ns[] = {1, 2, 3, 7, 8, 100, 256, 1000003, 0xfffffffeUL};
    for (int s = 0; s < NSEEDS; s++) {
        pair p = pair_new(seeds[s]);
        for (int i = 0; i < DRAWS; i++) {
            unsigned long n = ns[i % (sizeof ns / sizeof *ns)];
            unsigned long got = mt_uniform_int(mt_of(p.ours), n), want = gsl_rng_uniform_int(p.gsl, n);
            if (got != want)
                fail_msg("seed %lu draw %d n %lu: %lu, GSL %lu", seeds[s], i, n, got, want);
        }
        pair_free(p);
    }
}

static void test_shuffle(void **state)
{
    (void)state;
    for (int s = 0; s < NSEEDS; s++) {
        pair p = pair_new(seeds[s]);
        for (size_t n = 1; n <= 300; n += 37) {
            int a[300], b[300];
            for (size_t i = 0; i < n; i++)
                a[i] = b[i] = (int)i;
            for (int rep = 0; rep < 3; rep++) {
                gsl_ran_shuffle(p.gsl, a, n, sizeof *a);
                mt_shuffle(mt_of(p.ours), b, n);
                assert_memory_equal(a, b, n * sizeof *a);
            }
        }
        pair_free(p);
    }
}

/* Alias draws over a skewed law and a uniform one (where every column's F is 1). */
static void test_discrete(void **state)
{
    (void)state;
    double pz[256], pu[5] = {1, 1, 1, 1, 1};
    for (int j = 0; j < 256; j++)
        pz[j] = pow(j + 1.0, -0.69);
    gsl_ran_discrete_t *tabs[2] = {gsl_ran_discrete_preproc(256, pz), gsl_ran_discrete_preproc(5, pu)};
    assert_non_null(tabs[0]);
    assert_non_null(tabs[1]);
    for (int s = 0; s < NSEEDS; s++)
        for (int t = 0; t < 2; t++) {
            pair p = pair_new(seeds[s]);
            for (int i = 0; i < 20 * DRAWS; i++) {
                size_t got = mt_discrete(mt_of(p.ours), tabs[t]), want = gsl_ran_discrete(p.gsl, tabs[t]);
                if (got != want)
                    fail_msg("seed %lu table %d draw %d: %zu, GSL %zu", seeds[s], t, i, got, want);
            }
            pair_free(p);
        }
    gsl_ran_discrete_free(tabs[0]);
    gsl_ran_discrete_free(tabs[1]);
}

/* GSL's own samplers on our generator, interleaved with inline draws, stay on GSL's stream. */
static void test_gsl_samplers(void **state)
{
    (void)state;
    double prob[6] = {0.4, 0.2, 0.1, 0.1, 0.1, 0.1};
    for (int s = 0; s < NSEEDS; s++) {
        pair p = pair_new(seeds[s]);
        for (int i = 0; i < 500; i++) {
            unsigned int n = (unsigned int)(i * 37 % 5000);
            assert_int_equal(gsl_ran_binomial(p.ours, 0.3, n), gsl_ran_binomial(p.gsl, 0.3, n));
            unsigned int a[6], b[6];
            gsl_ran_multinomial(p.ours, 6, n, prob, a);
            gsl_ran_multinomial(p.gsl, 6, n, prob, b);
            assert_memory_equal(a, b, sizeof a);
            assert_true(mt_uniform(mt_of(p.ours)) == gsl_rng_uniform(p.gsl));
        }
        pair_free(p);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_words),
        cmocka_unit_test(test_uniforms),
        cmocka_unit_test(test_uniform_int),
        cmocka_unit_test(test_shuffle),
        cmocka_unit_test(test_discrete),
        cmocka_unit_test(test_gsl_samplers),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
