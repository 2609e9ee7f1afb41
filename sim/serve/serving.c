/* serving.c: steady-state serving built from step times.
 *
 * Aggregated serving with chunked prefill: every running sequence needs isl prompt tokens
 * per osl output tokens, so a decode step of b sequences also carries b*isl/osl prompt
 * tokens on average. New prompts reach each attention rank as a Poisson stream of
 * b/osl per step; with attention data-parallel the step waits for the rank that drew the
 * most, so attention is costed at the expected maximum over ranks while the MoE layers
 * see the group's mean. Per-iteration token caps and KV capacity clip the batch, and the
 * result says so. */
#include "serve/serving.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

void sim_serve_defaults(sim_serve_opts *o)
{
    memset(o, 0, sizeof *o);
    o->isl = 1024;
    o->osl = 1024;
    o->concurrency = 1;
    o->replicas = 1;
    o->spec_accept = 1;
    sim_cost_defaults(&o->cost);
}

double sim_poisson_expected_max(double lambda, int n)
{
    if (lambda <= 0 || n < 1)
        return 0;
    if (n == 1)
        return lambda;
    /* E[max] = sum_{k>=0} (1 - F(k)^n), F the Poisson CDF. */
    double p = exp(-lambda), F = p, sum = 0;
    for (int k = 0; k < 10000; k++) {
        double term = 1 - pow(F, n);
        sum += term;
        if (term < 1e-12 && k > lambda)
            break;
        p *= lambda / (k + 1);
        F += p;
        if (F > 1)
            F = 1;
    }
    return sum;
}

/* One phase's step and memory fit; k > 0: a decode step that verifies k drafts per sequence. */
static int phase_step(const sim_deploy *d, bool prefill, double batch, double ctx, int k, sim_step_result *step,
                      sim_memfit *mem, sim_err *err)
{
    if (batch <= 0 || ctx <= 0)
        return sim_fail(err, SIM_EINPUT, "--batch and --context must be positive (got %g and %g)", batch, ctx);
    int rc = sim_deploy_check(d, err);
    if (rc)
        return rc;
    /* a verifying sequence writes its drafts' KV rows before it knows which stay; an MTP
     * module that drafts is loaded beside the model (as eval_instance) */
    sim_deploy dm = *d;
    dm.mtp_loaded = d->mtp_loaded || sim_deploy_mtp_drafts(d, k);
    sim_memfit_eval(&dm, ctx + k, batch * d->pp, mem);
    sim_step_shape s = { 0 };
    if (prefill) {
        s.prefill_tokens = batch * ctx;
        s.prefill_ctx = ctx / 2;
        s.prefill_seqs = batch;
    } else {
        s.decode_seqs = batch;
        s.decode_ctx = ctx;
        s.decode_q = 1 + k;
        s.draft_tokens = k;
    }
    return sim_step_eval(d, mem, &s, step, err);
}

int sim_phase_eval(const sim_deploy *d, bool prefill, double batch, double ctx, sim_step_result *step,
                   sim_memfit *mem, sim_err *err)
{
    return phase_step(d, prefill, batch, ctx, 0, step, mem, err);
}

/* Speculative decoding in a phase: a decode step, bounds, and a drafter (as check_spec). */
static int check_phase_spec(const sim_deploy *d, bool prefill, const sim_phase_spec *sp, sim_err *err)
{
    if (sp->tokens == 0)
        return SIM_OK;
    if (sp->tokens < 0 || sp->tokens > 16)
        return sim_fail(err, SIM_EINPUT, "spec_tokens must be in [0, 16] (got %d)", sp->tokens);
    if (prefill)
        return sim_fail(err, SIM_EINPUT, "spec_tokens: speculative decoding drafts and verifies decode steps; a prefill "
                        "step computes the prompt the same with or without it (give phase decode, or no spec_tokens)");
    if (!(sp->accept >= 1 && sp->accept <= sp->tokens + 1))
        return sim_fail(err, SIM_EINPUT, "spec_accept (accepted tokens per step per sequence) must be in [1, spec_tokens "
                        "+ 1 = %d] (got %g)", sp->tokens + 1, sp->accept);
    if (d->model->mtp_layers < 1 && !d->draft_model && d->spec_method != SIM_SPEC_EAGLE3)
        return sim_fail(err, SIM_EINPUT, "spec_tokens: %s has no MTP module to draft with (mtp_layers 0) and no draft "
                        "model is named (draft_model)", d->model->name);
    return SIM_OK;
}

