/*
 * test_transport.c -- the wire formats: URLs, headers, exact request
 * bodies, text and usage extraction, 2xx body decoding and error-body
 * messages for the Responses, Chat Completions, Anthropic and LiteLLM
 * transports, and their stream events (deltas, parts, usage, the end,
 * error events with the status they stand for).
 */
#include <stdlib.h>

#include <cJSON.h>

#include "test.h"
#include "transport.h"

/* ---- fixtures ----------------------------------------------------------- */

static lgw__provider_t prov(const char *base, const char *key) {
  lgw__provider_t p;
  memset(&p, 0, sizeof p);
  p.base_url = (char *)base;
  p.api_key = (char *)key;
  return p;
}

static const lgw_message_t history[] = {
  {"system", "Be brief."},
  {"user", "Hi"},
  {"assistant", "Hello!"},
  {"user", "Say \"ok\"\n"}};

static lgw__call_t call(const lgw_message_t *m, size_t n, const char *model) {
  lgw__call_t c;
  memset(&c, 0, sizeof c);
  c.messages = m;
  c.nmessages = n;
  c.model = model;
  c.reasoning_effort = "";
  c.temperature = 0.0;
  c.max_tokens = 4000;
  return c;
}

#define NMSG(a) (sizeof(a) / sizeof((a)[0]))

/* Body built by t (static buffer); "ERR" on failure. */
static const char *body(const lgw__transport_t *t, const lgw__call_t *c) {
  static char out[8192];
  char *b = NULL;
  size_t len = 0;
  lgw_error_t err;
  if (t->body(c, &b, &len, &err)) return "ERR";
  if (len != strlen(b)) snprintf(out, sizeof out, "BAD LENGTH");
  else snprintf(out, sizeof out, "%s", b);
  lgw_free(b);
  return out;
}

static const char *url(const lgw__transport_t *t, const char *base) {
  static char out[1024];
  lgw__provider_t p = prov(base, "");
  char *u = t->url(&p);
  snprintf(out, sizeof out, "%s", u ? u : "(null)");
  lgw_free(u);
  return out;
}

/* Headers as "name: value|name: value". */
static const char *headers(const lgw__transport_t *t,
                           const lgw__provider_t *p) {
  static char out[2048];
  lgw__kvlist_t l = {0};
  size_t i, k = 0;
  out[0] = '\0';
  if (t->headers(p, &l)) return "ERR";
  for (i = 0; i < l.n; i++)
    k += (size_t)snprintf(out + k, sizeof out - k, "%s%s: %s", i ? "|" : "",
                          l.items[i].key, l.items[i].value);
  lgw__kvlist_free(&l);
  return out;
}

/* Parse result as "text" (static buffer) with usage in *in / *outt, or
 * "ERR <code> <status>: message". */
static long in_tok, out_tok;
static const char *parse_ct(const lgw__transport_t *t, const char *b,
                            const char *ct) {
  static char out[4096];
  lgw__reply_t r;
  lgw_error_t err;
  int rc;
  memset(&r, 0, sizeof r);
  memset(&err, 0, sizeof err);
  rc = t->parse(b, strlen(b), ct, &r, &err);
  in_tok = r.input_tokens;
  out_tok = r.output_tokens;
  if (rc) snprintf(out, sizeof out, "ERR %d %d: %s", rc, err.http_status,
                   err.message);
  else snprintf(out, sizeof out, "%s", r.text);
  if (!rc && r.text_len != strlen(r.text)) snprintf(out, sizeof out, "LEN");
  lgw__reply_free(&r);
  return out;
}
static const char *parse(const lgw__transport_t *t, const char *b) {
  return parse_ct(t, b, NULL);
}

/* ---- transport choice ------------------------------------------------------ */

/* An error object in a 2xx answer without text is an error on the OpenAI
 * formats, classified by its type (invalid_request_error as 400: fail
 * over; others retried); with text, the text wins. */
TEST(openai_error_object_in_2xx) {
  const lgw__transport_t *ts[] = {&lgw__transport_responses,
                                  &lgw__transport_chat,
                                  &lgw__transport_litellm};
  size_t i;
  for (i = 0; i < 3; i++) {
    ASSERT_STREQ(parse(ts[i], "{\"error\":{\"type\":\"server_error\","
                              "\"message\":\"boom\"}}"),
                 "ERR -7 500: error object in a 2xx answer: server_error: "
                 "boom");
    ASSERT_STREQ(parse(ts[i], "{\"error\":{\"message\":\"Bad model\","
                              "\"type\":\"invalid_request_error\","
                              "\"code\":null}}"),
                 "ERR -7 400: error object in a 2xx answer: "
                 "invalid_request_error: Bad model");
    ASSERT_STREQ(parse(ts[i], "{\"error\":null}"), "");
  }
  ASSERT_STREQ(parse(&lgw__transport_chat,
                     "{\"choices\":[{\"message\":{\"content\":\"hi\"}}],"
                     "\"error\":{\"message\":\"x\"}}"),
               "hi");
}

