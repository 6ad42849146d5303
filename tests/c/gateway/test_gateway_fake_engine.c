/*
 * test_gateway_fake_engine.c -- the gateway on an engine of the test's
 * own (engine.h): no sockets, no loop, a clock that moves only to the
 * next thing due. Each provider answers from a script after a set
 * latency, so the attempts, their retry delays, the failover and every
 * time of the request are exact.
 */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "engine.h"
#include "gateway_priv.h"
#include "gw_support.h"
#include "test.h"

/* ---- the fake engine ----------------------------------------------------- */

#define MAX_XFERS 16

/* What a provider answers: status, latency, retry-after-ms (NULL: none). */
typedef struct answer {
  long status;
  double latency;
  const char *retry_after_ms;
  const char *body;
} answer_t;

struct lgw__xfer {
  int live;
  double start, due;
  const answer_t *a;
  lgw__xfer_cb cb;
  void *ud;
  char *body;                   /* the request's, taken */
};

struct lgw__timer {
  int armed;
  double due;
  lgw__engine_fn fn;
  void *ud;
};

struct lgw__defer {
  int armed;
  lgw__engine_fn fn;
  void *ud;
};

typedef struct fake {
  lgw__engine_t base;
  double now;
  struct lgw__xfer xfers[MAX_XFERS];
  size_t nxfers;
  /* what was sent: the URL and time of each transfer */
  char urls[MAX_XFERS][128];
  double sent[MAX_XFERS];
  char bodies[MAX_XFERS][1024];  /* the start of each request body */
  /* the script: answers of the provider whose URL has "p1" or "p2" */
  const answer_t *p1, *p2;
  size_t np1, np2, used1, used2;
  struct lgw__timer *timers[8];
  size_t ntimers;
  struct lgw__defer *defers[4];
  size_t ndefers;
} fake_t;

#define FAKE(e) ((fake_t *)(void *)(e))

static void deliver(lgw__xfer_t *x, int code, const char *error) {
  lgw__xfer_resp_t r;
  memset(&r, 0, sizeof r);
  r.code = code;
  r.error = error;
  r.status = code ? 0 : x->a->status;
  r.body = code ? "" : x->a->body;
  r.body_len = strlen(r.body);
  r.content_type = "application/json";
  r.retry_after_ms = code ? NULL : x->a->retry_after_ms;
  r.elapsed = x->due - x->start;
  x->live = 0;
  lgw_free(x->body);
  x->body = NULL;
  x->cb(&r, x->ud);
}

static int f_submit(lgw__engine_t *e, const lgw__xfer_opts_t *o, char *body,
                    lgw__xfer_cb cb, void *ud, lgw__xfer_t **out,
                    lgw_error_t *err) {
  fake_t *f = FAKE(e);
  lgw__xfer_t *x;
  (void)err;
  if (f->nxfers == MAX_XFERS) abort();
  x = &f->xfers[f->nxfers];
  snprintf(f->urls[f->nxfers], sizeof f->urls[0], "%s", o->url);
  snprintf(f->bodies[f->nxfers], sizeof f->bodies[0], "%.*s",
           (int)(o->body_len < 1023 ? o->body_len : 1023),
           body ? body : o->body);
  f->sent[f->nxfers++] = f->now;
  if (strstr(o->url, ":9001/")) {
    if (f->used1 == f->np1) abort();
    x->a = &f->p1[f->used1++];
  } else {
    if (f->used2 == f->np2) abort();
    x->a = &f->p2[f->used2++];
  }
  x->live = 1;
  x->start = f->now;
  x->due = f->now + x->a->latency;
  x->cb = cb;
  x->ud = ud;
  x->body = body;
  if (out) *out = x;
  return 0;
}

static void f_cancel(lgw__engine_t *e, lgw__xfer_t *x) {
  x->due = FAKE(e)->now;
  deliver(x, LGW_ECANCELED, "transfer canceled");
}

static lgw__timer_t *f_timer_new(lgw__engine_t *e, lgw__engine_fn fn,
                                 void *ud) {
  fake_t *f = FAKE(e);
  lgw__timer_t *t = calloc(1, sizeof *t);
  t->fn = fn;
  t->ud = ud;
  f->timers[f->ntimers++] = t;
  return t;
}

static void f_timer_start(lgw__engine_t *e, lgw__timer_t *t, double s) {
  t->armed = 1;
  t->due = FAKE(e)->now + s;
}

