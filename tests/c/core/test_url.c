/*
 * test_url.c -- base URLs (src/core/url.c): the host as the loopback check
 * sees it (user info, port, IPv6 brackets, path, query and fragment left
 * out) and which hosts are loopback.
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

int main(void) {
  RUN(host_of_a_url);
  RUN(loopback_hosts);
  return TEST_SUMMARY();
}
