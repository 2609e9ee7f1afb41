/* step_dump.c: every figure of the step model, as hex floats, over deployments x shapes, to compare
 * two builds byte for byte (a change meant to leave results as they are: a speed change). Each
 * line of the deployment file is request options (name=value, as `moesim eval --name value`); for
 * each deployment, two placements, 189 shapes (decode, verify with drafts, prefill, mixed, with
 * and without group tokens) through sim_step_eval, a plan (fresh, replayed twice), the slim time
 * (sim_step_plan_time), a plan moved between placements (sim_step_plan_set_fit) and
 * sim_moe_layer_eval. Not built by make: tests/bench/step_dump.sh builds it against two trees. */
#include <stdio.h>
#include <string.h>
#include <stdlib.h>
#include "cli/request.h"
#include "cli/session.h"
#include "deploy/deploy.h"
#include "deploy/memfit.h"
#include "step/step.h"
#include "serve/serving.h"
static void pr(const char *tag, const sim_step_result *r) {
    printf("%s %a %a %a %a %a %a %a %a %a %a %a %a %d %a %a %a %a %a %a %d %a %a %a %d %d", tag,
      r->time_s, r->stage_time_s, r->compute_s, r->memory_s, r->comm_s, r->overhead_s, r->comm_total_s,
      r->flops, r->bytes, r->comm_bytes, r->slow_tier_bytes, r->tokens, (int)r->bound, r->tokens_per_expert,
      r->experts_touched_per_rank, r->max_tokens_per_rank, r->imbalance, r->imbalance_unbalanced, r->page_hit_rate,
      r->page_tier, r->resident_share, r->pinned_hit_rate, r->tokens, (int)r->expert_dtype, (int)r->dense_dtype);
    for (int i = 0; i < SIM_LK_COUNT; i++)
        printf(" k%a b%d s%d h%d m%d", r->by_kind_s[i], (int)r->basis[i], r->basis_source[i], (int)r->basis_held[i], (int)r->basis_matvec[i]);
    for (int i = 0; i < SIM_MAX_TIERS; i++) printf(" t%a", r->tier_weight_bytes[i]);
    printf("\n");
}
int main(int argc, char **argv) {
    if (argc < 2) { fprintf(stderr, "usage: step_dump DEPLOYMENTS\n"); return 2; }
    char line[4096];
    FILE *f = fopen(argv[1], "r");
    if (!f) { fprintf(stderr, "step_dump: cannot open %s\n", argv[1]); return 2; }
    sim_session *ss = sim_session_alloc();
    while (fgets(line, sizeof line, f)) {
        line[strcspn(line, "\n")] = 0;
        if (!line[0] || line[0] == '#') continue;
        sim_request r; sim_request_defaults(&r);
        sim_err err = {0};
        char buf[4096]; strcpy(buf, line);
        int bad = 0;
        for (char *tok = strtok(buf, " "); tok; tok = strtok(NULL, " ")) {
            char *eq = strchr(tok, '='); *eq = 0;
            if (sim_request_set_text(&r, tok, eq + 1, &err)) { printf("OPT %s: %s\n", line, err.msg); bad = 1; }
        }
        if (bad) continue;
        sim_deploy d, pre; bool hp; sim_serve_opts so;
        if (sim_request_deploy(ss, &r, &d, &pre, &hp, &so, &err)) { printf("DEP %s: %s\n", line, err.msg); continue; }
        double ctxs[] = {512, 4096, 32768};
        for (int fi = 0; fi < 2; fi++) {
        sim_memfit fit; sim_memfit_eval(&d, fi ? 8192 : 2048, fi ? 64 : 8, &fit);
        sim_step_plan *p = sim_step_plan_new(&d, &fit, &err);
        sim_memfit fit2; sim_memfit_eval(&d, fi ? 1024 : 65536, fi ? 4 : 256, &fit2);
        sim_step_plan *p2 = sim_step_plan_new(&d, &fit2, &err);
        for (int pass = 0; pass < 3; pass++)
        for (int dq = 0; dq < 3; dq++)
        for (int ci = 0; ci < 3; ci++)
        for (int bi = 0; bi < 7; bi++) {
            double seqs[] = {1, 2, 7, 16, 64, 200, 513};
            sim_step_shape sh = {0};
            int kind = (bi + ci + dq) % 4;
            sh.decode_seqs = seqs[bi]; sh.decode_ctx = ctxs[ci];
            if (dq == 1) { sh.decode_q = 3; sh.draft_tokens = 2; }
            if (dq == 2) { sh.prefill_tokens = 128.0 * (bi + 1) * (ci + 1); sh.prefill_seqs = 1 + bi % 3; sh.prefill_ctx = ctxs[ci] / 2; }
            if (kind == 3 && dq == 0) { sh.decode_seqs = 0; sh.prefill_tokens = 2048 * (bi + 1); sh.prefill_seqs = 2; sh.prefill_ctx = ctxs[ci]; }
            if (kind == 2) sh.group_tokens = sh.decode_seqs * 3 + sh.prefill_tokens;
            sim_step_result a, b; double t = -1;
            printf("%s | f%d p%d %d %d %d\n", line, fi, pass, dq, ci, bi);
            if (pass == 0) {
                if (sim_step_eval(&d, &fit, &sh, &a, &err)) printf("E FAIL %s\n", err.msg); else pr("E", &a);
            }
            if (pass == 1 && sim_step_plan_time(p, &sh, &t, &err)) printf("T FAIL %s\n", err.msg); else if (pass == 1) printf("T %a\n", t);
            if (sim_step_plan_eval(p, &sh, &b, &err)) printf("P FAIL %s\n", err.msg); else pr("P", &b);
            if (pass == 2 && sim_step_plan_time(p, &sh, &t, &err)) printf("T FAIL %s\n", err.msg); else if (pass == 2) printf("T %a\n", t);
            if (pass == 1) { /* a plan that saw another placement first, then moved to this one */
                sim_step_plan_set_fit(p2, &fit2);
                if (sim_step_plan_eval(p2, &sh, &b, &err)) printf("S FAIL %s\n", err.msg); else pr("S2", &b);
                sim_step_plan_set_fit(p2, &fit);
                if (sim_step_plan_eval(p2, &sh, &b, &err)) printf("S FAIL %s\n", err.msg); else pr("S", &b);
            }
            if (pass == 0 && bi % 3 == 0 && ci == 0) {
                if (sim_moe_layer_eval(&d, &fit, 256.0 * (bi + 1) * (dq + 1), &a, &err)) printf("M FAIL %s\n", err.msg); else pr("M", &a);
            }
        }
        sim_step_plan_free(p);
        sim_step_plan_free(p2);
        }
    }
    sim_session_free(ss);
    return 0;
}
