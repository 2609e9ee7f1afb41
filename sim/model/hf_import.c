/* hf_import.c: config.json fields to card fields (see hf_import.h). Field names follow the
 * transformers configuration classes: LlamaConfig, MixtralConfig, Qwen2MoeConfig,
 * Qwen3MoeConfig, DeepseekV2Config/DeepseekV3Config, GptOssConfig, Glm4MoeConfig, and the hybrids
 * NemotronHConfig (Mamba-2) and Qwen3NextConfig (Gated DeltaNet); quantization_config of fp8,
 * mxfp4 and compressed-tensors checkpoints. DbrxConfig's nested layout and Mistral's params.json
 * are translated to those names first (from_dbrx, from_mistral_params). */
#include "model/hf_import.h"

#include "model/model.h"

#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

/* Mistral's own format (params.json beside consolidated.safetensors): dim, n_layers, n_heads. */
static bool is_mistral_params(const cJSON *c)
{
    return !cJSON_GetObjectItemCaseSensitive(c, "hidden_size") && cJSON_GetObjectItemCaseSensitive(c, "dim") &&
           cJSON_GetObjectItemCaseSensitive(c, "n_layers") && cJSON_GetObjectItemCaseSensitive(c, "n_heads");
}

int sim_hf_is_config(const cJSON *json)
{
    return cJSON_IsObject(json) && !cJSON_GetObjectItemCaseSensitive(json, "schema") &&
           (cJSON_GetObjectItemCaseSensitive(json, "model_type") ||
            cJSON_GetObjectItemCaseSensitive(json, "architectures") || is_mistral_params(json));
}

/* A whole number field: 1 and *out set when present; 0 when absent or null; -1 (and err)
 * when present with another type. */
static int get_int(const cJSON *c, const char *key, long *out, const char *file, sim_err *err)
{
    const cJSON *it = cJSON_GetObjectItemCaseSensitive(c, key);
    if (!it || cJSON_IsNull(it))
        return 0;
    if (!cJSON_IsNumber(it) || it->valuedouble != floor(it->valuedouble) || fabs(it->valuedouble) > 1e12) {
        sim_fail(err, SIM_EINPUT, "%s: field '%s' must be a whole number", file, key);
        return -1;
    }
    *out = (long)it->valuedouble;
    return 1;
}

/* Whether a JSON array of layer indices (mlp_only_layers, moe_layers) holds layer i: compared as
 * numbers, as Python's `i in list` does (2.0 is layer 2, 2.5 and 1e300 are none), since casting
 * an arbitrary double to long is undefined beyond long's range. Not an array: false. */
static bool lists_layer(const cJSON *list, long i)
{
    if (!cJSON_IsArray(list))
        return false;
    const cJSON *it;
    cJSON_ArrayForEach(it, list)
        if (cJSON_IsNumber(it) && it->valuedouble == (double)i)
            return true;
    return false;
}

static const char *get_str(const cJSON *c, const char *key)
{
    const cJSON *it = cJSON_GetObjectItemCaseSensitive(c, key);
    return cJSON_IsString(it) ? it->valuestring : NULL;
}

static int need_int(const cJSON *c, const char *key, long *out, const char *file, sim_err *err)
{
    int got = get_int(c, key, out, file, err);
    if (got < 0)
        return err->code;
    if (got == 0 || *out < 1)
        return sim_fail(err, SIM_EINPUT, "%s: field '%s' is %s (expected a whole number >= 1)", file, key,
                        got == 0 ? "missing" : "below 1");
    return SIM_OK;
}

/* The first of several names a field goes by, or `dflt` (with *found 0). */
static int first_int(const cJSON *c, const char *const *keys, long dflt, long *out, int *found, const char *file,
                     sim_err *err)
{
    *out = dflt;
    *found = 0;
    for (; *keys; keys++) {
        int got = get_int(c, *keys, out, file, err);
        if (got < 0)
            return err->code;
        if (got > 0) {
            *found = 1;
            return SIM_OK;
        }
    }
    return SIM_OK;
}

static void note(char *notes, size_t cap, const char *text)
{
    size_t n = strlen(notes);
    snprintf(notes + n, cap - n, "%s%s", n ? " " : "", text);
}

/* Which layers are MoE: DeepSeek's first_k_dense_replace, Qwen's mlp_only_layers and
 * decoder_sparse_step; every layer otherwise. */
static int count_moe_layers(const cJSON *c, long layers, long *moe, const char *file, sim_err *err)
{
    long first_dense = 0, step = 1;
    /* Llama 4 (Llama4TextConfig): MoE every interleave_moe_layer_step-th layer (its default
     * moe_layers list, range(step - 1, layers, step)), which is the same rule */
    if (get_int(c, "first_k_dense_replace", &first_dense, file, err) < 0 ||
        get_int(c, "decoder_sparse_step", &step, file, err) < 0 ||
        get_int(c, "interleave_moe_layer_step", &step, file, err) < 0)
        return err->code;
    if (step < 1)
        step = 1;
    const cJSON *only = cJSON_GetObjectItemCaseSensitive(c, "mlp_only_layers");
    const cJSON *listed = cJSON_GetObjectItemCaseSensitive(c, "moe_layers");
    *moe = 0;
    for (long i = 0; i < layers; i++) {
        bool dense = i < first_dense || (i + 1) % step != 0;
        if (cJSON_IsArray(listed)) /* Llama 4's explicit list of MoE layers wins */
            dense = !lists_layer(listed, i);
        dense |= lists_layer(only, i);
        *moe += !dense;
    }
    return SIM_OK;
}

/* Sliding-window layers: gpt-oss lists them in layer_types; a config with a window and no
 * such list (and use_sliding_window not false) has it on every layer. */
