/*
 * fuzz_env.c -- fuzzing environment interpolation (lgw__env_resolve) with
 * a fixed fake environment, against an independent model of the Python
 * resolve_env_value written from the behaviour spec.
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

/* The model: resolve s[0..n) into a new string. */
static char *env_model(const char *s, size_t n) {
  const char *v, *dflt = "";
  char name[4096];
  size_t i, name_len, dlen = 0;
  env_strip(&s, &n);
  if (n > 4 && memcmp(s, "env:", 4) == 0) {
    const char *p = s + 4;
    size_t pn = n - 4;
    env_strip(&p, &pn);
    if (pn >= sizeof name) return NULL;
    memcpy(name, p, pn);
    name[pn] = '\0';
    v = fuzz_getenv(name, NULL);
  } else {
    /* ^\$\{([A-Za-z_][A-Za-z0-9_]*)(?::-?([^}]*))?\}$ */
    if (n < 4 || s[0] != '$' || s[1] != '{' || s[n - 1] != '}' ||
        !env_name_start(s[2]))
      return lgw__strndup(s, n);
    for (i = 3; i < n - 1 && env_name_char(s[i]); i++) {
    }
    name_len = i - 2;
    if (i < n - 1) {
      if (s[i] != ':') return lgw__strndup(s, n);
      i++;
      if (i < n - 1 && s[i] == '-') i++;
      if (memchr(s + i, '}', n - 1 - i)) return lgw__strndup(s, n);
      dflt = s + i;
      dlen = n - 1 - i;
    }
    if (name_len >= sizeof name) return NULL;
    memcpy(name, s + 2, name_len);
    name[name_len] = '\0';
    v = fuzz_getenv(name, NULL);
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
