/* hw.h: a hardware model: one device's peaks, memory tiers, links, power and price, and the
 * efficiency curves the step model applies (spec-sheet priors, or fitted by calibration).
 * Files are hwmodels/NAME.json (schema: hwmodels/SCHEMA.md); calibration writes
 * hwmodels/calibrated/NAME.json in the same schema. */
#ifndef MOESIM_HW_H
#define MOESIM_HW_H

#include <stdbool.h>

#include "base/err.h"
#include "model/kernels.h"
#include "model/precision.h"

#define SIM_MAX_TIERS 4

typedef enum { SIM_HW_GPU, SIM_HW_CPU, SIM_HW_APPLE_GPU } sim_hw_class;

/* How a device runs a storage format (weights or KV cache), as its hwmodel's `formats` states:
 * NATIVE: its matrix units take the format (FP8 tensor cores on Hopper, FP4 on Blackwell);
 * WEIGHT_ONLY: a shipped kernel stores the format and widens it to a type the device computes in
 * (Marlin W4A16 on Ampere/Hopper, llama.cpp's GGUF types); UNSUPPORTED: no shipped kernel runs it,
 * so a deployment in it is refused unless emulated (sim_deploy.emulate). */
typedef enum { SIM_FMT_UNSUPPORTED = 0, SIM_FMT_NATIVE, SIM_FMT_WEIGHT_ONLY } sim_fmt_support;

/* A saturating efficiency curve: eta(x) = max * x / (x + half). half = 0 means flat.
 *
 * GEMM curves may carry a second kernel regime: many backends run GEMMs of at most
 * `small_rows` rows (tokens, or tokens per expert) through a different kernel than larger
 * ones (a streaming GEMV-style kernel that reads the weights once, against a tiled GEMM that
 * packs or widens them first: llama.cpp's MMVQ up to 8 rows, this project's CPU engine up to
 * 8). Such a kernel switch is a step that one saturating curve cannot follow, so rows <=
 * small_rows use (small_max, small_half). small_rows = 0: one kernel for every size. */
/* The inference program whose kernels a deployment runs (--runtime). LLAMACPP is mainline
 * llama.cpp, what a hwmodel's base curves describe on the devices people own; IK_LLAMACPP is
 * ikawrakow's fork, whose CPU matrix multiplications differ (ik_llama.cpp README, "Performance
 * comparison to llama.cpp"). */
typedef enum { SIM_RUNTIME_LLAMACPP, SIM_RUNTIME_IK_LLAMACPP, SIM_RUNTIME_COUNT } sim_runtime;
const char *sim_runtime_name(sim_runtime r);                 /* "llamacpp", "ik_llamacpp" */
int sim_runtime_parse(const char *s, sim_runtime *out);       /* 0, or -1 for an unknown name */

typedef struct sim_curve {
    double max;
    double half;
    double group_s;              /* GEMM curves: fixed time per FFN the kernel runs (each expert
                                    touched, a shared or dense FFN): task setup, the ramp of each
                                    weight stream, a widening copy's start. 0 = none */
    int small_rows;
    double small_max, small_half, small_group_s;
    int tile_rows;               /* grouped GEMM curves: the kernel computes each expert's rows in tiles
                                    of this many (a partial tile costs a whole one: Metal's
                                    kernel_mul_mm_id, 32); 0 = rows as they come */
    int tile_from_tokens;        /* ... when the op carries at least this many tokens (below it the
                                    runtime takes a mat-vec kernel without tiles: Metal's
                                    ne21_mm_id_min, 32); 0 = at every batch */
    bool measured;               /* a calibrated file measured this curve on its hardware; false:
                                    a prior (a shipped file, a type calibration did not measure,
                                    or a fallback filled from another type) */
} sim_curve;

static inline double sim_curve_saturating(double max, double half, double x)
{
    if (half <= 0)
        return max;
    if (x <= 0)
        return 0;
    return max * x / (x + half);
}

/* The fixed time per FFN in the regime of x rows. */
static inline double sim_curve_group_s(sim_curve c, double x)
{
    return c.small_rows > 0 && x <= c.small_rows ? c.small_group_s : c.group_s;
}

static inline double sim_curve_at(sim_curve c, double x)
{
    if (c.small_rows > 0 && x <= c.small_rows)
        return sim_curve_saturating(c.small_max, c.small_half, x);
    return sim_curve_saturating(c.max, c.half, x);
}

typedef struct sim_mem_tier {
    char name[48];
    double capacity_bytes;       /* per device */
    double bandwidth_Bps;        /* per device, read */
    bool spill_default;          /* weights may spill here without --offload */
    bool page_cache;             /* weights here are a memory-mapped file read through the OS page
                                    cache (llama.cpp's default mmap): what memory does not hold is
                                    faulted in on a miss, least recently used pages evicted; false: a
                                    static placement, read from here every time it is needed */
    double reported_bytes;       /* > 0: the total the device driver reports (cudaMemGetInfo), which
                                    serving engines take their memory fractions of; 0 = not given,
                                    capacity_bytes stands in */
} sim_mem_tier;

