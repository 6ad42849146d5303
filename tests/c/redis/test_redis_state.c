/*
 * test_redis_state.c -- shared state on a real redis-server (loopback,
 * started and stopped here): settings.state validation, the Redis
 * connection (handshake, scripts, reconnect), two gateway processes
 * sharing a preferred provider and a circuit breaker, an rpm limit shared
 * by four processes, and a Redis outage in the middle of a run.
 */
#include <signal.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <uv.h>

#include "config.h"
#include "gateway_priv.h"
#include "redis.h"
#include "redis_support.h"
#include "sim_support.h"
#include "test.h"

#define CHILD_ALARM_S 60

static sim_t sim;
static redis_srv_t srv;

/* ---- helpers ---------------------------------------------------------------- */

static lgw_runtime_t *load(const char *yaml, char *err_out, size_t cap) {
  lgw_runtime_t *rt = NULL;
  lgw_error_t err;
  memset(&err, 0, sizeof err);
  if (lgw_runtime_load_string(yaml, strlen(yaml), "c.yaml", &rt, &err) &&
      err_out)
    snprintf(err_out, cap, "%s", err.message);
  return rt;
}

/* Two providers: #1 refuses connections, #2 is the simulator. */
static lgw_runtime_t *two_providers(const char *prefix, int breaker_k,
                                    long rpm) {
  char y[2048];
  snprintf(y, sizeof y,
           "settings:\n  fallback_model: m1\n  timeout: 5\n"
           "  transport_retries: 2\n  backoff_base: 0.01\n"
           "  backoff_max: 0.02\n  breaker_failures: %d\n"
           "  breaker_cooldown: 60\n  state: \"%s\"\n"
           "  state_prefix: \"%s\"\n  state_refresh: 0.2\n"
           "providers:\n"
           "  - provider_type: openai\n    api_style: openai_chat\n"
           "    base_url: \"http://127.0.0.1:1\"\n    api_key: k-first\n"
           "  - provider_type: openai\n    api_style: openai_chat\n"
           "    base_url: \"%s\"\n    api_key: k-second\n    rpm: %ld\n",
           breaker_k, srv.url, prefix, sim.base, rpm);
  return load(y, NULL, 0);
}

static void on_spin(uv_timer_t *t) { uv_stop(t->loop); }

/* Run the gateway's loop for about seconds. */
static void spin(lgw_gateway_t *gw, double seconds) {
  uv_loop_t *loop = lgw_gateway_loop(gw);
  uv_timer_t t;
  uv_timer_init(loop, &t);
  uv_timer_start(&t, on_spin, (uint64_t)(seconds * 1000), 0);
  uv_run(loop, UV_RUN_DEFAULT);
  uv_close((uv_handle_t *)&t, NULL);
  uv_run(loop, UV_RUN_NOWAIT);
}

typedef struct out {
  int status, provider_index;
  size_t natt;
  double done_ms;
  char text[128];
} out_t;

static void on_done(lgw_gateway_t *gw, uint64_t id, int status,
                    const lgw_result_t *res, const lgw_error_t *err,
                    void *ud) {
  out_t *o = ud;
  (void)gw;
  (void)id;
  (void)err;
  o->status = status;
  o->provider_index = res->provider_index;
  o->natt = res->nattempts;
  o->done_ms = lgw__now_ms();
  snprintf(o->text, sizeof o->text, "%s", res->text ? res->text : "");
}

static int submit(lgw_gateway_t *gw, const char *content, out_t *o) {
  lgw_message_t m = {"user", content};
  lgw_request_t r;
  memset(&r, 0, sizeof r);
  r.task = "t";
  r.messages = &m;
  r.nmessages = 1;
  memset(o, 0, sizeof *o);
  o->status = 1;
  return lgw_gateway_submit(gw, &r, on_done, o, NULL, NULL);
}

/* One request, run to completion. */
static out_t call(lgw_gateway_t *gw, const char *content) {
  out_t o;
  if (submit(gw, content, &o) == 0) lgw_gateway_run(gw);
  return o;
}

static lgw_gateway_t *gateway(lgw_runtime_t *rt) {
  lgw_gateway_t *gw = NULL;
  lgw_gateway_options_t op;
  memset(&op, 0, sizeof op);
  op.seed = 7;
  if (!rt || lgw_gateway_new(rt, &op, &gw, NULL)) return NULL;
  return gw;
}

