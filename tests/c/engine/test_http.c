/*
 * test_http.c -- the HTTP engine against the provider simulator: bodies
 * and captured headers, the status passed through (no redirects), curl
 * error mapping (refused, timeout, reset), the response size cap, cancel,
 * freeing with transfers in flight, starting transfers from inside a
 * completion callback, 300 in flight at once and their connections
 * reused, and streamed bodies (pieces handed on, error
 * bodies still collected, a stop from the data callback, the size cap).
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include "echo_support.h"
#include "gw_support.h"
#include "http.h"
#include "sim_support.h"
#include "sse.h"
#include "test.h"

static sim_t sim;
static int sim_ok;

typedef struct got {
  int calls;
  int code;
  long status;
  char body[4096];
  size_t body_len;
  char error[256];
  char content_type[128], retry_after[64], retry_after_ms[64], xsr[32];
  double elapsed;
  int header_too_big;
} got_t;

static void copy(char *dst, size_t cap, const char *s) {
  snprintf(dst, cap, "%s", s ? s : "(null)");
}

static void on_done(const lgw__xfer_resp_t *r, void *ud) {
  got_t *g = ud;
  g->calls++;
  g->code = r->code;
  g->status = r->status;
  g->body_len = r->body_len;
  copy(g->body, sizeof g->body, r->body);
  copy(g->error, sizeof g->error, r->error);
  copy(g->content_type, sizeof g->content_type, r->content_type);
  copy(g->retry_after, sizeof g->retry_after, r->retry_after);
  copy(g->retry_after_ms, sizeof g->retry_after_ms, r->retry_after_ms);
  copy(g->xsr, sizeof g->xsr, r->x_should_retry);
  g->elapsed = r->elapsed;
  g->header_too_big = r->header_too_big;
}

/* Engine on a fresh loop; the loop is closed by finish(). */
typedef struct env {
  uv_loop_t loop;
  lgw__http_t *h;
  lgw__headers_t *headers;
} env_t;

static int env_open(env_t *e, const char *x_sim) {
  lgw__kvlist_t kv = {NULL, 0};
  if (uv_loop_init(&e->loop)) return -1;
  if (lgw__http_new(&e->loop, &e->h, NULL)) return -1;
  lgw__kvlist_add(&kv, "content-type", "application/json");
  lgw__kvlist_add(&kv, "authorization", "Bearer test-key");
  if (x_sim) lgw__kvlist_add(&kv, "x-sim", x_sim);
  e->headers = lgw__headers_new(&kv);
  lgw__kvlist_free(&kv);
  return e->headers ? 0 : -1;
}

static void env_close(env_t *e) {
  lgw__http_free(e->h);
  while (uv_loop_close(&e->loop) == UV_EBUSY) uv_run(&e->loop, UV_RUN_DEFAULT);
  lgw__headers_free(e->headers);
}

static const char chat_body[] =
    "{\"model\":\"m1\",\"messages\":[{\"role\":\"user\",\"content\":\"hi there\"}]}";

static int post(env_t *e, const char *path, const char *body, long timeout_ms,
                long max_bytes, got_t *g, lgw__xfer_t **out) {
  char url[128];
  lgw__xfer_opts_t o;
  memset(&o, 0, sizeof o);
  snprintf(url, sizeof url, "%s%s", sim.base, path);
  o.url = url;
  o.headers = e->headers;
  o.body = body;
  o.body_len = strlen(body);
  o.timeout_ms = timeout_ms;
  o.connect_timeout_ms = 2000;
  o.max_response_bytes = max_bytes;
  return lgw__http_post(e->h, &o, on_done, g, out, NULL);
}

static void run(env_t *e) { uv_run(&e->loop, UV_RUN_DEFAULT); }

/* POST chat_body to url (any server), never through a proxy when direct. */
static int post_url(env_t *e, const char *url, int direct, got_t *g) {
  lgw__xfer_opts_t o;
  memset(&o, 0, sizeof o);
  o.url = url;
  o.headers = e->headers;
  o.body = chat_body;
  o.body_len = strlen(chat_body);
  o.timeout_ms = 5000;
  o.connect_timeout_ms = 2000;
  o.direct = direct;
  return lgw__http_post(e->h, &o, on_done, g, NULL, NULL);
}

TEST(http_chat_ok) {
  env_t e;
  got_t g;
  char *stats;
  memset(&g, 0, sizeof g);
  ASSERT_EQ(env_open(&e, NULL), 0);
  ASSERT_EQ(post(&e, "/v1/chat/completions", chat_body, 5000, 0, &g, NULL), 0);
  ASSERT_EQ(lgw__http_active(e.h), 1);
  run(&e);
  ASSERT_EQ(lgw__http_active(e.h), 0);
  env_close(&e);
  ASSERT_EQ(g.calls, 1);
  ASSERT_EQ(g.code, 0);
  ASSERT_EQ(g.status, 200);
  ASSERT_STREQ(g.error, "(null)");
  ASSERT_CONTAINS(g.content_type, "application/json");
  ASSERT_CONTAINS(g.body, "\"content\":\"echo(m1): hi there\"");
  ASSERT_EQ(g.body_len, strlen(g.body));
  ASSERT_STREQ(g.retry_after, "(null)");
  ASSERT(g.elapsed >= 0 && g.elapsed < 5);
  stats = sim_get(&sim, "/_sim/stats");
  ASSERT(stats != NULL);
  ASSERT_CONTAINS(stats, "\"authorization\":\"Bearer test-key\"");
  ASSERT_NOT_CONTAINS(stats, "\"expect\"");
  ASSERT_NOT_CONTAINS(stats, "\"accept-encoding\"");
  free(stats);
}

TEST(http_status_and_retry_headers) {
  env_t e;
  got_t g;
  memset(&g, 0, sizeof g);
  ASSERT_EQ(env_open(&e, "status=429 retry_after=3 retry_after_ms=1500 "
                         "should_retry=false"), 0);
  ASSERT_EQ(post(&e, "/v1/chat/completions", chat_body, 5000, 0, &g, NULL), 0);
  run(&e);
  env_close(&e);
  ASSERT_EQ(g.code, 0);
  ASSERT_EQ(g.status, 429);
  ASSERT_STREQ(g.retry_after, "3");
  ASSERT_STREQ(g.retry_after_ms, "1500");
  ASSERT_STREQ(g.xsr, "false");
  ASSERT_CONTAINS(g.body, "error");
}

