/*
 * url.c -- http(s) URLs as configured (a provider's base_url): their host,
 * whether a host is loopback, their user info and query, percent-decoding,
 * and the URL as shown in dumps and messages with its user info, query
 * values and fragment redacted. Depends on util (buffers) and inet_pton.
 */
#include "url.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <string.h>

#include "util.h"

/* The authority of url: from after "scheme://" (the start without one) to
 * the first '/', '?' or '#' (*end); *at is its last '@', which ends the
 * user info, or NULL. Returns where it starts. */
static const char *authority(const char *url, const char **end,
                             const char **at) {
  const char *a = strstr(url, "://"), *p;
  a = a ? a + 3 : url;
  *end = a + strcspn(a, "/?#");
  for (*at = NULL, p = a; p < *end; p++)
    if (*p == '@') *at = p;
  return a;
}

void lgw__url_host(const char *url, const char **hs, const char **he) {
  const char *end, *at, *p, *a = authority(url, &end, &at);
  if (at) a = at + 1;
  if (*a == '[') {
    const char *rb = memchr(a, ']', (size_t)(end - a));
    *hs = a + 1;
    *he = rb ? rb : end;
    return;
  }
  *hs = a;
  for (p = a; p < end && *p != ':'; p++) {
  }
  *he = p;
}

void lgw__url_parts(const char *url, lgw__url_parts_t *u) {
  const char *end, *at, *a = authority(url, &end, &at), *q;
  memset(u, 0, sizeof *u);
  if (at) {
    u->user = a;
    u->user_len = (size_t)(at - a);
  }
  q = end + strcspn(end, "?#");
  if (*q == '?') {
    u->query = q + 1;
    u->query_len = strcspn(q + 1, "#");
  }
}

static int hex_digit(int c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

size_t lgw__url_decode(const char *s, size_t n, char *out, size_t *len) {
  size_t i, j = 0, bad = 0;
  for (i = 0; i < n; i++) {
    int hi, lo;
    char c = s[i];
    if (c == '%') {
      if (i + 2 < n && (hi = hex_digit((unsigned char)s[i + 1])) >= 0 &&
          (lo = hex_digit((unsigned char)s[i + 2])) >= 0) {
        c = (char)(hi * 16 + lo);
        i += 2;
      } else {
        bad++;
      }
    }
    out[j++] = c;
  }
  out[j] = '\0';
  *len = j;
  return bad;
}

int lgw__host_is_loopback(const char *host, size_t len) {
  char h[256];
  unsigned char a6[16];
  static const unsigned char v4mapped[12] = {0, 0, 0, 0, 0, 0,
                                             0, 0, 0, 0, 0xff, 0xff};
  struct in_addr a4;
  if (len >= 2 && host[0] == '[' && host[len - 1] == ']') {
    host++;  /* an IPv6 literal as a URL writes it */
    len -= 2;
  }
  if (len == 0 || len >= sizeof h) return 0;
  memcpy(h, host, len);
  h[len] = '\0';
  if (h[len - 1] == '.') h[--len] = '\0';
  /* "localhost" and the names under it (RFC 6761; curl resolves them to
   * the loopback address itself, without asking DNS) */
  if (lgw__strcasecmp(h, "localhost") == 0 ||
      (len > 10 && h[len - 11] != '.' &&
       lgw__strcasecmp(h + len - 10, ".localhost") == 0))
    return 1;
  if (inet_pton(AF_INET, h, &a4) == 1)
    return (ntohl(a4.s_addr) >> 24) == 127;
  if (inet_pton(AF_INET6, h, a6) == 1)
    return memcmp(a6, in6addr_loopback.s6_addr, 16) == 0 ||
           (memcmp(a6, v4mapped, 12) == 0 && a6[12] == 127);
  return 0;
}

char *lgw__url_redact(const char *url) {
  const char *a, *end, *p, *at, *q;
  lgw__buf_t b;
  int rc = 0;
  if (!url) return lgw__strdup("");
  a = authority(url, &end, &at);
  lgw__buf_init(&b);
  if (at)
    rc = lgw__buf_add(&b, url, (size_t)(a - url)) ||
         lgw__buf_adds(&b, "<redacted>") ||
         lgw__buf_add(&b, at, (size_t)(end - at));
  else
    rc = lgw__buf_add(&b, url, (size_t)(end - url));
  p = end;
  q = p + strcspn(p, "?#");
  if (!rc) rc = lgw__buf_add(&b, p, (size_t)(q - p));
  if (!rc && *q == '?') {
    /* name=<redacted> per parameter; a bare parameter may be a key */
    p = q + 1;
    rc = lgw__buf_addc(&b, '?');
    while (!rc && *p && *p != '#') {
      size_t n = strcspn(p, "&;#");
      const char *eq = memchr(p, '=', n);
      if (eq) rc = lgw__buf_add(&b, p, (size_t)(eq + 1 - p)) ||
                   (eq + 1 < p + n && lgw__buf_adds(&b, "<redacted>"));
      else if (n) rc = lgw__buf_adds(&b, "<redacted>");
      p += n;
      if (!rc && (*p == '&' || *p == ';')) rc = lgw__buf_addc(&b, *p++);
    }
    q = p;
  }
  if (!rc && *q == '#') rc = lgw__buf_adds(&b, q[1] ? "#<redacted>" : "#");
  if (rc) {
    lgw__buf_free(&b);
    return NULL;
  }
  return b.data ? lgw__buf_steal(&b) : lgw__strdup("");
}
