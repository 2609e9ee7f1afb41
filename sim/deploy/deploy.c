/* deploy.c: deployment defaults, precision rules and the checks that a split can work. */
#include "deploy/deploy.h"

#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "step/routing.h"

/* The card's law, when it gives one; the fallback exponent otherwise. A card's imbalance was
 * checked at load (>= 1, and 1 when k = E), so solving it cannot fail but for memory. */
static void default_imbalance(sim_deploy *d, const sim_model *m)
{
    d->skew = SIM_DEPLOY_DEFAULT_SKEW;
    d->expert_imbalance = 0;
    d->imbalance_basis = SIM_IMBALANCE_FALLBACK;
    double skew;
    if (m->routing.imbalance >= 1 &&
        sim_routing_skew_for_ratio(m->ffn.experts, m->ffn.top_k, m->routing.imbalance, &skew, NULL) == SIM_OK) {
        d->skew = skew;
        d->expert_imbalance = m->routing.imbalance;
        d->imbalance_basis = SIM_IMBALANCE_CARD;
    } else if (m->routing.skew >= 0) {
        d->skew = m->routing.skew;
        d->imbalance_basis = SIM_IMBALANCE_CARD;
    }
}

int sim_deploy_set_skew(sim_deploy *d, double skew, sim_err *err)
{
    if (!(skew >= 0) || !isfinite(skew))
        return sim_fail(err, SIM_EINPUT, "skew must be a finite number >= 0 (got %g)", skew);
    d->skew = skew;
    d->expert_imbalance = 0;
    d->imbalance_basis = SIM_IMBALANCE_OPTION;
    return SIM_OK;
}

int sim_deploy_set_imbalance(sim_deploy *d, double ratio, sim_err *err)
{
    if (!(ratio >= 1) || !isfinite(ratio))
        return sim_fail(err, SIM_EINPUT,
                        "expert imbalance must be a finite busiest/idlest expert token ratio >= 1 (got %g; 1 = uniform)",
                        ratio);
    double skew = d->skew;
    /* A dense model has no experts to imbalance: the ratio is kept but moves nothing. */
    if (sim_model_is_moe(d->model)) {
        int rc = sim_routing_skew_for_ratio(d->model->ffn.experts, d->model->ffn.top_k, ratio, &skew, err);
        if (rc)
            return rc;
    }
    d->skew = skew;
    d->expert_imbalance = ratio;
    d->imbalance_basis = SIM_IMBALANCE_OPTION;
    return SIM_OK;
}

const char *sim_imbalance_basis_name(sim_imbalance_basis b)
{
    static const char *const names[] = {"fallback", "card", "option"};
    return names[b];
}


void sim_deploy_defaults(sim_deploy *d, const sim_model *m, const sim_hw *hw)
{
    memset(d, 0, sizeof *d);
    d->model = m;
    d->hw = hw;
    d->gpus = d->tp = d->ep = d->pp = d->dp = 1;
    sim_deploy_set_native_precision(d);
    d->kv_fmt = SIM_WF_BF16;
    d->dispatch_fmt = SIM_WF_FP8;
    d->transport = SIM_A2A_AUTO;
    d->overlap = SIM_OVERLAP_NONE;
    default_imbalance(d, m);
    d->redundant_experts = 0;
    d->eplb = false;
    d->eplb_drift = SIM_ROUTING_EPLB_DRIFT; /* sourced in step/routing.h */
    d->eplb_drift_given = false;
    d->offload = false;
    /* vLLM and SGLang default to 8192 batched tokens per iteration for chunked prefill. */
    d->max_batched_tokens = 8192;
    d->seed = 20250101;
}

static bool is_4bit(sim_wformat f)
{
    return sim_wformat_bits(f) <= 4;
}

void sim_deploy_set_precision(sim_deploy *d, sim_wformat p)
{
    /* --precision means every weight: a dense model quantizes whole, and an MoE model's
     * attention and dense layers follow its experts; --dense-precision overrides after. */
    d->expert_fmt = p;
    d->shared_fmt = p;
    d->dense_fmt = p;
    d->head_native = false;
}

void sim_deploy_set_dense_precision(sim_deploy *d, sim_wformat p)
{
    d->dense_fmt = p;
    d->head_native = false;
}

void sim_deploy_set_native_dense(sim_deploy *d)
{
    d->dense_fmt = d->model->native_dense;
    d->head_native = true;
}

/* The MTP module is loaded only to draft. vLLM's main model skips its weights
 * (DeepseekV2ForCausalLM.load_weights: "skip spec decode layers for main model",
 * vllm/model_executor/models/deepseek_v2.py @ b863fe5bf4e1), a separate DeepSeekMTP model loads
 * them when speculative_config asks for MTP; SGLang's main model skips layers past
 * num_hidden_layers unless loading the NextN draft (DeepseekV2ForCausalLM.load_weights,
 * is_nextn; python/sglang/srt/models/deepseek_v2.py @ 3e4a39ee7330). */
bool sim_deploy_mtp_drafts(const sim_deploy *d, int spec_tokens)
{
    return spec_tokens > 0 && !d->draft_model && d->spec_method == SIM_SPEC_MTP && d->model->mtp_layers > 0;
}

