/* step.c: one engine step, operation by operation, on the slowest device.
 *
 * Every operation is costed the same way: compute time at the peak of the data type the
 * device really has times an efficiency that depends on the operation's shape (tokens in
 * the GEMM, tokens per expert, batch x context for decode attention); memory time at the
 * bandwidth of the tier the bytes live in times an efficiency that depends on how many
 * bytes the kernel moves; the larger of the two, plus a fixed cost per kernel for the
 * backend. Layers of one kind are identical, so each kind is costed once and multiplied. */
#include "step/step.h"

#include <math.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "step/comm.h"
#include "step/routing.h"

/* The small steps of a repeated step's path (a replayed kernel-table answer, an operation's
 * cost) are fewer instructions than the call and the register saves they would sit behind:
 * inlined where the compiler takes the attribute (GCC, Clang); their slow paths stay calls. */
#if defined(__GNUC__)
#define HOT_INLINE inline __attribute__((always_inline))
#else
#define HOT_INLINE inline
#endif

static const char *const kind_names[SIM_LK_COUNT] = {
    "attention_projections", "attention_core", "ssm_mixer", "dense_ffn", "router", "experts", "shared_experts",
    "lm_head", "tp_allreduce", "ep_alltoall", "pp_send", "step_overhead", "mtp_draft", "cpu_experts", "pcie_transfer",
    "elementwise",
};

const char *sim_layer_kind_name(sim_layer_kind k)
{
    return kind_names[k];
}

/* Query tokens per decoding sequence: 1, or 1 + draft tokens while verifying. */
static double decode_q(const sim_step_shape *s)
{
    return s->decode_q > 1 ? s->decode_q : 1;
}

/* Rows every GEMM of the step sees: each decoding sequence's query tokens and the prompt tokens. */
static double step_tokens(const sim_step_shape *s)
{
    return s->decode_seqs * decode_q(s) + s->prefill_tokens;
}

sim_bound sim_bound_of(double compute, double memory, double comm, double overhead)
{
    double parts[4] = { compute, memory, comm, overhead };
    int best = 0;
    for (int i = 1; i < 4; i++)
        if (parts[i] > parts[best])
            best = i;
    return (sim_bound)best;
}

const char *sim_basis_name(sim_basis b)
{
    static const char *const names[] = { "none", "prior", "calibrated", "measured", "partly measured" };
    return (int)b >= 0 && b <= SIM_BASIS_MIXED ? names[b] : "?";
}

const char *sim_bound_name(sim_bound b)
{
    static const char *const names[] = { "compute", "memory", "communication", "overhead" };
    return names[b];
}

/* Per-kind arrays of an accumulator, padded from SIM_LK_COUNT (15) to 16 so that
 * acc_scale_add's loops run in whole vectors with no scalar remainder; the padding kind is
 * never booked and stays 0 (acc_zero), and only SIM_LK_COUNT kinds are read out. */
#define ACC_KINDS 16
_Static_assert(ACC_KINDS >= SIM_LK_COUNT, "ACC_KINDS holds every layer kind");

/* The tallies are 16-bit (eight to a vector, half the bytes to clear and copy): a count is of
 * one step's operations of a kind (tens), a source an index below SIM_KT_MAX_SOURCES. */
typedef int16_t acc_tally;
_Static_assert(SIM_KT_MAX_SOURCES < INT16_MAX, "a kernel-table source index fits an acc_tally");

/* Accumulated cost of a set of operations. Per layer kind it also counts the operations
 * costed from a kernel-table row and from the curves, and the last row's source. A slim
 * accumulator (a sweep that needs only the step's time, sim_step_plan_time) keeps the four
 * times alone: the tallies from `flops` on are neither zeroed nor written. */
typedef struct acc {
    bool slim;
    double compute, memory, overhead, comm;
    double flops, bytes, comm_bytes, slow_bytes;   /* not in a slim accumulator: */
    double tier_bytes[SIM_MAX_TIERS];   /* weight bytes per memory tier */
    double kind[ACC_KINDS];          /* the breakdown: */
    acc_tally measured[ACC_KINDS], curves[ACC_KINDS];
    acc_tally source[ACC_KINDS];   /* index into the device's kernel-table sources */
    acc_tally held[ACC_KINDS];     /* 0 or 1 (a tally, as the counts beside it: acc_scale_add's loops vectorise) */
    acc_tally matvec[ACC_KINDS];   /* operations costed at the GGUF mat-vec shares (efficiency.gguf_matvec) */
    acc_tally gemm_shares[ACC_KINDS]; /* ... and at the GGUF GEMM shares (efficiency.gguf_gemm) */
} acc;

static void acc_zero(acc *a, bool slim)
{
    if (slim) {
        a->slim = true;
        a->compute = a->memory = a->overhead = a->comm = 0;
    } else {
        memset(a, 0, sizeof *a);
    }
}

/* The part of an accumulator a slim one has (acc_zero writes no more). */
static void acc_copy(acc *dst, const acc *src)
{
    if (src->slim) {
        dst->slim = true;
        dst->compute = src->compute, dst->memory = src->memory;
        dst->overhead = src->overhead, dst->comm = src->comm;
    } else {
        *dst = *src;
    }
}

static void acc_scale_add(acc *restrict dst, const acc *restrict src, double times)
{
    dst->compute += src->compute * times;
    dst->memory += src->memory * times;
    dst->overhead += src->overhead * times;
    dst->comm += src->comm * times;
    if (dst->slim)
        return;
    for (int i = 0; i < ACC_KINDS; i++)
        dst->kind[i] += src->kind[i] * times;
    dst->flops += src->flops * times;
    dst->bytes += src->bytes * times;
    dst->comm_bytes += src->comm_bytes * times;
    dst->slow_bytes += src->slow_bytes * times;
    for (int i = 0; i < SIM_MAX_TIERS; i++)
        dst->tier_bytes[i] += src->tier_bytes[i] * times;
    if (times <= 0)
        return;
    /* the basis tallies, each array in its own loop and without a branch per kind (a kind the
     * source measured takes its source and its held flag), so the compiler runs the kinds side
     * by side */
    for (int i = 0; i < ACC_KINDS; i++) {
        acc_tally m = (acc_tally)-(src->measured[i] > 0); /* all ones where the source measured the kind */
        dst->source[i] = (src->source[i] & m) | (dst->source[i] & ~m);
        dst->held[i] |= src->held[i] & m;
    }
    for (int i = 0; i < ACC_KINDS; i++)
        dst->measured[i] += src->measured[i];
    for (int i = 0; i < ACC_KINDS; i++)
        dst->curves[i] += src->curves[i];
    for (int i = 0; i < ACC_KINDS; i++)
        dst->matvec[i] += src->matvec[i];
    for (int i = 0; i < ACC_KINDS; i++)
        dst->gemm_shares[i] += src->gemm_shares[i];
}

static double acc_time(const acc *a)
{
    return a->compute + a->memory + a->overhead + a->comm;
}

/* One compute/memory operation. */
typedef struct op {
    sim_layer_kind kind;
    double flops;
    double peak;             /* FLOP/s of the compute type used */
    double eta_c;            /* compute efficiency at this shape, or: */
    const sim_curve *c_curve;/* non-NULL: eta_c is this curve at c_x, evaluated only when no kernel-table row
                                answers (a measured op never reads it) */
    double c_x;
    double act_bytes;        /* activations, KV: always in tier 0 */
    double weight_bytes;     /* weights: split over tiers by `frac` */
    const double *frac;      /* share of these weights per tier (memfit) */
    const sim_curve *mem_curve; /* tier-0 efficiency against bytes (the hwmodel's; by address, not copied) */
    double mem_x;            /* x for mem_curve (bytes, or tokens for decode attention) */
    double dequant_s;        /* unpacking packed weights before the math (dequant_time) */
    int kernels;
    double groups_s;         /* fixed time of the FFNs run (sim_curve.group_s) */
    sim_kernel_hit hit;      /* hit.share > 0: a kernel-table row covers this shape, and the
                                op takes max(F/P, B/W) / share in place of the curves */
    bool matvec;             /* peak x eta_c is the GGUF mat-vec rate (matvec_op) */
    bool gemm_shares;        /* peak is the GGUF GEMM shares' mixed rate (gemm_share_op) */
} op;


static void add_comm(acc *a, sim_layer_kind kind, double seconds, double bytes)
{
    a->comm += seconds;
    if (a->slim)
        return;
    a->kind[kind] += seconds;
    a->comm_bytes += bytes;
}

/* Record what a communication's link share rested on: a kernel-table row, or the hwmodel's. */
static void note_comm_basis(acc *a, sim_layer_kind kind, const sim_kernel_hit *hit)
{
    if (a->slim)
        return;
    if (hit && hit->share > 0) {
        a->measured[kind]++;
        a->source[kind] = hit->source;
        a->held[kind] = a->held[kind] || hit->held;
    } else {
        a->curves[kind]++;
    }
}

/* The attention projections' GEMMs at most (MLA: the fused q_a + kv_a down-projections, q_b,
 * kv_b and o; GQA: the fused qkv and o), each looked up at its own shape (attn_proj_combined). */
#define ATTN_PROJ_PARTS 4

/* The deployment's constants: everything the per-layer costing needs that does not depend on
 * the shape, resolved once per evaluation (sim_step_eval) or once per plan (sim_step_plan_new). */
typedef struct consts {
    double peak_dense, peak_expert, peak_shared, peak_attn;
    sim_dtype dt_dense, dt_expert, dt_shared, dt_attn;
    int nmat;                /* matrices per FFN: 3 for SwiGLU, 2 for ReLU^2 */
    sim_wmix w[SIM_WCLASS_COUNT]; /* stored types per weight class (sim_deploy_weight_mix) */
    double numa_bw, numa_compute;   /* the device's NUMA factors (sim_deploy_numa; 1 = one socket) */
    double bw_tier0;                /* tier 0's bandwidth x numa_bw, the product add_op divides by */
    double host_numa_bw, host_numa_compute; /* ... and the host CPU's */
    double peak_host;        /* the host CPU's FLOP/s for the expert format, and its type */
    sim_dtype dt_host;
    sim_kernel_link scale_up_link; /* the kernel tables' name for the scale-up link */
    /* bytes per weight (class_bytes), the LM head's, and the packed formats' unpacking terms on
     * the device (dequant_time: share of the class's elements and the device's rate, in format order) */
    double bytes_per[SIM_WCLASS_COUNT], head_bytes;
    int n_deq[SIM_WCLASS_COUNT];
    double deq_share[SIM_WCLASS_COUNT][SIM_WF_COUNT], deq_rate[SIM_WCLASS_COUNT][SIM_WF_COUNT];
    /* FLOP/s of each class's weights in a one-row mat-vec on the device, from the per-type GGUF
     * shares (resolve_matvec); 0 = no share applies, the curves cost it. mv_host_experts: the
     * routed experts on the host CPU. */
    double mv_rate[SIM_WCLASS_COUNT], mv_host_experts;
    /* FLOP/s of each class's weights in a batched matmul (more rows than one) from the per-type
     * GGUF GEMM shares, at the class curve's ceiling gg_max (resolve_matvec; 0 = no share applies);
     * the curve still gives the shape in rows. gg_small: the curve's small-row regime, another
     * kernel the shares do not describe. */
    double gg_rate[SIM_WCLASS_COUNT], gg_max[SIM_WCLASS_COUNT];
    int gg_small[SIM_WCLASS_COUNT];
    bool any_shares;   /* some class has a mat-vec or GEMM share above (else matvec_op does nothing) */
    /* the runtime's GEMM curves for each compute type above (sim_hw_gemm_curve): dense GEMMs in
     * the dense, expert and attention types, grouped expert GEMMs on the device and on the host */
    sim_curve gemm_dense, gemm_expert, gemm_shared, gemm_attn, grouped_expert, grouped_host;
    const char *const *prefer;   /* the engine's kernel libraries (sim_engine_kernel_libraries) */
    double kv_bytes;             /* bytes per KV element */
    int moe_tp;                  /* sim_deploy_moe_tp */
    int ranks_per_node;          /* the routing query's EP ranks per scale-up node */
    /* the memory passes between GEMMs (elementwise_op), bytes per token or row: the norm before
     * attention, before an FFN whose gate reads BF16 (MoE) or whose first GEMM reads the dense
     * type, and the activation of a routed, shared or dense FFN row; 0 where not costed */
    struct {
        double norm_attn, norm_moe, norm_dense, act_expert, act_shared, act_dense;
        /* a pass of b bytes takes (b + half) x per_byte: b / (bandwidth x eta(b)) with the
         * memory curve's eta(b) = max b / (b + half) (sim_curve_saturating), one multiply */
        double half, per_byte;
    } pass;
    /* Each operation's terms that do not depend on the shape, by the same expressions the
     * operations used (so the same values), found once per deployment: */
    struct {
        double nq, kvh;          /* query heads and (GQA) KV heads per device */
        double proj_params, proj_flops_tok, kv_row, proj_n, proj_weight_bytes, proj_dequant_s;
        int kernels;
        /* the projections' GEMMs as the engines run them (attn_proj_combined): each part's
         * weight n x k and its share of the FLOPs per token */
        int n_parts;
        struct {
            double n, k, flops_tok;
        } part[ATTN_PROJ_PARTS];
    } attn;
    struct {                     /* an FFN: dense, shared experts, one routed expert */
        double params;           /* matrices x hidden x width per device */
        double inter;            /* width per device */
        double act;              /* activation bytes per row / 2 */
        double weight_bytes, dequant_s; /* dense and shared; the routed experts' scale with those touched */
    } dense, shared, expert;
    struct {
        double params, n, act, weight_bytes;
    } head;
    double a2a_disp_bytes;       /* bytes per dispatched element (the dispatch format's) */
    double a2a_remote;           /* 1 - 1/ep: the share of a token's destinations on other ranks */
    sim_basis curves_basis;      /* the device's curves: calibrated or prior (its eff.provenance) */
} consts;

/* The kernel-table lookups of one step, one slot per call site: a site asks the same query
 * (all but x) from one step to the next, so its candidate series are found once and each step
 * only interpolates in x (sim_kernel_candidates). */
typedef enum {
    KS_ATTN_PROJ,
    KS_ATTN_PROJ_PART, KS_ATTN_PROJ_PART_LAST = KS_ATTN_PROJ_PART + ATTN_PROJ_PARTS - 1, /* attn_proj_combined */
    KS_SSM_PROJ, KS_ATTN_FULL, KS_ATTN_LOCAL, KS_DENSE_UP, KS_DENSE_DOWN, KS_SHARED_UP,
    KS_SHARED_DOWN, KS_EXPERTS_UP, KS_EXPERTS_DOWN, KS_HEAD, KS_DRAFT_PROJ, KS_A2A_DISPATCH, KS_A2A_COMBINE,
    KS_A2A_DISPATCH_NORMAL, KS_A2A_COMBINE_NORMAL, /* decode's fallback to the normal kernels (a2a_measured) */
    KS_ATTN_FULL_FP16, KS_ATTN_LOCAL_FP16,         /* BF16 attention's fallback to FP16 rows (attention_measured) */
    KS_TP_ALLREDUCE, KS_MOE_ALLREDUCE,             /* all-reduce over the TP group, over the experts' TP group */
    KS_COUNT
} kernel_site;

/* Each site also keeps its last answers by x and family (two-way, hashed on their bits): a sweep
 * that comes back to a shape asks them again. An entry counts only under the site's current
 * kind of query (its generation). */
#define SITE_HITS 256
typedef struct site_hit {
    unsigned gen;            /* 0 = empty */
    bool found;
    double x, family;
    sim_kernel_hit hit;
} site_hit;

typedef struct site_memo {
    bool valid, cands_valid;
    unsigned gen;            /* moves when the query's kind (all but x and family) changes */
    sim_kernel_query key;    /* x unused; family: the one `cands` were found for */
    sim_kernel_cands cands;
    site_hit hits[SITE_HITS];
} site_memo;

/* The routing statistics a plan has asked for, by token count (direct-mapped): within a plan
 * every other field of the routing query is the deployment's (model, EP, skew, slots, seed). */
#define PLAN_ROUTES 512
typedef struct route_memo {
    bool used;
    long tokens;
    int small_rows, tile_rows;
    sim_routing_stats stats;
} route_memo;

/* The kernel-table answers one step asked for, in the order it asked, kept by the step's shape:
 * within a plan a step's queries follow from its shape alone (the deployment and placement are
 * the plan's), so a shape seen before replays its answers in order instead of probing each
 * site's memo (one hash of the shape a step, against one per lookup). Each replayed answer is
 * checked against the query (site, x and family); a step that asks something else leaves the
 * tape and looks up as before, and the tape is recorded again on the shape's next step. */
#define TAPE_HITS 64         /* lookups a step may record (DeepSeek-V3 decode: 11; with MTP: ~20) */
typedef struct tape_hit {
    double x, family;
    sim_kernel_hit hit;      /* the whole answer (share, source, held, fused_moe, the all-to-all's
                                byte count...): every field the lookup gives is replayed */
    unsigned char site;
    bool found;
} tape_hit;

typedef struct shape_tape {
    bool used;               /* the slot holds `key` (open addressing: never emptied alone) */
    bool valid;              /* its answers are complete (else: record them on the next step) */
    int n;
    sim_step_shape key;
    tape_hit hits[TAPE_HITS];
} shape_tape;

/* Shapes kept; the table is emptied when half of its slots are used (a sweep comes back to a
 * working set smaller than that, as the routing cache's). */
#define PLAN_TAPES 256

typedef enum { TAPE_OFF, TAPE_RECORD, TAPE_REPLAY } tape_mode;

/* A step's place on its shape's tape. */
typedef struct tape_cursor {
    shape_tape *t;
    tape_mode mode;
    int i;                   /* next answer to replay or record */
} tape_cursor;

