/* engine.c: eng_layer, the backend-neutral face of the engine: config checks, the transport
 * of one rank when none is given, and dispatch to the chosen backend. */
#include "backend.h"

#include <stdlib.h>
#include <string.h>
#include <time.h>

struct eng_layer {
    eng_config cfg;
    eng_backend backend;
    const eng_backend_ops *ops;
    void *impl;
    eng_transport *own_tr;   /* created here when the caller gave none */
    const eng_backend_extra *extra;
};

eng_backend_create_fn eng_cuda_create_hook;
int eng_fp8_weights;

double eng_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

int eng_routing_check(const eng_routing *r, int tokens, const eng_config *c, sim_err *err)
{
    if (r->tokens != tokens || r->top_k != c->top_k)
        return sim_fail(err, SIM_EINPUT, "routing: given for %d tokens, top-k %d; the call has %d tokens, top-k %d",
                        r->tokens, r->top_k, tokens, c->top_k);
    const int k = c->top_k;
    for (int t = 0; t < tokens; t++)
        for (int j = 0; j < k; j++) {
            int e = r->expert[(size_t)t * k + j];
            if (e < 0 || e >= c->experts)
                return sim_fail(err, SIM_EINPUT, "routing: token %d slot %d: expert %d outside 0..%d",
                                t, j, e, c->experts - 1);
            for (int i = 0; i < j; i++)
                if (r->expert[(size_t)t * k + i] == e)
                    return sim_fail(err, SIM_EINPUT, "routing: token %d picks expert %d twice", t, e);
        }
    return SIM_OK;
}

int eng_layer_create(eng_layer **out, const eng_config *c, eng_backend backend, eng_transport *tr,
                     uint64_t seed, sim_err *err)
{
    *out = NULL;
    eng_layer *l = calloc(1, sizeof *l);
    if (!l)
        return sim_fail(err, SIM_EFAIL, "out of memory allocating a layer");
    int rc = SIM_OK;
    if (!tr) {
        rc = eng_transport_local(&l->own_tr, err);
        tr = l->own_tr;
    }
    if (rc == SIM_OK)
        rc = eng_config_check(c, tr->size, err);
    if (rc == SIM_OK) {
        l->cfg = *c;
        l->backend = backend;
        if (backend == ENG_BACKEND_CPU && eng_fp8_weights)
            rc = sim_fail(err, SIM_EINPUT, "--fp8: FP8 expert weights need --backend cuda");
        else if (backend == ENG_BACKEND_CPU && !strcmp(tr->name, "nccl"))
            rc = sim_fail(err, SIM_EINPUT, "--transport nccl moves GPU memory: use it with --backend cuda");
        else if (backend == ENG_BACKEND_CUDA && c->dtype == ENG_INT4_G32)
            rc = sim_fail(err, SIM_EINPUT, "dtype int4_g32 runs on --backend cpu only (the CUDA backend has no 4-bit "
                          "kernel yet)");
        else if (backend == ENG_BACKEND_CPU)
            rc = eng_cpu_create(&l->impl, &l->ops, c, tr, seed, err);
        else if (backend == ENG_BACKEND_CUDA && eng_cuda_create_hook)
            rc = eng_cuda_create_hook(&l->impl, &l->ops, &l->extra, c, tr, seed, err);
        else
            rc = sim_fail(err, SIM_EINPUT, "backend %s: not built into this moe-engine (available: cpu)",
                          eng_backend_name(backend));
    }
    /* every rank leaves together: one rank out of memory must not leave the rest waiting */
    int all = tr ? tr->ops->agree(tr, rc) : rc;
    if (all != SIM_OK && rc == SIM_OK)
        rc = sim_fail(err, all, "layer creation failed on another rank");
    if (rc != SIM_OK) {
        eng_layer_destroy(l);
        return rc;
    }
    *out = l;
    return SIM_OK;
}

void eng_layer_destroy(eng_layer *l)
{
    if (!l)
        return;
    if (l->ops && l->impl)
        l->ops->destroy(l->impl);
    eng_transport_destroy(l->own_tr);
    free(l);
}

const eng_config *eng_layer_config(const eng_layer *l)
{
    return &l->cfg;
}

const eng_backend_extra *eng_layer_extra(const eng_layer *l)
{
    return l->extra;
}

void *eng_layer_impl(const eng_layer *l)
{
    return l->impl;
}

const eng_weights *eng_layer_weights(const eng_layer *l)
{
    return l->ops->weights(l->impl);
}

int eng_forward(eng_layer *l, const float *x, int tokens, float *y, const eng_routing *force,
                eng_routing *routing_out, eng_timing *timing, sim_err *err)
{
    if (tokens < 0)
        return sim_fail(err, SIM_EINPUT, "tokens = %d: must be 0 or more", tokens);
    eng_timing scratch;
    return l->ops->forward(l->impl, x, tokens, y, force, routing_out, timing ? timing : &scratch, err);
}
