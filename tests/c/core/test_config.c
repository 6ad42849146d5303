/*
 * test_config.c -- the validated runtime: providers, settings, tasks
 * (seed-behavior §2, §3.5, §3.6) with this library's deliberate
 * differences (impossible values and unknown api_style are errors naming
 * key path and position; unknown keys are warnings), the file locations
 * (§3.1) and atomic writes.
 */
#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "config.h"
#include "env.h"
#include "fileio.h"
#include "provider_state.h"
#include "test.h"
#include "transport.h"
#include "url.h"
#include "util.h"
#include "yaml_load.h"

/* ---- helpers ----------------------------------------------------------- */

static char warnings[4096];

static void capture_log(lgw_log_level_t level, const char *msg, void *ud) {
  (void)ud;
  if (level != LGW_LOG_WARN) return;
  strncat(warnings, msg, sizeof warnings - strlen(warnings) - 2);
  strcat(warnings, "\n");
}

static lgw_runtime_t *load(const char *text) {
  lgw_runtime_t *rt = NULL;
  lgw_error_t err;
  warnings[0] = '\0';
  if (lgw_runtime_load_string(text, strlen(text), "config.yaml", &rt, &err))
    fprintf(stderr, "  load failed: %s\n", err.message);
  return rt;
}

/* Loads expecting failure; returns the code, message in err. */
static int load_fail(const char *text, lgw_error_t *err) {
  lgw_runtime_t *rt = NULL;
  int rc;
  warnings[0] = '\0';
  rc = lgw_runtime_load_string(text, strlen(text), "config.yaml", &rt, err);
  lgw_runtime_free(rt);
  return rc;
}

/* Without env interpolation, optionally without a source name. */
static int from_node(const char *text, const char *name, lgw_runtime_t **rt,
                     lgw_error_t *err) {
  lgw__node_t *root = NULL;
  int rc = lgw__yaml_load_string(text, strlen(text), "config.yaml", &root,
                                 err);
  if (!rc) rc = lgw__runtime_from_node(root, name, rt, err);
  lgw__node_free(root);
  return rc;
}

#define EXPECT_ERROR(yaml, msg)                         \
  do {                                                  \
    lgw_error_t e_;                                     \
    ASSERT_EQ(load_fail(yaml, &e_), LGW_ECONFIG);       \
    ASSERT_STREQ(e_.message, msg);                      \
  } while (0)

/* ---- top level --------------------------------------------------------- */

TEST(defaults_for_empty_mapping) {
  lgw_runtime_t *rt = load("{}\n");
  ASSERT(rt);
  ASSERT_EQ(lgw_runtime_provider_count(rt), 0);
  ASSERT_STREQ(rt->fallback_model, "");
  ASSERT_STREQ(rt->strong_model, "");
  ASSERT_STREQ(rt->weak_model, "");
  ASSERT_STREQ(rt->strong_reasoning_effort, "");
  ASSERT_STREQ(rt->weak_reasoning_effort, "");
  ASSERT_EQ(rt->max_concurrent, 12);
  ASSERT_EQ(rt->retry_max, 3);
  ASSERT_DEQ(rt->timeout, 90.0);
  ASSERT_EQ(rt->transport_retries, 5);
  ASSERT_DEQ(rt->connect_timeout, 10.0);
  ASSERT_DEQ(rt->deadline, 0.0);
  ASSERT_DEQ(rt->backoff_base, 0.5);
  ASSERT_DEQ(rt->backoff_max, 8.0);
  ASSERT_DEQ(rt->retry_after_max, 30.0);
  ASSERT_EQ(rt->max_response_bytes, 32L * 1024 * 1024);
  ASSERT_EQ(rt->ntasks, 0);
  ASSERT_EQ(strlen(lgw_runtime_config_key(rt)), 64);
  ASSERT_STREQ(warnings, "");
  lgw_runtime_free(rt);
}

TEST(top_level_not_a_mapping) {
  EXPECT_ERROR("", "Invalid llmgateway config: config.yaml");
  EXPECT_ERROR("- a\n- b\n", "Invalid llmgateway config: config.yaml");
  EXPECT_ERROR("42\n", "Invalid llmgateway config: config.yaml");
  {
    lgw_runtime_t *rt = NULL;
    lgw_error_t err;
    ASSERT_EQ(lgw__runtime_from_node(NULL, NULL, &rt, &err), LGW_ECONFIG);
    ASSERT_STREQ(err.message,
                 "Invalid llmgateway config: the top level is not a mapping");
    ASSERT(rt == NULL);
  }
}

TEST(yaml_syntax_error_passes_through) {
  EXPECT_ERROR("settings: [1,\n", "config.yaml:2:1: did not find expected node content");
}

/* ---- providers --------------------------------------------------------- */

static const char two_providers[] =
    "version: 1\n"
    "providers:\n"
    "  - provider_type: glm\n"
    "    api_style: openai_responses\n"
    "    base_url: https://primary.example\n"
    "    api_key: primary-secret\n"
    "  - provider_type: openai\n"
    "    api_style: responses\n"
    "    base_url: https://secondary.example\n"
    "    api_key: secondary-secret\n";

TEST(provider_and_config_keys_match_python) {
  lgw_runtime_t *rt = load(two_providers);
  ASSERT(rt);
  ASSERT_EQ(lgw_runtime_provider_count(rt), 2);
  ASSERT_STREQ(rt->providers[0].key,
               "7abb51cbbde36d7fa6c9702352c41888cb6256228c824133a53aef25f665c21c");
  ASSERT_STREQ(rt->providers[1].key,
               "ae1eb675f9efd559d0e0dd72d2ea9466b940938a099bfbac08fe0ac26de3d447");
  ASSERT_STREQ(lgw_runtime_config_key(rt),
               "d6b49f1deeab999d6e26d021b1fef8c4f9059d3f8fc449b71b6479c3e83f0c62");
  ASSERT_EQ(rt->providers[0].style, LGW__STYLE_RESPONSES);
  ASSERT_EQ(rt->providers[1].style, LGW__STYLE_RESPONSES);
  lgw_runtime_free(rt);
}

TEST(legacy_single_provider) {
  lgw_runtime_t *rt = load("provider:\n  provider_type: glm\n"
                           "  api_style: openai_responses\n"
                           "  base_url: https://backend.example\n"
                           "  api_key: secret\n");
  ASSERT(rt);
  ASSERT_EQ(rt->nproviders, 1);
  ASSERT_STREQ(rt->providers[0].key,
               "6e0e943d9a49584e0085d064436da6c06ed5277f7d54553650b6f778c51d15bd");
  ASSERT_STREQ(rt->config_key,
               "ddcd2f7ae17358ed6ffecae7b4054ac6e26b908d043f14ccf2917086939c16db");
  lgw_runtime_free(rt);
}

TEST(legacy_provider_rules) {
  lgw_runtime_t *rt;
  /* ignored when providers yields something */
  rt = load("provider: {base_url: https://legacy}\n"
            "providers: [{base_url: https://new}]\n");
  ASSERT(rt);
  ASSERT_EQ(rt->nproviders, 1);
  ASSERT_STREQ(rt->providers[0].base_url, "https://new");
  lgw_runtime_free(rt);
  /* used when providers is empty or has only non-mappings */
  rt = load("provider: {base_url: https://legacy}\nproviders: [1, x]\n");
  ASSERT(rt);
  ASSERT_EQ(rt->nproviders, 1);
  ASSERT_STREQ(rt->providers[0].base_url, "https://legacy");
  lgw_runtime_free(rt);
  /* an empty legacy mapping gives no provider */
  rt = load("provider: {}\n");
  ASSERT(rt);
  ASSERT_EQ(rt->nproviders, 0);
  lgw_runtime_free(rt);
}

TEST(providers_list_skips_non_mappings) {
  lgw_runtime_t *rt = load("providers:\n  - just a string\n  - {}\n  - ~\n"
                           "  - base_url: https://b\n");
  ASSERT(rt);
  /* {} still yields an all-empty provider */
  ASSERT_EQ(rt->nproviders, 2);
  ASSERT_STREQ(rt->providers[0].base_url, "");
  ASSERT_STREQ(rt->providers[0].provider_type, "");
  ASSERT_EQ(rt->providers[0].style, LGW__STYLE_NONE);
  ASSERT_STREQ(rt->providers[1].base_url, "https://b");
  ASSERT_STREQ(warnings,
               "providers[1]: not a mapping, ignored (config.yaml:2:5)\n"
               "providers[3]: not a mapping, ignored (config.yaml:4:5)\n");
  lgw_runtime_free(rt);
}

