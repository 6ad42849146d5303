/*
 * lua_convert.c -- conversions between Lua values and the C core's types:
 * request tables to lgw_request_t, results and errors to Lua tables
 * (llmgateway.Error), and Lua tables to and from the configuration node
 * tree. No behaviour lives here.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "lua_priv.h"
#include "transport.h"

struct lgwL_result {
  char *task, *text, *requested_model, *normalized_model;
  char *reasoning_effort, *provider_type, *api_style, *base_url;
  size_t text_len;
  double temperature;
  long max_tokens;
  int provider_index;
  lgw_attempt_t *attempts;  /* strings owned (cast on free) */
  size_t nattempts;
  int providers_tried;
  lgw_usage_t usage, usage_total;
  double cost, cost_total, ttft;
  char *partial_text;       /* NULL: none */
  size_t partial_len;
  const char *finish_reason;  /* static; NULL: none */
  char *refusal;            /* NULL: none */
  size_t refusal_len;
};

#define MAX_DEPTH 100  /* nesting limit for tables and trees */

/* ===== Error values ===================================================== */

/* luaL_typeerror's naming: __name, "light userdata", or the type. */
static const char *type_name(lua_State *L, int idx) {
  int ty;
  idx = lua_absindex(L, idx);
  ty = luaL_getmetafield(L, idx, "__name");
  if (ty == LUA_TSTRING) {
    const char *s = lua_tostring(L, -1);
    lua_pop(L, 1);  /* the name stays alive in the metatable */
    return s;
  }
  if (ty != LUA_TNIL) lua_pop(L, 1);
  if (lua_type(L, idx) == LUA_TLIGHTUSERDATA) return "light userdata";
  return luaL_typename(L, idx);
}

int lgwL_argerror_path(lua_State *L, int arg, const char *path,
                       const char *expected, int idx) {
  const char *msg = lua_pushfstring(L, "%s%s%s expected, got %s",
                                    path ? path : "", path ? ": " : "",
                                    expected, type_name(L, idx));
  return luaL_argerror(L, arg, msg);
}

int lgwL_argerror_value(lua_State *L, int arg, const char *path,
                        const char *expected, int idx) {
  const char *got;
  idx = lua_absindex(L, idx);
  got = lua_type(L, idx) == LUA_TNUMBER ? luaL_tolstring(L, idx, NULL)
                                        : type_name(L, idx);
  return luaL_argerror(L, arg, lua_pushfstring(L, "%s: %s expected, got %s",
                                               path, expected, got));
}

/* Levenshtein distance of a and b (short keys: at most 63 bytes count). */
static size_t edit_distance(const char *a, const char *b) {
  size_t la = strlen(a), lb = strlen(b), i, j, row[64];
  if (la > 63) la = 63;
  if (lb > 63) lb = 63;
  for (j = 0; j <= lb; j++) row[j] = j;
  for (i = 1; i <= la; i++) {
    size_t diag = row[0];
    row[0] = i;
    for (j = 1; j <= lb; j++) {
      size_t up = row[j], best = diag + (a[i - 1] != b[j - 1]);
      if (up + 1 < best) best = up + 1;
      if (row[j - 1] + 1 < best) best = row[j - 1] + 1;
      diag = up;
      row[j] = best;
    }
  }
  return row[lb];
}

void lgwL_check_keys(lua_State *L, int arg, int idx, const char *prefix,
                     const char *const known[]) {
  idx = lua_absindex(L, idx);
  lua_pushnil(L);
  while (lua_next(L, idx)) {
    const char *k, *best = NULL;
    size_t i, d, bestd = (size_t)-1;
    lua_pop(L, 1);
    if (lua_type(L, -1) != LUA_TSTRING) continue;
    k = lua_tostring(L, -1);
    for (i = 0; known[i] && strcmp(known[i], k) != 0; i++) {}
    if (known[i]) continue;
    for (i = 0; known[i]; i++) {
      d = edit_distance(k, known[i]);
      if (d < bestd) {
        bestd = d;
        best = known[i];
      }
    }
    /* a suggestion only when it is close: at most a third of the key */
    if (best && bestd * 3 <= strlen(k) + 2)
      luaL_argerror(L, arg, lua_pushfstring(L, "unknown key '%s%s', did you "
                                            "mean '%s%s'?", prefix, k,
                                            prefix, best));
    luaL_argerror(L, arg, lua_pushfstring(L, "unknown key '%s%s'", prefix,
                                          k));
  }
}

static void set_str(lua_State *L, const char *k, const char *v) {
  lua_pushstring(L, v ? v : "");
  lua_setfield(L, -2, k);
}

static void set_num(lua_State *L, const char *k, double v) {
  lua_pushnumber(L, v);
  lua_setfield(L, -2, k);
}

static void set_int(lua_State *L, const char *k, lua_Integer v) {
  lua_pushinteger(L, v);
  lua_setfield(L, -2, k);
}

/* A seconds or money value the engine gives as -1 when unknown: nil. */
static void set_known(lua_State *L, const char *k, double v) {
  if (v < 0) return;
  set_num(L, k, v);
}

