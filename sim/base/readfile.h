/* readfile.h: reading a whole input file into memory, bounded: a user can name any path
 * (--model /dev/zero, a 40 GB log by mistake), so every reader states the most it will
 * take and refuses more with a message, instead of reading until memory runs out. */
#ifndef MOESIM_READFILE_H
#define MOESIM_READFILE_H

#include <stddef.h>

#include "base/err.h"

/* Largest JSON input (model card, hwmodel, calibrated file, measurements); shipped ones are
 * a few kB to a few hundred kB. */
#define SIM_MAX_JSON_BYTES (64L << 20)
/* Largest request trace: about ten million CSV rows. */
#define SIM_MAX_TRACE_BYTES (256L << 20)

/* The file's bytes, NUL-terminated, in a malloc'ed buffer the caller frees with free();
 * *len (may be NULL) gets the byte count. NULL on failure: "PATH: cannot open: ..." (bad
 * input, exit 2), "PATH: larger than N MiB, the most a <what> may be" (bad input), or an
 * I/O or memory failure (SIM_EFAIL). `what` names the kind of file in messages. */
char *sim_read_file(const char *path, long max_bytes, const char *what, size_t *len, sim_err *err);

#endif
