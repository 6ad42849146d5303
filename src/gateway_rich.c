/*
 * gateway_rich.c -- the rich parts of a request and its result: messages
 * with content parts and tool calls, and tool definitions, copied at
 * submit into one arena owned by the request; the tool calls of the answer
 * and the assistant message handed to the completion callback.
 */
#include "llmgateway.h"

#include <stddef.h>
#include <string.h>

#include "gateway_priv.h"
#include "transport.h"
#include "util.h"

/* ---- the arena: blocks freed together ------------------------------------ */

typedef struct blk {
  struct blk *next;
  size_t used, cap;
  max_align_t data[];
} blk_t;

#define BLK_MIN 4096

static void *arena_alloc(req_t *q, size_t n) {
  blk_t *b = q->arena;
  const size_t al = sizeof(max_align_t);
  void *p;
  n = (n + al - 1) / al * al;
  if (!b || b->cap - b->used < n) {
    size_t cap = n > BLK_MIN ? n : BLK_MIN;
    blk_t *nb = lgw_malloc(sizeof *nb + cap);
    if (!nb) return NULL;
    nb->next = b;
    nb->used = 0;
    nb->cap = cap;
    q->arena = b = nb;
  }
  p = (char *)b->data + b->used;
  b->used += n;
  return p;
}

/* A copy of n bytes (one NUL after them); src NULL gives NULL. *bad is
 * set when memory is short. */
static void *arena_mem(req_t *q, const void *src, size_t n, int *bad) {
  char *p;
  if (!src) return NULL;
  if (!(p = arena_alloc(q, n + 1))) {
    *bad = 1;
    return NULL;
  }
  if (n) memcpy(p, src, n);
  p[n] = '\0';
  return p;
}

static const char *arena_str(req_t *q, const char *s, int *bad) {
  return s ? arena_mem(q, s, strlen(s), bad) : NULL;
}

static void *arena_array(req_t *q, size_t n, size_t size, int *bad) {
  void *p;
  if (!n) return NULL;
  if (n > (size_t)-1 / size || !(p = arena_alloc(q, n * size))) {
    *bad = 1;
    return NULL;
  }
  memset(p, 0, n * size);
  return p;
}

static void copy_message(req_t *q, lgw_rich_message_t *d, const lgw_rich_message_t *s,
                         int *bad) {
  size_t i;
  lgw_part_t *parts;
  lgw_tool_call_t *calls;
  d->role = arena_str(q, s->role, bad);
  d->content = arena_str(q, s->content, bad);
  d->name = arena_str(q, s->name, bad);
  d->tool_call_id = arena_str(q, s->tool_call_id, bad);
  d->is_error = s->is_error;
  q->msg_bytes += s->content && !s->nparts ? strlen(s->content) : 0;
  if (s->nparts && s->parts &&
      (parts = arena_array(q, s->nparts, sizeof *parts, bad)) != NULL) {
    for (i = 0; i < s->nparts; i++) {
      const lgw_part_t *p = &s->parts[i];
      parts[i].type = p->type;
      parts[i].text = arena_str(q, p->text, bad);
      parts[i].url = arena_str(q, p->url, bad);
      parts[i].data = arena_mem(q, p->data, p->data ? p->data_len : 0, bad);
      parts[i].data_len = p->data ? p->data_len : 0;
      parts[i].media_type = arena_str(q, p->media_type, bad);
      parts[i].detail = arena_str(q, p->detail, bad);
      parts[i].filename = arena_str(q, p->filename, bad);
      q->msg_bytes += (p->text ? strlen(p->text) : 0) + parts[i].data_len;
    }
    d->parts = parts;
    d->nparts = s->nparts;
  }
  if (s->ntool_calls && s->tool_calls &&
      (calls = arena_array(q, s->ntool_calls, sizeof *calls, bad)) != NULL) {
    for (i = 0; i < s->ntool_calls; i++) {
      calls[i].id = arena_str(q, s->tool_calls[i].id, bad);
      calls[i].name = arena_str(q, s->tool_calls[i].name, bad);
      calls[i].arguments_json = arena_str(q, s->tool_calls[i].arguments_json,
                                          bad);
      q->msg_bytes += calls[i].arguments_json
                          ? strlen(calls[i].arguments_json) : 0;
    }
    d->tool_calls = calls;
    d->ntool_calls = s->ntool_calls;
  }
}

