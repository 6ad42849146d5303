/*
 * test_transport_anthropic.c -- the Anthropic transport: URLs, headers
 * (x-api-key, anthropic-version), exact request bodies (system joined),
 * text and usage from answers and SSE bodies, error objects in a 200,
 * answers not streamed (refusal, thinking tokens) and stream events.
 */
#include "test.h"
#include "transport.h"
#include "wire_support.h"

TEST(anthropic_urls) {
  const lgw__transport_t *t = &lgw__transport_anthropic;
  ASSERT_STREQ(wire_url(t, "https://api.anthropic.com"),
               "https://api.anthropic.com/v1/messages");
  ASSERT_STREQ(wire_url(t, "https://api.anthropic.com/"),
               "https://api.anthropic.com/v1/messages");
  ASSERT_STREQ(wire_url(t, "https://api.anthropic.com/v1/messages"),
               "https://api.anthropic.com/v1/messages");
  ASSERT_STREQ(wire_url(t, " https://api.anthropic.com/v1/messages/ "),
               "https://api.anthropic.com/v1/messages");
  /* no doubled /v1 (the Python library sends .../v1/v1/messages) */
  ASSERT_STREQ(wire_url(t, "https://api.anthropic.com/v1"),
               "https://api.anthropic.com/v1/messages");
  ASSERT_STREQ(wire_url(t, "https://proxy.example/anthropic"),
               "https://proxy.example/anthropic/v1/messages");
}

TEST(anthropic_headers) {
  lgw__provider_t p = wire_provider("https://x", "sk-ant");
  ASSERT_STREQ(wire_headers(&lgw__transport_anthropic, &p),
               "content-type: application/json|x-api-key: sk-ant|"
               "anthropic-version: 2023-06-01");
  lgw__kvlist_add(&p.headers, "Anthropic-Version", "2024-01-01");
  lgw__kvlist_add(&p.headers, "anthropic-beta", "b1");
  ASSERT_STREQ(wire_headers(&lgw__transport_anthropic, &p),
               "content-type: application/json|x-api-key: sk-ant|"
               "Anthropic-Version: 2024-01-01|anthropic-beta: b1");
  lgw__kvlist_free(&p.headers);
  /* a configured key header replaces ours; a Bearer only if configured */
  lgw__kvlist_add(&p.headers, "X-API-Key", "other");
  lgw__kvlist_add(&p.headers, "authorization", "Bearer tok");
  ASSERT_STREQ(wire_headers(&lgw__transport_anthropic, &p),
               "content-type: application/json|anthropic-version: 2023-06-01"
               "|X-API-Key: other|authorization: Bearer tok");
  lgw__kvlist_free(&p.headers);
  p = wire_provider("https://x", "");
  ASSERT_STREQ(wire_headers(&lgw__transport_anthropic, &p),
               "content-type: application/json|anthropic-version: 2023-06-01");
}

TEST(anthropic_body_golden) {
  lgw__call_t c = wire_call(wire_history, WIRE_NMSG(wire_history), "claude-x");
  c.reasoning_effort = "high";
  c.temperature = 0.7;
  c.max_tokens = 512;
  ASSERT_STREQ(wire_body(&lgw__transport_anthropic, &c),
               "{\"model\":\"claude-x\",\"messages\":["
               "{\"role\":\"user\",\"content\":\"Hi\"},"
               "{\"role\":\"assistant\",\"content\":\"Hello!\"},"
               "{\"role\":\"user\",\"content\":\"Say \\\"ok\\\"\\n\"}],"
               "\"max_tokens\":512,\"temperature\":0.7,"
               "\"system\":\"Be brief.\"}");
  c.stream = 1;
  ASSERT_STREQ(wire_body(&lgw__transport_anthropic, &c),
               "{\"model\":\"claude-x\",\"messages\":["
               "{\"role\":\"user\",\"content\":\"Hi\"},"
               "{\"role\":\"assistant\",\"content\":\"Hello!\"},"
               "{\"role\":\"user\",\"content\":\"Say \\\"ok\\\"\\n\"}],"
               "\"max_tokens\":512,\"temperature\":0.7,"
               "\"system\":\"Be brief.\",\"stream\":true}");
}

