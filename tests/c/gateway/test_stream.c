/*
 * test_stream.c -- streamed requests against the provider simulator: the
 * exact deltas and final result per wire format, usage asked for and
 * read, the first-token and idle timeouts, retry and failover before the
 * first delta and none after it (the error carries the partial text),
 * error events classified like their status, a stream ending without its
 * terminal event, and a provider that answers a stream request with JSON.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <uv.h>

#include "llmgateway.h"
#include "echo_support.h"
#include "gw_support.h"
#include "sim_support.h"
#include "util.h"
#include "test.h"

static sim_t sim;

typedef struct out {
  int calls, status, ndeltas, deltas_at_done, provider_index;
  char deltas[16][64];
  char joined[512], text[512], partial[512], err[2048];
  int has_partial, has_refusal;
  size_t text_len, partial_len, refusal_len;
  char finish[32], refusal[512];
  lgw_usage_t usage, total;
  double ttft;
  size_t natt;
  int att_code[8], att_status[8], att_cfg[8];
  char att_msg[8][512];
} out_t;

static void on_delta(lgw_gateway_t *gw, uint64_t id, const char *text,
                     size_t len, void *ud) {
  out_t *o = ud;
  (void)gw;
  (void)id;
  if (o->ndeltas < 16)
    snprintf(o->deltas[o->ndeltas], sizeof o->deltas[0], "%.*s", (int)len,
             text);
  o->ndeltas++;
  strncat(o->joined, text, len < sizeof o->joined - strlen(o->joined) - 1
                               ? len : sizeof o->joined - strlen(o->joined) - 1);
}

static void on_done(lgw_gateway_t *gw, uint64_t id, int status,
                    const lgw_result_t *res, const lgw_error_t *err,
                    void *ud) {
  out_t *o = ud;
  size_t i;
  (void)gw;
  (void)id;
  o->calls++;
  o->status = status;
  o->deltas_at_done = o->ndeltas;
  snprintf(o->text, sizeof o->text, "%s", res->text ? res->text : "(null)");
  snprintf(o->err, sizeof o->err, "%s", err ? err->message : "");
  o->has_partial = res->partial_text != NULL;
  o->partial_len = res->partial_len;
  o->text_len = res->text ? res->text_len : 0;
  snprintf(o->finish, sizeof o->finish, "%s",
           res->finish_reason ? res->finish_reason : "(null)");
  o->has_refusal = res->refusal != NULL;
  o->refusal_len = res->refusal_len;
  snprintf(o->refusal, sizeof o->refusal, "%.*s", (int)res->refusal_len,
           res->refusal ? res->refusal : "");
  snprintf(o->partial, sizeof o->partial, "%.*s", (int)res->partial_len,
           res->partial_text ? res->partial_text : "");
  o->usage = res->usage;
  o->total = res->usage_total;
  o->ttft = res->ttft;
  o->provider_index = res->provider_index;
  o->natt = res->nattempts;
  for (i = 0; i < res->nattempts && i < 8; i++) {
    o->att_code[i] = res->attempts[i].code;
    o->att_status[i] = res->attempts[i].http_status;
    o->att_cfg[i] = res->attempts[i].configured_index;
    snprintf(o->att_msg[i], sizeof o->att_msg[i], "%s",
             res->attempts[i].message);
  }
}


#define PROV(style, xsim)                                                 \
  "  - provider_type: openai\n    api_style: " style "\n"                 \
  "    base_url: \"%s\"\n    api_key: k\n" xsim


/* One request on a fresh gateway, streamed or not; frees rt. */
static int run_req(lgw_runtime_t *rt, const char *content, int stream,
                   out_t *o) {
  lgw_gateway_t *gw;
  lgw_gateway_options_t opts;
  lgw_request_t r;
  lgw_message_t m;
  int rc;
  memset(o, 0, sizeof *o);
  if (!rt) return -1;
  memset(&opts, 0, sizeof opts);
  opts.no_state = 1;
  opts.seed = 3;
  rc = lgw_gateway_new(rt, &opts, &gw, NULL);
  lgw_runtime_free(rt);
  if (rc) return rc;
  memset(&r, 0, sizeof r);
  m.role = "user";
  m.content = content;
  r.task = "t";
  r.messages = &m;
  r.nmessages = 1;
  if (stream) {
    r.on_delta = on_delta;
    r.delta_ud = o;
  }
  rc = lgw_gateway_submit(gw, &r, on_done, o, NULL, NULL);
  if (rc == 0) rc = lgw_gateway_run(gw);
  lgw_gateway_free(gw);
  return rc;
}

/* One streamed request on a fresh gateway; frees rt. */
static int run_stream(lgw_runtime_t *rt, const char *content, out_t *o) {
  return run_req(rt, content, 1, o);
}

/* ---- each format ----------------------------------------------------------- */

static void check_format(const char *style) {
  char yaml[1024], *stats;
  out_t o;
  snprintf(yaml, sizeof yaml,
           GWS_SETTINGS("") "providers:\n  - provider_type: openai\n"
           "    api_style: %s\n    base_url: %s\n    api_key: k\n", style,
           sim.base);
  ASSERT_EQ(run_stream(gws_load("%s", yaml), "hello big world", &o), 0);
  ASSERT_EQ(o.calls, 1);
  ASSERT_EQ(o.status, 0);
  ASSERT_EQ(o.ndeltas, 4);
  ASSERT_STREQ(o.deltas[0], "echo(m1):");
  ASSERT_STREQ(o.deltas[1], " hello");
  ASSERT_STREQ(o.deltas[2], " big");
  ASSERT_STREQ(o.deltas[3], " world");
  ASSERT_EQ(o.deltas_at_done, 4);  /* every delta before the completion */
  ASSERT_STREQ(o.text, "echo(m1): hello big world");
  ASSERT_STREQ(o.joined, o.text);
  ASSERT_EQ(o.has_partial, 0);
  ASSERT_EQ(o.usage.input_tokens, 3);
  ASSERT_EQ(o.usage.output_tokens, 4);
  ASSERT_EQ(o.usage.cached_tokens, -1);
  ASSERT_EQ(o.total.input_tokens, 3);
  ASSERT_EQ(o.total.output_tokens, 4);
  ASSERT(o.ttft >= 0 && o.ttft < 2);
  ASSERT_EQ(o.natt, 1);
  stats = sim_get(&sim, "/_sim/stats");
  ASSERT_CONTAINS(stats, "\"stream\":true");
  if (strcmp(style, "openai_chat") == 0 || strcmp(style, "litellm") == 0)
    ASSERT_CONTAINS(stats, "\"stream_options\":{\"include_usage\":true}");
  free(stats);
}

TEST(stream_responses) { check_format("responses"); }
TEST(stream_openai_chat) { check_format("openai_chat"); }
TEST(stream_anthropic) { check_format("anthropic"); }
TEST(stream_litellm) { check_format("litellm"); }

