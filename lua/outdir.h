/* outdir.h: the output folder of a scenario, the only place moesim.write_csv, write_json and
 * plot write to. A name is relative and has no ".."; every step of it is resolved from an
 * open descriptor of the folder with O_NOFOLLOW (openat), and the file itself may not be a
 * symbolic link, so a link placed inside the folder cannot redirect a write outside it.
 * Files are written to a temporary name in their folder and renamed into place: whole or
 * not at all. */
#ifndef MOESIM_LUA_OUTDIR_H
#define MOESIM_LUA_OUTDIR_H

#include <stddef.h>

#include "base/err.h"

/* Create `dir` and its missing parents. 0, or -1 with errno set. */
int lout_make_dirs(const char *dir);

/* Open the folder for lout_write / lout_copy: a descriptor the caller closes, or -1 with
 * errno set. */
int lout_open(const char *dir);

/* NULL when `name` may be used beneath the folder, else why not (a static string). */
const char *lout_check_name(const char *name);

/* Write `len` bytes to `name` beneath the folder `dirfd`, creating missing subfolders. */
int lout_write(int dirfd, const char *name, const void *data, size_t len, sim_err *err);

/* Copy the file `src_path` (one this process made, e.g. a chart rendered in a private
 * temporary folder) to `name` beneath the folder `dirfd`. */
int lout_copy(int dirfd, const char *name, const char *src_path, sim_err *err);

#endif