void lgwL_push_usage(lua_State *L, const lgw_usage_t *u) {
  lua_createtable(L, 0, 4);
  if (u->input_tokens >= 0) set_int(L, "input_tokens", u->input_tokens);
  if (u->output_tokens >= 0) set_int(L, "output_tokens", u->output_tokens);
  if (u->cached_tokens >= 0) set_int(L, "cached_tokens", u->cached_tokens);
  if (u->reasoning_tokens >= 0)
    set_int(L, "reasoning_tokens", u->reasoning_tokens);
}

/* stack: ... -> ..., attempts */
static void push_attempts(lua_State *L, const lgw_attempt_t *a, size_t n) {
  size_t i;
  lua_createtable(L, (int)n, 0);
  for (i = 0; i < n; i++) {
    lua_createtable(L, 0, 13);
    set_int(L, "provider_index", a[i].provider_index);
    set_str(L, "provider_type", a[i].provider_type);
    set_str(L, "base_url", a[i].base_url);
    set_str(L, "model", a[i].model);
    set_int(L, "status", a[i].http_status);
    set_str(L, "code", lgw_err_name(a[i].code));
    set_str(L, "message", a[i].message);
    set_num(L, "elapsed", a[i].elapsed);
    set_num(L, "retry_delay", a[i].retry_delay);
    set_int(L, "configured_index", a[i].configured_index);
    lgwL_push_usage(L, &a[i].usage);
    lua_setfield(L, -2, "usage");
    set_known(L, "cost", a[i].cost);
    set_known(L, "ttft", a[i].ttft);
    lua_rawseti(L, -2, (lua_Integer)i + 1);
  }
}

/* usage_total and cost_total of a result or an error. */
static void push_totals(lua_State *L, const lgwL_result_t *r) {
  lgwL_push_usage(L, &r->usage_total);
  lua_setfield(L, -2, "usage_total");
  set_known(L, "cost_total", r->cost_total);
}

void lgwL_push_error(lua_State *L, const lgw_error_t *err,
                     const lgwL_result_t *res) {
  luaL_checkstack(L, 8, NULL);
  lua_createtable(L, 0, 4);
  set_str(L, "code", lgw_err_name(err->code));
  set_str(L, "message", err->message);
  set_int(L, "status", err->http_status);
  push_attempts(L, res ? res->attempts : NULL, res ? res->nattempts : 0);
  lua_setfield(L, -2, "attempts");
  set_int(L, "providers_tried", res ? res->providers_tried : 0);
  if (res) {
    push_totals(L, res);
    if (res->partial_text) {
      lua_pushlstring(L, res->partial_text, res->partial_len);
      lua_setfield(L, -2, "partial_text");
    }
    if (res->refusal) {
      lua_pushlstring(L, res->refusal, res->refusal_len);
      lua_setfield(L, -2, "refusal");
    }
  }
  luaL_setmetatable(L, LGWL_ERROR);
}

int lgwL_fail(lua_State *L, const lgw_error_t *err) {
  lgwL_log_flush(L, lgwL_module_peek(L));
  lua_pushnil(L);
  lgwL_push_error(L, err, NULL);
  return 2;
}

int lgwL_failf(lua_State *L, int code, const char *fmt, ...) {
  lgw_error_t err;
  va_list ap;
  memset(&err, 0, sizeof err);
  va_start(ap, fmt);
  lgw__error_vset(&err, code, fmt, ap);
  va_end(ap);
  return lgwL_fail(L, &err);
}

/* ===== Results ========================================================== */

void lgwL_result_free(lgwL_result_t *r) {
  size_t i;
  if (!r) return;
  for (i = 0; i < r->nattempts; i++) {
    lgw_free((char *)r->attempts[i].provider_type);
    lgw_free((char *)r->attempts[i].base_url);
    lgw_free((char *)r->attempts[i].model);
    lgw_free((char *)r->attempts[i].message);
  }
  lgw_free(r->attempts);
  lgw_free(r->task);
  lgw_free(r->text);
  lgw_free(r->requested_model);
  lgw_free(r->normalized_model);
  lgw_free(r->reasoning_effort);
  lgw_free(r->provider_type);
  lgw_free(r->api_style);
  lgw_free(r->base_url);
  lgw_free(r->partial_text);
  lgw_free(r->refusal);
  lgw_free(r);
}

/* strdup that treats NULL as "" so a NULL result means out of memory. */
static char *dup_or_empty(const char *s, int *oom) {
  char *p = lgw__strdup(s ? s : "");
  if (!p) *oom = 1;
  return p;
}

