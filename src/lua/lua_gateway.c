/*
 * lua_gateway.c -- the Runtime and Gateway userdata: loading and
 * validating runtimes from files and Lua tables, dumping them, creating
 * gateways on the module's loop, and gw:call / gw:run_task, which submit
 * to the C engine and either yield the calling task or, outside a task,
 * run the loop until their own answer is in. close, __gc and __close
 * cancel work in flight.
 */
#include <string.h>

#include "lua_priv.h"

/* ===== Runtime ========================================================== */

/* Pushes a Runtime userdata that owns no runtime yet: the caller makes
 * one into the slot returned (made first, so that a memory error of Lua
 * cannot lose it). */
static lgw_runtime_t **new_runtime(lua_State *L) {
  lgw_runtime_t **ud = lua_newuserdatauv(L, sizeof *ud, 0);
  *ud = NULL;
  luaL_setmetatable(L, LGWL_RUNTIME);
  return ud;
}

static lgw_runtime_t *check_runtime(lua_State *L, int i) {
  return *(lgw_runtime_t **)luaL_checkudata(L, i, LGWL_RUNTIME);
}

static int runtime_gc(lua_State *L) {
  lgw_runtime_t **ud = luaL_checkudata(L, 1, LGWL_RUNTIME);
  lgw_runtime_free(*ud);
  *ud = NULL;
  return 0;
}

static int runtime_tostring(lua_State *L) {
  lgw_runtime_t *rt = check_runtime(L, 1);
  lua_pushfstring(L, "%s: %p (%d providers)", LGWL_RUNTIME, (void *)rt,
                  (int)lgw_runtime_provider_count(rt));
  return 1;
}

/* Read-only view of the scalar settings: rt.max_concurrent, ... */
static int runtime_index(lua_State *L) {
  const lgw_runtime_t *rt = check_runtime(L, 1);
  const char *k = luaL_checkstring(L, 2);
  lgw_value_t *settings;
  const lgw_value_t *v;
  if (!strcmp(k, "provider_count")) {
    lua_pushinteger(L, (lua_Integer)lgw_runtime_provider_count(rt));
    return 1;
  }
  if (!strcmp(k, "config_key")) {
    lua_pushstring(L, lgw_runtime_config_key(rt));
    return 1;
  }
  if (!(settings = lgw_runtime_settings(rt)))
    return luaL_error(L, "out of memory");
  v = lgw_value_get(settings, k);
  switch (lgw_value_type(v)) {
    case LGW_VALUE_INT:
      lua_pushinteger(L, (lua_Integer)lgw_value_get_int(v));
      break;
    case LGW_VALUE_NUMBER: lua_pushnumber(L, lgw_value_get_number(v)); break;
    case LGW_VALUE_STRING: {  /* (a new Lua string: pushed under pcall) */
      char *str = lgwL_strdup(lgw_value_get_string(v, NULL));
      lgw_value_free(settings);
      if (!str) return luaL_error(L, "out of memory");
      return lgwL_push_text_free(L, str, strlen(str));
    }
    default: lua_pushnil(L); break;
  }
  lgw_value_free(settings);
  return 1;
}

/* Table -> value tree -> validated runtime (env references resolved). */
static int runtime_from_table(lua_State *L, int idx, lgw_runtime_t **out,
                              lgw_error_t *err) {
  lgw_value_t *root = NULL;
  int rc = lgwL_to_value(L, idx, &root, err);
  if (!rc) rc = lgw_runtime_from_value(root, NULL, out, err);
  lgw_value_free(root);
  return rc;
}

static int l_load_runtime_spec(lua_State *L) {
  const char *path = luaL_checkstring(L, 1);
  lgw_runtime_t **rt = new_runtime(L);
  lgw_error_t err;
  memset(&err, 0, sizeof err);
  if (lgw_runtime_load_file(path, rt, &err)) return lgwL_fail(L, &err);
  lgwL_log_flush(L, lgwL_module_peek(L));
  return 1;
}

static int l_runtime_spec_from_dict(lua_State *L) {
  lgw_runtime_t **rt;
  lgw_error_t err;
  luaL_checktype(L, 1, LUA_TTABLE);
  rt = new_runtime(L);
  memset(&err, 0, sizeof err);
  if (runtime_from_table(L, 1, rt, &err)) return lgwL_fail(L, &err);
  lgwL_log_flush(L, lgwL_module_peek(L));
  return 1;
}

/* dump_runtime_spec(rt [, {with_keys = true}]) -> table */
static int l_dump_runtime_spec(lua_State *L) {
  const lgw_runtime_t *rt = check_runtime(L, 1);
  int with_keys = 0;
  lgw_value_t *root;
  if (!lua_isnoneornil(L, 2)) {
    static const char *const keys[] = {"with_keys", NULL};
    luaL_checktype(L, 2, LUA_TTABLE);
    lgwL_check_keys(L, 2, 2, "", keys);
    lua_getfield(L, 2, "with_keys");
    with_keys = lua_toboolean(L, -1);
    lua_pop(L, 1);
  }
  root = lgw_runtime_dump(rt, with_keys);
  if (!root) return luaL_error(L, "out of memory");
  return lgwL_push_value_free(L, root);
}

/* ===== Gateway ========================================================== */

static lgwL_gw_t *check_gw(lua_State *L) {
  return luaL_checkudata(L, 1, LGWL_GATEWAY);
}

