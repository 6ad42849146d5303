/*
 * test_wire_oom.c -- every wire format when memory runs out at each
 * allocation in turn (a sweep: the n-th allocation fails, n = 0, 1, 2, ...
 * until the step succeeds): URLs, headers, plain and rich request bodies,
 * answers read in place and through cJSON, error objects, refusals, SSE
 * bodies and streams fed chunk by chunk. Each failure gives LGW_ENOMEM and
 * "out of memory", never another error, and leaves nothing allocated; the
 * first budget that succeeds gives exactly what an unlimited run gives.
 * Under valgrind (VALGRIND set) the sweeps take every other allocation.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sse.h"
#include "test.h"
#include "transport.h"
#include "util.h"

static long budget = -1;  /* allocations left before failing; -1: no limit */
static long live;         /* blocks allocated and not freed */
static long total;        /* allocations asked for */
static long stride = 1;

static int spend(void) {
  total++;
  if (budget == 0) return 0;
  if (budget > 0) budget--;
  return 1;
}
static void *t_malloc(size_t n) {
  void *p = spend() ? malloc(n) : NULL;
  if (p) live++;
  return p;
}
static void *t_realloc(void *p, size_t n) {
  void *q = spend() ? realloc(p, n) : NULL;
  if (q && !p) live++;
  return q;
}
static void t_free(void *p) {
  if (p) live--;
  free(p);
}

static void quiet(lgw_log_level_t level, const char *msg, void *ud) {
  (void)level;
  (void)msg;
  (void)ud;
}

/* ---- the sweep ---------------------------------------------------------- */

#define OUT_CAP 32768

/* One step: its outcome written to out as text; returns its result code
 * (err says why when it is not 0). */
typedef int (*step_fn)(const void *ud, char *out, size_t cap,
                       lgw_error_t *err);

static long swept_allocs, swept_steps;
static int last_rc;            /* the unlimited run's result */
static char last_out[OUT_CAP]; /* ... and its outcome */

/* Runs step with every budget in turn; "" when it behaved, else what went
 * wrong. */
static const char *sweep(step_fn step, const void *ud) {
  static char why[1024];
  static char full[OUT_CAP], got[OUT_CAP];
  lgw_error_t err;
  long k, need;
  int want, rc;
  why[0] = '\0';
  memset(&err, 0, sizeof err);
  live = total = 0;
  budget = -1;
  want = step(ud, full, sizeof full, &err);
  need = total;
  last_rc = want;
  memcpy(last_out, full, sizeof full);
  if (getenv("TEST_VERBOSE"))
    fprintf(stderr, "  %ld allocations: %.300s\n", need, full);
  if (want == LGW_ENOMEM) {
    snprintf(why, sizeof why, "unlimited run: %.500s", err.message);
    return why;
  }
  if (live) {
    snprintf(why, sizeof why, "unlimited run leaves %ld blocks", live);
    return why;
  }
  if (need == 0) return "the step allocates nothing";
  swept_allocs += need;
  swept_steps++;
  for (k = 0; k <= need; k += k + stride > need ? 1 : stride) {
    memset(&err, 0, sizeof err);
    live = 0;
    budget = k;
    rc = step(ud, got, sizeof got, &err);
    budget = -1;
    if (live) {
      snprintf(why, sizeof why, "allocation %ld: %ld blocks left", k, live);
      return why;
    }
    if (rc == LGW_ENOMEM) {
      if (!strstr(err.message, "out of memory")) {
        snprintf(why, sizeof why, "allocation %ld: message \"%.500s\"", k,
                 err.message);
        return why;
      }
      continue;
    }
    if (rc != want || strcmp(got, full) != 0) {
      snprintf(why, sizeof why,
               "allocation %ld of %ld: rc %d (want %d):\n    got:  %.400s\n"
               "    want: %.400s", k, need, rc, want, got, full);
      return why;
    }
    if (k < need) {
      snprintf(why, sizeof why, "allocation %ld of %ld failed unnoticed", k,
               need);
      return why;
    }
  }
  return "";
}

/* ---- inputs ------------------------------------------------------------- */

static const lgw__transport_t *const transports[] = {
  &lgw__transport_responses, &lgw__transport_chat, &lgw__transport_anthropic,
  &lgw__transport_litellm};
#define NT (sizeof transports / sizeof transports[0])

