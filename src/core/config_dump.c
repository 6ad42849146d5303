/*
 * config_dump.c -- a runtime back as a node tree, in the shape and order of
 * the Python dump_runtime_spec (our own settings after the Python ones),
 * with keys, header values, URL user info and query values and the Redis
 * password redacted unless asked for. Depends on node (the tree), url and
 * redis_url (the URLs as shown).
 */
#include "config.h"

#include <string.h>

#include "redis_url.h"
#include "url.h"

/* A string node; NULL reads as "". */
static lgw__node_t *str_node(const char *s) {
  return lgw__node_new_string(s ? s : "", s ? strlen(s) : 0, 0, 0);
}

/* map[key] = v; v NULL (out of memory) fails. Nothing leaks on failure:
 * lgw__node_append frees the key and v. */
static int put(lgw__node_t *map, const char *key, lgw__node_t *v) {
  return lgw__node_append(map, str_node(key), v);
}

/* Frees a tree that could not be built whole; NULL. */
static lgw__node_t *drop(lgw__node_t *n) {
  lgw__node_free(n);
  return NULL;
}

/* Integers stay exact (a long does not always fit a double); a float
 * node has no integer value (converting a huge double is undefined). */
static lgw__node_t *int_node(long long v) {
  lgw__node_t *n = lgw__node_new(LGW_NODE_INT, 0, 0);
  if (n) {
    n->i = v;
    n->d = (double)v;
  }
  return n;
}

static lgw__node_t *bool_node(int v) {
  lgw__node_t *n = lgw__node_new(LGW_NODE_BOOL, 0, 0);
  if (n) {
    n->b = v;
    n->i = v;
    n->d = v;
  }
  return n;
}

static lgw__node_t *float_node(double d) {
  lgw__node_t *n = lgw__node_new(LGW_NODE_FLOAT, 0, 0);
  if (n) n->d = d;
  return n;
}

/* A string map; with redact, "<redacted>" for every non-empty value. */
static lgw__node_t *kv_node(const lgw__kvlist_t *l, int redact) {
  lgw__node_t *m = lgw__node_new(LGW_NODE_MAP, 0, 0);
  size_t i;
  for (i = 0; m && i < l->n; i++) {
    const char *v = l->items[i].value;
    if (put(m, l->items[i].key,
            str_node(redact && v[0] ? "<redacted>" : v)))
      m = drop(m);
  }
  return m;
}

static lgw__node_t *provider_node(const lgw__provider_t *p, int with_keys) {
  static const lgw__provider_t none;
  lgw__node_t *m = lgw__node_new(LGW_NODE_MAP, 0, 0);
  const char *key;
  char *shown;
  if (!p) p = &none;
  key = p->api_key && p->api_key[0] && !with_keys ? "<redacted>" : p->api_key;
  shown = with_keys ? lgw__strdup(p->base_url ? p->base_url : "")
                    : lgw__url_redact(p->base_url);
  if (!m || !shown ||
      put(m, "provider_type", str_node(p->provider_type)) ||
      put(m, "api_style", str_node(p->api_style)) ||
      put(m, "base_url", str_node(shown)) ||
      put(m, "api_key", str_node(key)) ||
      put(m, "headers", kv_node(&p->headers, !with_keys)) ||
      put(m, "model_map", kv_node(&p->model_map, 0)) ||
      (p->rpm && put(m, "rpm", int_node(p->rpm))) ||
      (p->tpm && put(m, "tpm", int_node(p->tpm))) ||
      (p->allow_insecure_http &&
       put(m, "allow_insecure_http", bool_node(1))) ||
      (p->ca_file && p->ca_file[0] &&
       put(m, "ca_file", str_node(p->ca_file))))
    m = drop(m);
  lgw_free(shown);
  return m;
}

static lgw__node_t *price_node(const lgw__price_t *pr) {
  lgw__node_t *m = lgw__node_new(LGW_NODE_MAP, 0, 0);
  if (!m || put(m, "input", float_node(pr->input)) ||
      put(m, "output", float_node(pr->output)))
    m = drop(m);
  return m;
}

static lgw__node_t *prices_node(const lgw_runtime_t *rt) {
  lgw__node_t *m = lgw__node_new(LGW_NODE_MAP, 0, 0);
  size_t i;
  for (i = 0; m && i < rt->nprices; i++)
    if (put(m, rt->prices[i].model, price_node(&rt->prices[i]))) m = drop(m);
  return m;
}

