/* report.c: JSON results, the text report and the table/CSV printers. */
#include "report/report.h"

#include "base/jsonfile.h"
#include "step/routing.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>


/* "measured: KEY", "measured (held beyond its rows): KEY", "partly measured: KEY", "prior",
 * "calibrated". */
static const char *basis_text(const sim_hw *hw, const sim_step_result *s, int kind, char *buf, size_t cap)
{
    sim_basis b = s->basis[kind];
    if (b == SIM_BASIS_MEASURED || b == SIM_BASIS_MIXED)
        snprintf(buf, cap, "%s%s: %s", sim_basis_name(b), s->basis_held[kind] ? " (held beyond its rows)" : "",
                 sim_step_basis_key(s, hw, (sim_layer_kind)kind));
    else
        snprintf(buf, cap, "%s", sim_basis_name(b));
    size_t n = strlen(buf);
    if (s->basis_matvec[kind] && n < cap)
        snprintf(buf + n, cap - n, " (compute at its GGUF mat-vec shares per type)");
    n = strlen(buf);
    if (s->basis_gemm_shares[kind] && n < cap)
        snprintf(buf + n, cap - n, " (compute at its GGUF GEMM shares per type)");
    return buf;
}

/* Routed experts on the host CPU behind its page cache (the runtime's mmap'd GGUF file): where the
 * misses come from, the share DRAM holds, the hit rate. */
static void add_host_page_json(cJSON *o, const sim_step_result *s)
{
    if (s->host_page_tier <= 0)
        return;
    cJSON *p = cJSON_AddObjectToObject(o, "host_page_cache");
    cJSON_AddStringToObject(p, "tier", s->host_page_tier_name);
    cJSON_AddStringToObject(p, "model", "LRU (the OS page cache of the mmap'd GGUF file), Che's approximation");
    sim_json_add_num(p, "host_experts_resident_share", s->host_resident_share);
    sim_json_add_num(p, "hit_rate", s->host_page_hit_rate);
}

/* Weights read from each memory tier (per step and per token) and, behind a page cache, the
 * routed experts' resident share and hit rate: only when weights live in more than one tier. */
static void add_tiers_json(cJSON *o, const sim_hw *hw, const sim_step_result *s)
{
    if (!(s->slow_tier_bytes > 0) && s->page_tier <= 0) {
        add_host_page_json(o, s);
        return;
    }
    cJSON *t = cJSON_AddArrayToObject(o, "weights_read_by_tier");
    for (int i = 0; i < hw->n_tiers; i++) {
        if (i > 0 && !(s->tier_weight_bytes[i] > 0) && i != s->page_tier)
            continue;
        cJSON *e = cJSON_CreateObject();
        cJSON_AddStringToObject(e, "tier", hw->tiers[i].name);
        sim_json_add_num(e, "bytes_per_step", s->tier_weight_bytes[i]);
        if (s->tokens > 0)
            sim_json_add_num(e, "bytes_per_token", s->tier_weight_bytes[i] / s->tokens);
        cJSON_AddItemToArray(t, e);
    }
    if (s->page_tier > 0) {
        cJSON *p = cJSON_AddObjectToObject(o, "page_cache");
        cJSON_AddStringToObject(p, "tier", hw->tiers[s->page_tier].name);
        cJSON_AddStringToObject(p, "model", "LRU (the OS page cache of an mmap'd file), Che's approximation");
        sim_json_add_num(p, "routed_experts_resident_share", s->resident_share);
        sim_json_add_num(p, "hit_rate", s->page_hit_rate);
        sim_json_add_num(p, "hit_rate_if_hottest_pinned", s->pinned_hit_rate);
    }
    add_host_page_json(o, s);
}

cJSON *sim_report_step(const sim_hw *hw, const sim_step_result *s)
{
    cJSON *o = cJSON_CreateObject();
    sim_json_add_num(o, "step_s", s->time_s);
    sim_json_add_num(o, "stage_s", s->stage_time_s);
    sim_json_add_num(o, "compute_s", s->compute_s);
    sim_json_add_num(o, "memory_s", s->memory_s);
    sim_json_add_num(o, "communication_s", s->comm_s);
    sim_json_add_num(o, "overhead_s", s->overhead_s);
    sim_json_add_num(o, "communication_total_s", s->comm_total_s);
    cJSON_AddStringToObject(o, "bound", sim_bound_name(s->bound));
    cJSON *k = cJSON_AddObjectToObject(o, "by_kind_s");
    for (int i = 0; i < SIM_LK_COUNT; i++)
        if (s->by_kind_s[i] > 0)
            sim_json_add_num(k, sim_layer_kind_name((sim_layer_kind)i), s->by_kind_s[i]);
    cJSON *basis = cJSON_AddObjectToObject(o, "basis");
    for (int i = 0; i < SIM_LK_COUNT; i++) {
        char buf[128];
        if (s->by_kind_s[i] > 0 && s->basis[i] != SIM_BASIS_NONE)
            cJSON_AddStringToObject(basis, sim_layer_kind_name((sim_layer_kind)i), basis_text(hw, s, i, buf, sizeof buf));
    }
    sim_json_add_num(o, "flops_per_gpu", s->flops);
    sim_json_add_num(o, "bytes_per_gpu", s->bytes);
    sim_json_add_num(o, "comm_bytes_per_gpu", s->comm_bytes);
    if (s->slow_tier_bytes > 0)
        sim_json_add_num(o, "spilled_weight_bytes_read", s->slow_tier_bytes);
    add_tiers_json(o, hw, s);
    if (s->experts_touched_per_rank > 0) {
        cJSON *moe = cJSON_AddObjectToObject(o, "moe");
        sim_json_add_num(moe, "experts_touched_busiest_rank", s->experts_touched_per_rank);
        sim_json_add_num(moe, "tokens_per_expert", s->tokens_per_expert);
        sim_json_add_num(moe, "assignments_busiest_rank", s->max_tokens_per_rank);
        sim_json_add_num(moe, "imbalance", s->imbalance);
        sim_json_add_num(moe, "busiest_over_mean_rank", s->imbalance);
        /* Only EPLB's batch drift makes these differ: one batch's sampling noise alone. */
        if (s->imbalance_placed != s->imbalance)
            sim_json_add_num(moe, "busiest_over_mean_rank_if_batch_followed_eplb_statistics", s->imbalance_placed);
        /* Only EPLB makes the two differ: what its placement and redundant slots took away. */
        if (s->imbalance_unbalanced != s->imbalance) {
            sim_json_add_num(moe, "busiest_over_mean_rank_without_eplb", s->imbalance_unbalanced);
            if (!isfinite(s->imbalance_unbalanced))
                cJSON_AddStringToObject(moe, "without_eplb_reason",
                                        "the experts divide over the EP ranks only with the redundant slots");
        }
    }
    cJSON_AddStringToObject(o, "expert_compute_type", sim_dtype_name(s->expert_dtype));
    cJSON_AddStringToObject(o, "dense_compute_type", sim_dtype_name(s->dense_dtype));
    return o;
}

