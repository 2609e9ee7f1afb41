/* cmd_import.c: `moesim models import CONFIG.json [--name NAME] [--out FILE]
 * [--safetensors-index FILE]` (also `moesim import-hf`): a Hugging Face config.json (or a
 * Mistral params.json) as a moesim model card (sim/model/hf_import.h). The card is loaded back through
 * the same checks as any card before it is printed or written (whole or not at all), and its
 * published counts are moesim's derivation, said so in the card. */
#include <ctype.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/jsonfile.h"
#include "cli/commands.h"
#include "model/hf_import.h"
#include "model/model.h"

#define IMPORT_USAGE                                                                                            \
    "usage: moesim models import CONFIG.json [--name NAME] [--out FILE] [--safetensors-index FILE]"

/* Weights a checkpoint may hold beyond the card's count before the two are called
 * inconsistent: DeepSeek-V3's checkpoint carries its MTP module (about 2% of the weights) and
 * every checkpoint its block scales; a converter that mapped a field wrongly is off by far more. */
#define INDEX_TOLERANCE 0.10

/* The default name: the config's folder ("Qwen3-30B-A3B/config.json" -> "qwen3-30b-a3b"). */
static int name_from_path(const char *path, char *out, size_t cap)
{
    char dir[PATH_MAX];
    snprintf(dir, sizeof dir, "%s", path);
    char *slash = strrchr(dir, '/');
    if (!slash)
        return -1;
    *slash = '\0';
    const char *base = strrchr(dir, '/') ? strrchr(dir, '/') + 1 : dir;
    size_t j = 0;
    for (const char *p = base; *p && j + 1 < cap; p++)
        out[j++] = (char)(isalnum((unsigned char)*p) || *p == '.' || *p == '_' ? tolower((unsigned char)*p) : '-');
    out[j] = '\0';
    return j > 0 && strcmp(out, ".") != 0 ? 0 : -1;
}

/* The checkpoint's size (model.safetensors.index.json, metadata.total_size) against the
 * card's weights stored as the card says the checkpoint holds them (native precisions, class
 * by class). Prints both; a difference beyond INDEX_TOLERANCE is an error naming both. */
static int check_index(const sim_model *m, const char *index, sim_err *err)
{
    cJSON *j = sim_json_load(index, err);
    if (!j)
        return err->code;
    const cJSON *meta = cJSON_GetObjectItemCaseSensitive(j, "metadata");
    const cJSON *size = meta ? cJSON_GetObjectItemCaseSensitive(meta, "total_size") : NULL;
    double bytes = cJSON_IsNumber(size) ? size->valuedouble : -1;
    cJSON_Delete(j);
    if (!(bytes > 0))
        return sim_fail(err, SIM_EINPUT, "%s: field 'metadata.total_size' is missing or not a positive number "
                                         "(expected a safetensors index)", index);
    sim_param_counts pc;
    sim_model_params(m, &pc);
    double derived = pc.routed_experts * sim_wformat_bytes(m->native_experts) +
                     pc.shared_experts * sim_wformat_bytes(m->native_shared) +
                     (pc.attention + pc.ssm + pc.dense_ffn) * sim_wformat_bytes(m->native_dense) +
                     (pc.embedding + pc.lm_head) * sim_wformat_bytes(m->native_head) + (pc.router + pc.norms) * 2.0;
    double diff = (bytes - derived) / derived;
    fprintf(stderr, "import: checkpoint %.4g GB (%s), card %.4g GB at its native precisions (%+.1f%%)\n", bytes / 1e9,
            index, derived / 1e9, 100 * diff);
    if (diff > INDEX_TOLERANCE || diff < -INDEX_TOLERANCE)
        return sim_fail(err, SIM_EINPUT, "import: the checkpoint (%s) holds %.4g GB but the card's weights come to "
                        "%.4g GB (%+.1f%%, more than %.0f%%): a field was likely mapped wrongly, or the card's "
                        "native precision is not the checkpoint's", index, bytes / 1e9, derived / 1e9, 100 * diff,
                        100 * INDEX_TOLERANCE);
    return SIM_OK;
}

static int import_hf(const char *config, const char *name_opt, const char *out, const char *index, sim_err *err)
{
    char name[128];
    if (name_opt)
        snprintf(name, sizeof name, "%s", name_opt);
    else if (name_from_path(config, name, sizeof name) != 0)
        return sim_fail(err, SIM_EINPUT, "import-hf: no name for %s: pass --name NAME", config);
    cJSON *json = sim_json_load(config, err);
    if (!json)
        return err->code;
    if (!sim_hf_is_config(json)) {
        cJSON_Delete(json);
        return sim_fail(err, SIM_EINPUT, "import-hf: %s has no model_type or architectures: not a Hugging Face "
                                         "config.json (nor a Mistral params.json: dim, n_layers, n_heads)", config);
    }
    cJSON *card = sim_hf_to_card(json, name, config, err);
    cJSON_Delete(json);
    if (!card)
        return err->code;
    /* sim_hf_to_card has run the card checks; this reads back the counts it derived */
    sim_model m;
    int rc = sim_model_from_json(&m, card, config, err);
    if (rc == SIM_OK && index)
        rc = check_index(&m, index, err);
    if (rc == SIM_OK) {
        if (out) {
            rc = sim_json_save(out, card, err);
            if (rc == SIM_OK)
                fprintf(stderr, "import-hf: wrote %s (%s: %.4g B total, %.4g B active, derived)\n  use it: moesim eval "
                                "--model %s --hw h200 ...\n", out, name, m.published.total_params / 1e9,
                        m.published.active_params / 1e9, out);
        } else {
            char *text = cJSON_Print(card);
            if (text)
                puts(text);
            else
                rc = sim_fail(err, SIM_EFAIL, "import-hf: out of memory printing the card");
            free(text);
        }
    }
    cJSON_Delete(card);
    return rc;
}

int cmd_import_hf(int argc, char **argv)
{
    const char *config = NULL, *name = NULL, *out = NULL, *index = NULL;
    for (int i = 0; i < argc; i++) {
        if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) {
            printf("%s\n  Converts a Hugging Face config.json into a moesim model card (scenarios/models/SCHEMA.md):\n"
                   "  printed, or written to FILE. Its published total/active counts are moesim's own.\n",
                   IMPORT_USAGE);
            return 0;
        }
        if (!strcmp(argv[i], "--name") && i + 1 < argc)
            name = argv[++i];
        else if (!strcmp(argv[i], "--out") && i + 1 < argc)
            out = argv[++i];
        else if (!strcmp(argv[i], "--safetensors-index") && i + 1 < argc)
            index = argv[++i];
        else if (argv[i][0] != '-' && !config)
            config = argv[i];
        else {
            char msg[512];
            snprintf(msg, sizeof msg, "import-hf: unexpected argument '%s' (%s)", argv[i], IMPORT_USAGE);
            return cmd_fail(SIM_EINPUT, msg);
        }
    }
    if (!config)
        return cmd_fail(SIM_EINPUT, "import-hf: which config.json? (" IMPORT_USAGE ")");
    sim_err err = { 0 };
    if (import_hf(config, name, out, index, &err))
        return cmd_fail(err.code, err.msg);
    return 0;
}
