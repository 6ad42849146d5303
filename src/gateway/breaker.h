/*
 * breaker.h -- a circuit breaker for one provider, pure: the clock is a
 * parameter. K retryable failures within W seconds open it; an open
 * breaker is skipped by new requests for C seconds, then it is half-open:
 * a success closes it, a failure opens it again at once.
 */
#ifndef LGW_BREAKER_H
#define LGW_BREAKER_H

#include <stddef.h>

typedef enum {
  LGW__BREAKER_CLOSED = 0,
  LGW__BREAKER_OPEN = 1,
  LGW__BREAKER_HALF_OPEN = 2
} lgw__breaker_state_t;

typedef struct lgw__breaker {
  long k;                /* failures that open it; 0 = never opens */
  double window, cooldown;
  double *fails;         /* ring of the last k failure times; owned */
  size_t nfails, next;
  int open;              /* open or half-open */
  double open_until;
} lgw__breaker_t;

/* 0 or LGW_ENOMEM; free with lgw__breaker_free. */
int lgw__breaker_init(lgw__breaker_t *b, long k, double window,
                      double cooldown);
void lgw__breaker_free(lgw__breaker_t *b);

lgw__breaker_state_t lgw__breaker_state(const lgw__breaker_t *b, double now);
/* A retryable failure at now; returns 1 when this opened the breaker
 * (again, for a half-open one). */
int lgw__breaker_failure(lgw__breaker_t *b, double now);
/* A success; returns 1 when this closed an open or half-open breaker.
 * Forgets the failures counted so far. */
int lgw__breaker_success(lgw__breaker_t *b);
/* Take the state another process left in a shared store: remaining > 0
 * open for that many seconds, 0 closed, < 0 half-open. Returns 1 when
 * this opened a closed breaker, -1 when it closed an open one, else 0.
 * A disabled breaker (k = 0) stays closed. */
int lgw__breaker_adopt(lgw__breaker_t *b, double now, double remaining);

#endif
