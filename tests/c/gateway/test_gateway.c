/*
 * test_gateway.c -- the request lifecycle against the provider simulator:
 * each transport end to end, retries and their delays (backoff,
 * retry-after in its three forms, the retry_after_max cap), failover
 * rules, the exhausted message, concurrency slots, per-attempt timeout,
 * overall deadline, cancel, free with work in flight, 1,000 requests at
 * once, the remembered provider, API-key redaction and the size cap.
 */
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>
#include <uv.h>

#include "config.h"
#include "gateway_priv.h"
#include "provider_state.h"
#include "gw_support.h"
#include "sim_support.h"
#include "test.h"

static sim_t sim;

/* ---- helpers ------------------------------------------------------------- */

typedef struct att_copy {
  int pi, status, code;
  double delay, elapsed;
  char msg[1024], model[64], type[32], url[160];
} att_copy_t;

typedef struct out {
  int calls, status, http_status, provider_index, has_err, providers_tried;
  char text[256], err[2048], api_style[32], model[64], base_url[160];
  long in_tok, out_tok;
  size_t natt;
  att_copy_t att[16];
  double t_done;  /* seconds after t0 */
  double t0;
  uint64_t id;
  int calls_at_cancel;
  int seq;        /* 1 for the first completion of the test, 2 ... */
  int nsleep;     /* waits the request started, and their seconds */
  double sleep[4];
} out_t;

static int done_seq;  /* completions so far; tests reset it */

/* gw->on_sleep: records the waits of the out_t's request. */
static void on_sleep(void *ud, uint64_t id, double seconds) {
  out_t *o = ud;
  (void)id;
  if (o->nsleep < 4) o->sleep[o->nsleep] = seconds;
  o->nsleep++;
}

static void on_done(lgw_gateway_t *gw, uint64_t id, int status,
                    const lgw_result_t *res, const lgw_error_t *err,
                    void *ud) {
  out_t *o = ud;
  size_t i;
  (void)gw;
  o->calls++;
  o->seq = ++done_seq;
  o->id = id;
  o->status = status;
  o->t_done = gws_now_s() - o->t0;
  o->has_err = err != NULL;
  gws_cp(o->err, sizeof o->err, err ? err->message : NULL);
  o->http_status = err ? err->http_status : 0;
  gws_cp(o->text, sizeof o->text, res->text);
  gws_cp(o->api_style, sizeof o->api_style, res->api_style);
  gws_cp(o->model, sizeof o->model, res->normalized_model);
  gws_cp(o->base_url, sizeof o->base_url, res->base_url);
  o->provider_index = res->provider_index;
  o->in_tok = res->input_tokens;
  o->out_tok = res->output_tokens;
  o->natt = res->nattempts;
  o->providers_tried = res->providers_tried;
  for (i = 0; i < res->nattempts && i < 16; i++) {
    const lgw_attempt_t *a = &res->attempts[i];
    o->att[i].pi = a->provider_index;
    o->att[i].status = a->http_status;
    o->att[i].code = a->code;
    o->att[i].delay = a->retry_delay;
    o->att[i].elapsed = a->elapsed;
    gws_cp(o->att[i].msg, sizeof o->att[i].msg, a->message);
    gws_cp(o->att[i].model, sizeof o->att[i].model, a->model);
    gws_cp(o->att[i].type, sizeof o->att[i].type, a->provider_type);
    gws_cp(o->att[i].url, sizeof o->att[i].url, a->base_url);
  }
}

/* Settings every test starts from; fast backoff. */

/* One provider entry (api_style, base_url, api_key, x-sim header). */
#define PROV(style, url, key, xsim)                                       \
  "  - provider_type: openai\n    api_style: " style "\n"                 \
  "    base_url: \"" url "\"\n    api_key: " key "\n" xsim


static void one_message(lgw_request_t *r, lgw_message_t *m, const char *task,
                        const char *content) {
  memset(r, 0, sizeof *r);
  m->role = "user";
  m->content = content;
  r->task = task;
  r->messages = m;
  r->nmessages = 1;
}

/* Run one request on a fresh gateway with its own loop. */
static int run_one(lgw_runtime_t *rt, const lgw_gateway_options_t *opts,
                   const char *content, double deadline, out_t *o) {
  lgw_gateway_t *gw;
  lgw_gateway_options_t def;
  lgw_request_t r;
  lgw_message_t m;
  int rc;
  memset(o, 0, sizeof *o);
  memset(&def, 0, sizeof def);
  def.no_state = 1;
  def.seed = 7;
  if ((rc = lgw_gateway_new(rt, opts ? opts : &def, &gw, NULL))) return rc;
  gw->on_sleep = on_sleep;
  gw->on_sleep_ud = o;
  one_message(&r, &m, "t", content);
  r.deadline = deadline;
  o->t0 = gws_now_s();
  rc = lgw_gateway_submit(gw, &r, on_done, o, NULL, NULL);
  if (rc == 0) rc = lgw_gateway_run(gw);
  lgw_gateway_free(gw);
  return rc;
}

/* ---- success per transport ------------------------------------------------ */

static void check_transport(const char *style, const char *api_style) {
  lgw_runtime_t *rt;
  out_t o;
  rt = gws_load(GWS_SETTINGS("") "providers:\n"
            "  - provider_type: openai\n    api_style: %s\n"
            "    base_url: %s\n    api_key: k1\n", style, sim.base);
  ASSERT(rt != NULL);
  ASSERT_EQ(run_one(rt, NULL, "hello world", 0, &o), 0);
  lgw_runtime_free(rt);
  ASSERT_EQ(o.calls, 1);
  ASSERT_EQ(o.status, 0);
  ASSERT_EQ(o.has_err, 0);
  ASSERT_STREQ(o.text, "echo(m1): hello world");
  ASSERT_STREQ(o.api_style, api_style);
  ASSERT_STREQ(o.model, "m1");
  ASSERT_STREQ(o.base_url, sim.base);
  ASSERT_EQ(o.provider_index, 1);
  ASSERT_EQ(o.in_tok, 2);
  ASSERT_EQ(o.out_tok, 3);
  ASSERT_EQ(o.natt, 1);
  ASSERT_EQ(o.att[0].code, 0);
  ASSERT_EQ(o.att[0].status, 200);
  ASSERT_STREQ(o.att[0].msg, "");
  ASSERT_STREQ(o.att[0].model, "m1");
  ASSERT_STREQ(o.att[0].type, "openai");
}

