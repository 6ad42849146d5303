/*
 * gateway_attempt.c -- the attempts of a request: the lgw__gw_plan (preferred
 * provider first, open circuit breakers skipped), the routing cache,
 * rate-limit pacing, concurrency slots, sending an attempt, classifying its
 * outcome, transport retries with backoff, provider failover, usage and
 * cost, and the remembered provider (in the state file, or shared on Redis
 * with the breakers and rate limits).
 */
#include "llmgateway.h"

#include <stddef.h>
#include <string.h>

#include "breaker.h"
#include "config.h"
#include "engine.h"
#include "events.h"
#include "gateway_priv.h"
#include "provider_state.h"
#include "ratelimit.h"
#include "retry.h"
#include "route.h"
#include "state_redis.h"
#include "transport.h"
#include "util.h"

static const char empty_text_msg[] =
    "LLM response text was empty. Check provider api_style/response format.";

/* ---- outcome ------------------------------------------------------------- */

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
  buf[0] = '\0';
  if (msg && *msg) {
    lgw__gw_msgf(buf, sizeof buf, "%s", msg);
    lgw__gw_redact(gw, buf, sizeof buf);
  }
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
    gw->cost_total = (gw->cost_total > 0 ? gw->cost_total : 0) + a.cost;
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
  if (gw->on_event) {  /* no listener: no event to build */
    lgw__event_of_attempt(&ev, &a, q->id, q->task,
                          q->attempt > 0 ? q->attempt : 1);
    lgw__gw_queue_event(gw, &ev);
  }
  if (lgw__grow(&q->att, q->natt, &q->catt, sizeof *q->att, 4)) {
    q->att_lost = 1;  /* the result would lack it: never a success */
    return a.cost;
  }
  {
    /* A cached route's model lives as long as the gateway, and "" as long
     * as the program: both are borrowed (the first LGW__ATT_BITS attempts;
     * lgw__gw_att_free knows which); anything else is copied. */
    size_t i = q->natt;
    int own_model = i >= LGW__ATT_BITS || (q->route && q->route == q->own_route);
    int own_msg = i >= LGW__ATT_BITS || buf[0];
    const char *model = a.model;
    a.model = own_model ? lgw__strdup(model) : model;
    a.message = own_msg ? lgw__strdup(buf) : "";
    if (!a.model || !a.message) {
      if (own_model) lgw_free((char *)a.model);
      if (own_msg) lgw_free((char *)a.message);
      q->att_lost = 1;
      return a.cost;
    }
    if (i < LGW__ATT_BITS) {
      uint64_t bit = (uint64_t)1 << i;
      if (own_model) q->att_own_model |= bit;
      else q->att_own_model &= ~bit;
      if (own_msg) q->att_own_msg |= bit;
      else q->att_own_msg &= ~bit;
    }
  }
  q->att[q->natt++] = a;
  return a.cost;
}

static void finish_exhausted(req_t *q) {
  if (q->refusal) {  /* failed over after a refusal; no other answer */
    lgw__error_set(lgw__gw_req_err(q), LGW_EREFUSED,
                   "LLM request for task '%s' was refused by the model; no "
                   "provider answered:\n%s", q->task,
                   q->lines.data ? q->lines.data : "");
    lgw__gw_finish(q, LGW_EREFUSED);
    return;
  }
  lgw__error_set(lgw__gw_req_err(q), LGW_EEXHAUSTED,
                 "LLM request failed for task '%s' across all configured "
                 "providers:\n%s", q->task, q->lines.data ? q->lines.data : "");
  lgw__gw_finish(q, LGW_EEXHAUSTED);
}

/* Forget the current route (freed when it was the request's own). */
void lgw__gw_route_drop(req_t *q) {
  if (q->route && q->route == q->own_route) lgw__route_free(q->own_route);
  q->route = NULL;
}

/* This provider is done with: remember its last error (redacted with the
 * whole message in finish), go to the next. */
