/*
 * llmgateway.h -- the public C API of llmgateway.
 *
 * A runtime is an immutable, validated configuration (providers, settings,
 * tasks) loaded from YAML. A gateway runs requests for a runtime on a libuv
 * loop: routing, HTTP through libcurl's multi interface, retries, provider
 * failover and the remembered preferred provider.
 *
 * Conventions: functions return 0 or a negative LGW_E* code and fill an
 * optional caller-owned lgw_error_t. Nothing here includes Lua headers.
 */
#ifndef LLMGATEWAY_H
#define LLMGATEWAY_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#if defined(__GNUC__)
#define LGW_API __attribute__((visibility("default")))
#else
#define LGW_API
#endif

#define LGW_VERSION_MAJOR 0
#define LGW_VERSION_MINOR 3
#define LGW_VERSION_PATCH 0
#define LGW_VERSION_STRING "0.3.0"
#define LGW_VERSION_HEX ((LGW_VERSION_MAJOR << 16) | \
                         (LGW_VERSION_MINOR << 8) | (LGW_VERSION_PATCH))

/* XX(NAME, value, lua code string, description) */
#define LGW_ERRNO_MAP(XX)                                               \
  XX(NOMEM,      -1, "nomem",        "out of memory")                   \
  XX(INVAL,      -2, "invalid",      "invalid argument")                \
  XX(CONFIG,     -3, "config",       "configuration error")             \
  XX(IO,         -4, "io",           "file error")                      \
  XX(CONNECT,    -5, "connect",      "connection failed")               \
  XX(TIMEOUT,    -6, "timeout",      "timed out")                       \
  XX(HTTP,       -7, "http",         "HTTP error status")               \
  XX(RATELIMIT,  -8, "rate_limited", "rate limited")                    \
  XX(AUTH,       -9, "auth",         "authentication or permission")    \
  XX(RESPONSE,  -10, "response",     "malformed response")              \
  XX(EMPTY,     -11, "empty",        "empty response text")             \
  XX(TOOBIG,    -12, "too_large",    "response too large")              \
  XX(NOMODEL,   -13, "no_model",     "no model configured")             \
  XX(NOPROVIDER,-14, "no_providers", "no providers configured")         \
  XX(EXHAUSTED, -15, "exhausted",    "all providers failed")            \
  XX(CANCELED,  -16, "canceled",     "canceled")                        \
  XX(VALIDATOR, -17, "validator",    "validator failed")                \
  XX(JSON,      -18, "json",         "JSON parse error")                \
  XX(DEADLINE,  -19, "deadline",     "request deadline passed")         \
  XX(REFUSED,   -20, "refused",      "the model refused to answer")     \
  XX(RESOURCE,  -21, "resource",     "out of a local resource")

typedef enum {
  LGW_OK = 0,
#define LGW__ERRNO_ENUM(name, val, code, desc) LGW_E##name = (val),
  LGW_ERRNO_MAP(LGW__ERRNO_ENUM)
#undef LGW__ERRNO_ENUM
  LGW__ERRNO_LAST = -22
} lgw_errno_t;

/* Error details. Fixed-size, no ownership: put it on the stack. */
typedef struct lgw_error {
  int code;            /* LGW_E* */
  int http_status;     /* last HTTP status seen, 0 if none */
  char message[1024];  /* never contains an API key */
} lgw_error_t;

LGW_API const char *lgw_err_name(int code);  /* "timeout", "exhausted" ... */
LGW_API const char *lgw_strerror(int code);  /* description */
LGW_API const char *lgw_version_string(void);

/* For code built on this API (bindings, hosts): set err->code (LGW_E*)
 * and err->message to the formatted text (cut to fit); err may be NULL;
 * http_status is left alone. Returns code. */
LGW_API int lgw_error_set(lgw_error_t *err, int code, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 3, 4)))
#endif
    ;

/* ---- allocator and logging --------------------------------------------- */

typedef void *(*lgw_malloc_fn)(size_t);
typedef void *(*lgw_realloc_fn)(void *, size_t);
typedef void (*lgw_free_fn)(void *);
/* Call before anything else; also routes cJSON's allocations. */
LGW_API int lgw_set_allocator(lgw_malloc_fn m, lgw_realloc_fn r,
                              lgw_free_fn f);
LGW_API void *lgw_malloc(size_t n);
LGW_API void *lgw_realloc(void *p, size_t n);
LGW_API void lgw_free(void *p);

typedef enum {
  LGW_LOG_ERROR = 0, LGW_LOG_WARN = 1, LGW_LOG_INFO = 2, LGW_LOG_DEBUG = 3
} lgw_log_level_t;
typedef void (*lgw_log_fn)(lgw_log_level_t level, const char *msg, void *ud);
/* Process-wide log hook. Default: warnings and errors to stderr.
 * fn == NULL restores the default. max_level filters. */
LGW_API void lgw_set_log(lgw_log_fn fn, void *ud, lgw_log_level_t max_level);
/* Log a formatted line through that hook. */
LGW_API void lgw_log(lgw_log_level_t level, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 2, 3)))
#endif
    ;

/* Process-wide setup: opens libcurl (the library does not link it, so a
 * program that never creates a gateway never loads it) and calls
 * curl_global_init; idempotent and thread-safe, called implicitly by
 * lgw_gateway_new. 0, or LGW_ENOMEM when libcurl cannot be loaded or
 * initialised (lgw_gateway_new then fails with the reason). */
LGW_API int lgw_global_init(void);

/* ---- values ------------------------------------------------------------- */

/*
 * A tree of plain values (null, boolean, number, string, array, object):
 * what a configuration file, a JSON text or a scripting language's table
 * is made of. Used to build a runtime from data (lgw_runtime_from_value),
 * to read a runtime back (lgw_runtime_dump, lgw_runtime_settings), and by
 * the configuration-file, state-file and JSON functions below.
 *
 * A value owns its children. Builders return NULL when out of memory;
 * lgw_value_append and lgw_value_set take ownership of item (also on
 * failure). Objects keep their keys in insertion order; a key may repeat,
 * and lgw_value_get finds the last one (as YAML and JSON readers do).
 * Strings are byte strings with a length (they may hold NUL bytes) and
 * are always NUL-terminated. Getters on a value of another type return
 * 0, 0.0, NULL or an empty count.
 */