TEST(gw_responses) { check_transport("responses", "responses"); }
TEST(gw_openai_chat) { check_transport("openai_chat", "openai_chat"); }
TEST(gw_anthropic) { check_transport("anthropic", "anthropic"); }
TEST(gw_litellm) { check_transport("litellm", "litellm"); }

/* ---- retries -------------------------------------------------------------- */

TEST(gw_retry_503_twice) {
  lgw_runtime_t *rt = gws_load(GWS_SETTINGS("") "providers:\n"
                           PROV("openai_chat", "%s", "k1", ""), sim.base);
  out_t o;
  ASSERT(rt != NULL);
  ASSERT_EQ(run_one(rt, NULL, "@sim status=503 times=2 id=r503\nhello", 0,
                    &o), 0);
  lgw_runtime_free(rt);
  ASSERT_EQ(o.status, 0);
  ASSERT_STREQ(o.text, "echo(m1): hello");
  ASSERT_EQ(o.natt, 3);
  ASSERT_EQ(o.att[0].code, LGW_EHTTP);
  ASSERT_EQ(o.att[0].status, 503);
  ASSERT_EQ(o.att[1].code, LGW_EHTTP);
  ASSERT_EQ(o.att[1].status, 503);
  ASSERT_EQ(o.att[2].code, 0);
  ASSERT_EQ(o.att[2].status, 200);
  ASSERT_EQ(o.att[0].pi, 1);
  ASSERT_EQ(o.att[2].pi, 1);
  ASSERT(o.att[0].delay >= 0.005 && o.att[0].delay <= 0.01);
  ASSERT(o.att[1].delay >= 0.01 && o.att[1].delay <= 0.02);
  ASSERT_DEQ(o.att[2].delay, 0);
  {
    char want[512];
    snprintf(want, sizeof want,
             "HTTP 503 from %s/v1/chat/completions: simulated 503 Service "
             "Unavailable", sim.base);
    ASSERT_STREQ(o.att[0].msg, want);
  }
}

static void check_retry_after(const char *directive, double lo, double hi) {
  lgw_runtime_t *rt = gws_load(GWS_SETTINGS("") "providers:\n"
                           PROV("openai_chat", "%s", "k1", ""), sim.base);
  char content[256];
  out_t o;
  ASSERT(rt != NULL);
  snprintf(content, sizeof content, "@sim %s\nhello", directive);
  ASSERT_EQ(run_one(rt, NULL, content, 0, &o), 0);
  lgw_runtime_free(rt);
  ASSERT_EQ(o.status, 0);
  ASSERT_EQ(o.natt, 2);
  ASSERT_EQ(o.att[0].code, LGW_ERATELIMIT);
  ASSERT_EQ(o.att[0].status, 429);
  ASSERT(o.att[0].delay >= lo && o.att[0].delay <= hi);
  /* waited what was asked, once */
  ASSERT_EQ(o.nsleep, 1);
  ASSERT_DEQ(o.sleep[0], o.att[0].delay);
  /* libuv's timers count whole milliseconds from the loop's cached time */
  ASSERT(o.t_done >= o.att[0].delay - 0.002);
}

TEST(gw_retry_after_seconds) {
  check_retry_after("status=429 retry_after=1 times=1 id=ras", 1.0, 1.0);
}
TEST(gw_retry_after_date) {
  /* an HTTP date has whole seconds: 2 s from now is at most 2 s away,
   * and less the later the answer is read (under valgrind: below 1 s) */
  check_retry_after("status=429 retry_after_date=2 times=1 id=rad", 0.0, 2.0);
}
TEST(gw_retry_after_ms) {
  check_retry_after("status=429 retry_after_ms=300 times=1 id=ram", 0.3, 0.3);
}

TEST(gw_retry_after_over_cap_fails_over) {
  lgw_runtime_t *rt = gws_load(GWS_SETTINGS("  retry_after_max: 2\n") "providers:\n"
                           PROV("openai_chat", "%s", "k1",
                                GWS_XSIM("status=429 retry_after=10"))
                           PROV("openai_chat", "%s", "k2", ""),
                           sim.base, sim.base);
  out_t o;
  ASSERT(rt != NULL);
  ASSERT_EQ(run_one(rt, NULL, "hello", 0, &o), 0);
  lgw_runtime_free(rt);
  ASSERT_EQ(o.status, 0);
  ASSERT_EQ(o.natt, 2);
  ASSERT_EQ(o.att[0].code, LGW_ERATELIMIT);
  ASSERT_DEQ(o.att[0].delay, 0);
  ASSERT_EQ(o.att[1].pi, 2);
  ASSERT_EQ(o.provider_index, 2);
  ASSERT_EQ(o.nsleep, 0);  /* straight to the next provider */
}

TEST(gw_empty_text_retried) {
  lgw_runtime_t *rt = gws_load(GWS_SETTINGS("") "providers:\n"
                           PROV("responses", "%s", "k1", ""), sim.base);
  out_t o;
  ASSERT(rt != NULL);
  ASSERT_EQ(run_one(rt, NULL, "@sim fault=empty times=1 id=emp\nhello", 0,
                    &o), 0);
  lgw_runtime_free(rt);
  ASSERT_EQ(o.status, 0);
  ASSERT_EQ(o.natt, 2);
  ASSERT_EQ(o.att[0].code, LGW_EEMPTY);
  ASSERT_EQ(o.att[0].status, 200);
  ASSERT_STREQ(o.att[0].msg, "LLM response text was empty. Check provider "
                             "api_style/response format.");
  ASSERT_STREQ(o.text, "echo(m1): hello");
}

static void check_bad_body(const char *style, const char *fault, int code,
                           const char *msg_part) {
  char content[128];
  lgw_runtime_t *rt = gws_load(GWS_SETTINGS("  transport_retries: 2\n") "providers:\n"
                           "  - provider_type: openai\n    api_style: %s\n"
                           "    base_url: %s\n    api_key: k1\n",
                           style, sim.base);
  out_t o;
  ASSERT(rt != NULL);
  snprintf(content, sizeof content, "@sim fault=%s times=1 id=bad-%s-%s\nhi",
           fault, style, fault);
  ASSERT_EQ(run_one(rt, NULL, content, 0, &o), 0);
  lgw_runtime_free(rt);
  ASSERT_EQ(o.status, 0);
  ASSERT_EQ(o.natt, 2);
  ASSERT_EQ(o.att[0].code, code);
  ASSERT_CONTAINS(o.att[0].msg, msg_part);
  ASSERT_STREQ(o.text, "echo(m1): hi");
}

