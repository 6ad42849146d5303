/*
 * redis_url.h -- redis://[[user]:password@]host[:port][/db] URLs, as
 * settings.state and queue URLs are written: parsed into their parts, and
 * shown with the password redacted. Depends on nothing but libc: the
 * config validates with it, the Redis client connects with it.
 */
#ifndef LGW_REDIS_URL_H
#define LGW_REDIS_URL_H

#include <stddef.h>

/* A parsed redis:// URL. */
typedef struct lgw__redis_url {
  char host[256];       /* without the brackets of an IPv6 literal */
  int port;             /* default 6379 */
  int db;               /* default 0 */
  char user[128];       /* "" when none */
  char password[512];   /* "" when none; percent-decoded */
} lgw__redis_url_t;

/* Parse redis://[[user]:password@]host[:port][/db]. On failure returns
 * LGW_ECONFIG and writes why (never the password) into why. */
int lgw__redis_url_parse(const char *url, lgw__redis_url_t *out, char *why,
                         size_t cap);

/* url with a non-empty password replaced by "<redacted>" (the user is
 * kept). Caller frees (lgw_free); NULL when out of memory. */
char *lgw__redis_url_redact(const char *url);

#endif
