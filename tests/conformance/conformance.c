/*
 * conformance.c -- the gateway's requests checked against the official
 * OpenAI and Anthropic OpenAPI specs, served by Stoplight Prism mocks
 * (started by run.sh). Every transport sends a set of message/option variants through
 * the gateway (YAML config, lgw_gateway_submit, lgw_gateway_run); Prism
 * answers 400 to a body that breaks the schema. Each case is then replayed
 * once with libcurl easy (same URL, headers and body, built by the
 * transport) to read Prism's sl-violations header, so a failure names the
 * offending field. Fault cases inject statuses with "Prefer: code=N" in the
 * provider headers and check the gateway's attempts and classification.
 *
 * usage: conformance OPENAI_BASE ANTHROPIC_BASE
 *   e.g. conformance http://127.0.0.1:4010 http://127.0.0.1:4011
 * Prints one line per case and "N passed, N failed"; exits 1 on failure.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cJSON.h>
#include <curl/curl.h>
#include <uv.h>

#include "config.h"
#include "llmgateway.h"
#include "route.h"
#include "transport.h"

#define MAXATT 8
#define NMSG(a) (sizeof(a) / sizeof((a)[0]))

static int passed, failed;

/* ---- what the gateway reported (copied out of the callback) ----------- */

typedef struct outcome {
  int done;
  int status;
  char message[1024];
  char *text;                 /* owned */
  long input_tokens, output_tokens;
  int provider_index;
  char api_style[32];
  char model[128];
  char effort[32];
  double temperature;
  long max_tokens;
  size_t natt;
  lgw_attempt_t att[MAXATT];  /* message and strings not kept */
} outcome_t;

static void on_done(lgw_gateway_t *gw, uint64_t id, int status,
                    const lgw_result_t *res, const lgw_error_t *err,
                    void *ud) {
  outcome_t *o = ud;
  size_t i;
  (void)gw;
  (void)id;
  o->done = 1;
  o->status = status;
  snprintf(o->message, sizeof o->message, "%s", err ? err->message : "");
  for (i = 0; o->message[i]; i++)  /* one line per case */
    if (o->message[i] == '\n') o->message[i] = ' ';
  if (status == 0) {
    o->text = lgw__strndup(res->text, res->text_len);
    o->input_tokens = res->input_tokens;
    o->output_tokens = res->output_tokens;
    o->provider_index = res->provider_index;
    snprintf(o->api_style, sizeof o->api_style, "%s", res->api_style);
    snprintf(o->model, sizeof o->model, "%s", res->normalized_model);
    snprintf(o->effort, sizeof o->effort, "%s", res->reasoning_effort);
    o->temperature = res->temperature;
    o->max_tokens = res->max_tokens;
  }
  for (i = 0; i < res->nattempts && i < MAXATT; i++) {
    o->att[i] = res->attempts[i];
    o->att[i].provider_type = o->att[i].base_url = o->att[i].model = NULL;
    o->att[i].message = NULL;
  }
  o->natt = i;
}

/* Load yaml, send req through a fresh gateway, wait. *rt_out (optional)
 * keeps the runtime for the replay (caller frees). */
static int run_gateway(const char *yaml, const lgw_request_t *req,
                       outcome_t *o, lgw_runtime_t **rt_out) {
  lgw_runtime_t *rt = NULL;
  lgw_gateway_t *gw = NULL;
  lgw_gateway_options_t opts;
  lgw_error_t err;
  int rc;
  memset(o, 0, sizeof *o);
  memset(&opts, 0, sizeof opts);
  memset(&err, 0, sizeof err);
  opts.no_state = 1;
  rc = lgw_runtime_load_string(yaml, strlen(yaml), "conformance.yaml", &rt,
                               &err);
  if (rc == 0) rc = lgw_gateway_new(rt, &opts, &gw, &err);
  if (rc == 0) rc = lgw_gateway_submit(gw, req, on_done, o, NULL, &err);
  if (rc == 0) rc = lgw_gateway_run(gw);
  lgw_gateway_free(gw);
  if (rc) {
    o->status = rc;
    snprintf(o->message, sizeof o->message, "%s", err.message);
  }
  if (rt_out && rc == 0) *rt_out = rt;
  else lgw_runtime_free(rt);
  return rc;
}

/* ---- the replay: same request with libcurl easy, for sl-violations ----- */

typedef struct replay {
  long status;
  char *violations;   /* owned; sl-violations header value or NULL */
} replay_t;

static size_t on_header(char *buf, size_t size, size_t n, void *ud) {
  replay_t *r = ud;
  size_t len = size * n;
  static const char name[] = "sl-violations:";
  if (len > sizeof name - 1 &&
      lgw__strncasecmp(buf, name, sizeof name - 1) == 0 && !r->violations) {
    size_t a = sizeof name - 1, e = len;
    while (a < e && (buf[a] == ' ' || buf[a] == '\t')) a++;
    while (e > a && (buf[e - 1] == '\r' || buf[e - 1] == '\n')) e--;
    r->violations = lgw__strndup(buf + a, e - a);
  }
  return len;
}

static size_t on_body(char *buf, size_t size, size_t n, void *ud) {
  (void)buf;
  (void)ud;
  return size * n;
}

