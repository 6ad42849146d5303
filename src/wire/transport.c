/*
 * transport.c -- what the wire formats share: choosing a transport, URL
 * cleaning, the Bearer header set, the JSON string writer used to build
 * request bodies (no cJSON tree on this hot path), decoding a 2xx body
 * (JSON, else SSE) and a one-line message from an error body.
 */
#include "transport.h"

#include <cJSON.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "json_extract.h"
#include "sse.h"

const lgw__transport_t *lgw__transport_for(lgw__style_t style) {
  switch (style) {
    case LGW__STYLE_CHAT: return &lgw__transport_chat;
    case LGW__STYLE_ANTHROPIC: return &lgw__transport_anthropic;
    case LGW__STYLE_LITELLM: return &lgw__transport_litellm;
    /* A blank api_style is resolved by routing; Responses is the
     * fallback wire format, as in the Python library. */
    case LGW__STYLE_RESPONSES:
    case LGW__STYLE_NONE:
    default: return &lgw__transport_responses;
  }
}

void lgw__reply_free(lgw__reply_t *r) {
  if (!r) return;
  lgw_free(r->text);
  r->text = NULL;
  r->text_len = 0;
  lgw_free(r->refusal);
  r->refusal = NULL;
  r->refusal_len = 0;
  lgw__tcalls_free(&r->calls);
}

void lgw__reply_no_usage(lgw__reply_t *r) {
  r->input_tokens = r->output_tokens = -1;
  r->cached_tokens = r->reasoning_tokens = -1;
}

void lgw__reply_begin(lgw__reply_t *r) {
  lgw__reply_no_usage(r);
  lgw_free(r->refusal);
  r->refusal = NULL;
  r->refusal_len = 0;
  r->finish_reason = NULL;
  lgw__tcalls_free(&r->calls);
}

int lgw__blank_n(const char *s, size_t n) {
  size_t i;
  for (i = 0; s && i < n; i++)
    if (!(s[i] == ' ' || (s[i] >= '\t' && s[i] <= '\r'))) return 0;
  return 1;
}

int lgw__reply_blank(const lgw__reply_t *r) {
  return !r->text || lgw__blank_n(r->text, r->text_len);
}

const char *lgw__finish_reason(const char *raw) {
  static const struct { const char *raw, *norm; } map[] = {
    {"stop", "stop"},              {"end_turn", "stop"},
    {"stop_sequence", "stop"},     {"length", "length"},
    {"max_tokens", "length"},      {"max_output_tokens", "length"},
    {"model_context_window_exceeded", "length"},
    {"tool_calls", "tool_calls"},  {"function_call", "tool_calls"},
    {"tool_use", "tool_calls"},    {"content_filter", "content_filter"},
    {"refusal", "content_filter"}};
  size_t i;
  for (i = 0; raw && i < sizeof map / sizeof map[0]; i++)
    if (strcmp(raw, map[i].raw) == 0) return map[i].norm;
  return NULL;
}

/* *dst = a copy of s (n bytes; NULL: empty), its length in *dlen. */
static int set_copy(char **dst, size_t *dlen, const char *s, size_t n) {
  char *t = lgw__strndup(s ? s : "", s ? n : 0);
  if (!t) return LGW_ENOMEM;
  lgw_free(*dst);
  *dst = t;
  *dlen = s ? n : 0;
  return 0;
}

int lgw__reply_set_refusal(lgw__reply_t *r, const char *s, size_t n) {
  return set_copy(&r->refusal, &r->refusal_len, s, n);
}

/* ---- streams ------------------------------------------------------------ */

void lgw__stream_init(lgw__stream_t *s) {
  memset(s, 0, sizeof *s);
  lgw__reply_no_usage(&s->reply);
  lgw__buf_init(&s->text);
  lgw__buf_init(&s->delta);
  lgw__buf_init(&s->refusal);
  s->part = -1;
}

void lgw__stream_free(lgw__stream_t *s) {
  lgw__reply_free(&s->reply);
  lgw__buf_free(&s->text);
  lgw__buf_free(&s->delta);
  lgw__buf_free(&s->refusal);
  lgw__tcalls_free(&s->calls);
}

int lgw__stream_text(lgw__stream_t *s, long part, const char *t, size_t n) {
  if (!t || !n) return 0;
  if (s->part != part && s->text.len &&
      (lgw__buf_addc(&s->text, '\n') || lgw__buf_addc(&s->delta, '\n')))
    return LGW_ENOMEM;
  s->part = part;
  return lgw__buf_add(&s->text, t, n) || lgw__buf_add(&s->delta, t, n)
             ? LGW_ENOMEM : 0;
}

int lgw__stream_json_text(lgw__stream_t *s, long part, const char *t,
                          int nul) {
  lgw__buf_t b;
  int rc;
  if (!nul) return lgw__stream_text(s, part, t, t ? strlen(t) : 0);
  lgw__buf_init(&b);
  rc = lgw__json_text(&b, t, 1);
  rc = rc ? rc : lgw__stream_text(s, part, b.data, b.len);
  lgw__buf_free(&b);
  return rc;
}

static void one_line(const char *s, size_t n, size_t max, char *out,
                     size_t cap);