void sim_deploy_set_native_precision(sim_deploy *d)
{
    d->expert_fmt = d->model->native_experts;
    d->shared_fmt = d->model->native_shared;
    d->dense_fmt = d->model->native_dense;
    d->head_native = true;
}

sim_wformat sim_deploy_head_fmt(const sim_deploy *d)
{
    /* Unquantized by request, the head is what the checkpoint ships (the model card's
     * native_precision.head, with its source). */
    if (d->head_native)
        return d->model->native_head;
    if (sim_wformat_is_gguf(d->dense_fmt)) { /* the recipe's output.weight (token_embd when tied) */
        sim_wmix w[SIM_WCLASS_COUNT];
        sim_gguf_mix(d->model, d->dense_fmt, w);
        return sim_wmix_main(&w[d->model->tied_embeddings ? SIM_WCLASS_EMBED : SIM_WCLASS_HEAD], SIM_WF_Q8_0);
    }
    /* Serving stacks keep the embeddings and LM head in BF16 at 8-bit and wider formats (vLLM
     * and TensorRT-LLM FP8 exclude lm_head); llama.cpp's sub-8-bit mixes keep output.weight at
     * 6-8 bits (Q6_K or Q8_0 in llama_tensor_get_type, src/llama-quant.cpp): INT8 here. */
    return is_4bit(d->dense_fmt) ? SIM_WF_INT8 : SIM_WF_BF16;
}

void sim_deploy_weight_mix(const sim_deploy *d, sim_wmix out[SIM_WCLASS_COUNT])
{
    const sim_model *m = d->model;
    sim_param_counts pc;
    sim_model_params(m, &pc);
    sim_wmix g[SIM_WCLASS_COUNT];
    if (sim_wformat_is_gguf(d->expert_fmt)) {
        sim_gguf_mix(m, d->expert_fmt, g);
        out[SIM_WCLASS_EXPERTS] = g[SIM_WCLASS_EXPERTS];
    } else {
        sim_wmix_single(&out[SIM_WCLASS_EXPERTS], d->expert_fmt, pc.routed_experts);
    }
    if (sim_wformat_is_gguf(d->shared_fmt)) { /* the recipe's ffn_*_shexp types */
        sim_gguf_mix(m, d->shared_fmt, g);
        out[SIM_WCLASS_SHARED] = g[SIM_WCLASS_SHARED];
    } else {
        sim_wmix_single(&out[SIM_WCLASS_SHARED], d->shared_fmt, pc.shared_experts);
    }
    bool gguf_dense = sim_wformat_is_gguf(d->dense_fmt);
    if (gguf_dense) {
        sim_gguf_mix(m, d->dense_fmt, g);
        out[SIM_WCLASS_ATTN] = g[SIM_WCLASS_ATTN];
        out[SIM_WCLASS_DENSE_FFN] = g[SIM_WCLASS_DENSE_FFN];
    } else {
        sim_wmix_single(&out[SIM_WCLASS_ATTN], d->dense_fmt, pc.attention);
        sim_wmix_single(&out[SIM_WCLASS_DENSE_FFN], d->dense_fmt, pc.dense_ffn);
    }
    if (gguf_dense && !d->head_native) {
        out[SIM_WCLASS_EMBED] = g[SIM_WCLASS_EMBED];
        out[SIM_WCLASS_HEAD] = g[SIM_WCLASS_HEAD];
    } else {
        sim_wformat h = sim_deploy_head_fmt(d);
        sim_wmix_single(&out[SIM_WCLASS_EMBED], h, pc.embedding);
        sim_wmix_single(&out[SIM_WCLASS_HEAD], h, pc.lm_head);
    }
    if (m->tied_embeddings)
        out[SIM_WCLASS_HEAD] = out[SIM_WCLASS_EMBED];
    if (d->gguf_file_bytes > 0 && d->expert_fmt == d->gguf_file_fmt)
        sim_gguf_fit_file(m, out, d->gguf_file_bytes);
}

int sim_deploy_set_file_bytes(sim_deploy *d, double bytes, double *expert_bpw, sim_err *err)
{
    const double GIB = 1073741824.0;
    if (!sim_wformat_is_gguf(d->expert_fmt))
        return sim_fail(err, SIM_EINPUT, "a GGUF file's size needs a GGUF file type as the precision (q3_k_s, "
                        "q4_k_m, ...), not '%s'", sim_wformat_name(d->expert_fmt));
    d->gguf_file_bytes = 0;
    sim_wmix w[SIM_WCLASS_COUNT];
    sim_deploy_weight_mix(d, w);
    double others = 0; /* the other matrices' bytes by the recipe, for the message */
    for (int c = 0; c < SIM_WCLASS_COUNT; c++)
        if (c != SIM_WCLASS_EXPERTS && !(c == SIM_WCLASS_HEAD && d->model->tied_embeddings))
            others += w[c].total * sim_wmix_bytes(&w[c], SIM_WF_BF16);
    double bpw = sim_gguf_fit_file(d->model, w, bytes);
    if (bpw < 0 && !(w[SIM_WCLASS_EXPERTS].total > 0))
        return sim_fail(err, SIM_EINPUT, "%s has no routed experts to take up a stated file size (moesim places "
                        "the difference from the %s recipe in the routed experts)", d->model->name,
                        sim_wformat_name(d->expert_fmt));
    if (!(bpw >= SIM_GGUF_MIN_BPW) || bpw > 32)
        return sim_fail(err, SIM_EINPUT, "a %.2f GiB file leaves %s's routed experts %.2f bits per weight beside the "
                        "other tensors of the %s recipe (whose matrices alone take %.2f GiB); a GGUF tensor holds "
                        "%.4g (IQ1_S) to 32 (F32)", bytes / GIB, d->model->name, bpw, sim_wformat_name(d->expert_fmt),
                        others / GIB,
                        SIM_GGUF_MIN_BPW);
    d->gguf_file_bytes = bytes;
    d->gguf_file_fmt = d->expert_fmt;
    if (expert_bpw)
        *expert_bpw = bpw;
    return SIM_OK;
}

