/* test_topk.c: the router top-k rule of the CUDA kernel (engine/cuda/topk_rule.h), run on the
 * host: against a sort-based statement of the rule on random and tied logits, against the
 * kernels' CPU reference where every logit is finite, and on the tokens that made the old
 * kernel write out of bounds (fewer than k finite logits, all -inf, NaN, +inf). No GPU needed. */
#include "../../engine/cuda/kernels_ref.h"
#include "../../engine/cuda/topk_rule.h"
#include "../../engine/weights.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int fails;

static void expect(int ok, const char *what, int E, int k)
{
    if (!ok) {
        fprintf(stderr, "FAIL: %s (E %d, k %d)\n", what, E, k);
        fails++;
    }
}

/* every id in range and distinct, weights finite, non-negative, summing to 1 */
static int sane(const int *ids, const float *w, int E, int k)
{
    float sum = 0;
    for (int j = 0; j < k; j++) {
        if (ids[j] < 0 || ids[j] >= E || !(w[j] >= 0) || !isfinite(w[j]))
            return 0;
        for (int i = 0; i < j; i++)
            if (ids[i] == ids[j])
                return 0;
        sum += w[j];
    }
    return fabsf(sum - 1) < 1e-5f;
}

/* the rule stated another way: all experts sorted by (logit desc, NaN last, id asc), first k */
static const float *cmp_l;
static int cmp(const void *a, const void *b)
{
    const int i = *(const int *)a, j = *(const int *)b;
    return ek_topk_better(cmp_l[i], i, cmp_l[j], j) ? -1 : 1;
}
static void by_sort(const float *l, int E, int k, int *ids)
{
    int *o = malloc(sizeof(int) * (size_t)E);
    for (int e = 0; e < E; e++)
        o[e] = e;
    cmp_l = l;
    qsort(o, (size_t)E, sizeof(int), cmp);
    memcpy(ids, o, sizeof(int) * (size_t)k);
    free(o);
}

static void random_and_tied(void)
{
    const int shapes[][2] = { { 8, 2 }, { 3, 3 }, { 64, 6 }, { 128, 8 }, { 256, 8 }, { 33, 32 } };
    int n = 0;
    for (size_t s = 0; s < sizeof shapes / sizeof shapes[0]; s++)
        for (int tied = 0; tied < 2; tied++)
            for (int sig = 0; sig < 2; sig++)
                for (int t = 0; t < 20; t++, n++) {
                    const int E = shapes[s][0], k = shapes[s][1];
                    float l[256], w[32], wr[32];
                    int ids[32], want[32], ir[32];
                    for (int e = 0; e < E; e++) {
                        const float u = 3 * (float)eng_hash_unit((uint64_t)n * 1000 + e);
                        l[e] = tied ? floorf(u) : u;   /* tied: a handful of values, many equal */
                    }
                    ek_topk_row(l, E, k, sig, ids, w);
                    by_sort(l, E, k, want);
                    expect(sane(ids, w, E, k), "ids out of range or repeated, or weights not a distribution", E, k);
                    expect(!memcmp(ids, want, sizeof(int) * (size_t)k), "ids differ from the sorted rule", E, k);
                    ekr_topk(l, 1, E, k, sig, ir, wr);
                    expect(!memcmp(ids, ir, sizeof(int) * (size_t)k), "ids differ from the kernels' CPU reference", E, k);
                    for (int j = 0; j < k; j++)
                        expect(fabsf(w[j] - wr[j]) < 1e-5f, "weights differ from the kernels' CPU reference", E, k);
                }
    printf("ok: top-k rule on %d random and tied tokens (sorted rule and CPU reference agree)\n", n);
}

static void fewer_than_k_finite(void)
{
    const float inf = INFINITY, nan = NAN;
    int ids[8];
    float w[8];
    /* two finite logits, top-4: the finite ones first, then the lowest-id -inf ones, weight 0 */
    const float a[8] = { -inf, 1.0f, -inf, -inf, 2.0f, -inf, -inf, -inf };
    ek_topk_row(a, 8, 4, 0, ids, w);
    expect(sane(ids, w, 8, 4) && ids[0] == 4 && ids[1] == 1 && ids[2] == 0 && ids[3] == 2 && w[2] == 0 && w[3] == 0 &&
               fabsf(w[0] - 1 / (1 + expf(-1))) < 1e-6f,
           "two finite logits, top-4", 8, 4);
    /* no finite logit: k distinct ids, equal weights (not 0/0) */
    const float b[6] = { -inf, -inf, -inf, -inf, -inf, -inf };
    for (int sig = 0; sig < 2; sig++) {
        ek_topk_row(b, 6, 3, sig, ids, w);
        expect(sane(ids, w, 6, 3) && ids[0] == 0 && ids[1] == 1 && ids[2] == 2 && w[0] == w[2],
               "all logits -inf", 6, 3);
    }
    /* NaN ranks below -inf and weighs 0 */
    const float c[5] = { nan, -inf, 0.5f, nan, 0.5f };
    ek_topk_row(c, 5, 5, 0, ids, w);
    expect(sane(ids, w, 5, 5) && ids[0] == 2 && ids[1] == 4 && ids[2] == 1 && ids[3] == 0 && ids[4] == 3 &&
               fabsf(w[0] - 0.5f) < 1e-6f && w[3] == 0,
           "NaN logits", 5, 5);
    /* +inf: the infinite ones share the weight */
    const float d[4] = { 1.0f, inf, 3.0f, inf };
    ek_topk_row(d, 4, 3, 0, ids, w);
    expect(sane(ids, w, 4, 3) && ids[0] == 1 && ids[1] == 3 && ids[2] == 2 && w[0] == 0.5f && w[2] == 0,
           "+inf logits", 4, 3);
    /* k = E: every expert, once */
    ek_topk_row(c, 5, 5, 1, ids, w);
    expect(sane(ids, w, 5, 5), "k = E with NaN, sigmoid", 5, 5);
    printf("ok: top-k with fewer than k finite logits, all -inf, NaN, +inf: ids in range and distinct\n");
}

int main(void)
{
    random_and_tied();
    fewer_than_k_finite();
    if (fails)
        fprintf(stderr, "test_topk: %d failure(s)\n", fails);
    return fails != 0;
}
