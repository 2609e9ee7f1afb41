/* cmd_fail.c: how every command reports failure: one line on stderr, and the exit status
 * policy (2 = bad input, 1 = failure while running). In the front-end library, not in main.c,
 * so tests and fuzz targets that parse arguments link without the dispatcher. */
#include <stdio.h>

#include "base/err.h"
#include "cli/commands.h"

int cmd_fail(int code, const char *msg)
{
    fprintf(stderr, "moesim: %s\n", msg);
    return code == SIM_EINPUT ? 2 : 1;
}
