/* check.h: a backend (and expert parallelism across ranks) against the reference, on one
 * shape at a time. Used by `moe-engine check` and by the engine's unit tests. */
#ifndef MOESIM_ENG_CHECK_H
#define MOESIM_ENG_CHECK_H

#include "engine.h"

/* How tokens are routed in a case: by the router, or forced to show an edge case. */
typedef enum {
    ROUTE_ROUTER,        /* the layer's own router */
    ROUTE_ONE_EXPERT,    /* every token's first choice is the last expert (k = 1: all tokens on one expert) */
    ROUTE_SKIP_FIRST,    /* no token reaches expert 0 (with ep > 1: none of rank 0's experts) */
} eng_route_kind;

typedef struct eng_check_case {
    char label[48];
    eng_config c;
    int tokens;                /* whole batch, split over the ranks */
    eng_route_kind route;
    uint64_t seed;
} eng_check_case;

typedef struct eng_check_result {
    double err_ref;            /* max |y - y_ref| / max |y_ref| over all ranks */
    double err_one;            /* the same against the backend on one rank (tokens routed alike) */
    double tol;
    int route_bad;             /* tokens whose routing is not a top-k of the reference scores */
    int near_ties;             /* tokens routed differently by EP and one rank (near-tied scores) */
    int ok;
} eng_check_result;

/* Tolerance for a data type: what a backend may lose when it computes with activations
 * rounded to that type (FP32: summation order only). */
double eng_check_tol(eng_dtype d);

/* The edge cases, then n_random random shapes, all valid for `ep` ranks. Returns the count. */
int eng_check_cases(eng_check_case *out, int max, int ep, int n_random, uint64_t seed);

/* Run one case on `backend` with expert parallelism over tr (NULL: one rank). Collective:
 * every rank calls it, every rank gets the same result. */
int eng_check_run(const eng_check_case *cs, eng_backend backend, eng_transport *tr,
                  eng_check_result *res, sim_err *err);

#endif
