/* transport_nccl.c: expert-parallel exchange of device buffers over NCCL (grouped send/recv),
 * bootstrapped and agreed over MPI. Built only where the CUDA toolkit and NCCL are present. */
#include "cuda_api.h"
#include "../backend.h"
#include "../engine.h"

#include <cuda_runtime_api.h>
#include <nccl.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

typedef struct nccl_impl {
    eng_transport *mpi;
    ncclComm_t comm;
    cudaStream_t stream;          /* the stream of the layer running now (set per forward) */
    double timeout_s;
} nccl_impl;

/* Why abort, and why the transport waits for its own exchange: a rank whose send/recv fails
 * returns an error, while its peers sit in a kernel waiting for data that never comes; a
 * plain cudaStreamSynchronize there hangs for ever. So the failing rank aborts its
 * communicator (ncclCommAbort: its connections close, which peers see as an asynchronous
 * error), and every rank waits for the exchange by polling the stream and
 * ncclCommGetAsyncError, aborting on an error or after MOESIM_NCCL_TIMEOUT_S seconds. */
static void nccl_abort(nccl_impl *n)
{
    if (n && n->comm) {
        ncclCommAbort(n->comm);
        n->comm = NULL;
    }
}

static int nccl_fail(eng_transport *t, ncclResult_t r, const char *call, size_t bytes, sim_err *err)
{
    if (t) {
        t->broken = 1;
        nccl_abort(t->impl);
    }
    return sim_fail(err, SIM_EFAIL, "%s (%zu bytes) failed: %s (NCCL error %d)%s", call, bytes, ncclGetErrorString(r),
                    (int)r, t ? "; communicator aborted" : "");
}

static int nccl_wait(eng_transport *t, size_t total, sim_err *err)
{
    nccl_impl *n = t->impl;
    const double t0 = eng_now();
    const struct timespec nap = { 0, 20000 };   /* 20 us: far below an exchange's own time */
    for (;;) {
        cudaError_t ce = cudaStreamQuery(n->stream);
        if (ce == cudaSuccess)
            return SIM_OK;
        if (ce != cudaErrorNotReady) {
            t->broken = 1;
            nccl_abort(n);
            return sim_fail(err, SIM_EFAIL, "cudaStreamQuery (all-to-all, %zu bytes): %s; communicator aborted", total,
                            cudaGetErrorString(ce));
        }
        ncclResult_t ar = ncclSuccess, r = ncclCommGetAsyncError(n->comm, &ar);
        if (r != ncclSuccess)
            return nccl_fail(t, r, "ncclCommGetAsyncError", total, err);
        if (ar != ncclSuccess && ar != ncclInProgress)
            return nccl_fail(t, ar, "the all-to-all (asynchronous NCCL error, a peer failed?)", total, err);
        if (eng_now() - t0 > n->timeout_s) {
            t->broken = 1;
            nccl_abort(n);
            return sim_fail(err, SIM_EFAIL, "the all-to-all (%zu bytes) did not finish within %.0f s (a peer failed or "
                            "hangs; MOESIM_NCCL_TIMEOUT_S sets the limit); communicator aborted", total, n->timeout_s);
        }
        nanosleep(&nap, NULL);
    }
}

static int nccl_exchange(eng_transport *t, const void *send, void *recv, size_t bytes, sim_err *err)
{
    nccl_impl *n = t->impl;
    int rc = n->mpi->ops->exchange(n->mpi, send, recv, bytes, err);
    t->broken |= n->mpi->broken;
    return rc;
}

/* Why grouped send/recv and not ncclAllToAll: the blocks differ in size per peer (routing is
 * uneven), and a zero-size peer is simply skipped. The own block is a device copy. */
static int nccl_alltoallv(eng_transport *t, const void *send, const size_t *send_bytes, void *recv,
                          const size_t *recv_bytes, sim_err *err)
{
    nccl_impl *n = t->impl;
    size_t so = 0, ro = 0, total = 0;
    if (!n->comm)
        return sim_fail(err, SIM_EFAIL, "NCCL alltoallv: the communicator was aborted after an earlier failure");
    if (!n->stream)
        return sim_fail(err, SIM_EFAIL, "NCCL alltoallv: no stream set (eng_transport_nccl_set_stream)");
    for (int p = 0; p < t->rank; p++)
        so += send_bytes[p], ro += recv_bytes[p];
    if (send_bytes[t->rank] != recv_bytes[t->rank])
        return sim_fail(err, SIM_EFAIL, "NCCL alltoallv: %zu bytes to self but %zu expected", send_bytes[t->rank],
                        recv_bytes[t->rank]);
    if (send_bytes[t->rank]) {
        cudaError_t ce = cudaMemcpyAsync((char *)recv + ro, (const char *)send + so, send_bytes[t->rank],
                                         cudaMemcpyDeviceToDevice, n->stream);
        if (ce != cudaSuccess)
            return sim_fail(err, SIM_EFAIL, "cudaMemcpyAsync (own block, %zu bytes): %s", send_bytes[t->rank],
                            cudaGetErrorString(ce));
    }
    ncclResult_t r = ncclGroupStart();
    if (r != ncclSuccess)
        return nccl_fail(t, r, "ncclGroupStart", 0, err);
    so = ro = 0;
    for (int p = 0; p < t->size && r == ncclSuccess; p++) {
        if (p != t->rank && send_bytes[p])
            r = ncclSend((const char *)send + so, send_bytes[p], ncclUint8, p, n->comm, n->stream);
        if (r == ncclSuccess && p != t->rank && recv_bytes[p])
            r = ncclRecv((char *)recv + ro, recv_bytes[p], ncclUint8, p, n->comm, n->stream);
        so += send_bytes[p];
        ro += recv_bytes[p];
        total += send_bytes[p] + recv_bytes[p];
    }
    ncclResult_t r2 = ncclGroupEnd();
    if (r != ncclSuccess)
        return nccl_fail(t, r, "ncclSend/ncclRecv", total, err);
    if (r2 != ncclSuccess)
        return nccl_fail(t, r2, "ncclGroupEnd (all-to-all)", total, err);
    return nccl_wait(t, total, err);
}

