/* bench_step.c: how fast the step model answers, on one core, for a 61-layer MoE model
 * (DeepSeek-V3 on 8 x H200, expert-parallel). A sweep asks the same routing questions again
 * and again, so the figure that matters is with the routing cache warm; the cold figure
 * (every batch size new) is printed beside it. Goal: >= 200,000 evaluations per second. */
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "model/registry.h"
#include "step/routing.h"
#include "step/step.h"

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec * 1e-9;
}

int main(void)
{
    static sim_model m;
    static sim_hw hw;
    sim_err err = { 0 };
    if (sim_registry_model("deepseek-v3", &m, &err) || sim_registry_hw("h200", &hw, &err)) {
        fprintf(stderr, "bench_step: %s\n", err.msg);
        return 1;
    }
    sim_deploy d;
    sim_deploy_defaults(&d, &m, &hw);
    d.gpus = 8, d.tp = 1, d.dp = 8, d.ep = 8;
    sim_deploy_set_precision(&d, SIM_WF_FP8);
    sim_memfit fit;
    sim_memfit_eval(&d, 2048, 64, &fit);

    enum { SHAPES = 64 };
    sim_step_shape shapes[SHAPES];
    for (int i = 0; i < SHAPES; i++)
        shapes[i] = (sim_step_shape){ .decode_seqs = 1 + 4 * i, .decode_ctx = 2048, .group_tokens = 8 * (1 + 4 * i) };

    /* cold: every shape's routing statistics computed once, into a fresh memo */
    d.routing_cache = sim_routing_cache_alloc();
    double t0 = now();
    sim_step_result r;
    for (int i = 0; i < SHAPES; i++)
        if (sim_step_eval(&d, &fit, &shapes[i], &r, &err)) {
            fprintf(stderr, "bench_step: %s\n", err.msg);
            return 1;
        }
    double cold = now() - t0;

    /* warm: a sweep over the same shapes */
    long n = 0;
    double sink = 0;
    t0 = now();
    double elapsed;
    do {
        for (int i = 0; i < SHAPES; i++, n++) {
            sim_step_eval(&d, &fit, &shapes[i], &r, &err);
            sink += r.time_s;
        }
        elapsed = now() - t0;
    } while (elapsed < 2.0);
    double rate = n / elapsed;
    printf("step model, deepseek-v3 (61 layers) on 8 x h200, EP8: %.0f evaluations/s warm (goal >= 200000: %s), "
           "%.2f ms per evaluation cold (new routing statistics)  [checksum %.3g]\n",
           rate, rate >= 200000 ? "met" : "MISSED", cold / SHAPES * 1e3, sink);
    sim_routing_cache_free(d.routing_cache);
    return 0;
}
