/*
 * test_stream.c -- streamed requests against the provider simulator: the
 * exact deltas and final result per wire format, usage asked for and
 * read, the first-token and idle timeouts, retry and failover before the
 * first delta and none after it (the error carries the partial text),
 * error events classified like their status, a stream ending without its
 * terminal event, and a provider that answers a stream request with JSON.
 */
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <uv.h>

#include "llmgateway.h"
#include "gw_support.h"
#include "sim_support.h"
#include "util.h"
#include "test.h"

static sim_t sim;

typedef struct out {
  int calls, status, ndeltas, deltas_at_done, provider_index;
  char deltas[16][64];
  char joined[512], text[512], partial[512], err[2048];
  int has_partial;
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


/* One streamed request on a fresh gateway; frees rt. */
static int run_stream(lgw_runtime_t *rt, const char *content, out_t *o) {
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
  r.on_delta = on_delta;
  r.delta_ud = o;
  rc = lgw_gateway_submit(gw, &r, on_done, o, NULL, NULL);
  if (rc == 0) rc = lgw_gateway_run(gw);
  lgw_gateway_free(gw);
  return rc;
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
  ASSERT_EQ(o.status, LGW_EEXHAUSTED);
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

int main(int argc, char **argv) {
  const char *only = argc > 1 ? argv[1] : NULL;
  lgw_set_log(gws_quiet_log, NULL, LGW_LOG_DEBUG);
  if (sim_start(&sim, NULL) != 0) {
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
  sim_stop(&sim);
  return TEST_SUMMARY();
}