int sim_deploy_moe_tp(const sim_deploy *d)
{
    return d->ep > 0 ? d->tp * d->dp / d->ep : 1;
}

int sim_deploy_layers_per_stage(const sim_deploy *d)
{
    return (d->model->layers + d->pp - 1) / d->pp;
}

bool sim_deploy_in_scale_up(const sim_deploy *d, int n)
{
    return n <= 1 || n <= d->hw->scale_up.domain_size;
}

static int check_positive(int v, const char *name, sim_err *err)
{
    if (v < 1)
        return sim_fail(err, SIM_EINPUT, "%s must be a positive integer (got %d)", name, v);
    return SIM_OK;
}

int sim_deploy_formats(const sim_deploy *d, sim_deploy_fmt_use out[SIM_DEPLOY_FMT_USES])
{
    /* Attention and dense layers follow dense_fmt; a dense model's FFN is its experts' format.
     * Shared experts kept in a format of their own (a checkpoint that quantizes only the routed
     * ones) are a use of their own. */
    int n = 0;
    out[n++] = (sim_deploy_fmt_use){"experts", d->expert_fmt, SIM_FMT_NATIVE, false};
    if (d->model->ffn.shared_experts > 0 && d->shared_fmt != d->expert_fmt)
        out[n++] = (sim_deploy_fmt_use){"shared experts", d->shared_fmt, SIM_FMT_NATIVE, false};
    out[n++] = (sim_deploy_fmt_use){"dense layers", d->dense_fmt, SIM_FMT_NATIVE, false};
    out[n++] = (sim_deploy_fmt_use){"embeddings and LM head", sim_deploy_head_fmt(d), SIM_FMT_NATIVE, false};
    out[n++] = (sim_deploy_fmt_use){"KV cache", d->kv_fmt, SIM_FMT_NATIVE, true};
    for (int i = 0; i < n; i++)
        out[i].support = sim_hw_format_support(d->hw, out[i].fmt);
    return n;
}

bool sim_deploy_formats_supported(const sim_deploy *d)
{
    sim_deploy_fmt_use u[SIM_DEPLOY_FMT_USES];
    int n = sim_deploy_formats(d, u);
    for (int i = 0; i < n; i++)
        if (u[i].support == SIM_FMT_UNSUPPORTED)
            return false;
    return true;
}

void sim_deploy_emulated(const sim_deploy *d, char *out, int cap)
{
    sim_deploy_fmt_use u[SIM_DEPLOY_FMT_USES];
    int n = sim_deploy_formats(d, u), len = 0;
    out[0] = 0;
    if (!d->emulate)
        return;
    for (int i = 0; i < n && len < cap; i++) {
        if (u[i].support != SIM_FMT_UNSUPPORTED)
            continue;
        sim_dtype dt = SIM_DT_FP32;
        double peak = sim_hw_format_peak(d->hw, u[i].fmt, &dt);
        len += snprintf(out + len, (size_t)(cap - len), "%s%s %s %s%s", len ? "; " : "", sim_wformat_name(u[i].fmt),
                        u[i].what, u[i].stored_only ? "stored as if supported" : "computed as ",
                        u[i].stored_only ? "" : peak > 0 ? sim_dtype_name(dt) : "(no compute type)");
    }
}

/* Each stored format must be one the device runs (natively or weight-only through a shipped
 * kernel), unless the deployment asks to emulate it. */
static int check_formats(const sim_deploy *d, sim_err *err)
{
    sim_deploy_fmt_use u[SIM_DEPLOY_FMT_USES];
    int n = sim_deploy_formats(d, u);
    for (int i = 0; i < n; i++) {
        if (u[i].support != SIM_FMT_UNSUPPORTED || d->emulate)
            continue;
        char native[160], wonly[160];
        sim_hw_format_list(d->hw, SIM_FMT_NATIVE, native, sizeof native);
        sim_hw_format_list(d->hw, SIM_FMT_WEIGHT_ONLY, wonly, sizeof wonly);
        return sim_fail(err, SIM_EINPUT,
                        "precision: %s (%s) does not support %s (%s): it runs natively %s; weight-only %s "
                        "(hwmodel 'formats'). Choose one of those, or give --emulate (Lua: emulate = true) to run "
                        "%s anyway on a fallback compute type, marked emulated",
                        d->hw->name, d->hw->display_name, sim_wformat_name(u[i].fmt), u[i].what, native, wonly,
                        sim_wformat_name(u[i].fmt));
    }
    return SIM_OK;
}

