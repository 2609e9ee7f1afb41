/* gguf.c: llama-quantize's per-tensor type choice (llama_tensor_get_type_impl and
 * tensor_type_fallback, src/llama-quant.cpp, ggml-org/llama.cpp at 007dbbf), applied to a card's
 * weight matrices. Only the file types moesim names are followed; the branches for other file
 * types (IQ1_*, IQ2_M, IQ3_XS, IQ3_M, Q2_K_S, TQ*) and architecture exceptions other than
 * Falcon's (not a card here) are left out. */
#include "model/gguf.h"

#include <string.h>

void sim_wmix_single(sim_wmix *w, sim_wformat f, double elems)
{
    memset(w, 0, sizeof *w);
    w->elems[f] = elems;
    w->total = elems;
}

double sim_wmix_bytes(const sim_wmix *w, sim_wformat empty)
{
    if (!(w->total > 0))
        return sim_wformat_bytes(empty);
    if (w->bytes > 0)
        return w->bytes / w->total;
    double b = 0;
    for (int f = 0; f < SIM_WF_COUNT; f++)
        if (w->elems[f] != 0) /* an empty format adds +0: skipping it leaves the sum as it was */
            b += w->elems[f] * sim_wformat_bytes((sim_wformat)f);
    return b / w->total;
}

sim_wformat sim_wmix_main(const sim_wmix *w, sim_wformat empty)
{
    sim_wformat best = empty;
    double most = 0;
    for (int f = 0; f < SIM_WF_COUNT; f++)
        if (w->elems[f] > most) {
            most = w->elems[f];
            best = (sim_wformat)f;
        }
    return best;
}

sim_wformat sim_gguf_ftype(sim_wformat f)
{
    switch (f) { /* llama-quantize: "Q3_K", "Q4_K", "Q5_K" are aliases of the _M files */
    case SIM_WF_Q3_K: return SIM_WF_Q3_K_M;
    case SIM_WF_Q4_K: return SIM_WF_Q4_K_M;
    case SIM_WF_Q5_K: return SIM_WF_Q5_K_M;
    default: return f;
    }
}

/* llama_ftype_get_default_type: the type of every tensor no rule moves. */
static sim_wformat default_type(sim_wformat ft)
{
    switch (ft) {
    case SIM_WF_Q3_K_S: case SIM_WF_Q3_K_M: case SIM_WF_Q3_K_L: return SIM_WF_Q3_K;
    case SIM_WF_Q4_K_S: case SIM_WF_Q4_K_M: return SIM_WF_Q4_K;
    case SIM_WF_Q5_K_S: case SIM_WF_Q5_K_M: return SIM_WF_Q5_K;
    case SIM_WF_IQ2_S: return SIM_WF_IQ2_XS; /* the IQ2_S file is mostly IQ2_XS */
    case SIM_WF_MXFP4_MOE: return SIM_WF_MXFP4;
    default: return ft;
    }
}

/* Tensor categories of tensor_get_category; attn_v also stands for MLA's attn_kv_b. */
typedef enum { C_EMBD, C_OUTPUT, C_Q, C_K, C_V, C_O, C_GATE, C_UP, C_DOWN, C_OTHER } tcat;

typedef struct {
    sim_wformat ft, deflt;
    int n_layer, n_expert, n_gqa;
    bool is_70b, imatrix, tied;
    int i_wv, n_wv;      /* attn_v-like tensors seen, and their number (one per layer) */
    int i_down;          /* ffn_down tensors seen (the IQ2 rules count tensors, not layers) */
} recipe;

static bool use_more_bits(int i, int n)
{
    return i < n / 8 || i >= 7 * n / 8 || (i - n / 8) % 3 == 2;
}

static bool is_iq2_family(sim_wformat ft)
{
    return ft == SIM_WF_IQ2_XXS || ft == SIM_WF_IQ2_XS || ft == SIM_WF_IQ2_S;
}

/* The output tensor, and the token embedding when the head shares it. */
static sim_wformat pick_output(const recipe *r, int ncols)
{
    if (r->ft == SIM_WF_MXFP4_MOE || ncols % sim_wformat_block(r->deflt) != 0)
        return SIM_WF_Q8_0;
    if (r->ft == SIM_WF_IQ2_XXS || r->ft == SIM_WF_IQ2_XS || r->ft == SIM_WF_IQ3_XXS || r->ft == SIM_WF_IQ2_S)
        return SIM_WF_Q5_K;
    return r->deflt != SIM_WF_Q8_0 ? SIM_WF_Q6_K : SIM_WF_Q8_0;
}

