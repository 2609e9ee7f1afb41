/* request.c: the shared option table and one evaluation from request to JSON. */
#include "cli/request.h"

#include <math.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "base/readfile.h"
#include "model/registry.h"
#include "report/bill_report.h"
#include "report/report.h"
#include "step/routing.h"

typedef struct opt_entry {
    sim_opt_spec spec;
    size_t offset;
    size_t size;   /* string capacity */
    double lo, hi; /* numbers: the values a user may give (defaults are set directly) */
} opt_entry;

/* Number ranges. They are the bounds of physics and of the models, not of taste: a value
 * outside one cannot describe a deployment (a negative price, a 1e12-token prompt, a
 * probability of 2), and letting it through gives an inf or a silent default. 0 means
 * "derive" or "none" where the help says so. */
#define DEVICES 1048576.0   /* 2^20 devices: beyond every machine built */
#define TOKENS 1e8          /* tokens in one request: beyond every context window shipped */
#define S(name, help) { { #name, SIM_OPT_STR, help }, offsetof(sim_request, name), sizeof(((sim_request *)0)->name), 0, 0 }
#define I(name, lo, hi, help) { { #name, SIM_OPT_INT, help }, offsetof(sim_request, name), 0, lo, hi }
#define N(name, lo, hi, help) { { #name, SIM_OPT_NUM, help }, offsetof(sim_request, name), 0, lo, hi }
#define STRINGIFY_(x) #x
#define STRINGIFY(x) STRINGIFY_(x) /* a sourced default's value in its help text */
#define B(name, help) { { #name, SIM_OPT_BOOL, help }, offsetof(sim_request, name), 0, 0, 0 }

