/*
 * test_sim.c -- llmgateway-sim over real loopback HTTP (libcurl): exact
 * answers per wire format, usage counts, every fault directive (mid-stream
 * cuts, stalls and error events included), times
 * counters, stats and reset, script files, and concurrency (peak count,
 * 2,000 delayed connections at once).
 */
#include <curl/curl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "sim_support.h"
#include "test.h"

static sim_t g_sim;

typedef struct resp {
  CURLcode rc;
  long status;
  char *body;
  size_t len, cap;
  char *headers;  /* raw header block */
  size_t hlen, hcap;
  double ms;      /* wall time of the exchange */
} resp_t;

/* Upper time bounds stretch under valgrind and AddressSanitizer. */
static double slack(void) {
  const char *p = getenv("LD_PRELOAD");
  if (p && strstr(p, "vgpreload")) return 4.0;
#if defined(__SANITIZE_ADDRESS__)
  return 2.0;
#else
  return 1.0;
#endif
}

static double now_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

/* Appends with geometric growth (large bodies arrive in many pieces). */
static size_t grow(char **data, size_t *len, size_t *cap, const char *p,
                   size_t n) {
  if (*len + n + 1 > *cap) {
    size_t c = (*len + n + 1) * 2;
    char *g = realloc(*data, c);
    if (!g) return 0;
    *data = g;
    *cap = c;
  }
  memcpy(*data + *len, p, n);
  *len += n;
  (*data)[*len] = '\0';
  return n;
}

static size_t on_body(char *p, size_t size, size_t n, void *ud) {
  resp_t *r = ud;
  return grow(&r->body, &r->len, &r->cap, p, size * n);
}

static size_t on_header(char *p, size_t size, size_t n, void *ud) {
  resp_t *r = ud;
  return grow(&r->headers, &r->hlen, &r->hcap, p, size * n);
}

static void resp_free(resp_t *r) {
  free(r->body);
  free(r->headers);
  memset(r, 0, sizeof *r);
}

/* Sets up a POST of body to base+path with an optional x-sim header. */
static CURL *make_post(const sim_t *s, const char *path, const char *body,
                       const char *xsim, long timeout_ms, resp_t *r,
                       struct curl_slist **hdrs, char *url, size_t urlcap) {
  CURL *c = curl_easy_init();
  char h[512];
  memset(r, 0, sizeof *r);
  snprintf(url, urlcap, "%s%s", s->base, path);
  *hdrs = curl_slist_append(NULL, "content-type: application/json");
  if (xsim) {
    snprintf(h, sizeof h, "x-sim: %s", xsim);
    *hdrs = curl_slist_append(*hdrs, h);
  }
  curl_easy_setopt(c, CURLOPT_URL, url);
  curl_easy_setopt(c, CURLOPT_POSTFIELDS, body);
  curl_easy_setopt(c, CURLOPT_HTTPHEADER, *hdrs);
  curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_body);
  curl_easy_setopt(c, CURLOPT_WRITEDATA, r);
  curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, on_header);
  curl_easy_setopt(c, CURLOPT_HEADERDATA, r);
  curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, timeout_ms);
  curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(c, CURLOPT_PRIVATE, r);
  return c;
}

static resp_t post_to(const sim_t *s, const char *path, const char *body,
                      const char *xsim, long timeout_ms) {
  resp_t r;
  struct curl_slist *hdrs;
  char url[256];
  CURL *c = make_post(s, path, body, xsim, timeout_ms, &r, &hdrs, url,
                      sizeof url);
  double t0 = now_ms();
  r.rc = curl_easy_perform(c);
  r.ms = now_ms() - t0;
  curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &r.status);
  curl_easy_cleanup(c);
  curl_slist_free_all(hdrs);
  return r;
}

static resp_t post(const char *path, const char *body, const char *xsim) {
  return post_to(&g_sim, path, body, xsim, 10000);
}

/* A user message in each format. */
static char *chat_body(const char *model, const char *user) {
  static char buf[4096];
  snprintf(buf, sizeof buf,
           "{\"model\":\"%s\",\"messages\":[{\"role\":\"user\","
           "\"content\":\"%s\"}]}", model, user);
  return buf;
}

#define HI "{\"model\":\"m\",\"messages\":[{\"role\":\"user\"," \
           "\"content\":\"hi there\"}]}"
#define HI_RESP "{\"model\":\"m\",\"input\":\"hi there\"}"

static const char hi_chat[] =
    "{\"id\":\"chatcmpl-sim\",\"object\":\"chat.completion\",\"created\":0,"
    "\"model\":\"m\",\"choices\":[{\"index\":0,\"message\":{\"role\":"
    "\"assistant\",\"content\":\"echo(m): hi there\"},\"finish_reason\":"
    "\"stop\"}],\"usage\":{\"prompt_tokens\":2,\"completion_tokens\":3,"
    "\"total_tokens\":5}}";
static const char hi_anthropic[] =
    "{\"id\":\"msg_sim\",\"type\":\"message\",\"role\":\"assistant\","
    "\"model\":\"m\",\"content\":[{\"type\":\"text\",\"text\":"
    "\"echo(m): hi there\"}],\"stop_reason\":\"end_turn\",\"usage\":"
    "{\"input_tokens\":2,\"output_tokens\":3}}";
static const char hi_responses[] =
    "{\"id\":\"resp_sim\",\"object\":\"response\",\"status\":\"completed\","
    "\"model\":\"m\",\"output\":[{\"type\":\"message\",\"id\":\"msg_sim\","
    "\"status\":\"completed\",\"role\":\"assistant\",\"content\":[{\"type\":"
    "\"output_text\",\"text\":\"echo(m): hi there\",\"annotations\":[]}]}],"
    "\"usage\":{\"input_tokens\":2,\"output_tokens\":3,\"total_tokens\":5}}";

/* ---- answers ------------------------------------------------------------ */

TEST(answer_responses_exact) {
  resp_t r = post("/v1/responses",
                  "{\"model\":\"gpt-x\",\"instructions\":\"Be brief.\","
                  "\"input\":[{\"role\":\"user\",\"content\":\"first one\"},"
                  "{\"role\":\"assistant\",\"content\":\"ok\"},"
                  "{\"type\":\"message\",\"role\":\"user\",\"content\":"
                  "[{\"type\":\"input_text\",\"text\":\"  what is\"},"
                  "{\"type\":\"input_text\",\"text\":\"2+2?  \"}]}]}",
                  NULL);
  ASSERT_EQ(r.rc, CURLE_OK);
  ASSERT_EQ(r.status, 200);
  ASSERT_CONTAINS(r.headers, "content-type: application/json");
  ASSERT_STREQ(r.body,
               "{\"id\":\"resp_sim\",\"object\":\"response\",\"status\":"
               "\"completed\",\"model\":\"gpt-x\",\"output\":[{\"type\":"
               "\"message\",\"id\":\"msg_sim\",\"status\":\"completed\","
               "\"role\":\"assistant\",\"content\":[{\"type\":\"output_text\","
               "\"text\":\"echo(gpt-x): what is\\n2+2?\",\"annotations\":[]}]}"
               "],\"usage\":{\"input_tokens\":8,\"output_tokens\":4,"
               "\"total_tokens\":12}}");
  resp_free(&r);
}

