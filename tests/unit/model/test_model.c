/* test_model.c: model cards and sim/model.c. Every shipped card loads and reproduces its owner's
 * total/active figures within 3%; hand-computed KV and parameter counts; bad cards are refused
 * with messages that name the file and the field. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <dirent.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "base/jsonfile.h"
#include "model/model.h"

#ifndef MOESIM_SOURCE_DIR
#define MOESIM_SOURCE_DIR "."
#endif

/* How far a derived count may stray from the owner's rounded figure. */
#define PUBLISHED_TOLERANCE 0.03

static const char *repo_root(void)
{
    const char *home = getenv("MOESIM_HOME");
    return home && *home ? home : MOESIM_SOURCE_DIR;
}

static void card_path(const char *name, char *out, size_t cap)
{
    snprintf(out, cap, "%s/scenarios/models/%s.json", repo_root(), name);
}

static void load_shipped(const char *name, sim_model *m)
{
    char path[1024];
    sim_err err = {0};
    card_path(name, path, sizeof path);
    int rc = sim_model_load(m, path, &err);
    if (rc != SIM_OK)
        fail_msg("card %s does not load: %s", name, err.msg);
}

/* ---------------------------------------------------------------- (a) shipped cards */

static const char *const shipped_cards[] = {
    "mixtral-8x7b", "mixtral-8x22b", "deepseek-v3", "deepseek-v2-lite", "qwen3-30b-a3b",
    "qwen3-235b-a22b", "gpt-oss-20b", "gpt-oss-120b", "kimi-k2", "llama4-maverick", "dbrx",
    "llama3.1-8b", "llama3.1-70b", "llama3.1-405b",
    /* issue 17: each within 3% of its owner's total and active figures */
    "deepseek-r1", "kimi-k2-thinking", "mistral-large-3", "glm-4.5", "glm-4.5-air",
    /* issue 17: hybrid Mamba-2 / Gated DeltaNet models */
    "nemotron-3-nano", "qwen3-next-80b-a3b",
};
#define N_SHIPPED (sizeof shipped_cards / sizeof shipped_cards[0])

static void check_card_at(const char *path, const char *file_stem)
{
    sim_model m;
    sim_err err = {0};
    if (sim_model_load(&m, path, &err) != SIM_OK)
        fail_msg("%s does not load: %s", path, err.msg);
    if (strcmp(m.name, file_stem) != 0)
        fail_msg("%s: name '%s' does not match the file name", path, m.name);

    sim_param_counts p;
    sim_model_params(&m, &p);
    double total_err = p.total / m.published.total_params - 1;
    double active_err = p.active_comparable / m.published.active_params - 1;
    printf("  %-18s total %8.2fB (published %7.1fB, %+5.1f%%)   active %6.2fB (published %5.1fB, %+5.1f%%)%s\n",
           m.name, p.total / 1e9, m.published.total_params / 1e9, 100 * total_err, p.active_comparable / 1e9,
           m.published.active_params / 1e9, 100 * active_err,
           m.published.active_excludes_embedding ? "  [active w/o input embedding]" : "");
    if (m.published.active_rounded_to > 0)
        printf("  %-18s (the owner gives the active figure to the nearest %gB only)\n", "",
               m.published.active_rounded_to / 1e9);
    if (fabs(total_err) > PUBLISHED_TOLERANCE)
        fail_msg("%s: derived total %.3gB is %+.1f%% from the published %.3gB", m.name, p.total / 1e9,
                 100 * total_err, m.published.total_params / 1e9);
    /* An owner who gives the active figure only to a whole step ("3B") states no more than
     * that: the derived count must round to it (Qwen3-Next; the card says so). */
    double active_tol = fmax(PUBLISHED_TOLERANCE, 0.5 * m.published.active_rounded_to / m.published.active_params);
    if (fabs(active_err) > active_tol)
        fail_msg("%s: derived active %.3gB is %+.1f%% from the published %.3gB", m.name, p.active_comparable / 1e9,
                 100 * active_err, m.published.active_params / 1e9);
}

/* One registered test per shipped card; its initial state is the card's name. */
static void test_shipped_card(void **state)
{
    const char *name = *state;
    char path[1024];
    card_path(name, path, sizeof path);
    check_card_at(path, name);
}

/* A card added later without a test entry still has to load and match its published figures. */
static void test_every_card_in_directory(void **state)
{
    (void)state;
    char dir_path[1024];
    snprintf(dir_path, sizeof dir_path, "%s/scenarios/models", repo_root());
    DIR *dir = opendir(dir_path);
    assert_non_null(dir);
    int found = 0;
    for (struct dirent *e; (e = readdir(dir));) {
        size_t len = strlen(e->d_name);
        if (len < 6 || strcmp(e->d_name + len - 5, ".json") != 0)
            continue;
        char stem[256], path[1400];
        snprintf(stem, sizeof stem, "%.*s", (int)(len - 5), e->d_name);
        snprintf(path, sizeof path, "%s/%s", dir_path, e->d_name);
        bool listed = false;
        for (size_t i = 0; i < N_SHIPPED; i++)
            listed = listed || strcmp(stem, shipped_cards[i]) == 0;
        if (!listed)
            check_card_at(path, stem);
        found++;
    }
    closedir(dir);
    assert_true(found >= (int)N_SHIPPED);
}

