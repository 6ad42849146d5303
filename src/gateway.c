/*
 * gateway.c -- the request lifecycle: the attempt plan (preferred provider
 * first, open circuit breakers skipped), rate-limit pacing, concurrency
 * slots, transport retries with backoff, provider failover, streamed
 * attempts (SSE deltas, first-token and idle timeouts, no retry after the
 * first delta), usage and cost, the overall deadline, cancellation, the
 * remembered provider (in the state file, or shared on Redis with the
 * breakers and rate limits), events and the completion callbacks. Deltas,
 * events and completions run from the loop through an idle handle, never
 * from inside libcurl or the caller's own call.
 */
#include "llmgateway.h"

#include <math.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include <uv.h>

#include "breaker.h"
#include "config.h"
#include "events.h"
#include "http.h"
#include "provider_state.h"
#include "ratelimit.h"
#include "retry.h"
#include "route.h"
#include "sse.h"
#include "state_redis.h"
#include "transport.h"
#include "util.h"

#define NSTYLES (LGW__STYLE_LITELLM + 1)

static const char empty_text_msg[] =
    "LLM response text was empty. Check provider api_style/response format.";

/* Endpoint of one provider for one transport, built on first use. */
typedef struct endpoint {
  char *url;                   /* owned */
  struct curl_slist *headers;  /* owned */
} endpoint_t;

/* The route of a task on one provider, for requests without overrides.
 * Entries never move: requests point at their route. */
typedef struct route_entry {
  struct route_entry *next;
  char *task;                  /* owned */
  lgw__route_t route;          /* owned */
} route_entry_t;

#define ROUTES_MAX 64          /* cached tasks per provider */

static const lgw_error_t oom_error = {LGW_ENOMEM, 0, "out of memory"};

enum { S_PLAN, S_PACE, S_WAIT, S_HTTP, S_SLEEP, S_DONE };

typedef struct req req_t;

/* What only a streamed attempt needs, allocated at the first one. */
typedef struct req_stream {
  lgw__sse_parser_t sse;
  lgw__stream_t stream;        /* the current streamed attempt */
  int abort_code, abort_status;  /* why the engine cut the transfer */
  char abort_msg[1024];
} req_stream_t;

typedef struct link {
  struct link *prev, *next;
} link_t;

struct req {
  lgw_gateway_t *gw;
  uint64_t id;
  lgw_done_fn cb;
  void *ud;
  int state;                   /* S_* */
  /* the request, copied */
  char *task;
  lgw_message_t *msgs;
  size_t nmsgs;
  char *model, *tier, *effort;
  lgw__overrides_t ov;
  int plain;                   /* no overrides: cached routes apply */
  double deadline;             /* seconds, 0 = none */
  /* the plan */
  size_t *order;               /* provider indexes, preferred first */
  size_t pos;                  /* into order */
  int attempt;                 /* on this provider; 0 = not entered yet */
  const lgw__route_t *route;   /* the gateway's cached one or own_route;
                                  NULL before routing */
  lgw__route_t own_route;      /* owned: a route built with overrides */
  lgw__http_req_t *http;
  int stop_code;               /* LGW_ECANCELED / LGW_EDEADLINE once asked */
  /* timers, allocated on first use (owned; closed before the request is
     freed) */
  uv_timer_t *sleep_timer, *deadline_timer, *ttft_timer, *idle_timer;
  int closing;                 /* timers still closing */
  /* the outcome */
  lgw_attempt_t *att;          /* message and model strings owned */
  size_t natt, catt;
  lgw__buf_t lines;            /* "- provider #i (...): msg" lines */
  int last_status;
  int status;
  lgw_error_t *err;            /* owned; set when the request fails */
  lgw__reply_t reply;
  size_t winner;               /* configured index on success */
  link_t all_link;             /* in gw->all */
  link_t q_link;               /* in gw->wait or gw->done */
  double start_ms;             /* submit time */
  /* pacing */
  int pacing;                  /* the sleep timer waits for a rate limit */
  double tokens_est;           /* reserved in the tpm bucket, 0 = none */
  int tokens_shared;           /* ... the shared one */
  lgw__redis_call_t *rs_call;  /* S_PACE: the shared reservation */
  size_t msg_bytes;
  /* streaming */
  lgw_delta_fn on_delta;
  void *delta_ud;
  int emitted;                 /* a delta was queued: no more attempts */
  req_stream_t *st;            /* owned; from the first streamed attempt */
  double attempt_ms;           /* start of the current attempt */
  double ttft;                 /* current attempt; -1 before a delta */
  /* usage */
  lgw_usage_t usage_total, win_usage;
  double cost_total, win_cost, win_ttft;
};

struct lgw_gateway {
  lgw_runtime_t *rt;           /* reference held */
  uv_loop_t *loop;
  int own_loop;                /* loop allocated and closed here */
  lgw__http_t *http;
  endpoint_t *eps;             /* nproviders * NSTYLES */
  char **shown_urls;           /* per provider: base_url with every API key
                                  redacted, or "<missing>"; owned */
  char *state_path;            /* NULL when no_state or shared */
  lgw__rstate_t *rs;           /* shared state on Redis, or NULL */
  char preferred[65];          /* provider key, "" when none */
  uint64_t rng;
  uint64_t next_id;
  size_t max_concurrent, inflight;
  size_t pending;
  link_t all, wait, done;      /* lists of req_t */
  uv_idle_t idle;              /* runs completion callbacks */
  int open_handles;            /* uv handles not yet closed */
  int cb_depth, running, free_pending, closing, freeing, no_pump;
  lgw__notes_t notes;          /* deltas and events to run */
  lgw_event_fn on_event;
  void *event_ud;
  lgw_clock_fn clock;
  void *clock_ud;
  route_entry_t **routes;      /* per provider: cached routes; owned */
  size_t *nroutes;
  long timeout_ms, connect_timeout_ms;
  lgw__breaker_t *breakers;    /* per configured provider */
  lgw__bucket_t *rpm, *tpm;    /* per configured provider */
  double cost_total;
  lgw_usage_t usage_total;
};

/* ---- lists (intrusive, circular, with a sentinel) ------------------------ */

#define REQ_OF(l, field) ((req_t *)(void *)((char *)(l) - offsetof(req_t, field)))

static void list_init(link_t *h) { h->prev = h->next = h; }
static int list_empty(const link_t *h) { return h->next == h; }

static void list_append(link_t *h, link_t *l) {
  l->prev = h->prev;
  l->next = h;
  h->prev->next = l;
  h->prev = l;
}

static void list_remove(link_t *l) {
  l->prev->next = l->next;
  l->next->prev = l->prev;
  l->prev = l->next = l;
}

/* ---- small helpers -------------------------------------------------------- */

static const lgw__provider_t *prov(const req_t *q) {
  return &q->gw->rt->providers[q->order[q->pos]];
}

static const char *prov_type(const lgw__provider_t *p) {
  return lgw__is_blank(p->provider_type) ? "unknown" : p->provider_type;
}

static const char *prov_url(const req_t *q) {
  return q->gw->shown_urls[q->order[q->pos]];
}

/* snprintf for messages: a long one is cut at cap. */
static void msgf(char *out, size_t cap, const char *fmt, ...)
    LGW__PRINTF(3, 4);
static void msgf(char *out, size_t cap, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(out, cap, fmt, ap);
  va_end(ap);
}