/* Build the first provider's request for req exactly as the gateway does
 * (route, transport URL, headers, body; stream 1 asks for the streaming
 * body) and POST it. */
static int replay(const lgw_runtime_t *rt, const lgw_request_t *req,
                  int stream, replay_t *r) {
  const lgw__provider_t *p = &rt->providers[0];
  const lgw__transport_t *tr;
  lgw__overrides_t ov;
  lgw__route_t route;
  lgw__call_t call;
  lgw__kvlist_t kv = {NULL, 0};
  struct curl_slist *hl = NULL;
  lgw_error_t err;
  char *url = NULL, *body = NULL;
  size_t len = 0, i;
  CURL *h;
  int rc;
  memset(r, 0, sizeof *r);
  memset(&ov, 0, sizeof ov);
  ov.model = req->model;
  ov.tier = req->tier;
  ov.reasoning_effort = req->reasoning_effort;
  ov.has_temperature = req->has_temperature;
  ov.temperature = req->temperature;
  ov.max_tokens = req->max_tokens;
  if (lgw__route(rt, p, req->task ? req->task : "", &ov, &route, &err))
    return -1;
  tr = lgw__transport_for(route.style);
  memset(&call, 0, sizeof call);
  call.messages = req->messages;
  call.nmessages = req->nmessages;
  call.rich = req->rich_messages;
  call.nrich = req->nrich_messages;
  call.tools = req->tools;
  call.ntools = req->ntools;
  call.tool_choice = req->tool_choice;
  call.tool_choice_name = req->tool_choice_name;
  call.parallel_tool_calls = req->parallel_tool_calls;
  call.schema_json = req->schema_json;
  call.schema_name = req->schema_name;
  call.schema_strict = req->schema_strict;
  call.stop = req->stop;
  call.nstop = req->nstop;
  call.has_top_p = req->has_top_p;
  call.top_p = req->top_p;
  call.has_seed = req->has_seed;
  call.seed = req->seed;
  call.user = req->user;
  call.metadata_json = req->metadata_json;
  call.extra_body = p->extra_body;
  call.extra = req->extra_json;
  call.model = route.model;
  call.reasoning_effort = route.reasoning_effort;
  call.temperature = route.temperature;
  call.max_tokens = route.max_tokens;
  call.stream = stream;
  rc = lgw__transport_body(tr, &call, &body, &len, &err);
  if (rc == 0) rc = tr->headers(p, &kv);
  if (rc == 0 && !(url = tr->url(p))) rc = LGW_ENOMEM;
  for (i = 0; rc == 0 && i < kv.n; i++) {
    char *line = lgw__sprintf("%s: %s", kv.items[i].key, kv.items[i].value);
    struct curl_slist *nl = line ? curl_slist_append(hl, line) : NULL;
    lgw_free(line);
    if (!nl) rc = LGW_ENOMEM;
    else hl = nl;
  }
  if (rc == 0 && (h = curl_easy_init()) != NULL) {
    curl_easy_setopt(h, CURLOPT_URL, url);
    curl_easy_setopt(h, CURLOPT_HTTPHEADER, hl);
    curl_easy_setopt(h, CURLOPT_POSTFIELDS, body);
    curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE, (long)len);
    curl_easy_setopt(h, CURLOPT_HEADERFUNCTION, on_header);
    curl_easy_setopt(h, CURLOPT_HEADERDATA, r);
    curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(h, CURLOPT_TIMEOUT, 20L);
    if (curl_easy_perform(h) == CURLE_OK)
      curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &r->status);
    else
      rc = LGW_ECONNECT;
    curl_easy_cleanup(h);
  }
  curl_slist_free_all(hl);
  lgw__kvlist_free(&kv);
  lgw_free(url);
  lgw_free(body);
  lgw__route_free(&route);
  return rc;
}

static int print_violation(const cJSON *it, int print) {
  const cJSON *loc = cJSON_GetObjectItemCaseSensitive(it, "location");
  const cJSON *sev = cJSON_GetObjectItemCaseSensitive(it, "severity");
  const cJSON *msg = cJSON_GetObjectItemCaseSensitive(it, "message");
  const cJSON *first = cJSON_GetArrayItem(loc, 0), *part;
  if (!cJSON_IsString(first) || strcmp(first->valuestring, "request"))
    return 0;
  if (!print)
    return cJSON_IsString(sev) && strcmp(sev->valuestring, "Error") == 0;
  printf("    sl-violations: %s ",
         cJSON_IsString(sev) ? sev->valuestring : "?");
  cJSON_ArrayForEach(part, loc) {
    if (cJSON_IsString(part))
      printf("%s%s", part == loc->child ? "" : ".", part->valuestring);
  }
  printf(": %s\n", cJSON_IsString(msg) ? msg->valuestring : "");
  return cJSON_IsString(sev) && strcmp(sev->valuestring, "Error") == 0;
}

/* Print the request-side violations of an sl-violations value (Prism also
 * lists the spec examples' own response violations; those are not ours).
 * Prism cuts the header near 8 KB ("Too many violations! [..."), so the
 * list is read one object at a time and a cut-off tail is ignored.
 * Returns how many have severity Error; prints them when print is 1. */
