/*
 * sim_answer.c -- the simulator's wire formats: reads the model, message
 * texts, directive lines, attached images and files, tool results and
 * embedding inputs out of a request, and renders the deterministic answer
 * (text or tool calls, JSON or server-sent events) and provider-shaped
 * error bodies.
 */
#include <string.h>

#include "sim.h"

/* ---- reading requests --------------------------------------------------- */

static int is_space(char c) {
  return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\v' ||
         c == '\f';
}

long sim_words(const char *s, size_t n) {
  long words = 0;
  size_t i;
  for (i = 0; i < n; i++)
    if (!is_space(s[i]) && (i == 0 || is_space(s[i - 1]))) words++;
  return words;
}

/* Splits one message text into directive lines (appended to r->directives)
 * and the rest (into *kept, lines re-joined with '\n'); counts the words of
 * the rest into r->input_tokens. */
static int scan_text(sim_request_t *r, const char *s, sim_buf_t *kept) {
  int first = 1;
  for (;;) {
    const char *nl = strchr(s, '\n');
    size_t n = nl ? (size_t)(nl - s) : strlen(s);
    if (n >= 5 && memcmp(s, "@sim ", 5) == 0) {
      size_t dn = n - 5;
      if (dn > 0 && s[5 + dn - 1] == '\r') dn--;
      if (sim_buf_add(&r->directives, s + 5, dn) ||
          sim_buf_addc(&r->directives, '\n'))
        return SIM_ENOMEM;
    } else {
      if (!first && sim_buf_addc(kept, '\n')) return SIM_ENOMEM;
      if (sim_buf_add(kept, s, n)) return SIM_ENOMEM;
      r->input_tokens += sim_words(s, n);
      first = 0;
    }
    if (!nl) return 0;
    s = nl + 1;
  }
}

/* Message content: a string, or parts whose "text" strings are joined
 * with '\n'. Anything else has no text. */
static int content_text(const cJSON *content, sim_buf_t *out) {
  const cJSON *part;
  int first = 1;
  sim_buf_init(out);
  if (cJSON_IsString(content)) return sim_buf_adds(out, content->valuestring);
  cJSON_ArrayForEach(part, (cJSON_IsArray(content) ? content : NULL)) {
    const cJSON *t = cJSON_GetObjectItemCaseSensitive(part, "text");
    if (!cJSON_IsString(t)) continue;
    if (!first && sim_buf_addc(out, '\n')) return SIM_ENOMEM;
    if (sim_buf_adds(out, t->valuestring)) return SIM_ENOMEM;
    first = 0;
  }
  return 0;
}

static const char *get_str(const cJSON *o, const char *key) {
  const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);
  return cJSON_IsString(v) ? v->valuestring : NULL;
}

static const cJSON *get(const cJSON *o, const char *key) {
  return cJSON_GetObjectItemCaseSensitive(o, key);
}

/* Bytes that base64 text s decodes to (whitespace ignored). */
static size_t base64_bytes(const char *s, size_t n) {
  size_t chars = 0, pad = 0, i;
  for (i = 0; i < n; i++) {
    if (s[i] == '=')
      pad++;
    else if (!is_space(s[i]))
      chars++;
  }
  chars += pad;
  return chars / 4 * 3 - (pad > 2 ? 2 : pad) + (chars % 4 ? chars % 4 - 1 : 0);
}

/* One attachment description: "<kind> <media type> <N> bytes" for inline
 * data (a data: URL, or base64 data with its media type), "<kind> url"
 * for a link, "<kind> file_id" for an uploaded file. */
static int describe(sim_buf_t *b, const char *kind, const char *url,
                    const char *media, const char *b64, const char *file_id) {
  if (url && strncmp(url, "data:", 5) == 0) {
    const char *comma = strchr(url, ',');
    const char *semi = strchr(url, ';');
    const char *mt = url + 5;
    size_t mlen;
    if (!comma) return sim_buf_printf(b, "%s url", kind);
    mlen = (size_t)((semi && semi < comma ? semi : comma) - mt);
    if (mlen == 0) {
      mt = "text/plain";
      mlen = 10;
    }
    if (semi && semi < comma && comma - url >= 12 &&
        strncmp(comma - 7, ";base64", 7) == 0)
      return sim_buf_printf(b, "%s %.*s %zu bytes", kind, (int)mlen, mt,
                            base64_bytes(comma + 1, strlen(comma + 1)));
    return sim_buf_printf(b, "%s %.*s %zu bytes", kind, (int)mlen, mt,
                          strlen(comma + 1));
  }
  if (url) return sim_buf_printf(b, "%s url", kind);
  if (b64)
    return sim_buf_printf(b, "%s %s %zu bytes", kind,
                          media ? media : "application/octet-stream",
                          base64_bytes(b64, strlen(b64)));
  if (file_id) return sim_buf_printf(b, "%s file_id", kind);
  return sim_buf_printf(b, "%s", kind);
}

