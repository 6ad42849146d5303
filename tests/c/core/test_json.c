/*
 * test_json.c -- the JSON writer and the in-place reader (src/core/json.c),
 * and the answers the transports read in place: each must be the answer
 * the cJSON path gives (a byte order mark before the body makes the
 * reader unsure, so the same body is also read through a cJSON tree).
 */
#include <stdio.h>
#include <string.h>

#include "json.h"
#include "test.h"
#include "transport.h"

/* s[0..n) as the writer quotes it (ensure_ascii: as Python does). */
static const char *quoted(int ensure_ascii, const char *s, size_t n) {
  static char out[256];
  lgw__buf_t b;
  lgw__buf_init(&b);
  if (ensure_ascii ? lgw__json_add_str_ascii(&b, s, n)
                   : lgw__json_add_str(&b, s, n))
    return "ENOMEM";
  snprintf(out, sizeof out, "%s", b.data);
  lgw__buf_free(&b);
  return out;
}

static const char *ascii(const char *s, size_t n) { return quoted(1, s, n); }

TEST(writer_ensure_ascii_as_python) {
  ASSERT_STREQ(ascii("a\"b\\c\n\x01", 7), "\"a\\\"b\\\\c\\n\\u0001\"");
  ASSERT_STREQ(ascii("\xC3\xA9\xE2\x82\xAC", 5), "\"\\u00e9\\u20ac\"");
  ASSERT_STREQ(ascii("\xF0\x9F\x98\x80", 4), "\"\\ud83d\\ude00\"");
  /* a truncated sequence: one U+FFFD per byte */
  ASSERT_STREQ(ascii("\xE2\x82x", 3), "\"\\ufffd\\ufffdx\"");
  ASSERT_STREQ(ascii("\x7F", 1), "\"\\u007f\"");
  ASSERT_STREQ(ascii(NULL, 0), "\"\"");
}

static const char *add_str(const char *s, size_t n) {
  return quoted(0, s, n);
}

TEST(writer_utf8_kept_invalid_replaced) {
  ASSERT_STREQ(add_str("\xC3\xA9\t\x1F", 4), "\"\xC3\xA9\\t\\u001f\"");
  /* a truncated sequence is one maximal invalid subpart: one U+FFFD */
  ASSERT_STREQ(add_str("\xE2\x82x", 3), "\"\xEF\xBF\xBDx\"");
}

/* The writer's quoting, byte by byte (invalid UTF-8 through the writer
 * itself, one byte at a time is not the same: only ASCII is mixed here
 * with whole valid sequences). */
static void ref_quote(char *d, const char *s, size_t n) {
  size_t i;
  *d++ = '"';
  for (i = 0; i < n; i++) {
    unsigned char c = (unsigned char)s[i];
    const char *esc = c == '"' ? "\\\"" : c == '\\' ? "\\\\" : c == '\n'
                      ? "\\n" : c == '\r' ? "\\r" : c == '\t' ? "\\t" : c == '\b'
                      ? "\\b" : c == '\f' ? "\\f" : NULL;
    if (esc) d += sprintf(d, "%s", esc);
    else if (c < 0x20) d += sprintf(d, "\\u%04x", c);
    else *d++ = (char)c;
  }
  *d++ = '"';
  *d = '\0';
}

TEST(writer_spans) {
  /* \xc3 stands for the sequence C3 A9 */
  static const char specials[] = "\"\\\n\x01\x1f\t\x7f" "\xc3";
  char s[48], want[400];
  size_t n, at, k, pre;
  /* each special byte at each place of strings around eight bytes, into
   * buffers that already hold 0 to 70 bytes (growth at every point) */
  for (pre = 0; pre < 70; pre += 7)
    for (n = 1; n < 42; n++)   /* 16-byte blocks too, and their tails */
      for (at = 0; at < n; at++)
        for (k = 0; k < sizeof specials - 1; k++) {
          lgw__buf_t b;
          size_t len = n;
          memset(s, 'a' + (int)(n % 26), n);
          if (specials[k] == '\xc3') {   /* a whole two-byte sequence */
            if (at + 1 >= n) continue;
            s[at] = '\xc3';
            s[at + 1] = '\xa9';
          } else {
            s[at] = specials[k];
          }
          lgw__buf_init(&b);
          memset(want, 'p', pre);
          ASSERT_EQ(lgw__buf_add(&b, want, pre), 0);
          ASSERT_EQ(lgw__json_add_str(&b, s, len), 0);
          ref_quote(want + pre, s, len);
          ASSERT_STREQ(b.data, want);
          ASSERT_EQ(b.len, strlen(want));
          lgw__buf_free(&b);
        }
  /* all escapes: six bytes for each one */
  {
    lgw__buf_t b;
    char many[200], out[1300];
    memset(many, '\x02', sizeof many);
    lgw__buf_init(&b);
    ASSERT_EQ(lgw__json_add_str(&b, many, sizeof many), 0);
    ref_quote(out, many, sizeof many);
    ASSERT_EQ(b.len, 1202);
    ASSERT_STREQ(b.data, out);
    lgw__buf_free(&b);
  }
  /* invalid UTF-8 among plain runs: one U+FFFD per maximal subpart */
  ASSERT_STREQ(add_str("abcdefgh\xff" "ijklmnop\xe2\x82" "qrstuvwx", 27),
               "\"abcdefgh\xEF\xBF\xBDijklmnop\xEF\xBF\xBDqrstuvwx\"");
  ASSERT_STREQ(add_str("\x80\x80\x80\x80\x80\x80\x80\x80\x80", 9),
               "\"\xEF\xBF\xBD\xEF\xBF\xBD\xEF\xBF\xBD\xEF\xBF\xBD\xEF\xBF"
               "\xBD\xEF\xBF\xBD\xEF\xBF\xBD\xEF\xBF\xBD\xEF\xBF\xBD\"");
  ASSERT_STREQ(add_str("", 0), "\"\"");
  ASSERT_STREQ(add_str("0123456789abcdef\xf0\x9f\x98\x80", 20),
               "\"0123456789abcdef\xf0\x9f\x98\x80\"");
}

