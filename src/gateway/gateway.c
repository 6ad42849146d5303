/*
 * gateway.c -- the gateway and the lifecycle of its requests: creating and
 * freeing the gateway, submitting, cancelling, the overall deadline,
 * running the loop, and delivering deltas, events and completion
 * callbacks. These run from the loop through a deferred call of the
 * engine (engine.h), never from inside libcurl or the caller's own call.
 * The attempts of a request are in gateway_attempt.c, streamed attempts
 * in gateway_stream.c.
 */
#include "llmgateway.h"

#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>

#include "breaker.h"
#include "cjson_dl.h"
#include "config.h"
#include "engine.h"
#include "env.h"
#include "events.h"
#include "gateway_priv.h"
#include "provider_state.h"
#include "ratelimit.h"
#include "route.h"
#include "state_redis.h"
#include "transport.h"
#include "url.h"
#include "util.h"

const lgw_error_t lgw__gw_oom_error = {LGW_ENOMEM, 0, "out of memory"};

/* ---- small helpers ------------------------------------------------------- */

/* snprintf for messages: a long one is cut at cap. */
void lgw__gw_msgf(char *out, size_t cap, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(out, cap, fmt, ap);
  va_end(ap);
}

/* No configured secret survives in msg. */
void lgw__gw_redact(const lgw_gateway_t *gw, char *msg, size_t cap) {
  lgw__redact(&gw->secrets, msg, cap);
}

/* ---- secrets, shown URLs and CA files ------------------------------------ */

/* Percent-decoded s[0..n) into b (reset first). */
static int pct_decode(lgw__buf_t *b, const char *s, size_t n) {
  b->len = 0;
  if (lgw__buf_reserve(b, n)) return LGW_ENOMEM;
  lgw__url_decode(s, n, b->data, &b->len);
  return 0;
}

/* A header or query parameter whose name says it carries a credential:
 * its value is redacted in pieces, any other value only whole. */
static int credential_name(const char *name, size_t n) {
  static const char *const words[] = {"auth", "key", "token", "secret",
                                      "pass", "cookie", "session", "sig",
                                      "credential", NULL};
  size_t i, j;
  for (i = 0; words[i]; i++)
    for (j = 0; j + strlen(words[i]) <= n; j++)
      if (lgw__strncasecmp(name + j, words[i], strlen(words[i])) == 0)
        return 1;
  return 0;
}

/* A piece of a URL as written and percent-decoded. */
static int add_url_secret(lgw__secrets_t *l, const char *s, size_t n,
                          int whole, lgw__buf_t *tmp) {
  return lgw__secrets_add(l, s, n, whole) || pct_decode(tmp, s, n) ||
         lgw__secrets_add(l, tmp->data, tmp->len, whole);
}

/* The credentials in a URL: its userinfo (whole, each part, and as the
 * Basic authorization curl sends for it) and its query values (those of
 * credential names; any other of at least LGW__SECRET_PIECE bytes where
 * it appears whole). */
static int url_secrets(lgw__secrets_t *l, const char *url) {
  lgw__url_parts_t u;
  lgw__buf_t tmp, b64;
  int rc = 0;
  lgw__buf_init(&tmp);
  lgw__buf_init(&b64);
  lgw__url_parts(url, &u);
  if (u.user) {
    const char *colon = memchr(u.user, ':', u.user_len);
    size_t ul = colon ? (size_t)(colon - u.user) : u.user_len;
    rc = add_url_secret(l, u.user, u.user_len, 0, &tmp) ||
         add_url_secret(l, u.user, ul, 0, &tmp) ||
         (colon &&
          add_url_secret(l, colon + 1, u.user_len - ul - 1, 0, &tmp)) ||
         pct_decode(&tmp, u.user, u.user_len) ||
         lgw__base64(&b64, tmp.data, tmp.len) ||
         lgw__secrets_add(l, b64.data, b64.len, 0);
  }
  while (!rc && u.query && u.query_len) {
    size_t n = strcspn(u.query, "&#"), vn;
    const char *eq, *v;
    if (n > u.query_len) n = u.query_len;
    eq = memchr(u.query, '=', n);
    v = eq ? eq + 1 : u.query;
    vn = n - (size_t)(v - u.query);
    if (eq && credential_name(u.query, (size_t)(eq - u.query)))
      rc = add_url_secret(l, v, vn, 0, &tmp);
    else if (vn >= LGW__SECRET_PIECE)
      rc = add_url_secret(l, v, vn, 1, &tmp);
    u.query += n;
    u.query_len -= n;
    if (u.query_len && *u.query == '&') {
      u.query++;
      u.query_len--;
    }
  }
  lgw__buf_free(&tmp);
  lgw__buf_free(&b64);
  return rc ? LGW_ENOMEM : 0;
}

/* Every configured secret: API keys, header values (of credential
 * names; any other of at least LGW__SECRET_PIECE bytes where it appears
 * whole), credentials in base URLs and in the Redis URL of the shared
 * state. */
static int secrets_new(lgw__secrets_t *l, const lgw_runtime_t *rt) {
  size_t i, j;
  for (i = 0; i < rt->nproviders; i++) {
    const lgw__provider_t *p = &rt->providers[i];
    if (p->api_key &&
        lgw__secrets_add(l, p->api_key, strlen(p->api_key), 0))
      return LGW_ENOMEM;
    for (j = 0; j < p->headers.n; j++) {
      const char *k = p->headers.items[j].key, *v = p->headers.items[j].value;
      int cred = credential_name(k, strlen(k));
      if ((cred || strlen(v) >= LGW__SECRET_PIECE) &&
          lgw__secrets_add(l, v, strlen(v), !cred))
        return LGW_ENOMEM;
    }
    if (p->base_url && url_secrets(l, p->base_url)) return LGW_ENOMEM;
  }
  if (rt->state && url_secrets(l, rt->state)) return LGW_ENOMEM;
  return 0;
}

/* ---- events and outcome -------------------------------------------------- */

/* Deltas, events and completions run from the deferred call; while
 * dispatch runs, it takes what is queued meanwhile too. */
void lgw__gw_wake(lgw_gateway_t *gw) {
  if (!gw->closing && !gw->cb_depth)
    gw->eng->ops->defer_arm(gw->eng, gw->wake);
}

void lgw__gw_queue_event(lgw_gateway_t *gw, const lgw_event_t *ev) {
  if (!gw->on_event) return;
  if (lgw__notes_event(&gw->notes, ev)) {
    lgw__log(LGW_LOG_WARN, "event dropped: out of memory");
    return;
  }
  lgw__gw_wake(gw);
}

static void dl_remove(lgw_gateway_t *gw, qreq_t *h);

/* The request has its outcome: queue its event and its callback. */
void lgw__gw_finish(req_t *q, int status) {
  lgw_gateway_t *gw = q->gw;
  lgw_event_t ev;
  /* a success is reported whole, or not at all */
  if (status == 0 && (q->att_lost || lgw__gw_result_calls(q))) {
    lgw__error_set(lgw__gw_req_err(q), LGW_ENOMEM, "LLM request for task "
                   "'%s' failed: out of memory keeping its result.", q->task);
    status = LGW_ENOMEM;
  }
  if (status && !q->err) status = LGW_ENOMEM;  /* no room for its message */
  /* Every provider failed: the code is the class of the last attempt's
   * failure (auth, timeout...), the one that decided the outcome. */
  if (status == LGW_EEXHAUSTED && q->natt && q->att[q->natt - 1].code)
    status = q->att[q->natt - 1].code;
  q->status = status;
  if (q->err) {
    q->err->code = status;
    q->err->http_status = q->last_status;
    lgw__gw_redact(gw, q->err->message, sizeof q->err->message);
  }
  q->state = S_DONE;
  if (q->deadline_timer)
    gw->eng->ops->timer_stop(gw->eng, q->deadline_timer);
  if (q->h) dl_remove(gw, q->h);
  if (!gw->on_event) goto queued;  /* no listener: no event to build */
  memset(&ev, 0, sizeof ev);
  ev.type = LGW_EVENT_REQUEST_END;
  ev.request_id = q->id;
  ev.task = q->task;
  ev.ttft = -1;
  if (status == 0) {
    ev.provider_index = (int)q->winner + 1;
    ev.provider_type = prov_type(&gw->rt->providers[q->winner]);
    ev.base_url = gw->shown_urls[q->winner];
    ev.model = q->route->model;
    ev.ttft = q->win_ttft;
  }
  ev.attempt = (int)q->natt;
  ev.http_status = q->last_status;
  ev.code = status;
  ev.message = status ? (q->err ? q->err : &lgw__gw_oom_error)->message : "";
  ev.latency = eng_now(gw) - q->start_s;
  ev.usage = q->usage_total;
  ev.cost = q->cost_total;
  lgw__gw_queue_event(gw, &ev);
queued:
  lgw_list_push_back(&gw->done, &q->q_link);
  lgw__gw_wake(gw);
}

