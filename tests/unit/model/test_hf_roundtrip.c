/* test_hf_roundtrip.c: every shipped card round-trips from its published config.json
 * (issue 17): tests/fixtures/hf/<card>.config.json, a public copy of the config the card was
 * made from (provenance in tests/fixtures/hf/SOURCES.md), converted by sim/model/hf_import.c,
 * gives a model whose derived figures equal the shipped card's: total and active weights, the
 * layer pattern and its kinds, experts, top-k and shared experts, the attention's dimensions,
 * KV bytes per token, vocab, and the native precision of each tensor class. A card without a
 * fixture must be listed in SOURCES.md as not round-trippable, with its reason; the test prints
 * those. Every difference is named: the card, the field, both values. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/jsonfile.h"
#include "base/readfile.h"
#include "model/hf_import.h"
#include "model/model.h"
#include "model/registry.h"

#define MAX_CARDS 128

/* Differences found so far, one line each, reported together at the end. */
static char report[16384];
static int n_diffs;

static void differ(const char *card, const char *field, const char *got, const char *want)
{
    size_t n = strlen(report);
    snprintf(report + n, sizeof report - n, "  %s: %s: imported %s, shipped %s\n", card, field, got, want);
    n_diffs++;
}

static void cmp_num(const char *card, const char *field, double got, double want)
{
    /* the counts are sums of whole products: equal cards give the same double */
    if (fabs(got - want) <= 1e-12 * fmax(1.0, fabs(want)))
        return;
    char g[64], w[64];
    snprintf(g, sizeof g, "%.17g", got);
    snprintf(w, sizeof w, "%.17g", want);
    differ(card, field, g, w);
}

static void cmp_str(const char *card, const char *field, const char *got, const char *want)
{
    if (strcmp(got, want) != 0)
        differ(card, field, got, want);
}

static void cmp_fmt(const char *card, const char *field, sim_wformat got, sim_wformat want)
{
    cmp_str(card, field, sim_wformat_name(got), sim_wformat_name(want));
}

