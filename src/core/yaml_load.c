/*
 * yaml_load.c -- YAML text to the node tree and back, through libyaml.
 * Plain scalars are resolved with the YAML 1.1 rules of PyYAML's SafeLoader
 * (null, bool, int, float; merge keys "<<"); mappings behave like Python
 * dicts (a repeated key keeps its first position and its last value).
 * Dumping mirrors PyYAML safe_dump(sort_keys=False, allow_unicode=True):
 * libyaml's emitter is the one PyYAML's is derived from, and strings that
 * would read back as another type are quoted.
 */
#include "yaml_load.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <yaml.h>

#include "util.h"
#include "yaml_dl.h"

#define MAX_NODES 1000000 /* bounds alias expansion ("billion laughs") */
/* Bytes of scalar text the loaded tree may hold: the larger of 64 MiB and
 * 16 times the input, so an alias cannot multiply a long scalar without
 * bound. */
#define MAX_BYTES_MIN ((size_t)64 << 20)
#define MAX_BYTES_FACTOR 16
#define MAX_DEPTH 1000

/* ---- plain scalar resolution ------------------------------------------- */

typedef enum {
  KIND_STR, KIND_NULL, KIND_BOOL, KIND_INT, KIND_FLOAT,
  KIND_MERGE,     /* "<<" */
  KIND_VALUE,     /* "=" (loads as a string, but is quoted on output) */
  KIND_TIMESTAMP  /* loads as a string, but is quoted on output */
} kind_t;

static int is_digit(char c) { return c >= '0' && c <= '9'; }

static size_t span(const char *s, size_t n, const char *set) {
  size_t i = 0;
  while (i < n && s[i] && strchr(set, s[i])) i++;
  return i;
}

static int one_of(const char *s, size_t n, const char *const *words) {
  for (; *words; words++)
    if (strlen(*words) == n && memcmp(*words, s, n) == 0) return 1;
  return 0;
}

/* (?::[0-5]?[0-9])+ : length consumed, 0 when absent. */
static size_t sexa_tail(const char *s, size_t n) {
  size_t i = 0;
  while (i + 1 < n && s[i] == ':' && is_digit(s[i + 1])) {
    if (i + 2 < n && s[i + 1] <= '5' && is_digit(s[i + 2]))
      i += 3;
    else
      i += 2;
  }
  return i;
}

/* [eE][-+][0-9]+ : length consumed, 0 when absent. */
static size_t exponent(const char *s, size_t n) {
  size_t k;
  if (n < 3 || (s[0] != 'e' && s[0] != 'E') || (s[1] != '-' && s[1] != '+'))
    return 0;
  k = span(s + 2, n - 2, "0123456789");
  return k ? k + 2 : 0;
}

static int match_int(const char *s, size_t n) {
  size_t k;
  if (n && (s[0] == '-' || s[0] == '+')) s++, n--;
  if (!n) return 0;
  if (n > 2 && s[0] == '0' && s[1] == 'b')
    return span(s + 2, n - 2, "01_") == n - 2;
  if (n > 2 && s[0] == '0' && s[1] == 'x')
    return span(s + 2, n - 2, "0123456789abcdefABCDEF_") == n - 2;
  if (s[0] == '0') return span(s + 1, n - 1, "01234567_") == n - 1;
  if (!is_digit(s[0])) return 0;
  k = 1 + span(s + 1, n - 1, "0123456789_");
  return k == n || k + sexa_tail(s + k, n - k) == n;
}

static int match_float(const char *s, size_t n) {
  static const char *const inf[] = {".inf", ".Inf", ".INF", NULL};
  static const char *const nan[] = {".nan", ".NaN", ".NAN", NULL};
  int sign = n && (s[0] == '-' || s[0] == '+');
  size_t k, t;
  if (!sign && one_of(s, n, nan)) return 1;
  s += sign, n -= (size_t)sign;
  if (one_of(s, n, inf)) return 1;
  if (n && is_digit(s[0])) {
    k = 1 + span(s + 1, n - 1, "0123456789_");
    t = sexa_tail(s + k, n - k);
    if (k + t >= n || s[k + t] != '.') return 0;
    k += t + 1;
    k += span(s + k, n - k, "0123456789_");
    if (!t) k += exponent(s + k, n - k);
    return k == n;
  }
  if (!sign && n > 1 && s[0] == '.' && is_digit(s[1])) {
    k = 2 + span(s + 2, n - 2, "0123456789_");
    return k + exponent(s + k, n - k) == n;
  }
  return 0;
}