TEST(providers_mapping_form_uses_values_in_order) {
  lgw_runtime_t *rt = load("providers:\n  zeta: {base_url: 'https://z'}\n"
                           "  alpha: {base_url: 'https://a'}\n  skip: 3\n");
  ASSERT(rt);
  ASSERT_EQ(rt->nproviders, 2);
  ASSERT_STREQ(rt->providers[0].base_url, "https://z");
  ASSERT_STREQ(rt->providers[1].base_url, "https://a");
  ASSERT_STREQ(warnings,
               "providers.skip: not a mapping, ignored (config.yaml:4:9)\n");
  lgw_runtime_free(rt);
}

TEST(providers_wrong_type) {
  EXPECT_ERROR("providers: nope\n",
               "providers: expected a list or mapping, got a string "
               "(config.yaml:1:12)");
  EXPECT_ERROR("provider: [a]\n",
               "provider: expected a mapping, got a list (config.yaml:1:11)");
}

TEST(provider_field_coercion) {
  lgw_runtime_t *rt = NULL;
  lgw_error_t err;
  /* falsy -> "", else str() stripped; yes -> True */
  ASSERT_EQ(from_node("providers:\n  - provider_type: 5\n    api_key: 0\n"
                      "    base_url: '  https://x  '\n    api_style: ''\n",
                      "config.yaml", &rt, &err), 0);
  ASSERT_STREQ(rt->providers[0].provider_type, "5");
  ASSERT_STREQ(rt->providers[0].api_key, "");
  ASSERT_STREQ(rt->providers[0].base_url, "https://x");
  ASSERT_STREQ(rt->providers[0].api_style, "");
  lgw_runtime_free(rt);
  ASSERT_EQ(from_node("providers: [{provider_type: yes, api_key: false, "
                      "base_url: 1.5}]\n", "config.yaml", &rt, &err),
            LGW_ECONFIG);
  ASSERT_STREQ(err.message, "providers[1].base_url: an explicit http:// or "
               "https:// scheme is required, got \"1.5\" (config.yaml:1:60)");
  ASSERT_EQ(from_node("providers: [{provider_type: yes, api_key: false, "
                      "model_map: {1.5: 2.0}}]\n", "config.yaml", &rt, &err),
            0);
  ASSERT_STREQ(rt->providers[0].provider_type, "True");
  ASSERT_STREQ(rt->providers[0].api_key, "");
  ASSERT_STREQ(rt->providers[0].model_map.items[0].key, "1.5");
  ASSERT_STREQ(rt->providers[0].model_map.items[0].value, "2.0");
  lgw_runtime_free(rt);
  EXPECT_ERROR("providers:\n  - base_url: [a, b]\n",
               "providers[1].base_url: expected a string, got a list "
               "(config.yaml:2:15)");
  EXPECT_ERROR("providers:\n  - api_key: {k: v}\n",
               "providers[1].api_key: expected a string, got a mapping "
               "(config.yaml:2:14)");
}

TEST(headers_and_model_map_rules) {
  lgw_runtime_t *rt = NULL;
  lgw_error_t err;
  /* str() of keys and values, None -> "None", blank keys dropped, keys and
   * values not stripped (no interpolation on this path) */
  ASSERT_EQ(from_node("providers:\n  - headers: {1: 2, X-A: ' v ', "
                      "'  ': dropped, n: ~, b: true}\n"
                      "    model_map: {gpt: 'other model'}\n",
                      "config.yaml", &rt, &err), 0);
  ASSERT_EQ(rt->providers[0].headers.n, 4);
  ASSERT_STREQ(rt->providers[0].headers.items[0].key, "1");
  ASSERT_STREQ(rt->providers[0].headers.items[0].value, "2");
  ASSERT_STREQ(rt->providers[0].headers.items[1].key, "X-A");
  ASSERT_STREQ(rt->providers[0].headers.items[1].value, " v ");
  ASSERT_STREQ(rt->providers[0].headers.items[2].key, "n");
  ASSERT_STREQ(rt->providers[0].headers.items[2].value, "None");
  ASSERT_STREQ(rt->providers[0].headers.items[3].value, "True");
  ASSERT_EQ(rt->providers[0].model_map.n, 1);
  ASSERT_STREQ(rt->providers[0].model_map.items[0].value, "other model");
  lgw_runtime_free(rt);
  /* null means empty */
  rt = load("providers: [{headers: ~, model_map: ~}]\n");
  ASSERT(rt);
  ASSERT_EQ(rt->providers[0].headers.n, 0);
  lgw_runtime_free(rt);
  EXPECT_ERROR("providers:\n  - headers: [a]\n",
               "providers[1].headers: expected a mapping, got a list "
               "(config.yaml:2:14)");
  EXPECT_ERROR("providers:\n  - model_map: text\n",
               "providers[1].model_map: expected a mapping, got a string "
               "(config.yaml:2:16)");
  EXPECT_ERROR("providers:\n  - headers: {X-A: [1]}\n",
               "providers[1].headers.X-A: expected a string, got a list "
               "(config.yaml:2:20)");
}

TEST(unknown_api_style_is_an_error) {
  lgw_runtime_t *rt = NULL;
  lgw_error_t err;
  static const char yaml[] =
      "version: 1\n"
      "providers:\n"
      "  - provider_type: openai\n"
      "    api_style: responses\n"
      "    base_url: https://a\n"
      "    api_key: k1\n"
      "  - provider_type: anthropic\n"
      "    base_url: https://b\n"
      "    api_style: anthropic_messages\n";
  EXPECT_ERROR(yaml,
               "providers[2].api_style: unknown value \"anthropic_messages\" "
               "(config.yaml:9:16); expected one of responses, "
               "openai_responses, openai_chat, anthropic, litellm");
  /* without a source name the position is left out */
  ASSERT_EQ(from_node(yaml, NULL, &rt, &err), LGW_ECONFIG);
  ASSERT_STREQ(err.message,
               "providers[2].api_style: unknown value \"anthropic_messages\"; "
               "expected one of responses, openai_responses, openai_chat, "
               "anthropic, litellm");
  ASSERT(rt == NULL);
}

TEST(api_styles_parse) {
  lgw_runtime_t *rt = load(
      "providers:\n  - {api_style: responses}\n"
      "  - {api_style: openai_responses}\n  - {api_style: openai_chat}\n"
      "  - {api_style: anthropic}\n  - {api_style: litellm}\n"
      "  - {api_style: ' Openai_Chat '}\n  - {api_style: ''}\n");
  lgw__style_t s;
  ASSERT(rt);
  ASSERT_EQ(rt->providers[0].style, LGW__STYLE_RESPONSES);
  ASSERT_EQ(rt->providers[1].style, LGW__STYLE_RESPONSES);
  ASSERT_EQ(rt->providers[2].style, LGW__STYLE_CHAT);
  ASSERT_EQ(rt->providers[3].style, LGW__STYLE_ANTHROPIC);
  ASSERT_EQ(rt->providers[4].style, LGW__STYLE_LITELLM);
  ASSERT_EQ(rt->providers[5].style, LGW__STYLE_CHAT);
  ASSERT_STREQ(rt->providers[5].api_style, "Openai_Chat");
  ASSERT_EQ(rt->providers[6].style, LGW__STYLE_NONE);
  lgw_runtime_free(rt);
  ASSERT_EQ(lgw__style_parse("chat", &s), -1);
  ASSERT_EQ(lgw__style_parse(NULL, &s), 0);
  ASSERT_EQ(s, LGW__STYLE_NONE);
  ASSERT_STREQ(lgw__style_name(LGW__STYLE_RESPONSES), "responses");
  ASSERT_STREQ(lgw__style_name(LGW__STYLE_CHAT), "openai_chat");
  ASSERT_STREQ(lgw__style_name(LGW__STYLE_ANTHROPIC), "anthropic");
  ASSERT_STREQ(lgw__style_name(LGW__STYLE_LITELLM), "litellm");
  ASSERT_STREQ(lgw__style_name(LGW__STYLE_NONE), "");
}

TEST(env_interpolation_applied) {
  lgw_runtime_t *rt;
  setenv("LGW_TEST_CFG_KEY", "  sk-from-env ", 1);
  unsetenv("LGW_TEST_CFG_UNSET");
  rt = load("providers:\n  - api_key: ${LGW_TEST_CFG_KEY}\n"
            "    base_url: ${LGW_TEST_CFG_UNSET:-https://dflt}\n"
            "settings:\n  timeout: ${LGW_TEST_CFG_UNSET}\n"
            "  fallback_model: env:LGW_TEST_CFG_UNSET\n");
  unsetenv("LGW_TEST_CFG_KEY");
  ASSERT(rt);
  ASSERT_STREQ(rt->providers[0].api_key, "sk-from-env");
  ASSERT_STREQ(rt->providers[0].base_url, "https://dflt");
  /* an unset variable gives "", which means the default */
  ASSERT_DEQ(rt->timeout, 90.0);
  ASSERT_STREQ(rt->fallback_model, "");
  lgw_runtime_free(rt);
}