/* ---- timeouts -------------------------------------------------------------- */

TEST(first_token_timeout_fails_over) {
  out_t o;
  double t0 = (double)uv_hrtime() / 1e9, took;
  ASSERT_EQ(run_stream(gws_load(GWS_SETTINGS("  first_token_timeout: 0.3\n"
                                     "  transport_retries: 1\n")
                            "providers:\n"
                            PROV("anthropic", GWS_XSIM("fault=sse_stall after=0"))
                            PROV("openai_chat", ""), sim.base, sim.base),
                       "hi", &o), 0);
  took = (double)uv_hrtime() / 1e9 - t0;
  ASSERT_EQ(o.status, 0);
  ASSERT_STREQ(o.text, "echo(m1): hi");
  ASSERT_STREQ(o.joined, "echo(m1): hi");
  ASSERT_EQ(o.provider_index, 2);
  ASSERT_EQ(o.natt, 2);
  ASSERT_EQ(o.att_code[0], LGW_ETIMEOUT);
  ASSERT_EQ(o.att_status[0], 200);
  ASSERT_CONTAINS(o.att_msg[0], "No first token from ");
  ASSERT_CONTAINS(o.att_msg[0], "within first_token_timeout (0.3s).");
  ASSERT(took >= 0.3);
}

TEST(idle_timeout_after_first_delta_no_retry) {
  out_t o;
  ASSERT_EQ(run_stream(gws_load(GWS_SETTINGS("  idle_timeout: 0.3\n") "providers:\n"
                            PROV("responses", GWS_XSIM("fault=sse_stall after=1"))
                            PROV("openai_chat", ""), sim.base, sim.base),
                       "one two", &o), 0);
  ASSERT_EQ(o.status, LGW_ETIMEOUT);
  ASSERT_EQ(o.ndeltas, 1);
  ASSERT_STREQ(o.deltas[0], "echo(m1):");
  ASSERT_EQ(o.has_partial, 1);
  ASSERT_STREQ(o.partial, "echo(m1):");
  ASSERT_STREQ(o.text, "(null)");
  ASSERT_EQ(o.natt, 1);  /* no retry, no failover */
  ASSERT_CONTAINS(o.err, "LLM stream for task 't' broke after its first "
                         "delta (provider #1, openai): Stream from ");
  ASSERT_CONTAINS(o.err, "was idle for more than idle_timeout (0.3s).");
}

TEST(idle_timeout_before_first_delta_retried) {
  out_t o;
  ASSERT_EQ(run_stream(gws_load(GWS_SETTINGS("  idle_timeout: 0.3\n") "providers:\n"
                            PROV("openai_chat", "")
                            , sim.base),
                       "@sim fault=sse_stall after=0 times=1 id=idl\nhey", &o),
            0);
  ASSERT_EQ(o.status, 0);
  ASSERT_STREQ(o.text, "echo(m1): hey");
  ASSERT_EQ(o.natt, 2);
  ASSERT_EQ(o.att_code[0], LGW_ETIMEOUT);
}

/* ---- failover and retry around the first delta ------------------------------ */

TEST(cut_before_first_delta_retried) {
  out_t o;
  ASSERT_EQ(run_stream(gws_load(GWS_SETTINGS("") "providers:\n"
                            PROV("responses", ""), sim.base),
                       "@sim fault=sse_cut after=0 times=1 id=cut0\nab cd", &o),
            0);
  ASSERT_EQ(o.status, 0);
  ASSERT_STREQ(o.joined, "echo(m1): ab cd");
  ASSERT_STREQ(o.text, "echo(m1): ab cd");
  ASSERT_EQ(o.natt, 2);
  ASSERT_EQ(o.att_code[0], LGW_EHTTP);
  ASSERT_CONTAINS(o.att_msg[0], "Transfer from ");
}

TEST(cut_after_first_delta_no_failover) {
  out_t o;
  ASSERT_EQ(run_stream(gws_load(GWS_SETTINGS("") "providers:\n"
                            PROV("anthropic", GWS_XSIM("fault=sse_cut after=2"))
                            PROV("openai_chat", ""), sim.base, sim.base),
                       "alpha beta gamma", &o), 0);
  ASSERT_EQ(o.status, LGW_EHTTP);
  ASSERT_EQ(o.ndeltas, 2);
  ASSERT_STREQ(o.partial, "echo(m1): alpha");
  ASSERT_EQ(o.natt, 1);
  ASSERT_EQ(o.total.input_tokens, 3);  /* message_start's usage */
  ASSERT_CONTAINS(o.err, "broke after its first delta");
}

TEST(error_event_529_retried_same_provider) {
  out_t o;
  ASSERT_EQ(run_stream(gws_load(GWS_SETTINGS("") "providers:\n"
                            PROV("anthropic", "") PROV("openai_chat", ""),
                            sim.base, sim.base),
                       "@sim fault=sse_error after=0 times=1 id=e529\nx y",
                       &o), 0);
  ASSERT_EQ(o.status, 0);
  ASSERT_EQ(o.provider_index, 1);
  ASSERT_EQ(o.natt, 2);
  ASSERT_EQ(o.att_code[0], LGW_EHTTP);
  ASSERT_EQ(o.att_status[0], 200);
  ASSERT_CONTAINS(o.att_msg[0],
                  "stream error: overloaded_error: simulated 529 Overloaded");
  ASSERT_EQ(o.att_cfg[1], 1);
}

TEST(error_event_400_fails_over) {
  out_t o;
  ASSERT_EQ(run_stream(gws_load(GWS_SETTINGS("") "providers:\n"
                            PROV("openai_chat",
                                 GWS_XSIM("fault=sse_error after=0 error_status=400"))
                            PROV("responses", ""), sim.base, sim.base),
                       "q", &o), 0);
  ASSERT_EQ(o.status, 0);
  ASSERT_EQ(o.provider_index, 2);
  ASSERT_EQ(o.natt, 2);
  ASSERT_EQ(o.att_code[0], LGW_EHTTP);
  ASSERT_CONTAINS(o.att_msg[0], "invalid_request_error: simulated 400");
  ASSERT_STREQ(o.joined, "echo(m1): q");
}

TEST(error_event_after_delta_ends_with_partial) {
  out_t o;
  ASSERT_EQ(run_stream(gws_load(GWS_SETTINGS("") "providers:\n"
                            PROV("responses",
                                 GWS_XSIM("fault=sse_error after=1 error_status=429"))
                            PROV("openai_chat", ""), sim.base, sim.base),
                       "q r", &o), 0);
  ASSERT_EQ(o.status, LGW_EHTTP);
  ASSERT_STREQ(o.partial, "echo(m1):");
  ASSERT_EQ(o.natt, 1);
  ASSERT_CONTAINS(o.err, "rate_limit_exceeded: simulated 429");
}

