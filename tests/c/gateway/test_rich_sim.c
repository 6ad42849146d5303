/*
 * test_rich_sim.c -- rich requests end to end against the simulator, for
 * every transport, streamed and not: a two-step tool loop (the model's
 * calls, the assistant message and the tool results sent back), images
 * and files described in its echo, a schema answered with JSON, and
 * embeddings.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gw_support.h"
#include "llmgateway.h"
#include "sim_support.h"
#include "test.h"

static sim_t sim;
static const char *const styles[] = {"responses", "openai_chat",
                                     "anthropic", "litellm"};

#define WEATHER_PARAMS                                                    \
  "{\"type\":\"object\",\"properties\":{\"city\":{\"type\":\"string\"}},"  \
  "\"required\":[\"city\"]}"
static const lgw_tool_t tools[] = {
  {"get_weather", "Weather of a city", WEATHER_PARAMS, 0},
  {"get_time", "Local time of a city", WEATHER_PARAMS, 0}};

/* What a result gave, copied out of the callback. */
typedef struct out {
  int status;
  char text[1024], finish[32], err[1024];
  size_t ncalls;
  char id[2][64], name[2][64], args[2][256];
  size_t nvec, dim;
  double v0;
} out_t;

static void on_done(lgw_gateway_t *gw, uint64_t id, int status,
                    const lgw_result_t *res, const lgw_error_t *err,
                    void *ud) {
  out_t *o = ud;
  size_t i;
  (void)gw;
  (void)id;
  o->status = status;
  gws_cp(o->err, sizeof o->err, err ? err->message : "");
  if (status) return;
  gws_cp(o->text, sizeof o->text, res->text);
  gws_cp(o->finish, sizeof o->finish, res->finish_reason);
  o->ncalls = res->ntool_calls;
  for (i = 0; i < res->ntool_calls && i < 2; i++) {
    gws_cp(o->id[i], sizeof o->id[i], res->tool_calls[i].id);
    gws_cp(o->name[i], sizeof o->name[i], res->tool_calls[i].name);
    gws_cp(o->args[i], sizeof o->args[i], res->tool_calls[i].arguments_json);
  }
  /* the assistant message repeats the calls */
  if (!res->message || res->message->ntool_calls != res->ntool_calls ||
      strcmp(res->message->role, "assistant") != 0)
    o->status = -99;
}

static void on_delta(lgw_gateway_t *gw, uint64_t id, const char *text,
                     size_t len, void *ud) {
  (void)gw;
  (void)id;
  (void)text;
  (void)len;
  (void)ud;
}

static lgw_runtime_t *runtime(const char *style) {
  return gws_load(GWS_SETTINGS("") "providers:\n  - provider_type: sim\n"
                  "    api_style: %s\n    base_url: \"%s\"\n    api_key: k\n",
                  style, sim.base);
}

static int run(const char *style, lgw_request_t *r, int stream, out_t *o) {
  lgw_runtime_t *rt = runtime(style);
  lgw_gateway_t *gw;
  lgw_gateway_options_t opts;
  int rc;
  memset(o, 0, sizeof *o);
  memset(&opts, 0, sizeof opts);
  opts.no_state = 1;
  if (!rt) return -100;
  r->on_delta = stream ? on_delta : NULL;
  if ((rc = lgw_gateway_new(rt, &opts, &gw, NULL)) == 0) {
    rc = lgw_gateway_submit(gw, r, on_done, o, NULL, NULL);
    if (!rc) rc = lgw_gateway_run(gw);
    lgw_gateway_free(gw);
  }
  lgw_runtime_free(rt);
  return rc;
}

/* get_weather, then get_time, then text: each step's calls and results
 * go back in the history in the transport's own shape. */