static void gw_unlink(lgwL_gw_t *g) {
  lgwL_module_t *m = g->m;
  lgw_list_remove(&g->link);
  m->ngateways--;
}

/* Frees the engine; every request in flight completes with "canceled"
 * (their tasks are queued to resume with nil, err). */
static void call_error(lgwL_call_t *c, int cb, int code, const char *text);

static void gw_close(lgwL_gw_t *g) {
  lgw_gateway_t *gw = g->gw;
  lgwL_call_t *c;
  if (!gw) return;
  g->cost_total = lgw_gateway_cost_total(gw);
  lgw_gateway_usage_total(gw, &g->usage_total);
  g->gw = NULL;
  gw_unlink(g);
  lgw_gateway_free(gw);
  luaL_unref(g->m->L, LUA_REGISTRYINDEX, g->event_ref);
  g->event_ref = LUA_NOREF;
  /* A record the engine did not complete is completed here. */
  LGWL_EACH(c, &g->m->calls, lgwL_call_t, link) {
    if (c->gw != gw || c->done) continue;
    c->gw = NULL;
    c->done = 1;
    c->status = LGW_ECANCELED;
    call_error(c, 0, LGW_ECANCELED, "gateway closed");
    if (c->task) lgwL_ready(c->task);
  }
  lgwL_admit_wake(g->m);
}

size_t lgwL_gateway_backlog(lgwL_module_t *m, size_t stop) {
  lgwL_gw_t *g;
  size_t n = 0;
  LGWL_EACH(g, &m->gateways, lgwL_gw_t, link) {
    size_t p = lgw_gateway_pending(g->gw);
    if (p > g->max_concurrent) n += p - g->max_concurrent;
    if (n >= stop) break;
  }
  return n;
}

static int gw_gc(lua_State *L) {
  gw_close(check_gw(L));
  return 0;
}

static int gw_close_method(lua_State *L) {
  gw_close(check_gw(L));
  return 0;
}

static int gw_tostring(lua_State *L) {
  lgwL_gw_t *g = check_gw(L);
  if (g->gw)
    lua_pushfstring(L, "%s: %p", LGWL_GATEWAY, (void *)g);
  else
    lua_pushfstring(L, "%s: %p (closed)", LGWL_GATEWAY, (void *)g);
  return 1;
}

/* gw.runtime, gw.validator_timeout, then the methods (upvalue 1). */
static int gw_index(lua_State *L) {
  lgwL_gw_t *g;
  lua_pushvalue(L, 2);
  if (lua_rawget(L, lua_upvalueindex(1)) != LUA_TNIL) return 1;  /* a method */
  lua_pop(L, 1);
  g = check_gw(L);
  if (lua_type(L, 2) == LUA_TSTRING &&
      strcmp(lua_tostring(L, 2), "runtime") == 0) {
    lua_getiuservalue(L, 1, 1);
    return 1;
  }
  if (lua_type(L, 2) == LUA_TSTRING &&
      strcmp(lua_tostring(L, 2), "validator_timeout") == 0) {
    lua_pushnumber(L, g->validator_timeout);
    return 1;
  }
  lua_pushvalue(L, 2);
  lua_rawget(L, lua_upvalueindex(1));
  return 1;
}

static int gw_pending(lua_State *L) {
  lgwL_gw_t *g = check_gw(L);
  lua_pushinteger(L, g->gw ? (lua_Integer)lgw_gateway_pending(g->gw) : 0);
  return 1;
}

static int push_event_arg(lua_State *L, const void *data) {
  lgwL_push_event(L, data);
  return 1;
}

/* Events of the engine (from the loop): the module's hook (the host's
 * trace and progress), then options.on_event, whose errors are logged and
 * otherwise ignored. */
static void on_event(const lgw_event_t *ev, void *ud) {
  lgwL_gw_t *g = ud;
  lgwL_module_t *m = g->m;
  char buf[512];
  const char *e;
  if (m->closing) return;
  if (m->event_hook) m->event_hook(ev, m->event_hook_ud);
  if (!g->gw) return;
  e = lgwL_cb_run(m, g->event_ref, g->validator_timeout, push_event_arg, ev,
                  buf, sizeof buf);
  if (e) lgw_log(LGW_LOG_WARN, "on_event raised an error (ignored): %s", e);
}

/* settings.max_concurrent of rt; 0 when unknown (out of memory: every
 * unfinished request then counts as queued, lgwL_gateway_backlog). */
static size_t runtime_max_concurrent(const lgw_runtime_t *rt) {
  lgw_value_t *settings = lgw_runtime_settings(rt);
  const lgw_value_t *v;
  size_t n = 0;
  if (!settings) return 0;
  v = lgw_value_get(settings, "max_concurrent");
  if (lgw_value_type(v) == LGW_VALUE_INT && lgw_value_get_int(v) > 0)
    n = (size_t)lgw_value_get_int(v);
  lgw_value_free(settings);
  return n;
}

