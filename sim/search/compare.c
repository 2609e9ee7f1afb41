/* compare.c: two systems' frontiers (search.c, one search per MTP depth, merged) and their
 * ratios at matched tokens/s per user. A level below a frontier's least interactive point is
 * served by that point (it delivers at least the level, at its throughput); a level above the
 * most interactive point is out of the system's reach (NaN, never 0). */
#include "search/compare.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

void sim_compare_result_free(sim_compare_result *r)
{
    for (int i = 0; i < 2; i++) {
        free(r->side[i].rows);
        r->side[i].rows = NULL;
        r->side[i].nrows = 0;
    }
}

static int by_x_desc(const void *a, const void *b)
{
    const sim_search_row *p = a, *q = b;
    if (p->output_tps_per_user != q->output_tps_per_user)
        return p->output_tps_per_user < q->output_tps_per_user ? 1 : -1;
    return (p->output_tps_per_gpu < q->output_tps_per_gpu) - (p->output_tps_per_gpu > q->output_tps_per_gpu);
}

long sim_compare_pareto(const sim_search_row *rows, long n, sim_search_row *out)
{
    sim_search_row *tmp = malloc((size_t)(n > 0 ? n : 1) * sizeof *tmp);
    if (!tmp)
        return -1;
    memcpy(tmp, rows, (size_t)n * sizeof *tmp);
    qsort(tmp, (size_t)n, sizeof *tmp, by_x_desc);
    long k = 0;
    double best = -1;
    for (long i = 0; i < n; i++)
        if (tmp[i].output_tps_per_gpu > best) {
            best = tmp[i].output_tps_per_gpu;
            tmp[k++] = tmp[i];
        }
    for (long i = 0; i < k; i++) /* rising interactivity */
        out[i] = tmp[k - 1 - i];
    free(tmp);
    return k;
}

/* Interpolate log(v) linearly in log(x) between a and b (NaN stays NaN; a non-positive
 * value is taken linearly). */
static double interp(double xa, double va, double xb, double vb, double x)
{
    if (!isfinite(va) || !isfinite(vb))
        return NAN;
    if (xb <= xa)
        return va;
    double f = (log(x) - log(xa)) / (log(xb) - log(xa));
    if (va > 0 && vb > 0)
        return exp(log(va) + f * (log(vb) - log(va)));
    return va + f * (vb - va);
}

bool sim_compare_at(const sim_search_row *rows, long n, double x, double *tps_gpu, double *usd, double *joules,
                    long *row)
{
    *tps_gpu = *usd = *joules = NAN;
    *row = -1;
    if (n < 1 || !(x > 0) || x > rows[n - 1].output_tps_per_user * (1 + 1e-9))
        return false;
    long i = 0;
    while (i < n && rows[i].output_tps_per_user < x * (1 - 1e-9))
        i++;
    if (i >= n)
        i = n - 1;
    *row = i;
    const sim_search_row *b = &rows[i];
    if (i == 0 || b->output_tps_per_user <= x * (1 + 1e-9)) { /* at or below the first point, or on a point */
        *tps_gpu = b->output_tps_per_gpu;
        *usd = b->usd_per_mtok_output;
        *joules = b->joules_per_output_token;
        return true;
    }
    const sim_search_row *a = &rows[i - 1];
    double xa = a->output_tps_per_user, xb = b->output_tps_per_user;
    *tps_gpu = interp(xa, a->output_tps_per_gpu, xb, b->output_tps_per_gpu, x);
    *usd = interp(xa, a->usd_per_mtok_output, xb, b->usd_per_mtok_output, x);
    *joules = interp(xa, a->joules_per_output_token, xb, b->joules_per_output_token, x);
    return true;
}

