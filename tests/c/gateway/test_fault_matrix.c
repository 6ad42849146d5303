/*
 * test_fault_matrix.c -- every injected fault against every transport
 * (responses, openai_chat, anthropic, litellm), end to end through the
 * simulator, with two providers: provider 1 carries the fault (x-sim
 * header, or a URL that cannot be reached), provider 2 is clean. Each case
 * asserts the exact outcome (text or error), every attempt (provider,
 * status, code, message, delay), which provider answered, and that the
 * API key on both providers appears nowhere. Rows that always fail are run
 * a second time with provider 2 faulty too, which must fail with the
 * last attempt's code.
 * The four transports of a row run at once on one caller-owned loop.
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>
#include <uv.h>

#include "llmgateway.h"
#include "gw_support.h"
#include "sim_support.h"
#include "test.h"
#include "util.h"

#define CANARY "sk-canary-SECRET-1234"
#define NSTYLE 4
#define MAXATT 8
#define WATCHDOG_MS 20000

static sim_t sim;
static char refused_url[64];    /* a closed loopback port */
static char blackhole_url[64];  /* a port whose SYNs are dropped */

static const char *const style_name[NSTYLE] = {"responses", "openai_chat",
                                               "anthropic", "litellm"};
static const char *const style_path[NSTYLE] = {
    "/v1/responses", "/v1/chat/completions", "/v1/messages",
    "/v1/chat/completions"};

/* ---- the table ------------------------------------------------------------ */

enum { P1_SIM, P1_REFUSED, P1_DNS, P1_BLACKHOLE };

typedef struct exp_att {
  int pi, status, code;
} exp_att_t;

typedef struct row {
  const char *name;
  int p1;              /* P1_*: where provider 1 points */
  const char *xsim;    /* provider 1's x-sim; "%s" takes a counter id */
  const char *extra;   /* more settings lines, "" for none */
  int winner;          /* provider_index of the answer */
  const char *text;    /* expected text; NULL = "echo(m1): hello" */
  int natt;
  exp_att_t att[4];
  double d_lo, d_hi;   /* retry_delay of attempt 1 when the server asks;
                          d_lo < 0: the backoff range */
  int timed;           /* failing attempts last about `timeout` */
  int both;            /* also with provider 2 faulty: both fail */
} row_t;

#define BACKOFF -1, 0
#define OK1 {1, 200, 0}
#define OK2 {2, 200, 0}
#define A(pi, st, code) {pi, st, LGW_E##code}

/* fails once on provider 1, then provider 1 answers */
#define ONCE(nm, st, code)                                                 \
  {nm, P1_SIM, "status=" #st " times=1 id=%s", "", 1, NULL, 2,      \
   {A(1, st, code), OK1}, BACKOFF, 0, 0}
/* always fails on provider 1: transport_retries attempts, then provider 2 */
#define ALWAYS(nm, p1, xs, st, code, timed)                                \
  {nm, p1, xs, "", 2, NULL, 3,                                      \
   {A(1, st, code), A(1, st, code), OK2}, BACKOFF, timed, 1}
/* provider 1 refuses the request: one attempt, then provider 2 */
#define FAILOVER(nm, st, code)                                             \
  {nm, P1_SIM, "status=" #st, "", 2, NULL, 2,                       \
   {A(1, st, code), OK2}, BACKOFF, 0, 1}

