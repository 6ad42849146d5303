/*
 * test_redis_oom.c -- the work queue and the shared state on a real
 * redis-server (loopback, started and stopped here) when one of our
 * allocations fails: the n-th allocation of a whole round fails, for
 * every n up to the count of a round without failures.
 *
 * Queue rounds (open, push, consume, finish, wait, stats, free): each
 * ends (no hang), every callback runs once, a call that fails says
 * LGW_ENOMEM and "out of memory" (or LGW_ECONNECT while the connection
 * whose set-up failed is made again: the call then succeeds), a job whose
 * push was refused is never delivered, a job whose delivery or outcome
 * could not be allocated stays in the queue without an outcome, and a
 * round that reports a result reports the exact one. A queue freed with
 * calls on the wire frees them.
 *
 * Shared-state rounds (connect, winner, breaker, reservation, settling,
 * periodic read): the winner always reaches Redis and is read back; a
 * reservation without an answer falls back to the local buckets.
 *
 * Nothing leaks (run under ASan or valgrind). Under valgrind (VALGRIND
 * set) every third n is tried.
 */
#include <signal.h>
#include <unistd.h>
#include <stdlib.h>
#include <string.h>
#include <uv.h>

#include "llmgateway.h"
#include "redis_support.h"
#include "state_redis.h"
#include "test.h"
#include "util.h"

static redis_srv_t srv;
static double wait_s = 0.2;  /* how long a round waits for its result */

static long countdown = -1;  /* allocations before the one that fails */
static long failed_at = -1;  /* the allocation that failed, or -1 */
static long seen;            /* allocations of this round so far */

static int spend(void) {
  seen++;
  if (countdown < 0) return 1;
  if (countdown-- > 0) return 1;
  failed_at = seen;
  return 0;
}
static void *t_malloc(size_t n) { return spend() ? malloc(n) : NULL; }
static void *t_realloc(void *p, size_t n) {
  return spend() ? realloc(p, n) : NULL;
}

static void quiet(lgw_log_level_t level, const char *msg, void *ud) {
  (void)level;
  (void)msg;
  (void)ud;
}

typedef struct round {
  int pushed, push_status;     /* push callback: runs, status */
  int handled;                 /* handler runs */
  int finish_rc;
  int waited, wait_status, ok; /* wait callback */
  char body[64];
  int stats, stats_status;
  long long done, length, in_flight;
} round_t;

static void on_push(lgw_queue_t *q, int status, const char *id,
                    const lgw_error_t *err, void *ud) {
  round_t *r = ud;
  (void)q;
  (void)id;
  (void)err;
  r->pushed++;
  r->push_status = status;
}

static void handler(lgw_queue_t *q, lgw_job_t *job, const char *id,
                    const char *payload, size_t len, int delivery,
                    void *ud) {
  round_t *r = ud;
  char out[64];
  (void)q;
  (void)id;
  (void)delivery;
  r->handled++;
  snprintf(out, sizeof out, "result of %.*s", (int)len, payload);
  r->finish_rc = lgw_queue_finish(job, LGW_JOB_DONE, out, strlen(out));
}

static void on_wait(lgw_queue_t *q, int status, const char *id, int ok,
                    const char *body, size_t len, void *ud) {
  round_t *r = ud;
  (void)q;
  (void)id;
  r->waited++;
  r->wait_status = status;
  r->ok = ok;
  snprintf(r->body, sizeof r->body, "%.*s", (int)len, body ? body : "");
}

static void on_stats(lgw_queue_t *q, int status, const lgw_queue_stats_t *st,
                     void *ud) {
  round_t *r = ud;
  (void)q;
  r->stats++;
  r->stats_status = status;
  if (st) {
    r->done = st->done;
    r->length = st->length;
    r->in_flight = st->in_flight;
  }
}

/* The err of a call that failed for want of memory. */
static int is_oom(int rc, const lgw_error_t *err) {
  if (rc == LGW_ENOMEM && strstr(err->message, "out of memory")) return 1;
  fprintf(stderr, "  rc %d: %s\n", rc, err->message);
  return 0;
}

/* One round with the allocation after `fail_after` others failing (-1:
 * none). Returns 0 when the round's checks hold, or the line of the
 * first that does not; *ended: the round got its result. */
