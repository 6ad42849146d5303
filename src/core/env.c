/*
 * env.c -- environment interpolation of config strings (${NAME},
 * ${NAME:-default}, ${NAME:default}, env:NAME), matching the Python
 * llmgateway's resolve_env_value: the whole stripped value is a reference
 * or it is returned stripped and otherwise unchanged. A default may be one
 * nested reference (${A:-${B}}).
 */
#include "env.h"

#include <stdlib.h>
#include <string.h>

#include "util.h"

const char *lgw__getenv_default(const char *name, void *ud) {
  (void)ud;
  return getenv(name);
}

static int is_name_start(char c) {
  return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || c == '_';
}

static int is_name_char(char c) {
  return is_name_start(c) || (c >= '0' && c <= '9');
}

static int is_space(char c) {
  return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\v' ||
         c == '\f';
}

/* Look name up and return its value stripped (fallback when unset). */
static char *lookup(const char *name, size_t len, const char *fallback,
                    size_t flen, lgw__getenv_fn get, void *ud) {
  char *n = lgw__strndup(name, len), *d, *out;
  const char *v;
  if (!n) return NULL;
  v = get(n, ud);
  lgw_free(n);
  if (v) return lgw__strip(v);
  d = lgw__strndup(fallback, flen);
  if (!d) return NULL;
  out = lgw__strip(d);
  lgw_free(d);
  return out;
}

/* A whole reference ${NAME}, ${NAME:-default} or ${NAME:default} in
 * s[0..len). The default may itself be one whole reference (one level of
 * nesting, when nest) whose default holds no '}'; any other '}' in a
 * default makes the text no reference (it stays literal). */
typedef struct ref {
  size_t name_len;              /* name at s + 2 */
  size_t dflt, dflt_len;        /* default text (offset, length) */
  size_t inner;                 /* offset of a nested ${...}, 0 when none */
  size_t inner_name_len, inner_dflt, inner_dflt_len;
} ref_t;

static int parse_ref(const char *s, size_t len, int nest, ref_t *r) {
  size_t i;
  memset(r, 0, sizeof *r);
  if (len < 4 || s[0] != '$' || s[1] != '{' || s[len - 1] != '}' ||
      !is_name_start(s[2]))
    return 0;
  for (i = 3; i < len && is_name_char(s[i]); i++) {
  }
  r->name_len = i - 2;
  if (i == len - 1) {
    r->dflt = i;
    return 1;
  }
  if (s[i] != ':') return 0;
  i++;
  if (s[i] == '-') i++;
  r->dflt = i;
  r->dflt_len = len - 1 - i;
  if (!memchr(s + i, '}', r->dflt_len)) return 1;
  if (nest) {
    size_t b = i, e = len - 1;
    ref_t in;
    while (b < e && is_space(s[b])) b++;
    while (e > b && is_space(s[e - 1])) e--;
    if (parse_ref(s + b, e - b, 0, &in)) {
      r->inner = b;
      r->inner_name_len = in.name_len;
      r->inner_dflt = b + in.dflt;
      r->inner_dflt_len = in.dflt_len;
      return 1;
    }
  }
  return 0;
}

char *lgw__env_resolve(const char *text, lgw__getenv_fn get, void *ud) {
  char *s = lgw__strip(text), *out;
  size_t len;
  ref_t r;
  if (!s) return NULL;
  len = strlen(s);
  if (len > 4 && strncmp(s, "env:", 4) == 0) {
    char *name = lgw__strip(s + 4);
    if (!name) {
      lgw_free(s);
      return NULL;
    }
    out = lookup(name, strlen(name), "", 0, get, ud);
    lgw_free(name);
    lgw_free(s);
    return out;
  }
  if (!parse_ref(s, len, 1, &r)) return s;
  if (r.inner) {
    /* ${NAME:-${OTHER...}}: NAME when set, else the inner reference */
    char *n = lgw__strndup(s + 2, r.name_len);
    const char *v;
    if (!n) {
      lgw_free(s);
      return NULL;
    }
    v = get(n, ud);
    lgw_free(n);
    out = v ? lgw__strip(v)
            : lookup(s + r.inner + 2, r.inner_name_len, s + r.inner_dflt,
                     r.inner_dflt_len, get, ud);
  } else {
    out = lookup(s + 2, r.name_len, s + r.dflt, r.dflt_len, get, ud);
  }
  lgw_free(s);
  return out;
}

int lgw__env_resolve_tree(lgw__node_t *root, lgw__getenv_fn get, void *ud) {
  size_t i;
  if (!root) return 0;
  if (root->type == LGW_NODE_STRING) {
    char *v;
    /* a string holding a NUL is left whole for the validation to refuse */
    if (memchr(root->str, '\0', root->len)) return 0;
    v = lgw__env_resolve(root->str, get, ud);
    if (!v) return LGW_ENOMEM;
    lgw_free(root->str);
    root->str = v;
    root->len = strlen(v);
    return 0;
  }
  for (i = 0; i < root->n; i++)
    if (lgw__env_resolve_tree(root->items[i], get, ud)) return LGW_ENOMEM;
  return 0;
}