static void f_timer_stop(lgw__engine_t *e, lgw__timer_t *t) {
  (void)e;
  t->armed = 0;
}

static void f_timer_free(lgw__engine_t *e, lgw__timer_t *t) {
  fake_t *f = FAKE(e);
  size_t i;
  for (i = 0; t && i < f->ntimers; i++)
    if (f->timers[i] == t) {
      f->timers[i] = f->timers[--f->ntimers];
      free(t);
      return;
    }
}

static lgw__defer_t *f_defer_new(lgw__engine_t *e, lgw__engine_fn fn,
                                 void *ud) {
  fake_t *f = FAKE(e);
  lgw__defer_t *d = calloc(1, sizeof *d);
  d->fn = fn;
  d->ud = ud;
  f->defers[f->ndefers++] = d;
  return d;
}

static void f_defer_arm(lgw__engine_t *e, lgw__defer_t *d) {
  (void)e;
  d->armed = 1;
}

static void f_defer_free(lgw__engine_t *e, lgw__defer_t *d) {
  fake_t *f = FAKE(e);
  size_t i;
  for (i = 0; d && i < f->ndefers; i++)
    if (f->defers[i] == d) {
      f->defers[i] = f->defers[--f->ndefers];
      free(d);
      return;
    }
}

/* No pool here: work runs at once (the gateways of this test keep no
 * state file). */
static int f_work(lgw__engine_t *e, lgw__engine_fn work, lgw__engine_fn done,
                  void *ud) {
  (void)e;
  work(ud);
  done(ud);
  return 0;
}

static void f_work_wait(lgw__engine_t *e) { (void)e; }

static double f_now(lgw__engine_t *e) { return FAKE(e)->now; }

/* One turn: deferred calls first (the loop does not wait for them), else
 * the clock moves to the next transfer or timer due, which then fires. */
static void f_run_once(lgw__engine_t *e) {
  fake_t *f = FAKE(e);
  lgw__xfer_t *x = NULL;
  lgw__timer_t *t = NULL;
  double due = INFINITY;
  size_t i;
  for (i = 0; i < f->ndefers; i++)
    if (f->defers[i]->armed) {
      f->defers[i]->armed = 0;
      f->defers[i]->fn(f->defers[i]->ud);
      return;
    }
  for (i = 0; i < f->nxfers; i++)
    if (f->xfers[i].live && f->xfers[i].due < due) {
      x = &f->xfers[i];
      due = x->due;
    }
  for (i = 0; i < f->ntimers; i++)
    if (f->timers[i]->armed && f->timers[i]->due < due) {
      t = f->timers[i];
      due = t->due;
      x = NULL;
    }
  if (due == INFINITY) {
    fprintf(stderr, "fake engine: nothing left to run\n");
    abort();
  }
  f->now = due;
  if (t) {
    t->armed = 0;
    t->fn(t->ud);
  } else {
    deliver(x, 0, NULL);
  }
}

static struct uv_loop_s *f_loop(lgw__engine_t *e) {
  (void)e;
  return NULL;
}

static void f_free(lgw__engine_t *e) {
  fake_t *f = FAKE(e);
  size_t i;
  for (i = 0; i < f->nxfers; i++)
    if (f->xfers[i].live) f_cancel(e, &f->xfers[i]);
  while (f->ntimers) f_timer_free(e, f->timers[0]);
  while (f->ndefers) f_defer_free(e, f->defers[0]);
  /* the fake's memory is the test's */
}

static const lgw__engine_ops_t fake_ops = {
    f_submit,     f_cancel,    f_timer_new, f_timer_start, f_timer_stop,
    f_timer_free, f_defer_new, f_defer_arm, f_defer_free,  f_work,
    f_work_wait,  f_now,       f_run_once,  f_loop,        f_free};

static void fake_init(fake_t *f, const answer_t *p1, size_t np1,
                      const answer_t *p2, size_t np2) {
  memset(f, 0, sizeof *f);
  f->base.ops = &fake_ops;
  f->now = 100.0;  /* any start: times are taken relative to it */
  f->p1 = p1;
  f->np1 = np1;
  f->p2 = p2;
  f->np2 = np2;
}

/* ---- the gateway on it --------------------------------------------------- */

#define OK_BODY                                                             \
  "{\"choices\":[{\"message\":{\"role\":\"assistant\",\"content\":"         \
  "\"hello\"},\"finish_reason\":\"stop\"}],"                                \
  "\"usage\":{\"prompt_tokens\":3,\"completion_tokens\":1}}"
