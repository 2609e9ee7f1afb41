/* bill_report.h: the price a cost used (kind, provider, instance, date, source) and the
 * monthly bill of a daily traffic, with the hosted APIs that offer the model priced for the
 * same traffic, as JSON and as text. */
#ifndef MOESIM_BILL_REPORT_H
#define MOESIM_BILL_REPORT_H

#include <cjson/cJSON.h>
#include <stdio.h>

#include "deploy/cost.h"
#include "model/prices.h"

/* The price `o` applies to hw: {kind, usd_per_gpu_hour, provider, instance, date, source, note}
 * for a row of prices/devices.json; tco and own say they come from the hwmodel (its
 * price.source). NULL when no --price was given (the report keeps its cost_mode "rent"). */
cJSON *sim_report_price(const sim_hw *hw, const sim_cost_opts *o);
void sim_report_print_price(FILE *f, const sim_hw *hw, const sim_cost_opts *o);

/* US$ a month that `api` charges for the traffic of `b` at isl/osl tokens per request. */
double sim_report_api_month(const sim_api_price *api, const sim_bill *b, double isl, double osl);

/* The hosted-API rows for `model` priced for `requests_per_day` (as an array, or printed);
 * the array is empty and the text says so when none is listed. */
cJSON *sim_report_api_rows(const sim_prices *prices, const char *model, double requests_per_day, double isl, double osl);
void sim_report_print_api(FILE *f, const sim_prices *prices, const char *model, double requests_per_day, double isl,
                          double osl);

/* The bill and, when `prices` is not NULL, every hosted-API row for `model`. */
cJSON *sim_report_bill(const sim_bill *b, const char *model, double isl, double osl, const sim_prices *prices);
void sim_report_print_bill(FILE *f, const sim_bill *b, const char *model, double isl, double osl,
                           const sim_prices *prices);

#endif