static int one_round(long fail_after, int *ended) {
  double t0 = lgw__now_ms();
  uv_loop_t loop;
  lgw_queue_t *q = NULL;
  lgw_queue_options_t o;
  lgw_error_t err;
  round_t r;
  char id[33], name[32];
  int rc, bad = 0;
  static long serial;
  memset(&r, 0, sizeof r);
  memset(&o, 0, sizeof o);
  memset(&err, 0, sizeof err);
  o.visibility_timeout = 30;
  o.max_deliveries = 3;
  o.block = 0.05;
  *ended = 0;
  snprintf(name, sizeof name, "oom%ld", serial++);
  uv_loop_init(&loop);
  seen = 0;
  failed_at = -1;
  countdown = fail_after;
#define CHECK(c)          \
  do {                    \
    if (!(c)) {           \
      bad = __LINE__;     \
      goto out;           \
    }                     \
  } while (0)
/* A call refused while the connection is down (its set-up could not
 * allocate: the queue reconnects after its backoff) is made again; any
 * other refusal ends the round. */
#define CALL(expr)                                                      \
  do {                                                                  \
    int tries_ = 0, never_ = 0;                                         \
    while ((rc = (expr)) == LGW_ECONNECT && tries_++ < 40) {            \
      CHECK(failed_at >= 0);                                            \
      redis_run_until(&loop, &never_, 1, 0.05);                         \
    }                                                                   \
    if (rc) {                                                           \
      CHECK(is_oom(rc, &err));                                          \
      goto out;                                                         \
    }                                                                   \
  } while (0)
  rc = lgw_queue_open(&loop, srv.url, name, &o, &q, &err);
  if (rc) {
    CHECK(is_oom(rc, &err) && q == NULL);
    goto out;
  }
  CALL(lgw_queue_push(q, "ok 1", 4, id, on_push, &r, &err));
  CALL(lgw_queue_consume(q, "c1", handler, &r, &err));
  CALL(lgw_queue_wait(q, id, wait_s, on_wait, &r, &err));
  redis_run_until(&loop, &r.waited, 1, 4);
  if (getenv("OOM_TRACE"))  /* OOM_TRACE=1: each round's outcome */
    fprintf(stderr, "  %.1f ms, failing %ld: pushed %d/%d handled %d "
            "finish %d wait %d/%d %s\n", lgw__now_ms() - t0, fail_after,
            r.pushed, r.push_status, r.handled, r.finish_rc, r.waited,
            r.wait_status, r.body);
  CHECK(r.waited == 1);
  CHECK(r.pushed == 1);
  if (r.push_status != 0) {
    /* not stored: never delivered, the wait ends without a result */
    CHECK(r.push_status == LGW_ENOMEM);
    CHECK(r.handled == 0 && r.wait_status != 0);
    goto out;
  }
  if (r.wait_status != 0) {
    /* a delivery or an outcome that could not be allocated: the job
     * stays queued or in flight (delivered again after the visibility
     * timeout), without an outcome; or a poll of the wait could not be
     * sent, and the job is done */
    int finished = r.handled == 1 && r.finish_rc == 0;
    CHECK(r.wait_status == LGW_ETIMEOUT);
    CHECK(r.handled == 0 || finished || r.finish_rc == LGW_ENOMEM);
    CALL(lgw_queue_stats(q, on_stats, &r, &err));
    redis_run_until(&loop, &r.stats, 1, 4);
    CHECK(r.stats == 1);
    if (r.stats_status == 0)
      CHECK(r.done == finished && r.length + r.in_flight == !finished);
    else
      CHECK(r.stats_status == LGW_ENOMEM);
    goto out;
  }
  CHECK(r.handled == 1 && r.finish_rc == 0);
  CHECK(r.ok == 1);
  CHECK(strcmp(r.body, "result of ok 1") == 0);
  CALL(lgw_queue_stats(q, on_stats, &r, &err));
  redis_run_until(&loop, &r.stats, 1, 4);
  CHECK(r.stats == 1);
  if (r.stats_status == 0) {
    CHECK(r.done == 1);
    *ended = 1;
  } else {
    CHECK(r.stats_status == LGW_ENOMEM);
  }
out:
#undef CALL
#undef CHECK
  countdown = -1;
  lgw_queue_free(q);
  uv_run(&loop, UV_RUN_DEFAULT);
  if (uv_loop_close(&loop) != 0 && !bad) bad = __LINE__;
  return bad;
}

