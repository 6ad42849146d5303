/*
 * gateway_stream.c -- streamed attempts: the event stream fed to the SSE
 * parser and the transport, text deltas queued for the caller, the
 * first-token and idle timeouts, and the end of a stream (its terminal
 * event must have come). After the first delta a request makes no other
 * attempt.
 */
#include "llmgateway.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "engine.h"
#include "events.h"
#include "gateway_priv.h"
#include "sse.h"
#include "transport.h"
#include "util.h"

const char *lgw__gw_attempt_url(const req_t *q) {
  const char *u;
  if (q->embed && q->em->embed_url) return q->em->embed_url;
  u = q->gw->eps[q->order[q->pos] * NSTYLES + (size_t)q->route->style].url;
  return u ? u : prov_url(q);
}

void lgw__gw_stream_timers_stop(req_t *q) {
  lgw__engine_t *e = q->gw->eng;
  if (q->ttft_timer) e->ops->timer_stop(e, q->ttft_timer);
  if (q->idle_timer) e->ops->timer_stop(e, q->idle_timer);
}

/* Why the engine cuts a transfer; its completion then reports this. */
static void abort_set(req_t *q, int code, int status, const char *fmt, ...)
    LGW__PRINTF(4, 5);
static void abort_set(req_t *q, int code, int status, const char *fmt, ...) {
  va_list ap;
  q->st->abort_code = code;
  q->st->abort_status = status;
  va_start(ap, fmt);
  vsnprintf(q->st->abort_msg, sizeof q->st->abort_msg, fmt, ap);
  va_end(ap);
}

static void on_ttft_timeout(void *ud) {
  req_t *q = ud;
  if (!q->http) return;
  abort_set(q, LGW_ETIMEOUT, 0, "No first token from %s within "
            "first_token_timeout (%.1fs).", lgw__gw_attempt_url(q),
            q->gw->rt->first_token_timeout);
  q->gw->eng->ops->cancel(q->gw->eng, q->http);  /* on_http reports it */
}

static void on_idle_timeout(void *ud) {
  req_t *q = ud;
  if (!q->http) return;
  abort_set(q, LGW_ETIMEOUT, 0, "Stream from %s was idle for more than "
            "idle_timeout (%.1fs).", lgw__gw_attempt_url(q),
            q->gw->rt->idle_timeout);
  q->gw->eng->ops->cancel(q->gw->eng, q->http);
}

/* A streamed attempt was sent: its first token is awaited for at most
 * first_token_timeout. */
void lgw__gw_stream_begin(req_t *q) {
  const lgw_runtime_t *rt = q->gw->rt;
  if (rt->first_token_timeout > 0 &&
      lgw__gw_timer_start(q, &q->ttft_timer, on_ttft_timeout,
                          rt->first_token_timeout))
    lgw__log(LGW_LOG_WARN, "out of memory: no first-token timeout for "
             "request %llu", (unsigned long long)q->id);
}

/* Queue a piece of text for the caller's delta callback. From then on the
 * request is committed to this attempt. */
int lgw__gw_emit_delta(req_t *q, const char *text, size_t len) {
  lgw_gateway_t *gw = q->gw;
  if (q->ttft < 0) {
    q->ttft = eng_now(gw) - q->attempt_s;
    if (q->ttft_timer) gw->eng->ops->timer_stop(gw->eng, q->ttft_timer);
  }
  if (lgw__notes_delta(&gw->notes, q->on_delta, q->delta_ud, gw, q->id, text,
                       len))
    return LGW_ENOMEM;
  q->emitted = 1;
  lgw__gw_wake(gw);
  return 0;
}

