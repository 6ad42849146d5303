/*
 * test_route.c -- routing per seed-behavior §4: tier, requested model,
 * normalisation (model_map, effort suffix), reasoning effort, temperature,
 * max_tokens and transport selection. Runtimes and providers are built by
 * hand.
 */
#include <stdlib.h>
#include <string.h>

#include "route.h"
#include "test.h"

static lgw__provider_t prov(const char *type, const char *style) {
  lgw__provider_t p;
  memset(&p, 0, sizeof p);
  p.provider_type = (char *)type;
  p.api_style = (char *)style;
  p.base_url = (char *)"https://api.example";
  p.api_key = (char *)"secret";
  return p;
}

/* The §4.3 provider: responses, model_map {"GPT-X":" mapped ","empty":""}. */
static lgw__provider_t mapped_responses(void) {
  lgw__provider_t p = prov("openai", "responses");
  lgw__kvlist_add(&p.model_map, "GPT-X", " mapped ");
  lgw__kvlist_add(&p.model_map, "empty", "");
  return p;
}

/* Normalise; returns "model|effort" in a static buffer. */
static const char *norm(const lgw__provider_t *p, const char *model) {
  static char res[256];
  char *m = NULL, *e = NULL;
  if (lgw__normalize_model(p, model, &m, &e)) return "(error)";
  snprintf(res, sizeof res, "%s|%s", m, e);
  lgw_free(m);
  lgw_free(e);
  return res;
}

/* ---- §4.3 verified examples ---------------------------------------------- */

TEST(normalize_verified_examples) {
  lgw__provider_t p = mapped_responses();
  ASSERT_STREQ(norm(&p, "gpt-5.4 high"), "gpt-5.4|high");
  ASSERT_STREQ(norm(&p, "gpt-5.4(high)"), "gpt-5.4|high");
  ASSERT_STREQ(norm(&p, "gpt-5.4 [Low]"), "gpt-5.4|low");
  ASSERT_STREQ(norm(&p, "gpt-5.4 (high"), "gpt-5.4|high");
  ASSERT_STREQ(norm(&p, "gpt-5.4  HIGH )"), "gpt-5.4|high");
  ASSERT_STREQ(norm(&p, "gpt-5.4-high"), "gpt-5.4-high|");
  ASSERT_STREQ(norm(&p, "a high"), "a|high");
  ASSERT_STREQ(norm(&p, "high"), "high|");
  ASSERT_STREQ(norm(&p, "gpt-x"), "mapped|");
  ASSERT_STREQ(norm(&p, "GPT-x"), "mapped|");
  ASSERT_STREQ(norm(&p, "  gpt   5  "), "gpt 5|");
  ASSERT_STREQ(norm(&p, "empty"), "empty|");
  lgw__kvlist_free(&p.model_map);
}

TEST(normalize_more_verified_cases) {
  lgw__provider_t a = prov("anthropic", "anthropic");
  lgw__provider_t w = prov("openai", "weird");
  lgw__provider_t o = prov("openai", "");
  ASSERT_STREQ(norm(&a, "claude high"), "claude high|");
  ASSERT_STREQ(norm(&w, "m high"), "m high|");
  ASSERT_STREQ(norm(&o, "m high"), "m|high");
}

TEST(normalize_suffix_rules) {
  lgw__provider_t chat = prov("", "openai_chat");
  lgw__provider_t glm = prov("glm", "");
  lgw__provider_t lite = prov("litellm", "litellm");
  lgw__provider_t none = prov("", "");
  ASSERT_STREQ(norm(&chat, "m minimal"), "m|minimal");
  ASSERT_STREQ(norm(&chat, "m [Medium]"), "m|medium");
  ASSERT_STREQ(norm(&chat, "m\t(low]"), "m|low");   /* pairing not checked */
  ASSERT_STREQ(norm(&chat, "m ( high)"), "m (|high");  /* shortest base */
  ASSERT_STREQ(norm(&chat, "a high high"), "a high|high");
  ASSERT_STREQ(norm(&chat, "m highest"), "m highest|");
  ASSERT_STREQ(norm(&glm, "glm-4 HIGH"), "glm-4|high");
  ASSERT_STREQ(norm(&lite, "m high"), "m high|");
  /* blank provider: the Responses fallback, which does not strip */
  ASSERT_STREQ(norm(&none, "m high"), "m high|");
}