TEST(no_terminal_event_is_an_error) {
  out_t o;
  /* half of the stream, ended cleanly: no message_stop */
  ASSERT_EQ(run_stream(gws_load(GWS_SETTINGS("  transport_retries: 1\n")
                            "providers:\n"
                            PROV("anthropic", GWS_XSIM("fault=truncated")),
                            sim.base),
                       "a", &o), 0);
  ASSERT_EQ(o.status, LGW_ERESPONSE);
  ASSERT_EQ(o.natt, 1);
  ASSERT_EQ(o.att_code[0], LGW_ERESPONSE);
  ASSERT_CONTAINS(o.att_msg[0], "the stream ended without its terminal event");
}

TEST(json_answer_to_stream_is_one_delta) {
  out_t o;
  ASSERT_EQ(run_stream(gws_load(GWS_SETTINGS("") "providers:\n"
                            PROV("anthropic", GWS_XSIM("fault=json")), sim.base),
                       "z w", &o), 0);
  ASSERT_EQ(o.status, 0);
  ASSERT_EQ(o.ndeltas, 1);
  ASSERT_STREQ(o.deltas[0], "echo(m1): z w");
  ASSERT_STREQ(o.text, "echo(m1): z w");
  ASSERT_EQ(o.usage.input_tokens, 2);
  ASSERT_EQ(o.usage.output_tokens, 3);
}

/* ---- answers as providers send them: a server of canned bodies ------------ */

/* A loopback server that answers the Nth attempt of a request with the
 * Nth canned body (echo_canned); bodies are written from the official API
 * references. */
static echo_canned_t canned;
static echo_t *canned_srv;

#define SSE_CT "text/event-stream; charset=utf-8"
#define JSON_CT "application/json"

/* A request to nprov providers of one style, all on the canned server. */
static int run_canned(const char *style, const char *settings, int nprov,
                      int stream, out_t *o) {
  char yaml[2048], base[64];
  size_t n;
  int i;
  snprintf(base, sizeof base, "http://127.0.0.1:%d/v1", echo_port(canned_srv));
  n = (size_t)snprintf(yaml, sizeof yaml, GWS_SETTINGS("%s") "providers:\n",
                       settings);
  for (i = 0; i < nprov; i++)
    n += (size_t)snprintf(yaml + n, sizeof yaml - n,
                          "  - provider_type: p%d\n    api_style: %s\n"
                          "    base_url: %s\n    api_key: k\n", i + 1, style,
                          base);
  return run_req(gws_load("%s", yaml), "q", stream, o);
}

#define DATA(json) "data: " json "\n\n"
#define EV(name, json) "event: " name "\n" DATA(json)

/* ---- Chat Completions fixtures ---- */

#define CHAT_HEAD "{\"id\":\"chatcmpl-9\",\"object\":\"chat.completion.chunk\"," \
  "\"created\":1795400020,\"model\":\"gpt-4o-mini\",\"service_tier\":"       \
  "\"default\",\"system_fingerprint\":\"fp_1\","
#define CHAT_CHUNK(delta, finish)                                           \
  DATA(CHAT_HEAD "\"choices\":[{\"index\":0,\"delta\":" delta ",\"logprobs\":" \
       "null,\"finish_reason\":" finish "}],\"obfuscation\":\"8jzPd\"}")
#define CHAT_USAGE(in, out)                                                 \
  DATA(CHAT_HEAD "\"choices\":[],\"usage\":{\"prompt_tokens\":" #in          \
       ",\"completion_tokens\":" #out ",\"total_tokens\":0,"                 \
       "\"prompt_tokens_details\":{\"cached_tokens\":0},"                    \
       "\"completion_tokens_details\":{\"reasoning_tokens\":0}},"            \
       "\"obfuscation\":\"x\"}")

static const char chat_refusal_json[] =
    "{\"id\":\"chatcmpl-9\",\"object\":\"chat.completion\",\"created\":1,"
    "\"model\":\"gpt-4o-mini\",\"choices\":[{\"index\":0,\"message\":{"
    "\"role\":\"assistant\",\"content\":null,\"refusal\":\"I'm sorry, I "
    "can't help with that.\",\"annotations\":[]},\"logprobs\":null,"
    "\"finish_reason\":\"stop\"}],\"usage\":{\"prompt_tokens\":12,"
    "\"completion_tokens\":9,\"total_tokens\":21}}";
static const char chat_refusal_sse[] =
    CHAT_CHUNK("{\"role\":\"assistant\",\"content\":null,\"refusal\":\"\"}",
               "null")
    CHAT_CHUNK("{\"refusal\":\"I'm sorry, I\"}", "null")
    CHAT_CHUNK("{\"refusal\":\" can't help with that.\"}", "null")
    CHAT_CHUNK("{}", "\"stop\"")
    CHAT_USAGE(12, 9)
    "data: [DONE]\n\n";
static const char chat_ok_json[] =
    "{\"id\":\"c\",\"object\":\"chat.completion\",\"choices\":[{\"index\":0,"
    "\"message\":{\"role\":\"assistant\",\"content\":\"fine\","
    "\"refusal\":null},\"finish_reason\":\"stop\"}],\"usage\":"
    "{\"prompt_tokens\":3,\"completion_tokens\":1}}";
/* the real first delta (content "", refusal null), two choices (n=2)
 * interleaved, finish "length", then the usage-only chunk */
static const char chat_two_choices_sse[] =
    CHAT_CHUNK("{\"role\":\"assistant\",\"content\":\"\",\"refusal\":null}",
               "null")
    DATA(CHAT_HEAD "\"choices\":[{\"index\":1,\"delta\":{\"role\":"
         "\"assistant\",\"content\":\"\"},\"finish_reason\":null}]}")
    CHAT_CHUNK("{\"content\":\"Hel\"}", "null")
    DATA(CHAT_HEAD "\"choices\":[{\"index\":1,\"delta\":{\"content\":"
         "\"OTHER\"},\"finish_reason\":null}]}")
    CHAT_CHUNK("{\"content\":\"lo\"}", "null")
    DATA(CHAT_HEAD "\"choices\":[{\"index\":1,\"delta\":{},"
         "\"finish_reason\":\"stop\"}]}")
    CHAT_CHUNK("{}", "\"length\"")
    CHAT_USAGE(5, 2)
    "data: [DONE]\n\n";
static const char chat_two_choices_json[] =
    "{\"id\":\"c\",\"object\":\"chat.completion\",\"choices\":["
    "{\"index\":1,\"message\":{\"role\":\"assistant\",\"content\":\"OTHER\"},"
    "\"finish_reason\":\"stop\"},"
    "{\"index\":0,\"message\":{\"role\":\"assistant\",\"content\":\"Hello\"},"
    "\"finish_reason\":\"length\"}],\"usage\":{\"prompt_tokens\":5,"
    "\"completion_tokens\":2}}";