int sim_phase_run_spec(const sim_deploy *d, bool prefill, double batch, double ctx, const sim_phase_spec *spec,
                       sim_phase_result *out, sim_err *err)
{
    memset(out, 0, sizeof *out);
    out->prefill = prefill;
    out->batch = batch;
    out->context = ctx;
    out->spec = spec ? *spec : (sim_phase_spec){ 0 };
    int rc = check_phase_spec(d, prefill, &out->spec, err);
    if (rc)
        return rc;
    int k = out->spec.tokens;
    if (k == 0)
        out->spec = (sim_phase_spec){ .accept = 1 };
    if ((rc = phase_step(d, prefill, batch, ctx, k, &out->step, &out->mem, err)))
        return rc;
    /* all micro-batches' KV sits on the same devices */
    double seqs = batch * d->pp;
    out->fits = out->mem.fits && out->mem.max_seqs >= seqs;
    if (!out->mem.fits)
        snprintf(out->reason, sizeof out->reason, "%s", out->mem.reason);
    else if (out->mem.max_seqs < seqs)
        snprintf(out->reason, sizeof out->reason, "the KV cache holds %ld sequences of %.0f tokens per rank; asked %.0f",
                 out->mem.max_seqs, ctx + k, seqs);
    /* a decode step produces `accept` tokens per sequence: 1, or the accepted tokens */
    double tokens = prefill ? batch * ctx : batch * out->spec.accept;
    out->tokens_per_s_per_gpu = out->step.time_s > 0 ? tokens * d->dp / out->step.stage_time_s / d->gpus : 0;
    if (k > 0) { /* the drafter's share of the heaviest stage, over all pp stages (as eval's text) */
        out->draft_s = out->step.by_kind_s[SIM_LK_DRAFT] * d->pp;
        out->verify_s = out->step.time_s - out->draft_s;
    }
    return SIM_OK;
}

int sim_phase_run(const sim_deploy *d, bool prefill, double batch, double ctx, sim_phase_result *out,
                  sim_err *err)
{
    return sim_phase_run_spec(d, prefill, batch, ctx, NULL, out, err);
}

void sim_local_bench_defaults(sim_local_bench_opts *o)
{
    *o = (sim_local_bench_opts){ .pp = 512, .tg = 128, .ubatch = 512, .depth = 0 };
}

/* llama-bench's test_prompt calls llama_decode on chunks of n_batch tokens (-b, 2048 by
 * default; llama.cpp clamps n_ubatch to it, so a run with a larger -ub passed a -b as large),
 * each returning the logits of its last token, and llama_decode splits a chunk into
 * micro-batches of n_ubatch. */
#define LLAMA_BENCH_NBATCH 2048
static int prompt_nbatch(const sim_local_bench_opts *o)
{
    return o->ubatch > LLAMA_BENCH_NBATCH ? o->ubatch : LLAMA_BENCH_NBATCH;
}

/* The micro-batches a prompt takes: ceil(pp / ubatch) per whole chunk of n_batch, and the rest. */
static long prompt_micro_batches(const sim_local_bench_opts *o)
{
    const long nbatch = prompt_nbatch(o), full = o->pp / nbatch, rest = o->pp % nbatch;
    return full * ((nbatch + o->ubatch - 1) / o->ubatch) + (rest + o->ubatch - 1) / o->ubatch;
}

/* A prompt's micro-batches in turn (sim_local_bench_run); *time_s their summed stage times. */
static int prompt_time(const sim_deploy *d, const sim_memfit *mem, const sim_local_bench_opts *o, double *time_s,
                       sim_err *err)
{
    const int nbatch = prompt_nbatch(o);
    *time_s = 0;
    for (int chunk = 0; chunk < o->pp; chunk += nbatch) {
        const int end = o->pp - chunk < nbatch ? o->pp : chunk + nbatch;
        for (int done = chunk; done < end;) {
            const int n = end - done < o->ubatch ? end - done : o->ubatch;
            sim_step_shape s = { .prefill_tokens = n, .prefill_ctx = o->depth + done + n / 2.0,
                                 .prefill_seqs = done + n == end }; /* the chunk's logits row */
            sim_step_result r;
            int rc = sim_step_eval(d, mem, &s, &r, err);
            if (rc)
                return rc;
            *time_s += r.stage_time_s;
            done += n;
        }
    }
    return SIM_OK;
}

