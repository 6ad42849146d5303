/*
 * lua_convert.c -- conversions between Lua values and the C core's types:
 * request tables to lgw_request_t, results and errors to Lua tables
 * (llmgateway.Error), and Lua tables to and from value trees
 * (lgw_value_t). No behaviour lives here.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "lua_priv.h"

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
  lgw_tool_call_t *tool_calls;  /* strings owned (cast on free) */
  size_t ntool_calls;
  int has_message;          /* the answer's assistant message */
  char *message_content;
  size_t message_len;
  double *vectors;          /* embeddings: nvectors * dim */
  size_t nvectors, dim;
  int pooled;               /* one block: the attempts, the tool calls and
                             * every string live in this allocation */
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

/* Whether every string key of the table at idx is in known (a list of
 * at most 32 names); *have gets a bit per known key present (every bit
 * when the table has a metatable, whose __index may supply fields). */
static int keys_known(lua_State *L, int idx, const char *const known[],
                      unsigned long *have) {
  unsigned long mask = 0;
  idx = lua_absindex(L, idx);
  lua_pushnil(L);
  while (lua_next(L, idx)) {
    const char *k;
    size_t i;
    lua_pop(L, 1);
    if (lua_type(L, -1) != LUA_TSTRING) continue;
    k = lua_tostring(L, -1);
    for (i = 0; known[i] && strcmp(known[i], k) != 0; i++) {}
    if (!known[i]) {
      lua_pop(L, 1);
      return 0;
    }
    mask |= 1UL << i;
  }
  if (lua_getmetatable(L, idx)) {
    lua_pop(L, 1);
    mask = ~0UL;
  }
  *have = mask;
  return 1;
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

/* The keys of results, attempts, usage and errors, made into Lua strings
 * once per state (a table in the registry, by index): setting a field
 * then costs no interning of its name (lua_setfield's). */
#define RESULT_KEYS(X) \
  X(task) X(text) X(requested_model) X(normalized_model) \
  X(reasoning_effort) X(temperature) X(max_tokens) X(provider) X(type) \
  X(base_url) X(index) X(api_style) X(usage) X(cost) X(ttft) \
  X(finish_reason) X(message) X(role) X(content) X(usage_total) \
  X(cost_total) X(attempts) X(provider_index) X(provider_type) X(model) \
  X(status) X(code) X(elapsed) X(retry_delay) X(configured_index) \
  X(input_tokens) X(output_tokens) X(cached_tokens) X(reasoning_tokens) \
  X(providers_tried) X(partial_text) X(refusal)
#define RK_ENUM(n) RK_##n,
#define RK_NAME(n) #n,
enum { RK_NONE_, RESULT_KEYS(RK_ENUM) RK_COUNT_ };
static const char *const rk_names[] = {NULL, RESULT_KEYS(RK_NAME) NULL};
static const char rk_anchor = 0;  /* its address: the registry key */

/* The same table keeps, at RK_COUNT_ + id, the last string value set
 * under key id (see kset_str). */
#define RK_CACHED(id) (RK_COUNT_ + (id))

/* Pushes the table of keys; returns its (absolute) index. */
static int push_keys(lua_State *L) {
  int i;
  lua_pushlightuserdata(L, (void *)&rk_anchor);
  if (lua_rawget(L, LUA_REGISTRYINDEX) == LUA_TTABLE) return lua_gettop(L);
  lua_pop(L, 1);
  lua_createtable(L, RK_CACHED(RK_COUNT_), 0);
  for (i = 1; i < RK_COUNT_; i++) {
    lua_pushstring(L, rk_names[i]);
    lua_rawseti(L, -2, i);
  }
  lua_pushlightuserdata(L, (void *)&rk_anchor);
  lua_pushvalue(L, -2);
  lua_rawset(L, LUA_REGISTRYINDEX);
  return lua_gettop(L);
}

/* push_keys, by the integer reference kept in m (made on first use)
 * when m is not NULL: cheaper than the light userdata key. */
static int push_keys_m(lua_State *L, lgwL_module_t *m) {
  int ks;
  if (m && m->keys_ref > 0) {
    lua_rawgeti(L, LUA_REGISTRYINDEX, m->keys_ref);
    return lua_gettop(L);
  }
  ks = push_keys(L);
  if (m) {
    lua_pushvalue(L, ks);
    m->keys_ref = luaL_ref(L, LUA_REGISTRYINDEX);
  }
  return ks;
}

/* stack: ..., t, v -> ..., t with t[key id] = v (t: a new table, no
 * metatable, so the same as lua_setfield). ks: the keys' index. */
static void kset(lua_State *L, int ks, int id) {
  lua_rawgeti(L, ks, id);
  lua_insert(L, -2);
  lua_rawset(L, -3);
}

/* Pushes the key id, for a value built next and then stored with
 * lua_rawset(L, -3): no lua_insert, as kset needs. */
static void kkey(lua_State *L, int ks, int id) {
  lua_rawgeti(L, ks, id);
}

/* t[key id] = v (NULL as ""). Results repeat the same few values
 * (task, models, provider, URL) from copies at new addresses, where
 * lua_pushstring hashes and looks up the string again: the Lua string
 * last set under id is reused when it has the same bytes (strings are
 * values: nothing tells the two apart). */
static void kset_str(lua_State *L, int ks, int id, const char *v) {
  if (!v) v = "";
  lua_rawgeti(L, ks, id);
  if (lua_rawgeti(L, ks, RK_CACHED(id)) != LUA_TSTRING ||
      strcmp(lua_tostring(L, -1), v) != 0) {
    /* (the cached string never holds a NUL: it came from a C string) */
    lua_pop(L, 1);
    lua_pushstring(L, v);
    lua_pushvalue(L, -1);
    lua_rawseti(L, ks, RK_CACHED(id));
  }
  lua_rawset(L, -3);
}

static void kset_num(lua_State *L, int ks, int id, double v) {
  lua_rawgeti(L, ks, id);
  lua_pushnumber(L, v);
  lua_rawset(L, -3);
}

static void kset_int(lua_State *L, int ks, int id, lua_Integer v) {
  lua_rawgeti(L, ks, id);
  lua_pushinteger(L, v);
  lua_rawset(L, -3);
}

/* A seconds or money value the engine gives as -1 when unknown: nil. */
static void kset_known(lua_State *L, int ks, int id, double v) {
  if (v < 0) return;
  kset_num(L, ks, id, v);
}

static void push_usage(lua_State *L, int ks, const lgw_usage_t *u) {
  /* sized to the counts known: a result holds several of these */
  lua_createtable(L, 0, (u->input_tokens >= 0) + (u->output_tokens >= 0) +
                  (u->cached_tokens >= 0) + (u->reasoning_tokens >= 0));
  if (u->input_tokens >= 0)
    kset_int(L, ks, RK_input_tokens, u->input_tokens);
  if (u->output_tokens >= 0)
    kset_int(L, ks, RK_output_tokens, u->output_tokens);
  if (u->cached_tokens >= 0)
    kset_int(L, ks, RK_cached_tokens, u->cached_tokens);
  if (u->reasoning_tokens >= 0)
    kset_int(L, ks, RK_reasoning_tokens, u->reasoning_tokens);
}

void lgwL_push_usage(lua_State *L, const lgw_usage_t *u) {
  int ks = push_keys(L);
  push_usage(L, ks, u);
  lua_remove(L, ks);
}

/* stack: ... -> ..., attempts */
static void push_attempts(lua_State *L, int ks, const lgw_attempt_t *a,
                          size_t n) {
  size_t i;
  lua_createtable(L, (int)n, 0);
  for (i = 0; i < n; i++) {
    lua_createtable(L, 0, 13);
    kset_int(L, ks, RK_provider_index, a[i].provider_index);
    kset_str(L, ks, RK_provider_type, a[i].provider_type);
    kset_str(L, ks, RK_base_url, a[i].base_url);
    kset_str(L, ks, RK_model, a[i].model);
    kset_int(L, ks, RK_status, a[i].http_status);
    kset_str(L, ks, RK_code, lgw_err_name(a[i].code));
    kset_str(L, ks, RK_message, a[i].message);
    kset_num(L, ks, RK_elapsed, a[i].elapsed);
    kset_num(L, ks, RK_retry_delay, a[i].retry_delay);
    kset_int(L, ks, RK_configured_index, a[i].configured_index);
    kkey(L, ks, RK_usage);
    push_usage(L, ks, &a[i].usage);
    lua_rawset(L, -3);
    kset_known(L, ks, RK_cost, a[i].cost);
    kset_known(L, ks, RK_ttft, a[i].ttft);
    lua_rawseti(L, -2, (lua_Integer)i + 1);
  }
}

/* usage_total and cost_total of a result or an error. */
static void push_totals(lua_State *L, int ks, const lgwL_result_t *r) {
  kkey(L, ks, RK_usage_total);
  push_usage(L, ks, &r->usage_total);
  lua_rawset(L, -3);
  kset_known(L, ks, RK_cost_total, r->cost_total);
}

void lgwL_push_error(lua_State *L, const lgw_error_t *err,
                     const lgwL_result_t *res) {
  int ks;
  luaL_checkstack(L, 10, NULL);
  ks = push_keys(L);
  lua_createtable(L, 0, 4);
  kset_str(L, ks, RK_code, lgw_err_name(err->code));
  kset_str(L, ks, RK_message, err->message);
  kset_int(L, ks, RK_status, err->http_status);
  push_attempts(L, ks, res ? res->attempts : NULL, res ? res->nattempts : 0);
  kset(L, ks, RK_attempts);
  kset_int(L, ks, RK_providers_tried, res ? res->providers_tried : 0);
  if (res) {
    push_totals(L, ks, res);
    if (res->partial_text) {
      lua_pushlstring(L, res->partial_text, res->partial_len);
      kset(L, ks, RK_partial_text);
    }
    if (res->refusal) {
      lua_pushlstring(L, res->refusal, res->refusal_len);
      kset(L, ks, RK_refusal);
    }
  }
  luaL_setmetatable(L, LGWL_ERROR);
  lua_remove(L, ks);
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
  err.code = code;
  vsnprintf(err.message, sizeof err.message, fmt, ap);
  va_end(ap);
  return lgwL_fail(L, &err);
}

/* ===== Results ========================================================== */

void lgwL_result_free(lgwL_result_t *r) {
  size_t i;
  if (!r) return;
  if (r->pooled) {
    lgw_free(r);
    return;
  }
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
  for (i = 0; i < r->ntool_calls; i++) {
    lgw_free((char *)r->tool_calls[i].id);
    lgw_free((char *)r->tool_calls[i].name);
    lgw_free((char *)r->tool_calls[i].arguments_json);
  }
  lgw_free(r->tool_calls);
  lgw_free(r->message_content);
  lgw_free(r->vectors);
  lgw_free(r);
}

/* strdup that treats NULL as "" so a NULL result means out of memory. */
static char *dup_or_empty(const char *s, int *oom) {
  char *p = lgwL_strdup(s ? s : "");
  if (!p) *oom = 1;
  return p;
}

/* Owned copies of n attempts into *dst and *ndst (*ndst stays 0 and *oom is
 * set when the array cannot be allocated). */
static void copy_attempts(lgw_attempt_t **dst, size_t *ndst,
                          const lgw_attempt_t *src, size_t n, int *oom) {
  size_t i;
  if (!n) return;
  *dst = lgwL_calloc(n, sizeof **dst);
  if (!*dst) {
    *oom = 1;
    return;
  }
  *ndst = n;
  for (i = 0; i < n; i++) {
    lgw_attempt_t *a = &(*dst)[i];
    *a = src[i];
    a->provider_type = dup_or_empty(src[i].provider_type, oom);
    a->base_url = dup_or_empty(src[i].base_url, oom);
    a->model = dup_or_empty(src[i].model, oom);
    a->message = dup_or_empty(src[i].message, oom);
  }
}

/* Bytes of the copy of string s (NULL as ""), its NUL included. */
static size_t str_size(const char *s) { return (s ? strlen(s) : 0) + 1; }

/* Copies n bytes of s (NULL as "") and a NUL at *p; returns the copy and
 * moves *p past it. */
static char *put_str(char **p, const char *s, size_t n) {
  char *d = *p;
  if (n) memcpy(d, s, n);
  d[n] = '\0';
  *p += n + 1;
  return d;
}

static char *put_cstr(char **p, const char *s) {
  return put_str(p, s ? s : "", s ? strlen(s) : 0);
}

#define POOL_ALIGN(n) (((n) + 15) & ~(size_t)15)

/* One allocation for the record, its attempts and tool calls and every
 * string (a result is freed at once, never in parts). */
lgwL_result_t *lgwL_result_copy(const lgw_result_t *r, int text_only) {
  size_t na = text_only ? 0 : r->nattempts;
  size_t nt = text_only ? 0 : r->ntool_calls;
  size_t strs = 0, off_a, off_t, off_s, i;
  int share = 0;
  lgwL_result_t *c;
  char *p;
  if (r->text) strs += r->text_len + 1;
  if (r->refusal) strs += r->refusal_len + 1;
  if (!text_only) {
    strs += str_size(r->task) + str_size(r->requested_model) +
            str_size(r->normalized_model) + str_size(r->reasoning_effort) +
            str_size(r->provider_type) + str_size(r->api_style) +
            str_size(r->base_url);
    if (r->partial_text) strs += r->partial_len + 1;
    for (i = 0; i < na; i++)
      strs += str_size(r->attempts[i].provider_type) +
              str_size(r->attempts[i].base_url) +
              str_size(r->attempts[i].model) +
              str_size(r->attempts[i].message);
    for (i = 0; i < nt; i++)
      strs += str_size(r->tool_calls[i].id) +
              str_size(r->tool_calls[i].name) +
              str_size(r->tool_calls[i].arguments_json);
    if (r->message) {
      const char *mc = r->message->content ? r->message->content : "";
      size_t ml = strlen(mc);
      /* the assistant message's content is most often the text: then
       * it shares the text's copy (and its Lua string) */
      share = r->text && ml == r->text_len && !memcmp(mc, r->text, ml);
      if (!share) strs += ml + 1;
    }
  }
  off_a = POOL_ALIGN(sizeof *c);
  off_t = POOL_ALIGN(off_a + na * sizeof *c->attempts);
  off_s = off_t + nt * sizeof *c->tool_calls;
  c = lgw_malloc(off_s + strs);
  if (!c) return NULL;
  memset(c, 0, off_s);  /* the record and the arrays */
  c->pooled = 1;
  p = (char *)c + off_s;
  if (r->text) {
    c->text = put_str(&p, r->text, r->text_len);
    c->text_len = r->text_len;
  }
  c->usage = r->usage;
  c->usage_total = r->usage_total;
  c->cost = r->cost;
  c->cost_total = r->cost_total;
  c->finish_reason = r->finish_reason;
  if (r->refusal) {
    c->refusal = put_str(&p, r->refusal, r->refusal_len);
    c->refusal_len = r->refusal_len;
  }
  c->providers_tried = r->providers_tried;
  if (text_only) return c;
  c->task = put_cstr(&p, r->task);
  c->requested_model = put_cstr(&p, r->requested_model);
  c->normalized_model = put_cstr(&p, r->normalized_model);
  c->reasoning_effort = put_cstr(&p, r->reasoning_effort);
  c->provider_type = put_cstr(&p, r->provider_type);
  c->api_style = put_cstr(&p, r->api_style);
  c->base_url = put_cstr(&p, r->base_url);
  c->temperature = r->temperature;
  c->max_tokens = r->max_tokens;
  c->provider_index = r->provider_index;
  c->ttft = r->ttft;
  if (r->partial_text) {
    c->partial_text = put_str(&p, r->partial_text, r->partial_len);
    c->partial_len = r->partial_len;
  }
  if (na) {
    c->attempts = (lgw_attempt_t *)(void *)((char *)c + off_a);
    c->nattempts = na;
  }
  for (i = 0; i < na; i++) {
    lgw_attempt_t *a = &c->attempts[i];
    *a = r->attempts[i];
    a->provider_type = put_cstr(&p, r->attempts[i].provider_type);
    a->base_url = put_cstr(&p, r->attempts[i].base_url);
    a->model = put_cstr(&p, r->attempts[i].model);
    a->message = put_cstr(&p, r->attempts[i].message);
  }
  if (nt) {
    c->tool_calls = (lgw_tool_call_t *)(void *)((char *)c + off_t);
    c->ntool_calls = nt;
  }
  for (i = 0; i < nt; i++) {
    c->tool_calls[i].id = put_cstr(&p, r->tool_calls[i].id);
    c->tool_calls[i].name = put_cstr(&p, r->tool_calls[i].name);
    c->tool_calls[i].arguments_json =
        put_cstr(&p, r->tool_calls[i].arguments_json);
  }
  if (r->message) {
    c->has_message = 1;
    if (share) {
      c->message_content = c->text;
      c->message_len = c->text_len;
    } else {
      c->message_content = put_cstr(&p, r->message->content);
      c->message_len = strlen(c->message_content);
    }
  }
  return c;
}

lgwL_result_t *lgwL_embed_copy(const lgw_embed_result_t *r) {
  lgwL_result_t *c = lgwL_calloc(1, sizeof *c);
  int oom = 0;
  size_t n;
  if (!c) return NULL;
  c->task = dup_or_empty(r->task, &oom);
  c->normalized_model = dup_or_empty(r->model, &oom);
  c->provider_type = dup_or_empty(r->provider_type, &oom);
  c->api_style = dup_or_empty(r->api_style, &oom);
  c->base_url = dup_or_empty(r->base_url, &oom);
  c->provider_index = r->provider_index;
  c->usage = c->usage_total = r->usage;
  c->cost = c->cost_total = r->cost;
  n = r->vectors ? r->nvectors * r->dim : 0;
  if (n) {
    c->vectors = lgwL_calloc(n, sizeof *c->vectors);
    if (!c->vectors) oom = 1;
    else memcpy(c->vectors, r->vectors, n * sizeof *c->vectors);
  }
  if (c->vectors || !n) {
    c->nvectors = r->vectors ? r->nvectors : 0;
    c->dim = r->dim;
  }
  copy_attempts(&c->attempts, &c->nattempts, r->attempts, r->nattempts,
                &oom);
  if (oom) {
    lgwL_result_free(c);
    return NULL;
  }
  return c;
}

/* The provider that answered (never its key), the answer's usage and
 * cost, into the table on top. */
static void push_answerer(lua_State *L, int ks, const lgwL_result_t *r) {
  kkey(L, ks, RK_provider);
  lua_createtable(L, 0, 4);  /* never the key */
  kset_str(L, ks, RK_type, r->provider_type);
  kset_str(L, ks, RK_base_url, r->base_url);
  kset_int(L, ks, RK_index, r->provider_index);
  kset_str(L, ks, RK_api_style, r->api_style);
  lua_rawset(L, -3);
  kkey(L, ks, RK_usage);
  push_usage(L, ks, &r->usage);
  lua_rawset(L, -3);
  kset_known(L, ks, RK_cost, r->cost);
}

/* {task, vectors = {{...}, ...}, model, usage, cost, provider, attempts} */
static void push_embed(lua_State *L, const lgwL_result_t *r) {
  size_t i, j;
  int ks = push_keys(L);
  lua_createtable(L, 0, 8);
  kset_str(L, ks, RK_task, r->task);
  lua_createtable(L, (int)r->nvectors, 0);
  for (i = 0; i < r->nvectors; i++) {
    lua_createtable(L, (int)r->dim, 0);
    for (j = 0; j < r->dim; j++) {
      lua_pushnumber(L, r->vectors[i * r->dim + j]);
      lua_rawseti(L, -2, (lua_Integer)j + 1);
    }
    lua_rawseti(L, -2, (lua_Integer)i + 1);
  }
  lua_setfield(L, -2, "vectors");
  kset_str(L, ks, RK_model, r->normalized_model);
  push_answerer(L, ks, r);
  push_attempts(L, ks, r->attempts, r->nattempts);
  kset(L, ks, RK_attempts);
  lua_remove(L, ks);
}

/* A usage_total count for summing: unknown (-1) counts as 0. */
static void push_count(lua_State *L, long n) {
  lua_pushinteger(L, n > 0 ? (lua_Integer)n : 0);
}

/* A decoded JSON object: a table without llm.array_mt. */
static int is_object(lua_State *L, int idx) {
  if (lua_type(L, idx) != LUA_TTABLE) return 0;
  if (!lua_getmetatable(L, idx)) return 1;
  lua_pop(L, 1);
  return 0;
}

/* The result's tool calls: {id, name, arguments_json} and, when decoded,
 * arguments (a table; nil and error = why when the JSON is invalid or not
 * an object). An empty arguments_json means {}. */
static void push_tool_calls(lua_State *L, const lgwL_result_t *r,
                            int decoded) {
  size_t i;
  luaL_checkstack(L, 6, NULL);
  lua_createtable(L, (int)r->ntool_calls, 0);
  for (i = 0; i < r->ntool_calls; i++) {
    const char *a = r->tool_calls[i].arguments_json;
    lua_createtable(L, 0, 5);
    set_str(L, "id", r->tool_calls[i].id);
    set_str(L, "name", r->tool_calls[i].name);
    set_str(L, "arguments_json", a);
    if (decoded) {
      if (!*a) {
        lua_newtable(L);
        lua_setfield(L, -2, "arguments");
      } else if (!lgwL_push_json_text(L, a, strlen(a))) {
        set_str(L, "error", "the arguments are not valid JSON");
      } else if (!is_object(L, -1)) {
        lua_pop(L, 1);
        set_str(L, "error", "the arguments are not a JSON object");
      } else {
        lua_setfield(L, -2, "arguments");
      }
    }
    lua_rawseti(L, -2, (lua_Integer)i + 1);
  }
}

int lgwL_push_result(lua_State *L, lgwL_module_t *m, const lgwL_result_t *r,
                     int form) {
  int ks, ti = 0;
  luaL_checkstack(L, 14, NULL);
  if (form == LGWL_PUSH_TEXT) {
    lua_pushlstring(L, r->text ? r->text : "", r->text_len);
    return 1;
  }
  if (form == LGWL_PUSH_EMBED) {
    push_embed(L, r);
    return 1;
  }
  ks = push_keys_m(L, m);
  if (form == LGWL_PUSH_TOTALS) {
    lua_pushlstring(L, r->text ? r->text : "", r->text_len);
    push_usage(L, ks, &r->usage);
    if (r->cost < 0) lua_pushnil(L);
    else lua_pushnumber(L, r->cost);
    if (r->cost_total < 0) lua_pushnil(L);
    else lua_pushnumber(L, r->cost_total);
    push_count(L, r->usage_total.input_tokens);
    push_count(L, r->usage_total.output_tokens);
    push_count(L, r->usage_total.cached_tokens);
    push_count(L, r->usage_total.reasoning_tokens);
    lua_remove(L, ks);
    return 8;
  }
  /* the text, kept below the table when the message's content is the
   * same bytes (lgwL_result_copy shares them): one Lua string for both */
  if (r->has_message && r->text && r->message_content == r->text) {
    lua_pushlstring(L, r->text, r->text_len);
    ti = lua_gettop(L);
  }
  lua_createtable(L, 0, 15);
  kset_str(L, ks, RK_task, r->task);
  kkey(L, ks, RK_text);
  if (ti) lua_pushvalue(L, ti);
  else lua_pushlstring(L, r->text ? r->text : "", r->text_len);
  lua_rawset(L, -3);
  kset_str(L, ks, RK_requested_model, r->requested_model);
  kset_str(L, ks, RK_normalized_model, r->normalized_model);
  kset_str(L, ks, RK_reasoning_effort, r->reasoning_effort);
  kset_num(L, ks, RK_temperature, r->temperature);
  kset_int(L, ks, RK_max_tokens, r->max_tokens);
  push_answerer(L, ks, r);
  kset_known(L, ks, RK_ttft, r->ttft);
  if (r->finish_reason)
    kset_str(L, ks, RK_finish_reason, r->finish_reason);
  if (r->ntool_calls) {
    push_tool_calls(L, r, 1);
    lua_setfield(L, -2, "tool_calls");
  }
  if (r->has_message) {
    kkey(L, ks, RK_message);
    lua_createtable(L, 0, r->ntool_calls ? 3 : 2);
    kset_str(L, ks, RK_role, "assistant");
    kkey(L, ks, RK_content);
    if (ti) lua_pushvalue(L, ti);
    else lua_pushlstring(L, r->message_content, r->message_len);
    lua_rawset(L, -3);
    if (r->ntool_calls) {
      push_tool_calls(L, r, 0);
      lua_setfield(L, -2, "tool_calls");
    }
    lua_rawset(L, -3);
  }
  push_totals(L, ks, r);
  kkey(L, ks, RK_attempts);
  push_attempts(L, ks, r->attempts, r->nattempts);
  lua_rawset(L, -3);
  if (ti) lua_remove(L, ti);
  lua_remove(L, ks);
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

void lgwL_push_event(lua_State *L, const lgw_event_t *ev) {
  luaL_checkstack(L, 6, NULL);
  lua_createtable(L, 0, 18);
  set_str(L, "type", lgw_event_name(ev->type));
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
/* Bits of request_keys below: which fields a request table has. */
enum {
  K_TASK, K_MESSAGES, K_MODEL, K_TIER, K_TEMPERATURE, K_REASONING_EFFORT,
  K_MAX_TOKENS, K_DEADLINE, K_ON_DELTA, K_TOOLS, K_TOOL_CHOICE,
  K_PARALLEL_TOOL_CALLS, K_SCHEMA, K_SCHEMA_NAME, K_STRICT, K_STOP, K_TOP_P,
  K_SEED, K_USER, K_METADATA, K_EXTRA, K_ON_TOOL_DELTA
};

/* lua_getfield(L, t, k), or a nil without a look-up when the bit of k is
 * not in have. */
static int field(lua_State *L, int t, const char *k, unsigned long have,
                 int bit) {
  if (!(have & (1UL << bit))) {
    lua_pushnil(L);
    return LUA_TNIL;
  }
  return lua_getfield(L, t, k);
}

static const char *opt_field_str(lua_State *L, int arg, int t,
                                 const char *k, unsigned long have, int bit) {
  const char *s = NULL;
  int ty = field(L, t, k, have, bit);
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
                           lgw_request_t *out, unsigned long have) {
  int ty;
  out->model = opt_field_str(L, arg, t, "model", have, K_MODEL);
  out->tier = opt_field_str(L, arg, t, "tier", have, K_TIER);
  out->reasoning_effort = opt_field_str(L, arg, t, "reasoning_effort", have,
                                        K_REASONING_EFFORT);
  ty = field(L, t, "temperature", have, K_TEMPERATURE);
  if (ty == LUA_TNUMBER) {
    out->has_temperature = 1;
    out->temperature = lua_tonumber(L, -1);
  } else if (ty != LUA_TNIL) {
    lgwL_argerror_path(L, arg, "temperature", "number", -1);
  }
  lua_pop(L, 1);
  /* 0, as nil, means the task's value (as the Python library's `or`) */
  ty = field(L, t, "max_tokens", have, K_MAX_TOKENS);
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
  ty = field(L, t, "deadline", have, K_DEADLINE);
  if (ty == LUA_TNUMBER && lua_tonumber(L, -1) >= 0) {
    out->deadline = lua_tonumber(L, -1);
  } else if (ty != LUA_TNIL) {
    lgwL_argerror_value(L, arg, "deadline", "non-negative number", -1);
  }
  lua_pop(L, 1);
}

/* Anchors the value on top of the stack in the keeper at kp (a table
 * made on first use: nil until then) and pops it. */
static void keep(lua_State *L, int kp) {
  if (lua_type(L, kp) != LUA_TTABLE) {
    lua_createtable(L, 4, 0);
    lua_replace(L, kp);
  }
  lua_rawseti(L, kp, (lua_Integer)lua_rawlen(L, kp) + 1);
}

/* Lua-managed memory of a request, anchored in the keeper at kp (on the
 * stack until the request is submitted, which copies it all), so that an
 * argument error raised halfway leaks nothing. */
static void *keep_new(lua_State *L, int kp, size_t size) {
  void *p = lua_newuserdatauv(L, size ? size : 1, 0);
  memset(p, 0, size ? size : 1);
  keep(L, kp);
  return p;
}

/* The value at idx as JSON text, anchored in the keeper. */
static const char *keep_json(lua_State *L, int arg, int kp, int idx,
                             const char *path) {
  char *text;
  size_t len;
  lgw_error_t err;
  const char *s;
  memset(&err, 0, sizeof err);
  idx = lua_absindex(L, idx);
  if (lgwL_to_json(L, idx, &text, &len, &err))
    luaL_argerror(L, arg, lua_pushfstring(L, "%s: %s", path, err.message));
  lgwL_push_text_free(L, text, len);
  s = lua_tostring(L, -1);
  keep(L, kp);
  return s;  /* kept alive by the keeper */
}

/* String field k of the table at t (path names it); NULL when nil, an
 * argument error when required and nil. The string stays alive with the
 * table. */
static const char *path_str(lua_State *L, int arg, int t, const char *path,
                            const char *k, int required) {
  const char *s = NULL;
  int ty = lua_getfield(L, t, k);
  if (ty == LUA_TSTRING) {
    s = lua_tostring(L, -1);
  } else if (ty != LUA_TNIL || required) {
    lgwL_argerror_path(L, arg, lua_pushfstring(L, "%s.%s", path, k),
                       "string", -2);
  }
  lua_pop(L, 1);
  return s;
}

static const char *const message_keys[] = {
  "role", "content", "name", "tool_calls", "tool_call_id", "is_error", NULL
};
static const char *const part_keys[] = {
  "type", "text", "url", "data", "media_type", "detail", "filename", NULL
};
static const char *const call_keys[] = {
  "id", "name", "arguments", "arguments_json", "error", NULL
};
static const char *const tool_keys[] = {
  "name", "description", "parameters", "strict", NULL
};

/* The content parts list at ci of message path. */
static void read_parts(lua_State *L, int arg, int kp, int ci,
                       const char *path, lgw_rich_message_t *m) {
  lua_Integer n = (lua_Integer)lua_rawlen(L, ci), j;
  lgw_part_t *parts = keep_new(L, kp, (size_t)n * sizeof *parts);
  for (j = 1; j <= n; j++) {
    lgw_part_t *pt = &parts[j - 1];
    const char *pp, *ty;
    int top = lua_gettop(L), t;
    if (lua_rawgeti(L, ci, j) != LUA_TTABLE) {
      lgwL_argerror_path(L, arg, lua_pushfstring(L, "%s.content[%d]", path,
                                                 (int)j), "table", -2);
    }
    t = lua_gettop(L);
    pp = lua_pushfstring(L, "%s.content[%d]", path, (int)j);
    lgwL_check_keys(L, arg, t, lua_pushfstring(L, "%s.", pp), part_keys);
    ty = path_str(L, arg, t, pp, "type", 1);
    if (!strcmp(ty, "text")) {
      pt->type = LGW_PART_TEXT;
      pt->text = path_str(L, arg, t, pp, "text", 1);
    } else if (!strcmp(ty, "image") || !strcmp(ty, "file")) {
      size_t len = 0;
      pt->type = ty[0] == 'i' ? LGW_PART_IMAGE : LGW_PART_FILE;
      if (pt->type == LGW_PART_IMAGE)
        pt->url = path_str(L, arg, t, pp, "url", 0);
      pt->data = path_str(L, arg, t, pp, "data", !pt->url);
      if (pt->data) {
        lua_getfield(L, t, "data");
        lua_tolstring(L, -1, &len);
        lua_pop(L, 1);
        pt->data_len = len;
        pt->media_type = path_str(L, arg, t, pp, "media_type", 1);
      }
      pt->detail = path_str(L, arg, t, pp, "detail", 0);
      pt->filename = path_str(L, arg, t, pp, "filename", 0);
    } else {
      lua_getfield(L, t, "type");
      lgwL_argerror_value(L, arg, lua_pushfstring(L, "%s.type", pp),
                          "\"text\", \"image\" or \"file\"", -2);
    }
    lua_settop(L, top);
  }
  m->parts = parts;
  m->nparts = (size_t)n;
}

/* The tool_calls list at li of message path. */
static void read_calls(lua_State *L, int arg, int kp, int li,
                       const char *path, lgw_rich_message_t *m) {
  lua_Integer n = (lua_Integer)lua_rawlen(L, li), j;
  lgw_tool_call_t *calls = keep_new(L, kp, (size_t)n * sizeof *calls);
  for (j = 1; j <= n; j++) {
    lgw_tool_call_t *tc = &calls[j - 1];
    const char *cp;
    int top = lua_gettop(L), t;
    if (lua_rawgeti(L, li, j) != LUA_TTABLE) {
      lgwL_argerror_path(L, arg, lua_pushfstring(L, "%s.tool_calls[%d]",
                                                 path, (int)j), "table", -2);
    }
    t = lua_gettop(L);
    cp = lua_pushfstring(L, "%s.tool_calls[%d]", path, (int)j);
    lgwL_check_keys(L, arg, t, lua_pushfstring(L, "%s.", cp), call_keys);
    tc->id = path_str(L, arg, t, cp, "id", 1);
    tc->name = path_str(L, arg, t, cp, "name", 1);
    tc->arguments_json = path_str(L, arg, t, cp, "arguments_json", 0);
    if (!tc->arguments_json) {
      int ty = lua_getfield(L, t, "arguments");
      if (ty == LUA_TTABLE) {
        int ai = lua_gettop(L);
        tc->arguments_json = keep_json(L, arg, kp, ai, lua_pushfstring(
            L, "%s.arguments", cp));
      } else if (ty != LUA_TNIL) {
        lgwL_argerror_path(L, arg, lua_pushfstring(L, "%s.arguments", cp),
                           "table", -2);
      }
    }
    lua_settop(L, top);
  }
  m->tool_calls = calls;
  m->ntool_calls = (size_t)n;
}

/* Whether message t needs more than {role, content = string}; others:
 * whether it may have fields other than role and content. */
static int is_rich(lua_State *L, int t, int others) {
  static const char *const k[] = {"name", "tool_calls", "tool_call_id",
                                  "is_error"};
  size_t i;
  int rich = lua_getfield(L, t, "content") == LUA_TTABLE;
  lua_pop(L, 1);
  for (i = 0; !rich && others && i < sizeof k / sizeof *k; i++) {
    rich = lua_getfield(L, t, k[i]) != LUA_TNIL;
    lua_pop(L, 1);
  }
  return rich;
}

/* One rich message (table at t) into m. */
static void read_rich(lua_State *L, int arg, int kp, int t, int i,
                      lgw_rich_message_t *m) {
  int top = lua_gettop(L), ty;
  const char *path = lua_pushfstring(L, "messages[%d]", i);
  m->role = path_str(L, arg, t, path, "role", 0);
  m->name = path_str(L, arg, t, path, "name", 0);
  m->tool_call_id = path_str(L, arg, t, path, "tool_call_id", 0);
  ty = lua_getfield(L, t, "is_error");
  if (ty == LUA_TBOOLEAN) m->is_error = lua_toboolean(L, -1);
  else if (ty != LUA_TNIL)
    lgwL_argerror_path(L, arg, lua_pushfstring(L, "%s.is_error", path),
                       "boolean", -2);
  ty = lua_getfield(L, t, "tool_calls");
  if (ty == LUA_TTABLE) read_calls(L, arg, kp, lua_gettop(L), path, m);
  else if (ty != LUA_TNIL)
    lgwL_argerror_path(L, arg, lua_pushfstring(L, "%s.tool_calls", path),
                       "table", -2);
  ty = lua_getfield(L, t, "content");
  if (ty == LUA_TTABLE) {
    read_parts(L, arg, kp, lua_gettop(L), path, m);
  } else if (ty == LUA_TSTRING) {
    m->content = lua_tostring(L, -1);
  } else if (ty != LUA_TNIL || !m->ntool_calls) {
    lgwL_argerror_path(L, arg, lua_pushfstring(L, "%s.content", path),
                       "string or table", -2);
  }
  lua_settop(L, top);
}

/* Validates the messages list at mi and fills out's messages (plain
 * {role, content}) or rich_messages (parts, names, tool calls, tool
 * results), with memory anchored in the keeper at kp. */
static void read_messages(lua_State *L, int arg, int mi, int in_request,
                          int kp, lgw_request_t *out,
                          lgw_message_t *scratch) {
  lua_Integer n, i;
  int rich = 0, mt, scratch_ok = 1;
  unsigned long have;
  if (lua_type(L, mi) != LUA_TTABLE) {
    if (in_request) lgwL_argerror_path(L, arg, "messages", "table", mi);
    luaL_typeerror(L, arg, "table");
  }
  n = (lua_Integer)lua_rawlen(L, mi);
  /* plain messages that fit the scratch array are read in this pass
   * (when one is not a plain string message, or its role is not a
   * string, the pass below reads them again and words the error) */
  if (!scratch || n > LGWL_SCRATCH_MESSAGES) scratch = NULL;
  for (i = 1; i <= n; i++) {
    if (lua_rawgeti(L, mi, i) != LUA_TTABLE) {
      const char *path = lua_pushfstring(L, "messages[%d]", (int)i);
      lgwL_argerror_path(L, arg, path, "table", -2);
    }
    mt = lua_gettop(L);
    if (!keys_known(L, mt, message_keys, &have)) {
      lgwL_check_keys(L, arg, mt, lua_pushfstring(L, "messages[%d].",
                                                  (int)i), message_keys);
    }
    if (scratch && !rich && !(have & ~3UL)) {
      /* only role and content: rich when the content is a list of
       * parts */
      int ty = lua_getfield(L, mt, "content");
      if (ty == LUA_TTABLE) {
        rich = 1;
      } else if (ty != LUA_TSTRING) {
        scratch_ok = 0;
      } else {
        scratch[i - 1].content = lua_tostring(L, -1);  /* kept by it */
        ty = lua_getfield(L, mt, "role");
        if (ty == LUA_TNIL) scratch[i - 1].role = NULL;
        else if (ty == LUA_TSTRING) scratch[i - 1].role = lua_tostring(L, -1);
        else scratch_ok = 0;
        lua_pop(L, 1);
      }
      lua_pop(L, 1);
    } else {
      scratch_ok = 0;
      /* only role and content: rich when the content is a list of
       * parts */
      if (!rich) rich = is_rich(L, mt, (have & ~3UL) != 0);
    }
    lua_pop(L, 1);
  }
  if (!rich && scratch && scratch_ok) {
    out->messages = scratch;
    out->nmessages = (size_t)n;
    return;
  }
  if (rich) {
    lgw_rich_message_t *rm = keep_new(L, kp, (size_t)n * sizeof *rm);
    for (i = 1; i <= n; i++) {
      lua_rawgeti(L, mi, i);
      read_rich(L, arg, kp, lua_gettop(L), (int)i, &rm[i - 1]);
      lua_pop(L, 1);
    }
    out->rich_messages = rm;
    out->nrich_messages = (size_t)n;
    return;
  }
  {
    lgw_message_t *msgs = scratch && n <= LGWL_SCRATCH_MESSAGES
      ? scratch : keep_new(L, kp, (size_t)n * sizeof *msgs);
    for (i = 1; i <= n; i++) {
      lua_rawgeti(L, mi, i);
      if (lua_getfield(L, -1, "content") != LUA_TSTRING) {
        const char *path = lua_pushfstring(L, "messages[%d].content",
                                           (int)i);
        lgwL_argerror_path(L, arg, path, "string or table", -2);
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
}

/* tools, tool_choice and parallel_tool_calls of the table at t. */
static void read_tools(lua_State *L, int arg, int kp, int t,
                       lgw_request_t *out, unsigned long have) {
  int ty = field(L, t, "tools", have, K_TOOLS);
  if (ty == LUA_TTABLE) {
    int li = lua_gettop(L);
    lua_Integer n = (lua_Integer)lua_rawlen(L, li), j;
    lgw_tool_t *tools = keep_new(L, kp, (size_t)n * sizeof *tools);
    for (j = 1; j <= n; j++) {
      lgw_tool_t *tl = &tools[j - 1];
      int top = lua_gettop(L), ti;
      const char *tp;
      if (lua_rawgeti(L, li, j) != LUA_TTABLE)
        lgwL_argerror_path(L, arg, lua_pushfstring(L, "tools[%d]", (int)j),
                           "table", -2);
      ti = lua_gettop(L);
      tp = lua_pushfstring(L, "tools[%d]", (int)j);
      lgwL_check_keys(L, arg, ti, lua_pushfstring(L, "%s.", tp), tool_keys);
      tl->name = path_str(L, arg, ti, tp, "name", 1);
      tl->description = path_str(L, arg, ti, tp, "description", 0);
      ty = lua_getfield(L, ti, "parameters");
      if (ty == LUA_TTABLE) {
        int pi = lua_gettop(L);
        tl->parameters_json = keep_json(L, arg, kp, pi, lua_pushfstring(
            L, "%s.parameters", tp));
      } else if (ty == LUA_TSTRING) {
        tl->parameters_json = lua_tostring(L, -1);
        keep(L, kp);
      } else if (ty != LUA_TNIL) {
        lgwL_argerror_path(L, arg, lua_pushfstring(L, "%s.parameters", tp),
                           "table", -2);
      }
      ty = lua_getfield(L, ti, "strict");
      if (ty == LUA_TBOOLEAN) tl->strict = lua_toboolean(L, -1);
      else if (ty != LUA_TNIL)
        lgwL_argerror_path(L, arg, lua_pushfstring(L, "%s.strict", tp),
                           "boolean", -2);
      lua_settop(L, top);
    }
    out->tools = tools;
    out->ntools = (size_t)n;
  } else if (ty != LUA_TNIL) {
    lgwL_argerror_path(L, arg, "tools", "table", -1);
  }
  lua_pop(L, 1);
  ty = field(L, t, "tool_choice", have, K_TOOL_CHOICE);
  if (ty == LUA_TSTRING) {
    const char *c = lua_tostring(L, -1);
    if (strcmp(c, "auto") && strcmp(c, "none") && strcmp(c, "required"))
      lgwL_argerror_value(L, arg, "tool_choice", "\"auto\", \"none\", "
                          "\"required\" or {name=}", -1);
    out->tool_choice = c;
  } else if (ty == LUA_TTABLE) {
    out->tool_choice_name = path_str(L, arg, lua_gettop(L), "tool_choice",
                                     "name", 1);
  } else if (ty != LUA_TNIL) {
    lgwL_argerror_path(L, arg, "tool_choice", "string or table", -1);
  }
  lua_pop(L, 1);
  ty = field(L, t, "parallel_tool_calls", have, K_PARALLEL_TOOL_CALLS);
  if (ty == LUA_TBOOLEAN) out->parallel_tool_calls = lua_toboolean(L, -1)
                                                    ? 1 : -1;
  else if (ty != LUA_TNIL)
    lgwL_argerror_path(L, arg, "parallel_tool_calls", "boolean", -1);
  lua_pop(L, 1);
}

/* Pushes the callback field k (on_delta, on_tool_delta) of the table at
 * t (nil when t is 0) and sets *fn to its index when it is a function. */
static void read_callback(lua_State *L, int arg, int t, const char *k,
                          int *fn, unsigned long have, int bit) {
  *fn = 0;
  if (!t) {
    lua_pushnil(L);
    return;
  }
  if (field(L, t, k, have, bit) == LUA_TFUNCTION)
    *fn = lua_gettop(L);
  else if (!lua_isnil(L, -1))
    lgwL_argerror_path(L, arg, k, "function", -1);
}

/* The keys of a request table; the overrides are the same without the
 * first two. */
static const char *const request_keys[] = {
  "task", "messages", "model", "tier", "temperature", "reasoning_effort",
  "max_tokens", "deadline", "on_delta", "tools", "tool_choice",
  "parallel_tool_calls", "schema", "schema_name", "strict", "stop", "top_p",
  "seed", "user", "metadata", "extra", "on_tool_delta", NULL
};

/* A table field k of t sent as JSON text (a string is taken as JSON
 * text as it is); NULL when nil. */
static const char *json_field(lua_State *L, int arg, int kp, int t,
                              const char *k, unsigned long have, int bit) {
  const char *s = NULL;
  int ty = field(L, t, k, have, bit);
  if (ty == LUA_TTABLE) {
    int vi = lua_gettop(L);
    s = keep_json(L, arg, kp, vi, k);
  } else if (ty == LUA_TSTRING) {
    s = lua_tostring(L, -1);  /* kept alive by the table */
  } else if (ty != LUA_TNIL) {
    lgwL_argerror_path(L, arg, k, "table", -1);
  }
  lua_pop(L, 1);
  return s;
}

/* schema, schema_name, strict, stop, top_p, seed, user, metadata and
 * extra of the table at t. */
static void read_params(lua_State *L, int arg, int kp, int t,
                        lgw_request_t *out, unsigned long have) {
  int ty;
  if (!(have & (1UL << K_SCHEMA | 1UL << K_SCHEMA_NAME | 1UL << K_STRICT |
                1UL << K_STOP | 1UL << K_TOP_P | 1UL << K_SEED |
                1UL << K_USER | 1UL << K_METADATA | 1UL << K_EXTRA)))
    return;
  out->schema_json = json_field(L, arg, kp, t, "schema", have, K_SCHEMA);
  out->schema_name = opt_field_str(L, arg, t, "schema_name", have,
                                   K_SCHEMA_NAME);
  ty = field(L, t, "strict", have, K_STRICT);
  if (ty == LUA_TBOOLEAN) out->schema_strict = lua_toboolean(L, -1) ? 1 : -1;
  else if (ty != LUA_TNIL)
    lgwL_argerror_path(L, arg, "strict", "boolean", -1);
  lua_pop(L, 1);
  ty = field(L, t, "stop", have, K_STOP);
  if (ty == LUA_TSTRING) {
    const char **v = keep_new(L, kp, sizeof *v);
    v[0] = lua_tostring(L, -1);
    out->stop = v;
    out->nstop = 1;
  } else if (ty == LUA_TTABLE) {
    int li = lua_gettop(L);
    lua_Integer n = (lua_Integer)lua_rawlen(L, li), j;
    const char **v = keep_new(L, kp, (size_t)n * sizeof *v);
    for (j = 1; j <= n; j++) {
      if (lua_rawgeti(L, li, j) != LUA_TSTRING)
        lgwL_argerror_path(L, arg, lua_pushfstring(L, "stop[%d]", (int)j),
                           "string", -2);
      v[j - 1] = lua_tostring(L, -1);  /* kept alive by the list */
      lua_pop(L, 1);
    }
    out->stop = v;
    out->nstop = (size_t)n;
  } else if (ty != LUA_TNIL) {
    lgwL_argerror_path(L, arg, "stop", "string or table", -1);
  }
  lua_pop(L, 1);
  ty = field(L, t, "top_p", have, K_TOP_P);
  if (ty == LUA_TNUMBER) {
    out->has_top_p = 1;
    out->top_p = lua_tonumber(L, -1);
  } else if (ty != LUA_TNIL) {
    lgwL_argerror_path(L, arg, "top_p", "number", -1);
  }
  lua_pop(L, 1);
  ty = field(L, t, "seed", have, K_SEED);
  if (ty == LUA_TNUMBER && lua_isinteger(L, -1)) {
    out->has_seed = 1;
    out->seed = (long long)lua_tointeger(L, -1);
  } else if (ty != LUA_TNIL) {
    lgwL_argerror_path(L, arg, "seed", "integer", -1);
  }
  lua_pop(L, 1);
  out->user = opt_field_str(L, arg, t, "user", have, K_USER);
  out->metadata_json = json_field(L, arg, kp, t, "metadata", have,
                                  K_METADATA);
  out->extra_json = json_field(L, arg, kp, t, "extra", have, K_EXTRA);
}

void lgwL_check_task_args(lua_State *L, int ti, int mi, int oi,
                          lgw_request_t *out, int delta[2],
                          lgw_message_t *scratch) {
  int has_overrides = oi && !lua_isnoneornil(L, oi);
  unsigned long have = 0;
  memset(out, 0, sizeof *out);
  out->task = luaL_checkstring(L, ti);
  if (has_overrides) {
    luaL_checktype(L, oi, LUA_TTABLE);
    if (!keys_known(L, oi, request_keys + 2, &have))
      lgwL_check_keys(L, oi, oi, "", request_keys + 2);
    have = have == ~0UL ? have : have << 2;
  }
  lua_pushnil(L);  /* the keeper, made when first needed */
  read_messages(L, mi, mi, 0, lua_gettop(L), out, scratch);
  if (has_overrides) {
    read_overrides(L, oi, oi, out, have);
    read_tools(L, oi, lua_gettop(L), oi, out, have);
    read_params(L, oi, lua_gettop(L), oi, out, have);
  }
  read_callback(L, oi, has_overrides ? oi : 0, "on_delta", &delta[0], have,
                K_ON_DELTA);
  read_callback(L, oi, has_overrides ? oi : 0, "on_tool_delta", &delta[1],
                have, K_ON_TOOL_DELTA);
}

void lgwL_check_request(lua_State *L, int idx, lgw_request_t *out,
                        int delta[2], lgw_message_t *scratch) {
  int ty;
  unsigned long have;
  memset(out, 0, sizeof *out);
  luaL_checktype(L, idx, LUA_TTABLE);
  if (!keys_known(L, idx, request_keys, &have))
    lgwL_check_keys(L, idx, idx, "", request_keys);
  ty = lua_getfield(L, idx, "task");
  if (ty != LUA_TSTRING) lgwL_argerror_path(L, idx, "task", "string", -1);
  out->task = lua_tostring(L, -1);
  lua_pop(L, 1);
  lua_pushnil(L);  /* the keeper, made when first needed */
  lua_getfield(L, idx, "messages");
  read_messages(L, idx, lua_gettop(L), 1, lua_gettop(L) - 1, out, scratch);
  lua_pop(L, 1);  /* the list stays reachable from the request */
  read_overrides(L, idx, idx, out, have);
  read_tools(L, idx, lua_gettop(L), idx, out, have);
  read_params(L, idx, lua_gettop(L), idx, out, have);
  read_callback(L, idx, idx, "on_delta", &delta[0], have, K_ON_DELTA);
  read_callback(L, idx, idx, "on_tool_delta", &delta[1], have,
                K_ON_TOOL_DELTA);
}

/* The messages list at mi of a call without a request table (the
 * validation loop's plain round: the caller has checked the task, a
 * string, and that the list is a table): as lgwL_check_request of
 * {task = ..., messages = <mi>}, errors naming argument arg. Pushes the
 * request's memory (nil when it needs none). */
void lgwL_check_messages(lua_State *L, int arg, int mi, lgw_request_t *out,
                         lgw_message_t *scratch) {
  memset(out, 0, sizeof *out);
  lua_pushnil(L);  /* the keeper, made when first needed */
  read_messages(L, arg, mi, 1, lua_gettop(L), out, scratch);
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
  int slot;   /* a long string key: the stack index of a copy, or 0 */
} tkey_t;

/* Strings longer than this are not interned (Lua 5.2.1 and later): a
 * lua_pushlstring of their bytes makes a new string, which may raise a
 * memory error where C memory is held. The conversions keep a copy of
 * such a key on the stack instead (the others cost no allocation). */
#define SHORT_STRING 40

/* stack: a key from lua_next. A long string key gets a copy below it
 * (returns its index); 0 for others, -1 when the stack cannot grow. */
static int keep_long_key(lua_State *L, size_t len) {
  if (lua_type(L, -1) != LUA_TSTRING || len <= SHORT_STRING) return 0;
  if (!lua_checkstack(L, 2)) return -1;
  lua_pushvalue(L, -1);
  lua_insert(L, -2);
  return lua_gettop(L) - 1;
}

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

static lgw_value_t *scalar_node(lua_State *L, int idx, int *unsupported) {
  *unsupported = 0;
  switch (lua_type(L, idx)) {
    case LUA_TSTRING: {
      size_t len;
      const char *s = lua_tolstring(L, idx, &len);
      return lgw_value_string(s, len);
    }
    case LUA_TBOOLEAN:
      return lgw_value_bool(lua_toboolean(L, idx));
    case LUA_TNUMBER:
      if (lua_isinteger(L, idx))
        return lgw_value_int((long long)lua_tointeger(L, idx));
      return lgw_value_number((double)lua_tonumber(L, idx));
    default:
      if (lgwL_is_null(L, idx)) return lgw_value_null();
      *unsupported = 1;
      return NULL;
  }
}

static int to_node(lua_State *L, int idx, lgwL_buf_t *path, int depth,
                   lgw_value_t **out, lgw_error_t *err);

/* stack: the table at idx. Builds a SEQ or a MAP with sorted keys. */
static int table_node(lua_State *L, int idx, lgwL_buf_t *path, int depth,
                      lgw_value_t **out, lgw_error_t *err) {
  lua_Integer len = (lua_Integer)lua_rawlen(L, idx);
  size_t count = 0, i, plen = path->len;
  int is_seq = len > 0, rc = 0, base = lua_gettop(L);
  tkey_t *keys;
  lgw_value_t *node;
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
      return lgw_error_set(err, LGW_ECONFIG, "%s: unsupported key of type "
                            "%s", path->len ? path->data : "(root)", tn);
    }
  }
  if (is_seq && (lua_Integer)count != len) is_seq = 0;
  node = is_seq ? lgw_value_array() : lgw_value_object();
  if (!node) return lgw_error_set(err, LGW_ENOMEM, "out of memory");
  if (is_seq) {
    for (i = 1; i <= count && !rc; i++) {
      lgw_value_t *v = NULL;
      path->len = plen;
      if (lgwL_buf_printf(path, "[%zu]", i))
        rc = lgw_error_set(err, LGW_ENOMEM, "out of memory");
      lua_rawgeti(L, idx, (lua_Integer)i);
      if (!rc) rc = to_node(L, lua_gettop(L), path, depth + 1, &v, err);
      lua_pop(L, 1);
      if (!rc && lgw_value_append(node, v))
        rc = lgw_error_set(err, LGW_ENOMEM, "out of memory");
    }
    goto done;
  }
  keys = lgwL_calloc(count ? count : 1, sizeof *keys);
  if (!keys) {
    lgw_value_free(node);
    return lgw_error_set(err, LGW_ENOMEM, "out of memory");
  }
  i = 0;
  lua_pushnil(L);
  while (lua_next(L, idx)) {
    lua_pop(L, 1);
    if (lua_type(L, -1) == LUA_TSTRING) {
      keys[i].s = lua_tolstring(L, -1, &keys[i].len);  /* kept by table */
      if ((keys[i].slot = keep_long_key(L, keys[i].len)) < 0) {
        lua_pop(L, 1);
        rc = lgw_error_set(err, LGW_ENOMEM, "out of memory (Lua stack)");
        break;
      }
    } else {
      keys[i].isnum = 1;
      keys[i].isint = lua_isinteger(L, -1);
      keys[i].i = lua_tointeger(L, -1);
      keys[i].d = lua_tonumber(L, -1);
    }
    i++;
  }
  if (!rc) qsort(keys, count, sizeof *keys, key_cmp);
  for (i = 0; i < count && !rc; i++) {
    lgw_value_t *k, *v = NULL;
    int unsupported;
    const char *dot = plen ? "." : "";
    if (keys[i].slot) lua_pushvalue(L, keys[i].slot);
    else if (keys[i].s) lua_pushlstring(L, keys[i].s, keys[i].len);
    else if (keys[i].isint) lua_pushinteger(L, keys[i].i);
    else lua_pushnumber(L, keys[i].d);
    k = scalar_node(L, -1, &unsupported);
    path->len = plen;
    /* (not lua_tostring, which would make a string of a number) */
    if (keys[i].s ? lgwL_buf_printf(path, "%s%s", dot, keys[i].s)
        : keys[i].isint ? lgwL_buf_printf(path, "%s%lld", dot,
                                          (long long)keys[i].i)
        : lgwL_buf_printf(path, "%s%.14g", dot, (double)keys[i].d))
      rc = LGW_ENOMEM;
    lua_rawget(L, idx);
    if (!k || rc) {
      rc = lgw_error_set(err, LGW_ENOMEM, "out of memory");
      lgw_value_free(k);
    } else {
      rc = to_node(L, lua_gettop(L), path, depth + 1, &v, err);
      if (rc) lgw_value_free(k);
      else if (lgw_value_insert(node, k, v))
        rc = lgw_error_set(err, LGW_ENOMEM, "out of memory");
    }
    lua_pop(L, 1);
  }
  lgw_free(keys);
done:
  lua_settop(L, base);  /* the copies of long keys */
  path->len = plen;
  if (path->data) path->data[plen] = '\0';
  if (rc) {
    lgw_value_free(node);
    return rc;
  }
  *out = node;
  return 0;
}

static int to_node(lua_State *L, int idx, lgwL_buf_t *path, int depth,
                   lgw_value_t **out, lgw_error_t *err) {
  int unsupported;
  if (depth > MAX_DEPTH)
    return lgw_error_set(err, LGW_ECONFIG, "%s: nested too deeply",
                          path->len ? path->data : "(root)");
  if (lua_type(L, idx) == LUA_TTABLE) {
    if (!lua_checkstack(L, 6))
      return lgw_error_set(err, LGW_ENOMEM, "Lua stack overflow");
    return table_node(L, idx, path, depth, out, err);
  }
  *out = scalar_node(L, idx, &unsupported);
  if (unsupported)
    return lgw_error_set(err, LGW_ECONFIG, "%s: unsupported value of type "
                          "%s", path->len ? path->data : "(root)",
                          luaL_typename(L, idx));
  if (!*out) return lgw_error_set(err, LGW_ENOMEM, "out of memory");
  return 0;
}

int lgwL_to_value(lua_State *L, int idx, lgw_value_t **out,
                 lgw_error_t *err) {
  lgwL_buf_t path;
  int rc;
  *out = NULL;
  lgwL_buf_init(&path);
  rc = to_node(L, lua_absindex(L, idx), &path, 0, out, err);
  lgwL_buf_free(&path);
  return rc;
}

/* Key i of the object n. */
static void push_key(lua_State *L, const lgw_value_t *n, size_t i) {
  const lgw_value_t *k = lgw_value_key_value(n, i);
  size_t len;
  const char *s;
  switch (lgw_value_type(k)) {
    case LGW_VALUE_INT: lua_pushinteger(L, (lua_Integer)lgw_value_get_int(k));
      break;
    case LGW_VALUE_BOOL: lua_pushboolean(L, lgw_value_get_bool(k)); break;
    case LGW_VALUE_STRING:
      s = lgw_value_get_string(k, &len);
      lua_pushlstring(L, s, len);
      break;
    default:
      s = lgw_value_key_at(n, i, NULL);
      if (lgw_value_type(k) == LGW_VALUE_NUMBER &&
          !isnan(lgw_value_get_number(k)))
        lua_pushnumber(L, lgw_value_get_number(k));
      else
        lua_pushstring(L, s ? s : "null");  /* NaN cannot be a key */
  }
}

static void push_node(lua_State *L, const lgw_value_t *n, int depth) {
  size_t i, count = lgw_value_count(n), len;
  const char *s;
  if (depth > MAX_DEPTH) luaL_error(L, "configuration nested too deeply");
  luaL_checkstack(L, 4, NULL);
  switch (lgw_value_type(n)) {
    case LGW_VALUE_NULL: lgwL_push_null(L); break;
    case LGW_VALUE_BOOL: lua_pushboolean(L, lgw_value_get_bool(n)); break;
    case LGW_VALUE_INT:
      lua_pushinteger(L, (lua_Integer)lgw_value_get_int(n));
      break;
    case LGW_VALUE_NUMBER: lua_pushnumber(L, lgw_value_get_number(n)); break;
    case LGW_VALUE_STRING:
      s = lgw_value_get_string(n, &len);
      lua_pushlstring(L, s ? s : "", len);
      break;
    case LGW_VALUE_ARRAY:
      lua_createtable(L, (int)count, 0);
      for (i = 0; i < count; i++) {
        push_node(L, lgw_value_at(n, i), depth + 1);
        lua_rawseti(L, -2, (lua_Integer)i + 1);
      }
      break;
    case LGW_VALUE_OBJECT:
      lua_createtable(L, 0, (int)count);
      for (i = 0; i < count; i++) {
        push_key(L, n, i);
        push_node(L, lgw_value_at(n, i), depth + 1);
        lua_rawset(L, -3);  /* the last duplicate wins, as in Python */
      }
      break;
  }
}

void lgwL_push_value(lua_State *L, const lgw_value_t *n) {
  push_node(L, n, 0);
}

/* ===== JSON text -> Lua values, in one pass ============================= */

/* The common case of parse_json and lgwL_push_json_text: the whole text
 * is one standard JSON value (JSON whitespace around it), decoded straight
 * into Lua tables with no cJSON or value tree in between. Each container
 * keeps its first DEC_PENDING items on the Lua stack, so that most tables
 * are created at their final size. Anything else -- NaN and Infinity,
 * escaped surrogates, "\u0000" in a key, a number longer than 63 bytes,
 * nesting deeper than DEC_DEPTH, a stack that cannot grow, every syntax
 * error -- makes the decoder give up (1) and the caller take the general
 * path (lgw_json_extract or lgw_json_parse, then the tree), whose answers,
 * fences, prose and error positions included, stay as they were. Whatever
 * this decoder accepts, the strict parser reads to the same value: same
 * grammar, same whitespace, numbers through the same strtod and the same
 * integer rule. */

#define DEC_DEPTH 200   /* deeper: the general path */
#define DEC_PENDING 32  /* items held on the stack before the table exists */

typedef struct jdec {
  lua_State *L;
  const unsigned char *p, *end;
  lgwL_buf_t buf;  /* a string with escapes; freed by the caller */
  int amt;         /* stack index of llm.array_mt */
  int depth;
} jdec_t;

#define DEC_WS(c) ((c) == ' ' || (c) == '\n' || (c) == '\r' || (c) == '\t')
#define DEC_SKIP(D) \
  while ((D)->p < (D)->end && DEC_WS(*(D)->p)) (D)->p++

static int dec_value(jdec_t *D);

static int hex_digit(unsigned char c) {
  if (c >= '0' && c <= '9') return c - '0';
  c |= 0x20;
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  return -1;
}

/* \uXXXX at p (6 bytes there): the code point, or -1. */
static long dec_hex4(const unsigned char *p) {
  long cp = 0;
  int i, d;
  for (i = 2; i < 6; i++) {
    if ((d = hex_digit(p[i])) < 0) return -1;
    cp = cp * 16 + d;
  }
  return cp;
}

/* The string whose opening quote is at D->p, pushed. */
static int dec_string(jdec_t *D, int is_key) {
  const unsigned char *p = D->p + 1, *end = D->end, *run = p;
  lgwL_buf_t *b = &D->buf;
  while (p < end && *p != '"' && *p != '\\' && *p >= 0x20) p++;
  if (p < end && *p == '"') {
    lua_pushlstring(D->L, (const char *)run, (size_t)(p - run));
    D->p = p + 1;
    return 0;
  }
  b->len = 0;
  for (;;) {
    char u[4];
    size_t un = 1;
    if (lgwL_buf_add(b, run, (size_t)(p - run))) return 1;
    if (p >= end || *p != '\\' || end - p < 2) return 1;
    switch (p[1]) {
      case '"': case '\\': case '/': u[0] = (char)p[1]; break;
      case 'b': u[0] = '\b'; break;
      case 'f': u[0] = '\f'; break;
      case 'n': u[0] = '\n'; break;
      case 'r': u[0] = '\r'; break;
      case 't': u[0] = '\t'; break;
      case 'u': {
        long cp = end - p >= 7 ? dec_hex4(p) : -1;
        if (cp < 0 || (cp >= 0xD800 && cp <= 0xDFFF) || (cp == 0 && is_key))
          return 1;
        if (cp < 0x80) {
          u[0] = (char)cp;
        } else if (cp < 0x800) {
          u[0] = (char)(0xC0 | (cp >> 6));
          u[1] = (char)(0x80 | (cp & 0x3F));
          un = 2;
        } else {
          u[0] = (char)(0xE0 | (cp >> 12));
          u[1] = (char)(0x80 | ((cp >> 6) & 0x3F));
          u[2] = (char)(0x80 | (cp & 0x3F));
          un = 3;
        }
        p += 4;
        break;
      }
      default: return 1;
    }
    if (lgwL_buf_add(b, u, un)) return 1;
    p += 2;
    run = p;
    while (p < end && *p != '"' && *p != '\\' && *p >= 0x20) p++;
    if (p < end && *p == '"') {
      if (lgwL_buf_add(b, run, (size_t)(p - run))) return 1;
      lua_pushlstring(D->L, b->data, b->len);
      D->p = p + 1;
      return 0;
    }
  }
}

/* A number as the strict parser reads it: the same grammar, the same
 * value as its strtod, and the same rule for integers (whole and below
 * 2^53). Up to 15 digits with no fraction or exponent are an integer as
 * they are; up to 15 significant digits times a power of ten within
 * 1e+-22 are exact doubles whose product or quotient IEEE arithmetic
 * rounds once, as strtod does (Clinger's fast path); others go to strtod. */
static int dec_number(jdec_t *D) {
  static const double p10[] = {1e0,  1e1,  1e2,  1e3,  1e4,  1e5,
                               1e6,  1e7,  1e8,  1e9,  1e10, 1e11,
                               1e12, 1e13, 1e14, 1e15, 1e16, 1e17,
                               1e18, 1e19, 1e20, 1e21, 1e22};
  const unsigned char *s = D->p, *p = s, *end = D->end;
  int neg = *s == '-', simple = 1, nd = 0, e10 = 0, exact = 1;
  unsigned long long m = 0;
  double d;
  p += neg;
  if (p < end && *p == '0') {
    p++;
  } else if (p < end && *p >= '1' && *p <= '9') {
    for (; p < end && *p >= '0' && *p <= '9'; p++) {
      if (nd < 19) {
        m = m * 10 + (unsigned)(*p - '0');
        nd++;
      } else {
        exact = 0;
      }
    }
  } else {
    return 1;
  }
  if (p + 1 < end && *p == '.' && p[1] >= '0' && p[1] <= '9') {
    simple = 0;
    for (p++; p < end && *p >= '0' && *p <= '9'; p++) {
      if (nd < 19) {
        m = m * 10 + (unsigned)(*p - '0');
        if (m) nd++;  /* leading zeros are not significant */
        e10--;
      } else {
        exact = 0;
      }
    }
  }
  if (p + 1 < end && (*p == 'e' || *p == 'E')) {
    const unsigned char *q = p + 1;
    int eneg = *q == '-', ev = 0;
    if (*q == '+' || *q == '-') q++;
    if (q < end && *q >= '0' && *q <= '9') {
      simple = 0;
      for (; q < end && *q >= '0' && *q <= '9'; q++) {
        if (ev < 10000) ev = ev * 10 + (*q - '0');
        else exact = 0;
      }
      e10 += eneg ? -ev : ev;
      p = q;
    }
  }
  D->p = p;
  if (simple && nd <= 15) {
    lua_pushinteger(D->L, (lua_Integer)(neg ? -(long long)m : (long long)m));
    return 0;
  }
  if (exact && nd <= 15 && e10 >= -22 && e10 <= 22) {
    d = (double)m;
    d = e10 < 0 ? d / p10[-e10] : d * p10[e10];
    if (neg) d = -d;
  } else {
    char tmp[64];
    if ((size_t)(p - s) >= sizeof tmp) return 1;
    memcpy(tmp, s, (size_t)(p - s));
    tmp[p - s] = '\0';
    d = strtod(tmp, NULL);
  }
  if (d == floor(d) && fabs(d) < 9007199254740992.0)
    lua_pushinteger(D->L, (lua_Integer)(long long)d);
  else
    lua_pushnumber(D->L, d);
  return 0;
}

/* The n items above base + 1 (a placeholder) go into a new array there. */
static void dec_fill_array(lua_State *L, int base, int n, int size) {
  int i;
  lua_createtable(L, size, 0);
  lua_replace(L, base + 1);
  for (i = n; i >= 1; i--) lua_rawseti(L, base + 1, i);
}

/* The n key-value pairs above base + 1 (a placeholder) go into a new
 * table there, in order (the last duplicate wins). */
static void dec_fill_object(lua_State *L, int base, int n) {
  int i;
  lua_createtable(L, 0, n);
  lua_replace(L, base + 1);
  for (i = 0; i < n; i++) {
    lua_pushvalue(L, base + 2 + 2 * i);
    lua_pushvalue(L, base + 3 + 2 * i);
    lua_rawset(L, base + 1);
  }
  lua_settop(L, base + 1);
}

static int dec_array(jdec_t *D) {
  lua_State *L = D->L;
  int base = lua_gettop(L), n = 0, full = 0;
  if (++D->depth > DEC_DEPTH || !lua_checkstack(L, DEC_PENDING + 9))
    return 1;
  D->p++;
  DEC_SKIP(D);
  if (D->p < D->end && *D->p == ']') {
    D->p++;
    lua_createtable(L, 0, 0);
  } else {
    lua_pushnil(L);  /* the table's place */
    for (;;) {
      if (dec_value(D)) return 1;
      n++;
      if (full) {
        lua_rawseti(L, base + 1, n);
      } else if (n == DEC_PENDING) {
        dec_fill_array(L, base, n, 4 * DEC_PENDING);
        full = 1;
      }
      DEC_SKIP(D);
      if (D->p >= D->end) return 1;
      if (*D->p == ']') break;
      if (*D->p != ',') return 1;
      D->p++;
      DEC_SKIP(D);
    }
    D->p++;
    if (!full) dec_fill_array(L, base, n, n);
  }
  lua_pushvalue(L, D->amt);
  lua_setmetatable(L, -2);
  D->depth--;
  return 0;
}

static int dec_object(jdec_t *D) {
  lua_State *L = D->L;
  int base = lua_gettop(L), n = 0, full = 0;
  if (++D->depth > DEC_DEPTH || !lua_checkstack(L, 2 * DEC_PENDING + 9))
    return 1;
  D->p++;
  DEC_SKIP(D);
  if (D->p < D->end && *D->p == '}') {
    D->p++;
    lua_createtable(L, 0, 0);
    D->depth--;
    return 0;
  }
  lua_pushnil(L);  /* the table's place */
  for (;;) {
    if (D->p >= D->end || *D->p != '"' || dec_string(D, 1)) return 1;
    DEC_SKIP(D);
    if (D->p >= D->end || *D->p != ':') return 1;
    D->p++;
    DEC_SKIP(D);
    if (dec_value(D)) return 1;
    if (full) {
      lua_rawset(L, base + 1);
    } else if (++n == DEC_PENDING) {
      dec_fill_object(L, base, n);
      full = 1;
    }
    DEC_SKIP(D);
    if (D->p >= D->end) return 1;
    if (*D->p == '}') break;
    if (*D->p != ',') return 1;
    D->p++;
    DEC_SKIP(D);
  }
  D->p++;
  if (!full) dec_fill_object(L, base, n);
  D->depth--;
  return 0;
}

/* One value starting exactly at D->p, pushed; D->p ends just after it. */
static int dec_value(jdec_t *D) {
  const unsigned char *p = D->p;
  size_t left = (size_t)(D->end - p);
  if (!left) return 1;
  switch (*p) {
    case '{': return dec_object(D);
    case '[': return dec_array(D);
    case '"': return dec_string(D, 0);
    case 't':
      if (left < 4 || memcmp(p, "true", 4)) return 1;
      lua_pushboolean(D->L, 1);
      D->p += 4;
      return 0;
    case 'f':
      if (left < 5 || memcmp(p, "false", 5)) return 1;
      lua_pushboolean(D->L, 0);
      D->p += 5;
      return 0;
    case 'n':
      if (left < 4 || memcmp(p, "null", 4)) return 1;
      lgwL_push_null(D->L);
      D->p += 4;
      return 0;
    default: return dec_number(D);
  }
}

/* Under lua_pcall: 1 result, the value, or none when the text is not
 * for this decoder. */
static int dec_top(lua_State *L) {
  jdec_t *D = lua_touserdata(L, 1);
  luaL_getmetatable(L, LGWL_ARRAY);
  D->amt = lua_gettop(L);
  DEC_SKIP(D);
  if (dec_value(D)) return 0;
  DEC_SKIP(D);
  return D->p == D->end ? 1 : 0;
}

int lgwL_pcall_nogc(lua_State *L, lua_CFunction f, void *ud, int nresults,
                    size_t size) {
  int status, stopped = 0;
  lua_pushcfunction(L, f);
  lua_pushlightuserdata(L, ud);
#ifdef LUA_GCISRUNNING
  if (size >= LGWL_NOGC_MIN && lua_gc(L, LUA_GCISRUNNING, 0) == 1) {
    lua_gc(L, LUA_GCSTOP, 0);
    stopped = 1;
  }
#else
  (void)size;
#endif
  status = lua_pcall(L, 1, nresults, 0);
  if (stopped) lua_gc(L, LUA_GCRESTART, 0);
  return status;
}

/* Under lua_pcall: pushes the value tree at 1, or the bytes of the
 * lgwL_buf_t at 1. */
static int push_value_p(lua_State *L) {
  lgwL_push_value(L, lua_touserdata(L, 1));
  return 1;
}

static int push_bytes_p(lua_State *L) {
  const lgwL_buf_t *b = lua_touserdata(L, 1);
  lua_pushlstring(L, b->data, b->len);
  return 1;
}

int lgwL_push_value_free(lua_State *L, lgw_value_t *v) {
  int status = lgwL_pcall_nogc(L, push_value_p, v, 1, 0);
  lgw_value_free(v);
  return status == LUA_OK ? 1 : lua_error(L);
}

int lgwL_push_text_free(lua_State *L, char *text, size_t len) {
  lgwL_buf_t b;
  int status;
  b.data = text;
  b.len = len;
  b.cap = len;
  status = lgwL_pcall_nogc(L, push_bytes_p, &b, 1, 0);
  lgw_free(text);
  return status == LUA_OK ? 1 : lua_error(L);
}

int lgwL_decode_json(lua_State *L, const char *text, size_t len) {
  jdec_t D;
  int top = lua_gettop(L), status;
  if (!text) return 0;
  D.L = L;
  D.p = (const unsigned char *)text;
  D.end = D.p + len;
  D.depth = 0;
  D.amt = 0;
  lgwL_buf_init(&D.buf);
  status = lgwL_pcall_nogc(L, dec_top, &D, LUA_MULTRET, len);
  lgwL_buf_free(&D.buf);
  if (status != LUA_OK) return lua_error(L);
  return lua_gettop(L) > top;
}

/* ===== Lua values -> JSON text ========================================== */

#define JSON_MAX_DEPTH 200

static int json_fail(lgw_error_t *err, const char *path, const char *what) {
  return lgw_error_set(err, LGW_EINVAL, "cannot encode %s as JSON (at %s)",
                        what, path[0] ? path : "the top level");
}

typedef struct json_key {
  char *s;
  size_t len;
  int is_int;
  lua_Integer i;
  int slot;   /* a long string key: the stack index of a copy, or 0 */
} json_key_t;

static int cmp_key(const void *a, const void *b) {
  const json_key_t *x = a, *y = b;
  size_t n = x->len < y->len ? x->len : y->len;
  int c = memcmp(x->s, y->s, n);
  return c ? c : (x->len > y->len) - (x->len < y->len);
}

static int json_value(lua_State *L, int idx, lgwL_buf_t *b, char *path,
                      size_t pathcap, int depth, lgw_error_t *err);

static const char empty_array;  /* its address is llm.empty_array */

static int json_add_str(lgwL_buf_t *b, const char *s, size_t n) {
  size_t qlen;
  char *q = lgw_json_quote(s, n, &qlen);
  int rc = q ? lgwL_buf_add(b, q, qlen) : LGW_ENOMEM;
  lgw_free(q);
  return rc;
}

static int json_add_num(lgwL_buf_t *b, double d) {
  char num[32];
  int rc = lgw_json_number(d, num);
  return rc ? rc : lgwL_buf_adds(b, num);
}

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
static int json_items(lua_State *L, int idx, lua_Integer n, lgwL_buf_t *b,
                      char *path, size_t pathcap, int depth,
                      lgw_error_t *err) {
  size_t plen = strlen(path);
  lua_Integer i;
  int rc = lgwL_buf_addc(b, '[');
  for (i = 1; !rc && i <= n; i++) {
    if (i > 1) rc = lgwL_buf_addc(b, ',');
    snprintf(path + plen, pathcap - plen, "[%lld]", (long long)i);
    lua_rawgeti(L, idx, i);
    if (!rc) rc = json_value(L, -1, b, path, pathcap, depth + 1, err);
    lua_pop(L, 1);
  }
  path[plen] = '\0';
  return rc ? rc : lgwL_buf_addc(b, ']');
}

/* A table: an array when its keys are exactly 1..n (n >= 1), else an
 * object with string (or integer) keys in byte order. */
static int json_table(lua_State *L, int idx, lgwL_buf_t *b, char *path,
                      size_t pathcap, int depth, lgw_error_t *err) {
  size_t nkeys = 0, cap = 0, i, plen = strlen(path);
  json_key_t *keys = NULL;
  lua_Integer maxi = 0;
  int rc = 0, array = 1, base = lua_gettop(L);
  idx = lua_absindex(L, idx);
  if (depth > JSON_MAX_DEPTH)
    return json_fail(err, path, "a table nested too deeply (or a cycle)");
  if (!lua_checkstack(L, 4))
    return lgw_error_set(err, LGW_ENOMEM, "out of memory (Lua stack)");
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
      char num[24];
      snprintf(num, sizeof num, "%lld", (long long)k.i);
      k.s = lgwL_strdup(num);
    } else if (lua_type(L, -2) == LUA_TSTRING) {
      const char *s = lua_tolstring(L, -2, &k.len);
      array = 0;
      k.s = lgwL_strndup(s, k.len);
      lua_pop(L, 1);
      if ((k.slot = keep_long_key(L, k.len)) < 0) {
        lgw_free(k.s);
        k.s = NULL;
      }
      lua_pushnil(L);  /* (in place of the value, popped below) */
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
      rc = lgw_error_set(err, LGW_ENOMEM, "out of memory");
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
    rc = lgwL_buf_addc(b, '{');
    for (i = 0; !rc && i < nkeys; i++) {
      if (i > 0) rc = lgwL_buf_addc(b, ',');
      if (!rc) rc = json_add_str(b, keys[i].s, keys[i].len);
      if (!rc) rc = lgwL_buf_addc(b, ':');
      if (keys[i].is_int) {
        snprintf(path + plen, pathcap - plen, "[%s]", keys[i].s);
        lua_rawgeti(L, idx, keys[i].i);
      } else {
        snprintf(path + plen, pathcap - plen, "%s%.*s", plen ? "." : "",
                 (int)keys[i].len, keys[i].s);
        if (keys[i].slot) lua_pushvalue(L, keys[i].slot);
        else lua_pushlstring(L, keys[i].s, keys[i].len);
        lua_rawget(L, idx);
      }
      if (!rc) rc = json_value(L, -1, b, path, pathcap, depth + 1, err);
      lua_pop(L, 1);
    }
    if (!rc) rc = lgwL_buf_addc(b, '}');
  }
  path[plen] = '\0';
  lua_settop(L, base);  /* the copies of long keys */
  for (i = 0; i < nkeys; i++) lgw_free(keys[i].s);
  lgw_free(keys);
  if (rc == LGW_ENOMEM && !err->message[0])
    lgw_error_set(err, LGW_ENOMEM, "out of memory");
  return rc;
}

static int json_value(lua_State *L, int idx, lgwL_buf_t *b, char *path,
                      size_t pathcap, int depth, lgw_error_t *err) {
  switch (lua_type(L, idx)) {
  case LUA_TBOOLEAN:
    return lgwL_buf_adds(b, lua_toboolean(L, idx) ? "true" : "false");
  case LUA_TNUMBER:
    if (lua_isinteger(L, idx))
      return lgwL_buf_printf(b, "%lld", (long long)lua_tointeger(L, idx));
    if (!isfinite(lua_tonumber(L, idx)))
      return json_fail(err, path, "a number that is not finite");
    return json_add_num(b, (double)lua_tonumber(L, idx));
  case LUA_TSTRING: {
    size_t len;
    const char *s = lua_tolstring(L, idx, &len);
    return json_add_str(b, s, len);
  }
  case LUA_TTABLE:
    return json_table(L, idx, b, path, pathcap, depth, err);
  case LUA_TLIGHTUSERDATA:
    if (lgwL_is_null(L, idx)) return lgwL_buf_adds(b, "null");
    if (lua_touserdata(L, idx) == &empty_array) return lgwL_buf_adds(b, "[]");
    /* fall through */
  default:
    return json_fail(err, path, luaL_typename(L, idx));
  }
}

int lgwL_to_json(lua_State *L, int idx, char **out, size_t *len,
                 lgw_error_t *err) {
  lgwL_buf_t b;
  char path[256] = "";
  int rc;
  *out = NULL;
  lgwL_buf_init(&b);
  rc = json_value(L, idx, &b, path, sizeof path, 0, err);
  if (rc) {
    lgwL_buf_free(&b);
    if (rc == LGW_ENOMEM)
      lgw_error_set(err, LGW_ENOMEM, "out of memory");
    return rc;
  }
  *len = b.len;
  *out = lgwL_buf_steal(&b);
  return *out ? 0 : lgw_error_set(err, LGW_ENOMEM, "out of memory");
}