cJSON *sim_report_memory(const sim_deploy *d, const sim_memfit *m)
{
    cJSON *o = cJSON_CreateObject();
    sim_json_add_num(o, "capacity_bytes", m->capacity_bytes);
    sim_json_add_num(o, "usable_bytes", m->usable_bytes);
    sim_json_add_num(o, "weights_bytes", m->weight_bytes);
    sim_json_add_num(o, "expert_weights_bytes", m->expert_weight_bytes);
    sim_json_add_num(o, "other_weights_bytes", m->other_weight_bytes);
    if (m->mtp_weight_bytes > 0) /* the MTP module drafting: in the two above */
        sim_json_add_num(o, "mtp_weights_bytes", m->mtp_weight_bytes);
    sim_json_add_num(o, "workspace_bytes", m->workspace_bytes);
    sim_json_add_num(o, "kv_bytes_per_token", m->kv_bytes_per_token);
    sim_json_add_num(o, "kv_bytes_per_sequence", m->kv_bytes_per_seq);
    sim_json_add_num(o, "kv_budget_bytes", m->kv_budget_bytes);
    sim_json_add_num(o, "max_sequences_per_rank", (double)m->max_seqs);
    sim_json_add_num(o, "used_bytes", m->total_bytes);
    if (d->engine != SIM_ENGINE_NONE) {
        /* only with --engine: the default report stays as it was */
        cJSON *e = cJSON_AddObjectToObject(o, "engine");
        cJSON_AddStringToObject(e, "name", sim_engine_name(d->engine));
        sim_json_add_num(e, "mem_fraction", m->mem_fraction);
        cJSON_AddStringToObject(e, "mem_fraction_basis", d->mem_fraction > 0 ? "option" : "engine default");
        sim_json_add_num(e, "device_total_bytes", m->device_total_bytes);
        sim_json_add_num(e, "kv_block_tokens", m->kv_block_tokens);
        sim_json_add_num(e, "kv_pool_tokens", m->kv_tokens);
        sim_json_add_num(e, "max_concurrency", m->max_concurrency);
        sim_json_add_num(e, "max_batched_tokens", d->max_batched_tokens);
    }
    if (m->tiers_used > 1) {
        cJSON *t = cJSON_AddArrayToObject(o, "spill");
        for (int i = 0; i < m->tiers_used; i++) {
            cJSON *e = cJSON_CreateObject();
            cJSON_AddStringToObject(e, "tier", d->hw->tiers[i].name);
            sim_json_add_num(e, "expert_share", m->expert_frac[i]);
            sim_json_add_num(e, "other_share", m->other_frac[i]);
            cJSON_AddItemToArray(t, e);
        }
    }
    return o;
}

/* The imbalance law of a deployment: how it was given, the expected busiest/idlest expert
 * tokens it means, and where it comes from. */
static cJSON *routing_law(const sim_deploy *d)
{
    const sim_model *m = d->model;
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "law", "zipf popularity p_i ~ (i+1)^-skew, top-k without replacement");
    cJSON_AddStringToObject(o, "given_as", d->expert_imbalance > 0 ? "expert_imbalance" : "skew");
    sim_json_add_num(o, "skew", d->skew);
    sim_json_add_num(o, "busiest_over_idlest_expert", sim_routing_expert_ratio(m->ffn.experts, m->ffn.top_k, d->skew));
    cJSON_AddStringToObject(o, "basis", sim_imbalance_basis_name(d->imbalance_basis));
    if (d->imbalance_basis != SIM_IMBALANCE_OPTION && m->routing.given)
        cJSON_AddStringToObject(o, "source", m->routing.source);
    else if (d->imbalance_basis == SIM_IMBALANCE_FALLBACK)
        cJSON_AddStringToObject(o, "source", "fallback exponent 0.7 (sim/deploy/deploy.h: matched to aiconfigurator's "
                                             "latency-fitted load model); the model card gives no routing section");
    return o;
}

/* A multi-socket CPU's NUMA mode (sim_deploy_numa), for the device or its host CPU. */
static void numa_json(cJSON *o, const sim_deploy *d, const sim_hw *cpu, const char *key)
{
    sim_numa_use nu;
    sim_deploy_numa(d, cpu, &nu);
    if (!nu.active)
        return;
    cJSON *n = cJSON_AddObjectToObject(o, key);
    cJSON_AddStringToObject(n, "cpu", cpu->name);
    sim_json_add_num(n, "sockets", nu.sockets);
    cJSON_AddStringToObject(n, "mode", sim_numa_name(nu.mode));
    cJSON_AddStringToObject(n, "basis", nu.defaulted ? "runtime default" : "option");
    cJSON_AddStringToObject(n, "runtime", nu.runtime);
    cJSON_AddStringToObject(n, "why", nu.why);
    cJSON_AddStringToObject(n, "link", cpu->numa.link_name);
    sim_json_add_num(n, "link_bytes_per_s", cpu->numa.link_Bps);
    sim_json_add_num(n, "weight_bandwidth_bytes_per_s", cpu->tiers[0].bandwidth_Bps * nu.bw_factor);
    cJSON_AddBoolToObject(n, "link_bound", nu.link_bound);
    sim_json_add_num(n, "compute_share", nu.compute_factor);
    sim_json_add_num(n, "capacity_bytes", cpu->tiers[0].capacity_bytes * nu.capacity_factor);
    sim_json_add_num(n, "weight_copies", nu.weight_copies);
}

/* Text twin of numa_json: what the mode does to bandwidth, compute and memory. */
static void print_numa(FILE *f, const sim_deploy *d, const sim_hw *cpu)
{
    sim_numa_use nu;
    sim_deploy_numa(d, cpu, &nu);
    if (!nu.active)
        return;
    double bw = cpu->tiers[0].bandwidth_Bps / 1e9, link = cpu->numa.link_Bps / 1e9, S = nu.sockets;
    fprintf(f, "numa: %s, %d sockets, %s (%s%s%s): ", cpu->name, nu.sockets, sim_numa_name(nu.mode),
            nu.defaulted ? nu.runtime : "as given", nu.defaulted ? "'s default: " : "", nu.defaulted ? nu.why : "");
    switch (nu.mode) {
    case SIM_NUMA_INTERLEAVE:
        fprintf(f, "weights spread over the sockets, %.0f%% of each socket's reads cross %s (%.1f GB/s each way): "
                   "weights stream at min(%.1f, %g^2 x %.1f) = %.1f GB/s%s\n",
                100 * (S - 1) / S, cpu->numa.link_name, link, bw, S, link, bw * nu.bw_factor,
                nu.link_bound ? ", bound by the link" : "");
        break;
    case SIM_NUMA_DUPLICATE:
        fprintf(f, "a copy of the weights on each socket (memory for weights x %g), every read local: %.1f GB/s\n",
                nu.weight_copies, bw * nu.bw_factor);
        break;
    default:
        fprintf(f, "one socket's cores and memory: %.1f of %.1f GB/s, %.0f%% of the compute, %.0f of %.0f GB\n",
                bw * nu.bw_factor, bw, 100 * nu.compute_factor, cpu->tiers[0].capacity_bytes * nu.capacity_factor / 1e9,
                cpu->tiers[0].capacity_bytes / 1e9);
        break;
    }
}