TEST(normalize_map_before_suffix) {
  lgw__provider_t p = prov("", "responses");
  lgw__kvlist_add(&p.model_map, "fast high", "gpt-5-mini (low)");
  lgw__kvlist_add(&p.model_map, " Big ", "big-model");
  lgw__kvlist_add(&p.model_map, "dup", "first");
  lgw__kvlist_add(&p.model_map, "dup", "second");
  ASSERT_STREQ(norm(&p, "fast   high"), "gpt-5-mini|low");
  /* key compared stripped and lower-cased */
  ASSERT_STREQ(norm(&p, "big"), "big-model|");
  /* a repeated key keeps its last value, as a Python dict */
  ASSERT_STREQ(norm(&p, "dup"), "second|");
  ASSERT_STREQ(norm(&p, "DUP"), "second|");
  lgw__kvlist_free(&p.model_map);
}

TEST(normalize_exact_blank_falls_through) {
  lgw__provider_t p = prov("", "responses");
  lgw__kvlist_add(&p.model_map, "m", " ");
  lgw__kvlist_add(&p.model_map, "M", "other");
  ASSERT_STREQ(norm(&p, "m"), "other|");
  lgw__kvlist_free(&p.model_map);
}

/* ---- §4.6 transport selection --------------------------------------------- */

static lgw__style_t style(const char *type, const char *api_style,
                          const char *model, int *hit) {
  lgw__provider_t p = prov(type, api_style);
  return lgw__route_style(&p, model, hit);
}

TEST(style_rules) {
  int hit;
  ASSERT_EQ(style("x", "openai_responses", "m", &hit), LGW__STYLE_RESPONSES);
  ASSERT_EQ(hit, 1);
  ASSERT_EQ(style("x", "responses", "m", &hit), LGW__STYLE_RESPONSES);
  ASSERT_EQ(hit, 1);
  ASSERT_EQ(style("glm", "", "m", &hit), LGW__STYLE_RESPONSES);
  ASSERT_EQ(hit, 1);
  ASSERT_EQ(style("x", "openai_chat", "m", &hit), LGW__STYLE_CHAT);
  ASSERT_EQ(hit, 1);
  /* provider_type openai with no api_style is Chat, not Responses */
  ASSERT_EQ(style("openai", "", "m", &hit), LGW__STYLE_CHAT);
  ASSERT_EQ(hit, 1);
  ASSERT_EQ(style("x", "anthropic", "m", &hit), LGW__STYLE_ANTHROPIC);
  ASSERT_EQ(hit, 1);
  ASSERT_EQ(style("anthropic", "", "m", &hit), LGW__STYLE_ANTHROPIC);
  ASSERT_EQ(hit, 1);
  ASSERT_EQ(style("x", "", "claude-3-opus", &hit), LGW__STYLE_ANTHROPIC);
  ASSERT_EQ(hit, 1);
  /* litellm with no api_style and a claude model goes to Anthropic */
  ASSERT_EQ(style("litellm", "", "claude-3", &hit), LGW__STYLE_ANTHROPIC);
  ASSERT_EQ(style("x", "litellm", "claude-3", &hit), LGW__STYLE_LITELLM);
  ASSERT_EQ(hit, 1);
  ASSERT_EQ(style("litellm", "", "gpt-4o", &hit), LGW__STYLE_LITELLM);
  ASSERT_EQ(hit, 1);
  /* first rule wins: glm beats a claude model */
  ASSERT_EQ(style("glm", "", "claude-3", &hit), LGW__STYLE_RESPONSES);
  /* api_style set: the model does not select Anthropic */
  ASSERT_EQ(style("x", "openai_chat", "claude-3", &hit), LGW__STYLE_CHAT);
  ASSERT_EQ(style("x", "", "m", &hit), LGW__STYLE_RESPONSES);
  ASSERT_EQ(hit, 0);
  ASSERT_EQ(style("", "", "m", &hit), LGW__STYLE_RESPONSES);
  ASSERT_EQ(hit, 0);
}

TEST(style_unknown_api_style_is_responses_fallback) {
  int hit = 1;
  ASSERT_EQ(style("anthropic", "anthropic_messages", "claude", &hit),
            LGW__STYLE_RESPONSES);
  ASSERT_EQ(hit, 0);
  ASSERT_EQ(style("openai", "chat", "m", &hit), LGW__STYLE_RESPONSES);
  ASSERT_EQ(hit, 0);
  ASSERT_EQ(style("openai", "openai-chat", "m", &hit), LGW__STYLE_RESPONSES);
  ASSERT_EQ(hit, 0);
}