static const row_t rows[] = {
    {"429_retry_after_s", P1_SIM,
     "status=429 retry_after=1 times=1 id=%s", "", 1, NULL, 2,
     {A(1, 429, RATELIMIT), OK1}, 1.0, 1.0, 0, 0},
    /* an HTTP date has whole seconds: 1 s from now is 0..1 s away */
    {"429_retry_after_date", P1_SIM,
     "status=429 retry_after_date=1 times=1 id=%s", "", 1, NULL, 2,
     {A(1, 429, RATELIMIT), OK1}, 0.0, 1.0, 0, 0},
    {"429_retry_after_ms", P1_SIM,
     "status=429 retry_after_ms=200 times=1 id=%s", "", 1, NULL, 2,
     {A(1, 429, RATELIMIT), OK1}, 0.2, 0.2, 0, 0},
    ALWAYS("429_always", P1_SIM, "status=429", 429, RATELIMIT, 0),
    ONCE("500_once", 500, HTTP),
    ONCE("502_once", 502, HTTP),
    ONCE("503_once", 503, HTTP),
    ONCE("504_once", 504, HTTP),
    ONCE("529_once", 529, HTTP),
    ALWAYS("500_always", P1_SIM, "status=500", 500, HTTP, 0),
    ALWAYS("502_always", P1_SIM, "status=502", 502, HTTP, 0),
    ALWAYS("503_always", P1_SIM, "status=503", 503, HTTP, 0),
    ALWAYS("504_always", P1_SIM, "status=504", 504, HTTP, 0),
    ALWAYS("529_always", P1_SIM, "status=529", 529, HTTP, 0),
    ALWAYS("408_always", P1_SIM, "status=408", 408, HTTP, 0),
    ALWAYS("409_always", P1_SIM, "status=409", 409, HTTP, 0),
    FAILOVER("400", 400, HTTP),
    FAILOVER("401", 401, AUTH),
    FAILOVER("403", 403, AUTH),
    FAILOVER("404", 404, HTTP),
    FAILOVER("413", 413, HTTP),
    FAILOVER("422", 422, HTTP),
    ALWAYS("conn_refused", P1_REFUSED, NULL, 0, CONNECT, 0),
    ALWAYS("dns_failure", P1_DNS, NULL, 0, CONNECT, 0),
    /* the SYN is dropped: connect_timeout runs out */
    ALWAYS("unreachable_port", P1_BLACKHOLE, NULL, 0, TIMEOUT, 1),
    ALWAYS("reset", P1_SIM, "fault=reset", 0, HTTP, 0),
    ALWAYS("reset_body", P1_SIM, "fault=reset_body", 200, HTTP, 0),
    ALWAYS("hang", P1_SIM, "fault=hang", 0, TIMEOUT, 1),
    ALWAYS("slow_body", P1_SIM, "fault=slow", 200, TIMEOUT, 1),
    ALWAYS("truncated", P1_SIM, "fault=truncated", 200, RESPONSE, 0),
    ALWAYS("invalid_json", P1_SIM, "fault=invalid_json", 200, RESPONSE, 0),
    ALWAYS("html_200", P1_SIM, "fault=html", 200, RESPONSE, 0),
    ALWAYS("empty_text", P1_SIM, "fault=empty", 200, EMPTY, 0),
    /* JSON of no known shape yields no text: the empty-text error, as in
     * the Python library (seed-behavior §10: extraction gives "") */
    ALWAYS("bad_shape", P1_SIM, "fault=bad_shape", 200, EMPTY, 0),
    /* An error object in a 200 is an error on every transport (the
     * OpenAI formats see its "error" member), retried like a 529 */
    {"anthropic_error", P1_SIM, "fault=anthropic_error", "", 2, NULL,
     3, {A(1, 200, HTTP), A(1, 200, HTTP), OK2}, BACKOFF, 0, 1},
    {"anthropic_error_once", P1_SIM,
     "fault=anthropic_error times=1 id=%s", "", 1, NULL, 2,
     {A(1, 200, HTTP), OK1}, BACKOFF, 0, 0},
    {"oversize", P1_SIM, "fault=oversize size=50000",
     "  max_response_bytes: 10000\n", 2, NULL, 2,
     {A(1, 200, TOOBIG), OK2}, BACKOFF, 0, 1},
    /* the bytes pass through as received (not replaced by U+FFFD) */
    {"bad_utf8", P1_SIM, "fault=bad_utf8", "", 1,
     "echo(m1): hello \xff\xfe", 1, {OK1}, BACKOFF, 0, 0},
    ALWAYS("deep_nesting", P1_SIM, "fault=deep", 200, RESPONSE, 0),
};
#define NROWS (sizeof rows / sizeof rows[0])

/* ---- one case: a row on one transport, one scenario ----------------------- */

typedef struct att_copy {
  int pi, status, code;
  double delay, elapsed;
  char msg[1024], model[64], type[32], url[160];
} att_copy_t;

