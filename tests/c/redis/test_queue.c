/*
 * test_queue.c -- the work queue on a real redis-server (loopback, started
 * and stopped here): push, consume, results and waiting, dead letters,
 * redelivery after the visibility timeout, one outcome per job however
 * often it ran, and four worker processes draining 2,000 jobs through the
 * gateway and the simulator while one of them is killed with SIGKILL.
 */
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>
#include <uv.h>

#include "queue.h"
#include "redis_support.h"
#include "sim_support.h"
#include "test.h"
#include "util.h"

#define NJOBS 2000
#define NWORKERS 4

static sim_t sim;
static redis_srv_t srv;

/* ---- helpers ---------------------------------------------------------------- */

static lgw_queue_t *open_q(uv_loop_t *loop, const char *name,
                           double visibility, int max_deliveries) {
  lgw_queue_t *q = NULL;
  lgw_queue_options_t o;
  memset(&o, 0, sizeof o);
  o.visibility_timeout = visibility;
  o.max_deliveries = max_deliveries;
  o.block = 0.2;
  if (lgw_queue_open(loop, srv.url, name, &o, &q, NULL)) return NULL;
  return q;
}

static void close_q(uv_loop_t *loop, lgw_queue_t *q) {
  lgw_queue_free(q);
  uv_run(loop, UV_RUN_DEFAULT);
}

typedef struct got {
  int n, ok, status;
  char body[256];
} got_t;

static void on_result(lgw_queue_t *q, int status, const char *id, int ok,
                      const char *body, size_t len, void *ud) {
  got_t *g = ud;
  (void)q;
  (void)id;
  g->status = status;
  g->ok = ok;
  snprintf(g->body, sizeof g->body, "%.*s", (int)len, body);
  g->n++;
}

typedef struct stats_out {
  int n, status;
  lgw_queue_stats_t st;
} stats_out_t;

static void on_stats(lgw_queue_t *q, int status, const lgw_queue_stats_t *st,
                     void *ud) {
  stats_out_t *o = ud;
  (void)q;
  o->status = status;
  if (st) o->st = *st;
  o->n++;
}

static lgw_queue_stats_t stats_of(uv_loop_t *loop, lgw_queue_t *q) {
  stats_out_t o;
  memset(&o, 0, sizeof o);
  o.status = -1;
  if (lgw_queue_stats(q, on_stats, &o, NULL) == 0)
    redis_run_until(loop, &o.n, 1, 5);
  return o.st;
}

/* A handler driven by the payload: "ok ..." done, "bad" failed, "retry"
 * retried, "hold" kept (the test finishes it). */
typedef struct handled {
  int n, deliveries[8];
  lgw_job_t *held;
  char last_id[40];
} handled_t;

static void handler(lgw_queue_t *q, lgw_job_t *job, const char *id,
                    const char *payload, size_t len, int delivery,
                    void *ud) {
  handled_t *h = ud;
  char out[128];
  (void)q;
  if (h->n < 8) h->deliveries[h->n] = delivery;
  h->n++;
  snprintf(h->last_id, sizeof h->last_id, "%s", id);
  if (strncmp(payload, "ok", 2) == 0) {
    snprintf(out, sizeof out, "result of %.*s", (int)len, payload);
    lgw_queue_finish(job, LGW_JOB_DONE, out, strlen(out));
  } else if (strcmp(payload, "bad") == 0) {
    lgw_queue_finish(job, LGW_JOB_FAILED, "bad input", 9);
  } else if (strcmp(payload, "retry") == 0) {
    lgw_queue_finish(job, LGW_JOB_RETRY, NULL, 0);
  } else {
    h->held = job;
  }
}

static int push(lgw_queue_t *q, const char *payload, char id[33]) {
  return lgw_queue_push(q, payload, strlen(payload), id, NULL, NULL, NULL);
}

/* ---- one process -------------------------------------------------------------- */

