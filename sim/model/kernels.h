/* kernels.h: a device's kernel table: what a GEMM, a grouped expert GEMM, an attention kernel
 * or a collective achieved at a stated shape, as a library or paper published it
 * (hwmodels/kernels/DEVICE.json, schema hwmodels/kernels/SCHEMA.md), and the lookup the step
 * model uses in place of its prior curves where a row covers the shape.
 *
 * Every row becomes one number, its share of the roofline: for a kernel that did F FLOPs and
 * moved B bytes in t seconds on a device of peak P and bandwidth W,
 *     share = max(F/t / P, B/t / W) = max(F/P, B/W) / t,
 * so a step model that costs the same shape as max(F/P, B/W) / share gives back t exactly,
 * whether the kernel was compute- or memory-bound. Between measured points of one weight
 * shape the share is interpolated linearly in log rows (monotone between points, exact at
 * them). For collectives the share is of the link's bandwidth, in the bytes the row counts
 * (sim_kernel_count: the link's own, or DeepEP's over the NIC, which may exceed 1). */
#ifndef MOESIM_KERNELS_H
#define MOESIM_KERNELS_H

#include <stdbool.h>

#include "base/err.h"
#include "model/precision.h"

#define SIM_KT_MAX_ROWS 256
#define SIM_KT_MAX_SOURCES 48

typedef enum {
    SIM_KOP_GEMM, SIM_KOP_GROUPED_GEMM, SIM_KOP_ATTN_DECODE, SIM_KOP_ATTN_PREFILL, SIM_KOP_ALL_TO_ALL,
    SIM_KOP_ALL_REDUCE, SIM_KOP_COUNT
} sim_kernel_op;

typedef enum { SIM_KATTN_MHA, SIM_KATTN_GQA, SIM_KATTN_MLA } sim_kernel_attn;
typedef enum { SIM_KLINK_NVLINK, SIM_KLINK_RDMA, SIM_KLINK_XGMI, SIM_KLINK_PCIE } sim_kernel_link;

/* Which bytes an all_to_all row's bandwidth counts, and so which bytes the step model must
 * divide by it to get the measured time back (SCHEMA.md, `byte_count`):
 *   LINK: the bytes that cross the link (the step model's own count for its transport);
 *   DEEPEP_NODES: DeepEP's normal internode kernels (tests/test_internode.py): a token once
 *     per node its experts live on, its own node included, payload FP8 hidden x (1 + 4/128)
 *     (the per-128 scales) or BF16 hidden x 2;
 *   DEEPEP_SELECTIONS: DeepEP's low-latency kernels (tests/test_low_latency.py): a token once
 *     per selected expert, local ones included, payload FP8 hidden + hidden/128 x 4 + 16 or
 *     BF16 hidden x 2. */
typedef enum { SIM_KCOUNT_LINK, SIM_KCOUNT_DEEPEP_NODES, SIM_KCOUNT_DEEPEP_SELECTIONS } sim_kernel_count;

typedef struct sim_kernel_source {
    char key[48];
    char title[200];
    char url[300];
    char date[16];
    char library[120];
} sim_kernel_source;

/* One published measurement, with the shape it was taken at reduced to the coordinates the
 * lookup uses. */
typedef struct sim_kernel_row {
    sim_kernel_op op;
    sim_dtype dtype;          /* GEMM and attention: the compute / KV type; collectives: as sent */
    int variant;              /* attention: sim_kernel_attn; all_to_all: phase*2 + mode (0 normal, 1 low latency) */
    sim_kernel_link link;     /* collectives */
    double x;                 /* interpolation coordinate: GEMM rows (per expert when grouped); decode
                                 attention batch x context; prefill attention keys per query; all_to_all
                                 tokens per rank; all_reduce bytes */
    double family;            /* what selects the nearest measured series: GEMM n x k; attention FLOPs per
                                 KV byte (heads per KV head); all_to_all EP size; all_reduce ranks */
    double flops, bytes;      /* of one call, derived from the shape (GEMM, attention) */
    double share;             /* of the roofline (GEMM, attention) or of the link bandwidth (collectives) */
    bool memory_bound;        /* B/W > F/P at this row: the share is a bandwidth share */
    int source;               /* index into sim_kernel_table.sources */
    char format[24];          /* GEMMs: the weight format as stated ("fp8-block128", "fp8-tensor", ...), or "" */
    bool fused_moe;           /* grouped GEMMs of layout "fused-moe": the time is a whole MoE module's
                                 (top-k selection, permutation, both GEMMs, activation, finalize) */
    sim_kernel_count count;   /* all_to_all: the bytes its share is of (LINK: the link's bytes; DEEPEP_*:
                                 DeepEP's count, share = those bytes / time / scale-out bandwidth) */
    double time_s;            /* all_to_all rows read by DeepEP's count: the published time of one call
                                 (the latency, or DeepEP's bytes / its GB/s), for tests and messages */
    int index;                /* position in the file's `rows`, for messages */
} sim_kernel_row;

/* The peaks a table is judged against: a row's share needs the device's peak for its type
 * and its bandwidths. */
typedef struct sim_kernel_peaks {
    double flops[SIM_DT_COUNT];   /* FLOP/s, 0 = type not supported */
    double mem_Bps;               /* tier-0 bandwidth */
    double scale_up_Bps, scale_out_Bps;
} sim_kernel_peaks;

/* One series: the rows of one family from one source in one stated format (one library's
 * kernel), reduced at load to its distinct coordinates in increasing x, each with the mean
 * share of the rows there. Built once by sim_kernel_table_load, so a lookup walks series,
 * not rows. */
