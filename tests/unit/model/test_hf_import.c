/* test_hf_import.c: a Hugging Face config.json converted by sim/model/hf_import.c gives the
 * same model as the shipped card made by hand from the same config (issue 17): the same
 * derived total and active weights, the same shape. The configs are the fields of the
 * published config.json files the shipped cards cite; DBRX's and Mistral Large 3's (whose
 * params.json is Mistral's own format) are transcriptions, said where they are defined. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "base/jsonfile.h"
#include "model/hf_import.h"
#include "model/model.h"
#include "model/registry.h"

static const char *const qwen3 =
    "{\"architectures\":[\"Qwen3MoeForCausalLM\"],\"model_type\":\"qwen3_moe\",\"hidden_size\":2048,"
    "\"num_hidden_layers\":48,\"num_attention_heads\":32,\"num_key_value_heads\":4,\"head_dim\":128,"
    "\"intermediate_size\":6144,\"moe_intermediate_size\":768,\"num_experts\":128,\"num_experts_per_tok\":8,"
    "\"decoder_sparse_step\":1,\"mlp_only_layers\":[],\"vocab_size\":151936,\"tie_word_embeddings\":false,"
    "\"max_position_embeddings\":40960,\"hidden_act\":\"silu\",\"sliding_window\":null,\"use_sliding_window\":false}";
static const char *const deepseek_v3 =
    "{\"architectures\":[\"DeepseekV3ForCausalLM\"],\"model_type\":\"deepseek_v3\",\"hidden_size\":7168,"
    "\"num_hidden_layers\":61,\"num_attention_heads\":128,\"num_key_value_heads\":128,\"q_lora_rank\":1536,"
    "\"kv_lora_rank\":512,\"qk_nope_head_dim\":128,\"qk_rope_head_dim\":64,\"v_head_dim\":128,"
    "\"intermediate_size\":18432,\"moe_intermediate_size\":2048,\"n_routed_experts\":256,\"n_shared_experts\":1,"
    "\"num_experts_per_tok\":8,\"first_k_dense_replace\":3,\"scoring_func\":\"sigmoid\",\"num_nextn_predict_layers\":1,"
    "\"vocab_size\":129280,\"tie_word_embeddings\":false,\"max_position_embeddings\":163840,"
    "\"quantization_config\":{\"quant_method\":\"fp8\",\"weight_block_size\":[128,128]}}";
static const char *const mixtral =
    "{\"architectures\":[\"MixtralForCausalLM\"],\"model_type\":\"mixtral\",\"hidden_size\":4096,"
    "\"num_hidden_layers\":32,\"num_attention_heads\":32,\"num_key_value_heads\":8,\"intermediate_size\":14336,"
    "\"num_local_experts\":8,\"num_experts_per_tok\":2,\"vocab_size\":32000,\"tie_word_embeddings\":false,"
    "\"max_position_embeddings\":32768,\"sliding_window\":null}";

/* zai-org/GLM-4.5-Air's Glm4MoeConfig (no scoring_func: glm4_moe routes with a sigmoid) */
static const char *const glm45_air =
    "{\"architectures\":[\"Glm4MoeForCausalLM\"],\"model_type\":\"glm4_moe\",\"attention_bias\":true,\"attention_dro"
    "pout\":0.0,\"first_k_dense_replace\":1,\"head_dim\":128,\"hidden_act\":\"silu\",\"hidden_size\":4096,\"initializ"
    "er_range\":0.02,\"intermediate_size\":10944,\"max_position_embeddings\":131072,\"moe_intermediate_size\":14"
    "08,\"n_group\":1,\"n_routed_experts\":128,\"n_shared_experts\":1,\"norm_topk_prob\":true,\"num_attention_head"
    "s\":96,\"num_experts_per_tok\":8,\"num_hidden_layers\":46,\"num_key_value_heads\":8,\"num_nextn_predict_laye"
    "rs\":1,\"partial_rotary_factor\":0.5,\"rms_norm_eps\":1e-05,\"rope_scaling\":null,\"rope_theta\":1000000,\"rou"
    "ted_scaling_factor\":1.0,\"tie_word_embeddings\":false,\"topk_group\":1,\"torch_dtype\":\"bfloat16\",\"use_cac"
    "he\":true,\"use_qk_norm\":false,\"vocab_size\":151552}";