int sim_local_bench_run(const sim_deploy *d, const sim_local_bench_opts *o, sim_local_bench *out, sim_err *err)
{
    memset(out, 0, sizeof *out);
    out->pp = o->pp;
    out->tg = o->tg;
    out->ubatch = o->ubatch;
    out->depth = o->depth;
    if (o->pp < 1 || o->tg < 1 || o->pp > 1e7 || o->tg > 1e7)
        return sim_fail(err, SIM_EINPUT, "llama-bench tests: pp and tg must be 1 to 10,000,000 tokens (got %d, %d)",
                        o->pp, o->tg);
    if (o->ubatch < 1 || o->ubatch > 1e7)
        return sim_fail(err, SIM_EINPUT, "llama-bench tests: ubatch (the micro-batch, llama-bench's -ub) must be 1 to "
                        "10,000,000 tokens (got %d)", o->ubatch);
    if (o->depth < 0 || o->depth > 1e7)
        return sim_fail(err, SIM_EINPUT, "llama-bench tests: depth (tokens already in the cache, llama-bench's -d) must be "
                        "0 to 10,000,000 (got %d)", o->depth);
    out->micro_batches = (int)prompt_micro_batches(o);
    if (out->micro_batches > SIM_LOCAL_BENCH_MAX_UBATCHES)
        return sim_fail(err, SIM_EINPUT, "llama-bench tests: pp %d in micro-batches of %d is %d passes; at most %d (raise "
                        "ubatch)", o->pp, o->ubatch, out->micro_batches, SIM_LOCAL_BENCH_MAX_UBATCHES);
    /* each phase's fit at the most the cache holds during its test */
    sim_phase_result pre, dec;
    int rc = sim_phase_run(d, true, 1, (double)o->depth + o->pp, &pre, err);
    if (rc || (rc = sim_phase_run(d, false, 1, o->depth + (o->tg + 1) / 2.0, &dec, err)))
        return rc;
    double pp_s;
    if ((rc = prompt_time(d, &pre.mem, o, &pp_s, err)))
        return rc;
    sim_param_counts pc;
    sim_model_params(d->model, &pc);
    out->params = pc.total;
    /* the file's size: the devices' weights and, beside a GPU, the experts the host holds (once) */
    out->weight_bytes = pre.mem.weight_bytes * d->gpus +
                        (pre.mem.host_weight_copies > 0 ? pre.mem.host_expert_bytes / pre.mem.host_weight_copies : 0);
    out->fits = pre.fits && dec.fits;
    snprintf(out->reason, sizeof out->reason, "%s", !pre.fits ? pre.reason : dec.reason);
    /* one sequence: tokens/s of the deployment = per device x devices / attention ranks in use */
    out->pp_tps = out->fits && pp_s > 0 ? o->pp / pp_s : NAN;
    out->tg_tps = out->fits ? dec.tokens_per_s_per_gpu * d->gpus / d->dp : NAN;
    return SIM_OK;
}

double sim_step_kind_share(const sim_step_result *s, sim_layer_kind k)
{
    return s->stage_time_s > 0 ? s->by_kind_s[k] / s->stage_time_s : 0;
}

/* One step of deployment d at placement fit: through the caller's plan for d when it gave one
 * (bit-identical, cheaper), else from scratch. */
static int step_at(const sim_deploy *d, sim_step_plan *plan, const sim_memfit *fit, const sim_step_shape *s,
                   sim_step_result *out, sim_err *err)
{
    if (!plan)
        return sim_step_eval(d, fit, s, out, err);
    sim_step_plan_set_fit(plan, fit);
    return sim_step_plan_eval(plan, s, out, err);
}

static void set_cost(const sim_deploy *d, const sim_deploy *pool, const sim_serve_opts *o, sim_eval *r)
{
    const char *mode = "rent";
    int X = pool && o->prefill_instances > 0 ? o->prefill_instances : 1;
    int Y = pool && o->decode_instances > 0 ? o->decode_instances : 1;
    double usd = sim_cost_usd_per_hour(d->hw, Y * d->gpus, &o->cost, &mode);
    double watts = sim_cost_watts(d->hw, Y * d->gpus);
    double usd_pre = 0, watts_pre = 0;
    if (pool) {
        usd_pre = sim_cost_usd_per_hour(pool->hw, X * pool->gpus, &o->cost, &mode);
        watts_pre = sim_cost_watts(pool->hw, X * pool->gpus);
    }
    r->cost_mode = mode;
    r->usd_per_hour = usd + usd_pre;
    /* Device time splits between prompt and output tokens by the share each takes:
     * the prefill pool's cost goes to input tokens; in aggregated serving, the part of
     * each step that prompt tokens add. */
    double in_usd = pool ? usd_pre : usd * r->prefill_share;
    double out_usd = pool ? usd : usd * (1 - r->prefill_share);
    double in_w = pool ? watts_pre : watts * r->prefill_share;
    double out_w = pool ? watts : watts * (1 - r->prefill_share);
    r->usd_per_mtok_output = sim_cost_usd_per_mtok(out_usd, r->output_tps);
    r->usd_per_mtok_input = sim_cost_usd_per_mtok(in_usd, r->input_tps);
    r->usd_per_mtok_blended = sim_cost_usd_per_mtok(r->usd_per_hour, r->output_tps + r->input_tps);
    r->joules_per_output_token = r->output_tps > 0 ? out_w / r->output_tps : 0;
    r->joules_per_input_token = r->input_tps > 0 ? in_w / r->input_tps : 0;
}

