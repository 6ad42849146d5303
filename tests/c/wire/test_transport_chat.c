/*
 * test_transport_chat.c -- the Chat Completions transport: URLs, exact
 * request bodies and roles, text and usage from answers and SSE bodies,
 * the in-place reader against cJSON, answers not streamed (refusals,
 * choice 0, finish reasons, NUL) and stream events.
 */
#include "test.h"
#include "transport.h"
#include "wire_support.h"

#define CHOICE(c) "{\"choices\":[{\"message\":{\"content\":" c "}}]}"

TEST(chat_urls) {
  const lgw__transport_t *t = &lgw__transport_chat;
  ASSERT_STREQ(wire_url(t, "https://api.openai.com/v1/chat/completions"),
               "https://api.openai.com/v1/chat/completions");
  ASSERT_STREQ(wire_url(t, "https://api.openai.com/v1/chat/completions/"),
               "https://api.openai.com/v1/chat/completions");
  ASSERT_STREQ(wire_url(t, "https://api.openai.com/v1"),
               "https://api.openai.com/v1/chat/completions");
  ASSERT_STREQ(wire_url(t, "https://api.openai.com"),
               "https://api.openai.com/v1/chat/completions");
  ASSERT_STREQ(wire_url(t, "https://openrouter.ai/api"),
               "https://openrouter.ai/api/v1/chat/completions");
}

