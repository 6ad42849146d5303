/*
 * lua_compat.c -- the parts of lua_compat.h that are not inline: the main
 * thread, and the pending continuations of Luas without lua_yieldk.
 */
#include "lua_priv.h"

#define MAIN_THREAD "llmgateway.main"

void lgwL_push_main_thread(lua_State *L) {
#if LUA_VERSION_NUM >= 502
  lua_rawgeti(L, LUA_REGISTRYINDEX, LUA_RIDX_MAINTHREAD);
#else
  lua_getfield(L, LUA_REGISTRYINDEX, MAIN_THREAD);
  if (lua_isthread(L, -1)) return;
  lua_pop(L, 1);
  if (!lua_pushthread(L)) {
    lua_pop(L, 1);
    lua_newthread(L);
  }
  lua_pushvalue(L, -1);
  lua_setfield(L, LUA_REGISTRYINDEX, MAIN_THREAD);
#endif
}

#if LGWL_LUAJIT
#include <luajit.h>

int lgwL_jit_pause(lua_State *L) {
  int on = 0;
  /* jit.status() tells whether the compiler is on */
  lua_getfield(L, LUA_REGISTRYINDEX, "_LOADED");
  lua_getfield(L, -1, "jit");
  if (lua_istable(L, -1)) {
    lua_getfield(L, -1, "status");
    if (lua_isfunction(L, -1) && lua_pcall(L, 0, 1, 0) == 0)
      on = lua_toboolean(L, -1);
    lua_pop(L, 1);
  }
  lua_pop(L, 2);
  if (!on) return 0;
  luaJIT_setmode(L, 0, LUAJIT_MODE_ENGINE | LUAJIT_MODE_OFF);
  luaJIT_setmode(L, 0, LUAJIT_MODE_ENGINE | LUAJIT_MODE_FLUSH);
  return 1;
}

void lgwL_jit_resume(lua_State *L) {
  luaJIT_setmode(L, 0, LUAJIT_MODE_ENGINE | LUAJIT_MODE_ON);
}
#endif

#if LGWL_YIELDK

int lgwL_is_pending(lua_State *co, int nres) {
  (void)co;
  (void)nres;
  return 0;
}

void lgwL_wrap_waiting(lua_State *L, int idx, const char *const names[]) {
  (void)L;
  (void)idx;
  (void)names;
}

#else


static const char pending_key = 0;  /* its address: the marker */

typedef struct {
  lua_KFunction k;
  lua_KContext ctx;
} kont_t;

int lgwL_yieldk(lua_State *L, lua_KContext ctx, lua_KFunction k) {
  int n = lua_gettop(L);
  kont_t *kt;
  luaL_checkstack(L, 2, NULL);
  kt = lua_newuserdata(L, sizeof *kt);
  kt->k = k;
  kt->ctx = ctx;
  lua_insert(L, 1);
  lua_pushlightuserdata(L, (void *)&pending_key);
  lua_insert(L, 1);
  return lua_yield(L, n + 2);
}

int lgwL_is_pending(lua_State *co, int nres) {
  return nres >= 2 && lua_type(co, -nres) == LUA_TLIGHTUSERDATA &&
         lua_touserdata(co, -nres) == (void *)&pending_key;
}

/* _continue(kont, stack...): runs the continuation on the stack it had
 * when its function yielded. */
static int l_continue(lua_State *L) {
  kont_t *kt = lua_touserdata(L, 1);
  kont_t k;
  if (!kt) return luaL_error(L, "no continuation");
  k = *kt;
  lua_remove(L, 1);
  return k.k(L, LUA_YIELD, k.ctx);
}

void lgwL_wrap_waiting(lua_State *L, int idx, const char *const names[]) {
  char src[512], key[64], chunk[96];
  const char *local;
  idx = lua_absindex(L, idx);
  for (; *names; names++) {
    /* "key" or "key:local": the wrapped function is called through a
     * local of that name, which argument errors name */
    local = strchr(*names, ':');
    snprintf(key, sizeof key, "%.*s",
             (int)(local ? (size_t)(local - *names) : strlen(*names)),
             *names);
    local = local ? local + 1 : key;
    snprintf(src, sizeof src,
             "local PENDING, continue, %s = ...\n"
             "local select = select\n"
             "local function fin(...)\n"
             "  if (...) == PENDING then\n"
             "    return fin(continue(select(2, ...)))\n"
             "  end\n"
             "  return ...\n"
             "end\n"
             "return function(...) return fin(%s(...)) end\n",
             local, local);
    /* the chunk name tells lgwL_argerror the function's name */
    snprintf(chunk, sizeof chunk, "=llmgateway %c %s",
             strchr(*names, ':') ? 'f' : 'm', local);
    if (luaL_loadbuffer(L, src, strlen(src), chunk) != 0)
      lua_error(L);
    lua_pushlightuserdata(L, (void *)&pending_key);
    lua_pushcfunction(L, l_continue);
    lua_getfield(L, idx, key);
    lua_call(L, 3, 1);
    lua_setfield(L, idx, key);
  }
}