/* Clip the per-rank batch to KV capacity and the per-iteration token cap. */
static double clip_batch(const sim_deploy *d, const sim_serve_opts *o, double b, bool mixes_prefill, sim_eval *r)
{
    double per_group = b * d->pp; /* all micro-batches' KV sits on the same devices */
    if (r->mem.max_seqs < per_group) {
        double nb = (double)r->mem.max_seqs / d->pp;
        snprintf(r->clip_note, sizeof r->clip_note,
                 "KV cache holds %ld sequences of %.0f tokens per attention rank (%.1f GB free for KV); asked %.0f",
                 r->mem.max_seqs, o->isl + o->osl, r->mem.kv_budget_bytes / 1e9, per_group);
        r->clipped = true;
        b = nb;
    }
    /* A step carries at most max_batched_tokens tokens; decode tokens (1, or 1 + draft
     * tokens while verifying) and the prompt tokens that keep the batch fed (the computed
     * prompt per decode step of a request) must share them. */
    double q = 1 + o->spec_tokens;
    double per_seq = mixes_prefill ? q + r->prompt_computed * r->spec_accept / o->osl : q;
    double cap = d->max_batched_tokens / per_seq;
    if (b > cap) {
        snprintf(r->clip_note, sizeof r->clip_note,
                 "max_batched_tokens %d per iteration carries at most %.0f sequences per rank (%.0f decode + %.2f prompt "
                 "tokens per step each)",
                 d->max_batched_tokens, floor(cap), q, per_seq - q);
        r->clipped = true;
        b = floor(cap);
    }
    return b;
}

static int eval_aggregated(const sim_deploy *d, const sim_serve_opts *o, sim_eval *r, sim_err *err)
{
    double b = clip_batch(d, o, o->concurrency / (d->dp * d->pp), true, r);
    if (b < 1e-9) {
        r->fits = false;
        snprintf(r->reason, sizeof r->reason, "%s", r->clip_note);
        return SIM_OK;
    }
    r->batch_per_rank = b;
    r->concurrency_served = b * d->dp * d->pp;

    /* A request holds its slot for nc prefill chunks, then osl/a decode steps (a tokens
     * per step: 1, or the accepted tokens with speculative decoding). In steady state a
     * rank therefore has mu = b nc / (nc + osl/a) chunks in flight per step and
     * b (osl/a) / (nc + osl/a) sequences decoding. Only the prompt past the prefix-cache
     * hit is computed. */
    double a = r->spec_accept, q = 1 + o->spec_tokens, pc = r->prompt_computed;
    double steps = o->osl / a;
    double room = fmax(d->max_batched_tokens - b * q, 1);
    double chunk = fmin(pc, room);
    double nc = ceil(pc / chunk);
    double cycle = nc + steps;
    double mu = b * nc / cycle;
    double decoding = b * steps / cycle;
    /* With attention data-parallel every MoE layer waits for the slowest rank, so a step
     * is "mixed" when any rank carries a chunk; the busiest rank carries the expected
     * maximum of the ranks' (Poisson) chunk counts. */
    double p_mixed = mu >= 1 ? 1 : 1 - pow(1 - mu, d->dp);
    double chunks_busiest = fmax(1, sim_poisson_expected_max(mu, d->dp) / fmax(p_mixed, 1e-12));
    double pre_busiest = fmin(chunk * chunks_busiest, room);
    r->prefill_tokens_per_step = p_mixed * pre_busiest;

    /* a step a user decodes in carries at least that user */
    sim_step_shape pure = {
        .decode_seqs = fmax(1, decoding),
        .decode_ctx = o->isl + o->osl / 2,
        .group_tokens = d->dp * fmax(1, decoding) * q,
        .decode_q = q,
        .draft_tokens = o->spec_tokens,
    };
    sim_step_shape mixed = pure;
    mixed.prefill_tokens = pre_busiest;
    /* a computed prompt token attends to the cached prefix and, on average, half the rest */
    mixed.prefill_ctx = (o->isl - pc) + pc / 2;
    mixed.prefill_seqs = chunks_busiest / nc;
    /* the tokens entering each MoE layer in a mixed step: every rank's decodes, and the chunks
     * the group carries given that at least one rank carries one (dp mu / p_mixed of them in
     * expectation, at least the busiest rank's). Not the chunks of an average step: with one
     * user a step either carries the whole chunk or none */
    double chunks_given_mixed = p_mixed > 0 ? d->dp * mu / p_mixed : 1;
    mixed.group_tokens = d->dp * fmax(1, decoding) * q + fmax(pre_busiest, chunks_given_mixed * chunk);
    sim_step_result pure_step;
    int rc = step_at(d, o->plan, &r->mem, &pure, &pure_step, err);
    if (rc)
        return rc;
    if ((rc = step_at(d, o->plan, &r->mem, &mixed, &r->first, err)))
        return rc;
    r->decode = pure_step;
    r->mixed_share = p_mixed;

    double t_mean = p_mixed * r->first.stage_time_s + (1 - p_mixed) * pure_step.stage_time_s;
    /* TPOT as one user sees it: only the other requests' chunks slow its steps. */
    double mu_others = (b - 1) * nc / cycle;
    double p_others = 1 - (mu_others >= 1 ? 0 : 1 - mu_others) * pow(mu >= 1 ? 0 : 1 - mu, d->dp - 1);
    double t_user = p_others * r->first.stage_time_s + (1 - p_others) * pure_step.stage_time_s;
    r->prefill_share = t_mean > 0 ? p_mixed * (r->first.stage_time_s - pure_step.stage_time_s) / t_mean : 0;

    /* What limits the deployment: the time-weighted parts of pure and mixed steps. */
    const sim_step_result *st[2] = { &pure_step, &r->first };
    double w[2] = { 1 - p_mixed, p_mixed }, parts[4] = { 0 };
    for (int i = 0; i < 2; i++) {
        parts[0] += w[i] * st[i]->compute_s;
        parts[1] += w[i] * st[i]->memory_s;
        parts[2] += w[i] * st[i]->comm_s;
        parts[3] += w[i] * st[i]->overhead_s;
    }
    r->bound = sim_bound_of(parts[0], parts[1], parts[2], parts[3]);

    /* time per output token: a step's time over the tokens it produces */
    r->decode_steps_per_s = 1 / (t_user * d->pp);
    r->tpot_s = t_user * d->pp / a;
    /* a new request waits on average half an iteration, then rides nc mixed steps */
    r->ttft_s = 0.5 * t_mean * d->pp + nc * r->first.time_s;
    r->output_tps = d->dp * decoding * a / t_mean;
    r->input_tps = r->output_tps * o->isl / o->osl;
    return SIM_OK;
}