TEST(chat_body_golden) {
  lgw__call_t c = wire_call(wire_history, WIRE_NMSG(wire_history), "gpt-4o");
  c.reasoning_effort = "high";
  c.temperature = 0.7;
  c.max_tokens = 512;
  ASSERT_STREQ(wire_body(&lgw__transport_chat, &c),
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
  ASSERT_STREQ(wire_body(&lgw__transport_chat, &c),
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
  lgw__call_t c = wire_call(m, WIRE_NMSG(m), "m");
  ASSERT_STREQ(wire_body(&lgw__transport_chat, &c),
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
  lgw__call_t c = wire_call(m, WIRE_NMSG(m), "m");
  ASSERT_STREQ(wire_body(&lgw__transport_chat, &c),
               "{\"model\":\"m\",\"messages\":["
               "{\"role\":\"system\",\"content\":\"s\"},"
               "{\"role\":\"user\",\"content\":\"u\"},"
               "{\"role\":\"assistant\",\"content\":\"a\"},"
               "{\"role\":\"developer\",\"content\":\"d\"},"
               "{\"role\":\"user\",\"content\":\"b\"}],"
               "\"max_completion_tokens\":4000,\"temperature\":0.0,"
               "\"stream\":false}");
}

TEST(chat_extract) {
  const lgw__transport_t *t = &lgw__transport_chat;
  ASSERT_STREQ(wire_parse(t, CHOICE("\"hello\"")), "hello");
  ASSERT_STREQ(wire_parse(t, CHOICE("[\"a\",{\"type\":\"text\",\"text\":\"b\"},"
                                    "{\"type\":\"image\"},\"\"]")),
               "a\nb");
  ASSERT_STREQ(wire_parse(t, CHOICE("null")), "");
  ASSERT_STREQ(wire_parse(t, CHOICE("5")), "5");
  ASSERT_STREQ(wire_parse(t, CHOICE("1.5")), "1.5");
  ASSERT_STREQ(wire_parse(t, CHOICE("0")), "");
  ASSERT_STREQ(wire_parse(t, CHOICE("true")), "True");
  ASSERT_STREQ(wire_parse(t, CHOICE("false")), "");
  /* the Python library returns a repr here; we return no text */
  ASSERT_STREQ(wire_parse(t, CHOICE("[{\"type\":\"image\"}]")), "");
  ASSERT_STREQ(wire_parse(t, CHOICE("{\"a\":1}")), "");
  ASSERT_STREQ(wire_parse(t, "{\"choices\":[]}"), "");
  ASSERT_STREQ(wire_parse(t, "{\"choices\":[\"x\"]}"), "");
  ASSERT_STREQ(wire_parse(t, "{\"choices\":{\"message\":{}}}"), "");
  ASSERT_STREQ(wire_parse(t, "{\"choices\":[{\"message\":\"hi\"}]}"), "");
  ASSERT_STREQ(wire_parse(t, "{\"choices\":[{\"message\":{}}]}"), "");
  ASSERT_STREQ(wire_parse(t, "[]"), "");
}

TEST(chat_usage_and_sse) {
  const lgw__transport_t *t = &lgw__transport_chat;
  ASSERT_STREQ(wire_parse(t, "{\"choices\":[{\"message\":{\"content\":\"x\"}}],"
                             "\"usage\":{\"prompt_tokens\":9,"
                             "\"completion_tokens\":4}}"),
               "x");
  ASSERT_EQ(wire_in_tok, 9);
  ASSERT_EQ(wire_out_tok, 4);
  ASSERT_STREQ(wire_parse(t,
      "data: {\"object\":\"chat.completion.chunk\","
      "\"choices\":[{\"delta\":{\"content\":\"A\"}}]}\n\n"
      "data: {\"object\":\"chat.completion.chunk\","
      "\"choices\":[{\"delta\":{\"content\":\"B\"}}]}\n\n"
      "data: {\"object\":\"chat.completion.chunk\","
      "\"choices\":[],\"usage\":{\"prompt_tokens\":2,"
      "\"completion_tokens\":2}}\n\ndata: [DONE]\n\n"),
      "AB");
  ASSERT_EQ(wire_in_tok, 2);
  ASSERT_EQ(wire_out_tok, 2);
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

/* Answers of every shape read in one pass give exactly what the cJSON
 * tree gives: each field, the tool calls and the error. */
static const char *const chat_corpus[] = {
  /* the usual answer, and the same with its keys in other orders */
  "{\"id\":\"chatcmpl-1\",\"object\":\"chat.completion\",\"created\":1,"
  "\"model\":\"m\",\"choices\":[{\"index\":0,\"message\":{\"role\":"
  "\"assistant\",\"content\":\"The quick brown fox jumps over the lazy dog."
  "\",\"refusal\":null,\"annotations\":[]},\"logprobs\":null,"
  "\"finish_reason\":\"stop\"}],\"usage\":{\"prompt_tokens\":12,"
  "\"completion_tokens\":10,\"total_tokens\":22,\"prompt_tokens_details\":"
  "{\"cached_tokens\":0,\"audio_tokens\":0},\"completion_tokens_details\":"
  "{\"reasoning_tokens\":5,\"audio_tokens\":0}},\"system_fingerprint\":null}",
  "{\"usage\":{\"completion_tokens_details\":{\"reasoning_tokens\":2},"
  "\"completion_tokens\":3,\"prompt_tokens\":4},\"choices\":[{"
  "\"finish_reason\":\"length\",\"message\":{\"content\":\"cut\",\"role\":"
  "\"assistant\"},\"index\":0}],\"id\":\"x\"}",
  /* escapes of every kind, long strings, raw UTF-8 */
  "{\"choices\":[{\"message\":{\"content\":\"tab\\there \\\"q\\\" \\\\ \\/ "
  "\\b\\f\\r\\n \\u00e9\\u20AC\\ud83d\\ude00 \xe2\x82\xac and a longer run "
  "of plain text to cross eight-byte words\"}}]}",
  "{\"choices\":[{\"message\":{\"content\":\"\\u0000lead, mid\\u0000, "
  "\xc0 byte\"}}]}",
  "{\"choices\":[{\"message\":{\"content\":\"ab\\u0000cd\"}}],"
  "\"usage\":{\"prompt_tokens\":1}}",
  /* keys with escapes, before and after the wanted ones, at each level */
  "{\"\\u0063hoices\":[{\"message\":{\"content\":\"k\"}}]}",
  "{\"choices\":[{\"message\":{\"cont\\u0065nt\":\"k\",\"content\":\"j\"}}]}",
  "{\"choices\":[{\"message\":{\"content\":\"k\"}}],\"x\\n\":1}",
  "{\"choices\":[{\"message\":{\"content\":\"k\"},\"f\\\"\":2}],"
  "\"usage\":{\"prompt_tokens\":3,\"a\\\\b\":4}}",
  /* duplicate keys: the first one counts, whatever its type */
  "{\"choices\":[{\"message\":{\"content\":\"first\"}}],\"choices\":[{"
  "\"message\":{\"content\":\"second\"}}]}",
  "{\"choices\":null,\"choices\":[{\"message\":{\"content\":\"x\"}}]}",
  "{\"choices\":[{\"message\":{\"content\":\"a\"},\"message\":{\"content\":"
  "\"b\"},\"finish_reason\":\"stop\",\"finish_reason\":\"length\"}]}",
  "{\"choices\":[{\"message\":{\"content\":\"a\"}}],\"usage\":{"
  "\"prompt_tokens\":1,\"prompt_tokens\":2},\"usage\":{\"prompt_tokens\":3}}",
  "{\"choices\":[{\"message\":{\"content\":\"a\"}}],\"usage\":{"
  "\"prompt_tokens_details\":{\"cached_tokens\":1,\"cached_tokens\":2},"
  "\"prompt_tokens_details\":{\"cached_tokens\":3}}}",
  /* nulls and other types where objects, strings or numbers are wanted */
  "{\"choices\":[{\"message\":{\"content\":null}}]}",
  "{\"choices\":[{\"message\":null}]}",
  "{\"choices\":[null,{\"message\":{\"content\":\"second\"}}]}",
  "{\"choices\":[{\"message\":[{\"content\":\"in an array\"}]}]}",
  "{\"choices\":{\"message\":{\"content\":\"not an array\"}}}",
  "{\"choices\":[{\"message\":{\"content\":\"x\"},\"finish_reason\":null}],"
  "\"usage\":null}",
  "{\"choices\":[{\"message\":{\"content\":\"x\"},\"finish_reason\":7}],"
  "\"usage\":{\"prompt_tokens\":null,\"completion_tokens\":\"2\","
  "\"prompt_tokens_details\":null,\"completion_tokens_details\":[]}}",
  "{\"choices\":[{\"message\":{\"content\":\"x\"},\"finish_reason\":"
  "\"st\\u006fp\"}]}",
  "{\"choices\":[{\"message\":{\"content\":\"x\"},\"finish_reason\":"
  "\"a_finish_reason_longer_than_thirty_two_bytes\"}]}",
  "{\"choices\":[{\"message\":{\"content\":\"x\"},\"finish_reason\":"
  "\"content_filter\"}]}",
  /* numbers */
  "{\"choices\":[{\"message\":{\"content\":\"x\"}}],\"usage\":{"
  "\"prompt_tokens\":1.5,\"completion_tokens\":1e2,\"prompt_tokens_details\":"
  "{\"cached_tokens\":-1},\"completion_tokens_details\":{"
  "\"reasoning_tokens\":123456789012345678}}}",
  "{\"choices\":[{\"message\":{\"content\":\"x\"}}],\"usage\":{"
  "\"prompt_tokens\":0,\"completion_tokens\":-0,\"total_tokens\":1E400}}",
  /* choice index */
  "{\"choices\":[{\"index\":1,\"message\":{\"content\":\"one\"}},{\"index\":"
  "0,\"message\":{\"content\":\"zero\"}}]}",
  "{\"choices\":[{\"index\":0.0,\"message\":{\"content\":\"z\"}}]}",
  "{\"choices\":[{\"index\":null,\"message\":{\"content\":\"z\"}}]}",
  /* missing usage, missing choices, empty things */
  "{\"choices\":[{\"message\":{\"content\":\"no usage\"}}]}",
  "{\"choices\":[]}", "{}", "[]", "\"s\"", "3", "null",
  "{\"choices\":[{}]}",
  "{\"choices\":[{\"message\":{}}]}",
  "{\"choices\":[{\"message\":{\"content\":\"\"}}]}",
  "{\"choices\":[{\"message\":{\"content\":\" \\n\\t \"}}]}",
  /* other content: parts, scalars */
  "{\"choices\":[{\"message\":{\"content\":[{\"type\":\"text\",\"text\":"
  "\"a\"},\"b\"]}}]}",
  "{\"choices\":[{\"message\":{\"content\":true}}]}",
  "{\"choices\":[{\"message\":{\"content\":2.5}}]}",
  /* refusal, tool calls */
  "{\"choices\":[{\"message\":{\"content\":null,\"refusal\":\"No.\"},"
  "\"finish_reason\":\"stop\"}]}",
  "{\"choices\":[{\"message\":{\"content\":\"partly\",\"refusal\":\"\"}}]}",
  "{\"choices\":[{\"message\":{\"content\":null,\"tool_calls\":[{\"id\":"
  "\"c1\",\"type\":\"function\",\"function\":{\"name\":\"f\",\"arguments\":"
  "\"{\\\"a\\\":1}\"}}]},\"finish_reason\":\"tool_calls\"}]}",
  "{\"choices\":[{\"message\":{\"content\":\"t\",\"tool_calls\":[]}}]}",
  "{\"choices\":[{\"message\":{\"content\":\"t\",\"tool_calls\":null}}]}",
  /* error bodies with 2xx */
  "{\"error\":{\"message\":\"Rate limited\",\"type\":\"rate_limit_error\","
  "\"code\":\"rate_limit_exceeded\"}}",
  "{\"choices\":[{\"message\":{\"content\":\"\"}}],\"error\":{\"message\":"
  "\"bad\",\"type\":\"invalid_request_error\"}}",
  "{\"choices\":[{\"message\":{\"content\":\"text wins\"}}],\"error\":{"
  "\"message\":\"bad\",\"type\":\"server_error\"}}",
  /* whitespace everywhere, deep nesting elsewhere */
  " \r\n{ \"choices\" : [ { \"message\" : { \"content\" : \"w\" } , "
  "\"finish_reason\" : \"stop\" } ] , \"usage\" : { \"prompt_tokens\" : 7 , "
  "\"completion_tokens\" : 8 } } \t",
  "{\"x\":[[[[[[{\"a\":[{\"b\":{}}]}]]]]]],\"choices\":[{\"message\":{"
  "\"content\":\"n\",\"extra\":{\"choices\":[{\"message\":{\"content\":"
  "\"inner\"}}]}}}]}",
  /* not JSON, or not what cJSON reads */
  "{\"choices\":[}", "{\"choices\":[{\"message\":{\"content\":\"\\ud800\"}}]}",
  "{\"choices\":[{\"message\":{\"content\":\"\\x\"}}]}",
  "{\"choices\":[{\"message\":{\"content\":\"raw\ttab\"}}]}",
  "{\"choices\":[{\"message\":{\"content\":01}}]}", "{\"a\":1} x", "",
  "{\"choices\":[{\"message\":{\"content\":\"unterminated}}]}",
  "\xef\xbb\xbf{\"choices\":[{\"message\":{\"content\":\"bom\"}}]}",
};

/* A Chat answer larger than LGW__IN_PLACE_MAX whose text is escaped
 * JSON, as in the big answers of the benchmark. */
static char *big_chat_answer(void) {
  lgw__buf_t b;
  size_t i;
  lgw__buf_init(&b);
  lgw__buf_adds(&b, "{\"id\":\"big\",\"choices\":[{\"index\":0,\"message\""
                    ":{\"role\":\"assistant\",\"content\":\"[");
  for (i = 0; b.len < 3 * LGW__IN_PLACE_MAX; i++)
    lgw__buf_printf(&b, "%s{\\\"k\\\":%zu,\\\"s\\\":\\\"caf\\u00e9 "
                    "\\\\n\\\"}", i ? "," : "", i);
  lgw__buf_adds(&b, "]\"},\"finish_reason\":\"length\"}],\"usage\":{"
                    "\"prompt_tokens\":5,\"completion_tokens\":70000}}");
  return lgw__buf_steal(&b);
}

TEST(chat_one_pass_matches_tree) {
  char *big = big_chat_answer();
  size_t i;
  ASSERT_STREQ(wire_parse_diff(&lgw__transport_chat, big), "");
  ASSERT_EQ(strncmp(wire_reply_line(&lgw__transport_chat, big),
                    "text=[{\"k\":0,\"s\":\"caf\xc3\xa9 \\n\"},{\"k\":1,", 31),
            0);
  lgw_free(big);
  for (i = 0; i < sizeof chat_corpus / sizeof chat_corpus[0]; i++) {
    const char *d = wire_parse_diff(&lgw__transport_chat, chat_corpus[i]);
    if (*d) fprintf(stderr, "corpus %zu: %s\n", i, d);
    ASSERT_STREQ(d, "");
  }
}

TEST(chat_answers_not_streamed) {
  /* refusal (in place and cJSON paths agree), choice 0, finish */
  ASSERT_STREQ(wire_reply_line(&lgw__transport_chat,
      "{\"choices\":[{\"index\":0,\"message\":{\"content\":null,"
      "\"refusal\":\"No.\"},\"finish_reason\":\"stop\"}]}"),
      "text= finish=stop refusal=No. usage=-1/-1/-1/-1");
  ASSERT_STREQ(wire_reply_line(&lgw__transport_chat,
      "{\"choices\":[{\"index\":0,\"message\":{\"content\":\"a\","
      "\"refusal\":null},\"finish_reason\":\"length\"}],\"usage\":"
      "{\"prompt_tokens\":1,\"completion_tokens\":2}}"),
      "text=a finish=length refusal=- usage=1/2/-1/-1");
  ASSERT_STREQ(wire_reply_line(&lgw__transport_chat,
      "{\"choices\":[{\"index\":1,\"message\":{\"content\":\"B\"}},"
      "{\"index\":0,\"message\":{\"content\":\"A\"},"
      "\"finish_reason\":\"tool_calls\"}]}"),
      "text=A finish=tool_calls refusal=- usage=-1/-1/-1/-1");
  ASSERT_STREQ(wire_reply_line(&lgw__transport_chat,
      "{\"choices\":[{\"message\":{\"content\":\"x\"},"
      "\"finish_reason\":\"weird\"}]}"),
      "text=x finish=- refusal=- usage=-1/-1/-1/-1");
  /* U+0000 kept; an escaped backslash before u0000 is text; raw C0 bytes
   * pass through */
  ASSERT_STREQ(wire_reply_line(&lgw__transport_chat,
      "{\"choices\":[{\"message\":{\"content\":\"he\\u0000llo\"}}]}"),
      "text=he\\0llo finish=- refusal=- usage=-1/-1/-1/-1");
  ASSERT_STREQ(wire_reply_line(&lgw__transport_chat,
      "{\"choices\":[{\"message\":{\"content\":[{\"type\":\"text\","
      "\"text\":\"\\\\u0000\\u0000\xC0\x80\xC0\"}]}}]}"),
      "text=\\u0000\\0\xC0\x80\xC0 finish=- refusal=- usage=-1/-1/-1/-1");
}

TEST(stream_chat_events) {
  wire_feed_t f;
  lgw__reply_t r;
  wire_fold(&lgw__transport_chat, &f,
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
}

int main(void) {
  RUN(chat_urls);
  RUN(chat_body_golden);
  RUN(chat_body_roles_as_given);
  RUN(chat_body_known_roles_canonical);
  RUN(chat_extract);
  RUN(chat_usage_and_sse);
  RUN(chat_in_place_matches_cjson);
  RUN(chat_one_pass_matches_tree);
  RUN(chat_answers_not_streamed);
  RUN(stream_chat_events);
  return TEST_SUMMARY();
}
