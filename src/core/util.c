/*
 * util.c -- allocation wrappers, growable buffer, error filling, the log
 * hook, ordered string maps and ASCII string helpers.
 */
#define _POSIX_C_SOURCE 200809L
#include "util.h"

#include "cjson_dl.h"  /* <cJSON.h>, the calls through a table */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static lgw_malloc_fn g_malloc = malloc;
static lgw_realloc_fn g_realloc = realloc;
static lgw_free_fn g_free = free;

int lgw_set_allocator(lgw_malloc_fn m, lgw_realloc_fn r, lgw_free_fn f) {
  cJSON_Hooks hooks;
  if (!m || !r || !f) return LGW_EINVAL;
  g_malloc = m;
  g_realloc = r;
  g_free = f;
  hooks.malloc_fn = m;
  hooks.free_fn = f;
  lgw__cjson_hooks(&hooks);  /* applied when libcjson is loaded */
  return 0;
}

void *lgw_malloc(size_t n) { return g_malloc(n ? n : 1); }
void *lgw_realloc(void *p, size_t n) { return g_realloc(p, n ? n : 1); }
void lgw_free(void *p) {
  if (p) g_free(p);
}

void *lgw__calloc(size_t n, size_t size) {
  void *p;
  if (size && n > (size_t)-1 / size) return NULL;
  p = lgw_malloc(n * size);
  if (p) memset(p, 0, n * size);
  return p;
}

int lgw__grow(void *v, size_t n, size_t *cap, size_t size, size_t first) {
  void *old, *nv;
  size_t nc;
  if (n < *cap) return 0;
  nc = *cap ? *cap * 2 : first;
  if (nc < *cap || (size && nc > (size_t)-1 / size)) return LGW_ENOMEM;
  memcpy(&old, v, sizeof old);  /* v points at a T * of any object T */
  nv = lgw_realloc(old, nc * size);
  if (!nv) return LGW_ENOMEM;
  memcpy(v, &nv, sizeof nv);
  *cap = nc;
  return 0;
}

char *lgw__strndup(const char *s, size_t n) {
  char *d;
  if (!s) return NULL;
  d = lgw_malloc(n + 1);
  if (!d) return NULL;
  memcpy(d, s, n);
  d[n] = '\0';
  return d;
}

char *lgw__strdup(const char *s) {
  return s ? lgw__strndup(s, strlen(s)) : NULL;
}

char *lgw__sprintf(const char *fmt, ...) {
  lgw__buf_t b;
  va_list ap;
  int n;
  lgw__buf_init(&b);
  va_start(ap, fmt);
  n = vsnprintf(NULL, 0, fmt, ap);
  va_end(ap);
  if (n < 0 || lgw__buf_reserve(&b, (size_t)n + 1)) return NULL;
  va_start(ap, fmt);
  vsnprintf(b.data, (size_t)n + 1, fmt, ap);
  va_end(ap);
  return b.data;
}

/* ---- buffer ------------------------------------------------------------ */

void lgw__buf_init(lgw__buf_t *b) {
  b->data = NULL;
  b->len = b->cap = 0;
}

void lgw__buf_free(lgw__buf_t *b) {
  lgw_free(b->data);
  lgw__buf_init(b);
}

int lgw__buf_reserve(lgw__buf_t *b, size_t extra) {
  size_t need = b->len + extra + 1, cap;
  char *p;
  if (need < b->len) return LGW_ENOMEM;
  if (need <= b->cap) return 0;
  cap = b->cap ? b->cap : 64;
  while (cap < need) cap *= 2;
  p = lgw_realloc(b->data, cap);
  if (!p) return LGW_ENOMEM;
  if (!b->data) p[0] = '\0';  /* NUL-terminated from the start */
  b->data = p;
  b->cap = cap;
  return 0;
}

int lgw__buf_add_grow(lgw__buf_t *b, const void *p, size_t n) {
  if (lgw__buf_reserve(b, n)) return LGW_ENOMEM;
  if (n) memcpy(b->data + b->len, p, n);
  b->len += n;
  b->data[b->len] = '\0';
  return 0;
}

/* Formats into the free space first; a second pass only when it did not
 * fit. */