/* d{1,2} at s[*i]; advances. */
static int digits12(const char *s, size_t n, size_t *i) {
  if (*i >= n || !is_digit(s[*i])) return 0;
  (*i)++;
  if (*i < n && is_digit(s[*i])) (*i)++;
  return 1;
}

static int fixed_digits(const char *s, size_t n, size_t *i, size_t count) {
  size_t k;
  for (k = 0; k < count; k++, (*i)++)
    if (*i >= n || !is_digit(s[*i])) return 0;
  return 1;
}

/* YYYY-MM-DD, or YYYY-M-D followed by a time (PyYAML's timestamp). */
static int match_timestamp(const char *s, size_t n) {
  size_t i = 0;
  if (!fixed_digits(s, n, &i, 4) || i >= n || s[i++] != '-' ||
      !digits12(s, n, &i) || i >= n || s[i++] != '-' || !digits12(s, n, &i))
    return 0;
  if (i == n) return n == 10;
  if (s[i] == 'T' || s[i] == 't')
    i++;
  else if (s[i] == ' ' || s[i] == '\t')
    i += span(s + i, n - i, " \t");
  else
    return 0;
  if (!digits12(s, n, &i) || i >= n || s[i++] != ':' ||
      !fixed_digits(s, n, &i, 2) || i >= n || s[i++] != ':' ||
      !fixed_digits(s, n, &i, 2))
    return 0;
  if (i < n && s[i] == '.') i += 1 + span(s + i + 1, n - i - 1, "0123456789");
  if (i == n) return 1;
  i += span(s + i, n - i, " \t");
  if (i < n && s[i] == 'Z') return i + 1 == n;
  if (i >= n || (s[i] != '-' && s[i] != '+')) return 0;
  i++;
  if (!digits12(s, n, &i)) return 0;
  if (i < n && s[i] == ':') {
    i++;
    if (!fixed_digits(s, n, &i, 2)) return 0;
  }
  return i == n;
}

static kind_t classify(const char *s, size_t n) {
  static const char *const nulls[] = {"", "~", "null", "Null", "NULL", NULL};
  static const char *const bools[] = {
      "yes", "Yes", "YES", "no", "No", "NO", "true", "True", "TRUE", "false",
      "False", "FALSE", "on", "On", "ON", "off", "Off", "OFF", NULL};
  if (one_of(s, n, nulls)) return KIND_NULL;
  if (one_of(s, n, bools)) return KIND_BOOL;
  if (match_int(s, n)) return KIND_INT;
  if (match_float(s, n)) return KIND_FLOAT;
  if (n == 2 && memcmp(s, "<<", 2) == 0) return KIND_MERGE;
  if (n == 1 && s[0] == '=') return KIND_VALUE;
  if (match_timestamp(s, n)) return KIND_TIMESTAMP;
  return KIND_STR;
}

/* Copy without underscores, NUL-terminated; NULL when out of memory. */
static char *no_underscores(const char *s, size_t n) {
  char *d = lgw_malloc(n + 1), *p = d;
  size_t i;
  if (!d) return NULL;
  for (i = 0; i < n; i++)
    if (s[i] != '_') *p++ = s[i];
  *p = '\0';
  return d;
}

/* Value of a scalar classified INT or FLOAT, into n (type already set).
 * Returns 0, LGW_ENOMEM, or 1 when an integer does not fit. */
static int number_value(lgw__node_t *n, const char *s, size_t len) {
  char *v = no_underscores(s, len), *p;
  int neg, rc = 0;
  if (!v) return LGW_ENOMEM;
  neg = v[0] == '-';
  p = v + (v[0] == '-' || v[0] == '+');
  if (n->type == LGW_NODE_FLOAT && p[0] == '.' && (p[1] == 'i' || p[1] == 'I')) {
    n->d = neg ? -INFINITY : INFINITY;
  } else if (n->type == LGW_NODE_FLOAT && p[0] == '.' &&
             (p[1] == 'n' || p[1] == 'N')) {
    n->d = NAN;
  } else if (strchr(p, ':')) {
    /* base 60: "1:30" is 90 */
    double acc = 0;
    unsigned long long iacc = 0;
    char *part = p;
    for (;;) {
      char *colon = strchr(part, ':');
      if (colon) *colon = '\0';
      acc = acc * 60 + strtod(part, NULL);
      if (iacc > (unsigned long long)LLONG_MAX / 60) rc = 1;
      iacc = iacc * 60 + strtoull(part, NULL, 10);
      if (!colon) break;
      part = colon + 1;
    }
    n->d = neg ? -acc : acc;
    if (n->type == LGW_NODE_INT) {
      if (iacc > (unsigned long long)LLONG_MAX) rc = 1;
      n->i = neg ? -(long long)iacc : (long long)iacc;
    }
  } else if (n->type == LGW_NODE_FLOAT) {
    n->d = strtod(v, NULL);
  } else {
    int base = 10;
    unsigned long long u;
    if (p[0] == '0' && p[1] == 'b') base = 2, p += 2;
    else if (p[0] == '0' && p[1] == 'x') base = 16, p += 2;
    else if (p[0] == '0') base = 8;
    errno = 0;
    u = strtoull(p, NULL, base);
    if (errno || u > (unsigned long long)LLONG_MAX + (neg ? 1u : 0u)) rc = 1;
    n->i = neg ? (long long)(0 - u) : (long long)u;
    n->d = (double)n->i;
  }
  lgw_free(v);
  return rc;
}

