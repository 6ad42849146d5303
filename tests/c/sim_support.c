/*
 * sim_support.c -- starts, queries and stops build/llmgateway-sim for C
 * tests (see sim_support.h). Bodies handed out come from malloc, so tests
 * free them with free().
 */
#define _POSIX_C_SOURCE 200809L
#include "sim_support.h"

#include <cJSON.h>
#include <curl/curl.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define MAX_ARGS 64

static double now_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

/* Reads one line (up to cap-1 bytes) from fd within timeout_ms. */
static int read_line(int fd, char *line, size_t cap, double timeout_ms) {
  size_t n = 0;
  double deadline = now_ms() + timeout_ms;
  while (n + 1 < cap) {
    struct pollfd p = {fd, POLLIN, 0};
    double left = deadline - now_ms();
    ssize_t got;
    if (left <= 0 || poll(&p, 1, (int)left + 1) <= 0) return -1;
    got = read(fd, line + n, 1);
    if (got < 0 && errno == EINTR) continue;
    if (got <= 0) return -1;
    if (line[n] == '\n') break;
    n++;
  }
  line[n] = '\0';
  return 0;
}

int sim_start(sim_t *s, const char *const *extra_args) {
  const char *path = getenv("LLMGATEWAY_SIM");
  const char *build = getenv("LLMGATEWAY_BUILD");
  char fallback[512];
  const char *argv[MAX_ARGS + 5];
  const char *prefix = "llmgateway-sim listening on http://127.0.0.1:";
  char line[256];
  int fds[2], argc = 0, i;
  memset(s, 0, sizeof *s);
  if (!path || !*path) {
    snprintf(fallback, sizeof fallback, "%s/llmgateway-sim",
             build && *build ? build : "./build");
    path = fallback;
  }
  argv[argc++] = path;
  argv[argc++] = "--port";
  argv[argc++] = "0";
  argv[argc++] = "--quiet";
  for (i = 0; extra_args && extra_args[i] && i < MAX_ARGS; i++)
    argv[argc++] = extra_args[i];
  argv[argc] = NULL;
  if (pipe(fds) != 0) return -1;
  s->pid = fork();
  if (s->pid < 0) {
    close(fds[0]);
    close(fds[1]);
    return -1;
  }
  if (s->pid == 0) {
    dup2(fds[1], STDOUT_FILENO);
    close(fds[0]);
    close(fds[1]);
    execv(path, (char *const *)argv);
    fprintf(stderr, "sim_support: cannot run %s: %s\n", path,
            strerror(errno));
    _exit(127);
  }
  close(fds[1]);
  if (read_line(fds[0], line, sizeof line, 5000) != 0 ||
      strncmp(line, prefix, strlen(prefix)) != 0) {
    close(fds[0]);
    sim_stop(s);
    return -1;
  }
  close(fds[0]);
  s->port = atoi(line + strlen(prefix));
  snprintf(s->base, sizeof s->base, "http://127.0.0.1:%d", s->port);
  return 0;
}

void sim_stop(sim_t *s) {
  double deadline = now_ms() + 5000;
  int status;
  if (s->pid <= 0) return;
  kill(s->pid, SIGTERM);
  while (waitpid(s->pid, &status, WNOHANG) == 0) {
    if (now_ms() > deadline) {
      kill(s->pid, SIGKILL);
      waitpid(s->pid, &status, 0);
      break;
    }
    usleep(2000);
  }
  s->pid = 0;
}

typedef struct body {
  char *data;
  size_t len;
} body_t;

static size_t on_data(char *p, size_t size, size_t n, void *ud) {
  body_t *b = ud;
  char *grown = realloc(b->data, b->len + size * n + 1);
  if (!grown) return 0;
  memcpy(grown + b->len, p, size * n);
  b->data = grown;
  b->len += size * n;
  b->data[b->len] = '\0';
  return size * n;
}

/* GET or POST (empty body) base+path; the body when the status is 200. */
static char *fetch(const sim_t *s, const char *path, int post) {
  CURL *c = curl_easy_init();
  body_t b = {NULL, 0};
  char url[256];
  long status = 0;
  CURLcode rc;
  if (!c) return NULL;
  snprintf(url, sizeof url, "%s%s", s->base, path);
  curl_easy_setopt(c, CURLOPT_URL, url);
  curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_data);
  curl_easy_setopt(c, CURLOPT_WRITEDATA, &b);
  curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, 5000L);
  curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
  if (post) curl_easy_setopt(c, CURLOPT_POSTFIELDS, "");
  rc = curl_easy_perform(c);
  curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
  curl_easy_cleanup(c);
  if (rc != CURLE_OK || status != 200) {
    free(b.data);
    return NULL;
  }
  return b.data ? b.data : calloc(1, 1);
}

char *sim_get(const sim_t *s, const char *path) { return fetch(s, path, 0); }

int sim_reset(const sim_t *s) {
  char *body = fetch(s, "/_sim/reset", 1);
  free(body);
  return body ? 0 : -1;
}

long sim_stat(const sim_t *s, const char *key) {
  char *body = sim_get(s, "/_sim/stats");
  cJSON *j = body ? cJSON_Parse(body) : NULL;
  const cJSON *v = cJSON_GetObjectItemCaseSensitive(j, key);
  long out = cJSON_IsNumber(v) ? (long)v->valuedouble : -1;
  cJSON_Delete(j);
  free(body);
  return out;
}
