/*
 * transport_responses.c -- the OpenAI Responses wire format (api_style
 * "responses" / "openai_responses"): POST {base}/responses, system turns as
 * "instructions", other turns as {role, content: "<text>"} input items.
 */
#include "transport.h"

#include <cJSON.h>
#include <string.h>

static char *responses_url(const lgw__provider_t *p) {
  return lgw__endpoint_url(p->base_url, "/responses", "/responses");
}

static const char *item_role(lgw__role_t k) {
  switch (k) {
    case LGW__ROLE_ASSISTANT: return "assistant";
    case LGW__ROLE_DEVELOPER: return "developer";
    default: return "user";  /* tool, function, ... are not input roles */
  }
}

static int responses_body(const lgw__call_t *c, char **out, size_t *len,
                          lgw_error_t *err) {
  lgw__buf_t b, sys;
  size_t i, items = 0, a, e;
  int rc;
  lgw__buf_init(&b);
  lgw__buf_init(&sys);
  rc = lgw__buf_adds(&b, "{\"model\":");
  rc = rc ? rc : lgw__json_add_str(&b, c->model, strlen(c->model));
  rc = rc ? rc : lgw__buf_adds(&b, ",\"input\":[");
  for (i = 0; !rc && i < c->nmessages; i++) {
    const char *text = c->messages[i].content ? c->messages[i].content : "";
    lgw__role_t k = lgw__role_kind(c->messages[i].role);
    size_t n = strlen(text);
    if (k == LGW__ROLE_SYSTEM) {
      lgw__strip_range(text, n, &a, &e);
      if (a == e) continue;
      if (sys.len) rc = lgw__buf_adds(&sys, "\n\n");
      rc = rc ? rc : lgw__buf_add(&sys, text, n);
      continue;
    }
    rc = lgw__buf_printf(&b, "%s{\"role\":\"%s\",\"content\":",
                         items++ ? "," : "", item_role(k));
    rc = rc ? rc : lgw__json_add_str(&b, text, n);
    rc = rc ? rc : lgw__buf_addc(&b, '}');
  }
  if (!rc && !items) rc = lgw__buf_adds(&b, "{\"role\":\"user\",\"content\":\"\"}");
  rc = rc ? rc : lgw__buf_printf(&b, "],\"max_output_tokens\":%ld",
                                 c->max_tokens);
  rc = rc ? rc : lgw__body_temperature(&b, c->temperature);
  rc = rc ? rc : lgw__buf_adds(&b, c->stream ? ",\"stream\":true"
                                             : ",\"stream\":false");
  if (!rc && c->reasoning_effort && *c->reasoning_effort) {
    rc = lgw__buf_adds(&b, ",\"reasoning\":{\"effort\":");
    rc = rc ? rc : lgw__json_add_str(&b, c->reasoning_effort,
                                     strlen(c->reasoning_effort));
    rc = rc ? rc : lgw__buf_addc(&b, '}');
  }
  if (!rc && sys.len) {
    lgw__strip_range(sys.data, sys.len, &a, &e);
    rc = lgw__json_add_key(&b, "instructions");
    rc = rc ? rc : lgw__json_add_str(&b, sys.data + a, e - a);
  }
  lgw__buf_free(&sys);
  return lgw__body_finish(&b, rc, out, len, err);
}

/* Text per §10.3: nested "response" first, then output_text, then the
 * text parts of every output item's content. */