TEST(push_consume_wait_and_stats) {
  uv_loop_t loop;
  lgw_queue_t *q;
  handled_t h;
  got_t g[3], bad;
  char id[3][33], bad_id[33], *dead;
  lgw_queue_stats_t st;
  int i, all = 0;
  memset(&h, 0, sizeof h);
  memset(g, 0, sizeof g);
  memset(&bad, 0, sizeof bad);
  uv_loop_init(&loop);
  q = open_q(&loop, "basic", 5, 3);
  ASSERT(q);
  ASSERT_EQ(push(q, "ok 1", id[0]), 0);
  ASSERT_EQ(strlen(id[0]), 32);
  ASSERT_EQ(push(q, "ok 2", id[1]), 0);
  ASSERT_EQ(push(q, "ok 3", id[2]), 0);
  ASSERT_EQ(push(q, "bad", bad_id), 0);
  ASSERT(strcmp(id[0], id[1]) != 0);
  st = stats_of(&loop, q);
  ASSERT_EQ(st.length, 4);
  ASSERT_EQ(st.in_flight, 0);
  ASSERT_EQ(st.done, 0);
  ASSERT_EQ(lgw_queue_consume(q, "c1", handler, &h, NULL), 0);
  for (i = 0; i < 3; i++)
    ASSERT_EQ(lgw_queue_wait(q, id[i], 5, on_result, &g[i], NULL), 0);
  ASSERT_EQ(lgw_queue_wait(q, bad_id, 5, on_result, &bad, NULL), 0);
  redis_run_until(&loop, &bad.n, 1, 5);
  redis_run_until(&loop, &g[2].n, 1, 5);
  for (i = 0; i < 3; i++) all += g[i].n == 1 && g[i].status == 0 && g[i].ok;
  ASSERT_EQ(all, 3);
  ASSERT_STREQ(g[0].body, "result of ok 1");
  ASSERT_STREQ(g[2].body, "result of ok 3");
  ASSERT_EQ(bad.status, 0);
  ASSERT_EQ(bad.ok, 0);
  ASSERT_STREQ(bad.body, "bad input");
  ASSERT_EQ(h.n, 4);
  ASSERT_EQ(h.deliveries[0], 1);
  st = stats_of(&loop, q);
  ASSERT_EQ(st.length, 0);
  ASSERT_EQ(st.in_flight, 0);
  ASSERT_EQ(st.done, 3);
  ASSERT_EQ(st.failed, 1);
  ASSERT_EQ(st.duplicates, 0);
  /* outcomes per second over the last 10 whole seconds: 4 in all */
  usleep(1100000);
  st = stats_of(&loop, q);
  ASSERT_DEQ(st.rate, 0.4);
  ASSERT_EQ(redis_cli_num(&srv, "XLEN llmgateway:queue:basic:dead"), 1);
  dead = redis_cli(&srv, "XRANGE llmgateway:queue:basic:dead - +");
  ASSERT_CONTAINS(dead, "error\nbad input\npayload\nbad\ndeliveries\n1");
  free(dead);
  close_q(&loop, q);
  ASSERT_EQ(uv_loop_close(&loop), 0);
}

TEST(wait_times_out_and_results_lists_everything) {
  uv_loop_t loop;
  lgw_queue_t *q;
  got_t g;
  uv_loop_init(&loop);
  q = open_q(&loop, "basic", 5, 3);
  ASSERT(q);
  memset(&g, 0, sizeof g);
  ASSERT_EQ(lgw_queue_wait(q, "nope", 0.3, on_result, &g, NULL), 0);
  redis_run_until(&loop, &g.n, 1, 5);
  ASSERT_EQ(g.status, LGW_ETIMEOUT);
  memset(&g, 0, sizeof g);
  ASSERT_EQ(lgw_queue_results(q, on_result, &g, NULL), 0);
  redis_run_until(&loop, &g.status, 100, 0.5);
  ASSERT_EQ(g.n, 5);  /* 3 results, 1 error, the end */
  ASSERT_EQ(g.status, 0);
  close_q(&loop, q);
  ASSERT_EQ(uv_loop_close(&loop), 0);
}

