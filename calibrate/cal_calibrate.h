/* cal_calibrate.h: one calibration, from options to a fitted hwmodel: detect the host, pick
 * the base hwmodel, measure with the engine (or read earlier bench files), set up the model
 * to fit (on a CPU: this host's peaks and measured bandwidth), fit the efficiencies and the
 * all-to-all, and compute the errors. The command (cli/cmd_calibrate.c) parses arguments,
 * calls this, then prints (cal_report_print) and writes (cal_write_hwmodel). Progress goes
 * to stderr, as the measurement does. */
#ifndef MOESIM_CAL_CALIBRATE_H
#define MOESIM_CAL_CALIBRATE_H

#include <stdbool.h>

#include "base/err.h"
#include "cal_detect.h"
#include "cal_fit.h"
#include "cal_output.h"
#include "cal_points.h"
#include "model/hw.h"

typedef struct cal_options {
    const char *backend;      /* "cpu" or "cuda" */
    const char *base;         /* hwmodel to start from; NULL = the shipped one closest to this host */
    const char *bench_dir;    /* keep the engine's files here; NULL = a temporary folder, removed */
    const char *from;         /* comma-separated bench files to fit instead of measuring, or NULL */
    const char *name;         /* the calibrated hwmodel's name; NULL = from the hardware */
    bool quick;               /* the quick plan */
} cal_options;

typedef struct cal_result {
    cal_host host;
    bool gpu;                 /* calibrating a GPU (--backend cuda) */
    bool here;                /* CPU measurements taken on this host */
    bool replace;             /* CPU: peaks and tier-0 bandwidth replaced */
    sim_hw base;              /* the base hwmodel as loaded */
    char base_why[512];       /* why that base */
    sim_hw hw;                /* the fitted hwmodel */
    cal_set set;              /* the measurements, with predictions after the fit */
    cal_fit fit;
    cal_errors errors;
    double peaks[SIM_DT_COUNT];   /* when replace */
    char peak_source[2048], tier0_source[512];
    int ab_points;            /* all-to-all alpha-beta fit */
    double alpha_s, beta_Bps, ab_rms;
    char name[96], display_name[256], device[512], plan[64];
    char identity[256];       /* the hardware measured (cal_host_identity), recorded in the file */
} cal_result;

/* Calibrate. On success the caller frees *r with cal_result_free (also after a failure:
 * it is then empty or partly filled, and freeing is safe). */
int cal_calibrate(const cal_options *o, cal_result *r, sim_err *err);
void cal_result_free(cal_result *r);

/* What the calibrated file records about its provenance; `command` (the command line) and
 * `date` are the caller's. The strings point into r and the arguments: use *m while they live. */
void cal_result_meta(const cal_result *r, const char *command, const char *date, cal_meta *m);

#endif