lgwL_result_t *lgwL_result_copy(const lgw_result_t *r, int text_only) {
  lgwL_result_t *c = lgw__calloc(1, sizeof *c);
  int oom = 0;
  size_t i;
  if (!c) return NULL;
  if (r->text) {
    c->text = lgw__strndup(r->text, r->text_len);
    if (!c->text) oom = 1;
    c->text_len = r->text_len;
  }
  c->usage = r->usage;
  c->usage_total = r->usage_total;
  c->cost = r->cost;
  c->cost_total = r->cost_total;
  c->finish_reason = r->finish_reason;
  if (r->refusal) {
    c->refusal = lgw__strndup(r->refusal, r->refusal_len);
    if (!c->refusal) oom = 1;
    c->refusal_len = r->refusal_len;
  }
  c->providers_tried = r->providers_tried;
  if (text_only) {
    if (oom) {
      lgwL_result_free(c);
      return NULL;
    }
    return c;
  }
  c->task = dup_or_empty(r->task, &oom);
  c->requested_model = dup_or_empty(r->requested_model, &oom);
  c->normalized_model = dup_or_empty(r->normalized_model, &oom);
  c->reasoning_effort = dup_or_empty(r->reasoning_effort, &oom);
  c->provider_type = dup_or_empty(r->provider_type, &oom);
  c->api_style = dup_or_empty(r->api_style, &oom);
  c->base_url = dup_or_empty(r->base_url, &oom);
  c->temperature = r->temperature;
  c->max_tokens = r->max_tokens;
  c->provider_index = r->provider_index;
  c->ttft = r->ttft;
  if (r->partial_text) {
    c->partial_text = lgw__strndup(r->partial_text, r->partial_len);
    if (!c->partial_text) oom = 1;
    c->partial_len = r->partial_len;
  }
  if (r->nattempts) {
    c->attempts = lgw__calloc(r->nattempts, sizeof *c->attempts);
    if (!c->attempts) oom = 1;
    else c->nattempts = r->nattempts;
  }
  for (i = 0; i < c->nattempts; i++) {
    lgw_attempt_t *a = &c->attempts[i];
    *a = r->attempts[i];
    a->provider_type = dup_or_empty(r->attempts[i].provider_type, &oom);
    a->base_url = dup_or_empty(r->attempts[i].base_url, &oom);
    a->model = dup_or_empty(r->attempts[i].model, &oom);
    a->message = dup_or_empty(r->attempts[i].message, &oom);
  }
  if (oom) {
    lgwL_result_free(c);
    return NULL;
  }
  return c;
}

/* A usage_total count for summing: unknown (-1) counts as 0. */
static void push_count(lua_State *L, long n) {
  lua_pushinteger(L, n > 0 ? (lua_Integer)n : 0);
}

int lgwL_push_result(lua_State *L, const lgwL_result_t *r, int form) {
  luaL_checkstack(L, 10, NULL);
  if (form == LGWL_PUSH_TEXT) {
    lua_pushlstring(L, r->text ? r->text : "", r->text_len);
    return 1;
  }
  if (form == LGWL_PUSH_TOTALS) {
    lua_pushlstring(L, r->text ? r->text : "", r->text_len);
    lgwL_push_usage(L, &r->usage);
    if (r->cost < 0) lua_pushnil(L);
    else lua_pushnumber(L, r->cost);
    if (r->cost_total < 0) lua_pushnil(L);
    else lua_pushnumber(L, r->cost_total);
    push_count(L, r->usage_total.input_tokens);
    push_count(L, r->usage_total.output_tokens);
    push_count(L, r->usage_total.cached_tokens);
    push_count(L, r->usage_total.reasoning_tokens);
    return 8;
  }
  lua_createtable(L, 0, 15);
  set_str(L, "task", r->task);
  lua_pushlstring(L, r->text ? r->text : "", r->text_len);
  lua_setfield(L, -2, "text");
  set_str(L, "requested_model", r->requested_model);
  set_str(L, "normalized_model", r->normalized_model);
  set_str(L, "reasoning_effort", r->reasoning_effort);
  set_num(L, "temperature", r->temperature);
  set_int(L, "max_tokens", r->max_tokens);
  lua_createtable(L, 0, 4);  /* never the key */
  set_str(L, "type", r->provider_type);
  set_str(L, "base_url", r->base_url);
  set_int(L, "index", r->provider_index);
  set_str(L, "api_style", r->api_style);
  lua_setfield(L, -2, "provider");
  lgwL_push_usage(L, &r->usage);
  lua_setfield(L, -2, "usage");
  set_known(L, "cost", r->cost);
  set_known(L, "ttft", r->ttft);
  if (r->finish_reason) set_str(L, "finish_reason", r->finish_reason);
  push_totals(L, r);
  push_attempts(L, r->attempts, r->nattempts);
  lua_setfield(L, -2, "attempts");
  return 1;
}

void lgwL_push_streamed(lua_State *L, const lgwL_result_t *r, size_t n) {
  const char *p = r ? (r->text ? r->text : r->partial_text) : NULL;
  size_t len = r ? (r->text ? r->text_len : r->partial_len) : 0;
  if (!p) {
    lua_pushnil(L);
    return;
  }
  lua_pushlstring(L, p, n < len ? n : len);
}

const char *lgwL_event_name(lgw_event_type_t type) {
  switch (type) {
    case LGW_EVENT_ATTEMPT_END: return "attempt_end";
    case LGW_EVENT_REQUEST_END: return "request_end";
    case LGW_EVENT_BREAKER_OPEN: return "breaker_open";
    case LGW_EVENT_BREAKER_CLOSE: return "breaker_close";
  }
  return "unknown";
}