/* Routed experts on the host CPU: one GPU (the split llama.cpp and ktransformers run on a
 * desktop or workstation), a GPU hwmodel whose tier 1 is its host DRAM over PCIe (the
 * activations cross it each layer), a CPU hwmodel for the host, and an expert format the
 * host's CPU runs. */
static int check_cpu_moe(const sim_deploy *d, sim_err *err)
{
    const sim_model *m = d->model;
    if (d->cpu_moe_layers <= 0 && !d->host_cpu)
        return SIM_OK;
    if (d->cpu_moe_layers < 0)
        return sim_fail(err, SIM_EINPUT, "cpu_moe_layers must be >= 0 (got %d)", d->cpu_moe_layers);
    if (d->cpu_moe_layers > 0 && !sim_model_is_moe(m))
        return sim_fail(err, SIM_EINPUT, "experts on the CPU: %s is a dense model, it has no routed experts", m->name);
    if (d->cpu_moe_layers > 0 && !d->host_cpu)
        return sim_fail(err, SIM_EINPUT,
                        "experts on the CPU: name the host CPU that computes them with --host-cpu NAME (a hwmodel of "
                        "class cpu, e.g. ryzen-7950x or laptop-ddr5); moesim has no sourced default host for %s",
                        d->hw->name);
    if (d->host_cpu->cls != SIM_HW_CPU)
        return sim_fail(err, SIM_EINPUT, "--host-cpu %s: a host CPU must be a hwmodel of class cpu (it is %s)",
                        d->host_cpu->name, sim_hw_class_name(d->host_cpu->cls));
    if (d->hw->cls != SIM_HW_GPU || d->hw->n_tiers < 2)
        return sim_fail(err, SIM_EINPUT,
                        "--host-cpu: %s is not a GPU with a host DRAM tier over PCIe (tier 1); the CPU beside a GPU "
                        "needs one (a CPU or unified-memory device computes its experts itself)", d->hw->name);
    if (d->gpus != 1)
        return sim_fail(err, SIM_EINPUT,
                        "experts on the CPU are modelled beside one GPU (llama.cpp --n-cpu-moe, ktransformers on one "
                        "card); got gpus = %d", d->gpus);
    if (d->cpu_moe_layers > 0 && !d->emulate &&
        sim_hw_format_support(d->host_cpu, d->expert_fmt) == SIM_FMT_UNSUPPORTED) {
        char list[256];
        sim_hw_format_list(d->host_cpu, SIM_FMT_NATIVE, list, sizeof list);
        return sim_fail(err, SIM_EINPUT,
                        "experts on the CPU: the host CPU %s does not run %s experts (native: %s); pick another "
                        "--precision or --emulate", d->host_cpu->name, sim_wformat_name(d->expert_fmt), list);
    }
    return SIM_OK;
}

/* A draft model proposes tokens the target verifies: the two must share a vocabulary (one
 * tokenizer), and the draft must be a model of its own that fits the target's split. */
static int check_draft(const sim_deploy *d, sim_err *err)
{
    const sim_model *dm = d->draft_model;
    if (!dm)
        return SIM_OK;
    if (dm->vocab != d->model->vocab)
        return sim_fail(err, SIM_EINPUT,
                        "draft_model: %s (vocabulary %d) cannot draft for %s (vocabulary %d): a draft model must "
                        "share the target's tokenizer", dm->name, dm->vocab, d->model->name, d->model->vocab);
    if (d->pp > 1)
        return sim_fail(err, SIM_EINPUT, "draft_model: a draft model beside pipeline stages (pp %d) is not modelled",
                        d->pp);
    if (d->host_cpu)
        return sim_fail(err, SIM_EINPUT, "draft_model: a draft model beside experts on the host CPU is not modelled");
    sim_deploy dd;
    sim_deploy_draft(d, &dd);
    int rc = sim_deploy_check(&dd, err);
    return rc ? sim_wrap(err, "draft_model %s", dm->name) : SIM_OK;
}

