/*
 * provider_state.c -- provider identity (canonical JSON + SHA-256, bit-exact
 * with the Python library's json.dumps(sort_keys=True, separators=(",",":"),
 * ensure_ascii=True)) and the provider-state file that remembers, per config
 * key, which provider last succeeded.
 */
#include "provider_state.h"

#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cJSON.h>
#include <openssl/evp.h>

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

/* Decode one UTF-8 sequence at s (n bytes left); *cp gets the code point.
 * Returns the sequence length; malformed input decodes as U+FFFD, one byte. */
static size_t utf8_decode(const unsigned char *s, size_t n, unsigned long *cp) {
  unsigned long c;
  size_t len, i;
  if (s[0] < 0x80) {
    *cp = s[0];
    return 1;
  }
  if ((s[0] & 0xE0) == 0xC0) {
    len = 2;
    c = s[0] & 0x1F;
  } else if ((s[0] & 0xF0) == 0xE0) {
    len = 3;
    c = s[0] & 0x0F;
  } else if ((s[0] & 0xF8) == 0xF0) {
    len = 4;
    c = s[0] & 0x07;
  } else {
    *cp = 0xFFFD;
    return 1;
  }
  if (len > n) {
    *cp = 0xFFFD;
    return 1;
  }
  for (i = 1; i < len; i++) {
    if ((s[i] & 0xC0) != 0x80) {
      *cp = 0xFFFD;
      return 1;
    }
    c = (c << 6) | (s[i] & 0x3F);
  }
  if ((len == 2 && c < 0x80) || (len == 3 && c < 0x800) ||
      (len == 4 && (c < 0x10000 || c > 0x10FFFF))) {
    *cp = 0xFFFD;
    return 1;
  }
  *cp = c;
  return len;
}

