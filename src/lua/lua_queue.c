/*
 * lua_queue.c -- the Queue and Job userdata: llmgateway.queue(url, name)
 * over the C work queue (queue.c). push, wait, results and stats yield
 * the calling task (or run the loop outside a task) until Redis answered;
 * consume hands every delivered job to a Lua function that runs as its
 * own task and finishes the job through the Job userdata; join waits
 * until consuming has stopped and every job in hand is finished.
 * Payloads and results cross as JSON text.
 */
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "lua_priv.h"

#define LGWL_QUEUE "llmgateway.Queue"
#define LGWL_JOB "llmgateway.Job"
#define LGWL_QOP "llmgateway.QueueOp"

/* Queue userdata. User value 1: the runner function of consume. */
struct lgwL_queue {
  lgw_queue_t *q;             /* NULL when closed */
  lgwL_module_t *m;
  lgw_link_t link;            /* in m->queues while open */
  char name[128];
  int max_deliveries;
  int consuming;              /* consume called and not stopped */
  int runner_ref;             /* registry ref of the runner, LUA_NOREF */
  int self_ref;               /* the userdata, anchored while consume
                                 hands out jobs */
  lgw_link_t ops;             /* operations waiting for an answer */
  long held;                  /* jobs in hand */
  long done, failed, retried; /* outcomes written from here */
  int have_stats, stats_busy; /* the progress line's reading */
  lgw_queue_stats_t st;
};

enum { OP_PUSH, OP_WAIT, OP_RESULTS, OP_STATS, OP_JOIN };

typedef struct item {
  char *id, *body;
  size_t len;
  int ok;
} item_t;

/* One operation: a full userdata on the waiter's stack; while the C
 * queue may still call back with it, it is also anchored in the
 * registry (ref) and linked in the queue's list. */
typedef struct qop {
  lgwL_op_t op;               /* first: the scheduler's view */
  lgwL_queue_t *lq;
  lgw_link_t link;            /* in lq->ops while linked */
  int linked;
  int ref;                    /* registry anchor while linked */
  int kind, done, status;
  lgw_error_t err;
  char id[33];
  int ok;                     /* OP_WAIT: 1 result, 0 failed job */
  char *body;                 /* OP_WAIT: owned */
  size_t len;
  item_t *items;              /* OP_RESULTS: owned */
  size_t nitems, cap;
  lgw_queue_stats_t st;
} qop_t;

/* The Job userdata; user value 1 keeps the queue userdata alive. */
typedef struct ljob {
  lgw_job_t *job;             /* NULL once finished */
  lgwL_queue_t *lq;
} ljob_t;

static lgwL_queue_t *check_queue(lua_State *L, int i) {
  return luaL_checkudata(L, i, LGWL_QUEUE);
}

static lgwL_queue_t *open_queue(lua_State *L, int i) {
  lgwL_queue_t *lq = check_queue(L, i);
  if (!lq->q) luaL_error(L, "the queue is closed");
  return lq;
}

/* ===== Operations ======================================================= */

static void op_unlink(qop_t *o) {
  lgwL_queue_t *lq = o->lq;
  if (!o->linked) return;
  lgw_list_remove(&o->link);
  o->linked = 0;
  luaL_unref(lq->m->L, LUA_REGISTRYINDEX, o->ref);
  o->ref = LUA_NOREF;
}

/* The operation has its outcome: wake the waiter. */
static void op_wake(qop_t *o) {
  o->done = 1;
  if (o->op.task) lgwL_ready(o->op.task);
}

/* The answer came (or will never come): unanchor and wake. */
static void op_complete(qop_t *o) {
  op_unlink(o);
  op_wake(o);
}

static void op_fail(qop_t *o, int code, const char *msg) {
  if (o->done) return;
  o->status = code;
  lgw_error_set(&o->err, code, "%s", msg);
  op_complete(o);
}

/* The waiting task was canceled: it resumes with "canceled", while the
 * record stays anchored until the C queue's callback has run. */
static void op_cancel(lgwL_op_t *op) {
  qop_t *o = (qop_t *)op;
  if (o->done) return;
  o->status = LGW_ECANCELED;
  lgw_error_set(&o->err, LGW_ECANCELED, "the task was canceled");
  if (o->kind == OP_JOIN) op_unlink(o);
  op_wake(o);
}