/* Gateway(runtime_or_table [, options]) -> gateway | nil, err */
static int l_gateway(lua_State *L) {
  lgwL_module_t *m = lgwL_module(L);
  lgw_gateway_options_t opts;
  lgw_runtime_t *rt = NULL, *owned = NULL;
  lua_Integer max_concurrent = 0;
  lua_Number validator_timeout = LGWL_VALIDATOR_TIMEOUT;
  lgw_error_t err;
  lgwL_gw_t *g;
  int rc = 0;
  memset(&opts, 0, sizeof opts);
  memset(&err, 0, sizeof err);
  if (luaL_testudata(L, 1, LGWL_RUNTIME)) rt = check_runtime(L, 1);
  else luaL_argexpected(L, lua_type(L, 1) == LUA_TTABLE, 1,
                        "llmgateway.Runtime or table");
  if (!lua_isnoneornil(L, 2)) {
    static const char *const keys[] = {"state_file", "no_state",
      "max_concurrent", "validator_timeout", "on_event", NULL};
    luaL_checktype(L, 2, LUA_TTABLE);
    lgwL_check_keys(L, 2, 2, "", keys);
    if (lua_getfield(L, 2, "state_file") != LUA_TNIL) {
      if (lua_type(L, -1) != LUA_TSTRING)
        lgwL_argerror_path(L, 2, "state_file", "string", -1);
      opts.state_file = lua_tostring(L, -1);  /* kept by the options */
    }
    lua_getfield(L, 2, "no_state");
    opts.no_state = lua_toboolean(L, -1);
    if (lua_getfield(L, 2, "max_concurrent") != LUA_TNIL) {
      if (!lua_isinteger(L, -1) || lua_tointeger(L, -1) < 1)
        lgwL_argerror_value(L, 2, "max_concurrent", "positive integer", -1);
      max_concurrent = lua_tointeger(L, -1);
    }
    if (lua_getfield(L, 2, "validator_timeout") != LUA_TNIL) {
      if (lua_type(L, -1) != LUA_TNUMBER || !(lua_tonumber(L, -1) > 0))
        lgwL_argerror_value(L, 2, "validator_timeout", "positive number of "
                            "seconds", -1);
      validator_timeout = lua_tonumber(L, -1);
    }
    if (lua_getfield(L, 2, "on_event") != LUA_TNIL &&
        lua_type(L, -1) != LUA_TFUNCTION)
      lgwL_argerror_path(L, 2, "on_event", "function", -1);
    lua_pop(L, 5);
  }
  /* stack: ..., runtime userdata (for gw.runtime): the one given, or a
   * new one, made before its runtime */
  if (!rt || max_concurrent) {
    lgw_runtime_t **slot = new_runtime(L);
    if (!rt) rc = runtime_from_table(L, 1, slot, &err);
    if (!rc && max_concurrent) {
      lgw_runtime_t *copy = NULL;
      rc = lgw_runtime_with_max_concurrent(rt ? rt : *slot,
                                           (long)max_concurrent, &copy, &err);
      lgw_runtime_free(*slot);
      *slot = copy;
    }
    if (rc) return lgwL_fail(L, &err);
    owned = *slot;
    lgwL_log_flush(L, m);
  } else {
    lua_pushvalue(L, 1);
  }
  g = lua_newuserdatauv(L, sizeof *g, 1);
  memset(g, 0, sizeof *g);
  lgw_list_init(&g->link);
  g->m = m;
  g->validator_timeout = validator_timeout;
  g->event_ref = LUA_NOREF;
  luaL_setmetatable(L, LGWL_GATEWAY);
  lua_rotate(L, -2, 1);
  lua_setiuservalue(L, -2, 1);
  if (!lua_isnoneornil(L, 2) &&
      lua_getfield(L, 2, "on_event") == LUA_TFUNCTION)
    g->event_ref = luaL_ref(L, LUA_REGISTRYINDEX);
  else if (!lua_isnoneornil(L, 2))
    lua_pop(L, 1);
  opts.loop = lgwL_loop(L, m);
  opts.on_event = on_event;
  opts.event_ud = g;
  rc = lgw_gateway_new(owned ? owned : rt, &opts, &g->gw, &err);
  if (rc) {
    g->gw = NULL;
    return lgwL_fail(L, &err);
  }
  g->max_concurrent = runtime_max_concurrent(owned ? owned : rt);
  lgw_list_push_front(&m->gateways, &g->link);
  m->ngateways++;
  lgwL_log_flush(L, m);
  return 1;
}

/* ----- calls ------------------------------------------------------------ */

/* The error record *slot of a call, allocated on first use (a call that
 * succeeds has none); NULL when out of memory, and the outcome then
 * reads as the status's lgw_strerror text. */
static lgw_error_t *err_slot(lgw_error_t **slot) {
  if (!*slot) *slot = lgwL_calloc(1, sizeof **slot);
  return *slot;
}

/* A callback raised (on_delta, on_tool_delta): the call ends as
 * canceled, with code "callback". */
static int cb_failed(const lgwL_call_t *c) {
  return c->x && c->x->cb_failed;
}

/* Sets the call's error record (cb: the callback's) to code and text. */
static void call_error(lgwL_call_t *c, int cb, int code, const char *text) {
  lgw_error_t *e = err_slot(cb ? &c->x->cb_err : &c->err);
  if (e) lgw_error_set(e, code, "%s", text);
}

/* The outcome of call c (its status or ENOMEM): copied from the engine's
 * error when there is one. */
static void call_outcome(lgwL_call_t *c, int status, const lgw_error_t *err) {
  lgw_error_t *e;
  if (err) {
    if ((e = err_slot(&c->err)) != NULL) *e = *err;
  } else if (status) {
    call_error(c, 0, status, lgw_strerror(status));
  }
}

