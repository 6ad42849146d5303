/*
 * queue.c -- the distributed work queue on Redis Streams: pushing jobs,
 * consuming them with a consumer group (a blocking read on its own
 * connection, periodic XAUTOCLAIM of jobs idle past the visibility
 * timeout, dead-lettering after max_deliveries), writing each outcome
 * with its acknowledgement in one script (the first outcome of a job id
 * wins), waiting for and listing results, and the counters.
 */
#include "queue.h"

#include <stdio.h>
#include <errno.h>
#include <string.h>
#include <sys/random.h>
#include <uv.h>

#include "config.h"
#include "redis.h"
#include "list.h"
#include "util.h"
#include "../engine/uv_dl.h"  /* libuv, opened at lgw_queue_open */

#define GROUP "workers"
#define CMD_TIMEOUT 5.0
#define RETRY_MS 200

/* KEYS: stream, results, errors, dead, stats. ARGV: entry id, group, job
 * id, "ok" or "fail", body, payload, deliveries, rate key prefix.
 * Returns 1 when this outcome was stored, 0 when the job had one. */
static lgw__redis_script_t complete_script = {
    "local had = redis.call('HEXISTS', KEYS[2], ARGV[3]) == 1 or\n"
    "  redis.call('HEXISTS', KEYS[3], ARGV[3]) == 1\n"
    "if had then\n"
    "  redis.call('HINCRBY', KEYS[5], 'duplicates', 1)\n"
    "elseif ARGV[4] == 'ok' then\n"
    "  redis.call('HSET', KEYS[2], ARGV[3], ARGV[5])\n"
    "  redis.call('HINCRBY', KEYS[5], 'done', 1)\n"
    "else\n"
    "  redis.call('HSET', KEYS[3], ARGV[3], ARGV[5])\n"
    "  redis.call('XADD', KEYS[4], '*', 'id', ARGV[3], 'error', ARGV[5],\n"
    "             'payload', ARGV[6], 'deliveries', ARGV[7])\n"
    "  redis.call('HINCRBY', KEYS[5], 'failed', 1)\n"
    "end\n"
    "if not had then\n"
    "  local rk = ARGV[8] .. redis.call('TIME')[1]\n"
    "  redis.call('INCR', rk)\n"
    "  redis.call('EXPIRE', rk, 120)\n"
    "end\n"
    "redis.call('XACK', KEYS[1], ARGV[2], ARGV[1])\n"
    "redis.call('XDEL', KEYS[1], ARGV[1])\n"
    "return had and 0 or 1\n",
    ""};

/* KEYS: stream. ARGV: group, consumer, min idle ms, count, then the
 * entries this consumer holds: their idle time restarts (a live worker's
 * jobs are never taken from it), then up to count entries idle longer
 * than min idle are claimed. Returns {{entry id, job id, payload,
 * deliveries}, ...}. */
static lgw__redis_script_t claim_script = {
    "if #ARGV > 4 then\n"
    "  local a = {KEYS[1], ARGV[1], ARGV[2], 0}\n"
    "  for i = 5, #ARGV do a[#a + 1] = ARGV[i] end\n"
    "  a[#a + 1] = 'JUSTID'\n"
    "  redis.call('XCLAIM', unpack(a))\n"
    "end\n"
    "local out = {}\n"
    "if tonumber(ARGV[4]) < 1 then return out end\n"
    "local r = redis.call('XAUTOCLAIM', KEYS[1], ARGV[1], ARGV[2], ARGV[3],\n"
    "                     '0-0', 'COUNT', ARGV[4])\n"
    "for _, e in ipairs(r[2]) do\n"
    "  if e and e[2] then\n"
    "    local p = redis.call('XPENDING', KEYS[1], ARGV[1], e[1], e[1], 1)\n"
    "    local id, payload = '', ''\n"
    "    for i = 1, #e[2], 2 do\n"
    "      if e[2][i] == 'id' then id = e[2][i + 1]\n"
    "      elseif e[2][i] == 'payload' then payload = e[2][i + 1] end\n"
    "    end\n"
    "    out[#out + 1] = {e[1], id, payload, p[1] and p[1][4] or 1}\n"
    "  end\n"
    "end\n"
    "return out\n",
    ""};

/* KEYS: stream, stats. ARGV: group, rate key prefix. */
static lgw__redis_script_t stats_script = {
    "local len = redis.call('XLEN', KEYS[1])\n"
    "local pend = redis.call('XPENDING', KEYS[1], ARGV[1])[1]\n"
    "local s = redis.call('HMGET', KEYS[2], 'done', 'failed', 'duplicates')\n"
    "local t = tonumber(redis.call('TIME')[1])\n"
    "local sum = 0\n"
    "for i = 1, 10 do\n"
    "  sum = sum + tonumber(redis.call('GET', ARGV[2] .. (t - i)) or '0')\n"
    "end\n"
    "return {len - pend, pend, tonumber(s[1] or '0'), tonumber(s[2] or '0'),\n"
    "        tonumber(s[3] or '0'), sum}\n",
    ""};

