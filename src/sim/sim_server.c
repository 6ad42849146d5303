/*
 * sim_server.c -- the simulator's HTTP side on libmicrohttpd: routes model
 * requests, turns each into a planned answer (body, status, headers,
 * fault), delivers it after any delay without blocking other connections,
 * and keeps the counters served on /_sim/stats.
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/types.h>
#include <time.h>

#include <microhttpd.h>

#include "sim.h"

#define MAX_BODY ((size_t)64 * 1024 * 1024)

static const struct route {
  const char *path;
  sim_format_t fmt;
} routes[] = {
    {"/v1/responses", SIM_RESPONSES},
    {"/responses", SIM_RESPONSES},
    {"/v1/chat/completions", SIM_CHAT},
    {"/chat/completions", SIM_CHAT},
    {"/v1/messages", SIM_ANTHROPIC},
    {"/messages", SIM_ANTHROPIC},
    {"/v1/embeddings", SIM_EMBEDDINGS},
    {"/embeddings", SIM_EMBEDDINGS},
};
#define NROUTES (sizeof routes / sizeof *routes)

static struct MHD_Daemon *g_daemon;
static long g_latency_ms;
static int g_quiet;
static atomic_int g_stopping;

/* ---- counters ----------------------------------------------------------- */

static pthread_mutex_t g_stats_lock = PTHREAD_MUTEX_INITIALIZER;
static struct {
  long requests, in_flight, peak;
  long by_path[NROUTES];
  unsigned gen;         /* bumped by reset; older requests no longer count */
  cJSON *last_headers;  /* owned */
  cJSON *last_body;     /* owned */
} g_stats;

/* ---- per-connection state ----------------------------------------------- */

enum { ST_RECEIVING, ST_WAITING, ST_HUNG };

typedef struct req {
  int state;
  int route;            /* index into routes, -1 for other paths */
  int counted;          /* counted in in_flight under generation gen */
  unsigned gen;
  sim_buf_t body;
  int too_large;
  /* the planned answer */
  int status;
  sim_fault_t fault;
  const char *content_type;
  char *out;            /* owned until handed to a response */
  size_t out_len;
  size_t cut;           /* mid-stream faults: offset in out */
  sim_directive_t d;
} req_t;

static void req_free(req_t *r) {
  sim_buf_free(&r->body);
  free(r->out);
  sim_directive_free(&r->d);
  free(r);
}

/* Body source for streamed, slow and cut-off answers; owned by the
 * response and freed with it. */
typedef struct src {
  char *data;
  size_t len;
  sim_fault_t mode;  /* SLOW, RESET_BODY or one of the SSE ones */
  struct MHD_Connection *conn;
  long slow_ms;
  int tick;               /* SLOW: the next byte may go now */
  size_t cut;             /* SSE_CUT, SSE_STALL: where the stream stops */
} src_t;

static void src_free(void *cls) {
  src_t *s = cls;
  free(s->data);
  free(s);
}

static ssize_t src_read(void *cls, uint64_t pos, char *buf, size_t max) {
  src_t *s = cls;
  size_t n = 0, at = (size_t)pos;
  if (atomic_load(&g_stopping)) return MHD_CONTENT_READER_END_WITH_ERROR;
  if (at >= s->len) return MHD_CONTENT_READER_END_OF_STREAM;
  switch (s->mode) {
  case SIM_FAULT_RESET_BODY: {
    size_t cut = s->len / 2;
    if (at >= cut) return MHD_CONTENT_READER_END_WITH_ERROR;
    n = cut - at;
    break;
  }
  case SIM_FAULT_SLOW:
    if (!s->tick) {
      s->tick = 1;
      if (sim_timer_suspend(s->conn, (double)s->slow_ms) != 0)
        return MHD_CONTENT_READER_END_WITH_ERROR;
      return 0;
    }
    s->tick = 0;
    n = 1;
    break;
  default: { /* one event per chunk */
    const char *end = strstr(s->data + at, "\n\n");
    if ((s->mode == SIM_FAULT_SSE_CUT ||
         s->mode == SIM_FAULT_SSE_STALL) && at >= s->cut) {
      if (s->mode == SIM_FAULT_SSE_CUT || s->tick)
        return MHD_CONTENT_READER_END_WITH_ERROR;
      s->tick = 1;  /* stalled until shutdown */
      return sim_timer_suspend(s->conn, -1) == 0
                 ? 0 : MHD_CONTENT_READER_END_WITH_ERROR;
    }
    n = end ? (size_t)(end + 2 - (s->data + at)) : s->len - at;
    break;
  }
  }
  if (n > max) n = max;
  memcpy(buf, s->data + at, n);
  return (ssize_t)n;
}