TEST(style_case_and_space_insensitive) {
  int hit;
  ASSERT_EQ(style(" X ", " OpenAI_Chat ", "m", &hit), LGW__STYLE_CHAT);
  ASSERT_EQ(style(" GLM ", "  ", "m", &hit), LGW__STYLE_RESPONSES);
  ASSERT_EQ(hit, 1);
  ASSERT_EQ(style(NULL, NULL, "m", &hit), LGW__STYLE_RESPONSES);
  ASSERT_EQ(hit, 0);
}

/* ---- full routes (§4.1, §4.2, §4.4, §4.5) -------------------------------- */

static lgw__task_t tasks[3];
static lgw_runtime_t rt;

static void setup(void) {
  memset(&rt, 0, sizeof rt);
  memset(tasks, 0, sizeof tasks);
  tasks[0].name = (char *)"plain";
  tasks[0].model = (char *)"";
  tasks[0].tier = (char *)"";
  tasks[0].reasoning_effort = (char *)"";
  tasks[0].temperature = 0.3;
  tasks[0].max_tokens = 0;
  tasks[1].name = (char *)"strongtask";
  tasks[1].model = (char *)"";
  tasks[1].tier = (char *)"strong";
  tasks[1].reasoning_effort = (char *)"";
  tasks[1].temperature = 0.0;
  tasks[1].max_tokens = 1234;
  tasks[2].name = (char *)"full";
  tasks[2].model = (char *)"task-model";
  tasks[2].tier = (char *)"weak";
  tasks[2].reasoning_effort = (char *)"medium";
  tasks[2].temperature = 0.7;
  tasks[2].max_tokens = 500;
  rt.tasks = tasks;
  rt.ntasks = 3;
  rt.fallback_model = (char *)"fallback-model";
  rt.strong_model = (char *)"strong-model";
  rt.weak_model = (char *)"weak-model";
  rt.strong_reasoning_effort = (char *)"high";
  rt.weak_reasoning_effort = (char *)"low";
}

static lgw__overrides_t no_ov(void) {
  lgw__overrides_t o;
  memset(&o, 0, sizeof o);
  return o;
}

TEST(route_requested_model_order) {
  lgw__provider_t p = prov("openai", "responses");
  lgw__overrides_t ov = no_ov();
  lgw__route_t r;
  setup();
  ASSERT_EQ(lgw__route(&rt, &p, "full", &ov, &r, NULL), 0);
  ASSERT_STREQ(r.requested_model, "task-model");
  lgw__route_free(&r);
  ov.model = " req-model ";
  ASSERT_EQ(lgw__route(&rt, &p, "full", &ov, &r, NULL), 0);
  ASSERT_STREQ(r.requested_model, "req-model");
  ASSERT_STREQ(r.model, "req-model");
  lgw__route_free(&r);
  ov = no_ov();
  ASSERT_EQ(lgw__route(&rt, &p, "strongtask", &ov, &r, NULL), 0);
  ASSERT_STREQ(r.requested_model, "strong-model");
  lgw__route_free(&r);
  ASSERT_EQ(lgw__route(&rt, &p, "plain", &ov, &r, NULL), 0);
  ASSERT_STREQ(r.requested_model, "fallback-model");
  lgw__route_free(&r);
}

TEST(route_tier_override) {
  lgw__provider_t p = prov("openai", "responses");
  lgw__overrides_t ov = no_ov();
  lgw__route_t r;
  setup();
  ov.tier = " WEAK ";
  ASSERT_EQ(lgw__route(&rt, &p, "strongtask", &ov, &r, NULL), 0);
  ASSERT_STREQ(r.requested_model, "weak-model");
  ASSERT_STREQ(r.reasoning_effort, "low");
  lgw__route_free(&r);
  /* tier "  " wins over the task's tier, then strips to "" */
  ov.tier = "  ";
  ASSERT_EQ(lgw__route(&rt, &p, "strongtask", &ov, &r, NULL), 0);
  ASSERT_STREQ(r.requested_model, "fallback-model");
  ASSERT_STREQ(r.reasoning_effort, "");
  lgw__route_free(&r);
}