TEST(answer_responses_string_input) {
  resp_t r = post("/responses", HI_RESP, NULL);
  ASSERT_EQ(r.status, 200);
  ASSERT_STREQ(r.body, hi_responses);
  resp_free(&r);
}

TEST(answer_chat_exact) {
  resp_t r = post("/v1/chat/completions",
                  "{\"model\":\"m\",\"messages\":[{\"role\":\"system\","
                  "\"content\":\"You are terse.\"},{\"role\":\"user\","
                  "\"content\":\"hi there\"}]}",
                  NULL);
  ASSERT_EQ(r.status, 200);
  ASSERT_STREQ(r.body,
               "{\"id\":\"chatcmpl-sim\",\"object\":\"chat.completion\","
               "\"created\":0,\"model\":\"m\",\"choices\":[{\"index\":0,"
               "\"message\":{\"role\":\"assistant\",\"content\":"
               "\"echo(m): hi there\"},\"finish_reason\":\"stop\"}],"
               "\"usage\":{\"prompt_tokens\":5,\"completion_tokens\":3,"
               "\"total_tokens\":8}}");
  resp_free(&r);
  r = post("/chat/completions", HI, NULL);
  ASSERT_STREQ(r.body, hi_chat);
  resp_free(&r);
}

TEST(answer_anthropic_exact) {
  resp_t r = post("/v1/messages",
                  "{\"model\":\"claude-x\",\"system\":[{\"type\":\"text\","
                  "\"text\":\"sys prompt\"}],\"messages\":[{\"role\":\"user\","
                  "\"content\":[{\"type\":\"text\",\"text\":\"Hello\"}]}]}",
                  NULL);
  ASSERT_EQ(r.status, 200);
  ASSERT_STREQ(r.body,
               "{\"id\":\"msg_sim\",\"type\":\"message\",\"role\":"
               "\"assistant\",\"model\":\"claude-x\",\"content\":[{\"type\":"
               "\"text\",\"text\":\"echo(claude-x): Hello\"}],\"stop_reason\":"
               "\"end_turn\",\"usage\":{\"input_tokens\":3,\"output_tokens\":"
               "2}}");
  resp_free(&r);
  r = post("/messages", HI, NULL);
  ASSERT_STREQ(r.body, hi_anthropic);
  resp_free(&r);
}

TEST(usage_excludes_directive_lines) {
  resp_t r = post("/v1/chat/completions",
                  chat_body("m", "@sim delay_ms=0\\none two three"), NULL);
  ASSERT_EQ(r.status, 200);
  ASSERT_CONTAINS(r.body, "\"content\":\"echo(m): one two three\"");
  ASSERT_CONTAINS(r.body, "\"prompt_tokens\":3,\"completion_tokens\":4,"
                          "\"total_tokens\":7");
  resp_free(&r);
}

TEST(last_user_text_and_missing_model) {
  /* No model: empty name; no user message: empty text. */
  resp_t r = post("/v1/messages",
                  "{\"messages\":[{\"role\":\"assistant\",\"content\":"
                  "\"a b\"}]}",
                  NULL);
  ASSERT_CONTAINS(r.body, "\"text\":\"echo(): \"");
  ASSERT_CONTAINS(r.body, "\"input_tokens\":2,\"output_tokens\":1");
  resp_free(&r);
}

TEST(reply_directive) {
  resp_t r = post("/v1/messages",
                  chat_body("m", "x\\n@sim reply=hello big world"), NULL);
  ASSERT_CONTAINS(r.body, "\"text\":\"hello big world\"");
  ASSERT_CONTAINS(r.body, "\"input_tokens\":1,\"output_tokens\":3");
  resp_free(&r);
}

TEST(bad_body_is_400_per_format) {
  resp_t r = post("/v1/responses", "not json", NULL);
  ASSERT_EQ(r.status, 400);
  ASSERT_STREQ(r.body, "{\"error\":{\"message\":\"request body is not a JSON "
                       "object\",\"type\":\"invalid_request_error\","
                       "\"code\":null}}");
  resp_free(&r);
  r = post("/v1/messages", "[1,2]", NULL);
  ASSERT_EQ(r.status, 400);
  ASSERT_STREQ(r.body, "{\"type\":\"error\",\"error\":{\"type\":"
                       "\"invalid_request_error\",\"message\":\"request body "
                       "is not a JSON object\"}}");
  resp_free(&r);
}

TEST(bad_directive_is_400) {
  resp_t r = post("/v1/chat/completions", HI, "fault=nosuch");
  ASSERT_EQ(r.status, 400);
  ASSERT_STREQ(r.body, "{\"error\":{\"message\":\"bad @sim token "
                       "'fault=nosuch': unknown key or bad value\",\"type\":"
                       "\"invalid_request_error\",\"code\":null}}");
  resp_free(&r);
}

TEST(unknown_path_is_404) {
  char *stats;
  resp_t r = post("/v1/nothing", HI, NULL);
  ASSERT_EQ(r.status, 404);
  ASSERT_STREQ(r.body, "{\"error\":{\"message\":\"llmgateway-sim: no endpoint "
                       "POST /v1/nothing\",\"type\":\"not_found_error\","
                       "\"code\":null}}");
  resp_free(&r);
  stats = sim_get(&g_sim, "/v1/responses");
  ASSERT(stats == NULL); /* GET on a model path is 404 too */
}

/* ---- status directives -------------------------------------------------- */