static int print_violations(const char *v, int print) {
  const char *pos = v ? strchr(v, '[') : NULL;
  int errors = 0, seen = 0;
  while (pos && (*pos == '[' || *pos == ',')) {
    const char *end = NULL;
    cJSON *it = cJSON_ParseWithOpts(pos + 1, &end, 0);
    if (!it) break;
    errors += print_violation(it, print);
    seen++;
    cJSON_Delete(it);
    pos = end;
  }
  if (print && v && !seen) printf("    sl-violations: %.300s\n", v);
  return errors;
}

/* ---- transports and the request cases --------------------------------- */

typedef struct transport {
  const char *name;           /* api_style */
  const char *provider_type;
  const char *path;           /* appended to the mock's base URL */
  int anthropic;              /* which mock */
  const char *model;
  const char *reply_prefix;   /* text of the spec's 200 example */
  long input_tokens, output_tokens;  /* usage of that example */
} transport_t;

static const transport_t transports[] = {
  {"responses", "openai", "/responses", 0, "gpt-4.1-mini",
   "In a peaceful grove beneath a silver moon", 36, 87},
  {"openai_chat", "openai", "/chat/completions", 0, "gpt-4.1-mini",
   "Hello! How can I assist you today?", 19, 10},
  {"anthropic", "anthropic", "", 1, "claude-sonnet-4-5",
   "Hi! My name is Claude.", 2095, 503},
  {"litellm", "litellm", "/chat/completions", 0, "openai/gpt-4.1-mini",
   "Hello! How can I assist you today?", 19, 10},
};

static const lgw_message_t full[] = {
  {"system", "You are a terse assistant."},
  {"user", "Name a prime number."},
  {"assistant", "7"},
  {"user", "Another one?"}};
static const lgw_message_t no_system[] = {
  {"user", "Name a prime number."},
  {"assistant", "7"},
  {"user", "Another one?"}};
static const lgw_message_t multi_system[] = {
  {"system", "You are terse."},
  {"system", "Answer in English."},
  {"system", ""},
  {"user", "Name a prime number."},
  {"assistant", "7"},
  {"system", "Prefer small numbers."},
  {"user", "Another one?"}};
static const lgw_message_t developer[] = {
  {"developer", "Answer with one word."},
  {"user", "Name a colour."}};
static const lgw_message_t unicode[] = {
  {"system", "R\xc3\xa9ponds en fran\xc3\xa7" "ais \xe2\x80\x94 bri\xc3\xa8vement."},
  {"user", "\xe4\xbd\xa0\xe5\xa5\xbd \xf0\x9f\x9a\x80 \"quoted\" back\\slash\n"
           "tab\there \xce\xb1\xce\xb2\xce\xb3 \xe2\x82\xac"},
  {"assistant", "\xf0\x9f\x91\x8d caf\xc3\xa9 (invalid byte: \xff)"},
  {"user", "\xd0\x9f\xd1\x80\xd0\xb8\xd0\xb2\xd0\xb5\xd1\x82 \xd9\x85\xd8\xb1"
           "\xd8\xad\xd8\xa8\xd8\xa7"}};
static const lgw_message_t role_spelling[] = {
  {" System ", "You are terse."},
  {"USER", "Name a prime number."},
  {"Assistant", "7"},
  {"user ", "Another one?"}};
static const lgw_message_t user_only[] = {{"user", "Say ok."}};
static const lgw_message_t system_only[] = {{"system", "Say ok."}};

typedef struct rcase {
  const char *name;
  const lgw_message_t *msgs;
  size_t n;
  const char *model;          /* NULL: the transport's model */
  const char *effort;
  int has_temperature;
  double temperature;
  long max_tokens;
  int openai_only;            /* effort suffixes are stripped only there */
  int expect;                 /* 200, or 400 for a control case */
} rcase_t;

/* The last case is a control: a temperature outside every spec's range
 * must come back 400 with a request violation, which shows that Prism
 * validates that endpoint's bodies at all. */
static const rcase_t cases[] = {
  {"full", full, NMSG(full), NULL, "medium", 1, 0.3, 256, 0, 200},
  {"no_system", no_system, NMSG(no_system), NULL, "low", 1, 0.3, 256, 0,
   200},
  {"effort_empty", full, NMSG(full), NULL, "", 1, 0.3, 256, 0, 200},
  {"multi_system", multi_system, NMSG(multi_system), NULL, "high", 1, 0.0,
   128, 0, 200},
  {"developer", developer, NMSG(developer), NULL, "minimal", 1, 1.0, 64, 0,
   200},
  {"unicode", unicode, NMSG(unicode), NULL, "medium", 1, 0.7, 512, 0, 200},
  {"role_spelling", role_spelling, NMSG(role_spelling), NULL, "low", 1, 0.5,
   256, 0, 200},
  {"system_only", system_only, NMSG(system_only), NULL, "low", 1, 0.2, 32, 0,
   200},
  {"defaults", user_only, NMSG(user_only), NULL, "", 0, 0, 0, 0, 200},
  {"effort_suffix", full, NMSG(full), "gpt-5.4 high", "", 1, 0.3, 256, 1,
   200},
  {"control_temp_3", user_only, NMSG(user_only), NULL, "", 1, 3.0, 64, 0,
   400},
};