TEST(gw_invalid_json_retried) {
  check_bad_body("openai_chat", "invalid_json", LGW_ERESPONSE, "HTTP 200 from ");
}
TEST(gw_truncated_retried) {
  check_bad_body("responses", "truncated", LGW_ERESPONSE, "HTTP 200 from ");
}
TEST(gw_reset_retried) {
  check_bad_body("openai_chat", "reset", LGW_EHTTP, "Transfer from ");
}
TEST(gw_anthropic_error_in_200_retried) {
  check_bad_body("anthropic", "anthropic_error", LGW_EHTTP, "Overloaded");
}
/* The OpenAI formats surface an error object in a 2xx answer (with no
 * text) instead of reporting empty text; retried like a 529. */
TEST(gw_error_object_in_200_chat) {
  check_bad_body("openai_chat", "anthropic_error", LGW_EHTTP,
                 "/v1/chat/completions: error object in a 2xx answer: "
                 "overloaded_error: Overloaded");
}
TEST(gw_error_object_in_200_responses) {
  check_bad_body("responses", "anthropic_error", LGW_EHTTP,
                 "/v1/responses: error object in a 2xx answer: "
                 "overloaded_error: Overloaded");
}

TEST(gw_sse_answer) {
  lgw_runtime_t *rt = gws_load(GWS_SETTINGS("") "providers:\n"
                           PROV("responses", "%s", "k1", ""), sim.base);
  out_t o;
  ASSERT(rt != NULL);
  ASSERT_EQ(run_one(rt, NULL, "@sim fault=sse\nhello", 0, &o), 0);
  lgw_runtime_free(rt);
  ASSERT_EQ(o.status, 0);
  ASSERT_STREQ(o.text, "echo(m1): hello");
}

/* ---- failover -------------------------------------------------------------- */

static void check_failover(const char *xsim, int status, int code) {
  char yaml_hdr[128];
  lgw_runtime_t *rt;
  out_t o;
  snprintf(yaml_hdr, sizeof yaml_hdr, "    headers:\n      x-sim: \"%s\"\n",
           xsim);
  rt = gws_load(GWS_SETTINGS("") "providers:\n"
            PROV("openai_chat", "%s", "k1", "%s")
            PROV("openai_chat", "%s", "k2", ""),
            sim.base, yaml_hdr, sim.base);
  ASSERT(rt != NULL);
  ASSERT_EQ(run_one(rt, NULL, "hello", 0, &o), 0);
  lgw_runtime_free(rt);
  ASSERT_EQ(o.status, 0);
  ASSERT_EQ(o.natt, 2);
  ASSERT_EQ(o.att[0].pi, 1);
  ASSERT_EQ(o.att[0].status, status);
  ASSERT_EQ(o.att[0].code, code);
  ASSERT_DEQ(o.att[0].delay, 0);
  ASSERT_EQ(o.att[1].pi, 2);
  ASSERT_EQ(o.att[1].code, 0);
  ASSERT_EQ(o.provider_index, 2);
  ASSERT_STREQ(o.text, "echo(m1): hello");
}

TEST(gw_failover_401) { check_failover("status=401", 401, LGW_EAUTH); }
TEST(gw_failover_403) { check_failover("status=403", 403, LGW_EAUTH); }
TEST(gw_failover_400) { check_failover("status=400", 400, LGW_EHTTP); }
TEST(gw_failover_404) { check_failover("status=404", 404, LGW_EHTTP); }
TEST(gw_failover_should_retry_false) {
  check_failover("status=503 should_retry=false", 503, LGW_EHTTP);
}

TEST(gw_should_retry_true_on_400) {
  lgw_runtime_t *rt = gws_load(GWS_SETTINGS("  transport_retries: 2\n")
                           "providers:\n"
                           PROV("openai_chat", "%s", "k1",
                                GWS_XSIM("status=400 should_retry=true")),
                           sim.base);
  out_t o;
  ASSERT(rt != NULL);
  ASSERT_EQ(run_one(rt, NULL, "hello", 0, &o), 0);
  lgw_runtime_free(rt);
  ASSERT_EQ(o.status, LGW_EHTTP);
  ASSERT_EQ(o.natt, 2);
  ASSERT_EQ(o.att[1].status, 400);
}

TEST(gw_connect_refused_fails_over) {
  lgw_runtime_t *rt = gws_load(GWS_SETTINGS("") "providers:\n"
                           PROV("openai_chat", "http://127.0.0.1:1", "k1", "")
                           PROV("openai_chat", "%s", "k2", ""), sim.base);
  out_t o;
  size_t i;
  ASSERT(rt != NULL);
  ASSERT_EQ(run_one(rt, NULL, "hello", 0, &o), 0);
  lgw_runtime_free(rt);
  ASSERT_EQ(o.status, 0);
  ASSERT_EQ(o.natt, 4);  /* transport_retries 3 on #1, then #2 */
  for (i = 0; i < 3; i++) {
    ASSERT_EQ(o.att[i].code, LGW_ECONNECT);
    ASSERT_EQ(o.att[i].status, 0);
    ASSERT_CONTAINS(o.att[i].msg, "Cannot connect to "
                                  "http://127.0.0.1:1/v1/chat/completions: ");
  }
  ASSERT(o.att[0].delay > 0);
  ASSERT_DEQ(o.att[2].delay, 0);  /* no sleep after a provider's last try */
  ASSERT_EQ(o.att[3].pi, 2);
  ASSERT_EQ(o.provider_index, 2);
}

TEST(gw_too_big_fails_over) {
  lgw_runtime_t *rt = gws_load(GWS_SETTINGS("  max_response_bytes: 10000\n")
                           "providers:\n"
                           PROV("openai_chat", "%s", "k1",
                                GWS_XSIM("fault=oversize size=50000"))
                           PROV("openai_chat", "%s", "k2", ""),
                           sim.base, sim.base);
  out_t o;
  char want[256];
  ASSERT(rt != NULL);
  ASSERT_EQ(run_one(rt, NULL, "hello", 0, &o), 0);
  lgw_runtime_free(rt);
  ASSERT_EQ(o.status, 0);
  ASSERT_EQ(o.natt, 2);
  ASSERT_EQ(o.att[0].code, LGW_ETOOBIG);
  snprintf(want, sizeof want, "Response from %s/v1/chat/completions is larger "
           "than max_response_bytes (10000 bytes).", sim.base);
  ASSERT_STREQ(o.att[0].msg, want);
  ASSERT_EQ(o.att[1].pi, 2);
  ASSERT_EQ(o.provider_index, 2);
}

