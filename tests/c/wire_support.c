/*
 * wire_support.c -- see wire_support.h.
 */
#include <stdio.h>
#include <string.h>

#include <cJSON.h>

#include "wire_support.h"

const lgw_message_t wire_history[4] = {
  {"system", "Be brief."},
  {"user", "Hi"},
  {"assistant", "Hello!"},
  {"user", "Say \"ok\"\n"}};

long wire_in_tok, wire_out_tok;

lgw__provider_t wire_provider(const char *base, const char *key) {
  lgw__provider_t p;
  memset(&p, 0, sizeof p);
  p.base_url = (char *)base;
  p.api_key = (char *)key;
  return p;
}

lgw__call_t wire_call(const lgw_message_t *m, size_t n, const char *model) {
  lgw__call_t c;
  memset(&c, 0, sizeof c);
  c.messages = m;
  c.nmessages = n;
  c.model = model;
  c.reasoning_effort = "";
  c.temperature = 0.0;
  c.max_tokens = 4000;
  return c;
}

/* The body t builds for c (through lgw__transport_body when full) as
 * text in out. */
static const char *body_text(const lgw__transport_t *t, const lgw__call_t *c,
                             int full, char *out, size_t cap) {
  char *b = NULL;
  size_t len = 0;
  lgw_error_t err;
  int rc;
  memset(&err, 0, sizeof err);
  rc = full ? lgw__transport_body(t, c, &b, &len, &err)
            : t->body(c, &b, &len, &err);
  if (rc != 0 || !b) {
    snprintf(out, cap, "ERR %d: %s", rc, err.message);
    return out;
  }
  if (len != strlen(b)) snprintf(out, cap, "BAD LENGTH");
  else snprintf(out, cap, "%s", b);
  lgw_free(b);
  return out;
}

const char *wire_body(const lgw__transport_t *t, const lgw__call_t *c) {
  static char out[16384];
  return body_text(t, c, 0, out, sizeof out);
}

const char *wire_full_body(const lgw__transport_t *t, const lgw__call_t *c) {
  static char out[16384];
  return body_text(t, c, 1, out, sizeof out);
}

const char *wire_url(const lgw__transport_t *t, const char *base) {
  static char out[1024];
  lgw__provider_t p = wire_provider(base, "");
  char *u = t->url(&p);
  snprintf(out, sizeof out, "%s", u ? u : "(null)");
  lgw_free(u);
  return out;
}

const char *wire_headers(const lgw__transport_t *t,
                         const lgw__provider_t *p) {
  static char out[2048];
  lgw__kvlist_t l = {0};
  size_t i, k = 0;
  out[0] = '\0';
  if (t->headers(p, &l)) return "ERR";
  for (i = 0; i < l.n; i++)
    k += (size_t)snprintf(out + k, sizeof out - k, "%s%s: %s", i ? "|" : "",
                          l.items[i].key, l.items[i].value);
  lgw__kvlist_free(&l);
  return out;
}

const char *wire_parse_ct(const lgw__transport_t *t, const char *b,
                          const char *ct) {
  static char out[4096];
  lgw__reply_t r;
  lgw_error_t err;
  int rc;
  memset(&r, 0, sizeof r);
  memset(&err, 0, sizeof err);
  rc = t->parse(b, strlen(b), ct, &r, &err);
  wire_in_tok = r.input_tokens;
  wire_out_tok = r.output_tokens;
  if (rc) snprintf(out, sizeof out, "ERR %d %d: %s", rc, err.http_status,
                   err.message);
  else snprintf(out, sizeof out, "%s", r.text);
  if (!rc && r.text_len != strlen(r.text)) snprintf(out, sizeof out, "LEN");
  lgw__reply_free(&r);
  return out;
}

const char *wire_parse(const lgw__transport_t *t, const char *b) {
  return wire_parse_ct(t, b, NULL);
}

const char *wire_reply_line(const lgw__transport_t *t, const char *b) {
  static char out[1024];
  lgw__reply_t r;
  lgw_error_t err;
  size_t i, k;
  int rc;
  memset(&r, 0, sizeof r);
  memset(&err, 0, sizeof err);
  rc = t->parse(b, strlen(b), NULL, &r, &err);
  if (rc) {
    snprintf(out, sizeof out, "ERR %d %d: %.900s", rc, err.http_status,
             err.message);
    lgw__reply_free(&r);
    return out;
  }
  k = (size_t)snprintf(out, sizeof out, "text=");
  for (i = 0; i < r.text_len && k < sizeof out - 8; i++)
    k += (size_t)snprintf(out + k, sizeof out - k, r.text[i] ? "%c" : "\\0",
                          r.text[i]);
  snprintf(out + k, sizeof out - k,
           " finish=%s refusal=%.200s usage=%ld/%ld/%ld/%ld",
           r.finish_reason ? r.finish_reason : "-",
           r.refusal ? r.refusal : "-", r.input_tokens, r.output_tokens,
           r.cached_tokens, r.reasoning_tokens);
  lgw__reply_free(&r);
  return out;
}

