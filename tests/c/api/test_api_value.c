/*
 * test_api_value.c -- the public value tree (llmgateway.h): builders,
 * getters on every type, getters on the wrong type, repeated keys, copies,
 * and ownership of items when appending fails.
 */
#include "llmgateway.h"
#include "test.h"

TEST(scalars) {
  lgw_value_t *n = lgw_value_null(), *b = lgw_value_bool(7);
  lgw_value_t *i = lgw_value_int(-42), *d = lgw_value_number(2.5);
  lgw_value_t *s = lgw_value_string("a\0b", 3);
  size_t len = 99;
  ASSERT_EQ(lgw_value_type(n), LGW_VALUE_NULL);
  ASSERT_EQ(lgw_value_type(b), LGW_VALUE_BOOL);
  ASSERT_EQ(lgw_value_get_bool(b), 1);
  ASSERT_EQ(lgw_value_type(i), LGW_VALUE_INT);
  ASSERT_EQ(lgw_value_get_int(i), -42);
  ASSERT_DEQ(lgw_value_get_number(i), -42.0);
  ASSERT_EQ(lgw_value_type(d), LGW_VALUE_NUMBER);
  ASSERT_DEQ(lgw_value_get_number(d), 2.5);
  ASSERT_EQ(lgw_value_get_int(d), 2);
  ASSERT_EQ(lgw_value_type(s), LGW_VALUE_STRING);
  ASSERT(memcmp(lgw_value_get_string(s, &len), "a\0b", 4) == 0);
  ASSERT_EQ(len, 3);
  /* the wrong type gives zero values */
  ASSERT(lgw_value_get_string(i, &len) == NULL);
  ASSERT_EQ(len, 0);
  ASSERT_EQ(lgw_value_get_bool(s), 0);
  ASSERT_EQ(lgw_value_get_int(s), 0);
  ASSERT_EQ(lgw_value_count(s), 0);
  ASSERT(lgw_value_at(s, 0) == NULL);
  ASSERT(lgw_value_key_at(s, 0, NULL) == NULL);
  ASSERT_EQ(lgw_value_type(NULL), LGW_VALUE_NULL);
  ASSERT_STREQ(lgw_value_type_name(LGW_VALUE_OBJECT), "mapping");
  ASSERT_STREQ(lgw_value_type_name(LGW_VALUE_ARRAY), "list");
  ASSERT_STREQ(lgw_value_type_name(LGW_VALUE_NUMBER), "number");
  ASSERT_STREQ(lgw_value_type_name(LGW_VALUE_INT), "integer");
  lgw_value_free(n);
  lgw_value_free(b);
  lgw_value_free(i);
  lgw_value_free(d);
  lgw_value_free(s);
}

TEST(arrays_and_objects) {
  lgw_value_t *o = lgw_value_object(), *a = lgw_value_array(), *c;
  size_t klen;
  ASSERT_EQ(lgw_value_append(a, lgw_value_int(1)), 0);
  ASSERT_EQ(lgw_value_append(a, lgw_value_string("two", 3)), 0);
  ASSERT_EQ(lgw_value_set(o, "list", 4, a), 0);
  ASSERT_EQ(lgw_value_set(o, "k", 1, lgw_value_int(1)), 0);
  ASSERT_EQ(lgw_value_set(o, "k", 1, lgw_value_int(2)), 0);
  ASSERT_EQ(lgw_value_count(o), 3);
  ASSERT_STREQ(lgw_value_key_at(o, 0, &klen), "list");
  ASSERT_EQ(klen, 4);
  ASSERT_EQ(lgw_value_type(lgw_value_key_value(o, 1)), LGW_VALUE_STRING);
  ASSERT_EQ(lgw_value_get_int(lgw_value_get(o, "k")), 2);  /* last wins */
  ASSERT(lgw_value_get(o, "missing") == NULL);
  ASSERT_EQ(lgw_value_count(lgw_value_get(o, "list")), 2);
  ASSERT_STREQ(lgw_value_get_string(lgw_value_at(a, 1), NULL), "two");
  ASSERT(lgw_value_at(a, 2) == NULL);
  /* wrong container: the item is released, LGW_EINVAL */
  ASSERT_EQ(lgw_value_append(o, lgw_value_int(3)), LGW_EINVAL);
  ASSERT_EQ(lgw_value_set(a, "x", 1, lgw_value_int(3)), LGW_EINVAL);
  ASSERT_EQ(lgw_value_append(a, NULL), LGW_ENOMEM);
  c = lgw_value_copy(o);
  lgw_value_free(o);
  ASSERT_EQ(lgw_value_count(c), 3);
  ASSERT_EQ(lgw_value_get_int(lgw_value_at(lgw_value_get(c, "list"), 0)), 1);
  lgw_value_free(c);
  lgw_value_free(NULL);
}

TEST(error_set) {
  lgw_error_t err;
  memset(&err, 0, sizeof err);
  err.http_status = 500;
  ASSERT_EQ(lgw_error_set(&err, LGW_EIO, "bad %s %d", "file", 3), LGW_EIO);
  ASSERT_EQ(err.code, LGW_EIO);
  ASSERT_STREQ(err.message, "bad file 3");
  ASSERT_EQ(err.http_status, 500);
  ASSERT_EQ(lgw_error_set(NULL, LGW_EINVAL, "x"), LGW_EINVAL);
}

static char logged[256];
static void log_to(lgw_log_level_t level, const char *msg, void *ud) {
  (void)ud;
  snprintf(logged, sizeof logged, "%d %s", (int)level, msg);
}

TEST(log_hook) {
  lgw_set_log(log_to, NULL, LGW_LOG_INFO);
  lgw_log(LGW_LOG_INFO, "n=%d", 5);
  ASSERT_STREQ(logged, "2 n=5");
  logged[0] = '\0';
  lgw_log(LGW_LOG_DEBUG, "filtered");
  ASSERT_STREQ(logged, "");
  lgw_set_log(NULL, NULL, LGW_LOG_WARN);
}

int main(void) {
  RUN(scalars);
  RUN(arrays_and_objects);
  RUN(error_set);
  RUN(log_hook);
  return TEST_SUMMARY();
}
