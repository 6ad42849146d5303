/*
 * test_core_oom.c -- the core data functions when memory runs out at each
 * allocation in turn (n = 0, 1, 2, ... until the call succeeds): the
 * provider state file (load, merge, write: a failed save leaves the file
 * byte for byte as it was, with nothing kept aside and no temp file
 * left), the public JSON functions (parse, extract from prose, encode,
 * quote), environment references, model routing and URL redaction. Each
 * failure is LGW_ENOMEM with "out of memory" (or the documented NULL),
 * leaves nothing allocated, and the first call that succeeds gives what
 * an unlimited one gives. Every allocation is swept, under valgrind too
 * (a few seconds).
 */
#define _POSIX_C_SOURCE 200809L
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "config.h"
#include "env.h"
#include "llmgateway.h"
#include "provider_state.h"
#include "route.h"
#include "test.h"
#include "url.h"
#include "util.h"

static long budget = -1;  /* allocations left before failing; -1: no limit */
static long live;         /* blocks allocated and not freed */
static long total;        /* allocations asked for */

static int spend(void) {
  total++;
  if (budget == 0) return 0;
  if (budget > 0) budget--;
  return 1;
}
static void *t_malloc(size_t n) {
  void *p = spend() ? malloc(n) : NULL;
  if (p) live++;
  return p;
}
static void *t_realloc(void *p, size_t n) {
  void *q = spend() ? realloc(p, n) : NULL;
  if (q && !p) live++;
  return q;
}
static void t_free(void *p) {
  if (p) live--;
  free(p);
}

static void quiet(lgw_log_level_t level, const char *msg, void *ud) {
  (void)level;
  (void)msg;
  (void)ud;
}

/* ---- the sweep ---------------------------------------------------------- */

#define OUT_CAP 8192

typedef int (*step_fn)(const void *ud, char *out, size_t cap,
                       lgw_error_t *err);
/* Checked after each failed step (the state file unchanged): "" or why. */
typedef const char *(*after_fn)(const void *ud);

static long swept_allocs, swept_steps;
static int last_rc;
static char last_out[OUT_CAP];

static const char *sweep(step_fn step, after_fn after, const void *ud) {
  static char why[1024];
  static char full[OUT_CAP], got[OUT_CAP];
  lgw_error_t err;
  long k, need;
  int want, rc;
  why[0] = '\0';
  memset(&err, 0, sizeof err);
  live = total = 0;
  budget = -1;
  want = step(ud, full, sizeof full, &err);
  need = total;
  last_rc = want;
  memcpy(last_out, full, sizeof full);
  if (getenv("TEST_VERBOSE"))
    fprintf(stderr, "  %ld allocations: %.300s\n", need, full);
  if (want == LGW_ENOMEM)
    snprintf(why, sizeof why, "unlimited run: %.500s", err.message);
  else if (live)
    snprintf(why, sizeof why, "unlimited run leaves %ld blocks", live);
  else if (need == 0)
    snprintf(why, sizeof why, "the step allocates nothing");
  if (why[0]) return why;
  swept_allocs += need;
  swept_steps++;
  for (k = 0; k <= need; k++) {
    memset(&err, 0, sizeof err);
    live = 0;
    budget = k;
    rc = step(ud, got, sizeof got, &err);
    budget = -1;
    if (live) {
      snprintf(why, sizeof why, "allocation %ld: %ld blocks left", k, live);
      return why;
    }
    if (rc == LGW_ENOMEM) {
      const char *bad = after ? after(ud) : "";
      if (!strstr(err.message, "out of memory")) {
        snprintf(why, sizeof why, "allocation %ld: message \"%.500s\"", k,
                 err.message);
        return why;
      }
      if (bad[0]) {
        snprintf(why, sizeof why, "allocation %ld: %.900s", k, bad);
        return why;
      }
      continue;
    }
    if (rc != want || strcmp(got, full) != 0) {
      snprintf(why, sizeof why,
               "allocation %ld of %ld: rc %d (want %d):\n    got:  %.400s\n"
               "    want: %.400s", k, need, rc, want, got, full);
      return why;
    }
    if (k < need) {
      snprintf(why, sizeof why, "allocation %ld of %ld failed unnoticed", k,
               need);
      return why;
    }
  }
  return "";
}

