/*
 * wire_support.c -- see wire_support.h.
 */
#include <stdio.h>
#include <string.h>

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
