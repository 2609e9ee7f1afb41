/* transport_host.c: alltoallv through host staging buffers with point-to-point MPI; the small
 * collectives are delegated to an MPI transport. Moves host or (with a copy hook) device data. */
#include "transport_host.h"
#include "../engine.h"

#include <limits.h>
#include <mpi.h>
#include <stdlib.h>
#include <string.h>

typedef struct host_impl {
    eng_transport *mpi;             /* counts, agree, max */
    eng_host_copy_fn copy;
    void *ctx;
    char *sbuf, *rbuf;              /* staging */
    size_t scap, rcap, staged;
    MPI_Request *req;
} host_impl;

static int plain_copy(void *ctx, void *dst, const void *src, size_t bytes, int to_host, sim_err *err)
{
    (void)ctx, (void)to_host, (void)err;
    if (bytes)
        memcpy(dst, src, bytes);
    return SIM_OK;
}

static int grow(char **p, size_t *cap, size_t bytes, const char *what, sim_err *err)
{
    if (bytes <= *cap && *p)
        return SIM_OK;
    char *q = eng_alloc(bytes ? bytes : 1, what, err);
    if (!q)
        return SIM_EFAIL;
    free(*p);
    *p = q;
    *cap = bytes;
    return SIM_OK;
}

static int host_exchange(eng_transport *t, const void *send, void *recv, size_t bytes, sim_err *err)
{
    host_impl *h = t->impl;
    int rc = h->mpi->ops->exchange(h->mpi, send, recv, bytes, err);
    t->broken |= h->mpi->broken;
    return rc;
}

static int mpi_err(eng_transport *t, int rc, const char *call, sim_err *err)
{
    char msg[MPI_MAX_ERROR_STRING];
    int len = 0;
    if (MPI_Error_string(rc, msg, &len) != MPI_SUCCESS)
        len = 0;
    msg[len] = '\0';
    t->broken = 1;
    return sim_fail(err, SIM_EFAIL, "%s failed (host transport): %s (MPI error %d)", call, msg, rc);
}

static int host_alltoallv(eng_transport *t, const void *send, const size_t *send_bytes, void *recv,
                          const size_t *recv_bytes, sim_err *err)
{
    host_impl *h = t->impl;
    const int n = t->size;
    size_t stot = 0, rtot = 0;
    for (int p = 0; p < n; p++) {
        if (send_bytes[p] > INT_MAX || recv_bytes[p] > INT_MAX) {
            t->broken = 1;   /* the peers may be waiting in their receives already */
            return sim_fail(err, SIM_EFAIL, "host transport: %zu bytes to / %zu from rank %d exceed MPI's int "
                            "count; use fewer tokens per rank", send_bytes[p], recv_bytes[p], p);
        }
        stot += send_bytes[p];
        rtot += recv_bytes[p];
    }
    if (grow(&h->sbuf, &h->scap, stot, "host transport send staging", err) ||
        grow(&h->rbuf, &h->rcap, rtot, "host transport receive staging", err)) {
        t->broken = 1;
        return SIM_EFAIL;
    }
    if (h->copy(h->ctx, h->sbuf, send, stot, 1, err) != SIM_OK) {
        t->broken = 1;
        return sim_wrap(err, "host transport: staging %zu bytes to send", stot);
    }
    size_t so = 0, ro = 0;
    int nreq = 0, rc = MPI_SUCCESS;
    /* receives first, so each peer's send finds its match posted */
    for (int p = 0; p < n && rc == MPI_SUCCESS; p++) {
        if (recv_bytes[p])
            rc = MPI_Irecv(h->rbuf + ro, (int)recv_bytes[p], MPI_BYTE, p, 77, MPI_COMM_WORLD, &h->req[nreq++]);
        ro += recv_bytes[p];
    }
    for (int p = 0; p < n && rc == MPI_SUCCESS; p++) {
        if (send_bytes[p])
            rc = MPI_Isend(h->sbuf + so, (int)send_bytes[p], MPI_BYTE, p, 77, MPI_COMM_WORLD, &h->req[nreq++]);
        so += send_bytes[p];
    }
    if (rc != MPI_SUCCESS)
        return mpi_err(t, rc, "MPI_Isend/MPI_Irecv", err);
    if ((rc = MPI_Waitall(nreq, h->req, MPI_STATUSES_IGNORE)) != MPI_SUCCESS)
        return mpi_err(t, rc, "MPI_Waitall", err);
    if (h->copy(h->ctx, recv, h->rbuf, rtot, 0, err) != SIM_OK) {
        t->broken = 1;
        return sim_wrap(err, "host transport: copying %zu received bytes out", rtot);
    }
    h->staged += stot + rtot;
    return SIM_OK;
}

static int host_agree(eng_transport *t, int status)
{
    host_impl *h = t->impl;
    int all = h->mpi->ops->agree(h->mpi, status);
    t->broken |= h->mpi->broken;
    return all;
}

static int host_max(eng_transport *t, double *v, int n, sim_err *err)
{
    host_impl *h = t->impl;
    int rc = h->mpi->ops->max(h->mpi, v, n, err);
    t->broken |= h->mpi->broken;
    return rc;
}

static void host_destroy(eng_transport *t)
{
    host_impl *h = t->impl;
    if (h) {
        eng_transport_destroy(h->mpi);
        free(h->sbuf);
        free(h->rbuf);
        free(h->req);
        free(h);
    }
    free(t);
}

static const eng_transport_ops host_ops = {
    host_exchange, host_alltoallv, host_agree, host_max, host_destroy,
};

int eng_transport_host(eng_transport **out, sim_err *err)
{
    eng_transport *mpi = NULL;
    int rc = eng_transport_mpi(&mpi, err);
    if (rc != SIM_OK)
        return rc;
    eng_transport *t = calloc(1, sizeof *t);
    host_impl *h = calloc(1, sizeof *h);
    MPI_Request *req = calloc(2 * (size_t)mpi->size, sizeof *req);
    if (!t || !h || !req) {
        free(t), free(h), free(req);
        eng_transport_destroy(mpi);
        return sim_fail(err, SIM_EFAIL, "out of memory allocating the host transport");
    }
    h->mpi = mpi;
    h->copy = plain_copy;
    h->req = req;
    t->ops = &host_ops;
    t->name = "host";
    t->rank = mpi->rank;
    t->size = mpi->size;
    t->impl = h;
    *out = t;
    return SIM_OK;
}

void eng_transport_host_set_copy(eng_transport *t, eng_host_copy_fn copy, void *ctx)
{
    host_impl *h = t->impl;
    h->copy = copy ? copy : plain_copy;
    h->ctx = ctx;
}

size_t eng_transport_host_staged(const eng_transport *t)
{
    return ((const host_impl *)t->impl)->staged;
}