int sim_deploy_check(const sim_deploy *d, sim_err *err)
{
    const sim_model *m = d->model;
    int rc;
    if ((rc = check_positive(d->gpus, "gpus", err)) || (rc = check_positive(d->tp, "tp", err)) ||
        (rc = check_positive(d->ep, "ep", err)) || (rc = check_positive(d->pp, "pp", err)) ||
        (rc = check_positive(d->dp, "dp", err)))
        return rc;
    /* In 64 bits: three degrees of up to 1e9 each must not wrap into a plausible product. */
    long long devices = (long long)d->tp * d->dp * d->pp;
    if (devices != d->gpus)
        return sim_fail(err, SIM_EINPUT,
                        "parallelism: tp x dp x pp must equal gpus (%d x %d x %d = %lld, gpus = %d)",
                        d->tp, d->dp, d->pp, devices, d->gpus);
    if (d->numa != SIM_NUMA_DEFAULT && d->hw->numa.sockets <= 1 && !(d->host_cpu && d->host_cpu->numa.sockets > 1))
        return sim_fail(err, SIM_EINPUT,
                        "option 'numa' (%s) needs a multi-socket CPU: %s%s%s has one socket (a hwmodel's numa.sockets); "
                        "leave the option out", sim_numa_name(d->numa), d->hw->name, d->host_cpu ? " and its host " : "",
                        d->host_cpu ? d->host_cpu->name : "");
    int domain = d->hw->scale_up.domain_size > 1 && d->hw->scale_up.bandwidth_Bps > 0 ? d->hw->scale_up.domain_size : 1;
    if (d->gpus > domain && !(d->hw->scale_out.bandwidth_Bps > 0))
        return sim_fail(err, SIM_EINPUT,
                        "parallelism: %s has no network between %s (at most %d device%s per deployment, got gpus = %d)",
                        d->hw->name, domain > 1 ? "nodes" : "devices", domain, domain > 1 ? "s" : "", d->gpus);
    if (m->attn.heads % d->tp != 0)
        return sim_fail(err, SIM_EINPUT, "parallelism: tp (%d) must divide the attention heads of %s (%d)",
                        d->tp, m->name, m->attn.heads);
    if (m->attn.kind == SIM_ATTN_GQA && m->attn.kv_heads % d->tp != 0 && d->tp % m->attn.kv_heads != 0)
        return sim_fail(err, SIM_EINPUT,
                        "parallelism: tp (%d) must divide the KV heads of %s (%d) or be a multiple of them",
                        d->tp, m->name, m->attn.kv_heads);
    if (m->hybrid.on && (m->hybrid.heads % d->tp != 0 || (m->hybrid.groups % d->tp != 0 && d->tp % m->hybrid.groups != 0)))
        return sim_fail(err, SIM_EINPUT,
                        "parallelism: tp (%d) must divide the state-space heads of %s (%d) and divide its groups (%d) "
                        "or be a multiple of them", d->tp, m->name, m->hybrid.heads, m->hybrid.groups);
    if (d->pp > m->layers)
        return sim_fail(err, SIM_EINPUT, "parallelism: pp (%d) exceeds the layers of %s (%d)", d->pp, m->name,
                        m->layers);
    if (!sim_model_is_moe(m)) {
        if (d->ep != 1)
            return sim_fail(err, SIM_EINPUT, "parallelism: ep must be 1 for %s, a dense model (got %d)", m->name,
                            d->ep);
    } else {
        if (d->redundant_experts < 0)
            return sim_fail(err, SIM_EINPUT, "redundant_experts must be >= 0 (got %d)", d->redundant_experts);
        if ((m->ffn.experts + d->redundant_experts) % d->ep != 0)
            return sim_fail(err, SIM_EINPUT,
                            "parallelism: ep (%d) must divide the expert slots of %s (%d routed + %d redundant = %d)",
                            d->ep, m->name, m->ffn.experts, d->redundant_experts,
                            m->ffn.experts + d->redundant_experts);
        if ((d->tp * d->dp) % d->ep != 0)
            return sim_fail(err, SIM_EINPUT,
                            "parallelism: ep (%d) must divide the devices of a pipeline stage (tp x dp = %d)", d->ep,
                            d->tp * d->dp);
        int moe_tp = sim_deploy_moe_tp(d);
        if (m->ffn.expert_intermediate % moe_tp != 0)
            return sim_fail(err, SIM_EINPUT,
                            "parallelism: expert tensor-parallel degree tp x dp / ep = %d must divide the expert "
                            "FFN width of %s (%d)",
                            moe_tp, m->name, m->ffn.expert_intermediate);
    }
    if (d->skew < 0)
        return sim_fail(err, SIM_EINPUT, "skew must be >= 0 (got %g)", d->skew);
    if (d->max_batched_tokens < 1)
        return sim_fail(err, SIM_EINPUT, "max_batched_tokens must be >= 1 (got %d)", d->max_batched_tokens);
    if (d->engine != SIM_ENGINE_NONE && d->hw->cls != SIM_HW_GPU)
        return sim_fail(err, SIM_EINPUT,
                        "engine: %s's memory accounting is for GPUs; %s is not one (leave --engine out for it)",
                        sim_engine_name(d->engine), d->hw->name);
    if (d->mem_fraction < 0 || d->mem_fraction > 1)
        return sim_fail(err, SIM_EINPUT, "mem_fraction must be in (0, 1] (got %g; 0 = the engine's default)",
                        d->mem_fraction);
    if (d->mem_fraction > 0 && d->engine == SIM_ENGINE_NONE)
        return sim_fail(err, SIM_EINPUT, "mem_fraction is the fraction of an engine: give --engine vllm, sglang or trtllm");
    if ((rc = check_cpu_moe(d, err)))
        return rc;
    if ((rc = check_draft(d, err)))
        return rc;
    return check_formats(d, err);
}

void sim_deploy_draft(const sim_deploy *d, sim_deploy *out)
{
    const sim_model *dm = d->draft_model;
    sim_deploy_defaults(out, dm, d->hw);
    out->gpus = out->tp = d->tp;
    out->expert_fmt = sim_model_is_moe(dm) ? d->expert_fmt : d->dense_fmt;
    out->shared_fmt = out->expert_fmt;
    out->shared_fmt = sim_model_is_moe(dm) ? d->shared_fmt : d->dense_fmt;
    out->dense_fmt = d->dense_fmt;
    out->head_native = false;
    out->kv_fmt = d->kv_fmt;
    out->offload = d->offload;
    out->emulate = d->emulate;
    out->max_batched_tokens = d->max_batched_tokens;
    out->engine = d->engine;
    out->runtime = d->runtime;
    out->mem_fraction = d->mem_fraction;
    out->seed = d->seed;
    out->routing_cache = d->routing_cache;
}

