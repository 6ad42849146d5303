/*
 * json_extract.c -- finding the JSON value in a model's answer. A strict
 * parser with Python's json error messages and positions (it builds cJSON
 * nodes itself, iteratively, so hostile nesting never deepens the C stack),
 * and the extractor: whole text, Python's leading-fence rule, fenced blocks
 * anywhere, then the first balanced object or array inside prose.
 */
#include "json_extract.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "json.h"
#include "util.h"

#define MAX_DEPTH 10000

/* ---- positions and errors ----------------------------------------------- */

/* Python reports positions in code points: count UTF-8 lead bytes. */
void lgw__json_pos(const char *s, size_t pos, char *out, size_t cap) {
  size_t i, line = 1, col = 1, chars = 0;
  for (i = 0; i < pos; i++) {
    unsigned char c = (unsigned char)s[i];
    if ((c & 0xC0) == 0x80) continue;
    chars++;
    if (c == '\n') {
      line++;
      col = 1;
    } else {
      col++;
    }
  }
  snprintf(out, cap, "line %zu column %zu (char %zu)", line, col, chars);
}

static int fail_at(lgw_error_t *err, const char *s, size_t pos,
                   const char *what) {
  char where[96];
  lgw__json_pos(s, pos, where, sizeof where);
  return lgw__error_set(err, LGW_EJSON, "JSON parse error: %s: %s", what,
                        where);
}

/* ---- strict parser ------------------------------------------------------ */

typedef struct parser {
  const char *s;
  size_t n, pos;
  lgw_error_t *err;
  int oom;  /* an allocation failed: the result is LGW_ENOMEM */
} parser_t;

/* Records an allocation failure; returns NULL for the caller to pass on. */
static void *out_of_memory(parser_t *P) {
  P->oom = 1;
  lgw__error_set(P->err, LGW_ENOMEM, "JSON parse error: out of memory");
  return NULL;
}

/* node, or the allocation failure recorded when it is NULL. */
static cJSON *made(parser_t *P, cJSON *node) {
  return node ? node : out_of_memory(P);
}

/* An open container. An object's members are found by a linear scan
 * while it has at most SCAN_MAX of them, then through tab, an open
 * addressing table of its members by key (no deletions: a repeated key
 * replaces the member in its slot). */
#define SCAN_MAX 16

typedef struct frame {
  cJSON *node;
  char *key;     /* object member awaiting its value; owned */
  size_t count;  /* object members */
  cJSON **tab;   /* owned; NULL while count <= SCAN_MAX */
  size_t tcap;   /* power of two */
} frame_t;

static int is_ws(char c) {
  return c == ' ' || c == '\t' || c == '\n' || c == '\r';
}

static void skip_ws(parser_t *P) {
  while (P->pos < P->n && is_ws(P->s[P->pos])) P->pos++;
}

/* cp as UTF-8 appended to b. */
static int add_utf8(lgw__buf_t *b, unsigned long cp) {
  char u[4];
  return lgw__buf_add(b, u, (size_t)(lgw__utf8_put(u, cp) - u));
}

/* A string whose opening quote is at P->pos, as CPython's scanstring.
 * Returns a new string (lgw_free) and its length in *len (it may hold an
 * escaped NUL), or NULL with the error set. A lone surrogate escape,
 * which UTF-8 cannot hold, becomes U+FFFD. */