/* ---- settings ---------------------------------------------------------- */

TEST(settings_strings) {
  lgw_runtime_t *rt = load("settings:\n  fallback_model: ' fb '\n"
                           "  strong_model: Strong-M\n  weak_model: 0\n"
                           "  strong_reasoning_effort: ' HIGH '\n"
                           "  weak_reasoning_effort: Low\n");
  ASSERT(rt);
  ASSERT_STREQ(rt->fallback_model, "fb");
  ASSERT_STREQ(rt->strong_model, "Strong-M");
  ASSERT_STREQ(rt->weak_model, "");
  ASSERT_STREQ(rt->strong_reasoning_effort, "high");
  ASSERT_STREQ(rt->weak_reasoning_effort, "low");
  lgw_runtime_free(rt);
}

/* Python verified {max_concurrent: 0, retry_max: 0, transport_retries: 0,
 * timeout: 0} -> 12, 3, 5, 90.0 (0 meant "default"). Here 0 is taken at its
 * word: retry_max 0 means no validation retries, the other three are
 * errors. */
TEST(settings_zeroes) {
  lgw_runtime_t *rt;
  EXPECT_ERROR("settings:\n  max_concurrent: 0\n",
               "settings.max_concurrent: must be at least 1, got 0 "
               "(config.yaml:2:19)");
  EXPECT_ERROR("settings:\n  transport_retries: 0\n",
               "settings.transport_retries: must be at least 1, got 0 "
               "(config.yaml:2:22)");
  EXPECT_ERROR("settings:\n  timeout: 0\n",
               "settings.timeout: must be greater than 0, got 0 "
               "(config.yaml:2:12)");
  rt = load("settings:\n  retry_max: 0\n");
  ASSERT(rt);
  ASSERT_EQ(rt->retry_max, 0);
  lgw_runtime_free(rt);
}

/* Python verified {max_concurrent: -3, retry_max: -1, transport_retries:
 * -1, timeout: "12"} -> 1, 0, 1, 12.0 (clamped). Here negatives are errors
 * and the numeric string is accepted. */
TEST(settings_negatives_and_numeric_strings) {
  lgw_runtime_t *rt;
  EXPECT_ERROR("settings:\n  max_concurrent: -3\n",
               "settings.max_concurrent: must be at least 1, got -3 "
               "(config.yaml:2:19)");
  EXPECT_ERROR("settings:\n  retry_max: -1\n",
               "settings.retry_max: must be at least 0, got -1 "
               "(config.yaml:2:14)");
  EXPECT_ERROR("settings:\n  transport_retries: -1\n",
               "settings.transport_retries: must be at least 1, got -1 "
               "(config.yaml:2:22)");
  EXPECT_ERROR("settings:\n  timeout: -1\n",
               "settings.timeout: must be greater than 0, got -1 "
               "(config.yaml:2:12)");
  rt = load("settings:\n  timeout: '12'\n  max_concurrent: ' 7 '\n"
            "  retry_max: '1_0'\n  transport_retries: 2.0\n");
  ASSERT(rt);
  ASSERT_DEQ(rt->timeout, 12.0);
  ASSERT_EQ(rt->max_concurrent, 7);
  ASSERT_EQ(rt->retry_max, 10);
  ASSERT_EQ(rt->transport_retries, 2);
  lgw_runtime_free(rt);
}

TEST(settings_garbage) {
  EXPECT_ERROR("settings:\n  max_concurrent: abc\n",
               "settings.max_concurrent: expected an integer, got \"abc\" "
               "(config.yaml:2:19)");
  EXPECT_ERROR("settings:\n  retry_max: 2.5\n",
               "settings.retry_max: expected an integer, got 2.5 "
               "(config.yaml:2:14)");
  EXPECT_ERROR("settings:\n  retry_max: true\n",
               "settings.retry_max: expected an integer, got true "
               "(config.yaml:2:14)");
  EXPECT_ERROR("settings:\n  timeout: [1]\n",
               "settings.timeout: expected a number, got a list "
               "(config.yaml:2:12)");
  EXPECT_ERROR("settings:\n  timeout: fast\n",
               "settings.timeout: expected a number, got \"fast\" "
               "(config.yaml:2:12)");
  EXPECT_ERROR("settings:\n  timeout: .inf\n",
               "settings.timeout: expected a number, got .inf "
               "(config.yaml:2:12)");
  EXPECT_ERROR("settings:\n  max_concurrent: {a: 1}\n",
               "settings.max_concurrent: expected an integer, got a mapping "
               "(config.yaml:2:19)");
  EXPECT_ERROR("settings:\n  fallback_model: [a]\n",
               "settings.fallback_model: expected a string, got a list "
               "(config.yaml:2:19)");
  EXPECT_ERROR("settings: [1]\n",
               "settings: expected a mapping, got a list (config.yaml:1:11)");
}

TEST(settings_null_means_default) {
  lgw_runtime_t *rt = load("settings:\n  max_concurrent: ~\n  timeout:\n"
                           "  retry_max: ''\n  deadline: null\n");
  ASSERT(rt);
  ASSERT_EQ(rt->max_concurrent, 12);
  ASSERT_DEQ(rt->timeout, 90.0);
  ASSERT_EQ(rt->retry_max, 3);
  ASSERT_DEQ(rt->deadline, 0.0);
  lgw_runtime_free(rt);
  rt = load("settings: ~\n");
  ASSERT(rt);
  ASSERT_EQ(rt->max_concurrent, 12);
  lgw_runtime_free(rt);
}

TEST(own_settings) {
  lgw_runtime_t *rt = load("settings:\n  connect_timeout: 2.5\n  deadline: 60\n"
                           "  backoff_base: 0\n  backoff_max: 4\n"
                           "  retry_after_max: 0\n  max_response_bytes: 1024\n"
                           "  timeout: 1.5\n");
  ASSERT(rt);
  ASSERT_DEQ(rt->connect_timeout, 2.5);
  ASSERT_DEQ(rt->deadline, 60.0);
  ASSERT_DEQ(rt->backoff_base, 0.0);
  ASSERT_DEQ(rt->backoff_max, 4.0);
  ASSERT_DEQ(rt->retry_after_max, 0.0);
  ASSERT_EQ(rt->max_response_bytes, 1024);
  ASSERT_DEQ(rt->timeout, 1.5);
  lgw_runtime_free(rt);
  EXPECT_ERROR("settings:\n  connect_timeout: 0\n",
               "settings.connect_timeout: must be greater than 0, got 0 "
               "(config.yaml:2:20)");
  EXPECT_ERROR("settings:\n  deadline: -1\n",
               "settings.deadline: must be at least 0, got -1 "
               "(config.yaml:2:13)");
  EXPECT_ERROR("settings:\n  backoff_base: -0.5\n",
               "settings.backoff_base: must be at least 0, got -0.5 "
               "(config.yaml:2:17)");
  EXPECT_ERROR("settings:\n  backoff_max: -1\n",
               "settings.backoff_max: must be at least 0, got -1 "
               "(config.yaml:2:16)");
  EXPECT_ERROR("settings:\n  retry_after_max: x\n",
               "settings.retry_after_max: expected a number, got \"x\" "
               "(config.yaml:2:20)");
  EXPECT_ERROR("settings:\n  max_response_bytes: 0\n",
               "settings.max_response_bytes: must be at least 1, got 0 "
               "(config.yaml:2:23)");
}

TEST(stream_breaker_defaults) {
  lgw_runtime_t *rt = load("{}\n");
  ASSERT(rt);
  ASSERT_DEQ(rt->first_token_timeout, 0.0);
  ASSERT_DEQ(rt->idle_timeout, 0.0);
  ASSERT_EQ(rt->breaker_failures, 5);
  ASSERT_DEQ(rt->breaker_window, 30.0);
  ASSERT_DEQ(rt->breaker_cooldown, 30.0);
  ASSERT_EQ(rt->nprices, 0);
  lgw_runtime_free(rt);
}

