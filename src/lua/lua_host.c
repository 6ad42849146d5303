/*
 * lua_host.c -- the embedding API for hosts (lgw_lua.h): spawning and
 * running the main task, signals, stopping, the event and tick hooks and
 * the progress counters, over the module record.
 */
#include <string.h>

#include "lua_priv.h"

void lgw_lua_spawn(lua_State *L, int nargs) {
  lgwL_spawn(L, lgwL_module(L), nargs);
}

int lgw_lua_run(lua_State *L, int main) {
  lgwL_module_t *m = lgwL_module(L);
  lgwL_task_t *t = main ? luaL_testudata(L, main, LGWL_TASK) : NULL;
  return lgwL_run_all(L, m, t);
}

int lgw_lua_task_failure(lua_State *L, int idx) {
  return lgwL_task_failure(L, idx);
}

int lgw_lua_unobserved(lua_State *L) {
  lgwL_module_t *m = lgwL_module_peek(L);
  return m ? m->unobserved : 0;
}

/* The module whose host handles the signals: a signal handler must not
 * touch the Lua state, so lgw_lua_interrupt and lgw_lua_wake find the
 * module record here, set outside any handler. */
static lgwL_module_t *volatile signal_module;

static lgwL_module_t *signaled(lua_State *L) {
  lgwL_module_t *m = signal_module;
  return m && m->L == L ? m : NULL;
}

void lgw_lua_host_signals(lua_State *L, int on) {
  lgwL_module_t *m = lgwL_module(L);
  m->host_signals = on != 0;
  /* the loop and its wake-up handle now, so that lgw_lua_wake (from a
   * signal handler, which may not allocate) always has one to send to */
  if (on) {
    (void)lgwL_loop_open(m);
    signal_module = m;
  } else if (signal_module == m) {
    signal_module = NULL;
  }
}

void lgw_lua_interrupt(lua_State *L) {
  lgwL_module_t *m = signaled(L);
  if (m) lgwL_interrupt(m);
}

void lgw_lua_interrupt_clear(lua_State *L) {
  lgwL_module_t *m = lgwL_module_peek(L);
  if (m) lgwL_interrupt_clear(m);
}

void lgw_lua_wake(lua_State *L) {
  lgwL_module_t *m = signaled(L);
  if (m && m->wake) lgw_async_send(m->wake);
}

void lgw_lua_stop(lua_State *L, int cancel) {
  lgwL_module_t *m = lgwL_module(L);
  m->interrupted = 1;
  if (cancel) lgwL_cancel_all(m);
}

int lgw_lua_stop_queues(lua_State *L) {
  return lgwL_queue_stop_all(lgwL_module(L));
}

void lgw_lua_set_event_hook(lua_State *L, lgw_event_fn fn, void *ud) {
  lgwL_module_t *m = lgwL_module(L);
  m->event_hook = fn;
  m->event_hook_ud = ud;
}

const char *lgw_lua_event_name(lgw_event_type_t type) {
  return lgw_event_name(type);
}

static void on_tick(lgw_timer_t *t, void *ud) {
  lgwL_module_t *m = ud;
  (void)t;
  if (m->tick_fn) m->tick_fn(m->L, m->tick_ud);
}

static void tick_close(lgwL_module_t *m) {
  lgw_timer_free(m->tick);
  m->tick = NULL;
}

void lgwL_host_teardown(lgwL_module_t *m) {
  tick_close(m);
  m->tick_fn = NULL;
  if (signal_module == m) signal_module = NULL;
}

int lgw_lua_set_tick(lua_State *L, lgw_lua_tick_fn fn, void *ud,
                     double interval) {
  lgwL_module_t *m = lgwL_module(L);
  m->tick_fn = fn;
  m->tick_ud = ud;
  if (!fn || !(interval > 0)) {
    tick_close(m);
    return 0;
  }
  if (!m->tick) {
    if (lgwL_loop_open(m) || !(m->tick = lgw_timer_new(m->loop, on_tick, m)))
      return LGW_ENOMEM;
    lgw_timer_unref(m->tick);
  }
  {
    uint64_t ms = interval * 1000.0 < 1.0 ? 1 : (uint64_t)(interval * 1000.0);
    lgw_timer_start(m->tick, ms, ms);
  }
  return 0;
}

void lgw_lua_progress(lua_State *L, lgw_lua_progress_t *out) {
  lgwL_module_t *m = lgwL_module(L);
  const lgwL_gw_t *g;
  memset(out, 0, sizeof *out);
  LGWL_EACH(g, &m->gateways, lgwL_gw_t, link)
    if (g->gw) out->in_flight += lgw_gateway_pending(g->gw);
  out->batch_items = m->batch_items;
  out->batch_done = m->batch_done;
}

int lgw_lua_queue_progress(lua_State *L, lgw_lua_queue_progress_t *out) {
  return lgwL_queue_progress(lgwL_module(L), out);
}