TEST(http_redirect_not_followed) {
  env_t e;
  got_t g;
  memset(&g, 0, sizeof g);
  ASSERT_EQ(env_open(&e, "status=302"), 0);
  ASSERT_EQ(post(&e, "/v1/chat/completions", chat_body, 5000, 0, &g, NULL), 0);
  run(&e);
  env_close(&e);
  ASSERT_EQ(g.code, 0);
  ASSERT_EQ(g.status, 302);
  ASSERT_EQ(sim_stat(&sim, "requests") >= 1, 1);
}

/* A chat POST to port 1 of 127.0.0.1, where nothing listens. */
static void refused_opts(lgw__xfer_opts_t *o, const env_t *e) {
  memset(o, 0, sizeof *o);
  o->url = "http://127.0.0.1:1/v1/chat/completions";
  o->headers = e->headers;
  o->body = chat_body;
  o->body_len = strlen(chat_body);
  o->timeout_ms = 5000;
  o->connect_timeout_ms = 2000;
}

TEST(http_connect_refused) {
  env_t e;
  got_t g;
  lgw__xfer_opts_t o;
  memset(&g, 0, sizeof g);
  ASSERT_EQ(env_open(&e, NULL), 0);
  refused_opts(&o, &e);
  ASSERT_EQ(lgw__http_post(e.h, &o, on_done, &g, NULL, NULL), 0);
  run(&e);
  env_close(&e);
  ASSERT_EQ(g.calls, 1);
  ASSERT_EQ(g.code, LGW_ECONNECT);
  ASSERT_EQ(g.status, 0);
  ASSERT_CONTAINS(g.error, "127.0.0.1");
}

/* curl's error buffer (a slot of the engine's, written only when a
 * transfer fails) goes with the reused record: a failure has curl's
 * message, the success after it none, and the next failure its own. */
TEST(http_error_message_not_kept) {
  env_t e;
  got_t g[3];
  lgw__xfer_opts_t o;
  int i;
  memset(g, 0, sizeof g);
  ASSERT_EQ(env_open(&e, NULL), 0);
  refused_opts(&o, &e);
  for (i = 0; i < 3; i++) {
    if (i == 1)
      ASSERT_EQ(post(&e, "/v1/chat/completions", chat_body, 5000, 0, &g[i],
                     NULL), 0);
    else
      ASSERT_EQ(lgw__http_post(e.h, &o, on_done, &g[i], NULL, NULL), 0);
    run(&e);
  }
  env_close(&e);
  ASSERT_EQ(g[0].code, LGW_ECONNECT);
  ASSERT_CONTAINS(g[0].error, "127.0.0.1");
  ASSERT_EQ(g[1].code, 0);
  ASSERT_EQ(g[1].status, 200);
  ASSERT_STREQ(g[1].error, "(null)");
  ASSERT_EQ(g[2].code, LGW_ECONNECT);
  ASSERT_CONTAINS(g[2].error, "127.0.0.1");
}

/* The error buffers of transfers that succeed are never touched: 300 at
 * once on new handles leave no page of them in memory
 * (curl_multi_add_handle zeroes a buffer's first byte: a new handle gets
 * its buffer only after that call); the second round reuses at most 64
 * handles (the spare list), whose buffers the add does touch; a failure
 * then holds one, and its message is curl's. */
TEST(http_error_buffers_untouched) {
  enum { N = 300 };
  env_t e;
  got_t *g = calloc(N, sizeof *g), f;
  lgw__xfer_opts_t o;
  int i, round, ok = 0;
  size_t pages[2];
  struct rlimit rl;
  ASSERT(g != NULL);
  memset(&f, 0, sizeof f);
  if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < 2048 &&
      rl.rlim_max >= 2048) {
    rl.rlim_cur = 2048;
    setrlimit(RLIMIT_NOFILE, &rl);
  }
  ASSERT_EQ(env_open(&e, "delay_ms=100"), 0);
  for (round = 0; round < 2; round++) {
    memset(g, 0, N * sizeof *g);
    for (i = 0; i < N; i++)
      ASSERT_EQ(post(&e, "/v1/chat/completions", chat_body, 10000, 0, &g[i],
                     NULL), 0);
    run(&e);
    for (i = 0; i < N; i++) ok += g[i].code == 0 && g[i].status == 200;
    pages[round] = lgw__http_ebuf_pages(e.h);
  }
  refused_opts(&o, &e);
  ASSERT_EQ(lgw__http_post(e.h, &o, on_done, &f, NULL, NULL), 0);
  run(&e);
  ASSERT(lgw__http_ebuf_pages(e.h) >= 1);
  ASSERT_EQ(pages[0], 0);
  ASSERT(pages[1] <= 64);  /* the reused handles' buffers at most */
  env_close(&e);
  free(g);
  ASSERT_EQ(ok, 2 * N);
  ASSERT_EQ(f.code, LGW_ECONNECT);
  ASSERT_CONTAINS(f.error, "127.0.0.1");
}

TEST(http_timeout) {
  env_t e;
  got_t g;
  memset(&g, 0, sizeof g);
  ASSERT_EQ(env_open(&e, "fault=hang"), 0);
  ASSERT_EQ(post(&e, "/v1/chat/completions", chat_body, 300, 0, &g, NULL), 0);
  run(&e);
  env_close(&e);
  ASSERT_EQ(g.code, LGW_ETIMEOUT);
  ASSERT(g.elapsed >= 0.29);
  ASSERT_CONTAINS(g.error, "timed out");
}

TEST(http_reset) {
  env_t e;
  got_t g;
  memset(&g, 0, sizeof g);
  ASSERT_EQ(env_open(&e, "fault=reset"), 0);
  ASSERT_EQ(post(&e, "/v1/chat/completions", chat_body, 5000, 0, &g, NULL), 0);
  run(&e);
  env_close(&e);
  ASSERT_EQ(g.code, LGW_EHTTP);
  ASSERT(strcmp(g.error, "(null)") != 0 && g.error[0]);
}

TEST(http_truncated_body) {
  env_t e;
  got_t g;
  memset(&g, 0, sizeof g);
  ASSERT_EQ(env_open(&e, "fault=reset_body"), 0);
  ASSERT_EQ(post(&e, "/v1/chat/completions", chat_body, 5000, 0, &g, NULL), 0);
  run(&e);
  env_close(&e);
  ASSERT_EQ(g.code, LGW_EHTTP);
}

