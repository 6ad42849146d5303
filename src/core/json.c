/*
 * json.c -- the JSON writer, cJSON trees that keep U+0000, and the
 * in-place reader (see json.h). The reader validates a document once and
 * then walks its text without building anything: for the small answers
 * of a provider that is several times cheaper than a cJSON tree, and it
 * allocates only the strings it decodes.
 */
#include "json.h"

#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#if defined(__SSE2__)
#include <emmintrin.h>
#endif

/* ---- writing JSON ------------------------------------------------------- */

/* Length of the UTF-8 sequence at p if it is well-formed (*ok = 1), else
 * the length of its maximal invalid subpart (at least 1, *ok = 0). */
static size_t utf8_seq(const unsigned char *p, size_t avail, int *ok) {
  unsigned c = p[0], lo = 0x80, hi = 0xBF;
  size_t need, i;
  if (c >= 0xC2 && c <= 0xDF) {
    need = 1;
  } else if (c >= 0xE0 && c <= 0xEF) {
    need = 2;
    if (c == 0xE0) lo = 0xA0;
    if (c == 0xED) hi = 0x9F;  /* no UTF-16 surrogates */
  } else if (c >= 0xF0 && c <= 0xF4) {
    need = 3;
    if (c == 0xF0) lo = 0x90;
    if (c == 0xF4) hi = 0x8F;  /* nothing above U+10FFFF */
  } else {
    *ok = 0;
    return 1;
  }
  for (i = 1; i <= need; i++) {
    unsigned d;
    if (i >= avail) break;
    d = p[i];
    if (i == 1 ? (d < lo || d > hi) : (d < 0x80 || d > 0xBF)) break;
  }
  *ok = i > need;
  return *ok ? need + 1 : i;
}

/* Bytes a JSON string holds as they are: printable ASCII other than '"'
 * and '\\' (0x20-0x7F less 0x22 and 0x5C). */
static const unsigned char ascii_plain[256] = {
  0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,
  1,1,0,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,
  1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,0,1,1,1,
  1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,
  0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,
  0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,
  0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,
  0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,
};

#if defined(__GNUC__)
#define JV_INLINE inline __attribute__((always_inline))
#else
#define JV_INLINE inline
#endif

/* Past the bytes at p (up to e) that plain[] lets a string hold as they
 * are, eight at a time while none of them is '"', '\\', a control byte
 * or, when high stops too, a byte from 0x80 up; then one by one. */
static JV_INLINE const unsigned char *plain_run(const unsigned char *p,
                                                const unsigned char *e,
                                                const unsigned char *plain,
                                                int high) {
  const uint64_t ones = 0x0101010101010101u, highs = 0x8080808080808080u;
#if defined(__SSE2__) && defined(__GNUC__)
  /* sixteen at a time: a byte equal to '"' or '\\', or at most 0x1F (as
   * an unsigned byte: its minimum with 0x1F is itself), or from 0x80 up
   * with high (its top bit: movemask) */
  if (e - p >= 16) {
    const __m128i quote = _mm_set1_epi8('"'), bslash = _mm_set1_epi8('\\'),
                  ctl = _mm_set1_epi8(0x1F);
    do {
      __m128i x = _mm_loadu_si128((const __m128i *)(const void *)p);
      __m128i m = _mm_or_si128(
          _mm_or_si128(_mm_cmpeq_epi8(x, quote), _mm_cmpeq_epi8(x, bslash)),
          _mm_cmpeq_epi8(_mm_min_epu8(x, ctl), x));
      unsigned bits = (unsigned)_mm_movemask_epi8(m);
      if (high) bits |= (unsigned)_mm_movemask_epi8(x);
      if (bits) return p + __builtin_ctz(bits);
      p += 16;
    } while (e - p >= 16);
  }
#endif
  while (e - p >= 8) {
    uint64_t x, q, b, c;
    memcpy(&x, p, 8);
    q = x ^ (ones * '"');
    b = x ^ (ones * '\\');
    /* a byte below 0x20, equal to '"' or '\\' (or from 0x80 up, with
     * high) sets its high bit (bytes after the first such byte may too:
     * borrows run upwards) */
    c = x - ones * 0x20;
    c = high ? (c | x) : (c & ~x);
    x = (c | ((q - ones) & ~q) | ((b - ones) & ~b)) & highs;
    if (x) {
#if defined(__GNUC__) && defined(__BYTE_ORDER__) && \
    __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
      return p + (__builtin_ctzll(x) >> 3);
#else
      break;
#endif
    }
    p += 8;
  }
  while (p < e && plain[*p]) p++;
  return p;
}

