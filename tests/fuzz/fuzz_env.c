/*
 * fuzz_env.c -- fuzzing environment interpolation (lgw__env_resolve) with
 * a fixed fake environment, against an independent model of the Python
 * resolve_env_value written from the behaviour spec, extended by one level
 * of nesting in a default (${A:-${B}}).
 */
#include "env.h"
#include "fuzz_common.h"

static int env_space(char c) {
  return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\v' ||
         c == '\f';
}

static void env_strip(const char **s, size_t *n) {
  while (*n && env_space(**s)) (*s)++, (*n)--;
  while (*n && env_space((*s)[*n - 1])) (*n)--;
}

static int env_name_start(char c) {
  return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || c == '_';
}

static int env_name_char(char c) {
  return env_name_start(c) || (c >= '0' && c <= '9');
}

/* ${NAME} / ${NAME:-d} / ${NAME:d} as a whole in s[0..n): the name and
 * default spans; a default holding '}' is allowed only when nest and it is
 * itself (stripped) such a reference without nesting. 0: not one. */
static int env_ref(const char *s, size_t n, int nest, const char **name,
                   size_t *name_len, const char **dflt, size_t *dlen,
                   int *nested) {
  size_t i;
  *dflt = "";
  *dlen = 0;
  *nested = 0;
  if (n < 4 || s[0] != '$' || s[1] != '{' || s[n - 1] != '}' ||
      !env_name_start(s[2]))
    return 0;
  for (i = 3; i < n - 1 && env_name_char(s[i]); i++) {
  }
  *name = s + 2;
  *name_len = i - 2;
  if (i == n - 1) return 1;
  if (s[i] != ':') return 0;
  i++;
  if (i < n - 1 && s[i] == '-') i++;
  *dflt = s + i;
  *dlen = n - 1 - i;
  if (memchr(s + i, '}', n - 1 - i)) {
    const char *in = *dflt, *a, *b;
    size_t inn = *dlen, al, bl;
    int x;
    env_strip(&in, &inn);
    if (!nest || !env_ref(in, inn, 0, &a, &al, &b, &bl, &x)) return 0;
    *dflt = in;
    *dlen = inn;
    *nested = 1;
  }
  return 1;
}

static const char *env_lookup(const char *name, size_t len, int *toolong) {
  char buf[4096];
  *toolong = len >= sizeof buf;
  if (*toolong) return NULL;
  memcpy(buf, name, len);
  buf[len] = '\0';
  return fuzz_getenv(buf, NULL);
}

/* The model: resolve s[0..n) into a new string (NULL: no opinion). */
static char *env_model(const char *s, size_t n) {
  const char *v, *dflt = "", *name;
  size_t name_len, dlen = 0;
  int nested, toolong;
  env_strip(&s, &n);
  if (n > 4 && memcmp(s, "env:", 4) == 0) {
    const char *p = s + 4;
    size_t pn = n - 4;
    env_strip(&p, &pn);
    v = env_lookup(p, pn, &toolong);
    if (toolong) return NULL;
  } else {
    if (!env_ref(s, n, 1, &name, &name_len, &dflt, &dlen, &nested))
      return lgw__strndup(s, n);
    v = env_lookup(name, name_len, &toolong);
    if (toolong) return NULL;
    if (!v && nested) {
      int x;
      env_ref(dflt, dlen, 0, &name, &name_len, &dflt, &dlen, &x);
      v = env_lookup(name, name_len, &toolong);
      if (toolong) return NULL;
    }
  }
  if (v) {
    dflt = v;
    dlen = strlen(v);
  }
  env_strip(&dflt, &dlen);
  return lgw__strndup(dflt, dlen);
}

static void fuzz_env(const uint8_t *data, size_t size, lgw__buf_t *desc) {
  char *in = fuzz_cstr(data, size);
  char *got = lgw__env_resolve(in, fuzz_getenv, NULL);
  char *want = env_model(in, strlen(in));
  FUZZ_CHECK(got != NULL);
  if (want) FUZZ_CHECK(strcmp(got, want) == 0);
  if (desc) fuzz_note_bytes(desc, got, strlen(got));
  lgw_free(want);
  lgw_free(got);
  lgw_free(in);
}

#ifndef LGW_FUZZ_NO_MAIN
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  fuzz_env(data, size, NULL);
  return 0;
}
#endif
