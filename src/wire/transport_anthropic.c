/*
 * transport_anthropic.c -- the Anthropic Messages wire format (api_style
 * "anthropic"): POST {base}/v1/messages with x-api-key and
 * anthropic-version, system and developer turns joined into "system", text
 * from the "text" content blocks, and {"type":"error"} bodies reported as
 * HTTP errors.
 */
#include "transport.h"

#include "cjson_dl.h"  /* <cJSON.h>, the calls through a table */
#include <stdio.h>
#include <string.h>

static char *anthropic_url(const lgw__provider_t *p) {
  /* A base ending in /v1 gets "/messages", not a second "/v1". */
  return lgw__endpoint_url(p->base_url, "/v1/messages", "/messages");
}

/* No Bearer header: Anthropic authenticates with x-api-key. A configured
 * x-api-key or anthropic-version replaces the default one. */
static int anthropic_headers(const lgw__provider_t *p, lgw__kvlist_t *out) {
  int rc = lgw__kvlist_add(out, "content-type", "application/json");
  if (!rc && !lgw__is_blank(p->api_key) &&
      !lgw__kvlist_get_ci(&p->headers, "x-api-key")) {
    char *key = lgw__strip(p->api_key);
    rc = key ? lgw__kvlist_add(out, "x-api-key", key) : LGW_ENOMEM;
    lgw_free(key);
  }
  if (!rc && !lgw__kvlist_get_ci(&p->headers, "anthropic-version"))
    rc = lgw__kvlist_add(out, "anthropic-version", "2023-06-01");
  return rc ? rc : lgw__provider_headers(p, out);
}

static const char api[] = "Anthropic Messages API";

static int is_mt(const char *mt, const char *const *list) {
  for (; *list; list++)
    if (lgw__strcasecmp(mt, *list) == 0) return 1;
  return 0;
}

/* One content part as a block: text (an empty one is left out: the API
 * rejects it), image (base64 or url source), document (a PDF as base64,
 * plain text as a text source). *n counts the blocks written. */
static int part_block(lgw__buf_t *b, const lgw_part_t *p, size_t mi,
                      size_t pi, int images_only, size_t *n,
                      lgw_error_t *err) {
  static const char *const images[] = {"image/jpeg", "image/png",
                                       "image/gif", "image/webp", NULL};
  char d[96];
  int rc = lgw__part_check(p, mi, pi, err);
  if (rc) return rc;
  if (p->type == LGW_PART_TEXT && (!p->text || !*p->text)) return 0;
  if (p->type == LGW_PART_IMAGE && p->data && !is_mt(p->media_type, images))
    return lgw__rich_fail(err, "message %zu part %zu (%s): the %s takes "
                          "images as image/jpeg, image/png, image/gif or "
                          "image/webp", mi, pi,
                          lgw__part_desc(p, d, sizeof d), api);
  if (p->type == LGW_PART_FILE &&
      (images_only || (lgw__strcasecmp(p->media_type, "application/pdf") &&
                       lgw__strcasecmp(p->media_type, "text/plain"))))
    return lgw__rich_fail(err, "message %zu part %zu (%s): the %s takes "
                          "%s", mi, pi, lgw__part_desc(p, d, sizeof d), api,
                          images_only ? "only text and images in a tool "
                                        "result"
                                      : "documents as application/pdf or "
                                        "text/plain");
  rc = (*n)++ ? lgw__buf_addc(b, ',') : 0;
  if (!rc && p->type == LGW_PART_TEXT) {
    rc = lgw__buf_adds(b, "{\"type\":\"text\",\"text\":");
    rc = rc ? rc : lgw__json_add_str(b, p->text, strlen(p->text));
  } else if (!rc && p->type == LGW_PART_IMAGE && !p->data) {
    rc = lgw__buf_adds(b, "{\"type\":\"image\",\"source\":{\"type\":"
                          "\"url\",\"url\":");
    rc = rc ? rc : lgw__json_add_str(b, p->url, strlen(p->url));
    rc = rc ? rc : lgw__buf_addc(b, '}');
  } else if (!rc && p->type == LGW_PART_IMAGE) {
    rc = lgw__buf_adds(b, "{\"type\":\"image\",\"source\":{\"type\":"
                          "\"base64\",\"media_type\":");
    rc = rc ? rc : lgw__json_add_str(b, p->media_type, strlen(p->media_type));
    rc = rc ? rc : lgw__buf_adds(b, ",\"data\":");
    rc = rc ? rc : lgw__json_add_b64(b, p->data, p->data_len);
    rc = rc ? rc : lgw__buf_addc(b, '}');
  } else if (!rc) {
    int pdf = lgw__strcasecmp(p->media_type, "application/pdf") == 0;
    rc = lgw__buf_adds(b, pdf ? "{\"type\":\"document\",\"source\":"
                                "{\"type\":\"base64\",\"media_type\":"
                                "\"application/pdf\",\"data\":"
                              : "{\"type\":\"document\",\"source\":"
                                "{\"type\":\"text\",\"media_type\":"
                                "\"text/plain\",\"data\":");
    rc = rc ? rc : (pdf ? lgw__json_add_b64(b, p->data, p->data_len)
                        : lgw__json_add_str(b, p->data, p->data_len));
    rc = rc ? rc : lgw__buf_addc(b, '}');
    if (!rc && !lgw__is_blank(p->filename)) {
      rc = lgw__json_add_key(b, "title");
      rc = rc ? rc : lgw__json_add_str(b, p->filename, strlen(p->filename));
    }
  }
  return rc ? rc : lgw__buf_addc(b, '}');
}