int lgw__stream_malformed(const char *data, size_t len, lgw_error_t *err) {
  char shown[64];
  size_t a, e;
  lgw__strip_range(data, len, &a, &e);
  one_line(data + a, e - a, 48, shown, sizeof shown);
  return lgw__error_set(err, LGW_ERESPONSE,
                        "malformed event (not JSON): %s%s", shown,
                        e - a > strlen(shown) ? "..." : "");
}

int lgw__stream_event_end(cJSON *o, int rc, lgw_error_t *err) {
  cJSON_Delete(o);
  if (rc == LGW_ENOMEM)
    return lgw__error_set(err, LGW_ENOMEM, "out of memory reading stream");
  return rc;
}

const cJSON *lgw__choice0(const cJSON *choices) {
  const cJSON *c;
  cJSON_ArrayForEach(c, (cJSON_IsArray(choices) ? choices : NULL)) {
    const cJSON *i = cJSON_GetObjectItemCaseSensitive(c, "index");
    if (cJSON_IsObject(c) && (!i || cJSON_IsNull(i) ||
                              (cJSON_IsNumber(i) && i->valuedouble == 0)))
      return c;
  }
  return NULL;
}

int lgw__stream_error_event(const lgw__stream_t *s, const cJSON *o,
                            lgw_error_t *err) {
  const cJSON *e = cJSON_GetObjectItemCaseSensitive(o, "error");
  int rc;
  if (cJSON_IsObject(e)) return lgw__error_object(e, err);
  if (cJSON_IsString(e)) {
    rc = lgw__error_set(err, LGW_EHTTP, "error: %s", e->valuestring);
    if (err) err->http_status = 500;
    return rc;
  }
  if (s->event && strcmp(s->event, "error") == 0 && cJSON_IsObject(o))
    return lgw__error_object(o, err);
  return 0;
}

int lgw__stream_take(lgw__stream_t *s, lgw__reply_t *out) {
  int rc = lgw__reply_set_text(out, s->text.data, s->text.len);
  out->input_tokens = s->reply.input_tokens;
  out->output_tokens = s->reply.output_tokens;
  out->cached_tokens = s->reply.cached_tokens;
  out->reasoning_tokens = s->reply.reasoning_tokens;
  out->finish_reason = s->finish_reason;
  lgw_free(out->refusal);
  out->refusal = NULL;
  out->refusal_len = 0;
  if (!rc && s->refused)
    rc = lgw__reply_set_refusal(out, s->refusal.data, s->refusal.len);
  lgw__tcalls_free(&out->calls);
  out->calls = s->calls;
  memset(&s->calls, 0, sizeof s->calls);
  return rc;
}

int lgw__error_type_status(const char *type) {
  static const struct { const char *type; int status; } map[] = {
    {"invalid_request_error", 400}, {"authentication_error", 401},
    {"invalid_api_key", 401},       {"billing_error", 402},
    {"permission_error", 403},      {"not_found_error", 404},
    {"request_too_large", 413},     {"rate_limit_error", 429},
    {"rate_limit_exceeded", 429},   {"api_error", 500},
    {"server_error", 500},          {"timeout_error", 504},
    {"overloaded_error", 529}};
  size_t i;
  for (i = 0; type && i < sizeof map / sizeof map[0]; i++)
    if (strcmp(type, map[i].type) == 0) return map[i].status;
  return 500;
}

int lgw__error_object(const cJSON *e, lgw_error_t *err) {
  const cJSON *t = cJSON_GetObjectItemCaseSensitive(e, "type");
  const cJSON *c = cJSON_GetObjectItemCaseSensitive(e, "code");
  const cJSON *m = cJSON_GetObjectItemCaseSensitive(e, "message");
  /* a Responses error event is itself {"type":"error","code":...} */
  const char *type =
      cJSON_IsString(t) && *t->valuestring &&
              strcmp(t->valuestring, "error") != 0
          ? t->valuestring
          : cJSON_IsString(c) && *c->valuestring ? c->valuestring : "error";
  int status = lgw__error_type_status(type), rc;
  /* OpenAI puts the precise reason in "code" (rate_limit_exceeded) */
  if (status == 500 && cJSON_IsString(c))
    status = lgw__error_type_status(c->valuestring);
  rc = lgw__error_set(err, LGW_EHTTP, "%s: %s", type,
                      cJSON_IsString(m) ? m->valuestring : "");
  if (err) err->http_status = status;
  return rc;
}

int lgw__openai_reply_end(cJSON *root, lgw__buf_t *text, int rc,
                          lgw__reply_t *out, lgw_error_t *err) {
  const cJSON *e = cJSON_GetObjectItemCaseSensitive(root, "error");
  lgw_error_t inner;
  if (!rc && lgw__blank_n(text->data, text->len) && !out->refusal &&
      cJSON_IsObject(e)) {
    memset(&inner, 0, sizeof inner);
    lgw__error_object(e, &inner);
    rc = lgw__error_set(err, LGW_EHTTP, "error object in a 2xx answer: %s",
                        inner.message);
    if (err) err->http_status = inner.http_status;
  }
  rc = rc ? rc : lgw__reply_set_text(out, text->data, text->len);
  lgw__buf_free(text);
  cJSON_Delete(root);
  if (rc == LGW_EHTTP) return rc;
  return rc ? lgw__error_set(err, LGW_ENOMEM, "out of memory reading body")
            : 0;
}

