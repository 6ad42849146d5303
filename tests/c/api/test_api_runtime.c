/*
 * test_api_runtime.c -- the public runtime functions: a runtime from a
 * value tree (env references resolved, the input unchanged), its settings
 * and dump as values, a copy with another max_concurrent, and the provider
 * and config keys of values (the Python library's keys).
 */
#include <stdlib.h>

#include "llmgateway.h"
#include "test.h"

static lgw_value_t *str(const char *s) {
  return lgw_value_string(s, strlen(s));
}

static void set(lgw_value_t *o, const char *k, lgw_value_t *v) {
  lgw_value_set(o, k, strlen(k), v);
}

static lgw_value_t *provider(const char *type, const char *style,
                             const char *url, const char *key) {
  lgw_value_t *p = lgw_value_object();
  set(p, "provider_type", str(type));
  set(p, "api_style", str(style));
  set(p, "base_url", str(url));
  set(p, "api_key", str(key));
  return p;
}

static lgw_value_t *p1(void) {
  return provider("glm", "openai_responses", "https://primary.example",
                  "primary-secret");
}

static lgw_value_t *p2(void) {
  return provider("openai", "responses", "https://secondary.example",
                  "secondary-secret");
}

static lgw_value_t *config(void) {
  lgw_value_t *c = lgw_value_object(), *ps = lgw_value_array();
  lgw_value_t *s = lgw_value_object(), *t = lgw_value_object();
  lgw_value_t *task = lgw_value_object();
  lgw_value_append(ps, provider("openai", "openai_chat", "http://127.0.0.1:9",
                                "${LGW_TEST_API_KEY}"));
  set(c, "providers", ps);
  set(s, "fallback_model", str("m"));
  set(s, "retry_max", lgw_value_int(1));
  set(s, "timeout", lgw_value_number(2.5));
  set(c, "settings", s);
  set(task, "model", str("s"));
  set(task, "max_tokens", lgw_value_int(99));
  set(t, "summary", task);
  set(c, "tasks", t);
  return c;
}

TEST(from_value_and_settings) {
  lgw_value_t *c = config(), *s, *d;
  lgw_runtime_t *rt = NULL;
  lgw_error_t err;
  memset(&err, 0, sizeof err);
  setenv("LGW_TEST_API_KEY", "sk-env", 1);
  ASSERT_EQ(lgw_runtime_from_value(c, NULL, &rt, &err), 0);
  /* the input is not changed by the env resolution */
  ASSERT_STREQ(lgw_value_get_string(lgw_value_get(lgw_value_at(
      lgw_value_get(c, "providers"), 0), "api_key"), NULL),
      "${LGW_TEST_API_KEY}");
  ASSERT_EQ(lgw_runtime_provider_count(rt), 1);
  s = lgw_runtime_settings(rt);
  ASSERT_STREQ(lgw_value_get_string(lgw_value_get(s, "fallback_model"), NULL),
               "m");
  ASSERT_STREQ(lgw_value_get_string(lgw_value_get(s, "strong_model"), NULL),
               "");
  ASSERT_EQ(lgw_value_get_int(lgw_value_get(s, "max_concurrent")), 12);
  ASSERT_EQ(lgw_value_get_int(lgw_value_get(s, "retry_max")), 1);
  ASSERT_EQ(lgw_value_get_int(lgw_value_get(s, "transport_retries")), 5);
  ASSERT_DEQ(lgw_value_get_number(lgw_value_get(s, "timeout")), 2.5);
  ASSERT_EQ(lgw_value_type(lgw_value_get(s, "state")), LGW_VALUE_NULL);
  ASSERT_STREQ(lgw_value_get_string(lgw_value_get(s, "state_prefix"), NULL),
               "llmgateway:");
  ASSERT_DEQ(lgw_value_get_number(lgw_value_get(s, "worker_grace")), 30.0);
  lgw_value_free(s);
  d = lgw_runtime_dump(rt, 1);
  ASSERT_STREQ(lgw_value_get_string(lgw_value_get(lgw_value_get(d, "provider"),
               "api_key"), NULL), "sk-env");
  ASSERT_EQ(lgw_value_get_int(lgw_value_get(lgw_value_get(lgw_value_get(d,
            "tasks"), "summary"), "max_tokens")), 99);
  lgw_value_free(d);
  d = lgw_runtime_dump(rt, 0);
  ASSERT_STREQ(lgw_value_get_string(lgw_value_get(lgw_value_get(d, "provider"),
               "api_key"), NULL), "<redacted>");
  lgw_value_free(d);
  lgw_runtime_free(rt);
  lgw_value_free(c);
  unsetenv("LGW_TEST_API_KEY");
}