int lgw__buf_printf(lgw__buf_t *b, const char *fmt, ...) {
  va_list ap;
  size_t room = b->cap > b->len ? b->cap - b->len : 0;
  int n;
  va_start(ap, fmt);
  n = vsnprintf(room ? b->data + b->len : NULL, room, fmt, ap);
  va_end(ap);
  if (n < 0) return LGW_ENOMEM;
  if ((size_t)n >= room) {
    if (lgw__buf_reserve(b, (size_t)n)) {
      if (b->data) b->data[b->len] = '\0';
      return LGW_ENOMEM;
    }
    va_start(ap, fmt);
    vsnprintf(b->data + b->len, (size_t)n + 1, fmt, ap);
    va_end(ap);
  }
  b->len += (size_t)n;
  return 0;
}

char *lgw__buf_steal(lgw__buf_t *b) {
  char *p;
  if (!b->data && lgw__buf_reserve(b, 0)) return NULL;
  p = b->data;
  lgw__buf_init(b);
  return p;
}

/* ---- errors ------------------------------------------------------------ */

const char *lgw_err_name(int code) {
  switch (code) {
    case 0: return "ok";
#define XX(name, val, lname, desc) case val: return lname;
    LGW_ERRNO_MAP(XX)
#undef XX
    default: return "unknown";
  }
}

const char *lgw_strerror(int code) {
  switch (code) {
    case 0: return "success";
#define XX(name, val, lname, desc) case val: return desc;
    LGW_ERRNO_MAP(XX)
#undef XX
    default: return "unknown error";
  }
}

const char *lgw_version_string(void) { return LGW_VERSION_STRING; }

int lgw__error_vset(lgw_error_t *err, int code, const char *fmt, va_list ap) {
  if (err) {
    err->code = code;
    vsnprintf(err->message, sizeof err->message, fmt, ap);
  }
  return code;
}

int lgw__error_set(lgw_error_t *err, int code, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  lgw__error_vset(err, code, fmt, ap);
  va_end(ap);
  return code;
}

int lgw_error_set(lgw_error_t *err, int code, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  lgw__error_vset(err, code, fmt, ap);
  va_end(ap);
  return code;
}

/* ---- logging ----------------------------------------------------------- */

static void log_stderr(lgw_log_level_t level, const char *msg, void *ud) {
  static const char *names[] = {"error", "warning", "info", "debug"};
  (void)ud;
  fprintf(stderr, "llmgateway: %s: %s\n", names[level], msg);
}

static lgw_log_fn g_log = log_stderr;
static void *g_log_ud;
static lgw_log_level_t g_log_max = LGW_LOG_WARN;

void lgw_set_log(lgw_log_fn fn, void *ud, lgw_log_level_t max_level) {
  g_log = fn ? fn : log_stderr;
  g_log_ud = ud;
  g_log_max = max_level;
}

/* This thread's capture buffer (lgw__log_capture), NULL when none. */
static _Thread_local lgw__buf_t *t_capture;

void lgw__log_capture(lgw__buf_t *b) { t_capture = b; }

void lgw__log_replay(const lgw__buf_t *b) {
  size_t i = 0;
  while (b->data && i < b->len) {
    const char *m = b->data + i + 1;
    size_t n = strlen(m);
    if (i + 1 + n >= b->len) break;  /* cut short by memory */
    g_log((lgw_log_level_t)(b->data[i] - '0'), m, g_log_ud);
    i += n + 2;
  }
}

void lgw_log(lgw_log_level_t level, const char *fmt, ...) {
  char msg[1024];
  va_list ap;
  if (level > g_log_max) return;
  va_start(ap, fmt);
  vsnprintf(msg, sizeof msg, fmt, ap);
  va_end(ap);
  if (t_capture) {
    /* a message is its level byte and its text, NUL-terminated */
    if (lgw__buf_addc(t_capture, (char)('0' + level)) == 0)
      lgw__buf_add(t_capture, msg, strlen(msg) + 1);
    return;
  }
  g_log(level, msg, g_log_ud);
}

/* ---- string maps ------------------------------------------------------- */

int lgw__kvlist_add(lgw__kvlist_t *l, const char *key, const char *value) {
  lgw__kv_t *items = lgw_realloc(l->items, (l->n + 1) * sizeof *items);
  char *k, *v;
  if (!items) return LGW_ENOMEM;
  l->items = items;
  k = lgw__strdup(key);
  v = lgw__strdup(value ? value : "");
  if (!k || !v) {
    lgw_free(k);
    lgw_free(v);
    return LGW_ENOMEM;
  }
  items[l->n].key = k;
  items[l->n].value = v;
  l->n++;
  return 0;
}