static char *parse_string(parser_t *P, size_t *len) {
  const char *s = P->s;
  size_t begin = P->pos, i = P->pos + 1, n = P->n;
  lgw__buf_t b;
  while (i < n && s[i] != '"' && s[i] != '\\' && (unsigned char)s[i] >= 0x20)
    i++;
  if (i < n && s[i] == '"') {
    /* no escapes: one allocation of the exact size */
    char *out = lgw__strndup(s + begin + 1, i - begin - 1);
    if (!out) return out_of_memory(P);
    P->pos = i + 1;
    *len = i - begin - 1;
    return out;
  }
  i = begin + 1;
  lgw__buf_init(&b);
  for (;;) {
    size_t run = i;
    unsigned long cp, lo;
    while (i < n && s[i] != '"' && s[i] != '\\' &&
           (unsigned char)s[i] >= 0x20)
      i++;
    if (lgw__buf_add(&b, s + run, i - run)) goto nomem;
    if (i >= n) {
      fail_at(P->err, s, begin, "Unterminated string starting at");
      goto bad;
    }
    if (s[i] == '"') break;
    if (s[i] != '\\') {
      fail_at(P->err, s, i, "Invalid control character at");
      goto bad;
    }
    if (i + 1 >= n) {
      fail_at(P->err, s, begin, "Unterminated string starting at");
      goto bad;
    }
    if (s[i + 1] != 'u') {
      static const char from[] = "\"\\/bfnrt", to[] = "\"\\/\b\f\n\r\t";
      const char *e = strchr(from, s[i + 1]);
      if (!e || !s[i + 1]) {
        fail_at(P->err, s, i, "Invalid \\escape");
        goto bad;
      }
      if (lgw__buf_addc(&b, to[e - from])) goto nomem;
      i += 2;
      continue;
    }
    /* As CPython: the four digits must be followed by at least one more
     * character (the string is unterminated otherwise). */
    if (i + 6 >= n || !lgw__hex4(s + i + 2, &cp)) {
      fail_at(P->err, s, i + 1, "Invalid \\uXXXX escape");
      goto bad;
    }
    i += 6;
    if (cp >= 0xD800 && cp <= 0xDBFF && i + 6 < n && s[i] == '\\' &&
        s[i + 1] == 'u') {
      if (!lgw__hex4(s + i + 2, &lo)) {
        fail_at(P->err, s, i + 1, "Invalid \\uXXXX escape");
        goto bad;
      }
      if (lo >= 0xDC00 && lo <= 0xDFFF) {
        cp = 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00);
        i += 6;
      }
    }
    if (cp >= 0xD800 && cp <= 0xDFFF) cp = 0xFFFD;
    if (add_utf8(&b, cp)) goto nomem;
  }
  P->pos = i + 1;
  if (!b.data && lgw__buf_reserve(&b, 0)) goto nomem;
  *len = b.len;
  return b.data;
nomem:
  out_of_memory(P);
bad:
  lgw__buf_free(&b);
  return NULL;
}

static int is_digit(char c) { return c >= '0' && c <= '9'; }

/* A number or named constant at P->pos, as CPython's scanner. */
static cJSON *parse_scalar(parser_t *P) {
  static const struct { const char *word; int kind; double num; } words[] = {
      {"null", cJSON_NULL, 0}, {"true", cJSON_True, 0},
      {"false", cJSON_False, 0}, {"NaN", cJSON_Number, 0},
      {"Infinity", cJSON_Number, 1}, {"-Infinity", cJSON_Number, -1}};
  const char *s = P->s;
  size_t start = P->pos, i = start, n = P->n, w;
  char tmp[64], *num;
  double v;
  for (w = 0; w < sizeof words / sizeof words[0]; w++) {
    size_t k = strlen(words[w].word);
    if (n - start >= k && memcmp(s + start, words[w].word, k) == 0) {
      P->pos = start + k;
      switch (words[w].kind) {
        case cJSON_NULL: return made(P, cJSON_CreateNull());
        case cJSON_True: return made(P, cJSON_CreateTrue());
        case cJSON_False: return made(P, cJSON_CreateFalse());
        default:
          return made(P, cJSON_CreateNumber(words[w].num == 0
                                                ? NAN
                                                : words[w].num * INFINITY));
      }
    }
  }
  if (i < n && s[i] == '-') i++;
  if (i < n && s[i] >= '1' && s[i] <= '9') {
    while (i < n && is_digit(s[i])) i++;
  } else if (i < n && s[i] == '0') {
    i++;
  } else {
    fail_at(P->err, s, start, "Expecting value");
    return NULL;
  }
  if (i + 1 < n && s[i] == '.' && is_digit(s[i + 1])) {
    i += 2;
    while (i < n && is_digit(s[i])) i++;
  }
  if (i + 1 < n && (s[i] == 'e' || s[i] == 'E')) {
    size_t e = i++;
    if (i + 1 < n && (s[i] == '-' || s[i] == '+')) i++;
    while (i < n && is_digit(s[i])) i++;
    if (!is_digit(s[i - 1])) i = e;
  }
  num = i - start < sizeof tmp ? tmp : lgw__strndup(s + start, i - start);
  if (!num) return out_of_memory(P);
  if (num == tmp) {
    memcpy(tmp, s + start, i - start);
    tmp[i - start] = '\0';
  }
  v = strtod(num, NULL);
  if (num != tmp) lgw_free(num);
  P->pos = i;
  return made(P, cJSON_CreateNumber(v));
}

