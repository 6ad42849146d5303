/*
 * config_validate.c -- building the runtime from a node tree with the
 * Python llmgateway's runtime_spec_from_dict semantics, plus errors for
 * values that cannot be right (naming the key path and file:line:col) and
 * warnings for unknown keys; and freeing it. Depends on node (the tree),
 * provider (keys, api_style), url (base_url), redis_url (settings.state)
 * and cJSON (extra_body kept as JSON text).
 */
#include "config.h"

#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cjson_dl.h"  /* <cJSON.h>, the calls through a table */

#include "redis_url.h"
#include "url.h"

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

/* Warning "<path>: <why>, ignored (<name>:<line>:<col>)". */
static void ignored(const ctx_t *c, const lgw__node_t *n, const char *path,
                    const char *why) {
  char pos[300];
  pos_of(c, n, pos, sizeof pos);
  lgw__log(LGW_LOG_WARN, "%s: %s, ignored%s", path, why, pos);
}

/* Error "<path>: expected <want>, got a <type of n>". */
static int bad_type(const ctx_t *c, const lgw__node_t *n, const char *path,
                    const char *want) {
  return bad(c, n, path, "expected %s, got a %s", want,
             lgw__node_type_name(n->type));
}

static int oom(const ctx_t *c) {
  return lgw__error_set(c->err, LGW_ENOMEM, "out of memory");
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
    char buf[40], full[400];
    if (k->type == LGW_NODE_STRING) {
      for (w = known; *w && strcmp(*w, k->str) != 0; w++) {
      }
      if (*w) continue;
    }
    join_path(full, sizeof full, path, py_str(k, buf));
    ignored(c, k, full, "unknown key");
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
    return bad_type(c, n, full, "a string");
  }
  *out = lgw__strip(!n || py_falsy(n) ? "" : py_str(n, buf));
  if (!*out) return oom(c);
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

/* s past the spaces, tabs and line ends it starts with. */
static const char *skip_blanks(const char *s) {
  while (*s == ' ' || *s == '\t' || *s == '\n' || *s == '\r') s++;
  return s;
}

/* Python int() of a string: blanks around, sign, digits with single
 * underscores between them. */
static int parse_int_text(const char *s, long long *out) {
  unsigned long long v = 0;
  int neg = 0;
  s = skip_blanks(s);
  if (*s == '-' || *s == '+') neg = *s++ == '-';
  if (*s < '0' || *s > '9') return -1;
  for (; (*s >= '0' && *s <= '9') || (*s == '_' && s[1] >= '0' && s[1] <= '9');
       s++) {
    if (*s == '_') continue;
    if (v > (unsigned long long)LLONG_MAX / 10) return -1;
    v = v * 10 + (unsigned long long)(*s - '0');
    if (v > (unsigned long long)LLONG_MAX) return -1;
  }
  if (*skip_blanks(s)) return -1;
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
  return *skip_blanks(end) || !isfinite(*out) ? -1 : 0;
}

/* A missing, null or blank value means the default (blank covers an unset
 * ${VAR}). */
static int absent(const lgw__node_t *n) {
  return !n || n->type == LGW_NODE_NULL ||
         (n->type == LGW_NODE_STRING && lgw__is_blank(n->str));
}

/* A scalar setting as found, for reading and for its errors. */
typedef struct field {
  const lgw__node_t *n;
  char path[400];  /* its key path */
  char desc[80];   /* the value as written */
} field_t;

/* map[key] into f; 0 when it is absent (the default applies). */
static int field(const lgw__node_t *map, const char *key, const char *path,
                 field_t *f) {
  f->n = lgw__node_get(map, key);
  if (absent(f->n)) return 0;
  join_path(f->path, sizeof f->path, path, key);
  describe(f->n, f->desc, sizeof f->desc);
  return 1;
}

