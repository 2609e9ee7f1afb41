/* cost.h: what a deployment costs per hour, rented or owned, and what that makes per
 * million tokens and per token in energy. */
#ifndef MOESIM_COST_H
#define MOESIM_COST_H

#include <stdbool.h>

#include "model/hw.h"
#include "model/prices.h"

#define SIM_COST_MAX_RATES 32

/* A rent price chosen for one device by --price KIND (prices.h): the row it came from. */
typedef struct sim_cost_rate {
    const sim_hw *hw;
    const sim_price_row *row;  /* owned by the caller's price table; outlives the options */
} sim_cost_rate;

typedef struct sim_cost_opts {
    double usd_per_gpu_hour;   /* rent override; < 0 = the hwmodel's price */
    bool owned;                /* cost as owned: purchase over lifetime + energy */
    double usd_per_kwh;        /* energy price (owned) */
    double pue;                /* data-centre power usage effectiveness; <= 0 = by device class */
    double lifetime_years;     /* <= 0 = the hwmodel's */
    /* --price KIND: NULL = not asked (the hwmodel's rent price, mode "rent", as before);
     * "tco" = the same price named as such; "own" = owned; on-demand, spot, reserved-1y,
     * reserved-3y = the row in `rates` for the device (a device without one is refused by the
     * front end before anything is evaluated). */
    const char *kind;
    sim_cost_rate rates[SIM_COST_MAX_RATES];
    int nrates;
} sim_cost_opts;

void sim_cost_defaults(sim_cost_opts *o);

/* Cost per hour of `gpus` devices. The price --price chose (a row in `rates`, or "tco"),
 * else rent when a rent price is known and `owned` is not set; otherwise ownership:
 * purchase / (lifetime hours) + (device + host) watts x PUE x price of energy. *mode gets
 * the kind: "rent" (no --price), "tco", "own", "on-demand", "spot", "reserved-1y", "reserved-3y"
 * (static strings). */
double sim_cost_usd_per_hour(const sim_hw *hw, int gpus, const sim_cost_opts *o, const char **mode);

/* Watts drawn by `gpus` devices with their host share, before PUE. */
double sim_cost_watts(const sim_hw *hw, int gpus);

/* The rate row --price chose for hw, or NULL (tco, own, or no --price). */
const sim_price_row *sim_cost_rate_for(const sim_hw *hw, const sim_cost_opts *o);

/* The data-centre PUE applied to hw's energy (o->pue, else by device class). */
double sim_cost_pue(const sim_hw *hw, const sim_cost_opts *o);

/* The bill of a deployment sized for a daily traffic (sim_serve_size_for_traffic fills the
 * inputs): every replica runs all month, idle or not, so the bill is the deployment's hourly
 * cost times the hours, and the price per token is that bill over the tokens the traffic
 * brings. A month is 730 hours (8,760 / 12). */
typedef struct sim_bill {
    double requests_per_day, peak_factor;
    bool peak_factor_default;           /* not given: SIM_DEFAULT_PEAK_FACTOR */
    char peak_source[200];              /* where the peak factor comes from, in words */
    double mean_rps, peak_rps;          /* requests/s: mean over the day, and at the peak */
    int replicas;                       /* instances sized for the peak */
    double capacity_rps;                /* what the replicas carry at the operating point */
    double utilization;                 /* mean load / capacity */
    double usd_per_hour, usd_per_day, usd_per_month;
    double usd_per_mtok_input, usd_per_mtok_output; /* at the actual load, idle time paid for */
    double kwh_per_month;               /* at rated power x PUE all month (an upper bound: idle draws less) */
    bool meets_slo;                     /* the steady state at the peak meets the SLO given (true when none) */
    char note[256];
    /* moesim serve: the bill from a discrete-event run at the peak (measured true); the
     * figures the simulation measured there, all replicas together */
    bool measured;
    double busy_share;                  /* share of the time an iteration runs (decode pool) */
    double served_rps, output_tps, input_tps;
} sim_bill;

#define SIM_HOURS_PER_MONTH 730.0
/* The peak hour's request rate over the day's mean, by default: the Azure LLM inference trace
 * 2024 (Azure/AzurePublicDataset, AzureLLMInferenceDataset2024.md: one week of production
 * requests, May 2024; Stojkovic et al., DynamoLLM, HPCA 2025), coding service, weekdays:
 * requests counted per hour, averaged per hour of day over the five weekdays (the profile
 * "azure-code-2024" in serve/traffic.c), peak hour 2.236 x the mean hour. The conversation
 * service of the same trace peaks at 1.337 x ("azure-conv-2024"); the default takes the burstier
 * of the two, so that replicas sized for it are not short at the peak. Hourly bins: bursts
 * within the hour are the serving simulation's (arrival gamma) business. */
#define SIM_DEFAULT_PEAK_FACTOR 2.236
#define SIM_DEFAULT_PEAK_SOURCE "default: Azure LLM inference trace 2024, coding service, weekday peak hour / day mean"


/* Fill the money and energy of a bill from its traffic, the deployment's cost per hour and
 * watts (all replicas, before PUE), the PUE, the lengths and the share of device time prompt
 * tokens take (their share of the bill). */
void sim_cost_bill(sim_bill *b, double usd_per_hour, double watts, double pue, double isl, double osl,
                   double prefill_share);

/* US$ per million tokens for `usd_per_hour` spent producing `tokens_per_s`. */
double sim_cost_usd_per_mtok(double usd_per_hour, double tokens_per_s);

#endif
