/*
 * transport.h -- one wire format per file behind a small vtable:
 * transport_responses.c, transport_chat.c, transport_anthropic.c,
 * transport_litellm.c. A transport builds the URL and fixed headers once
 * per provider, the JSON body per attempt, and parses a 2xx body into
 * text and usage. Shared helpers (URL cleaning, the Bearer header set, the
 * 2xx decode with SSE fallback) live in transport.c. Pure: no network.
 */
#ifndef LGW_TRANSPORT_H
#define LGW_TRANSPORT_H

#include <stddef.h>

#include "config.h"
#include "json.h"
#include "llmgateway.h"
#include "util.h"

/* A tool call read from an answer (or being assembled from a stream). */
typedef struct lgw__tcall {
  char *id;             /* owned; "" when the answer gave none */
  char *name;           /* owned; "" when none */
  lgw__buf_t args;      /* the arguments JSON text as sent */
  long key;             /* streams: the index its pieces name */
  size_t shown;         /* bytes of args handed to on_tool_delta */
  int announced;        /* on_tool_delta saw it */
} lgw__tcall_t;

typedef struct lgw__tcalls {
  lgw__tcall_t *v;
  size_t n, cap;
} lgw__tcalls_t;

void lgw__tcalls_free(lgw__tcalls_t *l);
/* The call with key `key`, NULL when none. */
lgw__tcall_t *lgw__tcalls_find(lgw__tcalls_t *l, long key);
/* A new call with key `key` at the end (id and name ""); NULL: no memory. */
lgw__tcall_t *lgw__tcalls_add(lgw__tcalls_t *l, long key);
/* Replace *dst (owned) with the decoded JSON string s (nul: as
 * lgw__json_parse reported). */
int lgw__tcall_set(char **dst, const char *s, int nul);
/* t's id and name from id and name where each is a non-empty JSON
 * string (else that one is left as it is). */
struct cJSON;
int lgw__tcall_names(lgw__tcall_t *t, const struct cJSON *id,
                     const struct cJSON *name, int nul);

/* What one attempt sends. */
typedef struct lgw__call {
  const lgw_message_t *messages;
  size_t nmessages;
  const char *model;             /* normalised */
  const char *reasoning_effort;  /* "" when none */
  double temperature;
  long max_tokens;
  int stream;                    /* 1: ask for SSE (streaming issue) */
  /* rich messages: used instead of messages when nrich > 0 */
  const lgw_rich_message_t *rich;
  size_t nrich;
  /* tools (lgw_request_t's, borrowed) */
  const lgw_tool_t *tools;
  size_t ntools;
  const char *tool_choice;       /* NULL: unset */
  const char *tool_choice_name;  /* NULL: unset */
  int parallel_tool_calls;       /* 0 unset, 1 true, -1 false */
  /* structured output and common parameters (as in lgw_request_t) */
  const char *schema_json;
  const char *schema_name;
  int schema_strict;
  const char *const *stop;
  size_t nstop;
  int has_top_p;
  double top_p;
  int has_seed;
  long long seed;
  const char *user;
  const char *metadata_json;
  /* merged last by lgw__transport_body: the provider's, then the
   * request's */
  const char *extra_body;
  const char *extra;
} lgw__call_t;

/* What a 2xx body gave. */
typedef struct lgw__reply {
  char *text;           /* owned; "" when the body had no text */
  size_t text_len;
  long input_tokens;    /* -1 when absent */
  long output_tokens;   /* -1 when absent */
  long cached_tokens;   /* -1 when absent */
  long reasoning_tokens;  /* -1 when absent */
  /* The model refused: its refusal text (owned, "" when it gave none);
   * NULL when it did not refuse. */
  char *refusal;
  size_t refusal_len;
  /* Why the answer ended, normalised: "stop", "length", "tool_calls",
   * "content_filter" (static); NULL when not given or not one of these. */
  const char *finish_reason;
  lgw__tcalls_t calls;  /* the tool calls asked for, in order */
} lgw__reply_t;

