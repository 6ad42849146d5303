/*
 * host_main.c -- the llmgateway executable: Lua's lua.c skeleton (main,
 * pmain under lua_pcall, msghandler, report, the arg table) plus the event
 * loop. The script (and any -e code) runs as the main task, so gateway
 * calls in it yield instead of blocking; the loop runs until every task
 * has finished. SIGINT cancels the requests in flight and exits 130.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <lua.h>
#include <lauxlib.h>
#include <lualib.h>

#include "lua_priv.h"

#ifndef LGW_LUA_DIR
#define LGW_LUA_DIR "/usr/local/share/lua/5.4"
#endif

#define EXIT_INTERRUPTED 130

static const char *progname = "llmgateway";

static void print_usage(FILE *f) {
  fprintf(f,
    "usage: %s [options] [script [args...]]\n"
    "Runs a Lua script with the llmgateway module. The main chunk runs as a\n"
    "task: gateway calls in it and in llmgateway.spawn tasks run\n"
    "concurrently, and the program ends when every task has finished.\n"
    "\n"
    "Options:\n"
    "  -e CODE        run CODE (before the script, if any)\n"
    "  -c CONFIG      use CONFIG as the config file (sets LLMGATEWAY_CONFIG)\n"
    "  -              read the script from standard input\n"
    "  --             stop handling options\n"
    "  -v, --version  print the version and exit\n"
    "  -h, --help     print this help and exit\n"
    "\n"
    "Examples:\n"
    "  %s summarize.lua notes.txt     (the script sees arg[1] = notes.txt)\n"
    "  %s -c ./gateway.yaml pipeline.lua\n"
    "  %s -e 'print(require(\"llmgateway\")._VERSION)'\n"
    "\n"
    "Exit status: 0 on success; 1 on an error (message and traceback on\n"
    "stderr); 130 when interrupted (Ctrl-C).\n",
    progname, progname, progname, progname);
}

static void l_message(const char *msg) {
  fprintf(stderr, "%s: %s\n", progname, msg);
  fflush(stderr);
}

/* Prints the error on top of the stack, if status says there is one. */
static int report(lua_State *L, int status) {
  if (status != LUA_OK) {
    const char *msg = lua_tostring(L, -1);
    l_message(msg ? msg : "(error object is not a string)");
    lua_pop(L, 1);
  }
  return status;
}

/* lua.c's message handler: __tostring-aware, with a traceback. */
static int msghandler(lua_State *L) {
  const char *msg = lua_tostring(L, 1);
  if (msg == NULL) {
    if (luaL_callmeta(L, 1, "__tostring") && lua_type(L, -1) == LUA_TSTRING)
      return 1;
    msg = lua_pushfstring(L, "(error object is a %s value)",
                          luaL_typename(L, 1));
  }
  luaL_traceback(L, L, msg, 1);
  return 1;
}

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

/* package.path: the source tree's lua/ next to the executable (build/ or
 * build/<sub>/), then the installed directory, then Lua's default. */
static void set_path(lua_State *L) {
  static const char *const ups[] = {"/../lua", "/../../lua"};
  char exe[4096];
  size_t size = sizeof exe;
  luaL_Buffer b;
  size_t i;
  lua_getglobal(L, "package");
  luaL_buffinit(L, &b);
  if (uv_exepath(exe, &size) == 0) {
    char *slash = strrchr(exe, '/');
    if (slash) *slash = '\0';
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
  }
  luaL_addstring(&b, LGW_LUA_DIR "/?.lua;" LGW_LUA_DIR "/?/init.lua;");
  lua_getfield(L, -2, "path");
  luaL_addvalue(&b);
  luaL_pushresult(&b);
  lua_setfield(L, -2, "path");
  lua_getfield(L, -1, "preload");
  lua_pushcfunction(L, luaopen_llmgateway_core);
  lua_setfield(L, -2, "llmgateway.core");
  lua_pop(L, 2);
}

static void free_handle(uv_handle_t *h) { lgw_free(h); }

static void on_sigint(uv_signal_t *h, int signum) {
  lgwL_module_t *m = h->data;
  (void)signum;
  m->interrupted = 1;
  lgwL_cancel_all(m);
}

/* Runs -e chunks then the script as one task: runner(chunks, n, args);
 * a single chunk runs as the task by itself. */
static const char runner[] =
  "local chunks, n, args = ...\n"
  "for i = 1, n - 1 do chunks[i]() end\n"
  "return chunks[n](table.unpack(args, 1, args.n))\n";

/* pmain(argc, argv) -> exit status. The loop runs until every task has
 * finished, or the main task failed (the rest are dropped at lua_close,
 * which cancels their requests). */
