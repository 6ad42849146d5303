/*
 * url.h -- http(s) URLs as configured (a provider's base_url): the host,
 * whether it is loopback, its user info and query, percent-decoding, and
 * the URL as shown with its secrets redacted.
 * Depends on nothing but libc; the config validates and dumps with it.
 */
#ifndef LGW_URL_H
#define LGW_URL_H

#include <stddef.h>

/* The host of url (after "scheme://", or from the start without one):
 * [*hs, *he), without the brackets of an IPv6 literal; the user info and
 * the port are not part of it. */
void lgw__url_host(const char *url, const char **hs, const char **he);

/* The user info and the query of url as spans into it (NULL, 0 when
 * absent): the user info runs to the authority's last '@', the query from
 * after the '?' to any '#'. */
typedef struct lgw__url_parts {
  const char *user;
  size_t user_len;
  const char *query;
  size_t query_len;
} lgw__url_parts_t;
void lgw__url_parts(const char *url, lgw__url_parts_t *u);

/* s[0..n) percent-decoded into out (room for n + 1 bytes, NUL-terminated),
 * its length into *len. A '%' without two hex digits after it stays as it
 * is; returns how many such there were (0: every escape well formed). */
size_t lgw__url_decode(const char *s, size_t n, char *out, size_t *len);

/* The one loopback rule, for the plain-http check of the config and the
 * engine's proxy bypass alike: 127.0.0.0/8, ::1, ::ffff:127.0.0.0/104,
 * localhost and the names under it (x.localhost); a trailing dot and the
 * brackets of an IPv6 literal are allowed. */
int lgw__host_is_loopback(const char *host, size_t len);

/* url as shown in dumps and messages: the user info
 * (https://user:pw@host) and every query value (?key=...) replaced by
 * "<redacted>", as is a fragment. url NULL reads as "". Caller frees;
 * NULL when out of memory. */
char *lgw__url_redact(const char *url);

#endif