TEST(status_openai_shapes) {
  resp_t r = post("/v1/responses", HI_RESP, "status=503");
  ASSERT_EQ(r.status, 503);
  ASSERT_STREQ(r.body, "{\"error\":{\"message\":\"simulated 503 Service "
                       "Unavailable\",\"type\":\"server_error\","
                       "\"code\":null}}");
  resp_free(&r);
  r = post("/v1/chat/completions", HI, "status=429 retry_after=2");
  ASSERT_EQ(r.status, 429);
  ASSERT_STREQ(r.body, "{\"error\":{\"message\":\"simulated 429 Too Many "
                       "Requests\",\"type\":\"rate_limit_error\",\"code\":"
                       "\"rate_limit_exceeded\"}}");
  ASSERT_CONTAINS(r.headers, "\r\nretry-after: 2\r\n");
  resp_free(&r);
  r = post("/v1/chat/completions", HI, "status=401");
  ASSERT_STREQ(r.body, "{\"error\":{\"message\":\"simulated 401 Unauthorized\","
                       "\"type\":\"authentication_error\",\"code\":"
                       "\"invalid_api_key\"}}");
  resp_free(&r);
  r = post("/v1/chat/completions", HI, "status=400");
  ASSERT_STREQ(r.body, "{\"error\":{\"message\":\"simulated 400 Bad Request\","
                       "\"type\":\"invalid_request_error\",\"code\":null}}");
  resp_free(&r);
}

TEST(status_anthropic_types) {
  static const struct {
    const char *directive;
    int status;
    const char *type;
  } rows[] = {
      {"status=529", 529, "overloaded_error"},
      {"status=503", 503, "overloaded_error"},
      {"status=500", 500, "api_error"},
      {"status=429", 429, "rate_limit_error"},
      {"status=400", 400, "invalid_request_error"},
      {"status=401", 401, "authentication_error"},
      {"status=403", 403, "permission_error"},
      {"status=404", 404, "not_found_error"},
  };
  size_t i;
  char want[256];
  for (i = 0; i < sizeof rows / sizeof *rows; i++) {
    resp_t r = post("/v1/messages", HI, rows[i].directive);
    ASSERT_EQ(r.status, rows[i].status);
    snprintf(want, sizeof want, "{\"type\":\"error\",\"error\":{\"type\":"
             "\"%s\",\"message\":\"simulated ", rows[i].type);
    ASSERT_CONTAINS(r.body, want);
    resp_free(&r);
  }
  {
    resp_t r = post("/v1/messages", HI, "status=529");
    ASSERT_STREQ(r.body, "{\"type\":\"error\",\"error\":{\"type\":"
                         "\"overloaded_error\",\"message\":\"simulated 529 "
                         "Overloaded\"}}");
    resp_free(&r);
  }
}

TEST(status_2xx_is_normal_answer) {
  resp_t r = post("/v1/messages", HI, "status=201");
  ASSERT_EQ(r.status, 201);
  ASSERT_STREQ(r.body, hi_anthropic);
  resp_free(&r);
}

TEST(retry_headers) {
  resp_t r = post("/v1/messages", HI,
                  "status=529 retry_after_ms=1500 should_retry=false");
  ASSERT_EQ(r.status, 529);
  ASSERT_CONTAINS(r.headers, "\r\nretry-after-ms: 1500\r\n");
  ASSERT_CONTAINS(r.headers, "\r\nx-should-retry: false\r\n");
  ASSERT_NOT_CONTAINS(r.headers, "retry-after:");
  resp_free(&r);
  r = post("/v1/messages", HI, "status=503 should_retry=true");
  ASSERT_CONTAINS(r.headers, "\r\nx-should-retry: true\r\n");
  resp_free(&r);
}

TEST(retry_after_date_header) {
  struct tm tm;
  char *p, *end;
  time_t when, now = time(NULL);
  resp_t r = post("/v1/chat/completions",
                  chat_body("m", "@sim status=429 retry_after_date=30\\nhi"),
                  NULL);
  ASSERT_EQ(r.status, 429);
  p = strstr(r.headers, "\r\nretry-after: ");
  ASSERT(p != NULL);
  p += strlen("\r\nretry-after: ");
  memset(&tm, 0, sizeof tm);
  end = strptime(p, "%a, %d %b %Y %H:%M:%S GMT", &tm);
  ASSERT(end != NULL && end[0] == '\r');
  when = timegm(&tm);
  ASSERT(when >= now + 29 && when <= now + 31);
  resp_free(&r);
}

/* ---- delivery faults ---------------------------------------------------- */

TEST(fault_reset_gives_no_response) {
  resp_t r = post("/v1/chat/completions", HI, "fault=reset");
  ASSERT_EQ(r.rc, CURLE_GOT_NOTHING);
  ASSERT_EQ(r.len, 0);
  resp_free(&r);
}

TEST(fault_reset_body_cuts_the_body) {
  resp_t r = post("/v1/chat/completions", HI, "fault=reset_body");
  ASSERT_EQ(r.rc, CURLE_PARTIAL_FILE);
  ASSERT_EQ(r.status, 200);
  ASSERT_EQ(r.len, (sizeof hi_chat - 1) / 2);
  ASSERT(memcmp(r.body, hi_chat, r.len) == 0);
  resp_free(&r);
}

TEST(fault_hang_times_out) {
  resp_t r;
  ASSERT_EQ(sim_reset(&g_sim), 0);
  r = post_to(&g_sim, "/v1/messages", HI, "fault=hang", 300);
  ASSERT_EQ(r.rc, CURLE_OPERATION_TIMEDOUT);
  ASSERT(r.ms >= 290);
  resp_free(&r);
  /* The hung request stays in flight until reset. */
  ASSERT_EQ(sim_stat(&g_sim, "in_flight"), 1);
  ASSERT_EQ(sim_reset(&g_sim), 0);
  ASSERT_EQ(sim_stat(&g_sim, "in_flight"), 0);
}

TEST(fault_slow_sends_byte_by_byte) {
  resp_t r = post("/v1/messages", HI, "fault=slow slow_ms=5");
  ASSERT_EQ(r.rc, CURLE_OK);
  ASSERT_STREQ(r.body, hi_anthropic);
  /* first byte at once, then one per tick */
  ASSERT(r.ms >= (double)(sizeof hi_anthropic - 2) * 5);
  resp_free(&r);
  r = post_to(&g_sim, "/v1/messages", HI, "fault=slow", 1500);
  ASSERT_EQ(r.rc, CURLE_OPERATION_TIMEDOUT);
  ASSERT_EQ(r.status, 200);
  ASSERT_EQ(r.len, 2); /* at 0 ms and 1000 ms */
  resp_free(&r);
}