TEST(stream_breaker_settings) {
  lgw_runtime_t *rt = load("settings:\n  first_token_timeout: 2.5\n"
                           "  idle_timeout: 1\n  breaker_failures: 0\n"
                           "  breaker_window: 10\n  breaker_cooldown: 0\n");
  ASSERT(rt);
  ASSERT_DEQ(rt->first_token_timeout, 2.5);
  ASSERT_DEQ(rt->idle_timeout, 1.0);
  ASSERT_EQ(rt->breaker_failures, 0);
  ASSERT_DEQ(rt->breaker_window, 10.0);
  ASSERT_DEQ(rt->breaker_cooldown, 0.0);
  lgw_runtime_free(rt);
  EXPECT_ERROR("settings:\n  idle_timeout: -1\n",
               "settings.idle_timeout: must be at least 0, got -1 "
               "(config.yaml:2:17)");
  EXPECT_ERROR("settings:\n  breaker_failures: -2\n",
               "settings.breaker_failures: must be at least 0, got -2 "
               "(config.yaml:2:21)");
  EXPECT_ERROR("settings:\n  breaker_window: 0\n",
               "settings.breaker_window: must be greater than 0, got 0 "
               "(config.yaml:2:19)");
  EXPECT_ERROR("settings:\n  first_token_timeout: soon\n",
               "settings.first_token_timeout: expected a number, got "
               "\"soon\" (config.yaml:2:24)");
}

static char *dump_text(const lgw_runtime_t *rt, int with_keys);

TEST(prices_and_limits) {
  lgw_runtime_t *rt = load("settings:\n  prices:\n"
                           "    gpt-x: {input: 2.5, output: 10}\n"
                           "    ' cheap ': {output: 1}\n"
                           "providers:\n  - base_url: https://b\n    rpm: 60\n"
                           "    tpm: 90000\n  - base_url: https://c\n");
  const lgw__price_t *pr;
  char *out;
  ASSERT(rt);
  ASSERT_EQ(rt->nprices, 2);
  pr = lgw__runtime_price(rt, "gpt-x");
  ASSERT(pr != NULL);
  ASSERT_DEQ(pr->input, 2.5);
  ASSERT_DEQ(pr->output, 10.0);
  pr = lgw__runtime_price(rt, "cheap");
  ASSERT(pr != NULL);
  ASSERT_DEQ(pr->input, 0.0);
  ASSERT_DEQ(pr->output, 1.0);
  ASSERT(lgw__runtime_price(rt, "other") == NULL);
  ASSERT_EQ(rt->providers[0].rpm, 60);
  ASSERT_EQ(rt->providers[0].tpm, 90000);
  ASSERT_EQ(rt->providers[1].rpm, 0);
  ASSERT_EQ(rt->providers[1].tpm, 0);
  out = dump_text(rt, 0);
  ASSERT_CONTAINS(out, "  prices:\n    gpt-x:\n      input: 2.5\n"
                       "      output: 10.0\n    cheap:\n      input: 0.0\n"
                       "      output: 1.0\n");
  ASSERT_CONTAINS(out, "  model_map: {}\n  rpm: 60\n  tpm: 90000\n");
  lgw_free(out);
  lgw_runtime_free(rt);
  EXPECT_ERROR("providers:\n  - base_url: https://b\n    rpm: -1\n",
               "providers[1].rpm: must be at least 0, got -1 "
               "(config.yaml:3:10)");
  EXPECT_ERROR("settings:\n  prices:\n    m: {input: -1}\n",
               "settings.prices.m.input: must be at least 0, got -1 "
               "(config.yaml:3:16)");
  EXPECT_ERROR("settings:\n  prices:\n    m: 3\n",
               "settings.prices.m: expected a mapping with input and output, "
               "got a scalar (config.yaml:3:8)");
  EXPECT_ERROR("settings:\n  prices: [1]\n",
               "settings.prices: expected a mapping, got a list "
               "(config.yaml:2:11)");
}

TEST(unknown_keys_warn) {
  lgw_runtime_t *rt = load("version: 1\nextra: 1\nsettings:\n  colour: red\n"
                           "providers:\n  - base_url: https://b\n    region: eu\n"
                           "tasks:\n  t:\n    model: m\n    modle: typo\n");
  ASSERT(rt);
  ASSERT_STREQ(warnings,
               "extra: unknown key, ignored (config.yaml:2:1)\n"
               "providers[1].region: unknown key, ignored (config.yaml:7:5)\n"
               "settings.colour: unknown key, ignored (config.yaml:4:3)\n"
               "tasks.t.modle: unknown key, ignored (config.yaml:11:5)\n");
  lgw_runtime_free(rt);
}

/* ---- tasks ------------------------------------------------------------- */

TEST(tasks_parse) {
  lgw_runtime_t *rt = load("tasks:\n"
                           "  summary:\n    model: ' m1 '\n    tier: ' STRONG '\n"
                           "    temperature: '0.5'\n    reasoning_effort: HIGH\n"
                           "    max_tokens: 100\n"
                           "  analysis:\n"
                           "  123: {model: skipped}\n"
                           "  plain: {}\n");
  ASSERT(rt);
  ASSERT_EQ(rt->ntasks, 2);
  ASSERT_STREQ(rt->tasks[0].name, "summary");
  ASSERT_STREQ(rt->tasks[0].model, "m1");
  ASSERT_STREQ(rt->tasks[0].tier, "strong");
  ASSERT_DEQ(rt->tasks[0].temperature, 0.5);
  ASSERT_STREQ(rt->tasks[0].reasoning_effort, "high");
  ASSERT_EQ(rt->tasks[0].max_tokens, 100);
  ASSERT_STREQ(rt->tasks[1].name, "plain");
  ASSERT_STREQ(rt->tasks[1].model, "");
  ASSERT_STREQ(rt->tasks[1].tier, "");
  ASSERT_DEQ(rt->tasks[1].temperature, 0.0);
  ASSERT_EQ(rt->tasks[1].max_tokens, 4000);
  ASSERT_STREQ(warnings,
               "tasks.123: task name is not a string, ignored "
               "(config.yaml:9:3)\n");
  lgw_runtime_free(rt);
  EXPECT_ERROR("tasks:\n  t: {max_tokens: 0}\n",
               "tasks.t.max_tokens: must be at least 1, got 0 "
               "(config.yaml:2:19)");
  EXPECT_ERROR("tasks:\n  t: {temperature: hot}\n",
               "tasks.t.temperature: expected a number, got \"hot\" "
               "(config.yaml:2:20)");
  EXPECT_ERROR("tasks:\n  t: {temperature: -1}\n",
               "tasks.t.temperature: must be at least 0, got -1 "
               "(config.yaml:2:20)");
  EXPECT_ERROR("tasks: [a]\n",
               "tasks: expected a mapping, got a list (config.yaml:1:8)");
}

TEST(task_lookup) {
  lgw_runtime_t *rt = load("settings: {fallback_model: fb}\n"
                           "tasks:\n  summary: {model: m1, max_tokens: 10}\n");
  lgw__task_t tmp;
  const lgw__task_t *t;
  ASSERT(rt);
  t = lgw__runtime_task(rt, "  summary\t", &tmp);
  ASSERT(t == &rt->tasks[0]);
  ASSERT_STREQ(t->model, "m1");
  /* unknown names: a default task on the fallback model */
  t = lgw__runtime_task(rt, "other", &tmp);
  ASSERT(t == &tmp);
  ASSERT_STREQ(t->model, "fb");
  ASSERT_STREQ(t->tier, "");
  ASSERT_STREQ(t->reasoning_effort, "");
  ASSERT_DEQ(t->temperature, 0.0);
  ASSERT_EQ(t->max_tokens, 4000);
  t = lgw__runtime_task(rt, NULL, &tmp);
  ASSERT_STREQ(t->model, "fb");
  lgw_runtime_free(rt);
}

/* ---- tiers (§2 tables) ------------------------------------------------- */

static const char *tier_model(const char *fb, const char *strong,
                              const char *weak, const char *tier) {
  static char out[64];
  char yaml[256];
  lgw_runtime_t *rt;
  snprintf(yaml, sizeof yaml,
           "settings: {fallback_model: '%s', strong_model: '%s', "
           "weak_model: '%s'}\n", fb, strong, weak);
  rt = load(yaml);
  if (!rt) return "(load failed)";
  snprintf(out, sizeof out, "%s", lgw__runtime_model_for_tier(rt, tier));
  lgw_runtime_free(rt);
  return out;
}

TEST(model_for_tier_strong) {
  ASSERT_STREQ(tier_model("f", "s", "w", "strong"), "s");
  ASSERT_STREQ(tier_model("f", "", "w", "strong"), "f");
  ASSERT_STREQ(tier_model("", "", "w", "strong"), "");
  ASSERT_STREQ(tier_model("f", "s", "w", " STRONG "), "s");
}

TEST(model_for_tier_weak) {
  ASSERT_STREQ(tier_model("f", "s", "w", "weak"), "w");
  ASSERT_STREQ(tier_model("f", "s", "", "weak"), "s");
  ASSERT_STREQ(tier_model("f", "", "", "weak"), "f");
  ASSERT_STREQ(tier_model("", "", "", "weak"), "");
  ASSERT_STREQ(tier_model("f", "s", "w", "Weak"), "w");
}