/* q->err, allocated on first use; NULL when memory is short (finish then
 * reports LGW_ENOMEM). */
lgw_error_t *lgw__gw_req_err(req_t *q) {
  if (!q->err) q->err = lgw__calloc(1, sizeof *q->err);
  return q->err;
}

/* q->err for a request stopped by cancel or deadline. */
void lgw__gw_stop_error(req_t *q) {
  if (q->stop_code == LGW_EDEADLINE)
    lgw__error_set(lgw__gw_req_err(q), LGW_EDEADLINE,
                   "LLM request for task '%s' did not finish within its "
                   "deadline of %.1fs.", q->task, q->deadline);
  else
    lgw__error_set(lgw__gw_req_err(q), LGW_ECANCELED,
                   "LLM request for task '%s' was canceled.", q->task);
}

static void finish_stopped(req_t *q) {
  lgw__gw_stop_error(q);
  lgw__gw_finish(q, q->stop_code);
}

/* ---- request timers, cancellation and the deadline ----------------------- */

/* Start (or restart) one of the request's own timers, allocated on first
 * use (freed with the request). */
int lgw__gw_timer_start(req_t *q, lgw__timer_t **t, lgw__engine_fn fn,
                        double seconds) {
  lgw__engine_t *e = q->gw->eng;
  if (!*t && !(*t = e->ops->timer_new(e, fn, q))) return LGW_ENOMEM;
  e->ops->timer_start(e, *t, seconds);
  return 0;
}

/* Stop a request that is still running, with code. */
static void stop(req_t *q, int code) {
  if (q->state == S_DONE || q->stop_code) return;
  q->stop_code = code;
  switch (q->state) {
    case S_HTTP:
      q->gw->eng->ops->cancel(q->gw->eng, q->http);  /* on_http finishes it */
      return;
    case S_SLEEP:
      q->gw->eng->ops->timer_stop(q->gw->eng, q->sleep_timer);
      break;
    case S_PACE:
      lgw__redis_forget(q->rs_call);
      q->rs_call = NULL;
      break;
    case S_WAIT:
      lgw_list_remove(&q->node.wait);
      break;
    default:
      break;
  }
  finish_stopped(q);
}

static void on_deadline(void *ud) { stop(ud, LGW_EDEADLINE); }

/* ---- completion ---------------------------------------------------------- */

/* ---- queued requests in compact form --------------------------------------
 *
 * A request that must wait for a slot when it is submitted (every slot
 * taken, or others already waiting) and that carries only messages
 * (role, content, name, tool_call_id, is_error; no parts, tool calls,
 * tools, overrides or other options) is planned on a full record as any
 * other; when that plan leaves it waiting for a slot with nothing to
 * remember but its provider order, route and token estimate, it waits as
 * one exact-size block, a qreq_t, and its record goes back to the pool.
 * The block holds the request data from submit to completion: a full
 * record made for it points into it. */

enum { QF_DEADLINE = 1, QF_DELTA = 2, QF_TDELTA = 4, QF_BIG = 8 };
enum { MF_ROLE = 1, MF_CONTENT = 2, MF_NAME = 4, MF_CALL_ID = 8,
       MF_ERROR = 16 };

struct qreq {
  gw_node_t node;              /* compact while it has no full record */
  req_t *q;                    /* its full record, NULL: none */
  uint64_t id;
  lgw_done_fn cb;
  void *ud;
  double start_s;
  const lgw__route_t *route;   /* a cached route (the request is plain) */
  double tokens_est;
  uint32_t msg_bytes;          /* the messages' content bytes (QF_BIG:
                                  UINT32_MAX, the count in the data) */
  uint32_t nmsgs;
  unsigned char flags;         /* QF_* */
  unsigned char tokens_shared;
  /* with QF_DEADLINE the deadline and the place in gw->dl (+1, 0:
   * none), with QF_DELTA on_delta and its ud, with QF_TDELTA
   * on_tool_delta and its ud, with QF_BIG the content bytes (a size_t)
   * (each unaligned: read with memcpy); the
   * provider order (one byte each), written when the request is made
   * compact; then the task and the messages, each an MF_* byte and its
   * strings (NUL-terminated) */
  unsigned char data[];
};

typedef struct qview {
  double deadline;             /* 0: none */
  lgw_delta_fn on_delta;
  void *delta_ud;
  lgw_tool_delta_fn on_tool_delta;
  void *tool_delta_ud;
  size_t msg_bytes;
  const char *task;
  const unsigned char *msgs;
} qview_t;

#define MAX_PROVIDERS_COMPACT 255

static void q_get(void *dst, const unsigned char **p, size_t n) {
  memcpy(dst, *p, n);
  *p += n;
}

/* The bytes of the optional fields of flags. */
static size_t opt_size(unsigned flags) {
  return ((flags & QF_DEADLINE) ? sizeof(double) + sizeof(size_t) : 0) +
         ((flags & QF_DELTA) ? sizeof(lgw_delta_fn) + sizeof(void *) : 0) +
         ((flags & QF_TDELTA) ? sizeof(lgw_tool_delta_fn) + sizeof(void *)
                              : 0) +
         ((flags & QF_BIG) ? sizeof(size_t) : 0);
}

static unsigned char *q_order(qreq_t *h) {
  return h->data + opt_size(h->flags);
}

/* The fields of h; np: the gateway's providers, 0 when only the
 * optional fields are read. */
static void q_view(qreq_t *h, size_t np, qview_t *v) {
  const unsigned char *p = h->data;
  memset(v, 0, sizeof *v);
  if (h->flags & QF_DEADLINE) {
    q_get(&v->deadline, &p, sizeof v->deadline);
    p += sizeof(size_t);
  }
  if (h->flags & QF_DELTA) {
    q_get(&v->on_delta, &p, sizeof v->on_delta);
    q_get(&v->delta_ud, &p, sizeof v->delta_ud);
  }
  if (h->flags & QF_TDELTA) {
    q_get(&v->on_tool_delta, &p, sizeof v->on_tool_delta);
    q_get(&v->tool_delta_ud, &p, sizeof v->tool_delta_ud);
  }
  v->msg_bytes = h->msg_bytes;
  if (h->flags & QF_BIG) q_get(&v->msg_bytes, &p, sizeof v->msg_bytes);
  p += np;
  v->task = (const char *)p;
  v->msgs = p + strlen(v->task) + 1;
}

/* Message i of r as a rich message (the strings are r's). */
static void msg_at(const lgw_request_t *r, size_t i, lgw_rich_message_t *m) {
  if (r->nrich_messages) {
    *m = r->rich_messages[i];
    return;
  }
  memset(m, 0, sizeof *m);
  m->role = r->messages[i].role;
  m->content = r->messages[i].content;
}

static size_t msg_count(const lgw_request_t *r) {
  return r->nrich_messages ? r->nrich_messages : r->nmessages;
}

static int is_set(const char *s) { return s && *s; }

/* Can r wait in compact form? */
static int compact_shape(const lgw_request_t *r, size_t np) {
  size_t i;
  if (np > MAX_PROVIDERS_COMPACT || msg_count(r) > UINT32_MAX) return 0;
  if (is_set(r->model) || is_set(r->tier) || is_set(r->reasoning_effort) ||
      r->has_temperature || r->max_tokens)
    return 0;
  if (r->ntools || r->tool_choice || r->tool_choice_name ||
      r->parallel_tool_calls || r->schema_json || r->schema_name ||
      r->schema_strict || r->nstop || r->has_top_p || r->top_p != 0 ||
      r->has_seed || r->seed || r->user || r->metadata_json || r->extra_json)
    return 0;
  for (i = 0; i < r->nrich_messages; i++) {
    const lgw_rich_message_t *m = &r->rich_messages[i];
    if (m->nparts || m->ntool_calls || (m->is_error != 0 && m->is_error != 1))
      return 0;
  }
  return 1;
}