static int on_sse_event(const char *name, const char *data, size_t len,
                        void *ud) {
  req_t *q = ud;
  const lgw__transport_t *tr = lgw__transport_for(q->route->style);
  lgw_error_t e;
  int rc;
  memset(&e, 0, sizeof e);
  q->st->stream.delta.len = 0;
  q->st->stream.event = name;
  rc = tr->stream_event(&q->st->stream, data, len, &e);
  /* An event cut by the end of the body is not malformed: the stream
   * just ended early (reported as such by lgw__gw_stream_end). */
  if (rc == LGW_ERESPONSE && q->st->at_end) return 0;
  if (rc) {
    abort_set(q, rc, e.http_status, "HTTP 200 from %s: stream error: %s",
              lgw__gw_attempt_url(q),
              e.message[0] ? e.message : lgw_strerror(rc));
    return rc;
  }
  if ((q->st->stream.delta.len &&
       lgw__gw_emit_delta(q, q->st->stream.delta.data,
                          q->st->stream.delta.len)) ||
      lgw__gw_emit_tool_deltas(q, &q->st->stream.calls)) {
    abort_set(q, LGW_ENOMEM, 0, "Cannot read the stream from %s: out of "
              "memory.", lgw__gw_attempt_url(q));
    return LGW_ENOMEM;
  }
  return 0;
}

/* A streamed attempt's body is handed on as it comes when it is a 2xx
 * event stream; any other is collected (an error body, a JSON answer). */
int lgw__gw_on_stream_head(long status, const char *content_type,
                           void *ud) {
  (void)ud;
  return status >= 200 && status < 300 &&
         lgw__is_event_stream(content_type);
}

/* A piece of the event stream (from the loop, after curl returned). */
int lgw__gw_on_stream_data(const char *p, size_t n, void *ud) {
  req_t *q = ud;
  const lgw_runtime_t *rt = q->gw->rt;
  int rc;
  if (rt->idle_timeout > 0 &&
      lgw__gw_timer_start(q, &q->idle_timer, on_idle_timeout, rt->idle_timeout))
    lgw__log(LGW_LOG_WARN, "out of memory: no idle timeout for request %llu",
             (unsigned long long)q->id);
  rc = lgw__sse_feed(&q->st->sse, p, n, on_sse_event, q);
  if (rc && !q->st->abort_code)
    abort_set(q, LGW_ENOMEM, 0, "Cannot read the stream from %s: out of "
              "memory.", lgw__gw_attempt_url(q));
  return rc != 0;
}

void lgw__gw_stream_free(req_stream_t *st) {
  if (!st) return;
  lgw__sse_parser_free(&st->sse);
  lgw__stream_free(&st->stream);
  lgw_free(st);
}

/* Fresh stream state for a streamed attempt. */
int lgw__gw_stream_reset(req_t *q) {
  lgw__gw_stream_free(q->st);
  q->st = lgw__calloc(1, sizeof *q->st);
  if (!q->st) return LGW_ENOMEM;
  lgw__sse_parser_init(&q->st->sse);
  lgw__stream_init(&q->st->stream);
  return 0;
}

/* A complete event stream: its terminal event must have come. */
int lgw__gw_stream_end(req_t *q, char *msg, size_t cap, int *cls_status) {
  req_stream_t *st = q->st;
  int rc;
  st->at_end = 1;
  rc = lgw__sse_finish(&st->sse, on_sse_event, q);
  if (rc) {
    if (!st->abort_code)
      abort_set(q, rc, 0, "Cannot read the stream from %s: out of memory.",
                lgw__gw_attempt_url(q));
    if (st->abort_status) *cls_status = st->abort_status;
    lgw__gw_msgf(msg, cap, "%s", st->abort_msg);
    return st->abort_code;
  }
  if (!st->stream.done) {
    lgw__gw_msgf(msg, cap, "HTTP 200 from %s: the stream ended without its "
         "terminal event.", lgw__gw_attempt_url(q));
    return LGW_ERESPONSE;
  }
  if (lgw__stream_take(&st->stream, &q->reply)) {
    lgw__gw_msgf(msg, cap, "Cannot read the stream from %s: out of memory.",
         lgw__gw_attempt_url(q));
    return LGW_ENOMEM;
  }
  return 0;
}