TEST(route_unknown_task_and_tier_chain) {
  lgw__provider_t p = prov("openai", "responses");
  lgw__route_t r;
  setup();
  ASSERT_EQ(lgw__route(&rt, &p, "nope", NULL, &r, NULL), 0);
  ASSERT_STREQ(r.requested_model, "fallback-model");
  ASSERT_DEQ(r.temperature, 0.0);
  ASSERT_EQ(r.max_tokens, 4000);
  lgw__route_free(&r);
  /* no fallback: model_for_tier("") gives strong, then weak */
  rt.fallback_model = (char *)"";
  ASSERT_EQ(lgw__route(&rt, &p, "nope", NULL, &r, NULL), 0);
  ASSERT_STREQ(r.requested_model, "strong-model");
  lgw__route_free(&r);
  rt.strong_model = (char *)"";
  ASSERT_EQ(lgw__route(&rt, &p, "nope", NULL, &r, NULL), 0);
  ASSERT_STREQ(r.requested_model, "weak-model");
  lgw__route_free(&r);
}

TEST(route_no_model_error) {
  lgw__provider_t p = prov("openai", "responses");
  lgw__overrides_t ov = no_ov();
  lgw__route_t r;
  lgw_error_t err;
  setup();
  rt.fallback_model = rt.strong_model = rt.weak_model = (char *)"";
  ASSERT_EQ(lgw__route(&rt, &p, "plain", &ov, &r, &err), LGW_ENOMODEL);
  ASSERT_EQ(err.code, LGW_ENOMODEL);
  ASSERT_STREQ(err.message, "No model configured for task 'plain'.");
  ASSERT(r.requested_model == NULL && r.model == NULL);
  /* a blank request model wins and strips to "" */
  setup();
  ov.model = "   ";
  ASSERT_EQ(lgw__route(&rt, &p, "full", &ov, &r, &err), LGW_ENOMODEL);
  ASSERT_STREQ(err.message, "No model configured for task 'full'.");
}

TEST(route_effort_order) {
  lgw__provider_t p = prov("openai", "responses");
  lgw__overrides_t ov = no_ov();
  lgw__route_t r;
  setup();
  ov.model = "m high";
  ov.reasoning_effort = " MINIMAL ";
  ASSERT_EQ(lgw__route(&rt, &p, "full", &ov, &r, NULL), 0);
  ASSERT_STREQ(r.reasoning_effort, "minimal");
  ASSERT_STREQ(r.requested_model, "m high");
  ASSERT_STREQ(r.model, "m");
  lgw__route_free(&r);
  ov.reasoning_effort = NULL;
  ASSERT_EQ(lgw__route(&rt, &p, "full", &ov, &r, NULL), 0);
  ASSERT_STREQ(r.reasoning_effort, "medium");  /* task */
  lgw__route_free(&r);
  ASSERT_EQ(lgw__route(&rt, &p, "strongtask", &ov, &r, NULL), 0);
  ASSERT_STREQ(r.reasoning_effort, "high");  /* tier */
  lgw__route_free(&r);
  ov.model = "m (low)";
  ASSERT_EQ(lgw__route(&rt, &p, "plain", &ov, &r, NULL), 0);
  ASSERT_STREQ(r.reasoning_effort, "low");  /* inferred suffix */
  lgw__route_free(&r);
  ov.model = "m";
  ASSERT_EQ(lgw__route(&rt, &p, "plain", &ov, &r, NULL), 0);
  ASSERT_STREQ(r.reasoning_effort, "");
  lgw__route_free(&r);
}

TEST(route_effort_reported_for_anthropic) {
  lgw__provider_t p = prov("anthropic", "anthropic");
  lgw__route_t r;
  setup();
  ASSERT_EQ(lgw__route(&rt, &p, "strongtask", NULL, &r, NULL), 0);
  ASSERT_STREQ(r.reasoning_effort, "high");
  ASSERT_EQ(r.style, LGW__STYLE_ANTHROPIC);
  lgw__route_free(&r);
}