static int eval_disaggregated(const sim_deploy *d, const sim_deploy *p, const sim_serve_opts *o, sim_eval *r,
                              sim_err *err)
{
    /* requests spread evenly over the decode instances: b is one instance's batch per rank */
    int ninst = o->decode_instances > 0 ? o->decode_instances : 1;
    double b = clip_batch(d, o, o->concurrency / (ninst * d->dp * d->pp), false, r);
    if (b < 1e-9) {
        r->fits = false;
        snprintf(r->reason, sizeof r->reason, "decode pool: %s", r->clip_note);
        return SIM_OK;
    }
    r->batch_per_rank = b;
    r->concurrency_served = b * d->dp * d->pp * ninst;
    double a = r->spec_accept, q = 1 + o->spec_tokens, pc = r->prompt_computed;
    sim_step_shape dec = { .decode_seqs = b, .decode_ctx = o->isl + o->osl / 2, .group_tokens = d->dp * b * q,
                           .decode_q = q, .draft_tokens = o->spec_tokens };
    int rc = step_at(d, o->plan, &r->mem, &dec, &r->decode, err);
    if (rc)
        return rc;

    /* Prefill pool: full iterations of max_batched_tokens computed prompt tokens per rank
     * (the prefix-cache hit is read, not computed). */
    double chunk = fmin(p->max_batched_tokens, fmax(pc, 1));
    double prompts = fmax(1, floor(p->max_batched_tokens / pc));
    double pctx = (o->isl - pc) + pc / 2;
    sim_step_shape full = {
        .prefill_tokens = pc >= p->max_batched_tokens ? chunk : prompts * pc,
        .prefill_ctx = pctx,
        .prefill_seqs = pc >= p->max_batched_tokens ? 0 : prompts,
    };
    if ((rc = step_at(p, o->prefill_plan, &r->prefill_mem, &full, &r->prefill_pool, err)))
        return rc;
    double prefill_capacity = p->dp * full.prefill_tokens / r->prefill_pool.stage_time_s; /* tokens/s */

    sim_step_shape one = { .prefill_tokens = fmin(pc, p->max_batched_tokens), .prefill_ctx = pctx,
                           .prefill_seqs = 1 };
    if ((rc = step_at(p, o->prefill_plan, &r->prefill_mem, &one, &r->first, err)))
        return rc;
    double chunks = ceil(pc / fmin(pc, p->max_batched_tokens));

    /* KV of one prompt moves from a prefill instance to a decode instance over the link
     * between them. */
    int X = o->prefill_instances > 0 ? o->prefill_instances : 1, Y = o->decode_instances > 0 ? o->decode_instances : 1;
    double bw, lat;
    int group = X * p->gpus + Y * d->gpus;
    if (!sim_kv_link(d, p, group, &bw, &lat, &r->kv_link))
        return sim_fail(err, SIM_EINPUT, "%s has no %s link to move KV between the prefill and decode instances",
                        d->hw->name, r->kv_link);
    r->kv_bytes_per_request = sim_kv_bytes_per_seq(d, o->isl);
    r->kv_transfer_s = r->kv_bytes_per_request / bw + lat;

    r->decode_steps_per_s = 1 / r->decode.time_s;
    r->tpot_s = r->decode.time_s / a;
    r->ttft_s = chunks * r->first.time_s + r->kv_transfer_s + 0.5 * r->decode.stage_time_s;
    /* Balance the rates: Y decode instances produce what their batches allow; X prefill
     * instances must compute the prompts of the requests that finish at that rate. The side
     * that cannot keep up sets the throughput; the other runs part of the time. */
    double decode_capacity = Y * d->dp * b * a / r->decode.stage_time_s; /* output tokens/s */
    prefill_capacity *= X;
    double need = decode_capacity * pc / o->osl;
    r->output_tps = decode_capacity;
    r->prefill_utilization = need / prefill_capacity;
    r->decode_utilization = 1;
    if (need > prefill_capacity) {
        r->prefill_limited = true;
        r->output_tps = prefill_capacity * o->osl / pc;
        r->prefill_utilization = 1;
        r->decode_utilization = prefill_capacity / need;
    }
    r->input_tps = r->output_tps * o->isl / o->osl;
    r->prefill_share = 0;
    r->bound = r->decode.bound;
    return SIM_OK;
}

