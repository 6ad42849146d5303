/*
 * engine.c -- the real engine behind engine.h: a libuv loop (the caller's
 * or its own) with the HTTP multi of http.c on it, timers and deferred
 * calls as uv handles, work on libuv's thread pool, and the monotonic
 * clock. Handles are closed asynchronously; the engine's memory goes with
 * the last of them (or at once, on its own loop, which it closes).
 */
#include "engine.h"

#include <math.h>
#include <pthread.h>
#include <stdint.h>
#include <uv.h>

#include "http.h"
#include "list.h"
#include "util.h"
#include "uv_dl.h"

typedef struct engine {
  lgw__engine_t base;
  uv_loop_t *loop;
  int own_loop;               /* loop allocated and closed here */
  lgw__http_t *http;
  size_t busy;                /* handles closing, work in flight */
  int freed;                  /* lgw__engine_t.ops->free was called */
  pthread_mutex_t mu;         /* guards running */
  pthread_cond_t idle;        /* running fell to 0 */
  size_t running;             /* work functions not yet returned */
} engine_t;

struct lgw__timer {
  uv_timer_t h;
  lgw__engine_fn fn;
  void *ud;
};

/* A deferred call runs from a check handle (after the loop's poll), and
 * an idle handle keeps that poll from blocking meanwhile: armed from a
 * socket or timer callback, it runs in the same loop turn, after that
 * callback, without another turn (and its poll) of its own. */
struct lgw__defer {
  uv_check_t h;
  uv_idle_t spin;
  lgw__engine_fn fn;
  void *ud;
  engine_t *e;
  int open;                   /* handles not yet closed */
};

typedef struct work {
  uv_work_t req;
  engine_t *e;
  lgw__engine_fn work, done;
  void *ud;
  lgw__buf_t logs;            /* what work logged, for the loop thread */
} work_t;

#define ENG(e) ((engine_t *)(void *)(e))

static void destroy(engine_t *e) {
  pthread_mutex_destroy(&e->mu);
  pthread_cond_destroy(&e->idle);
  lgw_free(e);
}

/* On a caller's loop the engine goes with the last handle or work. */
static void release(engine_t *e) {
  if (--e->busy == 0 && e->freed && !e->own_loop) destroy(e);
}

/* h is the first member of a timer or a deferred call: freed with it. */
static void on_close(uv_handle_t *h) {
  release(h->data);
  lgw_free(h);
}

/* ---- transfers ----------------------------------------------------------- */

static int e_submit(lgw__engine_t *e, const lgw__xfer_opts_t *o, char *body,
                    lgw__xfer_cb cb, void *ud, lgw__xfer_t **out,
                    lgw_error_t *err) {
  return lgw__http_post_owned(ENG(e)->http, o, body, cb, ud, out, err);
}

static void e_cancel(lgw__engine_t *e, lgw__xfer_t *x) {
  (void)e;
  lgw__http_cancel(x);
}

/* ---- timers and deferred calls ------------------------------------------- */

static void on_timer(uv_timer_t *h) {
  lgw__timer_t *t = (lgw__timer_t *)(void *)h;
  t->fn(t->ud);
}

static lgw__timer_t *e_timer_new(lgw__engine_t *e, lgw__engine_fn fn,
                                 void *ud) {
  lgw__timer_t *t = lgw_malloc(sizeof *t);
  if (!t) return NULL;
  uv_timer_init(ENG(e)->loop, &t->h);
  t->fn = fn;
  t->ud = ud;
  return t;
}

static void e_timer_start(lgw__engine_t *e, lgw__timer_t *t, double s) {
  (void)e;
  uv_timer_start(&t->h, on_timer, (uint64_t)ceil(s * 1000.0), 0);
}

static void e_timer_stop(lgw__engine_t *e, lgw__timer_t *t) {
  (void)e;
  uv_timer_stop(&t->h);
}

static void close_handle(engine_t *e, uv_handle_t *h) {
  e->busy++;
  h->data = e;
  uv_close(h, on_close);
}

static void e_timer_free(lgw__engine_t *e, lgw__timer_t *t) {
  if (t) close_handle(ENG(e), (uv_handle_t *)&t->h);
}

static void on_spin(uv_idle_t *h) { (void)h; }

/* Stopped first: fn may arm it again. Transfers started by the callback
 * that armed it go out first (check handles run newest first, so curl's
 * own "timeout 0" handle might run after this one): the request is on
 * the wire while fn runs. */
static void on_defer(uv_check_t *h) {
  lgw__defer_t *d = (lgw__defer_t *)(void *)h;
  uv_check_stop(h);
  uv_idle_stop(&d->spin);
  lgw__http_due(d->e->http);
  d->fn(d->ud);
}

static lgw__defer_t *e_defer_new(lgw__engine_t *e, lgw__engine_fn fn,
                                 void *ud) {
  lgw__defer_t *d = lgw_malloc(sizeof *d);
  if (!d) return NULL;
  uv_check_init(ENG(e)->loop, &d->h);
  uv_idle_init(ENG(e)->loop, &d->spin);
  d->fn = fn;
  d->ud = ud;
  d->e = ENG(e);
  d->open = 2;
  return d;
}

static void e_defer_arm(lgw__engine_t *e, lgw__defer_t *d) {
  (void)e;
  uv_check_start(&d->h, on_defer);
  uv_idle_start(&d->spin, on_spin);
}

