/*
 * engine.h -- what the gateway asks of its event engine: HTTP transfers
 * (submit, cancel), timers, calls deferred to the next loop turn, work on
 * the thread pool, and the clock. No libcurl or libuv type shows here.
 * lgw__engine_new gives the real engine (libcurl's multi interface on a
 * libuv loop: engine.c, http.c); a test may bring its own operations
 * (lgw__engine_ops_t) and drive the gateway without sockets or a clock.
 *
 * Every callback runs from the loop, never inside libcurl, and never
 * inside the engine call that started what it reports (except cancel,
 * whose completion runs before lgw__xfer_cancel returns).
 */
#ifndef LGW_ENGINE_H
#define LGW_ENGINE_H

#include <stddef.h>

#include "llmgateway.h"
#include "util.h"

struct uv_loop_s;
typedef struct lgw__engine lgw__engine_t;
typedef struct lgw__xfer lgw__xfer_t;        /* one transfer */
typedef struct lgw__timer lgw__timer_t;
typedef struct lgw__defer lgw__defer_t;
typedef struct lgw__headers lgw__headers_t;  /* a prepared header list */

/* ---- transfers ----------------------------------------------------------- */

typedef struct lgw__xfer_resp {
  int code;             /* 0 (got a complete response), LGW_ECONNECT,
                           LGW_ETIMEOUT, LGW_ETOOBIG (body over the cap,
                           or headers over LGW__XFER_MAX_HEADERS),
                           LGW_ERESOURCE (no file descriptor left for a
                           socket), LGW_ENOMEM (no memory for the
                           response), LGW_ECONFIG (the CA file is not a
                           CA bundle), LGW_EHTTP (transfer error after
                           connect: reset, truncated), or LGW_ECANCELED */
  const char *error;    /* the engine's message when code != 0 */
  long status;          /* HTTP status, 0 if none */
  const char *body;     /* borrowed for the callback; NUL-terminated */
  size_t body_len;
  const char *content_type;    /* NULL when absent */
  const char *retry_after;     /* header values, NULL when absent */
  const char *retry_after_ms;
  const char *x_should_retry;
  double elapsed;       /* seconds */
  int streamed;         /* 1: the body went to on_data, body is "" */
  int connect_timeout;  /* 1: code LGW_ETIMEOUT came from connect_timeout
                           (no connection before it, shorter than the
                           whole timeout) */
  int header_too_big;   /* 1: code LGW_ETOOBIG came from the headers */
} lgw__xfer_resp_t;

/* The most response header bytes taken. */
#define LGW__XFER_MAX_HEADERS (300L * 1024)

/* Called exactly once per submitted transfer (also on cancel). The
 * transfer handle is invalid after the callback returns. */
typedef void (*lgw__xfer_cb)(const lgw__xfer_resp_t *resp, void *ud);

/* Called once, when the status and headers of the response are known (at
 * its first body byte): 1 hands its body to on_data as it comes, 0
 * collects it. */
typedef int (*lgw__xfer_head_cb)(long status, const char *content_type,
                                 void *ud);

/* A piece of a body being handed on, in order. Return 0 to go on; nonzero
 * cancels the transfer (the completion callback then runs with
 * LGW_ECANCELED, after this returns). It must not cancel its own transfer
 * itself. */
typedef int (*lgw__xfer_data_cb)(const char *p, size_t n, void *ud);

/* A POST. */
typedef struct lgw__xfer_opts {
  const char *url;
  const lgw__headers_t *headers;  /* borrowed; must outlive the transfer */
  const char *body;               /* copied (unless taken: submit) */
  size_t body_len;
  long timeout_ms;                /* whole attempt */
  long connect_timeout_ms;
  long max_response_bytes;        /* 0 = unlimited; handed-on bytes count */
  lgw__xfer_head_cb on_head;      /* both set: bodies may be handed on; */
  lgw__xfer_data_cb on_data;      /* either NULL: every body collected */
  const char *ca_file;            /* CA bundle (borrowed, must outlive the
                                     engine); NULL: the default store */
  int direct;                     /* 1: never through a proxy */
  int url_kept;                   /* 1: url outlives the engine (as
                                     ca_file): borrowed, not copied */
} lgw__xfer_opts_t;