#define SWEEP(step, after, ud, what)                               \
  do {                                                             \
    const char *why_ = sweep(step, after, ud);                     \
    if (why_[0]) TEST__FAIL("%s: %s", what, why_);                 \
  } while (0)

/* ---- the provider state file -------------------------------------------- */

static char dir[64], path[128];

static const char base_file[] =
    "{\n  \"preferred_by_config\": {\n"
    "    \"cfg-a\": \"prov-1\",\n"
    "    \"cfg-b\": 7,\n"
    "    \"cfg-c\": true,\n"
    "    \"cfg-d\": null,\n"
    "    \"cfg-e\": 2.5,\n"
    "    \"cfg-f\": \"caf\\u00e9\",\n"
    "    \"cfg-g\": [1],\n"
    "    \"cfg-h\": \"  \"\n"
    "  },\n  \"other\": {\"x\": [1, 2, {\"y\": \"z\"}]}\n}\n";

static void put_file(const char *p, const char *text) {
  FILE *f = fopen(p, "wb");
  if (!f) return;
  fputs(text, f);
  fclose(f);
}

static char *read_file(const char *p) {
  static char buf[OUT_CAP];
  FILE *f = fopen(p, "rb");
  size_t n;
  if (!f) return NULL;
  n = fread(buf, 1, sizeof buf - 1, f);
  buf[n] = '\0';
  fclose(f);
  return buf;
}

/* The names in dir other than the state file and its lock, "" when none. */
static const char *strays(void) {
  static char names[1024];
  DIR *d = opendir(dir);
  struct dirent *e;
  size_t k = 0;
  names[0] = '\0';
  if (!d) return "no directory";
  while ((e = readdir(d)) != NULL) {
    if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0 ||
        strcmp(e->d_name, "state.json") == 0 ||
        strcmp(e->d_name, "state.json.lock") == 0)
      continue;
    k += (size_t)snprintf(names + k, sizeof names - k, " %s", e->d_name);
  }
  closedir(d);
  return names;
}

/* The one file strays() names, read; NULL when there is not one. */
static char *stray_text(void) {
  static char p[256];
  const char *s = strays();
  if (!s[0] || strchr(s + 1, ' ')) return NULL;
  snprintf(p, sizeof p, "%s/%s", dir, s + 1);
  return read_file(p);
}

static void clear_strays(void) {
  char p[256], names[1024], *n, *save = NULL;
  snprintf(names, sizeof names, "%s", strays());
  for (n = strtok_r(names, " ", &save); n; n = strtok_r(NULL, " ", &save)) {
    snprintf(p, sizeof p, "%s/%s", dir, n);
    unlink(p);
  }
}

static void kv_line(const lgw__kvlist_t *l, char *out, size_t cap) {
  size_t i, k = 0;
  out[0] = '\0';
  for (i = 0; i < l->n && k < cap; i++)
    k += (size_t)snprintf(out + k, cap - k, "%s=%s;", l->items[i].key,
                          l->items[i].value);
}

static size_t show(const lgw_value_t *v, char *out, size_t cap);

static int step_load(const void *ud, char *out, size_t cap,
                     lgw_error_t *err) {
  lgw__kvlist_t l = {NULL, 0};
  int rc = lgw__state_load(path, &l, err);
  (void)ud;
  kv_line(&l, out, cap);
  lgw__kvlist_free(&l);
  return rc;
}

/* The public functions on the same file. */
static int step_public_load(const void *ud, char *out, size_t cap,
                            lgw_error_t *err) {
  lgw_value_t *v = NULL;
  int rc = lgw_provider_state_load(path, &v, err);
  (void)ud;
  if (!rc) show(v, out, cap);
  lgw_value_free(v);
  return rc;
}

/* What the file held before the save being swept. */
static char before[OUT_CAP];

static const char *file_unchanged(const void *ud) {
  static char why[OUT_CAP];
  const char *now = read_file(path), *s = strays();
  (void)ud;
  if (!now || strcmp(now, before) != 0) {
    snprintf(why, sizeof why, "the state file changed:\n%.4000s",
             now ? now : "(none)");
    return why;
  }
  if (s[0]) {
    snprintf(why, sizeof why, "left in the directory:%s", s);
    return why;
  }
  return "";
}

