/*
 * fuzz_sse.c -- fuzzing the text/event-stream decoder (lgw__sse_decode):
 * success gives a JSON object, failure the documented error and no tree.
 */
#include "fuzz_common.h"
#include "sse.h"

static void fuzz_sse(const uint8_t *data, size_t size, lgw__buf_t *desc) {
  /* An exact-size copy so reads past the end are caught. */
  char *body = lgw_malloc(size ? size : 1);
  lgw_error_t err;
  cJSON *out = NULL;
  int rc;
  FUZZ_CHECK(body != NULL);
  if (size) memcpy(body, data, size);
  memset(&err, 0, sizeof err);
  rc = lgw__sse_decode(body, size, &out, &err);
  FUZZ_NOTE(desc, "%d ", rc);
  if (rc == 0) {
    char *p;
    FUZZ_CHECK(out != NULL && cJSON_IsObject(out));
    p = cJSON_PrintUnformatted(out);
    FUZZ_CHECK(p != NULL);
    fuzz_note_bytes(desc, p, strlen(p));
    cJSON_free(p);
  } else {
    FUZZ_CHECK(out == NULL);
    FUZZ_CHECK(rc == LGW_ERESPONSE || rc == LGW_ENOMEM);
    FUZZ_CHECK(err.code == rc && err.message[0] != '\0');
    FUZZ_NOTE(desc, "%s", err.message);
  }
  FUZZ_NOTE(desc, "\n");
  cJSON_Delete(out);
  lgw_free(body);
}

#ifndef LGW_FUZZ_NO_MAIN
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  fuzz_sse(data, size, NULL);
  return 0;
}
#endif
