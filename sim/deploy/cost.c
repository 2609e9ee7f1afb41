/* cost.c: rent or ownership per hour, $ per million tokens. */
#include "deploy/cost.h"

void sim_cost_defaults(sim_cost_opts *o)
{
    o->usd_per_gpu_hour = -1;
    o->owned = false;
    /* US average industrial electricity was about $0.08/kWh in 2024 (EIA Electric Power
     * Monthly); data-centre contracts run higher. 0.10 is a round figure: change it. */
    o->usd_per_kwh = 0.10;
    o->pue = 0;
    o->lifetime_years = 0;
}

double sim_cost_watts(const sim_hw *hw, int gpus)
{
    return gpus * (hw->power_w + hw->host_power_w);
}

static double pue_for(const sim_hw *hw, const sim_cost_opts *o)
{
    if (o->pue > 0)
        return o->pue;
    /* Data-centre accelerators pay cooling and distribution: Uptime Institute's surveys put
     * the average PUE near 1.5, new AI halls near 1.2-1.3; take 1.3. A laptop, a Pi or a
     * desktop card sits in a room that is not cooled for it: 1.0. */
    return hw->cls == SIM_HW_GPU && hw->devices_per_node > 1 ? 1.3 : 1.0;
}

double sim_cost_usd_per_hour(const sim_hw *hw, int gpus, const sim_cost_opts *o, const char **mode)
{
    double rent = o->usd_per_gpu_hour >= 0 ? o->usd_per_gpu_hour : hw->usd_per_hour;
    if (!o->owned && rent > 0) {
        *mode = "rent";
        return gpus * rent;
    }
    *mode = "own";
    double years = o->lifetime_years > 0 ? o->lifetime_years : hw->lifetime_years;
    double capital = years > 0 ? hw->purchase_usd / (years * 24 * 365) : 0;
    double energy = (hw->power_w + hw->host_power_w) / 1000.0 * pue_for(hw, o) * o->usd_per_kwh;
    return gpus * (capital + energy);
}

double sim_cost_usd_per_mtok(double usd_per_hour, double tokens_per_s)
{
    if (tokens_per_s <= 0)
        return 0;
    return usd_per_hour / (tokens_per_s * 3600.0) * 1e6;
}
