/*
 * test_h2.c -- connections per host: an HTTP/1.1 server (the simulator,
 * plain http) gets up to max_concurrent requests at once, a cold start
 * included (plain http transfers never wait for a first connection's
 * answer); settings.max_connections_per_host caps the connections to one
 * host, the rest of the requests waiting their turn; the setting's
 * parsing, its limits and its dump. Sharing one HTTP/2 connection is
 * measured by the HTTPS workload of `make bench`, against nginx.
 */
#include <stdlib.h>
#include <string.h>

#include "config.h"
#include "gw_support.h"
#include "node.h"
#include "sim_support.h"
#include "test.h"

static sim_t sim;

#define LATENCY_S 0.2  /* --latency-ms of the simulator */

typedef struct out {
  int calls, ok;
  double t_last;     /* seconds from the first submit to the last answer */
  double t0;
} out_t;

static void on_done(lgw_gateway_t *gw, uint64_t id, int status,
                    const lgw_result_t *res, const lgw_error_t *err,
                    void *ud) {
  out_t *o = ud;
  (void)gw;
  (void)id;
  (void)res;
  (void)err;
  o->calls++;
  o->ok += status == 0;
  o->t_last = gws_now_s() - o->t0;
}

/* n requests submitted at once to a fresh gateway over the simulator,
 * with extra settings lines; 0, or -1 when the gateway did not run. */
static int run_batch(const char *extra, int n, out_t *o) {
  lgw_runtime_t *rt = gws_load(GWS_SETTINGS("%s") "providers:\n"
                               "  - provider_type: openai\n"
                               "    api_style: openai_chat\n"
                               "    base_url: %s/v1\n    api_key: k1\n",
                               extra, sim.base);
  lgw_gateway_t *gw;
  lgw_gateway_options_t op;
  lgw_request_t r;
  lgw_message_t m = {"user", "hello"};
  int i, rc;
  memset(o, 0, sizeof *o);
  if (!rt || sim_reset(&sim)) {
    lgw_runtime_free(rt);
    return -1;
  }
  memset(&op, 0, sizeof op);
  op.no_state = 1;
  rc = lgw_gateway_new(rt, &op, &gw, NULL);
  lgw_runtime_free(rt);
  if (rc) return -1;
  memset(&r, 0, sizeof r);
  r.task = "t";
  r.messages = &m;
  r.nmessages = 1;
  o->t0 = gws_now_s();
  for (i = 0; i < n && rc == 0; i++)
    rc = lgw_gateway_submit(gw, &r, on_done, o, NULL, NULL);
  if (rc == 0) rc = lgw_gateway_run(gw);
  lgw_gateway_free(gw);
  return rc ? -1 : 0;
}

/* ---- HTTP/1.1 servers ---------------------------------------------------- */

/* Defaults: eight requests at once reach the server at once, on eight
 * connections, in one round of the server's latency. */
TEST(h1_gets_max_concurrent_connections) {
  out_t o;
  ASSERT_EQ(run_batch("  max_concurrent: 8\n", 8, &o), 0);
  ASSERT_EQ(o.calls, 8);
  ASSERT_EQ(o.ok, 8);
  ASSERT_EQ(sim_stat(&sim, "requests"), 8);
  ASSERT_EQ(sim_stat(&sim, "peak_concurrent"), 8);
  ASSERT(o.t_last < 2 * LATENCY_S);
}

/* Later requests reuse the connections of earlier ones and still run side
 * by side: twelve requests, four at a time, three rounds. */
TEST(h1_reused_connections_stay_parallel) {
  out_t o;
  ASSERT_EQ(run_batch("  max_concurrent: 4\n", 12, &o), 0);
  ASSERT_EQ(o.ok, 12);
  ASSERT_EQ(sim_stat(&sim, "peak_concurrent"), 4);
  ASSERT(o.t_last >= 3 * LATENCY_S - 0.01 && o.t_last < 5 * LATENCY_S);
}

