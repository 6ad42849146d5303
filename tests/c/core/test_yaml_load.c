/*
 * test_yaml_load.c -- YAML loading (PyYAML safe_load resolution, positions,
 * anchors, merge keys, duplicate keys, errors) and dumping (PyYAML
 * safe_dump(sort_keys=False, allow_unicode=True) output). Expected values
 * were checked against PyYAML 6.0.
 */
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "test.h"
#include "util.h"
#include "yaml_load.h"

static lgw__node_t *load(const char *text) {
  lgw__node_t *n = NULL;
  lgw_error_t err;
  if (lgw__yaml_load_string(text, strlen(text), "t.yaml", &n, &err) != 0)
    fprintf(stderr, "  load failed: %s\n", err.message);
  return n;
}

static int load_err(const char *text, lgw_error_t *err) {
  lgw__node_t *n = NULL;
  int rc = lgw__yaml_load_string(text, strlen(text), "t.yaml", &n, err);
  lgw__node_free(n);
  return rc;
}

/* Resolve one plain scalar "v: <text>" and return its node (owned by *root). */
static const lgw__node_t *scalar(const char *text, lgw__node_t **root) {
  char buf[256];
  snprintf(buf, sizeof buf, "v: %s\n", text);
  *root = load(buf);
  return *root ? lgw__node_get(*root, "v") : NULL;
}

#define EXPECT_TYPE(text, t)                                    \
  do {                                                          \
    lgw__node_t *r_;                                            \
    const lgw__node_t *v_ = scalar(text, &r_);                  \
    int ty_ = v_ ? (int)v_->type : -1;                          \
    lgw__node_free(r_);                                         \
    if (ty_ != (int)(t))                                        \
      TEST__FAIL("%s: type %d, expected %d", text, ty_, (int)(t)); \
  } while (0)

#define EXPECT_INT(text, val)                                          \
  do {                                                                 \
    lgw__node_t *r_;                                                   \
    const lgw__node_t *v_ = scalar(text, &r_);                         \
    int ok_ = v_ && v_->type == LGW_NODE_INT && v_->i == (val);        \
    long long got_ = v_ ? v_->i : 0;                                   \
    lgw__node_free(r_);                                                \
    if (!ok_) TEST__FAIL("%s: got %lld, expected %lld", text, got_,    \
                         (long long)(val));                            \
  } while (0)

#define EXPECT_FLOAT(text, val)                                         \
  do {                                                                  \
    lgw__node_t *r_;                                                    \
    const lgw__node_t *v_ = scalar(text, &r_);                          \
    int ok_ = v_ && v_->type == LGW_NODE_FLOAT && v_->d == (val);       \
    double got_ = v_ ? v_->d : 0;                                       \
    lgw__node_free(r_);                                                 \
    if (!ok_) TEST__FAIL("%s: got %g, expected %g", text, got_,         \
                         (double)(val));                                \
  } while (0)

#define EXPECT_BOOL(text, val)                                          \
  do {                                                                  \
    lgw__node_t *r_;                                                    \
    const lgw__node_t *v_ = scalar(text, &r_);                          \
    int ok_ = v_ && v_->type == LGW_NODE_BOOL && v_->b == (val);        \
    lgw__node_free(r_);                                                 \
    if (!ok_) TEST__FAIL("%s: not bool %d", text, (val));               \
  } while (0)

TEST(nulls) {
  EXPECT_TYPE("~", LGW_NODE_NULL);
  EXPECT_TYPE("null", LGW_NODE_NULL);
  EXPECT_TYPE("Null", LGW_NODE_NULL);
  EXPECT_TYPE("NULL", LGW_NODE_NULL);
  EXPECT_TYPE("", LGW_NODE_NULL);
  EXPECT_TYPE("nULL", LGW_NODE_STRING);
  EXPECT_TYPE("''", LGW_NODE_STRING);
  EXPECT_TYPE("'null'", LGW_NODE_STRING);
}

TEST(bools) {
  static const char *const yes[] = {"yes", "Yes", "YES", "true", "True",
                                    "TRUE", "on", "On", "ON"};
  static const char *const no[] = {"no", "No", "NO", "false", "False",
                                   "FALSE", "off", "Off", "OFF"};
  size_t i;
  for (i = 0; i < 9; i++) {
    EXPECT_BOOL(yes[i], 1);
    EXPECT_BOOL(no[i], 0);
  }
  EXPECT_TYPE("y", LGW_NODE_STRING);
  EXPECT_TYPE("n", LGW_NODE_STRING);
  EXPECT_TYPE("tRUE", LGW_NODE_STRING);
  EXPECT_TYPE("\"true\"", LGW_NODE_STRING);
}

