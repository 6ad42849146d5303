/*
 * http.c -- the HTTP engine: one libcurl multi handle driven by a libuv
 * loop in the shape of curl's multi-uv.c. curl tells us which sockets to
 * watch (socket callback: on_curl_socket) and when to wake it (timer
 * callback, one uv_timer_t). The sockets are in an epoll set of the
 * engine's own, watched on the loop by a single uv_poll_t on its
 * descriptor (a nested epoll: the loop's backend descriptor, which
 * lgw_loop_fd gives a foreign loop, still reports them); what the engine
 * knows of a socket is a 4-byte slot in a table by descriptor, kept
 * across keep-alive reuse, so a socket costs no handle and no allocation,
 * and a new connection one epoll_ctl per change of its events.
 * Finished transfers are collected after every curl_multi_socket_action and
 * their callbacks run only after it has returned, so a callback may start
 * or cancel transfers freely. Streamed bodies (those the on_head callback
 * asks for, at the first body byte) are not collected: the write callback
 * queues each piece and the pieces are handed on after
 * curl_multi_socket_action returns, before any completion. curl's
 * "timeout 0" (act now) is run on the loop's next iteration (by the
 * socket calls of a poll that does not block, or else from a uv_check
 * handle), never from inside curl's timer callback and without a 1 ms
 * timer's delay. Easy handles are kept with their constant options set
 * once; a transfer sets only what changes (URL, headers, body, timeouts).
 *
 * Connections: HTTPS transfers set CURLOPT_PIPEWAIT, so transfers that
 * start while a connection to their host is being set up wait for its
 * ALPN answer and, when it is h2, become streams on it instead of
 * opening connections of their own; libcurl opens another connection
 * when a connection's streams are all in use. An HTTP/1.1 server (ALPN
 * http/1.1) still gets a connection per transfer in flight. Plain http://
 * transfers never wait: there the answer would only come with the first
 * response. CURLMOPT_MAX_HOST_CONNECTIONS (0: none) caps the connections
 * per host for both. Without a cap, a plain http:// transfer started
 * while no connection is idle and FRESH_MIN or more are in flight goes
 * straight to a new connection (CURLOPT_FRESH_CONNECT) instead of
 * walking every busy one (easy_setup). TLS sessions are shared by all easy handles (a new
 * connection can resume one), and the CA bundle is loaded once per multi
 * handle (libcurl caches the store only when no CA directory is set).
 */
#include "http.h"

#include <errno.h>
#include <stdint.h>
#include <fcntl.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <unistd.h>

#include "curl_dl.h"
#include "list.h"
#include "url.h"
#include "uv_dl.h"


#define SPARE_MAX 64               /* easy handles kept for reuse */
#define RECV_BUFFER_SIZE 16384L    /* per-transfer receive buffer */
#define RECV_BUFFER_SMALL 1280L    /* the same from CROWD_MIN in flight */
#define CROWD_MIN 1024             /* transfers in flight from which a new
                                      transfer gets the small buffer */
#define USER_AGENT "llmgateway/" LGW_VERSION_STRING
#define MAX_CONNECTS 10000L        /* connection cache size */
#define EXPECT_MIN 1024           /* body bytes that cannot need "Expect:" */
#define POST_KEEP 16384            /* body buffer capacity kept on reuse */
#define FRESH_MIN 256              /* transfers in flight from which a new
                                      http:// transfer skips curl's pool
                                      search when no connection is idle */

/* Response headers we keep (matched case-insensitively). */
enum { H_CONTENT_TYPE, H_RETRY_AFTER, H_RETRY_AFTER_MS, H_SHOULD_RETRY,
       H_COUNT };
static const char *const header_names[H_COUNT] = {
    "content-type", "retry-after", "retry-after-ms", "x-should-retry"};
static const unsigned char header_len[H_COUNT] = {12, 11, 14, 14};

/* What the engine knows of a descriptor: curl's sockets are watched in
 * an epoll set of the engine's own (h->epfd), itself watched by one
 * uv_poll_t, so a socket costs no handle, no allocation and none of
 * libuv's per-descriptor bookkeeping; the table is indexed by
 * descriptor. */
enum { W_IN = 1, W_OUT = 2 };
typedef struct fd_slot {
  unsigned char ours;          /* opened and to be closed through us */
  unsigned char held;          /* curl watches it: a socket callback came,
                                  no CURL_POLL_REMOVE since */
  unsigned char events;        /* W_* in the epoll set, 0: not in it */
  unsigned char parked;        /* curl let go of it; the connection is
                                  idle in curl's pool, still open */
} fd_slot_t;

enum { R_SPARE, R_ACTIVE, R_DONE };

/* What only a transfer that may be streamed needs. */
typedef struct xfer_stream {
  lgw__xfer_t *r;
  lgw__xfer_head_cb on_head;  /* both set for such a transfer */
  lgw__xfer_data_cb on_data;
  size_t streamed;            /* bytes handed on so far */
  lgw__buf_t pending;         /* received, not yet handed on */
  lgw_link_t flink;           /* in h->flushq while pending has data */
} xfer_stream_t;

struct lgw__xfer {
  lgw__http_t *h;
  CURL *easy;                 /* owned; kept across reuse */
  lgw__xfer_cb cb;
  void *ud;
  lgw__buf_t body;
  char *owned;                /* the request body, taken or a copy; curl
                                 reads it in place; freed once sent when
                                 curl cannot send it again (body_sent) */
  char *headers[H_COUNT];     /* values, NULL when absent: owned, or
                                 in ctype */
  long max_bytes;
  size_t header_bytes;        /* of this response; 0: no status line yet */
  /* options as last set on the easy handle, not set again when a
   * transfer has the same (as the raw libcurl loop re-adds its handles) */
  const char *ca_file;        /* CURLOPT_CAINFO */
  char *url;                  /* CURLOPT_URL: a copy (owned) or, with
                                 url_kept, the caller's (borrowed) */
  const void *hlist;          /* CURLOPT_HTTPHEADER */
  const char *postfields;     /* CURLOPT_POSTFIELDS */
  curl_off_t postsize;        /* CURLOPT_POSTFIELDSIZE_LARGE; -1 unset */
  long timeout_set, connect_timeout_set;  /* this transfer's timeouts as
                                 set (0: curl's default) */
  const char *fail;           /* multi-level failure message (static) */
  long status;
  double start_ms;
  char *errbuf;               /* CURLOPT_ERRORBUFFER: a slot of the
                                 engine's (ebuf_get), untouched (not
                                 resident) until curl writes an error;
                                 set only once the handle is added
                                 (ebuf_set) */
  lgw_link_t link;            /* in h->active, h->done or h->spare */
  xfer_stream_t *st;          /* owned, kept across reuse: made for the
                                 first transfer that may be streamed */
  CURLcode result;
  signed char state;          /* R_* */
  signed char stream;         /* -1 undecided, 0 collected, 1 streamed */
  unsigned char no_fd;        /* EMFILE/ENFILE: no descriptor for a
                                 socket or the resolver */
  unsigned too_big : 1, no_mem : 1;
  unsigned big_header : 1;    /* headers over LGW__XFER_MAX_HEADERS */
  unsigned pipewait : 1;      /* CURLOPT_PIPEWAIT as last set */
  unsigned fresh : 1;         /* CURLOPT_FRESH_CONNECT as last set */
  unsigned small : 1;         /* CURLOPT_BUFFERSIZE RECV_BUFFER_SMALL */
  unsigned direct : 1;        /* CURLOPT_NOPROXY "*" set */
  unsigned ua : 1;            /* CURLOPT_USERAGENT set */
  unsigned url_owned : 1;
  unsigned ebuf_set : 1;      /* CURLOPT_ERRORBUFFER is errbuf */
  unsigned ebuf_dirty : 1;    /* the transfer failed: curl may have
                                 written errbuf */
  unsigned fresh_body : 1;    /* holds its body on a connection it opened
                                 itself (on_open_socket; h->nfresh) */
  char ctype[32];             /* a short Content-Type, in place (the
                                 usual ones are 16 to 31 bytes) */
};