#define BUSY_BODY "{\"error\":{\"message\":\"busy\"}}"

#define TWO_PROVIDERS(settings)                                             \
  "providers:\n"                                                            \
  "  - provider_type: openai\n    api_style: openai_chat\n"                 \
  "    base_url: http://127.0.0.1:9001/v1\n    api_key: k1\n"               \
  "  - provider_type: openai\n    api_style: openai_chat\n"                 \
  "    base_url: http://127.0.0.1:9002/v1\n    api_key: k2\n"               \
  "settings:\n  fallback_model: m1\n  timeout: 30\n" settings

typedef struct outcome {
  int calls, status, provider_index;
  double at;                      /* the fake clock at the callback */
  char text[64];
  size_t natt;
  lgw_attempt_t att[8];
  double end_latency;             /* REQUEST_END's latency */
  int ends;
} outcome_t;

static fake_t *g_fake;

static void on_done(lgw_gateway_t *gw, uint64_t id, int status,
                    const lgw_result_t *res, const lgw_error_t *err,
                    void *ud) {
  outcome_t *o = ud;
  size_t i;
  (void)gw;
  (void)id;
  (void)err;
  o->calls++;
  o->status = status;
  o->at = g_fake->now;
  o->provider_index = res->provider_index;
  gws_cp(o->text, sizeof o->text, res->text);
  o->natt = res->nattempts;
  for (i = 0; i < res->nattempts && i < 8; i++) {
    o->att[i] = res->attempts[i];
    o->att[i].message = o->att[i].model = NULL;  /* borrowed */
  }
}

static void on_event(const lgw_event_t *ev, void *ud) {
  outcome_t *o = ud;
  if (ev->type != LGW_EVENT_REQUEST_END) return;
  o->ends++;
  o->end_latency = ev->latency;
}

/* One request on a fresh gateway over the fake engine f. */
static int run(fake_t *f, const char *yaml, double deadline, outcome_t *o) {
  lgw_runtime_t *rt = gws_load("%s", yaml);
  lgw_gateway_options_t opts;
  lgw_gateway_t *gw;
  lgw_request_t r;
  lgw_message_t m = {"user", "hi"};
  int rc;
  memset(o, 0, sizeof *o);
  memset(&opts, 0, sizeof opts);
  opts.no_state = 1;
  opts.seed = 1;
  opts.on_event = on_event;
  opts.event_ud = o;
  if (!rt) return -1;
  g_fake = f;
  rc = lgw__gateway_new_on(rt, &opts, &f->base, &gw, NULL);
  lgw_runtime_free(rt);
  if (rc) return rc;
  memset(&r, 0, sizeof r);
  r.task = "t";
  r.messages = &m;
  r.nmessages = 1;
  r.deadline = deadline;
  rc = lgw_gateway_submit(gw, &r, on_done, o, NULL, NULL);
  if (rc == 0) rc = lgw_gateway_run(gw);
  lgw_gateway_free(gw);
  return rc;
}

/* 503 with retry-after-ms on the first provider, again on its retry (the
 * last: transport_retries 2), then the second provider answers. */
TEST(retry_then_failover_exact_times) {
  static const answer_t p1[] = {{503, 0.25, "1500", BUSY_BODY},
                                {503, 0.25, "1500", BUSY_BODY}};
  static const answer_t p2[] = {{200, 0.5, NULL, OK_BODY}};
  fake_t f;
  outcome_t o;
  fake_init(&f, p1, 2, p2, 1);
  ASSERT_EQ(run(&f, TWO_PROVIDERS("  transport_retries: 2\n"), 0, &o), 0);
  ASSERT_EQ(o.calls, 1);
  ASSERT_EQ(o.status, 0);
  ASSERT_STREQ(o.text, "hello");
  ASSERT_EQ(o.provider_index, 2);
  /* what was sent, where and when */
  ASSERT_EQ(f.nxfers, 3);
  ASSERT_STREQ(f.urls[0], "http://127.0.0.1:9001/v1/chat/completions");
  ASSERT_STREQ(f.urls[1], "http://127.0.0.1:9001/v1/chat/completions");
  ASSERT_STREQ(f.urls[2], "http://127.0.0.1:9002/v1/chat/completions");
  ASSERT_DEQ(f.sent[0] - 100.0, 0.0);
  ASSERT_DEQ(f.sent[1] - 100.0, 1.75);   /* 0.25 answer + 1.5 asked */
  ASSERT_DEQ(f.sent[2] - 100.0, 2.0);    /* failover at once */
  ASSERT_DEQ(o.at - 100.0, 2.5);
  /* the attempts */
  ASSERT_EQ(o.natt, 3);
  ASSERT_EQ(o.att[0].provider_index, 1);
  ASSERT_EQ(o.att[0].http_status, 503);
  ASSERT_EQ(o.att[0].code, LGW_EHTTP);
  ASSERT_DEQ(o.att[0].elapsed, 0.25);
  ASSERT_DEQ(o.att[0].retry_delay, 1.5);
  ASSERT_EQ(o.att[1].provider_index, 1);
  ASSERT_EQ(o.att[1].http_status, 503);
  ASSERT_DEQ(o.att[1].retry_delay, 0.0);
  ASSERT_EQ(o.att[2].provider_index, 2);
  ASSERT_EQ(o.att[2].http_status, 200);
  ASSERT_EQ(o.att[2].code, 0);
  ASSERT_DEQ(o.att[2].elapsed, 0.5);
  ASSERT_EQ(o.att[2].usage.input_tokens, 3);
  ASSERT_EQ(o.ends, 1);
  ASSERT_DEQ(o.end_latency, 2.5);
}

