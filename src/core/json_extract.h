/*
 * json_extract.h -- finding the JSON value in a model's answer: plain
 * JSON, a fenced block (```json or bare ```) anywhere in the text, or the
 * first complete object or array embedded in prose. Reports why parsing
 * failed with a position, and tells a JSON null apart from failure.
 */
#ifndef LGW_JSON_EXTRACT_H
#define LGW_JSON_EXTRACT_H

#include <stddef.h>

#include "cjson_dl.h"  /* <cJSON.h>, the calls through a table */

#include "llmgateway.h"

/* On success returns 0 and *out (caller cJSON_Delete) -- a JSON null is a
 * cJSON node of type cJSON_NULL, never a NULL pointer. On failure returns
 * LGW_EJSON, *out = NULL, and err->message such as
 * "JSON parse error: Expecting value: line 1 column 1 (char 0)" (Python-style). */
int lgw__json_extract(const char *text, size_t len, cJSON **out,
                      lgw_error_t *err);

/* Strict parse of one whole JSON document (surrounding whitespace allowed)
 * with the same error messages; used by the extractor and by
 * llm.parse_json. Accepts NaN/Infinity/-Infinity like Python. */
int lgw__json_parse_strict(const char *text, size_t len, cJSON **out,
                           lgw_error_t *err);

/* The byte length of a string node made by these parsers (its text may
 * hold a NUL, escaped as \u0000 in the JSON; the length is kept in the
 * node's otherwise unused valuedouble). */
size_t lgw__json_strlen(const cJSON *v);

/* Byte offset pos of s as Python's json reports it, in code points:
 * "line L column C (char N)" into out (cap bytes). */
void lgw__json_pos(const char *s, size_t pos, char *out, size_t cap);

#endif