/* ---- planning an answer ------------------------------------------------- */

static void plan_set(req_t *r, int status, const char *type, char *out,
                     size_t len) {
  free(r->out);
  r->status = status;
  r->content_type = type;
  r->out = out;
  r->out_len = len;
}

static void plan_error(req_t *r, sim_format_t fmt, int status,
                       const char *message) {
  size_t len = 0;
  char *body = sim_error_json(fmt, status, message, &len);
  plan_set(r, body ? status : 500, "application/json", body, len);
}

/* The normal answer padded with 'x' text to exactly d.size bytes. */
static char *oversize_body(sim_format_t fmt, const char *model, long in,
                           long target, size_t *len) {
  size_t base_len, pad;
  char *base = sim_answer_json(fmt, model, "x", in, 1, &base_len);
  char *text, *out;
  if (!base) return NULL;
  free(base);
  pad = (size_t)target > base_len ? (size_t)target - base_len + 1 : 1;
  if (!(text = malloc(pad + 1))) return NULL;
  memset(text, 'x', pad);
  text[pad] = '\0';
  out = sim_answer_json(fmt, model, text, in, 1, len);
  free(text);
  return out;
}

static char *deep_body(long depth, size_t *len) {
  char *s = malloc((size_t)depth * 2 + 1);
  if (!s) return NULL;
  memset(s, '[', (size_t)depth);
  memset(s + depth, ']', (size_t)depth);
  s[depth * 2] = '\0';
  *len = (size_t)depth * 2;
  return s;
}

static const char html_page[] =
    "<!DOCTYPE html>\n<html><head><title>Service Unavailable</title></head>"
    "<body><h1>Service Unavailable</h1><p>llmgateway-sim</p></body></html>\n";
static const char anthropic_error_body[] =
    "{\"type\":\"error\",\"error\":{\"type\":\"overloaded_error\","
    "\"message\":\"Overloaded\"}}";

/* Bodies that replace the answer whatever the status; NULL for others. */
static char *fixed_body(const sim_directive_t *d, size_t *len) {
  switch (d->fault) {
  case SIM_FAULT_INVALID_JSON:
    *len = 9;
    return sim_strdup("{not json");
  case SIM_FAULT_HTML:
    *len = sizeof html_page - 1;
    return sim_strdup(html_page);
  case SIM_FAULT_BAD_SHAPE:
    *len = 19;
    return sim_strdup("{\"unexpected\":true}");
  case SIM_FAULT_ANTHROPIC_ERROR:
    *len = sizeof anthropic_error_body - 1;
    return sim_strdup(anthropic_error_body);
  case SIM_FAULT_DEEP:
    return deep_body(d->depth, len);
  default:
    return NULL;
  }
}

/* The answer text (caller frees): the reply or the echo, empty for
 * fault=empty, with invalid UTF-8 appended for fault=bad_utf8. */
static char *answer_text(const sim_directive_t *d, const sim_request_t *q) {
  const char *att = q->attachments.data ? q->attachments.data : "";
  if (d->fault == SIM_FAULT_EMPTY) return sim_strdup("");
  if (d->fault == SIM_FAULT_BAD_UTF8)
    return d->reply ? sim_sprintf("%s \xff\xfe", d->reply)
                    : sim_sprintf("echo(%s): %s%s \xff\xfe", q->model,
                                  q->last_user, att);
  if (d->reply) return sim_strdup(d->reply);
  if (q->has_results) return sim_strdup(q->results.data);
  return sim_sprintf("echo(%s): %s%s", q->model, q->last_user, att);
}