/* KEYS: results, errors. ARGV: job id. {1, result} {0, error} or {}. */
static lgw__redis_script_t get_script = {
    "local v = redis.call('HGET', KEYS[1], ARGV[1])\n"
    "if v then return {1, v} end\n"
    "v = redis.call('HGET', KEYS[2], ARGV[1])\n"
    "if v then return {0, v} end\n"
    "return {}\n",
    ""};

typedef struct waiter waiter_t;
typedef struct qwrite qwrite_t;

struct lgw_queue {
  uv_loop_t *loop;
  lgw__redis_t *cx;            /* commands */
  lgw__redis_t *rd;            /* the consumer's blocking reads */
  lgw__redis_url_t url;
  lgw_queue_options_t o;
  char *stream, *results, *errors, *dead, *stats, *rate;  /* owned keys */
  char *consumer;              /* NULL: not consuming */
  lgw_queue_handler_fn handler;
  void *handler_ud;
  int consuming, reading, claiming, freeing;
  size_t jobs;                 /* handed out, not finished */
  int handles;                 /* open uv handles */
  uv_timer_t claim_timer, read_timer;
  lgw__redis_call_t *read_call, *claim_call;
  lgw_link_t waiters;          /* lgw_queue_wait in progress */
  lgw_link_t held;             /* jobs handed out, not finished */
  lgw_link_t writes;           /* outcomes being written (qwrite_t) */
  void (*drained)(lgw_queue_t *q, void *ud);  /* writes ended */
  void *drained_ud;
};

struct lgw_job {
  lgw_queue_t *q;
  lgw_link_t link;             /* in q->held */
  char *entry, *id, *payload;  /* owned */
  size_t len;
  int delivery;
};

/* An outcome being written. Its write may report an error (a timeout, a
 * lost connection) and have been done all the same: the server is asked
 * before warning. Listed in q->writes (freed with the queue: callbacks
 * are dropped when the connection is freed). */
struct qwrite {
  lgw_queue_t *q;
  lgw_link_t link;             /* in q->writes */
  char *id;
  char err[160];
  int unsure;                  /* to be checked at the next connect */
};

/* ---- ids and keys ---------------------------------------------------------- */

int lgw__queue_new_id(char out[33]) {
  unsigned char b[16];
  static const char hex[] = "0123456789abcdef";
  size_t i, n = 0;
  /* what uv_random does without a loop on Linux, without opening libuv */
  while (n < sizeof b) {
    ssize_t k = getrandom(b + n, sizeof b - n, 0);
    if (k < 0) {
      if (errno == EINTR) continue;
      return LGW_EIO;
    }
    n += (size_t)k;
  }
  for (i = 0; i < sizeof b; i++) {
    out[2 * i] = hex[b[i] >> 4];
    out[2 * i + 1] = hex[b[i] & 15];
  }
  out[32] = '\0';
  return 0;
}

static int not_open(lgw_queue_t *q, lgw_error_t *err, const char *what) {
  if (!q || q->freeing)
    return lgw__error_set(err, LGW_EINVAL, "%s: the queue is closed", what);
  return 0;
}

static int unreachable(lgw_queue_t *q, int rc, lgw_error_t *err) {
  if (rc == LGW_ECONNECT)
    return lgw__error_set(err, rc, "queue: Redis at %s is unreachable",
                          lgw__redis_name(q->cx));
  return lgw__error_set(err, rc, "queue: out of memory");
}

/* ---- lifetime ---------------------------------------------------------------- */

static void q_destroy(lgw_queue_t *q) {
  lgw_free(q->stream);
  lgw_free(q->results);
  lgw_free(q->errors);
  lgw_free(q->dead);
  lgw_free(q->stats);
  lgw_free(q->rate);
  lgw_free(q->consumer);
  lgw_free(q);
}

/* The queue goes when it is freed, its handles closed and no job is out. */
static void q_maybe_destroy(lgw_queue_t *q) {
  if (q->freeing && q->handles == 0 && q->jobs == 0) q_destroy(q);
}

static void on_q_close(uv_handle_t *h) {
  lgw_queue_t *q = h->data;
  q->handles--;
  q_maybe_destroy(q);
}

static void on_group(lgw__redis_t *r, const lgw__rreply_t *reply,
                     const char *err, void *ud) {
  (void)r;
  (void)reply;
  (void)ud;
  if (err && strncmp(err, "BUSYGROUP", 9) != 0)
    lgw__log(LGW_LOG_WARN, "queue: cannot create the consumer group: %s",
             err);
}

static void check_write(qwrite_t *w);

/* Creates the consumer group (and the stream) unless they exist. */
static void ensure_group(lgw_queue_t *q) {
  const char *argv[] = {"XGROUP", "CREATE", q->stream, GROUP, "0",
                        "MKSTREAM"};
  lgw__redis_cmd(q->cx, CMD_TIMEOUT, on_group, NULL, NULL, 6, argv, NULL);
}

