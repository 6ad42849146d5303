/*
 * gateway_priv.h -- internals shared by the gateway files (gateway.c,
 * gateway_attempt.c, gateway_stream.c): the gateway and request records,
 * their lists, small accessors, and the functions each of those files
 * offers the others.
 */
#ifndef LGW_GATEWAY_PRIV_H
#define LGW_GATEWAY_PRIV_H

#include <stddef.h>
#include <stdint.h>

#include "llmgateway.h"
#include "breaker.h"
#include "config.h"
#include "engine.h"
#include "events.h"
#include "list.h"
#include "ratelimit.h"
#include "route.h"
#include "sse.h"
#include "state_redis.h"
#include "transport.h"
#include "util.h"

#define NSTYLES (LGW__STYLE_LITELLM + 1)

/* Endpoint of one provider for one transport, built on first use. */
typedef struct endpoint {
  char *url;                   /* owned */
  lgw__headers_t *headers;     /* owned */
  int direct;                  /* loopback: never through a proxy */
} endpoint_t;

/* The route of a task on one provider, for requests without overrides.
 * Entries never move: requests point at their route. */
typedef struct route_entry {
  lgw_link_t link;             /* in gw->routes[provider] */
  char *task;                  /* owned */
  lgw__route_t route;          /* owned */
} route_entry_t;

#define ROUTES_MAX 64          /* cached tasks per provider */
#define LGW__ATT_BITS 64       /* attempts whose strings may be borrowed */
#define ATT_KEEP 16            /* attempt slots a pooled record keeps */
#define REQ_INL 72             /* bytes after a record's provider order
                                  for the task and messages of a small
                                  request (gateway.c, inl_put) */

enum { S_PLAN, S_PACE, S_WAIT, S_HTTP, S_SLEEP, S_DONE };

typedef struct req req_t;
typedef struct qreq qreq_t;

/* A request's place in the gateway's lists: in gw->all from submit to
 * its completion callback, in gw->wait while it waits for a slot. The
 * node is a full record's (req_t) or a queued request's in compact form
 * (qreq_t, gateway.c): a request that waits for a slot right after its
 * submit keeps only its request data, its plan and its callback; the
 * full record is made when a slot frees (lgw__gw_wait_pop). */
typedef struct gw_node {
  lgw_link_t all;              /* in gw->all */
  lgw_link_t wait;             /* in gw->wait */
  int compact;                 /* a qreq_t, else a req_t */
} gw_node_t;

/* What only a streamed attempt needs, allocated at the first one. */
typedef struct req_stream {
  lgw__sse_parser_t sse;
  lgw__stream_t stream;        /* the current streamed attempt */
  int abort_code, abort_status;  /* why the engine cut the transfer */
  int at_end;                  /* the body is complete: the last event */
  char abort_msg[1024];
} req_stream_t;

/* A request's tool, schema and sampling options (gateway_rich.c), in its
 * arena when it has any. */
typedef struct req_rich {
  lgw_tool_t *tools;
  size_t ntools;
  const char *tool_choice, *tool_choice_name;
  const char *schema_json, *schema_name;
  int parallel_tool_calls;
  int schema_strict;
  const char **stop;
  size_t nstop;
  int has_top_p, has_seed;
  double top_p;
  long long seed;
  const char *user, *metadata_json, *extra_json;
} req_rich_t;

/* What only an embed request has (gateway_rich.c), in its arena. */
typedef struct req_embed {
  lgw_embed_done_fn embed_cb;
  const char **inputs;         /* in arena */
  size_t ninputs;
  long dims;
  char *embed_url;             /* owned: the current attempt's */
  lgw__headers_t *embed_headers;  /* owned */
  double *vecs;                /* owned: the answer's */
  size_t nvecs, dim;
  char *embed_model;           /* owned: the model the answer named */
} req_embed_t;

