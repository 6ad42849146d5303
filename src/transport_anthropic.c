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
  rc = rc ? rc : lgw__json_add_key(&b, "temperature");
  if (!rc && lgw__json_add_num(&b, c->temperature)) {
    lgw__buf_free(&b);
    lgw__buf_free(&sys);
    return lgw__error_set(err, LGW_EINVAL,
                          "temperature is not a finite number");
  }
  lgw__strip_range(sys.data ? sys.data : "", sys.len, &a, &e);
  if (!rc && a < e) {
    rc = lgw__json_add_key(&b, "system");
    rc = rc ? rc : lgw__json_add_str(&b, sys.data + a, e - a);
  }
  if (!rc && c->stream) rc = lgw__buf_adds(&b, ",\"stream\":true");
  rc = rc ? rc : lgw__buf_addc(&b, '}');
  lgw__buf_free(&sys);
  if (rc) {
    lgw__buf_free(&b);
    return lgw__error_set(err, LGW_ENOMEM, "out of memory building body");
  }
  *len = b.len;
  *out = lgw__buf_steal(&b);
  return 0;
}

/* The HTTP status the API uses for each error type. The transport puts it
 * in err->http_status so that the gateway classifies an error inside a 200
 * (or an SSE error event) like the matching status: overloaded_error as
 * 529, rate_limit_error as 429, api_error as 500 (retry the provider),
 * invalid_request_error as 400 and so on (fail over). */
static int error_status(const char *type) {
  static const struct { const char *type; int status; } map[] = {
    {"invalid_request_error", 400}, {"authentication_error", 401},
    {"billing_error", 402},         {"permission_error", 403},
    {"not_found_error", 404},       {"request_too_large", 413},
    {"rate_limit_error", 429},      {"api_error", 500},
    {"timeout_error", 504},         {"overloaded_error", 529}};
  size_t i;
  for (i = 0; type && i < sizeof map / sizeof map[0]; i++)
    if (strcmp(type, map[i].type) == 0) return map[i].status;
  return 500;
}

static int error_object(const cJSON *root, lgw_error_t *err) {
  const cJSON *e = cJSON_GetObjectItemCaseSensitive(root, "error");
  const cJSON *t = cJSON_GetObjectItemCaseSensitive(e, "type");
  const cJSON *m = cJSON_GetObjectItemCaseSensitive(e, "message");
  const char *type = cJSON_IsString(t) ? t->valuestring : "error";
  int rc = lgw__error_set(err, LGW_EHTTP, "%s: %s", type,
                          cJSON_IsString(m) ? m->valuestring : "");
  if (err) err->http_status = error_status(type);
  return rc;
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

static int anthropic_parse(const char *body, size_t len,
                           const char *content_type, lgw__reply_t *out,
                           lgw_error_t *err) {
  cJSON *root;
  const cJSON *type, *content, *usage;
  lgw__buf_t text;
  int rc;
  out->input_tokens = out->output_tokens = -1;
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
  usage = cJSON_GetObjectItemCaseSensitive(root, "usage");
  out->input_tokens = lgw__json_count(usage, "input_tokens");
  out->output_tokens = lgw__json_count(usage, "output_tokens");
  rc = rc ? rc : lgw__reply_set_text(out, text.data, text.len);
  lgw__buf_free(&text);
  cJSON_Delete(root);
  return rc ? lgw__error_set(err, LGW_ENOMEM, "out of memory reading body")
            : 0;
}

const lgw__transport_t lgw__transport_anthropic = {
  "anthropic", anthropic_url, anthropic_headers, anthropic_body,
  anthropic_parse};