static const lgw_message_t history[] = {
  {"system", "Be brief."},
  {"user", "Hi"},
  {"assistant", "Hello!"},
  {"user", "Say \"ok\"\n and \xc3\xa9 \x01 bye"}};

#define WEATHER_PARAMS                                                    \
  "{\"type\":\"object\",\"properties\":{\"city\":{\"type\":\"string\"},"  \
  "\"unit\":{\"type\":\"string\",\"enum\":[\"c\",\"f\"]}},"               \
  "\"required\":[\"city\"]}"
static const lgw_tool_t tools[] = {
  {"get_weather", "Get the current weather for a city", WEATHER_PARAMS, 1},
  {"get_time", NULL, NULL, 0}};
static const lgw_tool_call_t paris_call[] = {
  {"call_1", "get_weather", "{\"city\":\"Paris\"}"},
  {"call_2", "get_time", NULL}};

/* 1x1 PNG (70 bytes) */
static const unsigned char png[] = {
  0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a, 0x00, 0x00, 0x00, 0x0d,
  0x49, 0x48, 0x44, 0x52, 0x00, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00, 0x01,
  0x08, 0x06, 0x00, 0x00, 0x00, 0x1f, 0x15, 0xc4, 0x89, 0x00, 0x00, 0x00,
  0x0d, 0x49, 0x44, 0x41, 0x54, 0x78, 0xda, 0x63, 0xf8, 0xcf, 0xc0, 0xf0,
  0x1f, 0x00, 0x05, 0x00, 0x01, 0xff, 0x56, 0xc7, 0x2f, 0x0d, 0x00, 0x00,
  0x00, 0x00, 0x49, 0x45, 0x4e, 0x44, 0xae, 0x42, 0x60, 0x82};

static lgw_part_t user_parts[4];
static lgw_rich_message_t rich[6];

static void set_rich(void) {
  memset(user_parts, 0, sizeof user_parts);
  memset(rich, 0, sizeof rich);
  user_parts[0].type = LGW_PART_TEXT;
  user_parts[0].text = "What is the weather here, and in this file?";
  user_parts[1].type = LGW_PART_IMAGE;
  user_parts[1].url = "https://example.com/cat.png";
  user_parts[1].detail = "high";
  user_parts[2].type = LGW_PART_IMAGE;
  user_parts[2].data = png;
  user_parts[2].data_len = sizeof png;
  user_parts[2].media_type = "image/png";
  user_parts[3].type = LGW_PART_FILE;
  user_parts[3].data = "%PDF-1.4 hello";
  user_parts[3].data_len = 14;
  user_parts[3].media_type = "application/pdf";
  user_parts[3].filename = "hello.pdf";
  rich[0].role = "system";
  rich[0].content = "You are a weather assistant.";
  rich[1].role = "user";
  rich[1].parts = user_parts;
  rich[1].nparts = 4;
  rich[1].name = "ann";
  rich[2].role = "assistant";
  rich[2].content = "Let me check.";
  rich[2].tool_calls = paris_call;
  rich[2].ntool_calls = 2;
  rich[3].role = "tool";
  rich[3].tool_call_id = "call_1";
  rich[3].content = "{\"temp\":21}";
  rich[4].role = "tool";
  rich[4].tool_call_id = "call_2";
  rich[4].content = "error: no clock";
  rich[4].is_error = 1;
  rich[5].role = "user";
  rich[5].content = "And in Lyon?";
}

static const char *const stops[] = {"END", "\n\n"};

typedef struct body_case {
  const lgw__transport_t *t;
  int rich;
} body_case_t;

static lgw__call_t make_call(int with_rich, int stream) {
  lgw__call_t c;
  memset(&c, 0, sizeof c);
  c.model = "m-1";
  c.reasoning_effort = "high";
  c.temperature = 0.7;
  c.max_tokens = 1024;
  c.stream = stream;
  c.messages = history;
  c.nmessages = sizeof history / sizeof history[0];
  c.extra_body = "{\"service_tier\":\"flex\",\"store\":false}";
  c.extra = "{\"store\":true,\"x\":{\"y\":[1,\"z\",null]}}";
  if (!with_rich) return c;
  c.rich = rich;
  c.nrich = sizeof rich / sizeof rich[0];
  c.tools = tools;
  c.ntools = 2;
  c.tool_choice_name = "get_weather";
  c.parallel_tool_calls = -1;
  c.schema_json = "{\"type\":\"object\",\"properties\":{\"ok\":"
                  "{\"type\":\"boolean\"}},\"required\":[\"ok\"]}";
  c.schema_name = "verdict";
  c.schema_strict = 1;
  c.stop = stops;
  c.nstop = 2;
  c.has_top_p = 1;
  c.top_p = 0.9;
  c.has_seed = 1;
  c.seed = 42;
  c.user = "u-1";
  c.metadata_json = "{\"run\":\"7\"}";
  return c;
}