static const opt_entry options[] = {
    S(model, "model card: shipped name or path to JSON"),
    S(hw, "hardware model: shipped name or path to JSON"),
    I(gpus, 0, DEVICES, "devices in the deployment (default tp x dp x pp)"),
    I(tp, 0, DEVICES, "tensor parallel degree of attention (default gpus / (dp x pp))"),
    I(ep, 0, DEVICES, "expert parallel degree (default tp x dp when it divides the experts, else 1)"),
    I(pp, 0, DEVICES, "pipeline stages (default 1)"),
    I(dp, 0, DEVICES, "attention data-parallel degree (default 1)"),
    I(replicas, 0, DEVICES, "independent copies of the instance sharing the requests (default 1; gpus is per copy)"),
    S(precision, "weight precision, every weight: fp32 bf16 fp8 int8 nvfp4 mxfp4 int4 int4_g32, or a GGUF file type as llama-quantize makes it (q2_k q3_k_s q3_k_m q4_0 q4_k_s q4_k_m q5_k_m q6_k q8_0 iq2_xxs iq3_xxs iq4_xs mxfp4_moe ...: its per-tensor recipe) (default: what the model's checkpoint holds, tensor class by tensor class)"),
    N(gguf_file_gib, 0, 1e6, "the GGUF file's size in GiB as llama-bench prints it, for a custom mix named after a file type (e.g. ByteShape's Q3_K_S-2.70bpw, 9.58 GiB): the routed experts take the bytes the --precision recipe's other tensors leave (0 = the recipe's size)"),
    N(gguf_bpw, 0, 32, "the GGUF file's bits per weight as llama.cpp prints it (file bytes x 8 / parameters), instead of gguf_file_gib"),
    S(dense_precision, "precision of attention/dense weights (default: follows --precision; 'native': as the model's checkpoint ships them)"),
    S(kv_precision, "KV cache precision: bf16 or fp8 (default bf16)"),
    S(dispatch_precision, "expert-parallel dispatch payload (default fp8)"),
    N(isl, -INFINITY, TOKENS, "prompt tokens per request (default 1024)"),
    N(osl, -INFINITY, TOKENS, "output tokens per request (default 1024)"),
    N(concurrency, -INFINITY, 1e9, "requests in flight over the deployment (default 1)"),
    S(phase, "evaluate one phase alone: prefill or decode (with batch, context)"),
    N(batch, 0, 1e9, "phase: sequences per attention rank"),
    N(context, 0, TOKENS, "phase: context length (decode) or prompt length (prefill)"),
    S(transport, "all-to-all transport: auto per-expert per-node nvlink"),
    S(overlap, "communication overlap: none or two-batch"),
    N(skew, 0, 10, "expert popularity exponent p_i ~ (i+1)^-skew (0 = uniform; default: the model card's law, else 0.7)"),
    N(expert_imbalance, 1, 1e6, "expected tokens of the busiest expert over the idlest, as published (1 = uniform; instead of skew)"),
    I(redundant_experts, 0, DEVICES, "EPLB redundant expert slots over the EP group"),
    B(eplb, "place experts by expected load"),
    N(eplb_drift, 0, SIM_DEPLOY_MAX_EPLB_DRIFT, "with EPLB: the lognormal sigma of each expert's popularity in a batch "
      "against the statistics EPLB placed by (0 = every batch follows them; default " STRINGIFY(SIM_ROUTING_EPLB_DRIFT) ", fitted to NVIDIA "
      "TensorRT-LLM tech blog 4 Table 1, DeepSeek-R1 EP32: the busiest rank 1.109x the mean; its scaling with the "
      "batch is not published, taken as constant). A single-dataset batch or an EPLB that rebalances every few "
      "iterations may drift less"),
    B(offload, "let weights spill to every slower memory tier"),
    B(emulate, "run a weight or KV format the hardware does not support (hwmodel 'formats') on a fallback compute type; the output says emulated"),
    I(max_batched_tokens, 0, 1e9, "token cap per iteration per attention rank (default 8192, or the engine's)"),
    S(engine, "serving engine whose KV accounting, token cap and kernels to follow: vllm sglang trtllm (default: none, moesim's generic 0.9 of capacity)"),
    N(mem_fraction, 0, 1, "the engine's memory fraction: vLLM gpu_memory_utilization, SGLang mem_fraction_static, TensorRT-LLM free_gpu_memory_fraction (default: the engine's)"),
    S(experts_on, "where routed experts run beside a GPU: gpu (default) or cpu: every MoE layer's routed experts in host DRAM, computed by --host-cpu (llama.cpp -ot exps=CPU, ktransformers)"),
    I(cpu_moe_layers, 0, 1e6, "routed experts of the first N MoE layers in host DRAM, computed by --host-cpu (llama.cpp --n-cpu-moe N; 0 = none)"),
    S(host_cpu, "the GPU's host CPU, a hwmodel of class cpu (e.g. ryzen-7950x), for --experts-on cpu / --cpu-moe-layers: its compute per data type and DRAM; required with them"),
    S(cpu_moe_runtime, "schedule of CPU experts: llamacpp (default: GPU and CPU take turns; >= 32 tokens copy the experts to the GPU) or ktransformers (CPU experts overlap the GPU's shared experts)"),
    S(runtime, "the inference program, whose kernels set the hwmodel's GEMM curves: llamacpp (default: mainline llama.cpp, what most people run) or ik_llamacpp (ikawrakow's fork: repacked CPU GEMMs, 2-3x mainline's prompt speed on a CPU; a hwmodel without curves for it keeps its base ones). Beside a GPU, --cpu-moe-runtime still picks the CPU experts' schedule"),
    S(numa, "a multi-socket CPU (hwmodel numa), the device or --host-cpu: interleave (weights spread over the sockets, "
      "llama.cpp --numa distribute), duplicate (a copy per socket, ktransformers USE_NUMA=1) or single (one socket, "
      "numactl --membind) (default: the runtime's: single for llama.cpp, duplicate for ktransformers)"),
    N(usd_per_gpu_hour, 0, 1e6, "rent per device-hour (default: the hwmodel's)"),
    B(owned, "cost as owned hardware: purchase over lifetime + energy"),
    N(usd_per_kwh, 0, 1e3, "energy price for owned hardware (default 0.10)"),
    N(pue, 0, 5, "power usage effectiveness (default 1.3 for data-centre GPUs, else 1.0)"),
    N(lifetime_years, 0, 100, "depreciation period for owned hardware (default: the hwmodel's)"),
    I(prefill_gpus, 0, DEVICES, "disaggregated: devices of the prefill pool (0 = aggregated)"),
    I(prefill_tp, 0, DEVICES, "disaggregated: prefill pool tp"),
    I(prefill_ep, 0, DEVICES, "disaggregated: prefill pool ep"),
    I(prefill_pp, 0, DEVICES, "disaggregated: prefill pool pp"),
    I(prefill_dp, 0, DEVICES, "disaggregated: prefill pool dp"),
    I(prefill_instances, 1, DEVICES, "xPyD: prefill instances of the prefill layout in one serving instance (default 1)"),
    I(decode_instances, 1, DEVICES, "xPyD: decode instances of the decode layout (gpus, tp, ...) in one serving instance (default 1)"),
    I(seed, 0, 2147483647.0, "Monte Carlo seed for routing statistics"),
    N(rate, -INFINITY, 1e9, "serve: requests per second (Poisson or gamma arrivals)"),
    I(requests, -INFINITY, 1e8, "serve: requests to simulate (default 0: sized from the rate and the predicted latency; with a trace, at most this many, 0 = all)"),
    S(arrival, "serve: poisson, gamma or trace (default poisson, or trace when --trace is given)"),
    N(burstiness, 1e-3, 1e3, "serve: gamma shape of the gaps between arrivals (1 = Poisson, < 1 burstier)"),
    S(trace, "serve: CSV trace, lines of arrival_s,input_tokens,output_tokens"),
    S(isl_dist, "serve: prompt length law around --isl: fixed uniform exponential lognormal"),
    S(osl_dist, "serve: output length law around --osl: fixed uniform exponential lognormal"),
    N(len_cv, 0, 10, "serve: coefficient of variation of uniform and lognormal lengths (default 0.5)"),
    N(prefix_hit, 0, 0.999999, "share of prompt tokens found in the prefix cache, [0, 1): computed no more, still attended to"),
    I(spec_tokens, 0, 16, "speculative decoding: draft tokens per decode step, from the MTP module or --draft-model (0 = off)"),
    S(draft_model, "speculative decoding with a separate draft model (a shipped name or a card path; same "
      "vocabulary as the model): run on the target's tp devices, its weights and KV beside the target's; needs "
      "spec_tokens and spec_accept"),
    S(spec_method, "speculative decoding: the drafter, mtp (default: the card's MTP module) or eagle3 (an EAGLE-3 "
      "head: one dense decoder layer of the model's width fed by a 3h->h fusion of three hidden states, the model's "
      "LM head; needs spec_tokens and spec_accept)"),
    N(spec_accept, 1, 17, "speculative decoding: mean tokens a decode step produces per sequence, 1 .. spec_tokens + 1 "
      "(default, in eval, serve and search alike: the model card's published figure for that many draft tokens; "
      "required with draft_model, spec_method eagle3 or a card that publishes none; serve's simulation keeps it "
      "exact in 1/1000ths, rounding any other figure and saying so)"),
    I(max_num_seqs, 0, 1e7, "serve: running sequences per attention rank (0 = KV and token cap only; with --engine, "
                            "the engine's default when not given)"),
    I(block_size, 1, 1e6, "serve: KV cache block size in tokens (default 16, or the engine's with --engine)"),
    I(cuda_graph_max, 0, 1e7, "serve: largest CUDA-graph decode batch; smaller ones pad up (0 = no padding; default 512, "
                              "or the engine's with --engine)"),
    N(slo_ttft_s, 0, 1e6, "serve/search: SLO on time to first token, seconds (0 = none)"),
    N(slo_tpot_s, 0, 1e6, "serve/search: SLO on time per output token, seconds (0 = none)"),
    S(price, "price kind of every cost: on-demand spot reserved-1y reserved-3y (prices/devices.json, dated and "
      "sourced; KIND:PROVIDER picks a provider), tco (the hwmodel's price), own (purchase over lifetime + energy) "
      "(default: the hwmodel's price, printed as 'rent')"),
    N(requests_per_day, 0, 1e12, "traffic: requests per day; sizes replicas for the peak and prints the monthly bill "
      "beside the hosted APIs that offer the model"),
    N(requests_per_hour, 0, 1e11, "traffic: requests per hour (instead of requests_per_day)"),
    N(peak_factor, 1, 1e4, "traffic: the peak hour's rate over the day's mean (default 2.236: the Azure LLM "
      "inference trace 2024, coding service, weekdays; its conversation service peaks at 1.337)"),
    S(diurnal, "traffic: the day's profile whose peak hour over its mean is the peak factor: azure-code-2024, "
      "azure-conv-2024 (Azure LLM inference trace 2024, weekday means), flat, or a file of 24 hourly rates "
      "(numbers separated by spaces, commas or new lines; '#' starts a comment)"),
    { { NULL, SIM_OPT_STR, NULL }, 0, 0, 0, 0 },
};

_Static_assert(sizeof options / sizeof options[0] <= SIM_REQUEST_MAX_OPTIONS,
               "sim_request.given has no room for every option: raise SIM_REQUEST_MAX_OPTIONS");

const sim_opt_spec *sim_request_option(size_t i)
{
    return i + 1 < sizeof options / sizeof options[0] ? &options[i].spec : NULL;
}

static const opt_entry *find(const char *name)
{
    for (const opt_entry *e = options; e->spec.name; e++)
        if (strcmp(e->spec.name, name) == 0)
            return e;
    return NULL;
}