TEST(delay_does_not_block_others) {
  resp_t slow, fast;
  CURLM *m = curl_multi_init();
  struct curl_slist *h1, *h2;
  char u1[256], u2[256];
  CURL *a = make_post(&g_sim, "/v1/messages", HI, "delay_ms=400", 5000,
                      &slow, &h1, u1, sizeof u1);
  CURL *b = make_post(&g_sim, "/v1/messages", HI, NULL, 5000, &fast, &h2, u2,
                      sizeof u2);
  double t0 = now_ms(), t_fast = 0, t_slow = 0;
  int running = 1, left;
  CURLMsg *msg;
  curl_multi_add_handle(m, a);
  curl_multi_add_handle(m, b);
  while (running) {
    curl_multi_perform(m, &running);
    while ((msg = curl_multi_info_read(m, &left)))
      if (msg->msg == CURLMSG_DONE) {
        if (msg->easy_handle == a) t_slow = now_ms() - t0;
        else t_fast = now_ms() - t0;
      }
    if (running) curl_multi_poll(m, NULL, 0, 50, NULL);
  }
  curl_multi_remove_handle(m, a);
  curl_multi_remove_handle(m, b);
  curl_easy_cleanup(a);
  curl_easy_cleanup(b);
  curl_multi_cleanup(m);
  curl_slist_free_all(h1);
  curl_slist_free_all(h2);
  ASSERT_STREQ(slow.body, hi_anthropic);
  ASSERT_STREQ(fast.body, hi_anthropic);
  ASSERT(t_slow >= 400);
  ASSERT(t_fast < 300 * slack());
  resp_free(&slow);
  resp_free(&fast);
}

/* ---- body faults -------------------------------------------------------- */

TEST(fault_truncated) {
  resp_t r = post("/v1/chat/completions", HI, "fault=truncated");
  ASSERT_EQ(r.status, 200);
  ASSERT_EQ(r.rc, CURLE_OK);
  ASSERT_EQ(r.len, (sizeof hi_chat - 1) / 2);
  ASSERT(memcmp(r.body, hi_chat, r.len) == 0);
  resp_free(&r);
}

TEST(fault_invalid_json_html_bad_shape) {
  resp_t r = post("/v1/responses", HI_RESP, "fault=invalid_json");
  ASSERT_EQ(r.status, 200);
  ASSERT_STREQ(r.body, "{not json");
  resp_free(&r);
  r = post("/v1/responses", HI_RESP, "fault=html");
  ASSERT_EQ(r.status, 200);
  ASSERT_CONTAINS(r.headers, "\r\ncontent-type: text/html; charset=utf-8\r\n");
  ASSERT_STREQ(r.body, "<!DOCTYPE html>\n<html><head><title>Service "
                       "Unavailable</title></head><body><h1>Service "
                       "Unavailable</h1><p>llmgateway-sim</p></body></html>\n");
  resp_free(&r);
  r = post("/v1/responses", HI_RESP, "fault=html status=502");
  ASSERT_EQ(r.status, 502);
  ASSERT_CONTAINS(r.body, "<h1>Service Unavailable</h1>");
  resp_free(&r);
  r = post("/v1/chat/completions", HI, "fault=bad_shape");
  ASSERT_STREQ(r.body, "{\"unexpected\":true}");
  resp_free(&r);
  r = post("/v1/messages", HI, "fault=anthropic_error");
  ASSERT_EQ(r.status, 200);
  ASSERT_STREQ(r.body, "{\"type\":\"error\",\"error\":{\"type\":"
                       "\"overloaded_error\",\"message\":\"Overloaded\"}}");
  resp_free(&r);
}

TEST(fault_empty) {
  resp_t r = post("/v1/chat/completions", HI, "fault=empty");
  ASSERT_STREQ(r.body,
               "{\"id\":\"chatcmpl-sim\",\"object\":\"chat.completion\","
               "\"created\":0,\"model\":\"m\",\"choices\":[{\"index\":0,"
               "\"message\":{\"role\":\"assistant\",\"content\":\"\"},"
               "\"finish_reason\":\"stop\"}],\"usage\":{\"prompt_tokens\":2,"
               "\"completion_tokens\":0,\"total_tokens\":2}}");
  resp_free(&r);
}

TEST(fault_oversize) {
  resp_t r = post("/v1/responses", HI_RESP, "fault=oversize size=5000");
  ASSERT_EQ(r.status, 200);
  ASSERT_EQ(r.len, 5000);
  ASSERT(strncmp(r.body, "{\"id\":\"resp_sim\"", 16) == 0);
  ASSERT_CONTAINS(r.body, "\"text\":\"xxxxxxxx");
  ASSERT_CONTAINS(r.body, "xxx\",\"annotations\":[]}]}],\"usage\":{"
                          "\"input_tokens\":2,\"output_tokens\":1,"
                          "\"total_tokens\":3}}");
  resp_free(&r);
  r = post_to(&g_sim, "/v1/messages", HI, "fault=oversize", 120000);
  ASSERT_EQ(r.len, 40L * 1024 * 1024);
  ASSERT_EQ(r.body[r.len - 1], '}');
  resp_free(&r);
}

TEST(fault_bad_utf8) {
  resp_t r = post("/v1/messages", HI, "fault=bad_utf8");
  ASSERT_STREQ(r.body,
               "{\"id\":\"msg_sim\",\"type\":\"message\",\"role\":"
               "\"assistant\",\"model\":\"m\",\"content\":[{\"type\":\"text\","
               "\"text\":\"echo(m): hi there \xff\xfe\"}],\"stop_reason\":"
               "\"end_turn\",\"usage\":{\"input_tokens\":2,\"output_tokens\":"
               "4}}");
  resp_free(&r);
}

TEST(fault_deep) {
  resp_t r = post("/v1/messages", HI, "fault=deep depth=4");
  ASSERT_STREQ(r.body, "[[[[]]]]");
  resp_free(&r);
  r = post("/v1/messages", HI, "fault=deep");
  ASSERT_EQ(r.len, 200000);
  ASSERT_EQ(r.body[99999], '[');
  ASSERT_EQ(r.body[100000], ']');
  resp_free(&r);
}

/* ---- streams ------------------------------------------------------------ */

