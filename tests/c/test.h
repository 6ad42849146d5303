/*
 * test.h -- the C test harness: TEST() functions, typed assertions that
 * print both operands and the location, and a summary line the runner
 * (tests/run.sh) reads: "RESULT <passed> <failed> <skipped>". The exit
 * status is 0 only when nothing failed; the runner counts any other exit
 * status as a failure, even after a RESULT line.
 *
 *   TEST(env_unset) { ASSERT_STREQ(got, "x"); }
 *   int main(void) { RUN(env_unset); return TEST_SUMMARY(); }
 *
 * A test program that needs an outside tool calls SKIP_REST("why") when
 * the tool is not installed (the following RUN()s count as skipped) or
 * FAIL_REST("why") when it is installed but cannot be used (they count as
 * failed).
 */
#ifndef LGW_TEST_H
#define LGW_TEST_H

#include <math.h>
#include <stdlib.h>
#include <stdio.h>
#include <string.h>

static int test__passed, test__failed, test__skipped, test__cur_failed;
static const char *test__cur;
static const char *test__rest_why; /* set: RUN() does not run the test */
static int test__rest_skip;         /* ... and counts it as skipped */

#define SKIP_REST(why) (test__rest_skip = 1, test__rest_why = (why))
#define FAIL_REST(why) (test__rest_skip = 0, test__rest_why = (why))

#define TEST(name) static void name(void)

#define TEST__FAIL(...)                                              \
  do {                                                               \
    fprintf(stderr, "  %s:%d: %s: ", __FILE__, __LINE__, test__cur); \
    fprintf(stderr, __VA_ARGS__);                                    \
    fprintf(stderr, "\n");                                           \
    test__cur_failed = 1;                                            \
    return;                                                          \
  } while (0)

#define ASSERT(c) \
  do { if (!(c)) TEST__FAIL("assertion failed: %s", #c); } while (0)
#define ASSERT_EQ(a, b)                                                   \
  do {                                                                    \
    long long a_ = (long long)(a), b_ = (long long)(b);                   \
    if (a_ != b_) TEST__FAIL("%s == %s: %lld != %lld", #a, #b, a_, b_);   \
  } while (0)
#define ASSERT_DEQ(a, b)                                                  \
  do {                                                                    \
    double a_ = (a), b_ = (b);                                            \
    if (!(fabs(a_ - b_) < 1e-9))                                          \
      TEST__FAIL("%s == %s: %.17g != %.17g", #a, #b, a_, b_);             \
  } while (0)
#define ASSERT_STREQ(a, b)                                                \
  do {                                                                    \
    const char *a_ = (a), *b_ = (b);                                      \
    if (!a_ || !b_ || strcmp(a_, b_) != 0)                                \
      TEST__FAIL("%s == %s:\n    got:      \"%s\"\n    expected: \"%s\"", \
                 #a, #b, a_ ? a_ : "(null)", b_ ? b_ : "(null)");         \
  } while (0)
#define ASSERT_CONTAINS(hay, needle)                                      \
  do {                                                                    \
    const char *h_ = (hay), *n_ = (needle);                               \
    if (!h_ || !strstr(h_, n_))                                           \
      TEST__FAIL("\"%s\" does not contain \"%s\"", h_ ? h_ : "(null)", n_);\
  } while (0)
#define ASSERT_NOT_CONTAINS(hay, needle)                                  \
  do {                                                                    \
    const char *h_ = (hay), *n_ = (needle);                               \
    if (h_ && strstr(h_, n_))                                             \
      TEST__FAIL("\"%s\" contains \"%s\"", h_, n_);                       \
  } while (0)

#define RUN(fn)                                                  \
  do {                                                           \
    test__cur = #fn;                                             \
    test__cur_failed = 0;                                        \
    if (test__rest_why && test__rest_skip) {                     \
      test__skipped++;                                           \
      break;                                                     \
    }                                                            \
    if (test__rest_why) {                                        \
      test__failed++;                                            \
      fprintf(stderr, "not ok - %s: %s\n", #fn, test__rest_why);  \
      break;                                                     \
    }                                                            \
    fn();                                                        \
    if (test__cur_failed) {                                      \
      test__failed++;                                            \
      fprintf(stderr, "not ok - %s\n", #fn);                     \
    } else {                                                     \
      test__passed++;                                            \
      if (getenv("TEST_VERBOSE")) fprintf(stderr, "ok - %s\n", #fn); \
    }                                                            \
  } while (0)

#define TEST_SUMMARY()                                                 \
  (test__rest_why && test__rest_skip                                    \
       ? fprintf(stderr, "%d skipped: %s\n", test__skipped, test__rest_why) \
       : 0,                                                              \
   printf("RESULT %d %d %d\n", test__passed, test__failed, test__skipped), \
   fflush(stdout), test__failed ? 1 : 0)

#endif
