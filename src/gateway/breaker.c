/*
 * breaker.c -- the per-provider circuit breaker: a ring of the last K
 * failure times decides when it opens; the cooldown and the half-open
 * state follow from the time it opened. Pure: callers pass the clock.
 */
#include "breaker.h"

#include "llmgateway.h"
#include "util.h"

int lgw__breaker_init(lgw__breaker_t *b, long k, double window,
                      double cooldown) {
  b->k = k > 0 ? k : 0;
  b->window = window;
  b->cooldown = cooldown;
  b->nfails = b->next = 0;
  b->open = 0;
  b->open_until = 0;
  b->fails = NULL;
  if (b->k && !(b->fails = lgw__calloc((size_t)b->k, sizeof *b->fails)))
    return LGW_ENOMEM;
  return 0;
}

void lgw__breaker_free(lgw__breaker_t *b) {
  lgw_free(b->fails);
  b->fails = NULL;
}

lgw__breaker_state_t lgw__breaker_state(const lgw__breaker_t *b, double now) {
  if (!b->open) return LGW__BREAKER_CLOSED;
  return now < b->open_until ? LGW__BREAKER_OPEN : LGW__BREAKER_HALF_OPEN;
}

static int trip(lgw__breaker_t *b, double now) {
  b->open = 1;
  b->open_until = now + b->cooldown;
  b->nfails = b->next = 0;
  return 1;
}

int lgw__breaker_failure(lgw__breaker_t *b, double now) {
  size_t k = (size_t)b->k, oldest;
  if (!k) return 0;
  switch (lgw__breaker_state(b, now)) {
    case LGW__BREAKER_HALF_OPEN: return trip(b, now);
    case LGW__BREAKER_OPEN: return 0;  /* requests already on it */
    default: break;
  }
  b->fails[b->next] = now;
  b->next = (b->next + 1) % k;
  if (b->nfails < k) b->nfails++;
  if (b->nfails < k) return 0;
  /* the ring is full: its oldest entry is the next one to overwrite */
  oldest = b->next;
  return now - b->fails[oldest] <= b->window ? trip(b, now) : 0;
}

int lgw__breaker_success(lgw__breaker_t *b) {
  int was_open = b->open;
  b->open = 0;
  b->nfails = b->next = 0;
  return was_open;
}

int lgw__breaker_adopt(lgw__breaker_t *b, double now, double remaining) {
  int was_open = b->open;
  if (!b->k) return 0;
  if (remaining == 0) {
    b->open = 0;
    return was_open ? -1 : 0;
  }
  b->open = 1;
  b->open_until = remaining > 0 ? now + remaining : now;
  b->nfails = b->next = 0;
  return was_open ? 0 : 1;
}