int lgw__body_temperature(lgw__buf_t *b, double t) {
  int rc = lgw__json_add_key(b, "temperature");
  return rc ? rc : lgw__json_add_num(b, t);
}

int lgw__body_finish(lgw__buf_t *b, int rc, char **out, size_t *len,
                     lgw_error_t *err) {
  rc = rc ? rc : lgw__buf_addc(b, '}');
  if (rc == LGW__EREPORTED) {
    lgw__buf_free(b);
    return LGW_EINVAL;
  }
  if (rc) {
    lgw__buf_free(b);
    return rc == LGW_EINVAL
               ? lgw__error_set(err, LGW_EINVAL,
                                "temperature is not a finite number")
               : lgw__error_set(err, LGW_ENOMEM,
                                "out of memory building body");
  }
  *len = b->len;
  *out = lgw__buf_steal(b);
  return 0;
}

void lgw__openai_usage(const cJSON *usage, const char *in_key,
                       const char *out_key, lgw__reply_t *out) {
  char details[64];
  out->input_tokens = lgw__json_count(usage, in_key);
  out->output_tokens = lgw__json_count(usage, out_key);
  snprintf(details, sizeof details, "%s_details", in_key);
  out->cached_tokens = lgw__json_count(
      cJSON_GetObjectItemCaseSensitive(usage, details), "cached_tokens");
  snprintf(details, sizeof details, "%s_details", out_key);
  out->reasoning_tokens = lgw__json_count(
      cJSON_GetObjectItemCaseSensitive(usage, details), "reasoning_tokens");
}

int lgw__reply_set_text(lgw__reply_t *out, const char *s, size_t n) {
  return set_copy(&out->text, &out->text_len, s, n);
}

/* ---- strings, roles, URLs ---------------------------------------------- */

static int is_ws(int c) {
  return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\v' ||
         c == '\f';
}

void lgw__strip_range(const char *s, size_t n, size_t *start, size_t *end) {
  size_t a = 0, e = n;
  while (a < e && is_ws((unsigned char)s[a])) a++;
  while (e > a && is_ws((unsigned char)s[e - 1])) e--;
  *start = a;
  *end = e;
}

lgw__role_t lgw__role_kind(const char *role) {
  static const struct { const char *name; lgw__role_t kind; } known[] = {
    {"user", LGW__ROLE_USER}, {"assistant", LGW__ROLE_ASSISTANT},
    {"system", LGW__ROLE_SYSTEM}, {"developer", LGW__ROLE_DEVELOPER}};
  size_t a, e, i;
  if (!role) return LGW__ROLE_USER;
  lgw__strip_range(role, strlen(role), &a, &e);
  if (a == e) return LGW__ROLE_USER;
  for (i = 0; i < sizeof known / sizeof known[0]; i++)
    if (strlen(known[i].name) == e - a &&
        lgw__strncasecmp(role + a, known[i].name, e - a) == 0)
      return known[i].kind;
  return LGW__ROLE_OTHER;
}

char *lgw__clean_base(const char *base_url) {
  size_t a, e;
  if (!base_url) return lgw__strdup("");
  lgw__strip_range(base_url, strlen(base_url), &a, &e);
  while (e > a && base_url[e - 1] == '/') e--;
  return lgw__strndup(base_url + a, e - a);
}

static int ends_with(const char *s, size_t n, const char *suffix) {
  size_t k = strlen(suffix);
  return n >= k && memcmp(s + n - k, suffix, k) == 0;
}

char *lgw__endpoint_url(const char *base_url, const char *as_is,
                        const char *path) {
  char *base = lgw__clean_base(base_url), *url, *q, *query;
  size_t n;
  if (!base) return NULL;
  /* a query (?api-version=...) stays after the path */
  q = base + strcspn(base, "?#");
  query = lgw__strdup(q);
  if (!query) {
    lgw_free(base);
    return NULL;
  }
  *q = '\0';
  n = strlen(base);
  while (n > 0 && base[n - 1] == '/') base[--n] = '\0';
  if (n == 0 && !query[0]) {
    lgw_free(query);
    return base;
  }
  if (ends_with(base, n, as_is))
    url = lgw__sprintf("%s%s", base, query);
  else
    url = lgw__sprintf("%s%s%s%s", base,
                       ends_with(base, n, "/v1") ? "" : "/v1", path, query);
  lgw_free(query);
  lgw_free(base);
  return url;
}

int lgw__provider_headers(const lgw__provider_t *p, lgw__kvlist_t *out) {
  size_t i;
  int rc = 0;
  for (i = 0; !rc && i < p->headers.n; i++)
    if (!lgw__is_blank(p->headers.items[i].key))
      rc = lgw__kvlist_add(out, p->headers.items[i].key,
                           p->headers.items[i].value);
  return rc;
}

int lgw__openai_headers(const lgw__provider_t *p, lgw__kvlist_t *out) {
  int rc = lgw__kvlist_add(out, "content-type", "application/json");
  if (!rc && !lgw__is_blank(p->api_key)) {
    char *key = lgw__strip(p->api_key);
    char *bearer = key ? lgw__sprintf("Bearer %s", key) : NULL;
    rc = bearer ? lgw__kvlist_add(out, "authorization", bearer) : LGW_ENOMEM;
    lgw_free(bearer);
    lgw_free(key);
  }
  return rc ? rc : lgw__provider_headers(p, out);
}

