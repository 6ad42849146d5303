/*
 * url.h -- http(s) URLs as configured (a provider's base_url): the host,
 * whether it is loopback, and the URL as shown with its secrets redacted.
 * Depends on nothing but libc; the config validates and dumps with it.
 */
#ifndef LGW_URL_H
#define LGW_URL_H

#include <stddef.h>

/* The host of url (after "scheme://", or from the start without one):
 * [*hs, *he), without the brackets of an IPv6 literal; the user info and
 * the port are not part of it. */
void lgw__url_host(const char *url, const char **hs, const char **he);

/* 127.0.0.0/8, ::1 or localhost (a trailing dot allowed). */
int lgw__host_is_loopback(const char *host, size_t len);

/* url as shown in dumps and messages: the user info
 * (https://user:pw@host) and every query value (?key=...) replaced by
 * "<redacted>", as is a fragment. url NULL reads as "". Caller frees;
 * NULL when out of memory. */
char *lgw__url_redact(const char *url);

#endif