/* Kimi K2 Thinking: K2's architecture with compressed-tensors INT4 (group 32) routed experts */
static const char *const kimi_k2_thinking =
    "{\"architectures\":[\"DeepseekV3ForCausalLM\"],\"model_type\":\"kimi_k2\",\"num_hidden_layers\":61,\"hidden_siz"
    "e\":7168,\"num_attention_heads\":64,\"num_key_value_heads\":64,\"intermediate_size\":18432,\"vocab_size\":163"
    "840,\"max_position_embeddings\":262144,\"n_routed_experts\":384,\"n_shared_experts\":1,\"num_experts_per_to"
    "k\":8,\"moe_intermediate_size\":2048,\"moe_layer_freq\":1,\"first_k_dense_replace\":1,\"kv_lora_rank\":512,\"q"
    "_lora_rank\":1536,\"qk_nope_head_dim\":128,\"qk_rope_head_dim\":64,\"v_head_dim\":128,\"routed_scaling_facto"
    "r\":2.827,\"scoring_func\":\"sigmoid\",\"num_nextn_predict_layers\":0,\"torch_dtype\":\"bfloat16\",\"tie_word_em"
    "beddings\":false,\"quantization_config\":{\"config_groups\":{\"group_0\":{\"input_activations\":null,\"output_"
    "activations\":null,\"targets\":[\"Linear\"],\"weights\":{\"dynamic\":false,\"group_size\":32,\"num_bits\":4,\"stra"
    "tegy\":\"group\",\"symmetric\":true,\"type\":\"int\"}}},\"format\":\"pack-quantized\",\"ignore\":[\"lm_head\",\"re:.*s"
    "elf_attn.*\",\"re:.*shared_experts.*\",\"re:.*mlp\\\\.(gate|up|gate_up|down)_proj.*\"],\"quant_method\":\"comp"
    "ressed-tensors\"}}";

/* nvidia/NVIDIA-Nemotron-3-Nano-30B-A3B-BF16 config.json (the fields the card reads, as released). */
static const char *const nemotron_nano =
    "{\"architectures\":[\"NemotronHForCausalLM\"],\"attention_bias\":false,\"chunk_size\":128,\"conv_kernel\":4,\""
    "expand\":2,\"head_dim\":128,\"hidden_size\":2688,\"hybrid_override_pattern\":\"MEMEM*EMEMEM*EMEMEM*EMEMEM*EMEM"
    "EM*EMEMEMEM*EMEMEMEME\",\"intermediate_size\":1856,\"mamba_head_dim\":64,\"mamba_hidden_act\":\"silu\",\"mamba"
    "_num_heads\":64,\"mamba_proj_bias\":false,\"mamba_ssm_cache_dtype\":\"float32\",\"max_position_embeddings\":26"
    "2144,\"mlp_bias\":false,\"mlp_hidden_act\":\"relu2\",\"model_type\":\"nemotron_h\",\"moe_intermediate_size\":1"
    "856,\"moe_shared_expert_intermediate_size\":3712,\"n_group\":1,\"n_groups\":8,\"n_routed_experts\":128,\"n_sha"
    "red_experts\":1,\"norm_topk_prob\":true,\"num_attention_heads\":32,\"num_experts_per_tok\":6,\"num_hidden_laye"
    "rs\":52,\"num_key_value_heads\":2,\"routed_scaling_factor\":2.5,\"ssm_state_size\":128,\"tie_word_embeddings\""
    ":false,\"torch_dtype\":\"bfloat16\",\"use_conv_bias\":true,\"vocab_size\":131072}";

/* Qwen/Qwen3-Next-80B-A3B-Instruct config.json (as released, without layer_types: the interval rules). */
static const char *const qwen3_next =
    "{\"architectures\":[\"Qwen3NextForCausalLM\"],\"attention_bias\":false,\"decoder_sparse_step\":1,\"dtype\":\"b"
    "float16\",\"full_attention_interval\":4,\"head_dim\":256,\"hidden_act\":\"silu\",\"hidden_size\":2048,\"interm"
    "ediate_size\":5120,\"linear_conv_kernel_dim\":4,\"linear_key_head_dim\":128,\"linear_num_key_heads\":16,\"line"
    "ar_num_value_heads\":32,\"linear_value_head_dim\":128,\"max_position_embeddings\":262144,\"mlp_only_layers\":["
    "],\"model_type\":\"qwen3_next\",\"moe_intermediate_size\":512,\"norm_topk_prob\":true,\"num_attention_heads\":"
    "16,\"num_experts\":512,\"num_experts_per_tok\":10,\"num_hidden_layers\":48,\"num_key_value_heads\":2,\"partial"
    "_rotary_factor\":0.25,\"rms_norm_eps\":1e-06,\"rope_theta\":5000000,\"shared_expert_intermediate_size\":512,\""
    "tie_word_embeddings\":false,\"vocab_size\":151936}";

