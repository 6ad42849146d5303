/*
 * http.h -- the HTTP part of the engine: one libcurl multi handle driven
 * by one libuv loop through curl's socket and timer callbacks (the
 * multi-uv.c shape). Connection reuse, HTTP/2 multiplexing where offered,
 * a response size cap, per-transfer timeouts. Completions are delivered
 * from the loop after curl_multi_socket_action returns, never from inside
 * a curl callback. Used by engine.c (and the engine's own tests); the
 * rest of the library sees only engine.h.
 */
#ifndef LGW_HTTP_H
#define LGW_HTTP_H

#include <stddef.h>

#include <uv.h>

#include "engine.h"

typedef struct lgw__http lgw__http_t;

/* Engine on loop (not owned). */
int lgw__http_new(uv_loop_t *loop, lgw__http_t **out, lgw_error_t *err);
/* Cancels in-flight transfers (callbacks run with LGW_ECANCELED before
 * this returns), closes handles; memory is released by close callbacks,
 * so the loop must run afterwards. */
void lgw__http_free(lgw__http_t *h);

/* Start a POST, o->body copied. *out (optional) is the handle for
 * cancel. */
int lgw__http_post(lgw__http_t *h, const lgw__xfer_opts_t *o,
                   lgw__xfer_cb cb, void *ud, lgw__xfer_t **out,
                   lgw_error_t *err);
/* As lgw__http_post, taking body (o->body_len bytes, lgw_malloc'd; NULL:
 * o->body is copied): freed when the transfer ends, also on failure. */
int lgw__http_post_owned(lgw__http_t *h, const lgw__xfer_opts_t *o,
                         char *body, lgw__xfer_cb cb, void *ud,
                         lgw__xfer_t **out, lgw_error_t *err);
/* Cancel: the callback runs (code LGW_ECANCELED) before this returns. */
void lgw__http_cancel(lgw__xfer_t *r);
/* Run now what curl asked to run at once ("timeout 0": transfers just
 * added or to go on), if anything, instead of later in this loop turn.
 * From the loop only, never from inside a transfer's callback. */
void lgw__http_due(lgw__http_t *h);
/* Transfers in flight. */
size_t lgw__http_active(const lgw__http_t *h);
/* At most n connections per host (scheme, host and port) for every
 * transfer after this; 0 (the default): no cap. HTTPS transfers share a
 * connection when the server speaks HTTP/2, so the cap matters there
 * only when more transfers are in flight than a connection carries
 * streams; for HTTP/1.1 it bounds the transfers in flight per host. */
void lgw__http_set_max_host_connections(lgw__http_t *h, long n);
/* Tests: pages of curl's error buffers (the engine's mappings) the
 * process holds; (size_t)-1 when mincore fails. */
size_t lgw__http_ebuf_pages(const lgw__http_t *h);
/* Tests: 1 while transfer r holds its request body (freed once sent when
 * curl cannot send it again), else 0. */
int lgw__http_body_held(const lgw__xfer_t *r);
/* Tests: 1 while transfer r has the small receive buffer (set up with
 * 1,024 or more transfers in flight), else 0. */
int lgw__http_small_buffer(const lgw__xfer_t *r);

#endif
