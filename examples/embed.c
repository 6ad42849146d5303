/*
 * embed.c -- a C application that embeds Lua and llmgateway on its own
 * libuv loop. It hands its loop to the module (lgw_lua_set_loop), runs a
 * Lua snippet that spawns three tasks, each asking a model through the
 * gateway, then drives its own loop -- uv_run for I/O, lgw_lua_step for
 * the Lua tasks -- until every task has finished, and prints the answers.
 *
 *   usage: embed BASE_URL     (an OpenAI-compatible endpoint, e.g. the
 *                              llmgateway-sim simulator)
 *
 *   build (after make install):
 *     cc -o embed examples/embed.c $(pkg-config --cflags --libs llmgateway-lua)
 *
 * The snippet uses the C module directly (require "llmgateway.core"); with
 * lua/ on package.path, require "llmgateway" gives the full Lua API.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <lauxlib.h>
#include <lua.h>
#include <lualib.h>
#include <uv.h>

#include "lgw_lua.h"

static const char snippet[] =
  "local llm = require('llmgateway.core')\n"
  "local base = ...\n"
  "local gw = assert(llm.Gateway({\n"
  "  providers = {{provider_type = 'openai', api_style = 'openai_chat',\n"
  "                base_url = base, api_key = 'embed-example-key'}},\n"
  "  settings = {fallback_model = 'embed-model'},\n"
  "}, {no_state = true}))\n"
  "answers = {}\n"
  "for i, question in ipairs({'one', 'two', 'three'}) do\n"
  "  llm.spawn(function()\n"
  "    local text, err = gw:run_task('demo',\n"
  "      {{role = 'user', content = question}})\n"
  "    answers[i] = text or ('error: ' .. tostring(err))\n"
  "  end)\n"
  "end\n";

int main(int argc, char **argv) {
  uv_loop_t loop;
  lua_State *L;
  int i, failed = 0;
  if (argc != 2) {
    fprintf(stderr, "usage: %s BASE_URL\n", argv[0]);
    return EXIT_FAILURE;
  }
  if (uv_loop_init(&loop) != 0) return EXIT_FAILURE;
  L = luaL_newstate();
  if (!L) return EXIT_FAILURE;
  luaL_openlibs(L);
  lgw_lua_set_loop(L, &loop);  /* before opening the module */
  luaL_requiref(L, "llmgateway.core", luaopen_llmgateway_core, 0);
  lua_pop(L, 1);

  if (luaL_loadstring(L, snippet) != LUA_OK ||
      (lua_pushstring(L, argv[1]), lua_pcall(L, 1, 0, 0)) != LUA_OK) {
    fprintf(stderr, "embed: %s\n", lua_tostring(L, -1));
    lua_close(L);
    return EXIT_FAILURE;
  }

  /* The application's own loop: tasks run in lgw_lua_step (and from the
   * module's idle handle inside uv_run); I/O completes inside uv_run. */
  while (lgw_lua_step(L) > 0) {
    if (uv_run(&loop, UV_RUN_ONCE) == 0 && lgw_lua_step(L) > 0) {
      fprintf(stderr, "embed: tasks are stuck\n");
      failed = 1;
      break;
    }
  }

  lua_getglobal(L, "answers");
  for (i = 1; i <= 3; i++) {
    const char *s;
    lua_rawgeti(L, -1, i);
    s = lua_tostring(L, -1);
    printf("%d: %s\n", i, s ? s : "(no answer)");
    if (!s || strncmp(s, "error: ", 7) == 0) failed = 1;
    lua_pop(L, 1);
  }
  lua_close(L);
  /* The module's handles finish closing on our loop. */
  uv_run(&loop, UV_RUN_DEFAULT);
  if (uv_loop_close(&loop) != 0) {
    fprintf(stderr, "embed: the loop still has handles\n");
    failed = 1;
  }
  return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