static const char chat_ok_sse[] =
    CHAT_CHUNK("{\"role\":\"assistant\",\"content\":\"\",\"refusal\":null}",
               "null")
    CHAT_CHUNK("{\"content\":\"fine\"}", "null")
    CHAT_CHUNK("{}", "\"stop\"")
    CHAT_USAGE(3, 1)
    "data: [DONE]\n\n";

TEST(chat_refusal_is_an_answer) {
  int stream;
  for (stream = 0; stream < 2; stream++) {
    out_t o;
    echo_canned_set(&canned, 1, stream ? SSE_CT : JSON_CT,
                    stream ? chat_refusal_sse : chat_refusal_json);
    ASSERT_EQ(run_canned("openai_chat", "", 2, stream, &o), 0);
    ASSERT_EQ(o.status, LGW_EREFUSED);
    ASSERT_STREQ(lgw_err_name(o.status), "refused");
    ASSERT_EQ(o.has_refusal, 1);
    ASSERT_STREQ(o.refusal, "I'm sorry, I can't help with that.");
    ASSERT_STREQ(o.err, "LLM request for task 't': the model refused to "
                 "answer (provider #1, p1): I'm sorry, I can't help with "
                 "that.");
    ASSERT_EQ(o.ndeltas, 0);
    ASSERT_EQ(o.has_partial, 0);
    /* not retried, no failover */
    ASSERT_EQ(o.natt, 1);
    ASSERT_EQ(canned.served, 1);
    ASSERT_EQ(o.att_code[0], LGW_EREFUSED);
    ASSERT_CONTAINS(o.att_msg[0], ": the model refused: I'm sorry, I can't "
                    "help with that.");
    ASSERT_EQ(o.total.input_tokens, 12);
    ASSERT_EQ(o.total.output_tokens, 9);
  }
}

TEST(chat_refusal_fails_over_when_asked) {
  int stream;
  for (stream = 0; stream < 2; stream++) {
    out_t o;
    echo_canned_set(&canned, 2, stream ? SSE_CT : JSON_CT,
                    stream ? chat_refusal_sse : chat_refusal_json,
                    stream ? SSE_CT : JSON_CT,
                    stream ? chat_ok_sse : chat_ok_json);
    ASSERT_EQ(run_canned("openai_chat", "  failover_on_refusal: true\n", 2,
                         stream, &o), 0);
    ASSERT_EQ(o.status, 0);
    ASSERT_STREQ(o.text, "fine");
    ASSERT_EQ(o.provider_index, 2);
    ASSERT_EQ(o.natt, 2);
    ASSERT_EQ(o.att_code[0], LGW_EREFUSED);
    ASSERT_EQ(o.att_cfg[1], 2);
    ASSERT_STREQ(o.finish, "stop");
    ASSERT_EQ(o.has_refusal, 0);
    /* every provider refused: the request ends refused */
    echo_canned_set(&canned, 1, stream ? SSE_CT : JSON_CT,
                    stream ? chat_refusal_sse : chat_refusal_json);
    ASSERT_EQ(run_canned("openai_chat", "  failover_on_refusal: true\n", 2,
                         stream, &o), 0);
    ASSERT_EQ(o.status, LGW_EREFUSED);
    ASSERT_EQ(o.natt, 2);
    ASSERT_STREQ(o.refusal, "I'm sorry, I can't help with that.");
    ASSERT_CONTAINS(o.err, "was refused by the model; no provider answered:");
  }
}

TEST(chat_only_choice_zero) {
  int stream;
  for (stream = 0; stream < 2; stream++) {
    out_t o;
    echo_canned_set(&canned, 1, stream ? SSE_CT : JSON_CT,
                    stream ? chat_two_choices_sse : chat_two_choices_json);
    ASSERT_EQ(run_canned("openai_chat", "", 1, stream, &o), 0);
    ASSERT_EQ(o.status, 0);
    ASSERT_STREQ(o.text, "Hello");
    ASSERT_STREQ(o.finish, "length");
    ASSERT_EQ(o.usage.input_tokens, 5);
    ASSERT_EQ(o.usage.output_tokens, 2);
    if (stream) {
      ASSERT_EQ(o.ndeltas, 2);
      ASSERT_STREQ(o.deltas[0], "Hel");
      ASSERT_STREQ(o.deltas[1], "lo");
    }
  }
}

/* Chat error events: a named "error" event with a flat object, and a data
 * line {"error": {...}} */
static const char chat_named_error_sse[] =
    EV("error", "{\"message\":\"The server had an error while processing "
       "your request.\",\"type\":\"server_error\",\"param\":null,"
       "\"code\":null}")
    "data: [DONE]\n\n";
static const char chat_error_after_delta_sse[] =
    CHAT_CHUNK("{\"role\":\"assistant\",\"content\":\"\",\"refusal\":null}",
               "null")
    CHAT_CHUNK("{\"content\":\"Hel\"}", "null")
    EV("error", "{\"message\":\"Overloaded\",\"type\":\"server_error\","
       "\"code\":null}")
    CHAT_CHUNK("{}", "\"stop\"")
    "data: [DONE]\n\n";
static const char chat_invalid_error_sse[] =
    DATA("{\"error\":{\"message\":\"Invalid 'messages': empty.\",\"type\":"
         "\"invalid_request_error\",\"param\":\"messages\",\"code\":null}}")
    "data: [DONE]\n\n";

TEST(chat_error_events) {
  out_t o;
  /* before the first delta: retried like a 500, the provider's message */
  echo_canned_set(&canned, 2, SSE_CT, chat_named_error_sse, SSE_CT,
                  chat_ok_sse);
  ASSERT_EQ(run_canned("openai_chat", "", 1, 1, &o), 0);
  ASSERT_EQ(o.status, 0);
  ASSERT_STREQ(o.text, "fine");
  ASSERT_EQ(o.natt, 2);
  ASSERT_EQ(o.att_code[0], LGW_EHTTP);
  ASSERT_CONTAINS(o.att_msg[0], "stream error: server_error: The server had "
                  "an error while processing your request.");
  /* after it: the request ends, the text so far kept; [DONE] after the
   * error does not make it a success */
  echo_canned_set(&canned, 1, SSE_CT, chat_error_after_delta_sse);
  ASSERT_EQ(run_canned("openai_chat", "", 2, 1, &o), 0);
  ASSERT_EQ(o.status, LGW_EHTTP);
  ASSERT_EQ(o.natt, 1);
  ASSERT_STREQ(o.partial, "Hel");
  ASSERT_CONTAINS(o.err, "server_error: Overloaded");
  /* an invalid request is not retried on the same provider */
  echo_canned_set(&canned, 1, SSE_CT, chat_invalid_error_sse);
  ASSERT_EQ(run_canned("openai_chat", "", 1, 1, &o), 0);
  ASSERT_EQ(o.status, LGW_EHTTP);
  ASSERT_EQ(o.natt, 1);
  ASSERT_CONTAINS(o.err, "invalid_request_error: Invalid 'messages': empty.");
  /* the same body for a call that is not streamed */
  echo_canned_set(&canned, 1, SSE_CT, chat_invalid_error_sse);
  ASSERT_EQ(run_canned("openai_chat", "", 1, 0, &o), 0);
  ASSERT_EQ(o.status, LGW_EHTTP);
  ASSERT_EQ(o.natt, 1);
  ASSERT_CONTAINS(o.err, "invalid_request_error: Invalid 'messages': empty.");
}

