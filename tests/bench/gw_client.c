/*
 * gw_client.c -- llmgateway driven through its C API, for the benchmark:
 * a runtime from a YAML string with openai_chat providers pointing at the
 * benchmark server, a gateway on its own loop, requests submitted and
 * counted by the completion callback.
 *
 * Environment: BENCH_BASE (provider base URL), BENCH_N, BENCH_C,
 * BENCH_MAXHOST (settings.max_connections_per_host, when set), and
 * BENCH_MODE:
 *   load      submit BENCH_N requests at once, max_concurrent BENCH_C
 *   failover  one provider (BENCH_BASE) against two (BENCH_DEAD, a closed
 *             port, then BENCH_BASE) with a state file in BENCH_TMP: the
 *             first request of a fresh gateway (median of several, its
 *             wall time is the line's "wall"), then BENCH_N requests one
 *             at a time once the state file names the healthy provider
 *   big       BENCH_N calls one at a time (BENCH_BASE serves a big answer),
 *             then the same extraction in process from BENCH_FILE: the
 *             chat transport's parse (text) and JSON extraction of the text
 * Prints "BENCH ..." lines (see bench.h).
 */
#include <stdio.h>

#include "llmgateway.h"
#include "json_extract.h"
#include "transport.h"

#include "bench.h"

static long completed, succeeded;

static void on_done(lgw_gateway_t *gw, uint64_t id, int status,
                    const lgw_result_t *res, const lgw_error_t *err,
                    void *ud)
{
  (void)gw;
  (void)id;
  (void)ud;
  completed++;
  if (status == 0 && res->text_len > 0)
    succeeded++;
  else if (succeeded == 0 && completed <= 3)
    fprintf(stderr, "gw_client: %s: %s\n", lgw_err_name(status),
            err ? err->message : "");
}

static const lgw_message_t message = {"user", "Reply with ok."};

static void submit(lgw_gateway_t *gw)
{
  lgw_request_t req;
  lgw_error_t err;
  memset(&req, 0, sizeof req);
  req.task = "bench";
  req.messages = &message;
  req.nmessages = 1;
  if (lgw_gateway_submit(gw, &req, on_done, NULL, NULL, &err) != 0) {
    fprintf(stderr, "gw_client: submit: %s\n", err.message);
    exit(2);
  }
}

/* A gateway over the given providers ("base" or "dead,base"). */
static lgw_gateway_t *gateway(const char *dead, const char *base,
                              long conc, const char *state_file)
{
  char yaml[2048];
  int off;
  lgw_runtime_t *rt;
  lgw_gateway_t *gw;
  lgw_gateway_options_t opts;
  lgw_error_t err;
  off = snprintf(yaml, sizeof yaml, "version: 1\nproviders:\n");
  if (dead)
    off += snprintf(yaml + off, sizeof yaml - (size_t)off,
                    "  - provider_type: openai\n    api_style: openai_chat\n"
                    "    base_url: %s\n    api_key: bench-key\n", dead);
  snprintf(yaml + off, sizeof yaml - (size_t)off,
           "  - provider_type: openai\n    api_style: openai_chat\n"
           "    base_url: %s\n    api_key: bench-key\n"
           "settings:\n  fallback_model: bench-model\n"
           "  max_concurrent: %ld\n  timeout: 120\n"
           "  transport_retries: 1\n", base, conc);
  if (bench_env_long("BENCH_MAXHOST", 0) > 0)
    snprintf(yaml + strlen(yaml), sizeof yaml - strlen(yaml),
             "  max_connections_per_host: %ld\n",
             bench_env_long("BENCH_MAXHOST", 0));
  if (lgw_runtime_load_string(yaml, strlen(yaml), "bench", &rt, &err) != 0) {
    fprintf(stderr, "gw_client: config: %s\n", err.message);
    exit(2);
  }
  memset(&opts, 0, sizeof opts);
  opts.state_file = state_file;
  opts.no_state = state_file == NULL;
  opts.seed = 1;
  if (lgw_gateway_new(rt, &opts, &gw, &err) != 0) {
    fprintf(stderr, "gw_client: gateway: %s\n", err.message);
    exit(2);
  }
  lgw_runtime_free(rt);
  return gw;
}

static void run_load(const char *base, long n, long conc)
{
  lgw_gateway_t *gw = gateway(NULL, base, conc, NULL);
  long rss0 = bench_status_kb("VmRSS");
  double t0 = bench_now(), c0 = bench_cpu();
  long i;
  for (i = 0; i < n; i++)
    submit(gw);
  lgw_gateway_run(gw);
  bench_report("gateway", n, succeeded, bench_now() - t0, bench_cpu() - c0,
               rss0);
  lgw_gateway_free(gw);
}

/* Wall time of one request on a fresh gateway (fresh state file). */
static double first_request(const char *dead, const char *base,
                            const char *state_file)
{
  lgw_gateway_t *gw;
  double t0;
  remove(state_file);
  gw = gateway(dead, base, 1, state_file);
  t0 = bench_now();
  submit(gw);
  lgw_gateway_run(gw);
  t0 = bench_now() - t0;
  lgw_gateway_free(gw);
  return t0;
}

static int cmp_double(const void *a, const void *b)
{
  double x = *(const double *)a, y = *(const double *)b;
  return x < y ? -1 : x > y;
}

