/*
 * host_main.c -- the llmgateway executable: Lua's lua.c skeleton (main,
 * pmain under lua_pcall, msghandler, report, the arg table) plus the event
 * loop. The script (and any -e code) runs as the main task, so gateway
 * calls in it yield instead of blocking; the loop runs until every task
 * has finished. SIGINT interrupts the running Lua code, cancels the
 * requests in flight and exits 130.
 * Observability for every gateway the script creates: --trace writes the
 * engine's events as JSON lines, --progress draws a live status line on
 * stderr, --log-level filters the engine's log. `llmgateway worker`
 * consumes a work queue with the pipeline function a script returns,
 * until SIGTERM or SIGINT (then it finishes the jobs in hand within
 * settings.worker_grace).
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#include <lua.h>
#include <lauxlib.h>
#include <lualib.h>

#include "lgw_lua.h"

#define EXIT_INTERRUPTED 130
#define EXIT_GC_LIMIT 3  /* seconds finalizers may run at exit */

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
    progname, progname, progname, progname, progname, progname);
}

static void print_worker_usage(FILE *f) {
  fprintf(f,
    "usage: %s worker --queue URL --name NAME [options] script.lua [args...]\n"
    "Consumes the jobs of queue NAME on the Redis at URL (redis://[[user]:\n"
    "password@]host[:port][/db]). The script's main chunk returns the\n"
    "pipeline function (or defines a global function `handle`):\n"
    "  function(request, gateway, job) ... return result end\n"
    "It runs as a task per job with the decoded request, a gateway built\n"
    "from the config (-c or LLMGATEWAY_CONFIG; nil without one) and\n"
    "job = {id=, delivery=, max_deliveries=}. Its value is the job's\n"
    "result (JSON); an error (raised, or nil, err) retries the job after\n"
    "the visibility timeout, and fails it for good on its last delivery\n"
    "(or at once when err.retry == false).\n"
    "\n"
    "Options:\n"
    "  --queue URL               the queue's Redis (default: the config's\n"
    "                            settings.state when it is a redis:// URL)\n"
    "  --name NAME               the queue's name (required)\n"
    "  --concurrency N           jobs run at once (default 8)\n"
    "  --visibility-timeout S    seconds before a job of a dead worker is\n"
    "                            taken over (default 30)\n"
    "  --max-deliveries N        deliveries before a job fails (default 5)\n"
    "  --prefix P                key prefix (default: settings.state_prefix)\n"
    "  --consumer ID             this worker's name (default host-pid)\n"
    "  -c CONFIG, --trace FILE, --progress, --no-progress, --log-level L\n"
    "                            as without `worker`\n"
    "\n"
    "SIGTERM or SIGINT: take no new jobs, let the jobs in hand finish\n"
    "within settings.worker_grace seconds (default 30; then they are\n"
    "interrupted), exit 143 (SIGTERM) or 130 (SIGINT); a second signal\n"
    "exits at once (unfinished jobs are delivered again after the\n"
    "visibility timeout).\n",
    progname);
}

/* ===== Trace, progress and log ========================================== */

/* Monotonic milliseconds, and the wall clock in seconds. */
static double now_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

static double wall_s(void) {
  struct timeval tv;
  gettimeofday(&tv, NULL);
  return (double)tv.tv_sec + (double)tv.tv_usec / 1e6;
}

typedef struct host {
  lua_State *L;             /* the script's state */
  FILE *trace;              /* NULL: no trace */
  int progress;             /* draw the progress line */
  int drawn;                /* a progress line is on the screen */
  int seen;                 /* some request has ended */
  double start;             /* now_ms() at start */
  long done, failed;        /* requests ended */
  long tokens;              /* input + output tokens of ended requests */
  int worker;               /* worker mode */
  int stopping;             /* worker mode: a stop signal was seen */
  double grace;             /* worker mode: seconds jobs may finish in */
  const char *trace_path;
  int trace_failed;         /* a trace write failed: exit 1 */
  int partial;              /* the script's output ends mid-line */
} host_t;