static int local_window(const cJSON *c, long layers, long *window, long *local, const char *file, sim_err *err)
{
    *window = *local = 0;
    int got = get_int(c, "sliding_window", window, file, err);
    if (got < 0)
        return err->code;
    if (got == 0 || *window <= 0) {
        *window = 0;
        return SIM_OK;
    }
    const cJSON *use = cJSON_GetObjectItemCaseSensitive(c, "use_sliding_window");
    if (cJSON_IsFalse(use)) {
        *window = 0;
        return SIM_OK;
    }
    const cJSON *types = cJSON_GetObjectItemCaseSensitive(c, "layer_types"), *it;
    if (cJSON_IsArray(types)) {
        cJSON_ArrayForEach(it, types) *local += cJSON_IsString(it) && strstr(it->valuestring, "sliding") != NULL;
    } else {
        *local = layers;
    }
    if (*local == 0)
        *window = 0;
    return SIM_OK;
}

/* A hybrid config's layer pattern and mixer (SCHEMA.md, "hybrid"). */
typedef struct {
    bool on, output_gate;
    char mixers[SIM_MAX_PATTERN + 1], ffns[SIM_MAX_PATTERN + 1];
    const char *kind, *state_format;
    long heads, head_dim, state, groups, conv, chunk, moe, dense;
    bool conv_bias;
    long shared_inter;                        /* Nemotron-H: moe_shared_expert_intermediate_size */
} hf_hybrid;

static int need_pattern_len(long layers, const char *file, sim_err *err)
{
    if (layers > SIM_MAX_PATTERN)
        return sim_fail(err, SIM_EINPUT, "%s: num_hidden_layers %ld is above the %d a hybrid card holds", file, layers,
                        SIM_MAX_PATTERN);
    return SIM_OK;
}

/* Nemotron-H (transformers NemotronHConfig): hybrid_override_pattern, one block per character,
 * M Mamba-2, * attention, E MoE, - MLP; the Mamba-2 mixer from mamba_num_heads, mamba_head_dim,
 * ssm_state_size, n_groups, conv_kernel, chunk_size, use_conv_bias. */
static int nemotron_h(const cJSON *c, long layers, hf_hybrid *h, char *notes, size_t cap, const char *file,
                      sim_err *err)
{
    const char *pat = get_str(c, "hybrid_override_pattern");
    if (!pat)
        return sim_fail(err, SIM_EINPUT, "%s: field 'hybrid_override_pattern' is missing (the nemotron_h layer pattern)",
                        file);
    if ((long)strlen(pat) != layers)
        return sim_fail(err, SIM_EINPUT, "%s: field 'hybrid_override_pattern' has %zu characters for %ld layers", file,
                        strlen(pat), layers);
    if (need_pattern_len(layers, file, err))
        return err->code;
    for (long i = 0; i < layers; i++) {
        char ch = pat[i];
        if (!strchr("M*E-", ch))
            return sim_fail(err, SIM_EINPUT, "%s: field 'hybrid_override_pattern' has '%c' at layer %ld (expected M, "
                            "*, E or -)", file, ch, i);
        h->mixers[i] = ch == 'M' ? 'S' : ch == '*' ? 'A' : '-';
        h->ffns[i] = ch == 'E' ? 'E' : ch == '-' ? 'D' : '-';
        h->moe += ch == 'E';
        h->dense += ch == '-';
    }
    h->mixers[layers] = h->ffns[layers] = '\0';
    h->kind = "mamba2";
    h->chunk = 256; /* transformers NemotronHConfig default chunk_size */
    if (need_int(c, "mamba_num_heads", &h->heads, file, err) || need_int(c, "mamba_head_dim", &h->head_dim, file, err) ||
        need_int(c, "ssm_state_size", &h->state, file, err) || need_int(c, "n_groups", &h->groups, file, err) ||
        need_int(c, "conv_kernel", &h->conv, file, err) || get_int(c, "chunk_size", &h->chunk, file, err) < 0 ||
        get_int(c, "moe_shared_expert_intermediate_size", &h->shared_inter, file, err) < 0)
        return err->code;
    const cJSON *cb = cJSON_GetObjectItemCaseSensitive(c, "use_conv_bias");
    h->conv_bias = !cJSON_IsFalse(cb); /* NemotronHConfig default use_conv_bias True */
    const char *sd = get_str(c, "mamba_ssm_cache_dtype");
    h->state_format = sd && strcmp(sd, "float32") == 0 ? "fp32" : "bf16";
    note(notes, cap, sd ? "hybrid.state_format from mamba_ssm_cache_dtype."
                        : "No mamba_ssm_cache_dtype: the state is assumed kept in BF16 (vLLM's 'auto', the model dtype).");
    return SIM_OK;
}

/* Qwen3-Next (transformers Qwen3NextConfig): layer_types, or full attention every
 * full_attention_interval-th layer; Gated DeltaNet from linear_num_value_heads,
 * linear_value_head_dim, linear_key_head_dim, linear_num_key_heads, linear_conv_kernel_dim; its
 * convolution has no bias, its attention an output gate (Qwen3NextGatedDeltaNet, Qwen3NextAttention). */
