/* main.c: the moe-engine command. Starts MPI only when launched by mpirun (so a plain run
 * needs no MPI runtime), runs `bench` or `check`, and turns every failure into a message
 * and an exit status: 2 for bad input, 1 for anything else. */
#include "backend.h"
#include "cli.h"
#include "cuda/transport_host.h"
#ifdef MOESIM_CUDA
#include "cuda/cuda_api.h"
#endif

#include <errno.h>
#include <limits.h>
#include <mpi.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char usage[] =
    "usage: moe-engine bench --backend cpu (--model NAME | --hidden H --ffn F --experts E --top-k K\n"
    "                        [--shared S] [--shared-ffn F] [--scoring softmax|sigmoid])\n"
    "                        --dtype fp32|bf16|int8 --tokens 1,2,4,... [--reps N] [--warmup N]\n"
    "                        [--seed S] [--json FILE] [--no-primitives]\n"
    "       moe-engine check [--backend cpu|cuda] [--cases N] [--seed S]\n"
    "       moe-engine backends\n"
    "Global options: --transport mpi|host|nccl (how ranks exchange rows under mpirun; default\n"
    "mpi, nccl with --backend cuda), --fp8 (CUDA: FP8 E4M3 expert weights; bench: --dtype fp8).\n"
    "Run under mpirun for expert parallelism (each rank holds E/ranks experts).\n"
    "See engine/README.md.\n";

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
                return -sim_fail(err, SIM_EINPUT, "--dtype %s: expected fp32, bf16, int8 (or fp8 with --backend cuda)", v);
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

/* `moe-engine backends`: what this binary was built with and what hardware it sees. */
static int cmd_backends(void)
{
    printf("cpu: built (OpenMP, OpenBLAS)\n");
#ifdef MOESIM_CUDA
    char line[2048];
    eng_cuda_describe(line, sizeof line);
    printf("cuda: %s\n", line);
#else
    printf("cuda: not built (no nvcc when this moe-engine was built)\n");
#endif
    printf("transports: local mpi host%s\n",
#ifdef MOESIM_NCCL
           " nccl"
#else
           ""
#endif
    );
    return SIM_OK;
}

/* Global options, taken out of argv before the subcommand parses the rest: --transport NAME
 * and --fp8. With no --transport, --backend cuda under mpirun gets NCCL. */
static int global_opts(int *argc, char **argv, const char **transport, sim_err *err)
{
    int j = 1, cuda = 0;
    for (int i = 1; i < *argc; i++) {
        if (!strcmp(argv[i], "--transport")) {
            if (i + 1 >= *argc)
                return sim_fail(err, SIM_EINPUT, "--transport: missing value (mpi, host or nccl)");
            *transport = argv[++i];
            if (strcmp(*transport, "mpi") && strcmp(*transport, "host") && strcmp(*transport, "nccl"))
                return sim_fail(err, SIM_EINPUT, "--transport %s: expected mpi, host or nccl", *transport);
            continue;
        }
        if (!strcmp(argv[i], "--fp8")) {
            eng_fp8_weights = 1;
            continue;
        }
        if (!strcmp(argv[i], "--backend") && i + 1 < *argc && !strcmp(argv[i + 1], "cuda"))
            cuda = 1;
        argv[j++] = argv[i];
    }
    *argc = j;
    argv[j] = NULL;
    if (!*transport)
        *transport = cuda ? "nccl" : "mpi";
    return SIM_OK;
}

static int make_transport(const char *name, eng_transport **out, sim_err *err)
{
    if (!strcmp(name, "host"))
        return eng_transport_host(out, err);
    if (!strcmp(name, "nccl")) {
#ifdef MOESIM_NCCL
        return eng_transport_nccl(out, err);
#else
        return sim_fail(err, SIM_EINPUT, "--transport nccl: this moe-engine was built without CUDA/NCCL");
#endif
    }
    return eng_transport_mpi(out, err);
}

/* Launched by mpirun (OpenMPI or a PMI-based launcher)? Then MPI, else one rank without it. */
static int under_mpirun(void)
{
    return getenv("OMPI_COMM_WORLD_SIZE") || getenv("PMI_SIZE") || getenv("PMIX_RANK");
}

int main(int argc, char **argv)
{
    if (argc < 2 || !strcmp(argv[1], "--help") || !strcmp(argv[1], "-h")) {
        fputs(usage, argc < 2 ? stderr : stdout);
        return argc < 2 ? 2 : 0;
    }
    sim_err err = { 0, "" };
#ifdef MOESIM_CUDA
    eng_cuda_register();
#endif
    if (!strcmp(argv[1], "backends"))
        return cmd_backends();
    const char *transport = NULL;
    int rc = global_opts(&argc, argv, &transport, &err);
    if (rc != SIM_OK) {
        fprintf(stderr, "moe-engine: %s\n", err.msg);
        return 2;
    }
    eng_ctx cx = { NULL, 0, 1, argc, argv };
    int mpi = under_mpirun();
    if (mpi) {
        if ((rc = MPI_Init(&argc, &argv)) != MPI_SUCCESS) {
            fprintf(stderr, "moe-engine: MPI_Init failed (MPI error %d)\n", rc);
            return 1;
        }
        rc = make_transport(transport, &cx.tr, &err);
    } else {
        rc = eng_transport_local(&cx.tr, &err);
    }
    if (rc == SIM_OK) {
        cx.rank = cx.tr->rank;
        cx.size = cx.tr->size;
        if (!strcmp(argv[1], "bench"))
            rc = eng_cmd_bench(&cx, &err);
        else if (!strcmp(argv[1], "check"))
            rc = eng_cmd_check(&cx, &err);
        else
            rc = sim_fail(&err, SIM_EINPUT, "unknown command '%s' (expected bench or check)\n%s", argv[1], usage);
    }
    if (rc != SIM_OK) {
        /* Bad input fails alike on every rank: rank 0 says it once. Other failures are said by
         * the rank they happened on; the rest only learned of them through the agreement. */
        if (rc == SIM_EINPUT ? cx.rank == 0 : !strstr(err.msg, "on another rank")) {
            char who[32] = "";
            if (rc != SIM_EINPUT && cx.size > 1)
                snprintf(who, sizeof who, "rank %d: ", cx.rank);
            fprintf(stderr, "moe-engine: %s%s\n", who, err.msg);
        }
    }
    int broken = cx.tr && cx.tr->broken;
    eng_transport_destroy(cx.tr);
    /* after a failed MPI call the ranks may no longer be in step: abort the job (exit status
     * 1) rather than wait in MPI_Finalize for ranks that will not come */
    if (mpi && broken)
        MPI_Abort(MPI_COMM_WORLD, 1);
    if (mpi)
        MPI_Finalize();
    return rc == SIM_OK ? 0 : rc == SIM_EINPUT ? 2 : 1;
}
