/*
 * transport_chat.c -- the OpenAI Chat Completions wire format (api_style
 * "openai_chat"): POST {base}/chat/completions, messages passed through
 * (known roles in their canonical spelling), text from
 * choices[0].message.content. The body builder and the parser
 * also serve the LiteLLM proxy transport.
 */
#include "transport.h"

#include "cjson_dl.h"  /* <cJSON.h>, the calls through a table */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "sse.h"

char *lgw__chat_url(const lgw__provider_t *p) {
  return lgw__endpoint_url(p->base_url, "/chat/completions",
                           "/chat/completions");
}

/* The API's roles are lower-case enums: " System " or "USER" would be
 * rejected, so known roles are sent in their canonical spelling. Other
 * roles (tool, function, ...) pass through as given. */
static const char *chat_role(const char *role) {
  switch (lgw__role_kind(role)) {
    case LGW__ROLE_USER: return "user";
    case LGW__ROLE_ASSISTANT: return "assistant";
    case LGW__ROLE_SYSTEM: return "system";
    case LGW__ROLE_DEVELOPER: return "developer";
    default: return role;
  }
}

/* One content part of message mi (1-based) in the Chat format: text,
 * image_url (a data URL for bytes), file (file_data as a data URL). */
static int chat_part(lgw__buf_t *b, const lgw_part_t *p, size_t mi,
                     size_t pi, lgw_error_t *err) {
  int rc = lgw__part_check(p, mi, pi, err);
  if (rc) return rc;
  if (p->type == LGW_PART_TEXT) {
    rc = lgw__buf_adds(b, "{\"type\":\"text\",\"text\":");
    rc = rc ? rc : lgw__json_add_str(b, p->text ? p->text : "",
                                     p->text ? strlen(p->text) : 0);
  } else if (p->type == LGW_PART_IMAGE) {
    rc = lgw__buf_adds(b, "{\"type\":\"image_url\",\"image_url\":{\"url\":");
    rc = rc ? rc : lgw__json_add_image_src(b, p);
    if (!rc && !lgw__is_blank(p->detail)) {
      rc = lgw__json_add_key(b, "detail");
      rc = rc ? rc : lgw__json_add_str(b, p->detail, strlen(p->detail));
    }
    rc = rc ? rc : lgw__buf_addc(b, '}');
  } else {
    rc = lgw__buf_adds(b, "{\"type\":\"file\",\"file\":{");
    rc = rc ? rc : lgw__json_add_file_fields(b, p);
    rc = rc ? rc : lgw__buf_addc(b, '}');
  }
  return rc ? rc : lgw__buf_addc(b, '}');
}

/* The content of message m (index mi, 1-based) as a list of parts: any
 * part in a user message, text parts in the others (the API's system,
 * developer, assistant and tool messages take only text). */
static int chat_parts(lgw__buf_t *b, const lgw_rich_message_t *m, size_t mi,
                      const char *api, lgw_error_t *err) {
  lgw__role_t k = lgw__role_kind(m->role);
  int any = k == LGW__ROLE_USER ||
            (k == LGW__ROLE_OTHER && !lgw__msg_is_tool_result(m));
  size_t i;
  int rc = lgw__buf_addc(b, '[');
  char d[96];
  for (i = 0; !rc && i < m->nparts; i++) {
    const lgw_part_t *p = &m->parts[i];
    if (!any && p->type != LGW_PART_TEXT &&
        !(rc = lgw__part_check(p, mi, i + 1, err)))
      return lgw__rich_fail(err, "message %zu part %zu (%s): the %s takes "
                            "only text in %s messages", mi, i + 1,
                            lgw__part_desc(p, d, sizeof d), api,
                            chat_role(m->role));
    rc = rc ? rc : (i ? lgw__buf_addc(b, ',') : 0);
    rc = rc ? rc : chat_part(b, p, mi, i + 1, err);
  }
  return rc ? rc : lgw__buf_addc(b, ']');
}

