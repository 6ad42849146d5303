/*
 * sim.h -- internal interfaces of llmgateway-sim, the loopback provider
 * simulator: request reading and answer rendering (sim_answer.c), fault
 * directives, times counters and script files (sim_fault.c), and the
 * timer that resumes suspended connections (sim_timer.c). The server
 * itself lives in sim_main.c. Behaviour is specified in PROTOCOL.md.
 */
#ifndef LGW_SIM_H
#define LGW_SIM_H

#include <cJSON.h>
#include <stddef.h>

#include "util.h"

struct MHD_Connection;

/* ---- wire formats and answers (sim_answer.c) --------------------------- */

typedef enum {
  LGW__SIM_RESPONSES,  /* OpenAI Responses */
  LGW__SIM_CHAT,       /* OpenAI Chat Completions */
  LGW__SIM_ANTHROPIC   /* Anthropic Messages */
} lgw__sim_format_t;

/* What the simulator reads from a model request body. */
typedef struct lgw__sim_request {
  char *model;         /* "" when absent; owned */
  char *last_user;     /* last user text, directive lines removed, stripped */
  long input_tokens;   /* words across every message text */
  int stream;          /* body has "stream": true */
  lgw__buf_t directives; /* directive lines without "@sim ", '\n'-joined */
} lgw__sim_request_t;

/* Reads body (a JSON object) in the given format into out. Returns 0 or
 * LGW_ENOMEM. Free with lgw__sim_request_free. */
int lgw__sim_request_read(lgw__sim_format_t fmt, const cJSON *body,
                          lgw__sim_request_t *out);
void lgw__sim_request_free(lgw__sim_request_t *r);

/* Whitespace-separated words in s[0..n). */
long lgw__sim_words(const char *s, size_t n);

/* The normal answer as JSON. Returns a string the caller frees with
 * lgw_free (length in *len), NULL when out of memory. */
char *lgw__sim_answer_json(lgw__sim_format_t fmt, const char *model,
                           const char *text, long in_tokens, long out_tokens,
                           size_t *len);

/* The same answer as the format's server-sent-event stream; ownership as
 * for lgw__sim_answer_json. */
char *lgw__sim_answer_sse(lgw__sim_format_t fmt, const char *model,
                          const char *text, long in_tokens, long out_tokens,
                          size_t *len);

/* The answer as the model's refusal of the request, with refusal text
 * `text` (see PROTOCOL.md, fault=refusal): JSON, or the format's stream
 * when `stream`; ownership as for lgw__sim_answer_json. */
char *lgw__sim_refusal(lgw__sim_format_t fmt, const char *model,
                       const char *text, long in_tokens, long out_tokens,
                       int stream, size_t *len);

/* A provider-shaped error body for HTTP status `status` (error types per
 * PROTOCOL.md); ownership as for lgw__sim_answer_json. */
char *lgw__sim_error_json(lgw__sim_format_t fmt, int status,
                          const char *message, size_t *len);

/* The byte offset in a stream from lgw__sim_answer_sse just after its
 * opening events and its first `deltas` delta events (all of them when
 * it has fewer): where mid-stream faults strike. */
size_t lgw__sim_sse_offset(lgw__sim_format_t fmt, const char *sse,
                           size_t len, long deltas);

/* An error event of the format's stream for HTTP status `status` (see
 * PROTOCOL.md), appended to b. Returns 0 or LGW_ENOMEM. */
int lgw__sim_error_event(lgw__buf_t *b, lgw__sim_format_t fmt, int status,
                         const char *message);

/* ---- directives, times counters and scripts (sim_fault.c) -------------- */

typedef enum {
  LGW__SIM_FAULT_NONE,
  LGW__SIM_FAULT_RESET,
  LGW__SIM_FAULT_RESET_BODY,
  LGW__SIM_FAULT_HANG,
  LGW__SIM_FAULT_SLOW,
  LGW__SIM_FAULT_TRUNCATED,
  LGW__SIM_FAULT_INVALID_JSON,
  LGW__SIM_FAULT_HTML,
  LGW__SIM_FAULT_EMPTY,
  LGW__SIM_FAULT_BAD_SHAPE,
  LGW__SIM_FAULT_ANTHROPIC_ERROR,
  LGW__SIM_FAULT_OVERSIZE,
  LGW__SIM_FAULT_BAD_UTF8,
  LGW__SIM_FAULT_DEEP,
  LGW__SIM_FAULT_SSE,
  LGW__SIM_FAULT_SSE_CUT,    /* stream closed after `after` deltas */
  LGW__SIM_FAULT_SSE_STALL,  /* stream stops (connection kept) there */
  LGW__SIM_FAULT_SSE_ERROR,  /* an error event there, then the end */
  LGW__SIM_FAULT_JSON,       /* JSON even when a stream is asked for */
  LGW__SIM_FAULT_REFUSAL     /* the model refuses (JSON or stream) */
} lgw__sim_fault_t;