/* The stream cut at `cut`, then the format's error event for status;
 * takes sse (freed), NULL when out of memory. */
static char *error_after(sim_format_t fmt, char *sse, size_t *len,
                         size_t cut, int status) {
  sim_buf_t b;
  char *msg = sim_sprintf("simulated %d %s", status,
                           status == 529 ? "Overloaded"
                               : MHD_get_reason_phrase_for((unsigned)status));
  sim_buf_init(&b);
  if (!msg || sim_buf_add(&b, sse, cut) ||
      sim_error_event(&b, fmt, status, msg)) {
    sim_buf_free(&b);
    b.data = NULL;
  }
  free(msg);
  free(sse);
  *len = b.len;
  return b.data;
}

static const char sim_refusal_text[] = "I'm sorry, but I can't help with that.";

/* Words across the calls' arguments (their output tokens). */
static long call_words(const sim_call_t *calls, size_t n) {
  long words = 0;
  size_t i;
  for (i = 0; i < n; i++)
    words += sim_words(calls[i].args, strlen(calls[i].args));
  return words;
}

/* The answer to a model request without an error status: tool calls,
 * a schema instance, or text (see PROTOCOL.md, Answers). */
static char *plan_content(req_t *r, sim_format_t fmt, const sim_request_t *q,
                          const char **type, size_t *len) {
  const sim_directive_t *d = &r->d;
  sim_answer_t a;
  sim_call_t *calls = NULL;
  size_t ncalls = 0;
  char *text = NULL, *out = NULL, err[256] = "";
  int stream, nomem = 0, rc;

  if (fmt == SIM_EMBEDDINGS) return sim_embeddings_json(q, len);
  if (d->fault == SIM_FAULT_OVERSIZE)
    return oversize_body(fmt, q->model, q->input_tokens, d->size, len);
  memset(&a, 0, sizeof a);
  a.model = q->model;
  a.in_tokens = q->input_tokens;
  if (d->fault == SIM_FAULT_REFUSAL) {
    a.text = d->reply ? d->reply : sim_refusal_text;
    a.refusal = 1;
  } else if (d->fault != SIM_FAULT_EMPTY && d->fault != SIM_FAULT_BAD_UTF8) {
    rc = sim_plan_calls(fmt, q, d, &calls, &ncalls, err, sizeof err);
    if (rc == SIM_EINVAL) {
      size_t n = 0;
      char *e = sim_error_json(fmt, 400, err, &n);
      if (e) {
        plan_set(r, 400, "application/json", e, n);
        r->fault = SIM_FAULT_NONE;
      }
      return NULL;
    }
    if (rc) return NULL;
    if (!ncalls && !d->reply && d->schema_json) {
      text = sim_schema_answer(fmt, q->body, &nomem);
      if (nomem) return NULL;
    }
  }
  if (!a.text && !ncalls && !text && !(text = answer_text(d, q))) return NULL;
  if (text) a.text = text;
  a.calls = calls;
  a.ncalls = ncalls;
  a.id_base = q->results_seen;
  a.out_tokens = ncalls ? call_words(calls, ncalls)
                        : sim_words(a.text, strlen(a.text));
  stream = SIM_FAULT_IS_SSE(d->fault) ||
           (q->stream && d->fault != SIM_FAULT_JSON);
  if (d->fault == SIM_FAULT_REFUSAL) stream = q->stream;
  if (stream) {
    out = sim_render(fmt, &a, 1, d->after, &r->cut, len);
    *type = "text/event-stream";
    if (out && d->fault == SIM_FAULT_SSE_ERROR)
      out = error_after(fmt, out, len, r->cut, d->error_status);
    if (r->fault == SIM_FAULT_NONE) r->fault = SIM_FAULT_SSE;
  } else {
    out = sim_render(fmt, &a, 0, 0, NULL, len);
  }
  sim_calls_free(calls, ncalls);
  free(text);
  return out;
}

