/*
 * lua_module.c -- luaopen_llmgateway_core: the module table, the
 * per-state module record and its loop (own or the embedder's), the
 * llmgateway.Error metatable, the configuration-file functions
 * (load_user_config, write_user_config, paths, provider state, keys) and
 * parse_json. Everything here converts and forwards to the C core.
 */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include "lua_priv.h"

/* ===== Module record ==================================================== */

lgwL_module_t *lgwL_module_peek(lua_State *L) {
  lgwL_module_t *m;
  lua_getfield(L, LUA_REGISTRYINDEX, LGWL_MODULE);
  m = lua_touserdata(L, -1);
  lua_pop(L, 1);
  return m;
}

lgwL_module_t *lgwL_module(lua_State *L) {
  lgwL_module_t *m = lgwL_module_peek(L);
  if (!m) luaL_error(L, "llmgateway.core is not open in this state");
  return m;
}

/* ===== Log capture (set_log) ============================================ */

#define LOG_FN "llmgateway.logfn"  /* registry key of set_log's function */
#define LOG_MAX_LINES 1000         /* lines kept between two flushes */

struct lgwL_logline {
  lgw_link_t link;          /* in m->loglines */
  lgw_log_level_t level;
  char msg[];
};

static const char *const log_levels[] = {"error", "warning", "info",
                                         "debug", NULL};

/* The module whose function receives the process-wide log, or NULL. */
static lgwL_module_t *log_owner;

/* The engine's log hook: may run deep inside the engine (a libcurl
 * callback, a config loader), so it only queues the line; lgwL_log_flush
 * calls the Lua function later from a safe point. */
static void log_hook(lgw_log_level_t level, const char *msg, void *ud) {
  lgwL_module_t *m = ud;
  size_t len = strlen(msg);
  lgwL_logline_t *l;
  if (m->nlog >= LOG_MAX_LINES) {
    m->log_dropped++;
    return;
  }
  l = lgw_malloc(sizeof *l + len + 1);
  if (!l) {
    m->log_dropped++;
    return;
  }
  l->level = level;
  memcpy(l->msg, msg, len + 1);
  lgw_list_push_back(&m->loglines, &l->link);
  m->nlog++;
}

static void log_clear(lgwL_module_t *m) {
  lgw_link_t *l;
  while ((l = lgw_list_pop_front(&m->loglines)) != NULL)
    lgw_free(LGW_CONTAINER_OF(l, lgwL_logline_t, link));
  m->nlog = 0;
  m->log_dropped = 0;
}

/* Under lua_pcall: the lines of the module record at 1. */
static int log_flush_p(lua_State *L) {
  lgwL_module_t *m = lua_touserdata(L, 1);
  while (!lgw_list_empty(&m->loglines) || m->log_dropped) {
    lgw_link_t *ll = m->loglines.next;
    lgwL_logline_t *l = ll != &m->loglines
                            ? LGW_CONTAINER_OF(ll, lgwL_logline_t, link)
                            : NULL;
    lua_getfield(L, LUA_REGISTRYINDEX, LOG_FN);
    if (l) {
      /* the line stays listed (freed at teardown) until it is pushed */
      lua_pushstring(L, log_levels[l->level]);
      lua_pushstring(L, l->msg);
      lgw_list_remove(&l->link);
      m->nlog--;
      lgw_free(l);
    } else {
      lua_pushstring(L, log_levels[LGW_LOG_WARN]);
      lua_pushfstring(L, "%d log line(s) dropped (more than %d between "
                      "two deliveries)", (int)m->log_dropped, LOG_MAX_LINES);
      m->log_dropped = 0;
    }
    /* (set only here: a memory error above must not leave it set) */
    m->log_flushing = 1;
    if (lua_type(L, -3) != LUA_TFUNCTION) lua_pop(L, 3);
    else if (lua_pcall(L, 2, 0, 0) != LUA_OK) lua_pop(L, 1);
    m->log_flushing = 0;
  }
  return 0;
}

