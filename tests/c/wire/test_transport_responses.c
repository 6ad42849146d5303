/*
 * test_transport_responses.c -- the Responses transport: URLs, exact
 * request bodies (instructions from system messages), text and usage
 * from answers and SSE bodies, answers not streamed (refusals,
 * incomplete, tool calls) and stream events.
 */
#include "test.h"
#include "transport.h"
#include "wire_support.h"

TEST(responses_urls) {
  const lgw__transport_t *t = &lgw__transport_responses;
  ASSERT_STREQ(wire_url(t, "https://api.openai.com/v1/responses"),
               "https://api.openai.com/v1/responses");
  ASSERT_STREQ(wire_url(t, " https://gw.example/api/responses// "),
               "https://gw.example/api/responses");
  ASSERT_STREQ(wire_url(t, "https://api.openai.com/v1"),
               "https://api.openai.com/v1/responses");
  ASSERT_STREQ(wire_url(t, "https://api.openai.com/v1/"),
               "https://api.openai.com/v1/responses");
  ASSERT_STREQ(wire_url(t, "https://api.openai.com"),
               "https://api.openai.com/v1/responses");
  ASSERT_STREQ(wire_url(t, "https://x.example/v1beta"),
               "https://x.example/v1beta/v1/responses");
  ASSERT_STREQ(wire_url(t, "http://127.0.0.1:8080/openai"),
               "http://127.0.0.1:8080/openai/v1/responses");
  ASSERT_STREQ(wire_url(t, "   "), "");
}

TEST(responses_body_golden) {
  lgw__call_t c = wire_call(wire_history, WIRE_NMSG(wire_history), "gpt-5");
  c.reasoning_effort = "high";
  c.temperature = 0.7;
  c.max_tokens = 512;
  ASSERT_STREQ(wire_body(&lgw__transport_responses, &c),
               "{\"model\":\"gpt-5\",\"input\":["
               "{\"role\":\"user\",\"content\":\"Hi\"},"
               "{\"role\":\"assistant\",\"content\":\"Hello!\"},"
               "{\"role\":\"user\",\"content\":\"Say \\\"ok\\\"\\n\"}],"
               "\"max_output_tokens\":512,\"temperature\":0.7,"
               "\"stream\":false,\"reasoning\":{\"effort\":\"high\"},"
               "\"instructions\":\"Be brief.\"}");
  c.reasoning_effort = "";
  c.temperature = 0;
  c.stream = 1;
  ASSERT_STREQ(wire_body(&lgw__transport_responses, &c),
               "{\"model\":\"gpt-5\",\"input\":["
               "{\"role\":\"user\",\"content\":\"Hi\"},"
               "{\"role\":\"assistant\",\"content\":\"Hello!\"},"
               "{\"role\":\"user\",\"content\":\"Say \\\"ok\\\"\\n\"}],"
               "\"max_output_tokens\":512,\"temperature\":0.0,"
               "\"stream\":true,\"instructions\":\"Be brief.\"}");
}

TEST(responses_body_roles_and_instructions) {
  static const lgw_message_t m[] = {
    {" SYSTEM ", " sys1 "}, {"system", ""}, {"system", "  "},
    {"tool", "t"}, {" Developer ", "d"}, {NULL, "n"}, {"", NULL},
    {"system", "sys2\n"}, {"function", "f"}};
  lgw__call_t c = wire_call(m, WIRE_NMSG(m), "m");
  c.temperature = 1;
  ASSERT_STREQ(wire_body(&lgw__transport_responses, &c),
               "{\"model\":\"m\",\"input\":["
               "{\"role\":\"user\",\"content\":\"t\"},"
               "{\"role\":\"developer\",\"content\":\"d\"},"
               "{\"role\":\"user\",\"content\":\"n\"},"
               "{\"role\":\"user\",\"content\":\"\"},"
               "{\"role\":\"user\",\"content\":\"f\"}],"
               "\"max_output_tokens\":4000,\"temperature\":1.0,"
               "\"stream\":false,\"instructions\":\"sys1 \\n\\nsys2\"}");
}

