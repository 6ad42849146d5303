/*
 * api_runtime.c -- the public runtime functions built on the validator:
 * a runtime from a value tree, its dump and settings as values, a copy
 * with another max_concurrent, provider and config keys of values.
 */
#include <string.h>

#include "cjson_dl.h"  /* <cJSON.h>, the calls through a table */

#include "config.h"
#include "env.h"
#include "llmgateway.h"
#include "node.h"
#include "provider_state.h"
#include "util.h"

int lgw_runtime_from_value(const lgw_value_t *v, const char *name,
                           lgw_runtime_t **out, lgw_error_t *err) {
  lgw__node_t *root;
  int rc;
  *out = NULL;
  if (!v) return lgw__runtime_from_node(NULL, name, out, err);
  root = lgw__node_copy(v);
  if (!root || lgw__env_resolve_tree(root, lgw__getenv_default, NULL)) {
    lgw__node_free(root);
    return lgw__error_set(err, LGW_ENOMEM, "out of memory");
  }
  rc = lgw__runtime_from_node(root, name, out, err);
  lgw__node_free(root);
  return rc;
}

lgw_value_t *lgw_runtime_dump(const lgw_runtime_t *rt, int with_keys) {
  return rt ? lgw__runtime_dump(rt, with_keys) : NULL;
}

static int put(lgw_value_t *o, const char *key, lgw_value_t *v) {
  if (!v) return LGW_ENOMEM;
  return lgw_value_set(o, key, strlen(key), v);
}

static lgw_value_t *str_or_null(const char *s) {
  return s ? lgw_value_string(s, strlen(s)) : lgw_value_null();
}

lgw_value_t *lgw_runtime_settings(const lgw_runtime_t *rt) {
  lgw_value_t *o = rt ? lgw_value_object() : NULL;
  if (!o) return NULL;
  if (put(o, "fallback_model", str_or_null(rt->fallback_model)) ||
      put(o, "strong_model", str_or_null(rt->strong_model)) ||
      put(o, "weak_model", str_or_null(rt->weak_model)) ||
      put(o, "max_concurrent", lgw_value_int(rt->max_concurrent)) ||
      put(o, "retry_max", lgw_value_int(rt->retry_max)) ||
      put(o, "transport_retries", lgw_value_int(rt->transport_retries)) ||
      put(o, "timeout", lgw_value_number(rt->timeout)) ||
      put(o, "state", str_or_null(rt->state)) ||
      put(o, "state_prefix", str_or_null(rt->state_prefix)) ||
      put(o, "worker_grace", lgw_value_number(rt->worker_grace))) {
    lgw_value_free(o);
    return NULL;
  }
  return o;
}

/* ---- copy ---------------------------------------------------------------- */

/* *dst = copy of src (NULL stays NULL); 0 or LGW_ENOMEM. */
static int dup(char **dst, const char *src) {
  *dst = NULL;
  if (!src) return 0;
  return (*dst = lgw__strdup(src)) ? 0 : LGW_ENOMEM;
}

static int kv_copy(lgw__kvlist_t *dst, const lgw__kvlist_t *src) {
  size_t i;
  for (i = 0; i < src->n; i++)
    if (lgw__kvlist_add(dst, src->items[i].key, src->items[i].value))
      return LGW_ENOMEM;
  return 0;
}

static int provider_copy(lgw__provider_t *d, const lgw__provider_t *s) {
  *d = *s;
  d->provider_type = d->api_style = d->base_url = d->api_key = NULL;
  d->ca_file = d->extra_body = NULL;
  memset(&d->headers, 0, sizeof d->headers);
  memset(&d->model_map, 0, sizeof d->model_map);
  if (dup(&d->provider_type, s->provider_type) ||
      dup(&d->api_style, s->api_style) || dup(&d->base_url, s->base_url) ||
      dup(&d->api_key, s->api_key) || dup(&d->ca_file, s->ca_file) ||
      kv_copy(&d->headers, &s->headers) ||
      kv_copy(&d->model_map, &s->model_map))
    return LGW_ENOMEM;
  if (s->extra_body) {  /* released with cJSON_free */
    size_t n = strlen(s->extra_body) + 1;
    if (!(d->extra_body = cJSON_malloc(n))) return LGW_ENOMEM;
    memcpy(d->extra_body, s->extra_body, n);
  }
  return 0;
}

/* Deep copy (refs 1); NULL when out of memory. Every pointer of the copy
 * is NULL or its own, so a partial copy is released by lgw_runtime_free. */
