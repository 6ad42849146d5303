/*
 * sim_answer.c -- the simulator's wire formats: reads the model, message
 * texts and directive lines out of a Responses, Chat Completions or
 * Anthropic Messages request, and renders the deterministic answer (JSON
 * or server-sent events) and provider-shaped error bodies.
 */
#include <string.h>

#include "sim/sim.h"

/* ---- reading requests --------------------------------------------------- */

static int is_space(char c) {
  return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\v' ||
         c == '\f';
}

long lgw__sim_words(const char *s, size_t n) {
  long words = 0;
  size_t i;
  for (i = 0; i < n; i++)
    if (!is_space(s[i]) && (i == 0 || is_space(s[i - 1]))) words++;
  return words;
}

/* Splits one message text into directive lines (appended to r->directives)
 * and the rest (into *kept, lines re-joined with '\n'); counts the words of
 * the rest into r->input_tokens. */
static int scan_text(lgw__sim_request_t *r, const char *s, lgw__buf_t *kept) {
  int first = 1;
  for (;;) {
    const char *nl = strchr(s, '\n');
    size_t n = nl ? (size_t)(nl - s) : strlen(s);
    if (n >= 5 && memcmp(s, "@sim ", 5) == 0) {
      size_t dn = n - 5;
      if (dn > 0 && s[5 + dn - 1] == '\r') dn--;
      if (lgw__buf_add(&r->directives, s + 5, dn) ||
          lgw__buf_addc(&r->directives, '\n'))
        return LGW_ENOMEM;
    } else {
      if (!first && lgw__buf_addc(kept, '\n')) return LGW_ENOMEM;
      if (lgw__buf_add(kept, s, n)) return LGW_ENOMEM;
      r->input_tokens += lgw__sim_words(s, n);
      first = 0;
    }
    if (!nl) return 0;
    s = nl + 1;
  }
}

/* Message content: a string, or parts whose "text" strings are joined
 * with '\n'. Anything else has no text. */
static int content_text(const cJSON *content, lgw__buf_t *out) {
  const cJSON *part;
  int first = 1;
  lgw__buf_init(out);
  if (cJSON_IsString(content)) return lgw__buf_adds(out, content->valuestring);
  cJSON_ArrayForEach(part, (cJSON_IsArray(content) ? content : NULL)) {
    const cJSON *t = cJSON_GetObjectItemCaseSensitive(part, "text");
    if (!cJSON_IsString(t)) continue;
    if (!first && lgw__buf_addc(out, '\n')) return LGW_ENOMEM;
    if (lgw__buf_adds(out, t->valuestring)) return LGW_ENOMEM;
    first = 0;
  }
  return 0;
}

/* One message (or system text); if it is a user message its kept text
 * becomes the last user text so far. */
static int read_message(lgw__sim_request_t *r, const cJSON *content,
                        int is_user) {
  lgw__buf_t text, kept;
  int rc = content_text(content, &text);
  lgw__buf_init(&kept);
  if (rc == 0) rc = scan_text(r, text.data ? text.data : "", &kept);
  if (rc == 0 && is_user) {
    char *stripped = lgw__strip(kept.data ? kept.data : "");
    if (!stripped) {
      rc = LGW_ENOMEM;
    } else {
      lgw_free(r->last_user);
      r->last_user = stripped;
    }
  }
  lgw__buf_free(&text);
  lgw__buf_free(&kept);
  return rc;
}

static int read_messages(lgw__sim_request_t *r, const cJSON *list) {
  const cJSON *m;
  cJSON_ArrayForEach(m, (cJSON_IsArray(list) ? list : NULL)) {
    const cJSON *role = cJSON_GetObjectItemCaseSensitive(m, "role");
    int is_user =
        cJSON_IsString(role) && strcmp(role->valuestring, "user") == 0;
    int rc = read_message(r, cJSON_GetObjectItemCaseSensitive(m, "content"),
                          is_user);
    if (rc) return rc;
  }
  return 0;
}