void lgwL_call_free(lgwL_call_t *c) {
  lgwL_callx_t *x = c->x;
  lgw_list_remove(&c->link);
  if (x) {
    luaL_unref(x->m->L, LUA_REGISTRYINDEX, x->delta_ref);
    luaL_unref(x->m->L, LUA_REGISTRYINDEX, x->tool_delta_ref);
    lgw_free(x->cb_err);
    lgw_free(x);
  }
  lgwL_result_free(c->res);
  lgw_free(c->err);
  lgw_free(c);
}

void lgwL_call_cancel(lgwL_call_t *c) {
  if (c->gw && !c->done) lgw_gateway_cancel(c->gw, c->id);
}

void lgwL_cancel_all(lgwL_module_t *m) {
  lgwL_gw_t *g;
  LGWL_EACH(g, &m->gateways, lgwL_gw_t, link)
    if (g->gw) lgw_gateway_cancel_all(g->gw);
}

/* A completion's outcome into c; 0 when c had one already (it is kept). */
static int call_settle(lgwL_call_t *c, int status, const lgw_error_t *err) {
  if (c->done) return 0;
  c->done = 1;
  c->gw = NULL;
  c->status = status;
  call_outcome(c, status, err);
  return 1;
}

/* After the result (had_res: one was given) was copied into c->res: a
 * success whose copy failed is out of memory; the task may go on. */
static void call_ready(lgwL_call_t *c, int had_res) {
  if (had_res && !c->res && !c->status) {
    c->status = LGW_ENOMEM;
    call_error(c, 0, LGW_ENOMEM, "out of memory");
  }
  if (c->task) lgwL_ready(c->task);
}

/* Completion from the engine (from the loop, never inside libcurl): copy
 * the outcome out of the borrowed structures and queue the task. */
static void on_done(lgw_gateway_t *gw, uint64_t id, int status,
                    const lgw_result_t *res, const lgw_error_t *err,
                    void *ud) {
  lgwL_call_t *c = ud;
  (void)gw;
  (void)id;
  if (!call_settle(c, status, err)) return;
  /* The text forms of a success read no more than the text and usage;
   * a failure (or a canceled stream) reports the attempts. */
  if (res)
    c->res = lgwL_result_copy(res, !status && !cb_failed(c) &&
                                   c->form != LGWL_PUSH_FULL);
  call_ready(c, res != NULL);
}

struct outcome {
  lgwL_module_t *m;
  lgwL_call_t *c;
};

/* Under lua_pcall: pushes the outcome of the call of the struct outcome
 * at 1 (the result, or nil and the error). */
static int push_outcome_p(lua_State *L) {
  const struct outcome *o = lua_touserdata(L, 1);
  lgwL_call_t *c = o->c;
  int failed = cb_failed(c);
  luaL_checkstack(L, 4, NULL);
  if (c->status == 0 && c->res && !failed) {
    return lgwL_push_result(L, o->m, c->res, c->form);
  } else {
    const lgw_error_t *e;
    lgw_error_t spare;
    if (c->status == 0 && !failed)
      call_error(c, 0, LGW_ENOMEM, "out of memory");
    e = failed ? c->x->cb_err : c->err;
    if (!e) {  /* no memory for the record */
      int code = failed ? LGW_ECANCELED
                        : c->status ? c->status : LGW_ENOMEM;
      memset(&spare, 0, sizeof spare);
      lgw_error_set(&spare, code, "%s", lgw_strerror(code));
      e = &spare;
    }
    lua_pushnil(L);
    lgwL_push_error(L, e, c->res);
    if (failed) {
      /* The request may have completed before the cancel reached it. */
      lua_pushliteral(L, "callback");
      lua_setfield(L, -2, "code");
      lgwL_push_streamed(L, c->res, c->x->delivered);
      lua_setfield(L, -2, "partial_text");
    }
    return 2;
  }
}

/* Pushes the call's outcome and frees the record (of module m), also
 * when Lua runs out of memory there (the error is raised after). */
static int call_finish(lua_State *L, lgwL_module_t *m, lgwL_call_t *c) {
  struct outcome o;
  int top = lua_gettop(L), st = LUA_ERRMEM;
  lgwL_log_flush(L, m);
  o.m = m;
  o.c = c;
  if (lua_checkstack(L, 2))
    st = lgwL_pcall_nogc(L, push_outcome_p, &o, LUA_MULTRET, 0);
  lgwL_call_free(c);
  lgwL_admit_wake(m);
  if (st == LUA_ERRMEM && lua_gettop(L) == top)
    return luaL_error(L, "not enough memory");
  if (st != LUA_OK) return lua_error(L);
  return lua_gettop(L) - top;
}

static int call_k(lua_State *L, int status, lua_KContext ctx) {
  lgwL_call_t *c = (lgwL_call_t *)ctx;
  (void)status;
  return call_finish(L, c->task ? lgwL_task_module(c->task) : lgwL_module(L),
                     c);
}

struct text_arg {
  const char *text;
  size_t len;
};

static int push_text_arg(lua_State *L, const void *data) {
  const struct text_arg *t = data;
  lua_pushlstring(L, t->text, t->len);
  return 1;
}

/* A streamed delta (from the loop): on_delta(text) in the callback
 * thread. If it raises, the request is canceled and ends with code
 * "callback"; later deltas are dropped. */
