/*
 * test_url.c -- base URLs (src/core/url.c): the host as the loopback check
 * sees it (user info, port, IPv6 brackets, path, query and fragment left
 * out), which hosts are loopback, the user info and query of a URL, and
 * percent-decoding.
 */
#include <string.h>

#include "test.h"
#include "url.h"

static void host_is(const char *url, const char *want) {
  const char *hs, *he;
  lgw__url_host(url, &hs, &he);
  if ((size_t)(he - hs) != strlen(want) ||
      memcmp(hs, want, (size_t)(he - hs)) != 0) {
    fprintf(stderr, "  %s: host \"%.*s\", expected \"%s\"\n", url,
            (int)(he - hs), hs, want);
    test__cur_failed = 1;
  }
}

TEST(host_of_a_url) {
  host_is("http://h", "h");
  host_is("https://H.example:8443/v1?x=1#f", "H.example");
  host_is("http://u:p@127.0.0.1:80/", "127.0.0.1");
  host_is("http://a@b:c@h/x@y", "h");
  host_is("http://[::1]:8080/v1", "::1");
  host_is("http://[::1", "::1");
  host_is("http://?q", "");
  host_is("http://u@:1", "");
  host_is("h:1/x", "h");
}

TEST(loopback_hosts) {
  static const struct {
    const char *host;
    int loopback;
  } cases[] = {
      {"localhost", 1},      {"LocalHost.", 1},    {"127.0.0.1", 1},
      {"127.255.0.9", 1},    {"::1", 1},           {"0:0:0:0:0:0:0:1", 1},
      {"128.0.0.1", 0},      {"localhost.example", 0},
      {"127.0.0.1.example.com", 0},                {"::2", 0},
      {"", 0},               {"localhost..", 0},
      {"api.localhost", 1},  {"A.B.LOCALHOST.", 1}, {"[::1]", 1},
      {"::ffff:127.0.0.1", 1},                     {"[::ffff:127.9.0.1]", 1},
      {"::ffff:10.0.0.1", 0}, {".localhost", 0},  {"a..localhost", 0},
      {"mylocalhost", 0},    {"127.1", 0},         {"[::2]", 0},
  };
  size_t i;
  for (i = 0; i < sizeof cases / sizeof cases[0]; i++) {
    const char *h = cases[i].host;
    if (lgw__host_is_loopback(h, strlen(h)) != cases[i].loopback) {
      fprintf(stderr, "  %s: expected %d\n", h, cases[i].loopback);
      test__cur_failed = 1;
    }
  }
  ASSERT_EQ(lgw__host_is_loopback("localhostX", 9), 1);
}

static void parts_are(const char *url, const char *user, const char *query) {
  lgw__url_parts_t u;
  char got_user[64] = "(none)", got_query[64] = "(none)";
  lgw__url_parts(url, &u);
  if (u.user)
    snprintf(got_user, sizeof got_user, "%.*s", (int)u.user_len, u.user);
  if (u.query)
    snprintf(got_query, sizeof got_query, "%.*s", (int)u.query_len, u.query);
  ASSERT_STREQ(got_user, user);
  ASSERT_STREQ(got_query, query);
}

TEST(user_info_and_query) {
  parts_are("https://h/v1", "(none)", "(none)");
  parts_are("https://u:p@h:1/v1?key=k&x=1#frag", "u:p", "key=k&x=1");
  parts_are("http://a@b:c@h/x@y?", "a@b:c", "");
  parts_are("http://h/p@q#f?x", "(none)", "(none)");
  parts_are("h?k=v", "(none)", "k=v");
}

static void decodes_to(const char *s, const char *want, size_t bad) {
  char out[64];
  size_t len = 99;
  ASSERT_EQ(lgw__url_decode(s, strlen(s), out, &len), bad);
  ASSERT_EQ(len, strlen(want));
  ASSERT_STREQ(out, want);
}

TEST(percent_decoding) {
  decodes_to("", "", 0);
  decodes_to("a%41%2fb%2F", "aA/b/", 0);
  decodes_to("p%40ss%3A", "p@ss:", 0);
  decodes_to("100%", "100%", 1);
  decodes_to("%4", "%4", 1);
  decodes_to("%zz%41", "%zzA", 1);
  decodes_to("a+b", "a+b", 0);
}

int main(void) {
  RUN(host_of_a_url);
  RUN(loopback_hosts);
  RUN(user_info_and_query);
  RUN(percent_decoding);
  return TEST_SUMMARY();
}
