/*
 * test_config_oom.c -- the config when memory runs out at each allocation
 * in turn: loading fails with LGW_ENOMEM and "out of memory" (never with
 * a wrong config error), a dump is whole or NULL, the path functions
 * return NULL; nothing leaks (run it under ASan or valgrind). Allocations
 * go through lgw_set_allocator, which lets the n-th one fail.
 */
#include <stdlib.h>
#include <string.h>

#include "config.h"
#include "redis_url.h"
#include "test.h"
#include "url.h"
#include "yaml_load.h"

static long budget = -1;  /* allocations left before failing; -1: no limit */

static int spend(void) {
  if (budget == 0) return 0;
  if (budget > 0) budget--;
  return 1;
}
static void *t_malloc(size_t n) { return spend() ? malloc(n) : NULL; }
static void *t_realloc(void *p, size_t n) {
  return spend() ? realloc(p, n) : NULL;
}

static void quiet(lgw_log_level_t level, const char *msg, void *ud) {
  (void)level;
  (void)msg;
  (void)ud;
}

static const char config[] =
    "version: 1\n"
    "settings:\n"
    "  fallback_model: m1\n"
    "  strong_model: m2\n"
    "  max_concurrent: \"4\"\n"
    "  failover_on_refusal: \"yes\"\n"
    "  state: redis://app:hunter2@[::1]:6380/2\n"
    "  prices:\n"
    "    m1: {input: 1.5, output: 3}\n"
    "    m2: {input: 0.25}\n"
    "  unknown_setting: 1\n"
    "tasks:\n"
    "  summarize: {model: m1, tier: Strong, temperature: 0.5}\n"
    "  classify: {tier: weak, max_tokens: 10}\n"
    "providers:\n"
    "  - provider_type: openai\n"
    "    api_style: OpenAI_Chat\n"
    "    base_url: https://u:p@api.example/v1?key=k#f\n"
    "    api_key: sk-1\n"
    "    headers: {X-A: a, X-B: \"\"}\n"
    "    model_map: {m1: real-m1}\n"
    "    extra_body: {seed: 1, stop: [a, b]}\n"
    "    rpm: 60\n"
    "  - provider_type: other\n"
    "    api_style: anthropic\n"
    "    base_url: http://127.0.0.1:8080\n"
    "    ca_file: /etc/ca.pem\n";

static char *dump_text(const lgw_runtime_t *rt, int with_keys) {
  lgw__node_t *d = lgw__runtime_dump(rt, with_keys);
  char *text = NULL;
  size_t len;
  lgw_error_t err;
  if (d && lgw__yaml_dump(d, &text, &len, &err)) text = NULL;
  lgw__node_free(d);
  return text;
}

TEST(load_fails_cleanly_at_every_allocation) {
  long k;
  int rc = -1;
  for (k = 0; k < 100000 && rc != 0; k++) {
    lgw_runtime_t *rt = NULL;
    lgw_error_t err;
    memset(&err, 0, sizeof err);
    budget = k;
    rc = lgw_runtime_load_string(config, strlen(config), "c.yaml", &rt, &err);
    budget = -1;
    if (rc) {
      ASSERT(rt == NULL);
      if (rc != LGW_ENOMEM) fprintf(stderr, "  %s\n", err.message);
      ASSERT_EQ(rc, LGW_ENOMEM);
      ASSERT_CONTAINS(err.message, "out of memory");
      if (test__cur_failed) {
        fprintf(stderr, "  at allocation %ld\n", k);
        return;
      }
    }
    lgw_runtime_free(rt);
  }
  ASSERT_EQ(rc, 0);
}

TEST(dump_is_whole_or_null) {
  lgw_runtime_t *rt = NULL;
  lgw_error_t err;
  int with_keys;
  ASSERT_EQ(lgw_runtime_load_string(config, strlen(config), "c.yaml", &rt,
                                    &err), 0);
  for (with_keys = 0; with_keys < 2; with_keys++) {
    char *full = dump_text(rt, with_keys);
    long k;
    lgw__node_t *d = NULL;
    ASSERT(full != NULL);
    for (k = 0; k < 100000 && !d; k++) {
      budget = k;
      d = lgw__runtime_dump(rt, with_keys);
      budget = -1;
    }
    ASSERT(d != NULL);
    lgw__node_free(d);
    /* a dump that succeeded under a budget is the full one */
    budget = k + 5;
    {
      char *again = NULL;
      size_t len;
      d = lgw__runtime_dump(rt, with_keys);
      budget = -1;
      ASSERT(d != NULL);
      ASSERT_EQ(lgw__yaml_dump(d, &again, &len, &err), 0);
      ASSERT_STREQ(again, full);
      lgw_free(again);
      lgw__node_free(d);
    }
    lgw_free(full);
  }
  lgw_runtime_free(rt);
}

static const char *no_env(const char *name, void *ud) {
  (void)name;
  (void)ud;
  return NULL;
}

TEST(paths_and_urls_return_null) {
  long k;
  char *p = NULL;
  for (k = 0; k < 1000 && !p; k++) {
    budget = k;
    p = lgw__resolve_provider_state_file("/tmp/./x/../state.json", no_env,
                                         NULL);
    budget = -1;
  }
  ASSERT_STREQ(p, "/tmp/state.json");
  lgw_free(p);
  p = NULL;
  for (k = 0; k < 1000 && !p; k++) {
    budget = k;
    p = lgw__url_redact("https://u:p@h/x?a=1&b#f");
    budget = -1;
  }
  ASSERT_STREQ(p, "https://<redacted>@h/x?a=<redacted>&<redacted>#<redacted>");
  lgw_free(p);
  p = NULL;
  for (k = 0; k < 1000 && !p; k++) {
    budget = k;
    p = lgw__redis_url_redact("redis://u:p@h");
    budget = -1;
  }
  ASSERT_STREQ(p, "redis://u:<redacted>@h");
  lgw_free(p);
}

int main(void) {
  lgw_set_allocator(t_malloc, t_realloc, free);
  lgw_set_log(quiet, NULL, LGW_LOG_DEBUG);
  RUN(load_fails_cleanly_at_every_allocation);
  RUN(dump_is_whole_or_null);
  RUN(paths_and_urls_return_null);
  return TEST_SUMMARY();
}
