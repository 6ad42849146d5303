/*
 * lgw_lua.h -- opening llmgateway in a Lua 5.4 state, for hosts and C
 * applications that embed Lua.
 *
 *   lua_State *L = luaL_newstate(); luaL_openlibs(L);
 *   lgw_lua_set_loop(L, my_loop);         (optional: share a uv loop)
 *   luaL_requiref(L, "llmgateway.core", luaopen_llmgateway_core, 0);
 *   then require("llmgateway") from Lua (lua/llmgateway/init.lua).
 *
 * Without lgw_lua_set_loop the module creates and owns its own loop.
 *
 * These functions, and the whole C API of llmgateway.h, are in liblgw-lua
 * (.so and .a): cc app.c $(pkg-config --cflags --libs llmgateway-lua).
 * The installed Lua module (llmgateway/core.so) is a link to that library,
 * so a require of it from the application's Lua code loads no second copy.
 */
#ifndef LGW_LUA_H
#define LGW_LUA_H

#include <lua.h>

#include "llmgateway.h"

#ifdef __cplusplus
extern "C" {
#endif

struct uv_loop_s;

/* The C part of the module (require "llmgateway.core"). */
LGW_API int luaopen_llmgateway_core(lua_State *L);

/* Make the module use loop (not owned) instead of creating its own. Call
 * before luaopen_llmgateway_core. */
LGW_API void lgw_lua_set_loop(lua_State *L, struct uv_loop_s *loop);

/* For embedders that drive their own loop: run ready Lua tasks and return
 * the number of tasks still alive (0 when everything has finished). Safe
 * to call from the embedder's loop callbacks (not from inside a task). */
LGW_API int lgw_lua_step(lua_State *L);

/* For embedders whose loop is not libuv (GLib, Qt, poll()): the module
 * keeps its own loop, and the embedder watches lgw_lua_fd for reading and
 * wakes up after lgw_lua_timeout milliseconds (-1: no timeout; 0: at
 * once), then calls lgw_lua_run_nowait, which runs whatever is ready
 * without blocking and returns the number of tasks alive (-1 when called
 * from inside a task or a callback of the module). Call it also after
 * starting work (a spawn, a request) before waiting again. */
LGW_API int lgw_lua_fd(lua_State *L);
LGW_API int lgw_lua_timeout(lua_State *L);
LGW_API int lgw_lua_run_nowait(lua_State *L);

/* ---- hosts: programs that run scripts (like the llmgateway executable) --
 *
 * A host opens the module, spawns the script's main function as a task,
 * runs the loop until the tasks are done and reports. These need the
 * module open (luaopen_llmgateway_core); they raise otherwise.
 */

/* The function below nargs arguments on top of L becomes a task (as
 * llm.spawn); they are popped and the task object is pushed. */
LGW_API void lgw_lua_spawn(lua_State *L, int nargs);
/* Run the loop until every task has finished, or the task at stack index
 * main (0: none) has failed. Returns 0; 1 when the run was stopped
 * (lgw_lua_stop, or SIGINT when the module handles signals); 2 when a
 * synchronous wait ended (a time limit); -1 when tasks remain that
 * nothing can wake, or when memory ran out while running the loop (an
 * error message is then pushed). */
LGW_API int lgw_lua_run(lua_State *L, int main);
/* For the task at idx: when it failed, pushes its error (the message with
 * a traceback), marks it observed and returns 1; else returns 0. */
LGW_API int lgw_lua_task_failure(lua_State *L, int idx);
/* Failed tasks whose error nobody took (not waited for, not observed):
 * their errors are logged when they are collected. */
LGW_API int lgw_lua_unobserved(lua_State *L);

/* Signals. With lgw_lua_host_signals(L, 1) the host catches SIGINT
 * itself (the module then does not during synchronous waits), and (for
 * one lua_State of the process) these two may be called from its signal
 * handlers (async-signal-safe): lgw_lua_interrupt makes the Lua
 * code running for the module raise "interrupted!" at its next
 * instruction; lgw_lua_wake wakes the loop, which then calls the tick
 * function (lgw_lua_set_tick) once. lgw_lua_interrupt_clear removes what
 * lgw_lua_interrupt left on the main threads once the run is over. */
LGW_API void lgw_lua_host_signals(lua_State *L, int on);
LGW_API void lgw_lua_interrupt(lua_State *L);
LGW_API void lgw_lua_interrupt_clear(lua_State *L);
LGW_API void lgw_lua_wake(lua_State *L);
/* Stop the run: lgw_lua_run returns 1 at its next turn; with cancel,
 * every request of every open gateway is canceled too (its waiting task
 * sees a "canceled" error). From the loop or the host's code, not from a
 * signal handler. */
LGW_API void lgw_lua_stop(lua_State *L, int cancel);
/* Stop taking jobs on every consuming queue (jobs in hand still finish);
 * returns the number of queues stopped. */
LGW_API int lgw_lua_stop_queues(lua_State *L);

/* Every event of every gateway of the module (lgw_event_t as in
 * llmgateway.h), before the gateway's own on_event function; fn NULL:
 * none. Runs from the loop. */
LGW_API void lgw_lua_set_event_hook(lua_State *L, lgw_event_fn fn, void *ud);
/* The Lua name of an event type: lgw_event_name's ("attempt_end",
 * "request_end", "breaker_open", "breaker_close"). */
LGW_API const char *lgw_lua_event_name(lgw_event_type_t type);

/* fn(L, ud) runs from the loop every interval seconds (0: never on a
 * timer) and once after each lgw_lua_wake, without keeping the loop
 * alive; fn NULL removes it. It may call the functions above but must
 * not run Lua code of the script. */
typedef void (*lgw_lua_tick_fn)(lua_State *L, void *ud);
LGW_API int lgw_lua_set_tick(lua_State *L, lgw_lua_tick_fn fn, void *ud,
                             double interval);

/* For a progress line: requests in flight over every open gateway, and
 * the items the batch helpers of the Lua front (llm.run_batch ...) have
 * started and finished. */
typedef struct lgw_lua_progress {
  size_t in_flight;
  long batch_items;
  long batch_done;
} lgw_lua_progress_t;
LGW_API void lgw_lua_progress(lua_State *L, lgw_lua_progress_t *out);

/* For a worker's progress line: the first consuming queue's counters as
 * last read (a new reading is started by each call) and this process's
 * own counts. Returns 0 (out untouched) when no queue is consuming. */
typedef struct lgw_lua_queue_progress {
  const char *name;           /* borrowed until the queue closes */
  int have_stats;             /* st holds a reading */
  lgw_queue_stats_t st;
  long held;                  /* jobs in hand here */
  long done, failed, retried; /* outcomes written from here */
} lgw_lua_queue_progress_t;
LGW_API int lgw_lua_queue_progress(lua_State *L,
                                   lgw_lua_queue_progress_t *out);

#ifdef __cplusplus
}
#endif
#endif