void lgwL_push_event(lua_State *L, const lgw_event_t *ev) {
  luaL_checkstack(L, 6, NULL);
  lua_createtable(L, 0, 18);
  set_str(L, "type", lgwL_event_name(ev->type));
  set_int(L, "request_id", (lua_Integer)ev->request_id);
  set_str(L, "task", ev->task);
  set_int(L, "provider_index", ev->provider_index);
  set_str(L, "provider_type", ev->provider_type);
  set_str(L, "base_url", ev->base_url);
  set_str(L, "model", ev->model);
  set_int(L, "attempt", ev->attempt);
  set_int(L, "status", ev->http_status);
  set_str(L, "error_class", ev->error_class);
  set_str(L, "message", ev->message);
  set_num(L, "latency", ev->latency);
  set_known(L, "ttft", ev->ttft);
  set_num(L, "retry_delay", ev->retry_delay);
  lgwL_push_usage(L, &ev->usage);
  lua_setfield(L, -2, "usage");
  set_known(L, "cost", ev->cost);
  if (ev->type == LGW_EVENT_BREAKER_OPEN)
    set_num(L, "breaker_cooldown", ev->breaker_cooldown);
}

/* ===== Requests ========================================================= */

/* Optional string field of the table at t; NULL when nil. */
static const char *opt_field_str(lua_State *L, int arg, int t,
                                 const char *k) {
  const char *s = NULL;
  int ty = lua_getfield(L, t, k);
  if (ty == LUA_TSTRING) {
    s = lua_tostring(L, -1);  /* kept alive by the table */
  } else if (ty != LUA_TNIL) {
    lgwL_argerror_path(L, arg, k, "string", -1);
  }
  lua_pop(L, 1);
  return s;
}

/* Overrides common to run_task's third argument and request tables. */
static void read_overrides(lua_State *L, int arg, int t,
                           lgw_request_t *out) {
  int ty;
  out->model = opt_field_str(L, arg, t, "model");
  out->tier = opt_field_str(L, arg, t, "tier");
  out->reasoning_effort = opt_field_str(L, arg, t, "reasoning_effort");
  ty = lua_getfield(L, t, "temperature");
  if (ty == LUA_TNUMBER) {
    out->has_temperature = 1;
    out->temperature = lua_tonumber(L, -1);
  } else if (ty != LUA_TNIL) {
    lgwL_argerror_path(L, arg, "temperature", "number", -1);
  }
  lua_pop(L, 1);
  /* 0, as nil, means the task's value (as the Python library's `or`) */
  ty = lua_getfield(L, t, "max_tokens");
  if (ty == LUA_TNUMBER) {
    lua_Integer v;
    if (!lua_isinteger(L, -1) || (v = lua_tointeger(L, -1)) < 0 ||
        v > 100000000) {
      lgwL_argerror_value(L, arg, "max_tokens", "integer from 0 to "
                          "100000000", -1);
    }
    out->max_tokens = (long)lua_tointeger(L, -1);
  } else if (ty != LUA_TNIL) {
    lgwL_argerror_path(L, arg, "max_tokens", "integer", -1);
  }
  lua_pop(L, 1);
  ty = lua_getfield(L, t, "deadline");
  if (ty == LUA_TNUMBER && lua_tonumber(L, -1) >= 0) {
    out->deadline = lua_tonumber(L, -1);
  } else if (ty != LUA_TNIL) {
    lgwL_argerror_value(L, arg, "deadline", "non-negative number", -1);
  }
  lua_pop(L, 1);
}

/* Validates the messages list at mi and pushes a userdata holding the
 * lgw_message_t array (strings borrowed from the list), in one pass. */
static void read_messages(lua_State *L, int arg, int mi, int in_request,
                          lgw_request_t *out) {
  lua_Integer n, i;
  lgw_message_t *msgs;
  if (lua_type(L, mi) != LUA_TTABLE) {
    if (in_request) lgwL_argerror_path(L, arg, "messages", "table", mi);
    luaL_typeerror(L, arg, "table");
  }
  n = (lua_Integer)lua_rawlen(L, mi);
  msgs = lua_newuserdatauv(L, (size_t)(n ? n : 1) * sizeof *msgs, 0);
  for (i = 1; i <= n; i++) {
    if (lua_rawgeti(L, mi, i) != LUA_TTABLE) {
      const char *path = lua_pushfstring(L, "messages[%d]", (int)i);
      lgwL_argerror_path(L, arg, path, "table", -2);
    }
    if (lua_getfield(L, -1, "content") != LUA_TSTRING) {
      const char *path = lua_pushfstring(L, "messages[%d].content",
                                         (int)i);
      lgwL_argerror_path(L, arg, path, "string", -2);
    }
    msgs[i - 1].content = lua_tostring(L, -1);  /* kept by the message */
    lua_getfield(L, -2, "role");
    if (!lua_isnil(L, -1) && lua_type(L, -1) != LUA_TSTRING) {
      const char *path = lua_pushfstring(L, "messages[%d].role",
                                         (int)i);
      lgwL_argerror_path(L, arg, path, "string", -2);
    }
    msgs[i - 1].role = lua_tostring(L, -1);  /* NULL for nil: "user" */
    lua_pop(L, 3);
  }
  out->messages = msgs;
  out->nmessages = (size_t)n;
}

