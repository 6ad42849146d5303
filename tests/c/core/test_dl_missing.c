/*
 * test_dl_missing.c -- libyaml and hiredis are opened at their first use
 * (src/core/yaml_dl.c, src/redis/hiredis_dl.c): when the library cannot
 * be loaded, reading or writing YAML and connecting to Redis fail with
 * LGW_EIO and a message naming the library and what needed it, every
 * time, and nothing else breaks. The loaders are compiled here with a
 * soname that does not exist (their definitions take the place of the
 * library archive's).
 */
#define LGW_YAML_SONAME "liblgw-test-no-yaml.so.9"
#define LGW_HIREDIS_SONAME "liblgw-test-no-hiredis.so.9"
#include "../../../src/core/yaml_dl.c"
#include "../../../src/redis/hiredis_dl.c"

#include <string.h>
#include <uv.h>

#include "node.h"
#include "redis.h"
#include "redis_url.h"
#include "test.h"
#include "yaml_load.h"

TEST(yaml_missing) {
  lgw__node_t *n = NULL;
  char *out = NULL;
  size_t len = 1;
  lgw_error_t err;
  int i;
  for (i = 0; i < 2; i++) {  /* the same answer the second time */
    memset(&err, 0, sizeof err);
    ASSERT_EQ(lgw__yaml_load_string("a: 1\n", 5, "t.yaml", &n, &err),
              LGW_EIO);
    ASSERT(n == NULL);
    ASSERT_EQ(err.code, LGW_EIO);
    ASSERT_CONTAINS(err.message, "cannot load libyaml "
                                 "(liblgw-test-no-yaml.so.9), needed for "
                                 "YAML: ");
  }
  ASSERT_EQ(lgw__yaml_dump(NULL, &out, &len, &err), LGW_EIO);
  ASSERT(out == NULL);
  ASSERT_EQ(len, 0);
  ASSERT_CONTAINS(err.message, "liblgw-test-no-yaml.so.9");
}

TEST(hiredis_missing) {
#if !LGW_HIREDIS_DL
  return;  /* hiredis 1.x is linked (the Makefile's HIREDIS_DL) */
#endif
  uv_loop_t loop;
  lgw__redis_url_t u;
  lgw__redis_t *r = (lgw__redis_t *)&loop;
  lgw_error_t err;
  char msg[128];
  memset(&err, 0, sizeof err);
  ASSERT_EQ(uv_loop_init(&loop), 0);
  ASSERT_EQ(lgw__redis_url_parse("redis://127.0.0.1:9/0", &u, msg,
                                 sizeof msg), 0);
  ASSERT_EQ(lgw__redis_new(&loop, &u, NULL, &r, &err), LGW_EIO);
  ASSERT(r == NULL);
  ASSERT_CONTAINS(err.message, "cannot load hiredis "
                               "(liblgw-test-no-hiredis.so.9), needed for "
                               "Redis: ");
  ASSERT_EQ(uv_run(&loop, UV_RUN_NOWAIT), 0);  /* nothing left open */
  ASSERT_EQ(uv_loop_close(&loop), 0);
}

int main(void) {
  RUN(yaml_missing);
  RUN(hiredis_missing);
  return TEST_SUMMARY();
}