struct lgw__http {
  uv_loop_t *loop;
  CURLM *multi;
  uv_timer_t timer;
  uv_idle_t now;              /* "timeout 0": the next poll does not block */
  uv_check_t after;           /* ... and runs it when no socket event did */
  int open_handles;           /* timer, idle, check and poll not yet
                                 closed */
  int epfd;                   /* the epoll set of curl's sockets */
  uv_poll_t epoll;            /* watches epfd; referenced while nlive */
  size_t nlive;               /* sockets held with events: they keep
                                 the loop running */
  struct epoll_event *evs;    /* the events being dispatched (on_epoll) */
  int nevs, evi;
  int closing;
  size_t count;               /* posted, callback not yet run */
  lgw_link_t active;          /* inside the multi handle */
  lgw_link_t done;            /* finished, callback pending */
  lgw_link_t flushq;          /* with pending streamed data (flink) */
  lgw_link_t spare;           /* kept for reuse */
  size_t nspare;
  size_t nparked;             /* idle pooled connections (parked) */
  int sock_no_mem;            /* the socket callback failed for want of
                                 memory: the multi failure it causes is
                                 LGW_ENOMEM (hard_failure) */
  size_t nfresh;              /* transfers with fresh_body */
  fd_slot_t *fds;             /* by descriptor, nfds of them */
  size_t nfds;
  CURLSH *share;              /* TLS sessions of every easy handle */
  long max_host;              /* CURLMOPT_MAX_HOST_CONNECTIONS */
  char *ca_default, *capath_default;  /* curl's built-in CA store; owned */
  /* error buffers (ebuf_get) */
  char **ebuf_free;           /* slots not in use */
  size_t nebuf_free, cebuf_free;
  char *ebuf_next;            /* the newest block's slots never used */
  size_t ebuf_left;
  void **ebuf_blocks;         /* mapped blocks, unmapped with h */
  size_t nebuf_blocks;
};

/* libcurl is opened here, at the first gateway, not when the library is
 * loaded (curl_dl.c). */
int lgw_global_init(void) {
  return lgw__curl_load() ? LGW_ENOMEM : 0;
}

/* ---- error buffers ------------------------------------------------------- */

/* curl needs an error buffer of CURL_ERROR_SIZE bytes per easy handle up
 * front, and writes it only when a transfer fails (and zeroes its first
 * byte in curl_multi_add_handle: a new handle gets it after its first
 * such call, lgw__http_post_owned). The buffers are slots of anonymous
 * mappings of their own, not malloc chunks: a slot nobody wrote is a page
 * never touched, so the process holds no memory for them while transfers
 * succeed (256 bytes per transfer in flight otherwise). Reading counts as
 * touching: on Linux 6.18 a read of a page never touched faults in a page
 * of its own (no shared zero page), so a slot is read only after a
 * failure (ebuf_dirty). A slot is all zero when free or handed out,
 * except while it holds a message (req_clear zeroes its first byte again,
 * and only then). A message curl wrote for a transfer that still
 * succeeded (none known) would be kept until a failure with a message of
 * its own. */
#define EBUF_PER_BLOCK 256          /* slots per mapping: 64 KB */