int sim_deploy_cpu_moe_layers(const sim_deploy *d)
{
    if (d->cpu_moe_layers <= 0 || !sim_model_is_moe(d->model))
        return 0;
    return d->cpu_moe_layers < d->model->ffn.moe_layers ? d->cpu_moe_layers : d->model->ffn.moe_layers;
}

static const char *const cpu_moe_names[] = { "llamacpp", "ktransformers" };

const char *sim_cpu_moe_runtime_name(sim_cpu_moe_runtime r)
{
    return cpu_moe_names[r];
}

int sim_cpu_moe_runtime_parse(const char *s, sim_cpu_moe_runtime *out)
{
    for (int i = 0; i < 2; i++)
        if (strcasecmp(s, cpu_moe_names[i]) == 0) {
            *out = (sim_cpu_moe_runtime)i;
            return 0;
        }
    return -1;
}

static const char *const numa_names[] = { "default", "interleave", "duplicate", "single" };

const char *sim_numa_name(sim_numa_mode m)
{
    return (unsigned)m < 4 ? numa_names[m] : "?";
}

int sim_numa_parse(const char *s, sim_numa_mode *out)
{
    for (int i = 1; i < 4; i++) /* "default" is not an option value: leave the option out */
        if (strcasecmp(s, numa_names[i]) == 0) {
            *out = (sim_numa_mode)i;
            return 0;
        }
    return -1;
}

/* The runtime's NUMA default, and its source.
 * llama.cpp: one socket. Its --numa distribute pins threads evenly over the nodes and lets the
 *   mmap'd weights fault in where they are first touched (llama.cpp common/arg.cpp, --numa
 *   TYPE: distribute | isolate | numactl), but on dual-socket boxes users report one socket is
 *   faster: 2x Xeon 8480+ with an RTX 3090, Llama 4 Maverick: one socket 40 tok/s, --numa
 *   distribute 27, numactl --membind=0 40 again; the maintainer: "the best one can do is to just
 *   use one physical CPU" (ikawrakow/ik_llama.cpp discussion #396, a llama.cpp fork that kept
 *   its NUMA code).
 * ktransformers: weights duplicated per socket. Built with USE_NUMA=1 for dual-socket machines
 *   it keeps a copy of the expert weights on each NUMA node (kvcache-ai/ktransformers
 *   doc/en/DeepseekR1_V3_tutorial.md, "some explanations", as ik_llama.cpp discussion #201
 *   quotes it: "KTransformers just duplicates matrices on each NUMA domain"). */
static sim_numa_mode numa_default(const sim_deploy *d, const sim_hw *cpu, const char **runtime, const char **why)
{
    bool host = cpu == d->host_cpu && cpu != d->hw;
    if (host && d->cpu_moe_runtime == SIM_CPU_MOE_KTRANSFORMERS) {
        *runtime = "ktransformers";
        *why = "ktransformers' USE_NUMA=1 build keeps a copy of the weights on each NUMA node "
               "(kvcache-ai/ktransformers DeepseekR1_V3_tutorial.md)";
        return SIM_NUMA_DUPLICATE;
    }
    *runtime = "llama.cpp";
    *why = "on dual-socket boxes one socket beats --numa distribute (ikawrakow/ik_llama.cpp discussion #396: "
           "40 vs 27 tok/s on 2x Xeon 8480+)";
    return SIM_NUMA_SINGLE;
}

/* Each socket's threads read 1/S of a step's weight bytes B. Interleaved, (S-1)/S of that is on
 * the other sockets, B/S^2 from each: every directed socket pair's link carries B/S^2 while each
 * socket's memory serves B/S at BW/S. Time = max(B / BW, B / (S^2 L)), so the weights stream at
 * min(BW, S^2 L) (two sockets: half the bytes cross, a quarter each way, 4 L). Local accesses and
 * link transfers are taken to overlap (a bound: remote latency is not modelled). */
void sim_deploy_numa(const sim_deploy *d, const sim_hw *cpu, sim_numa_use *out)
{
    memset(out, 0, sizeof *out);
    out->sockets = 1;
    out->bw_factor = out->compute_factor = out->capacity_factor = out->weight_copies = 1;
    out->mode = SIM_NUMA_SINGLE;
    out->runtime = "";
    out->why = "";
    if (!cpu || cpu->numa.sockets <= 1)
        return;
    double S = cpu->numa.sockets;
    out->active = true;
    out->sockets = cpu->numa.sockets;
    const char *runtime = "", *why = "";
    sim_numa_mode dflt = numa_default(d, cpu, &runtime, &why);
    out->runtime = runtime;
    out->defaulted = d->numa == SIM_NUMA_DEFAULT;
    out->mode = out->defaulted ? dflt : d->numa;
    out->why = out->defaulted ? why : "as given";
    switch (out->mode) {
    case SIM_NUMA_INTERLEAVE: {
        double bw = cpu->tiers[0].bandwidth_Bps, link = S * S * cpu->numa.link_Bps;
        out->link_bound = link < bw;
        out->bw_factor = out->link_bound ? link / bw : 1;
        break;
    }
    case SIM_NUMA_DUPLICATE:
        out->weight_copies = S;
        break;
    case SIM_NUMA_SINGLE:
    default:
        out->bw_factor = out->compute_factor = out->capacity_factor = 1 / S;
        break;
    }
}

