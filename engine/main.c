/* main.c: the moe-engine command. Starts MPI only when launched by mpirun (so a plain run
 * needs no MPI runtime), runs `bench` or `check`, and turns every failure into a message
 * and an exit status: 2 for bad input, 1 for anything else. */
#include "backend.h"
#include "cli.h"
#include "cuda/transport_host.h"
#include "kernels_cpu.h"
#ifdef MOESIM_CUDA
#include "cuda/cuda_api.h"
#endif

#include <mpi.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char usage[] =
    "usage: moe-engine bench --backend cpu (--model NAME | --hidden H --ffn F --experts E --top-k K\n"
    "                        [--shared S] [--shared-ffn F] [--scoring softmax|sigmoid])\n"
    "                        --dtype fp32|bf16|int8|int4_g32 --tokens 1,2,4,... [--reps N] [--warmup N]\n"
    "                        [--seed S] [--json FILE] [--no-primitives]\n"
    "       moe-engine check [--backend cpu|cuda] [--cases N] [--seed S]\n"
    "       moe-engine backends\n"
    "Global options: --transport mpi|host|nccl (how ranks exchange rows under mpirun; default\n"
    "mpi, nccl with --backend cuda), --fp8 (CUDA: FP8 E4M3 expert weights; bench: --dtype fp8).\n"
    "Run under mpirun for expert parallelism (each rank holds E/ranks experts).\n"
    "See engine/README.md.\n";

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
    char isa_msg[160];
    if (eng_k_isa_check(isa_msg, sizeof isa_msg) != 0) {
        fprintf(stderr, "moe-engine: %s\n", isa_msg);
        return 2;
    }
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
