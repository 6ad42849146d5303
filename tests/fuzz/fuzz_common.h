/*
 * fuzz_common.h -- what the fuzz entry points share. Each tests/fuzz/
 * fuzz_<target>.c defines `static void fuzz_<target>(data, size, desc)`
 * and, unless LGW_FUZZ_NO_MAIN is defined, the libFuzzer hook calling it
 * with desc NULL. tests/c/fuzz/test_fuzz_regress.c includes the same files
 * with LGW_FUZZ_NO_MAIN and a desc buffer, and compares the description of
 * the outcome with the expected one. A broken invariant aborts in both.
 */
#ifndef LGW_FUZZ_COMMON_H
#define LGW_FUZZ_COMMON_H

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util.h"

#define FUZZ_CHECK(c)                                                 \
  do {                                                                \
    if (!(c)) {                                                       \
      fprintf(stderr, "%s:%d: invariant broken: %s\n", __FILE__,      \
              __LINE__, #c);                                          \
      abort();                                                        \
    }                                                                 \
  } while (0)

/* Append to the outcome description when there is one. */
#define FUZZ_NOTE(desc, ...)                                          \
  do {                                                                \
    if (desc) lgw__buf_printf((desc), __VA_ARGS__);                   \
  } while (0)

/* NUL-terminated copy of the input (owned by the caller, lgw_free). */
static inline char *fuzz_cstr(const uint8_t *data, size_t size) {
  char *s = lgw__strndup(size ? (const char *)data : "", size);
  FUZZ_CHECK(s != NULL);
  return s;
}

/* Append bytes with non-printable ones as \xNN, so descriptions are
 * single-line ASCII text. */
static inline void fuzz_note_bytes(lgw__buf_t *desc, const char *s,
                                   size_t n) {
  size_t i;
  if (!desc) return;
  for (i = 0; i < n; i++) {
    unsigned char c = (unsigned char)s[i];
    if (c < 0x20 || c >= 0x7f || c == '\\')
      lgw__buf_printf(desc, "\\x%02x", c);
    else
      lgw__buf_addc(desc, (char)c);
  }
}

/* The fixed environment of the env and config targets. */
static inline const char *fuzz_getenv(const char *name, void *ud) {
  static const char *const vars[][2] = {
      {"SET", "val"},
      {"EMPTY", ""},
      {"SPACED", "  padded value \t"},
      {"LLM_API_KEY_1", "sk-fuzz-key-1"},
      {"LLM_API_KEY_2", "sk-ant-fuzz-2"},
      {"LLM_API_BASE_URL_1", "https://api.example.test/v1"},
      {"X", "${SET}"},
      {NULL, NULL}};
  size_t i;
  (void)ud;
  for (i = 0; vars[i][0]; i++)
    if (strcmp(vars[i][0], name) == 0) return vars[i][1];
  return NULL;
}

#endif