TEST(ints) {
  EXPECT_INT("0", 0);
  EXPECT_INT("12", 12);
  EXPECT_INT("-12", -12);
  EXPECT_INT("+12", 12);
  EXPECT_INT("1_000", 1000);
  EXPECT_INT("0x1F", 31);
  EXPECT_INT("0x_1f", 31);
  EXPECT_INT("017", 15);
  EXPECT_INT("0b101", 5);
  EXPECT_INT("-0b11", -3);
  EXPECT_INT("1:30", 90);
  EXPECT_INT("-1:30:00", -5400);
  EXPECT_INT("9223372036854775807", 9223372036854775807LL);
  /* YAML 1.1 as PyYAML: "0o17" is not an integer, "08" is not octal */
  EXPECT_TYPE("0o17", LGW_NODE_STRING);
  EXPECT_TYPE("08", LGW_NODE_STRING);
  EXPECT_TYPE("12:75", LGW_NODE_STRING);
  EXPECT_TYPE("'123'", LGW_NODE_STRING);
  EXPECT_TYPE("12abc", LGW_NODE_STRING);
}

TEST(int_source_text_kept) {
  lgw__node_t *r;
  const lgw__node_t *v = scalar("0x1F", &r);
  ASSERT(v);
  ASSERT_STREQ(lgw__node_text(v), "0x1F");
  ASSERT_DEQ(v->d, 31.0);
  lgw__node_free(r);
}

TEST(floats) {
  EXPECT_FLOAT("1.5", 1.5);
  EXPECT_FLOAT("1.", 1.0);
  EXPECT_FLOAT(".5", 0.5);
  EXPECT_FLOAT("+1.5", 1.5);
  EXPECT_FLOAT("1.5e+3", 1500.0);
  EXPECT_FLOAT("1.0e-05", 1e-05);
  EXPECT_FLOAT("1_000.5", 1000.5);
  EXPECT_FLOAT("1:30.5", 90.5);
  EXPECT_FLOAT("685.230_15e+03", 685230.15);
  EXPECT_FLOAT(".inf", 1.0 / 0.0);
  EXPECT_FLOAT("-.Inf", -1.0 / 0.0);
  EXPECT_FLOAT("+.INF", 1.0 / 0.0);
  EXPECT_TYPE(".nan", LGW_NODE_FLOAT);
  EXPECT_TYPE(".NaN", LGW_NODE_FLOAT);
  /* PyYAML needs a dot and a signed exponent */
  EXPECT_TYPE("1e3", LGW_NODE_STRING);
  EXPECT_TYPE("1.5e3", LGW_NODE_STRING);
  EXPECT_TYPE("-.5", LGW_NODE_STRING);
  EXPECT_TYPE("1.2.3", LGW_NODE_STRING);
  EXPECT_TYPE("'1.5'", LGW_NODE_STRING);
}

TEST(strings_and_blocks) {
  lgw__node_t *r = load("a: abc\nb: |\n  line1\n  line2\nc: >\n  x\n  y\n"
                        "d: 2001-12-14\ne: =\n");
  ASSERT(r);
  ASSERT_STREQ(lgw__node_get(r, "a")->str, "abc");
  ASSERT_STREQ(lgw__node_get(r, "b")->str, "line1\nline2\n");
  ASSERT_STREQ(lgw__node_get(r, "c")->str, "x y\n");
  ASSERT_STREQ(lgw__node_get(r, "d")->str, "2001-12-14");
  ASSERT_STREQ(lgw__node_get(r, "e")->str, "=");
  lgw__node_free(r);
}

TEST(positions_one_based) {
  lgw__node_t *r = load("top:\n  key: value\n  list:\n    - 1\n");
  const lgw__node_t *top, *v, *l;
  ASSERT(r);
  ASSERT_EQ(r->line, 1);
  ASSERT_EQ(r->col, 1);
  top = lgw__node_get(r, "top");
  ASSERT_EQ(top->line, 2);
  ASSERT_EQ(top->col, 3);
  ASSERT_EQ(top->keys[0]->line, 2);
  ASSERT_EQ(top->keys[0]->col, 3);
  v = lgw__node_get(top, "key");
  ASSERT_EQ(v->line, 2);
  ASSERT_EQ(v->col, 8);
  l = lgw__node_get(top, "list");
  ASSERT_EQ(l->items[0]->line, 4);
  ASSERT_EQ(l->items[0]->col, 7);
  lgw__node_free(r);
}

