/*
 * test_transport.c -- what the wire formats share: the transport of each
 * api_style, base URLs cleaned, the OpenAI headers, error objects in 2xx
 * answers, JSON escaping and numbers in bodies, bodies that are not JSON,
 * error-body messages, stream bodies, usage details and stream events
 * of odd shapes. Each transport's own cases are in test_transport_<name>.c.
 */
#include <stdlib.h>

#include <cJSON.h>

#include "test.h"
#include "transport.h"
#include "wire_support.h"

TEST(transport_for_styles) {
  ASSERT_STREQ(lgw__transport_for(LGW__STYLE_RESPONSES)->name, "responses");
  ASSERT_STREQ(lgw__transport_for(LGW__STYLE_CHAT)->name, "openai_chat");
  ASSERT_STREQ(lgw__transport_for(LGW__STYLE_ANTHROPIC)->name, "anthropic");
  ASSERT_STREQ(lgw__transport_for(LGW__STYLE_LITELLM)->name, "litellm");
  ASSERT_STREQ(lgw__transport_for(LGW__STYLE_NONE)->name, "responses");
}

/* An error object in a 2xx answer without text is an error on the OpenAI
 * formats, classified by its type (invalid_request_error as 400: fail
 * over; others retried); with text, the text wins. */
TEST(openai_error_object_in_2xx) {
  const lgw__transport_t *ts[] = {&lgw__transport_responses,
                                  &lgw__transport_chat,
                                  &lgw__transport_litellm};
  size_t i;
  for (i = 0; i < 3; i++) {
    ASSERT_STREQ(wire_parse(ts[i], "{\"error\":{\"type\":\"server_error\","
                                   "\"message\":\"boom\"}}"),
                 "ERR -7 500: error object in a 2xx answer: server_error: "
                 "boom");
    ASSERT_STREQ(wire_parse(ts[i], "{\"error\":{\"message\":\"Bad model\","
                                   "\"type\":\"invalid_request_error\","
                                   "\"code\":null}}"),
                 "ERR -7 400: error object in a 2xx answer: "
                 "invalid_request_error: Bad model");
    ASSERT_STREQ(wire_parse(ts[i], "{\"error\":null}"), "");
  }
  ASSERT_STREQ(wire_parse(&lgw__transport_chat,
                          "{\"choices\":[{\"message\":{\"content\":\"hi\"}}],"
                          "\"error\":{\"message\":\"x\"}}"),
               "hi");
}

TEST(clean_base) {
  char *s = lgw__clean_base("  https://x/v1///  ");
  ASSERT_STREQ(s, "https://x/v1");
  lgw_free(s);
  s = lgw__clean_base(NULL);
  ASSERT_STREQ(s, "");
  lgw_free(s);
  s = lgw__clean_base(" / ");
  ASSERT_STREQ(s, "");
  lgw_free(s);
}

TEST(openai_headers) {
  lgw__provider_t p = wire_provider("https://x", " sk-test ");
  lgw__kvlist_add(&p.headers, "X-Org", "org 1");
  lgw__kvlist_add(&p.headers, "  ", "dropped");
  lgw__kvlist_add(&p.headers, "Authorization", "Bearer other");
  ASSERT_STREQ(wire_headers(&lgw__transport_responses, &p),
               "content-type: application/json|authorization: Bearer sk-test"
               "|X-Org: org 1|Authorization: Bearer other");
  ASSERT_STREQ(wire_headers(&lgw__transport_chat, &p),
               "content-type: application/json|authorization: Bearer sk-test"
               "|X-Org: org 1|Authorization: Bearer other");
  ASSERT_STREQ(wire_headers(&lgw__transport_litellm, &p),
               "content-type: application/json|authorization: Bearer sk-test"
               "|X-Org: org 1|Authorization: Bearer other");
  lgw__kvlist_free(&p.headers);
  p = wire_provider("https://x", "  ");
  ASSERT_STREQ(wire_headers(&lgw__transport_chat, &p),
               "content-type: application/json");
  p = wire_provider("https://x", NULL);
  ASSERT_STREQ(wire_headers(&lgw__transport_responses, &p),
               "content-type: application/json");
}