static int chat_tool_calls(lgw__buf_t *b, const lgw_rich_message_t *m,
                           size_t mi, lgw_error_t *err) {
  size_t i;
  int rc = lgw__buf_adds(b, ",\"tool_calls\":[");
  for (i = 0; !rc && i < m->ntool_calls; i++) {
    const lgw_tool_call_t *t = &m->tool_calls[i];
    const char *args = lgw__is_blank(t->arguments_json) ? "{}"
                                                        : t->arguments_json;
    if ((rc = lgw__tool_call_check(t, mi, i + 1, err)) != 0) return rc;
    rc = lgw__buf_adds(b, i ? ",{\"id\":" : "{\"id\":");
    rc = rc ? rc : lgw__json_add_str(b, t->id, strlen(t->id));
    rc = rc ? rc : lgw__buf_adds(b, ",\"type\":\"function\",\"function\":"
                                    "{\"name\":");
    rc = rc ? rc : lgw__json_add_str(b, t->name, strlen(t->name));
    rc = rc ? rc : lgw__buf_adds(b, ",\"arguments\":");
    rc = rc ? rc : lgw__json_add_str(b, args, strlen(args));
    rc = rc ? rc : lgw__buf_adds(b, "}}");
  }
  return rc ? rc : lgw__buf_addc(b, ']');
}

/* One message: role, tool_call_id (tool results), content (none for an
 * assistant message with tool calls and no text), name, tool_calls. */
static int chat_message(lgw__buf_t *b, const lgw_rich_message_t *m, size_t mi,
                        const char *api, lgw_error_t *err) {
  int tool = lgw__msg_is_tool_result(m);
  const char *role = tool ? "tool" : chat_role(m->role);
  const char *text = m->content ? m->content : "";
  int rc = lgw__buf_adds(b, "{\"role\":");
  rc = rc ? rc : lgw__json_add_str(b, role, strlen(role));
  if (!rc && tool) {
    rc = lgw__json_add_key(b, "tool_call_id");
    rc = rc ? rc : lgw__json_add_str(b, m->tool_call_id,
                                     strlen(m->tool_call_id));
  }
  if (!rc && m->nparts) {
    rc = lgw__buf_adds(b, ",\"content\":");
    rc = rc ? rc : chat_parts(b, m, mi, api, err);
  } else if (!rc && !(m->ntool_calls && !*text)) {
    rc = lgw__buf_adds(b, ",\"content\":");
    rc = rc ? rc : lgw__json_add_str(b, text, strlen(text));
  }
  if (!rc && !tool && !lgw__is_blank(m->name)) {
    rc = lgw__json_add_key(b, "name");
    rc = rc ? rc : lgw__json_add_str(b, m->name, strlen(m->name));
  }
  if (!rc && m->ntool_calls) {
    if (lgw__role_kind(m->role) != LGW__ROLE_ASSISTANT)
      return lgw__rich_fail(err, "message %zu: only assistant messages "
                            "carry tool_calls", mi);
    rc = chat_tool_calls(b, m, mi, err);
  }
  return rc ? rc : lgw__buf_addc(b, '}');
}

static int chat_tools(lgw__buf_t *b, const lgw__call_t *c,
                      lgw_error_t *err) {
  size_t i;
  int rc = lgw__buf_adds(b, ",\"tools\":[");
  for (i = 0; !rc && i < c->ntools; i++) {
    const lgw_tool_t *t = &c->tools[i];
    rc = lgw__json_add_tool(b, t, i, "{\"type\":\"function\",\"function\":"
                                     "{\"name\":", "parameters", err);
    if (!rc && t->strict) rc = lgw__buf_adds(b, ",\"strict\":true");
    rc = rc ? rc : lgw__buf_adds(b, "}}");
  }
  rc = rc ? rc : lgw__buf_addc(b, ']');
  return rc ? rc : lgw__openai_tool_choice(b, c, 0, err);
}