TEST(http_size_cap) {
  env_t e;
  got_t g;
  memset(&g, 0, sizeof g);
  ASSERT_EQ(env_open(&e, "fault=oversize size=200000"), 0);
  ASSERT_EQ(post(&e, "/v1/chat/completions", chat_body, 5000, 10000, &g,
                 NULL), 0);
  run(&e);
  env_close(&e);
  ASSERT_EQ(g.code, LGW_ETOOBIG);
  ASSERT_STREQ(g.error, "response larger than 10000 bytes");
}

TEST(http_size_cap_not_reached) {
  env_t e;
  got_t g;
  memset(&g, 0, sizeof g);
  ASSERT_EQ(env_open(&e, NULL), 0);
  ASSERT_EQ(post(&e, "/v1/chat/completions", chat_body, 5000, 100000, &g,
                 NULL), 0);
  run(&e);
  env_close(&e);
  ASSERT_EQ(g.code, 0);
  ASSERT_EQ(g.status, 200);
}

/* Cancel from a timer while the transfer hangs. */
typedef struct cancel_ctx {
  lgw__xfer_t *r;
  got_t *g;
  int calls_during_cancel;
} cancel_ctx_t;

static void on_cancel_timer(uv_timer_t *t) {
  cancel_ctx_t *c = t->data;
  lgw__http_cancel(c->r);
  c->calls_during_cancel = c->g->calls;
  uv_close((uv_handle_t *)t, NULL);
}

TEST(http_cancel) {
  env_t e;
  got_t g;
  uv_timer_t t;
  cancel_ctx_t c;
  memset(&g, 0, sizeof g);
  ASSERT_EQ(env_open(&e, "fault=hang"), 0);
  ASSERT_EQ(post(&e, "/v1/chat/completions", chat_body, 10000, 0, &g, &c.r),
            0);
  c.g = &g;
  c.calls_during_cancel = 0;
  uv_timer_init(&e.loop, &t);
  t.data = &c;
  uv_timer_start(&t, on_cancel_timer, 100, 0);
  run(&e);
  env_close(&e);
  ASSERT_EQ(c.calls_during_cancel, 1);
  ASSERT_EQ(g.calls, 1);
  ASSERT_EQ(g.code, LGW_ECANCELED);
}

TEST(http_free_in_flight) {
  env_t e;
  got_t g[3];
  int i;
  memset(g, 0, sizeof g);
  ASSERT_EQ(env_open(&e, "fault=hang"), 0);
  for (i = 0; i < 3; i++)
    ASSERT_EQ(post(&e, "/v1/chat/completions", chat_body, 10000, 0, &g[i],
                   NULL), 0);
  uv_run(&e.loop, UV_RUN_NOWAIT);
  env_close(&e);  /* cancels: callbacks run before lgw__http_free returns */
  for (i = 0; i < 3; i++) {
    ASSERT_EQ(g[i].calls, 1);
    ASSERT_EQ(g[i].code, LGW_ECANCELED);
  }
}

/* A callback that starts the next transfer (connection reuse path). */
typedef struct chain {
  env_t *e;
  int left, ok;
  got_t g;
} chain_t;

static void on_chain(const lgw__xfer_resp_t *r, void *ud) {
  chain_t *c = ud;
  char url[128];
  lgw__xfer_opts_t o;
  if (r->code == 0 && r->status == 200) c->ok++;
  if (--c->left == 0) return;
  memset(&o, 0, sizeof o);
  snprintf(url, sizeof url, "%s/v1/chat/completions", sim.base);
  o.url = url;
  o.headers = c->e->headers;
  o.body = chat_body;
  o.body_len = strlen(chat_body);
  o.timeout_ms = 5000;
  o.connect_timeout_ms = 2000;
  lgw__http_post(c->e->h, &o, on_chain, c, NULL, NULL);
}

TEST(http_post_from_callback) {
  env_t e;
  chain_t c;
  char url[128];
  lgw__xfer_opts_t o;
  memset(&c, 0, sizeof c);
  ASSERT_EQ(env_open(&e, NULL), 0);
  c.e = &e;
  c.left = 100;
  memset(&o, 0, sizeof o);
  snprintf(url, sizeof url, "%s/v1/chat/completions", sim.base);
  o.url = url;
  o.headers = e.headers;
  o.body = chat_body;
  o.body_len = strlen(chat_body);
  o.timeout_ms = 5000;
  o.connect_timeout_ms = 2000;
  ASSERT_EQ(lgw__http_post(e.h, &o, on_chain, &c, NULL, NULL), 0);
  run(&e);
  env_close(&e);
  ASSERT_EQ(c.ok, 100);
}

TEST(http_many_parallel) {
  env_t e;
  got_t *g = calloc(200, sizeof *g);
  int i, ok = 0;
  ASSERT(g != NULL);
  ASSERT_EQ(env_open(&e, "delay_ms=200"), 0);
  for (i = 0; i < 200; i++)
    ASSERT_EQ(post(&e, "/v1/chat/completions", chat_body, 5000, 0, &g[i],
                   NULL), 0);
  run(&e);
  env_close(&e);
  for (i = 0; i < 200; i++) ok += g[i].code == 0 && g[i].status == 200;
  free(g);
  ASSERT_EQ(ok, 200);
}

/* Open descriptors of this process. */
static int fd_count(void) {
  int n = 0, fd;
  for (fd = 0; fd < 4096; fd++) n += fcntl(fd, F_GETFD) != -1;
  return n;
}

/* 300 transfers in flight at once (over the 256 from which a new http://
 * transfer skips curl's pool search while no connection is idle): all
 * complete; 300 more, started once the first 300 are idle in the pool,
 * reuse those connections instead of opening new ones. */
TEST(http_many_in_flight_then_reused) {
  enum { N = 300 };
  env_t e;
  got_t *g = calloc(N, sizeof *g);
  int i, round, ok = 0, fds[2] = {0, 0};
  struct rlimit rl;
  ASSERT(g != NULL);
  if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < 2048 &&
      rl.rlim_max >= 2048) {
    rl.rlim_cur = 2048;
    setrlimit(RLIMIT_NOFILE, &rl);
  }
  ASSERT_EQ(env_open(&e, "delay_ms=200"), 0);
  for (round = 0; round < 2; round++) {
    memset(g, 0, N * sizeof *g);
    for (i = 0; i < N; i++)
      ASSERT_EQ(post(&e, "/v1/chat/completions", chat_body, 10000, 0, &g[i],
                     NULL), 0);
    run(&e);
    for (i = 0; i < N; i++) ok += g[i].code == 0 && g[i].status == 200;
    fds[round] = fd_count();
  }
  env_close(&e);
  free(g);
  ASSERT_EQ(ok, 2 * N);
  ASSERT_EQ(fds[1], fds[0]);
}

