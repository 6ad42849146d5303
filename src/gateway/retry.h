/*
 * retry.h -- the retry policy, pure: classifying an attempt's outcome
 * (retry the same provider, or move to the next one at once), parsing
 * retry-after-ms / retry-after (seconds or HTTP date), and exponential
 * backoff with jitter. The clock and the random source are parameters.
 */
#ifndef LGW_RETRY_H
#define LGW_RETRY_H

#include <stdint.h>

typedef enum {
  LGW__NEXT_RETRY = 0,     /* retry the same provider (after a delay) */
  LGW__NEXT_FAILOVER = 1   /* give up on this provider, try the next */
} lgw__next_t;

/* status: HTTP status, or 0 when the attempt produced none.
 * code: the attempt's LGW_E* (LGW_ECONNECT, LGW_ETIMEOUT, LGW_EEMPTY ...).
 * x_should_retry: header value or NULL ("true"/"false" override). */
lgw__next_t lgw__retry_classify(int status, int code,
                                const char *x_should_retry);

/* Delay asked by the server, in ms; -1 when none or unparsable.
 * retry_after_ms wins over retry_after; an HTTP date is relative to
 * now_unix (seconds since epoch); a past date gives 0. */
long lgw__retry_after_parse(const char *retry_after_ms,
                            const char *retry_after, double now_unix);

/* Backoff before retry number attempt (1 = first retry): base * 2^(n-1)
 * capped at max, with "equal jitter" (half fixed, half random) from
 * *rng (xorshift state, updated). Seconds. */
double lgw__backoff(int attempt, double base, double max, uint64_t *rng);

#endif
