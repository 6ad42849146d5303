/*
 * env.h -- environment interpolation of config strings, exactly as the
 * Python llmgateway's resolve_env_value: the whole (stripped) string may be
 * ${NAME}, ${NAME:-default}, ${NAME:default} or env:NAME. One extension:
 * the default may itself be one whole reference (${A:-${B}},
 * ${A:-${B:-x}}); deeper nesting is left literal, and the config
 * validation refuses any value still holding "${". Pure: the environment
 * lookup is injected.
 */
#ifndef LGW_ENV_H
#define LGW_ENV_H

#include "node.h"

/* Returns the variable's value or NULL when unset. */
typedef const char *(*lgw__getenv_fn)(const char *name, void *ud);

/* Default lookup: getenv(3). */
const char *lgw__getenv_default(const char *name, void *ud);

/* Resolve one value. text NULL counts as "". Returned string is owned by
 * the caller (lgw_free); NULL only when out of memory. */
char *lgw__env_resolve(const char *text, lgw__getenv_fn get, void *ud);

/* Apply lgw__env_resolve to every STRING value in the tree (map keys are
 * left alone, and so are strings holding a NUL byte). Returns 0 or LGW_ENOMEM. */
int lgw__env_resolve_tree(lgw__node_t *root, lgw__getenv_fn get, void *ud);

#endif