/* ---------------------------------------------------------------- (b) hand computations */

static void test_mixtral_kv_per_token(void **state)
{
    (void)state;
    sim_model m;
    load_shipped("mixtral-8x7b", &m);
    /* 32 layers x (K and V) x 8 KV heads x head_dim 128 */
    double expected = 32.0 * 2 * 8 * 128;
    assert_true(expected == 65536);
    assert_true(sim_model_kv_elems_per_token(&m) == expected);
    /* no sliding window: a 1000-token context holds 1000 tokens in every layer */
    assert_true(sim_model_kv_elems(&m, 1000) == expected * 1000);
}

static void test_deepseek_v3_kv_per_token(void **state)
{
    (void)state;
    sim_model m;
    load_shipped("deepseek-v3", &m);
    /* MLA caches one latent per layer: kv_lora_rank 512 + the shared RoPE key 64, over 61 layers
     * (the MTP layer is not a decoder layer) */
    double expected = 61.0 * (512 + 64);
    assert_true(expected == 35136);
    assert_true(sim_model_kv_elems_per_token_layer(&m) == 576);
    assert_true(sim_model_kv_elems_per_token(&m) == expected);
}

static void test_gpt_oss_20b_kv_with_sliding_window(void **state)
{
    (void)state;
    sim_model m;
    load_shipped("gpt-oss-20b", &m);
    /* 12 full-attention layers hold all 4096 tokens; the 12 sliding layers hold only the last 128.
     * Each layer caches K and V for 8 KV heads of head_dim 64. */
    double per_layer_token = 2.0 * 8 * 64;
    double expected = 12 * per_layer_token * 4096 + 12 * per_layer_token * 128;
    assert_true(sim_model_kv_elems(&m, 4096) == expected);
    /* below the window every layer holds the whole context */
    assert_true(sim_model_kv_elems(&m, 100) == 24 * per_layer_token * 100);
}

static void test_mixtral_expert_params(void **state)
{
    (void)state;
    sim_model m;
    sim_param_counts p;
    load_shipped("mixtral-8x7b", &m);
    sim_model_params(&m, &p);
    /* SwiGLU expert: gate and up (4096 -> 14336) and down (14336 -> 4096) */
    double expert = 3.0 * 4096 * 14336;
    assert_true(p.expert_each == expert);
    /* 8 experts in each of 32 layers; 2 of them per token */
    assert_true(p.routed_experts == 32.0 * 8 * expert);
    assert_true(p.router == 32.0 * 4096 * 8);
}

static void test_deepseek_v3_mla_params_per_layer(void **state)
{
    (void)state;
    sim_model m;
    sim_param_counts p;
    load_shipped("deepseek-v3", &m);
    sim_model_params(&m, &p);
    double q_down = 7168.0 * 1536;            /* hidden -> q_lora_rank */
    double q_norm = 1536;                     /* RMSNorm on the query latent */
    double q_up = 1536.0 * 128 * (128 + 64);  /* latent -> 128 heads x (nope 128 + rope 64) */
    double kv_down = 7168.0 * (512 + 64);     /* hidden -> KV latent 512 + shared RoPE key 64 */
    double kv_norm = 512;                     /* RMSNorm on the KV latent */
    double kv_up = 512.0 * 128 * (128 + 128); /* latent -> 128 heads x (K nope 128 + V 128) */
    double out = 128.0 * 128 * 7168;          /* 128 heads x v 128 -> hidden */
    double expected = q_down + q_norm + q_up + kv_down + kv_norm + kv_up + out;
    assert_true(expected == 187107328);
    assert_true(p.attn_per_layer == expected);
    assert_true(p.attention == 61 * expected);
}

/* models.md section 3: elements per token over the full-attention layers (local-window layers
 * are left out there, since they hold a bounded number of tokens). */
static void test_kv_matches_reference_table(void **state)
{
    (void)state;
    static const struct {
        const char *name;
        double elems;
    } table[] = {
        {"mixtral-8x7b", 65536},    {"mixtral-8x22b", 114688},   {"deepseek-v2-lite", 15552},
        {"deepseek-v3", 35136},     {"kimi-k2", 35136},          {"qwen3-30b-a3b", 49152},
        {"qwen3-235b-a22b", 96256}, {"gpt-oss-20b", 12288},      {"gpt-oss-120b", 18432},
        {"llama4-maverick", 24576}, {"dbrx", 81920},             {"llama3.1-8b", 65536},
        {"llama3.1-70b", 163840},   {"llama3.1-405b", 258048},
    };
    for (size_t i = 0; i < sizeof table / sizeof table[0]; i++) {
        sim_model m;
        load_shipped(table[i].name, &m);
        double full_layers = m.layers - m.attn.local_layers;
        double got = full_layers * sim_model_kv_elems_per_token_layer(&m);
        if (got != table[i].elems)
            fail_msg("%s: %.0f KV elements per token over full layers, models.md says %.0f", table[i].name, got,
                     table[i].elems);
    }
}