static int qwen3_next(const cJSON *c, long layers, long moe_layers, hf_hybrid *h, char *notes, size_t cap,
                      const char *file, sim_err *err)
{
    if (need_pattern_len(layers, file, err))
        return err->code;
    long interval = 4; /* Qwen3NextConfig default full_attention_interval */
    if (get_int(c, "full_attention_interval", &interval, file, err) < 0)
        return err->code;
    const cJSON *types = cJSON_GetObjectItemCaseSensitive(c, "layer_types");
    if (types && (!cJSON_IsArray(types) || cJSON_GetArraySize(types) != layers))
        return sim_fail(err, SIM_EINPUT, "%s: field 'layer_types' must list one type per layer (%ld)", file, layers);
    for (long i = 0; i < layers; i++) {
        bool full;
        if (types) {
            const cJSON *t = cJSON_GetArrayItem(types, (int)i);
            if (!cJSON_IsString(t) || (strcmp(t->valuestring, "full_attention") && strcmp(t->valuestring, "linear_attention")))
                return sim_fail(err, SIM_EINPUT, "%s: field 'layer_types[%ld]' must be \"full_attention\" or "
                                "\"linear_attention\"", file, i);
            full = strcmp(t->valuestring, "full_attention") == 0;
        } else {
            full = interval > 0 && (i + 1) % interval == 0;
        }
        h->mixers[i] = full ? 'A' : 'S';
    }
    h->mixers[layers] = '\0';
    /* every layer has an FFN: MoE where count_moe_layers puts one (decoder_sparse_step,
     * mlp_only_layers), dense otherwise; the pattern's E/D follow the same rule */
    long first_dense = 0, step = 1;
    if (get_int(c, "decoder_sparse_step", &step, file, err) < 0)
        return err->code;
    if (step < 1)
        step = 1;
    const cJSON *only = cJSON_GetObjectItemCaseSensitive(c, "mlp_only_layers");
    for (long i = 0; i < layers; i++) {
        bool dense = moe_layers == 0 || i < first_dense || (i + 1) % step != 0;
        dense |= lists_layer(only, i);
        h->ffns[i] = dense ? 'D' : 'E';
        h->moe += !dense;
        h->dense += dense;
    }
    h->ffns[layers] = '\0';
    h->kind = "gated_deltanet";
    if (need_int(c, "linear_num_value_heads", &h->heads, file, err) ||
        need_int(c, "linear_value_head_dim", &h->head_dim, file, err) ||
        need_int(c, "linear_key_head_dim", &h->state, file, err) ||
        need_int(c, "linear_num_key_heads", &h->groups, file, err) ||
        need_int(c, "linear_conv_kernel_dim", &h->conv, file, err))
        return err->code;
    h->conv_bias = false;
    h->chunk = 64; /* fla-org chunk_gated_delta_rule's chunk, the kernel transformers and vLLM call */
    h->state_format = "bf16";
    h->output_gate = true;
    note(notes, cap, "Qwen3-Next: gated attention (output_gate); the Gated DeltaNet's chunk 64 is fla's "
                     "chunk_gated_delta_rule's; its state is assumed kept in BF16 (vLLM's 'auto', the model dtype).");
    return SIM_OK;
}

/* Llama 4 text model (transformers Llama4TextConfig / modeling_llama4): dense layers are
 * intermediate_size_mlp wide, experts and the one always-on shared expert intermediate_size;
 * the router scores with a sigmoid (Llama4Router); iRoPE: the layers with RoPE (no_rope_layers
 * 1, by default all but every no_rope_layer_interval-th, interval 4) attend within chunks of
 * attention_chunk_size tokens, the card's local window; the others are global NoPE layers. */
static int llama4_text(const cJSON *c, long layers, long *dense_inter, long *window, long *local, char *notes,
                       size_t cap, const char *file, sim_err *err)
{
    long interval = 4; /* Llama4TextConfig default no_rope_layer_interval */
    if (need_int(c, "intermediate_size_mlp", dense_inter, file, err) ||
        get_int(c, "no_rope_layer_interval", &interval, file, err) < 0)
        return err->code;
    *window = *local = 0;
    if (get_int(c, "attention_chunk_size", window, file, err) < 0)
        return err->code;
    if (*window <= 0) {
        *window = 0;
        return SIM_OK;
    }
    const cJSON *nope = cJSON_GetObjectItemCaseSensitive(c, "no_rope_layers"), *it;
    if (cJSON_IsArray(nope)) {
        cJSON_ArrayForEach(it, nope) *local += cJSON_IsNumber(it) && it->valuedouble != 0;
    } else {
        for (long i = 0; i < layers; i++)
            *local += interval < 1 || (i + 1) % interval != 0;
    }
    note(notes, cap, "llama4: attention_chunk_size as a local window on the RoPE layers (chunked attention holds "
                     "at most a chunk); one shared expert of intermediate_size per MoE layer; sigmoid router.");
    return SIM_OK;
}

static void add_hybrid(cJSON *card, const hf_hybrid *h, const char *model_type)
{
    cJSON *o = cJSON_AddObjectToObject(card, "hybrid");
    cJSON_AddStringToObject(o, "mixers", h->mixers);
    cJSON_AddStringToObject(o, "ffns", h->ffns);
    cJSON *s = cJSON_AddObjectToObject(o, "ssm");
    cJSON_AddStringToObject(s, "kind", h->kind);
    cJSON_AddNumberToObject(s, "heads", (double)h->heads);
    cJSON_AddNumberToObject(s, "head_dim", (double)h->head_dim);
    cJSON_AddNumberToObject(s, "state", (double)h->state);
    cJSON_AddNumberToObject(s, "groups", (double)h->groups);
    cJSON_AddNumberToObject(s, "conv_width", (double)h->conv);
    cJSON_AddNumberToObject(s, "chunk", (double)h->chunk);
    cJSON_AddBoolToObject(s, "conv_bias", h->conv_bias);
    cJSON_AddStringToObject(o, "state_format", h->state_format);
    char src[256];
    snprintf(src, sizeof src, "the config's %s layer pattern and mixer fields, converted by moesim import-hf",
             model_type);
    cJSON_AddStringToObject(o, "source", src);
}

