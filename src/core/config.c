/*
 * config.c -- the validated runtime: building it from a node tree with the
 * Python llmgateway's runtime_spec_from_dict semantics (plus errors for
 * values that cannot be right and warnings for unknown keys), dumping it,
 * task and tier lookups and the config file locations. Also the public
 * lgw_runtime_* functions.
 */
#include "config.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <math.h>
#include <netinet/in.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cJSON.h>

#include "provider_state.h"
#include "yaml_load.h"

/* ---- validation context ------------------------------------------------ */

typedef struct ctx {
  const char *name;  /* source for positions; NULL: no positions */
  lgw_error_t *err;
} ctx_t;

/* " (name:line:col)" or "" when there is no position. */
static void pos_of(const ctx_t *c, const lgw__node_t *n, char *out,
                   size_t cap) {
  if (c->name && n && n->line > 0)
    snprintf(out, cap, " (%s:%d:%d)", c->name, n->line, n->col);
  else
    out[0] = '\0';
}

/* Error "<path>: <what> (<name>:<line>:<col>)". */
static int bad(const ctx_t *c, const lgw__node_t *n, const char *path,
               const char *fmt, ...) LGW__PRINTF(4, 5);
static int bad(const ctx_t *c, const lgw__node_t *n, const char *path,
               const char *fmt, ...) {
  char what[512], pos[300];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(what, sizeof what, fmt, ap);
  va_end(ap);
  pos_of(c, n, pos, sizeof pos);
  return lgw__error_set(c->err, LGW_ECONFIG, "%s: %s%s", path, what, pos);
}

/* "a list", "a mapping", or the scalar as written ("abc" quoted). */
static void describe(const lgw__node_t *n, char *out, size_t cap) {
  if (n->type == LGW_NODE_SEQ || n->type == LGW_NODE_MAP)
    snprintf(out, cap, "a %s", lgw__node_type_name(n->type));
  else if (n->type == LGW_NODE_STRING)
    snprintf(out, cap, "\"%.60s\"", n->str);
  else
    snprintf(out, cap, "%.60s", lgw__node_text(n) ? lgw__node_text(n) : "");
}

static void join_path(char *out, size_t cap, const char *path,
                      const char *key) {
  if (path[0])
    snprintf(out, cap, "%s.%s", path, key);
  else
    snprintf(out, cap, "%s", key);
}

/* Python str() of a scalar; buf holds the text when it is not borrowed. */
static const char *py_str(const lgw__node_t *n, char buf[40]) {
  switch (n->type) {
    case LGW_NODE_NULL: return "None";
    case LGW_NODE_BOOL: return n->b ? "True" : "False";
    case LGW_NODE_INT: snprintf(buf, 40, "%lld", n->i); return buf;
    case LGW_NODE_FLOAT: lgw__node_float_repr(n->d, buf); return buf;
    default: return n->str;
  }
}

static int py_falsy(const lgw__node_t *n) {
  switch (n->type) {
    case LGW_NODE_NULL: return 1;
    case LGW_NODE_BOOL: return !n->b;
    case LGW_NODE_INT: return n->i == 0;
    case LGW_NODE_FLOAT: return n->d == 0;
    case LGW_NODE_STRING: return n->len == 0;
    default: return n->n == 0;
  }
}

/* Warn about keys of map not in known (NULL-terminated). */
static void warn_unknown(const ctx_t *c, const lgw__node_t *map,
                         const char *path, const char *const *known) {
  size_t i;
  for (i = 0; i < map->n; i++) {
    const lgw__node_t *k = map->keys[i];
    const char *const *w;
    char buf[40], full[400], pos[300];
    if (k->type == LGW_NODE_STRING) {
      for (w = known; *w && strcmp(*w, k->str) != 0; w++) {
      }
      if (*w) continue;
    }
    join_path(full, sizeof full, path, py_str(k, buf));
    pos_of(c, k, pos, sizeof pos);
    lgw__log(LGW_LOG_WARN, "%s: unknown key, ignored%s", full, pos);
  }
}

/* ---- field coercion ---------------------------------------------------- */

#define TEXT_TAB 1  /* a tab is allowed (header values, RFC 9110) */
#define TEXT_REF 2  /* a "${" left by an unresolved reference is refused */

static const char *bad_text(const char *s, size_t len, int flags,
                            char *buf, size_t cap);
static int is_token(const char *s, size_t len);

/* String field: "" when missing or falsy, else str(value) stripped (and
 * lower-cased when lower). *out owned by the caller. */
static int get_string(const ctx_t *c, const lgw__node_t *map, const char *key,
                      const char *path, int lower, char **out) {
  const lgw__node_t *n = lgw__node_get(map, key);
  char full[400], buf[40];
  *out = NULL;
  if (n && (n->type == LGW_NODE_SEQ || n->type == LGW_NODE_MAP)) {
    join_path(full, sizeof full, path, key);
    return bad(c, n, full, "expected a string, got a %s",
               lgw__node_type_name(n->type));
  }
  *out = lgw__strip(!n || py_falsy(n) ? "" : py_str(n, buf));
  if (!*out) return lgw__error_set(c->err, LGW_ENOMEM, "out of memory");
  if (lower) lgw__lower(*out);
  if (n && n->type == LGW_NODE_STRING) {
    char why[120];
    const char *w = memchr(n->str, '\0', n->len)
                        ? bad_text(n->str, n->len, 0, why, sizeof why)
                        : bad_text(*out, strlen(*out), TEXT_REF, why,
                                   sizeof why);
    if (w) {
      join_path(full, sizeof full, path, key);
      return bad(c, n, full, "%s", w);
    }
  }
  return 0;
}

/* Python int() of a string: blanks around, sign, digits with single
 * underscores between them. */
static int parse_int_text(const char *s, long long *out) {
  unsigned long long v = 0;
  int neg = 0;
  while (*s == ' ' || *s == '\t' || *s == '\n' || *s == '\r') s++;
  if (*s == '-' || *s == '+') neg = *s++ == '-';
  if (*s < '0' || *s > '9') return -1;
  for (; (*s >= '0' && *s <= '9') || (*s == '_' && s[1] >= '0' && s[1] <= '9');
       s++) {
    if (*s == '_') continue;
    if (v > (unsigned long long)LLONG_MAX / 10) return -1;
    v = v * 10 + (unsigned long long)(*s - '0');
    if (v > (unsigned long long)LLONG_MAX) return -1;
  }
  while (*s == ' ' || *s == '\t' || *s == '\n' || *s == '\r') s++;
  if (*s) return -1;
  *out = neg ? -(long long)v : (long long)v;
  return 0;
}

/* Python float() of a string (finite values only). */
static int parse_float_text(const char *s, double *out) {
  char tmp[128], *end;
  size_t i, j = 0, n = strlen(s);
  for (i = 0; i < n && j + 1 < sizeof tmp; i++) {
    if (s[i] == '_' && i > 0 && i + 1 < n && s[i - 1] >= '0' &&
        s[i - 1] <= '9' && s[i + 1] >= '0' && s[i + 1] <= '9')
      continue;
    if (s[i] == '_' || s[i] == 'x' || s[i] == 'X') return -1;
    tmp[j++] = s[i];
  }
  if (i < n) return -1;
  tmp[j] = '\0';
  errno = 0;
  *out = strtod(tmp, &end);
  if (end == tmp || errno) return -1;
  while (*end == ' ' || *end == '\t' || *end == '\n' || *end == '\r') end++;
  return *end || !isfinite(*out) ? -1 : 0;
}

/* A missing, null or blank value means the default (blank covers an unset
 * ${VAR}). */
static int absent(const lgw__node_t *n) {
  return !n || n->type == LGW_NODE_NULL ||
         (n->type == LGW_NODE_STRING && lgw__is_blank(n->str));
}

static int get_long(const ctx_t *c, const lgw__node_t *map, const char *key,
                    const char *path, long dflt, long min, long *out) {
  const lgw__node_t *n = lgw__node_get(map, key);
  char full[400], desc[80];
  long long v = 0;
  int ok;
  *out = dflt;
  if (absent(n)) return 0;
  join_path(full, sizeof full, path, key);
  switch (n->type) {
    case LGW_NODE_INT: v = n->i; ok = 1; break;
    case LGW_NODE_FLOAT:
      ok = isfinite(n->d) && n->d == floor(n->d) && fabs(n->d) < 9e18;
      v = ok ? (long long)n->d : 0;
      break;
    case LGW_NODE_STRING: ok = parse_int_text(n->str, &v) == 0; break;
    default: ok = 0; break;
  }
  describe(n, desc, sizeof desc);
  if (!ok || v > LONG_MAX) return bad(c, n, full, "expected an integer, got %s", desc);
  if (v < min) return bad(c, n, full, "must be at least %ld, got %s", min, desc);
  *out = (long)v;
  return 0;
}