/* Append s as a JSON string literal escaped like Python's ensure_ascii. */
static int add_json_string(lgw__buf_t *b, const char *s) {
  const unsigned char *p = (const unsigned char *)(s ? s : "");
  size_t n = strlen((const char *)p);
  int rc = lgw__buf_addc(b, '"');
  while (!rc && n) {
    unsigned long cp;
    size_t k = utf8_decode(p, n, &cp);
    p += k;
    n -= k;
    switch (cp) {
      case '"': rc = lgw__buf_adds(b, "\\\""); break;
      case '\\': rc = lgw__buf_adds(b, "\\\\"); break;
      case '\n': rc = lgw__buf_adds(b, "\\n"); break;
      case '\r': rc = lgw__buf_adds(b, "\\r"); break;
      case '\t': rc = lgw__buf_adds(b, "\\t"); break;
      case '\b': rc = lgw__buf_adds(b, "\\b"); break;
      case '\f': rc = lgw__buf_adds(b, "\\f"); break;
      default:
        if (cp >= 0x20 && cp < 0x7F)
          rc = lgw__buf_addc(b, (char)cp);
        else if (cp < 0x10000)
          rc = lgw__buf_printf(b, "\\u%04lx", cp);
        else
          rc = lgw__buf_printf(b, "\\u%04lx\\u%04lx",
                               0xD800 + ((cp - 0x10000) >> 10),
                               0xDC00 + ((cp - 0x10000) & 0x3FF));
    }
  }
  return rc ? rc : lgw__buf_addc(b, '"');
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

static int read_file(const char *path, lgw__buf_t *b, int *missing) {
  char chunk[8192];
  size_t k;
  FILE *f = fopen(path, "rb");
  *missing = 0;
  if (!f) {
    *missing = errno == ENOENT;
    return -1;
  }
  while ((k = fread(chunk, 1, sizeof chunk, f)) > 0)
    if (lgw__buf_add(b, chunk, k)) {
      fclose(f);
      errno = ENOMEM;
      return -1;
    }
  k = (size_t)ferror(f);
  fclose(f);
  if (k) errno = EIO;
  return k ? -1 : 0;
}

int lgw__state_load(const char *path, lgw__kvlist_t *out, lgw_error_t *err) {
  lgw__buf_t b;
  lgw_error_t perr;
  cJSON *root = NULL, *map, *it;
  int missing, rc = 0;
  (void)err;  /* nothing here is an error for the caller */
  out->items = NULL;
  out->n = 0;
  lgw__buf_init(&b);
  if (read_file(path, &b, &missing)) {
    if (!missing)
      lgw__log(LGW_LOG_WARN, "ignoring provider state file %s: %s", path,
               strerror(errno));
    lgw__buf_free(&b);
    return 0;
  }
  if (lgw__json_parse_strict(b.data ? b.data : "", b.len, &root, &perr)) {
    lgw__log(LGW_LOG_WARN, "ignoring provider state file %s: %s", path,
             perr.message);
  } else if (!cJSON_IsObject(root) ||
             !cJSON_IsObject(map = cJSON_GetObjectItemCaseSensitive(
                                 root, "preferred_by_config"))) {
    lgw__log(LGW_LOG_WARN,
             "ignoring provider state file %s: expected an object with "
             "\"preferred_by_config\" mapping",
             path);
  } else {
    cJSON_ArrayForEach(it, map) {
      char *v = py_str(it);
      if (!lgw__is_blank(it->string) && !lgw__is_blank(v))
        rc = lgw__kvlist_add(out, it->string, v);
      lgw_free(v);
      if (rc) {
        lgw__kvlist_free(out);
        break;
      }
    }
  }
  cJSON_Delete(root);
  lgw__buf_free(&b);
  return rc;
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

/* Exclusive flock on "<path>.lock" (created 0600); returns the fd to close
 * for unlocking, or a negative LGW_E* with err filled. */
static int lock_state(const char *path, lgw_error_t *err) {
  char *lock = lgw__sprintf("%s.lock", path);
  int fd = -1, rc = 0;
  if (!lock) return lgw__error_set(err, LGW_ENOMEM, "out of memory");
  for (;;) {
    struct stat held, named;
    fd = open(lock, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
    if (fd < 0 && errno == ENOENT) {
      /* Missing directories: create them, and the lock file, the way the
       * state file itself is written. */
      if ((rc = lgw__write_file_atomic(lock, "", 0, err)) != 0) break;
      continue;
    }
    if (fd < 0) {
      rc = lgw__error_set(err, LGW_EIO, "cannot open lock file %s: %s", lock,
                          strerror(errno));
      break;
    }
    if (flock(fd, LOCK_EX) != 0) {
      if (errno == EINTR) {
        close(fd);
        continue;
      }
      rc = lgw__error_set(err, LGW_EIO, "cannot lock %s: %s", lock,
                          strerror(errno));
      break;
    }
    /* The lock counts only if the file is still the one at that name (a
     * concurrent first creation may have replaced it). */
    if (fstat(fd, &held) == 0 && stat(lock, &named) == 0 &&
        held.st_dev == named.st_dev && held.st_ino == named.st_ino)
      break;
    close(fd);
  }
  if (rc && fd >= 0) close(fd);
  lgw_free(lock);
  return rc ? rc : fd;
}

static int write_locked(const char *path, const lgw__kvlist_t *map,
                        lgw_error_t *err) {
  char *json = state_json(map);
  int rc;
  if (!json) return lgw__error_set(err, LGW_ENOMEM, "out of memory");
  rc = lgw__write_file_atomic(path, json, strlen(json), err);
  lgw_free(json);
  return rc;
}

int lgw__state_write(const char *path, const lgw__kvlist_t *map,
                     lgw_error_t *err) {
  int fd = lock_state(path, err), rc;
  if (fd < 0) return fd;
  rc = write_locked(path, map, err);
  close(fd);
  return rc;
}

int lgw__state_update(const char *path, const char *config_key,
                      const char *provider_key, lgw_error_t *err) {
  lgw__kvlist_t map;
  int fd = lock_state(path, err), rc;
  if (fd < 0) return fd;
  rc = lgw__state_load(path, &map, err);
  if (!rc) rc = lgw__kvlist_add(&map, config_key, provider_key);
  if (rc) lgw__error_set(err, rc, "out of memory");
  else rc = write_locked(path, &map, err);
  lgw__kvlist_free(&map);
  close(fd);
  return rc;
}
