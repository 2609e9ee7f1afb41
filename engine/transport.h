/* transport.h: what expert parallelism needs from the ranks' interconnect, and nothing more:
 * a fixed-size exchange (per-expert counts), a variable-size all-to-all of byte buffers
 * (dispatch and combine), agreement on failure, and a max-reduction (timings, errors).
 * Implementations: one rank (transport_local.c), MPI (transport_mpi.c); NCCL comes later. */
#ifndef MOESIM_TRANSPORT_H
#define MOESIM_TRANSPORT_H

#include <stddef.h>

#include "base/err.h"

typedef struct eng_transport eng_transport;

typedef struct eng_transport_ops {
    /* recv[p] = what rank p put in its send[rank]; each block is `bytes` long. */
    int (*exchange)(eng_transport *t, const void *send, void *recv, size_t bytes, sim_err *err);
    /* send holds size blocks back to back, block p (send_bytes[p] long) going to rank p;
     * recv receives block p from rank p, back to back in rank order. */
    int (*alltoallv)(eng_transport *t, const void *send, const size_t *send_bytes,
                     void *recv, const size_t *recv_bytes, sim_err *err);
    /* Max of `status` over all ranks: a rank that failed locally makes every rank stop before
     * the next collective, instead of leaving the others waiting in it. */
    int (*agree)(eng_transport *t, int status);
    /* v[i] = max over ranks of v[i]. */
    int (*max)(eng_transport *t, double *v, int n, sim_err *err);
    void (*destroy)(eng_transport *t);
} eng_transport_ops;

struct eng_transport {
    const eng_transport_ops *ops;
    const char *name;        /* "local", "mpi" */
    int rank, size;
    int broken;              /* a collective failed: the ranks may be out of step */
    void *impl;
};

/* A transport of one rank: exchange and all-to-all are copies. */
int eng_transport_local(eng_transport **out, sim_err *err);

/* MPI over MPI_COMM_WORLD (the caller has called MPI_Init). Errors return, not abort: the
 * message names the MPI call, the stage and MPI's own error string. */
int eng_transport_mpi(eng_transport **out, sim_err *err);

void eng_transport_destroy(eng_transport *t);

#endif