TEST(model_for_tier_other) {
  ASSERT_STREQ(tier_model("f", "s", "w", ""), "f");
  ASSERT_STREQ(tier_model("", "s", "w", ""), "s");
  ASSERT_STREQ(tier_model("", "", "w", "medium"), "w");
  ASSERT_STREQ(tier_model("", "", "", NULL), "");
  ASSERT_STREQ(tier_model(" f ", "s", "w", "x"), "f");
}

TEST(effort_for_tier) {
  lgw_runtime_t *rt = load("settings: {strong_reasoning_effort: HIGH, "
                           "weak_reasoning_effort: Low}\n");
  ASSERT(rt);
  ASSERT_STREQ(lgw__runtime_effort_for_tier(rt, "strong"), "high");
  ASSERT_STREQ(lgw__runtime_effort_for_tier(rt, " Weak "), "low");
  ASSERT_STREQ(lgw__runtime_effort_for_tier(rt, ""), "");
  ASSERT_STREQ(lgw__runtime_effort_for_tier(rt, "other"), "");
  ASSERT_STREQ(lgw__runtime_effort_for_tier(rt, NULL), "");
  lgw_runtime_free(rt);
}

/* ---- dump -------------------------------------------------------------- */

static char *dump_text(const lgw_runtime_t *rt, int with_keys) {
  lgw__node_t *n = lgw__runtime_dump(rt, with_keys);
  char *out = NULL;
  lgw_error_t err;
  if (n) lgw__yaml_dump(n, &out, NULL, &err);
  lgw__node_free(n);
  return out;
}

static const char settings_dump[] =
    "settings:\n"
    "  fallback_model: fb\n"
    "  strong_model: ''\n"
    "  weak_model: ''\n"
    "  strong_reasoning_effort: ''\n"
    "  weak_reasoning_effort: ''\n"
    "  max_concurrent: 4\n"
    "  retry_max: 0\n"
    "  transport_retries: 5\n"
    "  timeout: 90.0\n"
    "  connect_timeout: 10.0\n"
    "  deadline: 0.0\n"
    "  backoff_base: 0.5\n"
    "  backoff_max: 8.0\n"
    "  retry_after_max: 30.0\n"
    "  max_response_bytes: 33554432\n"
    "  first_token_timeout: 0.0\n"
    "  idle_timeout: 0.0\n"
    "  breaker_failures: 5\n"
    "  breaker_window: 30.0\n"
    "  breaker_cooldown: 30.0\n";

TEST(dump_single_provider_redacted) {
  lgw_runtime_t *rt = load("settings: {fallback_model: fb, max_concurrent: 4, "
                           "retry_max: 0}\n"
                           "tasks:\n  t: {model: m, tier: weak, "
                           "temperature: 0.2}\n"
                           "providers:\n  - provider_type: openai\n"
                           "    api_key: sk-secret\n"
                           "    headers: {X-A: '1'}\n");
  char *out, expected[2048];
  ASSERT(rt);
  snprintf(expected, sizeof expected,
           "version: 1\n%s"
           "tasks:\n  t:\n    model: m\n    tier: weak\n    temperature: 0.2\n"
           "    reasoning_effort: ''\n    max_tokens: 4000\n"
           "provider:\n  provider_type: openai\n  api_style: ''\n"
           "  base_url: ''\n  api_key: <redacted>\n  headers:\n"
           "    X-A: <redacted>\n  model_map: {}\n",
           settings_dump);
  out = dump_text(rt, 0);
  ASSERT_STREQ(out, expected);
  lgw_free(out);
  out = dump_text(rt, 1);
  ASSERT_CONTAINS(out, "  api_key: sk-secret\n");
  ASSERT_CONTAINS(out, "    X-A: '1'\n");
  lgw_free(out);
  lgw_runtime_free(rt);
}

TEST(dump_two_providers_and_none) {
  lgw_runtime_t *rt = load(two_providers);
  char *out;
  ASSERT(rt);
  out = dump_text(rt, 0);
  ASSERT_CONTAINS(out,
                  "tasks: {}\nproviders:\n- provider_type: glm\n"
                  "  api_style: openai_responses\n"
                  "  base_url: https://primary.example\n"
                  "  api_key: <redacted>\n  headers: {}\n  model_map: {}\n"
                  "- provider_type: openai\n");
  ASSERT_NOT_CONTAINS(out, "secret");
  lgw_free(out);
  lgw_runtime_free(rt);
  /* zero providers: an all-empty "provider"; an empty key stays "" */
  rt = load("{}\n");
  ASSERT(rt);
  out = dump_text(rt, 0);
  ASSERT_CONTAINS(out,
                  "tasks: {}\nprovider:\n  provider_type: ''\n"
                  "  api_style: ''\n  base_url: ''\n  api_key: ''\n"
                  "  headers: {}\n  model_map: {}\n");
  lgw_free(out);
  lgw_runtime_free(rt);
}

/* ---- refcount and accessors -------------------------------------------- */

TEST(refcount_and_accessors) {
  lgw_runtime_t *rt = load(two_providers);
  ASSERT(rt);
  ASSERT(lgw_runtime_ref(rt) == rt);
  ASSERT_EQ(rt->refs, 2);
  lgw_runtime_free(rt);
  ASSERT_EQ(rt->refs, 1);
  lgw_runtime_free(rt);
  lgw_runtime_free(NULL);
  ASSERT(lgw_runtime_ref(NULL) == NULL);
  ASSERT_EQ(lgw_runtime_provider_count(NULL), 0);
  ASSERT_STREQ(lgw_runtime_config_key(NULL), "");
}

/* ---- files ------------------------------------------------------------- */

static char tmpdir[PATH_MAX];

static void write_text(const char *path, const char *text) {
  FILE *f = fopen(path, "w");
  fputs(text, f);
  fclose(f);
}

TEST(load_file_cases) {
  char path[PATH_MAX + 32], expect[PATH_MAX + 128];
  lgw_runtime_t *rt = NULL;
  lgw_error_t err;
  snprintf(path, sizeof path, "%s/config.yaml", tmpdir);
  write_text(path, "settings:\n  max_concurrent: 0\n");
  ASSERT_EQ(lgw_runtime_load_file(path, &rt, &err), LGW_ECONFIG);
  snprintf(expect, sizeof expect,
           "settings.max_concurrent: must be at least 1, got 0 (%s:2:19)",
           path);
  ASSERT_STREQ(err.message, expect);
  write_text(path, "settings:\n  max_concurrent: 3\n");
  ASSERT_EQ(lgw_runtime_load_file(path, &rt, &err), 0);
  ASSERT_EQ(rt->max_concurrent, 3);
  lgw_runtime_free(rt);
  rt = NULL;

  ASSERT_EQ(lgw_runtime_load_file(tmpdir, &rt, &err), LGW_EIO);
  snprintf(expect, sizeof expect, "cannot read %s: Is a directory", tmpdir);
  ASSERT_STREQ(err.message, expect);
  ASSERT(rt == NULL);

  snprintf(path, sizeof path, "%s/missing.yaml", tmpdir);
  ASSERT_EQ(lgw_runtime_load_file(path, &rt, &err), LGW_EIO);
  snprintf(expect, sizeof expect, "cannot read %s: No such file or directory",
           path);
  ASSERT_STREQ(err.message, expect);

  if (geteuid() != 0) { /* root reads mode 000 files */
    snprintf(path, sizeof path, "%s/locked.yaml", tmpdir);
    write_text(path, "{}\n");
    chmod(path, 0);
    ASSERT_EQ(lgw_runtime_load_file(path, &rt, &err), LGW_EIO);
    snprintf(expect, sizeof expect, "cannot read %s: Permission denied", path);
    ASSERT_STREQ(err.message, expect);
  }
}

TEST(write_file_atomic_mode_and_content) {
  char path[PATH_MAX + 32], buf[64];
  struct stat st;
  lgw_error_t err;
  FILE *f;
  size_t n;
  snprintf(path, sizeof path, "%s/new/sub/state.json", tmpdir);
  ASSERT_EQ(lgw__write_file_atomic(path, "{\"a\": 1}\n", 9, &err), 0);
  ASSERT_EQ(stat(path, &st), 0);
  ASSERT_EQ(st.st_mode & 0777, 0600);
  f = fopen(path, "r");
  ASSERT(f);
  n = fread(buf, 1, sizeof buf - 1, f);
  fclose(f);
  buf[n] = '\0';
  ASSERT_STREQ(buf, "{\"a\": 1}\n");
  snprintf(path, sizeof path, "%s/new/sub", tmpdir);
  ASSERT_EQ(stat(path, &st), 0);
  ASSERT_EQ(st.st_mode & 0777, 0700);
  /* overwrite an existing world-readable file: replaced, 0600 */
  snprintf(path, sizeof path, "%s/existing.yaml", tmpdir);
  write_text(path, "old content that is longer\n");
  chmod(path, 0644);
  ASSERT_EQ(lgw__write_file_atomic(path, "new\n", 4, &err), 0);
  ASSERT_EQ(stat(path, &st), 0);
  ASSERT_EQ(st.st_mode & 0777, 0600);
  ASSERT_EQ(st.st_size, 4);
}

