/* config.c: names, validation and model-card loading for eng_config. */
#include "engine.h"
#include "weights.h"
#include "model/registry.h"

#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static const char *const dtype_names[ENG_DTYPE_COUNT] = { "fp32", "bf16", "int8", "int4_g32" };
const char *const eng_stage_names[ENG_STAGES] = {
    "router", "permute", "dispatch", "experts", "shared", "combine",
};

const char *eng_dtype_name(eng_dtype d)
{
    return d >= 0 && d < ENG_DTYPE_COUNT ? dtype_names[d] : "?";
}

int eng_dtype_parse(const char *name, eng_dtype *out)
{
    for (int i = 0; i < ENG_DTYPE_COUNT; i++)
        if (strcmp(name, dtype_names[i]) == 0) {
            *out = (eng_dtype)i;
            return 0;
        }
    return -1;
}

const char *eng_backend_name(eng_backend b)
{
    return b == ENG_BACKEND_CPU ? "cpu" : b == ENG_BACKEND_CUDA ? "cuda" : "?";
}

int eng_backend_parse(const char *name, eng_backend *out)
{
    if (strcmp(name, "cpu") == 0)
        *out = ENG_BACKEND_CPU;
    else if (strcmp(name, "cuda") == 0)
        *out = ENG_BACKEND_CUDA;
    else
        return -1;
    return 0;
}

double eng_timing_stage(const eng_timing *t, int stage)
{
    const double v[ENG_STAGES] = { t->router, t->permute, t->dispatch, t->experts, t->shared, t->combine };
    return stage >= 0 && stage < ENG_STAGES ? v[stage] : 0.0;
}

/* Bytes a rank holds, or 0 when the sum would overflow. */
static double rank_bytes(const eng_config *c, int ep)
{
    double s = (double)c->shared * (double)c->shared_ffn;
    double per = eng_dtype_weight_bytes(c->dtype);
    return (double)(c->experts / ep) * 3.0 * c->hidden * (double)c->ffn * per
           + 3.0 * c->hidden * s * per + (double)c->experts * c->hidden * 4.0;
}

int eng_config_check(const eng_config *c, int ep, sim_err *err)
{
    struct { const char *name; int v; } pos[] = {
        { "hidden", c->hidden }, { "ffn", c->ffn }, { "experts", c->experts }, { "top_k", c->top_k },
    };
    for (size_t i = 0; i < sizeof pos / sizeof pos[0]; i++)
        if (pos[i].v <= 0)
            return sim_fail(err, SIM_EINPUT, "%s = %d: must be at least 1", pos[i].name, pos[i].v);
    if (c->shared < 0)
        return sim_fail(err, SIM_EINPUT, "shared = %d: must be 0 or more", c->shared);
    if (c->shared > 0 && c->shared_ffn <= 0)
        return sim_fail(err, SIM_EINPUT, "shared_ffn = %d: must be at least 1 when shared = %d",
                        c->shared_ffn, c->shared);
    if (c->top_k > c->experts)
        return sim_fail(err, SIM_EINPUT, "top_k = %d exceeds experts = %d: a token picks k distinct experts",
                        c->top_k, c->experts);
    if (c->dtype < 0 || c->dtype >= ENG_DTYPE_COUNT)
        return sim_fail(err, SIM_EINPUT, "dtype %d: not one of fp32, bf16, int8, int4_g32", (int)c->dtype);
    if (c->scoring != ENG_SOFTMAX && c->scoring != ENG_SIGMOID)
        return sim_fail(err, SIM_EINPUT, "scoring %d: not softmax or sigmoid", (int)c->scoring);
    if (ep <= 0)
        return sim_fail(err, SIM_EINPUT, "ep = %d: must be at least 1", ep);
    if (c->experts % ep != 0)
        return sim_fail(err, SIM_EINPUT, "ep = %d does not divide experts = %d: each rank holds E/ep experts",
                        ep, c->experts);
    /* Indices are ints inside a matrix: the largest matrix must stay below INT_MAX rows and
     * its element count within size_t (and within what a machine could hold at all). */
    double s = (double)c->shared * (double)c->shared_ffn;
    if (2.0 * c->ffn > INT_MAX || 2.0 * s > INT_MAX)
        return sim_fail(err, SIM_EINPUT, "ffn = %d, shared x shared_ffn = %.0f: too large", c->ffn, s);
    /* Every rank on this machine holds its share, and activations, the OS and the other
     * programs need the rest: the weights may take at most 3/4 of the memory. Reaching the
     * whole of it would end in the kernel's out-of-memory killer, not in a message. */
    double need = rank_bytes(c, ep);
    long pages = sysconf(_SC_PHYS_PAGES), psize = sysconf(_SC_PAGESIZE);
    double have = pages > 0 && psize > 0 ? (double)pages * (double)psize : 1e18;
    const char *local_env = getenv("OMPI_COMM_WORLD_LOCAL_SIZE");
    int local = local_env && atoi(local_env) > 0 ? atoi(local_env) : 1;
    if (need * local > 0.75 * have)
        return sim_fail(err, SIM_EINPUT, "weights need %.1f GiB per rank x %d rank(s) here (hidden %d, ffn %d, %d "
                        "experts over %d ranks, %s), above 3/4 of this machine's %.1f GiB", need / 1073741824.0,
                        local, c->hidden, c->ffn, c->experts, ep, eng_dtype_name(c->dtype), have / 1073741824.0);
    return SIM_OK;
}

int eng_config_from_model(eng_config *c, const char *name, eng_dtype dtype, sim_err *err)
{
    sim_model m;
    if (sim_registry_model(name, &m, err) != SIM_OK)
        return err && err->code ? err->code : SIM_EINPUT;
    if (!sim_model_is_moe(&m) || m.ffn.experts <= 0)
        return sim_fail(err, SIM_EINPUT, "model %s is dense (no routed experts): the engine runs an MoE layer",
                        m.name[0] ? m.name : name);
    memset(c, 0, sizeof *c);
    c->hidden = m.hidden;
    c->ffn = m.ffn.expert_intermediate;
    c->experts = m.ffn.experts;
    c->top_k = m.ffn.top_k;
    c->shared = m.ffn.shared_experts;
    c->shared_ffn = m.ffn.shared_experts > 0 ? m.ffn.shared_intermediate : 0;
    c->scoring = m.ffn.scoring == SIM_SCORE_SIGMOID ? ENG_SIGMOID : ENG_SOFTMAX;
    c->dtype = dtype;
    return SIM_OK;
}