static size_t str_size(const char *s) { return s ? strlen(s) + 1 : 0; }

static void q_put(unsigned char **p, const void *src, size_t n) {
  memcpy(*p, src, n);
  *p += n;
}

static void q_put_str(unsigned char **p, const char *s) {
  if (s) q_put(p, s, strlen(s) + 1);
}

/* The bytes of message m's strings in a compact block (its MF_* byte
 * apart); its content's length is added to *bytes. */
static size_t q_msg_size(const lgw_rich_message_t *m, size_t *bytes) {
  size_t cn = str_size(m->content);
  *bytes += cn ? cn - 1 : 0;
  return str_size(m->role) + cn + str_size(m->name) +
         str_size(m->tool_call_id);
}

/* The n messages of r at p, each an MF_* byte and its strings. */
static void q_put_msgs(unsigned char **p, const lgw_request_t *r,
                       size_t n) {
  size_t i;
  lgw_rich_message_t m;
  for (i = 0; i < n; i++) {
    msg_at(r, i, &m);
    *(*p)++ = (unsigned char)((m.role ? MF_ROLE : 0) |
                              (m.content ? MF_CONTENT : 0) |
                              (m.name ? MF_NAME : 0) |
                              (m.tool_call_id ? MF_CALL_ID : 0) |
                              (m.is_error ? MF_ERROR : 0));
    q_put_str(p, m.role);
    q_put_str(p, m.content);
    q_put_str(p, m.name);
    q_put_str(p, m.tool_call_id);
  }
}

/* The compact block of r (flags, data; the rest is filled when the
 * request is made compact); NULL when memory is short. */
static qreq_t *qreq_new(lgw_gateway_t *gw, const lgw_request_t *r,
                        double deadline) {
  size_t np = gw->rt->nproviders, n = msg_count(r), i, size;
  const char *task = r->task ? r->task : "";
  lgw_rich_message_t m;
  unsigned char flags = 0, *p;
  qreq_t *h;
  size_t none = 0, bytes = 0;
  size = offsetof(qreq_t, data) + np + strlen(task) + 1 + n;
  if (deadline > 0) {
    flags |= QF_DEADLINE;
    size += sizeof deadline + sizeof none;
  }
  if (r->on_delta) {
    flags |= QF_DELTA;
    size += sizeof r->on_delta + sizeof r->delta_ud;
  }
  if (r->on_tool_delta) {
    flags |= QF_TDELTA;
    size += sizeof r->on_tool_delta + sizeof r->tool_delta_ud;
  }
  for (i = 0; i < n; i++) {
    msg_at(r, i, &m);
    size += q_msg_size(&m, &bytes);
  }
  if (bytes >= UINT32_MAX) {
    flags |= QF_BIG;
    size += sizeof bytes;
  }
  if (!(h = lgw_malloc(size))) return NULL;
  memset(h, 0, offsetof(qreq_t, data));
  h->msg_bytes = bytes >= UINT32_MAX ? UINT32_MAX : (uint32_t)bytes;
  h->nmsgs = (uint32_t)n;
  h->flags = flags;
  p = h->data;
  if (flags & QF_DEADLINE) {
    q_put(&p, &deadline, sizeof deadline);
    q_put(&p, &none, sizeof none);
  }
  if (flags & QF_DELTA) {
    q_put(&p, &r->on_delta, sizeof r->on_delta);
    q_put(&p, &r->delta_ud, sizeof r->delta_ud);
  }
  if (flags & QF_TDELTA) {
    q_put(&p, &r->on_tool_delta, sizeof r->on_tool_delta);
    q_put(&p, &r->tool_delta_ud, sizeof r->tool_delta_ud);
  }
  if (flags & QF_BIG) q_put(&p, &bytes, sizeof bytes);
  p += np;  /* the order, written when the request is made compact */
  q_put_str(&p, task);
  q_put_msgs(&p, r, n);
  return h;
}

static const char *q_next_str(const unsigned char **p, int present) {
  const char *s;
  if (!present) return NULL;
  s = (const char *)*p;
  *p += strlen(s) + 1;
  return s;
}

/* q takes the request data of h (q->h = h): its task points into h; its
 * messages are read from h when an attempt's body is built
 * (lgw__gw_msgs), as only the body needs them. */
static void q_attach(req_t *q, qreq_t *h) {
  qview_t v;
  q_view(h, q->gw->rt->nproviders, &v);
  q->h = h;
  h->q = q;
  q->task = (char *)v.task;
  q->deadline = v.deadline;
  q->on_delta = v.on_delta;
  q->delta_ud = v.delta_ud;
  q->on_tool_delta = v.on_tool_delta;
  q->tool_delta_ud = v.tool_delta_ud;
  q->plain = 1;
  q->msg_bytes = v.msg_bytes;
}

/* The n messages at p (as q_put_msgs wrote them) into m[0..n) (strings
 * at p). */
static void q_get_msgs(const unsigned char *p, size_t n,
                       lgw_rich_message_t *m) {
  size_t i;
  for (i = 0; i < n; i++, m++) {
    unsigned char mf = *p++;
    memset(m, 0, sizeof *m);
    m->role = q_next_str(&p, mf & MF_ROLE);
    m->content = q_next_str(&p, mf & MF_CONTENT);
    m->name = q_next_str(&p, mf & MF_NAME);
    m->tool_call_id = q_next_str(&p, mf & MF_CALL_ID);
    m->is_error = (mf & MF_ERROR) != 0;
  }
}

/* The tail of q (REQ_INL bytes after its provider order). */
static unsigned char *inl_data(req_t *q) {
  return (unsigned char *)(void *)(q + 1) +
         q->gw->rt->nproviders * sizeof(size_t);
}

/* The bytes inl_put takes for r: its task, then each message as a
 * compact block has them (an MF_* byte and its strings); the bytes of
 * the contents into *bytes (complete when the size fits REQ_INL). */
static size_t inl_size(const lgw_request_t *r, size_t *bytes) {
  size_t n = strlen(r->task ? r->task : "") + 1, i, cnt = msg_count(r);
  lgw_rich_message_t m;
  *bytes = 0;
  for (i = 0; i < cnt && n <= REQ_INL; i++) {
    msg_at(r, i, &m);
    n += 1 + q_msg_size(&m, bytes);
  }
  return n;
}

/* r's task and messages (of content bytes, inl_size) into q's tail
 * (inl_size(r) <= REQ_INL, r of compact shape): what req_copy would copy
 * into an arena for such a request, without one (a request in flight
 * holds no block of its own for its data). */
static void inl_put(req_t *q, const lgw_request_t *r, size_t bytes) {
  unsigned char *p = inl_data(q);
  size_t n = msg_count(r);
  q->task = (char *)p;
  q_put_str(&p, r->task ? r->task : "");
  q_put_msgs(&p, r, n);
  q->inl = 1;
  q->nmsgs = n;
  q->msg_bytes = bytes;
  q->plain = 1;
  q->on_delta = r->on_delta;
  q->delta_ud = r->delta_ud;
  q->on_tool_delta = r->on_tool_delta;
  q->tool_delta_ud = r->tool_delta_ud;
}

int lgw__gw_msgs(req_t *q, lgw_rich_message_t *tmp, size_t cap,
                 const lgw_rich_message_t **msgs, size_t *n) {
  const unsigned char *p;
  size_t k;
  *msgs = q->msgs;
  *n = q->nmsgs;
  if (q->msgs) return 0;
  if (q->inl) {  /* in the record's tail, after the task */
    p = inl_data(q);
    p += strlen((const char *)p) + 1;
    k = q->nmsgs;
  } else if (q->h) {  /* in the compact block */
    qview_t v;
    q_view(q->h, q->gw->rt->nproviders, &v);
    p = v.msgs;
    k = q->h->nmsgs;
  } else {
    return 0;
  }
  if (!k) return 0;
  *n = k;
  if (k <= cap) {  /* read for this body only */
    q_get_msgs(p, k, tmp);
    *msgs = tmp;
    return 0;
  }
  if (lgw__gw_arena_need(q, k, sizeof *q->msgs) ||
      !(q->msgs = lgw__gw_arena_array(q, k, sizeof *q->msgs)))
    return LGW_ENOMEM;
  q_get_msgs(p, k, q->msgs);
  q->nmsgs = k;
  *msgs = q->msgs;
  return 0;
}