/* databricks/dbrx-instruct's config.json fields, nested as DBRX ships them: a transcription, not
 * a stored file (none was found: tests/fixtures/hf/SOURCES.md). The fields up to ffn_config's
 * moe_num_experts are those pasted in ggml-org/llama.cpp issue 6344 (the stored excerpt stops
 * there); the rest (moe_top_k 4, max_seq_len 32768, n_heads 48, n_layers 40, vocab_size 100352,
 * tie_word_embeddings false) as mlx-community/dbrx-instruct-4bit's converted config.json carries
 * them, quoted in a Rust loader test of the code corpus. */
static const char *const dbrx =
    "{\"architectures\":[\"DbrxForCausalLM\"],\"attn_config\":{\"clip_qkv\":8,\"kv_n_heads\":8,\"model_type\":\"\","
    "\"rope_theta\":500000},\"d_model\":6144,\"emb_pdrop\":0.0,\"ffn_config\":{\"ffn_hidden_size\":10752,\"model_ty"
    "pe\":\"\",\"moe_jitter_eps\":0,\"moe_loss_weight\":0.05,\"moe_num_experts\":16,\"moe_top_k\":4},\"initializer_"
    "range\":0.02,\"max_seq_len\":32768,\"model_type\":\"dbrx\",\"n_heads\":48,\"n_layers\":40,\"output_router_logi"
    "ts\":false,\"resid_pdrop\":0.0,\"router_aux_loss_coef\":0.05,\"tie_word_embeddings\":false,\"torch_dtype\":\"b"
    "float16\",\"use_cache\":true,\"vocab_size\":100352}";

/* mistralai/Mistral-Large-3-675B-Instruct-2512's params.json without vision_encoder, transcribed
 * from the Python dict unslothai's Mistral-format loader test quotes (LARGE3_PARAMS; True/False/
 * None written as JSON): Mistral's own format, read as vLLM's adapt_config_dict reads it. */
static const char *const mistral_large3_params =
    "{\"dim\":7168,\"head_dim\":192,\"hidden_dim\":16384,\"kv_lora_rank\":512,\"llama_4_scaling\":{\"beta\":0.1,\"o"
    "riginal_max_position_embeddings\":8192},\"max_position_embeddings\":294912,\"moe\":{\"expert_hidden_dim\":4096"
    ",\"expert_model_parallel\":1,\"expert_parallel\":1,\"first_k_dense_replace\":3,\"num_expert_groups\":1,\"num_e"
    "xpert_groups_per_tok\":1,\"num_experts\":128,\"num_experts_per_tok\":4,\"num_shared_experts\":1,\"route_every_"
    "n\":1,\"routed_scale\":1.0},\"n_heads\":128,\"n_kv_heads\":128,\"n_layers\":61,\"norm_eps\":1e-06,\"q_lora_ran"
    "k\":1536,\"qk_nope_head_dim\":128,\"qk_rope_head_dim\":64,\"quantization_config\":{\"config_groups\":{\"FP8_BL"
    "OCK\":{\"format\":\"float-quantized\",\"input_activations\":{\"dynamic\":true,\"group_size\":128,\"num_bits\":"
    "8,\"strategy\":\"group\",\"symmetric\":true,\"type\":\"float\"},\"output_activations\":null,\"targets\":[\"Lin"
    "ear\"],\"weights\":{\"block_structure\":[128,128],\"dynamic\":false,\"num_bits\":8,\"strategy\":\"block\",\"sy"
    "mmetric\":true,\"type\":\"float\"}}},\"format\":\"float-quantized\",\"ignore\":[\"model.embed_tokens\",\"re:pa"
    "tch_merger.*\",\"re:vision_encoder.*\",\"re:vision_language_adapter.*\",\"re:.*kv_a_proj_with_mqa$\",\"re:.*q_"
    "a_proj$\",\"re:.*gate$\",\"lm_head\"],\"quant_method\":\"compressed-tensors\",\"quantization_status\":\"compre"
    "ssed\"},\"rope_theta\":10000.0,\"tied_embeddings\":false,\"v_head_dim\":128,\"vocab_size\":131072,\"yarn\":{\""
    "alpha\":1,\"apply_scale\":false,\"beta\":32,\"factor\":36,\"original_max_position_embeddings\":8192}}";

