/*
 * events.h -- what the gateway hands to user code from the loop besides
 * completions: streamed text deltas and observability events, queued in
 * order with their own copies of every string, then run one by one.
 */
#ifndef LGW_EVENTS_H
#define LGW_EVENTS_H

#include <stddef.h>
#include <stdint.h>

#include "list.h"
#include "llmgateway.h"

typedef struct lgw__note lgw__note_t;
typedef struct lgw__notes {
  lgw_link_t list;
} lgw__notes_t;

/* An empty queue. */
void lgw__notes_init(lgw__notes_t *q);
/* Queue a delta for fn(gw, id, text, len, ud); text is copied. */
int lgw__notes_delta(lgw__notes_t *q, lgw_delta_fn fn, void *ud,
                     lgw_gateway_t *gw, uint64_t id, const char *text,
                     size_t len);
/* The ATTEMPT_END event of attempt a: its fields as they are, for
 * request id (task) and the attempt's 1-based number on its provider.
 * The strings are a's. */
void lgw__event_of_attempt(lgw_event_t *ev, const lgw_attempt_t *a,
                           uint64_t id, const char *task, int attempt);
/* Queue a copy of ev (strings included; NULL strings become ""). */
int lgw__notes_event(lgw__notes_t *q, const lgw_event_t *ev);
int lgw__notes_empty(const lgw__notes_t *q);
/* Take the first note off the queue and run it (events go to on_event,
 * which may be NULL); returns 0 when the queue was empty. The callback
 * may queue more notes. */
int lgw__notes_run_one(lgw__notes_t *q, lgw_event_fn on_event, void *ud);
/* Drop every note without running it. */
void lgw__notes_clear(lgw__notes_t *q);

/* ---- usage and cost ------------------------------------------------------ */

/* Every count -1 (unknown). */
void lgw__usage_unknown(lgw_usage_t *u);
/* Add u's known counts to total. */
void lgw__usage_add(lgw_usage_t *total, const lgw_usage_t *u);
/* Cost of u at the given prices per million tokens; -1 when a count
 * needed is unknown. */
double lgw__usage_cost(const lgw_usage_t *u, double input_per_m,
                       double output_per_m);

#endif
