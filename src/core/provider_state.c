/*
 * provider_state.c -- provider identity (canonical JSON + SHA-256, bit-exact
 * with the Python library's json.dumps(sort_keys=True, separators=(",",":"),
 * ensure_ascii=True)) and the provider-state file that remembers, per config
 * key, which provider last succeeded: read without following a symlink or
 * opening anything but a regular file of at most 16 MiB, written under a
 * lock, with a file that is not a state object kept aside, not lost.
 */
#include "provider_state.h"

#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <cJSON.h>
#include <openssl/evp.h>

#include "fileio.h"
#include "json.h"
#include "json_extract.h"

/* ---- hashing ----------------------------------------------------------- */

int lgw__sha256_hex(const void *data, size_t len, char out[65]) {
  static const char hex[] = "0123456789abcdef";
  unsigned char md[EVP_MAX_MD_SIZE];
  unsigned int mdlen = 0, i;
  if (!EVP_Digest(data, len, md, &mdlen, EVP_sha256(), NULL) || mdlen != 32) {
    out[0] = '\0';
    return LGW_ENOMEM;
  }
  for (i = 0; i < mdlen; i++) {
    out[2 * i] = hex[md[i] >> 4];
    out[2 * i + 1] = hex[md[i] & 15];
  }
  out[64] = '\0';
  return 0;
}

/* ---- ASCII-only JSON strings ------------------------------------------- */

/* Append s as a JSON string literal escaped like Python's ensure_ascii. */
static int add_json_string(lgw__buf_t *b, const char *s) {
  return lgw__json_add_str_ascii(b, s, s ? strlen(s) : 0);
}

/* ---- sorted views of string maps ---------------------------------------- */

typedef struct entry {
  const char *key, *value;
  size_t pos;
} entry_t;

/* Code-point order equals byte order for UTF-8; ties keep insertion order. */
static int entry_cmp(const void *a, const void *b) {
  const entry_t *x = a, *y = b;
  int c = strcmp(x->key, y->key);
  if (c) return c;
  return x->pos < y->pos ? -1 : x->pos > y->pos;
}

/* Sorted entries of l as a Python dict would hold them: a repeated key keeps
 * its last value. Returns a new array (caller lgw_free) with *count items;
 * NULL only on allocation failure (an empty map gives a 1-slot array). */
static entry_t *sorted_entries(const lgw__kvlist_t *l, size_t *count) {
  entry_t *e = lgw__calloc(l->n ? l->n : 1, sizeof *e);
  size_t i, m = 0;
  if (!e) return NULL;
  for (i = 0; i < l->n; i++) {
    e[i].key = l->items[i].key ? l->items[i].key : "";
    e[i].value = l->items[i].value ? l->items[i].value : "";
    e[i].pos = i;
  }
  qsort(e, l->n, sizeof *e, entry_cmp);
  for (i = 0; i < l->n; i++) {
    if (m && strcmp(e[m - 1].key, e[i].key) == 0)
      e[m - 1] = e[i];
    else
      e[m++] = e[i];
  }
  *count = m;
  return e;
}

/* ---- canonical JSON and keys -------------------------------------------- */

static int add_compact_map(lgw__buf_t *b, const lgw__kvlist_t *l) {
  size_t i, n;
  entry_t *e = sorted_entries(l, &n);
  int rc;
  if (!e) return LGW_ENOMEM;
  rc = lgw__buf_addc(b, '{');
  for (i = 0; !rc && i < n; i++) {
    if (i) rc = lgw__buf_addc(b, ',');
    if (!rc) rc = add_json_string(b, e[i].key);
    if (!rc) rc = lgw__buf_addc(b, ':');
    if (!rc) rc = add_json_string(b, e[i].value);
  }
  lgw_free(e);
  return rc ? rc : lgw__buf_addc(b, '}');
}