/* Adds the description of one content part to items when it is an image
 * or a file; counts it in *count. */
static int describe_part(sim_format_t fmt, const cJSON *part, sim_buf_t *items,
                         int *count) {
  const char *type = get_str(part, "type");
  const char *kind = NULL, *url = NULL, *media = NULL, *b64 = NULL;
  const char *file_id = NULL;
  if (!type) return 0;
  if (fmt == SIM_RESPONSES && strcmp(type, "input_image") == 0) {
    kind = "image";
    url = get_str(part, "image_url");
    file_id = get_str(part, "file_id");
  } else if (fmt == SIM_RESPONSES && strcmp(type, "input_file") == 0) {
    kind = "file";
    url = get_str(part, "file_data");
    if (!url) url = get_str(part, "file_url");
    file_id = get_str(part, "file_id");
  } else if (fmt == SIM_CHAT && strcmp(type, "image_url") == 0) {
    kind = "image";
    url = get_str(get(part, "image_url"), "url");
  } else if (fmt == SIM_CHAT && strcmp(type, "file") == 0) {
    kind = "file";
    url = get_str(get(part, "file"), "file_data");
    file_id = get_str(get(part, "file"), "file_id");
  } else if (fmt == SIM_ANTHROPIC &&
             (strcmp(type, "image") == 0 || strcmp(type, "document") == 0)) {
    const cJSON *src = get(part, "source");
    const char *st = get_str(src, "type");
    kind = type[0] == 'i' ? "image" : "file";
    media = get_str(src, "media_type");
    if (st && strcmp(st, "base64") == 0) {
      b64 = get_str(src, "data");
    } else if (st && strcmp(st, "url") == 0) {
      url = get_str(src, "url");
    } else if (st && strcmp(st, "text") == 0 && get_str(src, "data")) {
      *count += 1;
      if (items->len && sim_buf_adds(items, ", ")) return SIM_ENOMEM;
      return sim_buf_printf(items, "%s %s %zu bytes", kind,
                            media ? media : "text/plain",
                            strlen(get_str(src, "data")));
    } else {
      file_id = get_str(src, "file_id");
    }
  }
  if (!kind) return 0;
  *count += 1;
  if (items->len && sim_buf_adds(items, ", ")) return SIM_ENOMEM;
  return describe(items, kind, url, media, b64, file_id);
}

/* The attachments of a user message's content into r->attachments. */
static int read_attachments(sim_request_t *r, sim_format_t fmt,
                            const cJSON *content) {
  const cJSON *part;
  sim_buf_t items;
  int count = 0, rc = 0;
  sim_buf_init(&items);
  sim_buf_free(&r->attachments);
  cJSON_ArrayForEach(part, (cJSON_IsArray(content) ? content : NULL)) {
    if ((rc = describe_part(fmt, part, &items, &count)) != 0) break;
  }
  if (rc == 0 && count > 0)
    rc = sim_buf_printf(&r->attachments, " [%d attachment%s: %s]", count,
                        count == 1 ? "" : "s", items.data);
  sim_buf_free(&items);
  return rc;
}

/* One message (or system text); if it is a user message its kept text
 * becomes the last user text so far, and its images and files the
 * attachments. */
static int read_message(sim_request_t *r, sim_format_t fmt,
                        const cJSON *content, int is_user) {
  sim_buf_t text, kept;
  int rc = content_text(content, &text);
  sim_buf_init(&kept);
  if (rc == 0) rc = scan_text(r, text.data ? text.data : "", &kept);
  if (rc == 0 && is_user) {
    char *stripped = sim_strip(kept.data ? kept.data : "");
    if (!stripped) {
      rc = SIM_ENOMEM;
    } else {
      free(r->last_user);
      r->last_user = stripped;
      rc = read_attachments(r, fmt, content);
    }
  }
  sim_buf_free(&text);
  sim_buf_free(&kept);
  return rc;
}

/* Adds one tool result ("tool result: TEXT", or "tool error: TEXT") to
 * r->results; with `count` its words count as input. */
static int add_result(sim_request_t *r, const cJSON *content, int is_error,
                      int count) {
  sim_buf_t text;
  int rc = content_text(content, &text);
  const char *t = text.data ? text.data : "";
  r->results_seen++;
  r->has_results = 1;
  if (count) r->input_tokens += sim_words(t, strlen(t));
  if (rc == 0 && r->results.len) rc = sim_buf_addc(&r->results, '\n');
  if (rc == 0)
    rc = sim_buf_printf(&r->results, "tool %s: %s",
                        is_error ? "error" : "result", t);
  sim_buf_free(&text);
  return rc;
}

