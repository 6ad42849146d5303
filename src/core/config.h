/*
 * config.h -- the validated, immutable runtime (providers, settings,
 * tasks) built from a node tree, its dump, and the config file locations
 * (user config dir, config file, provider-state file). Semantics follow the
 * Python llmgateway's runtime_spec_from_dict with the deliberate
 * differences listed in README: impossible values and unknown api_style are
 * errors naming the key path and file:line:col; unknown keys are warnings.
 * Built and freed in config_validate.c, dumped in config_dump.c, located
 * in config_paths.c; loading and lookups in config.c.
 */
#ifndef LGW_CONFIG_H
#define LGW_CONFIG_H

#include "llmgateway.h"
#include "env.h"
#include "node.h"
#include "provider.h"
#include "util.h"

#define LGW_DEFAULT_MAX_CONCURRENT 12
#define LGW_DEFAULT_RETRY_MAX 3
#define LGW_DEFAULT_TIMEOUT 90.0
#define LGW_DEFAULT_TRANSPORT_RETRIES 5
#define LGW_DEFAULT_MAX_TOKENS 4000
#define LGW_DEFAULT_CONNECT_TIMEOUT 10.0
#define LGW_DEFAULT_BACKOFF_BASE 0.5
#define LGW_DEFAULT_BACKOFF_MAX 8.0
#define LGW_DEFAULT_RETRY_AFTER_MAX 30.0
#define LGW_DEFAULT_MAX_RESPONSE_BYTES (32L * 1024 * 1024)

/*
 * Streaming, circuit breaker, rate limit and price settings (our own, not
 * in the Python library):
 *
 *   settings.first_token_timeout  seconds from sending a streamed attempt
 *                                 to its first text delta; 0 (default) =
 *                                 no bound beyond `timeout`. Expiry is a
 *                                 timeout (retried, or failed over).
 *   settings.failover_on_refusal  true: an answer the model refused sends
 *                                 the request to the next provider;
 *                                 false (default): it ends the request
 *                                 with LGW_EREFUSED.
 *   settings.idle_timeout         seconds a streamed attempt may receive
 *                                 nothing once its body has begun; 0
 *                                 (default) = no bound beyond `timeout`.
 *                                 `timeout` still bounds a whole attempt,
 *                                 streamed or not.
 *   settings.breaker_failures     K: retryable failures (connect, timeout,
 *                                 408/409/429/5xx, bad or empty body) of a
 *                                 provider within breaker_window seconds
 *                                 that open its circuit breaker; default
 *                                 5; 0 disables breakers.
 *   settings.breaker_window       W seconds, default 30.
 *   settings.breaker_cooldown     C seconds an open provider is skipped by
 *                                 new requests (unless it is the last one
 *                                 left), default 30. Then it is half-open:
 *                                 a success closes it, a retryable failure
 *                                 opens it again.
 *   settings.prices               {model: {input: X, output: Y}}: prices
 *                                 per million input and output tokens,
 *                                 keyed by the model sent (after
 *                                 model_map), else the model requested.
 *                                 Gives cost and cost_total; no default.
 *   providers[i].rpm              requests per minute; 0/absent = no limit
 *   providers[i].tpm              tokens per minute; 0/absent = no limit.
 *                                 Token buckets pace requests (queued, no
 *                                 slot held) instead of provoking 429s;
 *                                 each bucket holds one second's worth
 *                                 (at least one request). A request's
 *                                 tokens are estimated before sending as
 *                                 (message bytes)/4 + max_tokens and
 *                                 settled with the usage reported.
 */
/*
 * Shared state (our own):
 *
 *   settings.state          "file" (default): the provider-state file, as
 *                           the Python library; or a Redis URL
 *                           redis://[[user]:password@]host[:port][/db]
 *                           (port 6379 and db 0 by default; the password
 *                           may be percent-encoded, usually ${VAR}): every
 *                           gateway using it shares the preferred provider
 *                           per config key, the circuit breakers and the
 *                           rpm/tpm buckets. While Redis is unreachable the
 *                           gateway runs on its local state.
 *   settings.state_prefix   prefix of every Redis key, default
 *                           "llmgateway:".
 *   settings.state_refresh  seconds between reads of the shared preferred
 *                           provider and breakers, default 1.
 */
/*
 * settings.worker_grace     seconds `llmgateway worker` lets the jobs in
 *                           hand run after SIGTERM, default 30.
 */
#define LGW_DEFAULT_WORKER_GRACE 30.0

#define LGW_DEFAULT_STATE_PREFIX "llmgateway:"
#define LGW_DEFAULT_STATE_REFRESH 1.0

#define LGW_DEFAULT_BREAKER_FAILURES 5
#define LGW_DEFAULT_BREAKER_WINDOW 30.0
#define LGW_DEFAULT_BREAKER_COOLDOWN 30.0

