/* fuzz_eval.c: libFuzzer target for whole evaluations (the step and serving models) from
 * command-line options, as `moesim eval` runs them. Slower per input than the parsers (a new
 * routing shape costs a Monte Carlo), so it finds fewer inputs per second. A result that is
 * computed must be finite and non-negative: never a silent inf or NaN. */
#include <math.h>

#include "cli/cli_args.h"
#include "cli/request.h"
#include "cli/session.h"
#include "fuzz_file.h"
#include "serve/serving.h"

#define MAX_ARGS 64

static void check(double v)
{
    if (!(isfinite(v) && v >= 0))
        abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static sim_session *session;
    if (!session && !(session = sim_session_alloc()))
        abort();
    char *text = fuzz_text(data, size);
    char *argv[MAX_ARGS];
    int argc = fuzz_args(text, size, argv, MAX_ARGS);
    sim_request r;
    sim_request_defaults(&r);
    sim_deploy d, pre;
    sim_serve_opts so;
    bool has_prefill;
    sim_err err = { 0 };
    if (sim_cli_parse("eval", argc, argv, &r, NULL, 0) == 0 &&
        sim_request_deploy(session, &r, &d, &pre, &has_prefill, &so, &err) == SIM_OK) {
        if (has_prefill)
            so.prefill = &pre;
        sim_eval ev;
        if (sim_serve_eval(&d, &so, &ev, &err) == SIM_OK && ev.fits) {
            check(ev.ttft_s);
            check(ev.tpot_s);
            check(ev.output_tps_per_gpu);
        }
    }
    free(text);
    return 0;
}