static pid_t child(void (*fn)(int, int), int arg, int fds[2]) {
  pid_t pid;
  if (pipe(fds)) return -1;
  pid = fork();
  if (pid == 0) {
    close(fds[0]);
    alarm(CHILD_ALARM_S);
    fn(arg, fds[1]);
    _exit(0);
  }
  close(fds[1]);
  return pid;
}

/* Everything a child wrote, then its exit status. */
static int child_wait(pid_t pid, int fd, char *buf, size_t cap) {
  size_t len = 0;
  ssize_t n;
  int status = -1;
  while (len + 1 < cap && (n = read(fd, buf + len, cap - len - 1)) > 0)
    len += (size_t)n;
  buf[len] = '\0';
  close(fd);
  waitpid(pid, &status, 0);
  return WIFEXITED(status) ? WEXITSTATUS(status) : 100 + WTERMSIG(status);
}

static void say(int fd, const char *fmt, ...) LGW__PRINTF(2, 3);
static void say(int fd, const char *fmt, ...) {
  char line[512];
  va_list ap;
  int n;
  va_start(ap, fmt);
  n = vsnprintf(line, sizeof line, fmt, ap);
  va_end(ap);
  if (n > 0) (void)!write(fd, line, (size_t)n < sizeof line ? (size_t)n
                                                             : sizeof line);
}

/* ---- settings.state -------------------------------------------------------- */

TEST(state_default_is_the_file) {
  lgw_runtime_t *rt = load("settings:\n  fallback_model: m\n", NULL, 0);
  ASSERT(rt);
  ASSERT(rt->state == NULL);
  ASSERT_STREQ(rt->state_prefix, "llmgateway:");
  ASSERT_DEQ(rt->state_refresh, 1.0);
  lgw_runtime_free(rt);
  rt = load("settings:\n  state: file\n", NULL, 0);
  ASSERT(rt && rt->state == NULL);
  lgw_runtime_free(rt);
}

TEST(state_redis_url_parsed) {
  lgw__redis_url_t u;
  char why[200];
  ASSERT_EQ(lgw__redis_url_parse("redis://cache.local", &u, why, sizeof why),
            0);
  ASSERT_STREQ(u.host, "cache.local");
  ASSERT_EQ(u.port, 6379);
  ASSERT_EQ(u.db, 0);
  ASSERT_STREQ(u.password, "");
  ASSERT_EQ(lgw__redis_url_parse("redis://:p%40ss@10.0.0.2:7000/3", &u, why,
                                 sizeof why), 0);
  ASSERT_STREQ(u.host, "10.0.0.2");
  ASSERT_EQ(u.port, 7000);
  ASSERT_EQ(u.db, 3);
  ASSERT_STREQ(u.user, "");
  ASSERT_STREQ(u.password, "p@ss");
  ASSERT_EQ(lgw__redis_url_parse("redis://app:s3cret@[::1]:6380/", &u, why,
                                 sizeof why), 0);
  ASSERT_STREQ(u.host, "::1");
  ASSERT_EQ(u.port, 6380);
  ASSERT_STREQ(u.user, "app");
  ASSERT_STREQ(u.password, "s3cret");
}

#define EXPECT_STATE_ERROR(value, msg)                                      \
  do {                                                                      \
    char e_[1024] = "";                                                     \
    lgw_runtime_t *rt_ = load("settings:\n  state: \"" value "\"\n", e_,    \
                              sizeof e_);                                   \
    ASSERT(rt_ == NULL);                                                    \
    ASSERT_STREQ(e_, msg);                                                  \
  } while (0)

