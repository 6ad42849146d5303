/*
 * retry.c -- the retry policy: which outcomes retry the same provider and
 * which fail over at once, the server's Retry-After hints (milliseconds,
 * seconds or an HTTP date) and exponential backoff with equal jitter.
 * Pure: the clock and the random state are parameters.
 */
#include "retry.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "llmgateway.h"
#include "util.h"

/* Longest wait we represent (a year); the gateway caps far lower. */
#define MAX_DELAY_MS 31536000000.0

static int is_ws(int c) { return c == ' ' || c == '\t'; }

/* s equals word, ignoring case and surrounding blanks. */
static int is_word(const char *s, const char *word) {
  size_t n = strlen(word);
  while (is_ws((unsigned char)*s)) s++;
  if (lgw__strncasecmp(s, word, n) != 0) return 0;
  for (s += n; is_ws((unsigned char)*s); s++) {}
  return *s == '\0';
}

lgw__next_t lgw__retry_classify(int status, int code,
                                const char *x_should_retry) {
  if (x_should_retry) {
    if (is_word(x_should_retry, "true")) return LGW__NEXT_RETRY;
    if (is_word(x_should_retry, "false")) return LGW__NEXT_FAILOVER;
  }
  if (code == LGW_ETOOBIG) return LGW__NEXT_FAILOVER;
  if (status >= 300 || (status > 0 && status < 200)) {
    /* Transient server states; any other 3xx/4xx is a request or
     * credential problem that another attempt would repeat. */
    if (status == 408 || status == 409 || status == 429 ||
        (status >= 500 && status <= 599))
      return LGW__NEXT_RETRY;
    return LGW__NEXT_FAILOVER;
  }
  switch (code) {
    case LGW_ECONNECT:
    case LGW_ETIMEOUT:
    case LGW_EHTTP:       /* transfer error: reset, truncated body */
    case LGW_ERATELIMIT:
    case LGW_EEMPTY:
    case LGW_ERESPONSE:
      return LGW__NEXT_RETRY;
    default:
      return LGW__NEXT_FAILOVER;
  }
}

/* A non-negative decimal number of the whole string (blanks allowed
 * around it): digits with at most one '.'. No sign, exponent, hex, inf or
 * nan, which strtod alone would accept. -1 when not such a number. */
static double parse_decimal(const char *s) {
  const char *p;
  int ndigits = 0, dots = 0;
  while (is_ws((unsigned char)*s)) s++;
  for (p = s; (*p >= '0' && *p <= '9') || *p == '.'; p++) {
    if (*p == '.') dots++;
    else ndigits++;
  }
  while (is_ws((unsigned char)*p)) p++;
  if (*p || !ndigits || dots > 1) return -1;
  return strtod(s, NULL);
}

static int match_ci(const char *s, const char *const *names, int n) {
  int i;
  for (i = 0; i < n; i++)
    if (lgw__strcasecmp(s, names[i]) == 0) return i;
  return -1;
}

static const char *const months[12] = {"Jan", "Feb", "Mar", "Apr",
                                       "May", "Jun", "Jul", "Aug",
                                       "Sep", "Oct", "Nov", "Dec"};
static const char *const wkdays[7] = {"Mon", "Tue", "Wed", "Thu",
                                      "Fri", "Sat", "Sun"};
static const char *const weekdays[7] = {"Monday", "Tuesday", "Wednesday",
                                        "Thursday", "Friday", "Saturday",
                                        "Sunday"};

/* Reads exactly n digits. */
static int digits(const char **sp, int n, int *out) {
  const char *s = *sp;
  int i, v = 0;
  for (i = 0; i < n; i++) {
    if (s[i] < '0' || s[i] > '9') return -1;
    v = v * 10 + (s[i] - '0');
  }
  *sp = s + n;
  *out = v;
  return 0;
}

/* Reads letters into buf (at most cap-1). */
static int word(const char **sp, char *buf, size_t cap) {
  const char *s = *sp;
  size_t n = 0;
  while (((*s >= 'A' && *s <= 'Z') || (*s >= 'a' && *s <= 'z')) &&
         n + 1 < cap)
    buf[n++] = *s++;
  buf[n] = '\0';
  *sp = s;
  return n ? 0 : -1;
}

static int lit(const char **sp, const char *l) {
  size_t n = strlen(l);
  if (strncmp(*sp, l, n) != 0) return -1;
  *sp += n;
  return 0;
}

static int hms(const char **sp, struct tm *tm) {
  return digits(sp, 2, &tm->tm_hour) || lit(sp, ":") ||
         digits(sp, 2, &tm->tm_min) || lit(sp, ":") ||
         digits(sp, 2, &tm->tm_sec);
}

