/* prices.h: dated, sourced prices by kind (prices/devices.json: rent per GPU-hour by device and
 * kind; prices/apis.json: hosted-API prices per million tokens by model). The schema is
 * prices/SCHEMA.md; unknown fields are refused. The tco kind is the hwmodel's
 * price.usd_per_hour and own its purchase over lifetime plus energy: neither is in the files. */
#ifndef MOESIM_PRICES_H
#define MOESIM_PRICES_H

#include <stddef.h>

#include "base/err.h"

typedef struct sim_price_row {
    char hw[64], kind[16], provider[48], instance[96], date[80];
    char note[512], source[256];
    double usd_per_gpu_hour;
} sim_price_row;

typedef struct sim_api_price {
    char model[64], provider[48], api_model[96], date[80];
    char note[512], source[256];
    double usd_per_mtok_input, usd_per_mtok_output;
} sim_api_price;

typedef struct sim_prices {
    sim_price_row *dev;
    int ndev;
    sim_api_price *api;
    int napi;
} sim_prices;

/* The kinds --price takes, space-separated (for messages). */
const char *sim_price_kinds(void);
/* 0 when `kind` is one of them. */
int sim_price_kind_check(const char *kind);

/* Load DIR/devices.json and DIR/apis.json. Errors name the file and the field. */
int sim_prices_load(const char *dir, sim_prices *p, sim_err *err);
/* The shipped folder: $MOESIM_HOME/prices. */
int sim_prices_load_home(sim_prices *p, sim_err *err);
void sim_prices_free(sim_prices *p);

/* The first row of device `hw` and `kind` (and `provider` when not NULL or ""), or NULL. */
const sim_price_row *sim_prices_find(const sim_prices *p, const char *hw, const char *kind, const char *provider);
/* "on-demand spot ..." the kinds (and providers) listed for `hw`, for messages. */
void sim_prices_list_for(const sim_prices *p, const char *hw, char *buf, size_t cap);

#endif