void lgwL_log_flush(lua_State *L, lgwL_module_t *m) {
  if (!m || m->log_flushing ||
      (lgw_list_empty(&m->loglines) && !m->log_dropped))
    return;
  /* Never raises (its callers hold C memory, loop frames, pointers into
   * their stacks): out of memory, the lines wait for the next flush. */
  if (!lua_checkstack(L, 6)) return;
  if (lgwL_pcall_nogc(L, log_flush_p, m, 0, 0) != LUA_OK) lua_pop(L, 1);
}

/* set_log(fn [, level]): fn(level, message) receives the engine's log
 * lines up to level ("error", "warning" (default), "info", "debug"),
 * instead of stderr. They are delivered when the module next returns to
 * Lua or runs the loop, not from inside the engine. set_log(nil)
 * restores the default (warnings and errors on stderr). The log is
 * process-wide: the last state to call set_log receives it. */
static int l_set_log(lua_State *L) {
  lgwL_module_t *m = lgwL_module(L);
  int level;
  if (!lua_isnoneornil(L, 1)) luaL_checktype(L, 1, LUA_TFUNCTION);
  level = luaL_checkoption(L, 2, "warning", log_levels);
  lgwL_log_flush(L, m);
  if (lua_isnoneornil(L, 1)) {
    if (log_owner == m) {
      lgw_set_log(NULL, NULL, LGW_LOG_WARN);
      log_owner = NULL;
    }
    lua_pushnil(L);
  } else {
    if (log_owner && log_owner != m) log_clear(log_owner);
    log_owner = m;
    lgw_set_log(log_hook, m, (lgw_log_level_t)level);
    lua_pushvalue(L, 1);
  }
  lua_setfield(L, LUA_REGISTRYINDEX, LOG_FN);
  return 0;
}

/* ===== Callbacks from the engine ======================================== */

struct cb_args {
  lgwL_push_fn push;
  const void *data;
};

/* Under pcall: the arguments, at 1, the function, at 2. */
static int cb_trampoline(lua_State *L) {
  const struct cb_args *a = lua_touserdata(L, 1);
  int nargs = a->push(L, a->data);
  lua_call(L, nargs, 0);
  return 0;
}

/* Under pcall: the text of the number at 1. */
static int number_text(lua_State *L) {
  lua_tostring(L, 1);
  return 1;
}

const char *lgwL_cb_run(lgwL_module_t *m, int ref, double limit,
                        lgwL_push_fn push, const void *data, char *buf,
                        size_t n) {
  lua_State *cb = m->cb, *running = m->running;
  struct cb_args a;
  const char *msg;
  int st;
  if (m->closing || !cb || ref == LUA_NOREF || !lua_checkstack(cb, 5))
    return NULL;
  a.push = push;
  a.data = data;
  /* stack: fn (names the limit's source:line), trampoline, &a, fn */
  lua_rawgeti(cb, LUA_REGISTRYINDEX, ref);
  lua_pushcfunction(cb, cb_trampoline);
  lua_pushlightuserdata(cb, &a);
  lua_pushvalue(cb, -3);
  /* The loop counts as running: a wait in the callback raises instead of
   * re-entering it (also when an embedder's loop called us). */
  m->depth++;
  m->running = cb;
  st = lgwL_pcall_limited(cb, m, limit > 0 ? limit : LGWL_VALIDATOR_TIMEOUT,
                          -4, 2, 0);
  m->running = running;
  m->depth--;
  if (st == LUA_OK) {
    lua_pop(cb, 1);
    return NULL;
  }
  /* Nothing here may raise (the engine's frames are below): a number
   * becomes its text under pcall. */
  if (lua_type(cb, -1) == LUA_TNUMBER && lua_checkstack(cb, 2)) {
    lua_pushcfunction(cb, number_text);
    lua_insert(cb, -2);
    lua_pcall(cb, 1, 1, 0);
  }
  msg = lua_type(cb, -1) == LUA_TSTRING ? lua_tostring(cb, -1) : NULL;
  if (msg) snprintf(buf, n, "%s", msg);
  else snprintf(buf, n, "(error object is a %s value)",
                luaL_typename(cb, -1));
  lua_pop(cb, 2);
  return buf;
}