static int op_gc(lua_State *L) {
  qop_t *o = luaL_checkudata(L, 1, LGWL_QOP);
  size_t i;
  if (o->linked) op_unlink(o);
  lgw_free(o->body);
  o->body = NULL;
  for (i = 0; i < o->nitems; i++) {
    lgw_free(o->items[i].id);
    lgw_free(o->items[i].body);
  }
  lgw_free(o->items);
  o->items = NULL;
  o->nitems = 0;
  return 0;
}

/* Pushes a new operation of lq, linked and anchored. */
static qop_t *op_new(lua_State *L, lgwL_queue_t *lq, int kind) {
  qop_t *o = lua_newuserdatauv(L, sizeof *o, 0);
  memset(o, 0, sizeof *o);
  luaL_setmetatable(L, LGWL_QOP);
  o->lq = lq;
  o->kind = kind;
  o->op.cancel = op_cancel;
  lua_pushvalue(L, -1);
  o->ref = luaL_ref(L, LUA_REGISTRYINDEX);
  lgw_list_push_front(&lq->ops, &o->link);
  o->linked = 1;
  return o;
}

typedef int (*op_finish_fn)(lua_State *L, qop_t *o);

static int op_k(lua_State *L, int status, lua_KContext ctx);

/* Waits for o (on top of the stack) and returns what fin pushes. */
static int op_wait(lua_State *L, qop_t *o, op_finish_fn fin) {
  lgwL_module_t *m = o->lq->m;
  lgwL_task_t *t = lgwL_current(m, L);
  if (!o->done && t) {
    lgwL_block_op(t, &o->op);
    return lgwL_yieldk(L, (lua_KContext)fin, op_k);
  }
  while (!o->done) {
    int rc = lgwL_run_once(L, m);
    if (rc < 0 && !o->done) {
      op_cancel(&o->op);  /* anchored until the queue's callback ran */
      return lgwL_stop_error(L, m);
    }
    if (!rc && !o->done)
      op_fail(o, LGW_ECONNECT, "queue: nothing left to wait for");
  }
  return fin(L, o);
}

/* After the call that starts o: rc 0, wait for it as op_wait; else drop
 * it and return nil, err. */
static int op_start(lua_State *L, qop_t *o, int rc, const lgw_error_t *err,
                    op_finish_fn fin) {
  if (rc) {
    op_unlink(o);
    return lgwL_fail(L, err);
  }
  return op_wait(L, o, fin);
}

static int op_k(lua_State *L, int status, lua_KContext ctx) {
  qop_t *o = luaL_checkudata(L, -1, LGWL_QOP);
  (void)status;
  o->op.task = NULL;
  return ((op_finish_fn)ctx)(L, o);
}

/* Common entry: the task may not wait when it was canceled. */
static void check_may_wait(lua_State *L, lgwL_module_t *m) {
  lgwL_task_t *t = lgwL_current(m, L);
  if (!t) lgwL_check_block(L, m);
}

/* A new operation of the queue at argument 1 (open, and one that may be
 * waited for here), with *err cleared. */
static qop_t *op_open(lua_State *L, int kind, lgw_error_t *err) {
  lgwL_queue_t *lq = open_queue(L, 1);
  check_may_wait(L, lq->m);
  memset(err, 0, sizeof *err);
  return op_new(L, lq, kind);
}

/* ===== Opening and closing ============================================== */

static void opt_number(lua_State *L, int t, const char *k, double *out) {
  if (lua_getfield(L, t, k) != LUA_TNIL) {
    if (lua_type(L, -1) != LUA_TNUMBER || !(lua_tonumber(L, -1) > 0))
      luaL_error(L, "bad argument #3 to 'queue' (%s: positive number "
                 "expected, got %s)", k, luaL_typename(L, -1));
    *out = lua_tonumber(L, -1);
  }
  lua_pop(L, 1);
}

static void opt_int(lua_State *L, int t, const char *k, int *out) {
  if (lua_getfield(L, t, k) != LUA_TNIL) {
    if (!lua_isinteger(L, -1) || lua_tointeger(L, -1) < 1 ||
        lua_tointeger(L, -1) > 1000000)
      luaL_error(L, "bad argument #3 to 'queue' (%s: positive integer "
                 "expected, got %s)", k, lua_type(L, -1) == LUA_TNUMBER
                 ? "a number out of range" : luaL_typename(L, -1));
    *out = (int)lua_tointeger(L, -1);
  }
  lua_pop(L, 1);
}

/* queue(url, name [, {prefix=, visibility_timeout=, max_deliveries=,
 * concurrency=, block=}]) -> queue | nil, err */
