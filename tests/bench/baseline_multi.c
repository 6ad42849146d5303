/*
 * baseline_multi.c -- the practical limit the gateway is measured against:
 * a plain C program driving libcurl's multi interface directly through
 * curl_multi_socket_action on epoll. It POSTs the same JSON body with the
 * same headers, keep-alive and connection options as the engine
 * (src/http.c), keeps BENCH_C transfers in flight until BENCH_N have
 * completed, and reuses its easy handles.
 *
 * Environment: BENCH_BASE (base URL; "/chat/completions" is appended),
 * BENCH_N, BENCH_C; for HTTPS BENCH_CAFILE (the CA to trust),
 * BENCH_PIPEWAIT=1 (CURLOPT_PIPEWAIT: wait for a connection being set up
 * to say whether it multiplexes) and BENCH_MAXHOST (
 * CURLMOPT_MAX_HOST_CONNECTIONS, default 0: no cap), BENCH_NOCAPATH=1 (no
 * CA directory: with none, libcurl loads the CA file once per multi
 * handle instead of once per handshake). Prints one
 * "BENCH ..." line (see bench.h); the connections opened (summed
 * CURLINFO_NUM_CONNECTS) go to stderr.
 */
#include <errno.h>
#include <stdint.h>
#include <sys/epoll.h>
#include <unistd.h>

#include <curl/curl.h>

#include "bench.h"

typedef struct slot {
  CURL *easy;
  char *buf;      /* response body, grown as needed */
  size_t len, cap;
} slot_t;

static int epfd;
static long timeout_ms = -1;
static long started, done, ok;
static long total;
static long conns;   /* connections opened */

static size_t on_write(char *p, size_t size, size_t nmemb, void *ud)
{
  slot_t *s = ud;
  size_t n = size * nmemb;
  if (s->len + n + 1 > s->cap) {
    size_t cap = s->cap ? s->cap : 1024;
    while (cap < s->len + n + 1)
      cap *= 2;
    char *nb = realloc(s->buf, cap);
    if (!nb)
      return 0;
    s->buf = nb;
    s->cap = cap;
  }
  memcpy(s->buf + s->len, p, n);
  s->len += n;
  s->buf[s->len] = '\0';
  return n;
}

/* Registers curl's sockets with epoll; curl_multi_assign marks a socket
 * as registered so the next change is a MOD. */
static int on_socket(CURL *e, curl_socket_t fd, int what, void *ud,
                     void *sockp)
{
  CURLM *multi = ud;
  struct epoll_event ev;
  (void)e;
  if (what == CURL_POLL_REMOVE) {
    epoll_ctl(epfd, EPOLL_CTL_DEL, fd, NULL);
    curl_multi_assign(multi, fd, NULL);
    return 0;
  }
  memset(&ev, 0, sizeof ev);
  ev.data.fd = fd;
  if (what & CURL_POLL_IN)
    ev.events |= EPOLLIN;
  if (what & CURL_POLL_OUT)
    ev.events |= EPOLLOUT;
  epoll_ctl(epfd, sockp ? EPOLL_CTL_MOD : EPOLL_CTL_ADD, fd, &ev);
  if (!sockp)
    curl_multi_assign(multi, fd, (void *)(uintptr_t)1);
  return 0;
}

static int on_timer(CURLM *m, long ms, void *ud)
{
  (void)m;
  (void)ud;
  timeout_ms = ms;
  return 0;
}

static void start(CURLM *multi, slot_t *s)
{
  s->len = 0;
  started++;
  curl_multi_add_handle(multi, s->easy);
}

static void harvest(CURLM *multi)
{
  CURLMsg *msg;
  int left;
  while ((msg = curl_multi_info_read(multi, &left))) {
    slot_t *s;
    long status = 0;
    if (msg->msg != CURLMSG_DONE)
      continue;
    curl_easy_getinfo(msg->easy_handle, CURLINFO_PRIVATE, (char **)&s);
    curl_easy_getinfo(msg->easy_handle, CURLINFO_RESPONSE_CODE, &status);
    {
      long nc = 0;
      curl_easy_getinfo(msg->easy_handle, CURLINFO_NUM_CONNECTS, &nc);
      conns += nc;
    }
    if (msg->data.result == CURLE_OK && status == 200 && s->len > 0)
      ok++;
    else if (done - ok < 3)
      fprintf(stderr, "baseline_multi: %s, status %ld\n",
              curl_easy_strerror(msg->data.result), status);
    done++;
    curl_multi_remove_handle(multi, s->easy);
    if (started < total)
      start(multi, s);
  }
}

