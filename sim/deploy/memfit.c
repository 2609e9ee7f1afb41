/* memfit.c: per-device memory: weights by stage and expert shard, KV cache, workspace,
 * and the spill of weights to slower memory tiers. */
#include "deploy/memfit.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

#define GB 1e9

double sim_memfit_usable_fraction(const sim_hw *hw)
{
    switch (hw->cls) {
    case SIM_HW_GPU:
        /* vLLM's default gpu_memory_utilization is 0.9: the rest is CUDA context, NCCL
         * buffers, CUDA graphs and allocator slack. */
        return 0.90;
    case SIM_HW_APPLE_GPU:
        /* Metal's recommendedMaxWorkingSetSize caps GPU-resident memory at about 75% of
         * unified memory on large-memory Macs (llama.cpp reports it at start-up). */
        return 0.75;
    case SIM_HW_CPU:
    default:
        /* The OS, page cache for everything else, and the inference process itself. */
        return 0.90;
    }
}

/* Routed expert bytes of the MoE layers whose experts live in host DRAM and run on the host
 * CPU (--experts-on cpu, --cpu-moe-layers): they leave the GPU's weights. The check allows this
 * with one GPU only (no EP or TP split of the experts). */
static double host_expert_bytes(const sim_deploy *d)
{
    int n = sim_deploy_cpu_moe_layers(d);
    if (n <= 0)
        return 0;
    sim_param_counts pc;
    sim_model_params(d->model, &pc);
    sim_wmix w[SIM_WCLASS_COUNT];
    sim_deploy_weight_mix(d, w);
    double eb = sim_wmix_bytes(&w[SIM_WCLASS_EXPERTS], d->expert_fmt);
    return (double)n * (d->model->ffn.experts + d->redundant_experts) * pc.expert_each * eb;
}

/* The host side of the CPU-expert split: the experts take the host CPU's DRAM (tier 0 of its
 * hwmodel, at the CPU class's usable share), and the GPU's host tier (tier 1, the same DRAM
 * seen over PCIe) has that much less room for spilled weights. Fails with the tier short and
 * by how much. */
static void host_experts_fit(const sim_deploy *d, sim_memfit *out, double *free_b)
{
    out->host_expert_bytes = host_expert_bytes(d);
    if (out->host_expert_bytes <= 0 || !d->host_cpu)
        return;
    const sim_hw *h = d->host_cpu;
    /* a multi-socket host: one socket's memory, or a copy of the experts on every socket */
    sim_numa_use nu;
    sim_deploy_numa(d, h, &nu);
    out->host_expert_bytes *= nu.weight_copies;
    out->host_weight_copies = nu.weight_copies;
    out->host_usable_bytes = h->tiers[0].capacity_bytes * nu.capacity_factor * sim_memfit_usable_fraction(h);
    if (d->hw->n_tiers > 1) {
        free_b[1] -= out->host_expert_bytes;
        if (free_b[1] < 0)
            free_b[1] = 0;
    }
    out->host_resident_share = 1;
    if (out->host_expert_bytes <= out->host_usable_bytes)
        return;
    /* llama.cpp memory-maps the GGUF file (use_mmap, its default) and leaves the tensors it
     * assigns to the CPU in that mapping ("CPU_Mapped model buffer"), so what DRAM cannot hold
     * is paged from the file on a miss, as for a CPU alone. ktransformers reads its GGUF experts
     * the same way: DeepSeek-R1 Q4_K_M (382 GB by its docs) runs on 256 GB of DRAM at ~0.5
     * tok/s, "the SSD serving as virtual memory" (kvcache-ai/ktransformers issue 560), and its
     * process shows little resident memory beside a large page cache (issue 212). */
    double over = out->host_expert_bytes - out->host_usable_bytes;
    int pt = 0, small = 0; /* a page-cache tier with room for the rest; one without */
    /* a copy per socket (--numa duplicate) is anonymous memory the runtime fills, not file pages */
    for (int i = 1; i < h->n_tiers && !pt && nu.weight_copies <= 1; i++)
        if (h->tiers[i].page_cache && h->tiers[i].capacity_bytes >= over)
            pt = i;
        else if (h->tiers[i].page_cache && !small)
            small = i;
    if (pt > 0) {
        out->host_paged_tier = pt;
        out->host_resident_share = out->host_usable_bytes / out->host_expert_bytes;
        return;
    }
    char page[160];
    if (nu.weight_copies > 1)
        snprintf(page, sizeof page, " (copies made per socket are not file pages, so nothing is paged)");
    else if (small)
        snprintf(page, sizeof page, " and its %s (%.0f GB) cannot hold the rest to page it from", h->tiers[small].name,
                 h->tiers[small].capacity_bytes / GB);
    else
        snprintf(page, sizeof page, " and it has no page-cache tier (an SSD the weights are mapped from)");
    out->fits = false;
    snprintf(out->reason, sizeof out->reason,
             "the routed experts of %d MoE layers on the host CPU need %.1f GB of host DRAM%s, but %s's %s holds "
             "%.1f GB usable (%.0f%% of %.1f GB%s): host DRAM is short by %.1f GB%s; fewer --cpu-moe-layers, a "
             "smaller precision or a host with more memory could help",
             sim_deploy_cpu_moe_layers(d), out->host_expert_bytes / GB,
             nu.weight_copies > 1 ? " (a copy per socket, --numa duplicate)" : "", h->name, h->tiers[0].name,
             out->host_usable_bytes / GB, sim_memfit_usable_fraction(h) * 100,
             h->tiers[0].capacity_bytes * nu.capacity_factor / GB, nu.capacity_factor < 1 ? ", one socket's" : "",
             over / GB, page);
}