TEST(retried_jobs_come_back_then_go_to_the_dead_letters) {
  uv_loop_t loop;
  lgw_queue_t *q;
  handled_t h;
  got_t g;
  char id[33];
  memset(&h, 0, sizeof h);
  memset(&g, 0, sizeof g);
  uv_loop_init(&loop);
  q = open_q(&loop, "retry", 0.2, 2);
  ASSERT(q);
  ASSERT_EQ(push(q, "retry", id), 0);
  ASSERT_EQ(lgw_queue_consume(q, "c1", handler, &h, NULL), 0);
  ASSERT_EQ(lgw_queue_wait(q, id, 10, on_result, &g, NULL), 0);
  redis_run_until(&loop, &g.n, 1, 10);
  ASSERT_EQ(h.n, 2);
  ASSERT_EQ(h.deliveries[0], 1);
  ASSERT_EQ(h.deliveries[1], 2);
  ASSERT_EQ(g.status, 0);
  ASSERT_EQ(g.ok, 0);
  ASSERT_STREQ(g.body, "delivered 3 times without an outcome "
                       "(max_deliveries 2)");
  close_q(&loop, q);
  ASSERT_EQ(uv_loop_close(&loop), 0);
}

/* Warnings of the engine, collected. */
static char logged[4096];

static void collect_log(lgw_log_level_t level, const char *msg, void *ud) {
  size_t n = strlen(logged);
  (void)level;
  (void)ud;
  snprintf(logged + n, sizeof logged - n, "%s\n", msg);
}

static void on_sleep_done(uv_timer_t *t) { *(int *)t->data = 1; }

TEST(entries_without_an_id_and_outcome_warnings) {
  uv_loop_t loop;
  lgw_queue_t *q;
  handled_t h;
  got_t g;
  char *entry, *stored, cmd[128];
  memset(&h, 0, sizeof h);
  memset(&g, 0, sizeof g);
  logged[0] = '\0';
  lgw_set_log(collect_log, NULL, LGW_LOG_WARN);
  uv_loop_init(&loop);
  q = open_q(&loop, "noid", 30, 3);
  ASSERT(q);
  /* pushed by another producer: no id field */
  entry = redis_cli(&srv, "XADD llmgateway:queue:noid '*' payload okx");
  ASSERT(entry);
  entry[strcspn(entry, "\n")] = '\0';
  ASSERT(strchr(entry, '-') != NULL);
  ASSERT_EQ(lgw_queue_consume(q, "c1", handler, &h, NULL), 0);
  ASSERT_EQ(lgw_queue_wait(q, entry, 5, on_result, &g, NULL), 0);
  redis_run_until(&loop, &g.n, 1, 5);
  ASSERT_EQ(h.n, 1);
  ASSERT_STREQ(h.last_id, entry);
  ASSERT_EQ(g.ok, 1);
  ASSERT_STREQ(g.body, "result of okx");
  ASSERT_EQ(redis_cli_num(&srv, "HLEN llmgateway:queue:noid:results"), 1);
  /* A write that times out (the server is busy for longer than the
   * command timeout) but is done all the same: no warning. */
  memset(&h, 0, sizeof h);
  memset(&g, 0, sizeof g);
  {
    char id[33];
    uv_timer_t t;
    int slept = 0;
    ASSERT_EQ(push(q, "hold", id), 0);
    redis_run_until(&loop, &h.n, 1, 5);
    ASSERT(h.held != NULL);
    snprintf(cmd, sizeof cmd, "redis-cli -p %d DEBUG SLEEP 6 >/dev/null "
             "2>&1 &", srv.port);
    ASSERT_EQ(system(cmd), 0);
    usleep(300000);
    lgw_queue_finish(h.held, LGW_JOB_DONE, "late", 4);
    uv_timer_init(&loop, &t);
    t.data = &slept;
    uv_timer_start(&t, on_sleep_done, 9000, 0);
    redis_run_until(&loop, &slept, 1, 12);
    uv_close((uv_handle_t *)&t, NULL);
    snprintf(cmd, sizeof cmd, "HGET llmgateway:queue:noid:results %s", id);
    stored = redis_cli(&srv, cmd);
    ASSERT(stored);
    ASSERT_STREQ(stored, "late");
    free(stored);
  }
  ASSERT_NOT_CONTAINS(logged, "was not written");
  close_q(&loop, q);
  ASSERT_EQ(uv_loop_close(&loop), 0);
  lgw_set_log(NULL, NULL, LGW_LOG_WARN);
  free(entry);
}

