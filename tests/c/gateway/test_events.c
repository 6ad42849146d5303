/*
 * test_events.c -- what a gateway reports besides answers, against the
 * provider simulator: the event sequence of a failover, usage summed over
 * retries and cost from settings.prices (per result and gateway-wide),
 * circuit breakers opening, skipping, reopening and closing under an
 * injected clock (with their events), rpm pacing, and callbacks that free
 * the gateway from inside an event or a delta; an attempt's event and an
 * event as a JSON line (lgw_event_json).
 */
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <uv.h>

#include "llmgateway.h"
#include "gateway_priv.h"
#include "gw_support.h"
#include "sim_support.h"
#include "test.h"
#include "util.h"

static sim_t sim;

typedef struct ev_copy {
  int type, pi, status, code, attempt;
  uint64_t id;
  char cls[24], model[32], type_name[24], msg[256];
  double latency, delay, cooldown, cost;
  lgw_usage_t usage;
} ev_copy_t;

typedef struct rec {
  int nev;
  ev_copy_t ev[64];
  int calls, status, provider_index, events_at_done;
  lgw_usage_t usage, total;
  double cost, cost_total, t_done;
  size_t natt;
  int att_cfg[8];
  double clock;               /* injected, seconds */
  lgw_gateway_t *free_me;     /* freed from the event callback */
} rec_t;

static void on_event(const lgw_event_t *e, void *ud) {
  rec_t *r = ud;
  ev_copy_t *c;
  if (r->nev < 64) {
    c = &r->ev[r->nev];
    c->type = e->type;
    c->pi = e->provider_index;
    c->status = e->http_status;
    c->code = e->code;
    c->attempt = e->attempt;
    c->id = e->request_id;
    snprintf(c->cls, sizeof c->cls, "%s", e->error_class);
    snprintf(c->model, sizeof c->model, "%s", e->model);
    snprintf(c->type_name, sizeof c->type_name, "%s", e->provider_type);
    snprintf(c->msg, sizeof c->msg, "%s", e->message);
    c->latency = e->latency;
    c->delay = e->retry_delay;
    c->cooldown = e->breaker_cooldown;
    c->cost = e->cost;
    c->usage = e->usage;
  }
  r->nev++;
  if (r->free_me) {
    lgw_gateway_free(r->free_me);
    r->free_me = NULL;
  }
}

static double fake_clock(void *ud) { return ((rec_t *)ud)->clock; }

static void on_done(lgw_gateway_t *gw, uint64_t id, int status,
                    const lgw_result_t *res, const lgw_error_t *err,
                    void *ud) {
  rec_t *r = ud;
  size_t i;
  (void)gw;
  (void)id;
  (void)err;
  r->calls++;
  r->status = status;
  r->provider_index = res->provider_index;
  r->events_at_done = r->nev;
  r->usage = res->usage;
  r->total = res->usage_total;
  r->cost = res->cost;
  r->cost_total = res->cost_total;
  r->natt = res->nattempts;
  r->t_done = (double)uv_hrtime() / 1e9;
  for (i = 0; i < res->nattempts && i < 8; i++)
    r->att_cfg[i] = res->attempts[i].configured_index;
}


#define PROV(style, xsim)                                                 \
  "  - provider_type: " style "\n    api_style: " style "\n"              \
  "    base_url: \"%s\"\n    api_key: k\n" xsim


static lgw_gateway_t *gateway(lgw_runtime_t *rt, rec_t *r, int clock) {
  lgw_gateway_t *gw = NULL;
  lgw_gateway_options_t opts;
  memset(&opts, 0, sizeof opts);
  opts.no_state = 1;
  opts.seed = 5;
  opts.on_event = on_event;
  opts.event_ud = r;
  if (clock) {
    opts.clock = fake_clock;
    opts.clock_ud = r;
  }
  if (rt && lgw_gateway_new(rt, &opts, &gw, NULL)) gw = NULL;
  lgw_runtime_free(rt);
  return gw;
}

static int submit(lgw_gateway_t *gw, rec_t *r, const char *content) {
  static lgw_message_t m;
  lgw_request_t q;
  memset(&q, 0, sizeof q);
  m.role = "user";
  m.content = content;
  q.task = "t";
  q.messages = &m;
  q.nmessages = 1;
  return lgw_gateway_submit(gw, &q, on_done, r, NULL, NULL);
}