/* Chooses body, status and content type for a model request. */
static void plan_answer(req_t *r, sim_format_t fmt, const sim_request_t *q) {
  const sim_directive_t *d = &r->d;
  int status = d->status ? d->status : 200;
  const char *type = d->fault == SIM_FAULT_HTML
                         ? "text/html; charset=utf-8"
                         : "application/json";
  size_t len = 0;
  char *out = fixed_body(d, &len);

  r->fault = d->fault;
  /* streams and refusals belong to the model endpoints */
  if (fmt == SIM_EMBEDDINGS &&
      (SIM_FAULT_IS_SSE(d->fault) || d->fault == SIM_FAULT_REFUSAL ||
       d->fault == SIM_FAULT_JSON))
    r->fault = SIM_FAULT_NONE;
  if (!out && status >= 400) {
    /* 529 is Anthropic's own "overloaded" status, unknown to MHD. */
    char *msg = sim_sprintf(
        "simulated %d %s", status,
        status == 529 ? "Overloaded"
                      : MHD_get_reason_phrase_for((unsigned)status));
    if (msg) out = sim_error_json(fmt, status, msg, &len);
    free(msg);
  } else if (!out) {
    out = plan_content(r, fmt, q, &type, &len);
    if (!out && r->out) return;  /* planned a 400 already */
  }
  if (!out) {
    plan_error(r, fmt, 500, "llmgateway-sim: out of memory");
    return;
  }
  if (d->fault == SIM_FAULT_TRUNCATED) {
    len /= 2;
    out[len] = '\0';
  }
  plan_set(r, status, type, out, len);
}

/* Resolves r's directive from the x-sim header, the request's own
 * directive lines or else the script, and applies its times limit.
 * Returns 0, SIM_EINVAL (message in err) or SIM_ENOMEM. */
static int resolve_directive(req_t *r, struct MHD_Connection *conn,
                             sim_request_t *q, char *err,
                             size_t errcap) {
  const char *header = MHD_lookup_connection_value(conn, MHD_HEADER_KIND,
                                                   "x-sim");
  char *line = q->directives.data, *nl;
  int rc = 0;
  if (header) rc = sim_directive_add(&r->d, header, err, errcap);
  /* Every directive line ends in '\n' (see sim_request_read). */
  for (; rc == 0 && line && *line; line = nl + 1) {
    nl = strchr(line, '\n');
    *nl = '\0';
    rc = sim_directive_add(&r->d, line, err, errcap);
  }
  if (rc == 0 && !r->d.present) {
    const char *scripted = sim_script_next(q->last_user);
    if (scripted) rc = sim_directive_add(&r->d, scripted, err, errcap);
  }
  if (rc || (r->d.present && !sim_directive_take(&r->d)))
    sim_directive_free(&r->d);
  return rc;
}

/* Reads the request and plans its answer; then hands the parsed body (or
 * the raw text when it is not JSON) to the stats. */
static void plan_model_request(req_t *r, struct MHD_Connection *conn) {
  sim_format_t fmt = routes[r->route].fmt;
  cJSON *root = NULL;
  sim_request_t q;
  char err[256] = "";
  int rc;

  memset(&q, 0, sizeof q);
  if (r->too_large) {
    plan_error(r, fmt, 413, "request body larger than 64 MiB");
  } else {
    root = cJSON_ParseWithLength(r->body.data ? r->body.data : "",
                                 r->body.len);
    if (!cJSON_IsObject(root)) {
      plan_error(r, fmt, 400, "request body is not a JSON object");
    } else if (sim_request_read(fmt, root, &q) != 0) {
      plan_error(r, fmt, 500, "llmgateway-sim: out of memory");
    } else if (q.invalid) {
      plan_error(r, fmt, 400, q.invalid);
    } else if ((rc = resolve_directive(r, conn, &q, err, sizeof err)) != 0) {
      plan_error(r, fmt, rc == SIM_EINVAL ? 400 : 500,
                 rc == SIM_EINVAL ? err : "llmgateway-sim: out of memory");
    } else {
      plan_answer(r, fmt, &q);
    }
    sim_request_free(&q);
    if (!root) root = cJSON_CreateString(r->body.data ? r->body.data : "");
  }
  pthread_mutex_lock(&g_stats_lock);
  cJSON_Delete(g_stats.last_body);
  g_stats.last_body = root;
  pthread_mutex_unlock(&g_stats_lock);
}