typedef struct fcase {
  const row_t *row;
  int style;            /* index into style_name */
  int both;             /* provider 2 faulty too */
  char url1[160], url2[160];
  lgw_gateway_t *gw;
  /* the outcome, copied in the callback */
  int calls, status, provider_index, has_err, http_status, providers_tried;
  char text[256], err[4096], api_style[32], base_url[160];
  size_t text_len, natt;
  long in_tok, out_tok;
  att_copy_t att[MAXATT];
} fcase_t;

static void on_done(lgw_gateway_t *gw, uint64_t id, int status,
                    const lgw_result_t *res, const lgw_error_t *err,
                    void *ud) {
  fcase_t *c = ud;
  size_t i;
  (void)gw;
  (void)id;
  c->calls++;
  c->status = status;
  c->has_err = err != NULL;
  gws_cp(c->err, sizeof c->err, err ? err->message : NULL);
  c->http_status = err ? err->http_status : 0;
  if (res->text) {
    c->text_len = res->text_len;
    memcpy(c->text, res->text,
           res->text_len < sizeof c->text ? res->text_len : 0);
  } else {
    gws_cp(c->text, sizeof c->text, NULL);
  }
  gws_cp(c->api_style, sizeof c->api_style, res->api_style);
  gws_cp(c->base_url, sizeof c->base_url, res->base_url);
  c->provider_index = res->provider_index;
  c->in_tok = res->input_tokens;
  c->out_tok = res->output_tokens;
  c->natt = res->nattempts;
  c->providers_tried = res->providers_tried;
  for (i = 0; i < res->nattempts && i < MAXATT; i++) {
    const lgw_attempt_t *a = &res->attempts[i];
    c->att[i].pi = a->provider_index;
    c->att[i].status = a->http_status;
    c->att[i].code = a->code;
    c->att[i].delay = a->retry_delay;
    c->att[i].elapsed = a->elapsed;
    gws_cp(c->att[i].msg, sizeof c->att[i].msg, a->message);
    gws_cp(c->att[i].model, sizeof c->att[i].model, a->model);
    gws_cp(c->att[i].type, sizeof c->att[i].type, a->provider_type);
    gws_cp(c->att[i].url, sizeof c->att[i].url, a->base_url);
  }
}

static void url_of(const row_t *r, char *out, size_t cap) {
  switch (r->p1) {
    case P1_REFUSED: gws_cp(out, cap, refused_url); break;
    case P1_DNS: gws_cp(out, cap, "https://nonexistent.invalid"); break;
    case P1_BLACKHOLE: gws_cp(out, cap, blackhole_url); break;
    default: gws_cp(out, cap, sim.base); break;
  }
}

/* One provider entry; xsim NULL or "" for none. */
static void add_provider(lgw__buf_t *b, const char *style, const char *url,
                         const char *xsim) {
  lgw__buf_printf(b,
                  "  - provider_type: openai\n    api_style: %s\n"
                  "    base_url: \"%s\"\n    api_key: " CANARY "\n",
                  style, url);
  if (xsim && *xsim)
    lgw__buf_printf(b, "    headers:\n      x-sim: \"%s\"\n", xsim);
}

/* Builds the case's runtime and gateway on loop and submits its request. */
static int start_case(fcase_t *c, uv_loop_t *loop) {
  const row_t *r = c->row;
  const char *style = style_name[c->style];
  char xsim[256] = "", id[96];
  lgw__buf_t y;
  lgw_runtime_t *rt = NULL;
  lgw_gateway_options_t op;
  lgw_request_t req;
  lgw_message_t m = {"user", "hello"};
  lgw_error_t err;
  int rc;
  snprintf(id, sizeof id, "%s-%s%s", r->name, style, c->both ? "-both" : "");
  if (r->xsim) snprintf(xsim, sizeof xsim, r->xsim, id);
  url_of(r, c->url1, sizeof c->url1);
  gws_cp(c->url2, sizeof c->url2, c->both ? c->url1 : sim.base);
  lgw__buf_init(&y);
  lgw__buf_printf(&y,
                  "settings:\n  fallback_model: m1\n  timeout: 1\n"
                  "  connect_timeout: 1\n  backoff_base: 0.01\n"
                  "  backoff_max: 0.05\n  transport_retries: 2\n%s"
                  "providers:\n", r->extra);
  add_provider(&y, style, c->url1, xsim);
  add_provider(&y, style, c->url2, c->both ? xsim : NULL);
  memset(&err, 0, sizeof err);
  rc = y.data ? lgw_runtime_load_string(y.data, y.len, "matrix.yaml", &rt,
                                        &err)
              : LGW_ENOMEM;
  if (rc) fprintf(stderr, "config error: %s\n%s\n", err.message, y.data);
  lgw__buf_free(&y);
  if (rc) return rc;
  memset(&op, 0, sizeof op);
  op.loop = loop;
  op.no_state = 1;
  op.seed = 11;
  rc = lgw_gateway_new(rt, &op, &c->gw, &err);
  lgw_runtime_free(rt);
  if (rc) return rc;
  memset(&req, 0, sizeof req);
  req.task = "t";
  req.messages = &m;
  req.nmessages = 1;
  return lgw_gateway_submit(c->gw, &req, on_done, c, NULL, &err);
}