struct sim_step_plan {
    const sim_deploy *d;
    const sim_memfit *fit;
    consts k;
    site_memo site[KS_COUNT];
    route_memo route[PLAN_ROUTES];
    int tapes_used;
    shape_tape tape[PLAN_TAPES];
};


/* A layer's mixer (attention or state-space, with its TP all-reduce) as costed last in this step,
 * by shape: the MoE and the dense layers of a step (and its CPU-expert layers) run the same
 * mixer on the same shape, so the second is a copy of the first (the same operations in the
 * same order: the same figures). One slot per mixer kind. */
typedef struct mixer_memo {
    bool valid;
    sim_step_shape s;
    acc a;
} mixer_memo;

/* Everything the per-layer costing needs for one step. */
typedef struct ctx {
    const sim_deploy *d;
    const sim_memfit *fit;
    const sim_model *m;
    const consts *k;
    sim_step_plan *plan;     /* NULL: every kernel lookup from scratch */
    tape_cursor *tape;       /* with a plan: this step's shape tape */
    mixer_memo *mixers;      /* [SIM_MIX_COUNT], this step's (NULL: none) */
    bool slim;               /* the step's time alone: slim accumulators (acc), no breakdown */
    bool cpu_experts;        /* this layer's routed experts run on d->host_cpu (cpu_experts_ops) */
} ctx;

/* Cost one operation into a: max(compute, memory) plus its fixed costs. */
static HOT_INLINE void add_op(acc *a, const ctx *c, const op *o)
{
    const sim_hw *hw = c->d->hw;
    bool measured = o->hit.share > 0;
    double t_c = 0;
    if (o->flops > 0) {
        double eta = o->hit.share;
        if (!measured) {
            eta = o->c_curve ? sim_curve_at(*o->c_curve, o->c_x) : o->eta_c;
            eta = eta > 1e-6 ? eta : 1e-6;
        }
        t_c = o->flops / (o->peak * eta);
    }
    t_c += o->dequant_s;

    double fast_w = o->frac ? o->weight_bytes * o->frac[0] : o->weight_bytes;
    double fast = o->act_bytes + fast_w;
    double t_m = 0;
    if (fast > 0) {
        double eta = measured ? o->hit.share : sim_curve_at(*o->mem_curve, o->mem_x > 0 ? o->mem_x : fast);
        /* a multi-socket CPU reads tier 0 (weights, and the KV and activations beside them) at its
         * NUMA mode's share of the machine's bandwidth (sim_deploy_numa) */
        t_m = fast / (c->k->bw_tier0 * (eta > 1e-6 ? eta : 1e-6));
    }
    if (o->frac) {
        for (int i = 1; i < hw->n_tiers; i++) {
            double b = o->weight_bytes * o->frac[i];
            if (b > 0)
                t_m += b / (hw->tiers[i].bandwidth_Bps * hw->eff.memory.max);
        }
    }
    /* a measured kernel's time already holds its per-group setup */
    double t_o = o->kernels * hw->eff.kernel_overhead_s + (measured ? 0 : o->groups_s);
    /* the larger side, without a branch (which side wins moves with the shape); adding +0 to
     * the other leaves it as it was */
    bool compute_bound = t_c > t_m;
    double t = compute_bound ? t_c : t_m;
    a->compute += compute_bound ? t_c : 0.0;
    a->memory += compute_bound ? 0.0 : t_m;
    a->overhead += t_o;
    if (a->slim)
        return;
    a->kind[o->kind] += t + t_o;
    if (measured) {
        a->measured[o->kind]++;
        a->source[o->kind] = o->hit.source;
        a->held[o->kind] = a->held[o->kind] || o->hit.held;
    } else {
        a->curves[o->kind]++;
        a->matvec[o->kind] += o->matvec;
        a->gemm_shares[o->kind] += o->gemm_shares;
    }
    a->tier_bytes[0] += fast_w;
    if (o->frac) {
        for (int i = 1; i < hw->n_tiers; i++) {
            double b = o->weight_bytes * o->frac[i];
            if (b > 0) {
                a->slow_bytes += b;
                a->tier_bytes[i] += b;
            }
        }
    }
    a->flops += o->flops;
    a->bytes += o->act_bytes + o->weight_bytes;
}

/* sim_routing_stats_get through the deployment's cache; with a plan, its memo first. */
static int routing_get(const ctx *c, const sim_routing_query *q, sim_routing_stats *rs, sim_err *err)
{
    if (!c->plan)
        return sim_routing_stats_get(c->d->routing_cache, q, rs, err);
    uint64_t h = (uint64_t)q->tokens * 0x9e3779b97f4a7c15ULL ^ (uint64_t)q->small_rows;
    route_memo *e = &c->plan->route[(h >> 32) % PLAN_ROUTES];
    if (e->used && e->tokens == q->tokens && e->small_rows == q->small_rows && e->tile_rows == q->tile_rows) {
        *rs = e->stats;
        return SIM_OK;
    }
    int rc = sim_routing_stats_get(c->d->routing_cache, q, rs, err);
    if (!rc)
        *e = (route_memo){ .used = true, .tokens = q->tokens, .small_rows = q->small_rows, .tile_rows = q->tile_rows,
                           .stats = *rs };
    return rc;
}

/* Bytes per weight of class k (resolved in resolve_types). */
static double class_bytes(const ctx *c, sim_wclass k)
{
    return c->k->bytes_per[k];
}

static double class_bytes_of(const sim_deploy *d, const consts *k, sim_wclass cl)
{
    sim_wformat empty = cl == SIM_WCLASS_EXPERTS ? d->expert_fmt : cl == SIM_WCLASS_SHARED ? d->shared_fmt
                                                                                         : d->dense_fmt;
    return sim_wmix_bytes(&k->w[cl], empty);
}

/* Seconds to unpack `elems` weights of class k: each packed type's share at the device's rate
 * for that type (0 = fused into the math, free). A mix of GGUF types pays each its own rate.
 * A GGUF type computed in INT8 pays nothing here: llama.cpp's integer kernels unpack each block
 * inside the dot product (CPU ggml_vec_dot_<type>_q8_K, CUDA MMVQ/MMQ), so the unpacking is part
 * of the INT8 GEMM efficiency a hwmodel measures with llama.cpp (rpi5's INT8 curve is M6's
 * llama.cpp prefill); the rates price the widening to 16-bit where there is no INT8 path. At one
 * row a device's per-type mat-vec shares (efficiency.gguf_matvec, matvec_op) price each GGUF
 * type's unpacking where the hwmodel gives them. */
static double dequant_time_on(const ctx *c, const sim_hw *hw, sim_dtype dt, sim_wclass k, double elems)
{
    const sim_wmix *w = &c->k->w[k];
    if (!(elems > 0) || !(w->total > 0))
        return 0;
    double s = 0;
    for (int f = 0; f < SIM_WF_COUNT; f++) {
        double rate = sim_hw_dequant_rate(hw, dt, (sim_wformat)f);
        if (w->elems[f] > 0 && rate > 0)
            s += elems * (w->elems[f] / w->total) / rate;
    }
    return s;
}

/* The terms dequant_time_on sums for class cl on the deployment's device, kept in format order
 * so that dequant_time adds the same products in the same order. */
static void resolve_dequant(const sim_deploy *d, consts *k, sim_wclass cl)
{
    const sim_wmix *w = &k->w[cl];
    const sim_hw *hw = d->hw;
    sim_dtype dt = cl == SIM_WCLASS_EXPERTS ? k->dt_expert : cl == SIM_WCLASS_SHARED ? k->dt_shared : k->dt_dense;
    k->n_deq[cl] = 0;
    if (!(w->total > 0))
        return;
    for (int f = 0; f < SIM_WF_COUNT; f++) {
        double rate = sim_hw_dequant_rate(hw, dt, (sim_wformat)f);
        if (w->elems[f] > 0 && rate > 0) {
            k->deq_share[cl][k->n_deq[cl]] = w->elems[f] / w->total;
            k->deq_rate[cl][k->n_deq[cl]++] = rate * k->numa_compute;
        }
    }
}

/* The unpacking of class k's packed types other than GGUF ones on device hw (the GGUF types'
 * is inside a mat-vec share: matvec_op). */
static double dequant_time_other(const ctx *c, const sim_hw *hw, sim_wclass k, double elems)
{
    const sim_wmix *w = &c->k->w[k];
    if (!(elems > 0) || !(w->total > 0))
        return 0;
    double s = 0;
    for (int f = 0; f < SIM_WF_COUNT; f++) {
        double rate = hw->eff.dequant_elems_per_s[f];
        if (w->elems[f] > 0 && rate > 0 && sim_wformat_is_packed((sim_wformat)f) && !sim_wformat_is_gguf((sim_wformat)f))
            s += elems * (w->elems[f] / w->total) / rate;
    }
    return s;
}

/* dequant_time_on for the deployment's device and class cl's compute type. */
static double dequant_time_k(const consts *k, sim_wclass cl, double elems)
{
    if (!(elems > 0))
        return 0;
    double s = 0;
    for (int i = 0; i < k->n_deq[cl]; i++)
        s += elems * k->deq_share[cl][i] / k->deq_rate[cl][i];
    return s;
}

/* The rate (FLOP/s) of one op over weight mix w when some of its types have their own share of
 * the INT8 peak (share[f] > 0): a type with a share runs at share x the INT8 peak, any other at
 * `fallback` (the class's peak x its curve's efficiency); the times add over the types' shares
 * of the elements (a harmonic mean of the rates). 0 when no type of the mix has a share, or the
 * device has no INT8 peak. */
static double mix_rate(const sim_hw *hw, const sim_wmix *w, const double share[SIM_WF_COUNT], double fallback)
{
    double int8 = hw->peak_flops[SIM_DT_INT8];
    if (!(w->total > 0) || !(int8 > 0))
        return 0;
    double inv = 0;
    bool any = false;
    for (int f = 0; f < SIM_WF_COUNT; f++) {
        if (!(w->elems[f] > 0))
            continue;
        double rate = share[f] > 0 ? share[f] * int8 : fallback;
        any = any || share[f] > 0;
        if (!(rate > 0))
            return 0;
        inv += (w->elems[f] / w->total) / rate;
    }
    return any && inv > 0 ? 1 / inv : 0;
}

/* A one-row mat-vec over weight mix w, where the hwmodel gives GGUF mat-vec shares
 * (efficiency.gguf_matvec, for runtime r): mix_rate with the other types at `peak` x `eta1`
 * (the curve at one row). llama.cpp's GGUF dot products are integer (its kernels quantize the
 * activations to 8 bits). The shares were taken at one row (test-backend-ops n = 1, or
 * llama-bench tg at few threads): they answer decode at batch 1, not batched rows. */
static double matvec_rate(const sim_hw *hw, sim_runtime r, const sim_wmix *w, double peak, double eta1)
{
    double share[SIM_WF_COUNT] = { 0 };
    for (int f = 0; f < SIM_WF_COUNT; f++)
        if (w->elems[f] > 0 && sim_wformat_is_gguf((sim_wformat)f))
            share[f] = sim_hw_matvec_share(hw, r, (sim_wformat)f, NULL);
    return mix_rate(hw, w, share, peak * eta1);
}

/* A batched matmul over weight mix w at its curve's ceiling, where the hwmodel gives GGUF GEMM
 * shares (efficiency.gguf_gemm, runtime r): mix_rate with the other types at `peak` x `max`.
 * grouped: the routed experts' op, MUL_MAT_ID, which takes no dense-only figure
 * (sim_hw_gemm_share). */
static double gemm_mix_rate(const sim_hw *hw, sim_runtime r, const sim_wmix *w, double peak, double max, bool grouped)
{
    double share[SIM_WF_COUNT] = { 0 };
    for (int f = 0; f < SIM_WF_COUNT; f++)
        if (w->elems[f] > 0)
            share[f] = sim_hw_gemm_share(hw, r, (sim_wformat)f, grouped, NULL);
    return mix_rate(hw, w, share, peak * max);
}

static void resolve_matvec(const sim_deploy *d, consts *k)
{
    const sim_hw *hw = d->hw;
    sim_runtime r = d->runtime;
    for (int cl = 0; cl < SIM_WCLASS_COUNT; cl++) {
        double peak = k->peak_dense;
        sim_dtype dt = k->dt_dense;
        bool grouped = cl == SIM_WCLASS_EXPERTS;
        if (cl == SIM_WCLASS_EXPERTS || cl == SIM_WCLASS_SHARED) {
            peak = k->peak_expert;
            dt = k->dt_expert;
        } else if (cl == SIM_WCLASS_HEAD) {
            peak = k->peak_attn;
            dt = k->dt_attn;
        }
        sim_curve cv = sim_hw_gemm_curve(hw, r, dt, grouped);
        bool matmul = cl != SIM_WCLASS_EMBED; /* the embedding is a row lookup */
        k->mv_rate[cl] = matmul ? matvec_rate(hw, r, &k->w[cl], peak, sim_curve_at(cv, 1)) : 0;
        /* the GEMM shares are of integer kernels: a class computed in another type keeps its curve */
        k->gg_rate[cl] = matmul && dt == SIM_DT_INT8 && cv.max > 0 ? gemm_mix_rate(hw, r, &k->w[cl], peak, cv.max, grouped)
                                                                   : 0;
        k->gg_max[cl] = cv.max;
        k->gg_small[cl] = cv.small_rows;
    }
    k->any_shares = false;
    for (int cl = 0; cl < SIM_WCLASS_COUNT; cl++)
        k->any_shares = k->any_shares || k->mv_rate[cl] > 0 || k->gg_rate[cl] > 0;
    k->mv_host_experts = 0;
    if (d->host_cpu && k->peak_host > 0)
        k->mv_host_experts = matvec_rate(d->host_cpu, r, &k->w[SIM_WCLASS_EXPERTS], k->peak_host,
                                         sim_curve_at(sim_hw_gemm_curve(d->host_cpu, r, k->dt_host, true), 1));
}

/* An op of `rows` > 1 rows per weight over class cl's weights, where the device has GGUF GEMM
 * shares for the class's types: its compute runs at their mixed rate (peak = the rate at the
 * curve's ceiling) times the curve's shape at these rows (eta / ceiling), so the shares set the
 * level and the curve the fall at few rows. Rows in the curve's small regime (another kernel)
 * keep the curve. */
static void gemm_share_op(const ctx *c, op *o, sim_wclass cl, double rows)
{
    double rate = c->k->gg_rate[cl], max = c->k->gg_max[cl];
    int small = c->k->gg_small[cl];
    if (!(rate > 0) || !(max > 0) || (small > 0 && rows <= small))
        return;
    double eta = o->c_curve ? sim_curve_at(*o->c_curve, o->c_x) : o->eta_c;
    o->peak = rate;
    o->eta_c = eta / max;
    o->c_curve = NULL; /* the shape is taken; the level is the shares' */
    o->gemm_shares = true;
}

/* An op of `rows` rows per weight (tokens, or tokens per expert) over class cl's weights: at
 * one row, where the device has GGUF mat-vec shares for the class's types, its compute runs at
 * that rate (peak = the rate, eta 1) and the types' unpacking is inside it (no dequant term);
 * at more rows, the GGUF GEMM shares where the device has them (gemm_share_op). */
static void matvec_op_shares(const ctx *c, op *o, sim_wclass cl, double rows, double elems)
{
    double rate = c->k->mv_rate[cl];
    if (rows > 1 && !(o->hit.share > 0)) {
        gemm_share_op(c, o, cl, rows);
        return;
    }
    if (!(rate > 0) || !(rows > 0) || rows > 1 || o->hit.share > 0)
        return;
    o->peak = rate;
    o->eta_c = 1;
    o->c_curve = NULL; /* the rate is the op's, whatever its curve */
    o->dequant_s = dequant_time_other(c, c->d->hw, cl, elems);
    o->matvec = true;
}

/* matvec_op where the device has GGUF shares for some class (consts.any_shares); elsewhere it
 * changes nothing, and the check is all a step pays (no call). */
static inline void matvec_op(const ctx *c, op *o, sim_wclass cl, double rows, double elems)
{
    if (c->k->any_shares)
        matvec_op_shares(c, o, cl, rows, elems);
}

static double dequant_time(const ctx *c, sim_wclass k, double elems)
{
    return dequant_time_k(c->k, k, elems);
}

/* Queries that differ at most in x and family: one site's candidates differ only by family. */
static bool same_kind(const sim_kernel_query *a, const sim_kernel_query *b)
{
    return a->op == b->op && a->dtype == b->dtype && a->variant == b->variant && a->link == b->link &&
           a->prefer == b->prefer;
}

static uint64_t mix_bits(double x, double family)
{
    uint64_t a, b;
    memcpy(&a, &x, sizeof a);
    memcpy(&b, &family, sizeof b);
    a ^= b * 0x9e3779b97f4a7c15ULL;
    a ^= a >> 33; /* murmur3's finalizer: whole numbers of rows differ only in high bits */
    a *= 0xff51afd7ed558ccdULL;
    a ^= a >> 33;
    a *= 0xc4ceb9fe1a85ec53ULL;
    a ^= a >> 33;
    return a;
}

/* sim_kernel_lookup on the device's table; with a plan, the site's answer for this x and family
 * if it has one, else from the site's candidate series (found again when the family moved: the
 * attention core's FLOPs per KV byte differ in the last bits from one batch to the next). */