/* The elements of an array read in place, as "type:text" pairs. */
static const char *walk(const char *doc) {
  static char out[512];
  lgw__jv_t root, it;
  size_t k = 0;
  if (lgw__jv_root(doc, strlen(doc), &root)) return "UNSURE";
  out[0] = '\0';
  for (lgw__jv_first(&root, &it); it.type != LGW__JV_NONE;
       lgw__jv_next(&it)) {
    const char *p;
    size_t n;
    int rc = lgw__jv_compact(&it, &p, &n);
    k += (size_t)snprintf(out + k, sizeof out - k, "%s%d:%.*s", k ? " " : "",
                          (int)it.type, rc ? 1 : (int)n, rc ? "?" : p);
  }
  return out;
}

TEST(reader_walks_arrays) {
  ASSERT_STREQ(walk("[]"), "");
  ASSERT_STREQ(walk(" [ 1 , \"a\" ,{\"k\":[true,null]},[] ] "),
               "4:1 5:\"a\" 7:{\"k\":[true,null]} 6:[]");
  /* what cJSON would print differently is unsure */
  ASSERT_STREQ(walk("[{\"k\": 1},1.5,-0,1e3,1234567890,\"\\n\",-12]"),
               "7:? 4:? 4:? 4:? 4:? 5:? 4:-12");
  ASSERT_STREQ(walk("[1,]"), "UNSURE");
  ASSERT_STREQ(walk("\xEF\xBB\xBF[1]"), "UNSURE");
}

TEST(reader_strings) {
  const char *doc = "{\"a\":\"plain\",\"b\":\"x\\u00e9\\u0000y\",\"c\":2}";
  lgw__jv_t root, v;
  lgw__buf_t b;
  const char *p;
  size_t n;
  int eq;
  ASSERT_EQ(lgw__jv_root(doc, strlen(doc), &root), 0);
  ASSERT_EQ(lgw__jv_get(&root, "a", &v), 0);
  ASSERT_EQ(lgw__jv_plain(&v, &p, &n), 0);
  ASSERT_EQ(n, 5);
  ASSERT_EQ(memcmp(p, "plain", 5), 0);
  ASSERT_EQ(lgw__jv_eq(&v, "plain", &eq), 0);
  ASSERT_EQ(eq, 1);
  ASSERT_EQ(lgw__jv_eq(&v, "plai", &eq), 0);
  ASSERT_EQ(eq, 0);
  ASSERT_EQ(lgw__jv_get(&root, "b", &v), 0);
  ASSERT_EQ(lgw__jv_plain(&v, &p, &n), LGW__JV_UNSURE);
  ASSERT_EQ(lgw__jv_eq(&v, "x", &eq), LGW__JV_UNSURE);
  lgw__buf_init(&b);
  ASSERT_EQ(lgw__jv_str(&v, &b), 0);
  ASSERT_EQ(b.len, 5);
  ASSERT_EQ(memcmp(b.data, "x\xC3\xA9\0y", 5), 0);
  lgw__buf_free(&b);
  ASSERT_EQ(lgw__jv_get(&root, "c", &v), 0);
  ASSERT_EQ(lgw__jv_eq(&v, "2", &eq), 0);
  ASSERT_EQ(eq, 0);
  ASSERT_EQ(lgw__jv_get(&root, "missing", &v), 0);
  ASSERT_EQ(v.type, LGW__JV_NONE);
}