TEST(body_escapes_and_invalid_utf8) {
  static const lgw_message_t m[] = {
    {"user", "a\xff b \xe2\x82 c \xed\xa0\x80 d \xf0\x9f\x98\x80 e\x01\x1f"
             "\x7f\\/\t\r\b\f \xc3\xa9 \xf4\x90\x80\x80 \xc0\xaf"}};
  lgw__call_t c = wire_call(m, WIRE_NMSG(m), "m\"x");
  const char *b = wire_body(&lgw__transport_chat, &c);
  cJSON *j;
  ASSERT_STREQ(b,
               "{\"model\":\"m\\\"x\",\"messages\":[{\"role\":\"user\","
               "\"content\":\"a\xef\xbf\xbd b \xef\xbf\xbd c "
               "\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd d \xf0\x9f\x98\x80 "
               "e\\u0001\\u001f\x7f\\\\/\\t\\r\\b\\f \xc3\xa9 "
               "\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd "
               "\xef\xbf\xbd\xef\xbf\xbd\"}],"
               "\"max_completion_tokens\":4000,\"temperature\":0.0,"
               "\"stream\":false}");
  j = cJSON_Parse(b);
  ASSERT(j != NULL);
  cJSON_Delete(j);
}

TEST(body_numbers) {
  lgw__buf_t b;
  lgw__call_t c = wire_call(wire_history, 1, "m");
  lgw_error_t err;
  char *out = NULL;
  size_t len;
  lgw__buf_init(&b);
  lgw__json_add_num(&b, 0.1);
  lgw__buf_addc(&b, ' ');
  lgw__json_add_num(&b, 2);
  lgw__buf_addc(&b, ' ');
  lgw__json_add_num(&b, 1e-5);
  lgw__buf_addc(&b, ' ');
  lgw__json_add_num(&b, 1e16);
  lgw__buf_addc(&b, ' ');
  lgw__json_add_num(&b, 1.0 / 3);
  out = lgw__buf_steal(&b);
  ASSERT_STREQ(out, "0.1 2.0 1e-05 1e+16 0.3333333333333333");
  lgw_free(out);
  out = NULL;
  c.temperature = NAN;
  ASSERT_EQ(lgw__transport_anthropic.body(&c, &out, &len, &err), LGW_EINVAL);
  ASSERT_STREQ(err.message, "temperature is not a finite number");
  ASSERT(out == NULL);
}

/* The temperature as lgw__json_add_num writes it, whether it has few
 * decimals or not. */
TEST(body_temperature_forms) {
  static const double ts[] = {0.7, 0.0, -0.0, 1, 2, 0.25, 1.5, 0.123456,
                              1e-4, 999999.5, -0.7, 1e-5, 0.1234567,
                              1e6, 1.0 / 3, 123456.789};
  static const char *const want =
      ",\"temperature\":0.7,\"temperature\":0.0,\"temperature\":-0.0,"
      "\"temperature\":1.0,\"temperature\":2.0,\"temperature\":0.25,"
      "\"temperature\":1.5,\"temperature\":0.123456,"
      "\"temperature\":0.0001,\"temperature\":999999.5,"
      "\"temperature\":-0.7,\"temperature\":1e-05,"
      "\"temperature\":0.1234567,\"temperature\":1000000.0,"
      "\"temperature\":0.3333333333333333,\"temperature\":123456.789";
  lgw__buf_t b;
  char *out;
  size_t i;
  lgw__buf_init(&b);
  for (i = 0; i < sizeof ts / sizeof *ts; i++)
    ASSERT_EQ(lgw__body_temperature(&b, ts[i]), 0);
  out = lgw__buf_steal(&b);
  ASSERT_STREQ(out, want);
  lgw_free(out);
}

TEST(decode_errors) {
  const lgw__transport_t *t = &lgw__transport_chat;
  ASSERT_STREQ(wire_parse(t, ""), "ERR -10 0: response is not JSON: Expecting "
                                  "value: line 1 column 1 (char 0)");
  ASSERT_STREQ(wire_parse(t, "  \n "),
               "ERR -10 0: response is not JSON: Expecting "
               "value: line 2 column 2 (char 4)");
  ASSERT_STREQ(wire_parse(t, "hello"),
               "ERR -10 0: response is not JSON: Expecting "
               "value: line 1 column 1 (char 0)");
  ASSERT_STREQ(wire_parse(t, "\n<!DOCTYPE html><html>502</html>"),
               "ERR -10 0: response is not JSON: HTML page instead of JSON");
  ASSERT_STREQ(wire_parse(t, "{\"a\":1} x"),
               "ERR -10 0: response is not JSON: "
               "Extra data: line 1 column 9 (char 8)");
  ASSERT_STREQ(wire_parse(t, "{\"a\":\n tru"),
               "ERR -10 0: response is not JSON: Invalid JSON: line 2 "
               "column 2 (char 7)");
  ASSERT_STREQ(wire_parse(t, "{\"\xc3\xa9\": x}"),
               "ERR -10 0: response is not JSON: Invalid JSON: line 1 "
               "column 7 (char 6)");
}