/* ---- records ------------------------------------------------------------- */

/* Records kept for reuse: those in flight, and the finished ones whose
 * callbacks have yet to run while their slots are taken again (several
 * rounds of answers can come in one turn of the loop). */
static size_t pool_max(const lgw_gateway_t *gw) {
  return gw->max_concurrent < 255 ? 4 * gw->max_concurrent + 4 : 1024;
}

/* A zeroed record (but its kept arena block), from the pool or new, with
 * room for the provider order; NULL when memory is short. */
static req_t *req_get(lgw_gateway_t *gw) {
  size_t np = gw->rt->nproviders;
  lgw_link_t *l = lgw_list_pop_front(&gw->pool);
  req_t *q;
  if (l) {
    gw->npool--;
    q = REQ_OF(l, q_link);
  } else {
    if (np > ((size_t)-1 - sizeof *q - REQ_INL) / sizeof(size_t))
      return NULL;
    q = lgw__calloc(1, sizeof *q + np * sizeof(size_t) + REQ_INL);
    if (!q) return NULL;
    if (np) q->order = (size_t *)(void *)(q + 1);
  }
  q->gw = gw;
  lgw_list_init(&q->q_link);
  lgw_list_init(&q->node.all);
  lgw_list_init(&q->node.wait);
  q->ttft = q->win_ttft = -1;
  q->cost_total = q->win_cost = -1;
  lgw__usage_unknown(&q->win_usage);
  return q;
}

/* Free what q owns (its compact block too); the record goes back to the
 * pool, or is freed. */
static void req_release(req_t *q) {
  lgw_gateway_t *gw = q->gw;
  lgw__engine_t *e = gw->eng;
  size_t i;
  /* most of these are unset: no call for them */
  for (i = 0; i < q->natt; i++) {
    int small = i < LGW__ATT_BITS;
    if (!small || (q->att_own_model >> i & 1))
      lgw_free((char *)q->att[i].model);
    if (!small || (q->att_own_msg >> i & 1))
      lgw_free((char *)q->att[i].message);
  }
  if (q->ov) {
    lgw_free((char *)q->ov->model);
    lgw_free((char *)q->ov->tier);
    lgw_free((char *)q->ov->reasoning_effort);
  }
  if (q->route) lgw__gw_route_drop(q);
  if (q->reply.text || q->reply.refusal || q->reply.calls.v)
    lgw__reply_free(&q->reply);
  if (q->refusal) lgw_free(q->refusal);
  if (q->lines.data) lgw__buf_free(&q->lines);
  if (q->st) lgw__gw_stream_free(q->st);
  if (q->err) lgw_free(q->err);
  if (q->h) {
    dl_remove(gw, q->h);
    lgw_free(q->h);
  }
  if (q->sleep_timer) e->ops->timer_free(e, q->sleep_timer);
  if (q->deadline_timer) e->ops->timer_free(e, q->deadline_timer);
  if (q->ttft_timer) e->ops->timer_free(e, q->ttft_timer);
  if (q->idle_timer) e->ops->timer_free(e, q->idle_timer);
  /* while requests wait, every record will be needed again (also when
   * closing: to cancel one a shortage left waiting, teardown) */
  if ((!gw->closing && gw->npool < pool_max(gw)) ||
      !lgw_list_empty(&gw->wait)) {
    void *arena;
    size_t *order = q->order;
    lgw_attempt_t *att = q->att;  /* the attempt list is kept too */
    size_t catt = q->catt;
    lgw__gw_recycle_rich(q);
    arena = q->arena;
    /* a size the compiler does not know: libc's memset, not an inlined
     * rep stos */
    memset(q, 0, gw->req_size);
    q->arena = arena;
    q->order = order;
    if (catt <= ATT_KEEP) {
      q->att = att;
      q->catt = catt;
    } else {
      lgw_free(att);
    }
    lgw_list_push_front(&gw->pool, &q->q_link);
    gw->npool++;
    return;
  }
  lgw_free(q->att);
  lgw__gw_free_rich(q);
  lgw_free(q);
}

/* Free pooled records beyond keep. */
static void pool_trim(lgw_gateway_t *gw, size_t keep) {
  lgw_link_t *l;
  while (gw->npool > keep && (l = lgw_list_pop_front(&gw->pool)) != NULL) {
    req_t *q = REQ_OF(l, q_link);
    gw->npool--;
    lgw_free(q->att);
    lgw__gw_free_rich(q);
    lgw_free(q);
  }
}

static void pool_free(lgw_gateway_t *gw) { pool_trim(gw, 0); }

/* n takes o's place in a list. */
static void replace_link(lgw_link_t *o, lgw_link_t *n) {
  if (!lgw_list_linked(o)) return;
  lgw_list_insert_after(o, n);
  lgw_list_remove(o);
}

/* Can q, just planned, wait in compact form? */
static int compactable(const req_t *q) {
  return q->h && q->state == S_WAIT && lgw_list_linked(&q->node.wait) &&
         q->pos == 0 && q->attempt == 1 && q->natt == 0 &&
         q->lines.len == 0 && !q->err && !q->st && !q->refusal &&
         !q->embed && q->route && q->route != q->own_route &&
         !q->last_status && q->cost_total == -1 && !q->rs_call;
}

/* q waits in compact form: its place goes to its block, the record back
 * to the pool. */
static void compact(req_t *q) {
  qreq_t *h = q->h;
  size_t i, np = q->gw->rt->nproviders;
  h->id = q->id;
  h->cb = q->cb;
  h->ud = q->ud;
  h->start_s = q->start_s;
  h->route = q->route;
  h->tokens_est = q->tokens_est;
  h->tokens_shared = (unsigned char)(q->tokens_shared != 0);
  for (i = 0; i < np; i++) q_order(h)[i] = (unsigned char)q->order[i];
  h->node.compact = 1;
  lgw_list_init(&h->node.all);
  lgw_list_init(&h->node.wait);
  replace_link(&q->node.all, &h->node.all);
  replace_link(&q->node.wait, &h->node.wait);
  h->q = NULL;
  q->h = NULL;
  q->route = NULL;           /* cached: nothing to free */
  req_release(q);
}

/* A full record for the compact request h, in its place (S_WAIT); NULL
 * when memory is short (h stays as it was). */
static req_t *expand(lgw_gateway_t *gw, qreq_t *h) {
  size_t i, np = gw->rt->nproviders;
  req_t *q = req_get(gw);
  if (!q) return NULL;
  q_attach(q, h);
  q->id = h->id;
  q->cb = h->cb;
  q->ud = h->ud;
  q->start_s = h->start_s;
  q->route = h->route;
  q->tokens_est = h->tokens_est;
  q->tokens_shared = h->tokens_shared;
  for (i = 0; i < np; i++) q->order[i] = q_order(h)[i];
  q->pos = 0;
  q->attempt = 1;
  q->state = S_WAIT;
  h->node.compact = 0;
  replace_link(&h->node.all, &q->node.all);
  replace_link(&h->node.wait, &q->node.wait);
  return q;
}

/* The full record of a node, made when it is compact; NULL when memory
 * is short. */
static req_t *node_req(lgw_gateway_t *gw, gw_node_t *n) {
  if (n->compact) return expand(gw, LGW_CONTAINER_OF(n, qreq_t, node));
  return LGW_CONTAINER_OF(n, req_t, node);
}

static uint64_t node_id(const gw_node_t *n) {
  if (n->compact) return LGW_CONTAINER_OF(n, const qreq_t, node)->id;
  return LGW_CONTAINER_OF(n, const req_t, node)->id;
}

void lgw__gw_wait_push(req_t *q) {
  q->state = S_WAIT;
  lgw_list_push_back(&q->gw->wait, &q->node.wait);
}