TEST(reader_skips_members) {
  /* brackets and quotes inside strings do not end a skipped container */
  const char *doc = "{\"a\":[{\"x\":\"]}\\\"[{\"},[\"}\"]],\"k\\u0062\":1,"
                    "\"b\":\"tail\",\"k\\u0063\":2}";
  const char *keys[] = {"b", "c"};
  lgw__jv_t root, v[2];
  lgw__buf_t b;
  ASSERT_EQ(lgw__jv_root(doc, strlen(doc), &root), 0);
  ASSERT_EQ(lgw__jv_get(&root, "a", &v[0]), 0);
  ASSERT_EQ(v[0].type, LGW__JV_ARR);
  /* a key with an escape before the wanted one: only a tree can tell */
  ASSERT_EQ(lgw__jv_getv(&root, keys, v, 2), LGW__JV_UNSURE);
  doc = "{\"a\":[{\"x\":\"]}\\\"[{\"},[\"}\"]],\"bb\":0,\"b\":\"tail\"}";
  ASSERT_EQ(lgw__jv_root(doc, strlen(doc), &root), 0);
  ASSERT_EQ(lgw__jv_getv(&root, keys, v, 2), 0);
  ASSERT_EQ(v[0].type, LGW__JV_STR);
  ASSERT_EQ(v[1].type, LGW__JV_NONE);
  lgw__buf_init(&b);
  ASSERT_EQ(lgw__jv_str(&v[0], &b), 0);
  ASSERT_STREQ(b.data, "tail");
  b.len = 0;
  ASSERT_EQ(lgw__jv_get(&root, "a", &v[0]), 0);
  lgw__jv_first(&v[0], &v[1]);
  ASSERT_EQ(lgw__jv_get(&v[1], "x", &v[0]), 0);
  ASSERT_EQ(lgw__jv_str(&v[0], &b), 0);
  ASSERT_STREQ(b.data, "]}\"[{");
  lgw__buf_free(&b);
}

/* lgw__jv_read of {"a": {"x": .., "y": ..}, "b": [{"z": ..}], "c": ..}
 * against lgw__jv_root and lgw__jv_get / lgw__jv_first: each slot as
 * "type:text" (the text as the value's exact n bytes), "-" for NONE. */
enum { R_A, R_X, R_Y, R_B, R_B0, R_Z, R_C, R_N };
static const lgw__jv_pick_t r_a[] = {{"x", 1, R_X, 0, NULL},
                                     {"y", 1, R_Y, 0, NULL}};
static const lgw__jv_pick_t r_z[] = {{"z", 1, R_Z, 0, NULL}};
static const lgw__jv_pick_t r_b[] = {{NULL, 0, R_B0, 1, r_z}};
static const lgw__jv_pick_t r_top[] = {
  {"a", 1, R_A, 2, r_a}, {"b", 1, R_B, 1, r_b}, {"c", 1, R_C, 0, NULL}};

static void slots_text(char *out, size_t cap, const lgw__jv_t *v, size_t n) {
  size_t i, k = 0;
  out[0] = '\0';
  for (i = 0; i < n && k < cap; i++) {
    if (v[i].type == LGW__JV_NONE)
      k += (size_t)snprintf(out + k, cap - k, "%s-", i ? " " : "");
    else
      k += (size_t)snprintf(out + k, cap - k, "%s%d:%.*s", i ? " " : "",
                            (int)v[i].type, (int)v[i].n, v[i].p);
  }
}

/* The exact length of a value found by the walk: up to its end. */
static void walk_measure(lgw__jv_t *v) {
  lgw__jv_t outer;
  const char *body;
  if (v->type == LGW__JV_NONE) return;
  body = v->p;
  /* the value is a whole document of its own: validate it as a root to
   * find its end, shrinking from the document's end */
  for (; v->n > 0; v->n--)
    if (!lgw__jv_root(body, v->n, &outer)) break;
  while (v->n > 0 && strchr(" \t\r\n", body[v->n - 1])) v->n--;
}

static const char *read_both(const char *doc) {
  static char out[600];
  char one[280], walked[280];
  lgw__jv_t v[R_N], w[R_N], root;
  size_t i;
  int rc = lgw__jv_read(doc, strlen(doc), r_top, 3, v, R_N);
  if (rc) return "UNSURE";
  slots_text(one, sizeof one, v, R_N);
  /* the same by walking, after validating the document as a root */
  if (lgw__jv_root(doc, strlen(doc), &root)) return "ROOT UNSURE";
  if (lgw__jv_get(&root, "a", &w[R_A]) || lgw__jv_get(&root, "b", &w[R_B]) ||
      lgw__jv_get(&root, "c", &w[R_C]) || lgw__jv_get(&w[R_A], "x", &w[R_X]) ||
      lgw__jv_get(&w[R_A], "y", &w[R_Y]))
    return "WALK UNSURE";
  lgw__jv_first(&w[R_B], &w[R_B0]);
  if (lgw__jv_get(&w[R_B0], "z", &w[R_Z])) return "WALK UNSURE";
  for (i = 0; i < R_N; i++) walk_measure(&w[i]);
  slots_text(walked, sizeof walked, w, R_N);
  if (strcmp(one, walked) != 0) {
    snprintf(out, sizeof out, "%s != %s", one, walked);
    return out;
  }
  snprintf(out, sizeof out, "%s", one);
  return out;
}

