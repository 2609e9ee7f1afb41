/* cli.c: what the moe-engine subcommands share (engine/cli.h): printing on rank 0 and the
 * option parsing of layer shapes. Kept apart from main.c so the subcommands (bench.c,
 * cmd_check.c) do not call back into the file that dispatches to them. */
#include "backend.h"
#include "cli.h"

#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void eng_say(const eng_ctx *cx, const char *fmt, ...)
{
    if (cx->rank != 0)
        return;
    va_list ap;
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
}

int eng_opt_int(const char *name, const char *val, long lo, long hi, long *out, sim_err *err)
{
    if (!val)
        return sim_fail(err, SIM_EINPUT, "%s: missing value", name);
    char *end;
    errno = 0;
    long v = strtol(val, &end, 10);
    if (errno || end == val || *end || v < lo || v > hi)
        return sim_fail(err, SIM_EINPUT, "%s %s: expected an integer from %ld to %ld", name, val, lo, hi);
    *out = v;
    return SIM_OK;
}

void eng_layer_opts_init(eng_layer_opts *o)
{
    memset(o, 0, sizeof *o);
    o->hidden = o->ffn = o->experts = o->top_k = -1;
    o->shared_ffn = -1;
    o->scoring = ENG_SOFTMAX;
    o->dtype = ENG_FP32;
    o->backend = ENG_BACKEND_CPU;
}

int eng_layer_opt(eng_layer_opts *o, int argc, char **argv, int *i, sim_err *err)
{
    const char *a = argv[*i], *v = *i + 1 < argc ? argv[*i + 1] : NULL;
    struct { const char *name; long *dst; long lo; } ints[] = {
        { "--hidden", &o->hidden, 0 }, { "--ffn", &o->ffn, 0 }, { "--experts", &o->experts, 0 },
        { "--top-k", &o->top_k, 0 }, { "--shared", &o->shared, 0 }, { "--shared-ffn", &o->shared_ffn, 0 },
    };
    for (size_t j = 0; j < sizeof ints / sizeof ints[0]; j++)
        if (strcmp(a, ints[j].name) == 0) {
            (*i)++;
            int rc = eng_opt_int(a, v, ints[j].lo, INT_MAX / 2, ints[j].dst, err);
            return rc ? -rc : 1;
        }
    if (!strcmp(a, "--model") || !strcmp(a, "--dtype") || !strcmp(a, "--backend") || !strcmp(a, "--scoring")) {
        (*i)++;
        if (!v)
            return -sim_fail(err, SIM_EINPUT, "%s: missing value", a);
        if (!strcmp(a, "--model"))
            o->model = v;
        else if (!strcmp(a, "--dtype") && !strcmp(v, "fp8")) {
            /* FP8 is a storage the CUDA backend quantizes to from the weights drawn in BF16 */
            o->dtype = ENG_BF16;
            o->dtype_set = 1;
            eng_fp8_weights = 1;
        } else if (!strcmp(a, "--dtype")) {
            if (eng_dtype_parse(v, &o->dtype) != 0)
                return -sim_fail(err, SIM_EINPUT, "--dtype %s: expected fp32, bf16, int8, int4_g32 (or fp8 with --backend cuda)", v);
            o->dtype_set = 1;
        } else if (!strcmp(a, "--backend")) {
            if (eng_backend_parse(v, &o->backend) != 0)
                return -sim_fail(err, SIM_EINPUT, "--backend %s: expected cpu (or cuda where built)", v);
        } else if (!strcmp(v, "softmax") || !strcmp(v, "sigmoid")) {
            o->scoring = !strcmp(v, "sigmoid") ? ENG_SIGMOID : ENG_SOFTMAX;
        } else {
            return -sim_fail(err, SIM_EINPUT, "--scoring %s: expected softmax or sigmoid", v);
        }
        return 1;
    }
    return 0;
}

int eng_layer_opts_config(const eng_layer_opts *o, eng_config *c, sim_err *err)
{
    if (o->model) {
        if (o->hidden >= 0 || o->ffn >= 0 || o->experts >= 0 || o->top_k >= 0)
            return sim_fail(err, SIM_EINPUT, "--model %s: give either a model or --hidden/--ffn/--experts/--top-k, not both",
                            o->model);
        return eng_config_from_model(c, o->model, o->dtype, err);
    }
    const char *miss = o->hidden < 0 ? "--hidden" : o->ffn < 0 ? "--ffn" : o->experts < 0 ? "--experts"
                       : o->top_k < 0 ? "--top-k" : NULL;
    if (miss)
        return sim_fail(err, SIM_EINPUT, "%s: missing (or give --model NAME)", miss);
    *c = (eng_config){ (int)o->hidden, (int)o->ffn, (int)o->experts, (int)o->top_k, (int)o->shared,
                       (int)(o->shared_ffn >= 0 ? o->shared_ffn : o->shared > 0 ? o->ffn : 0),
                       o->scoring, o->dtype };
    return SIM_OK;
}

int eng_same_args(const eng_ctx *cx, sim_err *err)
{
    if (cx->size <= 1)
        return SIM_OK;
    uint64_t h = 14695981039346656037ULL; /* FNV-1a over the arguments and their boundaries */
    for (int i = 0; i < cx->argc; i++)
        for (const unsigned char *p = (const unsigned char *)cx->argv[i];; p++) {
            h = (h ^ *p) * 1099511628211ULL;
            if (!*p)
                break;
        }
    double mine = (double)(h >> 12); /* 52 bits: exact in a double */
    double v[2] = { mine, -mine };
    int rc = cx->tr->ops->max(cx->tr, v, 2, err);
    if (rc != SIM_OK)
        return rc;
    if (v[0] != mine || -v[1] != mine)
        return sim_fail(err, SIM_EINPUT, "rank %d: the ranks were started with different arguments; every rank "
                        "must run the same moe-engine command (same --tokens, sizes and options)", cx->rank);
    return SIM_OK;
}