TEST(gw_exhausted_message) {
  lgw_runtime_t *rt = gws_load(
      GWS_SETTINGS("  transport_retries: 2\n") "providers:\n"
      "  - provider_type: x\n    base_url: \"\"\n"
      PROV("openai_chat", "%s", "k2", GWS_XSIM("status=500"))
      PROV("anthropic", "%s", "k3", GWS_XSIM("status=400")),
      sim.base, sim.base);
  out_t o;
  char want[2048];
  ASSERT(rt != NULL);
  ASSERT_EQ(run_one(rt, NULL, "hello", 0, &o), 0);
  lgw_runtime_free(rt);
  ASSERT_EQ(o.status, LGW_EHTTP);  /* the last attempt's class */
  ASSERT_EQ(o.providers_tried, 3);
  ASSERT_EQ(o.has_err, 1);
  ASSERT_STREQ(o.text, "(null)");
  ASSERT_EQ(o.provider_index, 0);
  ASSERT_EQ(o.http_status, 400);
  snprintf(want, sizeof want,
           "LLM request failed for task 't' across all configured providers:\n"
           "- provider #1 (x, <missing>): LLM base_url is not configured.\n"
           "- provider #2 (openai, %s): HTTP 500 from %s/v1/chat/completions: "
           "simulated 500 Internal Server Error\n"
           "- provider #3 (openai, %s): HTTP 400 from %s/v1/messages: "
           "simulated 400 Bad Request", sim.base, sim.base, sim.base, sim.base);
  ASSERT_STREQ(o.err, want);
  ASSERT_EQ(o.natt, 4);
  ASSERT_EQ(o.att[0].pi, 1);
  ASSERT_EQ(o.att[0].code, LGW_ECONFIG);
  ASSERT_STREQ(o.att[0].url, "<missing>");
  ASSERT_STREQ(o.att[0].type, "x");
  ASSERT_STREQ(o.att[0].model, "");
  ASSERT_STREQ(o.att[0].msg, "LLM base_url is not configured.");
  ASSERT_EQ(o.att[1].pi, 2);
  ASSERT_EQ(o.att[1].status, 500);
  ASSERT(o.att[1].delay > 0);
  ASSERT_EQ(o.att[2].pi, 2);
  ASSERT_DEQ(o.att[2].delay, 0);
  ASSERT_EQ(o.att[3].pi, 3);
  ASSERT_EQ(o.att[3].status, 400);
  ASSERT_EQ(o.att[3].code, LGW_EHTTP);
}

TEST(gw_no_model_and_missing_url) {
  lgw_runtime_t *rt = gws_load("providers:\n"
                           "  - provider_type: x\n"
                           "  - base_url: https://u\n");
  out_t o;
  ASSERT(rt != NULL);
  ASSERT_EQ(run_one(rt, NULL, "hello", 0, &o), 0);
  lgw_runtime_free(rt);
  ASSERT_EQ(o.status, LGW_ENOMODEL);
  ASSERT_STREQ(o.err,
               "LLM request failed for task 't' across all configured "
               "providers:\n"
               "- provider #1 (x, <missing>): LLM base_url is not configured.\n"
               "- provider #2 (unknown, https://u): No model configured for "
               "task 't'.");
  ASSERT_EQ(o.natt, 2);
  ASSERT_EQ(o.att[1].code, LGW_ENOMODEL);
  ASSERT_STREQ(o.att[1].type, "unknown");
  ASSERT_EQ(o.http_status, 0);
}

TEST(gw_no_providers) {
  lgw_runtime_t *rt = gws_load(GWS_SETTINGS(""));
  out_t o;
  ASSERT(rt != NULL);
  ASSERT_EQ(run_one(rt, NULL, "hello", 0, &o), 0);
  lgw_runtime_free(rt);
  ASSERT_EQ(o.calls, 1);
  ASSERT_EQ(o.status, LGW_ENOPROVIDER);
  ASSERT_STREQ(o.err, "No LLM providers are configured.");
  ASSERT_EQ(o.natt, 0);
}

/* ---- timeouts, deadline ------------------------------------------------------ */

TEST(gw_attempt_timeout) {
  lgw_runtime_t *rt = gws_load(GWS_SETTINGS("  timeout: 0.3\n  transport_retries: 2\n")
                           "providers:\n"
                           PROV("openai_chat", "%s", "k1",
                                GWS_XSIM("fault=hang")), sim.base);
  out_t o;
  ASSERT(rt != NULL);
  ASSERT_EQ(run_one(rt, NULL, "hello", 0, &o), 0);
  lgw_runtime_free(rt);
  ASSERT_EQ(o.status, LGW_ETIMEOUT);
  ASSERT_EQ(o.natt, 2);
  ASSERT_EQ(o.att[0].code, LGW_ETIMEOUT);
  ASSERT_EQ(o.att[1].code, LGW_ETIMEOUT);
  ASSERT(o.att[0].elapsed >= 0.29);
  ASSERT(o.att[1].elapsed >= 0.29);
  ASSERT_CONTAINS(o.att[0].msg, "timed out (timeout=0.3s)");
  ASSERT_CONTAINS(o.att[1].msg, "timed out (timeout=0.3s)");
}

/* A connect timeout shorter than the attempt's timeout is named as such. */
TEST(gw_connect_timeout_named) {
  char url[64];
  int hole[4], i;
  lgw_runtime_t *rt;
  out_t o;
  gws_blackhole_url(hole, url, sizeof url);
  rt = gws_load(GWS_SETTINGS("  timeout: 3\n  connect_timeout: 0.5\n"
                             "  transport_retries: 1\n")
                "providers:\n" PROV("openai_chat", "%s", "k1", ""), url);
  ASSERT(rt != NULL);
  ASSERT_EQ(run_one(rt, NULL, "hello", 0, &o), 0);
  lgw_runtime_free(rt);
  for (i = 0; i < 4; i++)
    if (hole[i] >= 0) close(hole[i]);
  ASSERT_EQ(o.status, LGW_ETIMEOUT);
  ASSERT_EQ(o.natt, 1);
  ASSERT_EQ(o.att[0].code, LGW_ETIMEOUT);
  ASSERT(o.att[0].elapsed >= 0.45);
  ASSERT_CONTAINS(o.att[0].msg, "/v1/chat/completions: connect timed out "
                                "(connect_timeout=0.5s): ");
  ASSERT(strstr(o.att[0].msg, "timeout=3.0s") == NULL);
}

