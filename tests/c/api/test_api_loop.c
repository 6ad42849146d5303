/*
 * test_api_loop.c -- the public event-loop functions: a one-shot and a
 * repeating timer, stopping and freeing from a callback, an idle callback
 * that keeps the loop turning, a wake-up sent from another thread, an
 * unreferenced timer that does not keep the loop alive, and the loop's
 * descriptor and timeout.
 */
#include <pthread.h>
#include <unistd.h>

#include "llmgateway.h"
#include "test.h"

static int fired;
static lgw_timer_t *repeating;

static void count_cb(lgw_timer_t *t, void *ud) {
  (void)t;
  (*(int *)ud)++;
}

static void repeat_cb(lgw_timer_t *t, void *ud) {
  (void)ud;
  if (++fired == 3) {
    lgw_timer_free(t);  /* from its own callback */
    repeating = NULL;
  }
}

TEST(timers) {
  struct uv_loop_s *loop = lgw_loop_new();
  lgw_timer_t *once, *never;
  int n = 0, m = 0;
  uint64_t t0 = lgw_hrtime();
  ASSERT(loop != NULL);
  ASSERT_EQ(lgw_loop_alive(loop), 0);
  ASSERT_EQ(lgw_loop_timeout(loop), 0);  /* nothing to wait for */
  ASSERT(lgw_loop_fd(loop) >= 0);
  once = lgw_timer_new(loop, count_cb, &n);
  never = lgw_timer_new(loop, count_cb, &m);
  lgw_timer_start(never, 10000, 0);
  lgw_timer_stop(never);
  lgw_timer_start(once, 20, 0);
  repeating = lgw_timer_new(loop, repeat_cb, NULL);
  lgw_timer_start(repeating, 1, 1);
  ASSERT_EQ(lgw_loop_alive(loop), 1);
  ASSERT_EQ(lgw_loop_run(loop, LGW_RUN_DEFAULT), 0);
  ASSERT_EQ(n, 1);
  ASSERT_EQ(m, 0);
  ASSERT_EQ(fired, 3);
  ASSERT(repeating == NULL);
  ASSERT(lgw_hrtime() > t0);
  lgw_timer_free(once);
  lgw_timer_free(never);
  lgw_timer_free(NULL);
  lgw_loop_free(loop);
}

TEST(unref_timer) {
  struct uv_loop_s *loop = lgw_loop_new();
  lgw_timer_t *t = lgw_timer_new(loop, count_cb, &fired);
  fired = 0;
  lgw_timer_start(t, 5000, 0);
  lgw_timer_unref(t);
  ASSERT_EQ(lgw_loop_alive(loop), 0);
  ASSERT_EQ(lgw_loop_run(loop, LGW_RUN_DEFAULT), 0);  /* returns at once */
  ASSERT_EQ(fired, 0);
  lgw_timer_free(t);
  lgw_loop_free(loop);
}

static void idle_cb(lgw_idle_t *i, void *ud) {
  if (++*(int *)ud == 5) lgw_idle_stop(i);
}

TEST(idle) {
  struct uv_loop_s *loop = lgw_loop_new();
  int n = 0;
  lgw_idle_t *i = lgw_idle_new(loop, idle_cb, &n);
  lgw_idle_start(i);
  ASSERT_EQ(lgw_loop_timeout(loop), 0);
  ASSERT_EQ(lgw_loop_run(loop, LGW_RUN_DEFAULT), 0);
  ASSERT_EQ(n, 5);
  lgw_idle_free(i);
  lgw_loop_free(loop);
}

static void *send_later(void *a) {
  usleep(20000);
  lgw_async_send(a);
  return NULL;
}

static void async_cb(lgw_async_t *a, void *ud) {
  (void)a;
  (*(int *)ud)++;
}

TEST(async) {
  struct uv_loop_s *loop = lgw_loop_new();
  int n = 0;
  lgw_async_t *a = lgw_async_new(loop, async_cb, &n);
  lgw_timer_t *keep = lgw_timer_new(loop, count_cb, &fired);
  pthread_t th;
  ASSERT_EQ(lgw_loop_alive(loop), 0);  /* a wake-up keeps nothing alive */
  lgw_timer_start(keep, 5000, 0);
  ASSERT_EQ(pthread_create(&th, NULL, send_later, a), 0);
  while (n == 0) lgw_loop_run(loop, LGW_RUN_ONCE);
  pthread_join(th, NULL);
  ASSERT_EQ(n, 1);
  lgw_async_free(a);
  lgw_timer_free(keep);
  lgw_loop_free(loop);
}

int main(void) {
  RUN(timers);
  RUN(unref_timer);
  RUN(idle);
  RUN(async);
  return TEST_SUMMARY();
}