static void on_drained(lgw_queue_t *q, void *ud);

static int l_queue(lua_State *L) {
  lgwL_module_t *m = lgwL_module(L);
  const char *url = luaL_checkstring(L, 1);
  size_t nlen;
  const char *name = luaL_checklstring(L, 2, &nlen);
  lgw_queue_options_t o;
  lgw_error_t err;
  lgwL_queue_t *lq;
  memset(&o, 0, sizeof o);
  memset(&err, 0, sizeof err);
  luaL_argcheck(L, nlen > 0 && nlen < sizeof lq->name &&
                strlen(name) == nlen, 2,
                "queue name: 1 to 127 bytes expected");
  if (!lua_isnoneornil(L, 3)) {
    static const char *const keys[] = {"prefix", "visibility_timeout",
      "block", "max_deliveries", "concurrency", NULL};
    luaL_checktype(L, 3, LUA_TTABLE);
    lgwL_check_keys(L, 3, 3, "", keys);
    if (lua_getfield(L, 3, "prefix") != LUA_TNIL) {
      if (lua_type(L, -1) != LUA_TSTRING)
        lgwL_argerror_path(L, 3, "prefix", "string", -1);
      o.prefix = lua_tostring(L, -1);  /* copied by lgw_queue_open */
    }
    opt_number(L, 3, "visibility_timeout", &o.visibility_timeout);
    opt_number(L, 3, "block", &o.block);
    opt_int(L, 3, "max_deliveries", &o.max_deliveries);
    opt_int(L, 3, "concurrency", &o.concurrency);
  }
  if (m->closing) return luaL_error(L, "llmgateway is shutting down");
  lq = lua_newuserdatauv(L, sizeof *lq, 1);
  memset(lq, 0, sizeof *lq);
  lgw_list_init(&lq->link);
  lgw_list_init(&lq->ops);
  lq->m = m;
  lq->runner_ref = lq->self_ref = LUA_NOREF;
  lq->max_deliveries = o.max_deliveries > 0 ? o.max_deliveries : 5;
  memcpy(lq->name, name, nlen + 1);
  luaL_setmetatable(L, LGWL_QUEUE);
  if (lgw_queue_open(lgwL_loop(L, m), url, name, &o, &lq->q, &err)) {
    lq->q = NULL;
    return lgwL_fail(L, &err);
  }
  lgw_queue_on_drained(lq->q, on_drained, lq);
  lgw_list_push_front(&m->queues, &lq->link);
  lgwL_log_flush(L, m);
  return 1;
}

/* Wake a join when consuming stopped, no job is in hand and every
 * outcome is written. */
static void check_joined(lgwL_queue_t *lq) {
  if (lq->consuming || lq->held > 0 || lgw_queue_pending_writes(lq->q) > 0)
    return;
  LGW_LIST_FOREACH_SAFE(l, n, &lq->ops) {
    qop_t *o = LGW_CONTAINER_OF(l, qop_t, link);
    if (o->kind == OP_JOIN) op_complete(o);
  }
}

static void on_drained(lgw_queue_t *q, void *ud) {
  (void)q;
  check_joined(ud);
}

/* Frees the C queue: its pending callbacks are dropped, so every waiting
 * operation completes here with "canceled". Jobs in hand stay valid. */
static void queue_close(lgwL_queue_t *lq) {
  lgwL_module_t *m = lq->m;
  if (!lq->q) return;
  lgw_queue_free(lq->q);
  lq->q = NULL;
  lq->consuming = 0;
  lgw_list_remove(&lq->link);
  luaL_unref(m->L, LUA_REGISTRYINDEX, lq->runner_ref);
  luaL_unref(m->L, LUA_REGISTRYINDEX, lq->self_ref);
  lq->runner_ref = lq->self_ref = LUA_NOREF;
  while (!lgw_list_empty(&lq->ops)) {
    qop_t *o = LGW_CONTAINER_OF(lq->ops.next, qop_t, link);
    if (o->kind == OP_JOIN) op_complete(o);
    else op_fail(o, LGW_ECANCELED, "the queue was closed");
  }
}

static int q_gc(lua_State *L) {
  queue_close(check_queue(L, 1));
  return 0;
}

static int q_close(lua_State *L) {
  queue_close(check_queue(L, 1));
  return 0;
}

static int q_tostring(lua_State *L) {
  lgwL_queue_t *lq = check_queue(L, 1);
  lua_pushfstring(L, "%s: %p (%s%s)", LGWL_QUEUE, (void *)lq, lq->name,
                  lq->q ? "" : ", closed");
  return 1;
}

