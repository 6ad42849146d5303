/*
 * test_rich.c -- rich requests on the wire: content parts (text, images,
 * files), names, tool calls and tool results, tool definitions and
 * tool_choice in every transport's body, compared with the bodies the
 * official SDKs send (the fragments quoted here are byte-for-byte theirs);
 * tool calls read from answers and assembled from streams; and through a
 * gateway: tool-call answers, a part a provider cannot take failing over.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "echo_support.h"
#include "gw_support.h"
#include "llmgateway.h"
#include "config.h"
#include "sse.h"
#include "test.h"
#include "transport.h"
#include "util.h"
#include "wire_support.h"

/* The calls here ask for 1024 tokens. */
static lgw__call_t call(const lgw_message_t *m, size_t n, const char *model) {
  lgw__call_t c = wire_call(m, n, model);
  c.max_tokens = 1024;
  return c;
}

static lgw__call_t rcall(const lgw_rich_message_t *m, size_t n,
                         const char *model) {
  lgw__call_t c = call(NULL, 0, model);
  c.rich = m;
  c.nrich = n;
  return c;
}

/* The weather tool of the SDK captures. */
#define WEATHER_PARAMS                                                    \
  "{\"type\":\"object\",\"properties\":{\"city\":{\"type\":\"string\"},"  \
  "\"unit\":{\"type\":\"string\",\"enum\":[\"c\",\"f\"]}},"               \
  "\"required\":[\"city\"]}"
static const lgw_tool_t weather[] = {
  {"get_weather", "Get the current weather for a city", WEATHER_PARAMS, 0}};

static const lgw_tool_call_t paris_call[] = {
  {"call_1", "get_weather", "{\"city\":\"Paris\"}"}};

/* user, assistant with a tool call, the tool's result */
static lgw_rich_message_t continuation[3];

static void set_continuation(const char *id) {
  static lgw_tool_call_t tc[1];
  tc[0] = paris_call[0];
  tc[0].id = id;
  memset(continuation, 0, sizeof continuation);
  continuation[0].role = "user";
  continuation[0].content = "What is the weather in Paris?";
  continuation[1].role = "assistant";
  continuation[1].tool_calls = tc;
  continuation[1].ntool_calls = 1;
  continuation[2].role = "tool";
  continuation[2].tool_call_id = id;
  continuation[2].content = "{\"temp\":21}";
}

static const lgw_message_t ask[] = {
  {"system", "You are a weather assistant."},
  {"user", "What is the weather in Paris?"}};

/* 1x1 PNG of the SDK captures (70 bytes) */
static const char png_b64[] =
    "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP4z8DwHwAFAAH/"
    "VscvDQAAAABJRU5ErkJggg==";

static size_t b64_decode(const char *s, unsigned char *out) {
  static const char tab[] =
      "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  size_t n = 0;
  unsigned v = 0;
  int bits = 0;
  for (; *s && *s != '='; s++) {
    v = (v << 6) | (unsigned)(strchr(tab, *s) - tab);
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      out[n++] = (unsigned char)((v >> bits) & 0xff);
    }
  }
  return n;
}

/* ---- base64 ---------------------------------------------------------------- */

static const char *b64(const char *s, size_t n) {
  static char out[256];
  lgw__buf_t b;
  lgw__buf_init(&b);
  lgw__json_add_b64(&b, s, n);
  snprintf(out, sizeof out, "%s", b.data ? b.data : "");
  lgw__buf_free(&b);
  return out;
}

TEST(base64_padding) {
  ASSERT_STREQ(b64("", 0), "\"\"");
  ASSERT_STREQ(b64("f", 1), "\"Zg==\"");
  ASSERT_STREQ(b64("fo", 2), "\"Zm8=\"");
  ASSERT_STREQ(b64("foo", 3), "\"Zm9v\"");
  ASSERT_STREQ(b64("\0\xff\xfe", 3), "\"AP/+\"");
}

TEST(base64_png_as_the_sdk_sends_it) {
  unsigned char png[80];
  size_t n = b64_decode(png_b64, png);
  char want[200];
  ASSERT_EQ(n, 70);
  snprintf(want, sizeof want, "\"%s\"", png_b64);
  ASSERT_STREQ(b64((const char *)png, n), want);
}

/* ---- Chat Completions -------------------------------------------------------- */

TEST(chat_tools_body) {
  lgw__call_t c = call(ask, WIRE_NMSG(ask), "gpt-4o-mini");
  c.tools = weather;
  c.ntools = 1;
  c.tool_choice = "auto";
  ASSERT_STREQ(wire_body(&lgw__transport_chat, &c),
      "{\"model\":\"gpt-4o-mini\",\"messages\":[{\"role\":\"system\","
      "\"content\":\"You are a weather assistant.\"},{\"role\":\"user\","
      "\"content\":\"What is the weather in Paris?\"}],"
      "\"max_completion_tokens\":1024,\"temperature\":0.0,\"stream\":false,"
      "\"tools\":[{\"type\":\"function\",\"function\":{\"name\":"
      "\"get_weather\",\"description\":\"Get the current weather for a "
      "city\",\"parameters\":" WEATHER_PARAMS "}}],\"tool_choice\":\"auto\"}");
}

TEST(chat_tool_result_body_matches_sdk) {
  lgw__call_t c;
  set_continuation("call_1");
  c = rcall(continuation, 3, "gpt-4o-mini");
  c.tools = weather;
  c.ntools = 1;
  /* the SDK's messages array, byte for byte */
  ASSERT_CONTAINS(wire_body(&lgw__transport_chat, &c),
      "\"messages\":[{\"role\":\"user\",\"content\":\"What is the weather in "
      "Paris?\"},{\"role\":\"assistant\",\"tool_calls\":[{\"id\":\"call_1\","
      "\"type\":\"function\",\"function\":{\"name\":\"get_weather\","
      "\"arguments\":\"{\\\"city\\\":\\\"Paris\\\"}\"}}]},{\"role\":\"tool\","
      "\"tool_call_id\":\"call_1\",\"content\":\"{\\\"temp\\\":21}\"}]");
  ASSERT_CONTAINS(wire_body(&lgw__transport_chat, &c),
      "\"tools\":[{\"type\":\"function\",\"function\":{\"name\":"
      "\"get_weather\",\"description\":\"Get the current weather for a "
      "city\",\"parameters\":" WEATHER_PARAMS "}}]}");
}

TEST(chat_image_parts_match_sdk) {
  unsigned char png[80];
  lgw_part_t parts[2];
  lgw_rich_message_t m[1];
  lgw__call_t c;
  size_t n = b64_decode(png_b64, png);
  memset(parts, 0, sizeof parts);
  memset(m, 0, sizeof m);
  parts[0].type = LGW_PART_TEXT;
  parts[0].text = "What is in this image?";
  parts[1].type = LGW_PART_IMAGE;
  parts[1].url = "https://example.com/cat.png";
  m[0].role = "user";
  m[0].parts = parts;
  m[0].nparts = 2;
  c = rcall(m, 1, "gpt-4o-mini");
  ASSERT_CONTAINS(wire_body(&lgw__transport_chat, &c),
      "\"messages\":[{\"role\":\"user\",\"content\":[{\"type\":\"text\","
      "\"text\":\"What is in this image?\"},{\"type\":\"image_url\","
      "\"image_url\":{\"url\":\"https://example.com/cat.png\"}}]}]");
  parts[1].url = NULL;
  parts[1].data = png;
  parts[1].data_len = n;
  parts[1].media_type = "image/png";
  ASSERT_CONTAINS(wire_body(&lgw__transport_chat, &c),
      "\"messages\":[{\"role\":\"user\",\"content\":[{\"type\":\"text\","
      "\"text\":\"What is in this image?\"},{\"type\":\"image_url\","
      "\"image_url\":{\"url\":\"data:image/png;base64,iVBORw0KGgoAAAANSUhEUgAA"
      "AAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP4z8DwHwAFAAH/VscvDQAAAABJRU5ErkJggg"
      "==\"}}]}]");
}

TEST(chat_file_detail_and_name) {
  lgw_part_t parts[3];
  lgw_rich_message_t m[1];
  lgw__call_t c;
  memset(parts, 0, sizeof parts);
  memset(m, 0, sizeof m);
  parts[0].type = LGW_PART_IMAGE;
  parts[0].url = "https://h/a.jpg";
  parts[0].detail = "low";
  parts[1].type = LGW_PART_FILE;
  parts[1].data = "%PDF";
  parts[1].data_len = 4;
  parts[1].media_type = "application/pdf";
  parts[1].filename = "a.pdf";
  parts[2].type = LGW_PART_FILE;
  parts[2].data = "x";
  parts[2].data_len = 1;
  parts[2].media_type = "text/plain";
  m[0].role = "user";
  m[0].name = "ann";
  m[0].parts = parts;
  m[0].nparts = 3;
  c = rcall(m, 1, "m");
  ASSERT_STREQ(wire_body(&lgw__transport_chat, &c),
      "{\"model\":\"m\",\"messages\":[{\"role\":\"user\",\"content\":["
      "{\"type\":\"image_url\",\"image_url\":{\"url\":\"https://h/a.jpg\","
      "\"detail\":\"low\"}},{\"type\":\"file\",\"file\":{\"filename\":"
      "\"a.pdf\",\"file_data\":\"data:application/pdf;base64,JVBERg==\"}},"
      "{\"type\":\"file\",\"file\":{\"filename\":\"file\",\"file_data\":"
      "\"data:text/plain;base64,eA==\"}}],\"name\":\"ann\"}],"
      "\"max_completion_tokens\":1024,\"temperature\":0.0,\"stream\":false}");
}