TEST(from_value_errors) {
  lgw_value_t *c = config(), *a = lgw_value_array();
  lgw_runtime_t *rt = NULL;
  lgw_error_t err;
  memset(&err, 0, sizeof err);
  set(lgw_value_get(c, "settings"), "max_concurrent", str("many"));
  ASSERT_EQ(lgw_runtime_from_value(c, NULL, &rt, &err), LGW_ECONFIG);
  ASSERT(rt == NULL);
  ASSERT_STREQ(err.message, "settings.max_concurrent: expected an integer, "
               "got \"many\"");
  ASSERT_EQ(lgw_runtime_from_value(a, "cfg.yaml", &rt, &err), LGW_ECONFIG);
  ASSERT_STREQ(err.message, "Invalid llmgateway config: cfg.yaml");
  lgw_value_free(c);
  lgw_value_free(a);
}

TEST(with_max_concurrent) {
  lgw_value_t *c = config(), *s, *d1, *d2;
  lgw_runtime_t *rt = NULL, *cp = NULL;
  lgw_error_t err;
  char *j1, *j2;
  memset(&err, 0, sizeof err);
  ASSERT_EQ(lgw_runtime_from_value(c, NULL, &rt, &err), 0);
  ASSERT_EQ(lgw_runtime_with_max_concurrent(rt, 3, &cp, &err), 0);
  s = lgw_runtime_settings(cp);
  ASSERT_EQ(lgw_value_get_int(lgw_value_get(s, "max_concurrent")), 3);
  lgw_value_free(s);
  s = lgw_runtime_settings(rt);
  ASSERT_EQ(lgw_value_get_int(lgw_value_get(s, "max_concurrent")), 12);
  lgw_value_free(s);
  ASSERT_STREQ(lgw_runtime_config_key(cp), lgw_runtime_config_key(rt));
  /* everything else is the same */
  d1 = lgw_runtime_dump(rt, 1);
  d2 = lgw_runtime_dump(cp, 1);
  set(lgw_value_get(d2, "settings"), "max_concurrent", lgw_value_int(12));
  lgw_value_free(lgw_value_copy(d2));
  ASSERT_EQ(lgw_json_encode(d1, &j1, NULL, &err), 0);
  ASSERT_EQ(lgw_json_encode(d2, &j2, NULL, &err), 0);
  ASSERT_CONTAINS(j2, "\"max_concurrent\":3");
  ASSERT(strlen(j1) > 100);
  lgw_free(j1);
  lgw_free(j2);
  lgw_value_free(d1);
  lgw_value_free(d2);
  lgw_runtime_free(cp);
  ASSERT_EQ(lgw_runtime_with_max_concurrent(rt, 0, &cp, &err), LGW_ECONFIG);
  ASSERT(cp == NULL);
  ASSERT_STREQ(err.message, "settings.max_concurrent: must be at least 1, "
               "got 0");
  lgw_runtime_free(rt);
  lgw_value_free(c);
}

TEST(keys) {
  lgw_value_t *a = p1(), *b = p2(), *list = lgw_value_array(), *bad;
  lgw_runtime_t *rt = NULL;
  lgw_error_t err;
  char key[65];
  memset(&err, 0, sizeof err);
  ASSERT_EQ(lgw_provider_key(a, key, &err), 0);
  ASSERT_STREQ(key, "7abb51cbbde36d7fa6c9702352c41888"
                    "cb6256228c824133a53aef25f665c21c");
  ASSERT_EQ(lgw_provider_key(b, key, &err), 0);
  ASSERT_STREQ(key, "ae1eb675f9efd559d0e0dd72d2ea9466"
                    "b940938a099bfbac08fe0ac26de3d447");
  lgw_value_append(list, a);
  lgw_value_append(list, b);
  ASSERT_EQ(lgw_config_key(list, key, &err), 0);
  ASSERT_STREQ(key, "d6b49f1deeab999d6e26d021b1fef8c4"
                    "f9059d3f8fc449b71b6479c3e83f0c62");
  bad = lgw_value_object();
  set(bad, "providers", lgw_value_copy(list));
  ASSERT_EQ(lgw_runtime_from_value(bad, NULL, &rt, &err), 0);
  ASSERT_STREQ(lgw_runtime_config_key(rt), key);
  lgw_runtime_free(rt);
  lgw_value_free(bad);
  bad = lgw_value_object();
  set(bad, "api_style", str("bogus"));
  ASSERT_EQ(lgw_provider_key(bad, key, &err), LGW_ECONFIG);
  ASSERT_STREQ(key, "");
  ASSERT_STREQ(err.message, "api_style: unknown value \"bogus\"; expected "
               "one of responses, openai_responses, openai_chat, anthropic, "
               "litellm");
  ASSERT_EQ(lgw_provider_key(list, key, &err), LGW_ECONFIG);
  ASSERT_STREQ(err.message, "not a provider mapping");
  lgw_value_free(bad);
  lgw_value_free(list);
}

int main(void) {
  RUN(from_value_and_settings);
  RUN(from_value_errors);
  RUN(with_max_concurrent);
  RUN(keys);
  return TEST_SUMMARY();
}