typedef struct sim_link {
    char name[48];
    int domain_size;             /* devices reachable over this link (scale-up); 0 = none */
    double bandwidth_Bps;        /* per device, one direction */
    double latency_s;            /* alpha per message / collective step */
} sim_link;

typedef struct sim_hw {
    char name[64];
    char display_name[128];
    char path[512];
    sim_hw_class cls;
    char backend[32];            /* fixed-cost class: cuda-graph, cuda-eager, cpu, apple-metal, rocm-graph */

    double peak_flops[SIM_DT_COUNT]; /* FLOP/s, 0 = not supported */
    int sms;                     /* compute.sms: streaming multiprocessors (CUs); 0 = not stated */
    int n_tiers;
    sim_mem_tier tiers[SIM_MAX_TIERS];   /* tier 0 is the device's own memory */
    sim_link scale_up;           /* NVLink, xGMI, PCIe between devices of one node or rack */
    sim_link scale_out;          /* NIC per device */
    int devices_per_node;

    /* `numa`: a multi-socket CPU (class cpu). Tier 0, compute.tflops and power are the whole
     * machine's (every socket's together); each socket holds 1/sockets of them, its own memory
     * channels, and reaches the others' memory over the cross-socket link (UPI, Infinity
     * Fabric). How a runtime places the weights over the sockets is a deployment choice
     * (sim_deploy.numa: interleaved, duplicated per socket, or one socket). sockets 1 = none. */
    struct {
        int sockets;
        char link_name[48];
        double link_Bps;         /* between two sockets, one direction, all their links together */
    } numa;

    double power_w;              /* per device, at load */
    double host_power_w;         /* per device share of host, switches, NICs */
    double usd_per_hour;         /* rent per device-hour */
    double purchase_usd;         /* per device, all-in share */
    double lifetime_years;
    char price_source[1024];      /* price.source: what usd_per_hour and purchase_usd are */

    /* `formats`: which storage formats run here and how. stated false = the file has no
     * `formats` object: nothing is checked (every shipped hwmodel states it; a unit test holds
     * that). */
    struct {
        bool stated;
        unsigned char support[SIM_WF_COUNT];   /* sim_fmt_support */
    } formats;

    struct {
        char provenance[32];     /* "prior" or "calibrated" */
        char source[512];
        char efficiency_from[64];/* hwmodel these efficiencies were transferred from, or "" */
        sim_curve gemm[SIM_DT_COUNT];          /* dense GEMM eta vs M (tokens) */
        sim_curve grouped_gemm[SIM_DT_COUNT];  /* expert GEMM eta vs tokens per expert */
        sim_curve memory;                  /* eta vs bytes moved by one kernel */
        sim_curve attn_decode_mem;         /* decode attention: eta vs batch*context tokens */
        double attn_decode_compute;        /* compute eta of decode attention (MLA is compute-heavy) */
        double attn_prefill_compute;       /* flash-attention prefill compute eta */
        double dequant_elems_per_s[SIM_WF_COUNT]; /* unpacking rate for packed formats; 0 = free */
        bool dequant_measured[SIM_WF_COUNT];      /* efficiency.dequant_measured: calibration measured
                                                     this format's rate on the hardware (false: a prior) */
        /* efficiency.gguf_matvec: the share of the INT8 peak that llama.cpp's mat-vec kernel for a
         * GGUF tensor type reaches at one row (decode at batch 1: unpack + dot product, weights
         * from cache), by type; 0 = no figure (the GEMM curve at one row stands in). It prices
         * each type's unpacking work (K-quant bit planes, i-quant grid lookups) that one INT8
         * curve cannot. */
        double matvec_share[SIM_WF_COUNT];
        char matvec_source[512];
        /* efficiency.gguf_gemm: the share of the INT8 peak that llama.cpp's batched matmul (a
         * prompt: many rows per weight) reaches on each GGUF tensor type, by type; 0 = no figure
         * (the GEMM curve stands in). On a CPU the kernel is per type (ggml_vec_dot_<type>_q8_K
         * over 16 x 16 blocks, or tinyBLAS for a few types), so one INT8 curve cannot follow it.
         * gemm_dense_only[f]: the figure is of a kernel only dense MUL_MAT runs (tinyBLAS,
         * llamafile_sgemm); MUL_MAT_ID, the routed experts' op, never calls it, so the experts
         * have no figure for f. */
        double gemm_share[SIM_WF_COUNT];
        bool gemm_dense_only[SIM_WF_COUNT];
        char gemm_source[512];
        double kernel_overhead_s;          /* fixed cost per kernel launch / op dispatch */
        double step_overhead_s;            /* fixed cost per engine step (scheduler, sampling) */
        double link_scale_up, link_scale_out; /* achieved share of link bandwidth */
        /* efficiency.runtimes: GEMM curves of a runtime whose kernels differ from those the
         * curves above were derived with (a CPU file's base curves are mainline llama.cpp's;
         * ik_llama.cpp's repacked CPU GEMMs run 2-3x faster). A data type the runtime does not
         * list keeps the base curve. */
        struct {
            bool set;
            char source[512];
            bool have[SIM_DT_COUNT];
            sim_curve gemm[SIM_DT_COUNT], grouped_gemm[SIM_DT_COUNT];
            double matvec_share[SIM_WF_COUNT];  /* this runtime's gguf_matvec; 0 = the base figure */
            char matvec_source[512];
            double gemm_share[SIM_WF_COUNT];    /* this runtime's gguf_gemm: the base figures are of */
            bool gemm_dense_only[SIM_WF_COUNT]; /* mainline's kernels, so a runtime with its own */
            char gemm_source[512];              /* curves reads only these (none: no figure) */
        } runtime[SIM_RUNTIME_COUNT];
    } eff;
    /* Published kernel measurements for this device (hwmodels/kernels/NAME.json beside a prior
     * hwmodel; path "" = none). The step model uses a row where it covers a shape, the curves
     * above elsewhere. A calibrated hwmodel measured this machine, so it takes no published table. */
    sim_kernel_table kernels;
} sim_hw;