/* No API key of any provider survives in msg. */
static void redact_rt(const lgw_runtime_t *rt, char *msg, size_t cap) {
  size_t i;
  for (i = 0; i < rt->nproviders; i++)
    lgw__redact(msg, cap, rt->providers[i].api_key);
}

static void on_handle_close(uv_handle_t *h);

/* ---- attempts and outcome ------------------------------------------------- */

static double gw_now(const lgw_gateway_t *gw) {
  return gw->clock ? gw->clock(gw->clock_ud) : lgw__now_ms() / 1000.0;
}

static void on_idle(uv_idle_t *h);

/* Deltas, events and completions run from the idle handle. */
static void wake(lgw_gateway_t *gw) {
  if (!gw->closing) uv_idle_start(&gw->idle, on_idle);
}

static void queue_event(lgw_gateway_t *gw, const lgw_event_t *ev) {
  if (!gw->on_event) return;
  if (lgw__notes_event(&gw->notes, ev)) {
    lgw__log(LGW_LOG_WARN, "event dropped: out of memory");
    return;
  }
  wake(gw);
}

/* Cost of usage u on the current route: the price of the model sent,
 * else of the model requested; -1 when neither is priced. */
static double route_cost(const req_t *q, const lgw_usage_t *u) {
  const lgw_runtime_t *rt = q->gw->rt;
  const lgw__price_t *pr;
  if (!q->route) return -1;
  pr = lgw__runtime_price(rt, q->route->model);
  if (!pr) pr = lgw__runtime_price(rt, q->route->requested_model);
  return pr ? lgw__usage_cost(u, pr->input, pr->output) : -1;
}

/* Append one attempt on the current provider (msg is redacted first), add
 * its usage and cost to the totals, settle its rate-limit estimate and
 * queue its event. u NULL: no usage known. Returns the attempt's cost. */
static double record(req_t *q, int status, int code, const char *msg,
                     double elapsed, double delay, const lgw_usage_t *u) {
  lgw_gateway_t *gw = q->gw;
  size_t pi = q->order[q->pos];
  char buf[1024];
  lgw_attempt_t a;
  lgw_usage_t none;
  lgw_event_t ev;
  const lgw__provider_t *p = prov(q);
  if (!u) {
    lgw__usage_unknown(&none);
    u = &none;
  }
  msgf(buf, sizeof buf, "%s", msg ? msg : "");
  redact_rt(gw->rt, buf, sizeof buf);
  memset(&a, 0, sizeof a);
  a.provider_index = (int)q->pos + 1;
  a.provider_type = prov_type(p);
  a.base_url = prov_url(q);
  a.model = q->route ? q->route->model : "";
  a.http_status = status;
  a.code = code;
  a.message = buf;
  a.elapsed = elapsed;
  a.retry_delay = delay;
  a.usage = *u;
  a.cost = route_cost(q, u);
  a.ttft = q->ttft;
  a.configured_index = (int)pi + 1;
  q->ttft = -1;
  lgw__usage_add(&q->usage_total, u);
  lgw__usage_add(&gw->usage_total, u);
  if (a.cost >= 0) {
    q->cost_total = (q->cost_total > 0 ? q->cost_total : 0) + a.cost;
    gw->cost_total += a.cost;
  }
  if (q->tokens_est > 0 && u->input_tokens >= 0 && u->output_tokens >= 0) {
    double delta = q->tokens_est -
                   (double)(u->input_tokens + u->output_tokens);
    if (q->tokens_shared) lgw__rstate_settle(gw->rs, pi, delta);
    else lgw__bucket_settle(&gw->tpm[pi], delta, gw_now(gw));
  }
  q->tokens_est = 0;
  q->tokens_shared = 0;
  if (status) q->last_status = status;
  memset(&ev, 0, sizeof ev);
  ev.type = LGW_EVENT_ATTEMPT_END;
  ev.request_id = q->id;
  ev.task = q->task;
  ev.provider_index = a.configured_index;
  ev.provider_type = a.provider_type;
  ev.base_url = a.base_url;
  ev.model = a.model;
  ev.attempt = q->attempt > 0 ? q->attempt : 1;
  ev.http_status = status;
  ev.code = code;
  ev.message = buf;
  ev.latency = elapsed;
  ev.ttft = a.ttft;
  ev.retry_delay = delay;
  ev.usage = *u;
  ev.cost = a.cost;
  queue_event(gw, &ev);
  if (q->natt == q->catt) {
    size_t nc = q->catt ? q->catt * 2 : 4;
    lgw_attempt_t *na = lgw_realloc(q->att, nc * sizeof *na);
    if (!na) return a.cost;  /* the attempt list is best effort */
    q->att = na;
    q->catt = nc;
  }
  a.model = lgw__strdup(a.model);
  a.message = lgw__strdup(buf);
  if (!a.model || !a.message) {
    lgw_free((char *)a.model);
    lgw_free((char *)a.message);
    return a.cost;
  }
  q->att[q->natt++] = a;
  return a.cost;
}

/* The request has its outcome: queue its event and its callback. */
static void finish(req_t *q, int status) {
  lgw_gateway_t *gw = q->gw;
  lgw_event_t ev;
  if (status && !q->err) status = LGW_ENOMEM;  /* no room for its message */
  q->status = status;
  if (q->err) {
    q->err->code = status;
    q->err->http_status = q->last_status;
    redact_rt(gw->rt, q->err->message, sizeof q->err->message);
  }
  q->state = S_DONE;
  if (q->deadline_timer) uv_timer_stop(q->deadline_timer);
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
  ev.message = status ? (q->err ? q->err : &oom_error)->message : "";
  ev.latency = (lgw__now_ms() - q->start_ms) / 1000.0;
  ev.usage = q->usage_total;
  ev.cost = q->cost_total;
  queue_event(gw, &ev);
  list_append(&gw->done, &q->q_link);
  wake(gw);
}

/* q->err, allocated on first use; NULL when memory is short (finish then
 * reports LGW_ENOMEM). */
static lgw_error_t *req_err(req_t *q) {
  if (!q->err) q->err = lgw__calloc(1, sizeof *q->err);
  return q->err;
}

/* q->err for a request stopped by cancel or deadline. */
static void stop_error(req_t *q) {
  if (q->stop_code == LGW_EDEADLINE)
    lgw__error_set(req_err(q), LGW_EDEADLINE,
                   "LLM request for task '%s' did not finish within its "
                   "deadline of %.1fs.", q->task, q->deadline);
  else
    lgw__error_set(req_err(q), LGW_ECANCELED,
                   "LLM request for task '%s' was canceled.", q->task);
}

static void finish_stopped(req_t *q) {
  stop_error(q);
  finish(q, q->stop_code);
}

static void finish_exhausted(req_t *q) {
  lgw__error_set(req_err(q), LGW_EEXHAUSTED,
                 "LLM request failed for task '%s' across all configured "
                 "providers:\n%s", q->task, q->lines.data ? q->lines.data : "");
  finish(q, LGW_EEXHAUSTED);
}

/* Forget the current route (freed when it was the request's own). */
static void route_drop(req_t *q) {
  if (q->route == &q->own_route) lgw__route_free(&q->own_route);
  q->route = NULL;
}

/* This provider is done with: remember its last error (redacted with the
 * whole message in finish), go to the next. */
