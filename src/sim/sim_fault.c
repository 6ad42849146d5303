/*
 * sim_fault.c -- the simulator's fault scripting: parses "@sim" directive
 * lines into a directive, keeps the per-directive `times` counters, and
 * loads and steps through --script rule sequences.
 */
#include <errno.h>
#include <limits.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sim/sim.h"

/* ---- directives --------------------------------------------------------- */

void lgw__sim_directive_init(lgw__sim_directive_t *d) {
  memset(d, 0, sizeof *d);
  d->times = -1;
  d->should_retry = -1;
  d->slow_ms = 1000;
  d->size = 40L * 1024 * 1024;
  d->depth = 100000;
  d->after = 1;
  d->error_status = 529;
  lgw__buf_init(&d->text);
}

void lgw__sim_directive_free(lgw__sim_directive_t *d) {
  lgw_free(d->id);
  lgw_free(d->retry_after);
  lgw_free(d->retry_after_ms);
  lgw_free(d->reply);
  lgw__buf_free(&d->text);
  lgw__sim_directive_init(d);
}

static const char *const fault_names[] = {
    "none", "reset", "reset_body", "hang", "slow", "truncated",
    "invalid_json", "html", "empty", "bad_shape", "anthropic_error",
    "oversize", "bad_utf8", "deep", "sse", "sse_cut", "sse_stall",
    "sse_error", "json", "refusal"};

const char *lgw__sim_fault_name(lgw__sim_fault_t f) {
  return fault_names[f];
}

int lgw__sim_parse_long(const char *s, long lo, long hi, long *out) {
  char *end;
  long v;
  errno = 0;
  v = strtol(s, &end, 10);
  if (errno || end == s || *end != '\0' || v < lo || v > hi) return -1;
  *out = v;
  return 0;
}

static int set_str(char **slot, const char *v) {
  char *c = lgw__strdup(v);
  if (!c) return LGW_ENOMEM;
  lgw_free(*slot);
  *slot = c;
  return 0;
}

/* Applies one key=value token; returns 0, LGW_ENOMEM or LGW_EINVAL. */
static int apply_token(lgw__sim_directive_t *d, const char *key,
                       const char *v) {
  long n;
  size_t i;
  if (strcmp(key, "status") == 0) {
    if (lgw__sim_parse_long(v, 200, 599, &n)) return LGW_EINVAL;
    d->status = (int)n;
  } else if (strcmp(key, "times") == 0) {
    if (lgw__sim_parse_long(v, 0, LONG_MAX, &d->times)) return LGW_EINVAL;
  } else if (strcmp(key, "id") == 0) {
    return *v ? set_str(&d->id, v) : LGW_EINVAL;
  } else if (strcmp(key, "retry_after") == 0) {
    return set_str(&d->retry_after, v);
  } else if (strcmp(key, "retry_after_ms") == 0) {
    return set_str(&d->retry_after_ms, v);
  } else if (strcmp(key, "retry_after_date") == 0) {
    if (lgw__sim_parse_long(v, -100000000L, 100000000L, &d->retry_after_date))
      return LGW_EINVAL;
    d->has_retry_after_date = 1;
  } else if (strcmp(key, "should_retry") == 0) {
    if (strcmp(v, "true") == 0)
      d->should_retry = 1;
    else if (strcmp(v, "false") == 0)
      d->should_retry = 0;
    else
      return LGW_EINVAL;
  } else if (strcmp(key, "delay_ms") == 0) {
    if (lgw__sim_parse_long(v, 0, 86400000L, &d->delay_ms)) return LGW_EINVAL;
  } else if (strcmp(key, "slow_ms") == 0) {
    if (lgw__sim_parse_long(v, 0, 86400000L, &d->slow_ms)) return LGW_EINVAL;
  } else if (strcmp(key, "size") == 0) {
    if (lgw__sim_parse_long(v, 0, 1L << 30, &d->size)) return LGW_EINVAL;
  } else if (strcmp(key, "depth") == 0) {
    if (lgw__sim_parse_long(v, 1, 100000000L, &d->depth)) return LGW_EINVAL;
  } else if (strcmp(key, "after") == 0) {
    if (lgw__sim_parse_long(v, 0, 1000000L, &d->after)) return LGW_EINVAL;
  } else if (strcmp(key, "error_status") == 0) {
    if (lgw__sim_parse_long(v, 400, 599, &n)) return LGW_EINVAL;
    d->error_status = (int)n;
  } else if (strcmp(key, "fault") == 0) {
    for (i = 1; i < sizeof fault_names / sizeof *fault_names; i++)
      if (strcmp(v, fault_names[i]) == 0) break;
    if (i == sizeof fault_names / sizeof *fault_names) return LGW_EINVAL;
    d->fault = (lgw__sim_fault_t)i;
  } else {
    return LGW_EINVAL;
  }
  return 0;
}

