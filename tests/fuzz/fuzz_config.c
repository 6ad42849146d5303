/*
 * fuzz_config.c -- fuzzing config loading and validation: YAML text ->
 * node tree -> environment interpolation (fixed fake environment) ->
 * runtime -> runtime dump -> YAML. Also checks two round trips: dumping
 * any loaded tree and loading the dump gives the same dump again, and a
 * runtime's dump loads into a runtime whose dump is identical.
 */
#include "config.h"
#include "fuzz_common.h"
#include "yaml_load.h"

/* Warnings (unknown keys) become part of the outcome description. */
static lgw__buf_t *cfg_log_desc;

static void cfg_log(lgw_log_level_t level, const char *msg, void *ud) {
  (void)ud;
  FUZZ_NOTE(cfg_log_desc, "log%d: %s\n", (int)level, msg);
}

/* YAML of a tree; NULL when the dump fails (the error is described). */
static char *cfg_dump(const lgw__node_t *root, lgw__buf_t *desc) {
  lgw_error_t err;
  char *text = NULL;
  size_t len = 0;
  int rc;
  memset(&err, 0, sizeof err);
  rc = lgw__yaml_dump(root, &text, &len, &err);
  if (rc) {
    FUZZ_CHECK(err.message[0] != '\0');
    FUZZ_NOTE(desc, "dump=%d %s\n", rc, err.message);
    return NULL;
  }
  FUZZ_CHECK(text != NULL && strlen(text) == len);
  return text;
}

/* dump(load(dump(tree))) == dump(tree). */
static void cfg_tree_round_trip(const char *dumped) {
  lgw_error_t err;
  lgw__node_t *again = NULL;
  char *text2;
  memset(&err, 0, sizeof err);
  FUZZ_CHECK(lgw__yaml_load_string(dumped, strlen(dumped), "dump", &again,
                                   &err) == 0);
  text2 = cfg_dump(again, NULL);
  FUZZ_CHECK(text2 != NULL);
  FUZZ_CHECK(strcmp(dumped, text2) == 0);
  lgw_free(text2);
  lgw__node_free(again);
}

/* The runtime's dump as YAML (owned by the caller). */
static char *cfg_runtime_yaml(const lgw_runtime_t *rt) {
  lgw__node_t *tree = lgw__runtime_dump(rt, 1);
  char *text;
  FUZZ_CHECK(tree != NULL);
  text = cfg_dump(tree, NULL);
  FUZZ_CHECK(text != NULL);
  lgw__node_free(tree);
  return text;
}

/* The runtime fields the Python library defines (a description that does
 * not change when settings of our own are added). */
static void cfg_describe(const lgw_runtime_t *rt, lgw__buf_t *desc) {
  char f[32];
  size_t i;
  if (!desc) return;
  lgw__node_float_repr(rt->timeout, f);
  lgw__buf_printf(desc,
                  "providers=%zu config_key=%s\n"
                  "models=[%s|%s|%s] efforts=[%s|%s]\n"
                  "max_concurrent=%ld retry_max=%ld transport_retries=%ld "
                  "timeout=%s\n",
                  rt->nproviders, rt->config_key, rt->fallback_model,
                  rt->strong_model, rt->weak_model,
                  rt->strong_reasoning_effort, rt->weak_reasoning_effort,
                  rt->max_concurrent, rt->retry_max, rt->transport_retries,
                  f);
  for (i = 0; i < rt->nproviders; i++) {
    const lgw__provider_t *p = &rt->providers[i];
    lgw__buf_printf(desc, "provider [%s|%s|%s] headers=%zu models=%zu\n",
                    p->provider_type, p->api_style, p->base_url,
                    p->headers.n, p->model_map.n);
  }
  for (i = 0; i < rt->ntasks; i++) {
    const lgw__task_t *t = &rt->tasks[i];
    lgw__node_float_repr(t->temperature, f);
    lgw__buf_printf(desc, "task [%s] model=[%s] tier=[%s] temperature=%s "
                    "effort=[%s] max_tokens=%ld\n", t->name, t->model,
                    t->tier, f, t->reasoning_effort, t->max_tokens);
  }
}

static void fuzz_config(const uint8_t *data, size_t size, lgw__buf_t *desc) {
  lgw_error_t err;
  lgw__node_t *root = NULL, *root2 = NULL;
  lgw_runtime_t *rt = NULL, *rt2 = NULL;
  char *dumped, *yaml1, *yaml2;
  int rc;
  memset(&err, 0, sizeof err);
  cfg_log_desc = desc;
  lgw_set_log(cfg_log, NULL, LGW_LOG_DEBUG);
  rc = lgw__yaml_load_string((const char *)data, size, "fuzz.yaml", &root,
                             &err);
  FUZZ_NOTE(desc, "load=%d", rc);
  if (rc) {
    FUZZ_CHECK(root == NULL && err.message[0] != '\0');
    FUZZ_NOTE(desc, " %s\n", err.message);
    goto done;
  }
  FUZZ_NOTE(desc, "\n");
  dumped = cfg_dump(root, desc);
  if (dumped) {
    cfg_tree_round_trip(dumped);
    lgw_free(dumped);
  }
  FUZZ_CHECK(lgw__env_resolve_tree(root, fuzz_getenv, NULL) == 0);
  rc = lgw__runtime_from_node(root, "fuzz.yaml", &rt, &err);
  FUZZ_NOTE(desc, "runtime=%d", rc);
  if (rc) {
    FUZZ_CHECK(rt == NULL && err.message[0] != '\0');
    FUZZ_NOTE(desc, " %s\n", err.message);
    goto done;
  }
  FUZZ_CHECK(rt != NULL && strlen(rt->config_key) == 64);
  FUZZ_NOTE(desc, "\n");
  cfg_describe(rt, desc);
  yaml1 = cfg_runtime_yaml(rt);
  /* The dump is a valid config describing the same runtime. */
  FUZZ_CHECK(lgw__yaml_load_string(yaml1, strlen(yaml1), "dump", &root2,
                                   &err) == 0);
  rc = lgw__runtime_from_node(root2, "dump", &rt2, &err);
  if (rc) fprintf(stderr, "dump does not load: %s\n", err.message);
  FUZZ_CHECK(rc == 0);
  yaml2 = cfg_runtime_yaml(rt2);
  FUZZ_CHECK(strcmp(yaml1, yaml2) == 0);
  /* With no providers the dump still has an all-empty "provider" (as in
   * Python), which loads back as one provider: only then keys differ. */
  if (rt->nproviders) {
    FUZZ_CHECK(rt2->nproviders == rt->nproviders);
    FUZZ_CHECK(strcmp(rt->config_key, rt2->config_key) == 0);
  } else {
    FUZZ_CHECK(rt2->nproviders == 1);
  }
  lgw_free(yaml2);
  lgw_free(yaml1);
  lgw_runtime_free(rt2);
  lgw_runtime_free(rt);
  lgw__node_free(root2);
done:
  lgw__node_free(root);
  lgw_set_log(NULL, NULL, LGW_LOG_WARN);
  cfg_log_desc = NULL;
}

#ifndef LGW_FUZZ_NO_MAIN
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  fuzz_config(data, size, NULL);
  return 0;
}
#endif