static void test_moe_and_dense(void **state)
{
    (void)state;
    sim_model m;
    sim_param_counts p;
    load_shipped("llama3.1-8b", &m);
    assert_false(sim_model_is_moe(&m));
    sim_model_params(&m, &p);
    assert_true(p.total == p.active);
    assert_true(p.routed_experts == 0 && p.router == 0);
    load_shipped("llama4-maverick", &m);
    assert_true(sim_model_is_moe(&m));
    assert_int_equal(m.native_experts, SIM_WF_BF16);
    load_shipped("gpt-oss-120b", &m);
    assert_int_equal(m.native_experts, SIM_WF_MXFP4);
    assert_int_equal(m.native_dense, SIM_WF_BF16);
    /* shared experts default to the routed experts' format ... */
    assert_int_equal(m.native_shared, SIM_WF_MXFP4);
    load_shipped("deepseek-v3", &m);
    assert_int_equal(m.native_shared, SIM_WF_FP8);
    /* ... unless the checkpoint keeps them wider: Kimi K2 Thinking quantizes only the routed ones */
    load_shipped("kimi-k2-thinking", &m);
    assert_int_equal(m.native_experts, SIM_WF_INT4_G32);
    assert_int_equal(m.native_shared, SIM_WF_BF16);
}

/* ---------------------------------------------------------------- (c) bad input */

typedef struct {
    char dir[64];
    char path[128];
} scratch;

static int make_scratch(void **state)
{
    scratch *s = calloc(1, sizeof *s);
    if (!s)
        return -1;
    snprintf(s->dir, sizeof s->dir, "/tmp/moesim-test-model-XXXXXX");
    if (!mkdtemp(s->dir)) {
        free(s);
        return -1;
    }
    snprintf(s->path, sizeof s->path, "%s/card.json", s->dir);
    *state = s;
    return 0;
}

static int remove_scratch(void **state)
{
    scratch *s = *state;
    unlink(s->path);
    rmdir(s->dir);
    free(s);
    return 0;
}

static void write_text(const char *path, const char *text)
{
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fputs(text, f);
    fclose(f);
}

/* Load a shipped card as JSON, so a test can break one field of an otherwise valid card. */
static cJSON *shipped_json(const char *name)
{
    char path[1024];
    sim_err err = {0};
    card_path(name, path, sizeof path);
    cJSON *json = sim_json_load(path, &err);
    if (!json)
        fail_msg("%s", err.msg);
    return json;
}

/* Write `json` to the scratch card, load it, and expect SIM_EINPUT with every `needles` in the message. */
static void expect_refused(scratch *s, cJSON *json, const char *const *needles)
{
    sim_err err = {0};
    sim_model m;
    assert_int_equal(sim_json_save(s->path, json, &err), SIM_OK);
    cJSON_Delete(json);
    int rc = sim_model_load(&m, s->path, &err);
    if (rc != SIM_EINPUT)
        fail_msg("expected SIM_EINPUT, got %d (%s)", rc, err.msg);
    for (const char *const *n = needles; *n; n++)
        if (!strstr(err.msg, *n))
            fail_msg("message lacks \"%s\": %s", *n, err.msg);
}

static void test_malformed_json_names_line_and_column(void **state)
{
    scratch *s = *state;
    sim_err err = {0};
    sim_model m;
    /* the value of "name" is missing: cJSON stops at the '}' on line 3, column 11 */
    write_text(s->path, "{\n  \"schema\": \"moesim-model/1\",\n  \"name\": }\n");
    assert_int_equal(sim_model_load(&m, s->path, &err), SIM_EINPUT);
    char where[256];
    snprintf(where, sizeof where, "%s:3:11:", s->path);
    if (strncmp(err.msg, where, strlen(where)) != 0)
        fail_msg("expected a message starting \"%s\", got: %s", where, err.msg);
}

static void test_unknown_field_is_named(void **state)
{
    cJSON *card = shipped_json("mixtral-8x7b");
    cJSON_AddNumberToObject(cJSON_GetObjectItem(card, "attention"), "heds", 32);
    expect_refused(*state, card, (const char *const[]){"unknown field 'attention.heds'", NULL});

    card = shipped_json("mixtral-8x7b");
    cJSON_AddBoolToObject(card, "tied_embedding", false);
    expect_refused(*state, card, (const char *const[]){"unknown field 'tied_embedding'", NULL});
}