/* Full answers of many transfers: a byte count and an FNV-1a hash of
 * every body. */
typedef struct sum {
  int calls, code;
  long status;
  size_t len;
  unsigned long long hash;
} sum_t;

static void on_sum(const lgw__xfer_resp_t *r, void *ud) {
  sum_t *s = ud;
  size_t i;
  s->calls++;
  s->code = r->code;
  s->status = r->status;
  s->len = r->body_len;
  s->hash = 1469598103934665603ULL;
  for (i = 0; i < r->body_len; i++)
    s->hash = (s->hash ^ (unsigned char)r->body[i]) * 1099511628211ULL;
}

/* From 1,024 transfers in flight a new one gets curl's small receive
 * buffer (1.25 KB instead of 16 KB): with 1,100 posted at once the last
 * 76 have it, the first 1,024 do not, and every one of the 1,100 gets
 * the whole 40 KB answer, byte for byte the answer of a transfer made
 * alone; a transfer made once they are done has the large buffer again. */
TEST(http_small_buffer_in_a_crowd) {
  enum { N = 1100, CROWD = 1024 };
  env_t e;
  sum_t ref, *s = calloc(N, sizeof *s);
  lgw__xfer_t *r = NULL;
  lgw__xfer_opts_t o;
  char url[128];
  int i, small = 0, small_first = 0, whole = 0, after;
  struct rlimit rl;
  ASSERT(s != NULL);
  memset(&ref, 0, sizeof ref);
  if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < 4096 &&
      rl.rlim_max >= 4096) {
    rl.rlim_cur = 4096;
    setrlimit(RLIMIT_NOFILE, &rl);
  }
  ASSERT_EQ(env_open(&e, "fault=oversize size=40000 delay_ms=300"), 0);
  snprintf(url, sizeof url, "%s/v1/chat/completions", sim.base);
  memset(&o, 0, sizeof o);
  o.url = url;
  o.headers = e.headers;
  o.body = chat_body;
  o.body_len = strlen(chat_body);
  o.timeout_ms = 60000;
  o.connect_timeout_ms = 30000;
  ASSERT_EQ(lgw__http_post(e.h, &o, on_sum, &ref, &r, NULL), 0);
  ASSERT_EQ(lgw__http_small_buffer(r), 0);
  run(&e);
  for (i = 0; i < N; i++) {
    ASSERT_EQ(lgw__http_post(e.h, &o, on_sum, &s[i], &r, NULL), 0);
    if (lgw__http_small_buffer(r)) {
      small++;
      if (!small_first) small_first = i + 1;
    }
  }
  run(&e);
  for (i = 0; i < N; i++)
    whole += s[i].calls == 1 && s[i].code == 0 && s[i].status == 200 &&
             s[i].len == ref.len && s[i].hash == ref.hash;
  ASSERT_EQ(lgw__http_post(e.h, &o, on_sum, &ref, &r, NULL), 0);
  after = lgw__http_small_buffer(r);
  run(&e);
  env_close(&e);
  free(s);
  ASSERT_EQ(ref.code, 0);
  ASSERT_EQ(ref.status, 200);
  ASSERT(ref.len >= 40000);
  ASSERT_EQ(small, N - CROWD);
  ASSERT_EQ(small_first, CROWD + 1);
  ASSERT_EQ(whole, N);
  ASSERT_EQ(after, 0);
}

TEST(http_header_list) {
  lgw__kvlist_t kv = {NULL, 0};
  lgw__headers_t *l;
  lgw__kvlist_add(&kv, "x-a", "1");
  lgw__kvlist_add(&kv, "x-empty", "");
  l = lgw__headers_new(&kv);
  lgw__kvlist_free(&kv);
  ASSERT(l != NULL);
  lgw__headers_free(l);
  ASSERT_EQ(lgw_global_init(), 0);
  ASSERT_EQ(lgw_global_init(), 0);
}

/* ---- streamed bodies ------------------------------------------------------ */

typedef struct sgot {
  got_t g;
  int streamed, pieces, stop_after;
  char data[8192];
} sgot_t;

static void on_sdone(const lgw__xfer_resp_t *r, void *ud) {
  sgot_t *s = ud;
  on_done(r, &s->g);
  s->streamed = r->streamed;
}

static int on_piece(const char *p, size_t n, void *ud) {
  sgot_t *s = ud;
  size_t used = strlen(s->data);
  snprintf(s->data + used, sizeof s->data - used, "%.*s", (int)n, p);
  return ++s->pieces == s->stop_after;
}

/* What the gateway streams: a 2xx event stream. */
static int on_head(long status, const char *content_type, void *ud) {
  (void)ud;
  return status >= 200 && status < 300 && lgw__is_event_stream(content_type);
}

static int post_stream(env_t *e, const char *body, long max_bytes, sgot_t *s) {
  char url[128];
  lgw__xfer_opts_t o;
  memset(&o, 0, sizeof o);
  snprintf(url, sizeof url, "%s/v1/messages", sim.base);
  o.url = url;
  o.headers = e->headers;
  o.body = body;
  o.body_len = strlen(body);
  o.timeout_ms = 5000;
  o.connect_timeout_ms = 2000;
  o.max_response_bytes = max_bytes;
  o.on_head = on_head;
  o.on_data = on_piece;
  return lgw__http_post(e->h, &o, on_sdone, s, NULL, NULL);
}

static const char stream_req[] =
    "{\"model\":\"m\",\"stream\":true,\"messages\":[{\"role\":\"user\","
    "\"content\":\"a b\"}]}";

TEST(http_stream_pieces) {
  env_t e;
  sgot_t s;
  memset(&s, 0, sizeof s);
  ASSERT_EQ(env_open(&e, NULL), 0);
  ASSERT_EQ(post_stream(&e, stream_req, 0, &s), 0);
  run(&e);
  env_close(&e);
  ASSERT_EQ(s.g.calls, 1);
  ASSERT_EQ(s.g.code, 0);
  ASSERT_EQ(s.g.status, 200);
  ASSERT_EQ(s.streamed, 1);
  ASSERT_EQ(s.g.body_len, 0);
  ASSERT(s.pieces >= 1);
  ASSERT(strncmp(s.data, "event: message_start\ndata: ", 27) == 0);
  ASSERT_CONTAINS(s.data, "\"text\":\" a\"}}\n\n");
  ASSERT_CONTAINS(s.data, "event: message_stop\ndata: "
                          "{\"type\":\"message_stop\"}\n\n");
}

