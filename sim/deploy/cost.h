/* cost.h: what a deployment costs per hour, rented or owned, and what that makes per
 * million tokens and per token in energy. */
#ifndef MOESIM_COST_H
#define MOESIM_COST_H

#include <stdbool.h>

#include "model/hw.h"

typedef struct sim_cost_opts {
    double usd_per_gpu_hour;   /* rent override; < 0 = the hwmodel's price */
    bool owned;                /* cost as owned: purchase over lifetime + energy */
    double usd_per_kwh;        /* energy price (owned) */
    double pue;                /* data-centre power usage effectiveness; <= 0 = by device class */
    double lifetime_years;     /* <= 0 = the hwmodel's */
} sim_cost_opts;

void sim_cost_defaults(sim_cost_opts *o);

/* Cost per hour of `gpus` devices. Rent when a rent price is known and `owned` is not
 * set; otherwise ownership: purchase / (lifetime hours) + (device + host) watts x PUE x
 * price of energy. *mode gets "rent" or "own". */
double sim_cost_usd_per_hour(const sim_hw *hw, int gpus, const sim_cost_opts *o, const char **mode);

/* Watts drawn by `gpus` devices with their host share, before PUE. */
double sim_cost_watts(const sim_hw *hw, int gpus);

/* US$ per million tokens for `usd_per_hour` spent producing `tokens_per_s`. */
double sim_cost_usd_per_mtok(double usd_per_hour, double tokens_per_s);

#endif