/* The usual body's bytes beyond its strings: {"model":"","messages":[],
 * "<tokens_key>":<10 digits>,"temperature":<up to 24>,"stream":false};
 * with stream 39 more; with reasoning_effort its key, quotes and comma;
 * per message {"role":"","content":""} and a comma. */
#define BODY_FIXED 96
#define BODY_STREAM 40
#define BODY_EFFORT 24
#define BODY_MESSAGE 26

int lgw__chat_body(const lgw__call_t *c, const char *tokens_key,
                   int with_effort, char **out, size_t *len,
                   lgw_error_t *err) {
  lgw__buf_t b;
  size_t i, est = BODY_FIXED + strlen(c->model) + strlen(tokens_key);
  int rc;
  /* LiteLLM is the one caller without reasoning_effort */
  const char *api = with_effort ? "OpenAI Chat Completions API"
                                : "LiteLLM proxy (Chat Completions format)";
  lgw__buf_init(&b);
  /* One allocation of the usual body's size: the texts plus the fixed
   * parts (it stays allocated while the request is in flight). Escapes,
   * tools and the like grow it. */
  if (c->stream) est += BODY_STREAM;
  if (with_effort && c->reasoning_effort)
    est += BODY_EFFORT + strlen(c->reasoning_effort);
  for (i = 0; i < c->nmessages; i++)
    est += BODY_MESSAGE +
           (c->messages[i].role ? strlen(c->messages[i].role) : 0) +
           (c->messages[i].content ? strlen(c->messages[i].content) : 0);
  if (!(b.data = lgw_malloc(est + 1)))
    return lgw__body_finish(&b, LGW_ENOMEM, out, len, err);
  b.data[0] = '\0';
  b.cap = est + 1;
  rc = 0;
  rc = rc ? rc : lgw__buf_adds(&b, "{\"model\":");
  rc = rc ? rc : lgw__json_add_str(&b, c->model, strlen(c->model));
  rc = rc ? rc : lgw__buf_adds(&b, ",\"messages\":[");
  for (i = 0; !rc && i < lgw__call_nmsgs(c); i++) {
    lgw_rich_message_t tmp;
    rc = i ? lgw__buf_addc(&b, ',') : 0;
    rc = rc ? rc : chat_message(&b, lgw__call_msg(c, i, &tmp), i + 1, api,
                                err);
  }
  rc = rc ? rc : lgw__buf_addc(&b, ']');
  rc = rc ? rc : lgw__json_add_key(&b, tokens_key);
  rc = rc ? rc : lgw__json_add_long(&b, c->max_tokens);
  rc = rc ? rc : lgw__body_temperature(&b, c->temperature);
  /* include_usage: the last chunk of a stream then carries the usage. */
  rc = rc ? rc : lgw__buf_adds(&b, c->stream
                    ? ",\"stream\":true,\"stream_options\":"
                      "{\"include_usage\":true}"
                    : ",\"stream\":false");
  if (!rc && with_effort && c->reasoning_effort && *c->reasoning_effort) {
    rc = lgw__json_add_key(&b, "reasoning_effort");
    rc = rc ? rc : lgw__json_add_str(&b, c->reasoning_effort,
                                     strlen(c->reasoning_effort));
  }
  if (!rc && c->ntools) rc = chat_tools(&b, c, err);
  else if (!rc) rc = lgw__openai_tool_choice(&b, c, 0, err);
  if (!rc && c->schema_json) {
    rc = lgw__buf_adds(&b, ",\"response_format\":{\"type\":\"json_schema\","
                           "\"json_schema\":{");
    rc = rc ? rc : lgw__body_schema_named(&b, c, err);
    rc = rc ? rc : lgw__buf_adds(&b, "}}");
  }
  rc = rc ? rc : lgw__body_params(&b, c, "stop", 1, "user", 1, err);
  return lgw__body_finish(&b, rc, out, len, err);
}

static int chat_body(const lgw__call_t *c, char **out, size_t *len,
                     lgw_error_t *err) {
  return lgw__chat_body(c, "max_completion_tokens", 1, out, len, err);
}

