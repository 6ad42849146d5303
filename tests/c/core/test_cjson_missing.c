/*
 * test_cjson_missing.c -- libcjson is opened at its first use
 * (src/core/cjson_dl.c): when it cannot be loaded, parsing JSON, a
 * configuration with extra_body and a gateway fail with LGW_EIO and a
 * message naming the library, every time (never "invalid JSON" or "out
 * of memory"), and what needs no cJSON still works: a configuration
 * without extra_body (loaded and freed), writing JSON, the allocator.
 * The loader is compiled here with a soname that does not exist (its
 * definitions take the place of the library archive's).
 */
#define LGW_CJSON_SONAME "liblgw-test-no-cjson.so.9"
#include "../../../src/core/cjson_dl.c"

#include <stdlib.h>
#include <string.h>

#include "llmgateway.h"
#include "test.h"

#define WHY "cannot load libcjson (liblgw-test-no-cjson.so.9), needed for " \
            "JSON: "

#define YAML(extra)                                                       \
  "providers:\n"                                                          \
  "  - provider_type: openai\n"                                           \
  "    api_style: openai_chat\n"                                          \
  "    base_url: http://127.0.0.1:9/v1\n"                                 \
  "    api_key: sk-1\n" extra

TEST(json_missing) {
  lgw_value_t *v = (lgw_value_t *)1;
  lgw_error_t err;
  int i;
  for (i = 0; i < 2; i++) {  /* the same answer the second time */
    memset(&err, 0, sizeof err);
    ASSERT_EQ(lgw_json_parse("{\"a\":1}", 7, &v, &err), LGW_EIO);
    ASSERT(v == NULL);
    ASSERT_EQ(err.code, LGW_EIO);
    ASSERT_CONTAINS(err.message, WHY);
    v = (lgw_value_t *)1;
    memset(&err, 0, sizeof err);
    ASSERT_EQ(lgw_json_extract("x {\"a\":1}", 9, &v, &err), LGW_EIO);
    ASSERT(v == NULL);
    ASSERT_CONTAINS(err.message, WHY);
  }
}

TEST(no_cjson_needed) {
  lgw_value_t *v = lgw_value_string("a\"b", 3);
  char *out = NULL;
  size_t len = 0;
  lgw_error_t err;
  char num[32];
  ASSERT_EQ(lgw_set_allocator(malloc, realloc, free), 0);
  ASSERT(v != NULL);
  ASSERT_EQ(lgw_json_encode(v, &out, &len, &err), 0);
  ASSERT_STREQ(out, "\"a\\\"b\"");
  lgw_free(out);
  lgw_value_free(v);
  ASSERT_EQ(lgw_json_number(0.5, num), 0);
  ASSERT_STREQ(num, "0.5");
}

TEST(config_and_gateway_missing) {
  static const char plain[] = YAML("");
  static const char extra[] = YAML("    extra_body: {seed: 1}\n");
  lgw_runtime_t *rt = NULL;
  lgw_gateway_t *gw = (lgw_gateway_t *)1;
  lgw_error_t err;
  memset(&err, 0, sizeof err);
  ASSERT_EQ(lgw_runtime_load_string(extra, strlen(extra), "x.yaml", &rt,
                                    &err),
            LGW_EIO);
  ASSERT(rt == NULL);
  ASSERT_CONTAINS(err.message, WHY);
  memset(&err, 0, sizeof err);
  ASSERT_EQ(lgw_runtime_load_string(plain, strlen(plain), "p.yaml", &rt,
                                    &err),
            0);
  ASSERT(rt != NULL);
  memset(&err, 0, sizeof err);
  ASSERT_EQ(lgw_gateway_new(rt, NULL, &gw, &err), LGW_EIO);
  ASSERT(gw == NULL);
  ASSERT_CONTAINS(err.message, WHY);
  lgw_runtime_free(rt);
}

int main(void) {
  RUN(json_missing);
  RUN(no_cjson_needed);
  RUN(config_and_gateway_missing);
  return TEST_SUMMARY();
}
