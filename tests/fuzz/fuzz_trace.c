/* fuzz_trace.c: libFuzzer target for request traces (CSV: arrival_s,input_tokens,output_tokens;
 * sim/serve/trace.c). A trace that parses is in arrival order with positive lengths. */
#include "fuzz_file.h"
#include "serve/trace.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *text = fuzz_text(data, size);
    sim_workload w;
    sim_err err = { 0 };
    if (sim_workload_parse(text, "fuzz.csv", 1000, &w, &err) == SIM_OK) {
        for (long i = 0; i < w.n; i++)
            if (w.r[i].isl < 1 || w.r[i].osl < 1 || (i && w.r[i].arrival_s < w.r[i - 1].arrival_s))
                abort();
        sim_workload_free(&w);
    } else if (!err.msg[0]) {
        abort();
    }
    free(text);
    return 0;
}
