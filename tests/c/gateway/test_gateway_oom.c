/*
 * test_gateway_oom.c -- the gateway when memory runs out: each scenario
 * runs again and again with its n-th allocation failing (n = 0, 1, 2 ...
 * through lgw_set_allocator), alone, then with every later one too, until
 * a run has no failure left to inject.
 * What a user observes then: every submitted request's callback runs
 * exactly once, with the exact full result or LGW_ENOMEM ("out of
 * memory"), or submit itself fails so; one allocation failing ends at most
 * one request, the others are unaffected; the failure is never the
 * provider's (no circuit-breaker count, no failover, no provider state
 * written as if it failed); and the gateway stays usable: a request
 * submitted afterwards gets the exact answer. Against the provider
 * simulator (plain, streamed, failover with retries, rich, eight in
 * flight) and on an engine of the test's own (queueing, cancel, deadline,
 * events, breakers and rate limits, the provider-state file). Run it under
 * ASan or valgrind for leaks and double frees; under valgrind
 * (getenv("VALGRIND")) the sweeps take every other allocation. To debug
 * one: OOM_AT=n [OOM_PERSIST=1] test_gateway_oom <scenario>.
 */
#include <dirent.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "engine.h"
#include "gateway_priv.h"
#include "gw_support.h"
#include "provider_state.h"
#include "sim_support.h"
#include "test.h"

static sim_t sim;

/* ---- the allocator: the n-th allocation fails ---------------------------- */

static long fail_at = -1;  /* allocations before the one that fails; -1 */
static long nallocs;       /* allocations since armed */
static int hit;            /* the failure was injected */
static long cur_n;         /* the allocation failing in this run */

static int persist;        /* every allocation from the n-th on fails */

static int spend(void) {
  nallocs++;
  if (fail_at < 0) return 1;
  if (fail_at == 0) {
    hit = 1;
    fail_at = persist ? 0 : -1;
    return 0;
  }
  fail_at--;
  return 1;
}
static void *t_malloc(size_t n) { return spend() ? malloc(n) : NULL; }
static void *t_realloc(void *p, size_t n) {
  return spend() ? realloc(p, n) : NULL;
}

static void arm(long n) {
  cur_n = n;
  fail_at = n;
  nallocs = 0;
  hit = 0;
}
static void disarm(void) { fail_at = -1; }

/* ---- outcomes -------------------------------------------------------------- */

#define NREQ_MAX 8
#define AFTER NREQ_MAX  /* the request submitted after the failure */

typedef struct out {
  int calls, status, ndeltas;
  char err[1100], text[128], deltas[128], finish[16];
  size_t natt;
  int att_pi[8], att_code[8], att_status[8];
  int ncalls;
  size_t nvec, dim;
  double vec[8];            /* an embedding's first values */
  double at;                /* the fake engine's clock at the callback */
  char call_name[32], call_args[64], call_id[32];
} out_t;

static double fake_clock(void);

static void on_delta(lgw_gateway_t *gw, uint64_t id, const char *text,
                     size_t len, void *ud) {
  out_t *o = ud;
  size_t have = strlen(o->deltas);
  (void)gw;
  (void)id;
  if (have + len < sizeof o->deltas) {
    memcpy(o->deltas + have, text, len);
    o->deltas[have + len] = '\0';
  }
  o->ndeltas++;
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
  o->at = fake_clock();
  gws_cp(o->err, sizeof o->err, err ? err->message : "");
  if (err && err->code != status) o->status = 1000;  /* never expected */
  gws_cp(o->text, sizeof o->text, res->text);
  gws_cp(o->finish, sizeof o->finish, res->finish_reason);
  o->natt = res->nattempts;
  for (i = 0; i < res->nattempts && i < 8; i++) {
    o->att_pi[i] = res->attempts[i].configured_index;
    o->att_code[i] = res->attempts[i].code;
    o->att_status[i] = res->attempts[i].http_status;
  }
  o->ncalls = (int)res->ntool_calls;
  if (res->ntool_calls) {
    gws_cp(o->call_name, sizeof o->call_name, res->tool_calls[0].name);
    gws_cp(o->call_args, sizeof o->call_args,
           res->tool_calls[0].arguments_json);
    gws_cp(o->call_id, sizeof o->call_id, res->tool_calls[0].id);
  }
}

/* The attempts a successful request made, exactly: configured provider,
 * code, HTTP status. */
typedef struct att_want {
  int pi, code, status;
} att_want_t;

static void check_attempts(const out_t *o, const att_want_t *w, size_t n) {
  size_t i;
  ASSERT_EQ(o->natt, n);
  for (i = 0; i < n; i++) {
    ASSERT_EQ(o->att_pi[i], w[i].pi);
    ASSERT_EQ(o->att_code[i], w[i].code);
    ASSERT_EQ(o->att_status[i], w[i].status);
  }
}

/* A request ended by the shortage: LGW_ENOMEM, said so; its attempts are
 * those of the run without a shortage (w, in order; one may be missing:
 * the one the shortage kept from being recorded), the last one possibly
 * cut by it (LGW_ENOMEM) -- never a failover it caused. */
static void check_nomem(const out_t *o, const att_want_t *w, size_t n) {
  size_t i, j = 0;
  ASSERT_EQ(o->status, LGW_ENOMEM);
  ASSERT_CONTAINS(o->err, "out of memory");
  ASSERT(o->natt <= n);
  for (i = 0; i < o->natt; i++, j++) {
    /* the shortage's, or a cancel's or deadline's whose message it kept
     * from being made (the request then ends with LGW_ENOMEM) */
    if (i + 1 == o->natt && (o->att_code[i] == LGW_ENOMEM ||
                             o->att_code[i] == LGW_ECANCELED ||
                             o->att_code[i] == LGW_EDEADLINE)) {
      while (j < n && w[j].pi != o->att_pi[i]) j++;
      ASSERT(j < n);
      break;
    }
    while (j < n && (w[j].pi != o->att_pi[i] || w[j].code != o->att_code[i] ||
                     w[j].status != o->att_status[i]))
      j++;
    if (j == n)
      TEST__FAIL("attempt %zu: provider %d code %d status %d not expected",
                 i, o->att_pi[i], o->att_code[i], o->att_status[i]);
  }
}

