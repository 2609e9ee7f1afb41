/* transport_host.h: expert-parallel exchange through host memory over MPI: the second
 * implementation behind transport.h (beside NCCL) for ranks that share one GPU, which NCCL refuses. */
#ifndef MOESIM_ENG_TRANSPORT_HOST_H
#define MOESIM_ENG_TRANSPORT_HOST_H

#include "../transport.h"

/* Copies between the caller's buffers (host, or device for the CUDA backend) and the
 * transport's host staging buffers. to_host != 0: dst is staging, src the caller's buffer. */
typedef int (*eng_host_copy_fn)(void *ctx, void *dst, const void *src, size_t bytes, int to_host, sim_err *err);

/* Over MPI_COMM_WORLD (the caller has called MPI_Init). Counts, agreement and maxima go
 * through MPI collectives; alltoallv stages the send buffer into host memory, posts one
 * MPI_Isend/MPI_Irecv pair per peer (the pattern of NCCL's grouped send/recv), and copies the
 * received bytes out. Without a copy function the copies are memcpy (host buffers). */
int eng_transport_host(eng_transport **out, sim_err *err);
void eng_transport_host_set_copy(eng_transport *t, eng_host_copy_fn copy, void *ctx);
/* Bytes staged through host memory so far (both directions): tests check the staging ran. */
size_t eng_transport_host_staged(const eng_transport *t);

#endif