/* ---- steps -------------------------------------------------------------- */

static int step_url(const void *ud, char *out, size_t cap, lgw_error_t *err) {
  const lgw__transport_t *t = ud;
  lgw__provider_t p;
  char *u;
  memset(&p, 0, sizeof p);
  p.base_url = (char *)" https://api.example/v1/?api-version=2024 ";
  u = t->url(&p);
  if (!u) return lgw__error_set(err, LGW_ENOMEM, "out of memory (url)");
  snprintf(out, cap, "%s", u);
  lgw_free(u);
  return 0;
}

/* The embeddings endpoint the gateway posts to (the same URL rules). */
static int step_embed_url(const void *ud, char *out, size_t cap,
                          lgw_error_t *err) {
  char *u = lgw__endpoint_url(ud, "/embeddings", "/embeddings");
  if (!u) return lgw__error_set(err, LGW_ENOMEM, "out of memory (url)");
  snprintf(out, cap, "%s", u);
  lgw_free(u);
  return 0;
}

static int step_headers(const void *ud, char *out, size_t cap,
                        lgw_error_t *err) {
  const lgw__transport_t *t = ud;
  lgw__provider_t p;
  lgw__kv_t hv[3] = {{(char *)"X-A", (char *)"a"},
                     {(char *)" ", (char *)"blank"},
                     {(char *)"X-B", (char *)""}};
  lgw__kvlist_t l = {NULL, 0};
  size_t i, k = 0;
  int rc;
  memset(&p, 0, sizeof p);
  p.base_url = (char *)"https://api.example";
  p.api_key = (char *)" sk-1 ";
  p.headers.items = hv;
  p.headers.n = 3;
  rc = t->headers(&p, &l);
  out[0] = '\0';
  for (i = 0; !rc && i < l.n; i++)
    k += (size_t)snprintf(out + k, cap - k, "%s%s: %s", i ? "|" : "",
                          l.items[i].key, l.items[i].value);
  lgw__kvlist_free(&l);
  return rc ? lgw__error_set(err, rc, "out of memory (headers)") : 0;
}

static int step_body(const void *ud, char *out, size_t cap,
                     lgw_error_t *err) {
  const body_case_t *bc = ud;
  lgw__call_t c = make_call(bc->rich, bc->rich);
  char *b = NULL;
  size_t len = 0;
  int rc = lgw__transport_body(bc->t, &c, &b, &len, err);
  if (!rc) snprintf(out, cap, "%zu %s", len, b);
  else snprintf(out, cap, "ERR %d %s", rc, err->message);
  lgw_free(b);
  return rc;
}

/* A reply as one line: text (a NUL as \0), refusal, finish, usage, calls. */
static void reply_line(const lgw__reply_t *r, char *out, size_t cap) {
  size_t i, k = 0;
  k += (size_t)snprintf(out + k, cap - k, "text=");
  for (i = 0; r->text && i < r->text_len && k < cap - 8; i++)
    k += (size_t)snprintf(out + k, cap - k, r->text[i] ? "%c" : "\\0",
                          r->text[i]);
  k += (size_t)snprintf(out + k, cap - k, " refusal=");
  for (i = 0; r->refusal && i < r->refusal_len && k < cap - 8; i++)
    k += (size_t)snprintf(out + k, cap - k, r->refusal[i] ? "%c" : "\\0",
                          r->refusal[i]);
  k += (size_t)snprintf(out + k, cap - k, "%s finish=%s usage=%ld/%ld/%ld/%ld",
                        r->refusal ? "" : "-",
                        r->finish_reason ? r->finish_reason : "-",
                        r->input_tokens, r->output_tokens, r->cached_tokens,
                        r->reasoning_tokens);
  for (i = 0; i < r->calls.n && k < cap - 8; i++)
    k += (size_t)snprintf(out + k, cap - k, " call=%s/%s/%.*s",
                          r->calls.v[i].id, r->calls.v[i].name,
                          (int)r->calls.v[i].args.len,
                          r->calls.v[i].args.data ? r->calls.v[i].args.data
                                                  : "");
}