/* Loads the hwmodel that a file's `efficiency.efficiency_from` names ("NAME", "calibrated/NAME"
 * or a path): the registry provides it (sim_registry_hw), so this module does not depend on
 * where hwmodels live. */
typedef struct sim_hw_resolver {
    int (*load)(void *ctx, const char *name_or_path, sim_hw *out, sim_err *err);
    void *ctx;
} sim_hw_resolver;

/* Load and check a hwmodel file. A file that takes its efficiencies from another hwmodel
 * (efficiency_from alone) loads it through `resolver`; with a NULL resolver such a file is
 * an error (load it with sim_registry_hw). */
int sim_hw_load_with(sim_hw *hw, const char *file, const sim_hw_resolver *resolver, sim_err *err);
int sim_hw_load(sim_hw *hw, const char *file, sim_err *err); /* no resolver */

/* Peak FLOP/s for the first type in `chain` (a -1 terminated list) this device supports;
 * *used gets that type. Returns 0 if none is supported. */
double sim_hw_peak_for(const sim_hw *hw, const int *chain, sim_dtype *used);

const char *sim_hw_class_name(sim_hw_class c);

/* The GEMM curve (grouped: expert GEMMs) of type t when runtime r runs on this device: the
 * runtime's own curve where the file gives one (efficiency.runtimes), else the base curve. */
sim_curve sim_hw_gemm_curve(const sim_hw *hw, sim_runtime r, sim_dtype t, bool grouped);

/* The share of the INT8 peak runtime r's one-row mat-vec reaches on GGUF tensor type f here
 * (efficiency.gguf_matvec; the runtime's own where it gives one, else the base figure); 0 = no
 * figure. *source gets the `source` the figure comes from (NULL allowed). */
double sim_hw_matvec_share(const sim_hw *hw, sim_runtime r, sim_wformat f, const char **source);

/* The share of the INT8 peak runtime r's batched matmul (more rows than one, a prompt) reaches
 * on GGUF tensor type f here (efficiency.gguf_gemm); grouped: for the routed experts' op
 * (MUL_MAT_ID), which has no figure for a type whose figure is dense-only. A runtime with its
 * own curves (efficiency.runtimes) reads only its own table, since the base figures are of
 * mainline's kernels. 0 = no figure. *source gets the figure's `source` (NULL allowed). */
double sim_hw_gemm_share(const sim_hw *hw, sim_runtime r, sim_wformat f, bool grouped, const char **source);

/* Elements per second at which this device unpacks weights in format f before computing on
 * them in type dt (efficiency.dequant_gelem_s); 0 when that costs nothing here: f is not
 * packed, its rate is 0 (fused), or f is a GGUF type computed in INT8, whose blocks llama.cpp's
 * integer kernels unpack inside the dot product (CPU ggml_vec_dot_<type>_q8_K, CUDA MMVQ/MMQ),
 * so the INT8 efficiency a hwmodel measures with llama.cpp already holds it. */
static inline double sim_hw_dequant_rate(const sim_hw *hw, sim_dtype dt, sim_wformat f)
{
    if (!sim_wformat_is_packed(f) || (dt == SIM_DT_INT8 && sim_wformat_is_gguf(f)))
        return 0;
    return hw->eff.dequant_elems_per_s[f];
}

/* How this device runs format f (always SIM_FMT_NATIVE when the file states no formats). */
sim_fmt_support sim_hw_format_support(const sim_hw *hw, sim_wformat f);
const char *sim_fmt_support_name(sim_fmt_support s);   /* "native", "weight-only", "unsupported" */
/* The formats this device runs with support s, space-separated, GGUF types as one "gguf" entry. */
void sim_hw_format_list(const sim_hw *hw, sim_fmt_support s, char *out, int cap);

/* Peak FLOP/s at which this device computes on weights in format f, *used the type: the first
 * type of f's compute chain it has; where f is weight-only here (a W4A16/W8A16 kernel widens
 * it: Marlin, Triton MXFP4), the first 16-bit-or-wider type, since the kernel's activations
 * stay 16-bit. GGUF types keep their chain (llama.cpp's integer dot products). */
double sim_hw_format_peak(const sim_hw *hw, sim_wformat f, sim_dtype *used);

#endif