/* The checkpoint's formats, tensor class by tensor class. */
typedef struct {
    const char *experts, *shared, *dense, *head; /* shared NULL: the routed experts' format */
    char source[512];
} hf_precision;

/* Whether the compressed-tensors `ignore` list keeps modules whose name contains `part`
 * unquantized (entries are names or "re:" patterns). */
static bool ignores(const cJSON *q, const char *part)
{
    const cJSON *it;
    cJSON_ArrayForEach(it, cJSON_GetObjectItemCaseSensitive(q, "ignore")) if (cJSON_IsString(it) &&
                                                                               strstr(it->valuestring, part)) return true;
    return false;
}

/* compressed-tensors (llm-compressor's format): one weight scheme per config group. Weight-only
 * INT4 with attention, shared experts and dense MLPs ignored is the Kimi K2 Thinking layout;
 * FP8 block scales with only embeddings, head, router and two latent projections ignored is
 * Mistral Large 3's. Anything else is named and left at BF16. */
static void compressed_tensors(const cJSON *q, hf_precision *p)
{
    const cJSON *group = cJSON_GetObjectItemCaseSensitive(q, "config_groups");
    const cJSON *w = group && group->child ? cJSON_GetObjectItemCaseSensitive(group->child, "weights") : NULL;
    const cJSON *bits = cJSON_GetObjectItemCaseSensitive(w, "num_bits");
    const char *type = get_str(w, "type");
    bool lm_head_kept = ignores(q, "lm_head");
    const cJSON *gs = cJSON_GetObjectItemCaseSensitive(w, "group_size");
    if (cJSON_IsNumber(bits) && bits->valuedouble == 4 && type && strcmp(type, "int") == 0 && ignores(q, "self_attn")) {
        /* symmetric groups of 32 with the model-dtype scale are int4_g32's layout (0.5625 B a
         * weight); another grouping is priced as int4's (group 128, scale and zero point) */
        bool g32 = cJSON_IsNumber(gs) && gs->valuedouble == 32 && cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(w, "symmetric"));
        p->experts = g32 ? "int4_g32" : "int4";
        if (ignores(q, "shared_experts")) /* the shared expert stays in the model dtype */
            p->shared = "bf16";
        p->head = "bf16";
        snprintf(p->source, sizeof p->source,
                 "config.json quantization_config: compressed-tensors, weight-only INT4 (group_size %g) on the routed "
                 "experts; attention%s and LM head ignored (BF16).",
                 cJSON_GetNumberValue(gs),
                 ignores(q, "shared_experts") ? ", shared experts, dense MLPs" : "");
    } else if (cJSON_IsNumber(bits) && bits->valuedouble == 8 && type && strcmp(type, "float") == 0) {
        p->experts = p->dense = "fp8";
        p->head = lm_head_kept ? "bf16" : "fp8";
        snprintf(p->source, sizeof p->source,
                 "config.json quantization_config: compressed-tensors, FP8 weights%s.",
                 lm_head_kept ? "; LM head and embeddings in the ignore list (BF16)" : "");
    } else {
        snprintf(p->source, sizeof p->source,
                 "config.json quantization_config: a compressed-tensors scheme moesim does not map; BF16 assumed.");
    }
}

static void native_precision(const cJSON *c, hf_precision *p, char *notes, size_t cap)
{
    const cJSON *q = cJSON_GetObjectItemCaseSensitive(c, "quantization_config");
    const char *method = get_str(q, "quant_method");
    p->experts = p->dense = p->head = "bf16";
    p->shared = NULL;
    snprintf(p->source, sizeof p->source, "config.json has no quantization_config: BF16 throughout.");
    if (method && strcmp(method, "fp8") == 0) {
        /* DeepSeek-V3's format: block-scaled FP8 GEMM weights; embeddings and LM head stay BF16. */
        p->experts = p->dense = "fp8";
        snprintf(p->source, sizeof p->source,
                 "config.json quantization_config.quant_method fp8 (block-scaled GEMM weights; embeddings and LM "
                 "head are not FP8 in this format).");
    } else if (method && strcmp(method, "mxfp4") == 0) {
        p->experts = "mxfp4";
        snprintf(p->source, sizeof p->source,
                 "config.json quantization_config.quant_method mxfp4: MXFP4 experts; modules_to_not_convert BF16.");
    } else if (method && strcmp(method, "compressed-tensors") == 0) {
        compressed_tensors(q, p);
    } else if (method) {
        snprintf(p->source, sizeof p->source,
                 "config.json quantization_config.quant_method %.64s is not one moesim maps; BF16 assumed.", method);
        note(notes, cap, "quantization_config.quant_method is not one moesim maps; native precision set to bf16.");
    }
}

/* The owner's total and active counts are not in a config: derive them from the card, which
 * is checked on the way as every card is. The card's shape is complete and valid without
 * them, so the counts go in once the rest has passed (a card needs positive figures there,
 * hence the unit counts during the check, replaced before anyone sees the card). */
static int add_derived_counts(cJSON *card, const char *path, sim_err *err)
{
    cJSON *pub = cJSON_AddObjectToObject(card, "published");
    cJSON_AddNumberToObject(pub, "total_params", 1);
    cJSON_AddNumberToObject(pub, "active_params", 1);
    cJSON_AddStringToObject(pub, "source", "not published in config.json: the counts moesim derives from this card "
                                           "(replace them with the owner's figures where known)");
    sim_model m;
    if (sim_model_from_json(&m, card, path, err) != SIM_OK)
        return sim_wrap(err, "the card converted from it does not pass the card checks");
    sim_param_counts pc;
    sim_model_params(&m, &pc);
    cJSON_ReplaceItemInObjectCaseSensitive(pub, "total_params", cJSON_CreateNumber(pc.total));
    cJSON_ReplaceItemInObjectCaseSensitive(pub, "active_params", cJSON_CreateNumber(pc.active));
    return SIM_OK;
}