static void on_delta(lgw_gateway_t *gw, uint64_t id, const char *text,
                     size_t len, void *ud) {
  lgwL_call_t *c = ud;
  lgwL_callx_t *x = c->x;
  struct text_arg a;
  char buf[512];
  const char *e;
  if (x->cb_failed || c->done) return;
  a.text = text;
  a.len = len;
  x->delivered += len;
  e = lgwL_cb_run(x->m, x->delta_ref, x->limit, push_text_arg, &a, buf,
                  sizeof buf);
  if (!e) return;
  x->cb_failed = 1;
  if (err_slot(&x->cb_err))
    lgw_error_set(x->cb_err, LGW_ECANCELED, "on_delta raised an error: %s",
                  e);
  lgw_gateway_cancel(gw, id);
}

struct tool_arg {
  size_t index;
  const char *name, *piece;
  size_t len;
};

static int push_tool_args(lua_State *L, const void *data) {
  const struct tool_arg *t = data;
  lua_pushinteger(L, (lua_Integer)t->index + 1);
  lua_pushstring(L, t->name);
  lua_pushlstring(L, t->piece, t->len);
  return 3;
}

/* A streamed tool-call piece: on_tool_delta(index, name, piece), index
 * 1-based, as on_delta (a raise cancels the request). */
static void on_tool_delta(lgw_gateway_t *gw, uint64_t id, size_t index,
                          const char *name, const char *piece, size_t len,
                          void *ud) {
  lgwL_call_t *c = ud;
  lgwL_callx_t *x = c->x;
  struct tool_arg a;
  char buf[512];
  const char *e;
  if (x->cb_failed || c->done) return;
  a.index = index;
  a.name = name ? name : "";
  a.piece = piece;
  a.len = len;
  e = lgwL_cb_run(x->m, x->tool_delta_ref, x->limit, push_tool_args, &a,
                  buf, sizeof buf);
  if (!e) return;
  x->cb_failed = 1;
  if (err_slot(&x->cb_err))
    lgw_error_set(x->cb_err, LGW_ECANCELED,
                  "on_tool_delta raised an error: %s", e);
  lgw_gateway_cancel(gw, id);
}

/* on_delta when only on_tool_delta was given: the request is streamed,
 * the text only counted. */
static void count_delta(lgw_gateway_t *gw, uint64_t id, const char *text,
                        size_t len, void *ud) {
  lgwL_call_t *c = ud;
  (void)gw;
  (void)id;
  (void)text;
  c->x->delivered += len;
}

static int wait_call(lua_State *L, lgwL_module_t *m, lgwL_task_t *t,
                     lgwL_call_t *c, lgwL_gw_t *g);

/* Submits req and waits for it: yields a managed task, or runs the loop.
 * delta: stack indexes of the on_delta and on_tool_delta functions, or
 * 0. */
static int submit(lua_State *L, lgwL_gw_t *g, lgw_request_t *req,
                  int form, const int delta[2]) {
  lgwL_module_t *m = g->m;
  lgwL_task_t *t = lgwL_current(m, L);
  lgwL_call_t *c;
  lgw_error_t err;
  int ref = LUA_NOREF, tref = LUA_NOREF;
  if (!g->gw)
    return lgwL_failf(L, LGW_ECANCELED, "the gateway is closed");
  if (t && lgwL_task_canceled(t))
    return lgwL_failf(L, LGW_ECANCELED, "the task was canceled");
  if (!t) lgwL_check_block(L, m);
  if (delta[0]) {
    lua_pushvalue(L, delta[0]);
    ref = luaL_ref(L, LUA_REGISTRYINDEX);
  }
  if (delta[1]) {
    lua_pushvalue(L, delta[1]);
    tref = luaL_ref(L, LUA_REGISTRYINDEX);
  }
  c = lgwL_calloc(1, sizeof *c);
  if (c && (delta[0] || delta[1]) &&
      (c->x = lgwL_calloc(1, sizeof *c->x)) == NULL) {
    lgw_free(c);
    c = NULL;
  }
  if (!c) {
    luaL_unref(L, LUA_REGISTRYINDEX, ref);
    luaL_unref(L, LUA_REGISTRYINDEX, tref);
    return luaL_error(L, "out of memory");
  }
  memset(&err, 0, sizeof err);
  c->form = (unsigned char)form;
  if (c->x) {
    c->x->m = m;
    c->x->delta_ref = ref;
    c->x->tool_delta_ref = tref;
    c->x->limit = g->validator_timeout;
  }
  if (delta[0] || delta[1]) {
    req->on_delta = delta[0] ? on_delta : count_delta;
    req->delta_ud = c;
  }
  if (delta[1]) {
    req->on_tool_delta = on_tool_delta;
    req->tool_delta_ud = c;
  }
  lgw_list_push_front(&m->calls, &c->link);
  if (lgw_gateway_submit(g->gw, req, on_done, c, &c->id, &err)) {
    lgwL_call_free(c);
    return lgwL_fail(L, &err);
  }
  return wait_call(L, m, t, c, g);
}

/* A synchronous wait's run of the loop that cannot block: when the loop
 * has work due now (deferred completions, an idle handle, a due timer)
 * and nothing asks for lgwL_run_once's extras (a SIGINT to catch while it
 * blocks, time limits to hold), one non-blocking run; 0 when not. A call
 * that completed in the submit ends after its deferred completion without
 * a blocking run (and without taking SIGINT over and back, three system
 * calls each time). */
#define RUN_DUE_MAX 4  /* due runs in a row before a full step */

static int run_due(lua_State *L, lgwL_module_t *m) {
  lua_State *from = m->from;
  if (m->closing || m->sigint || m->depth > 0 ||
      !lgw_list_empty(&m->budgets) || !lgw_loop_alive(m->loop) ||
      lgw_loop_timeout(m->loop) != 0)
    return 0;
  m->depth++;
  m->from = L;
  lgw_loop_run(m->loop, LGW_RUN_NOWAIT);
  m->depth--;
  m->from = from;
  lgwL_log_flush(L, m);
  return 1;
}

