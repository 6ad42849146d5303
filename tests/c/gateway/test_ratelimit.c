/*
 * test_ratelimit.c -- token buckets with an injected clock: unlimited
 * buckets, rpm pacing in arrival order, refill up to one second's worth,
 * tpm with costs above the capacity, settling with real usage, and the
 * token estimate.
 */
#include <stdlib.h>

#include "ratelimit.h"
#include "test.h"

TEST(unlimited_never_waits) {
  lgw__bucket_t b;
  int i;
  lgw__bucket_init(&b, 0, 0);
  for (i = 0; i < 1000; i++) ASSERT_DEQ(lgw__bucket_reserve(&b, 5000, 0), 0);
}

TEST(rpm_paces_in_order) {
  lgw__bucket_t b;
  lgw__bucket_init(&b, 60, 0);  /* 1/s, holds 1 */
  ASSERT_DEQ(lgw__bucket_reserve(&b, 1, 0), 0);
  ASSERT_DEQ(lgw__bucket_reserve(&b, 1, 0), 1.0);
  ASSERT_DEQ(lgw__bucket_reserve(&b, 1, 0), 2.0);
  /* half a second later the next one waits 2.5 s */
  ASSERT_DEQ(lgw__bucket_reserve(&b, 1, 0.5), 2.5);
}

TEST(refill_caps_at_one_second) {
  lgw__bucket_t b;
  int i;
  lgw__bucket_init(&b, 600, 0);  /* 10/s, holds 10 */
  for (i = 0; i < 10; i++) ASSERT_DEQ(lgw__bucket_reserve(&b, 1, 0), 0);
  ASSERT_DEQ(lgw__bucket_reserve(&b, 1, 0), 0.1);
  /* a long idle time refills only up to 10 */
  for (i = 0; i < 10; i++) ASSERT_DEQ(lgw__bucket_reserve(&b, 1, 100), 0);
  ASSERT_DEQ(lgw__bucket_reserve(&b, 1, 100), 0.1);
}

TEST(tpm_costs_above_capacity) {
  lgw__bucket_t b;
  lgw__bucket_init(&b, 60000, 0);  /* 1000 tokens/s, holds 1000 */
  ASSERT_DEQ(lgw__bucket_reserve(&b, 5000, 0), 0);  /* full: may go */
  /* -4000 now: the next needs 1000 again, 5 s away */
  ASSERT_DEQ(lgw__bucket_reserve(&b, 200, 0), 4.2);
}

TEST(settle_with_usage) {
  lgw__bucket_t b;
  lgw__bucket_init(&b, 60000, 0);
  ASSERT_DEQ(lgw__bucket_reserve(&b, 1000, 0), 0);
  /* it used 400: 600 come back */
  lgw__bucket_settle(&b, 600, 0);
  ASSERT_DEQ(lgw__bucket_reserve(&b, 600, 0), 0);
  ASSERT_DEQ(lgw__bucket_reserve(&b, 100, 0), 0.1);
  /* never above the capacity */
  lgw__bucket_settle(&b, 1e9, 0);
  ASSERT_DEQ(b.level, 1000);
}

TEST(estimate) {
  ASSERT_DEQ(lgw__estimate_tokens(400, 4000), 4100);
  ASSERT_DEQ(lgw__estimate_tokens(2, 0), 0.5);
}

int main(void) {
  RUN(unlimited_never_waits);
  RUN(rpm_paces_in_order);
  RUN(refill_caps_at_one_second);
  RUN(tpm_costs_above_capacity);
  RUN(settle_with_usage);
  RUN(estimate);
  return TEST_SUMMARY();
}