/* The converter proper, on Hugging Face field names; `format` names what was read (for the
 * card's source) and `prelude` starts its notes (what a layout translation assumed). */
static cJSON *hf_to_card(const cJSON *c, const char *name, const char *path, const char *format, const char *prelude,
                         sim_err *err)
{
    if (!cJSON_IsObject(c)) {
        sim_fail(err, SIM_EINPUT, "%s: a config.json must be a JSON object", path);
        return NULL;
    }
    /* A multimodal release (Llama 4's Llama4ForConditionalGeneration) nests its language
     * model's fields in text_config: the card is that text model's. */
    const cJSON *top = c, *text = cJSON_GetObjectItemCaseSensitive(c, "text_config");
    if (!cJSON_GetObjectItemCaseSensitive(c, "hidden_size") && cJSON_IsObject(text))
        c = text;
    long hidden, layers, vocab, heads;
    if (need_int(c, "hidden_size", &hidden, path, err) || need_int(c, "num_hidden_layers", &layers, path, err) ||
        need_int(c, "vocab_size", &vocab, path, err) || need_int(c, "num_attention_heads", &heads, path, err))
        return NULL;
    char notes[2048];
    snprintf(notes, sizeof notes, "%s", prelude);
    long max_ctx = 0, kv_heads, head_dim, kv_lora = 0, q_lora = 0, nope = 0, rope = 0, v_dim = 0;
    int found;
    static const char *const kv_keys[] = { "num_key_value_heads", NULL };
    static const char *const hd_keys[] = { "head_dim", NULL };
    if (get_int(c, "max_position_embeddings", &max_ctx, path, err) < 0 ||
        first_int(c, kv_keys, heads, &kv_heads, &found, path, err) ||
        first_int(c, hd_keys, hidden / heads, &head_dim, &found, path, err))
        return NULL;
    if (!found)
        note(notes, sizeof notes, "head_dim = hidden / heads (derived).");
    bool mla = get_int(c, "kv_lora_rank", &kv_lora, path, err) > 0 && kv_lora > 0;
    if (mla && (get_int(c, "q_lora_rank", &q_lora, path, err) < 0 ||
                need_int(c, "qk_nope_head_dim", &nope, path, err) || need_int(c, "qk_rope_head_dim", &rope, path, err) ||
                need_int(c, "v_head_dim", &v_dim, path, err)))
        return NULL;
    long window, local;
    if (local_window(c, layers, &window, &local, path, err))
        return NULL;

    /* experts: DeepSeek n_routed_experts, Qwen num_experts, Mixtral/gpt-oss num_local_experts */
    static const char *const e_keys[] = { "n_routed_experts", "num_experts", "num_local_experts", NULL };
    static const char *const k_keys[] = { "num_experts_per_tok", "experts_per_token", NULL };
    long experts, top_k, inter = 0, moe_inter = 0, shared = 0, shared_inter = 0, moe_layers = 0, mtp = 0;
    if (first_int(c, e_keys, 0, &experts, &found, path, err) || first_int(c, k_keys, 0, &top_k, &found, path, err) ||
        get_int(c, "intermediate_size", &inter, path, err) < 0 ||
        get_int(c, "moe_intermediate_size", &moe_inter, path, err) < 0 ||
        get_int(c, "n_shared_experts", &shared, path, err) < 0 ||
        get_int(c, "shared_expert_intermediate_size", &shared_inter, path, err) < 0 ||
        get_int(c, "num_nextn_predict_layers", &mtp, path, err) < 0)
        return NULL;
    if (experts > 0) {
        if (top_k < 1 || top_k > experts) {
            sim_fail(err, SIM_EINPUT, "%s: num_experts_per_tok (%ld) must be 1 to the %ld experts", path, top_k, experts);
            return NULL;
        }
        if (count_moe_layers(c, layers, &moe_layers, path, err))
            return NULL;
        if (moe_inter == 0) /* Mixtral, gpt-oss: intermediate_size is the expert's width */
            moe_inter = inter;
        if (shared > 0)                  /* DeepSeek: each shared expert as wide as a routed one */
            shared_inter = moe_inter;
        else if (shared_inter > 0)       /* Qwen2-MoE: one shared expert of its own width */
            shared = 1;
        if (moe_inter < 1) {
            sim_fail(err, SIM_EINPUT, "%s: no expert width (moe_intermediate_size or intermediate_size)", path);
            return NULL;
        }
    }
    hf_hybrid hyb;
    memset(&hyb, 0, sizeof hyb);
    const char *mt = get_str(c, "model_type");
    if (mt && strcmp(mt, "nemotron_h") == 0) {
        if (nemotron_h(c, layers, &hyb, notes, sizeof notes, path, err))
            return NULL;
        hyb.on = true;
        if (hyb.shared_inter > 0) /* one shared expert of its own width, not the routed one's */
            shared_inter = hyb.shared_inter;
    } else if (mt && strcmp(mt, "qwen3_next") == 0) {
        if (qwen3_next(c, layers, experts > 0 ? moe_layers : 0, &hyb, notes, sizeof notes, path, err))
            return NULL;
        hyb.on = true;
        /* The released configs state no num_nextn_predict_layers, yet the checkpoints carry one
         * MTP layer (mtp.layers.0.*, a full-attention MoE block): vLLM reads the field with a
         * default of 1 (model_executor/models/qwen3_next_mtp.py, Qwen3NextMultiTokenPredictor,
         * getattr(config, "num_nextn_predict_layers", 1)); so does the card. */
        if (!cJSON_GetObjectItemCaseSensitive(c, "num_nextn_predict_layers")) {
            mtp = 1;
            note(notes, sizeof notes, "qwen3_next: no num_nextn_predict_layers in the config; mtp_layers 1, the one "
                                      "MTP layer the checkpoint ships (vLLM's default for this model type).");
        }
    }
    if (hyb.on)
        moe_layers = experts > 0 ? hyb.moe : 0;
    long dense_inter = inter;
    bool llama4 = mt && strcmp(mt, "llama4_text") == 0;
    if (llama4) {
        if (llama4_text(c, layers, &dense_inter, &window, &local, notes, sizeof notes, path, err))
            return NULL;
        if (experts > 0) { /* Llama4TextMoe.shared_expert: one Llama4TextMLP of intermediate_size */
            shared = 1;
            shared_inter = moe_inter;
        }
    }
    long dense_layers = hyb.on ? hyb.dense + (experts > 0 ? 0 : hyb.moe) : layers - moe_layers;
    if (dense_layers > 0 && dense_inter < 1) {
        sim_fail(err, SIM_EINPUT, "%s: field 'intermediate_size' is missing (the dense layers' width)", path);
        return NULL;
    }
    const char *act = get_str(c, "mlp_hidden_act"); /* Nemotron-H names its FFN activation apart */
    if (!act)
        act = get_str(c, "hidden_act");
    bool relu2 = act && strcmp(act, "relu2") == 0;
    const char *scoring = get_str(c, "scoring_func");
    const char *model_type = get_str(c, "model_type");
    /* GLM-4.5's config names no scoring function: transformers' Glm4MoeTopkRouter scores with a
     * sigmoid (plus e_score_correction_bias), as DeepSeek-V3 does. */
    bool glm4_moe = model_type && strcmp(model_type, "glm4_moe") == 0;
    if (!scoring && glm4_moe)
        scoring = "sigmoid";
    /* Nemotron-H's router scores with a sigmoid (NemotronHTopkRouter, as DeepSeek-V3's) */
    if (!scoring && model_type && strcmp(model_type, "nemotron_h") == 0)
        scoring = "sigmoid";
    if (!scoring && llama4) /* Llama4Router: sigmoid of the top-k logits */
        scoring = "sigmoid";
    bool gpt_oss = model_type && strcmp(model_type, "gpt_oss") == 0;
    const cJSON *bias = cJSON_GetObjectItemCaseSensitive(c, "attention_bias");
    /* Qwen2 (Qwen2/2.5 and their Coder releases) states no attention_bias: transformers'
     * Qwen2Attention builds q_proj, k_proj and v_proj with bias=True and o_proj without */
    bool qwen2 = model_type && strcmp(model_type, "qwen2") == 0;
    bool attn_bias = cJSON_IsTrue(bias) || (qwen2 && !bias);
    if (qwen2 && !bias)
        note(notes, sizeof notes,
             "qwen2: q, k and v projections carry biases (transformers Qwen2Attention); the card's bias also counts "
             "an o_proj bias (hidden per layer).");
    const cJSON *tied = cJSON_GetObjectItemCaseSensitive(c, "tie_word_embeddings");
    hf_precision np;
    /* a multimodal release may state its quantization beside text_config, not in it */
    native_precision(cJSON_GetObjectItemCaseSensitive(c, "quantization_config") ? c : top, &np, notes, sizeof notes);
    if (max_ctx <= 0) {
        max_ctx = 0;
        note(notes, sizeof notes, "No max_position_embeddings in the config: max_context 0 (no limit checked).");
    }
    if (gpt_oss)
        note(notes, sizeof notes, "gpt-oss experts carry biases (expert_bias true).");
    if (glm4_moe)
        note(notes, sizeof notes,
             "glm4_moe: sigmoid scoring (transformers Glm4MoeTopkRouter); attention_bias puts biases on q/k/v only, "
             "the card's bias also counts an o_proj bias (hidden per layer); partial_rotary_factor and QK-norm "
             "weights are not modelled.");

    cJSON *card = cJSON_CreateObject();
    cJSON_AddStringToObject(card, "schema", "moesim-model/1");
    cJSON_AddStringToObject(card, "name", name);
    const char *orig = get_str(c, "_name_or_path");
    cJSON_AddStringToObject(card, "display_name", orig && *orig ? orig : name);
    char src[1024];
    snprintf(src, sizeof src, "%s %s (model_type %s), converted by moesim import-hf", format, path,
             model_type ? model_type : "not given");
    cJSON_AddStringToObject(card, "source", src);
    cJSON_AddNumberToObject(card, "hidden", (double)hidden);
    cJSON_AddNumberToObject(card, "layers", (double)layers);
    cJSON_AddNumberToObject(card, "vocab", (double)vocab);
    cJSON_AddBoolToObject(card, "tied_embeddings", cJSON_IsTrue(tied));
    cJSON_AddNumberToObject(card, "max_context", (double)max_ctx);
    cJSON *a = cJSON_AddObjectToObject(card, "attention");
    cJSON_AddStringToObject(a, "kind", mla ? "mla" : "gqa");
    cJSON_AddNumberToObject(a, "heads", (double)heads);
    cJSON_AddNumberToObject(a, "kv_heads", (double)(mla ? heads : kv_heads));
    cJSON_AddNumberToObject(a, "head_dim", (double)(mla ? v_dim : head_dim));
    if (mla) {
        cJSON_AddNumberToObject(a, "q_lora_rank", (double)q_lora);
        cJSON_AddNumberToObject(a, "kv_lora_rank", (double)kv_lora);
        cJSON_AddNumberToObject(a, "qk_nope_head_dim", (double)nope);
        cJSON_AddNumberToObject(a, "qk_rope_head_dim", (double)rope);
        cJSON_AddNumberToObject(a, "v_head_dim", (double)v_dim);
    }
    cJSON_AddNumberToObject(a, "local_window", (double)window);
    cJSON_AddNumberToObject(a, "local_layers", (double)local);
    cJSON_AddBoolToObject(a, "bias", attn_bias);
    if (hyb.output_gate)
        cJSON_AddBoolToObject(a, "output_gate", true);
    cJSON *f = cJSON_AddObjectToObject(card, "ffn");
    cJSON_AddStringToObject(f, "activation", relu2 ? "relu2" : "swiglu");
    cJSON_AddNumberToObject(f, "dense_layers", (double)dense_layers);
    cJSON_AddNumberToObject(f, "dense_intermediate", (double)(dense_layers > 0 ? dense_inter : 0));
    cJSON_AddNumberToObject(f, "moe_layers", (double)moe_layers);
    cJSON_AddNumberToObject(f, "experts", (double)experts);
    cJSON_AddNumberToObject(f, "top_k", (double)(experts > 0 ? top_k : 0));
    cJSON_AddNumberToObject(f, "expert_intermediate", (double)(experts > 0 ? moe_inter : 0));
    cJSON_AddNumberToObject(f, "shared_experts", (double)(experts > 0 ? shared : 0));
    cJSON_AddNumberToObject(f, "shared_intermediate", (double)(experts > 0 && shared > 0 ? shared_inter : 0));
    cJSON_AddStringToObject(f, "scoring", scoring && strcmp(scoring, "sigmoid") == 0 ? "sigmoid" : "softmax");
    cJSON_AddBoolToObject(f, "expert_bias", gpt_oss);
    cJSON_AddNumberToObject(card, "mtp_layers", (double)mtp);
    if (hyb.on)
        add_hybrid(card, &hyb, model_type);
    cJSON *p = cJSON_AddObjectToObject(card, "native_precision");
    cJSON_AddStringToObject(p, "experts", experts > 0 ? np.experts : np.dense);
    if (experts > 0 && shared > 0 && np.shared && strcmp(np.shared, np.experts) != 0)
        cJSON_AddStringToObject(p, "shared_experts", np.shared);
    cJSON_AddStringToObject(p, "dense", np.dense);
    cJSON_AddStringToObject(p, "head", np.head);
    cJSON_AddStringToObject(p, "source", np.source);
    note(notes, sizeof notes,
         "Check before use: fields a config does not state (QK-norm, per-layer patterns beyond those read) are "
         "not modelled; the published total/active figures are moesim's own derivation, not the owner's.");
    cJSON_AddStringToObject(card, "notes", notes);
    if (add_derived_counts(card, path, err) != SIM_OK) {
        cJSON_Delete(card);
        return NULL;
    }
    return card;
}