TEST(anchor_alias_copies) {
  lgw__node_t *r = load("a: &x {k: v}\nb: *x\n");
  const lgw__node_t *a, *b;
  ASSERT(r);
  a = lgw__node_get(r, "a");
  b = lgw__node_get(r, "b");
  ASSERT(a != b);
  ASSERT_EQ(b->type, LGW_NODE_MAP);
  ASSERT_STREQ(lgw__node_get(b, "k")->str, "v");
  ASSERT_EQ(b->line, 2);
  ASSERT_EQ(b->col, 4);
  lgw__node_free(r);
}

TEST(merge_keys) {
  /* PyYAML: {'m1': {'x': 1, 'y': 3}, 'm2': {'y': 2, 'z': 30, 'x': 1, 'w': 0}}
   * (earlier maps in a merge list win; later ones supply key order) */
  lgw__node_t *r = load("b: &b {x: 1, y: 2}\no: &o {y: 20, z: 30}\n"
                        "m1:\n  <<: *b\n  y: 3\nm2:\n  <<: [*b, *o]\n  w: 0\n");
  const lgw__node_t *m1, *m2;
  ASSERT(r);
  m1 = lgw__node_get(r, "m1");
  ASSERT_EQ(m1->n, 2);
  ASSERT_STREQ(m1->keys[0]->str, "x");
  ASSERT_EQ(m1->items[0]->i, 1);
  ASSERT_STREQ(m1->keys[1]->str, "y");
  ASSERT_EQ(m1->items[1]->i, 3);
  m2 = lgw__node_get(r, "m2");
  ASSERT_EQ(m2->n, 4);
  ASSERT_STREQ(m2->keys[0]->str, "y");
  ASSERT_EQ(m2->items[0]->i, 2);
  ASSERT_STREQ(m2->keys[1]->str, "z");
  ASSERT_EQ(m2->items[1]->i, 30);
  ASSERT_STREQ(m2->keys[2]->str, "x");
  ASSERT_STREQ(m2->keys[3]->str, "w");
  lgw__node_free(r);
}

TEST(duplicate_keys_like_python_dict) {
  /* {a: 1, b: 2, a: 3} -> {'a': 3, 'b': 2}; 1, 1.0 and true are one key */
  lgw__node_t *r = load("d: {a: 1, b: 2, a: 3}\nn: {1: a, 1.0: b, true: c, "
                        "\"1\": d}\n");
  const lgw__node_t *d, *n;
  ASSERT(r);
  d = lgw__node_get(r, "d");
  ASSERT_EQ(d->n, 2);
  ASSERT_STREQ(d->keys[0]->str, "a");
  ASSERT_EQ(d->items[0]->i, 3);
  ASSERT_EQ(d->items[1]->i, 2);
  n = lgw__node_get(r, "n");
  ASSERT_EQ(n->n, 2);
  ASSERT_EQ(n->keys[0]->type, LGW_NODE_INT);
  ASSERT_STREQ(n->items[0]->str, "c");
  ASSERT_STREQ(n->items[1]->str, "d");
  lgw__node_free(r);
}

TEST(tags) {
  lgw__node_t *r = load("a: !!str 123\nb: !!int '12'\nc: !!float 3\n"
                        "d: ! 12\n");
  ASSERT(r);
  ASSERT_EQ(lgw__node_get(r, "a")->type, LGW_NODE_STRING);
  ASSERT_EQ(lgw__node_get(r, "b")->type, LGW_NODE_INT);
  ASSERT_EQ(lgw__node_get(r, "b")->i, 12);
  ASSERT_EQ(lgw__node_get(r, "c")->type, LGW_NODE_FLOAT);
  ASSERT_DEQ(lgw__node_get(r, "c")->d, 3.0);
  ASSERT_EQ(lgw__node_get(r, "d")->type, LGW_NODE_STRING);
  lgw__node_free(r);
}

TEST(empty_document_is_null) {
  lgw__node_t *n = (lgw__node_t *)1;
  lgw_error_t err;
  ASSERT_EQ(lgw__yaml_load_string("", 0, "t.yaml", &n, &err), 0);
  ASSERT(n == NULL);
  ASSERT_EQ(lgw__yaml_load_string("# only a comment\n", 17, "t.yaml", &n,
                                  &err), 0);
  ASSERT(n == NULL);
}