static int eval_instance(const sim_deploy *d, const sim_serve_opts *o, sim_eval *out, sim_err *err);

/* Replicas are independent instances: each takes an equal share of the requests, and the
 * deployment's totals (devices, tokens/s, cost per hour) are the instance's times R;
 * per-device, per-user and per-token figures are the instance's own. */
int sim_serve_eval(const sim_deploy *d, const sim_serve_opts *o, sim_eval *out, sim_err *err)
{
    int R = o->replicas > 0 ? o->replicas : 1;
    if (!(o->concurrency >= 1))
        return sim_fail(err, SIM_EINPUT, "concurrency must be >= 1 (got %g)", o->concurrency);
    if (o->replicas < 0)
        return sim_fail(err, SIM_EINPUT, "replicas must be >= 1 (got %d)", o->replicas);
    if (!(o->concurrency >= R))
        return sim_fail(err, SIM_EINPUT, "concurrency (%g) must be at least one request per replica (%d)",
                        o->concurrency, R);
    sim_serve_opts one = *o;
    one.concurrency = o->concurrency / R;
    int rc = eval_instance(d, &one, out, err);
    if (rc || R == 1)
        return rc;
    out->concurrency = o->concurrency;
    out->concurrency_served *= R;
    out->gpus *= R;
    out->output_tps *= R;
    out->input_tps *= R;
    out->usd_per_hour *= R;
    return SIM_OK;
}

/* A deployment that does not fit serves nobody: its latencies, rates, costs and energy do
 * not exist. They are NaN (JSON null, "-" in tables), never 0, which would read as "free"
 * or "instant"; `reason` says why. */
static void not_computed(sim_eval *out)
{
    out->ttft_s = out->tpot_s = out->e2e_s = NAN;
    out->output_tps = out->input_tps = NAN;
    out->output_tps_per_gpu = out->input_tps_per_gpu = out->output_tps_per_user = NAN;
    out->usd_per_hour = out->usd_per_mtok_output = out->usd_per_mtok_input = out->usd_per_mtok_blended = NAN;
    out->joules_per_output_token = out->joules_per_input_token = NAN;
    out->prefill_share = NAN;
    out->concurrency_served = 0; /* this one is known: none */
}

/* Speculative decoding and the prefix cache: bounds, and a module to draft with. */
static int check_spec(const sim_deploy *d, const sim_serve_opts *o, sim_err *err)
{
    if (!(o->prefix_hit >= 0 && o->prefix_hit < 1))
        return sim_fail(err, SIM_EINPUT, "prefix_hit must be in [0, 1) (got %g)", o->prefix_hit);
    if (o->spec_tokens == 0)
        return SIM_OK;
    if (o->spec_tokens < 0 || o->spec_tokens > 16)
        return sim_fail(err, SIM_EINPUT, "spec_tokens must be in [0, 16] (got %d)", o->spec_tokens);
    if (!(o->spec_accept >= 1 && o->spec_accept <= o->spec_tokens + 1))
        return sim_fail(err, SIM_EINPUT,
                        "spec_accept (accepted tokens per step per sequence) must be in [1, spec_tokens + 1 = %d] (got %g)",
                        o->spec_tokens + 1, o->spec_accept);
    if (d->model->mtp_layers < 1 && !d->draft_model && d->spec_method != SIM_SPEC_EAGLE3)
        return sim_fail(err, SIM_EINPUT, "spec_tokens: %s has no MTP module to draft with (mtp_layers 0) and no draft "
                        "model is named (draft_model)", d->model->name);
    return SIM_OK;
}

/* xPyD counts: positive, and only beside a prefill pool. */
static int check_instances(const sim_serve_opts *o, sim_err *err)
{
    if (o->prefill_instances < 0 || o->decode_instances < 0)
        return sim_fail(err, SIM_EINPUT, "prefill_instances and decode_instances must be >= 1 (got %d and %d)",
                        o->prefill_instances, o->decode_instances);
    if (!o->prefill && (o->prefill_instances > 1 || o->decode_instances > 1))
        return sim_fail(err, SIM_EINPUT, "prefill_instances / decode_instances need a prefill pool (prefill_gpus or a "
                        "prefill split): aggregated serving has one kind of instance (use replicas)");
    return SIM_OK;
}

