/*
 * script.c -- the script's state (the libraries, package.path and cpath,
 * the arg table, llmgateway.core), its chunks (-e code, then the script
 * file or standard input) run as the main task, and its output kept
 * apart from the progress line.
 */
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "host.h"

/* arg: the script at 0, its arguments at 1..n, the interpreter and the
 * options at negative indexes (no script: everything from 0 up). */
static void create_arg_table(lua_State *L, char **argv, int argc,
                             int script) {
  int i, narg;
  if (script == argc) script = 0;
  narg = argc - (script + 1);
  lua_createtable(L, narg, script + 1);
  for (i = 0; i < argc; i++) {
    lua_pushstring(L, argv[i]);
    lua_rawseti(L, -2, i - script);
  }
  lua_setglobal(L, "arg");
}

/* path as lua.c sets package.path from LUA_PATH: the value unchanged, or
 * with ";;" replaced by dflt. */
static void push_env_path(lua_State *L, const char *path, const char *dflt) {
  const char *mark = strstr(path, ";;");
  luaL_Buffer b;
  if (!mark) {
    lua_pushstring(L, path);
    return;
  }
  luaL_buffinit(L, &b);
  if (mark > path) {
    luaL_addlstring(&b, path, (size_t)(mark - path));
    luaL_addchar(&b, ';');
  }
  luaL_addstring(&b, dflt);
  if (mark[2] != '\0') {
    luaL_addchar(&b, ';');
    luaL_addstring(&b, mark + 2);
  }
  luaL_pushresult(&b);
}

/* package[field] (package at index pkg) = $<env>_5_4, else $<env> (";;"
 * standing for dflt), else dflt. */
static void set_one_path(lua_State *L, int pkg, const char *field,
                         const char *env, const char *dflt) {
  const char *v = getenv(lua_pushfstring(L, "%s_5_4", env));
  lua_pop(L, 1);
  if (!v) v = getenv(env);
  if (v) push_env_path(L, v, dflt);
  else lua_pushstring(L, dflt);
  lua_setfield(L, pkg, field);
}

/* The executable's absolute path into buf (n bytes); 0 when unknown. */
static int exe_path(char *buf, size_t n) {
  ssize_t got = readlink("/proc/self/exe", buf, n - 1);
  if (got <= 0) return 0;
  buf[got] = '\0';
  return buf[0] == '/';
}

/* package.path and package.cpath. The default: the source tree's lua/
 * when the executable runs from the build tree (build/bin/ or build/),
 * then the install's directories next to the executable's, wherever the
 * install was put or moved: <prefix>/share/lua/5.4 and <prefix>/lib/lua/5.4
 * where <prefix>/bin holds the executable; then Lua's defaults.
 * LUA_PATH_5_4 / LUA_PATH and LUA_CPATH_5_4 / LUA_CPATH win, as in lua:
 * they replace the default, ";;" in them standing for it. */
static void set_path(lua_State *L) {
  static const char *const ups[] = {"/../lua", "/../../lua"};
  char exe[4096];
  int have_exe = exe_path(exe, sizeof exe);
  int pkg;
  luaL_Buffer b;
  size_t i;
  lua_getglobal(L, "package");
  pkg = lua_gettop(L);
  luaL_buffinit(L, &b);
  if (have_exe) {
    char *slash = strrchr(exe, '/');
    *slash = '\0';
    for (i = 0; i < sizeof ups / sizeof *ups; i++) {
      const char *dir = lua_pushfstring(L, "%s%s", exe, ups[i]);
      const char *probe = lua_pushfstring(L, "%s/llmgateway/init.lua", dir);
      int found = access(probe, R_OK) == 0;
      lua_pop(L, 1);
      if (found) {
        lua_pushfstring(L, "%s/?.lua;%s/?/init.lua;", dir, dir);
        lua_remove(L, -2);
        luaL_addvalue(&b);
        break;
      }
      lua_pop(L, 1);
    }
    /* <prefix>: the executable's directory without its last part */
    slash = strrchr(exe, '/');
    if (slash) *slash = '\0';
    lua_pushfstring(L, "%s/share/lua/5.4/?.lua;%s/share/lua/5.4/?/init.lua;",
                    exe, exe);
    luaL_addvalue(&b);
  }
  luaL_addstring(&b, LUA_PATH_DEFAULT);
  luaL_pushresult(&b);
  set_one_path(L, pkg, "path", "LUA_PATH", lua_tostring(L, -1));
  lua_pop(L, 1);
  if (have_exe) lua_pushfstring(L, "%s/lib/lua/5.4/?.so;", exe);
  else lua_pushliteral(L, "");
  lua_pushliteral(L, LUA_CPATH_DEFAULT);
  lua_concat(L, 2);
  set_one_path(L, pkg, "cpath", "LUA_CPATH", lua_tostring(L, -1));
  lua_pop(L, 1);
  lua_getfield(L, pkg, "preload");
  lua_pushcfunction(L, luaopen_llmgateway_core);
  lua_setfield(L, -2, "llmgateway.core");
  lua_pop(L, 2);
}

/* print, io.write and the files' write method while the progress line is
 * on: the line is cleared before the script's output and drawn again
 * after it, once the output ends a line. upvalues: the original function,
 * true for print. */