/* ---- loading ----------------------------------------------------------- */

typedef struct frame {
  lgw__node_t *node;
  lgw__node_t *key;     /* MAP: key waiting for its value */
  int key_is_merge;
  lgw__node_t *merge;   /* MAP: entries pulled in by "<<", a MAP node */
  char *anchor;
} frame_t;

typedef struct anchor {
  char *name;
  lgw__node_t *node;  /* own copy: the tree may later be rearranged */
  size_t size;        /* nodes */
  size_t bytes;       /* scalar text */
} anchor_t;

typedef struct loader {
  const char *name;
  const char *text;
  size_t textlen;
  lgw_error_t *err;
  frame_t *stack;
  size_t depth, cap;
  anchor_t *anchors;
  size_t nanchors;
  size_t nodes;
  size_t bytes, max_bytes;
  lgw__node_t *root;
  int have_root;
} loader_t;

static int fail_at(loader_t *L, int code, yaml_mark_t m, const char *what) {
  return lgw__error_set(L->err, code, "%s:%zu:%zu: %s", L->name,
                        m.line + 1, m.column + 1, what);
}

static size_t count_nodes(const lgw__node_t *n) {
  size_t c = 1, i;
  for (i = 0; i < n->n; i++)
    c += count_nodes(n->items[i]) + (n->keys ? count_nodes(n->keys[i]) : 0);
  return c;
}

static size_t count_bytes(const lgw__node_t *n) {
  size_t c = n->str ? n->len : 0, i;
  for (i = 0; i < n->n; i++)
    c += count_bytes(n->items[i]) + (n->keys ? count_bytes(n->keys[i]) : 0);
  return c;
}

static int key_class(const lgw__node_t *k) {
  switch (k->type) {
    case LGW_NODE_NULL: return 0;
    case LGW_NODE_STRING: return 2;
    default: return 1;  /* numbers and booleans compare by value */
  }
}

static int key_cmp(const lgw__node_t *a, const lgw__node_t *b) {
  int ca = key_class(a), cb = key_class(b);
  if (ca != cb) return ca < cb ? -1 : 1;
  if (ca == 2) {
    size_t m = a->len < b->len ? a->len : b->len;
    int c = memcmp(a->str, b->str, m);
    if (c) return c;
    return a->len < b->len ? -1 : a->len > b->len;
  }
  if (ca == 1) {
    if (a->type == LGW_NODE_INT && b->type == LGW_NODE_INT)
      return a->i < b->i ? -1 : a->i > b->i;
    if (a->d != b->d) return a->d < b->d ? -1 : 1;
  }
  return 0;
}

typedef struct {
  const lgw__node_t *key;
  size_t index;
} keyref_t;

static int keyref_cmp(const void *pa, const void *pb) {
  const keyref_t *a = pa, *b = pb;
  int c = key_cmp(a->key, b->key);
  if (c) return c;
  return a->index < b->index ? -1 : a->index > b->index;
}

/* Python dict semantics: a repeated key keeps its first position and takes
 * its last value. */