/* Every (re)connect: the group exists (a restarted server lost it), and
 * outcomes whose write failed with the last connection are checked. */
static void on_up(lgw__redis_t *r, void *ud) {
  lgw_queue_t *q = ud;
  (void)r;
  ensure_group(q);
  LGW_LIST_FOREACH(l, &q->writes) {
    qwrite_t *w = LGW_CONTAINER_OF(l, qwrite_t, link);
    if (w->unsure) check_write(w);
  }
}

int lgw_queue_open(struct uv_loop_s *loop, const char *url, const char *name,
                   const lgw_queue_options_t *opts, lgw_queue_t **out,
                   lgw_error_t *err) {
  lgw_queue_t *q;
  lgw__redis_opts_t ro;
  char why[200];
  const char *pre;
  if (out) *out = NULL;
  if (!loop || !url || !name || !name[0] || !out)
    return lgw__error_set(err, LGW_EINVAL, "lgw_queue_open: invalid "
                                           "arguments");
  if (lgw__uv_load())
    return lgw__error_set(err, LGW_EIO, "%s", lgw__uv_error());
  q = lgw__calloc(1, sizeof *q);
  if (!q) return lgw__error_set(err, LGW_ENOMEM, "out of memory");
  lgw_list_init(&q->waiters);
  lgw_list_init(&q->held);
  lgw_list_init(&q->writes);
  if (lgw__redis_url_parse(url, &q->url, why, sizeof why)) {
    lgw_free(q);
    return lgw__error_set(err, LGW_ECONFIG, "queue URL: %s", why);
  }
  if (opts) q->o = *opts;
  if (q->o.visibility_timeout <= 0) q->o.visibility_timeout = 30;
  if (q->o.max_deliveries <= 0) q->o.max_deliveries = 5;
  if (q->o.concurrency <= 0) q->o.concurrency = 8;
  if (q->o.block <= 0) q->o.block = 1;
  pre = q->o.prefix ? q->o.prefix : LGW_DEFAULT_STATE_PREFIX;
  q->o.prefix = NULL;  /* not kept: borrowed */
  q->loop = loop;
  q->stream = lgw__sprintf("%squeue:%s", pre, name);
  q->results = lgw__sprintf("%squeue:%s:results", pre, name);
  q->errors = lgw__sprintf("%squeue:%s:errors", pre, name);
  q->dead = lgw__sprintf("%squeue:%s:dead", pre, name);
  q->stats = lgw__sprintf("%squeue:%s:stats", pre, name);
  q->rate = lgw__sprintf("%squeue:%s:rate:", pre, name);
  if (!q->stream || !q->results || !q->errors || !q->dead || !q->stats ||
      !q->rate) {
    q_destroy(q);
    return lgw__error_set(err, LGW_ENOMEM, "out of memory");
  }
  memset(&ro, 0, sizeof ro);
  ro.what = "queue";
  ro.on_up = on_up;
  ro.ud = q;
  if (lgw__redis_new(loop, &q->url, &ro, &q->cx, err)) {
    q_destroy(q);
    return err ? err->code : LGW_ENOMEM;
  }
  uv_timer_init(loop, &q->claim_timer);
  uv_timer_init(loop, &q->read_timer);
  q->claim_timer.data = q->read_timer.data = q;
  q->handles = 2;
  *out = q;
  return 0;
}

/* ---- pushing -------------------------------------------------------------- */

typedef struct push_ctx {
  lgw_queue_push_fn cb;
  void *ud;
  lgw_queue_t *q;
  char id[33];
} push_ctx_t;

static void on_pushed(lgw__redis_t *r, const lgw__rreply_t *reply,
                      const char *err, void *ud) {
  push_ctx_t *p = ud;
  lgw_error_t e;
  (void)r;
  (void)reply;
  if (!p) {
    if (err) lgw__log(LGW_LOG_WARN, "queue: a push was not stored: %s", err);
    return;
  }
  memset(&e, 0, sizeof e);
  if (err)
    lgw__error_set(&e, lgw__redis_err_code(err), "queue: push failed: %s",
                   err);
  p->cb(p->q, err ? e.code : 0, p->id, err ? &e : NULL, p->ud);
  lgw_free(p);
}

