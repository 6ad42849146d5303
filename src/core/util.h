/*
 * util.h -- small shared utilities: allocation wrappers, a growable byte
 * buffer, error filling, the log hook and string lists. Every other module
 * builds on these; this file depends on nothing but libc.
 */
#ifndef LGW_UTIL_H
#define LGW_UTIL_H

#include <stdarg.h>
#include <stddef.h>
#include <string.h>

#include "llmgateway.h"

#if defined(__GNUC__)
#define LGW__PRINTF(a, b) __attribute__((format(printf, a, b)))
#else
#define LGW__PRINTF(a, b)
#endif

void *lgw__calloc(size_t n, size_t size);
/* Returned strings must be freed with lgw_free. NULL in -> NULL out. */
char *lgw__strdup(const char *s);
char *lgw__strndup(const char *s, size_t n);
char *lgw__sprintf(const char *fmt, ...) LGW__PRINTF(1, 2);
/* Room for one more element in the array *v of n elements of size bytes
 * with capacity *cap: when it is full, doubled (first allocation: first
 * elements). 0, or LGW_ENOMEM with *v and *cap as they were. */
int lgw__grow(void *v, size_t n, size_t *cap, size_t size, size_t first);

/* Growable byte buffer; always NUL-terminated when data != NULL. */
typedef struct lgw__buf {
  char *data;
  size_t len;
  size_t cap;
} lgw__buf_t;

void lgw__buf_init(lgw__buf_t *b);
void lgw__buf_free(lgw__buf_t *b);
int lgw__buf_reserve(lgw__buf_t *b, size_t extra);
/* lgw__buf_add when b must grow first. */
int lgw__buf_add_grow(lgw__buf_t *b, const void *p, size_t n);
/* Append p[0..n) (a string s; a byte c). Inline: the usual append, into
 * room b already has, is a copy. */
static inline int lgw__buf_add(lgw__buf_t *b, const void *p, size_t n) {
  if (b->cap - b->len <= n) return lgw__buf_add_grow(b, p, n);
  if (n) memcpy(b->data + b->len, p, n);
  b->len += n;
  b->data[b->len] = '\0';
  return 0;
}
static inline int lgw__buf_adds(lgw__buf_t *b, const char *s) {
  return lgw__buf_add(b, s, strlen(s));
}
static inline int lgw__buf_addc(lgw__buf_t *b, char c) {
  if (b->cap - b->len <= 1) return lgw__buf_add_grow(b, &c, 1);
  b->data[b->len++] = c;
  b->data[b->len] = '\0';
  return 0;
}
/* Append a string literal (its length known at compile time). */
#define LGW__BUF_LIT(b, lit) lgw__buf_add((b), (lit), sizeof(lit) - 1)
int lgw__buf_printf(lgw__buf_t *b, const char *fmt, ...) LGW__PRINTF(2, 3);
/* Hands the data to the caller (free with lgw_free); b is reset. Never
 * returns NULL unless out of memory: an empty buffer gives "". */
char *lgw__buf_steal(lgw__buf_t *b);

/* Fill err (may be NULL) and return code. */
int lgw__error_set(lgw_error_t *err, int code, const char *fmt, ...)
    LGW__PRINTF(3, 4);
int lgw__error_vset(lgw_error_t *err, int code, const char *fmt, va_list ap);
/* No error yet: code and status 0, message "" (the rest of the message
 * buffer is left as it is: cheaper than zeroing 1 KB on a hot path). */
static inline void lgw__error_clear(lgw_error_t *err) {
  err->code = 0;
  err->http_status = 0;
  err->message[0] = '\0';
}

/* Log through the process-wide hook: the public lgw_log. */
#define lgw__log lgw_log
/* Off the loop thread the log hook must not run: what this thread logs
 * goes into b until lgw__log_capture(NULL), and lgw__log_replay(b) logs it
 * later, from the loop thread. */
void lgw__log_capture(lgw__buf_t *b);
void lgw__log_replay(const lgw__buf_t *b);

/* Ordered string map (headers, model_map); keys may repeat. */
typedef struct lgw__kv {
  char *key;
  char *value;
} lgw__kv_t;

typedef struct lgw__kvlist {
  lgw__kv_t *items;
  size_t n;
} lgw__kvlist_t;

int lgw__kvlist_add(lgw__kvlist_t *l, const char *key, const char *value);
void lgw__kvlist_free(lgw__kvlist_t *l);
/* Case-insensitive lookup; NULL when absent. */
const char *lgw__kvlist_get_ci(const lgw__kvlist_t *l, const char *key);

/* ASCII helpers (locale-independent). */
int lgw__strcasecmp(const char *a, const char *b);
int lgw__strncasecmp(const char *a, const char *b, size_t n);
/* Python str.strip() of ASCII whitespace; returns a new string. */
char *lgw__strip(const char *s);
/* The same without a copy: where the stripped text starts in s, with its
 * length in *len. s NULL reads as "". */
const char *lgw__trim(const char *s, size_t *len);
/* Lower-case ASCII in place; returns s. */
char *lgw__lower(char *s);
int lgw__is_blank(const char *s);  /* NULL or only whitespace */
/* [*start, *end) of s[0..n) without leading/trailing ASCII whitespace. */
void lgw__strip_range(const char *s, size_t n, size_t *start, size_t *end);

/* The configured secrets kept out of every message. A credential of
 * LGW__SECRET_PIECE bytes or more is redacted wherever that many or more
 * of its consecutive bytes appear (a key cut anywhere, or echoed in
 * part); a shorter one (4 bytes at least), or a value that is only
 * possibly secret, where it appears whole. */
#define LGW__SECRET_PIECE 8
typedef struct lgw__secrets {
  char **items;              /* owned */
  size_t *lens;
  unsigned char *whole;      /* 1: redacted only where it appears whole */
  size_t n;
  /* where a match may start: every LGW__SECRET_PIECE-byte window of the
   * secrets (as 8-byte words, 0 = free slot); owned */
  unsigned long long *win;
  size_t wcap, wn;
  int has_short;             /* some secret is shorter than a window */
} lgw__secrets_t;

/* Add s[0..len) unless shorter than 4 bytes or already there; whole as
 * above. */
int lgw__secrets_add(lgw__secrets_t *l, const char *s, size_t len,
                     int whole);
void lgw__secrets_free(lgw__secrets_t *l);
/* Replace every secret (or piece of one, see above) in msg, in place,
 * with "[redacted]"; the result is cut at cap - 1 bytes if it grows
 * (never in the middle of a UTF-8 sequence). Redact before cutting a
 * message: a cut of redacted text leaks nothing. */
void lgw__redact(const lgw__secrets_t *l, char *msg, size_t cap);

/* Standard base64 of s[0..n) appended to b. */
int lgw__base64(lgw__buf_t *b, const void *s, size_t n);

/* Monotonic clock in milliseconds and wall clock in seconds. */
double lgw__now_ms(void);
double lgw__wall_s(void);

#endif
