/*
 * api_json.c -- the public JSON functions: parsing (strict, or the value
 * in a model's answer) into a value tree, and writing one with the
 * library's JSON writer.
 */
#include <math.h>
#include <string.h>

#include "cjson_dl.h"  /* <cJSON.h>, the calls through a table */

#include "json_extract.h"
#include "llmgateway.h"
#include "node.h"
#include "json.h"
#include "util.h"

/* cJSON tree -> value tree; NULL when out of memory or nested deeper
 * than the parser allows. */
static lgw_value_t *from_cjson(const cJSON *j, int depth) {
  const cJSON *c;
  lgw_value_t *v;
  if (depth > 10000) return NULL;
  if (cJSON_IsObject(j) || cJSON_IsArray(j)) {
    int obj = cJSON_IsObject(j);
    v = obj ? lgw_value_object() : lgw_value_array();
    cJSON_ArrayForEach(c, j) {
      lgw_value_t *item = from_cjson(c, depth + 1);
      if (!v || !item) {
        lgw_value_free(item);
        lgw_value_free(v);
        return NULL;
      }
      if (obj ? lgw_value_set(v, c->string, strlen(c->string), item)
              : lgw_value_append(v, item)) {
        lgw_value_free(v);
        return NULL;
      }
    }
    return v;
  }
  if (cJSON_IsString(j))
    return lgw_value_string(j->valuestring, lgw__json_strlen(j));
  if (cJSON_IsNumber(j)) {
    double d = j->valuedouble;
    if (d == floor(d) && fabs(d) < 9007199254740992.0)
      return lgw_value_int((long long)d);
    return lgw_value_number(d);
  }
  if (cJSON_IsBool(j)) return lgw_value_bool(cJSON_IsTrue(j));
  return lgw_value_null();
}

static int to_value(cJSON *root, lgw_value_t **out, lgw_error_t *err) {
  *out = from_cjson(root, 0);
  cJSON_Delete(root);
  return *out ? 0 : lgw__error_set(err, LGW_ENOMEM, "out of memory");
}

int lgw_json_parse(const char *text, size_t len, lgw_value_t **out,
                   lgw_error_t *err) {
  cJSON *root = NULL;
  int rc = lgw__json_parse_strict(text, len, &root, err);
  *out = NULL;
  return rc ? rc : to_value(root, out, err);
}

int lgw_json_extract(const char *text, size_t len, lgw_value_t **out,
                     lgw_error_t *err) {
  cJSON *root = NULL;
  int rc = lgw__json_extract(text, len, &root, err);
  *out = NULL;
  return rc ? rc : to_value(root, out, err);
}

static int encode(lgw__buf_t *b, const lgw_value_t *v, int depth) {
  size_t i, n = lgw_value_count(v);
  int rc = 0;
  if (depth > 10000) return LGW_EINVAL;
  switch (lgw_value_type(v)) {
    case LGW_VALUE_NULL: return lgw__buf_adds(b, "null");
    case LGW_VALUE_BOOL:
      return lgw__buf_adds(b, lgw_value_get_bool(v) ? "true" : "false");
    case LGW_VALUE_INT:
      return lgw__buf_printf(b, "%lld", lgw_value_get_int(v));
    case LGW_VALUE_NUMBER:
      return lgw__json_add_num(b, lgw_value_get_number(v));
    case LGW_VALUE_STRING: {
      size_t len;
      const char *s = lgw_value_get_string(v, &len);
      return lgw__json_add_str(b, s, len);
    }
    case LGW_VALUE_ARRAY:
      rc = lgw__buf_addc(b, '[');
      for (i = 0; !rc && i < n; i++) {
        if (i) rc = lgw__buf_addc(b, ',');
        if (!rc) rc = encode(b, lgw_value_at(v, i), depth + 1);
      }
      return rc ? rc : lgw__buf_addc(b, ']');
    case LGW_VALUE_OBJECT:
      rc = lgw__buf_addc(b, '{');
      for (i = 0; !rc && i < n; i++) {
        size_t klen;
        const char *k = lgw_value_key_at(v, i, &klen);
        if (i) rc = lgw__buf_addc(b, ',');
        if (!rc) rc = k ? lgw__json_add_str(b, k, klen) : LGW_ENOMEM;
        if (!rc) rc = lgw__buf_addc(b, ':');
        if (!rc) rc = encode(b, lgw_value_at(v, i), depth + 1);
      }
      return rc ? rc : lgw__buf_addc(b, '}');
  }
  return LGW_EINVAL;
}

int lgw_json_encode(const lgw_value_t *v, char **out, size_t *len,
                    lgw_error_t *err) {
  lgw__buf_t b;
  int rc;
  *out = NULL;
  if (len) *len = 0;
  lgw__buf_init(&b);
  rc = encode(&b, v, 0);
  if (rc) {
    lgw__buf_free(&b);
    return rc == LGW_EINVAL
               ? lgw__error_set(err, LGW_EINVAL, "not a finite number, or "
                                "nested too deeply")
               : lgw__error_set(err, LGW_ENOMEM, "out of memory");
  }
  if (len) *len = b.len;
  *out = lgw__buf_steal(&b);
  return *out ? 0 : lgw__error_set(err, LGW_ENOMEM, "out of memory");
}

char *lgw_json_quote(const char *s, size_t len, size_t *out_len) {
  lgw__buf_t b;
  char *r;
  lgw__buf_init(&b);
  if (lgw__json_add_str(&b, s ? s : "", s ? len : 0)) {
    lgw__buf_free(&b);
    return NULL;
  }
  if (out_len) *out_len = b.len;
  r = lgw__buf_steal(&b);
  return r;
}

int lgw_json_number(double d, char out[32]) {
  lgw__buf_t b;
  int rc;
  out[0] = '\0';
  if (!isfinite(d)) return LGW_EINVAL;
  lgw__buf_init(&b);
  rc = lgw__json_add_num(&b, d);
  if (!rc && b.len < 32) memcpy(out, b.data, b.len + 1);
  else if (!rc) rc = LGW_ENOMEM;
  lgw__buf_free(&b);
  return rc;
}