/* Convert, load the card through the ordinary checks, and return the model. */
static void convert(const char *config, const char *name, sim_model *m)
{
    sim_err err = { 0 };
    cJSON *c = sim_json_parse(config, "config.json", &err);
    assert_non_null(c);
    cJSON *card = sim_hf_to_card(c, name, "config.json", &err);
    cJSON_Delete(c);
    if (!card)
        fail_msg("%s", err.msg);
    char path[] = "/tmp/moesim-hf-XXXXXX.json";
    int fd = mkstemps(path, 5);
    assert_true(fd >= 0);
    close(fd);
    assert_int_equal(sim_json_save(path, card, &err), SIM_OK);
    cJSON_Delete(card);
    if (sim_model_load(m, path, &err) != SIM_OK)
        fail_msg("converted card does not load: %s", err.msg);
    unlink(path);
}

static void same_as_shipped(const char *config, const char *shipped)
{
    static sim_model got, want;
    convert(config, shipped, &got);
    sim_err err = { 0 };
    assert_int_equal(sim_registry_model(shipped, &want, &err), SIM_OK);
    sim_param_counts pg, pw;
    sim_model_params(&got, &pg);
    sim_model_params(&want, &pw);
    if (fabs(pg.total - pw.total) > 1e-9 * pw.total || fabs(pg.active - pw.active) > 1e-9 * pw.active)
        fail_msg("%s: converted %.6g total / %.6g active, shipped %.6g / %.6g", shipped, pg.total, pg.active, pw.total,
                 pw.active);
    assert_int_equal(got.layers, want.layers);
    assert_int_equal(got.attn.kind, want.attn.kind);
    assert_int_equal(got.ffn.experts, want.ffn.experts);
    assert_int_equal(got.ffn.dense_layers, want.ffn.dense_layers);
    assert_int_equal(got.ffn.shared_experts, want.ffn.shared_experts);
    assert_int_equal(got.ffn.scoring, want.ffn.scoring);
    assert_int_equal(got.native_experts, want.native_experts);
    assert_int_equal(got.native_shared, want.native_shared);
    assert_int_equal(got.max_context, want.max_context);
}

static void qwen3_moe(void **state)
{
    (void)state;
    same_as_shipped(qwen3, "qwen3-30b-a3b");
}

/* mlp_only_layers is read as Python's `i in list` reads it: 2.0 is layer 2; 3.5, -1 and 1e300
 * are no layer (1e300 was cast to long, undefined behaviour the fuzzer found:
 * tests/fuzz/regressions/model/mlp-only-layers-huge-index.json). */
static void mlp_only_layers_as_numbers(void **state)
{
    (void)state;
    const char *at = strstr(qwen3, "\"mlp_only_layers\":[]");
    assert_non_null(at);
    char cfg[2048];
    snprintf(cfg, sizeof cfg, "%.*s\"mlp_only_layers\":[2.0,3.5,-1,1e300]%s", (int)(at - qwen3), qwen3,
             at + strlen("\"mlp_only_layers\":[]"));
    static sim_model m;
    convert(cfg, "qwen3-mlp-only", &m);
    assert_int_equal(m.layers, 48);
    assert_int_equal(m.ffn.dense_layers, 1);
}

static void deepseek_mla_shared_dense_mtp(void **state)
{
    (void)state;
    same_as_shipped(deepseek_v3, "deepseek-v3");
}

static void mixtral_local_experts(void **state)
{
    (void)state;
    same_as_shipped(mixtral, "mixtral-8x7b");
}

static void glm4_moe_sigmoid(void **state)
{
    (void)state;
    same_as_shipped(glm45_air, "glm-4.5-air");
}

