/*
 * sim.h -- internal interfaces of llmgateway-sim, the loopback provider
 * simulator: request reading and answer rendering (sim_answer.c), fault
 * directives, times counters and script files (sim_fault.c), and the
 * timer that resumes suspended connections (sim_timer.c). The server
 * itself lives in sim_main.c. Behaviour is specified in PROTOCOL.md.
 */
#ifndef SIM_H
#define SIM_H

#include <cJSON.h>
#include <stddef.h>
#include <stdlib.h>

/* ---- small helpers of its own (sim_util.c) ------------------------------ */

/* Error codes of the simulator's functions (0 is success). */
#define SIM_ENOMEM  (-1)
#define SIM_EINVAL  (-2)
#define SIM_EIO     (-3)
#define SIM_ECONFIG (-4)

#if defined(__GNUC__)
#define SIM_PRINTF(f, a) __attribute__((format(printf, f, a)))
#else
#define SIM_PRINTF(f, a)
#endif

/* Returned strings are malloc'ed (free with free); NULL in -> NULL out. */
char *sim_strdup(const char *s);
char *sim_strndup(const char *s, size_t n);
char *sim_sprintf(const char *fmt, ...) SIM_PRINTF(1, 2);
/* ASCII whitespace stripped from both ends; a new string ("" for NULL). */
char *sim_strip(const char *s);
/* Lower-cases ASCII letters in place; returns s. */
char *sim_lower(char *s);
/* Monotonic clock in milliseconds. */
double sim_now_ms(void);

/* Growable byte buffer; always NUL-terminated when data != NULL. */
typedef struct sim_buf {
  char *data;
  size_t len, cap;
} sim_buf_t;

void sim_buf_init(sim_buf_t *b);
void sim_buf_free(sim_buf_t *b);
int sim_buf_add(sim_buf_t *b, const void *p, size_t n);
int sim_buf_adds(sim_buf_t *b, const char *s);
int sim_buf_addc(sim_buf_t *b, char c);
int sim_buf_printf(sim_buf_t *b, const char *fmt, ...) SIM_PRINTF(2, 3);
/* Hands the data to the caller (free with free); b is reset. An empty
 * buffer gives ""; NULL only when out of memory. */
char *sim_buf_steal(sim_buf_t *b);

struct MHD_Connection;

/* ---- wire formats and answers (sim_answer.c) --------------------------- */

typedef enum {
  SIM_RESPONSES,  /* OpenAI Responses */
  SIM_CHAT,       /* OpenAI Chat Completions */
  SIM_ANTHROPIC   /* Anthropic Messages */
} sim_format_t;

/* What the simulator reads from a model request body. */
typedef struct sim_request {
  char *model;         /* "" when absent; owned */
  char *last_user;     /* last user text, directive lines removed, stripped */
  long input_tokens;   /* words across every message text */
  int stream;          /* body has "stream": true */
  sim_buf_t directives; /* directive lines without "@sim ", '\n'-joined */
} sim_request_t;

/* Reads body (a JSON object) in the given format into out. Returns 0 or
 * SIM_ENOMEM. Free with sim_request_free. */
int sim_request_read(sim_format_t fmt, const cJSON *body,
                          sim_request_t *out);
void sim_request_free(sim_request_t *r);

/* Whitespace-separated words in s[0..n). */
long sim_words(const char *s, size_t n);

/* The normal answer as JSON. Returns a string the caller frees with
 * free (length in *len), NULL when out of memory. */
char *sim_answer_json(sim_format_t fmt, const char *model,
                           const char *text, long in_tokens, long out_tokens,
                           size_t *len);

/* The same answer as the format's server-sent-event stream; ownership as
 * for sim_answer_json. */
char *sim_answer_sse(sim_format_t fmt, const char *model,
                          const char *text, long in_tokens, long out_tokens,
                          size_t *len);

/* The answer as the model's refusal of the request, with refusal text
 * `text` (see PROTOCOL.md, fault=refusal): JSON, or the format's stream
 * when `stream`; ownership as for sim_answer_json. */
char *sim_refusal(sim_format_t fmt, const char *model,
                       const char *text, long in_tokens, long out_tokens,
                       int stream, size_t *len);

/* A provider-shaped error body for HTTP status `status` (error types per
 * PROTOCOL.md); ownership as for sim_answer_json. */
char *sim_error_json(sim_format_t fmt, int status,
                          const char *message, size_t *len);

/* The byte offset in a stream from sim_answer_sse just after its
 * opening events and its first `deltas` delta events (all of them when
 * it has fewer): where mid-stream faults strike. */
size_t sim_sse_offset(sim_format_t fmt, const char *sse,
                           size_t len, long deltas);

