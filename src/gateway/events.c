/*
 * events.c -- the queue of streamed deltas and observability events that
 * the gateway runs from the loop (each note owns copies of its strings),
 * and the arithmetic of token usage and cost that events report.
 */
#include "events.h"

#include <string.h>

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
