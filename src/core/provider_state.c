/*
 * provider_state.c -- the provider-state file that remembers, per config
 * key, which provider last succeeded: read without following a symlink or
 * opening anything but a regular file of at most 16 MiB, written under a
 * lock, with a file that is not a state object kept aside, not lost.
 * Written as Python's json.dump writes it (provider.h's helpers), through
 * fileio's atomic writer.
 */
#include "provider_state.h"

#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "cjson_dl.h"  /* <cJSON.h>, the calls through a table */

#include "fileio.h"
#include "json.h"
#include "json_extract.h"
#include "node.h"

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
    char repr[32];
    if (d == floor(d) && fabs(d) < 1e16) return lgw__sprintf("%.0f", d);
    lgw__node_float_repr(d, repr);
    return lgw__strdup(repr);
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

/* Why what was found is not a state file (lk->found says what it is). */
static void because(look_t *lk, const char *fmt, ...) LGW__PRINTF(2, 3);
static void because(look_t *lk, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(lk->why, sizeof lk->why, fmt, ap);
  va_end(ap);
}

/* Whether st is a regular file; else why not, into lk. */
static int regular(const struct stat *st, look_t *lk) {
  if (S_ISREG(st->st_mode)) return 1;
  because(lk, "not a regular file (%s)", file_kind(st->st_mode));
  return 0;
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
    lk->found = FOUND_BAD;
    because(lk, "expected an object with \"preferred_by_config\" mapping");
    return 0;
  }
  lk->found = FOUND_STATE;
  cJSON_ArrayForEach(it, map) {
    char *v = py_str(it);
    int rc = 0;
    if (!v && !cJSON_IsObject(it) && !cJSON_IsArray(it)) return LGW_ENOMEM;
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
    else because(lk, "%s", strerror(errno));
    return 0;
  }
  if (!regular(&st, lk)) return 0;
  fd = open(path, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_NOCTTY | O_CLOEXEC);
  if (fd < 0) {
    if (errno == ENOENT) lk->found = FOUND_NOTHING;
    else if (errno == ELOOP) because(lk, "not a regular file (symbolic link)");
    else because(lk, "%s", strerror(errno));
    return 0;
  }
  /* replaced since lstat? only what was opened counts */
  if (fstat(fd, &st) != 0) because(lk, "%s", strerror(errno));
  if (lk->why[0] || !regular(&st, lk)) {
    close(fd);
    return 0;
  }
  lgw__buf_init(&b);
  if (st.st_size <= LGW__STATE_MAX_BYTES &&
      read_fd(fd, &b, LGW__STATE_MAX_BYTES) != 0) {
    int e = errno;
    because(lk, "%s", strerror(e));
    rc = e == ENOMEM ? LGW_ENOMEM : 0;
  } else if (st.st_size > LGW__STATE_MAX_BYTES ||
             b.len > LGW__STATE_MAX_BYTES) {
    lk->found = FOUND_BAD;
    because(lk, "larger than 16 MiB (%lld bytes)",
            st.st_size > LGW__STATE_MAX_BYTES ? (long long)st.st_size
                                              : (long long)b.len);
  } else if ((rc = lgw__json_parse_strict(b.data ? b.data : "", b.len,
                                          &root, &perr)) == LGW_ENOMEM) {
    /* not a reason to keep a good file aside */
  } else if (rc) {
    rc = 0;
    lk->found = FOUND_BAD;
    lk->empty = b.len == 0;
    because(lk, "%s", perr.message);
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
  lgw__kv_t *e = NULL;
  size_t i, n = 0;
  int rc = 0;
  lgw__buf_init(&b);
  for (i = 0; !rc && i < map->n; i++)
    if (!lgw__is_blank(map->items[i].key) &&
        !lgw__is_blank(map->items[i].value))
      rc = lgw__kvlist_add(&kept, map->items[i].key, map->items[i].value);
  if (!rc && !(e = lgw__kvlist_sorted(&kept, &n))) rc = LGW_ENOMEM;
  if (!rc) rc = lgw__buf_adds(&b, "{\n  \"preferred_by_config\": {");
  for (i = 0; !rc && i < n; i++) {
    rc = lgw__buf_adds(&b, i ? ",\n    " : "\n    ");
    if (!rc) rc = lgw__json_add_ascii_string(&b, e[i].key);
    if (!rc) rc = lgw__buf_adds(&b, ": ");
    if (!rc) rc = lgw__json_add_ascii_string(&b, e[i].value);
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
      if (errno == ENOMEM) {
        rc = lgw__error_set(err, LGW_ENOMEM, "out of memory");
        break;
      }
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
 * kept aside first (once the new content is built: running out of memory
 * before leaves it where it is); one that is not a regular file is left
 * alone. */
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
  for (i = 0; !rc && i < entries->n; i++)
    if (lgw__kvlist_add(&map, entries->items[i].key, entries->items[i].value))
      rc = LGW_ENOMEM;
  if (!rc && !(json = state_json(&map))) rc = LGW_ENOMEM;
  if (rc == LGW_ENOMEM) lgw__error_set(err, rc, "out of memory");
  if (!rc && lk.found == FOUND_BAD && !lk.empty) rc = keep_aside(path, err);
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