/* After '{' or ',' inside an object: whitespace, a key, ':' and whitespace.
 * Returns the key (lgw_free) or NULL with the error set. */
static char *parse_member_key(parser_t *P) {
  char *key;
  size_t len;
  if (P->pos >= P->n || P->s[P->pos] != '"') {
    fail_at(P->err, P->s, P->pos,
            "Expecting property name enclosed in double quotes");
    return NULL;
  }
  key = parse_string(P, &len);
  if (!key) return NULL;
  skip_ws(P);
  if (P->pos >= P->n || P->s[P->pos] != ':') {
    fail_at(P->err, P->s, P->pos, "Expecting ':' delimiter");
    lgw_free(key);
    return NULL;
  }
  P->pos++;
  skip_ws(P);
  return key;
}

static size_t key_hash(const char *key) {
  size_t h = 2166136261u;
  for (; *key; key++) h = (h ^ (unsigned char)*key) * 16777619u;
  return h;
}

/* The slot of key in tab: its member, or the empty slot to fill. */
static cJSON **tab_slot(cJSON **tab, size_t cap, const char *key) {
  size_t i = key_hash(key) & (cap - 1);
  while (tab[i] && strcmp(tab[i]->string, key) != 0) i = (i + 1) & (cap - 1);
  return &tab[i];
}

/* (Re)build f's table, at most half full, from the object's members. */
static int tab_build(frame_t *f, size_t cap) {
  cJSON **tab = lgw__calloc(cap, sizeof *tab);
  const cJSON *c;
  if (!tab) return LGW_ENOMEM;
  for (c = f->node->child; c; c = c->next)
    *tab_slot(tab, cap, c->string) = (cJSON *)c;
  lgw_free(f->tab);
  f->tab = tab;
  f->tcap = cap;
  return 0;
}

/* Where f's member named key is recorded: *found gets the member or NULL;
 * the result is its table slot (NULL while f scans). */
static int find_member(frame_t *f, const char *key, cJSON **found,
                       cJSON ***slot) {
  cJSON *c;
  *found = NULL;
  *slot = NULL;
  if (f->count >= SCAN_MAX && (f->count + 1) * 2 > f->tcap &&
      tab_build(f, f->tcap ? f->tcap * 2 : 64))
    return LGW_ENOMEM;
  if (f->tab) {
    *slot = tab_slot(f->tab, f->tcap, key);
    *found = **slot;
    return 0;
  }
  for (c = f->node->child; c; c = c->next)
    if (strcmp(c->string, key) == 0) {
      *found = c;
      break;
    }
  return 0;
}

/* A container is closed or dropped: its table goes. */
static void frame_done(frame_t *f) {
  lgw_free(f->tab);
  f->tab = NULL;
}

/* Attach a finished value to the container of frame f. Duplicate keys: the
 * last value wins, in the first key's place (as a Python dict). */
static int attach(frame_t *f, cJSON *value) {
  cJSON *old, **slot;
  if (cJSON_IsArray(f->node)) {
    cJSON_AddItemToArray(f->node, value);
    return 0;
  }
  if (find_member(f, f->key, &old, &slot)) return LGW_ENOMEM;
  /* the member takes the key: lgw_malloc and cJSON share one allocator
   * (lgw_set_allocator sets both) */
  value->string = f->key;
  f->key = NULL;
  if (old) {
    lgw_free(value->string);
    value->string = old->string;
    old->string = NULL;
    cJSON_ReplaceItemViaPointer(f->node, old, value);
  } else {
    cJSON_AddItemToArray(f->node, value);  /* string already set */
    f->count++;
  }
  if (slot) *slot = value;
  return 0;
}