TEST(decode_deep_nesting) {
  size_t n = 100000;
  char *b = malloc(2 * n + 1);
  const char *r;
  memset(b, '[', n);
  memset(b + n, ']', n);
  b[2 * n] = '\0';
  r = wire_parse(&lgw__transport_responses, b);
  ASSERT_STREQ(r, "ERR -10 0: response is not JSON: nested deeper than 1000 "
                  "levels");
  memset(b, '{', n);
  b[n] = '\0';
  r = wire_parse(&lgw__transport_anthropic, b);
  free(b);
  ASSERT_CONTAINS(r, "ERR -10 0: response is not JSON");
}

TEST(decode_scalar_body) {
  cJSON *j = NULL;
  lgw_error_t err;
  int nul;
  ASSERT_EQ(lgw__decode_body(" 42 ", 4, NULL, &j, &nul, &err), 0);
  ASSERT(cJSON_IsNumber(j));
  cJSON_Delete(j);
  /* length is honoured: no NUL needed */
  ASSERT_EQ(lgw__decode_body("{}garbage", 2, NULL, &j, &nul, &err), 0);
  ASSERT(cJSON_IsObject(j));
  cJSON_Delete(j);
}

static const char *errmsg(const char *b, size_t cap) {
  static char out[1024];
  lgw__error_body_message(b, b ? strlen(b) : 0, out, cap);
  return out;
}

TEST(error_body_messages) {
  char big[400];
  ASSERT_STREQ(errmsg("{\"error\":{\"message\":\"Incorrect API key provided."
                      "\",\"type\":\"invalid_request_error\",\"code\":"
                      "\"invalid_api_key\"}}", 1024),
               "Incorrect API key provided.");
  ASSERT_STREQ(errmsg("{\"type\":\"error\",\"error\":{\"type\":"
                      "\"overloaded_error\",\"message\":\"Overloaded\"}}",
                      1024),
               "Overloaded");
  ASSERT_STREQ(errmsg("{\"error\":\"boom\"}", 1024), "boom");
  ASSERT_STREQ(errmsg("{\"detail\":\"Not Found\"}", 1024), "Not Found");
  ASSERT_STREQ(errmsg("{\"message\":\"line1\\nline2\"}", 1024),
               "line1 line2");
  ASSERT_STREQ(errmsg("  Bad Gateway\r\n", 1024), "Bad Gateway");
  ASSERT_STREQ(errmsg("a\tb\x01" "c", 1024), "a b c");
  ASSERT_STREQ(errmsg("", 1024), "");
  ASSERT_STREQ(errmsg(NULL, 1024), "");
  ASSERT_STREQ(errmsg("{\"error\":{\"code\":1}}", 1024),
               "{\"error\":{\"code\":1}}");
  ASSERT_STREQ(errmsg("{\"error\":{\"message\":\"Invalid\"}}", 5), "Inva");
  memset(big, 'x', 300);
  big[300] = '\0';
  ASSERT_EQ(strlen(errmsg(big, 1024)), 200);
  /* a cut never splits a UTF-8 sequence */
  memset(big, 'a', 199);
  strcpy(big + 199, "\xc3\xa9zzz");
  ASSERT_EQ(strlen(errmsg(big, 1024)), 199);
}

TEST(stream_bodies_ask_for_streams) {
  lgw_message_t m[] = {{"user", "u"}};
  lgw__call_t c = wire_call(m, 1, "g");
  c.stream = 1;
  ASSERT_CONTAINS(wire_body(&lgw__transport_responses, &c), ",\"stream\":true");
  ASSERT_CONTAINS(wire_body(&lgw__transport_chat, &c),
                  ",\"stream\":true,\"stream_options\":"
                  "{\"include_usage\":true}");
  ASSERT_CONTAINS(wire_body(&lgw__transport_litellm, &c),
                  "\"stream_options\":{\"include_usage\":true}");
  ASSERT_CONTAINS(wire_body(&lgw__transport_anthropic, &c),
                  ",\"stream\":true}");
}