/* Waits for a submitted call: yields the task t, or runs the loop. */
static int wait_call(lua_State *L, lgwL_module_t *m, lgwL_task_t *t,
                     lgwL_call_t *c, lgwL_gw_t *g) {
  int due = 0;
  if (c->done) return call_finish(L, m, c);  /* completed at once */
  c->gw = g->gw;
  if (t) {
    c->task = t;
    lgwL_block_call(t, c);
    return lgwL_yieldk(L, (lua_KContext)c, call_k);
  }
  while (!c->done) {
    /* a few due runs in a row at most: then a step that catches SIGINT
     * (the loop may stay due, e.g. a task sleeping 0 s again and again) */
    if (due < RUN_DUE_MAX && run_due(L, m)) {
      due++;
      continue;
    }
    due = 0;
    if (lgwL_run_once(L, m) < 0) {
      /* Interrupted: the request ends before the error is raised. */
      lgwL_call_cancel(c);
      while (!c->done) lgw_loop_run(m->loop, LGW_RUN_ONCE);
      lgwL_call_free(c);
      return lgwL_stop_error(L, m);
    }
  }
  return call_finish(L, m, c);
}

/* Completion of an embeddings request: as on_done. */
static void on_embed_done(lgw_gateway_t *gw, uint64_t id, int status,
                          const lgw_embed_result_t *res,
                          const lgw_error_t *err, void *ud) {
  lgwL_call_t *c = ud;
  (void)gw;
  (void)id;
  if (!call_settle(c, status, err)) return;
  if (res) c->res = lgwL_embed_copy(res);
  call_ready(c, res != NULL);
}

static const char *const embed_keys[] = {"task", "model", "dimensions",
                                         "deadline", NULL};

/* gw:embed(inputs [, {task=, model=, dimensions=, deadline=}]) ->
 * {vectors, model, usage, cost, provider, attempts, task} | nil, err;
 * inputs is a string or a list of strings. */
static int gw_embed(lua_State *L) {
  lgwL_gw_t *g = check_gw(L);
  lgwL_module_t *m = g->m;
  lgwL_task_t *t = lgwL_current(m, L);
  lgw_embed_request_t req;
  lgwL_call_t *c;
  lgw_error_t err;
  const char **inputs;
  lua_Integer n = 1, i;
  memset(&req, 0, sizeof req);
  req.task = "";
  lua_settop(L, 3);  /* the inputs array goes above the arguments */
  if (lua_type(L, 2) == LUA_TTABLE) {
    n = (lua_Integer)lua_rawlen(L, 2);
    if (n < 1) luaL_argerror(L, 2, "at least one input expected");
  } else if (lua_type(L, 2) != LUA_TSTRING) {
    lgwL_argerror_path(L, 2, NULL, "string or table", 2);
  }
  inputs = lua_newuserdatauv(L, (size_t)n * sizeof *inputs, 0);
  if (lua_type(L, 2) == LUA_TSTRING) {
    inputs[0] = lua_tostring(L, 2);
  } else {
    for (i = 1; i <= n; i++) {
      if (lua_rawgeti(L, 2, i) != LUA_TSTRING)
        lgwL_argerror_path(L, 2, lua_pushfstring(L, "inputs[%d]", (int)i),
                           "string", -2);
      inputs[i - 1] = lua_tostring(L, -1);  /* kept alive by the list */
      lua_pop(L, 1);
    }
  }
  req.inputs = inputs;
  req.ninputs = (size_t)n;
  if (!lua_isnoneornil(L, 3)) {
    int ty;
    luaL_checktype(L, 3, LUA_TTABLE);
    lgwL_check_keys(L, 3, 3, "", embed_keys);
    ty = lua_getfield(L, 3, "task");
    if (ty == LUA_TSTRING) req.task = lua_tostring(L, -1);
    else if (ty != LUA_TNIL) lgwL_argerror_path(L, 3, "task", "string", -1);
    ty = lua_getfield(L, 3, "model");
    if (ty == LUA_TSTRING) req.model = lua_tostring(L, -1);
    else if (ty != LUA_TNIL) lgwL_argerror_path(L, 3, "model", "string", -1);
    ty = lua_getfield(L, 3, "dimensions");
    if (ty == LUA_TNUMBER && lua_isinteger(L, -1) && lua_tointeger(L, -1) > 0
        && lua_tointeger(L, -1) <= 1000000)
      req.dimensions = (long)lua_tointeger(L, -1);
    else if (ty != LUA_TNIL)
      lgwL_argerror_value(L, 3, "dimensions", "positive integer", -1);
    ty = lua_getfield(L, 3, "deadline");
    if (ty == LUA_TNUMBER && lua_tonumber(L, -1) >= 0)
      req.deadline = lua_tonumber(L, -1);
    else if (ty != LUA_TNIL)
      lgwL_argerror_value(L, 3, "deadline", "non-negative number", -1);
    lua_pop(L, 4);  /* the strings stay alive in the options table */
  }
  if (!g->gw)
    return lgwL_failf(L, LGW_ECANCELED, "the gateway is closed");
  if (t && lgwL_task_canceled(t))
    return lgwL_failf(L, LGW_ECANCELED, "the task was canceled");
  if (!t) lgwL_check_block(L, m);
  c = lgwL_calloc(1, sizeof *c);
  if (!c) return luaL_error(L, "out of memory");
  memset(&err, 0, sizeof err);
  c->form = LGWL_PUSH_EMBED;
  lgw_list_push_front(&m->calls, &c->link);
  if (lgw_gateway_embed(g->gw, &req, on_embed_done, c, &c->id, &err)) {
    lgwL_call_free(c);
    return lgwL_fail(L, &err);
  }
  return wait_call(L, m, t, c, g);
}