/* One value starting exactly at P->pos; P->pos ends just after it. */
static int parse_value(parser_t *P, cJSON **out) {
  frame_t *stack = NULL;
  size_t depth = 0, cap = 0;
  cJSON *value = NULL;
  int rc = LGW_EJSON;
  for (;;) {
    char c;
    if (P->pos >= P->n) {
      fail_at(P->err, P->s, P->pos, "Expecting value");
      goto done;
    }
    c = P->s[P->pos];
    if (c == '{' || c == '[') {
      frame_t *f;
      if (depth == MAX_DEPTH) {
        fail_at(P->err, P->s, P->pos, "nesting too deep at");
        goto done;
      }
      if (lgw__grow(&stack, depth, &cap, sizeof *stack, 16)) goto nomem;
      f = &stack[depth];
      f->key = NULL;
      f->count = 0;
      f->tab = NULL;
      f->tcap = 0;
      f->node = c == '{' ? cJSON_CreateObject() : cJSON_CreateArray();
      if (!f->node) goto nomem;
      depth++;
      P->pos++;
      skip_ws(P);
      if (P->pos < P->n && P->s[P->pos] == (c == '{' ? '}' : ']')) {
        P->pos++;
        value = f->node;
        depth--;
      } else {
        if (c == '{' && !(f->key = parse_member_key(P))) goto done;
        continue;
      }
    } else if (c == '"') {
      size_t len;
      char *str = parse_string(P, &len);
      if (!str) goto done;
      /* the node takes the string (one allocator, as for keys) */
      value = cJSON_CreateNull();
      if (!value) {
        lgw_free(str);
        goto nomem;
      }
      value->type = cJSON_String;
      value->valuestring = str;
      value->valuedouble = (double)len;  /* see lgw__json_strlen */
    } else if (!(value = parse_scalar(P))) {
      goto done;
    }
    /* A value is complete: attach it and close finished containers. */
    for (;;) {
      frame_t *f;
      int is_obj;
      if (!depth) {
        *out = value;
        value = NULL;
        rc = 0;
        goto done;
      }
      f = &stack[depth - 1];
      if (attach(f, value)) goto nomem;
      value = NULL;
      is_obj = cJSON_IsObject(f->node);
      skip_ws(P);
      if (P->pos < P->n && P->s[P->pos] == (is_obj ? '}' : ']')) {
        P->pos++;
        frame_done(f);
        value = f->node;
        depth--;
        continue;
      }
      if (P->pos >= P->n || P->s[P->pos] != ',') {
        fail_at(P->err, P->s, P->pos, "Expecting ',' delimiter");
        goto done;
      }
      P->pos++;
      skip_ws(P);
      if (is_obj && !(f->key = parse_member_key(P))) goto done;
      break;
    }
  }
nomem:
  out_of_memory(P);
done:
  if (P->oom) rc = LGW_ENOMEM;
  cJSON_Delete(value);
  while (depth--) {
    cJSON_Delete(stack[depth].node);
    lgw_free(stack[depth].key);
    frame_done(&stack[depth]);
  }
  lgw_free(stack);
  return rc;
}

int lgw__json_parse_strict(const char *text, size_t len, cJSON **out,
                           lgw_error_t *err) {
  parser_t P;
  cJSON *v = NULL;
  int rc;
  *out = NULL;
  if (lgw__cjson_load())  /* the first JSON parsed may be this one */
    return lgw__error_set(err, LGW_EIO, "%s", lgw__cjson_error());
  P.s = text ? text : "";
  P.n = text ? len : 0;
  P.pos = 0;
  P.err = err;
  P.oom = 0;
  skip_ws(&P);
  rc = parse_value(&P, &v);
  if (rc) return rc;
  skip_ws(&P);
  if (P.pos != P.n) {
    cJSON_Delete(v);
    return fail_at(err, P.s, P.pos, "Extra data");
  }
  *out = v;
  return 0;
}

size_t lgw__json_strlen(const cJSON *v) {
  return (size_t)v->valuedouble;
}

/* ---- Python-style whitespace and lines ---------------------------------- */

/* Byte length of the UTF-8 character at s, if Python's str.isspace() holds
 * for it; 0 otherwise. */