static void provider_failed(req_t *q, const char *msg) {
  if (q->lines.len) lgw__buf_addc(&q->lines, '\n');
  lgw__buf_printf(&q->lines, "- provider #%zu (%s, %s): %s", q->pos + 1,
                  prov_type(prov(q)), prov_url(q), msg);
  lgw__gw_route_drop(q);
  q->attempt = 0;
  q->pos++;
}

/* After the attempt's record: the process itself is short of memory or
 * of another resource, not the provider's fault (no breaker count, no
 * failover: no other provider would fare better now); the request ends
 * with code. */
static void local_failure(req_t *q, int code, const char *msg) {
  lgw__error_set(lgw__gw_req_err(q), code, "LLM request for task '%s' "
                 "failed: %s", q->task, msg);
  lgw__gw_finish(q, code);
}

/* ---- the plan ------------------------------------------------------------ */

static void send_attempt(req_t *q);
static void pace(req_t *q);

void lgw__gw_pump(lgw_gateway_t *gw) {
  req_t *q;
  while (!gw->no_pump && gw->inflight < gw->max_concurrent &&
         !lgw_list_empty(&gw->wait)) {
    if (!(q = lgw__gw_wait_pop(gw))) break;
    gw->inflight++;
    send_attempt(q);
  }
}

static void slot_release(lgw_gateway_t *gw) {
  gw->inflight--;
  lgw__gw_pump(gw);
}

/* FIFO: a free slot goes to the longest waiter. */
static void slot_acquire(req_t *q) {
  lgw_gateway_t *gw = q->gw;
  if (gw->inflight < gw->max_concurrent && lgw_list_empty(&gw->wait)) {
    gw->inflight++;
    send_attempt(q);
  } else {
    lgw__gw_wait_push(q);
    lgw__gw_pump(gw);  /* a slot a shortage left free (lgw__gw_pump) */
  }
}

/* ---- circuit breakers and rate limits ------------------------------------ */

/* q NULL: the change came from the shared state (request_id 0). */
void lgw__gw_breaker_event(lgw_gateway_t *gw, const req_t *q, size_t pi,
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
  lgw__gw_queue_event(gw, &ev);
}

static void breaker_failure(req_t *q) {
  size_t pi = q->order[q->pos];
  lgw__rstate_breaker(q->gw->rs, pi, 1, 1);
  if (lgw__breaker_failure(&q->gw->breakers[pi], gw_now(q->gw)))
    lgw__gw_breaker_event(q->gw, q, pi, LGW_EVENT_BREAKER_OPEN);
}

static void breaker_success(req_t *q) {
  size_t pi = q->order[q->pos];
  const lgw__breaker_t *b = &q->gw->breakers[pi];
  lgw__rstate_breaker(q->gw->rs, pi, 0, b->open || b->nfails > 0);
  if (lgw__breaker_success(&q->gw->breakers[pi]))
    lgw__gw_breaker_event(q->gw, q, pi, LGW_EVENT_BREAKER_CLOSE);
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

/* ---- routes and endpoints ------------------------------------------------ */

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
  lgw_list_push_front(&gw->routes[pi], &r->link);
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
  if (q->plain) {
    LGW_LIST_FOREACH(l, &gw->routes[pi]) {
      route_entry_t *r = LGW_CONTAINER_OF(l, route_entry_t, link);
      if (strcmp(r->task, q->task) == 0) return &r->route;
    }
    if (gw->nroutes[pi] < ROUTES_MAX) return route_add(gw, pi, q->task, e);
  }
  if (!q->own_route &&
      !(q->own_route = lgw__gw_arena_array(q, 1, sizeof *q->own_route))) {
    lgw__error_set(e, LGW_ENOMEM, "out of memory while routing");
    return NULL;
  }
  if (lgw__route(gw->rt, &gw->rt->providers[pi], q->task, q->ov,
                 q->own_route, e))
    return NULL;
  return q->own_route;
}