bool sim_request_given(const sim_request *r, const char *name)
{
    const opt_entry *e = find(name);
    return e && r->given[e - options];
}

/* Marks e given in r (every setter calls it once the value is taken). */
static int mark_given(sim_request *r, const opt_entry *e)
{
    r->given[e - options] = 1;
    return SIM_OK;
}

const sim_opt_spec *sim_request_find(const char *name)
{
    const opt_entry *e = find(name);
    return e ? &e->spec : NULL;
}

void sim_request_option_list(char *buf, size_t cap)
{
    size_t used = 0;
    buf[0] = '\0';
    for (const opt_entry *e = options; e->spec.name && used < cap; e++)
        used += snprintf(buf + used, cap - used, "%s%s", e == options ? "" : ", ", e->spec.name);
}

void sim_request_defaults(sim_request *r)
{
    memset(r, 0, sizeof *r);
    r->isl = 1024;
    r->osl = 1024;
    r->concurrency = 1;
    r->skew = -1;
    r->expert_imbalance = 0;
    r->eplb_drift = -1;
    r->usd_per_gpu_hour = -1;
    r->usd_per_kwh = 0.10;
    r->seed = 20250101;
    r->requests = 0; /* serve: sized from the rate (cli/serve_request.c); search confirms with 1000 */
    r->burstiness = 1;
    r->len_cv = 0.5;
    r->spec_accept = 1;
    r->block_size = 16;
    r->cuda_graph_max = 512;
}

static int unknown_option(const char *name, sim_err *err)
{
    char list[1024];
    sim_request_option_list(list, sizeof list);
    return sim_fail(err, SIM_EINPUT, "unknown option '%s' (known: %s)", name, list);
}

static const char *type_name(sim_opt_type t)
{
    static const char *const n[] = { "a string", "an integer", "a number", "true or false" };
    return n[t];
}

static int in_range(const opt_entry *e, double v, sim_err *err)
{
    if (v < e->lo)
        return sim_fail(err, SIM_EINPUT, "option '%s' must be >= %g (got %g)", e->spec.name, e->lo, v);
    if (v > e->hi)
        return sim_fail(err, SIM_EINPUT, "option '%s' must be <= %g (got %g)", e->spec.name, e->hi, v);
    return SIM_OK;
}

int sim_request_set_num(sim_request *r, const char *name, double v, sim_err *err)
{
    const opt_entry *e = find(name);
    if (!e)
        return unknown_option(name, err);
    char *base = (char *)r + e->offset;
    if (e->spec.type == SIM_OPT_INT) {
        if (!isfinite(v) || v != floor(v) || fabs(v) > 1e9)
            return sim_fail(err, SIM_EINPUT, "option '%s' must be an integer (got %g)", name, v);
        if (in_range(e, v, err))
            return err->code;
        *(int *)base = (int)v;
        if (e->offset == offsetof(sim_request, max_num_seqs))
            r->max_num_seqs_given = true;
        if (e->offset == offsetof(sim_request, cuda_graph_max))
            r->cuda_graph_max_given = true;
        if (e->offset == offsetof(sim_request, block_size))
            r->block_size_given = true;
    } else if (e->spec.type == SIM_OPT_NUM) {
        if (!isfinite(v))
            return sim_fail(err, SIM_EINPUT, "option '%s' must be a finite number", name);
        if (in_range(e, v, err))
            return err->code;
        *(double *)base = v;
        if (e->offset == offsetof(sim_request, spec_accept))
            r->spec_accept_given = true; /* the card's figure applies only when none is given */
    } else {
        return sim_fail(err, SIM_EINPUT, "option '%s' must be %s (got a number)", name, type_name(e->spec.type));
    }
    return mark_given(r, e);
}

int sim_request_set_str(sim_request *r, const char *name, const char *v, sim_err *err)
{
    const opt_entry *e = find(name);
    if (!e)
        return unknown_option(name, err);
    if (e->spec.type != SIM_OPT_STR)
        return sim_fail(err, SIM_EINPUT, "option '%s' must be %s (got \"%s\")", name, type_name(e->spec.type), v);
    if (strlen(v) >= e->size)
        return sim_fail(err, SIM_EINPUT, "option '%s' is too long (at most %zu characters)", name, e->size - 1);
    strcpy((char *)r + e->offset, v);
    return mark_given(r, e);
}

int sim_request_set_bool(sim_request *r, const char *name, bool v, sim_err *err)
{
    const opt_entry *e = find(name);
    if (!e)
        return unknown_option(name, err);
    if (e->spec.type != SIM_OPT_BOOL)
        return sim_fail(err, SIM_EINPUT, "option '%s' must be %s (got a boolean)", name, type_name(e->spec.type));
    *(bool *)((char *)r + e->offset) = v;
    return mark_given(r, e);
}

int sim_request_set_text(sim_request *r, const char *name, const char *value, sim_err *err)
{
    const opt_entry *e = find(name);
    if (!e)
        return unknown_option(name, err);
    switch (e->spec.type) {
    case SIM_OPT_STR:
        return sim_request_set_str(r, name, value, err);
    case SIM_OPT_BOOL:
        if (!value || strcmp(value, "true") == 0 || strcmp(value, "1") == 0)
            return sim_request_set_bool(r, name, true, err);
        if (strcmp(value, "false") == 0 || strcmp(value, "0") == 0)
            return sim_request_set_bool(r, name, false, err);
        return sim_fail(err, SIM_EINPUT, "option '%s' must be true or false (got '%s')", name, value);
    default: {
        char *end = NULL;
        double v = value ? strtod(value, &end) : 0;
        if (!value || end == value || *end != '\0')
            return sim_fail(err, SIM_EINPUT, "option '%s' must be %s (got '%s')", name, type_name(e->spec.type),
                            value ? value : "nothing");
        return sim_request_set_num(r, name, v, err);
    }
    }
}

/* --- evaluation --- */

static int parse_fmt(const char *v, const char *opt, sim_wformat *out, sim_err *err)
{
    if (sim_wformat_parse(v, out) != 0)
        return sim_fail(err, SIM_EINPUT, "option '%s': unknown precision '%s' (one of %s)", opt, v,
                        sim_wformat_names());
    return SIM_OK;
}

/* One storage type (KV cache, dispatch payload): a GGUF file type is a recipe over weight
 * tensors, not a type anything else can be stored in. */
static int parse_storage_fmt(const char *v, const char *opt, sim_wformat *out, sim_err *err)
{
    int rc = parse_fmt(v, opt, out, err);
    if (rc == SIM_OK && sim_wformat_is_recipe(*out))
        return sim_fail(err, SIM_EINPUT,
                        "option '%s': '%s' is a GGUF file recipe for weights, not a storage type "
                        "(one of %s, excluding the _s/_m/_l files and mxfp4_moe)",
                        opt, v, sim_wformat_names());
    return rc;
}