int lgw__sim_directive_add(lgw__sim_directive_t *d, const char *line,
                           char *err, size_t errcap) {
  const char *p = line;
  if (d->text.len && lgw__buf_addc(&d->text, '\n')) return LGW_ENOMEM;
  if (lgw__buf_adds(&d->text, line)) return LGW_ENOMEM;
  for (;;) {
    const char *start, *eq;
    char key[64], *value;
    size_t n;
    int rc;
    while (*p == ' ' || *p == '\t') p++;
    if (*p == '\0') return 0;
    d->present = 1;
    if (strncmp(p, "reply=", 6) == 0) return set_str(&d->reply, p + 6);
    start = p;
    while (*p && *p != ' ' && *p != '\t') p++;
    n = (size_t)(p - start);
    eq = memchr(start, '=', n);
    if (!eq || (size_t)(eq - start) >= sizeof key) {
      snprintf(err, errcap, "bad @sim token '%.*s': expected key=value",
               (int)n, start);
      return LGW_EINVAL;
    }
    memcpy(key, start, (size_t)(eq - start));
    key[eq - start] = '\0';
    value = lgw__strndup(eq + 1, (size_t)(p - eq - 1));
    if (!value) return LGW_ENOMEM;
    rc = apply_token(d, key, value);
    lgw_free(value);
    if (rc == LGW_EINVAL)
      snprintf(err, errcap, "bad @sim token '%.*s': unknown key or bad value",
               (int)n, start);
    if (rc) return rc;
  }
}

/* ---- times counters ----------------------------------------------------- */

typedef struct counter {
  char *key;   /* "id:NAME" or "text:DIRECTIVE TEXT" */
  long count;
} counter_t;

static pthread_mutex_t g_lock = PTHREAD_MUTEX_INITIALIZER;
static counter_t *g_counts;
static size_t g_ncounts;

static void counts_free(void) {
  size_t i;
  for (i = 0; i < g_ncounts; i++) lgw_free(g_counts[i].key);
  lgw_free(g_counts);
  g_counts = NULL;
  g_ncounts = 0;
}

/* Increments and returns key's count; a key that cannot be stored (out
 * of memory) counts as seen once. Caller holds g_lock. */
static long count_up(const char *key) {
  counter_t *grown;
  size_t i;
  for (i = 0; i < g_ncounts; i++)
    if (strcmp(g_counts[i].key, key) == 0) return ++g_counts[i].count;
  grown = lgw_realloc(g_counts, (g_ncounts + 1) * sizeof *grown);
  if (!grown) return 1;
  g_counts = grown;
  if (!(g_counts[g_ncounts].key = lgw__strdup(key))) return 1;
  g_counts[g_ncounts++].count = 1;
  return 1;
}

int lgw__sim_directive_take(const lgw__sim_directive_t *d) {
  char *key;
  long count = 1;
  if (d->times < 0) return 1;
  /* id and text keys live in separate namespaces. */
  key = d->id ? lgw__sprintf("id:%s", d->id)
              : lgw__sprintf("text:%s", d->text.data ? d->text.data : "");
  if (key) {
    pthread_mutex_lock(&g_lock);
    count = count_up(key);
    pthread_mutex_unlock(&g_lock);
    lgw_free(key);
  }
  return count <= d->times;
}

/* ---- script ------------------------------------------------------------- */

typedef struct rule {
  char *match;     /* "*" matches everything */
  char **seq;      /* directive lines */
  size_t nseq;
  size_t hits;     /* matching requests so far */
} rule_t;

static rule_t *g_rules;
static size_t g_nrules;

static void rules_free(rule_t *rules, size_t n) {
  size_t i, k;
  for (i = 0; i < n; i++) {
    lgw_free(rules[i].match);
    for (k = 0; k < rules[i].nseq; k++) lgw_free(rules[i].seq[k]);
    lgw_free(rules[i].seq);
  }
  lgw_free(rules);
}

static char *read_file(const char *path, char *err, size_t errcap) {
  FILE *f = fopen(path, "rb");
  lgw__buf_t b;
  char chunk[4096];
  size_t n;
  if (!f) {
    snprintf(err, errcap, "script %s: cannot open: %s", path, strerror(errno));
    return NULL;
  }
  lgw__buf_init(&b);
  while ((n = fread(chunk, 1, sizeof chunk, f)) > 0) {
    if (lgw__buf_add(&b, chunk, n)) {
      snprintf(err, errcap, "script %s: out of memory", path);
      lgw__buf_free(&b);
      fclose(f);
      return NULL;
    }
  }
  fclose(f);
  return lgw__buf_steal(&b);
}

