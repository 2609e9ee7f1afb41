/* fuzz_model.c: libFuzzer target for model cards (sim/model/model.c): any bytes load or fail
 * with a message; a card that loads gives finite parameter counts. */
#include <math.h>

#include "fuzz_file.h"
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
    return 0;
}