static void test_top_k_above_experts(void **state)
{
    cJSON *card = shipped_json("mixtral-8x7b");
    cJSON_ReplaceItemInObject(cJSON_GetObjectItem(card, "ffn"), "top_k", cJSON_CreateNumber(9));
    scratch *s = *state;
    expect_refused(s, card, (const char *const[]){s->path, "'ffn.top_k'", "(got 9 > 8)", NULL});
}

static void test_missing_field_is_named(void **state)
{
    cJSON *card = shipped_json("deepseek-v3");
    cJSON_DeleteItemFromObject(cJSON_GetObjectItem(card, "ffn"), "experts");
    expect_refused(*state, card, (const char *const[]){"'ffn.experts' is missing", NULL});

    card = shipped_json("deepseek-v3");
    cJSON_DeleteItemFromObject(cJSON_GetObjectItem(card, "attention"), "kv_lora_rank");
    expect_refused(*state, card, (const char *const[]){"'attention.kv_lora_rank' is missing", NULL});

    card = shipped_json("deepseek-v3");
    cJSON_DeleteItemFromObject(card, "hidden");
    expect_refused(*state, card, (const char *const[]){"'hidden' is missing", NULL});
}

static void test_inconsistent_cards(void **state)
{
    cJSON *card = shipped_json("deepseek-v3");
    cJSON_ReplaceItemInObject(cJSON_GetObjectItem(card, "ffn"), "moe_layers", cJSON_CreateNumber(57));
    expect_refused(*state, card, (const char *const[]){"must equal layers (got 3 + 57 != 61)", NULL});

    card = shipped_json("mixtral-8x7b");
    cJSON_ReplaceItemInObject(cJSON_GetObjectItem(card, "attention"), "kind", cJSON_CreateString("mqa"));
    expect_refused(*state, card, (const char *const[]){"'attention.kind' must be one of gqa, mla (got 'mqa')", NULL});

    card = shipped_json("mixtral-8x7b");
    cJSON_AddNumberToObject(cJSON_GetObjectItem(card, "attention"), "kv_lora_rank", 512);
    expect_refused(*state, card, (const char *const[]){"'attention.kv_lora_rank' applies only to", NULL});

    card = shipped_json("gpt-oss-20b");
    cJSON_ReplaceItemInObject(cJSON_GetObjectItem(card, "attention"), "local_layers", cJSON_CreateNumber(25));
    expect_refused(*state, card, (const char *const[]){"'attention.local_layers' must be <= the attention layers (got 25 > 24)", NULL});

    card = shipped_json("gpt-oss-20b");
    cJSON_ReplaceItemInObject(cJSON_GetObjectItem(card, "native_precision"), "experts", cJSON_CreateString("fp6"));
    expect_refused(*state, card, (const char *const[]){"'native_precision.experts' must be one of", NULL});

    card = shipped_json("deepseek-v3");
    cJSON_AddStringToObject(cJSON_GetObjectItem(card, "native_precision"), "shared_experts", "int3");
    expect_refused(*state, card, (const char *const[]){"'native_precision.shared_experts' must be one of", NULL});

    /* a shared-expert format on a card without shared experts is a mistake, not a no-op */
    card = shipped_json("mixtral-8x7b");
    cJSON_AddStringToObject(cJSON_GetObjectItem(card, "native_precision"), "shared_experts", "bf16");
    expect_refused(*state, card,
                   (const char *const[]){"'native_precision.shared_experts' applies only to cards with shared experts",
                                         NULL});

    /* native precision is per tensor class, with its source: neither may be left out */
    card = shipped_json("deepseek-v3");
    cJSON_DeleteItemFromObject(cJSON_GetObjectItem(card, "native_precision"), "head");
    expect_refused(*state, card, (const char *const[]){"native_precision.head", "missing", NULL});

    card = shipped_json("deepseek-v3");
    cJSON_DeleteItemFromObject(cJSON_GetObjectItem(card, "native_precision"), "source");
    expect_refused(*state, card, (const char *const[]){"native_precision.source", "missing", NULL});

    card = shipped_json("llama3.1-8b");
    cJSON_ReplaceItemInObject(card, "hidden", cJSON_CreateNumber(0));
    expect_refused(*state, card, (const char *const[]){"'hidden' must be >= 1 (got 0)", NULL});

    card = shipped_json("llama3.1-8b");
    cJSON_ReplaceItemInObject(card, "layers", cJSON_CreateString("32"));
    expect_refused(*state, card, (const char *const[]){"'layers' must be an integer", NULL});
}