/* The provider dict's keys, already in sorted order. */
static int add_provider(lgw__buf_t *b, const lgw__provider_t *p) {
  int rc = lgw__buf_adds(b, "{\"api_key\":");
  if (!rc) rc = add_json_string(b, p->api_key);
  if (!rc) rc = lgw__buf_adds(b, ",\"api_style\":");
  if (!rc) rc = add_json_string(b, p->api_style);
  if (!rc) rc = lgw__buf_adds(b, ",\"base_url\":");
  if (!rc) rc = add_json_string(b, p->base_url);
  if (!rc) rc = lgw__buf_adds(b, ",\"headers\":");
  if (!rc) rc = add_compact_map(b, &p->headers);
  if (!rc) rc = lgw__buf_adds(b, ",\"model_map\":");
  if (!rc) rc = add_compact_map(b, &p->model_map);
  if (!rc) rc = lgw__buf_adds(b, ",\"provider_type\":");
  if (!rc) rc = add_json_string(b, p->provider_type);
  return rc ? rc : lgw__buf_addc(b, '}');
}

char *lgw__provider_canonical(const lgw__provider_t *p) {
  lgw__buf_t b;
  lgw__buf_init(&b);
  if (add_provider(&b, p)) {
    lgw__buf_free(&b);
    return NULL;
  }
  return lgw__buf_steal(&b);
}

int lgw__provider_key(const lgw__provider_t *p, char out[65]) {
  char *json = lgw__provider_canonical(p);
  int rc;
  if (!json) {
    out[0] = '\0';
    return LGW_ENOMEM;
  }
  rc = lgw__sha256_hex(json, strlen(json), out);
  lgw_free(json);
  return rc;
}

int lgw__config_key(const lgw__provider_t *ps, size_t n, char out[65]) {
  lgw__buf_t b;
  size_t i;
  int rc;
  lgw__buf_init(&b);
  rc = lgw__buf_addc(&b, '[');
  for (i = 0; !rc && i < n; i++) {
    if (i) rc = lgw__buf_addc(&b, ',');
    if (!rc) rc = add_provider(&b, &ps[i]);
  }
  if (!rc) rc = lgw__buf_addc(&b, ']');
  if (!rc) rc = lgw__sha256_hex(b.data, b.len, out);
  else out[0] = '\0';
  lgw__buf_free(&b);
  return rc;
}

/* ---- order for a request (§5.3) ----------------------------------------- */

void lgw__state_order(const lgw__provider_t *ps, size_t n,
                      const char *preferred, size_t *order) {
  size_t i, j;
  for (i = 0; i < n; i++) order[i] = i;
  if (!preferred || !*preferred) return;
  for (j = 0; j < n && strcmp(ps[j].key, preferred) != 0; j++) {}
  if (j == n) return;
  for (i = j; i > 0; i--) order[i] = order[i - 1];
  order[0] = j;
}

/* ---- reading the state file ---------------------------------------------- */

/* Python's str() of a JSON scalar; NULL for containers (not kept) or on
 * allocation failure. Integral numbers print without a fraction: cJSON
 * does not remember whether the file said 5 or 5.0. */
static char *py_str(const cJSON *v) {
  if (cJSON_IsString(v)) return lgw__strdup(v->valuestring);
  if (cJSON_IsTrue(v)) return lgw__strdup("True");
  if (cJSON_IsFalse(v)) return lgw__strdup("False");
  if (cJSON_IsNull(v)) return lgw__strdup("None");
  if (cJSON_IsNumber(v)) {
    double d = v->valuedouble;
    int prec;
    if (isnan(d)) return lgw__strdup("nan");
    if (isinf(d)) return lgw__strdup(d > 0 ? "inf" : "-inf");
    if (d == floor(d) && fabs(d) < 1e16) return lgw__sprintf("%.0f", d);
    for (prec = 15; prec < 17; prec++) {
      char *t = lgw__sprintf("%.*g", prec, d);
      if (!t || strtod(t, NULL) == d) return t;
      lgw_free(t);
    }
    return lgw__sprintf("%.17g", d);
  }
  return NULL;
}

