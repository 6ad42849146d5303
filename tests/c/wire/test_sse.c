/*
 * test_sse.c -- SSE body decoding: every verified case of the Python
 * library's table (§10.1), and the Chat Completions and Anthropic stream
 * aggregation of our own; the incremental parser fed in every split.
 */
#include <stdlib.h>

#include "sse.h"
#include "test.h"
#include "util.h"

/* Decoded object as compact JSON (static buffer), or "ERR <code>: msg". */
static const char *dec(const char *body) {
  static char out[4096];
  lgw_error_t err;
  cJSON *o = NULL;
  char *s;
  int rc = lgw__sse_decode(body, strlen(body), &o, &err);
  if (rc) {
    snprintf(out, sizeof out, "ERR %d: %s", rc, err.message);
    return out;
  }
  s = cJSON_PrintUnformatted(o);
  snprintf(out, sizeof out, "%s", s);
  cJSON_free(s);
  cJSON_Delete(o);
  return out;
}

TEST(created_then_completed) {
  ASSERT_STREQ(
      dec("event: response.created\n"
          "data: {\"type\":\"response.created\",\"response\":"
          "{\"id\":\"r1\",\"status\":\"in_progress\"}}\n\n"
          "event: response.completed\n"
          "data: {\"type\":\"response.completed\",\"response\":"
          "{\"id\":\"r1\",\"status\":\"completed\",\"output_text\":\"OK\"}}"
          "\n\n"),
      "{\"id\":\"r1\",\"status\":\"completed\",\"output_text\":\"OK\"}");
}

TEST(deltas_into_latest_response) {
  ASSERT_STREQ(
      dec("data: {\"type\":\"X.OUTPUT_TEXT.DELTA\",\"delta\":\"a\"}\n\n"
          "data: {\"type\":\"response.output_text.delta\",\"delta\":\"b\"}\n"
          "\n"
          "data: {\"type\":\"response.created\",\"response\":{\"id\":1}}\n"
          "\n"),
      "{\"id\":1,\"output_text\":\"ab\"}");
}

TEST(last_done_wins) {
  ASSERT_STREQ(
      dec("data: {\"type\":\"response.output_text.done\",\"text\":\"one\"}\n"
          "\n"
          "data: {\"type\":\"response.output_text.done\",\"text\":\"two\"}\n"
          "\n"),
      "{\"output_text\":\"two\"}");
}

TEST(response_output_text_kept_over_done) {
  ASSERT_STREQ(
      dec("data: {\"type\":\"response.completed\",\"response\":"
          "{\"output_text\":\"has\"}}\n\n"
          "data: {\"type\":\"response.output_text.done\",\"text\":\"done\"}"
          "\n\n"),
      "{\"output_text\":\"has\"}");
}

TEST(done_beats_deltas_in_response) {
  ASSERT_STREQ(
      dec("data: {\"type\":\"response.output_text.delta\",\"delta\":\"x\"}"
          "\n\n"
          "data: {\"type\":\"response.output_text.done\",\"text\":\"full\"}"
          "\n\n"
          "data: {\"type\":\"response.completed\",\"response\":"
          "{\"output_text\":\"\"}}\n\n"),
      "{\"output_text\":\"full\"}");
}

TEST(deltas_only) {
  ASSERT_STREQ(
      dec("data: {\"type\":\"response.output_text.delta\",\"delta\":\"He\"}"
          "\n\n"
          "data: {\"type\":\"response.output_text.delta\",\"delta\":\"\"}\n\n"
          "data: {\"type\":\"response.output_text.delta\",\"delta\":\"y\"}"),
      "{\"output_text\":\"Hey\"}");
}

TEST(multi_line_data_joined) {
  ASSERT_STREQ(dec("data: {\"x\":\ndata: 1}\n\n"), "{\"x\":1}");
}

TEST(non_objects_skipped) {
  ASSERT_STREQ(dec("data: [1,2]\n\ndata: {\"k\":\"v\"}\n\n"),
               "{\"k\":\"v\"}");
}

TEST(crlf_lines) {
  ASSERT_STREQ(dec("data: {\"a\":1}\r\n\r\ndata: {\"b\":2}\r\n\r\n"),
               "{\"b\":2}");
}

TEST(last_event_flushed_without_blank_line) {
  ASSERT_STREQ(dec("data: {\"a\":1}\n\ndata: {\"b\":2}"), "{\"b\":2}");
}