/* A user or assistant message as blocks: its parts (or its text), then
 * its tool calls as tool_use blocks (input: the arguments object). */
static int message_blocks(lgw__buf_t *b, const lgw_rich_message_t *m, size_t mi,
                          lgw_error_t *err) {
  size_t i, n = 0;
  int rc = lgw__buf_addc(b, '[');
  if (!rc && !m->nparts && m->content && *m->content) {
    rc = lgw__buf_adds(b, "{\"type\":\"text\",\"text\":");
    rc = rc ? rc : lgw__json_add_str(b, m->content, strlen(m->content));
    rc = rc ? rc : lgw__buf_addc(b, '}');
    n++;
  }
  for (i = 0; !rc && i < m->nparts; i++)
    rc = part_block(b, &m->parts[i], mi, i + 1, 0, &n, err);
  for (i = 0; !rc && i < m->ntool_calls; i++) {
    const lgw_tool_call_t *t = &m->tool_calls[i];
    char what[80];
    if ((rc = lgw__tool_call_check(t, mi, i + 1, err)) != 0) return rc;
    snprintf(what, sizeof what, "message %zu tool call %zu arguments", mi,
             i + 1);
    rc = lgw__buf_adds(b, n++ ? ",{\"type\":\"tool_use\",\"id\":"
                              : "{\"type\":\"tool_use\",\"id\":");
    rc = rc ? rc : lgw__json_add_str(b, t->id, strlen(t->id));
    rc = rc ? rc : lgw__buf_adds(b, ",\"name\":");
    rc = rc ? rc : lgw__json_add_str(b, t->name, strlen(t->name));
    rc = rc ? rc : lgw__buf_adds(b, ",\"input\":");
    rc = rc ? rc : lgw__json_add_object(b, t->arguments_json, "{}", what,
                                        err);
    rc = rc ? rc : lgw__buf_addc(b, '}');
  }
  return rc ? rc : lgw__buf_addc(b, ']');
}

/* A tool result block: content a string or text and image blocks. */
static int result_block(lgw__buf_t *b, const lgw_rich_message_t *m, size_t mi,
                        lgw_error_t *err) {
  size_t i, n = 0;
  int rc = lgw__buf_adds(b, "{\"type\":\"tool_result\",\"tool_use_id\":");
  rc = rc ? rc : lgw__json_add_str(b, m->tool_call_id,
                                   strlen(m->tool_call_id));
  rc = rc ? rc : lgw__buf_adds(b, ",\"content\":");
  if (!rc && !m->nparts) {
    const char *t = m->content ? m->content : "";
    rc = lgw__json_add_str(b, t, strlen(t));
  } else if (!rc) {
    rc = lgw__buf_addc(b, '[');
    for (i = 0; !rc && i < m->nparts; i++)
      rc = part_block(b, &m->parts[i], mi, i + 1, 1, &n, err);
    rc = rc ? rc : lgw__buf_addc(b, ']');
  }
  if (!rc && m->is_error) rc = lgw__buf_adds(b, ",\"is_error\":true");
  return rc ? rc : lgw__buf_addc(b, '}');
}