int lgw_queue_push(lgw_queue_t *q, const char *payload, size_t len,
                   char id_out[33], lgw_queue_push_fn cb, void *ud,
                   lgw_error_t *err) {
  char id[33];
  const char *argv[7];
  size_t lens[7];
  push_ctx_t *p = NULL;
  int rc, i;
  lgw__redis_call_t *call;
  if (id_out) id_out[0] = '\0';
  if (not_open(q, err, "lgw_queue_push")) return LGW_EINVAL;
  if (!payload)
    return lgw__error_set(err, LGW_EINVAL, "lgw_queue_push: no payload");
  if (lgw__queue_new_id(id))
    return lgw__error_set(err, LGW_EIO, "queue: no random bytes for an id");
  argv[0] = "XADD";
  argv[1] = q->stream;
  argv[2] = "*";
  argv[3] = "id";
  argv[4] = id;
  argv[5] = "payload";
  argv[6] = payload;
  for (i = 0; i < 6; i++) lens[i] = strlen(argv[i]);
  lens[6] = len;
  if (cb) {
    if (!(p = lgw__calloc(1, sizeof *p)))
      return lgw__error_set(err, LGW_ENOMEM, "out of memory");
    p->cb = cb;
    p->ud = ud;
    p->q = q;
    memcpy(p->id, id, sizeof id);
  }
  rc = lgw__redis_cmd(q->cx, CMD_TIMEOUT, on_pushed, p,
                      &call, 7, argv, lens);
  if (rc) {
    lgw_free(p);
    return unreachable(q, rc, err);
  }
  if (p) lgw__redis_own_ud(call);  /* freed if the queue goes first */
  if (id_out) memcpy(id_out, id, sizeof id);
  return 0;
}

/* ---- consuming ----------------------------------------------------------------- */

static void fill(lgw_queue_t *q);

static void job_free(lgw_job_t *j) {
  lgw_free(j->entry);
  lgw_free(j->id);
  lgw_free(j->payload);
  lgw_free(j);
}

/* KEYS: results, errors. ARGV: job id. 1 when the job has an outcome. */
static lgw__redis_script_t has_script = {
    "return (redis.call('HEXISTS', KEYS[1], ARGV[1]) == 1 or\n"
    "        redis.call('HEXISTS', KEYS[2], ARGV[1]) == 1) and 1 or 0\n",
    ""};

static void write_free(qwrite_t *w) {
  lgw_queue_t *q = w->q;
  lgw_list_remove(&w->link);
  lgw_free(w->id);
  lgw_free(w);
  if (lgw_list_empty(&q->writes) && !q->freeing && q->drained) q->drained(q, q->drained_ud);
}

size_t lgw__queue_writes(const lgw_queue_t *q) {
  size_t n = 0;
  if (q) LGW_LIST_FOREACH(l, &q->writes) n++;
  return n;
}

void lgw__queue_on_drained(lgw_queue_t *q,
                           void (*fn)(lgw_queue_t *q, void *ud), void *ud) {
  q->drained = fn;
  q->drained_ud = ud;
}

size_t lgw_queue_pending_writes(const lgw_queue_t *q) {
  return lgw__queue_writes(q);
}

void lgw_queue_on_drained(lgw_queue_t *q, lgw_queue_drained_fn fn,
                          void *ud) {
  lgw__queue_on_drained(q, fn, ud);
}

static void not_written(const char *id, const char *err) {
  lgw__log(LGW_LOG_WARN, "queue: the outcome of job %s was not written "
           "(%s); the job will be delivered again", id, err);
}

static void on_checked(lgw__redis_t *r, const lgw__rreply_t *reply,
                       const char *err, void *ud) {
  qwrite_t *w = ud;
  (void)r;
  if (err || lgw__rr_int(reply) != 1) not_written(w->id, w->err);
  else
    lgw__log(LGW_LOG_DEBUG, "queue: the outcome of job %s was written "
             "despite: %s", w->id, w->err);
  write_free(w);
}

/* Asks whether w's outcome is there; when Redis is not connected now,
 * asks again at the next connect. */
static void check_write(qwrite_t *w) {
  lgw_queue_t *q = w->q;
  const char *argv[3];
  argv[0] = q->results;
  argv[1] = q->errors;
  argv[2] = w->id;
  w->unsure = lgw__redis_eval(q->cx, &has_script, CMD_TIMEOUT, on_checked,
                              w, NULL, 2, 3, argv, NULL) != 0;
}

static void on_completed(lgw__redis_t *r, const lgw__rreply_t *reply,
                         const char *err, void *ud) {
  qwrite_t *w = ud;
  (void)r;
  (void)reply;
  if (!err) {
    write_free(w);
    return;
  }
  /* Asked after the write: on the same connection, or on the next one
   * when this one was dropped (a timeout). */
  snprintf(w->err, sizeof w->err, "%s", err);
  check_write(w);
}

/* Write an outcome with the acknowledgement (the job's memory is the
 * caller's). */