struct req {
  lgw_gateway_t *gw;
  uint64_t id;
  lgw_done_fn cb;
  void *ud;
  int state;                   /* S_* */
  unsigned plain : 1;          /* no overrides: cached routes apply */
  unsigned pacing : 1;         /* the sleep timer waits for a rate limit */
  unsigned tokens_shared : 1;  /* tokens_est is in the shared bucket */
  unsigned emitted : 1;        /* a delta was queued: no more attempts */
  unsigned embed : 1;          /* an lgw_gateway_embed request */
  unsigned inl : 1;            /* task and messages in the record's tail
                                  (REQ_INL): no arena, no compact block */
  unsigned att_lost : 1;       /* an attempt could not be recorded (memory
                                  short): a success ends with LGW_ENOMEM */
  /* the request, copied */
  char *task;
  lgw_rich_message_t *msgs;    /* in arena */
  size_t nmsgs;
  lgw__overrides_t *ov;        /* in arena, NULL without overrides
                                  (plain); its model, tier and
                                  reasoning_effort are owned copies (NULL:
                                  not set) */
  double deadline;             /* seconds, 0 = none */
  /* the plan */
  size_t *order;               /* provider indexes, preferred first */
  size_t pos;                  /* into order */
  int attempt;                 /* on this provider; 0 = not entered yet */
  int stop_code;               /* LGW_ECANCELED / LGW_EDEADLINE once asked */
  const lgw__route_t *route;   /* the gateway's cached one or own_route;
                                  NULL before routing */
  lgw__route_t *own_route;     /* a route built with overrides: in arena,
                                  its strings owned; NULL until one is */
  lgw__xfer_t *http;
  /* timers, allocated on first use (owned) */
  lgw__timer_t *sleep_timer, *deadline_timer, *ttft_timer, *idle_timer;
  /* the outcome */
  lgw_attempt_t *att;          /* kept with a pooled record */
  size_t natt, catt;
  /* bit i: attempt i's model / message is owned (a copy); attempts from
   * LGW__ATT_BITS on own both */
  uint64_t att_own_model, att_own_msg;
  lgw__buf_t lines;            /* "- provider #i (...): msg" lines */
  int last_status;
  int status;
  lgw_error_t *err;            /* owned; set when the request fails */
  lgw__reply_t reply;
  char *refusal;               /* owned: the last refusal, NULL if none */
  size_t refusal_len;
  size_t winner;               /* configured index on success */
  gw_node_t node;              /* in gw->all, gw->wait */
  lgw_link_t q_link;           /* in gw->done or gw->pool */
  qreq_t *h;                   /* owned: the request data (task, messages)
                                  this record points into; NULL: they are
                                  copied into the arena */
  double start_s;              /* submit time (engine clock) */
  /* pacing */
  double tokens_est;           /* reserved in the tpm bucket, 0 = none */
  lgw__redis_call_t *rs_call;  /* S_PACE: the shared reservation */
  size_t msg_bytes;
  /* streaming */
  lgw_delta_fn on_delta;
  void *delta_ud;
  req_stream_t *st;            /* owned; from the first streamed attempt */
  double attempt_s;            /* start of the current attempt */
  double ttft;                 /* current attempt; -1 before a delta */
  /* usage */
  lgw_usage_t usage_total, win_usage;
  double cost_total, win_cost, win_ttft;
  /* rich requests (gateway_rich.c) */
  void *arena;                 /* owned: msgs, tools and their strings */
  req_rich_t *rx;              /* tools, schema, sampling...: in arena,
                                  NULL when the request has none */
  req_embed_t *em;             /* embeddings: in arena, NULL for a chat */
  lgw_tool_delta_fn on_tool_delta;
  void *tool_delta_ud;
  lgw_tool_call_t *res_calls;  /* owned: the result's tool calls */
};

struct lgw_gateway {
  lgw_runtime_t *rt;           /* reference held */
  lgw__engine_t *eng;          /* owned */
  endpoint_t *eps;             /* nproviders * NSTYLES */
  char **shown_urls;           /* per provider: base_url with userinfo,
                                  query values and every secret redacted,
                                  or "<missing>"; owned */
  lgw__secrets_t secrets;      /* every configured secret; owned */
  char **ca_files;             /* per provider: CA bundle, NULL = curl's
                                  default; owned */
  char *state_path;            /* NULL when no_state or shared */
  struct state_writer *writer; /* with state_path: writes it off the loop */
  lgw__rstate_t *rs;           /* shared state on Redis, or NULL */
  char preferred[65];          /* provider key, "" when none */
  uint64_t rng;
  uint64_t next_id;
  size_t max_concurrent, inflight;
  size_t pending;
  lgw_link_t all, wait;        /* gw_node_t: requests, waiting ones */
  lgw_link_t done;             /* req_t finished, callbacks to run */
  lgw_link_t pool;             /* req_t records kept for reuse */
  size_t npool;
  size_t req_size;             /* sizeof(req_t) */
  struct dl_ent *dl;           /* deadlines of requests with a compact
                                  block: a heap, the earliest first */
  size_t ndl, cdl;
  lgw__timer_t *dl_timer;      /* for dl[0] */
  lgw__defer_t *wake;          /* runs completion callbacks */
  int cb_depth, running, free_pending, closing, freeing, no_pump;
  lgw__notes_t notes;          /* deltas and events to run */
  lgw_event_fn on_event;
  void *event_ud;
  lgw_clock_fn clock;
  void *clock_ud;
  /* tests: told of each wait a request starts (rate-limit pacing, retry
   * backoff), so they need not time it; NULL: nobody */
  void (*on_sleep)(void *ud, uint64_t id, double seconds);
  void *on_sleep_ud;
  /* tests: the state-file write, run on the thread pool; NULL:
   * lgw__state_remember */
  void (*state_remember)(const char *path, const char *config_key,
                         const char *provider_key);
  lgw_link_t *routes;          /* per provider: cached routes; owned */
  size_t *nroutes;
  long timeout_ms, connect_timeout_ms;
  lgw__breaker_t *breakers;    /* per configured provider */
  lgw__bucket_t *rpm, *tpm;    /* per configured provider */
  double cost_total;
  lgw_usage_t usage_total;
};

