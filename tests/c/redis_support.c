/*
 * redis_support.c -- a real redis-server for tests: a free loopback port,
 * fork/exec with persistence off, readiness by PING over a socket, stop
 * with SIGTERM, and redis-cli for looking at what the code under test
 * stored.
 */
#include "redis_support.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "util.h"

static void nap_ms(long ms) {
  struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
  nanosleep(&ts, NULL);
}

/* 1 when an executable name is on PATH. */
static int on_path(const char *name) {
  const char *path = getenv("PATH"), *p, *end;
  char file[4096];
  for (p = path ? path : ""; *p; p = *end ? end + 1 : end) {
    end = strchr(p, ':');
    if (!end) end = p + strlen(p);
    if (end > p && snprintf(file, sizeof file, "%.*s/%s", (int)(end - p), p,
                            name) < (int)sizeof file &&
        access(file, X_OK) == 0)
      return 1;
  }
  return 0;
}

int redis_installed(void) {
  return on_path("redis-server") && on_path("redis-cli");
}

static int free_port(void) {
  struct sockaddr_in a;
  socklen_t len = sizeof a;
  int fd = socket(AF_INET, SOCK_STREAM, 0), port = -1;
  if (fd < 0) return -1;
  memset(&a, 0, sizeof a);
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (bind(fd, (struct sockaddr *)&a, sizeof a) == 0 &&
      getsockname(fd, (struct sockaddr *)&a, &len) == 0)
    port = ntohs(a.sin_port);
  close(fd);
  return port;
}

/* 1 when the server answers PING with +PONG. */
static int pings(int port) {
  struct sockaddr_in a;
  char buf[16];
  ssize_t n;
  int fd = socket(AF_INET, SOCK_STREAM, 0), ok = 0;
  struct timeval tv = {1, 0};
  if (fd < 0) return 0;
  setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  memset(&a, 0, sizeof a);
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  a.sin_port = htons((unsigned short)port);
  if (connect(fd, (struct sockaddr *)&a, sizeof a) == 0 &&
      write(fd, "PING\r\n", 6) == 6 && (n = read(fd, buf, sizeof buf - 1)) > 0) {
    buf[n] = '\0';
    ok = strncmp(buf, "+PONG", 5) == 0;
  }
  close(fd);
  return ok;
}

int redis_start(redis_srv_t *r, int port) {
  char ports[16];
  int i, status;
  if (port <= 0) port = free_port();
  if (port <= 0) return -1;
  r->port = port;
  snprintf(r->url, sizeof r->url, "redis://127.0.0.1:%d/0", port);
  snprintf(ports, sizeof ports, "%d", port);
  r->pid = fork();
  if (r->pid < 0) {
    r->pid = 0;
    return -1;
  }
  if (r->pid == 0) {
    int null = open("/dev/null", O_RDWR);
    if (null >= 0) {
      dup2(null, 1);
      dup2(null, 2);
    }
    execlp("redis-server", "redis-server", "--port", ports, "--bind",
           "127.0.0.1", "--save", "", "--appendonly", "no", "--daemonize",
           "no", "--dir", "/tmp", (char *)NULL);
    _exit(127);
  }
  for (i = 0; i < 250; i++) {
    if (pings(port)) return 0;
    if (waitpid(r->pid, &status, WNOHANG) == r->pid) {
      r->pid = 0;
      return -1;
    }
    nap_ms(20);
  }
  redis_stop(r);
  return -1;
}

void redis_stop(redis_srv_t *r) {
  int i, status;
  if (r->pid <= 0) return;
  kill(r->pid, SIGTERM);
  for (i = 0; i < 250; i++) {
    if (waitpid(r->pid, &status, WNOHANG) == r->pid) {
      r->pid = 0;
      return;
    }
    nap_ms(20);
  }
  kill(r->pid, SIGKILL);
  waitpid(r->pid, &status, 0);
  r->pid = 0;
}

char *redis_cli(const redis_srv_t *r, const char *args) {
  char cmd[1024], *out;
  size_t len = 0, cap = 4096;
  size_t n;
  FILE *p;
  snprintf(cmd, sizeof cmd, "redis-cli -p %d --raw %s 2>/dev/null", r->port,
           args);
  if (!(p = popen(cmd, "r"))) return NULL;
  out = malloc(cap);
  while (out && (n = fread(out + len, 1, cap - len - 1, p)) > 0) {
    len += n;
    if (cap - len < 2) {
      char *bigger = realloc(out, cap * 2);
      if (!bigger) {
        free(out);
        out = NULL;
        break;
      }
      out = bigger;
      cap *= 2;
    }
  }
  if (pclose(p) != 0 || !out) {
    free(out);
    return NULL;
  }
  while (len && out[len - 1] == '\n') len--;
  out[len] = '\0';
  return out;
}

long redis_cli_num(const redis_srv_t *r, const char *args) {
  char *s = redis_cli(r, args), *end;
  long v = -1;
  if (s && *s) {
    v = strtol(s, &end, 10);
    if (*end) v = -1;
  }
  free(s);
  return v;
}

static void on_tick(uv_timer_t *t) { (void)t; }

void redis_run_until(uv_loop_t *loop, const int *flag, int want,
                     double seconds) {
  double end = lgw__now_ms() + seconds * 1000;
  uv_timer_t t;
  uv_timer_init(loop, &t);
  while (*flag < want && lgw__now_ms() < end) {
    uv_timer_start(&t, on_tick, 10, 0);
    uv_run(loop, UV_RUN_ONCE);
  }
  uv_close((uv_handle_t *)&t, NULL);
  uv_run(loop, UV_RUN_NOWAIT);
}