static int tools_def(lgw__buf_t *b, const lgw__call_t *c,
                     lgw_error_t *err) {
  const char *type = NULL;
  size_t i;
  int rc = 0;
  if (c->ntools) rc = lgw__buf_adds(b, ",\"tools\":[");
  for (i = 0; !rc && i < c->ntools; i++) {
    rc = lgw__json_add_tool(b, &c->tools[i], i, "{\"name\":", "input_schema",
                            err);
    rc = rc ? rc : lgw__buf_addc(b, '}');
  }
  if (!rc && c->ntools) rc = lgw__buf_addc(b, ']');
  if (rc) return rc;
  /* tool_choice: auto, any (required), none, or {type: tool, name} */
  if (!lgw__is_blank(c->tool_choice_name)) type = "tool";
  else if (!lgw__is_blank(c->tool_choice)) {
    if (strcmp(c->tool_choice, "auto") == 0) type = "auto";
    else if (strcmp(c->tool_choice, "required") == 0) type = "any";
    else if (strcmp(c->tool_choice, "none") == 0) type = "none";
    else
      return lgw__rich_fail(err, "tool_choice must be \"auto\", \"none\" "
                            "or \"required\" (or a tool name in "
                            "tool_choice_name), not \"%.64s\"",
                            c->tool_choice);
  } else if (c->parallel_tool_calls < 0 && c->ntools) {
    type = "auto";
  }
  if (!type) return 0;
  rc = lgw__buf_printf(b, ",\"tool_choice\":{\"type\":\"%s\"", type);
  if (!rc && strcmp(type, "tool") == 0) {
    rc = lgw__buf_adds(b, ",\"name\":");
    rc = rc ? rc : lgw__json_add_str(b, c->tool_choice_name,
                                     strlen(c->tool_choice_name));
  }
  if (!rc && c->parallel_tool_calls < 0 && strcmp(type, "none") != 0)
    rc = lgw__buf_adds(b, ",\"disable_parallel_tool_use\":true");
  return rc ? rc : lgw__buf_addc(b, '}');
}