TEST(chat_system_parts_text_only) {
  lgw_part_t parts[2];
  lgw_rich_message_t m[1];
  lgw__call_t c;
  memset(parts, 0, sizeof parts);
  memset(m, 0, sizeof m);
  parts[0].type = LGW_PART_TEXT;
  parts[0].text = "Be brief.";
  parts[1].type = LGW_PART_IMAGE;
  parts[1].data = "x";
  parts[1].data_len = 1;
  parts[1].media_type = "image/png";
  m[0].role = "system";
  m[0].parts = parts;
  m[0].nparts = 1;
  c = rcall(m, 1, "m");
  ASSERT_CONTAINS(wire_body(&lgw__transport_chat, &c),
                  "\"messages\":[{\"role\":\"system\",\"content\":[{\"type\":"
                  "\"text\",\"text\":\"Be brief.\"}]}]");
  m[0].nparts = 2;
  ASSERT_STREQ(wire_body(&lgw__transport_chat, &c),
               "ERR -2: message 1 part 2 (image image/png): the OpenAI Chat "
               "Completions API takes only text in system messages");
  ASSERT_STREQ(wire_body(&lgw__transport_litellm, &c),
               "ERR -2: message 1 part 2 (image image/png): the LiteLLM proxy "
               "(Chat Completions format) takes only text in system "
               "messages");
}

TEST(chat_tool_choice_forms) {
  lgw__call_t c = call(ask + 1, 1, "m");
  c.tools = weather;
  c.ntools = 1;
  c.tool_choice_name = "get_weather";
  c.parallel_tool_calls = -1;
  ASSERT_CONTAINS(wire_body(&lgw__transport_chat, &c),
                  "}}],\"tool_choice\":{\"type\":\"function\",\"function\":"
                  "{\"name\":\"get_weather\"}},\"parallel_tool_calls\":false}");
  c.tool_choice_name = NULL;
  c.tool_choice = "required";
  c.parallel_tool_calls = 1;
  ASSERT_CONTAINS(wire_body(&lgw__transport_chat, &c),
                  "}}],\"tool_choice\":\"required\","
                  "\"parallel_tool_calls\":true}");
  /* without tools, no parallel_tool_calls (the APIs reject it alone) */
  c.ntools = 0;
  c.tool_choice = NULL;
  c.parallel_tool_calls = -1;
  ASSERT_CONTAINS(wire_body(&lgw__transport_chat, &c), "\"stream\":false}");
  ASSERT_CONTAINS(wire_body(&lgw__transport_responses, &c),
                  "\"stream\":false}");
  ASSERT_CONTAINS(wire_body(&lgw__transport_anthropic, &c),
                  "\"temperature\":0.0}");
  c.ntools = 1;
  c.tool_choice = "sometimes";
  ASSERT_STREQ(wire_body(&lgw__transport_chat, &c),
               "ERR -2: tool_choice must be \"auto\", \"none\" or "
               "\"required\" (or a tool name in tool_choice_name), not "
               "\"sometimes\"");
}

TEST(tool_definition_errors) {
  lgw_tool_t t[1] = {{"f", NULL, "[1]", 1}};
  lgw__call_t c = call(ask + 1, 1, "m");
  c.tools = t;
  c.ntools = 1;
  ASSERT_STREQ(wire_body(&lgw__transport_chat, &c),
               "ERR -2: tool 1 parameters is not a JSON object");
  ASSERT_STREQ(wire_body(&lgw__transport_anthropic, &c),
               "ERR -2: tool 1 parameters is not a JSON object");
  t[0].parameters_json = NULL;
  ASSERT_CONTAINS(wire_body(&lgw__transport_chat, &c),
                  "\"tools\":[{\"type\":\"function\",\"function\":{\"name\":"
                  "\"f\",\"parameters\":{\"type\":\"object\",\"properties\":"
                  "{}},\"strict\":true}}]}");
  t[0].name = " ";
  ASSERT_STREQ(wire_body(&lgw__transport_responses, &c),
               "ERR -2: tool 1: name is required");
}

/* The same errors from every API: a tool without a name, a tool call of
 * an assistant message without an id or a name. */
TEST(tool_and_tool_call_errors_every_api) {
  const lgw__transport_t *ts[] = {&lgw__transport_chat,
                                  &lgw__transport_responses,
                                  &lgw__transport_anthropic};
  lgw_tool_t t[2] = {{"f", NULL, NULL, 0}, {"", NULL, NULL, 0}};
  lgw_tool_call_t tc[2] = {{"call_1", "f", "{}"}, {"call_2", " ", "{}"}};
  lgw_rich_message_t m[2];
  lgw__call_t c = call(ask + 1, 1, "m");
  size_t i;
  c.tools = t;
  c.ntools = 2;
  for (i = 0; i < WIRE_NMSG(ts); i++)
    ASSERT_STREQ(wire_body(ts[i], &c), "ERR -2: tool 2: name is required");
  memset(m, 0, sizeof m);
  m[0].role = "user";
  m[0].content = "q";
  m[1].role = "assistant";
  m[1].tool_calls = tc;
  m[1].ntool_calls = 2;
  c = rcall(m, 2, "m");
  for (i = 0; i < WIRE_NMSG(ts); i++)
    ASSERT_STREQ(wire_body(ts[i], &c),
                 "ERR -2: message 2 tool call 2: id and name are required");
  tc[1].name = "f";
  tc[0].id = NULL;
  for (i = 0; i < WIRE_NMSG(ts); i++)
    ASSERT_STREQ(wire_body(ts[i], &c),
                 "ERR -2: message 2 tool call 1: id and name are required");
}

TEST(tool_calls_only_on_assistant) {
  lgw_rich_message_t m[1];
  lgw__call_t c;
  memset(m, 0, sizeof m);
  m[0].role = "user";
  m[0].tool_calls = paris_call;
  m[0].ntool_calls = 1;
  c = rcall(m, 1, "m");
  ASSERT_STREQ(wire_body(&lgw__transport_chat, &c),
               "ERR -2: message 1: only assistant messages carry tool_calls");
  ASSERT_STREQ(wire_body(&lgw__transport_responses, &c),
               "ERR -2: message 1: only assistant messages carry tool_calls");
  ASSERT_STREQ(wire_body(&lgw__transport_anthropic, &c),
               "ERR -2: message 1: only assistant messages carry tool_calls");
}

/* A "tool" message without a tool_call_id is sent as before. */
TEST(tool_role_without_id_unchanged) {
  static const lgw_message_t m[] = {{"tool", "t"}};
  lgw__call_t c = call(m, 1, "m");
  ASSERT_CONTAINS(wire_body(&lgw__transport_chat, &c),
                  "\"messages\":[{\"role\":\"tool\",\"content\":\"t\"}]");
  ASSERT_CONTAINS(wire_body(&lgw__transport_responses, &c),
                  "\"input\":[{\"role\":\"user\",\"content\":\"t\"}]");
  ASSERT_CONTAINS(wire_body(&lgw__transport_anthropic, &c),
                  "\"messages\":[{\"role\":\"user\",\"content\":\"t\"}]");
}

/* ---- Responses ---------------------------------------------------------------- */

TEST(responses_tools_body) {
  lgw__call_t c = call(ask, WIRE_NMSG(ask), "gpt-4o-mini");
  c.tools = weather;
  c.ntools = 1;
  c.tool_choice = "auto";
  ASSERT_STREQ(wire_body(&lgw__transport_responses, &c),
      "{\"model\":\"gpt-4o-mini\",\"input\":[{\"role\":\"user\",\"content\":"
      "\"What is the weather in Paris?\"}],\"max_output_tokens\":1024,"
      "\"temperature\":0.0,\"stream\":false,\"instructions\":\"You are a "
      "weather assistant.\",\"tools\":[{\"type\":\"function\",\"name\":"
      "\"get_weather\",\"description\":\"Get the current weather for a "
      "city\",\"parameters\":" WEATHER_PARAMS ",\"strict\":false}],"
      "\"tool_choice\":\"auto\"}");
}