static bool site_lookup(const ctx *c, kernel_site site, const sim_kernel_query *q, sim_kernel_hit *hit)
{
    const sim_kernel_table *t = &c->d->hw->kernels;
    site_memo *e = &c->plan->site[site];
    if (!e->valid || !same_kind(&e->key, q)) {
        e->key = *q;
        e->valid = true;
        e->cands_valid = false;
        e->gen = e->gen + 1 ? e->gen + 1 : 1;
    }
    /* two ways, the slot and its neighbour; a new answer goes to the one another bit of the hash picks */
    uint64_t mb = mix_bits(q->x, q->family);
    site_hit *h = &e->hits[mb % SITE_HITS & ~(uint64_t)1];
    for (int w = 0; w < 2; w++)
        if (h[w].gen == e->gen && h[w].x == q->x && h[w].family == q->family) {
            if (h[w].found)
                *hit = h[w].hit;
            return h[w].found;
        }
    h += (mb >> 40) & 1;
    if (!e->cands_valid || !(e->key.family == q->family)) {
        e->key.family = q->family;
        sim_kernel_candidates(t, q, &e->cands);
        e->cands_valid = true;
    }
    bool found = sim_kernel_lookup_cands(t, q, &e->cands, hit);
    *h = (site_hit){ .gen = e->gen, .found = found, .x = q->x, .family = q->family };
    if (found)
        h->hit = *hit;
    return found;
}

/* The next answer on the step's tape, when the tape replays and it is this query's (site, x,
 * family): true with *found and *hit (when found) set. Any other query leaves the tape. */
static HOT_INLINE bool tape_replay(const ctx *c, int site, double x, double family, bool *found, sim_kernel_hit *hit)
{
    tape_cursor *tc = c->tape;
    if (tc->mode != TAPE_REPLAY)
        return false;
    const tape_hit *e = &tc->t->hits[tc->i];
    if (tc->i < tc->t->n && e->site == site && e->x == x && e->family == family) {
        tc->i++;
        *found = e->found;
        if (e->found)
            *hit = e->hit;
        return true;
    }
    tc->t->valid = false; /* another query than recorded: off the tape, recorded again next time */
    tc->mode = TAPE_OFF;
    return false;
}

/* Put an answer on the step's tape when it records. */
static void tape_record(const ctx *c, int site, double x, double family, bool found, const sim_kernel_hit *hit)
{
    tape_cursor *tc = c->tape;
    if (tc->mode != TAPE_RECORD)
        return;
    if (tc->i >= TAPE_HITS) {
        tc->mode = TAPE_OFF; /* more lookups than a tape holds: this shape is not taped */
        return;
    }
    tape_hit *e = &tc->t->hits[tc->i++];
    *e = (tape_hit){ .x = x, .family = family, .site = (unsigned char)site, .found = found };
    if (found)
        e->hit = *hit;
}

/* klookup past its tape: the table itself without a plan, else the site's memo (and the
 * answer recorded when the tape records). */
static bool klookup_off_tape(const ctx *c, kernel_site site, const sim_kernel_query *q, sim_kernel_hit *hit)
{
    if (!c->plan)
        return sim_kernel_lookup(&c->d->hw->kernels, q, hit);
    bool found = site_lookup(c, site, q, hit);
    tape_record(c, site, q->x, q->family, found, hit);
    return found;
}

/* sim_kernel_lookup on the device's table; with a plan, the next answer on the step's tape when
 * it is this query's, else the site's memo (and the answer recorded when the tape records). */
static HOT_INLINE bool klookup(const ctx *c, kernel_site site, const sim_kernel_query *q, sim_kernel_hit *hit)
{
    bool found;
    if (c->plan && tape_replay(c, site, q->x, q->family, &found, hit))
        return found;
    return klookup_off_tape(c, site, q, hit);
}

/* klookup without the tape (a caller that tapes a combination of answers as one). */
static bool klookup_untaped(const ctx *c, kernel_site site, const sim_kernel_query *q, sim_kernel_hit *hit)
{
    return c->plan ? site_lookup(c, site, q, hit) : sim_kernel_lookup(&c->d->hw->kernels, q, hit);
}

/* A shape's slot in the tape table: its words' bits, each times its own odd constant, summed
 * (independent products, not a chain) and mixed once by murmur3's finalizer (the whole numbers a
 * shape holds differ only in high bits). Only the slot depends on it: a tape is found by its
 * whole key. */
static uint64_t shape_hash(const sim_step_shape *s)
{
    static const uint64_t mul[] = { 0x9e3779b97f4a7c15ULL, 0xc2b2ae3d27d4eb4fULL, 0x165667b19e3779f9ULL,
                                    0xd6e8feb86659fd93ULL, 0xff51afd7ed558ccdULL, 0xc4ceb9fe1a85ec53ULL,
                                    0x94d049bb133111ebULL, 0xbf58476d1ce4e5b9ULL };
    _Static_assert(sizeof(sim_step_shape) == sizeof mul, "one constant per word of sim_step_shape");
    uint64_t w[sizeof mul / sizeof *mul], h = 0;
    memcpy(w, s, sizeof w);
    for (size_t i = 0; i < sizeof mul / sizeof *mul; i++)
        h += w[i] * mul[i];
    h ^= h >> 33;
    h *= 0xff51afd7ed558ccdULL;
    h ^= h >> 33;
    h *= 0xc4ceb9fe1a85ec53ULL;
    h ^= h >> 33;
    return h;
}

/* Find the shape's tape (replay it when complete) or start recording one. */
static void tape_begin(sim_step_plan *p, const sim_step_shape *s, tape_cursor *tc)
{
    unsigned i = (unsigned)(shape_hash(s) % PLAN_TAPES);
    for (int probes = 0; probes < PLAN_TAPES; probes++, i = (i + 1) % PLAN_TAPES) {
        shape_tape *t = &p->tape[i];
        if (t->used && memcmp(&t->key, s, sizeof *s) == 0) {
            *tc = (tape_cursor){ .t = t, .mode = t->valid ? TAPE_REPLAY : TAPE_RECORD };
            return;
        }
        if (!t->used)
            break;
    }
    if (p->tapes_used >= PLAN_TAPES / 2 || p->tape[i].used) { /* full: start again (keys are never removed one by one) */
        for (int j = 0; j < PLAN_TAPES; j++)
            p->tape[j].used = false;
        p->tapes_used = 0;
        i = (unsigned)(shape_hash(s) % PLAN_TAPES);
    }
    shape_tape *t = &p->tape[i];
    t->used = true;
    t->valid = false;
    t->key = *s;
    p->tapes_used++;
    *tc = (tape_cursor){ .t = t, .mode = TAPE_RECORD };
}

/* A step ended (rc its result): a complete recording becomes the shape's tape; a replay that
 * did not use every answer recorded is recorded again. */
static void tape_end(tape_cursor *tc, int rc)
{
    if (tc->mode == TAPE_RECORD && rc == SIM_OK) {
        tc->t->n = tc->i;
        tc->t->valid = true;
    } else if (tc->mode == TAPE_REPLAY && tc->i != tc->t->n) {
        tc->t->valid = false;
    }
}

/* The kernel-table share of an FFN's GEMMs at m rows (per expert when grouped): the up
 * projection (nmat-1 matrices of inter x h, run as one GEMM) and the down projection
 * (h x inter), combined by their FLOPs. A zero share (hit->share = 0): no row covers both.
 * With a plan the combined answer is one entry of the step's tape (at the up site, x and the
 * up projection's family: the down one follows from them within a deployment). */
static bool ffn_combined(const ctx *c, kernel_site up_site, sim_dtype t, bool grouped, double m, double h, double inter,
                         int nmat, sim_kernel_hit *r);

static HOT_INLINE sim_kernel_hit ffn_measured(const ctx *c, kernel_site up_site, sim_dtype t, bool grouped,
                                               double m, double h, double inter, int nmat)
{
    sim_kernel_hit r = { 0 };
    double fam_up = (nmat - 1) * inter * h;
    bool found;
    if (c->plan && tape_replay(c, up_site, m, fam_up, &found, &r))
        return r; /* a zero share when not found */
    found = ffn_combined(c, up_site, t, grouped, m, h, inter, nmat, &r);
    if (c->plan)
        tape_record(c, up_site, m, fam_up, found, &r);
    return r;
}

/* ffn_measured's two lookups and their combination; false (and *r untouched) when no row covers both. */
static bool ffn_combined(const ctx *c, kernel_site up_site, sim_dtype t, bool grouped, double m, double h, double inter,
                         int nmat, sim_kernel_hit *r)
{
    sim_kernel_hit up, down;
    sim_kernel_query q = { .op = grouped ? SIM_KOP_GROUPED_GEMM : SIM_KOP_GEMM, .dtype = t, .x = m,
                           .family = (nmat - 1) * inter * h, .prefer = c->k->prefer };
    if (!klookup_untaped(c, up_site, &q, &up))
        return false;
    q.family = h * inter;
    if (!klookup_untaped(c, up_site + 1, &q, &down))
        return false;
    double f_up = nmat - 1.0, f_down = 1.0; /* FLOPs in proportion to matrices */
    *r = up;
    r->share = (f_up + f_down) / (f_up / up.share + f_down / down.share);
    r->held = up.held || down.held;
    r->fused_moe = up.fused_moe && down.fused_moe;
    return true;
}

/* The kernel-table share of the attention projections at T tokens, for their operation of
 * `flops` and `bytes` (its fast-tier bytes, as add_op reads them). A step ran them as one GEMM of
 * the whole weight at the output projection's shape; the engines run two to four GEMMs of very
 * different shapes (resolve_attn: DeepSeek-V3's read 352 to 645 TFLOP/s at 128 rows in
 * DeepGEMM's table, 775 to 1,520 at 4,096). The whole query decides whether the table covers the
 * projections at all (as before); each part then takes the row of its own shape where one
 * covers it, else the whole's, and is timed as sim_gemm_time times one GEMM: the larger of its
 * FLOPs at the peak and its bytes (weight, input and output) at the bandwidth, over the share (a
 * memory-bound row's share is of the bandwidth). The answer is the one share at which the
 * operation takes the parts' summed time. With a plan it is one entry of the step's tape (at
 * KS_ATTN_PROJ). */
static bool attn_proj_combined(const ctx *c, double T, double family, double flops, double bytes, sim_kernel_hit *r);

static HOT_INLINE sim_kernel_hit attn_proj_measured(const ctx *c, double T, double flops, double bytes)
{
    sim_kernel_hit r = { 0 };
    double family = c->k->attn.proj_n * c->m->hidden; /* the whole weight's, as before */
    bool found;
    if (c->plan && tape_replay(c, KS_ATTN_PROJ, T, family, &found, &r))
        return r; /* a zero share when not found */
    found = attn_proj_combined(c, T, family, flops, bytes, &r);
    if (c->plan)
        tape_record(c, KS_ATTN_PROJ, T, family, found, &r);
    return r;
}

static bool attn_proj_combined(const ctx *c, double T, double family, double flops, double bytes, sim_kernel_hit *r)
{
    sim_kernel_hit whole, part;
    sim_kernel_query q = { .op = SIM_KOP_GEMM, .dtype = c->k->dt_dense, .x = T, .family = family,
                           .prefer = c->k->prefer };
    if (!klookup_untaped(c, KS_ATTN_PROJ, &q, &whole))
        return false;
    *r = whole;
    const double peak = c->k->peak_dense, bw = c->k->bw_tier0, wb = c->k->bytes_per[SIM_WCLASS_ATTN];
    double time = 0;
    for (int i = 0; i < c->k->attn.n_parts; i++) {
        double n = c->k->attn.part[i].n, kin = c->k->attn.part[i].k;
        q.family = n * kin;
        double share = whole.share;
        if (klookup_untaped(c, KS_ATTN_PROJ_PART + i, &q, &part) && part.share > 0) {
            share = part.share;
            r->held = r->held || part.held;
        }
        double side = fmax(c->k->attn.part[i].flops_tok * T / peak, (n * kin * wb + T * (n + kin) * 2) / bw);
        time += side / share;
    }
    if (time > 0)
        r->share = fmax(flops / peak, bytes / bw) / time;
    return true;
}

/* The kernel-table share of one GEMM of m rows against an n x k weight. */
static HOT_INLINE sim_kernel_hit gemm_measured(const ctx *c, kernel_site site, sim_dtype t, double m, double n,
                                                double k)
{
    sim_kernel_hit hit = { 0 };
    sim_kernel_query q = { .op = SIM_KOP_GEMM, .dtype = t, .x = m, .family = n * k,
                           .prefer = c->k->prefer };
    if (!klookup(c, site, &q, &hit))
        hit.share = 0;
    return hit;
}

/* The compute type attention runs its KV reads in: the KV format's, FP8 or BF16. */
static sim_dtype kv_dtype(sim_wformat kv)
{
    return kv == SIM_WF_FP8 ? SIM_DT_FP8 : kv == SIM_WF_FP32 ? SIM_DT_FP32 : SIM_DT_BF16;
}

/* Efficiency of the busiest rank's grouped expert GEMMs (`assign` token rows over `touched`
 * experts), and in *groups_s their fixed cost per expert FFN (sim_curve.group_s). With one kernel regime the mean rows per expert is exact, since an expert's time
 * 2W(m + half)/(peak max) is linear in its rows m. With a kernel switch (sim_curve.small_rows)
 * the experts at or below it and those above run different kernels, so the two groups are
 * costed apart, each at its own mean rows (routing gives the split). */
static double grouped_gemm_cost_rows(sim_curve c, double assign, double touched, const sim_routing_stats *rs,
                                     double *groups_s);

static double grouped_gemm_cost(sim_curve c, double assign, double touched, const sim_routing_stats *rs, double *groups_s)
{
    /* a kernel that computes each expert's rows in whole tiles (sim_curve.tile_rows) spends the
     * padded rows' time at the curve's rate: the useful rows' efficiency falls by that share */
    double pad = rs->padded_token_share > 1 ? rs->padded_token_share : 1; /* 1 unless the query asked for tiles */
    return grouped_gemm_cost_rows(c, assign, touched, rs, groups_s) / pad;
}

static double grouped_gemm_cost_rows(sim_curve c, double assign, double touched, const sim_routing_stats *rs,
                                     double *groups_s)
{
    double m = touched > 0 ? assign / touched : 0;
    *groups_s = touched * sim_curve_group_s(c, m);
    if (c.small_rows <= 0 || assign <= 0 || touched <= 0)
        return sim_curve_at(c, m);
    double n_small = rs->small_expert_share * touched, a_small = rs->small_token_share * assign;
    double n_big = touched - n_small, a_big = assign - a_small;
    *groups_s = n_small * c.small_group_s + n_big * c.group_s;
    double rows_over_eta = 0; /* sum over groups of rows / eta: proportional to time */
    if (n_small > 0 && a_small > 0)
        rows_over_eta += a_small / sim_curve_saturating(c.small_max, c.small_half, a_small / n_small);
    if (n_big > 0 && a_big > 0)
        rows_over_eta += a_big / sim_curve_saturating(c.max, c.half, a_big / n_big);
    return rows_over_eta > 0 ? assign / rows_over_eta : sim_curve_at(c, m);
}

/* The kernel-table share of the attention core: decode-only steps by batch x context at the
 * op's FLOPs per KV byte, prefill-only steps by keys per query at the head size. A step that
 * mixes the two keeps the curves. */
static sim_kernel_hit attention_measured(const ctx *c, kernel_site site, const sim_step_shape *s, const op *core,
                                         double kv_row, double Lp)
{
    const sim_model *m = c->m;
    sim_kernel_hit hit = { 0 };
    sim_kernel_query q = { .prefer = c->k->prefer };
    if (s->prefill_tokens == 0 && s->decode_seqs > 0) {
        double kv_bytes = core->mem_x * kv_row;
        q.op = SIM_KOP_ATTN_DECODE;
        q.dtype = kv_dtype(c->d->kv_fmt);
        q.variant = m->attn.kind == SIM_ATTN_MLA ? SIM_KATTN_MLA
                  : m->attn.kv_heads < m->attn.heads ? SIM_KATTN_GQA : SIM_KATTN_MHA;
        q.x = core->mem_x;
        q.family = kv_bytes > 0 ? core->flops / kv_bytes : 0;
    } else if (s->decode_seqs == 0 && s->prefill_tokens > 0) {
        q.op = SIM_KOP_ATTN_PREFILL;
        q.dtype = c->k->dt_attn;
        /* MLA prefills in its up-projected form (per-head K and V of dn+dr and dv); the
         * libraries publish it as their MLA context kernel, so it reads the `mla` rows */
        q.variant = m->attn.kind == SIM_ATTN_MLA ? SIM_KATTN_MLA
                  : m->attn.kv_heads < m->attn.heads ? SIM_KATTN_GQA : SIM_KATTN_MHA;
        q.x = Lp;
        q.family = m->attn.kind == SIM_ATTN_GQA ? m->attn.head_dim : m->attn.qk_nope_head_dim + m->attn.qk_rope_head_dim;
    } else {
        return hit;
    }
    if (klookup(c, site, &q, &hit))
        return hit;
    hit.share = 0;
    /* FP16 and BF16 have the same width, and where the device's tensor peaks for them are
     * equal (MI300X: 1307 TFLOP/s both) a kernel's FP16 figure is its BF16 one: AITER's MLA
     * decode was published in FP16 only */
    const double *pk = c->d->hw->peak_flops;
    if (q.dtype == SIM_DT_BF16 && pk[SIM_DT_FP16] > 0 && pk[SIM_DT_FP16] == pk[SIM_DT_BF16]) {
        q.dtype = SIM_DT_FP16;
        if (klookup(c, site == KS_ATTN_FULL ? KS_ATTN_FULL_FP16 : KS_ATTN_LOCAL_FP16, &q, &hit))
            return hit;
        hit.share = 0;
    }
    return hit;
}