int lgw__sim_request_read(lgw__sim_format_t fmt, const cJSON *body,
                          lgw__sim_request_t *out) {
  const cJSON *model = cJSON_GetObjectItemCaseSensitive(body, "model");
  int rc = 0;
  memset(out, 0, sizeof *out);
  lgw__buf_init(&out->directives);
  out->model = lgw__strdup(cJSON_IsString(model) ? model->valuestring : "");
  out->last_user = lgw__strdup("");
  if (!out->model || !out->last_user) return LGW_ENOMEM;
  out->stream = cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(body, "stream"));
  switch (fmt) {
  case LGW__SIM_RESPONSES: {
    const cJSON *input = cJSON_GetObjectItemCaseSensitive(body, "input");
    rc = read_message(out,
                      cJSON_GetObjectItemCaseSensitive(body, "instructions"),
                      0);
    if (rc == 0 && cJSON_IsString(input))
      rc = read_message(out, input, 1);
    else if (rc == 0)
      rc = read_messages(out, input);
    break;
  }
  case LGW__SIM_CHAT:
    rc = read_messages(out, cJSON_GetObjectItemCaseSensitive(body, "messages"));
    break;
  case LGW__SIM_ANTHROPIC:
    rc = read_message(out, cJSON_GetObjectItemCaseSensitive(body, "system"), 0);
    if (rc == 0)
      rc = read_messages(out,
                         cJSON_GetObjectItemCaseSensitive(body, "messages"));
    break;
  }
  return rc;
}

void lgw__sim_request_free(lgw__sim_request_t *r) {
  lgw_free(r->model);
  lgw_free(r->last_user);
  lgw__buf_free(&r->directives);
  memset(r, 0, sizeof *r);
}

/* ---- rendering ---------------------------------------------------------- */

/* Prints and deletes j; the result is lgw_malloc'ed (caller frees). */
static char *print_json(cJSON *j, size_t *len) {
  char *s = j ? cJSON_PrintUnformatted(j) : NULL;
  char *out = NULL;
  cJSON_Delete(j);
  if (s) {
    *len = strlen(s);
    out = lgw__strndup(s, *len);
    cJSON_free(s);
  }
  return out;
}

static cJSON *obj(cJSON *parent, const char *key) {
  cJSON *o = cJSON_CreateObject();
  if (parent) cJSON_AddItemToObject(parent, key, o);
  return o;
}

static cJSON *arr(cJSON *parent, const char *key) {
  cJSON *a = cJSON_CreateArray();
  cJSON_AddItemToObject(parent, key, a);
  return a;
}

/* Keys added to every object are constants, so references suffice. */
static void str(cJSON *o, const char *key, const char *v) {
  cJSON_AddItemToObjectCS(o, key, cJSON_CreateStringReference(v));
}

static void num(cJSON *o, const char *key, long v) {
  cJSON_AddItemToObjectCS(o, key, cJSON_CreateNumber((double)v));
}

/* Render helpers build trees that reference model and text (no copies);
 * cJSON_Delete leaves referenced strings alone. */
static cJSON *responses_object(const char *model, const char *text,
                               long in, long out, int done, int refusal) {
  cJSON *r = obj(NULL, NULL);
  str(r, "id", "resp_sim");
  str(r, "object", "response");
  str(r, "status", done ? "completed" : "in_progress");
  str(r, "model", model);
  if (done) {
    cJSON *msg = obj(NULL, NULL), *part = obj(NULL, NULL), *u;
    cJSON_AddItemToArray(arr(r, "output"), msg);
    str(msg, "type", "message");
    str(msg, "id", "msg_sim");
    str(msg, "status", "completed");
    str(msg, "role", "assistant");
    cJSON_AddItemToArray(arr(msg, "content"), part);
    if (refusal) {
      str(part, "type", "refusal");
      str(part, "refusal", text);
    } else {
      str(part, "type", "output_text");
      str(part, "text", text);
      arr(part, "annotations");
    }
    u = obj(r, "usage");
    num(u, "input_tokens", in);
    num(u, "output_tokens", out);
    num(u, "total_tokens", in + out);
  } else {
    arr(r, "output");
    cJSON_AddNullToObject(r, "usage");
  }
  return r;
}

static cJSON *chat_object(const char *model, const char *text, long in,
                          long out, int refusal) {
  cJSON *r = obj(NULL, NULL), *choice = obj(NULL, NULL), *m, *u;
  str(r, "id", "chatcmpl-sim");
  str(r, "object", "chat.completion");
  num(r, "created", 0);
  str(r, "model", model);
  cJSON_AddItemToArray(arr(r, "choices"), choice);
  num(choice, "index", 0);
  m = obj(choice, "message");
  str(m, "role", "assistant");
  if (refusal) {
    cJSON_AddNullToObject(m, "content");
    str(m, "refusal", text);
  } else {
    str(m, "content", text);
  }
  str(choice, "finish_reason", "stop");
  u = obj(r, "usage");
  num(u, "prompt_tokens", in);
  num(u, "completion_tokens", out);
  num(u, "total_tokens", in + out);
  return r;
}