/* The simulator's reset faults cut the transfer: no body to judge. */
static int cuts_transfer(const row_t *r) {
  return r->xsim && strstr(r->xsim, "fault=reset") != NULL;
}

/* What attempt a's message must start with (exact for fixed texts). */
static void want_message(const fcase_t *c, const att_copy_t *a, char *out,
                         size_t cap, int *exact) {
  const char *url = a->pi == 1 ? c->url1 : c->url2;
  const char *path = style_path[c->style];
  *exact = 0;
  switch (a->code) {
    case LGW_OK: *exact = 1; gws_cp(out, cap, ""); break;
    case LGW_ECONNECT: snprintf(out, cap, "Cannot connect to %s%s: ", url,
                                path); break;
    case LGW_ETIMEOUT:
      snprintf(out, cap, "Request to %s%s timed out (timeout=1.0s): ", url,
               path);
      break;
    case LGW_EEMPTY:
      *exact = 1;
      gws_cp(out, cap, "LLM response text was empty. Check provider "
                   "api_style/response format.");
      break;
    case LGW_ETOOBIG:
      *exact = 1;
      snprintf(out, cap, "Response from %s%s is larger than "
               "max_response_bytes (10000 bytes).", url, path);
      break;
    default:
      if (a->status >= 400)
        snprintf(out, cap, "HTTP %d from %s%s: simulated %d ", a->status,
                 url, path, a->status);
      else if (strncmp(c->row->name, "anthropic_error", 15) == 0) {
        /* the sim's {"type":"error","error":{"type":"overloaded_error",
         * "message":"Overloaded"}} */
        *exact = 1;
        snprintf(out, cap, "HTTP 200 from %s%s: %soverloaded_error: "
                 "Overloaded", url, path,
                 strcmp(style_name[c->style], "anthropic") == 0
                     ? "" : "error object in a 2xx answer: ");
      } else if (a->status == 200 && !cuts_transfer(c->row))
        snprintf(out, cap, "HTTP 200 from %s%s: ", url, path);
      else
        snprintf(out, cap, "Transfer from %s%s failed: ", url, path);
      break;
  }
}

/* The attempts the case must show: the row's, and for "both" each of
 * provider 1's failures repeated on provider 2. */
static size_t want_attempts(const fcase_t *c, exp_att_t *out) {
  const row_t *r = c->row;
  size_t n = 0, i;
  for (i = 0; i < (size_t)r->natt; i++)
    if (!c->both || r->att[i].pi == 1) {
      out[n] = r->att[i];
      n++;
    }
  if (c->both) {
    size_t n1 = n;
    for (i = 0; i < n1; i++) {
      out[n] = out[i];
      out[n++].pi = 2;
    }
  }
  return n;
}

