/*
 * redis_url.c -- parsing redis:// URLs (user info percent-decoded, an IPv6
 * host in brackets, port and database in range) and showing them with the
 * password redacted. Depends on util (allocation) and url (decoding).
 */
#include "redis_url.h"

#include <stdio.h>
#include <string.h>

#include "llmgateway.h"
#include "url.h"
#include "util.h"

/* Percent-decode s[0..n) into out (cap bytes with the NUL); -1 when it
 * does not fit or an escape is malformed. */
static int pct_decode(const char *s, size_t n, char *out, size_t cap) {
  char *tmp = n < cap ? out : lgw__calloc(1, n + 1);
  size_t len;
  int bad;
  if (!tmp) return -1;
  bad = lgw__url_decode(s, n, tmp, &len) != 0 || len >= cap;
  if (tmp != out) {
    if (!bad) memcpy(out, tmp, len + 1);
    lgw_free(tmp);
  }
  return bad ? -1 : 0;
}

/* A decimal number in [lo, hi] spanning all of s[0..n). */
static int parse_range(const char *s, size_t n, long lo, long hi,
                       int *out) {
  long v = 0;
  size_t i;
  if (n == 0 || n > 9) return -1;
  for (i = 0; i < n; i++) {
    if (s[i] < '0' || s[i] > '9') return -1;
    v = v * 10 + (s[i] - '0');
  }
  if (v < lo || v > hi) return -1;
  *out = (int)v;
  return 0;
}

/* The user info of a redis:// URL whose authority starts at a: *at is the
 * last '@' before the first '/' (*slash, NULL without one) and *colon the
 * first ':' before it (the password follows); both NULL when absent. */
static void user_info(const char *a, const char **slash, const char **at,
                      const char **colon) {
  const char *end, *p;
  *slash = strchr(a, '/');
  end = *slash ? *slash : a + strlen(a);
  for (*at = NULL, p = a; p < end; p++)
    if (*p == '@') *at = p;
  *colon = *at ? memchr(a, ':', (size_t)(*at - a)) : NULL;
}

#define URL_FAIL(...) (snprintf(why, cap, __VA_ARGS__), LGW_ECONFIG)

int lgw__redis_url_parse(const char *url, lgw__redis_url_t *out, char *why,
                         size_t cap) {
  const char *a, *end, *at, *hp, *hend, *colon, *slash;
  size_t i;
  memset(out, 0, sizeof *out);
  out->port = 6379;
  if (!url || strncmp(url, "redis://", 8) != 0)
    return URL_FAIL("a Redis URL starts with redis://");
  a = url + 8;
  user_info(a, &slash, &at, &colon);
  end = slash ? slash : a + strlen(a);
  if (at) {
    if (!colon) return URL_FAIL("the user info of a Redis URL is "
                                "user:password or :password");
    if (pct_decode(a, (size_t)(colon - a), out->user, sizeof out->user) ||
        pct_decode(colon + 1, (size_t)(at - colon - 1), out->password,
                   sizeof out->password))
      return URL_FAIL("bad user or password in the Redis URL (too long or "
                      "a bad %%-escape)");
  }
  hp = at ? at + 1 : a;
  if (*hp == '[') {
    hend = memchr(hp, ']', (size_t)(end - hp));
    if (!hend) return URL_FAIL("unclosed [ in the host of the Redis URL");
    colon = hend + 1 < end ? hend + 1 : NULL;
    if (colon && *colon != ':')
      return URL_FAIL("unexpected text after ] in the Redis URL");
    hp++;
  } else {
    colon = memchr(hp, ':', (size_t)(end - hp));
    hend = colon ? colon : end;
  }
  if (hend == hp) return URL_FAIL("the Redis URL has no host");
  if ((size_t)(hend - hp) >= sizeof out->host)
    return URL_FAIL("the host of the Redis URL is too long");
  for (i = 0; hp + i < hend; i++) {
    unsigned char ch = (unsigned char)hp[i];
    if (ch <= ' ' || ch == '/' || ch == '?' || ch == '#' || ch == '@')
      return URL_FAIL("bad character in the host of the Redis URL");
    out->host[i] = (char)ch;
  }
  if (colon && parse_range(colon + 1, (size_t)(end - colon - 1), 1, 65535,
                           &out->port))
    return URL_FAIL("the port of the Redis URL must be 1..65535");
  if (slash && slash[1] &&
      parse_range(slash + 1, strlen(slash + 1), 0, 1000000, &out->db))
    return URL_FAIL("the database of the Redis URL must be a number "
                    "(redis://host:port/0)");
  return 0;
}

#undef URL_FAIL

char *lgw__redis_url_redact(const char *url) {
  const char *a = strstr(url, "://"), *slash, *at, *colon;
  user_info(a ? a + 3 : url, &slash, &at, &colon);
  if (!colon || colon + 1 == at) return lgw__strdup(url);
  return lgw__sprintf("%.*s<redacted>%s", (int)(colon + 1 - url), url, at);
}
