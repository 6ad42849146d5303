/*
 * node.h -- the generic configuration tree. YAML files (yaml_load.c) and
 * Lua tables (lua binding) both become this tree; config.c validates it
 * into a runtime. Nodes keep their source position for error messages.
 */
#ifndef LGW_NODE_H
#define LGW_NODE_H

#include <stddef.h>

typedef enum {
  LGW_NODE_NULL,
  LGW_NODE_BOOL,
  LGW_NODE_INT,
  LGW_NODE_FLOAT,
  LGW_NODE_STRING,
  LGW_NODE_SEQ,
  LGW_NODE_MAP
} lgw__node_type_t;

/* The public lgw_value_t (llmgateway.h) is this tree. */
typedef struct lgw_value lgw__node_t;
struct lgw_value {
  lgw__node_type_t type;
  int line, col;       /* 1-based source position; 0 when not from a file */
  char *str;           /* STRING value; for scalars also the source text */
  size_t len;          /* length of str */
  long long i;         /* INT value */
  double d;            /* FLOAT value (also set for INT) */
  int b;               /* BOOL value */
  size_t n;            /* children count (SEQ, MAP) */
  lgw__node_t **items; /* SEQ elements / MAP values */
  lgw__node_t **keys;  /* MAP keys (scalar nodes), same index as items */
};

/* Constructors; return NULL on allocation failure. str is copied. */
lgw__node_t *lgw__node_new(lgw__node_type_t type, int line, int col);
lgw__node_t *lgw__node_new_string(const char *s, size_t len, int line,
                                  int col);
/* Append to SEQ (key NULL) or MAP (key non-NULL); takes ownership of both
 * nodes, also on failure. Returns 0 or LGW_ENOMEM. */
int lgw__node_append(lgw__node_t *parent, lgw__node_t *key,
                     lgw__node_t *value);
void lgw__node_free(lgw__node_t *n);
/* MAP lookup by exact string key; last match wins (YAML/Python dict). */
lgw__node_t *lgw__node_get(const lgw__node_t *map, const char *key);
/* Scalar as text: STRING as-is, numbers/bools as their source text
 * (or printed), NULL -> NULL. Borrowed. */
const char *lgw__node_text(const lgw__node_t *n);
/* Deep copy; NULL on allocation failure. */
lgw__node_t *lgw__node_copy(const lgw__node_t *n);
/* Type name for messages: "null", "boolean", "integer", "number",
 * "string", "list", "mapping". */
const char *lgw__node_type_name(lgw__node_type_t t);

/* Python repr() of a float: shortest round-trip digits, "1.0", "1e-05",
 * "1e+16", "inf", "nan". */
void lgw__node_float_repr(double d, char out[32]);

#endif
