/*
 * env.c -- environment interpolation of config strings (${NAME},
 * ${NAME:-default}, ${NAME:default}, env:NAME), matching the Python
 * llmgateway's resolve_env_value: the whole stripped value is a reference
 * or it is returned stripped and otherwise unchanged.
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

char *lgw__env_resolve(const char *text, lgw__getenv_fn get, void *ud) {
  char *s = lgw__strip(text), *out;
  size_t len, i, name_end;
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
  /* ${NAME}, ${NAME:-default}, ${NAME:default}; default without '}' */
  if (len < 4 || s[0] != '$' || s[1] != '{' || s[len - 1] != '}' ||
      !is_name_start(s[2]))
    return s;
  for (i = 3; i < len && is_name_char(s[i]); i++) {
  }
  name_end = i;
  if (s[i] == ':') {
    i++;
    if (s[i] == '-') i++;
    if (memchr(s + i, '}', len - 1 - i)) return s;
  } else if (i != len - 1) {
    return s;
  }
  out = lookup(s + 2, name_end - 2, s + i, i < len - 1 ? len - 1 - i : 0,
               get, ud);
  lgw_free(s);
  return out;
}

int lgw__env_resolve_tree(lgw__node_t *root, lgw__getenv_fn get, void *ud) {
  size_t i;
  if (!root) return 0;
  if (root->type == LGW_NODE_STRING) {
    char *v = lgw__env_resolve(root->str, get, ud);
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