/* The faults answered with an event stream. */
#define LGW__SIM_FAULT_IS_SSE(f) \
  ((f) >= LGW__SIM_FAULT_SSE && (f) <= LGW__SIM_FAULT_SSE_ERROR)

/* A parsed directive; the zero value (after _init) means "no effect". */
typedef struct lgw__sim_directive {
  int present;              /* at least one token was seen */
  int status;               /* 0: none */
  long times;               /* -1: every request */
  char *id;                 /* owned; NULL: key is the directive text */
  char *retry_after;        /* owned header values, NULL when unset */
  char *retry_after_ms;
  int has_retry_after_date;
  long retry_after_date;    /* seconds from now */
  int should_retry;         /* -1 unset, 0 false, 1 true */
  long delay_ms;
  lgw__sim_fault_t fault;
  long slow_ms;
  long size;
  long depth;
  long after;               /* deltas before a mid-stream fault (1) */
  int error_status;         /* status the sse_error event stands for */
  char *reply;              /* owned; NULL: echo answer */
  lgw__buf_t text;          /* all directive text seen, the times key */
} lgw__sim_directive_t;

/* Parses a whole decimal integer in [lo, hi] into *out; 0 or -1. */
int lgw__sim_parse_long(const char *s, long lo, long hi, long *out);

/* "reset", "hang", ...; "none" for LGW__SIM_FAULT_NONE. */
const char *lgw__sim_fault_name(lgw__sim_fault_t f);

void lgw__sim_directive_init(lgw__sim_directive_t *d);
void lgw__sim_directive_free(lgw__sim_directive_t *d);

/* Adds the tokens of one directive line (without the "@sim " prefix) to d;
 * later tokens override earlier ones. Returns 0, LGW_ENOMEM, or
 * LGW_EINVAL with a message naming the bad token in err (size errcap). */
int lgw__sim_directive_add(lgw__sim_directive_t *d, const char *line,
                           char *err, size_t errcap);

/* Counts one more request carrying d under its times key and reports
 * whether d still applies (1) or is used up (0). Thread-safe. */
int lgw__sim_directive_take(const lgw__sim_directive_t *d);

/* Loads a script file (JSON, see PROTOCOL.md). Returns 0 or a negative
 * LGW_E* code with a message naming the file and the bad field in err. */
int lgw__sim_script_load(const char *path, char *err, size_t errcap);

/* The directive line the script gives a request whose last user text is
 * `text`, advancing that rule's counter; NULL when no rule matches. The
 * pointer stays valid until lgw__sim_script_free. Thread-safe. */
const char *lgw__sim_script_next(const char *text);

/* Zeroes every times counter and script counter. Thread-safe. */
void lgw__sim_fault_reset(void);

/* Frees the script and the times counters (at exit). */
void lgw__sim_fault_free(void);

/* ---- the HTTP server (sim_server.c) ------------------------------------ */

/* Starts serving on 127.0.0.1:port (0: ephemeral) with the given extra
 * latency for every model answer; quiet turns off the per-request log
 * on stderr. Returns the bound port, or a negative LGW_E* code with a
 * message in err. Needs the timer running. */
int lgw__sim_server_start(int port, long latency_ms, int quiet, char *err,
                          size_t errcap);

/* Stops serving: resumes suspended connections (via lgw__sim_timer_stop),
 * closes every connection and frees the server's state. */
void lgw__sim_server_stop(void);

/* ---- timer resuming suspended connections (sim_timer.c) ---------------- */

int lgw__sim_timer_start(void);

/* Suspends conn and resumes it once delay_ms have passed (delay_ms < 0:
 * never, until shutdown). Must be called from an MHD callback for conn.
 * Returns 0, or -1 once lgw__sim_timer_stop has run (conn not suspended). */
int lgw__sim_timer_suspend(struct MHD_Connection *conn, double delay_ms);

/* Stops the timer thread and resumes every connection still suspended, so
 * the daemon can be stopped. No suspension succeeds afterwards. */
void lgw__sim_timer_stop(void);

#endif