static void clear_results(sim_request_t *r) {
  r->has_results = 0;
  sim_buf_free(&r->results);
}

/* An Anthropic user message whose blocks include tool_result ones: its
 * results (the last turn's are kept); returns 1 when it had any. */
static int anthropic_results(sim_request_t *r, const cJSON *content,
                             int *rc) {
  const cJSON *part;
  int any = 0;
  cJSON_ArrayForEach(part, (cJSON_IsArray(content) ? content : NULL)) {
    const char *type = get_str(part, "type");
    if (!type || strcmp(type, "tool_result") != 0) continue;
    if (!any) clear_results(r);
    any = 1;
    if (*rc == 0)
      *rc = add_result(r, get(part, "content"),
                       cJSON_IsTrue(get(part, "is_error")), 1);
  }
  return any;
}

static int read_messages(sim_request_t *r, sim_format_t fmt,
                         const cJSON *list) {
  const cJSON *m;
  cJSON_ArrayForEach(m, (cJSON_IsArray(list) ? list : NULL)) {
    const char *role = get_str(m, "role");
    const char *type = get_str(m, "type");
    const cJSON *content = get(m, "content");
    int is_user = role && strcmp(role, "user") == 0, rc = 0;
    if (fmt == SIM_RESPONSES && type &&
        strcmp(type, "function_call_output") == 0) {
      rc = add_result(r, get(m, "output"), 0, 1);
      if (rc) return rc;
      continue;
    }
    /* calls and their outputs may interleave: one tool turn */
    if (fmt == SIM_RESPONSES && type && strcmp(type, "function_call") == 0)
      continue;
    if (fmt == SIM_CHAT && role && strcmp(role, "tool") == 0) {
      /* its words count below, as a message text */
      rc = add_result(r, content, 0, 0);
      if (rc) return rc;
    } else if (fmt == SIM_ANTHROPIC && is_user &&
               anthropic_results(r, content, &rc)) {
      /* a tool-result turn: not the user's text */
      if (rc) return rc;
      rc = read_message(r, fmt, content, 0);
      if (rc) return rc;
      continue;
    } else {
      clear_results(r);
    }
    rc = read_message(r, fmt, content, is_user);
    if (rc) return rc;
  }
  return 0;
}

/* Embeddings: "input" is a string or an array of strings; directive lines
 * are taken out of each. */
static int read_inputs(sim_request_t *r, const cJSON *body) {
  const cJSON *input = get(body, "input"), *item;
  const cJSON *dims = get(body, "dimensions");
  size_t n = cJSON_IsArray(input) ? (size_t)cJSON_GetArraySize(input) : 1;
  int ok = cJSON_IsString(input) || (cJSON_IsArray(input) && n > 0);
  cJSON_ArrayForEach(item, (cJSON_IsArray(input) ? input : NULL))
    if (!cJSON_IsString(item)) ok = 0;
  if (!ok) {
    r->invalid = sim_strdup("input must be a string or a non-empty array "
                            "of strings");
    return r->invalid ? 0 : SIM_ENOMEM;
  }
  if (dims && !(cJSON_IsNumber(dims) && dims->valuedouble >= 1 &&
                dims->valuedouble <= 65536 &&
                dims->valuedouble == (double)dims->valueint)) {
    r->invalid = sim_strdup("dimensions must be an integer from 1 to 65536");
    return r->invalid ? 0 : SIM_ENOMEM;
  }
  if (!(r->inputs = calloc(n, sizeof *r->inputs))) return SIM_ENOMEM;
  for (item = cJSON_IsArray(input) ? input->child : input; item;
       item = cJSON_IsArray(input) ? item->next : NULL) {
    sim_buf_t kept;
    int rc;
    sim_buf_init(&kept);
    rc = scan_text(r, item->valuestring, &kept);
    if (rc == 0 && !(r->inputs[r->ninputs++] = sim_buf_steal(&kept)))
      rc = SIM_ENOMEM;
    sim_buf_free(&kept);
    if (rc) return rc;
  }
  free(r->last_user);
  r->last_user = sim_strip(r->inputs[r->ninputs - 1]);
  return r->last_user ? 0 : SIM_ENOMEM;
}