void lgw__kvlist_free(lgw__kvlist_t *l) {
  size_t i;
  for (i = 0; i < l->n; i++) {
    lgw_free(l->items[i].key);
    lgw_free(l->items[i].value);
  }
  lgw_free(l->items);
  l->items = NULL;
  l->n = 0;
}

const char *lgw__kvlist_get_ci(const lgw__kvlist_t *l, const char *key) {
  size_t i;
  for (i = 0; i < l->n; i++)
    if (lgw__strcasecmp(l->items[i].key, key) == 0) return l->items[i].value;
  return NULL;
}

/* ---- ASCII helpers ----------------------------------------------------- */

static int lower_c(int c) { return c >= 'A' && c <= 'Z' ? c + 32 : c; }
static int is_space(int c) {
  return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\v' ||
         c == '\f';
}

int lgw__strcasecmp(const char *a, const char *b) {
  for (;; a++, b++) {
    int ca = lower_c((unsigned char)*a), cb = lower_c((unsigned char)*b);
    if (ca != cb || !ca) return ca - cb;
  }
}

int lgw__strncasecmp(const char *a, const char *b, size_t n) {
  for (; n; n--, a++, b++) {
    int ca = lower_c((unsigned char)*a), cb = lower_c((unsigned char)*b);
    if (ca != cb || !ca) return ca - cb;
  }
  return 0;
}

const char *lgw__trim(const char *s, size_t *len) {
  const char *e;
  if (!s) s = "";
  while (is_space((unsigned char)*s)) s++;
  e = s + strlen(s);
  while (e > s && is_space((unsigned char)e[-1])) e--;
  *len = (size_t)(e - s);
  return s;
}

char *lgw__strip(const char *s) {
  size_t n;
  const char *t = lgw__trim(s, &n);
  return lgw__strndup(t, n);
}

char *lgw__lower(char *s) {
  char *p;
  for (p = s; p && *p; p++) *p = (char)lower_c((unsigned char)*p);
  return s;
}

int lgw__is_blank(const char *s) {
  if (!s) return 1;
  for (; *s; s++)
    if (!is_space((unsigned char)*s)) return 0;
  return 1;
}

void lgw__strip_range(const char *s, size_t n, size_t *start, size_t *end) {
  size_t a = 0, e = n;
  while (a < e && is_space((unsigned char)s[a])) a++;
  while (e > a && is_space((unsigned char)s[e - 1])) e--;
  *start = a;
  *end = e;
}

/* ---- secrets ----------------------------------------------------------- */

/* The window set: open addressing on 8-byte words. */
static size_t win_slot(const lgw__secrets_t *l, unsigned long long k) {
  size_t i = (size_t)((k * 0x9E3779B97F4A7C15ULL) >> 20) & (l->wcap - 1);
  while (l->win[i] && l->win[i] != k) i = (i + 1) & (l->wcap - 1);
  return i;
}

static int win_has(const lgw__secrets_t *l, const char *p) {
  unsigned long long k;
  if (!l->wcap) return 0;
  memcpy(&k, p, sizeof k);
  return l->win[win_slot(l, k)] != 0;
}

static int win_add(lgw__secrets_t *l, const char *p) {
  unsigned long long k;
  size_t i;
  if (2 * (l->wn + 1) > l->wcap) {
    lgw__secrets_t g = *l;
    size_t cap = l->wcap ? 2 * l->wcap : 64;
    g.win = lgw__calloc(cap, sizeof *g.win);
    if (!g.win) return LGW_ENOMEM;
    g.wcap = cap;
    for (i = 0; i < l->wcap; i++)
      if (l->win[i]) g.win[win_slot(&g, l->win[i])] = l->win[i];
    lgw_free(l->win);
    l->win = g.win;
    l->wcap = cap;
  }
  memcpy(&k, p, sizeof k);
  i = win_slot(l, k);
  if (!l->win[i]) {
    l->win[i] = k;
    l->wn++;
  }
  return 0;
}

