/* err.h: how moesim reports failure. A function that can fail returns an int status and
 * fills a sim_err whose message names the file, field or argument at fault. */
#ifndef MOESIM_ERR_H
#define MOESIM_ERR_H

#include <stdarg.h>

enum {
    SIM_OK = 0,
    SIM_EINPUT = 2,    /* bad input from the user: exit status 2 */
    SIM_EFAIL = 1,     /* anything else (I/O, allocation) */
};

typedef struct sim_err {
    int code;
    char msg[1024];
} sim_err;

/* Set the error (code and printf-style message); returns code so callers can `return sim_fail(...)`. */
int sim_fail(sim_err *err, int code, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

/* Prefix an existing message with context, e.g. the file name: "file.json: <old message>". */
int sim_wrap(sim_err *err, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#endif
