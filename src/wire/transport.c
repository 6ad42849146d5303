/*
 * transport.c -- what the wire formats share: choosing a transport, URL
 * cleaning, the Bearer header set, replies and streams being filled, usage
 * and finish reasons read from a tree or in place (src/core/json.c),
 * decoding a 2xx body (JSON, else SSE) and a one-line message from an
 * error body.
 */
#include "transport.h"

#include "cjson_dl.h"  /* <cJSON.h>, the calls through a table */
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

int lgw__stream_jv_text(lgw__stream_t *s, long part, const lgw__jv_t *v) {
  const char *p;
  size_t n;
  lgw__buf_t b;
  int rc;
  if (lgw__jv_plain(v, &p, &n) == 0) return lgw__stream_text(s, part, p, n);
  lgw__buf_init(&b);
  rc = lgw__jv_str(v, &b);
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

int lgw__stream_event_open(lgw__stream_t *s, const char *data, size_t len,
                           int done_marker,
                           int (*fast)(lgw__stream_t *, const char *, size_t),
                           cJSON **o, const char **type, int *nul, int *rc,
                           lgw_error_t *err) {
  const cJSON *t;
  size_t a, e;
  *o = NULL;
  *rc = 0;
  lgw__strip_range(data, len, &a, &e);
  if (a == e ||
      (done_marker && e - a == 6 && memcmp(data + a, "[DONE]", 6) == 0))
    return 0;
  *rc = fast(s, data + a, e - a);
  if (*rc != LGW__JV_UNSURE) {
    *rc = lgw__stream_event_end(NULL, *rc, err);
    return 0;
  }
  *rc = 0;
  *o = lgw__json_parse(data + a, e - a, nul);
  if (!*o) {
    *rc = lgw__json_nomem(data + a, e - a)
              ? lgw__stream_event_end(NULL, LGW_ENOMEM, err)
              : lgw__stream_malformed(data, len, err);
    return 0;
  }
  t = cJSON_GetObjectItemCaseSensitive(*o, "type");
  *type = cJSON_IsString(t) ? t->valuestring : "";
  return 1;
}

int lgw__stream_event_end(cJSON *o, int rc, lgw_error_t *err) {
  cJSON_Delete(o);
  if (rc == LGW_ENOMEM)
    return lgw__error_set(err, LGW_ENOMEM, "out of memory reading stream");
  return rc;
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

/* A number with at most six decimals and below a million (every usual
 * temperature) written as lgw__json_add_num would ("0.7", "1.0",
 * "-0.0"), without its printf/strtod round trip; 0 when it is not one.
 * With the fewest decimals whose m / 10^k reads back to t (division is
 * correctly rounded), this is the shortest form that reads back. */
static int short_decimal(lgw__buf_t *b, double t, int *rc) {
  static const double pow10[] = {1, 10, 100, 1e3, 1e4, 1e5, 1e6};
  char tmp[32], *d = tmp + sizeof tmp;
  double a = fabs(t), m = 0;
  unsigned long long whole, frac, p;
  int k, i;
  if (!(a == 0 || (a >= 1e-4 && a < 1e6))) return 0;
  for (k = 0; k <= 6; k++) {
    m = (double)(unsigned long long)(a * pow10[k] + 0.5);
    if (m / pow10[k] == a) break;
  }
  if (k > 6) return 0;
  p = (unsigned long long)pow10[k];
  whole = (unsigned long long)m / p;
  frac = (unsigned long long)m % p;
  if (k == 0) *--d = '0';
  for (i = 0; i < k; i++, frac /= 10) *--d = (char)('0' + frac % 10);
  *--d = '.';
  do *--d = (char)('0' + whole % 10); while (whole /= 10);
  if (signbit(t)) *--d = '-';
  *rc = lgw__buf_add(b, d, (size_t)(tmp + sizeof tmp - d));
  return 1;
}

int lgw__body_temperature(lgw__buf_t *b, double t) {
  int rc = lgw__json_add_key(b, "temperature");
  if (rc) return rc;
  if (t == 0 && !signbit(t)) return LGW__BUF_LIT(b, "0.0");
  if (short_decimal(b, t, &rc)) return rc;
  return lgw__json_add_num(b, t);
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

int lgw__usage_read(const lgw__jv_t *v, lgw__reply_t *out) {
  long n[4];
  int i;
  for (i = 0; i < 4; i++)
    if (lgw__jv_int(&v[i], &n[i])) return LGW__JV_UNSURE;
  out->input_tokens = n[0];
  out->output_tokens = n[1];
  out->cached_tokens = n[2];
  out->reasoning_tokens = n[3];
  return 0;
}

int lgw__jv_finish(const lgw__jv_t *v, const char **out) {
  const char *p;
  char raw[32];
  size_t n;
  *out = NULL;
  if (v->type != LGW__JV_STR) return 0;
  if (lgw__jv_plain(v, &p, &n)) return LGW__JV_UNSURE;
  /* the known reasons are short: a longer one is none of them */
  if (n >= sizeof raw) return 0;
  memcpy(raw, p, n);
  raw[n] = '\0';
  *out = lgw__finish_reason(raw);
  return 0;
}

int lgw__jv_set_str(char **dst, const lgw__jv_t *v, int nonempty) {
  lgw__buf_t b;
  int rc;
  if (v->type != LGW__JV_STR) return 0;
  lgw__buf_init(&b);
  rc = lgw__jv_str(v, &b);
  if (!rc && !b.data) rc = lgw__buf_reserve(&b, 0);
  if (rc || (nonempty && !b.len)) {
    lgw__buf_free(&b);
    return rc;
  }
  lgw_free(*dst);
  *dst = lgw__buf_steal(&b);
  return 0;
}

int lgw__reply_fill(lgw__reply_t *out, int rc, lgw__buf_t *text,
                    const lgw__reply_t *usage, const char *finish,
                    lgw__tcalls_t *calls) {
  if (!rc && !text->data) rc = lgw__buf_reserve(text, 0);
  if (!rc) {
    lgw_free(out->text);
    out->text_len = text->len;
    out->text = lgw__buf_steal(text);
    out->input_tokens = usage->input_tokens;
    out->output_tokens = usage->output_tokens;
    out->cached_tokens = usage->cached_tokens;
    out->reasoning_tokens = usage->reasoning_tokens;
    out->finish_reason = finish;
    if (calls) {
      lgw__tcalls_free(&out->calls);
      out->calls = *calls;
      memset(calls, 0, sizeof *calls);
    }
  }
  lgw__buf_free(text);
  if (calls) lgw__tcalls_free(calls);
  return rc;
}

int lgw__read_in_place(const char *body, size_t len, size_t max, int object,
                       const lgw__jv_pick_t *top, size_t ntop, lgw__jv_t *v,
                       size_t nv) {
  size_t i = 0;
  if (len > max || lgw__jv_read(body, len, top, ntop, v, nv))
    return LGW__JV_UNSURE;
  while (body[i] == ' ' || body[i] == '\t' || body[i] == '\n' ||
         body[i] == '\r')
    i++;
  return object && body[i] != '{' ? LGW__JV_UNSURE : 0;
}

int lgw__parse_in_place(const char *body, size_t len,
                        int (*fast)(const char *, size_t, lgw__reply_t *),
                        lgw__reply_t *out, lgw_error_t *err) {
  int rc = fast(body, len, out);
  return rc == LGW_ENOMEM
             ? lgw__error_set(err, LGW_ENOMEM, "out of memory reading body")
             : rc;
}

int lgw__reply_set_text(lgw__reply_t *out, const char *s, size_t n) {
  return set_copy(&out->text, &out->text_len, s, n);
}

/* ---- strings, roles, URLs ---------------------------------------------- */

static int is_ws(int c) {
  return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\v' ||
         c == '\f';
}

lgw__role_t lgw__role_kind(const char *role) {
  static const struct { const char *name; lgw__role_t kind; } known[] = {
    {"user", LGW__ROLE_USER}, {"assistant", LGW__ROLE_ASSISTANT},
    {"system", LGW__ROLE_SYSTEM}, {"developer", LGW__ROLE_DEVELOPER}};
  size_t a, e, i;
  if (!role) return LGW__ROLE_USER;
  /* the usual spelling first */
  switch (role[0]) {
    case 'u': if (strcmp(role, "user") == 0) return LGW__ROLE_USER; break;
    case 'a':
      if (strcmp(role, "assistant") == 0) return LGW__ROLE_ASSISTANT;
      break;
    case 's': if (strcmp(role, "system") == 0) return LGW__ROLE_SYSTEM; break;
    default: break;
  }
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

/* ---- reading JSON ------------------------------------------------------- */

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
  if (!j && lgw__json_nomem(body + a, len - a))
    return lgw__error_set(err, LGW_ENOMEM, "out of memory reading body");
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

/* A string value's text (NUL-terminated) in *s: in place, or decoded
 * into tmp[0..cap); *s NULL for a value that is no string. 0, or
 * LGW__JV_UNSURE (a tree must read it). Allocates nothing. */
static int jv_text(const lgw__jv_t *v, char *tmp, size_t cap,
                   const char **s) {
  lgw__buf_t b;
  const char *p;
  size_t n;
  int plain;
  *s = NULL;
  if (v->type != LGW__JV_STR) return 0;
  plain = lgw__jv_plain(v, &p, &n) == 0;
  if (n >= cap) return LGW__JV_UNSURE;
  if (plain) {
    memcpy(tmp, p, n);
    tmp[n] = '\0';
  } else {
    /* room for the whole escaped text: lgw__jv_str does not grow b */
    b.data = tmp;
    b.len = 0;
    b.cap = cap;
    if (lgw__jv_str(v, &b)) return LGW__JV_UNSURE;
  }
  *s = tmp;
  return 0;
}

/* error_text read in place, without a tree: 0 (*msg NULL when the body
 * names none), or LGW__JV_UNSURE. */
static int error_text_jv(const char *body, size_t len, char *tmp,
                         size_t cap, const char **msg) {
  static const char *const keys[] = {"error", "message", "detail"};
  lgw__jv_t root, v[3], m;
  size_t i;
  *msg = NULL;
  if (lgw__jv_root(body, len, &root)) return LGW__JV_UNSURE;
  if (root.type != LGW__JV_OBJ) return 0;
  if (lgw__jv_getv(&root, keys, v, 3)) return LGW__JV_UNSURE;
  for (i = 0; i < 3; i++) {
    if (jv_text(&v[i], tmp, cap, msg)) return LGW__JV_UNSURE;
    if (*msg && **msg) return 0;
    if (i == 0 && v[0].type == LGW__JV_OBJ) {
      if (lgw__jv_get(&v[0], "message", &m) || jv_text(&m, tmp, cap, msg))
        return LGW__JV_UNSURE;
      if (*msg && **msg) return 0;
    }
  }
  *msg = NULL;
  return 0;
}

/* Read in place first: it needs no memory, so the message is the same
 * when memory runs out. */
void lgw__error_body_message(const char *body, size_t len, char *out,
                             size_t cap) {
  size_t a, e;
  cJSON *root = NULL;
  const char *msg;
  char tmp[1024];
  if (!cap) return;
  out[0] = '\0';
  if (!body || !len) return;
  lgw__strip_range(body, len, &a, &e);
  if (error_text_jv(body + a, e - a, tmp, sizeof tmp, &msg)) {
    root = a < e ? cJSON_ParseWithLength(body + a, e - a) : NULL;
    msg = error_text(root);
  }
  if (msg) {
    size_t ma, me;
    lgw__strip_range(msg, strlen(msg), &ma, &me);
    one_line(msg + ma, me - ma, cap, out, cap);
  } else {
    one_line(body + a, e - a, 200, out, cap);
  }
  cJSON_Delete(root);
}
