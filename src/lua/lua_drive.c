/*
 * lua_drive.c -- letting a host with its own event loop drive the
 * module's libuv loop: the loop's backend descriptor (readable when there
 * is work), the time until its next timer, and one run that does not
 * block (the technique that embeds libuv in GLib or Qt). In Lua:
 * llm.fd(), llm.timeout(), llm.step(); in C: lgw_lua_fd, lgw_lua_timeout,
 * lgw_lua_run_nowait.
 */
#include "lua_priv.h"

int lgw_lua_fd(lua_State *L) {
  lgwL_module_t *m = lgwL_module_peek(L);
  if (!m || lgwL_loop_open(m)) return -1;
  return lgw_loop_fd(m->loop);
}

int lgw_lua_timeout(lua_State *L) {
  lgwL_module_t *m = lgwL_module_peek(L);
  if (!m || !m->loop) return -1;
  if (!lgw_list_empty(&m->ready)) return 0;
  /* lgw_loop_timeout is 0 with an active idle handle, -1 with no
   * timer; a loop with nothing alive has nothing to wait for either */
  if (!lgw_loop_alive(m->loop)) return -1;
  return lgw_loop_timeout(m->loop);
}

/* One non-blocking run of the loop from L (not a task), then the tasks it
 * made ready. -1 when the loop is already running (inside a task or a
 * callback of the module). */
static int run_nowait(lua_State *L, lgwL_module_t *m) {
  lua_State *from = m->from;
  if (m->depth > 0 || m->closing) return -1;
  if (!m->loop) {  /* not made yet: nothing to run, no task */
    lgwL_log_flush(L, m);
    return m->ntasks;
  }
  m->depth++;
  m->from = L;
  m->nomem = 0;
  lgw_loop_run(m->loop, LGW_RUN_NOWAIT);
  m->depth--;
  m->from = from;
  if (!lgw_list_empty(&m->ready)) {
    m->depth++;
    m->from = L;
    lgwL_dispatch(m);
    m->depth--;
    m->from = from;
  }
  lgwL_log_flush(L, m);
  return m->ntasks;
}

int lgw_lua_run_nowait(lua_State *L) {
  lgwL_module_t *m = lgwL_module_peek(L);
  if (!m || !m->loop) return 0;
  return run_nowait(L, m);
}

/* fd() -> the loop's backend file descriptor */
static int l_fd(lua_State *L) {
  lgwL_module(L);
  lua_pushinteger(L, lgw_lua_fd(L));
  return 1;
}

/* timeout() -> milliseconds until the loop needs step() again without
 * the descriptor becoming readable; 0: now; -1: not before it does */
static int l_timeout(lua_State *L) {
  lgwL_module(L);
  lua_pushinteger(L, lgw_lua_timeout(L));
  return 1;
}

/* step() -> number of tasks alive: runs whatever is ready, never waits */
static int l_step(lua_State *L) {
  lgwL_module_t *m = lgwL_module(L);
  int n = run_nowait(L, m);
  if (n < 0)
    return luaL_error(L, "cannot step here: the event loop is already "
                      "running (call step from the host's loop, not from "
                      "a task or a callback)");
  if (m->nomem) {  /* a task to start or finish waits for the next step */
    m->nomem = 0;
    return luaL_error(L, "not enough memory");
  }
  lua_pushinteger(L, n);
  return 1;
}

void lgwL_drive_register(lua_State *L) {
  static const luaL_Reg funcs[] = {
    {"fd", l_fd},
    {"timeout", l_timeout},
    {"step", l_step},
    {NULL, NULL}
  };
  luaL_setfuncs(L, funcs, 0);
}
