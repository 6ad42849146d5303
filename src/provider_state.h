/*
 * provider_state.h -- provider identity and the provider-state file.
 * Canonical JSON (Python json.dumps(sort_keys, separators=(",",":"),
 * ensure_ascii)) and SHA-256 (libcrypto) give provider and config keys
 * bit-exact with the Python library. The state file
 * {"preferred_by_config": {config_key: provider_key}} is read leniently,
 * and written merged with what other processes wrote, under an exclusive
 * lock (flock on "<file>.lock"), atomically (temp + rename), mode 0600.
 */
#ifndef LGW_PROVIDER_STATE_H
#define LGW_PROVIDER_STATE_H

#include "config.h"

/* Canonical JSON of one provider dict; caller frees. */
char *lgw__provider_canonical(const lgw__provider_t *p);
/* out: 64 hex chars + NUL. */
int lgw__provider_key(const lgw__provider_t *p, char out[65]);
int lgw__config_key(const lgw__provider_t *ps, size_t n, char out[65]);
/* SHA-256 hex of bytes. */
int lgw__sha256_hex(const void *data, size_t len, char out[65]);

/* Load the mapping. Missing file -> empty, 0. Unreadable, invalid JSON or
 * wrong shape -> empty, 0, and a warning logged naming the file. Entries
 * converted as in Python (numbers to strings, blanks dropped). */
int lgw__state_load(const char *path, lgw__kvlist_t *out, lgw_error_t *err);
/* Write the whole mapping (sorted keys, 2-space indent, trailing newline),
 * atomically, 0600, under the lock. Replaces the file's mapping. */
int lgw__state_write(const char *path, const lgw__kvlist_t *map,
                     lgw_error_t *err);
/* Under the lock: re-read the file, set config_key -> provider_key, write.
 * Other configs' entries are preserved. */
int lgw__state_update(const char *path, const char *config_key,
                      const char *provider_key, lgw_error_t *err);
/* Order for a request: indexes of providers with the first whose key
 * equals preferred moved to the front. order has n slots. */
void lgw__state_order(const lgw__provider_t *ps, size_t n,
                      const char *preferred, size_t *order);

#endif