static host_t host = {.grace = 30.0};

static void clear_line(void) {
  if (!host.drawn) return;
  fputs("\r\033[K", stderr);
  host.drawn = 0;
}

static void l_message(const char *msg) {
  clear_line();
  fprintf(stderr, "%s: %s\n", progname, msg);
  fflush(stderr);
}

/* "1:05" or "1:02:05" */
static void fmt_duration(char *buf, size_t n, double secs) {
  long t = (long)(secs + 0.5);
  if (t >= 3600)
    snprintf(buf, n, "%ld:%02ld:%02ld", t / 3600, t / 60 % 60, t % 60);
  else
    snprintf(buf, n, "%ld:%02ld", t / 60, t % 60);
}

/* done, failed, in flight, rate, tokens, elapsed, and an ETA when the
 * batch helpers told how many items there are. */
/* Worker mode: the queue's counters (as last read) and this worker's. */
static void draw_worker_progress(double elapsed) {
  lgw_lua_queue_progress_t p;
  char el[32], q[160] = "";
  if (!lgw_lua_queue_progress(host.L, &p)) return;
  fmt_duration(el, sizeof el, elapsed);
  if (p.have_stats)
    snprintf(q, sizeof q, "waiting %lld  in flight %lld  done %lld  failed "
             "%lld  %.1f jobs/s  | ", p.st.length, p.st.in_flight,
             p.st.done, p.st.failed, p.st.rate);
  fprintf(stderr, "\r\033[K[llmgateway] queue %s  %shere: running %ld  done "
          "%ld  failed %ld  retried %ld  elapsed %s%s", p.name, q, p.held,
          p.done, p.failed, p.retried, el, host.stopping ? "  stopping"
          : "");
  fflush(stderr);
  host.drawn = 1;
}

static void draw_progress(void) {
  lgw_lua_progress_t pr;
  double elapsed = (now_ms() - host.start) / 1000.0;
  size_t inflight = 0;
  char el[32], eta[48] = "";
  if (host.partial) return;  /* not in the middle of the script's line */
  if (host.progress && host.worker) {
    draw_worker_progress(elapsed);
    return;
  }
  if (!host.progress || !host.seen) return;
  lgw_lua_progress(host.L, &pr);
  inflight = pr.in_flight;
  fmt_duration(el, sizeof el, elapsed);
  if (pr.batch_done > 0 && pr.batch_items > pr.batch_done) {
    char d[32];
    fmt_duration(d, sizeof d, elapsed * (double)(pr.batch_items -
                 pr.batch_done) / (double)pr.batch_done);
    snprintf(eta, sizeof eta, "  ETA %s", d);
  }
  fprintf(stderr, "\r\033[K[llmgateway] done %ld  failed %ld  in flight "
          "%zu  %.1f req/s  tokens %ld  elapsed %s%s", host.done, host.failed,
          inflight, elapsed > 0 ? (double)(host.done + host.failed) / elapsed
          : 0.0, host.tokens, el, eta);
  fflush(stderr);
  host.drawn = 1;
}


/* One JSON line per event, the same keys every time (null: unknown). */
static void write_trace(const lgw_event_t *ev) {
  char *line = lgw_event_json(ev, wall_s(), NULL);
  if (!line) return;
  errno = 0;
  if (fprintf(host.trace, "%s\n", line) < 0 || fflush(host.trace) != 0) {
    /* The run ends: a trace with holes would mislead. */
    char msg[600];
    snprintf(msg, sizeof msg, "cannot write trace file '%s': %s",
             host.trace_path, strerror(errno ? errno : EIO));
    l_message(msg);
    fclose(host.trace);
    host.trace = NULL;
    host.trace_failed = 1;
    lgw_lua_stop(host.L, 0);
  }
  lgw_free(line);
}