/* Float settings: exclusive says the minimum itself is not allowed. */
static int get_double(const ctx_t *c, const lgw__node_t *map, const char *key,
                      const char *path, double dflt, double min,
                      int exclusive, double *out) {
  const lgw__node_t *n = lgw__node_get(map, key);
  char full[400], desc[80], minbuf[32];
  double v = 0;
  int ok;
  *out = dflt;
  if (absent(n)) return 0;
  join_path(full, sizeof full, path, key);
  switch (n->type) {
    case LGW_NODE_INT: v = (double)n->i; ok = 1; break;
    case LGW_NODE_FLOAT: v = n->d; ok = isfinite(v); break;
    case LGW_NODE_STRING: ok = parse_float_text(n->str, &v) == 0; break;
    default: ok = 0; break;
  }
  describe(n, desc, sizeof desc);
  if (!ok) return bad(c, n, full, "expected a number, got %s", desc);
  snprintf(minbuf, sizeof minbuf, "%g", min);
  if (exclusive && v <= min)
    return bad(c, n, full, "must be greater than %s, got %s", minbuf, desc);
  if (v < min)
    return bad(c, n, full, "must be at least %s, got %s", minbuf, desc);
  *out = v;
  return 0;
}

/* headers / model_map: a mapping of str(key) -> str(value); blank keys are
 * dropped; keys and values are not stripped (Python semantics). */
static int get_kvlist(const ctx_t *c, const lgw__node_t *map, const char *key,
                      const char *path, lgw__kvlist_t *out) {
  const lgw__node_t *n = lgw__node_get(map, key);
  char full[400], sub[500];
  size_t i;
  if (!n || n->type == LGW_NODE_NULL) return 0;
  join_path(full, sizeof full, path, key);
  if (n->type != LGW_NODE_MAP)
    return bad(c, n, full, "expected a mapping, got a %s",
               lgw__node_type_name(n->type));
  for (i = 0; i < n->n; i++) {
    const lgw__node_t *k = n->keys[i], *v = n->items[i];
    char kb[40], vb[40], why[120];
    const char *ks = py_str(k, kb), *w;
    size_t kl = k->type == LGW_NODE_STRING ? k->len : strlen(ks);
    int hdr = strcmp(key, "headers") == 0;
    if (lgw__is_blank(ks) && !memchr(ks, '\0', kl)) continue;
    if ((w = bad_text(ks, kl, 0, why, sizeof why)))
      return bad(c, k, full, "a %s %s", hdr ? "header name" : "model name",
                 w);
    if (hdr && !is_token(ks, kl))
      return bad(c, k, full, "\"%.100s\" is not a valid header name "
                 "(letters, digits and !#$%%&'*+-.^_`|~ only)", ks);
    join_path(sub, sizeof sub, full, ks);
    if (v->type == LGW_NODE_SEQ || v->type == LGW_NODE_MAP)
      return bad(c, v, sub, "expected a string, got a %s",
                 lgw__node_type_name(v->type));
    if (v->type == LGW_NODE_STRING &&
        (w = bad_text(v->str, v->len, (hdr ? TEXT_TAB : 0) | TEXT_REF, why,
                      sizeof why)))
      return bad(c, v, sub, "%s", w);
    if (lgw__kvlist_add(out, ks, py_str(v, vb)))
      return lgw__error_set(c->err, LGW_ENOMEM, "out of memory");
  }
  return 0;
}

/* ---- strings that reach the wire ----------------------------------------- */

/* Why s[0..len) cannot be a config string, or NULL: a NUL byte, another
 * control character (C0 or DEL), or (TEXT_REF) a "${". The value itself
 * is never quoted (it may be a key). */
static const char *bad_text(const char *s, size_t len, int flags,
                            char *buf, size_t cap) {
  int tab_ok = flags & TEXT_TAB;
  size_t i;
  for (i = 0; i < len; i++) {
    unsigned char ch = (unsigned char)s[i];
    if (ch == 0) return "contains a NUL character (U+0000)";
    if ((ch < 0x20 && !(tab_ok && ch == '\t')) || ch == 0x7f) {
      snprintf(buf, cap, "contains a control character (U+%04X%s); control "
               "characters are not allowed", ch,
               ch == '\r' ? ", CR" : ch == '\n' ? ", LF" : ch == '\t' ? ", TAB"
               : ch == 0x7f ? ", DEL" : "");
      return buf;
    }
  }
  for (i = 0; (flags & TEXT_REF) && i + 1 < len; i++)
    if (s[i] == '$' && s[i + 1] == '{')
      return "holds an unresolved ${...} reference (only a whole value "
             "${NAME}, ${NAME:-default} or ${NAME:-${OTHER}} is "
             "interpolated)";
  return NULL;
}

/* RFC 9110 token (a header field name). */
static int is_token(const char *s, size_t len) {
  size_t i;
  if (!len) return 0;
  for (i = 0; i < len; i++) {
    unsigned char ch = (unsigned char)s[i];
    if (!((ch >= '0' && ch <= '9') || (ch >= 'a' && ch <= 'z') ||
          (ch >= 'A' && ch <= 'Z') || (ch && strchr("!#$%&'*+-.^_`|~", ch))))
      return 0;
  }
  return 1;
}

/* A boolean: true/false (YAML or Lua), 0/1, or the strings true, false,
 * yes, no, on, off, 1, 0 (any case, e.g. from ${VAR}). */
static int get_boolean(const ctx_t *c, const lgw__node_t *map,
                       const char *key, const char *path, int dflt,
                       int *out) {
  static const char *const yes[] = {"true", "yes", "on", "1", NULL};
  static const char *const no[] = {"false", "no", "off", "0", NULL};
  const lgw__node_t *n = lgw__node_get(map, key);
  char full[400], desc[80];
  const char *const *w;
  *out = dflt;
  if (absent(n)) return 0;
  join_path(full, sizeof full, path, key);
  if (n->type == LGW_NODE_BOOL) {
    *out = n->b;
    return 0;
  }
  if (n->type == LGW_NODE_INT && (n->i == 0 || n->i == 1)) {
    *out = (int)n->i;
    return 0;
  }
  if (n->type == LGW_NODE_STRING) {
    char *s = lgw__strip(n->str);
    if (!s) return lgw__error_set(c->err, LGW_ENOMEM, "out of memory");
    lgw__lower(s);
    for (w = yes; *w && strcmp(*w, s); w++) {
    }
    if (*w) *out = 1;
    else {
      for (w = no; *w && strcmp(*w, s); w++) {
      }
      if (*w) *out = 0;
    }
    lgw_free(s);
    if (*w) return 0;
  }
  describe(n, desc, sizeof desc);
  return bad(c, n, full, "expected true or false, got %s", desc);
}

/* Host of an http(s) URL (after "scheme://"): [start, end) without the
 * brackets of an IPv6 literal; userinfo skipped. */
static void url_host(const char *a, const char **hs, const char **he) {
  const char *end = a + strcspn(a, "/?#"), *p, *at = NULL;
  for (p = a; p < end; p++)
    if (*p == '@') at = p;
  if (at) a = at + 1;
  if (*a == '[') {
    const char *rb = memchr(a, ']', (size_t)(end - a));
    *hs = a + 1;
    *he = rb ? rb : end;
    return;
  }
  *hs = a;
  for (p = a; p < end && *p != ':'; p++) {
  }
  *he = p;
}

int lgw__host_is_loopback(const char *host, size_t len) {
  char h[256];
  unsigned char a6[16];
  struct in_addr a4;
  if (len == 0 || len >= sizeof h) return 0;
  memcpy(h, host, len);
  h[len] = '\0';
  if (h[len - 1] == '.') h[len - 1] = '\0';
  if (lgw__strcasecmp(h, "localhost") == 0) return 1;
  if (inet_pton(AF_INET, h, &a4) == 1)
    return (ntohl(a4.s_addr) >> 24) == 127;
  if (inet_pton(AF_INET6, h, a6) == 1)
    return memcmp(a6, in6addr_loopback.s6_addr, 16) == 0;
  return 0;
}

