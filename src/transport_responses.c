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
 * text parts of every output item's content. Refusal parts ({"type":
 * "refusal", "refusal": R}) are joined into *refusal when it is not NULL
 * (and *refused set). */
static int extract(const cJSON *o, lgw__buf_t *b, int nul,
                   lgw__buf_t *refusal, int *refused) {
  const cJSON *v, *item;
  int parts = 0, n;
  size_t mark = b->len;
  if (!cJSON_IsObject(o)) return 0;
  v = cJSON_GetObjectItemCaseSensitive(o, "response");
  if (cJSON_IsObject(v)) {
    if ((n = extract(v, b, nul, refusal, refused)) < 0) return n;
    if (b->len > mark || (refused && *refused)) return 0;
  }
  v = cJSON_GetObjectItemCaseSensitive(o, "output");
  cJSON_ArrayForEach(item, (refusal && cJSON_IsArray(v) ? v : NULL)) {
    const cJSON *part;
    cJSON_ArrayForEach(part, cJSON_GetObjectItemCaseSensitive(item,
                                                              "content")) {
      const cJSON *ty = cJSON_GetObjectItemCaseSensitive(part, "type");
      const cJSON *r = cJSON_GetObjectItemCaseSensitive(part, "refusal");
      if (!cJSON_IsString(ty) || strcmp(ty->valuestring, "refusal") != 0 ||
          !cJSON_IsString(r))
        continue;
      if ((*refused && refusal->len && lgw__buf_addc(refusal, '\n')) ||
          lgw__json_text(refusal, r->valuestring, nul))
        return LGW_ENOMEM;
      *refused = 1;
    }
  }
  v = cJSON_GetObjectItemCaseSensitive(o, "output_text");
  if (cJSON_IsString(v) && *v->valuestring)
    return lgw__json_text(b, v->valuestring, nul);
  v = cJSON_GetObjectItemCaseSensitive(o, "output");
  if (!cJSON_IsArray(v)) return 0;
  cJSON_ArrayForEach(item, v) {
    const cJSON *content = cJSON_GetObjectItemCaseSensitive(item, "content");
    if (!cJSON_IsObject(item)) continue;
    if (cJSON_IsString(content) && *content->valuestring) {
      if ((parts && lgw__buf_addc(b, '\n')) ||
          lgw__json_text(b, content->valuestring, nul))
        return LGW_ENOMEM;
      parts++;
    } else if (cJSON_IsArray(content)) {
      lgw__buf_t sub;
      lgw__buf_init(&sub);
      n = lgw__json_text_parts(content, &sub, nul);
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

/* The normalised finish reason of a response object: "completed" is
 * "stop" ("tool_calls" when it calls a function), "incomplete" its
 * incomplete_details.reason (max_output_tokens -> "length"). */
static const char *finish_of(const cJSON *r) {
  const cJSON *st = cJSON_GetObjectItemCaseSensitive(r, "status"), *it;
  if (!cJSON_IsString(st)) return NULL;
  if (strcmp(st->valuestring, "completed") == 0) {
    cJSON_ArrayForEach(it, cJSON_GetObjectItemCaseSensitive(r, "output")) {
      const cJSON *ty = cJSON_GetObjectItemCaseSensitive(it, "type");
      if (cJSON_IsString(ty) && strcmp(ty->valuestring, "function_call") == 0)
        return "tool_calls";
    }
    return "stop";
  }
  if (strcmp(st->valuestring, "incomplete") == 0) {
    const cJSON *d = cJSON_GetObjectItemCaseSensitive(r, "incomplete_details");
    const cJSON *why = cJSON_GetObjectItemCaseSensitive(d, "reason");
    return cJSON_IsString(why) ? lgw__finish_reason(why->valuestring) : NULL;
  }
  return NULL;
}

static int responses_parse(const char *body, size_t len,
                           const char *content_type, lgw__reply_t *out,
                           lgw_error_t *err) {
  cJSON *root;
  const cJSON *usage, *resp;
  lgw__buf_t text, refusal;
  int rc, nul, refused = 0;
  lgw__reply_begin(out);
  rc = lgw__decode_body(body, len, content_type, &root, &nul, err);
  if (rc) return rc;
  lgw__buf_init(&text);
  lgw__buf_init(&refusal);
  rc = extract(root, &text, nul, &refusal, &refused);
  resp = cJSON_GetObjectItemCaseSensitive(root, "response");
  usage = cJSON_GetObjectItemCaseSensitive(root, "usage");
  if (!cJSON_IsObject(usage))
    usage = cJSON_GetObjectItemCaseSensitive(resp, "usage");
  read_usage(usage, out);
  out->finish_reason = finish_of(cJSON_IsObject(resp) ? resp : root);
  if (!rc && refused) rc = lgw__reply_set_refusal(out, refusal.data,
                                                  refusal.len);
  lgw__buf_free(&refusal);
  return lgw__openai_reply_end(root, &text, rc, out, err);
}

/* A response.failed or response.incomplete event as an error: the
 * response's error object, else "<event type>: <reason>". */
static int response_error(const cJSON *resp, const char *type,
                          lgw_error_t *err) {
  const cJSON *e = cJSON_GetObjectItemCaseSensitive(resp, "error");
  const cJSON *d = cJSON_GetObjectItemCaseSensitive(resp,
                                                    "incomplete_details");
  const cJSON *why = cJSON_GetObjectItemCaseSensitive(d, "reason");
  int rc;
  if (cJSON_IsObject(e)) return lgw__error_object(e, err);
  rc = lgw__error_set(err, LGW_EHTTP, "%s: %s", type,
                      cJSON_IsString(why) ? why->valuestring
                                          : "no reason given");
  if (err) err->http_status = 500;
  return rc;
}

/* Responses stream (with or without "event:" lines; a "[DONE]" is
 * ignored): output_text.delta events carry the text (a part is one
 * output_index/content_index pair), refusal.delta events a refusal;
 * response.completed ends it with the usage, and so does
 * response.incomplete cut by max_output_tokens or a content filter;
 * response.failed, any other response.incomplete and error events are
 * errors. A stream whose text came only in the final response gives that
 * text as one delta. Reasoning summaries and other events are not text. */
static int responses_stream_event(lgw__stream_t *s, const char *data,
                                  size_t len, lgw_error_t *err) {
  cJSON *o;
  const cJSON *t, *v;
  const char *type;
  size_t a, e;
  int rc = 0, nul;
  lgw__strip_range(data, len, &a, &e);
  if (a == e || (e - a == 6 && memcmp(data + a, "[DONE]", 6) == 0)) return 0;
  o = lgw__json_parse(data + a, e - a, &nul);
  if (!o) return lgw__stream_malformed(data, len, err);
  t = cJSON_GetObjectItemCaseSensitive(o, "type");
  type = cJSON_IsString(t) ? t->valuestring : "";
  if (strcmp(type, "response.output_text.delta") == 0) {
    v = cJSON_GetObjectItemCaseSensitive(o, "delta");
    if (cJSON_IsString(v))
      rc = lgw__stream_json_text(s, lgw__json_count(o, "output_index") * 1000 +
                                        lgw__json_count(o, "content_index"),
                                 v->valuestring, nul);
  } else if (strcmp(type, "response.refusal.delta") == 0) {
    v = cJSON_GetObjectItemCaseSensitive(o, "delta");
    if (cJSON_IsString(v)) {
      s->refused = 1;
      rc = lgw__json_text(&s->refusal, v->valuestring, nul);
    }
  } else if (strcmp(type, "response.completed") == 0 ||
             strcmp(type, "response.incomplete") == 0) {
    v = cJSON_GetObjectItemCaseSensitive(o, "response");
    s->finish_reason = finish_of(v);
    if (strcmp(type, "response.incomplete") == 0 && !s->finish_reason) {
      rc = response_error(v, type, err);
    } else {
      lgw__buf_t text, refusal;
      int refused = 0;
      read_usage(cJSON_GetObjectItemCaseSensitive(v, "usage"), &s->reply);
      s->done = 1;
      lgw__buf_init(&text);
      lgw__buf_init(&refusal);
      rc = extract(v, &text, nul, &refusal, &refused);
      if (!rc && !s->text.len && text.len)
        rc = lgw__stream_text(s, 0, text.data, text.len);
      if (!rc && refused && !s->refused) {
        s->refused = 1;
        rc = lgw__buf_add(&s->refusal, refusal.data, refusal.len);
      }
      lgw__buf_free(&text);
      lgw__buf_free(&refusal);
    }
  } else if (strcmp(type, "response.failed") == 0) {
    rc = response_error(cJSON_GetObjectItemCaseSensitive(o, "response"),
                        type, err);
  } else if (strcmp(type, "error") == 0) {
    v = cJSON_GetObjectItemCaseSensitive(o, "error");
    rc = lgw__error_object(cJSON_IsObject(v) ? v : o, err);
  } else {
    rc = lgw__stream_error_event(s, o, err);
  }
  cJSON_Delete(o);
  if (rc == LGW_ENOMEM)
    return lgw__error_set(err, LGW_ENOMEM, "out of memory reading stream");
  return rc;
}

const lgw__transport_t lgw__transport_responses = {
  "responses", responses_url, lgw__openai_headers, responses_body,
  responses_parse, responses_stream_event};