TEST(gw_deadline_in_flight) {
  lgw_runtime_t *rt = gws_load(GWS_SETTINGS("") "providers:\n"
                           PROV("openai_chat", "%s", "k1",
                                GWS_XSIM("fault=hang")), sim.base);
  out_t o;
  ASSERT(rt != NULL);
  ASSERT_EQ(run_one(rt, NULL, "hello", 0.4, &o), 0);
  lgw_runtime_free(rt);
  ASSERT_EQ(o.status, LGW_EDEADLINE);
  ASSERT_STREQ(o.err, "LLM request for task 't' did not finish within its "
                      "deadline of 0.4s.");
  ASSERT(o.t_done >= 0.39);
  ASSERT_EQ(o.natt, 1);
  ASSERT_EQ(o.att[0].code, LGW_EDEADLINE);
}

TEST(gw_deadline_while_sleeping) {
  lgw_runtime_t *rt = gws_load(GWS_SETTINGS("  deadline: 0.5\n") "providers:\n"
                           PROV("openai_chat", "%s", "k1",
                                GWS_XSIM("status=429 retry_after=5")), sim.base);
  out_t o;
  ASSERT(rt != NULL);
  ASSERT_EQ(run_one(rt, NULL, "hello", 0, &o), 0);
  lgw_runtime_free(rt);
  ASSERT_EQ(o.status, LGW_EDEADLINE);
  ASSERT_EQ(o.http_status, 429);
  ASSERT(o.t_done >= 0.49);
  /* the deadline ended the 5 s wait: no second attempt */
  ASSERT_EQ(o.natt, 1);
  ASSERT_EQ(o.nsleep, 1);
  ASSERT_DEQ(o.sleep[0], 5);
  ASSERT_DEQ(o.att[0].delay, 5);
}

/* ---- concurrency ------------------------------------------------------------ */

TEST(gw_concurrency_peak) {
  lgw_runtime_t *rt = gws_load(GWS_SETTINGS("  max_concurrent: 2\n") "providers:\n"
                           PROV("openai_chat", "%s", "k1",
                                GWS_XSIM("delay_ms=200")), sim.base);
  lgw_gateway_t *gw;
  lgw_gateway_options_t op;
  lgw_request_t r;
  lgw_message_t m;
  out_t o[6];
  double t0;
  int i, ok = 0;
  ASSERT(rt != NULL);
  memset(&op, 0, sizeof op);
  op.no_state = 1;
  ASSERT_EQ(sim_reset(&sim), 0);
  ASSERT_EQ(lgw_gateway_new(rt, &op, &gw, NULL), 0);
  lgw_runtime_free(rt);  /* the gateway holds its own reference */
  one_message(&r, &m, "t", "hello");
  done_seq = 0;
  t0 = gws_now_s();
  memset(o, 0, sizeof o);
  for (i = 0; i < 6; i++) {
    o[i].t0 = t0;
    ASSERT_EQ(lgw_gateway_submit(gw, &r, on_done, &o[i], NULL, NULL), 0);
  }
  ASSERT_EQ(lgw_gateway_pending(gw), 6);
  ASSERT_EQ(lgw_gateway_run(gw), 0);
  ASSERT_EQ(lgw_gateway_pending(gw), 0);
  lgw_gateway_free(gw);
  for (i = 0; i < 6; i++) ok += o[i].status == 0;
  ASSERT_EQ(ok, 6);
  ASSERT_EQ(sim_stat(&sim, "peak_concurrent"), 2);
  /* three waves of 200 ms, FIFO */
  ASSERT(o[5].t_done >= 0.59);
  /* with 2 slots, the 5th and 6th start after 3 and 4 have finished */
  ASSERT(o[4].seq >= 4);
  ASSERT(o[5].seq >= 5);
  ASSERT(o[0].seq < o[5].seq);
}

/* A sleeping request holds no slot: with max_concurrent 1 a request in
 * backoff lets another one through. */
TEST(gw_sleep_holds_no_slot) {
  lgw_runtime_t *rt = gws_load(GWS_SETTINGS("  max_concurrent: 1\n") "providers:\n"
                           PROV("openai_chat", "%s", "k1", ""), sim.base);
  lgw_gateway_t *gw;
  lgw_gateway_options_t op;
  lgw_request_t r1, r2;
  lgw_message_t m1, m2;
  out_t a, b;
  ASSERT(rt != NULL);
  memset(&op, 0, sizeof op);
  op.no_state = 1;
  ASSERT_EQ(lgw_gateway_new(rt, &op, &gw, NULL), 0);
  lgw_runtime_free(rt);
  one_message(&r1, &m1, "t", "@sim status=429 retry_after=1 times=1 "
                             "id=slot\nslow");
  one_message(&r2, &m2, "t", "fast");
  memset(&a, 0, sizeof a);
  memset(&b, 0, sizeof b);
  gw->on_sleep = on_sleep;  /* only the first request waits */
  gw->on_sleep_ud = &a;
  done_seq = 0;
  a.t0 = b.t0 = gws_now_s();
  ASSERT_EQ(lgw_gateway_submit(gw, &r1, on_done, &a, NULL, NULL), 0);
  ASSERT_EQ(lgw_gateway_submit(gw, &r2, on_done, &b, NULL, NULL), 0);
  ASSERT_EQ(lgw_gateway_run(gw), 0);
  lgw_gateway_free(gw);
  ASSERT_EQ(a.status, 0);
  ASSERT_EQ(b.status, 0);
  /* the second one used the slot while the first waited its 1 s */
  ASSERT_EQ(a.nsleep, 1);
  ASSERT_DEQ(a.sleep[0], 1.0);
  ASSERT_EQ(b.seq, 1);
  ASSERT_EQ(a.seq, 2);
  ASSERT(a.t_done >= 0.998);
}

/* ---- cancel and free ---------------------------------------------------- */

static lgw_runtime_t *hang_rt(void) {
  return gws_load(GWS_SETTINGS("") "providers:\n"
              PROV("openai_chat", "%s", "k1", GWS_XSIM("fault=hang")), sim.base);
}

typedef struct cancel_ctx {
  lgw_gateway_t *gw;
  uint64_t id;
  out_t *o;
  int rc, rc_again, calls_after;
} cancel_ctx_t;

static void on_cancel_timer(uv_timer_t *t) {
  cancel_ctx_t *c = t->data;
  c->rc = lgw_gateway_cancel(c->gw, c->id);
  c->calls_after = c->o->calls;  /* the callback comes later, from the loop */
  c->rc_again = lgw_gateway_cancel(c->gw, c->id);
  uv_close((uv_handle_t *)t, NULL);
}