/* The C queue answered o: 0 when its waiter is gone (o is let go), else
 * 1 with the status recorded. */
static int op_answered(qop_t *o, int status) {
  if (o->done) {
    op_unlink(o);
    return 0;
  }
  o->status = status;
  return 1;
}

/* ===== push ============================================================= */

static void on_pushed(lgw_queue_t *q, int status, const char *id,
                      const lgw_error_t *err, void *ud) {
  qop_t *o = ud;
  (void)q;
  (void)id;
  if (!op_answered(o, status)) return;
  if (status) {
    if (err) o->err = *err;
    else lgw_error_set(&o->err, status, "queue: the job was not stored");
  }
  op_complete(o);
}

static int push_finish(lua_State *L, qop_t *o) {
  lgwL_log_flush(L, o->lq->m);
  if (o->status) return lgwL_fail(L, &o->err);
  lua_pushstring(L, o->id);
  return 1;
}

/* q:push(request) -> id | nil, err: request (any JSON value) is stored
 * as JSON once Redis confirmed it. */
static int q_push(lua_State *L) {
  lgwL_queue_t *lq = open_queue(L, 1);
  lgw_error_t err;
  char *text;
  size_t len;
  qop_t *o;
  int rc;
  if (lua_isnoneornil(L, 2))
    return luaL_argerror(L, 2, "value expected (llm.null for null)");
  check_may_wait(L, lq->m);
  memset(&err, 0, sizeof err);
  /* the operation first: nothing may raise while text is held */
  o = op_new(L, lq, OP_PUSH);
  if (lgwL_to_json(L, 2, &text, &len, &err)) {
    op_unlink(o);
    if (err.code == LGW_ENOMEM) return luaL_error(L, "out of memory");
    return luaL_argerror(L, 2, err.message);
  }
  rc = lgw_queue_push(lq->q, text, len, o->id, on_pushed, o, &err);
  lgw_free(text);
  return op_start(L, o, rc, &err, push_finish);
}

/* ===== wait and results ================================================= */

/* A result body: its JSON value, or the text itself when it is not
 * JSON (results written by other programs). */
static void push_body(lua_State *L, const char *body, size_t len) {
  if (!lgwL_push_json_text(L, body, len)) lua_pushlstring(L, body, len);
}

/* The error of a job that failed for good. */
static void push_job_error(lua_State *L, const char *id, const char *body,
                           size_t len) {
  lgw_error_t e;
  memset(&e, 0, sizeof e);
  lgw_error_set(&e, LGW_EINVAL, "job %s failed: %.*s", id,
                 (int)(len > 900 ? 900 : len), body);
  lgwL_push_error(L, &e, NULL);
  lua_pushliteral(L, "job_failed");
  lua_setfield(L, -2, "code");
  lua_pushlstring(L, body, len);
  lua_setfield(L, -2, "error");
  lua_pushstring(L, id);
  lua_setfield(L, -2, "id");
}

static void on_waited(lgw_queue_t *q, int status, const char *id, int ok,
                      const char *body, size_t len, void *ud) {
  qop_t *o = ud;
  (void)q;
  (void)id;
  if (!op_answered(o, status)) return;
  o->ok = ok;
  if (status == LGW_ETIMEOUT)
    lgw_error_set(&o->err, status, "queue: no outcome for job %s yet",
                   o->id);
  else if (status)
    lgw_error_set(&o->err, status, "queue: waiting for job %s failed: "
                   "%s", o->id, lgw_strerror(status));
  else if (!(o->body = lgwL_strndup(body, len)))
    lgw_error_set(&o->err, o->status = LGW_ENOMEM, "out of memory");
  o->len = len;
  op_complete(o);
}

static int wait_finish(lua_State *L, qop_t *o) {
  lgwL_log_flush(L, o->lq->m);
  if (o->status) return lgwL_fail(L, &o->err);
  if (!o->ok) {
    lua_pushnil(L);
    push_job_error(L, o->id, o->body, o->len);
    return 2;
  }
  push_body(L, o->body, o->len);
  return 1;
}

/* q:wait(id [, timeout]) -> result | nil, err. err.code: "job_failed"
 * (err.error: the job's error text), "timeout", "connect", ... */