static int output_wrapper(lua_State *L) {
  int n = lua_gettop(L), is_print = lua_toboolean(L, lua_upvalueindex(2));
  int mine = 1, partial = host.partial;
  luaL_Stream *f;
  if (!is_print && n >= 1 &&
      (f = luaL_testudata(L, 1, LUA_FILEHANDLE)) != NULL)
    mine = f->f == stdout || f->f == stderr;
  if (mine) {
    if (is_print) {
      partial = 0;
    } else if (n >= 1 && lua_type(L, n) == LUA_TSTRING) {
      size_t len;
      const char *str = lua_tolstring(L, n, &len);
      if (len > 0) partial = str[len - 1] != '\n';
    } else if (n >= 1 && lua_type(L, n) == LUA_TNUMBER) {
      partial = 1;
    }
    host_clear_line();
  }
  lua_pushvalue(L, lua_upvalueindex(1));
  lua_insert(L, 1);
  lua_call(L, n, LUA_MULTRET);
  if (mine) {
    fflush(stdout);
    host.partial = partial;
    host_draw_progress();
  }
  return lua_gettop(L);
}

void host_wrap_output(lua_State *L) {
  lua_getglobal(L, "print");
  lua_pushboolean(L, 1);
  lua_pushcclosure(L, output_wrapper, 2);
  lua_setglobal(L, "print");
  lua_getglobal(L, "io");
  lua_getfield(L, -1, "write");
  lua_pushboolean(L, 0);
  lua_pushcclosure(L, output_wrapper, 2);
  lua_setfield(L, -2, "write");
  lua_pop(L, 1);
  luaL_getmetatable(L, LUA_FILEHANDLE);
  if (lua_getfield(L, -1, "__index") == LUA_TTABLE) {
    lua_getfield(L, -1, "write");
    lua_pushboolean(L, 0);
    lua_pushcclosure(L, output_wrapper, 2);
    lua_setfield(L, -2, "write");
  }
  lua_pop(L, 2);
}

void host_open_state(lua_State *L, const host_args_t *a) {
  host.progress = a->progress;
  host.start = host_now_ms();
  lgw_set_log(host_log, NULL, (lgw_log_level_t)a->level);
  luaL_openlibs(L);
  if (a->progress) host_wrap_output(L);
  set_path(L);
  create_arg_table(L, a->argv, a->argc, a->script < 0 ? a->argc : a->script);
  luaL_requiref(L, "llmgateway.core", luaopen_llmgateway_core, 0);
  lua_pop(L, 1);
  host.L = L;
  lgw_lua_set_event_hook(L, host_on_event, NULL);
}

/* Runs -e chunks then the script as one task: runner(chunks, n, args);
 * a single chunk runs as the task by itself. */
static const char runner[] =
  "local chunks, n, args = ...\n"
  "for i = 1, n - 1 do chunks[i]() end\n"
  "return chunks[n](table.unpack(args, 1, args.n))\n";

void host_push_runner(lua_State *L) {
  if (luaL_loadbuffer(L, runner, sizeof runner - 1, "=llmgateway") != LUA_OK)
    lua_error(L);
}

int host_load_chunks(lua_State *L, const host_args_t *a) {
  int argc = a->argc, script = a->script, nchunks = 0, nargs, i;
  char **argv = a->argv;
  lua_newtable(L);
  for (i = a->first; i < argc && i != script; i++) {
    if (strcmp(argv[i], "--") == 0) break;
    if (strcmp(argv[i], "-c") == 0 || strcmp(argv[i], "--trace") == 0 ||
        strcmp(argv[i], "--log-level") == 0 ||
        (host.worker && host_is_worker_option(argv[i]))) {
      i++;
      continue;
    }
    if (strcmp(argv[i], "-e") != 0) continue;
    i++;
    if (host_report(L, luaL_loadbuffer(L, argv[i], strlen(argv[i]),
                                       "=(command line)")) != LUA_OK)
      return EXIT_FAILURE;
    lua_rawseti(L, -2, ++nchunks);
  }
  if (script != argc) {
    const char *fname = script < 0 || strcmp(argv[script], "-") == 0
                          ? NULL : argv[script];
    if (host_report(L, luaL_loadfile(L, fname)) != LUA_OK)
      return EXIT_FAILURE;
    lua_rawseti(L, -2, ++nchunks);
  }
  lua_pushinteger(L, nchunks);
  lua_createtable(L, argc, 1);
  for (i = script < 0 ? argc : script + 1; i < argc; i++) {
    lua_pushstring(L, argv[i]);
    lua_rawseti(L, -2, i - script);
  }
  nargs = script < 0 || script == argc ? 0 : argc - script - 1;
  lua_pushinteger(L, nargs);
  lua_setfield(L, -2, "n");
  return HOST_GO_ON;
}

void host_spawn_script(lua_State *L, int task) {
  int nchunks = (int)lua_tointeger(L, task + 2), nargs, i;
  if (nchunks == 1) {
    /* Just the chunk, called with the script's arguments: tracebacks
     * then show only the user's code. */
    lua_getfield(L, task + 3, "n");
    nargs = (int)lua_tointeger(L, -1);
    lua_pop(L, 1);
    lua_rawgeti(L, task + 1, 1);
    for (i = 1; i <= nargs; i++) lua_rawgeti(L, task + 3, i);
    lgw_lua_spawn(L, nargs);
    lua_replace(L, task);
    lua_settop(L, task);
  } else {
    lgw_lua_spawn(L, 3);
  }
}
