/*
 * args.c -- the command line: options, worker mode's options (into a
 * table for its main task), the usage texts and the version.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "host.h"

const char *const host_progname = "llmgateway";

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
    "  --trace FILE   write every request and attempt event as a JSON line\n"
    "  --progress     show a live progress line on stderr (the default when\n"
    "                 stderr is a terminal); --no-progress turns it off\n"
    "  --log-level L  error, warning (default), info or debug\n"
    "  --             stop handling options\n"
    "  -v, --version  print the version and exit\n"
    "  -h, --help     print this help and exit\n"
    "\n"
    "Examples:\n"
    "  %s summarize.lua notes.txt     (the script sees arg[1] = notes.txt)\n"
    "  %s -c ./gateway.yaml pipeline.lua\n"
    "  %s -e 'print(require(\"llmgateway\")._VERSION)'\n"
    "\n"
    "Worker mode: %s worker --queue URL --name NAME [options] script.lua\n"
    "consumes jobs of a queue; see '%s worker --help'.\n"
    "\n"
    "Exit status: 0 on success; 1 on an error (message and traceback on\n"
    "stderr), also when a spawned task failed and nothing waited for it,\n"
    "or a --trace write failed; 130 when interrupted (Ctrl-C; a second\n"
    "Ctrl-C exits at once).\n",
    host_progname, host_progname, host_progname, host_progname, host_progname, host_progname);
}

/* Worker options with a value: their key in the options table, and
 * whether the value is a number. */
static const struct wopt {
  const char *flag, *key;
  int number;
} wopts[] = {
  {"--queue", "url", 0},
  {"--name", "name", 0},
  {"--concurrency", "concurrency", 2},
  {"--visibility-timeout", "visibility_timeout", 1},
  {"--max-deliveries", "max_deliveries", 2},
  {"--prefix", "prefix", 0},
  {"--consumer", "consumer", 0},
  {NULL, NULL, 0}
};

static const struct wopt *find_wopt(const char *a) {
  const struct wopt *w;
  for (w = wopts; w->flag; w++)
    if (strcmp(a, w->flag) == 0) return w;
  return NULL;
}

/* Sets opts[key] (the table on top) from a worker option's value; 0, or
 * -1 after printing what is wrong. */
static int set_wopt(lua_State *L, const struct wopt *w, const char *v) {
  char *end;
  if (w->number) {
    double d = strtod(v, &end);
    if (end == v || *end || !(d > 0) || d > 1e9 ||
        (w->number == 2 && d != (double)(long)d)) {
      fprintf(stderr, "%s: %s needs a positive %s, not '%s'\n", host_progname,
              w->flag, w->number == 2 ? "integer" : "number", v);
      return -1;
    }
    if (w->number == 2) lua_pushinteger(L, (lua_Integer)d);
    else lua_pushnumber(L, d);
  } else {
    lua_pushstring(L, v);
  }
  lua_setfield(L, -2, w->key);
  return 0;
}


int host_is_worker_option(const char *arg) {
  return find_wopt(arg) != NULL;
}

int host_parse_args(lua_State *L, host_args_t *a) {
  int argc = a->argc, i, level = LGW_LOG_WARN, nchunks = 0;
  char **argv = a->argv;
  a->first = 1;
  a->script = argc;
  a->progress = isatty(STDERR_FILENO);
  a->trace = NULL;
  lua_newtable(L);  /* worker options */
  a->wopts = lua_gettop(L);
  if (argc > 1 && strcmp(argv[1], "worker") == 0) {
    host.worker = 1;
    a->first = 2;
  }
  for (i = a->first; i < argc; i++) {
    const char *arg = argv[i];
    const struct wopt *w = host.worker ? find_wopt(arg) : NULL;
    if (w && i + 1 < argc) {
      if (set_wopt(L, w, argv[++i])) return EXIT_FAILURE;
      continue;
    }
    if (w) {
      fprintf(stderr, "%s: '%s' needs an argument\n", host_progname, arg);
      host_print_worker_usage(stderr);
      return EXIT_FAILURE;
    }
    if (host.worker && (strcmp(arg, "-e") == 0 || strcmp(arg, "-") == 0)) {
      fprintf(stderr, "%s: worker: '%s' is not available; give a script "
              "file\n", host_progname, arg);
      return EXIT_FAILURE;
    }
    if (arg[0] != '-' || strcmp(arg, "-") == 0) {
      a->script = i;
      break;
    }
    if (strcmp(arg, "--") == 0) {
      if (i + 1 < argc) a->script = i + 1;
      break;
    }
    if (strcmp(arg, "-v") == 0 || strcmp(arg, "--version") == 0) {
      printf("llmgateway %s (%s)\n", lgw_version_string(), LUA_RELEASE);
      return EXIT_SUCCESS;
    }
    if (strcmp(arg, "-h") == 0 || strcmp(arg, "--help") == 0) {
      if (host.worker) host_print_worker_usage(stdout);
      else print_usage(stdout);
      return EXIT_SUCCESS;
    }
    if ((strcmp(arg, "-e") == 0 || strcmp(arg, "-c") == 0) && i + 1 < argc) {
      if (arg[1] == 'c') setenv("LLMGATEWAY_CONFIG", argv[i + 1], 1);
      else nchunks++;
      i++;
      continue;
    }
    if (strcmp(arg, "--progress") == 0 || strcmp(arg, "--no-progress") == 0) {
      a->progress = arg[2] == 'p';
      continue;
    }
    if (strcmp(arg, "--trace") == 0 && i + 1 < argc) {
      a->trace = argv[++i];
      continue;
    }
    if (strcmp(arg, "--log-level") == 0 && i + 1 < argc) {
      for (level = 0; host_log_names[level]; level++)
        if (strcmp(argv[i + 1], host_log_names[level]) == 0) break;
      if (!host_log_names[level]) {
        fprintf(stderr, "%s: bad --log-level '%s' (error, warning, info or "
                "debug)\n", host_progname, argv[i + 1]);
        return EXIT_FAILURE;
      }
      i++;
      continue;
    }
    if (strcmp(arg, "-e") == 0 || strcmp(arg, "-c") == 0 ||
        strcmp(arg, "--trace") == 0 || strcmp(arg, "--log-level") == 0)
      fprintf(stderr, "%s: '%s' needs an argument\n", host_progname, arg);
    else
      fprintf(stderr, "%s: unrecognized option '%s'\n", host_progname, arg);
    if (host.worker) host_print_worker_usage(stderr);
    else print_usage(stderr);
    return EXIT_FAILURE;
  }
  a->level = level;
  if (host.worker) {
    const char *missing = a->script == argc ? "a script" : NULL;
    if (lua_getfield(L, a->wopts, "name") == LUA_TNIL) missing = "--name";
    lua_pop(L, 1);
    if (missing) {
      fprintf(stderr, "%s: worker: %s is required\n", host_progname, missing);
      host_print_worker_usage(stderr);
      return EXIT_FAILURE;
    }
  }
  if (a->script == argc && nchunks == 0) {
    if (isatty(STDIN_FILENO)) {
      print_usage(stderr);
      return EXIT_FAILURE;
    }
    a->script = -1;  /* the script is standard input */
  }
  return HOST_GO_ON;
}