TEST(responses_tool_result_body_matches_sdk) {
  lgw__call_t c;
  set_continuation("call_1");
  c = rcall(continuation, 3, "gpt-4o-mini");
  ASSERT_CONTAINS(wire_body(&lgw__transport_responses, &c),
      "\"input\":[{\"role\":\"user\",\"content\":\"What is the weather in "
      "Paris?\"},{\"type\":\"function_call\",\"call_id\":\"call_1\","
      "\"name\":\"get_weather\",\"arguments\":\"{\\\"city\\\":\\\"Paris\\\"}\""
      "},{\"type\":\"function_call_output\",\"call_id\":\"call_1\","
      "\"output\":\"{\\\"temp\\\":21}\"}]");
  /* text with the call: an assistant message first */
  continuation[1].content = "Let me look.";
  c.tool_choice_name = "get_weather";
  ASSERT_CONTAINS(wire_body(&lgw__transport_responses, &c),
      "Paris?\"},{\"role\":\"assistant\",\"content\":\"Let me look.\"},"
      "{\"type\":\"function_call\",\"call_id\":\"call_1\"");
  ASSERT_CONTAINS(wire_body(&lgw__transport_responses, &c),
                  ",\"tool_choice\":{\"type\":\"function\",\"name\":"
                  "\"get_weather\"}}");
}

TEST(responses_image_and_file_parts) {
  unsigned char png[80];
  lgw_part_t parts[3];
  lgw_rich_message_t m[1];
  lgw__call_t c;
  size_t n = b64_decode(png_b64, png);
  memset(parts, 0, sizeof parts);
  memset(m, 0, sizeof m);
  parts[0].type = LGW_PART_TEXT;
  parts[0].text = "What is in this image?";
  parts[1].type = LGW_PART_IMAGE;
  parts[1].url = "https://example.com/cat.png";
  parts[1].detail = "auto";
  m[0].role = "user";
  m[0].parts = parts;
  m[0].nparts = 2;
  c = rcall(m, 1, "gpt-4o-mini");
  /* the SDK's _image_url_detail input, byte for byte */
  ASSERT_CONTAINS(wire_body(&lgw__transport_responses, &c),
      "\"input\":[{\"role\":\"user\",\"content\":[{\"type\":\"input_text\","
      "\"text\":\"What is in this image?\"},{\"type\":\"input_image\","
      "\"image_url\":\"https://example.com/cat.png\",\"detail\":\"auto\"}]}]");
  /* without detail: "auto", which the spec requires */
  parts[1].detail = NULL;
  parts[1].url = NULL;
  parts[1].data = png;
  parts[1].data_len = n;
  parts[1].media_type = "image/png";
  ASSERT_CONTAINS(wire_body(&lgw__transport_responses, &c),
      "{\"type\":\"input_image\",\"image_url\":\"data:image/png;base64,"
      "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP4z8DwHwAF"
      "AAH/VscvDQAAAABJRU5ErkJggg==\",\"detail\":\"auto\"}]}]");
  parts[1].type = LGW_PART_FILE;
  parts[1].data = "%PDF";
  parts[1].data_len = 4;
  parts[1].media_type = "application/pdf";
  parts[1].filename = "hello.pdf";
  parts[0].text = "Summarize this document.";
  ASSERT_CONTAINS(wire_body(&lgw__transport_responses, &c),
      "\"input\":[{\"role\":\"user\",\"content\":[{\"type\":\"input_text\","
      "\"text\":\"Summarize this document.\"},{\"type\":\"input_file\","
      "\"filename\":\"hello.pdf\",\"file_data\":\"data:application/pdf;"
      "base64,JVBERg==\"}]}]");
  /* an image without a media type cannot be sent anywhere */
  parts[1].type = LGW_PART_IMAGE;
  parts[1].media_type = NULL;
  ASSERT_STREQ(wire_body(&lgw__transport_responses, &c),
               "ERR -2: message 1 part 2 (image): data without a "
               "media_type");
}

TEST(responses_system_parts_and_assistant_parts) {
  lgw_part_t sp[2], ap[2];
  lgw_rich_message_t m[3];
  lgw__call_t c;
  memset(sp, 0, sizeof sp);
  memset(ap, 0, sizeof ap);
  memset(m, 0, sizeof m);
  sp[0].text = "Be";
  sp[1].text = "brief.";
  ap[0].text = "a";
  ap[1].text = "b";
  m[0].role = "system";
  m[0].parts = sp;
  m[0].nparts = 2;
  m[1].role = "assistant";
  m[1].parts = ap;
  m[1].nparts = 2;
  m[2].role = "user";
  m[2].content = "u";
  c = rcall(m, 3, "m");
  ASSERT_STREQ(wire_body(&lgw__transport_responses, &c),
      "{\"model\":\"m\",\"input\":[{\"role\":\"assistant\",\"content\":"
      "\"a\\nb\"},{\"role\":\"user\",\"content\":\"u\"}],"
      "\"max_output_tokens\":1024,\"temperature\":0.0,\"stream\":false,"
      "\"instructions\":\"Be\\nbrief.\"}");
  ap[1].type = LGW_PART_FILE;
  ap[1].data = "x";
  ap[1].data_len = 1;
  ap[1].media_type = "application/pdf";
  ASSERT_STREQ(wire_body(&lgw__transport_responses, &c),
               "ERR -2: message 2 part 2 (file application/pdf): the OpenAI "
               "Responses API takes only text in assistant messages");
}

/* ---- Anthropic ------------------------------------------------------------------ */

TEST(anthropic_tools_body_matches_sdk) {
  lgw__call_t c = call(ask, WIRE_NMSG(ask), "claude-sonnet-4-5");
  c.tools = weather;
  c.ntools = 1;
  c.tool_choice = "auto";
  ASSERT_STREQ(wire_body(&lgw__transport_anthropic, &c),
      "{\"model\":\"claude-sonnet-4-5\",\"messages\":[{\"role\":\"user\","
      "\"content\":\"What is the weather in Paris?\"}],\"max_tokens\":1024,"
      "\"temperature\":0.0,\"system\":\"You are a weather assistant.\","
      "\"tools\":[{\"name\":\"get_weather\",\"description\":\"Get the "
      "current weather for a city\",\"input_schema\":" WEATHER_PARAMS "}],"
      "\"tool_choice\":{\"type\":\"auto\"}}");
}

TEST(anthropic_tool_result_body_matches_sdk) {
  lgw__call_t c;
  set_continuation("toolu_1");
  c = rcall(continuation, 3, "claude-sonnet-4-5");
  ASSERT_CONTAINS(wire_body(&lgw__transport_anthropic, &c),
      "\"messages\":[{\"role\":\"user\",\"content\":\"What is the weather in "
      "Paris?\"},{\"role\":\"assistant\",\"content\":[{\"type\":\"tool_use\","
      "\"id\":\"toolu_1\",\"name\":\"get_weather\",\"input\":{\"city\":"
      "\"Paris\"}}]},{\"role\":\"user\",\"content\":[{\"type\":"
      "\"tool_result\",\"tool_use_id\":\"toolu_1\",\"content\":"
      "\"{\\\"temp\\\":21}\"}]}]");
}

/* Consecutive tool results are one user turn; text before the calls is a
 * text block; is_error is sent. */
TEST(anthropic_tool_results_merged) {
  static const lgw_tool_call_t tc[2] = {
    {"t1", "a", "{}"}, {"t2", "b", NULL}};
  lgw_rich_message_t m[5];
  lgw__call_t c;
  memset(m, 0, sizeof m);
  m[0].content = "go";
  m[1].role = "assistant";
  m[1].content = "Two calls.";
  m[1].tool_calls = tc;
  m[1].ntool_calls = 2;
  m[2].role = "tool";
  m[2].tool_call_id = "t1";
  m[2].content = "1";
  m[3].role = "Tool";
  m[3].tool_call_id = "t2";
  m[3].content = "boom";
  m[3].is_error = 1;
  m[4].content = "and?";
  c = rcall(m, 5, "c");
  ASSERT_STREQ(wire_body(&lgw__transport_anthropic, &c),
      "{\"model\":\"c\",\"messages\":[{\"role\":\"user\",\"content\":\"go\"},"
      "{\"role\":\"assistant\",\"content\":[{\"type\":\"text\",\"text\":"
      "\"Two calls.\"},{\"type\":\"tool_use\",\"id\":\"t1\",\"name\":\"a\","
      "\"input\":{}},{\"type\":\"tool_use\",\"id\":\"t2\",\"name\":\"b\","
      "\"input\":{}}]},{\"role\":\"user\",\"content\":[{\"type\":"
      "\"tool_result\",\"tool_use_id\":\"t1\",\"content\":\"1\"},{\"type\":"
      "\"tool_result\",\"tool_use_id\":\"t2\",\"content\":\"boom\","
      "\"is_error\":true}]},{\"role\":\"user\",\"content\":\"and?\"}],"
      "\"max_tokens\":1024,\"temperature\":0.0}");
  /* the same history for Chat: role tool messages, content kept */
  ASSERT_CONTAINS(wire_body(&lgw__transport_chat, &c),
      "{\"role\":\"assistant\",\"content\":\"Two calls.\",\"tool_calls\":[{"
      "\"id\":\"t1\",\"type\":\"function\",\"function\":{\"name\":\"a\","
      "\"arguments\":\"{}\"}},{\"id\":\"t2\",\"type\":\"function\","
      "\"function\":{\"name\":\"b\",\"arguments\":\"{}\"}}]},{\"role\":"
      "\"tool\",\"tool_call_id\":\"t1\",\"content\":\"1\"},{\"role\":"
      "\"tool\",\"tool_call_id\":\"t2\",\"content\":\"boom\"}");
}

