/*
 * lua_compat.h -- one source for Lua 5.1, 5.2, 5.3, 5.4 and LuaJIT 2.1.
 * The binding is written against the 5.4 API; this header supplies what
 * older versions lack (or spell differently), and the few differences
 * that need a choice:
 *   - integers: 5.1, 5.2 and LuaJIT have only doubles. A number with no
 *     fractional part counts as an integer (lua_isinteger), so counts and
 *     ids are exact up to 2^53;
 *   - user values: before 5.4 a userdata has one (a table in 5.1 and
 *     5.2); there the numbered user values are slots of a table kept
 *     in it; 5.3's holds slot 1 itself (no table: the binding uses one);
 *   - continuations: without lua_yieldk (5.1, 5.2, LuaJIT; 5.2's has
 *     another form) a C function that waits yields a "pending" marker with
 *     its continuation and its whole stack; the scheduler resumes the task
 *     with the same values, and a Lua wrapper around the function (see
 *     lgwL_wrap_waiting) calls the continuation with that stack again.
 *     LGWL_YIELDK is 1 when the native lua_yieldk is used.
 */
#ifndef LGW_LUA_COMPAT_H
#define LGW_LUA_COMPAT_H

#include <math.h>
#include <stdint.h>
#include <string.h>

#include <lua.h>
#include <lauxlib.h>

#if LUA_VERSION_NUM == 501 && defined(LUA_GCISRUNNING)
#define LGWL_LUAJIT 1
#else
#define LGWL_LUAJIT 0
#endif

#if LUA_VERSION_NUM == 501
#ifndef LUA_OK
#define LUA_OK 0
#endif
static inline int lua_absindex(lua_State *L, int idx) {
  return (idx > 0 || idx <= LUA_REGISTRYINDEX) ? idx
                                               : lua_gettop(L) + idx + 1;
}
#endif

#if LUA_VERSION_NUM >= 503
#define LGWL_YIELDK 1
#define lgwL_yieldk(L, ctx, k) lua_yieldk((L), 0, (ctx), (k))
#else
#define LGWL_YIELDK 0
typedef intptr_t lua_KContext;
typedef int (*lua_KFunction)(lua_State *L, int status, lua_KContext ctx);
/* Yields the pending marker, k, ctx and the whole stack (see above). */
int lgwL_yieldk(lua_State *L, lua_KContext ctx, lua_KFunction k);
#endif

/* Whether the nres values a task yielded are a pending continuation: the
 * scheduler then resumes it with those same values. Never with
 * LGWL_YIELDK. */
int lgwL_is_pending(lua_State *co, int nres);

/* Replaces the functions named in names (NULL-terminated) of the table
 * at idx by wrappers that complete their pending continuations; nothing
 * with LGWL_YIELDK. */
void lgwL_wrap_waiting(lua_State *L, int idx, const char *const names[]);

#if LGWL_YIELDK || LGWL_LUAJIT || LUA_VERSION_NUM == 502
#define lgwL_adopted(L) 0
#else
/* Lua 5.1's pcall cannot yield: llm.pcall runs the function in a
 * coroutine of its own, which counts as the task it runs in (adopted). */
int lgwL_adopted(lua_State *L);
#endif
#if !LGWL_YIELDK
/* Replaces the function key of the table at t, a function that returns
 * (budget, fn, args...), by one that calls fn under pcall in between, and
 * the function on top (popped) with what pcall returned after budget. */
void lgwL_wrap_limited(lua_State *L, int t, const char *key);
#endif
#if !LGWL_YIELDK
/* Argument errors name the function as its caller called it, also when
 * that caller is the wrapper of lgwL_wrap_waiting (then as the wrapper
 * was called: "bad argument #1 to 'call'" for gw:call). The checks of
 * lauxlib that raise argument errors are replaced accordingly. */