/* The deadline cuts the second provider's slow answer at exactly 3 s. */
TEST(deadline_cuts_attempt_exactly) {
  static const answer_t p1[] = {{500, 1.0, NULL, BUSY_BODY}};
  static const answer_t p2[] = {{200, 10.0, NULL, OK_BODY}};
  fake_t f;
  outcome_t o;
  fake_init(&f, p1, 1, p2, 1);
  ASSERT_EQ(run(&f, TWO_PROVIDERS("  transport_retries: 1\n"), 3.0, &o), 0);
  ASSERT_EQ(o.status, LGW_EDEADLINE);
  ASSERT_DEQ(o.at - 100.0, 3.0);
  ASSERT_EQ(f.nxfers, 2);
  ASSERT_DEQ(f.sent[1] - 100.0, 1.0);
  ASSERT_EQ(o.natt, 2);
  ASSERT_EQ(o.att[0].http_status, 500);
  ASSERT_DEQ(o.att[0].elapsed, 1.0);
  ASSERT_EQ(o.att[1].provider_index, 2);
  ASSERT_EQ(o.att[1].code, LGW_EDEADLINE);
  ASSERT_DEQ(o.att[1].elapsed, 2.0);
  ASSERT_DEQ(o.end_latency, 3.0);
}

/* Backoff without retry-after: the seeded jitter's delay is the time the
 * retry is sent. */
TEST(backoff_delay_is_the_wait) {
  static const answer_t p1[] = {{429, 0.1, NULL, BUSY_BODY},
                                {200, 0.2, NULL, OK_BODY}};
  fake_t f;
  outcome_t o;
  fake_init(&f, p1, 2, NULL, 0);
  ASSERT_EQ(run(&f, TWO_PROVIDERS("  transport_retries: 2\n"
                                  "  backoff_base: 0.5\n  backoff_max: 4\n"),
                0, &o), 0);
  ASSERT_EQ(o.status, 0);
  ASSERT_EQ(o.provider_index, 1);
  ASSERT_EQ(o.natt, 2);
  ASSERT_EQ(o.att[0].code, LGW_ERATELIMIT);
  ASSERT(o.att[0].retry_delay >= 0.25 && o.att[0].retry_delay < 0.5);
  ASSERT_DEQ(f.sent[1] - 100.0, 0.1 + o.att[0].retry_delay);
  ASSERT_DEQ(o.at - 100.0, 0.3 + o.att[0].retry_delay);
}

/* ---- requests waiting for a slot ----------------------------------------- */

typedef struct seen {
  int order[16], n;               /* which request called back, in order */
  outcome_t o[16];
  int ends, end_code[16];
  double end_latency[16];
} seen_t;

static seen_t *g_seen;

static void on_done_n(lgw_gateway_t *gw, uint64_t id, int status,
                      const lgw_result_t *res, const lgw_error_t *err,
                      void *ud) {
  int k = (int)(intptr_t)ud;
  g_seen->order[g_seen->n++] = k;
  on_done(gw, id, status, res, err, &g_seen->o[k]);
}

static void on_event_n(const lgw_event_t *ev, void *ud) {
  seen_t *s = ud;
  if (ev->type != LGW_EVENT_REQUEST_END || ev->request_id < 1 ||
      ev->request_id > 16)
    return;
  s->ends++;
  s->end_code[ev->request_id - 1] = ev->code;
  s->end_latency[ev->request_id - 1] = ev->latency;
}

