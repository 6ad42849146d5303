/*
 * redis.c -- one Redis connection driven by a libuv loop through hiredis's
 * async API and its libuv adapter: the connect handshake (AUTH, SELECT,
 * PING), reconnecting with backoff, per-command timeouts, EVALSHA with an
 * EVAL fallback, and logging an outage once. Nothing else in the project
 * includes hiredis (but hiredis_dl.c, which opens it at the first
 * connection).
 */
#include "redis.h"

#include <stdio.h>
#include <string.h>

#include <hiredis/async.h>
#include <hiredis/hiredis.h>
/* the calls to hiredis (and those of its libuv adapter's static
 * functions) go through the table hiredis_dl.c fills */
#include "hiredis_dl.h"
#include "../engine/uv_dl.h"  /* before the adapter, which calls libuv */
#include <hiredis/adapters/libuv.h>

#include "list.h"
#include "sha.h"
#include "util.h"

#define TICK_MS 50
#define DEFAULT_TIMEOUT 5.0

struct lgw__redis_call {
  lgw__redis_t *r;
  lgw__redis_fn cb;            /* NULL once forgotten */
  void *ud;
  int ud_owned;                /* ud is freed if cb will not run */
  double deadline;             /* ms on lgw__now_ms */
  lgw_link_t link;             /* in r->calls, in sending order */
  int handshake;               /* AUTH/SELECT/PING of a connect */
  /* an EVALSHA, kept to be sent again as EVAL after NOSCRIPT */
  lgw__redis_script_t *script;
  int argc;                    /* of argv, "EVALSHA sha nkeys ..." */
  char **argv;                 /* owned */
  size_t *lens;                /* owned */
};

struct lgw__redis {
  uv_loop_t *loop;
  lgw__redis_url_t url;
  char name[300];
  lgw__redis_opts_t o;
  redisAsyncContext *ac;       /* NULL between attempts */
  int ready, freeing, down_logged, handles;
  double backoff;              /* seconds before the next attempt */
  char why[160];               /* why the connection went away */
  uv_timer_t tick, retry;      /* command timeouts; reconnect */
  uv_timer_t every;            /* lgw__redis_every */
  lgw__redis_up_fn every_fn;
  void *every_ud;
  lgw_link_t calls;
};

/* ---- replies -------------------------------------------------------------- */

int lgw__rr_type(const lgw__rreply_t *r) { return r ? r->type : 0; }

long long lgw__rr_int(const lgw__rreply_t *r) {
  return r && r->type == REDIS_REPLY_INTEGER ? r->integer : 0;
}

const char *lgw__rr_str(const lgw__rreply_t *r, size_t *len) {
  int ok = r && r->str && (r->type == REDIS_REPLY_STRING ||
                           r->type == REDIS_REPLY_STATUS ||
                           r->type == REDIS_REPLY_ERROR);
  if (len) *len = ok ? r->len : 0;
  return ok ? r->str : "";
}

size_t lgw__rr_len(const lgw__rreply_t *r) {
  return r && r->type == REDIS_REPLY_ARRAY ? r->elements : 0;
}

const lgw__rreply_t *lgw__rr_at(const lgw__rreply_t *r, size_t i) {
  return i < lgw__rr_len(r) ? r->element[i] : NULL;
}

long long lgw__rr_num(const lgw__rreply_t *r, long long dflt) {
  char buf[32], *end;
  long long v;
  if (r && r->type == REDIS_REPLY_INTEGER) return r->integer;
  if (!r || r->type != REDIS_REPLY_STRING || !r->len || r->len >= sizeof buf)
    return dflt;
  memcpy(buf, r->str, r->len);
  buf[r->len] = '\0';
  v = strtoll(buf, &end, 10);
  return *end ? dflt : v;
}

/* ---- calls ---------------------------------------------------------------- */

static void call_free(lgw__redis_call_t *c) {
  int i;
  for (i = 0; c->argv && i < c->argc; i++) lgw_free(c->argv[i]);
  lgw_free(c->argv);
  lgw_free(c->lens);
  lgw_free(c);
}

static void on_tick(uv_timer_t *t);