/* ---- writing JSON ------------------------------------------------------- */

/* Length of the UTF-8 sequence at p if it is well-formed (*ok = 1), else
 * the length of its maximal invalid subpart (at least 1, *ok = 0). */
static size_t utf8_seq(const unsigned char *p, size_t avail, int *ok) {
  unsigned c = p[0], lo = 0x80, hi = 0xBF;
  size_t need, i;
  if (c >= 0xC2 && c <= 0xDF) {
    need = 1;
  } else if (c >= 0xE0 && c <= 0xEF) {
    need = 2;
    if (c == 0xE0) lo = 0xA0;
    if (c == 0xED) hi = 0x9F;  /* no UTF-16 surrogates */
  } else if (c >= 0xF0 && c <= 0xF4) {
    need = 3;
    if (c == 0xF0) lo = 0x90;
    if (c == 0xF4) hi = 0x8F;  /* nothing above U+10FFFF */
  } else {
    *ok = 0;
    return 1;
  }
  for (i = 1; i <= need; i++) {
    unsigned d;
    if (i >= avail) break;
    d = p[i];
    if (i == 1 ? (d < lo || d > hi) : (d < 0x80 || d > 0xBF)) break;
  }
  *ok = i > need;
  return *ok ? need + 1 : i;
}

int lgw__json_add_str(lgw__buf_t *b, const char *s, size_t n) {
  static const char hex[] = "0123456789abcdef";
  const unsigned char *p = (const unsigned char *)s, *end = p + n;
  if (lgw__buf_reserve(b, n + 2) || lgw__buf_addc(b, '"')) return LGW_ENOMEM;
  while (p < end) {
    const unsigned char *run = p;
    unsigned c;
    char esc[6];
    size_t k;
    int ok;
    while (p < end && *p >= 0x20 && *p < 0x80 && *p != '"' && *p != '\\')
      p++;
    if (p > run && lgw__buf_add(b, run, (size_t)(p - run))) return LGW_ENOMEM;
    if (p == end) break;
    c = *p;
    if (c >= 0x80) {
      k = utf8_seq(p, (size_t)(end - p), &ok);
      if (ok ? lgw__buf_add(b, p, k) : lgw__buf_adds(b, "\xEF\xBF\xBD"))
        return LGW_ENOMEM;
      p += k;
      continue;
    }
    esc[0] = '\\';
    k = 2;
    switch (c) {
      case '"': esc[1] = '"'; break;
      case '\\': esc[1] = '\\'; break;
      case '\n': esc[1] = 'n'; break;
      case '\r': esc[1] = 'r'; break;
      case '\t': esc[1] = 't'; break;
      case '\b': esc[1] = 'b'; break;
      case '\f': esc[1] = 'f'; break;
      default:
        memcpy(esc + 1, "u00", 3);
        esc[4] = hex[c >> 4];
        esc[5] = hex[c & 15];
        k = 6;
    }
    if (lgw__buf_add(b, esc, k)) return LGW_ENOMEM;
    p++;
  }
  return lgw__buf_addc(b, '"');
}

int lgw__json_add_num(lgw__buf_t *b, double v) {
  char tmp[40];
  int prec;
  if (!isfinite(v)) return LGW_EINVAL;
  /* Shortest form that reads back exactly, as Python's repr: 15
   * significant digits always read back to a number that has a form of
   * 15 or fewer (trailing zeros are dropped), then 16, then 17. */
  for (prec = 15; prec < 17; prec++) {
    snprintf(tmp, sizeof tmp, "%.*g", prec, v);
    if (strtod(tmp, NULL) == v) break;
  }
  if (prec == 17) snprintf(tmp, sizeof tmp, "%.17g", v);
  if (!strpbrk(tmp, ".e")) strcat(tmp, ".0");
  return lgw__buf_adds(b, tmp);
}

int lgw__json_add_key(lgw__buf_t *b, const char *key) {
  size_t n = strlen(key);
  char *d;
  if (lgw__buf_reserve(b, n + 4)) return LGW_ENOMEM;
  d = b->data + b->len;
  d[0] = ',';
  d[1] = '"';
  memcpy(d + 2, key, n);
  d[n + 2] = '"';
  d[n + 3] = ':';
  d[n + 4] = '\0';
  b->len += n + 4;
  return 0;
}

int lgw__json_add_long(lgw__buf_t *b, long v) {
  char tmp[24], *q = tmp + sizeof tmp;
  unsigned long u = v < 0 ? 0UL - (unsigned long)v : (unsigned long)v;
  do {
    *--q = (char)('0' + u % 10);
    u /= 10;
  } while (u);
  if (v < 0) *--q = '-';
  return lgw__buf_add(b, q, (size_t)(tmp + sizeof tmp - q));
}

/* ---- reading JSON ------------------------------------------------------- */

long lgw__json_count(const cJSON *obj, const char *key) {
  const cJSON *v = cJSON_IsObject(obj)
                       ? cJSON_GetObjectItemCaseSensitive(obj, key) : NULL;
  if (!cJSON_IsNumber(v) || !(v->valuedouble >= 0) ||
      v->valuedouble > 9.2e18)
    return -1;
  return (long)v->valuedouble;
}