static char *ebuf_get(lgw__http_t *h) {
  char *p;
  if (h->nebuf_free) return h->ebuf_free[--h->nebuf_free];
  if (!h->ebuf_left) {
    void **b = lgw_realloc(h->ebuf_blocks,
                           (h->nebuf_blocks + 1) * sizeof *b);
    if (!b) return NULL;
    h->ebuf_blocks = b;
    p = mmap(NULL, (size_t)EBUF_PER_BLOCK * CURL_ERROR_SIZE,
             PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (p == MAP_FAILED) return NULL;
    b[h->nebuf_blocks++] = p;
    h->ebuf_next = p;
    h->ebuf_left = EBUF_PER_BLOCK;
  }
  p = h->ebuf_next;
  h->ebuf_next += CURL_ERROR_SIZE;
  h->ebuf_left--;
  return p;
}

/* p back to the free slots (kept mapped; lost to reuse, not to the
 * process, when memory is short) */
static void ebuf_put(lgw__http_t *h, char *p) {
  if (!p) return;
  if (h->nebuf_free == h->cebuf_free) {
    size_t n = h->cebuf_free ? 2 * h->cebuf_free : 64;
    char **f = lgw_realloc(h->ebuf_free, n * sizeof *f);
    if (!f) return;
    h->ebuf_free = f;
    h->cebuf_free = n;
  }
  h->ebuf_free[h->nebuf_free++] = p;
}

static void ebuf_release(lgw__http_t *h) {
  size_t i;
  for (i = 0; i < h->nebuf_blocks; i++)
    munmap(h->ebuf_blocks[i], (size_t)EBUF_PER_BLOCK * CURL_ERROR_SIZE);
  lgw_free(h->ebuf_blocks);
  lgw_free(h->ebuf_free);
}

/* ---- request lists ----------------------------------------------------- */

#define XFER_OF(l, field) LGW_CONTAINER_OF(l, lgw__xfer_t, field)

/* The first transfer of a list, NULL when it is empty. */
static lgw__xfer_t *first_of(const lgw_link_t *list) {
  lgw_link_t *l = lgw_list_first(list);
  return l ? XFER_OF(l, link) : NULL;
}

static void flushq_append(lgw__http_t *h, xfer_stream_t *st) {
  if (!lgw_list_linked(&st->flink))
    lgw_list_push_back(&h->flushq, &st->flink);
}

static void header_drop(lgw__xfer_t *r, int i) {
  if (!r->headers[i]) return;  /* the usual case: no call */
  if (r->headers[i] != r->ctype) lgw_free(r->headers[i]);
  r->headers[i] = NULL;
}

static void req_clear(lgw__xfer_t *r) {
  int i;
  /* the answer's buffer, like the body's, is kept for the next transfer
   * unless it grew large */
  if (r->body.cap > POST_KEEP) lgw__buf_free(&r->body);
  r->body.len = 0;
  if (r->body.data) r->body.data[0] = '\0';
  lgw_free(r->owned);
  r->owned = NULL;
  if (r->st) {
    lgw__buf_free(&r->st->pending);
    lgw_list_remove(&r->st->flink);
    r->st->on_head = NULL;
    r->st->on_data = NULL;
    r->st->streamed = 0;
  }
  r->stream = -1;
  for (i = 0; i < H_COUNT; i++) header_drop(r, i);
  r->too_big = r->no_mem = r->no_fd = r->big_header = 0;
  if (r->fresh_body) {
    r->fresh_body = 0;
    r->h->nfresh--;
  }
  r->header_bytes = 0;
  r->fail = NULL;
  r->status = 0;
  r->result = CURLE_OK;
  /* neither read nor written unless the transfer failed: an untouched
   * slot stays a page the process does not hold */
  if (r->ebuf_dirty) {
    r->errbuf[0] = '\0';
    r->ebuf_dirty = 0;
  }
}

static void req_destroy(lgw__xfer_t *r) {
  req_clear(r);
  /* the handle may still point at the body: clean it up first */
  if (r->easy) curl_easy_cleanup(r->easy);
  lgw__buf_free(&r->body);
  if (r->url_owned) lgw_free(r->url);
  lgw_free(r->st);  /* its pending buffer went with req_clear */
  ebuf_put(r->h, r->errbuf);
  lgw_free(r);
}

/* Keep a few finished requests (with their easy handles) for reuse. */
static void req_recycle(lgw__xfer_t *r) {
  lgw__http_t *h = r->h;
  if (h->closing || h->nspare >= SPARE_MAX) {
    req_destroy(r);
    return;
  }
  req_clear(r);
  r->state = R_SPARE;
  r->cb = NULL;
  r->ud = NULL;
  lgw_list_push_front(&h->spare, &r->link);
  h->nspare++;
}

/* ---- completion ---------------------------------------------------------- */

/* EMFILE or ENFILE when the process cannot open a file now, else 0. */
static int out_of_fds(void) {
  int fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
  if (fd >= 0) {
    close(fd);
    return 0;
  }
  return errno == EMFILE || errno == ENFILE ? errno : 0;
}

/* Response headers over a limit: ours, or curl's for one header line
 * (reported as CURLE_OUT_OF_MEMORY before curl 8.6, which has
 * CURLE_TOO_LARGE), once a status line came and before any body. */
static int header_too_big(const lgw__xfer_t *r) {
  if (r->big_header) return 1;
#if LIBCURL_VERSION_NUM >= 0x080600
  if (r->result == CURLE_TOO_LARGE && r->stream < 0) return 1;
#endif
  return r->result == CURLE_OUT_OF_MEMORY && !r->no_mem &&
         r->header_bytes > 0 && r->stream < 0;
}

static int map_code(const lgw__xfer_t *r) {
  if (r->no_fd) return LGW_ERESOURCE;
  if (r->no_mem) return LGW_ENOMEM;  /* also behind a fail it caused */
  if (r->fail) return LGW_EHTTP;
  if (r->too_big || header_too_big(r)) return LGW_ETOOBIG;
  switch (r->result) {
    case CURLE_OK: return 0;
    case CURLE_COULDNT_CONNECT:
    case CURLE_COULDNT_RESOLVE_HOST:
    case CURLE_COULDNT_RESOLVE_PROXY: return LGW_ECONNECT;
    case CURLE_OPERATION_TIMEDOUT: return LGW_ETIMEOUT;
    case CURLE_SSL_CACERT_BADFILE: return LGW_ECONFIG;  /* our CA file */
    default: return LGW_EHTTP;
  }
}

/* A timeout that ran out before any connection was made, while the whole
 * attempt still had time left: connect_timeout's. */
static int connect_timed_out(const lgw__xfer_t *r) {
  curl_off_t connect_us = 0;
  if (r->connect_timeout_set <= 0 ||
      r->connect_timeout_set >= r->timeout_set)
    return 0;
  curl_easy_getinfo(r->easy, CURLINFO_CONNECT_TIME_T, &connect_us);
  return connect_us == 0 && lgw__now_ms() - r->start_ms < r->timeout_set;
}

/* Run the callback once and recycle r. */
static void complete(lgw__xfer_t *r, int canceled) {
  lgw__http_t *h = r->h;
  lgw__xfer_resp_t resp;
  char msg[128];
  memset(&resp, 0, sizeof resp);
  resp.code = canceled ? LGW_ECANCELED : map_code(r);
  /* errbuf is looked at only after a failure (curl writes it then, and a
   * read of a page never touched faults one in as a write would) */
  r->ebuf_dirty = resp.code != 0 || r->result != CURLE_OK;
  if (canceled) {
    resp.error = "transfer canceled";
  } else if (resp.code == LGW_ETOOBIG && header_too_big(r)) {
    snprintf(msg, sizeof msg, "response headers larger than %ld bytes "
             "(or one header line larger than %d bytes)",
             LGW__XFER_MAX_HEADERS, CURL_MAX_HTTP_HEADER);
    resp.error = msg;
    resp.header_too_big = 1;
  } else if (resp.code == LGW_ERESOURCE) {
    snprintf(msg, sizeof msg, "out of file descriptors: %s",
             strerror(r->no_fd));
    resp.error = msg;
  } else if (resp.code == LGW_ETOOBIG) {
    snprintf(msg, sizeof msg, "response larger than %ld bytes",
             r->max_bytes);
    resp.error = msg;
  } else if (r->no_mem) {
    resp.error = "out of memory in the transfer";
  } else if (r->fail) {
    resp.error = r->fail;
  } else if (resp.code) {
    resp.error = r->errbuf[0] ? r->errbuf : curl_easy_strerror(r->result);
  }
  /* a transfer cut short may have had its status line already */
  if (!r->status) curl_easy_getinfo(r->easy, CURLINFO_RESPONSE_CODE, &r->status);
  resp.status = r->status;
  resp.body = r->body.data ? r->body.data : "";
  resp.body_len = r->body.len;
  resp.content_type = r->headers[H_CONTENT_TYPE];
  resp.retry_after = r->headers[H_RETRY_AFTER];
  resp.retry_after_ms = r->headers[H_RETRY_AFTER_MS];
  resp.x_should_retry = r->headers[H_SHOULD_RETRY];
  resp.elapsed = (lgw__now_ms() - r->start_ms) / 1000.0;
  resp.streamed = r->stream == 1;
  resp.connect_timeout = resp.code == LGW_ETIMEOUT && connect_timed_out(r);
  if (r->st) lgw_list_remove(&r->st->flink);
  h->count--;
  r->cb(&resp, r->ud);
  req_recycle(r);
}

/* Hand queued stream pieces on. A callback may start or cancel other
 * transfers; each piece is detached from r before its callback runs. */
static void flush(lgw__http_t *h) {
  lgw_link_t *l;
  while ((l = lgw_list_pop_front(&h->flushq)) != NULL) {
    xfer_stream_t *st = LGW_CONTAINER_OF(l, xfer_stream_t, flink);
    lgw__xfer_t *r = st->r;
    lgw__buf_t chunk = st->pending;
    int stop;
    lgw__buf_init(&st->pending);
    stop = chunk.len ? st->on_data(chunk.data, chunk.len, r->ud) : 0;
    lgw__buf_free(&chunk);
    if (stop) lgw__http_cancel(r);
  }
}

static void deliver(lgw__http_t *h) {
  lgw_link_t *l;
  while ((l = lgw_list_pop_front(&h->done)) != NULL)
    complete(XFER_OF(l, link), 0);
}

/* Move finished transfers from the multi handle to the done list. */
static void collect(lgw__http_t *h) {
  CURLMsg *m;
  int left;
  lgw_link_t got, *l;
  lgw_list_init(&got);
  /* every message first, then the removals: curl 7.x looks for the
   * handle's message in the queue at each removal, so a removal with
   * messages still queued walks them all (O(k^2) for k transfers that
   * finished in one call) */
  while ((m = curl_multi_info_read(h->multi, &left)) != NULL) {
    lgw__xfer_t *r = NULL;
    if (m->msg != CURLMSG_DONE) continue;
    curl_easy_getinfo(m->easy_handle, CURLINFO_PRIVATE, (char **)&r);
    r->result = m->data.result;  /* copied before remove_handle */
    lgw_list_remove(&r->link);
    lgw_list_push_back(&got, &r->link);
  }
  while ((l = lgw_list_pop_front(&got)) != NULL) {
    lgw__xfer_t *r = XFER_OF(l, link);
    /* the threaded resolver needs descriptors too; its failure says only
     * that its thread did not start */
    if (r->result == CURLE_COULDNT_RESOLVE_HOST ||
        r->result == CURLE_COULDNT_RESOLVE_PROXY)
      r->no_fd = (unsigned char)out_of_fds();
    curl_easy_getinfo(r->easy, CURLINFO_RESPONSE_CODE, &r->status);
    curl_multi_remove_handle(h->multi, r->easy);
    r->state = R_DONE;
    lgw_list_push_back(&h->done, &r->link);
  }
}

/* ---- curl <-> libuv glue --------------------------------------------------- */

static int multi_setup(lgw__http_t *h);

/* The slot of descriptor s, NULL when out of the table. */
static fd_slot_t *slot_of(lgw__http_t *h, curl_socket_t s) {
  return s >= 0 && (size_t)s < h->nfds ? &h->fds[s] : NULL;
}

/* The slot of s, the table grown to hold it; NULL when memory is short. */
static fd_slot_t *slot_get(lgw__http_t *h, curl_socket_t s) {
  fd_slot_t *f;
  if (s < 0) return NULL;
  if ((size_t)s >= h->nfds) {
    size_t n = h->nfds ? h->nfds : 64;
    while (n <= (size_t)s) n *= 2;
    f = lgw_realloc(h->fds, n * sizeof *f);
    if (!f) return NULL;
    memset(f + h->nfds, 0, (n - h->nfds) * sizeof *f);
    h->fds = f;
    h->nfds = n;
  }
  return &h->fds[s];
}

/* The engine's poll keeps the loop running while a socket is held and
 * watched (a parked connection keeps none running). */
static void live_update(lgw__http_t *h, const fd_slot_t *f, int was) {
  int now = f->held && f->events;
  if (now == was) return;
  if (now && h->nlive++ == 0) uv_ref((uv_handle_t *)&h->epoll);
  if (!now && --h->nlive == 0) uv_unref((uv_handle_t *)&h->epoll);
}

/* Events of s not yet dispatched are dropped: s is being closed or taken
 * out of the set (its number may come back for another socket). */
static void evs_forget(lgw__http_t *h, curl_socket_t s) {
  int i;
  for (i = h->evi + 1; i < h->nevs; i++)
    if (h->evs[i].data.fd == s) h->evs[i].data.fd = -1;
}

/* Watch events (W_*) on s: one epoll_ctl, none when nothing changes. A
 * set that does not hold s as the slot says (a descriptor closed behind
 * our back is out of the set) is corrected by the other call. */
static int sock_watch(lgw__http_t *h, curl_socket_t s, fd_slot_t *f,
                      int events) {
  struct epoll_event ev;
  int was = f->held && f->events, rc = 0;
  if (events == f->events) return 0;
  memset(&ev, 0, sizeof ev);
  ev.events = (events & W_IN ? EPOLLIN : 0) | (events & W_OUT ? EPOLLOUT : 0);
  ev.data.fd = s;
  if (!events) {
    epoll_ctl(h->epfd, EPOLL_CTL_DEL, s, &ev);
    evs_forget(h, s);
  } else if (f->events) {
    if (epoll_ctl(h->epfd, EPOLL_CTL_MOD, s, &ev))
      rc = errno == ENOENT ? epoll_ctl(h->epfd, EPOLL_CTL_ADD, s, &ev) : -1;
  } else if (epoll_ctl(h->epfd, EPOLL_CTL_ADD, s, &ev)) {
    rc = errno == EEXIST ? epoll_ctl(h->epfd, EPOLL_CTL_MOD, s, &ev) : -1;
  }
  f->events = rc ? 0 : (unsigned char)events;
  live_update(h, f, was);
  return rc ? -1 : 0;
}

/* Forget s: out of the set (unless it is being closed, which takes it
 * out), not held, not parked. */
static void sock_forget(lgw__http_t *h, curl_socket_t s, fd_slot_t *f,
                        int closing) {
  int was;
  if (f->parked) h->nparked--;
  f->parked = 0;
  if (f->events && !closing) sock_watch(h, s, f, 0);
  was = f->held && f->events;
  if (closing) evs_forget(h, s);
  f->events = 0;
  f->held = 0;
  live_update(h, f, was);
}

static void close_socks(lgw__http_t *h) {
  size_t i;
  for (i = 0; i < h->nfds; i++)
    if (h->fds[i].events || h->fds[i].held || h->fds[i].parked)
      sock_forget(h, (curl_socket_t)i, &h->fds[i], 0);
}

/* After a multi-level failure the state of every transfer is uncertain:
 * fail them all and start over with a fresh multi handle. */
static void hard_failure(lgw__http_t *h, CURLMcode mc) {
  lgw__xfer_t *r;
  int no_mem = mc == CURLM_OUT_OF_MEMORY || h->sock_no_mem;
  h->sock_no_mem = 0;
  while ((r = first_of(&h->active)) != NULL) {
    curl_multi_remove_handle(h->multi, r->easy);
    lgw_list_remove(&r->link);
    r->fail = curl_multi_strerror(mc);
    r->no_mem = (unsigned)no_mem;
    r->no_fd = (unsigned char)out_of_fds();  /* e.g. no descriptor to watch a socket */
    r->state = R_DONE;
    lgw_list_push_back(&h->done, &r->link);
  }
  curl_multi_cleanup(h->multi);
  close_socks(h);
  h->multi = NULL;
  if (multi_setup(h))
    lgw__log(LGW_LOG_ERROR, "http: cannot recreate the curl multi handle");
  lgw__log(LGW_LOG_WARN, "http: curl multi failure: %s",
           curl_multi_strerror(mc));
}

static void drive(lgw__http_t *h, curl_socket_t s, int flags) {
  int running;
  CURLMcode mc;
  if (!h->multi) return;
  mc = curl_multi_socket_action(h->multi, s, flags, &running);
  if (mc != CURLM_OK) hard_failure(h, mc);
  else collect(h);
  flush(h);
  deliver(h);
}

#define EVS_MAX 1024   /* events taken per epoll_wait */
#define EVS_ROUNDS 48  /* epoll_waits per poll event at most (as libuv) */

/* The set has events: each one is driven, as libuv's poll handles did
 * (a hang-up is input; an error is reported to curl as such). */
static void on_epoll(uv_poll_t *p, int status, int events) {
  lgw__http_t *h = p->data;
  struct epoll_event evs[EVS_MAX];
  struct epoll_event *saved = h->evs;
  int nsaved = h->nevs, isaved = h->evi, round, n;
  (void)status;
  (void)events;
  for (round = 0; round < EVS_ROUNDS; round++) {
    n = epoll_wait(h->epfd, evs, EVS_MAX, 0);
    if (n <= 0) break;
    h->evs = evs;
    h->nevs = n;
    for (h->evi = 0; h->evi < h->nevs; h->evi++) {
      curl_socket_t s = evs[h->evi].data.fd;
      uint32_t e = evs[h->evi].events;
      fd_slot_t *f = slot_of(h, s);
      int flags = 0;
      if (!f) continue;  /* forgotten while dispatching */
      if (f->parked) {  /* idle in curl's pool: the server closed it, or
                         * spoke out of turn; curl finds out when it
                         * reuses it */
        sock_watch(h, s, f, 0);
        continue;
      }
      if (!f->held) continue;
      if (e & (EPOLLIN | EPOLLHUP)) flags |= CURL_CSELECT_IN;
      if (e & EPOLLOUT) flags |= CURL_CSELECT_OUT;
      if (e & EPOLLERR) flags |= CURL_CSELECT_ERR;
      drive(h, s, flags);
      if (h->closing) break;
    }
    h->evs = saved;
    h->nevs = nsaved;
    h->evi = isaved;
    if (n < EVS_MAX || h->closing) break;
  }
}

static void on_timer(uv_timer_t *t) {
  drive(t->data, CURL_SOCKET_TIMEOUT, 0);
}

/* curl's "timeout 0" (a transfer added or to go on): the idle handle
 * keeps the next poll from blocking; the socket events it returns are
 * driven first, and curl runs expired transfers in those calls as well,
 * so the timeout is driven on its own (on_after, after the poll) only
 * when none of them did: curl then asks for another timeout, which stops
 * both. */
static void on_now(uv_idle_t *i) { (void)i; }

/* Stopped first: curl may ask for another "timeout 0" while it runs. */
static void on_after(uv_check_t *c) {
  lgw__http_t *h = c->data;
  uv_check_stop(c);
  uv_idle_stop(&h->now);
  drive(h, CURL_SOCKET_TIMEOUT, 0);
}

void lgw__http_due(lgw__http_t *h) {
  if (h && uv_is_active((uv_handle_t *)&h->after)) on_after(&h->after);
}

static void now_stop(lgw__http_t *h) {
  uv_idle_stop(&h->now);
  uv_check_stop(&h->after);
}

/* curl's timer callback: only (re)arms the uv timer, or for 0 the idle
 * and check handles. */
static int on_curl_timer(CURLM *m, long timeout_ms, void *userp) {
  lgw__http_t *h = userp;
  (void)m;
  if (timeout_ms < 0) {
    uv_timer_stop(&h->timer);
    now_stop(h);
  } else if (timeout_ms == 0) {
    uv_timer_stop(&h->timer);
    uv_idle_start(&h->now, on_now);
    uv_check_start(&h->after, on_after);
  } else {
    now_stop(h);
    uv_timer_start(&h->timer, on_timer, (uint64_t)timeout_ms, 0);
  }
  return 0;
}

/* The request body is freed as soon as curl has sent all of it and can
 * never send it again, instead of when the answer has come (10,000
 * transfers waiting for their answers hold no bodies). curl sends a
 * CURLOPT_POSTFIELDS body again only in a retry of the whole request:
 * when a reused connection turns out dead before any answer byte
 * (Curl_retry_request: the connection was reused), on an HTTP/2 stream
 * the server refused, or to follow a redirect or an authentication round
 * (neither is ever asked for: no CURLOPT_FOLLOWLOCATION, no
 * CURLOPT_HTTPAUTH; and "Expect: 100-continue", whose 417 would retry, is
 * never sent). So the body goes only for a plain http:// transfer
 * (never HTTP/2: CURL_HTTP_VERSION_2TLS) on a connection it opened
 * itself (fresh_body: on_open_socket), once curl counts every body byte as
 * sent (CURLINFO_SIZE_UPLOAD_T, counted after each send), seen when curl
 * turns to waiting for the answer (CURL_POLL_IN alone). A transfer on a
 * reused connection keeps its body to its end, and a retry of it on a
 * new connection is such a transfer again. curl keeps the pointer but
 * never reads it again; the next transfer sets its own. */
static void body_sent(CURL *easy) {
  lgw__xfer_t *r = NULL;
  curl_off_t up = -1;
  curl_easy_getinfo(easy, CURLINFO_PRIVATE, (char **)&r);
  if (!r || !r->fresh_body || r->state != R_ACTIVE || r->postsize <= 0)
    return;
  if (curl_easy_getinfo(easy, CURLINFO_SIZE_UPLOAD_T, &up) != CURLE_OK ||
      up != r->postsize)
    return;
  lgw_free(r->owned);
  r->owned = NULL;
  r->postfields = NULL;  /* set again by the next transfer */
  r->fresh_body = 0;
  r->h->nfresh--;
}

/* curl's socket callback. A connection's registration is kept between
 * its transfers: when curl lets go of a socket it opened through us
 * (CURL_POLL_REMOVE: the connection went back to the pool), it stays in
 * the set (parked), still watched for input, and is taken up again when
 * a transfer reuses the connection: keep-alive reuse then costs no
 * epoll_ctl (the transfer watches for input again). A parked socket that
 * sees input (the server closed the idle connection) leaves the set until
 * curl takes it up again, or closes it. Only a socket that was waiting
 * for an answer is parked: curl may close a socket without telling us
 * (libcurl 7.88 does for connect attempts that lost or timed out, before
 * their CURL_POLL_REMOVE); the kernel drops a closed descriptor from the
 * set, and a slot whose number comes back from socket() is reset
 * (fd_note), so a number reused by anyone finds no stale state.
 * A socket leaves the set when curl closes it through on_close_socket
 * (the close does it), or at CURL_POLL_REMOVE for the others (the
 * resolver's, a connect attempt). */
static int on_curl_socket(CURL *easy, curl_socket_t s, int action,
                          void *userp, void *socketp) {
  lgw__http_t *h = userp;
  fd_slot_t *f;
  int events = 0;
  (void)socketp;
  if (action == CURL_POLL_REMOVE) {
    f = slot_of(h, s);
    if (!f || !f->held) return 0;
    /* only a connection that was waiting for an answer: a socket
     * still connecting may be one curl has already closed */
    if (f->ours && f->events == W_IN) {
      f->held = 0;     /* still watched (see above), but it keeps no
                        * loop running */
      f->parked = 1;
      h->nparked++;
      live_update(h, f, 1);
    } else {
      sock_forget(h, s, f, 0);
    }
    return 0;
  }
  f = slot_get(h, s);
  if (!f) {
    /* curl fails the transfer, or the multi handle (hard_failure): for
     * want of memory, not the server's fault */
    lgw__xfer_t *r = NULL;
    if (easy) curl_easy_getinfo(easy, CURLINFO_PRIVATE, (char **)&r);
    if (r) r->no_mem = 1;
    h->sock_no_mem = 1;
    return -1;
  }
  if (!f->held) {
    if (f->parked) h->nparked--;
    else f->events = 0;  /* only a parked socket stays in the set while
                          * curl does not hold it: this is of a
                          * descriptor closed since (dropped from it) */
    f->parked = 0;
    f->held = 1;
    live_update(h, f, 0);
  }
  if (action & CURL_POLL_IN) events |= W_IN;
  if (action & CURL_POLL_OUT) events |= W_OUT;
  if (action == CURL_POLL_IN && h->nfresh && easy) body_sent(easy);
  return sock_watch(h, s, f, events);
}

static int multi_setup(lgw__http_t *h) {
  h->multi = curl_multi_init();
  if (!h->multi) return LGW_ENOMEM;
  curl_multi_setopt(h->multi, CURLMOPT_SOCKETFUNCTION, on_curl_socket);
  curl_multi_setopt(h->multi, CURLMOPT_SOCKETDATA, h);
  curl_multi_setopt(h->multi, CURLMOPT_TIMERFUNCTION, on_curl_timer);
  curl_multi_setopt(h->multi, CURLMOPT_TIMERDATA, h);
  curl_multi_setopt(h->multi, CURLMOPT_PIPELINING, CURLPIPE_MULTIPLEX);
  curl_multi_setopt(h->multi, CURLMOPT_MAX_HOST_CONNECTIONS, h->max_host);
  curl_multi_setopt(h->multi, CURLMOPT_MAXCONNECTS, MAX_CONNECTS);
  return 0;
}

/* ---- engine ------------------------------------------------------------- */

/* curl's built-in CA file and directory, to go back to after a transfer
 * with its own CA file. When the file can be read, it is the whole store
 * (it holds what the directory holds) and the directory is left out:
 * libcurl keeps a parsed CA store for the multi handle only when no
 * directory is set, and parses the file again on every handshake
 * otherwise. */
static int ca_defaults(lgw__http_t *h) {
  CURL *e = curl_easy_init();
  char *info = NULL, *path = NULL;
  if (!e) return LGW_ENOMEM;
#if LIBCURL_VERSION_NUM >= 0x075400
  curl_easy_getinfo(e, CURLINFO_CAINFO, &info);
  curl_easy_getinfo(e, CURLINFO_CAPATH, &path);
#endif
  h->ca_default = lgw__strdup(info);
  if (info && access(info, R_OK) == 0) path = NULL;
  h->capath_default = lgw__strdup(path);
  curl_easy_cleanup(e);
  return (info && !h->ca_default) || (path && !h->capath_default)
             ? LGW_ENOMEM : 0;
}

int lgw__http_new(uv_loop_t *loop, lgw__http_t **out, lgw_error_t *err) {
  lgw__http_t *h;
  *out = NULL;
  if (lgw__curl_load())
    return lgw__error_set(err, LGW_ENOMEM, "%s", lgw__curl_error());
  if (lgw__uv_load())
    return lgw__error_set(err, LGW_EIO, "%s", lgw__uv_error());
  h = lgw__calloc(1, sizeof *h);
  if (!h) return lgw__error_set(err, LGW_ENOMEM, "out of memory");
  h->loop = loop;
  lgw_list_init(&h->active);
  lgw_list_init(&h->done);
  lgw_list_init(&h->flushq);
  lgw_list_init(&h->spare);
  h->share = curl_share_init();
  h->epfd = epoll_create1(EPOLL_CLOEXEC);
  if (h->epfd < 0 || !h->share || ca_defaults(h) || multi_setup(h) ||
      uv_poll_init(loop, &h->epoll, h->epfd) != 0) {
    if (h->multi) curl_multi_cleanup(h->multi);
    if (h->epfd >= 0) close(h->epfd);
    if (h->share) curl_share_cleanup(h->share);
    lgw_free(h->ca_default);
    lgw_free(h->capath_default);
    lgw_free(h);
    return lgw__error_set(err, LGW_ENOMEM, "cannot set up libcurl: out of "
                          "memory");
  }
  curl_share_setopt(h->share, CURLSHOPT_SHARE, CURL_LOCK_DATA_SSL_SESSION);
  uv_timer_init(loop, &h->timer);
  h->timer.data = h;
  uv_idle_init(loop, &h->now);
  h->now.data = h;
  uv_check_init(loop, &h->after);
  h->after.data = h;
  h->epoll.data = h;
  uv_poll_start(&h->epoll, UV_READABLE, on_epoll);
  uv_unref((uv_handle_t *)&h->epoll);  /* until a socket is watched */
  h->open_handles = 4;
  *out = h;
  return 0;
}

/* h is released with the last of its three handles. */
static void on_timer_close(uv_handle_t *handle) {
  lgw__http_t *h = handle->data;
  if (--h->open_handles == 0) {
    ebuf_release(h);
    close(h->epfd);  /* its poll handle is closed */
    lgw_free(h->fds);
    lgw_free(h->ca_default);
    lgw_free(h->capath_default);
    lgw_free(h);
  }
}

void lgw__http_free(lgw__http_t *h) {
  lgw__xfer_t *r;
  lgw_link_t *l;
  if (!h) return;
  h->closing = 1;
  while ((r = first_of(&h->active)) != NULL) lgw__http_cancel(r);
  while ((r = first_of(&h->done)) != NULL) lgw__http_cancel(r);
  while ((l = lgw_list_pop_front(&h->spare)) != NULL)
    req_destroy(XFER_OF(l, link));
  h->nspare = 0;
  /* May still call the socket callback: the loop is alive. */
  if (h->multi) curl_multi_cleanup(h->multi);
  h->multi = NULL;
  /* every easy handle is gone: the share is no longer in use */
  if (h->share) curl_share_cleanup(h->share);
  h->share = NULL;
  close_socks(h);
  uv_timer_stop(&h->timer);
  now_stop(h);
  uv_close((uv_handle_t *)&h->timer, on_timer_close);
  uv_close((uv_handle_t *)&h->now, on_timer_close);
  uv_close((uv_handle_t *)&h->after, on_timer_close);
  uv_close((uv_handle_t *)&h->epoll, on_timer_close);
}

size_t lgw__http_active(const lgw__http_t *h) { return h ? h->count : 0; }

int lgw__http_body_held(const lgw__xfer_t *r) { return r && r->owned; }

int lgw__http_small_buffer(const lgw__xfer_t *r) { return r && r->small; }

size_t lgw__http_ebuf_pages(const lgw__http_t *h) {
  size_t i, j, n = 0, len = (size_t)EBUF_PER_BLOCK * CURL_ERROR_SIZE;
  long ps = sysconf(_SC_PAGESIZE);
  unsigned char vec[(EBUF_PER_BLOCK * CURL_ERROR_SIZE) / 4096 + 1];
  if (!h || ps <= 0 || len / (size_t)ps > sizeof vec) return (size_t)-1;
  for (i = 0; i < h->nebuf_blocks; i++) {
    if (mincore(h->ebuf_blocks[i], len, vec)) return (size_t)-1;
    for (j = 0; j < (len + (size_t)ps - 1) / (size_t)ps; j++) n += vec[j] & 1;
  }
  return n;
}

void lgw__http_set_max_host_connections(lgw__http_t *h, long n) {
  if (!h) return;
  h->max_host = n > 0 ? n : 0;
  if (h->multi)
    curl_multi_setopt(h->multi, CURLMOPT_MAX_HOST_CONNECTIONS, h->max_host);
}

/* ---- transfers ----------------------------------------------------------- */

/* Streamed or collected: decided at the first body byte, when the status
 * and headers are known. */
static int decide_stream(lgw__xfer_t *r) {
  long status = 0;
  if (r->stream < 0) {
    if (!r->st || !r->st->on_data) {  /* nobody to ask: collected */
      r->stream = 0;
      return 0;
    }
    curl_easy_getinfo(r->easy, CURLINFO_RESPONSE_CODE, &status);
    r->stream = r->st->on_head(status, r->headers[H_CONTENT_TYPE], r->ud) != 0;
  }
  return r->stream;
}

static size_t on_write(char *p, size_t size, size_t n, void *ud) {
  lgw__xfer_t *r = ud;
  size_t len = size * n;
  if (decide_stream(r)) {
    xfer_stream_t *st = r->st;
    if (r->max_bytes > 0 && st->streamed + len > (size_t)r->max_bytes) {
      r->too_big = 1;
      return 0;
    }
    if (lgw__buf_add(&st->pending, p, len)) {
      r->no_mem = 1;
      return 0;
    }
    st->streamed += len;
    flushq_append(r->h, st);
    return len;
  }
  if (r->max_bytes > 0 && r->body.len + len > (size_t)r->max_bytes) {
    r->too_big = 1;
    return 0;  /* aborts the transfer with CURLE_WRITE_ERROR */
  }
  if (lgw__buf_add(&r->body, p, len)) {
    r->no_mem = 1;
    return 0;
  }
  return len;
}

/* Do the 8 bytes at p equal the 8 at name (lowercase letters and '-'),
 * letters in either case? A letter's byte has 0x40 set: it may differ
 * from name's in 0x20 only; a '-' must be one. */
static int name_eq8(const char *p, const char *name) {
  uint64_t a, b;
  memcpy(&a, p, 8);
  memcpy(&b, name, 8);
  return (a | ((b & 0x4040404040404040u) >> 1)) == b;
}

/* Which kept header the line p[0..len) is, -1 for none: its first
 * letter tells which one it can be, the colon right after that name's
 * length whether it is that name at all (names have no colon), so most
 * lines cost two byte tests and no search; the name (8 to 16 bytes) is
 * then two 8-byte compares. */
static int header_index(const char *p, size_t len) {
  int i;
  size_t nl;
  switch (p[0] | 0x20) {
    case 'c': i = H_CONTENT_TYPE; break;
    case 'r': i = len > 11 && p[11] == ':' ? H_RETRY_AFTER : H_RETRY_AFTER_MS;
      break;
    case 'x': i = H_SHOULD_RETRY; break;
    default: return -1;
  }
  nl = header_len[i];
  if (len <= nl || p[nl] != ':') return -1;
  return name_eq8(p, header_names[i]) &&
                 name_eq8(p + nl - 8, header_names[i] + nl - 8)
             ? i
             : -1;
}

static size_t on_header(char *p, size_t size, size_t n, void *ud) {
  lgw__xfer_t *r = ud;
  size_t len = size * n, vn;
  const char *v, *end;
  int i;
  if (len >= 5 && memcmp(p, "HTTP/", 5) == 0) {
    /* a new response head (after 100 Continue): forget the old one */
    r->header_bytes = len;
    for (i = 0; i < H_COUNT; i++) header_drop(r, i);
    return len;
  }
  r->header_bytes += len;
  if (r->header_bytes > (size_t)LGW__XFER_MAX_HEADERS) {
    r->big_header = 1;
    return 0;  /* aborts the transfer */
  }
  if (!len || (i = header_index(p, len)) < 0) return len;
  v = p + header_len[i] + 1;  /* after the colon */
  end = p + len;
  while (v < end && (*v == ' ' || *v == '\t')) v++;
  while (end > v && (end[-1] == '\r' || end[-1] == '\n' ||
                     end[-1] == ' ' || end[-1] == '\t'))
    end--;
  vn = (size_t)(end - v);
  header_drop(r, i);
  if (i == H_CONTENT_TYPE && vn < sizeof r->ctype) {
    memcpy(r->ctype, v, vn);
    r->ctype[vn] = '\0';
    r->headers[i] = r->ctype;
  } else {
    r->headers[i] = lgw__strndup(v, vn);
  }
  return len;
}

/* Note s as opened by curl through us: its registration may outlive its
 * transfers (on_curl_socket). 0, or -1 when memory is short (s is then
 * watched only while a transfer uses it). */
static int fd_note(lgw__http_t *h, curl_socket_t s) {
  fd_slot_t *f;
  if (s < 0) return 0;
  f = slot_get(h, s);
  if (!f) return -1;
  /* a descriptor closed behind our back: whatever the slot says is of
   * the old socket (the set dropped it with its last close) */
  if (f->events || f->held || f->parked) sock_forget(h, s, f, 1);
  f->ours = 1;
  return 0;
}

/* socket() as curl would call it, noting when the process is out of
 * file descriptors: a local condition, not the server's fault. */
static curl_socket_t on_open_socket(void *ud, curlsocktype purpose,
                                    struct curl_sockaddr *a) {
  lgw__xfer_t *r = ud;
  curl_socket_t s;
  (void)purpose;
  s = socket(a->family, a->socktype, a->protocol);
  if (s == CURL_SOCKET_BAD && (errno == EMFILE || errno == ENFILE)) {
    r->no_fd = (unsigned char)errno;
  } else {
    fd_note(r->h, s);
    /* a connection of its own: its body may go once sent (body_sent) */
    if (s != CURL_SOCKET_BAD && r->owned && !r->pipewait && !r->fresh_body) {
      r->fresh_body = 1;
      r->h->nfresh++;
    }
  }
  return s;
}

/* close() as curl would call it, for the sockets it opened through
 * on_open_socket; its slot is reset first. */
static int on_close_socket(void *ud, curl_socket_t s) {
  lgw__http_t *h = ud;
  fd_slot_t *f = slot_of(h, s);
  if (f) {
    /* closing takes it out of the set: no epoll_ctl */
    sock_forget(h, s, f, 1);
    f->ours = 0;
  }
  return close(s);
}

/* The options every transfer of an easy handle shares: set once. TLS
 * verification stays curl's default: on. */
static void easy_init(lgw__xfer_t *r) {
  CURL *e = r->easy;
  curl_easy_setopt(e, CURLOPT_SHARE, r->h->share);
  curl_easy_setopt(e, CURLOPT_CAPATH, r->h->capath_default);
  curl_easy_setopt(e, CURLOPT_PROTOCOLS_STR, "http,https");
  curl_easy_setopt(e, CURLOPT_OPENSOCKETFUNCTION, on_open_socket);
  curl_easy_setopt(e, CURLOPT_OPENSOCKETDATA, r);
  curl_easy_setopt(e, CURLOPT_CLOSESOCKETFUNCTION, on_close_socket);
  curl_easy_setopt(e, CURLOPT_CLOSESOCKETDATA, r->h);
  curl_easy_setopt(e, CURLOPT_POST, 1L);
  curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
  /* credentials never follow a redirect: a 3xx is an answer */
  curl_easy_setopt(e, CURLOPT_FOLLOWLOCATION, 0L);
  curl_easy_setopt(e, CURLOPT_HTTP_VERSION, (long)CURL_HTTP_VERSION_2TLS);
  curl_easy_setopt(e, CURLOPT_TCP_KEEPALIVE, 1L);
  curl_easy_setopt(e, CURLOPT_BUFFERSIZE, RECV_BUFFER_SIZE);
  curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, on_write);
  curl_easy_setopt(e, CURLOPT_WRITEDATA, r);
  curl_easy_setopt(e, CURLOPT_HEADERFUNCTION, on_header);
  curl_easy_setopt(e, CURLOPT_HEADERDATA, r);
  curl_easy_setopt(e, CURLOPT_PRIVATE, (char *)r);
}