req_t *lgw__gw_wait_pop(lgw_gateway_t *gw) {
  lgw_link_t *l = lgw_list_first(&gw->wait);
  req_t *q;
  if (!l) return NULL;
  q = node_req(gw, LGW_CONTAINER_OF(l, gw_node_t, wait));
  if (!q) {
    lgw__log(LGW_LOG_WARN, "out of memory: a queued request waits for the "
             "next free slot or the next request's end");
    return NULL;
  }
  lgw_list_remove(&q->node.wait);
  return q;
}

/* ---- deadlines of requests with a compact block --------------------------
 *
 * One timer for all of them: a binary heap of (deadline, id) in gw->dl,
 * the earliest first; each block knows its place (to leave the heap when
 * its request ends first). */

struct dl_ent {
  double at;                   /* engine clock */
  uint64_t id;                 /* the same deadline: submit order */
  qreq_t *h;
};

static size_t dl_pos(qreq_t *h) {
  size_t pos;
  memcpy(&pos, h->data + sizeof(double), sizeof pos);
  return pos;
}

static void dl_pos_set(qreq_t *h, size_t pos) {
  memcpy(h->data + sizeof(double), &pos, sizeof pos);
}

static int dl_less(const struct dl_ent *a, const struct dl_ent *b) {
  return a->at < b->at || (a->at == b->at && a->id < b->id);
}

static void dl_put(lgw_gateway_t *gw, size_t i, struct dl_ent e) {
  gw->dl[i] = e;
  dl_pos_set(e.h, i + 1);
}

static void dl_up(lgw_gateway_t *gw, size_t i) {
  struct dl_ent e = gw->dl[i];
  while (i > 0 && dl_less(&e, &gw->dl[(i - 1) / 2])) {
    dl_put(gw, i, gw->dl[(i - 1) / 2]);
    i = (i - 1) / 2;
  }
  dl_put(gw, i, e);
}

static void dl_down(lgw_gateway_t *gw, size_t i) {
  struct dl_ent e = gw->dl[i];
  for (;;) {
    size_t c = 2 * i + 1;
    if (c >= gw->ndl) break;
    if (c + 1 < gw->ndl && dl_less(&gw->dl[c + 1], &gw->dl[c])) c++;
    if (!dl_less(&gw->dl[c], &e)) break;
    dl_put(gw, i, gw->dl[c]);
    i = c;
  }
  dl_put(gw, i, e);
}

/* The timer for the earliest deadline (stopped when none). */
static void dl_arm(lgw_gateway_t *gw) {
  lgw__engine_t *e = gw->eng;
  double wait;
  if (!gw->dl_timer) return;
  if (!gw->ndl) {
    e->ops->timer_stop(e, gw->dl_timer);
    return;
  }
  wait = gw->dl[0].at - eng_now(gw);
  e->ops->timer_start(e, gw->dl_timer, wait > 0 ? wait : 0);
}

static void on_dl(void *ud);

/* Room for one more deadline (and its timer); LGW_ENOMEM when short. */
static int dl_reserve(lgw_gateway_t *gw) {
  lgw__engine_t *e = gw->eng;
  if (!gw->dl_timer && !(gw->dl_timer = e->ops->timer_new(e, on_dl, gw)))
    return LGW_ENOMEM;
  return lgw__grow(&gw->dl, gw->ndl, &gw->cdl, sizeof *gw->dl, 64);
}

/* After dl_reserve. */
static void dl_push(lgw_gateway_t *gw, qreq_t *h, double at, uint64_t id) {
  struct dl_ent e;
  e.at = at;
  e.id = id;
  e.h = h;
  gw->dl[gw->ndl++] = e;
  dl_up(gw, gw->ndl - 1);
  if (gw->dl[0].h == h) dl_arm(gw);
}

static void dl_remove(lgw_gateway_t *gw, qreq_t *h) {
  size_t pos, i;
  if (!(h->flags & QF_DEADLINE) || !(pos = dl_pos(h))) return;
  i = pos - 1;
  dl_pos_set(h, 0);
  if (i < --gw->ndl) {
    dl_put(gw, i, gw->dl[gw->ndl]);
    dl_down(gw, i);
    dl_up(gw, i);
  }
  if (i == 0) dl_arm(gw);
}

/* A timer fires at most a millisecond early (the loop's clock): what is
 * due within that is due now. */
#define DL_SLACK 0.001

static void on_dl(void *ud) {
  lgw_gateway_t *gw = ud;
  double now = eng_now(gw);
  while (gw->ndl && gw->dl[0].at <= now + DL_SLACK) {
    struct dl_ent top = gw->dl[0];
    req_t *q = top.h->q;
    if (!q && !(q = expand(gw, top.h))) {
      lgw__log(LGW_LOG_WARN, "out of memory: the deadline of request %llu "
               "is checked again in 1s", (unsigned long long)top.id);
      dl_remove(gw, top.h);
      dl_push(gw, top.h, now + 1, top.id);  /* the room just freed */
      continue;
    }
    dl_remove(gw, top.h);
    stop(q, LGW_EDEADLINE);
  }
  dl_arm(gw);
}

/* Distinct providers with at least one attempt. */
static int providers_tried(const req_t *q) {
  int n = 0;
  size_t i, j;
  for (i = 0; i < q->natt; i++) {
    for (j = 0; j < i; j++)
      if (q->att[j].configured_index == q->att[i].configured_index) break;
    if (j == i) n++;
  }
  return n;
}

static void call_back(req_t *q) {
  lgw_gateway_t *gw = q->gw;
  const lgw_runtime_t *rt = gw->rt;
  lgw_result_t res;
  lgw_rich_message_t msg;      /* res.message: borrowed for the call */
  if (q->embed) {
    lgw__gw_embed_call_back(q);
    return;
  }
  memset(&res, 0, sizeof res);
  res.task = q->task;
  res.requested_model = res.normalized_model = res.reasoning_effort = "";
  res.provider_type = res.api_style = res.base_url = "";
  res.input_tokens = res.output_tokens = -1;
  lgw__usage_unknown(&res.usage);
  res.usage_total = q->usage_total;
  res.cost = -1;
  res.cost_total = q->cost_total;
  res.ttft = -1;
  if (q->status == LGW_EREFUSED && q->refusal) {
    res.refusal = q->refusal;
    res.refusal_len = q->refusal_len;
  }
  if (q->status && q->emitted && q->st) {
    res.partial_text = q->st->stream.text.data ? q->st->stream.text.data : "";
    res.partial_len = q->st->stream.text.len;
  }
  if (q->status == 0) {
    const lgw__provider_t *p = &rt->providers[q->winner];
    const lgw__transport_t *tr = lgw__transport_for(q->route->style);
    res.text = q->reply.text;
    res.text_len = q->reply.text_len;
    res.requested_model = q->route->requested_model;
    res.normalized_model = q->route->model;
    res.reasoning_effort = q->route->reasoning_effort;
    res.temperature = q->route->temperature;
    res.max_tokens = q->route->max_tokens;
    res.provider_index = (int)q->winner + 1;
    res.provider_type = p->provider_type;
    res.api_style = tr ? tr->name : "";
    res.base_url = gw->shown_urls[q->winner];
    res.input_tokens = q->reply.input_tokens;
    res.output_tokens = q->reply.output_tokens;
    res.usage = q->win_usage;
    res.cost = q->win_cost;
    res.ttft = q->win_ttft;
    res.finish_reason = q->reply.finish_reason;
    lgw__gw_result_rich(q, &res, &msg);
  }
  res.attempts = q->natt ? q->att : NULL;
  res.nattempts = q->natt;
  res.providers_tried = providers_tried(q);
  q->cb(gw, q->id, q->status, &res,
        q->status ? (q->err ? q->err : &lgw__gw_oom_error) : NULL, q->ud);
}

static void teardown(lgw_gateway_t *gw);

/* Run every queued delta, event and completion callback, in that order.
 * A callback may submit, cancel or free. */
