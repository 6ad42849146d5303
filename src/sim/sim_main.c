/*
 * sim_main.c -- the llmgateway-sim executable: command line, startup
 * (script, timer, server, "listening on" line and port file) and a clean
 * shutdown on SIGTERM or SIGINT.
 */
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "sim.h"

static const char usage[] =
    "usage: llmgateway-sim [--port N] [--port-file PATH] [--script FILE]\n"
    "                      [--latency-ms N] [--quiet]\n";

typedef struct opts {
  long port;
  const char *port_file;
  const char *script;
  long latency_ms;
  int quiet;
} opts_t;

static int parse_num(const char *flag, const char *s, long max, long *out) {
  if (!s || sim_parse_long(s, 0, max, out) != 0) {
    fprintf(stderr, "llmgateway-sim: %s needs a number from 0 to %ld\n%s",
            flag, max, usage);
    return -1;
  }
  return 0;
}

static int parse_args(int argc, char **argv, opts_t *o) {
  int i;
  memset(o, 0, sizeof *o);
  for (i = 1; i < argc; i++) {
    const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
    if (strcmp(a, "--port") == 0) {
      if (parse_num(a, v, 65535, &o->port)) return -1;
      i++;
    } else if (strcmp(a, "--latency-ms") == 0) {
      if (parse_num(a, v, 86400000L, &o->latency_ms)) return -1;
      i++;
    } else if (strcmp(a, "--port-file") == 0 || strcmp(a, "--script") == 0) {
      if (!v) {
        fprintf(stderr, "llmgateway-sim: %s needs a path\n%s", a, usage);
        return -1;
      }
      *(a[2] == 'p' ? &o->port_file : &o->script) = v;
      i++;
    } else if (strcmp(a, "--quiet") == 0) {
      o->quiet = 1;
    } else if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0) {
      fputs(usage, stdout);
      exit(0);
    } else {
      fprintf(stderr, "llmgateway-sim: unknown argument '%s'\n%s", a, usage);
      return -1;
    }
  }
  return 0;
}

/* Writes "<port>\n" to path through a temporary file and rename, so a
 * reader never sees a partial file. */
static int write_port_file(const char *path, int port) {
  char *tmp = sim_sprintf("%s.%ld.tmp", path, (long)getpid());
  FILE *f = tmp ? fopen(tmp, "w") : NULL;
  int ok = f && fprintf(f, "%d\n", port) > 0;
  if (f && fclose(f) != 0) ok = 0;
  if (ok && rename(tmp, path) != 0) ok = 0;
  if (!ok) {
    fprintf(stderr, "llmgateway-sim: cannot write port file %s: %s\n", path,
            strerror(errno));
    if (tmp) unlink(tmp);
  }
  free(tmp);
  return ok ? 0 : -1;
}

int main(int argc, char **argv) {
  opts_t o;
  sigset_t stop;
  char err[512];
  int port, sig = 0;

  if (parse_args(argc, argv, &o)) return 2;
  /* Threads started below inherit the mask, so only sigwait sees these. */
  sigemptyset(&stop);
  sigaddset(&stop, SIGTERM);
  sigaddset(&stop, SIGINT);
  pthread_sigmask(SIG_BLOCK, &stop, NULL);
  signal(SIGPIPE, SIG_IGN);

  if (o.script && sim_script_load(o.script, err, sizeof err) != 0) {
    fprintf(stderr, "llmgateway-sim: %s\n", err);
    return 2;
  }
  if (sim_timer_start() != 0) {
    fprintf(stderr, "llmgateway-sim: cannot start the timer thread\n");
    sim_fault_free();
    return 1;
  }
  port = sim_server_start((int)o.port, o.latency_ms, o.quiet, err,
                               sizeof err);
  if (port < 0) {
    fprintf(stderr, "llmgateway-sim: %s\n", err);
    sim_server_stop();
    sim_fault_free();
    return 1;
  }
  if (o.port_file && write_port_file(o.port_file, port) != 0) {
    sim_server_stop();
    sim_fault_free();
    return 1;
  }
  printf("llmgateway-sim listening on http://127.0.0.1:%d\n", port);
  fflush(stdout);

  while (sigwait(&stop, &sig) != 0) continue;
  sim_server_stop();
  sim_fault_free();
  return 0;
}