TEST(transport_for_styles) {
  ASSERT_STREQ(lgw__transport_for(LGW__STYLE_RESPONSES)->name, "responses");
  ASSERT_STREQ(lgw__transport_for(LGW__STYLE_CHAT)->name, "openai_chat");
  ASSERT_STREQ(lgw__transport_for(LGW__STYLE_ANTHROPIC)->name, "anthropic");
  ASSERT_STREQ(lgw__transport_for(LGW__STYLE_LITELLM)->name, "litellm");
  ASSERT_STREQ(lgw__transport_for(LGW__STYLE_NONE)->name, "responses");
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

/* ---- URLs ------------------------------------------------------------------ */

TEST(responses_urls) {
  const lgw__transport_t *t = &lgw__transport_responses;
  ASSERT_STREQ(url(t, "https://api.openai.com/v1/responses"),
               "https://api.openai.com/v1/responses");
  ASSERT_STREQ(url(t, " https://gw.example/api/responses// "),
               "https://gw.example/api/responses");
  ASSERT_STREQ(url(t, "https://api.openai.com/v1"),
               "https://api.openai.com/v1/responses");
  ASSERT_STREQ(url(t, "https://api.openai.com/v1/"),
               "https://api.openai.com/v1/responses");
  ASSERT_STREQ(url(t, "https://api.openai.com"),
               "https://api.openai.com/v1/responses");
  ASSERT_STREQ(url(t, "https://x.example/v1beta"),
               "https://x.example/v1beta/v1/responses");
  ASSERT_STREQ(url(t, "http://127.0.0.1:8080/openai"),
               "http://127.0.0.1:8080/openai/v1/responses");
  ASSERT_STREQ(url(t, "   "), "");
}

TEST(chat_urls) {
  const lgw__transport_t *t = &lgw__transport_chat;
  ASSERT_STREQ(url(t, "https://api.openai.com/v1/chat/completions"),
               "https://api.openai.com/v1/chat/completions");
  ASSERT_STREQ(url(t, "https://api.openai.com/v1/chat/completions/"),
               "https://api.openai.com/v1/chat/completions");
  ASSERT_STREQ(url(t, "https://api.openai.com/v1"),
               "https://api.openai.com/v1/chat/completions");
  ASSERT_STREQ(url(t, "https://api.openai.com"),
               "https://api.openai.com/v1/chat/completions");
  ASSERT_STREQ(url(t, "https://openrouter.ai/api"),
               "https://openrouter.ai/api/v1/chat/completions");
  ASSERT_STREQ(url(&lgw__transport_litellm, "http://localhost:4000"),
               "http://localhost:4000/v1/chat/completions");
  ASSERT_STREQ(url(&lgw__transport_litellm, "http://localhost:4000/v1/"),
               "http://localhost:4000/v1/chat/completions");
}

TEST(anthropic_urls) {
  const lgw__transport_t *t = &lgw__transport_anthropic;
  ASSERT_STREQ(url(t, "https://api.anthropic.com"),
               "https://api.anthropic.com/v1/messages");
  ASSERT_STREQ(url(t, "https://api.anthropic.com/"),
               "https://api.anthropic.com/v1/messages");
  ASSERT_STREQ(url(t, "https://api.anthropic.com/v1/messages"),
               "https://api.anthropic.com/v1/messages");
  ASSERT_STREQ(url(t, " https://api.anthropic.com/v1/messages/ "),
               "https://api.anthropic.com/v1/messages");
  /* no doubled /v1 (the Python library sends .../v1/v1/messages) */
  ASSERT_STREQ(url(t, "https://api.anthropic.com/v1"),
               "https://api.anthropic.com/v1/messages");
  ASSERT_STREQ(url(t, "https://proxy.example/anthropic"),
               "https://proxy.example/anthropic/v1/messages");
}

/* ---- headers --------------------------------------------------------------- */

TEST(openai_headers) {
  lgw__provider_t p = prov("https://x", " sk-test ");
  lgw__kvlist_add(&p.headers, "X-Org", "org 1");
  lgw__kvlist_add(&p.headers, "  ", "dropped");
  lgw__kvlist_add(&p.headers, "Authorization", "Bearer other");
  ASSERT_STREQ(headers(&lgw__transport_responses, &p),
               "content-type: application/json|authorization: Bearer sk-test"
               "|X-Org: org 1|Authorization: Bearer other");
  ASSERT_STREQ(headers(&lgw__transport_chat, &p),
               headers(&lgw__transport_litellm, &p));
  lgw__kvlist_free(&p.headers);
  p = prov("https://x", "  ");
  ASSERT_STREQ(headers(&lgw__transport_chat, &p),
               "content-type: application/json");
  p = prov("https://x", NULL);
  ASSERT_STREQ(headers(&lgw__transport_responses, &p),
               "content-type: application/json");
}

TEST(anthropic_headers) {
  lgw__provider_t p = prov("https://x", "sk-ant");
  ASSERT_STREQ(headers(&lgw__transport_anthropic, &p),
               "content-type: application/json|x-api-key: sk-ant|"
               "anthropic-version: 2023-06-01");
  lgw__kvlist_add(&p.headers, "Anthropic-Version", "2024-01-01");
  lgw__kvlist_add(&p.headers, "anthropic-beta", "b1");
  ASSERT_STREQ(headers(&lgw__transport_anthropic, &p),
               "content-type: application/json|x-api-key: sk-ant|"
               "Anthropic-Version: 2024-01-01|anthropic-beta: b1");
  lgw__kvlist_free(&p.headers);
  /* a configured key header replaces ours; a Bearer only if configured */
  lgw__kvlist_add(&p.headers, "X-API-Key", "other");
  lgw__kvlist_add(&p.headers, "authorization", "Bearer tok");
  ASSERT_STREQ(headers(&lgw__transport_anthropic, &p),
               "content-type: application/json|anthropic-version: 2023-06-01"
               "|X-API-Key: other|authorization: Bearer tok");
  lgw__kvlist_free(&p.headers);
  p = prov("https://x", "");
  ASSERT_STREQ(headers(&lgw__transport_anthropic, &p),
               "content-type: application/json|anthropic-version: 2023-06-01");
}

/* ---- golden bodies -------------------------------------------------------- */

TEST(responses_body_golden) {
  lgw__call_t c = call(history, NMSG(history), "gpt-5");
  c.reasoning_effort = "high";
  c.temperature = 0.7;
  c.max_tokens = 512;
  ASSERT_STREQ(body(&lgw__transport_responses, &c),
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
  ASSERT_STREQ(body(&lgw__transport_responses, &c),
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
  lgw__call_t c = call(m, NMSG(m), "m");
  c.temperature = 1;
  ASSERT_STREQ(body(&lgw__transport_responses, &c),
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
  lgw__call_t c = call(m, NMSG(m), "m");
  ASSERT_STREQ(body(&lgw__transport_responses, &c),
               "{\"model\":\"m\",\"input\":[{\"role\":\"user\","
               "\"content\":\"\"}],\"max_output_tokens\":4000,"
               "\"temperature\":0.0,\"stream\":false,"
               "\"instructions\":\"only\"}");
  c = call(NULL, 0, "m");
  ASSERT_STREQ(body(&lgw__transport_responses, &c),
               "{\"model\":\"m\",\"input\":[{\"role\":\"user\","
               "\"content\":\"\"}],\"max_output_tokens\":4000,"
               "\"temperature\":0.0,\"stream\":false}");
}

TEST(chat_body_golden) {
  lgw__call_t c = call(history, NMSG(history), "gpt-4o");
  c.reasoning_effort = "high";
  c.temperature = 0.7;
  c.max_tokens = 512;
  ASSERT_STREQ(body(&lgw__transport_chat, &c),
               "{\"model\":\"gpt-4o\",\"messages\":["
               "{\"role\":\"system\",\"content\":\"Be brief.\"},"
               "{\"role\":\"user\",\"content\":\"Hi\"},"
               "{\"role\":\"assistant\",\"content\":\"Hello!\"},"
               "{\"role\":\"user\",\"content\":\"Say \\\"ok\\\"\\n\"}],"
               "\"max_completion_tokens\":512,\"temperature\":0.7,"
               "\"stream\":false,\"reasoning_effort\":\"high\"}");
  c.reasoning_effort = "";
  c.stream = 1;
  c.temperature = 0.25;
  ASSERT_STREQ(body(&lgw__transport_chat, &c),
               "{\"model\":\"gpt-4o\",\"messages\":["
               "{\"role\":\"system\",\"content\":\"Be brief.\"},"
               "{\"role\":\"user\",\"content\":\"Hi\"},"
               "{\"role\":\"assistant\",\"content\":\"Hello!\"},"
               "{\"role\":\"user\",\"content\":\"Say \\\"ok\\\"\\n\"}],"
               "\"max_completion_tokens\":512,\"temperature\":0.25,"
               "\"stream\":true,\"stream_options\":{\"include_usage\":true}}");
}

TEST(chat_body_roles_as_given) {
  static const lgw_message_t m[] = {{"Tool", "t"}, {NULL, NULL}, {"", "e"}};
  lgw__call_t c = call(m, NMSG(m), "m");
  ASSERT_STREQ(body(&lgw__transport_chat, &c),
               "{\"model\":\"m\",\"messages\":["
               "{\"role\":\"Tool\",\"content\":\"t\"},"
               "{\"role\":\"user\",\"content\":\"\"},"
               "{\"role\":\"user\",\"content\":\"e\"}],"
               "\"max_completion_tokens\":4000,\"temperature\":0.0,"
               "\"stream\":false}");
}

/* The spec's role enums are lower-case: known roles are normalised. */
TEST(chat_body_known_roles_canonical) {
  static const lgw_message_t m[] = {
    {" System ", "s"}, {"USER", "u"}, {"Assistant", "a"}, {"developer ", "d"},
    {"  ", "b"}};
  lgw__call_t c = call(m, NMSG(m), "m");
  ASSERT_STREQ(body(&lgw__transport_chat, &c),
               "{\"model\":\"m\",\"messages\":["
               "{\"role\":\"system\",\"content\":\"s\"},"
               "{\"role\":\"user\",\"content\":\"u\"},"
               "{\"role\":\"assistant\",\"content\":\"a\"},"
               "{\"role\":\"developer\",\"content\":\"d\"},"
               "{\"role\":\"user\",\"content\":\"b\"}],"
               "\"max_completion_tokens\":4000,\"temperature\":0.0,"
               "\"stream\":false}");
  ASSERT_STREQ(body(&lgw__transport_litellm, &c),
               "{\"model\":\"m\",\"messages\":["
               "{\"role\":\"system\",\"content\":\"s\"},"
               "{\"role\":\"user\",\"content\":\"u\"},"
               "{\"role\":\"assistant\",\"content\":\"a\"},"
               "{\"role\":\"developer\",\"content\":\"d\"},"
               "{\"role\":\"user\",\"content\":\"b\"}],"
               "\"max_tokens\":4000,\"temperature\":0.0,"
               "\"stream\":false}");
}

TEST(litellm_body_golden) {
  lgw__call_t c = call(history, NMSG(history), "anthropic/claude-x");
  c.reasoning_effort = "high";
  c.temperature = 0.7;
  c.max_tokens = 512;
  ASSERT_STREQ(body(&lgw__transport_litellm, &c),
               "{\"model\":\"anthropic/claude-x\",\"messages\":["
               "{\"role\":\"system\",\"content\":\"Be brief.\"},"
               "{\"role\":\"user\",\"content\":\"Hi\"},"
               "{\"role\":\"assistant\",\"content\":\"Hello!\"},"
               "{\"role\":\"user\",\"content\":\"Say \\\"ok\\\"\\n\"}],"
               "\"max_tokens\":512,\"temperature\":0.7,\"stream\":false}");
}

TEST(anthropic_body_golden) {
  lgw__call_t c = call(history, NMSG(history), "claude-x");
  c.reasoning_effort = "high";
  c.temperature = 0.7;
  c.max_tokens = 512;
  ASSERT_STREQ(body(&lgw__transport_anthropic, &c),
               "{\"model\":\"claude-x\",\"messages\":["
               "{\"role\":\"user\",\"content\":\"Hi\"},"
               "{\"role\":\"assistant\",\"content\":\"Hello!\"},"
               "{\"role\":\"user\",\"content\":\"Say \\\"ok\\\"\\n\"}],"
               "\"max_tokens\":512,\"temperature\":0.7,"
               "\"system\":\"Be brief.\"}");
  c.stream = 1;
  ASSERT_STREQ(body(&lgw__transport_anthropic, &c),
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
  lgw__call_t c = call(m, NMSG(m), "claude-x");
  ASSERT_STREQ(body(&lgw__transport_anthropic, &c),
               "{\"model\":\"claude-x\",\"messages\":["
               "{\"role\":\"user\",\"content\":\"t\"},"
               "{\"role\":\"assistant\",\"content\":\"a\"},"
               "{\"role\":\"user\",\"content\":\"n\"}],"
               "\"max_tokens\":4000,\"temperature\":0.0,"
               "\"system\":\"sys1\\n\\nsys2\\ndev\"}");
}

TEST(anthropic_body_no_messages) {
  static const lgw_message_t m[] = {{"system", "  "}};
  lgw__call_t c = call(m, NMSG(m), "claude-x");
  ASSERT_STREQ(body(&lgw__transport_anthropic, &c),
               "{\"model\":\"claude-x\",\"messages\":[{\"role\":\"user\","
               "\"content\":\"\"}],\"max_tokens\":4000,"
               "\"temperature\":0.0}");
}

TEST(body_escapes_and_invalid_utf8) {
  static const lgw_message_t m[] = {
    {"user", "a\xff b \xe2\x82 c \xed\xa0\x80 d \xf0\x9f\x98\x80 e\x01\x1f"
             "\x7f\\/\t\r\b\f \xc3\xa9 \xf4\x90\x80\x80 \xc0\xaf"}};
  lgw__call_t c = call(m, NMSG(m), "m\"x");
  const char *b = body(&lgw__transport_chat, &c);
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
  lgw__call_t c = call(history, 1, "m");
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

/* ---- Responses extraction -------------------------------------------------- */

TEST(responses_extract) {
  const lgw__transport_t *t = &lgw__transport_responses;
  ASSERT_STREQ(parse(t, "{\"output\":[{\"content\":[{\"type\":\"output_text\","
                        "\"text\":\"A\"},{\"text\":\"B\"},\"C\"]},"
                        "{\"content\":\"D\"}]}"),
               "A\nB\nC\nD");
  ASSERT_STREQ(parse(t, "{\"output_text\":\"direct\",\"output\":[{\"content\":"
                        "\"no\"}]}"),
               "direct");
  ASSERT_STREQ(parse(t, "{\"response\":{\"output_text\":\"nested\"},"
                        "\"output_text\":\"outer\"}"),
               "nested");
  ASSERT_STREQ(parse(t, "{\"response\":{\"output_text\":\"\"},"
                        "\"output_text\":\"outer\"}"),
               "outer");
  ASSERT_STREQ(parse(t, "{\"output\":[{\"type\":\"reasoning\",\"summary\":[]},"
                        "{\"type\":\"message\",\"content\":[{\"type\":"
                        "\"output_text\",\"text\":\"\"},{\"text\":5},"
                        "{\"type\":\"output_text\",\"text\":\"X\"}]},"
                        "\"junk\",{\"content\":\"\"},{\"content\":[]}]}"),
               "X");
  ASSERT_STREQ(parse(t, "{\"output_text\":7}"), "");
  ASSERT_STREQ(parse(t, "[1,2]"), "");
  ASSERT_STREQ(parse(t, "\"text\""), "");
  ASSERT_STREQ(parse(t, "{}"), "");
}

TEST(responses_usage) {
  const lgw__transport_t *t = &lgw__transport_responses;
  ASSERT_STREQ(parse(t, "{\"output_text\":\"x\",\"usage\":{\"input_tokens\":12,"
                        "\"output_tokens\":34,\"total_tokens\":46}}"),
               "x");
  ASSERT_EQ(in_tok, 12);
  ASSERT_EQ(out_tok, 34);
  parse(t, "{\"output_text\":\"x\"}");
  ASSERT_EQ(in_tok, -1);
  ASSERT_EQ(out_tok, -1);
  parse(t, "{\"response\":{\"output_text\":\"x\",\"usage\":"
           "{\"input_tokens\":1,\"output_tokens\":\"2\"}}}");
  ASSERT_EQ(in_tok, 1);
  ASSERT_EQ(out_tok, -1);
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
  ASSERT_STREQ(parse(t, sse), "OK");
  ASSERT_EQ(in_tok, 3);
  ASSERT_EQ(out_tok, 1);
  /* content-type alone selects SSE */
  ASSERT_STREQ(parse_ct(t, "\n: c\n\ndata: {\"output_text\":\"s\"}\n\n",
                        "Text/Event-Stream; charset=utf-8"),
               "s");
  ASSERT_STREQ(parse_ct(t, "", "text/event-stream"),
               "ERR -10 0: No JSON payload found in SSE response");
}

/* ---- Chat extraction ------------------------------------------------------- */

#define CHOICE(c) "{\"choices\":[{\"message\":{\"content\":" c "}}]}"

TEST(chat_extract) {
  const lgw__transport_t *t = &lgw__transport_chat;
  ASSERT_STREQ(parse(t, CHOICE("\"hello\"")), "hello");
  ASSERT_STREQ(parse(t, CHOICE("[\"a\",{\"type\":\"text\",\"text\":\"b\"},"
                               "{\"type\":\"image\"},\"\"]")),
               "a\nb");
  ASSERT_STREQ(parse(t, CHOICE("null")), "");
  ASSERT_STREQ(parse(t, CHOICE("5")), "5");
  ASSERT_STREQ(parse(t, CHOICE("1.5")), "1.5");
  ASSERT_STREQ(parse(t, CHOICE("0")), "");
  ASSERT_STREQ(parse(t, CHOICE("true")), "True");
  ASSERT_STREQ(parse(t, CHOICE("false")), "");
  /* the Python library returns a repr here; we return no text */
  ASSERT_STREQ(parse(t, CHOICE("[{\"type\":\"image\"}]")), "");
  ASSERT_STREQ(parse(t, CHOICE("{\"a\":1}")), "");
  ASSERT_STREQ(parse(t, "{\"choices\":[]}"), "");
  ASSERT_STREQ(parse(t, "{\"choices\":[\"x\"]}"), "");
  ASSERT_STREQ(parse(t, "{\"choices\":{\"message\":{}}}"), "");
  ASSERT_STREQ(parse(t, "{\"choices\":[{\"message\":\"hi\"}]}"), "");
  ASSERT_STREQ(parse(t, "{\"choices\":[{\"message\":{}}]}"), "");
  ASSERT_STREQ(parse(t, "[]"), "");
}

TEST(chat_usage_and_sse) {
  const lgw__transport_t *t = &lgw__transport_chat;
  ASSERT_STREQ(parse(t, "{\"choices\":[{\"message\":{\"content\":\"x\"}}],"
                        "\"usage\":{\"prompt_tokens\":9,"
                        "\"completion_tokens\":4}}"),
               "x");
  ASSERT_EQ(in_tok, 9);
  ASSERT_EQ(out_tok, 4);
  ASSERT_STREQ(parse(t, "data: {\"object\":\"chat.completion.chunk\","
                        "\"choices\":[{\"delta\":{\"content\":\"A\"}}]}\n\n"
                        "data: {\"object\":\"chat.completion.chunk\","
                        "\"choices\":[{\"delta\":{\"content\":\"B\"}}]}\n\n"
                        "data: {\"object\":\"chat.completion.chunk\","
                        "\"choices\":[],\"usage\":{\"prompt_tokens\":2,"
                        "\"completion_tokens\":2}}\n\ndata: [DONE]\n\n"),
               "AB");
  ASSERT_EQ(in_tok, 2);
  ASSERT_EQ(out_tok, 2);
}

/* The in-place reading of a Chat body gives what the cJSON path gives: a
 * leading form feed (whitespace to cJSON, not to the strict scanner)
 * forces the cJSON path for the comparison. */
static const char *chat_both(const char *b) {
  static char out[512];
  lgw__reply_t r1, r2;
  lgw_error_t e1, e2;
  char *fb = lgw__sprintf("\f%s", b);
  int rc1, rc2;
  memset(&r1, 0, sizeof r1);
  memset(&r2, 0, sizeof r2);
  memset(&e1, 0, sizeof e1);
  memset(&e2, 0, sizeof e2);
  rc1 = lgw__transport_chat.parse(b, strlen(b), NULL, &r1, &e1);
  rc2 = lgw__transport_chat.parse(fb, strlen(fb), NULL, &r2, &e2);
  if (rc1 != rc2)
    snprintf(out, sizeof out, "rc %d != %d", rc1, rc2);
  else if (rc1)
    snprintf(out, sizeof out, "ERR %d", rc1);
  else if (r1.text_len != r2.text_len ||
           memcmp(r1.text, r2.text, r1.text_len) != 0)
    snprintf(out, sizeof out, "text '%s' != '%s'", r1.text, r2.text);
  else if (r1.input_tokens != r2.input_tokens ||
           r1.output_tokens != r2.output_tokens ||
           r1.cached_tokens != r2.cached_tokens ||
           r1.reasoning_tokens != r2.reasoning_tokens)
    snprintf(out, sizeof out, "usage %ld/%ld/%ld/%ld != %ld/%ld/%ld/%ld",
             r1.input_tokens, r1.output_tokens, r1.cached_tokens,
             r1.reasoning_tokens, r2.input_tokens, r2.output_tokens,
             r2.cached_tokens, r2.reasoning_tokens);
  else
    snprintf(out, sizeof out, "%s|%ld/%ld/%ld/%ld", r1.text,
             r1.input_tokens, r1.output_tokens, r1.cached_tokens,
             r1.reasoning_tokens);
  lgw__reply_free(&r1);
  lgw__reply_free(&r2);
  lgw_free(fb);
  return out;
}

TEST(chat_in_place_matches_cjson) {
  ASSERT_STREQ(chat_both(
      "{\"id\":\"c\",\"choices\":[{\"index\":0,\"message\":{\"role\":"
      "\"assistant\",\"content\":\"ok\"},\"finish_reason\":\"stop\"}],"
      "\"usage\":{\"prompt_tokens\":12,\"completion_tokens\":10,"
      "\"total_tokens\":22,\"prompt_tokens_details\":{\"cached_tokens\":3},"
      "\"completion_tokens_details\":{\"reasoning_tokens\":4}}}"),
      "ok|12/10/3/4");
  /* escapes, \u with surrogate pairs, raw UTF-8 */
  ASSERT_STREQ(chat_both(CHOICE("\"a\\\"b\\\\c\\/d\\n\\t\\u00e9\\u20ac"
                                "\\ud83d\\ude00 \xc3\xa9\"")),
               "a\"b\\c/d\n\t\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80 \xc3\xa9"
               "|-1/-1/-1/-1");
  /* a NUL ends cJSON's string */
  ASSERT_STREQ(chat_both(CHOICE("\"ab\\u0000cd\"")), "ab|-1/-1/-1/-1");
  ASSERT_STREQ(chat_both(CHOICE("\"\"")), "|-1/-1/-1/-1");
  ASSERT_STREQ(chat_both(CHOICE("null")), "|-1/-1/-1/-1");
  ASSERT_STREQ(chat_both(CHOICE("true")), "True|-1/-1/-1/-1");
  ASSERT_STREQ(chat_both(CHOICE("12")), "12|-1/-1/-1/-1");
  ASSERT_STREQ(chat_both(CHOICE("[\"a\",{\"text\":\"b\"}]")),
               "a\nb|-1/-1/-1/-1");
  /* first occurrence wins, even when it is not of the wanted type */
  ASSERT_STREQ(chat_both("{\"choices\":5,\"choices\":[{\"message\":"
                         "{\"content\":\"x\"}}]}"),
               "|-1/-1/-1/-1");
  ASSERT_STREQ(chat_both("{\"choices\":[{\"message\":{\"content\":\"x\","
                         "\"content\":\"y\"}}]}"),
               "x|-1/-1/-1/-1");
  /* keys with escapes */
  ASSERT_STREQ(chat_both("{\"cho\\u0069ces\":[{\"message\":{\"content\":"
                         "\"k\"}}]}"),
               "k|-1/-1/-1/-1");
  ASSERT_STREQ(chat_both("{\"a\\\"\":1,\"choices\":[{\"message\":"
                         "{\"content\":\"q\"}}]}"),
               "q|-1/-1/-1/-1");
  /* counts: fractions, exponents, negatives, huge, not numbers */
  ASSERT_STREQ(chat_both("{\"usage\":{\"prompt_tokens\":1.9,"
                         "\"completion_tokens\":2e3}}"),
               "|1/2000/-1/-1");
  ASSERT_STREQ(chat_both("{\"usage\":{\"prompt_tokens\":-0,"
                         "\"completion_tokens\":-5}}"),
               "|0/-1/-1/-1");
  ASSERT_STREQ(chat_both("{\"usage\":{\"prompt_tokens\":12345678901234567,"
                         "\"completion_tokens\":99999999999999999999}}"),
               "|12345678901234568/-1/-1/-1");
  ASSERT_STREQ(chat_both("{\"usage\":{\"prompt_tokens\":\"3\","
                         "\"completion_tokens\":null,"
                         "\"prompt_tokens_details\":[1]}}"),
               "|-1/-1/-1/-1");
  ASSERT_STREQ(chat_both("{\"usage\":[{\"prompt_tokens\":3}]}"),
               "|-1/-1/-1/-1");
  /* whitespace, nesting, other roots */
  ASSERT_STREQ(chat_both(" \n{ \"choices\" : [ { \"message\" : { \"content\""
                         " : \"w\" } } ] ,\r\n\"usage\" : { \"prompt_tokens\""
                         " : 7 } }\t\n"),
               "w|7/-1/-1/-1");
  ASSERT_STREQ(chat_both("{\"x\":[[[[[{\"a\":[]}]]]]],\"choices\":[{"
                         "\"message\":{\"content\":\"n\"}},{}]}"),
               "n|-1/-1/-1/-1");
  ASSERT_STREQ(chat_both("[]"), "|-1/-1/-1/-1");
  ASSERT_STREQ(chat_both("\"s\""), "|-1/-1/-1/-1");
  /* invalid JSON takes the cJSON path's error */
  ASSERT_STREQ(chat_both("{\"choices\":[}"), "ERR -10");
  ASSERT_STREQ(chat_both(CHOICE("\"\\ud800\"")), "ERR -10");
  ASSERT_STREQ(chat_both(CHOICE("\"\\x\"")), "ERR -10");
  /* cJSON reads a leading zero; so does the fallback */
  ASSERT_STREQ(chat_both(CHOICE("01")), "1|-1/-1/-1/-1");
  ASSERT_STREQ(chat_both("{\"a\":1} x"), "ERR -10");
}

TEST(litellm_extract) {
  const lgw__transport_t *t = &lgw__transport_litellm;
  ASSERT_STREQ(parse(t, CHOICE("\"  as is \"")), "  as is ");
  ASSERT_STREQ(parse(t, CHOICE("\"\"")), "");
  ASSERT_STREQ(parse(t, CHOICE("[{\"text\":\"p1\"},\"p2\"]")), "p1\np2");
  ASSERT_STREQ(parse(t, CHOICE("5")), "");
  ASSERT_STREQ(parse(t, "{\"choices\":[{\"message\":{\"content\":\"x\"}}],"
                        "\"usage\":{\"prompt_tokens\":1,"
                        "\"completion_tokens\":2}}"),
               "x");
  ASSERT_EQ(in_tok, 1);
  ASSERT_EQ(out_tok, 2);
}

/* ---- Anthropic extraction ---------------------------------------------------- */

TEST(anthropic_extract) {
  const lgw__transport_t *t = &lgw__transport_anthropic;
  ASSERT_STREQ(parse(t, "{\"content\":[{\"type\":\"thinking\",\"text\":\"th\"},"
                        "{\"type\":\"text\",\"text\":\"T1\"},"
                        "{\"type\":\"text\",\"text\":\"T2\"}]}"),
               "T1\nT2");
  ASSERT_STREQ(parse(t, "{\"content\":[{\"type\":\"TEXT\",\"text\":\"up\"}]}"),
               "up");
  ASSERT_STREQ(parse(t, "{\"content\":[{\"type\":\"other\",\"text\":\"o1\"},"
                        "{\"text\":\"o2\"},{\"type\":\"text\",\"text\":\"\"},"
                        "\"s\"]}"),
               "o1\no2");
  ASSERT_STREQ(parse(t, "{\"content\":\"plain\"}"), "");
  ASSERT_STREQ(parse(t, "{\"content\":[]}"), "");
  ASSERT_STREQ(parse(t, "{\"id\":\"msg\",\"type\":\"message\",\"content\":"
                        "[{\"type\":\"text\",\"text\":\"Hi\"}],\"usage\":"
                        "{\"input_tokens\":10,\"output_tokens\":3}}"),
               "Hi");
  ASSERT_EQ(in_tok, 10);
  ASSERT_EQ(out_tok, 3);
}

TEST(anthropic_error_in_200) {
  const lgw__transport_t *t = &lgw__transport_anthropic;
  ASSERT_STREQ(parse(t, "{\"type\":\"error\",\"error\":{\"type\":"
                        "\"overloaded_error\",\"message\":\"Overloaded\"}}"),
               "ERR -7 529: overloaded_error: Overloaded");
  ASSERT_STREQ(parse(t, "{\"type\":\"error\",\"error\":{\"type\":"
                        "\"rate_limit_error\",\"message\":\"slow down\"}}"),
               "ERR -7 429: rate_limit_error: slow down");
  ASSERT_STREQ(parse(t, "{\"type\":\"error\",\"error\":{\"type\":"
                        "\"api_error\",\"message\":\"boom\"}}"),
               "ERR -7 500: api_error: boom");
  ASSERT_STREQ(parse(t, "{\"type\":\"error\",\"error\":{\"type\":"
                        "\"invalid_request_error\",\"message\":\"bad\"}}"),
               "ERR -7 400: invalid_request_error: bad");
  ASSERT_STREQ(parse(t, "{\"type\":\"error\"}"), "ERR -7 500: error: ");
  /* an error event in a stream */
  ASSERT_STREQ(parse(t, "event: message_start\ndata: {\"type\":"
                        "\"message_start\",\"message\":{}}\n\nevent: error\n"
                        "data: {\"type\":\"error\",\"error\":{\"type\":"
                        "\"overloaded_error\",\"message\":\"Overloaded\"}}\n\n"),
               "ERR -7 529: overloaded_error: Overloaded");
}

TEST(anthropic_sse_body) {
  const lgw__transport_t *t = &lgw__transport_anthropic;
  ASSERT_STREQ(
      parse(t, "event: message_start\ndata: {\"type\":\"message_start\","
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
  ASSERT_EQ(in_tok, 25);
  ASSERT_EQ(out_tok, 7);
}

/* ---- decoding failures ----------------------------------------------------- */

TEST(decode_errors) {
  const lgw__transport_t *t = &lgw__transport_chat;
  ASSERT_STREQ(parse(t, ""), "ERR -10 0: response is not JSON: Expecting "
                             "value: line 1 column 1 (char 0)");
  ASSERT_STREQ(parse(t, "  \n "), "ERR -10 0: response is not JSON: Expecting "
                                  "value: line 2 column 2 (char 4)");
  ASSERT_STREQ(parse(t, "hello"), "ERR -10 0: response is not JSON: Expecting "
                                  "value: line 1 column 1 (char 0)");
  ASSERT_STREQ(parse(t, "\n<!DOCTYPE html><html>502</html>"),
               "ERR -10 0: response is not JSON: HTML page instead of JSON");
  ASSERT_STREQ(parse(t, "{\"a\":1} x"), "ERR -10 0: response is not JSON: "
                                        "Extra data: line 1 column 9 (char 8)");
  ASSERT_STREQ(parse(t, "{\"a\":\n tru"),
               "ERR -10 0: response is not JSON: Invalid JSON: line 2 "
               "column 2 (char 7)");
  ASSERT_STREQ(parse(t, "{\"\xc3\xa9\": x}"),
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
  r = parse(&lgw__transport_responses, b);
  ASSERT_STREQ(r, "ERR -10 0: response is not JSON: nested deeper than 1000 "
                  "levels");
  memset(b, '{', n);
  b[n] = '\0';
  r = parse(&lgw__transport_anthropic, b);
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

/* ---- error bodies --------------------------------------------------------------- */

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

/* ---- stream events --------------------------------------------------------- */

typedef struct sfeed {
  lgw__stream_t s;
  char deltas[512];
  int rc, status;
  char err[256];
} sfeed_t;

/* Folds each '\n'-separated data line into f (stopping at an error). */
static void sfold(const lgw__transport_t *t, sfeed_t *f, const char *lines) {
  const char *p = lines;
  lgw__stream_init(&f->s);
  f->deltas[0] = f->err[0] = '\0';
  f->rc = f->status = 0;
  while (*p && !f->rc) {
    const char *nl = strchr(p, '\n');
    size_t n = nl ? (size_t)(nl - p) : strlen(p);
    char data[1024];
    lgw_error_t e;
    memset(&e, 0, sizeof e);
    snprintf(data, sizeof data, "%.*s", (int)n, p);
    f->s.delta.len = 0;
    f->rc = t->stream_event(&f->s, data, n, &e);
    if (f->rc) {
      snprintf(f->err, sizeof f->err, "%.200s", e.message);
      f->status = e.http_status;
    } else if (f->s.delta.len) {
      strcat(f->deltas, "[");
      strncat(f->deltas, f->s.delta.data, f->s.delta.len);
      strcat(f->deltas, "]");
    }
    p = nl ? nl + 1 : p + n;
  }
}

TEST(stream_chat_events) {
  sfeed_t f;
  lgw__reply_t r;
  sfold(&lgw__transport_chat, &f,
        "{\"choices\":[{\"index\":0,\"delta\":{\"role\":\"assistant\","
        "\"content\":\"\"},\"finish_reason\":null}]}\n"
        "{\"choices\":[{\"delta\":{\"content\":\"Hel\"}}]}\n"
        "{\"choices\":[{\"delta\":{\"content\":\"lo\"},"
        "\"finish_reason\":\"stop\"}]}\n"
        "{\"choices\":[],\"usage\":{\"prompt_tokens\":9,"
        "\"completion_tokens\":2,\"prompt_tokens_details\":"
        "{\"cached_tokens\":4},\"completion_tokens_details\":"
        "{\"reasoning_tokens\":1}}}\n"
        " [DONE] ");
  ASSERT_EQ(f.rc, 0);
  ASSERT_STREQ(f.deltas, "[Hel][lo]");
  ASSERT_EQ(f.s.done, 1);
  memset(&r, 0, sizeof r);
  ASSERT_EQ(lgw__stream_take(&f.s, &r), 0);
  ASSERT_STREQ(r.text, "Hello");
  ASSERT_EQ(r.input_tokens, 9);
  ASSERT_EQ(r.output_tokens, 2);
  ASSERT_EQ(r.cached_tokens, 4);
  ASSERT_EQ(r.reasoning_tokens, 1);
  lgw__reply_free(&r);
  lgw__stream_free(&f.s);
  sfold(&lgw__transport_litellm, &f,
        "{\"choices\":[{\"delta\":{\"content\":\"a\"}}]}\n"
        "{\"error\":{\"message\":\"slow down\",\"type\":\"rate_limit_error\","
        "\"code\":\"rate_limit_exceeded\"}}");
  ASSERT_EQ(f.rc, LGW_EHTTP);
  ASSERT_EQ(f.status, 429);
  ASSERT_STREQ(f.err, "rate_limit_error: slow down");
  ASSERT_EQ(f.s.done, 0);
  lgw__stream_free(&f.s);
}

TEST(stream_anthropic_events) {
  sfeed_t f;
  lgw__reply_t r;
  sfold(&lgw__transport_anthropic, &f,
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
  sfold(&lgw__transport_anthropic, &f,
        "{\"type\":\"error\",\"error\":{\"type\":\"overloaded_error\","
        "\"message\":\"Overloaded\"}}");
  ASSERT_EQ(f.rc, LGW_EHTTP);
  ASSERT_EQ(f.status, 529);
  ASSERT_STREQ(f.err, "overloaded_error: Overloaded");
  lgw__stream_free(&f.s);
}

TEST(stream_responses_events) {
  sfeed_t f;
  lgw__reply_t r;
  sfold(&lgw__transport_responses, &f,
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
  sfold(&lgw__transport_responses, &f,
        "{\"type\":\"response.completed\",\"response\":"
        "{\"output_text\":\"whole\"}}");
  ASSERT_STREQ(f.deltas, "[whole]");
  lgw__stream_free(&f.s);
  sfold(&lgw__transport_responses, &f,
        "{\"type\":\"error\",\"code\":\"rate_limit_exceeded\","
        "\"message\":\"later\",\"param\":null}");
  ASSERT_EQ(f.status, 429);
  ASSERT_STREQ(f.err, "rate_limit_exceeded: later");
  lgw__stream_free(&f.s);
  sfold(&lgw__transport_responses, &f,
        "{\"type\":\"response.failed\",\"response\":{\"error\":"
        "{\"code\":\"server_error\",\"message\":\"boom\"}}}");
  ASSERT_EQ(f.rc, LGW_EHTTP);
  ASSERT_EQ(f.status, 500);
  ASSERT_STREQ(f.err, "server_error: boom");
  lgw__stream_free(&f.s);
}

TEST(stream_bodies_ask_for_streams) {
  lgw_message_t m[] = {{"user", "u"}};
  lgw__call_t c = call(m, 1, "g");
  c.stream = 1;
  ASSERT_CONTAINS(body(&lgw__transport_responses, &c), ",\"stream\":true");
  ASSERT_CONTAINS(body(&lgw__transport_chat, &c),
                  ",\"stream\":true,\"stream_options\":"
                  "{\"include_usage\":true}");
  ASSERT_CONTAINS(body(&lgw__transport_litellm, &c),
                  "\"stream_options\":{\"include_usage\":true}");
  ASSERT_CONTAINS(body(&lgw__transport_anthropic, &c), ",\"stream\":true}");
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

/* The parts of a reply the answer tests look at, as one line. */
static const char *reply_line(const lgw__transport_t *t, const char *b) {
  static char out[1024];
  lgw__reply_t r;
  lgw_error_t err;
  size_t i, k;
  int rc;
  memset(&r, 0, sizeof r);
  memset(&err, 0, sizeof err);
  rc = t->parse(b, strlen(b), NULL, &r, &err);
  if (rc) {
    snprintf(out, sizeof out, "ERR %d %d: %.900s", rc, err.http_status,
             err.message);
    lgw__reply_free(&r);
    return out;
  }
  k = (size_t)snprintf(out, sizeof out, "text=");
  for (i = 0; i < r.text_len && k < sizeof out - 8; i++)
    k += (size_t)snprintf(out + k, sizeof out - k, r.text[i] ? "%c" : "\\0",
                          r.text[i]);
  snprintf(out + k, sizeof out - k, " finish=%s refusal=%.200s usage=%ld/%ld/%ld/%ld",
           r.finish_reason ? r.finish_reason : "-",
           r.refusal ? r.refusal : "-", r.input_tokens, r.output_tokens,
           r.cached_tokens, r.reasoning_tokens);
  lgw__reply_free(&r);
  return out;
}

TEST(answers_not_streamed) {
  /* Chat: refusal (in place and cJSON paths agree), choice 0, finish */
  ASSERT_STREQ(reply_line(&lgw__transport_chat,
      "{\"choices\":[{\"index\":0,\"message\":{\"content\":null,"
      "\"refusal\":\"No.\"},\"finish_reason\":\"stop\"}]}"),
      "text= finish=stop refusal=No. usage=-1/-1/-1/-1");
  ASSERT_STREQ(reply_line(&lgw__transport_chat,
      "{\"choices\":[{\"index\":0,\"message\":{\"content\":\"a\","
      "\"refusal\":null},\"finish_reason\":\"length\"}],\"usage\":"
      "{\"prompt_tokens\":1,\"completion_tokens\":2}}"),
      "text=a finish=length refusal=- usage=1/2/-1/-1");
  ASSERT_STREQ(reply_line(&lgw__transport_chat,
      "{\"choices\":[{\"index\":1,\"message\":{\"content\":\"B\"}},"
      "{\"index\":0,\"message\":{\"content\":\"A\"},"
      "\"finish_reason\":\"tool_calls\"}]}"),
      "text=A finish=tool_calls refusal=- usage=-1/-1/-1/-1");
  ASSERT_STREQ(reply_line(&lgw__transport_chat,
      "{\"choices\":[{\"message\":{\"content\":\"x\"},"
      "\"finish_reason\":\"weird\"}]}"),
      "text=x finish=- refusal=- usage=-1/-1/-1/-1");
  /* U+0000 kept; an escaped backslash before u0000 is text; raw C0 bytes
   * pass through */
  ASSERT_STREQ(reply_line(&lgw__transport_chat,
      "{\"choices\":[{\"message\":{\"content\":\"he\\u0000llo\"}}]}"),
      "text=he\\0llo finish=- refusal=- usage=-1/-1/-1/-1");
  ASSERT_STREQ(reply_line(&lgw__transport_chat,
      "{\"choices\":[{\"message\":{\"content\":[{\"type\":\"text\","
      "\"text\":\"\\\\u0000\\u0000\xC0\x80\xC0\"}]}}]}"),
      "text=\\u0000\\0\xC0\x80\xC0 finish=- refusal=- usage=-1/-1/-1/-1");
  ASSERT_STREQ(reply_line(&lgw__transport_anthropic,
      "{\"content\":[{\"type\":\"text\",\"text\":\"\\u0000\"}],"
      "\"stop_reason\":\"end_turn\"}"),
      "text=\\0 finish=stop refusal=- usage=-1/-1/-1/-1");
  /* Anthropic: refusal, thinking tokens, max_tokens */
  ASSERT_STREQ(reply_line(&lgw__transport_anthropic,
      "{\"content\":[],\"stop_reason\":\"refusal\",\"usage\":"
      "{\"input_tokens\":3,\"output_tokens\":0}}"),
      "text= finish=content_filter refusal= usage=3/0/-1/-1");
  ASSERT_STREQ(reply_line(&lgw__transport_anthropic,
      "{\"content\":[{\"type\":\"thinking\",\"thinking\":\"hm\"},"
      "{\"type\":\"text\",\"text\":\"t\"}],\"stop_reason\":"
      "\"max_tokens\",\"usage\":{\"input_tokens\":3,\"output_tokens\":9,"
      "\"cache_read_input_tokens\":2,\"output_tokens_details\":"
      "{\"thinking_tokens\":7}}}"),
      "text=t finish=length refusal=- usage=3/9/2/7");
  /* Responses: refusal parts, incomplete, tool calls */
  ASSERT_STREQ(reply_line(&lgw__transport_responses,
      "{\"status\":\"completed\",\"output\":[{\"type\":\"message\","
      "\"content\":[{\"type\":\"refusal\",\"refusal\":\"No.\"}]}]}"),
      "text= finish=stop refusal=No. usage=-1/-1/-1/-1");
  ASSERT_STREQ(reply_line(&lgw__transport_responses,
      "{\"status\":\"incomplete\",\"incomplete_details\":{\"reason\":"
      "\"content_filter\"},\"output_text\":\"par\"}"),
      "text=par finish=content_filter refusal=- usage=-1/-1/-1/-1");
  ASSERT_STREQ(reply_line(&lgw__transport_responses,
      "{\"status\":\"completed\",\"output\":[{\"type\":\"message\","
      "\"content\":[{\"type\":\"output_text\",\"text\":\"x\"}]},"
      "{\"type\":\"function_call\",\"name\":\"f\"}]}"),
      "text=x finish=tool_calls refusal=- usage=-1/-1/-1/-1");
}

TEST(stream_shapes) {
  sfeed_t f;
  /* Chat: a named error event with a flat object */
  lgw__stream_init(&f.s);
  f.s.event = "error";
  {
    static const char flat[] = "{\"message\":\"busy\",\"type\":\"server_error\"}";
    lgw_error_t e;
    f.rc = lgw__transport_chat.stream_event(&f.s, flat, strlen(flat), &e);
    ASSERT_EQ(f.rc, LGW_EHTTP);
    ASSERT_EQ(e.http_status, 500);
    ASSERT_STREQ(e.message, "server_error: busy");
  }
  lgw__stream_free(&f.s);
  /* blank data is no event; data that is not JSON is an error */
  sfold(&lgw__transport_responses, &f, "   \n[DONE]\n{bad");
  ASSERT_EQ(f.rc, LGW_ERESPONSE);
  ASSERT_STREQ(f.err, "malformed event (not JSON): {bad");
  lgw__stream_free(&f.s);
  sfold(&lgw__transport_anthropic, &f, "\"not an object\"\n[1,2]");
  ASSERT_EQ(f.rc, 0);
  lgw__stream_free(&f.s);
  /* Anthropic: cumulative usage, last values win, never sums */
  sfold(&lgw__transport_anthropic, &f,
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
  RUN(responses_urls);
  RUN(chat_urls);
  RUN(anthropic_urls);
  RUN(openai_headers);
  RUN(anthropic_headers);
  RUN(responses_body_golden);
  RUN(responses_body_roles_and_instructions);
  RUN(responses_body_no_items);
  RUN(chat_body_golden);
  RUN(chat_body_roles_as_given);
  RUN(chat_body_known_roles_canonical);
  RUN(litellm_body_golden);
  RUN(anthropic_body_golden);
  RUN(anthropic_body_roles_and_system);
  RUN(anthropic_body_no_messages);
  RUN(body_escapes_and_invalid_utf8);
  RUN(body_numbers);
  RUN(responses_extract);
  RUN(responses_usage);
  RUN(responses_sse_body);
  RUN(chat_extract);
  RUN(chat_usage_and_sse);
  RUN(chat_in_place_matches_cjson);
  RUN(litellm_extract);
  RUN(anthropic_extract);
  RUN(anthropic_error_in_200);
  RUN(anthropic_sse_body);
  RUN(decode_errors);
  RUN(decode_deep_nesting);
  RUN(decode_scalar_body);
  RUN(error_body_messages);
  RUN(stream_chat_events);
  RUN(stream_anthropic_events);
  RUN(stream_responses_events);
  RUN(stream_bodies_ask_for_streams);
  RUN(usage_details_not_streamed);
  RUN(answers_not_streamed);
  RUN(stream_shapes);
  return TEST_SUMMARY();
}