static char *provider_yaml(const transport_t *t, const char *base,
                           const char *prefer) {
  return lgw__sprintf(
      "  - provider_type: %s\n"
      "    api_style: %s\n"
      "    base_url: \"%s%s\"\n"
      "    api_key: \"sk-conformance-test\"\n"
      "%s%s%s",
      t->provider_type, t->name, base, t->path,
      prefer ? "    headers:\n      Prefer: \"code=" : "",
      prefer ? prefer : "", prefer ? "\"\n" : "");
}

static void report(int ok, const char *transport, const char *name,
                   const char *detail) {
  printf("%-12s %-14s %s %s\n", transport, name, ok ? "ok  " : "FAIL",
         detail);
  if (ok) passed++;
  else failed++;
}

/* The static example came back as text and usage, and routing sent what
 * the case asked for. Empty string when fine, else what differs. */
static void check_reply(const transport_t *t, const rcase_t *c,
                        const outcome_t *o, char *why, size_t cap) {
  int gpt5 = c->model && strncmp(c->model, "gpt-5", 5) == 0;
  why[0] = '\0';
  if (!o->text || strncmp(o->text, t->reply_prefix,
                          strlen(t->reply_prefix)) != 0)
    snprintf(why, cap, "text %.40s...", o->text ? o->text : "(null)");
  else if (o->input_tokens != t->input_tokens ||
           o->output_tokens != t->output_tokens)
    snprintf(why, cap, "usage %ld/%ld", o->input_tokens, o->output_tokens);
  else if (strcmp(o->api_style, t->name) != 0)
    snprintf(why, cap, "api_style %s", o->api_style);
  else if (gpt5 && (strcmp(o->model, "gpt-5.4") != 0 ||
                    strcmp(o->effort, "high") != 0 || o->temperature != 1.0))
    snprintf(why, cap, "suffix routed to %s/%s/%g", o->model, o->effort,
             o->temperature);
  else if (o->max_tokens != (c->max_tokens ? c->max_tokens : 4000))
    snprintf(why, cap, "max_tokens %ld", o->max_tokens);
}

static void run_case(const transport_t *t, const rcase_t *c,
                     const char *base) {
  char *prov = provider_yaml(t, base, NULL);
  char *yaml = lgw__sprintf("version: 1\nsettings:\n  transport_retries: 1\n"
                            "  timeout: 20\nproviders:\n%s", prov);
  lgw_request_t req;
  lgw_runtime_t *rt = NULL;
  outcome_t o;
  replay_t r;
  char detail[768], why[256];
  int ok, verrors, last;
  memset(&req, 0, sizeof req);
  req.task = "conformance";
  req.messages = c->msgs;
  req.nmessages = c->n;
  req.model = c->model ? c->model : t->model;
  req.reasoning_effort = c->effort;
  req.has_temperature = c->has_temperature;
  req.temperature = c->temperature;
  req.max_tokens = c->max_tokens;
  run_gateway(yaml, &req, &o, &rt);
  last = o.natt ? o.att[o.natt - 1].http_status : 0;
  /* The replay runs for every case: a 400 is explained by its header, and
   * Prism may list request warnings even in a 200. */
  memset(&r, 0, sizeof r);
  if (!rt || replay(rt, &req, 0, &r) != 0) r.status = 0;
  why[0] = '\0';
  if (o.status == 0) check_reply(t, c, &o, why, sizeof why);
  verrors = print_violations(r.violations, 0);
  if (c->expect == 200)
    ok = o.status == 0 && !why[0] && r.status == 200 && verrors == 0;
  else
    ok = o.natt == 1 && o.status == o.att[0].code && o.status != 0 &&
         last == c->expect &&
         r.status == c->expect && verrors > 0;
  snprintf(detail, sizeof detail, "%d%s%s", last, why[0] ? " " : "", why);
  if (o.status && !ok)
    snprintf(detail + strlen(detail), sizeof detail - strlen(detail),
             " %s: %.300s", lgw_err_name(o.status), o.message);
  if (r.status != last)
    snprintf(detail + strlen(detail), sizeof detail - strlen(detail),
             " (replay %ld)", r.status);
  report(ok, t->name, c->name, detail);
  print_violations(r.violations, 1);
  lgw_free(r.violations);
  lgw_free(o.text);
  lgw_runtime_free(rt);
  lgw_free(yaml);
  lgw_free(prov);
}

/* The streaming body (stream: true, and stream_options for Chat) is only
 * built by the transport here: Prism does not stream, but it validates the
 * body and answers with the JSON example. */
static void run_stream_body(const transport_t *t, const char *base) {
  char *prov = provider_yaml(t, base, NULL);
  char *yaml = lgw__sprintf("version: 1\nproviders:\n%s", prov);
  lgw_runtime_t *rt = NULL;
  lgw_request_t req;
  lgw_error_t err;
  replay_t r;
  char detail[64];
  int ok;
  memset(&req, 0, sizeof req);
  memset(&r, 0, sizeof r);
  req.task = "conformance";
  req.messages = full;
  req.nmessages = NMSG(full);
  req.model = t->model;
  req.reasoning_effort = "medium";
  if (lgw_runtime_load_string(yaml, strlen(yaml), "conformance.yaml", &rt,
                              &err) != 0 ||
      replay(rt, &req, 1, &r) != 0)
    r.status = 0;
  ok = r.status == 200 && print_violations(r.violations, 0) == 0;
  snprintf(detail, sizeof detail, "%ld (body only)", r.status);
  report(ok, t->name, "stream_body", detail);
  print_violations(r.violations, 1);
  lgw_free(r.violations);
  lgw_runtime_free(rt);
  lgw_free(yaml);
  lgw_free(prov);
}