cJSON *sim_report_deploy(const sim_deploy *d)
{
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "model", d->model->name);
    cJSON_AddStringToObject(o, "hw", d->hw->name);
    sim_json_add_num(o, "gpus", d->gpus);
    sim_json_add_num(o, "tp", d->tp);
    sim_json_add_num(o, "ep", d->ep);
    sim_json_add_num(o, "pp", d->pp);
    sim_json_add_num(o, "dp", d->dp);
    cJSON_AddStringToObject(o, "precision", sim_wformat_name(d->expert_fmt));
    cJSON_AddStringToObject(o, "dense_precision", sim_wformat_name(d->dense_fmt));
    /* only when the shared experts stay in a format of their own (the checkpoint's) */
    if (d->model->ffn.shared_experts > 0 && d->shared_fmt != d->expert_fmt)
        cJSON_AddStringToObject(o, "shared_expert_precision", sim_wformat_name(d->shared_fmt));
    if (d->gguf_file_bytes > 0 && d->expert_fmt == d->gguf_file_fmt) /* a custom file, as stated */
        sim_json_add_num(o, "gguf_file_gib", d->gguf_file_bytes / 1073741824.0);
    cJSON_AddStringToObject(o, "kv_precision", sim_wformat_name(d->kv_fmt));
    cJSON_AddStringToObject(o, "transport", sim_a2a_name(d->transport));
    cJSON_AddStringToObject(o, "overlap", sim_overlap_name(d->overlap));
    sim_json_add_num(o, "skew", d->skew);
    if (sim_model_is_moe(d->model))
        cJSON_AddItemToObject(o, "routing", routing_law(d));
    sim_json_add_num(o, "redundant_experts", d->redundant_experts);
    cJSON_AddBoolToObject(o, "eplb", d->eplb);
    if (d->eplb) { /* the batch's drift from the statistics EPLB placed by, and whose figure it is */
        sim_json_add_num(o, "eplb_drift", d->eplb_drift);
        cJSON_AddStringToObject(o, "eplb_drift_source",
                                d->eplb_drift_given ? "option eplb_drift" : SIM_ROUTING_EPLB_DRIFT_SOURCE);
    }
    sim_json_add_num(o, "max_batched_tokens", d->max_batched_tokens);
    cJSON_AddStringToObject(o, "runtime", sim_runtime_name(d->runtime));
    cJSON_AddStringToObject(o, "efficiency", d->hw->eff.provenance);
    if (d->hw->eff.efficiency_from[0])
        cJSON_AddStringToObject(o, "efficiency_from", d->hw->eff.efficiency_from);
    /* How the device runs each stored format (hwmodel `formats`). */
    sim_deploy_fmt_use u[SIM_DEPLOY_FMT_USES];
    int nu = sim_deploy_formats(d, u);
    cJSON *fs = cJSON_AddObjectToObject(o, "format_support");
    for (int i = 0; i < nu; i++) {
        char key[96];
        snprintf(key, sizeof key, "%s %s", sim_wformat_name(u[i].fmt), u[i].what);
        cJSON_AddStringToObject(fs, key, u[i].support == SIM_FMT_UNSUPPORTED && d->emulate ? "emulated"
                                                                                            : sim_fmt_support_name(u[i].support));
    }
    char emu[256];
    sim_deploy_emulated(d, emu, sizeof emu);
    if (emu[0])
        cJSON_AddStringToObject(o, "emulated", emu);
    numa_json(o, d, d->hw, "numa");
    if (d->host_cpu && d->host_cpu != d->hw)
        numa_json(o, d, d->host_cpu, "host_numa");
    return o;
}

void sim_report_emulated_line(FILE *f, const sim_deploy *d)
{
    char emu[256];
    sim_deploy_emulated(d, emu, sizeof emu);
    if (emu[0])
        fprintf(f, "EMULATED (--emulate): %s does not support these formats; assumed: %s\n", d->hw->name, emu);
}

/* Provenance line: which efficiencies the numbers rest on. */
static void efficiency_basis(const sim_deploy *d, char *buf, size_t cap)
{
    int n;
    if (d->hw->eff.efficiency_from[0])
        n = snprintf(buf, cap, "%s efficiencies transferred from %s", d->hw->eff.provenance, d->hw->eff.efficiency_from);
    else
        n = snprintf(buf, cap, "%s efficiencies of %s", d->hw->eff.provenance, d->hw->name);
    /* A runtime with GEMM curves of its own on this device says so. */
    if (d->runtime != SIM_RUNTIME_LLAMACPP && n > 0 && (size_t)n < cap)
        n += snprintf(buf + n, cap - (size_t)n, d->hw->eff.runtime[d->runtime].set ? "; GEMM curves for %s"
                                                                                   : "; no curves for %s here: base GEMM curves",
                      sim_runtime_name(d->runtime));
    /* A calibrated file measures some compute types: say when these experts run on another. */
    sim_dtype dt;
    bool calibrated = strcmp(d->hw->eff.provenance, "calibrated") == 0;
    if (calibrated && n > 0 && (size_t)n < cap && sim_hw_format_peak(d->hw, d->expert_fmt, &dt) > 0 &&
        !d->hw->eff.grouped_gemm[dt].measured)
        n += snprintf(buf + n, cap - (size_t)n,
                      "; %s experts run %s kernels this calibration did not measure (their curve is a prior or another type's)",
                      sim_wformat_name(d->expert_fmt), sim_dtype_name(dt));
    /* ... and when their weights are unpacked at a rate it did not measure */
    sim_wformat f = d->expert_fmt;
    sim_dtype cdt;
    if (calibrated && n > 0 && (size_t)n < cap && sim_hw_format_peak(d->hw, f, &cdt) > 0 &&
        sim_hw_dequant_rate(d->hw, cdt, f) > 0 && !d->hw->eff.dequant_measured[f])
        snprintf(buf + n, cap - (size_t)n, "; the unpacking of %s weights is a prior (efficiency.dequant_gelem_s), not "
                 "measured by this calibration", sim_wformat_name(f));
}

static void add_provenance(cJSON *o, const sim_deploy *d)
{
    char buf[512];
    efficiency_basis(d, buf, sizeof buf);
    cJSON_AddStringToObject(o, "efficiency_basis", buf);
    cJSON_AddStringToObject(o, "model_file", d->model->path);
    cJSON_AddStringToObject(o, "hw_file", d->hw->path);
    const sim_kernel_table *kt = &d->hw->kernels;
    if (kt->path[0]) {
        cJSON *t = cJSON_AddObjectToObject(o, "kernel_table");
        cJSON_AddStringToObject(t, "file", kt->path);
        cJSON *src = cJSON_AddObjectToObject(t, "sources");
        for (int i = 0; i < kt->n_sources; i++) {
            cJSON *e = cJSON_AddObjectToObject(src, kt->sources[i].key);
            cJSON_AddStringToObject(e, "title", kt->sources[i].title);
            cJSON_AddStringToObject(e, "url", kt->sources[i].url);
            cJSON_AddStringToObject(e, "date", kt->sources[i].date);
            cJSON_AddStringToObject(e, "library", kt->sources[i].library);
        }
    }
}