TEST(a_job_run_twice_keeps_its_first_outcome) {
  uv_loop_t loop;
  lgw_queue_t *slow, *fast;
  handled_t hs, hf;
  got_t g;
  char id[33];
  lgw_queue_stats_t st;
  memset(&hs, 0, sizeof hs);
  memset(&hf, 0, sizeof hf);
  memset(&g, 0, sizeof g);
  uv_loop_init(&loop);
  slow = open_q(&loop, "twice", 0.3, 5);
  fast = open_q(&loop, "twice", 0.3, 5);
  ASSERT(slow && fast);
  ASSERT_EQ(push(slow, "hold", id), 0);
  ASSERT_EQ(lgw_queue_consume(slow, "slow", handler, &hs, NULL), 0);
  redis_run_until(&loop, &hs.n, 1, 5);
  ASSERT(hs.held);
  /* the slow one stops consuming (so it no longer keeps its job) but still
   * works on it: after the visibility timeout the fast one claims it */
  lgw_queue_stop(slow);
  ASSERT_EQ(lgw_queue_consume(fast, "fast", handler, &hf, NULL), 0);
  redis_run_until(&loop, &hf.n, 1, 5);
  ASSERT_EQ(hf.n, 1);
  ASSERT_EQ(hf.deliveries[0], 2);
  ASSERT(hf.held);
  ASSERT_EQ(lgw_queue_finish(hf.held, LGW_JOB_DONE, "second", 6), 0);
  ASSERT_EQ(lgw_queue_wait(fast, id, 5, on_result, &g, NULL), 0);
  redis_run_until(&loop, &g.n, 1, 5);
  ASSERT_STREQ(g.body, "second");
  /* the late outcome of the first run changes nothing */
  ASSERT_EQ(lgw_queue_finish(hs.held, LGW_JOB_DONE, "first", 5), 0);
  redis_run_until(&loop, &g.n, 2, 0.3);
  memset(&g, 0, sizeof g);
  ASSERT_EQ(lgw_queue_wait(fast, id, 5, on_result, &g, NULL), 0);
  redis_run_until(&loop, &g.n, 1, 5);
  ASSERT_STREQ(g.body, "second");
  st = stats_of(&loop, fast);
  ASSERT_EQ(st.done, 1);
  ASSERT_EQ(st.duplicates, 1);
  ASSERT_EQ(st.in_flight, 0);
  lgw_queue_free(slow);
  close_q(&loop, fast);
  ASSERT_EQ(uv_loop_close(&loop), 0);
}

/* ---- four worker processes, one killed ---------------------------------------- */

typedef struct worker {
  lgw_gateway_t *gw;
} worker_t;

static void on_answer(lgw_gateway_t *gw, uint64_t id, int status,
                      const lgw_result_t *res, const lgw_error_t *err,
                      void *ud) {
  (void)gw;
  (void)id;
  (void)err;
  if (status == 0)
    lgw_queue_finish(ud, LGW_JOB_DONE, res->text, res->text_len);
  else
    lgw_queue_finish(ud, LGW_JOB_RETRY, NULL, 0);
}