static int dedupe(lgw__node_t *map) {
  keyref_t *refs;
  size_t i, j, out;
  if (map->n < 2) return 0;
  refs = lgw__calloc(map->n, sizeof *refs);
  if (!refs) return LGW_ENOMEM;
  for (i = 0; i < map->n; i++) refs[i].key = map->keys[i], refs[i].index = i;
  qsort(refs, map->n, sizeof *refs, keyref_cmp);
  for (i = 0; i < map->n; i = j) {
    size_t first = refs[i].index, last;
    for (j = i + 1; j < map->n && key_cmp(refs[j].key, refs[i].key) == 0; j++) {
    }
    if (j - i == 1) continue;
    last = refs[j - 1].index;
    {
      lgw__node_t *v = map->items[first];
      map->items[first] = map->items[last];
      map->items[last] = v;
    }
    for (i = i + 1; i < j; i++) {
      size_t k = refs[i].index;
      lgw__node_free(map->keys[k]);
      lgw__node_free(map->items[k]);
      map->keys[k] = map->items[k] = NULL;
    }
  }
  lgw_free(refs);
  for (i = out = 0; i < map->n; i++) {
    if (!map->items[i]) continue;
    map->keys[out] = map->keys[i];
    map->items[out++] = map->items[i];
  }
  map->n = out;
  return 0;
}

/* Move every entry of src (a MAP) to the end of dst; src is emptied. */
static int move_entries(lgw__node_t *dst, lgw__node_t *src) {
  size_t i;
  int rc = 0;
  for (i = 0; i < src->n; i++) {
    if (!rc) rc = lgw__node_append(dst, src->keys[i], src->items[i]);
    else lgw__node_free(src->keys[i]), lgw__node_free(src->items[i]);
  }
  src->n = 0;
  return rc;
}

/* A "<<" value: a mapping, or a list of mappings where earlier ones win. */
static int add_merge(loader_t *L, frame_t *f, lgw__node_t *v, yaml_mark_t m) {
  size_t i;
  int rc = 0;
  if (!f->merge && !(f->merge = lgw__node_new(LGW_NODE_MAP, 0, 0))) {
    lgw__node_free(v);
    return LGW_ENOMEM;
  }
  if (v->type == LGW_NODE_MAP) {
    rc = move_entries(f->merge, v);
  } else if (v->type == LGW_NODE_SEQ) {
    for (i = 0; i < v->n; i++)
      if (v->items[i]->type != LGW_NODE_MAP) {
        lgw__node_free(v);
        return fail_at(L, LGW_ECONFIG, m,
                       "expected a mapping for merging, but found a list "
                       "item that is not a mapping");
      }
    for (i = v->n; i-- > 0 && !rc;) rc = move_entries(f->merge, v->items[i]);
  } else {
    lgw__node_free(v);
    return fail_at(L, LGW_ECONFIG, m,
                   "expected a mapping or list of mappings for merging");
  }
  lgw__node_free(v);
  return rc;
}

static int register_anchor(loader_t *L, char *name, const lgw__node_t *n) {
  anchor_t *a;
  lgw__node_t *copy;
  if (!name) return 0;
  a = lgw_realloc(L->anchors, (L->nanchors + 1) * sizeof *a);
  if (!a) {
    lgw_free(name);
    return LGW_ENOMEM;
  }
  L->anchors = a;
  copy = lgw__node_copy(n);
  if (!copy) {
    lgw_free(name);
    return LGW_ENOMEM;
  }
  a[L->nanchors].name = name;
  a[L->nanchors].node = copy;
  a[L->nanchors].size = count_nodes(n);
  a[L->nanchors].bytes = count_bytes(n);
  L->nanchors++;
  return 0;
}

/* Attach a finished node to its parent (or make it the root). */
static int attach(loader_t *L, lgw__node_t *n, yaml_mark_t m, int is_merge_key) {
  frame_t *f;
  if (!L->depth) {
    L->root = n;
    L->have_root = 1;
    return 0;
  }
  f = &L->stack[L->depth - 1];
  if (f->node->type == LGW_NODE_SEQ) return lgw__node_append(f->node, NULL, n);
  if (!f->key) {
    if (n->type == LGW_NODE_SEQ || n->type == LGW_NODE_MAP) {
      lgw__node_free(n);
      return fail_at(L, LGW_ECONFIG, m, "found unhashable key");
    }
    f->key = n;
    f->key_is_merge = is_merge_key;
    return 0;
  }
  if (f->key_is_merge) {
    lgw__node_free(f->key);
    f->key = NULL;
    return add_merge(L, f, n, m);
  }
  {
    lgw__node_t *k = f->key;
    f->key = NULL;
    return lgw__node_append(f->node, k, n);
  }
}

static int count_new(loader_t *L, size_t k, size_t bytes, yaml_mark_t m) {
  if (L->nodes + k > MAX_NODES)
    return fail_at(L, LGW_ECONFIG, m, "document too large (alias expansion)");
  if (bytes > L->max_bytes - L->bytes) {
    char msg[160];
    snprintf(msg, sizeof msg, "document too large (alias expansion over "
             "%zu bytes of text)", L->max_bytes);
    return fail_at(L, LGW_ECONFIG, m, msg);
  }
  L->nodes += k;
  L->bytes += bytes;
  return 0;
}