/* The list to send with a body of len bytes: a list of lgw__headers_new
 * starts with "Expect:" (no "Expect: 100-continue" round trip), which
 * only matters for large bodies (curl adds the header above 1 MB, older
 * versions above 1 KB); without it, curl compares one header less at
 * every header it may add. "Expect:" sends nothing on the wire. */
static const void *headers_for(const lgw__headers_t *hl, size_t len) {
  const struct curl_slist *l = (const struct curl_slist *)(const void *)hl;
  static const char off[] = "Expect:";
  size_t i;
  if (!l || len > EXPECT_MIN || !l->next) return l;
  for (i = 0; i < sizeof off; i++)  /* inline: stops at the first other byte */
    if (l->data[i] != off[i]) return l;
  return l->next;
}

/* What changes per transfer. A taken body (r->owned) is read by curl in
 * place; otherwise the body is copied (and owned). */
static int easy_setup(lgw__xfer_t *r, const lgw__xfer_opts_t *o) {
  CURL *e = r->easy;
  const char *body = r->owned;
  size_t len = o->body_len;
  long pipewait, fresh;
  const void *hlist;
  lgw__http_t *h = r->h;
  if (!body) {
    char *copy;
    len = o->body ? o->body_len : 0;
    if (len + 1 < len || !(copy = lgw_malloc(len + 1))) return LGW_ENOMEM;
    if (len) memcpy(copy, o->body, len);
    copy[len] = '\0';
    r->owned = copy;
    body = copy;
  }
  /* a header list has its User-Agent line (lgw__headers_new); curl's
   * own, formatted again for every transfer, only without a list */
  if ((o->headers == NULL) != r->ua) {
    curl_easy_setopt(e, CURLOPT_USERAGENT, o->headers ? NULL : USER_AGENT);
    r->ua = !o->headers;
  }
  /* curl copies the URL (and parses it again at every transfer whether
   * it was set again or not); a pointer option is read only when a
   * transfer starts, so an equal pointer is the same option */
  if (!r->url || (r->url != o->url && strcmp(r->url, o->url) != 0)) {
    pipewait = lgw__strncasecmp(o->url, "https://", 8) == 0;
    if (pipewait != r->pipewait) {
      curl_easy_setopt(e, CURLOPT_PIPEWAIT, pipewait);
      r->pipewait = pipewait != 0;
    }
    curl_easy_setopt(e, CURLOPT_URL, o->url);
    if (r->url_owned) lgw_free(r->url);
    r->url_owned = !o->url_kept;
    /* a copy may be NULL: set again next time */
    r->url = o->url_kept ? (char *)o->url : lgw__strdup(o->url);
  }
  /* A plain http:// connection carries one transfer at a time (h2 only
   * over TLS), so when none is idle (none parked: every connection of
   * curl's pool busy) a new transfer can only get a new one. curl 7.x
   * finds that out by walking every connection to the host for every new
   * transfer, O(n^2) for n in flight (0.5 s of CPU for 10,000 at
   * once); CURLOPT_FRESH_CONNECT skips that walk. Only from FRESH_MIN
   * transfers in flight, where the walk costs something: a connection
   * that comes back to the pool between this call and the connect is
   * then not taken. Never under a per-host cap: a transfer waiting for a
   * free slot would, being fresh, close the connection that came back
   * idle and open another. */
  fresh = !r->pipewait && h->nparked == 0 && h->max_host == 0 &&
          h->count >= FRESH_MIN;
  if (fresh != r->fresh) {
    curl_easy_setopt(e, CURLOPT_FRESH_CONNECT, fresh);
    r->fresh = fresh != 0;
  }
  /* curl's receive buffer (malloc'd at the first connect, kept by the
   * handle) is resident up to about 4.6 KB of its 16 KB: the pages a
   * transfer writes and those its neighbours share. With thousands in
   * flight 1.25 KB saves about 3.2 KB each, for more reads of a large
   * answer. (Not 1 KB, curl's least: one client's allocations then
   * slowed curl 7.88's walk of its connection cache by 12-30 %.) */
  if ((h->count >= CROWD_MIN) != r->small) {
    r->small = !r->small;
    curl_easy_setopt(e, CURLOPT_BUFFERSIZE,
                     r->small ? RECV_BUFFER_SMALL : RECV_BUFFER_SIZE);
  }
  hlist = headers_for(o->headers, len);
  if (hlist != r->hlist) {
    curl_easy_setopt(e, CURLOPT_HTTPHEADER,
                     (struct curl_slist *)(void *)hlist);
    r->hlist = hlist;
  }
  if (body != r->postfields) {
    curl_easy_setopt(e, CURLOPT_POSTFIELDS, body);
    r->postfields = body;
  }
  if ((curl_off_t)len != r->postsize) {
    curl_easy_setopt(e, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)len);
    r->postsize = (curl_off_t)len;
  }
  if (o->timeout_ms != r->timeout_set) {
    curl_easy_setopt(e, CURLOPT_TIMEOUT_MS, o->timeout_ms);
    r->timeout_set = o->timeout_ms;
  }
  if (o->connect_timeout_ms != r->connect_timeout_set) {
    curl_easy_setopt(e, CURLOPT_CONNECTTIMEOUT_MS, o->connect_timeout_ms);
    r->connect_timeout_set = o->connect_timeout_ms;
  }
  /* a given CA file is the only trust store, as with --cacert and no
   * system directory */
  if (o->ca_file != r->ca_file) {
    curl_easy_setopt(e, CURLOPT_CAINFO,
                     o->ca_file ? o->ca_file : r->h->ca_default);
    curl_easy_setopt(e, CURLOPT_CAPATH,
                     o->ca_file ? NULL : r->h->capath_default);
    r->ca_file = o->ca_file;
  }
  /* "*": no proxy for this host, whatever http_proxy, https_proxy or
   * ALL_PROXY say; NULL: curl applies them and no_proxy/NO_PROXY */
  if (!o->direct != !r->direct) {
    curl_easy_setopt(e, CURLOPT_NOPROXY, o->direct ? "*" : NULL);
    r->direct = o->direct != 0;
  }
  return 0;
}