/* A malformed event: never dropped. A byte order mark: skipped. */
static const char chat_bad_event_sse[] =
    CHAT_CHUNK("{\"content\":\"hel\"}", "null")
    "data: {\"choices\":[{\"index\":0,\"delta\":{\"content\":\"XX\"}\n\n"
    CHAT_CHUNK("{\"content\":\"lo\"}", "\"stop\"")
    "data: [DONE]\n\n";
static const char chat_bad_first_sse[] =
    "data: {oops\n\n"
    CHAT_CHUNK("{\"content\":\"hello\"}", "\"stop\"")
    "data: [DONE]\n\n";
static const char chat_bom_sse[] =
    "\xEF\xBB\xBF" CHAT_CHUNK("{\"content\":\"he\"}", "null")
    CHAT_CHUNK("{\"content\":\"y\"}", "\"stop\"")
    "data: [DONE]\n\n";

TEST(chat_malformed_event_and_bom) {
  out_t o;
  echo_canned_set(&canned, 1, SSE_CT, chat_bad_event_sse);
  ASSERT_EQ(run_canned("openai_chat", "", 2, 1, &o), 0);
  ASSERT_EQ(o.status, LGW_ERESPONSE);
  ASSERT_STREQ(o.partial, "hel");
  ASSERT_EQ(o.natt, 1);
  ASSERT_CONTAINS(o.err, "stream error: malformed event (not JSON): "
                  "{\"choices\":[{\"index\":0,\"delta\":{\"content\":\"XX\"}");
  /* before the first delta: retried like any bad response */
  echo_canned_set(&canned, 2, SSE_CT, chat_bad_first_sse, SSE_CT, chat_ok_sse);
  ASSERT_EQ(run_canned("openai_chat", "", 1, 1, &o), 0);
  ASSERT_EQ(o.status, 0);
  ASSERT_STREQ(o.text, "fine");
  ASSERT_EQ(o.natt, 2);
  ASSERT_EQ(o.att_code[0], LGW_ERESPONSE);
  ASSERT_CONTAINS(o.att_msg[0], "malformed event (not JSON): {oops");
  echo_canned_set(&canned, 1, SSE_CT, chat_bom_sse);
  ASSERT_EQ(run_canned("openai_chat", "", 1, 1, &o), 0);
  ASSERT_EQ(o.status, 0);
  ASSERT_STREQ(o.text, "hey");
  ASSERT_EQ(o.ndeltas, 2);
  echo_canned_set(&canned, 1, SSE_CT, chat_bom_sse);
  ASSERT_EQ(run_canned("openai_chat", "", 1, 0, &o), 0);
  ASSERT_EQ(o.status, 0);
  ASSERT_STREQ(o.text, "hey");
}

/* U+0000 inside an answer: 6 bytes, nothing cut, in every format */
static const char nul_chat_json[] =
    "{\"choices\":[{\"index\":0,\"message\":{\"role\":\"assistant\","
    "\"content\":\"he\\u0000llo\"},\"finish_reason\":\"stop\"}]}";
static const char nul_chat_sse[] =
    CHAT_CHUNK("{\"content\":\"he\\u0000\"}", "null")
    CHAT_CHUNK("{\"content\":\"llo\"}", "\"stop\"")
    "data: [DONE]\n\n";
static const char nul_responses_json[] =
    "{\"status\":\"completed\",\"output\":[{\"type\":\"message\",\"content\":"
    "[{\"type\":\"output_text\",\"text\":\"he\\u0000llo\"}]}]}";
static const char nul_anthropic_sse[] =
    EV("message_start", "{\"type\":\"message_start\",\"message\":{\"usage\":"
       "{\"input_tokens\":1,\"output_tokens\":1}}}")
    EV("content_block_delta", "{\"type\":\"content_block_delta\",\"index\":0,"
       "\"delta\":{\"type\":\"text_delta\",\"text\":\"he\\u0000llo\"}}")
    EV("message_stop", "{\"type\":\"message_stop\"}");

TEST(nul_never_truncates) {
  out_t o;
  int stream;
  for (stream = 0; stream < 2; stream++) {
    echo_canned_set(&canned, 1, stream ? SSE_CT : JSON_CT,
                    stream ? nul_chat_sse : nul_chat_json);
    ASSERT_EQ(run_canned("openai_chat", "", 1, stream, &o), 0);
    ASSERT_EQ(o.status, 0);
    ASSERT_EQ(o.text_len, 6);
    echo_canned_set(&canned, 1, JSON_CT, nul_responses_json);
    ASSERT_EQ(run_canned("responses", "", 1, stream, &o), 0);
    ASSERT_EQ(o.status, 0);
    ASSERT_EQ(o.text_len, 6);
    echo_canned_set(&canned, 1, SSE_CT, nul_anthropic_sse);
    ASSERT_EQ(run_canned("anthropic", "", 1, stream, &o), 0);
    ASSERT_EQ(o.status, 0);
    ASSERT_EQ(o.text_len, 6);
  }
}

/* ---- Responses fixtures ---- */

#define RESP_OBJ(status, extra)                                             \
  "{\"id\":\"resp_1\",\"object\":\"response\",\"status\":\"" status "\","  \
  "\"error\":null,\"model\":\"gpt-4o-mini\"" extra "}"

static const char responses_refusal_json[] =
    RESP_OBJ("completed", ",\"output\":[{\"type\":\"message\",\"id\":\"msg_1\","
             "\"status\":\"completed\",\"role\":\"assistant\",\"content\":["
             "{\"type\":\"refusal\",\"refusal\":\"I can't assist with that."
             "\"}]}],\"usage\":{\"input_tokens\":20,\"output_tokens\":7,"
             "\"output_tokens_details\":{\"reasoning_tokens\":0}}");
