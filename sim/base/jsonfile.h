/* jsonfile.h: reading JSON files (cJSON) with errors a user can act on: a parse error names
 * the file, line and column; a missing or mistyped field names the file and the field path.
 * Writing goes through a temporary file and a rename, so a file is written whole or not at all. */
#ifndef MOESIM_JSONFILE_H
#define MOESIM_JSONFILE_H

#include <cjson/cJSON.h>
#include <stdbool.h>

#include "base/err.h"

/* Parse a whole file. On failure returns NULL and err says "FILE:LINE:COL: ...". */
cJSON *sim_json_load(const char *path, sim_err *err);

/* Parse a string; `name` is used in messages in place of a file name. */
cJSON *sim_json_parse(const char *text, const char *name, sim_err *err);

/* Field access for loaders. `file` and `path` ("attention.heads") only label messages.
 * sim_json_num/sim_json_int/sim_json_str fail when the field is missing or null; the _opt forms keep *out at its
 * default when it is missing, and fail only when it is present with the wrong type. */
int sim_json_num(const cJSON *obj, const char *key, double *out, const char *file, const char *path, sim_err *err);
int sim_json_num_opt(const cJSON *obj, const char *key, double *out, const char *file, const char *path, sim_err *err);
int sim_json_int(const cJSON *obj, const char *key, int *out, const char *file, const char *path, sim_err *err);
int sim_json_int_opt(const cJSON *obj, const char *key, int *out, const char *file, const char *path, sim_err *err);
int sim_json_str(const cJSON *obj, const char *key, char *out, size_t cap, const char *file, const char *path, sim_err *err);
int sim_json_str_opt(const cJSON *obj, const char *key, char *out, size_t cap, const char *file, const char *path, sim_err *err);
int sim_json_bool_opt(const cJSON *obj, const char *key, bool *out, const char *file, const char *path, sim_err *err);
/* Rejects any member of `obj` not in `allowed` (NULL-terminated), naming the file, the field
 * path and the allowed names, and any member that appears twice (cJSON would keep the first). */
int sim_json_check_keys(const cJSON *obj, const char *const *allowed, const char *file, const char *path,
                        sim_err *err);
/* An object field that must exist. */
const cJSON *sim_json_obj(const cJSON *obj, const char *key, const char *file, const char *path, sim_err *err);

/* Building results. A figure that cannot be computed (not finite) is written as JSON null,
 * never as a number: a reader must not mistake it for a measured 0. Say why in the object
 * (a "reason" string) where the builder knows. */
void sim_json_add_num(cJSON *obj, const char *key, double v);


/* Write `text` to `path` atomically (PATH.tmp.PID, fsync, rename). */
int sim_json_write_atomic(const char *path, const char *text, sim_err *err);

/* Print `json` (formatted) and write it atomically. */
int sim_json_save(const char *path, const cJSON *json, sim_err *err);

#endif
