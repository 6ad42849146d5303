/*
 * fuzz_retry_after.c -- fuzzing the Retry-After parser
 * (lgw__retry_after_parse). The input is split at its first newline into
 * the retry-after-ms and retry-after header values; without a newline it
 * is a lone retry-after value. The clock is fixed.
 */
#include "fuzz_common.h"
#include "retry.h"

#define RETRY_NOW 1700000000.0 /* 2023-11-14T22:13:20Z */

static void fuzz_retry_after(const uint8_t *data, size_t size,
                             lgw__buf_t *desc) {
  char *in = fuzz_cstr(data, size), *nl = strchr(in, '\n');
  const char *ms = NULL, *ra = in;
  long got, alone;
  if (nl) {
    *nl = '\0';
    ms = in;
    ra = nl + 1;
  }
  got = lgw__retry_after_parse(ms, ra, RETRY_NOW);
  FUZZ_CHECK(got >= -1);
  /* Each header alone is parsed the same way; ms wins when it parses. */
  alone = lgw__retry_after_parse(NULL, ra, RETRY_NOW);
  FUZZ_CHECK(alone >= -1);
  if (ms) {
    long ms_alone = lgw__retry_after_parse(ms, NULL, RETRY_NOW);
    FUZZ_CHECK(ms_alone >= -1);
    FUZZ_CHECK(got == (ms_alone >= 0 ? ms_alone : alone));
  } else {
    FUZZ_CHECK(got == alone);
  }
  FUZZ_CHECK(lgw__retry_after_parse(NULL, NULL, RETRY_NOW) == -1);
  FUZZ_NOTE(desc, "%ld\n", got);
  lgw_free(in);
}

#ifndef LGW_FUZZ_NO_MAIN
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  fuzz_retry_after(data, size, NULL);
  return 0;
}
#endif
