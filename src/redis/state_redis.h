/*
 * state_redis.h -- the gateway's shared state on Redis (settings.state =
 * redis://...): the preferred provider per config key, each provider's
 * circuit breaker and its rpm/tpm token buckets, updated atomically by
 * Lua scripts on the server (server time, so hosts' clocks do not matter).
 *
 * Reads stay off the request path: the preferred provider and the breakers
 * are read every settings.state_refresh seconds (and on every reconnect)
 * and handed to the hooks; breaker outcomes and new winners are written
 * without waiting. Only a rate-limit reservation waits for the server, and
 * it fails fast (LGW_ECONNECT) whenever Redis is not ready, so the caller
 * falls back to its local buckets.
 */
#ifndef LGW_STATE_REDIS_H
#define LGW_STATE_REDIS_H

#include <stddef.h>

#include "config.h"
#include "redis.h"

typedef struct lgw__rstate lgw__rstate_t;

typedef struct lgw__rstate_hooks {
  /* The shared preferred provider key for the runtime's config key; ""
   * when none is stored. */
  void (*preferred)(void *ud, const char *provider_key);
  /* The shared breaker of configured provider pi: remaining > 0 open for
   * that many seconds, 0 closed, < 0 half-open. */
  void (*breaker)(void *ud, size_t pi, double remaining);
  void *ud;
} lgw__rstate_hooks_t;

/* rt->state must be a Redis URL; what rt says is copied (rt may be freed
 * first). opts (may be NULL) tune the connection (timeouts, backoff). */
int lgw__rstate_new(struct uv_loop_s *loop, const lgw_runtime_t *rt,
                    const lgw__rstate_hooks_t *hooks,
                    const lgw__redis_opts_t *opts, lgw__rstate_t **out,
                    lgw_error_t *err);
/* No hook runs afterwards; memory goes with close callbacks. NULL ok. */
void lgw__rstate_free(lgw__rstate_t *s);
int lgw__rstate_ready(const lgw__rstate_t *s);

/* A new winner for the config key: written without waiting; written on
 * the next reconnect when Redis is down now. */
void lgw__rstate_set_preferred(lgw__rstate_t *s, const char *provider_key);

/* A retryable failure (failure = 1) or a success of provider pi. A
 * success is sent only when something is to be cleared (local_dirty: the
 * local breaker had failures or was open). The server's answer goes to
 * the breaker hook. */
void lgw__rstate_breaker(lgw__rstate_t *s, size_t pi, int failure,
                         int local_dirty);

/* wait: seconds to wait before sending (ok = 1), or ok = 0: no answer,
 * use the local buckets. */
typedef void (*lgw__rstate_wait_fn)(void *ud, int ok, double wait);
/* Reserve one request and tokens (0: none) in provider pi's shared
 * buckets. LGW_ECONNECT at once (cb not called) when Redis is not ready.
 * *call lets the caller forget the answer (lgw__redis_forget). */
int lgw__rstate_reserve(lgw__rstate_t *s, size_t pi, double tokens,
                        lgw__rstate_wait_fn cb, void *ud,
                        lgw__redis_call_t **call);
/* Give back (delta > 0) or take more tokens from pi's shared tpm bucket. */
void lgw__rstate_settle(lgw__rstate_t *s, size_t pi, double delta);

#endif
