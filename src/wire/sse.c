/*
 * sse.c -- decoding a complete text/event-stream body into one JSON object.
 * Event framing and the Responses aggregation follow the Python library
 * (§10.1). Beyond it, Chat Completions chunk streams and Anthropic Messages
 * streams are aggregated into the object a non-streaming call returns, and
 * an Anthropic error event is returned as its {"type":"error"} object.
 * Events are folded in one pass; only the aggregates are kept.
 */
#include "sse.h"

#include <string.h>

#include "json.h"
#include "util.h"

typedef struct {
  cJSON *last;          /* last object event */
  /* Responses */
  lgw__buf_t deltas;
  int have_deltas;
  char *done;           /* last output_text.done text */
  cJSON *response;      /* latest "response" object */
  /* Chat Completions chunks */
  int chat;
  lgw__buf_t chat_text, chat_refusal;
  int chat_refused;
  cJSON *chat_id, *chat_model, *chat_created, *chat_finish, *chat_usage;
  /* Anthropic Messages */
  int msg;
  lgw__buf_t msg_text;
  cJSON *message;       /* message_start's message */
  cJSON *msg_stop;      /* message_delta's stop_reason */
  cJSON *msg_usage;     /* message_delta's usage */
  cJSON *error;         /* an Anthropic error event */
  int nomem;
} sse_state;

/* Replace (or add) key in obj; v is consumed (freed when it cannot be
 * added: the key is copied). */
static int set_item(cJSON *obj, const char *key, cJSON *v) {
  if (!v) return LGW_ENOMEM;
  cJSON_DeleteItemFromObjectCaseSensitive(obj, key);
  if (cJSON_AddItemToObject(obj, key, v)) return 0;
  cJSON_Delete(v);
  return LGW_ENOMEM;
}

static void keep(cJSON **slot, const cJSON *v, sse_state *st) {
  cJSON *copy = cJSON_Duplicate(v, 1);
  if (!copy) {
    st->nomem = 1;
    return;
  }
  cJSON_Delete(*slot);
  *slot = copy;
}

static int ends_with_ci(const char *s, const char *suffix) {
  size_t n = strlen(s), k = strlen(suffix);
  return n >= k && lgw__strncasecmp(s + n - k, suffix, k) == 0;
}

static const char *str_item(const cJSON *o, const char *key) {
  const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);
  return cJSON_IsString(v) ? v->valuestring : NULL;
}

static void add_text(lgw__buf_t *b, const char *t, sse_state *st) {
  if (lgw__buf_adds(b, t)) st->nomem = 1;
}

static void fold_responses(const cJSON *o, const char *type, sse_state *st) {
  const cJSON *resp = cJSON_GetObjectItemCaseSensitive(o, "response");
  if (type && ends_with_ci(type, "output_text.delta")) {
    const char *d = str_item(o, "delta");
    if (d && *d) {
      add_text(&st->deltas, d, st);
      st->have_deltas = 1;
    }
  }
  if (type && ends_with_ci(type, "output_text.done")) {
    const char *t = str_item(o, "text");
    if (t && *t) {
      char *c = lgw__strdup(t);
      if (!c) st->nomem = 1;
      else {
        lgw_free(st->done);
        st->done = c;
      }
    }
  }
  if (cJSON_IsObject(resp)) keep(&st->response, resp, st);
}