TEST(anthropic_body_roles_and_system) {
  static const lgw_message_t m[] = {
    {"system", "sys1"}, {"System", ""}, {"system", "sys2"},
    {"developer", "dev "}, {"tool", "t"}, {" ASSISTANT", "a"}, {NULL, "n"}};
  lgw__call_t c = wire_call(m, WIRE_NMSG(m), "claude-x");
  ASSERT_STREQ(wire_body(&lgw__transport_anthropic, &c),
               "{\"model\":\"claude-x\",\"messages\":["
               "{\"role\":\"user\",\"content\":\"t\"},"
               "{\"role\":\"assistant\",\"content\":\"a\"},"
               "{\"role\":\"user\",\"content\":\"n\"}],"
               "\"max_tokens\":4000,\"temperature\":0.0,"
               "\"system\":\"sys1\\n\\nsys2\\ndev\"}");
}

TEST(anthropic_body_no_messages) {
  static const lgw_message_t m[] = {{"system", "  "}};
  lgw__call_t c = wire_call(m, WIRE_NMSG(m), "claude-x");
  ASSERT_STREQ(wire_body(&lgw__transport_anthropic, &c),
               "{\"model\":\"claude-x\",\"messages\":[{\"role\":\"user\","
               "\"content\":\"\"}],\"max_tokens\":4000,"
               "\"temperature\":0.0}");
}

TEST(anthropic_extract) {
  const lgw__transport_t *t = &lgw__transport_anthropic;
  ASSERT_STREQ(wire_parse(t,
      "{\"content\":[{\"type\":\"thinking\",\"text\":\"th\"},"
      "{\"type\":\"text\",\"text\":\"T1\"},"
      "{\"type\":\"text\",\"text\":\"T2\"}]}"),
      "T1\nT2");
  ASSERT_STREQ(wire_parse(t,
      "{\"content\":[{\"type\":\"TEXT\",\"text\":\"up\"}]}"),
      "up");
  ASSERT_STREQ(wire_parse(t,
      "{\"content\":[{\"type\":\"other\",\"text\":\"o1\"},"
      "{\"text\":\"o2\"},{\"type\":\"text\",\"text\":\"\"},"
      "\"s\"]}"),
      "o1\no2");
  ASSERT_STREQ(wire_parse(t, "{\"content\":\"plain\"}"), "");
  ASSERT_STREQ(wire_parse(t, "{\"content\":[]}"), "");
  ASSERT_STREQ(wire_parse(t, "{\"id\":\"msg\",\"type\":\"message\",\"content\":"
                             "[{\"type\":\"text\",\"text\":\"Hi\"}],\"usage\":"
                             "{\"input_tokens\":10,\"output_tokens\":3}}"),
               "Hi");
  ASSERT_EQ(wire_in_tok, 10);
  ASSERT_EQ(wire_out_tok, 3);
}

TEST(anthropic_error_in_200) {
  const lgw__transport_t *t = &lgw__transport_anthropic;
  ASSERT_STREQ(wire_parse(t,
      "{\"type\":\"error\",\"error\":{\"type\":"
      "\"overloaded_error\",\"message\":\"Overloaded\"}}"),
      "ERR -7 529: overloaded_error: Overloaded");
  ASSERT_STREQ(wire_parse(t,
      "{\"type\":\"error\",\"error\":{\"type\":"
      "\"rate_limit_error\",\"message\":\"slow down\"}}"),
      "ERR -7 429: rate_limit_error: slow down");
  ASSERT_STREQ(wire_parse(t, "{\"type\":\"error\",\"error\":{\"type\":"
                             "\"api_error\",\"message\":\"boom\"}}"),
               "ERR -7 500: api_error: boom");
  ASSERT_STREQ(wire_parse(t, "{\"type\":\"error\",\"error\":{\"type\":"
                             "\"invalid_request_error\",\"message\":\"bad\"}}"),
               "ERR -7 400: invalid_request_error: bad");
  ASSERT_STREQ(wire_parse(t, "{\"type\":\"error\"}"), "ERR -7 500: error: ");
  /* an error event in a stream */
  ASSERT_STREQ(wire_parse(t,
      "event: message_start\ndata: {\"type\":"
      "\"message_start\",\"message\":{}}\n\nevent: error\n"
      "data: {\"type\":\"error\",\"error\":{\"type\":"
      "\"overloaded_error\",\"message\":\"Overloaded\"}}\n\n"),
      "ERR -7 529: overloaded_error: Overloaded");
}