TEST(anthropic_bad_arguments) {
  static const lgw_tool_call_t tc[1] = {{"t1", "a", "{\"x\":"}};
  lgw_rich_message_t m[1];
  lgw__call_t c;
  memset(m, 0, sizeof m);
  m[0].role = "assistant";
  m[0].tool_calls = tc;
  m[0].ntool_calls = 1;
  c = rcall(m, 1, "c");
  ASSERT_STREQ(wire_body(&lgw__transport_anthropic, &c),
               "ERR -2: message 1 tool call 1 arguments is not a JSON object");
}

TEST(anthropic_image_and_document_blocks) {
  unsigned char png[80];
  lgw_part_t parts[2];
  lgw_rich_message_t m[1];
  lgw__call_t c;
  size_t n = b64_decode(png_b64, png);
  memset(parts, 0, sizeof parts);
  memset(m, 0, sizeof m);
  parts[0].type = LGW_PART_IMAGE;
  parts[0].data = png;
  parts[0].data_len = n;
  parts[0].media_type = "image/png";
  parts[0].detail = "high";  /* no such field: left out */
  parts[1].type = LGW_PART_TEXT;
  parts[1].text = "What is in this image?";
  m[0].role = "user";
  m[0].parts = parts;
  m[0].nparts = 2;
  c = rcall(m, 1, "claude-sonnet-4-5");
  /* the SDK's _image_base64 messages, byte for byte */
  ASSERT_CONTAINS(wire_body(&lgw__transport_anthropic, &c),
      "\"messages\":[{\"role\":\"user\",\"content\":[{\"type\":\"image\","
      "\"source\":{\"type\":\"base64\",\"media_type\":\"image/png\",\"data\":"
      "\"iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP4z8DwHwAF"
      "AAH/VscvDQAAAABJRU5ErkJggg==\"}},{\"type\":\"text\",\"text\":\"What is "
      "in this image?\"}]}]");
  parts[0].data = NULL;
  parts[0].url = "https://example.com/cat.png";
  ASSERT_CONTAINS(wire_body(&lgw__transport_anthropic, &c),
      "\"messages\":[{\"role\":\"user\",\"content\":[{\"type\":\"image\","
      "\"source\":{\"type\":\"url\",\"url\":\"https://example.com/cat.png\"}},"
      "{\"type\":\"text\",\"text\":\"What is in this image?\"}]}]");
  parts[0].type = LGW_PART_FILE;
  parts[0].data = "%PDF";
  parts[0].data_len = 4;
  parts[0].media_type = "application/pdf";
  parts[1].text = "Summarize this document.";
  ASSERT_CONTAINS(wire_body(&lgw__transport_anthropic, &c),
      "\"messages\":[{\"role\":\"user\",\"content\":[{\"type\":\"document\","
      "\"source\":{\"type\":\"base64\",\"media_type\":\"application/pdf\","
      "\"data\":\"JVBERg==\"}},{\"type\":\"text\",\"text\":\"Summarize this "
      "document.\"}]}]");
  parts[0].data = "hi \"there\"";
  parts[0].data_len = 10;
  parts[0].media_type = "text/plain";
  parts[0].filename = "n.txt";
  ASSERT_CONTAINS(wire_body(&lgw__transport_anthropic, &c),
      "[{\"type\":\"document\",\"source\":{\"type\":\"text\",\"media_type\":"
      "\"text/plain\",\"data\":\"hi \\\"there\\\"\"},\"title\":\"n.txt\"},");
  parts[0].media_type = "text/csv";
  ASSERT_STREQ(wire_body(&lgw__transport_anthropic, &c),
               "ERR -2: message 1 part 1 (file text/csv): the Anthropic "
               "Messages API takes documents as application/pdf or "
               "text/plain");
  parts[0].type = LGW_PART_IMAGE;
  parts[0].media_type = "image/bmp";
  ASSERT_STREQ(wire_body(&lgw__transport_anthropic, &c),
               "ERR -2: message 1 part 1 (image image/bmp): the Anthropic "
               "Messages API takes images as image/jpeg, image/png, "
               "image/gif or image/webp");
}

TEST(anthropic_tool_choice_forms) {
  lgw__call_t c = call(ask + 1, 1, "c");
  c.tools = weather;
  c.ntools = 1;
  c.tool_choice = "required";
  ASSERT_CONTAINS(wire_body(&lgw__transport_anthropic, &c),
                  "}],\"tool_choice\":{\"type\":\"any\"}}");
  c.tool_choice = "none";
  c.parallel_tool_calls = -1;
  ASSERT_CONTAINS(wire_body(&lgw__transport_anthropic, &c),
                  "}],\"tool_choice\":{\"type\":\"none\"}}");
  c.tool_choice = NULL;
  ASSERT_CONTAINS(wire_body(&lgw__transport_anthropic, &c),
                  "}],\"tool_choice\":{\"type\":\"auto\","
                  "\"disable_parallel_tool_use\":true}}");
  c.tool_choice_name = "get_weather";
  ASSERT_CONTAINS(wire_body(&lgw__transport_anthropic, &c),
                  "}],\"tool_choice\":{\"type\":\"tool\",\"name\":"
                  "\"get_weather\",\"disable_parallel_tool_use\":true}}");
}


/* ---- structured output, common parameters, extra members ---------------- */

#define VERDICT                                                             \
  "{\"type\":\"object\",\"properties\":{\"summary\":{\"type\":\"string\"},"  \
  "\"risk\":{\"type\":\"string\",\"enum\":[\"low\",\"medium\",\"high\"]}},"  \
  "\"required\":[\"summary\",\"risk\"],\"additionalProperties\":false}"

static const lgw_message_t assess[] = {
  {"user", "Assess the risk of this change: set the log level of the "
           "billing service to debug."}};

TEST(schema_bodies_match_sdk) {
  lgw__call_t c = call(assess, 1, "gpt-4o-mini");
  c.schema_json = VERDICT;
  c.schema_name = "verdict";
  ASSERT_CONTAINS(wire_body(&lgw__transport_responses, &c),
      ",\"text\":{\"format\":{\"type\":\"json_schema\",\"name\":\"verdict\","
      "\"strict\":true,\"schema\":" VERDICT "}}}");
  ASSERT_CONTAINS(wire_body(&lgw__transport_chat, &c),
      ",\"response_format\":{\"type\":\"json_schema\",\"json_schema\":{"
      "\"name\":\"verdict\",\"strict\":true,\"schema\":" VERDICT "}}}");
  ASSERT_CONTAINS(wire_body(&lgw__transport_litellm, &c),
      ",\"response_format\":{\"type\":\"json_schema\",\"json_schema\":{"
      "\"name\":\"verdict\",\"strict\":true,\"schema\":" VERDICT "}}}");
  ASSERT_STREQ(wire_body(&lgw__transport_anthropic, &c),
      "{\"model\":\"gpt-4o-mini\",\"messages\":[{\"role\":\"user\","
      "\"content\":\"Assess the risk of this change: set the log level of "
      "the billing service to debug.\"}],\"max_tokens\":1024,"
      "\"temperature\":0.0,\"output_config\":{\"format\":{\"type\":"
      "\"json_schema\",\"schema\":" VERDICT "}}}");
  c.schema_name = NULL;
  c.schema_strict = -1;
  ASSERT_CONTAINS(wire_body(&lgw__transport_chat, &c),
      "\"json_schema\":{\"name\":\"response\",\"strict\":false,\"schema\":");
  c.schema_json = "\"x\"";
  ASSERT_STREQ(wire_body(&lgw__transport_responses, &c),
               "ERR -2: schema is not a JSON object");
}

TEST(common_parameters_per_api) {
  static const char *const stop[] = {"END", "\n\n"};
  lgw__call_t c = call(assess, 1, "m");
  c.stop = stop;
  c.nstop = 2;
  c.has_top_p = 1;
  c.top_p = 0.9;
  c.has_seed = 1;
  c.seed = -42;
  c.user = "u-1";
  c.metadata_json = "{\"run\":\"7\"}";
  ASSERT_CONTAINS(wire_body(&lgw__transport_chat, &c),
                  "\"stream\":false,\"stop\":[\"END\",\"\\n\\n\"],"
                  "\"top_p\":0.9,\"seed\":-42,\"user\":\"u-1\","
                  "\"metadata\":{\"run\":\"7\"}}");
  ASSERT_CONTAINS(wire_body(&lgw__transport_responses, &c),
                  "\"stream\":false,\"top_p\":0.9,\"user\":\"u-1\","
                  "\"metadata\":{\"run\":\"7\"}}");
  ASSERT_CONTAINS(wire_body(&lgw__transport_anthropic, &c),
                  "\"temperature\":0.0,\"stop_sequences\":[\"END\","
                  "\"\\n\\n\"],\"top_p\":0.9,\"metadata\":{\"user_id\":"
                  "\"u-1\"}}");
  c.metadata_json = "[]";
  ASSERT_STREQ(wire_body(&lgw__transport_chat, &c),
               "ERR -2: metadata is not a JSON object");
  c.metadata_json = NULL;
  c.top_p = 1.0 / 0.0;
  ASSERT_STREQ(wire_body(&lgw__transport_chat, &c),
               "ERR -2: top_p is not a finite number");
}