TEST(responses_body_no_items) {
  static const lgw_message_t m[] = {{"system", "only"}};
  lgw__call_t c = wire_call(m, WIRE_NMSG(m), "m");
  ASSERT_STREQ(wire_body(&lgw__transport_responses, &c),
               "{\"model\":\"m\",\"input\":[{\"role\":\"user\","
               "\"content\":\"\"}],\"max_output_tokens\":4000,"
               "\"temperature\":0.0,\"stream\":false,"
               "\"instructions\":\"only\"}");
  c = wire_call(NULL, 0, "m");
  ASSERT_STREQ(wire_body(&lgw__transport_responses, &c),
               "{\"model\":\"m\",\"input\":[{\"role\":\"user\","
               "\"content\":\"\"}],\"max_output_tokens\":4000,"
               "\"temperature\":0.0,\"stream\":false}");
}

TEST(responses_extract) {
  const lgw__transport_t *t = &lgw__transport_responses;
  ASSERT_STREQ(wire_parse(t,
      "{\"output\":[{\"content\":[{\"type\":\"output_text\","
      "\"text\":\"A\"},{\"text\":\"B\"},\"C\"]},"
      "{\"content\":\"D\"}]}"),
      "A\nB\nC\nD");
  ASSERT_STREQ(wire_parse(t,
      "{\"output_text\":\"direct\",\"output\":[{\"content\":"
      "\"no\"}]}"),
      "direct");
  ASSERT_STREQ(wire_parse(t, "{\"response\":{\"output_text\":\"nested\"},"
                             "\"output_text\":\"outer\"}"),
               "nested");
  ASSERT_STREQ(wire_parse(t, "{\"response\":{\"output_text\":\"\"},"
                             "\"output_text\":\"outer\"}"),
               "outer");
  ASSERT_STREQ(wire_parse(t,
      "{\"output\":[{\"type\":\"reasoning\",\"summary\":[]},"
      "{\"type\":\"message\",\"content\":[{\"type\":"
      "\"output_text\",\"text\":\"\"},{\"text\":5},"
      "{\"type\":\"output_text\",\"text\":\"X\"}]},"
      "\"junk\",{\"content\":\"\"},{\"content\":[]}]}"),
      "X");
  ASSERT_STREQ(wire_parse(t, "{\"output_text\":7}"), "");
  ASSERT_STREQ(wire_parse(t, "[1,2]"), "");
  ASSERT_STREQ(wire_parse(t, "\"text\""), "");
  ASSERT_STREQ(wire_parse(t, "{}"), "");
}

TEST(responses_usage) {
  const lgw__transport_t *t = &lgw__transport_responses;
  ASSERT_STREQ(wire_parse(t,
      "{\"output_text\":\"x\",\"usage\":{\"input_tokens\":12,"
      "\"output_tokens\":34,\"total_tokens\":46}}"),
      "x");
  ASSERT_EQ(wire_in_tok, 12);
  ASSERT_EQ(wire_out_tok, 34);
  wire_parse(t, "{\"output_text\":\"x\"}");
  ASSERT_EQ(wire_in_tok, -1);
  ASSERT_EQ(wire_out_tok, -1);
  wire_parse(t, "{\"response\":{\"output_text\":\"x\",\"usage\":"
           "{\"input_tokens\":1,\"output_tokens\":\"2\"}}}");
  ASSERT_EQ(wire_in_tok, 1);
  ASSERT_EQ(wire_out_tok, -1);
}

TEST(responses_sse_body) {
  const lgw__transport_t *t = &lgw__transport_responses;
  const char *sse =
      "event: response.output_text.delta\n"
      "data: {\"type\":\"response.output_text.delta\",\"delta\":\"O\"}\n\n"
      "event: response.output_text.delta\n"
      "data: {\"type\":\"response.output_text.delta\",\"delta\":\"K\"}\n\n"
      "event: response.completed\n"
      "data: {\"type\":\"response.completed\",\"response\":{\"id\":\"r\","
      "\"output\":[],\"usage\":{\"input_tokens\":3,\"output_tokens\":1}}}\n\n";
  ASSERT_STREQ(wire_parse(t, sse), "OK");
  ASSERT_EQ(wire_in_tok, 3);
  ASSERT_EQ(wire_out_tok, 1);
  /* content-type alone selects SSE */
  ASSERT_STREQ(wire_parse_ct(t, "\n: c\n\ndata: {\"output_text\":\"s\"}\n\n",
                             "Text/Event-Stream; charset=utf-8"),
               "s");
  ASSERT_STREQ(wire_parse_ct(t, "", "text/event-stream"),
               "ERR -10 0: No JSON payload found in SSE response");
}