/* --- the memory passes between GEMMs ---
 * A kernel-table row times one kernel (a GEMM, a grouped GEMM, an attention kernel) by itself.
 * Between those kernels the serving engines run memory-bound ones of their own, which a row
 * does not hold and which do not hide behind the GEMMs' compute (they run in the same stream,
 * one after another): before each block, the residual add fused with RMSNorm (vLLM and SGLang
 * `fused_add_rms_norm`, TensorRT-LLM's fused add + norm (+ quantize)), and in each FFN the
 * activation between its up and down GEMMs (SwiGLU: `silu_and_mul`). Each is costed at the
 * least traffic any of those engines moves for it (the quantization of the next GEMM's input
 * fused in, as TensorRT-LLM does), over the hwmodel's memory efficiency at that many bytes.
 * Only where the neighbouring GEMM rests on a kernel-table row: the curves fitted to
 * end-to-end runs (the local llama.cpp priors) already hold these passes. A fused-MoE row
 * (TensorRT-LLM's MoE module) holds its own activation. Under tensor parallelism the norm
 * follows an all-reduce, and the engines fuse the two into one kernel (TensorRT-LLM's fused
 * all-reduce + RMSNorm, vLLM's and SGLang's FlashInfer all-reduce fusion), whose time the
 * all-reduce already stands for: the norm pass is costed only at tp 1. Launches are not counted again (the
 * operations' `kernels` already count a norm each). Not costed: rotary embedding (fused into
 * the attention kernel's preprocessing by TensorRT-LLM, a separate in-place pass in vLLM and
 * SGLang) and unfused activation quantization; both would add time. NVIDIA's aiconfigurator
 * costs the same passes as element-wise operations of their own (ai-dynamo/aiconfigurator
 * 095f58a5, aic-core/src/aiconfigurator_core/sdk/models/moe.py and llama.py: add_norm_1 and
 * add_norm_2, 2h elements in and out per token, and act_gate, 2 inter in and inter out, at 0.8
 * of the memory bandwidth). */

/* One pass of `bytes`, memory-bound over the hwmodel's memory curve (no FLOPs, no weights, no
 * launches of its own), in closed form (consts.pass): a step evaluates a few of these per
 * layer kind, so the general operation's two divisions showed in the step model's speed. */
static HOT_INLINE void elementwise_op(acc *a, const ctx *c, double bytes)
{
    if (!(bytes > 0))
        return;
    double t = (bytes + c->k->pass.half) * c->k->pass.per_byte;
    a->memory += t;
    if (a->slim)
        return;
    a->kind[SIM_LK_ELEMENTWISE] += t;
    a->curves[SIM_LK_ELEMENTWISE]++;
    a->bytes += bytes;
}

/* Attention (projections and core) of one layer for shape s; `local` = sliding-window layer. */
static void attention_ops(acc *a, const ctx *c, const sim_step_shape *s, bool local)
{
    const sim_deploy *d = c->d;
    const sim_model *m = c->m;
    const sim_hw *hw = d->hw;
    double T = step_tokens(s);
    double h = m->hidden, nq = c->k->attn.nq;
    double win = local && m->attn.local_window > 0 ? m->attn.local_window : INFINITY;
    double Ld = fmin(s->decode_ctx, win), Lp = fmin(s->prefill_ctx, win);
    double core_dec_flops, core_pre_flops, kv_row = c->k->attn.kv_row;
    if (m->attn.kind == SIM_ATTN_GQA) {
        double hd = m->attn.head_dim;
        core_dec_flops = 4 * nq * hd * Ld;            /* QK^T and PV per sequence */
        core_pre_flops = 4 * nq * hd * Lp;            /* per prompt token */
    } else {
        double kvr = m->attn.kv_lora_rank;
        double dn = m->attn.qk_nope_head_dim, dr = m->attn.qk_rope_head_dim, dv = m->attn.v_head_dim;
        core_dec_flops = 2 * nq * Ld * ((kvr + dr) + kvr); /* scores over the latent, then values */
        core_pre_flops = 2 * nq * Lp * (dn + dr + dv);       /* prefill: plain MHA after up-projection */
    }

    op proj = {
        .kind = SIM_LK_ATTN_PROJ,
        .flops = c->k->attn.proj_flops_tok * T,
        .peak = c->k->peak_dense,
        .c_curve = &c->k->gemm_dense,
        .c_x = T,
        .act_bytes = T * h * 2 * 4, /* input, normed input, output, residual */
        .weight_bytes = c->k->attn.proj_weight_bytes,
        .frac = c->fit->other_frac,
        .mem_curve = &hw->eff.memory,
        .dequant_s = c->k->attn.proj_dequant_s,
        .kernels = c->k->attn.kernels - 1,
    };
    /* each of the projections' GEMMs at its own shape, combined (attn_proj_combined) */
    proj.hit = attn_proj_measured(c, T, proj.flops, proj.act_bytes + proj.weight_bytes * proj.frac[0]);
    matvec_op(c, &proj, SIM_WCLASS_ATTN, T, c->k->attn.proj_params);
    add_op(a, c, &proj);
    if (proj.hit.share > 0) /* the norm before the block */
        elementwise_op(a, c, T * c->k->pass.norm_attn);

    double bL = s->decode_seqs * Ld;
    op core = {
        .kind = SIM_LK_ATTN_CORE,
        /* a verifying sequence's decode_q queries each score the context; its KV is read once */
        .flops = core_dec_flops * s->decode_seqs * decode_q(s) + core_pre_flops * s->prefill_tokens,
        .peak = c->k->peak_attn,
        .eta_c = s->prefill_tokens > 0 && s->decode_seqs == 0 ? hw->eff.attn_prefill_compute
                                                               : hw->eff.attn_decode_compute,
        /* decode reads each sequence's context once; prefill writes its rows and reads the prior context */
        .act_bytes = kv_row * (Ld * s->decode_seqs + (s->prefill_tokens > 0 ? s->prefill_tokens + Lp : 0)) +
                     T * h * 2 * 2,
        .mem_curve = &hw->eff.attn_decode_mem,
        .mem_x = bL + s->prefill_tokens * Lp,
        .kernels = 1,
    };
    core.hit = attention_measured(c, local ? KS_ATTN_LOCAL : KS_ATTN_FULL, s, &core, kv_row, Lp);
    add_op(a, c, &core);
}

/* FLOPs per token of the state-space / linear-attention scan, by the published chunked
 * algorithms, per layer and per device (H heads and G groups on it), with P = head_dim,
 * N = state, Q = chunk:
 *  Mamba-2 SSD (Dao & Gu, arXiv 2405.21060, section 6; ssd_minimal / mamba_chunk_scan_combined),
 *  per chunk: C B^T per group (2 Q^2 N), its masked product with X per head (2 Q^2 P), the
 *  chunk's state B^T X per head (2 Q N P), the state passed on between chunks (N P per head),
 *  and the state's output C S per head (2 Q N P). Per token:
 *      F_ssd = 2 Q (G N + H P) + 4 H N P + H N P / Q
 *  Gated DeltaNet, chunkwise (Yang et al., arXiv 2412.06464, section 3.3, the WY form of
 *  fla-org chunk_gated_delta_rule), per chunk and value head: K K^T (2 Q^2 N), the triangular
 *  solve (Q^3 / 3), W = T K and U = T V (2 Q^2 N + 2 Q^2 P), U - W S (2 Q N P), the
 *  output Q S (2 Q N P) plus the masked Q K^T (2 Q^2 N) times the new values (2 Q^2 P), and
 *  the state update K^T V (2 Q N P). Per token:
 *      F_gdn = H (6 N P + Q (6 N + 4 P) + Q^2 / 3)
 *  Decode is the recurrent step, per token: Mamba-2 (selective_state_update) decays the
 *  state, adds dt x B^T and reads y = S C: 5 H P N; GDN (fused_recurrent_gated_delta_rule)
 *  decays S, reads S k, adds the rank-1 correction and reads S q: 7 H P N.
 *  The causal convolution adds 2 conv_dim W per token in both. */
double sim_step_ssm_scan_flops(const sim_model *m, double H, double G, bool prefill)
{
    const double P = m->hybrid.head_dim, N = m->hybrid.state, Q = m->hybrid.chunk;
    if (!prefill)
        return (m->hybrid.kind == SIM_SSM_MAMBA2 ? 5.0 : 7.0) * H * P * N;
    if (m->hybrid.kind == SIM_SSM_MAMBA2)
        return 2 * Q * (G * N + H * P) + 4 * H * N * P + H * N * P / Q;
    return H * (6 * N * P + Q * (6 * N + 4 * P) + Q * Q / 3);
}

/* Heads and groups of the mixer on one device: heads split over TP, groups too while they
 * last (replicated when TP exceeds them, as KV heads are). */
static void ssm_split(const ctx *c, double *H, double *G)
{
    int tp = c->d->tp;
    *H = (double)c->m->hybrid.heads / tp;
    *G = c->m->hybrid.groups >= tp ? (double)c->m->hybrid.groups / tp : 1;
}

/* One state-space / linear-attention mixer for shape s (kind SIM_LK_SSM): the input and
 * output projections as GEMMs of the dense weights, then the convolution and scan. Decode
 * reads and writes each sequence's constant state (the scan state in hybrid.state_format, the
 * convolution's last W - 1 inputs in BF16) whatever its context; a verifying sequence's
 * query tokens run through it one after the other. Prefill runs the chunked scan over the
 * prompt tokens and writes each prompt's final state. */
static void ssm_ops(acc *a, const ctx *c, const sim_step_shape *s)
{
    const sim_deploy *d = c->d;
    const sim_model *m = c->m;
    const sim_hw *hw = d->hw;
    double T = step_tokens(s), h = m->hidden, H, G;
    ssm_split(c, &H, &G);
    const double P = m->hybrid.head_dim, N = m->hybrid.state, W = m->hybrid.conv_width;
    double d_in = H * P, g = G * N, conv_dim = d_in + 2 * g;
    double r = m->hybrid.kind == SIM_SSM_MAMBA2 ? 1 : 2;     /* per-head scalars from the input projection */
    double in_out = h * (2 * d_in + 2 * g + r * H);
    double proj_params = in_out + d_in * h;
    double db = class_bytes(c, SIM_WCLASS_ATTN); /* a GGUF recipe has no class of its own for these */
    op proj = {
        .kind = SIM_LK_SSM,
        .flops = 2 * proj_params * T,
        .peak = c->k->peak_dense,
        .eta_c = sim_curve_at(c->k->gemm_dense, T),
        .act_bytes = T * h * 2 * 4, /* input, normed input, output, residual */
        .weight_bytes = proj_params * db,
        .frac = c->fit->other_frac,
        .mem_curve = &hw->eff.memory,
        .dequant_s = dequant_time(c, SIM_WCLASS_ATTN, proj_params),
        .kernels = 3, /* norm, input projection, output projection */
        .hit = gemm_measured(c, KS_SSM_PROJ, c->k->dt_dense, T, 2 * d_in + 2 * g + r * H, h),
    };
    matvec_op(c, &proj, SIM_WCLASS_ATTN, T, proj_params);
    add_op(a, c, &proj);

    double state_b = H * P * N * sim_wformat_bytes(m->hybrid.state_format) + conv_dim * (W - 1) * 2.0;
    double dec_tok = s->decode_seqs * decode_q(s), conv_f = 2 * conv_dim * W;
    bool prefill_only = s->prefill_tokens > 0 && s->decode_seqs == 0;
    double core_bytes = state_b * (2 * s->decode_seqs + s->prefill_seqs) + /* decode: read + write; prefill: write */
                        T * (conv_dim + 3 * d_in) * 2;                     /* x, B, C (q, k, v), z in; y out */
    op core = {
        .kind = SIM_LK_SSM,
        .flops = dec_tok * (sim_step_ssm_scan_flops(m, H, G, false) + conv_f) +
                 s->prefill_tokens * (sim_step_ssm_scan_flops(m, H, G, true) + conv_f),
        .peak = c->k->peak_attn,
        /* the chunked scan is a sequence of small batched matmuls, as flash attention's prefill */
        .eta_c = prefill_only ? hw->eff.attn_prefill_compute : hw->eff.attn_decode_compute,
        .act_bytes = core_bytes,
        .mem_curve = &hw->eff.memory,
        /* conv, scan, gated norm; mamba_chunk_scan_combined launches five kernels for the scan */
        .kernels = s->prefill_tokens > 0 ? 7 : 3,
    };
    add_op(a, c, &core);
}

static void dense_ffn_ops(acc *a, const ctx *c, double T)
{
    const sim_deploy *d = c->d;
    op o = {
        .kind = SIM_LK_DENSE_FFN,
        .flops = 2 * c->k->dense.params * T,
        .peak = c->k->peak_dense,
        .c_curve = &c->k->gemm_dense,
        .c_x = T,
        .act_bytes = T * c->k->dense.act * 2,
        .weight_bytes = c->k->dense.weight_bytes,
        .frac = c->fit->other_frac,
        .mem_curve = &d->hw->eff.memory,
        .dequant_s = c->k->dense.dequant_s,
        .kernels = 4,
        .groups_s = sim_curve_group_s(c->k->gemm_dense, T),
        .hit = ffn_measured(c, KS_DENSE_UP, c->k->dt_dense, false, T, c->m->hidden, c->k->dense.inter, c->k->nmat),
    };
    matvec_op(c, &o, SIM_WCLASS_DENSE_FFN, T, c->k->dense.params);
    add_op(a, c, &o);
    if (o.hit.share > 0)
        elementwise_op(a, c, T * (c->k->pass.norm_dense + c->k->pass.act_dense));
}

/* sim_comm_allreduce_hit_s, its kernel-table lookup through the step's sites (klookup). */
static double allreduce_hit_s(const ctx *c, kernel_site site, int n, double bytes, sim_kernel_hit *hit)
{
    const sim_hw *hw = c->d->hw;
    sim_kernel_hit h = { 0 };
    *hit = h;
    if (n <= 1 || bytes <= 0)
        return 0;
    double eta;
    const sim_link *l = sim_comm_tier(hw, n, &eta);
    sim_kernel_link kl = l != &hw->scale_up ? SIM_KLINK_RDMA : c->k->scale_up_link;
    sim_kernel_query q = { .op = SIM_KOP_ALL_REDUCE, .link = kl, .x = bytes, .family = n };
    if (!klookup(c, site, &q, &h) || !(h.share > 0))
        return sim_comm_allreduce_s(hw, n, bytes);
    *hit = h;
    return sim_comm_allreduce_bytes(n, bytes) / (l->bandwidth_Bps * h.share);
}

/* Ring all-reduce over the tensor-parallel group. */
static void tp_allreduce(acc *a, const ctx *c, double T, double fraction)
{
    const sim_deploy *d = c->d;
    if (d->tp <= 1 || T <= 0)
        return;
    double bytes = T * c->m->hidden * 2;
    sim_kernel_hit hit;
    add_comm(a, SIM_LK_TP_COMM, allreduce_hit_s(c, KS_TP_ALLREDUCE, d->tp, bytes, &hit) * fraction,
             sim_comm_allreduce_bytes(d->tp, bytes) * fraction);
    note_comm_basis(a, SIM_LK_TP_COMM, &hit);
}

/* The published all-to-all row for one phase (0 dispatch, 1 combine) on the query's link, EP
 * size and tokens per rank: the normal kernels for prefill, the low-latency ones for decode.
 * Where no low-latency row covers a decode shape the normal rows answer: a library with one
 * kernel for both phases (TensorRT-LLM's NVLink alltoall, MORI's intranode one) publishes it
 * as normal and runs it in decode too. A zero share: no row covers the shape. */
static HOT_INLINE sim_kernel_hit a2a_measured(const ctx *c, sim_kernel_query q, int phase, bool prefill)
{
    sim_kernel_hit hit = { 0 };
    q.variant = phase * 2 + (prefill ? 0 : 1);
    if (klookup(c, phase ? KS_A2A_COMBINE : KS_A2A_DISPATCH, &q, &hit))
        return hit;
    hit.share = 0;
    q.variant = phase * 2;
    if (!prefill && klookup(c, phase ? KS_A2A_COMBINE_NORMAL : KS_A2A_DISPATCH_NORMAL, &q, &hit))
        return hit;
    hit.share = 0;
    return hit;
}

/* Bytes of one phase as DeepEP counts them (kernels.h, sim_kernel_count): the FP8 and BF16
 * payloads as its tests count them, another dispatch payload at its own bytes per element. */
static double deepep_bytes(sim_kernel_count count, double tokens, double copies, double h, sim_wformat f, bool combine)
{
    if (combine || f == SIM_WF_BF16)
        return sim_kernel_deepep_bytes(count, tokens, copies, h, SIM_DT_BF16);
    if (f == SIM_WF_FP8)
        return sim_kernel_deepep_bytes(count, tokens, copies, h, SIM_DT_FP8);
    return tokens * copies * h * sim_wformat_bytes(f);
}

/* One phase on a DeepEP internode row: DeepEP's bytes for this step's routing over the row's
 * bandwidth in the same count (share x NIC), so at the row's shape the time is the published
 * one. The row times the whole kernel (NVLink forwarding, the NIC, its latency): no tier of the
 * prior is added. Normal kernels: a token once per node its experts live on, its own included
 * (rs->mean_dest_nodes_per_token), per sender, as the per-node prior counts the NIC. Low
 * latency: a token once per selected expert, and the busiest receiver's selections where they
 * are more, as the per-expert prior. */
static double deepep_phase_s(const ctx *c, const sim_kernel_hit *hit, const sim_routing_stats *rs, double T_src,
                             bool combine)
{
    const sim_deploy *d = c->d;
    double h = c->m->hidden, bw = d->hw->scale_out.bandwidth_Bps * hit->share;
    if (hit->count == SIM_KCOUNT_DEEPEP_NODES)
        return deepep_bytes(hit->count, T_src, rs->mean_dest_nodes_per_token, h, d->dispatch_fmt, combine) / bw;
    double send = deepep_bytes(hit->count, T_src, c->m->ffn.top_k, h, d->dispatch_fmt, combine);
    double recv = deepep_bytes(hit->count, rs->max_tokens_per_rank, 1, h, d->dispatch_fmt, combine);
    return fmax(send, recv) / bw;
}