/* ---- events ------------------------------------------------------------------ */

TEST(failover_event_sequence) {
  rec_t r;
  lgw_gateway_t *gw;
  double t0, wall;
  memset(&r, 0, sizeof r);
  gw = gateway(gws_load(GWS_SETTINGS("  transport_retries: 2\n") "providers:\n"
                    PROV("anthropic", GWS_XSIM("status=500"))
                    PROV("openai_chat", ""), sim.base, sim.base), &r, 0);
  ASSERT(gw != NULL);
  t0 = (double)uv_hrtime() / 1e9;
  ASSERT_EQ(submit(gw, &r, "hello there"), 0);
  ASSERT_EQ(lgw_gateway_run(gw), 0);
  wall = (double)uv_hrtime() / 1e9 - t0;
  lgw_gateway_free(gw);
  ASSERT_EQ(r.status, 0);
  ASSERT_EQ(r.nev, 4);
  ASSERT_EQ(r.events_at_done, 4);  /* every event before the callback */
  /* attempt 1 and 2 on provider 1, both 500 */
  ASSERT_EQ(r.ev[0].type, LGW_EVENT_ATTEMPT_END);
  ASSERT_EQ(r.ev[0].pi, 1);
  ASSERT_STREQ(r.ev[0].type_name, "anthropic");
  ASSERT_EQ(r.ev[0].attempt, 1);
  ASSERT_EQ(r.ev[0].status, 500);
  ASSERT_EQ(r.ev[0].code, LGW_EHTTP);
  ASSERT_STREQ(r.ev[0].cls, "http");
  ASSERT_STREQ(r.ev[0].model, "m1");
  ASSERT(r.ev[0].delay >= 0.005 && r.ev[0].delay <= 0.01);
  ASSERT_CONTAINS(r.ev[0].msg, "HTTP 500 from ");
  ASSERT_EQ(r.ev[1].type, LGW_EVENT_ATTEMPT_END);
  ASSERT_EQ(r.ev[1].pi, 1);
  ASSERT_EQ(r.ev[1].attempt, 2);
  ASSERT_DEQ(r.ev[1].delay, 0);
  /* then provider 2 answers */
  ASSERT_EQ(r.ev[2].type, LGW_EVENT_ATTEMPT_END);
  ASSERT_EQ(r.ev[2].pi, 2);
  ASSERT_EQ(r.ev[2].attempt, 1);
  ASSERT_EQ(r.ev[2].status, 200);
  ASSERT_EQ(r.ev[2].code, 0);
  ASSERT_STREQ(r.ev[2].cls, "ok");
  ASSERT_STREQ(r.ev[2].msg, "");
  ASSERT_EQ(r.ev[2].usage.input_tokens, 2);
  ASSERT_EQ(r.ev[2].usage.output_tokens, 3);
  /* seconds: no longer than the whole run took */
  ASSERT(r.ev[2].latency > 0 && r.ev[2].latency <= wall);
  ASSERT_EQ(r.ev[3].type, LGW_EVENT_REQUEST_END);
  ASSERT_EQ(r.ev[3].pi, 2);
  ASSERT_STREQ(r.ev[3].type_name, "openai_chat");
  ASSERT_EQ(r.ev[3].attempt, 3);
  ASSERT_EQ(r.ev[3].code, 0);
  ASSERT_EQ(r.ev[3].id, r.ev[0].id);
  ASSERT(r.ev[3].latency >= r.ev[2].latency);
  ASSERT(r.ev[3].latency <= wall);
}

TEST(failed_request_end_event) {
  rec_t r;
  lgw_gateway_t *gw;
  memset(&r, 0, sizeof r);
  gw = gateway(gws_load(GWS_SETTINGS("") "providers:\n"
                    PROV("responses", GWS_XSIM("status=401")), sim.base), &r, 0);
  ASSERT(gw != NULL);
  ASSERT_EQ(submit(gw, &r, "x"), 0);
  ASSERT_EQ(lgw_gateway_run(gw), 0);
  lgw_gateway_free(gw);
  ASSERT_EQ(r.status, LGW_EAUTH);
  ASSERT_EQ(r.nev, 2);
  ASSERT_EQ(r.ev[0].code, LGW_EAUTH);
  ASSERT_STREQ(r.ev[0].cls, "auth");
  ASSERT_EQ(r.ev[1].type, LGW_EVENT_REQUEST_END);
  ASSERT_EQ(r.ev[1].pi, 0);
  ASSERT_EQ(r.ev[1].status, 401);
  ASSERT_STREQ(r.ev[1].cls, "auth");
  ASSERT_CONTAINS(r.ev[1].msg, "across all configured providers");
  ASSERT_NOT_CONTAINS(r.ev[1].msg, ": k");
}