int sim_request_read(sim_format_t fmt, const cJSON *body,
                     sim_request_t *out) {
  const cJSON *model = cJSON_GetObjectItemCaseSensitive(body, "model");
  int rc = 0;
  memset(out, 0, sizeof *out);
  sim_buf_init(&out->directives);
  sim_buf_init(&out->attachments);
  sim_buf_init(&out->results);
  out->body = body;
  out->model = sim_strdup(cJSON_IsString(model) ? model->valuestring : "");
  out->last_user = sim_strdup("");
  if (!out->model || !out->last_user) return SIM_ENOMEM;
  out->stream = cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(body, "stream"));
  switch (fmt) {
  case SIM_RESPONSES: {
    const cJSON *input = cJSON_GetObjectItemCaseSensitive(body, "input");
    rc = read_message(out, fmt,
                      cJSON_GetObjectItemCaseSensitive(body, "instructions"),
                      0);
    if (rc == 0 && cJSON_IsString(input))
      rc = read_message(out, fmt, input, 1);
    else if (rc == 0)
      rc = read_messages(out, fmt, input);
    break;
  }
  case SIM_CHAT:
    rc = read_messages(out, fmt,
                       cJSON_GetObjectItemCaseSensitive(body, "messages"));
    break;
  case SIM_ANTHROPIC:
    rc = read_message(out, fmt,
                      cJSON_GetObjectItemCaseSensitive(body, "system"), 0);
    if (rc == 0)
      rc = read_messages(out, fmt,
                         cJSON_GetObjectItemCaseSensitive(body, "messages"));
    break;
  case SIM_EMBEDDINGS:
    rc = read_inputs(out, body);
    break;
  }
  return rc;
}

void sim_request_free(sim_request_t *r) {
  size_t i;
  free(r->model);
  free(r->last_user);
  sim_buf_free(&r->directives);
  sim_buf_free(&r->attachments);
  sim_buf_free(&r->results);
  for (i = 0; i < r->ninputs; i++) free(r->inputs[i]);
  free(r->inputs);
  free(r->invalid);
  memset(r, 0, sizeof *r);
}

/* ---- rendering ---------------------------------------------------------- */

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

/* A string value that is not a constant or the answer's own (copied). */
static void strc(cJSON *o, const char *key, const char *v) {
  cJSON_AddItemToObjectCS(o, key, cJSON_CreateString(v));
}

static void num(cJSON *o, const char *key, long v) {
  cJSON_AddItemToObjectCS(o, key, cJSON_CreateNumber((double)v));
}

/* The number of an answer's i-th call (ids are numbered from 1 across the
 * conversation). */
static long call_num(const sim_answer_t *a, size_t i) {
  return a->id_base + (long)i + 1;
}

/* Ids of a tool call numbered n (from 1): fc_sim_N, call_sim_N,
 * toolu_sim_N. */
static char *call_id(const char *prefix, long n) {
  return sim_sprintf("%s_sim_%ld", prefix, n);
}

/* The arguments as a JSON value (Anthropic's input); {} if unparsable. */
static cJSON *args_value(const char *args) {
  cJSON *j = cJSON_Parse(args);
  return j ? j : cJSON_CreateObject();
}

/* A Responses function_call item for the call numbered n (arguments ""
 * and in_progress unless done). */
static cJSON *function_call_item(const sim_call_t *c, long n, int done) {
  cJSON *item = obj(NULL, NULL);
  char *id = call_id("fc", n), *cid = call_id("call", n);
  str(item, "type", "function_call");
  strc(item, "id", id ? id : "");
  strc(item, "call_id", cid ? cid : "");
  str(item, "name", c->name);
  str(item, "arguments", done ? c->args : "");
  str(item, "status", done ? "completed" : "in_progress");
  free(id);
  free(cid);
  return item;
}

/* Render helpers build trees that reference model and text (no copies);
 * cJSON_Delete leaves referenced strings alone. */
static cJSON *responses_object(const sim_answer_t *a, int done) {
  cJSON *r = obj(NULL, NULL);
  str(r, "id", "resp_sim");
  str(r, "object", "response");
  str(r, "status", done ? "completed" : "in_progress");
  str(r, "model", a->model);
  if (done) {
    cJSON *output = arr(r, "output"), *u;
    size_t i;
    for (i = 0; i < a->ncalls; i++)
      cJSON_AddItemToArray(output, function_call_item(&a->calls[i],
                                                      call_num(a, i), 1));
    if (a->ncalls == 0) {
      cJSON *msg = obj(NULL, NULL), *part = obj(NULL, NULL);
      cJSON_AddItemToArray(output, msg);
      str(msg, "type", "message");
      str(msg, "id", "msg_sim");
      str(msg, "status", "completed");
      str(msg, "role", "assistant");
      cJSON_AddItemToArray(arr(msg, "content"), part);
      if (a->refusal) {
        str(part, "type", "refusal");
        str(part, "refusal", a->text);
      } else {
        str(part, "type", "output_text");
        str(part, "text", a->text);
        arr(part, "annotations");
      }
    }
    u = obj(r, "usage");
    num(u, "input_tokens", a->in_tokens);
    num(u, "output_tokens", a->out_tokens);
    num(u, "total_tokens", a->in_tokens + a->out_tokens);
  } else {
    arr(r, "output");
    cJSON_AddNullToObject(r, "usage");
  }
  return r;
}

