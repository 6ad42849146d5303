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
static int content_text(const cJSON *content, lgw__buf_t *b) {
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
          lgw__buf_adds(b, tx->valuestring))
        return LGW_ENOMEM;
    }
  }
  return 0;
}

/* Counts that are present replace the ones known so far (message_delta
 * carries the final output_tokens after message_start's). */
static void read_usage(const cJSON *usage, lgw__reply_t *out) {
  long v;
  if ((v = lgw__json_count(usage, "input_tokens")) >= 0) out->input_tokens = v;
  if ((v = lgw__json_count(usage, "output_tokens")) >= 0)
    out->output_tokens = v;
  if ((v = lgw__json_count(usage, "cache_read_input_tokens")) >= 0)
    out->cached_tokens = v;
}

static int anthropic_parse(const char *body, size_t len,
                           const char *content_type, lgw__reply_t *out,
                           lgw_error_t *err) {
  cJSON *root;
  const cJSON *type, *content;
  lgw__buf_t text;
  int rc;
  lgw__reply_no_usage(out);
  rc = lgw__decode_body(body, len, content_type, &root, err);
  if (rc) return rc;
  type = cJSON_GetObjectItemCaseSensitive(root, "type");
  if (cJSON_IsString(type) && strcmp(type->valuestring, "error") == 0) {
    rc = error_object(root, err);
    cJSON_Delete(root);
    return rc;
  }
  lgw__buf_init(&text);
  content = cJSON_GetObjectItemCaseSensitive(root, "content");
  if (cJSON_IsArray(content)) rc = content_text(content, &text);
  read_usage(cJSON_GetObjectItemCaseSensitive(root, "usage"), out);
  rc = rc ? rc : lgw__reply_set_text(out, text.data, text.len);
  lgw__buf_free(&text);
  cJSON_Delete(root);
  return rc ? lgw__error_set(err, LGW_ENOMEM, "out of memory reading body")
            : 0;
}

/* Messages stream: message_start (usage), content_block_delta
 * (text_delta), message_delta (final usage), message_stop (the end),
 * error. */
static int anthropic_stream_event(lgw__stream_t *s, const char *data,
                                  size_t len, lgw_error_t *err) {
  cJSON *o = cJSON_ParseWithLength(data, len);
  const cJSON *t = cJSON_GetObjectItemCaseSensitive(o, "type");
  const char *type = cJSON_IsString(t) ? t->valuestring : "";
  int rc = 0;
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
      rc = lgw__stream_text(s, index, tx->valuestring);
  } else if (strcmp(type, "message_delta") == 0) {
    read_usage(cJSON_GetObjectItemCaseSensitive(o, "usage"), &s->reply);
  } else if (strcmp(type, "message_stop") == 0) {
    s->done = 1;
  } else if (strcmp(type, "error") == 0) {
    rc = error_object(o, err);
  }
  cJSON_Delete(o);
  if (rc == LGW_ENOMEM)
    return lgw__error_set(err, LGW_ENOMEM, "out of memory reading stream");
  return rc;
}

const lgw__transport_t lgw__transport_anthropic = {
  "anthropic", anthropic_url, anthropic_headers, anthropic_body,
  anthropic_parse, anthropic_stream_event};
