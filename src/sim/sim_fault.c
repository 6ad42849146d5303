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

#include "sim.h"

/* ---- directives --------------------------------------------------------- */

void sim_directive_init(sim_directive_t *d) {
  memset(d, 0, sizeof *d);
  d->times = -1;
  d->should_retry = -1;
  d->slow_ms = 1000;
  d->size = 40L * 1024 * 1024;
  d->depth = 100000;
  d->after = 1;
  d->error_status = 529;
  d->schema_json = 1;
  sim_buf_init(&d->text);
}

void sim_directive_free(sim_directive_t *d) {
  size_t i;
  free(d->id);
  free(d->retry_after);
  free(d->retry_after_ms);
  free(d->reply);
  for (i = 0; i < d->ntools; i++) {
    free(d->tools[i]);
    free(d->tool_args[i]);
  }
  free(d->tools);
  free(d->tool_args);
  free(d->tool_step);
  sim_buf_free(&d->text);
  sim_directive_init(d);
}

static const char *const fault_names[] = {
    "none", "reset", "reset_body", "hang", "slow", "truncated",
    "invalid_json", "html", "empty", "bad_shape", "anthropic_error",
    "oversize", "bad_utf8", "deep", "sse", "sse_cut", "sse_stall",
    "sse_error", "json", "refusal"};

const char *sim_fault_name(sim_fault_t f) {
  return fault_names[f];
}

int sim_parse_long(const char *s, long lo, long hi, long *out) {
  char *end;
  long v;
  errno = 0;
  v = strtol(s, &end, 10);
  if (errno || end == s || *end != '\0' || v < lo || v > hi) return -1;
  *out = v;
  return 0;
}

static int set_str(char **slot, const char *v) {
  char *c = sim_strdup(v);
  if (!c) return SIM_ENOMEM;
  free(*slot);
  *slot = c;
  return 0;
}

/* Adds a tool= call (arguments from args= or the tool's schema). */
static int add_tool(sim_directive_t *d, const char *name) {
  char **tools = realloc(d->tools, (d->ntools + 1) * sizeof *tools);
  char **args;
  int *steps;
  if (!tools) return SIM_ENOMEM;
  d->tools = tools;
  if (!(args = realloc(d->tool_args, (d->ntools + 1) * sizeof *args)))
    return SIM_ENOMEM;
  d->tool_args = args;
  if (!(steps = realloc(d->tool_step, (d->ntools + 1) * sizeof *steps)))
    return SIM_ENOMEM;
  d->tool_step = steps;
  if (!(d->tools[d->ntools] = sim_strdup(name))) return SIM_ENOMEM;
  d->tool_step[d->ntools] = d->step;
  d->tool_args[d->ntools++] = NULL;
  return 0;
}

/* args=JSON: a JSON object (it may hold spaces) for the latest tool=;
 * *p is just after "args=" and moves past the object. */
static int set_args(sim_directive_t *d, const char **p) {
  const char *end = NULL;
  cJSON *j = cJSON_ParseWithOpts(*p, &end, 0);
  char *printed;
  int ok = cJSON_IsObject(j) && d->ntools > 0 &&
           (*end == '\0' || *end == ' ' || *end == '\t');
  printed = ok ? cJSON_PrintUnformatted(j) : NULL;
  cJSON_Delete(j);
  if (!ok) return SIM_EINVAL;
  if (!printed) return SIM_ENOMEM;
  free(d->tool_args[d->ntools - 1]);
  d->tool_args[d->ntools - 1] = sim_strdup(printed);
  cJSON_free(printed);
  if (!d->tool_args[d->ntools - 1]) return SIM_ENOMEM;
  *p = end;
  return 0;
}