/* Replace (or add) dst[dkey] with a copy of src[skey], when src has it. */
static void copy_field(cJSON *dst, const char *dkey, const cJSON *src, const char *skey)
{
    const cJSON *it = cJSON_GetObjectItemCaseSensitive(src, skey);
    if (!it)
        return;
    cJSON_DeleteItemFromObjectCaseSensitive(dst, dkey);
    cJSON_AddItemToObject(dst, dkey, cJSON_Duplicate(it, true));
}

static void set_str(cJSON *o, const char *key, const char *v)
{
    cJSON_DeleteItemFromObjectCaseSensitive(o, key);
    cJSON_AddStringToObject(o, key, v);
}

/* DBRX's config (transformers DbrxConfig, databricks/dbrx-instruct) nests its fields: its
 * attribute_map reads hidden_size as d_model, num_attention_heads as n_heads, num_hidden_layers
 * as n_layers and max_position_embeddings as max_seq_len; attn_config holds kv_n_heads and
 * ffn_config the experts (ffn_hidden_size, moe_num_experts, moe_top_k, ffn_act_fn). Every
 * layer is MoE; the experts are GLUs (w1, v1, w2: SwiGLU with silu), routed by a softmax, with no
 * shared expert; no attention bias; head_dim is d_model / n_heads (DbrxAttention). */
