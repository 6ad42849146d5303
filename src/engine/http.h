/*
 * http.h -- the HTTP engine: one libcurl multi handle driven by one libuv
 * loop through curl's socket and timer callbacks (the multi-uv.c shape).
 * Connection reuse, HTTP/2 multiplexing where offered, a response size
 * cap, per-transfer timeouts. Completions are delivered from the loop after
 * curl_multi_socket_action returns, never from inside a curl callback.
 * The only file that includes curl.h (and, with gateway.c, uv.h).
 */
#ifndef LGW_HTTP_H
#define LGW_HTTP_H

#include <stddef.h>

#include <uv.h>

#include "llmgateway.h"
#include "util.h"

struct curl_slist;
typedef struct lgw__http lgw__http_t;
typedef struct lgw__http_req lgw__http_req_t;

typedef struct lgw__http_resp {
  int code;             /* 0 (got a complete response), LGW_ECONNECT,
                           LGW_ETIMEOUT, LGW_ETOOBIG (body over the cap,
                           or headers over LGW__HTTP_MAX_HEADERS),
                           LGW_ERESOURCE (no file descriptor left for a
                           socket), LGW_ECONFIG (the CA file is not a
                           CA bundle), LGW_EHTTP (transfer error after
                           connect: reset, truncated), or LGW_ECANCELED */
  const char *error;    /* curl's message when code != 0 */
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
} lgw__http_resp_t;

/* The most response header bytes taken (curl's own limit for one header
 * line is lower). */
#define LGW__HTTP_MAX_HEADERS (300L * 1024)

/* Called exactly once per submitted request (also on cancel). The request
 * handle is invalid after the callback returns. */
typedef void (*lgw__http_cb)(const lgw__http_resp_t *resp, void *ud);

/* Engine on loop (not owned). */
int lgw__http_new(uv_loop_t *loop, lgw__http_t **out, lgw_error_t *err);
/* Cancels in-flight transfers (callbacks run with LGW_ECANCELED before
 * this returns), closes handles; memory is released by close callbacks,
 * so the loop must run afterwards. */
void lgw__http_free(lgw__http_t *h);

/* Streaming: a piece of a 2xx text/event-stream body, in order, run from
 * the loop after curl_multi_socket_action returns (never inside curl).
 * Return 0 to go on; nonzero cancels the transfer (the completion
 * callback then runs with LGW_ECANCELED, after this returns). It must not
 * cancel its own transfer itself. */
typedef int (*lgw__http_data_cb)(const char *p, size_t n, void *ud);

typedef struct lgw__http_opts {
  const char *url;
  const struct curl_slist *headers;  /* borrowed; must outlive the call */
  const char *body;                  /* copied */
  size_t body_len;
  long timeout_ms;           /* whole attempt */
  long connect_timeout_ms;
  long max_response_bytes;   /* 0 = unlimited; streamed bytes count */
  lgw__http_data_cb on_data; /* NULL: every body is collected */
  const char *ca_file;       /* CA bundle (borrowed, must outlive the
                                engine); NULL: curl's default */
  int direct;                /* 1: never through a proxy (loopback) */
} lgw__http_opts_t;

/* Start a POST. *out (optional) is the handle for cancel. */
int lgw__http_post(lgw__http_t *h, const lgw__http_opts_t *o,
                   lgw__http_cb cb, void *ud, lgw__http_req_t **out,
                   lgw_error_t *err);
/* As lgw__http_post, taking body (o->body_len bytes, lgw_malloc'd; NULL:
 * o->body is copied): freed when the transfer ends, also on failure. */
int lgw__http_post_owned(lgw__http_t *h, const lgw__http_opts_t *o,
                         char *body, lgw__http_cb cb, void *ud,
                         lgw__http_req_t **out, lgw_error_t *err);
/* Cancel: the callback runs (code LGW_ECANCELED) before this returns. */
void lgw__http_cancel(lgw__http_req_t *r);
/* Transfers in flight. */
size_t lgw__http_active(const lgw__http_t *h);
/* At most n connections per host (scheme, host and port) for every
 * transfer after this; 0 (the default): no cap. HTTPS transfers share a
 * connection when the server speaks HTTP/2, so the cap matters there
 * only when more transfers are in flight than a connection carries
 * streams; for HTTP/1.1 it bounds the transfers in flight per host. */
void lgw__http_set_max_host_connections(lgw__http_t *h, long n);

/* 1 when url's host is loopback: localhost (or a name under it),
 * 127.0.0.0/8, ::1 or ::ffff:127.x.y.z. Such a URL is never sent through
 * a proxy. */
int lgw__http_url_is_loopback(const char *url);

/* Header lists are built once per provider: a curl_slist from a kvlist.
 * Free with lgw__http_headers_free. */
struct curl_slist *lgw__http_headers(const lgw__kvlist_t *kv);
void lgw__http_headers_free(struct curl_slist *l);

#endif
