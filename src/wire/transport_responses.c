/*
 * transport_responses.c -- the OpenAI Responses wire format (api_style
 * "responses" / "openai_responses"): POST {base}/responses, system turns as
 * "instructions", other turns as {role, content: "<text>"} input items.
 */
#include "transport.h"

#include "cjson_dl.h"  /* <cJSON.h>, the calls through a table */
#include <stdio.h>
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

static const char api[] = "OpenAI Responses API";

/* Content parts: input_text, input_image (detail "auto" when unset: the
 * spec requires it and documents that default), input_file (file_data
 * as a data URL). */
static int parts_list(lgw__buf_t *b, const lgw_rich_message_t *m, size_t mi,
                      lgw_error_t *err) {
  size_t i;
  int rc = lgw__buf_addc(b, '[');
  for (i = 0; !rc && i < m->nparts; i++) {
    const lgw_part_t *p = &m->parts[i];
    if ((rc = lgw__part_check(p, mi, i + 1, err)) != 0) break;
    rc = i ? lgw__buf_addc(b, ',') : 0;
    if (!rc && p->type == LGW_PART_TEXT) {
      rc = lgw__buf_adds(b, "{\"type\":\"input_text\",\"text\":");
      rc = rc ? rc : lgw__json_add_str(b, p->text ? p->text : "",
                                       p->text ? strlen(p->text) : 0);
    } else if (!rc && p->type == LGW_PART_IMAGE) {
      const char *d = lgw__is_blank(p->detail) ? "auto" : p->detail;
      rc = lgw__buf_adds(b, "{\"type\":\"input_image\",\"image_url\":");
      rc = rc ? rc : lgw__json_add_image_src(b, p);
      rc = rc ? rc : lgw__json_add_key(b, "detail");
      rc = rc ? rc : lgw__json_add_str(b, d, strlen(d));
    } else if (!rc) {
      rc = lgw__buf_adds(b, "{\"type\":\"input_file\",");
      rc = rc ? rc : lgw__json_add_file_fields(b, p);
    }
    rc = rc ? rc : lgw__buf_addc(b, '}');
  }
  return rc ? rc : lgw__buf_addc(b, ']');
}

/* An assistant message's tool calls as function_call items. */
static int call_items(lgw__buf_t *b, const lgw_rich_message_t *m, size_t mi,
                      size_t *items, lgw_error_t *err) {
  size_t i;
  int rc = 0;
  for (i = 0; !rc && i < m->ntool_calls; i++) {
    const lgw_tool_call_t *t = &m->tool_calls[i];
    const char *args = lgw__is_blank(t->arguments_json) ? "{}"
                                                        : t->arguments_json;
    if ((rc = lgw__tool_call_check(t, mi, i + 1, err)) != 0) return rc;
    rc = lgw__buf_adds(b, (*items)++ ? ",{\"type\":\"function_call\","
                                       "\"call_id\":"
                                     : "{\"type\":\"function_call\","
                                       "\"call_id\":");
    rc = rc ? rc : lgw__json_add_str(b, t->id, strlen(t->id));
    rc = rc ? rc : lgw__buf_adds(b, ",\"name\":");
    rc = rc ? rc : lgw__json_add_str(b, t->name, strlen(t->name));
    rc = rc ? rc : lgw__buf_adds(b, ",\"arguments\":");
    rc = rc ? rc : lgw__json_add_str(b, args, strlen(args));
    rc = rc ? rc : lgw__buf_addc(b, '}');
  }
  return rc;
}

/* One message as input items: a tool result is a function_call_output
 * item; an assistant message with tool calls is its text (when any) and
 * function_call items; others are {role, content} with content a string
 * or a list of parts (an assistant's parts are joined: text only). */
