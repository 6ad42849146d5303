/*
 * wire_support.h -- helpers shared by the C tests of the wire formats
 * (tests/c/wire/): a provider and a call to build bodies from, and each
 * transport step (URL, headers, body, parse, stream events) run on its
 * own with the outcome as one line of text to compare.
 *
 *   lgw__call_t c = wire_call(wire_history, WIRE_NMSG(wire_history), "m");
 *   ASSERT_STREQ(wire_body(&lgw__transport_chat, &c), "{...}");
 *
 * The strings returned are static buffers, valid until the next call of
 * the same helper.
 */
#ifndef LGW_WIRE_SUPPORT_H
#define LGW_WIRE_SUPPORT_H

#include <stddef.h>

#include "transport.h"

#define WIRE_NMSG(a) (sizeof(a) / sizeof((a)[0]))

/* system, user, assistant, user (with a quote and a newline) */
extern const lgw_message_t wire_history[4];

/* A provider with base_url and api_key only (the strings are borrowed). */
lgw__provider_t wire_provider(const char *base, const char *key);

/* A call of model with messages m[0..n): no reasoning effort,
 * temperature 0, max_tokens 4000. */
lgw__call_t wire_call(const lgw_message_t *m, size_t n, const char *model);

/* The body t builds for c, or "ERR <code>: <message>". */
const char *wire_body(const lgw__transport_t *t, const lgw__call_t *c);
/* The same through lgw__transport_body (the call's extras merged). */
const char *wire_full_body(const lgw__transport_t *t, const lgw__call_t *c);

/* The URL t posts to for a provider at base ("(null)" for none). */
const char *wire_url(const lgw__transport_t *t, const char *base);

/* The headers t sends to p as "name: value|name: value", or "ERR". */
const char *wire_headers(const lgw__transport_t *t, const lgw__provider_t *p);

/* The text t reads from body b (content type ct, may be NULL), or
 * "ERR <code> <status>: <message>"; the usage read goes to wire_in_tok
 * and wire_out_tok. */
extern long wire_in_tok, wire_out_tok;
const char *wire_parse_ct(const lgw__transport_t *t, const char *b,
                          const char *ct);
const char *wire_parse(const lgw__transport_t *t, const char *b);

/* What t reads from body b as one line: "text=... finish=... refusal=...
 * usage=in/out/cached/reasoning" (a NUL in the text shown as \0), or
 * "ERR <code> <status>: <message>". */
const char *wire_reply_line(const lgw__transport_t *t, const char *b);

/* t's reading of body b in place against its reading through a cJSON
 * tree, forced by a leading form feed (whitespace to cJSON, not to the
 * in-place reader): "" when every field agrees (text, refusal, finish,
 * usage, tool calls, error code, status and message), else what differs. */
const char *wire_parse_diff(const lgw__transport_t *t, const char *b);

/* A stream fed event by event: the deltas as "[d1][d2]...", and the
 * error of the event that failed. */
typedef struct wire_feed {
  lgw__stream_t s;
  char deltas[512];
  int rc, status;
  char err[256];
} wire_feed_t;

/* Starts f's stream and feeds it each '\n'-separated data line of lines
 * as one event, stopping at the first error. The caller frees f->s with
 * lgw__stream_free. */
void wire_fold(const lgw__transport_t *t, wire_feed_t *f, const char *lines);

#endif