static lgw_gateway_t *gw_on(fake_t *f, const char *yaml, seen_t *s) {
  lgw_runtime_t *rt = gws_load("%s", yaml);
  lgw_gateway_options_t opts;
  lgw_gateway_t *gw = NULL;
  memset(s, 0, sizeof *s);
  memset(&opts, 0, sizeof opts);
  opts.no_state = 1;
  opts.seed = 1;
  opts.on_event = on_event_n;
  opts.event_ud = s;
  g_fake = f;
  g_seen = s;
  if (!rt) return NULL;
  if (lgw__gateway_new_on(rt, &opts, &f->base, &gw, NULL)) gw = NULL;
  lgw_runtime_free(rt);
  return gw;
}

static const lgw_message_t hi = {"user", "hi"};

static uint64_t submit_n(lgw_gateway_t *gw, int k, double deadline,
                         const lgw_rich_message_t *rich, size_t nrich) {
  lgw_request_t r;
  uint64_t id = 0;
  memset(&r, 0, sizeof r);
  r.task = "t";
  if (rich) {
    r.rich_messages = rich;
    r.nrich_messages = nrich;
  } else {
    r.messages = &hi;
    r.nmessages = 1;
  }
  r.deadline = deadline;
  if (lgw_gateway_submit(gw, &r, on_done_n, (void *)(intptr_t)k, &id, NULL))
    return 0;
  return id;
}

/* Is the i-th waiting request (0-based) in compact form? -1: none. */
static int waiting_compact(lgw_gateway_t *gw, int i) {
  LGW_LIST_FOREACH(l, &gw->wait) {
    if (i-- == 0) return LGW_CONTAINER_OF(l, gw_node_t, wait)->compact;
  }
  return -1;
}

/* One slot: requests submitted while it is taken wait in compact form,
 * in order; a deadline and a cancel reach them there; the messages sent
 * are the ones submitted. */
TEST(queued_requests_compact_order_deadline_cancel) {
  static const answer_t p1[] = {{200, 1.0, NULL, OK_BODY},
                                {200, 1.0, NULL, OK_BODY},
                                {200, 1.0, NULL, OK_BODY}};
  static const lgw_rich_message_t rich[] = {
      {.role = "system", .content = "be brief", .name = "sys"},
      {.role = "user", .content = "what is 2+2?"},
      {.role = "assistant", .content = ""},
      {.role = "tool", .content = "4", .tool_call_id = "call_7",
       .is_error = 1}};
  fake_t f;
  seen_t s;
  lgw_gateway_t *gw;
  uint64_t ids[5];
  fake_init(&f, p1, 3, NULL, 0);
  gw = gw_on(&f, TWO_PROVIDERS("  max_concurrent: 1\n"), &s);
  ASSERT(gw != NULL);
  ids[0] = submit_n(gw, 0, 0, NULL, 0);      /* in flight */
  ids[1] = submit_n(gw, 1, 0.5, NULL, 0);    /* its deadline while queued */
  ids[2] = submit_n(gw, 2, 0, rich, 4);      /* rich messages */
  ids[3] = submit_n(gw, 3, 0, NULL, 0);      /* canceled while queued */
  ids[4] = submit_n(gw, 4, 10.0, NULL, 0);   /* a deadline never reached */
  ASSERT_EQ(ids[0], 1);
  ASSERT_EQ(ids[4], 5);
  ASSERT_EQ(lgw_gateway_pending(gw), 5);
  ASSERT_EQ(waiting_compact(gw, 0), 1);
  ASSERT_EQ(waiting_compact(gw, 3), 1);
  ASSERT_EQ(waiting_compact(gw, 4), -1);
  ASSERT_EQ(lgw_gateway_cancel(gw, ids[3]), 0);
  ASSERT_EQ(lgw_gateway_cancel(gw, ids[3]), LGW_EINVAL);  /* done */
  ASSERT_EQ(lgw_gateway_cancel(gw, 99), LGW_EINVAL);
  ASSERT_EQ(lgw_gateway_run(gw), 0);
  /* callbacks: the cancel, the deadline, then the three answers */
  ASSERT_EQ(s.n, 5);
  ASSERT_EQ(s.order[0], 3);
  ASSERT_EQ(s.order[1], 1);
  ASSERT_EQ(s.order[2], 0);
  ASSERT_EQ(s.order[3], 2);
  ASSERT_EQ(s.order[4], 4);
  ASSERT_EQ(s.o[3].status, LGW_ECANCELED);
  ASSERT_DEQ(s.o[3].at - 100.0, 0.0);
  ASSERT_EQ(s.o[3].natt, 0);
  ASSERT_EQ(s.o[1].status, LGW_EDEADLINE);
  ASSERT_DEQ(s.o[1].at - 100.0, 0.5);
  ASSERT_EQ(s.o[1].natt, 0);
  ASSERT_DEQ(s.end_latency[1], 0.5);
  ASSERT_EQ(s.end_code[1], LGW_EDEADLINE);
  ASSERT_EQ(s.end_code[3], LGW_ECANCELED);
  ASSERT_EQ(s.o[0].status, 0);
  ASSERT_EQ(s.o[2].status, 0);
  ASSERT_EQ(s.o[4].status, 0);
  ASSERT_STREQ(s.o[4].text, "hello");
  ASSERT_DEQ(s.o[2].at - 100.0, 2.0);
  ASSERT_DEQ(s.o[4].at - 100.0, 3.0);
  ASSERT_DEQ(s.end_latency[4], 3.0);
  ASSERT_EQ(s.o[4].natt, 1);
  ASSERT_EQ(s.o[4].att[0].provider_index, 1);
  ASSERT_EQ(s.ends, 5);
  /* sent in order, one at a time */
  ASSERT_EQ(f.nxfers, 3);
  ASSERT_DEQ(f.sent[1] - 100.0, 1.0);
  ASSERT_DEQ(f.sent[2] - 100.0, 2.0);
  ASSERT_CONTAINS(f.bodies[0], "\"content\":\"hi\"");
  ASSERT_CONTAINS(f.bodies[1], "\"name\":\"sys\"");
  ASSERT_CONTAINS(f.bodies[1], "what is 2+2?");
  ASSERT_CONTAINS(f.bodies[1], "\"tool_call_id\":\"call_7\"");
  ASSERT_CONTAINS(f.bodies[2], "\"content\":\"hi\"");
  lgw_gateway_free(gw);
}