/* The module's event hook: every event of every gateway. */
static void on_event(const lgw_event_t *ev, void *ud) {
  (void)ud;
  if (host.trace) write_trace(ev);
  if (ev->type != LGW_EVENT_REQUEST_END) return;
  host.seen = 1;
  if (ev->code == LGW_OK) host.done++;
  else host.failed++;
  if (ev->usage.input_tokens > 0) host.tokens += ev->usage.input_tokens;
  if (ev->usage.output_tokens > 0) host.tokens += ev->usage.output_tokens;
}

static const char *const log_names[] = {"error", "warning", "info", "debug",
                                        NULL};

/* The engine's log on stderr, below the progress line. */
static void host_log(lgw_log_level_t level, const char *msg, void *ud) {
  (void)ud;
  clear_line();
  fprintf(stderr, "%s: %s: %s\n", progname, log_names[level], msg);
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

/* ===== The script's output ============================================= */

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
    clear_line();
  }
  lua_pushvalue(L, lua_upvalueindex(1));
  lua_insert(L, 1);
  lua_call(L, n, LUA_MULTRET);
  if (mine) {
    fflush(stdout);
    host.partial = partial;
    draw_progress();
  }
  return lua_gettop(L);
}

static void wrap_output(lua_State *L) {
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

/* ===== Signals ========================================================== */

/* SIGINT (and SIGTERM in worker mode) are caught with sigaction, as lua.c
 * does: the Lua code running at that moment -- even a loop that never
 * yields -- raises "interrupted!" at its next instruction, and the loop
 * is woken to cancel the requests in flight. A second signal exits at
 * once. In worker mode the first signal stops taking jobs and lets the
 * jobs in hand run for settings.worker_grace seconds (SIGALRM then
 * interrupts them). */
static volatile sig_atomic_t sig_first;   /* first stop signal, or 0 */
static volatile sig_atomic_t grace_over;

static void on_signal(int sig) {
  if (sig == SIGALRM) {
    grace_over = 1;
    lgw_lua_interrupt(host.L);
    lgw_lua_wake(host.L);
    return;
  }
  if (sig_first) _exit(128 + sig);
  sig_first = sig;
  if (!host.worker || host.grace <= 0) {
    grace_over = 1;
    lgw_lua_interrupt(host.L);
  } else {
    struct itimerval it;
    memset(&it, 0, sizeof it);
    it.it_value.tv_sec = (time_t)host.grace;
    it.it_value.tv_usec = (suseconds_t)((host.grace - (double)(time_t)
                                         host.grace) * 1e6);
    if (it.it_value.tv_sec == 0 && it.it_value.tv_usec == 0)
      it.it_value.tv_usec = 1;
    setitimer(ITIMER_REAL, &it, NULL);
  }
  lgw_lua_wake(host.L);
}

/* The loop's side of a signal (after lgw_lua_wake), and the progress
 * line's redraw. */
static int stopped;  /* the run was stopped after a signal */

static void on_tick(lua_State *L, void *ud) {
  (void)ud;
  if (sig_first) {
    if (host.worker && !host.stopping) {
      char msg[160];
      host.stopping = 1;
      lgw_lua_stop_queues(L);
      snprintf(msg, sizeof msg, "stopping: finishing the jobs in hand (at "
               "most %g s; signal again to quit now)", host.grace);
      l_message(msg);
    }
    if (grace_over && !stopped) {
      stopped = 1;
      lgw_lua_stop(L, 1);
    }
  }
  draw_progress();
}

static void catch_signals(void) {
  struct sigaction sa;
  memset(&sa, 0, sizeof sa);
  sa.sa_handler = on_signal;
  sigemptyset(&sa.sa_mask);
  sigaction(SIGINT, &sa, NULL);
  if (host.worker) {
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGALRM, &sa, NULL);
  }
}

static void release_signals(void) {
  struct itimerval off;
  memset(&off, 0, sizeof off);
  setitimer(ITIMER_REAL, &off, NULL);
  signal(SIGALRM, SIG_DFL);
  /* from here on a signal ends the process as by default */
  signal(SIGINT, SIG_DFL);
  if (host.worker) signal(SIGTERM, SIG_DFL);
}