TEST(every_allocation_of_a_round_fails_in_turn) {
  long n, total, step = getenv("VALGRIND") ? 3 : 1, rounds = 0, ended = 0;
  int e, line;
  /* a round without failures: its allocation count is the sweep's end */
  line = one_round(-1, &e);
  ASSERT_EQ(line, 0);
  ASSERT_EQ(e, 1);
  total = seen;
  ASSERT(total > 20);
  for (n = 0; n < total; n += step) {
    line = one_round(n, &e);
    rounds++;
    ended += e;
    if (line) fprintf(stderr, "  allocation %ld of %ld: line %d\n", n + 1,
                      total, line);
    ASSERT_EQ(line, 0);
    if (test__cur_failed) return;
  }
  /* a queue opened after all that works */
  line = one_round(-1, &e);
  ASSERT_EQ(line, 0);
  ASSERT_EQ(e, 1);
  fprintf(stderr, "  %ld rounds over %ld allocations, %ld with a result\n",
          rounds, total, ended);
}

/* Freed with a push, a listing and a stats call on the wire: their
 * callbacks never run and their memory goes with the queue (valgrind and
 * ASan see no leak). */
static void on_list(lgw_queue_t *q, int status, const char *id, int ok,
                    const char *body, size_t len, void *ud) {
  (void)q;
  (void)status;
  (void)id;
  (void)ok;
  (void)body;
  (void)len;
  ((round_t *)ud)->waited++;
}

TEST(freed_with_calls_on_the_wire) {
  uv_loop_t loop;
  lgw_queue_t *q = NULL;
  round_t r;
  char id[33];
  int i;
  memset(&r, 0, sizeof r);
  uv_loop_init(&loop);
  ASSERT_EQ(lgw_queue_open(&loop, srv.url, "freed", NULL, &q, NULL), 0);
  /* connected: the calls below are sent at once */
  for (i = 0; i < 100 && lgw_queue_stats(q, on_stats, &r, NULL) == 0 &&
              !r.stats; i++)
    redis_run_until(&loop, &r.stats, 1, 0.05);
  ASSERT_EQ(r.stats, 1);
  ASSERT_EQ(r.stats_status, 0);
  r.stats = 0;
  ASSERT_EQ(lgw_queue_push(q, "x", 1, id, on_push, &r, NULL), 0);
  ASSERT_EQ(lgw_queue_results(q, on_list, &r, NULL), 0);
  ASSERT_EQ(lgw_queue_stats(q, on_stats, &r, NULL), 0);
  lgw_queue_free(q);
  uv_run(&loop, UV_RUN_DEFAULT);
  ASSERT_EQ(uv_loop_close(&loop), 0);
  ASSERT_EQ(r.pushed, 0);
  ASSERT_EQ(r.waited, 0);
  ASSERT_EQ(r.stats, 0);
}

/* ---- the shared state ---------------------------------------------------- */

typedef struct shared {
  int preferred, breakers, reserved, reserve_ok;
  char pref[65];
  double wait;
} shared_t;

static void on_preferred(void *ud, const char *key) {
  shared_t *h = ud;
  h->preferred++;
  snprintf(h->pref, sizeof h->pref, "%s", key);
}

static void on_breaker(void *ud, size_t pi, double remaining) {
  (void)pi;
  (void)remaining;
  ((shared_t *)ud)->breakers++;
}

static void on_reserved(void *ud, int ok, double wait) {
  shared_t *h = ud;
  h->reserved++;
  h->reserve_ok = ok;
  h->wait = wait;
}

static lgw_runtime_t *state_runtime(const char *prefix) {
  char y[1024];
  lgw_runtime_t *rt = NULL;
  snprintf(y, sizeof y,
           "settings:\n  fallback_model: m1\n  breaker_failures: 2\n"
           "  state: \"%s\"\n  state_prefix: \"%s\"\n"
           "  state_refresh: 0.05\n"
           "providers:\n"
           "  - provider_type: openai\n    api_style: openai_chat\n"
           "    base_url: \"http://127.0.0.1:1\"\n    api_key: k1\n"
           "    rpm: 600\n    tpm: 100000\n",
           srv.url, prefix);
  if (lgw_runtime_load_string(y, strlen(y), "c.yaml", &rt, NULL)) return NULL;
  return rt;
}

/* One round of the shared state: connect, write a winner, a failure and
 * a success of the breaker, reserve and settle tokens, read back. 0 or
 * the line of the first check that does not hold; *ended: the round saw
 * its reservation and its winner read back. */