static const char responses_refusal_sse[] =
    EV("response.created", "{\"type\":\"response.created\",\"sequence_number\":"
       "0,\"response\":" RESP_OBJ("in_progress", ",\"output\":[],\"usage\":null")
       "}")
    EV("response.content_part.added", "{\"type\":\"response.content_part."
       "added\",\"item_id\":\"msg_1\",\"output_index\":0,\"content_index\":0,"
       "\"part\":{\"type\":\"refusal\",\"refusal\":\"\"}}")
    EV("response.refusal.delta", "{\"type\":\"response.refusal.delta\","
       "\"item_id\":\"msg_1\",\"output_index\":0,\"content_index\":0,"
       "\"delta\":\"I can't assist\"}")
    EV("response.refusal.delta", "{\"type\":\"response.refusal.delta\","
       "\"item_id\":\"msg_1\",\"output_index\":0,\"content_index\":0,"
       "\"delta\":\" with that.\"}")
    EV("response.refusal.done", "{\"type\":\"response.refusal.done\","
       "\"item_id\":\"msg_1\",\"output_index\":0,\"content_index\":0,"
       "\"refusal\":\"I can't assist with that.\"}")
    EV("response.completed", "{\"type\":\"response.completed\",\"response\":"
       "{\"status\":\"completed\",\"output\":[{\"type\":\"message\","
       "\"content\":[{\"type\":\"refusal\",\"refusal\":\"I can't assist with "
       "that.\"}]}],\"usage\":{\"input_tokens\":20,\"output_tokens\":7}}}");
/* background mode (queued), reasoning summaries before the text, no
 * event: lines, a final [DONE]; cut by max_output_tokens */
static const char responses_incomplete_sse[] =
    DATA("{\"type\":\"response.queued\",\"sequence_number\":0,\"response\":"
         RESP_OBJ("queued", ",\"background\":true,\"output\":[]") "}")
    DATA("{\"type\":\"response.in_progress\",\"response\":"
         RESP_OBJ("in_progress", ",\"output\":[]") "}")
    DATA("{\"type\":\"response.reasoning_summary_text.delta\",\"item_id\":"
         "\"rs_1\",\"output_index\":0,\"summary_index\":0,\"delta\":\"**Thinking "
         "about the answer** at length, weighing every option\"}")
    DATA("{\"type\":\"response.reasoning_summary_text.done\",\"item_id\":"
         "\"rs_1\",\"output_index\":0,\"summary_index\":0,\"text\":\"**T**\"}")
    DATA("{\"type\":\"response.output_text.delta\",\"item_id\":\"msg_1\","
         "\"output_index\":1,\"content_index\":0,\"delta\":\"The answer is\"}")
    DATA("{\"type\":\"response.incomplete\",\"response\":"
         RESP_OBJ("incomplete", ",\"incomplete_details\":{\"reason\":"
                  "\"max_output_tokens\"},\"output\":[],\"usage\":"
                  "{\"input_tokens\":11,\"output_tokens\":16,"
                  "\"output_tokens_details\":{\"reasoning_tokens\":12}}") "}")
    "data: [DONE]\n\n";
static const char responses_incomplete_json[] =
    "{\"id\":\"resp_1\",\"object\":\"response\",\"status\":\"incomplete\","
    "\"incomplete_details\":{\"reason\":\"max_output_tokens\"},\"output\":["
    "{\"type\":\"reasoning\",\"id\":\"rs_1\",\"summary\":[{\"type\":"
    "\"summary_text\",\"text\":\"**T**\"}]},{\"type\":\"message\",\"content\":"
    "[{\"type\":\"output_text\",\"text\":\"The answer is\"}]}],\"usage\":"
    "{\"input_tokens\":11,\"output_tokens\":16,\"output_tokens_details\":"
    "{\"reasoning_tokens\":12}}}";
static const char responses_failed_sse[] =
    EV("response.created", "{\"type\":\"response.created\",\"response\":"
       RESP_OBJ("in_progress", ",\"output\":[]") "}")
    EV("response.failed", "{\"type\":\"response.failed\",\"response\":"
       "{\"status\":\"failed\",\"error\":{\"code\":\"server_error\","
       "\"message\":\"The model failed to generate a response.\"}}}");
static const char responses_error_after_sse[] =
    EV("response.output_text.delta", "{\"type\":\"response.output_text."
       "delta\",\"output_index\":0,\"content_index\":0,\"delta\":\"Par\"}")
    EV("error", "{\"type\":\"error\",\"code\":\"invalid_prompt\",\"message\":"
       "\"Invalid prompt.\",\"param\":null}");
static const char responses_incomplete_filter_sse[] =
    EV("response.incomplete", "{\"type\":\"response.incomplete\",\"response\":"
       "{\"status\":\"incomplete\",\"incomplete_details\":{\"reason\":"
       "\"server_shutdown\"}}}");
static const char responses_ok_sse[] =
    EV("response.output_text.delta", "{\"type\":\"response.output_text."
       "delta\",\"output_index\":0,\"content_index\":0,\"delta\":\"ok\"}")
    EV("response.completed", "{\"type\":\"response.completed\",\"response\":"
       "{\"status\":\"completed\",\"usage\":{\"input_tokens\":1,"
       "\"output_tokens\":1}}}");

TEST(responses_answers) {
  out_t o;
  int stream;
  for (stream = 0; stream < 2; stream++) {
    echo_canned_set(&canned, 1, stream ? SSE_CT : JSON_CT,
                    stream ? responses_refusal_sse : responses_refusal_json);
    ASSERT_EQ(run_canned("responses", "", 2, stream, &o), 0);
    ASSERT_EQ(o.status, LGW_EREFUSED);
    ASSERT_STREQ(o.refusal, "I can't assist with that.");
    ASSERT_EQ(o.natt, 1);
    ASSERT_EQ(o.ndeltas, 0);
    ASSERT_EQ(o.total.input_tokens, 20);
    ASSERT_EQ(o.total.output_tokens, 7);
    echo_canned_set(&canned, 1, stream ? SSE_CT : JSON_CT,
                    stream ? responses_incomplete_sse
                           : responses_incomplete_json);
    ASSERT_EQ(run_canned("responses", "", 1, stream, &o), 0);
    ASSERT_EQ(o.status, 0);
    ASSERT_STREQ(o.text, "The answer is");
    ASSERT_STREQ(o.finish, "length");
    ASSERT_EQ(o.usage.input_tokens, 11);
    ASSERT_EQ(o.usage.output_tokens, 16);
    ASSERT_EQ(o.usage.reasoning_tokens, 12);
    if (stream) {
      ASSERT_EQ(o.ndeltas, 1);
      ASSERT_STREQ(o.joined, "The answer is");
    }
  }
  /* response.failed before any text: retried like a 500 */
  echo_canned_set(&canned, 2, SSE_CT, responses_failed_sse, SSE_CT,
                  responses_ok_sse);
  ASSERT_EQ(run_canned("responses", "", 1, 1, &o), 0);
  ASSERT_EQ(o.status, 0);
  ASSERT_STREQ(o.text, "ok");
  ASSERT_STREQ(o.finish, "stop");
  ASSERT_EQ(o.natt, 2);
  ASSERT_CONTAINS(o.att_msg[0], "stream error: server_error: The model "
                  "failed to generate a response.");
  /* an error event after text: the text so far kept */
  echo_canned_set(&canned, 1, SSE_CT, responses_error_after_sse);
  ASSERT_EQ(run_canned("responses", "", 2, 1, &o), 0);
  ASSERT_EQ(o.status, LGW_EHTTP);
  ASSERT_STREQ(o.partial, "Par");
  ASSERT_EQ(o.natt, 1);
  ASSERT_CONTAINS(o.err, "invalid_prompt: Invalid prompt.");
  /* incomplete for another reason: an error of the provider */
  echo_canned_set(&canned, 2, SSE_CT, responses_incomplete_filter_sse, SSE_CT,
                  responses_ok_sse);
  ASSERT_EQ(run_canned("responses", "", 1, 1, &o), 0);
  ASSERT_EQ(o.status, 0);
  ASSERT_EQ(o.natt, 2);
  ASSERT_CONTAINS(o.att_msg[0], "response.incomplete: server_shutdown");
}