/* ---- usage and cost ----------------------------------------------------------- */

TEST(usage_summed_over_retries_and_cost) {
  rec_t r;
  lgw_gateway_t *gw;
  lgw_usage_t all;
  memset(&r, 0, sizeof r);
  gw = gateway(gws_load(GWS_SETTINGS("  prices:\n    m1: {input: 1.0, output: 2.0}\n")
                    "providers:\n" PROV("responses", ""), sim.base), &r, 0);
  ASSERT(gw != NULL);
  /* 200 with empty text (usage 2 in, 0 out), then the answer (2 in, 3 out) */
  ASSERT_EQ(submit(gw, &r, "@sim fault=empty times=1 id=usum\nhi there"), 0);
  ASSERT_EQ(lgw_gateway_run(gw), 0);
  ASSERT_EQ(r.status, 0);
  ASSERT_EQ(r.natt, 2);
  ASSERT_EQ(r.usage.input_tokens, 2);
  ASSERT_EQ(r.usage.output_tokens, 3);
  ASSERT_EQ(r.usage.cached_tokens, -1);
  ASSERT_EQ(r.total.input_tokens, 4);
  ASSERT_EQ(r.total.output_tokens, 3);
  ASSERT_EQ(r.total.cached_tokens, 0);
  ASSERT_DEQ(r.cost, 8e-6);         /* (2 * 1 + 3 * 2) / 1e6 */
  ASSERT_DEQ(r.cost_total, 1e-5);   /* + (2 * 1 + 0 * 2) / 1e6 */
  ASSERT_DEQ(r.ev[0].cost, 2e-6);
  ASSERT_DEQ(r.ev[2].cost, 1e-5);   /* REQUEST_END: cost_total */
  ASSERT_EQ(r.ev[2].usage.input_tokens, 4);
  /* a second request: the gateway-wide totals grow */
  ASSERT_EQ(submit(gw, &r, "one"), 0);
  ASSERT_EQ(lgw_gateway_run(gw), 0);
  ASSERT_DEQ(r.cost_total, 5e-6);   /* 1 in, 2 out */
  ASSERT_DEQ(lgw_gateway_cost_total(gw), 1.5e-5);
  lgw_gateway_usage_total(gw, &all);
  ASSERT_EQ(all.input_tokens, 5);
  ASSERT_EQ(all.output_tokens, 5);
  lgw_gateway_free(gw);
}

TEST(unpriced_model_has_no_cost) {
  rec_t r;
  lgw_gateway_t *gw;
  memset(&r, 0, sizeof r);
  gw = gateway(gws_load(GWS_SETTINGS("  prices:\n    other: {input: 1, output: 1}\n")
                    "providers:\n" PROV("openai_chat", ""), sim.base), &r, 0);
  ASSERT(gw != NULL);
  ASSERT_EQ(submit(gw, &r, "a b"), 0);
  ASSERT_EQ(lgw_gateway_run(gw), 0);
  ASSERT_EQ(r.status, 0);
  ASSERT_DEQ(r.cost, -1);
  ASSERT_DEQ(r.cost_total, -1);
  ASSERT_DEQ(lgw_gateway_cost_total(gw), -1);  /* as r.cost_total */
  lgw_gateway_free(gw);
}

/* ---- circuit breaker ---------------------------------------------------------- */

static int count_type(const rec_t *r, int from, int type) {
  int i, n = 0;
  for (i = from; i < r->nev && i < 64; i++) n += r->ev[i].type == type;
  return n;
}

static int run_req(lgw_gateway_t *gw, rec_t *r) {
  int rc = submit(gw, r, "ping");
  return rc ? rc : lgw_gateway_run(gw);
}

