/*
 * api_files.c -- the public configuration-file and state-file functions:
 * locations from the environment, the user config file as a value, the
 * provider-state file, atomic writes.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include "config.h"
#include "env.h"
#include "fileio.h"
#include "llmgateway.h"
#include "node.h"
#include "provider_state.h"
#include "util.h"
#include "yaml_load.h"

char *lgw_user_config_dir(void) {
  return lgw__user_config_dir(lgw__getenv_default, NULL);
}

char *lgw_user_config_file(const char *path) {
  return lgw__resolve_user_config_file(path, lgw__getenv_default, NULL);
}

char *lgw_provider_state_file(const char *path) {
  return lgw__resolve_provider_state_file(path, lgw__getenv_default, NULL);
}

int lgw_user_config_load(const char *arg, lgw_value_t **out,
                         lgw_error_t *err) {
  char *path = lgw_user_config_file(arg);
  lgw__node_t *root = NULL;
  struct stat st;
  int rc;
  *out = NULL;
  if (!path) return lgw__error_set(err, LGW_ENOMEM, "out of memory");
  if (stat(path, &st) != 0 && (errno == ENOENT || errno == ENOTDIR)) {
    lgw_free(path);
    return (*out = lgw_value_object()) ? 0
               : lgw__error_set(err, LGW_ENOMEM, "out of memory");
  }
  rc = lgw__yaml_load_file(path, &root, err);
  if (!rc && root && root->type != LGW_NODE_MAP)
    rc = lgw__error_set(err, LGW_ECONFIG, "Invalid llmgateway config: %s "
                        "(the top level must be a mapping, not a %s)", path,
                        lgw__node_type_name(root->type));
  if (!rc && root && lgw__env_resolve_tree(root, lgw__getenv_default, NULL))
    rc = lgw__error_set(err, LGW_ENOMEM, "out of memory");
  if (!rc && !root && !(root = lgw_value_object()))
    rc = lgw__error_set(err, LGW_ENOMEM, "out of memory");
  lgw_free(path);
  if (rc) {
    lgw__node_free(root);
    return rc;
  }
  *out = root;
  return 0;
}

int lgw_user_config_write(const lgw_value_t *v, const char *arg,
                          char **written, lgw_error_t *err) {
  char *path = NULL, *yaml = NULL;
  size_t len = 0;
  int rc;
  if (written) *written = NULL;
  rc = lgw__yaml_dump(v, &yaml, &len, err);
  if (!rc && !(path = lgw_user_config_file(arg)))
    rc = lgw__error_set(err, LGW_ENOMEM, "out of memory");
  if (!rc) rc = lgw__write_file_atomic(path, yaml, len, err);
  lgw_free(yaml);
  if (!rc && written) *written = path;
  else lgw_free(path);
  return rc;
}

int lgw_provider_state_load(const char *arg, lgw_value_t **out,
                            lgw_error_t *err) {
  char *path = lgw_provider_state_file(arg);
  lgw__kvlist_t kv = {NULL, 0};
  lgw_value_t *o;
  size_t i;
  int rc;
  *out = NULL;
  if (!path) return lgw__error_set(err, LGW_ENOMEM, "out of memory");
  rc = lgw__state_load(path, &kv, err);
  lgw_free(path);
  if (rc) return rc;
  o = lgw_value_object();
  for (i = 0; o && i < kv.n; i++) {
    const char *k = kv.items[i].key, *v = kv.items[i].value;
    if (lgw_value_set(o, k, strlen(k), lgw_value_string(v, strlen(v)))) {
      lgw_value_free(o);
      o = NULL;
    }
  }
  lgw__kvlist_free(&kv);
  if (!o) return lgw__error_set(err, LGW_ENOMEM, "out of memory");
  *out = o;
  return 0;
}

/* A scalar as the text written to the state file; NULL for other types
 * (buf holds a number's text). */
static const char *state_text(const lgw_value_t *v, char buf[40]) {
  switch (lgw_value_type(v)) {
    case LGW_VALUE_STRING: return lgw_value_get_string(v, NULL);
    case LGW_VALUE_INT:
      snprintf(buf, 40, "%lld", lgw_value_get_int(v));
      return buf;
    case LGW_VALUE_NUMBER:
      lgw__node_float_repr(lgw_value_get_number(v), buf);
      return buf;
    default: return NULL;
  }
}

int lgw_provider_state_write(const lgw_value_t *state, int merge,
                             const char *arg, char **written,
                             lgw_error_t *err) {
  lgw__kvlist_t kv = {NULL, 0};
  char *path = NULL;
  size_t i, n = lgw_value_count(state);
  int rc = 0;
  if (written) *written = NULL;
  if (lgw_value_type(state) != LGW_VALUE_OBJECT)
    return lgw__error_set(err, LGW_EINVAL, "the state must be an object");
  for (i = 0; !rc && i < n; i++) {
    char kb[40], vb[40];
    const char *k = state_text(lgw_value_key_value(state, i), kb);
    const char *v = state_text(lgw_value_at(state, i), vb);
    if (!k || !v)
      rc = lgw__error_set(err, LGW_EINVAL, "keys and values must be "
                          "strings");
    else if (lgw__kvlist_add(&kv, k, v))
      rc = lgw__error_set(err, LGW_ENOMEM, "out of memory");
  }
  if (!rc && !(path = lgw_provider_state_file(arg)))
    rc = lgw__error_set(err, LGW_ENOMEM, "out of memory");
  if (!rc)
    rc = merge ? lgw__state_merge(path, &kv, err)
               : lgw__state_write(path, &kv, err);
  lgw__kvlist_free(&kv);
  if (!rc && written) *written = path;
  else lgw_free(path);
  return rc;
}

int lgw_write_file_atomic(const char *path, const void *data, size_t len,
                          lgw_error_t *err) {
  if (!path || (!data && len))
    return lgw__error_set(err, LGW_EINVAL, "no path or data");
  return lgw__write_file_atomic(path, data ? data : "", len, err);
}