typedef struct lgw_value lgw_value_t;

typedef enum {
  LGW_VALUE_NULL = 0,
  LGW_VALUE_BOOL = 1,
  LGW_VALUE_INT = 2,     /* an integer number */
  LGW_VALUE_NUMBER = 3,  /* any other number (a double) */
  LGW_VALUE_STRING = 4,
  LGW_VALUE_ARRAY = 5,
  LGW_VALUE_OBJECT = 6
} lgw_value_type_t;

LGW_API lgw_value_t *lgw_value_null(void);
LGW_API lgw_value_t *lgw_value_bool(int b);
LGW_API lgw_value_t *lgw_value_int(long long i);
LGW_API lgw_value_t *lgw_value_number(double d);
/* s[0..len) is copied; s may be NULL when len is 0. */
LGW_API lgw_value_t *lgw_value_string(const char *s, size_t len);
LGW_API lgw_value_t *lgw_value_array(void);
LGW_API lgw_value_t *lgw_value_object(void);
/* 0, LGW_ENOMEM, or LGW_EINVAL when array is not an array (object not an
 * object, key NULL). key[0..keylen) is copied. */
LGW_API int lgw_value_append(lgw_value_t *array, lgw_value_t *item);
LGW_API int lgw_value_set(lgw_value_t *object, const char *key,
                          size_t keylen, lgw_value_t *item);
/* lgw_value_set with a key that is itself a scalar value (YAML allows
 * numbers, booleans and null as keys); takes both. LGW_EINVAL for an
 * array or object key. */
LGW_API int lgw_value_insert(lgw_value_t *object, lgw_value_t *key,
                             lgw_value_t *item);
/* Deep copy; NULL when out of memory (or v is NULL). */
LGW_API lgw_value_t *lgw_value_copy(const lgw_value_t *v);
LGW_API void lgw_value_free(lgw_value_t *v);  /* NULL ok */

LGW_API lgw_value_type_t lgw_value_type(const lgw_value_t *v);
/* "null", "boolean", "integer", "number", "string", "list", "mapping" */
LGW_API const char *lgw_value_type_name(lgw_value_type_t type);
LGW_API int lgw_value_get_bool(const lgw_value_t *v);
/* INT: the integer; NUMBER: truncated toward zero. */
LGW_API long long lgw_value_get_int(const lgw_value_t *v);
/* INT or NUMBER as a double. */
LGW_API double lgw_value_get_number(const lgw_value_t *v);
/* STRING: its bytes (borrowed, NUL-terminated); *len (may be NULL)
 * receives the length. NULL for other types. */
LGW_API const char *lgw_value_get_string(const lgw_value_t *v, size_t *len);
/* ARRAY or OBJECT: number of items. */
LGW_API size_t lgw_value_count(const lgw_value_t *v);
/* The i-th item (0-based) of an array or object; NULL past the end. */
LGW_API lgw_value_t *lgw_value_at(const lgw_value_t *v, size_t i);
/* The i-th key of an object (borrowed; a YAML key that is not a string
 * gives its text); NULL past the end or for other types. */
LGW_API const char *lgw_value_key_at(const lgw_value_t *v, size_t i,
                                     size_t *len);
/* The i-th key of an object as a value: a string, or (from YAML or a
 * scripting language) another scalar; NULL past the end. */
LGW_API lgw_value_t *lgw_value_key_value(const lgw_value_t *v, size_t i);
/* Object member by exact key (the last one when it repeats), or NULL. */
LGW_API lgw_value_t *lgw_value_get(const lgw_value_t *object,
                                   const char *key);

/* ---- JSON --------------------------------------------------------------- */

/* Parse one whole JSON text (surrounding whitespace allowed; NaN and
 * Infinity accepted as Python's json does). Integral numbers below 2^53
 * in magnitude become INT values, other numbers NUMBER. LGW_EJSON with a
 * Python-style position: "JSON parse error: Expecting value: line 1
 * column 1 (char 0)". *out: lgw_value_free. */
LGW_API int lgw_json_parse(const char *text, size_t len, lgw_value_t **out,
                           lgw_error_t *err);
/* Find the JSON value in a model's answer: the whole text, a fenced
 * block (```json or bare ```) anywhere in it, or the first complete object
 * or array embedded in prose; otherwise LGW_EJSON as above. */
LGW_API int lgw_json_extract(const char *text, size_t len, lgw_value_t **out,
                             lgw_error_t *err);
/* JSON text of v, compact (no spaces), object keys in their order; INT
 * values print exactly, NUMBER values in the shortest form that reads
 * back to the same double ("1.0", "0.1", "1e+16"). LGW_EINVAL for a
 * non-finite number. *out: lgw_free, NUL-terminated; *len may be NULL. */
LGW_API int lgw_json_encode(const lgw_value_t *v, char **out, size_t *len,
                            lgw_error_t *err);
/* s[0..len) as a JSON string literal with its quotes ("a\"b\n"), for
 * writers of JSON text. NULL when out of memory; free with lgw_free. */
LGW_API char *lgw_json_quote(const char *s, size_t len, size_t *out_len);
/* A finite double in the shortest form that reads back exactly, as a JSON
 * number ("1.0", "0.1", "1e+16"); LGW_EINVAL for NaN and infinities. */
LGW_API int lgw_json_number(double d, char out[32]);

/* ---- runtime (validated configuration) --------------------------------- */

typedef struct lgw_runtime lgw_runtime_t;

/* Load and validate a YAML config file. Env references (${X}, ${X:-d},
 * env:X) are resolved. Errors name key path and file:line:column.
 * *out must be released with lgw_runtime_free. */
