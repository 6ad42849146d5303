/*
 * test_json_extract.c -- the strict JSON parser (Python's messages and
 * positions) and the extractor (plain, fenced, embedded in prose).
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "json_extract.h"
#include "test.h"
#include "util.h"

/* Parse or extract text; returns the compact JSON of the result or the
 * error message, in a static buffer. */
static const char *run(int extract, const char *text, size_t len, int *rc) {
  static char res[1100];
  lgw_error_t err;
  cJSON *v = (cJSON *)&res; /* must be reset by the call */
  memset(&err, 0, sizeof err);
  *rc = extract ? lgw__json_extract(text, len, &v, &err)
                : lgw__json_parse_strict(text, len, &v, &err);
  if (*rc) {
    snprintf(res, sizeof res, "%s%s", v ? "(out not NULL) " : "",
             err.message);
  } else {
    char *p = cJSON_PrintUnformatted(v);
    snprintf(res, sizeof res, "%s", p ? p : "(print failed)");
    cJSON_free(p);
    cJSON_Delete(v);
  }
  return res;
}

#define EXTRACT_OK(text, want)                                   \
  do {                                                           \
    int rc_;                                                     \
    const char *got_ = run(1, text, strlen(text), &rc_);         \
    ASSERT_STREQ(got_, want);                                    \
    ASSERT_EQ(rc_, 0);                                           \
  } while (0)
#define EXTRACT_ERR(text, want)                                  \
  do {                                                           \
    int rc_;                                                     \
    const char *got_ = run(1, text, strlen(text), &rc_);         \
    ASSERT_STREQ(got_, want);                                    \
    ASSERT_EQ(rc_, LGW_EJSON);                                   \
  } while (0)
#define STRICT_OK(text, want)                                    \
  do {                                                           \
    int rc_;                                                     \
    const char *got_ = run(0, text, strlen(text), &rc_);         \
    ASSERT_STREQ(got_, want);                                    \
    ASSERT_EQ(rc_, 0);                                           \
  } while (0)
#define STRICT_ERR(text, want)                                   \
  do {                                                           \
    int rc_;                                                     \
    const char *got_ = run(0, text, strlen(text), &rc_);         \
    ASSERT_STREQ(got_, "JSON parse error: " want);               \
    ASSERT_EQ(rc_, LGW_EJSON);                                   \
  } while (0)

/* ---- seed-behavior §8 table, row by row --------------------------------- */

TEST(s8_fenced_json) { EXTRACT_OK("```json\n{\"a\":1}\n```", "{\"a\":1}"); }
TEST(s8_surrounding_spaces) { EXTRACT_OK("  {\"a\":1}  ", "{\"a\":1}"); }
/* Deliberate difference: Python fails ("Expecting value ... (char 0)"); we
 * extract the object embedded in prose. */
TEST(s8_prose_prefix) { EXTRACT_OK("Here: {\"a\":1}", "{\"a\":1}"); }
/* Deliberate difference: Python fails ("Extra data: line 2 column 1
 * (char 6)"); we take the fenced value and ignore text after the fence. */
TEST(s8_text_after_fence) {
  EXTRACT_OK("```\n[1,2]\n```\ntrailing", "[1,2]");
}
/* Deliberate difference: Python fails with "Extra data"; we extract the
 * leading object. */
TEST(s8_extra_data) { EXTRACT_OK("{\"a\":1} extra", "{\"a\":1}"); }
TEST(s8_number) { EXTRACT_OK("42", "42"); }
TEST(s8_string) { EXTRACT_OK("\"s\"", "\"s\""); }
/* Python returns None, indistinguishable from failure; we return a null
 * node and success. */
