/* model.c: loading and validating model cards (scenarios/models/SCHEMA.md), and the figures that
 * follow from a card: parameter counts, KV-cache elements per token. */
#include "model/model.h"
#include "model/hf_import.h"

#include <cjson/cJSON.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "base/jsonfile.h"

#define MODEL_SCHEMA "moesim-model/1"

/* ---------------------------------------------------------------- loading helpers */

/* Where a field lives, for messages: the file and the object's path ("" at the top). */
typedef struct {
    const char *file;
    const char *section;
    sim_err *err;
} card_ctx;

static const char *field_path(const card_ctx *c, const char *key, char *buf, size_t cap)
{
    snprintf(buf, cap, "%s%s%s", c->section, *c->section ? "." : "", key);
    return buf;
}

/* Every key of `obj` must be in `known` (NULL-terminated) and appear once: a misspelt field
 * would otherwise be ignored and its default used without anyone noticing. */
static int reject_unknown_fields(const cJSON *obj, const char *const *known, const card_ctx *c)
{
    char path[160];
    for (const cJSON *it = obj->child; it; it = it->next) {
        bool found = false;
        for (const char *const *k = known; *k && !found; k++)
            found = strcmp(it->string, *k) == 0;
        if (!found) {
            char list[512] = "";
            for (const char *const *k = known; *k; k++)
                snprintf(list + strlen(list), sizeof list - strlen(list), "%s%s", k == known ? "" : ", ", *k);
            return sim_fail(c->err, SIM_EINPUT, "%s: unknown field '%s' (known fields here: %s)", c->file,
                            field_path(c, it->string, path, sizeof path), list);
        }
        for (const cJSON *prev = obj->child; prev != it; prev = prev->next)
            if (strcmp(prev->string, it->string) == 0)
                return sim_fail(c->err, SIM_EINPUT, "%s: field '%s' appears more than once", c->file,
                                field_path(c, it->string, path, sizeof path));
    }
    return SIM_OK;
}

static int check_at_least(const char *key, int value, int min, const card_ctx *c)
{
    char path[160];
    if (value < min)
        return sim_fail(c->err, SIM_EINPUT, "%s: field '%s' must be >= %d (got %d)", c->file,
                        field_path(c, key, path, sizeof path), min, value);
    return SIM_OK;
}

/* A required integer no smaller than `min`. */
static int need_int(const cJSON *obj, const char *key, int min, int *out, const card_ctx *c)
{
    int rc = sim_json_int(obj, key, out, c->file, c->section, c->err);
    return rc ? rc : check_at_least(key, *out, min, c);
}

/* An optional integer no smaller than `min`; *out keeps its default when the field is absent. */
static int opt_int(const cJSON *obj, const char *key, int min, int *out, const card_ctx *c)
{
    int rc = sim_json_int_opt(obj, key, out, c->file, c->section, c->err);
    return rc ? rc : check_at_least(key, *out, min, c);
}

static int need_bool(const cJSON *obj, const char *key, bool *out, const card_ctx *c)
{
    char path[160];
    if (!cJSON_GetObjectItemCaseSensitive(obj, key))
        return sim_fail(c->err, SIM_EINPUT, "%s: field '%s' is missing (expected true or false)", c->file,
                        field_path(c, key, path, sizeof path));
    return sim_json_bool_opt(obj, key, out, c->file, c->section, c->err);
}

static int need_positive_num(const cJSON *obj, const char *key, double *out, const card_ctx *c)
{
    char path[160];
    int rc = sim_json_num(obj, key, out, c->file, c->section, c->err);
    if (rc == SIM_OK && !(*out > 0))
        rc = sim_fail(c->err, SIM_EINPUT, "%s: field '%s' must be > 0 (got %g)", c->file,
                      field_path(c, key, path, sizeof path), *out);
    return rc;
}

/* A required string that must be one of `choices` (NULL-terminated); *out is its index. */
static int need_choice(const cJSON *obj, const char *key, const char *const *choices, int *out, const card_ctx *c)
{
    char value[32], path[160];
    int rc = sim_json_str(obj, key, value, sizeof value, c->file, c->section, c->err);
    if (rc)
        return rc;
    for (int i = 0; choices[i]; i++) {
        if (strcmp(value, choices[i]) == 0) {
            *out = i;
            return SIM_OK;
        }
    }
    char list[128] = "";
    for (int i = 0; choices[i]; i++)
        snprintf(list + strlen(list), sizeof list - strlen(list), "%s%s", i ? ", " : "", choices[i]);
    return sim_fail(c->err, SIM_EINPUT, "%s: field '%s' must be one of %s (got '%s')", c->file,
                    field_path(c, key, path, sizeof path), list, value);
}

static int need_wformat(const cJSON *obj, const char *key, sim_wformat *out, const card_ctx *c)
{
    char value[32], path[160];
    int rc = sim_json_str(obj, key, value, sizeof value, c->file, c->section, c->err);
    if (rc)
        return rc;
    if (sim_wformat_parse(value, out) != 0)
        return sim_fail(c->err, SIM_EINPUT, "%s: field '%s' must be one of %s (got '%s')", c->file,
                        field_path(c, key, path, sizeof path), sim_wformat_names(), value);
    return SIM_OK;
}

static int need_nonempty_str(const cJSON *obj, const char *key, char *out, size_t cap, const card_ctx *c)
{
    char path[160];
    int rc = sim_json_str(obj, key, out, cap, c->file, c->section, c->err);
    if (rc == SIM_OK && !*out)
        rc = sim_fail(c->err, SIM_EINPUT, "%s: field '%s' must not be empty", c->file,
                      field_path(c, key, path, sizeof path));
    return rc;
}