int main(void)
{
  const char *base = bench_env("BENCH_BASE", "http://127.0.0.1:8080/v1");
  const char *cafile = bench_env("BENCH_CAFILE", NULL);
  long pipewait = bench_env_long("BENCH_PIPEWAIT", 0);
  long conc = bench_env_long("BENCH_C", 64);
  char url[1024];
  struct curl_slist *hdrs = NULL;
  struct epoll_event evs[1024];
  slot_t *slots;
  CURLM *multi;
  double t0, c0;
  long rss0, i;
  int running;

  total = bench_env_long("BENCH_N", 1000);
  if (conc > total)
    conc = total;
  bench_raise_nofile();
  rss0 = bench_status_kb("VmRSS");
  snprintf(url, sizeof url, "%s/chat/completions", base);
  curl_global_init(CURL_GLOBAL_DEFAULT);
  epfd = epoll_create1(EPOLL_CLOEXEC);
  multi = curl_multi_init();
  curl_multi_setopt(multi, CURLMOPT_SOCKETFUNCTION, on_socket);
  curl_multi_setopt(multi, CURLMOPT_SOCKETDATA, multi);
  curl_multi_setopt(multi, CURLMOPT_TIMERFUNCTION, on_timer);
  curl_multi_setopt(multi, CURLMOPT_PIPELINING, CURLPIPE_MULTIPLEX);
  curl_multi_setopt(multi, CURLMOPT_MAXCONNECTS, 10000L);
  curl_multi_setopt(multi, CURLMOPT_MAX_HOST_CONNECTIONS,
                    bench_env_long("BENCH_MAXHOST", 0));
  hdrs = curl_slist_append(hdrs, "content-type: application/json");
  hdrs = curl_slist_append(hdrs, "authorization: Bearer bench-key");
  slots = calloc((size_t)conc, sizeof *slots);
  for (i = 0; i < conc; i++) {
    CURL *e = curl_easy_init();
    slots[i].easy = e;
    curl_easy_setopt(e, CURLOPT_URL, url);
    curl_easy_setopt(e, CURLOPT_POSTFIELDS, BENCH_BODY);
    curl_easy_setopt(e, CURLOPT_POSTFIELDSIZE, (long)strlen(BENCH_BODY));
    curl_easy_setopt(e, CURLOPT_HTTPHEADER, hdrs);
    curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, on_write);
    curl_easy_setopt(e, CURLOPT_WRITEDATA, &slots[i]);
    curl_easy_setopt(e, CURLOPT_PRIVATE, &slots[i]);
    curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(e, CURLOPT_TIMEOUT_MS, 120000L);
    curl_easy_setopt(e, CURLOPT_HTTP_VERSION, (long)CURL_HTTP_VERSION_2TLS);
    curl_easy_setopt(e, CURLOPT_TCP_KEEPALIVE, 1L);
    curl_easy_setopt(e, CURLOPT_CONNECTTIMEOUT_MS, 60000L);
    curl_easy_setopt(e, CURLOPT_PIPEWAIT, pipewait);
    if (cafile)
      curl_easy_setopt(e, CURLOPT_CAINFO, cafile);
    if (bench_env_long("BENCH_NOCAPATH", 0))
      curl_easy_setopt(e, CURLOPT_CAPATH, NULL);
  }

  t0 = bench_now();
  c0 = bench_cpu();
  for (i = 0; i < conc; i++)
    start(multi, &slots[i]);
  while (done < total) {
    int n = epoll_wait(epfd, evs, 1024, (int)timeout_ms);
    if (n < 0 && errno == EINTR)
      continue;
    if (n <= 0) {
      timeout_ms = -1;
      curl_multi_socket_action(multi, CURL_SOCKET_TIMEOUT, 0, &running);
    }
    for (i = 0; i < n; i++) {
      int flags = 0;
      if (evs[i].events & (EPOLLIN | EPOLLHUP))
        flags |= CURL_CSELECT_IN;
      if (evs[i].events & EPOLLOUT)
        flags |= CURL_CSELECT_OUT;
      if (evs[i].events & EPOLLERR)
        flags |= CURL_CSELECT_ERR;
      curl_multi_socket_action(multi, evs[i].data.fd, flags, &running);
    }
    harvest(multi);
  }
  bench_report("baseline", total, ok, bench_now() - t0, bench_cpu() - c0,
               rss0);
  fprintf(stderr, "baseline_multi: %ld connections\n", conns);

  for (i = 0; i < conc; i++) {
    curl_easy_cleanup(slots[i].easy);
    free(slots[i].buf);
  }
  free(slots);
  curl_slist_free_all(hdrs);
  curl_multi_cleanup(multi);
  close(epfd);
  curl_global_cleanup();
  return ok == total ? 0 : 1;
}