/* A Chat tool call numbered n; streamed, its opening (with its index and
 * "arguments":""). */
static cJSON *chat_tool_call(const sim_call_t *c, long n, long index,
                            int streamed) {
  cJSON *tc = obj(NULL, NULL), *f;
  char *id = call_id("call", n);
  if (streamed) num(tc, "index", index);
  strc(tc, "id", id ? id : "");
  str(tc, "type", "function");
  f = obj(tc, "function");
  str(f, "name", c->name);
  str(f, "arguments", streamed ? "" : c->args);
  free(id);
  return tc;
}

static cJSON *chat_object(const sim_answer_t *a) {
  cJSON *r = obj(NULL, NULL), *choice = obj(NULL, NULL), *m, *u;
  size_t i;
  str(r, "id", "chatcmpl-sim");
  str(r, "object", "chat.completion");
  num(r, "created", 0);
  str(r, "model", a->model);
  cJSON_AddItemToArray(arr(r, "choices"), choice);
  num(choice, "index", 0);
  m = obj(choice, "message");
  str(m, "role", "assistant");
  if (a->ncalls) {
    cJSON *calls;
    cJSON_AddNullToObject(m, "content");
    calls = arr(m, "tool_calls");
    for (i = 0; i < a->ncalls; i++)
      cJSON_AddItemToArray(calls, chat_tool_call(&a->calls[i], call_num(a, i),
                                                 (long)i, 0));
  } else if (a->refusal) {
    cJSON_AddNullToObject(m, "content");
    str(m, "refusal", a->text);
  } else {
    str(m, "content", a->text);
  }
  str(choice, "finish_reason", a->ncalls ? "tool_calls" : "stop");
  u = obj(r, "usage");
  num(u, "prompt_tokens", a->in_tokens);
  num(u, "completion_tokens", a->out_tokens);
  num(u, "total_tokens", a->in_tokens + a->out_tokens);
  return r;
}

static cJSON *tool_use_block(const sim_call_t *c, long n, int done) {
  cJSON *block = obj(NULL, NULL);
  char *id = call_id("toolu", n);
  str(block, "type", "tool_use");
  strc(block, "id", id ? id : "");
  str(block, "name", c->name);
  cJSON_AddItemToObjectCS(block, "input",
                          done ? args_value(c->args) : cJSON_CreateObject());
  free(id);
  return block;
}

static const char *anthropic_stop(const sim_answer_t *a) {
  return a->ncalls ? "tool_use" : a->refusal ? "refusal" : "end_turn";
}

static cJSON *anthropic_object(const sim_answer_t *a, int done) {
  cJSON *r = obj(NULL, NULL), *content, *u;
  str(r, "id", "msg_sim");
  str(r, "type", "message");
  str(r, "role", "assistant");
  str(r, "model", a->model);
  content = arr(r, "content");
  if (done) {
    size_t i;
    for (i = 0; i < a->ncalls; i++)
      cJSON_AddItemToArray(content, tool_use_block(&a->calls[i],
                                                   call_num(a, i), 1));
    if (a->ncalls == 0) {
      cJSON *block = obj(NULL, NULL);
      cJSON_AddItemToArray(content, block);
      str(block, "type", "text");
      str(block, "text", a->text);
    }
    str(r, "stop_reason", anthropic_stop(a));
  } else {
    cJSON_AddNullToObject(r, "stop_reason");
  }
  u = obj(r, "usage");
  num(u, "input_tokens", a->in_tokens);
  num(u, "output_tokens", done ? a->out_tokens : 0);
  return r;
}

static cJSON *answer_object(sim_format_t fmt, const sim_answer_t *a) {
  switch (fmt) {
  case SIM_RESPONSES: return responses_object(a, 1);
  case SIM_CHAT: return chat_object(a);
  case SIM_ANTHROPIC: return anthropic_object(a, 1);
  case SIM_EMBEDDINGS: break;
  }
  return NULL;
}

char *sim_answer_json(sim_format_t fmt, const char *model, const char *text,
                      long in_tokens, long out_tokens, size_t *len) {
  sim_answer_t a;
  memset(&a, 0, sizeof a);
  a.model = model;
  a.text = text;
  a.in_tokens = in_tokens;
  a.out_tokens = out_tokens;
  return sim_render(fmt, &a, 0, 0, NULL, len);
}

/* A stream being written: the events so far, and where mid-stream faults
 * strike (just after the opening events and `after` delta events). */
typedef struct stream {
  sim_buf_t b;
  long after, deltas;
  size_t cut;
} stream_t;

/* Appends one event: "event: NAME\n" (when name is set), "data: JSON\n\n".
 * Deletes j. */