TEST(sse_chat) {
  resp_t r = post("/v1/chat/completions", HI, "fault=sse");
  ASSERT_EQ(r.status, 200);
  ASSERT_CONTAINS(r.headers, "\r\ncontent-type: text/event-stream\r\n");
#define CHUNK "data: {\"id\":\"chatcmpl-sim\",\"object\":" \
              "\"chat.completion.chunk\",\"created\":0,\"model\":\"m\","
  ASSERT_STREQ(r.body,
               CHUNK "\"choices\":[{\"index\":0,\"delta\":{\"role\":"
               "\"assistant\",\"content\":\"\"},\"finish_reason\":null}]}\n\n"
               CHUNK "\"choices\":[{\"index\":0,\"delta\":{\"content\":"
               "\"echo(m):\"},\"finish_reason\":null}]}\n\n"
               CHUNK "\"choices\":[{\"index\":0,\"delta\":{\"content\":"
               "\" hi\"},\"finish_reason\":null}]}\n\n"
               CHUNK "\"choices\":[{\"index\":0,\"delta\":{\"content\":"
               "\" there\"},\"finish_reason\":null}]}\n\n"
               CHUNK "\"choices\":[{\"index\":0,\"delta\":{},"
               "\"finish_reason\":\"stop\"}]}\n\n"
               CHUNK "\"choices\":[],\"usage\":{\"prompt_tokens\":2,"
               "\"completion_tokens\":3,\"total_tokens\":5}}\n\n"
               "data: [DONE]\n\n");
#undef CHUNK
  resp_free(&r);
}

TEST(sse_responses) {
  resp_t r = post("/v1/responses", HI_RESP, "fault=sse");
#define DELTA(t) "event: response.output_text.delta\ndata: {\"type\":" \
    "\"response.output_text.delta\",\"item_id\":\"msg_sim\",\"output_index\"" \
    ":0,\"content_index\":0,\"delta\":\"" t "\"}\n\n"
  ASSERT_STREQ(r.body,
               "event: response.created\ndata: {\"type\":\"response.created\","
               "\"response\":{\"id\":\"resp_sim\",\"object\":\"response\","
               "\"status\":\"in_progress\",\"model\":\"m\",\"output\":[],"
               "\"usage\":null}}\n\n"
               DELTA("echo(m):") DELTA(" hi") DELTA(" there")
               "event: response.output_text.done\ndata: {\"type\":"
               "\"response.output_text.done\",\"item_id\":\"msg_sim\","
               "\"output_index\":0,\"content_index\":0,\"text\":"
               "\"echo(m): hi there\"}\n\n"
               "event: response.completed\ndata: {\"type\":"
               "\"response.completed\",\"response\":{\"id\":\"resp_sim\","
               "\"object\":\"response\",\"status\":\"completed\",\"model\":"
               "\"m\",\"output\":[{\"type\":\"message\",\"id\":\"msg_sim\","
               "\"status\":\"completed\",\"role\":\"assistant\",\"content\":"
               "[{\"type\":\"output_text\",\"text\":\"echo(m): hi there\","
               "\"annotations\":[]}]}],\"usage\":{\"input_tokens\":2,"
               "\"output_tokens\":3,\"total_tokens\":5}}}\n\n");
#undef DELTA
  resp_free(&r);
}

TEST(sse_anthropic) {
  resp_t r = post("/v1/messages", HI, "fault=sse");
#define DELTA(t) "event: content_block_delta\ndata: {\"type\":" \
    "\"content_block_delta\",\"index\":0,\"delta\":{\"type\":\"text_delta\"," \
    "\"text\":\"" t "\"}}\n\n"
  ASSERT_STREQ(r.body,
               "event: message_start\ndata: {\"type\":\"message_start\","
               "\"message\":{\"id\":\"msg_sim\",\"type\":\"message\",\"role\":"
               "\"assistant\",\"model\":\"m\",\"content\":[],\"stop_reason\":"
               "null,\"usage\":{\"input_tokens\":2,\"output_tokens\":0}}}\n\n"
               "event: content_block_start\ndata: {\"type\":"
               "\"content_block_start\",\"index\":0,\"content_block\":{"
               "\"type\":\"text\",\"text\":\"\"}}\n\n"
               DELTA("echo(m):") DELTA(" hi") DELTA(" there")
               "event: content_block_stop\ndata: {\"type\":"
               "\"content_block_stop\",\"index\":0}\n\n"
               "event: message_delta\ndata: {\"type\":\"message_delta\","
               "\"delta\":{\"stop_reason\":\"end_turn\",\"stop_sequence\":"
               "null},\"usage\":{\"output_tokens\":3}}\n\n"
               "event: message_stop\ndata: {\"type\":\"message_stop\"}\n\n");
#undef DELTA
  resp_free(&r);
}

TEST(stream_true_gives_sse) {
  resp_t r = post("/v1/chat/completions",
                  "{\"model\":\"m\",\"stream\":true,\"messages\":[{\"role\":"
                  "\"user\",\"content\":\"hi there\"}]}",
                  NULL);
  ASSERT_CONTAINS(r.headers, "\r\ncontent-type: text/event-stream\r\n");
  ASSERT_CONTAINS(r.body, "\"delta\":{\"content\":\" there\"}");
  ASSERT_CONTAINS(r.body, "data: [DONE]\n\n");
  resp_free(&r);
}

TEST(sse_cut_mid_stream) {
  resp_t r = post("/v1/messages", HI, "fault=sse_cut after=1");
  ASSERT_EQ(r.status, 200);
  ASSERT(r.rc != CURLE_OK);  /* closed without the end of the body */
  ASSERT_CONTAINS(r.body, "\"text\":\"echo(m):\"}}\n\n");
  ASSERT_NOT_CONTAINS(r.body, " hi");
  resp_free(&r);
  r = post("/v1/chat/completions", HI, "fault=sse_cut after=0");
  ASSERT(r.rc != CURLE_OK);
  ASSERT_NOT_CONTAINS(r.body, "echo");
  ASSERT_CONTAINS(r.body, "\"role\":\"assistant\"");
  resp_free(&r);
  /* more than the deltas there are: everything but the closing events */
  r = post("/v1/responses", HI_RESP, "fault=sse_cut after=99");
  ASSERT_CONTAINS(r.body, "\"delta\":\" there\"}\n\n");
  ASSERT_NOT_CONTAINS(r.body, "output_text.done");
  resp_free(&r);
}

TEST(sse_stall_mid_stream) {
  resp_t r = post_to(&g_sim, "/v1/responses", HI_RESP,
                     "fault=sse_stall after=2", 500);
  ASSERT_EQ(r.rc, CURLE_OPERATION_TIMEDOUT);
  ASSERT_CONTAINS(r.body, "\"delta\":\" hi\"}\n\n");
  ASSERT_NOT_CONTAINS(r.body, " there");
  ASSERT(r.ms >= 450);
  resp_free(&r);
}