static cJSON *from_dbrx(const cJSON *c, char *notes, size_t cap)
{
    cJSON *o = cJSON_Duplicate(c, true);
    copy_field(o, "hidden_size", c, "d_model");
    copy_field(o, "num_attention_heads", c, "n_heads");
    copy_field(o, "num_hidden_layers", c, "n_layers");
    copy_field(o, "max_position_embeddings", c, "max_seq_len");
    const cJSON *attn = cJSON_GetObjectItemCaseSensitive(c, "attn_config");
    const cJSON *ffn = cJSON_GetObjectItemCaseSensitive(c, "ffn_config");
    copy_field(o, "num_key_value_heads", attn, "kv_n_heads");
    copy_field(o, "intermediate_size", ffn, "ffn_hidden_size");
    copy_field(o, "num_local_experts", ffn, "moe_num_experts");
    copy_field(o, "num_experts_per_tok", ffn, "moe_top_k");
    const char *act = get_str(cJSON_GetObjectItemCaseSensitive(ffn, "ffn_act_fn"), "name");
    set_str(o, "hidden_act", act ? act : "silu"); /* DbrxFFNConfig's default ffn_act_fn: silu */
    note(notes, cap,
         "dbrx: nested layout read as transformers' DbrxConfig does (d_model, n_heads, n_layers, max_seq_len; "
         "attn_config.kv_n_heads; ffn_config.ffn_hidden_size, moe_num_experts, moe_top_k): every layer MoE, GLU "
         "experts, softmax router, no shared expert; head_dim = d_model / n_heads; clip_qkv and the bias-free "
         "LayerNorms (one weight vector each, counted as RMSNorm's) are not modelled otherwise.");
    return o;
}