typedef struct save_case {
  int merge;
  const lgw__kvlist_t *entries;
} save_case_t;

/* A save from the file as it was before (a successful one changes it). */
static int step_save(const void *ud, char *out, size_t cap,
                     lgw_error_t *err) {
  const save_case_t *sc = ud;
  const char *now;
  int rc;
  put_file(path, before);
  rc = sc->merge ? lgw__state_merge(path, sc->entries, err)
                 : lgw__state_write(path, sc->entries, err);
  now = read_file(path);
  snprintf(out, cap, "%s", rc ? err->message : now ? now : "(none)");
  return rc;
}

static const char bad_file[] = "{\"preferred_by_config\": [1, 2]}\n";

/* A merge into a file that is not a state file: kept aside, then the new
 * file written. */
static int step_save_bad(const void *ud, char *out, size_t cap,
                         lgw_error_t *err) {
  const char *now, *aside;
  size_t k;
  int rc;
  clear_strays();
  put_file(path, bad_file);
  rc = lgw__state_merge(path, ud, err);
  now = read_file(path);
  k = (size_t)snprintf(out, cap, "%s", rc ? err->message
                                          : now ? now : "(none)");
  aside = stray_text();
  snprintf(out + k, cap - k, "aside: %s", aside ? aside : "(none)");
  return rc;
}

/* After a failed save: the file where it was, or (the failure came after
 * it was kept aside) kept aside whole with nothing in its place. */
static const char *bad_unchanged(const void *ud) {
  const char *now = read_file(path), *aside;
  (void)ud;
  if (now && strcmp(now, bad_file) == 0 && !strays()[0]) return "";
  aside = stray_text();
  if (!now && aside && strcmp(aside, bad_file) == 0) return "";
  return now ? now : "neither kept aside whole nor left in place";
}

static int step_public_merge(const void *ud, char *out, size_t cap,
                             lgw_error_t *err) {
  char *written = NULL;
  const char *now;
  int rc;
  put_file(path, before);
  rc = lgw_provider_state_write(ud, 1, path, &written, err);
  now = read_file(path);
  snprintf(out, cap, "%s %s", written ? written : "-",
           rc ? err->message : now ? now : "(none)");
  lgw_free(written);
  return rc;
}

/* A save into a directory not made yet (dir/sub): made with the lock. */
static char sub[96], sub_path[160];

static void remove_sub(void) {
  char p[192];
  snprintf(p, sizeof p, "%s.lock", sub_path);
  unlink(p);
  unlink(sub_path);
  rmdir(sub);
}

static int step_save_new_dir(const void *ud, char *out, size_t cap,
                             lgw_error_t *err) {
  const char *now;
  int rc;
  remove_sub();
  rc = lgw__state_merge(sub_path, ud, err);
  now = read_file(sub_path);
  snprintf(out, cap, "%s", rc ? err->message : now ? now : "(none)");
  return rc;
}

static const char *no_new_file(const void *ud) {
  (void)ud;
  return read_file(sub_path) ? "a state file was written" : "";
}