#endif

#if !LGWL_YIELDK
void lgwL_wrap_limited(lua_State *L, int t, const char *key) {
  static const char src[] =
    "local begin, finish, pcall = ...\n"
    "local function go(b, ...) return finish(b, pcall(...)) end\n"
    "return function(...) return go(begin(...)) end\n";
  t = lua_absindex(L, t);
  if (luaL_loadbuffer(L, src, sizeof src - 1, "=llmgateway") != 0)
    lua_error(L);
  lua_getfield(L, t, key);
  lua_pushvalue(L, -3);
  lgwL_push_pcall(L);
  lua_call(L, 3, 1);
  lua_setfield(L, t, key);
  lua_pop(L, 1);
}
#endif

#if LGWL_YIELDK || LGWL_LUAJIT || LUA_VERSION_NUM == 502
void lgwL_push_pcall(lua_State *L) { lua_getglobal(L, "pcall"); }
#else
#define ADOPTED "llmgateway.adopted"

int lgwL_adopted(lua_State *L) {
  int r;
  lua_getfield(L, LUA_REGISTRYINDEX, ADOPTED);
  if (!lua_istable(L, -1)) {
    lua_pop(L, 1);
    return 0;
  }
  lua_pushthread(L);
  lua_rawget(L, -2);
  r = lua_toboolean(L, -1);
  lua_pop(L, 2);
  return r;
}

static int l_adopt(lua_State *L) {
  luaL_checktype(L, 1, LUA_TTHREAD);
  lua_getfield(L, LUA_REGISTRYINDEX, ADOPTED);
  if (!lua_istable(L, -1)) {
    lua_pop(L, 1);
    lua_newtable(L);
    lua_createtable(L, 0, 1);
    lua_pushliteral(L, "k");
    lua_setfield(L, -2, "__mode");
    lua_setmetatable(L, -2);
    lua_pushvalue(L, -1);
    lua_setfield(L, LUA_REGISTRYINDEX, ADOPTED);
  }
  lua_pushvalue(L, 1);
  lua_pushboolean(L, 1);
  lua_rawset(L, -3);
  return 0;
}

void lgwL_push_pcall(lua_State *L) {
  static const char src[] =
    "local adopt, create, resume, yield, status = ...\n"
    "local function step(co, ok, ...)\n"
    "  if not ok then return false, ... end\n"
    "  if status(co) == 'dead' then return true, ... end\n"
    "  return step(co, resume(co, yield(...)))\n"
    "end\n"
    "return function(f, ...)\n"
    "  local co = create(function(...) return f(...) end)\n"
    "  adopt(co)\n"
    "  return step(co, resume(co, ...))\n"
    "end\n";
  lua_getfield(L, LUA_REGISTRYINDEX, "llmgateway.pcall");
  if (!lua_isnil(L, -1)) return;
  lua_pop(L, 1);
  if (luaL_loadbuffer(L, src, sizeof src - 1, "=llmgateway") != 0)
    lua_error(L);
  lua_pushcfunction(L, l_adopt);
  lua_getglobal(L, "coroutine");
  lua_getfield(L, -1, "create");
  lua_getfield(L, -2, "resume");
  lua_getfield(L, -3, "yield");
  lua_getfield(L, -4, "status");
  lua_remove(L, -5);
  lua_call(L, 5, 1);
  lua_pushvalue(L, -1);
  lua_setfield(L, LUA_REGISTRYINDEX, "llmgateway.pcall");
}
#endif

#if !LGWL_YIELDK
/* The name of the running C function when the call did not tell it (a
 * tail call): its key in the module's table or in a methods table (then
 * as a method, unless the error is in the first argument, which reads as
 * gw.name(x)). NULL when not found. */