/* Weights one device holds, split into routed/shared experts (and the shared ones of them)
 * and everything else. */
static void weights_per_device(const sim_deploy *d, double *experts, double *shared, double *other)
{
    const sim_model *m = d->model;
    sim_param_counts pc;
    sim_model_params(m, &pc);
    int lps = sim_deploy_layers_per_stage(d);
    int moe_stage = (m->ffn.moe_layers + d->pp - 1) / d->pp;
    if (moe_stage > lps)
        moe_stage = lps;
    int dense_stage = lps - moe_stage;
    if (dense_stage > m->ffn.dense_layers)
        dense_stage = m->ffn.dense_layers;
    /* bytes per weight of each class: one format, or a GGUF recipe's mix (sim_deploy_weight_mix) */
    sim_wmix w[SIM_WCLASS_COUNT];
    sim_deploy_weight_mix(d, w);
    double eb = sim_wmix_bytes(&w[SIM_WCLASS_EXPERTS], d->expert_fmt);
    double sb = sim_wmix_bytes(&w[SIM_WCLASS_SHARED], d->shared_fmt);
    double ab = sim_wmix_bytes(&w[SIM_WCLASS_ATTN], d->dense_fmt);
    double db = sim_wmix_bytes(&w[SIM_WCLASS_DENSE_FFN], d->dense_fmt);
    sim_wformat hf = sim_deploy_head_fmt(d);
    double attn_n = lps, ssm_n = 0, moe_n = moe_stage, dense_n = dense_stage;
    if (m->hybrid.on) { /* the stage's share of each kind of layer, as step.c's hybrid_stage costs them */
        double f = (double)lps / m->layers;
        attn_n = m->hybrid.attn_layers * f;
        ssm_n = m->hybrid.ssm_layers * f;
        moe_n = m->ffn.moe_layers * f;
        dense_n = m->ffn.dense_layers * f;
    }

    double e = 0, sh = 0;
    if (sim_model_is_moe(m)) {
        double slots = (double)(m->ffn.experts + d->redundant_experts) / d->ep;
        sh = moe_n * pc.shared_per_layer / d->tp * sb;
        e = moe_n * slots * pc.expert_each / sim_deploy_moe_tp(d) * eb + sh;
    }
    /* router and norms: BF16, or F32 in a GGUF file (llama-quantize leaves 1-D tensors and
     * ffn_gate_inp unquantized; the converter writes them F32: gguf.h sim_gguf_file_bytes) */
    double vb = sim_wformat_is_gguf(d->dense_fmt) ? 4.0 : 2.0;
    /* state-space mixers' projections take the attention class's bytes (a GGUF recipe has no
     * class of its own for them) */
    double o = attn_n * pc.attn_per_layer / d->tp * ab + ssm_n * pc.ssm_per_layer / d->tp * ab +
               dense_n * pc.dense_ffn_per_layer / d->tp * db + moe_n * pc.router_per_layer * vb +
               pc.norms / d->pp * vb;
    /* Embedding and LM head; with pipeline stages the last one holds the head. */
    o += ((d->pp == 1 ? pc.embedding * sim_wmix_bytes(&w[SIM_WCLASS_EMBED], hf) : 0) +
          pc.lm_head * sim_wmix_bytes(&w[SIM_WCLASS_HEAD], hf)) / d->tp;
    *experts = e - host_expert_bytes(d);
    *shared = sh;
    *other = o;
}