/* __gc of the module record: runs last at lua_close (it was created
 * first). Every gateway is closed by then; nothing is resumed any more. */
static int module_gc(lua_State *L) {
  lgwL_module_t *m = lua_touserdata(L, 1);
  /* What the engine logged last (tasks collected at lua_close) still
   * reaches set_log's function; from here on the log goes to stderr. */
  lgwL_log_flush(L, m);
  if (log_owner == m) {
    lgw_set_log(NULL, NULL, LGW_LOG_WARN);
    log_owner = NULL;
  }
  m->closed = 1;
  if (!m->loop) {
    log_clear(m);
    return 0;
  }
  lgwL_task_teardown(m);
  lgwL_queue_teardown(m);
  while (!lgw_list_empty(&m->gateways)) {
    lgwL_gw_t *g = LGW_CONTAINER_OF(lgw_list_pop_front(&m->gateways),
                                    lgwL_gw_t, link);
    lgw_gateway_free(g->gw);
    g->gw = NULL;
  }
  while (!lgw_list_empty(&m->calls))
    lgwL_call_free(LGW_CONTAINER_OF(m->calls.next, lgwL_call_t, link));
  lgw_idle_free(m->idle);
  m->idle = NULL;
  lgwL_host_teardown(m);
  lgw_async_free(m->wake);
  m->wake = NULL;
  /* lua_close from inside the loop (os.exit(n, true) in a task) must not
   * run the loop again: the process is ending anyway. */
  if (m->own_loop && m->depth == 0) {
    /* luv's loop_gc: close what is left and run until the loop closes. */
    lgw_loop_free(m->loop);
  }
  m->loop = NULL;
  log_clear(m);
  return 0;
}

/* Ready tasks are resumed from the loop's idle turn. */
static void on_idle(lgw_idle_t *i, void *ud) {
  (void)i;
  lgwL_dispatch(ud);
}

/* A wake-up (lgw_lua_wake, an interrupt): the host's tick function. */
static void on_wake(lgw_async_t *a, void *ud) {
  lgwL_module_t *m = ud;
  (void)a;
  if (m->tick_fn) m->tick_fn(m->L, m->tick_ud);
}

int lgwL_loop_open(lgwL_module_t *m) {
  if (m->loop) return 0;
  if (m->closed) return -1;
  if (m->shared) {
    m->loop = m->shared;
  } else {
    if (!(m->loop = lgw_loop_new())) return -1;
    m->own_loop = 1;
  }
  m->idle = lgw_idle_new(m->loop, on_idle, m);
  if (!m->idle) {
    if (m->own_loop) lgw_loop_free(m->loop);
    m->loop = NULL;
    m->own_loop = 0;
    return -1;
  }
  m->wake = lgw_async_new(m->loop, on_wake, m);
  return 0;
}

struct uv_loop_s *lgwL_loop(lua_State *L, lgwL_module_t *m) {
  /* (lgw_loop_new cannot tell which of its resources ran out) */
  if (!m->loop && lgwL_loop_open(m))
    luaL_error(L, m->closed ? "llmgateway is shutting down"
                            : "cannot create the event loop (out of memory "
                              "or of file descriptors)");
  return m->loop;
}

/* Creates the record on first open; later opens reuse it. The loop is
 * made at its first need (lgwL_loop): loading the module costs none of
 * its system calls. */