/* What was found at the state path. */
typedef enum found {
  FOUND_NOTHING,  /* no file: an empty mapping */
  FOUND_STATE,    /* a state file, read */
  FOUND_BAD,      /* a regular file that is not one: kept aside on write */
  FOUND_REFUSED   /* not a regular file, or unreadable: left alone */
} found_t;

typedef struct look {
  found_t found;
  int empty;       /* FOUND_BAD with no bytes: nothing worth keeping */
  char why[1024];  /* for FOUND_BAD and FOUND_REFUSED */
} look_t;

static const char *file_kind(mode_t m) {
  if (S_ISLNK(m)) return "symbolic link";
  if (S_ISDIR(m)) return "directory";
  if (S_ISFIFO(m)) return "FIFO";
  if (S_ISCHR(m) || S_ISBLK(m)) return "device";
  if (S_ISSOCK(m)) return "socket";
  return "special file";
}

/* Reads fd into b, stopping once it holds more than max bytes (the file
 * grew past the limit after it was checked). */
static int read_fd(int fd, lgw__buf_t *b, size_t max) {
  char chunk[8192];
  while (b->len <= max) {
    ssize_t k = read(fd, chunk, sizeof chunk);
    if (k < 0 && errno == EINTR) continue;
    if (k < 0) return -1;
    if (k == 0) return 0;
    if (lgw__buf_add(b, chunk, (size_t)k)) {
      errno = ENOMEM;
      return -1;
    }
  }
  return 0;
}

/* The mapping of a parsed file into out (lenient, as in Python); a wrong
 * shape makes it FOUND_BAD. 0 or LGW_ENOMEM. */
static int take_mapping(const cJSON *root, lgw__kvlist_t *out, look_t *lk) {
  const cJSON *map, *it;
  if (!cJSON_IsObject(root) ||
      !cJSON_IsObject(map = cJSON_GetObjectItemCaseSensitive(
                          root, "preferred_by_config"))) {
    snprintf(lk->why, sizeof lk->why,
             "expected an object with \"preferred_by_config\" mapping");
    lk->found = FOUND_BAD;
    return 0;
  }
  lk->found = FOUND_STATE;
  cJSON_ArrayForEach(it, map) {
    char *v = py_str(it);
    int rc = 0;
    if (!lgw__is_blank(it->string) && !lgw__is_blank(v))
      rc = lgw__kvlist_add(out, it->string, v);
    lgw_free(v);
    if (rc) return LGW_ENOMEM;
  }
  return 0;
}

/* Looks at path without following a symlink there and without opening
 * anything but a regular file (a FIFO would block, a device could act),
 * and reads it when it is one of at most LGW__STATE_MAX_BYTES. out gets
 * the mapping (empty unless FOUND_STATE). 0, or LGW_ENOMEM. */
