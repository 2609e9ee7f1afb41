/* registry.h: where shipped model cards and hwmodels live, and turning a name or a path
 * into a loaded model or hwmodel. An unknown name gets an error that lists the closest
 * shipped names. The data directory is $MOESIM_HOME, else the source tree the binary was
 * built from. */
#ifndef MOESIM_REGISTRY_H
#define MOESIM_REGISTRY_H

#include "base/err.h"
#include "model/hw.h"
#include "model/model.h"

/* Repository root holding scenarios/ and hwmodels/. */
const char *sim_home(void);

/* Load by shipped name ("deepseek-v3", "deepseek-r1" via aliases), or by path to a JSON
 * file (anything containing '/' or ending in .json). Hwmodel names also find
 * hwmodels/calibrated/NAME.json when asked as "calibrated/NAME". */
int sim_registry_model(const char *name_or_path, sim_model *out, sim_err *err);
int sim_registry_hw(const char *name_or_path, sim_hw *out, sim_err *err);

/* Shipped names, sorted; returns the count and fills up to `cap` entries of `names`
 * (each up to 64 chars). */
int sim_registry_list_models(char names[][64], int cap);
int sim_registry_list_hw(char names[][64], int cap);
/* Calibrated hwmodels (hwmodels/calibrated/NAME.json), named "calibrated/NAME". */
int sim_registry_list_calibrated(char names[][64], int cap);

/* Levenshtein distance, for suggestions. */
int sim_edit_distance(const char *a, const char *b);

#endif