static void provider_failed(req_t *q, const char *msg) {
  if (q->lines.len) lgw__buf_addc(&q->lines, '\n');
  lgw__buf_printf(&q->lines, "- provider #%zu (%s, %s): %s", q->pos + 1,
                  prov_type(prov(q)), prov_url(q), msg);
  route_drop(q);
  q->attempt = 0;
  q->pos++;
}

/* ---- the plan ------------------------------------------------------------- */

static void plan(req_t *q);
static void send_attempt(req_t *q);
static void pace(req_t *q);

static void pump(lgw_gateway_t *gw) {
  req_t *q;
  while (!gw->no_pump && gw->inflight < gw->max_concurrent &&
         !list_empty(&gw->wait)) {
    q = REQ_OF(gw->wait.next, q_link);
    list_remove(&q->q_link);
    gw->inflight++;
    send_attempt(q);
  }
}

static void slot_release(lgw_gateway_t *gw) {
  gw->inflight--;
  pump(gw);
}

/* FIFO: a free slot goes to the longest waiter. */
static void slot_acquire(req_t *q) {
  lgw_gateway_t *gw = q->gw;
  if (gw->inflight < gw->max_concurrent && list_empty(&gw->wait)) {
    gw->inflight++;
    send_attempt(q);
  } else {
    q->state = S_WAIT;
    list_append(&gw->wait, &q->q_link);
  }
}

/* ---- circuit breakers and rate limits ------------------------------------- */

/* q NULL: the change came from the shared state (request_id 0). */
static void breaker_event(lgw_gateway_t *gw, const req_t *q, size_t pi,
                          lgw_event_type_t type) {
  lgw_event_t ev;
  const lgw__provider_t *p = &gw->rt->providers[pi];
  lgw__log(LGW_LOG_INFO, "provider #%zu (%s): circuit breaker %s%s", pi + 1,
           prov_type(p), type == LGW_EVENT_BREAKER_OPEN ? "open" : "closed",
           q ? "" : " (shared state)");
  memset(&ev, 0, sizeof ev);
  ev.type = type;
  ev.request_id = q ? q->id : 0;
  ev.task = q ? q->task : "";
  ev.provider_index = (int)pi + 1;
  ev.provider_type = prov_type(p);
  ev.base_url = gw->shown_urls[pi];
  ev.ttft = ev.cost = -1;
  lgw__usage_unknown(&ev.usage);
  if (type == LGW_EVENT_BREAKER_OPEN)
    ev.breaker_cooldown = gw->rt->breaker_cooldown;
  queue_event(gw, &ev);
}

static void breaker_failure(req_t *q) {
  size_t pi = q->order[q->pos];
  lgw__rstate_breaker(q->gw->rs, pi, 1, 1);
  if (lgw__breaker_failure(&q->gw->breakers[pi], gw_now(q->gw)))
    breaker_event(q->gw, q, pi, LGW_EVENT_BREAKER_OPEN);
}

static void breaker_success(req_t *q) {
  size_t pi = q->order[q->pos];
  const lgw__breaker_t *b = &q->gw->breakers[pi];
  lgw__rstate_breaker(q->gw->rs, pi, 0, b->open || b->nfails > 0);
  if (lgw__breaker_success(&q->gw->breakers[pi]))
    breaker_event(q->gw, q, pi, LGW_EVENT_BREAKER_CLOSE);
}

/* ---- shared state hooks ---------------------------------------------------- */

static void shared_preferred(void *ud, const char *provider_key) {
  lgw_gateway_t *gw = ud;
  if (provider_key[0])
    msgf(gw->preferred, sizeof gw->preferred, "%s", provider_key);
}

static void shared_breaker(void *ud, size_t pi, double remaining) {
  lgw_gateway_t *gw = ud;
  int change = lgw__breaker_adopt(&gw->breakers[pi], gw_now(gw), remaining);
  if (change)
    breaker_event(gw, NULL, pi, change > 0 ? LGW_EVENT_BREAKER_OPEN
                                           : LGW_EVENT_BREAKER_CLOSE);
}

/* An open provider is skipped, unless it is the last one left. */
static int breaker_skips(const req_t *q) {
  const lgw_gateway_t *gw = q->gw;
  return q->pos + 1 < gw->rt->nproviders &&
         lgw__breaker_state(&gw->breakers[q->order[q->pos]], gw_now(gw)) ==
             LGW__BREAKER_OPEN;
}

/* Reserve this attempt in the provider's buckets; the seconds to wait. */
static double reserve(req_t *q) {
  lgw_gateway_t *gw = q->gw;
  size_t pi = q->order[q->pos];
  double now = gw_now(gw), wait, w;
  wait = lgw__bucket_reserve(&gw->rpm[pi], 1, now);
  q->tokens_est = 0;
  if (gw->tpm[pi].per_s > 0) {
    q->tokens_est = lgw__estimate_tokens(q->msg_bytes, q->route->max_tokens);
    w = lgw__bucket_reserve(&gw->tpm[pi], q->tokens_est, now);
    if (w > wait) wait = w;
  }
  return wait;
}

/* A new cached route of task on provider pi, or NULL with e set. */
static const lgw__route_t *route_add(lgw_gateway_t *gw, size_t pi,
                                     const char *task, lgw_error_t *e) {
  route_entry_t *r = lgw__calloc(1, sizeof *r);
  if (!r || !(r->task = lgw__strdup(task))) {
    lgw_free(r);
    lgw__error_set(e, LGW_ENOMEM, "out of memory while routing");
    return NULL;
  }
  if (lgw__route(gw->rt, &gw->rt->providers[pi], task, NULL, &r->route, e)) {
    lgw_free(r->task);
    lgw_free(r);
    return NULL;
  }
  r->next = gw->routes[pi];
  gw->routes[pi] = r;
  gw->nroutes[pi]++;
  return &r->route;
}

/* The route of q on its current provider. A route depends only on the
 * runtime, the provider, the task and the overrides: without overrides it
 * is built once per (provider, task) and shared; with them the request
 * builds its own. NULL with e set on failure. */
static const lgw__route_t *route_for(req_t *q, lgw_error_t *e) {
  lgw_gateway_t *gw = q->gw;
  size_t pi = q->order[q->pos];
  const route_entry_t *r;
  if (q->plain) {
    for (r = gw->routes[pi]; r; r = r->next)
      if (strcmp(r->task, q->task) == 0) return &r->route;
    if (gw->nroutes[pi] < ROUTES_MAX) return route_add(gw, pi, q->task, e);
  }
  if (lgw__route(gw->rt, &gw->rt->providers[pi], q->task, &q->ov,
                 &q->own_route, e))
    return NULL;
  return &q->own_route;
}

static void routes_free(lgw_gateway_t *gw) {
  size_t i;
  route_entry_t *r, *next;
  for (i = 0; gw->routes && i < gw->rt->nproviders; i++)
    for (r = gw->routes[i]; r; r = next) {
      next = r->next;
      lgw__route_free(&r->route);
      lgw_free(r->task);
      lgw_free(r);
    }
  lgw_free(gw->routes);
  lgw_free(gw->nroutes);
}