TEST(tool_loop_every_transport) {
  size_t s;
  int stream;
  for (s = 0; s < 4; s++)
    for (stream = 0; stream < 2; stream++) {
      lgw_rich_message_t m[5];
      lgw_tool_call_t c1[1], c2[1];
      lgw_request_t r;
      out_t o;
      memset(m, 0, sizeof m);
      memset(&r, 0, sizeof r);
      m[0].role = "user";
      m[0].content = "Weather and time in Paris?\n@sim tool=get_weather "
                     "args={\"city\":\"Paris\"} then=get_time";
      r.task = "t";
      r.rich_messages = m;
      r.nrich_messages = 1;
      r.tools = tools;
      r.ntools = 2;
      ASSERT_EQ(run(styles[s], &r, stream, &o), 0);
      if (o.status) TEST__FAIL("%s/%d: %s", styles[s], stream, o.err);
      ASSERT_STREQ(o.finish, "tool_calls");
      ASSERT_EQ(o.ncalls, 1);
      ASSERT_STREQ(o.name[0], "get_weather");
      ASSERT_STREQ(o.args[0], "{\"city\":\"Paris\"}");
      ASSERT_STREQ(o.id[0], strcmp(styles[s], "anthropic") == 0
                                ? "toolu_sim_1" : "call_sim_1");
      c1[0].id = o.id[0];
      c1[0].name = o.name[0];
      c1[0].arguments_json = o.args[0];
      m[1].role = "assistant";
      m[1].tool_calls = c1;
      m[1].ntool_calls = 1;
      m[2].role = "tool";
      m[2].tool_call_id = o.id[0];
      m[2].content = "{\"temp\":21}";
      r.nrich_messages = 3;
      {
        out_t o2, o3;
        ASSERT_EQ(run(styles[s], &r, stream, &o2), 0);
        if (o2.status) TEST__FAIL("%s/%d: %s", styles[s], stream, o2.err);
        ASSERT_EQ(o2.ncalls, 1);
        ASSERT_STREQ(o2.name[0], "get_time");
        c2[0].id = o2.id[0];
        c2[0].name = o2.name[0];
        c2[0].arguments_json = o2.args[0];
        m[3].role = "assistant";
        m[3].tool_calls = c2;
        m[3].ntool_calls = 1;
        m[4].role = "tool";
        m[4].tool_call_id = o2.id[0];
        m[4].content = "14:05";
        r.nrich_messages = 5;
        /* o and o2 hold the strings of this history */
        ASSERT_EQ(run(styles[s], &r, stream, &o3), 0);
        if (o3.status) TEST__FAIL("%s/%d: %s", styles[s], stream, o3.err);
        ASSERT_EQ(o3.ncalls, 0);
        /* a Responses history ends with items of both steps: the
         * simulator reports every trailing result */
        ASSERT_STREQ(o3.text, strcmp(styles[s], "responses") == 0
                                  ? "tool result: {\"temp\":21}\n"
                                    "tool result: 14:05"
                                  : "tool result: 14:05");
        ASSERT_STREQ(o3.finish, "stop");
      }
    }
}

TEST(parts_described_by_the_echo) {
  static const unsigned char png[70] = {0x89, 'P', 'N', 'G'};
  static const char pdf[] = "%PDF-1.4 tiny";
  size_t s;
  for (s = 0; s < 4; s++) {
    lgw_part_t p[3];
    lgw_rich_message_t m[1];
    lgw_request_t r;
    out_t o;
    memset(p, 0, sizeof p);
    memset(m, 0, sizeof m);
    memset(&r, 0, sizeof r);
    p[0].text = "What is in these?";
    p[1].type = LGW_PART_IMAGE;
    p[1].data = png;
    p[1].data_len = sizeof png;
    p[1].media_type = "image/png";
    p[2].type = LGW_PART_FILE;
    p[2].data = pdf;
    p[2].data_len = sizeof pdf - 1;
    p[2].media_type = "application/pdf";
    p[2].filename = "a.pdf";
    m[0].parts = p;
    m[0].nparts = 3;
    r.task = "t";
    r.rich_messages = m;
    r.nrich_messages = 1;
    ASSERT_EQ(run(styles[s], &r, s % 2, &o), 0);
    if (o.status) TEST__FAIL("%s: %s", styles[s], o.err);
    ASSERT_STREQ(o.text, "echo(m1): What is in these? [2 attachments: image "
                 "image/png 70 bytes, file application/pdf 13 bytes]");
  }
}