TEST(state_bad_values) {
  EXPECT_STATE_ERROR("memcached://h", "settings.state: expected \"file\" or "
                     "a URL redis://[[user]:password@]host[:port][/db], got "
                     "\"memcached://h\" (c.yaml:2:10)");
  EXPECT_STATE_ERROR("redis://:hunter2@h:0", "settings.state: the port of "
                     "the Redis URL must be 1..65535 (c.yaml:2:10)");
  EXPECT_STATE_ERROR("redis://h:6379/x", "settings.state: the database of "
                     "the Redis URL must be a number (redis://host:port/0) "
                     "(c.yaml:2:10)");
  EXPECT_STATE_ERROR("redis://", "settings.state: the Redis URL has no host "
                     "(c.yaml:2:10)");
  EXPECT_STATE_ERROR("redis://hunter2@h", "settings.state: the user info of "
                     "a Redis URL is user:password or :password "
                     "(c.yaml:2:10)");
  EXPECT_STATE_ERROR("mc://u:hunter2@h", "settings.state: expected \"file\" "
                     "or a URL redis://[[user]:password@]host[:port][/db], "
                     "got a value with user info (c.yaml:2:10)");
}

TEST(state_dump_redacts_the_password) {
  lgw_runtime_t *rt = load("settings:\n  state: redis://:hunter2@h:1/2\n"
                           "  state_prefix: \"app1:\"\n", NULL, 0);
  lgw__node_t *d, *s;
  ASSERT(rt);
  ASSERT_STREQ(rt->state, "redis://:hunter2@h:1/2");
  ASSERT_STREQ(rt->state_prefix, "app1:");
  d = lgw__runtime_dump(rt, 0);
  s = lgw__node_get(d, "settings");
  ASSERT_STREQ(lgw__node_get(s, "state")->str, "redis://:<redacted>@h:1/2");
  ASSERT_STREQ(lgw__node_get(s, "state_prefix")->str, "app1:");
  lgw__node_free(d);
  d = lgw__runtime_dump(rt, 1);
  ASSERT_STREQ(lgw__node_get(lgw__node_get(d, "settings"), "state")->str,
               "redis://:hunter2@h:1/2");
  lgw__node_free(d);
  lgw_runtime_free(rt);
}

/* ---- the connection ---------------------------------------------------------- */

typedef struct conn_t {
  int ups, replies;
  char last[128], err[256];
  long long num;
} conn_t;

static void on_up(lgw__redis_t *r, void *ud) {
  (void)r;
  ((conn_t *)ud)->ups++;
}

static void on_cmd(lgw__redis_t *r, const lgw__rreply_t *reply,
                   const char *err, void *ud) {
  conn_t *c = ud;
  size_t len;
  const char *s = lgw__rr_str(reply, &len);
  (void)r;
  c->replies++;
  snprintf(c->last, sizeof c->last, "%.*s", (int)len, s);
  snprintf(c->err, sizeof c->err, "%s", err ? err : "");
  c->num = lgw__rr_num(reply, -1);
}

static int unreachable_logs, reachable_logs;

static void count_log(lgw_log_level_t level, const char *msg, void *ud) {
  (void)ud;
  if (level > LGW_LOG_WARN) return;
  unreachable_logs += strstr(msg, "is unreachable") != NULL;
  reachable_logs += strstr(msg, "reachable again") != NULL;
}

static lgw__redis_script_t add_script = {
    "return tonumber(ARGV[1]) + tonumber(ARGV[2])", ""};