/* --gguf-file-gib, --gguf-bpw: the file as measured (after the precisions, whose recipe it revises). */
static int file_size_options(const sim_request *r, const sim_model *m, sim_deploy *d, sim_err *err)
{
    if (r->gguf_file_gib > 0 && r->gguf_bpw > 0)
        return sim_fail(err, SIM_EINPUT, "options 'gguf_file_gib' and 'gguf_bpw' both given: give one (the file's size "
                        "in GiB, or its bits per weight)");
    const char *opt = r->gguf_file_gib > 0 ? "gguf_file_gib" : "gguf_bpw";
    double bytes = r->gguf_file_gib * 1073741824.0;
    if (r->gguf_bpw > 0) { /* llama.cpp's BPW: file bytes x 8 over every parameter */
        sim_param_counts pc;
        sim_model_params(m, &pc);
        bytes = r->gguf_bpw * pc.total / 8.0;
    }
    if (!(bytes > 0))
        return SIM_OK;
    if (!r->precision[0])
        return sim_fail(err, SIM_EINPUT, "option '%s' describes a GGUF file: give its file type as --precision "
                        "(q3_k_s, q4_k_m, ...)", opt);
    if (sim_deploy_set_file_bytes(d, bytes, NULL, err))
        return sim_wrap(err, "option '%s'", opt);
    return SIM_OK;
}

/* --experts-on, --cpu-moe-layers, --cpu-moe-runtime (the host CPU itself is loaded by
 * sim_request_deploy, which holds the session). */
static int cpu_moe_options(const sim_request *r, const sim_model *m, sim_deploy *d, sim_err *err)
{
    bool all = false;
    if (r->experts_on[0]) {
        if (strcasecmp(r->experts_on, "cpu") == 0)
            all = true;
        else if (strcasecmp(r->experts_on, "gpu") != 0)
            return sim_fail(err, SIM_EINPUT, "option 'experts_on': unknown '%s' (one of gpu, cpu)", r->experts_on);
    }
    if (r->experts_on[0] && r->cpu_moe_layers > 0)
        return sim_fail(err, SIM_EINPUT, "options 'experts_on' and 'cpu_moe_layers' both given: give one (experts_on cpu "
                        "puts every MoE layer's experts on the CPU, cpu_moe_layers N the first N)");
    d->cpu_moe_layers = all ? (m->ffn.moe_layers > 0 ? m->ffn.moe_layers : 1) : r->cpu_moe_layers;
    if (r->cpu_moe_runtime[0] && sim_cpu_moe_runtime_parse(r->cpu_moe_runtime, &d->cpu_moe_runtime) != 0)
        return sim_fail(err, SIM_EINPUT, "option 'cpu_moe_runtime': unknown '%s' (one of llamacpp, ktransformers)",
                        r->cpu_moe_runtime);
    if (r->cpu_moe_runtime[0] && d->cpu_moe_layers <= 0)
        return sim_fail(err, SIM_EINPUT, "option 'cpu_moe_runtime' needs experts on the CPU: give --experts-on cpu or "
                        "--cpu-moe-layers N");
    return SIM_OK;
}

/* --spec-method: which drafter runs beside the target. An EAGLE-3 head (arXiv:2503.01840) is
 * one dense decoder layer (SpecForge docs/concepts/EAGLE3.md: "often consists of only one
 * dense decoder layer"), so a MoE target's head has an FFN width of the checkpoint's own that
 * no card carries: refused there rather than guessed. */
static int spec_method_option(const sim_request *r, const sim_model *m, sim_deploy *d, sim_err *err)
{
    d->spec_method = SIM_SPEC_MTP;
    if (!r->spec_method[0] || strcasecmp(r->spec_method, "mtp") == 0)
        return SIM_OK;
    if (strcasecmp(r->spec_method, "eagle3") != 0)
        return sim_fail(err, SIM_EINPUT, "option 'spec_method': unknown '%s' (one of mtp, eagle3)", r->spec_method);
    if (r->draft_model[0])
        return sim_fail(err, SIM_EINPUT, "option 'spec_method' eagle3 drafts with an EAGLE-3 head, option "
                        "'draft_model' with a separate model: give one");
    if (r->spec_tokens < 1)
        return sim_fail(err, SIM_EINPUT, "option 'spec_method' eagle3 drafts spec_tokens tokens per step: give "
                        "'spec_tokens' (1 to 16) and 'spec_accept'");
    if (sim_model_is_moe(m) || m->hybrid.on)
        return sim_fail(err, SIM_EINPUT, "option 'spec_method' eagle3: an EAGLE-3 head is one dense decoder layer "
                        "whose FFN width is its checkpoint's own; for %s (not a dense transformer) that width is in no "
                        "card, so the head is not modelled", m->name);
    d->spec_method = SIM_SPEC_EAGLE3;
    return SIM_OK;
}