static lgw__node_t *settings_node(const lgw_runtime_t *rt, int with_keys) {
  lgw__node_t *s = lgw__node_new(LGW_NODE_MAP, 0, 0);
  char *state = !rt->state ? NULL
                : with_keys ? lgw__strdup(rt->state)
                            : lgw__redis_url_redact(rt->state);
  if (!s || (rt->state && !state) ||
      put(s, "fallback_model", str_node(rt->fallback_model)) ||
      put(s, "strong_model", str_node(rt->strong_model)) ||
      put(s, "weak_model", str_node(rt->weak_model)) ||
      put(s, "strong_reasoning_effort",
          str_node(rt->strong_reasoning_effort)) ||
      put(s, "weak_reasoning_effort", str_node(rt->weak_reasoning_effort)) ||
      put(s, "max_concurrent", int_node(rt->max_concurrent)) ||
      put(s, "retry_max", int_node(rt->retry_max)) ||
      put(s, "transport_retries", int_node(rt->transport_retries)) ||
      put(s, "timeout", float_node(rt->timeout)) ||
      put(s, "connect_timeout", float_node(rt->connect_timeout)) ||
      put(s, "deadline", float_node(rt->deadline)) ||
      put(s, "backoff_base", float_node(rt->backoff_base)) ||
      put(s, "backoff_max", float_node(rt->backoff_max)) ||
      put(s, "retry_after_max", float_node(rt->retry_after_max)) ||
      put(s, "max_response_bytes", int_node(rt->max_response_bytes)) ||
      (rt->max_connections_per_host &&
       put(s, "max_connections_per_host",
           int_node(rt->max_connections_per_host))) ||
      put(s, "first_token_timeout", float_node(rt->first_token_timeout)) ||
      put(s, "idle_timeout", float_node(rt->idle_timeout)) ||
      (rt->failover_on_refusal &&
       put(s, "failover_on_refusal", bool_node(1))) ||
      put(s, "breaker_failures", int_node(rt->breaker_failures)) ||
      put(s, "breaker_window", float_node(rt->breaker_window)) ||
      put(s, "breaker_cooldown", float_node(rt->breaker_cooldown)) ||
      (rt->nprices && put(s, "prices", prices_node(rt))) ||
      (rt->ca_file && rt->ca_file[0] &&
       put(s, "ca_file", str_node(rt->ca_file))) ||
      (state && (put(s, "state", str_node(state)) ||
                 put(s, "state_prefix", str_node(rt->state_prefix)) ||
                 put(s, "state_refresh", float_node(rt->state_refresh)))) ||
      (rt->worker_grace != LGW_DEFAULT_WORKER_GRACE &&
       put(s, "worker_grace", float_node(rt->worker_grace))))
    s = drop(s);
  lgw_free(state);
  return s;
}

static lgw__node_t *task_node(const lgw__task_t *t) {
  lgw__node_t *m = lgw__node_new(LGW_NODE_MAP, 0, 0);
  if (!m || put(m, "model", str_node(t->model)) ||
      put(m, "tier", str_node(t->tier)) ||
      put(m, "temperature", float_node(t->temperature)) ||
      put(m, "reasoning_effort", str_node(t->reasoning_effort)) ||
      put(m, "max_tokens", int_node(t->max_tokens)))
    m = drop(m);
  return m;
}

static lgw__node_t *tasks_node(const lgw_runtime_t *rt) {
  lgw__node_t *m = lgw__node_new(LGW_NODE_MAP, 0, 0);
  size_t i;
  for (i = 0; m && i < rt->ntasks; i++)
    if (put(m, rt->tasks[i].name, task_node(&rt->tasks[i]))) m = drop(m);
  return m;
}

lgw__node_t *lgw__runtime_dump(const lgw_runtime_t *rt, int with_keys) {
  lgw__node_t *root = lgw__node_new(LGW_NODE_MAP, 0, 0);
  int rc;
  if (!root) return NULL;
  rc = put(root, "version", int_node(1)) ||
       put(root, "settings", settings_node(rt, with_keys)) ||
       put(root, "tasks", tasks_node(rt));
  if (!rc && rt->nproviders > 1) {
    lgw__node_t *list = lgw__node_new(LGW_NODE_SEQ, 0, 0);
    size_t i;
    for (i = 0; list && i < rt->nproviders; i++)
      if (lgw__node_append(list, NULL,
                           provider_node(&rt->providers[i], with_keys)))
        list = drop(list);
    rc = put(root, "providers", list);
  } else if (!rc) {
    rc = put(root, "provider",
             provider_node(rt->nproviders ? &rt->providers[0] : NULL,
                           with_keys));
  }
  return rc ? drop(root) : root;
}