static sim_wformat pick_embd(const recipe *r)
{
    if (r->ft == SIM_WF_IQ2_XXS || r->ft == SIM_WF_IQ2_XS)
        return SIM_WF_Q2_K;
    if (r->ft == SIM_WF_IQ2_S || r->ft == SIM_WF_IQ3_XXS)
        return SIM_WF_IQ3_S;
    return r->deflt;
}

static sim_wformat pick_iq2(recipe *r, tcat c)
{
    sim_wformat t = r->deflt, lo = r->ft == SIM_WF_IQ2_S ? SIM_WF_IQ3_S : SIM_WF_Q2_K;
    if (c == C_V) {
        t = r->n_gqa >= 4 || r->n_expert >= 4 ? SIM_WF_Q4_K : lo;
        r->i_wv++;
    } else if (r->n_expert == 8 && c == C_K) {
        t = SIM_WF_Q4_K;
    } else if (c == C_DOWN) {
        if (r->i_down < r->n_layer / 8)
            t = lo;
        r->i_down++;
    } else if (c == C_O) {
        if (r->n_expert == 8)
            t = SIM_WF_Q5_K;
        else if (r->ft == SIM_WF_IQ2_S)
            t = SIM_WF_IQ3_S;
    }
    return t;
}

static sim_wformat pick_attn_v(recipe *r)
{
    sim_wformat ft = r->ft, t = r->deflt;
    if (ft == SIM_WF_Q2_K)
        t = r->n_gqa >= 4 ? SIM_WF_Q4_K : SIM_WF_Q3_K;
    else if (ft == SIM_WF_IQ3_XXS)
        t = r->n_gqa >= 4 ? SIM_WF_Q4_K : !r->imatrix ? SIM_WF_IQ3_S : SIM_WF_IQ3_XXS;
    else if (ft == SIM_WF_IQ3_S && r->n_gqa >= 4)
        t = SIM_WF_Q4_K;
    else if (ft == SIM_WF_Q3_K_M)
        t = r->i_wv < 2 ? SIM_WF_Q5_K : SIM_WF_Q4_K;
    else if (ft == SIM_WF_Q3_K_L)
        t = SIM_WF_Q5_K;
    else if ((ft == SIM_WF_IQ4_NL || ft == SIM_WF_IQ4_XS) && r->n_gqa >= 4)
        t = SIM_WF_Q5_K;
    else if ((ft == SIM_WF_Q4_K_M || ft == SIM_WF_Q5_K_M) && use_more_bits(r->i_wv, r->n_wv))
        t = SIM_WF_Q6_K;
    else if (ft == SIM_WF_Q4_K_S && r->i_wv < 4)
        t = SIM_WF_Q5_K;
    /* 70B: attn_v is 8x smaller than attn_q (8 query heads per KV head), so more bits are cheap */
    if (r->is_70b && (t == SIM_WF_Q3_K || t == SIM_WF_Q4_K))
        t = SIM_WF_Q5_K;
    if (r->n_expert == 8) /* Mixtral-style 8-expert models: ~128 MB buys Q8_0 */
        t = SIM_WF_Q8_0;
    r->i_wv++;
    return t;
}

static sim_wformat pick_ffn_down(const recipe *r, int il)
{
    sim_wformat ft = r->ft, t = r->deflt;
    int n = r->n_layer;
    if (ft == SIM_WF_Q2_K)
        t = SIM_WF_Q3_K;
    else if (ft == SIM_WF_IQ3_XXS && !r->imatrix)
        t = il < n / 8 ? SIM_WF_Q4_K : SIM_WF_Q3_K;
    else if (ft == SIM_WF_Q3_K_M)
        t = il < n / 16 ? SIM_WF_Q5_K : SIM_WF_Q4_K; /* (Q3_K on some layers for Falcon only) */
    else if (ft == SIM_WF_Q3_K_L)
        t = SIM_WF_Q5_K;
    else if (ft == SIM_WF_Q4_K_M) {
        if (use_more_bits(il, n))
            t = SIM_WF_Q6_K;
    } else if (il < n / 8 && (ft == SIM_WF_IQ4_NL || ft == SIM_WF_IQ4_XS) && !r->imatrix)
        t = SIM_WF_Q5_K;
    else if (ft == SIM_WF_Q5_K_M && use_more_bits(il, n))
        t = SIM_WF_Q6_K;
    else if (ft == SIM_WF_Q4_K_S && il < n / 8)
        t = SIM_WF_Q5_K;
    else if ((ft == SIM_WF_Q4_0 || ft == SIM_WF_Q5_0) && r->imatrix && il < n / 8)
        t = ft == SIM_WF_Q4_0 ? SIM_WF_Q4_1 : SIM_WF_Q5_1;
    return t;
}

