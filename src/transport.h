/*
 * transport.h -- one wire format per file behind a small vtable:
 * transport_responses.c, transport_chat.c, transport_anthropic.c,
 * transport_litellm.c. A transport builds the URL and fixed headers once
 * per provider, the JSON body per attempt, and parses a 2xx body into
 * text and usage. Shared helpers (URL cleaning, the Bearer header set, the
 * 2xx decode with SSE fallback) live in transport.c. Pure: no network.
 */
#ifndef LGW_TRANSPORT_H
#define LGW_TRANSPORT_H

#include <stddef.h>

#include "config.h"
#include "llmgateway.h"
#include "util.h"

/* What one attempt sends. */
typedef struct lgw__call {
  const lgw_message_t *messages;
  size_t nmessages;
  const char *model;             /* normalised */
  const char *reasoning_effort;  /* "" when none */
  double temperature;
  long max_tokens;
  int stream;                    /* 1: ask for SSE (streaming issue) */
} lgw__call_t;

/* What a 2xx body gave. */
typedef struct lgw__reply {
  char *text;           /* owned; "" when the body had no text */
  size_t text_len;
  long input_tokens;    /* -1 when absent */
  long output_tokens;   /* -1 when absent */
} lgw__reply_t;

void lgw__reply_free(lgw__reply_t *r);

typedef struct lgw__transport {
  const char *name;     /* "responses", "openai_chat", "anthropic", ... */
  /* Endpoint URL for a provider (owned by caller). */
  char *(*url)(const lgw__provider_t *p);
  /* Fixed request headers as "Name: value" lines, in order (caller frees
   * the list with lgw__kvlist_free; key = name, value = value). */
  int (*headers)(const lgw__provider_t *p, lgw__kvlist_t *out);
  /* JSON body for one attempt (owned by caller). */
  int (*body)(const lgw__call_t *c, char **out, size_t *len,
              lgw_error_t *err);
  /* Parse a 2xx body. content_type may be NULL. A body that is not JSON
   * (nor SSE carrying JSON) gives LGW_ERESPONSE with a short reason; an
   * error object inside a 200 (Anthropic {"type":"error"}) gives
   * LGW_EHTTP with the provider's message. Valid JSON without text gives
   * 0 and text "" (the gateway treats empty text as retryable). */
  int (*parse)(const char *body, size_t len, const char *content_type,
               lgw__reply_t *out, lgw_error_t *err);
} lgw__transport_t;

const lgw__transport_t *lgw__transport_for(lgw__style_t style);

extern const lgw__transport_t lgw__transport_responses;
extern const lgw__transport_t lgw__transport_chat;
extern const lgw__transport_t lgw__transport_anthropic;
extern const lgw__transport_t lgw__transport_litellm;

/* ---- helpers shared by the transports (transport.c) ------------------ */

/* base_url stripped of whitespace and all trailing slashes (caller frees). */
char *lgw__clean_base(const char *base_url);
/* content-type: application/json, authorization: Bearer <key> when the
 * key is non-blank, then the provider's headers (non-blank names). */
int lgw__openai_headers(const lgw__provider_t *p, lgw__kvlist_t *out);
/* Decode a 2xx body: JSON; else SSE when content-type says
 * text/event-stream or the body starts with "event:"/"data:" (§10.1).
 * *out is a cJSON tree (caller cJSON_Delete). */
struct cJSON;
int lgw__decode_body(const char *body, size_t len, const char *content_type,
                     struct cJSON **out, lgw_error_t *err);
/* A short, single-line message from a non-2xx body: error.message (OpenAI
 * and Anthropic shapes), else the first 200 bytes of the body with control
 * characters replaced; "" for an empty body. Written to out (cap bytes). */
void lgw__error_body_message(const char *body, size_t len, char *out,
                             size_t cap);

#endif