static lgw__xfer_t *req_get(lgw__http_t *h) {
  lgw_link_t *l = lgw_list_pop_front(&h->spare);
  lgw__xfer_t *r;
  if (l) {
    h->nspare--;
    return XFER_OF(l, link);
  }
  r = lgw__calloc(1, sizeof *r);
  if (!r) return NULL;
  r->h = h;
  r->postsize = -1;
  lgw_list_init(&r->link);
  r->errbuf = ebuf_get(h);
  r->easy = r->errbuf ? curl_easy_init() : NULL;
  if (!r->easy) {
    ebuf_put(h, r->errbuf);
    lgw_free(r);
    return NULL;
  }
  easy_init(r);
  return r;
}

int lgw__http_post(lgw__http_t *h, const lgw__xfer_opts_t *o,
                   lgw__xfer_cb cb, void *ud, lgw__xfer_t **out,
                   lgw_error_t *err) {
  return lgw__http_post_owned(h, o, NULL, cb, ud, out, err);
}

int lgw__http_post_owned(lgw__http_t *h, const lgw__xfer_opts_t *o,
                         char *body, lgw__xfer_cb cb, void *ud,
                         lgw__xfer_t **out, lgw_error_t *err) {
  lgw__xfer_t *r;
  CURLMcode mc;
  if (out) *out = NULL;
  if (!h || !o || !o->url || !cb) {
    lgw_free(body);
    return lgw__error_set(err, LGW_EINVAL, "http: invalid arguments");
  }
  if (h->closing || !h->multi) {
    lgw_free(body);
    return lgw__error_set(err, LGW_ECANCELED, "http: engine is closing");
  }
  r = req_get(h);
  if (!r) {
    lgw_free(body);
    return lgw__error_set(err, LGW_ENOMEM, "out of memory");
  }
  r->owned = body;
  r->cb = cb;
  r->ud = ud;
  r->max_bytes = o->max_response_bytes;
  r->stream = -1;
  if (o->on_head && o->on_data && !r->st &&
      (r->st = lgw__calloc(1, sizeof *r->st)) != NULL) {
    r->st->r = r;
    lgw_list_init(&r->st->flink);
  }
  if (r->st && o->on_head && o->on_data) {
    r->st->on_head = o->on_head;
    r->st->on_data = o->on_data;
  }
  if ((o->on_head && o->on_data && !r->st) || easy_setup(r, o)) {
    req_recycle(r);
    return lgw__error_set(err, LGW_ENOMEM, "out of memory");
  }
  r->start_ms = lgw__now_ms();
  mc = curl_multi_add_handle(h->multi, r->easy);
  if (mc != CURLM_OK) {
    req_recycle(r);
    return lgw__error_set(err, LGW_EHTTP, "http: cannot start transfer: %s",
                          curl_multi_strerror(mc));
  }
  /* curl_multi_add_handle zeroes the first byte of the error buffer,
   * which would make its page resident (256 bytes per transfer in flight,
   * 2.5 MB for 10,000): a new handle gets its buffer only after its first
   * add, when the slot is all zero already and nothing has run yet (curl
   * writes it at a failure, in curl_multi_socket_action). A handle used
   * again (from the spare list: SPARE_MAX at most) keeps it, its slot
   * touched by the next add: one setopt per handle, not two per
   * transfer. */
  if (!r->ebuf_set) {
    curl_easy_setopt(r->easy, CURLOPT_ERRORBUFFER, r->errbuf);
    r->ebuf_set = 1;
  }
  r->state = R_ACTIVE;
  lgw_list_push_back(&h->active, &r->link);
  h->count++;
  if (out) *out = r;
  return 0;
}