TEST(extra_merged_last) {
  lgw__call_t c = call(assess, 1, "m");
  c.extra_body = "{\"temperature\":0.5,\"service_tier\":\"flex\","
                 "\"store\":false}";
  c.extra = "{\"store\":true,\"stream\":null,\"x\":{\"y\":[1,\"z\"]}}";
  ASSERT_STREQ(wire_full_body(&lgw__transport_chat, &c),
      "{\"model\":\"m\",\"messages\":[{\"role\":\"user\",\"content\":"
      "\"Assess the risk of this change: set the log level of the billing "
      "service to debug.\"}],\"max_completion_tokens\":1024,"
      "\"temperature\":0.5,\"service_tier\":\"flex\",\"store\":true,"
      "\"x\":{\"y\":[1,\"z\"]}}");
  /* without extras the body is the transport's, byte for byte */
  c.extra_body = c.extra = NULL;
  ASSERT_STREQ(wire_full_body(&lgw__transport_anthropic, &c),
               wire_body(&lgw__transport_anthropic, &c));
  c.extra = "[1]";
  ASSERT_STREQ(wire_full_body(&lgw__transport_chat, &c),
               "ERR -2: extra is not a JSON object");
  c.extra = NULL;
  c.extra_body = "{";
  ASSERT_STREQ(wire_full_body(&lgw__transport_chat, &c),
               "ERR -2: the provider's extra_body is not a JSON object");
}

TEST(config_extra_body) {
  lgw_runtime_t *rt;
  lgw_error_t err;
  static const char bad[] =
      "providers:\n  - provider_type: x\n    api_style: openai_chat\n"
      "    base_url: http://127.0.0.1:1\n    extra_body: [1]\n";
  rt = gws_load(GWS_SETTINGS("") "providers:\n  - provider_type: x\n"
                "    api_style: openai_chat\n"
                "    base_url: http://127.0.0.1:1\n"
                "    extra_body:\n      a: 1\n      b: [true, null, 2.5, s]\n"
                "      c: {d: e}\n");
  ASSERT(rt != NULL);
  ASSERT_STREQ(rt->providers[0].extra_body,
               "{\"a\":1,\"b\":[true,null,2.5,\"s\"],\"c\":{\"d\":\"e\"}}");
  lgw_runtime_free(rt);
  memset(&err, 0, sizeof err);
  ASSERT_EQ(lgw_runtime_load_string(bad, strlen(bad), "t.yaml", &rt, &err),
            LGW_ECONFIG);
  ASSERT_CONTAINS(err.message, "providers[1].extra_body: expected a "
                  "mapping, got a list");
}

/* ---- answers: tool calls -------------------------------------------------------- */

static char *slurp(const char *path) {
  FILE *f = fopen(path, "rb");
  char *s;
  long n;
  if (!f) return NULL;
  fseek(f, 0, SEEK_END);
  n = ftell(f);
  fseek(f, 0, SEEK_SET);
  s = malloc((size_t)n + 1);
  if (s && fread(s, 1, (size_t)n, f) != (size_t)n) {
    free(s);
    s = NULL;
  }
  if (s) s[n] = '\0';
  fclose(f);
  return s;
}

/* "text|finish|id name args|id name args..." of a reply. */
static const char *reply_str(const lgw__reply_t *r) {
  static char out[2048];
  size_t k, i;
  k = (size_t)snprintf(out, sizeof out, "%s|%s", r->text ? r->text : "",
                       r->finish_reason ? r->finish_reason : "-");
  for (i = 0; i < r->calls.n && k < sizeof out; i++)
    k += (size_t)snprintf(out + k, sizeof out - k, "|%s %s %s",
                          r->calls.v[i].id, r->calls.v[i].name,
                          r->calls.v[i].args.data ? r->calls.v[i].args.data
                                                  : "");
  return out;
}

static const char *parse_file(const lgw__transport_t *t, const char *path) {
  static char out[2048];
  char *b = slurp(path);
  lgw__reply_t r;
  lgw_error_t err;
  int rc;
  if (!b) return "NO FILE";
  memset(&r, 0, sizeof r);
  memset(&err, 0, sizeof err);
  rc = t->parse(b, strlen(b), "application/json", &r, &err);
  if (rc) snprintf(out, sizeof out, "ERR %d: %s", rc, err.message);
  else snprintf(out, sizeof out, "%s", reply_str(&r));
  lgw__reply_free(&r);
  free(b);
  return out;
}

TEST(parse_tool_calls) {
  ASSERT_STREQ(parse_file(&lgw__transport_chat, "tests/c/data/"
                          "openai-node-6.49.0_chat.completions.create_tools."
                          "response.json"),
               "|tool_calls|call_Xb7kQ2mVt9LpR4sWn1cYd8Ha get_weather "
               "{\"city\":\"Paris\",\"unit\":\"c\"}");
  ASSERT_STREQ(parse_file(&lgw__transport_litellm, "tests/c/data/"
                          "openai-node-6.49.0_chat.completions.create_tools."
                          "response.json"),
               "|tool_calls|call_Xb7kQ2mVt9LpR4sWn1cYd8Ha get_weather "
               "{\"city\":\"Paris\",\"unit\":\"c\"}");
  ASSERT_STREQ(parse_file(&lgw__transport_responses, "tests/c/data/"
                          "openai-node-6.49.0_responses.create_tools."
                          "response.json"),
               "|tool_calls|call_Qm4nT8vXb2LcR7sWk9dYf1Ha get_weather "
               "{\"city\":\"Paris\",\"unit\":\"c\"}");
  ASSERT_STREQ(parse_file(&lgw__transport_anthropic, "tests/c/data/"
                          "anthropic-sdk-1.12.0_messages.create_tools."
                          "response.json"),
               "I'll check the current weather in Paris.|tool_calls|"
               "toolu_01A09q90qw90lq917835lq9 get_weather "
               "{\"city\":\"Paris\",\"unit\":\"c\"}");
}

static const lgw__transport_t *stream_tr;

static int on_event_tr(const char *name, const char *data, size_t len,
                       void *ud) {
  lgw__stream_t *s = ud;
  lgw_error_t err;
  s->event = name;
  s->delta.len = 0;
  memset(&err, 0, sizeof err);
  return stream_tr->stream_event(s, data, len, &err);
}

static const char *stream_file(const lgw__transport_t *t, const char *path,
                               size_t piece) {
  static char out[2048];
  char *b = slurp(path);
  lgw__sse_parser_t p;
  lgw__stream_t s;
  lgw__reply_t r;
  size_t i, n;
  int rc = 0;
  if (!b) return "NO FILE";
  n = strlen(b);
  stream_tr = t;
  lgw__sse_parser_init(&p);
  lgw__stream_init(&s);
  memset(&r, 0, sizeof r);
  for (i = 0; !rc && i < n; i += piece)
    rc = lgw__sse_feed(&p, b + i, n - i < piece ? n - i : piece, on_event_tr,
                       &s);
  rc = rc ? rc : lgw__sse_finish(&p, on_event_tr, &s);
  rc = rc ? rc : lgw__stream_take(&s, &r);
  if (rc) snprintf(out, sizeof out, "ERR %d", rc);
  else snprintf(out, sizeof out, "%s%s", s.done ? "" : "NOT DONE ",
                reply_str(&r));
  lgw__reply_free(&r);
  lgw__stream_free(&s);
  lgw__sse_parser_free(&p);
  free(b);
  return out;
}

