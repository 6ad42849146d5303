/*
 * test_state_write.c -- the provider-state file is written on the thread
 * pool: a write held back (the test's write hook waits until released)
 * delays no answer; a winner that changes meanwhile is written after it,
 * never before; freeing the gateway lets both finish, and the file ends
 * merged: the other config's entry kept, this one's the last winner. A
 * write that fails is warned about from the loop thread, not the pool's.
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "config.h"
#include "gateway_priv.h"
#include "gw_support.h"
#include "provider_state.h"
#include "sim_support.h"
#include "test.h"

static sim_t sim;

/* ---- the write hook: each write waits until released --------------------- */

static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t cv = PTHREAD_COND_INITIALIZER;
static int released, entered, finished;
static char written[4][65];

static void held_remember(const char *path, const char *config_key,
                          const char *provider_key) {
  pthread_mutex_lock(&mu);
  if (entered < 4) snprintf(written[entered], sizeof written[0], "%s",
                            provider_key);
  entered++;
  while (!released) pthread_cond_wait(&cv, &mu);
  pthread_mutex_unlock(&mu);
  lgw__state_remember(path, config_key, provider_key);
  pthread_mutex_lock(&mu);
  finished++;
  pthread_mutex_unlock(&mu);
}

static int get(const int *v) {
  int n;
  pthread_mutex_lock(&mu);
  n = *v;
  pthread_mutex_unlock(&mu);
  return n;
}

/* Up to 5 s for the pool thread to reach the hook. */
static void wait_entered(int n) {
  int i;
  for (i = 0; i < 500 && get(&entered) < n; i++) usleep(10000);
}

/* ---- requests ------------------------------------------------------------ */

typedef struct seen {
  int calls, status, provider_index;
  int finished_then;  /* writes finished when the answer came */
} seen_t;

static void on_done(lgw_gateway_t *gw, uint64_t id, int status,
                    const lgw_result_t *res, const lgw_error_t *err,
                    void *ud) {
  seen_t *s = ud;
  (void)gw;
  (void)id;
  (void)err;
  s->calls++;
  s->status = status;
  s->provider_index = res->provider_index;
  s->finished_then = get(&finished);
}

/* content's "@sim" line fails the first attempt carrying it. */
static int ask(lgw_gateway_t *gw, const char *content, seen_t *s) {
  lgw_request_t r;
  lgw_message_t m;
  memset(&r, 0, sizeof r);
  memset(s, 0, sizeof *s);
  m.role = "user";
  m.content = content;
  r.task = "t";
  r.messages = &m;
  r.nmessages = 1;
  if (lgw_gateway_submit(gw, &r, on_done, s, NULL, NULL)) return -1;
  return lgw_gateway_run(gw);
}

static char *slurp(const char *path) {
  FILE *f = fopen(path, "r");
  char *b = calloc(1, 8192);
  if (f) {
    size_t n = fread(b, 1, 8191, f);
    b[n] = '\0';
    fclose(f);
  }
  return b;
}

#define PROV(key)                                                        \
  "  - provider_type: openai\n    api_style: openai_chat\n"              \
  "    base_url: \"%s\"\n    api_key: " key "\n"

