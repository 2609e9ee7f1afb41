/* cost.c: rent or ownership per hour, $ per million tokens. */
#include "deploy/cost.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

void sim_cost_defaults(sim_cost_opts *o)
{
    o->usd_per_gpu_hour = -1;
    o->owned = false;
    /* US average industrial electricity was about $0.08/kWh in 2024 (EIA Electric Power
     * Monthly); data-centre contracts run higher. 0.10 is a round figure: change it. */
    o->usd_per_kwh = 0.10;
    o->pue = 0;
    o->lifetime_years = 0;
    o->kind = NULL;
    o->nrates = 0;
}

double sim_cost_watts(const sim_hw *hw, int gpus)
{
    return gpus * (hw->power_w + hw->host_power_w);
}

double sim_cost_pue(const sim_hw *hw, const sim_cost_opts *o)
{
    if (o->pue > 0)
        return o->pue;
    /* Data-centre accelerators pay cooling and distribution: Uptime Institute's surveys put
     * the average PUE near 1.5, new AI halls near 1.2-1.3; take 1.3. A laptop, a Pi or a
     * desktop card sits in a room that is not cooled for it: 1.0. */
    return hw->cls == SIM_HW_GPU && hw->devices_per_node > 1 ? 1.3 : 1.0;
}

const sim_price_row *sim_cost_rate_for(const sim_hw *hw, const sim_cost_opts *o)
{
    for (int i = 0; i < o->nrates; i++)
        if (o->rates[i].hw == hw)
            return o->rates[i].row;
    return NULL;
}

static const char *static_kind(const char *k)
{
    static const char *const kinds[] = { "on-demand", "spot", "reserved-1y", "reserved-3y", "tco", "own" };
    for (size_t i = 0; i < sizeof kinds / sizeof kinds[0]; i++)
        if (strcmp(kinds[i], k) == 0)
            return kinds[i];
    return "rent";
}

double sim_cost_usd_per_hour(const sim_hw *hw, int gpus, const sim_cost_opts *o, const char **mode)
{
    const sim_price_row *row = sim_cost_rate_for(hw, o);
    if (row && !o->owned) {
        *mode = static_kind(row->kind);
        return gpus * row->usd_per_gpu_hour;
    }
    if (o->kind && strcmp(o->kind, "own") == 0)
        goto own;
    double rent = o->usd_per_gpu_hour >= 0 ? o->usd_per_gpu_hour : hw->usd_per_hour;
    if (!o->owned && rent > 0) {
        *mode = o->kind && strcmp(o->kind, "tco") == 0 && o->usd_per_gpu_hour < 0 ? "tco" : "rent";
        return gpus * rent;
    }
own:
    *mode = "own";
    double years = o->lifetime_years > 0 ? o->lifetime_years : hw->lifetime_years;
    double capital = years > 0 ? hw->purchase_usd / (years * 24 * 365) : 0;
    double energy = (hw->power_w + hw->host_power_w) / 1000.0 * sim_cost_pue(hw, o) * o->usd_per_kwh;
    return gpus * (capital + energy);
}

double sim_cost_usd_per_mtok(double usd_per_hour, double tokens_per_s)
{
    if (tokens_per_s <= 0)
        return 0;
    return usd_per_hour / (tokens_per_s * 3600.0) * 1e6;
}

void sim_cost_bill(sim_bill *b, double usd_per_hour, double watts, double pue, double isl, double osl,
                   double prefill_share)
{
    b->usd_per_hour = usd_per_hour;
    b->usd_per_day = usd_per_hour * 24;
    b->usd_per_month = usd_per_hour * SIM_HOURS_PER_MONTH;
    b->kwh_per_month = watts * pue * SIM_HOURS_PER_MONTH / 1000.0;
    b->utilization = b->capacity_rps > 0 ? b->mean_rps / b->capacity_rps : NAN;
    /* tokens a month at the mean rate; the bill splits between them as device time does */
    double req_month = b->mean_rps * 3600 * SIM_HOURS_PER_MONTH;
    double in_mtok = req_month * isl / 1e6, out_mtok = req_month * osl / 1e6;
    double share = prefill_share >= 0 && prefill_share <= 1 ? prefill_share : 0;
    b->usd_per_mtok_input = in_mtok > 0 ? b->usd_per_month * share / in_mtok : NAN;
    b->usd_per_mtok_output = out_mtok > 0 ? b->usd_per_month * (1 - share) / out_mtok : NAN;
}