/* A job: the payload is the prompt; the answer is the result. */
static void work(lgw_queue_t *q, lgw_job_t *job, const char *id,
                 const char *payload, size_t len, int delivery, void *ud) {
  worker_t *w = ud;
  lgw_message_t m = {"user", payload};
  lgw_request_t r;
  (void)q;
  (void)id;
  (void)len;
  (void)delivery;
  memset(&r, 0, sizeof r);
  r.task = "t";
  r.messages = &m;
  r.nmessages = 1;
  if (lgw_gateway_submit(w->gw, &r, on_answer, job, NULL, NULL))
    lgw_queue_finish(job, LGW_JOB_RETRY, NULL, 0);
}

static void worker_main(int i) {
  char y[1024], name[16];
  uv_loop_t loop;
  lgw_runtime_t *rt = NULL;
  lgw_gateway_options_t op;
  lgw_queue_t *q;
  worker_t w;
  alarm(120);
  snprintf(y, sizeof y,
           "settings:\n  fallback_model: m1\n  max_concurrent: 16\n"
           "providers:\n  - provider_type: openai\n"
           "    api_style: openai_chat\n    base_url: \"%s\"\n"
           "    api_key: k\n", sim.base);
  uv_loop_init(&loop);
  memset(&op, 0, sizeof op);
  op.loop = &loop;
  op.no_state = 1;
  if (lgw_runtime_load_string(y, strlen(y), "w.yaml", &rt, NULL) ||
      lgw_gateway_new(rt, &op, &w.gw, NULL))
    _exit(2);
  q = open_q(&loop, "jobs", 1.0, 5);
  snprintf(name, sizeof name, "w%d", i);
  if (!q || lgw_queue_consume(q, name, work, &w, NULL)) _exit(3);
  uv_run(&loop, UV_RUN_DEFAULT);  /* until killed */
  _exit(0);
}

typedef struct pushed {
  int n;
} pushed_t;

static void on_pushed(lgw_queue_t *q, int status, const char *id,
                      const lgw_error_t *err, void *ud) {
  (void)q;
  (void)id;
  (void)err;
  ((pushed_t *)ud)->n += status == 0;
}

typedef struct pair {
  char id[33];
  int k;  /* the job's payload is "job <k>" */
} pair_t;

typedef struct listing {
  pair_t *ids;
  int nids, end, results, right, unknown, errors;
} listing_t;

static int cmp_id(const void *a, const void *b) {
  return strcmp(((const pair_t *)a)->id, ((const pair_t *)b)->id);
}

static void on_listed(lgw_queue_t *q, int status, const char *id, int ok,
                      const char *body, size_t len, void *ud) {
  listing_t *l = ud;
  char want[64];
  pair_t key, *hit;
  (void)q;
  (void)status;
  if (!id) {
    l->end = 1;
    return;
  }
  if (!ok) {
    l->errors++;
    return;
  }
  l->results++;
  snprintf(key.id, sizeof key.id, "%s", id);
  hit = bsearch(&key, l->ids, (size_t)l->nids, sizeof l->ids[0], cmp_id);
  if (!hit) {
    l->unknown++;
    return;
  }
  snprintf(want, sizeof want, "echo(m1): job %d", hit->k);
  l->right += strlen(want) == len && memcmp(want, body, len) == 0;
}