static void call_link(lgw__redis_t *r, lgw__redis_call_t *c) {
  lgw_list_push_back(&r->calls, &c->link);
  if (!uv_is_active((uv_handle_t *)&r->tick))
    uv_timer_start(&r->tick, on_tick, TICK_MS, TICK_MS);
}

static void on_reply(redisAsyncContext *ac, void *reply, void *priv);

/* Hand c to hiredis; 0, or LGW_ECONNECT (c not linked). */
static int call_send(lgw__redis_t *r, lgw__redis_call_t *c, int argc,
                     const char *const *argv, const size_t *lens) {
  if (!r->ac || r->freeing ||
      redisAsyncCommandArgv(r->ac, on_reply, c, argc, (const char **)argv,
                            lens) != REDIS_OK)
    return LGW_ECONNECT;
  call_link(r, c);
  return 0;
}

/* ---- the libuv adapter's poll, with errors passed on ---------------------- */

/* hiredis 0.14's libuv adapter drops a poll error (a refused connect), so
 * the connection would only time out. Like later versions, hand an error
 * on as the events asked for: hiredis then reads the socket's error. */
static void on_poll(uv_poll_t *handle, int status, int events) {
  redisLibuvEvents *p = handle->data;
  int ev = status ? p->events : events;
  if (p->context && (ev & UV_READABLE)) redisAsyncHandleRead(p->context);
  if (p->context && (ev & UV_WRITABLE)) redisAsyncHandleWrite(p->context);
}

static void poll_again(void *privdata) {
  redisLibuvEvents *p = privdata;
  if (p->events) uv_poll_start(&p->handle, p->events, on_poll);
}

/* The adapter's event hooks, each followed by poll_again. */
#define POLL_AGAIN_AFTER(name, fn)                                          \
  static void name(void *privdata) {                                       \
    fn(privdata);                                                          \
    poll_again(privdata);                                                  \
  }
POLL_AGAIN_AFTER(add_read, redisLibuvAddRead)
POLL_AGAIN_AFTER(del_read, redisLibuvDelRead)
POLL_AGAIN_AFTER(add_write, redisLibuvAddWrite)
POLL_AGAIN_AFTER(del_write, redisLibuvDelWrite)

/* ---- connecting ------------------------------------------------------------- */

static void connect_now(lgw__redis_t *r);

static void on_retry(uv_timer_t *t) { connect_now(t->data); }

/* The connection is gone (or never came): log once, try again later. */
static void went_down(lgw__redis_t *r, const char *why) {
  r->ac = NULL;
  r->ready = 0;
  if (r->freeing) return;
  snprintf(r->why, sizeof r->why, "%s", why && why[0] ? why
                                                      : "connection lost");
  if (!r->down_logged) {
    r->down_logged = 1;
    lgw__log(LGW_LOG_WARN, "%s: Redis at %s is unreachable (%s); going on "
             "without it and reconnecting in the background", r->o.what,
             r->name, r->why);
  } else {
    lgw__log(LGW_LOG_DEBUG, "%s: Redis at %s: %s", r->o.what, r->name,
             r->why);
  }
  uv_timer_start(&r->retry, on_retry, (uint64_t)(r->backoff * 1000.0), 0);
  r->backoff *= 2;
  if (r->backoff > r->o.backoff_max) r->backoff = r->o.backoff_max;
}

/* Close the current connection on purpose (timeout, failed handshake). */
static void drop(lgw__redis_t *r, const char *why) {
  redisAsyncContext *ac = r->ac;
  if (!ac) return;
  went_down(r, why);
  redisAsyncFree(ac);  /* pending calls get no reply: see on_reply */
}

static void on_connect(const redisAsyncContext *ac, int status) {
  lgw__redis_t *r = ac->data;
  if (status != REDIS_OK && r->ac == ac)
    went_down(r, ac->errstr);  /* hiredis frees ac */
}

static void on_disconnect(const redisAsyncContext *ac, int status) {
  lgw__redis_t *r = ac->data;
  (void)status;
  if (r->ac == ac) went_down(r, ac->err ? ac->errstr : "connection closed");
}