#define REQ_OF(l, field) LGW_CONTAINER_OF(l, req_t, field)

/* ---- small helpers ------------------------------------------------------- */

static inline const lgw__provider_t *prov(const req_t *q) {
  return &q->gw->rt->providers[q->order[q->pos]];
}

static inline const char *prov_type(const lgw__provider_t *p) {
  return lgw__is_blank(p->provider_type) ? "unknown" : p->provider_type;
}

static inline const char *prov_url(const req_t *q) {
  return q->gw->shown_urls[q->order[q->pos]];
}

/* The engine's clock. */
static inline double eng_now(const lgw_gateway_t *gw) {
  return gw->eng->ops->now(gw->eng);
}

/* The breakers' and rate limiters' clock: the caller's, else the
 * engine's. */
static inline double gw_now(const lgw_gateway_t *gw) {
  return gw->clock ? gw->clock(gw->clock_ud) : eng_now(gw);
}

/* ---- gateway.c ----------------------------------------------------------- */

extern const lgw_error_t lgw__gw_oom_error;

/* lgw_gateway_new on engine eng (taken, also on failure). */
int lgw__gateway_new_on(lgw_runtime_t *rt, const lgw_gateway_options_t *opts,
                        lgw__engine_t *eng, lgw_gateway_t **out,
                        lgw_error_t *err);

/* snprintf for messages: a long one is cut at cap. */
void lgw__gw_msgf(char *out, size_t cap, const char *fmt, ...)
    LGW__PRINTF(3, 4);
/* Every configured secret out of msg (see lgw__redact). */
void lgw__gw_redact(const lgw_gateway_t *gw, char *msg, size_t cap);
void lgw__gw_wake(lgw_gateway_t *gw);
void lgw__gw_queue_event(lgw_gateway_t *gw, const lgw_event_t *ev);
void lgw__gw_finish(req_t *q, int status);
lgw_error_t *lgw__gw_req_err(req_t *q);
void lgw__gw_stop_error(req_t *q);
int lgw__gw_timer_start(req_t *q, lgw__timer_t **t, lgw__engine_fn fn,
                        double seconds);
/* Queue q (S_WAIT) for a slot; the first waiting request, as a full
 * record (made from its compact form), NULL when none or memory is
 * short. */
void lgw__gw_wait_push(req_t *q);
/* q's messages for a body (*msgs, *n): q->msgs, or read from its
 * compact block when it has one, into tmp when they fit in cap (valid
 * while tmp is), else into q->msgs; 0, or LGW_ENOMEM. */
int lgw__gw_msgs(req_t *q, lgw_rich_message_t *tmp, size_t cap,
                 const lgw_rich_message_t **msgs, size_t *n);
req_t *lgw__gw_wait_pop(lgw_gateway_t *gw);

/* ---- gateway_attempt.c --------------------------------------------------- */

void lgw__gw_plan(req_t *q);
/* Free slots to the requests waiting, longest first. A waiting request
 * whose full record cannot be made (memory short) keeps its place: the
 * next pump (a request released, or queued) serves it. */
void lgw__gw_pump(lgw_gateway_t *gw);
/* The cached route of a plain request for task on provider pi when its
 * plan there would do nothing but queue it for a slot: a base URL, no
 * open breaker, the route built before, no rate limit to reserve; NULL
 * when the plan must run (lgw__gw_plan). */