/* Freeing the gateway with requests waiting calls each back, canceled,
 * in the order they were submitted. */
TEST(queued_requests_canceled_on_free) {
  static const answer_t p1[] = {{200, 1.0, NULL, OK_BODY}};
  fake_t f;
  seen_t s;
  lgw_gateway_t *gw;
  int k;
  fake_init(&f, p1, 1, NULL, 0);
  gw = gw_on(&f, TWO_PROVIDERS("  max_concurrent: 1\n"), &s);
  ASSERT(gw != NULL);
  for (k = 0; k < 6; k++) ASSERT(submit_n(gw, k, k == 2 ? 5.0 : 0, NULL, 0));
  ASSERT_EQ(waiting_compact(gw, 0), 1);
  lgw_gateway_free(gw);
  ASSERT_EQ(s.n, 6);
  for (k = 0; k < 6; k++) {
    ASSERT_EQ(s.order[k], k);
    ASSERT_EQ(s.o[k].status, LGW_ECANCELED);
  }
}

/* Requests with more than messages (here tools, an override) wait as
 * full records, among compact ones, in order. */
TEST(queued_requests_mixed_forms_keep_order) {
  static const answer_t p1[] = {{200, 1.0, NULL, OK_BODY},
                                {200, 1.0, NULL, OK_BODY},
                                {200, 1.0, NULL, OK_BODY},
                                {200, 1.0, NULL, OK_BODY}};
  static const lgw_tool_t tool = {"add", "adds", "{\"type\":\"object\"}", 0};
  fake_t f;
  seen_t s;
  lgw_gateway_t *gw;
  lgw_request_t r;
  int k;
  fake_init(&f, p1, 4, NULL, 0);
  gw = gw_on(&f, TWO_PROVIDERS("  max_concurrent: 1\n"), &s);
  ASSERT(gw != NULL);
  ASSERT(submit_n(gw, 0, 0, NULL, 0));
  ASSERT(submit_n(gw, 1, 0, NULL, 0));
  memset(&r, 0, sizeof r);
  r.task = "t";
  r.messages = &hi;
  r.nmessages = 1;
  r.tools = &tool;
  r.ntools = 1;
  r.model = "m-override";
  ASSERT_EQ(lgw_gateway_submit(gw, &r, on_done_n, (void *)(intptr_t)2, NULL,
                               NULL), 0);
  ASSERT(submit_n(gw, 3, 0, NULL, 0));
  ASSERT_EQ(waiting_compact(gw, 0), 1);
  ASSERT_EQ(waiting_compact(gw, 1), 0);
  ASSERT_EQ(waiting_compact(gw, 2), 1);
  ASSERT_EQ(lgw_gateway_run(gw), 0);
  ASSERT_EQ(s.n, 4);
  for (k = 0; k < 4; k++) {
    ASSERT_EQ(s.order[k], k);
    ASSERT_EQ(s.o[k].status, 0);
    ASSERT_DEQ(f.sent[k] - 100.0, (double)k);
  }
  ASSERT_CONTAINS(f.bodies[2], "\"model\":\"m-override\"");
  ASSERT_CONTAINS(f.bodies[2], "\"name\":\"add\"");
  ASSERT_NOT_CONTAINS(f.bodies[3], "m-override");
  lgw_gateway_free(gw);
}