void lgw__reply_free(lgw__reply_t *r);
/* Every usage count of r set to -1 (absent). */
void lgw__reply_no_usage(lgw__reply_t *r);
/* Before parsing into r: no usage, no refusal, no finish reason. */
void lgw__reply_begin(lgw__reply_t *r);
/* r's text is empty or only whitespace (a U+0000 is not whitespace). */
int lgw__reply_blank(const lgw__reply_t *r);
/* s[0..n) is empty or only ASCII whitespace. */
int lgw__blank_n(const char *s, size_t n);
/* A provider's finish or stop reason normalised as for
 * lgw__reply_t.finish_reason: Chat's finish_reason, Anthropic's
 * stop_reason (end_turn, stop_sequence -> "stop"; max_tokens -> "length";
 * tool_use -> "tool_calls"; refusal -> "content_filter"); NULL for others. */
const char *lgw__finish_reason(const char *raw);
/* Set r->refusal to a copy of s[0..n) (may hold NUL bytes). */
int lgw__reply_set_refusal(lgw__reply_t *r, const char *s, size_t n);

/* A streamed answer being read: what its events gave so far. */
typedef struct lgw__stream {
  lgw__reply_t reply;   /* usage so far; text only after lgw__stream_take */
  lgw__buf_t text;      /* the deltas joined */
  lgw__buf_t delta;     /* the text the last event added ("" when none) */
  int done;             /* the format's terminal event was seen */
  long part;            /* key of the current text part, -1 before any */
  const char *event;    /* the current event's name ("" or NULL: none),
                           set by the caller before stream_event */
  int refused;          /* the model refused; its text in refusal */
  lgw__buf_t refusal;
  const char *finish_reason;  /* normalised, as in lgw__reply_t */
  lgw__tcalls_t calls;  /* tool calls being assembled, by key */
} lgw__stream_t;

void lgw__stream_init(lgw__stream_t *s);
void lgw__stream_free(lgw__stream_t *s);
/* Append text t[0..n) of part `part` to the text and the delta; the first
 * text of a new part after some text starts with "\n", as parts are
 * joined in a non-streamed answer. */
int lgw__stream_text(lgw__stream_t *s, long part, const char *t, size_t n);
/* The same for a JSON string value t of an event parsed by
 * lgw__json_parse (nul: as it reported). */
int lgw__stream_json_text(lgw__stream_t *s, long part, const char *t,
                          int nul);
/* The same for a string value read in place (json.h): 0 or LGW_ENOMEM. */
int lgw__stream_jv_text(lgw__stream_t *s, long part, const lgw__jv_t *v);
/* Data that is not JSON in an event the transport reads: LGW_ERESPONSE
 * "malformed event (not JSON): <its first bytes>". */
int lgw__stream_malformed(const char *data, size_t len, lgw_error_t *err);
/* Move the final text, usage, refusal and finish reason to *out (owned by
 * the caller). */
int lgw__stream_take(lgw__stream_t *s, lgw__reply_t *out);

