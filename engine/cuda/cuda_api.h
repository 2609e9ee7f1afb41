/* cuda_api.h: what the rest of moe-engine sees of the CUDA build: registering the backend,
 * describing it, and the NCCL transport. Plain C, no CUDA types, so main.c needs no CUDA headers. */
#ifndef MOESIM_ENG_CUDA_API_H
#define MOESIM_ENG_CUDA_API_H

#include <stddef.h>

#include "../transport.h"

/* Makes --backend cuda available (engine.c's hook). */
void eng_cuda_register(void);

/* One line for `moe-engine backends`: the targets built, then the devices seen or why none.
 * Returns the number of CUDA devices (0 when none can be used). */
int eng_cuda_describe(char *out, size_t cap);

/* The device this rank uses: the node-local rank modulo the devices present (so two ranks on a
 * one-GPU machine share device 0). -1 with a message when there is no usable device. */
int eng_cuda_pick_device(int rank, sim_err *err);

/* NCCL over the ranks of MPI_COMM_WORLD: an MPI transport bootstraps the communicator (rank 0's
 * ncclUniqueId) and carries counts, agreement and maxima; alltoallv is grouped ncclSend /
 * ncclRecv on device buffers, ordered on the stream the CUDA backend sets. */
int eng_transport_nccl(eng_transport **out, sim_err *err);
void eng_transport_nccl_set_stream(eng_transport *t, void *stream);

#endif