static void dispatch(lgw_gateway_t *gw) {
  req_t *q;
  gw->cb_depth++;
  for (;;) {
    if (lgw__notes_run_one(&gw->notes, gw->on_event, gw->event_ud)) continue;
    if (lgw_list_empty(&gw->done)) break;
    q = REQ_OF(lgw_list_pop_front(&gw->done), q_link);
    lgw_list_remove(&q->node.all);
    gw->pending--;
    call_back(q);
    req_release(q);
    /* a slot left free when a waiting request could not be made whole:
     * the record just released (pooled while requests wait) serves it */
    if (!gw->free_pending && !gw->closing) lgw__gw_pump(gw);
  }
  /* a burst is over: keep what the next one is likely to need */
  if (!gw->pending && gw->npool > pool_max(gw)) pool_trim(gw, pool_max(gw));
  if (--gw->cb_depth == 0 && gw->free_pending && !gw->closing) teardown(gw);
}

static void on_wake(void *ud) { dispatch(ud); }

/* ---- public API ---------------------------------------------------------- */

/* An override: copied when set, NULL when not. */
static int dup_opt(const char *s, char **out) {
  *out = s && *s ? lgw__strdup(s) : NULL;
  return s && *s && !*out;
}

/* The request r copied into q's arena (task, messages, tools, options)
 * and its overrides; 1 when memory is short. */
static int req_copy(req_t *q, const lgw_request_t *r) {
  int bad = 0;
  char *model, *tier, *effort;
  q->task = lgw__gw_arena_str(q, r->task ? r->task : "");
  bad |= !q->task;
  bad |= dup_opt(r->model, &model);
  bad |= dup_opt(r->tier, &tier);
  bad |= dup_opt(r->reasoning_effort, &effort);
  bad |= lgw__gw_copy_rich(q, r);
  q->plain = !model && !tier && !effort && !r->has_temperature &&
             !r->max_tokens;
  if (!q->plain &&
      !(q->ov = lgw__gw_arena_array(q, 1, sizeof *q->ov))) {
    lgw_free(model);
    lgw_free(tier);
    lgw_free(effort);
    return 1;
  }
  if (q->ov) {
    q->ov->model = model;   /* owned */
    q->ov->tier = tier;
    q->ov->reasoning_effort = effort;
    q->ov->has_temperature = r->has_temperature;
    q->ov->temperature = r->temperature;
    q->ov->max_tokens = r->max_tokens;
  }
  q->on_delta = r->on_delta;
  q->delta_ud = r->delta_ud;
  return bad;
}

/* The record of request r: its data in a compact block when it is to
 * wait for a slot and can wait in compact form (see compact()), else
 * copied into the record; NULL when memory is short. */
static req_t *req_new(lgw_gateway_t *gw, const lgw_request_t *r,
                      double deadline, const lgw_embed_request_t *emb) {
  req_t *q = req_get(gw);
  qreq_t *h;
  size_t bytes;
  if (!q) return NULL;
  if (!emb &&
      (gw->inflight >= gw->max_concurrent || !lgw_list_empty(&gw->wait)) &&
      compact_shape(r, gw->rt->nproviders)) {
    if (!(h = qreq_new(gw, r, deadline))) {
      req_release(q);
      return NULL;
    }
    q_attach(q, h);
    return q;
  }
  if (!emb && compact_shape(r, gw->rt->nproviders) &&
      inl_size(r, &bytes) <= REQ_INL) {
    inl_put(q, r, bytes);
    return q;
  }
  if (lgw__gw_arena_for(q, r, emb) || req_copy(q, r) ||
      (emb && lgw__gw_copy_embed(q, emb))) {
    req_release(q);
    return NULL;
  }
  return q;
}

/* A request r that must wait for a slot, when planning it would only find
 * its first provider's cached route and queue it (lgw__gw_plan_queued):
 * it goes straight into the queue in compact form, as the full record
 * would have left it (compact()), without one. 0 or LGW_ENOMEM (err
 * set); -1 when the full plan must run. */
static int submit_queued(lgw_gateway_t *gw, const lgw_request_t *r,
                         lgw_done_fn cb, void *ud, uint64_t *id,
                         lgw_error_t *err, double deadline) {
  const lgw_runtime_t *rt = gw->rt;
  size_t np = rt->nproviders, order[MAX_PROVIDERS_COMPACT], i;
  const lgw__route_t *route;
  unsigned char *o;
  qreq_t *h;
  lgw__state_order(rt->providers, np, gw->preferred, order);
  route = lgw__gw_plan_queued(gw, order[0], r->task ? r->task : "");
  if (!route) return -1;
  if (!(h = qreq_new(gw, r, deadline)) || (deadline > 0 && dl_reserve(gw))) {
    lgw_free(h);
    return lgw__error_set(err, LGW_ENOMEM, "out of memory");
  }
  h->id = ++gw->next_id;
  h->cb = cb;
  h->ud = ud;
  h->start_s = eng_now(gw);
  h->route = route;
  for (o = q_order(h), i = 0; i < np; i++) o[i] = (unsigned char)order[i];
  h->node.compact = 1;
  if (deadline > 0) dl_push(gw, h, h->start_s + deadline, h->id);
  lgw_list_push_back(&gw->all, &h->node.all);
  gw->pending++;
  lgw_list_push_back(&gw->wait, &h->node.wait);
  if (id) *id = h->id;
  return 0;
}

int lgw_gateway_submit(lgw_gateway_t *gw, const lgw_request_t *req,
                       lgw_done_fn cb, void *ud, uint64_t *id,
                       lgw_error_t *err) {
  return lgw__gw_submit(gw, req, cb, ud, id, err, NULL, NULL);
}

int lgw__gw_submit(lgw_gateway_t *gw, const lgw_request_t *req,
                   lgw_done_fn cb, void *ud, uint64_t *id, lgw_error_t *err,
                   const lgw_embed_request_t *emb, lgw_embed_done_fn ecb) {
  const lgw_runtime_t *rt;
  req_t *q;
  double deadline;
  if (id) *id = 0;
  if (!gw || !req || !cb || (req->nmessages && !req->messages) ||
      (req->nrich_messages && (!req->rich_messages || req->nmessages)))
    return lgw__error_set(err, LGW_EINVAL, "lgw_gateway_submit: invalid "
                                           "arguments");
  if (gw->closing || gw->free_pending)
    return lgw__error_set(err, LGW_EINVAL,
                          "lgw_gateway_submit: the gateway is being freed");
  rt = gw->rt;
  deadline = req->deadline > 0 ? req->deadline
                               : (rt->deadline > 0 ? rt->deadline : 0);
  /* a deadline of 1e9 s (31 years) or more, or infinity, is none */
  if (!(deadline < 1e9)) deadline = 0;
  if (!emb && rt->nproviders &&
      (gw->inflight >= gw->max_concurrent || !lgw_list_empty(&gw->wait)) &&
      compact_shape(req, rt->nproviders)) {
    int rc = submit_queued(gw, req, cb, ud, id, err, deadline);
    if (rc >= 0) return rc;
  }
  q = req_new(gw, req, deadline, emb);
  if (!q) return lgw__error_set(err, LGW_ENOMEM, "out of memory");
  if (emb) q->em->embed_cb = ecb;
  q->id = ++gw->next_id;
  q->cb = cb;
  q->ud = ud;
  q->deadline = deadline;
  q->start_s = eng_now(gw);
  if (rt->nproviders && q->deadline > 0) {
    /* with a compact block: the gateway's timer for every such request */
    if (q->h ? dl_reserve(gw)
             : lgw__gw_timer_start(q, &q->deadline_timer, on_deadline,
                                   q->deadline)) {
      req_release(q);
      return lgw__error_set(err, LGW_ENOMEM, "out of memory");
    }
    if (q->h) dl_push(gw, q->h, q->start_s + q->deadline, q->id);
  }
  lgw_list_push_back(&gw->all, &q->node.all);
  gw->pending++;
  if (id) *id = q->id;
  if (!rt->nproviders) {
    lgw__error_set(lgw__gw_req_err(q), LGW_ENOPROVIDER,
                   "No LLM providers are configured.");
    lgw__gw_finish(q, LGW_ENOPROVIDER);
    return 0;
  }
  lgw__state_order(rt->providers, rt->nproviders, gw->preferred, q->order);
  lgw__gw_plan(q);
  if (compactable(q)) compact(q);
  return 0;
}