static int add_event(sim_buf_t *b, const char *name, cJSON *j) {
  size_t n;
  char *data = sim_json_print(j, &n);
  int rc;
  if (!data) return SIM_ENOMEM;
  rc = name ? sim_buf_printf(b, "event: %s\n", name) : 0;
  if (rc == 0) rc = sim_buf_printf(b, "data: %s\n\n", data);
  free(data);
  return rc;
}

/* An opening or closing event. */
static int ev(stream_t *s, const char *name, cJSON *j) {
  return add_event(&s->b, name, j);
}

/* A delta event: moves the cut just after it while fewer than `after`
 * deltas have been sent. */
static int delta_ev(stream_t *s, const char *name, cJSON *j) {
  int rc = add_event(&s->b, name, j);
  if (rc == 0 && s->deltas++ < s->after) s->cut = s->b.len;
  return rc;
}

/* The opening events are over: with no delta yet the cut is here. */
static void head_done(stream_t *s) {
  if (s->deltas == 0) s->cut = s->b.len;
}

/* Next text delta: from *pos up to (not including) the next space after
 * the first character, so deltas concatenate to the text. */
static int next_delta(const char *text, size_t *pos, char **delta) {
  size_t start = *pos, end = start + 1;
  if (text[start] == '\0') return 0;
  while (text[end] != '\0' && text[end] != ' ') end++;
  *pos = end;
  *delta = sim_strndup(text + start, end - start);
  return 1;
}

/* Next arguments piece: from *pos up to the next '"' after the first
 * character (`{"city":"Paris"}` -> `{`, `"city`, `":`, `"Paris`, `"}`). */