static int inspect(const char *path, lgw__kvlist_t *out, look_t *lk) {
  struct stat st;
  lgw__buf_t b;
  lgw_error_t perr;
  cJSON *root = NULL;
  int fd, rc = 0;
  out->items = NULL;
  out->n = 0;
  lk->why[0] = '\0';
  lk->empty = 0;
  lk->found = FOUND_REFUSED;
  if (lstat(path, &st) != 0) {
    if (errno == ENOENT) lk->found = FOUND_NOTHING;
    else snprintf(lk->why, sizeof lk->why, "%s", strerror(errno));
    return 0;
  }
  if (!S_ISREG(st.st_mode)) {
    snprintf(lk->why, sizeof lk->why, "not a regular file (%s)",
             file_kind(st.st_mode));
    return 0;
  }
  fd = open(path, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_NOCTTY | O_CLOEXEC);
  if (fd < 0) {
    if (errno == ENOENT) lk->found = FOUND_NOTHING;
    else if (errno == ELOOP)
      snprintf(lk->why, sizeof lk->why, "not a regular file (symbolic link)");
    else snprintf(lk->why, sizeof lk->why, "%s", strerror(errno));
    return 0;
  }
  /* replaced since lstat? only what was opened counts */
  if (fstat(fd, &st) != 0) {
    snprintf(lk->why, sizeof lk->why, "%s", strerror(errno));
    close(fd);
    return 0;
  }
  if (!S_ISREG(st.st_mode)) {
    snprintf(lk->why, sizeof lk->why, "not a regular file (%s)",
             file_kind(st.st_mode));
    close(fd);
    return 0;
  }
  lgw__buf_init(&b);
  if (st.st_size <= LGW__STATE_MAX_BYTES &&
      read_fd(fd, &b, LGW__STATE_MAX_BYTES) != 0) {
    int e = errno;
    snprintf(lk->why, sizeof lk->why, "%s", strerror(e));
    rc = e == ENOMEM ? LGW_ENOMEM : 0;
  } else if (st.st_size > LGW__STATE_MAX_BYTES ||
             b.len > LGW__STATE_MAX_BYTES) {
    lk->found = FOUND_BAD;
    snprintf(lk->why, sizeof lk->why, "larger than 16 MiB (%lld bytes)",
             st.st_size > LGW__STATE_MAX_BYTES ? (long long)st.st_size
                                               : (long long)b.len);
  } else if (lgw__json_parse_strict(b.data ? b.data : "", b.len, &root,
                                    &perr)) {
    lk->found = FOUND_BAD;
    lk->empty = b.len == 0;
    snprintf(lk->why, sizeof lk->why, "%s", perr.message);
  } else {
    rc = take_mapping(root, out, lk);
  }
  close(fd);
  if (rc) lgw__kvlist_free(out);
  cJSON_Delete(root);
  lgw__buf_free(&b);
  return rc;
}

/* ---- warnings, once per file ---------------------------------------------- */

/* A warning about a state file is given once per process for the file as
 * it is: the path and what is there (type, inode, size, mtime) are hashed,
 * so a file that changes is reported again. */
#define WARNED_MAX 64
static uint64_t warned[WARNED_MAX];
static size_t nwarned;
static pthread_mutex_t warned_lock = PTHREAD_MUTEX_INITIALIZER;

static uint64_t fnv1a(uint64_t h, const void *data, size_t len) {
  const unsigned char *p = data;
  while (len--) h = (h ^ *p++) * 1099511628211u;
  return h;
}

static void warn_once(const char *path, const char *fmt, ...)
    LGW__PRINTF(2, 3);
static void warn_once(const char *path, const char *fmt, ...) {
  struct stat st;
  uint64_t h = fnv1a(14695981039346656037u, path, strlen(path) + 1);
  size_t i;
  int seen = 0;
  char msg[1024];
  va_list ap;
  if (lstat(path, &st) == 0) {
    long long id[6];
    id[0] = (long long)st.st_dev;
    id[1] = (long long)st.st_ino;
    id[2] = (long long)st.st_mode;
    id[3] = (long long)st.st_size;
    id[4] = (long long)st.st_mtim.tv_sec;
    id[5] = (long long)st.st_mtim.tv_nsec;
    h = fnv1a(h, id, sizeof id);
  }
  pthread_mutex_lock(&warned_lock);
  for (i = 0; i < nwarned && i < WARNED_MAX && !seen; i++)
    seen = warned[i] == h;
  if (!seen) warned[nwarned++ % WARNED_MAX] = h;
  pthread_mutex_unlock(&warned_lock);
  if (seen) return;
  va_start(ap, fmt);
  vsnprintf(msg, sizeof msg, fmt, ap);
  va_end(ap);
  lgw__log(LGW_LOG_WARN, "%s", msg);
}

/* The one warning for a file that is ignored. */
static void warn_ignored(const char *path, const look_t *lk) {
  if (lk->found == FOUND_REFUSED)
    warn_once(path, "ignoring provider state file %s: %s; it is neither "
                    "read nor replaced", path, lk->why);
  else if (lk->empty)
    warn_once(path, "ignoring provider state file %s: %s", path, lk->why);
  else
    warn_once(path, "ignoring provider state file %s: %s; it is kept as "
                    "%s.corrupt-<UTC time> when the state is next written",
              path, lk->why, path);
}