static void fold_chat(const cJSON *o, sse_state *st) {
  const cJSON *choices = cJSON_GetObjectItemCaseSensitive(o, "choices");
  const cJSON *first = lgw__choice0(choices);
  const cJSON *delta = cJSON_GetObjectItemCaseSensitive(first, "delta");
  const char *kind = str_item(o, "object");
  const cJSON *v;
  if (!(kind && strcmp(kind, "chat.completion.chunk") == 0) &&
      !cJSON_IsObject(delta))
    return;
  st->chat = 1;
  if (cJSON_IsObject(delta)) {
    const char *t = str_item(delta, "content");
    if (t) add_text(&st->chat_text, t, st);
    t = str_item(delta, "refusal");
    if (t) {
      add_text(&st->chat_refusal, t, st);
      st->chat_refused = st->chat_refused || *t;
    }
  }
  if (!st->chat_id && (v = cJSON_GetObjectItemCaseSensitive(o, "id")))
    keep(&st->chat_id, v, st);
  if (!st->chat_model && (v = cJSON_GetObjectItemCaseSensitive(o, "model")))
    keep(&st->chat_model, v, st);
  if (!st->chat_created &&
      (v = cJSON_GetObjectItemCaseSensitive(o, "created")))
    keep(&st->chat_created, v, st);
  v = cJSON_GetObjectItemCaseSensitive(first, "finish_reason");
  if (v && !cJSON_IsNull(v)) keep(&st->chat_finish, v, st);
  v = cJSON_GetObjectItemCaseSensitive(o, "usage");
  if (cJSON_IsObject(v)) keep(&st->chat_usage, v, st);
}

static void fold_anthropic(const cJSON *o, const char *type, sse_state *st) {
  const cJSON *v;
  if (!type) return;
  if (strcmp(type, "error") == 0 &&
      cJSON_IsObject(cJSON_GetObjectItemCaseSensitive(o, "error"))) {
    if (!st->error) keep(&st->error, o, st);
  } else if (strcmp(type, "message_start") == 0) {
    v = cJSON_GetObjectItemCaseSensitive(o, "message");
    st->msg = 1;
    if (cJSON_IsObject(v)) keep(&st->message, v, st);
  } else if (strcmp(type, "content_block_delta") == 0) {
    const cJSON *d = cJSON_GetObjectItemCaseSensitive(o, "delta");
    const char *dt = str_item(d, "type"), *t = str_item(d, "text");
    st->msg = 1;
    if (dt && strcmp(dt, "text_delta") == 0 && t)
      add_text(&st->msg_text, t, st);
  } else if (strcmp(type, "message_delta") == 0) {
    const cJSON *d = cJSON_GetObjectItemCaseSensitive(o, "delta");
    st->msg = 1;
    v = cJSON_GetObjectItemCaseSensitive(d, "stop_reason");
    if (v) keep(&st->msg_stop, v, st);
    v = cJSON_GetObjectItemCaseSensitive(o, "usage");
    if (cJSON_IsObject(v)) {
      const cJSON *it;
      if (!st->msg_usage && !(st->msg_usage = cJSON_CreateObject()))
        st->nomem = 1;
      cJSON_ArrayForEach(it, v) {
        cJSON *c = cJSON_Duplicate(it, 1);
        if (!c || !st->msg_usage) {
          cJSON_Delete(c);
          st->nomem = 1;
          continue;
        }
        if (set_item(st->msg_usage, it->string, c)) st->nomem = 1;
      }
    }
  }
}

/* One event's data: joined data lines, stripped. */
static void fold_event(const char *data, size_t n, sse_state *st) {
  size_t a, e;
  cJSON *o;
  const char *type;
  lgw__strip_range(data, n, &a, &e);
  if (a == e || (e - a == 6 && memcmp(data + a, "[DONE]", 6) == 0)) return;
  o = cJSON_ParseWithLength(data + a, e - a);
  if (!o && lgw__json_nomem(data + a, e - a)) st->nomem = 1;
  if (!cJSON_IsObject(o)) {
    cJSON_Delete(o);
    return;
  }
  type = str_item(o, "type");
  /* a Chat error chunk {"error": {...}} */
  if (!type && cJSON_IsObject(cJSON_GetObjectItemCaseSensitive(o, "error")) &&
      !st->error)
    keep(&st->error, o, st);
  fold_responses(o, type, st);
  fold_chat(o, st);
  fold_anthropic(o, type, st);
  cJSON_Delete(st->last);
  st->last = o;
}

static int take(cJSON *obj, const char *key, cJSON **slot) {
  int rc = 0;
  if (*slot) rc = set_item(obj, key, *slot);
  *slot = NULL;
  return rc;
}