static int q_wait(lua_State *L) {
  lgwL_queue_t *lq = open_queue(L, 1);
  size_t len;
  const char *id = luaL_checklstring(L, 2, &len);
  lua_Number timeout = luaL_optnumber(L, 3, 0);
  lgw_error_t err;
  qop_t *o;
  luaL_argcheck(L, len > 0 && len < sizeof o->id, 2,
                "job id: 1 to 32 bytes expected");
  luaL_argcheck(L, timeout >= 0 && timeout < 1e9, 3,
                "non-negative number of seconds expected");
  check_may_wait(L, lq->m);
  memset(&err, 0, sizeof err);
  o = op_new(L, lq, OP_WAIT);
  memcpy(o->id, id, len + 1);
  return op_start(L, o, lgw_queue_wait(lq->q, id, timeout, on_waited, o,
                                       &err), &err, wait_finish);
}

static void on_listed(lgw_queue_t *q, int status, const char *id, int ok,
                      const char *body, size_t len, void *ud) {
  qop_t *o = ud;
  item_t *it;
  (void)q;
  if (o->done) {
    if (!id) op_unlink(o);
    return;
  }
  if (!id) {
    if (!o->status) o->status = status;
    if (status)
      lgw_error_set(&o->err, status, "queue: listing the results failed: "
                     "%.*s", (int)len, body);
    op_complete(o);
    return;
  }
  if (o->nitems == o->cap) {
    size_t cap = o->cap ? o->cap * 2 : 64;
    item_t *n = lgw_realloc(o->items, cap * sizeof *n);
    if (!n) {
      o->status = lgw_error_set(&o->err, LGW_ENOMEM, "out of memory");
      return;
    }
    o->items = n;
    o->cap = cap;
  }
  it = &o->items[o->nitems];
  it->id = lgwL_strdup(id);
  it->body = lgwL_strndup(body, len);
  it->len = len;
  it->ok = ok;
  if (!it->id || !it->body) {
    lgw_free(it->id);
    lgw_free(it->body);
    o->status = lgw_error_set(&o->err, LGW_ENOMEM, "out of memory");
    return;
  }
  o->nitems++;
}

static int results_finish(lua_State *L, qop_t *o) {
  size_t i;
  lgwL_log_flush(L, o->lq->m);
  if (o->status) return lgwL_fail(L, &o->err);
  lua_createtable(L, 0, (int)o->nitems);
  lua_newtable(L);
  for (i = 0; i < o->nitems; i++) {
    const item_t *it = &o->items[i];
    if (it->ok) push_body(L, it->body, it->len);
    else push_job_error(L, it->id, it->body, it->len);
    lua_setfield(L, it->ok ? -3 : -2, it->id);
  }
  return 2;
}

/* q:results() -> results, failed | nil, err: results[id] = the result of
 * every job with one; failed[id] = the error of every dead-lettered
 * job (as q:wait returns it). */
static int q_results(lua_State *L) {
  lgw_error_t err;
  qop_t *o = op_open(L, OP_RESULTS, &err);
  return op_start(L, o, lgw_queue_results(o->lq->q, on_listed, o, &err),
                  &err, results_finish);
}

/* ===== stats ============================================================ */

static void on_stats(lgw_queue_t *q, int status, const lgw_queue_stats_t *st,
                     void *ud) {
  qop_t *o = ud;
  (void)q;
  if (!op_answered(o, status)) return;
  if (status)
    lgw_error_set(&o->err, status, "queue: reading the counters failed: "
                   "%s", lgw_strerror(status));
  else
    o->st = *st;
  op_complete(o);
}

static void set_count(lua_State *L, const char *k, long long v) {
  lua_pushinteger(L, (lua_Integer)v);
  lua_setfield(L, -2, k);
}

static int stats_finish(lua_State *L, qop_t *o) {
  lgwL_queue_t *lq = o->lq;
  lgwL_log_flush(L, lq->m);
  if (o->status) return lgwL_fail(L, &o->err);
  lua_createtable(L, 0, 10);
  set_count(L, "length", o->st.length);
  set_count(L, "in_flight", o->st.in_flight);
  set_count(L, "done", o->st.done);
  set_count(L, "failed", o->st.failed);
  set_count(L, "duplicates", o->st.duplicates);
  lua_pushnumber(L, o->st.rate);
  lua_setfield(L, -2, "rate");
  lua_createtable(L, 0, 4);
  set_count(L, "held", lq->held);
  set_count(L, "done", lq->done);
  set_count(L, "failed", lq->failed);
  set_count(L, "retried", lq->retried);
  lua_setfield(L, -2, "local");
  return 1;
}

