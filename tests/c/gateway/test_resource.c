/*
 * test_resource.c -- local limits reported as what they are: out of file
 * descriptors is code resource (no retry, no failover, no breaker
 * count), response headers over the limit are too_large (not retried),
 * a request bigger than a provider's tpm fails over at once naming the
 * limit, and a refused Redis port says "Connection refused".
 */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>
#include <uv.h>

#include "config.h"
#include "echo_support.h"
#include "gw_support.h"
#include "llmgateway.h"
#include "redis.h"
#include "test.h"

typedef struct outcome {
  int done, code, nattempts;
  int att_code[4];
  char att_msg[4][512];
  char message[1024];
} outcome_t;

static void on_done(lgw_gateway_t *gw, uint64_t id, int status,
                    const lgw_result_t *res, const lgw_error_t *err,
                    void *ud) {
  outcome_t *o = ud;
  size_t i;
  (void)gw;
  (void)id;
  o->done = 1;
  o->code = status;
  o->nattempts = (int)res->nattempts;
  for (i = 0; i < res->nattempts && i < 4; i++) {
    o->att_code[i] = res->attempts[i].code;
    gws_cp(o->att_msg[i], sizeof o->att_msg[i], res->attempts[i].message);
  }
  gws_cp(o->message, sizeof o->message, err ? err->message : "");
}

/* Submit one request; with low_fds, run it with no descriptor free. */
static lgw_gateway_t *submit(lgw_runtime_t *rt, outcome_t *o) {
  lgw_gateway_t *gw = NULL;
  lgw_gateway_options_t opts;
  lgw_message_t m = {"user", "hello"};
  lgw_request_t req;
  memset(&opts, 0, sizeof opts);
  opts.no_state = 1;
  memset(&req, 0, sizeof req);
  req.task = "t";
  req.messages = &m;
  req.nmessages = 1;
  memset(o, 0, sizeof *o);
  if (lgw_gateway_new(rt, &opts, &gw, NULL)) return NULL;
  if (lgw_gateway_submit(gw, &req, on_done, o, NULL, NULL)) {
    lgw_gateway_free(gw);
    return NULL;
  }
  return gw;
}

TEST(out_of_fds_is_local) {
  char refused[64];
  lgw_runtime_t *rt;
  lgw_gateway_t *gw;
  outcome_t o;
  struct rlimit old, low;
  int fd;
  gws_refused_url(refused, sizeof refused);
  rt = gws_load(GWS_SETTINGS("  breaker_failures: 1\n")
                "providers:\n"
                "  - provider_type: a\n"
                "    api_style: openai_chat\n"
                "    base_url: %s/v1\n"
                "  - provider_type: b\n"
                "    api_style: openai_chat\n"
                "    base_url: %s/v1\n", refused, refused);
  ASSERT(rt);
  gw = submit(rt, &o);
  ASSERT(gw);
  ASSERT_EQ(getrlimit(RLIMIT_NOFILE, &old), 0);
  fd = open("/dev/null", O_RDONLY);  /* the lowest free descriptor */
  ASSERT(fd >= 0);
  close(fd);
  low = old;
  low.rlim_cur = (rlim_t)fd;
  ASSERT_EQ(setrlimit(RLIMIT_NOFILE, &low), 0);
  lgw_gateway_run(gw);
  setrlimit(RLIMIT_NOFILE, &old);
  ASSERT_EQ(o.done, 1);
  ASSERT_EQ(o.code, LGW_ERESOURCE);
  ASSERT_EQ(o.nattempts, 1);
  ASSERT_EQ(o.att_code[0], LGW_ERESOURCE);
  ASSERT_CONTAINS(o.message, "LLM request for task 't' failed: Cannot send "
                  "to http://127.0.0.1:");
  ASSERT_CONTAINS(o.message, "/v1/chat/completions: out of file descriptors: "
                  "Too many open files (raise the open-file limit, ulimit "
                  "-n, or lower max_concurrent).");
  ASSERT_STREQ(lgw_err_name(o.code), "resource");
  /* the provider is not blamed */
  ASSERT_EQ(lgw_gateway_breaker_state(gw, 0), 0);
  lgw_gateway_free(gw);
  lgw_runtime_free(rt);
}

static void big_header(const char *head, const char *body, size_t len,
                       lgw__buf_t *out, void *ud) {
  long i;
  (void)head;
  (void)body;
  (void)len;
  (void)ud;
  lgw__buf_adds(out, "HTTP/1.1 200 OK\r\nX-Big: ");
  for (i = 0; i < 200000; i++) lgw__buf_addc(out, 'a');
  lgw__buf_adds(out, "\r\nContent-Length: 2\r\nConnection: close\r\n\r\n{}");
}