/* ---- stats -------------------------------------------------------------- */

static enum MHD_Result add_header(void *cls, enum MHD_ValueKind kind,
                                  const char *key, const char *value) {
  cJSON *o = cls;
  char *name = sim_lower(sim_strdup(key));
  (void)kind;
  if (name) {
    cJSON_DeleteItemFromObjectCaseSensitive(o, name);
    cJSON_AddStringToObject(o, name, value ? value : "");
    free(name);
  }
  return MHD_YES;
}

/* Counts a fully received model request as in flight. */
static void count_request(req_t *r, struct MHD_Connection *conn) {
  cJSON *headers = cJSON_CreateObject();
  if (headers)
    MHD_get_connection_values(conn, MHD_HEADER_KIND, add_header, headers);
  pthread_mutex_lock(&g_stats_lock);
  g_stats.requests++;
  g_stats.by_path[r->route]++;
  if (++g_stats.in_flight > g_stats.peak) g_stats.peak = g_stats.in_flight;
  r->counted = 1;
  r->gen = g_stats.gen;
  cJSON_Delete(g_stats.last_headers);
  g_stats.last_headers = headers;
  pthread_mutex_unlock(&g_stats_lock);
}

static void stats_reset(void) {
  pthread_mutex_lock(&g_stats_lock);
  g_stats.requests = g_stats.in_flight = g_stats.peak = 0;
  memset(g_stats.by_path, 0, sizeof g_stats.by_path);
  g_stats.gen++;
  pthread_mutex_unlock(&g_stats_lock);
  sim_fault_reset();
}

static char *stats_json(size_t *len) {
  cJSON *j = cJSON_CreateObject(), *paths;
  size_t i;
  pthread_mutex_lock(&g_stats_lock);
  cJSON_AddNumberToObject(j, "requests", (double)g_stats.requests);
  cJSON_AddNumberToObject(j, "in_flight", (double)g_stats.in_flight);
  cJSON_AddNumberToObject(j, "peak_concurrent", (double)g_stats.peak);
  paths = cJSON_AddObjectToObject(j, "by_path");
  for (i = 0; i < NROUTES; i++)
    if (g_stats.by_path[i])
      cJSON_AddNumberToObject(paths, routes[i].path,
                              (double)g_stats.by_path[i]);
  cJSON_AddItemToObject(j, "last_headers",
                        g_stats.last_headers
                            ? cJSON_Duplicate(g_stats.last_headers, 1)
                            : cJSON_CreateObject());
  cJSON_AddItemToObject(j, "last_body",
                        g_stats.last_body
                            ? cJSON_Duplicate(g_stats.last_body, 1)
                            : cJSON_CreateNull());
  pthread_mutex_unlock(&g_stats_lock);
  return sim_json_print(j, len);
}

/* ---- delivering --------------------------------------------------------- */

static void add_retry_headers(struct MHD_Response *resp,
                              const sim_directive_t *d) {
  if (d->retry_after) MHD_add_response_header(resp, "retry-after",
                                              d->retry_after);
  if (d->retry_after_ms)
    MHD_add_response_header(resp, "retry-after-ms", d->retry_after_ms);
  if (d->has_retry_after_date) {
    char date[64];
    struct tm tm;
    time_t t = time(NULL) + d->retry_after_date;
    gmtime_r(&t, &tm);
    strftime(date, sizeof date, "%a, %d %b %Y %H:%M:%S GMT", &tm);
    MHD_add_response_header(resp, "retry-after", date);
  }
  if (d->should_retry >= 0)
    MHD_add_response_header(resp, "x-should-retry",
                            d->should_retry ? "true" : "false");
}