/* q:stats() -> {length=, in_flight=, done=, failed=, duplicates=, rate=,
 * local = {held=, done=, failed=, retried=}} | nil, err */
static int q_stats(lua_State *L) {
  lgw_error_t err;
  qop_t *o = op_open(L, OP_STATS, &err);
  return op_start(L, o, lgw_queue_stats(o->lq->q, on_stats, o, &err), &err,
                  stats_finish);
}

/* ===== consuming ======================================================== */

struct job_args {
  lgwL_queue_t *lq;
  lgw_job_t *job;
  const char *id, *payload;
  size_t len;
  int delivery;
  ljob_t *lj;                 /* the Job userdata, once made */
};

/* Under pcall in the callback thread: spawns runner(job, payload, id,
 * delivery, max_deliveries). The Job userdata exists before anything
 * else may fail, so that its __gc releases the job in any case. */
static int spawn_job(lua_State *L) {
  struct job_args *a = lua_touserdata(L, 1);
  lgwL_queue_t *lq = a->lq;
  ljob_t *j;
  lua_rawgeti(L, LUA_REGISTRYINDEX, lq->runner_ref);
  j = lua_newuserdatauv(L, sizeof *j, 1);
  j->job = a->job;
  j->lq = lq;
  lq->held++;
  a->lj = j;
  luaL_setmetatable(L, LGWL_JOB);
  lua_rawgeti(L, LUA_REGISTRYINDEX, lq->self_ref);
  lua_setiuservalue(L, -2, 1);
  lua_pushlstring(L, a->payload, a->len);
  lua_pushstring(L, a->id);
  lua_pushinteger(L, a->delivery);
  lua_pushinteger(L, lq->max_deliveries);
  lgwL_spawn(L, lq->m, 5);
  return 0;
}

static void job_finish(ljob_t *j, lgw_job_outcome_t outcome,
                       const char *body, size_t len) {
  lgwL_queue_t *lq = j->lq;
  lgw_job_t *job = j->job;
  if (!job) return;
  j->job = NULL;
  lgw_queue_finish(job, outcome, body, len);
  if (outcome == LGW_JOB_DONE) lq->done++;
  else if (outcome == LGW_JOB_FAILED) lq->failed++;
  else lq->retried++;
  lq->held--;
  check_joined(lq);
}

/* A delivered job (from the loop). */
static void on_job(lgw_queue_t *q, lgw_job_t *job, const char *id,
                   const char *payload, size_t len, int delivery, void *ud) {
  lgwL_queue_t *lq = ud;
  lgwL_module_t *m = lq->m;
  lua_State *cb = m->cb;
  struct job_args a;
  (void)q;
  a.lq = lq;
  a.job = job;
  a.id = id;
  a.payload = payload;
  a.len = len;
  a.delivery = delivery;
  a.lj = NULL;
  if (m->closing || !cb || lq->runner_ref == LUA_NOREF ||
      !lua_checkstack(cb, 4)) {
    lgw_queue_finish(job, LGW_JOB_RETRY, NULL, 0);
    return;
  }
  lua_pushcfunction(cb, spawn_job);
  lua_pushlightuserdata(cb, &a);
  if (lua_pcall(cb, 1, 0, 0) != LUA_OK) {
    /* released now (delivered again after the visibility timeout), not
     * when the collector frees the Job userdata: that may be never while
     * nothing allocates, and the job would stay in hand all along. The
     * unreachable userdata is still there (no collection step since the
     * error); its __gc then finds it finished. */
    char jid[64];
    snprintf(jid, sizeof jid, "%s", id);  /* the job may go with id */
    if (a.lj) job_finish(a.lj, LGW_JOB_RETRY, NULL, 0);
    else lgw_queue_finish(job, LGW_JOB_RETRY, NULL, 0);
    lgw_log(LGW_LOG_WARN, "queue %s: cannot start job %s (%s); it will be "
             "delivered again", lq->name, jid, lua_tostring(cb, -1));
    lua_pop(cb, 1);
  }
}

/* q:_consume(runner, consumer): runner(job, payload, id, delivery,
 * max_deliveries) runs as a task per delivered job and must end with
 * job:finish(...). */