/* Deadlines of waiting requests: one timer of the gateway's, the
 * earliest first, the same deadline in submit order; a deadline still
 * cuts the attempt of a request that left the queue. */
TEST(queued_requests_deadlines_in_order) {
  static const answer_t p1[] = {{200, 1.0, NULL, OK_BODY},
                                {200, 1.0, NULL, OK_BODY},
                                {200, 1.0, NULL, OK_BODY}};
  fake_t f;
  seen_t s;
  lgw_gateway_t *gw;
  size_t timers;
  fake_init(&f, p1, 3, NULL, 0);
  gw = gw_on(&f, TWO_PROVIDERS("  max_concurrent: 1\n"), &s);
  ASSERT(gw != NULL);
  timers = f.ntimers;
  ASSERT(submit_n(gw, 0, 0, NULL, 0));      /* in flight, 100 to 101 */
  ASSERT(submit_n(gw, 1, 1.5, NULL, 0));    /* sent at 101, cut at 101.5 */
  ASSERT(submit_n(gw, 2, 0.7, NULL, 0));    /* waiting at 100.7 */
  ASSERT(submit_n(gw, 3, 0.7, NULL, 0));    /* the same, after it */
  ASSERT(submit_n(gw, 4, 0.3, NULL, 0));    /* the first one due */
  ASSERT(submit_n(gw, 5, 0, NULL, 0));      /* sent at 101.5 */
  ASSERT_EQ(f.ntimers, timers + 1);         /* one for all of them */
  ASSERT_EQ(lgw_gateway_run(gw), 0);
  ASSERT_EQ(s.n, 6);
  ASSERT_EQ(s.order[0], 4);
  ASSERT_EQ(s.order[1], 2);
  ASSERT_EQ(s.order[2], 3);
  ASSERT_EQ(s.order[3], 0);
  ASSERT_EQ(s.order[4], 1);
  ASSERT_EQ(s.order[5], 5);
  ASSERT_EQ(s.o[4].status, LGW_EDEADLINE);
  ASSERT_DEQ(s.o[4].at - 100.0, 0.3);
  ASSERT_EQ(s.o[2].status, LGW_EDEADLINE);
  ASSERT_DEQ(s.o[2].at - 100.0, 0.7);
  ASSERT_EQ(s.o[3].status, LGW_EDEADLINE);
  ASSERT_EQ(s.o[3].natt, 0);
  ASSERT_EQ(s.o[0].status, 0);
  ASSERT_EQ(s.o[1].status, LGW_EDEADLINE);
  ASSERT_DEQ(s.o[1].at - 100.0, 1.5);
  ASSERT_EQ(s.o[1].natt, 1);
  ASSERT_EQ(s.o[1].att[0].code, LGW_EDEADLINE);
  ASSERT_DEQ(s.o[1].att[0].elapsed, 0.5);
  ASSERT_DEQ(s.end_latency[1], 1.5);
  ASSERT_EQ(s.o[5].status, 0);
  ASSERT_DEQ(s.o[5].at - 100.0, 2.5);
  ASSERT_EQ(f.nxfers, 3);
  ASSERT_DEQ(f.sent[1] - 100.0, 1.0);
  ASSERT_DEQ(f.sent[2] - 100.0, 1.5);
  lgw_gateway_free(gw);
}

/* The record of the i-th request in the gateway's list (0-based) when it
 * is a full record, NULL otherwise. */