TEST(state_file) {
  static lgw__kv_t kv[4] = {{(char *)"cfg-b", (char *)"prov-2"},
                            {(char *)"cfg-z", (char *)"prov-\xc3\xa9"},
                            {(char *)" ", (char *)"x"},
                            {(char *)"cfg-a", (char *)"prov-3"}};
  lgw__kvlist_t entries;
  save_case_t sc;
  int merge;
  snprintf(dir, sizeof dir, "/tmp/lgw-core-oom-XXXXXX");
  ASSERT(mkdtemp(dir) != NULL);
  snprintf(path, sizeof path, "%s/state.json", dir);
  put_file(path, base_file);
  SWEEP(step_load, NULL, NULL, "load");
  ASSERT_STREQ(last_out, "cfg-a=prov-1;cfg-b=7;cfg-c=True;cfg-d=None;"
               "cfg-e=2.5;cfg-f=caf\xc3\xa9;");
  entries.items = kv;
  entries.n = 4;
  sc.entries = &entries;
  for (merge = 1; merge >= 0; merge--) {
    sc.merge = merge;
    snprintf(before, sizeof before, "%s", base_file);
    SWEEP(step_save, file_unchanged, &sc, merge ? "merge" : "write");
    ASSERT_EQ(last_rc, 0);
    ASSERT_STREQ(strays(), "");
  }
  ASSERT_STREQ(read_file(path),
               "{\n  \"preferred_by_config\": {\n"
               "    \"cfg-a\": \"prov-3\",\n"
               "    \"cfg-b\": \"prov-2\",\n"
               "    \"cfg-z\": \"prov-\\u00e9\"\n  }\n}\n");
  /* a merge into the file a write left */
  snprintf(before, sizeof before, "%s", read_file(path));
  kv[0].value = (char *)"prov-9";
  entries.n = 1;
  sc.merge = 1;
  SWEEP(step_save, file_unchanged, &sc, "second merge");
  ASSERT_EQ(last_rc, 0);
  SWEEP(step_public_load, NULL, NULL, "lgw_provider_state_load");
  ASSERT_STREQ(last_out,
               "{cfg-a:'prov-3',cfg-b:'prov-9',cfg-z:'prov-\xc3\xa9',}");
  {
    lgw_value_t *v = lgw_value_object();
    ASSERT(v != NULL);
    ASSERT_EQ(lgw_value_set(v, "cfg-n", 5, lgw_value_int(12)), 0);
    ASSERT_EQ(lgw_value_set(v, "cfg-a", 5, lgw_value_string("p", 1)), 0);
    snprintf(before, sizeof before, "%s", read_file(path));
    SWEEP(step_public_merge, file_unchanged, v, "lgw_provider_state_write");
    lgw_value_free(v);
    ASSERT_EQ(last_rc, 0);
    ASSERT_CONTAINS(last_out, "\"cfg-a\": \"p\",\n    \"cfg-b\": \"prov-9\","
                    "\n    \"cfg-n\": \"12\",");
  }
  snprintf(sub, sizeof sub, "%s/sub", dir);
  snprintf(sub_path, sizeof sub_path, "%s/state.json", sub);
  SWEEP(step_save_new_dir, no_new_file, &entries, "merge into a new dir");
  remove_sub();
  ASSERT_EQ(last_rc, 0);
  SWEEP(step_save_bad, bad_unchanged, &entries, "merge into a bad file");
  ASSERT_EQ(last_rc, 0);
  ASSERT_STREQ(last_out, "{\n  \"preferred_by_config\": {\n"
               "    \"cfg-b\": \"prov-9\"\n  }\n}\n"
               "aside: {\"preferred_by_config\": [1, 2]}\n");
  clear_strays();
  unlink(path);
  snprintf(path, sizeof path, "%s/state.json.lock", dir);
  unlink(path);
  rmdir(dir);
}

/* ---- the public JSON functions ------------------------------------------ */

/* A value as JSON-like text, without allocating. */
static size_t show(const lgw_value_t *v, char *out, size_t cap) {
  size_t i, k = 0, n = lgw_value_count(v), len;
  const char *s;
  if (cap < 2) return 0;
  out[0] = '\0';
  switch (lgw_value_type(v)) {
    case LGW_VALUE_NULL: return (size_t)snprintf(out, cap, "null");
    case LGW_VALUE_BOOL:
      return (size_t)snprintf(out, cap, lgw_value_get_bool(v) ? "T" : "F");
    case LGW_VALUE_INT:
      return (size_t)snprintf(out, cap, "%lld", lgw_value_get_int(v));
    case LGW_VALUE_NUMBER:
      return (size_t)snprintf(out, cap, "%.17g", lgw_value_get_number(v));
    case LGW_VALUE_STRING:
      s = lgw_value_get_string(v, &len);
      k += (size_t)snprintf(out, cap, "'");
      for (i = 0; i < len && k < cap - 8; i++)
        k += (size_t)snprintf(out + k, cap - k, s[i] ? "%c" : "\\0", s[i]);
      return k + (size_t)snprintf(out + k, cap - k, "'");
    case LGW_VALUE_ARRAY:
    case LGW_VALUE_OBJECT:
      k += (size_t)snprintf(out, cap, "%c",
                            lgw_value_type(v) == LGW_VALUE_ARRAY ? '[' : '{');
      for (i = 0; i < n && k < cap - 8; i++) {
        if (lgw_value_type(v) == LGW_VALUE_OBJECT)
          k += (size_t)snprintf(out + k, cap - k, "%s:",
                                lgw_value_key_at(v, i, &len));
        k += show(lgw_value_at(v, i), out + k, cap - k);
        k += (size_t)snprintf(out + k, cap - k, ",");
      }
      return k + (size_t)snprintf(out + k, cap - k, "%c",
                                  lgw_value_type(v) == LGW_VALUE_ARRAY ? ']'
                                                                       : '}');
  }
  return 0;
}