int lgw__state_load(const char *path, lgw__kvlist_t *out, lgw_error_t *err) {
  look_t lk;
  int rc = inspect(path, out, &lk);
  if (rc) return lgw__error_set(err, rc, "out of memory");
  if (lk.found == FOUND_BAD || lk.found == FOUND_REFUSED)
    warn_ignored(path, &lk);
  return 0;
}

/* ---- writing it, under the lock ------------------------------------------ */

/* The file as Python's json.dump(indent=2, sort_keys=True) + "\n" writes it,
 * blank keys and values dropped, a repeated key keeping its last value. */
static char *state_json(const lgw__kvlist_t *map) {
  lgw__kvlist_t kept = {NULL, 0};
  lgw__buf_t b;
  entry_t *e = NULL;
  size_t i, n = 0;
  int rc = 0;
  lgw__buf_init(&b);
  for (i = 0; !rc && i < map->n; i++)
    if (!lgw__is_blank(map->items[i].key) &&
        !lgw__is_blank(map->items[i].value))
      rc = lgw__kvlist_add(&kept, map->items[i].key, map->items[i].value);
  if (!rc && !(e = sorted_entries(&kept, &n))) rc = LGW_ENOMEM;
  if (!rc) rc = lgw__buf_adds(&b, "{\n  \"preferred_by_config\": {");
  for (i = 0; !rc && i < n; i++) {
    rc = lgw__buf_adds(&b, i ? ",\n    " : "\n    ");
    if (!rc) rc = add_json_string(&b, e[i].key);
    if (!rc) rc = lgw__buf_adds(&b, ": ");
    if (!rc) rc = add_json_string(&b, e[i].value);
  }
  if (!rc) rc = lgw__buf_adds(&b, n ? "\n  }\n}\n" : "}\n}\n");
  lgw_free(e);
  lgw__kvlist_free(&kept);
  if (rc) {
    lgw__buf_free(&b);
    return NULL;
  }
  return lgw__buf_steal(&b);
}

/* Exclusive flock on "<path>.lock" (a regular file, created 0600, never
 * followed through a symlink); returns the fd to close for unlocking, or
 * a negative LGW_E* with err naming the state file. */
static int lock_state(const char *path, lgw_error_t *err) {
  char *lock = lgw__sprintf("%s.lock", path);
  int fd = -1, rc = 0, made_dirs = 0;
  if (!lock) return lgw__error_set(err, LGW_ENOMEM, "out of memory");
  for (;;) {
    struct stat held, named;
    fd = open(lock, O_RDWR | O_CREAT | O_NOFOLLOW | O_NONBLOCK | O_NOCTTY |
                    O_CLOEXEC, 0600);
    if (fd < 0 && errno == ENOENT && !made_dirs) {
      /* missing directories are created as for the state file itself */
      made_dirs = 1;
      if (lgw__make_parent_dirs(lock) == 0) continue;
    }
    if (fd < 0) {
      rc = lgw__error_set(err, LGW_EIO, "cannot lock provider state file "
                          "%s: %s", path, errno == ELOOP ?
                          "its .lock file is a symbolic link" :
                          strerror(errno));
      break;
    }
    if (fstat(fd, &held) != 0 || !S_ISREG(held.st_mode)) {
      rc = lgw__error_set(err, LGW_EIO, "cannot lock provider state file "
                          "%s: its .lock file is not a regular file", path);
      break;
    }
    if (flock(fd, LOCK_EX) != 0) {
      if (errno == EINTR) {
        close(fd);
        continue;
      }
      rc = lgw__error_set(err, LGW_EIO, "cannot lock provider state file "
                          "%s: %s", path, strerror(errno));
      break;
    }
    /* The lock counts only if the file is still the one at that name (a
     * concurrent first creation may have replaced it). */
    if (lstat(lock, &named) == 0 && held.st_dev == named.st_dev &&
        held.st_ino == named.st_ino)
      break;
    close(fd);
  }
  if (rc && fd >= 0) close(fd);
  lgw_free(lock);
  return rc ? rc : fd;
}