/* The key a step of an eval result goes under in "breakdown" (and its title in the text). */
static const char *first_step_name(const sim_serve_opts *o)
{
    /* aggregated: the step that carries a prompt chunk alongside the decodes */
    return o->prefill ? "prefill" : "decode_with_prefill_chunk";
}

static const char *phase_name(const sim_phase_result *p)
{
    return p->prefill ? "prefill" : "decode";
}

/* The first sentence of a source (they run to several); the card holds the rest. */
static int first_sentence(const char *s)
{
    const char *end = strstr(s, ": "), *dot = strstr(s, ". ");
    if (!end || (dot && dot < end))
        end = dot;
    int n = end ? (int)(end - s) : (int)strlen(s);
    return n > 200 ? 200 : n;
}

sim_spec_view sim_report_spec_view(const sim_deploy *d, int draft_tokens, double accepted, const char *source)
{
    bool on = draft_tokens > 0;
    return (sim_spec_view){ .draft_tokens = on ? draft_tokens : 0,
                            .accepted = on ? accepted : 1,
                            .draft_model = on && d->draft_model ? d->draft_model->name : NULL,
                            .eagle3 = on && !d->draft_model && d->spec_method == SIM_SPEC_EAGLE3,
                            .source = on ? source : NULL };
}

void sim_report_spec_fields(cJSON *s, const sim_spec_view *v)
{
    cJSON_AddStringToObject(s, "method", v->draft_model ? "draft_model" : v->eagle3 ? "eagle3" : "mtp");
    if (v->draft_model)
        cJSON_AddStringToObject(s, "draft_model", v->draft_model);
    sim_json_add_num(s, "draft_tokens", v->draft_tokens);
    sim_json_add_num(s, "verify_tokens_per_sequence", v->draft_tokens + 1);
    sim_json_add_num(s, "accepted_tokens_per_step", v->accepted);
    if (v->source)
        cJSON_AddStringToObject(s, "acceptance_source", v->source);
}

void sim_report_print_spec(FILE *f, const sim_spec_view *v, const char *tail)
{
    if (v->draft_tokens <= 0)
        return;
    fprintf(f, "speculative decoding (%s%s): %d draft token%s, %d verified per sequence, %.4g accepted tokens per step%s\n",
            v->draft_model ? "draft model " : v->eagle3 ? "EAGLE-3 head" : "MTP", v->draft_model ? v->draft_model : "",
            v->draft_tokens, v->draft_tokens > 1 ? "s" : "", v->draft_tokens + 1, v->accepted, tail ? tail : "");
    if (v->source) {
        int n = first_sentence(v->source);
        fprintf(f, "acceptance source: %.*s%s\n", n, v->source, n < (int)strlen(v->source) ? " ..." : "");
    }
}

/* Speculative decoding: the draft, the verify step and the tokens a step produces. */
static cJSON *speculative_json(const sim_deploy *d, const sim_serve_opts *o, const sim_eval *r)
{
    cJSON *s = cJSON_CreateObject();
    sim_spec_view v = sim_report_spec_view(d, r->spec_tokens, r->spec_accept, o->spec_source);
    sim_report_spec_fields(s, &v);
    if (r->fits) {
        double draft = r->decode.by_kind_s[SIM_LK_DRAFT];
        sim_json_add_num(s, "draft_s", draft * r->decode.time_s / fmax(r->decode.stage_time_s, 1e-30));
        sim_json_add_num(s, "verify_s", (r->decode.stage_time_s - draft) * r->decode.time_s /
                                            fmax(r->decode.stage_time_s, 1e-30));
        sim_json_add_num(s, "decode_steps_per_s_per_user", r->decode_steps_per_s);
    }
    cJSON_AddStringToObject(s, "note", SIM_SPEC_NOTE);
    return s;
}

cJSON *sim_report_eval(const sim_deploy *d, const sim_serve_opts *o, const sim_eval *r)
{
    cJSON *j = cJSON_CreateObject();
    cJSON_AddStringToObject(j, "model", d->model->name);
    cJSON_AddStringToObject(j, "hw", d->hw->name);
    sim_json_add_num(j, "gpus", r->gpus);
    sim_json_add_num(j, "isl", o->isl);
    sim_json_add_num(j, "osl", o->osl);
    sim_json_add_num(j, "concurrency", o->concurrency);
    sim_json_add_num(j, "replicas", o->replicas > 0 ? o->replicas : 1);
    cJSON_AddBoolToObject(j, "fits", r->fits);
    if (!r->fits)
        cJSON_AddStringToObject(j, "reason", r->reason);
    cJSON_AddBoolToObject(j, "batch_clipped", r->clipped);
    if (r->clipped)
        cJSON_AddStringToObject(j, "clip_reason", r->clip_note);
    sim_json_add_num(j, "concurrency_served", r->concurrency_served);
    sim_json_add_num(j, "batch_per_rank", r->batch_per_rank);
    sim_json_add_num(j, "memory_per_gpu_bytes", r->mem.total_bytes);
    sim_json_add_num(j, "ttft_s", r->ttft_s);
    sim_json_add_num(j, "tpot_s", r->tpot_s);
    sim_json_add_num(j, "e2e_latency_s", r->e2e_s);
    sim_json_add_num(j, "output_tokens_per_s", r->output_tps);
    sim_json_add_num(j, "input_tokens_per_s", r->input_tps);
    sim_json_add_num(j, "output_tokens_per_s_per_gpu", r->output_tps_per_gpu);
    sim_json_add_num(j, "input_tokens_per_s_per_gpu", r->input_tps_per_gpu);
    sim_json_add_num(j, "output_tokens_per_s_per_user", r->output_tps_per_user);
    cJSON_AddStringToObject(j, "cost_mode", r->fits && r->cost_mode ? r->cost_mode : "n/a");
    sim_json_add_num(j, "usd_per_hour", r->usd_per_hour);
    sim_json_add_num(j, "usd_per_mtok_output", r->usd_per_mtok_output);
    sim_json_add_num(j, "usd_per_mtok_input", r->usd_per_mtok_input);
    sim_json_add_num(j, "usd_per_mtok_blended", r->usd_per_mtok_blended);
    sim_json_add_num(j, "joules_per_output_token", r->joules_per_output_token);
    sim_json_add_num(j, "joules_per_input_token", r->joules_per_input_token);
    cJSON_AddStringToObject(j, "bound", r->fits ? sim_bound_name(r->bound) : "does not fit");
    sim_json_add_num(j, "prefill_share", r->prefill_share);
    if (o->prefill) {
        cJSON_AddBoolToObject(j, "prefill_limited", r->prefill_limited);
        cJSON *x = cJSON_AddObjectToObject(j, "disaggregated");
        sim_json_add_num(x, "prefill_instances", r->prefill_instances);
        sim_json_add_num(x, "decode_instances", r->decode_instances);
        cJSON_AddStringToObject(x, "limited_by", !r->fits ? "n/a" : r->prefill_limited ? "prefill" : "decode");
        sim_json_add_num(x, "prefill_utilization", r->prefill_utilization);
        sim_json_add_num(x, "decode_utilization", r->decode_utilization);
        sim_json_add_num(x, "kv_bytes_per_request", r->kv_bytes_per_request);
        sim_json_add_num(x, "kv_transfer_s", r->kv_transfer_s);
        cJSON_AddStringToObject(x, "kv_link", r->kv_link ? r->kv_link : "n/a");
    }
    sim_json_add_num(j, "prefix_hit", o->prefix_hit);
    sim_json_add_num(j, "prompt_tokens_computed", r->prompt_computed);
    if (r->spec_tokens > 0)
        cJSON_AddItemToObject(j, "speculative", speculative_json(d, o, r));

    cJSON *dep = sim_report_deploy(d);
    cJSON_AddItemToObject(j, "deployment", dep);
    if (o->prefill)
        cJSON_AddItemToObject(j, "prefill_deployment", sim_report_deploy(o->prefill));
    cJSON_AddItemToObject(j, "memory", sim_report_memory(d, &r->mem));
    cJSON *b = cJSON_AddObjectToObject(j, "breakdown");
    if (r->fits) {
        cJSON_AddItemToObject(b, "decode", sim_report_step(d->hw, &r->decode));
        cJSON_AddItemToObject(b, first_step_name(o), sim_report_step(d->hw, &r->first));
        if (o->prefill)
            cJSON_AddItemToObject(b, "prefill_pool_iteration", sim_report_step(o->prefill->hw, &r->prefill_pool));
        sim_json_add_num(b, "prefill_tokens_per_decode_step", r->prefill_tokens_per_step);
        sim_json_add_num(b, "mixed_step_share", r->mixed_share);
    }
    add_provenance(j, d);
    return j;
}

