/*
 * transport_anthropic.c -- the Anthropic Messages wire format (api_style
 * "anthropic"): POST {base}/v1/messages with x-api-key and
 * anthropic-version, system and developer turns joined into "system", text
 * from the "text" content blocks, and {"type":"error"} bodies reported as
 * HTTP errors.
 */
#include "transport.h"

#include <cJSON.h>
#include <string.h>

static char *anthropic_url(const lgw__provider_t *p) {
  /* A base ending in /v1 gets "/messages", not a second "/v1". */
  return lgw__endpoint_url(p->base_url, "/v1/messages", "/messages");
}

/* No Bearer header: Anthropic authenticates with x-api-key. A configured
 * x-api-key or anthropic-version replaces the default one. */
static int anthropic_headers(const lgw__provider_t *p, lgw__kvlist_t *out) {
  size_t i;
  int rc = lgw__kvlist_add(out, "content-type", "application/json");
  if (!rc && !lgw__is_blank(p->api_key) &&
      !lgw__kvlist_get_ci(&p->headers, "x-api-key")) {
    char *key = lgw__strip(p->api_key);
    rc = key ? lgw__kvlist_add(out, "x-api-key", key) : LGW_ENOMEM;
    lgw_free(key);
  }
  if (!rc && !lgw__kvlist_get_ci(&p->headers, "anthropic-version"))
    rc = lgw__kvlist_add(out, "anthropic-version", "2023-06-01");
  for (i = 0; !rc && i < p->headers.n; i++)
    if (!lgw__is_blank(p->headers.items[i].key))
      rc = lgw__kvlist_add(out, p->headers.items[i].key,
                           p->headers.items[i].value);
  return rc;
}

static int anthropic_body(const lgw__call_t *c, char **out, size_t *len,
                          lgw_error_t *err) {
  lgw__buf_t b, sys;
  size_t i, items = 0, nsys = 0, a, e;
  int rc;
  lgw__buf_init(&b);
  lgw__buf_init(&sys);
  rc = lgw__buf_adds(&b, "{\"model\":");
  rc = rc ? rc : lgw__json_add_str(&b, c->model, strlen(c->model));
  rc = rc ? rc : lgw__buf_adds(&b, ",\"messages\":[");
  for (i = 0; !rc && i < c->nmessages; i++) {
    const char *text = c->messages[i].content ? c->messages[i].content : "";
    lgw__role_t k = lgw__role_kind(c->messages[i].role);
    size_t n = strlen(text);
    /* The API knows only user and assistant turns. */
    if (k == LGW__ROLE_SYSTEM || k == LGW__ROLE_DEVELOPER) {
      if (nsys++) rc = lgw__buf_addc(&sys, '\n');
      rc = rc ? rc : lgw__buf_add(&sys, text, n);
      continue;
    }
    rc = lgw__buf_printf(&b, "%s{\"role\":\"%s\",\"content\":",
                         items++ ? "," : "",
                         k == LGW__ROLE_ASSISTANT ? "assistant" : "user");
    rc = rc ? rc : lgw__json_add_str(&b, text, n);
    rc = rc ? rc : lgw__buf_addc(&b, '}');
  }
  if (!rc && !items) rc = lgw__buf_adds(&b, "{\"role\":\"user\",\"content\":\"\"}");
  rc = rc ? rc : lgw__buf_printf(&b, "],\"max_tokens\":%ld", c->max_tokens);
  rc = rc ? rc : lgw__body_temperature(&b, c->temperature);
  lgw__strip_range(sys.data ? sys.data : "", sys.len, &a, &e);
  if (!rc && a < e) {
    rc = lgw__json_add_key(&b, "system");
    rc = rc ? rc : lgw__json_add_str(&b, sys.data + a, e - a);
  }
  if (!rc && c->stream) rc = lgw__buf_adds(&b, ",\"stream\":true");
  lgw__buf_free(&sys);
  return lgw__body_finish(&b, rc, out, len, err);
}

/* An error object inside a 200 (or an SSE error event) is classified
 * like the matching status: overloaded_error as 529, rate_limit_error as
 * 429, api_error as 500 (retry the provider), invalid_request_error as 400
 * and so on (fail over); see lgw__error_type_status. */
static int error_object(const cJSON *root, lgw_error_t *err) {
  return lgw__error_object(cJSON_GetObjectItemCaseSensitive(root, "error"),
                           err);
}

/* Joins the blocks' non-empty text with "\n"; text-typed blocks first, the
 * others only when there are no text blocks. */
static int content_text(const cJSON *content, int nul, lgw__buf_t *b) {
  const cJSON *it;
  int pass, parts = 0;
  for (pass = 0; pass < 2 && !parts; pass++) {
    cJSON_ArrayForEach(it, content) {
      const cJSON *ty = cJSON_GetObjectItemCaseSensitive(it, "type");
      const cJSON *tx = cJSON_GetObjectItemCaseSensitive(it, "text");
      int is_text = cJSON_IsString(ty) &&
                    lgw__strcasecmp(ty->valuestring, "text") == 0;
      if (!cJSON_IsObject(it) || !cJSON_IsString(tx) || !*tx->valuestring ||
          is_text != (pass == 0))
        continue;
      if ((parts++ && lgw__buf_addc(b, '\n')) ||
          lgw__json_text(b, tx->valuestring, nul))
        return LGW_ENOMEM;
    }
  }
  return 0;
}

