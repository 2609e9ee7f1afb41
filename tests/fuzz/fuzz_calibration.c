/* fuzz_calibration.c: libFuzzer target for the engine's measurement files that calibration
 * reads (calibrate/cal_points.c). */
#include "calibrate/cal_points.h"
#include "fuzz_file.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static cal_set s;
    sim_err err = { 0 };
    int rc = cal_set_load(&s, fuzz_file(data, size, ".json"), &err);
    if (rc == SIM_OK) {
        cal_set_merge_rounds(&s);
        cal_set_hold_out(&s);
    } else if (!err.msg[0]) {
        abort(); /* a failure always says why */
    }
    cal_set_free(&s);
    return 0;
}