static double median(double *v, size_t n)
{
  qsort(v, n, sizeof *v, cmp_double);
  return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

/* n requests one at a time on a gateway whose state file is in place. */
static void steady(const char *what, const char *dead, const char *base,
                   const char *state_file, long n)
{
  lgw_gateway_t *gw = gateway(dead, base, 1, state_file);
  double t0, c0;
  long i;
  submit(gw);  /* opens the connection */
  lgw_gateway_run(gw);
  completed = succeeded = 0;
  t0 = bench_now();
  c0 = bench_cpu();
  for (i = 0; i < n; i++) {
    submit(gw);
    lgw_gateway_run(gw);
  }
  bench_report(what, n, succeeded, bench_now() - t0, bench_cpu() - c0, 0);
  lgw_gateway_free(gw);
}

/* First requests: the median of FIRSTS fresh gateways each, the direct
 * and the failover configuration alternating. Then steady state. */
#define FIRSTS 11
static void run_failover(const char *base, long n)
{
  const char *tmp = bench_env("BENCH_TMP", "/tmp");
  const char *dead = bench_env("BENCH_DEAD", "http://127.0.0.1:9/v1");
  char direct_state[1024], fo_state[1024];
  double direct[FIRSTS], fo[FIRSTS];
  int i;
  snprintf(direct_state, sizeof direct_state, "%s/state-direct.json", tmp);
  snprintf(fo_state, sizeof fo_state, "%s/state-failover.json", tmp);
  /* Process-wide first-use costs (libcurl, the allocator) are paid here,
   * by none of the measured gateways. */
  first_request(NULL, base, direct_state);
  completed = succeeded = 0;
  for (i = 0; i < FIRSTS; i++) {
    direct[i] = first_request(NULL, base, direct_state);
    fo[i] = first_request(dead, base, fo_state);
  }
  bench_report("direct_first", FIRSTS, succeeded / 2, median(direct, FIRSTS),
               0, 0);
  bench_report("failover_first", FIRSTS, succeeded - succeeded / 2,
               median(fo, FIRSTS), 0, 0);
  steady("direct", NULL, base, direct_state, n);
  steady("failover", dead, base, fo_state, n);
}

static char *read_file(const char *path, size_t *len)
{
  FILE *f = fopen(path, "rb");
  char *buf;
  long size;
  if (!f || fseek(f, 0, SEEK_END) != 0 || (size = ftell(f)) < 0) {
    fprintf(stderr, "gw_client: cannot read %s\n", path);
    exit(2);
  }
  rewind(f);
  buf = malloc((size_t)size + 1);
  *len = fread(buf, 1, (size_t)size, f);
  buf[*len] = '\0';
  fclose(f);
  return buf;
}

static void run_big(const char *base, long n)
{
  const char *path = bench_env("BENCH_FILE", "big.json");
  lgw_gateway_t *gw = gateway(NULL, base, 1, NULL);
  size_t len;
  char *body;
  double t0, c0;
  long i, ok;

  /* one warm-up call opens the connection */
  submit(gw);
  lgw_gateway_run(gw);
  completed = succeeded = 0;
  t0 = bench_now();
  c0 = bench_cpu();
  for (i = 0; i < n; i++) {
    submit(gw);
    lgw_gateway_run(gw);
  }
  bench_report("big_gateway", n, succeeded, bench_now() - t0,
               bench_cpu() - c0, 0);
  lgw_gateway_free(gw);

  body = read_file(path, &len);
  t0 = bench_now();
  c0 = bench_cpu();
  for (i = ok = 0; i < n; i++) {
    lgw__reply_t reply;
    lgw_error_t err;
    memset(&reply, 0, sizeof reply);
    if (lgw__transport_chat.parse(body, len, "application/json", &reply,
                                  &err) == 0 && reply.text_len > 0)
      ok++;
    lgw__reply_free(&reply);
  }
  bench_report("big_text", n, ok, bench_now() - t0, bench_cpu() - c0, 0);

  {
    lgw__reply_t reply;
    lgw_error_t err;
    memset(&reply, 0, sizeof reply);
    if (lgw__transport_chat.parse(body, len, "application/json", &reply,
                                  &err) != 0) {
      fprintf(stderr, "gw_client: parse: %s\n", err.message);
      exit(2);
    }
    t0 = bench_now();
    c0 = bench_cpu();
    for (i = ok = 0; i < n; i++) {
      cJSON *doc = NULL;
      if (lgw__json_extract(reply.text, reply.text_len, &doc, &err) == 0)
        ok++;
      cJSON_Delete(doc);
    }
    bench_report("big_json", n, ok, bench_now() - t0, bench_cpu() - c0, 0);
    lgw__reply_free(&reply);
  }
  free(body);
}

int main(void)
{
  const char *mode = bench_env("BENCH_MODE", "load");
  const char *base = bench_env("BENCH_BASE", "http://127.0.0.1:8080/v1");
  long n = bench_env_long("BENCH_N", 1000);
  long conc = bench_env_long("BENCH_C", 64);

  bench_raise_nofile();
  lgw_global_init();
  if (strcmp(mode, "failover") == 0)
    run_failover(base, n);
  else if (strcmp(mode, "big") == 0)
    run_big(base, n);
  else
    run_load(base, n, conc > n ? n : conc);
  return 0;
}
