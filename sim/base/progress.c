/* progress.c: a line on stderr each time another tenth of a long run is done. */
#include "base/progress.h"

#include <stdio.h>

void sim_progress_tenths(void *ctx, double share)
{
    sim_progress *p = ctx;
    int pct = (int)(share * 100);
    if (p->last >= 0 && pct / 10 == p->last / 10)
        return;
    p->last = pct;
    fprintf(stderr, p->what, pct);
    fputc('\n', stderr);
}