static void check_case(fcase_t *c) {
  const row_t *r = c->row;
  exp_att_t want[MAXATT];
  size_t n = want_attempts(c, want), i;
  char msg[1024];
  int exact, last_status = 0;
  ASSERT_EQ(c->calls, 1);
  ASSERT_EQ(c->natt, n);
  for (i = 0; i < n; i++) {
    const att_copy_t *a = &c->att[i];
    int retried = i + 1 < n && want[i + 1].pi == want[i].pi;
    if (a->pi != want[i].pi || a->status != want[i].status ||
        a->code != want[i].code)
      TEST__FAIL("attempt %zu: provider %d, status %d, code %s (%s); "
                 "expected provider %d, status %d, code %s", i + 1, a->pi,
                 a->status, lgw_err_name(a->code), a->msg, want[i].pi,
                 want[i].status, lgw_err_name(want[i].code));
    ASSERT_STREQ(a->url, a->pi == 1 ? c->url1 : c->url2);
    ASSERT_STREQ(a->type, "openai");
    ASSERT_STREQ(a->model, "m1");
    want_message(c, a, msg, sizeof msg, &exact);
    if (exact) ASSERT_STREQ(a->msg, msg);
    else if (strncmp(a->msg, msg, strlen(msg)) != 0)
      TEST__FAIL("attempt %zu message:\n    got:      \"%s\"\n"
                 "    expected: \"%s...\"", i + 1, a->msg, msg);
    ASSERT_NOT_CONTAINS(a->msg, CANARY);
    ASSERT_NOT_CONTAINS(a->url, CANARY);
    if (!retried) {
      ASSERT_DEQ(a->delay, 0);  /* no sleep after a provider's last try */
    } else if (i == 0 && r->d_lo >= 0) {
      if (a->delay < r->d_lo || a->delay > r->d_hi + 1e-9)
        TEST__FAIL("retry_delay %.3f not in [%.3f, %.3f]", a->delay,
                   r->d_lo, r->d_hi);
    } else if (a->delay < 0.005 || a->delay > 0.01 + 1e-9) {
      /* first retry: backoff_base 0.01 with equal jitter */
      TEST__FAIL("attempt %zu: backoff %.4f not in [0.005, 0.01]", i + 1,
                 a->delay);
    }
    if (r->timed && a->code && a->elapsed < 0.9)
      TEST__FAIL("attempt %zu took %.3fs, expected at least 1s", i + 1,
                 a->elapsed);
    if (a->status) last_status = a->status;
  }
  ASSERT_NOT_CONTAINS(c->err, CANARY);
  ASSERT_NOT_CONTAINS(c->text, CANARY);
  ASSERT_NOT_CONTAINS(c->base_url, CANARY);
  if (c->both) {
    char want_err[4096];
    /* the class of the last attempt's failure, not "exhausted" */
    ASSERT_EQ(c->status, want[n - 1].code);
    ASSERT_EQ(c->providers_tried, 2);
    ASSERT_EQ(c->has_err, 1);
    ASSERT_STREQ(c->text, "(null)");
    ASSERT_EQ(c->provider_index, 0);
    ASSERT_EQ(c->http_status, last_status);
    snprintf(want_err, sizeof want_err,
             "LLM request failed for task 't' across all configured "
             "providers:\n- provider #1 (openai, %s): %s\n"
             "- provider #2 (openai, %s): %s", c->url1, c->att[n / 2 - 1].msg,
             c->url2, c->att[n - 1].msg);
    ASSERT_STREQ(c->err, want_err);
    return;
  }
  if (c->status != 0)
    TEST__FAIL("status %s: %s", lgw_err_name(c->status), c->err);
  ASSERT_EQ(c->has_err, 0);
  ASSERT_EQ(c->text_len, strlen(c->text));
  ASSERT_STREQ(c->text, r->text ? r->text : "echo(m1): hello");
  ASSERT_EQ(c->provider_index, r->winner);
  ASSERT_STREQ(c->api_style, style_name[c->style]);
  ASSERT_STREQ(c->base_url, r->winner == 1 ? c->url1 : c->url2);
  if (!r->text) {
    ASSERT_EQ(c->in_tok, 1);
    ASSERT_EQ(c->out_tok, 2);
  }
}

/* ---- running a row -------------------------------------------------------- */

static int matrix[NROWS][NSTYLE];  /* 0 not run, 1 pass, -1 fail */

