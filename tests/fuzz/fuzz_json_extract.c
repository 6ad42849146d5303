/*
 * fuzz_json_extract.c -- fuzzing JSON extraction from model answers
 * (lgw__json_extract) and the strict parser (lgw__json_parse_strict):
 * result/error consistency, strict success implies the extractor finds the
 * same value, and a printed value parses back to itself.
 */
#include <math.h>

#include "fuzz_common.h"
#include "json_extract.h"

/* 1 when the tree holds a number cJSON cannot print back (NaN, inf). */
static int json_has_nonfinite(const cJSON *n) {
  const cJSON *c;
  if (cJSON_IsNumber(n) && !isfinite(n->valuedouble)) return 1;
  for (c = n->child; c; c = c->next)
    if (json_has_nonfinite(c)) return 1;
  return 0;
}

static void json_check_result(int rc, const cJSON *out,
                              const lgw_error_t *err) {
  if (rc == 0) {
    FUZZ_CHECK(out != NULL);
  } else {
    FUZZ_CHECK(out == NULL);
    FUZZ_CHECK(rc == LGW_EJSON || rc == LGW_ENOMEM);
    FUZZ_CHECK(err->code == rc);
    FUZZ_CHECK(strncmp(err->message, "JSON parse error: ", 18) == 0);
  }
}

static void fuzz_json_extract(const uint8_t *data, size_t size,
                              lgw__buf_t *desc) {
  const char *text = size ? (const char *)data : "";
  lgw_error_t e1, e2;
  cJSON *strict = NULL, *found = NULL;
  char *p1 = NULL, *p2 = NULL;
  int rs, rx;
  memset(&e1, 0, sizeof e1);
  memset(&e2, 0, sizeof e2);
  rs = lgw__json_parse_strict(text, size, &strict, &e1);
  json_check_result(rs, strict, &e1);
  rx = lgw__json_extract(text, size, &found, &e2);
  json_check_result(rx, found, &e2);
  if (found) p2 = cJSON_PrintUnformatted(found);
  if (strict) {
    p1 = cJSON_PrintUnformatted(strict);
    FUZZ_CHECK(rx == 0 && p1 && p2 && strcmp(p1, p2) == 0);
  }
  if (strict && !json_has_nonfinite(strict)) {
    cJSON *back = NULL;
    char *p3;
    FUZZ_CHECK(lgw__json_parse_strict(p1, strlen(p1), &back, NULL) == 0);
    p3 = cJSON_PrintUnformatted(back);
    FUZZ_CHECK(p3 && strcmp(p1, p3) == 0);
    cJSON_free(p3);
    cJSON_Delete(back);
  }
  FUZZ_NOTE(desc, "strict=%d ", rs);
  if (rs) FUZZ_NOTE(desc, "%s", e1.message);
  else fuzz_note_bytes(desc, p1, strlen(p1));
  FUZZ_NOTE(desc, "\nextract=%d ", rx);
  if (rx) FUZZ_NOTE(desc, "%s", e2.message);
  else if (p2) fuzz_note_bytes(desc, p2, strlen(p2));
  FUZZ_NOTE(desc, "\n");
  cJSON_free(p1);
  cJSON_free(p2);
  cJSON_Delete(strict);
  cJSON_Delete(found);
}

#ifndef LGW_FUZZ_NO_MAIN
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  fuzz_json_extract(data, size, NULL);
  return 0;
}
#endif