static void on_cancel_all_timer(uv_timer_t *t) {
  lgw_gateway_cancel_all(t->data);
  uv_close((uv_handle_t *)t, NULL);
}

TEST(gw_cancel_one_and_all) {
  lgw_runtime_t *rt = hang_rt();
  lgw_gateway_t *gw;
  lgw_gateway_options_t op;
  lgw_request_t r;
  lgw_message_t m;
  out_t o[3];
  uint64_t ids[3];
  uv_timer_t t1, t2;
  cancel_ctx_t c;
  int i;
  ASSERT(rt != NULL);
  memset(&op, 0, sizeof op);
  op.no_state = 1;
  ASSERT_EQ(lgw_gateway_new(rt, &op, &gw, NULL), 0);
  lgw_runtime_free(rt);
  one_message(&r, &m, "t", "hello");
  done_seq = 0;
  memset(o, 0, sizeof o);
  for (i = 0; i < 3; i++) {
    o[i].t0 = gws_now_s();
    ASSERT_EQ(lgw_gateway_submit(gw, &r, on_done, &o[i], &ids[i], NULL), 0);
  }
  ASSERT(ids[0] != ids[1] && ids[1] != ids[2]);
  ASSERT_EQ(lgw_gateway_cancel(gw, 999999), LGW_EINVAL);
  memset(&c, 0, sizeof c);
  c.gw = gw;
  c.id = ids[1];
  c.o = &o[1];
  /* the timers count from now, after every t0 (the loop's clock may be
   * older than the submits under a slow run) */
  uv_update_time(lgw_gateway_loop(gw));
  uv_timer_init(lgw_gateway_loop(gw), &t1);
  t1.data = &c;
  uv_timer_start(&t1, on_cancel_timer, 100, 0);
  uv_timer_init(lgw_gateway_loop(gw), &t2);
  t2.data = gw;
  uv_timer_start(&t2, on_cancel_all_timer, 300, 0);
  ASSERT_EQ(lgw_gateway_run(gw), 0);
  lgw_gateway_free(gw);
  ASSERT_EQ(c.rc, 0);
  ASSERT_EQ(c.calls_after, 0);
  ASSERT_EQ(c.rc_again, LGW_EINVAL);
  ASSERT_EQ(o[1].calls, 1);
  ASSERT_EQ(o[1].status, LGW_ECANCELED);
  ASSERT_STREQ(o[1].err, "LLM request for task 't' was canceled.");
  ASSERT(o[1].t_done >= 0.09);
  ASSERT_EQ(o[1].seq, 1);  /* canceled alone, before the others */
  ASSERT_EQ(o[1].natt, 1);
  ASSERT_EQ(o[1].att[0].code, LGW_ECANCELED);
  for (i = 0; i < 3; i += 2) {
    ASSERT_EQ(o[i].calls, 1);
    ASSERT_EQ(o[i].status, LGW_ECANCELED);
    ASSERT(o[i].t_done >= 0.29);
    ASSERT(o[i].seq > 1);
  }
}

TEST(gw_free_in_flight_own_loop) {
  lgw_runtime_t *rt = hang_rt();
  lgw_gateway_t *gw;
  lgw_gateway_options_t op;
  lgw_request_t r;
  lgw_message_t m;
  out_t o[5];
  int i;
  ASSERT(rt != NULL);
  memset(&op, 0, sizeof op);
  op.no_state = 1;
  ASSERT_EQ(lgw_gateway_new(rt, &op, &gw, NULL), 0);
  lgw_runtime_free(rt);
  one_message(&r, &m, "t", "hello");
  memset(o, 0, sizeof o);
  for (i = 0; i < 5; i++)
    ASSERT_EQ(lgw_gateway_submit(gw, &r, on_done, &o[i], NULL, NULL), 0);
  for (i = 0; i < 20; i++) uv_run(lgw_gateway_loop(gw), UV_RUN_NOWAIT);
  lgw_gateway_free(gw);
  for (i = 0; i < 5; i++) {
    ASSERT_EQ(o[i].calls, 1);
    ASSERT_EQ(o[i].status, LGW_ECANCELED);
  }
}

TEST(gw_free_in_flight_caller_loop) {
  lgw_runtime_t *rt = hang_rt();
  lgw_gateway_t *gw;
  lgw_gateway_options_t op;
  lgw_request_t r;
  lgw_message_t m;
  uv_loop_t loop;
  out_t o[3];
  int i;
  ASSERT(rt != NULL);
  ASSERT_EQ(uv_loop_init(&loop), 0);
  memset(&op, 0, sizeof op);
  op.no_state = 1;
  op.loop = &loop;
  ASSERT_EQ(lgw_gateway_new(rt, &op, &gw, NULL), 0);
  lgw_runtime_free(rt);
  ASSERT(lgw_gateway_loop(gw) == &loop);
  one_message(&r, &m, "t", "hello");
  memset(o, 0, sizeof o);
  for (i = 0; i < 3; i++)
    ASSERT_EQ(lgw_gateway_submit(gw, &r, on_done, &o[i], NULL, NULL), 0);
  for (i = 0; i < 20; i++) uv_run(&loop, UV_RUN_NOWAIT);
  lgw_gateway_free(gw);
  for (i = 0; i < 3; i++) ASSERT_EQ(o[i].status, LGW_ECANCELED);
  uv_run(&loop, UV_RUN_DEFAULT);  /* close callbacks release memory */
  ASSERT_EQ(uv_loop_close(&loop), 0);
}

/* A completion callback that submits the next request, and one that frees
 * the gateway. */
typedef struct chain {
  lgw_request_t r;
  lgw_message_t m;
  int left, ok, free_at;
} chain_t;

static void on_chain(lgw_gateway_t *gw, uint64_t id, int status,
                     const lgw_result_t *res, const lgw_error_t *err,
                     void *ud) {
  chain_t *c = ud;
  (void)id;
  (void)res;
  (void)err;
  if (status == 0) c->ok++;
  if (--c->left == c->free_at) {
    lgw_gateway_free(gw);
    return;
  }
  if (c->left > 0) lgw_gateway_submit(gw, &c->r, on_chain, c, NULL, NULL);
}

