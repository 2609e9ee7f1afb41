/* catalog.h: what ships, as JSON rows: every model card with its derived parameter
 * counts, every hwmodel with its headline figures. `moesim models` / `moesim hw` print
 * them; Lua's moesim.models() / moesim.hardware() return them. */
#ifndef MOESIM_CATALOG_H
#define MOESIM_CATALOG_H

#include <cjson/cJSON.h>

#include "base/err.h"
#include "model/hw.h"
#include "model/model.h"

cJSON *sim_catalog_model_row(const sim_model *m);
cJSON *sim_catalog_hw_row(const sim_hw *h);

/* Arrays of rows for everything shipped; a file that fails to load fails the call. */
int sim_catalog_models(cJSON **rows, sim_err *err);
int sim_catalog_hw(cJSON **rows, sim_err *err);

#endif
