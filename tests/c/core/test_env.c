/*
 * test_env.c -- environment interpolation (seed-behavior §3.3): every worked
 * case of resolve_env_value, plus the tree walk.
 */
#include <stdlib.h>
#include <string.h>

#include "env.h"
#include "test.h"
#include "util.h"

/* Fake environment: SET=val, EMPTY="", X=x-value, SP="  padded  ". */
static const char *fake_env(const char *name, void *ud) {
  (void)ud;
  if (strcmp(name, "SET") == 0) return "val";
  if (strcmp(name, "EMPTY") == 0) return "";
  if (strcmp(name, "X") == 0) return "x-value";
  if (strcmp(name, "SP") == 0) return "  padded  ";
  return NULL;
}

static char got[256];

static const char *resolve(const char *in) {
  char *r = lgw__env_resolve(in, fake_env, NULL);
  snprintf(got, sizeof got, "%s", r ? r : "(oom)");
  lgw_free(r);
  return got;
}

TEST(braced_set) { ASSERT_STREQ(resolve("${SET}"), "val"); }
TEST(braced_unset) { ASSERT_STREQ(resolve("${UNSET}"), ""); }
TEST(default_dash) { ASSERT_STREQ(resolve("${UNSET:-dflt}"), "dflt"); }
TEST(default_colon) { ASSERT_STREQ(resolve("${UNSET:dflt}"), "dflt"); }
TEST(dash_without_colon_literal) {
  ASSERT_STREQ(resolve("${UNSET-dflt}"), "${UNSET-dflt}");
}
TEST(set_but_empty_beats_default) {
  ASSERT_STREQ(resolve("${EMPTY:-dflt}"), "");
}
TEST(default_stripped) { ASSERT_STREQ(resolve("${UNSET:- spaced }"), "spaced"); }
TEST(outer_whitespace) { ASSERT_STREQ(resolve(" ${SET} "), "val"); }
TEST(embedded_literal) {
  ASSERT_STREQ(resolve("pre${SET}"), "pre${SET}");
  ASSERT_STREQ(resolve("é ${X}"), "é ${X}");
}
TEST(dollar_name_literal) { ASSERT_STREQ(resolve("$SET"), "$SET"); }
TEST(bad_name_literal) { ASSERT_STREQ(resolve("${1BAD}"), "${1BAD}"); }
TEST(brace_in_default_literal) {
  ASSERT_STREQ(resolve("${UNSET:-a}b}"), "${UNSET:-a}b}");
}
TEST(nested_default_one_level) {
  ASSERT_STREQ(resolve("${UNSET:-${SET}}"), "val");
  ASSERT_STREQ(resolve("${X:-${SET}}"), "x-value");
  ASSERT_STREQ(resolve("${UNSET:-${UNSET2}}"), "");
  ASSERT_STREQ(resolve("${UNSET:-${UNSET2:-inner}}"), "inner");
  ASSERT_STREQ(resolve("${UNSET:- ${SP} }"), "padded");
  ASSERT_STREQ(resolve("${UNSET:${SET}}"), "val");
  ASSERT_STREQ(resolve("${EMPTY:-${SET}}"), "");
}
TEST(nested_default_deeper_literal) {
  /* deeper nesting is not resolved, whatever the environment */
  ASSERT_STREQ(resolve("${UNSET:-${UNSET2:-${SET}}}"),
               "${UNSET:-${UNSET2:-${SET}}}");
  ASSERT_STREQ(resolve("${SET:-${UNSET2:-${SET}}}"),
               "${SET:-${UNSET2:-${SET}}}");
  ASSERT_STREQ(resolve("${UNSET:-x${SET}}"), "${UNSET:-x${SET}}");
  ASSERT_STREQ(resolve("${UNSET:-${SET}x}"), "${UNSET:-${SET}x}");
}
TEST(env_prefix) {
  ASSERT_STREQ(resolve("env:SET"), "val");
  ASSERT_STREQ(resolve("env: SET"), "val");
}
TEST(env_prefix_unset) { ASSERT_STREQ(resolve("env:UNSET"), ""); }
TEST(env_prefix_literal) {
  ASSERT_STREQ(resolve("env:"), "env:");
  ASSERT_STREQ(resolve("ENV:SET"), "ENV:SET");
}
TEST(plain_stripped) { ASSERT_STREQ(resolve("  plain  "), "plain"); }
TEST(null_and_empty) {
  ASSERT_STREQ(resolve(NULL), "");
  ASSERT_STREQ(resolve(""), "");
  ASSERT_STREQ(resolve("   "), "");
}
TEST(value_stripped) {
  ASSERT_STREQ(resolve("${SP}"), "padded");
  ASSERT_STREQ(resolve("env:SP"), "padded");
}
TEST(empty_defaults) {
  ASSERT_STREQ(resolve("${UNSET:-}"), "");
  ASSERT_STREQ(resolve("${UNSET:}"), "");
  ASSERT_STREQ(resolve("${SET:-}"), "val");
}
TEST(underscore_names) {
  ASSERT_STREQ(resolve("${_A1:-z}"), "z");
  ASSERT_STREQ(resolve("${A B}"), "${A B}");
  ASSERT_STREQ(resolve("${}"), "${}");
}