static const char *const a2a_names[] = { "auto", "per-expert", "per-node", "nvlink" };
static const char *const overlap_names[] = { "none", "two-batch" };

const char *sim_a2a_name(sim_a2a_transport t)
{
    return a2a_names[t];
}

int sim_a2a_parse(const char *s, sim_a2a_transport *out)
{
    for (int i = 0; i < 4; i++)
        if (strcasecmp(s, a2a_names[i]) == 0) {
            *out = (sim_a2a_transport)i;
            return 0;
        }
    return -1;
}

const char *sim_overlap_name(sim_overlap o)
{
    return overlap_names[o];
}

int sim_overlap_parse(const char *s, sim_overlap *out)
{
    for (int i = 0; i < 2; i++)
        if (strcasecmp(s, overlap_names[i]) == 0) {
            *out = (sim_overlap)i;
            return 0;
        }
    return -1;
}

int sim_deploy_split(sim_deploy *d, const sim_split_req *q, const char *pool, sim_err *err)
{
    if (q->gpus < 0 || q->tp < 0 || q->ep < 0 || q->pp < 0 || q->dp < 0)
        return sim_fail(err, SIM_EINPUT, "%sparallel degrees and gpus must be positive", pool);
    long long pp = q->pp ? q->pp : 1, dp = q->dp ? q->dp : 1, tp = q->tp ? q->tp : 1;
    /* Degrees are ints of at most 1e9 each; their products are formed in 64 bits and must
     * fit an int again, or the split names no real machine. */
    if (dp * pp > INT_MAX || (!q->gpus && tp * dp * pp > INT_MAX))
        return sim_fail(err, SIM_EINPUT, "%sparallel degrees too large: tp x dp x pp must be at most %d devices",
                        pool, INT_MAX);
    long long gpus = q->gpus ? q->gpus : tp * dp * pp;
    d->pp = (int)pp;
    d->dp = (int)dp;
    d->gpus = (int)gpus;
    d->tp = q->tp ? q->tp : (int)(gpus / (dp * pp));
    if (d->tp < 1)
        d->tp = 1;
    const sim_model *m = d->model;
    long long stage = (long long)d->tp * d->dp;
    if (q->ep)
        d->ep = q->ep;
    else if (sim_model_is_moe(m) && stage <= INT_MAX && m->ffn.experts % stage == 0)
        d->ep = (int)stage;
    else
        d->ep = 1;
    return SIM_OK;
}

void sim_deploy_set_redundant(sim_deploy *d, int redundant_experts, bool eplb)
{
    d->redundant_experts = redundant_experts;
    d->eplb = eplb || redundant_experts > 0;
}

int sim_deploy_set_eplb_drift(sim_deploy *d, double sigma, sim_err *err)
{
    if (!(sigma >= 0 && sigma <= SIM_DEPLOY_MAX_EPLB_DRIFT))
        return sim_fail(err, SIM_EINPUT, "EPLB drift must be a lognormal sigma in [0, %g] (got %g; 0 = the batch "
                        "follows the statistics EPLB placed by)", SIM_DEPLOY_MAX_EPLB_DRIFT, sigma);
    if (!d->eplb)
        return sim_fail(err, SIM_EINPUT, "EPLB drift needs EPLB placement (or redundant experts): it is the batch's "
                        "drift from the statistics EPLB places by, and without EPLB nothing is placed by them");
    d->eplb_drift = sigma;
    d->eplb_drift_given = true;
    return SIM_OK;
}

int sim_deploy_check_pools(const sim_deploy *d, const sim_deploy *prefill, sim_err *err)
{
    int rc = sim_deploy_check(d, err);
    if (rc || !prefill)
        return rc;
    if (prefill->model != d->model)
        return sim_fail(err, SIM_EINPUT, "prefill pool must serve the same model as the decode pool");
    if ((rc = sim_deploy_check(prefill, err)))
        return sim_wrap(err, "prefill pool");
    return SIM_OK;
}

/* --- serving engines --- */

static const char *const engine_names[] = { "none", "vllm", "sglang", "trtllm" };

const char *sim_engine_name(sim_engine e)
{
    return engine_names[e];
}

int sim_engine_parse(const char *s, sim_engine *out)
{
    for (int i = 1; i < SIM_ENGINE_COUNT; i++)
        if (strcasecmp(s, engine_names[i]) == 0) {
            *out = (sim_engine)i;
            return 0;
        }
    return -1;
}

#define GIB 1073741824.0

/* The device's total as the engine sees it: the driver's figure when the hwmodel has it. */
static double device_total(const sim_hw *hw)
{
    return hw->tiers[0].reported_bytes > 0 ? hw->tiers[0].reported_bytes : hw->tiers[0].capacity_bytes;
}

/* vLLM picks its larger scheduler defaults on devices of at least 70 GiB that are not A100s
 * (vllm/engine/arg_utils.py, EngineArgs.get_batch_defaults: "if device_memory >= 70 * GiB_bytes
 * and 'a100' not in device_name"). */
static bool vllm_large(const sim_hw *hw)
{
    bool a100 = false;
    for (const char *p = hw->name; *p && !a100; p++)
        a100 = strncasecmp(p, "a100", 4) == 0;
    return device_total(hw) >= 70 * GIB && !a100;
}

