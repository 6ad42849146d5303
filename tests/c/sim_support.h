/*
 * sim_support.h -- helpers for C tests that need the provider simulator:
 * start build/llmgateway-sim on an ephemeral loopback port, read its
 * counters, reset it and stop it.
 *
 *   sim_t s;
 *   const char *args[] = {"--latency-ms", "10", NULL};
 *   if (sim_start(&s, args) == 0) { ... s.base ...; sim_stop(&s); }
 */
#ifndef LGW_SIM_SUPPORT_H
#define LGW_SIM_SUPPORT_H

#include <sys/types.h>

typedef struct sim {
  pid_t pid;
  int port;
  char base[64];  /* "http://127.0.0.1:<port>" */
} sim_t;

/* Fork/execs the simulator ($LLMGATEWAY_SIM, else
 * $LLMGATEWAY_BUILD/llmgateway-sim, else ./build/llmgateway-sim) with
 * --port 0 --quiet and the NULL-terminated extra_args (may be NULL), and
 * waits up to 5 s for its "listening on" line. Returns 0, or -1 (nothing
 * left running). */
int sim_start(sim_t *s, const char *const *extra_args);

/* SIGTERM, then SIGKILL if it has not exited within 5 s; reaps it. */
void sim_stop(sim_t *s);

/* A top-level integer field of /_sim/stats ("requests", "in_flight",
 * "peak_concurrent"); -1 when unavailable. */
long sim_stat(const sim_t *s, const char *key);

/* POST /_sim/reset; 0 on success, -1 otherwise. */
int sim_reset(const sim_t *s);

/* GET base+path; the body (caller frees with free()), NULL on failure. */
char *sim_get(const sim_t *s, const char *path);

#endif