/* max_connections_per_host 2: two requests at a time reach the host, the
 * others wait for a connection and all of them succeed. */
TEST(max_connections_per_host_caps_h1) {
  out_t o;
  ASSERT_EQ(run_batch("  max_concurrent: 8\n  max_connections_per_host: 2\n",
                      8, &o), 0);
  ASSERT_EQ(o.ok, 8);
  ASSERT_EQ(sim_stat(&sim, "requests"), 8);
  ASSERT_EQ(sim_stat(&sim, "peak_concurrent"), 2);
  /* four rounds of the latency */
  ASSERT(o.t_last >= 4 * LATENCY_S - 0.01);
}

/* A cap above max_concurrent changes nothing. */
TEST(max_connections_per_host_above_max_concurrent) {
  out_t o;
  ASSERT_EQ(run_batch("  max_concurrent: 6\n  max_connections_per_host: 64\n",
                      6, &o), 0);
  ASSERT_EQ(o.ok, 6);
  ASSERT_EQ(sim_stat(&sim, "peak_concurrent"), 6);
}

/* ---- the setting ----------------------------------------------------------- */

static long dumped(const lgw_runtime_t *rt) {
  lgw__node_t *d = lgw__runtime_dump(rt, 0);
  const lgw__node_t *s = d ? lgw__node_get(d, "settings") : NULL;
  const lgw__node_t *v = s ? lgw__node_get(s, "max_connections_per_host")
                           : NULL;
  long r = !d ? -2 : !v ? -1 : (long)v->i;
  lgw__node_free(d);
  return r;
}

TEST(max_connections_per_host_setting) {
  lgw_runtime_t *rt;
  lgw_error_t err;
  static const char neg[] = "settings:\n  max_connections_per_host: -1\n";
  static const char txt[] = "settings:\n  max_connections_per_host: two\n";
  rt = gws_load("settings:\n  fallback_model: m1\n");
  ASSERT(rt);
  ASSERT_EQ(rt->max_connections_per_host, 0);
  ASSERT_EQ(dumped(rt), -1);  /* the default is left out of the dump */
  lgw_runtime_free(rt);
  rt = gws_load("settings:\n  max_connections_per_host: 3\n");
  ASSERT(rt);
  ASSERT_EQ(rt->max_connections_per_host, 3);
  ASSERT_EQ(dumped(rt), 3);
  lgw_runtime_free(rt);
  rt = gws_load("settings:\n  max_connections_per_host: \"2\"\n");
  ASSERT(rt);
  ASSERT_EQ(rt->max_connections_per_host, 2);
  lgw_runtime_free(rt);
  rt = NULL;
  ASSERT(lgw_runtime_load_string(neg, strlen(neg), "c.yaml", &rt, &err) != 0);
  ASSERT_STREQ(err.message, "settings.max_connections_per_host: must be at "
                            "least 0, got -1 (c.yaml:2:29)");
  ASSERT(lgw_runtime_load_string(txt, strlen(txt), "c.yaml", &rt, &err) != 0);
  ASSERT_STREQ(err.message, "settings.max_connections_per_host: expected an "
                            "integer, got \"two\" (c.yaml:2:29)");
}

int main(void) {
  static const char *const args[] = {"--latency-ms", "200", NULL};
  lgw_global_init();
  lgw_set_log(gws_quiet_log, NULL, LGW_LOG_DEBUG);
  RUN(max_connections_per_host_setting);
  if (sim_start(&sim, args) != 0) {
    fprintf(stderr, "test_h2: cannot start the simulator\n");
    return 1;
  }
  RUN(h1_gets_max_concurrent_connections);
  RUN(h1_reused_connections_stay_parallel);
  RUN(max_connections_per_host_caps_h1);
  RUN(max_connections_per_host_above_max_concurrent);
  sim_stop(&sim);
  return TEST_SUMMARY();
}
