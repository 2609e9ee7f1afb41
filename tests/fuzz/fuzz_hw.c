/* fuzz_hw.c: libFuzzer target for hardware models, calibrated ones included
 * (sim/model/hw.c): any bytes load or fail with a message. */
#include "fuzz_file.h"
#include "model/hw.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static sim_hw hw;
    sim_err err = { 0 };
    if (sim_hw_load(&hw, fuzz_file(data, size, ".json"), &err) != SIM_OK &&
        (!err.msg[0] || (err.code != SIM_EINPUT && err.code != SIM_EFAIL)))
        abort(); /* a failure always says why */
    return 0;
}
