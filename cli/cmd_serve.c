/* cmd_serve.c: `moesim serve` (discrete-event serving simulation, serve/des.h): arguments
 * in, the run built by cli/serve_request.c, text / JSON / CSV / the latency-CDF plot out
 * through report/serve_report.h. */
#include <stdio.h>
#include <stdlib.h>

#include "cli/cli_args.h"
#include "cli/commands.h"
#include "cli/request.h"
#include "cli/serve_request.h"
#include "report/serve_report.h"

static int serve_fail(int code, const char *msg)
{
    char m[1100];
    snprintf(m, sizeof m, "serve: %s", msg);
    return cmd_fail(code, m);
}

static void serve_usage(FILE *f)
{
    fprintf(f, "usage: moesim serve --model M --hw H [split options] --rate R [--requests N] [options]\n"
               "       moesim serve --model M --hw H ... --trace FILE.csv\n"
               "Simulates requests arriving at a deployment, one engine iteration at a time, and reports\n"
               "TTFT / TPOT / end-to-end percentiles, throughput, goodput under an SLO and utilization,\n"
               "measured after the warm-up and before the cool-down, and whether the rate is sustainable.\n"
               "Without --requests the run is sized from the rate and the predicted latency.\n"
               "With --requests-per-day N (or --requests-per-hour) instead of --rate, the run is the traffic's\n"
               "peak (mean x --peak-factor) on the replicas the steady state sizes for it (or --replicas), and\n"
               "the month's bill follows: $/h, $/day, $/month, $/M tokens at the traffic's load, kWh/month,\n"
               "and the hosted APIs for the same traffic; with --price and a rate, the bill of that constant load.\n"
               "output:\n"
               "  --json                   the full result (with the timeline) as JSON on stdout\n"
               "  --csv FILE               the summary as one CSV row\n"
               "  --requests-csv FILE      one CSV row per request\n"
               "  --timeline-csv FILE      requests in system, waiting, running, busy share, KV use over time\n"
               "  --plot FILE.png|.svg     latency CDFs (TTFT, TPOT, end-to-end)\n"
               "options (also fields of moesim.serve{} in Lua):\n");
    sim_cli_option_help(f);
}

int cmd_serve(int argc, char **argv)
{
    sim_request r;
    sim_request_defaults(&r);
    const char *csv = NULL, *req_csv = NULL, *tl_csv = NULL, *plot = NULL;
    bool json = false;
    const sim_cli_flag x[] = {
        { "--json", NULL, &json },         { "--csv", &csv, NULL },          { "--requests-csv", &req_csv, NULL },
        { "--timeline-csv", &tl_csv, NULL }, { "--plot", &plot, NULL },
    };
    int rc = sim_cli_parse("serve", argc, argv, &r, x, (int)(sizeof x / sizeof x[0]));
    if (rc == 1) {
        serve_usage(stdout);
        return 0;
    }
    if (rc)
        return rc;
    sim_err err = { 0 };
    sim_session *session = sim_session_alloc();
    cli_serve_run *run = malloc(sizeof *run);
    if (!session || !run) {
        sim_session_free(session);
        free(run);
        return cmd_fail(SIM_EFAIL, "serve: out of memory");
    }
    rc = cli_serve_simulate(session, &r, req_csv || plot, true, run, &err);
    cJSON *rep = rc ? NULL : cli_serve_report_json(run);
    if (!rc && !rep)
        rc = sim_fail(&err, SIM_EFAIL, "out of memory building the report");
    if (rc) {
        cli_serve_run_free(run);
        free(run);
        sim_session_free(session);
        return serve_fail(err.code, err.msg);
    }
    /* A run too short for a steady state keeps the count asked for, and says so. */
    if (!run->result.steady_state)
        fprintf(stderr, "moesim serve: warning: no steady state: %s\n", run->result.steady_note);
    if (csv && sim_serve_report_summary_csv(csv, rep, &err))
        rc = 1;
    if (!rc && req_csv && sim_serve_report_records_csv(req_csv, &run->result, &err))
        rc = 1;
    if (!rc && tl_csv && sim_serve_report_rows_csv(tl_csv, cJSON_GetObjectItemCaseSensitive(rep, "timeline"), &err))
        rc = 1;
    if (!rc && plot && sim_serve_report_cdf_plot(plot, &run->result, &err))
        rc = 1;
    if (json) {
        char *text = cJSON_Print(rep);
        if (text)
            puts(text);
        free(text);
    } else {
        cli_serve_report_print(stdout, run);
    }
    cJSON_Delete(rep);
    cli_serve_run_free(run);
    free(run);
    sim_session_free(session);
    return rc ? serve_fail(err.code, err.msg) : 0;
}