static void on_handshake(lgw__redis_t *r, const lgw__rreply_t *reply,
                         const char *err, void *ud) {
  int last = ud != NULL;
  if (!reply) return;  /* the connection already went down */
  if (err) {
    char why[160];
    snprintf(why, sizeof why, "%.150s", err);
    drop(r, why);
    return;
  }
  if (!last) return;
  r->ready = 1;
  r->backoff = r->o.backoff_min;
  if (r->down_logged) {
    r->down_logged = 0;
    lgw__log(LGW_LOG_WARN, "%s: Redis at %s is reachable again", r->o.what,
             r->name);
  }
  if (r->o.on_up) r->o.on_up(r, r->o.ud);
}

/* Queue one handshake command; last marks the PING that ends it. */
static int handshake(lgw__redis_t *r, int last, int argc,
                     const char *const *argv) {
  lgw__redis_call_t *c = lgw__calloc(1, sizeof *c);
  if (!c) return LGW_ENOMEM;
  c->r = r;
  c->cb = on_handshake;
  c->ud = last ? r : NULL;
  c->handshake = 1;
  c->deadline = lgw__now_ms() + r->o.connect_timeout * 1000.0;
  if (call_send(r, c, argc, argv, NULL)) {
    lgw_free(c);
    return LGW_ECONNECT;
  }
  return 0;
}

static void connect_now(lgw__redis_t *r) {
  redisAsyncContext *ac;
  redisLibuvEvents *ev;
  char db[16];
  const char *auth[] = {"AUTH", r->url.user, r->url.password};
  const char *sel[] = {"SELECT", db};
  const char *ping[] = {"PING"};
  int rc = 0;
  if (r->freeing || r->ac) return;
  ac = redisAsyncConnect(r->url.host, r->url.port);
  if (!ac) {
    went_down(r, "out of memory");
    return;
  }
  if (ac->err) {
    char why[160];
    snprintf(why, sizeof why, "%.150s", ac->errstr);
    redisAsyncFree(ac);
    went_down(r, why);
    return;
  }
  ac->data = r;
  if (redisLibuvAttach(ac, r->loop) != REDIS_OK) {
    redisAsyncFree(ac);
    went_down(r, "cannot watch the socket");
    return;
  }
  ac->ev.addRead = add_read;
  ac->ev.delRead = del_read;
  ac->ev.addWrite = add_write;
  ac->ev.delWrite = del_write;
  /* the socket alone does not keep the loop alive; waiting calls do */
  ev = ac->ev.data;
  uv_unref((uv_handle_t *)&ev->handle);
  redisAsyncSetConnectCallback(ac, on_connect);
  redisAsyncSetDisconnectCallback(ac, on_disconnect);
  r->ac = ac;
  snprintf(db, sizeof db, "%d", r->url.db);
  if (!r->url.user[0]) auth[1] = r->url.password;  /* AUTH password */
  if (r->url.password[0]) rc = handshake(r, 0, r->url.user[0] ? 3 : 2, auth);
  if (!rc && r->url.db) rc = handshake(r, 0, 2, sel);
  if (!rc) rc = handshake(r, 1, 1, ping);
  if (rc)
    drop(r, rc == LGW_ENOMEM ? lgw__redis_oom : "cannot send the handshake");
}

/* Any call past its deadline: the server is not answering; reconnect. */
static void on_tick(uv_timer_t *t) {
  lgw__redis_t *r = t->data;
  double now = lgw__now_ms();
  if (lgw_list_empty(&r->calls)) {
    uv_timer_stop(t);
    return;
  }
  LGW_LIST_FOREACH(l, &r->calls) {
    const lgw__redis_call_t *c = LGW_CONTAINER_OF(l, lgw__redis_call_t, link);
    if (now >= c->deadline) {
      drop(r, c->handshake ? "no answer to the handshake in time"
                           : "timed out waiting for a reply");
      return;
    }
  }
}