typedef struct sim_kernel_series {
    int row;                    /* index of its first row (op, type, variant, link, family, source,
                                   format); an index, not a pointer, so a table copies by value */
    int first, n;               /* its points: point_x/share/memory_bound[first .. first+n) */
    double log_family;
} sim_kernel_series;

typedef struct sim_kernel_table {
    char path[512];           /* "" = no table */
    char device[64];
    int n_rows, n_sources, n_series;
    sim_kernel_row rows[SIM_KT_MAX_ROWS];
    sim_kernel_source sources[SIM_KT_MAX_SOURCES];
    sim_kernel_series series[SIM_KT_MAX_ROWS];   /* grouped by operation: */
    int op_first[SIM_KOP_COUNT], op_series[SIM_KOP_COUNT]; /* series[op_first[op] .. + op_series[op]) */
    double point_x[SIM_KT_MAX_ROWS], point_share[SIM_KT_MAX_ROWS];
    double point_log_step[SIM_KT_MAX_ROWS]; /* log(x[i] / x[i-1]) within a series (0 at its first
                                               point): the interpolation's divisor, found once */
    bool point_memory_bound[SIM_KT_MAX_ROWS];
} sim_kernel_table;

/* Load and check a table for `device` against its peaks. A row whose figure exceeds the
 * device's peak, names an unknown source or field, or lacks a required field is refused
 * (SIM_EINPUT) with the file, the row's index and the field named. */
int sim_kernel_table_load(sim_kernel_table *t, const char *file, const char *device, const sim_kernel_peaks *peaks,
                          sim_err *err);

/* The answer of a lookup: the measured share and the source it rests on. */
typedef struct sim_kernel_hit {
    double share;
    int source;               /* index into the table's sources */
    bool held;                /* outside the measured rows, the nearest row's share was held (a
                                 memory-bound share below its rows, a compute-bound one or a
                                 collective's above) */
    bool fused_moe;           /* the series timed a whole MoE module (sim_kernel_row.fused_moe): the
                                 caller must not cost the top-k, permutation and finalize again */
    sim_kernel_count count;   /* all_to_all: the bytes the share is of (sim_kernel_row.count) */
} sim_kernel_hit;

/* DeepEP's byte count of one dispatch or combine call per rank (tests/test_internode.py,
 * tests/test_low_latency.py): `copies` token copies (distinct nodes per token, own node
 * included, for DEEPEP_NODES; selected experts for DEEPEP_SELECTIONS) of `hidden` elements
 * sent as `dt` (FP8 with its per-128 scales; the low-latency FP8 message adds 16 bytes). */
double sim_kernel_deepep_bytes(sim_kernel_count count, double tokens, double copies, double hidden, sim_dtype dt);

/* The expected distinct nodes a token reaches in DeepEP's internode test: scores random,
 * the top `topk_groups` of `nodes` node groups by their best expert, then the top `top_k`
 * of those groups' experts (`experts` spread evenly over the nodes). The first pick of a
 * group is always a pick, so the count is min(topk_groups, D) with D the distinct nodes of
 * top_k experts drawn uniformly without replacement: its expectation in closed form. */
double sim_kernel_deepep_nodes(int experts, int top_k, int nodes, int topk_groups);

/* The query: op, type, variant and link as in a row; x and family as in sim_kernel_row.
 * Returns true and fills *hit when a series of rows covers x: between its first and last
 * point, within 25% beyond either end, below a memory-bound first point, or above a
 * compute-bound last point or a collective's last point (its share only rises with the message). A series is the rows of one family from one source in one
 * stated format (one library's kernel). Among covering series whose family is within a
 * factor of 2 of the query's, the nearest in log family wins; between series of the same
 * family, the fastest (a stack is taken to run the best kernel published for the shape).
 * With q->prefer, the preferred libraries' series are tried first (same rules among them).
 * False: no row covers the shape (the caller uses its prior). */
typedef struct sim_kernel_query {
    sim_kernel_op op;
    sim_dtype dtype;
    int variant;
    sim_kernel_link link;
    double x, family;
    const char *const *prefer;   /* NULL-terminated library-name prefixes (the deployment's engine,
                                    --engine): when series from sources whose `library` starts with
                                    one of them cover the shape, only they answer; else, or when
                                    NULL, every series does */
} sim_kernel_query;

bool sim_kernel_lookup(const sim_kernel_table *t, const sim_kernel_query *q, sim_kernel_hit *hit);

/* The series a query could be answered from, whatever its x: those of its operation and kind
 * (and, first, of its preferred libraries) whose family is within reach, in table order, with
 * their distance in log family. A caller that asks the same query at many x (the step model,
 * once per deployment) finds them once and then only interpolates in x. */
#define SIM_KC_MAX 32
typedef struct sim_kernel_cands {
    bool overflow;              /* more than SIM_KC_MAX: sim_kernel_lookup_cands falls back to a full lookup */
    int n_pref, n_all;          /* [0, n_pref): the preferred pass; [n_pref, n_pref + n_all): every series */
    int idx[2 * SIM_KC_MAX];
    double dist[2 * SIM_KC_MAX];
} sim_kernel_cands;

void sim_kernel_candidates(const sim_kernel_table *t, const sim_kernel_query *q, sim_kernel_cands *c);
/* sim_kernel_lookup's answer, from candidates found for the same query (all but x equal). */
bool sim_kernel_lookup_cands(const sim_kernel_table *t, const sim_kernel_query *q, const sim_kernel_cands *c,
                             sim_kernel_hit *hit);

const char *sim_kernel_op_name(sim_kernel_op op);

#endif