static lgwL_module_t *module_open(lua_State *L) {
  lgwL_module_t *m = lgwL_module_peek(L);
  struct uv_loop_s *shared;
  if (m) return m;
  lua_getfield(L, LUA_REGISTRYINDEX, LGWL_LOOP);
  shared = lua_touserdata(L, -1);
  lua_pop(L, 1);
  m = lua_newuserdatauv(L, sizeof *m, 0);
  memset(m, 0, sizeof *m);
  m->shared = shared;
  lgw_list_init(&m->ready);
  lgw_list_init(&m->held);
  m->start_limit = LGWL_START_LIMIT;
  lgw_list_init(&m->gateways);
  lgw_list_init(&m->calls);
  lgw_list_init(&m->loglines);
  lgw_list_init(&m->budgets);
  lgw_list_init(&m->queues);
  lgwL_push_main_thread(L);
  m->L = lua_tothread(L, -1);
  lua_pop(L, 1);
  m->cb = lua_newthread(L);
  m->cb_ref = luaL_ref(L, LUA_REGISTRYINDEX);
  lua_createtable(L, 0, 2);
  lua_pushcfunction(L, module_gc);
  lua_setfield(L, -2, "__gc");
  lua_pushstring(L, LGWL_MODULE);
  lua_setfield(L, -2, "__name");
  lua_setmetatable(L, -2);
  lua_setfield(L, LUA_REGISTRYINDEX, LGWL_MODULE);
  return m;
}

void lgw_lua_set_loop(lua_State *L, struct uv_loop_s *loop) {
  lua_pushlightuserdata(L, loop);
  lua_setfield(L, LUA_REGISTRYINDEX, LGWL_LOOP);
}

int lgw_lua_step(lua_State *L) {
  lgwL_module_t *m = lgwL_module_peek(L);
  if (!m || !m->loop) return 0;
  lgwL_dispatch(m);
  lgwL_log_flush(L, m);
  return m->ntasks;
}

/* ===== Errors =========================================================== */

static int error_tostring(lua_State *L) {
  lua_getfield(L, 1, "code");
  lua_getfield(L, 1, "message");
  lua_pushfstring(L, "[llmgateway:%s] %s",
                  lua_isstring(L, -2) ? lua_tostring(L, -2) : "?",
                  lua_isstring(L, -1) ? lua_tostring(L, -1) : "");
  return 1;
}

/* ===== Paths and files ================================================== */

/* Optional path argument: nil/none -> NULL. */
static const char *opt_path(lua_State *L, int i) {
  return luaL_opt(L, luaL_checkstring, i, NULL);
}

/* Pushes a path the core allocated and frees it. */
static int push_path(lua_State *L, char *p) {
  if (!p) return luaL_error(L, "out of memory");
  return lgwL_push_text_free(L, p, strlen(p));
}

static int l_user_config_dir(lua_State *L) {
  return push_path(L, lgw_user_config_dir());
}

static int l_resolve_user_config_file(lua_State *L) {
  return push_path(L, lgw_user_config_file(opt_path(L, 1)));
}

static int l_resolve_provider_state_file(lua_State *L) {
  return push_path(L, lgw_provider_state_file(opt_path(L, 1)));
}

/* load_user_config([path]): {} when the file does not exist or is empty;
 * nil, err for unreadable files (a directory), malformed YAML or a top
 * level that is not a mapping. */
static int l_load_user_config(lua_State *L) {
  const char *arg = opt_path(L, 1);
  lgw_value_t *root = NULL;
  lgw_error_t err;
  memset(&err, 0, sizeof err);
  if (lgw_user_config_load(arg, &root, &err)) return lgwL_fail(L, &err);
  lgwL_log_flush(L, lgwL_module_peek(L));
  return lgwL_push_value_free(L, root);
}

/* write_user_config(t [, path]) -> path | nil, err: YAML (keys sorted,
 * since Lua tables have no order), atomically, mode 0600. */
static int l_write_user_config(lua_State *L) {
  const char *arg;
  lgw_value_t *root = NULL;
  lgw_error_t err;
  char *path = NULL;
  int rc;
  luaL_checktype(L, 1, LUA_TTABLE);
  arg = opt_path(L, 2);
  memset(&err, 0, sizeof err);
  rc = lgwL_to_value(L, 1, &root, &err);
  if (!rc) rc = lgw_user_config_write(root, arg, &path, &err);
  lgw_value_free(root);
  if (rc) return lgwL_fail(L, &err);
  return push_path(L, path);
}