typedef struct lgw__task {
  char *name;
  char *model;             /* stripped */
  char *tier;              /* stripped, lower */
  double temperature;      /* default 0.0 */
  char *reasoning_effort;  /* stripped, lower */
  long max_tokens;         /* default 4000 */
} lgw__task_t;

/* Price of one model, per million tokens. */
typedef struct lgw__price {
  char *model;
  double input, output;
} lgw__price_t;

struct lgw_runtime {
  int refs;
  lgw__provider_t *providers;  /* configured order */
  size_t nproviders;
  char *fallback_model, *strong_model, *weak_model;
  char *strong_reasoning_effort, *weak_reasoning_effort;
  long max_concurrent, retry_max, transport_retries;
  double timeout;              /* seconds per attempt */
  /* settings of our own (not in the Python library) */
  double connect_timeout;      /* seconds */
  double deadline;             /* overall per-request seconds, 0 = none */
  double backoff_base, backoff_max, retry_after_max;  /* seconds */
  long max_response_bytes;
  long max_connections_per_host;  /* 0 = no cap */
  lgw__task_t *tasks;
  size_t ntasks;
  char config_key[65];         /* sha256 hex of the provider list */
  /* streaming, breaker and prices (see the comment at the top) */
  double first_token_timeout, idle_timeout;  /* seconds, 0 = none */
  int failover_on_refusal;     /* a refusal tries the next provider */
  long breaker_failures;
  double breaker_window, breaker_cooldown;
  lgw__price_t *prices;        /* configured order */
  size_t nprices;
  /* shared state (see the comment at the top) */
  char *state;                 /* Redis URL; NULL: the state file */
  char *state_prefix;          /* never NULL */
  double state_refresh;        /* seconds */
  char *ca_file;               /* CA bundle for TLS; "": CURL_CA_BUNDLE,
                                  SSL_CERT_FILE, else curl's default */
  double worker_grace;         /* seconds */
};

/* ---- building (config_validate.c) ------------------------------------ */

/* Validate a tree into a runtime. name is the source for positions
 * (a file path, or NULL for trees not from a file, e.g. Lua tables: then
 * errors name only the key path). root NULL or not a mapping is an error
 * "Invalid llmgateway config: <name>". Env interpolation is NOT applied
 * here (callers apply lgw__env_resolve_tree first). *out has refs = 1. */
int lgw__runtime_from_node(const lgw__node_t *root, const char *name,
                           lgw_runtime_t **out, lgw_error_t *err);

/* Validate one provider mapping m as an entry of `providers` (errors
 * name the key without a prefix); p is cleared first, and released with
 * lgw__provider_clear. Not a mapping: LGW_ECONFIG "not a provider
 * mapping". */
int lgw__provider_parse(const lgw__node_t *m, lgw__provider_t *p,
                        lgw_error_t *err);
void lgw__provider_clear(lgw__provider_t *p);

/* Frees rt and all it holds whatever its reference count (the last
 * lgw_runtime_free, or a runtime_from_node that fails half way). */
void lgw__runtime_destroy(lgw_runtime_t *rt);

/* ---- dump (config_dump.c) -------------------------------------------- */

/* Dump as the Python dump_runtime_spec: version, settings (with our own
 * settings after the Python ones), tasks, then "providers" when more than
 * one else "provider". Unless with_keys, a non-empty api_key and every
 * non-empty header value are "<redacted>", base_url goes through
 * lgw__url_redact (url.h) and the Redis password is redacted. */
lgw__node_t *lgw__runtime_dump(const lgw_runtime_t *rt, int with_keys);

/* ---- lookups (config.c) ---------------------------------------------- */

/* Task lookup per the Python runtime.task(): name stripped; unknown names
 * give a task with model = fallback_model (the struct is filled into
 * *tmp, whose strings are borrowed from rt). */
const lgw__task_t *lgw__runtime_task(const lgw_runtime_t *rt,
                                     const char *name, lgw__task_t *tmp);
/* model_for_tier / reasoning_effort_for_tier; borrowed strings. */
const char *lgw__runtime_model_for_tier(const lgw_runtime_t *rt,
                                        const char *tier);
const char *lgw__runtime_effort_for_tier(const lgw_runtime_t *rt,
                                         const char *tier);

/* Price of model (exact match), NULL when not configured. */
const lgw__price_t *lgw__runtime_price(const lgw_runtime_t *rt,
                                       const char *model);

/* ---- file locations (config_paths.c) --------------------------------- */
/* All return absolute, ~-expanded, symlink-resolved paths (the path need
 * not exist); owned by the caller; NULL only on allocation failure. The
 * environment is read through get on every call. */
char *lgw__user_config_dir(lgw__getenv_fn get, void *ud);
char *lgw__resolve_user_config_file(const char *path, lgw__getenv_fn get,
                                    void *ud);
/* Same, except that the file name itself is not resolved (a symlink
 * there is refused by the state file code, never followed). */
char *lgw__resolve_provider_state_file(const char *path,
                                       lgw__getenv_fn get, void *ud);

#endif
