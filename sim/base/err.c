/* err.c: filling sim_err messages. */
#include "base/err.h"

#include <stdio.h>
#include <string.h>

int sim_fail(sim_err *err, int code, const char *fmt, ...)
{
    if (err) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(err->msg, sizeof err->msg, fmt, ap);
        va_end(ap);
        err->code = code;
    }
    return code;
}

int sim_wrap(sim_err *err, const char *fmt, ...)
{
    if (!err)
        return SIM_EFAIL;
    char prefix[512], old[sizeof err->msg];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(prefix, sizeof prefix, fmt, ap);
    va_end(ap);
    memcpy(old, err->msg, sizeof old);
    snprintf(err->msg, sizeof err->msg, "%.400s: %.600s", prefix, old);
    return err->code ? err->code : SIM_EFAIL;
}
