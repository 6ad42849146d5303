/*
 * echo_support.c -- a small threaded loopback HTTP/1.1 server for tests
 * (see echo_support.h).
 */
#include "echo_support.h"

#include <poll.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "gw_support.h"

struct echo {
  int fd, port, stop[2];
  char base[64];
  echo_fn fn;
  void *ud;
  pthread_t thread;
  pthread_mutex_t mu;
  int requests;
};

/* Index just past the blank line ending the head, 0 while incomplete. */
static size_t head_end(const lgw__buf_t *b) {
  const char *p = b->data ? strstr(b->data, "\r\n\r\n") : NULL;
  return p ? (size_t)(p - b->data) + 4 : 0;
}

static void serve(echo_t *e, int c) {
  lgw__buf_t in, out;
  char chunk[16384], len_s[32], *head;
  size_t end = 0, need = 0, sent = 0;
  ssize_t n;
  lgw__buf_init(&in);
  lgw__buf_init(&out);
  for (;;) {
    if (!end && (end = head_end(&in)) != 0) {
      head = lgw__strndup(in.data, end);
      need = echo_header(head, "content-length", len_s, sizeof len_s) == 0
                 ? (size_t)strtoul(len_s, NULL, 10) : 0;
      lgw_free(head);
    }
    if (end && in.len >= end + need) break;
    if (in.len && in.data[0] == 0x16) {  /* a TLS client: answer in clear */
      end = in.len;
      need = 0;
      break;
    }
    n = recv(c, chunk, sizeof chunk, 0);
    if (n <= 0) goto done;
    lgw__buf_add(&in, chunk, (size_t)n);
  }
  head = lgw__strndup(in.data, end);
  e->fn(head, in.data + end, need, &out, e->ud);
  lgw_free(head);
  pthread_mutex_lock(&e->mu);
  e->requests++;
  pthread_mutex_unlock(&e->mu);
  while (sent < out.len) {
    n = send(c, out.data + sent, out.len - sent, MSG_NOSIGNAL);
    if (n <= 0) break;
    sent += (size_t)n;
  }
  shutdown(c, SHUT_WR);
  while (recv(c, chunk, sizeof chunk, 0) > 0) {}
done:
  lgw__buf_free(&in);
  lgw__buf_free(&out);
  close(c);
}

static void *run(void *ud) {
  echo_t *e = ud;
  for (;;) {
    struct pollfd p[2] = {{e->fd, POLLIN, 0}, {e->stop[0], POLLIN, 0}};
    int c;
    if (poll(p, 2, -1) < 0) continue;
    if (p[1].revents) break;
    c = accept(e->fd, NULL, NULL);
    if (c >= 0) serve(e, c);
  }
  return NULL;
}

echo_t *echo_start(echo_fn fn, void *ud) {
  echo_t *e = calloc(1, sizeof *e);
  if (!e) return NULL;
  e->fn = fn;
  e->ud = ud;
  e->fd = gws_listen_loopback(64, &e->port);
  if (e->fd < 0 || pipe(e->stop) != 0) {
    if (e->fd >= 0) close(e->fd);
    free(e);
    return NULL;
  }
  snprintf(e->base, sizeof e->base, "http://127.0.0.1:%d", e->port);
  pthread_mutex_init(&e->mu, NULL);
  if (pthread_create(&e->thread, NULL, run, e) != 0) {
    close(e->fd);
    close(e->stop[0]);
    close(e->stop[1]);
    free(e);
    return NULL;
  }
  return e;
}

int echo_port(const echo_t *e) { return e->port; }
const char *echo_base(const echo_t *e) { return e->base; }

int echo_requests(echo_t *e) {
  int n;
  pthread_mutex_lock(&e->mu);
  n = e->requests;
  pthread_mutex_unlock(&e->mu);
  return n;
}

void echo_stop(echo_t *e) {
  if (!e) return;
  if (write(e->stop[1], "x", 1) != 1) perror("echo_stop");
  pthread_join(e->thread, NULL);
  close(e->fd);
  close(e->stop[0]);
  close(e->stop[1]);
  pthread_mutex_destroy(&e->mu);
  free(e);
}

int echo_header(const char *head, const char *name, char *out, size_t cap) {
  size_t nl = strlen(name);
  const char *line = strstr(head, "\r\n");
  while (line && line[2] && !(line[2] == '\r' && line[3] == '\n')) {
    const char *p = line + 2, *eol = strstr(p, "\r\n"), *v;
    if (!eol) break;
    if (lgw__strncasecmp(p, name, nl) == 0 && p[nl] == ':') {
      for (v = p + nl + 1; v < eol && (*v == ' ' || *v == '\t'); v++) {}
      while (eol > v && (eol[-1] == ' ' || eol[-1] == '\t')) eol--;
      snprintf(out, cap, "%.*s", (int)(eol - v), v);
      return 0;
    }
    line = strstr(p, "\r\n");
  }
  return -1;
}

void echo_json(lgw__buf_t *out, int status, const char *body) {
  lgw__buf_printf(out, "HTTP/1.1 %d X\r\nContent-Type: application/json\r\n"
                  "Content-Length: %zu\r\nConnection: close\r\n\r\n%s",
                  status, strlen(body), body);
}

void echo_canned(const char *head, const char *body, size_t body_len,
                 lgw__buf_t *out, void *ud) {
  echo_canned_t *c = ud;
  int i = c->served < c->n ? c->served : c->n - 1;
  if (sscanf(head, "%*s %255s", c->last_path) != 1) c->last_path[0] = '\0';
  snprintf(c->last_body, sizeof c->last_body, "%.*s", (int)body_len, body);
  c->served++;
  if (i < 0) {
    echo_json(out, 500, "{}");
    return;
  }
  lgw__buf_printf(out, "HTTP/1.1 200 OK\r\nContent-Type: %s\r\n"
                  "Content-Length: %zu\r\nConnection: close\r\n\r\n%s",
                  c->ctype[i], strlen(c->body[i]), c->body[i]);
}

void echo_canned_set(echo_canned_t *c, int n, ...) {
  va_list ap;
  int i;
  va_start(ap, n);
  for (i = 0; i < n && i < ECHO_CANNED_MAX; i++) {
    c->ctype[i] = va_arg(ap, const char *);
    c->body[i] = va_arg(ap, const char *);
  }
  va_end(ap);
  c->n = i;
  c->served = 0;
  c->last_path[0] = c->last_body[0] = '\0';
}