TEST(gw_submit_from_callback) {
  lgw_runtime_t *rt = gws_load(GWS_SETTINGS("") "providers:\n"
                           PROV("openai_chat", "%s", "k1", ""), sim.base);
  lgw_gateway_t *gw;
  lgw_gateway_options_t op;
  chain_t c;
  ASSERT(rt != NULL);
  memset(&op, 0, sizeof op);
  op.no_state = 1;
  ASSERT_EQ(lgw_gateway_new(rt, &op, &gw, NULL), 0);
  lgw_runtime_free(rt);
  memset(&c, 0, sizeof c);
  one_message(&c.r, &c.m, "t", "hi");
  c.left = 10;
  c.free_at = -1;
  ASSERT_EQ(lgw_gateway_submit(gw, &c.r, on_chain, &c, NULL, NULL), 0);
  ASSERT_EQ(lgw_gateway_run(gw), 0);
  lgw_gateway_free(gw);
  ASSERT_EQ(c.ok, 10);
}

TEST(gw_free_from_callback) {
  lgw_runtime_t *rt = gws_load(GWS_SETTINGS("") "providers:\n"
                           PROV("openai_chat", "%s", "k1", ""), sim.base);
  lgw_gateway_t *gw;
  lgw_gateway_options_t op;
  chain_t c;
  out_t hang;
  lgw_request_t hr;
  lgw_message_t hm;
  ASSERT(rt != NULL);
  memset(&op, 0, sizeof op);
  op.no_state = 1;
  ASSERT_EQ(lgw_gateway_new(rt, &op, &gw, NULL), 0);
  lgw_runtime_free(rt);
  memset(&c, 0, sizeof c);
  memset(&hang, 0, sizeof hang);
  one_message(&c.r, &c.m, "t", "hi");
  one_message(&hr, &hm, "t", "@sim fault=hang\nwait");
  c.left = 3;
  c.free_at = 1;
  ASSERT_EQ(lgw_gateway_submit(gw, &c.r, on_chain, &c, NULL, NULL), 0);
  ASSERT_EQ(lgw_gateway_submit(gw, &hr, on_done, &hang, NULL, NULL), 0);
  /* the gateway is freed by the second callback; run finishes the job */
  ASSERT_EQ(lgw_gateway_run(gw), 0);
  ASSERT_EQ(c.ok, 2);
  ASSERT_EQ(hang.calls, 1);
  ASSERT_EQ(hang.status, LGW_ECANCELED);
}

/* Valgrind preloads its own libraries; timing bounds are looser there. */
static int under_valgrind(void) {
  const char *p = getenv("LD_PRELOAD");
  return p && strstr(p, "vgpreload") != NULL;
}

static int under_asan(void) {
#if defined(__SANITIZE_ADDRESS__)
  return 1;
#else
  return 0;
#endif
}

/* ---- scale ------------------------------------------------------------------ */

TEST(gw_thousand_in_flight) {
  sim_t slow;
  /* each answer waits long enough for all 1000 connections to be open:
   * the simulator then sees them all at once */
  int latency = under_valgrind() ? 15000 : under_asan() ? 5000 : 1500;
  char lat[16];
  const char *args[] = {"--latency-ms", lat, NULL};
  lgw_runtime_t *rt;
  lgw_gateway_t *gw;
  lgw_gateway_options_t op;
  lgw_request_t r;
  lgw_message_t m;
  out_t *o = calloc(1000, sizeof *o);
  double t0, took;
  long peak;
  int i, ok = 0;
  ASSERT(o != NULL);
  snprintf(lat, sizeof lat, "%d", latency);
  if (sim_start(&slow, args) != 0) {
    free(o);
    ASSERT(!"slow simulator did not start");
  }
  rt = gws_load("settings:\n  fallback_model: m1\n  timeout: 60\n"
                "  max_concurrent: 1000\nproviders:\n"
                PROV("openai_chat", "%s", "k1", ""), slow.base);
  memset(&op, 0, sizeof op);
  op.no_state = 1;
  if (!rt || lgw_gateway_new(rt, &op, &gw, NULL)) {
    sim_stop(&slow);
    free(o);
    ASSERT(!"setup failed");
  }
  lgw_runtime_free(rt);
  one_message(&r, &m, "t", "hello");
  t0 = gws_now_s();
  for (i = 0; i < 1000; i++) {
    o[i].t0 = t0;
    lgw_gateway_submit(gw, &r, on_done, &o[i], NULL, NULL);
  }
  lgw_gateway_run(gw);
  took = gws_now_s() - t0;
  lgw_gateway_free(gw);
  for (i = 0; i < 1000; i++) ok += o[i].status == 0 && o[i].natt == 1;
  if (ok != 1000) {
    for (i = 0; i < 1000; i++)
      if (o[i].status) {
        fprintf(stderr, "  first failure: %s\n", o[i].err);
        break;
      }
  }
  free(o);
  peak = sim_stat(&slow, "peak_concurrent");
  sim_stop(&slow);
  ASSERT_EQ(ok, 1000);
  ASSERT_EQ(peak, 1000);  /* all in flight at once */
  ASSERT(took >= latency / 1000.0);
}

/* ---- provider state -------------------------------------------------------- */

TEST(gw_state_remembers_failover) {
  char dir[] = "/tmp/lgw-gw-state-XXXXXX", path[256], *body;
  lgw_runtime_t *rt;
  lgw_gateway_options_t op;
  lgw__kvlist_t st = {NULL, 0};
  out_t o;
  FILE *f;
  size_t n;
  ASSERT(mkdtemp(dir) != NULL);
  snprintf(path, sizeof path, "%s/provider-state.json", dir);
  rt = gws_load(GWS_SETTINGS("") "providers:\n"
            PROV("openai_chat", "%s", "k1", GWS_XSIM("status=401"))
            PROV("openai_chat", "%s", "k2", ""), sim.base, sim.base);
  ASSERT(rt != NULL);
  memset(&op, 0, sizeof op);
  op.state_file = path;
  op.seed = 3;
  ASSERT_EQ(run_one(rt, &op, "hello", 0, &o), 0);
  ASSERT_EQ(o.status, 0);
  ASSERT_EQ(o.natt, 2);
  ASSERT_EQ(o.provider_index, 2);
  ASSERT_EQ(lgw__state_load(path, &st, NULL), 0);
  ASSERT_STREQ(lgw__kvlist_get_ci(&st, rt->config_key), rt->providers[1].key);
  lgw__kvlist_free(&st);
  f = fopen(path, "r");
  ASSERT(f != NULL);
  body = calloc(1, 4096);
  n = fread(body, 1, 4095, f);
  fclose(f);
  ASSERT(n > 0);
  ASSERT_CONTAINS(body, "\"preferred_by_config\"");
  free(body);
  /* the next gateway tries provider 2 first */
  ASSERT_EQ(run_one(rt, &op, "hello", 0, &o), 0);
  ASSERT_EQ(o.status, 0);
  ASSERT_EQ(o.natt, 1);
  ASSERT_EQ(o.att[0].pi, 1);
  ASSERT_EQ(o.provider_index, 2);
  lgw_runtime_free(rt);
  unlink(path);
  rmdir(dir);
}

