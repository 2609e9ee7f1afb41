/* transport_mpi.c: expert-parallel exchange over MPI_COMM_WORLD. Errors are returned (the
 * communicator's handler is MPI_ERRORS_RETURN) and turned into messages naming the call. */
#include "transport.h"

#include <limits.h>
#include <mpi.h>
#include <stdlib.h>

typedef struct mpi_impl {
    int *scount, *sdispl, *rcount, *rdispl;   /* per-peer int arrays for MPI_Alltoallv */
} mpi_impl;

static int mpi_fail(eng_transport *t, sim_err *err, int rc, const char *call)
{
    if (t)
        t->broken = 1;
    char msg[MPI_MAX_ERROR_STRING];
    int len = 0;
    if (MPI_Error_string(rc, msg, &len) != MPI_SUCCESS)
        len = 0;
    msg[len] = '\0';
    return sim_fail(err, SIM_EFAIL, "%s failed: %s (MPI error %d)", call, msg, rc);
}

static int mpi_exchange(eng_transport *t, const void *send, void *recv, size_t bytes, sim_err *err)
{
    if (bytes > INT_MAX && (t->broken = 1))
        return sim_fail(err, SIM_EFAIL, "MPI_Alltoall: %zu bytes per rank exceeds MPI's int count", bytes);
    int rc = MPI_Alltoall(send, (int)bytes, MPI_BYTE, recv, (int)bytes, MPI_BYTE, MPI_COMM_WORLD);
    return rc == MPI_SUCCESS ? SIM_OK : mpi_fail(t, err, rc, "MPI_Alltoall (counts exchange)");
}

/* Byte counts travel as ints: a block over 2 GiB is refused with a message, not truncated. */
static int to_displs(const size_t *bytes, int n, int *count, int *displ, const char *dir, sim_err *err)
{
    size_t off = 0;
    for (int p = 0; p < n; p++) {
        if (bytes[p] > INT_MAX || off > INT_MAX)
            return sim_fail(err, SIM_EFAIL, "MPI_Alltoallv: %zu bytes %s rank %d (at offset %zu) "
                            "exceed MPI's int count; use fewer tokens per rank", bytes[p], dir, p, off);
        count[p] = (int)bytes[p];
        displ[p] = (int)off;
        off += bytes[p];
    }
    return SIM_OK;
}

static int mpi_alltoallv(eng_transport *t, const void *send, const size_t *send_bytes,
                         void *recv, const size_t *recv_bytes, sim_err *err)
{
    mpi_impl *m = t->impl;
    int rc = to_displs(send_bytes, t->size, m->scount, m->sdispl, "to", err);
    if (rc == SIM_OK)
        rc = to_displs(recv_bytes, t->size, m->rcount, m->rdispl, "from", err);
    if (rc != SIM_OK) {
        t->broken = 1;    /* the other ranks may be inside the collective already */
        return rc;
    }
    rc = MPI_Alltoallv(send, m->scount, m->sdispl, MPI_BYTE, recv, m->rcount, m->rdispl, MPI_BYTE,
                       MPI_COMM_WORLD);
    return rc == MPI_SUCCESS ? SIM_OK : mpi_fail(t, err, rc, "MPI_Alltoallv");
}

static int mpi_agree(eng_transport *t, int status)
{
    int all = status;
    if (MPI_Allreduce(&status, &all, 1, MPI_INT, MPI_MAX, MPI_COMM_WORLD) != MPI_SUCCESS) {
        t->broken = 1;
        return status ? status : SIM_EFAIL;
    }
    return all;
}

static int mpi_max(eng_transport *t, double *v, int n, sim_err *err)
{
    (void)t;
    int rc = MPI_Allreduce(MPI_IN_PLACE, v, n, MPI_DOUBLE, MPI_MAX, MPI_COMM_WORLD);
    return rc == MPI_SUCCESS ? SIM_OK : mpi_fail(t, err, rc, "MPI_Allreduce (max)");
}

static void mpi_destroy(eng_transport *t)
{
    mpi_impl *m = t->impl;
    if (m) {
        free(m->scount);
        free(m->sdispl);
        free(m->rcount);
        free(m->rdispl);
        free(m);
    }
    free(t);
}

static const eng_transport_ops mpi_ops = {
    mpi_exchange, mpi_alltoallv, mpi_agree, mpi_max, mpi_destroy,
};

int eng_transport_mpi(eng_transport **out, sim_err *err)
{
    int rc = MPI_Comm_set_errhandler(MPI_COMM_WORLD, MPI_ERRORS_RETURN);
    if (rc != MPI_SUCCESS)
        return mpi_fail(NULL, err, rc, "MPI_Comm_set_errhandler");
    int rank, size;
    if ((rc = MPI_Comm_rank(MPI_COMM_WORLD, &rank)) != MPI_SUCCESS)
        return mpi_fail(NULL, err, rc, "MPI_Comm_rank");
    if ((rc = MPI_Comm_size(MPI_COMM_WORLD, &size)) != MPI_SUCCESS)
        return mpi_fail(NULL, err, rc, "MPI_Comm_size");
    eng_transport *t = calloc(1, sizeof *t);
    mpi_impl *m = calloc(1, sizeof *m);
    if (m) {
        m->scount = calloc((size_t)size, sizeof(int));
        m->sdispl = calloc((size_t)size, sizeof(int));
        m->rcount = calloc((size_t)size, sizeof(int));
        m->rdispl = calloc((size_t)size, sizeof(int));
    }
    if (!t || !m || !m->scount || !m->sdispl || !m->rcount || !m->rdispl) {
        if (m) {
            free(m->scount);
            free(m->sdispl);
            free(m->rcount);
            free(m->rdispl);
            free(m);
        }
        free(t);
        return sim_fail(err, SIM_EFAIL, "out of memory allocating the MPI transport for %d ranks", size);
    }
    t->ops = &mpi_ops;
    t->name = "mpi";
    t->rank = rank;
    t->size = size;
    t->impl = m;
    *out = t;
    return SIM_OK;
}
