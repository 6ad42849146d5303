/*
 * test_retry.c -- the retry policy: outcome classification, Retry-After
 * parsing (ms, seconds, the three HTTP date forms) and jittered backoff.
 */
#include <stdlib.h>

#include "retry.h"
#include "llmgateway.h"
#include "test.h"

#define R LGW__NEXT_RETRY
#define F LGW__NEXT_FAILOVER

/* Sun, 06 Nov 1994 08:49:37 GMT */
#define T0 784111777.0

TEST(classify_no_status) {
  ASSERT_EQ(lgw__retry_classify(0, LGW_ECONNECT, NULL), R);
  ASSERT_EQ(lgw__retry_classify(0, LGW_ETIMEOUT, NULL), R);
  ASSERT_EQ(lgw__retry_classify(0, LGW_EHTTP, NULL), R);
  ASSERT_EQ(lgw__retry_classify(0, LGW_EEMPTY, NULL), R);
  ASSERT_EQ(lgw__retry_classify(0, LGW_ERESPONSE, NULL), R);
  ASSERT_EQ(lgw__retry_classify(0, LGW_ETOOBIG, NULL), F);
  ASSERT_EQ(lgw__retry_classify(0, LGW_ECONFIG, NULL), F);
  ASSERT_EQ(lgw__retry_classify(0, LGW_EINVAL, NULL), F);
}

TEST(classify_2xx_body_problems) {
  ASSERT_EQ(lgw__retry_classify(200, LGW_EEMPTY, NULL), R);
  ASSERT_EQ(lgw__retry_classify(200, LGW_ERESPONSE, NULL), R);
  ASSERT_EQ(lgw__retry_classify(200, LGW_ETOOBIG, NULL), F);
  ASSERT_EQ(lgw__retry_classify(204, LGW_ERESPONSE, NULL), R);
}

TEST(classify_retry_statuses) {
  static const int st[] = {408, 409, 429, 500, 502, 503, 504, 529, 501, 520,
                           599};
  size_t i;
  for (i = 0; i < sizeof st / sizeof st[0]; i++)
    ASSERT_EQ(lgw__retry_classify(st[i], LGW_EHTTP, NULL), R);
}

TEST(classify_failover_statuses) {
  static const int st[] = {400, 401, 403, 404, 413, 422, 402, 405, 410, 418,
                           451, 301, 302, 304};
  size_t i;
  for (i = 0; i < sizeof st / sizeof st[0]; i++)
    ASSERT_EQ(lgw__retry_classify(st[i], LGW_EHTTP, NULL), F);
}

TEST(classify_x_should_retry) {
  ASSERT_EQ(lgw__retry_classify(400, LGW_EHTTP, "true"), R);
  ASSERT_EQ(lgw__retry_classify(503, LGW_EHTTP, "false"), F);
  ASSERT_EQ(lgw__retry_classify(429, LGW_EHTTP, " FALSE "), F);
  ASSERT_EQ(lgw__retry_classify(401, LGW_EHTTP, "True"), R);
  /* anything else leaves the table in charge */
  ASSERT_EQ(lgw__retry_classify(503, LGW_EHTTP, "maybe"), R);
  ASSERT_EQ(lgw__retry_classify(404, LGW_EHTTP, ""), F);
  ASSERT_EQ(lgw__retry_classify(404, LGW_EHTTP, "truely"), F);
}

TEST(retry_after_ms_wins) {
  ASSERT_EQ(lgw__retry_after_parse("250", "7", T0), 250);
  ASSERT_EQ(lgw__retry_after_parse("250.6", NULL, T0), 251);
  ASSERT_EQ(lgw__retry_after_parse(" 0 ", NULL, T0), 0);
  ASSERT_EQ(lgw__retry_after_parse("1.5", NULL, T0), 2);
  /* a bad ms header falls back to retry-after */
  ASSERT_EQ(lgw__retry_after_parse("soon", "3", T0), 3000);
  ASSERT_EQ(lgw__retry_after_parse("-5", NULL, T0), -1);
}

TEST(retry_after_seconds) {
  ASSERT_EQ(lgw__retry_after_parse(NULL, "1", T0), 1000);
  ASSERT_EQ(lgw__retry_after_parse(NULL, "0", T0), 0);
  ASSERT_EQ(lgw__retry_after_parse(NULL, "2.5", T0), 2500);
  ASSERT_EQ(lgw__retry_after_parse(NULL, " 30 ", T0), 30000);
  ASSERT_EQ(lgw__retry_after_parse(NULL, ".25", T0), 250);
}

TEST(retry_after_garbage) {
  ASSERT_EQ(lgw__retry_after_parse(NULL, NULL, T0), -1);
  ASSERT_EQ(lgw__retry_after_parse(NULL, "", T0), -1);
  ASSERT_EQ(lgw__retry_after_parse(NULL, "-1", T0), -1);
  ASSERT_EQ(lgw__retry_after_parse(NULL, "abc", T0), -1);
  ASSERT_EQ(lgw__retry_after_parse(NULL, "1e3", T0), -1);
  ASSERT_EQ(lgw__retry_after_parse(NULL, "0x10", T0), -1);
  ASSERT_EQ(lgw__retry_after_parse(NULL, "inf", T0), -1);
  ASSERT_EQ(lgw__retry_after_parse(NULL, "nan", T0), -1);
  ASSERT_EQ(lgw__retry_after_parse(NULL, "1.2.3", T0), -1);
  ASSERT_EQ(lgw__retry_after_parse(NULL, "5 s", T0), -1);
}