TEST(redis_commands_scripts_and_reconnect) {
  uv_loop_t loop;
  lgw__redis_t *r = NULL;
  lgw__redis_url_t u;
  lgw__redis_opts_t o;
  conn_t c;
  char why[200];
  const char *set[] = {"SET", "t:k", "v1"}, *get[] = {"GET", "t:k"};
  const char *flush[] = {"SCRIPT", "FLUSH"}, *args[] = {"40", "2"};
  memset(&c, 0, sizeof c);
  memset(&o, 0, sizeof o);
  o.what = "test";
  o.backoff_min = 0.05;
  o.backoff_max = 0.2;
  o.on_up = on_up;
  o.ud = &c;
  uv_loop_init(&loop);
  lgw_set_log(count_log, NULL, LGW_LOG_WARN);
  ASSERT_EQ(lgw__redis_url_parse(srv.url, &u, why, sizeof why), 0);
  ASSERT_EQ(lgw__redis_new(&loop, &u, &o, &r, NULL), 0);
  redis_run_until(&loop, &c.ups, 1, 5);
  ASSERT_EQ(c.ups, 1);
  ASSERT(lgw__redis_ready(r));
  ASSERT_EQ(lgw__redis_cmd(r, 1, on_cmd, &c, NULL, 3, set, NULL), 0);
  ASSERT_EQ(lgw__redis_cmd(r, 1, on_cmd, &c, NULL, 2, get, NULL), 0);
  redis_run_until(&loop, &c.replies, 2, 5);
  ASSERT_STREQ(c.last, "v1");
  ASSERT_STREQ(c.err, "");
  /* EVALSHA of a script the server does not know falls back to EVAL */
  ASSERT_EQ(lgw__redis_cmd(r, 1, on_cmd, &c, NULL, 2, flush, NULL), 0);
  ASSERT_EQ(lgw__redis_eval(r, &add_script, 1, on_cmd, &c, NULL, 0, 2, args,
                            NULL), 0);
  redis_run_until(&loop, &c.replies, 4, 5);
  ASSERT_EQ(c.num, 42);
  ASSERT_STREQ(c.err, "");
  ASSERT_EQ(lgw__redis_eval(r, &add_script, 1, on_cmd, &c, NULL, 0, 2, args,
                            NULL), 0);
  redis_run_until(&loop, &c.replies, 5, 5);
  ASSERT_EQ(c.num, 42);
  /* the server goes away: nothing is sent; it comes back: ready again */
  redis_stop(&srv);
  redis_run_until(&loop, &c.ups, 2, 0.3);
  ASSERT(!lgw__redis_ready(r));
  /* refused at once between attempts, or answered with an error */
  if (lgw__redis_cmd(r, 1, on_cmd, &c, NULL, 2, get, NULL) == 0) {
    redis_run_until(&loop, &c.replies, 6, 5);
    ASSERT_EQ(c.replies, 6);
    ASSERT(c.err[0] != '\0');
    c.replies--;
  }
  ASSERT_EQ(redis_start(&srv, srv.port), 0);
  redis_run_until(&loop, &c.ups, 2, 5);
  ASSERT_EQ(c.ups, 2);
  ASSERT(lgw__redis_ready(r));
  ASSERT_EQ(lgw__redis_cmd(r, 1, on_cmd, &c, NULL, 3, set, NULL), 0);
  redis_run_until(&loop, &c.replies, 6, 5);
  ASSERT_STREQ(c.last, "OK");
  ASSERT_EQ(unreachable_logs, 1);  /* the outage, once */
  ASSERT_EQ(reachable_logs, 1);
  unreachable_logs = reachable_logs = 0;
  lgw_set_log(NULL, NULL, LGW_LOG_WARN);
  lgw__redis_free(r);
  uv_run(&loop, UV_RUN_DEFAULT);
  ASSERT_EQ(uv_loop_close(&loop), 0);
}

/* ---- two processes share a preferred provider and a breaker ------------------ */

static int share_breaker_k;
static const char *share_prefix;

/* First process: #1 fails (2 connect errors), #2 answers. */
static void share_first(int arg, int fd) {
  lgw_runtime_t *rt = two_providers(share_prefix, share_breaker_k, 0);
  lgw_gateway_t *gw = gateway(rt);
  out_t o;
  (void)arg;
  if (!gw) _exit(2);
  spin(gw, 0.3);
  o = call(gw, "one");
  spin(gw, 0.3);  /* the fire-and-forget writes leave */
  say(fd, "%d %d %zu %d\n", o.status, o.provider_index, o.natt,
      lgw_gateway_breaker_state(gw, 0));
  lgw_gateway_free(gw);
  lgw_runtime_free(rt);
}

/* Second process: reads the shared state, then calls once. */
static void share_second(int arg, int fd) {
  lgw_runtime_t *rt = two_providers(share_prefix, share_breaker_k, 0);
  lgw_gateway_t *gw = gateway(rt);
  int breaker;
  out_t o;
  (void)arg;
  if (!gw) _exit(2);
  spin(gw, 0.5);
  breaker = lgw_gateway_breaker_state(gw, 0);
  o = call(gw, "two");
  say(fd, "%d %d %d %zu %s\n", breaker, o.status, o.provider_index, o.natt,
      o.text);
  lgw_gateway_free(gw);
  lgw_runtime_free(rt);
}

/* The two children's exit statuses, 0 when both exited 0 (under valgrind,
 * a child's memory errors and leaks make it exit non-zero). */