static int message_items(lgw__buf_t *b, const lgw_rich_message_t *m, size_t mi,
                         size_t *items, lgw_error_t *err) {
  lgw__role_t k = lgw__role_kind(m->role);
  const char *text = m->content ? m->content : "";
  int rc = 0;
  if (lgw__msg_is_tool_result(m)) {
    rc = lgw__buf_adds(b, (*items)++ ? ",{\"type\":\"function_call_output\","
                                       "\"call_id\":"
                                     : "{\"type\":\"function_call_output\","
                                       "\"call_id\":");
    rc = rc ? rc : lgw__json_add_str(b, m->tool_call_id,
                                     strlen(m->tool_call_id));
    rc = rc ? rc : lgw__buf_adds(b, ",\"output\":");
    if (!rc && m->nparts) rc = parts_list(b, m, mi, err);
    else if (!rc) rc = lgw__json_add_str(b, text, strlen(text));
    return rc ? rc : lgw__buf_addc(b, '}');
  }
  if (m->ntool_calls && k != LGW__ROLE_ASSISTANT)
    return lgw__rich_fail(err, "message %zu: only assistant messages carry "
                          "tool_calls", mi);
  if (k == LGW__ROLE_ASSISTANT && (m->nparts || m->ntool_calls)) {
    lgw__buf_t t;
    lgw__buf_init(&t);
    rc = lgw__msg_text(m, mi, api, "assistant", &t, err);
    if (!rc && !(m->ntool_calls && lgw__blank_n(t.data, t.len))) {
      rc = lgw__buf_adds(b, (*items)++ ? ",{\"role\":\"assistant\","
                                         "\"content\":"
                                       : "{\"role\":\"assistant\","
                                         "\"content\":");
      rc = rc ? rc : lgw__json_add_str(b, t.data ? t.data : "", t.len);
      rc = rc ? rc : lgw__buf_addc(b, '}');
    }
    lgw__buf_free(&t);
    return rc ? rc : call_items(b, m, mi, items, err);
  }
  rc = lgw__buf_printf(b, "%s{\"role\":\"%s\",\"content\":",
                       (*items)++ ? "," : "", item_role(k));
  if (!rc && m->nparts) rc = parts_list(b, m, mi, err);
  else if (!rc) rc = lgw__json_add_str(b, text, strlen(text));
  return rc ? rc : lgw__buf_addc(b, '}');
}