int lgwL_argerror(lua_State *L, int arg, const char *extramsg);
#define luaL_argerror lgwL_argerror
void lgwL_checktype(lua_State *L, int arg, int t);
#define luaL_checktype lgwL_checktype
void *lgwL_checkudata(lua_State *L, int arg, const char *tname);
#define luaL_checkudata lgwL_checkudata
lua_Integer lgwL_checkinteger(lua_State *L, int arg);
#define luaL_checkinteger lgwL_checkinteger
lua_Number lgwL_checknumber(lua_State *L, int arg);
#define luaL_checknumber lgwL_checknumber
const char *lgwL_checklstring(lua_State *L, int arg, size_t *len);
#undef luaL_checkstring
#define luaL_checklstring lgwL_checklstring
#define luaL_checkstring(L, n) (lgwL_checklstring((L), (n), NULL))
int lgwL_checkoption(lua_State *L, int arg, const char *def,
                     const char *const lst[]);
#define luaL_checkoption lgwL_checkoption
const char *lgwL_optlstring(lua_State *L, int arg, const char *def,
                            size_t *len);
#define luaL_optlstring lgwL_optlstring
lua_Number lgwL_optnumber(lua_State *L, int arg, lua_Number def);
#define luaL_optnumber lgwL_optnumber
#endif

/* Pushes a pcall that lets the function wait (5.1: see lgwL_adopted). */
void lgwL_push_pcall(lua_State *L);

/* lua_resume with the 5.4 signature. */
#if LUA_VERSION_NUM >= 504
#define lgwL_resume(co, from, nargs, nres) \
  lua_resume((co), (from), (nargs), (nres))
#else
static inline int lgwL_resume(lua_State *co, lua_State *from, int nargs,
                              int *nres) {
#if LUA_VERSION_NUM == 501
  int st = lua_resume(co, nargs);
  (void)from;
#else
  int st = lua_resume(co, from, nargs);
#endif
  *nres = (st == 0 || st == LUA_YIELD) ? lua_gettop(co) : 0;
  return st;
}
#endif

/* Closes the pending to-be-closed variables of a dead coroutine. */
#if LUA_VERSION_RELEASE_NUM >= 50406
#define lgwL_closethread(co, from) lua_closethread((co), (from))
#elif LUA_VERSION_NUM >= 504
#define lgwL_closethread(co, from) ((void)(from), lua_resetthread(co))
#else
#define lgwL_closethread(co, from) ((void)(co), (void)(from))
#endif

/* ---- 5.3 and older ---------------------------------------------------- */
#if LUA_VERSION_NUM < 504

#if LUA_VERSION_NUM == 503
/* 5.3: any value can be the user value, which is slot 1 itself: no table
 * (the binding never uses more than one slot; the others read as nil) */
static inline void *lgwL_newuserdatauv(lua_State *L, size_t size, int nuv) {
  (void)nuv;
  return lua_newuserdata(L, size);
}

static inline int lgwL_getiuservalue(lua_State *L, int idx, int n) {
  if (n != 1) {
    lua_pushnil(L);
    return LUA_TNONE;
  }
  return lua_getuservalue(L, idx);
}

static inline int lgwL_setiuservalue(lua_State *L, int idx, int n) {
  if (n != 1) {
    lua_pop(L, 1);
    return 0;
  }
  lua_setuservalue(L, idx);
  return 1;
}
#else
/* The table on top (popped) becomes the user value of the userdata at
 * idx (its environment in 5.1 and LuaJIT). */
static inline void lgwL_setuvtable(lua_State *L, int idx) {
#if LUA_VERSION_NUM == 501
  lua_setfenv(L, idx);
#else
  lua_setuservalue(L, idx);
#endif
}

static inline void *lgwL_newuserdatauv(lua_State *L, size_t size, int nuv) {
  void *p = lua_newuserdata(L, size);
  if (nuv > 0 || LUA_VERSION_NUM == 501) {
    lua_createtable(L, nuv, 0);
    lgwL_setuvtable(L, -2);
  }
  return p;
}

