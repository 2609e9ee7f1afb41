/* session.c: an append-only list of loaded cards per session (see session.h). Each entry is
 * its own allocation, so a pointer handed out never moves; lookups are a linear scan by the
 * name asked, which is cheap for the handful of cards a scenario names. */
#include "cli/session.h"

#include <stdlib.h>
#include <string.h>

#include "model/registry.h"
#include "step/routing.h"

typedef struct model_entry {
    struct model_entry *next;
    char *key;
    sim_model m;
} model_entry;

typedef struct hw_entry {
    struct hw_entry *next;
    char *key;
    sim_hw h;
} hw_entry;

struct sim_session {
    model_entry *models;
    hw_entry *hws;
    long loads;
    sim_routing_cache *routing;
    sim_prices prices;             /* loaded on first use */
    bool have_prices;
};

sim_session *sim_session_alloc(void)
{
    sim_session *s = calloc(1, sizeof(sim_session));
    if (s)
        s->routing = sim_routing_cache_alloc(); /* NULL only costs speed */
    return s;
}

sim_routing_cache *sim_session_routing(sim_session *s)
{
    return s->routing;
}

void sim_session_free(sim_session *s)
{
    if (!s)
        return;
    for (model_entry *e = s->models, *next; e; e = next) {
        next = e->next;
        free(e->key);
        free(e);
    }
    for (hw_entry *e = s->hws, *next; e; e = next) {
        next = e->next;
        free(e->key);
        free(e);
    }
    sim_routing_cache_free(s->routing);
    sim_prices_free(&s->prices);
    free(s);
}

const sim_model *sim_session_model(sim_session *s, const char *name, sim_err *err)
{
    for (model_entry *e = s->models; e; e = e->next)
        if (strcmp(e->key, name) == 0)
            return &e->m;
    model_entry *e = calloc(1, sizeof *e);
    char *key = e ? strdup(name) : NULL;
    if (!key) {
        free(e);
        sim_fail(err, SIM_EFAIL, "out of memory loading model '%s'", name);
        return NULL;
    }
    s->loads++;
    if (sim_registry_model(name, &e->m, err)) {
        free(key);
        free(e);
        return NULL;
    }
    e->key = key;
    e->next = s->models;
    s->models = e;
    return &e->m;
}

const sim_hw *sim_session_hw(sim_session *s, const char *name, sim_err *err)
{
    for (hw_entry *e = s->hws; e; e = e->next)
        if (strcmp(e->key, name) == 0)
            return &e->h;
    hw_entry *e = calloc(1, sizeof *e);
    char *key = e ? strdup(name) : NULL;
    if (!key) {
        free(e);
        sim_fail(err, SIM_EFAIL, "out of memory loading hardware '%s'", name);
        return NULL;
    }
    s->loads++;
    if (sim_registry_hw(name, &e->h, err)) {
        free(key);
        free(e);
        return NULL;
    }
    e->key = key;
    e->next = s->hws;
    s->hws = e;
    return &e->h;
}

long sim_session_loads(const sim_session *s)
{
    return s->loads;
}

const sim_prices *sim_session_prices(sim_session *s, sim_err *err)
{
    if (!s->have_prices) {
        if (sim_prices_load_home(&s->prices, err))
            return NULL;
        s->have_prices = true;
        s->loads++;
    }
    return &s->prices;
}