/* One system: every search, the rows merged into one frontier. */
static int run_system(const sim_compare_system *sys, sim_compare_side *side, sim_err *err)
{
    memset(side, 0, sizeof *side);
    if (sys->nspaces < 1 || sys->nspaces > SIM_COMPARE_MAX_SPACES || !sys->spaces[0])
        return sim_fail(err, SIM_EINPUT, "compare: each system needs 1 to %d searches", SIM_COMPARE_MAX_SPACES);
    side->hw = sys->spaces[0]->hw[0];
    side->gpus = sys->spaces[0]->system_gpus;
    sim_search_row *all = NULL;
    long nall = 0;
    int rc = SIM_OK;
    for (int i = 0; i < sys->nspaces && !rc; i++) {
        sim_search_result r;
        if ((rc = sim_search_run_frontier(sys->spaces[i], &r, err)))
            break;
        sim_search_row *p = realloc(all, (size_t)(nall + r.nrows + 1) * sizeof *p);
        if (!p) {
            rc = sim_fail(err, SIM_EFAIL, "out of memory");
        } else {
            all = p;
            memcpy(all + nall, r.rows, (size_t)r.nrows * sizeof *all);
            nall += r.nrows;
            side->configs += r.configs;
            side->points += r.points;
            side->invalid += r.invalid;
            side->no_fit += r.no_fit;
            side->unsupported += r.unsupported;
        }
        sim_search_result_free(&r);
    }
    if (!rc && nall == 0)
        rc = sim_fail(err, SIM_EINPUT, "compare: no configuration of %s x %d fits in memory", side->hw->name,
                      side->gpus);
    if (!rc && (side->nrows = sim_compare_pareto(all, nall, all)) < 0)
        rc = sim_fail(err, SIM_EFAIL, "out of memory");
    if (rc) {
        free(all);
        side->nrows = 0;
        return rc;
    }
    side->rows = all;
    return SIM_OK;
}

/* Levels of tokens/s per user, ten round values per decade (1, 1.5, 2, 2.5, 3, 4, 5, 6, 7,
 * 8), from the least interactive frontier point of either system to the most interactive of
 * either. */
static void levels(sim_compare_result *out)
{
    double lo = INFINITY, hi = 0;
    for (int s = 0; s < 2; s++) {
        const sim_compare_side *d = &out->side[s];
        lo = fmin(lo, d->rows[0].output_tps_per_user);
        hi = fmax(hi, d->rows[d->nrows - 1].output_tps_per_user);
    }
    static const double steps[] = { 1, 1.5, 2, 2.5, 3, 4, 5, 6, 7, 8 };
    out->nlevels = 0;
    for (double dec = pow(10, floor(log10(lo))); dec <= hi; dec *= 10)
        for (int i = 0; i < 10; i++) {
            double x = steps[i] * dec;
            if (x >= lo * (1 - 1e-9) && x <= hi * (1 + 1e-9) && out->nlevels < SIM_COMPARE_MAX_LEVELS)
                out->levels[out->nlevels++].tps_user = x;
        }
}

static double ratio(double b, double a)
{
    return isfinite(a) && isfinite(b) && a > 0 ? b / a : NAN;
}

int sim_compare_run(const sim_compare_system sys[2], double claim, sim_compare_result *out, sim_err *err)
{
    memset(out, 0, sizeof *out);
    out->claim = claim;
    int rc = SIM_OK;
    for (int s = 0; s < 2 && !rc; s++)
        rc = run_system(&sys[s], &out->side[s], err);
    if (rc) {
        sim_compare_result_free(out);
        return rc;
    }
    levels(out);
    for (int i = 0; i < out->nlevels; i++) {
        sim_compare_level *l = &out->levels[i];
        for (int s = 0; s < 2; s++)
            l->ok[s] = sim_compare_at(out->side[s].rows, out->side[s].nrows, l->tps_user, &l->tps_gpu[s],
                                      &l->usd_per_mtok[s], &l->joules_per_token[s], &l->row[s]);
        l->ratio_tps_gpu = ratio(l->tps_gpu[1], l->tps_gpu[0]);
        l->ratio_usd = ratio(l->usd_per_mtok[1], l->usd_per_mtok[0]);
        l->ratio_joules = ratio(l->joules_per_token[1], l->joules_per_token[0]);
    }
    return SIM_OK;
}