static char *take_anchor(yaml_char_t *a) {
  return a ? lgw__strdup((const char *)a) : NULL;
}

static int tag_is(const yaml_char_t *tag, const char *suffix) {
  static const char prefix[] = "tag:yaml.org,2002:";
  return tag && strncmp((const char *)tag, prefix, sizeof prefix - 1) == 0 &&
         strcmp((const char *)tag + sizeof prefix - 1, suffix) == 0;
}

static int on_scalar(loader_t *L, yaml_event_t *ev) {
  const char *s = (const char *)ev->data.scalar.value;
  size_t len = ev->data.scalar.length;
  yaml_char_t *tag = ev->data.scalar.tag;
  yaml_mark_t m = ev->start_mark;
  lgw__node_t *n;
  kind_t kind = KIND_STR;
  int rc;
  char *anchor;
  if (tag && !tag_is(tag, "str") && strcmp((const char *)tag, "!") != 0) {
    kind = classify(s, len);
    if (!((tag_is(tag, "null") && kind == KIND_NULL) ||
          (tag_is(tag, "bool") && kind == KIND_BOOL) ||
          (tag_is(tag, "int") && kind == KIND_INT) ||
          (tag_is(tag, "float") && (kind == KIND_FLOAT || kind == KIND_INT)))) {
      char msg[200];
      int known = tag_is(tag, "null") || tag_is(tag, "bool") ||
                  tag_is(tag, "int") || tag_is(tag, "float");
      snprintf(msg, sizeof msg, "%s for the tag '%.150s'",
               known ? "invalid value" : "could not determine a constructor",
               (const char *)tag);
      return fail_at(L, LGW_ECONFIG, m, msg);
    }
    if (tag_is(tag, "float")) kind = KIND_FLOAT;
  } else if (!tag && ev->data.scalar.style == YAML_PLAIN_SCALAR_STYLE) {
    kind = classify(s, len);
  }
  if ((rc = count_new(L, 1, len, m))) return rc;
  n = lgw__node_new_string(s, len, (int)m.line + 1, (int)m.column + 1);
  if (!n) return LGW_ENOMEM;
  switch (kind) {
    case KIND_NULL: n->type = LGW_NODE_NULL; break;
    case KIND_BOOL:
      n->type = LGW_NODE_BOOL;
      n->b = s[0] == 'y' || s[0] == 'Y' || s[0] == 't' || s[0] == 'T' ||
             ((s[0] == 'o' || s[0] == 'O') && (s[1] == 'n' || s[1] == 'N'));
      n->d = n->b;
      n->i = n->b;
      break;
    case KIND_INT: n->type = LGW_NODE_INT; break;
    case KIND_FLOAT: n->type = LGW_NODE_FLOAT; break;
    default: break;
  }
  if (n->type == LGW_NODE_INT || n->type == LGW_NODE_FLOAT) {
    if (tag_is(tag, "float") && match_int(s, len)) {
      /* !!float 3: read the integer, keep it as a float */
      n->type = LGW_NODE_INT;
      rc = number_value(n, s, len);
      n->type = LGW_NODE_FLOAT;
    } else {
      rc = number_value(n, s, len);
    }
    if (rc) {
      lgw__node_free(n);
      return rc < 0 ? rc : fail_at(L, LGW_ECONFIG, m, "integer out of range");
    }
  }
  anchor = take_anchor(ev->data.scalar.anchor);
  if (ev->data.scalar.anchor && !anchor) {
    lgw__node_free(n);
    return LGW_ENOMEM;
  }
  if ((rc = register_anchor(L, anchor, n))) {
    lgw__node_free(n);
    return rc;
  }
  return attach(L, n, m, !tag && kind == KIND_MERGE);
}

static int on_alias(loader_t *L, yaml_event_t *ev) {
  const char *name = (const char *)ev->data.alias.anchor;
  size_t i;
  int rc;
  lgw__node_t *n;
  for (i = L->nanchors; i-- > 0;)
    if (strcmp(L->anchors[i].name, name) == 0) break;
  if (i == (size_t)-1) {
    size_t k;
    for (k = 0; k < L->depth; k++)
      if (L->stack[k].anchor && strcmp(L->stack[k].anchor, name) == 0)
        return fail_at(L, LGW_ECONFIG, ev->start_mark,
                       "found a recursive alias");
    return fail_at(L, LGW_ECONFIG, ev->start_mark, "found undefined alias");
  }
  if ((rc = count_new(L, L->anchors[i].size, L->anchors[i].bytes,
                      ev->start_mark)))
    return rc;
  n = lgw__node_copy(L->anchors[i].node);
  if (!n) return LGW_ENOMEM;
  n->line = (int)ev->start_mark.line + 1;
  n->col = (int)ev->start_mark.column + 1;
  return attach(L, n, ev->start_mark, 0);
}