int lgw__gw_copy_rich(req_t *q, const lgw_request_t *r) {
  int bad = 0;
  size_t i;
  if (r->nrich_messages &&
      (q->msgs = arena_array(q, r->nrich_messages, sizeof *q->msgs, &bad))) {
    q->nmsgs = r->nrich_messages;
    for (i = 0; i < r->nrich_messages; i++)
      copy_message(q, &q->msgs[i], &r->rich_messages[i], &bad);
  } else if (r->nmessages &&
             (q->msgs = arena_array(q, r->nmessages, sizeof *q->msgs,
                                    &bad))) {
    lgw_rich_message_t m;
    q->nmsgs = r->nmessages;
    memset(&m, 0, sizeof m);
    for (i = 0; i < r->nmessages; i++) {
      m.role = r->messages[i].role;
      m.content = r->messages[i].content;
      copy_message(q, &q->msgs[i], &m, &bad);
    }
  }
  if (r->ntools && r->tools &&
      (q->tools = arena_array(q, r->ntools, sizeof *q->tools, &bad))) {
    q->ntools = r->ntools;
    for (i = 0; i < r->ntools; i++) {
      q->tools[i].name = arena_str(q, r->tools[i].name, &bad);
      q->tools[i].description = arena_str(q, r->tools[i].description, &bad);
      q->tools[i].parameters_json = arena_str(q, r->tools[i].parameters_json,
                                              &bad);
      q->tools[i].strict = r->tools[i].strict;
      q->msg_bytes += q->tools[i].parameters_json
                          ? strlen(q->tools[i].parameters_json) : 0;
    }
  }
  q->tool_choice = arena_str(q, r->tool_choice, &bad);
  q->tool_choice_name = arena_str(q, r->tool_choice_name, &bad);
  q->parallel_tool_calls = r->parallel_tool_calls;
  q->schema_json = arena_str(q, r->schema_json, &bad);
  q->schema_name = arena_str(q, r->schema_name, &bad);
  q->schema_strict = r->schema_strict;
  if (r->nstop && r->stop &&
      (q->stop = arena_array(q, r->nstop, sizeof *q->stop, &bad))) {
    q->nstop = r->nstop;
    for (i = 0; i < r->nstop; i++)
      q->stop[i] = arena_str(q, r->stop[i] ? r->stop[i] : "", &bad);
  }
  q->has_top_p = r->has_top_p;
  q->top_p = r->top_p;
  q->has_seed = r->has_seed;
  q->seed = r->seed;
  q->user = arena_str(q, r->user, &bad);
  q->metadata_json = arena_str(q, r->metadata_json, &bad);
  q->extra_json = arena_str(q, r->extra_json, &bad);
  q->msg_bytes += q->schema_json ? strlen(q->schema_json) : 0;
  return bad;
}

void lgw__gw_free_rich(req_t *q) {
  blk_t *b = q->arena, *next;
  for (; b; b = next) {
    next = b->next;
    lgw_free(b);
  }
  q->arena = NULL;
  lgw_free(q->res_calls);
  q->res_calls = NULL;
}

void lgw__gw_call_rich(const req_t *q, lgw__call_t *c) {
  c->tools = q->tools;
  c->ntools = q->ntools;
  c->tool_choice = q->tool_choice;
  c->tool_choice_name = q->tool_choice_name;
  c->parallel_tool_calls = q->parallel_tool_calls;
  c->schema_json = q->schema_json;
  c->schema_name = q->schema_name;
  c->schema_strict = q->schema_strict;
  c->stop = q->stop;
  c->nstop = q->nstop;
  c->has_top_p = q->has_top_p;
  c->top_p = q->top_p;
  c->has_seed = q->has_seed;
  c->seed = q->seed;
  c->user = q->user;
  c->metadata_json = q->metadata_json;
  c->extra_body = prov(q)->extra_body;
  c->extra = q->extra_json;
}

void lgw__gw_result_rich(req_t *q, lgw_result_t *res) {
  const lgw__tcalls_t *l = &q->reply.calls;
  size_t i;
  if (q->status) return;
  if (l->n && !q->res_calls &&
      (q->res_calls = lgw__calloc(l->n, sizeof *q->res_calls)) != NULL) {
    for (i = 0; i < l->n; i++) {
      q->res_calls[i].id = l->v[i].id;
      q->res_calls[i].name = l->v[i].name;
      q->res_calls[i].arguments_json = l->v[i].args.data ? l->v[i].args.data
                                                         : "";
    }
  }
  if (q->res_calls) {
    res->tool_calls = q->res_calls;
    res->ntool_calls = l->n;
  }
  memset(&q->res_msg, 0, sizeof q->res_msg);
  q->res_msg.role = "assistant";
  q->res_msg.content = res->text ? res->text : "";
  q->res_msg.tool_calls = res->tool_calls;
  q->res_msg.ntool_calls = res->ntool_calls;
  res->message = &q->res_msg;
}