typedef struct lgw__transport {
  const char *name;     /* "responses", "openai_chat", "anthropic", ... */
  /* Endpoint URL for a provider (owned by caller). */
  char *(*url)(const lgw__provider_t *p);
  /* Fixed request headers as "Name: value" lines, in order (caller frees
   * the list with lgw__kvlist_free; key = name, value = value). */
  int (*headers)(const lgw__provider_t *p, lgw__kvlist_t *out);
  /* JSON body for one attempt (owned by caller). */
  int (*body)(const lgw__call_t *c, char **out, size_t *len,
              lgw_error_t *err);
  /* Parse a 2xx body. content_type may be NULL. A body that is not JSON
   * (nor SSE carrying JSON) gives LGW_ERESPONSE with a short reason; an
   * error object inside a 200 (Anthropic {"type":"error"}) gives
   * LGW_EHTTP with the provider's message. Valid JSON without text gives
   * 0 and text "" (the gateway treats empty text as retryable). */
  int (*parse)(const char *body, size_t len, const char *content_type,
               lgw__reply_t *out, lgw_error_t *err);
  /* Fold one server-sent event's data (NUL-terminated; its name in
   * s->event) into s: text deltas (into s->delta, empty on entry, and
   * s->text), usage, a refusal, the finish reason, the terminal event
   * (s->done). Blank data and JSON that is not an object are ignored;
   * data that is not JSON gives LGW_ERESPONSE (lgw__stream_malformed). An
   * error event gives LGW_EHTTP with the provider's message and
   * err->http_status set to the status that error type stands for. */
  int (*stream_event)(lgw__stream_t *s, const char *data, size_t len,
                      lgw_error_t *err);
} lgw__transport_t;

const lgw__transport_t *lgw__transport_for(lgw__style_t style);

extern const lgw__transport_t lgw__transport_responses;
extern const lgw__transport_t lgw__transport_chat;
extern const lgw__transport_t lgw__transport_anthropic;
extern const lgw__transport_t lgw__transport_litellm;

/* ---- helpers shared by the transports (transport.c) ------------------ */

/* base_url stripped of whitespace and all trailing slashes (caller frees). */
char *lgw__clean_base(const char *base_url);
/* The provider's configured headers (those with non-blank names) added
 * to out. */
int lgw__provider_headers(const lgw__provider_t *p, lgw__kvlist_t *out);
/* content-type: application/json, authorization: Bearer <key> when the
 * key is non-blank, then the provider's headers (non-blank names). */
int lgw__openai_headers(const lgw__provider_t *p, lgw__kvlist_t *out);
/* Decode a 2xx body: JSON; else SSE when content-type says
 * text/event-stream or the body starts with "event:"/"data:" (§10.1).
 * *out is a cJSON tree (caller cJSON_Delete). */
struct cJSON;
int lgw__decode_body(const char *body, size_t len, const char *content_type,
                     struct cJSON **out, int *nul, lgw_error_t *err);

/* A short, single-line message from a non-2xx body: error.message (OpenAI
 * and Anthropic shapes), else the first 200 bytes of the body with control
 * characters replaced; "" for an empty body. Written to out (cap bytes). */
void lgw__error_body_message(const char *body, size_t len, char *out,
                             size_t cap);

/* The HTTP status a provider's error type (or code) stands for:
 * invalid_request_error 400, authentication_error 401, permission_error
 * 403, not_found_error 404, rate_limit_error / rate_limit_exceeded 429,
 * overloaded_error 529, ...; 500 for anything else. */
int lgw__error_type_status(const char *type);
/* An error object {"type"|"code", "message"} as LGW_EHTTP "<type>:
 * <message>" with err->http_status from lgw__error_type_status. */
int lgw__error_object(const struct cJSON *e, lgw_error_t *err);

/* Note on parse() for Anthropic: an error object inside a 200 body or an
 * SSE error event gives LGW_EHTTP with "<error type>: <message>" and sets
 * err->http_status to the status the API uses for that type
 * (overloaded_error 529, rate_limit_error 429, api_error 500,
 * invalid_request_error 400, ...), so the gateway passes err->http_status
 * to lgw__retry_classify and retries or fails over as for that status. */


/* Message roles after strip + lower-case; NULL, "" and blank are USER. */
typedef enum {
  LGW__ROLE_USER, LGW__ROLE_ASSISTANT, LGW__ROLE_SYSTEM,
  LGW__ROLE_DEVELOPER, LGW__ROLE_OTHER
} lgw__role_t;
lgw__role_t lgw__role_kind(const char *role);

