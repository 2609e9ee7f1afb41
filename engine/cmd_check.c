/* cmd_check.c: `moe-engine check`: the edge cases and random shapes of check.c on the chosen
 * backend, over however many ranks mpirun started; one line per case, exit 1 on a mismatch. */
#include "check.h"
#include "cli.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int eng_cmd_check(eng_ctx *cx, sim_err *err)
{
    eng_backend backend = ENG_BACKEND_CPU;
    long n_random = 24, seed = 1;
    if (eng_same_args(cx, err) != SIM_OK)
        return err->code;
    for (int i = 2; i < cx->argc; i++) {
        const char *a = cx->argv[i], *v = i + 1 < cx->argc ? cx->argv[i + 1] : NULL;
        int rc = SIM_OK;
        if (!strcmp(a, "--backend")) {
            if (!v || eng_backend_parse(v, &backend) != 0)
                rc = sim_fail(err, SIM_EINPUT, "--backend %s: expected cpu (or cuda where built)", v ? v : "(missing)");
            i++;
        } else if (!strcmp(a, "--cases")) {
            rc = eng_opt_int(a, v, 0, 100000, &n_random, err);
            i++;
        } else if (!strcmp(a, "--seed")) {
            rc = eng_opt_int(a, v, 0, 1L << 62, &seed, err);
            i++;
        } else {
            rc = sim_fail(err, SIM_EINPUT, "check: unknown option '%s'", a);
        }
        if (rc != SIM_OK)
            return rc;
    }
    const int max = 64 + (int)n_random;
    eng_check_case *cases = malloc(sizeof *cases * (size_t)max);
    if (!cases)
        return sim_fail(err, SIM_EFAIL, "out of memory for %d check cases", max);
    int n = eng_check_cases(cases, max, cx->size, (int)n_random, (uint64_t)seed), failed = 0, rc = SIM_OK;
    eng_say(cx, "moe-engine check: backend %s, %d ranks, %d cases\n", eng_backend_name(backend), cx->size, n);
    int skipped = 0;
    for (int i = 0; i < n && rc == SIM_OK; i++) {
        const eng_check_case *c = &cases[i];
        eng_check_result r;
        if (backend == ENG_BACKEND_CUDA && c->c.dtype == ENG_INT4_G32) {
            /* the CUDA backend has no 4-bit kernel (eng_layer_create says so); the CPU runs these */
            if (cx->rank == 0)
                printf("skip %2d %-30s int4_g32 runs on --backend cpu only\n", i + 1, c->label);
            skipped++;
            continue;
        }
        rc = eng_check_run(c, backend, cx->size > 1 ? cx->tr : NULL, &r, err);
        if (rc != SIM_OK) {
            sim_wrap(err, "check case %d (%s)", i + 1, c->label);
            break;
        }
        failed += !r.ok;
        if (cx->rank == 0) {
            printf("%-4s %2d %-30s T=%-4d d=%-4d f=%-4d E=%-3d k=%-3d shared=%dx%-3d %-8s %-4s ep=%d  "
                   "err %.1e (vs 1 rank %.1e, tol %.0e)%s%s\n",
                   r.ok ? "ok" : "FAIL", i + 1, c->label, c->tokens, c->c.hidden, c->c.ffn, c->c.experts,
                   c->c.top_k, c->c.shared, c->c.shared_ffn, c->c.scoring == ENG_SIGMOID ? "sigmoid" : "softmax",
                   eng_dtype_name(c->c.dtype), cx->size, r.err_ref, r.err_one, r.tol,
                   r.route_bad ? "  ROUTING NOT A TOP-K" : "", r.near_ties ? "  (near-tied routing differs)" : "");
            fflush(stdout);
        }
    }
    free(cases);
    if (rc == SIM_OK && failed)
        rc = sim_fail(err, SIM_EFAIL, "check: %d of %d cases differ from the reference beyond tolerance", failed, n);
    if (rc == SIM_OK)
        eng_say(cx, "moe-engine check: all %d cases match the reference%s\n", n - skipped,
                skipped ? " (int4_g32 cases skipped: CPU only)" : "");
    return rc;
}
