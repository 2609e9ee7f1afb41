/* backend.h: what a backend provides behind eng_layer (engine.c dispatches to it). The CPU
 * backend is cpu.c; a CUDA backend adds its own create function and ops table. */
#ifndef MOESIM_ENG_BACKEND_H
#define MOESIM_ENG_BACKEND_H

#include "weights.h"

typedef struct eng_backend_ops {
    int (*forward)(void *impl, const float *x, int tokens, float *y, const eng_routing *force,
                   eng_routing *routing_out, eng_timing *timing, sim_err *err);
    const eng_weights *(*weights)(const void *impl);
    void (*destroy)(void *impl);
} eng_backend_ops;

/* The CPU backend: weights for tr's rank drawn from seed; tr is borrowed. */
int eng_cpu_create(void **impl, const eng_backend_ops **ops, const eng_config *c, eng_transport *tr,
                   uint64_t seed, sim_err *err);

/* Seconds on a monotonic clock. */
double eng_now(void);

/* Check a routing given to eng_forward: ids in range and distinct per token. */
int eng_routing_check(const eng_routing *r, int tokens, const eng_config *c, sim_err *err);

const eng_weights *eng_layer_weights(const eng_layer *l);

#endif