static int pmain(lua_State *L) {
  int argc = (int)lua_tointeger(L, 1);
  char **argv = lua_touserdata(L, 2);
  int script = argc, nchunks = 0, nargs, i, rc, task;
  lgwL_task_t *main_task;
  lgwL_module_t *m;
  uv_signal_t *sig;
  luaL_checkversion(L);
  for (i = 1; i < argc; i++) {
    const char *a = argv[i];
    if (a[0] != '-' || strcmp(a, "-") == 0) {
      script = i;
      break;
    }
    if (strcmp(a, "--") == 0) {
      if (i + 1 < argc) script = i + 1;
      break;
    }
    if (strcmp(a, "-v") == 0 || strcmp(a, "--version") == 0) {
      printf("llmgateway %s (%s)\n", lgw_version_string(), LUA_RELEASE);
      lua_pushinteger(L, EXIT_SUCCESS);
      return 1;
    }
    if (strcmp(a, "-h") == 0 || strcmp(a, "--help") == 0) {
      print_usage(stdout);
      lua_pushinteger(L, EXIT_SUCCESS);
      return 1;
    }
    if ((strcmp(a, "-e") == 0 || strcmp(a, "-c") == 0) && i + 1 < argc) {
      if (a[1] == 'c') setenv("LLMGATEWAY_CONFIG", argv[i + 1], 1);
      else nchunks++;
      i++;
      continue;
    }
    if (strcmp(a, "-e") == 0 || strcmp(a, "-c") == 0)
      fprintf(stderr, "%s: '%s' needs an argument\n", progname, a);
    else
      fprintf(stderr, "%s: unrecognized option '%s'\n", progname, a);
    print_usage(stderr);
    lua_pushinteger(L, EXIT_FAILURE);
    return 1;
  }
  if (script == argc && nchunks == 0) {
    if (isatty(STDIN_FILENO)) {
      print_usage(stderr);
      lua_pushinteger(L, EXIT_FAILURE);
      return 1;
    }
    script = -1;  /* the script is standard input */
  }
  luaL_openlibs(L);
  set_path(L);
  create_arg_table(L, argv, argc, script < 0 ? argc : script);
  luaL_requiref(L, "llmgateway.core", luaopen_llmgateway_core, 0);
  lua_pop(L, 1);
  m = lgwL_module(L);

  /* stack: runner, chunks, n, args */
  if (luaL_loadbuffer(L, runner, sizeof runner - 1, "=llmgateway") != LUA_OK)
    return lua_error(L);
  lua_newtable(L);
  nchunks = 0;
  for (i = 1; i < argc && i != script; i++) {
    if (strcmp(argv[i], "--") == 0) break;
    if (strcmp(argv[i], "-c") == 0) {
      i++;
      continue;
    }
    if (strcmp(argv[i], "-e") != 0) continue;
    i++;
    if (report(L, luaL_loadbuffer(L, argv[i], strlen(argv[i]),
                                  "=(command line)")) != LUA_OK) {
      lua_pushinteger(L, EXIT_FAILURE);
      return 1;
    }
    lua_rawseti(L, -2, ++nchunks);
  }
  if (script != argc) {
    const char *fname = script < 0 || strcmp(argv[script], "-") == 0
                          ? NULL : argv[script];
    if (report(L, luaL_loadfile(L, fname)) != LUA_OK) {
      lua_pushinteger(L, EXIT_FAILURE);
      return 1;
    }
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
  task = lua_gettop(L) - 3;
  if (nchunks == 1) {
    /* Just the chunk, called with the script's arguments: tracebacks
     * then show only the user's code. */
    lua_rawgeti(L, task + 1, 1);
    for (i = 1; i <= nargs; i++) lua_rawgeti(L, task + 3, i);
    main_task = lgwL_spawn(L, m, nargs);
    lua_replace(L, task);
    lua_settop(L, task);
  } else {
    main_task = lgwL_spawn(L, m, 3);
  }

  sig = lgw__calloc(1, sizeof *sig);
  if (!sig) return luaL_error(L, "out of memory");
  uv_signal_init(m->loop, sig);
  sig->data = m;
  uv_signal_start(sig, on_sigint, SIGINT);
  uv_unref((uv_handle_t *)sig);

  rc = lgwL_run_all(L, m, main_task);
  uv_close((uv_handle_t *)sig, free_handle);
  if (rc > 0) {
    l_message("interrupted");
    lua_pushinteger(L, EXIT_INTERRUPTED);
    return 1;
  }
  if (rc < 0) {
    report(L, LUA_ERRRUN);
    lua_pushinteger(L, EXIT_FAILURE);
    return 1;
  }
  if (lgwL_task_failure(L, task)) {
    report(L, LUA_ERRRUN);
    lua_pushinteger(L, EXIT_FAILURE);
    return 1;
  }
  lua_pushinteger(L, EXIT_SUCCESS);
  return 1;
}

static void close_walk(uv_handle_t *h, void *arg) {
  (void)arg;
  if (!uv_is_closing(h)) uv_close(h, NULL);
}

int main(int argc, char **argv) {
  static uv_loop_t loop;
  lua_State *L;
  int status, result = EXIT_FAILURE;
  if (uv_loop_init(&loop)) {
    l_message("cannot create the event loop");
    return EXIT_FAILURE;
  }
  L = luaL_newstate();
  if (!L) {
    l_message("cannot create state: not enough memory");
    return EXIT_FAILURE;
  }
  lgw_lua_set_loop(L, &loop);
  lua_pushcfunction(L, msghandler);
  lua_pushcfunction(L, pmain);
  lua_pushinteger(L, argc);
  lua_pushlightuserdata(L, argv);
  status = lua_pcall(L, 2, 1, 1);
  if (report(L, status) == LUA_OK) result = (int)lua_tointeger(L, -1);
  lua_close(L);
  uv_walk(&loop, close_walk, NULL);
  while (uv_loop_close(&loop)) uv_run(&loop, UV_RUN_DEFAULT);
  return result;
}