/* Skip providers that cannot be tried, then ask for a slot. */
static void plan(req_t *q) {
  lgw_gateway_t *gw = q->gw;
  lgw_error_t e;
  q->state = S_PLAN;
  while (q->pos < gw->rt->nproviders) {
    const lgw__provider_t *p = prov(q);
    if (q->attempt == 0) {
      if (lgw__is_blank(p->base_url)) {
        record(q, 0, LGW_ECONFIG, "LLM base_url is not configured.", 0, 0,
               NULL);
        provider_failed(q, "LLM base_url is not configured.");
        continue;
      }
      if (breaker_skips(q)) {
        char why[160];
        msgf(why, sizeof why, "Skipped: circuit breaker open (%ld retryable "
             "failures within %.1fs).", gw->rt->breaker_failures,
             gw->rt->breaker_window);
        provider_failed(q, why);
        continue;
      }
      memset(&e, 0, sizeof e);
      if (!(q->route = route_for(q, &e))) {
        record(q, 0, e.code, e.message, 0, 0, NULL);
        provider_failed(q, e.message);
        continue;
      }
      q->attempt = 1;
    }
    pace(q);
    return;
  }
  finish_exhausted(q);
}

static const endpoint_t *endpoint(lgw_gateway_t *gw, size_t pi,
                                  lgw__style_t style) {
  endpoint_t *ep = &gw->eps[pi * NSTYLES + (size_t)style];
  const lgw__transport_t *tr;
  lgw__kvlist_t kv = {NULL, 0};
  if (ep->url) return ep;
  tr = lgw__transport_for(style);
  if (!tr) return NULL;
  if (tr->headers(&gw->rt->providers[pi], &kv) == 0)
    ep->headers = lgw__http_headers(&kv);
  lgw__kvlist_free(&kv);
  if (!ep->headers) return NULL;
  ep->url = tr->url(&gw->rt->providers[pi]);
  if (!ep->url) {
    lgw__http_headers_free(ep->headers);
    ep->headers = NULL;
    return NULL;
  }
  return ep;
}

static void on_http(const lgw__http_resp_t *resp, void *ud);

/* After a failed attempt that cannot be retried, or whose retry is not
 * possible: the next provider. Holds no slot. */
static void fail_over(req_t *q, const char *msg) {
  provider_failed(q, msg);
  plan(q);
}

/* ---- streamed attempts ------------------------------------------------------ */

static const char *attempt_url(const req_t *q) {
  const char *u = q->gw->eps[q->order[q->pos] * NSTYLES +
                             (size_t)q->route->style].url;
  return u ? u : prov_url(q);
}

/* Start (or restart) one of the request's own timers, allocated on first
 * use (closed and freed with the request). */
static int timer_start(req_t *q, uv_timer_t **t, uv_timer_cb cb,
                       double seconds) {
  if (!*t) {
    uv_timer_t *nt = lgw_malloc(sizeof *nt);
    if (!nt) return LGW_ENOMEM;
    uv_timer_init(q->gw->loop, nt);
    nt->data = q;
    *t = nt;
    q->gw->open_handles++;
  }
  uv_timer_start(*t, cb, (uint64_t)ceil(seconds * 1000.0), 0);
  return 0;
}

static void stream_timers_stop(req_t *q) {
  if (q->ttft_timer) uv_timer_stop(q->ttft_timer);
  if (q->idle_timer) uv_timer_stop(q->idle_timer);
}

/* Why the engine cuts a transfer; its completion then reports this. */
static void abort_set(req_t *q, int code, int status, const char *fmt, ...)
    LGW__PRINTF(4, 5);
static void abort_set(req_t *q, int code, int status, const char *fmt, ...) {
  va_list ap;
  q->st->abort_code = code;
  q->st->abort_status = status;
  va_start(ap, fmt);
  vsnprintf(q->st->abort_msg, sizeof q->st->abort_msg, fmt, ap);
  va_end(ap);
}

static void on_ttft_timeout(uv_timer_t *t) {
  req_t *q = t->data;
  if (!q->http) return;
  abort_set(q, LGW_ETIMEOUT, 0, "No first token from %s within "
            "first_token_timeout (%.1fs).", attempt_url(q),
            q->gw->rt->first_token_timeout);
  lgw__http_cancel(q->http);  /* on_http reports it */
}

static void on_idle_timeout(uv_timer_t *t) {
  req_t *q = t->data;
  if (!q->http) return;
  abort_set(q, LGW_ETIMEOUT, 0, "Stream from %s was idle for more than "
            "idle_timeout (%.1fs).", attempt_url(q),
            q->gw->rt->idle_timeout);
  lgw__http_cancel(q->http);
}

/* Queue a piece of text for the caller's delta callback. From then on the
 * request is committed to this attempt. */
static void emit_delta(req_t *q, const char *text, size_t len) {
  lgw_gateway_t *gw = q->gw;
  if (q->ttft < 0) {
    q->ttft = (lgw__now_ms() - q->attempt_ms) / 1000.0;
    if (q->ttft_timer) uv_timer_stop(q->ttft_timer);
  }
  if (lgw__notes_delta(&gw->notes, q->on_delta, q->delta_ud, gw, q->id, text,
                       len)) {
    lgw__log(LGW_LOG_WARN, "delta dropped: out of memory");
    return;
  }
  q->emitted = 1;
  wake(gw);
}

static int on_sse_event(const char *name, const char *data, size_t len,
                        void *ud) {
  req_t *q = ud;
  const lgw__transport_t *tr = lgw__transport_for(q->route->style);
  lgw_error_t e;
  int rc;
  (void)name;
  memset(&e, 0, sizeof e);
  q->st->stream.delta.len = 0;
  rc = tr->stream_event(&q->st->stream, data, len, &e);
  if (rc) {
    abort_set(q, rc, e.http_status, "HTTP 200 from %s: stream error: %s",
              attempt_url(q), e.message);
    return rc;
  }
  if (q->st->stream.delta.len)
    emit_delta(q, q->st->stream.delta.data, q->st->stream.delta.len);
  return 0;
}

/* A piece of the event stream (from the loop, after curl returned). */
static int on_stream_data(const char *p, size_t n, void *ud) {
  req_t *q = ud;
  const lgw_runtime_t *rt = q->gw->rt;
  int rc;
  if (rt->idle_timeout > 0 &&
      timer_start(q, &q->idle_timer, on_idle_timeout, rt->idle_timeout))
    lgw__log(LGW_LOG_WARN, "out of memory: no idle timeout for request %llu",
             (unsigned long long)q->id);
  rc = lgw__sse_feed(&q->st->sse, p, n, on_sse_event, q);
  if (rc && !q->st->abort_code)
    abort_set(q, LGW_ENOMEM, 0, "Out of memory reading the stream from %s.",
              attempt_url(q));
  return rc != 0;
}

static void stream_free(req_stream_t *st) {
  if (!st) return;
  lgw__sse_parser_free(&st->sse);
  lgw__stream_free(&st->stream);
  lgw_free(st);
}

/* Fresh stream state for a streamed attempt. */
static int stream_reset(req_t *q) {
  stream_free(q->st);
  q->st = lgw__calloc(1, sizeof *q->st);
  if (!q->st) return LGW_ENOMEM;
  lgw__sse_parser_init(&q->st->sse);
  lgw__stream_init(&q->st->stream);
  return 0;
}

/* ---- attempts ------------------------------------------------------------- */