static int q_consume(lua_State *L) {
  lgwL_queue_t *lq = open_queue(L, 1);
  const char *consumer = luaL_checkstring(L, 3);
  lgw_error_t err;
  int runner, self;
  luaL_checktype(L, 2, LUA_TFUNCTION);
  if (lq->runner_ref != LUA_NOREF)
    return luaL_error(L, "this queue already has a consumer");
  memset(&err, 0, sizeof err);
  /* both references before consuming starts (luaL_ref may raise out of
   * memory: then nothing was started, and the queue takes a consumer
   * later) */
  lua_pushvalue(L, 2);
  runner = luaL_ref(L, LUA_REGISTRYINDEX);
  lua_pushvalue(L, 1);
  self = luaL_ref(L, LUA_REGISTRYINDEX);
  lq->runner_ref = runner;
  if (lgw_queue_consume(lq->q, consumer, on_job, lq, &err)) {
    luaL_unref(L, LUA_REGISTRYINDEX, runner);
    luaL_unref(L, LUA_REGISTRYINDEX, self);
    lq->runner_ref = LUA_NOREF;
    return lgwL_fail(L, &err);
  }
  lq->self_ref = self;
  lq->consuming = 1;
  lua_pushboolean(L, 1);
  return 1;
}

static void queue_stop(lgwL_queue_t *lq) {
  if (!lq->q || !lq->consuming) return;
  lgw_queue_stop(lq->q);
  lq->consuming = 0;
  check_joined(lq);
}

/* q:stop(): take no new jobs; jobs in hand still finish. */
static int q_stop(lua_State *L) {
  queue_stop(check_queue(L, 1));
  return 0;
}

static int join_finish(lua_State *L, qop_t *o) {
  (void)o;
  lua_pushboolean(L, 1);
  return 1;
}

/* q:_join() -> true once consuming stopped and every job is finished. */
static int q_join(lua_State *L) {
  lgwL_queue_t *lq = check_queue(L, 1);
  qop_t *o;
  check_may_wait(L, lq->m);
  o = op_new(L, lq, OP_JOIN);
  luaL_unref(L, LUA_REGISTRYINDEX, o->ref);  /* no C callback holds it */
  o->ref = LUA_NOREF;
  if (!lq->consuming && lq->held == 0 && lgw_queue_pending_writes(lq->q) == 0)
    op_complete(o);
  return op_wait(L, o, join_finish);
}

/* q:_counts() -> {done=, failed=, retried=}: outcomes written here. */
static int q_counts(lua_State *L) {
  lgwL_queue_t *lq = check_queue(L, 1);
  lua_createtable(L, 0, 3);
  set_count(L, "done", lq->done);
  set_count(L, "failed", lq->failed);
  set_count(L, "retried", lq->retried);
  return 1;
}

/* q.name, q.max_deliveries, q.consuming, then the methods. */
static int q_index(lua_State *L) {
  lgwL_queue_t *lq = check_queue(L, 1);
  const char *k = lua_tostring(L, 2);
  if (k && !strcmp(k, "name")) lua_pushstring(L, lq->name);
  else if (k && !strcmp(k, "max_deliveries"))
    lua_pushinteger(L, lq->max_deliveries);
  else if (k && !strcmp(k, "consuming")) lua_pushboolean(L, lq->consuming);
  else if (k && !strcmp(k, "closed")) lua_pushboolean(L, lq->q == NULL);
  else {
    lua_pushvalue(L, 2);
    lua_rawget(L, lua_upvalueindex(1));
  }
  return 1;
}

/* ===== Jobs ============================================================= */

static int job_gc(lua_State *L) {
  ljob_t *j = luaL_checkudata(L, 1, LGWL_JOB);
  job_finish(j, LGW_JOB_RETRY, NULL, 0);
  return 0;
}

/* job:finish("done", body) | job:finish("failed", error) |
 * job:finish("retry"); a finished job ignores further calls (false). */
static int job_finish_method(lua_State *L) {
  static const char *const kinds[] = {"done", "failed", "retry", NULL};
  static const lgw_job_outcome_t outcomes[] = {LGW_JOB_DONE, LGW_JOB_FAILED,
                                               LGW_JOB_RETRY};
  ljob_t *j = luaL_checkudata(L, 1, LGWL_JOB);
  int k = luaL_checkoption(L, 2, NULL, kinds);
  size_t len = 0;
  const char *body = luaL_optlstring(L, 3, "", &len);
  if (!j->job) {
    lua_pushboolean(L, 0);
    return 1;
  }
  job_finish(j, outcomes[k], body, len);
  lua_pushboolean(L, 1);
  return 1;
}

/* ===== Module hooks ===================================================== */

