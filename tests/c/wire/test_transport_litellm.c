/*
 * test_transport_litellm.c -- the LiteLLM transport (Chat Completions with
 * max_tokens): URLs, exact request bodies and roles, text and usage, and
 * an error event in a stream.
 */
#include "test.h"
#include "transport.h"
#include "wire_support.h"

#define CHOICE(c) "{\"choices\":[{\"message\":{\"content\":" c "}}]}"

TEST(litellm_urls) {
  const lgw__transport_t *t = &lgw__transport_litellm;
  ASSERT_STREQ(wire_url(t, "http://localhost:4000"),
               "http://localhost:4000/v1/chat/completions");
  ASSERT_STREQ(wire_url(t, "http://localhost:4000/v1/"),
               "http://localhost:4000/v1/chat/completions");
}

TEST(litellm_body_golden) {
  lgw__call_t c = wire_call(wire_history, WIRE_NMSG(wire_history),
                            "anthropic/claude-x");
  c.reasoning_effort = "high";
  c.temperature = 0.7;
  c.max_tokens = 512;
  ASSERT_STREQ(wire_body(&lgw__transport_litellm, &c),
               "{\"model\":\"anthropic/claude-x\",\"messages\":["
               "{\"role\":\"system\",\"content\":\"Be brief.\"},"
               "{\"role\":\"user\",\"content\":\"Hi\"},"
               "{\"role\":\"assistant\",\"content\":\"Hello!\"},"
               "{\"role\":\"user\",\"content\":\"Say \\\"ok\\\"\\n\"}],"
               "\"max_tokens\":512,\"temperature\":0.7,\"stream\":false}");
}

/* As on Chat Completions, known roles are normalised. */
TEST(litellm_body_known_roles_canonical) {
  static const lgw_message_t m[] = {
    {" System ", "s"}, {"USER", "u"}, {"Assistant", "a"}, {"developer ", "d"},
    {"  ", "b"}};
  lgw__call_t c = wire_call(m, WIRE_NMSG(m), "m");
  ASSERT_STREQ(wire_body(&lgw__transport_litellm, &c),
               "{\"model\":\"m\",\"messages\":["
               "{\"role\":\"system\",\"content\":\"s\"},"
               "{\"role\":\"user\",\"content\":\"u\"},"
               "{\"role\":\"assistant\",\"content\":\"a\"},"
               "{\"role\":\"developer\",\"content\":\"d\"},"
               "{\"role\":\"user\",\"content\":\"b\"}],"
               "\"max_tokens\":4000,\"temperature\":0.0,"
               "\"stream\":false}");
}

TEST(litellm_extract) {
  const lgw__transport_t *t = &lgw__transport_litellm;
  ASSERT_STREQ(wire_parse(t, CHOICE("\"  as is \"")), "  as is ");
  ASSERT_STREQ(wire_parse(t, CHOICE("\"\"")), "");
  ASSERT_STREQ(wire_parse(t, CHOICE("[{\"text\":\"p1\"},\"p2\"]")), "p1\np2");
  ASSERT_STREQ(wire_parse(t, CHOICE("5")), "");
  ASSERT_STREQ(wire_parse(t, "{\"choices\":[{\"message\":{\"content\":\"x\"}}],"
                             "\"usage\":{\"prompt_tokens\":1,"
                             "\"completion_tokens\":2}}"),
               "x");
  ASSERT_EQ(wire_in_tok, 1);
  ASSERT_EQ(wire_out_tok, 2);
}

TEST(stream_litellm_error_event) {
  wire_feed_t f;
  wire_fold(&lgw__transport_litellm, &f,
        "{\"choices\":[{\"delta\":{\"content\":\"a\"}}]}\n"
        "{\"error\":{\"message\":\"slow down\",\"type\":\"rate_limit_error\","
        "\"code\":\"rate_limit_exceeded\"}}");
  ASSERT_EQ(f.rc, LGW_EHTTP);
  ASSERT_EQ(f.status, 429);
  ASSERT_STREQ(f.err, "rate_limit_error: slow down");
  ASSERT_EQ(f.s.done, 0);
  lgw__stream_free(&f.s);
}

int main(void) {
  RUN(litellm_urls);
  RUN(litellm_body_golden);
  RUN(litellm_body_known_roles_canonical);
  RUN(litellm_extract);
  RUN(stream_litellm_error_event);
  return TEST_SUMMARY();
}