static int month(const char **sp, struct tm *tm) {
  char m[4];
  return word(sp, m, sizeof m) ||
         (tm->tm_mon = match_ci(m, months, 12)) < 0;
}

/* HTTP-date (RFC 9110 §5.6.7) in its three forms; the weekday must be a
 * weekday name but is not checked against the date. */
static int http_date(const char *s, double now_unix, time_t *out) {
  struct tm tm;
  char wd[12];
  int year, leap, mdays;
  static const int dim[12] = {31, 28, 31, 30, 31, 30,
                              31, 31, 30, 31, 30, 31};
  memset(&tm, 0, sizeof tm);
  while (is_ws((unsigned char)*s)) s++;
  if (word(&s, wd, sizeof wd)) return -1;
  if (*s == ',' && match_ci(wd, wkdays, 7) >= 0) {
    /* IMF-fixdate: Sun, 06 Nov 1994 08:49:37 GMT */
    s++;
    if (lit(&s, " ") || digits(&s, 2, &tm.tm_mday) || lit(&s, " ") ||
        month(&s, &tm) || lit(&s, " ") || digits(&s, 4, &year) ||
        lit(&s, " ") || hms(&s, &tm) || lit(&s, " GMT"))
      return -1;
  } else if (*s == ',' && match_ci(wd, weekdays, 7) >= 0) {
    /* RFC 850: Sunday, 06-Nov-94 08:49:37 GMT */
    time_t now = (time_t)now_unix;
    struct tm nt;
    int yy, century;
    s++;
    if (lit(&s, " ") || digits(&s, 2, &tm.tm_mday) || lit(&s, "-") ||
        month(&s, &tm) || lit(&s, "-") || digits(&s, 2, &yy) ||
        lit(&s, " ") || hms(&s, &tm) || lit(&s, " GMT") || !gmtime_r(&now, &nt))
      return -1;
    /* A two-digit year more than 50 years ahead is in the past. */
    century = (nt.tm_year + 1900) / 100 * 100;
    year = century + yy;
    if (year > nt.tm_year + 1900 + 50) year -= 100;
  } else if (*s == ' ' && match_ci(wd, wkdays, 7) >= 0) {
    /* asctime: Sun Nov  6 08:49:37 1994 */
    s++;
    if (month(&s, &tm) || lit(&s, " ")) return -1;
    if (*s == ' ') {
      s++;
      if (digits(&s, 1, &tm.tm_mday)) return -1;
    } else if (digits(&s, 2, &tm.tm_mday)) {
      return -1;
    }
    if (lit(&s, " ") || hms(&s, &tm) || lit(&s, " ") || digits(&s, 4, &year))
      return -1;
  } else {
    return -1;
  }
  while (is_ws((unsigned char)*s)) s++;
  if (*s) return -1;
  leap = (year % 4 == 0 && year % 100 != 0) || year % 400 == 0;
  mdays = dim[tm.tm_mon] + (tm.tm_mon == 1 && leap);
  if (tm.tm_mday < 1 || tm.tm_mday > mdays || tm.tm_hour > 23 ||
      tm.tm_min > 59 || tm.tm_sec > 60)
    return -1;
  tm.tm_year = year - 1900;
  *out = timegm(&tm);
  return 0;
}

static long to_ms(double ms) {
  if (ms > MAX_DELAY_MS) ms = MAX_DELAY_MS;
  return (long)floor(ms + 0.5);
}

long lgw__retry_after_parse(const char *retry_after_ms,
                            const char *retry_after, double now_unix) {
  double v;
  time_t t;
  if (retry_after_ms && (v = parse_decimal(retry_after_ms)) >= 0)
    return to_ms(v);
  if (!retry_after) return -1;
  if ((v = parse_decimal(retry_after)) >= 0) return to_ms(v * 1000.0);
  if (http_date(retry_after, now_unix, &t)) return -1;
  v = ((double)t - now_unix) * 1000.0;
  return v > 0 ? to_ms(v) : 0;
}

/* xorshift64 (Marsaglia 13/7/17); a zero state would stay zero. */
static uint64_t next_rand(uint64_t *s) {
  uint64_t x = *s ? *s : 0x9E3779B97F4A7C15ull;
  x ^= x << 13;
  x ^= x >> 7;
  x ^= x << 17;
  *s = x;
  return x;
}

double lgw__backoff(int attempt, double base, double max, uint64_t *rng) {
  double d = base > 0 ? base : 0, unit;
  int i;
  for (i = 1; i < attempt && d < max; i++) d *= 2;
  if (d > max) d = max > 0 ? max : 0;
  /* 53 random bits -> [0, 1). */
  unit = (double)(next_rand(rng) >> 11) * (1.0 / 9007199254740992.0);
  return d / 2 + unit * (d / 2);
}
