/*
 * events.c -- the queue of streamed deltas and observability events that
 * the gateway runs from the loop (each note owns copies of its strings),
 * an attempt's event, an event as a JSON line, and the arithmetic of
 * token usage and cost that events report.
 */
#include "events.h"

#include <float.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "json.h"
#include "util.h"

enum { NOTE_DELTA, NOTE_EVENT };

struct lgw__note {
  int kind;
  lgw_link_t link;            /* in the queue */
  /* NOTE_DELTA */
  lgw_delta_fn fn;
  void *ud;
  lgw_gateway_t *gw;
  uint64_t id;
  char *text;                 /* owned */
  size_t len;
  /* NOTE_EVENT: strings owned */
  lgw_event_t ev;
};

static void note_free(lgw__note_t *n) {
  if (n->kind == NOTE_EVENT) {
    lgw_free((char *)n->ev.task);
    lgw_free((char *)n->ev.provider_type);
    lgw_free((char *)n->ev.base_url);
    lgw_free((char *)n->ev.model);
    lgw_free((char *)n->ev.message);
  }
  lgw_free(n->text);
  lgw_free(n);
}

#define NOTE_OF(l) LGW_CONTAINER_OF(l, lgw__note_t, link)

void lgw__notes_init(lgw__notes_t *q) { lgw_list_init(&q->list); }

static void push(lgw__notes_t *q, lgw__note_t *n) {
  lgw_list_push_back(&q->list, &n->link);
}

int lgw__notes_delta(lgw__notes_t *q, lgw_delta_fn fn, void *ud,
                     lgw_gateway_t *gw, uint64_t id, const char *text,
                     size_t len) {
  lgw__note_t *n = lgw__calloc(1, sizeof *n);
  if (!n || !(n->text = lgw__strndup(text, len))) {
    lgw_free(n);
    return LGW_ENOMEM;
  }
  n->kind = NOTE_DELTA;
  n->fn = fn;
  n->ud = ud;
  n->gw = gw;
  n->id = id;
  n->len = len;
  push(q, n);
  return 0;
}

void lgw__event_of_attempt(lgw_event_t *ev, const lgw_attempt_t *a,
                           uint64_t id, const char *task, int attempt) {
  memset(ev, 0, sizeof *ev);
  ev->type = LGW_EVENT_ATTEMPT_END;
  ev->request_id = id;
  ev->task = task;
  ev->provider_index = a->configured_index;
  ev->provider_type = a->provider_type;
  ev->base_url = a->base_url;
  ev->model = a->model;
  ev->attempt = attempt;
  ev->http_status = a->http_status;
  ev->code = a->code;
  ev->message = a->message;
  ev->latency = a->elapsed;
  ev->ttft = a->ttft;
  ev->retry_delay = a->retry_delay;
  ev->usage = a->usage;
  ev->cost = a->cost;
}

static char *dup_or_empty(const char *s) { return lgw__strdup(s ? s : ""); }

int lgw__notes_event(lgw__notes_t *q, const lgw_event_t *ev) {
  lgw__note_t *n = lgw__calloc(1, sizeof *n);
  if (!n) return LGW_ENOMEM;
  n->kind = NOTE_EVENT;
  n->ev = *ev;
  n->ev.task = dup_or_empty(ev->task);
  n->ev.provider_type = dup_or_empty(ev->provider_type);
  n->ev.base_url = dup_or_empty(ev->base_url);
  n->ev.model = dup_or_empty(ev->model);
  n->ev.message = dup_or_empty(ev->message);
  n->ev.error_class = lgw_err_name(ev->code);  /* static */
  if (!n->ev.task || !n->ev.provider_type || !n->ev.base_url ||
      !n->ev.model || !n->ev.message) {
    note_free(n);
    return LGW_ENOMEM;
  }
  push(q, n);
  return 0;
}

int lgw__notes_empty(const lgw__notes_t *q) {
  return lgw_list_empty(&q->list);
}

int lgw__notes_run_one(lgw__notes_t *q, lgw_event_fn on_event, void *ud) {
  lgw_link_t *l = lgw_list_pop_front(&q->list);
  lgw__note_t *n;
  if (!l) return 0;
  n = NOTE_OF(l);
  if (n->kind == NOTE_DELTA) n->fn(n->gw, n->id, n->text, n->len, n->ud);
  else if (on_event) on_event(&n->ev, ud);
  note_free(n);
  return 1;
}

void lgw__notes_clear(lgw__notes_t *q) {
  lgw_link_t *l;
  while ((l = lgw_list_pop_front(&q->list)) != NULL) note_free(NOTE_OF(l));
}

/* ---- an event as a JSON line ------------------------------------------- */