const lgw__route_t *lgw__gw_plan_queued(lgw_gateway_t *gw, size_t pi,
                                        const char *task);
void lgw__gw_route_drop(req_t *q);
void lgw__gw_routes_free(lgw_gateway_t *gw);
void lgw__gw_breaker_event(lgw_gateway_t *gw, const req_t *q, size_t pi,
                           lgw_event_type_t type);
/* The provider-state file: written on the thread pool, one write at a
 * time, the newest value last; close lets pending writes finish. */
int lgw__gw_writer_new(lgw_gateway_t *gw, const char *config_key);
void lgw__gw_writer_close(lgw_gateway_t *gw);

/* ---- gateway_rich.c ------------------------------------------------------ */

/* Copy r's messages (parts, tool calls) and tools into q's arena; 1 when
 * memory is short. */
int lgw__gw_copy_rich(req_t *q, const lgw_request_t *r);
void lgw__gw_free_rich(req_t *q);
/* As free_rich, but the arena's first block (when small) is kept, empty,
 * for the record's next request. */
void lgw__gw_recycle_rich(req_t *q);
/* A record without an arena block gets one of the size the copy of r
 * (task, lgw__gw_copy_rich) and of emb's inputs takes (..._need: of n
 * elements of size bytes); 1 when memory is short. */
int lgw__gw_arena_for(req_t *q, const lgw_request_t *r,
                      const lgw_embed_request_t *emb);
int lgw__gw_arena_need(req_t *q, size_t n, size_t size);
/* A copy of s in q's arena; NULL when memory is short. */
char *lgw__gw_arena_str(req_t *q, const char *s);
/* An array of n zeroed elements in q's arena; NULL when short. */
void *lgw__gw_arena_array(req_t *q, size_t n, size_t size);
/* The tool fields of an attempt's call. */
void lgw__gw_call_rich(const req_t *q, lgw__call_t *c);
/* A success's tool calls for its result, made before it is reported
 * (lgw__gw_finish); 0, or LGW_ENOMEM. */
int lgw__gw_result_calls(req_t *q);
/* A success's tool calls and assistant message (in msg) into res. */
void lgw__gw_result_rich(req_t *q, lgw_result_t *res,
                         lgw_rich_message_t *msg);
/* Embeddings: the copy of an embed request; why a provider is skipped
 * (1, why filled) or not (0); an attempt's URL, headers (kept in q) and
 * body; a 2xx answer read into q (0 or LGW_E* with msg); the completion
 * callback. */
int lgw__gw_copy_embed(req_t *q, const lgw_embed_request_t *r);
int lgw__gw_embed_skip(const req_t *q, char *why, size_t cap);
int lgw__gw_embed_prepare(req_t *q, char **body, size_t *len,
                          lgw_error_t *e);
int lgw__gw_embed_parse(req_t *q, const lgw__xfer_resp_t *resp, char *msg,
                        size_t cap);
void lgw__gw_embed_call_back(req_t *q);
/* Queue the new pieces of calls for on_tool_delta (when set); 0, or
 * LGW_ENOMEM as lgw__gw_emit_delta. */
int lgw__gw_emit_tool_deltas(req_t *q, lgw__tcalls_t *calls);
/* lgw_gateway_submit, for an embed request too (emb non-NULL). */
int lgw__gw_submit(lgw_gateway_t *gw, const lgw_request_t *req,
                   lgw_done_fn cb, void *ud, uint64_t *id, lgw_error_t *err,
                   const lgw_embed_request_t *emb, lgw_embed_done_fn ecb);

/* ---- gateway_stream.c ---------------------------------------------------- */

const char *lgw__gw_attempt_url(const req_t *q);
void lgw__gw_stream_begin(req_t *q);
void lgw__gw_stream_timers_stop(req_t *q);
/* 0, or LGW_ENOMEM: the piece could not be queued (the attempt must end:
 * the pieces would not join to the answer). */
int lgw__gw_emit_delta(req_t *q, const char *text, size_t len);
int lgw__gw_on_stream_head(long status, const char *content_type, void *ud);
int lgw__gw_on_stream_data(const char *p, size_t n, void *ud);
void lgw__gw_stream_free(req_stream_t *st);
int lgw__gw_stream_reset(req_t *q);
int lgw__gw_stream_end(req_t *q, char *msg, size_t cap, int *cls_status);

#endif