/* A slot is held: build the body and post it. */
static void send_attempt(req_t *q) {
  lgw_gateway_t *gw = q->gw;
  const lgw_runtime_t *rt = gw->rt;
  const lgw__transport_t *tr = lgw__transport_for(q->route->style);
  const endpoint_t *ep = endpoint(gw, q->order[q->pos], q->route->style);
  lgw__call_t call;
  lgw__http_opts_t o;
  lgw_error_t e;
  char *body = NULL;
  size_t len = 0;
  int rc;
  memset(&e, 0, sizeof e);
  q->state = S_HTTP;
  q->ttft = -1;
  if (!tr || !ep || (q->on_delta && stream_reset(q))) {
    rc = lgw__error_set(&e, LGW_ENOMEM,
                        "Cannot prepare the request: out of memory.");
  } else {
    memset(&call, 0, sizeof call);
    call.messages = q->msgs;
    call.nmessages = q->nmsgs;
    call.model = q->route->model;
    call.reasoning_effort = q->route->reasoning_effort;
    call.temperature = q->route->temperature;
    call.max_tokens = q->route->max_tokens;
    call.stream = q->on_delta != NULL;
    rc = tr->body(&call, &body, &len, &e);
  }
  if (rc == 0) {
    memset(&o, 0, sizeof o);
    o.url = ep->url;
    o.headers = ep->headers;
    o.body_len = len;
    o.timeout_ms = gw->timeout_ms;
    o.connect_timeout_ms = gw->connect_timeout_ms;
    o.max_response_bytes = rt->max_response_bytes;
    if (q->on_delta) o.on_data = on_stream_data;
    q->attempt_ms = lgw__now_ms();
    /* the transfer takes the body */
    rc = lgw__http_post_owned(gw->http, &o, body, on_http, q, &q->http, &e);
  }
  if (rc == 0) {
    if (q->on_delta && rt->first_token_timeout > 0 &&
        timer_start(q, &q->ttft_timer, on_ttft_timeout,
                    rt->first_token_timeout))
      lgw__log(LGW_LOG_WARN, "out of memory: no first-token timeout for "
               "request %llu", (unsigned long long)q->id);
    return;
  }
  /* Nothing was sent; a retry would fail the same way. */
  record(q, 0, rc, e.message, 0, 0, NULL);
  slot_release(gw);
  fail_over(q, e.message);
}

static void on_sleep_done(uv_timer_t *t) {
  req_t *q = t->data;
  if (q->pacing) {
    q->pacing = 0;
    slot_acquire(q);
  } else {
    pace(q);
  }
}

static void sleep_for(req_t *q, double delay) {
  if (timer_start(q, &q->sleep_timer, on_sleep_done, delay)) {
    lgw__log(LGW_LOG_WARN, "out of memory: request %llu goes on without "
             "waiting %.3fs", (unsigned long long)q->id, delay);
    if (q->pacing) {
      q->pacing = 0;
      slot_acquire(q);
    } else {
      pace(q);
    }
    return;
  }
  q->state = S_SLEEP;
}

static void paced(req_t *q, double wait);

/* The shared buckets answered (ok), or not: then the local ones decide. */
static void on_shared_wait(void *ud, int ok, double wait) {
  req_t *q = ud;
  q->rs_call = NULL;
  if (!ok) {
    q->tokens_est = 0;
    q->tokens_shared = 0;
    wait = reserve(q);
  }
  paced(q, wait);
}

/* With shared state, a provider's limits are reserved on the server. */
static int shared_reserve(req_t *q) {
  lgw_gateway_t *gw = q->gw;
  size_t pi = q->order[q->pos];
  if (!lgw__rstate_ready(gw->rs) ||
      (gw->rpm[pi].per_s <= 0 && gw->tpm[pi].per_s <= 0))
    return 0;
  q->tokens_est = gw->tpm[pi].per_s > 0
                      ? lgw__estimate_tokens(q->msg_bytes,
                                             q->route->max_tokens)
                      : 0;
  if (lgw__rstate_reserve(gw->rs, pi, q->tokens_est, on_shared_wait, q,
                          &q->rs_call)) {
    q->tokens_est = 0;
    return 0;
  }
  q->tokens_shared = q->tokens_est > 0;
  q->state = S_PACE;
  return 1;
}

/* Wait for the provider's rate limits (no slot held), then for a slot. */
static void pace(req_t *q) {
  if (!shared_reserve(q)) paced(q, reserve(q));
}

static void paced(req_t *q, double wait) {
  if (wait > 0) {
    q->pacing = 1;
    sleep_for(q, wait);
  } else {
    slot_acquire(q);
  }
}

/* Wait delay seconds (no slot held), then try the provider again. */
static void retry_later(req_t *q, double delay) {
  q->attempt++;
  if (delay <= 0) pace(q);
  else sleep_for(q, delay);
}

static int status_code(long status) {
  if (status == 429) return LGW_ERATELIMIT;
  if (status == 401 || status == 403) return LGW_EAUTH;
  return LGW_EHTTP;
}

/* Message for a transfer that produced no usable response. */
static void transfer_message(const req_t *q, const lgw__http_resp_t *resp,
                             const char *url, char *out, size_t cap) {
  const lgw_runtime_t *rt = q->gw->rt;
  switch (resp->code) {
    case LGW_ECONNECT:
      msgf(out, cap, "Cannot connect to %s: %s", url, resp->error);
      break;
    case LGW_ETIMEOUT:
      if (resp->connect_timeout)
        msgf(out, cap, "Request to %s: connect timed out "
             "(connect_timeout=%.1fs): %s", url, rt->connect_timeout,
             resp->error);
      else
        msgf(out, cap, "Request to %s timed out (timeout=%.1fs): %s", url,
             rt->timeout, resp->error);
      break;
    case LGW_ETOOBIG:
      msgf(out, cap,
               "Response from %s is larger than max_response_bytes "
               "(%ld bytes).", url, rt->max_response_bytes);
      break;
    default:
      msgf(out, cap, "Transfer from %s failed: %s", url, resp->error);
      break;
  }
}

static void remember_provider(lgw_gateway_t *gw, const lgw__provider_t *p) {
  lgw_error_t e;
  if (strcmp(gw->preferred, p->key) == 0) return;
  memcpy(gw->preferred, p->key, sizeof gw->preferred);
  lgw__rstate_set_preferred(gw->rs, p->key);
  if (!gw->state_path) return;
  memset(&e, 0, sizeof e);
  if (lgw__state_update(gw->state_path, gw->rt->config_key, p->key, &e))
    lgw__log(LGW_LOG_WARN, "cannot remember the preferred provider: %s",
             e.message);
}

static void usage_of(const lgw__reply_t *r, lgw_usage_t *u) {
  u->input_tokens = r->input_tokens;
  u->output_tokens = r->output_tokens;
  u->cached_tokens = r->cached_tokens;
  u->reasoning_tokens = r->reasoning_tokens;
}

/* A complete event stream: its terminal event must have come. */
static int stream_end(req_t *q, char *msg, size_t cap, int *cls_status) {
  req_stream_t *st = q->st;
  int rc = lgw__sse_finish(&st->sse, on_sse_event, q);
  if (rc) {
    if (!st->abort_code)
      abort_set(q, rc, 0, "Out of memory reading the stream from %s.",
                attempt_url(q));
    if (st->abort_status) *cls_status = st->abort_status;
    msgf(msg, cap, "%s", st->abort_msg);
    return st->abort_code;
  }
  if (!st->stream.done) {
    msgf(msg, cap, "HTTP 200 from %s: the stream ended without its "
         "terminal event.", attempt_url(q));
    return LGW_ERESPONSE;
  }
  if (lgw__stream_take(&st->stream, &q->reply)) {
    msgf(msg, cap, "Out of memory reading the stream from %s.",
         attempt_url(q));
    return LGW_ENOMEM;
  }
  return 0;
}

