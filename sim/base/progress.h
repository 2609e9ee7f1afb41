/* progress.h: progress of long runs (request simulation, search) on stderr, one line per
 * tenth done, so results on stdout stay clean. */
#ifndef MOESIM_PROGRESS_H
#define MOESIM_PROGRESS_H

typedef struct sim_progress {
    const char *what;   /* "moesim serve: %d%% of requests done" (one %d) */
    int last;           /* last percentage printed; start at -1 */
} sim_progress;

/* A progress callback: ctx is a sim_progress, share in [0, 1]. */
void sim_progress_tenths(void *ctx, double share);

#endif