TEST(no_payload) {
  ASSERT_STREQ(dec("data: [DONE]\n\n"),
               "ERR -10: No JSON payload found in SSE response");
  ASSERT_STREQ(dec(": keep-alive\n\n: another\n"),
               "ERR -10: No JSON payload found in SSE response");
  ASSERT_STREQ(dec("event: ping\nid: 4\nretry: 100\n\n"),
               "ERR -10: No JSON payload found in SSE response");
  ASSERT_STREQ(dec(""), "ERR -10: No JSON payload found in SSE response");
  ASSERT_STREQ(dec("data: {broken\n\ndata: 42\n\n"),
               "ERR -10: No JSON payload found in SSE response");
}

TEST(line_rules) {
  /* leading spaces before data: make it another field, ignored */
  ASSERT_STREQ(dec("data: {\"a\":1}\n\n  data: {\"b\":2}\n\n"), "{\"a\":1}");
  /* no space after the colon, tabs stripped */
  ASSERT_STREQ(dec("data:{\"a\":1}\n\ndata:\t{\"c\":3}\n\n"), "{\"c\":3}");
  /* comments and other fields inside an event do not break it */
  ASSERT_STREQ(dec("event: x\n: note\ndata: {\"d\":\nid: 7\ndata: 4}\n\n"),
               "{\"d\":4}");
  /* invalid JSON event skipped, earlier object kept */
  ASSERT_STREQ(dec("data: {\"e\":5}\n\ndata: {nope}\n\ndata: [DONE]\n\n"),
               "{\"e\":5}");
}

TEST(chat_chunks_aggregated) {
  ASSERT_STREQ(
      dec("data: {\"id\":\"c1\",\"object\":\"chat.completion.chunk\","
          "\"created\":5,\"model\":\"m\",\"choices\":[{\"index\":0,"
          "\"delta\":{\"role\":\"assistant\",\"content\":\"\"},"
          "\"finish_reason\":null}]}\n\n"
          "data: {\"id\":\"c1\",\"object\":\"chat.completion.chunk\","
          "\"created\":5,\"model\":\"m\",\"choices\":[{\"index\":0,"
          "\"delta\":{\"content\":\"Hel\"},\"finish_reason\":null}]}\n\n"
          "data: {\"id\":\"c1\",\"object\":\"chat.completion.chunk\","
          "\"created\":5,\"model\":\"m\",\"choices\":[{\"index\":0,"
          "\"delta\":{\"content\":\"lo\"},\"finish_reason\":\"stop\"}]}\n\n"
          "data: {\"id\":\"c1\",\"object\":\"chat.completion.chunk\","
          "\"created\":5,\"model\":\"m\",\"choices\":[],\"usage\":"
          "{\"prompt_tokens\":7,\"completion_tokens\":2,\"total_tokens\":9}}"
          "\n\n"
          "data: [DONE]\n\n"),
      "{\"id\":\"c1\",\"object\":\"chat.completion\",\"created\":5,"
      "\"model\":\"m\",\"choices\":[{\"index\":0,\"message\":{\"role\":"
      "\"assistant\",\"content\":\"Hello\"},\"finish_reason\":\"stop\"}],"
      "\"usage\":{\"prompt_tokens\":7,\"completion_tokens\":2,"
      "\"total_tokens\":9}}");
}

TEST(chat_chunks_without_ids) {
  ASSERT_STREQ(dec("data: {\"choices\":[{\"delta\":{\"content\":\"a\"}}]}\n\n"
                   "data: {\"choices\":[{\"delta\":{}}]}\n\n"),
               "{\"object\":\"chat.completion\",\"choices\":[{\"index\":0,"
               "\"message\":{\"role\":\"assistant\",\"content\":\"a\"},"
               "\"finish_reason\":null}]}");
}