static const char doc[] =
    " {\"a\": [1, -2.5, 1e400, true, false, null, \"x\\u0000y\"],"
    " \"b\": {\"c\": \"caf\\u00e9 \\ud83d\\ude00\", \"c\": \"last\"},"
    " \"n\": NaN, \"e\": {}, \"f\": []} ";

static const char prose[] =
    "Sure! The plan is [not json] and then:\n"
    "```python\nprint(1)\n```\n"
    "```json\n{\"verdict\": \"ok\", \"score\": [1, 2, {\"w\": null}]}\n```\n"
    "and also {\"late\": 1}.";

static const char prose_embedded[] =
    "Here you go: {\"a\": {\"b\": [true, \"}\"]}} -- and {\"c\": 2}";

typedef struct text_case {
  const char *text;
  int extract;
} text_case_t;

static int step_parse(const void *ud, char *out, size_t cap,
                      lgw_error_t *err) {
  const text_case_t *tc = ud;
  lgw_value_t *v = NULL;
  int rc = tc->extract
               ? lgw_json_extract(tc->text, strlen(tc->text), &v, err)
               : lgw_json_parse(tc->text, strlen(tc->text), &v, err);
  if (rc) snprintf(out, cap, "ERR %d %s", rc, err->message);
  else show(v, out, cap);
  lgw_value_free(v);
  return rc;
}

static int step_encode(const void *ud, char *out, size_t cap,
                       lgw_error_t *err) {
  char *s = NULL;
  size_t len = 0;
  int rc = lgw_json_encode(ud, &s, &len, err);
  snprintf(out, cap, "%zu %s", len, rc ? err->message : s);
  lgw_free(s);
  return rc;
}

static int step_quote(const void *ud, char *out, size_t cap,
                      lgw_error_t *err) {
  size_t len = 0;
  char *s = lgw_json_quote(ud, strlen(ud), &len);
  if (!s) return lgw__error_set(err, LGW_ENOMEM, "out of memory (quote)");
  snprintf(out, cap, "%zu %s", len, s);
  lgw_free(s);
  return 0;
}

TEST(json_functions) {
  text_case_t tc[4] = {{doc, 0}, {doc, 1}, {prose, 1}, {prose_embedded, 1}};
  lgw_value_t *v = NULL;
  lgw_error_t err;
  size_t i;
  for (i = 0; i < 4; i++) {
    SWEEP(step_parse, NULL, &tc[i], tc[i].text);
    ASSERT_EQ(last_rc, 0);
  }
  ASSERT_STREQ(last_out, "{a:{b:[T,'}',],},}");
  /* the fenced block, not the prose before or the object after it */
  SWEEP(step_parse, NULL, &tc[2], "prose");
  ASSERT_STREQ(last_out, "{verdict:'ok',score:[1,2,{w:null,},],}");
  {
    static const char small[] = "{\"k\": [1, 2.5, \"a\\u0000\\n\", {}]}";
    ASSERT_EQ(lgw_json_parse(small, strlen(small), &v, &err), 0);
  }
  SWEEP(step_encode, NULL, v, "encode");
  ASSERT_STREQ(last_out, "28 {\"k\":[1,2.5,\"a\\u0000\\n\",{}]}");
  lgw_value_free(v);
  SWEEP(step_quote, NULL, "caf\xc3\xa9 \"q\"\n\x01", "quote");
  ASSERT_STREQ(last_out, "21 \"caf\xc3\xa9 \\\"q\\\"\\n\\u0001\"");
}

/* ---- env, route, URLs --------------------------------------------------- */