/* What two-batch overlap needs to know of one MoE layer beyond its work and its exchange
 * (layer_time): the time of the work that runs before the dispatch besides the mixer (the
 * gate), and the dispatch's share of the exchange (the rest is the combine). */
typedef struct moe_split {
    double pre_s, disp_s;
    bool sm_comm;   /* the exchange runs on kernels that occupy SMs (normal, not low-latency) */
} moe_split;

/* SMs DeepEP's normal (high-throughput) kernels take: deep_ep/buffer.py, `Buffer.num_sms = 20`
 * ("the SMs used in high-throughput kernels", deepseek-ai/DeepEP at 1a0a8bd, its first
 * release). Its low-latency kernels take none while the data is in flight (README: the
 * receiving hook overlaps "without any SM occupation"), and DeepSeek's profile-data README
 * says the same of its decode exchange "unlike in prefilling". */
#define DEEPEP_NORMAL_SMS 20

/* Expert-parallel dispatch and combine for one MoE layer. The dispatch's time is added to
 * *disp_s (may be NULL): two-batch overlap hides the two phases behind different parts of the
 * other micro-batch's layer (layer_time). */
static void ep_alltoall(acc *a, const ctx *c, double T_src, const sim_routing_stats *rs, bool prefill,
                        double *disp_s)
{
    const sim_deploy *d = c->d;
    const sim_hw *hw = d->hw;
    int ep = d->ep, k = c->m->ffn.top_k;
    if (ep <= 1 || T_src <= 0)
        return;
    double h = c->m->hidden;
    double disp_b = c->k->a2a_disp_bytes, comb_b = 2.0;
    int node = hw->scale_up.domain_size > 1 ? hw->scale_up.domain_size : 1;
    bool inside = ep <= node;
    sim_a2a_transport tr = d->transport;
    if (tr == SIM_A2A_AUTO)
        tr = inside ? SIM_A2A_NVLINK : (prefill ? SIM_A2A_PER_NODE : SIM_A2A_PER_EXPERT);
    if (tr == SIM_A2A_NVLINK && !inside)
        tr = SIM_A2A_PER_NODE; /* one-sided NVLink cannot reach past the scale-up domain */

    /* Published dispatch and combine bandwidth (DeepEP and the like) for this link, kernel
     * mode (low-latency kernels for decode, normal ones for prefill), EP size and tokens per
     * rank replace the hwmodel's link share where a row covers the shape. */
    bool over_nics = !inside;
    sim_kernel_link kl = over_nics ? SIM_KLINK_RDMA : c->k->scale_up_link;
    sim_kernel_query kq = { .op = SIM_KOP_ALL_TO_ALL, .link = kl, .x = T_src, .family = ep,
                            .prefer = c->k->prefer };
    sim_kernel_hit hd = a2a_measured(c, kq, 0, prefill), hc = a2a_measured(c, kq, 1, prefill);

    /* Remote copies per source token, and the busiest receiver's tokens, by transport. */
    double remote_ranks = rs->mean_dest_ranks_per_token * c->k->a2a_remote;
    double t_disp = 0, t_comb = 0, bytes = 0;
    if (tr == SIM_A2A_PER_EXPERT) {
        double copies = k * c->k->a2a_remote;
        double recv = rs->max_tokens_per_rank;
        double eta;
        const sim_link *l = sim_comm_tier(hw, ep, &eta);
        double send_d = sim_comm_a2a_bytes(T_src, copies, h, disp_b), recv_d = recv * h * disp_b;
        double send_c = sim_comm_a2a_bytes(T_src, copies, h, comb_b), recv_c = recv * h * comb_b;
        t_disp = sim_comm_p2p_s(l, hd.share > 0 ? hd.share : eta, fmax(send_d, recv_d));
        t_comb = sim_comm_p2p_s(l, hc.share > 0 ? hc.share : eta, fmax(send_c, recv_c));
        bytes = send_d + send_c;
    } else if (tr == SIM_A2A_NVLINK) {
        double eta;
        const sim_link *l = sim_comm_tier(hw, ep, &eta);
        double recv = rs->max_token_copies_per_rank;
        double send_d = sim_comm_a2a_bytes(T_src, remote_ranks, h, disp_b), recv_d = recv * h * disp_b;
        double send_c = sim_comm_a2a_bytes(T_src, remote_ranks, h, comb_b), recv_c = recv * h * comb_b;
        t_disp = sim_comm_p2p_s(l, hd.share > 0 ? hd.share : eta, fmax(send_d, recv_d));
        t_comb = sim_comm_p2p_s(l, hc.share > 0 ? hc.share : eta, fmax(send_c, recv_c));
        bytes = send_d + send_c;
    } else { /* per node: one copy per remote node over the NIC, then NVLink forwarding */
        int nodes = (ep + node - 1) / node;
        double remote_nodes = rs->mean_dest_nodes_per_token * (nodes > 1 ? 1.0 - 1.0 / nodes : 0.0);
        double nic_d = sim_comm_a2a_bytes(T_src, remote_nodes, h, disp_b);
        double nic_c = sim_comm_a2a_bytes(T_src, remote_nodes, h, comb_b);
        double fwd_d = sim_comm_a2a_bytes(T_src, remote_ranks, h, disp_b);
        double fwd_c = sim_comm_a2a_bytes(T_src, remote_ranks, h, comb_b);
        double eta_o = hw->eff.link_scale_out, eta_u = hw->eff.link_scale_up;
        /* the two tiers work as a pipeline: the slower one sets the pace; a published RDMA
         * figure gives the NIC's share */
        t_disp = fmax(sim_comm_p2p_s(&hw->scale_out, hd.share > 0 && over_nics ? hd.share : eta_o, nic_d),
                      node > 1 ? sim_comm_p2p_s(&hw->scale_up, eta_u, fwd_d) : 0);
        t_comb = fmax(sim_comm_p2p_s(&hw->scale_out, hc.share > 0 && over_nics ? hc.share : eta_o, nic_c),
                      node > 1 ? sim_comm_p2p_s(&hw->scale_up, eta_u, fwd_c) : 0);
        bytes = nic_d + nic_c;
    }
    /* DeepEP's internode rows count their bytes their own way (kernels.h): its time replaces
     * the transport's for the phase it covers. */
    if (over_nics && hd.share > 0 && hd.count != SIM_KCOUNT_LINK)
        t_disp = deepep_phase_s(c, &hd, rs, T_src, false);
    if (over_nics && hc.share > 0 && hc.count != SIM_KCOUNT_LINK)
        t_comb = deepep_phase_s(c, &hc, rs, T_src, true);
    add_comm(a, SIM_LK_EP_COMM, t_disp + t_comb, bytes);
    if (disp_s)
        *disp_s += t_disp;
    note_comm_basis(a, SIM_LK_EP_COMM, hd.share > 0 && hc.share > 0 ? &hd : NULL);
    if ((hd.share > 0) != (hc.share > 0)) /* one phase measured, the other on the prior */
        note_comm_basis(a, SIM_LK_EP_COMM, hd.share > 0 ? &hd : &hc);
}

/* memfit's share per tier for one kind of expert weight; a placement built by hand (tests,
 * calibration) that sets only the combined expert_frac falls back to it. */
static const double *kind_frac(const double *kind, const double *all)
{
    for (int i = 0; i < SIM_MAX_TIERS; i++)
        if (kind[i] > 0)
            return kind;
    return all;
}

/* The shared experts of one layer for T tokens (every token runs them). */
static void shared_ops(acc *a, const ctx *c, double T)
{
    const sim_deploy *d = c->d;
    const sim_model *m = c->m;
    const sim_hw *hw = d->hw;
    double h = m->hidden;
    if (m->ffn.shared_experts > 0) {
        op sh = {
            .kind = SIM_LK_SHARED,
            .flops = 2 * c->k->shared.params * T,
            .peak = c->k->peak_shared,
            .c_curve = &c->k->gemm_shared,
            .c_x = T,
            .act_bytes = T * c->k->shared.act * 2,
            .weight_bytes = c->k->shared.weight_bytes,
            .frac = kind_frac(c->fit->shared_frac, c->fit->expert_frac),
            .mem_curve = &hw->eff.memory,
            .dequant_s = c->k->shared.dequant_s,
            .kernels = 3,
            .groups_s = sim_curve_group_s(c->k->gemm_shared, T), /* one wider FFN */
            .hit = ffn_measured(c, KS_SHARED_UP, c->k->dt_shared, false, T, h, c->k->shared.inter, c->k->nmat),
        };
        matvec_op(c, &sh, SIM_WCLASS_SHARED, T, c->k->shared.params);
        add_op(a, c, &sh);
        if (sh.hit.share > 0)
            elementwise_op(a, c, T * c->k->pass.act_shared);
    }
}

/* Book `t` seconds of a CPU-side part (compute- or memory-bound by the larger of t_c, t_m,
 * with t_o of fixed cost) under `kind`, scaled by `shown` (the share not hidden by overlap). */
static void book_host_part(acc *a, sim_layer_kind kind, double t_c, double t_m, double t_o, double shown)
{
    double t = t_c > t_m ? t_c : t_m;
    if (t_c > t_m)
        a->compute += t * shown;
    else
        a->memory += t * shown;
    a->overhead += t_o * shown;
    if (a->slim)
        return;
    a->kind[kind] += (t + t_o) * shown;
    a->curves[kind]++;
}

/* Routed experts of one layer on the host CPU beside the GPU (--experts-on cpu, --cpu-moe-layers):
 * the GPU has run attention and the router and runs the shared experts; the step's T tokens cross
 * PCIe to the CPU and back (T x hidden x 2 bytes each way, BF16/F32 activations rounded to 2 bytes,
 * at the GPU's host tier (tier 1) bandwidth x its memory efficiency; each copy one more GPU
 * operation, so the GPU's fixed cost per kernel); the CPU computes the touched experts, reading
 * their weights from its DRAM: max(FLOPs / (the host's peak for the expert format x its grouped
 * GEMM curve), bytes / (host DRAM bandwidth x its memory curve)) + its dequantization and fixed
 * costs (3 ops: gate/up, activation, down).
 *
 * Runtimes:
 * - llama.cpp (-ot exps=CPU, --n-cpu-moe): ggml_backend_sched splits the graph by backend and
 *   runs the splits one after the other, copying a split's inputs to its backend first
 *   (ggml-backend.c, ggml_backend_sched_compute_splits), so the GPU and the CPU take turns:
 *   the parts add. A batch of >= 32 tokens is instead offloaded: ggml-cuda's offload_op
 *   (min_batch_size 32, MUL_MAT_ID's batch = ne[2], the tokens) has the scheduler copy the
 *   layer's whole expert tensors (all E experts) to the GPU over PCIe and run the grouped GEMM
 *   there (`gpu_ex`, its weights then in GPU memory).
 * - ktransformers: routed experts on the CPU (its AMX / AVX-512 kernels), shared experts on the
 *   GPU, launched asynchronously (the decode step is one CUDA graph) so the CPU's experts and
 *   the PCIe copies run while the GPU computes the shared experts (KTransformers, SOSP'25,
 *   "asynchronous CPU-GPU task scheduling"; madsys.cs.tsinghua.edu.cn): only the part of the
 *   CPU path longer than `t_shared` shows. Its Expert Deferral (overlap with the next layer's
 *   attention, an option that changes the outputs) and its GPU prefill of long prompts are not
 *   modelled. */
/* Host experts behind the page cache (memfit's host_paged_tier > 0): the share of the touched
 * experts' bytes a step of T tokens faults in from the host's page-cache tier, the expected misses
 * of an LRU cache of host_resident_share x E slots per layer under the routing law (as expert_tiers
 * does for a device's own tiers); 0 when the host holds them all. */
static int host_miss_share(const ctx *c, double T, sim_step_result *facts, double *miss, sim_err *err)
{
    const sim_memfit *fit = c->fit;
    *miss = 0;
    if (fit->host_paged_tier <= 0)
        return SIM_OK;
    const sim_model *m = c->m;
    sim_routing_pagecache pc;
    int rc = sim_routing_pagecache_get(m->ffn.experts, m->ffn.top_k, c->d->skew,
                                       fit->host_resident_share * m->ffn.experts, T < 1 ? 1 : T, &pc, err);
    if (rc)
        return rc;
    *miss = pc.touched_per_step > 0 ? pc.misses_per_step / pc.touched_per_step : 0;
    facts->host_page_tier = fit->host_paged_tier;
    facts->host_page_tier_name = c->d->host_cpu->tiers[fit->host_paged_tier].name;
    facts->host_resident_share = fit->host_resident_share;
    facts->host_page_hit_rate = pc.hit_rate;
    return SIM_OK;
}

static int cpu_experts_ops(acc *a, const ctx *c, double T, const sim_routing_stats *rs, const op *gpu_ex,
                           double assign, double touched, double t_shared, sim_step_result *facts, sim_err *err)
{
    const sim_deploy *d = c->d;
    const sim_model *m = c->m;
    const sim_hw *gpu = d->hw, *cpu = d->host_cpu;
    double h = m->hidden, inter = m->ffn.expert_intermediate;
    double per_expert = (double)c->k->nmat * h * inter, wb = class_bytes(c, SIM_WCLASS_EXPERTS);
    double pcie_Bps = gpu->tiers[1].bandwidth_Bps * gpu->eff.memory.max;
    const sim_memfit *fit = c->fit;
    double page_Bps = fit->host_paged_tier > 0
                          ? cpu->tiers[fit->host_paged_tier].bandwidth_Bps * cpu->eff.memory.max : 0;

    if (d->cpu_moe_runtime == SIM_CPU_MOE_LLAMACPP && T >= 32) {
        double bytes = m->ffn.experts * per_expert * wb;
        /* the copy reads every expert of the layer from the mapping: a scan of all host experts
         * each step, larger than DRAM when paged, so the share DRAM does not hold is faulted in
         * from the page-cache tier every pass (the kindest replacement: LRU would miss it all) */
        double t_fault = page_Bps > 0 ? bytes * (1 - fit->host_resident_share) / page_Bps : 0;
        add_comm(a, SIM_LK_PCIE, t_fault + bytes / pcie_Bps + gpu->eff.kernel_overhead_s, bytes);
        note_comm_basis(a, SIM_LK_PCIE, NULL);
        op ex = *gpu_ex;
        ex.frac = NULL; /* copied into GPU memory for the op */
        add_op(a, c, &ex);
        return SIM_OK;
    }
    double miss;
    int rc = host_miss_share(c, T, facts, &miss, err);
    if (rc)
        return rc;
    double act = T * h * 2;
    double t_pcie = 2 * act / pcie_Bps + 2 * gpu->eff.kernel_overhead_s;

    const sim_curve gc = c->k->grouped_host;
    double groups_s = 0, eta = grouped_gemm_cost(gc, assign, touched, rs, &groups_s);
    double flops = 2 * per_expert * assign;
    double t_c = flops / (c->k->peak_host * (eta > 1e-6 ? eta : 1e-6)) +
                 dequant_time_on(c, cpu, c->k->dt_host, SIM_WCLASS_EXPERTS, touched * per_expert) /
                     c->k->host_numa_compute;
    /* one row per expert: the host's GGUF mat-vec shares, where its hwmodel gives them (matvec_op) */
    bool mv = c->k->mv_host_experts > 0 && touched > 0 && assign <= touched;
    if (mv)
        t_c = flops / c->k->mv_host_experts +
              dequant_time_other(c, cpu, SIM_WCLASS_EXPERTS, touched * per_expert) / c->k->host_numa_compute;
    double bytes = touched * per_expert * wb + assign * (2 * h + 3.0 * inter) * 2;
    double faulted = miss * touched * per_expert * wb; /* read from the page-cache tier, not DRAM */
    double eta_m = sim_curve_at(cpu->eff.memory, bytes - faulted);
    double t_m = (bytes - faulted) / (cpu->tiers[0].bandwidth_Bps * c->k->host_numa_bw * (eta_m > 1e-6 ? eta_m : 1e-6)) +
                 (faulted > 0 ? faulted / page_Bps : 0);
    double t_o = 3 * cpu->eff.kernel_overhead_s + groups_s;
    double t_cpu = (t_c > t_m ? t_c : t_m) + t_o;

    double shown = 1; /* llama.cpp: the GPU waits for the CPU */
    if (d->cpu_moe_runtime == SIM_CPU_MOE_KTRANSFORMERS) {
        double path = t_pcie + t_cpu;
        shown = path > t_shared && path > 0 ? (path - t_shared) / path : 0;
    }
    book_host_part(a, SIM_LK_CPU_EXPERTS, t_c, t_m, t_o, shown);
    if (!a->slim) {
        a->matvec[SIM_LK_CPU_EXPERTS] += mv;
        a->flops += flops;
        a->bytes += bytes;
    }
    add_comm(a, SIM_LK_PCIE, t_pcie * shown, 2 * act);
    note_comm_basis(a, SIM_LK_PCIE, NULL);
    return SIM_OK;
}

/* The MoE block of one layer: router, routed experts on the busiest rank, shared experts,
 * and the communication that moves tokens to the experts and back. */
/* Where the routed experts a step reads come from. Behind a page cache (memfit's paged_tier:
 * an mmap'd file, the routed experts that do not fit in memory in a page-cache tier), the
 * share read from that tier is the expected misses of an LRU cache of the resident slots
 * under the routing law, over the experts the step touches (sim_routing_pagecache_get, Che's
 * approximation); the popular experts mostly hit. Otherwise (a static placement) the spilled
 * share of the bytes is read from each tier in proportion. */