/* Queues r's planned answer; r->out moves into the response. */
static enum MHD_Result send_answer(req_t *r, struct MHD_Connection *conn) {
  struct MHD_Response *resp;
  enum MHD_Result ok;
  sim_fault_t f = r->fault;
  int sse = SIM_FAULT_IS_SSE(f);
  if (f == SIM_FAULT_SLOW || f == SIM_FAULT_RESET_BODY || sse) {
    src_t *s = calloc(1, sizeof *s);
    if (!s) return MHD_NO;
    s->data = r->out;
    s->len = r->out_len;
    s->mode = f;
    s->conn = conn;
    s->slow_ms = r->d.slow_ms;
    s->tick = f == SIM_FAULT_SLOW;
    s->cut = r->cut;
    r->out = NULL;
    resp = MHD_create_response_from_callback(
        sse ? MHD_SIZE_UNKNOWN : (uint64_t)s->len, 4096,
        src_read, s, src_free);
    if (!resp) {
      src_free(s);
      return MHD_NO;
    }
    if (sse) MHD_add_response_header(resp, "cache-control", "no-cache");
  } else {
    resp = MHD_create_response_from_buffer_with_free_callback(
        r->out_len, r->out, free);
    if (!resp) return MHD_NO;
    r->out = NULL;
  }
  if (r->content_type)
    MHD_add_response_header(resp, "content-type", r->content_type);
  add_retry_headers(resp, &r->d);
  ok = MHD_queue_response(conn, (unsigned)r->status, resp);
  MHD_destroy_response(resp);
  return ok;
}

/* Sends a small body right away (stats, reset, 404). */
static enum MHD_Result send_now(req_t *r, struct MHD_Connection *conn,
                                int status, char *body, size_t len) {
  if (!body) return MHD_NO;
  plan_set(r, status, "application/json", body, len);
  return send_answer(r, conn);
}

static void log_request(const char *method, const char *url, const req_t *r) {
  if (g_quiet) return;
  if (r->fault != SIM_FAULT_NONE)
    fprintf(stderr, "llmgateway-sim: %s %s -> %d fault=%s\n", method, url,
            r->status, sim_fault_name(r->fault));
  else
    fprintf(stderr, "llmgateway-sim: %s %s -> %d\n", method, url, r->status);
}

/* Runs once a model request is fully received. */
static enum MHD_Result handle_model(req_t *r, struct MHD_Connection *conn,
                                    const char *method, const char *url) {
  long delay;
  count_request(r, conn);
  plan_model_request(r, conn);
  delay = g_latency_ms + r->d.delay_ms;
  log_request(method, url, r);
  if (r->fault == SIM_FAULT_HANG) {
    r->state = ST_HUNG;
    return sim_timer_suspend(conn, -1) == 0 ? MHD_YES : MHD_NO;
  }
  if (delay > 0) {
    r->state = ST_WAITING;
    return sim_timer_suspend(conn, (double)delay) == 0 ? MHD_YES
                                                            : MHD_NO;
  }
  if (r->fault == SIM_FAULT_RESET) return MHD_NO;
  return send_answer(r, conn);
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *conn,
                                  const char *url, const char *method,
                                  const char *version,
                                  const char *upload_data,
                                  size_t *upload_data_size, void **con_cls) {
  req_t *r = *con_cls;
  size_t i, len = 0;
  (void)cls;
  (void)version;
  if (!r) {
    if (!(r = calloc(1, sizeof *r))) return MHD_NO;
    sim_buf_init(&r->body);
    sim_directive_init(&r->d);
    r->route = -1;
    for (i = 0; i < NROUTES; i++)
      if (strcmp(url, routes[i].path) == 0 && strcmp(method, "POST") == 0)
        r->route = (int)i;
    *con_cls = r;
    return MHD_YES;
  }
  if (*upload_data_size > 0) {
    if (r->body.len + *upload_data_size > MAX_BODY)
      r->too_large = 1;
    else if (sim_buf_add(&r->body, upload_data, *upload_data_size))
      return MHD_NO;
    *upload_data_size = 0;
    return MHD_YES;
  }
  /* Resumed after a suspension. */
  if (r->state != ST_RECEIVING) {
    if (r->state == ST_HUNG || atomic_load(&g_stopping)) return MHD_NO;
    if (r->fault == SIM_FAULT_RESET) return MHD_NO;
    return send_answer(r, conn);
  }
  if (r->route >= 0) return handle_model(r, conn, method, url);
  if (strcmp(url, "/_sim/stats") == 0 && strcmp(method, "GET") == 0) {
    char *body = stats_json(&len);
    return send_now(r, conn, 200, body, len);
  }
  if (strcmp(url, "/_sim/reset") == 0 && strcmp(method, "POST") == 0) {
    stats_reset();
    return send_now(r, conn, 200, sim_strdup("{\"ok\":true}"), 11);
  }
  {
    char *msg = sim_sprintf("llmgateway-sim: no endpoint %s %s", method, url);
    char *body = msg ? sim_error_json(SIM_RESPONSES, 404, msg, &len)
                     : NULL;
    free(msg);
    return send_now(r, conn, 404, body, len);
  }
}