int sim_request_deploy_options(const sim_request *r, const sim_model *m, const sim_hw *hw, sim_deploy *d,
                               sim_err *err)
{
    sim_deploy_defaults(d, m, hw);
    int rc;
    sim_wformat f;
    if (r->engine[0]) {
        sim_engine e;
        if (sim_engine_parse(r->engine, &e) != 0)
            return sim_fail(err, SIM_EINPUT, "option 'engine': unknown '%s' (one of vllm, sglang, trtllm)", r->engine);
        /* first: its token-cap default yields to --max-batched-tokens below */
        sim_deploy_set_engine(d, e);
    }
    d->mem_fraction = r->mem_fraction;
    if (r->precision[0]) {
        if ((rc = parse_fmt(r->precision, "precision", &f, err)))
            return rc;
        sim_deploy_set_precision(d, f);
    }
    if (strcasecmp(r->dense_precision, "native") == 0) {
        sim_deploy_set_native_dense(d);
    } else if (r->dense_precision[0]) {
        if ((rc = parse_fmt(r->dense_precision, "dense_precision", &f, err)))
            return rc;
        sim_deploy_set_dense_precision(d, f);
    }
    if ((rc = file_size_options(r, m, d, err)))
        return rc;
    if (r->kv_precision[0] && (rc = parse_storage_fmt(r->kv_precision, "kv_precision", &d->kv_fmt, err)))
        return rc;
    if (r->dispatch_precision[0] &&
        (rc = parse_storage_fmt(r->dispatch_precision, "dispatch_precision", &d->dispatch_fmt, err)))
        return rc;
    if (r->transport[0] && sim_a2a_parse(r->transport, &d->transport) != 0)
        return sim_fail(err, SIM_EINPUT, "option 'transport': unknown '%s' (one of auto, per-expert, per-node, nvlink)",
                        r->transport);
    if (r->overlap[0] && sim_overlap_parse(r->overlap, &d->overlap) != 0)
        return sim_fail(err, SIM_EINPUT, "option 'overlap': unknown '%s' (one of none, two-batch)", r->overlap);
    if (r->skew >= 0 && r->expert_imbalance > 0)
        return sim_fail(err, SIM_EINPUT, "options 'skew' and 'expert_imbalance' both given: give one (expert_imbalance "
                        "is the busiest over the idlest expert's tokens, skew the popularity exponent it sets)");
    if (r->skew >= 0 && (rc = sim_deploy_set_skew(d, r->skew, err)))
        return sim_wrap(err, "option 'skew'");
    if (r->expert_imbalance > 0 && (rc = sim_deploy_set_imbalance(d, r->expert_imbalance, err)))
        return sim_wrap(err, "option 'expert_imbalance'");
    sim_deploy_set_redundant(d, r->redundant_experts, r->eplb);
    if (r->eplb_drift >= 0 && !d->eplb) /* refused, not ignored: the drift the user meant would not be there */
        return sim_fail(err, SIM_EINPUT, "option 'eplb_drift' needs EPLB: give 'eplb' (--eplb) or 'redundant_experts' "
                        "(--redundant-experts N); it is the batch's drift from the statistics EPLB places by");
    if (r->eplb_drift >= 0 && (rc = sim_deploy_set_eplb_drift(d, r->eplb_drift, err)))
        return sim_wrap(err, "option 'eplb_drift'");
    d->offload = r->offload;
    d->emulate = r->emulate;
    if (r->numa[0] && sim_numa_parse(r->numa, &d->numa) != 0)
        return sim_fail(err, SIM_EINPUT, "option 'numa': unknown '%s' (one of interleave, duplicate, single)", r->numa);
    if ((rc = cpu_moe_options(r, m, d, err)))
        return rc;
    if (r->runtime[0] && sim_runtime_parse(r->runtime, &d->runtime) != 0)
        return sim_fail(err, SIM_EINPUT, "option 'runtime': unknown '%s' (one of llamacpp, ik_llamacpp)", r->runtime);
    if (r->max_batched_tokens)
        d->max_batched_tokens = r->max_batched_tokens;
    if ((rc = spec_method_option(r, m, d, err)))
        return rc;
    d->seed = (unsigned long)r->seed;
    return SIM_OK;
}

/* The split only sets gpus, tp, ep, pp and dp, so options and split may come in any order. */
static int build_deploy(const sim_request *r, const sim_model *m, const sim_hw *hw, const sim_hw *host,
                        const sim_model *draft, sim_deploy *d, sim_err *err)
{
    int rc = sim_request_deploy_options(r, m, hw, d, err);
    if (rc)
        return rc;
    d->host_cpu = host;
    d->draft_model = draft;
    const sim_split_req split = { r->gpus, r->tp, r->ep, r->pp, r->dp };
    if ((rc = sim_deploy_split(d, &split, "", err)))
        return rc;
    return sim_deploy_check(d, err);
}

void sim_request_serve_opts(const sim_request *r, sim_serve_opts *o)
{
    sim_serve_defaults(o);
    o->isl = r->isl;
    o->osl = r->osl;
    o->concurrency = r->concurrency;
    o->replicas = r->replicas ? r->replicas : 1;
    o->cost.usd_per_gpu_hour = r->usd_per_gpu_hour;
    o->cost.owned = r->owned;
    o->cost.usd_per_kwh = r->usd_per_kwh;
    o->cost.pue = r->pue;
    o->cost.lifetime_years = r->lifetime_years;
}

/* A file of 24 hourly rates: numbers separated by spaces, commas or new lines; '#' comments. */
static int diurnal_file(const char *path, double rate[SIM_DIURNAL_HOURS], sim_err *err)
{
    size_t len;
    sim_err e = { 0 };
    char *text = sim_read_file(path, 1 << 20, "diurnal profile", &len, &e);
    if (!text)
        return sim_fail(err, e.code, "option 'diurnal': %s", e.msg);
    int n = 0, rc = SIM_OK;
    for (char *p = text; *p && !rc;) {
        if (*p == '#') {
            p += strcspn(p, "\n");
            continue;
        }
        if (strchr(" \t\r\n,", *p)) {
            p++;
            continue;
        }
        char *end;
        double v = strtod(p, &end);
        if (end == p)
            rc = sim_fail(err, SIM_EINPUT, "option 'diurnal': %s: '%.20s' is not a number (expected 24 hourly rates)",
                          path, p);
        else if (n >= SIM_DIURNAL_HOURS)
            rc = sim_fail(err, SIM_EINPUT, "option 'diurnal': %s: more than 24 hourly rates", path);
        else
            rate[n++] = v;
        p = end > p ? end : p + 1;
    }
    free(text);
    if (!rc && n != SIM_DIURNAL_HOURS)
        rc = sim_fail(err, SIM_EINPUT, "option 'diurnal': %s: expected 24 hourly rates, one per hour of the day (got %d)",
                      path, n);
    return rc;
}

/* --diurnal NAME|FILE: the profile's peak hour over its mean becomes the peak factor. */
static int diurnal_peak(const char *arg, sim_traffic *t, sim_err *err)
{
    double rate[SIM_DIURNAL_HOURS];
    const char *source = NULL;
    sim_err named = { 0 };
    int rc = sim_diurnal_named(arg, rate, &source, &named);
    if (rc && (strchr(arg, '/') || strchr(arg, '.') || access(arg, F_OK) == 0))
        rc = diurnal_file(arg, rate, err);
    else if (rc)
        *err = named;
    if (rc || (rc = sim_diurnal_peak_factor(rate, &t->peak_factor, err)))
        return rc;
    snprintf(t->peak_source, sizeof t->peak_source, "--diurnal %.60s: peak hour / mean hour%s%.100s", arg,
             source ? " of the " : "", source ? source : "");
    return SIM_OK;
}

int sim_request_traffic(const sim_request *r, sim_traffic *t, sim_err *err)
{
    memset(t, 0, sizeof *t);
    if (r->requests_per_day > 0 && r->requests_per_hour > 0)
        return sim_fail(err, SIM_EINPUT, "options 'requests_per_day' and 'requests_per_hour' both given: give one");
    t->requests_per_day = r->requests_per_day > 0 ? r->requests_per_day : 24 * r->requests_per_hour;
    t->peak_factor = r->peak_factor;
    if (r->peak_factor > 0 && !(t->requests_per_day > 0))
        return sim_fail(err, SIM_EINPUT, "option 'peak_factor' goes with 'requests_per_day' or 'requests_per_hour'");
    if (r->peak_factor > 0)
        snprintf(t->peak_source, sizeof t->peak_source, "given: --peak-factor");
    if (r->diurnal[0]) {
        if (!(t->requests_per_day > 0))
            return sim_fail(err, SIM_EINPUT, "option 'diurnal' goes with 'requests_per_day' or 'requests_per_hour'");
        if (r->peak_factor > 0)
            return sim_fail(err, SIM_EINPUT, "options 'peak_factor' and 'diurnal' both given: give one (the profile's "
                            "peak hour over its mean is the peak factor)");
        int rc = diurnal_peak(r->diurnal, t, err);
        if (rc)
            return rc;
    }
    t->slo_ttft_s = r->slo_ttft_s;
    t->slo_tpot_s = r->slo_tpot_s;
    return SIM_OK;
}