const char *lgw_event_name(lgw_event_type_t type) {
  switch (type) {
    case LGW_EVENT_ATTEMPT_END: return "attempt_end";
    case LGW_EVENT_REQUEST_END: return "request_end";
    case LGW_EVENT_BREAKER_OPEN: return "breaker_open";
    case LGW_EVENT_BREAKER_CLOSE: return "breaker_close";
  }
  return "unknown";
}

/* A number as the trace has always written it: an integral value in int
 * range as an integer, else 15 significant digits when they read back to
 * within a rounding step, else 17. */
static int add_num(lgw__buf_t *b, double d) {
  char tmp[40];
  double back;
  if (!isfinite(d)) return lgw__buf_adds(b, "null");
  if (d == floor(d) && fabs(d) <= 2147483647.0)
    return lgw__json_add_long(b, (long)d);
  snprintf(tmp, sizeof tmp, "%1.15g", d);
  back = strtod(tmp, NULL);
  if (fabs(back - d) > fmax(fabs(back), fabs(d)) * DBL_EPSILON)
    snprintf(tmp, sizeof tmp, "%1.17g", d);
  return lgw__buf_adds(b, tmp);
}

/* A count or a seconds/money value, null when unknown (negative). */
static int add_known(lgw__buf_t *b, const char *k, double v) {
  return lgw__json_add_key(b, k) ||
         (v < 0 ? lgw__buf_adds(b, "null") : add_num(b, v));
}

static int add_str(lgw__buf_t *b, const char *k, const char *v) {
  v = v ? v : "";
  return lgw__json_add_key(b, k) || lgw__json_add_str(b, v, strlen(v));
}

static int add_number(lgw__buf_t *b, const char *k, double v) {
  return lgw__json_add_key(b, k) || add_num(b, v);
}

char *lgw_event_json(const lgw_event_t *ev, double ts, size_t *len) {
  lgw__buf_t b;
  const lgw_usage_t *u = &ev->usage;
  int rc;
  lgw__buf_init(&b);
  rc = lgw__buf_adds(&b, "{\"ts\":") || add_num(&b, ts) ||
       add_str(&b, "type", lgw_event_name(ev->type)) ||
       add_number(&b, "request_id", (double)ev->request_id) ||
       add_str(&b, "task", ev->task) ||
       add_number(&b, "provider_index", ev->provider_index) ||
       add_str(&b, "provider_type", ev->provider_type) ||
       add_str(&b, "base_url", ev->base_url) ||
       add_str(&b, "model", ev->model) ||
       add_number(&b, "attempt", ev->attempt) ||
       add_number(&b, "status", ev->http_status) ||
       add_str(&b, "error_class", ev->error_class) ||
       add_str(&b, "message", ev->message) ||
       add_number(&b, "latency", ev->latency) ||
       add_known(&b, "ttft", ev->ttft) ||
       add_number(&b, "retry_delay", ev->retry_delay) ||
       lgw__json_add_key(&b, "usage") ||
       lgw__buf_adds(&b, "{\"input_tokens\":") ||
       (u->input_tokens < 0 ? lgw__buf_adds(&b, "null")
                            : add_num(&b, (double)u->input_tokens)) ||
       add_known(&b, "output_tokens", (double)u->output_tokens) ||
       add_known(&b, "cached_tokens", (double)u->cached_tokens) ||
       add_known(&b, "reasoning_tokens", (double)u->reasoning_tokens) ||
       lgw__buf_addc(&b, '}') ||
       add_known(&b, "cost", ev->cost) ||
       add_number(&b, "breaker_cooldown", ev->breaker_cooldown) ||
       lgw__buf_addc(&b, '}');
  if (rc) {
    lgw__buf_free(&b);
    return NULL;
  }
  if (len) *len = b.len;
  return lgw__buf_steal(&b);
}

/* ---- usage and cost ------------------------------------------------------ */

void lgw__usage_unknown(lgw_usage_t *u) {
  u->input_tokens = u->output_tokens = -1;
  u->cached_tokens = u->reasoning_tokens = -1;
}

static void add_count(long *total, long v) {
  if (v > 0) *total += v;
}

void lgw__usage_add(lgw_usage_t *total, const lgw_usage_t *u) {
  add_count(&total->input_tokens, u->input_tokens);
  add_count(&total->output_tokens, u->output_tokens);
  add_count(&total->cached_tokens, u->cached_tokens);
  add_count(&total->reasoning_tokens, u->reasoning_tokens);
}

double lgw__usage_cost(const lgw_usage_t *u, double input_per_m,
                       double output_per_m) {
  if (u->input_tokens < 0 && u->output_tokens < 0) return -1;
  return ((double)(u->input_tokens > 0 ? u->input_tokens : 0) * input_per_m +
          (double)(u->output_tokens > 0 ? u->output_tokens : 0) *
              output_per_m) / 1e6;
}