TEST(route_temperature) {
  lgw__provider_t p = prov("openai", "responses");
  lgw__provider_t a = prov("anthropic", "anthropic");
  lgw__overrides_t ov = no_ov();
  lgw__route_t r;
  setup();
  ASSERT_EQ(lgw__route(&rt, &p, "full", &ov, &r, NULL), 0);
  ASSERT_DEQ(r.temperature, 0.7);
  lgw__route_free(&r);
  ov.has_temperature = 1;
  ov.temperature = 0.0;
  ASSERT_EQ(lgw__route(&rt, &p, "full", &ov, &r, NULL), 0);
  ASSERT_DEQ(r.temperature, 0.0);
  lgw__route_free(&r);
  /* gpt-5 forced to 1.0 on any provider, after normalisation */
  ov.model = "GPT-5.4 high";
  ASSERT_EQ(lgw__route(&rt, &p, "full", &ov, &r, NULL), 0);
  ASSERT_STREQ(r.model, "GPT-5.4");
  ASSERT_DEQ(r.temperature, 1.0);
  lgw__route_free(&r);
  ov.model = "gpt-5";
  ASSERT_EQ(lgw__route(&rt, &a, "full", &ov, &r, NULL), 0);
  ASSERT_DEQ(r.temperature, 1.0);
  lgw__route_free(&r);
  /* a mapped name like openai/gpt-5.4 is not forced */
  lgw__kvlist_add(&p.model_map, "x", "openai/gpt-5.4");
  ov.model = "x";
  ASSERT_EQ(lgw__route(&rt, &p, "full", &ov, &r, NULL), 0);
  ASSERT_STREQ(r.model, "openai/gpt-5.4");
  ASSERT_DEQ(r.temperature, 0.0);
  lgw__route_free(&r);
  /* mapped to gpt-5: forced */
  lgw__kvlist_add(&p.model_map, "y", "gpt-5-mini");
  ov.model = "y";
  ASSERT_EQ(lgw__route(&rt, &p, "full", &ov, &r, NULL), 0);
  ASSERT_DEQ(r.temperature, 1.0);
  lgw__route_free(&r);
  lgw__kvlist_free(&p.model_map);
}

TEST(route_max_tokens) {
  lgw__provider_t p = prov("openai", "responses");
  lgw__overrides_t ov = no_ov();
  lgw__route_t r;
  setup();
  ASSERT_EQ(lgw__route(&rt, &p, "full", &ov, &r, NULL), 0);
  ASSERT_EQ(r.max_tokens, 500);
  lgw__route_free(&r);
  ov.max_tokens = 100000;  /* no upper bound */
  ASSERT_EQ(lgw__route(&rt, &p, "full", &ov, &r, NULL), 0);
  ASSERT_EQ(r.max_tokens, 100000);
  lgw__route_free(&r);
  ov.max_tokens = 0;  /* falls through to the task */
  ASSERT_EQ(lgw__route(&rt, &p, "strongtask", &ov, &r, NULL), 0);
  ASSERT_EQ(r.max_tokens, 1234);
  lgw__route_free(&r);
  ASSERT_EQ(lgw__route(&rt, &p, "plain", &ov, &r, NULL), 0);
  ASSERT_EQ(r.max_tokens, 4000);  /* task 0 -> 4000 */
  lgw__route_free(&r);
}

TEST(route_style_uses_normalised_model) {
  lgw__provider_t p = prov("custom", "");
  lgw__overrides_t ov = no_ov();
  lgw__route_t r;
  setup();
  lgw__kvlist_add(&p.model_map, "smart", "claude-sonnet");
  ov.model = "smart";
  ASSERT_EQ(lgw__route(&rt, &p, "plain", &ov, &r, NULL), 0);
  ASSERT_EQ(r.style, LGW__STYLE_ANTHROPIC);
  lgw__route_free(&r);
  ov.model = "other high";
  ASSERT_EQ(lgw__route(&rt, &p, "plain", &ov, &r, NULL), 0);
  ASSERT_EQ(r.style, LGW__STYLE_RESPONSES);
  ASSERT_STREQ(r.model, "other high");  /* fallback: no stripping */
  ASSERT_STREQ(r.reasoning_effort, "");
  lgw__route_free(&r);
  lgw__kvlist_free(&p.model_map);
}

int main(void) {
  RUN(normalize_verified_examples);
  RUN(normalize_more_verified_cases);
  RUN(normalize_suffix_rules);
  RUN(normalize_map_before_suffix);
  RUN(normalize_exact_blank_falls_through);
  RUN(style_rules);
  RUN(style_unknown_api_style_is_responses_fallback);
  RUN(style_case_and_space_insensitive);
  RUN(route_requested_model_order);
  RUN(route_tier_override);
  RUN(route_unknown_task_and_tier_chain);
  RUN(route_no_model_error);
  RUN(route_effort_order);
  RUN(route_effort_reported_for_anthropic);
  RUN(route_temperature);
  RUN(route_max_tokens);
  RUN(route_style_uses_normalised_model);
  return TEST_SUMMARY();
}
