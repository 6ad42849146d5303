/*
 * json.h -- JSON for the rest of the library, in three parts:
 *  - the one writer: values appended to a lgw__buf_t as JSON text
 *    (request bodies, traces, provider keys); no tree is built;
 *  - cJSON trees that keep a U+0000 inside strings (cJSON itself stops a
 *    string at its first NUL);
 *  - the in-place reader for hot paths: one strict validation pass over a
 *    document, then members and elements are found by walking its text,
 *    and strings are decoded straight into a buffer. Where the reader
 *    cannot be sure it answers as cJSON would (keys with escapes, numbers
 *    that are not plain integers, deep nesting), it says "unsure" and the
 *    caller reads a cJSON tree instead.
 * Finding a JSON value in a model's prose, with Python's error messages,
 * is json_extract.h.
 */
#ifndef LGW_JSON_H
#define LGW_JSON_H

#include <stddef.h>

#include "cjson_dl.h"  /* <cJSON.h>, the calls through a table */

#include "util.h"

/* ---- writing ------------------------------------------------------------ */

/* Append s[0..n) as a quoted JSON string. Control characters, '"' and '\\'
 * are escaped; invalid UTF-8 becomes U+FFFD (one per maximal invalid
 * subpart), so the output is always valid JSON. */
int lgw__json_add_str(lgw__buf_t *b, const char *s, size_t n);
/* Append s[0..n) quoted as Python's json.dumps(ensure_ascii=True) writes
 * it: every character outside printable ASCII as \uXXXX (a surrogate pair
 * above U+FFFF); a byte that does not start a well-formed UTF-8 sequence
 * is one U+FFFD. Byte-identical output matters where it is hashed. */
int lgw__json_add_str_ascii(lgw__buf_t *b, const char *s, size_t n);
/* Append a finite double the way Python's repr does (0.0, 0.7, 1e-05);
 * LGW_EINVAL for NaN or infinity. */
int lgw__json_add_num(lgw__buf_t *b, double v);
/* Append an integer in decimal. */
int lgw__json_add_long(lgw__buf_t *b, long v);
/* Append ",\"key\":" (key is a literal without escapes). */
int lgw__json_add_key(lgw__buf_t *b, const char *key);

/* Code point cp (at most U+10FFFF) as UTF-8 at d; returns the end. */
char *lgw__utf8_put(char *d, unsigned long cp);
/* Four hex digits at p (p[0..4) readable) as *out: 1, or 0 when one is
 * not a hex digit. */
int lgw__hex4(const char *p, unsigned long *out);

/* ---- cJSON trees -------------------------------------------------------- */

/* A U+0000 in a JSON string survives cJSON: when s[0..n) holds a \u0000
 * escape, the tree is parsed from a copy where each \u0000 escape is the
 * bytes C0 80 and each C0 byte is C0 81 (both invalid UTF-8, so never
 * text of their own), and *nul is 1; lgw__json_text undoes it. NULL when
 * the text is not JSON. Free with cJSON_Delete. */
cJSON *lgw__json_parse(const char *s, size_t n, int *nul);
/* The rewriting of lgw__json_parse (caller frees); NULL when s holds no
 * \u0000 escape or memory is short (*oom then 1). */
char *lgw__json_nul_encode(const char *s, size_t n, size_t *out_len,
                           int *oom);
/* cJSON gave no tree for s[0..n): 1 when the text is JSON it reads (one
 * value, whitespace around it), so memory ran out; 0 when it is not JSON
 * (or only a tree could tell). Allocates nothing. */
int lgw__json_nomem(const char *s, size_t n);
/* Append the text of a JSON string value s of a tree parsed with nul (as
 * lgw__json_parse reported) to b. */
int lgw__json_text(lgw__buf_t *b, const char *s, int nul);
/* obj[key] as a non-negative integer; -1 when absent or not a number. */
long lgw__json_count(const cJSON *obj, const char *key);

/* ---- reading in place --------------------------------------------------- */

typedef enum {
  LGW__JV_NONE, LGW__JV_NULL, LGW__JV_FALSE, LGW__JV_TRUE, LGW__JV_NUM,
  LGW__JV_STR, LGW__JV_ARR, LGW__JV_OBJ
} lgw__jv_type_t;
/* A value starting at p; p[0..n) holds it and may run past its end to
 * the end of the document (borrowed from the document). */