static cJSON *anthropic_object(const char *model, const char *text, long in,
                               long out, int done, int refusal) {
  cJSON *r = obj(NULL, NULL), *content, *u;
  str(r, "id", "msg_sim");
  str(r, "type", "message");
  str(r, "role", "assistant");
  str(r, "model", model);
  content = arr(r, "content");
  if (done) {
    cJSON *block = obj(NULL, NULL);
    cJSON_AddItemToArray(content, block);
    str(block, "type", "text");
    str(block, "text", text);
    str(r, "stop_reason", refusal ? "refusal" : "end_turn");
  } else {
    cJSON_AddNullToObject(r, "stop_reason");
  }
  u = obj(r, "usage");
  num(u, "input_tokens", in);
  num(u, "output_tokens", out);
  return r;
}

static char *answer_json(lgw__sim_format_t fmt, const char *model,
                         const char *text, long in_tokens, long out_tokens,
                         int refusal, size_t *len) {
  cJSON *j = NULL;
  switch (fmt) {
  case LGW__SIM_RESPONSES:
    j = responses_object(model, text, in_tokens, out_tokens, 1, refusal);
    break;
  case LGW__SIM_CHAT:
    j = chat_object(model, text, in_tokens, out_tokens, refusal);
    break;
  case LGW__SIM_ANTHROPIC:
    j = anthropic_object(model, text, in_tokens, out_tokens, 1, refusal);
    break;
  }
  return print_json(j, len);
}

char *lgw__sim_answer_json(lgw__sim_format_t fmt, const char *model,
                           const char *text, long in_tokens, long out_tokens,
                           size_t *len) {
  return answer_json(fmt, model, text, in_tokens, out_tokens, 0, len);
}

/* Appends one event: "event: NAME\n" (when name is set), "data: JSON\n\n".
 * Deletes j. */
static int add_event(lgw__buf_t *b, const char *name, cJSON *j) {
  size_t n;
  char *data = print_json(j, &n);
  int rc;
  if (!data) return LGW_ENOMEM;
  rc = name ? lgw__buf_printf(b, "event: %s\n", name) : 0;
  if (rc == 0) rc = lgw__buf_printf(b, "data: %s\n\n", data);
  lgw_free(data);
  return rc;
}

/* Next text delta: from *pos up to (not including) the next space after
 * the first character, so deltas concatenate to the text. */
static int next_delta(const char *text, size_t *pos, char **delta) {
  size_t start = *pos, end = start + 1;
  if (text[start] == '\0') return 0;
  while (text[end] != '\0' && text[end] != ' ') end++;
  *pos = end;
  *delta = lgw__strndup(text + start, end - start);
  return 1;
}

static cJSON *chat_chunk(const char *model, cJSON **choice) {
  cJSON *c = obj(NULL, NULL);
  str(c, "id", "chatcmpl-sim");
  str(c, "object", "chat.completion.chunk");
  num(c, "created", 0);
  str(c, "model", model);
  if (choice) {
    *choice = obj(NULL, NULL);
    cJSON_AddItemToArray(arr(c, "choices"), *choice);
    num(*choice, "index", 0);
  }
  return c;
}

static int delta_event(lgw__buf_t *b, lgw__sim_format_t fmt,
                       const char *model, const char *delta, int refusal) {
  const char *name = refusal ? "response.refusal.delta"
                             : "response.output_text.delta";
  cJSON *e, *d, *choice;
  switch (fmt) {
  case LGW__SIM_RESPONSES:
    e = obj(NULL, NULL);
    str(e, "type", name);
    str(e, "item_id", "msg_sim");
    num(e, "output_index", 0);
    num(e, "content_index", 0);
    str(e, "delta", delta);
    return add_event(b, name, e);
  case LGW__SIM_CHAT:
    e = chat_chunk(model, &choice);
    str(obj(choice, "delta"), refusal ? "refusal" : "content", delta);
    cJSON_AddNullToObject(choice, "finish_reason");
    return add_event(b, NULL, e);
  case LGW__SIM_ANTHROPIC:
    e = obj(NULL, NULL);
    str(e, "type", "content_block_delta");
    num(e, "index", 0);
    d = obj(e, "delta");
    str(d, "type", "text_delta");
    str(d, "text", delta);
    return add_event(b, "content_block_delta", e);
  }
  return LGW_EINVAL;
}

