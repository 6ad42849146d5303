/*
 * node.c -- the generic configuration tree: construction, lookup, copying
 * and the textual form of scalars.
 */
#include "node.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util.h"

lgw__node_t *lgw__node_new(lgw__node_type_t type, int line, int col) {
  lgw__node_t *n = lgw__calloc(1, sizeof *n);
  if (!n) return NULL;
  n->type = type;
  n->line = line;
  n->col = col;
  return n;
}

lgw__node_t *lgw__node_new_string(const char *s, size_t len, int line,
                                  int col) {
  lgw__node_t *n = lgw__node_new(LGW_NODE_STRING, line, col);
  if (!n) return NULL;
  n->str = lgw__strndup(s ? s : "", s ? len : 0);
  if (!n->str) {
    lgw_free(n);
    return NULL;
  }
  n->len = s ? len : 0;
  return n;
}

/* Capacity is implicit: the next power of two >= n, so appends grow the
 * arrays geometrically without a capacity field. */
static int grow(lgw__node_t ***arr, size_t n) {
  lgw__node_t **p;
  size_t cap;
  if (n != 0 && (n < 4 || (n & (n - 1)) != 0)) return 0;
  cap = n ? n * 2 : 4;
  p = lgw_realloc(*arr, cap * sizeof *p);
  if (!p) return LGW_ENOMEM;
  *arr = p;
  return 0;
}

int lgw__node_append(lgw__node_t *parent, lgw__node_t *key,
                     lgw__node_t *value) {
  if (!parent || !value || (parent->type == LGW_NODE_MAP) != (key != NULL) ||
      (parent->type != LGW_NODE_MAP && parent->type != LGW_NODE_SEQ)) {
    lgw__node_free(key);
    lgw__node_free(value);
    return parent && value ? LGW_EINVAL : LGW_ENOMEM;
  }
  if (grow(&parent->items, parent->n) ||
      (key && grow(&parent->keys, parent->n))) {
    lgw__node_free(key);
    lgw__node_free(value);
    return LGW_ENOMEM;
  }
  parent->items[parent->n] = value;
  if (key) parent->keys[parent->n] = key;
  parent->n++;
  return 0;
}

void lgw__node_free(lgw__node_t *n) {
  size_t i;
  if (!n) return;
  for (i = 0; i < n->n; i++) {
    lgw__node_free(n->items[i]);
    if (n->keys) lgw__node_free(n->keys[i]);
  }
  lgw_free(n->items);
  lgw_free(n->keys);
  lgw_free(n->str);
  lgw_free(n);
}

lgw__node_t *lgw__node_get(const lgw__node_t *map, const char *key) {
  size_t i;
  lgw__node_t *found = NULL;
  if (!map || map->type != LGW_NODE_MAP || !key) return NULL;
  for (i = 0; i < map->n; i++) {
    const lgw__node_t *k = map->keys[i];
    if (k->type == LGW_NODE_STRING && strcmp(k->str, key) == 0)
      found = map->items[i];
  }
  return found;
}

void lgw__node_float_repr(double d, char out[32]) {
  char tmp[32], digits[24];
  int prec, exp10, nd = 0, len = 0, i;
  const char *p;
  if (isnan(d)) {
    strcpy(out, "nan");
    return;
  }
  if (isinf(d)) {
    strcpy(out, d < 0 ? "-inf" : "inf");
    return;
  }
  /* Shortest digits that read back exactly, as Python's repr does. */
  for (prec = 1; prec < 17; prec++) {
    snprintf(tmp, sizeof tmp, "%.*e", prec - 1, d);
    if (strtod(tmp, NULL) == d) break;
  }
  snprintf(tmp, sizeof tmp, "%.*e", prec - 1, d);
  for (p = tmp; *p != 'e'; p++)
    if (*p >= '0' && *p <= '9') digits[nd++] = *p;
  exp10 = atoi(p + 1);
  while (nd > 1 && digits[nd - 1] == '0') nd--;
  if (tmp[0] == '-') out[len++] = '-';
  if (exp10 < -4 || exp10 >= 16) {
    out[len++] = digits[0];
    if (nd > 1) out[len++] = '.';
    for (i = 1; i < nd; i++) out[len++] = digits[i];
    snprintf(out + len, (size_t)(32 - len), "e%c%02d", exp10 < 0 ? '-' : '+',
             exp10 < 0 ? -exp10 : exp10);
    return;
  }
  if (exp10 < 0) {
    out[len++] = '0';
    out[len++] = '.';
    for (i = -1; i > exp10; i--) out[len++] = '0';
    for (i = 0; i < nd; i++) out[len++] = digits[i];
  } else {
    for (i = 0; i <= exp10; i++) out[len++] = i < nd ? digits[i] : '0';
    out[len++] = '.';
    if (nd <= exp10 + 1) out[len++] = '0';
    for (i = exp10 + 1; i < nd; i++) out[len++] = digits[i];
  }
  out[len] = '\0';
}

const char *lgw__node_text(const lgw__node_t *n) {
  char buf[32];
  lgw__node_t *m = (lgw__node_t *)n;
  if (!n) return NULL;
  if (n->str) return n->str;
  /* Nodes built without source text (e.g. from Lua) get their printed
   * form cached in str on first use. */
  switch (n->type) {
    case LGW_NODE_BOOL: strcpy(buf, n->b ? "true" : "false"); break;
    case LGW_NODE_INT: snprintf(buf, sizeof buf, "%lld", n->i); break;
    case LGW_NODE_FLOAT: lgw__node_float_repr(n->d, buf); break;
    default: return NULL;
  }
  m->str = lgw__strdup(buf);
  if (m->str) m->len = strlen(m->str);
  return m->str;
}

lgw__node_t *lgw__node_copy(const lgw__node_t *n) {
  lgw__node_t *c;
  size_t i;
  if (!n) return NULL;
  c = lgw__node_new(n->type, n->line, n->col);
  if (!c) return NULL;
  c->i = n->i;
  c->d = n->d;
  c->b = n->b;
  if (n->str) {
    c->str = lgw__strndup(n->str, n->len);
    c->len = n->len;
    if (!c->str) goto fail;
  }
  for (i = 0; i < n->n; i++) {
    lgw__node_t *k = NULL, *v = lgw__node_copy(n->items[i]);
    if (n->keys) k = lgw__node_copy(n->keys[i]);
    if (!v || (n->keys && !k)) {
      lgw__node_free(k);
      lgw__node_free(v);
      goto fail;
    }
    if (lgw__node_append(c, k, v)) goto fail;
  }
  return c;
fail:
  lgw__node_free(c);
  return NULL;
}

const char *lgw__node_type_name(lgw__node_type_t t) {
  switch (t) {
    case LGW_NODE_NULL: return "null";
    case LGW_NODE_BOOL: return "boolean";
    case LGW_NODE_INT: return "integer";
    case LGW_NODE_FLOAT: return "number";
    case LGW_NODE_STRING: return "string";
    case LGW_NODE_SEQ: return "list";
    case LGW_NODE_MAP: return "mapping";
  }
  return "unknown";
}
