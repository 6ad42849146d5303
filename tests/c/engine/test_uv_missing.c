/*
 * test_uv_missing.c -- libuv is opened at its first use
 * (src/engine/uv_dl.c): when it cannot be loaded, making a loop, a
 * gateway's engine, a Redis queue or a handle on a loop fails with a
 * message naming the library, every time, and what needs no loop still
 * works: lgw_hrtime reads the same clock as uv_hrtime, queue identifiers
 * come from the kernel. The loader is compiled here with a soname that
 * does not exist (its definitions take the place of the archive's); the
 * program itself links libuv, for the comparisons.
 */
#define LGW_UV_SONAME "liblgw-test-no-uv.so.9"
#include "../../../src/engine/uv_dl.c"

#include <string.h>

#include "engine.h"
#include "llmgateway.h"
#include "queue.h"
#include "test.h"

#define WHY "cannot load libuv (liblgw-test-no-uv.so.9), needed for the " \
            "event loop: "

TEST(loop_missing) {
  uv_loop_t *loop;
  int i;
  for (i = 0; i < 2; i++) {  /* the same answer the second time */
    ASSERT(lgw_loop_new() == NULL);
    ASSERT_EQ(lgw__uv_load(), -1);
    ASSERT_CONTAINS(lgw__uv_error(), WHY);
  }
  loop = NULL;
  lgw_loop_free(loop);  /* nothing to do */
}

TEST(engine_missing) {
  lgw__engine_t *e = (lgw__engine_t *)1;
  lgw_error_t err;
  memset(&err, 0, sizeof err);
  ASSERT_EQ(lgw__engine_new(NULL, 0, &e, &err), LGW_EIO);
  ASSERT(e == NULL);
  ASSERT_EQ(err.code, LGW_EIO);
  ASSERT_CONTAINS(err.message, WHY);
}

TEST(foreign_loop_missing) {
  /* a loop of the program's own libuv: the library still cannot use it */
  uv_loop_t loop;
  lgw_queue_t *q = (lgw_queue_t *)1;
  lgw_error_t err;
  memset(&err, 0, sizeof err);
  ASSERT_EQ(uv_loop_init(&loop), 0);
  ASSERT(lgw_timer_new(&loop, NULL, NULL) == NULL);
  ASSERT(lgw_idle_new(&loop, NULL, NULL) == NULL);
  ASSERT(lgw_async_new(&loop, NULL, NULL) == NULL);
  ASSERT_EQ(lgw_loop_fd(&loop), -1);
  ASSERT_EQ(lgw_loop_timeout(&loop), -1);
  ASSERT_EQ(lgw_loop_alive(&loop), 0);
  ASSERT_EQ(lgw_loop_run(&loop, LGW_RUN_NOWAIT), 0);
  ASSERT_EQ(lgw_queue_open(&loop, "redis://127.0.0.1:9/0", "q", NULL, &q,
                           &err),
            LGW_EIO);
  ASSERT(q == NULL);
  ASSERT_CONTAINS(err.message, WHY);
  ASSERT_EQ(uv_run(&loop, UV_RUN_NOWAIT), 0);  /* nothing left open */
  ASSERT_EQ(uv_loop_close(&loop), 0);
}

TEST(no_loop_needed) {
  char id[33], id2[33];
  size_t i;
  uint64_t a = uv_hrtime(), b = lgw_hrtime(), c = uv_hrtime();
  ASSERT(a <= b);  /* the same clock as libuv's */
  ASSERT(b <= c);
  ASSERT_EQ(lgw__queue_new_id(id), 0);
  ASSERT_EQ(lgw__queue_new_id(id2), 0);
  ASSERT_EQ(strlen(id), 32);
  for (i = 0; i < 32; i++) ASSERT(strchr("0123456789abcdef", id[i]));
  ASSERT(strcmp(id, id2) != 0);
}

int main(void) {
  RUN(loop_missing);
  RUN(engine_missing);
  RUN(foreign_loop_missing);
  RUN(no_loop_needed);
  return TEST_SUMMARY();
}