LGW_API int lgw_runtime_load_file(const char *path, lgw_runtime_t **out,
                                  lgw_error_t *err);
/* Same from a string; name is used in error positions. */
LGW_API int lgw_runtime_load_string(const char *yaml, size_t len,
                                    const char *name, lgw_runtime_t **out,
                                    lgw_error_t *err);
/* Runtimes are reference counted; a gateway holds a reference. */
LGW_API lgw_runtime_t *lgw_runtime_ref(lgw_runtime_t *rt);
LGW_API void lgw_runtime_free(lgw_runtime_t *rt);
LGW_API size_t lgw_runtime_provider_count(const lgw_runtime_t *rt);
/* Lower-case hex SHA-256 config key of the provider list (65 bytes). */
LGW_API const char *lgw_runtime_config_key(const lgw_runtime_t *rt);
/* Validate a value tree (an object with providers/provider, settings,
 * tasks, as in a config file) into a runtime, exactly as a file with that
 * content would be. Env references in strings are resolved; v is not
 * changed. name (may be NULL) is the source named in errors; without it
 * errors name only the key path. */
LGW_API int lgw_runtime_from_value(const lgw_value_t *v, const char *name,
                                   lgw_runtime_t **out, lgw_error_t *err);
/* The runtime as a value tree, as Python's dump_runtime_spec: version,
 * settings, tasks, then "providers" (a list) when more than one else
 * "provider". Unless with_keys, a non-empty api_key and every non-empty
 * header value are "<redacted>" and base_url has its userinfo and query
 * values redacted. NULL when out of memory; lgw_value_free. */
LGW_API lgw_value_t *lgw_runtime_dump(const lgw_runtime_t *rt,
                                      int with_keys);
/* Every setting with its effective value (defaults filled in), keyed as in
 * a config file: fallback_model, strong_model, weak_model ("" when
 * unset), max_concurrent, retry_max, transport_retries (integers),
 * timeout, worker_grace (numbers), state (the Redis URL, unredacted, or
 * null for the state file), state_prefix. NULL when out of memory;
 * lgw_value_free. */
LGW_API lgw_value_t *lgw_runtime_settings(const lgw_runtime_t *rt);
/* A copy of rt (a new runtime, refs 1) that differs only in
 * settings.max_concurrent = n; n below 1 is LGW_ECONFIG
 * "settings.max_concurrent: must be at least 1, got 0". */
LGW_API int lgw_runtime_with_max_concurrent(const lgw_runtime_t *rt, long n,
                                            lgw_runtime_t **out,
                                            lgw_error_t *err);

/* The provider key (lower-case hex SHA-256 of the provider's canonical
 * JSON, as the Python library computes it) of one provider object as
 * found in a config file, validated as such (no env resolution: the key
 * hashes the values given). LGW_ECONFIG when it is not a valid provider
 * ("not a provider mapping", or the bad key named). */
LGW_API int lgw_provider_key(const lgw_value_t *provider, char out[65],
                             lgw_error_t *err);
/* The config key of a provider list (an array, or an object of named
 * providers), as lgw_runtime_config_key of a runtime built from it. */
LGW_API int lgw_config_key(const lgw_value_t *providers, char out[65],
                           lgw_error_t *err);

/* ---- configuration and state files -------------------------------------- */

/*
 * File locations follow the environment at each call
 * (LLMGATEWAY_CONFIG_DIR, LLMGATEWAY_CONFIG_FILE, LLMGATEWAY_PROVIDER_STATE
 * ...; README "Files"). They are absolute, ~-expanded and symlink-resolved
 * (the file need not exist); owned by the caller (lgw_free); NULL only
 * when out of memory. path NULL or "": the default location.
 */
LGW_API char *lgw_user_config_dir(void);
LGW_API char *lgw_user_config_file(const char *path);
/* The file name itself is not resolved (a symlink there is refused by the
 * state-file functions, never followed). */
LGW_API char *lgw_provider_state_file(const char *path);

/* Read the user config file (path as lgw_user_config_file) into *out, env
 * references resolved: an empty object when the file does not exist or is
 * empty; LGW_EIO for an unreadable file (a directory), LGW_ECONFIG for
 * malformed YAML or a top level that is not a mapping. */
LGW_API int lgw_user_config_load(const char *path, lgw_value_t **out,
                                 lgw_error_t *err);
/* Write v (an object) as YAML to the user config file, atomically, mode
 * 0600. *written (may be NULL) receives the path written (lgw_free). */
LGW_API int lgw_user_config_write(const lgw_value_t *v, const char *path,
                                  char **written, lgw_error_t *err);

/* The provider-state file (config key -> preferred provider key): an
 * object of strings; empty when the file is missing; a file that is not a
 * state file is ignored with a warning (empty). */
LGW_API int lgw_provider_state_load(const char *path, lgw_value_t **out,
                                    lgw_error_t *err);
/* Under the file's lock, replace its mapping with state (merge 0) or merge
 * state's entries into what the file holds (merge 1); atomic, mode 0600.
 * state: an object whose keys and values are strings or numbers (written
 * as their text; else LGW_EINVAL); blank keys or values are dropped.
 * *written as above. */
LGW_API int lgw_provider_state_write(const lgw_value_t *state, int merge,
                                     const char *path, char **written,
                                     lgw_error_t *err);

/* Write data[0..len) to path atomically: parent directories created
 * (mode 0700), "<path>.tmp.<pid>.<n>" written, fsynced and renamed over
 * path, mode 0600 whatever the umask; a symlink at path is replaced, not
 * followed. LGW_EIO naming the path and the reason. */
LGW_API int lgw_write_file_atomic(const char *path, const void *data,
                                  size_t len, lgw_error_t *err);

/* ---- requests and results ---------------------------------------------- */

