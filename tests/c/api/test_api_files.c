/*
 * test_api_files.c -- the public file functions: locations from the
 * environment, the user config file (missing, empty, a list, a value with
 * env references, written back), the provider-state file (write, merge,
 * load) and atomic writes.
 */
#include <limits.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include "llmgateway.h"
#include "test.h"

static char dir[PATH_MAX];

static void write_text(const char *path, const char *text) {
  FILE *f = fopen(path, "w");
  if (f) {
    fputs(text, f);
    fclose(f);
  }
}

static char *read_text(const char *path) {
  static char buf[4096];
  FILE *f = fopen(path, "r");
  size_t n = 0;
  buf[0] = '\0';
  if (f) {
    n = fread(buf, 1, sizeof buf - 1, f);
    fclose(f);
  }
  buf[n] = '\0';
  return buf;
}

TEST(locations) {
  char want[PATH_MAX + 64];
  char *p;
  setenv("LLMGATEWAY_USER_CONFIG_DIR", dir, 1);
  unsetenv("LLMGATEWAY_CONFIG");
  unsetenv("LLMGATEWAY_PROVIDER_STATE");
  p = lgw_user_config_dir();
  ASSERT_STREQ(p, dir);
  lgw_free(p);
  snprintf(want, sizeof want, "%s/config.yaml", dir);
  p = lgw_user_config_file(NULL);
  ASSERT_STREQ(p, want);
  lgw_free(p);
  snprintf(want, sizeof want, "%s/other.yaml", dir);
  p = lgw_user_config_file(want);
  ASSERT_STREQ(p, want);
  lgw_free(p);
  snprintf(want, sizeof want, "%s/provider-state.json", dir);
  p = lgw_provider_state_file(NULL);
  ASSERT_STREQ(p, want);
  lgw_free(p);
}

TEST(user_config) {
  char path[PATH_MAX + 64];
  lgw_value_t *v = NULL, *o;
  lgw_error_t err;
  char *written = NULL;
  memset(&err, 0, sizeof err);
  snprintf(path, sizeof path, "%s/cfg.yaml", dir);
  /* missing, then empty: {} */
  ASSERT_EQ(lgw_user_config_load(path, &v, &err), 0);
  ASSERT_EQ(lgw_value_type(v), LGW_VALUE_OBJECT);
  ASSERT_EQ(lgw_value_count(v), 0);
  lgw_value_free(v);
  write_text(path, "");
  ASSERT_EQ(lgw_user_config_load(path, &v, &err), 0);
  ASSERT_EQ(lgw_value_count(v), 0);
  lgw_value_free(v);
  /* a list at the top */
  write_text(path, "- a\n");
  ASSERT_EQ(lgw_user_config_load(path, &v, &err), LGW_ECONFIG);
  ASSERT(v == NULL);
  ASSERT_CONTAINS(err.message, "(the top level must be a mapping, not a "
                  "list)");
  /* a directory */
  ASSERT_EQ(lgw_user_config_load(dir, &v, &err), LGW_EIO);
  /* env references resolved */
  setenv("LGW_TEST_FILES_MODEL", "gpt-x", 1);
  write_text(path, "settings:\n  fallback_model: ${LGW_TEST_FILES_MODEL}\n");
  ASSERT_EQ(lgw_user_config_load(path, &v, &err), 0);
  ASSERT_STREQ(lgw_value_get_string(lgw_value_get(lgw_value_get(v,
               "settings"), "fallback_model"), NULL), "gpt-x");
  lgw_value_free(v);
  unsetenv("LGW_TEST_FILES_MODEL");
  /* written back as YAML */
  o = lgw_value_object();
  lgw_value_set(o, "b", 1, lgw_value_int(2));
  lgw_value_set(o, "a", 1, lgw_value_string("x", 1));
  ASSERT_EQ(lgw_user_config_write(o, path, &written, &err), 0);
  ASSERT_STREQ(written, path);
  ASSERT_STREQ(read_text(path), "b: 2\na: x\n");
  lgw_free(written);
  lgw_value_free(o);
}

TEST(provider_state) {
  char path[PATH_MAX + 64];
  lgw_value_t *s = lgw_value_object(), *v = NULL;
  lgw_error_t err;
  char *written = NULL;
  struct stat st;
  memset(&err, 0, sizeof err);
  snprintf(path, sizeof path, "%s/state.json", dir);
  ASSERT_EQ(lgw_provider_state_load(path, &v, &err), 0);
  ASSERT_EQ(lgw_value_count(v), 0);
  lgw_value_free(v);
  lgw_value_set(s, "k2", 2, lgw_value_string("p2", 2));
  lgw_value_set(s, "k1", 2, lgw_value_int(7));
  ASSERT_EQ(lgw_provider_state_write(s, 0, path, &written, &err), 0);
  ASSERT_STREQ(written, path);
  lgw_free(written);
  ASSERT_STREQ(read_text(path), "{\n  \"preferred_by_config\": {\n"
               "    \"k1\": \"7\",\n    \"k2\": \"p2\"\n  }\n}\n");
  ASSERT_EQ(stat(path, &st), 0);
  ASSERT_EQ(st.st_mode & 0777, 0600);
  lgw_value_free(s);
  s = lgw_value_object();
  lgw_value_set(s, "k3", 2, lgw_value_string("p3", 2));
  ASSERT_EQ(lgw_provider_state_write(s, 1, path, NULL, &err), 0);
  ASSERT_EQ(lgw_provider_state_load(path, &v, &err), 0);
  ASSERT_EQ(lgw_value_count(v), 3);
  ASSERT_STREQ(lgw_value_get_string(lgw_value_get(v, "k1"), NULL), "7");
  ASSERT_STREQ(lgw_value_get_string(lgw_value_get(v, "k3"), NULL), "p3");
  lgw_value_free(v);
  lgw_value_set(s, "bad", 3, lgw_value_array());
  ASSERT_EQ(lgw_provider_state_write(s, 1, path, NULL, &err), LGW_EINVAL);
  ASSERT_STREQ(err.message, "keys and values must be strings");
  lgw_value_free(s);
}

TEST(atomic_write) {
  char path[PATH_MAX + 64];
  lgw_error_t err;
  struct stat st;
  memset(&err, 0, sizeof err);
  snprintf(path, sizeof path, "%s/sub/dir/f.txt", dir);
  ASSERT_EQ(lgw_write_file_atomic(path, "hello", 5, &err), 0);
  ASSERT_STREQ(read_text(path), "hello");
  ASSERT_EQ(stat(path, &st), 0);
  ASSERT_EQ(st.st_mode & 0777, 0600);
  ASSERT_EQ(lgw_write_file_atomic(dir, "x", 1, &err), LGW_EIO);
  ASSERT_EQ(lgw_write_file_atomic(NULL, "x", 1, &err), LGW_EINVAL);
}

int main(void) {
  char tmpl[] = "/tmp/lgw_api_files_XXXXXX";
  char cmd[PATH_MAX + 16];
  int rc;
  if (!mkdtemp(tmpl) || !realpath(tmpl, dir)) return 1;
  RUN(locations);
  RUN(user_config);
  RUN(provider_state);
  RUN(atomic_write);
  rc = TEST_SUMMARY();
  snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
  if (system(cmd) != 0) return 1;
  return rc;
}