/* Past the bytes at p (up to e) that a JSON string holds as they are:
 * printable ASCII other than '"' and '\\'. */
static const unsigned char *ascii_run(const unsigned char *p,
                                      const unsigned char *e) {
  return plain_run(p, e, ascii_plain, 1);
}

/* Written straight into the buffer: room for the string as it is and its
 * quotes first, more only when an escape or a U+FFFD makes it longer. */
int lgw__json_add_str(lgw__buf_t *b, const char *s, size_t n) {
  static const char hex[] = "0123456789abcdef";
  const unsigned char *p = (const unsigned char *)s, *end = p + n;
  char *d;
  if (b->cap - b->len <= n + 2 && lgw__buf_reserve(b, n + 2))
    return LGW_ENOMEM;
  d = b->data + b->len;
  *d++ = '"';
  while (p < end) {
    const unsigned char *run = p;
    unsigned c;
    size_t k = 1;       /* set again below for a multi-byte sequence */
    int ok;
    p = ascii_run(p, end);
    if (p > run) {
      memcpy(d, run, (size_t)(p - run));
      d += p - run;
    }
    if (p == end) break;
    c = *p;
    if (c >= 0x80) {
      k = utf8_seq(p, (size_t)(end - p), &ok);
      if (ok) {          /* as it is: the room is there */
        memcpy(d, p, k);
        d += k;
        p += k;
        continue;
      }
    }
    /* an escape or U+FFFD: at most 6 bytes for at least 1 */
    b->len = (size_t)(d - b->data);
    if (lgw__buf_reserve(b, (size_t)(end - p) + 7)) return LGW_ENOMEM;
    d = b->data + b->len;
    if (c >= 0x80) {
      memcpy(d, "\xEF\xBF\xBD", 3);
      d += 3;
      p += k;
      continue;
    }
    *d++ = '\\';
    switch (c) {
      case '"': *d++ = '"'; break;
      case '\\': *d++ = '\\'; break;
      case '\n': *d++ = 'n'; break;
      case '\r': *d++ = 'r'; break;
      case '\t': *d++ = 't'; break;
      case '\b': *d++ = 'b'; break;
      case '\f': *d++ = 'f'; break;
      default:
        memcpy(d, "u00", 3);
        d[3] = hex[c >> 4];
        d[4] = hex[c & 15];
        d += 5;
    }
    p++;
  }
  *d++ = '"';
  *d = '\0';
  b->len = (size_t)(d - b->data);
  return 0;
}

/* The code point of the UTF-8 sequence at s[0..n), n > 0, in *cp and its
 * length; a byte that starts no well-formed sequence is U+FFFD of length
 * 1 (so a truncated sequence gives one U+FFFD per byte). */