void lgw__http_cancel(lgw__xfer_t *r) {
  lgw__http_t *h;
  if (!r) return;
  h = r->h;
  if (r->state == R_ACTIVE) {
    curl_multi_remove_handle(h->multi, r->easy);
    lgw_list_remove(&r->link);
  } else if (r->state == R_DONE) {
    lgw_list_remove(&r->link);
  } else {
    return;
  }
  complete(r, 1);
}

/* ---- URLs ------------------------------------------------------------------ */

int lgw__url_is_loopback(const char *url) {
  CURLU *u;
  char *host = NULL;
  int yes = 0;
  if (lgw__curl_load() || !(u = curl_url())) return 0;
  if (curl_url_set(u, CURLUPART_URL, url, CURLU_NON_SUPPORT_SCHEME) ==
          CURLUE_OK &&
      curl_url_get(u, CURLUPART_HOST, &host, 0) == CURLUE_OK)
    yes = lgw__host_is_loopback(host, strlen(host));  /* the one rule */
  curl_free(host);
  curl_url_cleanup(u);
  return yes;
}

/* ---- header lists -------------------------------------------------------- */

lgw__headers_t *lgw__headers_new(const lgw__kvlist_t *kv) {
  struct curl_slist *l = NULL, *t;
  size_t i;
  int ua = 0, expect = 0;
  if (lgw__curl_load()) return NULL;
  for (i = 0; kv && i < kv->n; i++)
    if (lgw__strcasecmp(kv->items[i].key, "Expect") == 0) expect = 1;
  /* no "Expect: 100-continue" round trip for large bodies: first in the
   * list, so that small bodies can go without it (headers_for); after a
   * configured Expect header, as ever, when there is one */
  if (!expect && !(l = curl_slist_append(NULL, "Expect:"))) return NULL;
  for (i = 0; kv && i < kv->n; i++) {
    const char *v = kv->items[i].value ? kv->items[i].value : "";
    /* "Name;" is curl's way to send a header with an empty value */
    char *line = *v ? lgw__sprintf("%s: %s", kv->items[i].key, v)
                    : lgw__sprintf("%s;", kv->items[i].key);
    if (!line) goto fail;
    t = curl_slist_append(l, line);
    lgw_free(line);
    if (!t) goto fail;
    l = t;
    if (lgw__strcasecmp(kv->items[i].key, "User-Agent") == 0) ua = 1;
  }
  /* ours unless the list has one */
  if (!ua) {
    t = curl_slist_append(l, "User-Agent: " USER_AGENT);
    if (!t) goto fail;
    l = t;
  }
  if (expect) {
    t = curl_slist_append(l, "Expect:");
    if (!t) goto fail;
    l = t;
  }
  return (lgw__headers_t *)l;
fail:
  curl_slist_free_all(l);
  return NULL;
}

void lgw__headers_free(lgw__headers_t *h) {
  if (!h) return;
  curl_slist_free_all((struct curl_slist *)h);
}