static int stream_head(lgw__buf_t *b, lgw__sim_format_t fmt,
                       const char *model, long in, int refusal) {
  cJSON *e, *d, *choice;
  int rc = 0;
  switch (fmt) {
  case LGW__SIM_RESPONSES:
    e = obj(NULL, NULL);
    str(e, "type", "response.created");
    cJSON_AddItemToObjectCS(e, "response",
                            responses_object(model, "", 0, 0, 0, 0));
    return add_event(b, "response.created", e);
  case LGW__SIM_CHAT:
    e = chat_chunk(model, &choice);
    d = obj(choice, "delta");
    str(d, "role", "assistant");
    if (refusal) {
      cJSON_AddNullToObject(d, "content");
      str(d, "refusal", "");
    } else {
      str(d, "content", "");
    }
    cJSON_AddNullToObject(choice, "finish_reason");
    return add_event(b, NULL, e);
  case LGW__SIM_ANTHROPIC:
    e = obj(NULL, NULL);
    str(e, "type", "message_start");
    cJSON_AddItemToObjectCS(e, "message",
                            anthropic_object(model, "", in, 0, 0, 0));
    rc = add_event(b, "message_start", e);
    if (rc) return rc;
    e = obj(NULL, NULL);
    str(e, "type", "content_block_start");
    num(e, "index", 0);
    d = obj(e, "content_block");
    str(d, "type", "text");
    str(d, "text", "");
    return add_event(b, "content_block_start", e);
  }
  return LGW_EINVAL;
}

static int stream_tail(lgw__buf_t *b, lgw__sim_format_t fmt,
                       const char *model, const char *text, long in,
                       long out, int refusal) {
  const char *name = refusal ? "response.refusal.done"
                             : "response.output_text.done";
  cJSON *e, *d, *choice;
  int rc;
  switch (fmt) {
  case LGW__SIM_RESPONSES:
    e = obj(NULL, NULL);
    str(e, "type", name);
    str(e, "item_id", "msg_sim");
    num(e, "output_index", 0);
    num(e, "content_index", 0);
    str(e, refusal ? "refusal" : "text", text);
    rc = add_event(b, name, e);
    if (rc) return rc;
    e = obj(NULL, NULL);
    str(e, "type", "response.completed");
    cJSON_AddItemToObjectCS(e, "response",
                            responses_object(model, text, in, out, 1,
                                             refusal));
    return add_event(b, "response.completed", e);
  case LGW__SIM_CHAT:
    e = chat_chunk(model, &choice);
    obj(choice, "delta");
    str(choice, "finish_reason", "stop");
    rc = add_event(b, NULL, e);
    if (rc) return rc;
    e = chat_chunk(model, NULL);
    arr(e, "choices");
    d = obj(e, "usage");
    num(d, "prompt_tokens", in);
    num(d, "completion_tokens", out);
    num(d, "total_tokens", in + out);
    rc = add_event(b, NULL, e);
    return rc ? rc : lgw__buf_adds(b, "data: [DONE]\n\n");
  case LGW__SIM_ANTHROPIC:
    e = obj(NULL, NULL);
    str(e, "type", "content_block_stop");
    num(e, "index", 0);
    rc = add_event(b, "content_block_stop", e);
    if (rc) return rc;
    e = obj(NULL, NULL);
    str(e, "type", "message_delta");
    d = obj(e, "delta");
    str(d, "stop_reason", refusal ? "refusal" : "end_turn");
    cJSON_AddNullToObject(d, "stop_sequence");
    num(obj(e, "usage"), "output_tokens", out);
    rc = add_event(b, "message_delta", e);
    if (rc) return rc;
    e = obj(NULL, NULL);
    str(e, "type", "message_stop");
    return add_event(b, "message_stop", e);
  }
  return LGW_EINVAL;
}

static char *answer_sse(lgw__sim_format_t fmt, const char *model,
                        const char *text, long in_tokens, long out_tokens,
                        int refusal, size_t *len) {
  lgw__buf_t b;
  size_t pos = 0;
  char *delta = NULL;
  int rc;
  lgw__buf_init(&b);
  rc = stream_head(&b, fmt, model, in_tokens, refusal);
  while (rc == 0 && next_delta(text, &pos, &delta)) {
    rc = delta ? delta_event(&b, fmt, model, delta, refusal) : LGW_ENOMEM;
    lgw_free(delta);
  }
  if (rc == 0)
    rc = stream_tail(&b, fmt, model, text, in_tokens, out_tokens, refusal);
  if (rc) {
    lgw__buf_free(&b);
    return NULL;
  }
  *len = b.len;
  return lgw__buf_steal(&b);
}

