/* transport_local.c: the transport of a single rank. Everything is a copy to oneself, so the
 * expert-parallel code path runs unchanged without MPI. */
#include "transport.h"

#include <stdlib.h>
#include <string.h>

static int local_exchange(eng_transport *t, const void *send, void *recv, size_t bytes, sim_err *err)
{
    (void)t, (void)err;
    if (bytes)
        memmove(recv, send, bytes);
    return SIM_OK;
}

static int local_alltoallv(eng_transport *t, const void *send, const size_t *send_bytes,
                           void *recv, const size_t *recv_bytes, sim_err *err)
{
    (void)t;
    if (send_bytes[0] != recv_bytes[0])
        return sim_fail(err, SIM_EFAIL, "alltoallv: sending %zu bytes to self but expecting %zu",
                        send_bytes[0], recv_bytes[0]);
    if (send_bytes[0])
        memmove(recv, send, send_bytes[0]);
    return SIM_OK;
}

static int local_agree(eng_transport *t, int status)
{
    (void)t;
    return status;
}

static int local_max(eng_transport *t, double *v, int n, sim_err *err)
{
    (void)t, (void)v, (void)n, (void)err;
    return SIM_OK;
}

static void local_destroy(eng_transport *t)
{
    free(t);
}

static const eng_transport_ops local_ops = {
    local_exchange, local_alltoallv, local_agree, local_max, local_destroy,
};

int eng_transport_local(eng_transport **out, sim_err *err)
{
    eng_transport *t = calloc(1, sizeof *t);
    if (!t)
        return sim_fail(err, SIM_EFAIL, "out of memory allocating the local transport");
    t->ops = &local_ops;
    t->name = "local";
    t->rank = 0;
    t->size = 1;
    *out = t;
    return SIM_OK;
}

void eng_transport_destroy(eng_transport *t)
{
    if (t)
        t->ops->destroy(t);
}
