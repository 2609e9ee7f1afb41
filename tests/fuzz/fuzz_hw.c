/* fuzz_hw.c: libFuzzer target for hardware models, calibrated ones included
 * (sim/model/hw.c), and for kernel tables (sim/model/kernels.c): any bytes load or fail with
 * a message, read as either. */
#include "fuzz_file.h"
#include "model/hw.h"
#include "model/kernels.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static sim_hw hw;
    static sim_kernel_table table;
    /* H800-like peaks, so rows are judged against a real device's limits */
    static const sim_kernel_peaks peaks = {
        .flops = {[SIM_DT_FP32] = 67e12, [SIM_DT_BF16] = 989e12, [SIM_DT_FP16] = 989e12, [SIM_DT_FP8] = 1979e12},
        .mem_Bps = 3.35e12, .scale_up_Bps = 200e9, .scale_out_Bps = 50e9};
    sim_err err = { 0 };
    const char *file = fuzz_file(data, size, ".json");
    if (sim_hw_load(&hw, file, &err) != SIM_OK && (!err.msg[0] || (err.code != SIM_EINPUT && err.code != SIM_EFAIL)))
        abort(); /* a failure always says why */
    sim_err err2 = { 0 };
    if (sim_kernel_table_load(&table, file, NULL, &peaks, &err2) != SIM_OK &&
        (!err2.msg[0] || (err2.code != SIM_EINPUT && err2.code != SIM_EFAIL)))
        abort();
    if (table.n_rows > 0) { /* every loaded row answers its own lookup */
        const sim_kernel_row *r = &table.rows[0];
        sim_kernel_query q = {.op = r->op, .dtype = r->dtype, .variant = r->variant, .link = r->link, .x = r->x,
                              .family = r->family};
        sim_kernel_hit hit;
        if (r->share == r->share && !sim_kernel_lookup(&table, &q, &hit))
            abort();
    }
    return 0;
}