static int state_round(long fail_after, int *ended) {
  static int serial;
  char prefix[48];
  lgw_runtime_t *rt;
  uv_loop_t loop;
  lgw__rstate_t *st = NULL;
  lgw__rstate_hooks_t hooks;
  lgw__redis_call_t *call = NULL;
  lgw_error_t err;
  shared_t h;
  int rc, bad = 0, i;
  memset(&h, 0, sizeof h);
  memset(&err, 0, sizeof err);
  hooks.preferred = on_preferred;
  hooks.breaker = on_breaker;
  hooks.ud = &h;
  *ended = 0;
  /* keys of its own: no bucket emptied, no winner left by another round */
  snprintf(prefix, sizeof prefix, "oomstate%d.%d:", (int)getpid(),
           serial++);
  if (!(rt = state_runtime(prefix))) return __LINE__;
  uv_loop_init(&loop);
  seen = 0;
  failed_at = -1;
  countdown = fail_after;
#define CHECK(c)      \
  do {                \
    if (!(c)) {       \
      bad = __LINE__; \
      goto out;       \
    }                 \
  } while (0)
  rc = lgw__rstate_new(&loop, rt, &hooks, NULL, &st, &err);
  if (rc) {
    CHECK(is_oom(rc, &err) && st == NULL);
    goto out;
  }
  /* ready: connected, or still trying again after a set-up that could
   * not allocate */
  for (i = 0; i < 60 && !lgw__rstate_ready(st); i++)
    redis_run_until(&loop, &h.reserved, 1, 0.05);
  CHECK(lgw__rstate_ready(st));
  CHECK(failed_at >= 0 || i < 20);
  lgw__rstate_set_preferred(st, "winner-key");
  lgw__rstate_breaker(st, 0, 1, 1);
  lgw__rstate_breaker(st, 0, 0, 1);
  rc = lgw__rstate_reserve(st, 0, 10, on_reserved, &h, &call);
  if (rc) {
    CHECK(rc == LGW_ENOMEM);
  } else {
    redis_run_until(&loop, &h.reserved, 1, 4);
    CHECK(h.reserved == 1);
    /* a reservation without an answer falls back to the local buckets */
    CHECK(h.reserve_ok == 1 || failed_at >= 0);
    if (h.reserve_ok) CHECK(h.wait == 0);
  }
  lgw__rstate_settle(st, 0, 5);
  /* the periodic read brings the winner back (its write is sent again
   * with the next read when it could not be sent) */
  h.preferred = 0;
  for (i = 0; i < 40 && strcmp(h.pref, "winner-key") != 0; i++) {
    int n = h.preferred;
    redis_run_until(&loop, &h.preferred, n + 1, 0.1);
  }
  CHECK(strcmp(h.pref, "winner-key") == 0);
  if (h.reserved == 1 && h.reserve_ok) *ended = 1;
  else CHECK(failed_at >= 0);
out:
#undef CHECK
  countdown = -1;
  lgw__rstate_free(st);
  uv_run(&loop, UV_RUN_DEFAULT);
  if (uv_loop_close(&loop) != 0 && !bad) bad = __LINE__;
  lgw_runtime_free(rt);
  return bad;
}

TEST(the_shared_state_when_each_allocation_fails) {
  long n, total, step = getenv("VALGRIND") ? 3 : 1, ended = 0;
  int e, line;
  line = state_round(-1, &e);
  ASSERT_EQ(line, 0);
  ASSERT_EQ(e, 1);
  total = seen;
  ASSERT(total > 10);
  for (n = 0; n < total; n += step) {
    line = state_round(n, &e);
    ended += e;
    if (line) fprintf(stderr, "  allocation %ld of %ld: line %d\n", n + 1,
                      total, line);
    ASSERT_EQ(line, 0);
    if (test__cur_failed) break;
  }
  line = state_round(-1, &e);
  ASSERT_EQ(line, 0);
  ASSERT_EQ(e, 1);
  fprintf(stderr, "  %ld allocations, %ld rounds ended whole\n", total,
          ended);
}

int main(void) {
  signal(SIGPIPE, SIG_IGN);
  if (getenv("VALGRIND")) wait_s = 1.5;
  lgw_set_allocator(t_malloc, t_realloc, free);
  lgw_set_log(quiet, NULL, LGW_LOG_DEBUG);
  if (!redis_installed())
    SKIP_REST("redis-server is not installed");
  else if (redis_start(&srv, 0) != 0)
    FAIL_REST("cannot start redis-server");
  RUN(freed_with_calls_on_the_wire);
  RUN(every_allocation_of_a_round_fails_in_turn);
  RUN(the_shared_state_when_each_allocation_fails);
  redis_stop(&srv);
  return TEST_SUMMARY();
}