TEST(sse_error_event_per_format) {
  resp_t r = post("/v1/messages", HI, "fault=sse_error after=1");
  ASSERT_EQ(r.rc, CURLE_OK);
  ASSERT_EQ(r.status, 200);
  ASSERT_CONTAINS(r.body,
                  "\"text\":\"echo(m):\"}}\n\nevent: error\ndata: "
                  "{\"type\":\"error\",\"error\":{\"type\":"
                  "\"overloaded_error\",\"message\":"
                  "\"simulated 529 Overloaded\"}}\n\n");
  ASSERT_NOT_CONTAINS(r.body, "message_stop");
  resp_free(&r);
  r = post("/v1/chat/completions", HI, "fault=sse_error after=0 "
                                       "error_status=429");
  ASSERT_CONTAINS(r.body,
                  "}\n\ndata: {\"error\":{\"message\":\"simulated 429 Too "
                  "Many Requests\",\"type\":\"rate_limit_error\",\"code\":"
                  "\"rate_limit_exceeded\"}}\n\n");
  ASSERT_NOT_CONTAINS(r.body, "[DONE]");
  resp_free(&r);
  r = post("/v1/responses", HI_RESP, "fault=sse_error after=3");
  ASSERT_CONTAINS(r.body,
                  "\"delta\":\" there\"}\n\nevent: error\ndata: {\"type\":"
                  "\"error\",\"code\":\"server_error\",\"message\":"
                  "\"simulated 529 Overloaded\",\"param\":null}\n\n");
  resp_free(&r);
  r = post("/v1/messages", HI, "error_status=300");
  ASSERT_EQ(r.status, 400);
  resp_free(&r);
}

TEST(fault_refusal_per_format) {
  resp_t r = post("/v1/chat/completions", HI, "fault=refusal");
  ASSERT_EQ(r.status, 200);
  ASSERT_STREQ(r.body,
               "{\"id\":\"chatcmpl-sim\",\"object\":\"chat.completion\","
               "\"created\":0,\"model\":\"m\",\"choices\":[{\"index\":0,"
               "\"message\":{\"role\":\"assistant\",\"content\":null,"
               "\"refusal\":\"I'm sorry, but I can't help with that.\"},"
               "\"finish_reason\":\"stop\"}],\"usage\":{\"prompt_tokens\":2,"
               "\"completion_tokens\":8,\"total_tokens\":10}}");
  resp_free(&r);
  r = post("/v1/messages", HI, "fault=refusal reply=No way.");
  ASSERT_STREQ(r.body,
               "{\"id\":\"msg_sim\",\"type\":\"message\",\"role\":"
               "\"assistant\",\"model\":\"m\",\"content\":[{\"type\":"
               "\"text\",\"text\":\"No way.\"}],\"stop_reason\":\"refusal\","
               "\"usage\":{\"input_tokens\":2,\"output_tokens\":2}}");
  resp_free(&r);
  r = post("/v1/responses", HI_RESP, "fault=refusal reply=No.");
  ASSERT_STREQ(r.body,
               "{\"id\":\"resp_sim\",\"object\":\"response\",\"status\":"
               "\"completed\",\"model\":\"m\",\"output\":[{\"type\":"
               "\"message\",\"id\":\"msg_sim\",\"status\":\"completed\","
               "\"role\":\"assistant\",\"content\":[{\"type\":\"refusal\","
               "\"refusal\":\"No.\"}]}],\"usage\":{\"input_tokens\":2,"
               "\"output_tokens\":1,\"total_tokens\":3}}");
  resp_free(&r);
  /* streamed: the format's refusal events */
  r = post("/v1/chat/completions",
           "{\"model\":\"m\",\"stream\":true,\"messages\":[{\"role\":"
           "\"user\",\"content\":\"hi\"}]}", "fault=refusal reply=No way");
  ASSERT_CONTAINS(r.headers, "\r\ncontent-type: text/event-stream\r\n");
#define CHUNK "data: {\"id\":\"chatcmpl-sim\",\"object\":" \
              "\"chat.completion.chunk\",\"created\":0,\"model\":\"m\","
  ASSERT_STREQ(r.body,
               CHUNK "\"choices\":[{\"index\":0,\"delta\":{\"role\":"
               "\"assistant\",\"content\":null,\"refusal\":\"\"},"
               "\"finish_reason\":null}]}\n\n"
               CHUNK "\"choices\":[{\"index\":0,\"delta\":{\"refusal\":"
               "\"No\"},\"finish_reason\":null}]}\n\n"
               CHUNK "\"choices\":[{\"index\":0,\"delta\":{\"refusal\":"
               "\" way\"},\"finish_reason\":null}]}\n\n"
               CHUNK "\"choices\":[{\"index\":0,\"delta\":{},"
               "\"finish_reason\":\"stop\"}]}\n\n"
               CHUNK "\"choices\":[],\"usage\":{\"prompt_tokens\":1,"
               "\"completion_tokens\":2,\"total_tokens\":3}}\n\n"
               "data: [DONE]\n\n");
#undef CHUNK
  resp_free(&r);
  r = post("/v1/responses",
           "{\"model\":\"m\",\"stream\":true,\"input\":\"hi\"}",
           "fault=refusal reply=No");
  ASSERT_CONTAINS(r.body, "event: response.refusal.delta\ndata: {\"type\":"
                  "\"response.refusal.delta\",\"item_id\":\"msg_sim\","
                  "\"output_index\":0,\"content_index\":0,\"delta\":\"No\"}");
  ASSERT_CONTAINS(r.body, "event: response.refusal.done\ndata: {\"type\":"
                  "\"response.refusal.done\",\"item_id\":\"msg_sim\","
                  "\"output_index\":0,\"content_index\":0,\"refusal\":\"No\"}");
  ASSERT_CONTAINS(r.body, "{\"type\":\"refusal\",\"refusal\":\"No\"}");
  resp_free(&r);
  r = post("/v1/messages",
           "{\"model\":\"m\",\"stream\":true,\"messages\":[{\"role\":"
           "\"user\",\"content\":\"hi\"}]}", "fault=refusal reply=No");
  ASSERT_CONTAINS(r.body, "\"delta\":{\"type\":\"text_delta\",\"text\":\"No\"}");
  ASSERT_CONTAINS(r.body, "event: message_delta\ndata: {\"type\":"
                  "\"message_delta\",\"delta\":{\"stop_reason\":\"refusal\"");
  resp_free(&r);
}

TEST(json_fault_answers_stream_with_json) {
  resp_t r = post("/v1/chat/completions",
                  "{\"model\":\"m\",\"stream\":true,\"messages\":[{\"role\":"
                  "\"user\",\"content\":\"hi there\"}]}",
                  "fault=json");
  ASSERT_CONTAINS(r.headers, "\r\ncontent-type: application/json\r\n");
  ASSERT_CONTAINS(r.body, "\"object\":\"chat.completion\"");
  resp_free(&r);
}

/* ---- counters, reset, scripts ------------------------------------------- */