static req_t *nth_record(lgw_gateway_t *gw, int i) {
  LGW_LIST_FOREACH(l, &gw->all) {
    gw_node_t *n = LGW_CONTAINER_OF(l, gw_node_t, all);
    if (i-- == 0) return n->compact ? NULL : LGW_CONTAINER_OF(n, req_t, node);
  }
  return NULL;
}

/* A small request with only messages keeps its task and messages in its
 * record (no arena block, no compact block) while in flight; what it sends
 * is what it was given, every message field included; a larger one, or
 * one with more than messages, has them in an arena as before. */
TEST(in_flight_small_request_data_in_record) {
  static const answer_t p1[] = {{200, 1.0, NULL, OK_BODY},
                                {200, 1.0, NULL, OK_BODY},
                                {200, 1.0, NULL, OK_BODY},
                                {200, 1.0, NULL, OK_BODY}};
  static const lgw_rich_message_t small[] = {
      {.role = "system", .content = "be", .name = "sys"},
      {.role = "tool", .content = "4", .tool_call_id = "c7", .is_error = 1}};
  static const lgw_rich_message_t large[] = {
      {.role = "user",
       .content = "a message too long for the record's tail: it is copied "
                  "into an arena block as any larger request's messages"}};
  fake_t f;
  seen_t s;
  lgw_gateway_t *gw;
  lgw_request_t r;
  req_t *q[4];
  int k;
  fake_init(&f, p1, 4, NULL, 0);
  gw = gw_on(&f, TWO_PROVIDERS(""), &s);
  ASSERT(gw != NULL);
  ASSERT(submit_n(gw, 0, 0, NULL, 0));
  ASSERT(submit_n(gw, 1, 0, small, 2));
  ASSERT(submit_n(gw, 2, 0, large, 1));
  memset(&r, 0, sizeof r);
  r.task = "t";
  r.messages = &hi;
  r.nmessages = 1;
  r.max_tokens = 7;  /* an override: not of compact shape */
  ASSERT_EQ(lgw_gateway_submit(gw, &r, on_done_n, (void *)(intptr_t)3, NULL,
                               NULL), 0);
  for (k = 0; k < 4; k++) {
    q[k] = nth_record(gw, k);
    ASSERT(q[k] != NULL);
    ASSERT_EQ(q[k]->state, S_HTTP);
    ASSERT(q[k]->h == NULL);
    ASSERT_STREQ(q[k]->task, "t");
  }
  ASSERT_EQ(q[0]->inl, 1);
  ASSERT(q[0]->arena == NULL);
  ASSERT_EQ(q[1]->inl, 1);
  ASSERT(q[1]->arena == NULL);
  ASSERT_EQ(q[2]->inl, 0);
  ASSERT(q[2]->arena != NULL);
  ASSERT_EQ(q[3]->inl, 0);
  ASSERT(q[3]->ov != NULL);
  ASSERT_EQ(q[3]->ov->max_tokens, 7);
  ASSERT(q[0]->ov == NULL);
  ASSERT_EQ(lgw_gateway_run(gw), 0);
  ASSERT_EQ(s.n, 4);
  for (k = 0; k < 4; k++) ASSERT_EQ(s.o[k].status, 0);
  ASSERT_EQ(f.nxfers, 4);
  ASSERT_CONTAINS(f.bodies[0], "\"messages\":[{\"role\":\"user\","
                               "\"content\":\"hi\"}]");
  ASSERT_CONTAINS(f.bodies[1], "{\"role\":\"system\",\"content\":\"be\","
                               "\"name\":\"sys\"}");
  ASSERT_CONTAINS(f.bodies[1], "\"tool_call_id\":\"c7\"");
  ASSERT_CONTAINS(f.bodies[1], "\"content\":\"4\"");
  ASSERT_CONTAINS(f.bodies[2], "too long for the record's tail");
  ASSERT_CONTAINS(f.bodies[3], "\"max_completion_tokens\":7");
  ASSERT_CONTAINS(f.bodies[3], "\"content\":\"hi\"");
  lgw_gateway_free(gw);
}

int main(void) {
  lgw_set_log(gws_quiet_log, NULL, LGW_LOG_ERROR);
  RUN(retry_then_failover_exact_times);
  RUN(in_flight_small_request_data_in_record);
  RUN(deadline_cuts_attempt_exactly);
  RUN(backoff_delay_is_the_wait);
  RUN(queued_requests_compact_order_deadline_cancel);
  RUN(queued_requests_canceled_on_free);
  RUN(queued_requests_mixed_forms_keep_order);
  RUN(queued_requests_deadlines_in_order);
  return TEST_SUMMARY();
}