TEST(reader_one_pass) {
  ASSERT_STREQ(read_both("{\"a\":{\"x\":1,\"y\":\"s\"},\"b\":[{\"z\":true},"
                         "{\"z\":false}],\"c\":null}"),
               "7:{\"x\":1,\"y\":\"s\"} 4:1 5:\"s\" "
               "6:[{\"z\":true},{\"z\":false}] 7:{\"z\":true} 3:true 1:null");
  /* other orders, other members, whitespace, nesting */
  ASSERT_STREQ(read_both(" { \"q\" : [ { \"a\" : 1 } ] , \"c\" : [ 1 , 2 ] ,"
                         " \"b\" : [ [ ] , { \"z\" : 2 } ] , \"a\" : {"
                         " \"y\" : { \"x\" : 3 } , \"x\" : -1.5e3 } } "),
               "7:{ \"y\" : { \"x\" : 3 } , \"x\" : -1.5e3 } 4:-1.5e3 "
               "7:{ \"x\" : 3 } 6:[ [ ] , { \"z\" : 2 } ] 6:[ ] - "
               "6:[ 1 , 2 ]");
  /* the first occurrence wins, at every level and whatever its type */
  ASSERT_STREQ(read_both("{\"a\":5,\"a\":{\"x\":1},\"b\":[{\"z\":1,\"z\":2}],"
                         "\"b\":[{\"z\":3}],\"c\":\"1\",\"c\":\"2\"}"),
               "4:5 - - 6:[{\"z\":1,\"z\":2}] 7:{\"z\":1,\"z\":2} 4:1 "
               "5:\"1\"");
  /* wrong types inside: nothing picked below them */
  ASSERT_STREQ(read_both("{\"a\":[{\"x\":1}],\"b\":{\"z\":1}}"),
               "6:[{\"x\":1}] - - 7:{\"z\":1} - - -");
  ASSERT_STREQ(read_both("[{\"a\":1}]"), "- - - - - - -");
  ASSERT_STREQ(read_both("\"a\""), "- - - - - - -");
  /* escapes: in values they are fine, in keys where picks are looked
   * for only a tree can tell, elsewhere they do not matter */
  ASSERT_STREQ(read_both("{\"c\":\"\\u00e9\\\"\",\"q\":{\"\\u0061\":1}}"),
               "- - - - - - 5:\"\\u00e9\\\"\"");
  ASSERT_STREQ(lgw__jv_read("{\"\\u0061\":1}", 12, r_top, 3, NULL, 0) ? "U"
                                                                       : "0",
               "U");
  ASSERT_STREQ(read_both("{\"a\":{\"x\":1,\"\\n\":2}}"), "UNSURE");
  ASSERT_STREQ(read_both("{\"b\":[{\"\\\"\":2}]}"), "UNSURE");
  /* not JSON, or not as cJSON reads it */
  ASSERT_STREQ(read_both("{\"a\":{\"x\":1}"), "UNSURE");
  ASSERT_STREQ(read_both("{\"a\":{\"x\":01}}"), "UNSURE");
  ASSERT_STREQ(read_both("{\"a\":{\"x\":\"\\ud800\"}}"), "UNSURE");
  ASSERT_STREQ(read_both("{\"c\":\"tab\there\"}"), "UNSURE");
  ASSERT_STREQ(read_both("{\"c\":1} 2"), "UNSURE");
  ASSERT_STREQ(read_both("\xEF\xBB\xBF{}"), "UNSURE");
  ASSERT_STREQ(read_both(""), "UNSURE");
  /* strings of every length around the eight-byte scan, with a quote, a
   * backslash or a control byte at each place */
  {
    char doc[64], val[40];
    size_t n, at;
    for (n = 0; n < 20; n++) {
      memset(val, 'v', n);
      val[n] = '\0';
      snprintf(doc, sizeof doc, "{\"c\":\"%s\",\"a\":{}}", val);
      ASSERT_EQ(strlen(read_both(doc)) > 6, 1);
      for (at = 0; at < n; at++) {
        lgw__jv_t v[R_N];
        val[at] = '\\';
        snprintf(doc, sizeof doc, "{\"c\":\"%s\"}", val);
        ASSERT_EQ(lgw__jv_read(doc, strlen(doc), r_top, 3, v, R_N),
                  LGW__JV_UNSURE);
        val[at] = '\x1f';
        snprintf(doc, sizeof doc, "{\"c\":\"%s\"}", val);
        ASSERT_EQ(lgw__jv_read(doc, strlen(doc), r_top, 3, v, R_N),
                  LGW__JV_UNSURE);
        val[at] = '"';
        snprintf(doc, sizeof doc, "{\"c\":\"%s\"}", val);
        ASSERT_EQ(lgw__jv_read(doc, strlen(doc), r_top, 3, v, R_N),
                  LGW__JV_UNSURE);
        val[at] = '\xc3';
        snprintf(doc, sizeof doc, "{\"c\":\"%s\"}", val);
        ASSERT_EQ(lgw__jv_read(doc, strlen(doc), r_top, 3, v, R_N), 0);
        ASSERT_EQ(v[R_C].n, n + 2);
        val[at] = 'v';
      }
    }
  }
}