TEST(breaker_opens_skips_and_closes) {
  rec_t r;
  lgw_gateway_t *gw;
  int mark;
  memset(&r, 0, sizeof r);
  r.clock = 1000;
  /* provider 1 fails 3 times (one attempt per request), then answers;
   * provider 2 always refuses (a 400 neither counts nor is remembered) */
  gw = gateway(gws_load(GWS_SETTINGS("  transport_retries: 1\n"
                             "  breaker_failures: 2\n  breaker_window: 10\n"
                             "  breaker_cooldown: 30\n")
                    "providers:\n"
                    PROV("openai_chat", GWS_XSIM("status=503 times=3 id=brk"))
                    PROV("responses", GWS_XSIM("status=400")), sim.base,
                    sim.base), &r, 1);
  ASSERT(gw != NULL);
  ASSERT_EQ(lgw_gateway_breaker_state(gw, 0), 0);
  ASSERT_EQ(lgw_gateway_breaker_state(gw, 2), LGW_EINVAL);
  ASSERT_EQ(run_req(gw, &r), 0);          /* failure 1 */
  ASSERT_EQ(r.status, LGW_EHTTP);
  ASSERT_EQ(r.natt, 2);
  ASSERT_EQ(count_type(&r, 0, LGW_EVENT_BREAKER_OPEN), 0);
  r.clock += 5;
  mark = r.nev;
  ASSERT_EQ(run_req(gw, &r), 0);          /* failure 2: opens */
  ASSERT_EQ(count_type(&r, mark, LGW_EVENT_BREAKER_OPEN), 1);
  ASSERT_EQ(r.ev[mark + 1].type, LGW_EVENT_BREAKER_OPEN);  /* after the */
  ASSERT_EQ(r.ev[mark + 1].pi, 1);                        /* attempt */
  ASSERT_DEQ(r.ev[mark + 1].cooldown, 30);
  ASSERT_EQ(lgw_gateway_breaker_state(gw, 0), 1);
  r.clock += 29;
  ASSERT_EQ(run_req(gw, &r), 0);          /* skipped: only provider 2 */
  ASSERT_EQ(r.status, LGW_EHTTP);
  ASSERT_EQ(r.natt, 1);
  ASSERT_EQ(r.att_cfg[0], 2);
  r.clock += 1;                           /* cooldown over: half-open */
  ASSERT_EQ(lgw_gateway_breaker_state(gw, 0), 2);
  mark = r.nev;
  ASSERT_EQ(run_req(gw, &r), 0);          /* failure 3: open again */
  ASSERT_EQ(r.natt, 2);
  ASSERT_EQ(count_type(&r, mark, LGW_EVENT_BREAKER_OPEN), 1);
  ASSERT_EQ(lgw_gateway_breaker_state(gw, 0), 1);
  r.clock += 30;
  mark = r.nev;
  ASSERT_EQ(run_req(gw, &r), 0);          /* provider 1 answers: closed */
  ASSERT_EQ(r.provider_index, 1);
  ASSERT_EQ(count_type(&r, mark, LGW_EVENT_BREAKER_CLOSE), 1);
  ASSERT_EQ(lgw_gateway_breaker_state(gw, 0), 0);
  lgw_gateway_free(gw);
}

TEST(breaker_last_provider_still_tried) {
  rec_t r;
  lgw_gateway_t *gw;
  memset(&r, 0, sizeof r);
  r.clock = 50;
  gw = gateway(gws_load(GWS_SETTINGS("  transport_retries: 1\n"
                             "  breaker_failures: 1\n")
                    "providers:\n"
                    PROV("openai_chat", GWS_XSIM("status=503 times=1 id=last")),
                    sim.base), &r, 1);
  ASSERT(gw != NULL);
  ASSERT_EQ(run_req(gw, &r), 0);
  ASSERT_EQ(r.status, LGW_EHTTP);
  ASSERT_EQ(lgw_gateway_breaker_state(gw, 0), 1);
  ASSERT_EQ(run_req(gw, &r), 0);          /* open, but the only one */
  ASSERT_EQ(r.status, 0);
  ASSERT_EQ(lgw_gateway_breaker_state(gw, 0), 0);
  lgw_gateway_free(gw);
}

/* ---- rate limits ---------------------------------------------------------------- */