int lgw__json_text_parts(const cJSON *list, lgw__buf_t *b, int nul) {
  const cJSON *it;
  int parts = 0;
  cJSON_ArrayForEach(it, list) {
    const char *t = NULL;
    if (cJSON_IsString(it)) {
      t = it->valuestring;
    } else if (cJSON_IsObject(it)) {
      const cJSON *tx = cJSON_GetObjectItemCaseSensitive(it, "text");
      if (cJSON_IsString(tx)) t = tx->valuestring;
    }
    if (!t || !*t) continue;
    if ((parts && lgw__buf_addc(b, '\n')) || lgw__json_text(b, t, nul))
      return LGW_ENOMEM;
    parts++;
  }
  return parts;
}

/* At s[i], a backslash: the escape is \u0000. */
static int is_nul_escape(const char *s, size_t n, size_t i) {
  return i + 6 <= n && memcmp(s + i, "\\u0000", 6) == 0;
}

char *lgw__json_nul_encode(const char *s, size_t n, size_t *out_len,
                           int *oom) {
  lgw__buf_t b;
  size_t i, extra = 0;
  int found = 0;
  *oom = 0;
  for (i = 0; i < n; i++) {
    if ((unsigned char)s[i] == 0xC0) extra++;
    if (s[i] != '\\') continue;
    if (is_nul_escape(s, n, i)) found = 1;
    i++;  /* the escaped character */
  }
  if (!found) return NULL;
  lgw__buf_init(&b);
  if (lgw__buf_reserve(&b, n + extra)) {
    *oom = 1;
    return NULL;
  }
  for (i = 0; i < n; i++) {
    unsigned char c = (unsigned char)s[i];
    if (c == 0xC0) {
      b.data[b.len++] = (char)0xC0;
      b.data[b.len++] = (char)0x81;
    } else if (c == '\\' && is_nul_escape(s, n, i)) {
      b.data[b.len++] = (char)0xC0;
      b.data[b.len++] = (char)0x80;
      i += 5;
    } else {
      b.data[b.len++] = (char)c;
      if (c == '\\' && i + 1 < n) b.data[b.len++] = s[++i];
    }
  }
  b.data[b.len] = '\0';
  *out_len = b.len;
  return lgw__buf_steal(&b);
}

cJSON *lgw__json_parse(const char *s, size_t n, int *nul) {
  size_t m;
  int oom;
  char *enc = lgw__json_nul_encode(s, n, &m, &oom);
  cJSON *j;
  *nul = enc != NULL;
  if (!enc) return oom ? NULL : cJSON_ParseWithLength(s, n);
  j = cJSON_ParseWithLength(enc, m);
  lgw_free(enc);
  return j;
}

int lgw__json_text(lgw__buf_t *b, const char *s, int nul) {
  const char *run;
  if (!s) return 0;
  if (!nul) return lgw__buf_adds(b, s);
  for (run = s; *s; s++) {
    if ((unsigned char)*s != 0xC0 || (unsigned char)s[1] < 0x80 ||
        (unsigned char)s[1] > 0x81)
      continue;
    if (lgw__buf_add(b, run, (size_t)(s - run)) ||
        lgw__buf_addc(b, s[1] == (char)0x80 ? '\0' : (char)0xC0))
      return LGW_ENOMEM;
    run = ++s + 1;
  }
  return lgw__buf_add(b, run, (size_t)(s - run));
}

/* ---- reading JSON in place ---------------------------------------------- */

#define JV_DEPTH 256       /* deeper documents take the cJSON path */
#define JV_NUM_MAX 63      /* cJSON reads at most 63 characters of a number */