static int extract(const cJSON *o, lgw__buf_t *b) {
  const cJSON *v, *item;
  int parts = 0, n;
  size_t mark = b->len;
  if (!cJSON_IsObject(o)) return 0;
  v = cJSON_GetObjectItemCaseSensitive(o, "response");
  if (cJSON_IsObject(v)) {
    if ((n = extract(v, b)) < 0) return n;
    if (b->len > mark) return 0;
  }
  v = cJSON_GetObjectItemCaseSensitive(o, "output_text");
  if (cJSON_IsString(v) && *v->valuestring)
    return lgw__buf_adds(b, v->valuestring);
  v = cJSON_GetObjectItemCaseSensitive(o, "output");
  if (!cJSON_IsArray(v)) return 0;
  cJSON_ArrayForEach(item, v) {
    const cJSON *content = cJSON_GetObjectItemCaseSensitive(item, "content");
    if (!cJSON_IsObject(item)) continue;
    if (cJSON_IsString(content) && *content->valuestring) {
      if ((parts && lgw__buf_addc(b, '\n')) ||
          lgw__buf_adds(b, content->valuestring))
        return LGW_ENOMEM;
      parts++;
    } else if (cJSON_IsArray(content)) {
      lgw__buf_t sub;
      lgw__buf_init(&sub);
      n = lgw__json_text_parts(content, &sub);
      if (n > 0 && ((parts && lgw__buf_addc(b, '\n')) ||
                    lgw__buf_add(b, sub.data, sub.len)))
        n = LGW_ENOMEM;
      lgw__buf_free(&sub);
      if (n < 0) return n;
      parts += n;
    }
  }
  return 0;
}

static void read_usage(const cJSON *usage, lgw__reply_t *out) {
  lgw__openai_usage(usage, "input_tokens", "output_tokens", out);
}

static int responses_parse(const char *body, size_t len,
                           const char *content_type, lgw__reply_t *out,
                           lgw_error_t *err) {
  cJSON *root;
  const cJSON *usage;
  lgw__buf_t text;
  int rc;
  lgw__reply_no_usage(out);
  rc = lgw__decode_body(body, len, content_type, &root, err);
  if (rc) return rc;
  lgw__buf_init(&text);
  rc = extract(root, &text);
  usage = cJSON_GetObjectItemCaseSensitive(root, "usage");
  if (!cJSON_IsObject(usage)) {
    const cJSON *resp = cJSON_GetObjectItemCaseSensitive(root, "response");
    usage = cJSON_GetObjectItemCaseSensitive(resp, "usage");
  }
  read_usage(usage, out);
  return lgw__openai_reply_end(root, &text, rc, out, err);
}

/* Responses stream: output_text.delta events carry the text (a part is
 * one output_index/content_index pair); response.completed and
 * response.incomplete end it with the usage; response.failed and error
 * events are errors. A stream whose text came only in the final response
 * gives that text as one delta. */
static int responses_stream_event(lgw__stream_t *s, const char *data,
                                  size_t len, lgw_error_t *err) {
  cJSON *o = cJSON_ParseWithLength(data, len);
  const cJSON *t = cJSON_GetObjectItemCaseSensitive(o, "type"), *v;
  const char *type = cJSON_IsString(t) ? t->valuestring : "";
  int rc = 0;
  if (strcmp(type, "response.output_text.delta") == 0) {
    v = cJSON_GetObjectItemCaseSensitive(o, "delta");
    if (cJSON_IsString(v))
      rc = lgw__stream_text(s, lgw__json_count(o, "output_index") * 1000 +
                                   lgw__json_count(o, "content_index"),
                            v->valuestring);
  } else if (strcmp(type, "response.completed") == 0 ||
             strcmp(type, "response.incomplete") == 0) {
    v = cJSON_GetObjectItemCaseSensitive(o, "response");
    read_usage(cJSON_GetObjectItemCaseSensitive(v, "usage"), &s->reply);
    s->done = 1;
    if (!s->text.len) {
      lgw__buf_t text;
      lgw__buf_init(&text);
      rc = extract(v, &text);
      if (!rc && text.len) rc = lgw__stream_text(s, 0, text.data);
      lgw__buf_free(&text);
    }
  } else if (strcmp(type, "response.failed") == 0) {
    v = cJSON_GetObjectItemCaseSensitive(o, "response");
    v = cJSON_GetObjectItemCaseSensitive(v, "error");
    rc = lgw__error_object(v, err);
  } else if (strcmp(type, "error") == 0) {
    v = cJSON_GetObjectItemCaseSensitive(o, "error");
    rc = lgw__error_object(cJSON_IsObject(v) ? v : o, err);
  }
  cJSON_Delete(o);
  if (rc == LGW_ENOMEM)
    return lgw__error_set(err, LGW_ENOMEM, "out of memory reading stream");
  return rc;
}

const lgw__transport_t lgw__transport_responses = {
  "responses", responses_url, lgw__openai_headers, responses_body,
  responses_parse, responses_stream_event};