/* The waits the gateway started, in order. */
typedef struct sleeps {
  int n;
  double s[8];
} sleeps_t;

static void on_sleep(void *ud, uint64_t id, double seconds) {
  sleeps_t *z = ud;
  (void)id;
  if (z->n < 8) z->s[z->n] = seconds;
  z->n++;
}

TEST(rpm_paces_requests) {
  rec_t r[4];
  sleeps_t z;
  lgw_gateway_t *gw;
  double t0;
  int i;
  memset(r, 0, sizeof r);
  memset(&z, 0, sizeof z);
  /* 120 rpm: 2 per second, 2 at once; the injected clock stands still, so
   * the waits do not depend on how fast the requests are submitted */
  t0 = (double)uv_hrtime() / 1e9;
  gw = gateway(gws_load(GWS_SETTINGS("") "providers:\n"
                    "  - provider_type: openai\n    api_style: openai_chat\n"
                    "    base_url: \"%s\"\n    rpm: 120\n", sim.base),
               &r[0], 1);
  ASSERT(gw != NULL);
  gw->on_sleep = on_sleep;
  gw->on_sleep_ud = &z;
  for (i = 0; i < 4; i++) ASSERT_EQ(submit(gw, &r[i], "p"), 0);
  ASSERT_EQ(lgw_gateway_run(gw), 0);
  lgw_gateway_free(gw);
  for (i = 0; i < 4; i++) ASSERT_EQ(r[i].status, 0);
  ASSERT_EQ(z.n, 2);
  ASSERT_DEQ(z.s[0], 0.5);
  ASSERT_DEQ(z.s[1], 1.0);
  /* and they were waited for (the loop's clock may lag a few ms) */
  ASSERT(r[2].t_done - t0 >= 0.49);
  ASSERT(r[3].t_done - t0 >= 0.99);
  ASSERT_EQ(sim_stat(&sim, "peak_concurrent") >= 1, 1);
}

/* ---- callbacks that free ------------------------------------------------------------ */

TEST(free_from_event_callback) {
  rec_t r;
  lgw_gateway_t *gw;
  memset(&r, 0, sizeof r);
  gw = gateway(gws_load(GWS_SETTINGS("") "providers:\n" PROV("openai_chat", ""),
                    sim.base), &r, 0);
  ASSERT(gw != NULL);
  ASSERT_EQ(submit(gw, &r, "a"), 0);
  ASSERT_EQ(submit(gw, &r, "b"), 0);
  r.free_me = gw;  /* at the first event */
  ASSERT_EQ(lgw_gateway_run(gw), 0);  /* freed inside: run finishes it */
  ASSERT_EQ(r.calls, 2);
  ASSERT(r.nev >= 2);
}

static void delta_frees(lgw_gateway_t *gw, uint64_t id, const char *text,
                        size_t len, void *ud) {
  int *n = ud;
  (void)id;
  (void)text;
  (void)len;
  if ((*n)++ == 0) lgw_gateway_free(gw);
}

static void count_done(lgw_gateway_t *gw, uint64_t id, int status,
                       const lgw_result_t *res, const lgw_error_t *err,
                       void *ud) {
  int *st = ud;
  (void)gw;
  (void)id;
  (void)res;
  (void)err;
  *st = status;
}

TEST(free_from_delta_callback) {
  lgw_runtime_t *rt = gws_load(GWS_SETTINGS("") "providers:\n"
                           PROV("anthropic", GWS_XSIM("fault=sse_stall after=1")),
                           sim.base);
  lgw_gateway_t *gw = NULL;
  lgw_gateway_options_t opts;
  lgw_request_t q;
  lgw_message_t m = {"user", "x y z"};
  int n = 0, st = 99;
  ASSERT(rt != NULL);
  memset(&opts, 0, sizeof opts);
  opts.no_state = 1;
  ASSERT_EQ(lgw_gateway_new(rt, &opts, &gw, NULL), 0);
  lgw_runtime_free(rt);
  memset(&q, 0, sizeof q);
  q.messages = &m;
  q.nmessages = 1;
  q.on_delta = delta_frees;
  q.delta_ud = &n;
  ASSERT_EQ(lgw_gateway_submit(gw, &q, count_done, &st, NULL, NULL), 0);
  ASSERT_EQ(lgw_gateway_run(gw), 0);
  ASSERT_EQ(n, 1);
  ASSERT_EQ(st, LGW_ECANCELED);
}

