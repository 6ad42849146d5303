/*
 * main.c -- the llmgateway executable: Lua's lua.c skeleton (main, pmain
 * under lua_pcall, the message handler, report, the arg table) plus the
 * event loop. The script (and any -e code) runs as the main task, so
 * gateway calls in it yield instead of blocking; the loop runs until
 * every task has finished. SIGINT interrupts the running Lua code,
 * cancels the requests in flight and exits 130.
 * Observability for every gateway the script creates: --trace writes the
 * engine's events as JSON lines, --progress draws a live status line on
 * stderr, --log-level filters the engine's log. `llmgateway worker`
 * consumes a work queue with the pipeline function a script returns,
 * until SIGTERM or SIGINT (then it finishes the jobs in hand within
 * settings.worker_grace).
 * pmain is lua.c's in four steps: argument parsing (args.c), the state
 * and the chunks (script.c, worker.c), running them on the loop
 * (run_main below, signals.c), reporting (report.c).
 */
#include <stdlib.h>

#include "host.h"

/* Runs the main task at task on the loop until every task has finished,
 * or the main task failed (the rest are dropped at lua_close, which
 * cancels their requests); lgw_lua_run's result. */
static int run_main(lua_State *L, int task) {
  int rc;
  lgw_lua_host_signals(L, 1);
  host_catch_signals();
  if (lgw_lua_set_tick(L, host_on_tick, NULL, host.progress ? 0.2 : 0)) {
    /* not left caught: the handler would act on a closed state */
    lgw_lua_host_signals(L, 0);
    host_release_signals();
    return luaL_error(L, "out of memory");
  }
  rc = lgw_lua_run(L, task);
  lgw_lua_interrupt_clear(L);
  host_release_signals();
  lgw_lua_set_tick(L, NULL, NULL, 0);
  return rc;
}

/* pmain(argc, argv) -> exit status. */
static int pmain(lua_State *L) {
  host_args_t a;
  int status, task;
  luaL_checkversion(L);
  a.argc = (int)lua_tointeger(L, 1);
  a.argv = lua_touserdata(L, 2);
  status = host_parse_args(L, &a);
  if (status == HOST_GO_ON && a.trace) status = host_open_trace(a.trace);
  if (status != HOST_GO_ON) {
    lua_pushinteger(L, status);
    return 1;
  }
  host_open_state(L, &a);
  /* stack: runner, chunks, n, args */
  task = lua_gettop(L) + 1;
  if (host.worker) host_push_worker_runner(L);
  else host_push_runner(L);
  status = host_load_chunks(L, &a);
  if (status != HOST_GO_ON) {
    lua_pushinteger(L, status);
    return 1;
  }
  if (host.worker) host_spawn_worker(L, &a, task);
  else host_spawn_script(L, task);
  lua_pushinteger(L, host_finish(L, task, run_main(L, task)));
  return 1;
}

int main(int argc, char **argv) {
  lua_State *L;
  int status, result = EXIT_FAILURE;
  L = luaL_newstate();
  if (!L) {
    host_message("cannot create state: not enough memory");
    return EXIT_FAILURE;
  }
  lua_pushcfunction(L, host_msghandler);
  lua_pushcfunction(L, pmain);
  lua_pushinteger(L, argc);
  lua_pushlightuserdata(L, argv);
  status = lua_pcall(L, 2, 1, 1);
  if (host_report(L, status) == LUA_OK) result = (int)lua_tointeger(L, -1);
  host_bound_exit(result);
  lua_close(L);
  if (host.trace) fclose(host.trace);
  return result;
}