static size_t py_space(const char *s, size_t n) {
  const unsigned char *u = (const unsigned char *)s;
  if (!n) return 0;
  if ((u[0] >= 0x09 && u[0] <= 0x0D) || (u[0] >= 0x1C && u[0] <= 0x20))
    return 1;
  if (n >= 2 && u[0] == 0xC2 && (u[1] == 0x85 || u[1] == 0xA0)) return 2;
  if (n >= 3 && u[0] == 0xE1 && u[1] == 0x9A && u[2] == 0x80) return 3;
  if (n >= 3 && u[0] == 0xE2 && u[1] == 0x80 &&
      ((u[2] >= 0x80 && u[2] <= 0x8A) || u[2] == 0xA8 || u[2] == 0xA9 ||
       u[2] == 0xAF))
    return 3;
  if (n >= 3 && u[0] == 0xE2 && u[1] == 0x81 && u[2] == 0x9F) return 3;
  if (n >= 3 && u[0] == 0xE3 && u[1] == 0x80 && u[2] == 0x80) return 3;
  return 0;
}

/* Python str.strip() of [*s, *s + *n). */
static void py_strip(const char **s, size_t *n) {
  size_t k;
  while ((k = py_space(*s, *n)) != 0) {
    *s += k;
    *n -= k;
  }
  while (*n) {
    size_t start = *n - 1;
    while (start > 0 && ((unsigned char)(*s)[start] & 0xC0) == 0x80 &&
           *n - start < 4)
      start--;
    if (py_space(*s + start, *n - start) != *n - start) break;
    *n = start;
  }
}

/* Length of the line break at s (Python str.splitlines()), 0 if none. */
static size_t py_linebreak(const char *s, size_t n) {
  const unsigned char *u = (const unsigned char *)s;
  if (!n) return 0;
  if (u[0] == '\r') return n >= 2 && u[1] == '\n' ? 2 : 1;
  if (u[0] == '\n' || u[0] == 0x0B || u[0] == 0x0C ||
      (u[0] >= 0x1C && u[0] <= 0x1E))
    return 1;
  if (n >= 2 && u[0] == 0xC2 && u[1] == 0x85) return 2;
  if (n >= 3 && u[0] == 0xE2 && u[1] == 0x80 && (u[2] == 0xA8 || u[2] == 0xA9))
    return 3;
  return 0;
}

/* End of the line starting at s (before its break). */
static size_t line_len(const char *s, size_t n) {
  size_t i = 0;
  while (i < n && !py_linebreak(s + i, n - i)) i++;
  return i;
}

static int starts_with_fence(const char *s, size_t n) {
  py_strip(&s, &n);
  return n >= 3 && memcmp(s, "```", 3) == 0;
}

/* ---- extraction steps --------------------------------------------------- */

/* Python's rule for text that starts with a fence: drop every line whose
 * stripped form starts with ```, join the rest with "\n", strip, parse. */
static int parse_python_fenced(const char *s, size_t n, cJSON **out,
                               lgw_error_t *err) {
  lgw__buf_t b;
  const char *t;
  size_t i = 0, tn;
  int first = 1, rc;
  lgw__buf_init(&b);
  while (i < n) {
    size_t ll = line_len(s + i, n - i);
    if (!starts_with_fence(s + i, ll)) {
      if ((!first && lgw__buf_addc(&b, '\n')) || lgw__buf_add(&b, s + i, ll)) {
        lgw__buf_free(&b);
        return lgw__error_set(err, LGW_ENOMEM, "JSON parse error: out of memory");
      }
      first = 0;
    }
    i += ll;
    i += py_linebreak(s + i, n - i);
  }
  t = b.data ? b.data : "";
  tn = b.len;
  py_strip(&t, &tn);
  rc = lgw__json_parse_strict(t, tn, out, err);
  lgw__buf_free(&b);
  return rc;
}

/* The info string of a fence line ("json", "") decides whether the block
 * is meant to hold JSON. */
static int json_fence_info(const char *s, size_t n) {
  py_strip(&s, &n);
  s += 3;
  n -= 3;
  py_strip(&s, &n);
  return n == 0 || (n == 4 && lgw__strncasecmp(s, "json", 4) == 0);
}