/* The routing section: one law with its source; the shipped cards' values load as written. */
static void test_routing_section(void **state)
{
    sim_model m;
    load_shipped("mixtral-8x7b", &m);
    assert_true(m.routing.given);
    assert_true(m.routing.imbalance == 1.5);
    assert_true(m.routing.skew < 0);
    load_shipped("deepseek-v3", &m);
    assert_true(m.routing.skew == 0.69);
    assert_true(m.routing.imbalance == 0);
    load_shipped("qwen3-30b-a3b", &m); /* none published: a source, no figure */
    assert_true(m.routing.given && m.routing.imbalance == 0 && m.routing.skew < 0);
    load_shipped("llama3.1-8b", &m);
    assert_false(m.routing.given);

    cJSON *card = shipped_json("mixtral-8x7b");
    cJSON_AddNumberToObject(cJSON_GetObjectItem(card, "routing"), "skew", 0.5);
    expect_refused(*state, card, (const char *const[]){"'routing.imbalance' and 'routing.skew' are both set", NULL});

    card = shipped_json("mixtral-8x7b");
    cJSON_ReplaceItemInObject(cJSON_GetObjectItem(card, "routing"), "imbalance", cJSON_CreateNumber(0.9));
    expect_refused(*state, card, (const char *const[]){"'routing.imbalance' must be a finite ratio >= 1", "got 0.9", NULL});

    card = shipped_json("mixtral-8x7b");
    cJSON_DeleteItemFromObject(cJSON_GetObjectItem(card, "routing"), "source");
    expect_refused(*state, card, (const char *const[]){"'routing.source' is missing", NULL});

    card = shipped_json("mixtral-8x7b");
    cJSON_AddNumberToObject(cJSON_GetObjectItem(card, "routing"), "imbalanse", 2);
    expect_refused(*state, card, (const char *const[]){"unknown field 'routing.imbalanse'", NULL});

    card = shipped_json("llama3.1-8b");
    cJSON *r = cJSON_AddObjectToObject(card, "routing");
    cJSON_AddNumberToObject(r, "imbalance", 1.5);
    cJSON_AddStringToObject(r, "source", "a test");
    expect_refused(*state, card, (const char *const[]){"'routing.imbalance' applies only to MoE cards", NULL});

    card = shipped_json("mixtral-8x7b"); /* every token reaching every expert has no imbalance */
    cJSON_ReplaceItemInObject(cJSON_GetObjectItem(card, "ffn"), "top_k", cJSON_CreateNumber(8));
    expect_refused(*state, card, (const char *const[]){"'routing.imbalance' must be 1", NULL});
}

/* The speculative section: published MTP acceptance per draft depth, each within [1, depth + 1]
 * tokens per step, only on cards with an MTP module. */
static void test_speculative_section(void **state)
{
    sim_model m;
    load_shipped("deepseek-r1", &m);
    assert_int_equal(m.spec.n, 5);
    assert_true(m.spec.accepted[0] == 1.92 && m.spec.accepted[2] == 2.82);
    load_shipped("deepseek-v3", &m);
    assert_int_equal(m.spec.n, 1);
    load_shipped("kimi-k2", &m);
    assert_int_equal(m.spec.n, 0);

    cJSON *card = shipped_json("deepseek-r1");
    cJSON_ReplaceItemInArray(cJSON_GetObjectItem(cJSON_GetObjectItem(card, "speculative"), "accepted_tokens"), 1,
                             cJSON_CreateNumber(3.5));
    expect_refused(*state, card, (const char *const[]){"'speculative.accepted_tokens[1]' must be a number in [1, 3]", NULL});

    card = shipped_json("deepseek-r1");
    cJSON_ReplaceItemInArray(cJSON_GetObjectItem(cJSON_GetObjectItem(card, "speculative"), "accepted_tokens"), 0,
                             cJSON_CreateNumber(0.9));
    expect_refused(*state, card, (const char *const[]){"'speculative.accepted_tokens[0]'", NULL});

    card = shipped_json("deepseek-r1");
    cJSON_DeleteItemFromObject(cJSON_GetObjectItem(card, "speculative"), "source");
    expect_refused(*state, card, (const char *const[]){"'speculative.source' is missing", NULL});

    card = shipped_json("deepseek-r1");
    cJSON_ReplaceItemInObject(cJSON_GetObjectItem(card, "speculative"), "accepted_tokens", cJSON_CreateArray());
    expect_refused(*state, card, (const char *const[]){"'speculative.accepted_tokens' must be an array of 1 to 16", NULL});

    card = shipped_json("deepseek-r1");
    cJSON_ReplaceItemInObject(card, "mtp_layers", cJSON_CreateNumber(0));
    expect_refused(*state, card, (const char *const[]){"'speculative' applies only to cards with an MTP module", NULL});
}

/* ---------------------------------------------------------------- (c) hybrid models */

/* Nemotron 3 Nano by hand (config of nvidia/NVIDIA-Nemotron-3-Nano-30B-A3B-BF16):
 * hidden 2688, Mamba-2 heads 64 x head_dim 64 (d_in 4096), groups 8 x state 128 (g 1024),
 * conv_dim 4096 + 2048 = 6144, conv width 4 with biases. */
