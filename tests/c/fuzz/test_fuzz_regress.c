/*
 * test_fuzz_regress.c -- replays the inputs kept in tests/fuzz/regress/
 * <target>/ through the same entry code as the fuzzers (tests/fuzz/
 * fuzz_<target>.c): each must run without breaking an invariant and give
 * the outcome written in <input>.expected. The directory can be moved
 * with LGW_FUZZ_REGRESS; with LGW_FUZZ_REGRESS_WRITE=1 missing .expected
 * files are written instead of failing.
 */
#define LGW_FUZZ_NO_MAIN

#include <dirent.h>
#include <stdlib.h>

#include "test.h"
#include "util.h"

#include "../../fuzz/fuzz_config.c"
#include "../../fuzz/fuzz_env.c"
#include "../../fuzz/fuzz_json_extract.c"
#include "../../fuzz/fuzz_retry_after.c"
#include "../../fuzz/fuzz_sse.c"
#include "../../fuzz/fuzz_transport.c"

typedef void (*entry_fn)(const uint8_t *data, size_t size, lgw__buf_t *desc);

/* Whole file into *out (lgw_free); -1 when it cannot be read. */
static int read_all(const char *path, char **out, size_t *len) {
  FILE *f = fopen(path, "rb");
  lgw__buf_t b;
  char chunk[4096];
  size_t n;
  if (!f) return -1;
  lgw__buf_init(&b);
  while ((n = fread(chunk, 1, sizeof chunk, f)) > 0) lgw__buf_add(&b, chunk, n);
  fclose(f);
  *len = b.len;
  *out = lgw__buf_steal(&b);
  return *out ? 0 : -1;
}

static int is_expected_file(const char *name) {
  size_t n = strlen(name);
  return n >= 9 && strcmp(name + n - 9, ".expected") == 0;
}

static int by_name(const void *a, const void *b) {
  return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Number of inputs replayed, or -1 after reporting a mismatch. */
static int replay(const char *target, entry_fn entry) {
  const char *root = getenv("LGW_FUZZ_REGRESS");
  char *dir = lgw__sprintf("%s/%s", root ? root : "tests/fuzz/regress",
                           target);
  DIR *d = opendir(dir);
  struct dirent *e;
  char **names = NULL;
  size_t n = 0, i;
  int count = 0;
  if (!d) {
    lgw_free(dir);
    return 0;
  }
  while ((e = readdir(d)) != NULL) {
    if (e->d_name[0] == '.' || is_expected_file(e->d_name)) continue;
    char **grown = realloc(names, (n + 1) * sizeof *names);
    if (!grown) break;
    names = grown;
    names[n++] = lgw__strdup(e->d_name);
  }
  closedir(d);
  if (n) qsort(names, n, sizeof *names, by_name);
  for (i = 0; i < n && count >= 0; i++) {
    char *path = lgw__sprintf("%s/%s", dir, names[i]);
    char *exp_path = lgw__sprintf("%s.expected", path);
    char *input = NULL, *expected = NULL, *got;
    size_t len = 0, exp_len = 0;
    lgw__buf_t desc;
    lgw__buf_init(&desc);
    if (read_all(path, &input, &len)) {
      fprintf(stderr, "  cannot read %s\n", path);
      count = -1;
    } else {
      entry((const uint8_t *)input, len, &desc);
      got = lgw__buf_steal(&desc);
      if (read_all(exp_path, &expected, &exp_len) == 0) {
        if (strcmp(got, expected) != 0) {
          fprintf(stderr, "  %s:\n    got:      %s\n    expected: %s\n", path,
                  got, expected);
          count = -1;
        } else {
          count++;
        }
      } else if (getenv("LGW_FUZZ_REGRESS_WRITE")) {
        FILE *f = fopen(exp_path, "wb");
        if (f) {
          fputs(got, f);
          fclose(f);
        }
        count++;
      } else {
        fprintf(stderr, "  %s: no %s; outcome:\n%s\n", path, exp_path, got);
        count = -1;
      }
      lgw_free(got);
    }
    lgw_free(expected);
    lgw_free(input);
    lgw_free(exp_path);
    lgw_free(path);
  }
  for (i = 0; i < n; i++) lgw_free(names[i]);
  free(names);
  lgw_free(dir);
  return count;
}

#define REGRESS_TEST(target)                                 \
  TEST(regress_##target) {                                   \
    ASSERT(replay(#target, fuzz_##target) >= 0);             \
  }

REGRESS_TEST(env)
REGRESS_TEST(config)
REGRESS_TEST(json_extract)
REGRESS_TEST(transport)
REGRESS_TEST(sse)
REGRESS_TEST(retry_after)

int main(void) {
  RUN(regress_env);
  RUN(regress_config);
  RUN(regress_json_extract);
  RUN(regress_transport);
  RUN(regress_sse);
  RUN(regress_retry_after);
  return TEST_SUMMARY();
}