int lgw_gateway_cancel(lgw_gateway_t *gw, uint64_t id) {
  if (!gw) return LGW_EINVAL;
  LGW_LIST_FOREACH(l, &gw->all) {
    gw_node_t *n = LGW_CONTAINER_OF(l, gw_node_t, all);
    req_t *q;
    if (node_id(n) != id) continue;
    if (!(q = node_req(gw, n))) return LGW_ENOMEM;
    if (q->state == S_DONE) return LGW_EINVAL;
    stop(q, LGW_ECANCELED);
    return 0;
  }
  return LGW_EINVAL;
}

void lgw_gateway_cancel_all(lgw_gateway_t *gw) {
  if (!gw) return;
  /* no queued request may take a slot freed by a cancel */
  gw->no_pump++;
  LGW_LIST_FOREACH_SAFE(l, next, &gw->all) {
    req_t *q = node_req(gw, LGW_CONTAINER_OF(l, gw_node_t, all));
    if (q) stop(q, LGW_ECANCELED);
    else lgw__log(LGW_LOG_WARN, "out of memory: a queued request was not "
                  "canceled");
  }
  gw->no_pump--;
}

size_t lgw_gateway_pending(const lgw_gateway_t *gw) {
  return gw ? gw->pending : 0;
}

struct uv_loop_s *lgw_gateway_loop(lgw_gateway_t *gw) {
  return gw ? gw->eng->ops->loop(gw->eng) : NULL;
}

static void free_urls(char **urls, size_t n) {
  size_t i;
  for (i = 0; urls && i < n; i++) lgw_free(urls[i]);
  lgw_free(urls);
}

/* A base URL as shown: userinfo and query values "[redacted]", then
 * every other secret. Owned by the caller; NULL when out of memory. */
static char *shown_url(const lgw_gateway_t *gw, const char *u) {
  lgw__url_parts_t p;
  lgw__buf_t b;
  const char *s = u;
  int rc = 0;
  lgw__buf_init(&b);
  lgw__url_parts(u, &p);
  if (p.user) {
    rc |= lgw__buf_add(&b, s, (size_t)(p.user - s));
    rc |= lgw__buf_adds(&b, "[redacted]");
    s = p.user + p.user_len;
  }
  if (p.query) {
    const char *q = p.query, *qe = p.query + p.query_len;
    rc |= lgw__buf_add(&b, s, (size_t)(q - s));
    while (q < qe) {
      size_t n = strcspn(q, "&#");
      const char *eq;
      if (q + n > qe) n = (size_t)(qe - q);
      eq = memchr(q, '=', n);
      if (eq && eq + 1 < q + n) {
        rc |= lgw__buf_add(&b, q, (size_t)(eq + 1 - q));
        rc |= lgw__buf_adds(&b, "[redacted]");
      } else {
        rc |= lgw__buf_add(&b, q, n);
      }
      q += n;
      if (q < qe) rc |= lgw__buf_addc(&b, *q++);
    }
    s = qe;
  }
  rc |= lgw__buf_adds(&b, s);
  /* "[redacted]" replaces at least 4 bytes: 3x always suffices */
  if (rc || lgw__buf_reserve(&b, 2 * b.len + 11)) {
    lgw__buf_free(&b);
    return NULL;
  }
  lgw__gw_redact(gw, b.data, b.cap);
  return lgw__buf_steal(&b);
}

/* Provider URLs as shown in attempts and messages. */
static char **make_urls(const lgw_gateway_t *gw, const lgw_runtime_t *rt) {
  char **urls = lgw__calloc(rt->nproviders + 1, sizeof *urls);
  size_t i;
  for (i = 0; urls && i < rt->nproviders; i++) {
    const char *u = rt->providers[i].base_url;
    urls[i] = shown_url(gw, lgw__is_blank(u) ? "<missing>" : u);
    if (!urls[i]) {
      free_urls(urls, i);
      return NULL;
    }
  }
  return urls;
}

/* The CA bundle of each provider: its ca_file, else settings.ca_file,
 * else CURL_CA_BUNDLE, else SSL_CERT_FILE (as curl), else NULL (curl's
 * default). A configured file, or one from the environment for an https
 * provider, must be readable. */
static int ca_files_new(lgw_gateway_t *gw, const lgw_runtime_t *rt,
                        lgw_error_t *err) {
  const char *envs[] = {"CURL_CA_BUNDLE", "SSL_CERT_FILE"};
  size_t i, k;
  gw->ca_files = lgw__calloc(rt->nproviders + 1, sizeof *gw->ca_files);
  if (!gw->ca_files) return lgw__error_set(err, LGW_ENOMEM, "out of memory");
  for (i = 0; i < rt->nproviders; i++) {
    const lgw__provider_t *p = &rt->providers[i];
    const char *f = p->ca_file, *from = "ca_file";
    FILE *fp;
    if (lgw__is_blank(f)) {
      f = rt->ca_file;
      from = "settings.ca_file";
    }
    for (k = 0; k < 2 && lgw__is_blank(f); k++) {
      f = lgw__getenv_default(envs[k], NULL);
      from = envs[k];
      if (!lgw__is_blank(f) && (!p->base_url ||
                                lgw__strncasecmp(p->base_url, "https:", 6)))
        f = NULL;  /* unused by a plain http provider */
    }
    if (lgw__is_blank(f)) continue;
    if (!(fp = fopen(f, "r")))
      return lgw__error_set(err, LGW_ECONFIG, "provider #%zu (%s): cannot "
                            "read the CA file '%s' (%s): %s", i + 1,
                            prov_type(p), f, from, strerror(errno));
    fclose(fp);
    if (!(gw->ca_files[i] = lgw__strdup(f)))
      return lgw__error_set(err, LGW_ENOMEM, "out of memory");
  }
  return 0;
}

static void ca_files_free(lgw_gateway_t *gw, size_t n) {
  size_t i;
  for (i = 0; gw->ca_files && i < n; i++) lgw_free(gw->ca_files[i]);
  lgw_free(gw->ca_files);
}

static void limits_free(lgw_gateway_t *gw, size_t n) {
  size_t i;
  for (i = 0; gw->breakers && i < n; i++) lgw__breaker_free(&gw->breakers[i]);
  lgw_free(gw->breakers);
  lgw_free(gw->rpm);
  lgw_free(gw->tpm);
}

/* One breaker and one rpm and tpm bucket per provider. */
static int limits_new(lgw_gateway_t *gw, const lgw_runtime_t *rt) {
  size_t i, n = rt->nproviders;
  double now = gw_now(gw);
  gw->breakers = lgw__calloc(n + 1, sizeof *gw->breakers);
  gw->rpm = lgw__calloc(n + 1, sizeof *gw->rpm);
  gw->tpm = lgw__calloc(n + 1, sizeof *gw->tpm);
  if (!gw->breakers || !gw->rpm || !gw->tpm) return LGW_ENOMEM;
  for (i = 0; i < n; i++) {
    if (lgw__breaker_init(&gw->breakers[i], rt->breaker_failures,
                          rt->breaker_window, rt->breaker_cooldown))
      return LGW_ENOMEM;
    lgw__bucket_init(&gw->rpm[i], rt->providers[i].rpm, now);
    lgw__bucket_init(&gw->tpm[i], rt->providers[i].tpm, now);
  }
  return 0;
}

static void shared_preferred(void *ud, const char *provider_key) {
  lgw_gateway_t *gw = ud;
  if (provider_key[0])
    lgw__gw_msgf(gw->preferred, sizeof gw->preferred, "%s", provider_key);
}

static void shared_breaker(void *ud, size_t pi, double remaining) {
  lgw_gateway_t *gw = ud;
  int change = lgw__breaker_adopt(&gw->breakers[pi], gw_now(gw), remaining);
  if (change)
    lgw__gw_breaker_event(gw, NULL, pi, change > 0 ? LGW_EVENT_BREAKER_OPEN
                                           : LGW_EVENT_BREAKER_CLOSE);
}

/* The engine goes first: on its own loop, it runs that loop until every
 * handle is closed and every state write done. */
static void gw_destroy(lgw_gateway_t *gw) {
  gw->eng->ops->free(gw->eng);
  pool_free(gw);
  lgw_free(gw->dl);
  lgw__notes_clear(&gw->notes);
  lgw__gw_routes_free(gw);
  limits_free(gw, gw->rt->nproviders);
  free_urls(gw->shown_urls, gw->rt->nproviders);
  ca_files_free(gw, gw->rt->nproviders);
  lgw__secrets_free(&gw->secrets);
  lgw_runtime_free(gw->rt);
  lgw_free(gw->eps);
  lgw_free(gw->state_path);
  lgw_free(gw);
}