TEST(responses_answers_not_streamed) {
  /* refusal parts, incomplete, tool calls */
  ASSERT_STREQ(wire_reply_line(&lgw__transport_responses,
      "{\"status\":\"completed\",\"output\":[{\"type\":\"message\","
      "\"content\":[{\"type\":\"refusal\",\"refusal\":\"No.\"}]}]}"),
      "text= finish=stop refusal=No. usage=-1/-1/-1/-1");
  ASSERT_STREQ(wire_reply_line(&lgw__transport_responses,
      "{\"status\":\"incomplete\",\"incomplete_details\":{\"reason\":"
      "\"content_filter\"},\"output_text\":\"par\"}"),
      "text=par finish=content_filter refusal=- usage=-1/-1/-1/-1");
  ASSERT_STREQ(wire_reply_line(&lgw__transport_responses,
      "{\"status\":\"completed\",\"output\":[{\"type\":\"message\","
      "\"content\":[{\"type\":\"output_text\",\"text\":\"x\"}]},"
      "{\"type\":\"function_call\",\"name\":\"f\"}]}"),
      "text=x finish=tool_calls refusal=- usage=-1/-1/-1/-1");
}

TEST(stream_responses_events) {
  wire_feed_t f;
  lgw__reply_t r;
  wire_fold(&lgw__transport_responses, &f,
        "{\"type\":\"response.output_text.delta\",\"output_index\":0,"
        "\"content_index\":0,\"delta\":\"a\"}\n"
        "{\"type\":\"response.output_text.delta\",\"output_index\":1,"
        "\"content_index\":0,\"delta\":\"b\"}\n"
        "{\"type\":\"response.output_text.done\",\"text\":\"ignored\"}\n"
        "{\"type\":\"response.completed\",\"response\":{\"usage\":"
        "{\"input_tokens\":3,\"output_tokens\":2,\"input_tokens_details\":"
        "{\"cached_tokens\":0},\"output_tokens_details\":"
        "{\"reasoning_tokens\":8}}}}");
  ASSERT_STREQ(f.deltas, "[a][\nb]");
  ASSERT_EQ(f.s.done, 1);
  memset(&r, 0, sizeof r);
  ASSERT_EQ(lgw__stream_take(&f.s, &r), 0);
  ASSERT_STREQ(r.text, "a\nb");
  ASSERT_EQ(r.cached_tokens, 0);
  ASSERT_EQ(r.reasoning_tokens, 8);
  lgw__reply_free(&r);
  lgw__stream_free(&f.s);
  /* text only in the final response: one delta */
  wire_fold(&lgw__transport_responses, &f,
        "{\"type\":\"response.completed\",\"response\":"
        "{\"output_text\":\"whole\"}}");
  ASSERT_STREQ(f.deltas, "[whole]");
  lgw__stream_free(&f.s);
  wire_fold(&lgw__transport_responses, &f,
        "{\"type\":\"error\",\"code\":\"rate_limit_exceeded\","
        "\"message\":\"later\",\"param\":null}");
  ASSERT_EQ(f.status, 429);
  ASSERT_STREQ(f.err, "rate_limit_exceeded: later");
  lgw__stream_free(&f.s);
  wire_fold(&lgw__transport_responses, &f,
        "{\"type\":\"response.failed\",\"response\":{\"error\":"
        "{\"code\":\"server_error\",\"message\":\"boom\"}}}");
  ASSERT_EQ(f.rc, LGW_EHTTP);
  ASSERT_EQ(f.status, 500);
  ASSERT_STREQ(f.err, "server_error: boom");
  lgw__stream_free(&f.s);
}

/* Answers of every shape read in one pass give exactly what the cJSON
 * tree gives. */