static int complete(lgw_queue_t *q, const lgw_job_t *j, int ok,
                    const char *body, size_t len) {
  char n[16];
  const char *argv[13];
  size_t lens[13];
  qwrite_t *w;
  int i, rc;
  snprintf(n, sizeof n, "%d", j->delivery);
  argv[0] = q->stream;
  argv[1] = q->results;
  argv[2] = q->errors;
  argv[3] = q->dead;
  argv[4] = q->stats;
  argv[5] = j->entry;
  argv[6] = GROUP;
  argv[7] = j->id;
  argv[8] = ok ? "ok" : "fail";
  argv[9] = body ? body : "";
  argv[10] = j->payload;
  argv[11] = n;
  argv[12] = q->rate;
  for (i = 0; i < 13; i++) lens[i] = strlen(argv[i]);
  lens[9] = body ? len : 0;
  lens[10] = j->len;
  w = lgw__calloc(1, sizeof *w);
  if (!w || !(w->id = lgw__strdup(j->id))) {
    lgw_free(w);
    not_written(j->id, "out of memory");
    return LGW_ENOMEM;
  }
  w->q = q;
  lgw_list_push_front(&q->writes, &w->link);
  rc = lgw__redis_eval(q->cx, &complete_script, CMD_TIMEOUT, on_completed,
                       w, NULL, 5, 13, argv, lens);
  if (rc) {
    not_written(j->id, "Redis is unreachable");
    write_free(w);
  }
  return rc;
}

/* Hand one delivered entry to the handler (or to the dead letters). */
static void deliver(lgw_queue_t *q, const char *entry, const char *id,
                    const char *payload, size_t len, int delivery) {
  lgw_job_t *j;
  /* An entry added without an id (by another producer) is known by its
   * stream entry id, the same at every delivery. */
  if (!id || !id[0]) id = entry;
  j = lgw__calloc(1, sizeof *j);
  if (!j) return;  /* stays pending: delivered again later */
  j->q = q;
  j->entry = lgw__strdup(entry);
  j->id = lgw__strdup(id);
  j->payload = lgw__strndup(payload, len);
  j->len = len;
  j->delivery = delivery;
  if (!j->entry || !j->id || !j->payload) {
    job_free(j);
    return;
  }
  if (delivery > q->o.max_deliveries) {
    char why[128];
    snprintf(why, sizeof why, "delivered %d times without an outcome "
             "(max_deliveries %d)", delivery, q->o.max_deliveries);
    complete(q, j, 0, why, strlen(why));
    job_free(j);
    return;
  }
  q->jobs++;
  lgw_list_push_front(&q->held, &j->link);
  q->handler(q, j, j->id, j->payload, j->len, delivery, q->handler_ud);
}

/* Fields "id" and "payload" of a stream entry's field list. */
static void entry_fields(const lgw__rreply_t *f, const char **id,
                         const char **payload, size_t *len) {
  size_t i, n = lgw__rr_len(f), kl;
  *id = *payload = "";
  *len = 0;
  for (i = 0; i + 1 < n; i += 2) {
    const char *k = lgw__rr_str(lgw__rr_at(f, i), &kl);
    if (kl == 2 && memcmp(k, "id", 2) == 0)
      *id = lgw__rr_str(lgw__rr_at(f, i + 1), NULL);
    else if (kl == 7 && memcmp(k, "payload", 7) == 0)
      *payload = lgw__rr_str(lgw__rr_at(f, i + 1), len);
  }
}

static void on_read_retry(uv_timer_t *t) { fill(t->data); }

/* XREADGROUP answer: [[stream, [[entry id, [field, value ...]] ...]]]. */
static void on_read(lgw__redis_t *r, const lgw__rreply_t *reply,
                    const char *err, void *ud) {
  lgw_queue_t *q = ud;
  const lgw__rreply_t *entries = lgw__rr_at(lgw__rr_at(reply, 0), 1);
  size_t i;
  (void)r;
  q->reading = 0;
  q->read_call = NULL;
  if (err) {
    lgw__log(LGW_LOG_DEBUG, "queue: read failed: %s", err);
    /* the group's creation at the connect could not be sent or failed */
    if (strncmp(err, "NOGROUP", 7) == 0) ensure_group(q);
    if (q->consuming) uv_timer_start(&q->read_timer, on_read_retry,
                                     RETRY_MS, 0);
    return;
  }
  for (i = 0; i < lgw__rr_len(entries); i++) {
    const lgw__rreply_t *e = lgw__rr_at(entries, i);
    const char *id, *payload;
    size_t len;
    entry_fields(lgw__rr_at(e, 1), &id, &payload, &len);
    deliver(q, lgw__rr_str(lgw__rr_at(e, 0), NULL), id, payload, len, 1);
  }
  fill(q);
}

/* Read new jobs while there is room. */
static void fill(lgw_queue_t *q) {
  char count[24], block[24];
  const char *argv[11];
  size_t room;
  if (!q->consuming || q->reading || q->freeing) return;
  room = (size_t)q->o.concurrency > q->jobs
             ? (size_t)q->o.concurrency - q->jobs : 0;
  if (!room) return;
  snprintf(count, sizeof count, "%zu", room);
  snprintf(block, sizeof block, "%.0f", q->o.block * 1000.0);
  argv[0] = "XREADGROUP";
  argv[1] = "GROUP";
  argv[2] = GROUP;
  argv[3] = q->consumer;
  argv[4] = "COUNT";
  argv[5] = count;
  argv[6] = "BLOCK";
  argv[7] = block;
  argv[8] = "STREAMS";
  argv[9] = q->stream;
  argv[10] = ">";
  if (lgw__redis_cmd(q->rd, q->o.block + CMD_TIMEOUT, on_read, q,
                     &q->read_call, 11, argv, NULL) == 0) {
    q->reading = 1;
    return;
  }
  uv_timer_start(&q->read_timer, on_read_retry, RETRY_MS, 0);
}

