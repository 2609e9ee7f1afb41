/* comm.h: communication time by the alpha-beta model, per link tier. A collective runs on
 * the slowest tier it spans: the scale-up link (NVLink, xGMI) while the group fits in one
 * scale-up domain, the NIC beyond it. */
#ifndef MOESIM_COMM_H
#define MOESIM_COMM_H

#include "model/hw.h"

/* The tier a group of n devices uses (scale-up if it fits in a domain, else scale-out). */
const sim_link *sim_comm_tier(const sim_hw *hw, int n, double *eta);

/* What kind of link a scale-up link is, by its name (xGMI, PCIe, else NVLink): the kernel
 * tables' transport of a collective on it. */
sim_kernel_link sim_comm_scale_up_kind(const sim_link *l);

/* Point-to-point transfer of `bytes`: alpha + bytes / (beta * eta). */
double sim_comm_p2p_s(const sim_link *l, double eta, double bytes);

/* Ring all-reduce of a `bytes` buffer over n devices: 2(n-1) steps of alpha, and each
 * device moves 2(n-1)/n of the buffer. 0 when n == 1. */
double sim_comm_allreduce_bytes(int n, double bytes);
double sim_comm_allreduce_s(const sim_hw *hw, int n, double bytes);
/* The same, from the device's kernel table where a measured all-reduce (nccl-tests bus
 * bandwidth at a message size and rank count) covers the message: the buffer's 2(n-1)/n
 * at the measured bus bandwidth, whose message-size dependence already holds the latency.
 * `hit` (may be NULL) gets the row's share, 0 when the alpha-beta prior was used. */
double sim_comm_allreduce_hit_s(const sim_hw *hw, int n, double bytes, sim_kernel_hit *hit);

/* Expert-parallel dispatch/combine bytes per device, by transport (see deploy.h).
 * src_tokens: tokens this device sends; copies: average remote copies per token for the
 * transport; elem_bytes: payload bytes per element; hidden: elements per token. */
double sim_comm_a2a_bytes(double src_tokens, double copies, double hidden, double elem_bytes);

#endif