static const char *kind_static(const char *k)
{
    static const char *const kinds[] = { "on-demand", "spot", "reserved-1y", "reserved-3y", "tco", "own" };
    for (size_t i = 0; i < sizeof kinds / sizeof kinds[0]; i++)
        if (strcmp(kinds[i], k) == 0)
            return kinds[i];
    return NULL;
}

int sim_request_price(sim_session *session, const sim_request *r, const sim_hw *const *hw, int nhw,
                      sim_cost_opts *c, sim_err *err)
{
    if (!r->price[0])
        return SIM_OK;
    char kind[64];
    snprintf(kind, sizeof kind, "%s", r->price);
    char *colon = strchr(kind, ':');
    const char *provider = colon ? colon + 1 : "";
    if (colon)
        *colon = '\0';
    const char *k = kind_static(kind);
    if (!k)
        return sim_fail(err, SIM_EINPUT, "option 'price': unknown kind '%s' (one of %s)", kind, sim_price_kinds());
    if (r->usd_per_gpu_hour >= 0 || (r->owned && strcmp(k, "own") != 0))
        return sim_fail(err, SIM_EINPUT, "option 'price' (%s) and option '%s' both set the price: give one", k,
                        r->usd_per_gpu_hour >= 0 ? "usd_per_gpu_hour" : "owned");
    if (provider[0] && (!strcmp(k, "tco") || !strcmp(k, "own")))
        return sim_fail(err, SIM_EINPUT, "option 'price': %s comes from the hwmodel and has no provider (got '%s')", k,
                        r->price);
    if (nhw > SIM_COST_MAX_RATES)
        return sim_fail(err, SIM_EINPUT, "option 'price': at most %d devices", SIM_COST_MAX_RATES);
    c->kind = k;
    c->nrates = 0;
    for (int i = 0; i < nhw; i++) {
        if (!strcmp(k, "tco") && !(hw[i]->usd_per_hour > 0))
            return sim_fail(err, SIM_EINPUT, "option 'price': %s has no rent price in its hwmodel (%s); try own",
                            hw[i]->name, hw[i]->price_source);
        if (!strcmp(k, "own") && !(hw[i]->purchase_usd > 0))
            return sim_fail(err, SIM_EINPUT, "option 'price': %s has no purchase price in its hwmodel (%s)",
                            hw[i]->name, hw[i]->price_source);
    }
    if (!strcmp(k, "own")) {
        c->owned = true;
        return SIM_OK;
    }
    if (!strcmp(k, "tco"))
        return SIM_OK;
    const sim_prices *p = sim_session_prices(session, err);
    if (!p)
        return err->code;
    for (int i = 0; i < nhw; i++) {
        const sim_price_row *row = sim_prices_find(p, hw[i]->name, k, provider);
        if (!row) {
            char have[1024];
            sim_prices_list_for(p, hw[i]->name, have, sizeof have);
            return sim_fail(err, SIM_EINPUT, "option 'price': no %s%s%s price for %s in prices/devices.json (it has: %s; "
                            "tco and own come from the hwmodel)", k, provider[0] ? ":" : "", provider, hw[i]->name,
                            have);
        }
        c->rates[c->nrates++] = (sim_cost_rate){ hw[i], row };
    }
    return SIM_OK;
}

/* A drafter with no published acceptance (a draft model, an EAGLE-3 head): the option's
 * figure, required, the refusal saying why (`why`). */
static int acceptance_from_option(const sim_request *r, bool given, sim_serve_opts *o, const char *why, sim_err *err)
{
    if (!given)
        return sim_fail(err, SIM_EINPUT, "option 'spec_accept' is required %s (give the mean tokens a decode step "
                        "produces per sequence, 1 to %d)", why, r->spec_tokens + 1);
    o->spec_accept = r->spec_accept;
    o->spec_source = "option spec_accept";
    return SIM_OK;
}

int sim_request_spec_opts(const sim_request *r, const sim_model *m, sim_serve_opts *o, sim_err *err)
{
    int k = r->spec_tokens;
    /* given: set through the option table, or to anything but the default in the struct */
    bool given = r->spec_accept_given || r->spec_accept != 1;
    o->spec_tokens = k;
    o->prefix_hit = r->prefix_hit;
    o->spec_accept = 1;
    o->spec_source = NULL;
    if (!(r->prefix_hit >= 0 && r->prefix_hit < 1))
        return sim_fail(err, SIM_EINPUT, "option 'prefix_hit' must be in [0, 1) (got %g)", r->prefix_hit);
    if (given && !(r->spec_accept >= 1 && r->spec_accept <= k + 1))
        return sim_fail(err, SIM_EINPUT, "option 'spec_accept' (accepted tokens per step per sequence) must be in "
                        "[1, spec_tokens + 1 = %d] (got %g)", k + 1, r->spec_accept);
    if (k == 0) {
        if (r->draft_model[0])
            return sim_fail(err, SIM_EINPUT, "option 'draft_model' drafts spec_tokens tokens per step: give "
                            "'spec_tokens' (1 to 16) and 'spec_accept'");
        return SIM_OK;
    }
    if (r->spec_method[0] && strcasecmp(r->spec_method, "eagle3") == 0) {
        /* The EAGLE-3 paper's acceptance lengths (tau, arXiv:2503.01840) come from EAGLE's
         * draft trees (EAGLE-2's dynamic tree; SGLang's EAGLE docs: the drafts "are extended in a
         * tree style", speculative_eagle_topk), which moesim does not model (its verify step is
         * a chain of k+1 rows); no published chain-drafting tau for a model pair was found in
         * the corpus, so the option is required. */
        return acceptance_from_option(r, given, o, "with spec_method eagle3: the published EAGLE-3 acceptance "
                                      "lengths are for tree drafting, not the chain of k tokens modelled here", err);
    }
    if (r->draft_model[0]) {
        /* the card's acceptance is its MTP module's; a draft model's depends on the pair and the data */
        return acceptance_from_option(r, given, o, "with 'draft_model': the acceptance of a draft model depends "
                                      "on the pair and the prompts", err);
    }
    if (m->mtp_layers < 1)
        return sim_fail(err, SIM_EINPUT, "option 'spec_tokens': %s has no MTP module to draft with (mtp_layers 0); "
                        "name a draft model with 'draft_model'", m->name);
    if (given) {
        o->spec_accept = r->spec_accept;
        o->spec_source = "option spec_accept";
    } else if (m->spec.n >= k) {
        o->spec_accept = m->spec.accepted[k - 1];
        o->spec_source = m->spec.source;
    } else {
        return sim_fail(err, SIM_EINPUT, "option 'spec_accept' is required with spec_tokens %d: the card of %s "
                        "publishes %s (give the mean tokens a decode step produces per sequence, 1 to %d)", k, m->name,
                        m->spec.n ? "acceptance for fewer draft tokens only" : "no MTP acceptance", k + 1);
    }
    return SIM_OK;
}

