/*
 * provider.h -- one configured provider and its identity. The provider
 * record (lgw__provider_t, its api_style parsed as lgw__style_t) is what
 * the config builds and the state file, routing and transports read.
 * Canonical JSON (Python json.dumps(sort_keys, separators=(",",":"),
 * ensure_ascii)) and SHA-256 (libcrypto) give provider and config keys
 * bit-exact with the Python library. Depends on util.h only: config.h and
 * provider_state.h build on it.
 */
#ifndef LGW_PROVIDER_H
#define LGW_PROVIDER_H

#include <stddef.h>

#include "util.h"

/* Transport kinds; LGW__STYLE_NONE when api_style is blank. */
typedef enum {
  LGW__STYLE_NONE = 0,
  LGW__STYLE_RESPONSES,   /* "responses" and "openai_responses" */
  LGW__STYLE_CHAT,        /* "openai_chat" */
  LGW__STYLE_ANTHROPIC,   /* "anthropic" */
  LGW__STYLE_LITELLM      /* "litellm" */
} lgw__style_t;

typedef struct lgw__provider {
  char *provider_type;   /* stripped, as configured (case kept) */
  char *api_style;       /* stripped, as configured */
  char *base_url;
  char *api_key;
  lgw__kvlist_t headers;   /* insertion order; keys/values not stripped */
  lgw__kvlist_t model_map;
  lgw__style_t style;      /* parsed api_style */
  char key[65];            /* provider key: sha256 hex of canonical JSON */
  /* our own (not part of the provider key) */
  long rpm, tpm;           /* 0 = no limit */
  int allow_insecure_http; /* plain http:// to a host that is not loopback */
  char *ca_file;           /* CA bundle for TLS; "" = settings.ca_file */
  char *extra_body;        /* a JSON object merged into every body sent to
                              this provider; NULL when none */
} lgw__provider_t;

/* Parse an api_style value (blanks around and case ignored; blank gives
 * LGW__STYLE_NONE); returns -1 for an unknown one. */
int lgw__style_parse(const char *api_style, lgw__style_t *out);
const char *lgw__style_name(lgw__style_t s);

/* Canonical JSON of one provider dict; caller frees. */
char *lgw__provider_canonical(const lgw__provider_t *p);
/* out: 64 hex chars + NUL. */
int lgw__provider_key(const lgw__provider_t *p, char out[65]);
int lgw__config_key(const lgw__provider_t *ps, size_t n, char out[65]);
/* SHA-256 hex of bytes. */
int lgw__sha256_hex(const void *data, size_t len, char out[65]);

/* ---- JSON as Python writes it (shared with the state file) ------------ */
/* Append s (NULL: "") as a JSON string literal escaped like Python's
 * ensure_ascii; malformed UTF-8 becomes \ufffd. 0 or LGW_ENOMEM. */
int lgw__json_add_ascii_string(lgw__buf_t *b, const char *s);
/* The entries of l as a Python dict holds them, sorted by key (code-point
 * order): a repeated key keeps its last value, NULLs read as "". Returns
 * a new array (caller lgw_free) of *count entries whose strings are
 * borrowed from l; NULL only on allocation failure. */
lgw__kv_t *lgw__kvlist_sorted(const lgw__kvlist_t *l, size_t *count);

#endif