/* base_url: blank (an error at request time), else http:// or https:// with
 * a host; plain http:// only to a loopback host unless allowed. */
static int check_base_url(const ctx_t *c, const lgw__node_t *m,
                          const char *path, const lgw__provider_t *p) {
  const lgw__node_t *n = lgw__node_get(m, "base_url");
  const char *u = p->base_url, *a, *hs, *he;
  char full[400], *shown;
  int rc, https;
  if (!u[0]) return 0;
  join_path(full, sizeof full, path, "base_url");
  https = lgw__strncasecmp(u, "https://", 8) == 0;
  if (!https && lgw__strncasecmp(u, "http://", 7) != 0) {
    if (!(shown = lgw__url_redact(u)))
      return lgw__error_set(c->err, LGW_ENOMEM, "out of memory");
    rc = bad(c, n, full, "an explicit http:// or https:// scheme is "
             "required, got \"%.200s\"", shown);
    lgw_free(shown);
    return rc;
  }
  a = u + (https ? 8 : 7);
  url_host(a, &hs, &he);
  if (hs == he) return bad(c, n, full, "the URL has no host");
  if (https || p->allow_insecure_http ||
      lgw__host_is_loopback(hs, (size_t)(he - hs)))
    return 0;
  return bad(c, n, full, "plain http:// to \"%.*s\", which is not a "
             "loopback host, would send the key and the prompts in clear; "
             "use https://, or set %s.allow_insecure_http: true",
             (int)(he - hs > 200 ? 200 : he - hs), hs, path);
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
  char *s = lgw__strip(api_style);
  size_t i;
  int rc = -1;
  *out = LGW__STYLE_NONE;
  if (!s) return -1;
  if (!s[0]) rc = 0;
  for (i = 0; rc && i < sizeof styles / sizeof styles[0]; i++)
    if (lgw__strcasecmp(s, styles[i].name) == 0) {
      *out = styles[i].style;
      rc = 0;
    }
  lgw_free(s);
  return rc;
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

/* ---- runtime construction ---------------------------------------------- */

/* A configuration value as JSON (keys as their text). */
static cJSON *node_json(const lgw__node_t *n) {
  cJSON *o = NULL;
  size_t i;
  switch (n->type) {
    case LGW_NODE_NULL: return cJSON_CreateNull();
    case LGW_NODE_BOOL: return cJSON_CreateBool(n->b);
    case LGW_NODE_INT: return cJSON_CreateNumber((double)n->i);
    case LGW_NODE_FLOAT: return cJSON_CreateNumber(n->d);
    case LGW_NODE_STRING: return cJSON_CreateString(n->str ? n->str : "");
    case LGW_NODE_SEQ:
    case LGW_NODE_MAP:
      o = n->type == LGW_NODE_SEQ ? cJSON_CreateArray() : cJSON_CreateObject();
      for (i = 0; o && i < n->n; i++) {
        cJSON *v = node_json(n->items[i]);
        const char *k = n->type == LGW_NODE_MAP ? lgw__node_text(n->keys[i])
                                                : NULL;
        if (!v || (n->type == LGW_NODE_MAP
                       ? !cJSON_AddItemToObject(o, k ? k : "", v)
                       : !cJSON_AddItemToArray(o, v))) {
          cJSON_Delete(v);
          cJSON_Delete(o);
          return NULL;
        }
      }
      return o;
  }
  return NULL;
}

/* extra_body: a mapping, kept as JSON text. */
static int get_extra_body(const ctx_t *c, const lgw__node_t *map,
                          const char *path, char **out) {
  const lgw__node_t *n = lgw__node_get(map, "extra_body");
  char full[400];
  cJSON *o;
  if (!n || n->type == LGW_NODE_NULL) return 0;
  join_path(full, sizeof full, path, "extra_body");
  if (n->type != LGW_NODE_MAP)
    return bad(c, n, full, "expected a mapping, got a %s",
               lgw__node_type_name(n->type));
  o = node_json(n);
  *out = o ? cJSON_PrintUnformatted(o) : NULL;
  cJSON_Delete(o);
  return *out ? 0 : lgw__error_set(c->err, LGW_ENOMEM, "out of memory");
}

static void provider_free(lgw__provider_t *p) {
  cJSON_free(p->extra_body);
  lgw_free(p->provider_type);
  lgw_free(p->api_style);
  lgw_free(p->base_url);
  lgw_free(p->api_key);
  lgw_free(p->ca_file);
  lgw__kvlist_free(&p->headers);
  lgw__kvlist_free(&p->model_map);
}

static void prices_free(lgw_runtime_t *rt) {
  size_t i;
  for (i = 0; i < rt->nprices; i++) lgw_free(rt->prices[i].model);
  lgw_free(rt->prices);
}

static int parse_provider(const ctx_t *c, const lgw__node_t *m,
                          const char *path, lgw__provider_t *p) {
  static const char *const known[] = {"provider_type", "api_style",
                                      "base_url",      "api_key",
                                      "headers",       "model_map",
                                      "rpm",           "tpm",
                                      "allow_insecure_http", "ca_file",
                                      "extra_body",    NULL};
  int rc;
  warn_unknown(c, m, path, known);
  if ((rc = get_string(c, m, "provider_type", path, 0, &p->provider_type)) ||
      (rc = get_string(c, m, "api_style", path, 0, &p->api_style)) ||
      (rc = get_string(c, m, "base_url", path, 0, &p->base_url)) ||
      (rc = get_string(c, m, "api_key", path, 0, &p->api_key)) ||
      (rc = get_kvlist(c, m, "headers", path, &p->headers)) ||
      (rc = get_kvlist(c, m, "model_map", path, &p->model_map)) ||
      (rc = get_long(c, m, "rpm", path, 0, 0, &p->rpm)) ||
      (rc = get_long(c, m, "tpm", path, 0, 0, &p->tpm)) ||
      (rc = get_boolean(c, m, "allow_insecure_http", path, 0,
                        &p->allow_insecure_http)) ||
      (rc = get_string(c, m, "ca_file", path, 0, &p->ca_file)) ||
      (rc = get_extra_body(c, m, path, &p->extra_body)) ||
      (rc = check_base_url(c, m, path, p)))
    return rc;
  if (lgw__style_parse(p->api_style, &p->style)) {
    char full[400], pos[300];
    join_path(full, sizeof full, path, "api_style");
    pos_of(c, lgw__node_get(m, "api_style"), pos, sizeof pos);
    return lgw__error_set(c->err, LGW_ECONFIG,
                          "%s: unknown value \"%.100s\"%s; expected one of "
                          "responses, openai_responses, openai_chat, "
                          "anthropic, litellm",
                          full, p->api_style, pos);
  }
  return 0;
}

static int add_provider(const ctx_t *c, lgw_runtime_t *rt,
                        const lgw__node_t *m, const char *path) {
  lgw__provider_t *ps =
      lgw_realloc(rt->providers, (rt->nproviders + 1) * sizeof *ps);
  if (!ps) return lgw__error_set(c->err, LGW_ENOMEM, "out of memory");
  rt->providers = ps;
  memset(&ps[rt->nproviders], 0, sizeof *ps);
  rt->nproviders++;
  return parse_provider(c, m, path, &ps[rt->nproviders - 1]);
}

int lgw__provider_parse(const lgw__node_t *m, lgw__provider_t *p,
                        lgw_error_t *err) {
  ctx_t c;
  int rc;
  c.name = NULL;
  c.err = err;
  memset(p, 0, sizeof *p);
  if (!m || m->type != LGW_NODE_MAP)
    return lgw__error_set(err, LGW_ECONFIG, "not a provider mapping");
  if ((rc = parse_provider(&c, m, "", p))) provider_free(p);
  return rc;
}

void lgw__provider_clear(lgw__provider_t *p) { provider_free(p); }

static int parse_providers(const ctx_t *c, const lgw__node_t *root,
                           lgw_runtime_t *rt) {
  const lgw__node_t *list = lgw__node_get(root, "providers"), *legacy;
  size_t i;
  int rc;
  if (list && list->type != LGW_NODE_NULL && list->type != LGW_NODE_SEQ &&
      list->type != LGW_NODE_MAP)
    return bad(c, list, "providers", "expected a list or mapping, got a %s",
               lgw__node_type_name(list->type));
  for (i = 0; list && i < list->n; i++) {
    const lgw__node_t *e = list->items[i];
    char path[300], kb[40], pos[300];
    if (list->type == LGW_NODE_SEQ)
      snprintf(path, sizeof path, "providers[%zu]", i + 1);
    else
      snprintf(path, sizeof path, "providers.%.200s",
               py_str(list->keys[i], kb));
    if (e->type != LGW_NODE_MAP) {
      pos_of(c, e, pos, sizeof pos);
      lgw__log(LGW_LOG_WARN, "%s: not a mapping, ignored%s", path, pos);
      continue;
    }
    if ((rc = add_provider(c, rt, e, path))) return rc;
  }
  if (rt->nproviders) return 0;
  legacy = lgw__node_get(root, "provider");
  if (!legacy || legacy->type == LGW_NODE_NULL) return 0;
  if (legacy->type != LGW_NODE_MAP)
    return bad(c, legacy, "provider", "expected a mapping, got a %s",
               lgw__node_type_name(legacy->type));
  return legacy->n ? add_provider(c, rt, legacy, "provider") : 0;
}

/* settings.prices: {model: {input: X, output: Y}}, both >= 0 (a missing
 * one is 0). */
static int parse_prices(const ctx_t *c, const lgw__node_t *s,
                        lgw_runtime_t *rt) {
  static const char *const known[] = {"input", "output", NULL};
  const lgw__node_t *n = lgw__node_get(s, "prices");
  size_t i;
  int rc;
  if (absent(n)) return 0;
  if (n->type != LGW_NODE_MAP)
    return bad(c, n, "settings.prices", "expected a mapping, got a %s",
               lgw__node_type_name(n->type));
  rt->prices = lgw__calloc(n->n ? n->n : 1, sizeof *rt->prices);
  if (!rt->prices) return lgw__error_set(c->err, LGW_ENOMEM, "out of memory");
  for (i = 0; i < n->n; i++) {
    const lgw__node_t *m = n->items[i];
    lgw__price_t *pr = &rt->prices[rt->nprices];
    char path[300], kb[40];
    const char *name = py_str(n->keys[i], kb);
    snprintf(path, sizeof path, "settings.prices.%.200s", name);
    if (n->keys[i]->type == LGW_NODE_STRING &&
        memchr(n->keys[i]->str, '\0', n->keys[i]->len))
      return bad(c, n->keys[i], "settings.prices",
                 "a model name contains a NUL character (U+0000)");
    if (m->type != LGW_NODE_MAP)
      return bad(c, m, path, "expected a mapping with input and output, "
                             "got %s%s", m->type == LGW_NODE_SEQ ? "a " : "",
                 m->type == LGW_NODE_SEQ ? "list" : "a scalar");
    warn_unknown(c, m, path, known);
    if (!(pr->model = lgw__strip(name)))
      return lgw__error_set(c->err, LGW_ENOMEM, "out of memory");
    rt->nprices++;
    if ((rc = get_double(c, m, "input", path, 0, 0, 0, &pr->input)) ||
        (rc = get_double(c, m, "output", path, 0, 0, 0, &pr->output)))
      return rc;
  }
  return 0;
}

/* Hex digit value, -1 for another byte. */
static int hexval(char ch) {
  if (ch >= '0' && ch <= '9') return ch - '0';
  if (ch >= 'a' && ch <= 'f') return ch - 'a' + 10;
  if (ch >= 'A' && ch <= 'F') return ch - 'A' + 10;
  return -1;
}

/* Percent-decode s[0..n) into out (cap bytes with the NUL); -1 when it
 * does not fit or an escape is malformed. */
static int pct_decode(const char *s, size_t n, char *out, size_t cap) {
  size_t i, j = 0;
  for (i = 0; i < n; i++) {
    char ch = s[i];
    if (ch == '%') {
      int hi = i + 2 < n ? hexval(s[i + 1]) : -1;
      int lo = i + 2 < n ? hexval(s[i + 2]) : -1;
      if (hi < 0 || lo < 0) return -1;
      ch = (char)(hi * 16 + lo);
      i += 2;
    }
    if (j + 1 >= cap) return -1;
    out[j++] = ch;
  }
  out[j] = '\0';
  return 0;
}

/* A decimal number in [lo, hi] spanning all of s[0..n). */
static int parse_range(const char *s, size_t n, long lo, long hi,
                       int *out) {
  long v = 0;
  size_t i;
  if (n == 0 || n > 9) return -1;
  for (i = 0; i < n; i++) {
    if (s[i] < '0' || s[i] > '9') return -1;
    v = v * 10 + (s[i] - '0');
  }
  if (v < lo || v > hi) return -1;
  *out = (int)v;
  return 0;
}

#define URL_FAIL(...) (snprintf(why, cap, __VA_ARGS__), LGW_ECONFIG)

int lgw__redis_url_parse(const char *url, lgw__redis_url_t *out, char *why,
                         size_t cap) {
  const char *a, *end, *at, *hp, *hend, *colon, *slash;
  size_t i;
  memset(out, 0, sizeof *out);
  out->port = 6379;
  if (!url || strncmp(url, "redis://", 8) != 0)
    return URL_FAIL("a Redis URL starts with redis://");
  a = url + 8;
  slash = strchr(a, '/');
  end = slash ? slash : a + strlen(a);
  /* the last '@' of the authority ends the user info */
  for (at = NULL, hp = a; hp < end; hp++)
    if (*hp == '@') at = hp;
  if (at) {
    colon = memchr(a, ':', (size_t)(at - a));
    if (!colon) return URL_FAIL("the user info of a Redis URL is "
                                "user:password or :password");
    if (pct_decode(a, (size_t)(colon - a), out->user, sizeof out->user) ||
        pct_decode(colon + 1, (size_t)(at - colon - 1), out->password,
                   sizeof out->password))
      return URL_FAIL("bad user or password in the Redis URL (too long or "
                      "a bad %%-escape)");
  }
  hp = at ? at + 1 : a;
  if (*hp == '[') {
    hend = memchr(hp, ']', (size_t)(end - hp));
    if (!hend) return URL_FAIL("unclosed [ in the host of the Redis URL");
    colon = hend + 1 < end ? hend + 1 : NULL;
    if (colon && *colon != ':')
      return URL_FAIL("unexpected text after ] in the Redis URL");
    hp++;
  } else {
    colon = memchr(hp, ':', (size_t)(end - hp));
    hend = colon ? colon : end;
  }
  if (hend == hp) return URL_FAIL("the Redis URL has no host");
  if ((size_t)(hend - hp) >= sizeof out->host)
    return URL_FAIL("the host of the Redis URL is too long");
  for (i = 0; hp + i < hend; i++) {
    unsigned char ch = (unsigned char)hp[i];
    if (ch <= ' ' || ch == '/' || ch == '?' || ch == '#' || ch == '@')
      return URL_FAIL("bad character in the host of the Redis URL");
    out->host[i] = (char)ch;
  }
  if (colon && parse_range(colon + 1, (size_t)(end - colon - 1), 1, 65535,
                           &out->port))
    return URL_FAIL("the port of the Redis URL must be 1..65535");
  if (slash && slash[1] &&
      parse_range(slash + 1, strlen(slash + 1), 0, 1000000, &out->db))
    return URL_FAIL("the database of the Redis URL must be a number "
                    "(redis://host:port/0)");
  return 0;
}

#undef URL_FAIL

/* settings.state: "file" (or absent) or a Redis URL; state_prefix. */
static int parse_state(const ctx_t *c, const lgw__node_t *s,
                       lgw_runtime_t *rt) {
  const lgw__node_t *n = lgw__node_get(s, "state");
  lgw__redis_url_t u;
  char why[200];
  int rc;
  if ((rc = get_string(c, s, "state_prefix", "settings", 0,
                       &rt->state_prefix)))
    return rc;
  if (!rt->state_prefix[0]) {
    lgw_free(rt->state_prefix);
    if (!(rt->state_prefix = lgw__strdup(LGW_DEFAULT_STATE_PREFIX)))
      return lgw__error_set(c->err, LGW_ENOMEM, "out of memory");
  }
  if ((rc = get_string(c, s, "state", "settings", 0, &rt->state))) return rc;
  if (!rt->state[0] || strcmp(rt->state, "file") == 0) {
    lgw_free(rt->state);
    rt->state = NULL;
    return 0;
  }
  if (strncmp(rt->state, "redis://", 8) != 0)
    return bad(c, n, "settings.state", "expected \"file\" or a URL "
               "redis://[[user]:password@]host[:port][/db], got %s%.60s%s",
               strchr(rt->state, '@') ? "a value with user info" : "\"",
               strchr(rt->state, '@') ? "" : rt->state,
               strchr(rt->state, '@') ? "" : "\"");
  if (lgw__redis_url_parse(rt->state, &u, why, sizeof why))
    return bad(c, n, "settings.state", "%s", why);
  return 0;
}

/* A true/false setting; absent or null: false. */
static int parse_settings(const ctx_t *c, const lgw__node_t *root,
                          lgw_runtime_t *rt) {
  static const char *const known[] = {
      "fallback_model", "strong_model", "weak_model",
      "strong_reasoning_effort", "weak_reasoning_effort", "max_concurrent",
      "retry_max", "timeout", "transport_retries", "connect_timeout",
      "deadline", "backoff_base", "backoff_max", "retry_after_max",
      "max_response_bytes", "first_token_timeout", "idle_timeout",
      "breaker_failures", "breaker_window", "breaker_cooldown", "prices",
      "state", "state_prefix", "state_refresh", "failover_on_refusal",
      "ca_file", "max_connections_per_host",
      "worker_grace", NULL};
  const lgw__node_t *s = lgw__node_get(root, "settings");
  const char *p = "settings";
  int rc;
  lgw__node_t empty;
  memset(&empty, 0, sizeof empty);
  empty.type = LGW_NODE_MAP;
  if (s && s->type != LGW_NODE_NULL && s->type != LGW_NODE_MAP)
    return bad(c, s, p, "expected a mapping, got a %s",
               lgw__node_type_name(s->type));
  if (!s || s->type == LGW_NODE_NULL) s = &empty;
  warn_unknown(c, s, p, known);
  if ((rc = get_string(c, s, "fallback_model", p, 0, &rt->fallback_model)) ||
      (rc = get_string(c, s, "strong_model", p, 0, &rt->strong_model)) ||
      (rc = get_string(c, s, "weak_model", p, 0, &rt->weak_model)) ||
      (rc = get_string(c, s, "strong_reasoning_effort", p, 1,
                       &rt->strong_reasoning_effort)) ||
      (rc = get_string(c, s, "weak_reasoning_effort", p, 1,
                       &rt->weak_reasoning_effort)) ||
      (rc = get_long(c, s, "max_concurrent", p, LGW_DEFAULT_MAX_CONCURRENT, 1,
                     &rt->max_concurrent)) ||
      (rc = get_long(c, s, "retry_max", p, LGW_DEFAULT_RETRY_MAX, 0,
                     &rt->retry_max)) ||
      (rc = get_double(c, s, "timeout", p, LGW_DEFAULT_TIMEOUT, 0, 1,
                       &rt->timeout)) ||
      (rc = get_long(c, s, "transport_retries", p,
                     LGW_DEFAULT_TRANSPORT_RETRIES, 1,
                     &rt->transport_retries)) ||
      (rc = get_double(c, s, "connect_timeout", p,
                       LGW_DEFAULT_CONNECT_TIMEOUT, 0, 1,
                       &rt->connect_timeout)) ||
      (rc = get_double(c, s, "deadline", p, 0, 0, 0, &rt->deadline)) ||
      (rc = get_double(c, s, "backoff_base", p, LGW_DEFAULT_BACKOFF_BASE, 0,
                       0, &rt->backoff_base)) ||
      (rc = get_double(c, s, "backoff_max", p, LGW_DEFAULT_BACKOFF_MAX, 0, 0,
                       &rt->backoff_max)) ||
      (rc = get_double(c, s, "retry_after_max", p,
                       LGW_DEFAULT_RETRY_AFTER_MAX, 0, 0,
                       &rt->retry_after_max)) ||
      (rc = get_long(c, s, "max_response_bytes", p,
                     LGW_DEFAULT_MAX_RESPONSE_BYTES, 1,
                     &rt->max_response_bytes)) ||
      (rc = get_long(c, s, "max_connections_per_host", p, 0, 0,
                     &rt->max_connections_per_host)) ||
      (rc = get_double(c, s, "first_token_timeout", p, 0, 0, 0,
                       &rt->first_token_timeout)) ||
      (rc = get_double(c, s, "idle_timeout", p, 0, 0, 0,
                       &rt->idle_timeout)) ||
      (rc = get_long(c, s, "breaker_failures", p,
                     LGW_DEFAULT_BREAKER_FAILURES, 0,
                     &rt->breaker_failures)) ||
      (rc = get_double(c, s, "breaker_window", p, LGW_DEFAULT_BREAKER_WINDOW,
                       0, 1, &rt->breaker_window)) ||
      (rc = get_double(c, s, "breaker_cooldown", p,
                       LGW_DEFAULT_BREAKER_COOLDOWN, 0, 0,
                       &rt->breaker_cooldown)) ||
      (rc = get_double(c, s, "state_refresh", p, LGW_DEFAULT_STATE_REFRESH,
                       0, 1, &rt->state_refresh)) ||
      (rc = get_double(c, s, "worker_grace", p, LGW_DEFAULT_WORKER_GRACE,
                       0, 0, &rt->worker_grace)) ||
      (rc = get_string(c, s, "ca_file", p, 0, &rt->ca_file)) ||
      (rc = parse_state(c, s, rt)) ||
      (rc = get_boolean(c, s, "failover_on_refusal", p, 0,
                        &rt->failover_on_refusal)))
    return rc;
  return parse_prices(c, s, rt);
}

static void task_free(lgw__task_t *t) {
  lgw_free(t->name);
  lgw_free(t->model);
  lgw_free(t->tier);
  lgw_free(t->reasoning_effort);
}

static int parse_tasks(const ctx_t *c, const lgw__node_t *root,
                       lgw_runtime_t *rt) {
  static const char *const known[] = {"model", "tier", "temperature",
                                      "reasoning_effort", "max_tokens", NULL};
  const lgw__node_t *tasks = lgw__node_get(root, "tasks");
  size_t i;
  int rc;
  if (!tasks || tasks->type == LGW_NODE_NULL) return 0;
  if (tasks->type != LGW_NODE_MAP)
    return bad(c, tasks, "tasks", "expected a mapping, got a %s",
               lgw__node_type_name(tasks->type));
  rt->tasks = lgw__calloc(tasks->n ? tasks->n : 1, sizeof *rt->tasks);
  if (!rt->tasks) return lgw__error_set(c->err, LGW_ENOMEM, "out of memory");
  for (i = 0; i < tasks->n; i++) {
    const lgw__node_t *k = tasks->keys[i], *m = tasks->items[i];
    lgw__task_t *t = &rt->tasks[rt->ntasks];
    char path[300], pos[300], kb[40];
    /* as in Python: non-string names and non-mapping bodies are skipped */
    if (k->type != LGW_NODE_STRING || m->type != LGW_NODE_MAP) {
      if (m->type != LGW_NODE_NULL) {
        snprintf(path, sizeof path, "tasks.%.200s", py_str(k, kb));
        pos_of(c, k->type != LGW_NODE_STRING ? k : m, pos, sizeof pos);
        lgw__log(LGW_LOG_WARN, "%s: %s, ignored%s", path,
                 k->type != LGW_NODE_STRING ? "task name is not a string"
                                            : "not a mapping",
                 pos);
      }
      continue;
    }
    snprintf(path, sizeof path, "tasks.%.200s", k->str);
    if (memchr(k->str, '\0', k->len))
      return bad(c, k, "tasks", "a task name contains a NUL character "
                 "(U+0000)");
    rt->ntasks++;
    warn_unknown(c, m, path, known);
    if (!(t->name = lgw__strdup(k->str)))
      return lgw__error_set(c->err, LGW_ENOMEM, "out of memory");
    if ((rc = get_string(c, m, "model", path, 0, &t->model)) ||
        (rc = get_string(c, m, "tier", path, 1, &t->tier)) ||
        (rc = get_double(c, m, "temperature", path, 0.0, 0, 0,
                         &t->temperature)) ||
        (rc = get_string(c, m, "reasoning_effort", path, 1,
                         &t->reasoning_effort)) ||
        (rc = get_long(c, m, "max_tokens", path, LGW_DEFAULT_MAX_TOKENS, 1,
                       &t->max_tokens)))
      return rc;
  }
  return 0;
}

static void runtime_destroy(lgw_runtime_t *rt) {
  size_t i;
  for (i = 0; i < rt->nproviders; i++) provider_free(&rt->providers[i]);
  lgw_free(rt->providers);
  for (i = 0; i < rt->ntasks; i++) task_free(&rt->tasks[i]);
  lgw_free(rt->tasks);
  lgw_free(rt->fallback_model);
  lgw_free(rt->strong_model);
  lgw_free(rt->weak_model);
  lgw_free(rt->strong_reasoning_effort);
  lgw_free(rt->weak_reasoning_effort);
  prices_free(rt);
  lgw_free(rt->state);
  lgw_free(rt->state_prefix);
  lgw_free(rt->ca_file);
  lgw_free(rt);
}

int lgw__runtime_from_node(const lgw__node_t *root, const char *name,
                           lgw_runtime_t **out, lgw_error_t *err) {
  static const char *const known[] = {"version", "provider", "providers",
                                      "settings", "tasks", NULL};
  ctx_t c;
  lgw_runtime_t *rt;
  size_t i;
  int rc;
  *out = NULL;
  c.name = name;
  c.err = err;
  if (!root || root->type != LGW_NODE_MAP)
    return lgw__error_set(err, LGW_ECONFIG, "Invalid llmgateway config: %s",
                          name ? name : "the top level is not a mapping");
  rt = lgw__calloc(1, sizeof *rt);
  if (!rt) return lgw__error_set(err, LGW_ENOMEM, "out of memory");
  rt->refs = 1;
  warn_unknown(&c, root, "", known);
  if ((rc = parse_providers(&c, root, rt)) ||
      (rc = parse_settings(&c, root, rt)) || (rc = parse_tasks(&c, root, rt)))
    goto fail;
  for (i = 0; i < rt->nproviders; i++)
    if ((rc = lgw__provider_key(&rt->providers[i], rt->providers[i].key)))
      goto oom;
  if ((rc = lgw__config_key(rt->providers, rt->nproviders, rt->config_key)))
    goto oom;
  *out = rt;
  return 0;
oom:
  rc = lgw__error_set(err, LGW_ENOMEM, "out of memory");
fail:
  runtime_destroy(rt);
  return rc;
}

/* ---- dump -------------------------------------------------------------- */

static int put(lgw__node_t *map, const char *key, lgw__node_t *v) {
  lgw__node_t *k = lgw__node_new_string(key, strlen(key), 0, 0);
  if (!k || !v) {
    lgw__node_free(k);
    lgw__node_free(v);
    return LGW_ENOMEM;
  }
  return lgw__node_append(map, k, v);
}

static lgw__node_t *str_node(const char *s) {
  return lgw__node_new_string(s, strlen(s), 0, 0);
}

/* Integers stay exact (a long does not always fit a double); a float
 * node has no integer value (converting a huge double is undefined). */
static lgw__node_t *int_node(long long v) {
  lgw__node_t *n = lgw__node_new(LGW_NODE_INT, 0, 0);
  if (n) {
    n->i = v;
    n->d = (double)v;
  }
  return n;
}

static lgw__node_t *bool_node(int v) {
  lgw__node_t *n = lgw__node_new(LGW_NODE_BOOL, 0, 0);
  if (n) {
    n->b = v;
    n->i = v;
    n->d = v;
  }
  return n;
}

static lgw__node_t *float_node(double d) {
  lgw__node_t *n = lgw__node_new(LGW_NODE_FLOAT, 0, 0);
  if (n) n->d = d;
  return n;
}

static lgw__node_t *kv_node(const lgw__kvlist_t *l) {
  lgw__node_t *m = lgw__node_new(LGW_NODE_MAP, 0, 0);
  size_t i;
  for (i = 0; m && i < l->n; i++)
    if (put(m, l->items[i].key, str_node(l->items[i].value))) {
      lgw__node_free(m);
      return NULL;
    }
  return m;
}

/* Header names with "<redacted>" for every non-empty value. */
static lgw__node_t *redacted_kv_node(const lgw__kvlist_t *l) {
  lgw__node_t *m = lgw__node_new(LGW_NODE_MAP, 0, 0);
  size_t i;
  for (i = 0; m && i < l->n; i++)
    if (put(m, l->items[i].key,
            str_node(l->items[i].value[0] ? "<redacted>" : ""))) {
      lgw__node_free(m);
      return NULL;
    }
  return m;
}

static lgw__node_t *provider_node(const lgw__provider_t *p, int with_keys) {
  static const lgw__provider_t none;
  lgw__node_t *m = lgw__node_new(LGW_NODE_MAP, 0, 0);
  const char *key, *url;
  char *shown;
  if (!p) p = &none;
  key = p->api_key ? p->api_key : "";
  url = p->base_url ? p->base_url : "";
  if (!with_keys && key[0]) key = "<redacted>";
  shown = with_keys ? lgw__strdup(url) : lgw__url_redact(url);
  if (!m || !shown ||
      put(m, "provider_type", str_node(p->provider_type ? p->provider_type : "")) ||
      put(m, "api_style", str_node(p->api_style ? p->api_style : "")) ||
      put(m, "base_url", str_node(shown)) ||
      put(m, "api_key", str_node(key)) ||
      put(m, "headers", with_keys ? kv_node(&p->headers)
                                  : redacted_kv_node(&p->headers)) ||
      put(m, "model_map", kv_node(&p->model_map)) ||
      (p->rpm && put(m, "rpm", int_node(p->rpm))) ||
      (p->tpm && put(m, "tpm", int_node(p->tpm))) ||
      (p->allow_insecure_http &&
       put(m, "allow_insecure_http", bool_node(1))) ||
      (p->ca_file && p->ca_file[0] &&
       put(m, "ca_file", str_node(p->ca_file)))) {
    lgw_free(shown);
    lgw__node_free(m);
    return NULL;
  }
  lgw_free(shown);
  return m;
}

char *lgw__url_redact(const char *url) {
  const char *a, *end, *p, *at = NULL, *q;
  lgw__buf_t b;
  int rc = 0;
  if (!url) return lgw__strdup("");
  a = strstr(url, "://");
  a = a ? a + 3 : url;
  end = a + strcspn(a, "/?#");
  for (p = a; p < end; p++)
    if (*p == '@') at = p;
  lgw__buf_init(&b);
  if (at)
    rc = lgw__buf_add(&b, url, (size_t)(a - url)) ||
         lgw__buf_adds(&b, "<redacted>") ||
         lgw__buf_add(&b, at, (size_t)(end - at));
  else
    rc = lgw__buf_add(&b, url, (size_t)(end - url));
  p = end;
  q = p + strcspn(p, "?#");
  if (!rc) rc = lgw__buf_add(&b, p, (size_t)(q - p));
  if (!rc && *q == '?') {
    /* name=<redacted> per parameter; a bare parameter may be a key */
    p = q + 1;
    rc = lgw__buf_addc(&b, '?');
    while (!rc && *p && *p != '#') {
      size_t n = strcspn(p, "&;#");
      const char *eq = memchr(p, '=', n);
      if (eq) rc = lgw__buf_add(&b, p, (size_t)(eq + 1 - p)) ||
                   (eq + 1 < p + n && lgw__buf_adds(&b, "<redacted>"));
      else if (n) rc = lgw__buf_adds(&b, "<redacted>");
      p += n;
      if (!rc && (*p == '&' || *p == ';')) rc = lgw__buf_addc(&b, *p++);
    }
    q = p;
  }
  if (!rc && *q == '#') rc = lgw__buf_adds(&b, q[1] ? "#<redacted>" : "#");
  if (rc) {
    lgw__buf_free(&b);
    return NULL;
  }
  return b.data ? lgw__buf_steal(&b) : lgw__strdup("");
}

static lgw__node_t *prices_node(const lgw_runtime_t *rt) {
  lgw__node_t *m = lgw__node_new(LGW_NODE_MAP, 0, 0);
  size_t i;
  for (i = 0; m && i < rt->nprices; i++) {
    lgw__node_t *pm = lgw__node_new(LGW_NODE_MAP, 0, 0);
    if (!pm || put(pm, "input", float_node(rt->prices[i].input)) ||
        put(pm, "output", float_node(rt->prices[i].output))) {
      lgw__node_free(pm);
      lgw__node_free(m);
      return NULL;
    }
    if (put(m, rt->prices[i].model, pm)) {  /* put frees pm on failure */
      lgw__node_free(m);
      return NULL;
    }
  }
  return m;
}

/* settings.state as dumped: the password replaced by "<redacted>" unless
 * with_keys. Caller frees. */
static char *state_shown(const char *url, int with_keys) {
  const char *a = url + 8, *slash = strchr(a, '/'), *at = NULL, *c, *colon;
  const char *end = slash ? slash : a + strlen(a);
  for (c = a; c < end; c++)
    if (*c == '@') at = c;
  if (with_keys || !at) return lgw__strdup(url);
  colon = memchr(a, ':', (size_t)(at - a));
  if (!colon || colon + 1 == at) return lgw__strdup(url);
  return lgw__sprintf("%.*s<redacted>%s", (int)(colon + 1 - url), url, at);
}

static lgw__node_t *settings_node(const lgw_runtime_t *rt, int with_keys) {
  lgw__node_t *s = lgw__node_new(LGW_NODE_MAP, 0, 0);
  char *state = rt->state ? state_shown(rt->state, with_keys) : NULL;
  if (rt->state && !state) {
    lgw__node_free(s);
    return NULL;
  }
  if (!s || put(s, "fallback_model", str_node(rt->fallback_model)) ||
      put(s, "strong_model", str_node(rt->strong_model)) ||
      put(s, "weak_model", str_node(rt->weak_model)) ||
      put(s, "strong_reasoning_effort",
          str_node(rt->strong_reasoning_effort)) ||
      put(s, "weak_reasoning_effort", str_node(rt->weak_reasoning_effort)) ||
      put(s, "max_concurrent", int_node(rt->max_concurrent)) ||
      put(s, "retry_max", int_node(rt->retry_max)) ||
      put(s, "transport_retries", int_node(rt->transport_retries)) ||
      put(s, "timeout", float_node(rt->timeout)) ||
      put(s, "connect_timeout", float_node(rt->connect_timeout)) ||
      put(s, "deadline", float_node(rt->deadline)) ||
      put(s, "backoff_base", float_node(rt->backoff_base)) ||
      put(s, "backoff_max", float_node(rt->backoff_max)) ||
      put(s, "retry_after_max", float_node(rt->retry_after_max)) ||
      put(s, "max_response_bytes", int_node(rt->max_response_bytes)) ||
      (rt->max_connections_per_host &&
       put(s, "max_connections_per_host",
           int_node(rt->max_connections_per_host))) ||
      put(s, "first_token_timeout", float_node(rt->first_token_timeout)) ||
      put(s, "idle_timeout", float_node(rt->idle_timeout)) ||
      (rt->failover_on_refusal &&
       put(s, "failover_on_refusal", bool_node(1))) ||
      put(s, "breaker_failures", int_node(rt->breaker_failures)) ||
      put(s, "breaker_window", float_node(rt->breaker_window)) ||
      put(s, "breaker_cooldown", float_node(rt->breaker_cooldown)) ||
      (rt->nprices && put(s, "prices", prices_node(rt))) ||
      (rt->ca_file && rt->ca_file[0] &&
       put(s, "ca_file", str_node(rt->ca_file))) ||
      (state && (put(s, "state", str_node(state)) ||
                 put(s, "state_prefix", str_node(rt->state_prefix)) ||
                 put(s, "state_refresh", float_node(rt->state_refresh)))) ||
      (rt->worker_grace != LGW_DEFAULT_WORKER_GRACE &&
       put(s, "worker_grace", float_node(rt->worker_grace)))) {
    lgw_free(state);
    lgw__node_free(s);
    return NULL;
  }
  lgw_free(state);
  return s;
}

static lgw__node_t *tasks_node(const lgw_runtime_t *rt) {
  lgw__node_t *m = lgw__node_new(LGW_NODE_MAP, 0, 0);
  size_t i;
  for (i = 0; m && i < rt->ntasks; i++) {
    const lgw__task_t *t = &rt->tasks[i];
    lgw__node_t *tn = lgw__node_new(LGW_NODE_MAP, 0, 0);
    if (!tn || put(tn, "model", str_node(t->model)) ||
        put(tn, "tier", str_node(t->tier)) ||
        put(tn, "temperature", float_node(t->temperature)) ||
        put(tn, "reasoning_effort", str_node(t->reasoning_effort)) ||
        put(tn, "max_tokens", int_node(t->max_tokens))) {
      lgw__node_free(tn);
      lgw__node_free(m);
      return NULL;
    }
    if (put(m, t->name, tn)) {  /* put frees tn on failure */
      lgw__node_free(m);
      return NULL;
    }
  }
  return m;
}

lgw__node_t *lgw__runtime_dump(const lgw_runtime_t *rt, int with_keys) {
  lgw__node_t *root = lgw__node_new(LGW_NODE_MAP, 0, 0), *ver;
  int rc;
  if (!root) return NULL;
  ver = int_node(1);
  rc = put(root, "version", ver) || put(root, "settings", settings_node(rt, with_keys)) ||
       put(root, "tasks", tasks_node(rt));
  if (!rc && rt->nproviders > 1) {
    lgw__node_t *list = lgw__node_new(LGW_NODE_SEQ, 0, 0);
    size_t i;
    for (i = 0; list && i < rt->nproviders; i++) {
      lgw__node_t *p = provider_node(&rt->providers[i], with_keys);
      if (!p || lgw__node_append(list, NULL, p)) {
        lgw__node_free(list);
        list = NULL;
      }
    }
    rc = put(root, "providers", list);
  } else if (!rc) {
    rc = put(root, "provider",
             provider_node(rt->nproviders ? &rt->providers[0] : NULL,
                           with_keys));
  }
  if (rc) {
    lgw__node_free(root);
    return NULL;
  }
  return root;
}

/* ---- lookups ----------------------------------------------------------- */

const lgw__price_t *lgw__runtime_price(const lgw_runtime_t *rt,
                                       const char *model) {
  size_t i;
  for (i = 0; model && i < rt->nprices; i++)
    if (strcmp(rt->prices[i].model, model) == 0) return &rt->prices[i];
  return NULL;
}

const lgw__task_t *lgw__runtime_task(const lgw_runtime_t *rt,
                                     const char *name, lgw__task_t *tmp) {
  const char *s = name ? name : "", *e;
  size_t i, len;
  while (*s == ' ' || *s == '\t' || *s == '\n' || *s == '\r' || *s == '\f' ||
         *s == '\v')
    s++;
  e = s + strlen(s);
  while (e > s && (e[-1] == ' ' || e[-1] == '\t' || e[-1] == '\n' ||
                   e[-1] == '\r' || e[-1] == '\f' || e[-1] == '\v'))
    e--;
  len = (size_t)(e - s);
  for (i = 0; i < rt->ntasks; i++)
    if (strlen(rt->tasks[i].name) == len &&
        memcmp(rt->tasks[i].name, s, len) == 0)
      return &rt->tasks[i];
  /* unknown task: a fresh default task on the fallback model */
  memset(tmp, 0, sizeof *tmp);
  tmp->name = (char *)"";
  tmp->model = rt->fallback_model;
  tmp->tier = (char *)"";
  tmp->reasoning_effort = (char *)"";
  tmp->temperature = 0.0;
  tmp->max_tokens = LGW_DEFAULT_MAX_TOKENS;
  return tmp;
}

/* Stripped, lower-cased tier compared with a word. */
static int tier_is(const char *tier, const char *word) {
  char *t = lgw__strip(tier);
  int r = t && strcmp(lgw__lower(t), word) == 0;
  lgw_free(t);
  return r;
}

static const char *first_set(const char *a, const char *b, const char *c) {
  if (a[0]) return a;
  if (b[0]) return b;
  return c;
}

const char *lgw__runtime_model_for_tier(const lgw_runtime_t *rt,
                                        const char *tier) {
  if (tier_is(tier, "strong"))
    return first_set(rt->strong_model, rt->fallback_model, "");
  if (tier_is(tier, "weak"))
    return first_set(rt->weak_model, rt->strong_model, rt->fallback_model);
  return first_set(rt->fallback_model, rt->strong_model, rt->weak_model);
}

const char *lgw__runtime_effort_for_tier(const lgw_runtime_t *rt,
                                         const char *tier) {
  if (tier_is(tier, "strong")) return rt->strong_reasoning_effort;
  if (tier_is(tier, "weak")) return rt->weak_reasoning_effort;
  return "";
}

/* ---- file locations ---------------------------------------------------- */

/* Home directory of user (NULL: the current user); malloc'd by libc
 * rules via lgw__strdup, NULL when unknown. */
static char *home_of(const char *user) {
  struct passwd pw, *res = NULL;
  char buf[16384];
  if (user)
    getpwnam_r(user, &pw, buf, sizeof buf, &res);
  else
    getpwuid_r(getuid(), &pw, buf, sizeof buf, &res);
  return res && res->pw_dir ? lgw__strdup(res->pw_dir) : NULL;
}

/* Python os.path.expanduser; caller frees. */
static char *expand_user(const char *p, lgw__getenv_fn get, void *ud) {
  const char *slash, *rest;
  char *home, *out;
  size_t hl;
  if (p[0] != '~') return lgw__strdup(p);
  slash = strchr(p, '/');
  rest = slash ? slash : p + strlen(p);
  if (rest == p + 1) {
    const char *h = get("HOME", ud);
    home = h ? lgw__strdup(h) : home_of(NULL);
  } else {
    char *user = lgw__strndup(p + 1, (size_t)(rest - p - 1));
    home = user ? home_of(user) : NULL;
    lgw_free(user);
  }
  if (!home) return lgw__strdup(p);
  hl = strlen(home);
  while (hl > 0 && home[hl - 1] == '/') hl--;
  out = lgw__sprintf("%.*s%s", (int)hl, home, rest);
  lgw_free(home);
  if (out && !out[0]) {
    lgw_free(out);
    out = lgw__strdup("/");
  }
  return out;
}

/* Absolute path with the symlinks of its existing part resolved, "." and
 * ".." removed (Python Path.resolve(strict=False)). Caller frees. */
static char *resolve_path(const char *path, lgw__getenv_fn get, void *ud) {
  char *exp = expand_user(path, get, ud), *abs_path, *p, *save = NULL;
  lgw__buf_t res;
  if (!exp) return NULL;
  if (exp[0] == '/') {
    abs_path = exp;
  } else {
    char *cwd = getcwd(NULL, 0);
    abs_path = cwd ? lgw__sprintf("%s/%s", cwd, exp) : NULL;
    free(cwd);
    lgw_free(exp);
    if (!abs_path) return NULL;
  }
  lgw__buf_init(&res);
  for (p = strtok_r(abs_path, "/", &save); p; p = strtok_r(NULL, "/", &save)) {
    char *real;
    if (strcmp(p, ".") == 0) continue;
    if (strcmp(p, "..") == 0) {
      char *last = res.data ? strrchr(res.data, '/') : NULL;
      if (last) res.len = (size_t)(last - res.data), *last = '\0';
      continue;
    }
    if (lgw__buf_addc(&res, '/') || lgw__buf_adds(&res, p)) goto oom;
    real = realpath(res.data, NULL);
    if (real) {
      res.len = 0;
      if (lgw__buf_adds(&res, strcmp(real, "/") == 0 ? "" : real)) {
        free(real);
        goto oom;
      }
      free(real);
    }
  }
  lgw_free(abs_path);
  if (!res.len && lgw__buf_addc(&res, '/')) goto oom2;
  return lgw__buf_steal(&res);
oom:
  lgw_free(abs_path);
oom2:
  lgw__buf_free(&res);
  return NULL;
}

/* The variable's value stripped, or NULL when unset or blank. */
static char *env_nonblank(const char *name, lgw__getenv_fn get, void *ud,
                          int *oom) {
  const char *v = get(name, ud);
  char *s;
  *oom = 0;
  if (lgw__is_blank(v)) return NULL;
  s = lgw__strip(v);
  if (!s) *oom = 1;
  return s;
}

char *lgw__user_config_dir(lgw__getenv_fn get, void *ud) {
  int oom;
  char *v = env_nonblank("LLMGATEWAY_USER_CONFIG_DIR", get, ud, &oom), *r;
  if (oom) return NULL;
  r = resolve_path(v ? v : "~/.llmgateway", get, ud);
  lgw_free(v);
  return r;
}

static char *resolve_in_dir(const char *path, const char *var,
                            const char *file, lgw__getenv_fn get, void *ud) {
  int oom;
  char *v, *dir, *r;
  if (path) return resolve_path(path, get, ud);
  v = env_nonblank(var, get, ud, &oom);
  if (oom) return NULL;
  if (v) {
    r = resolve_path(v, get, ud);
    lgw_free(v);
    return r;
  }
  dir = lgw__user_config_dir(get, ud);
  if (!dir) return NULL;
  r = lgw__sprintf("%s/%s", strcmp(dir, "/") == 0 ? "" : dir, file);
  lgw_free(dir);
  return r;
}

char *lgw__resolve_user_config_file(const char *path, lgw__getenv_fn get,
                                    void *ud) {
  return resolve_in_dir(path, "LLMGATEWAY_CONFIG", "config.yaml", get, ud);
}

/* The file's own name is not resolved: a symlink there must reach the
 * state file code as a symlink, which refuses it, instead of having its
 * target written over. */
char *lgw__resolve_provider_state_file(const char *path,
                                       lgw__getenv_fn get, void *ud) {
  int oom = 0;
  char *v = path ? NULL : env_nonblank("LLMGATEWAY_PROVIDER_STATE", get, ud,
                                       &oom);
  const char *raw = path ? path : v, *base;
  char *dir, *r;
  if (oom) return NULL;
  if (!raw)
    return resolve_in_dir(NULL, "LLMGATEWAY_PROVIDER_STATE",
                          "provider-state.json", get, ud);
  base = strrchr(raw, '/');
  base = base ? base + 1 : raw;
  if (!*base || strcmp(base, ".") == 0 || strcmp(base, "..") == 0 ||
      (base == raw && raw[0] == '~')) {
    r = resolve_path(raw, get, ud);
  } else {
    dir = base == raw ? lgw__strdup(".")
                      : lgw__strndup(raw, (size_t)(base - raw));
    r = dir ? resolve_path(dir, get, ud) : NULL;
    lgw_free(dir);
    dir = r;
    r = dir ? lgw__sprintf("%s/%s", strcmp(dir, "/") == 0 ? "" : dir, base)
            : NULL;
    lgw_free(dir);
  }
  lgw_free(v);
  return r;
}

/* ---- public API -------------------------------------------------------- */

static int runtime_from_tree(lgw__node_t *root, const char *name,
                             lgw_runtime_t **out, lgw_error_t *err) {
  int rc = lgw__env_resolve_tree(root, lgw__getenv_default, NULL);
  if (rc) rc = lgw__error_set(err, rc, "out of memory");
  else rc = lgw__runtime_from_node(root, name, out, err);
  lgw__node_free(root);
  return rc;
}

int lgw_runtime_load_file(const char *path, lgw_runtime_t **out,
                          lgw_error_t *err) {
  lgw__node_t *root;
  int rc;
  if (!out) return lgw__error_set(err, LGW_EINVAL, "out is NULL");
  *out = NULL;
  if (!path) return lgw__error_set(err, LGW_EINVAL, "path is NULL");
  if ((rc = lgw__yaml_load_file(path, &root, err))) return rc;
  return runtime_from_tree(root, path, out, err);
}

int lgw_runtime_load_string(const char *yaml, size_t len, const char *name,
                            lgw_runtime_t **out, lgw_error_t *err) {
  lgw__node_t *root;
  int rc;
  if (!out) return lgw__error_set(err, LGW_EINVAL, "out is NULL");
  *out = NULL;
  if (!yaml && len) return lgw__error_set(err, LGW_EINVAL, "yaml is NULL");
  if (!name) name = "<string>";
  if ((rc = lgw__yaml_load_string(yaml, len, name, &root, err))) return rc;
  return runtime_from_tree(root, name, out, err);
}

lgw_runtime_t *lgw_runtime_ref(lgw_runtime_t *rt) {
  if (rt) __atomic_add_fetch(&rt->refs, 1, __ATOMIC_RELAXED);
  return rt;
}

void lgw_runtime_free(lgw_runtime_t *rt) {
  if (rt && __atomic_sub_fetch(&rt->refs, 1, __ATOMIC_ACQ_REL) == 0)
    runtime_destroy(rt);
}

size_t lgw_runtime_provider_count(const lgw_runtime_t *rt) {
  return rt ? rt->nproviders : 0;
}

const char *lgw_runtime_config_key(const lgw_runtime_t *rt) {
  return rt ? rt->config_key : "";
}