TEST(four_workers_drain_2000_jobs_with_one_killed) {
  pid_t pids[NWORKERS];
  uv_loop_t loop;
  lgw_queue_t *q;
  pushed_t pu;
  listing_t l;
  lgw_queue_stats_t st;
  char payload[32], cmd[256];
  static pair_t ids[NJOBS];
  long pending_of_killed = -1;
  int i, killed = 0, status;
  double end;
  for (i = 0; i < NWORKERS; i++) {
    pids[i] = fork();
    if (pids[i] == 0) worker_main(i);
  }
  uv_loop_init(&loop);
  q = open_q(&loop, "jobs", 1.0, 5);
  ASSERT(q);
  memset(&pu, 0, sizeof pu);
  for (i = 0; i < NJOBS; i++) {
    snprintf(payload, sizeof payload, "job %d", i);
    ids[i].k = i;
    ASSERT_EQ(lgw_queue_push(q, payload, strlen(payload), ids[i].id,
                             on_pushed, &pu, NULL), 0);
  }
  redis_run_until(&loop, &pu.n, NJOBS, 20);
  ASSERT_EQ(pu.n, NJOBS);
  end = lgw__now_ms() + 90000;
  snprintf(cmd, sizeof cmd, "EVAL \"return #redis.call('XPENDING', "
           "KEYS[1], 'workers', '-', '+', 1000, 'w0')\" 1 "
           "llmgateway:queue:jobs");
  for (;;) {
    st = stats_of(&loop, q);
    /* kill w0 mid-run while it holds jobs; they must be claimed by others */
    if (!killed && st.done >= NJOBS / 5 && redis_cli_num(&srv, cmd) > 0) {
      kill(pids[0], SIGKILL);
      waitpid(pids[0], &status, 0);
      killed = 1;
      pending_of_killed = redis_cli_num(&srv, cmd);
    }
    if (st.done + st.failed >= NJOBS || lgw__now_ms() > end) break;
    redis_run_until(&loop, &killed, 100, 0.05);
  }
  for (i = 1; i < NWORKERS; i++) {
    kill(pids[i], SIGTERM);
    waitpid(pids[i], &status, 0);
  }
  ASSERT_EQ(killed, 1);
  if (pending_of_killed <= 0)
    TEST__FAIL("the killed worker had no job in hand (%ld)",
               pending_of_killed);
  ASSERT_EQ(st.done, NJOBS);
  ASSERT_EQ(st.failed, 0);
  ASSERT_EQ(st.length, 0);
  ASSERT_EQ(st.in_flight, 0);
  /* every job has exactly one result, the right one */
  qsort(ids, NJOBS, sizeof ids[0], cmp_id);
  memset(&l, 0, sizeof l);
  l.ids = ids;
  l.nids = NJOBS;
  ASSERT_EQ(lgw_queue_results(q, on_listed, &l, NULL), 0);
  redis_run_until(&loop, &l.end, 1, 10);
  ASSERT_EQ(l.end, 1);
  ASSERT_EQ(l.results, NJOBS);
  ASSERT_EQ(l.unknown, 0);
  ASSERT_EQ(l.right, NJOBS);
  ASSERT_EQ(l.errors, 0);
  ASSERT_EQ(redis_cli_num(&srv, "HLEN llmgateway:queue:jobs:results"),
            NJOBS);
  ASSERT_EQ(sim_stat(&sim, "requests") >= NJOBS, 1);
  close_q(&loop, q);
  ASSERT_EQ(uv_loop_close(&loop), 0);
}

int main(void) {
  const char *sim_args[] = {"--latency-ms", "5", NULL};
  signal(SIGPIPE, SIG_IGN);
  if (!redis_installed())
    SKIP_REST("redis-server is not installed");
  else if (redis_start(&srv, 0) != 0 || sim_start(&sim, sim_args) != 0)
    FAIL_REST("cannot start redis-server or the simulator");
  RUN(push_consume_wait_and_stats);
  RUN(wait_times_out_and_results_lists_everything);
  RUN(retried_jobs_come_back_then_go_to_the_dead_letters);
  RUN(a_job_run_twice_keeps_its_first_outcome);
  RUN(entries_without_an_id_and_outcome_warnings);
  RUN(four_workers_drain_2000_jobs_with_one_killed);
  redis_stop(&srv);
  sim_stop(&sim);
  return TEST_SUMMARY();
}