static int run_pair(char *first, char *second, size_t cap) {
  int fds[2], st;
  pid_t pid = child(share_first, 0, fds);
  st = child_wait(pid, fds[0], first, cap);
  pid = child(share_second, 0, fds);
  return st * 1000 + child_wait(pid, fds[0], second, cap);
}

TEST(two_processes_share_the_preferred_provider) {
  char first[256], second[256], cmd[256], *stored;
  lgw_runtime_t *rt;
  share_breaker_k = 0;  /* breakers off: only the preferred provider */
  share_prefix = "pref:";
  ASSERT_EQ(run_pair(first, second, sizeof first), 0);
  ASSERT_STREQ(first, "0 2 3 0\n");   /* two refused attempts, then #2 */
  ASSERT_STREQ(second, "0 0 2 1 echo(m1): two\n");  /* #2 first: one */
  rt = two_providers("pref:", 0, 0);
  ASSERT(rt);
  snprintf(cmd, sizeof cmd, "HGET pref:preferred_by_config %s",
           rt->config_key);
  stored = redis_cli(&srv, cmd);
  ASSERT_STREQ(stored, rt->providers[1].key);
  free(stored);
  lgw_runtime_free(rt);
}

TEST(two_processes_share_a_breaker) {
  char first[256], second[256];
  share_breaker_k = 2;
  share_prefix = "brk:";
  ASSERT_EQ(run_pair(first, second, sizeof first), 0);
  ASSERT_STREQ(first, "0 2 3 1\n");   /* #1's two failures opened it */
  /* the second process sees it open (state 1) and skips #1 */
  ASSERT_STREQ(second, "1 0 2 1 echo(m1): two\n");
}

/* ---- an rpm limit shared by four processes -------------------------------------- */

#define RPM_PROCS 4
#define RPM_EACH 10
#define RPM 600  /* 10 per second, a bucket of 10 */

static int go_pipe[2];

/* The waits of a worker's requests, by request id. */
typedef struct rpm_waits {
  uint64_t id[RPM_EACH];
  double wait[RPM_EACH];
} rpm_waits_t;

static void rpm_on_sleep(void *ud, uint64_t id, double seconds) {
  rpm_waits_t *w = ud;
  int i;
  for (i = 0; i < RPM_EACH; i++)
    if (w->id[i] == id) w->wait[i] += seconds;
}

/* Prints "T<ms before submitting>", then " <status>:<done ms>:<wait s>"
 * per request. */
static void rpm_worker(int arg, int fd) {
  char y[1024], go;
  lgw_runtime_t *rt;
  lgw_gateway_t *gw;
  lgw_message_t m = {"user", "x"};
  lgw_request_t r;
  out_t o[RPM_EACH];
  rpm_waits_t w;
  int i;
  (void)arg;
  snprintf(y, sizeof y,
           "settings:\n  fallback_model: m1\n  state: \"%s\"\n"
           "  state_prefix: \"rpm:\"\n  max_concurrent: 50\n"
           "providers:\n  - provider_type: openai\n"
           "    api_style: openai_chat\n    base_url: \"%s\"\n"
           "    api_key: k\n    rpm: %d\n", srv.url, sim.base, RPM);
  rt = load(y, NULL, 0);
  gw = gateway(rt);
  if (!gw) _exit(2);
  spin(gw, 0.3);
  memset(&w, 0, sizeof w);
  gw->on_sleep = rpm_on_sleep;
  gw->on_sleep_ud = &w;
  memset(&r, 0, sizeof r);
  r.task = "t";
  r.messages = &m;
  r.nmessages = 1;
  say(fd, "R");
  if (read(go_pipe[0], &go, 1) != 1) _exit(3);
  say(fd, "T%.1f", lgw__now_ms());
  for (i = 0; i < RPM_EACH; i++) {
    memset(&o[i], 0, sizeof o[i]);
    o[i].status = 1;
    lgw_gateway_submit(gw, &r, on_done, &o[i], &w.id[i], NULL);
  }
  lgw_gateway_run(gw);
  for (i = 0; i < RPM_EACH; i++)
    say(fd, " %d:%.1f:%.3f", o[i].status, o[i].done_ms, w.wait[i]);
  lgw_gateway_free(gw);
  lgw_runtime_free(rt);
}

