/*
 * provider.c -- provider identity: SHA-256 of the canonical JSON of a
 * provider dict (or of the provider list, for the config key), written
 * bit-exact with the Python library's json.dumps(sort_keys=True,
 * separators=(",",":"), ensure_ascii=True); and the api_style names.
 * Depends on util (buffers) and sha.
 */
#include "provider.h"

#include <stdlib.h>
#include <string.h>

#include "json.h"
#include "sha.h"

/* ---- hashing ----------------------------------------------------------- */

int lgw__sha256_hex(const void *data, size_t len, char out[65]) {
  unsigned char md[32];
  lgw__sha256(data, len, md);
  lgw__hex(md, sizeof md, out);
  return 0;
}

/* ---- ASCII-only JSON strings ------------------------------------------- */

int lgw__json_add_ascii_string(lgw__buf_t *b, const char *s) {
  return lgw__json_add_str_ascii(b, s, s ? strlen(s) : 0);
}

/* ---- sorted views of string maps ---------------------------------------- */

typedef struct entry {
  const char *key, *value;
  size_t pos;
} entry_t;

/* Code-point order equals byte order for UTF-8; ties keep insertion order. */
static int entry_cmp(const void *a, const void *b) {
  const entry_t *x = a, *y = b;
  int c = strcmp(x->key, y->key);
  if (c) return c;
  return x->pos < y->pos ? -1 : x->pos > y->pos;
}

lgw__kv_t *lgw__kvlist_sorted(const lgw__kvlist_t *l, size_t *count) {
  entry_t *e = lgw__calloc(l->n ? l->n : 1, sizeof *e);
  lgw__kv_t *kv = e ? lgw__calloc(l->n ? l->n : 1, sizeof *kv) : NULL;
  size_t i, m = 0;
  if (!kv) {
    lgw_free(e);
    return NULL;
  }
  for (i = 0; i < l->n; i++) {
    e[i].key = l->items[i].key ? l->items[i].key : "";
    e[i].value = l->items[i].value ? l->items[i].value : "";
    e[i].pos = i;
  }
  qsort(e, l->n, sizeof *e, entry_cmp);
  for (i = 0; i < l->n; i++) {
    if (!m || strcmp(kv[m - 1].key, e[i].key) != 0) m++;
    kv[m - 1].key = (char *)e[i].key;
    kv[m - 1].value = (char *)e[i].value;
  }
  lgw_free(e);
  *count = m;
  return kv;
}

/* ---- canonical JSON and keys -------------------------------------------- */

static int add_compact_map(lgw__buf_t *b, const lgw__kvlist_t *l) {
  size_t i, n;
  lgw__kv_t *e = lgw__kvlist_sorted(l, &n);
  int rc;
  if (!e) return LGW_ENOMEM;
  rc = lgw__buf_addc(b, '{');
  for (i = 0; !rc && i < n; i++) {
    if (i) rc = lgw__buf_addc(b, ',');
    if (!rc) rc = lgw__json_add_ascii_string(b, e[i].key);
    if (!rc) rc = lgw__buf_addc(b, ':');
    if (!rc) rc = lgw__json_add_ascii_string(b, e[i].value);
  }
  lgw_free(e);
  return rc ? rc : lgw__buf_addc(b, '}');
}

/* The provider dict's keys, already in sorted order. */
static int add_provider(lgw__buf_t *b, const lgw__provider_t *p) {
  int rc = lgw__buf_adds(b, "{\"api_key\":");
  if (!rc) rc = lgw__json_add_ascii_string(b, p->api_key);
  if (!rc) rc = lgw__buf_adds(b, ",\"api_style\":");
  if (!rc) rc = lgw__json_add_ascii_string(b, p->api_style);
  if (!rc) rc = lgw__buf_adds(b, ",\"base_url\":");
  if (!rc) rc = lgw__json_add_ascii_string(b, p->base_url);
  if (!rc) rc = lgw__buf_adds(b, ",\"headers\":");
  if (!rc) rc = add_compact_map(b, &p->headers);
  if (!rc) rc = lgw__buf_adds(b, ",\"model_map\":");
  if (!rc) rc = add_compact_map(b, &p->model_map);
  if (!rc) rc = lgw__buf_adds(b, ",\"provider_type\":");
  if (!rc) rc = lgw__json_add_ascii_string(b, p->provider_type);
  return rc ? rc : lgw__buf_addc(b, '}');
}

char *lgw__provider_canonical(const lgw__provider_t *p) {
  lgw__buf_t b;
  lgw__buf_init(&b);
  if (add_provider(&b, p)) {
    lgw__buf_free(&b);
    return NULL;
  }
  return lgw__buf_steal(&b);
}

int lgw__provider_key(const lgw__provider_t *p, char out[65]) {
  char *json = lgw__provider_canonical(p);
  int rc;
  if (!json) {
    out[0] = '\0';
    return LGW_ENOMEM;
  }
  rc = lgw__sha256_hex(json, strlen(json), out);
  lgw_free(json);
  return rc;
}

int lgw__config_key(const lgw__provider_t *ps, size_t n, char out[65]) {
  lgw__buf_t b;
  size_t i;
  int rc;
  lgw__buf_init(&b);
  rc = lgw__buf_addc(&b, '[');
  for (i = 0; !rc && i < n; i++) {
    if (i) rc = lgw__buf_addc(&b, ',');
    if (!rc) rc = add_provider(&b, &ps[i]);
  }
  if (!rc) rc = lgw__buf_addc(&b, ']');
  if (!rc) rc = lgw__sha256_hex(b.data, b.len, out);
  else out[0] = '\0';
  lgw__buf_free(&b);
  return rc;
}

/* ---- styles ------------------------------------------------------------ */

static const struct {
  const char *name;
  lgw__style_t style;
} styles[] = {
    {"responses", LGW__STYLE_RESPONSES},
    {"openai_responses", LGW__STYLE_RESPONSES},
    {"openai_chat", LGW__STYLE_CHAT},
    {"anthropic", LGW__STYLE_ANTHROPIC},
    {"litellm", LGW__STYLE_LITELLM},
};

int lgw__style_parse(const char *api_style, lgw__style_t *out) {
  size_t i, n;
  const char *s = lgw__trim(api_style, &n);
  *out = LGW__STYLE_NONE;
  if (!n) return 0;
  for (i = 0; i < sizeof styles / sizeof styles[0]; i++)
    if (strlen(styles[i].name) == n &&
        lgw__strncasecmp(s, styles[i].name, n) == 0) {
      *out = styles[i].style;
      return 0;
    }
  return -1;
}

const char *lgw__style_name(lgw__style_t s) {
  switch (s) {
    case LGW__STYLE_RESPONSES: return "responses";
    case LGW__STYLE_CHAT: return "openai_chat";
    case LGW__STYLE_ANTHROPIC: return "anthropic";
    case LGW__STYLE_LITELLM: return "litellm";
    default: return "";
  }
}