/* luaL_checkudata(L, i, LGWL_GATEWAY) for the functions registered with
 * the gateway metatable as upvalue 1 (lgwL_gateway_register): the same
 * test and message, without the registry look-up by name. */
static lgwL_gw_t *check_gw_up(lua_State *L, int i) {
  void *p = lua_touserdata(L, i);
  if (p && lua_getmetatable(L, i)) {
    int same = lua_rawequal(L, -1, lua_upvalueindex(1));
    lua_pop(L, 1);
    if (same) return p;
  }
  return luaL_checkudata(L, i, LGWL_GATEWAY);
}

/* gw:call(request) -> result | nil, err */
static int gw_call(lua_State *L) {
  lgwL_gw_t *g = check_gw(L);
  lgw_request_t req;
  lgw_message_t msgs[LGWL_SCRATCH_MESSAGES];
  int delta[2];
  lgwL_check_request(L, 2, &req, delta, msgs);
  return submit(L, g, &req, LGWL_PUSH_FULL, delta);
}

/* _call_totals(request, gw) -> text, usage, cost, cost_total, then the
 * usage_total counts input, output, cached, reasoning (0 when unknown) |
 * nil, err: gw:call for the validation-retry loop. The
 * request comes first so that, called through a local named "call", its
 * argument errors read as gw:call's. */
static int l_call_totals(lua_State *L) {
  lgwL_gw_t *g = check_gw_up(L, 2);
  lgw_request_t req;
  lgw_message_t msgs[LGWL_SCRATCH_MESSAGES];
  int delta[2];
  lgwL_check_request(L, 1, &req, delta, msgs);
  return submit(L, g, &req, LGWL_PUSH_TOTALS, delta);
}

/* _call_task(messages, gw, task) -> as _call_totals({task = task,
 * messages = messages}, gw), without the request table: a round of the
 * validation loop without overrides (task checked by the caller). The
 * messages come first so that, called through a local named "call",
 * their errors read as those of _call_totals. */
static int l_call_task(lua_State *L) {
  static const int no_delta[2] = {0, 0};
  lgwL_gw_t *g = check_gw_up(L, 2);
  lgw_request_t req;
  lgw_message_t msgs[LGWL_SCRATCH_MESSAGES];
  const char *task = luaL_checkstring(L, 3);
  lgwL_check_messages(L, 1, 1, &req, msgs);
  req.task = task;
  return submit(L, g, &req, LGWL_PUSH_TOTALS, no_delta);
}

/* A table without a metatable at i (its fields read raw as Lua would). */
static int plain_table(lua_State *L, int i) {
  if (lua_type(L, i) != LUA_TTABLE) return 0;
  if (lua_getmetatable(L, i)) {
    lua_pop(L, 1);
    return 0;
  }
  return 1;
}

/* _args_ok(gw, task, messages [, validator [, overrides]]) -> true when
 * the arguments of a *_with_retry or JSON method are plainly well formed:
 * a gateway, a string task, a list of plain {role =, content =} tables
 * (no metatables), the validator nil or a function, no overrides. False
 * says nothing: the Lua checks then run (and word the errors). */
static int l_args_ok(lua_State *L) {
  lua_Integer n, i;
  int ok = 1, ty;
  lua_settop(L, 5);
  if (!lua_touserdata(L, 1) || !lua_getmetatable(L, 1)) {
    lua_pushboolean(L, 0);
    return 1;
  }
  ok = lua_rawequal(L, -1, lua_upvalueindex(1));  /* a gateway */
  lua_pop(L, 1);
  if (!ok || lua_type(L, 2) != LUA_TSTRING ||
      !plain_table(L, 3) ||
      (lua_type(L, 4) != LUA_TNIL && lua_type(L, 4) != LUA_TFUNCTION) ||
      lua_type(L, 5) != LUA_TNIL) {
    lua_pushboolean(L, 0);
    return 1;
  }
  n = (lua_Integer)lua_rawlen(L, 3);
  for (i = 1; ok && i <= n; i++) {
    lua_rawgeti(L, 3, i);
    if (!plain_table(L, 6)) {
      ok = 0;
    } else {
      ty = lua_getfield(L, 6, "content");
      if (ty == LUA_TNIL) {
        ok = lua_getfield(L, 6, "tool_calls") != LUA_TNIL;
        lua_pop(L, 1);
      } else if (ty != LUA_TSTRING && ty != LUA_TTABLE) {
        ok = 0;
      }
      ty = lua_getfield(L, 6, "role");
      if (ty != LUA_TNIL && ty != LUA_TSTRING) ok = 0;
    }
    lua_settop(L, 5);
  }
  lua_pushboolean(L, ok);
  return 1;
}