TEST(write_file_atomic_failure) {
  char path[PATH_MAX + 32], expect[PATH_MAX + 128];
  lgw_error_t err;
  snprintf(path, sizeof path, "%s/plainfile", tmpdir);
  write_text(path, "x");
  snprintf(path, sizeof path, "%s/plainfile/child.json", tmpdir);
  ASSERT_EQ(lgw__write_file_atomic(path, "{}", 2, &err), LGW_EIO);
  snprintf(expect, sizeof expect, "cannot write %s: Not a directory", path);
  ASSERT_STREQ(err.message, expect);
  /* rename onto a directory fails: the temp file is removed */
  snprintf(path, sizeof path, "%s/adir", tmpdir);
  mkdir(path, 0700);
  ASSERT_EQ(lgw__write_file_atomic(path, "{}", 2, &err), LGW_EIO);
  snprintf(expect, sizeof expect, "cannot write %s: Is a directory", path);
  ASSERT_STREQ(err.message, expect);
  {
    char cmd[PATH_MAX + 64];
    snprintf(cmd, sizeof cmd, "ls '%s' | grep -c tmp > /dev/null", tmpdir);
    ASSERT(system(cmd) != 0);  /* grep found no temp file */
  }
}

/* ---- locations --------------------------------------------------------- */

typedef struct {
  const char *names[4];
  const char *values[4];
} fake_env_t;

static const char *fake_get(const char *name, void *ud) {
  fake_env_t *e = ud;
  size_t i;
  for (i = 0; i < 4 && e->names[i]; i++)
    if (strcmp(e->names[i], name) == 0) return e->values[i];
  return NULL;
}

#define EXPECT_PATH(call, expected)       \
  do {                                    \
    char *p_ = (call);                    \
    ASSERT_STREQ(p_, expected);           \
    lgw_free(p_);                         \
  } while (0)

TEST(user_config_dir_rules) {
  char expect[PATH_MAX + 64];
  fake_env_t env = {{"HOME", "LLMGATEWAY_USER_CONFIG_DIR"},
                    {"/home/someone", "   "}};
  /* blank override = unset; ~ from the injected HOME */
  EXPECT_PATH(lgw__user_config_dir(fake_get, &env),
              "/home/someone/.llmgateway");
  env.values[1] = " /etc/../var/./lgw/ ";
  EXPECT_PATH(lgw__user_config_dir(fake_get, &env), "/var/lgw");
  env.values[1] = "~/cfg";
  EXPECT_PATH(lgw__user_config_dir(fake_get, &env), "/home/someone/cfg");
  env.values[1] = "rel/dir";
  snprintf(expect, sizeof expect, "%s/rel/dir", tmpdir);
  EXPECT_PATH(lgw__user_config_dir(fake_get, &env), expect);
}

TEST(config_and_state_file_rules) {
  char expect[PATH_MAX + 64];
  fake_env_t env = {{"HOME", "LLMGATEWAY_CONFIG", "LLMGATEWAY_PROVIDER_STATE",
                     "LLMGATEWAY_USER_CONFIG_DIR"},
                    {"/home/u/", "", "", ""}};
  EXPECT_PATH(lgw__resolve_user_config_file(NULL, fake_get, &env),
              "/home/u/.llmgateway/config.yaml");
  EXPECT_PATH(lgw__resolve_provider_state_file(NULL, fake_get, &env),
              "/home/u/.llmgateway/provider-state.json");
  env.values[3] = "/srv/lgw";
  EXPECT_PATH(lgw__resolve_user_config_file(NULL, fake_get, &env),
              "/srv/lgw/config.yaml");
  env.values[1] = "/etc/lgw.yaml";
  EXPECT_PATH(lgw__resolve_user_config_file(NULL, fake_get, &env),
              "/etc/lgw.yaml");
  /* LLMGATEWAY_CONFIG does not move the state file */
  EXPECT_PATH(lgw__resolve_provider_state_file(NULL, fake_get, &env),
              "/srv/lgw/provider-state.json");
  env.values[2] = "~/state.json";
  EXPECT_PATH(lgw__resolve_provider_state_file(NULL, fake_get, &env),
              "/home/u/state.json");
  /* explicit paths win; "" is the current directory */
  EXPECT_PATH(lgw__resolve_user_config_file("/x/y.yaml", fake_get, &env),
              "/x/y.yaml");
  EXPECT_PATH(lgw__resolve_provider_state_file("/x/s.json", fake_get, &env),
              "/x/s.json");
  EXPECT_PATH(lgw__resolve_user_config_file("", fake_get, &env), tmpdir);
  snprintf(expect, sizeof expect, "%s/a.yaml", tmpdir);
  EXPECT_PATH(lgw__resolve_user_config_file("./sub/../a.yaml", fake_get,
                                            &env), expect);
}

TEST(symlinks_of_existing_part_resolved) {
  char lpath[PATH_MAX + 32], rdir[PATH_MAX + 32], expect[PATH_MAX + 64];
  fake_env_t env = {{NULL}, {NULL}};
  snprintf(rdir, sizeof rdir, "%s/realdir", tmpdir);
  snprintf(lpath, sizeof lpath, "%s/linkdir", tmpdir);
  mkdir(rdir, 0700);
  ASSERT_EQ(symlink(rdir, lpath), 0);
  snprintf(lpath, sizeof lpath, "%s/linkdir/not/yet/config.yaml", tmpdir);
  snprintf(expect, sizeof expect, "%s/realdir/not/yet/config.yaml", tmpdir);
  EXPECT_PATH(lgw__resolve_user_config_file(lpath, fake_get, &env), expect);
}

/* ---- what reaches the wire ---------------------------------------------- */

TEST(base_url_needs_a_scheme) {
  EXPECT_ERROR("providers:\n  - base_url: 127.0.0.1:8080/v1\n",
               "providers[1].base_url: an explicit http:// or https:// "
               "scheme is required, got \"127.0.0.1:8080/v1\" "
               "(config.yaml:2:15)");
  EXPECT_ERROR("providers:\n  - api_key: k\n  - base_url: api.openai.com/v1\n",
               "providers[2].base_url: an explicit http:// or https:// "
               "scheme is required, got \"api.openai.com/v1\" "
               "(config.yaml:3:15)");
  EXPECT_ERROR("provider:\n  base_url: ftp://user:pw@h/x?key=sk-1\n",
               "provider.base_url: an explicit http:// or https:// scheme is "
               "required, got \"ftp://<redacted>@h/x?key=<redacted>\" "
               "(config.yaml:2:13)");
  EXPECT_ERROR("provider:\n  base_url: 'https:///v1'\n",
               "provider.base_url: the URL has no host (config.yaml:2:13)");
  {
    lgw_runtime_t *rt = load("providers:\n  - base_url: HTTPS://Api.Example\n"
                             "  - base_url: ''\n");
    ASSERT(rt);
    ASSERT_STREQ(rt->providers[0].base_url, "HTTPS://Api.Example");
    lgw_runtime_free(rt);
  }
}

TEST(plain_http_only_to_loopback) {
  static const char *const ok[] = {
      "http://127.0.0.1:8080/v1", "http://127.9.8.7", "http://[::1]:81/v1",
      "http://localhost:8080", "http://LocalHost./v1",
      "http://user:pw@127.0.0.1/v1", "https://example.com",
      "http://api.localhost:8080/v1", "http://[::ffff:127.0.0.1]:81", NULL};
  const char *const *u;
  char yaml[300];
  lgw_runtime_t *rt;
  for (u = ok; *u; u++) {
    snprintf(yaml, sizeof yaml, "providers:\n  - base_url: '%s'\n", *u);
    rt = load(yaml);
    ASSERT(rt);
    lgw_runtime_free(rt);
  }
  EXPECT_ERROR("providers:\n  - base_url: https://a\n"
               "  - base_url: http://api.example.com/v1\n",
               "providers[2].base_url: plain http:// to \"api.example.com\", "
               "which is not a loopback host, would send the key and the "
               "prompts in clear; use https://, or set "
               "providers[2].allow_insecure_http: true (config.yaml:3:15)");
  EXPECT_ERROR("provider:\n  base_url: http://127.0.0.1.example.com\n",
               "provider.base_url: plain http:// to "
               "\"127.0.0.1.example.com\", which is not a loopback host, "
               "would send the key and the prompts in clear; use https://, "
               "or set provider.allow_insecure_http: true "
               "(config.yaml:2:13)");
  EXPECT_ERROR("provider:\n  base_url: 'http://[::2]/'\n",
               "provider.base_url: plain http:// to \"::2\", which is not a "
               "loopback host, would send the key and the prompts in clear; "
               "use https://, or set provider.allow_insecure_http: true "
               "(config.yaml:2:13)");
  EXPECT_ERROR("provider:\n  base_url: http://h\n  allow_insecure_http: maybe\n",
               "provider.allow_insecure_http: expected true or false, got "
               "\"maybe\" (config.yaml:3:24)");
  rt = load("providers:\n  - base_url: http://lan-box:8000/v1\n"
            "    allow_insecure_http: true\n");
  ASSERT(rt);
  ASSERT_EQ(rt->providers[0].allow_insecure_http, 1);
  lgw_runtime_free(rt);
}

