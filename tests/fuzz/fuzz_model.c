/* fuzz_model.c: libFuzzer target for model cards (sim/model/model.c) and Hugging Face configs
 * (sim/model/hf_import.c): any bytes load or fail with a message; a card that loads gives
 * finite parameter counts; a config converts to a card or fails with a message. */
#include <math.h>

#include "fuzz_file.h"
#include "base/jsonfile.h"
#include "model/hf_import.h"
#include "model/model.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static sim_model m;
    sim_err err = { 0 };
    if (sim_model_load(&m, fuzz_file(data, size, ".json"), &err) == SIM_OK) {
        sim_param_counts pc;
        sim_model_params(&m, &pc);
        if (!isfinite(pc.total) || !isfinite(pc.active) || pc.total <= 0)
            abort(); /* a card that loads must describe a model with weights */
    } else if (!err.msg[0] || (err.code != SIM_EINPUT && err.code != SIM_EFAIL)) {
        abort(); /* a failure always says why */
    }
    char *text = fuzz_text(data, size);
    sim_err perr = { 0 };
    cJSON *json = sim_json_parse(text, "config.json", &perr);
    if (json && sim_hf_is_config(json)) {
        sim_err cerr = { 0 };
        cJSON *card = sim_hf_to_card(json, "fuzz", "config.json", &cerr);
        if (!card && !cerr.msg[0])
            abort();
        cJSON_Delete(card);
    }
    cJSON_Delete(json);
    free(text);
    return 0;
}