bool sim_kv_link(const sim_deploy *d, const sim_deploy *p, int devices, double *bw, double *lat, const char **name)
{
    bool up = p->hw == d->hw && d->hw->scale_up.bandwidth_Bps > 0 && devices <= d->hw->scale_up.domain_size;
    const sim_link *l = up ? &d->hw->scale_up : &d->hw->scale_out;
    int lanes = p->tp * p->pp < d->tp * d->pp ? p->tp * p->pp : d->tp * d->pp;
    *bw = l->bandwidth_Bps * (up ? d->hw->eff.link_scale_up : d->hw->eff.link_scale_out) * lanes;
    *lat = l->latency_s;
    *name = up ? "scale-up" : "scale-out";
    return *bw > 0;
}

double sim_kv_bytes_per_seq(const sim_deploy *d, double isl)
{
    return sim_model_kv_elems(d->model, isl) * sim_wformat_bytes(d->kv_fmt);
}

static int eval_instance(const sim_deploy *d, const sim_serve_opts *o, sim_eval *out, sim_err *err)
{
    memset(out, 0, sizeof *out);
    if (!(o->isl >= 1) || !(o->osl >= 1))
        return sim_fail(err, SIM_EINPUT, "isl and osl must be >= 1 (got %g and %g)", o->isl, o->osl);
    if (!(o->concurrency >= 1))
        return sim_fail(err, SIM_EINPUT, "concurrency must be >= 1 (got %g)", o->concurrency);
    int rc = sim_deploy_check_pools(d, o->prefill, err);
    if (rc || (rc = check_spec(d, o, err)))
        return rc;
    out->spec_tokens = o->spec_tokens;
    out->spec_accept = o->spec_tokens > 0 ? o->spec_accept : 1;
    out->draft_model = o->spec_tokens > 0 && d->draft_model ? d->draft_model->name : NULL;
    out->eagle3 = o->spec_tokens > 0 && !d->draft_model && d->spec_method == SIM_SPEC_EAGLE3;
    /* at least one prompt token is computed: the one whose logits give the first output token */
    out->prompt_computed = fmax(1, ceil(o->isl * (1 - o->prefix_hit)));
    out->concurrency = o->concurrency;
    if ((rc = check_instances(o, err)))
        return rc;
    int X = o->prefill_instances > 0 ? o->prefill_instances : 1, Y = o->decode_instances > 0 ? o->decode_instances : 1;
    out->prefill_instances = o->prefill ? X : 0;
    out->decode_instances = o->prefill ? Y : 0;
    out->gpus = o->prefill ? Y * d->gpus + X * o->prefill->gpus : d->gpus;
    out->prefill_utilization = out->decode_utilization = out->kv_bytes_per_request = out->kv_transfer_s = NAN;
    out->fits = true;

    /* a verifying sequence writes its draft tokens' KV rows before it knows which stay; an MTP
     * module that drafts is loaded beside the model (sim_deploy_mtp_drafts) */
    sim_deploy dm = *d;
    dm.mtp_loaded = sim_deploy_mtp_drafts(d, o->spec_tokens);
    sim_memfit_eval(&dm, o->isl + o->osl + o->spec_tokens, o->concurrency / (o->prefill ? Y : 1) / d->dp, &out->mem);
    if (o->prefill) {
        sim_memfit_eval(o->prefill, o->isl, 1, &out->prefill_mem);
        if (!out->prefill_mem.fits) {
            out->fits = false;
            snprintf(out->reason, sizeof out->reason, "prefill pool: %s", out->prefill_mem.reason);
        }
    }
    if (!out->mem.fits) {
        out->fits = false;
        snprintf(out->reason, sizeof out->reason, "%s", out->mem.reason);
    }
    if (!out->fits) {
        not_computed(out);
        return SIM_OK;
    }

    rc = o->prefill ? eval_disaggregated(d, o->prefill, o, out, err) : eval_aggregated(d, o, out, err);
    if (rc)
        return rc;
    if (!out->fits) {
        not_computed(out);
        return SIM_OK;
    }
    out->e2e_s = out->ttft_s + (o->osl - 1) * out->tpot_s;
    out->output_tps_per_gpu = out->output_tps / out->gpus;
    out->input_tps_per_gpu = out->input_tps / out->gpus;
    out->output_tps_per_user = out->tpot_s > 0 ? 1 / out->tpot_s : 0;
    set_cost(d, o->prefill, o, out);
    return SIM_OK;
}