static void on_watchdog(uv_timer_t *t) {
  fcase_t *cs = t->data;
  size_t i;
  fprintf(stderr, "  watchdog: a row did not finish in %d ms\n",
          WATCHDOG_MS);
  for (i = 0; i < 2 * NSTYLE; i++)
    if (cs[i].gw) lgw_gateway_cancel_all(cs[i].gw);
}

static size_t pending(const fcase_t *cs, size_t n) {
  size_t i, p = 0;
  for (i = 0; i < n; i++)
    if (cs[i].gw) p += lgw_gateway_pending(cs[i].gw);
  return p;
}

static void run_row(size_t ri) {
  const row_t *r = &rows[ri];
  fcase_t *cs = calloc(2 * NSTYLE, sizeof *cs);
  uv_loop_t loop;
  uv_timer_t watchdog;
  size_t n = 0, i;
  char name[128];
  if (!cs || uv_loop_init(&loop) != 0) {
    free(cs);
    fprintf(stderr, "not ok - %s: setup failed\n", r->name);
    test__failed++;
    return;
  }
  for (i = 0; i < NSTYLE; i++) {
    int both;
    for (both = 0; both <= r->both; both++) {
      cs[n].row = r;
      cs[n].style = (int)i;
      cs[n].both = both;
      if (start_case(&cs[n], &loop) != 0)
        fprintf(stderr, "  %s/%s: could not submit\n", r->name,
                style_name[i]);
      n++;
    }
  }
  uv_timer_init(&loop, &watchdog);
  watchdog.data = cs;
  uv_timer_start(&watchdog, on_watchdog, WATCHDOG_MS, 0);
  while (pending(cs, n) > 0) uv_run(&loop, UV_RUN_ONCE);
  uv_close((uv_handle_t *)&watchdog, NULL);
  for (i = 0; i < n; i++) lgw_gateway_free(cs[i].gw);
  uv_run(&loop, UV_RUN_DEFAULT);
  if (uv_loop_close(&loop) != 0)
    fprintf(stderr, "  %s: the loop still has open handles\n", r->name);
  for (i = 0; i < n; i++) {
    fcase_t *c = &cs[i];
    snprintf(name, sizeof name, "%s/%s%s", r->name, style_name[c->style],
             c->both ? "/both_faulty" : "");
    test__cur = name;
    test__cur_failed = 0;
    check_case(c);
    if (test__cur_failed) {
      test__failed++;
      fprintf(stderr, "not ok - %s\n", name);
      matrix[ri][c->style] = -1;
    } else {
      test__passed++;
      if (getenv("TEST_VERBOSE")) fprintf(stderr, "ok - %s\n", name);
      if (matrix[ri][c->style] == 0) matrix[ri][c->style] = 1;
    }
  }
  free(cs);
}

static void print_matrix(void) {
  size_t i, j;
  fprintf(stderr, "%-22s", "fault");
  for (j = 0; j < NSTYLE; j++) fprintf(stderr, " %-11s", style_name[j]);
  fprintf(stderr, "\n");
  for (i = 0; i < NROWS; i++) {
    fprintf(stderr, "%-22s", rows[i].name);
    for (j = 0; j < NSTYLE; j++)
      fprintf(stderr, " %-11s", matrix[i][j] > 0   ? "pass"
                                : matrix[i][j] < 0 ? "FAIL"
                                                   : "-");
    fprintf(stderr, "\n");
  }
}

int main(int argc, char **argv) {
  const char *only = argc > 1 ? argv[1] : NULL;
  int hole[4], i;
  size_t ri;
  lgw_set_log(gws_quiet_log, NULL, LGW_LOG_DEBUG);
  if (sim_start(&sim, NULL) != 0) {
    fprintf(stderr, "simulator did not start\n");
    printf("RESULT 0 1\n");
    return 1;
  }
  gws_refused_url(refused_url, sizeof refused_url);
  gws_blackhole_url(hole, blackhole_url, sizeof blackhole_url);
  for (ri = 0; ri < NROWS; ri++)
    if (!only || strstr(rows[ri].name, only)) run_row(ri);
  for (i = 0; i < 4; i++)
    if (hole[i] >= 0) close(hole[i]);
  sim_stop(&sim);
  if (test__failed || getenv("TEST_VERBOSE")) print_matrix();
  return TEST_SUMMARY();
}