static void test_nemotron_mamba_layer(void **state)
{
    (void)state;
    sim_model m;
    load_shipped("nemotron-3-nano", &m);
    assert_true(m.hybrid.on);
    assert_int_equal(m.hybrid.attn_layers, 6);
    assert_int_equal(m.hybrid.ssm_layers, 23);
    assert_int_equal(m.hybrid.combo[SIM_MIX_SSM][SIM_FFN_NONE], 23);
    assert_int_equal(m.hybrid.combo[SIM_MIX_NONE][SIM_FFN_MOE], 23);
    assert_int_equal(m.hybrid.combo[SIM_MIX_ATTN][SIM_FFN_NONE], 6);
    sim_param_counts p;
    sim_model_params(&m, &p);
    double in_proj = 2688.0 * (2 * 4096 + 2 * 1024 + 64); /* x, z, B, C, dt */
    double conv = 6144.0 * 4 + 6144;                    /* taps and biases */
    double per_head = 3 * 64.0;                          /* A_log, D, dt_bias */
    double norm = 4096.0, out_proj = 4096.0 * 2688;
    assert_true(p.ssm_per_layer == in_proj + conv + per_head + norm + out_proj);
    assert_true(p.ssm_per_layer == 38742208.0);
    /* attention on 6 layers only: q and o 2688 x 32 x 128, k and v 2688 x 2 x 128 */
    assert_true(p.attention == 6 * (2.0 * 2688 * 32 * 128 + 2.0 * 2688 * 2 * 128));
    /* one norm per block (52) and the final one */
    assert_true(p.norms == 53.0 * 2688);
    /* KV only in the 6 attention layers: K and V of 2 heads x 128 */
    assert_true(sim_model_kv_elems_per_token(&m) == 6 * 2 * 2 * 128.0);
    assert_true(sim_model_kv_elems(&m, 1000) == 6 * 2 * 2 * 128.0 * 1000);
    /* state per Mamba layer: 64 x 64 x 128 scan state, 3 x 6144 convolution inputs */
    assert_true(sim_model_ssm_state_elems(&m) == 524288.0);
    assert_true(sim_model_ssm_conv_elems(&m) == 18432.0);
}

/* Qwen3-Next by hand: hidden 2048; Gated DeltaNet value heads 32 x 128 (d_in 4096), key heads
 * 16 x 128 (g 2048), conv_dim 8192, no conv bias; gated attention 16 x 256 with 2 KV heads. */
static void test_qwen3_next_layers(void **state)
{
    (void)state;
    sim_model m;
    load_shipped("qwen3-next-80b-a3b", &m);
    assert_int_equal(m.hybrid.attn_layers, 12);
    assert_int_equal(m.hybrid.ssm_layers, 36);
    assert_int_equal(m.hybrid.combo[SIM_MIX_SSM][SIM_FFN_MOE], 36);
    assert_int_equal(m.hybrid.combo[SIM_MIX_ATTN][SIM_FFN_MOE], 12);
    assert_int_equal(m.hybrid.mixers[3], 'A'); /* (i + 1) % 4 == 0 */
    assert_int_equal(m.hybrid.mixers[0], 'S');
    sim_param_counts p;
    sim_model_params(&m, &p);
    double qkvz = 2048.0 * (2 * 2048 + 2 * 4096), ba = 2048.0 * 2 * 32;
    double conv = 8192.0 * 4, per_head = 2 * 32.0, norm = 128.0, out = 4096.0 * 2048;
    assert_true(p.ssm_per_layer == qkvz + ba + conv + per_head + norm + out);
    /* queries and their gate (2 x 16 x 256), K and V (2 x 256 each), output */
    assert_true(p.attn_per_layer == 2048.0 * 16 * 256 * 2 + 2 * 2048.0 * 2 * 256 + 16 * 256 * 2048.0);
    assert_true(sim_model_kv_elems_per_token(&m) == 12 * 2 * 2 * 256.0);
    assert_true(sim_model_ssm_state_elems(&m) == 32 * 128 * 128.0); /* a 128 x 128 state per value head */
    assert_true(sim_model_ssm_conv_elems(&m) == 8192 * 3.0);
}

static cJSON *hybrid_of(cJSON *card)
{
    return cJSON_GetObjectItem(card, "hybrid");
}