/* An EAGLE-3 head's weights per device (--spec-method eagle3, dense cards only): one decoder
 * layer of the model's shape and its 3h -> h fusion, split over TP like the model's layers,
 * at the attention and dense-FFN formats; the LM head is the model's own, already counted.
 * Read at every draft pass: hot, with attention's. */
static double eagle3_head_bytes(const sim_deploy *d)
{
    const sim_model *m = d->model;
    sim_param_counts pc;
    sim_model_params(m, &pc);
    sim_wmix w[SIM_WCLASS_COUNT];
    sim_deploy_weight_mix(d, w);
    double ab = sim_wmix_bytes(&w[SIM_WCLASS_ATTN], d->dense_fmt);
    double db = sim_wmix_bytes(&w[SIM_WCLASS_DENSE_FFN], d->dense_fmt);
    double h = m->hidden;
    return ((pc.attn_per_layer + 3 * h * h) * ab + pc.dense_ffn_per_layer * db) / d->tp;
}

/* The MTP module's weights per device while it drafts (d->mtp_loaded): its layer split like
 * the model's (attention and shared experts over TP, routed experts over EP and expert TP, the
 * router and norms whole), its 2h -> h projection over TP like attention, at the deployment's
 * formats (step.c's draft pass reads it so); embedding and LM head are the target's
 * (sim_model_mtp_params). With pipeline stages the module sits after the last layer: counted
 * on the heaviest stage here, an over-count of one module when that is not the last. */
static void mtp_weights_per_device(const sim_deploy *d, double *experts, double *shared, double *other)
{
    *experts = *shared = *other = 0;
    const sim_model *m = d->model;
    if (!d->mtp_loaded || m->mtp_layers < 1)
        return;
    sim_mtp_params mp;
    sim_model_mtp_params(m, &mp);
    sim_wmix w[SIM_WCLASS_COUNT];
    sim_deploy_weight_mix(d, w);
    double eb = sim_wmix_bytes(&w[SIM_WCLASS_EXPERTS], d->expert_fmt);
    double sb = sim_wmix_bytes(&w[SIM_WCLASS_SHARED], d->shared_fmt);
    double ab = sim_wmix_bytes(&w[SIM_WCLASS_ATTN], d->dense_fmt);
    double db = sim_wmix_bytes(&w[SIM_WCLASS_DENSE_FFN], d->dense_fmt);
    double vb = sim_wformat_is_gguf(d->dense_fmt) ? 4.0 : 2.0;
    if (mp.routed_experts > 0) {
        double slots = (double)(m->ffn.experts + d->redundant_experts) / d->ep;
        *shared = mp.shared_experts / d->tp * sb;
        *experts = mp.routed_experts / m->ffn.experts * slots / sim_deploy_moe_tp(d) * eb + *shared;
    }
    *other = (mp.attention + mp.fusion) / d->tp * ab + mp.dense_ffn / d->tp * db + (mp.router + mp.norms) * vb;
}