TEST(gw_state_first_success_written) {
  char dir[] = "/tmp/lgw-gw-state-XXXXXX", path[256];
  lgw_runtime_t *rt;
  lgw_gateway_options_t op;
  lgw__kvlist_t st = {NULL, 0};
  out_t o;
  ASSERT(mkdtemp(dir) != NULL);
  snprintf(path, sizeof path, "%s/sub/state.json", dir);
  rt = gws_load(GWS_SETTINGS("") "providers:\n" PROV("openai_chat", "%s", "k1", ""),
            sim.base);
  ASSERT(rt != NULL);
  memset(&op, 0, sizeof op);
  op.state_file = path;
  ASSERT_EQ(run_one(rt, &op, "hello", 0, &o), 0);
  ASSERT_EQ(o.status, 0);
  ASSERT_EQ(lgw__state_load(path, &st, NULL), 0);
  ASSERT_STREQ(lgw__kvlist_get_ci(&st, rt->config_key), rt->providers[0].key);
  lgw__kvlist_free(&st);
  lgw_runtime_free(rt);
  unlink(path);
  snprintf(path, sizeof path, "%s/sub", dir);
  rmdir(path);
  rmdir(dir);
}

TEST(gw_state_unwritable_not_fatal) {
  lgw_runtime_t *rt;
  lgw_gateway_options_t op;
  out_t o;
  rt = gws_load(GWS_SETTINGS("") "providers:\n" PROV("openai_chat", "%s", "k1", ""),
            sim.base);
  ASSERT(rt != NULL);
  memset(&op, 0, sizeof op);
  op.state_file = "/proc/nonexistent-dir/state.json";
  ASSERT_EQ(run_one(rt, &op, "hello", 0, &o), 0);
  lgw_runtime_free(rt);
  ASSERT_EQ(o.status, 0);
  ASSERT_STREQ(o.text, "echo(m1): hello");
}

/* ---- secrets ---------------------------------------------------------------- */

#define CANARY "sk-canary-SECRET-1234"

TEST(gw_canary_key_redacted) {
  lgw_runtime_t *rt;
  out_t o;
  size_t i;
  /* the key is in the URLs: the simulator's 404 echoes the path, and the
   * connect error and our messages name the URL */
  rt = gws_load(GWS_SETTINGS("  transport_retries: 1\n") "providers:\n"
            PROV("openai_chat", "%s/" CANARY, CANARY, "")
            PROV("openai_chat", "http://127.0.0.1:1/" CANARY, CANARY, "")
            PROV("anthropic", "%s", CANARY, GWS_XSIM("status=500")),
            sim.base, sim.base);
  ASSERT(rt != NULL);
  ASSERT_EQ(run_one(rt, NULL, "hello " CANARY, 0, &o), 0);
  lgw_runtime_free(rt);
  ASSERT_EQ(o.status, LGW_EHTTP);
  ASSERT_NOT_CONTAINS(o.err, CANARY);
  ASSERT_CONTAINS(o.err, "[redacted]");
  ASSERT_EQ(o.natt, 3);
  for (i = 0; i < o.natt; i++) {
    ASSERT_NOT_CONTAINS(o.att[i].msg, CANARY);
    ASSERT_NOT_CONTAINS(o.att[i].url, CANARY);
  }
  ASSERT_EQ(o.att[0].status, 404);
  ASSERT_CONTAINS(o.att[0].msg, "no endpoint POST /[redacted]/v1/chat/");
  ASSERT_EQ(o.att[1].code, LGW_ECONNECT);
}

/* ---- main -------------------------------------------------------------------- */

static void raise_nofile(void) {
  struct rlimit rl;
  if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < 8192) {
    rl.rlim_cur = rl.rlim_max < 8192 ? rl.rlim_max : 8192;
    setrlimit(RLIMIT_NOFILE, &rl);
  }
}

int main(int argc, char **argv) {
  const char *only = argc > 1 ? argv[1] : NULL;
  raise_nofile();
  lgw_set_log(gws_quiet_log, NULL, LGW_LOG_DEBUG);
  if (sim_start(&sim, NULL) != 0) {
    fprintf(stderr, "simulator did not start\n");
    printf("RESULT 0 1\n");
    return 1;
  }
#define R(fn) if (!only || strstr(#fn, only)) RUN(fn)
  R(gw_responses);
  R(gw_openai_chat);
  R(gw_anthropic);
  R(gw_litellm);
  R(gw_retry_503_twice);
  R(gw_retry_after_seconds);
  R(gw_retry_after_date);
  R(gw_retry_after_ms);
  R(gw_retry_after_over_cap_fails_over);
  R(gw_empty_text_retried);
  R(gw_invalid_json_retried);
  R(gw_truncated_retried);
  R(gw_reset_retried);
  R(gw_anthropic_error_in_200_retried);
  R(gw_error_object_in_200_chat);
  R(gw_error_object_in_200_responses);
  R(gw_sse_answer);
  R(gw_failover_401);
  R(gw_failover_403);
  R(gw_failover_400);
  R(gw_failover_404);
  R(gw_failover_should_retry_false);
  R(gw_should_retry_true_on_400);
  R(gw_connect_refused_fails_over);
  R(gw_too_big_fails_over);
  R(gw_exhausted_message);
  R(gw_no_model_and_missing_url);
  R(gw_no_providers);
  R(gw_attempt_timeout);
  R(gw_connect_timeout_named);
  R(gw_deadline_in_flight);
  R(gw_deadline_while_sleeping);
  R(gw_concurrency_peak);
  R(gw_sleep_holds_no_slot);
  R(gw_cancel_one_and_all);
  R(gw_free_in_flight_own_loop);
  R(gw_free_in_flight_caller_loop);
  R(gw_submit_from_callback);
  R(gw_free_from_callback);
  R(gw_thousand_in_flight);
  R(gw_state_remembers_failover);
  R(gw_state_first_success_written);
  R(gw_state_unwritable_not_fatal);
  R(gw_canary_key_redacted);
  sim_stop(&sim);
  return TEST_SUMMARY();
}