/* Failures a breaker counts: those in its window, all of them once it
 * opened. */
static size_t breaker_fails(const lgw__breaker_t *b) {
  return b->open ? (size_t)b->k : b->nfails;
}

/* ---- the fake engine: no sockets, a clock that jumps --------------------- */

/* What a provider answers, after latency seconds. */
typedef struct answer {
  long status;
  double latency;
  const char *body;
} answer_t;

#define FAKE_XFERS 64

struct lgw__xfer {
  int live;
  double due;
  const answer_t *a;
  lgw__xfer_cb cb;
  void *ud;
  char *body;
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

/* Provider i (its URL has port 9001 + i) answers script[i][k] to its k-th
 * request, the last answer again once the script is over. */
typedef struct fake {
  lgw__engine_t base;
  double now;
  struct lgw__xfer xfers[FAKE_XFERS];
  size_t nxfers;
  const answer_t *script[3];
  size_t nscript[3], used[3];
  struct lgw__timer *timers[64];
  size_t ntimers;
  struct lgw__defer *defers[4];
  size_t ndefers;
} fake_t;

#define FAKE(e) ((fake_t *)(void *)(e))

static void deliver(lgw__xfer_t *x, int code) {
  lgw__xfer_resp_t r;
  memset(&r, 0, sizeof r);
  r.code = code;
  r.error = code ? "transfer canceled" : NULL;
  r.status = code ? 0 : x->a->status;
  r.body = code ? "" : x->a->body;
  r.body_len = strlen(r.body);
  r.content_type = "application/json";
  x->live = 0;
  lgw_free(x->body);
  x->body = NULL;
  x->cb(&r, x->ud);
}

static int f_submit(lgw__engine_t *e, const lgw__xfer_opts_t *o, char *body,
                    lgw__xfer_cb cb, void *ud, lgw__xfer_t **out,
                    lgw_error_t *err) {
  fake_t *f = FAKE(e);
  lgw__xfer_t *x = NULL;
  const char *port = strstr(o->url, ":900");
  size_t i, p = port ? (size_t)(port[4] - '1') : 0;
  (void)err;
  for (i = 0; i < f->nxfers && !x; i++)
    if (!f->xfers[i].live) x = &f->xfers[i];
  if (!x) {
    if (f->nxfers == FAKE_XFERS || p > 2 || !f->nscript[p]) abort();
    x = &f->xfers[f->nxfers++];
  }
  x->a = &f->script[p][f->used[p] < f->nscript[p] ? f->used[p]
                                                  : f->nscript[p] - 1];
  f->used[p]++;
  x->live = 1;
  x->due = f->now + x->a->latency;
  x->cb = cb;
  x->ud = ud;
  x->body = body;
  if (out) *out = x;
  return 0;
}

static void f_cancel(lgw__engine_t *e, lgw__xfer_t *x) {
  (void)e;
  deliver(x, LGW_ECANCELED);
}

/* The fake's own memory is the C library's: never failed. */
static lgw__timer_t *f_timer_new(lgw__engine_t *e, lgw__engine_fn fn,
                                 void *ud) {
  fake_t *f = FAKE(e);
  lgw__timer_t *t = calloc(1, sizeof *t);
  if (f->ntimers == 64) abort();
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

/* The state file is written here, on the loop's thread: the allocator's
 * count stays exact. */
static int f_work(lgw__engine_t *e, lgw__engine_fn work, lgw__engine_fn done,
                  void *ud) {
  (void)e;
  work(ud);
  done(ud);
  return 0;
}

static void f_work_wait(lgw__engine_t *e) { (void)e; }

static double f_now(lgw__engine_t *e) { return FAKE(e)->now; }

/* Deferred calls first, else the clock jumps to what is due next. A
 * request nobody will ever end leaves nothing due: that is a failure. */
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
    fprintf(stderr, "fake engine: a request waits for nothing "
            "(allocation %ld failed)\n", cur_n);
    abort();
  }
  f->now = due;
  if (t) {
    t->armed = 0;
    t->fn(t->ud);
  } else {
    deliver(x, 0);
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
}

static const lgw__engine_ops_t fake_ops = {
    f_submit,     f_cancel,    f_timer_new, f_timer_start, f_timer_stop,
    f_timer_free, f_defer_new, f_defer_arm, f_defer_free,  f_work,
    f_work_wait,  f_now,       f_run_once,  f_loop,        f_free};

static fake_t fake;

static double fake_clock(void) { return fake.now; }

#define OK_BODY                                                             \
  "{\"choices\":[{\"message\":{\"role\":\"assistant\",\"content\":"         \
  "\"hello\"},\"finish_reason\":\"stop\"}],"                                \
  "\"usage\":{\"prompt_tokens\":3,\"completion_tokens\":1}}"
#define BUSY_BODY "{\"error\":{\"message\":\"busy\"}}"

/* Provider entries for the fake engine: provider i at port 9001 + i. */
#define FAKE_PROV(n, extra)                                                 \
  "  - provider_type: openai\n    api_style: openai_chat\n"                 \
  "    base_url: http://127.0.0.1:900" n "/v1\n    api_key: k" n "\n" extra

/* ---- the sweep ------------------------------------------------------------- */

typedef struct scen scen_t;
struct scen {
  const char *name;
  char yaml[2048];
  size_t nreq;              /* requests submitted at once */
  int fake;                 /* on the fake engine (script below) */
  const answer_t *script[3];
  size_t nscript[3];
  const char *state_file;   /* NULL: no state */
  lgw_event_fn on_event;
  /* submit request i (AFTER: the one after the failure) */
  int (*submit)(lgw_gateway_t *gw, size_t i, out_t *o, lgw_error_t *err);
  /* request i ended (status is not LGW_ENOMEM): exactly as expected;
   * attempts: those of a success, for check_nomem */
  void (*check)(const out_t *o, size_t i);
  const att_want_t *att;
  size_t natt;
  /* the gateway after the requests (before AFTER); hit: a failure was
   * injected; nomem: requests that ended with it */
  void (*check_gw)(lgw_gateway_t *gw, int hit, int nomem);
  /* breaker failures per provider of a run without a shortage */
  size_t nfails[3];
  void (*prepare)(void);    /* before each run */
  int free_early;           /* the gateway is freed with the requests in
                               flight: each ends canceled */
};

typedef struct sweep_stats {
  long runs, size;
  double seconds;
} sweep_stats_t;

static int plain_submit(lgw_gateway_t *gw, const char *task,
                        const char *content, lgw_delta_fn delta, out_t *o,
                        double deadline, uint64_t *id, lgw_error_t *err) {
  lgw_request_t r;
  lgw_message_t m;
  memset(&r, 0, sizeof r);
  m.role = "user";
  m.content = content;
  r.task = task;
  r.messages = &m;
  r.nmessages = 1;
  r.on_delta = delta;
  r.delta_ud = o;
  r.deadline = deadline;
  return lgw_gateway_submit(gw, &r, on_done, o, id, err);
}

/* One run with the n-th allocation failing (n < 0: none); *injected: the
 * failure happened; *size: the allocations the run made. */
static void run_once(const scen_t *s, long n, int *injected, long *size) {
  lgw_runtime_t *rt;
  lgw_gateway_options_t opts;
  lgw_gateway_t *gw = NULL;
  lgw_error_t err;
  out_t o[NREQ_MAX + 1];
  int sub[NREQ_MAX], rc, nomem = 0;
  size_t i, p;
  memset(o, 0, sizeof o);
  memset(&opts, 0, sizeof opts);
  opts.no_state = s->state_file == NULL;
  opts.state_file = s->state_file;
  opts.seed = 3;
  opts.on_event = s->on_event;
  if (s->prepare) s->prepare();
  rt = gws_load("%s", s->yaml);
  if (!rt) TEST__FAIL("%s: the config does not load", s->name);
  memset(&err, 0, sizeof err);
  arm(n);
  if (s->fake) {
    memset(&fake, 0, sizeof fake);
    fake.base.ops = &fake_ops;
    fake.now = 100.0;
    for (p = 0; p < 3; p++) {
      fake.script[p] = s->script[p];
      fake.nscript[p] = s->nscript[p];
    }
    rc = lgw__gateway_new_on(rt, &opts, &fake.base, &gw, &err);
  } else {
    rc = lgw_gateway_new(rt, &opts, &gw, &err);
  }
  if (rc) {
    *injected = hit;
    *size = nallocs;
    disarm();
    lgw_runtime_free(rt);
    if (!hit || rc != LGW_ENOMEM)
      TEST__FAIL("%s: allocation %ld: gateway_new %d: %s", s->name, n, rc,
                 err.message);
    ASSERT_CONTAINS(err.message, "out of memory");
    return;
  }
  for (i = 0; i < s->nreq; i++) {
    memset(&err, 0, sizeof err);
    sub[i] = s->submit(gw, i, &o[i], &err);
    if (sub[i]) {
      nomem++;
      if (sub[i] != LGW_ENOMEM || !hit)
        fprintf(stderr, "  %s: allocation %ld: submit %zu: %d: %s\n",
                s->name, n, i, sub[i], err.message);
      ASSERT_EQ(sub[i], LGW_ENOMEM);
      ASSERT(hit);
      ASSERT_CONTAINS(err.message, "out of memory");
    }
  }
  if (s->free_early) {
    lgw_gateway_free(gw);
    *injected = hit;
    *size = nallocs;
    disarm();
    for (i = 0; i < s->nreq; i++) {
      if (sub[i]) continue;
      if (o[i].calls != 1)
        TEST__FAIL("%s: allocation %ld: request %zu: %d callbacks",
                   s->name, n, i, o[i].calls);
      if (o[i].status != LGW_ENOMEM) s->check(&o[i], i);
      else ASSERT_CONTAINS(o[i].err, "out of memory");
      if (test__cur_failed) {
        fprintf(stderr, "  %s: allocation %ld: request %zu: %d: %s\n",
                s->name, n, i, o[i].status, o[i].err);
        break;
      }
    }
    lgw_runtime_free(rt);
    return;
  }
  ASSERT_EQ(lgw_gateway_run(gw), 0);
  *injected = hit;
  *size = nallocs;
  disarm();
  ASSERT_EQ(lgw_gateway_pending(gw), 0);
  for (i = 0; i < s->nreq; i++) {
    if (sub[i]) {
      ASSERT_EQ(o[i].calls, 0);
      continue;
    }
    if (o[i].calls != 1)
      TEST__FAIL("%s: allocation %ld: request %zu: %d callbacks", s->name,
                 n, i, o[i].calls);
    if (o[i].status == LGW_ENOMEM) {
      nomem++;
      check_nomem(&o[i], s->att, s->natt);
    } else {
      s->check(&o[i], i);
    }
    if (test__cur_failed) {
      size_t k;
      fprintf(stderr, "  %s: allocation %ld: request %zu: %d: %s\n",
              s->name, n, i, o[i].status, o[i].err);
      for (k = 0; k < o[i].natt && k < 8; k++)
        fprintf(stderr, "    attempt: provider %d code %d status %d\n",
                o[i].att_pi[k], o[i].att_code[k], o[i].att_status[k]);
      lgw_gateway_free(gw);
      lgw_runtime_free(rt);
      return;
    }
  }
  /* one allocation failed: at most one request may end for it */
  if (!persist && nomem > *injected)
    fprintf(stderr, "  %s: allocation %ld: %d requests failed\n", s->name,
            n, nomem);
  if (!persist) ASSERT(nomem <= *injected);
  /* never the providers' fault: their breakers count their answers only */
  for (p = 0; p < gw->rt->nproviders && !test__cur_failed; p++) {
    size_t f = breaker_fails(&gw->breakers[p]);
    if (f > s->nfails[p] && getenv("TEST_VERBOSE")) {
      size_t k, m;
      for (k = 0; k < s->nreq; k++)
        fprintf(stderr, "    request %zu: %d: %s\n", k, o[k].status, o[k].err);
      for (k = 0; k < s->nreq; k++)
        for (m = 0; m < o[k].natt; m++)
          fprintf(stderr, "    request %zu attempt: provider %d code %d "
                  "status %d: %s\n", k, o[k].att_pi[m], o[k].att_code[m],
                  o[k].att_status[m], o[k].err);
    }
    if (f > s->nfails[p] || (!nomem && f != s->nfails[p]))
      fprintf(stderr, "  %s: allocation %ld: provider %zu: %zu breaker "
              "failures\n", s->name, n, p + 1, f);
    ASSERT(f <= s->nfails[p]);
    if (!nomem) ASSERT_EQ(f, s->nfails[p]);
  }
  if (s->check_gw && !test__cur_failed)
    s->check_gw(gw, *injected, nomem);
  if (!test__cur_failed) {
    /* still usable */
    ASSERT_EQ(s->submit(gw, AFTER, &o[AFTER], NULL), 0);
    ASSERT_EQ(lgw_gateway_run(gw), 0);
    ASSERT_EQ(o[AFTER].calls, 1);
    s->check(&o[AFTER], AFTER);
  }
  if (test__cur_failed)
    fprintf(stderr, "  %s: allocation %ld: after: %d: %s\n", s->name, n,
            o[AFTER].status, o[AFTER].err);
  lgw_gateway_free(gw);
  lgw_runtime_free(rt);
}

/* Every allocation in turn (every other one under valgrind) failing,
 * alone, then with every later one, until a run has no failure left to
 * inject. */
static void sweep(const scen_t *s) {
  long n, size = 0, stride = getenv("VALGRIND") ? 2 : 1, runs;
  int injected = 0;
  double t0 = gws_now_s();
  if (getenv("OOM_AT")) {  /* to debug: that allocation only */
    persist = getenv("OOM_PERSIST") != NULL;
    run_once(s, atol(getenv("OOM_AT")), &injected, &size);
    return;
  }
  run_once(s, -1, &injected, &size);  /* the whole run, no failure */
  for (persist = 0; persist < 2 && !test__cur_failed; persist++) {
    for (n = 0, runs = 0, injected = 1; injected; n += stride, runs++) {
      long sz;
      run_once(s, n, &injected, &sz);
      if (test__cur_failed) {
        if (persist) fprintf(stderr, "  (every allocation from it on)\n");
        break;
      }
    }
    ASSERT(runs > 1);
  }
  persist = 0;
  if (getenv("TEST_VERBOSE"))
    fprintf(stderr, "  %s: %ld allocations, %.2f s\n", s->name, size,
            gws_now_s() - t0);
}

/* ---- against the simulator --------------------------------------------------- */

#define SIM_SETTINGS(extra)                                                 \
  "settings:\n  fallback_model: m1\n  timeout: 5\n  backoff_base: 0.01\n"   \
  "  backoff_max: 0.02\n" extra "providers:\n"
#define SIM_PROV(style, xsim)                                               \
  "  - provider_type: openai\n    api_style: " style "\n"                   \
  "    base_url: \"%s\"\n    api_key: k1\n" xsim

static const att_want_t one_ok[] = {{1, 0, 200}};

static void free_check(const out_t *o, size_t i);

/* A deadline it never reaches: its timer is made (and freed) too. */
static int sim_submit(lgw_gateway_t *gw, size_t i, out_t *o,
                      lgw_error_t *err) {
  return plain_submit(gw, "t", i == AFTER ? "after" : "hello", NULL, o,
                      i == AFTER ? 0 : 30, NULL, err);
}

static void sim_check(const out_t *o, size_t i) {
  ASSERT_EQ(o->status, 0);
  ASSERT_STREQ(o->text, i == AFTER ? "echo(m1): after" : "echo(m1): hello");
  ASSERT_STREQ(o->finish, "stop");
  if (i != AFTER) check_attempts(o, one_ok, 1);
}

TEST(sim_plain) {
  static scen_t s;
  s.name = "sim_plain";
  snprintf(s.yaml, sizeof s.yaml,
           SIM_SETTINGS("") SIM_PROV("openai_chat", ""), sim.base);
  s.nreq = 1;
  s.submit = sim_submit;
  s.check = sim_check;
  s.att = one_ok;
  s.natt = 1;
  sweep(&s);
}

static int stream_submit(lgw_gateway_t *gw, size_t i, out_t *o,
                         lgw_error_t *err) {
  return plain_submit(gw, "t", i == AFTER ? "after" : "hello there", on_delta,
                      o, 0, NULL, err);
}

static void stream_check(const out_t *o, size_t i) {
  ASSERT_EQ(o->status, 0);
  ASSERT_STREQ(o->text, i == AFTER ? "echo(m1): after"
                                   : "echo(m1): hello there");
  ASSERT_STREQ(o->deltas, o->text);  /* every piece, in order */
  ASSERT_STREQ(o->finish, "stop");
  if (i != AFTER) check_attempts(o, one_ok, 1);
}

TEST(sim_stream) {
  static scen_t s;
  s.name = "sim_stream";
  snprintf(s.yaml, sizeof s.yaml,
           SIM_SETTINGS("") SIM_PROV("responses", ""), sim.base);
  s.nreq = 1;
  s.submit = stream_submit;
  s.check = stream_check;
  s.att = one_ok;
  s.natt = 1;
  sweep(&s);
}

/* 429 twice, 500 twice (retried at once: retry-after-ms 0), then the
 * third provider answers. */
static const att_want_t failover_att[] = {
    {1, LGW_ERATELIMIT, 429}, {1, LGW_ERATELIMIT, 429},
    {2, LGW_EHTTP, 500},      {2, LGW_EHTTP, 500},
    {3, 0, 200}};

static void failover_check(const out_t *o, size_t i) {
  ASSERT_EQ(o->status, 0);
  ASSERT_STREQ(o->text, i == AFTER ? "echo(m1): after" : "echo(m1): hello");
  if (i != AFTER) check_attempts(o, failover_att, 5);
}

/* The answering provider is remembered only when it answered (the
 * request may still end for the shortage: an attempt it could not
 * record). */
static void failover_gw(lgw_gateway_t *gw, int injected, int nomem) {
  if (!nomem || !injected)
    ASSERT_STREQ(gw->preferred, gw->rt->providers[2].key);
  else if (gw->preferred[0])
    ASSERT_STREQ(gw->preferred, gw->rt->providers[2].key);
}

TEST(sim_failover) {
  static scen_t s;
  s.name = "sim_failover";
  snprintf(s.yaml, sizeof s.yaml,
           SIM_SETTINGS("  transport_retries: 2\n")
           SIM_PROV("openai_chat", GWS_XSIM("status=429 retry_after_ms=0"))
           SIM_PROV("anthropic", GWS_XSIM("status=500 retry_after_ms=0"))
           SIM_PROV("openai_chat", ""), sim.base, sim.base, sim.base);
  s.nreq = 1;
  s.submit = sim_submit;
  s.check = failover_check;
  s.check_gw = failover_gw;
  s.att = failover_att;
  s.natt = 5;
  s.nfails[0] = s.nfails[1] = 2;
  sweep(&s);
}

/* Tools, an image by URL and a JSON Schema: the model calls the tool. */
static int rich_submit(lgw_gateway_t *gw, size_t i, out_t *o,
                       lgw_error_t *err) {
  static const lgw_tool_t tools[] = {
      {"get_weather", "Weather of a city",
       "{\"type\":\"object\",\"properties\":{\"city\":{\"type\":"
       "\"string\"}},\"required\":[\"city\"]}", 0}};
  lgw_part_t p[2];
  lgw_rich_message_t m[2];
  lgw_request_t r;
  if (i == AFTER) return sim_submit(gw, i, o, err);
  memset(p, 0, sizeof p);
  memset(m, 0, sizeof m);
  memset(&r, 0, sizeof r);
  p[0].text = "What is the weather here?\n@sim tool=get_weather "
              "args={\"city\":\"Paris\"}";
  p[1].type = LGW_PART_IMAGE;
  p[1].url = "https://example.com/paris.png";
  p[1].detail = "low";
  m[0].role = "system";
  m[0].content = "Be brief.";
  m[1].parts = p;
  m[1].nparts = 2;
  r.task = "t";
  r.rich_messages = m;
  r.nrich_messages = 2;
  r.tools = tools;
  r.ntools = 1;
  r.tool_choice = "auto";
  r.schema_json = "{\"type\":\"object\",\"properties\":{\"risk\":{\"type\":"
                  "\"string\"}},\"required\":[\"risk\"]}";
  r.schema_name = "verdict";
  return lgw_gateway_submit(gw, &r, on_done, o, NULL, err);
}

static void rich_check(const out_t *o, size_t i) {
  if (i == AFTER) {
    sim_check(o, i);
    return;
  }
  ASSERT_EQ(o->status, 0);
  ASSERT_STREQ(o->text, "");
  ASSERT_STREQ(o->finish, "tool_calls");
  ASSERT_EQ(o->ncalls, 1);
  ASSERT_STREQ(o->call_name, "get_weather");
  ASSERT_STREQ(o->call_args, "{\"city\":\"Paris\"}");
  ASSERT_STREQ(o->call_id, "call_sim_1");
  check_attempts(o, one_ok, 1);
}

TEST(sim_rich) {
  static scen_t s;
  s.name = "sim_rich";
  snprintf(s.yaml, sizeof s.yaml,
           SIM_SETTINGS("") SIM_PROV("responses", ""), sim.base);
  s.nreq = 1;
  s.submit = rich_submit;
  s.check = rich_check;
  s.att = one_ok;
  s.natt = 1;
  sweep(&s);
}

/* Embeddings of two texts: the vectors of a run without a shortage. */
static void on_embed(lgw_gateway_t *gw, uint64_t id, int status,
                     const lgw_embed_result_t *res, const lgw_error_t *err,
                     void *ud) {
  out_t *o = ud;
  size_t i;
  (void)gw;
  (void)id;
  o->calls++;
  o->status = status;
  gws_cp(o->err, sizeof o->err, err ? err->message : "");
  if (err && err->code != status) o->status = 1000;
  o->natt = res->nattempts;
  for (i = 0; i < res->nattempts && i < 8; i++) {
    o->att_pi[i] = res->attempts[i].configured_index;
    o->att_code[i] = res->attempts[i].code;
    o->att_status[i] = res->attempts[i].http_status;
  }
  if (status) return;
  o->nvec = res->nvectors;
  o->dim = res->dim;
  for (i = 0; i < 8 && i < res->nvectors * res->dim; i++)
    o->vec[i] = res->vectors[i];
}

static int embed_submit(lgw_gateway_t *gw, size_t i, out_t *o,
                        lgw_error_t *err) {
  static const char *const in[] = {"alpha", "beta"};
  lgw_embed_request_t r;
  memset(&r, 0, sizeof r);
  r.inputs = in;
  r.ninputs = i == AFTER ? 1 : 2;
  r.model = "emb";
  r.dimensions = 4;
  return lgw_gateway_embed(gw, &r, on_embed, o, NULL, err);
}

static void embed_check(const out_t *o, size_t i) {
  static out_t want;
  static int have;
  size_t k;
  ASSERT_EQ(o->status, 0);
  ASSERT_EQ(o->nvec, i == AFTER ? 1 : 2);
  ASSERT_EQ(o->dim, 4);
  if (i == AFTER) return;
  check_attempts(o, one_ok, 1);
  if (!have) {  /* the first run has no shortage */
    want = *o;
    have = 1;
  }
  for (k = 0; k < 8; k++) ASSERT_DEQ(o->vec[k], want.vec[k]);
}

TEST(sim_embed) {
  static scen_t s;
  s.name = "sim_embed";
  snprintf(s.yaml, sizeof s.yaml,
           SIM_SETTINGS("") SIM_PROV("openai_chat", ""), sim.base);
  s.nreq = 1;
  s.submit = embed_submit;
  s.check = embed_check;
  s.att = one_ok;
  s.natt = 1;
  sweep(&s);
}

/* Freed with two requests in flight (their transfers started) and two
 * waiting: all canceled. */
TEST(sim_free_in_flight) {
  static scen_t s;
  s.name = "sim_free_in_flight";
  snprintf(s.yaml, sizeof s.yaml,
           SIM_SETTINGS("  max_concurrent: 2\n")
           SIM_PROV("openai_chat", GWS_XSIM("fault=hang")), sim.base);
  s.nreq = 4;
  s.submit = sim_submit;
  s.check = free_check;
  s.free_early = 1;
  sweep(&s);
}

/* Eight at once, four slots: the one a failure hits ends, the others
 * answer. */
static int eight_submit(lgw_gateway_t *gw, size_t i, out_t *o,
                        lgw_error_t *err) {
  static const char *const text[] = {"r0", "r1", "r2", "r3",
                                      "r4", "r5", "r6", "r7"};
  if (i == AFTER) return sim_submit(gw, i, o, err);
  return plain_submit(gw, "t", text[i], NULL, o, 0, NULL, err);
}

static void eight_check(const out_t *o, size_t i) {
  char want[32];
  if (i == AFTER) {
    sim_check(o, i);
    return;
  }
  snprintf(want, sizeof want, "echo(m1): r%zu", i);
  ASSERT_EQ(o->status, 0);
  ASSERT_STREQ(o->text, want);
  check_attempts(o, one_ok, 1);
}

TEST(sim_eight_in_flight) {
  static scen_t s;
  s.name = "sim_eight_in_flight";
  snprintf(s.yaml, sizeof s.yaml,
           SIM_SETTINGS("  max_concurrent: 4\n")
           SIM_PROV("openai_chat", ""), sim.base);
  s.nreq = 8;
  s.submit = eight_submit;
  s.check = eight_check;
  s.att = one_ok;
  s.natt = 1;
  sweep(&s);
}

/* ---- on the fake engine ------------------------------------------------------ */

#define FAKE_SETTINGS(extra)                                                \
  "settings:\n  fallback_model: m1\n  timeout: 30\n  backoff_base: 0.5\n"   \
  "  backoff_max: 1\n" extra "providers:\n"

static const answer_t ok_1s[] = {{200, 1.0, OK_BODY}};
static const answer_t busy[] = {{500, 0.5, BUSY_BODY}};

static void fake_scen(scen_t *s, const char *name, const char *yaml) {
  memset(s, 0, sizeof *s);
  s->name = name;
  s->fake = 1;
  snprintf(s->yaml, sizeof s->yaml, "%s", yaml);
  s->script[0] = ok_1s;
  s->nscript[0] = 1;
  s->att = one_ok;
  s->natt = 1;
}

static uint64_t ids[NREQ_MAX];
static int submitted[NREQ_MAX];

static int fake_submit(lgw_gateway_t *gw, size_t i, out_t *o,
                       lgw_error_t *err) {
  int rc = plain_submit(gw, "t", "hi", NULL, o, 0, &ids[i % NREQ_MAX], err);
  submitted[i % NREQ_MAX] = rc == 0;
  return rc;
}

static void fake_check(const out_t *o, size_t i) {
  ASSERT_EQ(o->status, 0);
  ASSERT_STREQ(o->text, "hello");
  if (i != AFTER) check_attempts(o, one_ok, 1);
}

/* Three requests, one slot: two wait their turn. */
TEST(fake_queue) {
  static scen_t s;
  fake_scen(&s, "fake_queue",
            FAKE_SETTINGS("  max_concurrent: 1\n") FAKE_PROV("1", ""));
  s.nreq = 3;
  s.submit = fake_submit;
  s.check = fake_check;
  sweep(&s);
}

/* Three requests, one slot; the one in flight and one waiting are
 * canceled after the third is submitted. */
static int cancel_submit(lgw_gateway_t *gw, size_t i, out_t *o,
                         lgw_error_t *err) {
  int rc = fake_submit(gw, i, o, err);
  if (i == 2) {
    /* an id already finished (by the shortage) is unknown: EINVAL */
    if (submitted[0]) lgw_gateway_cancel(gw, ids[0]);
    if (submitted[1]) lgw_gateway_cancel(gw, ids[1]);
  }
  return rc;
}

static void cancel_check(const out_t *o, size_t i) {
  if (i < 2) {
    ASSERT_EQ(o->status, LGW_ECANCELED);
    ASSERT_STREQ(o->err, "LLM request for task 't' was canceled.");
    ASSERT(o->natt <= 1);
    return;
  }
  fake_check(o, i);
}

TEST(fake_cancel) {
  static scen_t s;
  fake_scen(&s, "fake_cancel",
            FAKE_SETTINGS("  max_concurrent: 1\n") FAKE_PROV("1", ""));
  s.nreq = 3;
  s.submit = cancel_submit;
  s.check = cancel_check;
  sweep(&s);
}

/* Freed with one request in flight and three waiting: all canceled. */
static void free_check(const out_t *o, size_t i) {
  (void)i;
  ASSERT_EQ(o->status, LGW_ECANCELED);
  ASSERT_STREQ(o->err, "LLM request for task 't' was canceled.");
}

TEST(fake_free_in_flight) {
  static scen_t s;
  fake_scen(&s, "fake_free_in_flight",
            FAKE_SETTINGS("  max_concurrent: 1\n") FAKE_PROV("1", ""));
  s.nreq = 4;
  s.submit = fake_submit;
  s.check = free_check;
  s.free_early = 1;
  sweep(&s);
}

/* Answers take 10 s: the request in flight is cut at its 3 s deadline,
 * the waiting one at its 5 s, the third answers. */
static const answer_t ok_10s[] = {{200, 10.0, OK_BODY}};

static int deadline_submit(lgw_gateway_t *gw, size_t i, out_t *o,
                           lgw_error_t *err) {
  double d = i == 0 ? 3.0 : i == 1 ? 5.0 : 0;
  return plain_submit(gw, "t", "hi", NULL, o, d, NULL, err);
}

static void deadline_check(const out_t *o, size_t i) {
  char want[128];
  if (i < 2) {
    snprintf(want, sizeof want, "LLM request for task 't' did not finish "
             "within its deadline of %.1fs.", i == 0 ? 3.0 : 5.0);
    ASSERT_EQ(o->status, LGW_EDEADLINE);
    ASSERT_STREQ(o->err, want);
    ASSERT_DEQ(o->at - 100.0, i == 0 ? 3.0 : 5.0);
    return;
  }
  fake_check(o, i);
}

TEST(fake_deadline) {
  static scen_t s;
  fake_scen(&s, "fake_deadline",
            FAKE_SETTINGS("  max_concurrent: 1\n") FAKE_PROV("1", ""));
  s.script[0] = ok_10s;
  s.nreq = 3;
  s.submit = deadline_submit;
  s.check = deadline_check;
  sweep(&s);
}

/* Events: each attempt's and the request's, in order. Under a shortage
 * one may be dropped (logged: they are best effort), never changed; a
 * request the shortage ended has its attempts and its end with
 * LGW_ENOMEM. */
typedef struct ev_rec {
  int type, pi, code, status;
} ev_rec_t;

static ev_rec_t evs[32];
static size_t nevs;

static void on_event(const lgw_event_t *ev, void *ud) {
  (void)ud;
  if (nevs == 32) return;
  evs[nevs].type = ev->type;
  evs[nevs].pi = ev->provider_index;
  evs[nevs].code = ev->code;
  evs[nevs].status = ev->http_status;
  nevs++;
}

static void events_reset(void) { nevs = 0; }

static const att_want_t failover2_att[] = {
    {1, LGW_EHTTP, 500}, {1, LGW_EHTTP, 500}, {2, 0, 200}};

static void failover2_check(const out_t *o, size_t i) {
  ASSERT_EQ(o->status, 0);
  ASSERT_STREQ(o->text, "hello");
  if (i != AFTER) check_attempts(o, failover2_att, 3);
}

static void events_gw(lgw_gateway_t *gw, int injected, int nomem) {
  static const ev_rec_t want[] = {
      {LGW_EVENT_ATTEMPT_END, 1, LGW_EHTTP, 500},
      {LGW_EVENT_ATTEMPT_END, 1, LGW_EHTTP, 500},
      {LGW_EVENT_ATTEMPT_END, 2, 0, 200},
      {LGW_EVENT_REQUEST_END, 2, 0, 200}};
  size_t i, j = 0, ends = 0;
  (void)gw;
  for (i = 0; i < nevs; i++) {
    if (evs[i].type == LGW_EVENT_REQUEST_END) ends++;
    if (nomem && evs[i].code == LGW_ENOMEM) continue;
    while (j < 4 && memcmp(&want[j], &evs[i], sizeof want[j]) != 0) j++;
    if (j == 4)
      TEST__FAIL("event %zu: type %d provider %d code %d status %d", i,
                 evs[i].type, evs[i].pi, evs[i].code, evs[i].status);
    j++;
  }
  ASSERT(ends <= 1);
  if (ends) ASSERT_EQ(evs[nevs - 1].type, LGW_EVENT_REQUEST_END);
  /* a success with no shortage has every event; one with, all but one */
  if (!nomem && !persist) ASSERT(nevs + (size_t)injected >= 4);
}

TEST(fake_events) {
  static scen_t s;
  fake_scen(&s, "fake_events",
            FAKE_SETTINGS("  transport_retries: 2\n") FAKE_PROV("1", "")
            FAKE_PROV("2", ""));
  s.script[0] = busy;
  s.nscript[0] = 1;
  s.script[1] = ok_1s;
  s.nscript[1] = 1;
  s.nreq = 1;
  s.submit = fake_submit;
  s.check = failover2_check;
  s.att = failover2_att;
  s.natt = 3;
  s.nfails[0] = 2;
  s.on_event = on_event;
  s.prepare = events_reset;
  s.check_gw = events_gw;
  sweep(&s);
}

/* The first provider's breaker opens after its two failures; the rate
 * limits (p1 rpm, p2 tpm) hold what a run without a shortage leaves. */
static int have_levels;
static double levels[2];

static void limits_gw(lgw_gateway_t *gw, int injected, int nomem) {
  if (nomem) return;
  ASSERT_EQ(lgw_gateway_breaker_state(gw, 0), 1);
  ASSERT_EQ(lgw_gateway_breaker_state(gw, 1), 0);
  if (!injected && !have_levels) {
    levels[0] = gw->rpm[0].level;
    levels[1] = gw->tpm[1].level;
    have_levels = 1;
    return;
  }
  ASSERT_DEQ(gw->rpm[0].level, levels[0]);
  ASSERT_DEQ(gw->tpm[1].level, levels[1]);
}

TEST(fake_breaker_and_limits) {
  static scen_t s;
  fake_scen(&s, "fake_breaker_and_limits",
            FAKE_SETTINGS("  transport_retries: 2\n  breaker_failures: 2\n")
            FAKE_PROV("1", "    rpm: 60\n") FAKE_PROV("2", "    tpm: 100000\n"));
  s.script[0] = busy;
  s.nscript[0] = 1;
  s.script[1] = ok_1s;
  s.nscript[1] = 1;
  s.nreq = 1;
  s.submit = fake_submit;
  s.check = failover2_check;
  s.att = failover2_att;
  s.natt = 3;
  s.nfails[0] = 2;
  s.check_gw = limits_gw;
  sweep(&s);
  ASSERT(have_levels);
}

/* The provider-state file names the first provider; it fails, the second
 * answers and is written. The file is always whole: the previous one, or
 * the new one. (It names the first: a state file the loader cannot parse
 * for want of memory reads as empty, and the order would change.) */
static char state_dir[64], state_path[96];
static char config_key[65], keys[3][65];

static void state_prepare(void) {
  lgw__kvlist_t map = {NULL, 0};
  if (lgw__kvlist_add(&map, config_key, keys[0]) ||
      lgw__state_write(state_path, &map, NULL))
    abort();
  lgw__kvlist_free(&map);
}

static const att_want_t state_att[] = {{1, LGW_EHTTP, 500}, {2, 0, 200}};

static void state_check(const out_t *o, size_t i) {
  ASSERT_EQ(o->status, 0);
  ASSERT_STREQ(o->text, "hello");
  if (i != AFTER) check_attempts(o, state_att, 2);
}

/* A good state file is never taken for a corrupt one when memory runs
 * short: no "<path>.corrupt-<time>" ever appears (counted here). */
static long corrupt_files;

static void remove_files(int all) {
  DIR *d = opendir(state_dir);
  struct dirent *e;
  char p[sizeof state_dir + sizeof e->d_name + 1];
  if (!d) return;
  while ((e = readdir(d)) != NULL) {
    if (e->d_name[0] == '.' || (!all && !strstr(e->d_name, ".corrupt-")))
      continue;
    snprintf(p, sizeof p, "%s/%s", state_dir, e->d_name);
    if (unlink(p) == 0 && !all) corrupt_files++;
  }
  closedir(d);
}

static void state_gw(lgw_gateway_t *gw, int injected, int nomem) {
  lgw__kvlist_t map = {NULL, 0};
  const char *v;
  (void)gw;
  remove_files(0);
  ASSERT_EQ(lgw__state_load(state_path, &map, NULL), 0);
  v = lgw__kvlist_get_ci(&map, config_key);
  if (!v) {
    lgw__kvlist_free(&map);
    TEST__FAIL("the state file lost its entry");
  }
  /* the second provider once it answered (the request may still end for
   * the shortage: an attempt it could not record), else the first */
  if (!injected)
    ASSERT(strcmp(v, keys[1]) == 0);
  else
    ASSERT(strcmp(v, keys[1]) == 0 || strcmp(v, keys[0]) == 0);
  (void)nomem;
  lgw__kvlist_free(&map);
}

TEST(fake_state_file) {
  static scen_t s;
  lgw_runtime_t *rt;
  size_t i;
  fake_scen(&s, "fake_state_file",
            FAKE_SETTINGS("  transport_retries: 1\n") FAKE_PROV("1", "")
            FAKE_PROV("2", "") FAKE_PROV("3", ""));
  rt = gws_load("%s", s.yaml);
  ASSERT(rt != NULL);
  snprintf(config_key, sizeof config_key, "%s", lgw_runtime_config_key(rt));
  for (i = 0; i < 3; i++)
    snprintf(keys[i], sizeof keys[i], "%s", rt->providers[i].key);
  lgw_runtime_free(rt);
  snprintf(state_dir, sizeof state_dir, "/tmp/lgw-oom-%ld", (long)getpid());
  snprintf(state_path, sizeof state_path, "%s/state.json", state_dir);
  s.script[0] = busy;
  s.nscript[0] = 1;
  s.script[1] = ok_1s;
  s.nscript[1] = 1;
  s.script[2] = busy;
  s.nscript[2] = 1;
  s.nreq = 1;
  s.state_file = state_path;
  s.submit = fake_submit;
  s.check = state_check;
  s.att = state_att;
  s.natt = 2;
  s.nfails[0] = 1;
  s.prepare = state_prepare;
  s.check_gw = state_gw;
  sweep(&s);
  ASSERT_EQ(corrupt_files, 0);
  remove_files(1);
  rmdir(state_dir);
}

/* ---- main -------------------------------------------------------------------- */

int main(int argc, char **argv) {
  const char *only = argc > 1 ? argv[1] : NULL;
  lgw_set_allocator(t_malloc, t_realloc, free);
  lgw_set_log(gws_quiet_log, NULL, LGW_LOG_DEBUG);
#define R(fn) if (!only || strstr(#fn, only)) RUN(fn)
  R(fake_queue);
  R(fake_cancel);
  R(fake_free_in_flight);
  R(fake_deadline);
  R(fake_events);
  R(fake_breaker_and_limits);
  R(fake_state_file);
  if (sim_start(&sim, NULL) != 0) {
    FAIL_REST("simulator did not start");
  }
  R(sim_plain);
  R(sim_stream);
  R(sim_failover);
  R(sim_rich);
  R(sim_eight_in_flight);
  R(sim_embed);
  R(sim_free_in_flight);
  if (sim.pid > 0) sim_stop(&sim);
  return TEST_SUMMARY();
}