typedef struct parse_case {
  const lgw__transport_t *t;
  const char *body;
  size_t len;
  const char *ct;
} parse_case_t;

static int step_parse(const void *ud, char *out, size_t cap,
                      lgw_error_t *err) {
  const parse_case_t *pc = ud;
  lgw__reply_t r;
  int rc;
  memset(&r, 0, sizeof r);
  rc = pc->t->parse(pc->body, pc->len, pc->ct, &r, err);
  if (rc) snprintf(out, cap, "ERR %d %d %s", rc, err->http_status,
                   err->message);
  else reply_line(&r, out, cap);
  lgw__reply_free(&r);
  return rc;
}

typedef struct feed {
  const lgw__transport_t *t;
  lgw__stream_t s;
  lgw_error_t *err;
  char *deltas;
  size_t cap, k;
} feed_t;

static int on_event(const char *name, const char *data, size_t len,
                    void *ud) {
  feed_t *f = ud;
  int rc;
  f->s.event = name;
  f->s.delta.len = 0;
  rc = f->t->stream_event(&f->s, data, len, f->err);
  if (!rc && f->s.delta.len)
    f->k += (size_t)snprintf(f->deltas + f->k, f->cap - f->k, "[%.*s]",
                             (int)f->s.delta.len, f->s.delta.data);
  return rc;
}

typedef struct stream_case {
  const lgw__transport_t *t;
  const char *body;
  size_t len, piece;
} stream_case_t;

/* The stream fed in pieces through the SSE parser, then taken. */
static int step_stream(const void *ud, char *out, size_t cap,
                       lgw_error_t *err) {
  const stream_case_t *sc = ud;
  static char deltas[OUT_CAP / 2];
  lgw__sse_parser_t p;
  lgw__reply_t r;
  feed_t f;
  size_t i;
  int rc = 0;
  memset(&r, 0, sizeof r);
  memset(&f, 0, sizeof f);
  f.t = sc->t;
  f.err = err;
  f.deltas = deltas;
  f.cap = sizeof deltas;
  deltas[0] = '\0';
  lgw__stream_init(&f.s);
  lgw__sse_parser_init(&p);
  for (i = 0; !rc && i < sc->len; i += sc->piece)
    rc = lgw__sse_feed(&p, sc->body + i,
                       sc->len - i < sc->piece ? sc->len - i : sc->piece,
                       on_event, &f);
  rc = rc ? rc : lgw__sse_finish(&p, on_event, &f);
  if (!rc && (rc = lgw__stream_take(&f.s, &r)) != 0)
    lgw__error_set(err, rc, "out of memory taking the stream");
  /* the parser's own failures carry no message */
  if (rc == LGW_ENOMEM && !err->message[0])
    lgw__error_set(err, rc, "out of memory framing events");
  if (rc) {
    snprintf(out, cap, "ERR %d %d %s", rc, err->http_status, err->message);
  } else {
    size_t k = (size_t)snprintf(out, cap, "%s%s ", f.s.done ? "done" : "open",
                                deltas);
    reply_line(&r, out + k, cap - k);
  }
  lgw__reply_free(&r);
  lgw__stream_free(&f.s);
  lgw__sse_parser_free(&p);
  return rc;
}

/* ---- data --------------------------------------------------------------- */

static char *slurp(const char *path) {
  FILE *f = fopen(path, "rb");
  char *b;
  long n;
  if (!f) return NULL;
  fseek(f, 0, SEEK_END);
  n = ftell(f);
  fseek(f, 0, SEEK_SET);
  b = malloc((size_t)n + 1);
  if (b && fread(b, 1, (size_t)n, f) != (size_t)n) {
    free(b);
    b = NULL;
  }
  if (b) b[n] = '\0';
  fclose(f);
  return b;
}

