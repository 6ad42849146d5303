/*
 * sim_util.c -- the simulator's own small helpers: strings, printing JSON,
 * a growable buffer and the clock. The simulator is a program of its own and shares
 * no code with the client library.
 */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "sim.h"

char *sim_strndup(const char *s, size_t n) {
  char *c;
  if (!s) return NULL;
  if (!(c = malloc(n + 1))) return NULL;
  memcpy(c, s, n);
  c[n] = '\0';
  return c;
}

char *sim_strdup(const char *s) {
  return s ? sim_strndup(s, strlen(s)) : NULL;
}

char *sim_json_print(cJSON *j, size_t *len) {
  char *s = j ? cJSON_PrintUnformatted(j) : NULL;
  char *out = NULL;
  cJSON_Delete(j);
  if (s) {
    *len = strlen(s);
    out = sim_strndup(s, *len);
    cJSON_free(s);
  }
  return out;
}

static char *vformat(const char *fmt, va_list ap) {
  va_list cp;
  int n;
  char *s;
  va_copy(cp, ap);
  n = vsnprintf(NULL, 0, fmt, cp);
  va_end(cp);
  if (n < 0 || !(s = malloc((size_t)n + 1))) return NULL;
  vsnprintf(s, (size_t)n + 1, fmt, ap);
  return s;
}

char *sim_sprintf(const char *fmt, ...) {
  va_list ap;
  char *s;
  va_start(ap, fmt);
  s = vformat(fmt, ap);
  va_end(ap);
  return s;
}

static int space(char c) {
  return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\v' ||
         c == '\f';
}

char *sim_strip(const char *s) {
  const char *e;
  if (!s) return sim_strdup("");
  while (space(*s)) s++;
  e = s + strlen(s);
  while (e > s && space(e[-1])) e--;
  return sim_strndup(s, (size_t)(e - s));
}

char *sim_lower(char *s) {
  char *p;
  for (p = s; p && *p; p++)
    if (*p >= 'A' && *p <= 'Z') *p = (char)(*p - 'A' + 'a');
  return s;
}

double sim_now_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

void sim_buf_init(sim_buf_t *b) {
  b->data = NULL;
  b->len = b->cap = 0;
}

void sim_buf_free(sim_buf_t *b) {
  free(b->data);
  sim_buf_init(b);
}

static int reserve(sim_buf_t *b, size_t extra) {
  size_t want = b->len + extra + 1, cap;
  char *grown;
  if (want < b->len) return SIM_ENOMEM;
  if (want <= b->cap) return 0;
  cap = b->cap ? b->cap : 64;
  while (cap < want) cap = cap * 2 > cap ? cap * 2 : want;
  if (!(grown = realloc(b->data, cap))) return SIM_ENOMEM;
  b->data = grown;
  b->cap = cap;
  return 0;
}

int sim_buf_add(sim_buf_t *b, const void *p, size_t n) {
  if (reserve(b, n)) return SIM_ENOMEM;
  if (n) memcpy(b->data + b->len, p, n);
  b->len += n;
  b->data[b->len] = '\0';
  return 0;
}

int sim_buf_adds(sim_buf_t *b, const char *s) {
  return sim_buf_add(b, s, strlen(s));
}

int sim_buf_addc(sim_buf_t *b, char c) { return sim_buf_add(b, &c, 1); }

int sim_buf_printf(sim_buf_t *b, const char *fmt, ...) {
  va_list ap;
  char *s;
  int rc;
  va_start(ap, fmt);
  s = vformat(fmt, ap);
  va_end(ap);
  if (!s) return SIM_ENOMEM;
  rc = sim_buf_adds(b, s);
  free(s);
  return rc;
}

char *sim_buf_steal(sim_buf_t *b) {
  char *d = b->data ? b->data : sim_strdup("");
  sim_buf_init(b);
  return d;
}