/* Python's str() of a scalar that is not text: true -> "True", numbers as
 * written; falsy values (null, false, 0) give "". */
static int py_scalar(const cJSON *v, lgw__buf_t *b) {
  if (cJSON_IsTrue(v)) return lgw__buf_adds(b, "True");
  if (cJSON_IsNumber(v) && v->valuedouble != 0) {
    double d = v->valuedouble;
    if (d == floor(d) && fabs(d) < 1e16) return lgw__buf_printf(b, "%.0f", d);
    return lgw__json_add_num(b, d);
  }
  return 0;
}

static int content_text(const cJSON *content, int py_str, int nul,
                        lgw__buf_t *b) {
  int n;
  if (cJSON_IsString(content))
    return lgw__json_text(b, content->valuestring, nul);
  if (cJSON_IsArray(content)) {
    n = lgw__json_text_parts(content, b, nul);
    return n < 0 ? n : 0;
  }
  return py_str ? py_scalar(content, b) : 0;
}

static void read_usage(const cJSON *usage, lgw__reply_t *out) {
  lgw__openai_usage(usage, "prompt_tokens", "completion_tokens", out);
}

/* The cJSON path below, read in place (lgw__jv_*): 0, LGW_ENOMEM or
 * LGW__JV_UNSURE (out untouched). */

/* A number value that is a plain 0. */
static int jv_is_zero(const lgw__jv_t *v) {
  char c = v->n > 1 ? v->p[1] : ' ';
  return v->type == LGW__JV_NUM && v->p[0] == '0' &&
         !((c >= '0' && c <= '9') || c == '.' || c == 'e' || c == 'E');
}

/* What the answer is read for, in one pass (lgw__jv_read). */
enum {
  C_CHOICES, C_FIRST, C_MSG, C_CONTENT, C_REFUSAL, C_CALLS, C_INDEX,
  C_FINISH, C_USAGE, C_IN, C_OUT, C_CACHED, C_REASONING, C_IN_D, C_OUT_D,
  C_N
};
static const lgw__jv_pick_t msg_picks[] = {
  LGW__PICK("content", C_CONTENT), LGW__PICK("refusal", C_REFUSAL),
  LGW__PICK("tool_calls", C_CALLS)};
static const lgw__jv_pick_t choice_picks[] = {
  LGW__PICKS("message", C_MSG, msg_picks), LGW__PICK("index", C_INDEX),
  LGW__PICK("finish_reason", C_FINISH)};
static const lgw__jv_pick_t first_pick[] = {
  {NULL, 0, C_FIRST, 3, choice_picks}};
static const lgw__jv_pick_t cached_pick[] = {
  LGW__PICK("cached_tokens", C_CACHED)};
static const lgw__jv_pick_t reasoning_pick[] = {
  LGW__PICK("reasoning_tokens", C_REASONING)};
static const lgw__jv_pick_t usage_picks[] = {
  LGW__PICK("prompt_tokens", C_IN), LGW__PICK("completion_tokens", C_OUT),
  LGW__PICKS("prompt_tokens_details", C_IN_D, cached_pick),
  LGW__PICKS("completion_tokens_details", C_OUT_D, reasoning_pick)};
static const lgw__jv_pick_t top_picks[] = {
  LGW__PICKS("choices", C_CHOICES, first_pick),
  LGW__PICKS("usage", C_USAGE, usage_picks)};

/* The answer read in one pass over its bytes: 0 (out filled), LGW_ENOMEM
 * or LGW__JV_UNSURE (out untouched) when a cJSON tree must read it. */