TEST(rpm_is_shared_by_four_processes) {
  pid_t pids[RPM_PROCS];
  int fds[RPM_PROCS][2], i, n = 0, bad = 0, ready = 0, at_once = 0;
  char buf[RPM_PROCS][2048], *p, *end;
  double first_submit = 0, last_done = 0, longest = 0;
  ASSERT_EQ(pipe(go_pipe), 0);
  ASSERT_EQ(sim_reset(&sim), 0);
  for (i = 0; i < RPM_PROCS; i++) pids[i] = child(rpm_worker, i, fds[i]);
  close(go_pipe[0]);
  for (i = 0; i < RPM_PROCS; i++) {
    char r;
    ready += read(fds[i][0], &r, 1) == 1 && r == 'R';
  }
  ASSERT_EQ(ready, RPM_PROCS);
  for (i = 0; i < RPM_PROCS; i++) (void)!write(go_pipe[1], "g", 1);
  close(go_pipe[1]);
  for (i = 0; i < RPM_PROCS; i++) {
    double t;
    ASSERT_EQ(child_wait(pids[i], fds[i][0], buf[i], sizeof buf[i]), 0);
    ASSERT_EQ(buf[i][0], 'T');
    t = strtod(buf[i] + 1, NULL);
    if (i == 0 || t < first_submit) first_submit = t;
    for (p = buf[i]; (p = strchr(p, ' ')) != NULL;) {
      long st = strtol(p + 1, &end, 10);
      double done, wait;
      if (*end != ':') break;
      done = strtod(end + 1, &end);
      if (*end != ':') break;
      wait = strtod(end + 1, &p);
      bad += st != 0;
      n++;
      at_once += wait == 0;
      if (wait > longest) longest = wait;
      if (done > last_done) last_done = done;
    }
  }
  ASSERT_EQ(n, RPM_PROCS * RPM_EACH);
  ASSERT_EQ(bad, 0);
  ASSERT_EQ(sim_stat(&sim, "requests"), RPM_PROCS * RPM_EACH);
  /* One bucket of 10 for all four (each with its own would let all 40 go
   * at once), plus what refills while the 40 are reserved. */
  if (at_once > 25) TEST__FAIL("%d of 40 requests went without waiting",
                               at_once);
  /* the last one waits for 30 tokens at 10 per second, less the refill */
  if (longest < 1.0) TEST__FAIL("the longest wait was %.3f s", longest);
  /* after a burst of 10, 30 more at 10 per second: 3 s (less rounding
   * and the few ms by which the loop's clock may lag) */
  if (last_done - first_submit < 2900.0)
    TEST__FAIL("40 requests took only %.0f ms", last_done - first_submit);
}

/* ---- calls in flight when the gateway goes away ---------------------------------- */

/* One provider (the simulator) with rpm, its limits on Redis. */
static lgw_runtime_t *one_limited(const char *prefix) {
  char y[1024];
  snprintf(y, sizeof y,
           "settings:\n  fallback_model: m1\n  state: \"%s\"\n"
           "  state_prefix: \"%s\"\n"
           "providers:\n  - provider_type: openai\n"
           "    api_style: openai_chat\n    base_url: \"%s\"\n"
           "    api_key: k\n    rpm: 600\n", srv.url, prefix, sim.base);
  return load(y, NULL, 0);
}

static void on_check_up(uv_check_t *c) {
  lgw_gateway_t *gw = c->data;
  if (lgw__rstate_ready(gw->rs)) uv_stop(c->loop);
}

/* Run the loop until the shared state is connected: its first read has
 * just been sent. */
static void until_up(lgw_gateway_t *gw) {
  uv_check_t c;
  uv_check_init(lgw_gateway_loop(gw), &c);
  c.data = gw;
  uv_check_start(&c, on_check_up);
  uv_run(lgw_gateway_loop(gw), UV_RUN_DEFAULT);
  uv_close((uv_handle_t *)&c, NULL);
  uv_run(lgw_gateway_loop(gw), UV_RUN_NOWAIT);
}

/* Freed with the read in flight, then with a request canceled while its
 * reservation was on the server: nothing leaks (under valgrind or
 * LeakSanitizer). */