void wire_fold(const lgw__transport_t *t, wire_feed_t *f, const char *lines) {
  const char *p = lines;
  lgw__stream_init(&f->s);
  f->deltas[0] = f->err[0] = '\0';
  f->rc = f->status = 0;
  while (*p && !f->rc) {
    const char *nl = strchr(p, '\n');
    size_t n = nl ? (size_t)(nl - p) : strlen(p);
    char data[1024];
    lgw_error_t e;
    memset(&e, 0, sizeof e);
    snprintf(data, sizeof data, "%.*s", (int)n, p);
    f->s.delta.len = 0;
    f->rc = t->stream_event(&f->s, data, n, &e);
    if (f->rc) {
      snprintf(f->err, sizeof f->err, "%.200s", e.message);
      f->status = e.http_status;
    } else if (f->s.delta.len) {
      strcat(f->deltas, "[");
      strncat(f->deltas, f->s.delta.data, f->s.delta.len);
      strcat(f->deltas, "]");
    }
    p = nl ? nl + 1 : p + n;
  }
}

/* The buffers are equal (NULL and "" differ). */
static int same_bytes(const char *a, size_t an, const char *b, size_t bn) {
  if (!a || !b) return !a && !b;
  return an == bn && memcmp(a, b, an) == 0;
}

static int same_str(const char *a, const char *b) {
  if (!a || !b) return !a && !b;
  return strcmp(a, b) == 0;
}

const char *wire_parse_diff(const lgw__transport_t *t, const char *b) {
  static char out[512];
  lgw__reply_t r[2];
  lgw_error_t e[2];
  char *fb = lgw__sprintf("\f%s", b);
  cJSON *j = cJSON_ParseWithOpts(b, NULL, 1);
  int rc[2], i;
  size_t k;
  memset(r, 0, sizeof r);
  memset(e, 0, sizeof e);
  rc[0] = t->parse(b, strlen(b), NULL, &r[0], &e[0]);
  rc[1] = t->parse(fb, strlen(fb), NULL, &r[1], &e[1]);
  out[0] = '\0';
  if (rc[0] != rc[1]) {
    snprintf(out, sizeof out, "rc %d != %d", rc[0], rc[1]);
  } else if (rc[0]) {
    /* the message of a body that is not JSON names an offset */
    if (e[0].http_status != e[1].http_status ||
        (j && strcmp(e[0].message, e[1].message) != 0))
      snprintf(out, sizeof out, "error %d '%.200s' != %d '%.200s'", e[0].http_status,
               e[0].message, e[1].http_status, e[1].message);
  } else if (!same_bytes(r[0].text, r[0].text_len, r[1].text,
                         r[1].text_len)) {
    snprintf(out, sizeof out, "text '%s' != '%s'", r[0].text, r[1].text);
  } else if (!same_bytes(r[0].refusal, r[0].refusal_len, r[1].refusal,
                         r[1].refusal_len)) {
    snprintf(out, sizeof out, "refusal '%s' != '%s'",
             r[0].refusal ? r[0].refusal : "(null)",
             r[1].refusal ? r[1].refusal : "(null)");
  } else if (!same_str(r[0].finish_reason, r[1].finish_reason)) {
    snprintf(out, sizeof out, "finish %s != %s",
             r[0].finish_reason ? r[0].finish_reason : "(null)",
             r[1].finish_reason ? r[1].finish_reason : "(null)");
  } else if (r[0].input_tokens != r[1].input_tokens ||
             r[0].output_tokens != r[1].output_tokens ||
             r[0].cached_tokens != r[1].cached_tokens ||
             r[0].reasoning_tokens != r[1].reasoning_tokens) {
    snprintf(out, sizeof out, "usage %ld/%ld/%ld/%ld != %ld/%ld/%ld/%ld",
             r[0].input_tokens, r[0].output_tokens, r[0].cached_tokens,
             r[0].reasoning_tokens, r[1].input_tokens, r[1].output_tokens,
             r[1].cached_tokens, r[1].reasoning_tokens);
  } else if (r[0].calls.n != r[1].calls.n) {
    snprintf(out, sizeof out, "calls %zu != %zu", r[0].calls.n,
             r[1].calls.n);
  } else {
    for (k = 0; k < r[0].calls.n && !out[0]; k++) {
      const lgw__tcall_t *x = &r[0].calls.v[k], *y = &r[1].calls.v[k];
      if (!same_str(x->id, y->id) || !same_str(x->name, y->name) ||
          !same_bytes(x->args.data ? x->args.data : "", x->args.len,
                      y->args.data ? y->args.data : "", y->args.len))
        snprintf(out, sizeof out, "call %zu differs", k);
    }
  }
  for (i = 0; i < 2; i++) lgw__reply_free(&r[i]);
  cJSON_Delete(j);
  lgw_free(fb);
  return out;
}