/* ---- fault injection --------------------------------------------------- */

enum { D_NONE, D_AFTER, D_BACKOFF };  /* the delay an attempt records */

typedef struct expect_att {
  int provider_index, http_status, code, delay;
} expect_att_t;

typedef struct fcase {
  const char *prefer;   /* injected status */
  int openai, anthropic;  /* which transports this status applies to */
  expect_att_t att[4];
  size_t natt;
} fcase_t;

/* transport_retries 2; the second provider answers. retry-after: 1 comes
 * with OpenAI 429/503 and Anthropic 429/529; others back off. */
#define OK2 {2, 200, LGW_OK, D_NONE}
static const fcase_t faults[] = {
  {"401", 1, 1, {{1, 401, LGW_EAUTH, D_NONE}, OK2}, 2},
  {"403", 1, 1, {{1, 403, LGW_EAUTH, D_NONE}, OK2}, 2},
  {"400", 1, 1, {{1, 400, LGW_EHTTP, D_NONE}, OK2}, 2},
  {"429", 1, 1, {{1, 429, LGW_ERATELIMIT, D_AFTER},
                 {1, 429, LGW_ERATELIMIT, D_NONE}, OK2}, 3},
  {"500", 1, 1, {{1, 500, LGW_EHTTP, D_BACKOFF},
                 {1, 500, LGW_EHTTP, D_NONE}, OK2}, 3},
  {"503", 1, 0, {{1, 503, LGW_EHTTP, D_AFTER},
                 {1, 503, LGW_EHTTP, D_NONE}, OK2}, 3},
  {"503", 0, 1, {{1, 503, LGW_EHTTP, D_BACKOFF},
                 {1, 503, LGW_EHTTP, D_NONE}, OK2}, 3},
  {"529", 0, 1, {{1, 529, LGW_EHTTP, D_AFTER},
                 {1, 529, LGW_EHTTP, D_NONE}, OK2}, 3},
};

static int delay_ok(int kind, double d) {
  switch (kind) {
    case D_AFTER: return fabs(d - 1.0) < 1e-9;
    case D_BACKOFF: return d > 0 && d <= 0.2;
    default: return d == 0;
  }
}

/* One fault case: its own runtime and gateway, on the shared loop. */
typedef struct fault_run {
  const transport_t *t;
  const fcase_t *f;
  lgw_runtime_t *rt;
  lgw_gateway_t *gw;
  outcome_t o;
} fault_run_t;

static const lgw_message_t say_ok[] = {{"user", "Say ok."}};

static void fault_start(fault_run_t *fr, const char *base, uv_loop_t *loop) {
  char *bad = provider_yaml(fr->t, base, fr->f->prefer);
  char *good = provider_yaml(fr->t, base, NULL);
  char *yaml = lgw__sprintf("version: 1\nsettings:\n  transport_retries: 2\n"
                            "  backoff_base: 0.1\n  backoff_max: 0.2\n"
                            "  timeout: 20\nproviders:\n%s%s", bad, good);
  lgw_gateway_options_t opts;
  lgw_request_t req;
  lgw_error_t err;
  int rc;
  memset(&opts, 0, sizeof opts);
  memset(&req, 0, sizeof req);
  memset(&err, 0, sizeof err);
  opts.loop = loop;
  opts.no_state = 1;
  req.task = "conformance";
  req.messages = say_ok;
  req.nmessages = NMSG(say_ok);
  req.model = fr->t->model;
  rc = lgw_runtime_load_string(yaml, strlen(yaml), "conformance.yaml",
                               &fr->rt, &err);
  if (rc == 0) rc = lgw_gateway_new(fr->rt, &opts, &fr->gw, &err);
  if (rc == 0) rc = lgw_gateway_submit(fr->gw, &req, on_done, &fr->o, NULL,
                                       &err);
  if (rc) {
    fr->o.done = 1;
    fr->o.status = rc;
    snprintf(fr->o.message, sizeof fr->o.message, "%s", err.message);
  }
  lgw_free(yaml);
  lgw_free(good);
  lgw_free(bad);
}

