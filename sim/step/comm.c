/* comm.c: alpha-beta costs of point-to-point sends, ring all-reduce and all-to-all. */
#include "step/comm.h"

#include <string.h>

const sim_link *sim_comm_tier(const sim_hw *hw, int n, double *eta)
{
    if (n <= hw->scale_up.domain_size && hw->scale_up.bandwidth_Bps > 0) {
        *eta = hw->eff.link_scale_up;
        return &hw->scale_up;
    }
    *eta = hw->eff.link_scale_out;
    return &hw->scale_out;
}

double sim_comm_p2p_s(const sim_link *l, double eta, double bytes)
{
    if (bytes <= 0)
        return 0;
    return l->latency_s + bytes / (l->bandwidth_Bps * eta);
}

double sim_comm_allreduce_bytes(int n, double bytes)
{
    return n <= 1 ? 0 : 2.0 * (n - 1) / n * bytes;
}

double sim_comm_allreduce_s(const sim_hw *hw, int n, double bytes)
{
    if (n <= 1 || bytes <= 0)
        return 0;
    double eta;
    const sim_link *l = sim_comm_tier(hw, n, &eta);
    return 2.0 * (n - 1) * l->latency_s + sim_comm_allreduce_bytes(n, bytes) / (l->bandwidth_Bps * eta);
}

double sim_comm_a2a_bytes(double src_tokens, double copies, double hidden, double elem_bytes)
{
    return src_tokens * copies * hidden * elem_bytes;
}

sim_kernel_link sim_comm_scale_up_kind(const sim_link *l)
{
    return strstr(l->name, "xGMI") ? SIM_KLINK_XGMI : strstr(l->name, "PCIe") ? SIM_KLINK_PCIE : SIM_KLINK_NVLINK;
}

double sim_comm_allreduce_hit_s(const sim_hw *hw, int n, double bytes, sim_kernel_hit *hit)
{
    sim_kernel_hit h = { 0 };
    if (hit)
        *hit = h;
    if (n <= 1 || bytes <= 0)
        return 0;
    double eta;
    const sim_link *l = sim_comm_tier(hw, n, &eta);
    sim_kernel_link kl = l != &hw->scale_up ? SIM_KLINK_RDMA : sim_comm_scale_up_kind(l);
    sim_kernel_query q = { .op = SIM_KOP_ALL_REDUCE, .link = kl, .x = bytes, .family = n };
    if (!sim_kernel_lookup(&hw->kernels, &q, &h) || !(h.share > 0))
        return sim_comm_allreduce_s(hw, n, bytes);
    if (hit)
        *hit = h;
    return sim_comm_allreduce_bytes(n, bytes) / (l->bandwidth_Bps * h.share);
}
