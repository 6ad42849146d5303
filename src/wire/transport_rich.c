/*
 * transport_rich.c -- what the transports share for rich requests: base64
 * and data URLs, caller JSON (tool parameters, tool call arguments)
 * checked before it goes into a body, the checks every content part
 * passes, tool choice for the OpenAI formats, and the list of tool calls
 * an answer asks for.
 */
#include "transport.h"

#include "cjson_dl.h"  /* <cJSON.h>, the calls through a table */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

int lgw__rich_fail(lgw_error_t *err, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  lgw__error_vset(err, LGW_EINVAL, fmt, ap);
  va_end(ap);
  return LGW__EREPORTED;
}

int lgw__json_add_b64(lgw__buf_t *b, const void *p, size_t n) {
  static const char tab[] =
      "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  const unsigned char *s = p;
  size_t i, o;
  char *d;
  if (lgw__buf_reserve(b, (n + 2) / 3 * 4 + 2)) return LGW_ENOMEM;
  d = b->data + b->len;
  o = 0;
  d[o++] = '"';
  for (i = 0; i + 2 < n; i += 3) {
    unsigned v = (unsigned)s[i] << 16 | (unsigned)s[i + 1] << 8 | s[i + 2];
    d[o++] = tab[v >> 18];
    d[o++] = tab[(v >> 12) & 63];
    d[o++] = tab[(v >> 6) & 63];
    d[o++] = tab[v & 63];
  }
  if (i < n) {
    unsigned v = (unsigned)s[i] << 16 | (i + 1 < n ? (unsigned)s[i + 1] << 8
                                                  : 0);
    d[o++] = tab[v >> 18];
    d[o++] = tab[(v >> 12) & 63];
    d[o++] = i + 1 < n ? tab[(v >> 6) & 63] : '=';
    d[o++] = '=';
  }
  d[o++] = '"';
  b->len += o;
  b->data[b->len] = '\0';
  return 0;
}

int lgw__json_add_data_url(lgw__buf_t *b, const char *media_type,
                           const void *p, size_t n) {
  lgw__buf_t mt;
  int rc;
  /* the media type goes inside the string: escaped like any text */
  lgw__buf_init(&mt);
  rc = lgw__json_add_str(&mt, media_type, strlen(media_type));
  rc = rc ? rc : lgw__buf_adds(b, "\"data:");
  rc = rc ? rc : lgw__buf_add(b, mt.data + 1, mt.len - 2);
  rc = rc ? rc : lgw__buf_adds(b, ";base64,");
  if (!rc) {
    size_t at = b->len;
    rc = lgw__json_add_b64(b, p, n);
    if (!rc) {  /* drop the opening quote of the base64 string */
      memmove(b->data + at, b->data + at + 1, b->len - at - 1);
      b->len--;
      b->data[b->len] = '\0';
    }
  }
  lgw__buf_free(&mt);
  return rc;
}

int lgw__tool_call_check(const lgw_tool_call_t *t, size_t mi, size_t ci,
                         lgw_error_t *err) {
  if (lgw__is_blank(t->id) || lgw__is_blank(t->name))
    return lgw__rich_fail(err, "message %zu tool call %zu: id and name "
                          "are required", mi, ci);
  return 0;
}

int lgw__json_add_image_src(lgw__buf_t *b, const lgw_part_t *p) {
  if (p->data)
    return lgw__json_add_data_url(b, p->media_type, p->data, p->data_len);
  return lgw__json_add_str(b, p->url, strlen(p->url));
}

int lgw__json_add_file_fields(lgw__buf_t *b, const lgw_part_t *p) {
  const char *fn = lgw__is_blank(p->filename) ? "file" : p->filename;
  int rc = lgw__buf_adds(b, "\"filename\":");
  rc = rc ? rc : lgw__json_add_str(b, fn, strlen(fn));
  rc = rc ? rc : lgw__buf_adds(b, ",\"file_data\":");
  return rc ? rc : lgw__json_add_data_url(b, p->media_type, p->data,
                                          p->data_len);
}

