/*
 * gateway_rich.c -- the rich parts of a request and its result: messages
 * with content parts and tool calls, and tool definitions, copied at
 * submit into one arena owned by the request; the tool calls of the answer
 * and the assistant message handed to the completion callback.
 */
#include "llmgateway.h"

#include "cjson_dl.h"  /* <cJSON.h>, the calls through a table */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "gateway_priv.h"
#include "json_extract.h"
#include "transport.h"
#include "util.h"

/* ---- the arena: blocks freed together ------------------------------------ */

typedef struct blk {
  struct blk *next;
  size_t used, cap;
  max_align_t data[];
} blk_t;

/* The first block is small (a queued request costs what its data
 * costs); each next one twice the last, so a big request still takes
 * few blocks. */
#define BLK_MIN 256

/* Arrays are aligned for any type; strings (and data) take their bytes
 * only, packed. */
#define AL _Alignof(max_align_t)

/* A new block of cap bytes (at least n) at the head of q's arena. */
static blk_t *arena_block(req_t *q, size_t cap, size_t n) {
  blk_t *nb;
  if (cap < n) cap = n;
  if (!(nb = lgw_malloc(sizeof *nb + cap))) return NULL;
  nb->next = q->arena;
  nb->used = 0;
  nb->cap = cap;
  q->arena = nb;
  return nb;
}

/* n bytes at a multiple of align (1 or AL) from the block's start. */
static void *arena_alloc(req_t *q, size_t n, size_t align) {
  blk_t *b = q->arena;
  size_t off = b ? (b->used + align - 1) / align * align : 0;
  void *p;
  if (!b || off > b->cap || b->cap - off < n) {
    size_t cap = b && b->cap <= (size_t)-1 / 4 ? 2 * b->cap : BLK_MIN;
    if (!(b = arena_block(q, cap, n))) return NULL;
    off = 0;
  }
  p = (char *)b->data + off;
  b->used = off + n;
  return p;
}

/* A record without a block gets one of the size its request needs (a
 * request in flight holds its data, not a 256-byte block); an estimate
 * short of it only means a second block. 0, or 1 when memory is short. */
static int arena_first(req_t *q, size_t need) {
  if (q->arena || !need) return 0;
  return arena_block(q, need, 0) == NULL;
}

static size_t str_need(const char *s) { return s ? strlen(s) + 1 : 0; }

/* An array and the padding before it, at most. */
static size_t array_need(size_t n, size_t size) {
  return n && n <= ((size_t)-1 - AL) / size ? n * size + AL - 1 : 0;
}

static int has_rich(const lgw_request_t *r);

/* The arena bytes lgw__gw_copy_rich takes for r (and its task). */
static size_t rich_need(const lgw_request_t *r) {
  size_t n = str_need(r->task ? r->task : ""), i, j;
  if (r->nrich_messages) {
    n += array_need(r->nrich_messages, sizeof(lgw_rich_message_t));
    for (i = 0; i < r->nrich_messages; i++) {
      const lgw_rich_message_t *m = &r->rich_messages[i];
      n += str_need(m->role) + str_need(m->content) + str_need(m->name) +
           str_need(m->tool_call_id);
      if (m->nparts && m->parts) {
        n += array_need(m->nparts, sizeof *m->parts);
        for (j = 0; j < m->nparts; j++)
          n += str_need(m->parts[j].text) + str_need(m->parts[j].url) +
               (m->parts[j].data ? m->parts[j].data_len + 1 : 0) +
               str_need(m->parts[j].media_type) +
               str_need(m->parts[j].detail) +
               str_need(m->parts[j].filename);
      }
      if (m->ntool_calls && m->tool_calls) {
        n += array_need(m->ntool_calls, sizeof *m->tool_calls);
        for (j = 0; j < m->ntool_calls; j++)
          n += str_need(m->tool_calls[j].id) + str_need(m->tool_calls[j].name) +
               str_need(m->tool_calls[j].arguments_json);
      }
    }
  } else if (r->nmessages) {
    n += array_need(r->nmessages, sizeof(lgw_rich_message_t));
    for (i = 0; i < r->nmessages; i++)
      n += str_need(r->messages[i].role) + str_need(r->messages[i].content);
  }
  if (has_rich(r)) n += array_need(1, sizeof(req_rich_t));
  if (r->ntools && r->tools) {
    n += array_need(r->ntools, sizeof *r->tools);
    for (i = 0; i < r->ntools; i++)
      n += str_need(r->tools[i].name) + str_need(r->tools[i].description) +
           str_need(r->tools[i].parameters_json);
  }
  if (r->nstop && r->stop) {
    n += array_need(r->nstop, sizeof *r->stop);
    for (i = 0; i < r->nstop; i++)
      n += str_need(r->stop[i] ? r->stop[i] : "");
  }
  return n + str_need(r->tool_choice) + str_need(r->tool_choice_name) +
         str_need(r->schema_json) + str_need(r->schema_name) +
         str_need(r->user) + str_need(r->metadata_json) +
         str_need(r->extra_json);
}