TEST(one_document_only) {
  lgw__node_t *r;
  lgw_error_t err;
  ASSERT_EQ(load_err("k: v\n---\nother: 1\n", &err), LGW_ECONFIG);
  ASSERT_STREQ(err.message, "t.yaml:2:1: expected a single document in the "
               "stream, but found another document");
  ASSERT_EQ(load_err("--- {k: v}\n--- \n", &err), LGW_ECONFIG);
  ASSERT_STREQ(err.message, "t.yaml:2:1: expected a single document in the "
               "stream, but found another document");
  /* an explicit start and end of the one document are fine */
  r = load("---\nk: v\n...\n");
  ASSERT(r);
  ASSERT_EQ(r->n, 1);
  ASSERT_STREQ(lgw__node_get(r, "k")->str, "v");
  lgw__node_free(r);
}

TEST(syntax_errors) {
  lgw_error_t err;
  ASSERT_EQ(load_err("a: [1, 2\nb: 3\n", &err), LGW_ECONFIG);
  ASSERT_STREQ(err.message, "t.yaml:2:2: did not find expected ',' or ']'");
  ASSERT_EQ(load_err("a: b: c\n", &err), LGW_ECONFIG);
  ASSERT_STREQ(err.message,
               "t.yaml:1:5: mapping values are not allowed in this context");
  ASSERT_EQ(load_err("a:\n  - x\n y: 1\n", &err), LGW_ECONFIG);
  ASSERT_STREQ(err.message, "t.yaml:3:2: did not find expected key");
  ASSERT_EQ(err.code, LGW_ECONFIG);
}

TEST(reader_errors_have_positions) {
  lgw_error_t err;
  ASSERT_EQ(load_err("a: 1\nb: \xff\n", &err), LGW_ECONFIG);
  ASSERT_STREQ(err.message, "t.yaml:2:4: invalid leading UTF-8 octet");
  ASSERT_EQ(load_err("a: \"\x01\"\n", &err), LGW_ECONFIG);
  ASSERT_STREQ(err.message, "t.yaml:1:5: control characters are not allowed");
}

TEST(composer_errors) {
  lgw_error_t err;
  ASSERT_EQ(load_err("a: *nope\n", &err), LGW_ECONFIG);
  ASSERT_STREQ(err.message, "t.yaml:1:4: found undefined alias");
  ASSERT_EQ(load_err("? [a]\n: 1\n", &err), LGW_ECONFIG);
  ASSERT_STREQ(err.message, "t.yaml:1:3: found unhashable key");
  ASSERT_EQ(load_err("a: !custom x\n", &err), LGW_ECONFIG);
  ASSERT_STREQ(err.message,
               "t.yaml:1:4: could not determine a constructor for the tag "
               "'!custom'");
  ASSERT_EQ(load_err("a: !!int abc\n", &err), LGW_ECONFIG);
  ASSERT_STREQ(err.message,
               "t.yaml:1:4: invalid value for the tag "
               "'tag:yaml.org,2002:int'");
  ASSERT_EQ(load_err("x: 99999999999999999999\n", &err), LGW_ECONFIG);
  ASSERT_STREQ(err.message, "t.yaml:1:4: integer out of range");
  ASSERT_EQ(load_err("m:\n  <<: 5\n", &err), LGW_ECONFIG);
  ASSERT_STREQ(err.message,
               "t.yaml:2:7: expected a mapping or list of mappings for "
               "merging");
}

TEST(alias_bomb_is_bounded) {
  lgw_error_t err;
  const char *bomb =
      "a: &a [x, x, x, x, x, x, x, x, x, x]\n"
      "b: &b [*a, *a, *a, *a, *a, *a, *a, *a, *a, *a]\n"
      "c: &c [*b, *b, *b, *b, *b, *b, *b, *b, *b, *b]\n"
      "d: &d [*c, *c, *c, *c, *c, *c, *c, *c, *c, *c]\n"
      "e: &e [*d, *d, *d, *d, *d, *d, *d, *d, *d, *d]\n"
      "f: &f [*e, *e, *e, *e, *e, *e, *e, *e, *e, *e]\n"
      "g: &g [*f, *f, *f, *f, *f, *f, *f, *f, *f, *f]\n";
  ASSERT_EQ(load_err(bomb, &err), LGW_ECONFIG);
  ASSERT_CONTAINS(err.message, "document too large");
}