char *lgw__sim_answer_sse(lgw__sim_format_t fmt, const char *model,
                          const char *text, long in_tokens, long out_tokens,
                          size_t *len) {
  return answer_sse(fmt, model, text, in_tokens, out_tokens, 0, len);
}

char *lgw__sim_refusal(lgw__sim_format_t fmt, const char *model,
                       const char *text, long in_tokens, long out_tokens,
                       int stream, size_t *len) {
  return stream ? answer_sse(fmt, model, text, in_tokens, out_tokens, 1, len)
                : answer_json(fmt, model, text, in_tokens, out_tokens, 1,
                              len);
}

/* Events before the deltas and after them, per format. */
static long head_events(lgw__sim_format_t fmt) {
  return fmt == LGW__SIM_ANTHROPIC ? 2 : 1;
}

static long tail_events(lgw__sim_format_t fmt) {
  return fmt == LGW__SIM_RESPONSES ? 2 : 3;
}

size_t lgw__sim_sse_offset(lgw__sim_format_t fmt, const char *sse,
                           size_t len, long deltas) {
  long events = 0, want;
  size_t i;
  for (i = 0; i + 1 < len; i++)
    if (sse[i] == '\n' && sse[i + 1] == '\n') events++;
  want = events - tail_events(fmt) - head_events(fmt);
  if (deltas < want) want = deltas;
  want += head_events(fmt);
  if (want <= 0) return 0;
  for (i = 0; i + 1 < len; i++)
    if (sse[i] == '\n' && sse[i + 1] == '\n' && --want == 0) return i + 2;
  return len;
}

/* ---- errors ------------------------------------------------------------- */

static const char *anthropic_error_type(int status) {
  switch (status) {
  case 401: return "authentication_error";
  case 403: return "permission_error";
  case 404: return "not_found_error";
  case 429: return "rate_limit_error";
  case 503:
  case 529: return "overloaded_error";
  default: return status >= 500 ? "api_error" : "invalid_request_error";
  }
}

static const char *openai_error_type(int status) {
  switch (status) {
  case 401: return "authentication_error";
  case 403: return "permission_error";
  case 404: return "not_found_error";
  case 429: return "rate_limit_error";
  default: return status >= 500 ? "server_error" : "invalid_request_error";
  }
}

static const char *openai_error_code(int status) {
  switch (status) {
  case 401: return "invalid_api_key";
  case 429: return "rate_limit_exceeded";
  default: return NULL;
  }
}

int lgw__sim_error_event(lgw__buf_t *b, lgw__sim_format_t fmt, int status,
                         const char *message) {
  size_t n;
  char *data;
  cJSON *j;
  int rc;
  if (fmt == LGW__SIM_RESPONSES) {
    j = obj(NULL, NULL);
    str(j, "type", "error");
    str(j, "code", openai_error_code(status) ? openai_error_code(status)
                                             : openai_error_type(status));
    str(j, "message", message);
    cJSON_AddNullToObject(j, "param");
    return add_event(b, "error", j);
  }
  /* Anthropic: an "error" event; Chat: a chunk holding the error body */
  data = lgw__sim_error_json(fmt, status, message, &n);
  if (!data) return LGW_ENOMEM;
  rc = lgw__buf_printf(b, "%sdata: %s\n\n",
                       fmt == LGW__SIM_ANTHROPIC ? "event: error\n" : "", data);
  lgw_free(data);
  return rc;
}

char *lgw__sim_error_json(lgw__sim_format_t fmt, int status,
                          const char *message, size_t *len) {
  cJSON *j = obj(NULL, NULL), *e;
  if (fmt == LGW__SIM_ANTHROPIC) {
    str(j, "type", "error");
    e = obj(j, "error");
    str(e, "type", anthropic_error_type(status));
    str(e, "message", message);
  } else {
    const char *code = openai_error_code(status);
    e = obj(j, "error");
    str(e, "message", message);
    str(e, "type", openai_error_type(status));
    if (code)
      str(e, "code", code);
    else
      cJSON_AddNullToObject(e, "code");
  }
  return print_json(j, len);
}
