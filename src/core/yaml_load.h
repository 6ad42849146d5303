/*
 * yaml_load.h -- libyaml to and from the node tree. Loading keeps every
 * node's line and column and resolves plain scalars the way PyYAML's
 * safe_load does (null, booleans, ints, floats). The only user of libyaml,
 * which yaml_dl.c opens at the first call of one of these.
 */
#ifndef LGW_YAML_LOAD_H
#define LGW_YAML_LOAD_H

#include <stddef.h>

#include "llmgateway.h"
#include "node.h"

/* Parse one YAML document. name is used in error messages
 * ("<name>:line:col: <problem>"). An empty document gives a NULL node; a
 * second document is an error (as PyYAML's safe_load). Alias expansion is
 * bounded: at most 1,000,000 nodes and max(64 MiB, 16 x len) bytes of
 * scalar text, else an error at the alias.
 * *out owned by the caller. Errors: LGW_ECONFIG (syntax), LGW_ENOMEM. */
int lgw__yaml_load_string(const char *text, size_t len, const char *name,
                          lgw__node_t **out, lgw_error_t *err);
/* Read a file (errors: LGW_EIO naming the path and strerror, e.g. a
 * directory or an unreadable file) and parse it. */
int lgw__yaml_load_file(const char *path, lgw__node_t **out,
                        lgw_error_t *err);
/* Emit a tree as block-style YAML (maps in their order, UTF-8 unescaped),
 * as PyYAML safe_dump(sort_keys=False, allow_unicode=True) would.
 * *out owned by the caller. */
int lgw__yaml_dump(const lgw__node_t *root, char **out, size_t *len,
                   lgw_error_t *err);

#endif