TEST(anthropic_sse_body) {
  const lgw__transport_t *t = &lgw__transport_anthropic;
  ASSERT_STREQ(
      wire_parse(t, "event: message_start\ndata: {\"type\":\"message_start\","
               "\"message\":{\"id\":\"m\",\"content\":[],\"usage\":"
               "{\"input_tokens\":25,\"output_tokens\":1}}}\n\n"
               "event: content_block_delta\ndata: {\"type\":"
               "\"content_block_delta\",\"index\":0,\"delta\":{\"type\":"
               "\"text_delta\",\"text\":\"Hel\"}}\n\n"
               "event: content_block_delta\ndata: {\"type\":"
               "\"content_block_delta\",\"index\":0,\"delta\":{\"type\":"
               "\"text_delta\",\"text\":\"lo\"}}\n\n"
               "event: message_delta\ndata: {\"type\":\"message_delta\","
               "\"delta\":{\"stop_reason\":\"end_turn\"},\"usage\":"
               "{\"output_tokens\":7}}\n\n"
               "event: message_stop\ndata: {\"type\":\"message_stop\"}\n\n"),
      "Hello");
  ASSERT_EQ(wire_in_tok, 25);
  ASSERT_EQ(wire_out_tok, 7);
}

TEST(anthropic_answers_not_streamed) {
  /* U+0000 kept */
  ASSERT_STREQ(wire_reply_line(&lgw__transport_anthropic,
      "{\"content\":[{\"type\":\"text\",\"text\":\"\\u0000\"}],"
      "\"stop_reason\":\"end_turn\"}"),
      "text=\\0 finish=stop refusal=- usage=-1/-1/-1/-1");
  /* refusal, thinking tokens, max_tokens */
  ASSERT_STREQ(wire_reply_line(&lgw__transport_anthropic,
      "{\"content\":[],\"stop_reason\":\"refusal\",\"usage\":"
      "{\"input_tokens\":3,\"output_tokens\":0}}"),
      "text= finish=content_filter refusal= usage=3/0/-1/-1");
  ASSERT_STREQ(wire_reply_line(&lgw__transport_anthropic,
      "{\"content\":[{\"type\":\"thinking\",\"thinking\":\"hm\"},"
      "{\"type\":\"text\",\"text\":\"t\"}],\"stop_reason\":"
      "\"max_tokens\",\"usage\":{\"input_tokens\":3,\"output_tokens\":9,"
      "\"cache_read_input_tokens\":2,\"output_tokens_details\":"
      "{\"thinking_tokens\":7}}}"),
      "text=t finish=length refusal=- usage=3/9/2/7");
}

TEST(stream_anthropic_events) {
  wire_feed_t f;
  lgw__reply_t r;
  wire_fold(&lgw__transport_anthropic, &f,
        "{\"type\":\"message_start\",\"message\":{\"usage\":"
        "{\"input_tokens\":7,\"cache_read_input_tokens\":5,"
        "\"output_tokens\":1}}}\n"
        "{\"type\":\"ping\"}\n"
        "{\"type\":\"content_block_delta\",\"index\":0,\"delta\":"
        "{\"type\":\"text_delta\",\"text\":\"one\"}}\n"
        "{\"type\":\"content_block_delta\",\"index\":1,\"delta\":"
        "{\"type\":\"input_json_delta\",\"partial_json\":\"{\"}}\n"
        "{\"type\":\"content_block_delta\",\"index\":2,\"delta\":"
        "{\"type\":\"text_delta\",\"text\":\"two\"}}\n"
        "{\"type\":\"message_delta\",\"delta\":{\"stop_reason\":"
        "\"end_turn\"},\"usage\":{\"output_tokens\":6}}\n"
        "{\"type\":\"message_stop\"}");
  ASSERT_EQ(f.rc, 0);
  /* a new text block starts with "\n", as blocks join when not streamed */
  ASSERT_STREQ(f.deltas, "[one][\ntwo]");
  ASSERT_EQ(f.s.done, 1);
  memset(&r, 0, sizeof r);
  ASSERT_EQ(lgw__stream_take(&f.s, &r), 0);
  ASSERT_STREQ(r.text, "one\ntwo");
  ASSERT_EQ(r.input_tokens, 7);
  ASSERT_EQ(r.output_tokens, 6);
  ASSERT_EQ(r.cached_tokens, 5);
  ASSERT_EQ(r.reasoning_tokens, -1);
  lgw__reply_free(&r);
  lgw__stream_free(&f.s);
  wire_fold(&lgw__transport_anthropic, &f,
        "{\"type\":\"error\",\"error\":{\"type\":\"overloaded_error\","
        "\"message\":\"Overloaded\"}}");
  ASSERT_EQ(f.rc, LGW_EHTTP);
  ASSERT_EQ(f.status, 529);
  ASSERT_STREQ(f.err, "overloaded_error: Overloaded");
  lgw__stream_free(&f.s);
}