/* Endpoint from a base URL (caller frees): the cleaned base as-is when it
 * ends with as_is; base + path when it ends with "/v1"; else base + "/v1"
 * + path; a query string in base_url stays at the end
 * (https://h/v1?api-version=1 -> https://h/v1/chat/completions?api-version=1).
 * A blank base gives "". */
char *lgw__endpoint_url(const char *base_url, const char *as_is,
                        const char *path);

/* Responses and Anthropic answers up to this many bytes are read in
 * place (json.h), larger ones through a cJSON tree: a large answer is
 * mostly one long string, which their walks of content lists go over
 * again, while cJSON copies it once (tests/bench/RESULTS.md, "JSON of one
 * answer"). A Chat answer is read in one pass at any size. */
#define LGW__IN_PLACE_MAX 65536

/* The same helpers on values read in place (json.h): each gives 0,
 * LGW_ENOMEM or LGW__JV_UNSURE, and on UNSURE leaves its output as it
 * was. lgw__finish_reason of a string
 * value (*out NULL for anything else); a string value decoded into *dst
 * (owned, replaced) unless it is no string, or empty and nonempty is
 * set. */
int lgw__jv_finish(const lgw__jv_t *v, const char **out);
int lgw__jv_set_str(char **dst, const lgw__jv_t *v, int nonempty);
/* The end of an answer read in place with result rc so far: when rc is
 * 0, out takes the text (b's bytes, "" when none), the usage counts of
 * usage, finish and the calls (moved; calls may be NULL). text and calls
 * are freed either way. Returns rc, or LGW_ENOMEM. */
int lgw__reply_fill(lgw__reply_t *out, int rc, lgw__buf_t *text,
                    const lgw__reply_t *usage, const char *finish,
                    lgw__tcalls_t *calls);
/* An answer of at most max bytes read in one pass (lgw__jv_read of
 * picks top[0..ntop) into v[0..nv)): 0, or LGW__JV_UNSURE when a cJSON
 * tree must read it, also when the answer is not an object when object
 * is set. */
int lgw__read_in_place(const char *body, size_t len, size_t max, int object,
                       const lgw__jv_pick_t *top, size_t ntop, lgw__jv_t *v,
                       size_t nv);
/* An answer read by fast: 0 (out filled), LGW_ENOMEM (written to err),
 * or LGW__JV_UNSURE when a cJSON tree must read it. */
int lgw__parse_in_place(const char *body, size_t len,
                        int (*fast)(const char *, size_t, lgw__reply_t *),
                        lgw__reply_t *out, lgw_error_t *err);
/* A pick (json.h) of member key without picks inside, and with the
 * picks of array sub. */
#define LGW__PICK(key, slot) {key, sizeof key - 1, slot, 0, NULL}
#define LGW__PICKS(key, slot, sub) \
  {key, sizeof key - 1, slot, sizeof sub / sizeof sub[0], sub}
/* lgw__openai_usage_jv of a usage object read with lgw__jv_read: v[0]
 * and v[1] the input and output counts, v[2] the cached_tokens of the
 * input details, v[3] the reasoning_tokens of the output details. */
int lgw__usage_read(const lgw__jv_t *v, lgw__reply_t *out);
/* Copy s[0..n) into out->text (owned). */
int lgw__reply_set_text(lgw__reply_t *out, const char *s, size_t n);
/* Append the non-empty text parts of a content list (strings, and objects'
 * "text" strings) to b, separated by "\n". Returns the number of parts
 * appended, or LGW_ENOMEM. nul: as lgw__json_parse reported. */
int lgw__json_text_parts(const struct cJSON *list, lgw__buf_t *b, int nul);

/* Chat Completions wire format, shared with the LiteLLM proxy transport
 * (transport_chat.c). tokens_key is "max_completion_tokens" or
 * "max_tokens"; with_effort adds reasoning_effort when non-empty. */
char *lgw__chat_url(const lgw__provider_t *p);
int lgw__chat_body(const lgw__call_t *c, const char *tokens_key,
                   int with_effort, char **out, size_t *len,
                   lgw_error_t *err);
