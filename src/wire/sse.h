/*
 * sse.h -- text/event-stream decoding: a complete body into one JSON
 * object as the Python library does (§10.1): data lines joined per event,
 * objects kept, Responses deltas/done text/latest response aggregated; and
 * an incremental parser that frames events from bytes as they arrive.
 */
#ifndef LGW_SSE_H
#define LGW_SSE_H

#include <stddef.h>

#include "cjson_dl.h"  /* <cJSON.h>, the calls through a table */

#include "llmgateway.h"
#include "util.h"

/* *out owned by the caller. No JSON object found -> LGW_ERESPONSE with
 * "No JSON payload found in SSE response". */
int lgw__sse_decode(const char *body, size_t len, cJSON **out,
                    lgw_error_t *err);

/* The choice with index 0 of a Chat answer's "choices" (a choice without
 * an index counts as 0; a chunk carries one choice, and other choices are
 * not the answer), or NULL. */
const cJSON *lgw__choice0(const cJSON *choices);

/* content_type (may be NULL) names text/event-stream, in any case. */
int lgw__is_event_stream(const char *content_type);

/* Incremental framing: feed bytes in any pieces; each complete event
 * (ended by a blank line) is passed to the callback with its "event:"
 * name ("" when none) and its data lines joined with '\n' (NUL-terminated;
 * one leading space of each data value removed). Lines end in \n, \r\n
 * or \r; comments, id: and retry: are ignored; a UTF-8 byte order mark
 * at the start of the stream is skipped. */
typedef int (*lgw__sse_event_fn)(const char *name, const char *data,
                                 size_t len, void *ud);

typedef struct lgw__sse_parser {
  lgw__buf_t line;    /* the unfinished line */
  lgw__buf_t name;
  lgw__buf_t data;
  int has_data;       /* a data: line was seen in this event */
  int after_cr;       /* the last byte was '\r': skip a '\n' next */
  int bom;            /* bytes of a leading UTF-8 byte order mark seen
                         (3: the start is over) */
} lgw__sse_parser_t;

void lgw__sse_parser_init(lgw__sse_parser_t *p);
void lgw__sse_parser_free(lgw__sse_parser_t *p);
/* Returns 0, LGW_ENOMEM, or the first nonzero value the callback
 * returned (the rest of the bytes are then not parsed). */
int lgw__sse_feed(lgw__sse_parser_t *p, const char *bytes, size_t n,
                  lgw__sse_event_fn fn, void *ud);
/* At the end of the body: an event whose blank line never came is still
 * passed on. Returns as lgw__sse_feed. */
int lgw__sse_finish(lgw__sse_parser_t *p, lgw__sse_event_fn fn, void *ud);

#endif