static int expert_tiers(const ctx *c, double T_group, double frac[SIM_MAX_TIERS], sim_step_result *facts,
                        sim_err *err)
{
    const sim_memfit *fit = c->fit;
    const double *f = kind_frac(fit->routed_frac, fit->expert_frac);
    memcpy(frac, f, SIM_MAX_TIERS * sizeof *frac);
    if (fit->paged_tier <= 0)
        return SIM_OK;
    const sim_model *m = c->m;
    sim_routing_pagecache pc;
    int rc = sim_routing_pagecache_get(m->ffn.experts, m->ffn.top_k, c->d->skew, fit->resident_experts,
                                       T_group < 1 ? 1 : T_group, &pc, err);
    if (rc)
        return rc;
    double miss = pc.touched_per_step > 0 ? pc.misses_per_step / pc.touched_per_step : 0;
    memset(frac, 0, SIM_MAX_TIERS * sizeof *frac);
    frac[0] = 1 - miss;
    frac[fit->paged_tier] = miss;
    facts->page_tier = fit->paged_tier;
    facts->resident_share = fit->expert_slots > 0 ? fit->resident_experts / fit->expert_slots : 0;
    facts->page_hit_rate = pc.hit_rate;
    facts->pinned_hit_rate = pc.pinned_hit_rate;
    return SIM_OK;
}

/* (long)llround(x), without the library call where x is in [0, 2^52): there x - trunc(x) is
 * exact, and a half rounds away from zero as llround's does. */
static inline long round_tokens(double x)
{
    if (!(x >= 0 && x < 0x1p52))
        return (long)llround(x);
    long t = (long)x;
    return t + (x - (double)t >= 0.5);
}

static int moe_ops(acc *a, acc *comm, const ctx *c, const sim_step_shape *s, double T_group,
                   sim_step_result *facts, moe_split *sp, sim_err *err)
{
    const sim_deploy *d = c->d;
    const sim_model *m = c->m;
    const sim_hw *hw = d->hw;
    double T = step_tokens(s);
    double h = m->hidden, E = m->ffn.experts;
    int moe_tp = c->k->moe_tp;

    sim_routing_query q = {
        .experts = m->ffn.experts,
        .top_k = m->ffn.top_k,
        .tokens = round_tokens(T_group),
        .ep = d->ep,
        .skew = d->skew,
        .redundant = d->redundant_experts,
        .eplb = d->eplb,
        /* EPLB places by past iterations' loads; a batch's popularity drifts from them
           (SIM_ROUTING_EPLB_DRIFT unless --eplb-drift) */
        .eplb_drift = d->eplb ? d->eplb_drift : 0,
        .seed = d->seed,
        .small_rows = c->cpu_experts ? c->k->grouped_host.small_rows : c->k->grouped_expert.small_rows,
    };
    /* tiles where the runtime's grouped kernel takes this many tokens (sim_curve.tile_from_tokens) */
    const sim_curve *gc = c->cpu_experts ? &c->k->grouped_host : &c->k->grouped_expert;
    q.tile_rows = T >= gc->tile_from_tokens ? gc->tile_rows : 0;
    q.ranks_per_node = c->k->ranks_per_node;
    sim_routing_stats rs;
    int rc = routing_get(c, &q, &rs, err);
    if (rc)
        return rc;

    /* routed experts on the busiest rank */
    double per_expert = c->k->expert.params;
    double assign = rs.max_tokens_per_rank;
    double touched = d->observed_experts > 0 ? d->observed_experts : rs.max_experts_per_rank;
    double m_per_expert = touched > 0 ? assign / touched : 0;
    double ex_frac[SIM_MAX_TIERS];
    if ((rc = expert_tiers(c, T_group, ex_frac, facts, err)))
        return rc;
    op ex = {
        .kind = SIM_LK_EXPERTS,
        .flops = 2 * per_expert * assign,
        .peak = c->k->peak_expert,
        .act_bytes = assign * c->k->expert.act * 2,
        .weight_bytes = touched * per_expert * class_bytes(c, SIM_WCLASS_EXPERTS),
        .frac = ex_frac,
        .mem_curve = &hw->eff.memory,
        .dequant_s = dequant_time(c, SIM_WCLASS_EXPERTS, touched * per_expert),
        .kernels = 3,
        .hit = ffn_measured(c, KS_EXPERTS_UP, c->k->dt_expert, true, m_per_expert, h, c->k->expert.inter, c->k->nmat),
    };
    /* the curves' efficiency and fixed cost per expert, where no kernel-table row answers */
    if (!(ex.hit.share > 0))
        ex.eta_c = grouped_gemm_cost(c->k->grouped_expert, assign, touched, &rs, &ex.groups_s);
    matvec_op(c, &ex, SIM_WCLASS_EXPERTS, m_per_expert, touched * per_expert);
    /* router: gate GEMM, top-k, permutation. Tiny FLOPs; launch-bound at small batch. Where the
     * experts rest on a fused-MoE measurement, that module's time already holds the top-k, the
     * permutation of the token copies and the finalize (combine), so only the gate GEMM is left
     * here (hwmodels/kernels/README.md: aiconfigurator's moe_perf times the whole module). */
    bool fused = !c->cpu_experts && ex.hit.share > 0 && ex.hit.fused_moe;
    op router = {
        .kind = SIM_LK_ROUTER,
        .flops = 2 * T * h * E,
        .peak = c->k->peak_attn,
        .eta_c = sim_curve_at(c->k->gemm_attn, T),
        .act_bytes = T * h * 2 + (fused ? 0 : T * m->ffn.top_k * (h * 2 * 2)), /* read tokens; gather and scatter the copies */
        .weight_bytes = h * E * 2,
        .frac = c->fit->other_frac,
        .mem_curve = &hw->eff.memory,
        .kernels = fused ? 2 : 5, /* norm, gate GEMM, top-k, permute, combine */
    };
    double before_router = acc_time(a);
    add_op(a, c, &router);
    bool measured_experts = !c->cpu_experts && ex.hit.share > 0;
    if (measured_experts) /* the norm before the block */
        elementwise_op(a, c, T * c->k->pass.norm_moe);
    if (sp) /* the gate runs before the dispatch, with the attention part of the layer */
        sp->pre_s += acc_time(a) - before_router;

    if (c->cpu_experts) {
        /* the shared experts stay on the GPU; the CPU experts' schedule against them is the runtime's */
        acc sh;
        acc_zero(&sh, c->slim);
        shared_ops(&sh, c, T);
        if ((rc = cpu_experts_ops(a, c, T, &rs, &ex, assign, touched, acc_time(&sh), facts, err)))
            return rc;
        acc_scale_add(a, &sh, 1);
    } else {
        add_op(a, c, &ex);
        if (measured_experts && !fused) /* each routed copy's activation */
            elementwise_op(a, c, assign * c->k->pass.act_expert);
        shared_ops(a, c, T);
    }

    /* Communication. Source tokens per device: the group's tokens spread over its devices. */
    double T_src = T_group / (d->tp * d->dp);
    bool prefill = s->prefill_tokens > s->decode_seqs * decode_q(s);
    if (sp) /* prefill exchanges run on the normal kernels (ep_alltoall), which take SMs */
        sp->sm_comm = prefill;
    if (d->ep > 1) {
        ep_alltoall(comm, c, T_src, &rs, prefill, sp ? &sp->disp_s : NULL);
        if (d->tp > 1) /* tokens split for dispatch are gathered back across the TP group */
            tp_allreduce(comm, c, T, 0.5);
        if (moe_tp > 1) {
            double bytes = assign / m->ffn.top_k * h * 2;
            sim_kernel_hit hit;
            add_comm(comm, SIM_LK_TP_COMM, allreduce_hit_s(c, KS_MOE_ALLREDUCE, moe_tp, bytes, &hit),
                     sim_comm_allreduce_bytes(moe_tp, bytes));
            note_comm_basis(comm, SIM_LK_TP_COMM, &hit);
        }
    } else if (moe_tp > 1) {
        /* experts split across tp*dp devices: every device needs every token of the group */
        double bytes = T_group * h * 2;
        sim_kernel_hit hit;
        add_comm(comm, SIM_LK_TP_COMM, allreduce_hit_s(c, KS_MOE_ALLREDUCE, moe_tp, bytes, &hit),
                 sim_comm_allreduce_bytes(moe_tp, bytes));
        note_comm_basis(comm, SIM_LK_TP_COMM, &hit);
    }

    if (c->slim) /* the step's time alone: no facts */
        return SIM_OK;
    facts->tokens_per_expert = m_per_expert;
    facts->experts_touched_per_rank = touched;
    facts->max_tokens_per_rank = assign;
    facts->imbalance = rs.mean_tokens_per_rank > 0 ? assign / rs.mean_tokens_per_rank : 1;
    facts->imbalance_unbalanced = rs.mean_tokens_per_rank > 0 ? rs.max_tokens_per_rank_unbalanced / rs.mean_tokens_per_rank : 1;
    facts->imbalance_placed = rs.mean_tokens_per_rank > 0 ? rs.max_tokens_per_rank_placed / rs.mean_tokens_per_rank : 1;
    return SIM_OK;
}

static sim_step_shape scale_shape(const sim_step_shape *s, double f)
{
    sim_step_shape r = *s;
    r.decode_seqs *= f;
    r.prefill_tokens *= f;
    r.prefill_seqs *= f;
    r.group_tokens *= f;
    return r;
}

static int ffn_costs(const ctx *c, const sim_step_shape *s, sim_ffn_slot ffn, double T, acc *work, acc *hideable,
                     sim_step_result *facts, moe_split *sp, sim_err *err);

/* Cost of one layer of a kind: its mixer (attention, the state-space / linear-attention
 * mixer, or none) and its FFN (MoE, dense, or none), each followed by its TP all-reduce.
 * Communication that two-batch overlap can hide (EP) is kept apart in `hideable` (set for a MoE
 * FFN only: no other layer has any). With `sp` (may be NULL), sp->pre_s receives the mixer's
 * time plus the gate's, and sp->disp_s the dispatch's share of `hideable`. */
static int layer_costs(const ctx *c, const sim_step_shape *s, sim_mixer mixer, sim_ffn_slot ffn, double local_share,
                       acc *work, acc *hideable, sim_step_result *facts, moe_split *sp, sim_err *err)
{
    if (ffn == SIM_FFN_MOE) /* only the MoE's exchange is hideable: another layer leaves it unset */
        acc_zero(hideable, c->slim);
    double T = step_tokens(s);
    mixer_memo *mm = c->mixers && mixer != SIM_MIX_NONE ? &c->mixers[mixer] : NULL;
    if (mm && mm->valid && memcmp(&mm->s, s, sizeof *s) == 0) {
        acc_copy(work, &mm->a);
        if (sp)
            sp->pre_s += acc_time(work);
        return ffn_costs(c, s, ffn, T, work, hideable, facts, sp, err);
    }
    acc_zero(work, c->slim);
    if (mixer == SIM_MIX_ATTN && !(local_share > 0)) {
        /* every layer global: booked straight into the zeroed `work`, as adding it x 1 would */
        attention_ops(work, c, s, false);
        tp_allreduce(work, c, T, 1.0);
    } else if (mixer == SIM_MIX_ATTN) {
        acc full, local;
        acc_zero(&full, c->slim);
        acc_zero(&local, c->slim);
        attention_ops(&full, c, s, false);
        attention_ops(&local, c, s, true);
        acc_scale_add(work, &local, local_share);
        acc_scale_add(work, &full, 1 - local_share);
        tp_allreduce(work, c, T, 1.0);
    } else if (mixer == SIM_MIX_SSM) {
        ssm_ops(work, c, s);
        tp_allreduce(work, c, T, 1.0);
    }
    if (mm) {
        mm->valid = true;
        mm->s = *s;
        acc_copy(&mm->a, work);
    }
    if (sp)
        sp->pre_s += acc_time(work);
    return ffn_costs(c, s, ffn, T, work, hideable, facts, sp, err);
}

/* The FFN half of layer_costs. */
static int ffn_costs(const ctx *c, const sim_step_shape *s, sim_ffn_slot ffn, double T, acc *work, acc *hideable,
                     sim_step_result *facts, moe_split *sp, sim_err *err)
{
    if (ffn == SIM_FFN_MOE) {
        double group = s->group_tokens > 0 ? s->group_tokens : T * c->d->dp;
        int rc = moe_ops(work, hideable, c, s, group, facts, sp, err);
        if (rc)
            return rc;
    } else if (ffn == SIM_FFN_DENSE) {
        dense_ffn_ops(work, c, T);
        tp_allreduce(work, c, T, 1.0);
    }
    return SIM_OK;
}

/* The layer of two micro-batches under two-batch overlap, each part costed at half the tokens:
 * attention part `attn_s` (everything before the dispatch), MoE part `moe_s` (experts and
 * shared experts), dispatch `dispatch_s` and combine `combine_s` of one micro-batch. The
 * schedule is DeepEP's (deepseek-ai/DeepEP README, 'two micro-batch overlapping' figure,
 * figures/low-latency.png, the same pairing for its SM-occupying normal kernels): each phase
 * of one micro-batch's exchange runs behind ONE part of the other's work, so a layer is four
 * segments,
 *   [attention 1 | dispatch 0] [MoE 0 | dispatch 1] [MoE 1 | combine 0] [attention 0' | combine 1],
 * each as long as the longer of its two sides. SGLang's two-batch overlap yields at the same
 * places (operations attn | dispatch, mlp | combine: lmsys.org/blog/2025-05-05-large-scale-ep,
 * 'Abstraction for Clean Implementation'). A layer is never shorter than the work of both
 * micro-batches (2 (attn + moe)) nor than both exchanges (2 (dispatch + combine)).
 * `compute_share` is the share of the SMs the work keeps while an exchange runs beside it (1
 * when the exchange takes none): work w beside an exchange e advances at that share until the
 * exchange ends, so the segment lasts e when w <= share x e, else w + (1 - share) e. The work
 * is taken as compute-bound throughout (prefill, where SM-occupying kernels run). */
static double tbo_segment(double work_s, double comm_s, double compute_share)
{
    return work_s <= compute_share * comm_s ? comm_s : work_s + (1 - compute_share) * comm_s;
}

double sim_step_tbo_layer_s(double attn_s, double moe_s, double dispatch_s, double combine_s, double compute_share)
{
    double r = compute_share > 0 && compute_share <= 1 ? compute_share : 1;
    return tbo_segment(attn_s, dispatch_s, r) + tbo_segment(moe_s, dispatch_s, r) + tbo_segment(moe_s, combine_s, r) +
           tbo_segment(attn_s, combine_s, r);
}

/* The layer under the overlap scheme: none, or two micro-batches whose EP communication
 * hides behind the other's compute, each costed at half the tokens
 * (sim_step_tbo_layer_s). */
static int layer_time(const ctx *c, const sim_step_shape *s, sim_mixer mixer, sim_ffn_slot ffn, double local_share,
                      acc *out, sim_step_result *facts, sim_err *err)
{
    acc work, comm;
    bool moe = ffn == SIM_FFN_MOE;
    if (c->d->overlap == SIM_OVERLAP_NONE || !moe || c->d->ep <= 1) {
        /* the work and then the communication: `out` starts as the work (0 + w x 1 = w) */
        int rc = layer_costs(c, s, mixer, ffn, local_share, out, &comm, facts, NULL, err);
        if (rc)
            return rc;
        /* a layer without MoE has no hideable part; adding its zeros would leave `out` as it is
         * (an accumulator's sums start at +0 and only add, so none is -0, the one value + 0
         * changes) */
        if (moe)
            acc_scale_add(out, &comm, 1);
        return SIM_OK;
    }
    acc_zero(out, c->slim);
    sim_step_shape half = scale_shape(s, 0.5);
    moe_split sp = { 0 };
    int rc = layer_costs(c, &half, mixer, ffn, local_share, &work, &comm, facts, &sp, err);
    if (rc)
        return rc;
    double tw = acc_time(&work), tc = acc_time(&comm);
    acc_scale_add(out, &work, 2);
    /* Only the part of the layer spent waiting on the exchange shows as communication. */
    double attn = fmin(sp.pre_s, tw), disp = fmin(sp.disp_s, tc);
    int sms = c->d->hw->sms;
    double share = sp.sm_comm && sms > DEEPEP_NORMAL_SMS ? (double)(sms - DEEPEP_NORMAL_SMS) / sms : 1;
    double exposed = fmax(0, sim_step_tbo_layer_s(attn, tw - attn, disp, tc - disp, share) - 2 * tw);
    out->comm += exposed;
    facts->comm_total_s += 2 * tc;
    if (c->slim) /* adding the basis adds +0 to every total */
        return SIM_OK;
    out->comm_bytes += 2 * comm.comm_bytes;
    for (int i = 0; i < SIM_LK_COUNT; i++)
        out->kind[i] += tc > 0 ? comm.kind[i] * 2 * exposed / (2 * tc) : 0;
    acc basis_only;
    acc_zero(&basis_only, false); /* the exchange's basis, with none of its time */
    memcpy(basis_only.measured, comm.measured, sizeof basis_only.measured);
    memcpy(basis_only.curves, comm.curves, sizeof basis_only.curves);
    memcpy(basis_only.source, comm.source, sizeof basis_only.source);
    memcpy(basis_only.held, comm.held, sizeof basis_only.held);
    acc_scale_add(out, &basis_only, 1);
    return SIM_OK;
}