#define DATA "tests/c/data/"
static const char *const answer_files[] = {
  DATA "openai-node-6.49.0_responses.create_tools.response.json",
  DATA "openai-node-6.49.0_chat.completions.create_tools.response.json",
  DATA "anthropic-sdk-1.12.0_messages.create_tools.response.json",
  DATA "openai-node-6.49.0_chat.completions.create_tools.response.json"};
static const char *const stream_files[] = {
  DATA "openai-node-6.49.0_responses.create_tools_stream.sse.txt",
  DATA "openai-node-6.49.0_chat.completions.create_tools_stream.sse.txt",
  DATA "anthropic-sdk-1.12.0_messages.create_tools_stream.sse.txt",
  DATA "openai-node-6.49.0_chat.completions.create_tools_stream.sse.txt"};

/* Answers of each format besides the captures: text with escapes (and a
 * U+0000), a refusal, an error object inside a 2xx answer. */
static const char *const more_answers[NT][3] = {
  {"{\"output\":[{\"type\":\"message\",\"content\":[{\"type\":"
   "\"output_text\",\"text\":\"caf\\u00e9 \\\"x\\\"\\u0000!\"},{\"type\":"
   "\"output_text\",\"text\":\"two\"}]}],\"status\":\"completed\","
   "\"usage\":{\"input_tokens\":5,\"output_tokens\":7,"
   "\"input_tokens_details\":{\"cached_tokens\":2},"
   "\"output_tokens_details\":{\"reasoning_tokens\":3}}}",
   "{\"output\":[{\"type\":\"message\",\"content\":[{\"type\":\"refusal\","
   "\"refusal\":\"I can\\u2019t help with that.\"}]}],\"usage\":"
   "{\"input_tokens\":5,\"output_tokens\":1}}",
   "{\"error\":{\"type\":\"server_error\",\"code\":\"rate_limit_exceeded\","
   "\"message\":\"Slow down \\\"now\\\"\"}}"},
  {"{\"choices\":[{\"index\":0,\"message\":{\"role\":\"assistant\","
   "\"content\":\"caf\\u00e9 \\\"x\\\"\\u0000!\"},\"finish_reason\":"
   "\"length\"}],\"usage\":{\"prompt_tokens\":5,\"completion_tokens\":7,"
   "\"prompt_tokens_details\":{\"cached_tokens\":2},"
   "\"completion_tokens_details\":{\"reasoning_tokens\":3}}}",
   "{\"choices\":[{\"message\":{\"content\":null,\"refusal\":\"No \\n"
   "way.\"},\"finish_reason\":\"stop\"}]}",
   "{\"error\":{\"type\":\"invalid_request_error\",\"message\":\"Bad "
   "\\\"model\\\"\"}}"},
  {"{\"type\":\"message\",\"content\":[{\"type\":\"text\",\"text\":"
   "\"caf\\u00e9 \\\"x\\\"\\u0000!\"},{\"type\":\"thinking\",\"thinking\":"
   "\"hm\"},{\"type\":\"text\",\"text\":\"two\"}],\"stop_reason\":"
   "\"max_tokens\",\"usage\":{\"input_tokens\":3,\"output_tokens\":9,"
   "\"cache_read_input_tokens\":2}}",
   "{\"content\":[{\"type\":\"text\",\"text\":\"I won't.\"}],"
   "\"stop_reason\":\"refusal\",\"usage\":{\"input_tokens\":3,"
   "\"output_tokens\":0}}",
   "{\"type\":\"error\",\"error\":{\"type\":\"overloaded_error\","
   "\"message\":\"Overloaded \\u00e9\"}}"},
  {"{\"choices\":[{\"message\":{\"content\":[{\"type\":\"text\",\"text\":"
   "\"a\\u0000\"},\"b\"]},\"finish_reason\":\"tool_calls\"}]}",
   "{\"choices\":[{\"message\":{\"content\":\"\",\"refusal\":\"no\"}}]}",
   "{\"error\":{\"code\":\"rate_limit_exceeded\",\"message\":\"later\"}}"}};