const lgw__route_t *lgw__gw_plan_queued(lgw_gateway_t *gw, size_t pi,
                                        const char *task) {
  const lgw__provider_t *p = &gw->rt->providers[pi];
  /* lgw__gw_plan: the breaker (open: the clock decides), the base URL;
   * pace: no tpm to exceed, nothing to reserve (locally or shared) */
  if (gw->breakers[pi].open || lgw__is_blank(p->base_url) || p->tpm > 0 ||
      gw->rpm[pi].per_s > 0 || gw->tpm[pi].per_s > 0)
    return NULL;
  LGW_LIST_FOREACH(l, &gw->routes[pi]) {
    route_entry_t *r = LGW_CONTAINER_OF(l, route_entry_t, link);
    if (strcmp(r->task, task) == 0) return &r->route;
  }
  return NULL;
}

void lgw__gw_routes_free(lgw_gateway_t *gw) {
  size_t i;
  lgw_link_t *l;
  for (i = 0; gw->routes && i < gw->rt->nproviders; i++)
    while ((l = lgw_list_pop_front(&gw->routes[i])) != NULL) {
      route_entry_t *r = LGW_CONTAINER_OF(l, route_entry_t, link);
      lgw__route_free(&r->route);
      lgw_free(r->task);
      lgw_free(r);
    }
  lgw_free(gw->routes);
  lgw_free(gw->nroutes);
}