cJSON *sim_report_phase(const sim_deploy *d, const sim_phase_result *p)
{
    cJSON *j = cJSON_CreateObject();
    cJSON_AddStringToObject(j, "model", d->model->name);
    cJSON_AddStringToObject(j, "hw", d->hw->name);
    sim_json_add_num(j, "gpus", d->gpus);
    cJSON_AddStringToObject(j, "phase", phase_name(p));
    sim_json_add_num(j, "batch", p->batch);
    sim_json_add_num(j, "context", p->context);
    cJSON_AddBoolToObject(j, "fits", p->fits);
    if (!p->fits)
        cJSON_AddStringToObject(j, "reason", p->reason);
    sim_json_add_num(j, "memory_per_gpu_bytes", p->mem.total_bytes);
    sim_json_add_num(j, "step_s", p->step.time_s);
    sim_json_add_num(j, "tokens_per_s_per_gpu", p->tokens_per_s_per_gpu);
    if (p->spec.tokens > 0) {
        cJSON *s = cJSON_AddObjectToObject(j, "speculative");
        sim_spec_view v = sim_report_spec_view(d, p->spec.tokens, p->spec.accept, p->spec.source);
        sim_report_spec_fields(s, &v);
        sim_json_add_num(s, "draft_s", p->draft_s);
        sim_json_add_num(s, "verify_s", p->verify_s);
        cJSON_AddStringToObject(s, "note", "tokens_per_s_per_gpu counts accepted tokens: batch x "
                                           "accepted_tokens_per_step per step");
    }
    cJSON_AddStringToObject(j, "bound", sim_bound_name(p->step.bound));
    cJSON_AddItemToObject(j, "deployment", sim_report_deploy(d));
    cJSON_AddItemToObject(j, "memory", sim_report_memory(d, &p->mem));
    cJSON *b = cJSON_AddObjectToObject(j, "breakdown");
    cJSON_AddItemToObject(b, phase_name(p), sim_report_step(d->hw, &p->step));
    add_provenance(j, d);
    return j;
}

void sim_format_number(char *buf, size_t cap, double v)
{
    double a = fabs(v);
    if (v == 0)
        snprintf(buf, cap, "0");
    else if (a >= 1e15 || a < 1e-4)
        snprintf(buf, cap, "%.3e", v);
    else if (a >= 1000)
        snprintf(buf, cap, "%.0f", v);
    else
        snprintf(buf, cap, "%.4g", v);
}


/* --- the text report: from the result structs, the same figures the JSON carries --- */

/* Text twin of add_tiers_json. */
static void print_tiers(FILE *f, const sim_hw *hw, const sim_step_result *s)
{
    if (s->host_page_tier > 0)
        fprintf(f,
                "           host page cache (mmap'd GGUF, LRU; Che's approximation): %.1f%% of the host's routed "
                "experts in DRAM, hit rate %.1f%%, misses read from %s\n",
                100 * s->host_resident_share, 100 * s->host_page_hit_rate, s->host_page_tier_name);
    if (!(s->slow_tier_bytes > 0) && s->page_tier <= 0)
        return;
    fprintf(f, "           weights read per token:");
    for (int i = 0; i < hw->n_tiers; i++)
        if (i == 0 || s->tier_weight_bytes[i] > 0 || i == s->page_tier)
            fprintf(f, "%s %.3f GB from %s", i ? "," : "", s->tokens > 0 ? s->tier_weight_bytes[i] / s->tokens / 1e9 : 0,
                    hw->tiers[i].name);
    fprintf(f, " (%.0f tokens per step)\n", s->tokens);
    if (s->page_tier > 0)
        fprintf(f,
                "           page cache (mmap, LRU; Che's approximation): %.1f%% of routed experts resident, "
                "hit rate %.1f%% (%.1f%% were the hottest pinned)\n",
                100 * s->resident_share, 100 * s->page_hit_rate, 100 * s->pinned_hit_rate);
}

static void print_step(FILE *f, const sim_deploy *d, const char *title, const sim_step_result *s)
{
    const sim_hw *hw = d->hw;
    fprintf(f, "  %-8s step %.3f ms  [compute %.3f | memory %.3f | communication %.3f | overhead %.3f] ms, %s-bound\n",
            title, s->time_s * 1e3, s->compute_s * 1e3, s->memory_s * 1e3, s->comm_s * 1e3, s->overhead_s * 1e3,
            sim_bound_name(s->bound));
    for (int i = 0; i < SIM_LK_COUNT; i++) {
        char buf[128];
        if (s->by_kind_s[i] > 0)
            fprintf(f, "           %-22s %9.3f ms  %5.1f%%%s%s\n", sim_layer_kind_name((sim_layer_kind)i),
                    s->by_kind_s[i] * 1e3, 100 * sim_step_kind_share(s, (sim_layer_kind)i),
                    s->basis[i] == SIM_BASIS_NONE ? "" : "  ", s->basis[i] == SIM_BASIS_NONE ? "" : basis_text(hw, s, i, buf, sizeof buf));
    }
    if (s->experts_touched_per_rank > 0) {
        fprintf(f, "           busiest EP rank: %.1f experts touched, %.1f tokens each, %.2fx the mean rank's tokens",
                s->experts_touched_per_rank, s->tokens_per_expert, s->imbalance);
        char placed[96] = "";
        if (s->imbalance_placed != s->imbalance) /* EPLB's residual: the batch's drift from its statistics */
            snprintf(placed, sizeof placed, "; %.2fx if the batch followed the statistics EPLB placed by",
                     s->imbalance_placed);
        /* the drift is said only when it is not the sourced default (the option's sigma) */
        char eplb[64] = "EPLB";
        if (d->eplb && d->eplb_drift_given)
            snprintf(eplb, sizeof eplb, "EPLB, drift %g from option eplb_drift", d->eplb_drift);
        if (!isfinite(s->imbalance_unbalanced))
            fprintf(f, " (%s%s; no placement without its redundant slots to compare)", eplb, placed);
        else if (s->imbalance_unbalanced != s->imbalance)
            fprintf(f, " (%s%s; %.2fx without it)", eplb, placed, s->imbalance_unbalanced);
        fprintf(f, "\n");
    }
    print_tiers(f, hw, s);
}