int lgw__json_add_tool(lgw__buf_t *b, const lgw_tool_t *t, size_t i,
                       const char *open, const char *schema_key,
                       lgw_error_t *err) {
  char what[64];
  int rc;
  if (lgw__is_blank(t->name))
    return lgw__rich_fail(err, "tool %zu: name is required", i + 1);
  snprintf(what, sizeof what, "tool %zu parameters", i + 1);
  rc = i ? lgw__buf_addc(b, ',') : 0;
  rc = rc ? rc : lgw__buf_adds(b, open);
  rc = rc ? rc : lgw__json_add_str(b, t->name, strlen(t->name));
  if (!rc && t->description) {
    rc = lgw__json_add_key(b, "description");
    rc = rc ? rc : lgw__json_add_str(b, t->description,
                                     strlen(t->description));
  }
  rc = rc ? rc : lgw__json_add_key(b, schema_key);
  return rc ? rc : lgw__json_add_object(b, t->parameters_json,
                                        "{\"type\":\"object\","
                                        "\"properties\":{}}", what, err);
}

int lgw__json_add_object(lgw__buf_t *b, const char *json, const char *dflt,
                         const char *what, lgw_error_t *err) {
  const char *end = NULL;
  cJSON *o;
  size_t a, e;
  int ok;
  if (lgw__is_blank(json)) return lgw__buf_adds(b, dflt);
  o = cJSON_ParseWithOpts(json, &end, 1);
  ok = cJSON_IsObject(o);
  cJSON_Delete(o);
  if (!o && lgw__json_nomem(json, strlen(json))) return LGW_ENOMEM;
  if (!ok)
    return lgw__rich_fail(err, "%s is not a JSON object", what);
  lgw__strip_range(json, strlen(json), &a, &e);
  return lgw__buf_add(b, json + a, e - a);
}

size_t lgw__call_nmsgs(const lgw__call_t *c) {
  return c->nrich ? c->nrich : c->nmessages;
}

const lgw_rich_message_t *lgw__call_msg(const lgw__call_t *c, size_t i,
                                        lgw_rich_message_t *tmp) {
  if (c->nrich) return &c->rich[i];
  memset(tmp, 0, sizeof *tmp);
  tmp->role = c->messages[i].role;
  tmp->content = c->messages[i].content;
  return tmp;
}

int lgw__msg_is_tool_result(const lgw_rich_message_t *m) {
  size_t a, e;
  if (!m->role || lgw__is_blank(m->tool_call_id)) return 0;
  lgw__strip_range(m->role, strlen(m->role), &a, &e);
  return e - a == 4 && lgw__strncasecmp(m->role + a, "tool", 4) == 0;
}

const char *lgw__part_desc(const lgw_part_t *p, char *buf, size_t cap) {
  const char *kind = p->type == LGW_PART_TEXT    ? "text"
                     : p->type == LGW_PART_IMAGE ? "image"
                     : p->type == LGW_PART_FILE  ? "file"
                                                 : "unknown";
  if (p->type != LGW_PART_TEXT && p->data && !lgw__is_blank(p->media_type))
    snprintf(buf, cap, "%s %s", kind, p->media_type);
  else
    snprintf(buf, cap, "%s", kind);
  return buf;
}

int lgw__part_check(const lgw_part_t *p, size_t mi, size_t pi,
                    lgw_error_t *err) {
  char d[96];
  switch (p->type) {
    case LGW_PART_TEXT:
      return 0;
    case LGW_PART_IMAGE:
      if (!p->data && lgw__is_blank(p->url))
        return lgw__rich_fail(err, "message %zu part %zu (image): neither "
                              "url nor data is set", mi, pi);
      break;
    case LGW_PART_FILE:
      if (!p->data)
        return lgw__rich_fail(err, "message %zu part %zu (file): data is "
                              "not set", mi, pi);
      break;
    default:
      return lgw__rich_fail(err, "message %zu part %zu: unknown part type "
                            "%d", mi, pi, (int)p->type);
  }
  if (p->data && lgw__is_blank(p->media_type))
    return lgw__rich_fail(err, "message %zu part %zu (%s): data without a "
                          "media_type", mi, pi,
                          lgw__part_desc(p, d, sizeof d));
  return 0;
}