/* py_str: a non-text scalar content becomes its Python str() (Chat); else
 * only string content and text parts count (LiteLLM). */
int lgw__chat_parse(const char *body, size_t len, const char *content_type,
                    int py_str, lgw__reply_t *out, lgw_error_t *err);
/* The start of a Responses or Anthropic stream event: strips data, skips
 * an empty event (and "[DONE]" when done_marker), reads a text delta in
 * place with fast, else parses the event into *o (its "type" in *type,
 * "" when none; *nul: it held an escaped NUL). Returns 1 when the caller
 * goes on with *o; 0 when the event is finished and *rc is its result. */
int lgw__stream_event_open(lgw__stream_t *s, const char *data, size_t len,
                           int done_marker,
                           int (*fast)(lgw__stream_t *, const char *, size_t),
                           struct cJSON **o, const char **type, int *nul,
                           int *rc, lgw_error_t *err);
/* The end of a stream event: frees o and returns rc (LGW_ENOMEM written
 * to err). */
int lgw__stream_event_end(struct cJSON *o, int rc, lgw_error_t *err);
/* A stream event that is an error: the transport's error event by name
 * (s->event "error": its data is the error object, flat or under
 * "error"), or data {"error": {...}}. LGW_EHTTP as lgw__error_object, or
 * 0 when o is no error. */
int lgw__stream_error_event(const lgw__stream_t *s, const struct cJSON *o,
                            lgw_error_t *err);
/* Chat Completions chunk streams (also LiteLLM). */
int lgw__chat_stream_event(lgw__stream_t *s, const char *data, size_t len,
                           lgw_error_t *err);


/* The end of reading an OpenAI-format answer root (cJSON_Delete'd here)
 * whose text was gathered into text (freed here) with result rc: the text
 * goes to out. Without text, an "error" object at the root is an error:
 * LGW_EHTTP, "error object in a 2xx answer: <type>: <message>", with
 * err->http_status from its type as lgw__error_object. */
int lgw__openai_reply_end(struct cJSON *root, lgw__buf_t *text, int rc,
                          lgw__reply_t *out, lgw_error_t *err);

/* ---- rich requests (transport_rich.c) --------------------------------- */

/* A body builder's error already written to err (LGW_EINVAL): returned
 * by the helpers below; lgw__body_finish turns it into LGW_EINVAL. */
#define LGW__EREPORTED (-1000)
/* err = LGW_EINVAL with the message; returns LGW__EREPORTED. */
int lgw__rich_fail(lgw_error_t *err, const char *fmt, ...) LGW__PRINTF(2, 3);
/* Bytes as a quoted base64 string; as a quoted data URL
 * "data:<media_type>;base64,<...>". */
int lgw__json_add_b64(lgw__buf_t *b, const void *p, size_t n);
int lgw__json_add_data_url(lgw__buf_t *b, const char *media_type,
                           const void *p, size_t n);
/* Tool call ci of message mi (both 1-based) needs an id and a name:
 * LGW__EREPORTED when one is blank, else 0. */
int lgw__tool_call_check(const lgw_tool_call_t *t, size_t mi, size_t ci,
                         lgw_error_t *err);
/* An image part's source: its data as a quoted data URL, else its url
 * quoted. */
int lgw__json_add_image_src(lgw__buf_t *b, const lgw_part_t *p);
/* A file part's `"filename":...,"file_data":"data:..."` (a blank filename
 * is sent as "file"). */
int lgw__json_add_file_fields(lgw__buf_t *b, const lgw_part_t *p);
/* Tool i (0-based) up to its schema: `,` when i > 0, then open (which
 * ends with the name key), the name, "description" when set and
 * `"<schema_key>":` with the parameters object; the caller closes it. A
 * blank name is an error. */
