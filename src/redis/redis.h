/*
 * redis.h -- one Redis connection on a libuv loop (hiredis async): AUTH
 * and SELECT on every connect, reconnection with exponential backoff, a
 * timeout on every command (a command that times out drops the connection,
 * which then reconnects), scripts run with EVALSHA (EVAL when the server
 * lost its script cache), and an outage logged once. The only file that
 * includes hiredis.
 *
 * The connection does not keep the loop alive by itself: only while a
 * command waits for its reply.
 */
#ifndef LGW_REDIS_H
#define LGW_REDIS_H

#include <stddef.h>

#include "config.h"
#include "redis_url.h"

struct uv_loop_s;
typedef struct lgw__redis lgw__redis_t;
typedef struct lgw__redis_call lgw__redis_call_t;

/* A reply, borrowed for the callback (hiredis's redisReply). */
typedef struct redisReply lgw__rreply_t;

enum {
  LGW__RR_STRING = 1, LGW__RR_ARRAY = 2, LGW__RR_INTEGER = 3,
  LGW__RR_NIL = 4, LGW__RR_STATUS = 5, LGW__RR_ERROR = 6
};

int lgw__rr_type(const lgw__rreply_t *r);
long long lgw__rr_int(const lgw__rreply_t *r);
/* String, status or error text (never NULL: "" for other types). */
const char *lgw__rr_str(const lgw__rreply_t *r, size_t *len);
size_t lgw__rr_len(const lgw__rreply_t *r);  /* array elements */
const lgw__rreply_t *lgw__rr_at(const lgw__rreply_t *r, size_t i);
/* An integer reply, or a string one holding an integer; dflt otherwise. */
long long lgw__rr_num(const lgw__rreply_t *r, long long dflt);

/* A reply (reply set, err NULL), a Redis error reply (both set: err is
 * its text), or no reply (reply NULL): err says why (not connected, timed
 * out, connection lost; lgw__redis_oom itself when the call could not go
 * on for want of memory). */
typedef void (*lgw__redis_fn)(lgw__redis_t *r, const lgw__rreply_t *reply,
                              const char *err, void *ud);
extern const char lgw__redis_oom[];
/* LGW_ENOMEM for lgw__redis_oom, LGW_ECONNECT for any other err. */
int lgw__redis_err_code(const char *err);
/* The connection is (again) ready: authenticated, database selected. */
typedef void (*lgw__redis_up_fn)(lgw__redis_t *r, void *ud);

typedef struct lgw__redis_opts {
  const char *what;          /* for log lines: "shared state", "queue" */
  double connect_timeout;    /* seconds; 0: 2 */
  double backoff_min;        /* first reconnect delay, seconds; 0: 0.1 */
  double backoff_max;        /* seconds; 0: 5 */
  lgw__redis_up_fn on_up;
  void *ud;
} lgw__redis_opts_t;

/* Start connecting to url (copied); failures to connect are retried in the
 * background, never returned. Free with lgw__redis_free. */
int lgw__redis_new(struct uv_loop_s *loop, const lgw__redis_url_t *url,
                   const lgw__redis_opts_t *opts, lgw__redis_t **out,
                   lgw_error_t *err);
/* Close; pending callbacks are dropped, not called. Memory is released by
 * close callbacks: the loop must run afterwards. NULL ok. */
void lgw__redis_free(lgw__redis_t *r);
/* fn(r, ud) every seconds until lgw__redis_free (not keeping the loop
 * alive). */
void lgw__redis_every(lgw__redis_t *r, double seconds, lgw__redis_up_fn fn,
                      void *ud);
/* 1 when connected and ready (commands are sent at once). */
int lgw__redis_ready(const lgw__redis_t *r);
/* "host:port/db" for messages (never the password). */
const char *lgw__redis_name(const lgw__redis_t *r);

/* Send a command (argv copied). While connecting it is queued behind the
 * handshake; between reconnect attempts it fails with LGW_ECONNECT and cb
 * is not called. Otherwise cb runs exactly once from the loop, with an
 * error when no reply came within timeout seconds (> 0). *call (optional)
 * lets the caller drop its interest with lgw__redis_forget. */
int lgw__redis_cmd(lgw__redis_t *r, double timeout, lgw__redis_fn cb,
                   void *ud, lgw__redis_call_t **call, int argc,
                   const char *const *argv, const size_t *lens);

/* A Lua script; sha is filled on first use. */
typedef struct lgw__redis_script {
  const char *src;
  char sha[41];
} lgw__redis_script_t;

/* EVALSHA sha nkeys argv...; on NOSCRIPT the same as EVAL. */
int lgw__redis_eval(lgw__redis_t *r, lgw__redis_script_t *s, double timeout,
                    lgw__redis_fn cb, void *ud, lgw__redis_call_t **call,
                    int nkeys, int argc, const char *const *argv,
                    const size_t *lens);

/* The callback of call will not run (its reply is discarded). */
void lgw__redis_forget(lgw__redis_call_t *call);
/* call's ud (from lgw_malloc) is freed with lgw_free when its callback
 * does not run (forgotten, or the client freed first); when it runs, it
 * frees ud itself. */
void lgw__redis_own_ud(lgw__redis_call_t *call);

#endif
