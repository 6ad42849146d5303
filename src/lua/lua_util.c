/*
 * lua_util.c -- the binding's own small helpers: zeroed allocation,
 * string copies and a growable byte buffer, all on the library's
 * allocator (lgw_malloc).
 */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "lua_priv.h"

void *lgwL_calloc(size_t n, size_t size) {
  void *p;
  if (size && n > (size_t)-1 / size) return NULL;
  p = lgw_malloc(n * size != 0 ? n * size : 1);
  if (p) memset(p, 0, n * size);
  return p;
}

char *lgwL_strndup(const char *s, size_t n) {
  char *p;
  if (!s) return NULL;
  p = lgw_malloc(n + 1);
  if (!p) return NULL;
  memcpy(p, s, n);
  p[n] = '\0';
  return p;
}

char *lgwL_strdup(const char *s) {
  return s ? lgwL_strndup(s, strlen(s)) : NULL;
}

void lgwL_buf_init(lgwL_buf_t *b) {
  b->data = NULL;
  b->len = b->cap = 0;
}

void lgwL_buf_free(lgwL_buf_t *b) {
  lgw_free(b->data);
  lgwL_buf_init(b);
}

int lgwL_buf_add(lgwL_buf_t *b, const void *p, size_t n) {
  if (b->len + n + 1 > b->cap) {
    size_t cap = b->cap ? b->cap : 64;
    char *d;
    while (cap < b->len + n + 1) cap *= 2;
    if (!(d = lgw_realloc(b->data, cap))) return LGW_ENOMEM;
    b->data = d;
    b->cap = cap;
  }
  if (n) memcpy(b->data + b->len, p, n);
  b->len += n;
  b->data[b->len] = '\0';
  return 0;
}

int lgwL_buf_adds(lgwL_buf_t *b, const char *s) {
  return lgwL_buf_add(b, s, strlen(s));
}

int lgwL_buf_addc(lgwL_buf_t *b, char c) { return lgwL_buf_add(b, &c, 1); }

int lgwL_buf_printf(lgwL_buf_t *b, const char *fmt, ...) {
  char tmp[256];
  va_list ap;
  int n;
  va_start(ap, fmt);
  n = vsnprintf(tmp, sizeof tmp, fmt, ap);
  va_end(ap);
  if (n < 0) return LGW_ENOMEM;
  if ((size_t)n < sizeof tmp) return lgwL_buf_add(b, tmp, (size_t)n);
  {
    char *big = lgw_malloc((size_t)n + 1);
    int rc;
    if (!big) return LGW_ENOMEM;
    va_start(ap, fmt);
    vsnprintf(big, (size_t)n + 1, fmt, ap);
    va_end(ap);
    rc = lgwL_buf_add(b, big, (size_t)n);
    lgw_free(big);
    return rc;
  }
}

char *lgwL_buf_steal(lgwL_buf_t *b) {
  char *d = b->data;
  if (!d) return lgwL_strndup("", 0);
  lgwL_buf_init(b);
  return d;
}