/* Pushes the on_delta field of the table at t (nil when t is 0) and
 * sets *delta to its index when it is a function. */
static void read_on_delta(lua_State *L, int arg, int t, int *delta) {
  *delta = 0;
  if (!t) {
    lua_pushnil(L);
    return;
  }
  if (lua_getfield(L, t, "on_delta") == LUA_TFUNCTION)
    *delta = lua_gettop(L);
  else if (!lua_isnil(L, -1))
    lgwL_argerror_path(L, arg, "on_delta", "function", -1);
}

/* The keys of a request table; the overrides are the same without the
 * first two. */
static const char *const request_keys[] = {
  "task", "messages", "model", "tier", "temperature", "reasoning_effort",
  "max_tokens", "deadline", "on_delta", NULL
};

void lgwL_check_task_args(lua_State *L, int ti, int mi, int oi,
                          lgw_request_t *out, int *delta) {
  int has_overrides = oi && !lua_isnoneornil(L, oi);
  memset(out, 0, sizeof *out);
  out->task = luaL_checkstring(L, ti);
  if (has_overrides) {
    luaL_checktype(L, oi, LUA_TTABLE);
    lgwL_check_keys(L, oi, oi, "", request_keys + 2);
  }
  read_messages(L, mi, mi, 0, out);  /* pushes the message array */
  if (has_overrides) read_overrides(L, oi, oi, out);
  read_on_delta(L, oi, has_overrides ? oi : 0, delta);
}

void lgwL_check_request(lua_State *L, int idx, lgw_request_t *out,
                        int *delta) {
  int ty;
  memset(out, 0, sizeof *out);
  luaL_checktype(L, idx, LUA_TTABLE);
  lgwL_check_keys(L, idx, idx, "", request_keys);
  ty = lua_getfield(L, idx, "task");
  if (ty != LUA_TSTRING) lgwL_argerror_path(L, idx, "task", "string", -1);
  out->task = lua_tostring(L, -1);
  lua_pop(L, 1);
  lua_getfield(L, idx, "messages");
  read_messages(L, idx, lua_gettop(L), 1, out);
  read_overrides(L, idx, idx, out);
  lua_remove(L, -2);  /* the list stays reachable from the request */
  read_on_delta(L, idx, idx, delta);
}

/* ===== Node trees ======================================================= */

int lgwL_is_null(lua_State *L, int idx) {
  return lua_type(L, idx) == LUA_TLIGHTUSERDATA && !lua_touserdata(L, idx);
}

typedef struct key {
  int isnum;
  int isint;
  lua_Integer i;
  lua_Number d;
  const char *s;
  size_t len;
} tkey_t;

static int key_cmp(const void *pa, const void *pb) {
  const tkey_t *a = pa, *b = pb;
  size_t n;
  int c;
  if (a->isnum != b->isnum) return a->isnum ? -1 : 1;
  if (a->isnum) {
    lua_Number x = a->isint ? (lua_Number)a->i : a->d;
    lua_Number y = b->isint ? (lua_Number)b->i : b->d;
    return x < y ? -1 : x > y;
  }
  n = a->len < b->len ? a->len : b->len;
  c = memcmp(a->s, b->s, n);
  if (c) return c;
  return a->len < b->len ? -1 : a->len > b->len;
}

static lgw__node_t *scalar_node(lua_State *L, int idx, int *unsupported) {
  lgw__node_t *n = NULL;
  *unsupported = 0;
  switch (lua_type(L, idx)) {
    case LUA_TSTRING: {
      size_t len;
      const char *s = lua_tolstring(L, idx, &len);
      return lgw__node_new_string(s, len, 0, 0);
    }
    case LUA_TBOOLEAN:
      n = lgw__node_new(LGW_NODE_BOOL, 0, 0);
      if (n) n->b = lua_toboolean(L, idx);
      return n;
    case LUA_TNUMBER:
      if (lua_isinteger(L, idx)) {
        n = lgw__node_new(LGW_NODE_INT, 0, 0);
        if (n) {
          n->i = lua_tointeger(L, idx);
          n->d = (double)n->i;
        }
      } else {
        n = lgw__node_new(LGW_NODE_FLOAT, 0, 0);
        if (n) n->d = lua_tonumber(L, idx);
      }
      return n;
    default:
      if (lgwL_is_null(L, idx)) return lgw__node_new(LGW_NODE_NULL, 0, 0);
      *unsupported = 1;
      return NULL;
  }
}

static int to_node(lua_State *L, int idx, lgw__buf_t *path, int depth,
                   lgw__node_t **out, lgw_error_t *err);