int lgw__secrets_add(lgw__secrets_t *l, const char *s, size_t len,
                     int whole) {
  char **items;
  size_t *lens, i;
  unsigned char *w;
  if (!s || len < 4) return 0;
  for (i = 0; i < l->n; i++)
    if (l->lens[i] == len && memcmp(l->items[i], s, len) == 0) {
      l->whole[i] &= (unsigned char)(whole != 0);
      return 0;
    }
  items = lgw_realloc(l->items, (l->n + 1) * sizeof *items);
  if (!items) return LGW_ENOMEM;
  l->items = items;
  lens = lgw_realloc(l->lens, (l->n + 1) * sizeof *lens);
  if (!lens) return LGW_ENOMEM;
  l->lens = lens;
  w = lgw_realloc(l->whole, l->n + 1);
  if (!w) return LGW_ENOMEM;
  l->whole = w;
  if (!(items[l->n] = lgw__strndup(s, len))) return LGW_ENOMEM;
  lens[l->n] = len;
  w[l->n++] = (unsigned char)(whole != 0);
  if (len < LGW__SECRET_PIECE) {
    l->has_short = 1;
    return 0;
  }
  /* a whole-only secret can start only at its first window */
  for (i = 0; i + LGW__SECRET_PIECE <= len; i += whole ? len : 1)
    if (win_add(l, s + i)) return LGW_ENOMEM;
  return 0;
}

void lgw__secrets_free(lgw__secrets_t *l) {
  size_t i;
  for (i = 0; i < l->n; i++) lgw_free(l->items[i]);
  lgw_free(l->items);
  lgw_free(l->lens);
  lgw_free(l->whole);
  lgw_free(l->win);
  memset(l, 0, sizeof *l);
}

/* Length of the longest secret piece at p (n bytes left), 0 when none:
 * a whole secret, or LGW__SECRET_PIECE+ bytes of a long credential. */
static size_t secret_at(const lgw__secrets_t *l, const char *p, size_t n) {
  size_t best = 0, i, j, k;
  for (i = 0; i < l->n; i++) {
    const char *s = l->items[i];
    size_t sl = l->lens[i];
    size_t need = sl < LGW__SECRET_PIECE || l->whole[i] ? sl
                                                          : LGW__SECRET_PIECE;
    for (j = 0; j + need <= sl; j++) {
      if (s[j] != p[0]) continue;
      for (k = 0; k < sl - j && k < n && s[j + k] == p[k]; k++) {}
      if (k >= need && k > best) best = k;
    }
  }
  return best;
}

void lgw__redact(const lgw__secrets_t *l, char *msg, size_t cap) {
  static const char mark[] = "[redacted]";
  const size_t ml = sizeof mark - 1;
  size_t len, i = 0, run, tail, keep;
  if (!l || !l->n || !msg || !cap) return;
  len = strlen(msg);
  while (i < len) {
    /* most positions are ruled out by the window set alone */
    if (len - i >= LGW__SECRET_PIECE ? !win_has(l, msg + i) && !l->has_short
                                     : !l->has_short)
      run = 0;
    else
      run = secret_at(l, msg + i, len - i);
    if (!run) {
      i++;
      continue;
    }
    tail = len - i - run;
    if (i + ml + 1 > cap) {  /* not even the mark fits: cut here */
      msg[i] = '\0';
      return;
    }
    keep = i + ml + tail + 1 > cap ? cap - 1 - i - ml : tail;
    while (keep > 0 && keep < tail &&
           ((unsigned char)msg[i + run + keep] & 0xC0) == 0x80)
      keep--;
    memmove(msg + i + ml, msg + i + run, keep);
    memcpy(msg + i, mark, ml);
    len = i + ml + keep;
    msg[len] = '\0';
    i += ml;
  }
}

int lgw__base64(lgw__buf_t *b, const void *s, size_t n) {
  static const char tab[] =
      "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  const unsigned char *p = s;
  size_t i;
  char q[4];
  for (i = 0; i < n; i += 3) {
    unsigned long v = (unsigned long)p[i] << 16;
    if (i + 1 < n) v |= (unsigned long)p[i + 1] << 8;
    if (i + 2 < n) v |= p[i + 2];
    q[0] = tab[(v >> 18) & 63];
    q[1] = tab[(v >> 12) & 63];
    q[2] = i + 1 < n ? tab[(v >> 6) & 63] : '=';
    q[3] = i + 2 < n ? tab[v & 63] : '=';
    if (lgw__buf_add(b, q, 4)) return LGW_ENOMEM;
  }
  return 0;
}

double lgw__now_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

double lgw__wall_s(void) {
  struct timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}
