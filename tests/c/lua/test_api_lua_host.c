/*
 * test_api_lua_host.c -- the host functions of lgw_lua.h: spawning and
 * running a main task, a failed main task's error, an unobserved failure,
 * the tick function on a timer and after a wake-up, stopping a run from
 * it, and the progress counters of a state without gateways.
 */
#include <lauxlib.h>
#include <lualib.h>

#include "lgw_lua.h"
#include "test.h"

static lua_State *open_state(void) {
  lua_State *L = luaL_newstate();
  luaL_openlibs(L);
  luaL_requiref(L, "llmgateway.core", luaopen_llmgateway_core, 0);
  lua_setglobal(L, "core");
  return L;
}

/* Pushes the function of a chunk. */
static void push_chunk(lua_State *L, const char *code) {
  if (luaL_loadstring(L, code) != LUA_OK) lua_error(L);
}

TEST(run_main_task) {
  lua_State *L = open_state();
  int task;
  push_chunk(L, "local a, b = ...; x = a + b; core.sleep(0.01); y = x * 2");
  lua_pushinteger(L, 2);
  lua_pushinteger(L, 3);
  lgw_lua_spawn(L, 2);
  task = lua_gettop(L);
  ASSERT_EQ(lgw_lua_run(L, task), 0);
  ASSERT_EQ(lgw_lua_task_failure(L, task), 0);
  lua_getglobal(L, "y");
  ASSERT_EQ(lua_tointeger(L, -1), 10);
  ASSERT_EQ(lgw_lua_unobserved(L), 0);
  lua_close(L);
}

TEST(failed_main_task) {
  lua_State *L = open_state();
  int task;
  push_chunk(L, "error('boom')");
  lgw_lua_spawn(L, 0);
  task = lua_gettop(L);
  ASSERT_EQ(lgw_lua_run(L, task), 0);
  ASSERT_EQ(lgw_lua_task_failure(L, task), 1);
  ASSERT_CONTAINS(lua_tostring(L, -1), "boom");
  ASSERT_CONTAINS(lua_tostring(L, -1), "stack traceback");
  lua_pop(L, 1);
  ASSERT_EQ(lgw_lua_task_failure(L, task), 1);  /* still failed */
  lua_pop(L, 1);
  lua_close(L);
}

static char logged[512];

static void log_to(lgw_log_level_t level, const char *msg, void *ud) {
  (void)ud;
  if (level == LGW_LOG_ERROR && !logged[0])
    snprintf(logged, sizeof logged, "%s", msg);
}

TEST(unobserved_failure) {
  lua_State *L = open_state();
  push_chunk(L, "core.spawn(function() error('lost') end)");
  lgw_lua_spawn(L, 0);
  ASSERT_EQ(lgw_lua_run(L, lua_gettop(L)), 0);
  ASSERT_EQ(lgw_lua_unobserved(L), 1);
  lua_settop(L, 0);
  lgw_set_log(log_to, NULL, LGW_LOG_WARN);  /* the report at collection */
  lua_close(L);
  lgw_set_log(NULL, NULL, LGW_LOG_WARN);
  ASSERT_CONTAINS(logged, "a task failed and nothing waited for it: "
                  "[string \"core.spawn(function() error('lost') end)\"]:1: "
                  "lost");
}

typedef struct ticks {
  int n;
  int stop_at;
  lgw_lua_progress_t pr;
} ticks_t;

static void on_tick(lua_State *L, void *ud) {
  ticks_t *t = ud;
  if (++t->n == 1) lgw_lua_progress(L, &t->pr);
  if (t->n == t->stop_at) lgw_lua_stop(L, 1);
}

TEST(tick_and_stop) {
  lua_State *L = open_state();
  ticks_t t = {0, 3, {99, 99, 99}};
  int task;
  ASSERT_EQ(lgw_lua_set_tick(L, on_tick, &t, 0.005), 0);
  push_chunk(L, "core.sleep(5)");
  lgw_lua_spawn(L, 0);
  task = lua_gettop(L);
  ASSERT_EQ(lgw_lua_run(L, task), 1);  /* stopped from the tick */
  ASSERT_EQ(t.n, 3);
  ASSERT_EQ(t.pr.in_flight, 0);
  ASSERT_EQ(t.pr.batch_items, 0);
  ASSERT_EQ(t.pr.batch_done, 0);
  ASSERT_EQ(lgw_lua_set_tick(L, NULL, NULL, 0), 0);
  lua_close(L);
}

static void on_wake(lua_State *L, void *ud) {
  ticks_t *t = ud;
  t->n++;
  lgw_lua_stop(L, 0);
}

TEST(wake) {
  lua_State *L = open_state();
  ticks_t t = {0, 0, {0, 0, 0}};
  lgw_lua_queue_progress_t qp;
  ASSERT_EQ(lgw_lua_set_tick(L, on_wake, &t, 0), 0);
  lgw_lua_host_signals(L, 1);
  lgw_lua_wake(L);
  push_chunk(L, "core.sleep(5)");
  lgw_lua_spawn(L, 0);
  ASSERT_EQ(lgw_lua_run(L, lua_gettop(L)), 1);
  ASSERT_EQ(t.n, 1);
  ASSERT_EQ(lgw_lua_queue_progress(L, &qp), 0);  /* no queue consuming */
  ASSERT_EQ(lgw_lua_stop_queues(L), 0);
  ASSERT_STREQ(lgw_lua_event_name(LGW_EVENT_REQUEST_END), "request_end");
  lgw_lua_host_signals(L, 0);
  lua_close(L);
}

int main(void) {
  RUN(run_main_task);
  RUN(failed_main_task);
  RUN(unobserved_failure);
  RUN(tick_and_stop);
  RUN(wake);
  return TEST_SUMMARY();
}
