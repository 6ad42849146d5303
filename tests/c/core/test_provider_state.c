/*
 * test_provider_state.c -- provider and config keys (bit-exact vectors of
 * seed-behavior §5.2), request order (§5.3) and the state file (§5.4):
 * lenient reading, exact written bytes, mode, locking and merging across
 * processes.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "json_extract.h"
#include "provider_state.h"
#include "test.h"

static lgw__provider_t prov(const char *type, const char *style,
                            const char *url, const char *key) {
  lgw__provider_t p;
  memset(&p, 0, sizeof p);
  p.provider_type = (char *)type;
  p.api_style = (char *)style;
  p.base_url = (char *)url;
  p.api_key = (char *)key;
  return p;
}

static char tmpdir[256];

static const char *tmp_path(const char *name) {
  static char buf[512];
  snprintf(buf, sizeof buf, "%s/%s", tmpdir, name);
  return buf;
}

static char *slurp(const char *path) {
  FILE *f = fopen(path, "rb");
  char *s;
  long n;
  if (!f) return NULL;
  fseek(f, 0, SEEK_END);
  n = ftell(f);
  fseek(f, 0, SEEK_SET);
  s = calloc(1, (size_t)n + 1);
  if (fread(s, 1, (size_t)n, f) != (size_t)n) s[0] = '\0';
  fclose(f);
  return s;
}

static void spit(const char *path, const char *text) {
  FILE *f = fopen(path, "wb");
  fputs(text, f);
  fclose(f);
}

static char logbuf[16384];
static void capture_log(lgw_log_level_t level, const char *msg, void *ud) {
  (void)ud;
  snprintf(logbuf + strlen(logbuf), sizeof logbuf - strlen(logbuf),
           "[%d] %s\n", (int)level, msg);
}

/* Lines logged at level (e.g. "[1] " for warnings) since logbuf was
 * cleared. */
static int log_count(const char *level) {
  const char *p = logbuf;
  int n = 0;
  while ((p = strstr(p, level)) != NULL) {
    n++;
    p += strlen(level);
  }
  return n;
}

/* config_key -> provider_key merged in, as a gateway remembers it. */
static int update1(const char *path, const char *ck, const char *pk,
                   lgw_error_t *err) {
  lgw__kvlist_t m = {NULL, 0};
  int rc;
  lgw__kvlist_add(&m, ck, pk);
  rc = lgw__state_merge(path, &m, err);
  lgw__kvlist_free(&m);
  return rc;
}

/* ---- §5.2 vectors --------------------------------------------------------- */

TEST(vector_primary) {
  lgw__provider_t p = prov("glm", "openai_responses",
                           "https://primary.example", "primary-secret");
  char key[65], *c = lgw__provider_canonical(&p);
  ASSERT_STREQ(c, "{\"api_key\":\"primary-secret\",\"api_style\":"
                  "\"openai_responses\",\"base_url\":\"https://primary."
                  "example\",\"headers\":{},\"model_map\":{},"
                  "\"provider_type\":\"glm\"}");
  lgw_free(c);
  ASSERT_EQ(lgw__provider_key(&p, key), 0);
  ASSERT_STREQ(key,
      "7abb51cbbde36d7fa6c9702352c41888cb6256228c824133a53aef25f665c21c");
}

TEST(vector_secondary_and_config) {
  lgw__provider_t ps[2];
  char key[65];
  ps[0] = prov("glm", "openai_responses", "https://primary.example",
               "primary-secret");
  ps[1] = prov("openai", "responses", "https://secondary.example",
               "secondary-secret");
  ASSERT_EQ(lgw__provider_key(&ps[1], key), 0);
  ASSERT_STREQ(key,
      "ae1eb675f9efd559d0e0dd72d2ea9466b940938a099bfbac08fe0ac26de3d447");
  ASSERT_EQ(lgw__config_key(ps, 2, key), 0);
  ASSERT_STREQ(key,
      "d6b49f1deeab999d6e26d021b1fef8c4f9059d3f8fc449b71b6479c3e83f0c62");
}

TEST(vector_single_provider) {
  lgw__provider_t p = prov("glm", "openai_responses",
                           "https://backend.example", "secret");
  char key[65];
  ASSERT_EQ(lgw__provider_key(&p, key), 0);
  ASSERT_STREQ(key,
      "6e0e943d9a49584e0085d064436da6c06ed5277f7d54553650b6f778c51d15bd");
  ASSERT_EQ(lgw__config_key(&p, 1, key), 0);
  ASSERT_STREQ(key,
      "ddcd2f7ae17358ed6ffecae7b4054ac6e26b908d043f14ccf2917086939c16db");
}