static void on_claimed(lgw__redis_t *r, const lgw__rreply_t *reply,
                       const char *err, void *ud) {
  lgw_queue_t *q = ud;
  size_t i, len;
  (void)r;
  q->claiming = 0;
  q->claim_call = NULL;
  if (err) {
    lgw__log(LGW_LOG_DEBUG, "queue: claim failed: %s", err);
    return;
  }
  for (i = 0; i < lgw__rr_len(reply) && q->consuming; i++) {
    const lgw__rreply_t *e = lgw__rr_at(reply, i);
    const char *payload = lgw__rr_str(lgw__rr_at(e, 2), &len);
    deliver(q, lgw__rr_str(lgw__rr_at(e, 0), NULL),
            lgw__rr_str(lgw__rr_at(e, 1), NULL), payload, len,
            (int)lgw__rr_num(lgw__rr_at(e, 3), 1));
  }
}

/* Keep the jobs in hand ours, and take over jobs another consumer left
 * idle past the visibility timeout (it died, or stopped consuming). */
static void on_claim_timer(uv_timer_t *t) {
  lgw_queue_t *q = t->data;
  char idle[32], count[24];
  const char **argv;
  size_t n = 5, room;
  if (!q->consuming || q->claiming) return;
  room = (size_t)q->o.concurrency > q->jobs
             ? (size_t)q->o.concurrency - q->jobs : 0;
  if (!(argv = lgw__calloc(5 + q->jobs, sizeof *argv))) return;
  snprintf(idle, sizeof idle, "%.0f", q->o.visibility_timeout * 1000.0);
  snprintf(count, sizeof count, "%zu", room);
  argv[0] = q->stream;
  argv[1] = GROUP;
  argv[2] = q->consumer;
  argv[3] = idle;
  argv[4] = count;
  LGW_LIST_FOREACH(l, &q->held) {
    if (n >= 5 + q->jobs) break;
    argv[n++] = LGW_CONTAINER_OF(l, lgw_job_t, link)->entry;
  }
  if ((room || n > 5) &&
      lgw__redis_eval(q->cx, &claim_script, CMD_TIMEOUT, on_claimed, q,
                      &q->claim_call, 1, (int)n, argv, NULL) == 0)
    q->claiming = 1;
  lgw_free(argv);
}

static void on_rd_up(lgw__redis_t *r, void *ud) {
  (void)r;
  fill(ud);
}

int lgw_queue_consume(lgw_queue_t *q, const char *consumer,
                      lgw_queue_handler_fn fn, void *ud, lgw_error_t *err) {
  lgw__redis_opts_t ro;
  uint64_t every;
  if (not_open(q, err, "lgw_queue_consume")) return LGW_EINVAL;
  if (!consumer || !consumer[0] || !fn)
    return lgw__error_set(err, LGW_EINVAL, "lgw_queue_consume: invalid "
                                           "arguments");
  if (q->consumer)
    return lgw__error_set(err, LGW_EINVAL, "lgw_queue_consume: this queue "
                          "handle already has a consumer");
  if (!(q->consumer = lgw__strdup(consumer)))
    return lgw__error_set(err, LGW_ENOMEM, "out of memory");
  memset(&ro, 0, sizeof ro);
  ro.what = "queue";
  ro.on_up = on_rd_up;
  ro.ud = q;
  if (lgw__redis_new(q->loop, &q->url, &ro, &q->rd, err)) {
    lgw_free(q->consumer);
    q->consumer = NULL;
    return err ? err->code : LGW_ENOMEM;
  }
  q->handler = fn;
  q->handler_ud = ud;
  q->consuming = 1;
  every = (uint64_t)(q->o.visibility_timeout * 500.0);
  if (every < 50) every = 50;
  if (every > 1000) every = 1000;
  uv_timer_start(&q->claim_timer, on_claim_timer, every, every);
  return 0;
}

void lgw_queue_stop(lgw_queue_t *q) {
  if (!q || !q->consuming) return;
  q->consuming = 0;
  uv_timer_stop(&q->claim_timer);
  uv_timer_stop(&q->read_timer);
  lgw__redis_forget(q->read_call);
  lgw__redis_forget(q->claim_call);
  q->read_call = q->claim_call = NULL;
  q->reading = q->claiming = 0;
  lgw__redis_free(q->rd);  /* ends the blocking read */
  q->rd = NULL;
}