int lgw_gateway_run(lgw_gateway_t *gw) {
  if (!gw) return LGW_EINVAL;
  if (gw->cb_depth || gw->running || gw->closing) return LGW_EINVAL;
  gw->running = 1;
  while (gw->pending > 0 && !gw->freeing) gw->eng->ops->run_once(gw->eng);
  if (gw->freeing) {
    gw_destroy(gw);  /* freed from a callback: finish that here */
    return 0;
  }
  gw->running = 0;
  return 0;
}

/* Cancel everything, run the callbacks, stop the engine. */
static void teardown(lgw_gateway_t *gw) {
  size_t i, left;
  gw->closing = 1;
  /* a waiting request whose record could not be made (memory short) is
   * canceled on the next pass, with a record the previous one released */
  do {
    left = gw->pending;
    lgw_gateway_cancel_all(gw);
    dispatch(gw);
  } while (gw->pending && gw->pending < left);
  lgw__rstate_free(gw->rs);
  gw->rs = NULL;
  for (i = 0; i < gw->rt->nproviders * NSTYLES; i++) {
    lgw_free(gw->eps[i].url);
    lgw__headers_free(gw->eps[i].headers);
  }
  gw->eng->ops->defer_free(gw->eng, gw->wake);
  gw->wake = NULL;
  lgw__gw_writer_close(gw);
  pool_free(gw);
  gw->eng->ops->timer_free(gw->eng, gw->dl_timer);
  gw->dl_timer = NULL;
  gw->freeing = 1;
  if (!gw->running) gw_destroy(gw);  /* else lgw_gateway_run finishes */
}

void lgw_gateway_free(lgw_gateway_t *gw) {
  if (!gw || gw->closing || gw->free_pending) return;
  if (gw->cb_depth > 0) {
    /* inside a completion callback: finish after it returns */
    gw->free_pending = 1;
    lgw_gateway_cancel_all(gw);
    return;
  }
  teardown(gw);
}

int lgw_gateway_new(lgw_runtime_t *rt, const lgw_gateway_options_t *opts,
                    lgw_gateway_t **out, lgw_error_t *err) {
  lgw__engine_t *eng;
  lgw_error_t own;
  if (!err) err = &own;
  if (out) *out = NULL;
  if (!rt || !out)
    return lgw__error_set(err, LGW_EINVAL, "lgw_gateway_new: invalid "
                                           "arguments");
  if (lgw__engine_new(opts ? opts->loop : NULL, rt->max_connections_per_host,
                      &eng, err))
    return err->code;
  return lgw__gateway_new_on(rt, opts, eng, out, err);
}

int lgw__gateway_new_on(lgw_runtime_t *rt, const lgw_gateway_options_t *opts,
                        lgw__engine_t *eng, lgw_gateway_t **out,
                        lgw_error_t *err) {
  lgw_gateway_t *gw;
  lgw__kvlist_t state = {NULL, 0};
  const char *pref;
  lgw_error_t own;
  size_t i;
  if (!err) err = &own;
  *out = NULL;
  if (lgw__cjson_load()) {  /* requests and answers are JSON */
    eng->ops->free(eng);
    return lgw__error_set(err, LGW_EIO, "%s", lgw__cjson_error());
  }
  gw = lgw__calloc(1, sizeof *gw);
  if (!gw) {
    eng->ops->free(eng);
    return lgw__error_set(err, LGW_ENOMEM, "out of memory");
  }
  gw->eng = eng;
  gw->req_size = sizeof(req_t);
  lgw_list_init(&gw->pool);
  lgw__notes_init(&gw->notes);
  gw->cost_total = -1;  /* nothing priced yet */
  gw->eps = lgw__calloc(rt->nproviders * NSTYLES + 1, sizeof *gw->eps);
  if (secrets_new(&gw->secrets, rt)) goto nomem;
  if (ca_files_new(gw, rt, err)) goto fail;
  gw->shown_urls = make_urls(gw, rt);
  gw->routes = lgw__calloc(rt->nproviders + 1, sizeof *gw->routes);
  gw->nroutes = lgw__calloc(rt->nproviders + 1, sizeof *gw->nroutes);
  gw->timeout_ms = (long)ceil(rt->timeout * 1000.0);
  gw->connect_timeout_ms = (long)ceil(rt->connect_timeout * 1000.0);
  if (opts) {
    gw->on_event = opts->on_event;
    gw->event_ud = opts->event_ud;
    gw->clock = opts->clock;
    gw->clock_ud = opts->clock_ud;
  }
  if (!gw->eps || !gw->shown_urls || !gw->routes || !gw->nroutes ||
      limits_new(gw, rt))
    goto nomem;
  for (i = 0; i < rt->nproviders; i++) lgw_list_init(&gw->routes[i]);
  if (!(opts && opts->no_state) && !rt->state) {
    gw->state_path = lgw__resolve_provider_state_file(
        opts ? opts->state_file : NULL, lgw__getenv_default, NULL);
    if (!gw->state_path) goto nomem;
    /* read once; a bad file is logged by the loader and ignored */
    if (lgw__state_load(gw->state_path, &state, NULL) == LGW_ENOMEM)
      goto nomem;  /* not forgotten: the order would be another */
    pref = lgw__kvlist_get_ci(&state, rt->config_key);
    if (pref) lgw__gw_msgf(gw->preferred, sizeof gw->preferred, "%s", pref);
    lgw__kvlist_free(&state);
    if (lgw__gw_writer_new(gw, rt->config_key)) goto nomem;
  }
  gw->wake = eng->ops->defer_new(eng, on_wake, gw);
  if (!gw->wake) goto nomem;
  lgw_list_init(&gw->all);
  lgw_list_init(&gw->wait);
  lgw_list_init(&gw->done);
  gw->rt = lgw_runtime_ref(rt);
  gw->max_concurrent = rt->max_concurrent > 1 ? (size_t)rt->max_concurrent
                                              : 1;
  gw->rng = opts && opts->seed ? opts->seed
                               : ((uint64_t)(eng_now(gw) * 1e9) ^
                                  (uint64_t)(uintptr_t)gw);
  if (!(opts && opts->no_state) && rt->state) {
    const lgw__rstate_hooks_t hooks = {shared_preferred, shared_breaker, gw};
    struct uv_loop_s *loop = eng->ops->loop(eng);
    lgw_error_t e;
    memset(&e, 0, sizeof e);
    /* settings.state was validated: only memory can be short here */
    if (!loop)
      lgw__log(LGW_LOG_WARN, "shared state unavailable, using local state: "
               "the engine has no event loop");
    else if (lgw__rstate_new(loop, rt, &hooks, NULL, &gw->rs, &e))
      lgw__log(LGW_LOG_WARN, "shared state unavailable, using local state: "
               "%s", e.message);
  }
  *out = gw;
  return 0;
nomem:
  lgw__error_set(err, LGW_ENOMEM, "out of memory");
fail:
  lgw__gw_writer_close(gw);
  free_urls(gw->shown_urls, rt->nproviders);
  ca_files_free(gw, rt->nproviders);
  lgw__secrets_free(&gw->secrets);
  limits_free(gw, rt->nproviders);
  lgw_free(gw->routes);
  lgw_free(gw->nroutes);
  lgw_free(gw->eps);
  lgw_free(gw->state_path);
  eng->ops->free(eng);
  lgw_free(gw);
  return err->code;
}

double lgw_gateway_cost_total(const lgw_gateway_t *gw) {
  return gw ? gw->cost_total : -1;
}

void lgw_gateway_usage_total(const lgw_gateway_t *gw, lgw_usage_t *out) {
  if (!out) return;
  memset(out, 0, sizeof *out);
  if (gw) *out = gw->usage_total;
}

int lgw_gateway_breaker_state(const lgw_gateway_t *gw, size_t index) {
  if (!gw || index >= gw->rt->nproviders) return LGW_EINVAL;
  return (int)lgw__breaker_state(&gw->breakers[index], gw_now(gw));
}