TEST(vector_unicode_headers_map) {
  lgw__provider_t p = prov("openai", "responses", "https://api.example/v1",
                           "k\xc3\xab\xf0\x9f\x98\x80");
  char key[65], *c;
  lgw__kvlist_add(&p.headers, "b", "2");
  lgw__kvlist_add(&p.headers, "a", "1\t/\"");
  lgw__kvlist_add(&p.model_map, "x", "y");
  c = lgw__provider_canonical(&p);
  ASSERT_STREQ(c, "{\"api_key\":\"k\\u00eb\\ud83d\\ude00\",\"api_style\":"
                  "\"responses\",\"base_url\":\"https://api.example/v1\","
                  "\"headers\":{\"a\":\"1\\t/\\\"\",\"b\":\"2\"},"
                  "\"model_map\":{\"x\":\"y\"},\"provider_type\":\"openai\"}");
  lgw_free(c);
  ASSERT_EQ(lgw__provider_key(&p, key), 0);
  ASSERT_STREQ(key,
      "5ac56f768d8b0a200edba241997bdcf1fc651b417bfce6a13618f9ed2db3c40b");
  ASSERT_EQ(lgw__config_key(&p, 1, key), 0);
  ASSERT_STREQ(key,
      "eee3f155f5dcf7dd0be657c5bcad2dbea31255f4bd2dd08b748f5bcb1315e59b");
  lgw__kvlist_free(&p.headers);
  lgw__kvlist_free(&p.model_map);
}

TEST(canonical_escapes_and_duplicates) {
  /* Python: json.dumps({"api_key": "\x01\x7f\b\f\n\r\\\u2028", ...,
   * "headers": {"b": "3", "a": "2"}}, sort_keys=True,
   * separators=(",", ":")) -- a repeated key keeps its last value. */
  lgw__provider_t p = prov("", "", "", "\x01\x7f\b\f\n\r\\\xe2\x80\xa8");
  char *c;
  lgw__kvlist_add(&p.headers, "b", "1");
  lgw__kvlist_add(&p.headers, "a", "2");
  lgw__kvlist_add(&p.headers, "b", "3");
  lgw__kvlist_add(&p.headers, "\xc3\xa9", "e");
  lgw__kvlist_add(&p.headers, "Z", "z");
  c = lgw__provider_canonical(&p);
  ASSERT_STREQ(c, "{\"api_key\":\"\\u0001\\u007f\\b\\f\\n\\r\\\\\\u2028\","
                  "\"api_style\":\"\",\"base_url\":\"\",\"headers\":{\"Z\":"
                  "\"z\",\"a\":\"2\",\"b\":\"3\",\"\\u00e9\":\"e\"},"
                  "\"model_map\":{},\"provider_type\":\"\"}");
  lgw_free(c);
  lgw__kvlist_free(&p.headers);
}

TEST(canonical_null_fields_are_empty) {
  lgw__provider_t p = prov(NULL, NULL, NULL, NULL);
  char *c = lgw__provider_canonical(&p);
  ASSERT_STREQ(c, "{\"api_key\":\"\",\"api_style\":\"\",\"base_url\":\"\","
                  "\"headers\":{},\"model_map\":{},\"provider_type\":\"\"}");
  lgw_free(c);
}