/* The LM head for `rows` logits rows, booked under `kind`. */
static void lm_head_op(acc *a, const ctx *c, double rows, sim_layer_kind kind)
{
    const sim_deploy *d = c->d;
    const sim_model *m = c->m;
    op head = {
        .kind = kind,
        .flops = 2 * c->k->head.params * rows,
        .peak = c->k->peak_attn,
        .c_curve = &c->k->gemm_attn,
        .c_x = rows,
        .act_bytes = rows * c->k->head.act,
        .weight_bytes = c->k->head.weight_bytes,
        .frac = c->fit->other_frac,
        .mem_curve = &d->hw->eff.memory,
        .kernels = 3, /* final norm, GEMM, sampling */
        .hit = gemm_measured(c, KS_HEAD, c->k->dt_attn, rows, c->k->head.n, m->hidden),
    };
    matvec_op(c, &head, SIM_WCLASS_HEAD, rows, c->k->head.params);
    add_op(a, c, &head);
}

/* One pass of the MTP module (or of an EAGLE-3 head: d->spec_method), proposing one draft
 * token for every decoding sequence: the
 * projection of [normed embedding; normed hidden state] (2h -> h), one decoder layer of the
 * model's own kind (DeepSeek-V3's MTP module is a MoE layer) and the shared LM head, at one
 * row per sequence against the sequence's context (DeepSeek-V3 technical report, section
 * 2.2, arXiv:2412.19437). TensorRT-LLM runs the module once per draft token ("autoregressive
 * MTP layers", tech blog 1), so k draft tokens cost k passes. The pass is booked whole under
 * SIM_LK_DRAFT, at the deployment's precisions (a checkpoint may keep the module in BF16).
 * An EAGLE-3 head (arXiv:2503.01840) is costed the same way with a 3h -> h fusion and a
 * dense layer; not costed: its first layer's QKV reads [embedding; fused state] (2h wide, one
 * more h x qkv matrix), and its reduced draft vocabulary (the model's LM head is costed). */
static int draft_pass(const ctx *c, const sim_step_shape *s, double local_share, acc *out, sim_err *err)
{
    const sim_deploy *d = c->d;
    const sim_model *m = c->m;
    acc_zero(out, c->slim);
    double rows = s->decode_seqs, T = step_tokens(s);
    sim_step_shape one = {
        .decode_seqs = rows,
        .decode_ctx = s->decode_ctx,
        /* the group's decode rows, one per sequence */
        .group_tokens = s->group_tokens > 0 && T > 0 ? s->group_tokens * rows / T : 0,
    };
    sim_step_result scratch; /* the main step's MoE facts stay the verify step's */
    memset(&scratch, 0, sizeof scratch);
    acc pass, layer;
    acc_zero(&pass, c->slim);
    /* the MTP layer is a full transformer layer (attention and the model's FFN) on hybrids too;
     * an EAGLE-3 head's is one dense layer (the request refuses it beside a MoE or hybrid card) */
    bool eagle3 = d->spec_method == SIM_SPEC_EAGLE3;
    int rc = layer_time(c, &one, SIM_MIX_ATTN, sim_model_is_moe(m) && !eagle3 ? SIM_FFN_MOE : SIM_FFN_DENSE, local_share,
                        &layer, &scratch, err);
    if (rc)
        return rc;
    acc_scale_add(&pass, &layer, 1);
    /* the fusion: MTP's [embedding; hidden] (2h -> h), EAGLE-3's fc over three of the target's
     * hidden states (3h -> h: SGLang llama_eagle3.py, SpecForge docs/concepts/EAGLE3.md) */
    double h = m->hidden, fan = eagle3 ? 3 : 2, pp = fan * h * h / d->tp;
    op proj = {
        .kind = SIM_LK_ATTN_PROJ,
        .flops = 2 * pp * rows,
        .peak = c->k->peak_dense,
        .eta_c = sim_curve_at(c->k->gemm_dense, rows),
        .act_bytes = rows * h * 2 * (fan + 1),
        .weight_bytes = pp * class_bytes(c, SIM_WCLASS_ATTN),
        .frac = c->fit->other_frac,
        .mem_curve = &d->hw->eff.memory,
        .dequant_s = dequant_time(c, SIM_WCLASS_ATTN, pp),
        .kernels = 3, /* two norms, the projection */
        .hit = gemm_measured(c, KS_DRAFT_PROJ, c->k->dt_dense, rows, h / d->tp, fan * h),
    };
    matvec_op(c, &proj, SIM_WCLASS_ATTN, rows, pp);
    add_op(&pass, c, &proj);
    lm_head_op(&pass, c, rows, SIM_LK_LM_HEAD);
    /* every kind of the pass under one: the breakdown shows the draft's cost beside the verify step's */
    acc_copy(out, &pass);
    if (c->slim)
        return SIM_OK;
    memset(out->kind, 0, sizeof out->kind);
    memset(out->measured, 0, sizeof out->measured);
    memset(out->curves, 0, sizeof out->curves);
    memset(out->held, 0, sizeof out->held);
    out->kind[SIM_LK_DRAFT] = acc_time(&pass);
    for (int i = 0; i < SIM_LK_COUNT; i++) {
        out->measured[SIM_LK_DRAFT] += pass.measured[i];
        out->curves[SIM_LK_DRAFT] += pass.curves[i];
        out->held[SIM_LK_DRAFT] = out->held[SIM_LK_DRAFT] || pass.held[i];
        if (pass.measured[i] > 0)
            out->source[SIM_LK_DRAFT] = pass.source[i];
    }
    return SIM_OK;
}

/* One pass of a separate draft model (d->draft_model) proposing one token for every decoding
 * sequence: a decode step of the draft's own deployment (sim_deploy_draft: the target's tp
 * devices, its formats) at one row per sequence against the same context, booked whole under
 * SIM_LK_DRAFT. Its weights sit with the target's hot weights (memfit), so the draft alone
 * is placed as it would be first. The first pass of a step also takes the tokens accepted at
 * the last verification into the draft's cache (vLLM's draft runner feeds them as a short
 * prompt); that catch-up is folded into the pass, which for a small memory-bound draft reads
 * its weights once either way. */
static int draft_model_pass(const ctx *c, const sim_step_shape *s, acc *out, sim_err *err)
{
    sim_deploy dd;
    sim_deploy_draft(c->d, &dd);
    sim_memfit fit;
    sim_memfit_eval(&dd, s->decode_ctx, s->decode_seqs, &fit);
    sim_step_shape one = { .decode_seqs = s->decode_seqs, .decode_ctx = s->decode_ctx, .group_tokens = s->decode_seqs };
    sim_step_result r;
    if (sim_step_eval(&dd, &fit, &one, &r, err))
        return sim_wrap(err, "draft model %s", dd.model->name);
    acc_zero(out, c->slim);
    out->compute = r.compute_s;
    out->memory = r.memory_s;
    out->comm = r.comm_s;
    out->overhead = r.overhead_s;
    out->flops = r.flops;
    out->bytes = r.bytes;
    out->comm_bytes = r.comm_bytes;
    out->slow_bytes = r.slow_tier_bytes;
    memcpy(out->tier_bytes, r.tier_weight_bytes, sizeof out->tier_bytes);
    if (c->slim)
        return SIM_OK;
    out->kind[SIM_LK_DRAFT] = r.time_s;
    for (int i = 0; i < SIM_LK_COUNT; i++) {
        if (r.by_kind_s[i] <= 0)
            continue;
        if (r.basis[i] == SIM_BASIS_MEASURED || r.basis[i] == SIM_BASIS_MIXED) {
            out->measured[SIM_LK_DRAFT]++;
            out->source[SIM_LK_DRAFT] = r.basis_source[i];
        }
        if (r.basis[i] != SIM_BASIS_MEASURED)
            out->curves[SIM_LK_DRAFT]++;
        out->held[SIM_LK_DRAFT] = out->held[SIM_LK_DRAFT] || r.basis_held[i];
    }
    return SIM_OK;
}

/* `n` MoE layers of one mixer kind added to `stage`: those whose routed experts the host CPU
 * computes (the first cpu_moe_layers of the model's MoE layers, their share of n) costed apart
 * from the rest. */
static int moe_layers_time(ctx *c, const sim_step_shape *s, sim_mixer mixer, double local_share, double n,
                           acc *stage, sim_step_result *facts, sim_err *err)
{
    double cpu_n = c->m->ffn.moe_layers > 0 ? n * sim_deploy_cpu_moe_layers(c->d) / c->m->ffn.moe_layers : 0;
    acc layer;
    int rc;
    if (n - cpu_n > 0) {
        if ((rc = layer_time(c, s, mixer, SIM_FFN_MOE, local_share, &layer, facts, err)))
            return rc;
        acc_scale_add(stage, &layer, n - cpu_n);
    }
    if (cpu_n > 0) {
        c->cpu_experts = true;
        rc = layer_time(c, s, mixer, SIM_FFN_MOE, local_share, &layer, facts, err);
        c->cpu_experts = false;
        if (rc)
            return rc;
        acc_scale_add(stage, &layer, cpu_n);
    }
    return SIM_OK;
}

/* A hybrid model's stage: each (mixer, FFN) kind of layer costed once and multiplied by its
 * layers on the stage. A stage of lps layers holds the model's mix in proportion (the
 * pattern interleaves the kinds, so stages differ by at most a layer of each). */
static int hybrid_stage(ctx *c, const sim_step_shape *s, int lps, double local_share, acc *stage,
                        sim_step_result *facts, sim_err *err)
{
    double per_layer = (double)lps / c->m->layers;
    for (int mx = 0; mx < SIM_MIX_COUNT; mx++) {
        for (int f = 0; f < SIM_FFN_COUNT; f++) {
            double n = c->m->hybrid.combo[mx][f] * per_layer;
            if (n <= 0)
                continue;
            acc layer;
            double before = facts->comm_total_s;
            int rc;
            if (f == SIM_FFN_MOE) {
                rc = moe_layers_time(c, s, (sim_mixer)mx, local_share, n, stage, facts, err);
            } else {
                rc = layer_time(c, s, (sim_mixer)mx, (sim_ffn_slot)f, local_share, &layer, facts, err);
                if (!rc)
                    acc_scale_add(stage, &layer, n);
            }
            if (rc)
                return rc;
            facts->comm_total_s = before + (facts->comm_total_s - before) * n;
        }
    }
    return SIM_OK;
}

/* GCC 12 for aarch64 (Debian 12's: the compiler of a Raspberry Pi or an Arm server) miscompiled
 * set_basis's callers at -O1 and above: from its interprocedural summaries of what the function
 * writes (ipa-modref with ipa-pure-const: the code is right with both off, or the function
 * opaque, and wrong with either one alone off) a caller kept the basis cleared before the call, so every step's basis came out
 * empty on Arm and the breakdown named no source (found running the unit tests built for Arm
 * under qemu). noipa keeps the call opaque to those passes, at the cost of one call per step
 * evaluated with a breakdown (a slim one never calls it). */
#if defined(__GNUC__) && !defined(__clang__)
#define STEP_NOIPA __attribute__((noipa))
#else
#define STEP_NOIPA
#endif

/* Each kind's basis from the counts of its operations. Communication with no measured row
 * and fixed costs rest on the hwmodel's link shares and overheads; `curves` is what the
 * hwmodel's curves rest on (consts.curves_basis). */
STEP_NOIPA static void set_basis(sim_step_result *out, const acc *a, const sim_hw *hw, sim_basis curves)
{
    for (int i = 0; i < SIM_LK_COUNT; i++) {
        out->basis[i] = a->measured[i] > 0 ? (a->curves[i] > 0 ? SIM_BASIS_MIXED : SIM_BASIS_MEASURED)
                      : a->curves[i] > 0 || a->kind[i] > 0 ? curves
                                                           : SIM_BASIS_NONE;
        out->basis_held[i] = a->held[i];
        out->basis_matvec[i] = a->matvec[i] > 0;
        out->basis_gemm_shares[i] = a->gemm_shares[i] > 0;
        int src = a->source[i];
        out->basis_source[i] = a->measured[i] > 0 && src >= 0 && src < hw->kernels.n_sources ? src : -1;
    }
}

const char *sim_step_basis_key(const sim_step_result *r, const sim_hw *hw, sim_layer_kind kind)
{
    int src = (int)kind >= 0 && kind < SIM_LK_COUNT ? r->basis_source[kind] : -1;
    return src >= 0 && src < hw->kernels.n_sources ? hw->kernels.sources[src].key : "";
}

/* One GEMM of the attention projections: an n x k weight (n outputs, k inputs per token). */
static void attn_part(consts *k, double n, double kin)
{
    if (k->attn.n_parts >= ATTN_PROJ_PARTS)
        return;
    k->attn.part[k->attn.n_parts].n = n;
    k->attn.part[k->attn.n_parts].k = kin;
    k->attn.part[k->attn.n_parts].flops_tok = 2 * n * kin;
    k->attn.n_parts++;
}

/* The attention projections' terms (attention_ops): heads per device, the projections'
 * parameters (GQA: Q, K, V, O and an output gate; MLA: the low-rank Q, the KV down- and
 * up-projections and O), their FLOPs per token, the KV bytes of one context token. */
static void resolve_attn(const sim_deploy *d, consts *k)
{
    const sim_model *m = d->model;
    double h = m->hidden, nq = (double)m->attn.heads / d->tp;
    double kvb = k->kv_bytes, db = k->bytes_per[SIM_WCLASS_ATTN];
    double proj_params, proj_flops_tok, kv_row;
    k->attn.nq = nq;
    k->attn.kvh = 0;
    k->attn.n_parts = 0;
    if (m->attn.kind == SIM_ATTN_GQA) {
        double hd = m->attn.head_dim;
        double kvh = (double)m->attn.kv_heads / d->tp;
        if (kvh < 1)
            kvh = 1;
        k->attn.kvh = kvh;
        proj_params = h * nq * hd * 2 + 2 * h * kvh * hd;
        if (m->attn.output_gate)
            proj_params += h * nq * hd; /* the gate half of the query projection */
        proj_flops_tok = 2 * proj_params;
        kv_row = 2 * kvh * hd * kvb;                  /* K and V of one context token */
        k->attn.kernels = 6;
        /* the fused QKV projection (with the gate half where there is one), then the output */
        attn_part(k, proj_params / h - nq * hd, h); /* all but the output's h x nq hd */
        attn_part(k, h, nq * hd);
    } else {
        double qr = m->attn.q_lora_rank, kvr = m->attn.kv_lora_rank;
        double dn = m->attn.qk_nope_head_dim, dr = m->attn.qk_rope_head_dim, dv = m->attn.v_head_dim;
        double q = qr > 0 ? h * qr + qr * nq * (dn + dr) : h * nq * (dn + dr);
        double kv_down = h * (kvr + dr);
        double kv_up = kvr * nq * (dn + dv);
        double o = nq * dv * h;
        proj_params = q + kv_down + kv_up + o;
        /* Decode runs the absorbed form: W_UK and W_UV fold into the query and output, so
         * per token the up-projection costs nq*kvr*(dn+dv) MACs whatever the context. */
        proj_flops_tok = 2 * (q + kv_down + o) + 2 * kv_up;
        kv_row = (kvr + dr) * kvb;                           /* one latent row per token, shared by all heads */
        k->attn.kernels = 10;
        /* as SGLang and vLLM run them: the query's and the KV's down-projections as one GEMM
         * (fused_qkv_a_proj_with_mqa; DeepGEMM's README lists DeepSeek-V3's as N 2112, K 7168),
         * the query's up-projection, the KV up-projection (its weight's GEMM shape also for
         * decode's absorbed form, two batched products of the same FLOPs), the output */
        if (qr > 0) {
            attn_part(k, qr + kvr + dr, h);
            attn_part(k, nq * (dn + dr), qr);
        } else {
            attn_part(k, nq * (dn + dr), h);
            attn_part(k, kvr + dr, h);
        }
        attn_part(k, nq * (dn + dv), kvr);
        attn_part(k, h, nq * dv);
    }
    k->attn.proj_params = proj_params;
    k->attn.proj_flops_tok = proj_flops_tok;
    k->attn.kv_row = kv_row;
    k->attn.proj_n = nq * (m->attn.kind == SIM_ATTN_GQA ? m->attn.head_dim : m->attn.v_head_dim);
    k->attn.proj_weight_bytes = proj_params * db;
    k->attn.proj_dequant_s = dequant_time_k(k, SIM_WCLASS_ATTN, proj_params);
}

/* The FFNs' and the LM head's terms (dense_ffn_ops, shared_ops, moe_ops, lm_head_op). */
static void resolve_ffns(const sim_deploy *d, consts *k)
{
    const sim_model *m = d->model;
    double h = m->hidden;
    int moe_tp = k->moe_tp;
    k->dense.params = (double)k->nmat * m->hidden * m->ffn.dense_intermediate / d->tp;
    k->dense.inter = (double)m->ffn.dense_intermediate / d->tp;
    k->dense.act = 2.0 * m->hidden + 2.0 * m->ffn.dense_intermediate / d->tp;
    k->dense.weight_bytes = k->dense.params * k->bytes_per[SIM_WCLASS_DENSE_FFN];
    k->dense.dequant_s = dequant_time_k(k, SIM_WCLASS_DENSE_FFN, k->dense.params);

    k->shared.params = (double)k->nmat * h * m->ffn.shared_intermediate * m->ffn.shared_experts / d->tp;
    k->shared.inter = (double)m->ffn.shared_intermediate * m->ffn.shared_experts / d->tp;
    k->shared.act = 2 * h + 3.0 * m->ffn.shared_intermediate / d->tp;
    k->shared.weight_bytes = k->shared.params * k->bytes_per[SIM_WCLASS_SHARED];
    k->shared.dequant_s = dequant_time_k(k, SIM_WCLASS_SHARED, k->shared.params);

    k->expert.params = (double)k->nmat * h * m->ffn.expert_intermediate / moe_tp;
    k->expert.inter = (double)m->ffn.expert_intermediate / moe_tp;
    k->expert.act = 2 * h + 3.0 * m->ffn.expert_intermediate / moe_tp;
    k->expert.weight_bytes = k->expert.dequant_s = 0; /* by experts touched (moe_ops) */

    k->head.params = (double)m->hidden * m->vocab / d->tp;
    k->head.n = (double)m->vocab / d->tp;
    k->head.act = m->hidden * 2.0 + (double)m->vocab / d->tp * 4;
    k->head.weight_bytes = k->head.params * k->head_bytes;
}