/* Mistral's params.json, read as vLLM reads it (vllm/transformers_utils/configs/mistral.py @
 * 57db6562ae50, adapt_config_dict): _remap_general_mistral_args renames dim, n_layers, n_heads,
 * n_kv_heads, hidden_dim, activation and tied_embeddings (default false) and keeps
 * max_position_embeddings (default 128000); a moe block with shared experts is Mistral Large 3,
 * a DeepSeek-V3 model (model_type deepseek_v3) whose moe fields _remap_moe_args renames
 * (num_experts -> n_routed_experts, expert_hidden_dim -> moe_intermediate_size,
 * num_shared_experts -> n_shared_experts, first_k_dense_replace, num_experts_per_tok) with
 * softmax scoring; the MLA fields keep their names; quantization_config passes through and
 * quantization.qformat_weight fp8_e4m3 is per-tensor FP8. The context is max_seq_len when the
 * file gives one, else max_position_embeddings (with YaRN, the rotary table's length). */
static cJSON *from_mistral_params(const cJSON *c, char *notes, size_t cap, const char *file, sim_err *err)
{
    const cJSON *moe = cJSON_GetObjectItemCaseSensitive(c, "moe");
    long every = 1;
    if (cJSON_IsObject(moe) && get_int(moe, "route_every_n", &every, file, err) < 0)
        return NULL;
    if (every != 1) {
        sim_fail(err, SIM_EINPUT, "%s: moe.route_every_n %ld (a MoE layer every n layers) is not mapped: moesim "
                                  "reads only 1 from params.json", file, every);
        return NULL;
    }
    cJSON *o = cJSON_Duplicate(c, true);
    copy_field(o, "hidden_size", c, "dim");
    copy_field(o, "num_hidden_layers", c, "n_layers");
    copy_field(o, "num_attention_heads", c, "n_heads");
    copy_field(o, "num_key_value_heads", c, "n_kv_heads");
    copy_field(o, "intermediate_size", c, "hidden_dim");
    copy_field(o, "hidden_act", c, "activation");
    cJSON_DeleteItemFromObjectCaseSensitive(o, "tie_word_embeddings");
    cJSON_AddBoolToObject(o, "tie_word_embeddings", cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(c, "tied_embeddings")));
    if (cJSON_GetObjectItemCaseSensitive(c, "max_seq_len"))
        copy_field(o, "max_position_embeddings", c, "max_seq_len");
    else if (!cJSON_GetObjectItemCaseSensitive(c, "max_position_embeddings"))
        cJSON_AddNumberToObject(o, "max_position_embeddings", 128000);
    bool shared = false;
    if (cJSON_IsObject(moe)) {
        copy_field(o, "n_routed_experts", moe, "num_experts");
        copy_field(o, "num_experts_per_tok", moe, "num_experts_per_tok");
        copy_field(o, "moe_intermediate_size", moe, "expert_hidden_dim");
        copy_field(o, "n_shared_experts", moe, "num_shared_experts");
        copy_field(o, "first_k_dense_replace", moe, "first_k_dense_replace");
        set_str(o, "scoring_func", "softmax");
        long ns = 0;
        shared = get_int(moe, "num_shared_experts", &ns, file, err) > 0 && ns > 0;
    }
    set_str(o, "model_type", shared ? "deepseek_v3" : "mistral");
    const cJSON *q = cJSON_GetObjectItemCaseSensitive(c, "quantization");
    const char *qw = get_str(q, "qformat_weight");
    if (qw && strcmp(qw, "fp8_e4m3") == 0 && !cJSON_GetObjectItemCaseSensitive(c, "quantization_config")) {
        cJSON *qc = cJSON_AddObjectToObject(o, "quantization_config");
        cJSON_AddStringToObject(qc, "quant_method", "fp8");
    }
    note(notes, cap,
         shared ? "Mistral params.json (read as vLLM's adapt_config_dict does): a moe block with shared experts is "
                  "Mistral Large 3's DeepSeek-V3 architecture; softmax scoring (_remap_moe_args)."
                : "Mistral params.json (read as vLLM's adapt_config_dict does).");
    if (cJSON_GetObjectItemCaseSensitive(c, "max_seq_len"))
        note(notes, cap, "max_context is params.json max_seq_len.");
    else
        note(notes, cap, "params.json gives no max_seq_len: max_context is max_position_embeddings (with YaRN, the "
                         "rotary table's length, which can exceed the context the owner states).");
    if (cJSON_GetObjectItemCaseSensitive(c, "vision_encoder"))
        note(notes, cap, "The vision encoder (vision_encoder) is not modelled.");
    return o;
}

cJSON *sim_hf_to_card(const cJSON *c, const char *name, const char *path, sim_err *err)
{
    if (!cJSON_IsObject(c)) {
        sim_fail(err, SIM_EINPUT, "%s: a config.json must be a JSON object", path);
        return NULL;
    }
    char notes[1024] = "";
    const char *mt = get_str(c, "model_type");
    bool dbrx = !cJSON_GetObjectItemCaseSensitive(c, "hidden_size") &&
                ((mt && strcmp(mt, "dbrx") == 0) || cJSON_GetObjectItemCaseSensitive(c, "ffn_config"));
    if (dbrx || is_mistral_params(c)) {
        cJSON *flat = dbrx ? from_dbrx(c, notes, sizeof notes) : from_mistral_params(c, notes, sizeof notes, path, err);
        if (!flat)
            return NULL;
        cJSON *card = hf_to_card(flat, name, path, dbrx ? "Hugging Face config.json" : "Mistral params.json", notes,
                                 err);
        cJSON_Delete(flat);
        return card;
    }
    return hf_to_card(c, name, path, "Hugging Face config.json", notes, err);
}