TEST(default_getenv_reads_process_env) {
  setenv("LGW_TEST_ENV_VAR", " from-env ", 1);
  {
    char *r = lgw__env_resolve("${LGW_TEST_ENV_VAR}", lgw__getenv_default,
                               NULL);
    ASSERT_STREQ(r, "from-env");
    lgw_free(r);
  }
  unsetenv("LGW_TEST_ENV_VAR");
}

TEST(tree_resolves_values_not_keys) {
  lgw__node_t *root = lgw__node_new(LGW_NODE_MAP, 0, 0);
  lgw__node_t *list = lgw__node_new(LGW_NODE_SEQ, 0, 0);
  lgw__node_t *num = lgw__node_new(LGW_NODE_INT, 0, 0);
  ASSERT(root && list && num);
  num->i = 7;
  ASSERT_EQ(lgw__node_append(root, lgw__node_new_string("${SET}", 6, 0, 0),
                             lgw__node_new_string(" ${SET} ", 8, 0, 0)), 0);
  ASSERT_EQ(lgw__node_append(list, NULL,
                             lgw__node_new_string("env:X", 5, 0, 0)), 0);
  ASSERT_EQ(lgw__node_append(list, NULL, num), 0);
  ASSERT_EQ(lgw__node_append(root, lgw__node_new_string("l", 1, 0, 0), list),
            0);
  ASSERT_EQ(lgw__env_resolve_tree(root, fake_env, NULL), 0);
  ASSERT_STREQ(root->keys[0]->str, "${SET}");
  ASSERT_STREQ(root->items[0]->str, "val");
  ASSERT_EQ(root->items[0]->len, 3);
  ASSERT_STREQ(list->items[0]->str, "x-value");
  ASSERT_EQ(list->items[1]->type, LGW_NODE_INT);
  ASSERT_EQ(list->items[1]->i, 7);
  lgw__node_free(root);
}

int main(void) {
  RUN(braced_set);
  RUN(braced_unset);
  RUN(default_dash);
  RUN(default_colon);
  RUN(dash_without_colon_literal);
  RUN(set_but_empty_beats_default);
  RUN(default_stripped);
  RUN(outer_whitespace);
  RUN(embedded_literal);
  RUN(dollar_name_literal);
  RUN(bad_name_literal);
  RUN(brace_in_default_literal);
  RUN(nested_default_one_level);
  RUN(nested_default_deeper_literal);
  RUN(env_prefix);
  RUN(env_prefix_unset);
  RUN(env_prefix_literal);
  RUN(plain_stripped);
  RUN(null_and_empty);
  RUN(value_stripped);
  RUN(empty_defaults);
  RUN(underscore_names);
  RUN(default_getenv_reads_process_env);
  RUN(tree_resolves_values_not_keys);
  return TEST_SUMMARY();
}