TEST(alias_bytes_are_bounded) {
  /* a 1 MiB scalar aliased 10 times, that list aliased 6 times: the text
   * would pass 64 MiB at the sixth alias of line 3 */
  size_t big = (size_t)1 << 20, k = 0;
  char *text = malloc(big + 200);
  lgw_error_t err;
  lgw__node_t *n;
  ASSERT(text);
  k += (size_t)sprintf(text, "s: &s ");
  memset(text + k, 'x', big);
  k += big;
  k += (size_t)sprintf(text + k, "\na: &a [*s, *s, *s, *s, *s, *s, *s, *s, "
                       "*s, *s]\nb: [*a, *a, *a, *a, *a, *a, *a]\n");
  ASSERT_EQ(load_err(text, &err), LGW_ECONFIG);
  ASSERT_STREQ(err.message, "t.yaml:3:25: document too large (alias "
               "expansion over 67108864 bytes of text)");
  /* five aliases of the list (61 MiB in all) still load */
  strcpy(strstr(text, "b: [") + 4, "*a, *a, *a, *a, *a]\n");
  n = NULL;
  ASSERT_EQ(lgw__yaml_load_string(text, strlen(text), "t.yaml", &n, &err), 0);
  ASSERT(n != NULL);
  ASSERT_EQ(lgw__node_get(n, "b")->n, 5);
  lgw__node_free(n);
  free(text);
}

TEST(deep_nesting_is_bounded) {
  char buf[2100];
  lgw_error_t err;
  memset(buf, '[', 2000);
  buf[2000] = '\0';
  ASSERT_EQ(load_err(buf, &err), LGW_ECONFIG);
  ASSERT_STREQ(err.message, "t.yaml:1:1001: nesting too deep");
}

static char tmpdir[64];

static void write_text(const char *path, const char *text) {
  FILE *f = fopen(path, "w");
  fputs(text, f);
  fclose(f);
}

TEST(load_file_ok_and_errors) {
  char path[128], expect[256];
  lgw__node_t *n = NULL;
  lgw_error_t err;
  snprintf(path, sizeof path, "%s/ok.yaml", tmpdir);
  write_text(path, "k: v\n");
  ASSERT_EQ(lgw__yaml_load_file(path, &n, &err), 0);
  ASSERT_STREQ(lgw__node_get(n, "k")->str, "v");
  lgw__node_free(n);

  snprintf(path, sizeof path, "%s/bad.yaml", tmpdir);
  write_text(path, "a: [\n");
  ASSERT_EQ(lgw__yaml_load_file(path, &n, &err), LGW_ECONFIG);
  snprintf(expect, sizeof expect, "%s:2:1: did not find expected node content",
           path);
  ASSERT_STREQ(err.message, expect);

  snprintf(path, sizeof path, "%s/missing.yaml", tmpdir);
  ASSERT_EQ(lgw__yaml_load_file(path, &n, &err), LGW_EIO);
  snprintf(expect, sizeof expect, "cannot read %s: No such file or directory",
           path);
  ASSERT_STREQ(err.message, expect);

  ASSERT_EQ(lgw__yaml_load_file(tmpdir, &n, &err), LGW_EIO);
  snprintf(expect, sizeof expect, "cannot read %s: Is a directory", tmpdir);
  ASSERT_STREQ(err.message, expect);
  ASSERT(n == NULL);
}

TEST(load_file_unreadable) {
  char path[128], expect[256];
  lgw__node_t *n = NULL;
  lgw_error_t err;
  if (geteuid() == 0) return; /* root reads mode 000 files */
  snprintf(path, sizeof path, "%s/secret.yaml", tmpdir);
  write_text(path, "k: v\n");
  chmod(path, 0);
  ASSERT_EQ(lgw__yaml_load_file(path, &n, &err), LGW_EIO);
  snprintf(expect, sizeof expect, "cannot read %s: Permission denied", path);
  ASSERT_STREQ(err.message, expect);
}

static char *dump(const char *text) {
  lgw__node_t *n = load(text);
  char *out = NULL;
  size_t len = 0;
  lgw_error_t err;
  if (lgw__yaml_dump(n, &out, &len, &err) != 0)
    fprintf(stderr, "  dump failed: %s\n", err.message);
  else if (strlen(out) != len)
    fprintf(stderr, "  dump length mismatch\n");
  lgw__node_free(n);
  return out;
}