/*
 * Ownership: every pointer in a request (messages, parts, tool calls,
 * tools, strings, bytes) is borrowed; lgw_gateway_submit copies all of it,
 * so the caller may free or reuse it as soon as submit returns. Every
 * pointer in a result is borrowed for the completion callback only.
 *
 * lgw_message_t is unchanged; the fields marked 0.3.0 in lgw_request_t
 * and lgw_result_t were appended: a request zeroed before it is filled
 * (memset or an initializer) behaves as before.
 */

/* One part of a message's content. */
typedef enum {
  LGW_PART_TEXT = 0,   /* text */
  LGW_PART_IMAGE = 1,  /* url, or data + media_type (sent base64) */
  LGW_PART_FILE = 2    /* data + media_type (+ filename), sent base64 */
} lgw_part_type_t;

typedef struct lgw_part {
  lgw_part_type_t type;
  const char *text;        /* TEXT: NUL-terminated; NULL means "" */
  const char *url;         /* IMAGE: an https: or data: URL; NULL when the
                              image is given as data */
  const void *data;        /* IMAGE, FILE: the raw bytes (not base64) */
  size_t data_len;
  const char *media_type;  /* with data: "image/png", "application/pdf" */
  const char *detail;      /* IMAGE: "low" | "high" | "auto"; NULL: unset
                              (Responses then sends "auto", its default);
                              Anthropic has no such field and ignores it */
  const char *filename;    /* FILE: NULL: "file" */
} lgw_part_t;

/* A function call asked for by the model. In a request: part of an
 * assistant message being replayed; in a result: what the model asked. */
typedef struct lgw_tool_call {
  const char *id;              /* call id (Responses call_id, Anthropic
                                  tool_use id) */
  const char *name;            /* the tool's name */
  const char *arguments_json;  /* the arguments as JSON text (an object);
                                  NULL or "" means {}. In a result: exactly
                                  what the model sent, possibly invalid */
} lgw_tool_call_t;

typedef struct lgw_message {
  const char *role;     /* NULL or "" means "user" */
  const char *content;  /* NULL means "" */
} lgw_message_t;

/* A message with everything a plain lgw_message_t cannot say: content
 * parts, a participant name, tool calls, tool results. Sent through
 * lgw_request_t.rich_messages. Each transport sends the API's own shape;
 * a part an API cannot take (an image in a Chat system message, a CSV
 * document to Anthropic, image bytes without a media_type, ...) fails
 * that provider before anything is sent: an attempt with LGW_EINVAL and a
 * message naming the message, the part and the API, then failover; when
 * no provider can take the request it ends with LGW_EINVAL. */
typedef struct lgw_rich_message {
  const char *role;         /* NULL or "" means "user"; "tool" for a tool
                               result */
  const char *content;      /* NULL means ""; ignored when nparts > 0 */
  const lgw_part_t *parts;  /* the content as parts, in order */
  size_t nparts;
  const char *name;         /* participant name (Chat and LiteLLM send it;
                               Responses and Anthropic have no such field
                               and leave it out) */
  const lgw_tool_call_t *tool_calls;  /* assistant: the calls it made */
  size_t ntool_calls;
  const char *tool_call_id; /* role "tool": the call this answers (a
                               "tool" message without one is sent as a
                               plain message, as before 0.3.0) */
  int is_error;             /* role "tool": the result is an error
                               (Anthropic is_error; others ignore it) */
} lgw_rich_message_t;

/* A function the model may call. */
typedef struct lgw_tool {
  const char *name;
  const char *description;     /* NULL: none */
  const char *parameters_json; /* a JSON Schema object as JSON text; NULL:
                                  {"type":"object","properties":{}} */
  int strict;                  /* 1: strict schema adherence (Responses
                                  always sends strict, false by default;
                                  Chat only when 1; Anthropic ignores it) */
} lgw_tool_t;

/* Token usage of one answer; a count the response did not give is -1.
 * In a total (usage_total) the counts are sums of the known ones (0 when
 * none was known). cached_tokens: prompt tokens read from the provider's
 * cache (OpenAI cached_tokens, Anthropic cache_read_input_tokens);
 * reasoning_tokens: output tokens spent reasoning (OpenAI reasoning_tokens,
 * Anthropic thinking_tokens). Anthropic's counts are cumulative: the last
 * ones reported are kept, never summed. */
typedef struct lgw_usage {
  long input_tokens;
  long output_tokens;
  long cached_tokens;
  long reasoning_tokens;
} lgw_usage_t;

struct lgw_gateway;
/* A piece of streamed answer text, in order; the pieces of a successful
 * request join to its final text. text is borrowed for the call and not
 * NUL-terminated. Runs from the loop (like lgw_done_fn), never inside
 * libcurl; the request's completion callback runs after its last delta. */
typedef void (*lgw_delta_fn)(struct lgw_gateway *gw, uint64_t id,
                             const char *text, size_t len, void *ud);

/* A piece of a streamed tool call's arguments, for user interfaces:
 * index is the call's 0-based position in lgw_result_t.tool_calls, name
 * its name ("" while not yet known), piece[0..len) the arguments text it
 * added (may be empty: the call was announced). Borrowed for the call;
 * runs from the loop, after the text delta of the same event, calls in
 * their order. */
typedef void (*lgw_tool_delta_fn)(struct lgw_gateway *gw, uint64_t id,
                                  size_t index, const char *name,
                                  const char *piece, size_t len, void *ud);