/* Under lua_pcall: the table of the provider state at 1. */
static int push_state_p(lua_State *L) {
  const lgw_value_t *st = lua_touserdata(L, 1);
  size_t i, n = lgw_value_count(st);
  lua_createtable(L, 0, (int)n);
  for (i = 0; i < n; i++) {
    lua_pushstring(L, lgw_value_get_string(lgw_value_at(st, i), NULL));
    lua_setfield(L, -2, lgw_value_key_at(st, i, NULL));
  }
  return 1;
}

static int l_load_provider_state(lua_State *L) {
  const char *arg = opt_path(L, 1);
  lgw_value_t *st = NULL;
  lgw_error_t err;
  int status;
  memset(&err, 0, sizeof err);
  if (lgw_provider_state_load(arg, &st, &err)) return lgwL_fail(L, &err);
  lgwL_log_flush(L, lgwL_module_peek(L));
  status = lgwL_pcall_nogc(L, push_state_p, st, 1, 0);
  lgw_value_free(st);
  return status == LUA_OK ? 1 : lua_error(L);
}

/* write_provider_state(t [, path]) and update_provider_state(t [, path])
 * -> path | nil, err: t replaces the file's mapping, or is merged into it
 * under the lock. Keys and values are strings or numbers (converted as
 * tostring); blanks are dropped. */
struct state_build {
  lgw_value_t *st;
  lgw_error_t err;
  int rc;
};

/* Under lua_pcall: the entries of the table at 2 into the mapping of the
 * state_build at 1 (the caller frees it, also after a memory error of
 * luaL_tolstring). */
static int build_state_p(lua_State *L) {
  struct state_build *b = lua_touserdata(L, 1);
  lua_pushnil(L);
  while (!b->rc && lua_next(L, 2)) {
    size_t klen, vlen;
    const char *v = luaL_tolstring(L, -1, &vlen);
    const char *k = luaL_tolstring(L, -3, &klen);
    if (lgw_value_set(b->st, k, klen, lgw_value_string(v, vlen)))
      b->rc = lgw_error_set(&b->err, LGW_ENOMEM, "out of memory");
    lua_pop(L, 3);
  }
  return 0;
}

static int put_provider_state(lua_State *L, int merge) {
  const char *arg;
  struct state_build b;
  lgw_error_t err;
  char *path = NULL;
  int rc = 0;
  luaL_checktype(L, 1, LUA_TTABLE);
  arg = opt_path(L, 2);
  lua_pushnil(L);
  while (lua_next(L, 1)) {
    int kt = lua_type(L, -2), vt = lua_type(L, -1);
    if ((kt != LUA_TSTRING && kt != LUA_TNUMBER) ||
        (vt != LUA_TSTRING && vt != LUA_TNUMBER))
      return luaL_argerror(L, 1, "keys and values must be strings");
    lua_pop(L, 1);
  }
  memset(&err, 0, sizeof err);
  memset(&b, 0, sizeof b);
  if (!(b.st = lgw_value_object())) return luaL_error(L, "out of memory");
  lua_pushcfunction(L, build_state_p);
  lua_pushlightuserdata(L, &b);
  lua_pushvalue(L, 1);
  if (lua_pcall(L, 2, 0, 0) != LUA_OK) {
    lgw_value_free(b.st);
    return lua_error(L);
  }
  if (b.rc) {
    lgw_value_free(b.st);
    return lgwL_fail(L, &b.err);
  }
  rc = lgw_provider_state_write(b.st, merge, arg, &path, &err);
  lgw_value_free(b.st);
  lgwL_log_flush(L, lgwL_module_peek(L));
  if (rc) return lgwL_fail(L, &err);
  return push_path(L, path);
}

static int l_write_provider_state(lua_State *L) {
  return put_provider_state(L, 0);
}

static int l_update_provider_state(lua_State *L) {
  return put_provider_state(L, 1);
}

/* provider_key(p) -> hex | nil, err (keys hash the values given: no env
 * interpolation) */
