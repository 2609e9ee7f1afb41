/* cal_points.h: the measurements calibration works from, read out of `moe-engine bench` JSON
 * files (engine/bench.c writes them): MoE layer times, single GEMMs, triad bandwidth and
 * all-to-all times, each with the file it came from; and which points the fit holds out. */
#ifndef MOESIM_CAL_POINTS_H
#define MOESIM_CAL_POINTS_H

#include <stdbool.h>

#include "base/err.h"
#include "model/precision.h"

typedef enum { CAL_LAYER, CAL_GEMM, CAL_TRIAD, CAL_ALLTOALL } cal_kind;

typedef struct cal_point {
    cal_kind kind;
    char shape[64];          /* layer: model card name, else "h2048-f768-e128-k8-s0"; gemm: "gemm NxK" */
    int file;                /* index into cal_set.files */
    int index;               /* position in that file's results[] */
    sim_wformat fmt;         /* weight storage of a layer (fp32, bf16, int8, int4_g32); fp32 for a GEMM */
    int hidden, ffn, experts, top_k, shared, shared_ffn, ep;
    int m, n, k;             /* single GEMM: C[m][n] = A[m][k] B[n][k]^T */
    double tokens;           /* layer: tokens per rank; GEMM: m; all-to-all: tokens per rank */
    double bytes;            /* triad: bytes counted by the engine; all-to-all: bytes leaving a rank */
    double measured_s;       /* the fastest run over repetitions and rounds: other work on the machine
                                only ever adds time, so the minimum is the estimate of the layer's own
                                (STREAM reports its best run for the same reason) */
    double median_s, p10_s, p90_s;   /* of the round that gave measured_s */
    int rounds;              /* bench files that measured this point (cal_set_merge_rounds) */
    double touched;          /* layer: distinct experts the engine's router touched */
    bool held_out;           /* layer: compared with the prediction, not fitted */
    bool fitted;             /* a residual of the fit */
    bool outlier;            /* was to be fitted, but lay too far off the first fit (cal_fit.h) */
    double predicted_s;      /* filled by the fit */
} cal_point;

/* Provenance of one bench file. */
typedef struct cal_file {
    char path[512];
    char backend[16];        /* cpu | cuda */
    char dtype[16];
    char device[256];        /* "AMD EPYC, 2 cores, 2 threads, 1 rank(s)" */
    char cpu[128];
    char gpu[128];           /* device.gpu, when a GPU backend wrote the file */
    char cpu_kernels[16];    /* device.cpu_kernels: the CPU kernel level that ran ("x86-64-v4" ...; "" if not
                                recorded), which MOESIM_GENERIC / MOESIM_CPU_KERNELS may narrow */
    char cpu_prefetch[8];    /* device.cpu_prefetch: where the decode tiles prefetched ("l1", "l2"; "" if not
                                recorded), which moves CPU decode by up to a quarter (engine/README.md) */
    int cores, threads, ranks;
    double load_avg;         /* device.load_avg when the engine recorded it, else -1 */
    char date[32];
    char command[1024];
    char version[64];        /* moesim_version the engine recorded (git describe) */
    int switch_rows;         /* kernel_switch.rows: the backend changes GEMM kernels above this many
                                rows (0: the file does not say) */
    char switch_per[16];     /* kernel_switch.per: "expert" (each expert chooses) or "layer" */
} cal_file;

#define CAL_MAX_FILES 16

typedef struct cal_set {
    cal_point *p;
    int n, cap;
    cal_file files[CAL_MAX_FILES];
    int nfiles;
} cal_set;

void cal_set_free(cal_set *s);

/* Append the measurements of one bench JSON file. Every field used is checked; a missing,
 * mistyped or out-of-range one fails with SIM_EINPUT and a message naming the file and the
 * field ("b.json: field 'results[3].total.median_s' is missing (expected a number)"). Results
 * of kinds this reader does not know are skipped, so a newer engine's files still load. */
int cal_set_load(cal_set *s, const char *file, sim_err *err);

/* Load a comma-separated list of files; then fail unless there is at least one MoE layer.
 * On failure the set is left empty. */
int cal_set_load_list(cal_set *s, const char *list, sim_err *err);

/* Points measured in several bench files (the plan measures every layer shape in two rounds,
 * in opposite order, so that a slow spell of the machine does not fall on one shape only)
 * become one point: the faster measurement, with `rounds` counting them. File order of first
 * appearance is kept. Called by cal_set_load_list. */
void cal_set_merge_rounds(cal_set *s);

/* The kernel switch the layers were measured under, in rows per expert: the files' common
 * kernel_switch.rows when each expert chooses its kernel (the CPU engine), else 0 (no file
 * says, or the backend chooses for the whole layer, which the step model does not split). */
int cal_set_kernel_switch(const cal_set *s);

/* Mark the points the fit leaves out: of each layer shape (and weight format), every third
 * token count in increasing order (the 3rd, 6th, ...); and, when there are two shapes or more,
 * every point of the last shape in file order. Every other layer and GEMM point is fitted. */
void cal_set_hold_out(cal_set *s);

/* The measured triad bandwidth, bytes/s (the best of the triad points), or 0 if none. */
double cal_set_triad_Bps(const cal_set *s);

#endif