/* stack: the table at idx. Builds a SEQ or a MAP with sorted keys. */
static int table_node(lua_State *L, int idx, lgw__buf_t *path, int depth,
                      lgw__node_t **out, lgw_error_t *err) {
  lua_Integer len = (lua_Integer)lua_rawlen(L, idx);
  size_t count = 0, i, plen = path->len;
  int is_seq = len > 0, rc = 0;
  tkey_t *keys;
  lgw__node_t *node;
  lua_pushnil(L);
  while (lua_next(L, idx)) {
    lua_pop(L, 1);
    count++;
    if (!lua_isinteger(L, -1) || lua_tointeger(L, -1) < 1 ||
        lua_tointeger(L, -1) > len)
      is_seq = 0;
    if (lua_type(L, -1) != LUA_TSTRING && lua_type(L, -1) != LUA_TNUMBER) {
      const char *tn = luaL_typename(L, -1);
      lua_pop(L, 1);
      return lgw__error_set(err, LGW_ECONFIG, "%s: unsupported key of type "
                            "%s", path->len ? path->data : "(root)", tn);
    }
  }
  if (is_seq && (lua_Integer)count != len) is_seq = 0;
  node = lgw__node_new(is_seq ? LGW_NODE_SEQ : LGW_NODE_MAP, 0, 0);
  if (!node) return lgw__error_set(err, LGW_ENOMEM, "out of memory");
  if (is_seq) {
    for (i = 1; i <= count && !rc; i++) {
      lgw__node_t *v = NULL;
      path->len = plen;
      if (lgw__buf_printf(path, "[%zu]", i))
        rc = lgw__error_set(err, LGW_ENOMEM, "out of memory");
      lua_rawgeti(L, idx, (lua_Integer)i);
      if (!rc) rc = to_node(L, lua_gettop(L), path, depth + 1, &v, err);
      lua_pop(L, 1);
      if (!rc && lgw__node_append(node, NULL, v))
        rc = lgw__error_set(err, LGW_ENOMEM, "out of memory");
    }
    goto done;
  }
  keys = lgw__calloc(count ? count : 1, sizeof *keys);
  if (!keys) {
    lgw__node_free(node);
    return lgw__error_set(err, LGW_ENOMEM, "out of memory");
  }
  i = 0;
  lua_pushnil(L);
  while (lua_next(L, idx)) {
    lua_pop(L, 1);
    if (lua_type(L, -1) == LUA_TSTRING) {
      keys[i].s = lua_tolstring(L, -1, &keys[i].len);  /* kept by table */
    } else {
      keys[i].isnum = 1;
      keys[i].isint = lua_isinteger(L, -1);
      keys[i].i = lua_tointeger(L, -1);
      keys[i].d = lua_tonumber(L, -1);
    }
    i++;
  }
  qsort(keys, count, sizeof *keys, key_cmp);
  for (i = 0; i < count && !rc; i++) {
    lgw__node_t *k, *v = NULL;
    int unsupported;
    if (keys[i].s) lua_pushlstring(L, keys[i].s, keys[i].len);
    else if (keys[i].isint) lua_pushinteger(L, keys[i].i);
    else lua_pushnumber(L, keys[i].d);
    k = scalar_node(L, -1, &unsupported);
    path->len = plen;
    if (lgw__buf_printf(path, "%s%s", plen ? "." : "",
                        lua_tostring(L, -1)))
      rc = LGW_ENOMEM;
    lua_rawget(L, idx);
    if (!k || rc) {
      rc = lgw__error_set(err, LGW_ENOMEM, "out of memory");
      lgw__node_free(k);
    } else {
      rc = to_node(L, lua_gettop(L), path, depth + 1, &v, err);
      if (rc) lgw__node_free(k);
      else if (lgw__node_append(node, k, v))
        rc = lgw__error_set(err, LGW_ENOMEM, "out of memory");
    }
    lua_pop(L, 1);
  }
  lgw_free(keys);
done:
  path->len = plen;
  if (path->data) path->data[plen] = '\0';
  if (rc) {
    lgw__node_free(node);
    return rc;
  }
  *out = node;
  return 0;
}

static int to_node(lua_State *L, int idx, lgw__buf_t *path, int depth,
                   lgw__node_t **out, lgw_error_t *err) {
  int unsupported;
  if (depth > MAX_DEPTH)
    return lgw__error_set(err, LGW_ECONFIG, "%s: nested too deeply",
                          path->len ? path->data : "(root)");
  if (lua_type(L, idx) == LUA_TTABLE) {
    if (!lua_checkstack(L, 6))
      return lgw__error_set(err, LGW_ENOMEM, "Lua stack overflow");
    return table_node(L, idx, path, depth, out, err);
  }
  *out = scalar_node(L, idx, &unsupported);
  if (unsupported)
    return lgw__error_set(err, LGW_ECONFIG, "%s: unsupported value of type "
                          "%s", path->len ? path->data : "(root)",
                          luaL_typename(L, idx));
  if (!*out) return lgw__error_set(err, LGW_ENOMEM, "out of memory");
  return 0;
}

int lgwL_to_node(lua_State *L, int idx, lgw__node_t **out,
                 lgw_error_t *err) {
  lgw__buf_t path;
  int rc;
  *out = NULL;
  lgw__buf_init(&path);
  rc = to_node(L, lua_absindex(L, idx), &path, 0, out, err);
  lgw__buf_free(&path);
  return rc;
}