static int l_provider_key(lua_State *L) {
  lgw_value_t *p = NULL;
  lgw_error_t err;
  char key[65];
  int rc;
  luaL_checktype(L, 1, LUA_TTABLE);
  memset(&err, 0, sizeof err);
  rc = lgwL_to_value(L, 1, &p, &err);
  if (!rc) rc = lgw_provider_key(p, key, &err);
  lgw_value_free(p);
  if (rc) return lgwL_fail(L, &err);
  lua_pushstring(L, key);
  return 1;
}

/* config_key(list | runtime) -> hex | nil, err */
static int l_config_key(lua_State *L) {
  lgw_runtime_t **ud;
  lgw_value_t *list = NULL;
  lgw_error_t err;
  char key[65];
  int rc;
  if ((ud = luaL_testudata(L, 1, LGWL_RUNTIME)) != NULL) {
    lua_pushstring(L, lgw_runtime_config_key(*ud));
    return 1;
  }
  luaL_argexpected(L, lua_type(L, 1) == LUA_TTABLE, 1,
                   "table or llmgateway.Runtime");
  memset(&err, 0, sizeof err);
  rc = lgwL_to_value(L, 1, &list, &err);
  if (!rc) rc = lgw_config_key(list, key, &err);
  lgw_value_free(list);
  if (rc) return lgwL_fail(L, &err);
  lua_pushstring(L, key);
  return 1;
}

/* ===== JSON ============================================================= */

static void push_json(lua_State *L, const lgw_value_t *v, int depth) {
  size_t i, n = lgw_value_count(v), len;
  const char *str;
  luaL_checkstack(L, 4, "JSON nested too deeply");
  if (depth > 2000) luaL_error(L, "JSON nested too deeply");
  switch (lgw_value_type(v)) {
    case LGW_VALUE_OBJECT:
      lua_newtable(L);
      for (i = 0; i < n; i++) {
        push_json(L, lgw_value_at(v, i), depth + 1);
        /* the last duplicate wins */
        lua_setfield(L, -2, lgw_value_key_at(v, i, NULL));
      }
      break;
    case LGW_VALUE_ARRAY:
      lua_newtable(L);
      for (i = 0; i < n; i++) {
        push_json(L, lgw_value_at(v, i), depth + 1);
        lua_rawseti(L, -2, (lua_Integer)i + 1);
      }
      luaL_setmetatable(L, LGWL_ARRAY);  /* [] stays [] when encoded */
      break;
    case LGW_VALUE_STRING:
      str = lgw_value_get_string(v, &len);
      lua_pushlstring(L, str, len);
      break;
    case LGW_VALUE_INT:
      lua_pushinteger(L, (lua_Integer)lgw_value_get_int(v));
      break;
    case LGW_VALUE_NUMBER: lua_pushnumber(L, lgw_value_get_number(v)); break;
    case LGW_VALUE_BOOL: lua_pushboolean(L, lgw_value_get_bool(v)); break;
    default: lgwL_push_null(L); break;
  }
}

static int push_json_p(lua_State *L) {
  push_json(L, lua_touserdata(L, 1), 0);
  return 1;
}

/* Converted under pcall so that the tree is freed on any Lua error. */
static int push_json_value(lua_State *L, lgw_value_t *root) {
  int status = lgwL_pcall_nogc(L, push_json_p, root, 1, LGWL_NOGC_MIN);
  lgw_value_free(root);
  if (status != LUA_OK) return lua_error(L);
  return 1;
}

/* parse_json(text) -> value | nil, err (llm.null for a JSON null) */
static int l_parse_json(lua_State *L) {
  size_t len;
  const char *text = luaL_checklstring(L, 1, &len);
  lgw_value_t *root = NULL;
  lgw_error_t err;
  if (lgwL_decode_json(L, text, len)) return 1;
  memset(&err, 0, sizeof err);
  if (lgw_json_extract(text, len, &root, &err)) return lgwL_fail(L, &err);
  return push_json_value(L, root);
}

int lgwL_push_json_text(lua_State *L, const char *text, size_t len) {
  lgw_value_t *root = NULL;
  if (lgwL_decode_json(L, text, len)) return 1;
  if (lgw_json_parse(text, len, &root, NULL)) return 0;
  return push_json_value(L, root);
}