static const char anthropic_stream[] =
    "event: message_start\n"
    "data: {\"type\":\"message_start\",\"message\":{\"id\":\"msg_1\","
    "\"type\":\"message\",\"role\":\"assistant\",\"model\":\"claude-x\","
    "\"content\":[],\"stop_reason\":null,\"usage\":{\"input_tokens\":25,"
    "\"output_tokens\":1}}}\n\n"
    "event: content_block_start\n"
    "data: {\"type\":\"content_block_start\",\"index\":0,\"content_block\":"
    "{\"type\":\"thinking\",\"thinking\":\"\"}}\n\n"
    "event: content_block_delta\n"
    "data: {\"type\":\"content_block_delta\",\"index\":0,\"delta\":"
    "{\"type\":\"thinking_delta\",\"thinking\":\"hmm\"}}\n\n"
    "event: ping\ndata: {\"type\": \"ping\"}\n\n"
    "event: content_block_delta\n"
    "data: {\"type\":\"content_block_delta\",\"index\":1,\"delta\":"
    "{\"type\":\"text_delta\",\"text\":\"Hi \"}}\n\n"
    "event: content_block_delta\n"
    "data: {\"type\":\"content_block_delta\",\"index\":1,\"delta\":"
    "{\"type\":\"text_delta\",\"text\":\"there\"}}\n\n"
    "event: content_block_stop\n"
    "data: {\"type\":\"content_block_stop\",\"index\":1}\n\n"
    "event: message_delta\n"
    "data: {\"type\":\"message_delta\",\"delta\":{\"stop_reason\":"
    "\"end_turn\",\"stop_sequence\":null},\"usage\":{\"output_tokens\":15}}"
    "\n\n"
    "event: message_stop\ndata: {\"type\":\"message_stop\"}\n\n";

TEST(anthropic_stream_aggregated) {
  ASSERT_STREQ(dec(anthropic_stream),
               "{\"id\":\"msg_1\",\"type\":\"message\",\"role\":\"assistant\","
               "\"model\":\"claude-x\",\"usage\":{\"input_tokens\":25,"
               "\"output_tokens\":15},\"content\":[{\"type\":\"text\","
               "\"text\":\"Hi there\"}],\"stop_reason\":\"end_turn\"}");
}

TEST(anthropic_error_event) {
  ASSERT_STREQ(
      dec("event: message_start\n"
          "data: {\"type\":\"message_start\",\"message\":{\"id\":\"m\"}}\n\n"
          "event: content_block_delta\n"
          "data: {\"type\":\"content_block_delta\",\"delta\":"
          "{\"type\":\"text_delta\",\"text\":\"par\"}}\n\n"
          "event: error\n"
          "data: {\"type\":\"error\",\"error\":{\"type\":\"overloaded_error\","
          "\"message\":\"Overloaded\"}}\n\n"),
      "{\"type\":\"error\",\"error\":{\"type\":\"overloaded_error\","
      "\"message\":\"Overloaded\"}}");
}

TEST(deep_event_is_skipped) {
  size_t n = 100000, i;
  char *body = malloc(n * 2 + 64);
  const char *r;
  i = (size_t)sprintf(body, "data: {\"ok\":1}\n\ndata: ");
  memset(body + i, '[', n);
  memset(body + i + n, ']', n);
  strcpy(body + i + 2 * n, "\n\n");
  r = dec(body);
  free(body);
  ASSERT_STREQ(r, "{\"ok\":1}");
}

/* ---- incremental parser -------------------------------------------------- */

typedef struct got {
  char log[1024];
  int stop_at;   /* stop after this many events (0: never) */
  int n;
} got_t;

static int collect_event(const char *name, const char *data, size_t len,
                         void *ud) {
  got_t *g = ud;
  size_t used = strlen(g->log);
  snprintf(g->log + used, sizeof g->log - used, "[%s|%.*s]", name, (int)len,
           data);
  return ++g->n == g->stop_at ? 7 : 0;
}

/* Feeds body in pieces of `step` bytes, then finishes. */
static const char *feed(const char *body, size_t step) {
  static got_t g;
  lgw__sse_parser_t p;
  size_t i, n = strlen(body);
  memset(&g, 0, sizeof g);
  lgw__sse_parser_init(&p);
  for (i = 0; i < n; i += step)
    lgw__sse_feed(&p, body + i, i + step < n ? step : n - i, collect_event,
                  &g);
  lgw__sse_finish(&p, collect_event, &g);
  lgw__sse_parser_free(&p);
  return g.log;
}

static const char stream_body[] =
    ": comment\n"
    "event: a\ndata: {\"x\":1}\n\n"
    "data: one\r\ndata:two\r\n\r\n"
    "id: 7\rretry: 10\rdata: cr\r\r"
    "event: b\n\n"
    "data: last";