/* Both handles' data is the engine; d goes with the second. */
static void on_defer_close(uv_handle_t *h) {
  engine_t *e = h->data;
  lgw__defer_t *d = h->type == UV_CHECK
                        ? (lgw__defer_t *)(void *)h
                        : LGW_CONTAINER_OF((uv_idle_t *)(void *)h,
                                           lgw__defer_t, spin);
  if (--d->open == 0) lgw_free(d);
  release(e);
}

static void e_defer_free(lgw__engine_t *eng, lgw__defer_t *d) {
  engine_t *e = ENG(eng);
  if (!d) return;
  e->busy += 2;
  d->h.data = e;
  d->spin.data = e;
  uv_close((uv_handle_t *)&d->h, on_defer_close);
  uv_close((uv_handle_t *)&d->spin, on_defer_close);
}

/* ---- the thread pool ----------------------------------------------------- */

static void on_work(uv_work_t *req) {
  work_t *w = req->data;
  engine_t *e = w->e;
  lgw__log_capture(&w->logs);
  w->work(w->ud);
  lgw__log_capture(NULL);
  pthread_mutex_lock(&e->mu);
  if (--e->running == 0) pthread_cond_broadcast(&e->idle);
  pthread_mutex_unlock(&e->mu);
}

static void on_work_done(uv_work_t *req, int status) {
  work_t *w = req->data;
  engine_t *e = w->e;
  (void)status;  /* never canceled: nothing calls uv_cancel */
  lgw__log_replay(&w->logs);
  lgw__buf_free(&w->logs);
  w->done(w->ud);
  lgw_free(w);
  release(e);
}

static int e_work(lgw__engine_t *eng, lgw__engine_fn fn, lgw__engine_fn done,
                  void *ud) {
  engine_t *e = ENG(eng);
  work_t *w = lgw__calloc(1, sizeof *w);
  if (!w) return LGW_ENOMEM;
  w->e = e;
  w->work = fn;
  w->done = done;
  w->ud = ud;
  w->req.data = w;
  lgw__buf_init(&w->logs);
  pthread_mutex_lock(&e->mu);
  e->running++;
  pthread_mutex_unlock(&e->mu);
  if (uv_queue_work(e->loop, &w->req, on_work, on_work_done) != 0) {
    pthread_mutex_lock(&e->mu);
    e->running--;
    pthread_mutex_unlock(&e->mu);
    lgw_free(w);
    return LGW_ERESOURCE;
  }
  e->busy++;
  return 0;
}

static void e_work_wait(lgw__engine_t *eng) {
  engine_t *e = ENG(eng);
  pthread_mutex_lock(&e->mu);
  while (e->running > 0) pthread_cond_wait(&e->idle, &e->mu);
  pthread_mutex_unlock(&e->mu);
}

/* ---- the loop ------------------------------------------------------------ */

static double e_now(lgw__engine_t *e) {
  (void)e;
  return lgw__now_ms() / 1000.0;
}

static void e_run_once(lgw__engine_t *e) { uv_run(ENG(e)->loop, UV_RUN_ONCE); }

static struct uv_loop_s *e_loop(lgw__engine_t *e) { return ENG(e)->loop; }

static void e_free(lgw__engine_t *eng) {
  engine_t *e = ENG(eng);
  if (!e) return;
  lgw__http_free(e->http);
  e->http = NULL;
  e->freed = 1;
  if (e->own_loop) {
    while (uv_loop_close(e->loop) == UV_EBUSY) uv_run(e->loop, UV_RUN_DEFAULT);
    lgw_free(e->loop);
    destroy(e);
  } else if (e->busy == 0) {
    destroy(e);
  }
}

static const lgw__engine_ops_t uv_ops = {
    e_submit,    e_cancel,    e_timer_new, e_timer_start, e_timer_stop,
    e_timer_free, e_defer_new, e_defer_arm, e_defer_free, e_work,
    e_work_wait, e_now,       e_run_once,  e_loop,       e_free};

int lgw__engine_new(struct uv_loop_s *loop, long max_host,
                    lgw__engine_t **out, lgw_error_t *err) {
  engine_t *e;
  *out = NULL;
  if (lgw__uv_load())
    return lgw__error_set(err, LGW_EIO, "%s", lgw__uv_error());
  e = lgw__calloc(1, sizeof *e);
  if (!e) return lgw__error_set(err, LGW_ENOMEM, "out of memory");
  e->base.ops = &uv_ops;
  pthread_mutex_init(&e->mu, NULL);
  pthread_cond_init(&e->idle, NULL);
  if (loop) {
    e->loop = loop;
  } else {
    e->loop = lgw_malloc(sizeof *e->loop);
    if (!e->loop || uv_loop_init(e->loop) != 0) {
      lgw_free(e->loop);
      destroy(e);
      return lgw__error_set(err, LGW_ENOMEM, "cannot create the event loop: "
                            "out of memory");
    }
    e->own_loop = 1;
  }
  if (lgw__http_new(e->loop, &e->http, err)) {
    if (e->own_loop) {
      uv_loop_close(e->loop);
      lgw_free(e->loop);
    }
    destroy(e);
    return err ? err->code : LGW_ENOMEM;
  }
  lgw__http_set_max_host_connections(e->http, max_host);
  *out = &e->base;
  return 0;
}