static void fault_report(const fault_run_t *fr) {
  const fcase_t *f = fr->f;
  const outcome_t *o = &fr->o;
  char name[32], detail[768];
  size_t i, k = 0;
  int ok = o->done && o->status == 0 && o->provider_index == 2 &&
           o->natt == f->natt;
  for (i = 0; i < o->natt && k < sizeof detail; i++) {
    const lgw_attempt_t *a = &o->att[i];
    if (i < f->natt)
      ok = ok && a->provider_index == f->att[i].provider_index &&
           a->http_status == f->att[i].http_status &&
           a->code == f->att[i].code && delay_ok(f->att[i].delay,
                                                 a->retry_delay);
    k += (size_t)snprintf(detail + k, sizeof detail - k,
                          "%s#%d %d %s", i ? ", " : "",
                          a->provider_index, a->http_status,
                          a->code ? lgw_err_name(a->code) : "ok");
    if (a->retry_delay > 0 && k < sizeof detail)
      k += (size_t)snprintf(detail + k, sizeof detail - k, " wait %.2fs",
                            a->retry_delay);
  }
  if (!o->done && k < sizeof detail)
    snprintf(detail + k, sizeof detail - k, " (never completed)");
  else if (o->status && k < sizeof detail)
    snprintf(detail + k, sizeof detail - k, " -> %s: %.300s",
             lgw_err_name(o->status), o->message);
  snprintf(name, sizeof name, "fault_%s", f->prefer);
  report(ok, fr->t->name, name, detail);
}

/* Every fault case at once: one gateway each on one shared loop, so the
 * retry-after waits overlap. */
static void run_faults(const char *openai_base, const char *anthropic_base) {
  fault_run_t runs[NMSG(transports) * NMSG(faults)];
  uv_loop_t loop;
  size_t i, j, n = 0;
  memset(runs, 0, sizeof runs);
  if (uv_loop_init(&loop) != 0) {
    report(0, "-", "fault_loop", "cannot create a libuv loop");
    return;
  }
  for (i = 0; i < NMSG(transports); i++) {
    const transport_t *t = &transports[i];
    for (j = 0; j < NMSG(faults); j++) {
      if (!(t->anthropic ? faults[j].anthropic : faults[j].openai)) continue;
      runs[n].t = t;
      runs[n].f = &faults[j];
      fault_start(&runs[n++], t->anthropic ? anthropic_base : openai_base,
                  &loop);
    }
  }
  uv_run(&loop, UV_RUN_DEFAULT);
  for (i = 0; i < n; i++) {
    fault_report(&runs[i]);
    lgw_free(runs[i].o.text);
    lgw_gateway_free(runs[i].gw);
    lgw_runtime_free(runs[i].rt);
  }
  uv_run(&loop, UV_RUN_DEFAULT);  /* the gateways' close callbacks */
  if (uv_loop_close(&loop) != 0)
    report(0, "-", "fault_loop", "handles left open on the loop");
}

/* ---- rich requests: parts, names, tools, tool calls and results -------- */

#define WEATHER_PARAMS                                                    \
  "{\"type\":\"object\",\"properties\":{\"city\":{\"type\":\"string\"},"  \
  "\"unit\":{\"type\":\"string\",\"enum\":[\"c\",\"f\"]}},"               \
  "\"required\":[\"city\"]}"
static const lgw_tool_t weather[] = {
  {"get_weather", "Get the current weather for a city", WEATHER_PARAMS, 0}};
static const lgw_tool_t weather_strict[] = {
  {"get_weather", "Get the current weather for a city",
   "{\"type\":\"object\",\"properties\":{\"city\":{\"type\":\"string\"}},"
   "\"required\":[\"city\"],\"additionalProperties\":false}", 1}};

/* a 1x1 PNG and a one-page PDF header are enough for the schemas */
static const unsigned char png[] = {
  0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a, 0x00, 0x00, 0x00, 0x0d,
  0x49, 0x48, 0x44, 0x52, 0x00, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00, 0x01};
static const char pdf[] = "%PDF-1.4\n%%EOF\n";

static const lgw_part_t image_url_parts[] = {
  {LGW_PART_TEXT, "What is in this image?", NULL, NULL, 0, NULL, NULL, NULL},
  {LGW_PART_IMAGE, NULL, "https://example.com/cat.png", NULL, 0, NULL, NULL,
   NULL}};
static const lgw_part_t image_data_parts[] = {
  {LGW_PART_TEXT, "What is in this image?", NULL, NULL, 0, NULL, NULL, NULL},
  {LGW_PART_IMAGE, NULL, NULL, png, sizeof png, "image/png", "low", NULL}};
static const lgw_part_t file_parts[] = {
  {LGW_PART_FILE, NULL, NULL, pdf, sizeof pdf - 1, "application/pdf", NULL,
   "hello.pdf"},
  {LGW_PART_TEXT, "Summarize this document.", NULL, NULL, 0, NULL, NULL,
   NULL}};
static const lgw_part_t text_parts[] = {
  {LGW_PART_TEXT, "Be brief.", NULL, NULL, 0, NULL, NULL, NULL},
  {LGW_PART_TEXT, "Answer in English.", NULL, NULL, 0, NULL, NULL, NULL}};

static const lgw_tool_call_t calls1[] = {
  {"call_1", "get_weather", "{\"city\":\"Paris\"}"}};
static const lgw_tool_call_t calls2[] = {
  {"call_1", "get_weather", "{\"city\":\"Paris\"}"},
  {"call_2", "get_weather", "{\"city\":\"Rome\",\"unit\":\"c\"}"}};

#define RM(role, content) {role, content, NULL, 0, NULL, NULL, 0, NULL, 0}
#define RP(role, parts) \
  {role, NULL, parts, NMSG(parts), NULL, NULL, 0, NULL, 0}