/* An error event in each stream format, fed after a first text delta. */
static const char *const error_streams[NT] = {
  "event: response.output_text.delta\ndata: {\"type\":\"response.output_"
  "text.delta\",\"output_index\":0,\"content_index\":0,\"delta\":\"Hi\"}\n\n"
  "event: error\ndata: {\"type\":\"error\",\"code\":\"rate_limit_exceeded\","
  "\"message\":\"Slow down\"}\n\n",
  "data: {\"choices\":[{\"index\":0,\"delta\":{\"content\":\"Hi\"}}]}\n\n"
  "data: {\"error\":{\"type\":\"server_error\",\"message\":\"boom "
  "\\\"x\\\"\"}}\n\n",
  "event: content_block_delta\ndata: {\"type\":\"content_block_delta\","
  "\"index\":0,\"delta\":{\"type\":\"text_delta\",\"text\":\"Hi\"}}\n\n"
  "event: error\ndata: {\"type\":\"error\",\"error\":{\"type\":"
  "\"overloaded_error\",\"message\":\"Overloaded\"}}\n\n",
  "data: {\"choices\":[{\"index\":0,\"delta\":{\"content\":\"Hi\","
  "\"refusal\":\"no\"},\"finish_reason\":\"content_filter\"}]}\n\n"
  "data: [DONE]\n\n"};

/* Text streams of each format (tool calls are in the captures): parts,
 * escapes and a U+0000, another choice, a refusal, usage, a data event
 * over two lines, CRLF line ends and a byte order mark. */
static const char *const text_streams[NT] = {
  "event: response.created\r\ndata: {\"type\":\"response.created\","
  "\"response\":{\"id\":\"r1\",\"status\":\"in_progress\","
  "\"output\":[]}}\r\n\r\n"
  "event: response.output_text.delta\r\ndata: {\"type\":\"response."
  "output_text.delta\",\"output_index\":0,\"content_index\":0,"
  "\"delta\":\"Hel\"}\r\n\r\n"
  "data: {\"type\":\"response.output_text.delta\",\"output_index\":0,"
  "\"content_index\":0,\"delta\":\"lo \\u00e9\\u0000\\\"x\\\"\"}\r\n\r\n"
  "data: {\"type\":\"response.output_text.delta\",\r\n"
  "data: \"output_index\":1,\"content_index\":0,\"delta\":\"two\"}\r\n\r\n"
  "data: {\"type\":\"response.refusal.delta\",\"output_index\":2,"
  "\"content_index\":0,\"delta\":\"no \\u2019\"}\r\n\r\n"
  "event: response.completed\r\ndata: {\"type\":\"response.completed\","
  "\"response\":{\"status\":\"completed\",\"output\":[{\"type\":"
  "\"message\",\"content\":[{\"type\":\"output_text\",\"text\":"
  "\"Hello\"}]}],\"usage\":{\"input_tokens\":5,\"output_tokens\":7,"
  "\"input_tokens_details\":{\"cached_tokens\":1},"
  "\"output_tokens_details\":{\"reasoning_tokens\":2}}}}\r\n\r\n"
  "data: [DONE]\r\n\r\n",
  "\xEF\xBB\xBF: a comment\n\n"
  "data: {\"id\":\"c1\",\"object\":\"chat.completion.chunk\",\"model\":"
  "\"m\",\"created\":1,\"choices\":[{\"index\":0,\"delta\":{\"role\":"
  "\"assistant\",\"content\":\"\"}}]}\n\n"
  "data: {\"object\":\"chat.completion.chunk\",\"choices\":[{\"index\":0,"
  "\"delta\":{\"content\":\"Hel\"}}]}\n\n"
  "data: {\"object\":\"chat.completion.chunk\",\"choices\":[{\"index\":0,"
  "\n"
  "data: \"delta\":{\"content\":\"lo \\u0000\\u00e9 \\\"x\\\"\"}}]}\n\n"
  "data: {\"object\":\"chat.completion.chunk\",\"choices\":[{\"index\":1,"
  "\"delta\":{\"content\":\"other choice\"}}]}\n\n"
  "data: {\"object\":\"chat.completion.chunk\",\"choices\":[{\"index\":0,"
  "\"delta\":{},\"finish_reason\":\"length\"}]}\n\n"
  "data: {\"object\":\"chat.completion.chunk\",\"choices\":[],\"usage\":"
  "{\"prompt_tokens\":3,\"completion_tokens\":4,"
  "\"prompt_tokens_details\":{\"cached_tokens\":1}}}\n\n"
  "data: [DONE]\n\n",
  "event: message_start\ndata: {\"type\":\"message_start\",\"message\":"
  "{\"id\":\"m1\",\"type\":\"message\",\"role\":\"assistant\","
  "\"content\":[],\"usage\":{\"input_tokens\":9,\"output_tokens\":1,"
  "\"cache_read_input_tokens\":4}}}\n\n"
  "event: content_block_start\ndata: {\"type\":\"content_block_start\","
  "\"index\":0,\"content_block\":{\"type\":\"thinking\",\"thinking\":"
  "\"\"}}\n\n"
  "event: content_block_delta\ndata: {\"type\":\"content_block_delta\","
  "\"index\":0,\"delta\":{\"type\":\"thinking_delta\",\"thinking\":"
  "\"hm\"}}\n\n"
  "event: ping\ndata: {\"type\": \"ping\"}\n\n"
  "event: content_block_delta\ndata: {\"type\":\"content_block_delta\","
  "\"index\":1,\"delta\":{\"type\":\"text_delta\",\"text\":"
  "\"Hel\"}}\n\n"
  "event: content_block_delta\ndata: {\"type\":\"content_block_delta\","
  "\"index\":1,\"delta\":{\"type\":\"text_delta\",\"text\":"
  "\"lo \\u0000\\u00e9\"}}\n\n"
  "event: content_block_delta\ndata: {\"type\":\"content_block_delta\","
  "\"index\":2,\"delta\":{\"type\":\"text_delta\",\"text\":"
  "\"two\"}}\n\n"
  "event: message_delta\ndata: {\"type\":\"message_delta\",\"delta\":"
  "{\"stop_reason\":\"end_turn\"},\"usage\":{\"output_tokens\":12}}\n\n"
  "event: message_stop\ndata: {\"type\":\"message_stop\"}\n\n",
  NULL};