static lgw_runtime_t *runtime_copy(const lgw_runtime_t *s) {
  lgw_runtime_t *d = lgw__calloc(1, sizeof *d);
  size_t i;
  if (!d) return NULL;
  *d = *s;
  d->refs = 1;
  d->providers = NULL;
  d->tasks = NULL;
  d->prices = NULL;
  d->nproviders = d->ntasks = d->nprices = 0;
  d->fallback_model = d->strong_model = d->weak_model = NULL;
  d->strong_reasoning_effort = d->weak_reasoning_effort = NULL;
  d->state = d->state_prefix = d->ca_file = NULL;
  if (dup(&d->fallback_model, s->fallback_model) ||
      dup(&d->strong_model, s->strong_model) ||
      dup(&d->weak_model, s->weak_model) ||
      dup(&d->strong_reasoning_effort, s->strong_reasoning_effort) ||
      dup(&d->weak_reasoning_effort, s->weak_reasoning_effort) ||
      dup(&d->state, s->state) || dup(&d->state_prefix, s->state_prefix) ||
      dup(&d->ca_file, s->ca_file))
    goto fail;
  if (s->nproviders) {
    if (!(d->providers = lgw__calloc(s->nproviders, sizeof *d->providers)))
      goto fail;
    d->nproviders = s->nproviders;
    for (i = 0; i < s->nproviders; i++)
      if (provider_copy(&d->providers[i], &s->providers[i])) goto fail;
  }
  if (s->ntasks) {
    if (!(d->tasks = lgw__calloc(s->ntasks, sizeof *d->tasks))) goto fail;
    d->ntasks = s->ntasks;
    for (i = 0; i < s->ntasks; i++) {
      const lgw__task_t *t = &s->tasks[i];
      lgw__task_t *u = &d->tasks[i];
      u->temperature = t->temperature;
      u->max_tokens = t->max_tokens;
      if (dup(&u->name, t->name) || dup(&u->model, t->model) ||
          dup(&u->tier, t->tier) ||
          dup(&u->reasoning_effort, t->reasoning_effort))
        goto fail;
    }
  }
  if (s->nprices) {
    if (!(d->prices = lgw__calloc(s->nprices, sizeof *d->prices))) goto fail;
    d->nprices = s->nprices;
    for (i = 0; i < s->nprices; i++) {
      d->prices[i] = s->prices[i];
      d->prices[i].model = NULL;
      if (dup(&d->prices[i].model, s->prices[i].model)) goto fail;
    }
  }
  return d;
fail:
  lgw_runtime_free(d);
  return NULL;
}

int lgw_runtime_with_max_concurrent(const lgw_runtime_t *rt, long n,
                                    lgw_runtime_t **out, lgw_error_t *err) {
  *out = NULL;
  if (!rt) return lgw__error_set(err, LGW_EINVAL, "no runtime");
  if (n < 1)
    return lgw__error_set(err, LGW_ECONFIG, "settings.max_concurrent: must "
                          "be at least 1, got %ld", n);
  if (!(*out = runtime_copy(rt)))
    return lgw__error_set(err, LGW_ENOMEM, "out of memory");
  (*out)->max_concurrent = n;
  return 0;
}

/* ---- keys ---------------------------------------------------------------- */

int lgw_provider_key(const lgw_value_t *provider, char out[65],
                     lgw_error_t *err) {
  lgw__provider_t p;
  int rc;
  out[0] = '\0';
  if ((rc = lgw__provider_parse(provider, &p, err))) return rc;
  rc = lgw__provider_key(&p, out);
  lgw__provider_clear(&p);
  if (rc) out[0] = '\0';
  return rc ? lgw__error_set(err, LGW_ENOMEM, "out of memory") : 0;
}

int lgw_config_key(const lgw_value_t *providers, char out[65],
                   lgw_error_t *err) {
  lgw__node_t *root = lgw__node_new(LGW_NODE_MAP, 0, 0);
  lgw__node_t *list = providers ? lgw__node_copy(providers) : NULL;
  lgw_runtime_t *rt = NULL;
  int rc;
  out[0] = '\0';
  if (!root || !list || lgw_value_set(root, "providers", 9, list)) {
    if (!root) lgw__node_free(list);
    lgw__node_free(root);
    return lgw__error_set(err, LGW_ENOMEM, "out of memory");
  }
  rc = lgw__runtime_from_node(root, NULL, &rt, err);
  lgw__node_free(root);
  if (rc) return rc;
  memcpy(out, rt->config_key, 65);
  lgw_runtime_free(rt);
  return 0;
}