typedef struct lgw_request {
  const char *task;                 /* NULL means "" */
  const lgw_message_t *messages;
  size_t nmessages;
  const char *model;                /* overrides; NULL or "" = unset */
  const char *tier;
  const char *reasoning_effort;
  int has_temperature;
  double temperature;
  long max_tokens;                  /* 0 = unset */
  double deadline;                  /* overall seconds; 0 = runtime's;
                                       >= 1e9 (or infinity) = none */
  /* Streaming (SSE): set on_delta to receive the text as it arrives.
   * Retries and failover happen only until the first delta; a stream that
   * breaks after it ends the request with an error carrying the partial
   * text (lgw_result_t.partial_text). */
  lgw_delta_fn on_delta;            /* NULL: not streamed */
  void *delta_ud;
  /* 0.3.0: rich messages. When nrich_messages > 0 they are the
   * conversation and messages/nmessages must be empty. */
  const lgw_rich_message_t *rich_messages;
  size_t nrich_messages;
  /* 0.3.0: tools. The model may answer with tool calls instead of (or
   * besides) text: lgw_result_t.tool_calls. */
  const lgw_tool_t *tools;
  size_t ntools;
  const char *tool_choice;          /* "auto" | "none" | "required";
                                       NULL: unset (the API's default) */
  const char *tool_choice_name;     /* force this tool (tool_choice is
                                       then ignored); NULL: unset */
  int parallel_tool_calls;          /* 0 unset, 1 true, -1 false */
  /* 0.3.0: structured output. The answer's text is JSON matching this
   * schema, enforced by the provider: Responses text.format, Chat
   * response_format (json_schema), Anthropic output_config.format. */
  const char *schema_json;          /* a JSON Schema object as JSON text;
                                       NULL: none */
  const char *schema_name;          /* NULL: "response" (Anthropic has no
                                       name) */
  int schema_strict;                /* 0 or 1: strict, -1: not strict
                                       (Anthropic has no such switch) */
  /* 0.3.0: common parameters, sent where the API has the field */
  const char *const *stop;          /* stop sequences: Chat stop,
                                       Anthropic stop_sequences; Responses
                                       has none (left out) */
  size_t nstop;
  int has_top_p;                    /* top_p: every API */
  double top_p;
  int has_seed;                     /* seed: Chat and LiteLLM only */
  long long seed;
  const char *user;                 /* end-user id: OpenAI user,
                                       Anthropic metadata.user_id */
  const char *metadata_json;        /* a JSON object of strings: OpenAI
                                       metadata; Anthropic has none (left
                                       out) */
  const char *extra_json;           /* a JSON object merged into the body
                                       last, after the provider's
                                       extra_body: each key replaces the
                                       body's; a null value removes it */
  /* 0.3.0: streamed tool-call pieces (only with on_delta: a streamed
   * request). Like a text delta, the first one commits the request to
   * this attempt (no retry or failover after it). */
  lgw_tool_delta_fn on_tool_delta;  /* NULL: none */
  void *tool_delta_ud;
} lgw_request_t;

/* One HTTP attempt (or a provider skipped before any HTTP). */
typedef struct lgw_attempt {
  int provider_index;        /* 1-based, in the order tried */
  const char *provider_type; /* "unknown" when blank */
  const char *base_url;      /* "<missing>" when blank */
  const char *model;         /* normalized model sent, "" if none */
  int http_status;           /* 0 when no HTTP response */
  int code;                  /* LGW_OK or LGW_E* */
  const char *message;       /* "" on success */
  double elapsed;            /* seconds */
  double retry_delay;        /* seconds slept before the next attempt */
  lgw_usage_t usage;         /* this attempt's, -1 counts when not given */
  double cost;               /* from settings.prices; -1 when unknown */
  double ttft;               /* seconds to the first delta; -1 if none */
  int configured_index;      /* 1-based index in the configured list */
} lgw_attempt_t;

typedef struct lgw_result {
  const char *task;
  const char *text;          /* NULL on failure */
  size_t text_len;
  const char *requested_model;
  const char *normalized_model;
  const char *reasoning_effort;
  double temperature;
  long max_tokens;
  int provider_index;        /* 1-based in configured order; 0 on failure */
  const char *provider_type;
  const char *api_style;     /* transport used: responses, openai_chat ... */
  const char *base_url;
  long input_tokens;         /* -1 when the response carried none */
  long output_tokens;
  const lgw_attempt_t *attempts;
  size_t nattempts;
  int providers_tried;       /* distinct providers with an attempt */
  lgw_usage_t usage;         /* the answering attempt's (-1: not given) */
  lgw_usage_t usage_total;   /* summed over every attempt of the request */
  double cost;               /* the answering attempt's; -1 when unknown */
  double cost_total;         /* summed over priced attempts; -1 if none */
  const char *partial_text;  /* failure after streamed deltas: the text
                                delivered so far; NULL otherwise */
  size_t partial_len;
  double ttft;               /* streamed: seconds from the answering
                                attempt's start to its first delta; -1 */
  const char *finish_reason; /* why the answer ended: "stop", "length"
                                (cut by max_tokens), "tool_calls",
                                "content_filter"; NULL when the provider
                                gave none we know */
  const char *refusal;       /* status LGW_EREFUSED: the model's refusal
                                text ("" when it gave none); else NULL */
  size_t refusal_len;
  /* 0.3.0 */
  const lgw_tool_call_t *tool_calls;  /* the calls the model asked for, in
                                         order (streamed ones assembled);
                                         NULL when none */
  size_t ntool_calls;
  const lgw_rich_message_t *message;  /* on success: the assistant message
                                         to append to the history (role
                                         "assistant", content = text,
                                         tool_calls); NULL on failure */
} lgw_result_t;

typedef struct lgw_gateway lgw_gateway_t;

/* Completion: status is 0 (res->text set; "" when the model answered
 * with tool calls only) or LGW_E*; err is NULL on success. When every
 * provider failed, status (and err->code) is the class of the last
 * attempt's failure (LGW_EAUTH, LGW_ETIMEOUT...), the attempts tell the
 * rest; LGW_EEXHAUSTED only when no attempt was made. res and err are
 * borrowed for the duration of the call. Runs from the loop, never inside
 * a libcurl callback. */
typedef void (*lgw_done_fn)(lgw_gateway_t *gw, uint64_t id, int status,
                            const lgw_result_t *res, const lgw_error_t *err,
                            void *ud);

struct uv_loop_s;

/* ---- events ------------------------------------------------------------ */