/* ---- tests -------------------------------------------------------------- */

#define SWEEP(step, ud, what)                                      \
  do {                                                             \
    const char *why_ = sweep(step, ud);                            \
    if (why_[0]) TEST__FAIL("%s: %s", what, why_);                 \
    if (last_rc) TEST__FAIL("%s: %.500s", what, last_out);         \
  } while (0)

TEST(urls_and_headers) {
  size_t i;
  for (i = 0; i < NT; i++) {
    SWEEP(step_url, transports[i], transports[i]->name);
    SWEEP(step_headers, transports[i], transports[i]->name);
  }
  SWEEP(step_embed_url, " https://h.example/v1/?api-version=1 ", "embed url");
  ASSERT_STREQ(last_out, "https://h.example/v1/embeddings?api-version=1");
}

TEST(request_bodies) {
  size_t i;
  int r;
  set_rich();
  for (i = 0; i < NT; i++)
    for (r = 0; r < 2; r++) {
      body_case_t bc;
      char what[64];
      bc.t = transports[i];
      bc.rich = r;
      snprintf(what, sizeof what, "%s %s body", bc.t->name,
               r ? "rich" : "plain");
      SWEEP(step_body, &bc, what);
    }
}

/* Every answer read in place and through cJSON (a leading form feed is
 * whitespace to cJSON only), and as an SSE body. */
TEST(answers) {
  size_t i, j;
  int f;
  for (i = 0; i < NT; i++) {
    char *file = slurp(answer_files[i]);
    ASSERT(file != NULL);
    for (j = 0; j < 4; j++) {
      const char *b = j ? more_answers[i][j - 1] : file;
      for (f = 0; f < 2; f++) {
        char *fb = malloc(strlen(b) + 2), what[96];
        parse_case_t pc;
        ASSERT(fb != NULL);
        sprintf(fb, "%s%s", f ? "\f" : "", b);
        pc.t = transports[i];
        pc.body = fb;
        pc.len = strlen(fb);
        pc.ct = "application/json";
        snprintf(what, sizeof what, "%s answer %zu%s", pc.t->name, j,
                 f ? " (cJSON)" : "");
        {
          const char *why_ = sweep(step_parse, &pc);
          free(fb);
          if (!why_[0] && last_rc != (j == 3 ? LGW_EHTTP : 0))
            why_ = last_out;
          if (why_[0]) {
            free(file);
            TEST__FAIL("%s: %s", what, why_);
          }
        }
      }
    }
    free(file);
  }
}