/* An object field, checked for unknown keys; NULL (with err set) when missing or malformed. */
static const cJSON *need_section(const cJSON *root, const char *key, const char *const *known, card_ctx *c)
{
    const cJSON *obj = sim_json_obj(root, key, c->file, "", c->err);
    c->section = key;
    if (obj && reject_unknown_fields(obj, known, c) != SIM_OK)
        return NULL;
    return obj;
}

/* A cross-field rule broken: "FILE: field 'F' <why>". */
__attribute__((format(printf, 3, 4))) static int fail_constraint(const card_ctx *c, const char *field,
                                                                 const char *fmt, ...)
{
    char why[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(why, sizeof why, fmt, ap);
    va_end(ap);
    return sim_fail(c->err, SIM_EINPUT, "%s: field '%s' %s", c->file, field, why);
}

/* ---------------------------------------------------------------- sections */

static const char *const top_fields[] = {
    "schema", "name", "display_name", "aliases", "source", "notes", "hidden", "layers", "vocab",
    "tied_embeddings", "max_context", "attention", "ffn", "mtp_layers", "native_precision", "published", "routing",
    "speculative", "hybrid", NULL,
};
static const char *const attention_fields[] = {
    "kind", "heads", "kv_heads", "head_dim", "q_lora_rank", "kv_lora_rank", "qk_nope_head_dim",
    "qk_rope_head_dim", "v_head_dim", "local_window", "local_layers", "bias", "output_gate", NULL,
};
static const char *const hybrid_fields[] = {"mixers", "ffns", "ssm", "state_format", "source", "notes", NULL};
static const char *const ssm_fields[] = {
    "kind", "heads", "head_dim", "state", "groups", "conv_width", "chunk", "conv_bias", NULL,
};
static const char *const ssm_kinds[] = {"mamba2", "gated_deltanet", NULL}; /* order of sim_ssm_kind */
static const char *const mla_only_fields[] = {
    "q_lora_rank", "kv_lora_rank", "qk_nope_head_dim", "qk_rope_head_dim", "v_head_dim", NULL,
};
static const char *const ffn_fields[] = {
    "activation", "dense_layers", "dense_intermediate", "moe_layers", "experts", "top_k",
    "expert_intermediate", "shared_experts", "shared_intermediate", "scoring", "expert_bias", NULL,
};
static const char *const precision_fields[] = {"experts", "shared_experts", "dense", "head", "source", NULL};
static const char *const routing_fields[] = {"imbalance", "skew", "source", "notes", NULL};
static const char *const speculative_fields[] = {"accepted_tokens", "source", "notes", NULL};
static const char *const published_fields[] = {
    "total_params", "active_params", "active_excludes_embedding", "active_excludes_head", "active_rounded_to", "source",
    NULL,
};

static const char *const attn_kinds[] = {"gqa", "mla", NULL};        /* order of sim_attn_kind */
static const char *const activations[] = {"swiglu", "relu2", NULL};  /* order of sim_ffn_act */
static const char *const scorings[] = {"softmax", "sigmoid", NULL};  /* order of sim_scoring */

static int load_aliases(sim_model *m, const cJSON *root, card_ctx *c)
{
    const cJSON *aliases = cJSON_GetObjectItemCaseSensitive(root, "aliases");
    if (!aliases)
        return SIM_OK;
    if (!cJSON_IsArray(aliases))
        return sim_fail(c->err, SIM_EINPUT, "%s: field 'aliases' must be an array of names", c->file);
    int i = 0;
    for (const cJSON *a = aliases->child; a; a = a->next, i++) {
        if (!cJSON_IsString(a) || !*a->valuestring)
            return sim_fail(c->err, SIM_EINPUT, "%s: field 'aliases[%d]' must be a non-empty string", c->file, i);
        size_t n = strlen(m->aliases);
        if (n + strlen(a->valuestring) + 3 > sizeof m->aliases)
            return sim_fail(c->err, SIM_EINPUT, "%s: field 'aliases' is too long (at most %zu characters in all)",
                            c->file, sizeof m->aliases - 1);
        snprintf(m->aliases + n, sizeof m->aliases - n, "%s%s", n ? ", " : "", a->valuestring);
    }
    return SIM_OK;
}

static int load_identity(sim_model *m, const cJSON *root, card_ctx *c)
{
    char schema[32];
    const cJSON *notes = cJSON_GetObjectItemCaseSensitive(root, "notes");
    int rc;
    c->section = "";
    if ((rc = sim_json_str(root, "schema", schema, sizeof schema, c->file, "", c->err)))
        return rc;
    if (strcmp(schema, MODEL_SCHEMA) != 0)
        return sim_fail(c->err, SIM_EINPUT, "%s: field 'schema' must be \"%s\" (got \"%s\")", c->file,
                        MODEL_SCHEMA, schema);
    if ((rc = need_nonempty_str(root, "name", m->name, sizeof m->name, c)) ||
        (rc = sim_json_str_opt(root, "display_name", m->display_name, sizeof m->display_name, c->file, "", c->err)) ||
        (rc = need_nonempty_str(root, "source", m->source, sizeof m->source, c)) ||
        (rc = load_aliases(m, root, c)))
        return rc;
    if (notes && !cJSON_IsString(notes))
        return sim_fail(c->err, SIM_EINPUT, "%s: field 'notes' must be a string", c->file);
    if (!*m->display_name)
        snprintf(m->display_name, sizeof m->display_name, "%s", m->name);
    return SIM_OK;
}

static int load_shape(sim_model *m, const cJSON *root, card_ctx *c)
{
    int rc;
    c->section = "";
    if ((rc = need_int(root, "hidden", 1, &m->hidden, c)) || (rc = need_int(root, "layers", 1, &m->layers, c)) ||
        (rc = need_int(root, "vocab", 1, &m->vocab, c)) ||
        (rc = need_bool(root, "tied_embeddings", &m->tied_embeddings, c)) ||
        (rc = need_int(root, "max_context", 1, &m->max_context, c)) ||
        (rc = need_int(root, "mtp_layers", 0, &m->mtp_layers, c)))
        return rc;
    return SIM_OK;
}

static int check_attention(const sim_model *m, const cJSON *attn, const card_ctx *c)
{
    if (m->attn.kind == SIM_ATTN_GQA) {
        for (const char *const *k = mla_only_fields; *k; k++)
            if (cJSON_GetObjectItemCaseSensitive(attn, *k))
                return sim_fail(c->err, SIM_EINPUT, "%s: field 'attention.%s' applies only to attention.kind 'mla'",
                                c->file, *k);
        if (m->attn.kv_heads > m->attn.heads || m->attn.heads % m->attn.kv_heads != 0)
            return fail_constraint(c, "attention.kv_heads", "must divide attention.heads (got %d KV heads for %d heads)",
                                   m->attn.kv_heads, m->attn.heads);
    } else {
        if (m->attn.kv_heads != m->attn.heads)
            return fail_constraint(c, "attention.kv_heads", "must equal attention.heads for mla (got %d, heads %d)",
                                   m->attn.kv_heads, m->attn.heads);
        if (m->attn.head_dim != m->attn.v_head_dim)
            return fail_constraint(c, "attention.head_dim", "must equal attention.v_head_dim for mla (got %d vs %d)",
                                   m->attn.head_dim, m->attn.v_head_dim);
    }
    if (m->attn.local_layers > m->hybrid.attn_layers)
        return fail_constraint(c, "attention.local_layers", "must be <= the attention layers (got %d > %d)",
                               m->attn.local_layers, m->hybrid.attn_layers);
    if ((m->attn.local_layers > 0) != (m->attn.local_window > 0))
        return sim_fail(c->err, SIM_EINPUT,
                        "%s: fields 'attention.local_window' and 'attention.local_layers' must both be 0 or both "
                        "be > 0 (got %d and %d)", c->file, m->attn.local_window, m->attn.local_layers);
    return SIM_OK;
}

static int load_attention(sim_model *m, const cJSON *root, card_ctx *c)
{
    const cJSON *a = need_section(root, "attention", attention_fields, c);
    int kind, rc;
    if (!a)
        return c->err->code;
    if ((rc = need_choice(a, "kind", attn_kinds, &kind, c)))
        return rc;
    m->attn.kind = (sim_attn_kind)kind;
    if ((rc = need_int(a, "heads", 1, &m->attn.heads, c)) || (rc = need_int(a, "kv_heads", 1, &m->attn.kv_heads, c)) ||
        (rc = need_int(a, "head_dim", 1, &m->attn.head_dim, c)) ||
        (rc = opt_int(a, "local_window", 0, &m->attn.local_window, c)) ||
        (rc = opt_int(a, "local_layers", 0, &m->attn.local_layers, c)) ||
        (rc = sim_json_bool_opt(a, "bias", &m->attn.bias, c->file, c->section, c->err)) ||
        (rc = sim_json_bool_opt(a, "output_gate", &m->attn.output_gate, c->file, c->section, c->err)))
        return rc;
    if (m->attn.output_gate && m->attn.kind != SIM_ATTN_GQA)
        return fail_constraint(c, "attention.output_gate", "applies only to attention.kind 'gqa'");
    if (m->attn.kind == SIM_ATTN_MLA &&
        ((rc = need_int(a, "q_lora_rank", 0, &m->attn.q_lora_rank, c)) ||
         (rc = need_int(a, "kv_lora_rank", 1, &m->attn.kv_lora_rank, c)) ||
         (rc = need_int(a, "qk_nope_head_dim", 1, &m->attn.qk_nope_head_dim, c)) ||
         (rc = need_int(a, "qk_rope_head_dim", 1, &m->attn.qk_rope_head_dim, c)) ||
         (rc = need_int(a, "v_head_dim", 1, &m->attn.v_head_dim, c))))
        return rc;
    return check_attention(m, a, c);
}

/* MoE fields must all be set when there are MoE layers and all be 0 when there are none, so a
 * dense card cannot carry half an MoE description. */
static int check_ffn(const sim_model *m, const card_ctx *c)
{
    if (m->hybrid.on && (m->ffn.moe_layers != m->hybrid.combo[SIM_MIX_ATTN][SIM_FFN_MOE] +
                                                  m->hybrid.combo[SIM_MIX_SSM][SIM_FFN_MOE] +
                                                  m->hybrid.combo[SIM_MIX_NONE][SIM_FFN_MOE] ||
                         m->ffn.dense_layers != m->hybrid.combo[SIM_MIX_ATTN][SIM_FFN_DENSE] +
                                                    m->hybrid.combo[SIM_MIX_SSM][SIM_FFN_DENSE] +
                                                    m->hybrid.combo[SIM_MIX_NONE][SIM_FFN_DENSE]))
        return sim_fail(c->err, SIM_EINPUT,
                        "%s: fields 'ffn.moe_layers' and 'ffn.dense_layers' must count the E and D layers of "
                        "hybrid.ffns (got %d and %d)", c->file, m->ffn.moe_layers, m->ffn.dense_layers);
    if (!m->hybrid.on && m->ffn.dense_layers + m->ffn.moe_layers != m->layers)
        return sim_fail(c->err, SIM_EINPUT,
                        "%s: fields 'ffn.dense_layers' + 'ffn.moe_layers' must equal layers (got %d + %d != %d)",
                        c->file, m->ffn.dense_layers, m->ffn.moe_layers, m->layers);
    if (m->ffn.dense_layers > 0 && m->ffn.dense_intermediate < 1)
        return fail_constraint(c, "ffn.dense_intermediate", "must be > 0 when ffn.dense_layers > 0 (got %d, %d dense layers)",
                               m->ffn.dense_intermediate, m->ffn.dense_layers);
    if (m->ffn.moe_layers == 0) {
        if (m->ffn.experts || m->ffn.top_k || m->ffn.expert_intermediate || m->ffn.shared_experts)
            return sim_fail(c->err, SIM_EINPUT,
                            "%s: fields 'ffn.experts', 'ffn.top_k', 'ffn.expert_intermediate' and "
                            "'ffn.shared_experts' must be 0 when ffn.moe_layers is 0 (got %d, %d, %d, %d)",
                            c->file, m->ffn.experts, m->ffn.top_k, m->ffn.expert_intermediate,
                            m->ffn.shared_experts);
        return SIM_OK;
    }
    if (m->ffn.experts < 1)
        return fail_constraint(c, "ffn.experts", "must be > 0 when ffn.moe_layers > 0 (got %d, %d MoE layers)",
                               m->ffn.experts, m->ffn.moe_layers);
    if (m->ffn.top_k < 1)
        return fail_constraint(c, "ffn.top_k", "must be > 0 when ffn.moe_layers > 0 (got %d, %d MoE layers)", m->ffn.top_k,
                               m->ffn.moe_layers);
    if (m->ffn.top_k > m->ffn.experts)
        return fail_constraint(c, "ffn.top_k", "must be <= ffn.experts (got %d > %d)", m->ffn.top_k, m->ffn.experts);
    if (m->ffn.expert_intermediate < 1)
        return fail_constraint(c, "ffn.expert_intermediate", "must be > 0 when ffn.moe_layers > 0 (got %d, %d MoE layers)",
                               m->ffn.expert_intermediate, m->ffn.moe_layers);
    if (m->ffn.shared_experts > 0 && m->ffn.shared_intermediate < 1)
        return fail_constraint(c, "ffn.shared_intermediate", "must be > 0 when ffn.shared_experts > 0 (got %d, %d shared)",
                               m->ffn.shared_intermediate, m->ffn.shared_experts);
    return SIM_OK;
}

static int load_ffn(sim_model *m, const cJSON *root, card_ctx *c)
{
    const cJSON *f = need_section(root, "ffn", ffn_fields, c);
    int activation, scoring, rc;
    if (!f)
        return c->err->code;
    if ((rc = need_choice(f, "activation", activations, &activation, c)) ||
        (rc = need_int(f, "dense_layers", 0, &m->ffn.dense_layers, c)) ||
        (rc = need_int(f, "dense_intermediate", 0, &m->ffn.dense_intermediate, c)) ||
        (rc = need_int(f, "moe_layers", 0, &m->ffn.moe_layers, c)) ||
        (rc = need_int(f, "experts", 0, &m->ffn.experts, c)) || (rc = need_int(f, "top_k", 0, &m->ffn.top_k, c)) ||
        (rc = need_int(f, "expert_intermediate", 0, &m->ffn.expert_intermediate, c)) ||
        (rc = need_int(f, "shared_experts", 0, &m->ffn.shared_experts, c)) ||
        (rc = need_int(f, "shared_intermediate", 0, &m->ffn.shared_intermediate, c)) ||
        (rc = need_choice(f, "scoring", scorings, &scoring, c)) ||
        (rc = sim_json_bool_opt(f, "expert_bias", &m->ffn.expert_bias, c->file, c->section, c->err)))
        return rc;
    m->ffn.activation = (sim_ffn_act)activation;
    m->ffn.scoring = (sim_scoring)scoring;
    return check_ffn(m, c);
}

/* A plain card: every layer is attention followed by its FFN (the split comes from the ffn
 * section, checked later). */
static void plain_pattern(sim_model *m)
{
    m->hybrid.attn_layers = m->layers;
    m->hybrid.ssm_layers = 0;
}

/* One pattern string: `layers` characters, each from `allowed`. */
static int load_pattern(const cJSON *h, const char *key, const char *allowed, const char *meaning, char *out,
                        const sim_model *m, const card_ctx *c)
{
    char path[160];
    int rc = sim_json_str(h, key, out, SIM_MAX_PATTERN + 1, c->file, c->section, c->err);
    if (rc)
        return rc;
    field_path(c, key, path, sizeof path);
    if ((int)strlen(out) != m->layers)
        return fail_constraint(c, path, "must have one character per layer (%d; got %zu)", m->layers, strlen(out));
    size_t bad = strspn(out, allowed);
    if (out[bad])
        return fail_constraint(c, path, "has '%c' at layer %zu: each character must be one of %s", out[bad], bad,
                               meaning);
    return SIM_OK;
}

/* The ssm subsection: the mixer's dimensions, as the published config names them. */
static int load_ssm(sim_model *m, const cJSON *h, card_ctx *c)
{
    const cJSON *o = sim_json_obj(h, "ssm", c->file, "hybrid", c->err);
    int kind, rc;
    if (!o)
        return c->err->code;
    c->section = "hybrid.ssm";
    if ((rc = reject_unknown_fields(o, ssm_fields, c)) || (rc = need_choice(o, "kind", ssm_kinds, &kind, c)) ||
        (rc = need_int(o, "heads", 1, &m->hybrid.heads, c)) || (rc = need_int(o, "head_dim", 1, &m->hybrid.head_dim, c)) ||
        (rc = need_int(o, "state", 1, &m->hybrid.state, c)) || (rc = need_int(o, "groups", 1, &m->hybrid.groups, c)) ||
        (rc = need_int(o, "conv_width", 1, &m->hybrid.conv_width, c)) ||
        (rc = need_int(o, "chunk", 1, &m->hybrid.chunk, c)) || (rc = need_bool(o, "conv_bias", &m->hybrid.conv_bias, c)))
        return rc;
    m->hybrid.kind = (sim_ssm_kind)kind;
    if (m->hybrid.heads % m->hybrid.groups != 0)
        return fail_constraint(c, "hybrid.ssm.groups", "must divide hybrid.ssm.heads (got %d groups for %d heads)",
                               m->hybrid.groups, m->hybrid.heads);
    return SIM_OK;
}

/* The hybrid section: which layers mix tokens with attention and which with the state-space /
 * linear-attention mixer, which FFN each has, and the mixer's dimensions. Optional: a card
 * without it is a plain transformer. */
static int load_hybrid(sim_model *m, const cJSON *root, card_ctx *c)
{
    if (!cJSON_GetObjectItemCaseSensitive(root, "hybrid")) {
        plain_pattern(m);
        return SIM_OK;
    }
    const cJSON *h = need_section(root, "hybrid", hybrid_fields, c);
    if (!h)
        return c->err->code;
    const cJSON *notes = cJSON_GetObjectItemCaseSensitive(h, "notes");
    int rc;
    if (notes && !cJSON_IsString(notes))
        return sim_fail(c->err, SIM_EINPUT, "%s: field 'hybrid.notes' must be a string", c->file);
    if (m->layers > SIM_MAX_PATTERN)
        return fail_constraint(c, "layers", "must be <= %d for a hybrid card (got %d)", SIM_MAX_PATTERN, m->layers);
    if ((rc = load_pattern(h, "mixers", "AS-", "A (attention), S (the hybrid.ssm mixer), - (none)", m->hybrid.mixers,
                           m, c)) ||
        (rc = load_pattern(h, "ffns", "ED-", "E (MoE), D (dense FFN), - (none)", m->hybrid.ffns, m, c)) ||
        (rc = need_wformat(h, "state_format", &m->hybrid.state_format, c)) ||
        (rc = need_nonempty_str(h, "source", m->hybrid.source, sizeof m->hybrid.source, c)) ||
        (rc = load_ssm(m, h, c)))
        return rc;
    m->hybrid.on = true;
    for (int i = 0; i < m->layers; i++) {
        char mc = m->hybrid.mixers[i], fc = m->hybrid.ffns[i];
        sim_mixer mx = mc == 'A' ? SIM_MIX_ATTN : mc == 'S' ? SIM_MIX_SSM : SIM_MIX_NONE;
        sim_ffn_slot fs = fc == 'E' ? SIM_FFN_MOE : fc == 'D' ? SIM_FFN_DENSE : SIM_FFN_NONE;
        if (mx == SIM_MIX_NONE && fs == SIM_FFN_NONE)
            return fail_constraint(c, "hybrid.mixers", "and hybrid.ffns are both '-' at layer %d: a layer must hold a "
                                   "mixer or an FFN", i);
        m->hybrid.combo[mx][fs]++;
        m->hybrid.attn_layers += mx == SIM_MIX_ATTN;
        m->hybrid.ssm_layers += mx == SIM_MIX_SSM;
    }
    if (m->hybrid.ssm_layers < 1)
        return fail_constraint(c, "hybrid.mixers", "has no S layer: a card without state-space / linear-attention "
                               "layers needs no hybrid section");
    return SIM_OK;
}

/* After the ffn section: a plain card's layers, all under attention. */
static void plain_combos(sim_model *m)
{
    if (m->hybrid.on)
        return;
    m->hybrid.combo[SIM_MIX_ATTN][SIM_FFN_MOE] = m->ffn.moe_layers;
    m->hybrid.combo[SIM_MIX_ATTN][SIM_FFN_DENSE] = m->ffn.dense_layers;
}

static int load_precision(sim_model *m, const cJSON *root, card_ctx *c)
{
    const cJSON *p = need_section(root, "native_precision", precision_fields, c);
    int rc;
    if (!p)
        return c->err->code;
    if ((rc = need_wformat(p, "experts", &m->native_experts, c)) || (rc = need_wformat(p, "dense", &m->native_dense, c)) ||
        (rc = need_wformat(p, "head", &m->native_head, c)) ||
        (rc = need_nonempty_str(p, "source", m->native_source, sizeof m->native_source, c)))
        return rc;
    /* Optional: a checkpoint that quantizes only the routed experts keeps its shared experts
     * wider (Kimi K2 Thinking: INT4 routed, BF16 shared); absent, they are the experts' format. */
    m->native_shared = m->native_experts;
    if (cJSON_GetObjectItemCaseSensitive(p, "shared_experts")) {
        if ((rc = need_wformat(p, "shared_experts", &m->native_shared, c)))
            return rc;
        if (m->ffn.shared_experts < 1)
            return fail_constraint(c, "native_precision.shared_experts", "applies only to cards with shared experts "
                                   "(ffn.shared_experts is 0)");
    }
    return SIM_OK;
}

static int load_published(sim_model *m, const cJSON *root, card_ctx *c)
{
    const cJSON *p = need_section(root, "published", published_fields, c);
    int rc;
    if (!p)
        return c->err->code;
    if ((rc = need_positive_num(p, "total_params", &m->published.total_params, c)) ||
        (rc = need_positive_num(p, "active_params", &m->published.active_params, c)) ||
        (rc = sim_json_bool_opt(p, "active_excludes_embedding", &m->published.active_excludes_embedding, c->file,
                          c->section, c->err)) ||
        (rc = sim_json_bool_opt(p, "active_excludes_head", &m->published.active_excludes_head, c->file, c->section,
                                c->err)) ||
        (rc = need_nonempty_str(p, "source", m->published.source, sizeof m->published.source, c)))
        return rc;
    if ((rc = sim_json_num_opt(p, "active_rounded_to", &m->published.active_rounded_to, c->file, c->section, c->err)))
        return rc;
    if (!(m->published.active_rounded_to >= 0 && m->published.active_rounded_to <= m->published.active_params))
        return fail_constraint(c, "published.active_rounded_to", "must be between 0 and published.active_params (the "
                               "step the owner rounds the active figure to; got %g)", m->published.active_rounded_to);
    if (m->published.active_params > m->published.total_params)
        return sim_fail(c->err, SIM_EINPUT, "%s: field 'published.active_params' must be <= published.total_params "
                        "(got %g > %g)", c->file, m->published.active_params, m->published.total_params);
    return SIM_OK;
}

/* The routing section: the law in the terms it is published in (imbalance, the busiest over
 * the idlest expert's tokens) or as a popularity exponent, always with its source; a section
 * with a source alone says that none is published and the fallback applies. Optional: a card
 * without it gets the fallback too. */
static int load_routing(sim_model *m, const cJSON *root, card_ctx *c)
{
    m->routing.skew = -1;
    if (!cJSON_GetObjectItemCaseSensitive(root, "routing"))
        return SIM_OK;
    const cJSON *r = need_section(root, "routing", routing_fields, c);
    if (!r)
        return c->err->code;
    const cJSON *notes = cJSON_GetObjectItemCaseSensitive(r, "notes");
    bool has_r = cJSON_GetObjectItemCaseSensitive(r, "imbalance") != NULL;
    bool has_s = cJSON_GetObjectItemCaseSensitive(r, "skew") != NULL;
    int rc;
    m->routing.given = true;
    if ((rc = need_nonempty_str(r, "source", m->routing.source, sizeof m->routing.source, c)))
        return rc;
    if (notes && !cJSON_IsString(notes))
        return sim_fail(c->err, SIM_EINPUT, "%s: field 'routing.notes' must be a string", c->file);
    if (has_r && has_s)
        return sim_fail(c->err, SIM_EINPUT, "%s: fields 'routing.imbalance' and 'routing.skew' are both set: give "
                        "one (imbalance: the busiest over the idlest expert's tokens; skew: the popularity exponent)",
                        c->file);
    if ((has_r || has_s) && !sim_model_is_moe(m))
        return sim_fail(c->err, SIM_EINPUT, "%s: field 'routing.%s' applies only to MoE cards (ffn.moe_layers is 0)",
                        c->file, has_r ? "imbalance" : "skew");
    if (has_r) {
        if ((rc = sim_json_num(r, "imbalance", &m->routing.imbalance, c->file, c->section, c->err)))
            return rc;
        if (!(m->routing.imbalance >= 1) || !isfinite(m->routing.imbalance))
            return fail_constraint(c, "routing.imbalance", "must be a finite ratio >= 1 (the busiest over the idlest "
                                   "expert's tokens; 1 = uniform; got %g)", m->routing.imbalance);
        if (m->ffn.top_k >= m->ffn.experts && m->routing.imbalance != 1)
            return fail_constraint(c, "routing.imbalance", "must be 1: every token reaches all %d experts (top_k %d)",
                                   m->ffn.experts, m->ffn.top_k);
    }
    if (has_s) {
        if ((rc = sim_json_num(r, "skew", &m->routing.skew, c->file, c->section, c->err)))
            return rc;
        if (!(m->routing.skew >= 0 && m->routing.skew <= 10))
            return fail_constraint(c, "routing.skew", "must be in [0, 10] (the popularity exponent; 0 = uniform; got %g)",
                                   m->routing.skew);
    }
    return SIM_OK;
}

/* The speculative section: the published MTP acceptance, as mean tokens a decode step
 * produces per sequence for 1, 2, ... draft tokens, with its source. Optional; only a card
 * with an MTP module may carry it. */
static int load_speculative(sim_model *m, const cJSON *root, card_ctx *c)
{
    if (!cJSON_GetObjectItemCaseSensitive(root, "speculative"))
        return SIM_OK;
    const cJSON *sp = need_section(root, "speculative", speculative_fields, c);
    if (!sp)
        return c->err->code;
    int rc;
    if ((rc = need_nonempty_str(sp, "source", m->spec.source, sizeof m->spec.source, c)))
        return rc;
    const cJSON *notes = cJSON_GetObjectItemCaseSensitive(sp, "notes");
    if (notes && !cJSON_IsString(notes))
        return sim_fail(c->err, SIM_EINPUT, "%s: field 'speculative.notes' must be a string", c->file);
    if (m->mtp_layers < 1)
        return fail_constraint(c, "speculative", "applies only to cards with an MTP module (mtp_layers is 0)");
    const cJSON *acc = cJSON_GetObjectItemCaseSensitive(sp, "accepted_tokens");
    int n = cJSON_IsArray(acc) ? cJSON_GetArraySize(acc) : 0;
    if (n < 1 || n > (int)(sizeof m->spec.accepted / sizeof m->spec.accepted[0]))
        return fail_constraint(c, "speculative.accepted_tokens", "must be an array of 1 to 16 numbers (mean tokens "
                               "a step produces per sequence with 1, 2, ... draft tokens)");
    for (int i = 0; i < n; i++) {
        const cJSON *v = cJSON_GetArrayItem(acc, i);
        double x = cJSON_IsNumber(v) ? v->valuedouble : NAN;
        if (!(x >= 1 && x <= i + 2)) {
            char field[64];
            snprintf(field, sizeof field, "speculative.accepted_tokens[%d]", i);
            return fail_constraint(c, field, "must be a number in [1, %d] (tokens per step with %d draft token%s)",
                                   i + 2, i + 1, i ? "s" : "");
        }
        m->spec.accepted[i] = x;
    }
    m->spec.n = n;
    return SIM_OK;
}

static int load_card(sim_model *m, const cJSON *root, card_ctx *c)
{
    if (!cJSON_IsObject(root))
        return sim_fail(c->err, SIM_EINPUT, "%s: a model card must be a JSON object", c->file);
    if (sim_hf_is_config(root))
        return sim_fail(c->err, SIM_EINPUT, "%s is a Hugging Face config.json, not a moesim model card: convert it "
                        "with `moesim models import %s --out CARD.json`", c->file, c->file);
    c->section = "";
    int rc;
    if ((rc = reject_unknown_fields(root, top_fields, c)) || (rc = load_identity(m, root, c)) ||
        (rc = load_shape(m, root, c)) || (rc = load_hybrid(m, root, c)) || (rc = load_attention(m, root, c)) ||
        (rc = load_ffn(m, root, c)) ||
        (rc = load_precision(m, root, c)) || (rc = load_published(m, root, c)) || (rc = load_routing(m, root, c)) ||
        (rc = load_speculative(m, root, c)))
        return rc;
    plain_combos(m);
    return SIM_OK;
}

int sim_model_load(sim_model *m, const char *file, sim_err *err)
{
    sim_err scratch = {0};
    if (!err)
        err = &scratch;
    if (strlen(file) >= sizeof m->path)
        return sim_fail(err, SIM_EINPUT, "%s: path too long", file);
    cJSON *root = sim_json_load(file, err);
    if (!root)
        return err->code;
    int rc = sim_model_from_json(m, root, file, err);
    cJSON_Delete(root);
    return rc;
}

int sim_model_from_json(sim_model *m, const cJSON *root, const char *file, sim_err *err)
{
    sim_err scratch = {0};
    if (!err)
        err = &scratch;
    /* Fill a fresh card and hand it over only when every check passed. */
    sim_model card;
    memset(&card, 0, sizeof card);
    snprintf(card.path, sizeof card.path, "%s", file);
    card_ctx c = {.file = file, .section = "", .err = err};
    int rc = load_card(&card, root, &c);
    if (rc == SIM_OK)
        *m = card;
    return rc;
}

/* ---------------------------------------------------------------- derived figures */

static double attention_params_per_layer(const sim_model *m)
{
    const double h = m->hidden, nq = m->attn.heads;
    if (m->attn.kind == SIM_ATTN_GQA) {
        const double nkv = m->attn.kv_heads, d = m->attn.head_dim;
        double p = h * nq * d + 2 * h * nkv * d + nq * d * h;
        if (m->attn.output_gate)
            p += h * nq * d; /* the gate half of the query projection (Qwen3-Next q_proj: 2 x nq x d outputs) */
        if (m->attn.bias)
            p += nq * d + 2 * nkv * d + h;
        return p;
    }
    const double ql = m->attn.q_lora_rank, kvl = m->attn.kv_lora_rank;
    const double qk = m->attn.qk_nope_head_dim + m->attn.qk_rope_head_dim, v = m->attn.v_head_dim;
    /* Queries go through a low-rank latent (with its RMSNorm) unless q_lora_rank is 0. */
    double queries = ql > 0 ? h * ql + ql + ql * nq * qk : h * nq * qk;
    double kv_down = h * (kvl + m->attn.qk_rope_head_dim) + kvl; /* latent + shared rope key, latent norm */
    double kv_up = kvl * nq * (m->attn.qk_nope_head_dim + v);
    double output = nq * v * h;
    return queries + kv_down + kv_up + output;
}

double sim_model_ssm_conv_dim(const sim_model *m)
{
    return (double)m->hybrid.heads * m->hybrid.head_dim + 2.0 * m->hybrid.groups * m->hybrid.state;
}

/* One state-space / linear-attention mixer. With d_in = H*P (heads x head_dim), g = G*N
 * (groups x state) and conv_dim = d_in + 2g:
 *   input projection h x (2 d_in + 2g + r H): x and the gate z (d_in each), B and C (Mamba-2)
 *     or k and q (GDN) (g each), and r per-head scalars: Mamba-2's dt (r = 1; HF
 *     NemotronHMamba2Mixer in_proj: intermediate + conv_dim + heads), GDN's beta and alpha
 *     (r = 2; HF Qwen3NextGatedDeltaNet in_proj_qkvz + in_proj_ba);
 *   depthwise convolution conv_dim x conv_width (+ conv_dim biases when conv_bias);
 *   per-head vectors: Mamba-2 A_log, D, dt_bias (3H); GDN A_log, dt_bias (2H);
 *   gated RMSNorm: Mamba-2 over d_in, GDN over one head (P, shared by the heads);
 *   output projection d_in x h. */
static double ssm_params_per_layer(const sim_model *m)
{
    if (!m->hybrid.on)
        return 0;
    const double h = m->hidden, H = m->hybrid.heads, P = m->hybrid.head_dim;
    const double d_in = H * P, g = (double)m->hybrid.groups * m->hybrid.state, conv_dim = sim_model_ssm_conv_dim(m);
    bool mamba = m->hybrid.kind == SIM_SSM_MAMBA2;
    double in_proj = h * (2 * d_in + 2 * g + (mamba ? 1 : 2) * H);
    double conv = conv_dim * m->hybrid.conv_width + (m->hybrid.conv_bias ? conv_dim : 0);
    double per_head = (mamba ? 3 : 2) * H;
    double norm = mamba ? d_in : P;
    return in_proj + conv + per_head + norm + d_in * h;
}

/* One FFN of width `width`: SwiGLU has gate, up and down matrices, ReLU² up and down. Biases
 * (gpt-oss experts) follow the same matrices: one per output element. */
static double ffn_params(const sim_model *m, double width, bool with_bias)
{
    const double h = m->hidden;
    bool gated = m->ffn.activation == SIM_ACT_SWIGLU;
    double p = (gated ? 3.0 : 2.0) * h * width;
    if (with_bias)
        p += (gated ? 2.0 : 1.0) * width + h;
    return p;
}

void sim_model_params(const sim_model *m, sim_param_counts *out)
{
    const double h = m->hidden, vocab = m->vocab;
    const double moe_layers = m->ffn.moe_layers;
    memset(out, 0, sizeof *out);

    out->attn_per_layer = attention_params_per_layer(m);
    out->ssm_per_layer = ssm_params_per_layer(m);
    out->dense_ffn_per_layer = m->ffn.dense_layers > 0 ? ffn_params(m, m->ffn.dense_intermediate, false) : 0;
    out->expert_each = m->ffn.moe_layers > 0 ? ffn_params(m, m->ffn.expert_intermediate, m->ffn.expert_bias) : 0;
    out->shared_per_layer = m->ffn.shared_experts * ffn_params(m, m->ffn.shared_intermediate, false);
    out->router_per_layer = m->ffn.moe_layers > 0 ? h * m->ffn.experts : 0;

    out->embedding = vocab * h;
    out->lm_head = m->tied_embeddings ? 0 : vocab * h;
    out->attention = m->hybrid.attn_layers * out->attn_per_layer;
    out->ssm = m->hybrid.ssm_layers * out->ssm_per_layer;
    out->dense_ffn = m->ffn.dense_layers * out->dense_ffn_per_layer;
    out->routed_experts = moe_layers * m->ffn.experts * out->expert_each;
    out->shared_experts = moe_layers * out->shared_per_layer;
    out->router = moe_layers * out->router_per_layer;
    /* one RMSNorm before each mixer and each FFN (two per plain layer, one per Nemotron-H
     * block), and the final one */
    double sublayers = m->hybrid.attn_layers + m->hybrid.ssm_layers + m->ffn.dense_layers + m->ffn.moe_layers;
    out->norms = sublayers * h + h;

    double always_on = out->embedding + out->lm_head + out->attention + out->ssm + out->dense_ffn +
                       out->shared_experts + out->router + out->norms;
    out->total = always_on + out->routed_experts;
    out->active = always_on + moe_layers * m->ffn.top_k * out->expert_each;
    /* With tied embeddings the same matrix is the LM head, which every token does use. */
    bool drop_input_embedding = m->published.active_excludes_embedding && !m->tied_embeddings;
    out->active_comparable = out->active - (drop_input_embedding ? out->embedding : 0);
    /* Owners who count "non-embedding" active weights leave the LM head out too (GLM-4.5). */
    if (m->published.active_excludes_head)
        out->active_comparable -= m->tied_embeddings ? (drop_input_embedding ? 0 : out->embedding) : out->lm_head;
}

void sim_model_mtp_params(const sim_model *m, sim_mtp_params *out)
{
    memset(out, 0, sizeof *out);
    const double n = m->mtp_layers, h = m->hidden;
    if (n <= 0)
        return;
    sim_param_counts pc;
    sim_model_params(m, &pc);
    /* the layer is a full attention layer of the model's shape, on hybrid cards too (step.c's
     * draft pass costs it so) */
    out->attention = n * pc.attn_per_layer;
    if (sim_model_is_moe(m)) {
        out->routed_experts = n * m->ffn.experts * pc.expert_each;
        out->shared_experts = n * pc.shared_per_layer;
        out->router = n * pc.router_per_layer;
    } else {
        out->dense_ffn = n * pc.dense_ffn_per_layer;
    }
    out->fusion = n * 2 * h * h;
    out->norms = n * 5 * h;
    out->total = out->attention + out->routed_experts + out->shared_experts + out->router + out->dense_ffn +
                 out->fusion + out->norms;
}

double sim_model_kv_elems_per_token_layer(const sim_model *m)
{
    if (m->attn.kind == SIM_ATTN_MLA)
        return (double)m->attn.kv_lora_rank + m->attn.qk_rope_head_dim; /* one shared latent, no per-head K/V */
    return 2.0 * m->attn.kv_heads * m->attn.head_dim;
}

double sim_model_kv_elems_per_token(const sim_model *m)
{
    return m->hybrid.attn_layers * sim_model_kv_elems_per_token_layer(m);
}

double sim_model_kv_elems(const sim_model *m, double ctx)
{
    double full_layers = m->hybrid.attn_layers - m->attn.local_layers;
    double local_span = ctx < m->attn.local_window ? ctx : m->attn.local_window;
    return sim_model_kv_elems_per_token_layer(m) * (full_layers * ctx + m->attn.local_layers * local_span);
}

double sim_model_ssm_state_elems(const sim_model *m)
{
    return m->hybrid.on ? (double)m->hybrid.heads * m->hybrid.head_dim * m->hybrid.state : 0;
}

double sim_model_ssm_conv_elems(const sim_model *m)
{
    return m->hybrid.on ? sim_model_ssm_conv_dim(m) * (m->hybrid.conv_width - 1) : 0;
}

bool sim_model_is_moe(const sim_model *m)
{
    return m->ffn.moe_layers > 0 && m->ffn.experts > 0;
}