/* Answers of every shape read in one pass give exactly what the cJSON
 * tree gives. */
static const char *const anthropic_corpus[] = {
  "{\"id\":\"msg_1\",\"type\":\"message\",\"role\":\"assistant\",\"model\":"
  "\"m\",\"content\":[{\"type\":\"text\",\"text\":\"The quick brown fox\"}],"
  "\"stop_reason\":\"end_turn\",\"stop_sequence\":null,\"usage\":{"
  "\"input_tokens\":12,\"cache_read_input_tokens\":4,\"output_tokens\":10,"
  "\"output_tokens_details\":{\"thinking_tokens\":2}}}",
  /* keys in another order, duplicates, escapes */
  "{\"usage\":{\"output_tokens\":1,\"input_tokens\":2,\"output_tokens\":5},"
  "\"stop_reason\":\"max_tokens\",\"content\":[{\"text\":\"\\ud83d\\ude00 "
  "\\\"q\\\"\",\"type\":\"text\"}],\"content\":[]}",
  "{\"ty\\u0070e\":\"message\",\"content\":[{\"type\":\"text\",\"text\":"
  "\"k\"}]}",
  "{\"content\":[{\"type\":\"text\",\"text\":\"k\"}],\"usage\":{"
  "\"output_tokens_details\":{\"a\\\\\":1,\"thinking_tokens\":3}}}",
  "{\"content\":[{\"type\":\"text\",\"text\":\"k\"}],\"stop_reason\":"
  "\"end_\\u0074urn\"}",
  /* refusal, thinking, tool use, nulls */
  "{\"type\":\"message\",\"content\":[{\"type\":\"text\",\"text\":\"I will "
  "not.\"}],\"stop_reason\":\"refusal\"}",
  "{\"content\":[{\"type\":\"thinking\",\"thinking\":\"hmm\"},{\"type\":"
  "\"text\",\"text\":\"a\"},{\"type\":\"TEXT\",\"text\":\"b\"},{\"type\":"
  "\"other\",\"text\":\"c\"}]}",
  "{\"content\":[{\"type\":\"tool_use\",\"id\":\"t1\",\"name\":\"f\","
  "\"input\":{\"a\":[1,2],\"b\":\"x\"}}],\"stop_reason\":\"tool_use\"}",
  "{\"content\":[{\"type\":\"tool_use\",\"id\":\"t1\",\"name\":\"f\","
  "\"input\":{\"a\": 1.5}}]}",
  "{\"content\":null,\"usage\":null,\"stop_reason\":null}",
  "{\"content\":[{\"type\":\"text\",\"text\":\"\"}]}",
  /* error bodies */
  "{\"type\":\"error\",\"error\":{\"type\":\"overloaded_error\","
  "\"message\":\"busy\"}}",
  "{\"error\":{\"type\":\"api_error\",\"message\":\"x\"}}",
  "[]", "{}", "\"s\"", "{\"content\":[}", "",
};

TEST(anthropic_one_pass_matches_tree) {
  size_t i;
  for (i = 0; i < sizeof anthropic_corpus / sizeof anthropic_corpus[0]; i++) {
    const char *d = wire_parse_diff(&lgw__transport_anthropic,
                                    anthropic_corpus[i]);
    if (*d) fprintf(stderr, "corpus %zu: %s\n", i, d);
    ASSERT_STREQ(d, "");
  }
}

int main(void) {
  RUN(anthropic_urls);
  RUN(anthropic_headers);
  RUN(anthropic_body_golden);
  RUN(anthropic_body_roles_and_system);
  RUN(anthropic_body_no_messages);
  RUN(anthropic_extract);
  RUN(anthropic_error_in_200);
  RUN(anthropic_sse_body);
  RUN(anthropic_answers_not_streamed);
  RUN(stream_anthropic_events);
  RUN(anthropic_one_pass_matches_tree);
  return TEST_SUMMARY();
}