int lgw__msg_text(const lgw_rich_message_t *m, size_t mi, const char *api,
                  const char *role, lgw__buf_t *b, lgw_error_t *err) {
  size_t i;
  char d[96];
  if (!m->nparts) return lgw__buf_adds(b, m->content ? m->content : "");
  for (i = 0; i < m->nparts; i++) {
    const lgw_part_t *p = &m->parts[i];
    int rc = lgw__part_check(p, mi, i + 1, err);
    if (rc) return rc;
    if (p->type != LGW_PART_TEXT)
      return lgw__rich_fail(err, "message %zu part %zu (%s): the %s takes "
                            "only text in %s messages", mi, i + 1,
                            lgw__part_desc(p, d, sizeof d), api, role);
    if ((i && lgw__buf_addc(b, '\n')) ||
        lgw__buf_adds(b, p->text ? p->text : ""))
      return LGW_ENOMEM;
  }
  return 0;
}

int lgw__openai_tool_choice(lgw__buf_t *b, const lgw__call_t *c,
                            int responses_style, lgw_error_t *err) {
  int rc = 0;
  if (!lgw__is_blank(c->tool_choice_name)) {
    rc = lgw__buf_adds(b, responses_style
                              ? ",\"tool_choice\":{\"type\":\"function\","
                                "\"name\":"
                              : ",\"tool_choice\":{\"type\":\"function\","
                                "\"function\":{\"name\":");
    rc = rc ? rc : lgw__json_add_str(b, c->tool_choice_name,
                                     strlen(c->tool_choice_name));
    rc = rc ? rc : lgw__buf_adds(b, responses_style ? "}" : "}}");
  } else if (!lgw__is_blank(c->tool_choice)) {
    const char *t = c->tool_choice;
    if (strcmp(t, "auto") != 0 && strcmp(t, "none") != 0 &&
        strcmp(t, "required") != 0)
      return lgw__rich_fail(err, "tool_choice must be \"auto\", \"none\" or "
                            "\"required\" (or a tool name in "
                            "tool_choice_name), not \"%.64s\"", t);
    rc = lgw__buf_printf(b, ",\"tool_choice\":\"%s\"", t);
  }
  /* the APIs take parallel_tool_calls only along with tools */
  if (!rc && c->parallel_tool_calls && c->ntools)
    rc = lgw__buf_adds(b, c->parallel_tool_calls > 0
                              ? ",\"parallel_tool_calls\":true"
                              : ",\"parallel_tool_calls\":false");
  return rc;
}

/* ---- tool calls in answers ------------------------------------------- */

void lgw__tcalls_free(lgw__tcalls_t *l) {
  size_t i;
  for (i = 0; i < l->n; i++) {
    lgw_free(l->v[i].id);
    lgw_free(l->v[i].name);
    lgw__buf_free(&l->v[i].args);
  }
  lgw_free(l->v);
  memset(l, 0, sizeof *l);
}

lgw__tcall_t *lgw__tcalls_find(lgw__tcalls_t *l, long key) {
  size_t i;
  for (i = 0; i < l->n; i++)
    if (l->v[i].key == key) return &l->v[i];
  return NULL;
}

lgw__tcall_t *lgw__tcalls_add(lgw__tcalls_t *l, long key) {
  lgw__tcall_t *t;
  if (lgw__grow(&l->v, l->n, &l->cap, sizeof *l->v, 4)) return NULL;
  t = &l->v[l->n];
  memset(t, 0, sizeof *t);
  t->key = key;
  t->id = lgw__strdup("");
  t->name = lgw__strdup("");
  if (!t->id || !t->name) {
    lgw_free(t->id);
    lgw_free(t->name);
    return NULL;
  }
  l->n++;
  return t;
}

int lgw__tcall_set(char **dst, const char *s, int nul) {
  lgw__buf_t b;
  char *v;
  lgw__buf_init(&b);
  if (lgw__json_text(&b, s, nul) || !(v = lgw__buf_steal(&b))) {
    lgw__buf_free(&b);
    return LGW_ENOMEM;
  }
  lgw_free(*dst);
  *dst = v;
  return 0;
}

