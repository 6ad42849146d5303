/*
 * fuzz_transport.c -- fuzzing the 2xx response parsers of all four
 * transports (Responses, Chat, Anthropic, LiteLLM), each without a
 * content type and as text/event-stream, and the one-line message taken
 * from an error body (lgw__error_body_message) at several buffer sizes.
 */
#include "fuzz_common.h"
#include "transport.h"

static void transport_one(const lgw__transport_t *t, const char *body,
                          size_t size, const char *ctype, lgw__buf_t *desc) {
  lgw__reply_t r;
  lgw_error_t err;
  int rc;
  memset(&r, 0, sizeof r);
  memset(&err, 0, sizeof err);
  rc = t->parse(body, size, ctype, &r, &err);
  FUZZ_NOTE(desc, "%s/%s: %d", t->name, ctype ? "sse" : "none", rc);
  if (rc == 0) {
    FUZZ_CHECK(r.text != NULL);
    FUZZ_CHECK(r.input_tokens >= -1 && r.output_tokens >= -1);
    FUZZ_NOTE(desc, " in=%ld out=%ld text=", r.input_tokens,
              r.output_tokens);
    fuzz_note_bytes(desc, r.text, r.text_len);
  } else {
    FUZZ_CHECK(rc == LGW_ERESPONSE || rc == LGW_EHTTP || rc == LGW_ENOMEM);
    FUZZ_CHECK(err.code == rc && err.message[0] != '\0');
    FUZZ_CHECK(memchr(err.message, '\0', sizeof err.message) != NULL);
    if (rc == LGW_EHTTP)
      FUZZ_CHECK(err.http_status >= 400 && err.http_status <= 599);
    FUZZ_NOTE(desc, " status=%d ", err.http_status);
    fuzz_note_bytes(desc, err.message, strlen(err.message));
  }
  FUZZ_NOTE(desc, "\n");
  lgw__reply_free(&r);
}

/* The message fits in cap, is single-line, and nothing past cap changes. */
static void transport_error_message(const char *body, size_t size,
                                    size_t cap, lgw__buf_t *desc) {
  char out[320];
  size_t i, n;
  memset(out, 0x5a, sizeof out);
  lgw__error_body_message(body, size, out, cap);
  for (i = cap; i < sizeof out; i++) FUZZ_CHECK(out[i] == 0x5a);
  if (!cap) return;
  FUZZ_CHECK(memchr(out, '\0', cap) != NULL);
  n = strlen(out);
  for (i = 0; i < n; i++)
    FUZZ_CHECK(out[i] != '\n' && out[i] != '\r');
  FUZZ_NOTE(desc, "error_message/%zu: ", cap);
  fuzz_note_bytes(desc, out, n);
  FUZZ_NOTE(desc, "\n");
}

static void fuzz_transport(const uint8_t *data, size_t size,
                           lgw__buf_t *desc) {
  static const lgw__transport_t *const all[] = {
      &lgw__transport_responses, &lgw__transport_chat,
      &lgw__transport_anthropic, &lgw__transport_litellm};
  /* An exact-size copy so reads past the end are caught. */
  char *body = lgw_malloc(size ? size : 1);
  size_t i;
  FUZZ_CHECK(body != NULL);
  if (size) memcpy(body, data, size);
  for (i = 0; i < sizeof all / sizeof all[0]; i++) {
    transport_one(all[i], body, size, NULL, desc);
    transport_one(all[i], body, size, "text/event-stream; charset=utf-8",
                  desc);
  }
  transport_error_message(body, size, 0, desc);
  transport_error_message(body, size, 1, desc);
  transport_error_message(body, size, 9, desc);
  transport_error_message(body, size, 256, desc);
  lgw_free(body);
}

#ifndef LGW_FUZZ_NO_MAIN
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  fuzz_transport(data, size, NULL);
  return 0;
}
#endif