static const lgw_rich_message_t r_image_url[] = {RP("user", image_url_parts)};
static const lgw_rich_message_t r_image_data[] = {
  RP("user", image_data_parts)};
static const lgw_rich_message_t r_file[] = {RP("user", file_parts)};
static const lgw_rich_message_t r_parts_system[] = {
  RP("system", text_parts), RP("user", text_parts)};
static const lgw_rich_message_t r_name[] = {
  {"user", "Name a prime number.", NULL, 0, "ann", NULL, 0, NULL, 0}};
static const lgw_rich_message_t r_ask[] = {
  RM("system", "You are a weather assistant."),
  RM("user", "What is the weather in Paris?")};
static const lgw_rich_message_t r_result[] = {
  RM("user", "What is the weather in Paris?"),
  {"assistant", NULL, NULL, 0, NULL, calls1, 1, NULL, 0},
  {"tool", "{\"temp\":21}", NULL, 0, NULL, NULL, 0, "call_1", 0}};
static const lgw_rich_message_t r_results2[] = {
  RM("user", "Weather in Paris and Rome?"),
  {"assistant", "Checking both.", NULL, 0, NULL, calls2, 2, NULL, 0},
  {"tool", "{\"temp\":21}", NULL, 0, NULL, NULL, 0, "call_1", 0},
  {"tool", "station offline", NULL, 0, NULL, NULL, 0, "call_2", 1},
  RM("user", "Thanks.")};
static const lgw_rich_message_t r_result_parts[] = {
  RM("user", "What is the weather in Paris?"),
  {"assistant", NULL, NULL, 0, NULL, calls1, 1, NULL, 0},
  {"tool", NULL, text_parts, NMSG(text_parts), NULL, NULL, 0, "call_1", 0}};

typedef struct xcase {
  const char *name;
  const lgw_rich_message_t *msgs;
  size_t n;
  const lgw_tool_t *tools;
  size_t ntools;
  const char *choice, *choice_name;
  int parallel;
  int params;                 /* 1: schema and common parameters */
  const char *extra;          /* the request's extra JSON */
} xcase_t;

#define VERDICT                                                         \
  "{\"type\":\"object\",\"properties\":{\"summary\":{\"type\":\"string\"},"  \
  "\"risk\":{\"type\":\"string\",\"enum\":[\"low\",\"medium\",\"high\"]}},"  \
  "\"required\":[\"summary\",\"risk\"],\"additionalProperties\":false}"
static const char *const stops[] = {"END", "STOP"};
static const lgw_rich_message_t r_assess[] = {
  RM("user", "Assess the risk of this change: set the log level of the "
             "billing service to debug.")};

static const xcase_t xcases[] = {
  {"image_url", r_image_url, NMSG(r_image_url), NULL, 0, NULL, NULL, 0, 0, NULL},
  {"image_data", r_image_data, NMSG(r_image_data), NULL, 0, NULL, NULL, 0, 0, NULL},
  {"file_pdf", r_file, NMSG(r_file), NULL, 0, NULL, NULL, 0, 0, NULL},
  {"text_parts", r_parts_system, NMSG(r_parts_system), NULL, 0, NULL, NULL,
   0, 0, NULL},
  {"name", r_name, NMSG(r_name), NULL, 0, NULL, NULL, 0, 0, NULL},
  {"tools_auto", r_ask, NMSG(r_ask), weather, 1, "auto", NULL, 0, 0, NULL},
  {"tools_required", r_ask, NMSG(r_ask), weather, 1, "required", NULL, -1, 0, NULL},
  {"tools_none", r_ask, NMSG(r_ask), weather, 1, "none", NULL, 1, 0, NULL},
  {"tools_forced", r_ask, NMSG(r_ask), weather_strict, 1, NULL,
   "get_weather", -1, 0, NULL},
  {"tool_result", r_result, NMSG(r_result), weather, 1, NULL, NULL, 0, 0, NULL},
  {"tool_results", r_results2, NMSG(r_results2), weather, 1, "auto", NULL,
   0, 0, NULL},
  {"result_parts", r_result_parts, NMSG(r_result_parts), weather, 1, NULL,
   NULL, 0, 0, NULL},
  {"schema_params", r_assess, NMSG(r_assess), NULL, 0, NULL, NULL, 0, 1,
   NULL},
  {"extra", r_assess, NMSG(r_assess), NULL, 0, NULL, NULL, 0, 0,
   "{\"temperature\":0.5,\"stream\":null}"},
  {"control_extra", r_assess, NMSG(r_assess), NULL, 0, NULL, NULL, 0, 0,
   "{\"temperature\":\"hot\"}"},
};