/* Fills r from item (rules[i]); on a bad field writes err and returns
 * LGW_ECONFIG. */
static int rule_load(rule_t *r, const cJSON *item, const char *path, size_t i,
                     char *err, size_t errcap) {
  const cJSON *match = cJSON_GetObjectItemCaseSensitive(item, "match");
  const cJSON *seq = cJSON_GetObjectItemCaseSensitive(item, "sequence");
  const cJSON *s;
  char derr[160];
  if (!cJSON_IsString(match)) {
    snprintf(err, errcap, "script %s: rules[%zu].match must be a string",
             path, i);
    return LGW_ECONFIG;
  }
  if (!cJSON_IsArray(seq) || cJSON_GetArraySize(seq) == 0) {
    snprintf(err, errcap,
             "script %s: rules[%zu].sequence must be a non-empty array",
             path, i);
    return LGW_ECONFIG;
  }
  r->match = lgw__strdup(match->valuestring);
  r->seq = lgw__calloc((size_t)cJSON_GetArraySize(seq), sizeof *r->seq);
  if (!r->match || !r->seq) goto nomem;
  cJSON_ArrayForEach(s, seq) {
    lgw__sim_directive_t d;
    int rc;
    if (!cJSON_IsString(s)) {
      snprintf(err, errcap,
               "script %s: rules[%zu].sequence[%zu] must be a string", path,
               i, r->nseq);
      return LGW_ECONFIG;
    }
    lgw__sim_directive_init(&d);
    rc = lgw__sim_directive_add(&d, s->valuestring, derr, sizeof derr);
    lgw__sim_directive_free(&d);
    if (rc == LGW_EINVAL) {
      snprintf(err, errcap, "script %s: rules[%zu].sequence[%zu]: %s", path,
               i, r->nseq, derr);
      return LGW_ECONFIG;
    }
    if (rc) goto nomem;
    if (!(r->seq[r->nseq] = lgw__strdup(s->valuestring))) goto nomem;
    r->nseq++;
  }
  return 0;
nomem:
  snprintf(err, errcap, "script %s: out of memory", path);
  return LGW_ENOMEM;
}

int lgw__sim_script_load(const char *path, char *err, size_t errcap) {
  char *text = read_file(path, err, errcap);
  cJSON *root, *rules, *item;
  rule_t *loaded;
  size_t n = 0;
  int rc = 0;
  if (!text) return LGW_EIO;
  root = cJSON_Parse(text);
  lgw_free(text);
  rules = cJSON_GetObjectItemCaseSensitive(root, "rules");
  if (!cJSON_IsArray(rules)) {
    snprintf(err, errcap, "script %s: %s", path,
             root ? "expected an object with a \"rules\" array"
                  : "not valid JSON");
    cJSON_Delete(root);
    return LGW_ECONFIG;
  }
  loaded = lgw__calloc((size_t)cJSON_GetArraySize(rules) + 1, sizeof *loaded);
  if (!loaded) {
    cJSON_Delete(root);
    snprintf(err, errcap, "script %s: out of memory", path);
    return LGW_ENOMEM;
  }
  cJSON_ArrayForEach(item, rules) {
    rc = rule_load(&loaded[n], item, path, n, err, errcap);
    n++;
    if (rc) break;
  }
  cJSON_Delete(root);
  if (rc) {
    rules_free(loaded, n);
    return rc;
  }
  pthread_mutex_lock(&g_lock);
  rules_free(g_rules, g_nrules);
  g_rules = loaded;
  g_nrules = n;
  pthread_mutex_unlock(&g_lock);
  return 0;
}

const char *lgw__sim_script_next(const char *text) {
  const char *line = NULL;
  size_t i;
  pthread_mutex_lock(&g_lock);
  for (i = 0; i < g_nrules; i++) {
    rule_t *r = &g_rules[i];
    if (strcmp(r->match, "*") == 0 || strstr(text, r->match)) {
      line = r->seq[r->hits < r->nseq ? r->hits : r->nseq - 1];
      r->hits++;
      break;
    }
  }
  pthread_mutex_unlock(&g_lock);
  return line;
}

void lgw__sim_fault_reset(void) {
  size_t i;
  pthread_mutex_lock(&g_lock);
  counts_free();
  for (i = 0; i < g_nrules; i++) g_rules[i].hits = 0;
  pthread_mutex_unlock(&g_lock);
}

void lgw__sim_fault_free(void) {
  pthread_mutex_lock(&g_lock);
  counts_free();
  rules_free(g_rules, g_nrules);
  g_rules = NULL;
  g_nrules = 0;
  pthread_mutex_unlock(&g_lock);
}
