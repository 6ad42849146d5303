/*
 * host.h -- the llmgateway executable's parts, in lua.c's shape:
 * argument parsing (args.c), the script's state and its chunks
 * (script.c), worker mode (worker.c), signals (signals.c), reporting:
 * errors, the trace, the progress line and the log (report.c), and main
 * with pmain tying them together (main.c).
 */
#ifndef LGW_HOST_H
#define LGW_HOST_H

#include <stdio.h>

#include <lua.h>
#include <lauxlib.h>
#include <lualib.h>

#include "lgw_lua.h"

#define EXIT_INTERRUPTED 130
#define EXIT_GC_LIMIT 3  /* seconds finalizers may run at exit */
#define HOST_GO_ON (-1)  /* not an exit status: carry on */

extern const char *const host_progname;

/* The command line, as parsed. */
typedef struct host_args {
  int argc;
  char **argv;
  int first;                /* the first option (2 after "worker") */
  int script;               /* the script's index; argc: none; -1: stdin */
  int progress;             /* draw the progress line */
  int level;                /* lgw_log_level_t */
  const char *trace;        /* --trace FILE, or NULL */
  int wopts;                /* stack index of the worker options table */
} host_args_t;

/* The run's state shared by the parts. */
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

extern host_t host;

/* args.c: parses argv (pushes the worker options table, at a->wopts);
 * HOST_GO_ON, or the exit status after printing what is wrong, the
 * usage or the version. */
int host_parse_args(lua_State *L, host_args_t *a);
/* Whether arg is a worker option (one that takes a value). */
int host_is_worker_option(const char *arg);

/* script.c */
/* Opens the libraries, package.path/cpath, the arg table and
 * llmgateway.core in the script's state. */
void host_open_state(lua_State *L, const host_args_t *a);
/* Pushes the function that runs the chunks in turn (the main task's
 * when there is more than one). */
void host_push_runner(lua_State *L);
/* Pushes the -e chunks and the script (a table), their count and the
 * script's arguments (a table with n); an exit status on a syntax error
 * (reported), else HOST_GO_ON. */
int host_load_chunks(lua_State *L, const host_args_t *a);
/* Spawns the main task from the runner at task and the three values
 * above it: the one chunk with the script's arguments, else the runner;
 * leaves the task at task. */
void host_spawn_script(lua_State *L, int task);
/* print, io.write and file:write that keep the progress line. */
void host_wrap_output(lua_State *L);

/* worker.c: worker mode's main task (pushed as host_push_runner's, then
 * spawned as host_spawn_script's, with the worker options). */
void host_push_worker_runner(lua_State *L);
void host_spawn_worker(lua_State *L, const host_args_t *a, int task);
void host_print_worker_usage(FILE *f);

/* signals.c */
void host_catch_signals(void);
void host_release_signals(void);
/* The loop's tick: signals seen, the progress line. */
void host_on_tick(lua_State *L, void *ud);
/* Bounds the time finalizers may take at exit (status: the exit status
 * then). */
void host_bound_exit(int status);
int host_signal_seen(void);  /* the first stop signal, or 0 */

/* report.c */
extern const char *const host_log_names[];
double host_now_ms(void);
void host_clear_line(void);
void host_message(const char *msg);
void host_draw_progress(void);
int host_open_trace(const char *path);  /* HOST_GO_ON or the status */
void host_on_event(const lgw_event_t *ev, void *ud);
void host_log(lgw_log_level_t level, const char *msg, void *ud);
/* lua.c's report and message handler. */
int host_report(lua_State *L, int status);
int host_msghandler(lua_State *L);
/* The exit status of a run (rc from lgw_lua_run), after reporting. */
int host_finish(lua_State *L, int task, int rc);

#endif