TEST(s8_null) {
  cJSON *v = NULL;
  lgw_error_t err;
  ASSERT_EQ(lgw__json_extract("null", 4, &v, &err), 0);
  ASSERT(v != NULL);
  ASSERT(cJSON_IsNull(v));
  cJSON_Delete(v);
}
TEST(s8_nan) {
  cJSON *v = NULL;
  ASSERT_EQ(lgw__json_extract("NaN", 3, &v, NULL), 0);
  ASSERT(cJSON_IsNumber(v));
  ASSERT(isnan(v->valuedouble));
  cJSON_Delete(v);
}
/* An escaped NUL stays in the string; its length says where it ends. */
TEST(escaped_nul_kept) {
  static const char text[] = "[\"he\\u0000llo\", \"x\\n\\u0000\", \"\"]";
  cJSON *v = NULL;
  ASSERT_EQ(lgw__json_parse_strict(text, sizeof text - 1, &v, NULL), 0);
  ASSERT_EQ(lgw__json_strlen(cJSON_GetArrayItem(v, 0)), 6);
  ASSERT(memcmp(cJSON_GetArrayItem(v, 0)->valuestring, "he\0llo", 7) == 0);
  ASSERT_EQ(lgw__json_strlen(cJSON_GetArrayItem(v, 1)), 3);
  ASSERT(memcmp(cJSON_GetArrayItem(v, 1)->valuestring, "x\n\0", 4) == 0);
  ASSERT_EQ(lgw__json_strlen(cJSON_GetArrayItem(v, 2)), 0);
  cJSON_Delete(v);
}
TEST(s8_duplicate_keys) { EXTRACT_OK("{\"a\":1,\"a\":2}", "{\"a\":2}"); }
TEST(s8_raw_newline_in_string) {
  EXTRACT_ERR("{\"a\":\"x\ny\"}",
              "JSON parse error: Invalid control character at: "
              "line 1 column 8 (char 7)");
}
TEST(s8_empty) {
  EXTRACT_ERR("", "JSON parse error: Expecting value: line 1 column 1 "
                  "(char 0)");
}
/* Deliberate difference: Python removes the whole line and fails with
 * "Expecting value"; we find the object on the line. */
TEST(s8_one_line_fence) { EXTRACT_OK("``` {\"a\":1}", "{\"a\":1}"); }
TEST(s8_inner_fence_lines_dropped) {
  EXTRACT_OK("```json\n{\"a\":\n```\n1}\n```", "{\"a\":1}");
}

/* ---- extraction beyond Python ------------------------------------------- */

TEST(fence_not_at_start) {
  EXTRACT_OK("Sure! Here it is:\n```json\n{\"k\": [1, 2]}\n```\nDone.",
             "{\"k\":[1,2]}");
}
TEST(fence_first_parsing_block_wins) {
  EXTRACT_OK("a\n```json\nnot json\n```\nb\n```\n{\"n\":2}\n```\n",
             "{\"n\":2}");
}
TEST(fence_other_language_skipped) {
  EXTRACT_OK("x\n```python\nprint(1)\n```\n```JSON\n[true]\n```", "[true]");
}
TEST(fence_unclosed_runs_to_end) {
  EXTRACT_OK("Result:\n```json\n{\"a\": null}\n", "{\"a\":null}");
}
TEST(fence_crlf) { EXTRACT_OK("x\r\n```json\r\n[1]\r\n```\r\n", "[1]"); }
TEST(prose_braces_in_strings) {
  EXTRACT_OK("The answer is {\"t\": \"a } ] \\\" {\"} ok.", "{\"t\":\"a } ] \\\" {\"}");
}
TEST(prose_skips_unparsable_span) {
  EXTRACT_OK("[note] then {\"a\":[1]} and [2]", "{\"a\":[1]}");
}
TEST(prose_nested_inside_broken) {
  EXTRACT_OK("{ broken {\"a\":1} }", "{\"a\":1}");
}
TEST(prose_array) { EXTRACT_OK("values: [1, 2, 3].", "[1,2,3]"); }
TEST(nothing_found_reports_first_error) {
  EXTRACT_ERR("no json here", "JSON parse error: Expecting value: line 1 "
                              "column 1 (char 0)");
  EXTRACT_ERR("Hello {not json}", "JSON parse error: Expecting value: "
                                  "line 1 column 1 (char 0)");
}
TEST(leading_fence_failure_reports_python_error) {
  EXTRACT_ERR("```json\n{\"a\":\n```", "JSON parse error: Expecting value: "
                                       "line 1 column 6 (char 5)");
}
TEST(strip_unicode_whitespace) {
  /* NBSP and U+3000 around the value are stripped like Python's strip() */
  EXTRACT_OK("\xc2\xa0\xe3\x80\x80{\"a\":1}\xe2\x80\xa8", "{\"a\":1}");
}
TEST(scalar_after_prose_not_extracted) {
  EXTRACT_ERR("The answer is 42",
              "JSON parse error: Expecting value: line 1 column 1 (char 0)");
}
TEST(out_null_on_failure) {
  cJSON *v = (cJSON *)&v;
  ASSERT_EQ(lgw__json_extract("nope", 4, &v, NULL), LGW_EJSON);
  ASSERT(v == NULL);
}
/* Valgrind runs the speed checks 20-50 times slower. */
static int under_valgrind(void) {
  const char *p = getenv("LD_PRELOAD");
  return p && strstr(p, "vgpreload") != NULL;
}