TEST(sse_bodies) {
  size_t i;
  for (i = 0; i < NT; i++) {
    char *file = slurp(stream_files[i]), what[96];
    parse_case_t pc;
    const char *why_;
    ASSERT(file != NULL);
    pc.t = transports[i];
    pc.body = file;
    pc.len = strlen(file);
    pc.ct = "text/event-stream";
    snprintf(what, sizeof what, "%s SSE body", pc.t->name);
    why_ = sweep(step_parse, &pc);
    if (!why_[0] && last_rc) why_ = last_out;
    if (!why_[0]) {
      pc.body = error_streams[i];
      pc.len = strlen(pc.body);
      snprintf(what, sizeof what, "%s SSE error body", pc.t->name);
      why_ = sweep(step_parse, &pc);
      /* a body's Responses deltas win over its error event (§10.1) */
      if (!why_[0] && last_rc != (i % 3 == 0 ? 0 : LGW_EHTTP))
        why_ = last_out;
    }
    if (!why_[0]) {
      pc.body = text_streams[i < 3 ? i : 1];
      pc.len = strlen(pc.body);
      snprintf(what, sizeof what, "%s SSE text body", pc.t->name);
      why_ = sweep(step_parse, &pc);
      if (!why_[0] && last_rc) why_ = last_out;
    }
    free(file);
    if (why_[0]) TEST__FAIL("%s: %s", what, why_);
  }
}

TEST(streams) {
  static const size_t pieces[] = {7, 100000};
  size_t i, j;
  for (i = 0; i < NT; i++) {
    char *file = slurp(stream_files[i]);
    ASSERT(file != NULL);
    /* the capture, a text stream (both in pieces of 7 and whole), and
     * the error stream */
    for (j = 0; j < 5; j++) {
      static const char *const kind[] = {"capture", "text", "error"};
      stream_case_t sc;
      char what[96];
      const char *why_;
      sc.t = transports[i];
      sc.body = j < 2   ? file
                : j < 4 ? text_streams[i < 3 ? i : 1]
                        : error_streams[i];
      sc.len = strlen(sc.body);
      sc.piece = pieces[j % 2];
      snprintf(what, sizeof what, "%s %s stream in pieces of %zu",
               sc.t->name, kind[j / 2], sc.piece);
      why_ = sweep(step_stream, &sc);
      if (!why_[0] && (j < 4 || i == 3 ? last_rc || strncmp(last_out, "done", 4)
                                       : last_rc != LGW_EHTTP))
        why_ = last_out;
      if (why_[0]) {
        free(file);
        TEST__FAIL("%s: %s", what, why_);
      }
    }
    free(file);
  }
}

/* A non-2xx body's message is the same whatever memory is left (it has
 * no error of its own to give). */
TEST(error_body_messages) {
  static const char *const bodies[] = {
    "{\"error\":{\"message\":\"Rate limit \\\"reached\\\" \\u00e9\","
    "\"type\":\"rate_limit_exceeded\"}}",
    "{\"type\":\"error\",\"error\":{\"type\":\"overloaded_error\","
    "\"message\":\"Overloaded\"}}",
    "{\"detail\":\"Not\\nfound\"}",
    "<html>502 Bad Gateway</html>"};
  size_t i;
  long k;
  for (i = 0; i < sizeof bodies / sizeof bodies[0]; i++) {
    char full[256], got[256];
    size_t n = strlen(bodies[i]);
    live = total = 0;
    lgw__error_body_message(bodies[i], n, full, sizeof full);
    ASSERT_EQ(live, 0);
    for (k = total - 1; k >= 0; k--) {
      budget = k;
      lgw__error_body_message(bodies[i], n, got, sizeof got);
      budget = -1;
      ASSERT_EQ(live, 0);
      ASSERT_STREQ(got, full);
    }
  }
}

int main(void) {
  if (getenv("VALGRIND")) stride = 2;
  lgw_set_allocator(t_malloc, t_realloc, t_free);
  lgw_set_log(quiet, NULL, LGW_LOG_DEBUG);
  RUN(urls_and_headers);
  RUN(request_bodies);
  RUN(answers);
  RUN(sse_bodies);
  RUN(streams);
  RUN(error_body_messages);
  if (getenv("TEST_VERBOSE"))
    fprintf(stderr, "%ld sweeps, %ld allocations\n", swept_steps,
            swept_allocs);
  return TEST_SUMMARY();
}