static int on_start(loader_t *L, yaml_event_t *ev, lgw__node_type_t type) {
  yaml_char_t *tag = type == LGW_NODE_MAP ? ev->data.mapping_start.tag
                                          : ev->data.sequence_start.tag;
  yaml_char_t *anchor = type == LGW_NODE_MAP ? ev->data.mapping_start.anchor
                                             : ev->data.sequence_start.anchor;
  frame_t *f;
  int rc;
  if (tag && strcmp((const char *)tag, "!") != 0 &&
      !tag_is(tag, type == LGW_NODE_MAP ? "map" : "seq")) {
    char msg[200];
    snprintf(msg, sizeof msg,
             "could not determine a constructor for the tag '%.150s'",
             (const char *)tag);
    return fail_at(L, LGW_ECONFIG, ev->start_mark, msg);
  }
  if (L->depth >= MAX_DEPTH)
    return fail_at(L, LGW_ECONFIG, ev->start_mark, "nesting too deep");
  if ((rc = count_new(L, 1, 0, ev->start_mark))) return rc;
  if (lgw__grow(&L->stack, L->depth, &L->cap, sizeof *L->stack, 16))
    return LGW_ENOMEM;
  f = &L->stack[L->depth];
  memset(f, 0, sizeof *f);
  f->node = lgw__node_new(type, (int)ev->start_mark.line + 1,
                          (int)ev->start_mark.column + 1);
  if (!f->node) return LGW_ENOMEM;
  f->anchor = take_anchor(anchor);
  L->depth++;
  if (anchor && !f->anchor) return LGW_ENOMEM;
  return 0;
}

static int on_end(loader_t *L) {
  frame_t f = L->stack[--L->depth];
  yaml_mark_t m = {0, 0, 0};
  int rc = 0;
  if (f.merge) {
    /* merged entries come first; the mapping's own keys override them */
    rc = move_entries(f.merge, f.node);
    if (!rc) rc = move_entries(f.node, f.merge);
    lgw__node_free(f.merge);
  }
  if (!rc && f.node->type == LGW_NODE_MAP) rc = dedupe(f.node);
  if (!rc) {
    rc = register_anchor(L, f.anchor, f.node);
    f.anchor = NULL;
  }
  lgw_free(f.anchor);
  if (rc) {
    lgw__node_free(f.node);
    return rc;
  }
  m.line = (size_t)f.node->line - 1;
  m.column = (size_t)f.node->col - 1;
  return attach(L, f.node, m, 0);
}

/* Position of a reader error (given as a byte offset) as line and column. */
static yaml_mark_t offset_mark(const char *text, size_t len, size_t off) {
  yaml_mark_t m = {0, 0, 0};
  size_t i;
  for (i = 0; i < off && i < len; i++) {
    if (text[i] == '\n') {
      m.line++;
      m.column = 0;
    } else if (((unsigned char)text[i] & 0xC0) != 0x80) {
      m.column++;
    }
  }
  return m;
}

static int parser_error(loader_t *L, yaml_parser_t *p) {
  yaml_mark_t m = p->problem_mark;
  if (p->error == YAML_MEMORY_ERROR)
    return lgw__error_set(L->err, LGW_ENOMEM, "%s: out of memory", L->name);
  if (p->error == YAML_READER_ERROR)
    m = offset_mark(L->text, L->textlen, p->problem_offset);
  return fail_at(L, LGW_ECONFIG, m, p->problem ? p->problem : "invalid YAML");
}

static void loader_free(loader_t *L) {
  size_t i;
  for (i = 0; i < L->depth; i++) {
    lgw__node_free(L->stack[i].node);
    lgw__node_free(L->stack[i].key);
    lgw__node_free(L->stack[i].merge);
    lgw_free(L->stack[i].anchor);
  }
  lgw_free(L->stack);
  for (i = 0; i < L->nanchors; i++) {
    lgw_free(L->anchors[i].name);
    lgw__node_free(L->anchors[i].node);
  }
  lgw_free(L->anchors);
}