static void on_reply(redisAsyncContext *ac, void *reply, void *priv) {
  lgw__redis_call_t *c = priv;
  lgw__redis_t *r = c->r;
  redisReply *rep = reply;
  const char *err = NULL;
  (void)ac;
  lgw_list_remove(&c->link);
  if (lgw_list_empty(&r->calls)) uv_timer_stop(&r->tick);
  if (r->freeing || !c->cb) {
    if (c->ud_owned) lgw_free(c->ud);
    call_free(c);
    return;
  }
  if (!rep) {
    err = r->why[0] ? r->why : "connection lost";
  } else if (rep->type == REDIS_REPLY_ERROR) {
    err = rep->str ? rep->str : "error";
    if (c->script && strncmp(err, "NOSCRIPT", 8) == 0) {
      const char *saved = c->argv[1];
      lgw_free(c->argv[0]);
      c->argv[0] = lgw__strdup("EVAL");
      c->argv[1] = lgw__strdup(c->script->src);
      lgw_free((char *)saved);
      c->script = NULL;
      if (c->argv[0] && c->argv[1]) {
        c->lens[0] = 4;
        c->lens[1] = strlen(c->argv[1]);
        if (call_send(r, c, c->argc, (const char *const *)c->argv,
                      c->lens) == 0)
          return;
      }
      err = c->argv[0] && c->argv[1] ? "cannot send the script"
                                     : lgw__redis_oom;
      rep = NULL;
    }
  }
  c->cb(r, rep, err, c->ud);
  call_free(c);
}

/* ---- public (internal) API --------------------------------------------------- */

const char lgw__redis_oom[] = "out of memory";

int lgw__redis_err_code(const char *err) {
  return err == lgw__redis_oom ? LGW_ENOMEM : LGW_ECONNECT;
}

static void on_timer_close(uv_handle_t *h) {
  lgw__redis_t *r = h->data;
  if (--r->handles == 0) lgw_free(r);
}

int lgw__redis_new(struct uv_loop_s *loop, const lgw__redis_url_t *url,
                   const lgw__redis_opts_t *opts, lgw__redis_t **out,
                   lgw_error_t *err) {
  lgw__redis_t *r;
  *out = NULL;
  if (!loop || !url)
    return lgw__error_set(err, LGW_EINVAL, "lgw__redis_new: invalid "
                                           "arguments");
  if (lgw__hiredis_load())
    return lgw__error_set(err, LGW_EIO, "%s", lgw__hiredis_error());
  if (lgw__uv_load())
    return lgw__error_set(err, LGW_EIO, "%s", lgw__uv_error());
  r = lgw__calloc(1, sizeof *r);
  if (!r) return lgw__error_set(err, LGW_ENOMEM, "out of memory");
  r->loop = loop;
  r->url = *url;
  if (opts) r->o = *opts;
  if (!r->o.what) r->o.what = "redis";
  if (r->o.connect_timeout <= 0) r->o.connect_timeout = 2.0;
  if (r->o.backoff_min <= 0) r->o.backoff_min = 0.1;
  if (r->o.backoff_max < r->o.backoff_min)
    r->o.backoff_max = r->o.backoff_min > 5.0 ? r->o.backoff_min : 5.0;
  r->backoff = r->o.backoff_min;
  snprintf(r->name, sizeof r->name, strchr(url->host, ':') ? "[%s]:%d/%d"
                                                           : "%s:%d/%d",
           url->host, url->port, url->db);
  lgw_list_init(&r->calls);
  uv_timer_init(loop, &r->tick);
  uv_timer_init(loop, &r->retry);
  uv_timer_init(loop, &r->every);
  r->tick.data = r->retry.data = r->every.data = r;
  uv_unref((uv_handle_t *)&r->retry);
  uv_unref((uv_handle_t *)&r->every);
  r->handles = 3;
  connect_now(r);
  *out = r;
  return 0;
}

void lgw__redis_free(lgw__redis_t *r) {
  redisAsyncContext *ac;
  if (!r || r->freeing) return;
  r->freeing = 1;
  ac = r->ac;
  r->ac = NULL;
  if (ac) redisAsyncFree(ac);
  uv_close((uv_handle_t *)&r->tick, on_timer_close);
  uv_close((uv_handle_t *)&r->retry, on_timer_close);
  uv_close((uv_handle_t *)&r->every, on_timer_close);
}

static void on_every(uv_timer_t *t) {
  lgw__redis_t *r = t->data;
  r->every_fn(r, r->every_ud);
}