/* The INT4 experts of a compressed-tensors checkpoint; attention and head stay BF16. */
static void compressed_tensors_int4_experts(void **state)
{
    (void)state;
    same_as_shipped(kimi_k2_thinking, "kimi-k2-thinking");
    static sim_model m;
    convert(kimi_k2_thinking, "kimi-k2-thinking", &m);
    assert_int_equal(m.native_experts, SIM_WF_INT4_G32); /* symmetric, group 32: 0.5625 bytes a weight */
    assert_int_equal(m.native_shared, SIM_WF_BF16);      /* ignore: re:.*shared_experts.* */
    assert_true(fabs(sim_wformat_bytes(m.native_experts) - 0.5625) < 1e-12);
    assert_int_equal(m.native_dense, SIM_WF_BF16);
    assert_int_equal(m.native_head, SIM_WF_BF16);
    assert_non_null(strstr(m.native_source, "group_size 32"));
}

/* Hybrids: the Nemotron-H pattern and Mamba-2 mixer, the Qwen3-Next interval and Gated DeltaNet
 * come out as the shipped cards describe them. */
static void hybrids(void **state)
{
    (void)state;
    same_as_shipped(nemotron_nano, "nemotron-3-nano");
    same_as_shipped(qwen3_next, "qwen3-next-80b-a3b");
    static sim_model got, want;
    sim_err err = { 0 };
    const char *const names[] = { "nemotron-3-nano", "qwen3-next-80b-a3b" };
    const char *const configs[] = { nemotron_nano, qwen3_next };
    for (int i = 0; i < 2; i++) {
        convert(configs[i], names[i], &got);
        assert_int_equal(sim_registry_model(names[i], &want, &err), SIM_OK);
        assert_string_equal(got.hybrid.mixers, want.hybrid.mixers);
        assert_string_equal(got.hybrid.ffns, want.hybrid.ffns);
        assert_int_equal(got.hybrid.kind, want.hybrid.kind);
        assert_int_equal(got.hybrid.heads, want.hybrid.heads);
        assert_int_equal(got.hybrid.head_dim, want.hybrid.head_dim);
        assert_int_equal(got.hybrid.state, want.hybrid.state);
        assert_int_equal(got.hybrid.groups, want.hybrid.groups);
        assert_int_equal(got.hybrid.conv_width, want.hybrid.conv_width);
        assert_int_equal(got.hybrid.chunk, want.hybrid.chunk);
        assert_int_equal(got.hybrid.conv_bias, want.hybrid.conv_bias);
        assert_int_equal(got.hybrid.state_format, want.hybrid.state_format);
        assert_int_equal(got.attn.output_gate, want.attn.output_gate);
        assert_int_equal(got.ffn.activation, want.ffn.activation);
        assert_int_equal(got.ffn.shared_intermediate, want.ffn.shared_intermediate);
        assert_int_equal(got.mtp_layers, want.mtp_layers);
    }
    /* Qwen3-Next's config states no num_nextn_predict_layers; its checkpoint ships one MTP
     * layer, the default vLLM reads the field with */
    convert(qwen3_next, "qwen3-next-80b-a3b", &got);
    assert_int_equal(got.mtp_layers, 1);
    assert_int_equal(got.spec.n, 0); /* no published acceptance: --spec-accept stays required */

    /* a pattern of the wrong length is named */
    cJSON *c = sim_json_parse(nemotron_nano, "cfg.json", &err);
    cJSON_ReplaceItemInObject(c, "hybrid_override_pattern", cJSON_CreateString("M*E"));
    assert_null(sim_hf_to_card(c, "x", "cfg.json", &err));
    assert_non_null(strstr(err.msg, "cfg.json: field 'hybrid_override_pattern' has 3 characters for 52 layers"));
    cJSON_Delete(c);
    c = sim_json_parse(qwen3_next, "cfg.json", &err);
    cJSON_DeleteItemFromObject(c, "linear_num_value_heads");
    assert_null(sim_hf_to_card(c, "x", "cfg.json", &err));
    assert_non_null(strstr(err.msg, "field 'linear_num_value_heads' is missing"));
    cJSON_Delete(c);
}

/* DBRX nests its fields (d_model, n_heads, attn_config, ffn_config): read as DbrxConfig does,
 * they give the shipped card (16 experts of 10752, top-4, 8 KV heads, every layer MoE). */