static const char *const responses_corpus[] = {
  "{\"id\":\"resp_1\",\"object\":\"response\",\"status\":\"completed\","
  "\"model\":\"m\",\"output\":[{\"type\":\"message\",\"id\":\"msg_1\","
  "\"status\":\"completed\",\"role\":\"assistant\",\"content\":[{\"type\":"
  "\"output_text\",\"text\":\"The quick brown fox\",\"annotations\":[]}]}],"
  "\"usage\":{\"input_tokens\":12,\"input_tokens_details\":{"
  "\"cached_tokens\":2},\"output_tokens\":10,\"output_tokens_details\":{"
  "\"reasoning_tokens\":3},\"total_tokens\":22}}",
  /* keys in another order, duplicates, escapes in keys and values */
  "{\"usage\":{\"output_tokens\":1,\"input_tokens\":2,\"input_tokens\":9},"
  "\"output\":[{\"content\":[{\"text\":\"a\\u00e9\\n\",\"type\":"
  "\"output_text\"}],\"type\":\"message\"}],\"status\":\"completed\","
  "\"status\":\"incomplete\"}",
  "{\"st\\u0061tus\":\"completed\",\"output\":[{\"type\":\"message\","
  "\"content\":[{\"type\":\"output_text\",\"text\":\"k\"}]}]}",
  "{\"output\":[{\"type\":\"message\",\"content\":[{\"type\":\"output_text\","
  "\"text\":\"k\"}]}],\"usage\":{\"x\\\"\":1,\"input_tokens\":4}}",
  "{\"output_text\":\"direct\",\"output\":[{\"type\":\"message\",\"content\":"
  "[{\"type\":\"refusal\",\"refusal\":\"no\"}]}]}",
  /* incomplete, reasons, nulls */
  "{\"status\":\"incomplete\",\"incomplete_details\":{\"reason\":"
  "\"max_output_tokens\"},\"output\":[{\"type\":\"message\",\"content\":[{"
  "\"type\":\"output_text\",\"text\":\"cut\"}]}]}",
  "{\"status\":\"incomplete\",\"incomplete_details\":null,\"output\":[{"
  "\"type\":\"message\",\"content\":[{\"type\":\"output_text\",\"text\":"
  "\"cut\"}]}],\"usage\":null}",
  "{\"status\":\"in\\u0063omplete\",\"output\":[{\"type\":\"message\","
  "\"content\":[{\"type\":\"output_text\",\"text\":\"x\"}]}]}",
  /* refusals, calls, several items and parts */
  "{\"status\":\"completed\",\"output\":[{\"type\":\"message\",\"content\":[{"
  "\"type\":\"refusal\",\"refusal\":\"I can't.\"}]}]}",
  "{\"status\":\"completed\",\"output\":[{\"type\":\"function_call\","
  "\"call_id\":\"c1\",\"name\":\"f\",\"arguments\":\"{\\\"a\\\":1}\"},{"
  "\"type\":\"message\",\"content\":[{\"type\":\"output_text\",\"text\":"
  "\"p1\"},{\"type\":\"output_text\",\"text\":\"\"},\"p2\"]}]}",
  "{\"output\":[{\"type\":\"reasoning\",\"summary\":[]},{\"type\":"
  "\"message\",\"content\":\"as a string\"}]}",
  /* no text: an error object */
  "{\"error\":{\"message\":\"bad\",\"type\":\"invalid_request_error\"},"
  "\"output\":[]}",
  "{\"response\":{\"status\":\"completed\",\"output\":[{\"type\":\"message\","
  "\"content\":[{\"type\":\"output_text\",\"text\":\"wrapped\"}]}]}}",
  "[]", "{}", "{\"output\":5}", "{\"output\":[1,null,\"s\"]}",
  "{\"output\":[}", "",
};

TEST(responses_one_pass_matches_tree) {
  size_t i;
  for (i = 0; i < sizeof responses_corpus / sizeof responses_corpus[0]; i++) {
    const char *d = wire_parse_diff(&lgw__transport_responses,
                                    responses_corpus[i]);
    if (*d) fprintf(stderr, "corpus %zu: %s\n", i, d);
    ASSERT_STREQ(d, "");
  }
}

int main(void) {
  RUN(responses_urls);
  RUN(responses_body_golden);
  RUN(responses_body_roles_and_instructions);
  RUN(responses_body_no_items);
  RUN(responses_extract);
  RUN(responses_usage);
  RUN(responses_sse_body);
  RUN(responses_answers_not_streamed);
  RUN(stream_responses_events);
  RUN(responses_one_pass_matches_tree);
  return TEST_SUMMARY();
}