/* Counts that are present replace the ones known so far: usage is
 * cumulative (message_delta repeats input_tokens and the cache fields and
 * carries the final output_tokens after message_start's). Thinking tokens
 * (output_tokens_details.thinking_tokens) are the reasoning tokens. */
static void read_usage(const cJSON *usage, lgw__reply_t *out) {
  long v;
  if ((v = lgw__json_count(usage, "input_tokens")) >= 0) out->input_tokens = v;
  if ((v = lgw__json_count(usage, "output_tokens")) >= 0)
    out->output_tokens = v;
  if ((v = lgw__json_count(usage, "cache_read_input_tokens")) >= 0)
    out->cached_tokens = v;
  v = lgw__json_count(
      cJSON_GetObjectItemCaseSensitive(usage, "output_tokens_details"),
      "thinking_tokens");
  if (v >= 0) out->reasoning_tokens = v;
}

/* stop_reason "refusal": the model refused; its text (if any) is the
 * refusal. */
static int is_refusal(const cJSON *stop) {
  return cJSON_IsString(stop) && strcmp(stop->valuestring, "refusal") == 0;
}

static int anthropic_parse(const char *body, size_t len,
                           const char *content_type, lgw__reply_t *out,
                           lgw_error_t *err) {
  cJSON *root;
  const cJSON *type, *content, *stop;
  lgw__buf_t text;
  int rc, nul;
  lgw__reply_begin(out);
  rc = lgw__decode_body(body, len, content_type, &root, &nul, err);
  if (rc) return rc;
  type = cJSON_GetObjectItemCaseSensitive(root, "type");
  if (cJSON_IsString(type) && strcmp(type->valuestring, "error") == 0) {
    rc = error_object(root, err);
    cJSON_Delete(root);
    return rc;
  }
  lgw__buf_init(&text);
  content = cJSON_GetObjectItemCaseSensitive(root, "content");
  if (cJSON_IsArray(content)) rc = content_text(content, nul, &text);
  read_usage(cJSON_GetObjectItemCaseSensitive(root, "usage"), out);
  stop = cJSON_GetObjectItemCaseSensitive(root, "stop_reason");
  if (cJSON_IsString(stop))
    out->finish_reason = lgw__finish_reason(stop->valuestring);
  rc = rc ? rc : lgw__reply_set_text(out, text.data, text.len);
  if (!rc && is_refusal(stop))
    rc = lgw__reply_set_refusal(out, text.data, text.len);
  lgw__buf_free(&text);
  cJSON_Delete(root);
  return rc ? lgw__error_set(err, LGW_ENOMEM, "out of memory reading body")
            : 0;
}

/* Messages stream: message_start (usage), content_block_delta
 * (text_delta; thinking, signature and tool input deltas are not text),
 * message_delta (stop_reason, cumulative usage), message_stop (the end),
 * error; ping and other events are ignored. */
static int anthropic_stream_event(lgw__stream_t *s, const char *data,
                                  size_t len, lgw_error_t *err) {
  cJSON *o;
  const cJSON *t;
  const char *type;
  size_t a, e;
  int rc = 0, nul;
  lgw__strip_range(data, len, &a, &e);
  if (a == e) return 0;
  o = lgw__json_parse(data + a, e - a, &nul);
  if (!o) return lgw__stream_malformed(data, len, err);
  t = cJSON_GetObjectItemCaseSensitive(o, "type");
  type = cJSON_IsString(t) ? t->valuestring : "";
  if (strcmp(type, "message_start") == 0) {
    const cJSON *m = cJSON_GetObjectItemCaseSensitive(o, "message");
    read_usage(cJSON_GetObjectItemCaseSensitive(m, "usage"), &s->reply);
  } else if (strcmp(type, "content_block_delta") == 0) {
    const cJSON *d = cJSON_GetObjectItemCaseSensitive(o, "delta");
    const cJSON *dt = cJSON_GetObjectItemCaseSensitive(d, "type");
    const cJSON *tx = cJSON_GetObjectItemCaseSensitive(d, "text");
    long index = lgw__json_count(o, "index");
    if (cJSON_IsString(dt) && strcmp(dt->valuestring, "text_delta") == 0 &&
        cJSON_IsString(tx))
      rc = lgw__stream_json_text(s, index, tx->valuestring, nul);
  } else if (strcmp(type, "message_delta") == 0) {
    const cJSON *d = cJSON_GetObjectItemCaseSensitive(o, "delta");
    const cJSON *stop = cJSON_GetObjectItemCaseSensitive(d, "stop_reason");
    read_usage(cJSON_GetObjectItemCaseSensitive(o, "usage"), &s->reply);
    if (cJSON_IsString(stop))
      s->finish_reason = lgw__finish_reason(stop->valuestring);
    if (is_refusal(stop) && !s->refused) {
      s->refused = 1;
      rc = lgw__buf_add(&s->refusal, s->text.data ? s->text.data : "",
                        s->text.len);
    }
  } else if (strcmp(type, "message_stop") == 0) {
    s->done = 1;
  } else if (strcmp(type, "error") == 0) {
    rc = error_object(o, err);
  } else {
    rc = lgw__stream_error_event(s, o, err);
  }
  cJSON_Delete(o);
  if (rc == LGW_ENOMEM)
    return lgw__error_set(err, LGW_ENOMEM, "out of memory reading stream");
  return rc;
}

const lgw__transport_t lgw__transport_anthropic = {
  "anthropic", anthropic_url, anthropic_headers, anthropic_body,
  anthropic_parse, anthropic_stream_event};