void lgw__redis_every(lgw__redis_t *r, double seconds, lgw__redis_up_fn fn,
                      void *ud) {
  uint64_t ms = (uint64_t)(seconds * 1000);
  r->every_fn = fn;
  r->every_ud = ud;
  uv_timer_start(&r->every, on_every, ms, ms);
}

int lgw__redis_ready(const lgw__redis_t *r) { return r && r->ready; }

const char *lgw__redis_name(const lgw__redis_t *r) { return r->name; }

/* A call record of r with its deadline (timeout seconds; 0: the
 * default); NULL when out of memory. */
static lgw__redis_call_t *call_new(lgw__redis_t *r, double timeout,
                                   lgw__redis_fn cb, void *ud) {
  lgw__redis_call_t *c = lgw__calloc(1, sizeof *c);
  if (!c) return NULL;
  c->r = r;
  c->cb = cb;
  c->ud = ud;
  c->deadline = lgw__now_ms() +
                (timeout > 0 ? timeout : DEFAULT_TIMEOUT) * 1000.0;
  return c;
}

int lgw__redis_cmd(lgw__redis_t *r, double timeout, lgw__redis_fn cb,
                   void *ud, lgw__redis_call_t **call, int argc,
                   const char *const *argv, const size_t *lens) {
  lgw__redis_call_t *c;
  if (call) *call = NULL;
  if (!r || !cb || argc < 1 || !argv) return LGW_EINVAL;
  if (!r->ac || r->freeing) return LGW_ECONNECT;
  c = call_new(r, timeout, cb, ud);
  if (!c) return LGW_ENOMEM;
  if (call_send(r, c, argc, argv, lens)) {
    lgw_free(c);
    return LGW_ECONNECT;
  }
  if (call) *call = c;
  return 0;
}

/* Lower-case hex SHA-1 of the script, as Redis names it. */
static int script_sha(lgw__redis_script_t *s) {
  unsigned char md[20];
  if (s->sha[0]) return 0;
  lgw__sha1(s->src, strlen(s->src), md);
  lgw__hex(md, sizeof md, s->sha);
  return 0;
}

int lgw__redis_eval(lgw__redis_t *r, lgw__redis_script_t *s, double timeout,
                    lgw__redis_fn cb, void *ud, lgw__redis_call_t **call,
                    int nkeys, int argc, const char *const *argv,
                    const size_t *lens) {
  lgw__redis_call_t *c;
  char nk[16];
  int i, ok, n = argc + 3;
  if (call) *call = NULL;
  if (!r || !s || !cb || argc < 0 || nkeys < 0 || nkeys > argc)
    return LGW_EINVAL;
  if (!r->ac || r->freeing) return LGW_ECONNECT;
  if (script_sha(s)) return LGW_ENOMEM;
  c = call_new(r, timeout, cb, ud);
  if (!c) return LGW_ENOMEM;
  c->script = s;
  c->argc = n;
  c->argv = lgw__calloc((size_t)n, sizeof *c->argv);
  c->lens = lgw__calloc((size_t)n, sizeof *c->lens);
  snprintf(nk, sizeof nk, "%d", nkeys);
  if (c->argv && c->lens) {
    c->argv[0] = lgw__strdup("EVALSHA");
    c->argv[1] = lgw__strdup(s->sha);
    c->argv[2] = lgw__strdup(nk);
    for (i = 0; i < argc; i++) {
      size_t len = lens ? lens[i] : strlen(argv[i]);
      c->argv[i + 3] = lgw__strndup(argv[i], len);
      c->lens[i + 3] = len;
    }
    c->lens[0] = 7;
    c->lens[1] = 40;
    c->lens[2] = strlen(nk);
  }
  ok = c->argv && c->lens;
  for (i = 0; ok && i < n; i++) ok = c->argv[i] != NULL;
  if (!ok) {
    call_free(c);
    return LGW_ENOMEM;
  }
  if (call_send(r, c, n, (const char *const *)c->argv, c->lens)) {
    call_free(c);
    return LGW_ECONNECT;
  }
  if (call) *call = c;
  return 0;
}

void lgw__redis_forget(lgw__redis_call_t *call) {
  if (call) call->cb = NULL;
}

void lgw__redis_own_ud(lgw__redis_call_t *call) {
  if (call) call->ud_owned = 1;
}
