/*
 * loop.c -- the public event-loop functions (llmgateway.h): a loop of the
 * library's own, running it, its descriptor and timeout for foreign
 * loops, and the timers, idle callbacks and thread-safe wake-ups that
 * bindings and hosts use without including libuv's header.
 */
#include <stdlib.h>
#include <time.h>

#include <uv.h>

#include "llmgateway.h"
#include "util.h"
#include "uv_dl.h"

struct lgw_timer {
  uv_timer_t h;
  lgw_timer_fn fn;
  void *ud;
};

struct lgw_idle {
  uv_idle_t h;
  lgw_idle_fn fn;
  void *ud;
};

struct lgw_async {
  uv_async_t h;
  lgw_async_fn fn;
  void *ud;
};

/* The functions given a loop open libuv too: the loop may be the
 * caller's, made with its own libuv, before the library made any. */

uv_loop_t *lgw_loop_new(void) {
  uv_loop_t *loop;
  if (lgw__uv_load()) return NULL;
  loop = lgw__calloc(1, sizeof *loop);
  if (loop && uv_loop_init(loop)) {
    lgw_free(loop);
    loop = NULL;
  }
  return loop;
}

static void close_walk(uv_handle_t *h, void *arg) {
  (void)arg;
  if (!uv_is_closing(h)) uv_close(h, NULL);
}

void lgw_loop_free(uv_loop_t *loop) {
  if (!loop || lgw__uv_load()) return;
  uv_walk(loop, close_walk, NULL);
  while (uv_loop_close(loop)) uv_run(loop, UV_RUN_DEFAULT);
  lgw_free(loop);
}

int lgw_loop_run(uv_loop_t *loop, lgw_run_mode_t mode) {
  uv_run_mode m = mode == LGW_RUN_ONCE     ? UV_RUN_ONCE
                  : mode == LGW_RUN_NOWAIT ? UV_RUN_NOWAIT
                                           : UV_RUN_DEFAULT;
  if (lgw__uv_load()) return 0;
  return uv_run(loop, m);
}

int lgw_loop_alive(const uv_loop_t *loop) {
  return lgw__uv_load() ? 0 : uv_loop_alive(loop);
}

int lgw_loop_fd(const uv_loop_t *loop) {
  return lgw__uv_load() ? -1 : uv_backend_fd(loop);
}

int lgw_loop_timeout(const uv_loop_t *loop) {
  return lgw__uv_load() ? -1 : uv_backend_timeout(loop);
}

/* uv_hrtime's clock (libuv on Linux: CLOCK_MONOTONIC, in ns), without
 * opening libuv */
uint64_t lgw_hrtime(void) {
  struct timespec t;
  if (clock_gettime(CLOCK_MONOTONIC, &t)) return 0;
  return (uint64_t)t.tv_sec * UINT64_C(1000000000) + (uint64_t)t.tv_nsec;
}

/* ---- handles: each is freed by its close callback ---------------------- */

static void free_handle(uv_handle_t *h) { lgw_free(h->data); }

static void on_timer(uv_timer_t *h) {
  lgw_timer_t *t = h->data;
  t->fn(t, t->ud);
}

lgw_timer_t *lgw_timer_new(uv_loop_t *loop, lgw_timer_fn fn, void *ud) {
  lgw_timer_t *t;
  if (lgw__uv_load()) return NULL;
  t = lgw__calloc(1, sizeof *t);
  if (!t) return NULL;
  uv_timer_init(loop, &t->h);
  t->h.data = t;
  t->fn = fn;
  t->ud = ud;
  return t;
}

void lgw_timer_start(lgw_timer_t *t, uint64_t ms, uint64_t repeat_ms) {
  uv_timer_start(&t->h, on_timer, ms, repeat_ms);
}

void lgw_timer_stop(lgw_timer_t *t) { uv_timer_stop(&t->h); }

void lgw_timer_unref(lgw_timer_t *t) { uv_unref((uv_handle_t *)&t->h); }

void lgw_timer_free(lgw_timer_t *t) {
  if (!t) return;
  uv_timer_stop(&t->h);
  uv_close((uv_handle_t *)&t->h, free_handle);
}

static void on_idle(uv_idle_t *h) {
  lgw_idle_t *i = h->data;
  i->fn(i, i->ud);
}

lgw_idle_t *lgw_idle_new(uv_loop_t *loop, lgw_idle_fn fn, void *ud) {
  lgw_idle_t *i;
  if (lgw__uv_load()) return NULL;
  i = lgw__calloc(1, sizeof *i);
  if (!i) return NULL;
  uv_idle_init(loop, &i->h);
  i->h.data = i;
  i->fn = fn;
  i->ud = ud;
  return i;
}

void lgw_idle_start(lgw_idle_t *i) { uv_idle_start(&i->h, on_idle); }

void lgw_idle_stop(lgw_idle_t *i) { uv_idle_stop(&i->h); }

void lgw_idle_free(lgw_idle_t *i) {
  if (i) uv_close((uv_handle_t *)&i->h, free_handle);
}

static void on_async(uv_async_t *h) {
  lgw_async_t *a = h->data;
  if (a->fn) a->fn(a, a->ud);
}

lgw_async_t *lgw_async_new(uv_loop_t *loop, lgw_async_fn fn, void *ud) {
  lgw_async_t *a;
  if (lgw__uv_load()) return NULL;
  a = lgw__calloc(1, sizeof *a);
  if (!a) return NULL;
  if (uv_async_init(loop, &a->h, on_async)) {
    lgw_free(a);
    return NULL;
  }
  a->h.data = a;
  a->fn = fn;
  a->ud = ud;
  uv_unref((uv_handle_t *)&a->h);
  return a;
}

void lgw_async_send(lgw_async_t *a) { uv_async_send(&a->h); }

void lgw_async_free(lgw_async_t *a) {
  if (a) uv_close((uv_handle_t *)&a->h, free_handle);
}