/* Renames a file that is not a state file to "<path>.corrupt-<UTC time>"
 * (with "-2", "-3"... when taken) so that writing loses nothing. */
static int keep_aside(const char *path, lgw_error_t *err) {
  char stamp[32], *aside = NULL;
  struct stat st;
  struct tm tm;
  time_t now = time(NULL);
  int i;
  if (!gmtime_r(&now, &tm) ||
      !strftime(stamp, sizeof stamp, "%Y%m%dT%H%M%SZ", &tm))
    snprintf(stamp, sizeof stamp, "%lld", (long long)now);
  for (i = 1; i < 100; i++) {
    aside = i == 1 ? lgw__sprintf("%s.corrupt-%s", path, stamp)
                   : lgw__sprintf("%s.corrupt-%s-%d", path, stamp, i);
    if (!aside) return lgw__error_set(err, LGW_ENOMEM, "out of memory");
    if (lstat(aside, &st) != 0 && errno == ENOENT) break;
    lgw_free(aside);
    aside = NULL;
  }
  if (!aside || rename(path, aside) != 0) {
    int e = aside ? errno : EEXIST;
    lgw_free(aside);
    return lgw__error_set(err, LGW_EIO, "cannot keep the unreadable provider "
                          "state file %s aside: %s", path, strerror(e));
  }
  lgw__log(LGW_LOG_INFO, "kept the unreadable provider state file %s as %s",
           path, aside);
  lgw_free(aside);
  return 0;
}

/* Under the lock: writes entries, merged into what the file holds when
 * merge is set, else in place of it. A file that is not a state file is
 * kept aside first; one that is not a regular file is left alone. */
static int write_locked(const char *path, const lgw__kvlist_t *entries,
                        int merge, lgw_error_t *err) {
  lgw__kvlist_t map;
  look_t lk;
  char *json = NULL;
  size_t i;
  int rc = inspect(path, &map, &lk);
  if (!merge) lgw__kvlist_free(&map);
  if (!rc && lk.found == FOUND_BAD) warn_ignored(path, &lk);
  if (!rc && lk.found == FOUND_REFUSED)
    rc = lgw__error_set(err, LGW_EIO, "provider state file %s not written: "
                        "%s", path, lk.why);
  else if (!rc && lk.found == FOUND_BAD && !lk.empty)
    rc = keep_aside(path, err);
  for (i = 0; !rc && i < entries->n; i++)
    if (lgw__kvlist_add(&map, entries->items[i].key, entries->items[i].value))
      rc = LGW_ENOMEM;
  if (!rc && !(json = state_json(&map))) rc = LGW_ENOMEM;
  if (rc == LGW_ENOMEM) lgw__error_set(err, rc, "out of memory");
  if (!rc) rc = lgw__write_file_atomic(path, json, strlen(json), err);
  lgw_free(json);
  lgw__kvlist_free(&map);
  return rc;
}

static int write_state(const char *path, const lgw__kvlist_t *entries,
                       int merge, lgw_error_t *err) {
  int fd = lock_state(path, err), rc;
  if (fd < 0) return fd;
  rc = write_locked(path, entries, merge, err);
  close(fd);
  return rc;
}

int lgw__state_write(const char *path, const lgw__kvlist_t *map,
                     lgw_error_t *err) {
  return write_state(path, map, 0, err);
}

int lgw__state_merge(const char *path, const lgw__kvlist_t *entries,
                     lgw_error_t *err) {
  return write_state(path, entries, 1, err);
}

void lgw__state_remember(const char *path, const char *config_key,
                         const char *provider_key) {
  lgw__kv_t kv;
  lgw__kvlist_t one;
  lgw_error_t e;
  kv.key = (char *)config_key;
  kv.value = (char *)provider_key;
  one.items = &kv;
  one.n = 1;
  memset(&e, 0, sizeof e);
  if (lgw__state_merge(path, &one, &e))
    warn_once(path, "cannot remember the preferred provider: %s", e.message);
}
