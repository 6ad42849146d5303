/*
 * test_breaker.c -- the per-provider circuit breaker with an injected
 * clock: opening after K failures within W seconds, not for failures
 * spread wider, the cooldown, half-open reopening and closing, K = 0.
 */
#include <stdlib.h>

#include "breaker.h"
#include "test.h"

TEST(opens_after_k_within_window) {
  lgw__breaker_t b;
  ASSERT_EQ(lgw__breaker_init(&b, 3, 10, 30), 0);
  ASSERT_EQ(lgw__breaker_state(&b, 0), LGW__BREAKER_CLOSED);
  ASSERT_EQ(lgw__breaker_failure(&b, 100), 0);
  ASSERT_EQ(lgw__breaker_failure(&b, 105), 0);
  ASSERT_EQ(lgw__breaker_state(&b, 105), LGW__BREAKER_CLOSED);
  ASSERT_EQ(lgw__breaker_failure(&b, 110), 1);  /* 3 within 10 s */
  ASSERT_EQ(lgw__breaker_state(&b, 110), LGW__BREAKER_OPEN);
  ASSERT_EQ(lgw__breaker_state(&b, 139.9), LGW__BREAKER_OPEN);
  /* failures of requests already on it change nothing while open */
  ASSERT_EQ(lgw__breaker_failure(&b, 120), 0);
  ASSERT_EQ(lgw__breaker_state(&b, 140), LGW__BREAKER_HALF_OPEN);
  lgw__breaker_free(&b);
}

TEST(spread_failures_do_not_open) {
  lgw__breaker_t b;
  ASSERT_EQ(lgw__breaker_init(&b, 3, 10, 30), 0);
  ASSERT_EQ(lgw__breaker_failure(&b, 0), 0);
  ASSERT_EQ(lgw__breaker_failure(&b, 6), 0);
  ASSERT_EQ(lgw__breaker_failure(&b, 10.5), 0);  /* 0 fell out */
  ASSERT_EQ(lgw__breaker_failure(&b, 15.9), 1);  /* 6, 10.5, 15.9 */
  lgw__breaker_free(&b);
}

TEST(success_forgets_failures) {
  lgw__breaker_t b;
  ASSERT_EQ(lgw__breaker_init(&b, 2, 10, 30), 0);
  ASSERT_EQ(lgw__breaker_failure(&b, 1), 0);
  ASSERT_EQ(lgw__breaker_success(&b), 0);  /* was closed */
  ASSERT_EQ(lgw__breaker_failure(&b, 2), 0);
  ASSERT_EQ(lgw__breaker_failure(&b, 3), 1);
  lgw__breaker_free(&b);
}

TEST(half_open_reopens_or_closes) {
  lgw__breaker_t b;
  ASSERT_EQ(lgw__breaker_init(&b, 1, 5, 20), 0);
  ASSERT_EQ(lgw__breaker_failure(&b, 0), 1);
  ASSERT_EQ(lgw__breaker_state(&b, 19), LGW__BREAKER_OPEN);
  ASSERT_EQ(lgw__breaker_state(&b, 20), LGW__BREAKER_HALF_OPEN);
  ASSERT_EQ(lgw__breaker_failure(&b, 21), 1);  /* reopened at once */
  ASSERT_EQ(lgw__breaker_state(&b, 40), LGW__BREAKER_OPEN);
  ASSERT_EQ(lgw__breaker_state(&b, 41), LGW__BREAKER_HALF_OPEN);
  ASSERT_EQ(lgw__breaker_success(&b), 1);
  ASSERT_EQ(lgw__breaker_state(&b, 41), LGW__BREAKER_CLOSED);
  ASSERT_EQ(lgw__breaker_success(&b), 0);
  lgw__breaker_free(&b);
}

TEST(zero_k_never_opens) {
  lgw__breaker_t b;
  int i;
  ASSERT_EQ(lgw__breaker_init(&b, 0, 10, 30), 0);
  for (i = 0; i < 100; i++) ASSERT_EQ(lgw__breaker_failure(&b, i * 0.01), 0);
  ASSERT_EQ(lgw__breaker_state(&b, 1), LGW__BREAKER_CLOSED);
  lgw__breaker_free(&b);
}

int main(void) {
  RUN(opens_after_k_within_window);
  RUN(spread_failures_do_not_open);
  RUN(success_forgets_failures);
  RUN(half_open_reopens_or_closes);
  RUN(zero_k_never_opens);
  return TEST_SUMMARY();
}