/* A complete 2xx body; a streamed request gets its text as one delta. */
static int body_end(req_t *q, const lgw__http_resp_t *resp, char *msg,
                    size_t cap, int *cls_status) {
  const lgw__transport_t *tr = lgw__transport_for(q->route->style);
  lgw_error_t e;
  int code;
  memset(&e, 0, sizeof e);
  code = tr->parse(resp->body, resp->body_len, resp->content_type, &q->reply,
                   &e);
  if (code) {
    msgf(msg, cap, "HTTP %d from %s: %s", (int)resp->status, attempt_url(q),
         e.message);
    if (e.http_status) *cls_status = e.http_status;
  } else if (q->on_delta && !lgw__is_blank(q->reply.text)) {
    emit_delta(q, q->reply.text, q->reply.text_len);
  }
  return code;
}

/* The request committed to a stream that broke: no other attempt. */
static void stream_broken(req_t *q, int code, const char *msg) {
  lgw__error_set(req_err(q), code, "LLM stream for task '%s' broke after its "
                 "first delta (provider #%zu, %s): %s", q->task, q->pos + 1,
                 prov_type(prov(q)), msg);
  finish(q, code);
}

/* A failed attempt: recorded, then counted by the provider's breaker when
 * it is of the retryable kind (the provider's fault, not the request's). */
static void record_failure(req_t *q, int status, int code, const char *msg,
                           double elapsed, double delay, const lgw_usage_t *u,
                           lgw__next_t next) {
  record(q, status, code, msg, elapsed, delay, u);
  if (next == LGW__NEXT_RETRY) breaker_failure(q);
}

static void on_http(const lgw__http_resp_t *resp, void *ud) {
  req_t *q = ud;
  lgw_gateway_t *gw = q->gw;
  const lgw_runtime_t *rt = gw->rt;
  const lgw__provider_t *p = prov(q);
  int status = (int)resp->status, cls_status = status, code, retries;
  lgw__next_t next;
  double delay = 0;
  long asked;
  char msg[1024];
  lgw_usage_t u;
  q->http = NULL;
  stream_timers_stop(q);
  slot_release(gw);
  lgw__usage_unknown(&u);
  if (q->st) usage_of(&q->st->stream.reply, &u);
  if (q->stop_code ||
      (resp->code == LGW_ECANCELED && !(q->st && q->st->abort_code))) {
    if (!q->stop_code) q->stop_code = LGW_ECANCELED;
    stop_error(q);
    record(q, status, q->stop_code, (q->err ? q->err : &oom_error)->message,
           resp->elapsed, 0, &u);
    finish(q, q->stop_code);
    return;
  }
  msg[0] = '\0';
  if (resp->code == LGW_ECANCELED) {
    /* cut by the engine: a timeout or an error event in the stream */
    code = q->st->abort_code;
    if (q->st->abort_status) cls_status = q->st->abort_status;
    msgf(msg, sizeof msg, "%s", q->st->abort_msg);
  } else if (resp->code == 0 && status >= 200 && status < 300) {
    code = resp->streamed ? stream_end(q, msg, sizeof msg, &cls_status)
                          : body_end(q, resp, msg, sizeof msg, &cls_status);
    if (code == 0 || !resp->streamed) usage_of(&q->reply, &u);
    if (code == 0 && !lgw__is_blank(q->reply.text)) {
      q->win_ttft = q->ttft;
      q->win_usage = u;
      q->win_cost = record(q, status, 0, "", resp->elapsed, 0, &u);
      breaker_success(q);
      q->winner = q->order[q->pos];
      remember_provider(gw, p);
      finish(q, 0);
      return;
    }
    if (code == 0) {
      code = LGW_EEMPTY;
      msgf(msg, sizeof msg, "%s", empty_text_msg);
    }
    lgw__reply_free(&q->reply);
  } else if (resp->code == 0) {
    char detail[512];
    code = status_code(status);
    lgw__error_body_message(resp->body, resp->body_len, detail,
                            sizeof detail);
    if (detail[0])
      msgf(msg, sizeof msg, "HTTP %d from %s: %s", status, attempt_url(q),
               detail);
    else
      msgf(msg, sizeof msg, "HTTP %d from %s", status, attempt_url(q));
  } else {
    code = resp->code;
    transfer_message(q, resp, attempt_url(q), msg, sizeof msg);
  }
  next = lgw__retry_classify(cls_status, code, resp->x_should_retry);
  if (q->emitted) {
    record_failure(q, status, code, msg, resp->elapsed, 0, &u, next);
    stream_broken(q, code, msg);
    return;
  }
  retries = rt->transport_retries > 1 ? (int)rt->transport_retries : 1;
  if (q->attempt < retries && next == LGW__NEXT_RETRY) {
    asked = lgw__retry_after_parse(resp->retry_after_ms, resp->retry_after,
                                   lgw__wall_s());
    if (asked >= 0 && (double)asked / 1000.0 > rt->retry_after_max) {
      record_failure(q, status, code, msg, resp->elapsed, 0, &u, next);
      lgw__log(LGW_LOG_INFO,
               "provider #%zu asked to wait %.1fs (retry_after_max %.1fs): "
               "failing over", q->pos + 1, (double)asked / 1000.0,
               rt->retry_after_max);
      fail_over(q, msg);
      return;
    }
    delay = asked >= 0 ? (double)asked / 1000.0
                       : lgw__backoff(q->attempt, rt->backoff_base,
                                      rt->backoff_max, &gw->rng);
    record_failure(q, status, code, msg, resp->elapsed, delay, &u, next);
    retry_later(q, delay);
    return;
  }
  record_failure(q, status, code, msg, resp->elapsed, 0, &u, next);
  fail_over(q, msg);
}
/* Stop a request that is still running, with code. */
static void stop(req_t *q, int code) {
  if (q->state == S_DONE || q->stop_code) return;
  q->stop_code = code;
  switch (q->state) {
    case S_HTTP:
      lgw__http_cancel(q->http);  /* on_http finishes it */
      return;
    case S_SLEEP:
      uv_timer_stop(q->sleep_timer);
      break;
    case S_PACE:
      lgw__redis_forget(q->rs_call);
      q->rs_call = NULL;
      break;
    case S_WAIT:
      list_remove(&q->q_link);
      break;
    default:
      break;
  }
  finish_stopped(q);
}

static void on_deadline(uv_timer_t *t) { stop(t->data, LGW_EDEADLINE); }

/* ---- completion ------------------------------------------------------------ */

static void req_free(req_t *q) {
  size_t i;
  for (i = 0; i < q->natt; i++) {
    lgw_free((char *)q->att[i].model);
    lgw_free((char *)q->att[i].message);
  }
  lgw_free(q->att);
  for (i = 0; i < q->nmsgs; i++) {
    lgw_free((char *)q->msgs[i].role);
    lgw_free((char *)q->msgs[i].content);
  }
  lgw_free(q->msgs);
  lgw_free(q->task);
  lgw_free(q->model);
  lgw_free(q->tier);
  lgw_free(q->effort);
  lgw_free(q->order);
  route_drop(q);
  lgw__reply_free(&q->reply);
  lgw__buf_free(&q->lines);
  stream_free(q->st);
  lgw_free(q->err);
  lgw_free(q->sleep_timer);
  lgw_free(q->deadline_timer);
  lgw_free(q->ttft_timer);
  lgw_free(q->idle_timer);
  lgw_free(q);
}

