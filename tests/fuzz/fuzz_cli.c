/* fuzz_cli.c: libFuzzer target for the command-line options of eval, serve and search
 * (cli/cli_args.c, cli/request.c: the option table all three share; cli/search_request.c:
 * search's comma-separated lists) and the deployment they describe (sim/deploy): the input
 * is a list of NUL- or newline-separated arguments. Parsing, the split rules, the deployment
 * checks and the memory fit must hold on any values, extreme numbers included. */
#include <math.h>

#include "cli/cli_args.h"
#include "cli/request.h"
#include "cli/search_request.h"
#include "cli/session.h"
#include "deploy/memfit.h"
#include "fuzz_file.h"
#include "serve/serving.h"

#define MAX_ARGS 64

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static sim_session *session;
    if (!session && !(session = sim_session_alloc()))
        abort();
    char *text = fuzz_text(data, size);
    char *argv[MAX_ARGS];
    int argc = fuzz_args(text, size, argv, MAX_ARGS);
    /* every argument also as each of search's lists: hardware, precisions, token caps, concurrency */
    static const char *const lists[] = { "hw", "precisions", "mbt", "concurrency_per_gpu" };
    for (int i = 0; i < argc; i++) {
        cli_search_opts so;
        cli_search_defaults(&so);
        sim_err lerr = { 0 };
        if (cli_search_parse_list(argv[i], lists[i % 4], &so, &lerr) != SIM_OK && !lerr.msg[0])
            abort();
    }
    sim_request r;
    sim_request_defaults(&r);
    if (sim_cli_parse("eval", argc, argv, &r, NULL, 0) == 0) {
        sim_deploy d, pre;
        sim_serve_opts so;
        bool has_prefill;
        sim_err err = { 0 };
        if (sim_request_deploy(session, &r, &d, &pre, &has_prefill, &so, &err) == SIM_OK) {
            sim_memfit fit;
            sim_memfit_eval(&d, fmax(1, r.isl + r.osl), 1, &fit);
            if (fit.fits && !(fit.total_bytes >= 0 && isfinite(fit.weight_bytes)))
                abort(); /* a fit that holds must say how much it holds */
        } else if (!err.msg[0]) {
            abort();
        }
    }
    free(text);
    return 0;
}