/* An error event of the format's stream for HTTP status `status` (see
 * PROTOCOL.md), appended to b. Returns 0 or SIM_ENOMEM. */
int sim_error_event(sim_buf_t *b, sim_format_t fmt, int status,
                         const char *message);

/* ---- directives, times counters and scripts (sim_fault.c) -------------- */

typedef enum {
  SIM_FAULT_NONE,
  SIM_FAULT_RESET,
  SIM_FAULT_RESET_BODY,
  SIM_FAULT_HANG,
  SIM_FAULT_SLOW,
  SIM_FAULT_TRUNCATED,
  SIM_FAULT_INVALID_JSON,
  SIM_FAULT_HTML,
  SIM_FAULT_EMPTY,
  SIM_FAULT_BAD_SHAPE,
  SIM_FAULT_ANTHROPIC_ERROR,
  SIM_FAULT_OVERSIZE,
  SIM_FAULT_BAD_UTF8,
  SIM_FAULT_DEEP,
  SIM_FAULT_SSE,
  SIM_FAULT_SSE_CUT,    /* stream closed after `after` deltas */
  SIM_FAULT_SSE_STALL,  /* stream stops (connection kept) there */
  SIM_FAULT_SSE_ERROR,  /* an error event there, then the end */
  SIM_FAULT_JSON,       /* JSON even when a stream is asked for */
  SIM_FAULT_REFUSAL     /* the model refuses (JSON or stream) */
} sim_fault_t;

/* The faults answered with an event stream. */
#define SIM_FAULT_IS_SSE(f) \
  ((f) >= SIM_FAULT_SSE && (f) <= SIM_FAULT_SSE_ERROR)

/* A parsed directive; the zero value (after _init) means "no effect". */
typedef struct sim_directive {
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
  sim_fault_t fault;
  long slow_ms;
  long size;
  long depth;
  long after;               /* deltas before a mid-stream fault (1) */
  int error_status;         /* status the sse_error event stands for */
  char *reply;              /* owned; NULL: echo answer */
  sim_buf_t text;          /* all directive text seen, the times key */
} sim_directive_t;

/* Parses a whole decimal integer in [lo, hi] into *out; 0 or -1. */
int sim_parse_long(const char *s, long lo, long hi, long *out);

/* "reset", "hang", ...; "none" for SIM_FAULT_NONE. */
const char *sim_fault_name(sim_fault_t f);

void sim_directive_init(sim_directive_t *d);
void sim_directive_free(sim_directive_t *d);

/* Adds the tokens of one directive line (without the "@sim " prefix) to d;
 * later tokens override earlier ones. Returns 0, SIM_ENOMEM, or
 * SIM_EINVAL with a message naming the bad token in err (size errcap). */
int sim_directive_add(sim_directive_t *d, const char *line,
                           char *err, size_t errcap);

/* Counts one more request carrying d under its times key and reports
 * whether d still applies (1) or is used up (0). Thread-safe. */
int sim_directive_take(const sim_directive_t *d);

/* Loads a script file (JSON, see PROTOCOL.md). Returns 0 or a negative
 * SIM_E* code with a message naming the file and the bad field in err. */
int sim_script_load(const char *path, char *err, size_t errcap);

/* The directive line the script gives a request whose last user text is
 * `text`, advancing that rule's counter; NULL when no rule matches. The
 * pointer stays valid until sim_script_free. Thread-safe. */
const char *sim_script_next(const char *text);

/* Zeroes every times counter and script counter. Thread-safe. */
void sim_fault_reset(void);

/* Frees the script and the times counters (at exit). */
void sim_fault_free(void);

/* ---- the HTTP server (sim_server.c) ------------------------------------ */

/* Starts serving on 127.0.0.1:port (0: ephemeral) with the given extra
 * latency for every model answer; quiet turns off the per-request log
 * on stderr. Returns the bound port, or a negative SIM_E* code with a
 * message in err. Needs the timer running. */
int sim_server_start(int port, long latency_ms, int quiet, char *err,
                          size_t errcap);

/* Stops serving: resumes suspended connections (via sim_timer_stop),
 * closes every connection and frees the server's state. */
void sim_server_stop(void);

/* ---- timer resuming suspended connections (sim_timer.c) ---------------- */

int sim_timer_start(void);

/* Suspends conn and resumes it once delay_ms have passed (delay_ms < 0:
 * never, until shutdown). Must be called from an MHD callback for conn.
 * Returns 0, or -1 once sim_timer_stop has run (conn not suspended). */
int sim_timer_suspend(struct MHD_Connection *conn, double delay_ms);

/* Stops the timer thread and resumes every connection still suspended, so
 * the daemon can be stopped. No suspension succeeds afterwards. */
void sim_timer_stop(void);

#endif