static int parse_fast(const char *body, size_t len, lgw__reply_t *out) {
  lgw__jv_t v[C_N];
  lgw__reply_t u;
  lgw__buf_t text;
  const char *finish;
  const lgw__jv_t *content = &v[C_CONTENT];
  lgw__jv_type_t t;
  int rc;
  if (lgw__read_in_place(body, len, (size_t)-1, 0, top_picks, 2, v, C_N) ||
      lgw__usage_read(&v[C_IN], &u) || lgw__jv_finish(&v[C_FINISH], &finish))
    return LGW__JV_UNSURE;
  /* other content (parts, scalars), a refusal, tool calls and a first
   * choice that is not choice 0 take the cJSON path */
  if ((content->type != LGW__JV_STR && content->type != LGW__JV_NONE &&
       content->type != LGW__JV_NULL) ||
      ((t = v[C_REFUSAL].type) != LGW__JV_NONE && t != LGW__JV_NULL) ||
      ((t = v[C_CALLS].type) != LGW__JV_NONE && t != LGW__JV_NULL) ||
      ((t = v[C_INDEX].type) != LGW__JV_NONE && t != LGW__JV_NULL &&
       !jv_is_zero(&v[C_INDEX])))
    return LGW__JV_UNSURE;
  lgw__buf_init(&text);
  rc = content->type == LGW__JV_STR ? lgw__jv_str(content, &text) : 0;
  return lgw__reply_fill(out, rc, &text, &u, finish, NULL);
}

/* One tool call (a message's or a chunk's) into t: id and name when
 * given, the arguments appended (a string; an object as its JSON). */
static int read_call(const cJSON *tc, lgw__tcall_t *t, int nul) {
  const cJSON *id = cJSON_GetObjectItemCaseSensitive(tc, "id");
  const cJSON *fn = cJSON_GetObjectItemCaseSensitive(tc, "function");
  const cJSON *name = cJSON_GetObjectItemCaseSensitive(fn, "name");
  const cJSON *args = cJSON_GetObjectItemCaseSensitive(fn, "arguments");
  int rc = lgw__tcall_names(t, id, name, nul);
  if (!rc && cJSON_IsString(args)) {
    rc = lgw__json_text(&t->args, args->valuestring, nul);
  } else if (!rc && cJSON_IsObject(args)) {
    char *j = cJSON_PrintUnformatted(args);
    rc = j ? lgw__buf_adds(&t->args, j) : LGW_ENOMEM;
    cJSON_free(j);
  }
  return rc;
}

static int read_calls(const cJSON *msg, lgw__tcalls_t *l, int nul) {
  const cJSON *tc;
  long k = 0;
  cJSON_ArrayForEach(tc, cJSON_GetObjectItemCaseSensitive(msg, "tool_calls")) {
    lgw__tcall_t *t;
    if (!cJSON_IsObject(tc)) continue;
    if (!(t = lgw__tcalls_add(l, k++)) || read_call(tc, t, nul))
      return LGW_ENOMEM;
  }
  return 0;
}

static const char *finish_of(const cJSON *choice) {
  const cJSON *f = cJSON_GetObjectItemCaseSensitive(choice, "finish_reason");
  return cJSON_IsString(f) ? lgw__finish_reason(f->valuestring) : NULL;
}

int lgw__chat_parse(const char *body, size_t len, const char *content_type,
                    int py_str, lgw__reply_t *out, lgw_error_t *err) {
  cJSON *root;
  const cJSON *first, *msg, *usage, *refusal;
  lgw__buf_t text;
  int rc, nul;
  lgw__reply_begin(out);
  rc = lgw__parse_in_place(body, len, parse_fast, out, err);
  if (rc == LGW_ENOMEM) return rc;
  /* no text: the cJSON path looks for an error object */
  if (rc == 0 && !lgw__reply_blank(out)) return 0;
  rc = lgw__decode_body(body, len, content_type, &root, &nul, err);
  if (rc) return rc;
  lgw__buf_init(&text);
  first = lgw__choice0(cJSON_GetObjectItemCaseSensitive(root, "choices"));
  msg = cJSON_GetObjectItemCaseSensitive(first, "message");
  if (cJSON_IsObject(msg))
    rc = content_text(cJSON_GetObjectItemCaseSensitive(msg, "content"),
                      py_str, nul, &text);
  if (!rc && cJSON_IsObject(msg)) rc = read_calls(msg, &out->calls, nul);
  out->finish_reason = finish_of(first);
  usage = cJSON_GetObjectItemCaseSensitive(root, "usage");
  read_usage(usage, out);
  /* message.refusal: the model refused (content is then null) */
  refusal = cJSON_GetObjectItemCaseSensitive(msg, "refusal");
  if (!rc && cJSON_IsString(refusal) && *refusal->valuestring) {
    lgw__buf_t r;
    lgw__buf_init(&r);
    rc = lgw__json_text(&r, refusal->valuestring, nul);
    rc = rc ? rc : lgw__reply_set_refusal(out, r.data, r.len);
    lgw__buf_free(&r);
  }
  return lgw__openai_reply_end(root, &text, rc, out, err);
}