TEST(answer_before_write_ordered_merged) {
  char dir[] = "/tmp/lgw-state-write-XXXXXX", path[256], want[1024], *body;
  lgw_runtime_t *rt;
  lgw_gateway_options_t op;
  lgw_gateway_t *gw;
  seen_t a, b;
  FILE *f;
  ASSERT(mkdtemp(dir) != NULL);
  snprintf(path, sizeof path, "%s/provider-state.json", dir);
  f = fopen(path, "w");
  ASSERT(f != NULL);
  fputs("{\"preferred_by_config\": {\"other-config\": \"other-provider\"}}\n",
        f);
  fclose(f);
  rt = gws_load(GWS_SETTINGS("") "providers:\n" PROV("k1") PROV("k2"),
                sim.base, sim.base);
  ASSERT(rt != NULL);
  memset(&op, 0, sizeof op);
  op.state_file = path;
  op.seed = 5;
  ASSERT_EQ(lgw_gateway_new(rt, &op, &gw, NULL), 0);
  gw->state_remember = held_remember;

  /* provider 1 fails (401, no retry): provider 2 answers, and its write
   * is held */
  ASSERT_EQ(ask(gw, "@sim status=401 times=1 id=first\nhi", &a), 0);
  ASSERT_EQ(a.calls, 1);
  ASSERT_EQ(a.status, 0);
  ASSERT_EQ(a.provider_index, 2);
  ASSERT_EQ(a.finished_then, 0);
  wait_entered(1);
  ASSERT_EQ(get(&entered), 1);
  ASSERT_STREQ(written[0], rt->providers[1].key);
  ASSERT_EQ(get(&finished), 0);

  /* provider 2 (now first) fails: provider 1 answers while the first
   * write is still held; its own write waits for that one */
  ASSERT_EQ(ask(gw, "@sim status=401 times=1 id=second\nhi", &b), 0);
  ASSERT_EQ(b.calls, 1);
  ASSERT_EQ(b.status, 0);
  ASSERT_EQ(b.provider_index, 1);
  ASSERT_EQ(b.finished_then, 0);
  ASSERT_EQ(get(&entered), 1);
  body = slurp(path);
  ASSERT_NOT_CONTAINS(body, rt->providers[1].key);  /* nothing written */
  free(body);

  /* released: the free waits for both writes, in order */
  pthread_mutex_lock(&mu);
  released = 1;
  pthread_cond_broadcast(&cv);
  pthread_mutex_unlock(&mu);
  lgw_gateway_free(gw);
  ASSERT_EQ(get(&finished), 2);
  ASSERT_STREQ(written[0], rt->providers[1].key);
  ASSERT_STREQ(written[1], rt->providers[0].key);
  snprintf(want, sizeof want,
           "{\n  \"preferred_by_config\": {\n    \"%s\": \"%s\",\n"
           "    \"other-config\": \"other-provider\"\n  }\n}\n",
           rt->config_key, rt->providers[0].key);
  body = slurp(path);
  ASSERT_STREQ(body, want);
  free(body);
  lgw_runtime_free(rt);
  unlink(path);
  snprintf(path, sizeof path, "%s/provider-state.json.lock", dir);
  unlink(path);
  rmdir(dir);
}

/* ---- a write that fails: its warning comes from the loop thread ----------- */

static pthread_t main_thread;
static int nwarn, off_thread;
static char warn_msg[1024];

static void record_log(lgw_log_level_t level, const char *msg, void *ud) {
  (void)ud;
  if (level != LGW_LOG_WARN) return;
  if (!pthread_equal(pthread_self(), main_thread)) off_thread++;
  nwarn++;
  snprintf(warn_msg, sizeof warn_msg, "%s", msg);
}

TEST(failed_write_warns_from_loop) {
  char dir[] = "/tmp/lgw-state-write-XXXXXX", lock[300], path[256];
  char want[1024];
  lgw_runtime_t *rt;
  lgw_gateway_options_t op;
  lgw_gateway_t *gw;
  seen_t a;
  ASSERT(mkdtemp(dir) != NULL);
  snprintf(path, sizeof path, "%s/state.json", dir);
  snprintf(lock, sizeof lock, "%s.lock", path);
  ASSERT_EQ(mkdir(lock, 0700), 0);  /* the lock cannot be taken */
  rt = gws_load(GWS_SETTINGS("") "providers:\n" PROV("k1"), sim.base);
  ASSERT(rt != NULL);
  memset(&op, 0, sizeof op);
  op.state_file = path;
  main_thread = pthread_self();
  nwarn = off_thread = 0;
  lgw_set_log(record_log, NULL, LGW_LOG_WARN);
  ASSERT_EQ(lgw_gateway_new(rt, &op, &gw, NULL), 0);
  ASSERT_EQ(ask(gw, "hi", &a), 0);
  ASSERT_EQ(a.status, 0);
  lgw_gateway_free(gw);
  lgw_set_log(gws_quiet_log, NULL, LGW_LOG_DEBUG);
  ASSERT_EQ(nwarn, 1);
  ASSERT_EQ(off_thread, 0);
  snprintf(want, sizeof want, "cannot remember the preferred provider: "
           "cannot lock provider state file %s: Is a directory", path);
  ASSERT_STREQ(warn_msg, want);
  lgw_runtime_free(rt);
  rmdir(lock);
  rmdir(dir);
}

int main(void) {
  lgw_set_log(gws_quiet_log, NULL, LGW_LOG_DEBUG);
  if (sim_start(&sim, NULL) != 0) {
    fprintf(stderr, "simulator did not start\n");
    printf("RESULT 0 1\n");
    return 1;
  }
  RUN(answer_before_write_ordered_merged);
  RUN(failed_write_warns_from_loop);
  sim_stop(&sim);
  return TEST_SUMMARY();
}