static int tools_def(lgw__buf_t *b, const lgw__call_t *c,
                     lgw_error_t *err) {
  size_t i;
  int rc = 0;
  if (c->ntools) rc = lgw__buf_adds(b, ",\"tools\":[");
  for (i = 0; !rc && i < c->ntools; i++) {
    const lgw_tool_t *t = &c->tools[i];
    rc = lgw__json_add_tool(b, t, i, "{\"type\":\"function\",\"name\":",
                            "parameters", err);
    rc = rc ? rc : lgw__buf_adds(b, t->strict ? ",\"strict\":true}"
                                              : ",\"strict\":false}");
  }
  if (!rc && c->ntools) rc = lgw__buf_addc(b, ']');
  return rc ? rc : lgw__openai_tool_choice(b, c, 1, err);
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
  for (i = 0; !rc && i < lgw__call_nmsgs(c); i++) {
    lgw_rich_message_t tmp;
    const lgw_rich_message_t *m = lgw__call_msg(c, i, &tmp);
    if (lgw__role_kind(m->role) == LGW__ROLE_SYSTEM) {
      lgw__buf_t t;
      lgw__buf_init(&t);
      rc = lgw__msg_text(m, i + 1, api, "system", &t, err);
      lgw__strip_range(t.data ? t.data : "", t.len, &a, &e);
      if (!rc && a < e) {
        if (sys.len) rc = lgw__buf_adds(&sys, "\n\n");
        rc = rc ? rc : lgw__buf_add(&sys, t.data, t.len);
      }
      lgw__buf_free(&t);
      continue;
    }
    rc = message_items(&b, m, i + 1, &items, err);
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
  rc = rc ? rc : tools_def(&b, c, err);
  if (!rc && c->schema_json) {
    rc = lgw__buf_adds(&b, ",\"text\":{\"format\":{\"type\":\"json_schema\",");
    rc = rc ? rc : lgw__body_schema_named(&b, c, err);
    rc = rc ? rc : lgw__buf_adds(&b, "}}");
  }
  /* no stop sequences nor seed in this API */
  rc = rc ? rc : lgw__body_params(&b, c, NULL, 0, "user", 1, err);
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

/* A function_call item into t (key: its output index). */
static int read_call(const cJSON *it, lgw__tcall_t *t, int nul) {
  const cJSON *id = cJSON_GetObjectItemCaseSensitive(it, "call_id");
  const cJSON *name = cJSON_GetObjectItemCaseSensitive(it, "name");
  const cJSON *args = cJSON_GetObjectItemCaseSensitive(it, "arguments");
  int rc = lgw__tcall_names(t, id, name, nul);
  if (!rc && cJSON_IsString(args)) {
    t->args.len = 0;
    if (t->args.data) t->args.data[0] = '\0';
    rc = lgw__json_text(&t->args, args->valuestring, nul);
  }
  return rc;
}

static int is_call(const cJSON *it) {
  const cJSON *ty = cJSON_GetObjectItemCaseSensitive(it, "type");
  return cJSON_IsString(ty) && strcmp(ty->valuestring, "function_call") == 0;
}

/* The function_call items of a response object's output. */
static int read_calls(const cJSON *r, lgw__tcalls_t *l, int nul) {
  const cJSON *it;
  long k = 0;
  cJSON_ArrayForEach(it, cJSON_GetObjectItemCaseSensitive(r, "output")) {
    lgw__tcall_t *t;
    k++;
    if (!is_call(it)) continue;
    if (!(t = lgw__tcalls_add(l, k - 1)) || read_call(it, t, nul))
      return LGW_ENOMEM;
  }
  return 0;
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

/* The cJSON path of responses_parse, read in place (json.h) for the
 * usual answer: an object without a nested "response", whose output is a
 * list of items with text or function calls. 0 with out filled, LGW_ENOMEM,
 * or LGW__JV_UNSURE with out as it was (the cJSON path then reads it). */
typedef struct fast {
  lgw__buf_t text, refusal;
  lgw__tcalls_t calls;
  int parts, refused, has_call;
} fast_t;

/* One non-empty text piece; pieces are joined with "\n". */
static int fast_piece(fast_t *f, const lgw__jv_t *v) {
  size_t mark = f->text.len;
  int rc;
  if (v->type != LGW__JV_STR) return 0;
  if (f->parts && lgw__buf_addc(&f->text, '\n')) return LGW_ENOMEM;
  rc = lgw__jv_str(v, &f->text);
  if (!rc && f->text.len == mark + (f->parts ? 1 : 0)) {
    f->text.len = mark;   /* empty: not a piece */
    f->text.data[mark] = '\0';
    return 0;
  }
  if (!rc) f->parts++;
  return rc;
}

/* The parts of an item's content list: refusals, and text pieces when
 * text is set. */
static int fast_content(fast_t *f, const lgw__jv_t *content, int text) {
  lgw__jv_t part, v, r;
  int rc = 0, eq;
  for (lgw__jv_first(content, &part); !rc && part.type != LGW__JV_NONE;
       lgw__jv_next(&part)) {
    if (part.type == LGW__JV_STR) {
      rc = text ? fast_piece(f, &part) : 0;
      continue;
    }
    if (part.type != LGW__JV_OBJ) continue;
    if (lgw__jv_get(&part, "type", &v) || lgw__jv_eq(&v, "refusal", &eq) ||
        lgw__jv_get(&part, "refusal", &r) || lgw__jv_get(&part, "text", &v))
      return LGW__JV_UNSURE;
    if (eq && r.type == LGW__JV_STR) {
      if ((f->refused && f->refusal.len &&
           lgw__buf_addc(&f->refusal, '\n')) ||
          (rc = lgw__jv_str(&r, &f->refusal)) == LGW_ENOMEM)
        return LGW_ENOMEM;
      f->refused = 1;
    }
    rc = rc || !text ? rc : fast_piece(f, &v);
  }
  return rc;
}

/* A function_call item, key: its place in the output list. */
static int fast_call(fast_t *f, const lgw__jv_t *item, long key) {
  lgw__jv_t id, name, args;
  lgw__tcall_t *t;
  int rc;
  if (lgw__jv_get(item, "call_id", &id) || lgw__jv_get(item, "name", &name) ||
      lgw__jv_get(item, "arguments", &args))
    return LGW__JV_UNSURE;
  if (!(t = lgw__tcalls_add(&f->calls, key))) return LGW_ENOMEM;
  rc = lgw__jv_set_str(&t->id, &id, 1);
  rc = rc ? rc : lgw__jv_set_str(&t->name, &name, 1);
  if (!rc && args.type == LGW__JV_STR) rc = lgw__jv_str(&args, &t->args);
  return rc;
}

static int fast_output(fast_t *f, const lgw__jv_t *output, int text) {
  lgw__jv_t item, ty, content;
  long k = 0;
  int rc = 0, call;
  for (lgw__jv_first(output, &item); !rc && item.type != LGW__JV_NONE;
       lgw__jv_next(&item), k++) {
    if (item.type != LGW__JV_OBJ) continue;
    if (lgw__jv_get(&item, "type", &ty) ||
        lgw__jv_eq(&ty, "function_call", &call) ||
        lgw__jv_get(&item, "content", &content) ||
        (content.type != LGW__JV_NONE && content.type != LGW__JV_NULL &&
         content.type != LGW__JV_STR && content.type != LGW__JV_ARR))
      return LGW__JV_UNSURE;
    if (call) {
      f->has_call = 1;
      rc = fast_call(f, &item, k);
    }
    if (!rc && content.type == LGW__JV_STR)
      rc = text ? fast_piece(f, &content) : 0;
    else if (!rc && content.type == LGW__JV_ARR)
      rc = fast_content(f, &content, text);
  }
  return rc;
}

/* What the answer is read for, in one pass (lgw__jv_read). */
enum {
  RESPONSE, OUTPUT, OUTPUT_TEXT, USAGE, STATUS, INCOMPLETE, ERROR, U_IN,
  U_OUT, U_CACHED, U_REASONING, U_IN_D, U_OUT_D, REASON, R_N
};
static const lgw__jv_pick_t cached_pick[] = {
  LGW__PICK("cached_tokens", U_CACHED)};
static const lgw__jv_pick_t reasoning_pick[] = {
  LGW__PICK("reasoning_tokens", U_REASONING)};
static const lgw__jv_pick_t usage_picks[] = {
  LGW__PICK("input_tokens", U_IN), LGW__PICK("output_tokens", U_OUT),
  LGW__PICKS("input_tokens_details", U_IN_D, cached_pick),
  LGW__PICKS("output_tokens_details", U_OUT_D, reasoning_pick)};
static const lgw__jv_pick_t reason_pick[] = {LGW__PICK("reason", REASON)};
static const lgw__jv_pick_t top_picks[] = {
  LGW__PICK("response", RESPONSE), LGW__PICK("output", OUTPUT),
  LGW__PICK("output_text", OUTPUT_TEXT),
  LGW__PICKS("usage", USAGE, usage_picks), LGW__PICK("status", STATUS),
  LGW__PICKS("incomplete_details", INCOMPLETE, reason_pick),
  LGW__PICK("error", ERROR)};

static int parse_fast(const char *body, size_t len, lgw__reply_t *out) {
  lgw__jv_t m[R_N], *output = &m[OUTPUT], *status = &m[STATUS];
  lgw__reply_t u;
  const char *finish = NULL;
  fast_t f;
  int rc, eq;
  if (lgw__read_in_place(body, len, LGW__IN_PLACE_MAX, 1,
                         top_picks, 7, m, R_N) ||
      m[RESPONSE].type != LGW__JV_NONE ||
      (output->type != LGW__JV_ARR && output->type != LGW__JV_NONE &&
       output->type != LGW__JV_NULL) ||
      lgw__usage_read(&m[U_IN], &u))
    return LGW__JV_UNSURE;
  memset(&f, 0, sizeof f);
  lgw__buf_init(&f.text);
  lgw__buf_init(&f.refusal);
  /* output_text, when it has text, is the text; the items' refusals are
   * read all the same */
  rc = m[OUTPUT_TEXT].type == LGW__JV_STR
           ? lgw__jv_str(&m[OUTPUT_TEXT], &f.text) : 0;
  rc = rc ? rc : fast_output(&f, output, !f.text.len);
  if (!rc && !lgw__jv_eq(status, "completed", &eq) && eq) {
    finish = f.has_call ? "tool_calls" : "stop";
  } else if (!rc && !lgw__jv_eq(status, "incomplete", &eq) && eq) {
    rc = lgw__jv_finish(&m[REASON], &finish);
  } else if (!rc && status->type == LGW__JV_STR) {
    rc = lgw__jv_eq(status, "", &eq);   /* escapes: unsure */
  }
  /* without text or refusal, an error object is looked for on the cJSON
   * path */
  if (!rc && lgw__blank_n(f.text.data, f.text.len) && !f.refused &&
      m[ERROR].type == LGW__JV_OBJ)
    rc = LGW__JV_UNSURE;
  if (!rc && f.refused)
    rc = lgw__reply_set_refusal(out, f.refusal.data ? f.refusal.data : "",
                                f.refusal.len);
  lgw__buf_free(&f.refusal);
  return lgw__reply_fill(out, rc, &f.text, &u, finish, &f.calls);
}

static int responses_parse(const char *body, size_t len,
                           const char *content_type, lgw__reply_t *out,
                           lgw_error_t *err) {
  cJSON *root;
  const cJSON *usage, *resp;
  lgw__buf_t text, refusal;
  int rc, nul, refused = 0;
  lgw__reply_begin(out);
  rc = lgw__parse_in_place(body, len, parse_fast, out, err);
  if (rc != LGW__JV_UNSURE) return rc;
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
  if (!rc) rc = read_calls(cJSON_IsObject(resp) ? resp : root, &out->calls,
                           nul);
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

/* The most frequent event, response.output_text.delta, read in place: 0
 * (done), LGW_ENOMEM, or LGW__JV_UNSURE for any other event (the tree
 * reads it). */
static int text_delta_fast(lgw__stream_t *s, const char *data, size_t n) {
  static const char *const keys[] = {"type", "delta", "output_index",
                                     "content_index"};
  lgw__jv_t root, m[4];
  long out_i, content_i;
  int eq;
  if (n > LGW__IN_PLACE_MAX || lgw__jv_root(data, n, &root) ||
      lgw__jv_getv(&root, keys, m, 4) ||
      lgw__jv_eq(&m[0], "response.output_text.delta", &eq) || !eq ||
      m[1].type != LGW__JV_STR || lgw__jv_int(&m[2], &out_i) ||
      lgw__jv_int(&m[3], &content_i))
    return LGW__JV_UNSURE;
  return lgw__stream_jv_text(s, out_i * 1000 + content_i, &m[1]);
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
  const cJSON *v;
  const char *type;
  int rc, nul;
  if (!lgw__stream_event_open(s, data, len, 1, text_delta_fast, &o, &type,
                              &nul, &rc, err))
    return rc;
  if (strcmp(type, "response.output_text.delta") == 0) {
    v = cJSON_GetObjectItemCaseSensitive(o, "delta");
    if (cJSON_IsString(v))
      rc = lgw__stream_json_text(s, lgw__json_count(o, "output_index") * 1000 +
                                        lgw__json_count(o, "content_index"),
                                 v->valuestring, nul);
  } else if (strcmp(type, "response.output_item.added") == 0 ||
             strcmp(type, "response.output_item.done") == 0) {
    long k = lgw__json_count(o, "output_index");
    v = cJSON_GetObjectItemCaseSensitive(o, "item");
    if (is_call(v)) {
      lgw__tcall_t *tc = lgw__tcalls_find(&s->calls, k);
      if (!tc) tc = lgw__tcalls_add(&s->calls, k);
      rc = tc ? read_call(v, tc, nul) : LGW_ENOMEM;
    }
  } else if (strcmp(type, "response.function_call_arguments.delta") == 0 ||
             strcmp(type, "response.function_call_arguments.done") == 0) {
    long k = lgw__json_count(o, "output_index");
    lgw__tcall_t *tc = lgw__tcalls_find(&s->calls, k);
    if (!tc) tc = lgw__tcalls_add(&s->calls, k);
    if (!tc) {
      rc = LGW_ENOMEM;
    } else if (strcmp(type, "response.function_call_arguments.delta") ==
               0) {
      v = cJSON_GetObjectItemCaseSensitive(o, "delta");
      if (cJSON_IsString(v)) rc = lgw__json_text(&tc->args, v->valuestring,
                                                 nul);
    } else {
      rc = read_call(o, tc, nul);  /* the whole arguments */
    }
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
      if (!rc && !s->calls.n) rc = read_calls(v, &s->calls, nul);
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
  return lgw__stream_event_end(o, rc, err);
}

const lgw__transport_t lgw__transport_responses = {
  "responses", responses_url, lgw__openai_headers, responses_body,
  responses_parse, responses_stream_event};