/* Bytes of activations and buffers for one iteration of max_batched_tokens tokens. */
static double workspace(const sim_deploy *d)
{
    const sim_model *m = d->model;
    double t = d->max_batched_tokens, h = m->hidden;
    /* residual stream, normed input and attention output in BF16 */
    double bytes = 3 * t * h * 2;
    if (sim_model_is_moe(m)) {
        int k = m->ffn.top_k;
        double inter = (double)m->ffn.expert_intermediate / sim_deploy_moe_tp(d);
        /* dispatched copies (k per token), gate/up output (2 x inter) and activation (inter) */
        bytes += t * k * (h * 2 + 3 * inter * 2) / d->ep * (d->ep > 1 ? 2 : 1);
    } else if (m->ffn.dense_layers > 0) {
        bytes += t * 3.0 * m->ffn.dense_intermediate / d->tp * 2;
    }
    /* logits for one row per sequence of a full batch, FP32; vLLM's profile run samples
     * max_num_seqs rows (gpu_model_runner._dummy_sampler_run), its default per device class */
    double rows = d->engine == SIM_ENGINE_VLLM ? sim_engine_default_max_seqs(d->engine, d->hw) : 256.0;
    bytes += rows * m->vocab / d->tp * 4;
    return bytes;
}

static double kv_share(const sim_deploy *d)
{
    const sim_model *m = d->model;
    if (m->attn.kind == SIM_ATTN_MLA)
        return 1.0; /* the latent is shared by all heads: every TP rank keeps all of it */
    int kvh = m->attn.kv_heads, per = kvh / d->tp;
    if (per < 1)
        per = 1; /* KV heads are replicated when TP exceeds them */
    return (double)per / kvh;
}

/* The engine's accounting of tier 0 (sources in deploy.c for the fractions):
 *  vLLM (v1/worker/gpu_worker.py, determine_available_memory): KV = total x
 *    gpu_memory_utilization - weights - the profile run's peak activations - non-torch memory;
 *  SGLang (srt/model_executor/model_runner.py, profile_max_num_token): KV = free memory after
 *    loading the weights - total x (1 - mem_fraction_static), i.e. total x fraction - weights;
 *    activations and CUDA graphs live in the remainder;
 *  TensorRT-LLM (KvCacheConfig.free_gpu_memory_fraction): KV = fraction x the memory free after
 *    the weights and a profiling forward (activations).
 * Non-torch memory (NCCL buffers, cuBLAS workspaces; vLLM logs 0.01-3.6 GiB) and the CUDA
 * context are not modelled: they are not derivable from the model's shapes. *usable is what
 * weights, workspace (*ws_in) and KV share; the TensorRT-LLM fraction applies after. */
static void engine_share(const sim_deploy *d, double ws, double *total, double *usable, double *ws_in, double *frac)
{
    const sim_hw *hw = d->hw;
    *total = hw->tiers[0].reported_bytes > 0 ? hw->tiers[0].reported_bytes : hw->tiers[0].capacity_bytes;
    *frac = sim_engine_mem_fraction(d);
    *ws_in = ws;
    switch (d->engine) {
    case SIM_ENGINE_SGLANG:
        *usable = *total * *frac;
        *ws_in = 0;
        break;
    case SIM_ENGINE_TRTLLM:
        *usable = *total;
        break;
    default:
        *usable = *total * *frac;
        break;
    }
}


/* Hybrid models: the constant recurrent state one sequence holds on one device, in place of
 * KV in the state-space / linear-attention layers: the scan state (hybrid.state_format) and
 * the convolution's last inputs (BF16), over the stage's share of those layers, heads split
 * over TP (sim_model_ssm_state_elems). */
static double state_bytes_per_seq(const sim_deploy *d, double stage_share)
{
    const sim_model *m = d->model;
    if (!m->hybrid.on)
        return 0;
    double per_layer = sim_model_ssm_state_elems(m) * sim_wformat_bytes(m->hybrid.state_format) +
                       sim_model_ssm_conv_elems(m) * 2.0;
    return m->hybrid.ssm_layers * stage_share * per_layer / d->tp;
}

/* Place `bytes` into tiers from `first`, honouring spill permissions. Returns bytes left. */
static double place(const sim_deploy *d, double bytes, double *free_b, double *frac, int first)
{
    double placed_total = bytes;
    for (int i = first; i < d->hw->n_tiers && bytes > 0; i++) {
        if (i > 0 && !(d->offload || d->hw->tiers[i].spill_default))
            continue;
        double take = bytes < free_b[i] ? bytes : free_b[i];
        if (take <= 0)
            continue;
        free_b[i] -= take;
        bytes -= take;
        frac[i] += placed_total > 0 ? take / placed_total : 0;
    }
    return bytes;
}