static size_t utf8_decode(const unsigned char *s, size_t n,
                          unsigned long *cp) {
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

int lgw__json_add_str_ascii(lgw__buf_t *b, const char *s, size_t n) {
  const unsigned char *p = (const unsigned char *)(s ? s : "");
  int rc = lgw__buf_addc(b, '"');
  if (!s) n = 0;
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

int lgw__json_add_num(lgw__buf_t *b, double v) {
  char tmp[40];
  int prec;
  if (!isfinite(v)) return LGW_EINVAL;
  /* Shortest form that reads back exactly, as Python's repr: 15
   * significant digits always read back to a number that has a form of
   * 15 or fewer (trailing zeros are dropped), then 16, then 17. */
  for (prec = 15; prec < 17; prec++) {
    snprintf(tmp, sizeof tmp, "%.*g", prec, v);
    if (strtod(tmp, NULL) == v) break;
  }
  if (prec == 17) snprintf(tmp, sizeof tmp, "%.17g", v);
  if (!strpbrk(tmp, ".e")) strcat(tmp, ".0");
  return lgw__buf_adds(b, tmp);
}

int lgw__json_add_key(lgw__buf_t *b, const char *key) {
  size_t n = strlen(key);
  char *d;
  if (b->cap - b->len <= n + 4 && lgw__buf_reserve(b, n + 4))
    return LGW_ENOMEM;
  d = b->data + b->len;
  d[0] = ',';
  d[1] = '"';
  memcpy(d + 2, key, n);
  d[n + 2] = '"';
  d[n + 3] = ':';
  d[n + 4] = '\0';
  b->len += n + 4;
  return 0;
}

int lgw__json_add_long(lgw__buf_t *b, long v) {
  char tmp[24], *q = tmp + sizeof tmp;
  unsigned long u = v < 0 ? 0UL - (unsigned long)v : (unsigned long)v;
  do {
    *--q = (char)('0' + u % 10);
    u /= 10;
  } while (u);
  if (v < 0) *--q = '-';
  return lgw__buf_add(b, q, (size_t)(tmp + sizeof tmp - q));
}


char *lgw__utf8_put(char *d, unsigned long cp) {
  if (cp < 0x80) {
    *d++ = (char)cp;
  } else if (cp < 0x800) {
    *d++ = (char)(0xC0 | (cp >> 6));
    *d++ = (char)(0x80 | (cp & 0x3F));
  } else if (cp < 0x10000) {
    *d++ = (char)(0xE0 | (cp >> 12));
    *d++ = (char)(0x80 | ((cp >> 6) & 0x3F));
    *d++ = (char)(0x80 | (cp & 0x3F));
  } else {
    *d++ = (char)(0xF0 | (cp >> 18));
    *d++ = (char)(0x80 | ((cp >> 12) & 0x3F));
    *d++ = (char)(0x80 | ((cp >> 6) & 0x3F));
    *d++ = (char)(0x80 | (cp & 0x3F));
  }
  return d;
}

/* ---- cJSON trees with U+0000 ------------------------------------------- */

long lgw__json_count(const cJSON *obj, const char *key) {
  const cJSON *v = cJSON_IsObject(obj)
                       ? cJSON_GetObjectItemCaseSensitive(obj, key) : NULL;
  if (!cJSON_IsNumber(v) || !(v->valuedouble >= 0) ||
      v->valuedouble > 9.2e18)
    return -1;
  return (long)v->valuedouble;
}

/* At s[i], a backslash: the escape is \u0000. */
static int is_nul_escape(const char *s, size_t n, size_t i) {
  return i + 6 <= n && memcmp(s + i, "\\u0000", 6) == 0;
}

char *lgw__json_nul_encode(const char *s, size_t n, size_t *out_len,
                           int *oom) {
  lgw__buf_t b;
  size_t i, extra = 0;
  int found = 0;
  *oom = 0;
  for (i = 0; i < n; i++) {
    if ((unsigned char)s[i] == 0xC0) extra++;
    if (s[i] != '\\') continue;
    if (is_nul_escape(s, n, i)) found = 1;
    i++;  /* the escaped character */
  }
  if (!found) return NULL;
  lgw__buf_init(&b);
  if (lgw__buf_reserve(&b, n + extra)) {
    *oom = 1;
    return NULL;
  }
  for (i = 0; i < n; i++) {
    unsigned char c = (unsigned char)s[i];
    if (c == 0xC0) {
      b.data[b.len++] = (char)0xC0;
      b.data[b.len++] = (char)0x81;
    } else if (c == '\\' && is_nul_escape(s, n, i)) {
      b.data[b.len++] = (char)0xC0;
      b.data[b.len++] = (char)0x80;
      i += 5;
    } else {
      b.data[b.len++] = (char)c;
      if (c == '\\' && i + 1 < n) b.data[b.len++] = s[++i];
    }
  }
  b.data[b.len] = '\0';
  *out_len = b.len;
  return lgw__buf_steal(&b);
}

cJSON *lgw__json_parse(const char *s, size_t n, int *nul) {
  size_t m;
  int oom;
  char *enc = lgw__json_nul_encode(s, n, &m, &oom);
  cJSON *j;
  *nul = enc != NULL;
  if (!enc) return oom ? NULL : cJSON_ParseWithLength(s, n);
  j = cJSON_ParseWithLength(enc, m);
  lgw_free(enc);
  return j;
}

int lgw__json_nomem(const char *s, size_t n) {
  lgw__jv_t root;
  size_t a, e;
  if (!s) return 0;
  /* the ends cJSON skips and the in-place reader does not (\f, \v) */
  lgw__strip_range(s, n, &a, &e);
  return a < e && lgw__jv_root(s + a, e - a, &root) == 0;
}

int lgw__json_text(lgw__buf_t *b, const char *s, int nul) {
  const char *run;
  if (!s) return 0;
  if (!nul) return lgw__buf_adds(b, s);
  for (run = s; *s; s++) {
    if ((unsigned char)*s != 0xC0 || (unsigned char)s[1] < 0x80 ||
        (unsigned char)s[1] > 0x81)
      continue;
    if (lgw__buf_add(b, run, (size_t)(s - run)) ||
        lgw__buf_addc(b, s[1] == (char)0x80 ? '\0' : (char)0xC0))
      return LGW_ENOMEM;
    run = ++s + 1;
  }
  return lgw__buf_add(b, run, (size_t)(s - run));
}

/* ---- reading JSON in place ---------------------------------------------- */

#define JV_DEPTH 256       /* deeper documents take the cJSON path */
#define JV_NUM_MAX 63      /* cJSON reads at most 63 characters of a number */

static int jv_ws(int c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r'; }

/* Bytes that stand for themselves inside a string: not '"', '\\' nor a
 * control character. */
static unsigned char jv_plain[256];
/* Bytes a validated container is skipped to: quotes and brackets. */
static unsigned char jv_mark[256];

static void jv_init(void) {
  int c;
  if (jv_plain['a']) return;
  jv_mark['"'] = jv_mark['{'] = jv_mark['}'] = jv_mark['['] = jv_mark[']'] = 1;
  for (c = 0x20; c < 256; c++) jv_plain[c] = c != '"' && c != '\\';
}

int lgw__hex4(const char *p, unsigned long *out) {
  unsigned long v = 0;
  int i;
  for (i = 0; i < 4; i++) {
    int c = (unsigned char)p[i];
    v <<= 4;
    if (c >= '0' && c <= '9') v |= (unsigned long)(c - '0');
    else if (c >= 'a' && c <= 'f') v |= (unsigned long)(c - 'a' + 10);
    else if (c >= 'A' && c <= 'F') v |= (unsigned long)(c - 'A' + 10);
    else return 0;
  }
  *out = v;
  return 1;
}

static int jv_hex4(const char *p, const char *e, unsigned long *out) {
  return e - p >= 4 && lgw__hex4(p, out);
}

/* A \u escape at p (after the backslash and 'u'): the code point and the
 * end, or NULL where cJSON would fail (a lone or reversed surrogate). */
static const char *jv_uescape(const char *p, const char *e,
                              unsigned long *cp) {
  unsigned long u, lo;
  if (!jv_hex4(p, e, &u)) return NULL;
  p += 4;
  if (u >= 0xDC00 && u <= 0xDFFF) return NULL;
  if (u >= 0xD800 && u <= 0xDBFF) {
    if (e - p < 6 || p[0] != '\\' || p[1] != 'u' || !jv_hex4(p + 2, e, &lo) ||
        lo < 0xDC00 || lo > 0xDFFF)
      return NULL;
    u = 0x10000 + (((u & 0x3FF) << 10) | (lo & 0x3FF));
    p += 6;
  }
  *cp = u;
  return p;
}

/* Past the bytes at p that stand for themselves in a string (up to e):
 * none of them '"', '\\' or a control byte (the reader takes bytes from
 * 0x80 up as they are; its string checks UTF-8 on its own). */
static JV_INLINE const char *jv_plain_run(const char *p, const char *e) {
  return (const char *)plain_run((const unsigned char *)p,
                                 (const unsigned char *)e, jv_plain, 0);
}

/* A string at p (the opening quote): just past its closing quote, or NULL
 * when it is not strict JSON. */
static const char *jv_string(const char *p, const char *e) {
  unsigned long cp;
  p++;
  for (;;) {
    p = jv_plain_run(p, e);
    if (p >= e || (unsigned char)*p < 0x20) return NULL;
    if (*p == '"') return p + 1;
    if (++p >= e) return NULL;
    switch (*p) {
      case '"': case '\\': case '/': case 'b': case 'f': case 'n': case 'r':
      case 't':
        p++;
        break;
      case 'u':
        p = jv_uescape(p + 1, e, &cp);
        if (!p) return NULL;
        break;
      default:
        return NULL;
    }
  }
}

static const char *jv_digits(const char *p, const char *e) {
  const char *d = p;
  while (p < e && *p >= '0' && *p <= '9') p++;
  return p > d ? p : NULL;
}

static const char *jv_number(const char *p, const char *e) {
  const char *s = p;
  if (p < e && *p == '-') p++;
  if (p < e && *p == '0') p++;
  else if (!(p = jv_digits(p, e))) return NULL;
  if (p < e && *p == '.' && !(p = jv_digits(p + 1, e))) return NULL;
  if (p < e && (*p == 'e' || *p == 'E')) {
    p++;
    if (p < e && (*p == '+' || *p == '-')) p++;
    if (!(p = jv_digits(p, e))) return NULL;
  }
  return p - s <= JV_NUM_MAX ? p : NULL;
}

static const char *jv_value(const char *p, const char *e, int depth);
static const char *jv_members(const char *p, const char *e, char close,
                              int depth);

/* The ends of the outer containers of the last document validated on this
 * thread, by their start, so that skipping one does not read it again. A
 * container's end follows from its text alone, and a document does not
 * change while it is read: an entry found by its start is right for any
 * document that holds those bytes there. */
#define JV_ENDS 16
#define JV_ENDS_DEPTH 3
static _Thread_local struct {
  const char *start[JV_ENDS], *end[JV_ENDS];
  int n;
} jv_ends;

/* Compact JSON has no whitespace: one test for a byte above ' '. */
static JV_INLINE const char *jv_skip_ws(const char *p, const char *e) {
  while (p < e && (unsigned char)*p <= ' ' && jv_ws((unsigned char)*p)) p++;
  return p;
}

/* Past the ':' after a member's key (p just past the key) and the
 * whitespace after it, or NULL. */
static JV_INLINE const char *jv_colon(const char *p, const char *e) {
  if (p < e && *p == ':') return jv_skip_ws(p + 1, e);
  p = jv_skip_ws(p, e);
  if (p >= e || *p != ':') return NULL;
  return jv_skip_ws(p + 1, e);
}

/* A container at p ('{' or '['): just past its end, or NULL. */
static const char *jv_container(const char *p, const char *e, int depth) {
  char close = *p == '{' ? '}' : ']';
  const char *end;
  int slot = -1;
  if (depth >= JV_DEPTH) return NULL;
  if (depth > 0 && depth <= JV_ENDS_DEPTH && jv_ends.n < JV_ENDS) {
    slot = jv_ends.n++;
    jv_ends.start[slot] = p;
    jv_ends.end[slot] = NULL;
  }
  end = jv_members(p, e, close, depth);
  if (slot >= 0) jv_ends.end[slot] = end;
  return end;
}

/* The members or elements of a container at p, up to its close. */
static const char *jv_members(const char *p, const char *e, char close,
                              int depth) {
  p = jv_skip_ws(p + 1, e);
  if (p < e && *p == close) return p + 1;
  for (;;) {
    if (close == '}') {
      if (p >= e || *p != '"' || !(p = jv_string(p, e))) return NULL;
      if (!(p = jv_colon(p, e))) return NULL;
    }
    if (!(p = jv_value(p, e, depth + 1))) return NULL;
    if (p < e && *p == ',') {  /* compact JSON: the usual case first */
      p = jv_skip_ws(p + 1, e);
      continue;
    }
    p = jv_skip_ws(p, e);
    if (p >= e) return NULL;
    if (*p == close) return p + 1;
    if (*p != ',') return NULL;
    p = jv_skip_ws(p + 1, e);
  }
}

static const char *jv_lit(const char *p, const char *e, const char *w,
                          size_t n) {
  return (size_t)(e - p) >= n && memcmp(p, w, n) == 0 ? p + n : NULL;
}

/* A value at p (no leading whitespace): just past it, or NULL. */
static const char *jv_value(const char *p, const char *e, int depth) {
  if (p >= e) return NULL;
  switch (*p) {
    case '"': return jv_string(p, e);
    case '{': case '[': return jv_container(p, e, depth);
    case 't': return jv_lit(p, e, "true", 4);
    case 'f': return jv_lit(p, e, "false", 5);
    case 'n': return jv_lit(p, e, "null", 4);
    default: return jv_number(p, e);
  }
}

static lgw__jv_type_t jv_type(char c) {
  switch (c) {
    case '"': return LGW__JV_STR;
    case '{': return LGW__JV_OBJ;
    case '[': return LGW__JV_ARR;
    case 't': return LGW__JV_TRUE;
    case 'f': return LGW__JV_FALSE;
    case 'n': return LGW__JV_NULL;
    default: return LGW__JV_NUM;
  }
}

int lgw__jv_root(const char *body, size_t len, lgw__jv_t *root) {
  const char *e = body + len, *p, *v;
  root->type = LGW__JV_NONE;
  if (!body) return LGW__JV_UNSURE;
  jv_init();
  jv_ends.n = 0;
  p = jv_skip_ws(body, e);
  v = jv_value(p, e, 0);
  if (!v || jv_skip_ws(v, e) != e) return LGW__JV_UNSURE;
  root->p = p;
  root->n = (size_t)(e - p);
  root->type = jv_type(*p);
  return 0;
}

/* Past the string at p (validated): its closing quote + 1. */
static const char *jv_skip_string(const char *p, const char *e) {
  (void)e;
  p++;
  for (;;) {
    while (jv_plain[(unsigned char)*p]) p++;
    if (*p == '"') return p + 1;
    p += *p == '\\' ? 2 : 1;   /* an escape, or a control byte */
  }
}

/* Past the validated value at p. */
static const char *jv_skip(const char *p, const char *e) {
  int depth = 0, i;
  if (*p == '"') return jv_skip_string(p, e);
  if (*p != '{' && *p != '[') {
    while (p < e && *p != ',' && *p != '}' && *p != ']' &&
           !jv_ws((unsigned char)*p))
      p++;
    return p;
  }
  for (i = 0; i < jv_ends.n; i++)
    if (jv_ends.start[i] == p && jv_ends.end[i]) return jv_ends.end[i];
  for (;;) {
    char c;
    while (!jv_mark[(unsigned char)*p]) p++;
    c = *p;
    if (c == '"') {
      p = jv_skip_string(p, e);
      continue;
    }
    p++;
    if (c == '{' || c == '[') depth++;
    else if ((c == '}' || c == ']') && --depth == 0) return p;
  }
}

/* Values are not measured: n runs to the end of the document. */
static void jv_set(lgw__jv_t *out, const char *p, const char *e) {
  out->p = p;
  out->n = (size_t)(e - p);
  out->type = jv_type(*p);
}

int lgw__jv_getv(const lgw__jv_t *obj, const char *const *keys,
                 lgw__jv_t *out, size_t n) {
  const char *p, *e, *k;
  size_t i, left = n;
  for (i = 0; i < n; i++) out[i].type = LGW__JV_NONE;
  if (obj->type != LGW__JV_OBJ) return 0;
  e = obj->p + obj->n;
  p = jv_skip_ws(obj->p + 1, e);
  while (*p == '"' && left) {
    const char *key = p + 1;
    size_t kn;
    /* a validated key holds no control byte: it ends at '"' or at an
     * escape */
    for (k = key; jv_plain[(unsigned char)*k]; k++) {}
    if (*k != '"') return LGW__JV_UNSURE;
    kn = (size_t)(k - key);
    p = jv_skip_ws(jv_skip_ws(k + 1, e) + 1, e);   /* the value */
    for (i = 0; i < n; i++)
      if (out[i].type == LGW__JV_NONE && keys[i][0] == *key &&
          strlen(keys[i]) == kn && memcmp(key, keys[i], kn) == 0) {
        jv_set(&out[i], p, e);
        left--;
      }
    if (!left) break;
    p = jv_skip_ws(jv_skip(p, e), e);   /* at ',' or '}' */
    if (*p != ',') break;
    p = jv_skip_ws(p + 1, e);
  }
  return 0;
}

int lgw__jv_get(const lgw__jv_t *obj, const char *key, lgw__jv_t *out) {
  return lgw__jv_getv(obj, &key, out, 1);
}

void lgw__jv_first(const lgw__jv_t *arr, lgw__jv_t *out) {
  const char *e, *p;
  out->type = LGW__JV_NONE;
  if (arr->type != LGW__JV_ARR) return;
  e = arr->p + arr->n;
  p = jv_skip_ws(arr->p + 1, e);
  if (*p != ']') jv_set(out, p, e);
}

int lgw__jv_int(const lgw__jv_t *v, long *count) {
  const char *p;
  long n = 0;
  *count = -1;
  if (v->type != LGW__JV_NUM) return 0;
  /* plain integers up to 15 digits are exact as doubles */
  for (p = v->p; p < v->p + v->n && *p >= '0' && *p <= '9'; p++)
    n = n * 10 + (*p - '0');
  if (p == v->p || p - v->p > 15 ||
      (p < v->p + v->n && (*p == '.' || *p == 'e' || *p == 'E')))
    return LGW__JV_UNSURE;
  *count = n;
  return 0;
}

int lgw__jv_count(const lgw__jv_t *obj, const char *key, long *count) {
  lgw__jv_t v;
  *count = -1;
  return lgw__jv_get(obj, key, &v) ? LGW__JV_UNSURE : lgw__jv_int(&v, count);
}

/* The closing quote of string value s. A value measured exactly (by
 * lgw__jv_read) ends with it; a value found by a walk runs on to the end
 * of its document, which ends with a bracket (or whitespace) unless the
 * value is the document itself. */
static const char *jv_string_end(const lgw__jv_t *s) {
  if (s->n >= 2 && s->p[s->n - 1] == '"') return s->p + s->n - 1;
  return jv_skip_string(s->p, s->p + s->n) - 1;
}

/* Decoded text is never longer than its escaped form, so it is written
 * straight into space reserved for the whole string. */
int lgw__jv_str(const lgw__jv_t *s, lgw__buf_t *b) {
  const char *p = s->p + 1, *e = jv_string_end(s);
  char *d;
  unsigned long cp;
  if (lgw__buf_reserve(b, (size_t)(e - p))) return LGW_ENOMEM;
  d = b->data + b->len;
  if (!memchr(p, '\\', (size_t)(e - p))) {   /* nothing to decode */
    memcpy(d, p, (size_t)(e - p));
    d += e - p;
    p = e;
  }
  while (p < e) {
    char c;
#if defined(__GNUC__) && defined(__BYTE_ORDER__) && \
    __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
    /* eight bytes at a time up to the next escape: d is never ahead of
     * p, so the room reserved holds the eight written */
    const uint64_t ones = 0x0101010101010101u, highs = 0x8080808080808080u;
    while (e - p >= 8) {
      uint64_t x, t;
      memcpy(&x, p, 8);
      memcpy(d, &x, 8);
      t = x ^ (ones * '\\');
      t = (t - ones) & ~t & highs;
      if (t) {
        size_t k = (size_t)__builtin_ctzll(t) >> 3;
        d += k;
        p += k;
        break;
      }
      d += 8;
      p += 8;
    }
    if (p >= e) break;
#endif
    c = *p++;
    if (c != '\\') {
      *d++ = c;
      continue;
    }
    c = *p++;
    switch (c) {
      case 'b': *d++ = '\b'; break;
      case 'f': *d++ = '\f'; break;
      case 'n': *d++ = '\n'; break;
      case 'r': *d++ = '\r'; break;
      case 't': *d++ = '\t'; break;
      case 'u':
        p = jv_uescape(p, e, &cp);
        if (!p) {
          b->data[b->len] = '\0';
          return LGW__JV_UNSURE;
        }
        d = lgw__utf8_put(d, cp);
        break;
      default: *d++ = c; break;   /* '"', '\\', '/' */
    }
  }
  b->len = (size_t)(d - b->data);
  *d = '\0';
  return 0;
}


void lgw__jv_next(lgw__jv_t *it) {
  const char *e = it->p + it->n, *p;
  if (it->type == LGW__JV_NONE) return;
  p = jv_skip_ws(jv_skip(it->p, e), e);   /* at ',' or ']' */
  if (*p != ',') {
    it->type = LGW__JV_NONE;
    return;
  }
  jv_set(it, jv_skip_ws(p + 1, e), e);
}

int lgw__jv_plain(const lgw__jv_t *s, const char **p, size_t *n) {
  const char *e = jv_string_end(s);
  *p = s->p + 1;
  *n = (size_t)(e - *p);
  return memchr(*p, '\\', *n) ? LGW__JV_UNSURE : 0;
}

int lgw__jv_eq(const lgw__jv_t *v, const char *lit, int *eq) {
  const char *p;
  size_t n;
  *eq = 0;
  if (v->type != LGW__JV_STR) return 0;
  if (lgw__jv_plain(v, &p, &n)) return LGW__JV_UNSURE;
  *eq = n == strlen(lit) && memcmp(p, lit, n) == 0;
  return 0;
}

/* A number as cJSON prints it back: an integer of at most 9 digits (an
 * int, printed with %d), not -0 (printed as "0" or "-0" depending on the
 * cJSON version). */
static int jv_int_number(const char *p, const char *e) {
  const char *d = p + (*p == '-');
  size_t k = (size_t)(e - d);
  if (k < 1 || k > 9) return 0;
  if (memchr(d, '.', k) || memchr(d, 'e', k) || memchr(d, 'E', k)) return 0;
  return !(*p == '-' && *d == '0');
}

int lgw__jv_compact(const lgw__jv_t *v, const char **p, size_t *n) {
  const char *s = v->p, *e = jv_skip(v->p, v->p + v->n), *q = s;
  *p = s;
  *n = (size_t)(e - s);
  while (q < e) {
    char c = *q;
    if (c == '"') {
      const char *end = jv_skip_string(q, e);
      if (memchr(q + 1, '\\', (size_t)(end - q - 2))) return LGW__JV_UNSURE;
      q = end;
    } else if (c == '-' || (c >= '0' && c <= '9')) {
      const char *start = q;
      while (q < e && *q && strchr("+-.eE0123456789", *q)) q++;
      if (!jv_int_number(start, q)) return LGW__JV_UNSURE;
    } else if (jv_ws((unsigned char)c)) {
      return LGW__JV_UNSURE;
    } else {
      q++;
    }
  }
  return 0;
}

/* ---- reading in one pass ------------------------------------------------ */

static const char *jv_pick_value(const char *p, const char *e, int depth,
                                 const lgw__jv_pick_t *pk, size_t n,
                                 lgw__jv_t *out);

/* The value at p for pick k (NULL: none): validated, and recorded in its
 * slot unless an earlier occurrence was. */
static const char *jv_pick_one(const char *p, const char *e, int depth,
                               const lgw__jv_pick_t *k, lgw__jv_t *out) {
  const char *end;
  lgw__jv_t *v;
  if (!k || out[k->slot].type != LGW__JV_NONE) return jv_value(p, e, depth);
  end = jv_pick_value(p, e, depth, k->sub, k->nsub, out);
  if (end) {
    v = &out[k->slot];
    v->p = p;
    v->n = (size_t)(end - p);
    v->type = jv_type(*p);
  }
  return end;
}

/* The pick among pk[0..n) for the key at p (after its opening quote),
 * *kend past its closing quote; *kend NULL for a key with an escape or
 * not JSON. */
static const lgw__jv_pick_t *jv_pick_key(const char *p, const char *e,
                                         const lgw__jv_pick_t *pk, size_t n,
                                         const char **kend) {
  const char *k = jv_plain_run(p, e);
  size_t kn = (size_t)(k - p), i, j;
  *kend = NULL;
  if (k >= e || *k != '"') return NULL;
  *kend = k + 1;
  for (i = 0; i < n; i++) {
    const char *w = pk[i].key;
    if (!w || pk[i].len != kn || w[0] != p[0]) continue;
    for (j = 0; j + 8 <= kn; j += 8) {   /* eight bytes at a time */
      uint64_t a, b;
      memcpy(&a, w + j, 8);
      memcpy(&b, p + j, 8);
      if (a != b) break;
    }
    if (j + 4 <= kn) {                   /* then four */
      uint32_t a, b;
      memcpy(&a, w + j, 4);
      memcpy(&b, p + j, 4);
      if (a == b) j += 4;
    }
    while (j < kn && w[j] == p[j]) j++;
    if (j == kn) return &pk[i];
  }
  return NULL;
}

/* The value at p (no leading whitespace) with picks pk[0..n) inside it:
 * just past it, or NULL. */
static const char *jv_pick_value(const char *p, const char *e, int depth,
                                 const lgw__jv_pick_t *pk, size_t n,
                                 lgw__jv_t *out) {
  const lgw__jv_pick_t *k, *first = NULL;
  char close;
  int slot = -1;
  size_t i;
  if (!n || p >= e || (*p != '{' && *p != '[')) return jv_value(p, e, depth);
  if (depth >= JV_DEPTH) return NULL;
  if (depth > 0 && depth <= JV_ENDS_DEPTH && jv_ends.n < JV_ENDS) {
    slot = jv_ends.n++;
    jv_ends.start[slot] = p;
    jv_ends.end[slot] = NULL;
  }
  close = *p == '{' ? '}' : ']';
  if (close == ']')
    for (i = 0; i < n && !first; i++)
      if (!pk[i].key) first = &pk[i];
  p = jv_skip_ws(p + 1, e);
  if (p < e && *p == close) {
    p++;
    goto done;
  }
  for (;;) {
    k = first;
    first = NULL;
    if (close == '}') {
      if (p >= e || *p != '"') return NULL;
      k = jv_pick_key(p + 1, e, pk, n, &p);
      if (!p || !(p = jv_colon(p, e))) return NULL;
    }
    if (!(p = jv_pick_one(p, e, depth + 1, k, out))) return NULL;
    if (p < e && *p == ',') {  /* compact JSON: the usual case first */
      p = jv_skip_ws(p + 1, e);
      continue;
    }
    p = jv_skip_ws(p, e);
    if (p >= e) return NULL;
    if (*p == close) {
      p++;
      break;
    }
    if (*p != ',') return NULL;
    p = jv_skip_ws(p + 1, e);
  }
done:
  if (slot >= 0) jv_ends.end[slot] = p;
  return p;
}

int lgw__jv_read(const char *doc, size_t len, const lgw__jv_pick_t *top,
                 size_t ntop, lgw__jv_t *out, size_t nout) {
  const char *e = doc + len, *p, *v;
  size_t i;
  for (i = 0; i < nout; i++) out[i].type = LGW__JV_NONE;
  if (!doc) return LGW__JV_UNSURE;
  jv_init();
  jv_ends.n = 0;
  p = jv_skip_ws(doc, e);
  v = jv_pick_value(p, e, 0, top, ntop, out);
  if (!v || jv_skip_ws(v, e) != e) {
    for (i = 0; i < nout; i++) out[i].type = LGW__JV_NONE;
    return LGW__JV_UNSURE;
  }
  return 0;
}
