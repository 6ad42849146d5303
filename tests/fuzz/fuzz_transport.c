/*
 * fuzz_transport.c -- fuzzing the 2xx response parsers of all four
 * transports (Responses, Chat, Anthropic, LiteLLM), each without a
 * content type and as text/event-stream, and the one-line message taken
 * from an error body (lgw__error_body_message) at several buffer sizes.
 * Answers and stream events read in place must give what the cJSON path
 * gives for the same JSON (forced by a byte order mark before an answer,
 * and by a first member with an escaped key in an event).
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

/* Two replies are the same. */
static void same_reply(const lgw__reply_t *a, const lgw__reply_t *b) {
  size_t i;
  FUZZ_CHECK(a->text_len == b->text_len &&
             memcmp(a->text, b->text, a->text_len) == 0);
  FUZZ_CHECK(a->input_tokens == b->input_tokens &&
             a->output_tokens == b->output_tokens &&
             a->cached_tokens == b->cached_tokens &&
             a->reasoning_tokens == b->reasoning_tokens);
  FUZZ_CHECK(a->finish_reason == b->finish_reason);
  FUZZ_CHECK(!a->refusal == !b->refusal);
  FUZZ_CHECK(!a->refusal || (a->refusal_len == b->refusal_len &&
                             memcmp(a->refusal, b->refusal,
                                    a->refusal_len) == 0));
  FUZZ_CHECK(a->calls.n == b->calls.n);
  for (i = 0; i < a->calls.n; i++) {
    const lgw__tcall_t *x = &a->calls.v[i], *y = &b->calls.v[i];
    FUZZ_CHECK(x->key == y->key && strcmp(x->id, y->id) == 0 &&
               strcmp(x->name, y->name) == 0 && x->args.len == y->args.len);
    FUZZ_CHECK(!x->args.len ||
               memcmp(x->args.data, y->args.data, x->args.len) == 0);
  }
}

/* The answer read as given and through a tree (a byte order mark before
 * it makes the in-place reader unsure) gives the same outcome. */
static void transport_agree(const lgw__transport_t *t, const char *body,
                            size_t size) {
  char *bom;
  lgw__reply_t a, b;
  lgw_error_t err;
  int ra, rb;
  if (size >= 3 && memcmp(body, "\xEF\xBB\xBF", 3) == 0) return;
  bom = lgw_malloc(size + 3);
  FUZZ_CHECK(bom != NULL);
  memcpy(bom, "\xEF\xBB\xBF", 3);
  if (size) memcpy(bom + 3, body, size);
  memset(&a, 0, sizeof a);
  memset(&b, 0, sizeof b);
  ra = t->parse(body, size, NULL, &a, &err);
  rb = t->parse(bom, size + 3, NULL, &b, &err);
  FUZZ_CHECK(ra == rb);
  if (ra == 0) same_reply(&a, &b);
  lgw__reply_free(&a);
  lgw__reply_free(&b);
  lgw_free(bom);
}

/* One event with the body as its data (NUL-terminated, event name ev). */
static int stream_one(const lgw__transport_t *t, const char *data,
                      size_t size, const char *ev, lgw__stream_t *s) {
  lgw_error_t err;
  int rc;
  lgw__stream_init(s);
  s->event = ev;
  memset(&err, 0, sizeof err);
  rc = t->stream_event(s, data, size, &err);
  FUZZ_CHECK(rc == 0 || rc == LGW_ERESPONSE || rc == LGW_EHTTP ||
             rc == LGW_ENOMEM);
  if (rc) FUZZ_CHECK(err.code == rc && err.message[0] != '\0');
  FUZZ_CHECK(s->delta.len <= s->text.len);
  return rc;
}

/* The body as one stream event; an object body also with a first member
 * {"\u0061":0} put before its own, which leaves it to the tree: both
 * give the same outcome. */
static void transport_event(const lgw__transport_t *t, const char *body,
                            size_t size, const char *ev) {
  lgw__stream_t a, b;
  lgw__reply_t ra, rb;
  char *data = lgw_malloc(size + 16);
  size_t i = 0;
  int rc;
  FUZZ_CHECK(data != NULL);
  if (size) memcpy(data, body, size);
  data[size] = '\0';
  rc = stream_one(t, data, size, ev, &a);
  while (i < size && (body[i] == ' ' || body[i] == '\t' || body[i] == '\n' ||
                      body[i] == '\r'))
    i++;
  if (i < size && body[i] == '{' && memchr(body, '\0', size) == NULL) {
    size_t j = i + 1;
    while (j < size && (body[j] == ' ' || body[j] == '\t' ||
                        body[j] == '\n' || body[j] == '\r'))
      j++;
    if (j < size && body[j] != '}') {
      memcpy(data, "{\"\\u0061\":0,", 12);
      memcpy(data + 12, body + i + 1, size - i - 1);
      data[12 + size - i - 1] = '\0';
      FUZZ_CHECK(stream_one(t, data, 12 + size - i - 1, ev, &b) == rc);
      memset(&ra, 0, sizeof ra);
      memset(&rb, 0, sizeof rb);
      if (!rc) {
        FUZZ_CHECK(a.done == b.done && a.refused == b.refused);
        FUZZ_CHECK(lgw__stream_take(&a, &ra) == lgw__stream_take(&b, &rb));
        same_reply(&ra, &rb);
      }
      lgw__reply_free(&ra);
      lgw__reply_free(&rb);
      lgw__stream_free(&b);
    }
  }
  lgw__stream_free(&a);
  lgw_free(data);
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
    transport_agree(all[i], body, size);
    transport_event(all[i], body, size, "");
    transport_event(all[i], body, size, "error");
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
