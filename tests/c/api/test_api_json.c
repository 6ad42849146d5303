/*
 * test_api_json.c -- the public JSON functions: strict parsing into a
 * value tree (integers, numbers, strings with NUL, nesting), extraction
 * from prose, the error message, encoding, quoting and numbers.
 */
#include "llmgateway.h"
#include "test.h"

TEST(parse) {
  const char *t = "{\"a\": [1, 2.5, \"x\\u0000y\", true, null], \"b\": {}, "
                  "\"c\": 9007199254740993}";
  lgw_value_t *v = NULL, *a;
  lgw_error_t err;
  size_t len;
  memset(&err, 0, sizeof err);
  ASSERT_EQ(lgw_json_parse(t, strlen(t), &v, &err), 0);
  ASSERT_EQ(lgw_value_type(v), LGW_VALUE_OBJECT);
  ASSERT_EQ(lgw_value_count(v), 3);
  a = lgw_value_at(v, 0);
  ASSERT_EQ(lgw_value_type(lgw_value_at(a, 0)), LGW_VALUE_INT);
  ASSERT_EQ(lgw_value_get_int(lgw_value_at(a, 0)), 1);
  ASSERT_EQ(lgw_value_type(lgw_value_at(a, 1)), LGW_VALUE_NUMBER);
  ASSERT_DEQ(lgw_value_get_number(lgw_value_at(a, 1)), 2.5);
  ASSERT(memcmp(lgw_value_get_string(lgw_value_at(a, 2), &len), "x\0y", 4)
         == 0);
  ASSERT_EQ(len, 3);
  ASSERT_EQ(lgw_value_get_bool(lgw_value_at(a, 3)), 1);
  ASSERT_EQ(lgw_value_type(lgw_value_at(a, 4)), LGW_VALUE_NULL);
  ASSERT_EQ(lgw_value_type(lgw_value_get(v, "b")), LGW_VALUE_OBJECT);
  /* 2^53 + 1 is not exact as a double: a NUMBER */
  ASSERT_EQ(lgw_value_type(lgw_value_get(v, "c")), LGW_VALUE_NUMBER);
  lgw_value_free(v);
}

TEST(parse_errors) {
  lgw_value_t *v = (lgw_value_t *)1;
  lgw_error_t err;
  memset(&err, 0, sizeof err);
  ASSERT_EQ(lgw_json_parse("", 0, &v, &err), LGW_EJSON);
  ASSERT(v == NULL);
  ASSERT_STREQ(err.message, "JSON parse error: Expecting value: line 1 "
               "column 1 (char 0)");
  ASSERT_EQ(lgw_json_parse("[1] x", 5, &v, &err), LGW_EJSON);
  ASSERT_STREQ(err.message, "JSON parse error: Extra data: line 1 column 5 "
               "(char 4)");
}

TEST(extract) {
  const char *t = "Sure! Here it is:\n```json\n{\"ok\": [1]}\n```\nBye.";
  lgw_value_t *v = NULL;
  lgw_error_t err;
  memset(&err, 0, sizeof err);
  ASSERT_EQ(lgw_json_extract(t, strlen(t), &v, &err), 0);
  ASSERT_EQ(lgw_value_get_int(lgw_value_at(lgw_value_get(v, "ok"), 0)), 1);
  lgw_value_free(v);
  t = "The answer is {\"n\": 2} as asked";
  ASSERT_EQ(lgw_json_extract(t, strlen(t), &v, &err), 0);
  ASSERT_EQ(lgw_value_get_int(lgw_value_get(v, "n")), 2);
  lgw_value_free(v);
  ASSERT_EQ(lgw_json_extract("no json", 7, &v, &err), LGW_EJSON);
  ASSERT(v == NULL);
}

TEST(encode) {
  const char *t = "{\"b\":[1,0.1,1e+16,\"q\\\"\\n\",false,null],\"a\":{},"
                  "\"c\":[]}";
  lgw_value_t *v = NULL, *o;
  lgw_error_t err;
  char *out = NULL;
  size_t len = 0;
  memset(&err, 0, sizeof err);
  ASSERT_EQ(lgw_json_parse(t, strlen(t), &v, &err), 0);
  ASSERT_EQ(lgw_json_encode(v, &out, &len, &err), 0);
  ASSERT_STREQ(out, "{\"b\":[1,0.1,1e+16,\"q\\\"\\n\",false,null],"
               "\"a\":{},\"c\":[]}");
  ASSERT_EQ(len, strlen(out));
  lgw_free(out);
  lgw_value_free(v);
  o = lgw_value_object();
  lgw_value_set(o, "x", 1, lgw_value_number(1.0));
  lgw_value_set(o, "y", 1, lgw_value_number(1.0 / 0.0));
  ASSERT_EQ(lgw_json_encode(o, &out, NULL, &err), LGW_EINVAL);
  ASSERT(out == NULL);
  lgw_value_free(o);
}

TEST(quote_and_number) {
  char num[32];
  size_t len;
  char *q = lgw_json_quote("a\"\\\x01\xc3\xa9\xff", 7, &len);
  ASSERT_STREQ(q, "\"a\\\"\\\\\\u0001\xc3\xa9\xef\xbf\xbd\"");
  ASSERT_EQ(len, strlen(q));
  lgw_free(q);
  ASSERT_EQ(lgw_json_number(1.0, num), 0);
  ASSERT_STREQ(num, "1.0");
  ASSERT_EQ(lgw_json_number(0.1 + 0.2, num), 0);
  ASSERT_STREQ(num, "0.30000000000000004");
  ASSERT_EQ(lgw_json_number(1e300, num), 0);
  ASSERT_STREQ(num, "1e+300");
  ASSERT_EQ(lgw_json_number(0.0 / 0.0, num), LGW_EINVAL);
  ASSERT_STREQ(num, "");
}

int main(void) {
  RUN(parse);
  RUN(parse_errors);
  RUN(extract);
  RUN(encode);
  RUN(quote_and_number);
  return TEST_SUMMARY();
}