TEST(prose_unbalanced_is_linear) {
  size_t n = 2000000, i;
  char *s = malloc(n + 1);
  cJSON *v = NULL;
  double t0 = lgw__now_ms(), ms;
  int rc;
  ASSERT(s != NULL);
  for (i = 0; i < n; i++) s[i] = (i % 3) ? '[' : '{';
  s[n] = '\0';
  rc = lgw__json_extract(s, n, &v, NULL);
  ms = lgw__now_ms() - t0;
  free(s);
  ASSERT_EQ(rc, LGW_EJSON);
  ASSERT(ms < (under_valgrind() ? 60000 : 5000));  /* quadratic: hours */
}

/* ---- strict parser: Python's messages and positions ---------------------- */

TEST(strict_errors) {
  STRICT_ERR("Here: {\"a\":1}", "Expecting value: line 1 column 1 (char 0)");
  STRICT_ERR("{\"a\":1} extra", "Extra data: line 1 column 9 (char 8)");
  STRICT_ERR("{\"a\":1,}", "Expecting property name enclosed in double "
                           "quotes: line 1 column 8 (char 7)");
  STRICT_ERR("{1:2}", "Expecting property name enclosed in double quotes: "
                      "line 1 column 2 (char 1)");
  STRICT_ERR("[1,2", "Expecting ',' delimiter: line 1 column 5 (char 4)");
  STRICT_ERR("[1 2]", "Expecting ',' delimiter: line 1 column 4 (char 3)");
  STRICT_ERR("{\"a\" 1}", "Expecting ':' delimiter: line 1 column 6 (char 5)");
  STRICT_ERR("\"abc", "Unterminated string starting at: line 1 column 1 "
                      "(char 0)");
  STRICT_ERR("\"a\\x\"", "Invalid \\escape: line 1 column 3 (char 2)");
  STRICT_ERR("\"\\u12\"", "Invalid \\uXXXX escape: line 1 column 3 (char 2)");
  STRICT_ERR("\"\\u12G4\"", "Invalid \\uXXXX escape: line 1 column 3 "
                            "(char 2)");
  STRICT_ERR("{\"a\":", "Expecting value: line 1 column 6 (char 5)");
  STRICT_ERR("[", "Expecting value: line 1 column 2 (char 1)");
  STRICT_ERR("[1,]", "Expecting value: line 1 column 4 (char 3)");
  STRICT_ERR("-", "Expecting value: line 1 column 1 (char 0)");
  STRICT_ERR("1.", "Extra data: line 1 column 2 (char 1)");
  STRICT_ERR("01", "Extra data: line 1 column 2 (char 1)");
  STRICT_ERR("1E", "Extra data: line 1 column 2 (char 1)");
  STRICT_ERR("nul", "Expecting value: line 1 column 1 (char 0)");
  /* positions count code points, not bytes */
  STRICT_ERR("\"\xc3\xa9\n", "Invalid control character at: line 1 column 3 "
                             "(char 2)");
  STRICT_ERR("\n\n  x", "Expecting value: line 3 column 3 (char 4)");
  STRICT_ERR("{\"a\":1}\n\n]", "Extra data: line 3 column 1 (char 9)");
}