int sim_request_deploy(sim_session *session, const sim_request *r, sim_deploy *d, sim_deploy *pre, bool *has_prefill, sim_serve_opts *o,
                       sim_err *err)
{
    *has_prefill = false;
    if (!r->model[0])
        return sim_fail(err, SIM_EINPUT, "option 'model' is required (a shipped name or a path to a model card)");
    if (!r->hw[0])
        return sim_fail(err, SIM_EINPUT, "option 'hw' is required (a shipped name or a path to a hwmodel)");
    const sim_model *m = sim_session_model(session, r->model, err);
    if (!m)
        return err->code;
    const sim_hw *hw = sim_session_hw(session, r->hw, err);
    if (!hw)
        return err->code;
    const sim_hw *host = NULL;
    if (r->host_cpu[0] && !(host = sim_session_hw(session, r->host_cpu, err)))
        return sim_wrap(err, "option 'host_cpu'");
    const sim_model *draft = NULL;
    if (r->draft_model[0] && !(draft = sim_session_model(session, r->draft_model, err)))
        return sim_wrap(err, "option 'draft_model'");
    int rc = build_deploy(r, m, hw, host, draft, d, err);
    if (rc)
        return rc;
    d->routing_cache = sim_session_routing(session);
    sim_request_serve_opts(r, o);
    const sim_hw *hws[1] = { hw };
    if ((rc = sim_request_price(session, r, hws, 1, &o->cost, err)))
        return rc;
    if (r->prefill_gpus || r->prefill_tp || r->prefill_dp || r->prefill_ep || r->prefill_pp) {
        *pre = *d;
        const sim_split_req psplit = { r->prefill_gpus, r->prefill_tp, r->prefill_ep, r->prefill_pp, r->prefill_dp };
        if ((rc = sim_deploy_split(pre, &psplit, "prefill pool: ", err)))
            return rc;
        if ((rc = sim_deploy_check(pre, err)))
            return sim_wrap(err, "prefill pool");
        *has_prefill = true;
        o->prefill = pre;
    } else if (r->prefill_instances > 1 || r->decode_instances > 1) {
        return sim_fail(err, SIM_EINPUT, "options 'prefill_instances' and 'decode_instances' need a prefill pool "
                        "('prefill_gpus' or a prefill split); aggregated serving has one kind of instance (use 'replicas')");
    }
    o->prefill_instances = r->prefill_instances;
    o->decode_instances = r->decode_instances;
    return SIM_OK;
}

static int parse_phase(const char *phase, bool *prefill, sim_err *err)
{
    *prefill = strcasecmp(phase, "prefill") == 0;
    if (!*prefill && strcasecmp(phase, "decode") != 0)
        return sim_fail(err, SIM_EINPUT, "option 'phase' must be prefill or decode (got '%s')", phase);
    return SIM_OK;
}

const char *sim_request_first_given(const sim_request *r, const char *const *names)
{
    for (; *names; names++)
        if (sim_request_given(r, *names))
            return *names;
    return NULL;
}

/* Options one step (a phase, sim_phase_run_spec, or llama-bench's tests, sim_local_bench_run)
 * does not read, refused rather than ignored: the answer would not be what they ask for. The
 * rest (model, hardware, split, precisions, transport, overlap, routing, memory, engine, host
 * CPU, seed) shape the step. `what` names the mode ("'phase'"), `is` says what it evaluates;
 * drafting: speculative decoding is refused too, for the reason `drafting_refused`. */
static int step_options(const sim_request *r, const char *what, const char *is, bool drafting,
                        const char *drafting_refused, sim_err *err)
{
    static const char *const serving[] = { "isl", "osl", "concurrency", "replicas", "rate", "requests", "arrival",
                                           "burstiness", "trace", "isl_dist", "osl_dist", "len_cv", "max_num_seqs",
                                           "block_size", "cuda_graph_max", "slo_ttft_s", "slo_tpot_s", NULL };
    static const char *const cost[] = { "requests_per_day", "requests_per_hour", "peak_factor", "diurnal", "price",
                                        "usd_per_gpu_hour", "owned", "usd_per_kwh", "pue", "lifetime_years", NULL };
    static const char *const pool[] = { "prefill_gpus", "prefill_tp", "prefill_ep", "prefill_pp", "prefill_dp",
                                        "prefill_instances", "decode_instances", NULL };
    static const char *const spec[] = { "spec_tokens", "spec_accept", "draft_model", "spec_method", NULL };
    const char *o;
    if ((o = sim_request_first_given(r, serving)))
        return sim_fail(err, SIM_EINPUT, "option '%s' goes with serving (eval without 'phase', serve, search), not with "
                        "%s: %s", o, what, is);
    if ((o = sim_request_first_given(r, cost)))
        return sim_fail(err, SIM_EINPUT, "option '%s' goes with serving, not with %s, which reports time and "
                        "tokens/s, no cost or bill", o, what);
    if ((o = sim_request_first_given(r, pool)))
        return sim_fail(err, SIM_EINPUT, "option '%s' describes disaggregated serving's prefill pool, not %s, which "
                        "evaluates one deployment (for the prefill pool's step give its split as gpus/tp/ep/dp)", o,
                        what);
    if (sim_request_given(r, "prefix_hit"))
        return sim_fail(err, SIM_EINPUT, "option 'prefix_hit' goes with serving, not with %s: its prefill computes "
                        "every prompt token (a prompt partly in the prefix cache is served: eval without 'phase', "
                        "serve, search)", what);
    if (drafting && (o = sim_request_first_given(r, spec)))
        return sim_fail(err, SIM_EINPUT, "option '%s' %s", o, drafting_refused);
    return SIM_OK;
}

static int phase_options(const sim_request *r, bool prefill, sim_err *err)
{
    return step_options(r, "'phase'", "a phase is one step of 'batch' sequences per attention rank at 'context' "
                        "tokens", prefill, "goes with phase decode: speculative decoding drafts and verifies decode "
                        "steps, and a prefill step computes the prompt the same with or without it", err);
}