static inline void lgwL_getuvtable(lua_State *L, int idx) {
#if LUA_VERSION_NUM == 501
  lua_getfenv(L, idx);
#else
  lua_getuservalue(L, idx);
#endif
}

static inline int lgwL_getiuservalue(lua_State *L, int idx, int n) {
  idx = lua_absindex(L, idx);
  lgwL_getuvtable(L, idx);
  if (!lua_istable(L, -1)) {
    lua_pop(L, 1);
    lua_pushnil(L);
    return LUA_TNONE;
  }
  lua_rawgeti(L, -1, n);
  lua_remove(L, -2);
  return lua_type(L, -1);
}

static inline int lgwL_setiuservalue(lua_State *L, int idx, int n) {
  idx = lua_absindex(L, idx);
  lgwL_getuvtable(L, idx);
  if (!lua_istable(L, -1)) {
    lua_pop(L, 2);
    return 0;
  }
  lua_insert(L, -2);
  lua_rawseti(L, -2, n);
  lua_pop(L, 1);
  return 1;
}
#endif
#define lua_newuserdatauv lgwL_newuserdatauv
#define lua_getiuservalue lgwL_getiuservalue
#define lua_setiuservalue lgwL_setiuservalue

static inline int lgwL_typeerror(lua_State *L, int arg, const char *tname) {
  const char *typearg;
  if (luaL_getmetafield(L, arg, "__name") && lua_type(L, -1) == LUA_TSTRING)
    typearg = lua_tostring(L, -1);
  else if (lua_type(L, arg) == LUA_TLIGHTUSERDATA)
    typearg = "light userdata";
  else
    typearg = luaL_typename(L, arg);
  return luaL_argerror(L, arg, lua_pushfstring(L, "%s expected, got %s",
                                               tname, typearg));
}
#define luaL_typeerror lgwL_typeerror

#define luaL_argexpected(L, cond, arg, tname) \
  ((void)((cond) || luaL_typeerror((L), (arg), (tname))))

#endif /* < 5.4 */

/* ---- 5.2 and older ---------------------------------------------------- */
#if LUA_VERSION_NUM < 503

/* From 5.3 on a metatable of luaL_newmetatable has __name. */
static inline int lgwL_newmetatable(lua_State *L, const char *tname) {
  if (!(luaL_newmetatable)(L, tname)) return 0;
  lua_pushstring(L, tname);
  lua_setfield(L, -2, "__name");
  return 1;
}
#define luaL_newmetatable lgwL_newmetatable

#define lua_isyieldable(L) lgwL_isyieldable(L)
static inline int lgwL_isyieldable(lua_State *L) {
  int main = lua_pushthread(L);
  lua_pop(L, 1);
  return !main;
}

/* Only doubles: a whole number within 2^53 is an integer. */
static inline int lgwL_isinteger(lua_State *L, int idx) {
  lua_Number d;
  if (lua_type(L, idx) != LUA_TNUMBER) return 0;
  d = lua_tonumber(L, idx);
  return d == floor(d) && d >= -9007199254740992.0 &&
         d <= 9007199254740992.0;
}
#define lua_isinteger lgwL_isinteger

static inline void lgwL_rotate(lua_State *L, int idx, int n) {
  idx = lua_absindex(L, idx);
  for (; n > 0; n--) lua_insert(L, idx);
  for (; n < 0; n++) {
    lua_pushvalue(L, idx);
    lua_remove(L, idx);
  }
}
#define lua_rotate lgwL_rotate

/* lua_getfield and friends return the type from 5.3 on. */
#define lua_getfield(L, i, k) (lua_getfield((L), (i), (k)), lua_type((L), -1))
#define lua_rawgeti(L, i, n) (lua_rawgeti((L), (i), (n)), lua_type((L), -1))
#define lua_rawget(L, i) (lua_rawget((L), (i)), lua_type((L), -1))
#define lua_gettable(L, i) (lua_gettable((L), (i)), lua_type((L), -1))