TEST(sha256_hex) {
  char out[65];
  ASSERT_EQ(lgw__sha256_hex("", 0, out), 0);
  ASSERT_STREQ(out,
      "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
  ASSERT_EQ(lgw__sha256_hex("abc", 3, out), 0);
  ASSERT_STREQ(out,
      "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
}

/* ---- §5.3 order ----------------------------------------------------------- */

TEST(order) {
  lgw__provider_t ps[4];
  size_t o[4];
  int i;
  for (i = 0; i < 4; i++) ps[i] = prov("", "", "", "");
  strcpy(ps[0].key, "aaa");
  strcpy(ps[1].key, "bbb");
  strcpy(ps[2].key, "ccc");
  strcpy(ps[3].key, "bbb");
  lgw__state_order(ps, 4, "ccc", o);
  ASSERT(o[0] == 2 && o[1] == 0 && o[2] == 1 && o[3] == 3);
  /* identical duplicates: only the first moves, the rest keep order */
  lgw__state_order(ps, 4, "bbb", o);
  ASSERT(o[0] == 1 && o[1] == 0 && o[2] == 2 && o[3] == 3);
  lgw__state_order(ps, 4, "zzz", o);
  ASSERT(o[0] == 0 && o[1] == 1 && o[2] == 2 && o[3] == 3);
  lgw__state_order(ps, 4, "", o);
  ASSERT(o[0] == 0 && o[3] == 3);
  lgw__state_order(ps, 4, NULL, o);
  ASSERT(o[0] == 0 && o[1] == 1);
  lgw__state_order(ps, 4, "aaa", o);
  ASSERT(o[0] == 0 && o[1] == 1 && o[2] == 2 && o[3] == 3);
}

/* ---- §5.4 reading --------------------------------------------------------- */

TEST(load_missing_is_empty_silently) {
  lgw__kvlist_t m;
  logbuf[0] = '\0';
  ASSERT_EQ(lgw__state_load(tmp_path("missing.json"), &m, NULL), 0);
  ASSERT_EQ(m.n, 0);
  ASSERT_STREQ(logbuf, "");
}

TEST(load_lenient_entries) {
  lgw__kvlist_t m;
  const char *p = tmp_path("lenient.json");
  spit(p, "{\"preferred_by_config\": {\"k\":5,\" \":\"x\",\"e\":\" \"}}");
  ASSERT_EQ(lgw__state_load(p, &m, NULL), 0);
  ASSERT_EQ(m.n, 1);
  ASSERT_STREQ(m.items[0].key, "k");
  ASSERT_STREQ(m.items[0].value, "5");
  lgw__kvlist_free(&m);
  spit(p, "{\"other\":1,\"preferred_by_config\": {\"a\":true,\"b\":2.5,"
          "\"c\":\"x\",\"c\":\"y\",\"d\":null}}");
  ASSERT_EQ(lgw__state_load(p, &m, NULL), 0);
  ASSERT_EQ(m.n, 4);
  ASSERT_STREQ(m.items[0].value, "True");
  ASSERT_STREQ(m.items[1].value, "2.5");
  ASSERT_STREQ(m.items[2].value, "y");
  ASSERT_STREQ(m.items[3].value, "None");
  lgw__kvlist_free(&m);
}

/* Numbers as Python's str() prints the float json.load gives (integral
 * ones below 1e16 as integers: the parser does not keep "5" from "5.0"). */
TEST(load_numbers_as_python_prints_them) {
  static const char *const want[] = {"0.1", "1e-05", "0.0001", "1e+16",
                                     "123456789.125", "1.5e+300",
                                     "-2.5e-07", "1234567890123456.2", "7"};
  lgw__kvlist_t m;
  const char *p = tmp_path("numbers.json");
  size_t i;
  spit(p, "{\"preferred_by_config\": {\"a\":0.1,\"b\":1e-5,\"c\":1e-4,"
          "\"d\":1e16,\"e\":123456789.125,\"f\":1.5e300,\"g\":-2.5e-7,"
          "\"h\":1234567890123456.25,\"i\":7.0}}");
  ASSERT_EQ(lgw__state_load(p, &m, NULL), 0);
  ASSERT_EQ(m.n, sizeof want / sizeof want[0]);
  for (i = 0; i < m.n; i++) ASSERT_STREQ(m.items[i].value, want[i]);
  lgw__kvlist_free(&m);
}

TEST(load_bad_files_warn_and_give_empty) {
  static const char *bad[] = {
      "{not json", "[1,2]", "{\"preferred_by_config\": [1]}",
      "{\"nothing\": {}}", "", "\"s\""};
  const char *p = tmp_path("bad.json");
  size_t i;
  for (i = 0; i < sizeof bad / sizeof bad[0]; i++) {
    lgw__kvlist_t m;
    spit(p, bad[i]);
    logbuf[0] = '\0';
    ASSERT_EQ(lgw__state_load(p, &m, NULL), 0);
    ASSERT_EQ(m.n, 0);
    ASSERT_CONTAINS(logbuf, "[1] ");
    ASSERT_CONTAINS(logbuf, p);
  }
  /* a directory cannot be read */
  {
    lgw__kvlist_t m;
    logbuf[0] = '\0';
    ASSERT_EQ(lgw__state_load(tmpdir, &m, NULL), 0);
    ASSERT_EQ(m.n, 0);
    ASSERT_CONTAINS(logbuf, tmpdir);
  }
}

/* ---- §5.4 writing --------------------------------------------------------- */

TEST(write_exact_bytes_and_mode) {
  lgw__kvlist_t m = {NULL, 0};
  const char *p = tmp_path("state.json");
  struct stat st;
  char *got, lock[600];
  /* Python: json.dump({"preferred_by_config": {...}}, f, indent=2,
   * sort_keys=True); f.write("\n") */
  lgw__kvlist_add(&m, "b", "2");
  lgw__kvlist_add(&m, "\xc3\xa9", "\xf0\x9f\x98\x80");
  lgw__kvlist_add(&m, "a", "1");
  lgw__kvlist_add(&m, "blank", "  ");
  lgw__kvlist_add(&m, " ", "x");
  lgw__kvlist_add(&m, "a", "3");
  ASSERT_EQ(lgw__state_write(p, &m, NULL), 0);
  got = slurp(p);
  ASSERT_STREQ(got, "{\n  \"preferred_by_config\": {\n    \"a\": \"3\",\n"
                    "    \"b\": \"2\",\n    \"\\u00e9\": \"\\ud83d\\ude00\"\n"
                    "  }\n}\n");
  free(got);
  ASSERT_EQ(stat(p, &st), 0);
  ASSERT_EQ(st.st_mode & 0777, 0600);
  snprintf(lock, sizeof lock, "%s.lock", p);
  ASSERT_EQ(stat(lock, &st), 0);
  ASSERT_EQ(st.st_mode & 0777, 0600);
  lgw__kvlist_free(&m);
}

TEST(write_empty_mapping) {
  lgw__kvlist_t m = {NULL, 0};
  const char *p = tmp_path("empty.json");
  char *got;
  ASSERT_EQ(lgw__state_write(p, &m, NULL), 0);
  got = slurp(p);
  ASSERT_STREQ(got, "{\n  \"preferred_by_config\": {}\n}\n");
  free(got);
}

TEST(write_creates_parent_dirs) {
  lgw__kvlist_t m = {NULL, 0}, back;
  char p[600];
  snprintf(p, sizeof p, "%s/new/sub/state.json", tmpdir);
  lgw__kvlist_add(&m, "c", "p");
  ASSERT_EQ(lgw__state_write(p, &m, NULL), 0);
  ASSERT_EQ(lgw__state_load(p, &back, NULL), 0);
  ASSERT_EQ(back.n, 1);
  lgw__kvlist_free(&back);
  lgw__kvlist_free(&m);
}

TEST(write_failure_is_eio_with_path) {
  lgw__kvlist_t m = {NULL, 0};
  lgw_error_t err;
  char p[600];
  /* the parent is a regular file: nothing can be created below it */
  snprintf(p, sizeof p, "%s/state.json/x.json", tmpdir);
  lgw__kvlist_add(&m, "c", "p");
  memset(&err, 0, sizeof err);
  ASSERT_EQ(lgw__state_write(p, &m, &err), LGW_EIO);
  ASSERT_EQ(err.code, LGW_EIO);
  ASSERT_CONTAINS(err.message, p);
  memset(&err, 0, sizeof err);
  ASSERT_EQ(update1(p, "c", "p", &err), LGW_EIO);
  ASSERT_CONTAINS(err.message, p);
  lgw__kvlist_free(&m);
}

TEST(update_preserves_others_and_recovers) {
  const char *p = tmp_path("update.json");
  lgw__kvlist_t m;
  char *got;
  spit(p, "{\"preferred_by_config\": {\"other\": \"keep\", \"mine\": \"old\"}}");
  ASSERT_EQ(update1(p, "mine", "new", NULL), 0);
  got = slurp(p);
  ASSERT_STREQ(got, "{\n  \"preferred_by_config\": {\n    \"mine\": \"new\",\n"
                    "    \"other\": \"keep\"\n  }\n}\n");
  free(got);
  /* a corrupt file is replaced by a valid one */
  spit(p, "garbage");
  logbuf[0] = '\0';
  ASSERT_EQ(update1(p, "k", "v", NULL), 0);
  ASSERT_CONTAINS(logbuf, p);
  ASSERT_EQ(lgw__state_load(p, &m, NULL), 0);
  ASSERT_EQ(m.n, 1);
  ASSERT_STREQ(m.items[0].key, "k");
  ASSERT_STREQ(m.items[0].value, "v");
  lgw__kvlist_free(&m);
}

TEST(concurrent_updates_from_two_processes) {
  const char *p = tmp_path("concurrent.json");
  pid_t kids[2];
  int i, status;
  lgw__kvlist_t m;
  char *text;
  cJSON *root = NULL;
  for (i = 0; i < 2; i++) {
    kids[i] = fork();
    ASSERT(kids[i] >= 0);
    if (kids[i] == 0) {
      int j, bad = 0;
      for (j = 0; j < 200; j++) {
        char ck[32], pk[32];
        snprintf(ck, sizeof ck, "config-%d-%03d", i, j);
        snprintf(pk, sizeof pk, "provider-%d", j);
        if (update1(p, ck, pk, NULL)) bad = 1;
      }
      _exit(bad);
    }
  }
  for (i = 0; i < 2; i++) {
    ASSERT_EQ(waitpid(kids[i], &status, 0), kids[i]);
    ASSERT(WIFEXITED(status) && WEXITSTATUS(status) == 0);
  }
  text = slurp(p);
  ASSERT(text != NULL);
  ASSERT_EQ(lgw__json_parse_strict(text, strlen(text), &root, NULL), 0);
  cJSON_Delete(root);
  free(text);
  logbuf[0] = '\0';
  ASSERT_EQ(lgw__state_load(p, &m, NULL), 0);
  ASSERT_STREQ(logbuf, "");
  ASSERT_EQ(m.n, 400);
  ASSERT_STREQ(m.items[0].key, "config-0-000");
  ASSERT_STREQ(m.items[399].key, "config-1-199");
  ASSERT_STREQ(m.items[399].value, "provider-199");
  lgw__kvlist_free(&m);
}


/* ---- what is at the path: never followed, never clobbered ------------------ */

static int is_symlink(const char *path) {
  struct stat st;
  return lstat(path, &st) == 0 && S_ISLNK(st.st_mode);
}

static int exists(const char *path) {
  struct stat st;
  return lstat(path, &st) == 0;
}

TEST(symlink_to_a_user_file_is_left_intact) {
  char user[600], link[600], want[800];
  lgw__kvlist_t m = {NULL, 0}, back;
  lgw_error_t err;
  struct stat st;
  char *got;
  snprintf(user, sizeof user, "%s/notes.txt", tmpdir);
  snprintf(link, sizeof link, "%s/link-state.json", tmpdir);
  spit(user, "my notes\n");
  chmod(user, 0644);
  ASSERT_EQ(symlink(user, link), 0);
  lgw__kvlist_add(&m, "c", "p");
  logbuf[0] = '\0';
  ASSERT_EQ(lgw__state_load(link, &back, NULL), 0);
  ASSERT_EQ(back.n, 0);
  snprintf(want, sizeof want, "[1] ignoring provider state file %s: not a "
           "regular file (symbolic link); it is neither read nor replaced\n",
           link);
  ASSERT_STREQ(logbuf, want);
  memset(&err, 0, sizeof err);
  ASSERT_EQ(lgw__state_write(link, &m, &err), LGW_EIO);
  snprintf(want, sizeof want, "provider state file %s not written: not a "
           "regular file (symbolic link)", link);
  ASSERT_STREQ(err.message, want);
  memset(&err, 0, sizeof err);
  ASSERT_EQ(lgw__state_merge(link, &m, &err), LGW_EIO);
  ASSERT_STREQ(err.message, want);
  /* a gateway remembering its provider there: no second warning */
  lgw__state_remember(link, "c", "p");
  ASSERT_EQ(log_count("[1] "), 1);
  got = slurp(user);
  ASSERT_STREQ(got, "my notes\n");
  free(got);
  ASSERT_EQ(stat(user, &st), 0);
  ASSERT_EQ(st.st_mode & 0777, 0644);
  ASSERT(is_symlink(link));
  lgw__kvlist_free(&m);
}

TEST(dangling_symlink_creates_nothing) {
  char target[600], link[600];
  lgw__kvlist_t m = {NULL, 0};
  snprintf(target, sizeof target, "%s/nowhere.json", tmpdir);
  snprintf(link, sizeof link, "%s/dangling.json", tmpdir);
  ASSERT_EQ(symlink(target, link), 0);
  lgw__kvlist_add(&m, "c", "p");
  ASSERT_EQ(lgw__state_merge(link, &m, NULL), LGW_EIO);
  ASSERT_EQ(lgw__state_write(link, &m, NULL), LGW_EIO);
  ASSERT(!exists(target));
  ASSERT(is_symlink(link));
  lgw__kvlist_free(&m);
}

/* In a child with an alarm: a FIFO must neither block the load nor be
 * replaced by a write. */
TEST(fifo_does_not_hang_and_stays) {
  const char *p = tmp_path("fifo.json");
  struct stat st;
  pid_t kid;
  int status;
  ASSERT_EQ(mkfifo(p, 0600), 0);
  fflush(NULL);
  kid = fork();
  ASSERT(kid >= 0);
  if (kid == 0) {
    lgw__kvlist_t m = {NULL, 0}, back;
    lgw_error_t err;
    int ok;
    alarm(5);
    lgw__kvlist_add(&m, "c", "p");
    memset(&err, 0, sizeof err);
    ok = lgw__state_load(p, &back, NULL) == 0 && back.n == 0 &&
         strstr(logbuf, "not a regular file (FIFO)") &&
         lgw__state_write(p, &m, &err) == LGW_EIO &&
         strstr(err.message, "not a regular file (FIFO)") &&
         update1(p, "c", "p", NULL) == LGW_EIO;
    _exit(ok ? 0 : 1);
  }
  ASSERT_EQ(waitpid(kid, &status, 0), kid);
  ASSERT(WIFEXITED(status));
  ASSERT_EQ(WEXITSTATUS(status), 0);
  ASSERT_EQ(lstat(p, &st), 0);
  ASSERT(S_ISFIFO(st.st_mode));
}

TEST(directory_and_device_refused) {
  const char *p = tmp_path("dir.json");
  lgw__kvlist_t m = {NULL, 0}, back;
  lgw_error_t err;
  struct stat st;
  char want[1600];
  ASSERT_EQ(mkdir(p, 0700), 0);
  lgw__kvlist_add(&m, "c", "p");
  memset(&err, 0, sizeof err);
  ASSERT_EQ(lgw__state_write(p, &m, &err), LGW_EIO);
  snprintf(want, sizeof want, "provider state file %s not written: not a "
           "regular file (directory)", p);
  ASSERT_STREQ(err.message, want);
  ASSERT_EQ(lstat(p, &st), 0);
  ASSERT(S_ISDIR(st.st_mode));
  /* a device is never opened */
  logbuf[0] = '\0';
  ASSERT_EQ(lgw__state_load("/dev/zero", &back, NULL), 0);
  ASSERT_EQ(back.n, 0);
  ASSERT_STREQ(logbuf, "[1] ignoring provider state file /dev/zero: not a "
                       "regular file (device); it is neither read nor "
                       "replaced\n");
  p = tmp_path("dev.json");
  if (mknod(p, S_IFCHR | 0600, makedev(1, 3)) == 0) {  /* needs root */
    ASSERT_EQ(update1(p, "c", "p", NULL), LGW_EIO);
    ASSERT_EQ(lstat(p, &st), 0);
    ASSERT(S_ISCHR(st.st_mode));
  }
  lgw__kvlist_free(&m);
}

TEST(lock_file_never_followed) {
  const char *p = tmp_path("locked.json");
  char lock[600], user[600], want[800];
  lgw_error_t err;
  char *got;
  snprintf(lock, sizeof lock, "%s.lock", p);
  snprintf(user, sizeof user, "%s/lock-target.txt", tmpdir);
  ASSERT_EQ(symlink(user, lock), 0);
  memset(&err, 0, sizeof err);
  ASSERT_EQ(update1(p, "c", "p", &err), LGW_EIO);
  snprintf(want, sizeof want, "cannot lock provider state file %s: its "
           ".lock file is a symbolic link", p);
  ASSERT_STREQ(err.message, want);
  ASSERT(!exists(user));
  ASSERT(!exists(p));
  /* an existing target is not touched either */
  spit(user, "mine\n");
  ASSERT_EQ(update1(p, "c", "p", NULL), LGW_EIO);
  got = slurp(user);
  ASSERT_STREQ(got, "mine\n");
  free(got);
}

TEST(lock_failure_names_the_state_file) {
  const char *p = tmp_path("lockdir.json");
  char lock[600], want[800];
  lgw_error_t err;
  snprintf(lock, sizeof lock, "%s.lock", p);
  ASSERT_EQ(mkdir(lock, 0700), 0);
  memset(&err, 0, sizeof err);
  ASSERT_EQ(update1(p, "c", "p", &err), LGW_EIO);
  snprintf(want, sizeof want, "cannot lock provider state file %s: Is a "
           "directory", p);
  ASSERT_STREQ(err.message, want);
}

/* The files in tmpdir whose names start with prefix; names joined by
 * spaces into out. */
static int names_with(const char *prefix, char *out, size_t cap) {
  DIR *d = opendir(tmpdir);
  struct dirent *e;
  int n = 0;
  out[0] = '\0';
  while (d && (e = readdir(d)) != NULL)
    if (strncmp(e->d_name, prefix, strlen(prefix)) == 0) {
      snprintf(out + strlen(out), cap - strlen(out), "%s%s", n ? " " : "",
               e->d_name);
      n++;
    }
  if (d) closedir(d);
  return n;
}

static void utc_stamp(char out[32]) {
  time_t now = time(NULL);
  struct tm tm;
  gmtime_r(&now, &tm);
  strftime(out, 32, "%Y%m%dT%H%M%SZ", &tm);
}

TEST(corrupt_file_kept_aside) {
  const char *p = tmp_path("corrupt.json");
  char names[1024], before[32], after[32], aside[1600], *got;
  lgw__kvlist_t m = {NULL, 0};
  spit(p, "{\"preferred_by_config\": {\"half\": ");
  lgw__kvlist_add(&m, "c", "p");
  logbuf[0] = '\0';
  utc_stamp(before);
  ASSERT_EQ(lgw__state_merge(p, &m, NULL), 0);
  utc_stamp(after);
  ASSERT_EQ(names_with("corrupt.json.corrupt-", names, sizeof names), 1);
  ASSERT(strcmp(names + 21, before) >= 0 && strcmp(names + 21, after) <= 0);
  ASSERT_EQ(strlen(names), 21 + 16);
  snprintf(aside, sizeof aside, "%s/%s", tmpdir, names);
  got = slurp(aside);
  ASSERT_STREQ(got, "{\"preferred_by_config\": {\"half\": ");
  free(got);
  got = slurp(p);
  ASSERT_STREQ(got, "{\n  \"preferred_by_config\": {\n    \"c\": \"p\"\n"
                    "  }\n}\n");
  free(got);
  ASSERT_EQ(log_count("[1] "), 1);
  ASSERT_CONTAINS(logbuf, "[1] ignoring provider state file ");
  ASSERT_CONTAINS(logbuf, "; it is kept as ");
  ASSERT_CONTAINS(logbuf, "[2] kept the unreadable provider state file ");
  ASSERT_CONTAINS(logbuf, aside);
  /* a replacing write keeps a corrupt file too; names do not collide */
  spit(p, "[]");
  ASSERT_EQ(lgw__state_write(p, &m, NULL), 0);
  spit(p, "{}");
  ASSERT_EQ(lgw__state_write(p, &m, NULL), 0);
  ASSERT_EQ(names_with("corrupt.json.corrupt-", names, sizeof names), 3);
  /* an empty file holds nothing worth keeping */
  spit(p, "");
  ASSERT_EQ(lgw__state_write(p, &m, NULL), 0);
  ASSERT_EQ(names_with("corrupt.json.corrupt-", names, sizeof names), 3);
  lgw__kvlist_free(&m);
}

TEST(larger_than_16_mib_not_read) {
  const char *p = tmp_path("big.json");
  char want[1600], names[1024];
  lgw__kvlist_t m, one = {NULL, 0};
  struct stat st;
  int fd = open(p, O_WRONLY | O_CREAT | O_TRUNC, 0600);
  ASSERT(fd >= 0);
  /* sparse: a valid state object, then zero bytes past the limit */
  ASSERT_EQ(write(fd, "{\"preferred_by_config\": {\"c\": \"p\"}}", 35), 35);
  ASSERT_EQ(ftruncate(fd, LGW__STATE_MAX_BYTES + 1), 0);
  close(fd);
  logbuf[0] = '\0';
  ASSERT_EQ(lgw__state_load(p, &m, NULL), 0);
  ASSERT_EQ(m.n, 0);
  snprintf(want, sizeof want, "[1] ignoring provider state file %s: larger "
           "than 16 MiB (16777217 bytes); it is kept as %s.corrupt-<UTC "
           "time> when the state is next written\n", p, p);
  ASSERT_STREQ(logbuf, want);
  /* kept aside whole when the state is written */
  lgw__kvlist_add(&one, "k", "v");
  ASSERT_EQ(lgw__state_merge(p, &one, NULL), 0);
  ASSERT_EQ(names_with("big.json.corrupt-", names, sizeof names), 1);
  snprintf(want, sizeof want, "%s/%s", tmpdir, names);
  ASSERT_EQ(stat(want, &st), 0);
  ASSERT_EQ(st.st_size, LGW__STATE_MAX_BYTES + 1);
  ASSERT_EQ(lgw__state_load(p, &m, NULL), 0);
  ASSERT_EQ(m.n, 1);
  lgw__kvlist_free(&m);
  lgw__kvlist_free(&one);
}

TEST(exactly_16_mib_is_read) {
  const char *p = tmp_path("limit.json");
  static const char head[] = "{\"preferred_by_config\": {\"c\": \"p\"}}";
  lgw__kvlist_t m;
  FILE *f = fopen(p, "wb");
  long i;
  ASSERT(f != NULL);
  fputs(head, f);
  for (i = (long)sizeof head - 1; i < LGW__STATE_MAX_BYTES; i++) fputc(' ', f);
  fclose(f);
  logbuf[0] = '\0';
  ASSERT_EQ(lgw__state_load(p, &m, NULL), 0);
  ASSERT_STREQ(logbuf, "");
  ASSERT_EQ(m.n, 1);
  lgw__kvlist_free(&m);
}

TEST(bad_file_warned_once_per_process) {
  const char *p = tmp_path("once.json");
  lgw__kvlist_t m;
  spit(p, "not json");
  logbuf[0] = '\0';
  ASSERT_EQ(lgw__state_load(p, &m, NULL), 0);
  ASSERT_EQ(lgw__state_load(p, &m, NULL), 0);
  ASSERT_EQ(lgw__state_load(p, &m, NULL), 0);
  ASSERT_EQ(log_count("[1] "), 1);
  /* the write that keeps it aside adds no second warning */
  lgw__state_remember(p, "c", "p");
  ASSERT_EQ(log_count("[1] "), 1);
  ASSERT_EQ(log_count("[2] "), 1);
  /* a new bad file at the same path is a new warning */
  spit(p, "still not json");
  ASSERT_EQ(lgw__state_load(p, &m, NULL), 0);
  ASSERT_EQ(log_count("[1] "), 2);
}

TEST(dead_writers_temp_files_removed) {
  const char *p = tmp_path("temps.json");
  char dead_tmp[1600], live_tmp[1600], other[1600], note[1600], own[1600];
  pid_t dead = fork();
  int status;
  ASSERT(dead >= 0);
  if (dead == 0) _exit(0);
  ASSERT_EQ(waitpid(dead, &status, 0), dead);
  ASSERT(kill(dead, 0) != 0 && errno == ESRCH);
  snprintf(dead_tmp, sizeof dead_tmp, "%s.tmp.%ld.3", p, (long)dead);
  snprintf(live_tmp, sizeof live_tmp, "%s.tmp.%ld.1", p, (long)getppid());
  snprintf(own, sizeof own, "%s.tmp.%ld.999999", p, (long)getpid());
  snprintf(other, sizeof other, "%s/other.json.tmp.%ld.3", tmpdir,
           (long)dead);
  snprintf(note, sizeof note, "%s.tmp.notes", p);
  spit(dead_tmp, "{");
  spit(live_tmp, "{");
  spit(own, "{");
  spit(other, "{");
  spit(note, "x");
  ASSERT_EQ(update1(p, "c", "p", NULL), 0);
  ASSERT(!exists(dead_tmp));
  ASSERT(exists(live_tmp));
  ASSERT(exists(own));
  ASSERT(exists(other));
  ASSERT(exists(note));
}

int main(void) {
  char cmd[300];
  snprintf(tmpdir, sizeof tmpdir, "/tmp/lgw-test-state-XXXXXX");
  if (!mkdtemp(tmpdir)) return 1;
  lgw_set_log(capture_log, NULL, LGW_LOG_DEBUG);
  RUN(vector_primary);
  RUN(vector_secondary_and_config);
  RUN(vector_single_provider);
  RUN(vector_unicode_headers_map);
  RUN(canonical_escapes_and_duplicates);
  RUN(canonical_null_fields_are_empty);
  RUN(sha256_hex);
  RUN(order);
  RUN(load_missing_is_empty_silently);
  RUN(load_lenient_entries);
  RUN(load_numbers_as_python_prints_them);
  RUN(load_bad_files_warn_and_give_empty);
  RUN(write_exact_bytes_and_mode);
  RUN(write_empty_mapping);
  RUN(write_creates_parent_dirs);
  RUN(write_failure_is_eio_with_path);
  RUN(update_preserves_others_and_recovers);
  RUN(concurrent_updates_from_two_processes);
  RUN(symlink_to_a_user_file_is_left_intact);
  RUN(dangling_symlink_creates_nothing);
  RUN(fifo_does_not_hang_and_stays);
  RUN(directory_and_device_refused);
  RUN(lock_file_never_followed);
  RUN(lock_failure_names_the_state_file);
  RUN(corrupt_file_kept_aside);
  RUN(larger_than_16_mib_not_read);
  RUN(exactly_16_mib_is_read);
  RUN(bad_file_warned_once_per_process);
  RUN(dead_writers_temp_files_removed);
  snprintf(cmd, sizeof cmd, "rm -rf '%s'", tmpdir);
  if (system(cmd) != 0) fprintf(stderr, "could not remove %s\n", tmpdir);
  return TEST_SUMMARY();
}
