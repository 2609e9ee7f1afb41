/* session.h: the model cards and hardware models one command or one scenario has loaded,
 * kept until the session is freed. A deployment points into its session (d->model, d->hw),
 * so it stays valid for as long as the session does, however many other cards are loaded
 * after it: entries are never evicted, moved or reused. A name asked again is not loaded
 * again (a sweep asks for the same few over and over). One session per command run or per
 * Lua state; not shared between threads. */
#ifndef MOESIM_CLI_SESSION_H
#define MOESIM_CLI_SESSION_H

#include "base/err.h"
#include "model/hw.h"
#include "model/model.h"
#include "model/prices.h"

typedef struct sim_session sim_session;

/* A new, empty session; NULL when out of memory. The caller frees it with sim_session_free. */
sim_session *sim_session_alloc(void);
/* Frees the session and every card it loaded; pointers it returned are invalid afterwards.
 * NULL is allowed. */
void sim_session_free(sim_session *s);

/* Load (or find) a model card / hwmodel by shipped name or path (registry.h). The returned
 * pointer is owned by the session and valid until sim_session_free. NULL on failure, with
 * err filled. */
const sim_model *sim_session_model(sim_session *s, const char *name_or_path, sim_err *err);
const sim_hw *sim_session_hw(sim_session *s, const char *name_or_path, sim_err *err);

/* The session's memo of routing statistics (step/routing.h), for the deployments it builds;
 * NULL when it could not be allocated (then nothing is memoized, only slower). Owned by the
 * session. */
struct sim_routing_cache *sim_session_routing(sim_session *s);

/* The shipped price tables ($MOESIM_HOME/prices), loaded on first use and owned by the
 * session. NULL on failure, with err filled (the file and field). */
const sim_prices *sim_session_prices(sim_session *s, sim_err *err);

/* Files the session has actually read (cache misses), for tests. */
long sim_session_loads(const sim_session *s);

#endif