int lgw__json_add_tool(lgw__buf_t *b, const lgw_tool_t *t, size_t i,
                       const char *open, const char *schema_key,
                       lgw_error_t *err);
/* JSON text that must be one object (what names it in the error):
 * appended as given (stripped); NULL or blank appends dflt. */
int lgw__json_add_object(lgw__buf_t *b, const char *json, const char *dflt,
                         const char *what, lgw_error_t *err);
/* The number of messages of c, and message i as a rich message (a plain
 * one is copied into *tmp). */
size_t lgw__call_nmsgs(const lgw__call_t *c);
const lgw_rich_message_t *lgw__call_msg(const lgw__call_t *c, size_t i,
                                        lgw_rich_message_t *tmp);
/* The message is a tool result: role "tool" (any case, stripped) with a
 * non-blank tool_call_id. */
int lgw__msg_is_tool_result(const lgw_rich_message_t *m);
/* A part's checks common to every API (1-based mi, pi for messages): an
 * image needs a url or data with a media_type, a file data with a
 * media_type. */
int lgw__part_check(const lgw_part_t *p, size_t mi, size_t pi,
                    lgw_error_t *err);
/* "text", "image", "image image/png", "file application/pdf". */
const char *lgw__part_desc(const lgw_part_t *p, char *buf, size_t cap);
/* The text of message m (1-based index mi): its content, or its parts
 * joined with "\n" when it has parts; a non-text part is an error naming
 * it, api and the role. */
int lgw__msg_text(const lgw_rich_message_t *m, size_t mi, const char *api,
                  const char *role, lgw__buf_t *b, lgw_error_t *err);
/* ",\"tool_choice\":..." and ",\"parallel_tool_calls\":..." for the
 * OpenAI formats (responses_style: {"type":"function","name"} rather than
 * Chat's {"type":"function","function":{"name"}}). */
int lgw__openai_tool_choice(lgw__buf_t *b, const lgw__call_t *c,
                            int responses_style, lgw_error_t *err);

/* Common parameters for the body being built, each only when set:
 * `,"<stop_key>":[...]` (stop_key NULL: not sent), `,"top_p":`,
 * `,"seed":` (with_seed), `,"user":` (user_key NULL: not sent) and
 * `,"metadata":` (with_metadata). */
int lgw__body_params(lgw__buf_t *b, const lgw__call_t *c,
                     const char *stop_key, int with_seed,
                     const char *user_key, int with_metadata,
                     lgw_error_t *err);
/* The JSON Schema of c as `,"schema":<object>` (checked); the OpenAI
 * form `"name":<n>,"strict":<b>,"schema":<object>`. */
int lgw__body_schema(lgw__buf_t *b, const lgw__call_t *c, lgw_error_t *err);
int lgw__body_schema_named(lgw__buf_t *b, const lgw__call_t *c,
                           lgw_error_t *err);
/* The body of t for c with c->extra_body, then c->extra, merged into it:
 * a key of theirs replaces the body's top-level member of that name (a
 * null removes it), new keys are appended in their order. */
int lgw__transport_body(const lgw__transport_t *t, const lgw__call_t *c,
                        char **out, size_t *len, lgw_error_t *err);

/* Body builders: `,"temperature":<t>` (LGW_EINVAL when t is not finite,
 * LGW_ENOMEM), and the end of a body built into b so far with result rc:
 * the closing brace, *out and *len take b's bytes; on failure b is freed
 * and err says why (rc LGW_EINVAL: the temperature). */
int lgw__body_temperature(lgw__buf_t *b, double t);
int lgw__body_finish(lgw__buf_t *b, int rc, char **out, size_t *len,
                     lgw_error_t *err);

/* OpenAI usage counts: in_key and out_key, cached_tokens from
 * "<in_key>_details", reasoning_tokens from "<out_key>_details". */
void lgw__openai_usage(const struct cJSON *usage, const char *in_key,
                       const char *out_key, lgw__reply_t *out);

#endif
