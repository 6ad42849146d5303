/*
 * api_value.c -- the public value tree (lgw_value_t): the configuration
 * tree of node.h seen through builders and getters.
 */
#include <string.h>

#include "llmgateway.h"
#include "node.h"
#include "util.h"

lgw_value_t *lgw_value_null(void) {
  return lgw__node_new(LGW_NODE_NULL, 0, 0);
}

lgw_value_t *lgw_value_bool(int b) {
  lgw__node_t *n = lgw__node_new(LGW_NODE_BOOL, 0, 0);
  if (n) n->b = b != 0;
  return n;
}

lgw_value_t *lgw_value_int(long long i) {
  lgw__node_t *n = lgw__node_new(LGW_NODE_INT, 0, 0);
  if (n) {
    n->i = i;
    n->d = (double)i;
  }
  return n;
}

lgw_value_t *lgw_value_number(double d) {
  lgw__node_t *n = lgw__node_new(LGW_NODE_FLOAT, 0, 0);
  if (n) n->d = d;
  return n;
}

lgw_value_t *lgw_value_string(const char *s, size_t len) {
  return lgw__node_new_string(s, len, 0, 0);
}

lgw_value_t *lgw_value_array(void) {
  return lgw__node_new(LGW_NODE_SEQ, 0, 0);
}

lgw_value_t *lgw_value_object(void) {
  return lgw__node_new(LGW_NODE_MAP, 0, 0);
}

int lgw_value_append(lgw_value_t *array, lgw_value_t *item) {
  if (array && item && array->type != LGW_NODE_SEQ) {
    lgw__node_free(item);
    return LGW_EINVAL;
  }
  return lgw__node_append(array, NULL, item);
}

int lgw_value_set(lgw_value_t *object, const char *key, size_t keylen,
                  lgw_value_t *item) {
  lgw__node_t *k;
  if (!object || object->type != LGW_NODE_MAP || !key) {
    lgw__node_free(item);
    return item ? LGW_EINVAL : LGW_ENOMEM;
  }
  k = lgw__node_new_string(key, keylen, 0, 0);
  if (!k) {
    lgw__node_free(item);
    return LGW_ENOMEM;
  }
  return lgw__node_append(object, k, item);
}

int lgw_value_insert(lgw_value_t *object, lgw_value_t *key,
                     lgw_value_t *item) {
  if (!object || object->type != LGW_NODE_MAP || !key || !item ||
      key->type == LGW_NODE_SEQ || key->type == LGW_NODE_MAP) {
    int rc = key && item ? LGW_EINVAL : LGW_ENOMEM;
    lgw__node_free(key);
    lgw__node_free(item);
    return rc;
  }
  return lgw__node_append(object, key, item);
}

lgw_value_t *lgw_value_copy(const lgw_value_t *v) {
  return v ? lgw__node_copy(v) : NULL;
}

void lgw_value_free(lgw_value_t *v) { lgw__node_free(v); }

lgw_value_type_t lgw_value_type(const lgw_value_t *v) {
  if (!v) return LGW_VALUE_NULL;
  switch (v->type) {
    case LGW_NODE_BOOL: return LGW_VALUE_BOOL;
    case LGW_NODE_INT: return LGW_VALUE_INT;
    case LGW_NODE_FLOAT: return LGW_VALUE_NUMBER;
    case LGW_NODE_STRING: return LGW_VALUE_STRING;
    case LGW_NODE_SEQ: return LGW_VALUE_ARRAY;
    case LGW_NODE_MAP: return LGW_VALUE_OBJECT;
    default: return LGW_VALUE_NULL;
  }
}

const char *lgw_value_type_name(lgw_value_type_t type) {
  static const lgw__node_type_t nt[] = {
      LGW_NODE_NULL,   LGW_NODE_BOOL, LGW_NODE_INT, LGW_NODE_FLOAT,
      LGW_NODE_STRING, LGW_NODE_SEQ,  LGW_NODE_MAP};
  if ((unsigned)type >= sizeof nt / sizeof nt[0]) return "?";
  return lgw__node_type_name(nt[type]);
}

int lgw_value_get_bool(const lgw_value_t *v) {
  return v && v->type == LGW_NODE_BOOL ? v->b : 0;
}

long long lgw_value_get_int(const lgw_value_t *v) {
  if (!v) return 0;
  if (v->type == LGW_NODE_INT) return v->i;
  if (v->type == LGW_NODE_FLOAT && v->d == v->d && v->d < 9.2e18 &&
      v->d > -9.2e18)
    return (long long)v->d;
  return 0;
}

double lgw_value_get_number(const lgw_value_t *v) {
  if (!v) return 0.0;
  if (v->type == LGW_NODE_INT) return (double)v->i;
  return v->type == LGW_NODE_FLOAT ? v->d : 0.0;
}

const char *lgw_value_get_string(const lgw_value_t *v, size_t *len) {
  const char *s = v && v->type == LGW_NODE_STRING ? v->str : NULL;
  if (len) *len = s ? v->len : 0;
  return s;
}

size_t lgw_value_count(const lgw_value_t *v) {
  return v && (v->type == LGW_NODE_SEQ || v->type == LGW_NODE_MAP) ? v->n
                                                                     : 0;
}

lgw_value_t *lgw_value_at(const lgw_value_t *v, size_t i) {
  return i < lgw_value_count(v) ? v->items[i] : NULL;
}

const char *lgw_value_key_at(const lgw_value_t *v, size_t i, size_t *len) {
  const char *k = NULL;
  if (v && v->type == LGW_NODE_MAP && i < v->n) {
    const lgw__node_t *kn = v->keys[i];
    k = kn->type == LGW_NODE_STRING ? kn->str : lgw__node_text(kn);
    if (len) *len = kn->type == LGW_NODE_STRING ? kn->len : k ? strlen(k) : 0;
    return k;
  }
  if (len) *len = 0;
  return NULL;
}

lgw_value_t *lgw_value_key_value(const lgw_value_t *v, size_t i) {
  return v && v->type == LGW_NODE_MAP && i < v->n ? v->keys[i] : NULL;
}

lgw_value_t *lgw_value_get(const lgw_value_t *object, const char *key) {
  return lgw__node_get(object, key);
}