TEST(event_of_an_attempt_and_its_json_line) {
  lgw_attempt_t a;
  lgw_event_t ev;
  char *line;
  size_t len = 0;
  memset(&a, 0, sizeof a);
  a.provider_index = 2;
  a.provider_type = "openai";
  a.base_url = "http://h/v1?key=[redacted]";
  a.model = "gpt-x";
  a.http_status = 503;
  a.code = LGW_EHTTP;
  a.message = "HTTP 503: \"busy\"\n\x01";
  a.elapsed = 0.25;
  a.retry_delay = 1;
  a.usage.input_tokens = 12;
  a.usage.output_tokens = -1;
  a.usage.cached_tokens = 0;
  a.usage.reasoning_tokens = -1;
  a.cost = -1;
  a.ttft = 0.1;
  a.configured_index = 3;
  lgw__event_of_attempt(&ev, &a, 7, "summarize", 2);
  ev.error_class = lgw_err_name(ev.code);
  ASSERT_EQ(ev.type, LGW_EVENT_ATTEMPT_END);
  ASSERT_EQ(ev.provider_index, 3);
  ASSERT_EQ(ev.attempt, 2);
  line = lgw_event_json(&ev, 1764666445.125, &len);
  ASSERT_STREQ(line,
    "{\"ts\":1764666445.125,\"type\":\"attempt_end\",\"request_id\":7,"
    "\"task\":\"summarize\",\"provider_index\":3,\"provider_type\":"
    "\"openai\",\"base_url\":\"http://h/v1?key=[redacted]\",\"model\":"
    "\"gpt-x\",\"attempt\":2,\"status\":503,\"error_class\":\"http\","
    "\"message\":\"HTTP 503: \\\"busy\\\"\\n\\u0001\",\"latency\":0.25,"
    "\"ttft\":0.1,\"retry_delay\":1,\"usage\":{\"input_tokens\":12,"
    "\"output_tokens\":null,\"cached_tokens\":0,\"reasoning_tokens\":"
    "null},\"cost\":null,\"breaker_cooldown\":0}");
  ASSERT_EQ(len, strlen(line));
  lgw_free(line);
  memset(&ev, 0, sizeof ev);
  ev.type = LGW_EVENT_BREAKER_OPEN;
  ev.task = ev.provider_type = ev.base_url = ev.model = ev.message = "";
  ev.error_class = "ok";
  ev.ttft = ev.cost = -1;
  ev.usage.input_tokens = ev.usage.output_tokens = -1;
  ev.usage.cached_tokens = ev.usage.reasoning_tokens = -1;
  ev.breaker_cooldown = 30;
  ev.latency = 1e-7;
  line = lgw_event_json(&ev, 0.1 + 0.2, NULL);  /* as cJSON wrote it */
  ASSERT_STREQ(line,
    "{\"ts\":0.3,\"type\":\"breaker_open\","
    "\"request_id\":0,\"task\":\"\",\"provider_index\":0,"
    "\"provider_type\":\"\",\"base_url\":\"\",\"model\":\"\","
    "\"attempt\":0,\"status\":0,\"error_class\":\"ok\",\"message\":\"\","
    "\"latency\":1e-07,\"ttft\":null,\"retry_delay\":0,"
    "\"usage\":{\"input_tokens\":null,\"output_tokens\":null,"
    "\"cached_tokens\":null,\"reasoning_tokens\":null},\"cost\":null,"
    "\"breaker_cooldown\":30}");
  lgw_free(line);
  ASSERT_STREQ(lgw_event_name(LGW_EVENT_BREAKER_CLOSE), "breaker_close");
  ASSERT_STREQ(lgw_event_name((lgw_event_type_t)99), "unknown");
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
  R(failover_event_sequence);
  R(failed_request_end_event);
  R(usage_summed_over_retries_and_cost);
  R(unpriced_model_has_no_cost);
  R(breaker_opens_skips_and_closes);
  R(breaker_last_provider_still_tried);
  R(rpm_paces_requests);
  R(free_from_event_callback);
  R(free_from_delta_callback);
  R(event_of_an_attempt_and_its_json_line);
  sim_stop(&sim);
  return TEST_SUMMARY();
}
