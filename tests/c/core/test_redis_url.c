/*
 * test_redis_url.c -- redis:// URLs (src/core/redis_url.c): the parts
 * parsed, every refusal with its message, and the URL as shown with its
 * password redacted. The headers of core stand on their own: the Redis
 * URL and the state file do not bring in the config.
 */
#include "redis_url.h"
#include "provider_state.h"

#if defined(LGW_CONFIG_H)
#error "redis_url.h or provider_state.h includes config.h"
#endif

#include "test.h"

#define EXPECT_URL_ERROR(url, msg)                                          \
  do {                                                                      \
    lgw__redis_url_t u_;                                                    \
    char why_[200] = "";                                                    \
    ASSERT_EQ(lgw__redis_url_parse(url, &u_, why_, sizeof why_),            \
              LGW_ECONFIG);                                                 \
    ASSERT_STREQ(why_, msg);                                                \
  } while (0)

TEST(parts) {
  lgw__redis_url_t u;
  char why[200];
  ASSERT_EQ(lgw__redis_url_parse("redis://a:b@c:d@h", &u, why, sizeof why), 0);
  ASSERT_STREQ(u.user, "a");
  ASSERT_STREQ(u.password, "b@c:d");
  ASSERT_STREQ(u.host, "h");
  ASSERT_EQ(u.port, 6379);
  ASSERT_EQ(u.db, 0);
  ASSERT_EQ(lgw__redis_url_parse("redis://[::1]", &u, why, sizeof why), 0);
  ASSERT_STREQ(u.host, "::1");
  ASSERT_EQ(u.port, 6379);
  ASSERT_EQ(lgw__redis_url_parse("redis://u%3Ax:%2F@h:65535/1000000", &u,
                                 why, sizeof why), 0);
  ASSERT_STREQ(u.user, "u:x");
  ASSERT_STREQ(u.password, "/");
  ASSERT_EQ(u.port, 65535);
  ASSERT_EQ(u.db, 1000000);
}

TEST(refusals) {
  char host[300], url[320];
  EXPECT_URL_ERROR("http://h", "a Redis URL starts with redis://");
  EXPECT_URL_ERROR(NULL, "a Redis URL starts with redis://");
  EXPECT_URL_ERROR("redis://[::1", "unclosed [ in the host of the Redis URL");
  EXPECT_URL_ERROR("redis://[::1]x", "unexpected text after ] in the Redis "
                   "URL");
  EXPECT_URL_ERROR("redis://h x", "bad character in the host of the Redis "
                   "URL");
  EXPECT_URL_ERROR("redis://:%zz@h", "bad user or password in the Redis URL "
                   "(too long or a bad %-escape)");
  EXPECT_URL_ERROR("redis://:%4@h", "bad user or password in the Redis URL "
                   "(too long or a bad %-escape)");
  EXPECT_URL_ERROR("redis://h:65536", "the port of the Redis URL must be "
                   "1..65535");
  EXPECT_URL_ERROR("redis://h:", "the port of the Redis URL must be "
                   "1..65535");
  EXPECT_URL_ERROR("redis://h/1000001", "the database of the Redis URL must "
                   "be a number (redis://host:port/0)");
  memset(host, 'a', 256);
  host[256] = '\0';
  snprintf(url, sizeof url, "redis://%s", host);
  EXPECT_URL_ERROR(url, "the host of the Redis URL is too long");
}

TEST(redacted) {
  static const char *const cases[][2] = {
      {"redis://app:s3cret@[::1]:6380/", "redis://app:<redacted>@[::1]:6380/"},
      {"redis://:p@h/0", "redis://:<redacted>@h/0"},
      {"redis://a:b@c:d@h", "redis://a:<redacted>@h"},
      {"redis://:p@h/x@y", "redis://:<redacted>@h/x@y"},
      {"redis://u:@h", "redis://u:@h"},
      {"redis://u@h", "redis://u@h"},
      {"redis://h:1/2", "redis://h:1/2"},
  };
  size_t i;
  for (i = 0; i < sizeof cases / sizeof cases[0]; i++) {
    char *r = lgw__redis_url_redact(cases[i][0]);
    ASSERT_STREQ(r, cases[i][1]);
    lgw_free(r);
  }
}

int main(void) {
  RUN(parts);
  RUN(refusals);
  RUN(redacted);
  return TEST_SUMMARY();
}