int sim_request_bench_options(const sim_request *r, sim_err *err)
{
    static const char *const step[] = { "phase", "batch", "context", NULL };
    const char *o = sim_request_first_given(r, step);
    if (o)
        return sim_fail(err, SIM_EINPUT, "option '%s' does not go with llama-bench's tests: they are one sequence, "
                        "pp N (a prompt of N tokens) and tg N (N tokens generated); give --pp and --tg", o);
    return step_options(r, "llama-bench's tests", "they are one sequence, pp N and tg N (give --pp and --tg)", true,
                        "goes with eval or eval --phase decode: llama-bench's tg test generates one token per step, "
                        "without a drafter", err);
}

/* eval's serving (the steady state, sim_serve_eval) reads neither serve's simulation options
 * nor, without a daily traffic to size replicas for, an SLO; 'batch' and 'context' describe
 * one step: serving takes the workload instead. */
static int serving_options(const sim_request *r, sim_err *err)
{
    static const char *const simulation[] = { "rate", "requests", "arrival", "burstiness", "trace", "isl_dist",
                                              "osl_dist", "len_cv", "max_num_seqs", "block_size", "cuda_graph_max",
                                              NULL };
    static const char *const slo[] = { "slo_ttft_s", "slo_tpot_s", NULL };
    const char *o;
    if ((o = sim_request_first_given(r, simulation)))
        return sim_fail(err, SIM_EINPUT, "option '%s' goes with serve (the request-level simulation); eval is the "
                        "steady state at 'concurrency' requests in flight", o);
    if ((o = sim_request_first_given(r, slo)) && !(r->requests_per_day > 0 || r->requests_per_hour > 0))
        return sim_fail(err, SIM_EINPUT, "option '%s' goes with 'requests_per_day' or 'requests_per_hour' in eval "
                        "(the replicas are sized to meet it), or with serve and search; eval at one operating point "
                        "reports ttft_s and tpot_s", o);
    if (sim_request_given(r, "batch"))
        return sim_fail(err, SIM_EINPUT, "option 'batch' goes with 'phase' (sequences per attention rank in one "
                        "step); for serving give 'concurrency' (requests in flight over the deployment)");
    if (sim_request_given(r, "context"))
        return sim_fail(err, SIM_EINPUT, "option 'context' goes with 'phase' (the context of one step); for serving "
                        "give 'isl' and 'osl' (prompt and output tokens per request)");
    return SIM_OK;
}

int sim_request_no_phase(const sim_request *r, const char *what, sim_err *err)
{
    static const char *const step[] = { "phase", "batch", "context", NULL };
    const char *o = sim_request_first_given(r, step);
    if (o)
        return sim_fail(err, SIM_EINPUT, "option '%s' describes one step of eval (moesim eval --phase decode|prefill "
                        "--batch B --context L); %s", o, what);
    return SIM_OK;
}

int sim_request_eval(sim_session *session, const sim_request *r, sim_request_result *out, sim_err *err)
{
    memset(out, 0, sizeof *out);
    bool prefill = false;
    int rc = r->phase[0] ? parse_phase(r->phase, &prefill, err) : serving_options(r, err);
    if (rc || (r->phase[0] && (rc = phase_options(r, prefill, err))))
        return rc;
    if ((rc = sim_request_deploy(session, r, &out->deploy, &out->prefill, &out->has_prefill, &out->serve, err)))
        return rc;
    if ((rc = sim_request_spec_opts(r, out->deploy.model, &out->serve, err)))
        return rc;
    out->serve.prefill = out->has_prefill ? &out->prefill : NULL;
    if (r->phase[0]) {
        out->is_phase = true;
        const sim_phase_spec spec = { out->serve.spec_tokens, out->serve.spec_accept, out->serve.spec_source };
        return sim_phase_run_spec(&out->deploy, prefill, r->batch, r->context, &spec, &out->phase, err);
    }
    sim_traffic t;
    if ((rc = sim_request_traffic(r, &t, err)))
        return rc;
    if (t.requests_per_day > 0) {
        if (r->replicas || r->concurrency != 1)
            return sim_fail(err, SIM_EINPUT, "options 'replicas' and 'concurrency' are sized from 'requests_per_day': "
                            "give the traffic or the operating point, not both");
        if (!(out->prices = sim_session_prices(session, err)))
            return err->code;
        out->has_bill = true;
        return sim_serve_size_for_traffic(&out->deploy, &out->serve, &t, &out->eval, &out->bill, err);
    }
    return sim_serve_eval(&out->deploy, &out->serve, &out->eval, err);
}

cJSON *sim_request_result_json(const sim_request_result *res)
{
    if (res->is_phase)
        return sim_report_phase(&res->deploy, &res->phase);
    cJSON *j = sim_report_eval(&res->deploy, &res->serve, &res->eval);
    cJSON *price = j ? sim_report_price(res->deploy.hw, &res->serve.cost) : NULL;
    if (price)
        cJSON_AddItemToObject(j, "price", price);
    if (j && res->has_bill && res->eval.fits) {
        cJSON_AddItemToObject(j, "bill", sim_report_bill(&res->bill, res->deploy.model->name, res->serve.isl,
                                                         res->serve.osl, res->prices));
    } else if (j && res->has_bill) { /* no figure, and why */
        cJSON *b = cJSON_AddObjectToObject(j, "bill");
        cJSON_AddNullToObject(b, "usd_per_month");
        cJSON_AddStringToObject(b, "reason", "not computed: the deployment does not fit (see reason)");
    }
    return j;
}

void sim_request_result_print(FILE *f, const sim_request_result *res)
{
    if (res->is_phase) {
        sim_report_print_phase(f, &res->deploy, &res->phase);
        return;
    }
    sim_report_print_eval(f, &res->deploy, &res->serve, &res->eval);
    sim_report_print_price(f, res->deploy.hw, &res->serve.cost);
    if (res->has_bill && res->eval.fits)
        sim_report_print_bill(f, &res->bill, res->deploy.model->name, res->serve.isl, res->serve.osl, res->prices);
    else if (res->has_bill)
        fprintf(f, "bill: not computed: the deployment does not fit\n");
}

int sim_request_run(sim_session *session, const sim_request *r, cJSON **result, sim_err *err)
{
    *result = NULL;
    /* large (three step results and two memory fits): off the stack of a Lua call */
    sim_request_result *res = malloc(sizeof *res);
    if (!res)
        return sim_fail(err, SIM_EFAIL, "out of memory");
    int rc = sim_request_eval(session, r, res, err);
    if (rc == SIM_OK) {
        *result = sim_request_result_json(res);
        if (!*result)
            rc = sim_fail(err, SIM_EFAIL, "out of memory building the report");
    }
    free(res);
    return rc;
}