static int next_piece(const char *args, size_t *pos, char **piece) {
  size_t start = *pos, end = start + 1;
  if (args[start] == '\0') return 0;
  while (args[end] != '\0' && args[end] != '"') end++;
  *pos = end;
  *piece = sim_strndup(args + start, end - start);
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

static int text_delta(stream_t *s, sim_format_t fmt, const sim_answer_t *a,
                      const char *delta) {
  const char *name = a->refusal ? "response.refusal.delta"
                                : "response.output_text.delta";
  cJSON *e, *d, *choice;
  switch (fmt) {
  case SIM_RESPONSES:
    e = obj(NULL, NULL);
    str(e, "type", name);
    str(e, "item_id", "msg_sim");
    num(e, "output_index", 0);
    num(e, "content_index", 0);
    str(e, "delta", delta);
    return delta_ev(s, name, e);
  case SIM_CHAT:
    e = chat_chunk(a->model, &choice);
    str(obj(choice, "delta"), a->refusal ? "refusal" : "content", delta);
    cJSON_AddNullToObject(choice, "finish_reason");
    return delta_ev(s, NULL, e);
  case SIM_ANTHROPIC:
    e = obj(NULL, NULL);
    str(e, "type", "content_block_delta");
    num(e, "index", 0);
    d = obj(e, "delta");
    str(d, "type", "text_delta");
    str(d, "text", delta);
    return delta_ev(s, "content_block_delta", e);
  case SIM_EMBEDDINGS: break;
  }
  return SIM_EINVAL;
}

/* The message start of every stream (Responses response.created, Anthropic
 * message_start; nothing for Chat, whose first chunk opens the content). */
static int message_start(stream_t *s, sim_format_t fmt,
                         const sim_answer_t *a) {
  cJSON *e;
  if (fmt == SIM_RESPONSES) {
    e = obj(NULL, NULL);
    str(e, "type", "response.created");
    cJSON_AddItemToObjectCS(e, "response", responses_object(a, 0));
    return ev(s, "response.created", e);
  }
  if (fmt == SIM_ANTHROPIC) {
    e = obj(NULL, NULL);
    str(e, "type", "message_start");
    cJSON_AddItemToObjectCS(e, "message", anthropic_object(a, 0));
    return ev(s, "message_start", e);
  }
  return 0;
}

/* The end of every stream: Responses response.completed; Chat the
 * finish chunk, the usage chunk and [DONE]; Anthropic message_delta and
 * message_stop. */
static int message_end(stream_t *s, sim_format_t fmt, const sim_answer_t *a) {
  cJSON *e, *d, *choice;
  int rc;
  switch (fmt) {
  case SIM_RESPONSES:
    e = obj(NULL, NULL);
    str(e, "type", "response.completed");
    cJSON_AddItemToObjectCS(e, "response", responses_object(a, 1));
    return ev(s, "response.completed", e);
  case SIM_CHAT:
    e = chat_chunk(a->model, &choice);
    obj(choice, "delta");
    str(choice, "finish_reason", a->ncalls ? "tool_calls" : "stop");
    rc = ev(s, NULL, e);
    if (rc) return rc;
    e = chat_chunk(a->model, NULL);
    arr(e, "choices");
    d = obj(e, "usage");
    num(d, "prompt_tokens", a->in_tokens);
    num(d, "completion_tokens", a->out_tokens);
    num(d, "total_tokens", a->in_tokens + a->out_tokens);
    rc = ev(s, NULL, e);
    return rc ? rc : sim_buf_adds(&s->b, "data: [DONE]\n\n");
  case SIM_ANTHROPIC:
    e = obj(NULL, NULL);
    str(e, "type", "message_delta");
    d = obj(e, "delta");
    str(d, "stop_reason", anthropic_stop(a));
    cJSON_AddNullToObject(d, "stop_sequence");
    num(obj(e, "usage"), "output_tokens", a->out_tokens);
    rc = ev(s, "message_delta", e);
    if (rc) return rc;
    e = obj(NULL, NULL);
    str(e, "type", "message_stop");
    return ev(s, "message_stop", e);
  case SIM_EMBEDDINGS: break;
  }
  return SIM_EINVAL;
}

static int block_event(stream_t *s, const char *type, size_t index,
                       cJSON *block) {
  cJSON *e = obj(NULL, NULL);
  str(e, "type", type);
  num(e, "index", (long)index);
  if (block) cJSON_AddItemToObjectCS(e, "content_block", block);
  return ev(s, type, e);
}

static int text_stream(stream_t *s, sim_format_t fmt, const sim_answer_t *a) {
  const char *done = a->refusal ? "response.refusal.done"
                                : "response.output_text.done";
  size_t pos = 0;
  char *delta = NULL;
  cJSON *e, *d, *choice;
  int rc = 0;
  if (fmt == SIM_CHAT) {
    e = chat_chunk(a->model, &choice);
    d = obj(choice, "delta");
    str(d, "role", "assistant");
    if (a->refusal) {
      cJSON_AddNullToObject(d, "content");
      str(d, "refusal", "");
    } else {
      str(d, "content", "");
    }
    cJSON_AddNullToObject(choice, "finish_reason");
    rc = ev(s, NULL, e);
  } else if (fmt == SIM_ANTHROPIC) {
    d = obj(NULL, NULL);
    str(d, "type", "text");
    str(d, "text", "");
    rc = block_event(s, "content_block_start", 0, d);
  }
  head_done(s);
  while (rc == 0 && next_delta(a->text, &pos, &delta)) {
    rc = delta ? text_delta(s, fmt, a, delta) : SIM_ENOMEM;
    free(delta);
  }
  if (rc) return rc;
  if (fmt == SIM_RESPONSES) {
    e = obj(NULL, NULL);
    str(e, "type", done);
    str(e, "item_id", "msg_sim");
    num(e, "output_index", 0);
    num(e, "content_index", 0);
    str(e, a->refusal ? "refusal" : "text", a->text);
    return ev(s, done, e);
  }
  if (fmt == SIM_ANTHROPIC)
    return block_event(s, "content_block_stop", 0, NULL);
  return 0;
}

/* The opening of the i-th tool call. */
static int call_open(stream_t *s, sim_format_t fmt, const sim_answer_t *a,
                     size_t i) {
  cJSON *e, *d, *choice;
  switch (fmt) {
  case SIM_RESPONSES:
    e = obj(NULL, NULL);
    str(e, "type", "response.output_item.added");
    num(e, "output_index", (long)i);
    cJSON_AddItemToObjectCS(
        e, "item", function_call_item(&a->calls[i], call_num(a, i), 0));
    return ev(s, "response.output_item.added", e);
  case SIM_CHAT:
    e = chat_chunk(a->model, &choice);
    d = obj(choice, "delta");
    if (i == 0) {
      str(d, "role", "assistant");
      cJSON_AddNullToObject(d, "content");
    }
    cJSON_AddItemToArray(
        arr(d, "tool_calls"),
        chat_tool_call(&a->calls[i], call_num(a, i), (long)i, 1));
    cJSON_AddNullToObject(choice, "finish_reason");
    return ev(s, NULL, e);
  case SIM_ANTHROPIC:
    return block_event(s, "content_block_start", i,
                       tool_use_block(&a->calls[i], call_num(a, i), 0));
  case SIM_EMBEDDINGS: break;
  }
  return SIM_EINVAL;
}

static int call_piece(stream_t *s, sim_format_t fmt, const sim_answer_t *a,
                      size_t i, const char *piece) {
  cJSON *e, *d, *choice, *tc;
  char *id;
  switch (fmt) {
  case SIM_RESPONSES:
    e = obj(NULL, NULL);
    id = call_id("fc", call_num(a, i));
    str(e, "type", "response.function_call_arguments.delta");
    strc(e, "item_id", id ? id : "");
    num(e, "output_index", (long)i);
    str(e, "delta", piece);
    free(id);
    return delta_ev(s, "response.function_call_arguments.delta", e);
  case SIM_CHAT:
    e = chat_chunk(a->model, &choice);
    d = obj(choice, "delta");
    tc = obj(NULL, NULL);
    cJSON_AddItemToArray(arr(d, "tool_calls"), tc);
    num(tc, "index", (long)i);
    str(obj(tc, "function"), "arguments", piece);
    cJSON_AddNullToObject(choice, "finish_reason");
    return delta_ev(s, NULL, e);
  case SIM_ANTHROPIC:
    e = obj(NULL, NULL);
    str(e, "type", "content_block_delta");
    num(e, "index", (long)i);
    d = obj(e, "delta");
    str(d, "type", "input_json_delta");
    str(d, "partial_json", piece);
    return delta_ev(s, "content_block_delta", e);
  case SIM_EMBEDDINGS: break;
  }
  return SIM_EINVAL;
}

static int call_close(stream_t *s, sim_format_t fmt, const sim_answer_t *a,
                      size_t i) {
  cJSON *e;
  char *id;
  int rc;
  if (fmt == SIM_ANTHROPIC)
    return block_event(s, "content_block_stop", i, NULL);
  if (fmt != SIM_RESPONSES) return 0;
  e = obj(NULL, NULL);
  id = call_id("fc", call_num(a, i));
  str(e, "type", "response.function_call_arguments.done");
  strc(e, "item_id", id ? id : "");
  num(e, "output_index", (long)i);
  str(e, "name", a->calls[i].name);
  str(e, "arguments", a->calls[i].args);
  free(id);
  rc = ev(s, "response.function_call_arguments.done", e);
  if (rc) return rc;
  e = obj(NULL, NULL);
  str(e, "type", "response.output_item.done");
  num(e, "output_index", (long)i);
  cJSON_AddItemToObjectCS(
      e, "item", function_call_item(&a->calls[i], call_num(a, i), 1));
  return ev(s, "response.output_item.done", e);
}

static int calls_stream(stream_t *s, sim_format_t fmt, const sim_answer_t *a) {
  size_t i;
  int rc = 0;
  for (i = 0; rc == 0 && i < a->ncalls; i++) {
    size_t pos = 0;
    char *piece = NULL;
    rc = call_open(s, fmt, a, i);
    if (i == 0) head_done(s);
    /* Anthropic's first input_json_delta is empty */
    if (rc == 0 && fmt == SIM_ANTHROPIC) rc = call_piece(s, fmt, a, i, "");
    while (rc == 0 && next_piece(a->calls[i].args, &pos, &piece)) {
      rc = piece ? call_piece(s, fmt, a, i, piece) : SIM_ENOMEM;
      free(piece);
    }
    if (rc == 0) rc = call_close(s, fmt, a, i);
  }
  return rc;
}

char *sim_render(sim_format_t fmt, const sim_answer_t *a, int stream,
                 long after, size_t *cut, size_t *len) {
  stream_t s;
  int rc;
  if (!stream) return sim_json_print(answer_object(fmt, a), len);
  memset(&s, 0, sizeof s);
  sim_buf_init(&s.b);
  s.after = after;
  rc = message_start(&s, fmt, a);
  if (rc == 0)
    rc = a->ncalls ? calls_stream(&s, fmt, a) : text_stream(&s, fmt, a);
  if (rc == 0) rc = message_end(&s, fmt, a);
  if (rc) {
    sim_buf_free(&s.b);
    return NULL;
  }
  if (cut) *cut = s.cut;
  *len = s.b.len;
  return sim_buf_steal(&s.b);
}

void sim_calls_free(sim_call_t *calls, size_t n) {
  size_t i;
  for (i = 0; i < n; i++) {
    free(calls[i].name);
    free(calls[i].args);
  }
  free(calls);
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

int sim_error_event(sim_buf_t *b, sim_format_t fmt, int status,
                         const char *message) {
  size_t n;
  char *data;
  cJSON *j;
  int rc;
  if (fmt == SIM_RESPONSES) {
    j = obj(NULL, NULL);
    str(j, "type", "error");
    str(j, "code", openai_error_code(status) ? openai_error_code(status)
                                             : openai_error_type(status));
    str(j, "message", message);
    cJSON_AddNullToObject(j, "param");
    return add_event(b, "error", j);
  }
  /* Anthropic: an "error" event; Chat: a chunk holding the error body */
  data = sim_error_json(fmt, status, message, &n);
  if (!data) return SIM_ENOMEM;
  rc = sim_buf_printf(b, "%sdata: %s\n\n",
                       fmt == SIM_ANTHROPIC ? "event: error\n" : "", data);
  free(data);
  return rc;
}

char *sim_error_json(sim_format_t fmt, int status,
                          const char *message, size_t *len) {
  cJSON *j = obj(NULL, NULL), *e;
  if (fmt == SIM_ANTHROPIC) {
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
  return sim_json_print(j, len);
}