int lgw__yaml_load_string(const char *text, size_t len, const char *name,
                          lgw__node_t **out, lgw_error_t *err) {
  yaml_parser_t parser;
  yaml_event_t ev;
  loader_t L;
  int rc = 0, done = 0, ndocs = 0;
  *out = NULL;
  if (lgw__yaml_load_lib())
    return lgw__error_set(err, LGW_EIO, "%s", lgw__yaml_lib_error());
  memset(&L, 0, sizeof L);
  L.name = name ? name : "<string>";
  L.text = text ? text : "";
  L.textlen = text ? len : 0;
  L.err = err;
  L.max_bytes = L.textlen > MAX_BYTES_MIN / MAX_BYTES_FACTOR
                    ? L.textlen * MAX_BYTES_FACTOR
                    : MAX_BYTES_MIN;
  if (!yaml_parser_initialize(&parser))
    return lgw__error_set(err, LGW_ENOMEM, "out of memory");
  yaml_parser_set_input_string(&parser, (const unsigned char *)L.text,
                               L.textlen);
  while (!rc && !done) {
    if (!yaml_parser_parse(&parser, &ev)) {
      rc = parser_error(&L, &parser);
      break;
    }
    switch (ev.type) {
      case YAML_SCALAR_EVENT: rc = on_scalar(&L, &ev); break;
      case YAML_ALIAS_EVENT: rc = on_alias(&L, &ev); break;
      case YAML_MAPPING_START_EVENT: rc = on_start(&L, &ev, LGW_NODE_MAP); break;
      case YAML_SEQUENCE_START_EVENT: rc = on_start(&L, &ev, LGW_NODE_SEQ); break;
      case YAML_MAPPING_END_EVENT:
      case YAML_SEQUENCE_END_EVENT: rc = on_end(&L); break;
      /* one document, as PyYAML's safe_load */
      case YAML_DOCUMENT_START_EVENT:
        if (++ndocs > 1)
          rc = fail_at(&L, LGW_ECONFIG, ev.start_mark,
                       "expected a single document in the stream, but found "
                       "another document");
        break;
      case YAML_STREAM_END_EVENT: done = 1; break;
      default: break;
    }
    yaml_event_delete(&ev);
  }
  yaml_parser_delete(&parser);
  if (rc == LGW_ENOMEM) lgw__error_set(err, rc, "%s: out of memory", L.name);
  if (rc) lgw__node_free(L.root);
  else *out = L.root;
  loader_free(&L);
  return rc;
}

int lgw__yaml_load_file(const char *path, lgw__node_t **out,
                        lgw_error_t *err) {
  lgw__buf_t b;
  struct stat st;
  int fd, rc;
  *out = NULL;
  lgw__buf_init(&b);
  fd = open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0) goto io_error;
  if (fstat(fd, &st) != 0) goto io_error;
  if (S_ISDIR(st.st_mode)) {
    errno = EISDIR;
    goto io_error;
  }
  for (;;) {
    ssize_t r;
    if (lgw__buf_reserve(&b, 65536)) {
      close(fd);
      lgw__buf_free(&b);
      return lgw__error_set(err, LGW_ENOMEM, "%s: out of memory", path);
    }
    r = read(fd, b.data + b.len, 65536);
    if (r < 0 && errno == EINTR) continue;
    if (r < 0) goto io_error;
    if (r == 0) break;
    b.len += (size_t)r;
  }
  close(fd);
  rc = lgw__yaml_load_string(b.data, b.len, path, out, err);
  lgw__buf_free(&b);
  return rc;
io_error:
  rc = errno;
  if (fd >= 0) close(fd);
  lgw__buf_free(&b);
  return lgw__error_set(err, LGW_EIO, "cannot read %s: %s", path,
                        strerror(rc));
}

/* ---- dumping ----------------------------------------------------------- */

static int write_out(void *data, unsigned char *buffer, size_t size) {
  return lgw__buf_add(data, buffer, size) == 0;
}

static int emit_scalar(yaml_emitter_t *e, const char *tag, const char *s,
                       size_t len, int plain_ok) {
  yaml_event_t ev;
  if (!yaml_scalar_event_initialize(&ev, NULL, (yaml_char_t *)tag,
                                    (yaml_char_t *)s, (int)len, plain_ok, 1,
                                    YAML_ANY_SCALAR_STYLE))
    return 0;
  return yaml_emitter_emit(e, &ev);
}