static const char *fake_env(const char *name, void *ud) {
  (void)ud;
  return strcmp(name, "B") == 0 ? "from-b" : NULL;
}

static int step_env(const void *ud, char *out, size_t cap,
                    lgw_error_t *err) {
  char *s = lgw__env_resolve(ud, fake_env, NULL);
  if (!s) return lgw__error_set(err, LGW_ENOMEM, "out of memory (env)");
  snprintf(out, cap, "%s", s);
  lgw_free(s);
  return 0;
}

static int step_normalize(const void *ud, char *out, size_t cap,
                          lgw_error_t *err) {
  char *m = NULL, *e = NULL;
  int rc = lgw__normalize_model(ud, "  my   model ", &m, &e);
  if (!rc) snprintf(out, cap, "%s|%s", m, e);
  lgw_free(m);
  lgw_free(e);
  return rc ? lgw__error_set(err, rc, "out of memory (route)") : 0;
}

static int step_redact(const void *ud, char *out, size_t cap,
                       lgw_error_t *err) {
  char *s = lgw__url_redact(ud);
  if (!s) return lgw__error_set(err, LGW_ENOMEM, "out of memory (url)");
  snprintf(out, cap, "%s", s);
  lgw_free(s);
  return 0;
}

static int step_route(const void *ud, char *out, size_t cap,
                      lgw_error_t *err) {
  const lgw_runtime_t *rt = ud;
  lgw__overrides_t ov;
  lgw__route_t r;
  int rc;
  memset(&ov, 0, sizeof ov);
  memset(&r, 0, sizeof r);
  ov.tier = " Strong ";
  rc = lgw__route(rt, &rt->providers[0], "summarize", &ov, &r, err);
  if (!rc)
    snprintf(out, cap, "%s|%s|%s|%g|%ld|%d", r.requested_model, r.model,
             r.reasoning_effort, r.temperature, r.max_tokens, (int)r.style);
  lgw__route_free(&r);
  return rc;
}

static const char config[] =
    "version: 1\n"
    "settings:\n  fallback_model: m1\n  strong_model: \" big  model \"\n"
    "tasks:\n  summarize: {temperature: 0.5, max_tokens: 99}\n"
    "providers:\n"
    "  - provider_type: openai\n    api_style: openai_chat\n"
    "    base_url: https://api.example/v1\n"
    "    model_map: {big model: \"gpt-5 (high)\"}\n";

TEST(env_route_urls) {
  lgw_runtime_t *rt = NULL;
  lgw_error_t err;
  lgw__provider_t p;
  SWEEP(step_env, NULL, " ${A:-${B}} ", "env");
  ASSERT_STREQ(last_out, "from-b");
  SWEEP(step_env, NULL, "${A:-x y}", "env default");
  ASSERT_STREQ(last_out, "x y");
  memset(&p, 0, sizeof p);
  p.api_style = (char *)"openai_chat";
  p.style = LGW__STYLE_CHAT;
  ASSERT_EQ(lgw__kvlist_add(&p.model_map, "my model", " gpt-5 (HIGH) "), 0);
  SWEEP(step_normalize, NULL, &p, "normalize");
  ASSERT_STREQ(last_out, "gpt-5|high");
  lgw__kvlist_free(&p.model_map);
  ASSERT_EQ(lgw_runtime_load_string(config, strlen(config), "c.yaml", &rt,
                                    &err), 0);
  SWEEP(step_route, NULL, rt, "route");
  lgw_runtime_free(rt);
  ASSERT_STREQ(last_out, "big  model|gpt-5|high|1|99|2");
  SWEEP(step_redact, NULL, "https://u:p@h.example/x?a=1&b#f", "redact");
  ASSERT_STREQ(last_out, "https://<redacted>@h.example/x?a=<redacted>&"
               "<redacted>#<redacted>");
}

int main(void) {
  lgw_set_allocator(t_malloc, t_realloc, t_free);
  lgw_set_log(quiet, NULL, LGW_LOG_DEBUG);
  RUN(state_file);
  RUN(json_functions);
  RUN(env_route_urls);
  if (getenv("TEST_VERBOSE"))
    fprintf(stderr, "%ld sweeps, %ld allocations\n", swept_steps,
            swept_allocs);
  return TEST_SUMMARY();
}