/* SGLang's small-GPU rule: gpu_mem < 25,000 MB (get_nvgpu_memory_capacity, in MiB as nvidia-smi
 * reports it). */
static bool sglang_small(const sim_hw *hw)
{
    return device_total(hw) / 1048576.0 < 25000;
}

void sim_deploy_set_engine(sim_deploy *d, sim_engine e)
{
    d->engine = e;
    switch (e) {
    case SIM_ENGINE_VLLM:
        /* `vllm serve` (OPENAI_API_SERVER usage context): 8192 batched tokens on large devices,
         * 2048 otherwise (EngineArgs.get_batch_defaults, as above). */
        d->max_batched_tokens = vllm_large(d->hw) ? 8192 : 2048;
        break;
    case SIM_ENGINE_SGLANG:
        /* chunked_prefill_size: 2048 below 25,000 MB, else 8192 (python/sglang/srt/server_args.py,
         * ServerArgs.__post_init__, v0.4). */
        d->max_batched_tokens = sglang_small(d->hw) ? 2048 : 8192;
        break;
    case SIM_ENGINE_TRTLLM:
        /* max_num_tokens default 8192 (tensorrt_llm/llmapi/llm_args.py, BaseLlmArgs). */
        d->max_batched_tokens = 8192;
        break;
    default:
        break;
    }
}

int sim_engine_default_max_seqs(sim_engine e, const sim_hw *hw)
{
    switch (e) {
    case SIM_ENGINE_VLLM:
        /* max_num_seqs: 1024 on large devices, 256 otherwise (get_batch_defaults). */
        return vllm_large(hw) ? 1024 : 256;
    case SIM_ENGINE_TRTLLM:
        /* max_batch_size default 2048 (llm_args.py, BaseLlmArgs). */
        return 2048;
    default:
        /* SGLang's max_running_requests defaults to what the KV pool holds. */
        return 0;
    }
}

int sim_engine_default_cuda_graph_max(sim_engine e, const sim_hw *hw)
{
    switch (e) {
    case SIM_ENGINE_VLLM: {
        /* max_cudagraph_capture_size = min(2 * max_num_seqs, 512) (vllm/config/compilation.py). */
        int s = 2 * sim_engine_default_max_seqs(e, hw);
        return s < 512 ? s : 512;
    }
    case SIM_ENGINE_SGLANG:
        /* cuda_graph_max_bs: 8 below 25,000 MB, else 160 (server_args.py, v0.4). */
        return sglang_small(hw) ? 8 : 160;
    default:
        return 0; /* TensorRT-LLM's default capture list was not sourced: no padding modelled */
    }
}

double sim_engine_mem_fraction(const sim_deploy *d)
{
    if (d->mem_fraction > 0)
        return d->mem_fraction;
    switch (d->engine) {
    case SIM_ENGINE_SGLANG: {
        /* mem_fraction_static by TP size: 0.79 at >= 16, 0.81 at >= 8, 0.85 at >= 4, 0.87 at >= 2,
         * else 0.88 (server_args.py, ServerArgs.__post_init__, v0.4). */
        /* SGLang's tp_size counts every rank of the model: with DP attention (moesim's dp) the
         * attention ranks of a stage are tp x dp of it */
        int tp = d->tp * d->dp;
        return tp >= 16 ? 0.79 : tp >= 8 ? 0.81 : tp >= 4 ? 0.85 : tp >= 2 ? 0.87 : 0.88;
    }
    case SIM_ENGINE_VLLM:
        /* gpu_memory_utilization default 0.9 (vllm/config/cache.py, CacheConfig). */
    case SIM_ENGINE_TRTLLM:
        /* KvCacheConfig.free_gpu_memory_fraction default 0.9 (llm_args.py). */
    default:
        return 0.9;
    }
}

const char *const *sim_engine_kernel_libraries(sim_engine e)
{
    /* What each engine runs: TensorRT-LLM its own kernels; SGLang DeepGEMM, DeepEP, FlashMLA and
     * FlashInfer (and rows measured in SGLang); vLLM its own kernels and the same libraries it
     * integrates (DeepGEMM, DeepEP all-to-all backends, FlashMLA and FlashInfer attention). */
    static const char *const trtllm[] = { "TensorRT-LLM", NULL };
    static const char *const sglang[] = { "SGLang", "DeepGEMM", "DeepEP", "FlashMLA", "FlashInfer", NULL };
    static const char *const vllm[] = { "vLLM", "DeepGEMM", "DeepEP", "FlashMLA", "FlashInfer", NULL };
    switch (e) {
    case SIM_ENGINE_TRTLLM:
        return trtllm;
    case SIM_ENGINE_SGLANG:
        return sglang;
    case SIM_ENGINE_VLLM:
        return vllm;
    default:
        return NULL;
    }
}

/* KV block (page) size in tokens: vLLM CacheConfig.block_size 16 on CUDA; SGLang page_size 1;
 * TensorRT-LLM tokens_per_block 32 (llm_args.py). */
int sim_engine_block(sim_engine e)
{
    return e == SIM_ENGINE_SGLANG ? 1 : e == SIM_ENGINE_TRTLLM ? 32 : 16;
}