TEST(allow_insecure_http_not_in_provider_key) {
  lgw_runtime_t *a = load("provider:\n  provider_type: glm\n"
                          "  api_style: openai_responses\n"
                          "  base_url: https://backend.example\n"
                          "  api_key: secret\n");
  lgw_runtime_t *b = load("provider:\n  provider_type: glm\n"
                          "  api_style: openai_responses\n"
                          "  base_url: https://backend.example\n"
                          "  api_key: secret\n  allow_insecure_http: true\n");
  char *out;
  ASSERT(a && b);
  ASSERT_STREQ(a->providers[0].key,
               "6e0e943d9a49584e0085d064436da6c06ed5277f7d54553650b6f778c51d15bd");
  ASSERT_STREQ(b->providers[0].key, a->providers[0].key);
  ASSERT_STREQ(b->config_key, a->config_key);
  out = dump_text(b, 0);
  ASSERT_CONTAINS(out, "  model_map: {}\n  allow_insecure_http: true\n");
  lgw_free(out);
  out = dump_text(a, 0);
  ASSERT_NOT_CONTAINS(out, "allow_insecure_http");
  lgw_free(out);
  lgw_runtime_free(a);
  lgw_runtime_free(b);
}

TEST(control_characters_refused) {
  lgw_error_t e;
  setenv("LGW_TEST_SMUGGLE",
         "sk-x\r\nContent-Length: 0\r\n\r\nPOST /smuggled HTTP/1.1", 1);
  ASSERT_EQ(load_fail("providers:\n  - base_url: https://h\n"
                      "    api_key: ${LGW_TEST_SMUGGLE}\n", &e),
            LGW_ECONFIG);
  unsetenv("LGW_TEST_SMUGGLE");
  ASSERT_STREQ(e.message,
               "providers[1].api_key: contains a control character (U+000D, "
               "CR); control characters are not allowed (config.yaml:3:14)");
  EXPECT_ERROR("provider:\n  headers: {X-A: \"v\\nInjected: 1\"}\n",
               "provider.headers.X-A: contains a control character (U+000A, "
               "LF); control characters are not allowed (config.yaml:2:18)");
  EXPECT_ERROR("provider:\n  headers: {\"X-A\\x01\": v}\n",
               "provider.headers: a header name contains a control character "
               "(U+0001); control characters are not allowed "
               "(config.yaml:2:13)");
  EXPECT_ERROR("provider:\n  headers: {'X A': v}\n",
               "provider.headers: \"X A\" is not a valid header name "
               "(letters, digits and !#$%&'*+-.^_`|~ only) (config.yaml:2:13)");
  EXPECT_ERROR("provider:\n  headers: {'X:A': v}\n",
               "provider.headers: \"X:A\" is not a valid header name "
               "(letters, digits and !#$%&'*+-.^_`|~ only) (config.yaml:2:13)");
  EXPECT_ERROR("provider:\n  base_url: \"https://h/v1\\x7f\"\n",
               "provider.base_url: contains a control character (U+007F, "
               "DEL); control characters are not allowed (config.yaml:2:13)");
  EXPECT_ERROR("provider:\n  model_map: {a: \"b\\tc\"}\n",
               "provider.model_map.a: contains a control character (U+0009, "
               "TAB); control characters are not allowed (config.yaml:2:18)");
  EXPECT_ERROR("provider:\n  model_map: {\"a\\rb\": c}\n",
               "provider.model_map: a model name contains a control "
               "character (U+000D, CR); control characters are not allowed "
               "(config.yaml:2:15)");
  EXPECT_ERROR("settings:\n  fallback_model: \"gpt\\x1b[31m\"\n",
               "settings.fallback_model: contains a control character "
               "(U+001B); control characters are not allowed "
               "(config.yaml:2:19)");
  EXPECT_ERROR("tasks:\n  t: {model: \"m\\nx\"}\n",
               "tasks.t.model: contains a control character (U+000A, LF); "
               "control characters are not allowed (config.yaml:2:14)");
  {
    /* a tab inside a header value is allowed (RFC 9110) */
    lgw_runtime_t *rt = load("provider:\n  headers: {X-A: \"a\\tb\"}\n");
    ASSERT(rt);
    ASSERT_STREQ(rt->providers[0].headers.items[0].value, "a\tb");
    lgw_runtime_free(rt);
  }
}

TEST(nul_never_truncates) {
  lgw_runtime_t *rt = NULL;
  lgw__node_t *root, *p, *list;
  lgw_error_t err;
  EXPECT_ERROR("provider:\n  api_key: \"sk-\\0abc\"\n",
               "provider.api_key: contains a NUL character (U+0000) "
               "(config.yaml:2:12)");
  EXPECT_ERROR("{\"providers\": [{\"base_url\": \"https://h\\u0000.evil\"}]}\n",
               "providers[1].base_url: contains a NUL character (U+0000) "
               "(config.yaml:1:29)");
  EXPECT_ERROR("provider:\n  headers: {X-A: \"v\\0w\"}\n",
               "provider.headers.X-A: contains a NUL character (U+0000) "
               "(config.yaml:2:18)");
  EXPECT_ERROR("provider:\n  headers: {\"X\\0A\": v}\n",
               "provider.headers: a header name contains a NUL character "
               "(U+0000) (config.yaml:2:13)");
  EXPECT_ERROR("tasks:\n  \"a\\0b\": {model: m}\n",
               "tasks: a task name contains a NUL character (U+0000) "
               "(config.yaml:2:3)");
  EXPECT_ERROR("settings:\n  prices:\n    \"m\\0x\": {input: 1}\n",
               "settings.prices: a model name contains a NUL character "
               "(U+0000) (config.yaml:3:5)");
  /* a tree without positions (Lua tables) */
  root = lgw__node_new(LGW_NODE_MAP, 0, 0);
  list = lgw__node_new(LGW_NODE_SEQ, 0, 0);
  p = lgw__node_new(LGW_NODE_MAP, 0, 0);
  ASSERT(root && list && p);
  ASSERT_EQ(lgw__node_append(p, lgw__node_new_string("api_key", 7, 0, 0),
                             lgw__node_new_string("ab\0cd", 5, 0, 0)), 0);
  ASSERT_EQ(lgw__node_append(list, NULL, p), 0);
  ASSERT_EQ(lgw__node_append(root, lgw__node_new_string("providers", 9, 0, 0),
                             list), 0);
  ASSERT_EQ(lgw__env_resolve_tree(root, lgw__getenv_default, NULL), 0);
  ASSERT_EQ(p->items[0]->len, 5);
  ASSERT_EQ(lgw__runtime_from_node(root, NULL, &rt, &err), LGW_ECONFIG);
  ASSERT_STREQ(err.message,
               "providers[1].api_key: contains a NUL character (U+0000)");
  ASSERT(rt == NULL);
  lgw__node_free(root);
}

TEST(nested_env_reference) {
  lgw_runtime_t *rt;
  setenv("LGW_TEST_NEST_B", "https://from-b.example", 1);
  unsetenv("LGW_TEST_NEST_A");
  rt = load("provider:\n  base_url: ${LGW_TEST_NEST_A:-${LGW_TEST_NEST_B}}\n");
  ASSERT(rt);
  ASSERT_STREQ(rt->providers[0].base_url, "https://from-b.example");
  lgw_runtime_free(rt);
  EXPECT_ERROR("provider:\n  base_url: ${LGW_TEST_NEST_A:-${LGW_TEST_NEST_C:-"
               "${LGW_TEST_NEST_B}}}\n",
               "provider.base_url: holds an unresolved ${...} reference (only "
               "a whole value ${NAME}, ${NAME:-default} or "
               "${NAME:-${OTHER}} is interpolated) (config.yaml:2:13)");
  EXPECT_ERROR("provider:\n  api_key: Bearer ${LGW_TEST_NEST_B}\n",
               "provider.api_key: holds an unresolved ${...} reference (only "
               "a whole value ${NAME}, ${NAME:-default} or "
               "${NAME:-${OTHER}} is interpolated) (config.yaml:2:12)");
  EXPECT_ERROR("provider:\n  headers: {X-Key: '${LGW_TEST_NEST_B'}\n",
               "provider.headers.X-Key: holds an unresolved ${...} reference "
               "(only a whole value ${NAME}, ${NAME:-default} or "
               "${NAME:-${OTHER}} is interpolated) (config.yaml:2:20)");
  unsetenv("LGW_TEST_NEST_B");
}