static int truthy(const cJSON *v) {
  if (!v || cJSON_IsNull(v) || cJSON_IsFalse(v)) return 0;
  if (cJSON_IsString(v)) return v->valuestring[0] != '\0';
  if (cJSON_IsNumber(v)) return v->valuedouble != 0;
  if (cJSON_IsArray(v) || cJSON_IsObject(v)) return v->child != NULL;
  return 1;
}

static cJSON *result_responses(sse_state *st) {
  const char *text = st->done ? st->done
                     : st->have_deltas ? st->deltas.data : NULL;
  cJSON *r;
  if (st->response) {
    r = st->response;
    st->response = NULL;
    if (text && !truthy(cJSON_GetObjectItemCaseSensitive(r, "output_text")) &&
        set_item(r, "output_text", cJSON_CreateString(text))) {
      cJSON_Delete(r);
      return NULL;
    }
    return r;
  }
  r = cJSON_CreateObject();
  if (r && !cJSON_AddStringToObject(r, "output_text", text)) {
    cJSON_Delete(r);
    r = NULL;
  }
  return r;
}

static cJSON *result_chat(sse_state *st) {
  cJSON *r = cJSON_CreateObject(), *choices, *choice, *message;
  int rc;
  if (!r) return NULL;
  rc = take(r, "id", &st->chat_id);
  rc |= !cJSON_AddStringToObject(r, "object", "chat.completion");
  rc |= take(r, "created", &st->chat_created);
  rc |= take(r, "model", &st->chat_model);
  choices = cJSON_AddArrayToObject(r, "choices");
  choice = cJSON_CreateObject();
  if (!choices || !choice) {
    cJSON_Delete(choice);
    cJSON_Delete(r);
    return NULL;
  }
  cJSON_AddItemToArray(choices, choice);
  rc |= !cJSON_AddNumberToObject(choice, "index", 0);
  message = cJSON_AddObjectToObject(choice, "message");
  rc |= !message || !cJSON_AddStringToObject(message, "role", "assistant") ||
        !cJSON_AddStringToObject(message, "content",
                                 st->chat_text.data ? st->chat_text.data : "");
  if (!rc && st->chat_refused)
    rc |= !cJSON_AddStringToObject(message, "refusal", st->chat_refusal.data);
  if (st->chat_finish) rc |= take(choice, "finish_reason", &st->chat_finish);
  else rc |= !cJSON_AddNullToObject(choice, "finish_reason");
  rc |= take(r, "usage", &st->chat_usage);
  if (rc) {
    cJSON_Delete(r);
    return NULL;
  }
  return r;
}

static cJSON *result_message(sse_state *st) {
  cJSON *r = st->message ? st->message : cJSON_CreateObject();
  cJSON *content, *block, *usage;
  int rc = 0;
  st->message = NULL;
  if (!r) return NULL;
  if (!cJSON_GetObjectItemCaseSensitive(r, "type"))
    rc |= !cJSON_AddStringToObject(r, "type", "message");
  if (!cJSON_GetObjectItemCaseSensitive(r, "role"))
    rc |= !cJSON_AddStringToObject(r, "role", "assistant");
  content = cJSON_CreateArray();
  block = cJSON_CreateObject();
  if (content && block) {
    cJSON_AddItemToArray(content, block);
    rc |= !cJSON_AddStringToObject(block, "type", "text") ||
          !cJSON_AddStringToObject(block, "text", st->msg_text.data
                                                      ? st->msg_text.data
                                                      : "");
  } else {
    cJSON_Delete(block);
    rc = 1;
  }
  rc |= set_item(r, "content", content);
  rc |= take(r, "stop_reason", &st->msg_stop);
  if (st->msg_usage) {
    usage = cJSON_GetObjectItemCaseSensitive(r, "usage");
    if (cJSON_IsObject(usage)) {
      cJSON *it;
      while ((it = st->msg_usage->child) != NULL) {
        cJSON_DetachItemViaPointer(st->msg_usage, it);
        rc |= set_item(usage, it->string, it);
      }
    } else {
      rc |= take(r, "usage", &st->msg_usage);
    }
  }
  if (rc) {
    cJSON_Delete(r);
    return NULL;
  }
  return r;
}