/* ---- Anthropic fixtures ---- */

#define MSG_START(usage)                                                    \
  EV("message_start", "{\"type\":\"message_start\",\"message\":{\"id\":"    \
     "\"msg_1\",\"type\":\"message\",\"role\":\"assistant\",\"model\":"      \
     "\"claude-sonnet-4-5\",\"content\":[],\"stop_reason\":null,"           \
     "\"stop_sequence\":null,\"usage\":" usage "}}")

static const char anthropic_refusal_json[] =
    "{\"id\":\"msg_1\",\"type\":\"message\",\"role\":\"assistant\","
    "\"model\":\"claude-sonnet-4-5\",\"content\":[{\"type\":\"text\","
    "\"text\":\"I won't help with that.\"}],\"stop_reason\":\"refusal\","
    "\"stop_sequence\":null,\"usage\":{\"input_tokens\":30,"
    "\"output_tokens\":6}}";
static const char anthropic_refusal_sse[] =
    MSG_START("{\"input_tokens\":30,\"output_tokens\":1}")
    EV("content_block_start", "{\"type\":\"content_block_start\",\"index\":0,"
       "\"content_block\":{\"type\":\"text\",\"text\":\"\"}}")
    EV("content_block_delta", "{\"type\":\"content_block_delta\",\"index\":0,"
       "\"delta\":{\"type\":\"text_delta\",\"text\":\"I won't help with "
       "that.\"}}")
    EV("content_block_stop", "{\"type\":\"content_block_stop\",\"index\":0}")
    EV("message_delta", "{\"type\":\"message_delta\",\"delta\":{"
       "\"stop_reason\":\"refusal\",\"stop_sequence\":null},\"usage\":{"
       "\"output_tokens\":6}}")
    EV("message_stop", "{\"type\":\"message_stop\"}");
/* pings, data lines padded with spaces, a thinking block (empty deltas,
 * a signature), cumulative usage with thinking tokens, a tool block cut
 * by max_tokens without its content_block_stop */
static const char anthropic_real_sse[] =
    MSG_START("{\"input_tokens\":412,\"cache_creation_input_tokens\":0,"
              "\"cache_read_input_tokens\":100,\"output_tokens\":2,"
              "\"output_tokens_details\":{\"thinking_tokens\":0}}")
    "event: ping\ndata:    {\"type\": \"ping\"}   \n\n"
    EV("content_block_start", "{\"type\":\"content_block_start\",\"index\":0,"
       "\"content_block\":{\"type\":\"thinking\",\"thinking\":\"\","
       "\"signature\":\"\"}}")
    EV("content_block_delta", "{\"type\":\"content_block_delta\",\"index\":0,"
       "\"delta\":{\"type\":\"thinking_delta\",\"thinking\":\"\"}}")
    EV("content_block_delta", "{\"type\":\"content_block_delta\",\"index\":0,"
       "\"delta\":{\"type\":\"thinking_delta\",\"thinking\":\"Let me think "
       "about Paris.\"}}")
    EV("content_block_delta", "{\"type\":\"content_block_delta\",\"index\":0,"
       "\"delta\":{\"type\":\"signature_delta\",\"signature\":\"EqQBCgIYAhIM"
       "\"}}")
    EV("content_block_stop", "{\"type\":\"content_block_stop\",\"index\":0}")
    EV("content_block_start", "{\"type\":\"content_block_start\",\"index\":1,"
       "\"content_block\":{\"type\":\"text\",\"text\":\"\"}}")
    "event: content_block_delta\ndata:   {\"type\":\"content_block_delta\","
    "\"index\":1,\"delta\":{\"type\":\"text_delta\",\"text\":\"I'll check "
    "the weather.\"}}  \n\n"
    EV("content_block_stop", "{\"type\":\"content_block_stop\",\"index\":1}")
    "event: ping\ndata: {\"type\": \"ping\"}\n\n"
    EV("content_block_start", "{\"type\":\"content_block_start\",\"index\":2,"
       "\"content_block\":{\"type\":\"tool_use\",\"id\":\"toolu_1\","
       "\"name\":\"get_weather\",\"input\":{}}}")
    EV("content_block_delta", "{\"type\":\"content_block_delta\",\"index\":2,"
       "\"delta\":{\"type\":\"input_json_delta\",\"partial_json\":"
       "\"{\\\"city\\\": \\\"Par\"}}")
    EV("message_delta", "{\"type\":\"message_delta\",\"delta\":{"
       "\"stop_reason\":\"max_tokens\",\"stop_sequence\":null},\"usage\":{"
       "\"input_tokens\":412,\"cache_creation_input_tokens\":0,"
       "\"cache_read_input_tokens\":100,\"output_tokens\":64,"
       "\"output_tokens_details\":{\"thinking_tokens\":40}}}")
    EV("message_stop", "{\"type\":\"message_stop\"}");
static const char anthropic_real_json[] =
    "{\"id\":\"msg_1\",\"type\":\"message\",\"role\":\"assistant\","
    "\"content\":[{\"type\":\"thinking\",\"thinking\":\"Let me think about "
    "Paris.\",\"signature\":\"EqQBCgIYAhIM\"},{\"type\":\"text\",\"text\":"
    "\"I'll check the weather.\"},{\"type\":\"tool_use\",\"id\":\"toolu_1\","
    "\"name\":\"get_weather\",\"input\":{}}],\"stop_reason\":\"max_tokens\","
    "\"usage\":{\"input_tokens\":412,\"cache_read_input_tokens\":100,"
    "\"output_tokens\":64,\"output_tokens_details\":{\"thinking_tokens\":40}}}";
static const char anthropic_overloaded_after_sse[] =
    MSG_START("{\"input_tokens\":5,\"output_tokens\":1}")
    EV("content_block_delta", "{\"type\":\"content_block_delta\",\"index\":0,"
       "\"delta\":{\"type\":\"text_delta\",\"text\":\"Bon\"}}")
    EV("error", "{\"type\":\"error\",\"error\":{\"type\":\"overloaded_error\","
       "\"message\":\"Overloaded\"},\"request_id\":\"req_1\"}");
