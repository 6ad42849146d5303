/*
 * gw_support.c -- helpers shared by the C tests that run gateways (see
 * gw_support.h).
 */
#include "gw_support.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>
#include <uv.h>

lgw_runtime_t *gws_load(const char *fmt, ...) {
  char buf[8192];
  va_list ap;
  lgw_runtime_t *rt = NULL;
  lgw_error_t err;
  va_start(ap, fmt);
  vsnprintf(buf, sizeof buf, fmt, ap);
  va_end(ap);
  memset(&err, 0, sizeof err);
  if (lgw_runtime_load_string(buf, strlen(buf), "test.yaml", &rt, &err)) {
    fprintf(stderr, "config error: %s\n%s\n", err.message, buf);
    return NULL;
  }
  return rt;
}

void gws_cp(char *dst, size_t cap, const char *s) {
  snprintf(dst, cap, "%s", s ? s : "(null)");
}

double gws_now_s(void) { return (double)uv_hrtime() / 1e9; }

void gws_quiet_log(lgw_log_level_t level, const char *msg, void *ud) {
  (void)level;
  (void)msg;
  (void)ud;
}

int gws_listen_loopback(int backlog, int *port) {
  struct sockaddr_in a;
  socklen_t len = sizeof a;
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  if (fd < 0) return -1;
  memset(&a, 0, sizeof a);
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (bind(fd, (struct sockaddr *)&a, sizeof a) != 0 ||
      (backlog >= 0 && listen(fd, backlog) != 0) ||
      getsockname(fd, (struct sockaddr *)&a, &len) != 0) {
    close(fd);
    return -1;
  }
  *port = ntohs(a.sin_port);
  return fd;
}

void gws_refused_url(char *url, size_t cap) {
  int port = 1, fd = gws_listen_loopback(-1, &port);
  if (fd >= 0) close(fd);
  snprintf(url, cap, "http://127.0.0.1:%d", port);
}

void gws_blackhole_url(int fds[4], char *url, size_t cap) {
  struct sockaddr_in a;
  int port = 0, i;
  fds[0] = gws_listen_loopback(0, &port);
  memset(&a, 0, sizeof a);
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  a.sin_port = htons((unsigned short)port);
  for (i = 1; i < 4; i++) {
    fds[i] = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
    if (fds[i] >= 0) (void)connect(fds[i], (struct sockaddr *)&a, sizeof a);
  }
  usleep(100000);  /* let the handshakes that fit complete */
  snprintf(url, cap, "http://127.0.0.1:%d", port);
}