/* Applies one key=value token; returns 0, SIM_ENOMEM or SIM_EINVAL. */
static int apply_token(sim_directive_t *d, const char *key,
                       const char *v) {
  long n;
  size_t i;
  if (strcmp(key, "status") == 0) {
    if (sim_parse_long(v, 200, 599, &n)) return SIM_EINVAL;
    d->status = (int)n;
  } else if (strcmp(key, "times") == 0) {
    if (sim_parse_long(v, 0, LONG_MAX, &d->times)) return SIM_EINVAL;
  } else if (strcmp(key, "id") == 0) {
    return *v ? set_str(&d->id, v) : SIM_EINVAL;
  } else if (strcmp(key, "retry_after") == 0) {
    return set_str(&d->retry_after, v);
  } else if (strcmp(key, "retry_after_ms") == 0) {
    return set_str(&d->retry_after_ms, v);
  } else if (strcmp(key, "retry_after_date") == 0) {
    if (sim_parse_long(v, -100000000L, 100000000L, &d->retry_after_date))
      return SIM_EINVAL;
    d->has_retry_after_date = 1;
  } else if (strcmp(key, "should_retry") == 0) {
    if (strcmp(v, "true") == 0)
      d->should_retry = 1;
    else if (strcmp(v, "false") == 0)
      d->should_retry = 0;
    else
      return SIM_EINVAL;
  } else if (strcmp(key, "delay_ms") == 0) {
    if (sim_parse_long(v, 0, 86400000L, &d->delay_ms)) return SIM_EINVAL;
  } else if (strcmp(key, "slow_ms") == 0) {
    if (sim_parse_long(v, 0, 86400000L, &d->slow_ms)) return SIM_EINVAL;
  } else if (strcmp(key, "size") == 0) {
    if (sim_parse_long(v, 0, 1L << 30, &d->size)) return SIM_EINVAL;
  } else if (strcmp(key, "depth") == 0) {
    if (sim_parse_long(v, 1, 100000000L, &d->depth)) return SIM_EINVAL;
  } else if (strcmp(key, "after") == 0) {
    if (sim_parse_long(v, 0, 1000000L, &d->after)) return SIM_EINVAL;
  } else if (strcmp(key, "error_status") == 0) {
    if (sim_parse_long(v, 400, 599, &n)) return SIM_EINVAL;
    d->error_status = (int)n;
  } else if (strcmp(key, "schema_json") == 0) {
    if (strcmp(v, "true") == 0)
      d->schema_json = 1;
    else if (strcmp(v, "false") == 0)
      d->schema_json = 0;
    else
      return SIM_EINVAL;
  } else if (strcmp(key, "tool") == 0) {
    return *v ? add_tool(d, v) : SIM_EINVAL;
  } else if (strcmp(key, "then") == 0) {
    if (!*v || d->step >= 1000) return SIM_EINVAL;
    if (d->ntools) d->step++;  /* before any tool=, the first step */
    return add_tool(d, v);
  } else if (strcmp(key, "repeat") == 0) {
    if (strcmp(v, "true") == 0)
      d->repeat = 1;
    else if (strcmp(v, "false") == 0)
      d->repeat = 0;
    else
      return SIM_EINVAL;
  } else if (strcmp(key, "fault") == 0) {
    for (i = 1; i < sizeof fault_names / sizeof *fault_names; i++)
      if (strcmp(v, fault_names[i]) == 0) break;
    if (i == sizeof fault_names / sizeof *fault_names) return SIM_EINVAL;
    d->fault = (sim_fault_t)i;
  } else {
    return SIM_EINVAL;
  }
  return 0;
}

int sim_directive_add(sim_directive_t *d, const char *line,
                           char *err, size_t errcap) {
  const char *p = line;
  if (d->text.len && sim_buf_addc(&d->text, '\n')) return SIM_ENOMEM;
  if (sim_buf_adds(&d->text, line)) return SIM_ENOMEM;
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
    if (strncmp(p, "args=", 5) == 0) {
      const char *v = p + 5;
      rc = set_args(d, &v);
      if (rc == SIM_EINVAL) {
        while (*p && *p != ' ' && *p != '\t') p++;
        snprintf(err, errcap,
                 "bad @sim token '%.*s': args= needs a JSON object after "
                 "a tool= token", (int)(p - start), start);
      }
      if (rc) return rc;
      p = v;
      continue;
    }
    while (*p && *p != ' ' && *p != '\t') p++;
    n = (size_t)(p - start);
    eq = memchr(start, '=', n);
    if (!eq || (size_t)(eq - start) >= sizeof key) {
      snprintf(err, errcap, "bad @sim token '%.*s': expected key=value",
               (int)n, start);
      return SIM_EINVAL;
    }
    memcpy(key, start, (size_t)(eq - start));
    key[eq - start] = '\0';
    value = sim_strndup(eq + 1, (size_t)(p - eq - 1));
    if (!value) return SIM_ENOMEM;
    rc = apply_token(d, key, value);
    free(value);
    if (rc == SIM_EINVAL)
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
  for (i = 0; i < g_ncounts; i++) free(g_counts[i].key);
  free(g_counts);
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
  grown = realloc(g_counts, (g_ncounts + 1) * sizeof *grown);
  if (!grown) return 1;
  g_counts = grown;
  if (!(g_counts[g_ncounts].key = sim_strdup(key))) return 1;
  g_counts[g_ncounts++].count = 1;
  return 1;
}