static int anthropic_body(const lgw__call_t *c, char **out, size_t *len,
                          lgw_error_t *err) {
  lgw__buf_t b, sys;
  size_t i, items = 0, nsys = 0, a, e;
  int rc, results = 0;  /* a user turn of tool results is open */
  lgw__buf_init(&b);
  lgw__buf_init(&sys);
  rc = lgw__buf_adds(&b, "{\"model\":");
  rc = rc ? rc : lgw__json_add_str(&b, c->model, strlen(c->model));
  rc = rc ? rc : lgw__buf_adds(&b, ",\"messages\":[");
  for (i = 0; !rc && i < lgw__call_nmsgs(c); i++) {
    lgw_rich_message_t tmp;
    const lgw_rich_message_t *m = lgw__call_msg(c, i, &tmp);
    const char *text = m->content ? m->content : "";
    lgw__role_t k = lgw__role_kind(m->role);
    /* The API knows only user and assistant turns. */
    if (k == LGW__ROLE_SYSTEM || k == LGW__ROLE_DEVELOPER) {
      if (nsys++) rc = lgw__buf_addc(&sys, '\n');
      rc = rc ? rc : lgw__msg_text(m, i + 1, api, "system", &sys, err);
      continue;
    }
    /* consecutive tool results: one user turn */
    if (lgw__msg_is_tool_result(m)) {
      rc = lgw__buf_adds(&b, results ? "," : items++ ? ",{\"role\":\"user\","
                                                      "\"content\":["
                                                    : "{\"role\":\"user\","
                                                      "\"content\":[");
      results = 1;
      rc = rc ? rc : result_block(&b, m, i + 1, err);
      continue;
    }
    if (results) rc = lgw__buf_adds(&b, "]}");
    results = 0;
    if (!rc && m->ntool_calls && k != LGW__ROLE_ASSISTANT)
      rc = lgw__rich_fail(err, "message %zu: only assistant messages carry "
                          "tool_calls", i + 1);
    rc = rc ? rc : lgw__buf_printf(&b, "%s{\"role\":\"%s\",\"content\":",
                                   items++ ? "," : "",
                                   k == LGW__ROLE_ASSISTANT ? "assistant"
                                                            : "user");
    if (!rc && (m->nparts || m->ntool_calls))
      rc = message_blocks(&b, m, i + 1, err);
    else if (!rc)
      rc = lgw__json_add_str(&b, text, strlen(text));
    rc = rc ? rc : lgw__buf_addc(&b, '}');
  }
  if (!rc && results) rc = lgw__buf_adds(&b, "]}");
  if (!rc && !items) rc = lgw__buf_adds(&b, "{\"role\":\"user\",\"content\":\"\"}");
  rc = rc ? rc : lgw__buf_printf(&b, "],\"max_tokens\":%ld", c->max_tokens);
  rc = rc ? rc : lgw__body_temperature(&b, c->temperature);
  lgw__strip_range(sys.data ? sys.data : "", sys.len, &a, &e);
  if (!rc && a < e) {
    rc = lgw__json_add_key(&b, "system");
    rc = rc ? rc : lgw__json_add_str(&b, sys.data + a, e - a);
  }
  if (!rc && c->stream) rc = lgw__buf_adds(&b, ",\"stream\":true");
  rc = rc ? rc : tools_def(&b, c, err);
  /* the API's own structured output (a JSON text answer) */
  if (!rc && c->schema_json) {
    rc = lgw__buf_adds(&b, ",\"output_config\":{\"format\":{\"type\":"
                           "\"json_schema\"");
    rc = rc ? rc : lgw__body_schema(&b, c, err);
    rc = rc ? rc : lgw__buf_adds(&b, "}}");
  }
  /* no seed; the end user's id is metadata.user_id; no other metadata */
  rc = rc ? rc : lgw__body_params(&b, c, "stop_sequences", 0, NULL, 0, err);
  if (!rc && !lgw__is_blank(c->user)) {
    rc = lgw__buf_adds(&b, ",\"metadata\":{\"user_id\":");
    rc = rc ? rc : lgw__json_add_str(&b, c->user, strlen(c->user));
    rc = rc ? rc : lgw__buf_addc(&b, '}');
  }
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

/* A tool_use block into a new call (arguments: its input as JSON). */
static int read_tool_use(const cJSON *blk, long key, lgw__tcalls_t *l,
                         int nul, int with_input) {
  const cJSON *id = cJSON_GetObjectItemCaseSensitive(blk, "id");
  const cJSON *name = cJSON_GetObjectItemCaseSensitive(blk, "name");
  const cJSON *in = cJSON_GetObjectItemCaseSensitive(blk, "input");
  lgw__tcall_t *t = lgw__tcalls_add(l, key);
  int rc = t ? 0 : LGW_ENOMEM;
  if (!rc && cJSON_IsString(id))
    rc = lgw__tcall_set(&t->id, id->valuestring, nul);
  if (!rc && cJSON_IsString(name))
    rc = lgw__tcall_set(&t->name, name->valuestring, nul);
  if (!rc && with_input && in) {
    char *j = cJSON_PrintUnformatted(in);
    rc = j ? lgw__buf_adds(&t->args, j) : LGW_ENOMEM;
    cJSON_free(j);
  }
  return rc;
}

static int is_tool_use(const cJSON *blk) {
  const cJSON *ty = cJSON_GetObjectItemCaseSensitive(blk, "type");
  return cJSON_IsString(ty) && strcmp(ty->valuestring, "tool_use") == 0;
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

/* anthropic_parse read in place (json.h): 0 with out filled, LGW_ENOMEM,
 * or LGW__JV_UNSURE with out as it was (the cJSON path then reads it:
 * error answers, tool inputs that cJSON would print differently). */

/* The blocks' text as content_text joins it. */
static int fast_text(const lgw__jv_t *content, lgw__buf_t *b) {
  lgw__jv_t blk, ty, tx;
  const char *p;
  size_t n, mark;
  int pass, parts = 0, rc = 0;
  for (pass = 0; pass < 2 && !parts; pass++) {
    for (lgw__jv_first(content, &blk); !rc && blk.type != LGW__JV_NONE;
         lgw__jv_next(&blk)) {
      int is_text;
      if (blk.type != LGW__JV_OBJ) continue;
      if (lgw__jv_get(&blk, "type", &ty) || lgw__jv_get(&blk, "text", &tx) ||
          (ty.type == LGW__JV_STR && lgw__jv_plain(&ty, &p, &n)))
        return LGW__JV_UNSURE;
      is_text = ty.type == LGW__JV_STR && n == 4 &&
                lgw__strncasecmp(p, "text", 4) == 0;
      if (tx.type != LGW__JV_STR || is_text != (pass == 0)) continue;
      mark = b->len;
      if (parts && lgw__buf_addc(b, '\n')) return LGW_ENOMEM;
      rc = lgw__jv_str(&tx, b);
      if (!rc && b->len == mark + (parts ? 1 : 0)) {
        b->len = mark;   /* empty text is no part */
        b->data[mark] = '\0';
      } else if (!rc) {
        parts++;
      }
    }
  }
  return rc;
}

/* The tool_use blocks, key: the block's index. */
static int fast_calls(const lgw__jv_t *content, lgw__tcalls_t *l) {
  lgw__jv_t blk, v, id, name, in;
  long k = 0;
  int rc = 0, eq;
  for (lgw__jv_first(content, &blk); !rc && blk.type != LGW__JV_NONE;
       lgw__jv_next(&blk), k++) {
    lgw__tcall_t *t;
    const char *p;
    size_t n;
    if (blk.type != LGW__JV_OBJ) continue;
    if (lgw__jv_get(&blk, "type", &v) || lgw__jv_eq(&v, "tool_use", &eq))
      return LGW__JV_UNSURE;
    if (!eq) continue;
    if (lgw__jv_get(&blk, "id", &id) || lgw__jv_get(&blk, "name", &name) ||
        lgw__jv_get(&blk, "input", &in) ||
        (in.type != LGW__JV_NONE && lgw__jv_compact(&in, &p, &n)))
      return LGW__JV_UNSURE;
    if (!(t = lgw__tcalls_add(l, k))) return LGW_ENOMEM;
    rc = lgw__jv_set_str(&t->id, &id, 0);
    rc = rc ? rc : lgw__jv_set_str(&t->name, &name, 0);
    if (!rc && in.type != LGW__JV_NONE) rc = lgw__buf_add(&t->args, p, n);
  }
  return rc;
}

/* What the answer is read for, in one pass (lgw__jv_read). */
enum {
  A_TYPE, A_CONTENT, A_USAGE, A_STOP, A_IN, A_OUT, A_CACHED, A_THINKING,
  A_OUT_D, A_N
};
static const lgw__jv_pick_t thinking_pick[] = {
  LGW__PICK("thinking_tokens", A_THINKING)};
static const lgw__jv_pick_t usage_picks[] = {
  LGW__PICK("input_tokens", A_IN), LGW__PICK("output_tokens", A_OUT),
  LGW__PICK("cache_read_input_tokens", A_CACHED),
  LGW__PICKS("output_tokens_details", A_OUT_D, thinking_pick)};
static const lgw__jv_pick_t top_picks[] = {
  LGW__PICK("type", A_TYPE), LGW__PICK("content", A_CONTENT),
  LGW__PICKS("usage", A_USAGE, usage_picks),
  LGW__PICK("stop_reason", A_STOP)};

static int parse_fast(const char *body, size_t len, lgw__reply_t *out) {
  lgw__jv_t m[A_N];
  lgw__reply_t u;
  lgw__tcalls_t calls;
  lgw__buf_t text;
  const char *finish;
  int rc, eq, refusal;
  if (lgw__read_in_place(body, len, LGW__IN_PLACE_MAX, 1, top_picks, 4, m, A_N) ||
      lgw__jv_eq(&m[A_TYPE], "error", &eq) || eq ||
      lgw__jv_finish(&m[A_STOP], &finish) ||
      lgw__jv_eq(&m[A_STOP], "refusal", &refusal) ||
      lgw__usage_read(&m[A_IN], &u))
    return LGW__JV_UNSURE;
  lgw__buf_init(&text);
  memset(&calls, 0, sizeof calls);
  rc = fast_text(&m[A_CONTENT], &text);
  rc = rc ? rc : fast_calls(&m[A_CONTENT], &calls);
  if (!rc && refusal)
    rc = lgw__reply_set_refusal(out, text.data, text.len);
  return lgw__reply_fill(out, rc, &text, &u, finish, &calls);
}

static int anthropic_parse(const char *body, size_t len,
                           const char *content_type, lgw__reply_t *out,
                           lgw_error_t *err) {
  cJSON *root;
  const cJSON *type, *content, *stop;
  lgw__buf_t text;
  int rc, nul;
  lgw__reply_begin(out);
  rc = lgw__parse_in_place(body, len, parse_fast, out, err);
  if (rc != LGW__JV_UNSURE) return rc;
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
  if (cJSON_IsArray(content)) {
    const cJSON *blk;
    long k = 0;
    rc = content_text(content, nul, &text);
    cJSON_ArrayForEach(blk, content) {
      if (!rc && is_tool_use(blk))
        rc = read_tool_use(blk, k, &out->calls, nul, 1);
      k++;
    }
  }
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

/* The most frequent event, a content_block_delta with a text_delta, read
 * in place: 0 (done), LGW_ENOMEM, or LGW__JV_UNSURE for any other event
 * (the tree reads it). */
static int text_delta_fast(lgw__stream_t *s, const char *data, size_t n) {
  static const char *const keys[] = {"type", "index", "delta"};
  static const char *const dkeys[] = {"type", "text"};
  lgw__jv_t root, m[3], d[2];
  long index;
  int eq;
  if (n > LGW__IN_PLACE_MAX || lgw__jv_root(data, n, &root) ||
      lgw__jv_getv(&root, keys, m, 3) ||
      lgw__jv_eq(&m[0], "content_block_delta", &eq) || !eq ||
      lgw__jv_int(&m[1], &index) || lgw__jv_getv(&m[2], dkeys, d, 2) ||
      lgw__jv_eq(&d[0], "text_delta", &eq) || !eq ||
      d[1].type != LGW__JV_STR)
    return LGW__JV_UNSURE;
  return lgw__stream_jv_text(s, index, &d[1]);
}

/* Messages stream: message_start (usage), content_block_delta
 * (text_delta; thinking, signature and tool input deltas are not text),
 * message_delta (stop_reason, cumulative usage), message_stop (the end),
 * error; ping and other events are ignored. */
static int anthropic_stream_event(lgw__stream_t *s, const char *data,
                                  size_t len, lgw_error_t *err) {
  cJSON *o;
  const char *type;
  int rc, nul;
  if (!lgw__stream_event_open(s, data, len, 0, text_delta_fast, &o, &type,
                              &nul, &rc, err))
    return rc;
  if (strcmp(type, "message_start") == 0) {
    const cJSON *m = cJSON_GetObjectItemCaseSensitive(o, "message");
    read_usage(cJSON_GetObjectItemCaseSensitive(m, "usage"), &s->reply);
  } else if (strcmp(type, "content_block_delta") == 0) {
    const cJSON *d = cJSON_GetObjectItemCaseSensitive(o, "delta");
    const cJSON *dt = cJSON_GetObjectItemCaseSensitive(d, "type");
    const cJSON *tx = cJSON_GetObjectItemCaseSensitive(d, "text");
    long index = lgw__json_count(o, "index");
    const cJSON *pj = cJSON_GetObjectItemCaseSensitive(d, "partial_json");
    lgw__tcall_t *tc = lgw__tcalls_find(&s->calls, index);
    if (cJSON_IsString(dt) && strcmp(dt->valuestring, "text_delta") == 0 &&
        cJSON_IsString(tx))
      rc = lgw__stream_json_text(s, index, tx->valuestring, nul);
    else if (tc && cJSON_IsString(dt) &&
             strcmp(dt->valuestring, "input_json_delta") == 0 &&
             cJSON_IsString(pj))
      rc = lgw__json_text(&tc->args, pj->valuestring, nul);
  } else if (strcmp(type, "content_block_start") == 0) {
    const cJSON *blk = cJSON_GetObjectItemCaseSensitive(o, "content_block");
    if (is_tool_use(blk))
      rc = read_tool_use(blk, lgw__json_count(o, "index"), &s->calls, nul, 0);
  } else if (strcmp(type, "content_block_stop") == 0) {
    /* a tool_use block whose input came in no piece: {} */
    lgw__tcall_t *tc = lgw__tcalls_find(&s->calls,
                                        lgw__json_count(o, "index"));
    if (tc && !tc->args.len) rc = lgw__buf_adds(&tc->args, "{}");
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
  return lgw__stream_event_end(o, rc, err);
}

const lgw__transport_t lgw__transport_anthropic = {
  "anthropic", anthropic_url, anthropic_headers, anthropic_body,
  anthropic_parse, anthropic_stream_event};