/* Strings decoded eight bytes at a time: an escape at each place of
 * strings around the word size, also where the value's n runs on to the
 * end of the document. */
TEST(reader_decodes_by_words) {
  static const char *const esc[] = {"\\n", "\\\"", "\\u00e9", "\\\\"};
  static const char *const dec[] = {"\n", "\"", "\xc3\xa9", "\\"};
  char doc[96], want[64];
  size_t n, at, k;
  for (n = 1; n < 26; n++)
    for (at = 0; at <= n; at++)
      for (k = 0; k < 4; k++) {
        lgw__jv_t root, v;
        lgw__buf_t b;
        int len = snprintf(doc, sizeof doc, "{\"c\":\"%.*s%s%.*s\",\"d\":1}",
                           (int)at, "abcdefghijklmnopqrstuvwxyz", esc[k],
                           (int)(n - at), "ABCDEFGHIJKLMNOPQRSTUVWXYZ");
        snprintf(want, sizeof want, "%.*s%s%.*s", (int)at,
                 "abcdefghijklmnopqrstuvwxyz", dec[k], (int)(n - at),
                 "ABCDEFGHIJKLMNOPQRSTUVWXYZ");
        ASSERT_EQ(lgw__jv_root(doc, (size_t)len, &root), 0);
        ASSERT_EQ(lgw__jv_get(&root, "c", &v), 0);
        lgw__buf_init(&b);
        ASSERT_EQ(lgw__jv_str(&v, &b), 0);
        ASSERT_STREQ(b.data, want);
        ASSERT_EQ(b.len, strlen(want));
        lgw__buf_free(&b);
      }
}

/* Strings scanned by blocks (16 or 8 bytes, then one by one): a control
 * byte anywhere makes the document invalid, a byte from 0x80 up (valid
 * UTF-8) is kept, '"' ends the string, and the reader decodes the same
 * text wherever the string sits in the document. */
TEST(reader_strings_by_blocks) {
  char doc[160], s[64];
  size_t n, at, pad;
  for (pad = 0; pad < 20; pad += 3)
    for (n = 1; n < 48; n++)
      for (at = 0; at < n; at++) {
        lgw__jv_t root, v;
        lgw__buf_t b;
        int len;
        unsigned char c;
        static const unsigned char bad[] = {0x00, 0x01, 0x0a, 0x1f};
        size_t k;
        /* a control byte at `at`: invalid, never read as text */
        for (k = 0; k < sizeof bad; k++) {
          memset(s, 'a' + (int)(n % 26), n);
          s[at] = (char)bad[k];
          len = snprintf(doc, sizeof doc, "{\"p\":\"%.*s\",\"c\":\"", (int)pad,
                         "01234567890123456789");
          memcpy(doc + len, s, n);
          len += (int)n;
          len += snprintf(doc + len, sizeof doc - (size_t)len, "\",\"d\":1}");
          ASSERT_EQ(lgw__jv_root(doc, (size_t)len, &root), LGW__JV_UNSURE);
        }
        /* bytes 0x20-0x7F but '"' and '\\', and a two-byte sequence at
         * `at`: the text as it is */
        for (c = 0x20; c < 0x80; c = (unsigned char)(c + 0x1d)) {
          if (c == '"' || c == '\\') continue;
          memset(s, 'a' + (int)(n % 26), n);
          s[at] = (char)c;
          if (at + 1 < n && c > 0x70) {
            s[at] = '\xc3';
            s[at + 1] = '\xa9';
          }
          len = snprintf(doc, sizeof doc, "{\"p\":\"%.*s\",\"c\":\"%.*s\","
                         "\"d\":1}", (int)pad, "01234567890123456789", (int)n,
                         s);
          ASSERT_EQ(lgw__jv_root(doc, (size_t)len, &root), 0);
          ASSERT_EQ(lgw__jv_get(&root, "c", &v), 0);
          lgw__buf_init(&b);
          ASSERT_EQ(lgw__jv_str(&v, &b), 0);
          ASSERT_EQ(b.len, n);
          ASSERT(memcmp(b.data, s, n) == 0);
          lgw__buf_free(&b);
        }
      }
}