TEST(incremental_any_split) {
  const char *want = "[a|{\"x\":1}][|one\ntwo][|cr][|last]";
  size_t step;
  for (step = 1; step <= sizeof stream_body; step++)
    ASSERT_STREQ(feed(stream_body, step), want);
}

TEST(incremental_stop_from_callback) {
  got_t g;
  lgw__sse_parser_t p;
  memset(&g, 0, sizeof g);
  g.stop_at = 2;
  lgw__sse_parser_init(&p);
  ASSERT_EQ(lgw__sse_feed(&p, stream_body, strlen(stream_body),
                          collect_event, &g), 7);
  ASSERT_STREQ(g.log, "[a|{\"x\":1}][|one\ntwo]");
  lgw__sse_parser_free(&p);
}

TEST(incremental_bom_skipped) {
  static const char body[] = "\xEF\xBB\xBF" "data: first\n\ndata: second\n\n";
  size_t step;
  /* skipped in any split, so the first event is kept */
  for (step = 1; step <= sizeof body; step++)
    ASSERT_STREQ(feed(body, step), "[|first][|second]");
  /* only at the start; bytes that only begin like a BOM are kept */
  ASSERT_STREQ(feed("data: a\n\n\xEF\xBB\xBF" "data: b\n\n", 1), "[|a]");
  ASSERT_STREQ(feed("\xEF\xBB" "data: x\n\ndata: y\n\n", 1), "[|y]");
  ASSERT_STREQ(feed("\xEF\xBB", 1), "");
}

TEST(decode_bom_and_choice_zero) {
  /* a BOM before the first event; only choice 0 of a two-choice stream;
   * a refusal kept as message.refusal */
  ASSERT_STREQ(dec("\xEF\xBB\xBF" "data: {\"object\":\"chat.completion.chunk\","
                   "\"choices\":[{\"index\":0,\"delta\":{\"content\":\"A\"}}]}\n\n"
                   "data: {\"object\":\"chat.completion.chunk\",\"choices\":"
                   "[{\"index\":1,\"delta\":{\"content\":\"B\"}}]}\n\n"
                   "data: {\"object\":\"chat.completion.chunk\",\"choices\":"
                   "[{\"index\":0,\"delta\":{\"refusal\":\"no\"},"
                   "\"finish_reason\":\"stop\"}]}\n\n"),
               "{\"object\":\"chat.completion\",\"choices\":[{\"index\":0,"
               "\"message\":{\"role\":\"assistant\",\"content\":\"A\","
               "\"refusal\":\"no\"},\"finish_reason\":\"stop\"}]}");
  /* a Chat error chunk is the answer's error */
  ASSERT_STREQ(dec("data: {\"object\":\"chat.completion.chunk\",\"choices\":"
                   "[{\"index\":0,\"delta\":{\"content\":\"A\"}}]}\n\n"
                   "data: {\"error\":{\"message\":\"m\",\"type\":\"t\"}}\n\n"),
               "{\"error\":{\"message\":\"m\",\"type\":\"t\"}}");
}

TEST(event_stream_content_type) {
  ASSERT_EQ(lgw__is_event_stream("text/event-stream; charset=utf-8"), 1);
  ASSERT_EQ(lgw__is_event_stream("Text/Event-Stream"), 1);
  ASSERT_EQ(lgw__is_event_stream("application/json"), 0);
  ASSERT_EQ(lgw__is_event_stream(NULL), 0);
}

int main(void) {
  RUN(created_then_completed);
  RUN(deltas_into_latest_response);
  RUN(last_done_wins);
  RUN(response_output_text_kept_over_done);
  RUN(done_beats_deltas_in_response);
  RUN(deltas_only);
  RUN(multi_line_data_joined);
  RUN(non_objects_skipped);
  RUN(crlf_lines);
  RUN(last_event_flushed_without_blank_line);
  RUN(no_payload);
  RUN(line_rules);
  RUN(chat_chunks_aggregated);
  RUN(chat_chunks_without_ids);
  RUN(anthropic_stream_aggregated);
  RUN(anthropic_error_event);
  RUN(deep_event_is_skipped);
  RUN(incremental_any_split);
  RUN(incremental_stop_from_callback);
  RUN(incremental_bom_skipped);
  RUN(decode_bom_and_choice_zero);
  RUN(event_stream_content_type);
  return TEST_SUMMARY();
}
