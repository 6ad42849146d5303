/*
 * signals.c -- SIGINT (and SIGTERM, SIGALRM in worker mode) while the
 * script runs, and the bound on finalizers at exit.
 */
#include <signal.h>
#include <string.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#include "host.h"

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

void host_on_tick(lua_State *L, void *ud) {
  (void)ud;
  if (sig_first) {
    if (host.worker && !host.stopping) {
      char msg[160];
      host.stopping = 1;
      lgw_lua_stop_queues(L);
      snprintf(msg, sizeof msg, "stopping: finishing the jobs in hand (at "
               "most %g s; signal again to quit now)", host.grace);
      host_message(msg);
    }
    if (grace_over && !stopped) {
      stopped = 1;
      lgw_lua_stop(L, 1);
    }
  }
  host_draw_progress();
}

void host_catch_signals(void) {
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

void host_release_signals(void) {
  struct itimerval off;
  memset(&off, 0, sizeof off);
  setitimer(ITIMER_REAL, &off, NULL);
  signal(SIGALRM, SIG_DFL);
  /* from here on a signal ends the process as by default */
  signal(SIGINT, SIG_DFL);
  if (host.worker) signal(SIGTERM, SIG_DFL);
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

void host_bound_exit(int status) {
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

int host_signal_seen(void) {
  return sig_first;
}