static int emit_node(yaml_emitter_t *e, const lgw__node_t *n) {
  yaml_event_t ev;
  char buf[40];
  size_t i;
  switch (n ? n->type : LGW_NODE_NULL) {
    case LGW_NODE_NULL:
      return emit_scalar(e, YAML_NULL_TAG, "null", 4, 1);
    case LGW_NODE_BOOL:
      return n->b ? emit_scalar(e, YAML_BOOL_TAG, "true", 4, 1)
                  : emit_scalar(e, YAML_BOOL_TAG, "false", 5, 1);
    case LGW_NODE_INT:
      snprintf(buf, sizeof buf, "%lld", n->i);
      return emit_scalar(e, YAML_INT_TAG, buf, strlen(buf), 1);
    case LGW_NODE_FLOAT:
      /* PyYAML: repr() lower-cased, ".inf"/".nan", and "1e+16" made
       * "1.0e+16" so that it reads back as a float */
      if (isnan(n->d)) strcpy(buf, ".nan");
      else if (isinf(n->d)) strcpy(buf, n->d < 0 ? "-.inf" : ".inf");
      else {
        char *ep;
        lgw__node_float_repr(n->d, buf);
        if (!strchr(buf, '.') && (ep = strchr(buf, 'e')) != NULL) {
          memmove(ep + 2, ep, strlen(ep) + 1);
          memcpy(ep, ".0", 2);
        }
      }
      return emit_scalar(e, YAML_FLOAT_TAG, buf, strlen(buf), 1);
    case LGW_NODE_STRING:
      return emit_scalar(e, YAML_STR_TAG, n->str, n->len,
                         classify(n->str, n->len) == KIND_STR);
    case LGW_NODE_SEQ:
      if (!yaml_sequence_start_event_initialize(&ev, NULL,
                                                (yaml_char_t *)YAML_SEQ_TAG, 1,
                                                YAML_BLOCK_SEQUENCE_STYLE) ||
          !yaml_emitter_emit(e, &ev))
        return 0;
      for (i = 0; i < n->n; i++)
        if (!emit_node(e, n->items[i])) return 0;
      return yaml_sequence_end_event_initialize(&ev) &&
             yaml_emitter_emit(e, &ev);
    case LGW_NODE_MAP:
      if (!yaml_mapping_start_event_initialize(&ev, NULL,
                                               (yaml_char_t *)YAML_MAP_TAG, 1,
                                               YAML_BLOCK_MAPPING_STYLE) ||
          !yaml_emitter_emit(e, &ev))
        return 0;
      for (i = 0; i < n->n; i++)
        if (!emit_node(e, n->keys[i]) || !emit_node(e, n->items[i])) return 0;
      return yaml_mapping_end_event_initialize(&ev) &&
             yaml_emitter_emit(e, &ev);
  }
  return 0;
}

int lgw__yaml_dump(const lgw__node_t *root, char **out, size_t *len,
                   lgw_error_t *err) {
  yaml_emitter_t e;
  yaml_event_t ev;
  lgw__buf_t b;
  int ok;
  *out = NULL;
  if (len) *len = 0;
  if (lgw__yaml_load_lib())
    return lgw__error_set(err, LGW_EIO, "%s", lgw__yaml_lib_error());
  lgw__buf_init(&b);
  if (!yaml_emitter_initialize(&e))
    return lgw__error_set(err, LGW_ENOMEM, "out of memory");
  yaml_emitter_set_output(&e, write_out, &b);
  yaml_emitter_set_unicode(&e, 1);
  yaml_emitter_set_indent(&e, 2);
  yaml_emitter_set_width(&e, 80);
  ok = yaml_stream_start_event_initialize(&ev, YAML_UTF8_ENCODING) &&
       yaml_emitter_emit(&e, &ev) &&
       yaml_document_start_event_initialize(&ev, NULL, NULL, NULL, 1) &&
       yaml_emitter_emit(&e, &ev) && emit_node(&e, root) &&
       yaml_document_end_event_initialize(&ev, 1) &&
       yaml_emitter_emit(&e, &ev) && yaml_stream_end_event_initialize(&ev) &&
       yaml_emitter_emit(&e, &ev) && yaml_emitter_flush(&e);
  if (!ok) {
    int code = e.error == YAML_MEMORY_ERROR || e.error == YAML_NO_ERROR
                   ? LGW_ENOMEM : LGW_EINVAL;
    lgw__error_set(err, code, "cannot emit YAML: %s",
                   e.problem ? e.problem : "out of memory");
    yaml_emitter_delete(&e);
    lgw__buf_free(&b);
    return code;
  }
  yaml_emitter_delete(&e);
  if (len) *len = b.len;
  *out = lgw__buf_steal(&b);
  return *out ? 0 : lgw__error_set(err, LGW_ENOMEM, "out of memory");
}