int lgw__tcall_names(lgw__tcall_t *t, const cJSON *id, const cJSON *name,
                     int nul) {
  int rc = 0;
  if (cJSON_IsString(id) && *id->valuestring)
    rc = lgw__tcall_set(&t->id, id->valuestring, nul);
  if (!rc && cJSON_IsString(name) && *name->valuestring)
    rc = lgw__tcall_set(&t->name, name->valuestring, nul);
  return rc;
}

/* ---- common parameters, schema, extra members ------------------------- */

int lgw__body_params(lgw__buf_t *b, const lgw__call_t *c,
                     const char *stop_key, int with_seed,
                     const char *user_key, int with_metadata,
                     lgw_error_t *err) {
  size_t i;
  int rc = 0;
  if (stop_key && c->nstop) {
    rc = lgw__json_add_key(b, stop_key);
    rc = rc ? rc : lgw__buf_addc(b, '[');
    for (i = 0; !rc && i < c->nstop; i++) {
      const char *s = c->stop[i] ? c->stop[i] : "";
      rc = i ? lgw__buf_addc(b, ',') : 0;
      rc = rc ? rc : lgw__json_add_str(b, s, strlen(s));
    }
    rc = rc ? rc : lgw__buf_addc(b, ']');
  }
  if (!rc && c->has_top_p) {
    rc = lgw__json_add_key(b, "top_p");
    rc = rc ? rc : lgw__json_add_num(b, c->top_p);
    if (rc == LGW_EINVAL)
      return lgw__rich_fail(err, "top_p is not a finite number");
  }
  if (!rc && with_seed && c->has_seed)
    rc = lgw__buf_printf(b, ",\"seed\":%lld", c->seed);
  if (!rc && user_key && !lgw__is_blank(c->user)) {
    rc = lgw__json_add_key(b, user_key);
    rc = rc ? rc : lgw__json_add_str(b, c->user, strlen(c->user));
  }
  if (!rc && with_metadata && !lgw__is_blank(c->metadata_json)) {
    rc = lgw__json_add_key(b, "metadata");
    rc = rc ? rc : lgw__json_add_object(b, c->metadata_json, "{}",
                                        "metadata", err);
  }
  return rc;
}

int lgw__body_schema_named(lgw__buf_t *b, const lgw__call_t *c,
                           lgw_error_t *err) {
  const char *name = lgw__is_blank(c->schema_name) ? "response"
                                                   : c->schema_name;
  int rc = lgw__buf_adds(b, "\"name\":");
  rc = rc ? rc : lgw__json_add_str(b, name, strlen(name));
  rc = rc ? rc : lgw__buf_adds(b, c->schema_strict < 0 ? ",\"strict\":false"
                                                       : ",\"strict\":true");
  return rc ? rc : lgw__body_schema(b, c, err);
}

int lgw__body_schema(lgw__buf_t *b, const lgw__call_t *c, lgw_error_t *err) {
  int rc = lgw__json_add_key(b, "schema");
  return rc ? rc : lgw__json_add_object(b, c->schema_json, "{}", "schema",
                                        err);
}

/* The end of the JSON value starting at s[i] (valid JSON). */
static size_t value_end(const char *s, size_t n, size_t i) {
  int depth = 0, in_str = 0;
  for (; i < n; i++) {
    char ch = s[i];
    if (in_str) {
      if (ch == '\\') i++;
      else if (ch == '"') {
        in_str = 0;
        if (!depth) return i + 1;
      }
    } else if (ch == '"') {
      in_str = 1;
    } else if (ch == '{' || ch == '[') {
      depth++;
    } else if (ch == '}' || ch == ']') {
      if (depth == 0) return i;
      if (--depth == 0) return i + 1;
    } else if (ch == ',' && !depth) {
      return i;
    }
  }
  return n;
}

