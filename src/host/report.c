/*
 * report.c -- what the host tells the user: errors (lua.c's report and
 * message handler), the exit status of a run, the trace (--trace: every
 * event as a JSON line), the live progress line on stderr and the
 * engine's log below it.
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>
#include <time.h>

#include "host.h"

/* Monotonic milliseconds, and the wall clock in seconds. */
double host_now_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

static double wall_s(void) {
  struct timeval tv;
  gettimeofday(&tv, NULL);
  return (double)tv.tv_sec + (double)tv.tv_usec / 1e6;
}

host_t host = {.grace = 30.0};

void host_clear_line(void) {
  if (!host.drawn) return;
  fputs("\r\033[K", stderr);
  host.drawn = 0;
}

void host_message(const char *msg) {
  host_clear_line();
  fprintf(stderr, "%s: %s\n", host_progname, msg);
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

/* done, failed, in flight, rate, tokens, elapsed, and an ETA when the
 * batch helpers told how many items there are. */
void host_draw_progress(void) {
  lgw_lua_progress_t pr;
  double elapsed = (host_now_ms() - host.start) / 1000.0;
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
    host_message(msg);
    fclose(host.trace);
    host.trace = NULL;
    host.trace_failed = 1;
    lgw_lua_stop(host.L, 0);
  }
  lgw_free(line);
}

/* The module's event hook: every event of every gateway. */
void host_on_event(const lgw_event_t *ev, void *ud) {
  (void)ud;
  if (host.trace) write_trace(ev);
  if (ev->type != LGW_EVENT_REQUEST_END) return;
  host.seen = 1;
  if (ev->code == LGW_OK) host.done++;
  else host.failed++;
  if (ev->usage.input_tokens > 0) host.tokens += ev->usage.input_tokens;
  if (ev->usage.output_tokens > 0) host.tokens += ev->usage.output_tokens;
}

const char *const host_log_names[] = {"error", "warning", "info", "debug",
                                        NULL};

/* The engine's log on stderr, below the progress line. */
void host_log(lgw_log_level_t level, const char *msg, void *ud) {
  (void)ud;
  host_clear_line();
  fprintf(stderr, "%s: %s: %s\n", host_progname, host_log_names[level], msg);
  fflush(stderr);
}

/* Prints the error on top of the stack, if status says there is one. */
int host_report(lua_State *L, int status) {
  if (status != LUA_OK) {
    const char *msg = lua_tostring(L, -1);
    host_message(msg ? msg : "(error object is not a string)");
    lua_pop(L, 1);
  }
  return status;
}

/* lua.c's message handler: __tostring-aware, with a traceback. */
int host_msghandler(lua_State *L) {
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

int host_open_trace(const char *path) {
  host.trace_path = path;
  host.trace = fopen(path, "w");
  if (host.trace) return HOST_GO_ON;
  fprintf(stderr, "%s: cannot open trace file '%s': %s\n", host_progname,
          path, strerror(errno));
  return EXIT_FAILURE;
}

/* After the loop: the progress line's last state, then the status: 1 on
 * a trace failure, 128 + the signal after one, 130 when the run was
 * interrupted, 1 when the main task failed or a task failed unobserved,
 * else 0. */
int host_finish(lua_State *L, int task, int rc) {
  int sig = host_signal_seen();
  if (host.drawn || (host.progress && host.seen && !host.worker)) {
    host_draw_progress();
    fputc('\n', stderr);
    host.drawn = 0;
  }
  if (host.trace_failed) return EXIT_FAILURE;
  if (sig || rc > 0) {
    /* the main task's "interrupted!" is not worth a report */
    if (lgw_lua_task_failure(L, task)) lua_pop(L, 1);
  }
  if (sig) {
    if (sig == SIGINT) host_message("interrupted");
    return 128 + sig;
  }
  if (rc > 0) {
    host_message("interrupted");
    return EXIT_INTERRUPTED;
  }
  if (rc < 0) {
    host_report(L, LUA_ERRRUN);
    return EXIT_FAILURE;
  }
  if (lgw_lua_task_failure(L, task)) {
    host_report(L, LUA_ERRRUN);
    return EXIT_FAILURE;
  }
  if (lgw_lua_unobserved(L) > 0) {
    /* Tasks that failed with nobody waiting: their errors are logged
     * when they are collected (here, or at lua_close for those still
     * referenced), and the run counts as failed. */
    lua_gc(L, LUA_GCCOLLECT);
    return EXIT_FAILURE;
  }
  return EXIT_SUCCESS;
}