static sim_wformat pick_attn_output(const recipe *r)
{
    sim_wformat ft = r->ft;
    if (r->n_expert == 8) {
        if (ft == SIM_WF_Q2_K || ft == SIM_WF_IQ3_XXS || ft == SIM_WF_Q3_K_S || ft == SIM_WF_Q3_K_M ||
            ft == SIM_WF_IQ4_NL || ft == SIM_WF_Q4_K_S || ft == SIM_WF_Q4_K_M || ft == SIM_WF_IQ3_S ||
            ft == SIM_WF_IQ4_XS)
            return SIM_WF_Q5_K;
        return r->deflt;
    }
    switch (ft) {
    case SIM_WF_Q2_K: return SIM_WF_Q3_K;
    case SIM_WF_IQ3_XXS: return SIM_WF_IQ3_S;
    case SIM_WF_Q3_K_M: return SIM_WF_Q4_K;
    case SIM_WF_Q3_K_L: return SIM_WF_Q5_K;
    default: return r->deflt;
    }
}

/* tensor_type_fallback: a row length the block does not divide takes a 32-element type. */
static sim_wformat fallback(sim_wformat t, int ncols)
{
    if (ncols % sim_wformat_block(t) == 0)
        return t;
    switch (t) {
    case SIM_WF_IQ2_XXS: case SIM_WF_IQ2_XS: case SIM_WF_IQ2_S: case SIM_WF_IQ3_XXS: case SIM_WF_IQ3_S:
    case SIM_WF_IQ4_XS: t = SIM_WF_IQ4_NL; break;
    case SIM_WF_Q2_K: case SIM_WF_Q3_K: t = SIM_WF_Q4_0; break;
    case SIM_WF_Q4_K: t = SIM_WF_Q5_0; break;
    case SIM_WF_Q5_K: t = SIM_WF_Q5_1; break;
    case SIM_WF_Q6_K: t = SIM_WF_Q8_0; break;
    default: break;
    }
    /* still not a multiple of 32: llama.cpp stores F16 (2 bytes, as BF16 here) */
    return ncols % sim_wformat_block(t) == 0 ? t : SIM_WF_BF16;
}

/* One tensor: category c, layer il, row length ncols; `expert` = a 3-D expert tensor. */
static sim_wformat pick(recipe *r, tcat c, int il, int ncols, bool expert)
{
    sim_wformat t;
    if (c == C_OUTPUT || (r->tied && c == C_EMBD))
        t = pick_output(r, ncols);
    else if (r->ft == SIM_WF_MXFP4_MOE)
        t = expert ? SIM_WF_MXFP4 : SIM_WF_Q8_0;
    else if (c == C_EMBD)
        t = pick_embd(r);
    else if (is_iq2_family(r->ft))
        t = pick_iq2(r, c);
    else if (c == C_V)
        t = pick_attn_v(r);
    else if (c == C_K)
        t = r->n_expert == 8 ? SIM_WF_Q8_0 : r->ft == SIM_WF_IQ3_XXS ? SIM_WF_IQ2_S : r->deflt;
    else if (c == C_Q)
        t = r->ft == SIM_WF_IQ3_XXS ? SIM_WF_IQ2_S : r->deflt;
    else if (c == C_DOWN)
        t = pick_ffn_down(r, il);
    else if (c == C_O)
        t = pick_attn_output(r);
    else
        t = r->deflt;
    return fallback(t, ncols);
}

static void add(recipe *r, sim_wmix *out, tcat c, int il, double ncols, double elems, bool expert)
{
    if (!(elems > 0))
        return;
    sim_wformat t = pick(r, c, il, (int)ncols, expert);
    out->elems[t] += elems;
    out->total += elems;
}

static void attention(recipe *r, const sim_model *m, int il, sim_wmix *out)
{
    double h = m->hidden, nh = m->attn.heads;
    if (m->attn.kind == SIM_ATTN_GQA) {
        double hd = m->attn.head_dim, kv = m->attn.kv_heads * hd;
        add(r, out, C_Q, il, h, h * nh * hd, false);
        add(r, out, C_K, il, h, h * kv, false);
        add(r, out, C_V, il, h, h * kv, false);
        add(r, out, C_O, il, nh * hd, nh * hd * h, false);
        return;
    }
    double qr = m->attn.q_lora_rank, kvr = m->attn.kv_lora_rank;
    double dn = m->attn.qk_nope_head_dim, dr = m->attn.qk_rope_head_dim, dv = m->attn.v_head_dim;
    if (qr > 0) { /* attn_q_a, attn_q_b: no rule names them */
        add(r, out, C_OTHER, il, h, h * qr, false);
        add(r, out, C_OTHER, il, qr, qr * nh * (dn + dr), false);
    } else {
        add(r, out, C_Q, il, h, h * nh * (dn + dr), false);
    }
    add(r, out, C_OTHER, il, h, h * (kvr + dr), false);           /* attn_kv_a_mqa */
    add(r, out, C_V, il, kvr, kvr * nh * (dn + dv), false);        /* attn_kv_b: attn_v-like */
    add(r, out, C_O, il, nh * dv, nh * dv * h, false);
}