/* The imbalance law: the ratio as published, the exponent it sets, and its basis. */
static void print_routing(FILE *f, const sim_deploy *d)
{
    const sim_model *m = d->model;
    if (!sim_model_is_moe(m))
        return;
    const char *how = d->imbalance_basis == SIM_IMBALANCE_FALLBACK ? ": the fallback, no measured law for this model"
                      : d->imbalance_basis == SIM_IMBALANCE_CARD
                          ? (d->expert_imbalance > 0 ? " solved from the model card's imbalance" : " from the model card")
                          : (d->expert_imbalance > 0 ? " solved from option expert_imbalance" : " from option skew");
    fprintf(f, "routing: busiest/idlest expert %.3fx expected tokens (skew %.4g%s",
            sim_routing_expert_ratio(m->ffn.experts, m->ffn.top_k, d->skew), d->skew, how);
    if (d->redundant_experts > 0 || d->eplb)
        fprintf(f, "; EPLB placement, %d redundant experts", d->redundant_experts);
    fprintf(f, ")\n");
    if (d->imbalance_basis != SIM_IMBALANCE_OPTION && m->routing.given) {
        /* the first sentence on screen (sources run to several); the whole text is in the card */
        const char *s = m->routing.source, *end = strstr(s, ": ");
        const char *dot = strstr(s, ". ");
        if (!end || (dot && dot < end))
            end = dot;
        int n = end && end - s < 200 ? (int)(end - s) : (int)strlen(s);
        fprintf(f, "routing source: %.*s%s (whole source: %s)\n", n > 200 ? 200 : n, s, n < (int)strlen(s) ? " ..." : "",
                m->path);
    }
}

/* The first two lines: the deployment and its memory. */
static void print_header(FILE *f, const sim_deploy *d, int gpus, const sim_memfit *m)
{
    char shared[48] = ""; /* shared experts in a format of their own (the checkpoint's) */
    if (d->model->ffn.shared_experts > 0 && d->shared_fmt != d->expert_fmt)
        snprintf(shared, sizeof shared, ", shared experts %s", sim_wformat_name(d->shared_fmt));
    fprintf(f, "%s on %g x %s  (tp %g, ep %g, pp %g, dp %g; weights %s%s, dense %s, KV %s)\n", d->model->name,
            (double)gpus, d->hw->name, (double)d->tp, (double)d->ep, (double)d->pp, (double)d->dp,
            sim_wformat_name(d->expert_fmt), shared, sim_wformat_name(d->dense_fmt), sim_wformat_name(d->kv_fmt));
    sim_report_emulated_line(f, d);
    print_numa(f, d, d->hw);
    if (d->host_cpu && d->host_cpu != d->hw)
        print_numa(f, d, d->host_cpu);
    fprintf(f, "memory per GPU: %.1f GB of %.1f GB (weights %.1f GB, KV %.3f GB per sequence, workspace %.1f GB)\n",
            m->total_bytes / 1e9, m->capacity_bytes / 1e9, m->weight_bytes / 1e9, m->kv_bytes_per_seq / 1e9,
            m->workspace_bytes / 1e9);
    if (d->engine != SIM_ENGINE_NONE)
        fprintf(f,
                "engine %s: %.2f of %.2f GiB (%s), KV pool %.2f GiB = %.0f tokens per GPU in %d-token blocks; "
                "maximum concurrency for %.0f tokens per request: %.2fx (%ld sequences per attention rank); "
                "token cap %d per iteration\n",
                sim_engine_name(d->engine), m->mem_fraction, m->device_total_bytes / 1073741824.0,
                d->mem_fraction > 0 ? "as given" : "the engine's default", m->kv_budget_bytes / 1073741824.0,
                m->kv_tokens, m->kv_block_tokens, m->max_concurrency > 0 ? m->kv_tokens / m->max_concurrency : 0,
                m->max_concurrency, m->max_seqs, d->max_batched_tokens);
    print_routing(f, d);
}

/* The basis line, and the kernel-table sources the printed steps rest on (only those: a
 * table has several, a breakdown uses a few). */
static void print_basis(FILE *f, const sim_deploy *d, const sim_step_result *const *steps, int n_steps)
{
    char buf[512];
    efficiency_basis(d, buf, sizeof buf);
    fprintf(f, "basis: %s\n", buf);
    const sim_kernel_table *kt = &d->hw->kernels;
    if (!kt->path[0])
        return;
    bool header = false;
    for (int i = 0; i < kt->n_sources; i++) {
        bool used = false;
        for (int s = 0; s < n_steps && !used; s++)
            for (int k = 0; k < SIM_LK_COUNT && !used; k++)
                used = steps[s]->by_kind_s[k] > 0 && steps[s]->basis_source[k] == i &&
                       (steps[s]->basis[k] == SIM_BASIS_MEASURED || steps[s]->basis[k] == SIM_BASIS_MIXED);
        if (!used)
            continue;
        if (!header)
            fprintf(f, "measured kernels (%s):\n", kt->path);
        header = true;
        fprintf(f, "  %s: %s (%s, %s) %s\n", kt->sources[i].key, kt->sources[i].title, kt->sources[i].library,
                kt->sources[i].date, kt->sources[i].url);
    }
}