TEST(http_stream_error_status_collected) {
  env_t e;
  sgot_t s;
  memset(&s, 0, sizeof s);
  ASSERT_EQ(env_open(&e, "status=503"), 0);
  ASSERT_EQ(post_stream(&e, stream_req, 0, &s), 0);
  run(&e);
  env_close(&e);
  ASSERT_EQ(s.g.status, 503);
  ASSERT_EQ(s.streamed, 0);
  ASSERT_EQ(s.pieces, 0);
  ASSERT_CONTAINS(s.g.body, "overloaded_error");
}

TEST(http_stream_stopped_by_callback) {
  env_t e;
  sgot_t s;
  memset(&s, 0, sizeof s);
  s.stop_after = 1;
  ASSERT_EQ(env_open(&e, "fault=sse_stall after=1"), 0);
  ASSERT_EQ(post_stream(&e, stream_req, 0, &s), 0);
  run(&e);
  env_close(&e);
  ASSERT_EQ(s.g.calls, 1);
  ASSERT_EQ(s.pieces, 1);
  ASSERT_EQ(s.g.code, LGW_ECANCELED);
  ASSERT_EQ(s.g.status, 200);  /* the status line had come */
  ASSERT_EQ(s.streamed, 1);
}

TEST(http_stream_size_cap) {
  env_t e;
  sgot_t s;
  memset(&s, 0, sizeof s);
  ASSERT_EQ(env_open(&e, NULL), 0);
  ASSERT_EQ(post_stream(&e, stream_req, 300, &s), 0);
  run(&e);
  env_close(&e);
  ASSERT_EQ(s.g.code, LGW_ETOOBIG);
  ASSERT(strlen(s.data) <= 300);
}

/* ---- transport security and local limits -------------------------------- */

TEST(http_user_agent) {
  env_t e;
  got_t g;
  char *stats;
  memset(&g, 0, sizeof g);
  ASSERT_EQ(env_open(&e, NULL), 0);
  ASSERT_EQ(post(&e, "/v1/chat/completions", chat_body, 5000, 0, &g, NULL), 0);
  run(&e);
  env_close(&e);
  ASSERT_EQ(g.status, 200);
  stats = sim_get(&sim, "/_sim/stats");
  ASSERT(stats != NULL);
  ASSERT_CONTAINS(stats, "\"user-agent\":\"llmgateway/" LGW_VERSION_STRING "\"");
  free(stats);
}

/* "Expect:" in a header list keeps curl from sending "Expect:
 * 100-continue" for a large body; a small one goes without the entry:
 * neither sends an Expect header, both send the list's headers. The same
 * easy handle then carries transfers with other URLs, bodies and
 * timeouts (options set only when they change). */
TEST(http_expect_never_sent) {
  env_t e;
  got_t g;
  char *stats, *big;
  static const char head[] =
      "{\"model\":\"m1\",\"messages\":[{\"role\":\"user\",\"content\":\"";
  size_t n = (size_t)3 << 19, hl = sizeof head - 1;  /* 1.5 MB */
  int i;
  big = malloc(n + 1);
  ASSERT(big != NULL);
  memcpy(big, head, hl);
  memset(big + hl, 'a', n - hl - 4);
  memcpy(big + n - 4, "\"}]}", 5);
  ASSERT_EQ(env_open(&e, NULL), 0);
  for (i = 0; i < 4; i++) {
    memset(&g, 0, sizeof g);
    ASSERT_EQ(post(&e, i == 2 ? "/v1/chat/completions?x=1"
                              : "/v1/chat/completions",
                   i % 2 ? chat_body : big, i == 3 ? 4000 : 5000, 0, &g,
                   NULL), 0);
    run(&e);
    ASSERT_EQ(g.code, 0);
    ASSERT_EQ(g.status, 200);
    if (i % 2) ASSERT_CONTAINS(g.body, "echo(m1): hi there");
    else ASSERT_EQ(strstr(g.body, "hi there"), NULL);
    stats = sim_get(&sim, "/_sim/stats");
    ASSERT(stats != NULL);
    ASSERT_EQ(strstr(stats, "\"expect\""), NULL);
    ASSERT_CONTAINS(stats, "\"authorization\":\"Bearer test-key\"");
    ASSERT_CONTAINS(stats, "\"user-agent\":\"llmgateway/");
    free(stats);
  }
  env_close(&e);
  free(big);
}

/* A header list's own User-Agent replaces ours; a transfer without a
 * header list still sends ours. */
TEST(http_user_agent_from_headers) {
  env_t e;
  got_t g;
  char *stats;
  lgw__kvlist_t kv = {NULL, 0};
  lgw__headers_t *own, *plain;
  memset(&g, 0, sizeof g);
  ASSERT_EQ(env_open(&e, NULL), 0);
  lgw__kvlist_add(&kv, "User-Agent", "mine/1.0");
  own = lgw__headers_new(&kv);
  lgw__kvlist_free(&kv);
  ASSERT(own != NULL);
  plain = e.headers;
  e.headers = own;
  ASSERT_EQ(post(&e, "/v1/chat/completions", chat_body, 5000, 0, &g, NULL), 0);
  run(&e);
  ASSERT_EQ(g.status, 200);
  stats = sim_get(&sim, "/_sim/stats");
  ASSERT(stats != NULL);
  ASSERT_CONTAINS(stats, "\"user-agent\":\"mine/1.0\"");
  free(stats);
  e.headers = NULL;
  memset(&g, 0, sizeof g);
  ASSERT_EQ(post(&e, "/v1/chat/completions", chat_body, 5000, 0, &g, NULL), 0);
  run(&e);
  e.headers = plain;
  env_close(&e);
  lgw__headers_free(own);
  stats = sim_get(&sim, "/_sim/stats");
  ASSERT(stats != NULL);
  ASSERT_CONTAINS(stats, "\"user-agent\":\"llmgateway/" LGW_VERSION_STRING "\"");
  free(stats);
}

/* A URL the caller keeps (url_kept: borrowed by the transfer, not copied)
 * and copied ones, alternating on one reused handle: each transfer goes
 * to its own URL, also when a kept and a copied URL are equal strings at
 * different addresses, and a copied URL's buffer may change at once. */