static void run_xcase(const transport_t *t, const xcase_t *c,
                      const char *base) {
  char *prov = provider_yaml(t, base, NULL);
  char *yaml = lgw__sprintf("version: 1\nsettings:\n  transport_retries: 1\n"
                            "  timeout: 20\nproviders:\n%s", prov);
  lgw_request_t req;
  lgw_runtime_t *rt = NULL;
  outcome_t o;
  replay_t r;
  char detail[768];
  int ok, verrors, last;
  memset(&req, 0, sizeof req);
  req.task = "conformance";
  req.rich_messages = c->msgs;
  req.nrich_messages = c->n;
  req.model = t->model;
  req.tools = c->tools;
  req.ntools = c->ntools;
  req.tool_choice = c->choice;
  req.tool_choice_name = c->choice_name;
  req.parallel_tool_calls = c->parallel;
  req.extra_json = c->extra;
  if (c->params) {
    req.schema_json = VERDICT;
    req.schema_name = "verdict";
    req.stop = stops;
    req.nstop = NMSG(stops);
    req.has_top_p = 1;
    req.top_p = 0.9;
    req.has_seed = 1;
    req.seed = 7;
    req.user = "user-1";
    req.metadata_json = "{\"run\":\"conformance\"}";
  }
  run_gateway(yaml, &req, &o, &rt);
  last = o.natt ? o.att[o.natt - 1].http_status : 0;
  memset(&r, 0, sizeof r);
  if (!rt || replay(rt, &req, 0, &r) != 0) r.status = 0;
  verrors = print_violations(r.violations, 0);
  /* the control: a wrong type through extra must come back 400 */
  if (strncmp(c->name, "control", 7) == 0)
    ok = o.status == LGW_EHTTP && last == 400 && r.status == 400 &&
         verrors > 0;
  else
    ok = o.status == 0 && r.status == 200 && verrors == 0;
  snprintf(detail, sizeof detail, "%d%s%.400s", last, o.status ? " " : "",
           o.status ? o.message : "");
  report(ok, t->name, c->name, detail);
  if (!ok) print_violations(r.violations, 1);
  lgw_free(r.violations);
  lgw_free(o.text);
  lgw_runtime_free(rt);
  lgw_free(yaml);
  lgw_free(prov);
}

/* ---- embeddings: POST /embeddings (not for anthropic) ----------------- */

typedef struct eoutcome {
  int done, status, http;
  size_t nvectors;
  char message[512];
} eoutcome_t;

static void on_embed(lgw_gateway_t *gw, uint64_t id, int status,
                     const lgw_embed_result_t *res, const lgw_error_t *err,
                     void *ud) {
  eoutcome_t *o = ud;
  (void)gw;
  (void)id;
  o->done = 1;
  o->status = status;
  o->http = res->nattempts ? res->attempts[res->nattempts - 1].http_status
                           : 0;
  o->nvectors = res->nvectors;
  snprintf(o->message, sizeof o->message, "%.400s", err ? err->message : "");
}

/* Prism answers 200 to a body the spec accepts (its example then has one
 * embedding) and 400 to one it does not. */
static void run_embed_case(const transport_t *t, const char *base) {
  static const char *const inputs[] = {"The food was delicious."};
  char *prov = provider_yaml(t, base, NULL);
  char *yaml = lgw__sprintf("version: 1\nsettings:\n  transport_retries: 1\n"
                            "  timeout: 20\nproviders:\n%s", prov);
  lgw_runtime_t *rt = NULL;
  lgw_gateway_t *gw = NULL;
  lgw_gateway_options_t opts;
  lgw_embed_request_t req;
  lgw_error_t err;
  eoutcome_t o;
  char detail[600];
  int rc;
  memset(&o, 0, sizeof o);
  memset(&opts, 0, sizeof opts);
  memset(&req, 0, sizeof req);
  memset(&err, 0, sizeof err);
  opts.no_state = 1;
  req.task = "conformance";
  req.inputs = inputs;
  req.ninputs = 1;
  req.model = "text-embedding-3-small";
  req.dimensions = 256;
  rc = lgw_runtime_load_string(yaml, strlen(yaml), "conformance.yaml", &rt,
                               &err);
  if (rc == 0) rc = lgw_gateway_new(rt, &opts, &gw, &err);
  if (rc == 0) rc = lgw_gateway_embed(gw, &req, on_embed, &o, NULL, &err);
  if (rc == 0) rc = lgw_gateway_run(gw);
  lgw_gateway_free(gw);
  lgw_runtime_free(rt);
  snprintf(detail, sizeof detail, "%d %.80s%s", o.http,
           rc ? err.message : "", o.status ? o.message : "");
  report(rc == 0 && o.http == 200, t->name, "embeddings", detail);
  lgw_free(yaml);
  lgw_free(prov);
}

int main(int argc, char **argv) {
  size_t i, j;
  if (argc != 3) {
    fprintf(stderr, "usage: %s OPENAI_BASE ANTHROPIC_BASE\n", argv[0]);
    return 2;
  }
  setvbuf(stdout, NULL, _IOLBF, 0);
  if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) return 2;
  for (i = 0; i < NMSG(transports); i++) {
    const transport_t *t = &transports[i];
    const char *base = t->anthropic ? argv[2] : argv[1];
    for (j = 0; j < NMSG(cases); j++)
      if (!cases[j].openai_only || strcmp(t->provider_type, "openai") == 0)
        run_case(t, &cases[j], base);
    for (j = 0; j < NMSG(xcases); j++) run_xcase(t, &xcases[j], base);
    if (!t->anthropic) run_embed_case(t, base);
    run_stream_body(t, base);
  }
  run_faults(argv[1], argv[2]);
  curl_global_cleanup();
  printf("%d passed, %d failed\n", passed, failed);
  return failed ? 1 : 0;
}