void sim_report_print_eval(FILE *f, const sim_deploy *d, const sim_serve_opts *o, const sim_eval *r)
{
    print_header(f, d, r->gpus, &r->mem);
    if (!r->fits) {
        fprintf(f, "DOES NOT FIT: %s\n", r->reason);
        return;
    }
    if (r->clipped)
        fprintf(f, "batch clipped: %s\n", r->clip_note);
    fprintf(f, "isl %g, osl %g, concurrency %g (served %g)\n", o->isl, o->osl, o->concurrency, r->concurrency_served);
    if (o->prefix_hit > 0)
        fprintf(f, "prefix cache: %.0f%% of each prompt hit; %.0f of %g prompt tokens computed, all %g attended to\n",
                100 * o->prefix_hit, r->prompt_computed, o->isl, o->isl);
    if (r->spec_tokens > 0) {
        double draft = r->decode.by_kind_s[SIM_LK_DRAFT] * d->pp;
        char tail[160];
        snprintf(tail, sizeof tail, "; a decode step: verify %.3f ms + draft %.3f ms; TPOT per accepted token",
                 (r->decode.time_s - draft) * 1e3, draft * 1e3);
        sim_spec_view v = sim_report_spec_view(d, r->spec_tokens, r->spec_accept, o->spec_source);
        sim_report_print_spec(f, &v, tail);
    }
    if (o->prefill)
        fprintf(f, "disaggregated %dP%dD: %s-limited (prefill busy %.0f%%, decode %.0f%%); KV %.1f MB per request over "
                "the %s link, %.2f ms\n", r->prefill_instances, r->decode_instances,
                r->prefill_limited ? "prefill" : "decode", 100 * r->prefill_utilization, 100 * r->decode_utilization,
                r->kv_bytes_per_request / 1e6, r->kv_link, r->kv_transfer_s * 1e3);
    fprintf(f, "TTFT %.3f s   TPOT %.2f ms   %.1f tok/s per user\n", r->ttft_s, r->tpot_s * 1e3,
            r->output_tps_per_user);
    fprintf(f, "throughput per GPU: %.1f output tok/s, %.1f input tok/s\n", r->output_tps_per_gpu,
            r->input_tps_per_gpu);
    fprintf(f, "cost (%s, $%.2f/h): $%.3f per M output tokens, $%.3f per M input tokens; %.3f J per output token\n",
            r->cost_mode ? r->cost_mode : "n/a", r->usd_per_hour, r->usd_per_mtok_output, r->usd_per_mtok_input,
            r->joules_per_output_token);
    fprintf(f, "breakdown (busiest device, one pass through the layers):\n");
    fprintf(f, "  %.0f%% of steps carry a prompt chunk (%.0f prompt tokens on the busiest rank per step, averaged)\n",
            100 * r->mixed_share, r->prefill_tokens_per_step);
    print_step(f, d, "decode", &r->decode);
    print_step(f, d, first_step_name(o), &r->first);
    if (o->prefill)
        print_step(f, o->prefill, "prefill_pool_iteration", &r->prefill_pool);
    const sim_step_result *steps[] = {&r->decode, &r->first, &r->prefill_pool};
    print_basis(f, d, steps, o->prefill ? 3 : 2);
}

void sim_report_print_phase(FILE *f, const sim_deploy *d, const sim_phase_result *p)
{
    print_header(f, d, d->gpus, &p->mem);
    if (!p->fits) {
        fprintf(f, "DOES NOT FIT: %s\n", p->reason);
        return;
    }
    if (p->spec.tokens > 0) {
        char tail[160];
        snprintf(tail, sizeof tail, "; the step: verify %.3f ms + draft %.3f ms; tokens/s count accepted tokens",
                 p->verify_s * 1e3, p->draft_s * 1e3);
        sim_spec_view v = sim_report_spec_view(d, p->spec.tokens, p->spec.accept, p->spec.source);
        sim_report_print_spec(f, &v, tail);
    }
    fprintf(f, "%s: batch %g at context %g: %.3f ms per step, %.1f tokens/s per GPU\n", phase_name(p), p->batch,
            p->context, p->step.time_s * 1e3, p->tokens_per_s_per_gpu);
    fprintf(f, "breakdown (busiest device, one pass through the layers):\n");
    print_step(f, d, phase_name(p), &p->step);
    const sim_step_result *steps[] = {&p->step};
    print_basis(f, d, steps, 1);
}

/* --- tables --- */

static int collect_columns(const cJSON *rows, const char *const *columns, int ncolumns, const char **out, int cap)
{
    if (columns) {
        int n = ncolumns < cap ? ncolumns : cap;
        for (int i = 0; i < n; i++)
            out[i] = columns[i];
        return n;
    }
    /* the union of keys, sorted: rows built in Lua have no key order of their own */
    int n = 0;
    const cJSON *row, *it;
    cJSON_ArrayForEach(row, rows) cJSON_ArrayForEach(it, row)
    {
        /* a row that is a list, not a record, has no column names: it gives none */
        if (!cJSON_IsObject(row) || !it->string || cJSON_IsObject(it) || cJSON_IsArray(it))
            continue;
        bool seen = false;
        for (int i = 0; i < n && !seen; i++)
            seen = strcmp(out[i], it->string) == 0;
        if (!seen && n < cap)
            out[n++] = it->string;
    }
    for (int i = 1; i < n; i++)
        for (int j = i; j > 0 && strcmp(out[j - 1], out[j]) > 0; j--) {
            const char *t = out[j];
            out[j] = out[j - 1];
            out[j - 1] = t;
        }
    return n;
}

static void cell(char *buf, size_t cap, const cJSON *row, const char *key)
{
    if (!cJSON_IsObject(row)) {
        snprintf(buf, cap, "%s", "");
        return;
    }
    const cJSON *it = cJSON_GetObjectItemCaseSensitive(row, key);
    if (cJSON_IsNumber(it))
        sim_format_number(buf, cap, it->valuedouble);
    else if (cJSON_IsString(it))
        snprintf(buf, cap, "%s", it->valuestring);
    else if (cJSON_IsBool(it))
        snprintf(buf, cap, "%s", cJSON_IsTrue(it) ? "true" : "false");
    else /* absent or null: a figure this row does not have (e.g. not computed), never 0 */
        snprintf(buf, cap, "%s", "-");
}

#define MAX_COLS 64

void sim_table_print(FILE *f, const cJSON *rows, const char *const *columns, int ncolumns)
{
    const char *cols[MAX_COLS];
    int nc = collect_columns(rows, columns, ncolumns, cols, MAX_COLS);
    int width[MAX_COLS];
    char buf[1024]; /* a does-not-fit reason runs to ~500 characters: whole, never cut */
    for (int c = 0; c < nc; c++)
        width[c] = (int)strlen(cols[c]);
    const cJSON *row;
    cJSON_ArrayForEach(row, rows) for (int c = 0; c < nc; c++)
    {
        cell(buf, sizeof buf, row, cols[c]);
        int w = (int)strlen(buf);
        if (w > width[c])
            width[c] = w;
    }
    for (int c = 0; c < nc; c++)
        fprintf(f, "%s%-*s", c ? "  " : "", c == nc - 1 ? 0 : width[c], cols[c]);
    fputc('\n', f);
    for (int c = 0; c < nc; c++) {
        fprintf(f, "%s", c ? "  " : "");
        for (int i = 0; i < width[c]; i++)
            fputc('-', f);
    }
    fputc('\n', f);
    cJSON_ArrayForEach(row, rows)
    {
        for (int c = 0; c < nc; c++) {
            cell(buf, sizeof buf, row, cols[c]);
            const cJSON *it = cJSON_GetObjectItemCaseSensitive(row, cols[c]);
            /* numbers right-aligned, text left-aligned */
            if (cJSON_IsNumber(it))
                fprintf(f, "%s%*s", c ? "  " : "", width[c], buf);
            else if (c == nc - 1) /* no trailing blanks */
                fprintf(f, "%s%s", c ? "  " : "", buf);
            else
                fprintf(f, "%s%-*s", c ? "  " : "", width[c], buf);
        }
        fputc('\n', f);
    }
}