TEST(schema_answered_with_json) {
  static const lgw_message_t m[] = {{"user", "Assess."}};
  size_t s;
  for (s = 0; s < 4; s++) {
    lgw_request_t r;
    out_t o;
    memset(&r, 0, sizeof r);
    r.task = "t";
    r.messages = m;
    r.nmessages = 1;
    r.schema_json = "{\"type\":\"object\",\"properties\":{\"risk\":{\"type\":"
                    "\"string\",\"enum\":[\"low\",\"high\"]}},\"required\":"
                    "[\"risk\"],\"additionalProperties\":false}";
    r.schema_name = "verdict";
    ASSERT_EQ(run(styles[s], &r, 0, &o), 0);
    if (o.status) TEST__FAIL("%s: %s", styles[s], o.err);
    ASSERT_STREQ(o.text, "{\"risk\":\"low\"}");
  }
}

static void on_embed(lgw_gateway_t *gw, uint64_t id, int status,
                     const lgw_embed_result_t *res, const lgw_error_t *err,
                     void *ud) {
  out_t *o = ud;
  (void)gw;
  (void)id;
  o->status = status;
  gws_cp(o->err, sizeof o->err, err ? err->message : "");
  if (status) return;
  o->nvec = res->nvectors;
  o->dim = res->dim;
  o->v0 = res->vectors[0];
}

/* Deterministic vectors from every OpenAI-style transport. */
TEST(embeddings_from_the_simulator) {
  static const char *const in[] = {"alpha", "beta", "gamma"};
  double first = 0;
  size_t s;
  for (s = 0; s < 4; s++) {
    lgw_runtime_t *rt;
    lgw_gateway_t *gw;
    lgw_gateway_options_t opts;
    lgw_embed_request_t r;
    out_t o;
    if (strcmp(styles[s], "anthropic") == 0) continue;
    memset(&o, 0, sizeof o);
    memset(&opts, 0, sizeof opts);
    memset(&r, 0, sizeof r);
    opts.no_state = 1;
    r.inputs = in;
    r.ninputs = 3;
    r.model = "emb";
    r.dimensions = 16;
    rt = runtime(styles[s]);
    ASSERT(rt != NULL);
    ASSERT_EQ(lgw_gateway_new(rt, &opts, &gw, NULL), 0);
    ASSERT_EQ(lgw_gateway_embed(gw, &r, on_embed, &o, NULL, NULL), 0);
    ASSERT_EQ(lgw_gateway_run(gw), 0);
    lgw_gateway_free(gw);
    lgw_runtime_free(rt);
    if (o.status) TEST__FAIL("%s: %s", styles[s], o.err);
    ASSERT_EQ(o.nvec, 3);
    ASSERT_EQ(o.dim, 16);
    if (first == 0) first = o.v0;
    ASSERT_DEQ(o.v0, first);  /* the same vectors whatever the transport */
  }
  ASSERT(first != 0);
}

int main(void) {
  lgw_set_log(gws_quiet_log, NULL, LGW_LOG_ERROR);
  if (sim_start(&sim, NULL) != 0) {
    fprintf(stderr, "cannot start the simulator\n");
    test__failed++;
    return TEST_SUMMARY();
  }
  RUN(tool_loop_every_transport);
  RUN(parts_described_by_the_echo);
  RUN(schema_answered_with_json);
  RUN(embeddings_from_the_simulator);
  sim_stop(&sim);
  return TEST_SUMMARY();
}