static void push_key(lua_State *L, const lgw__node_t *k) {
  switch (k->type) {
    case LGW_NODE_INT: lua_pushinteger(L, (lua_Integer)k->i); break;
    case LGW_NODE_BOOL: lua_pushboolean(L, k->b); break;
    case LGW_NODE_STRING: lua_pushlstring(L, k->str, k->len); break;
    default: {
      const char *s = lgw__node_text(k);
      if (k->type == LGW_NODE_FLOAT && !isnan(k->d))
        lua_pushnumber(L, k->d);
      else
        lua_pushstring(L, s ? s : "null");  /* NaN cannot be a key */
    }
  }
}

static void push_node(lua_State *L, const lgw__node_t *n, int depth) {
  size_t i;
  if (depth > MAX_DEPTH) luaL_error(L, "configuration nested too deeply");
  luaL_checkstack(L, 4, NULL);
  if (!n) {
    lgwL_push_null(L);
    return;
  }
  switch (n->type) {
    case LGW_NODE_NULL: lgwL_push_null(L); break;
    case LGW_NODE_BOOL: lua_pushboolean(L, n->b); break;
    case LGW_NODE_INT: lua_pushinteger(L, (lua_Integer)n->i); break;
    case LGW_NODE_FLOAT: lua_pushnumber(L, n->d); break;
    case LGW_NODE_STRING: lua_pushlstring(L, n->str ? n->str : "", n->len);
      break;
    case LGW_NODE_SEQ:
      lua_createtable(L, (int)n->n, 0);
      for (i = 0; i < n->n; i++) {
        push_node(L, n->items[i], depth + 1);
        lua_rawseti(L, -2, (lua_Integer)i + 1);
      }
      break;
    case LGW_NODE_MAP:
      lua_createtable(L, 0, (int)n->n);
      for (i = 0; i < n->n; i++) {
        push_key(L, n->keys[i]);
        push_node(L, n->items[i], depth + 1);
        lua_rawset(L, -3);  /* the last duplicate wins, as in Python */
      }
      break;
  }
}

void lgwL_push_node(lua_State *L, const lgw__node_t *n) {
  push_node(L, n, 0);
}

/* ===== Lua values -> JSON text ========================================== */

#define JSON_MAX_DEPTH 200

static int json_fail(lgw_error_t *err, const char *path, const char *what) {
  return lgw__error_set(err, LGW_EINVAL, "cannot encode %s as JSON (at %s)",
                        what, path[0] ? path : "the top level");
}

typedef struct json_key {
  char *s;
  size_t len;
  int is_int;
  lua_Integer i;
} json_key_t;

static int cmp_key(const void *a, const void *b) {
  const json_key_t *x = a, *y = b;
  size_t n = x->len < y->len ? x->len : y->len;
  int c = memcmp(x->s, y->s, n);
  return c ? c : (x->len > y->len) - (x->len < y->len);
}

static int json_value(lua_State *L, int idx, lgw__buf_t *b, char *path,
                      size_t pathcap, int depth, lgw_error_t *err);

static const char empty_array;  /* its address is llm.empty_array */

void lgwL_push_empty_array(lua_State *L) {
  lua_pushlightuserdata(L, (void *)&empty_array);
}

/* Whether the table at idx has llm.array_mt. */
static int marked_array(lua_State *L, int idx) {
  int marked;
  if (!lua_getmetatable(L, idx)) return 0;
  luaL_getmetatable(L, LGWL_ARRAY);
  marked = lua_rawequal(L, -1, -2);
  lua_pop(L, 2);
  return marked;
}

/* Items 1..n of the table at idx as a JSON array. */
static int json_items(lua_State *L, int idx, lua_Integer n, lgw__buf_t *b,
                      char *path, size_t pathcap, int depth,
                      lgw_error_t *err) {
  size_t plen = strlen(path);
  lua_Integer i;
  int rc = lgw__buf_addc(b, '[');
  for (i = 1; !rc && i <= n; i++) {
    if (i > 1) rc = lgw__buf_addc(b, ',');
    snprintf(path + plen, pathcap - plen, "[%lld]", (long long)i);
    lua_rawgeti(L, idx, i);
    if (!rc) rc = json_value(L, -1, b, path, pathcap, depth + 1, err);
    lua_pop(L, 1);
  }
  path[plen] = '\0';
  return rc ? rc : lgw__buf_addc(b, ']');
}

/* A table: an array when its keys are exactly 1..n (n >= 1), else an
 * object with string (or integer) keys in byte order. */