static void on_completed(void *cls, struct MHD_Connection *conn,
                         void **con_cls, enum MHD_RequestTerminationCode code) {
  req_t *r = *con_cls;
  (void)cls;
  (void)conn;
  (void)code;
  if (!r) return;
  if (r->counted) {
    pthread_mutex_lock(&g_stats_lock);
    if (r->gen == g_stats.gen) g_stats.in_flight--;
    pthread_mutex_unlock(&g_stats_lock);
  }
  req_free(r);
  *con_cls = NULL;
}

/* ---- start and stop ----------------------------------------------------- */

int sim_server_start(int port, long latency_ms, int quiet, char *err,
                          size_t errcap) {
  struct sockaddr_in addr;
  struct rlimit rl;
  const union MHD_DaemonInfo *info;
  unsigned limit = 60000;

  g_latency_ms = latency_ms;
  g_quiet = quiet;
  if (getrlimit(RLIMIT_NOFILE, &rl) == 0) {
    rl.rlim_cur = rl.rlim_max;
    setrlimit(RLIMIT_NOFILE, &rl);
    if (rl.rlim_cur != RLIM_INFINITY && rl.rlim_cur < 60000 + 64)
      limit = rl.rlim_cur > 128 ? (unsigned)rl.rlim_cur - 64 : 64;
  }
  memset(&addr, 0, sizeof addr);
  addr.sin_family = AF_INET;
  addr.sin_port = htons((uint16_t)port);
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  g_daemon = MHD_start_daemon(
      MHD_USE_EPOLL_INTERNAL_THREAD | MHD_ALLOW_SUSPEND_RESUME, 0, NULL,
      NULL, on_request, NULL, MHD_OPTION_SOCK_ADDR, (struct sockaddr *)&addr,
      MHD_OPTION_CONNECTION_LIMIT, limit, MHD_OPTION_LISTEN_BACKLOG_SIZE,
      16384u, MHD_OPTION_CONNECTION_TIMEOUT, 0u,
      MHD_OPTION_NOTIFY_COMPLETED, on_completed, NULL, MHD_OPTION_END);
  if (!g_daemon) {
    snprintf(err, errcap, "cannot listen on 127.0.0.1:%d", port);
    return SIM_EIO;
  }
  info = MHD_get_daemon_info(g_daemon, MHD_DAEMON_INFO_BIND_PORT);
  return info ? (int)info->port : port;
}

void sim_server_stop(void) {
  atomic_store(&g_stopping, 1);
  sim_timer_stop();
  if (g_daemon) MHD_stop_daemon(g_daemon);
  g_daemon = NULL;
  cJSON_Delete(g_stats.last_headers);
  cJSON_Delete(g_stats.last_body);
  g_stats.last_headers = g_stats.last_body = NULL;
}
