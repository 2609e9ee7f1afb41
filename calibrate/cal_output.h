/* cal_output.h: what calibration hands back: the table of measured against predicted times
 * with the held-out error, and the calibrated hwmodel file (the base hwmodel with this host's
 * peaks and bandwidth, the fitted efficiencies, provenance and the raw measurements). */
#ifndef MOESIM_CAL_OUTPUT_H
#define MOESIM_CAL_OUTPUT_H

#include <cjson/cJSON.h>
#include <stdio.h>

#include "model/hw.h"
#include "cal_fit.h"
#include "cal_points.h"

/* Error summary over layer points. */
typedef struct cal_errors {
    int n_held, n_fit;
    double mape_held, mape_fit;      /* mean |pred - meas| / meas, percent */
    int worst;                       /* index of the held-out point with the largest |error|, -1 if none */
    double worst_pct;                /* its signed error, percent */
} cal_errors;

void cal_errors_compute(const cal_set *s, cal_errors *e);

/* What the calibrated file says about where it came from. */
typedef struct cal_meta {
    const char *name, *display_name;
    const char *base_name, *base_path, *base_why;
    const char *backend, *plan;      /* "cpu"/"cuda"; "quick", "full" or "--from FILES" */
    const char *command;             /* the moesim command line */
    const char *date, *version;
    const char *device, *driver;     /* detected device, driver (GPU) */
    const char *identity;            /* the hardware measured (cal_host_identity) */
    bool replace_peaks;              /* CPU: peaks and tier-0 bandwidth from this host */
    const double *peaks;             /* [SIM_DT_COUNT], when replace_peaks */
    const char *peak_source;
    double mem_bytes;                /* tier-0 capacity, when replace_peaks and known */
    double tier0_Bps;                /* tier-0 bandwidth (triad-derived), when replace_peaks */
    const char *tier0_source;
    int ab_points;                   /* all-to-all alpha-beta fit, when ab_points > 0 */
    double alpha_s, beta_Bps, ab_rms;
} cal_meta;

/* The table, the error summary and the fitted parameters, as text. */
void cal_report_print(FILE *f, const cal_set *s, const cal_fit *fit, const cal_errors *e, const cal_meta *m);

/* Build the calibrated hwmodel from the base file; the result is checked by loading it back
 * (sim_hw_load) before it is written, atomically, to `out`. An existing `out` is replaced
 * only by a complete, valid file. */
int cal_write_hwmodel(const char *out, const sim_hw *fitted, const cal_set *s, const cal_fit *fit,
                      const cal_errors *e, const cal_meta *m, sim_err *err);

#endif