TEST(retry_after_http_dates) {
  double now = T0 - 10;
  ASSERT_EQ(lgw__retry_after_parse(NULL, "Sun, 06 Nov 1994 08:49:37 GMT",
                                   now), 10000);
  ASSERT_EQ(lgw__retry_after_parse(NULL, "Sunday, 06-Nov-94 08:49:37 GMT",
                                   now), 10000);
  ASSERT_EQ(lgw__retry_after_parse(NULL, "Sun Nov  6 08:49:37 1994", now),
            10000);
  ASSERT_EQ(lgw__retry_after_parse(NULL, "Sun Nov 16 08:49:37 1994", now),
            10000 + 864000000L);
  /* fractional now: rounded to ms */
  ASSERT_EQ(lgw__retry_after_parse(NULL, "Sun, 06 Nov 1994 08:49:37 GMT",
                                   T0 - 1.2345), 1235);
  /* a past date means "now" */
  ASSERT_EQ(lgw__retry_after_parse(NULL, "Sun, 06 Nov 1994 08:49:37 GMT",
                                   T0 + 60), 0);
  /* 2-digit years more than 50 years ahead are in the past */
  ASSERT_EQ(lgw__retry_after_parse(NULL, "Tuesday, 01-Jan-30 00:00:00 GMT",
                                   1893456000.0 - 86400 /* 2029-12-31 */),
            86400000L);
  /* far futures are capped at a year */
  ASSERT_EQ(lgw__retry_after_parse(NULL, "Tuesday, 01-Jan-30 00:00:00 GMT",
                                   946684800.0 /* 2000-01-01 */),
            31536000000L);
  ASSERT_EQ(lgw__retry_after_parse(NULL, "Friday, 01-Jan-60 00:00:00 GMT",
                                   946684800.0 + 86400), 0);
}

TEST(retry_after_bad_dates) {
  static const char *bad[] = {
    "Sun, 6 Nov 1994 08:49:37 GMT", "Sun, 06 Nov 1994 08:49:37 UTC",
    "Sun, 06 Foo 1994 08:49:37 GMT", "Sun, 31 Nov 1994 08:49:37 GMT",
    "Sun, 06 Nov 1994 24:00:00 GMT", "Sunday, 06 Nov 1994 08:49:37 GMT",
    "Sun, 06-Nov-94 08:49:37 GMT", "Xyz, 06 Nov 1994 08:49:37 GMT",
    "Sun Nov 6 08:49:37 1994", "Sun, 06 Nov 1994 08:49:37 GMT junk",
    "Thu, 29 Feb 1900 00:00:00 GMT"};
  size_t i;
  for (i = 0; i < sizeof bad / sizeof bad[0]; i++)
    ASSERT_EQ(lgw__retry_after_parse(NULL, bad[i], T0), -1);
  ASSERT_EQ(lgw__retry_after_parse(NULL, "Tue, 29 Feb 2000 00:00:00 GMT",
                                   951782400.0 - 1), 1000);
}

TEST(backoff_exact_values) {
  uint64_t rng = 1;
  ASSERT_DEQ(lgw__backoff(1, 0.5, 8.0, &rng), 0.2500000000146675);
  ASSERT_EQ(rng, 0x40822041ull);
  ASSERT_DEQ(lgw__backoff(2, 0.5, 8.0, &rng), 0.531251937854906);
  ASSERT_DEQ(lgw__backoff(3, 0.5, 8.0, &rng), 1.6059343925285465);
  ASSERT_DEQ(lgw__backoff(4, 0.5, 8.0, &rng), 3.9166551843907023);
  ASSERT_DEQ(lgw__backoff(5, 0.5, 8.0, &rng), 6.094489977288867);
  /* capped at 8: between 4 and 8 */
  ASSERT_DEQ(lgw__backoff(6, 0.5, 8.0, &rng), 7.854511978938989);
  ASSERT_EQ(rng, 0xf6b05302e5531801ull);
}

TEST(backoff_zero_seed_and_bounds) {
  uint64_t rng = 0;
  double d;
  int i;
  ASSERT_DEQ(lgw__backoff(2, 0.5, 8.0, &rng), 0.9298970603904082);
  ASSERT_EQ(rng, 0xdc1b77ae0bf34dadull);
  for (i = 0; i < 1000; i++) {
    d = lgw__backoff(1000, 0.5, 8.0, &rng);
    ASSERT(d >= 4.0 && d < 8.0);
    d = lgw__backoff(1, 0.5, 8.0, &rng);
    ASSERT(d >= 0.25 && d < 0.5);
  }
  ASSERT_DEQ(lgw__backoff(3, 0.0, 8.0, &rng), 0.0);
  d = lgw__backoff(0, 0.5, 8.0, &rng);
  ASSERT(d >= 0.25 && d < 0.5);
}

int main(void) {
  RUN(classify_no_status);
  RUN(classify_2xx_body_problems);
  RUN(classify_retry_statuses);
  RUN(classify_failover_statuses);
  RUN(classify_x_should_retry);
  RUN(retry_after_ms_wins);
  RUN(retry_after_seconds);
  RUN(retry_after_garbage);
  RUN(retry_after_http_dates);
  RUN(retry_after_bad_dates);
  RUN(backoff_exact_values);
  RUN(backoff_zero_seed_and_bounds);
  return TEST_SUMMARY();
}