static const char *find_name(lua_State *L, int arg, const char **namewhat) {
  static const char *const tables[] = {"_gateway_methods", "_queue_methods",
                                       NULL};
  lua_Debug ar;
  int i;
  if (!lua_getstack(L, 0, &ar) || !lua_getinfo(L, "f", &ar)) return NULL;
  lua_getfield(L, LUA_REGISTRYINDEX, "_LOADED");
  lua_getfield(L, -1, "llmgateway.core");
  if (!lua_istable(L, -1)) return NULL;
  for (i = -1; i < 2; i++) {
    if (i >= 0) {
      lua_getfield(L, -1, tables[i]);
      if (!lua_istable(L, -1)) {
        lua_pop(L, 1);
        continue;
      }
    }
    lua_pushnil(L);
    while (lua_next(L, -2)) {
      if (lua_type(L, -2) == LUA_TSTRING &&
          lua_rawequal(L, -1, i < 0 ? -5 : -6)) {
        *namewhat = i >= 0 && arg > 1 ? "method" : "field";
        return lua_tostring(L, -2);
      }
      lua_pop(L, 1);
    }
    if (i >= 0) lua_pop(L, 1);
  }
  return NULL;
}

int lgwL_argerror(lua_State *L, int arg, const char *extramsg) {
  lua_Debug ar, up;
  const char *name = NULL, *namewhat = "";
  int level = 1;
  if (lua_getstack(L, 0, &ar) && lua_getinfo(L, "n", &ar)) {
    name = ar.name;
    namewhat = ar.namewhat ? ar.namewhat : "";
  }
  if (lua_getstack(L, 1, &up) && lua_getinfo(L, "Sn", &up) &&
      strncmp(up.source, "=llmgateway ", 12) == 0 &&
      strlen(up.source) > 14) {
    /* called through a wrapper: named as the wrapper was called, else
     * (a tail call) by the name it was made for */
    level = 2;
    if (up.name) {
      name = up.name;
      namewhat = up.namewhat ? up.namewhat : "";
    } else {
      /* gw:call(x) and gw.call(x) look the same then: an error in the
       * first argument reads as a wrong self, others as gw:call's */
      name = up.source + 14;
      namewhat = up.source[12] == 'm' && arg > 1 ? "method" : "local";
    }
  }
  if (!name) name = find_name(L, arg, &namewhat);
  if (strcmp(namewhat, "method") == 0) {
    arg--;
    if (arg == 0) {
      luaL_where(L, level);
      lua_pushfstring(L, "calling '%s' on bad self (%s)",
                      name ? name : "?", extramsg);
      lua_concat(L, 2);
      return lua_error(L);
    }
  }
  luaL_where(L, level);
  lua_pushfstring(L, "bad argument #%d to '%s' (%s)", arg,
                  name ? name : "?", extramsg);
  lua_concat(L, 2);
  return lua_error(L);
}

void lgwL_checktype(lua_State *L, int arg, int t) {
  if (lua_type(L, arg) != t) luaL_typeerror(L, arg, lua_typename(L, t));
}

void *lgwL_checkudata(lua_State *L, int arg, const char *tname) {
  void *p = luaL_testudata(L, arg, tname);
  if (!p) luaL_typeerror(L, arg, tname);
  return p;
}

lua_Number lgwL_checknumber(lua_State *L, int arg) {
  lua_Number d = lua_tonumber(L, arg);
  if (d == 0 && !lua_isnumber(L, arg)) luaL_typeerror(L, arg, "number");
  return d;
}

lua_Integer lgwL_checkinteger(lua_State *L, int arg) {
  lua_Number d = lgwL_checknumber(L, arg);
  if (d != floor(d) || d < -9007199254740992.0 || d > 9007199254740992.0)
    luaL_argerror(L, arg, "number has no integer representation");
  return (lua_Integer)d;
}

const char *lgwL_checklstring(lua_State *L, int arg, size_t *len) {
  const char *s = lua_tolstring(L, arg, len);
  if (!s) luaL_typeerror(L, arg, "string");
  return s;
}

const char *lgwL_optlstring(lua_State *L, int arg, const char *def,
                            size_t *len) {
  if (lua_isnoneornil(L, arg)) {
    if (len) *len = def ? strlen(def) : 0;
    return def;
  }
  return lgwL_checklstring(L, arg, len);
}

lua_Number lgwL_optnumber(lua_State *L, int arg, lua_Number def) {
  return lua_isnoneornil(L, arg) ? def : lgwL_checknumber(L, arg);
}

int lgwL_checkoption(lua_State *L, int arg, const char *def,
                     const char *const lst[]) {
  const char *name = def ? lgwL_optlstring(L, arg, def, NULL)
                         : lgwL_checklstring(L, arg, NULL);
  int i;
  for (i = 0; lst[i]; i++)
    if (strcmp(lst[i], name) == 0) return i;
  return luaL_argerror(L, arg, lua_pushfstring(L, "invalid option '%s'",
                                               name));
}
#endif