TEST(times_counts_per_directive) {
  const char *body = chat_body("m", "@sim status=503 times=2\\nhello");
  resp_t r;
  int i, want[] = {503, 503, 200, 200};
  ASSERT_EQ(sim_reset(&g_sim), 0);
  for (i = 0; i < 4; i++) {
    r = post("/v1/chat/completions", body, NULL);
    ASSERT_EQ(r.status, want[i]);
    resp_free(&r);
  }
  r = post("/v1/chat/completions", body, NULL);
  ASSERT_CONTAINS(r.body, "\"content\":\"echo(m): hello\"");
  resp_free(&r);
  /* reset zeroes the times counters */
  ASSERT_EQ(sim_reset(&g_sim), 0);
  r = post("/v1/chat/completions", body, NULL);
  ASSERT_EQ(r.status, 503);
  resp_free(&r);
}

TEST(times_counts_per_id) {
  resp_t r;
  ASSERT_EQ(sim_reset(&g_sim), 0);
  r = post("/v1/messages", HI, "status=500 times=1 id=shared");
  ASSERT_EQ(r.status, 500);
  resp_free(&r);
  /* different text, same id: already used up */
  r = post("/v1/messages", HI, "id=shared status=502 times=1");
  ASSERT_EQ(r.status, 200);
  resp_free(&r);
  r = post("/v1/messages", HI, "status=502 times=1 id=other");
  ASSERT_EQ(r.status, 502);
  resp_free(&r);
}

TEST(stats_and_reset) {
  char *stats;
  resp_t r;
  ASSERT_EQ(sim_reset(&g_sim), 0);
  r = post("/v1/responses", HI_RESP, NULL);
  resp_free(&r);
  r = post("/v1/responses", HI_RESP, NULL);
  resp_free(&r);
  r = post("/messages", "{\"model\":\"z\",\"messages\":[]}", "delay_ms=1");
  resp_free(&r);
  ASSERT_EQ(sim_stat(&g_sim, "requests"), 3);
  ASSERT_EQ(sim_stat(&g_sim, "in_flight"), 0);
  ASSERT_EQ(sim_stat(&g_sim, "peak_concurrent"), 1);
  stats = sim_get(&g_sim, "/_sim/stats");
  ASSERT_CONTAINS(stats, "\"by_path\":{\"/v1/responses\":2,\"/messages\":1}");
  ASSERT_CONTAINS(stats, "\"x-sim\":\"delay_ms=1\"");
  ASSERT_CONTAINS(stats, "\"content-type\":\"application/json\"");
  ASSERT_CONTAINS(stats, "\"last_body\":{\"model\":\"z\",\"messages\":[]}}");
  free(stats);
  ASSERT_EQ(sim_reset(&g_sim), 0);
  ASSERT_EQ(sim_stat(&g_sim, "requests"), 0);
  stats = sim_get(&g_sim, "/_sim/stats");
  ASSERT_CONTAINS(stats, "\"requests\":0,\"in_flight\":0,"
                         "\"peak_concurrent\":0,\"by_path\":{},");
  free(stats);
}

TEST(script_sequences) {
  static const char script[] =
      "{\"rules\":[{\"match\":\"flaky\",\"sequence\":[\"status=503\","
      "\"status=503 retry_after=1\",\"reply=ok\"]},"
      "{\"match\":\"*\",\"sequence\":[\"reply=default\"]}]}";
  char path[] = "/tmp/lgw-sim-script-XXXXXX";
  const char *args[] = {"--script", path, NULL};
  int fd = mkstemp(path), i;
  int want[] = {503, 503, 200, 200};
  sim_t s;
  resp_t r;
  ASSERT(fd >= 0);
  ASSERT_EQ(write(fd, script, sizeof script - 1), (long)sizeof script - 1);
  close(fd);
  ASSERT_EQ(sim_start(&s, args), 0);
  for (i = 0; i < 4; i++) {
    r = post_to(&s, "/v1/messages", chat_body("m", "a flaky one"), NULL, 5000);
    ASSERT_EQ(r.status, want[i]);
    if (i == 1) ASSERT_CONTAINS(r.headers, "\r\nretry-after: 1\r\n");
    if (i >= 2) ASSERT_CONTAINS(r.body, "\"text\":\"ok\"");
    resp_free(&r);
  }
  r = post_to(&s, "/v1/messages", chat_body("m", "other"), NULL, 5000);
  ASSERT_CONTAINS(r.body, "\"text\":\"default\"");
  resp_free(&r);
  /* a request's own directive wins over the script */
  r = post_to(&s, "/v1/messages", chat_body("m", "flaky"), "reply=own", 5000);
  ASSERT_CONTAINS(r.body, "\"text\":\"own\"");
  resp_free(&r);
  /* reset restarts the sequences */
  ASSERT_EQ(sim_reset(&s), 0);
  r = post_to(&s, "/v1/messages", chat_body("m", "flaky"), NULL, 5000);
  ASSERT_EQ(r.status, 503);
  resp_free(&r);
  sim_stop(&s);
  unlink(path);
}

TEST(bad_script_fails_start) {
  char path[] = "/tmp/lgw-sim-script-XXXXXX";
  const char *args[] = {"--script", path, NULL};
  int fd = mkstemp(path);
  sim_t s;
  ASSERT(fd >= 0);
  ASSERT_EQ(write(fd, "{\"rules\":[{\"match\":1}]}", 23), 23);
  close(fd);
  ASSERT_EQ(sim_start(&s, args), -1);
  unlink(path);
}

TEST(cli_port_file_latency_and_clean_exit) {
  char path[] = "/tmp/lgw-sim-port-XXXXXX";
  const char *args[] = {"--port-file", path, "--latency-ms", "150", NULL};
  const char *bad[] = {"--bogus", NULL};
  char buf[32] = "", want[32];
  int fd = mkstemp(path), status = -1;
  FILE *f;
  double t0;
  sim_t s;
  resp_t r;
  ASSERT(fd >= 0);
  close(fd);
  t0 = now_ms();
  ASSERT_EQ(sim_start(&s, args), 0);
  fprintf(stderr, "  (sim started in %.1f ms)\n", now_ms() - t0);
  f = fopen(path, "r");
  ASSERT(f != NULL);
  ASSERT(fgets(buf, sizeof buf, f) != NULL);
  fclose(f);
  snprintf(want, sizeof want, "%d\n", s.port);
  ASSERT_STREQ(buf, want);
  r = post_to(&s, "/v1/messages", HI, NULL, 5000);
  ASSERT_STREQ(r.body, hi_anthropic);
  ASSERT(r.ms >= 150);
  resp_free(&r);
  /* SIGTERM: exit status 0 */
  kill(s.pid, SIGTERM);
  ASSERT_EQ(waitpid(s.pid, &status, 0), s.pid);
  ASSERT(WIFEXITED(status) && WEXITSTATUS(status) == 0);
  unlink(path);
  ASSERT_EQ(sim_start(&s, bad), -1);
}