TEST(http_url_kept_and_copied) {
  static char kept_ok[128], kept_404[128];
  char copy[128];
  env_t e;
  got_t g[5];
  lgw__xfer_opts_t o;
  int i;
  snprintf(kept_ok, sizeof kept_ok, "%s/v1/chat/completions", sim.base);
  snprintf(kept_404, sizeof kept_404, "%s/v1/nothing", sim.base);
  memset(g, 0, sizeof g);
  ASSERT_EQ(env_open(&e, NULL), 0);
  for (i = 0; i < 5; i++) {
    memset(&o, 0, sizeof o);
    o.headers = e.headers;
    o.body = chat_body;
    o.body_len = strlen(chat_body);
    o.timeout_ms = 5000;
    o.connect_timeout_ms = 2000;
    o.direct = 1;
    switch (i) {
      case 0: o.url = kept_ok; o.url_kept = 1; break;
      case 1: o.url = kept_404; o.url_kept = 1; break;
      case 2: o.url = kept_ok; o.url_kept = 1; break;
      case 3:  /* equal to kept_404, another address */
        snprintf(copy, sizeof copy, "%s", kept_404);
        o.url = copy;
        break;
      default:
        snprintf(copy, sizeof copy, "%s", kept_ok);
        o.url = copy;
        break;
    }
    ASSERT_EQ(lgw__http_post(e.h, &o, on_done, &g[i], NULL, NULL), 0);
    if (i >= 3) memset(copy, 'x', sizeof copy - 1);  /* copied at once */
    run(&e);
  }
  env_close(&e);
  for (i = 0; i < 5; i++) {
    ASSERT_EQ(g[i].calls, 1);
    ASSERT_EQ(g[i].code, 0);
    ASSERT_EQ(g[i].status, (i == 1 || i == 3) ? 404 : 200);
  }
  ASSERT_CONTAINS(g[4].body, "\"content\":\"echo(m1): hi there\"");
}

/* A Content-Type kept in place (up to 39 bytes) and a longer one (a
 * copy), one after the other on one handle: each reads back whole. */
TEST(http_content_type_short_and_long) {
  static echo_canned_t canned;
  static const char *const types[] = {
      "application/json; charset=utf-8",
      "application/json; charset=utf-8; profile=\"https://example.com/p\"",
      "application/json"};
  char url[128];
  echo_t *srv;
  env_t e;
  got_t g[3];
  int i;
  echo_canned_set(&canned, 3, types[0], "{}", types[1], "{}", types[2], "{}");
  srv = echo_start(echo_canned, &canned);
  ASSERT(srv != NULL);
  snprintf(url, sizeof url, "%s/v1/chat/completions", echo_base(srv));
  memset(g, 0, sizeof g);
  ASSERT_EQ(env_open(&e, NULL), 0);
  for (i = 0; i < 3; i++) {
    ASSERT_EQ(post_url(&e, url, 1, &g[i]), 0);
    run(&e);
  }
  env_close(&e);
  echo_stop(srv);
  for (i = 0; i < 3; i++) {
    ASSERT_EQ(g[i].status, 200);
    ASSERT_STREQ(g[i].content_type, types[i]);
  }
}

TEST(http_loopback_urls) {
  static const char *const yes[] = {
      "http://127.0.0.1:8080/v1", "http://127.1.2.3/v1", "http://localhost/v1",
      "https://LOCALHOST.:443/x", "http://api.localhost:1/v1",
      "http://[::1]:8080/v1", "http://u:p@127.0.0.1/v1?k=v",
      "http://[::ffff:127.0.0.1]/v1", NULL};
  static const char *const no[] = {
      "https://api.openai.com/v1", "http://127.example.com/v1",
      "http://localhost.example.com/v1", "http://10.0.0.1/v1",
      "http://[::2]/v1", "http://mylocalhost/v1", "not a url", NULL};
  size_t i;
  for (i = 0; yes[i]; i++)
    if (!lgw__url_is_loopback(yes[i])) TEST__FAIL("not loopback: %s", yes[i]);
  for (i = 0; no[i]; i++)
    if (lgw__url_is_loopback(no[i])) TEST__FAIL("loopback: %s", no[i]);
}

/* Every proxy variable points at a dead port: a loopback URL still goes
 * direct; without `direct` the proxy is used (the variables are live),
 * unless no_proxy names the host, as curl does. */
TEST(http_loopback_never_proxied) {
  static const char *const vars[] = {"http_proxy", "https_proxy", "ALL_PROXY",
                                     "all_proxy", NULL};
  char dead[64], url[128];
  env_t e;
  got_t g1, g2, g3;
  size_t i;
  gws_refused_url(dead, sizeof dead);
  for (i = 0; vars[i]; i++) setenv(vars[i], dead, 1);
  unsetenv("no_proxy");
  unsetenv("NO_PROXY");
  snprintf(url, sizeof url, "%s/v1/chat/completions", sim.base);
  memset(&g1, 0, sizeof g1);
  memset(&g2, 0, sizeof g2);
  memset(&g3, 0, sizeof g3);
  ASSERT_EQ(env_open(&e, NULL), 0);
  ASSERT_EQ(post_url(&e, url, lgw__url_is_loopback(url), &g1), 0);
  run(&e);
  ASSERT_EQ(post_url(&e, url, 0, &g2), 0);
  run(&e);
  setenv("no_proxy", "127.0.0.1", 1);
  ASSERT_EQ(post_url(&e, url, 0, &g3), 0);
  run(&e);
  env_close(&e);
  for (i = 0; vars[i]; i++) unsetenv(vars[i]);
  unsetenv("no_proxy");
  ASSERT_EQ(g1.code, 0);
  ASSERT_EQ(g1.status, 200);
  ASSERT_EQ(g2.code, LGW_ECONNECT);
  ASSERT_EQ(g3.code, 0);
  ASSERT_EQ(g3.status, 200);
}

static void big_header(const char *head, const char *body, size_t len,
                       lgw__buf_t *out, void *ud) {
  long i, lines = *(long *)ud;
  (void)head;
  (void)body;
  (void)len;
  lgw__buf_adds(out, "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n");
  if (lines == 1) {
    lgw__buf_adds(out, "X-Big: ");
    for (i = 0; i < 200000; i++) lgw__buf_addc(out, 'a');
    lgw__buf_adds(out, "\r\n");
  } else {
    for (i = 0; i < lines; i++) {
      lgw__buf_printf(out, "X-Many-%ld: ", i);
      while (out->len % 1024) lgw__buf_addc(out, 'b');
      lgw__buf_adds(out, "\r\n");
    }
  }
  lgw__buf_adds(out, "Content-Length: 2\r\nConnection: close\r\n\r\n{}");
}

