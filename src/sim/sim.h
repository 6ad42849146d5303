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
/* Prints and deletes j (NULL: none) compactly; the text is malloc'ed
 * (caller frees), its length in *len; NULL when out of memory. */
char *sim_json_print(cJSON *j, size_t *len);
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
  SIM_ANTHROPIC,  /* Anthropic Messages */
  SIM_EMBEDDINGS  /* OpenAI Embeddings (errors in the OpenAI shape) */
} sim_format_t;

/* What the simulator reads from a model request body. */
typedef struct sim_request {
  char *model;         /* "" when absent; owned */
  char *last_user;     /* last user text, directive lines removed, stripped */
  long input_tokens;   /* words across every message text */
  int stream;          /* body has "stream": true */
  sim_buf_t directives; /* directive lines without "@sim ", '\n'-joined */
  const cJSON *body;   /* the request body (borrowed) */
  sim_buf_t attachments; /* " [N attachments: ...]" of the last user
                          * message, empty when it has none */
  int has_results;     /* the last turn carries tool results */
  long results_seen;   /* tool results in the whole request */
  sim_buf_t results;   /* their answer text ("tool result: ..." lines) */
  char **inputs;       /* embeddings: the input texts (owned) */
  size_t ninputs;
  char *invalid;       /* set: answer 400 with this message (owned) */
} sim_request_t;

/* Reads body (a JSON object) in the given format into out. Returns 0 or
 * SIM_ENOMEM. Free with sim_request_free. */
int sim_request_read(sim_format_t fmt, const cJSON *body,
                     sim_request_t *out);
void sim_request_free(sim_request_t *r);

/* Whitespace-separated words in s[0..n). */
long sim_words(const char *s, size_t n);

/* One tool call of an answer: the tool's name and its arguments as
 * compact JSON text (an object). */
typedef struct sim_call {
  char *name;
  char *args;
} sim_call_t;

void sim_calls_free(sim_call_t *calls, size_t n);

/* An answer to render: text, or tool calls when ncalls > 0. */
typedef struct sim_answer {
  const char *model;
  const char *text;
  const sim_call_t *calls;
  size_t ncalls;
  long in_tokens, out_tokens;
  int refusal;         /* the text is the model's refusal */
  long id_base;        /* call i has ids numbered id_base + i + 1 */
} sim_answer_t;

/* Renders a as the format's JSON answer, or (stream) its server-sent
 * event stream; then *cut (when not NULL) is the byte offset just after
 * the opening events and the first `after` delta events (all of them
 * when there are fewer): where mid-stream faults strike. Returns a
 * malloc'ed string (length in *len), NULL when out of memory. */
char *sim_render(sim_format_t fmt, const sim_answer_t *a, int stream,
                 long after, size_t *cut, size_t *len);

/* The plain text answer as JSON (sim_render without stream). */
char *sim_answer_json(sim_format_t fmt, const char *model, const char *text,
                      long in_tokens, long out_tokens, size_t *len);

/* A provider-shaped error body for HTTP status `status` (error types per
 * PROTOCOL.md); ownership as for sim_render. */
char *sim_error_json(sim_format_t fmt, int status, const char *message,
                     size_t *len);

/* An error event of the format's stream for HTTP status `status` (see
 * PROTOCOL.md), appended to b. Returns 0 or SIM_ENOMEM. */
int sim_error_event(sim_buf_t *b, sim_format_t fmt, int status,
                    const char *message);

/* ---- tools, schemas and embeddings (sim_rich.c) ------------------------ */

struct sim_directive;

/* The tool calls to answer with: the calls of the directive's first step
 * whose calls do not all have results yet (`tool=`, `then=`, `repeat=`),
 * else the call a forcing tool_choice asks for unless the last turn
 * carries tool results or d turns schema answers off. Returns 0 (*calls
 * NULL and *n 0 when none) or SIM_ENOMEM / SIM_EINVAL (message in
 * err). */
int sim_plan_calls(sim_format_t fmt, const sim_request_t *q,
                   const struct sim_directive *d, sim_call_t **calls,
                   size_t *n, char *err, size_t errcap);

/* The JSON text answering a request that carries a JSON schema (a
 * minimal instance of it), NULL when it carries none or out of memory
 * (*nomem set then). */
char *sim_schema_answer(sim_format_t fmt, const cJSON *body, int *nomem);

/* The embeddings answer for q; ownership as for sim_render. */
char *sim_embeddings_json(const sim_request_t *q, size_t *len);

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
  char **tools;             /* tool= names (owned), in order */
  char **tool_args;         /* their args= (owned; NULL: from schema) */
  int *tool_step;           /* their step: then= starts the next one */
  size_t ntools;
  int step;                 /* the step tool= adds to */
  int repeat;               /* the last step repeats for later turns */
  int schema_json;          /* 0: no schema answers or forced calls */
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