/* Bytes per activation element a GEMM of compute type t reads: the engines quantize its input
 * to that type (FP8, INT8: one byte; NVFP4: 4 bits and one E4M3 scale per 16 elements), or
 * BF16. */
static double act_in_bytes(sim_dtype t)
{
    return t == SIM_DT_FP8 || t == SIM_DT_INT8 ? 1.0 : t == SIM_DT_FP4 ? 0.5 + 1.0 / 16 : 2.0;
}

/* The passes' bytes per token or row (elementwise_op). Residual add + RMSNorm over a token of
 * width h reads the residual and the block's output (BF16) and writes the new residual and the
 * next GEMM's input: (6 + b) h, b its bytes per element; under tensor parallelism the norm
 * rides in the all-reduce (0). An FFN activation over a row of width inter reads the up GEMM's
 * output (gate and up for a gated FFN, BF16) and writes the down GEMM's input. */
static void resolve_passes(const sim_deploy *d, consts *k)
{
    double h = d->model->hidden, up = k->nmat == 3 ? 4 : 2;
    double norm = d->tp > 1 ? 0 : h * 6;
    k->pass.norm_attn = norm > 0 ? norm + h * act_in_bytes(k->dt_dense) : 0;
    k->pass.norm_moe = norm > 0 ? norm + h * 2 : 0;   /* the gate reads it in BF16 */
    k->pass.norm_dense = k->pass.norm_attn;
    k->pass.act_expert = k->expert.inter * (up + act_in_bytes(k->dt_expert));
    k->pass.act_shared = k->shared.inter * (up + act_in_bytes(k->dt_shared));
    k->pass.act_dense = k->dense.inter * (up + act_in_bytes(k->dt_dense));
    /* the memory curve as a pass reads it: one saturating regime (its small-rows regime is for
     * GEMM rows and never set on the memory curve; hw.c) */
    const sim_curve *mc = &d->hw->eff.memory;
    k->pass.half = mc->half > 0 ? mc->half : 0;
    k->pass.per_byte = 1.0 / (k->bw_tier0 * mc->max);
}

/* The deployment's constants (consts), every field set. */
static void resolve_consts(const sim_deploy *d, consts *k)
{
    k->nmat = d->model->ffn.activation == SIM_ACT_SWIGLU ? 3 : 2;
    sim_deploy_weight_mix(d, k->w);
    /* The type each GEMM computes in: weight-only formats widen to 16-bit (hw.h). */
    /* a multi-socket CPU runs on its NUMA mode's share of cores and bandwidth (one socket: 1) */
    sim_numa_use nu;
    sim_deploy_numa(d, d->hw, &nu);
    k->numa_bw = nu.bw_factor;
    k->bw_tier0 = d->hw->tiers[0].bandwidth_Bps * k->numa_bw; /* (bw x numa) x eta, as before */
    k->numa_compute = nu.compute_factor;
    sim_deploy_numa(d, d->host_cpu, &nu);
    k->host_numa_bw = nu.bw_factor;
    k->host_numa_compute = nu.compute_factor;
    k->peak_dense = sim_hw_format_peak(d->hw, d->dense_fmt, &k->dt_dense) * k->numa_compute;
    k->peak_expert = sim_hw_format_peak(d->hw, d->expert_fmt, &k->dt_expert) * k->numa_compute;
    /* shared experts in their own format compute in its type (the same as the routed experts'
     * unless the checkpoint keeps them wider) */
    k->peak_shared = sim_hw_format_peak(d->hw, d->shared_fmt, &k->dt_shared) * k->numa_compute;
    k->peak_attn = sim_hw_peak_for(d->hw, sim_wformat_compute_chain(SIM_WF_BF16), &k->dt_attn) * k->numa_compute;
    /* the host CPU computes routed experts in the expert format's type there (AVX2 / AVX-512
     * VNNI / BF16 / AMX peaks: the host hwmodel's compute table) */
    k->peak_host = 0;
    k->dt_host = (sim_dtype)0;
    if (d->host_cpu)
        k->peak_host = sim_hw_format_peak(d->host_cpu, d->expert_fmt, &k->dt_host) * k->host_numa_compute;
    for (int cl = 0; cl < SIM_WCLASS_COUNT; cl++) {
        k->bytes_per[cl] = class_bytes_of(d, k, (sim_wclass)cl);
        resolve_dequant(d, k, (sim_wclass)cl);
    }
    k->head_bytes = sim_wmix_bytes(&k->w[SIM_WCLASS_HEAD], sim_deploy_head_fmt(d));
    resolve_matvec(d, k);
    k->scale_up_link = sim_comm_scale_up_kind(&d->hw->scale_up);
    k->gemm_dense = sim_hw_gemm_curve(d->hw, d->runtime, k->dt_dense, false);
    k->gemm_expert = sim_hw_gemm_curve(d->hw, d->runtime, k->dt_expert, false);
    k->gemm_shared = sim_hw_gemm_curve(d->hw, d->runtime, k->dt_shared, false);
    k->gemm_attn = sim_hw_gemm_curve(d->hw, d->runtime, k->dt_attn, false);
    k->grouped_expert = sim_hw_gemm_curve(d->hw, d->runtime, k->dt_expert, true);
    k->grouped_host = d->host_cpu ? sim_hw_gemm_curve(d->host_cpu, d->runtime, k->dt_host, true) : (sim_curve){ 0 };
    k->prefer = sim_engine_kernel_libraries(d->engine);
    k->kv_bytes = sim_wformat_bytes(d->kv_fmt);
    k->moe_tp = sim_deploy_moe_tp(d);
    int node = d->hw->scale_up.domain_size;
    k->ranks_per_node = 1;
    if (node > 1 && d->ep > 0 && d->ep % node == 0)
        k->ranks_per_node = node;
    else if (node > 1 && d->ep > 0 && node % d->ep == 0)
        k->ranks_per_node = d->ep;
    resolve_attn(d, k);
    resolve_ffns(d, k);
    resolve_passes(d, k);
    k->a2a_disp_bytes = sim_wformat_bytes(d->dispatch_fmt);
    k->a2a_remote = d->ep > 0 ? 1.0 - 1.0 / d->ep : 0; /* read only when ep > 1 */
    k->curves_basis = strcmp(d->hw->eff.provenance, "calibrated") == 0 ? SIM_BASIS_CALIBRATED : SIM_BASIS_PRIOR;
}

static bool consts_usable(const consts *k)
{
    return k->peak_dense > 0 && k->peak_expert > 0 && k->peak_shared > 0 && k->peak_attn > 0;
}

static int shape_check(const sim_step_shape *s, sim_err *err)
{
    if (s->decode_seqs < 0 || s->prefill_tokens < 0 || s->decode_ctx < 0 || s->prefill_ctx < 0)
        return sim_fail(err, SIM_EINPUT, "step: token counts and contexts must be >= 0");
    return SIM_OK;
}

static int no_compute_type(const sim_deploy *d, sim_err *err)
{
    return sim_fail(err, SIM_EINPUT, "%s: no compute type usable for %s / %s weights", d->hw->name,
                    sim_wformat_name(d->expert_fmt), sim_wformat_name(d->dense_fmt));
}

static int step_eval(ctx *cp, const sim_step_shape *s, sim_step_result *out, sim_err *err);

int sim_step_eval(const sim_deploy *d, const sim_memfit *fit, const sim_step_shape *s, sim_step_result *out,
                  sim_err *err)
{
    memset(out, 0, sizeof *out);
    int rc = shape_check(s, err);
    if (rc)
        return rc;
    consts k;
    resolve_consts(d, &k);
    if (!consts_usable(&k))
        return no_compute_type(d, err);
    ctx c = { .d = d, .fit = fit, .m = d->model, .k = &k };
    return step_eval(&c, s, out, err);
}

sim_step_plan *sim_step_plan_new(const sim_deploy *d, const sim_memfit *fit, sim_err *err)
{
    sim_step_plan *p = calloc(1, sizeof *p);
    if (!p) {
        sim_fail(err, SIM_EFAIL, "step: out of memory for a plan");
        return NULL;
    }
    p->d = d;
    p->fit = fit;
    resolve_consts(d, &p->k);
    return p;
}

void sim_step_plan_free(sim_step_plan *p)
{
    free(p);
}

void sim_step_plan_set_fit(sim_step_plan *p, const sim_memfit *fit)
{
    p->fit = fit;
}

int sim_step_plan_eval(sim_step_plan *p, const sim_step_shape *s, sim_step_result *out, sim_err *err)
{
    memset(out, 0, sizeof *out);
    int rc = shape_check(s, err);
    if (rc)
        return rc;
    if (!consts_usable(&p->k))
        return no_compute_type(p->d, err);
    tape_cursor tc;
    tape_begin(p, s, &tc);
    ctx c = { .d = p->d, .fit = p->fit, .m = p->d->model, .k = &p->k, .plan = p, .tape = &tc };
    rc = step_eval(&c, s, out, err);
    tape_end(&tc, rc);
    return rc;
}

int sim_step_plan_time(sim_step_plan *p, const sim_step_shape *s, double *time_s, sim_err *err)
{
    int rc = shape_check(s, err);
    if (rc)
        return rc;
    if (!consts_usable(&p->k))
        return no_compute_type(p->d, err);
    tape_cursor tc;
    tape_begin(p, s, &tc);
    ctx c = { .d = p->d, .fit = p->fit, .m = p->d->model, .k = &p->k, .plan = p, .tape = &tc, .slim = true };
    sim_step_result r; /* the MoE facts land here; only the totals the time needs are read back */
    r.comm_total_s = 0;
    rc = step_eval(&c, s, &r, err);
    tape_end(&tc, rc);
    if (rc)
        return rc;
    *time_s = r.time_s;
    return SIM_OK;
}

/* One step for a context whose constants are resolved. */
static int step_eval(ctx *cp, const sim_step_shape *s, sim_step_result *out, sim_err *err)
{
    ctx c = *cp;
    mixer_memo mixers[SIM_MIX_COUNT];
    for (int i = 0; i < SIM_MIX_COUNT; i++)
        mixers[i].valid = false;
    c.mixers = mixers;
    const sim_deploy *d = c.d;
    out->expert_dtype = c.k->dt_expert;
    out->dense_dtype = c.k->dt_dense;

    const sim_model *m = d->model;
    int lps = sim_deploy_layers_per_stage(d);
    int moe_stage = (m->ffn.moe_layers + d->pp - 1) / d->pp;
    if (moe_stage > lps)
        moe_stage = lps;
    int dense_stage = lps - moe_stage;
    /* the share of the attention layers with a local window (all layers on a plain card) */
    double local_share = m->hybrid.attn_layers > 0 ? (double)m->attn.local_layers / m->hybrid.attn_layers : 0;

    acc stage, layer;
    acc_zero(&stage, c.slim);
    int rc;
    if (m->hybrid.on) {
        if ((rc = hybrid_stage(&c, s, lps, local_share, &stage, out, err)))
            return rc;
    } else {
        if (moe_stage > 0 && (rc = moe_layers_time(&c, s, SIM_MIX_ATTN, local_share, moe_stage, &stage, out, err)))
            return rc;
        if (dense_stage > 0) {
            if ((rc = layer_time(&c, s, SIM_MIX_ATTN, SIM_FFN_DENSE, local_share, &layer, out, err)))
                return rc;
            acc_scale_add(&stage, &layer, dense_stage);
        }
        out->comm_total_s *= moe_stage;
    }

    /* LM head: one logits row per query token of a decoding sequence (a verifying sequence
     * checks each of its draft tokens) and per prompt that completes. */
    double rows = s->decode_seqs * decode_q(s) + s->prefill_seqs;
    if (rows > 0)
        lm_head_op(&stage, &c, rows, SIM_LK_LM_HEAD);
    if (s->draft_tokens > 0 && s->decode_seqs > 0) {
        acc pass;
        if ((rc = c.d->draft_model ? draft_model_pass(&c, s, &pass, err) : draft_pass(&c, s, local_share, &pass, err)))
            return rc;
        acc_scale_add(&stage, &pass, s->draft_tokens);
    }
    if (d->pp > 1) {
        double T = step_tokens(s), eta;
        const sim_link *l = sim_comm_tier(d->hw, d->gpus, &eta);
        double bytes = T * m->hidden * 2;
        add_comm(&stage, SIM_LK_PP_COMM, sim_comm_p2p_s(l, eta, bytes), bytes);
    }
    stage.overhead += d->hw->eff.step_overhead_s;
    if (c.slim) {
        out->stage_time_s = acc_time(&stage);
        out->time_s = out->stage_time_s * d->pp;
        return SIM_OK;
    }
    stage.kind[SIM_LK_STEP] += d->hw->eff.step_overhead_s;

    out->compute_s = stage.compute;
    out->memory_s = stage.memory;
    out->comm_s = stage.comm;
    out->overhead_s = stage.overhead;
    if (d->overlap == SIM_OVERLAP_NONE || d->ep <= 1)
        out->comm_total_s = stage.comm;
    else
        out->comm_total_s += stage.comm - stage.kind[SIM_LK_EP_COMM];
    memcpy(out->by_kind_s, stage.kind, sizeof out->by_kind_s);
    set_basis(out, &stage, d->hw, c.k->curves_basis);
    out->stage_time_s = acc_time(&stage);
    out->time_s = out->stage_time_s * d->pp;
    out->flops = stage.flops;
    out->bytes = stage.bytes;
    out->comm_bytes = stage.comm_bytes;
    out->slow_tier_bytes = stage.slow_bytes;
    memcpy(out->tier_weight_bytes, stage.tier_bytes, sizeof out->tier_weight_bytes);
    out->tokens = step_tokens(s);

    out->bound = sim_bound_of(out->compute_s, out->memory_s, out->comm_s, out->overhead_s);
    /* Under two-batch overlap only the exchange's excess over the other micro-batch's work
     * shows as communication; when the whole exchange outlasts the work, it sets the pace
     * (faster compute or memory would not shorten the step), so the step is
     * communication-bound whatever part of it is exposed. */
    if (d->overlap != SIM_OVERLAP_NONE && d->ep > 1 && out->comm_s > 0 &&
        out->comm_total_s >= out->compute_s + out->memory_s)
        out->bound = SIM_BOUND_COMM;
    return SIM_OK;
}

double sim_gemm_time(const sim_hw *hw, sim_dtype t, double m, double n, double k, double weight_bytes_per_elem,
                     bool grouped, double *t_compute, double *t_memory)
{
    double peak = hw->peak_flops[t];
    sim_curve c = sim_hw_gemm_curve(hw, SIM_RUNTIME_LLAMACPP, t, grouped); /* calibration: the base curves */
    sim_kernel_hit hit = { 0 };
    sim_kernel_query q = { .op = grouped ? SIM_KOP_GROUPED_GEMM : SIM_KOP_GEMM, .dtype = t, .x = m, .family = n * k };
    bool measured = sim_kernel_lookup(&hw->kernels, &q, &hit);
    double eta_c = measured ? hit.share : sim_curve_at(c, m);
    double flops = 2 * m * n * k;
    double tc = peak > 0 && eta_c > 0 ? flops / (peak * eta_c) : INFINITY;
    double bytes = n * k * weight_bytes_per_elem + m * (n + k) * 2;
    double eta_m = measured ? hit.share : sim_curve_at(hw->eff.memory, bytes);
    double tm = bytes / (hw->tiers[0].bandwidth_Bps * eta_m);
    if (t_compute)
        *t_compute = tc;
    if (t_memory)
        *t_memory = tm;
    return (tc > tm ? tc : tm) + hw->eff.kernel_overhead_s;
}

int sim_moe_layer_eval(const sim_deploy *d, const sim_memfit *fit, double tokens, sim_step_result *out, sim_err *err)
{
    memset(out, 0, sizeof *out);
    if (!sim_model_is_moe(d->model))
        return sim_fail(err, SIM_EINPUT, "%s has no MoE layer", d->model->name);
    consts k;
    resolve_consts(d, &k);
    ctx c = { .d = d, .fit = fit, .m = d->model, .k = &k };
    if (!consts_usable(&k))
        return sim_fail(err, SIM_EINPUT, "%s: no compute type usable for %s weights", d->hw->name,
                        sim_wformat_name(d->expert_fmt));
    /* tokens spread over the attention ranks of the group */
    sim_step_shape s = { .prefill_tokens = tokens / d->dp, .group_tokens = tokens };
    acc work = { 0 }, comm = { 0 };
    int rc = moe_ops(&work, &comm, &c, &s, tokens, out, NULL, err);
    if (rc)
        return rc;
    acc_scale_add(&work, &comm, 1);
    out->compute_s = work.compute;
    out->memory_s = work.memory;
    out->comm_s = work.comm;
    out->comm_total_s = work.comm;
    out->overhead_s = work.overhead;
    memcpy(out->by_kind_s, work.kind, sizeof out->by_kind_s);
    set_basis(out, &work, d->hw, k.curves_basis);
    out->stage_time_s = out->time_s = acc_time(&work);
    out->flops = work.flops;
    out->bytes = work.bytes;
    out->comm_bytes = work.comm_bytes;
    out->expert_dtype = k.dt_expert;
    out->dense_dtype = k.dt_dense;
    out->bound = sim_bound_of(out->compute_s, out->memory_s, out->comm_s, out->overhead_s);
    return SIM_OK;
}