typedef enum {
  LGW_EVENT_ATTEMPT_END = 1,  /* one per attempt, as in lgw_attempt_t (a
                                 provider skipped by its open breaker has
                                 none: it appears in the error message) */
  LGW_EVENT_REQUEST_END = 2,  /* one per request, before its callback */
  LGW_EVENT_BREAKER_OPEN = 3, /* a provider's circuit breaker opened */
  LGW_EVENT_BREAKER_CLOSE = 4 /* ... closed again (a success) */
} lgw_event_type_t;

/* Every string is borrowed for the call and never NULL; no API key. */
typedef struct lgw_event {
  lgw_event_type_t type;
  uint64_t request_id;       /* the request (for breaker events: the one
                                whose attempt changed the breaker) */
  const char *task;
  int provider_index;        /* 1-based configured index; REQUEST_END: the
                                answering provider, 0 on failure */
  const char *provider_type; /* "" when none */
  const char *base_url;      /* redacted; "" when none */
  const char *model;         /* normalized model sent; "" when none */
  int attempt;               /* ATTEMPT_END: 1-based on this provider;
                                REQUEST_END: number of attempts */
  int http_status;           /* 0 when none */
  int code;                  /* LGW_OK or LGW_E* */
  const char *error_class;   /* lgw_err_name(code): "ok", "timeout"... */
  const char *message;       /* "" on success */
  double latency;            /* seconds: the attempt, or the whole request */
  double ttft;               /* seconds to the first streamed delta; -1 */
  double retry_delay;        /* seconds chosen before the next attempt */
  lgw_usage_t usage;         /* the attempt's; REQUEST_END: usage_total */
  double cost;               /* the attempt's; REQUEST_END: cost_total;
                                -1 when unknown */
  double breaker_cooldown;   /* BREAKER_OPEN: seconds the provider is
                                skipped; 0 otherwise */
} lgw_event_t;

/* Runs from the loop (queued, like completions), never inside libcurl or
 * a gateway call; it may submit, cancel or free the gateway. */
typedef void (*lgw_event_fn)(const lgw_event_t *ev, void *ud);

/* The type as a word: "attempt_end", "request_end", "breaker_open",
 * "breaker_close" ("unknown" for another value). */
LGW_API const char *lgw_event_name(lgw_event_type_t type);
/* ev as one line of JSON (no newline), the same keys in the same order
 * every time: "ts" (ts, wall-clock seconds), "type" (lgw_event_name),
 * then the fields of lgw_event_t in order ("status" for http_status;
 * usage as an object of its four counts), null where a count, ttft or
 * cost is unknown. *len (optional) gets its length; free with lgw_free;
 * NULL when out of memory. */
LGW_API char *lgw_event_json(const lgw_event_t *ev, double ts, size_t *len);

/* Monotonic seconds, for the circuit breakers and rate limiters (tests
 * inject one); NULL: the loop's clock. */
typedef double (*lgw_clock_fn)(void *ud);

typedef struct lgw_gateway_options {
  struct uv_loop_s *loop;   /* NULL: the gateway creates and owns one */
  const char *state_file;   /* NULL: resolve (LLMGATEWAY_PROVIDER_STATE...) */
  int no_state;             /* 1: never read or write a state file */
  uint64_t seed;            /* jitter seed; 0 = from time */
  lgw_event_fn on_event;    /* NULL: no events */
  void *event_ud;
  lgw_clock_fn clock;       /* NULL: real monotonic time */
  void *clock_ud;
} lgw_gateway_options_t;

/* Create a gateway; takes a reference on rt. opts may be NULL. */
LGW_API int lgw_gateway_new(lgw_runtime_t *rt,
                            const lgw_gateway_options_t *opts,
                            lgw_gateway_t **out, lgw_error_t *err);
/* Copies everything in req. *id (optional) identifies it for cancel. */
LGW_API int lgw_gateway_submit(lgw_gateway_t *gw, const lgw_request_t *req,
                               lgw_done_fn cb, void *ud, uint64_t *id,
                               lgw_error_t *err);
/* Cancel one request: its callback runs with LGW_ECANCELED (from the loop).
 * Returns LGW_EINVAL when id is unknown or already finished. */
LGW_API int lgw_gateway_cancel(lgw_gateway_t *gw, uint64_t id);
LGW_API void lgw_gateway_cancel_all(lgw_gateway_t *gw);
/* Requests submitted and not yet completed. */
LGW_API size_t lgw_gateway_pending(const lgw_gateway_t *gw);
LGW_API struct uv_loop_s *lgw_gateway_loop(lgw_gateway_t *gw);
/* Run the loop until every submitted request has completed. LGW_EINVAL
 * when called from a completion callback. */
LGW_API int lgw_gateway_run(lgw_gateway_t *gw);
/* Cancel everything (callbacks run with LGW_ECANCELED), close handles and
 * free. With a caller's loop, memory is released by close callbacks: run
 * that loop afterwards. With its own loop, it is closed here. NULL ok.
 * Called from a completion callback, it takes effect when the callback
 * returns (with its own loop, when lgw_gateway_run returns). */
LGW_API void lgw_gateway_free(lgw_gateway_t *gw);

/* ---- embeddings -------------------------------------------------------- */

/* Embeddings through the OpenAI-style POST {base}/embeddings of the
 * providers whose API has it (api_style responses, openai_chat, litellm;
 * same base-URL rules as their other endpoints), in the usual order, with
 * the same retries, failover, circuit breakers, rate limits, deadline,
 * events and usage. Providers without one (anthropic) are skipped with
 * that reason. Everything in the request is copied at submit. */
typedef struct lgw_embed_request {
  const char *task;             /* routing as for lgw_request_t; NULL "" */
  const char *const *inputs;    /* the texts, at least one */
  size_t ninputs;
  const char *model;            /* NULL or "": the task's model */
  long dimensions;              /* 0: the model's own */
  double deadline;              /* as in lgw_request_t */
} lgw_embed_request_t;

