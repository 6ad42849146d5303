/*
 * test.h -- the C test harness: TEST() functions, typed assertions that
 * print both operands and the location, and a summary line the runner
 * (tests/run.sh) reads: "RESULT <passed> <failed>".
 *
 *   TEST(env_unset) { ASSERT_STREQ(got, "x"); }
 *   int main(void) { RUN(env_unset); return TEST_SUMMARY(); }
 */
#ifndef LGW_TEST_H
#define LGW_TEST_H

#include <math.h>
#include <stdio.h>
#include <string.h>

static int test__passed, test__failed, test__cur_failed;
static const char *test__cur;

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
  (printf("RESULT %d %d\n", test__passed, test__failed), fflush(stdout), \
   test__failed ? 1 : 0)

#endif