#define EXPECT_DUMP(in, expected)      \
  do {                                 \
    char *d_ = dump(in);               \
    int ok_ = d_ && strcmp(d_, expected) == 0; \
    if (!ok_) fprintf(stderr, "  got: \"%s\"\n", d_ ? d_ : "(null)"); \
    lgw_free(d_);                      \
    ASSERT(ok_);                       \
  } while (0)

TEST(dump_block_style_seed_example) {
  EXPECT_DUMP("{\"b\": 1, \"a\": {\"x\": \"é ${X}\"}, \"l\": [1, \"two\"]}",
              "b: 1\na:\n  x: é ${X}\nl:\n- 1\n- two\n");
}

TEST(dump_quotes_other_types) {
  EXPECT_DUMP("s: ['123', 'true', '', '1.5', '1:30', '2001-12-14', '<<', '=', "
              "'a: b', '- x', 'null', '~', '0x1F', '.inf', yes, 'yes']\n",
              "s:\n- '123'\n- 'true'\n- ''\n- '1.5'\n- '1:30'\n"
              "- '2001-12-14'\n- '<<'\n- '='\n- 'a: b'\n- '- x'\n- 'null'\n"
              "- '~'\n- '0x1F'\n- '.inf'\n- true\n- 'yes'\n");
}

TEST(dump_scalars) {
  EXPECT_DUMP("n: [1, -1, 0.1, 1.0e+17, 90.0, 1.0e-5, .inf, -.inf, .nan, ~, "
              "0x10, 1_000]\n",
              "n:\n- 1\n- -1\n- 0.1\n- 1.0e+17\n- 90.0\n- 1.0e-05\n- .inf\n"
              "- -.inf\n- .nan\n- null\n- 16\n- 1000\n");
  EXPECT_DUMP("m: \"multi\\nline\"\nt: \"tab\\there\"\n",
              "m: 'multi\n\n  line'\nt: \"tab\\there\"\n");
}

TEST(dump_empty_collections_and_nesting) {
  EXPECT_DUMP("e: {}\nl: []\nn: [[1, 2], {a: [x, y]}]\n",
              "e: {}\nl: []\nn:\n- - 1\n  - 2\n- a:\n  - x\n  - y\n");
}

TEST(float_repr_like_python) {
  char b[32];
  lgw__node_float_repr(90.0, b);
  ASSERT_STREQ(b, "90.0");
  lgw__node_float_repr(0.1, b);
  ASSERT_STREQ(b, "0.1");
  lgw__node_float_repr(1e-5, b);
  ASSERT_STREQ(b, "1e-05");
  lgw__node_float_repr(1e16, b);
  ASSERT_STREQ(b, "1e+16");
  lgw__node_float_repr(1234567890123456.0, b);
  ASSERT_STREQ(b, "1234567890123456.0");
  lgw__node_float_repr(0.0001, b);
  ASSERT_STREQ(b, "0.0001");
  lgw__node_float_repr(-2.5, b);
  ASSERT_STREQ(b, "-2.5");
  lgw__node_float_repr(-0.0, b);
  ASSERT_STREQ(b, "-0.0");
  lgw__node_float_repr(1.0 / 3.0, b);
  ASSERT_STREQ(b, "0.3333333333333333");
}

int main(void) {
  snprintf(tmpdir, sizeof tmpdir, "/tmp/lgw-test-yaml-XXXXXX");
  if (!mkdtemp(tmpdir)) return 1;
  RUN(nulls);
  RUN(bools);
  RUN(ints);
  RUN(int_source_text_kept);
  RUN(floats);
  RUN(strings_and_blocks);
  RUN(positions_one_based);
  RUN(anchor_alias_copies);
  RUN(merge_keys);
  RUN(duplicate_keys_like_python_dict);
  RUN(tags);
  RUN(empty_document_is_null);
  RUN(one_document_only);
  RUN(syntax_errors);
  RUN(reader_errors_have_positions);
  RUN(composer_errors);
  RUN(alias_bomb_is_bounded);
  RUN(alias_bytes_are_bounded);
  RUN(deep_nesting_is_bounded);
  RUN(load_file_ok_and_errors);
  RUN(load_file_unreadable);
  RUN(dump_block_style_seed_example);
  RUN(dump_quotes_other_types);
  RUN(dump_scalars);
  RUN(dump_empty_collections_and_nesting);
  RUN(float_repr_like_python);
  {
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", tmpdir);
    if (system(cmd) != 0) return 1;
  }
  return TEST_SUMMARY();
}