typedef struct lgw_embed_result {
  const char *task;
  const double *vectors;        /* nvectors * dim values, row i at
                                   vectors + i * dim (input order) */
  size_t nvectors;
  size_t dim;
  const char *model;            /* as the provider reported it, else the
                                   model sent */
  int provider_index;           /* 1-based in configured order; 0 on
                                   failure */
  const char *provider_type;
  const char *api_style;
  const char *base_url;
  lgw_usage_t usage;            /* input_tokens; others -1 */
  double cost;                  /* from settings.prices; -1 unknown */
  const lgw_attempt_t *attempts;
  size_t nattempts;
} lgw_embed_result_t;

/* Completion of lgw_gateway_embed: status 0 (res->vectors set) or
 * LGW_E*; res and err borrowed for the call; runs from the loop. */
typedef void (*lgw_embed_done_fn)(lgw_gateway_t *gw, uint64_t id, int status,
                                  const lgw_embed_result_t *res,
                                  const lgw_error_t *err, void *ud);
/* Submit an embeddings request; *id (optional) for lgw_gateway_cancel. */
LGW_API int lgw_gateway_embed(lgw_gateway_t *gw,
                              const lgw_embed_request_t *req,
                              lgw_embed_done_fn cb, void *ud, uint64_t *id,
                              lgw_error_t *err);

/* Running totals over every attempt of every request this gateway ran:
 * the cost in the currency of settings.prices (-1 when no attempt was
 * priced, as lgw_result_t.cost_total) and the token usage (sums of the
 * known counts). */
LGW_API double lgw_gateway_cost_total(const lgw_gateway_t *gw);
LGW_API void lgw_gateway_usage_total(const lgw_gateway_t *gw,
                                     lgw_usage_t *out);

/* Circuit breaker of configured provider index (0-based): 0 closed, 1
 * open (skipped by new requests), 2 half-open (cooldown over, the next
 * outcome decides); LGW_EINVAL for a bad index. */
LGW_API int lgw_gateway_breaker_state(const lgw_gateway_t *gw, size_t index);


/* ---- the event loop ------------------------------------------------------ */

/*
 * For bindings and hosts built on this API that drive the loop themselves
 * without including libuv's header (the loop is a libuv loop: a program
 * that uses libuv may pass its own). Every callback runs from the loop.
 * A handle's memory is released by the loop after its _free: run the
 * loop afterwards (lgw_loop_free does).
 */
/* A new loop of the library's own; NULL when out of memory. */
LGW_API struct uv_loop_s *lgw_loop_new(void);
/* Close every handle still on loop, run it until they are closed, free
 * it. NULL ok. Free the timers, idle callbacks and wake-ups below first:
 * the memory of one left on the loop is not released. */
LGW_API void lgw_loop_free(struct uv_loop_s *loop);
typedef enum {
  LGW_RUN_DEFAULT = 0,  /* until nothing is left that keeps it alive */
  LGW_RUN_ONCE = 1,     /* one turn, waiting for something if needed */
  LGW_RUN_NOWAIT = 2    /* one turn, without waiting */
} lgw_run_mode_t;
/* Nonzero when something still keeps the loop alive (as uv_run). */
LGW_API int lgw_loop_run(struct uv_loop_s *loop, lgw_run_mode_t mode);
LGW_API int lgw_loop_alive(const struct uv_loop_s *loop);
/* For an outer loop: the descriptor to watch for reading, and the
 * milliseconds until the loop has work due (0: now, or nothing keeps it
 * alive; -1: only outside events can wake it). */
LGW_API int lgw_loop_fd(const struct uv_loop_s *loop);
LGW_API int lgw_loop_timeout(const struct uv_loop_s *loop);
/* Monotonic clock in nanoseconds. */
LGW_API uint64_t lgw_hrtime(void);

/* A timer: fn after ms milliseconds, then every repeat_ms (0: once).
 * Unreferenced (lgw_timer_unref), it does not keep the loop alive.
 * lgw_timer_free stops it; fn is not called after. */
typedef struct lgw_timer lgw_timer_t;
typedef void (*lgw_timer_fn)(lgw_timer_t *t, void *ud);
LGW_API lgw_timer_t *lgw_timer_new(struct uv_loop_s *loop, lgw_timer_fn fn,
                                   void *ud);
LGW_API void lgw_timer_start(lgw_timer_t *t, uint64_t ms,
                             uint64_t repeat_ms);
LGW_API void lgw_timer_stop(lgw_timer_t *t);
LGW_API void lgw_timer_unref(lgw_timer_t *t);
LGW_API void lgw_timer_free(lgw_timer_t *t);  /* NULL ok */

/* An idle callback: while started, fn runs once per turn of the loop and
 * the loop does not wait. */
typedef struct lgw_idle lgw_idle_t;
typedef void (*lgw_idle_fn)(lgw_idle_t *i, void *ud);
LGW_API lgw_idle_t *lgw_idle_new(struct uv_loop_s *loop, lgw_idle_fn fn,
                                 void *ud);
LGW_API void lgw_idle_start(lgw_idle_t *i);
LGW_API void lgw_idle_stop(lgw_idle_t *i);
LGW_API void lgw_idle_free(lgw_idle_t *i);  /* NULL ok */

/* A wake-up: lgw_async_send (from any thread, or a signal handler) makes
 * the loop call fn (may be NULL: just wake up) soon; sends before it runs
 * are coalesced. It does not keep the loop alive. */
typedef struct lgw_async lgw_async_t;
typedef void (*lgw_async_fn)(lgw_async_t *a, void *ud);
LGW_API lgw_async_t *lgw_async_new(struct uv_loop_s *loop, lgw_async_fn fn,
                                   void *ud);
LGW_API void lgw_async_send(lgw_async_t *a);
LGW_API void lgw_async_free(lgw_async_t *a);  /* NULL ok */

/* ---- distributed work queue (Redis Streams) ------------------------------ */