/* The GPU side of the CPU-expert split does not hold what stays on it: which tier, by how much. */
static void gpu_short_reason(const sim_deploy *d, sim_memfit *out, double left)
{
    const sim_hw *hw = d->hw;
    out->fits = false;
    snprintf(out->reason, sizeof out->reason,
             "with the routed experts of %d MoE layers on the host CPU, %s still needs %.1f GB of weights on the GPU; "
             "%s holds %.1f GB usable (%.0f%% of %.1f GB, %.1f GB workspace)%s: short by %.1f GB; more "
             "--cpu-moe-layers or a smaller precision could help",
             sim_deploy_cpu_moe_layers(d), d->model->name, out->weight_bytes / GB, hw->tiers[0].name,
             out->usable_bytes / GB, out->mem_fraction * 100, out->capacity_bytes / GB, out->workspace_bytes / GB,
             hw->n_tiers > 1 && (d->offload || hw->tiers[1].spill_default) ? " and its spill tiers the rest" : "",
             left / GB);
}

/* How the routed experts that left tier 0 are read. All of them in one page-cache tier (an
 * mmap'd file: llama.cpp's default), with every other weight resident: the OS keeps what it
 * last used, and step.c reads misses of an LRU cache of `resident_experts` slots per layer
 * (sim_routing_pagecache_get). Otherwise (a static placement: llama.cpp's -ot / --n-cpu-moe
 * put whole per-layer expert tensors in a tier) the spilled share is read in proportion. */
static void spill_kind(const sim_deploy *d, sim_memfit *out)
{
    const sim_model *m = d->model;
    out->paged_tier = -1;
    out->expert_slots = sim_model_is_moe(m) ? (double)(m->ffn.experts + d->redundant_experts) / d->ep : 0;
    out->resident_experts = out->routed_frac[0] * out->expert_slots;
    /* one device holding every expert: the routing law is then the cache's request law (a
     * rank of a wider EP group sees only its slots' share; not modelled, read in proportion);
     * experts on the host CPU (--experts-on cpu) are a static split, not a page cache */
    if (d->ep != 1 || d->redundant_experts > 0 || out->host_expert_bytes > 0 || out->expert_slots <= 0 ||
        out->routed_frac[0] >= 1 - 1e-12 || out->other_frac[0] < 1 - 1e-12 ||
        (out->shared_weight_bytes > 0 && out->shared_frac[0] < 1 - 1e-12))
        return;
    for (int i = 1; i < d->hw->n_tiers; i++)
        if (out->routed_frac[i] > 0) {
            if (!d->hw->tiers[i].page_cache || out->routed_frac[0] + out->routed_frac[i] < 1 - 1e-9)
                return;
            out->paged_tier = i;
        }
}