typedef struct lgw__jv {
  const char *p;
  size_t n;
  lgw__jv_type_t type;   /* LGW__JV_NONE: absent */
} lgw__jv_t;
/* The answer of the functions below when only a tree can tell. */
#define LGW__JV_UNSURE 1

/* 0 with *root when doc[0..len) is one JSON value (with JSON whitespace
 * around it) that cJSON reads the same way; LGW__JV_UNSURE otherwise
 * (not JSON, a byte order mark, nesting deeper than 256, a number longer
 * than cJSON reads). Every other function takes values found from a
 * root: the document must stay unchanged while they are used (the ends
 * of its outer containers are remembered, per thread, until the next
 * root). */
int lgw__jv_root(const char *doc, size_t len, lgw__jv_t *root);
/* obj[key], its first occurrence as cJSON finds it; type NONE when absent
 * or obj is not an object. 0 or LGW__JV_UNSURE (a key with escapes came
 * first). */
int lgw__jv_get(const lgw__jv_t *obj, const char *key, lgw__jv_t *out);
/* lgw__jv_get of n keys at once (out[i] for keys[i]), in one walk of
 * obj: cheaper than n calls when a member before the last one wanted is
 * long. */
int lgw__jv_getv(const lgw__jv_t *obj, const char *const *keys,
                 lgw__jv_t *out, size_t n);
/* arr[0]; type NONE when absent or arr is not an array. */
void lgw__jv_first(const lgw__jv_t *arr, lgw__jv_t *out);
/* The element after *it in its array, in place; type NONE after the last.
 * Walk an array with lgw__jv_first, then lgw__jv_next. */
void lgw__jv_next(lgw__jv_t *it);
/* lgw__json_count on the text: *count (-1 when absent or not a number).
 * 0, or LGW__JV_UNSURE for a number that is not a plain integer of at
 * most 15 digits (a negative one included). */
int lgw__jv_count(const lgw__jv_t *obj, const char *key, long *count);
/* The same for a value v itself. */
int lgw__jv_int(const lgw__jv_t *v, long *count);
/* The decoded text of a string value appended to b. 0, LGW_ENOMEM or
 * LGW__JV_UNSURE (a lone surrogate escape, which cJSON rejects). */
int lgw__jv_str(const lgw__jv_t *s, lgw__buf_t *b);
/* A string's bytes between its quotes, *p and *n, when it holds no
 * escape: 0; LGW__JV_UNSURE when it does (decode it with lgw__jv_str,
 * into at most *n + 1 bytes; *p and *n are set either way). */
int lgw__jv_plain(const lgw__jv_t *s, const char **p, size_t *n);
/* A string value equal to lit (no escapes in either): *eq 1, else 0
 * (also for a value that is no string). 0 or LGW__JV_UNSURE (escapes). */
int lgw__jv_eq(const lgw__jv_t *v, const char *lit, int *eq);
/* The text of value v, *p and *n, when it is exactly what
 * cJSON_PrintUnformatted prints for it (no whitespace, no escapes,
 * numbers that are integers of at most 9 digits other than -0): 0;
 * LGW__JV_UNSURE otherwise. */
int lgw__jv_compact(const lgw__jv_t *v, const char **p, size_t *n);

/* ---- reading in one pass ------------------------------------------------ */

/* A value to pick while a document is validated: a member of an object
 * by its key (key NULL: element 0 of an array), recorded in out[slot],
 * and the values to pick inside it (sub[0..nsub)). */
typedef struct lgw__jv_pick {
  const char *key;
  unsigned char len;                 /* strlen(key) */
  unsigned char slot;
  unsigned char nsub;
  const struct lgw__jv_pick *sub;
} lgw__jv_pick_t;

/* lgw__jv_root and lgw__jv_get/lgw__jv_first of every pick, in one pass
 * over doc[0..len): out[0..nout) are cleared (type NONE), then out[slot]
 * is the first occurrence of each pick's value, as cJSON finds it, with n
 * its exact length; the root's picks are top[0..ntop). A pick inside a
 * value of another type than it needs stays NONE. 0, or LGW__JV_UNSURE
 * when doc is not one JSON value that cJSON reads the same way (see
 * lgw__jv_root) or a member key of an object picks are looked for in
 * holds an escape. The values read on as those of lgw__jv_root. */
int lgw__jv_read(const char *doc, size_t len, const lgw__jv_pick_t *top,
                 size_t ntop, lgw__jv_t *out, size_t nout);


#endif