/* encode_json(value) -> text | nil, err */
static int l_encode_json(lua_State *L) {
  lgw_error_t err;
  char *text;
  size_t len;
  if (lua_isnoneornil(L, 1))
    return luaL_argerror(L, 1, "value expected (llm.null for null)");
  memset(&err, 0, sizeof err);
  if (lgwL_to_json(L, 1, &text, &len, &err)) return lgwL_fail(L, &err);
  return lgwL_push_text_free(L, text, len);
}

static int l_stats(lua_State *L) {
  lgwL_module_t *m = lgwL_module(L);
  const lgwL_call_t *c;
  int ncalls = 0;
  LGWL_EACH(c, &m->calls, lgwL_call_t, link) ncalls++;
  lua_createtable(L, 0, 4);
  lua_pushinteger(L, m->ntasks);
  lua_setfield(L, -2, "tasks");
  lua_pushinteger(L, m->nheld);
  lua_setfield(L, -2, "held");
  lua_pushinteger(L, m->ngateways);
  lua_setfield(L, -2, "gateways");
  lua_pushinteger(L, ncalls);
  lua_setfield(L, -2, "calls");
  return 1;
}

/* _batch(items, done): the batch helpers of init.lua report items
 * started and finished, so that a progress display can tell an ETA. */
static int l_batch(lua_State *L) {
  lgwL_module_t *m = lgwL_module(L);
  m->batch_items += (long)luaL_checkinteger(L, 1);
  m->batch_done += (long)luaL_checkinteger(L, 2);
  return 0;
}

static const luaL_Reg funcs[] = {
  {"load_user_config", l_load_user_config},
  {"write_user_config", l_write_user_config},
  {"user_config_dir", l_user_config_dir},
  {"resolve_user_config_file", l_resolve_user_config_file},
  {"resolve_provider_state_file", l_resolve_provider_state_file},
  {"load_provider_state", l_load_provider_state},
  {"write_provider_state", l_write_provider_state},
  {"update_provider_state", l_update_provider_state},
  {"provider_key", l_provider_key},
  {"config_key", l_config_key},
  {"parse_json", l_parse_json},
  {"encode_json", l_encode_json},
  {"set_log", l_set_log},
  {"_stats", l_stats},
  {"_batch", l_batch},
  {NULL, NULL}
};

int luaopen_llmgateway_core(lua_State *L) {
  luaL_checkversion(L);
  module_open(L);
  /* llm.array_mt: no __name, so that error messages still say "table" */
  if (luaL_getmetatable(L, LGWL_ARRAY) == LUA_TNIL) {
    lua_newtable(L);
    lua_setfield(L, LUA_REGISTRYINDEX, LGWL_ARRAY);
  }
  lua_pop(L, 1);
  lgwL_guard_xpcall(L);
  if (luaL_newmetatable(L, LGWL_ERROR)) {
    lua_pushcfunction(L, error_tostring);
    lua_setfield(L, -2, "__tostring");
  }
  lua_pop(L, 1);
  lgwL_gateway_open(L);
  lgwL_task_open(L);
  lgwL_queue_open(L);
  luaL_newlib(L, funcs);
  lgwL_gateway_register(L);
  lgwL_task_register(L);
  lgwL_queue_register(L);
  luaL_getmetatable(L, LGWL_ERROR);
  lua_setfield(L, -2, "Error");
  lgwL_push_null(L);
  lua_setfield(L, -2, "null");
  luaL_getmetatable(L, LGWL_ARRAY);
  lua_setfield(L, -2, "array_mt");
  lgwL_push_empty_array(L);
  lua_setfield(L, -2, "empty_array");
  lgwL_drive_register(L);
  lgwL_push_pcall(L);
  lua_setfield(L, -2, "pcall");
  lua_pushstring(L, "llmgateway " LGW_VERSION_STRING);
  lua_setfield(L, -2, "_VERSION");
  return 1;
}