TEST(strict_values) {
  STRICT_OK(" \t\r\n{\"a\" : [1, 2.5, -3e2, true, false, null]} \n",
            "{\"a\":[1,2.5,-300,true,false,null]}");
  STRICT_OK("\"\\ud83d\\ude00 \\u00e9 \\/ \\b\\f\\n\\r\\t\"",
            "\"\xf0\x9f\x98\x80 \xc3\xa9 / \\b\\f\\n\\r\\t\"");
  /* a lone surrogate cannot be UTF-8: it becomes U+FFFD */
  STRICT_OK("\"\\ud83d\"", "\"\xef\xbf\xbd\"");
  STRICT_OK("\"\\ud83dx\"", "\"\xef\xbf\xbdx\"");
  STRICT_OK("{}", "{}");
  STRICT_OK("[]", "[]");
  STRICT_OK("{\"b\":1,\"a\":2,\"b\":3}", "{\"b\":3,\"a\":2}");
  STRICT_OK("[[[]],{\"x\":{}}]", "[[[]],{\"x\":{}}]");
}

TEST(strict_duplicate_keys) {
  STRICT_OK("{\"a\":1,\"b\":2,\"b\":3}", "{\"a\":1,\"b\":3}");
  STRICT_OK("{\"a\":1,\"a\":2,\"a\":[3]}", "{\"a\":[3]}");
  /* the same key in different objects is not a duplicate */
  STRICT_OK("{\"x\":{\"a\":1},\"y\":{\"a\":2},\"a\":{\"a\":3,\"a\":4}}",
            "{\"x\":{\"a\":1},\"y\":{\"a\":2},\"a\":{\"a\":4}}");
}

/* Around the switch from scanning members to the per-object table: a
 * repeated key keeps its first place at every size, also nested. */
TEST(strict_duplicate_keys_across_sizes) {
  lgw__buf_t in, want;
  cJSON *v = NULL;
  char *got;
  int n, i;
  for (n = 14; n <= 40; n += 13) {
    lgw__buf_init(&in);
    lgw__buf_init(&want);
    lgw__buf_adds(&in, "{\"o\":{");
    lgw__buf_adds(&want, "{\"o\":{");
    for (i = 0; i < n; i++) {
      lgw__buf_printf(&in, "%s\"k%d\":%d", i ? "," : "", i, i);
      lgw__buf_printf(&want, "%s\"k%d\":%d", i ? "," : "", i,
                      i == 0 ? 100 : i == n - 3 ? 200 : i);
    }
    lgw__buf_printf(&in, ",\"k0\":{\"k0\":1},\"k%d\":200,\"k0\":100}}",
                    n - 3);
    lgw__buf_adds(&want, "}}");
    ASSERT_EQ(lgw__json_parse_strict(in.data, in.len, &v, NULL), 0);
    got = cJSON_PrintUnformatted(v);
    ASSERT_STREQ(got, want.data);
    cJSON_free(got);
    cJSON_Delete(v);
    lgw__buf_free(&in);
    lgw__buf_free(&want);
  }
}