int lgwL_queue_stop_all(lgwL_module_t *m) {
  lgwL_queue_t *lq;
  int n = 0;
  LGWL_EACH(lq, &m->queues, lgwL_queue_t, link)
    if (lq->consuming) {
      queue_stop(lq);
      n++;
    }
  return n;
}

void lgwL_queue_teardown(lgwL_module_t *m) {
  while (!lgw_list_empty(&m->queues))
    queue_close(LGW_CONTAINER_OF(m->queues.next, lgwL_queue_t, link));
}

static void on_progress_stats(lgw_queue_t *q, int status,
                              const lgw_queue_stats_t *st, void *ud) {
  lgwL_queue_t *lq = ud;
  (void)q;
  lq->stats_busy = 0;
  if (status) return;
  lq->st = *st;
  lq->have_stats = 1;
}

int lgwL_queue_progress(lgwL_module_t *m, lgwL_queue_progress_t *out) {
  lgwL_queue_t *lq;
  LGWL_EACH(lq, &m->queues, lgwL_queue_t, link)
    if (lq->runner_ref != LUA_NOREF) break;
  if (!lq) return 0;
  if (!lq->stats_busy && lq->q &&
      lgw_queue_stats(lq->q, on_progress_stats, lq, NULL) == 0)
    lq->stats_busy = 1;
  out->name = lq->name;
  out->have_stats = lq->have_stats;
  out->st = lq->st;
  out->held = lq->held;
  out->done = lq->done;
  out->failed = lq->failed;
  out->retried = lq->retried;
  return 1;
}

/* ===== Registration ===================================================== */

static const luaL_Reg q_methods[] = {
  {"push", q_push},
  {"wait", q_wait},
  {"results", q_results},
  {"stats", q_stats},
  {"stop", q_stop},
  {"close", q_close},
  {"_consume", q_consume},
  {"_join", q_join},
  {"_counts", q_counts},
  {NULL, NULL}
};

void lgwL_queue_open(lua_State *L) {
  static const char *const waiting[] = {"push", "wait", "results", "stats",
                                        "_join", NULL};
  static const luaL_Reg job_methods[] = {
    {"finish", job_finish_method},
    {NULL, NULL}
  };
  if (luaL_newmetatable(L, LGWL_QUEUE)) {
    lua_pushcfunction(L, q_gc);
    lua_setfield(L, -2, "__gc");
    lua_pushcfunction(L, q_gc);
    lua_setfield(L, -2, "__close");
    lua_pushcfunction(L, q_tostring);
    lua_setfield(L, -2, "__tostring");
    luaL_newlib(L, q_methods);
    lgwL_wrap_waiting(L, -1, waiting);
    lua_pushcclosure(L, q_index, 1);
    lua_setfield(L, -2, "__index");
  }
  lua_pop(L, 1);
  if (luaL_newmetatable(L, LGWL_JOB)) {
    lua_pushcfunction(L, job_gc);
    lua_setfield(L, -2, "__gc");
    luaL_newlib(L, job_methods);
    lua_setfield(L, -2, "__index");
  }
  lua_pop(L, 1);
  if (luaL_newmetatable(L, LGWL_QOP)) {
    lua_pushcfunction(L, op_gc);
    lua_setfield(L, -2, "__gc");
  }
  lua_pop(L, 1);
}

/* _decode_json(text) -> value | nil: strict JSON (no extraction). */
static int l_decode_json(lua_State *L) {
  size_t len;
  const char *text = luaL_checklstring(L, 1, &len);
  if (!lgwL_push_json_text(L, text, len)) lua_pushnil(L);
  return 1;
}

/* _consumer_name() -> "<host>-<pid>": unique among live workers. */
static int l_consumer_name(lua_State *L) {
  char host[256];
  size_t n = sizeof host;
  if (gethostname(host, n) != 0) snprintf(host, sizeof host, "host");
  host[sizeof host - 1] = '\0';
  lua_pushfstring(L, "%s-%d", host, (int)getpid());
  return 1;
}

void lgwL_queue_register(lua_State *L) {
  static const luaL_Reg funcs[] = {
    {"queue", l_queue},
    {"_decode_json", l_decode_json},
    {"_consumer_name", l_consumer_name},
    {NULL, NULL}
  };
  luaL_setfuncs(L, funcs, 0);
  /* The methods table, so the Lua front can add serve: _queue_methods. */
  luaL_getmetatable(L, LGWL_QUEUE);
  lua_getfield(L, -1, "__index");
  lua_getupvalue(L, -1, 1);
  lua_setfield(L, -4, "_queue_methods");
  lua_pop(L, 2);
}