#endif /* < 5.3 */

/* ---- 5.1 and LuaJIT --------------------------------------------------- */
#if LUA_VERSION_NUM == 501

#define luaL_checkversion(L) ((void)(L))
#define lua_rawlen(L, i) lua_objlen((L), (i))


#if !LGWL_LUAJIT
#define luaL_newlibtable(L, l) \
  lua_createtable((L), 0, sizeof(l) / sizeof((l)[0]) - 1)
#define luaL_newlib(L, l) (luaL_newlibtable((L), (l)), luaL_setfuncs((L), (l), 0))

static inline void luaL_setfuncs(lua_State *L, const luaL_Reg *l, int nup) {
  luaL_checkstack(L, nup, "too many upvalues");
  for (; l->name; l++) {
    int i;
    for (i = 0; i < nup; i++) lua_pushvalue(L, -nup);
    lua_pushcclosure(L, l->func, nup);
    lua_setfield(L, -(nup + 2), l->name);
  }
  lua_pop(L, nup);
}

static inline void *luaL_testudata(lua_State *L, int ud, const char *tname) {
  void *p = lua_touserdata(L, ud);
  if (p && lua_getmetatable(L, ud)) {
    luaL_getmetatable(L, tname);
    if (!lua_rawequal(L, -1, -2)) p = NULL;
    lua_pop(L, 2);
    return p;
  }
  return NULL;
}

static inline void luaL_setmetatable(lua_State *L, const char *tname) {
  luaL_getmetatable(L, tname);
  lua_setmetatable(L, -2);
}

/* debug.traceback(L1, msg, level) */
static inline void luaL_traceback(lua_State *L, lua_State *L1,
                                  const char *msg, int level) {
  lua_getglobal(L, "debug");
  lua_getfield(L, -1, "traceback");
  lua_remove(L, -2);
  if (L1 != L) lua_pushthread(L1), lua_xmove(L1, L, 1);
  if (msg) lua_pushstring(L, msg);
  else lua_pushnil(L);
  lua_pushinteger(L, level + (L1 == L ? 1 : 0));
  if (lua_pcall(L, L1 != L ? 3 : 2, 1, 0) != 0 ||
      lua_type(L, -1) != LUA_TSTRING) {
    lua_pop(L, 1);
    lua_pushstring(L, msg ? msg : "");
  }
}
#endif /* !LuaJIT */

static inline const char *luaL_tolstring(lua_State *L, int idx, size_t *len) {
  idx = lua_absindex(L, idx);
  if (!luaL_callmeta(L, idx, "__tostring")) {
    switch (lua_type(L, idx)) {
    case LUA_TNUMBER:
    case LUA_TSTRING:
      lua_pushvalue(L, idx);
      break;
    case LUA_TBOOLEAN:
      lua_pushstring(L, lua_toboolean(L, idx) ? "true" : "false");
      break;
    case LUA_TNIL:
      lua_pushliteral(L, "nil");
      break;
    default:
      lua_pushfstring(L, "%s: %p", luaL_typename(L, idx),
                      lua_topointer(L, idx));
      break;
    }
  }
  return lua_tolstring(L, -1, len);
}

#endif /* 5.1 */

/* LuaJIT runs no debug hooks in compiled code: lgwL_jit_pause turns its
 * JIT compiler off and flushes the compiled traces, and returns 1 when
 * the compiler was on (then lgwL_jit_resume turns it on again). 0 and
 * nothing elsewhere. */
#if LGWL_LUAJIT
int lgwL_jit_pause(lua_State *L);
void lgwL_jit_resume(lua_State *L);
#else
#define lgwL_jit_pause(L) ((void)(L), 0)
#define lgwL_jit_resume(L) ((void)(L))
#endif

/* The main thread of L's state (5.1 has no registry slot for it: a thread
 * of the module's own, anchored in the registry, stands in). Pushes it. */
void lgwL_push_main_thread(lua_State *L);

#endif
