/* cal_detect.h: what hardware calibration runs on: the CPU (model, cores, clock, vector
 * instructions and from them the peak FLOP/s, with the arithmetic spelled out), memory, and
 * an NVIDIA GPU through nvidia-smi; the shipped hwmodel closest to it; a default file name. */
#ifndef MOESIM_CAL_DETECT_H
#define MOESIM_CAL_DETECT_H

#include <stdbool.h>
#include <stddef.h>

#include "base/err.h"
#include "model/precision.h"

typedef struct cal_host {
    char cpu[128];              /* "AMD EPYC" */
    char arch[32];              /* uname -m */
    char vendor[32];
    int family;                 /* x86 CPU family (AMD: 25 = Zen 3/4, 26 = Zen 5) */
    int model_id;               /* x86 CPU model number within the family (0 = unknown); tells
                                   generations apart where a VM hides the model name */
    int cores;                  /* online logical CPUs */
    double ghz;
    char ghz_from[96];          /* where the clock came from */
    char flags[1024];           /* the vector-relevant flags found, space separated */
    int fp32_lanes, fma_pipes;  /* per core: FP32 lanes of one FMA, FMA pipes */
    bool has_bf16_dot, has_int8_dot;
    double mem_bytes;           /* MemTotal */
    /* NVIDIA GPU (cal_detect_gpu) */
    char gpu[128], driver[64];
    double gpu_mem_bytes;
    int gpu_count;
} cal_host;

/* Read /proc/cpuinfo, /proc/meminfo, /sys and uname. Never fails: what cannot be read is
 * "unknown" or 0, and the peak source says so. */
void cal_detect_host(cal_host *h);

/* Peak FLOP/s per data type (0 = no such instruction) and the arithmetic behind them. */
void cal_cpu_peaks(const cal_host *h, double peak[SIM_DT_COUNT], char *source, size_t cap);

/* Ask nvidia-smi for the first GPU. Fails (SIM_EFAIL) naming why when there is none. */
int cal_detect_gpu(cal_host *h, sim_err *err);

/* The shipped hwmodel closest to this host: for a CPU, the cpu-class model of the same
 * instruction set (x86 / Arm) with the nearest FP32 peak; for a GPU, the gpu-class model
 * whose display name shares most words with the GPU's name. `why` says how it was chosen. */
int cal_pick_base(const cal_host *h, bool gpu, char *name, size_t cap, char *why, size_t wcap, sim_err *err);

/* A file name for this hardware: "amd-epyc-f25m17-2c-24gb" (CPU model string, family and
 * model numbers where known, logical CPUs, memory), or the GPU's name; two machines that
 * differ in any of these get different names. */
void cal_default_name(const cal_host *h, bool gpu, char *out, size_t cap);

/* The identity a calibrated file records and is compared against before it is replaced:
 * "AMD EPYC; family 25 model 17; 2 logical CPUs; 24 GB" (or the GPU and its memory). */
void cal_host_identity(const cal_host *h, bool gpu, char *out, size_t cap);

#endif