static int chat_parse(const char *body, size_t len, const char *content_type,
                      lgw__reply_t *out, lgw_error_t *err) {
  return lgw__chat_parse(body, len, content_type, 1, out, err);
}

/* Chunks carry one choice each, by index: only choice 0's
 * delta.content is text and its delta.refusal a refusal; finish_reason or
 * "[DONE]" ends the answer; with include_usage a last chunk (choices [])
 * carries the usage. An "error" event (a flat error object) or an
 * {"error": {...}} chunk is an error. */
int lgw__chat_stream_event(lgw__stream_t *s, const char *data, size_t len,
                           lgw_error_t *err) {
  cJSON *o;
  const cJSON *first, *v;
  size_t a, e;
  int rc = 0, nul;
  lgw__strip_range(data, len, &a, &e);
  if (a == e) return 0;
  if (e - a == 6 && memcmp(data + a, "[DONE]", 6) == 0) {
    s->done = 1;
    return 0;
  }
  o = lgw__json_parse(data + a, e - a, &nul);
  if (!o && lgw__json_nomem(data + a, e - a))
    return lgw__stream_event_end(NULL, LGW_ENOMEM, err);
  if (!o) return lgw__stream_malformed(data, len, err);
  if ((rc = lgw__stream_error_event(s, o, err)) != 0) {
    cJSON_Delete(o);
    return rc;
  }
  first = lgw__choice0(cJSON_GetObjectItemCaseSensitive(o, "choices"));
  if (first) {
    const cJSON *d = cJSON_GetObjectItemCaseSensitive(first, "delta");
    v = cJSON_GetObjectItemCaseSensitive(d, "content");
    if (cJSON_IsString(v))
      rc = lgw__stream_json_text(s, 0, v->valuestring, nul);
    cJSON_ArrayForEach(v, (rc ? NULL : cJSON_GetObjectItemCaseSensitive(
                                           d, "tool_calls"))) {
      long k = lgw__json_count(v, "index");
      lgw__tcall_t *t = lgw__tcalls_find(&s->calls, k < 0 ? 0 : k);
      if (!t) t = lgw__tcalls_add(&s->calls, k < 0 ? 0 : k);
      if (!t || (rc = read_call(v, t, nul)) != 0) {
        rc = LGW_ENOMEM;
        break;
      }
    }
    v = cJSON_GetObjectItemCaseSensitive(d, "refusal");
    if (!rc && cJSON_IsString(v)) {
      s->refused = s->refused || *v->valuestring;
      rc = lgw__json_text(&s->refusal, v->valuestring, nul);
    }
    v = cJSON_GetObjectItemCaseSensitive(first, "finish_reason");
    if (v && !cJSON_IsNull(v)) {
      s->done = 1;
      s->finish_reason = finish_of(first);
    }
  }
  v = cJSON_GetObjectItemCaseSensitive(o, "usage");
  if (cJSON_IsObject(v)) read_usage(v, &s->reply);
  cJSON_Delete(o);
  return rc ? lgw__error_set(err, LGW_ENOMEM, "out of memory reading stream")
            : 0;
}

const lgw__transport_t lgw__transport_chat = {
  "openai_chat", lgw__chat_url, lgw__openai_headers, chat_body, chat_parse,
  lgw__chat_stream_event};