static void gw_destroy(lgw_gateway_t *gw);

static void on_handle_close(uv_handle_t *h) {
  lgw_gateway_t *gw;
  if (h->type == UV_TIMER) {
    req_t *q = h->data;
    gw = q->gw;
    if (--q->closing == 0) req_free(q);
  } else {
    gw = h->data;
  }
  if (--gw->open_handles == 0 && gw->freeing && !gw->own_loop &&
      !gw->running)
    gw_destroy(gw);
}

/* Release a request whose callback has run; timers close first. */
static void req_release(req_t *q) {
  uv_timer_t *const timers[] = {q->sleep_timer, q->deadline_timer,
                                q->ttft_timer, q->idle_timer};
  size_t i;
  for (i = 0; i < 4; i++) q->closing += timers[i] != NULL;
  if (!q->closing) {
    req_free(q);
    return;
  }
  for (i = 0; i < 4; i++)
    if (timers[i]) uv_close((uv_handle_t *)timers[i], on_handle_close);
}

static void call_back(req_t *q) {
  lgw_gateway_t *gw = q->gw;
  const lgw_runtime_t *rt = gw->rt;
  lgw_result_t res;
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
  }
  res.attempts = q->att;
  res.nattempts = q->natt;
  q->cb(gw, q->id, q->status, &res,
        q->status ? (q->err ? q->err : &oom_error) : NULL, q->ud);
}

static void teardown(lgw_gateway_t *gw);

/* Run every queued delta, event and completion callback, in that order.
 * A callback may submit, cancel or free. */
static void dispatch(lgw_gateway_t *gw) {
  req_t *q;
  gw->cb_depth++;
  for (;;) {
    if (lgw__notes_run_one(&gw->notes, gw->on_event, gw->event_ud)) continue;
    if (list_empty(&gw->done)) break;
    q = REQ_OF(gw->done.next, q_link);
    list_remove(&q->q_link);
    list_remove(&q->all_link);
    gw->pending--;
    call_back(q);
    req_release(q);
  }
  if (!gw->closing) uv_idle_stop(&gw->idle);
  if (--gw->cb_depth == 0 && gw->free_pending && !gw->closing) teardown(gw);
}

static void on_idle(uv_idle_t *h) { dispatch(h->data); }

/* ---- public API ---------------------------------------------------------- */

/* An override: copied when set, NULL when not. */
static int dup_opt(const char *s, char **out) {
  *out = s && *s ? lgw__strdup(s) : NULL;
  return s && *s && !*out;
}

static req_t *req_copy(const lgw_request_t *r) {
  req_t *q = lgw__calloc(1, sizeof *q);
  size_t i;
  int bad = 0;
  if (!q) return NULL;
  q->task = lgw__strdup(r->task ? r->task : "");
  bad = !q->task;
  bad |= dup_opt(r->model, &q->model);
  bad |= dup_opt(r->tier, &q->tier);
  bad |= dup_opt(r->reasoning_effort, &q->effort);
  if (r->nmessages) {
    q->msgs = lgw__calloc(r->nmessages, sizeof *q->msgs);
    bad |= !q->msgs;
    for (i = 0; q->msgs && i < r->nmessages; i++) {
      q->nmsgs++;
      q->msgs[i].role = lgw__strdup(r->messages[i].role);
      q->msgs[i].content = lgw__strdup(r->messages[i].content);
      bad |= (r->messages[i].role && !q->msgs[i].role) ||
             (r->messages[i].content && !q->msgs[i].content);
    }
  }
  q->ov.model = q->model;
  q->ov.tier = q->tier;
  q->ov.reasoning_effort = q->effort;
  q->ov.has_temperature = r->has_temperature;
  q->ov.temperature = r->temperature;
  q->ov.max_tokens = r->max_tokens;
  q->plain = !q->model && !q->tier && !q->effort && !r->has_temperature &&
             !r->max_tokens;
  q->on_delta = r->on_delta;
  q->delta_ud = r->delta_ud;
  for (i = 0; i < q->nmsgs; i++)
    q->msg_bytes += q->msgs[i].content ? strlen(q->msgs[i].content) : 0;
  if (bad) {
    req_free(q);
    return NULL;
  }
  return q;
}

int lgw_gateway_submit(lgw_gateway_t *gw, const lgw_request_t *req,
                       lgw_done_fn cb, void *ud, uint64_t *id,
                       lgw_error_t *err) {
  const lgw_runtime_t *rt;
  req_t *q;
  if (id) *id = 0;
  if (!gw || !req || !cb || (req->nmessages && !req->messages))
    return lgw__error_set(err, LGW_EINVAL, "lgw_gateway_submit: invalid "
                                           "arguments");
  if (gw->closing || gw->free_pending)
    return lgw__error_set(err, LGW_EINVAL,
                          "lgw_gateway_submit: the gateway is being freed");
  rt = gw->rt;
  q = req_copy(req);
  if (!q || (rt->nproviders &&
             !(q->order = lgw__calloc(rt->nproviders, sizeof *q->order)))) {
    if (q) req_free(q);
    return lgw__error_set(err, LGW_ENOMEM, "out of memory");
  }
  q->gw = gw;
  q->id = ++gw->next_id;
  q->cb = cb;
  q->ud = ud;
  q->deadline = req->deadline > 0 ? req->deadline
                                   : (rt->deadline > 0 ? rt->deadline : 0);
  q->start_ms = lgw__now_ms();
  q->ttft = q->win_ttft = -1;
  q->cost_total = q->win_cost = -1;
  lgw__usage_unknown(&q->win_usage);
  if (rt->nproviders && q->deadline > 0 &&
      timer_start(q, &q->deadline_timer, on_deadline, q->deadline)) {
    req_free(q);
    return lgw__error_set(err, LGW_ENOMEM, "out of memory");
  }
  list_append(&gw->all, &q->all_link);
  gw->pending++;
  if (id) *id = q->id;
  if (!rt->nproviders) {
    lgw__error_set(req_err(q), LGW_ENOPROVIDER,
                   "No LLM providers are configured.");
    finish(q, LGW_ENOPROVIDER);
    return 0;
  }
  lgw__state_order(rt->providers, rt->nproviders, gw->preferred, q->order);
  plan(q);
  return 0;
}

int lgw_gateway_cancel(lgw_gateway_t *gw, uint64_t id) {
  link_t *l;
  if (!gw) return LGW_EINVAL;
  for (l = gw->all.next; l != &gw->all; l = l->next) {
    req_t *q = REQ_OF(l, all_link);
    if (q->id != id) continue;
    if (q->state == S_DONE) return LGW_EINVAL;
    stop(q, LGW_ECANCELED);
    return 0;
  }
  return LGW_EINVAL;
}

void lgw_gateway_cancel_all(lgw_gateway_t *gw) {
  link_t *l;
  if (!gw) return;
  /* no queued request may take a slot freed by a cancel */
  gw->no_pump++;
  for (l = gw->all.next; l != &gw->all; l = l->next)
    stop(REQ_OF(l, all_link), LGW_ECANCELED);
  gw->no_pump--;
}