static void dbrx_nested_layout(void **state)
{
    (void)state;
    same_as_shipped(dbrx, "dbrx");
    static sim_model m;
    convert(dbrx, "dbrx", &m);
    assert_int_equal(m.attn.kv_heads, 8);
    assert_int_equal(m.attn.head_dim, 128); /* d_model / n_heads */
    assert_int_equal(m.ffn.moe_layers, 40);
    assert_int_equal(m.ffn.expert_intermediate, 10752);
}

/* Mistral's params.json: Mistral Large 3 comes out as the shipped card (DeepSeek-V3's
 * architecture, 128 experts of 4096 top-4, one shared, 3 dense layers, FP8 with a BF16 head),
 * every derived figure equal but the context: the file states no max_seq_len, so the card made
 * from it takes max_position_embeddings 294912 (YaRN 36 x 8192, the rotary table), where the
 * shipped card keeps 262144, the 256K context Mistral states. */
static void mistral_params_json(void **state)
{
    (void)state;
    sim_err err = { 0 };
    cJSON *c = sim_json_parse(mistral_large3_params, "params.json", &err);
    assert_non_null(c);
    assert_true(sim_hf_is_config(c));
    cJSON_Delete(c);
    static sim_model got, want;
    convert(mistral_large3_params, "mistral-large-3", &got);
    assert_int_equal(sim_registry_model("mistral-large-3", &want, &err), SIM_OK);
    sim_param_counts pg, pw;
    sim_model_params(&got, &pg);
    sim_model_params(&want, &pw);
    assert_true(pg.total == pw.total && pg.active == pw.active);
    assert_int_equal(got.attn.kind, SIM_ATTN_MLA);
    assert_int_equal(got.attn.q_lora_rank, want.attn.q_lora_rank);
    assert_int_equal(got.ffn.dense_layers, 3);
    assert_int_equal(got.ffn.shared_experts, want.ffn.shared_experts);
    assert_int_equal(got.ffn.scoring, SIM_SCORE_SOFTMAX);
    assert_int_equal(got.native_experts, SIM_WF_FP8);
    assert_int_equal(got.native_dense, SIM_WF_FP8);
    assert_int_equal(got.native_head, SIM_WF_BF16);
    assert_int_equal(got.max_context, 294912);
    assert_int_equal(want.max_context, 262144);
    /* a MoE layer every other layer is not read from params.json: refused, named */
    cJSON *p = sim_json_parse(mistral_large3_params, "params.json", &err);
    cJSON_ReplaceItemInObjectCaseSensitive(cJSON_GetObjectItemCaseSensitive(p, "moe"), "route_every_n",
                                           cJSON_CreateNumber(2));
    assert_null(sim_hf_to_card(p, "x", "params.json", &err));
    assert_non_null(strstr(err.msg, "params.json: moe.route_every_n 2"));
    cJSON_Delete(p);
}

static void bad_configs_named(void **state)
{
    (void)state;
    sim_err err = { 0 };
    cJSON *c = sim_json_parse("{\"model_type\":\"llama\",\"num_hidden_layers\":2}", "cfg.json", &err);
    assert_null(sim_hf_to_card(c, "x", "cfg.json", &err));
    assert_non_null(strstr(err.msg, "cfg.json: field 'hidden_size' is missing"));
    cJSON_Delete(c);
    c = sim_json_parse("{\"model_type\":\"mixtral\",\"hidden_size\":64,\"num_hidden_layers\":2,\"vocab_size\":10,"
                       "\"num_attention_heads\":4,\"num_local_experts\":8,\"num_experts_per_tok\":9}",
                       "cfg.json", &err);
    assert_null(sim_hf_to_card(c, "x", "cfg.json", &err));
    assert_non_null(strstr(err.msg, "num_experts_per_tok (9)"));
    assert_true(sim_hf_is_config(c));
    cJSON_Delete(c);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(qwen3_moe),
        cmocka_unit_test(mlp_only_layers_as_numbers),
        cmocka_unit_test(deepseek_mla_shared_dense_mtp),
        cmocka_unit_test(mixtral_local_experts),
        cmocka_unit_test(glm4_moe_sigmoid),
        cmocka_unit_test(compressed_tensors_int4_experts),
        cmocka_unit_test(hybrids),
        cmocka_unit_test(dbrx_nested_layout),
        cmocka_unit_test(mistral_params_json),
        cmocka_unit_test(bad_configs_named),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