/* gw:run_task(task, messages [, overrides]) -> text | nil, err */
static int gw_run_task(lua_State *L) {
  lgwL_gw_t *g = check_gw(L);
  lgw_request_t req;
  lgw_message_t msgs[LGWL_SCRATCH_MESSAGES];
  int delta[2];
  lgwL_check_task_args(L, 2, 3, 4, &req, delta, msgs);
  return submit(L, g, &req, LGWL_PUSH_TEXT, delta);
}

/* gw:stream(task, messages, on_delta [, overrides]) -> result | nil, err:
 * gw:call with on_delta receiving the text as it arrives. */
static int gw_stream(lua_State *L) {
  lgwL_gw_t *g = check_gw(L);
  lgw_request_t req;
  lgw_message_t msgs[LGWL_SCRATCH_MESSAGES];
  int delta[2];
  luaL_checktype(L, 4, LUA_TFUNCTION);
  lgwL_check_task_args(L, 2, 3, 5, &req, delta, msgs);
  delta[0] = 4;
  return submit(L, g, &req, LGWL_PUSH_FULL, delta);
}

/* gw:totals() -> {cost=, input_tokens=, output_tokens=, cached_tokens=,
 * reasoning_tokens=}: every attempt of every request of this gateway
 * (cost nil when nothing was priced, as a result's cost_total). */
static int gw_totals(lua_State *L) {
  lgwL_gw_t *g = check_gw(L);
  lgw_usage_t u = g->usage_total;
  double cost = g->cost_total;
  if (g->gw) {
    cost = lgw_gateway_cost_total(g->gw);
    lgw_gateway_usage_total(g->gw, &u);
  }
  lgwL_push_usage(L, &u);
  if (cost >= 0) {
    lua_pushnumber(L, cost);
    lua_setfield(L, -2, "cost");
  }
  return 1;
}

/* gw:breaker_state(i) -> "closed" | "open" | "half_open" for configured
 * provider i (1-based). */
static int gw_breaker_state(lua_State *L) {
  static const char *const names[] = {"closed", "open", "half_open"};
  lgwL_gw_t *g = check_gw(L);
  lua_Integer i = luaL_checkinteger(L, 2);
  int st;
  if (!g->gw) return luaL_error(L, "the gateway is closed");
  st = i < 1 ? LGW_EINVAL : lgw_gateway_breaker_state(g->gw, (size_t)i - 1);
  if (st < 0 || st > 2) {
    lua_getiuservalue(L, 1, 1);
    char got[32];
    snprintf(got, sizeof got, "%lld", (long long)i);
    return luaL_argerror(L, 2, lua_pushfstring(L, "provider index from 1 to "
                         "%d expected, got %s", (int)lgw_runtime_provider_count(
                         check_runtime(L, -1)), got));
  }
  lua_pushstring(L, names[st]);
  return 1;
}

static const luaL_Reg gw_methods[] = {
  {"call", gw_call},
  {"run_task", gw_run_task},
  {"stream", gw_stream},
  {"embed", gw_embed},
  {"totals", gw_totals},
  {"breaker_state", gw_breaker_state},
  {"close", gw_close_method},
  {"pending", gw_pending},
  {NULL, NULL}
};

void lgwL_gateway_open(lua_State *L) {
  static const char *const waiting[] = {"call", "run_task", "stream", NULL};
  if (luaL_newmetatable(L, LGWL_RUNTIME)) {
    lua_pushcfunction(L, runtime_gc);
    lua_setfield(L, -2, "__gc");
    lua_pushcfunction(L, runtime_tostring);
    lua_setfield(L, -2, "__tostring");
    lua_pushcfunction(L, runtime_index);
    lua_setfield(L, -2, "__index");
  }
  lua_pop(L, 1);
  if (luaL_newmetatable(L, LGWL_GATEWAY)) {
    lua_pushcfunction(L, gw_gc);
    lua_setfield(L, -2, "__gc");
    lua_pushcfunction(L, gw_gc);
    lua_setfield(L, -2, "__close");
    lua_pushcfunction(L, gw_tostring);
    lua_setfield(L, -2, "__tostring");
    luaL_newlib(L, gw_methods);
    lgwL_wrap_waiting(L, -1, waiting);
    lua_pushcclosure(L, gw_index, 1);
    lua_setfield(L, -2, "__index");
  }
  lua_pop(L, 1);
}

void lgwL_gateway_register(lua_State *L) {
  static const luaL_Reg funcs[] = {
    {"Gateway", l_gateway},
    {"load_runtime_spec", l_load_runtime_spec},
    {"runtime_spec_from_dict", l_runtime_spec_from_dict},
    {"dump_runtime_spec", l_dump_runtime_spec},
    {NULL, NULL}
  };
  /* with the gateway metatable as upvalue 1 */
  static const luaL_Reg checked[] = {
    {"_call_totals", l_call_totals},
    {"_call_task", l_call_task},
    {"_args_ok", l_args_ok},
    {NULL, NULL}
  };
  static const char *const waiting[] = {"_call_totals:call",
                                        "_call_task:call", NULL};
  luaL_setfuncs(L, funcs, 0);
  luaL_getmetatable(L, LGWL_GATEWAY);
  luaL_setfuncs(L, checked, 1);
  lgwL_wrap_waiting(L, -1, waiting);
  /* The methods table, so the Lua front can add the retry and batch
   * methods: _gateway_methods. */
  luaL_getmetatable(L, LGWL_GATEWAY);
  lua_getfield(L, -1, "__index");
  lua_getupvalue(L, -1, 1);
  lua_setfield(L, -4, "_gateway_methods");
  lua_pop(L, 2);
}