TEST(reader_two_documents) {
  /* values of a document stay readable after another one was read, also
   * one inside it */
  const char *one = "{\"a\":{\"x\":[1,{\"y\":2}]},\"b\":7}";
  const char *two = "[[\"]\"],{}]";
  lgw__jv_t r1, r2, v;
  long n;
  ASSERT_EQ(lgw__jv_root(one, strlen(one), &r1), 0);
  ASSERT_EQ(lgw__jv_root(two, strlen(two), &r2), 0);
  ASSERT_EQ(lgw__jv_count(&r1, "b", &n), 0);
  ASSERT_EQ(n, 7);
  ASSERT_EQ(lgw__jv_root(one + 5, 17, &r2), 0);   /* {"x":[1,{"y":2}]} */
  ASSERT_EQ(r2.type, LGW__JV_OBJ);
  ASSERT_EQ(lgw__jv_count(&r1, "b", &n), 0);
  ASSERT_EQ(n, 7);
  ASSERT_EQ(lgw__jv_get(&r1, "a", &r2), 0);
  ASSERT_EQ(lgw__jv_get(&r2, "x", &v), 0);
  lgw__jv_first(&v, &r2);
  lgw__jv_next(&r2);
  ASSERT_EQ(lgw__jv_count(&r2, "y", &n), 0);
  ASSERT_EQ(n, 2);
  lgw__jv_next(&r2);
  ASSERT_EQ(r2.type, LGW__JV_NONE);
}

/* The reply of transport t for body, as one line with its tool calls. */
static const char *line(const lgw__transport_t *t, const char *body,
                        size_t len) {
  static char out[2048];
  lgw__reply_t r;
  lgw_error_t err;
  size_t k, i;
  int rc;
  memset(&r, 0, sizeof r);
  memset(&err, 0, sizeof err);
  rc = t->parse(body, len, "application/json", &r, &err);
  if (rc) {
    snprintf(out, sizeof out, "ERR %d %d: %s", rc, err.http_status,
             err.message);
    lgw__reply_free(&r);
    return out;
  }
  k = (size_t)snprintf(out, sizeof out, "text=");
  for (i = 0; i < r.text_len && k < sizeof out - 8; i++)
    k += (size_t)snprintf(out + k, sizeof out - k, r.text[i] ? "%c" : "\\0",
                          r.text[i]);
  k += (size_t)snprintf(out + k, sizeof out - k,
                        " finish=%s refusal=%s usage=%ld/%ld/%ld/%ld",
                        r.finish_reason ? r.finish_reason : "-",
                        r.refusal ? r.refusal : "-", r.input_tokens,
                        r.output_tokens, r.cached_tokens, r.reasoning_tokens);
  for (i = 0; i < r.calls.n && k < sizeof out; i++)
    k += (size_t)snprintf(out + k, sizeof out - k, " call %ld [%s] [%s] %s",
                          r.calls.v[i].key, r.calls.v[i].id,
                          r.calls.v[i].name,
                          r.calls.v[i].args.data ? r.calls.v[i].args.data
                                                 : "");
  lgw__reply_free(&r);
  return out;
}

/* body's reply read in place equals its reply through a cJSON tree, and
 * is `want`. */
static int agree(const lgw__transport_t *t, const char *body,
                 const char *want) {
  char in_place[2048], *bom;
  size_t n = strlen(body);
  int ok;
  snprintf(in_place, sizeof in_place, "%s", line(t, body, n));
  bom = malloc(n + 3);
  memcpy(bom, "\xEF\xBB\xBF", 3);
  memcpy(bom + 3, body, n);
  ok = strcmp(in_place, line(t, bom, n + 3)) == 0;
  if (!ok)
    fprintf(stderr, "  in place: %s\n  tree:     %s\n", in_place,
            line(t, bom, n + 3));
  free(bom);
  if (ok && strcmp(in_place, want) != 0) {
    fprintf(stderr, "  got:      %s\n  expected: %s\n", in_place, want);
    ok = 0;
  }
  return ok;
}