static void test_hybrid_refusals(void **state)
{
    cJSON *card = shipped_json("nemotron-3-nano");
    cJSON_ReplaceItemInObject(hybrid_of(card), "mixers", cJSON_CreateString("SA"));
    expect_refused(*state, card, (const char *const[]){"'hybrid.mixers'", "one character per layer (52; got 2)", NULL});

    card = shipped_json("nemotron-3-nano");
    char mixers[64];
    snprintf(mixers, sizeof mixers, "%s", cJSON_GetObjectItem(hybrid_of(card), "mixers")->valuestring);
    mixers[0] = 'M'; /* the config's letter, not the card's */
    cJSON_ReplaceItemInObject(hybrid_of(card), "mixers", cJSON_CreateString(mixers));
    expect_refused(*state, card, (const char *const[]){"'hybrid.mixers' has 'M' at layer 0", "A (attention)", NULL});

    card = shipped_json("nemotron-3-nano"); /* layer 1 holds an MoE only: take it away */
    char ffns[64];
    snprintf(ffns, sizeof ffns, "%s", cJSON_GetObjectItem(hybrid_of(card), "ffns")->valuestring);
    ffns[1] = '-';
    cJSON_ReplaceItemInObject(hybrid_of(card), "ffns", cJSON_CreateString(ffns));
    expect_refused(*state, card, (const char *const[]){"both '-' at layer 1", NULL});

    card = shipped_json("nemotron-3-nano");
    cJSON_ReplaceItemInObject(cJSON_GetObjectItem(card, "ffn"), "moe_layers", cJSON_CreateNumber(52));
    expect_refused(*state, card, (const char *const[]){"must count the E and D layers of hybrid.ffns (got 52 and 0)", NULL});

    card = shipped_json("nemotron-3-nano");
    cJSON_ReplaceItemInObject(cJSON_GetObjectItem(hybrid_of(card), "ssm"), "groups", cJSON_CreateNumber(7));
    expect_refused(*state, card, (const char *const[]){"'hybrid.ssm.groups' must divide hybrid.ssm.heads", NULL});

    card = shipped_json("nemotron-3-nano");
    cJSON_AddNumberToObject(cJSON_GetObjectItem(hybrid_of(card), "ssm"), "d_state", 128);
    expect_refused(*state, card, (const char *const[]){"unknown field 'hybrid.ssm.d_state'", NULL});

    card = shipped_json("nemotron-3-nano");
    cJSON_ReplaceItemInObject(cJSON_GetObjectItem(hybrid_of(card), "ssm"), "kind", cJSON_CreateString("mamba1"));
    expect_refused(*state, card, (const char *const[]){"'hybrid.ssm.kind' must be one of mamba2, gated_deltanet", NULL});

    card = shipped_json("nemotron-3-nano");
    cJSON_DeleteItemFromObject(hybrid_of(card), "state_format");
    expect_refused(*state, card, (const char *const[]){"hybrid.state_format", "missing", NULL});

    card = shipped_json("nemotron-3-nano"); /* no S layer: not a hybrid */
    char plain[64];
    snprintf(plain, sizeof plain, "%s", cJSON_GetObjectItem(hybrid_of(card), "mixers")->valuestring);
    for (char *c = plain; *c; c++)
        *c = *c == 'S' ? 'A' : *c;
    cJSON_ReplaceItemInObject(hybrid_of(card), "mixers", cJSON_CreateString(plain));
    expect_refused(*state, card, (const char *const[]){"'hybrid.mixers' has no S layer", NULL});

    card = shipped_json("deepseek-v3");
    cJSON_AddTrueToObject(cJSON_GetObjectItem(card, "attention"), "output_gate");
    expect_refused(*state, card, (const char *const[]){"'attention.output_gate' applies only to", NULL});

    card = shipped_json("qwen3-next-80b-a3b");
    cJSON_ReplaceItemInObject(cJSON_GetObjectItem(card, "published"), "active_rounded_to", cJSON_CreateNumber(-1));
    expect_refused(*state, card, (const char *const[]){"'published.active_rounded_to' must be between 0", NULL});
}

static void test_missing_file(void **state)
{
    scratch *s = *state;
    sim_err err = {0};
    sim_model m;
    char path[256];
    snprintf(path, sizeof path, "%s/no-such-card.json", s->dir);
    assert_int_equal(sim_model_load(&m, path, &err), SIM_EINPUT);
    assert_non_null(strstr(err.msg, path));
}

/* ---------------------------------------------------------------- precision */