/*
 * A queue of jobs on Redis, shared by any number of producers and worker
 * processes: a stream with one consumer group, at-least-once delivery, a
 * job left unfinished by a dead worker claimed by another after the
 * visibility timeout, one result per job id however often it ran, and a
 * dead-letter stream for jobs that failed for good. Payloads and results
 * are strings (JSON by convention). Every callback runs from the loop.
 */
typedef struct lgw_queue lgw_queue_t;
typedef struct lgw_job lgw_job_t;

typedef struct lgw_queue_options {
  const char *prefix;         /* key prefix; NULL: "llmgateway:" */
  double visibility_timeout;  /* seconds a delivered job may run before
                                 another worker may claim it; 0: 30 */
  int max_deliveries;         /* deliveries before a job is dead-lettered;
                                 0: 5 */
  int concurrency;            /* jobs one consumer runs at once; 0: 8 */
  double block;               /* seconds an idle consumer waits in one
                                 read; 0: 1 */
} lgw_queue_options_t;

/* Open queue `name` on the Redis at url (redis://[[user]:password@]host
 * [:port][/db]) on loop (not owned). Connecting happens in the background
 * and is retried with backoff. Free with lgw_queue_free. */
LGW_API int lgw_queue_open(struct uv_loop_s *loop, const char *url,
                           const char *name, const lgw_queue_options_t *opts,
                           lgw_queue_t **out, lgw_error_t *err);
/* Stop consuming, drop pending callbacks (they do not run) and close.
 * Jobs handed to a handler and not yet finished stay valid until
 * lgw_queue_finish; their results are then not written (the jobs are
 * delivered again elsewhere). Run the loop afterwards. NULL ok. */
LGW_API void lgw_queue_free(lgw_queue_t *q);

/* Stored (status 0) or not (LGW_ECONNECT, ...: err says why). */
typedef void (*lgw_queue_push_fn)(lgw_queue_t *q, int status,
                                  const char *id, const lgw_error_t *err,
                                  void *ud);
/* Add a job. id_out (33 bytes) receives its id at once (32 hex digits);
 * cb (may be NULL) says when it is stored. LGW_ECONNECT when Redis is
 * unreachable right now. */
LGW_API int lgw_queue_push(lgw_queue_t *q, const char *payload, size_t len,
                           char id_out[33], lgw_queue_push_fn cb, void *ud,
                           lgw_error_t *err);

/* A job's outcome. status 0: ok = 1 with its result, or ok = 0 with the
 * error it was dead-lettered with; LGW_ETIMEOUT (wait) or another LGW_E*
 * when there is no answer. body is borrowed for the call. */
typedef void (*lgw_queue_result_fn)(lgw_queue_t *q, int status,
                                    const char *id, int ok,
                                    const char *body, size_t len, void *ud);
/* Call cb once job id has an outcome, or after timeout seconds (0: no
 * limit) with LGW_ETIMEOUT. */
LGW_API int lgw_queue_wait(lgw_queue_t *q, const char *id, double timeout,
                           lgw_queue_result_fn cb, void *ud,
                           lgw_error_t *err);
/* Every result so far: cb runs once per job with a result (ok = 1) or a
 * final error (ok = 0), then once with id NULL (status 0: the end, or the
 * error that stopped the listing). */
LGW_API int lgw_queue_results(lgw_queue_t *q, lgw_queue_result_fn cb,
                              void *ud, lgw_error_t *err);

typedef struct lgw_queue_stats {
  long long length;     /* jobs waiting, not yet delivered */
  long long in_flight;  /* delivered, without an outcome yet */
  long long done;       /* with a result */
  long long failed;     /* dead-lettered */
  long long duplicates; /* outcomes of jobs that already had one */
  double rate;          /* outcomes per second over the last 10 s */
} lgw_queue_stats_t;
typedef void (*lgw_queue_stats_fn)(lgw_queue_t *q, int status,
                                   const lgw_queue_stats_t *st, void *ud);
LGW_API int lgw_queue_stats(lgw_queue_t *q, lgw_queue_stats_fn cb, void *ud,
                            lgw_error_t *err);

/* A delivered job: payload borrowed until lgw_queue_finish; delivery is
 * 1 the first time. The handler must finish every job exactly once, now
 * or later. */
typedef void (*lgw_queue_handler_fn)(lgw_queue_t *q, lgw_job_t *job,
                                     const char *id, const char *payload,
                                     size_t len, int delivery, void *ud);
/* Consume jobs as `consumer` (a name unique among live workers), up to
 * options.concurrency at once, claiming jobs other consumers left idle
 * for visibility_timeout. One consumer per queue handle. */
LGW_API int lgw_queue_consume(lgw_queue_t *q, const char *consumer,
                              lgw_queue_handler_fn fn, void *ud,
                              lgw_error_t *err);
/* Stop taking new jobs; jobs already handed out may still finish. */
LGW_API void lgw_queue_stop(lgw_queue_t *q);

typedef enum {
  LGW_JOB_DONE = 0,    /* body is the result */
  LGW_JOB_FAILED = 1,  /* failed for good: dead-lettered with body as the
                          error */
  LGW_JOB_RETRY = 2    /* not now: delivered again after the visibility
                          timeout, until max_deliveries */
} lgw_job_outcome_t;
/* Write the job's outcome (atomically with its acknowledgement; a job
 * that already has an outcome keeps it) and release job. */
LGW_API int lgw_queue_finish(lgw_job_t *job, lgw_job_outcome_t outcome,
                             const char *body, size_t len);
/* Outcomes written by lgw_queue_finish whose write Redis has not
 * confirmed yet; fn (NULL: none) runs from the loop each time that number
 * falls to 0. Freeing the queue before then may lose those outcomes (the
 * jobs are then delivered again). */
typedef void (*lgw_queue_drained_fn)(lgw_queue_t *q, void *ud);
LGW_API size_t lgw_queue_pending_writes(const lgw_queue_t *q);
LGW_API void lgw_queue_on_drained(lgw_queue_t *q, lgw_queue_drained_fn fn,
                                  void *ud);

#ifdef __cplusplus
}
#endif
#endif