typedef struct sbuf {
    char *p;
    size_t len, cap;
    bool oom;
} sbuf;

static void sb_put(sbuf *s, const char *t, size_t n)
{
    if (s->oom)
        return;
    if (s->len + n + 1 > s->cap) {
        size_t cap = (s->cap + n + 1) * 2;
        char *p = realloc(s->p, cap);
        if (!p) {
            s->oom = true;
            return;
        }
        s->p = p;
        s->cap = cap;
    }
    memcpy(s->p + s->len, t, n);
    s->len += n;
    s->p[s->len] = '\0';
}

static void sb_field(sbuf *s, const char *t)
{
    if (!strpbrk(t, ",\"\n\r")) {
        sb_put(s, t, strlen(t));
        return;
    }
    sb_put(s, "\"", 1);
    for (const char *q = t; *q; q++) {
        if (*q == '"')
            sb_put(s, "\"", 1);
        sb_put(s, q, 1);
    }
    sb_put(s, "\"", 1);
}

char *sim_table_csv(const cJSON *rows, const char *const *columns, int ncolumns)
{
    const char *cols[MAX_COLS];
    int nc = collect_columns(rows, columns, ncolumns, cols, MAX_COLS);
    sbuf s = { 0 };
    char buf[1024]; /* as sim_table_print: a reason is never cut */
    for (int c = 0; c < nc; c++) {
        if (c)
            sb_put(&s, ",", 1);
        sb_field(&s, cols[c]);
    }
    sb_put(&s, "\n", 1);
    const cJSON *row;
    cJSON_ArrayForEach(row, rows)
    {
        for (int c = 0; c < nc; c++) {
            if (c)
                sb_put(&s, ",", 1);
            const cJSON *it = cJSON_GetObjectItemCaseSensitive(row, cols[c]);
            if (cJSON_IsNumber(it))
                snprintf(buf, sizeof buf, "%.10g", it->valuedouble); /* full precision in files */
            else
                cell(buf, sizeof buf, row, cols[c]);
            sb_field(&s, buf);
        }
        sb_put(&s, "\n", 1);
    }
    if (s.oom) {
        free(s.p);
        return NULL;
    }
    if (!s.p)
        sb_put(&s, "", 0);
    return s.p;
}

/* ------------------------------------------------------------------ llama-bench rows */

static void bench_model_label(const sim_deploy *d, char *buf, size_t cap)
{
    char custom[48] = "";
    if (d->gguf_file_bytes > 0 && d->expert_fmt == d->gguf_file_fmt)
        snprintf(custom, sizeof custom, " (custom file)");
    if (d->expert_fmt == d->dense_fmt)
        snprintf(buf, cap, "%s %s%s", d->model->name, sim_wformat_name(d->expert_fmt), custom);
    else
        snprintf(buf, cap, "%s %s/%s%s", d->model->name, sim_wformat_name(d->expert_fmt), sim_wformat_name(d->dense_fmt),
                 custom);
}

/* A test's name as llama-bench prints it: "pp512", "tg128", with " @ d4096" after a depth. */
static void bench_test_name(const sim_local_bench *b, int tg, char *buf, size_t cap)
{
    int n = snprintf(buf, cap, "%s%d", tg ? "tg" : "pp", tg ? b->tg : b->pp);
    if (b->depth > 0 && n > 0 && (size_t)n < cap)
        snprintf(buf + n, cap - (size_t)n, " @ d%d", b->depth);
}

void sim_report_print_llama_bench(FILE *f, const sim_deploy *d, const sim_local_bench *b)
{
    char model[160], backend[96], t[2][32], test[2][48];
    bench_model_label(d, model, sizeof model);
    if (d->gpus > 1)
        snprintf(backend, sizeof backend, "%d x %s", d->gpus, d->hw->name);
    else
        snprintf(backend, sizeof backend, "%s", d->hw->name);
    for (int i = 0; i < 2; i++) {
        double v = i ? b->tg_tps : b->pp_tps;
        if (isfinite(v))
            snprintf(t[i], sizeof t[i], "%.2f", v);
        else
            snprintf(t[i], sizeof t[i], "-");
        bench_test_name(b, i, test[i], sizeof test[i]);
    }
    /* as llama-bench's markdown: an n_ubatch column only when it is not the default */
    const bool ub = b->ubatch != 512;
    char ubcol[24] = "";
    fprintf(f, "| model | size | params | backend |%s test | t/s |\n", ub ? " n_ubatch |" : "");
    fprintf(f, "| --- | ---: | ---: | --- |%s ---: | ---: |\n", ub ? " ---: |" : "");
    if (ub)
        snprintf(ubcol, sizeof ubcol, " %d |", b->ubatch);
    for (int i = 0; i < 2; i++)
        fprintf(f, "| %s | %.2f GiB | %.2f B | %s |%s %s | %s |\n", model, b->weight_bytes / 1073741824.0,
                b->params / 1e9, backend, ubcol, test[i], t[i]);
    if (!b->fits)
        fprintf(f, "\nDOES NOT FIT: %s\n", b->reason);
    fprintf(f, "\n(moesim predictions, one sequence, as llama-bench runs its tests: the prompt in %d micro-batch%s of "
               "at most %d tokens; basis: ",
            b->micro_batches, b->micro_batches == 1 ? "" : "es", b->ubatch);
    char basis[512];
    efficiency_basis(d, basis, sizeof basis);
    fprintf(f, "%s)\n", basis);
}

cJSON *sim_report_llama_bench(const sim_deploy *d, const sim_local_bench *b)
{
    cJSON *rows = cJSON_CreateArray();
    char model[160], test[48];
    bench_model_label(d, model, sizeof model);
    for (int i = 0; i < 2; i++) {
        cJSON *r = cJSON_CreateObject();
        cJSON_AddStringToObject(r, "model", model);
        sim_json_add_num(r, "size_gib", b->weight_bytes / 1073741824.0);
        sim_json_add_num(r, "params_b", b->params / 1e9);
        cJSON_AddStringToObject(r, "backend", d->hw->name);
        sim_json_add_num(r, "gpus", d->gpus);
        bench_test_name(b, i, test, sizeof test);
        cJSON_AddStringToObject(r, "test", test);
        sim_json_add_num(r, "n_ubatch", b->ubatch);
        sim_json_add_num(r, "n_depth", b->depth);
        sim_json_add_num(r, "t_s", i ? b->tg_tps : b->pp_tps);
        cJSON_AddBoolToObject(r, "fits", b->fits);
        if (!b->fits)
            cJSON_AddStringToObject(r, "reason", b->reason);
        cJSON_AddItemToArray(rows, r);
    }
    return rows;
}