TEST(dump_redacts_headers_and_url_secrets) {
  lgw_runtime_t *rt = load(
      "provider:\n  base_url: 'https://user:pw@h.example:8443/v1"
      "?api-version=2025-01-01&key=sk-q&flag#frag'\n"
      "  api_key: sk-k\n"
      "  headers: {Authorization: Bearer sk-h, X-Empty: ''}\n");
  char *out;
  ASSERT(rt);
  out = dump_text(rt, 0);
  ASSERT_CONTAINS(out, "  base_url: https://<redacted>@h.example:8443/v1"
                       "?api-version=<redacted>&key=<redacted>&<redacted>"
                       "#<redacted>\n  api_key: <redacted>\n  headers:\n"
                       "    Authorization: <redacted>\n    X-Empty: ''\n");
  ASSERT_NOT_CONTAINS(out, "sk-");
  ASSERT_NOT_CONTAINS(out, "pw");
  lgw_free(out);
  out = dump_text(rt, 1);
  ASSERT_CONTAINS(out, "  base_url: https://user:pw@h.example:8443/v1"
                       "?api-version=2025-01-01&key=sk-q&flag#frag\n"
                       "  api_key: sk-k\n  headers:\n"
                       "    Authorization: Bearer sk-h\n");
  lgw_free(out);
  lgw_runtime_free(rt);
}

TEST(url_redact_cases) {
  static const char *const cases[][2] = {
      {"", ""},
      {"https://h/v1", "https://h/v1"},
      {"https://u@h", "https://<redacted>@h"},
      {"https://h?a=1", "https://h?a=<redacted>"},
      {"https://h/p?a=&b=2;c", "https://h/p?a=&b=<redacted>;<redacted>"},
      {"https://h/p/a@b?x", "https://h/p/a@b?<redacted>"},
      {"https://h#", "https://h#"},
  };
  size_t i;
  for (i = 0; i < sizeof cases / sizeof cases[0]; i++) {
    char *r = lgw__url_redact(cases[i][0]);
    ASSERT_STREQ(r, cases[i][1]);
    lgw_free(r);
  }
}

TEST(base_url_query_stays_after_path) {
  static const struct {
    const char *base, *chat, *responses, *anthropic;
  } cases[] = {
      {"https://h/openai/v1?api-version=2025-01-01",
       "https://h/openai/v1/chat/completions?api-version=2025-01-01",
       "https://h/openai/v1/responses?api-version=2025-01-01",
       "https://h/openai/v1/messages?api-version=2025-01-01"},
      {"https://h/openai/?api-version=1",
       "https://h/openai/v1/chat/completions?api-version=1",
       "https://h/openai/v1/responses?api-version=1",
       "https://h/openai/v1/messages?api-version=1"},
      {"https://h/v1/chat/completions?x=1",
       "https://h/v1/chat/completions?x=1",
       "https://h/v1/chat/completions/v1/responses?x=1",
       "https://h/v1/chat/completions/v1/messages?x=1"},
      {"https://h/v1", "https://h/v1/chat/completions",
       "https://h/v1/responses", "https://h/v1/messages"},
  };
  size_t i;
  for (i = 0; i < sizeof cases / sizeof cases[0]; i++) {
    char *u = lgw__endpoint_url(cases[i].base, "/chat/completions",
                                "/chat/completions");
    ASSERT_STREQ(u, cases[i].chat);
    lgw_free(u);
    u = lgw__endpoint_url(cases[i].base, "/responses", "/responses");
    ASSERT_STREQ(u, cases[i].responses);
    lgw_free(u);
    u = lgw__endpoint_url(cases[i].base, "/v1/messages", "/messages");
    ASSERT_STREQ(u, cases[i].anthropic);
    lgw_free(u);
  }
}

TEST(number_errors_show_the_value) {
  lgw_runtime_t *rt = NULL;
  lgw__node_t *root, *s, *v;
  lgw_error_t err;
  EXPECT_ERROR("settings:\n  deadline: -1\n",
               "settings.deadline: must be at least 0, got -1 "
               "(config.yaml:2:13)");
  EXPECT_ERROR("settings:\n  timeout: -0.5\n",
               "settings.timeout: must be greater than 0, got -0.5 "
               "(config.yaml:2:12)");
  EXPECT_ERROR("tasks:\n  t: {max_tokens: 2.5}\n",
               "tasks.t.max_tokens: expected an integer, got 2.5 "
               "(config.yaml:2:19)");
  EXPECT_ERROR("settings:\n  deadline: .inf\n",
               "settings.deadline: expected a number, got .inf "
               "(config.yaml:2:13)");
  /* numbers without source text (Lua tables) print their value */
  root = lgw__node_new(LGW_NODE_MAP, 0, 0);
  s = lgw__node_new(LGW_NODE_MAP, 0, 0);
  v = lgw__node_new(LGW_NODE_FLOAT, 0, 0);
  ASSERT(root && s && v);
  v->d = -2.5;
  ASSERT_EQ(lgw__node_append(s, lgw__node_new_string("deadline", 8, 0, 0), v),
            0);
  ASSERT_EQ(lgw__node_append(root, lgw__node_new_string("settings", 8, 0, 0),
                             s), 0);
  ASSERT_EQ(lgw__runtime_from_node(root, NULL, &rt, &err), LGW_ECONFIG);
  ASSERT_STREQ(err.message, "settings.deadline: must be at least 0, got -2.5");
  lgw__node_free(root);
}

int main(void) {
  char base[] = "/tmp/lgw-test-config-XXXXXX";
  char *real;
  if (!mkdtemp(base)) return 1;
  real = realpath(base, NULL);
  snprintf(tmpdir, sizeof tmpdir, "%s", real);
  free(real);
  if (chdir(tmpdir) != 0) return 1;
  lgw_set_log(capture_log, NULL, LGW_LOG_WARN);
  RUN(defaults_for_empty_mapping);
  RUN(top_level_not_a_mapping);
  RUN(yaml_syntax_error_passes_through);
  RUN(provider_and_config_keys_match_python);
  RUN(legacy_single_provider);
  RUN(legacy_provider_rules);
  RUN(providers_list_skips_non_mappings);
  RUN(providers_mapping_form_uses_values_in_order);
  RUN(providers_wrong_type);
  RUN(provider_field_coercion);
  RUN(headers_and_model_map_rules);
  RUN(unknown_api_style_is_an_error);
  RUN(api_styles_parse);
  RUN(env_interpolation_applied);
  RUN(settings_strings);
  RUN(settings_zeroes);
  RUN(settings_negatives_and_numeric_strings);
  RUN(settings_garbage);
  RUN(settings_null_means_default);
  RUN(own_settings);
  RUN(unknown_keys_warn);
  RUN(tasks_parse);
  RUN(task_lookup);
  RUN(model_for_tier_strong);
  RUN(model_for_tier_weak);
  RUN(model_for_tier_other);
  RUN(effort_for_tier);
  RUN(stream_breaker_defaults);
  RUN(stream_breaker_settings);
  RUN(prices_and_limits);
  RUN(dump_single_provider_redacted);
  RUN(dump_two_providers_and_none);
  RUN(base_url_needs_a_scheme);
  RUN(plain_http_only_to_loopback);
  RUN(allow_insecure_http_not_in_provider_key);
  RUN(control_characters_refused);
  RUN(nul_never_truncates);
  RUN(nested_env_reference);
  RUN(dump_redacts_headers_and_url_secrets);
  RUN(url_redact_cases);
  RUN(base_url_query_stays_after_path);
  RUN(number_errors_show_the_value);
  RUN(refcount_and_accessors);
  RUN(load_file_cases);
  RUN(write_file_atomic_mode_and_content);
  RUN(write_file_atomic_failure);
  RUN(user_config_dir_rules);
  RUN(config_and_state_file_rules);
  RUN(symlinks_of_existing_part_resolved);
  {
    char cmd[PATH_MAX + 32];
    if (chdir("/") != 0) return 1;
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", tmpdir);
    if (system(cmd) != 0) return 1;
  }
  return TEST_SUMMARY();
}
