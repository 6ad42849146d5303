/*
 * config.c -- the runtime as the public API hands it out: loading a config
 * file or string (YAML, then ${VAR} interpolation, then validation by
 * config_validate.c), references, and the task, tier and price lookups.
 * Depends on yaml_load, env and config_validate.c.
 */
#include "config.h"

#include <string.h>

#include "yaml_load.h"

/* ---- public API -------------------------------------------------------- */

static int runtime_from_tree(lgw__node_t *root, const char *name,
                             lgw_runtime_t **out, lgw_error_t *err) {
  int rc = lgw__env_resolve_tree(root, lgw__getenv_default, NULL);
  if (rc) rc = lgw__error_set(err, rc, "out of memory");
  else rc = lgw__runtime_from_node(root, name, out, err);
  lgw__node_free(root);
  return rc;
}

int lgw_runtime_load_file(const char *path, lgw_runtime_t **out,
                          lgw_error_t *err) {
  lgw__node_t *root;
  int rc;
  if (!out) return lgw__error_set(err, LGW_EINVAL, "out is NULL");
  *out = NULL;
  if (!path) return lgw__error_set(err, LGW_EINVAL, "path is NULL");
  if ((rc = lgw__yaml_load_file(path, &root, err))) return rc;
  return runtime_from_tree(root, path, out, err);
}

int lgw_runtime_load_string(const char *yaml, size_t len, const char *name,
                            lgw_runtime_t **out, lgw_error_t *err) {
  lgw__node_t *root;
  int rc;
  if (!out) return lgw__error_set(err, LGW_EINVAL, "out is NULL");
  *out = NULL;
  if (!yaml && len) return lgw__error_set(err, LGW_EINVAL, "yaml is NULL");
  if (!name) name = "<string>";
  if ((rc = lgw__yaml_load_string(yaml, len, name, &root, err))) return rc;
  return runtime_from_tree(root, name, out, err);
}

lgw_runtime_t *lgw_runtime_ref(lgw_runtime_t *rt) {
  if (rt) __atomic_add_fetch(&rt->refs, 1, __ATOMIC_RELAXED);
  return rt;
}

void lgw_runtime_free(lgw_runtime_t *rt) {
  if (rt && __atomic_sub_fetch(&rt->refs, 1, __ATOMIC_ACQ_REL) == 0)
    lgw__runtime_destroy(rt);
}

size_t lgw_runtime_provider_count(const lgw_runtime_t *rt) {
  return rt ? rt->nproviders : 0;
}

const char *lgw_runtime_config_key(const lgw_runtime_t *rt) {
  return rt ? rt->config_key : "";
}

/* ---- lookups ----------------------------------------------------------- */

const lgw__price_t *lgw__runtime_price(const lgw_runtime_t *rt,
                                       const char *model) {
  size_t i;
  for (i = 0; model && i < rt->nprices; i++)
    if (strcmp(rt->prices[i].model, model) == 0) return &rt->prices[i];
  return NULL;
}

const lgw__task_t *lgw__runtime_task(const lgw_runtime_t *rt,
                                     const char *name, lgw__task_t *tmp) {
  size_t i, len;
  const char *s = lgw__trim(name, &len);
  for (i = 0; i < rt->ntasks; i++)
    if (strlen(rt->tasks[i].name) == len &&
        memcmp(rt->tasks[i].name, s, len) == 0)
      return &rt->tasks[i];
  /* unknown task: a fresh default task on the fallback model */
  memset(tmp, 0, sizeof *tmp);
  tmp->name = (char *)"";
  tmp->model = rt->fallback_model;
  tmp->tier = (char *)"";
  tmp->reasoning_effort = (char *)"";
  tmp->temperature = 0.0;
  tmp->max_tokens = LGW_DEFAULT_MAX_TOKENS;
  return tmp;
}

/* The tier, stripped, is word in any case. */
static int tier_is(const char *tier, const char *word) {
  size_t n;
  const char *t = lgw__trim(tier, &n);
  return n == strlen(word) && lgw__strncasecmp(t, word, n) == 0;
}

static const char *first_set(const char *a, const char *b, const char *c) {
  if (a[0]) return a;
  if (b[0]) return b;
  return c;
}

const char *lgw__runtime_model_for_tier(const lgw_runtime_t *rt,
                                        const char *tier) {
  if (tier_is(tier, "strong"))
    return first_set(rt->strong_model, rt->fallback_model, "");
  if (tier_is(tier, "weak"))
    return first_set(rt->weak_model, rt->strong_model, rt->fallback_model);
  return first_set(rt->fallback_model, rt->strong_model, rt->weak_model);
}

const char *lgw__runtime_effort_for_tier(const lgw_runtime_t *rt,
                                         const char *tier) {
  if (tier_is(tier, "strong")) return rt->strong_reasoning_effort;
  if (tier_is(tier, "weak")) return rt->weak_reasoning_effort;
  return "";
}