TEST(header_over_limit_is_too_large) {
  echo_t *e = echo_start(big_header, NULL);
  lgw_runtime_t *rt;
  lgw_gateway_t *gw;
  outcome_t o;
  char want[256];
  ASSERT(e);
  rt = gws_load(GWS_SETTINGS("") "providers:\n"
                "  - provider_type: a\n"
                "    api_style: openai_chat\n"
                "    base_url: %s/v1\n", echo_base(e));
  ASSERT(rt);
  gw = submit(rt, &o);
  ASSERT(gw);
  lgw_gateway_run(gw);
  lgw_gateway_free(gw);
  lgw_runtime_free(rt);
  ASSERT_EQ(echo_requests(e), 1);  /* not retried */
  snprintf(want, sizeof want, "Response from %s/v1/chat/completions is too "
           "large: response headers larger than 307200 bytes (or one "
           "header line larger than 102400 bytes).", echo_base(e));
  echo_stop(e);
  ASSERT_EQ(o.code, LGW_ETOOBIG);
  ASSERT_EQ(o.nattempts, 1);
  ASSERT_EQ(o.att_code[0], LGW_ETOOBIG);
  ASSERT_STREQ(o.att_msg[0], want);
}

TEST(request_over_tpm_fails_over_at_once) {
  char refused[64];
  lgw_runtime_t *rt;
  lgw_gateway_t *gw;
  outcome_t o;
  gws_refused_url(refused, sizeof refused);
  rt = gws_load(GWS_SETTINGS("") "providers:\n"
                "  - provider_type: a\n"
                "    api_style: openai_chat\n"
                "    base_url: %s/v1\n"
                "    tpm: 1000\n", refused);
  ASSERT(rt);
  gw = submit(rt, &o);
  ASSERT(gw);
  lgw_gateway_run(gw);
  lgw_gateway_free(gw);
  lgw_runtime_free(rt);
  ASSERT_EQ(o.code, LGW_ERATELIMIT);
  ASSERT_EQ(o.nattempts, 1);
  ASSERT_EQ(o.att_code[0], LGW_ERATELIMIT);
  /* "hello": 5 bytes / 4 + the default max_tokens 4000 */
  ASSERT_STREQ(o.att_msg[0], "Request needs about 4001 tokens (message bytes "
               "/ 4 + max_tokens 4000), more than the provider's tpm limit "
               "of 1000 tokens per minute.");
}

/* ---- Redis ----------------------------------------------------------------- */

static char redis_log[512];

static void keep_log(lgw_log_level_t level, const char *msg, void *ud) {
  (void)level;
  (void)ud;
  if (!redis_log[0]) gws_cp(redis_log, sizeof redis_log, msg);
}

static void on_give_up(uv_timer_t *t) { uv_stop(t->loop); }

static void on_cmd(lgw__redis_t *r, const lgw__rreply_t *reply,
                   const char *err, void *ud) {
  (void)r;
  (void)reply;
  gws_cp(ud, 256, err);
}

/* A refused port is reported as such at once, not after a timeout. */
TEST(redis_refused_says_so) {
  char url[64], why[128], got[256] = "";
  lgw__redis_url_t u;
  lgw__redis_opts_t o;
  lgw__redis_t *r = NULL;
  uv_loop_t loop;
  uv_timer_t give_up;
  const char *ping[] = {"PING"};
  int port;
  gws_refused_url(url, sizeof url);
  port = atoi(strrchr(url, ':') + 1);
  snprintf(url, sizeof url, "redis://127.0.0.1:%d/0", port);
  ASSERT_EQ(lgw__redis_url_parse(url, &u, why, sizeof why), 0);
  memset(&o, 0, sizeof o);
  o.what = "test";
  o.connect_timeout = 60;  /* a timeout would not come in this test */
  redis_log[0] = '\0';
  lgw_set_log(keep_log, NULL, LGW_LOG_WARN);
  uv_loop_init(&loop);
  uv_timer_init(&loop, &give_up);
  uv_timer_start(&give_up, on_give_up, 10000, 0);
  uv_unref((uv_handle_t *)&give_up);
  ASSERT_EQ(lgw__redis_new(&loop, &u, &o, &r, NULL), 0);
  ASSERT_EQ(lgw__redis_cmd(r, 60, on_cmd, got, NULL, 1, ping, NULL), 0);
  uv_run(&loop, UV_RUN_DEFAULT);
  lgw__redis_free(r);
  uv_close((uv_handle_t *)&give_up, NULL);
  uv_run(&loop, UV_RUN_DEFAULT);
  uv_loop_close(&loop);
  lgw_set_log(gws_quiet_log, NULL, LGW_LOG_WARN);
  ASSERT_STREQ(got, "Connection refused");
  snprintf(why, sizeof why, "test: Redis at 127.0.0.1:%d/0 is unreachable "
           "(Connection refused); going on", port);
  ASSERT_CONTAINS(redis_log, why);
}

int main(void) {
  lgw_set_log(gws_quiet_log, NULL, LGW_LOG_WARN);
  RUN(out_of_fds_is_local);
  RUN(header_over_limit_is_too_large);
  RUN(request_over_tpm_fails_over_at_once);
  RUN(redis_refused_says_so);
  return TEST_SUMMARY();
}
