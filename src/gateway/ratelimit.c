/*
 * ratelimit.c -- token buckets for providers' rpm and tpm limits: refill
 * from elapsed time, reserve ahead with the wait it implies, settle with
 * real usage. Pure: callers pass the clock.
 */
#include "ratelimit.h"

static void refill(lgw__bucket_t *b, double now) {
  if (now > b->last) {
    b->level += (now - b->last) * b->per_s;
    if (b->level > b->cap) b->level = b->cap;
    b->last = now;
  }
}

void lgw__bucket_init(lgw__bucket_t *b, long per_minute, double now) {
  b->per_s = per_minute > 0 ? (double)per_minute / 60.0 : 0;
  b->cap = b->per_s > 1 ? b->per_s : 1;
  b->level = b->cap;
  b->last = now;
}

double lgw__bucket_reserve(lgw__bucket_t *b, double cost, double now) {
  double need, wait;
  if (b->per_s <= 0) return 0;
  refill(b, now);
  need = cost < b->cap ? cost : b->cap;
  /* waiting for `need` means the level must first climb back to it */
  wait = b->level >= need ? 0 : (need - b->level) / b->per_s;
  b->level -= cost;
  return wait;
}

void lgw__bucket_settle(lgw__bucket_t *b, double delta, double now) {
  if (b->per_s <= 0) return;
  refill(b, now);
  b->level += delta;
  if (b->level > b->cap) b->level = b->cap;
}

double lgw__estimate_tokens(size_t message_bytes, long max_tokens) {
  return (double)message_bytes / 4.0 + (double)(max_tokens > 0 ? max_tokens
                                                               : 0);
}