static int nccl_agree(eng_transport *t, int status)
{
    nccl_impl *n = t->impl;
    int all = n->mpi->ops->agree(n->mpi, status);
    t->broken |= n->mpi->broken;
    return all;
}

static int nccl_max(eng_transport *t, double *v, int cnt, sim_err *err)
{
    nccl_impl *n = t->impl;
    int rc = n->mpi->ops->max(n->mpi, v, cnt, err);
    t->broken |= n->mpi->broken;
    return rc;
}

static void nccl_destroy(eng_transport *t)
{
    nccl_impl *n = t->impl;
    if (n) {
        if (n->comm)
            ncclCommDestroy(n->comm);
        eng_transport_destroy(n->mpi);
        free(n);
    }
    free(t);
}

static const eng_transport_ops nccl_ops = {
    nccl_exchange, nccl_alltoallv, nccl_agree, nccl_max, nccl_destroy,
};

int eng_transport_nccl(eng_transport **out, sim_err *err)
{
    eng_transport *mpi = NULL;
    int rc = eng_transport_mpi(&mpi, err);
    if (rc != SIM_OK)
        return rc;
    eng_transport *t = calloc(1, sizeof *t);
    nccl_impl *n = calloc(1, sizeof *n);
    if (!t || !n) {
        free(t), free(n);
        eng_transport_destroy(mpi);
        return sim_fail(err, SIM_EFAIL, "out of memory allocating the NCCL transport");
    }
    n->mpi = mpi;
    const char *to = getenv("MOESIM_NCCL_TIMEOUT_S");
    n->timeout_s = to && atof(to) > 0 ? atof(to) : 300;   /* a generous bound: a layer's exchange takes ms */
    t->ops = &nccl_ops;
    t->name = "nccl";
    t->rank = mpi->rank;
    t->size = mpi->size;
    t->impl = n;
    /* every rank must reach the same collectives: pick the device, agree, then share the id */
    int dev = eng_cuda_pick_device(mpi->rank, err);
    rc = dev < 0 ? SIM_EFAIL : SIM_OK;
    if (rc == SIM_OK) {
        cudaError_t ce = cudaSetDevice(dev);
        if (ce != cudaSuccess)
            rc = sim_fail(err, SIM_EFAIL, "cudaSetDevice(%d): %s", dev, cudaGetErrorString(ce));
    }
    ncclUniqueId id;
    memset(&id, 0, sizeof id);
    ncclResult_t r = ncclSuccess;
    if (rc == SIM_OK && mpi->rank == 0 && (r = ncclGetUniqueId(&id)) != ncclSuccess)
        rc = nccl_fail(NULL, r, "ncclGetUniqueId", 0, err);
    int all = mpi->ops->agree(mpi, rc);
    if (all != SIM_OK) {
        if (rc == SIM_OK)
            sim_fail(err, all, "NCCL transport: setup failed on another rank");
        nccl_destroy(t);
        return all;
    }
    ncclUniqueId *ids = calloc((size_t)mpi->size, sizeof *ids), *got = calloc((size_t)mpi->size, sizeof *got);
    rc = ids && got ? SIM_OK : sim_fail(err, SIM_EFAIL, "out of memory sharing the NCCL id");
    for (int p = 0; rc == SIM_OK && p < mpi->size; p++)
        ids[p] = id;
    if (rc == SIM_OK)
        rc = mpi->ops->exchange(mpi, ids, got, sizeof id, err);
    if (rc == SIM_OK && (r = ncclCommInitRank(&n->comm, mpi->size, got[0], mpi->rank)) != ncclSuccess) {
        n->comm = NULL;
        rc = nccl_fail(NULL, r, "ncclCommInitRank", 0, err);
    }
    free(ids), free(got);
    all = mpi->ops->agree(mpi, rc);
    if (all != SIM_OK) {
        if (rc == SIM_OK)
            sim_fail(err, all, "NCCL transport: communicator setup failed on another rank");
        nccl_destroy(t);
        return all;
    }
    *out = t;
    return SIM_OK;
}

void eng_transport_nccl_set_stream(eng_transport *t, void *stream)
{
    ((nccl_impl *)t->impl)->stream = (cudaStream_t)stream;
}