/* A top-level key of the body named in one of the objects. */
static int named(const char *k, size_t kn, const cJSON *const objs[2]) {
  const cJSON *it;
  int i;
  for (i = 0; i < 2; i++)
    cJSON_ArrayForEach(it, objs[i])
      if (strlen(it->string) == kn && memcmp(it->string, k, kn) == 0)
        return 1;
  return 0;
}

static int is_ws(char c) {
  return c == ' ' || c == '\t' || c == '\n' || c == '\r';
}

/* Rebuild body[0..len) (an object of ours: keys without escapes) with
 * the members of objs merged: objs[1] wins over objs[0]. */
static int merge(const char *body, size_t len, const cJSON *const objs[2],
                 lgw__buf_t *out) {
  size_t i = 1, members = 0;
  int rc = lgw__buf_addc(out, '{'), k;
  const cJSON *it;
  while (!rc && i < len) {
    size_t ks, ke, ms = i, me;
    while (i < len && (is_ws(body[i]) || body[i] == ',')) i++;
    if (i >= len || body[i] != '"') break;
    ms = i;
    ks = i + 1;
    ke = value_end(body, len, i) - 1;
    i = ke + 1;
    while (i < len && (is_ws(body[i]) || body[i] == ':')) i++;
    me = value_end(body, len, i);
    i = me;
    if (named(body + ks, ke - ks, objs)) continue;
    rc = members++ ? lgw__buf_addc(out, ',') : 0;
    rc = rc ? rc : lgw__buf_add(out, body + ms, me - ms);
  }
  for (k = 0; !rc && k < 2; k++)
    cJSON_ArrayForEach(it, objs[k]) {
      char *v;
      /* the later object's member of the same name wins */
      if (rc || cJSON_IsNull(it) ||
          (k == 0 && cJSON_GetObjectItemCaseSensitive(objs[1], it->string)))
        continue;
      if (!(v = cJSON_PrintUnformatted(it))) {
        rc = LGW_ENOMEM;
        break;
      }
      rc = members++ ? lgw__buf_addc(out, ',') : 0;
      rc = rc ? rc : lgw__json_add_str(out, it->string, strlen(it->string));
      rc = rc ? rc : lgw__buf_addc(out, ':');
      rc = rc ? rc : lgw__buf_adds(out, v);
      cJSON_free(v);
    }
  return rc ? rc : lgw__buf_addc(out, '}');
}

static cJSON *extra_object(const char *json, const char *what,
                           lgw_error_t *err, int *rc) {
  cJSON *o;
  if (lgw__is_blank(json)) return NULL;
  o = cJSON_ParseWithOpts(json, NULL, 1);
  if (!o && lgw__json_nomem(json, strlen(json))) {
    *rc = lgw__error_set(err, LGW_ENOMEM, "out of memory building body");
    return NULL;
  }
  if (!cJSON_IsObject(o)) {
    cJSON_Delete(o);
    *rc = lgw__error_set(err, LGW_EINVAL, "%s is not a JSON object", what);
    return NULL;
  }
  return o;
}

int lgw__transport_body(const lgw__transport_t *t, const lgw__call_t *c,
                        char **out, size_t *len, lgw_error_t *err) {
  const cJSON *objs[2];
  cJSON *a, *b;
  lgw__buf_t m;
  int rc = t->body(c, out, len, err);
  if (rc || (lgw__is_blank(c->extra_body) && lgw__is_blank(c->extra)))
    return rc;
  a = extra_object(c->extra_body, "the provider's extra_body", err, &rc);
  b = rc ? NULL : extra_object(c->extra, "extra", err, &rc);
  lgw__buf_init(&m);
  objs[0] = a;
  objs[1] = b;
  if (!rc && merge(*out, *len, objs, &m))
    rc = lgw__error_set(err, LGW_ENOMEM, "out of memory building body");
  cJSON_Delete(a);
  cJSON_Delete(b);
  lgw_free(*out);
  *out = NULL;
  *len = 0;
  if (rc) {
    lgw__buf_free(&m);
    return rc;
  }
  *len = m.len;
  *out = lgw__buf_steal(&m);
  return *out ? 0 : lgw__error_set(err, LGW_ENOMEM, "out of memory");
}
