/*
 * echo_support.h -- a small loopback HTTP/1.1 server for C tests that need
 * answers the simulator does not give: a thread accepts one connection at
 * a time, reads one request (head and Content-Length body), lets the
 * test's function write the whole response, and closes the connection.
 * A TLS client is answered at once, in clear (its handshake fails).
 *
 *   echo_t *e = echo_start(answer, &state);
 *   ... "http://127.0.0.1:<echo_port(e)>" ...
 *   echo_stop(e);
 *
 * echo_canned is such a function for answers given in advance:
 *
 *   static echo_canned_t canned;
 *   echo_t *e = echo_start(echo_canned, &canned);
 *   echo_canned_set(&canned, 2, "application/json", first, ctype, second);
 */
#ifndef LGW_ECHO_SUPPORT_H
#define LGW_ECHO_SUPPORT_H

#include <stddef.h>

#include "util.h"

typedef struct echo echo_t;

/* Writes the whole response (status line, headers, body) into out. head
 * is the request line and headers, NUL-terminated; body is body_len
 * bytes (NUL-terminated too). Runs on the server's thread. */
typedef void (*echo_fn)(const char *head, const char *body, size_t body_len,
                        lgw__buf_t *out, void *ud);

/* NULL when the server cannot start. */
echo_t *echo_start(echo_fn fn, void *ud);
int echo_port(const echo_t *e);
/* "http://127.0.0.1:<port>" */
const char *echo_base(const echo_t *e);
/* Requests answered so far. */
int echo_requests(echo_t *e);
void echo_stop(echo_t *e);

/* The value of header name (case-insensitive) in head, copied into out
 * (blanks around it removed); 0, or -1 when absent. */
int echo_header(const char *head, const char *name, char *out, size_t cap);

/* Appends a response with the given status, JSON content type and
 * body to out. */
void echo_json(lgw__buf_t *out, int status, const char *body);

/* Answers given in advance: the Nth request since echo_canned_set gets
 * status 200 with ctype[N] and body[N] (the last one repeats), and the
 * last request's path and body are kept. */
#define ECHO_CANNED_MAX 4
typedef struct echo_canned {
  int n;
  const char *ctype[ECHO_CANNED_MAX], *body[ECHO_CANNED_MAX];
  int served;               /* requests answered since echo_canned_set */
  char last_path[256];
  char last_body[16384];
} echo_canned_t;

/* The echo_fn of an echo_canned_t (ud). */
void echo_canned(const char *head, const char *body, size_t body_len,
                 lgw__buf_t *out, void *ud);

/* The answers to the next requests: n (at most ECHO_CANNED_MAX) pairs of
 * content type and body, borrowed; served and the last request are
 * cleared. */
void echo_canned_set(echo_canned_t *c, int n, ...);

#endif
