/*
 * test_gateway_fake_engine.c -- the gateway on an engine of the test's
 * own (engine.h): no sockets, no loop, a clock that moves only to the
 * next thing due. Each provider answers from a script after a set
 * latency, so the attempts, their retry delays, the failover and every
 * time of the request are exact.
 */
#include <math.h>
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

int main(void) {
  lgw_set_log(gws_quiet_log, NULL, LGW_LOG_ERROR);
  RUN(retry_then_failover_exact_times);
  RUN(deadline_cuts_attempt_exactly);
  RUN(backoff_delay_is_the_wait);
  return TEST_SUMMARY();
}