int sim_directive_take(const sim_directive_t *d) {
  char *key;
  long count = 1;
  if (d->times < 0) return 1;
  /* id and text keys live in separate namespaces. */
  key = d->id ? sim_sprintf("id:%s", d->id)
              : sim_sprintf("text:%s", d->text.data ? d->text.data : "");
  if (key) {
    pthread_mutex_lock(&g_lock);
    count = count_up(key);
    pthread_mutex_unlock(&g_lock);
    free(key);
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
    free(rules[i].match);
    for (k = 0; k < rules[i].nseq; k++) free(rules[i].seq[k]);
    free(rules[i].seq);
  }
  free(rules);
}

static char *read_file(const char *path, char *err, size_t errcap) {
  FILE *f = fopen(path, "rb");
  sim_buf_t b;
  char chunk[4096];
  size_t n;
  if (!f) {
    snprintf(err, errcap, "script %s: cannot open: %s", path, strerror(errno));
    return NULL;
  }
  sim_buf_init(&b);
  while ((n = fread(chunk, 1, sizeof chunk, f)) > 0) {
    if (sim_buf_add(&b, chunk, n)) {
      snprintf(err, errcap, "script %s: out of memory", path);
      sim_buf_free(&b);
      fclose(f);
      return NULL;
    }
  }
  fclose(f);
  return sim_buf_steal(&b);
}

/* Fills r from item (rules[i]); on a bad field writes err and returns
 * SIM_ECONFIG. */
static int rule_load(rule_t *r, const cJSON *item, const char *path, size_t i,
                     char *err, size_t errcap) {
  const cJSON *match = cJSON_GetObjectItemCaseSensitive(item, "match");
  const cJSON *seq = cJSON_GetObjectItemCaseSensitive(item, "sequence");
  const cJSON *s;
  char derr[160];
  if (!cJSON_IsString(match)) {
    snprintf(err, errcap, "script %s: rules[%zu].match must be a string",
             path, i);
    return SIM_ECONFIG;
  }
  if (!cJSON_IsArray(seq) || cJSON_GetArraySize(seq) == 0) {
    snprintf(err, errcap,
             "script %s: rules[%zu].sequence must be a non-empty array",
             path, i);
    return SIM_ECONFIG;
  }
  r->match = sim_strdup(match->valuestring);
  r->seq = calloc((size_t)cJSON_GetArraySize(seq), sizeof *r->seq);
  if (!r->match || !r->seq) goto nomem;
  cJSON_ArrayForEach(s, seq) {
    sim_directive_t d;
    int rc;
    if (!cJSON_IsString(s)) {
      snprintf(err, errcap,
               "script %s: rules[%zu].sequence[%zu] must be a string", path,
               i, r->nseq);
      return SIM_ECONFIG;
    }
    sim_directive_init(&d);
    rc = sim_directive_add(&d, s->valuestring, derr, sizeof derr);
    sim_directive_free(&d);
    if (rc == SIM_EINVAL) {
      snprintf(err, errcap, "script %s: rules[%zu].sequence[%zu]: %s", path,
               i, r->nseq, derr);
      return SIM_ECONFIG;
    }
    if (rc) goto nomem;
    if (!(r->seq[r->nseq] = sim_strdup(s->valuestring))) goto nomem;
    r->nseq++;
  }
  return 0;
nomem:
  snprintf(err, errcap, "script %s: out of memory", path);
  return SIM_ENOMEM;
}

int sim_script_load(const char *path, char *err, size_t errcap) {
  char *text = read_file(path, err, errcap);
  cJSON *root, *rules, *item;
  rule_t *loaded;
  size_t n = 0;
  int rc = 0;
  if (!text) return SIM_EIO;
  root = cJSON_Parse(text);
  free(text);
  rules = cJSON_GetObjectItemCaseSensitive(root, "rules");
  if (!cJSON_IsArray(rules)) {
    snprintf(err, errcap, "script %s: %s", path,
             root ? "expected an object with a \"rules\" array"
                  : "not valid JSON");
    cJSON_Delete(root);
    return SIM_ECONFIG;
  }
  loaded = calloc((size_t)cJSON_GetArraySize(rules) + 1, sizeof *loaded);
  if (!loaded) {
    cJSON_Delete(root);
    snprintf(err, errcap, "script %s: out of memory", path);
    return SIM_ENOMEM;
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

const char *sim_script_next(const char *text) {
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

void sim_fault_reset(void) {
  size_t i;
  pthread_mutex_lock(&g_lock);
  counts_free();
  for (i = 0; i < g_nrules; i++) g_rules[i].hits = 0;
  pthread_mutex_unlock(&g_lock);
}

void sim_fault_free(void) {
  pthread_mutex_lock(&g_lock);
  counts_free();
  rules_free(g_rules, g_nrules);
  g_rules = NULL;
  g_nrules = 0;
  pthread_mutex_unlock(&g_lock);
}