static int get_long(const ctx_t *c, const lgw__node_t *map, const char *key,
                    const char *path, long dflt, long min, long *out) {
  field_t f;
  long long v = 0;
  int ok;
  *out = dflt;
  if (!field(map, key, path, &f)) return 0;
  switch (f.n->type) {
    case LGW_NODE_INT: v = f.n->i; ok = 1; break;
    case LGW_NODE_FLOAT:
      ok = isfinite(f.n->d) && f.n->d == floor(f.n->d) && fabs(f.n->d) < 9e18;
      v = ok ? (long long)f.n->d : 0;
      break;
    case LGW_NODE_STRING: ok = parse_int_text(f.n->str, &v) == 0; break;
    default: ok = 0; break;
  }
  if (!ok || v > LONG_MAX)
    return bad(c, f.n, f.path, "expected an integer, got %s", f.desc);
  if (v < min)
    return bad(c, f.n, f.path, "must be at least %ld, got %s", min, f.desc);
  *out = (long)v;
  return 0;
}

/* Float settings: exclusive says the minimum itself is not allowed. */
static int get_double(const ctx_t *c, const lgw__node_t *map, const char *key,
                      const char *path, double dflt, double min,
                      int exclusive, double *out) {
  field_t f;
  char minbuf[32];
  double v = 0;
  int ok;
  *out = dflt;
  if (!field(map, key, path, &f)) return 0;
  switch (f.n->type) {
    case LGW_NODE_INT: v = (double)f.n->i; ok = 1; break;
    case LGW_NODE_FLOAT: v = f.n->d; ok = isfinite(v); break;
    case LGW_NODE_STRING: ok = parse_float_text(f.n->str, &v) == 0; break;
    default: ok = 0; break;
  }
  if (!ok) return bad(c, f.n, f.path, "expected a number, got %s", f.desc);
  snprintf(minbuf, sizeof minbuf, "%g", min);
  if (exclusive && v <= min)
    return bad(c, f.n, f.path, "must be greater than %s, got %s", minbuf,
               f.desc);
  if (v < min)
    return bad(c, f.n, f.path, "must be at least %s, got %s", minbuf,
               f.desc);
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
    return bad_type(c, n, full, "a mapping");
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
      return bad_type(c, v, sub, "a string");
    if (v->type == LGW_NODE_STRING &&
        (w = bad_text(v->str, v->len, (hdr ? TEXT_TAB : 0) | TEXT_REF, why,
                      sizeof why)))
      return bad(c, v, sub, "%s", w);
    if (lgw__kvlist_add(out, ks, py_str(v, vb)))
      return oom(c);
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

/* s[0..n) is one of the words of list (NULL-terminated), in any case. */
static int word_in(const char *const *list, const char *s, size_t n) {
  for (; *list; list++)
    if (strlen(*list) == n && lgw__strncasecmp(*list, s, n) == 0) return 1;
  return 0;
}

/* A boolean: true/false (YAML or Lua), 0/1, or the strings true, false,
 * yes, no, on, off, 1, 0 (any case, e.g. from ${VAR}). */
static int get_boolean(const ctx_t *c, const lgw__node_t *map,
                       const char *key, const char *path, int dflt,
                       int *out) {
  static const char *const yes[] = {"true", "yes", "on", "1", NULL};
  static const char *const no[] = {"false", "no", "off", "0", NULL};
  field_t f;
  *out = dflt;
  if (!field(map, key, path, &f)) return 0;
  if (f.n->type == LGW_NODE_BOOL) {
    *out = f.n->b;
    return 0;
  }
  if (f.n->type == LGW_NODE_INT && (f.n->i == 0 || f.n->i == 1)) {
    *out = (int)f.n->i;
    return 0;
  }
  if (f.n->type == LGW_NODE_STRING) {
    size_t len;
    const char *s = lgw__trim(f.n->str, &len);
    if (word_in(yes, s, len) || word_in(no, s, len)) {
      *out = word_in(yes, s, len);
      return 0;
    }
  }
  return bad(c, f.n, f.path, "expected true or false, got %s", f.desc);
}

/* base_url: blank (an error at request time), else http:// or https:// with
 * a host; plain http:// only to a loopback host unless allowed. */
static int check_base_url(const ctx_t *c, const lgw__node_t *m,
                          const char *path, const lgw__provider_t *p) {
  const lgw__node_t *n = lgw__node_get(m, "base_url");
  const char *u = p->base_url, *hs, *he;
  char full[400], *shown;
  int rc, https;
  if (!u[0]) return 0;
  join_path(full, sizeof full, path, "base_url");
  https = lgw__strncasecmp(u, "https://", 8) == 0;
  if (!https && lgw__strncasecmp(u, "http://", 7) != 0) {
    if (!(shown = lgw__url_redact(u)))
      return oom(c);
    rc = bad(c, n, full, "an explicit http:// or https:// scheme is "
             "required, got \"%.200s\"", shown);
    lgw_free(shown);
    return rc;
  }
  lgw__url_host(u, &hs, &he);
  if (hs == he) return bad(c, n, full, "the URL has no host");
  if (https || p->allow_insecure_http ||
      lgw__host_is_loopback(hs, (size_t)(he - hs)))
    return 0;
  return bad(c, n, full, "plain http:// to \"%.*s\", which is not a "
             "loopback host, would send the key and the prompts in clear; "
             "use https://, or set %s.allow_insecure_http: true",
             (int)(he - hs > 200 ? 200 : he - hs), hs, path);
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
    return bad_type(c, n, full, "a mapping");
  if (lgw__cjson_load())  /* the one use of cJSON in a configuration */
    return lgw__error_set(c->err, LGW_EIO, "%s", lgw__cjson_error());
  o = node_json(n);
  *out = o ? cJSON_PrintUnformatted(o) : NULL;
  cJSON_Delete(o);
  return *out ? 0 : oom(c);
}

static void provider_free(lgw__provider_t *p) {
  if (p->extra_body) cJSON_free(p->extra_body);  /* made by cJSON */
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
  if (!ps) return oom(c);
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
    return bad_type(c, list, "providers", "a list or mapping");
  for (i = 0; list && i < list->n; i++) {
    const lgw__node_t *e = list->items[i];
    char path[300], kb[40];
    if (list->type == LGW_NODE_SEQ)
      snprintf(path, sizeof path, "providers[%zu]", i + 1);
    else
      snprintf(path, sizeof path, "providers.%.200s",
               py_str(list->keys[i], kb));
    if (e->type != LGW_NODE_MAP) {
      ignored(c, e, path, "not a mapping");
      continue;
    }
    if ((rc = add_provider(c, rt, e, path))) return rc;
  }
  if (rt->nproviders) return 0;
  legacy = lgw__node_get(root, "provider");
  if (!legacy || legacy->type == LGW_NODE_NULL) return 0;
  if (legacy->type != LGW_NODE_MAP)
    return bad_type(c, legacy, "provider", "a mapping");
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
    return bad_type(c, n, "settings.prices", "a mapping");
  rt->prices = lgw__calloc(n->n ? n->n : 1, sizeof *rt->prices);
  if (!rt->prices) return oom(c);
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
      return oom(c);
    rt->nprices++;
    if ((rc = get_double(c, m, "input", path, 0, 0, 0, &pr->input)) ||
        (rc = get_double(c, m, "output", path, 0, 0, 0, &pr->output)))
      return rc;
  }
  return 0;
}

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
      return oom(c);
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
    return bad_type(c, s, p, "a mapping");
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
    return bad_type(c, tasks, "tasks", "a mapping");
  rt->tasks = lgw__calloc(tasks->n ? tasks->n : 1, sizeof *rt->tasks);
  if (!rt->tasks) return oom(c);
  for (i = 0; i < tasks->n; i++) {
    const lgw__node_t *k = tasks->keys[i], *m = tasks->items[i];
    lgw__task_t *t = &rt->tasks[rt->ntasks];
    char path[300], kb[40];
    /* as in Python: non-string names and non-mapping bodies are skipped */
    if (k->type != LGW_NODE_STRING || m->type != LGW_NODE_MAP) {
      if (m->type != LGW_NODE_NULL) {
        snprintf(path, sizeof path, "tasks.%.200s", py_str(k, kb));
        if (k->type != LGW_NODE_STRING)
          ignored(c, k, path, "task name is not a string");
        else
          ignored(c, m, path, "not a mapping");
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
      return oom(c);
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

void lgw__runtime_destroy(lgw_runtime_t *rt) {
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
  lgw__runtime_destroy(rt);
  return rc;
}