static void state_free(sse_state *st) {
  cJSON *const trees[] = {st->last, st->response, st->chat_id,
                          st->chat_model, st->chat_created, st->chat_finish,
                          st->chat_usage, st->message, st->msg_stop,
                          st->msg_usage, st->error};
  size_t i;
  for (i = 0; i < sizeof trees / sizeof trees[0]; i++) cJSON_Delete(trees[i]);
  lgw__buf_free(&st->deltas);
  lgw__buf_free(&st->chat_text);
  lgw__buf_free(&st->chat_refusal);
  lgw__buf_free(&st->msg_text);
  lgw_free(st->done);
}

int lgw__sse_decode(const char *body, size_t len, cJSON **out,
                    lgw_error_t *err) {
  sse_state st;
  lgw__buf_t data;
  size_t pos = 0;
  int in_event = 0;
  cJSON *r = NULL;
  memset(&st, 0, sizeof st);
  lgw__buf_init(&data);
  *out = NULL;
  if (!body) len = 0;
  /* a byte order mark at the start is not part of the first line */
  if (len >= 3 && memcmp(body, "\xEF\xBB\xBF", 3) == 0) pos = 3;
  while (pos < len && !st.nomem) {
    const char *line = body + pos, *nl = memchr(line, '\n', len - pos);
    size_t n = nl ? (size_t)(nl - line) : len - pos;
    pos += n + (nl ? 1 : 0);
    if (n && line[n - 1] == '\r') n--;
    if (n == 0) {  /* a blank line ends the event */
      if (in_event) fold_event(data.data, data.len, &st);
      data.len = 0;
      in_event = 0;
    } else if (n >= 5 && memcmp(line, "data:", 5) == 0) {
      size_t a = 5;
      while (a < n && (line[a] == ' ' || line[a] == '\t' || line[a] == '\v' ||
                       line[a] == '\f' || line[a] == '\r'))
        a++;
      if ((in_event && lgw__buf_addc(&data, '\n')) ||
          lgw__buf_add(&data, line + a, n - a))
        st.nomem = 1;
      in_event = 1;
    }
  }
  if (in_event && !st.nomem) fold_event(data.data, data.len, &st);
  lgw__buf_free(&data);
  if (st.nomem) {
    state_free(&st);
    return lgw__error_set(err, LGW_ENOMEM, "out of memory decoding SSE");
  }
  if (st.error) {
    r = st.error;
    st.error = NULL;
  } else if (st.response || st.done || st.have_deltas) {
    r = result_responses(&st);
  } else if (st.chat) {
    r = result_chat(&st);
  } else if (st.msg) {
    r = result_message(&st);
  } else if (st.last) {
    r = st.last;
    st.last = NULL;
  } else {
    state_free(&st);
    return lgw__error_set(err, LGW_ERESPONSE,
                          "No JSON payload found in SSE response");
  }
  state_free(&st);
  if (!r) return lgw__error_set(err, LGW_ENOMEM, "out of memory decoding SSE");
  *out = r;
  return 0;
}

/* ---- incremental parser ------------------------------------------------ */

int lgw__is_event_stream(const char *ct) {
  static const char want[] = "text/event-stream";
  size_t k = sizeof want - 1;
  for (; ct && *ct; ct++)
    if (lgw__strncasecmp(ct, want, k) == 0) return 1;
  return 0;
}

void lgw__sse_parser_init(lgw__sse_parser_t *p) {
  lgw__buf_init(&p->line);
  lgw__buf_init(&p->name);
  lgw__buf_init(&p->data);
  p->has_data = p->after_cr = 0;
  p->bom = 0;
}

void lgw__sse_parser_free(lgw__sse_parser_t *p) {
  lgw__buf_free(&p->line);
  lgw__buf_free(&p->name);
  lgw__buf_free(&p->data);
}

