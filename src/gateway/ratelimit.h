/*
 * ratelimit.h -- per-provider request and token rate limits as token
 * buckets, pure: the clock is a parameter. A bucket refills at rate/60 per
 * second up to one second's worth (at least 1). Reserving takes the cost
 * at once (the level may go below zero) and says how long the caller must
 * wait before sending, so waiting requests leave in arrival order.
 */
#ifndef LGW_RATELIMIT_H
#define LGW_RATELIMIT_H

#include <stddef.h>

typedef struct lgw__bucket {
  double per_s;      /* refill per second; 0 = unlimited */
  double cap;        /* the most it holds */
  double level;      /* may be negative: reserved ahead */
  double last;       /* time of the last refill */
} lgw__bucket_t;

/* per_minute 0 = unlimited. The bucket starts full at now. */
void lgw__bucket_init(lgw__bucket_t *b, long per_minute, double now);
/* Take cost at now; returns the seconds to wait before using it (0 when
 * it may go now). A cost above the capacity waits only for a full
 * bucket. */
double lgw__bucket_reserve(lgw__bucket_t *b, double cost, double now);
/* Give back (delta > 0) or take more (delta < 0), e.g. when the real
 * token count of a request is known; never above the capacity. */
void lgw__bucket_settle(lgw__bucket_t *b, double delta, double now);

/* Tokens a request is expected to use: message bytes / 4 + max_tokens. */
double lgw__estimate_tokens(size_t message_bytes, long max_tokens);

#endif