TEST(responses_in_place_as_tree) {
  const lgw__transport_t *t = &lgw__transport_responses;
  ASSERT(agree(t, "{\"status\":\"completed\",\"output\":[{\"type\":"
                  "\"message\",\"content\":[{\"type\":\"output_text\","
                  "\"text\":\"a\"},{\"type\":\"output_text\",\"text\":\"\"},"
                  "\"b\",7]},{\"type\":\"message\",\"content\":\"c\\u0000\"}],"
                  "\"usage\":{\"input_tokens\":3,\"output_tokens\":4,"
                  "\"input_tokens_details\":{\"cached_tokens\":1},"
                  "\"output_tokens_details\":{\"reasoning_tokens\":2}}}",
               "text=a\nb\nc\\0 finish=stop refusal=- usage=3/4/1/2"));
  /* a refusal part, and output_text that wins over the items' text */
  ASSERT(agree(t, "{\"status\":\"completed\",\"output_text\":\"top\","
                  "\"output\":[{\"content\":[{\"type\":\"refusal\","
                  "\"refusal\":\"no\"},{\"type\":\"refusal\",\"refusal\":"
                  "\"never\"},{\"text\":\"item\"}]}]}",
               "text=top finish=stop refusal=no\nnever usage=-1/-1/-1/-1"));
  /* function calls keep their place in the output; blank ids and names
   * stay "" */
  ASSERT(agree(t, "{\"status\":\"completed\",\"output\":[{\"type\":"
                  "\"reasoning\"},{\"type\":\"function_call\",\"call_id\":"
                  "\"c1\",\"name\":\"f\",\"arguments\":\"{\\\"x\\\":1}\"},"
                  "{\"type\":\"function_call\",\"call_id\":\"\",\"name\":7,"
                  "\"arguments\":{}}]}",
               "text= finish=tool_calls refusal=- usage=-1/-1/-1/-1 "
               "call 1 [c1] [f] {\"x\":1} call 2 [] [] "));
  ASSERT(agree(t, "{\"status\":\"incomplete\",\"incomplete_details\":"
                  "{\"reason\":\"max_output_tokens\"},\"output\":[{"
                  "\"content\":[{\"text\":\"cut\"}]}]}",
               "text=cut finish=length refusal=- usage=-1/-1/-1/-1"));
  /* no text: the error object inside a 2xx answer */
  ASSERT(agree(t, "{\"status\":\"failed\",\"output\":[],\"error\":{"
                  "\"code\":\"rate_limit_exceeded\",\"message\":\"slow\"}}",
               "ERR -7 429: error object in a 2xx answer: "
               "rate_limit_exceeded: slow"));
  /* shapes read only through the tree */
  ASSERT(agree(t, "{\"response\":{\"output_text\":\"nested\"}}",
               "text=nested finish=- refusal=- usage=-1/-1/-1/-1"));
  ASSERT(agree(t, "{\"output\":[{\"content\":{\"text\":\"obj\"}}],"
                  "\"usage\":{\"input_tokens\":1.0}}",
               "text= finish=- refusal=- usage=1/-1/-1/-1"));
}

TEST(anthropic_in_place_as_tree) {
  const lgw__transport_t *t = &lgw__transport_anthropic;
  ASSERT(agree(t, "{\"type\":\"message\",\"content\":[{\"type\":"
                  "\"thinking\",\"thinking\":\"hm\"},{\"type\":\"Text\","
                  "\"text\":\"a\"},{\"type\":\"text\",\"text\":\"\"},"
                  "{\"type\":\"text\",\"text\":\"b\"}],\"stop_reason\":"
                  "\"end_turn\",\"usage\":{\"input_tokens\":5,"
                  "\"output_tokens\":6,\"cache_read_input_tokens\":2,"
                  "\"output_tokens_details\":{\"thinking_tokens\":3}}}",
               "text=a\nb finish=stop refusal=- usage=5/6/2/3"));
  /* no text block: the other blocks' text */
  ASSERT(agree(t, "{\"content\":[{\"type\":\"other\",\"text\":\"x\"},"
                  "\"skip\"],\"stop_reason\":\"max_tokens\"}",
               "text=x finish=length refusal=- usage=-1/-1/-1/-1"));
  ASSERT(agree(t, "{\"content\":[{\"type\":\"text\",\"text\":\"I can't\"}],"
                  "\"stop_reason\":\"refusal\"}",
               "text=I can't finish=content_filter refusal=I can't "
               "usage=-1/-1/-1/-1"));
  /* tool inputs as cJSON prints them: in place when the text is that,
   * through the tree when not */
  ASSERT(agree(t, "{\"content\":[{\"type\":\"tool_use\",\"id\":\"t1\","
                  "\"name\":\"f\",\"input\":{\"a\":[1,-2,true,null,\"\xC3"
                  "\xA9\"],\"b\":{}}},{\"type\":\"tool_use\",\"id\":\"\","
                  "\"input\":{ \"x\": 1.50, \"n\": -0, \"s\": \"q\\\"\\u00e9\","
                  "\"big\": 12345678901 }},{\"type\":\"tool_use\"}],"
                  "\"stop_reason\":\"tool_use\"}",
               "text= finish=tool_calls refusal=- usage=-1/-1/-1/-1 "
               "call 0 [t1] [f] {\"a\":[1,-2,true,null,\"\xC3\xA9\"],"
               "\"b\":{}} call 1 [] [] {\"x\":1.5,\"n\":-0,\"s\":\"q\\\"\xC3"
               "\xA9\",\"big\":12345678901} call 2 [] [] "));
  ASSERT(agree(t, "{\"type\":\"error\",\"error\":{\"type\":"
                  "\"overloaded_error\",\"message\":\"busy\"}}",
               "ERR -7 529: overloaded_error: busy"));
}