static int dispatch_event(lgw__sse_parser_t *p, lgw__sse_event_fn fn,
                          void *ud) {
  int rc = 0;
  if (p->has_data)
    rc = fn(p->name.data ? p->name.data : "", p->data.data ? p->data.data : "",
            p->data.len, ud);
  p->name.len = p->data.len = 0;
  if (p->name.data) p->name.data[0] = '\0';
  if (p->data.data) p->data.data[0] = '\0';
  p->has_data = 0;
  return rc;
}

/* One complete line (without its end). */
static int take_line(lgw__sse_parser_t *p, const char *s, size_t n,
                     lgw__sse_event_fn fn, void *ud) {
  const char *colon;
  size_t k, v;
  if (n == 0) return dispatch_event(p, fn, ud);
  if (s[0] == ':') return 0;
  colon = memchr(s, ':', n);
  k = colon ? (size_t)(colon - s) : n;
  v = colon ? k + 1 : n;
  if (v < n && s[v] == ' ') v++;
  if (k == 4 && memcmp(s, "data", 4) == 0) {
    if ((p->has_data && lgw__buf_addc(&p->data, '\n')) ||
        lgw__buf_add(&p->data, s + v, n - v))
      return LGW_ENOMEM;
    p->has_data = 1;
  } else if (k == 5 && memcmp(s, "event", 5) == 0) {
    p->name.len = 0;
    if (lgw__buf_add(&p->name, s + v, n - v)) return LGW_ENOMEM;
  }
  return 0;
}

static const char bom[] = "\xEF\xBB\xBF";

int lgw__sse_feed(lgw__sse_parser_t *p, const char *bytes, size_t n,
                  lgw__sse_event_fn fn, void *ud) {
  size_t i = 0;
  int rc;
  /* A byte order mark at the start of the stream is skipped (it may come
   * in pieces); bytes that only began like one are kept. */
  while (p->bom < 3 && i < n) {
    if (bytes[i] == bom[p->bom]) {
      p->bom++;
      i++;
      continue;
    }
    if (p->bom > 0 && lgw__buf_add(&p->line, bom, (size_t)p->bom))
      return LGW_ENOMEM;
    p->bom = 3;
  }
  while (i < n) {
    size_t j = i;
    if (p->after_cr) {
      p->after_cr = 0;
      if (bytes[i] == '\n') {
        i++;
        continue;
      }
    }
    while (j < n && bytes[j] != '\n' && bytes[j] != '\r') j++;
    if (j == n) return lgw__buf_add(&p->line, bytes + i, n - i);
    p->after_cr = bytes[j] == '\r';
    if (p->line.len) {
      if (lgw__buf_add(&p->line, bytes + i, j - i)) return LGW_ENOMEM;
      rc = take_line(p, p->line.data, p->line.len, fn, ud);
      p->line.len = 0;
    } else {
      rc = take_line(p, bytes + i, j - i, fn, ud);
    }
    if (rc) return rc;
    i = j + 1;
  }
  return 0;
}

int lgw__sse_finish(lgw__sse_parser_t *p, lgw__sse_event_fn fn, void *ud) {
  int rc = 0;
  if (p->bom > 0 && p->bom < 3 && lgw__buf_add(&p->line, bom, (size_t)p->bom))
    return LGW_ENOMEM;
  p->bom = 3;
  if (p->line.len) rc = take_line(p, p->line.data, p->line.len, fn, ud);
  p->line.len = 0;
  return rc ? rc : dispatch_event(p, fn, ud);
}

const cJSON *lgw__choice0(const cJSON *choices) {
  const cJSON *c;
  cJSON_ArrayForEach(c, (cJSON_IsArray(choices) ? choices : NULL)) {
    const cJSON *i = cJSON_GetObjectItemCaseSensitive(c, "index");
    if (cJSON_IsObject(c) && (!i || cJSON_IsNull(i) ||
                              (cJSON_IsNumber(i) && i->valuedouble == 0)))
      return c;
  }
  return NULL;
}