static int json_table(lua_State *L, int idx, lgw__buf_t *b, char *path,
                      size_t pathcap, int depth, lgw_error_t *err) {
  size_t nkeys = 0, cap = 0, i, plen = strlen(path);
  json_key_t *keys = NULL;
  lua_Integer maxi = 0;
  int rc = 0, array = 1;
  idx = lua_absindex(L, idx);
  if (depth > JSON_MAX_DEPTH)
    return json_fail(err, path, "a table nested too deeply (or a cycle)");
  if (!lua_checkstack(L, 4))
    return lgw__error_set(err, LGW_ENOMEM, "out of memory (Lua stack)");
  if (marked_array(L, idx))
    return json_items(L, idx, (lua_Integer)lua_rawlen(L, idx), b, path,
                      pathcap, depth, err);
  lua_pushnil(L);
  while (!rc && lua_next(L, idx)) {
    json_key_t k;
    memset(&k, 0, sizeof k);
    if (lua_type(L, -2) == LUA_TNUMBER && lua_isinteger(L, -2)) {
      k.is_int = 1;
      k.i = lua_tointeger(L, -2);
      if (k.i < 1) array = 0;
      else if (k.i > maxi) maxi = k.i;
      k.s = lgw__sprintf("%lld", (long long)k.i);
    } else if (lua_type(L, -2) == LUA_TSTRING) {
      const char *s = lua_tolstring(L, -2, &k.len);
      array = 0;
      k.s = lgw__strndup(s, k.len);
    } else {
      rc = json_fail(err, path, lua_type(L, -2) == LUA_TNUMBER
                     ? "a table with a non-integer number key"
                     : "a table with a key that is not a string");
      lua_pop(L, 2);
      break;
    }
    if (k.s && k.is_int) k.len = strlen(k.s);
    if (nkeys == cap) {
      json_key_t *nk = lgw_realloc(keys, (cap ? cap * 2 : 8) * sizeof *nk);
      if (nk) {
        keys = nk;
        cap = cap ? cap * 2 : 8;
      }
    }
    if (!k.s || nkeys == cap) {
      lgw_free(k.s);
      rc = lgw__error_set(err, LGW_ENOMEM, "out of memory");
      lua_pop(L, 2);
      break;
    }
    keys[nkeys++] = k;
    lua_pop(L, 1);
  }
  if (array && (size_t)maxi != nkeys) array = 0;
  if (!rc && array && nkeys > 0) {
    rc = json_items(L, idx, (lua_Integer)nkeys, b, path, pathcap, depth,
                    err);
  } else if (!rc) {
    if (nkeys > 1) qsort(keys, nkeys, sizeof *keys, cmp_key);
    rc = lgw__buf_addc(b, '{');
    for (i = 0; !rc && i < nkeys; i++) {
      if (i > 0) rc = lgw__buf_addc(b, ',');
      if (!rc) rc = lgw__json_add_str(b, keys[i].s, keys[i].len);
      if (!rc) rc = lgw__buf_addc(b, ':');
      if (keys[i].is_int) {
        snprintf(path + plen, pathcap - plen, "[%s]", keys[i].s);
        lua_rawgeti(L, idx, keys[i].i);
      } else {
        snprintf(path + plen, pathcap - plen, "%s%.*s", plen ? "." : "",
                 (int)keys[i].len, keys[i].s);
        lua_pushlstring(L, keys[i].s, keys[i].len);
        lua_rawget(L, idx);
      }
      if (!rc) rc = json_value(L, -1, b, path, pathcap, depth + 1, err);
      lua_pop(L, 1);
    }
    if (!rc) rc = lgw__buf_addc(b, '}');
  }
  path[plen] = '\0';
  for (i = 0; i < nkeys; i++) lgw_free(keys[i].s);
  lgw_free(keys);
  if (rc == LGW_ENOMEM && !err->message[0])
    lgw__error_set(err, LGW_ENOMEM, "out of memory");
  return rc;
}

static int json_value(lua_State *L, int idx, lgw__buf_t *b, char *path,
                      size_t pathcap, int depth, lgw_error_t *err) {
  switch (lua_type(L, idx)) {
  case LUA_TBOOLEAN:
    return lgw__buf_adds(b, lua_toboolean(L, idx) ? "true" : "false");
  case LUA_TNUMBER:
    if (lua_isinteger(L, idx))
      return lgw__buf_printf(b, "%lld", (long long)lua_tointeger(L, idx));
    if (!isfinite(lua_tonumber(L, idx)))
      return json_fail(err, path, "a number that is not finite");
    return lgw__json_add_num(b, (double)lua_tonumber(L, idx));
  case LUA_TSTRING: {
    size_t len;
    const char *s = lua_tolstring(L, idx, &len);
    return lgw__json_add_str(b, s, len);
  }
  case LUA_TTABLE:
    return json_table(L, idx, b, path, pathcap, depth, err);
  case LUA_TLIGHTUSERDATA:
    if (lgwL_is_null(L, idx)) return lgw__buf_adds(b, "null");
    if (lua_touserdata(L, idx) == &empty_array) return lgw__buf_adds(b, "[]");
    /* fall through */
  default:
    return json_fail(err, path, luaL_typename(L, idx));
  }
}

int lgwL_to_json(lua_State *L, int idx, char **out, size_t *len,
                 lgw_error_t *err) {
  lgw__buf_t b;
  char path[256] = "";
  int rc;
  *out = NULL;
  lgw__buf_init(&b);
  rc = json_value(L, idx, &b, path, sizeof path, 0, err);
  if (rc) {
    lgw__buf_free(&b);
    if (rc == LGW_ENOMEM)
      lgw__error_set(err, LGW_ENOMEM, "out of memory");
    return rc;
  }
  *len = b.len;
  *out = lgw__buf_steal(&b);
  return *out ? 0 : lgw__error_set(err, LGW_ENOMEM, "out of memory");
}