/* ---- concurrency -------------------------------------------------------- */

/* Sends n POSTs at once through one multi handle; returns how many got
 * status 200 with the expected body, and the elapsed time in *ms. */
static int parallel(int n, const char *xsim, const char *want, double *ms) {
  CURLM *m = curl_multi_init();
  CURL **easy = calloc((size_t)n, sizeof *easy);
  resp_t *rs = calloc((size_t)n, sizeof *rs);
  struct curl_slist **hdrs = calloc((size_t)n, sizeof *hdrs);
  char (*urls)[128] = calloc((size_t)n, sizeof *urls);
  int i, running = 1, left, ok = 0;
  double t0 = now_ms();
  CURLMsg *msg;
  curl_multi_setopt(m, CURLMOPT_MAXCONNECTS, (long)n + 16);
  for (i = 0; i < n; i++) {
    easy[i] = make_post(&g_sim, "/v1/messages", HI, xsim, 15000, &rs[i],
                        &hdrs[i], urls[i], sizeof urls[i]);
    curl_easy_setopt(easy[i], CURLOPT_FORBID_REUSE, 1L);
    curl_multi_add_handle(m, easy[i]);
  }
  while (running) {
    curl_multi_perform(m, &running);
    while ((msg = curl_multi_info_read(m, &left)) != NULL) {
      resp_t *r;
      if (msg->msg != CURLMSG_DONE) continue;
      curl_easy_getinfo(msg->easy_handle, CURLINFO_PRIVATE, (char **)&r);
      curl_easy_getinfo(msg->easy_handle, CURLINFO_RESPONSE_CODE, &r->status);
      r->rc = msg->data.result;
    }
    if (running) curl_multi_poll(m, NULL, 0, 100, NULL);
  }
  *ms = now_ms() - t0;
  for (i = 0; i < n; i++) {
    if (rs[i].rc == CURLE_OK && rs[i].status == 200 && rs[i].body &&
        strcmp(rs[i].body, want) == 0)
      ok++;
    curl_multi_remove_handle(m, easy[i]);
    curl_easy_cleanup(easy[i]);
    curl_slist_free_all(hdrs[i]);
    resp_free(&rs[i]);
  }
  curl_multi_cleanup(m);
  free(easy);
  free(rs);
  free(hdrs);
  free(urls);
  return ok;
}

TEST(peak_concurrent_counts_parallel_requests) {
  double ms;
  ASSERT_EQ(sim_reset(&g_sim), 0);
  ASSERT_EQ(parallel(8, "delay_ms=300", hi_anthropic, &ms), 8);
  ASSERT(ms >= 300);
  ASSERT_EQ(sim_stat(&g_sim, "peak_concurrent"), 8);  /* not one by one */
  ASSERT_EQ(sim_stat(&g_sim, "requests"), 8);
  ASSERT_EQ(sim_stat(&g_sim, "in_flight"), 0);
}

TEST(two_thousand_concurrent_connections) {
  double ms;
  /* every answer waits long enough for this client to open all 2000
   * connections, even under valgrind (within the 15 s client timeout) */
  int delay = slack() > 2 ? 8000 : (int)(1000 * slack());
  char xsim[32];
  snprintf(xsim, sizeof xsim, "delay_ms=%d", delay);
  ASSERT_EQ(sim_reset(&g_sim), 0);
  ASSERT_EQ(parallel(2000, xsim, hi_anthropic, &ms), 2000);
  fprintf(stderr, "  (2000 delayed requests in %.0f ms)\n", ms);
  ASSERT(ms >= delay);
  ASSERT_EQ(sim_stat(&g_sim, "requests"), 2000);
  ASSERT_EQ(sim_stat(&g_sim, "peak_concurrent"), 2000);  /* all at once */
  ASSERT_EQ(sim_stat(&g_sim, "in_flight"), 0);
}

int main(void) {
  struct rlimit rl;
  if (getrlimit(RLIMIT_NOFILE, &rl) == 0) {
    rl.rlim_cur = rl.rlim_max;
    setrlimit(RLIMIT_NOFILE, &rl);
  }
  curl_global_init(CURL_GLOBAL_DEFAULT);
  if (sim_start(&g_sim, NULL) != 0) {
    fprintf(stderr, "cannot start the simulator (build it first)\n");
    printf("RESULT 0 1\n");
    return 1;
  }
  RUN(answer_responses_exact);
  RUN(answer_responses_string_input);
  RUN(answer_chat_exact);
  RUN(answer_anthropic_exact);
  RUN(usage_excludes_directive_lines);
  RUN(last_user_text_and_missing_model);
  RUN(reply_directive);
  RUN(bad_body_is_400_per_format);
  RUN(bad_directive_is_400);
  RUN(unknown_path_is_404);
  RUN(status_openai_shapes);
  RUN(status_anthropic_types);
  RUN(status_2xx_is_normal_answer);
  RUN(retry_headers);
  RUN(retry_after_date_header);
  RUN(fault_reset_gives_no_response);
  RUN(fault_reset_body_cuts_the_body);
  RUN(fault_hang_times_out);
  RUN(fault_slow_sends_byte_by_byte);
  RUN(delay_does_not_block_others);
  RUN(fault_truncated);
  RUN(fault_invalid_json_html_bad_shape);
  RUN(fault_empty);
  RUN(fault_oversize);
  RUN(fault_bad_utf8);
  RUN(fault_deep);
  RUN(sse_chat);
  RUN(sse_responses);
  RUN(sse_anthropic);
  RUN(stream_true_gives_sse);
  RUN(sse_cut_mid_stream);
  RUN(sse_stall_mid_stream);
  RUN(sse_error_event_per_format);
  RUN(fault_refusal_per_format);
  RUN(json_fault_answers_stream_with_json);
  RUN(times_counts_per_directive);
  RUN(times_counts_per_id);
  RUN(stats_and_reset);
  RUN(script_sequences);
  RUN(bad_script_fails_start);
  RUN(cli_port_file_latency_and_clean_exit);
  RUN(peak_concurrent_counts_parallel_requests);
  RUN(two_thousand_concurrent_connections);
  sim_stop(&g_sim);
  curl_global_cleanup();
  return TEST_SUMMARY();
}