int lgw_queue_finish(lgw_job_t *job, lgw_job_outcome_t outcome,
                     const char *body, size_t len) {
  lgw_queue_t *q;
  int rc = 0;
  if (!job) return LGW_EINVAL;
  q = job->q;
  if (!q->freeing && outcome != LGW_JOB_RETRY)
    rc = complete(q, job, outcome == LGW_JOB_DONE, body, len);
  lgw_list_remove(&job->link);
  job_free(job);
  q->jobs--;
  if (q->freeing) q_maybe_destroy(q);
  else fill(q);
  return rc;
}

/* ---- results, waiting, counters ---------------------------------------------- */

struct waiter {
  lgw_queue_t *q;
  lgw_link_t link;             /* in q->waiters */
  char id[80];
  lgw_queue_result_fn cb;
  void *ud;
  double end_ms;               /* 0: no limit */
  uint64_t every;              /* polling interval, ms */
  uv_timer_t timer;
  lgw__redis_call_t *call;
};

static void waiter_close(uv_handle_t *h) {
  waiter_t *w = h->data;
  lgw_queue_t *q = w->q;
  lgw_free(w);
  q->handles--;
  q_maybe_destroy(q);
}

static void waiter_end(waiter_t *w) {
  lgw_list_remove(&w->link);
  lgw__redis_forget(w->call);
  w->call = NULL;
  uv_close((uv_handle_t *)&w->timer, waiter_close);
}

static void waiter_poll(uv_timer_t *t);

static void on_waited(lgw__redis_t *r, const lgw__rreply_t *reply,
                      const char *err, void *ud) {
  waiter_t *w = ud;
  size_t len;
  (void)r;
  w->call = NULL;
  if (!err && lgw__rr_len(reply) == 2) {
    const char *body = lgw__rr_str(lgw__rr_at(reply, 1), &len);
    w->cb(w->q, 0, w->id, (int)lgw__rr_num(lgw__rr_at(reply, 0), 0), body,
          len, w->ud);
    waiter_end(w);
    return;
  }
  if (w->end_ms > 0 && lgw__now_ms() >= w->end_ms) {
    w->cb(w->q, LGW_ETIMEOUT, w->id, 0, "", 0, w->ud);
    waiter_end(w);
    return;
  }
  uv_timer_start(&w->timer, waiter_poll, w->every, 0);
  if (w->every < 500) w->every *= 2;
}

static void waiter_poll(uv_timer_t *t) {
  waiter_t *w = t->data;
  const char *argv[] = {w->q->results, w->q->errors, w->id};
  if (lgw__redis_eval(w->q->cx, &get_script, CMD_TIMEOUT, on_waited, w,
                      &w->call, 2, 3, argv, NULL))
    on_waited(NULL, NULL, "not connected", w);
}

int lgw_queue_wait(lgw_queue_t *q, const char *id, double timeout,
                   lgw_queue_result_fn cb, void *ud, lgw_error_t *err) {
  waiter_t *w;
  if (not_open(q, err, "lgw_queue_wait")) return LGW_EINVAL;
  if (!id || !id[0] || strlen(id) >= sizeof w->id || !cb)
    return lgw__error_set(err, LGW_EINVAL, "lgw_queue_wait: invalid "
                                           "arguments");
  if (!(w = lgw__calloc(1, sizeof *w)))
    return lgw__error_set(err, LGW_ENOMEM, "out of memory");
  w->q = q;
  snprintf(w->id, sizeof w->id, "%s", id);
  w->cb = cb;
  w->ud = ud;
  w->end_ms = timeout > 0 ? lgw__now_ms() + timeout * 1000.0 : 0;
  w->every = 20;
  uv_timer_init(q->loop, &w->timer);
  w->timer.data = w;
  q->handles++;
  lgw_list_push_front(&q->waiters, &w->link);
  uv_timer_start(&w->timer, waiter_poll, 0, 0);
  return 0;
}

typedef struct list_ctx {
  lgw_queue_t *q;
  lgw_queue_result_fn cb;
  void *ud;
  int phase;                   /* 0: results, 1: errors */
} list_ctx_t;

static void on_listed(lgw__redis_t *r, const lgw__rreply_t *reply,
                      const char *err, void *ud) {
  list_ctx_t *l = ud;
  size_t i, len;
  (void)r;
  if (err) {
    l->cb(l->q, lgw__redis_err_code(err), NULL, 0, err, strlen(err), l->ud);
    lgw_free(l);
    return;
  }
  for (i = 0; i + 1 < lgw__rr_len(reply); i += 2) {
    const char *body = lgw__rr_str(lgw__rr_at(reply, i + 1), &len);
    l->cb(l->q, 0, lgw__rr_str(lgw__rr_at(reply, i), NULL), l->phase == 0,
          body, len, l->ud);
  }
  if (l->phase == 0 && !l->q->freeing) {
    const char *argv[] = {"HGETALL", l->q->errors};
    lgw__redis_call_t *call;
    int rc;
    l->phase = 1;
    rc = lgw__redis_cmd(l->q->cx, CMD_TIMEOUT, on_listed, l, &call, 2,
                        argv, NULL);
    if (rc == 0) {
      lgw__redis_own_ud(call);
      return;
    }
    if (rc == LGW_ENOMEM)
      l->cb(l->q, rc, NULL, 0, lgw__redis_oom, 13, l->ud);
    else
      l->cb(l->q, LGW_ECONNECT, NULL, 0, "not connected", 13, l->ud);
  } else {
    l->cb(l->q, 0, NULL, 0, "", 0, l->ud);
  }
  lgw_free(l);
}

