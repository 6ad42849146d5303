/*
 * redis_support.h -- helpers for C tests that need a real redis-server:
 * start one on a free loopback port (no persistence), stop it, restart it
 * on the same port, run a command through redis-cli, and run a loop until
 * an answer has come.
 *
 *   redis_srv_t r;
 *   if (redis_start(&r, 0) == 0) { ... r.url ...; redis_stop(&r); }
 */
#ifndef LGW_REDIS_SUPPORT_H
#define LGW_REDIS_SUPPORT_H

#include <sys/types.h>

#include <uv.h>

typedef struct redis_srv {
  pid_t pid;     /* 0 when stopped */
  int port;
  char url[64];  /* "redis://127.0.0.1:<port>/0" */
} redis_srv_t;

/* 1 when redis-server and redis-cli are on PATH. */
int redis_installed(void);

/* Start redis-server on port (0: a free one, found by binding port 0) and
 * wait up to 5 s for it to answer PING. 0, or -1 (nothing left running). */
int redis_start(redis_srv_t *r, int port);

/* SIGTERM, then SIGKILL after 5 s; reaps it. The port is kept. */
void redis_stop(redis_srv_t *r);

/* Run `redis-cli -p <port> --raw <args>`; its output without the final
 * newline (caller frees with free()), NULL on failure. args is passed to
 * the shell: quote what needs it. */
char *redis_cli(const redis_srv_t *r, const char *args);

/* redis_cli's output as a number; -1 when it is not one. */
long redis_cli_num(const redis_srv_t *r, const char *args);

/* Runs loop until *flag >= want or seconds have passed, waking it at
 * least every 10 ms to look. */
void redis_run_until(uv_loop_t *loop, const int *flag, int want,
                     double seconds);

#endif
