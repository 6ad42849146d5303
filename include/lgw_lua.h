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

#ifdef __cplusplus
}
#endif
#endif