void sim_memfit_eval(const sim_deploy *d, double ctx, double seqs, sim_memfit *out)
{
    const sim_hw *hw = d->hw;
    const sim_model *m = d->model;
    memset(out, 0, sizeof *out);
    int lps = sim_deploy_layers_per_stage(d);
    double stage_share = (double)lps / m->layers;

    weights_per_device(d, &out->expert_weight_bytes, &out->shared_weight_bytes, &out->other_weight_bytes);
    sim_deploy draft;
    if (d->draft_model) {
        /* a draft model's weights are read at every draft pass: hot, beside attention's */
        sim_deploy_draft(d, &draft);
        double de, dsh, dother;
        weights_per_device(&draft, &de, &dsh, &dother);
        out->draft_weight_bytes = de + dother;
        out->other_weight_bytes += out->draft_weight_bytes;
    }
    if (!d->draft_model && d->spec_method == SIM_SPEC_EAGLE3) {
        out->draft_weight_bytes = eagle3_head_bytes(d);
        out->other_weight_bytes += out->draft_weight_bytes;
    }
    double me, msh, mo;
    mtp_weights_per_device(d, &me, &msh, &mo);
    out->mtp_weight_bytes = me + mo;
    out->expert_weight_bytes += me;
    out->shared_weight_bytes += msh;
    out->other_weight_bytes += mo;
    out->weight_bytes = out->expert_weight_bytes + out->other_weight_bytes;
    out->workspace_bytes = workspace(d);
    double kvb = sim_wformat_bytes(d->kv_fmt) * kv_share(d) * stage_share;
    out->kv_bytes_per_token = sim_model_kv_elems_per_token(m) * kvb;
    out->kv_bytes_per_seq = sim_model_kv_elems(m, ctx) * kvb;
    out->state_bytes_per_seq = state_bytes_per_seq(d, stage_share);
    out->kv_bytes_per_seq += out->state_bytes_per_seq; /* a sequence's cache: its KV and its state */
    if (d->draft_model) { /* the draft keeps its own cache of every sequence it drafts for */
        double dkvb = sim_wformat_bytes(draft.kv_fmt) * kv_share(&draft);
        out->kv_bytes_per_token += sim_model_kv_elems_per_token(draft.model) * dkvb;
        out->kv_bytes_per_seq += sim_model_kv_elems(draft.model, ctx) * dkvb + state_bytes_per_seq(&draft, 1);
    }
    /* A multi-socket CPU (sim_deploy_numa): one socket reaches its own memory only; duplicated
     * weights take tier 0 once per socket. */
    sim_numa_use nu;
    sim_deploy_numa(d, hw, &nu);
    out->numa_copies = nu.weight_copies;
    out->capacity_bytes = hw->tiers[0].capacity_bytes * nu.capacity_factor;
    out->mem_fraction = sim_memfit_usable_fraction(hw);
    out->usable_bytes = out->capacity_bytes * out->mem_fraction;
    double ws_in = out->workspace_bytes; /* workspace inside the usable share */
    if (d->engine != SIM_ENGINE_NONE)
        engine_share(d, out->workspace_bytes, &out->device_total_bytes, &out->usable_bytes, &ws_in,
                     &out->mem_fraction);

    /* Keep room in tier 0 for the KV of the wanted batch (at least one sequence) before
     * any weight is allowed to spill. */
    double want = seqs < 1 ? 1 : seqs;
    double free_b[SIM_MAX_TIERS];
    for (int i = 0; i < hw->n_tiers; i++)
        free_b[i] = i == 0 ? out->usable_bytes - ws_in : hw->tiers[i].capacity_bytes;
    double kv_keep = out->kv_bytes_per_seq * want;
    if (free_b[0] - kv_keep < out->weight_bytes) {
        /* Weights would have to move out: keep KV for one sequence only, maximising what stays fast. */
        kv_keep = out->kv_bytes_per_seq;
    }
    /* Not even one sequence fits in what tier 0 has beside the workspace: then weights are
     * placed as if there were no KV, and the reason below names the KV, which is what does
     * not fit (reserving it first would push every weight out and blame the weights). */
    if (kv_keep > free_b[0])
        kv_keep = 0;
    free_b[0] -= kv_keep;
    if (free_b[0] < 0)
        free_b[0] = 0;
    host_experts_fit(d, out, free_b);
    bool host_short = out->host_expert_bytes > out->host_usable_bytes && out->host_paged_tier <= 0;

    /* Hot weights first: what every token reads (attention, dense layers, router, norms,
     * embeddings and head, shared experts) takes the fast tier before the routed experts,
     * each of which only some tokens read; experts spill first (llama.cpp's -ot exps=CPU,
     * ktransformers). */
    free_b[0] /= out->numa_copies; /* duplicated weights: each byte placed takes every socket's memory */
    double left_o = place(d, out->other_weight_bytes, free_b, out->other_frac, 0);
    double left_e = place(d, out->shared_weight_bytes, free_b, out->shared_frac, 0);
    double routed = out->expert_weight_bytes - out->shared_weight_bytes;
    left_e += place(d, routed, free_b, out->routed_frac, 0);
    for (int i = 0; i < hw->n_tiers; i++) {
        out->expert_frac[i] = out->expert_weight_bytes > 0
                                  ? (out->shared_frac[i] * out->shared_weight_bytes + out->routed_frac[i] * routed) /
                                        out->expert_weight_bytes
                                  : 0;
        if (out->expert_frac[i] > 0 || out->other_frac[i] > 0)
            out->tiers_used = i + 1;
    }
    spill_kind(d, out);

    double w0 = (out->expert_weight_bytes * out->expert_frac[0] + out->other_weight_bytes * out->other_frac[0]) *
                out->numa_copies;
    out->kv_budget_bytes = out->usable_bytes - ws_in - w0;
    if (d->engine == SIM_ENGINE_TRTLLM)
        out->kv_budget_bytes = out->mem_fraction * (out->usable_bytes - ws_in - w0);
    /* the tolerance keeps the sequence the spill reserved room for from rounding away */
    out->max_seqs =
        out->kv_bytes_per_seq > 0 ? (long)floor(out->kv_budget_bytes / out->kv_bytes_per_seq * (1 + 1e-9)) : 0;
    if (d->engine != SIM_ENGINE_NONE && out->kv_bytes_per_token > 0 && out->kv_budget_bytes > 0) {
        /* The engine's pool is whole blocks; a sequence of ctx tokens holds ceil(ctx / block). */
        int blk = out->kv_block_tokens = sim_engine_block(d->engine);
        double blocks = floor(out->kv_budget_bytes / (out->kv_bytes_per_token * blk));
        out->kv_tokens = blocks * blk;
        out->max_concurrency = ctx > 0 ? out->kv_tokens / ctx : 0;
        out->max_seqs = ctx > 0 ? (long)floor(blocks / ceil(ctx / blk)) : 0;
        if (out->state_bytes_per_seq > 0 && ctx > 0) {
            /* a hybrid model's sequence also holds its constant state beside its KV blocks
             * (the engines keep it in a pool of per-request slots): both come out of one budget */
            double per_seq = out->state_bytes_per_seq + ceil(ctx / blk) * blk * out->kv_bytes_per_token;
            out->max_seqs = (long)floor(out->kv_budget_bytes / per_seq);
            out->kv_tokens = floor((out->kv_budget_bytes - out->max_seqs * out->state_bytes_per_seq) /
                                   (out->kv_bytes_per_token * blk)) * blk;
            out->max_concurrency = (double)out->max_seqs;
        }
    }
    if (out->max_seqs < 0)
        out->max_seqs = 0;
    double seqs_held = seqs < out->max_seqs ? seqs : out->max_seqs;
    out->total_bytes = w0 + out->workspace_bytes + seqs_held * out->kv_bytes_per_seq;

    out->fits = !host_short;
    if (host_short) {
        /* the reason host_experts_fit wrote */
    } else if (left_e + left_o > 0 && out->host_expert_bytes > 0) {
        gpu_short_reason(d, out, left_e + left_o);
    } else if (left_e + left_o > 0) {
        out->fits = false;
        int allowed = 1;
        double cap = out->usable_bytes;
        for (int i = 1; i < hw->n_tiers; i++)
            if (d->offload || hw->tiers[i].spill_default) {
                allowed++;
                cap += hw->tiers[i].capacity_bytes;
            }
        snprintf(out->reason, sizeof out->reason,
                 "weights need %.1f GB per device%s (%s at %s, split tp=%d ep=%d pp=%d) but %s holds %.1f GB "
                 "(%.0f%% of %.1f GB usable, %.1f GB workspace)%s",
                 out->weight_bytes * out->numa_copies / GB,
                 out->numa_copies > 1 ? " (a copy per socket, --numa duplicate)"
                 : nu.capacity_factor < 1 ? " (on one socket's memory, --numa single)" : "",
                 m->name, sim_wformat_name(d->expert_fmt), d->tp, d->ep, d->pp,
                 allowed > 1 ? "memory with its allowed spill tiers" : hw->tiers[0].name,
                 (allowed > 1 ? cap : out->usable_bytes) / GB, out->mem_fraction * 100,
                 out->capacity_bytes / GB, out->workspace_bytes / GB,
                 hw->n_tiers > 1 && !d->offload ? "; more devices, a smaller precision or --offload could help" : "");
    } else if (out->max_seqs < 1) {
        out->fits = false;
        snprintf(out->reason, sizeof out->reason,
                 "the KV cache of one %.0f-token sequence needs %.2f GB per device, but only %.2f GB of %s is left "
                 "after %.1f GB of weights and %.1f GB workspace",
                 ctx, out->kv_bytes_per_seq / GB, out->kv_budget_bytes / GB, hw->tiers[0].name, w0 / GB,
                 out->workspace_bytes / GB);
    }
}