TEST(usage_details_not_streamed) {
  lgw__reply_t r;
  lgw_error_t e;
  const char *b = "{\"content\":[{\"type\":\"text\",\"text\":\"t\"}],"
                  "\"usage\":{\"input_tokens\":1,\"output_tokens\":2,"
                  "\"cache_read_input_tokens\":30}}";
  memset(&r, 0, sizeof r);
  ASSERT_EQ(lgw__transport_anthropic.parse(b, strlen(b), NULL, &r, &e), 0);
  ASSERT_EQ(r.cached_tokens, 30);
  ASSERT_EQ(r.reasoning_tokens, -1);
  lgw__reply_free(&r);
  b = "{\"choices\":[{\"message\":{\"content\":\"t\"}}],\"usage\":"
      "{\"prompt_tokens\":1,\"completion_tokens\":2}}";
  ASSERT_EQ(lgw__transport_chat.parse(b, strlen(b), NULL, &r, &e), 0);
  ASSERT_EQ(r.cached_tokens, -1);
  ASSERT_EQ(r.reasoning_tokens, -1);
  lgw__reply_free(&r);
}

TEST(stream_shapes) {
  wire_feed_t f;
  /* Chat: a named error event with a flat object */
  lgw__stream_init(&f.s);
  f.s.event = "error";
  {
    static const char flat[] =
        "{\"message\":\"busy\",\"type\":\"server_error\"}";
    lgw_error_t e;
    f.rc = lgw__transport_chat.stream_event(&f.s, flat, strlen(flat), &e);
    ASSERT_EQ(f.rc, LGW_EHTTP);
    ASSERT_EQ(e.http_status, 500);
    ASSERT_STREQ(e.message, "server_error: busy");
  }
  lgw__stream_free(&f.s);
  /* blank data is no event; data that is not JSON is an error */
  wire_fold(&lgw__transport_responses, &f, "   \n[DONE]\n{bad");
  ASSERT_EQ(f.rc, LGW_ERESPONSE);
  ASSERT_STREQ(f.err, "malformed event (not JSON): {bad");
  lgw__stream_free(&f.s);
  wire_fold(&lgw__transport_anthropic, &f, "\"not an object\"\n[1,2]");
  ASSERT_EQ(f.rc, 0);
  lgw__stream_free(&f.s);
  /* Anthropic: cumulative usage, last values win, never sums */
  wire_fold(&lgw__transport_anthropic, &f,
        "{\"type\":\"message_start\",\"message\":{\"usage\":"
        "{\"input_tokens\":10,\"cache_read_input_tokens\":4,"
        "\"output_tokens\":1}}}\n"
        "{\"type\":\"message_delta\",\"delta\":{\"stop_reason\":"
        "\"tool_use\"},\"usage\":{\"input_tokens\":10,"
        "\"cache_read_input_tokens\":4,\"output_tokens\":30,"
        "\"output_tokens_details\":{\"thinking_tokens\":20}}}\n"
        "{\"type\":\"message_delta\",\"delta\":{},\"usage\":"
        "{\"output_tokens\":31,\"output_tokens_details\":"
        "{\"thinking_tokens\":21}}}\n"
        "{\"type\":\"message_stop\"}");
  ASSERT_EQ(f.rc, 0);
  ASSERT_EQ(f.s.reply.input_tokens, 10);
  ASSERT_EQ(f.s.reply.cached_tokens, 4);
  ASSERT_EQ(f.s.reply.output_tokens, 31);
  ASSERT_EQ(f.s.reply.reasoning_tokens, 21);
  ASSERT_STREQ(f.s.finish_reason, "tool_calls");
  lgw__stream_free(&f.s);
}

int main(void) {
  RUN(transport_for_styles);
  RUN(openai_error_object_in_2xx);
  RUN(clean_base);
  RUN(openai_headers);
  RUN(body_escapes_and_invalid_utf8);
  RUN(body_numbers);
  RUN(body_temperature_forms);
  RUN(decode_errors);
  RUN(decode_deep_nesting);
  RUN(decode_scalar_body);
  RUN(error_body_messages);
  RUN(stream_bodies_ask_for_streams);
  RUN(usage_details_not_streamed);
  RUN(stream_shapes);
  return TEST_SUMMARY();
}