TEST(chat_in_place_as_tree) {
  ASSERT(agree(&lgw__transport_chat,
               "{\"choices\":[{\"index\":0,\"message\":{\"content\":"
               "\"hi\\u0000\"},\"finish_reason\":\"length\"}],\"usage\":{"
               "\"prompt_tokens\":1,\"completion_tokens\":2,"
               "\"completion_tokens_details\":{\"reasoning_tokens\":1}}}",
               "text=hi\\0 finish=length refusal=- usage=1/2/-1/1"));
}

/* The text a stream of events gives (the events' data, NUL-separated in
 * events), its parts as the text shows them; with tree set, each event
 * starts with a member whose key has an escape, which the reader leaves
 * to the cJSON tree. */
static const char *stream_text(const lgw__transport_t *t, const char *const *ev,
                               size_t n, int tree) {
  static char out[1200];
  lgw__stream_t s;
  lgw__reply_t r;
  lgw_error_t err;
  size_t i;
  int rc = 0;
  lgw__stream_init(&s);
  memset(&r, 0, sizeof r);
  for (i = 0; !rc && i < n; i++) {
    char data[512];
    snprintf(data, sizeof data, "%s%s", tree ? "{\"\\u0061\":0," : "{",
             ev[i] + 1);
    s.delta.len = 0;
    s.event = "";
    memset(&err, 0, sizeof err);
    rc = t->stream_event(&s, data, strlen(data), &err);
  }
  rc = rc ? rc : lgw__stream_take(&s, &r);
  if (rc) snprintf(out, sizeof out, "ERR %d: %s", rc, err.message);
  else snprintf(out, sizeof out, "%s|%s", r.text, s.done ? "done" : "open");
  lgw__reply_free(&r);
  lgw__stream_free(&s);
  return out;
}

TEST(stream_deltas_in_place_as_tree) {
  static const char *const anthropic[] = {
      "{\"type\":\"content_block_delta\",\"index\":0,\"delta\":{\"type\":"
      "\"text_delta\",\"text\":\"He\"}}",
      "{\"type\":\"content_block_delta\",\"index\":0,\"delta\":{\"type\":"
      "\"text_delta\",\"text\":\"llo \\u00e9\\n\"}}",
      "{\"type\":\"content_block_delta\",\"index\":1,\"delta\":{\"type\":"
      "\"thinking_delta\",\"thinking\":\"hm\"}}",
      "{\"type\":\"content_block_delta\",\"index\":2,\"delta\":{\"type\":"
      "\"text_delta\",\"text\":\"next\"}}",
      "{\"type\":\"content_block_delta\",\"delta\":{\"type\":"
      "\"text_delta\",\"text\":\"no index\"}}",
      "{\"type\":\"message_stop\"}"};
  static const char *const responses[] = {
      "{\"type\":\"response.output_text.delta\",\"output_index\":0,"
      "\"content_index\":0,\"delta\":\"A\"}",
      "{\"type\":\"response.output_text.delta\",\"output_index\":0,"
      "\"content_index\":0,\"delta\":\"\\\"b\\\"\"}",
      "{\"type\":\"response.output_text.delta\",\"output_index\":1,"
      "\"content_index\":0,\"delta\":\"\"}",
      "{\"type\":\"response.output_text.delta\",\"output_index\":1,"
      "\"content_index\":1,\"delta\":\"c\"}",
      "{\"type\":\"response.completed\",\"response\":{\"status\":"
      "\"completed\"}}"};
  char in_place[1200];
  ASSERT_STREQ(stream_text(&lgw__transport_anthropic, anthropic, 6, 0),
               "Hello \xC3\xA9\n\nnext\nno index|done");
  snprintf(in_place, sizeof in_place, "%s",
           stream_text(&lgw__transport_anthropic, anthropic, 6, 0));
  ASSERT_STREQ(stream_text(&lgw__transport_anthropic, anthropic, 6, 1),
               in_place);
  ASSERT_STREQ(stream_text(&lgw__transport_responses, responses, 5, 0),
               "A\"b\"\nc|done");
  snprintf(in_place, sizeof in_place, "%s",
           stream_text(&lgw__transport_responses, responses, 5, 0));
  ASSERT_STREQ(stream_text(&lgw__transport_responses, responses, 5, 1),
               in_place);
}

int main(void) {
  RUN(writer_ensure_ascii_as_python);
  RUN(writer_utf8_kept_invalid_replaced);
  RUN(writer_spans);
  RUN(reader_walks_arrays);
  RUN(reader_strings);
  RUN(reader_skips_members);
  RUN(reader_one_pass);
  RUN(reader_decodes_by_words);
  RUN(reader_strings_by_blocks);
  RUN(reader_two_documents);
  RUN(responses_in_place_as_tree);
  RUN(anthropic_in_place_as_tree);
  RUN(chat_in_place_as_tree);
  RUN(stream_deltas_in_place_as_tree);
  return TEST_SUMMARY();
}