TEST(stream_tool_calls_assembled) {
  static const size_t pieces[] = {7, 100000};
  size_t i;
  for (i = 0; i < 2; i++) {
    ASSERT_STREQ(stream_file(&lgw__transport_chat, "tests/c/data/"
                             "openai-node-6.49.0_chat.completions.create_"
                             "tools_stream.sse.txt", pieces[i]),
                 "|tool_calls|call_Vn3pS7wYc1MdQ6tXl8eZg2Jb get_weather "
                 "{\"city\":\"Paris\",\"unit\":\"c\"}");
    ASSERT_CONTAINS(stream_file(&lgw__transport_responses, "tests/c/data/"
                                "openai-node-6.49.0_responses.create_tools_"
                                "stream.sse.txt", pieces[i]),
                    "|tool_calls|call_");
    ASSERT_CONTAINS(stream_file(&lgw__transport_responses, "tests/c/data/"
                                "openai-node-6.49.0_responses.create_tools_"
                                "stream.sse.txt", pieces[i]),
                    " get_weather {\"city\":\"Paris\",\"unit\":\"c\"}");
    ASSERT_CONTAINS(stream_file(&lgw__transport_anthropic, "tests/c/data/"
                                "anthropic-sdk-1.12.0_messages.create_tools_"
                                "stream.sse.txt", pieces[i]),
                    "|tool_calls|toolu_");
    /* the pieces joined as sent */
    ASSERT_CONTAINS(stream_file(&lgw__transport_anthropic, "tests/c/data/"
                                "anthropic-sdk-1.12.0_messages.create_tools_"
                                "stream.sse.txt", pieces[i]),
                    " get_weather {\"city\": \"Paris\", \"unit\": \"c\"}");
  }
}

/* Pieces of the Responses stream alone (no completed event): assembled
 * by output index from the added item and the deltas. */
TEST(responses_stream_pieces) {
  lgw__stream_t s;
  lgw__reply_t r;
  lgw_error_t err;
  static const char *ev[] = {
    "{\"type\":\"response.output_item.added\",\"output_index\":1,\"item\":"
    "{\"type\":\"function_call\",\"call_id\":\"c9\",\"name\":\"f\","
    "\"arguments\":\"\"}}",
    "{\"type\":\"response.function_call_arguments.delta\",\"output_index\":1,"
    "\"delta\":\"{\\\"a\\\"\"}",
    "{\"type\":\"response.function_call_arguments.delta\",\"output_index\":1,"
    "\"delta\":\":1}\"}"};
  size_t i;
  lgw__stream_init(&s);
  memset(&r, 0, sizeof r);
  memset(&err, 0, sizeof err);
  for (i = 0; i < 3; i++)
    ASSERT_EQ(lgw__transport_responses.stream_event(&s, ev[i], strlen(ev[i]),
                                                    &err), 0);
  ASSERT_EQ(lgw__stream_take(&s, &r), 0);
  ASSERT_STREQ(reply_str(&r), "|-|c9 f {\"a\":1}");
  lgw__reply_free(&r);
  lgw__stream_free(&s);
}

/* ---- through a gateway: a server of canned answers -------------------------- */

static echo_canned_t canned;
static echo_t *canned_srv;
static int canned_port;

static void canned_set(const char *ctype, const char *b) {
  echo_canned_set(&canned, 1, ctype, b);
}

typedef struct out {
  int status, done;
  char text[512], finish[32], calls[1024], msg[1024], err[2048];
  size_t ncalls, natt;
  int att_code[4];
  char att_msg[4][512];
  char deltas[512];
  char tool_deltas[512];
} out_t;

static void on_done(lgw_gateway_t *gw, uint64_t id, int status,
                    const lgw_result_t *res, const lgw_error_t *err,
                    void *ud) {
  out_t *o = ud;
  size_t i, k = 0;
  (void)gw;
  (void)id;
  o->status = status;
  o->done = 1;
  gws_cp(o->err, sizeof o->err, err ? err->message : "");
  for (i = 0; i < res->nattempts && i < 4; i++) {
    o->att_code[i] = res->attempts[i].code;
    gws_cp(o->att_msg[i], sizeof o->att_msg[i], res->attempts[i].message);
  }
  o->natt = res->nattempts;
  if (status) return;
  gws_cp(o->text, sizeof o->text, res->text);
  gws_cp(o->finish, sizeof o->finish, res->finish_reason);
  o->ncalls = res->ntool_calls;
  for (i = 0; i < res->ntool_calls; i++)
    k += (size_t)snprintf(o->calls + k, sizeof o->calls - k, "%s%s %s %s",
                          i ? "|" : "", res->tool_calls[i].id,
                          res->tool_calls[i].name,
                          res->tool_calls[i].arguments_json);
  if (res->message)
    snprintf(o->msg, sizeof o->msg, "%s:%s:%zu:%s", res->message->role,
             res->message->content, res->message->ntool_calls,
             res->message->ntool_calls ? res->message->tool_calls[0].id : "");
}

static void on_delta(lgw_gateway_t *gw, uint64_t id, const char *text,
                     size_t len, void *ud) {
  out_t *o = ud;
  size_t k = strlen(o->deltas);
  (void)gw;
  (void)id;
  snprintf(o->deltas + k, sizeof o->deltas - k, "[%.*s]", (int)len, text);
}

static void on_tool_delta(lgw_gateway_t *gw, uint64_t id, size_t index,
                          const char *name, const char *piece, size_t len,
                          void *ud) {
  out_t *o = ud;
  size_t k = strlen(o->tool_deltas);
  (void)gw;
  (void)id;
  snprintf(o->tool_deltas + k, sizeof o->tool_deltas - k, "[%zu %s %.*s]",
           index, name, (int)len, piece);
}

static int run_req(lgw_runtime_t *rt, const lgw_request_t *req, out_t *o) {
  lgw_gateway_t *gw;
  lgw_gateway_options_t opts;
  lgw_request_t r = *req;
  int rc;
  memset(o, 0, sizeof *o);
  memset(&opts, 0, sizeof opts);
  opts.no_state = 1;
  if (!rt) return -100;
  if ((rc = lgw_gateway_new(rt, &opts, &gw, NULL)) != 0) {
    lgw_runtime_free(rt);
    return rc;
  }
  if (r.on_delta) r.delta_ud = o;
  if (r.on_tool_delta) r.tool_delta_ud = o;
  rc = lgw_gateway_submit(gw, &r, on_done, o, NULL, NULL);
  if (!rc) rc = lgw_gateway_run(gw);
  lgw_gateway_free(gw);
  lgw_runtime_free(rt);
  return rc;
}

#define PROVIDER(style)                                          \
  "  - provider_type: x\n    api_style: " style "\n"             \
  "    base_url: http://127.0.0.1:%d/v1\n    api_key: k\n"

static const char chat_tool_answer[] =
    "{\"choices\":[{\"index\":0,\"message\":{\"role\":\"assistant\","
    "\"content\":null,\"tool_calls\":[{\"id\":\"call_9\",\"type\":"
    "\"function\",\"function\":{\"name\":\"get_weather\",\"arguments\":"
    "\"{\\\"city\\\":\\\"Paris\\\"}\"}}]},\"finish_reason\":\"tool_calls\"}],"
    "\"usage\":{\"prompt_tokens\":5,\"completion_tokens\":6}}";

TEST(gateway_tool_call_answer) {
  lgw_request_t r;
  out_t o;
  memset(&r, 0, sizeof r);
  r.task = "t";
  r.messages = ask;
  r.nmessages = 2;
  r.tools = weather;
  r.ntools = 1;
  r.tool_choice = "auto";
  canned_set("application/json", chat_tool_answer);
  ASSERT_EQ(run_req(gws_load(GWS_SETTINGS("") "providers:\n"
                             PROVIDER("openai_chat"), canned_port), &r, &o),
            0);
  ASSERT_EQ(o.status, 0);
  ASSERT_STREQ(o.text, "");
  ASSERT_STREQ(o.finish, "tool_calls");
  ASSERT_STREQ(o.calls, "call_9 get_weather {\"city\":\"Paris\"}");
  ASSERT_STREQ(o.msg, "assistant::1:call_9");
  /* a streamed request answered by a whole JSON body: one piece a call */
  r.on_delta = on_delta;
  r.on_tool_delta = on_tool_delta;
  canned_set("application/json", chat_tool_answer);
  ASSERT_EQ(run_req(gws_load(GWS_SETTINGS("") "providers:\n"
                             PROVIDER("openai_chat"), canned_port), &r, &o),
            0);
  ASSERT_EQ(o.status, 0);
  ASSERT_STREQ(o.deltas, "");
  ASSERT_STREQ(o.tool_deltas, "[0 get_weather {\"city\":\"Paris\"}]");
  ASSERT_STREQ(canned.last_path, "/v1/chat/completions");
  ASSERT_CONTAINS(canned.last_body,
                  ",\"tools\":[{\"type\":\"function\",\"function\":{\"name\":"
                  "\"get_weather\",");
  ASSERT_CONTAINS(canned.last_body, "\"tool_choice\":\"auto\"}");
}