/* set_grace(seconds): the worker's settings.worker_grace. */
static int l_set_grace(lua_State *L) {
  host.grace = luaL_checknumber(L, 1);
  return 0;
}

/* Finalizers at exit: Lua runs them with hooks off, so one that never
 * returns is not interruptible; after EXIT_GC_LIMIT seconds the process
 * exits anyway, with the status it would have had. */
static volatile sig_atomic_t exit_status;

static void on_exit_alarm(int sig) {
  static const char msg[] = "llmgateway: finalizers did not finish at "
                            "exit; exiting without them\n";
  ssize_t w;
  (void)sig;
  w = write(STDERR_FILENO, msg, sizeof msg - 1);
  (void)w;
  _exit(exit_status);
}

static void bound_exit(int status) {
  struct sigaction sa;
  struct itimerval it;
  exit_status = status;
  memset(&sa, 0, sizeof sa);
  sa.sa_handler = on_exit_alarm;
  sigemptyset(&sa.sa_mask);
  sigaction(SIGALRM, &sa, NULL);
  memset(&it, 0, sizeof it);
  it.it_value.tv_sec = (time_t)EXIT_GC_LIMIT;
  setitimer(ITIMER_REAL, &it, NULL);
}

/* Worker mode's main task: worker(chunk, opts, args). */
static const char worker_runner[] =
  "local chunk, opts, args, set_grace = ...\n"
  "local llm = require('llmgateway')\n"
  "local handler = chunk(table.unpack(args, 1, args.n))\n"
  "if handler == nil then handler = rawget(_G, 'handle') end\n"
  "local mt = getmetatable(handler)\n"
  "if type(handler) ~= 'function' and not (type(mt) == 'table' and\n"
  "    mt.__call) then\n"
  "  error('the worker script must return its pipeline function '\n"
  "    .. '(or define a global function handle), not a '\n"
  "    .. type(handler), 0)\n"
  "end\n"
  "local gw\n"
  "local path = llm.resolve_user_config_file()\n"
  "local f = io.open(path)\n"
  "if f then\n"
  "  f:close()\n"
  "  local rt = assert(llm.load_runtime_spec(path))\n"
  "  gw = assert(llm.Gateway(rt))\n"
  "  set_grace(rt.worker_grace)\n"
  "end\n"
  "local url = opts.url or (gw and gw.runtime.state)\n"
  "if not url then\n"
  "  error('worker: no queue URL: give --queue redis://... (or set '\n"
  "    .. 'settings.state in the config)', 0)\n"
  "end\n"
  "local q = assert(llm.queue(url, opts.name, {\n"
  "  prefix = opts.prefix or (gw and gw.runtime.state_prefix),\n"
  "  concurrency = opts.concurrency, max_deliveries = opts.max_deliveries,\n"
  "  visibility_timeout = opts.visibility_timeout}))\n"
  "assert(q:serve(handler, {consumer = opts.consumer, gateway = gw}))\n"
  "q:close()\n"
  "if gw then gw:close() end\n";

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
      fprintf(stderr, "%s: %s needs a positive %s, not '%s'\n", progname,
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
  int progress = isatty(STDERR_FILENO), level = LGW_LOG_WARN;
  int first = 1, wopts_at;
  const char *trace = NULL;
  luaL_checkversion(L);
  lua_newtable(L);  /* worker options */
  wopts_at = lua_gettop(L);
  if (argc > 1 && strcmp(argv[1], "worker") == 0) {
    host.worker = 1;
    first = 2;
  }
  for (i = first; i < argc; i++) {
    const char *a = argv[i];
    const struct wopt *w = host.worker ? find_wopt(a) : NULL;
    if (w && i + 1 < argc) {
      if (set_wopt(L, w, argv[++i])) {
        lua_pushinteger(L, EXIT_FAILURE);
        return 1;
      }
      continue;
    }
    if (w) {
      fprintf(stderr, "%s: '%s' needs an argument\n", progname, a);
      print_worker_usage(stderr);
      lua_pushinteger(L, EXIT_FAILURE);
      return 1;
    }
    if (host.worker && (strcmp(a, "-e") == 0 || strcmp(a, "-") == 0)) {
      fprintf(stderr, "%s: worker: '%s' is not available; give a script "
              "file\n", progname, a);
      lua_pushinteger(L, EXIT_FAILURE);
      return 1;
    }
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
      if (host.worker) print_worker_usage(stdout);
      else print_usage(stdout);
      lua_pushinteger(L, EXIT_SUCCESS);
      return 1;
    }
    if ((strcmp(a, "-e") == 0 || strcmp(a, "-c") == 0) && i + 1 < argc) {
      if (a[1] == 'c') setenv("LLMGATEWAY_CONFIG", argv[i + 1], 1);
      else nchunks++;
      i++;
      continue;
    }
    if (strcmp(a, "--progress") == 0 || strcmp(a, "--no-progress") == 0) {
      progress = a[2] == 'p';
      continue;
    }
    if (strcmp(a, "--trace") == 0 && i + 1 < argc) {
      trace = argv[++i];
      continue;
    }
    if (strcmp(a, "--log-level") == 0 && i + 1 < argc) {
      for (level = 0; log_names[level]; level++)
        if (strcmp(argv[i + 1], log_names[level]) == 0) break;
      if (!log_names[level]) {
        fprintf(stderr, "%s: bad --log-level '%s' (error, warning, info or "
                "debug)\n", progname, argv[i + 1]);
        lua_pushinteger(L, EXIT_FAILURE);
        return 1;
      }
      i++;
      continue;
    }
    if (strcmp(a, "-e") == 0 || strcmp(a, "-c") == 0 ||
        strcmp(a, "--trace") == 0 || strcmp(a, "--log-level") == 0)
      fprintf(stderr, "%s: '%s' needs an argument\n", progname, a);
    else
      fprintf(stderr, "%s: unrecognized option '%s'\n", progname, a);
    if (host.worker) print_worker_usage(stderr);
    else print_usage(stderr);
    lua_pushinteger(L, EXIT_FAILURE);
    return 1;
  }
  if (host.worker) {
    const char *missing = script == argc ? "a script" : NULL;
    if (lua_getfield(L, wopts_at, "name") == LUA_TNIL) missing = "--name";
    lua_pop(L, 1);
    if (missing) {
      fprintf(stderr, "%s: worker: %s is required\n", progname, missing);
      print_worker_usage(stderr);
      lua_pushinteger(L, EXIT_FAILURE);
      return 1;
    }
  }
  if (script == argc && nchunks == 0) {
    if (isatty(STDIN_FILENO)) {
      print_usage(stderr);
      lua_pushinteger(L, EXIT_FAILURE);
      return 1;
    }
    script = -1;  /* the script is standard input */
  }
  if (trace) {
    host.trace_path = trace;
    host.trace = fopen(trace, "w");
    if (!host.trace) {
      fprintf(stderr, "%s: cannot open trace file '%s': %s\n", progname,
              trace, strerror(errno));
      lua_pushinteger(L, EXIT_FAILURE);
      return 1;
    }
  }
  host.progress = progress;
  host.start = now_ms();
  lgw_set_log(host_log, NULL, (lgw_log_level_t)level);
  luaL_openlibs(L);
  if (progress) wrap_output(L);
  set_path(L);
  create_arg_table(L, argv, argc, script < 0 ? argc : script);
  luaL_requiref(L, "llmgateway.core", luaopen_llmgateway_core, 0);
  lua_pop(L, 1);
  host.L = L;
  lgw_lua_set_event_hook(L, on_event, NULL);

  /* stack: runner, chunks, n, args */
  if (host.worker) {
    if (luaL_loadbuffer(L, worker_runner, sizeof worker_runner - 1,
                        "=llmgateway worker") != LUA_OK)
      return lua_error(L);
  } else if (luaL_loadbuffer(L, runner, sizeof runner - 1, "=llmgateway")
             != LUA_OK) {
    return lua_error(L);
  }
  lua_newtable(L);
  nchunks = 0;
  for (i = first; i < argc && i != script; i++) {
    if (strcmp(argv[i], "--") == 0) break;
    if (strcmp(argv[i], "-c") == 0 || strcmp(argv[i], "--trace") == 0 ||
        strcmp(argv[i], "--log-level") == 0 ||
        (host.worker && find_wopt(argv[i]))) {
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
  if (host.worker) {
    /* worker_runner(chunk, options, args, set_grace) */
    lua_rawgeti(L, task + 1, 1);
    lua_pushvalue(L, wopts_at);
    lua_pushvalue(L, task + 3);
    lua_pushcfunction(L, l_set_grace);
    lua_pushvalue(L, task);
    lua_insert(L, -5);
    lgw_lua_spawn(L, 4);
    lua_replace(L, task);
    lua_settop(L, task);
  } else if (nchunks == 1) {
    /* Just the chunk, called with the script's arguments: tracebacks
     * then show only the user's code. */
    lua_rawgeti(L, task + 1, 1);
    for (i = 1; i <= nargs; i++) lua_rawgeti(L, task + 3, i);
    lgw_lua_spawn(L, nargs);
    lua_replace(L, task);
    lua_settop(L, task);
  } else {
    lgw_lua_spawn(L, 3);
  }

  lgw_lua_host_signals(L, 1);
  catch_signals();
  if (lgw_lua_set_tick(L, on_tick, NULL, host.progress ? 0.2 : 0))
    return luaL_error(L, "out of memory");

  rc = lgw_lua_run(L, task);
  lgw_lua_interrupt_clear(L);
  release_signals();
  lgw_lua_set_tick(L, NULL, NULL, 0);
  if (host.drawn || (host.progress && host.seen && !host.worker)) {
    draw_progress();
    fputc('\n', stderr);
    host.drawn = 0;
  }
  if (host.trace_failed) {
    lua_pushinteger(L, EXIT_FAILURE);
    return 1;
  }
  if (sig_first || rc > 0) {
    /* the main task's "interrupted!" is not worth a report */
    if (lgw_lua_task_failure(L, task)) lua_pop(L, 1);
  }
  if (sig_first) {
    if (sig_first == SIGINT) l_message("interrupted");
    lua_pushinteger(L, 128 + sig_first);
    return 1;
  }
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
  if (lgw_lua_task_failure(L, task)) {
    report(L, LUA_ERRRUN);
    lua_pushinteger(L, EXIT_FAILURE);
    return 1;
  }
  if (lgw_lua_unobserved(L) > 0) {
    /* Tasks that failed with nobody waiting: their errors are logged
     * when they are collected (here, or at lua_close for those still
     * referenced), and the run counts as failed. */
    lua_gc(L, LUA_GCCOLLECT);
    lua_pushinteger(L, EXIT_FAILURE);
    return 1;
  }
  lua_pushinteger(L, EXIT_SUCCESS);
  return 1;
}

int main(int argc, char **argv) {
  lua_State *L;
  int status, result = EXIT_FAILURE;
  L = luaL_newstate();
  if (!L) {
    l_message("cannot create state: not enough memory");
    return EXIT_FAILURE;
  }
  lua_pushcfunction(L, msghandler);
  lua_pushcfunction(L, pmain);
  lua_pushinteger(L, argc);
  lua_pushlightuserdata(L, argv);
  status = lua_pcall(L, 2, 1, 1);
  if (report(L, status) == LUA_OK) result = (int)lua_tointeger(L, -1);
  bound_exit(result);
  lua_close(L);
  if (host.trace) fclose(host.trace);
  return result;
}