/* The first ```json or bare ``` block anywhere whose content parses. A block
 * runs to the next fence line, or to the end of the text if unclosed.
 * LGW_EJSON when none does; LGW_ENOMEM stops the search (a later block is
 * not the answer). */
static int parse_fenced_blocks(const char *s, size_t n, cJSON **out) {
  size_t i = 0;
  int rc;
  while (i < n) {
    size_t ll = line_len(s + i, n - i), start, end;
    int fence = starts_with_fence(s + i, ll);
    int is_json = fence && json_fence_info(s + i, ll);
    i += ll;
    i += py_linebreak(s + i, n - i);
    if (!fence) continue;
    start = end = i;
    while (i < n) {
      size_t bl = line_len(s + i, n - i);
      if (starts_with_fence(s + i, bl)) break;
      i += bl;
      end = i;
      i += py_linebreak(s + i, n - i);
    }
    if (is_json) {
      const char *c = s + start;
      size_t cn = end - start;
      py_strip(&c, &cn);
      if ((rc = lgw__json_parse_strict(c, cn, out, NULL)) != LGW_EJSON)
        return rc;
    }
    /* Skip the closing fence so it does not open a block of its own. */
    if (i < n) {
      i += line_len(s + i, n - i);
      i += py_linebreak(s + i, n - i);
    }
  }
  return LGW_EJSON;
}

/* End (exclusive) of the balanced object or array opening at s[0],
 * string-aware; 0 when it never closes or nests too deep. *work counts the
 * bytes looked at. */
static size_t balanced_end(const char *s, size_t n, size_t *work) {
  size_t i, depth = 0;
  int in_str = 0;
  for (i = 0; i < n; i++) {
    char c = s[i];
    if (in_str) {
      if (c == '\\') i++;
      else if (c == '"') in_str = 0;
      continue;
    }
    if (c == '"') {
      in_str = 1;
    } else if (c == '{' || c == '[') {
      if (++depth > MAX_DEPTH) break;
    } else if ((c == '}' || c == ']') && --depth == 0) {
      *work += i + 1;
      return i + 1;
    }
  }
  *work += i;
  return 0;
}

/* The first '{' or '[' that starts a balanced span which parses. Bounded:
 * after a linear budget of bytes scanned and parsed, give up, so prose full
 * of unbalanced brackets costs O(n), not O(n^2). Returns as
 * parse_fenced_blocks. */
static int parse_embedded(const char *s, size_t n, cJSON **out) {
  size_t i, work = 0, budget = 8 * n + 65536;
  int rc;
  for (i = 0; i < n && work < budget; i++) {
    size_t len;
    if (s[i] != '{' && s[i] != '[') continue;
    len = balanced_end(s + i, n - i, &work);
    if (!len) continue;
    work += len;
    if ((rc = lgw__json_parse_strict(s + i, len, out, NULL)) != LGW_EJSON)
      return rc;
  }
  return LGW_EJSON;
}

int lgw__json_extract(const char *text, size_t len, cJSON **out,
                      lgw_error_t *err) {
  const char *s = text ? text : "";
  size_t n = text ? len : 0;
  lgw_error_t first;
  int rc;
  *out = NULL;
  if (lgw__cjson_load())
    return lgw__error_set(err, LGW_EIO, "%s", lgw__cjson_error());
  memset(&first, 0, sizeof first);
  py_strip(&s, &n);
  rc = lgw__json_parse_strict(s, n, out, &first);
  if (rc == 0 || rc == LGW_ENOMEM) goto report;
  /* A leading fence: Python's rule, whose error is the one to report. */
  if (n >= 3 && memcmp(s, "```", 3) == 0) {
    rc = parse_python_fenced(s, n, out, &first);
    if (rc == 0 || rc == LGW_ENOMEM) goto report;
  }
  rc = parse_fenced_blocks(s, n, out);
  if (rc == LGW_EJSON) rc = parse_embedded(s, n, out);
  if (rc == LGW_ENOMEM)
    return lgw__error_set(err, rc, "JSON parse error: out of memory");
  if (rc != LGW_EJSON) return rc;
report:
  if (rc && err) *err = first;
  return rc;
}