TEST(strict_large_object_is_fast) {
  lgw__buf_t b;
  cJSON *v = NULL;
  double t0, ms;
  int i, rc, n, k7, klast;
  lgw__buf_init(&b);
  lgw__buf_addc(&b, '{');
  for (i = 0; i < 200000; i++)
    lgw__buf_printf(&b, "%s\"k%d\":%d", i ? "," : "", i % 150000, i);
  lgw__buf_addc(&b, '}');
  t0 = lgw__now_ms();
  rc = lgw__json_parse_strict(b.data, b.len, &v, NULL);
  ms = lgw__now_ms() - t0;
  lgw__buf_free(&b);
  ASSERT_EQ(rc, 0);
  n = cJSON_GetArraySize(v);
  k7 = cJSON_GetObjectItemCaseSensitive(v, "k7")->valueint;
  klast = cJSON_GetObjectItemCaseSensitive(v, "k149999")->valueint;
  cJSON_Delete(v);
  ASSERT_EQ(n, 150000);
  ASSERT_EQ(k7, 150007);
  ASSERT_EQ(klast, 149999);
  /* linear: a tenth of a second; quadratic: minutes */
  ASSERT(ms < (under_valgrind() ? 60000 : 5000));
}

TEST(strict_infinities) {
  cJSON *v = NULL;
  ASSERT_EQ(lgw__json_parse_strict("[Infinity,-Infinity,-5]", 23, &v, NULL),
            0);
  ASSERT(isinf(cJSON_GetArrayItem(v, 0)->valuedouble));
  ASSERT(cJSON_GetArrayItem(v, 0)->valuedouble > 0);
  ASSERT(cJSON_GetArrayItem(v, 1)->valuedouble < 0);
  ASSERT_DEQ(cJSON_GetArrayItem(v, 2)->valuedouble, -5);
  cJSON_Delete(v);
}

TEST(strict_length_bounded) {
  int rc;
  /* only the first len bytes count */
  ASSERT_STREQ(run(0, "[1]garbage", 3, &rc), "[1]");
  ASSERT_EQ(rc, 0);
}

TEST(nesting_limit) {
  size_t n = 100000, i;
  char *s = malloc(2 * n + 1);
  int rc;
  for (i = 0; i < n; i++) s[i] = '[';
  ASSERT_STREQ(run(0, s, n, &rc), "JSON parse error: nesting too deep at: "
                                  "line 1 column 10001 (char 10000)");
  ASSERT_EQ(rc, LGW_EJSON);
  ASSERT_STREQ(run(1, s, n, &rc), "JSON parse error: nesting too deep at: "
                                  "line 1 column 10001 (char 10000)");
  /* exactly 10000 levels parse */
  for (i = 0; i < 10000; i++) s[10000 + i] = ']';
  cJSON *v = NULL;
  ASSERT_EQ(lgw__json_parse_strict(s, 20000, &v, NULL), 0);
  cJSON_Delete(v);
  free(s);
}

int main(void) {
  RUN(escaped_nul_kept);
  RUN(s8_fenced_json);
  RUN(s8_surrounding_spaces);
  RUN(s8_prose_prefix);
  RUN(s8_text_after_fence);
  RUN(s8_extra_data);
  RUN(s8_number);
  RUN(s8_string);
  RUN(s8_null);
  RUN(s8_nan);
  RUN(s8_duplicate_keys);
  RUN(s8_raw_newline_in_string);
  RUN(s8_empty);
  RUN(s8_one_line_fence);
  RUN(s8_inner_fence_lines_dropped);
  RUN(fence_not_at_start);
  RUN(fence_first_parsing_block_wins);
  RUN(fence_other_language_skipped);
  RUN(fence_unclosed_runs_to_end);
  RUN(fence_crlf);
  RUN(prose_braces_in_strings);
  RUN(prose_skips_unparsable_span);
  RUN(prose_nested_inside_broken);
  RUN(prose_array);
  RUN(nothing_found_reports_first_error);
  RUN(leading_fence_failure_reports_python_error);
  RUN(strip_unicode_whitespace);
  RUN(scalar_after_prose_not_extracted);
  RUN(out_null_on_failure);
  RUN(prose_unbalanced_is_linear);
  RUN(strict_errors);
  RUN(strict_values);
  RUN(strict_duplicate_keys);
  RUN(strict_duplicate_keys_across_sizes);
  RUN(strict_large_object_is_fast);
  RUN(strict_infinities);
  RUN(strict_length_bounded);
  RUN(nesting_limit);
  return TEST_SUMMARY();
}