static const char anthropic_overloaded_sse[] =
    MSG_START("{\"input_tokens\":5,\"output_tokens\":1}")
    EV("error", "{\"type\":\"error\",\"error\":{\"type\":\"overloaded_error\","
       "\"message\":\"Overloaded\"}}");
static const char anthropic_ok_sse[] =
    EV("content_block_delta", "{\"type\":\"content_block_delta\",\"index\":0,"
       "\"delta\":{\"type\":\"text_delta\",\"text\":\"ok\"}}")
    EV("message_delta", "{\"type\":\"message_delta\",\"delta\":{"
       "\"stop_reason\":\"end_turn\"},\"usage\":{\"output_tokens\":1}}")
    EV("message_stop", "{\"type\":\"message_stop\"}");

TEST(anthropic_answers) {
  out_t o;
  int stream;
  for (stream = 0; stream < 2; stream++) {
    echo_canned_set(&canned, 1, stream ? SSE_CT : JSON_CT,
                    stream ? anthropic_refusal_sse : anthropic_refusal_json);
    ASSERT_EQ(run_canned("anthropic", "", 2, stream, &o), 0);
    ASSERT_EQ(o.status, LGW_EREFUSED);
    ASSERT_STREQ(o.refusal, "I won't help with that.");
    ASSERT_CONTAINS(o.err, "the model refused to answer (provider #1, p1): "
                    "I won't help with that.");
    ASSERT_EQ(o.natt, 1);
    ASSERT_EQ(o.total.input_tokens, 30);
    ASSERT_EQ(o.total.output_tokens, 6);
    /* streamed, the refused text was already delivered */
    ASSERT_EQ(o.has_partial, stream);
    if (stream) ASSERT_STREQ(o.partial, "I won't help with that.");
    echo_canned_set(&canned, 1, stream ? SSE_CT : JSON_CT,
                    stream ? anthropic_real_sse : anthropic_real_json);
    ASSERT_EQ(run_canned("anthropic", "", 1, stream, &o), 0);
    ASSERT_EQ(o.status, 0);
    ASSERT_STREQ(o.text, "I'll check the weather.");
    ASSERT_STREQ(o.finish, "length");
    ASSERT_EQ(o.usage.input_tokens, 412);
    ASSERT_EQ(o.usage.output_tokens, 64);
    ASSERT_EQ(o.usage.cached_tokens, 100);
    ASSERT_EQ(o.usage.reasoning_tokens, 40);
    if (stream) {
      ASSERT_EQ(o.ndeltas, 1);
      ASSERT_STREQ(o.deltas[0], "I'll check the weather.");
    }
  }
  echo_canned_set(&canned, 2, SSE_CT, anthropic_overloaded_sse, SSE_CT,
                  anthropic_ok_sse);
  ASSERT_EQ(run_canned("anthropic", "", 1, 1, &o), 0);
  ASSERT_EQ(o.status, 0);
  ASSERT_STREQ(o.text, "ok");
  ASSERT_STREQ(o.finish, "stop");
  ASSERT_EQ(o.natt, 2);
  /* overloaded_error is retried on the same provider, as a 529 */
  ASSERT_EQ(o.att_cfg[0], 1);
  ASSERT_EQ(o.att_cfg[1], 1);
  ASSERT_CONTAINS(o.att_msg[0], "stream error: overloaded_error: Overloaded");
  echo_canned_set(&canned, 1, SSE_CT, anthropic_overloaded_after_sse);
  ASSERT_EQ(run_canned("anthropic", "", 2, 1, &o), 0);
  ASSERT_EQ(o.status, LGW_EHTTP);
  ASSERT_EQ(o.natt, 1);
  ASSERT_STREQ(o.partial, "Bon");
  ASSERT_CONTAINS(o.err, "overloaded_error: Overloaded");
}


/* A deadline of infinity or >= 1e9 s is none (not one that has passed). */
TEST(unbounded_deadline) {
  static const double deadlines[] = {1e9, 1e300, 0};
  char yaml[512];
  size_t i;
  for (i = 0; i < 3; i++) {
    lgw_runtime_t *rt;
    lgw_gateway_t *gw;
    lgw_gateway_options_t opts;
    lgw_request_t r;
    lgw_message_t m = {"user", "d"};
    out_t o;
    snprintf(yaml, sizeof yaml, GWS_SETTINGS("") "providers:\n"
             PROV("openai_chat", ""), sim.base);
    rt = gws_load("%s", yaml);
    ASSERT(rt != NULL);
    memset(&opts, 0, sizeof opts);
    opts.no_state = 1;
    ASSERT_EQ(lgw_gateway_new(rt, &opts, &gw, NULL), 0);
    lgw_runtime_free(rt);
    memset(&r, 0, sizeof r);
    memset(&o, 0, sizeof o);
    r.task = "t";
    r.messages = &m;
    r.nmessages = 1;
    r.deadline = deadlines[i] ? deadlines[i] : HUGE_VAL;
    ASSERT_EQ(lgw_gateway_submit(gw, &r, on_done, &o, NULL, NULL), 0);
    ASSERT_EQ(lgw_gateway_run(gw), 0);
    lgw_gateway_free(gw);
    ASSERT_EQ(o.status, 0);
    ASSERT_STREQ(o.text, "echo(m1): d");
    ASSERT_STREQ(o.finish, "stop");
  }
}

int main(int argc, char **argv) {
  const char *only = argc > 1 ? argv[1] : NULL;
  lgw_set_log(gws_quiet_log, NULL, LGW_LOG_DEBUG);
  canned_srv = echo_start(echo_canned, &canned);
  if (!canned_srv || sim_start(&sim, NULL) != 0) {
    fprintf(stderr, "simulator did not start\n");
    printf("RESULT 0 1\n");
    return 1;
  }
#define R(fn) if (!only || strstr(#fn, only)) RUN(fn)
  R(stream_responses);
  R(stream_openai_chat);
  R(stream_anthropic);
  R(stream_litellm);
  R(first_token_timeout_fails_over);
  R(idle_timeout_after_first_delta_no_retry);
  R(idle_timeout_before_first_delta_retried);
  R(cut_before_first_delta_retried);
  R(cut_after_first_delta_no_failover);
  R(error_event_529_retried_same_provider);
  R(error_event_400_fails_over);
  R(error_event_after_delta_ends_with_partial);
  R(no_terminal_event_is_an_error);
  R(json_answer_to_stream_is_one_delta);
  R(chat_refusal_is_an_answer);
  R(chat_refusal_fails_over_when_asked);
  R(chat_only_choice_zero);
  R(chat_error_events);
  R(chat_malformed_event_and_bom);
  R(nul_never_truncates);
  R(responses_answers);
  R(anthropic_answers);
  R(unbounded_deadline);
  sim_stop(&sim);
  echo_stop(canned_srv);
  return TEST_SUMMARY();
}
