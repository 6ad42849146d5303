/*
 * provider_state.h -- the provider-state file. The file
 * {"preferred_by_config": {config_key: provider_key}} is read leniently,
 * and written (replaced, or merged with what other processes wrote) under
 * an exclusive lock (flock on "<file>.lock"), atomically (temp + rename),
 * mode 0600. Nothing at the path is followed, opened or replaced unless
 * it is a regular file. The keys are provider.h's.
 */
#ifndef LGW_PROVIDER_STATE_H
#define LGW_PROVIDER_STATE_H

#include "provider.h"

/* State files larger than this are ignored (never read into memory). */
#define LGW__STATE_MAX_BYTES (16L * 1024 * 1024)

/* Load the mapping. Missing file -> empty, 0. A file that is not a state
 * file -> empty, 0, and one warning per file per process naming it: a
 * symlink (never followed), FIFO, device or directory at path, a file
 * that cannot be read, is larger than LGW__STATE_MAX_BYTES, is not JSON
 * or has the wrong shape. Entries converted as in Python (numbers to
 * strings, blanks dropped). LGW_ENOMEM only on allocation failure. */
int lgw__state_load(const char *path, lgw__kvlist_t *out, lgw_error_t *err);
/* Under the lock, write map (sorted keys, 2-space indent, trailing
 * newline) atomically, 0600, replacing the file's mapping. A regular file
 * that is not a state file is first renamed to "<path>.corrupt-<UTC
 * time>"; anything else that is not a regular file (a symlink among them)
 * is left alone and the write fails with LGW_EIO. */
int lgw__state_write(const char *path, const lgw__kvlist_t *map,
                     lgw_error_t *err);
/* Same, but entries are merged into what the file holds, re-read under
 * the lock: other entries are preserved, entries' keys get its values. */
int lgw__state_merge(const char *path, const lgw__kvlist_t *entries,
                     lgw_error_t *err);
/* lgw__state_merge of config_key -> provider_key for a gateway; a failure
 * is logged as a warning, once per file per process. */
void lgw__state_remember(const char *path, const char *config_key,
                         const char *provider_key);
/* Order for a request: indexes of providers with the first whose key
 * equals preferred moved to the front. order has n slots. */
void lgw__state_order(const lgw__provider_t *ps, size_t n,
                      const char *preferred, size_t *order);

#endif