/* One FFN of width w (n copies: experts), as gate, up and down tensors. */
static void ffn(recipe *r, const sim_model *m, int il, double w, double n, bool expert, sim_wmix *out)
{
    double h = m->hidden;
    if (m->ffn.activation == SIM_ACT_SWIGLU)
        add(r, out, C_GATE, il, h, n * h * w, expert);
    add(r, out, C_UP, il, h, n * h * w, expert);
    add(r, out, C_DOWN, il, w, n * w * h, expert);
}

void sim_gguf_mix(const sim_model *m, sim_wformat ftype, sim_wmix out[SIM_WCLASS_COUNT])
{
    memset(out, 0, sizeof(sim_wmix) * SIM_WCLASS_COUNT);
    recipe r = {
        .ft = sim_gguf_ftype(ftype),
        .n_layer = m->layers,
        .n_expert = m->ffn.moe_layers > 0 ? m->ffn.experts : 0,
        .n_gqa = m->attn.kind == SIM_ATTN_GQA && m->attn.kv_heads > 0 ? m->attn.heads / m->attn.kv_heads : 1,
        .tied = m->tied_embeddings,
        .n_wv = m->layers,
    };
    r.deflt = default_type(r.ft);
    /* llama.cpp types a llama-architecture model of 80 layers as 70B */
    r.is_70b = m->ffn.moe_layers == 0 && m->attn.kind == SIM_ATTN_GQA && m->layers == 80;
    r.imatrix = r.ft >= SIM_WF_IQ2_XXS && r.ft <= SIM_WF_IQ4_XS;
    double h = m->hidden, vocab = m->vocab;

    /* tensors outside the layers sort first in the loader's map: output, token_embd */
    if (!r.tied)
        add(&r, &out[SIM_WCLASS_HEAD], C_OUTPUT, -1, h, vocab * h, false);
    add(&r, &out[SIM_WCLASS_EMBED], C_EMBD, -1, h, vocab * h, false);
    /* MoE cards put their dense FFN layers first (DeepSeek's first_k_dense_replace) */
    int dense = m->ffn.moe_layers > 0 ? m->ffn.dense_layers : m->layers;
    for (int il = 0; il < m->layers; il++) {
        attention(&r, m, il, &out[SIM_WCLASS_ATTN]);
        if (il < dense) {
            ffn(&r, m, il, m->ffn.dense_intermediate, 1, false, &out[SIM_WCLASS_DENSE_FFN]);
            continue;
        }
        ffn(&r, m, il, m->ffn.expert_intermediate, m->ffn.experts, true, &out[SIM_WCLASS_EXPERTS]);
        if (m->ffn.shared_experts > 0) /* the shared experts are one wider FFN in GGUF (ffn_*_shexp) */
            ffn(&r, m, il, (double)m->ffn.shared_intermediate * m->ffn.shared_experts, 1, false,
                &out[SIM_WCLASS_SHARED]);
    }
}

double sim_gguf_file_bytes(const sim_model *m, sim_wformat ftype)
{
    sim_wmix w[SIM_WCLASS_COUNT];
    sim_gguf_mix(m, ftype, w);
    sim_param_counts pc;
    sim_model_params(m, &pc);
    double bytes = 0, matrices = 0;
    for (int c = 0; c < SIM_WCLASS_COUNT; c++) {
        bytes += w[c].total * sim_wmix_bytes(&w[c], SIM_WF_BF16);
        matrices += w[c].total;
    }
    return bytes + (pc.total - matrices) * 4.0;
}

double sim_gguf_fit_file(const sim_model *m, sim_wmix w[SIM_WCLASS_COUNT], double file_bytes)
{
    sim_wmix *e = &w[SIM_WCLASS_EXPERTS];
    if (!(e->total > 0))
        return -1;
    sim_param_counts pc;
    sim_model_params(m, &pc);
    double others = 0, matrices = 0;
    for (int c = 0; c < SIM_WCLASS_COUNT; c++) {
        if (c == SIM_WCLASS_HEAD && m->tied_embeddings)
            continue; /* the deployment's mix copies the embedding there: one matrix in the file */
        matrices += w[c].total;
        if (c != SIM_WCLASS_EXPERTS)
            others += w[c].total * sim_wmix_bytes(&w[c], SIM_WF_BF16);
    }
    double left = file_bytes - others - (pc.total - matrices) * 4.0;
    e->bytes = left > 0 ? left : 0;
    return left * 8.0 / e->total;
}