/* The figures the issue names, field by field. */
static void compare(const char *card, const sim_model *g, const sim_model *w)
{
    sim_param_counts pg, pw;
    sim_model_params(g, &pg);
    sim_model_params(w, &pw);
    cmp_num(card, "total params", pg.total, pw.total);
    cmp_num(card, "active params", pg.active, pw.active);
    cmp_num(card, "hidden", g->hidden, w->hidden);
    cmp_num(card, "layers", g->layers, w->layers);
    cmp_num(card, "vocab", g->vocab, w->vocab);
    cmp_num(card, "tied_embeddings", g->tied_embeddings, w->tied_embeddings);
    cmp_num(card, "max_context", g->max_context, w->max_context);
    cmp_str(card, "attention.kind", g->attn.kind == SIM_ATTN_MLA ? "mla" : "gqa",
            w->attn.kind == SIM_ATTN_MLA ? "mla" : "gqa");
    cmp_num(card, "attention.heads", g->attn.heads, w->attn.heads);
    cmp_num(card, "attention.kv_heads", g->attn.kv_heads, w->attn.kv_heads);
    cmp_num(card, "attention.head_dim", g->attn.head_dim, w->attn.head_dim);
    cmp_num(card, "attention.q_lora_rank", g->attn.q_lora_rank, w->attn.q_lora_rank);
    cmp_num(card, "attention.kv_lora_rank", g->attn.kv_lora_rank, w->attn.kv_lora_rank);
    cmp_num(card, "attention.qk_nope_head_dim", g->attn.qk_nope_head_dim, w->attn.qk_nope_head_dim);
    cmp_num(card, "attention.qk_rope_head_dim", g->attn.qk_rope_head_dim, w->attn.qk_rope_head_dim);
    cmp_num(card, "attention.v_head_dim", g->attn.v_head_dim, w->attn.v_head_dim);
    cmp_num(card, "attention.local_window", g->attn.local_window, w->attn.local_window);
    cmp_num(card, "attention.local_layers", g->attn.local_layers, w->attn.local_layers);
    cmp_num(card, "attention.bias", g->attn.bias, w->attn.bias);
    cmp_num(card, "attention.output_gate", g->attn.output_gate, w->attn.output_gate);
    /* KV bytes per token at BF16 (2 bytes an element), every attention layer full */
    cmp_num(card, "KV bytes per token (bf16)", 2 * sim_model_kv_elems_per_token(g), 2 * sim_model_kv_elems_per_token(w));
    cmp_num(card, "ffn.activation", g->ffn.activation, w->ffn.activation);
    cmp_num(card, "ffn.dense_layers", g->ffn.dense_layers, w->ffn.dense_layers);
    cmp_num(card, "ffn.dense_intermediate", g->ffn.dense_intermediate, w->ffn.dense_intermediate);
    cmp_num(card, "ffn.moe_layers", g->ffn.moe_layers, w->ffn.moe_layers);
    cmp_num(card, "ffn.experts", g->ffn.experts, w->ffn.experts);
    cmp_num(card, "ffn.top_k", g->ffn.top_k, w->ffn.top_k);
    cmp_num(card, "ffn.expert_intermediate", g->ffn.expert_intermediate, w->ffn.expert_intermediate);
    cmp_num(card, "ffn.shared_experts", g->ffn.shared_experts, w->ffn.shared_experts);
    cmp_num(card, "ffn.shared_intermediate", g->ffn.shared_intermediate, w->ffn.shared_intermediate);
    cmp_str(card, "ffn.scoring", g->ffn.scoring == SIM_SCORE_SIGMOID ? "sigmoid" : "softmax",
            w->ffn.scoring == SIM_SCORE_SIGMOID ? "sigmoid" : "softmax");
    cmp_num(card, "ffn.expert_bias", g->ffn.expert_bias, w->ffn.expert_bias);
    cmp_num(card, "mtp_layers", g->mtp_layers, w->mtp_layers);
    /* per-layer kinds: the pattern, and what it comes to */
    cmp_num(card, "hybrid (present)", g->hybrid.on, w->hybrid.on);
    cmp_str(card, "hybrid.mixers", g->hybrid.mixers, w->hybrid.mixers);
    cmp_str(card, "hybrid.ffns", g->hybrid.ffns, w->hybrid.ffns);
    cmp_num(card, "attention layers", g->hybrid.attn_layers, w->hybrid.attn_layers);
    cmp_num(card, "state-space layers", g->hybrid.ssm_layers, w->hybrid.ssm_layers);
    if (g->hybrid.on && w->hybrid.on) {
        cmp_num(card, "hybrid.ssm.kind", g->hybrid.kind, w->hybrid.kind);
        cmp_num(card, "hybrid.ssm.heads", g->hybrid.heads, w->hybrid.heads);
        cmp_num(card, "hybrid.ssm.head_dim", g->hybrid.head_dim, w->hybrid.head_dim);
        cmp_num(card, "hybrid.ssm.state", g->hybrid.state, w->hybrid.state);
        cmp_num(card, "hybrid.ssm.groups", g->hybrid.groups, w->hybrid.groups);
        cmp_num(card, "hybrid.ssm.conv_width", g->hybrid.conv_width, w->hybrid.conv_width);
        cmp_num(card, "hybrid.ssm.chunk", g->hybrid.chunk, w->hybrid.chunk);
        cmp_num(card, "hybrid.ssm.conv_bias", g->hybrid.conv_bias, w->hybrid.conv_bias);
        cmp_fmt(card, "hybrid.state_format", g->hybrid.state_format, w->hybrid.state_format);
    }
    cmp_fmt(card, "native_precision.experts", g->native_experts, w->native_experts);
    cmp_fmt(card, "native_precision.shared_experts", g->native_shared, w->native_shared);
    cmp_fmt(card, "native_precision.dense", g->native_dense, w->native_dense);
    cmp_fmt(card, "native_precision.head", g->native_head, w->native_head);
}

/* The reason SOURCES.md gives for a card it lists as not round-trippable: the line
 * "- `CARD`: reason" under "## Not round-trippable"; NULL if it is not listed there. */