/* ---- the engine ---------------------------------------------------------- */

typedef void (*lgw__engine_fn)(void *ud);

typedef struct lgw__engine_ops {
  /* Start a transfer, taking body (o->body_len bytes, lgw_malloc'd;
   * NULL: o->body is copied), freed when the transfer ends, also on
   * failure. *out (optional) is the handle for cancel. */
  int (*submit)(lgw__engine_t *e, const lgw__xfer_opts_t *o, char *body,
                lgw__xfer_cb cb, void *ud, lgw__xfer_t **out,
                lgw_error_t *err);
  /* The callback runs (code LGW_ECANCELED) before this returns. */
  void (*cancel)(lgw__engine_t *e, lgw__xfer_t *x);
  /* A stopped timer running fn(ud) when it fires; NULL when memory is
   * short. */
  lgw__timer_t *(*timer_new)(lgw__engine_t *e, lgw__engine_fn fn, void *ud);
  /* Fire once after seconds (restarts a started timer). */
  void (*timer_start)(lgw__engine_t *e, lgw__timer_t *t, double seconds);
  void (*timer_stop)(lgw__engine_t *e, lgw__timer_t *t);
  /* fn never runs afterwards. NULL ok. */
  void (*timer_free)(lgw__engine_t *e, lgw__timer_t *t);
  /* A deferred call of fn(ud): lgw__defer_arm makes it run once on the
   * next loop turn (arming an armed one changes nothing). */
  lgw__defer_t *(*defer_new)(lgw__engine_t *e, lgw__engine_fn fn, void *ud);
  void (*defer_arm)(lgw__engine_t *e, lgw__defer_t *d);
  void (*defer_free)(lgw__engine_t *e, lgw__defer_t *d);
  /* work(ud) on a thread of the pool, then done(ud) on the loop. What
   * work logs is logged from the loop, before done. Work queued runs to
   * its end even when the engine is freed first (done still runs, and
   * may queue more). */
  int (*work)(lgw__engine_t *e, lgw__engine_fn work, lgw__engine_fn done,
              void *ud);
  /* Block until every work function queued has returned (their done
   * callbacks still run from the loop, later). */
  void (*work_wait)(lgw__engine_t *e);
  /* Monotonic seconds. */
  double (*now)(lgw__engine_t *e);
  /* One loop turn, waiting for something to happen. */
  void (*run_once)(lgw__engine_t *e);
  /* The libuv loop, for the parts that use it themselves (Redis); NULL
   * when there is none. */
  struct uv_loop_s *(*loop)(lgw__engine_t *e);
  /* Cancel every transfer (callbacks run before this returns), stop
   * timers and deferred calls. An engine on its own loop runs that loop
   * until everything is closed, then closes it; on a caller's loop,
   * memory is released by close callbacks (the loop must run). */
  void (*free)(lgw__engine_t *e);
} lgw__engine_ops_t;

/* Every engine starts with its operations. */
struct lgw__engine {
  const lgw__engine_ops_t *ops;
};

/* The libcurl + libuv engine on loop (not owned), or on a loop of its own
 * (loop NULL). At most max_host connections per host (0: no cap). */
int lgw__engine_new(struct uv_loop_s *loop, long max_host,
                    lgw__engine_t **out, lgw_error_t *err);

/* Header lists are prepared once per endpoint. NULL when memory is short.
 * An empty value is sent as an empty header. */
lgw__headers_t *lgw__headers_new(const lgw__kvlist_t *kv);
void lgw__headers_free(lgw__headers_t *h);

/* 1 when url's host is loopback: localhost (or a name under it),
 * 127.0.0.0/8, ::1 or ::ffff:127.x.y.z. Such a URL is never sent through
 * a proxy. */
int lgw__url_is_loopback(const char *url);

#endif