TEST(gateway_streamed_tool_call) {
  static const char sse[] =
      "data: {\"choices\":[{\"index\":0,\"delta\":{\"content\":\"Checking.\","
      "\"tool_calls\":[{\"index\":0,\"id\":\"call_5\",\"type\":\"function\","
      "\"function\":{\"name\":\"f\",\"arguments\":\"\"}}]}}]}\n\n"
      "data: {\"choices\":[{\"index\":0,\"delta\":{\"tool_calls\":[{\"index\":"
      "0,\"function\":{\"arguments\":\"{\\\"a\\\":\"}}]}}]}\n\n"
      "data: {\"choices\":[{\"index\":0,\"delta\":{\"tool_calls\":[{\"index\":"
      "1,\"id\":\"call_6\",\"function\":{\"name\":\"g\",\"arguments\":\"{}\"}},"
      "{\"index\":0,\"function\":{\"arguments\":\"1}\"}}]}}]}\n\n"
      "data: {\"choices\":[{\"index\":0,\"delta\":{},\"finish_reason\":"
      "\"tool_calls\"}]}\n\ndata: [DONE]\n\n";
  lgw_request_t r;
  out_t o;
  memset(&r, 0, sizeof r);
  r.task = "t";
  r.messages = ask;
  r.nmessages = 2;
  r.tools = weather;
  r.ntools = 1;
  r.on_delta = on_delta;
  r.on_tool_delta = on_tool_delta;
  canned_set("text/event-stream", sse);
  ASSERT_EQ(run_req(gws_load(GWS_SETTINGS("") "providers:\n"
                             PROVIDER("litellm"), canned_port), &r, &o),
            0);
  ASSERT_EQ(o.status, 0);
  ASSERT_STREQ(o.deltas, "[Checking.]");
  ASSERT_STREQ(o.tool_deltas, "[0 f ][0 f {\"a\":][0 f 1}][1 g {}]");
  ASSERT_STREQ(o.text, "Checking.");
  ASSERT_STREQ(o.calls, "call_5 f {\"a\":1}|call_6 g {}");
  ASSERT_STREQ(o.msg, "assistant:Checking.:2:call_5");
}

/* A part the first provider's API cannot take: that provider is skipped
 * with the reason (nothing sent to it), the next one answers. */
TEST(gateway_part_fails_over) {
  lgw_part_t parts[1];
  lgw_rich_message_t m[1];
  lgw_request_t r;
  out_t o;
  memset(parts, 0, sizeof parts);
  memset(m, 0, sizeof m);
  memset(&r, 0, sizeof r);
  parts[0].type = LGW_PART_FILE;
  parts[0].data = "a,b\n";
  parts[0].data_len = 4;
  parts[0].media_type = "text/csv";
  m[0].parts = parts;
  m[0].nparts = 1;
  r.task = "t";
  r.rich_messages = m;
  r.nrich_messages = 1;
  canned_set("application/json", chat_tool_answer);
  ASSERT_EQ(run_req(gws_load(GWS_SETTINGS("") "providers:\n"
                             PROVIDER("anthropic") PROVIDER("openai_chat"),
                             canned_port, canned_port), &r, &o), 0);
  ASSERT_EQ(o.status, 0);
  ASSERT_EQ(canned.served, 1);
  ASSERT_EQ(o.natt, 2);
  ASSERT_EQ(o.att_code[0], LGW_EINVAL);
  ASSERT_STREQ(o.att_msg[0], "message 1 part 1 (file text/csv): the "
               "Anthropic Messages API takes documents as application/pdf "
               "or text/plain");
  ASSERT_EQ(o.att_code[1], 0);
  ASSERT_CONTAINS(canned.last_body, "\"file_data\":\"data:text/csv;base64,"
                  "YSxiCg==\"");
  /* no provider can take it: invalid, each one's reason listed */
  canned_set("application/json", chat_tool_answer);
  ASSERT_EQ(run_req(gws_load(GWS_SETTINGS("") "providers:\n"
                             PROVIDER("anthropic"), canned_port), &r, &o),
            0);
  ASSERT_EQ(o.status, LGW_EINVAL);
  ASSERT_EQ(canned.served, 0);
  ASSERT_CONTAINS(o.err, "LLM request failed for task 't' across all "
                  "configured providers:\n- provider #1 (x, http://127.0.0.1:");
  ASSERT_CONTAINS(o.err, "/v1): message 1 part 1 (file text/csv): the "
                  "Anthropic Messages API takes documents as application/pdf "
                  "or text/plain");
}

/* The provider's extra_body, then the request's extra, on the wire; the
 * schema and parameters through the gateway. */
TEST(gateway_extras_and_schema) {
  static const char *const stop[] = {"END"};
  lgw_request_t r;
  out_t o;
  memset(&r, 0, sizeof r);
  r.task = "t";
  r.messages = assess;
  r.nmessages = 1;
  r.schema_json = VERDICT;
  r.stop = stop;
  r.nstop = 1;
  r.user = "u";
  r.extra_json = "{\"top_k\":5}";
  canned_set("application/json",
             "{\"content\":[{\"type\":\"text\",\"text\":\"{}\"}],"
             "\"stop_reason\":\"end_turn\"}");
  ASSERT_EQ(run_req(gws_load(GWS_SETTINGS("") "providers:\n"
                             PROVIDER("anthropic")
                             "    extra_body:\n      top_k: 3\n"
                             "      service_tier: auto\n", canned_port),
                    &r, &o), 0);
  ASSERT_EQ(o.status, 0);
  ASSERT_STREQ(o.text, "{}");
  ASSERT_STREQ(canned.last_body,
      "{\"model\":\"m1\",\"messages\":[{\"role\":\"user\",\"content\":"
      "\"Assess the risk of this change: set the log level of the billing "
      "service to debug.\"}],\"max_tokens\":4000,\"temperature\":0.0,"
      "\"output_config\":{\"format\":{\"type\":\"json_schema\",\"schema\":"
      VERDICT "}},\"stop_sequences\":[\"END\"],\"metadata\":{\"user_id\":"
      "\"u\"},\"service_tier\":\"auto\",\"top_k\":5}");
}

/* Everything in a request is copied at submit. */
TEST(gateway_copies_rich_request) {
  char text[16], id[16], args[32], params[64], tool_name[16];
  lgw_part_t parts[1];
  lgw_tool_call_t tc[1];
  lgw_tool_t tools[1];
  lgw_rich_message_t m[2];
  lgw_request_t r;
  lgw_runtime_t *rt;
  lgw_gateway_t *gw;
  lgw_gateway_options_t opts;
  out_t o;
  memset(parts, 0, sizeof parts);
  memset(m, 0, sizeof m);
  memset(&r, 0, sizeof r);
  memset(&o, 0, sizeof o);
  memset(&opts, 0, sizeof opts);
  opts.no_state = 1;
  strcpy(text, "look");
  strcpy(id, "c1");
  strcpy(args, "{\"q\":1}");
  strcpy(params, "{\"type\":\"object\"}");
  strcpy(tool_name, "f");
  parts[0].text = text;
  m[0].parts = parts;
  m[0].nparts = 1;
  tc[0].id = id;
  tc[0].name = tool_name;
  tc[0].arguments_json = args;
  m[1].role = "assistant";
  m[1].tool_calls = tc;
  m[1].ntool_calls = 1;
  tools[0].name = tool_name;
  tools[0].description = NULL;
  tools[0].parameters_json = params;
  tools[0].strict = 0;
  r.task = "t";
  r.rich_messages = m;
  r.nrich_messages = 2;
  r.tools = tools;
  r.ntools = 1;
  canned_set("application/json", chat_tool_answer);
  rt = gws_load(GWS_SETTINGS("") "providers:\n" PROVIDER("responses"),
                canned_port);
  ASSERT(rt != NULL);
  ASSERT_EQ(lgw_gateway_new(rt, &opts, &gw, NULL), 0);
  ASSERT_EQ(lgw_gateway_submit(gw, &r, on_done, &o, NULL, NULL), 0);
  memset(text, 'X', sizeof text - 1);
  memset(id, 'X', sizeof id - 1);
  memset(args, 'X', sizeof args - 1);
  memset(params, 'X', sizeof params - 1);
  memset(tool_name, 'X', sizeof tool_name - 1);
  memset(parts, 0, sizeof parts);
  ASSERT_EQ(lgw_gateway_run(gw), 0);
  lgw_gateway_free(gw);
  lgw_runtime_free(rt);
  ASSERT_STREQ(canned.last_path, "/v1/responses");
  ASSERT_STREQ(canned.last_body,
      "{\"model\":\"m1\",\"input\":[{\"role\":\"user\",\"content\":[{\"type\":"
      "\"input_text\",\"text\":\"look\"}]},{\"type\":\"function_call\","
      "\"call_id\":\"c1\",\"name\":\"f\",\"arguments\":\"{\\\"q\\\":1}\"}],"
      "\"max_output_tokens\":4000,\"temperature\":0.0,\"stream\":false,"
      "\"tools\":[{\"type\":\"function\",\"name\":\"f\",\"parameters\":"
      "{\"type\":\"object\"},\"strict\":false}]}");
}

/* ---- embeddings -------------------------------------------------------------- */

typedef struct eout {
  int status, done;
  size_t n, dim, natt;
  double v[4][4], first, last;
  char model[64], style[32], err[2048];
  long in_tok;
  int provider;
} eout_t;