static void test_precision_bytes_and_names(void **state)
{
    (void)state;
    assert_true(sim_wformat_bytes(SIM_WF_BF16) == 2);
    assert_true(sim_wformat_bytes(SIM_WF_FP8) == 1 + 4.0 / (128 * 128));
    assert_true(sim_wformat_bytes(SIM_WF_MXFP4) == 0.5 + 1.0 / 32);
    assert_true(sim_wformat_bytes(SIM_WF_NVFP4) == 0.5 + 1.0 / 16);
    assert_true(sim_wformat_bytes(SIM_WF_INT4) == 0.5 + 2.0 / 128 + 0.5 / 128);
    /* Kimi K2 Thinking's experts: 4 bits + a BF16 scale per 32 = 4.5 bits */
    assert_true(sim_wformat_bytes(SIM_WF_INT4_G32) == 0.5625);
    assert_int_equal(sim_wformat_bits(SIM_WF_INT4_G32), 4);
    assert_true(sim_wformat_is_packed(SIM_WF_INT4_G32));
    assert_false(sim_wformat_is_gguf(SIM_WF_INT4_G32));
    assert_int_equal(sim_wformat_bits(SIM_WF_NVFP4), 4);
    assert_true(sim_wformat_is_packed(SIM_WF_INT4));
    assert_false(sim_wformat_is_packed(SIM_WF_FP8));

    sim_wformat f;
    sim_dtype t;
    assert_int_equal(sim_wformat_parse("NVFP4", &f), 0);
    assert_int_equal(f, SIM_WF_NVFP4);
    assert_int_equal(sim_wformat_parse("fp16", &f), -1);
    assert_int_equal(sim_dtype_parse("Tf32", &t), 0);
    assert_int_equal(t, SIM_DT_TF32);
    for (int i = 0; i < SIM_WF_COUNT; i++) {
        assert_int_equal(sim_wformat_parse(sim_wformat_name(i), &f), 0);
        assert_int_equal(f, i);
        assert_non_null(strstr(sim_wformat_names(), sim_wformat_name(i)));
    }

    /* NVFP4 runs in FP4 where the device has it, then falls back through FP8 to 16-bit */
    const int *chain = sim_wformat_compute_chain(SIM_WF_NVFP4);
    const int expected[] = {SIM_DT_FP4, SIM_DT_FP8, SIM_DT_BF16, SIM_DT_FP16, SIM_DT_FP32, -1};
    for (int i = 0; expected[i] != -1 || chain[i] != -1; i++)
        assert_int_equal(chain[i], expected[i]);
    assert_int_equal(sim_wformat_compute_chain(SIM_WF_INT4)[0], SIM_DT_BF16); /* W4A16 */
    assert_ptr_equal(sim_wformat_compute_chain(SIM_WF_INT4_G32), sim_wformat_compute_chain(SIM_WF_INT4));
}

#define CARD_TEST(name) {"card " name, test_shipped_card, NULL, NULL, (void *)name}

int main(void)
{
    const struct CMUnitTest tests[] = {
        CARD_TEST("mixtral-8x7b"),
        CARD_TEST("mixtral-8x22b"),
        CARD_TEST("deepseek-v3"),
        CARD_TEST("deepseek-v2-lite"),
        CARD_TEST("qwen3-30b-a3b"),
        CARD_TEST("qwen3-235b-a22b"),
        CARD_TEST("gpt-oss-20b"),
        CARD_TEST("gpt-oss-120b"),
        CARD_TEST("kimi-k2"),
        CARD_TEST("llama4-maverick"),
        CARD_TEST("dbrx"),
        CARD_TEST("llama3.1-8b"),
        CARD_TEST("llama3.1-70b"),
        CARD_TEST("llama3.1-405b"),
        CARD_TEST("deepseek-r1"),
        CARD_TEST("kimi-k2-thinking"),
        CARD_TEST("mistral-large-3"),
        CARD_TEST("glm-4.5"),
        CARD_TEST("glm-4.5-air"),
        CARD_TEST("nemotron-3-nano"),
        CARD_TEST("qwen3-next-80b-a3b"),
        cmocka_unit_test(test_every_card_in_directory),
        cmocka_unit_test(test_mixtral_kv_per_token),
        cmocka_unit_test(test_deepseek_v3_kv_per_token),
        cmocka_unit_test(test_gpt_oss_20b_kv_with_sliding_window),
        cmocka_unit_test(test_mixtral_expert_params),
        cmocka_unit_test(test_deepseek_v3_mla_params_per_layer),
        cmocka_unit_test(test_kv_matches_reference_table),
        cmocka_unit_test(test_moe_and_dense),
        cmocka_unit_test_setup_teardown(test_malformed_json_names_line_and_column, make_scratch, remove_scratch),
        cmocka_unit_test_setup_teardown(test_unknown_field_is_named, make_scratch, remove_scratch),
        cmocka_unit_test_setup_teardown(test_top_k_above_experts, make_scratch, remove_scratch),
        cmocka_unit_test_setup_teardown(test_missing_field_is_named, make_scratch, remove_scratch),
        cmocka_unit_test_setup_teardown(test_inconsistent_cards, make_scratch, remove_scratch),
        cmocka_unit_test_setup_teardown(test_routing_section, make_scratch, remove_scratch),
        cmocka_unit_test_setup_teardown(test_speculative_section, make_scratch, remove_scratch),
        cmocka_unit_test_setup_teardown(test_missing_file, make_scratch, remove_scratch),
        cmocka_unit_test(test_precision_bytes_and_names),
        cmocka_unit_test(test_nemotron_mamba_layer),
        cmocka_unit_test(test_qwen3_next_layers),
        cmocka_unit_test_setup_teardown(test_hybrid_refusals, make_scratch, remove_scratch),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