/* Skip providers that cannot be tried, then ask for a slot. */
void lgw__gw_plan(req_t *q) {
  lgw_gateway_t *gw = q->gw;
  lgw_error_t e;
  char why_skip[160];
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
      if (q->embed && lgw__gw_embed_skip(q, why_skip, sizeof why_skip)) {
        provider_failed(q, why_skip);
        continue;
      }
      if (breaker_skips(q)) {
        char why[160];
        lgw__gw_msgf(why, sizeof why, "Skipped: circuit breaker open (%ld "
                     "retryable failures within %.1fs).",
                     gw->rt->breaker_failures, gw->rt->breaker_window);
        provider_failed(q, why);
        continue;
      }
      memset(&e, 0, sizeof e);
      if (!(q->route = route_for(q, &e))) {
        record(q, 0, e.code, e.message, 0, 0, NULL);
        if (e.code == LGW_ENOMEM) {
          local_failure(q, e.code, e.message);
          return;
        }
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
    ep->headers = lgw__headers_new(&kv);
  lgw__kvlist_free(&kv);
  if (!ep->headers) return NULL;
  ep->url = tr->url(&gw->rt->providers[pi]);
  if (ep->url) ep->direct = lgw__url_is_loopback(ep->url);
  if (!ep->url) {
    lgw__headers_free(ep->headers);
    ep->headers = NULL;
    return NULL;
  }
  return ep;
}

static void on_http(const lgw__xfer_resp_t *resp, void *ud);

/* After a failed attempt that cannot be retried, or whose retry is not
 * possible: the next provider. Holds no slot. */
static void fail_over(req_t *q, const char *msg) {
  provider_failed(q, msg);
  lgw__gw_plan(q);
}

/* ---- attempts ------------------------------------------------------------ */

#define MSGS_STACK 8   /* messages of a queued request read on the stack */

/* A slot is held: build the body and post it. */
static void send_attempt(req_t *q) {
  lgw_gateway_t *gw = q->gw;
  const lgw_runtime_t *rt = gw->rt;
  const lgw__transport_t *tr = lgw__transport_for(q->route->style);
  const endpoint_t *ep = endpoint(gw, q->order[q->pos], q->route->style);
  lgw__call_t call;
  lgw__xfer_opts_t o;
  lgw_error_t e;
  lgw_rich_message_t tmp[MSGS_STACK];
  const lgw_rich_message_t *msgs = NULL;
  size_t nmsgs = 0;
  char *body = NULL;
  size_t len = 0;
  int rc;
  lgw__error_clear(&e);
  q->state = S_HTTP;
  q->ttft = -1;
  if (q->embed && ep) {  /* the same host as ep: its proxy choice */
    rc = lgw__gw_embed_prepare(q, &body, &len, &e);
  } else if (!tr || !ep || lgw__gw_msgs(q, tmp, MSGS_STACK, &msgs, &nmsgs) ||
             (q->on_delta && lgw__gw_stream_reset(q))) {
    rc = lgw__error_set(&e, LGW_ENOMEM,
                        "Cannot prepare the request: out of memory.");
  } else {
    memset(&call, 0, sizeof call);
    call.rich = msgs;
    call.nrich = nmsgs;
    call.model = q->route->model;
    call.reasoning_effort = q->route->reasoning_effort;
    call.temperature = q->route->temperature;
    call.max_tokens = q->route->max_tokens;
    call.stream = q->on_delta != NULL;
    lgw__gw_call_rich(q, &call);
    rc = lgw__transport_body(tr, &call, &body, &len, &e);
  }
  if (rc == 0) {
    memset(&o, 0, sizeof o);
    o.url = q->embed ? q->em->embed_url : ep->url;
    o.url_kept = !q->embed;  /* the endpoint's: freed after the engine */
    o.headers = q->embed ? q->em->embed_headers : ep->headers;
    o.body_len = len;
    o.timeout_ms = gw->timeout_ms;
    o.connect_timeout_ms = gw->connect_timeout_ms;
    o.max_response_bytes = rt->max_response_bytes;
    o.ca_file = gw->ca_files[q->order[q->pos]];
    o.direct = ep->direct;
    if (q->on_delta) {
      o.on_head = lgw__gw_on_stream_head;
      o.on_data = lgw__gw_on_stream_data;
    }
    q->attempt_s = eng_now(gw);
    /* the transfer takes the body */
    rc = gw->eng->ops->submit(gw->eng, &o, body, on_http, q, &q->http, &e);
  }
  if (rc == 0) {
    if (q->on_delta) lgw__gw_stream_begin(q);
    return;
  }
  if (!e.message[0])
    lgw__error_set(&e, rc, "Cannot prepare the request: %s.",
                   lgw_strerror(rc));
  /* Nothing was sent; a retry would fail the same way. */
  record(q, 0, rc, e.message, 0, 0, NULL);
  slot_release(gw);
  if (rc == LGW_ENOMEM) {
    local_failure(q, rc, e.message);
    return;
  }
  fail_over(q, e.message);
}

static void on_sleep_done(void *ud) {
  req_t *q = ud;
  if (q->pacing) {
    q->pacing = 0;
    slot_acquire(q);
  } else {
    pace(q);
  }
}

static void sleep_for(req_t *q, double delay) {
  if (lgw__gw_timer_start(q, &q->sleep_timer, on_sleep_done, delay)) {
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
  if (q->gw->on_sleep) q->gw->on_sleep(q->gw->on_sleep_ud, q->id, delay);
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

/* A request that needs more tokens than the provider's tpm allows in a
 * minute would wait for ever: it fails over at once, naming the limit. */
static int over_tpm(req_t *q) {
  const lgw__provider_t *p = prov(q);
  double est;
  char msg[300];
  if (p->tpm <= 0) return 0;
  est = lgw__estimate_tokens(q->msg_bytes, q->route->max_tokens);
  if (est <= (double)p->tpm) return 0;
  lgw__gw_msgf(msg, sizeof msg, "Request needs about %.0f tokens (message "
               "bytes / 4 + max_tokens %ld), more than the provider's tpm "
               "limit of %ld tokens per minute.", est, q->route->max_tokens,
               p->tpm);
  record(q, 0, LGW_ERATELIMIT, msg, 0, 0, NULL);
  fail_over(q, msg);
  return 1;
}

/* Wait for the provider's rate limits (no slot held), then for a slot. */
static void pace(req_t *q) {
  if (over_tpm(q)) return;
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

/* The message of an error body, redacted before it is cut to what a
 * message shows (DETAIL_MAX - 1 bytes). */
#define DETAIL_MAX 512
static void error_detail(const lgw_gateway_t *gw,
                         const lgw__xfer_resp_t *resp, char *out) {
  char whole[8192];
  size_t n;
  lgw__error_body_message(resp->body, resp->body_len, whole, sizeof whole);
  lgw__gw_redact(gw, whole, sizeof whole);
  n = strlen(whole);
  if (n >= DETAIL_MAX) {
    n = DETAIL_MAX - 1;
    while (n > 0 && ((unsigned char)whole[n] & 0xC0) == 0x80) n--;
  }
  memcpy(out, whole, n);
  out[n] = '\0';
}

/* Message for a transfer that produced no usable response. */
static void transfer_message(const req_t *q, const lgw__xfer_resp_t *resp,
                             const char *url, char *out, size_t cap) {
  const lgw_runtime_t *rt = q->gw->rt;
  switch (resp->code) {
    case LGW_ECONNECT:
      lgw__gw_msgf(out, cap, "Cannot connect to %s: %s", url, resp->error);
      break;
    case LGW_ETIMEOUT:
      if (resp->connect_timeout)
        lgw__gw_msgf(out, cap, "Request to %s: connect timed out "
             "(connect_timeout=%.1fs): %s", url, rt->connect_timeout,
             resp->error);
      else
        lgw__gw_msgf(out, cap, "Request to %s timed out (timeout=%.1fs): %s",
                     url, rt->timeout, resp->error);
      break;
    case LGW_ETOOBIG:
      if (resp->header_too_big)
        lgw__gw_msgf(out, cap, "Response from %s is too large: %s.", url,
                     resp->error);
      else
        lgw__gw_msgf(out, cap,
                 "Response from %s is larger than max_response_bytes "
                 "(%ld bytes).", url, rt->max_response_bytes);
      break;
    case LGW_ERESOURCE:
      lgw__gw_msgf(out, cap, "Cannot send to %s: %s (raise the open-file "
                   "limit, ulimit -n, or lower max_concurrent).", url,
                   resp->error);
      break;
    default:
      lgw__gw_msgf(out, cap, "Transfer from %s failed: %s", url, resp->error);
      break;
  }
}

/* ---- the provider-state file ---------------------------------------------- */

/* The file is written on the thread pool, so an answer never waits for
 * the disk. One write at a time: a new winner while one is in flight is
 * kept, and written when it ends (only the newest), so an older value
 * never lands after a newer one. Closing waits for the write in flight
 * and writes the newest value itself; the writer outlives the gateway
 * until the engine has delivered that write's end. */
typedef struct state_writer {
  lgw__engine_t *eng;
  char *path, *config_key;     /* owned */
  void (*remember)(const char *path, const char *config_key,
                   const char *provider_key);
  char want[65];               /* the newest winner */
  char writing[65];            /* the value in flight, or last written */
  int busy;                    /* a write is in flight */
  int closed;                  /* the gateway is gone */
} state_writer_t;

static void writer_free(state_writer_t *w) {
  lgw_free(w->path);
  lgw_free(w->config_key);
  lgw_free(w);
}

/* On a thread of the pool (what it logs is logged from the loop). */
static void writer_work(void *ud) {
  state_writer_t *w = ud;
  w->remember(w->path, w->config_key, w->writing);
}

static void writer_next(state_writer_t *w);

static void writer_done(void *ud) {
  state_writer_t *w = ud;
  w->busy = 0;
  writer_next(w);
}

/* Start the next write, if the newest value is not the one written. */
static void writer_next(state_writer_t *w) {
  if (!w->busy && strcmp(w->want, w->writing) != 0) {
    memcpy(w->writing, w->want, sizeof w->writing);
    w->busy = 1;
    if (w->eng->ops->work(w->eng, writer_work, writer_done, w)) {
      writer_work(w);  /* no pool: here, as a last resort */
      writer_done(w);
      return;
    }
  }
  if (!w->busy && w->closed) writer_free(w);
}

int lgw__gw_writer_new(lgw_gateway_t *gw, const char *config_key) {
  state_writer_t *w = lgw__calloc(1, sizeof *w);
  if (!w) return LGW_ENOMEM;
  w->eng = gw->eng;
  w->path = lgw__strdup(gw->state_path);
  w->config_key = lgw__strdup(config_key);
  w->remember = lgw__state_remember;
  /* the file names it already: nothing to write until another wins */
  memcpy(w->writing, gw->preferred, sizeof w->writing);
  memcpy(w->want, gw->preferred, sizeof w->want);
  if (!w->path || !w->config_key) {
    writer_free(w);
    return LGW_ENOMEM;
  }
  gw->writer = w;
  return 0;
}

void lgw__gw_writer_close(lgw_gateway_t *gw) {
  state_writer_t *w = gw->writer;
  if (!w) return;
  gw->writer = NULL;
  w->closed = 1;
  if (w->busy) {
    w->eng->ops->work_wait(w->eng);  /* the write in flight is done */
    if (strcmp(w->want, w->writing) != 0) {
      memcpy(w->writing, w->want, sizeof w->writing);
      writer_work(w);  /* its end (writer_done) frees w */
    }
    return;
  }
  writer_next(w);
}

static void remember_provider(lgw_gateway_t *gw, const lgw__provider_t *p) {
  if (strcmp(gw->preferred, p->key) == 0) return;
  memcpy(gw->preferred, p->key, sizeof gw->preferred);
  lgw__rstate_set_preferred(gw->rs, p->key);
  if (gw->writer) {
    if (gw->state_remember && !gw->writer->busy)
      gw->writer->remember = gw->state_remember;
    memcpy(gw->writer->want, p->key, sizeof gw->writer->want);
    writer_next(gw->writer);
  }
}

static void usage_of(const lgw__reply_t *r, lgw_usage_t *u) {
  u->input_tokens = r->input_tokens;
  u->output_tokens = r->output_tokens;
  u->cached_tokens = r->cached_tokens;
  u->reasoning_tokens = r->reasoning_tokens;
}

/* A complete 2xx body; a streamed request gets its text as one delta. */
static int body_end(req_t *q, const lgw__xfer_resp_t *resp, char *msg,
                    size_t cap, int *cls_status) {
  const lgw__transport_t *tr = lgw__transport_for(q->route->style);
  lgw_error_t e;
  int code;
  if (q->embed) return lgw__gw_embed_parse(q, resp, msg, cap);
  lgw__error_clear(&e);
  code = tr->parse(resp->body, resp->body_len, resp->content_type, &q->reply,
                   &e);
  if (code) {
    lgw__gw_msgf(msg, cap, "HTTP %d from %s: %s", (int)resp->status,
                 lgw__gw_attempt_url(q),
                 e.message[0] ? e.message : lgw_strerror(code));
    if (e.http_status) *cls_status = e.http_status;
  } else if (q->on_delta && !q->reply.refusal &&
             ((!lgw__reply_blank(&q->reply) &&
               lgw__gw_emit_delta(q, q->reply.text, q->reply.text_len)) ||
              lgw__gw_emit_tool_deltas(q, &q->reply.calls))) {
    lgw__gw_msgf(msg, cap, "Cannot pass on the answer from %s: out of "
                 "memory.", lgw__gw_attempt_url(q));
    code = LGW_ENOMEM;
  }
  return code;
}

/* The model refused (an answer, not a fault of the provider): never
 * retried on this provider; the request ends with LGW_EREFUSED unless
 * settings.failover_on_refusal sends it to the next provider. */
static void refused(req_t *q, int status, double elapsed,
                    const lgw_usage_t *u) {
  char msg[1024];
  lgw__gw_msgf(msg, sizeof msg, "HTTP %d from %s: the model refused: %.*s",
               status, lgw__gw_attempt_url(q), (int)q->reply.refusal_len,
               q->reply.refusal);
  record(q, status, LGW_EREFUSED, msg, elapsed, 0, u);
  lgw_free(q->refusal);
  q->refusal = q->reply.refusal;
  q->refusal_len = q->reply.refusal_len;
  q->reply.refusal = NULL;
  q->reply.refusal_len = 0;
  lgw__reply_free(&q->reply);
  if (q->gw->rt->failover_on_refusal && !q->emitted) {
    fail_over(q, msg);
    return;
  }
  lgw__error_set(lgw__gw_req_err(q), LGW_EREFUSED, "LLM request for task "
                 "'%s': the model refused to answer (provider #%zu, %s): "
                 "%.*s", q->task, q->pos + 1, prov_type(prov(q)),
                 (int)q->refusal_len, q->refusal);
  lgw__gw_finish(q, LGW_EREFUSED);
}

/* The request committed to a stream that broke: no other attempt. */
static void stream_broken(req_t *q, int code, const char *msg) {
  lgw__error_set(lgw__gw_req_err(q), code, "LLM stream for task '%s' broke "
                 "after its first delta (provider #%zu, %s): %s", q->task,
                 q->pos + 1, prov_type(prov(q)), msg);
  lgw__gw_finish(q, code);
}

/* A failed attempt: recorded, then counted by the provider's breaker when
 * it is of the retryable kind (the provider's fault, not the request's). */
static void record_failure(req_t *q, int status, int code, const char *msg,
                           double elapsed, double delay, const lgw_usage_t *u,
                           lgw__next_t next) {
  record(q, status, code, msg, elapsed, delay, u);
  if (next == LGW__NEXT_RETRY) breaker_failure(q);
}

static void on_http(const lgw__xfer_resp_t *resp, void *ud) {
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
  lgw__gw_stream_timers_stop(q);
  slot_release(gw);
  lgw__usage_unknown(&u);
  if (q->st) usage_of(&q->st->stream.reply, &u);
  if (q->stop_code ||
      (resp->code == LGW_ECANCELED && !(q->st && q->st->abort_code))) {
    if (!q->stop_code) q->stop_code = LGW_ECANCELED;
    lgw__gw_stop_error(q);
    record(q, status, q->stop_code,
           (q->err ? q->err : &lgw__gw_oom_error)->message, resp->elapsed, 0,
           &u);
    lgw__gw_finish(q, q->stop_code);
    return;
  }
  msg[0] = '\0';
  if (resp->code == LGW_ECANCELED) {
    /* cut by the engine: a timeout or an error event in the stream */
    code = q->st->abort_code;
    if (q->st->abort_status) cls_status = q->st->abort_status;
    lgw__gw_msgf(msg, sizeof msg, "%s", q->st->abort_msg);
  } else if (resp->code == 0 && status >= 200 && status < 300) {
    code = resp->streamed ? lgw__gw_stream_end(q, msg, sizeof msg, &cls_status)
                          : body_end(q, resp, msg, sizeof msg, &cls_status);
    if (code == 0 || !resp->streamed) usage_of(&q->reply, &u);
    if (code == 0 && q->reply.refusal) {
      refused(q, status, resp->elapsed, &u);
      return;
    }
    if (code == 0 && (q->embed || !lgw__reply_blank(&q->reply) ||
                      q->reply.calls.n)) {
      q->win_ttft = q->ttft;
      q->win_usage = u;
      q->win_cost = record(q, status, 0, "", resp->elapsed, 0, &u);
      breaker_success(q);
      q->winner = q->order[q->pos];
      remember_provider(gw, p);
      lgw__gw_finish(q, 0);
      return;
    }
    if (code == 0) {
      code = LGW_EEMPTY;
      lgw__gw_msgf(msg, sizeof msg, "%s", empty_text_msg);
    }
    lgw__reply_free(&q->reply);
  } else if (resp->code == 0) {
    char detail[DETAIL_MAX];
    code = status_code(status);
    error_detail(gw, resp, detail);
    if (detail[0])
      lgw__gw_msgf(msg, sizeof msg, "HTTP %d from %s: %s", status,
                   lgw__gw_attempt_url(q), detail);
    else
      lgw__gw_msgf(msg, sizeof msg, "HTTP %d from %s", status,
                   lgw__gw_attempt_url(q));
  } else {
    code = resp->code;
    transfer_message(q, resp, lgw__gw_attempt_url(q), msg, sizeof msg);
  }
  lgw__gw_redact(gw, msg, sizeof msg);
  if (code == LGW_ERESOURCE || code == LGW_ENOMEM) {
    record(q, status, code, msg, resp->elapsed, 0, &u);
    local_failure(q, code, msg);
    return;
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