static int jv_ws(int c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r'; }

/* Bytes that stand for themselves inside a string: not '"', '\\' nor a
 * control character. */
static unsigned char jv_plain[256];

static void jv_init(void) {
  int c;
  if (jv_plain['a']) return;
  for (c = 0x20; c < 256; c++) jv_plain[c] = c != '"' && c != '\\';
}

static int jv_hex4(const char *p, const char *e, unsigned *out) {
  unsigned v = 0;
  int i;
  if (e - p < 4) return 0;
  for (i = 0; i < 4; i++) {
    int c = (unsigned char)p[i];
    v <<= 4;
    if (c >= '0' && c <= '9') v |= (unsigned)(c - '0');
    else if (c >= 'a' && c <= 'f') v |= (unsigned)(c - 'a' + 10);
    else if (c >= 'A' && c <= 'F') v |= (unsigned)(c - 'A' + 10);
    else return 0;
  }
  *out = v;
  return 1;
}

/* A \u escape at p (after the backslash and 'u'): the code point and the
 * end, or NULL where cJSON would fail (a lone or reversed surrogate). */
static const char *jv_uescape(const char *p, const char *e, unsigned *cp) {
  unsigned u, lo;
  if (!jv_hex4(p, e, &u)) return NULL;
  p += 4;
  if (u >= 0xDC00 && u <= 0xDFFF) return NULL;
  if (u >= 0xD800 && u <= 0xDBFF) {
    if (e - p < 6 || p[0] != '\\' || p[1] != 'u' || !jv_hex4(p + 2, e, &lo) ||
        lo < 0xDC00 || lo > 0xDFFF)
      return NULL;
    u = 0x10000 + (((u & 0x3FF) << 10) | (lo & 0x3FF));
    p += 6;
  }
  *cp = u;
  return p;
}

/* A string at p (the opening quote): just past its closing quote, or NULL
 * when it is not strict JSON. */
static const char *jv_string(const char *p, const char *e) {
  unsigned cp;
  p++;
  for (;;) {
    while (p < e && jv_plain[(unsigned char)*p]) p++;
    if (p >= e || (unsigned char)*p < 0x20) return NULL;
    if (*p == '"') return p + 1;
    if (++p >= e) return NULL;
    switch (*p) {
      case '"': case '\\': case '/': case 'b': case 'f': case 'n': case 'r':
      case 't':
        p++;
        break;
      case 'u':
        p = jv_uescape(p + 1, e, &cp);
        if (!p) return NULL;
        break;
      default:
        return NULL;
    }
  }
}

static const char *jv_digits(const char *p, const char *e) {
  const char *d = p;
  while (p < e && *p >= '0' && *p <= '9') p++;
  return p > d ? p : NULL;
}

static const char *jv_number(const char *p, const char *e) {
  const char *s = p;
  if (p < e && *p == '-') p++;
  if (p < e && *p == '0') p++;
  else if (!(p = jv_digits(p, e))) return NULL;
  if (p < e && *p == '.' && !(p = jv_digits(p + 1, e))) return NULL;
  if (p < e && (*p == 'e' || *p == 'E')) {
    p++;
    if (p < e && (*p == '+' || *p == '-')) p++;
    if (!(p = jv_digits(p, e))) return NULL;
  }
  return p - s <= JV_NUM_MAX ? p : NULL;
}

static const char *jv_value(const char *p, const char *e, int depth);

static const char *jv_skip_ws(const char *p, const char *e) {
  while (p < e && jv_ws((unsigned char)*p)) p++;
  return p;
}

/* A container at p ('{' or '['): just past its end, or NULL. */
static const char *jv_container(const char *p, const char *e, int depth) {
  char close = *p == '{' ? '}' : ']';
  if (depth >= JV_DEPTH) return NULL;
  p = jv_skip_ws(p + 1, e);
  if (p < e && *p == close) return p + 1;
  for (;;) {
    if (close == '}') {
      if (p >= e || *p != '"' || !(p = jv_string(p, e))) return NULL;
      p = jv_skip_ws(p, e);
      if (p >= e || *p != ':') return NULL;
      p = jv_skip_ws(p + 1, e);
    }
    if (!(p = jv_value(p, e, depth + 1))) return NULL;
    p = jv_skip_ws(p, e);
    if (p >= e) return NULL;
    if (*p == close) return p + 1;
    if (*p != ',') return NULL;
    p = jv_skip_ws(p + 1, e);
  }
}

static const char *jv_lit(const char *p, const char *e, const char *w,
                          size_t n) {
  return (size_t)(e - p) >= n && memcmp(p, w, n) == 0 ? p + n : NULL;
}

/* A value at p (no leading whitespace): just past it, or NULL. */
static const char *jv_value(const char *p, const char *e, int depth) {
  if (p >= e) return NULL;
  switch (*p) {
    case '"': return jv_string(p, e);
    case '{': case '[': return jv_container(p, e, depth);
    case 't': return jv_lit(p, e, "true", 4);
    case 'f': return jv_lit(p, e, "false", 5);
    case 'n': return jv_lit(p, e, "null", 4);
    default: return jv_number(p, e);
  }
}

static lgw__jv_type_t jv_type(char c) {
  switch (c) {
    case '"': return LGW__JV_STR;
    case '{': return LGW__JV_OBJ;
    case '[': return LGW__JV_ARR;
    case 't': return LGW__JV_TRUE;
    case 'f': return LGW__JV_FALSE;
    case 'n': return LGW__JV_NULL;
    default: return LGW__JV_NUM;
  }
}

int lgw__jv_root(const char *body, size_t len, lgw__jv_t *root) {
  const char *e = body + len, *p, *v;
  root->type = LGW__JV_NONE;
  if (!body) return LGW__JV_UNSURE;
  jv_init();
  p = jv_skip_ws(body, e);
  v = jv_value(p, e, 0);
  if (!v || jv_skip_ws(v, e) != e) return LGW__JV_UNSURE;
  root->p = p;
  root->n = (size_t)(e - p);
  root->type = jv_type(*p);
  return 0;
}

/* Past the string at p (validated): its closing quote + 1. */
static const char *jv_skip_string(const char *p, const char *e) {
  (void)e;
  p++;
  for (;;) {
    while (jv_plain[(unsigned char)*p]) p++;
    if (*p == '"') return p + 1;
    p += *p == '\\' ? 2 : 1;   /* an escape, or a control byte */
  }
}

/* Past the validated value at p. */
static const char *jv_skip(const char *p, const char *e) {
  int depth = 0;
  if (*p == '"') return jv_skip_string(p, e);
  if (*p != '{' && *p != '[') {
    while (p < e && *p != ',' && *p != '}' && *p != ']' &&
           !jv_ws((unsigned char)*p))
      p++;
    return p;
  }
  for (;;) {
    char c = *p;
    if (c == '"') {
      p = jv_skip_string(p, e);
      continue;
    }
    p++;
    if (c == '{' || c == '[') depth++;
    else if ((c == '}' || c == ']') && --depth == 0) return p;
  }
}

/* Values are not measured: n runs to the end of the document. */
static void jv_set(lgw__jv_t *out, const char *p, const char *e) {
  out->p = p;
  out->n = (size_t)(e - p);
  out->type = jv_type(*p);
}

int lgw__jv_get(const lgw__jv_t *obj, const char *key, lgw__jv_t *out) {
  const char *p, *e, *k;
  size_t kn = strlen(key);
  out->type = LGW__JV_NONE;
  if (obj->type != LGW__JV_OBJ) return 0;
  e = obj->p + obj->n;
  p = jv_skip_ws(obj->p + 1, e);
  while (*p == '"') {
    k = jv_skip_string(p, e);   /* the key is p + 1 .. k - 1 */
    if (memchr(p + 1, '\\', (size_t)(k - p - 2))) return LGW__JV_UNSURE;
    if ((size_t)(k - p - 2) == kn && memcmp(p + 1, key, kn) == 0) {
      p = jv_skip_ws(jv_skip_ws(k, e) + 1, e);
      jv_set(out, p, e);
      return 0;
    }
    p = jv_skip_ws(jv_skip_ws(k, e) + 1, e);
    p = jv_skip_ws(jv_skip(p, e), e);   /* at ',' or '}' */
    if (*p != ',') break;
    p = jv_skip_ws(p + 1, e);
  }
  return 0;
}

void lgw__jv_first(const lgw__jv_t *arr, lgw__jv_t *out) {
  const char *e, *p;
  out->type = LGW__JV_NONE;
  if (arr->type != LGW__JV_ARR) return;
  e = arr->p + arr->n;
  p = jv_skip_ws(arr->p + 1, e);
  if (*p != ']') jv_set(out, p, e);
}

int lgw__jv_count(const lgw__jv_t *obj, const char *key, long *count) {
  lgw__jv_t v;
  const char *p;
  long n = 0;
  *count = -1;
  if (lgw__jv_get(obj, key, &v)) return LGW__JV_UNSURE;
  if (v.type != LGW__JV_NUM) return 0;
  /* plain integers up to 15 digits are exact as doubles */
  for (p = v.p; p < v.p + v.n && *p >= '0' && *p <= '9'; p++)
    n = n * 10 + (*p - '0');
  if (p == v.p || p - v.p > 15 ||
      (p < v.p + v.n && (*p == '.' || *p == 'e' || *p == 'E')))
    return LGW__JV_UNSURE;
  *count = n;
  return 0;
}

/* cp as UTF-8 at d; the end. */
static char *jv_utf8(char *d, unsigned cp) {
  if (cp < 0x80) {
    *d++ = (char)cp;
  } else if (cp < 0x800) {
    *d++ = (char)(0xC0 | (cp >> 6));
    *d++ = (char)(0x80 | (cp & 0x3F));
  } else if (cp < 0x10000) {
    *d++ = (char)(0xE0 | (cp >> 12));
    *d++ = (char)(0x80 | ((cp >> 6) & 0x3F));
    *d++ = (char)(0x80 | (cp & 0x3F));
  } else {
    *d++ = (char)(0xF0 | (cp >> 18));
    *d++ = (char)(0x80 | ((cp >> 12) & 0x3F));
    *d++ = (char)(0x80 | ((cp >> 6) & 0x3F));
    *d++ = (char)(0x80 | (cp & 0x3F));
  }
  return d;
}

/* Decoded text is never longer than its escaped form, so it is written
 * straight into space reserved for the whole string. */
int lgw__jv_str(const lgw__jv_t *s, lgw__buf_t *b) {
  const char *p = s->p + 1, *e = jv_skip_string(s->p, s->p + s->n) - 1;
  char *d;
  unsigned cp;
  if (lgw__buf_reserve(b, (size_t)(e - p))) return LGW_ENOMEM;
  d = b->data + b->len;
  while (p < e) {
    char c = *p++;
    if (c != '\\') {
      *d++ = c;
      continue;
    }
    c = *p++;
    switch (c) {
      case 'b': *d++ = '\b'; break;
      case 'f': *d++ = '\f'; break;
      case 'n': *d++ = '\n'; break;
      case 'r': *d++ = '\r'; break;
      case 't': *d++ = '\t'; break;
      case 'u':
        p = jv_uescape(p, e, &cp);
        if (!p) {
          b->data[b->len] = '\0';
          return LGW__JV_UNSURE;
        }
        d = jv_utf8(d, cp);
        break;
      default: *d++ = c; break;   /* '"', '\\', '/' */
    }
  }
  b->len = (size_t)(d - b->data);
  *d = '\0';
  return 0;
}

/* Deepest nesting before pos, ignoring brackets inside strings. */
static size_t json_depth(const char *s, size_t pos) {
  size_t i, depth = 0, max = 0;
  int in_str = 0;
  for (i = 0; i < pos; i++) {
    char c = s[i];
    if (in_str) {
      if (c == '\\') i++;
      else if (c == '"') in_str = 0;
    } else if (c == '"') {
      in_str = 1;
    } else if (c == '[' || c == '{') {
      if (++depth > max) max = depth;
    } else if ((c == ']' || c == '}') && depth) {
      depth--;
    }
  }
  return max;
}

static int json_error(const char *body, size_t at,
                      const char *why, lgw_error_t *err) {
  char where[96];
  lgw__json_pos(body, at, where, sizeof where);
  return lgw__error_set(err, LGW_ERESPONSE, "response is not JSON: %s: %s",
                        why, where);
}

static int starts_with_field(const char *s, size_t n, const char *field) {
  size_t k = strlen(field);
  return n >= k && memcmp(s, field, k) == 0;
}

static int decode_body(const char *body, size_t len, const char *content_type,
                       cJSON **out, lgw_error_t *err);

int lgw__decode_body(const char *body, size_t len, const char *content_type,
                     cJSON **out, int *nul, lgw_error_t *err) {
  size_t m = 0;
  int oom, rc;
  char *enc = body ? lgw__json_nul_encode(body, len, &m, &oom) : NULL;
  *nul = enc != NULL;
  *out = NULL;
  if (!enc && body && oom)
    return lgw__error_set(err, LGW_ENOMEM, "out of memory reading body");
  if (!enc) return decode_body(body, len, content_type, out, err);
  rc = decode_body(enc, m, content_type, out, err);
  lgw_free(enc);
  return rc;
}

static int decode_body(const char *body, size_t len, const char *content_type,
                       cJSON **out, lgw_error_t *err) {
  const char *end = NULL;
  size_t a = 0, at;
  cJSON *j;
  *out = NULL;
  if (!body) len = 0;
  /* a UTF-8 byte order mark */
  if (len >= 3 && memcmp(body, "\xEF\xBB\xBF", 3) == 0) a = 3;
  while (a < len && is_ws((unsigned char)body[a])) a++;
  j = a < len ? cJSON_ParseWithLengthOpts(body + a, len - a, &end, 0) : NULL;
  if (j) {
    at = (size_t)(end - body);
    while (at < len && is_ws((unsigned char)body[at])) at++;
    if (at == len) {
      *out = j;
      return 0;
    }
    cJSON_Delete(j);
    if (!lgw__is_event_stream(content_type))
      return json_error(body, at, "Extra data", err);
  }
  if (lgw__is_event_stream(content_type) ||
      starts_with_field(body + a, len - a, "data:") ||
      starts_with_field(body + a, len - a, "event:"))
    return lgw__sse_decode(body, len, out, err);
  if (a == len) return json_error(body, len, "Expecting value", err);
  if (body[a] == '<')
    return lgw__error_set(err, LGW_ERESPONSE,
                          "response is not JSON: HTML page instead of JSON");
  at = end ? (size_t)(end - body) : a;
  if (json_depth(body, at < len ? at + 1 : len) > CJSON_NESTING_LIMIT)
    return lgw__error_set(err, LGW_ERESPONSE,
                          "response is not JSON: nested deeper than %d levels",
                          CJSON_NESTING_LIMIT);
  return json_error(body, at,
                    at == a ? "Expecting value" : "Invalid JSON", err);
}

/* ---- error bodies ------------------------------------------------------- */

/* Copy at most max bytes of s[0..n) to out as one line: control
 * characters become spaces, and a cut never splits a UTF-8 sequence. */
static void one_line(const char *s, size_t n, size_t max, char *out,
                     size_t cap) {
  size_t i, k = 0;
  if (max > cap - 1) max = cap - 1;
  if (n > max) {
    n = max;
    while (n > 0 && ((unsigned char)s[n] & 0xC0) == 0x80) n--;
  }
  for (i = 0; i < n; i++) {
    unsigned char c = (unsigned char)s[i];
    out[k++] = (char)(c < 0x20 || c == 0x7f ? ' ' : c);
  }
  out[k] = '\0';
}

static const char *error_text(const cJSON *root) {
  static const char *const keys[] = {"error", "message", "detail"};
  size_t i;
  if (!cJSON_IsObject(root)) return NULL;
  for (i = 0; i < sizeof keys / sizeof keys[0]; i++) {
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(root, keys[i]);
    if (cJSON_IsString(v) && *v->valuestring) return v->valuestring;
    if (i == 0 && cJSON_IsObject(v)) {
      const cJSON *m = cJSON_GetObjectItemCaseSensitive(v, "message");
      if (cJSON_IsString(m) && *m->valuestring) return m->valuestring;
    }
  }
  return NULL;
}

void lgw__error_body_message(const char *body, size_t len, char *out,
                             size_t cap) {
  size_t a, e;
  cJSON *root;
  const char *msg;
  if (!cap) return;
  out[0] = '\0';
  if (!body || !len) return;
  lgw__strip_range(body, len, &a, &e);
  root = a < e ? cJSON_ParseWithLength(body + a, e - a) : NULL;
  msg = error_text(root);
  if (msg) {
    size_t ma, me;
    lgw__strip_range(msg, strlen(msg), &ma, &me);
    one_line(msg + ma, me - ma, cap, out, cap);
  } else {
    one_line(body + a, e - a, 200, out, cap);
  }
  cJSON_Delete(root);
}