size_t lgw_gateway_pending(const lgw_gateway_t *gw) {
  return gw ? gw->pending : 0;
}

struct uv_loop_s *lgw_gateway_loop(lgw_gateway_t *gw) {
  return gw ? gw->loop : NULL;
}

static void free_urls(char **urls, size_t n) {
  size_t i;
  for (i = 0; urls && i < n; i++) lgw_free(urls[i]);
  lgw_free(urls);
}

/* Provider URLs as shown in attempts and messages. */
static char **make_urls(const lgw_runtime_t *rt) {
  char **urls = lgw__calloc(rt->nproviders + 1, sizeof *urls);
  size_t i, cap;
  for (i = 0; urls && i < rt->nproviders; i++) {
    const char *u = rt->providers[i].base_url;
    if (lgw__is_blank(u)) u = "<missing>";
    /* "[redacted]" replaces at least 4 bytes: 3x always suffices */
    cap = 3 * strlen(u) + 11;
    urls[i] = lgw__calloc(1, cap);
    if (!urls[i]) {
      free_urls(urls, i);
      return NULL;
    }
    memcpy(urls[i], u, strlen(u) + 1);
    redact_rt(rt, urls[i], cap);
  }
  return urls;
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

static void gw_destroy(lgw_gateway_t *gw) {
  uv_loop_t *loop = gw->own_loop ? gw->loop : NULL;
  lgw__notes_clear(&gw->notes);
  routes_free(gw);
  limits_free(gw, gw->rt->nproviders);
  free_urls(gw->shown_urls, gw->rt->nproviders);
  lgw_runtime_free(gw->rt);
  lgw_free(gw->eps);
  lgw_free(gw->state_path);
  lgw_free(gw);
  lgw_free(loop);
}

/* Close the gateway's own loop once every handle is closed, then free. */
static void close_own_loop(lgw_gateway_t *gw) {
  while (uv_loop_close(gw->loop) == UV_EBUSY) uv_run(gw->loop, UV_RUN_DEFAULT);
  gw_destroy(gw);
}

int lgw_gateway_run(lgw_gateway_t *gw) {
  if (!gw) return LGW_EINVAL;
  if (gw->cb_depth || gw->running || gw->closing) return LGW_EINVAL;
  gw->running = 1;
  while (gw->pending > 0 && !gw->freeing) uv_run(gw->loop, UV_RUN_ONCE);
  if (gw->freeing) {
    /* freed from a callback: finish that here */
    if (gw->own_loop) {
      close_own_loop(gw);
    } else {
      while (gw->open_handles > 0) uv_run(gw->loop, UV_RUN_ONCE);
      gw_destroy(gw);
    }
    return 0;
  }
  gw->running = 0;
  return 0;
}

/* Cancel everything, run the callbacks, close handles. */
static void teardown(lgw_gateway_t *gw) {
  size_t i;
  gw->closing = 1;
  lgw_gateway_cancel_all(gw);
  dispatch(gw);
  lgw__http_free(gw->http);
  gw->http = NULL;
  lgw__rstate_free(gw->rs);
  gw->rs = NULL;
  for (i = 0; i < gw->rt->nproviders * NSTYLES; i++) {
    lgw_free(gw->eps[i].url);
    lgw__http_headers_free(gw->eps[i].headers);
  }
  uv_idle_stop(&gw->idle);
  uv_close((uv_handle_t *)&gw->idle, on_handle_close);
  gw->freeing = 1;
  if (gw->running) return;  /* lgw_gateway_run finishes */
  if (gw->own_loop) {
    if (gw->cb_depth == 0) close_own_loop(gw);
    else
      lgw__log(LGW_LOG_WARN, "gateway freed from a callback outside "
                             "lgw_gateway_run: its loop stays open");
  }
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
  lgw_gateway_t *gw;
  lgw__kvlist_t state = {NULL, 0};
  const char *pref;
  if (out) *out = NULL;
  if (!rt || !out)
    return lgw__error_set(err, LGW_EINVAL, "lgw_gateway_new: invalid "
                                           "arguments");
  if (lgw_global_init())
    return lgw__error_set(err, LGW_ENOMEM, "curl_global_init failed");
  gw = lgw__calloc(1, sizeof *gw);
  if (!gw) return lgw__error_set(err, LGW_ENOMEM, "out of memory");
  gw->eps = lgw__calloc(rt->nproviders * NSTYLES + 1, sizeof *gw->eps);
  gw->shown_urls = make_urls(rt);
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
  if (!(opts && opts->no_state) && !rt->state) {
    gw->state_path = lgw__resolve_provider_state_file(
        opts ? opts->state_file : NULL, lgw__getenv_default, NULL);
    if (!gw->state_path) goto nomem;
    /* read once; a bad file is logged by the loader and ignored */
    lgw__state_load(gw->state_path, &state, NULL);
    pref = lgw__kvlist_get_ci(&state, rt->config_key);
    if (pref) msgf(gw->preferred, sizeof gw->preferred, "%s", pref);
    lgw__kvlist_free(&state);
  }
  if (opts && opts->loop) {
    gw->loop = opts->loop;
  } else {
    gw->loop = lgw_malloc(sizeof *gw->loop);
    if (!gw->loop) goto nomem;
    if (uv_loop_init(gw->loop) != 0) {
      lgw_free(gw->loop);
      gw->loop = NULL;
      lgw__error_set(err, LGW_ENOMEM, "cannot create the event loop");
      goto fail;
    }
    gw->own_loop = 1;
  }
  if (lgw__http_new(gw->loop, &gw->http, err)) {
    if (gw->own_loop) {
      uv_loop_close(gw->loop);
      lgw_free(gw->loop);
    }
    goto fail;
  }
  list_init(&gw->all);
  list_init(&gw->wait);
  list_init(&gw->done);
  uv_idle_init(gw->loop, &gw->idle);
  gw->idle.data = gw;
  gw->open_handles = 1;
  gw->rt = lgw_runtime_ref(rt);
  gw->max_concurrent = rt->max_concurrent > 1 ? (size_t)rt->max_concurrent
                                              : 1;
  gw->rng = opts && opts->seed ? opts->seed
                               : (uv_hrtime() ^ (uint64_t)(uintptr_t)gw);
  if (!(opts && opts->no_state) && rt->state) {
    const lgw__rstate_hooks_t hooks = {shared_preferred, shared_breaker, gw};
    lgw_error_t e;
    memset(&e, 0, sizeof e);
    /* settings.state was validated: only memory can be short here */
    if (lgw__rstate_new(gw->loop, rt, &hooks, NULL, &gw->rs, &e))
      lgw__log(LGW_LOG_WARN, "shared state unavailable, using local state: "
               "%s", e.message);
  }
  *out = gw;
  return 0;
nomem:
  lgw__error_set(err, LGW_ENOMEM, "out of memory");
fail:
  free_urls(gw->shown_urls, rt->nproviders);
  limits_free(gw, rt->nproviders);
  lgw_free(gw->routes);
  lgw_free(gw->nroutes);
  lgw_free(gw->eps);
  lgw_free(gw->state_path);
  lgw_free(gw);
  return err ? err->code : LGW_ENOMEM;
}

double lgw_gateway_cost_total(const lgw_gateway_t *gw) {
  return gw ? gw->cost_total : 0;
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