int lgw_queue_results(lgw_queue_t *q, lgw_queue_result_fn cb, void *ud,
                      lgw_error_t *err) {
  list_ctx_t *l;
  const char *argv[2];
  int rc;
  lgw__redis_call_t *call;
  if (not_open(q, err, "lgw_queue_results")) return LGW_EINVAL;
  if (!cb)
    return lgw__error_set(err, LGW_EINVAL, "lgw_queue_results: no callback");
  if (!(l = lgw__calloc(1, sizeof *l)))
    return lgw__error_set(err, LGW_ENOMEM, "out of memory");
  l->q = q;
  l->cb = cb;
  l->ud = ud;
  argv[0] = "HGETALL";
  argv[1] = q->results;
  rc = lgw__redis_cmd(q->cx, CMD_TIMEOUT, on_listed, l, &call, 2, argv,
                      NULL);
  if (rc) {
    lgw_free(l);
    return unreachable(q, rc, err);
  }
  lgw__redis_own_ud(call);
  return 0;
}

typedef struct stats_ctx {
  lgw_queue_t *q;
  lgw_queue_stats_fn cb;
  void *ud;
} stats_ctx_t;

static void on_stats(lgw__redis_t *r, const lgw__rreply_t *reply,
                     const char *err, void *ud) {
  stats_ctx_t *c = ud;
  lgw_queue_stats_t st;
  (void)r;
  memset(&st, 0, sizeof st);
  if (err || lgw__rr_len(reply) != 6) {
    c->cb(c->q, err ? lgw__redis_err_code(err) : LGW_ECONNECT, NULL, c->ud);
  } else {
    st.length = lgw__rr_num(lgw__rr_at(reply, 0), 0);
    st.in_flight = lgw__rr_num(lgw__rr_at(reply, 1), 0);
    st.done = lgw__rr_num(lgw__rr_at(reply, 2), 0);
    st.failed = lgw__rr_num(lgw__rr_at(reply, 3), 0);
    st.duplicates = lgw__rr_num(lgw__rr_at(reply, 4), 0);
    st.rate = (double)lgw__rr_num(lgw__rr_at(reply, 5), 0) / 10.0;
    c->cb(c->q, 0, &st, c->ud);
  }
  lgw_free(c);
}

int lgw_queue_stats(lgw_queue_t *q, lgw_queue_stats_fn cb, void *ud,
                    lgw_error_t *err) {
  stats_ctx_t *c;
  const char *argv[4];
  int rc;
  lgw__redis_call_t *call;
  if (not_open(q, err, "lgw_queue_stats")) return LGW_EINVAL;
  if (!cb)
    return lgw__error_set(err, LGW_EINVAL, "lgw_queue_stats: no callback");
  if (!(c = lgw__calloc(1, sizeof *c)))
    return lgw__error_set(err, LGW_ENOMEM, "out of memory");
  c->q = q;
  c->cb = cb;
  c->ud = ud;
  argv[0] = q->stream;
  argv[1] = q->stats;
  argv[2] = GROUP;
  argv[3] = q->rate;
  rc = lgw__redis_eval(q->cx, &stats_script, CMD_TIMEOUT, on_stats, c,
                       &call, 2, 4, argv, NULL);
  if (rc) {
    lgw_free(c);
    return unreachable(q, rc, err);
  }
  lgw__redis_own_ud(call);
  return 0;
}

void lgw_queue_free(lgw_queue_t *q) {
  if (!q || q->freeing) return;
  lgw_queue_stop(q);
  q->freeing = 1;
  while (!lgw_list_empty(&q->waiters))
    waiter_end(LGW_CONTAINER_OF(q->waiters.next, waiter_t, link));
  lgw__redis_free(q->cx);  /* drops every other pending callback */
  q->cx = NULL;
  while (!lgw_list_empty(&q->writes)) {
    qwrite_t *w = LGW_CONTAINER_OF(q->writes.next, qwrite_t, link);
    if (w->unsure) not_written(w->id, w->err);  /* never confirmed */
    write_free(w);
  }
  uv_close((uv_handle_t *)&q->claim_timer, on_q_close);
  uv_close((uv_handle_t *)&q->read_timer, on_q_close);
}