int lgw__gw_arena_for(req_t *q, const lgw_request_t *r,
                      const lgw_embed_request_t *emb) {
  size_t n = rich_need(r), i;
  /* overrides: the request builds its own route (route_for) */
  if ((r->model && *r->model) || (r->tier && *r->tier) ||
      (r->reasoning_effort && *r->reasoning_effort) || r->has_temperature ||
      r->max_tokens)
    n += array_need(1, sizeof(lgw__route_t)) +
         array_need(1, sizeof(lgw__overrides_t));
  if (emb) n += array_need(1, sizeof(req_embed_t));
  if (emb && emb->ninputs) {
    n += array_need(emb->ninputs, sizeof(const char *));
    for (i = 0; i < emb->ninputs; i++)
      n += str_need(emb->inputs[i] ? emb->inputs[i] : "");
  }
  return arena_first(q, n);
}

int lgw__gw_arena_need(req_t *q, size_t n, size_t size) {
  return arena_first(q, array_need(n, size));
}

/* A copy of n bytes (one NUL after them); src NULL gives NULL. *bad is
 * set when memory is short. */
static void *arena_mem(req_t *q, const void *src, size_t n, int *bad) {
  char *p;
  if (!src) return NULL;
  if (!(p = arena_alloc(q, n + 1, 1))) {
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
  if (n > (size_t)-1 / size || !(p = arena_alloc(q, n * size, AL))) {
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

/* Has r any tool, schema or sampling option (else no req_rich_t)? */
static int has_rich(const lgw_request_t *r) {
  return r->ntools || r->tool_choice || r->tool_choice_name ||
         r->parallel_tool_calls || r->schema_json || r->schema_name ||
         r->schema_strict || r->nstop || r->has_top_p || r->top_p != 0 ||
         r->has_seed || r->seed || r->user || r->metadata_json ||
         r->extra_json;
}

/* r's tool, schema and sampling options copied into q's arena; NULL
 * (*bad set) when memory is short. */
static req_rich_t *copy_params(req_t *q, const lgw_request_t *r, int *bad) {
  req_rich_t *x = arena_array(q, 1, sizeof *x, bad);
  size_t i;
  if (!x) return NULL;
  if (r->ntools && r->tools &&
      (x->tools = arena_array(q, r->ntools, sizeof *x->tools, bad))) {
    x->ntools = r->ntools;
    for (i = 0; i < r->ntools; i++) {
      x->tools[i].name = arena_str(q, r->tools[i].name, bad);
      x->tools[i].description = arena_str(q, r->tools[i].description, bad);
      x->tools[i].parameters_json = arena_str(q, r->tools[i].parameters_json,
                                              bad);
      x->tools[i].strict = r->tools[i].strict;
      q->msg_bytes += x->tools[i].parameters_json
                          ? strlen(x->tools[i].parameters_json) : 0;
    }
  }
  x->tool_choice = arena_str(q, r->tool_choice, bad);
  x->tool_choice_name = arena_str(q, r->tool_choice_name, bad);
  x->parallel_tool_calls = r->parallel_tool_calls;
  x->schema_json = arena_str(q, r->schema_json, bad);
  x->schema_name = arena_str(q, r->schema_name, bad);
  x->schema_strict = r->schema_strict;
  if (r->nstop && r->stop &&
      (x->stop = arena_array(q, r->nstop, sizeof *x->stop, bad))) {
    x->nstop = r->nstop;
    for (i = 0; i < r->nstop; i++)
      x->stop[i] = arena_str(q, r->stop[i] ? r->stop[i] : "", bad);
  }
  x->has_top_p = r->has_top_p;
  x->top_p = r->top_p;
  x->has_seed = r->has_seed;
  x->seed = r->seed;
  x->user = arena_str(q, r->user, bad);
  x->metadata_json = arena_str(q, r->metadata_json, bad);
  x->extra_json = arena_str(q, r->extra_json, bad);
  return x;
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
  if (has_rich(r) && (q->rx = copy_params(q, r, &bad)) != NULL) {
    q->msg_bytes += q->rx->schema_json ? strlen(q->rx->schema_json) : 0;
  }
  q->on_tool_delta = r->on_tool_delta;
  q->tool_delta_ud = r->tool_delta_ud;
  return bad;
}

char *lgw__gw_arena_str(req_t *q, const char *s) {
  int bad = 0;
  return (char *)arena_str(q, s, &bad);
}

void *lgw__gw_arena_array(req_t *q, size_t n, size_t size) {
  int bad = 0;
  return arena_array(q, n, size, &bad);
}

/* Everything but the arena's blocks (before them: q->em is in the
 * arena). */
static void free_results(req_t *q) {
  req_embed_t *em = q->em;
  if (q->res_calls) {
    lgw_free(q->res_calls);
    q->res_calls = NULL;
  }
  if (!em) return;
  lgw_free(em->embed_url);
  lgw__headers_free(em->embed_headers);
  lgw_free(em->vecs);
  lgw_free(em->embed_model);
  q->em = NULL;
}

void lgw__gw_free_rich(req_t *q) {
  blk_t *b = q->arena, *next;
  free_results(q);
  for (; b; b = next) {
    next = b->next;
    lgw_free(b);
  }
  q->arena = NULL;
}

/* Blocks up to this size are kept by a recycled record. */
#define BLK_KEEP 1024

void lgw__gw_recycle_rich(req_t *q) {
  blk_t *b = q->arena, *next, *keep = NULL;
  free_results(q);
  for (; b; b = next) {  /* the largest one up to BLK_KEEP is kept */
    next = b->next;
    if (b->cap <= BLK_KEEP && (!keep || b->cap > keep->cap)) {
      if (keep) lgw_free(keep);
      keep = b;
    } else {
      lgw_free(b);
    }
  }
  if (keep) {
    keep->used = 0;
    keep->next = NULL;
  }
  q->arena = keep;
}

void lgw__gw_call_rich(const req_t *q, lgw__call_t *c) {
  const req_rich_t *x = q->rx;
  c->extra_body = prov(q)->extra_body;
  if (!x) return;  /* c's options stay as the caller zeroed them */
  c->tools = x->tools;
  c->ntools = x->ntools;
  c->tool_choice = x->tool_choice;
  c->tool_choice_name = x->tool_choice_name;
  c->parallel_tool_calls = x->parallel_tool_calls;
  c->schema_json = x->schema_json;
  c->schema_name = x->schema_name;
  c->schema_strict = x->schema_strict;
  c->stop = x->stop;
  c->nstop = x->nstop;
  c->has_top_p = x->has_top_p;
  c->top_p = x->top_p;
  c->has_seed = x->has_seed;
  c->seed = x->seed;
  c->user = x->user;
  c->metadata_json = x->metadata_json;
  c->extra = x->extra_json;
}

int lgw__gw_result_calls(req_t *q) {
  const lgw__tcalls_t *l = &q->reply.calls;
  size_t i;
  if (!l->n || q->res_calls) return 0;
  if (!(q->res_calls = lgw__calloc(l->n, sizeof *q->res_calls)))
    return LGW_ENOMEM;
  for (i = 0; i < l->n; i++) {
    q->res_calls[i].id = l->v[i].id;
    q->res_calls[i].name = l->v[i].name;
    q->res_calls[i].arguments_json = l->v[i].args.data ? l->v[i].args.data
                                                       : "";
  }
  return 0;
}

void lgw__gw_result_rich(req_t *q, lgw_result_t *res,
                         lgw_rich_message_t *msg) {
  const lgw__tcalls_t *l = &q->reply.calls;
  if (q->status) return;
  if (q->res_calls) {
    res->tool_calls = q->res_calls;
    res->ntool_calls = l->n;
  }
  memset(msg, 0, sizeof *msg);
  msg->role = "assistant";
  msg->content = res->text ? res->text : "";
  msg->tool_calls = res->tool_calls;
  msg->ntool_calls = res->ntool_calls;
  res->message = msg;
}

/* ---- streamed tool-call pieces -------------------------------------------- */

/* A tool delta travels as a text delta note (so it keeps its place among
 * them) whose text is "<index>\0<name>\0<piece>", for the request q. */
static void tool_trampoline(lgw_gateway_t *gw, uint64_t id, const char *t,
                            size_t len, void *ud) {
  req_t *q = ud;
  const char *name = memchr(t, '\0', len), *piece;
  if (!name) return;
  name++;
  piece = memchr(name, '\0', len - (size_t)(name - t));
  if (!piece) return;
  piece++;
  q->on_tool_delta(gw, id, (size_t)strtoul(t, NULL, 10), name, piece,
                   len - (size_t)(piece - t), q->tool_delta_ud);
}

int lgw__gw_emit_tool_deltas(req_t *q, lgw__tcalls_t *calls) {
  lgw_gateway_t *gw = q->gw;
  size_t i;
  if (!q->on_tool_delta) return 0;
  for (i = 0; i < calls->n; i++) {
    lgw__tcall_t *t = &calls->v[i];
    size_t have = t->args.len;
    lgw__buf_t b;
    if (t->announced && have <= t->shown) continue;
    lgw__buf_init(&b);
    if (lgw__buf_printf(&b, "%zu", i) || lgw__buf_addc(&b, '\0') ||
        lgw__buf_adds(&b, t->name) || lgw__buf_addc(&b, '\0') ||
        (have > t->shown &&
         lgw__buf_add(&b, t->args.data + t->shown, have - t->shown)) ||
        lgw__notes_delta(&gw->notes, tool_trampoline, q, gw, q->id, b.data,
                         b.len)) {
      lgw__buf_free(&b);
      return LGW_ENOMEM;
    }
    lgw__buf_free(&b);
    t->announced = 1;
    if (have > t->shown) t->shown = have;
    if (q->ttft < 0) q->ttft = eng_now(q->gw) - q->attempt_s;
    q->emitted = 1;
    lgw__gw_wake(gw);
  }
  return 0;
}

/* ---- embeddings ------------------------------------------------------------ */

int lgw__gw_copy_embed(req_t *q, const lgw_embed_request_t *r) {
  int bad = 0;
  size_t i;
  q->embed = 1;
  if (!(q->em = arena_array(q, 1, sizeof *q->em, &bad))) return bad;
  q->em->dims = r->dimensions;
  if ((q->em->inputs = arena_array(q, r->ninputs, sizeof *q->em->inputs,
                                   &bad))) {
    q->em->ninputs = r->ninputs;
    for (i = 0; i < r->ninputs; i++) {
      q->em->inputs[i] = arena_str(q, r->inputs[i] ? r->inputs[i] : "", &bad);
      q->msg_bytes += r->inputs[i] ? strlen(r->inputs[i]) : 0;
    }
  }
  return bad;
}

int lgw__gw_embed_skip(const req_t *q, char *why, size_t cap) {
  const lgw__provider_t *p = prov(q);
  if (p->style != LGW__STYLE_ANTHROPIC) return 0;
  lgw__gw_msgf(why, cap, "Skipped: the %s API (api_style %s) has no "
               "embeddings endpoint.", prov_type(p), p->api_style);
  return 1;
}

/* {base}/embeddings by the usual rules; a base that is already a Chat
 * or Responses endpoint has that path replaced (a query string stays at
 * the end). */
static char *embed_url(const char *base_url) {
  static const char *const ends[] = {"/chat/completions", "/responses"};
  char *base = lgw__clean_base(base_url), *q, *url = NULL;
  size_t i, n;
  if (!base) return NULL;
  q = strchr(base, '?');
  n = q ? (size_t)(q - base) : strlen(base);
  while (n && base[n - 1] == '/') n--;
  for (i = 0; i < 2 && !url; i++) {
    size_t k = strlen(ends[i]);
    if (n > k && lgw__strncasecmp(base + n - k, ends[i], k) == 0)
      url = lgw__sprintf("%.*s/embeddings%s", (int)(n - k), base,
                         q ? q : "");
  }
  lgw_free(base);
  return url ? url : lgw__endpoint_url(base_url, "/embeddings",
                                       "/embeddings");
}

int lgw__gw_embed_prepare(req_t *q, char **body, size_t *len,
                          lgw_error_t *e) {
  const lgw__provider_t *p = prov(q);
  lgw__kvlist_t kv = {NULL, 0};
  lgw__buf_t b;
  size_t i;
  int rc;
  lgw_free(q->em->embed_url);
  lgw__headers_free(q->em->embed_headers);
  q->em->embed_headers = NULL;
  q->em->embed_url = embed_url(p->base_url);
  if (lgw__openai_headers(p, &kv) == 0)
    q->em->embed_headers = lgw__headers_new(&kv);
  lgw__kvlist_free(&kv);
  lgw__buf_init(&b);
  rc = !q->em->embed_url || !q->em->embed_headers ? LGW_ENOMEM : 0;
  rc = rc ? rc : lgw__buf_adds(&b, "{\"model\":");
  rc = rc ? rc : lgw__json_add_str(&b, q->route->model,
                                   strlen(q->route->model));
  rc = rc ? rc : lgw__buf_adds(&b, ",\"input\":[");
  for (i = 0; !rc && i < q->em->ninputs; i++) {
    rc = i ? lgw__buf_addc(&b, ',') : 0;
    rc = rc ? rc : lgw__json_add_str(&b, q->em->inputs[i],
                                     strlen(q->em->inputs[i]));
  }
  rc = rc ? rc : lgw__buf_addc(&b, ']');
  if (!rc && q->em->dims > 0)
    rc = lgw__buf_printf(&b, ",\"dimensions\":%ld", q->em->dims);
  rc = rc ? rc : lgw__buf_adds(&b, ",\"encoding_format\":\"float\"");
  return lgw__body_finish(&b, rc, body, len, e);
}

/* A base64 embedding: little-endian float32 values. */
static int b64_floats(const char *s, double *out, size_t want) {
  static const char tab[] =
      "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  unsigned char bytes[4];
  size_t nb = 0, nv = 0;
  unsigned v = 0;
  int bits = 0;
  for (; *s && *s != '='; s++) {
    const char *c = strchr(tab, *s);
    if (!c) return -1;
    v = (v << 6) | (unsigned)(c - tab);
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      bytes[nb++] = (unsigned char)((v >> bits) & 0xff);
      if (nb == 4) {
        uint32_t u = (uint32_t)bytes[0] | (uint32_t)bytes[1] << 8 |
                     (uint32_t)bytes[2] << 16 | (uint32_t)bytes[3] << 24;
        float f;
        memcpy(&f, &u, sizeof f);
        if (nv == want) return -1;
        out[nv++] = f;
        nb = 0;
      }
    }
  }
  return nb == 0 && nv == want ? 0 : -1;
}

/* The length of one embedding (an array, or base64 of float32s). */
static size_t embedding_dim(const cJSON *e) {
  if (cJSON_IsArray(e)) return (size_t)cJSON_GetArraySize(e);
  if (cJSON_IsString(e)) {
    size_t n = strlen(e->valuestring), pad = 0;
    while (pad < n && pad < 2 && e->valuestring[n - 1 - pad] == '=') pad++;
    return (n / 4 * 3 - pad) / 4;
  }
  return 0;
}

int lgw__gw_embed_parse(req_t *q, const lgw__xfer_resp_t *resp, char *msg,
                        size_t cap) {
  const char *body = resp->body ? resp->body : "";
  cJSON *root = cJSON_ParseWithLength(body, resp->body_len);
  const cJSON *data, *model, *usage, *it;
  const char *url = lgw__gw_attempt_url(q);
  size_t n = q->em->ninputs, dim = 0, k = 0;
  int code = 0;
  lgw__reply_no_usage(&q->reply);
  lgw_free(q->em->vecs);
  q->em->vecs = NULL;
  q->em->nvecs = q->em->dim = 0;
  /* cJSON fails the same way when memory is short: the strict parser
   * tells (LGW_ENOMEM, LGW_EJSON, or the tree cJSON could not make) */
  if (!root &&
      (code = lgw__json_parse_strict(body, resp->body_len, &root, NULL))) {
    if (code == LGW_ENOMEM) {
      lgw__gw_msgf(msg, cap, "Cannot read the embeddings from %s: out of "
                   "memory.", url);
      return LGW_ENOMEM;
    }
    lgw__gw_msgf(msg, cap, "HTTP %d from %s: the embeddings answer is not "
                 "JSON", (int)resp->status, url);
    return LGW_ERESPONSE;
  }
  data = cJSON_GetObjectItemCaseSensitive(root, "data");
  model = cJSON_GetObjectItemCaseSensitive(root, "model");
  usage = cJSON_GetObjectItemCaseSensitive(root, "usage");
  q->reply.input_tokens = lgw__json_count(usage, "prompt_tokens");
  q->reply.output_tokens = q->reply.input_tokens >= 0 ? 0 : -1;
  if (!cJSON_IsArray(data) || (size_t)cJSON_GetArraySize(data) != n ||
      (dim = embedding_dim(cJSON_GetObjectItemCaseSensitive(
           cJSON_GetArrayItem(data, 0), "embedding"))) == 0) {
    lgw__gw_msgf(msg, cap, "HTTP %d from %s: expected %zu embeddings in "
                 "\"data\", got %d", (int)resp->status, url, n,
                 cJSON_IsArray(data) ? cJSON_GetArraySize(data) : 0);
    cJSON_Delete(root);
    return LGW_ERESPONSE;
  }
  if (dim > ((size_t)-1 / sizeof *q->em->vecs) / n ||
      !(q->em->vecs = lgw__calloc(n * dim, sizeof *q->em->vecs))) {
    lgw__gw_msgf(msg, cap, "Cannot read the embeddings from %s: out of "
                 "memory.", url);
    cJSON_Delete(root);
    return LGW_ENOMEM;
  }
  cJSON_ArrayForEach(it, data) {
    const cJSON *e = cJSON_GetObjectItemCaseSensitive(it, "embedding");
    const cJSON *ix = cJSON_GetObjectItemCaseSensitive(it, "index");
    /* rows go by index (input order); without one, in answer order */
    size_t row = cJSON_IsNumber(ix) ? (size_t)ix->valuedouble : k;
    double *v;
    k++;
    if (!cJSON_IsNumber(ix) ? 0 : (ix->valuedouble < 0 || row >= n)) {
      code = LGW_ERESPONSE;
      break;
    }
    v = q->em->vecs + row * dim;
    if (embedding_dim(e) != dim) {
      code = LGW_ERESPONSE;
    } else if (cJSON_IsArray(e)) {
      const cJSON *x;
      size_t j = 0;
      cJSON_ArrayForEach(x, e) {
        if (!cJSON_IsNumber(x)) code = LGW_ERESPONSE;
        else v[j] = x->valuedouble;
        j++;
      }
    } else if (b64_floats(e->valuestring, v, dim)) {
      code = LGW_ERESPONSE;
    }
    if (code) break;
  }
  if (code) {
    lgw__gw_msgf(msg, cap, "HTTP %d from %s: embedding %zu is malformed "
                 "(expected %zu numbers)", (int)resp->status, url, k, dim);
    lgw_free(q->em->vecs);
    q->em->vecs = NULL;
  } else {
    q->em->nvecs = n;
    q->em->dim = dim;
    lgw_free(q->em->embed_model);
    q->em->embed_model = cJSON_IsString(model) ? lgw__strdup(model->valuestring)
                                           : NULL;
  }
  cJSON_Delete(root);
  return code;
}

void lgw__gw_embed_call_back(req_t *q) {
  lgw_gateway_t *gw = q->gw;
  lgw_embed_result_t res;
  memset(&res, 0, sizeof res);
  res.task = q->task;
  res.model = res.provider_type = res.api_style = res.base_url = "";
  lgw__usage_unknown(&res.usage);
  res.cost = -1;
  if (q->status == 0) {
    const lgw__provider_t *p = &gw->rt->providers[q->winner];
    const lgw__transport_t *tr = lgw__transport_for(q->route->style);
    res.vectors = q->em->vecs;
    res.nvectors = q->em->nvecs;
    res.dim = q->em->dim;
    res.model = q->em->embed_model ? q->em->embed_model : q->route->model;
    res.provider_index = (int)q->winner + 1;
    res.provider_type = p->provider_type;
    res.api_style = tr ? tr->name : "";
    res.base_url = gw->shown_urls[q->winner];
    res.usage = q->win_usage;
    res.cost = q->win_cost;
  }
  res.attempts = q->natt ? q->att : NULL;
  res.nattempts = q->natt;
  q->em->embed_cb(gw, q->id, q->status, &res,
              q->status ? (q->err ? q->err : &lgw__gw_oom_error) : NULL,
              q->ud);
}

static void embed_unused_cb(lgw_gateway_t *gw, uint64_t id, int status,
                            const lgw_result_t *res, const lgw_error_t *err,
                            void *ud) {
  (void)gw;
  (void)id;
  (void)status;
  (void)res;
  (void)err;
  (void)ud;
}

int lgw_gateway_embed(lgw_gateway_t *gw, const lgw_embed_request_t *req,
                      lgw_embed_done_fn cb, void *ud, uint64_t *id,
                      lgw_error_t *err) {
  lgw_request_t r;
  if (id) *id = 0;
  if (!gw || !req || !cb || !req->ninputs || !req->inputs)
    return lgw__error_set(err, LGW_EINVAL, "lgw_gateway_embed: invalid "
                                           "arguments");
  memset(&r, 0, sizeof r);
  r.task = req->task;
  r.model = req->model;
  r.deadline = req->deadline;
  return lgw__gw_submit(gw, &r, embed_unused_cb, ud, id, err, req, cb);
}
