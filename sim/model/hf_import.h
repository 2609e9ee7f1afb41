/* hf_import.h: a Hugging Face `config.json` turned into a moesim model card
 * (scenarios/models/SCHEMA.md), for the architectures whose fields the card describes:
 * dense Llama-style models, Mixtral, Qwen2/Qwen3-MoE, DeepSeek-V2/V3 (MLA, shared experts,
 * dense first layers, MTP), gpt-oss, and the hybrids Nemotron-H (Mamba-2) and Qwen3-Next (Gated
 * DeltaNet), with their layer pattern; DBRX's nested layout (d_model, attn_config, ffn_config)
 * and Mistral's own params.json (dim, n_layers, moe: Mistral Large 3) are read too, translated to
 * those names first. Every figure comes from a config field; where the config
 * is silent the card says what was assumed, in `notes`. The owner's published total and
 * active counts are not in a config: the card carries the counts moesim derives, and says so. */
#ifndef MOESIM_HF_IMPORT_H
#define MOESIM_HF_IMPORT_H

#include <cjson/cJSON.h>

#include "base/err.h"

/* Whether a JSON object looks like a Hugging Face config (or a Mistral params.json) rather than
 * a card (it has `model_type` or `architectures`, or params.json's dim, n_layers and n_heads, and
 * no `schema`). */
int sim_hf_is_config(const cJSON *json);

/* The card for `config` (read from `config_path`, named in `source`), named `name`, checked
 * as every card is (sim_model_from_json); its `published` total and active counts are the ones
 * moesim derives, and its source says so. On success returns a new object the caller frees
 * with cJSON_Delete. NULL on failure (SIM_EINPUT naming the config field that is missing or
 * not usable, or the card check that failed). */
cJSON *sim_hf_to_card(const cJSON *config, const char *name, const char *config_path, sim_err *err);

#endif