TEST(free_with_redis_calls_in_flight) {
  lgw_runtime_t *rt = one_limited("inflight:");
  lgw_gateway_t *gw = gateway(rt);
  out_t o;
  uint64_t id;
  lgw_message_t m = {"user", "x"};
  lgw_request_t r;
  ASSERT(gw != NULL);
  until_up(gw);
  ASSERT_EQ(lgw__rstate_ready(gw->rs), 1);
  lgw_gateway_free(gw);
  gw = gateway(rt);
  ASSERT(gw != NULL);
  until_up(gw);
  memset(&r, 0, sizeof r);
  r.task = "t";
  r.messages = &m;
  r.nmessages = 1;
  memset(&o, 0, sizeof o);
  ASSERT_EQ(lgw_gateway_submit(gw, &r, on_done, &o, &id, NULL), 0);
  ASSERT_EQ(lgw_gateway_cancel(gw, id), 0);
  ASSERT_EQ(lgw_gateway_run(gw), 0);
  ASSERT_EQ(o.status, LGW_ECANCELED);
  lgw_gateway_free(gw);
  lgw_runtime_free(rt);
}

/* ---- Redis goes away mid-run ---------------------------------------------------- */

TEST(redis_outage_falls_back_to_local_state) {
  lgw_runtime_t *rt = two_providers("out:", 0, 60000);
  lgw_gateway_t *gw = gateway(rt);
  char cmd[256], *stored = NULL;
  int i, ok = 0, second = 0;
  out_t o;
  ASSERT(gw);
  lgw_set_log(count_log, NULL, LGW_LOG_WARN);
  spin(gw, 0.3);
  o = call(gw, "before");
  ASSERT_EQ(o.status, 0);
  ASSERT_EQ(o.provider_index, 2);
  snprintf(cmd, sizeof cmd, "HGET out:preferred_by_config %s",
           rt->config_key);
  spin(gw, 0.2);
  stored = redis_cli(&srv, cmd);
  ASSERT_STREQ(stored, rt->providers[1].key);
  free(stored);
  stored = NULL;
  /* the store goes away: every request still succeeds, on #2 at once */
  redis_stop(&srv);
  for (i = 0; i < 20; i++) {
    o = call(gw, "during");
    ok += o.status == 0;
    second += o.provider_index == 2 && o.natt == 1;
  }
  ASSERT_EQ(ok, 20);
  ASSERT_EQ(second, 20);
  ASSERT_EQ(unreachable_logs, 1);
  /* it comes back empty: the gateway writes its winner again */
  ASSERT_EQ(redis_start(&srv, srv.port), 0);
  for (i = 0; i < 60 && !(stored && strcmp(stored,
                                           rt->providers[1].key) == 0); i++) {
    free(stored);
    spin(gw, 0.2);
    stored = redis_cli(&srv, cmd);
  }
  ASSERT_STREQ(stored, rt->providers[1].key);
  free(stored);
  ASSERT_EQ(reachable_logs, 1);
  /* and the rate limit is shared again */
  o = call(gw, "after");
  ASSERT_EQ(o.status, 0);
  snprintf(cmd, sizeof cmd, "EXISTS out:rpm:%s", rt->providers[1].key);
  ASSERT_EQ(redis_cli_num(&srv, cmd), 1);
  lgw_set_log(NULL, NULL, LGW_LOG_WARN);
  lgw_gateway_free(gw);
  lgw_runtime_free(rt);
}

int main(void) {
  signal(SIGPIPE, SIG_IGN);
  RUN(state_default_is_the_file);
  RUN(state_redis_url_parsed);
  RUN(state_bad_values);
  RUN(state_dump_redacts_the_password);
  if (!redis_installed())
    SKIP_REST("redis-server is not installed");
  else if (redis_start(&srv, 0) != 0 || sim_start(&sim, NULL) != 0)
    FAIL_REST("cannot start redis-server or the simulator");
  RUN(redis_commands_scripts_and_reconnect);
  RUN(two_processes_share_the_preferred_provider);
  RUN(two_processes_share_a_breaker);
  RUN(rpm_is_shared_by_four_processes);
  RUN(free_with_redis_calls_in_flight);
  RUN(redis_outage_falls_back_to_local_state);
  redis_stop(&srv);
  sim_stop(&sim);
  return TEST_SUMMARY();
}