static void on_embed(lgw_gateway_t *gw, uint64_t id, int status,
                     const lgw_embed_result_t *res, const lgw_error_t *err,
                     void *ud) {
  eout_t *o = ud;
  size_t i, j;
  (void)gw;
  (void)id;
  o->status = status;
  o->done = 1;
  o->natt = res->nattempts;
  gws_cp(o->err, sizeof o->err, err ? err->message : "");
  if (status) return;
  o->n = res->nvectors;
  o->dim = res->dim;
  for (i = 0; i < o->n && i < 4; i++)
    for (j = 0; j < o->dim && j < 4; j++) o->v[i][j] = res->vectors[i * o->dim + j];
  o->first = res->vectors[0];
  o->last = res->vectors[o->n * o->dim - 1];
  gws_cp(o->model, sizeof o->model, res->model);
  gws_cp(o->style, sizeof o->style, res->api_style);
  o->in_tok = res->usage.input_tokens;
  o->provider = res->provider_index;
}

static int run_embed(lgw_runtime_t *rt, const lgw_embed_request_t *req,
                     eout_t *o) {
  lgw_gateway_t *gw;
  lgw_gateway_options_t opts;
  int rc;
  memset(o, 0, sizeof *o);
  memset(&opts, 0, sizeof opts);
  opts.no_state = 1;
  if (!rt) return -100;
  if ((rc = lgw_gateway_new(rt, &opts, &gw, NULL)) != 0) {
    lgw_runtime_free(rt);
    return rc;
  }
  rc = lgw_gateway_embed(gw, req, on_embed, o, NULL, NULL);
  if (!rc) rc = lgw_gateway_run(gw);
  lgw_gateway_free(gw);
  lgw_runtime_free(rt);
  return rc;
}

static const char *const hello_world[] = {"hello", "world"};

/* An Anthropic provider has no embeddings endpoint: skipped with that
 * reason; the next one answers (rows by index). */
TEST(embed_floats_and_skip) {
  lgw_embed_request_t r;
  eout_t o;
  memset(&r, 0, sizeof r);
  r.task = "t";
  r.inputs = hello_world;
  r.ninputs = 2;
  r.model = "emb-1";
  r.dimensions = 3;
  canned_set("application/json",
             "{\"object\":\"list\",\"data\":[{\"object\":\"embedding\","
             "\"index\":1,\"embedding\":[4,5,6]},{\"object\":\"embedding\","
             "\"index\":0,\"embedding\":[1.5,-2,3e-1]}],\"model\":"
             "\"emb-1-v2\",\"usage\":{\"prompt_tokens\":2,"
             "\"total_tokens\":2}}");
  ASSERT_EQ(run_embed(gws_load(GWS_SETTINGS("") "providers:\n"
                               PROVIDER("anthropic") PROVIDER("litellm"),
                               canned_port, canned_port), &r, &o), 0);
  ASSERT_EQ(o.status, 0);
  ASSERT_STREQ(canned.last_path, "/v1/embeddings");
  ASSERT_STREQ(canned.last_body,
               "{\"model\":\"emb-1\",\"input\":[\"hello\",\"world\"],"
               "\"dimensions\":3,\"encoding_format\":\"float\"}");
  ASSERT_EQ(canned.served, 1);
  ASSERT_EQ(o.natt, 1);
  ASSERT_EQ(o.provider, 2);
  ASSERT_STREQ(o.style, "litellm");
  ASSERT_EQ(o.n, 2);
  ASSERT_EQ(o.dim, 3);
  ASSERT_DEQ(o.v[0][0], 1.5);
  ASSERT_DEQ(o.v[0][1], -2);
  ASSERT_DEQ(o.v[0][2], 0.3);
  ASSERT_DEQ(o.v[1][0], 4);
  ASSERT_DEQ(o.v[1][2], 6);
  ASSERT_STREQ(o.model, "emb-1-v2");
  ASSERT_EQ(o.in_tok, 2);
  /* a base that is a chat endpoint: its path replaced */
  canned_set("application/json",
             "{\"data\":[{\"embedding\":[1]},{\"embedding\":[2]}]}");
  ASSERT_EQ(run_embed(gws_load(GWS_SETTINGS("") "providers:\n"
                               "  - provider_type: x\n    api_style: "
                               "openai_chat\n    base_url: http://127.0.0.1:"
                               "%d/v1/chat/completions/?api-version=1\n",
                               canned_port), &r, &o), 0);
  ASSERT_EQ(o.status, 0);
  ASSERT_STREQ(canned.last_path, "/v1/embeddings?api-version=1");
  ASSERT_DEQ(o.v[1][0], 2);
  /* only Anthropic: nothing to try */
  ASSERT_EQ(run_embed(gws_load(GWS_SETTINGS("") "providers:\n"
                               PROVIDER("anthropic"), canned_port), &r, &o),
            0);
  ASSERT_EQ(o.status, LGW_EEXHAUSTED);
  ASSERT_CONTAINS(o.err, "/v1): Skipped: the x API (api_style anthropic) "
                  "has no embeddings endpoint.");
}

/* The base64 form the official SDK asks for by default is read too. */
TEST(embed_base64_answer) {
  char *b = slurp("tests/c/data/openai-node-6.49.0_embeddings.create."
                  "response.json");
  lgw_embed_request_t r;
  eout_t o;
  ASSERT(b != NULL);
  memset(&r, 0, sizeof r);
  r.inputs = hello_world;
  r.ninputs = 2;
  r.model = "text-embedding-3-small";
  canned_set("application/json", b);
  ASSERT_EQ(run_embed(gws_load(GWS_SETTINGS("") "providers:\n"
                               PROVIDER("responses"), canned_port), &r, &o),
            0);
  free(b);
  ASSERT_EQ(o.status, 0);
  ASSERT_EQ(o.n, 2);
  ASSERT_EQ(o.dim, 256);
  ASSERT_DEQ(o.first, (double)0.022600963711738586f);
  ASSERT_DEQ(o.last, (double)-0.03081965446472168f);
  ASSERT_STREQ(o.model, "text-embedding-3-small");
}

/* A malformed answer is retried like any other, then fails over. */
TEST(embed_malformed_retried) {
  lgw_embed_request_t r;
  eout_t o;
  memset(&r, 0, sizeof r);
  r.inputs = hello_world;
  r.ninputs = 2;
  r.model = "e";
  canned_set("application/json",
             "{\"data\":[{\"index\":0,\"embedding\":[1]}]}");
  ASSERT_EQ(run_embed(gws_load(GWS_SETTINGS("") "providers:\n"
                               PROVIDER("openai_chat"), canned_port), &r,
                      &o), 0);
  ASSERT_EQ(o.status, LGW_ERESPONSE);
  ASSERT_EQ(o.natt, 3);
  ASSERT_EQ(canned.served, 3);
  ASSERT_CONTAINS(o.err, "/v1/embeddings: expected 2 embeddings in "
                  "\"data\", got 1");
  r.ninputs = 0;
  ASSERT_EQ(run_embed(gws_load(GWS_SETTINGS("") "providers:\n"
                               PROVIDER("openai_chat"), canned_port), &r,
                      &o), LGW_EINVAL);
}

int main(void) {
  lgw_set_log(gws_quiet_log, NULL, LGW_LOG_ERROR);
  RUN(base64_padding);
  RUN(base64_png_as_the_sdk_sends_it);
  RUN(chat_tools_body);
  RUN(chat_tool_result_body_matches_sdk);
  RUN(chat_image_parts_match_sdk);
  RUN(chat_file_detail_and_name);
  RUN(chat_system_parts_text_only);
  RUN(chat_tool_choice_forms);
  RUN(tool_definition_errors);
  RUN(tool_and_tool_call_errors_every_api);
  RUN(tool_calls_only_on_assistant);
  RUN(tool_role_without_id_unchanged);
  RUN(responses_tools_body);
  RUN(responses_tool_result_body_matches_sdk);
  RUN(responses_image_and_file_parts);
  RUN(responses_system_parts_and_assistant_parts);
  RUN(anthropic_tools_body_matches_sdk);
  RUN(anthropic_tool_result_body_matches_sdk);
  RUN(anthropic_tool_results_merged);
  RUN(anthropic_bad_arguments);
  RUN(anthropic_image_and_document_blocks);
  RUN(anthropic_tool_choice_forms);
  RUN(schema_bodies_match_sdk);
  RUN(common_parameters_per_api);
  RUN(extra_merged_last);
  RUN(config_extra_body);
  RUN(parse_tool_calls);
  RUN(stream_tool_calls_assembled);
  RUN(responses_stream_pieces);
  canned_srv = echo_start(echo_canned, &canned);
  if (canned_srv) {
    canned_port = echo_port(canned_srv);
    RUN(gateway_tool_call_answer);
    RUN(gateway_streamed_tool_call);
    RUN(gateway_part_fails_over);
    RUN(gateway_copies_rich_request);
    RUN(gateway_extras_and_schema);
    RUN(embed_floats_and_skip);
    RUN(embed_base64_answer);
    RUN(embed_malformed_retried);
    echo_stop(canned_srv);
  } else {
    fprintf(stderr, "cannot start the canned server\n");
    test__failed++;
  }
  return TEST_SUMMARY();
}