/* The steady state at a request rate: the smallest concurrency whose request throughput
 * reaches the rate (doubling, then bisection, as search's candidates are ranked), or the
 * largest batch the deployment holds when it cannot reach it. */
static int at_rate(const sim_deploy *d, const sim_serve_opts *o, double rate, sim_rate_point *out, sim_err *err);

/* Plans for the deployment and its prefill pool where the caller gave none: `made` receives
 * the ones to free (sim_serve_plans_free). */
int sim_serve_plans_new(const sim_deploy *d, sim_serve_opts *o, sim_step_plan *made[2], sim_err *err)
{
    made[0] = made[1] = NULL;
    if (!o->plan && !(o->plan = made[0] = sim_step_plan_new(d, NULL, err)))
        return SIM_EFAIL;
    if (o->prefill && !o->prefill_plan && !(o->prefill_plan = made[1] = sim_step_plan_new(o->prefill, NULL, err))) {
        sim_serve_plans_free(o, made);
        return SIM_EFAIL;
    }
    return SIM_OK;
}

void sim_serve_plans_free(sim_serve_opts *o, sim_step_plan *made[2])
{
    for (int i = 0; i < 2; i++) {
        if (!made[i])
            continue;
        if (o->plan == made[i])
            o->plan = NULL;
        if (o->prefill_plan == made[i])
            o->prefill_plan = NULL;
        sim_step_plan_free(made[i]);
        made[i] = NULL;
    }
}

/* The ~20 steady-state evaluations below share one plan per deployment. */
int sim_serve_at_rate(const sim_deploy *d, const sim_serve_opts *o, double rate, sim_rate_point *out, sim_err *err)
{
    sim_serve_opts so = *o;
    sim_step_plan *made[2];
    memset(out, 0, sizeof *out);
    int rc = sim_serve_plans_new(d, &so, made, err);
    if (rc)
        return rc;
    rc = at_rate(d, &so, rate, out, err);
    sim_serve_plans_free(&so, made);
    return rc;
}

static int at_rate(const sim_deploy *d, const sim_serve_opts *o, double rate, sim_rate_point *out, sim_err *err)
{
    memset(out, 0, sizeof *out);
    out->capacity_rps = out->e2e_s = out->relax_s = NAN;
    if (!(rate > 0))
        return sim_fail(err, SIM_EINPUT, "rate must be positive (got %g)", rate);
    sim_serve_opts so = *o;
    so.replicas = 1;
    sim_eval ev;
    double lo = 0, hi = 1;
    int rc;
    for (;; hi *= 2) {
        so.concurrency = hi;
        if ((rc = sim_serve_eval(d, &so, &ev, err)))
            return rc;
        if (!ev.fits)
            return SIM_OK; /* nothing is known */
        double rps = ev.output_tps / so.osl;
        out->capacity_rps = fmax(out->capacity_rps >= 0 ? out->capacity_rps : 0, rps);
        out->e2e_s = ev.e2e_s;
        if (rps >= rate)
            break;
        if (ev.clipped || hi > 1e6) /* the batch cannot grow further: the rate is out of reach */
            return SIM_OK;
        lo = hi;
    }
    out->reached = true;
    for (int i = 0; i < 8 && hi - lo > 1; i++) {
        so.concurrency = floor((lo + hi) / 2);
        if ((rc = sim_serve_eval(d, &so, &ev, err)))
            return rc;
        if (ev.fits && ev.output_tps / so.osl >= rate) {
            hi = so.concurrency;
            out->e2e_s = ev.e2e_s;
        } else {
            lo = so.concurrency;
        }
    }
    out->concurrency = hi;
    /* The backlog's relaxation time: in the fluid picture dC/dt = rate - X(C), so a
     * displacement of the concurrency C decays as exp(-X'(C) t). At light load X' is about
     * 1 / e2e; near the largest rate throughput hardly grows with the batch and the queue
     * wanders for a long time (a run must span several of these to average it). */
    double c0 = so.concurrency = hi;
    if ((rc = sim_serve_eval(d, &so, &ev, err)))
        return rc;
    double x0 = ev.output_tps / so.osl;
    so.concurrency = ceil(1.25 * c0);
    if ((rc = sim_serve_eval(d, &so, &ev, err)))
        return rc;
    double slope = ev.fits && !ev.clipped ? (ev.output_tps / so.osl - x0) / (so.concurrency - c0) : 0;
    out->relax_s = slope > 0 ? fmax(out->e2e_s, 1 / slope) : INFINITY;
    /* The largest throughput: at the largest batch the KV cache holds (clipped). */
    for (so.concurrency = fmax(hi, 1);; so.concurrency *= 2) {
        if ((rc = sim_serve_eval(d, &so, &ev, err)))
            return rc;
        if (!ev.fits)
            break;
        out->capacity_rps = fmax(out->capacity_rps, ev.output_tps / so.osl);
        if (ev.clipped || so.concurrency > 1e6)
            break;
    }
    return SIM_OK;
}