static const char *not_roundtrippable(const char *sources, const char *card, char *reason, size_t cap)
{
    const char *sec = strstr(sources, "## Not round-trippable");
    if (!sec)
        return NULL;
    char key[96];
    snprintf(key, sizeof key, "\n- `%s`:", card);
    const char *at = strstr(sec, key);
    if (!at)
        return NULL;
    at += strlen(key);
    while (*at == ' ')
        at++;
    size_t n = strcspn(at, "\n");
    snprintf(reason, cap, "%.*s", (int)(n < cap ? n : cap - 1), at);
    return reason;
}

static void every_shipped_card(void **state)
{
    (void)state;
    char dir[1024], path[1200];
    snprintf(dir, sizeof dir, "%s/tests/fixtures/hf", sim_home());
    snprintf(path, sizeof path, "%s/SOURCES.md", dir);
    sim_err err = { 0 };
    char *sources = sim_read_file(path, 1 << 20, "fixture index", NULL, &err);
    if (!sources)
        fail_msg("%s", err.msg);

    static char names[MAX_CARDS][64];
    int n = sim_registry_list_models(names, MAX_CARDS);
    assert_true(n > 0 && n <= MAX_CARDS);
    int tripped = 0, listed = 0;
    for (int i = 0; i < n; i++) {
        snprintf(path, sizeof path, "%s/%s.config.json", dir, names[i]);
        FILE *f = fopen(path, "r");
        if (!f) {
            char reason[512];
            if (!not_roundtrippable(sources, names[i], reason, sizeof reason)) {
                differ(names[i], "fixture", "none", "a config.json or a reason in SOURCES.md");
                continue;
            }
            printf("not round-trippable: %s: %s\n", names[i], reason);
            listed++;
            continue;
        }
        fclose(f);
        cJSON *config = sim_json_load(path, &err);
        if (!config)
            fail_msg("%s", err.msg);
        cJSON *card = sim_hf_to_card(config, names[i], path, &err);
        cJSON_Delete(config);
        if (!card) {
            differ(names[i], "import", err.msg, "a card");
            continue;
        }
        static sim_model got, want;
        int rc = sim_model_from_json(&got, card, path, &err);
        cJSON_Delete(card);
        if (rc != SIM_OK)
            fail_msg("%s: the imported card does not load: %s", names[i], err.msg);
        if (sim_registry_model(names[i], &want, &err) != SIM_OK)
            fail_msg("%s", err.msg);
        int before = n_diffs;
        compare(names[i], &got, &want);
        if (n_diffs == before)
            printf("round-trips: %s\n", names[i]);
        tripped++;
    }
    free(sources);
    printf("%d cards round-trip from their config.json, %d listed as not round-trippable\n", tripped, listed);
    if (n_diffs)
        fail_msg("%d differences between imported and shipped cards:\n%s", n_diffs, report);
    assert_true(tripped > 0);
}

/* The comparison can fail: a fixture with one field changed is caught and named. */
static void a_changed_field_is_named(void **state)
{
    (void)state;
    char path[1200];
    snprintf(path, sizeof path, "%s/tests/fixtures/hf/mixtral-8x7b.config.json", sim_home());
    sim_err err = { 0 };
    cJSON *config = sim_json_load(path, &err);
    assert_non_null(config);
    cJSON_ReplaceItemInObjectCaseSensitive(config, "num_experts_per_tok", cJSON_CreateNumber(3));
    cJSON *card = sim_hf_to_card(config, "mixtral-8x7b", path, &err);
    cJSON_Delete(config);
    assert_non_null(card);
    static sim_model got, want;
    assert_int_equal(sim_model_from_json(&got, card, path, &err), SIM_OK);
    cJSON_Delete(card);
    assert_int_equal(sim_registry_model("mixtral-8x7b", &want, &err), SIM_OK);
    report[0] = '\0';
    n_diffs = 0;
    compare("mixtral-8x7b", &got, &want);
    assert_true(n_diffs >= 2); /* top_k and the active count */
    assert_non_null(strstr(report, "mixtral-8x7b: ffn.top_k: imported 3, shipped 2"));
    assert_non_null(strstr(report, "mixtral-8x7b: active params"));
    report[0] = '\0';
    n_diffs = 0;
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(a_changed_field_is_named),
        cmocka_unit_test(every_shipped_card),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