/* A header line over curl's limit, or headers over ours: too_large, not
 * "out of memory". */
TEST(http_header_too_large) {
  long modes[] = {1, 400};
  size_t i;
  for (i = 0; i < 2; i++) {
    echo_t *srv = echo_start(big_header, &modes[i]);
    char url[128];
    env_t e;
    got_t g;
    ASSERT(srv);
    snprintf(url, sizeof url, "%s/v1/chat/completions", echo_base(srv));
    memset(&g, 0, sizeof g);
    ASSERT_EQ(env_open(&e, NULL), 0);
    ASSERT_EQ(post_url(&e, url, 1, &g), 0);
    run(&e);
    env_close(&e);
    echo_stop(srv);
    ASSERT_EQ(g.code, LGW_ETOOBIG);
    ASSERT_EQ(g.header_too_big, 1);
    ASSERT_STREQ(g.error, "response headers larger than 307200 bytes (or one "
                 "header line larger than 102400 bytes)");
  }
}

/* No descriptor left for a socket: a local error, not a connect failure. */
TEST(http_no_file_descriptors) {
  struct rlimit old, low;
  env_t e;
  got_t g, g2;
  int fd;
  char url[128];
  memset(&g, 0, sizeof g);
  memset(&g2, 0, sizeof g2);
  snprintf(url, sizeof url, "%s/v1/chat/completions", sim.base);
  ASSERT_EQ(env_open(&e, NULL), 0);
  ASSERT_EQ(getrlimit(RLIMIT_NOFILE, &old), 0);
  /* the lowest free descriptor: every one below is taken */
  fd = open("/dev/null", O_RDONLY);
  ASSERT(fd >= 0);
  close(fd);
  low = old;
  low.rlim_cur = (rlim_t)fd;
  ASSERT_EQ(setrlimit(RLIMIT_NOFILE, &low), 0);
  ASSERT_EQ(post_url(&e, url, 1, &g), 0);
  run(&e);
  /* a name to resolve: curl's resolver thread cannot start either */
  ASSERT_EQ(post_url(&e, "http://lgw-test.invalid/v1", 1, &g2), 0);
  run(&e);
  setrlimit(RLIMIT_NOFILE, &old);
  env_close(&e);
  ASSERT_EQ(g.code, LGW_ERESOURCE);
  ASSERT_STREQ(g.error, "out of file descriptors: Too many open files");
  ASSERT_EQ(g2.code, LGW_ERESOURCE);
  ASSERT_STREQ(g2.error, "out of file descriptors: Too many open files");
}

/* A tiny HTTP/1.1 server on a thread: answers "ok" to every request of a
 * connection, after delay_ms, and closes each connection after
 * `per_conn` answers (0: when the client does). It keeps the body of
 * every request it reads (bodies[i], request i in arrival order, the
 * last slot for the fifth and later); with die_after > 0 the connection
 * that served die_after requests reads the next one and closes without
 * an answer after delay_ms (a kept-alive connection that turns out dead
 * while the client waits for its answer). */
typedef struct tiny {
  int fd, port, per_conn, total, delay_ms, die_after;
  int conns;                  /* connections accepted */
  int nreq;                   /* requests read */
  char bodies[4][512];
  pthread_t th;
} tiny_t;

/* Reads one request (headers, then Content-Length bytes) and keeps its
 * body in t->bodies; 0 at EOF. */
static int tiny_read_request(tiny_t *t, int c) {
  char buf[8192], *end, *out = t->bodies[t->nreq < 4 ? t->nreq : 3];
  size_t len = 0, have, got;
  long clen = 0;
  for (;;) {
    ssize_t n = recv(c, buf + len, sizeof buf - 1 - len, 0);
    if (n <= 0) return 0;
    len += (size_t)n;
    buf[len] = '\0';
    if ((end = strstr(buf, "\r\n\r\n")) != NULL) break;
  }
  {
    const char *cl = strcasestr(buf, "content-length:");
    if (cl) clen = strtol(cl + 15, NULL, 10);
  }
  have = len - (size_t)(end + 4 - buf);
  memcpy(out, end + 4, have < 511 ? have : 511);
  got = have;
  while ((long)got < clen) {
    ssize_t n = recv(c, buf, sizeof buf, 0);
    if (n <= 0) return 0;
    if (got < 511) memcpy(out + got, buf, got + (size_t)n < 511 ? (size_t)n : 511 - got);
    got += (size_t)n;
  }
  out[got < 511 ? got : 511] = '\0';
  t->nreq++;
  return 1;
}

static void *tiny_main(void *ud) {
  tiny_t *t = ud;
  static const char answer[] =
      "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\n"
      "Content-Length: 2\r\n\r\nok";
  int served = 0;
  while (served < t->total) {
    int c = accept(t->fd, NULL, NULL), here = 0;
    if (c < 0) break;
    t->conns++;
    while (served < t->total && (!t->per_conn || here < t->per_conn) &&
           tiny_read_request(t, c)) {
      if (t->delay_ms) usleep((useconds_t)t->delay_ms * 1000);
      if (t->die_after > 0 && here == t->die_after) break;  /* dies */
      if (send(c, answer, sizeof answer - 1, MSG_NOSIGNAL) < 0) break;
      served++;
      here++;
    }
    close(c);
  }
  return NULL;
}

static int tiny_start(tiny_t *t, int per_conn, int total, int delay_ms,
                      int die_after) {
  memset(t, 0, sizeof *t);
  t->per_conn = per_conn;
  t->total = total;
  t->delay_ms = delay_ms;
  t->die_after = die_after;
  t->fd = gws_listen_loopback(16, &t->port);
  if (t->fd < 0) return -1;
  return pthread_create(&t->th, NULL, tiny_main, t);
}

static void tiny_stop(tiny_t *t) {
  pthread_join(t->th, NULL);
  close(t->fd);
}

/* Transfers one after the other on a kept-alive connection (its socket's
 * watcher parked between them), and on connections the server closes
 * while they are idle in the pool: every answer arrives, a connection is
 * reused while the server keeps it, and a closed one is replaced. */
TEST(http_keepalive_reuse_and_server_close) {
  int per_conn, i;
  for (per_conn = 1; per_conn <= 5; per_conn += 4) {
    tiny_t t;
    env_t e;
    char url[128];
    ASSERT_EQ(tiny_start(&t, per_conn, 5, 0, 0), 0);
    ASSERT_EQ(env_open(&e, NULL), 0);
    snprintf(url, sizeof url, "http://127.0.0.1:%d/v1", t.port);
    for (i = 0; i < 5; i++) {
      got_t g;
      memset(&g, 0, sizeof g);
      ASSERT_EQ(post_url(&e, url, 1, &g), 0);
      run(&e);
      ASSERT_EQ(g.calls, 1);
      ASSERT_EQ(g.code, 0);
      ASSERT_EQ(g.status, 200);
      ASSERT_STREQ(g.body, "ok");
      /* the server's close reaches the idle connection */
      if (per_conn == 1) usleep(20000);
    }
    env_close(&e);
    tiny_stop(&t);
    ASSERT_EQ(t.conns, per_conn == 1 ? 5 : 1);
  }
}

/* A plain http:// transfer on a connection of its own frees its request
 * body as soon as curl has sent it, while the answer is still to come
 * (curl could not send it again: that needs a reused connection), and
 * the server got all of it. */
TEST(http_body_freed_once_sent) {
  tiny_t b;
  env_t e;
  got_t g;
  lgw__xfer_t *r = NULL;
  char url[128];
  int turns = 0;
  memset(&g, 0, sizeof g);
  ASSERT_EQ(tiny_start(&b, 0, 1, 300, 0), 0);
  ASSERT_EQ(env_open(&e, NULL), 0);
  snprintf(url, sizeof url, "http://127.0.0.1:%d/v1", b.port);
  {
    lgw__xfer_opts_t o;
    memset(&o, 0, sizeof o);
    o.url = url;
    o.headers = e.headers;
    o.body = chat_body;
    o.body_len = strlen(chat_body);
    o.timeout_ms = 5000;
    o.connect_timeout_ms = 2000;
    o.direct = 1;
    ASSERT_EQ(lgw__http_post(e.h, &o, on_done, &g, &r, NULL), 0);
  }
  ASSERT(r != NULL);
  ASSERT_EQ(lgw__http_body_held(r), 1);
  while (!g.calls && lgw__http_body_held(r) && turns++ < 100)
    uv_run(&e.loop, UV_RUN_ONCE);
  ASSERT_EQ(g.calls, 0);             /* the answer is 300 ms away */
  ASSERT_EQ(lgw__http_body_held(r), 0);
  run(&e);
  env_close(&e);
  tiny_stop(&b);
  ASSERT_EQ(g.calls, 1);
  ASSERT_EQ(g.code, 0);
  ASSERT_EQ(g.status, 200);
  ASSERT_STREQ(g.body, "ok");
  ASSERT_EQ(b.nreq, 1);
  ASSERT_STREQ(b.bodies[0], chat_body);
}

/* A kept-alive connection that turns out dead when the next request is
 * sent on it: curl sends the request again on a new connection, body and
 * all, so a transfer on a reused connection keeps its body until then;
 * the retry, on a connection of its own, may free it once sent. */
TEST(http_body_sent_again_on_dead_connection) {
  static const char second[] =
      "{\"model\":\"m2\",\"messages\":[{\"role\":\"user\",\"content\":"
      "\"the second request, sent twice\"}]}";
  tiny_t b;
  env_t e;
  got_t g[2];
  char url[128];
  int i;
  memset(g, 0, sizeof g);
  ASSERT_EQ(tiny_start(&b, 0, 2, 100, 1), 0);
  ASSERT_EQ(env_open(&e, NULL), 0);
  snprintf(url, sizeof url, "http://127.0.0.1:%d/v1", b.port);
  for (i = 0; i < 2; i++) {
    lgw__xfer_opts_t o;
    memset(&o, 0, sizeof o);
    o.url = url;
    o.headers = e.headers;
    o.body = i ? second : chat_body;
    o.body_len = strlen(o.body);
    o.timeout_ms = 5000;
    o.connect_timeout_ms = 2000;
    o.direct = 1;
    ASSERT_EQ(lgw__http_post(e.h, &o, on_done, &g[i], NULL, NULL), 0);
    run(&e);
  }
  env_close(&e);
  tiny_stop(&b);
  for (i = 0; i < 2; i++) {
    ASSERT_EQ(g[i].calls, 1);
    ASSERT_EQ(g[i].code, 0);
    ASSERT_EQ(g[i].status, 200);
    ASSERT_STREQ(g[i].body, "ok");
  }
  ASSERT_EQ(b.conns, 2);
  ASSERT_EQ(b.nreq, 3);
  ASSERT_STREQ(b.bodies[0], chat_body);
  ASSERT_STREQ(b.bodies[1], second);   /* on the dead connection */
  ASSERT_STREQ(b.bodies[2], second);   /* again, on a new one */
}

int main(void) {
  sim_ok = sim_start(&sim, NULL) == 0;
  if (!sim_ok) {
    fprintf(stderr, "simulator did not start\n");
    printf("RESULT 0 1\n");
    return 1;
  }
  RUN(http_chat_ok);
  RUN(http_status_and_retry_headers);
  RUN(http_redirect_not_followed);
  RUN(http_connect_refused);
  RUN(http_error_message_not_kept);
  RUN(http_error_buffers_untouched);
  RUN(http_timeout);
  RUN(http_reset);
  RUN(http_truncated_body);
  RUN(http_size_cap);
  RUN(http_size_cap_not_reached);
  RUN(http_cancel);
  RUN(http_free_in_flight);
  RUN(http_post_from_callback);
  RUN(http_many_parallel);
  RUN(http_many_in_flight_then_reused);
  RUN(http_small_buffer_in_a_crowd);
  RUN(http_header_list);
  RUN(http_stream_pieces);
  RUN(http_stream_error_status_collected);
  RUN(http_stream_stopped_by_callback);
  RUN(http_stream_size_cap);
  RUN(http_user_agent);
  RUN(http_user_agent_from_headers);
  RUN(http_expect_never_sent);
  RUN(http_url_kept_and_copied);
  RUN(http_content_type_short_and_long);
  RUN(http_loopback_urls);
  RUN(http_loopback_never_proxied);
  RUN(http_header_too_large);
  RUN(http_no_file_descriptors);
  RUN(http_keepalive_reuse_and_server_close);
  RUN(http_body_freed_once_sent);
  RUN(http_body_sent_again_on_dead_connection);
  sim_stop(&sim);
  return TEST_SUMMARY();
}
