/*
 * test_state_concurrency.c -- the provider-state file shared by many
 * processes. Eight writer processes, each with its own provider list (so
 * its own config key), make 250 successful calls each through one state
 * file; every call fails on the provider tried first and succeeds on the
 * other, so the winner alternates and every call rewrites the file. A
 * reader process meanwhile parses the file in a loop. Afterwards: the
 * reader never saw an invalid, missing, shrunken or wrongly-moded file,
 * and the file holds exactly every writer's last winner, byte-exact.
 * Then writers killed with SIGKILL in the middle of writes: the next
 * writer removes the temp files they left.
 */
#include <cJSON.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "config.h"
#include "provider_state.h"
#include "sim_support.h"
#include "test.h"

#define NCHILD 8
#define NCALLS 250
#define CHILD_ALARM_S 120

static sim_t sim;
static char dir[64], path[128];
static char config_key[NCHILD][65], winner_key[NCHILD][65];

/* What each process reported (one line), and how it ended. */
static char writer_report[NCHILD][768], reader_report[512];
static int writer_status[NCHILD], reader_status;
static int stop_write = -1;  /* closed by the parent to stop the reader */
static double took;

/* ---- the writers ----------------------------------------------------------- */

/* Child c's config: two providers on the simulator, keys unique to c. */
static lgw_runtime_t *child_runtime(int c) {
  char y[1024];
  lgw_runtime_t *rt = NULL;
  lgw_error_t err;
  snprintf(y, sizeof y,
           "settings:\n  fallback_model: m1\n  timeout: 10\n"
           "  transport_retries: 1\n  backoff_base: 0.01\n"
           "  backoff_max: 0.02\nproviders:\n"
           "  - provider_type: openai\n    api_style: openai_chat\n"
           "    base_url: \"%s\"\n    api_key: k-writer-%d-a\n"
           "  - provider_type: openai\n    api_style: openai_chat\n"
           "    base_url: \"%s\"\n    api_key: k-writer-%d-b\n",
           sim.base, c, sim.base, c);
  memset(&err, 0, sizeof err);
  if (lgw_runtime_load_string(y, strlen(y), "writer.yaml", &rt, &err))
    fprintf(stderr, "config error: %s\n", err.message);
  return rt;
}

typedef struct call_out {
  int status, provider_index;
  size_t natt;
  int a0_status, a0_code, a1_code;
  char text[128], err[512];
} call_out_t;

static void on_done(lgw_gateway_t *gw, uint64_t id, int status,
                    const lgw_result_t *res, const lgw_error_t *err,
                    void *ud) {
  call_out_t *o = ud;
  (void)gw;
  (void)id;
  o->status = status;
  o->provider_index = res->provider_index;
  o->natt = res->nattempts;
  o->a0_status = res->nattempts > 0 ? res->attempts[0].http_status : -1;
  o->a0_code = res->nattempts > 0 ? res->attempts[0].code : -1;
  o->a1_code = res->nattempts > 1 ? res->attempts[1].code : -1;
  snprintf(o->text, sizeof o->text, "%s", res->text ? res->text : "(null)");
  snprintf(o->err, sizeof o->err, "%.500s", err ? err->message : "");
}

static int warnings;
static char first_warning[256];

/* A state file that cannot be written or read is only logged: count it. */
static void count_log(lgw_log_level_t level, const char *msg, void *ud) {
  (void)ud;
  if (level > LGW_LOG_WARN) return;
  if (!warnings++) snprintf(first_warning, sizeof first_warning, "%s", msg);
}

/* Call i (1-based) fails on the provider tried first, which is the last
 * winner, so the winner alternates: 2, 1, 2, 1 ... */
static int writer_call(lgw_gateway_t *gw, int c, int i, char *why,
                       size_t cap) {
  char content[128], want[64];
  lgw_message_t m;
  lgw_request_t r;
  call_out_t o;
  int want_pi = i % 2 ? 2 : 1;
  snprintf(content, sizeof content,
           "@sim status=503 times=1 id=w%d-%d\nhello %d %d", c, i, c, i);
  snprintf(want, sizeof want, "echo(m1): hello %d %d", c, i);
  m.role = "user";
  m.content = content;
  memset(&r, 0, sizeof r);
  r.task = "t";
  r.messages = &m;
  r.nmessages = 1;
  memset(&o, 0, sizeof o);
  o.status = 1;
  if (lgw_gateway_submit(gw, &r, on_done, &o, NULL, NULL) != 0 ||
      lgw_gateway_run(gw) != 0) {
    snprintf(why, cap, "call %d: cannot submit", i);
    return -1;
  }
  if (o.status != 0 || strcmp(o.text, want) != 0 ||
      o.provider_index != want_pi || o.natt != 2 || o.a0_status != 503 ||
      o.a0_code != LGW_EHTTP || o.a1_code != 0) {
    snprintf(why, cap,
             "call %d: status %d text \"%.60s\" provider %d (want %d) "
             "attempts %zu first %d/%d second %d err \"%.200s\"", i, o.status,
             o.text, o.provider_index, want_pi, o.natt, o.a0_status,
             o.a0_code, o.a1_code, o.err);
    return -1;
  }
  return 0;
}

static void writer(int c, int out) {
  lgw_runtime_t *rt;
  lgw_gateway_t *gw = NULL;
  lgw_gateway_options_t op;
  char why[384] = "", line[768];
  int i, ok = 0, n;
  alarm(CHILD_ALARM_S);
  lgw_set_log(count_log, NULL, LGW_LOG_WARN);
  rt = child_runtime(c);
  memset(&op, 0, sizeof op);
  op.state_file = path;
  op.seed = (uint64_t)c + 1;
  if (!rt || lgw_gateway_new(rt, &op, &gw, NULL) != 0) {
    snprintf(why, sizeof why, "setup failed");
  } else {
    for (i = 1; i <= NCALLS; i++) {
      if (writer_call(gw, c, i, why, sizeof why) == 0) ok++;
      else break;
    }
  }
  lgw_gateway_free(gw);
  lgw_runtime_free(rt);
  n = snprintf(line, sizeof line, "ok=%d warnings=%d %s%s%s\n", ok,
               warnings, why, warnings ? " first warning: " : "",
               first_warning);
  if (n > 0) (void)!write(out, line, (size_t)n < sizeof line ? (size_t)n
                                                              : sizeof line);
  _exit(ok == NCALLS && !warnings ? 0 : 1);
}

/* ---- the reader --------------------------------------------------------------- */

typedef struct reader_stats {
  long reads, missing_before, invalid, bad_mode, vanished, shrank;
  int max_entries;
  char first_problem[256];
} reader_stats_t;

static int is_hex64(const char *s) {
  size_t i;
  if (!s || strlen(s) != 64) return 0;
  for (i = 0; i < 64; i++)
    if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f')))
      return 0;
  return 1;
}

/* Number of entries of a valid state file; -1 when it is not one. */
static int state_entries(const char *data, size_t len) {
  cJSON *root = cJSON_ParseWithLength(data, len), *map, *it;
  int n = 0;
  if (!cJSON_IsObject(root) || cJSON_GetArraySize(root) != 1 ||
      !cJSON_IsObject(map = cJSON_GetObjectItemCaseSensitive(
                          root, "preferred_by_config"))) {
    cJSON_Delete(root);
    return -1;
  }
  cJSON_ArrayForEach(it, map) {
    if (!is_hex64(it->string) || !cJSON_IsString(it) ||
        !is_hex64(it->valuestring)) {
      n = -1;
      break;
    }
    n++;
  }
  cJSON_Delete(root);
  return n;
}

static void problem(reader_stats_t *s, const char *what) {
  if (!s->first_problem[0])
    snprintf(s->first_problem, sizeof s->first_problem, "%s (read %ld)",
             what, s->reads);
}

/* One look at the file. */
static void reader_look(reader_stats_t *s, char **buf, size_t *cap) {
  struct stat st;
  size_t len = 0;
  ssize_t k;
  int fd = open(path, O_RDONLY | O_CLOEXEC), n;
  if (fd < 0) {
    if (errno != ENOENT) problem(s, strerror(errno));
    if (s->max_entries) {
      s->vanished++;
      problem(s, "the file vanished");
    } else {
      s->missing_before++;
    }
    return;
  }
  s->reads++;
  if (fstat(fd, &st) != 0 || (st.st_mode & 07777) != 0600) {
    s->bad_mode++;
    problem(s, "mode is not 0600");
  }
  for (;;) {
    if (len == *cap) {
      char *g = realloc(*buf, *cap * 2 + 4096);
      if (!g) break;
      *buf = g;
      *cap = *cap * 2 + 4096;
    }
    k = read(fd, *buf + len, *cap - len);
    if (k < 0 && errno == EINTR) continue;
    if (k <= 0) break;
    len += (size_t)k;
  }
  close(fd);
  n = state_entries(*buf ? *buf : "", len);
  if (n < 0) {
    s->invalid++;
    problem(s, "not a valid state file");
  } else if (n < s->max_entries) {
    s->shrank++;
    problem(s, "entries were lost");
  } else {
    s->max_entries = n;
  }
}

/* Reads until stop becomes readable (the parent closes it). */
static void reader(int stop, int out) {
  reader_stats_t s;
  struct pollfd p;
  char *buf = NULL, line[512];
  size_t cap = 0;
  int n;
  alarm(CHILD_ALARM_S);
  close(stop_write);  /* else the reader would hold its own stop open */
  memset(&s, 0, sizeof s);
  for (;;) {
    p.fd = stop;
    p.events = POLLIN;
    p.revents = 0;
    if (poll(&p, 1, 0) != 0) break;
    reader_look(&s, &buf, &cap);
  }
  reader_look(&s, &buf, &cap);  /* the final state too */
  free(buf);
  n = snprintf(line, sizeof line,
               "reads=%ld invalid=%ld bad_mode=%ld vanished=%ld shrank=%ld "
               "max_entries=%d %s\n", s.reads, s.invalid, s.bad_mode,
               s.vanished, s.shrank, s.max_entries, s.first_problem);
  if (n > 0) (void)!write(out, line, (size_t)n < sizeof line ? (size_t)n
                                                              : sizeof line);
  _exit(s.invalid || s.bad_mode || s.vanished || s.shrank ? 1 : 0);
}

/* ---- the parent ---------------------------------------------------------- */

static pid_t spawn(void (*fn)(int, int), int arg, int *report) {
  int fds[2];
  pid_t pid;
  if (pipe(fds) != 0) return -1;
  pid = fork();
  if (pid == 0) {
    close(fds[0]);
    fn(arg, fds[1]);
  }
  close(fds[1]);
  if (pid < 0) {
    close(fds[0]);
    return -1;
  }
  *report = fds[0];
  return pid;
}

static void read_report(int fd, char *out, size_t cap) {
  size_t len = 0;
  ssize_t k;
  while (len + 1 < cap && (k = read(fd, out + len, cap - 1 - len)) != 0) {
    if (k < 0 && errno == EINTR) continue;
    if (k < 0) break;
    len += (size_t)k;
  }
  out[len] = '\0';
  if (len && out[len - 1] == '\n') out[len - 1] = '\0';
  close(fd);
}

static double now_s(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* Computes every writer's keys, then runs the writers and the reader. */
static int run_processes(void) {
  pid_t writers[NCHILD], rd;
  int wfd[NCHILD], rfd, stop[2], c;
  double t0;
  for (c = 0; c < NCHILD; c++) {
    lgw_runtime_t *rt = child_runtime(c);
    if (!rt) return -1;
    memcpy(config_key[c], lgw_runtime_config_key(rt), 65);
    /* 250 is even: the last call's winner is provider 1 */
    memcpy(winner_key[c], rt->providers[0].key, 65);
    lgw_runtime_free(rt);
  }
  if (pipe(stop) != 0) return -1;
  stop_write = stop[1];
  fflush(NULL);
  rd = spawn(reader, stop[0], &rfd);
  if (rd < 0) return -1;
  close(stop[0]);
  t0 = now_s();
  for (c = 0; c < NCHILD; c++) writers[c] = spawn(writer, c, &wfd[c]);
  for (c = 0; c < NCHILD; c++) {
    if (writers[c] < 0) {
      writer_status[c] = -1;
      continue;
    }
    read_report(wfd[c], writer_report[c], sizeof writer_report[c]);
    waitpid(writers[c], &writer_status[c], 0);
  }
  took = now_s() - t0;
  close(stop[1]);
  read_report(rfd, reader_report, sizeof reader_report);
  waitpid(rd, &reader_status, 0);
  return 0;
}

/* ---- assertions ---------------------------------------------------------------- */

TEST(state_writers_all_succeeded) {
  int c;
  for (c = 0; c < NCHILD; c++) {
    char want[64];
    snprintf(want, sizeof want, "ok=%d warnings=0 ", NCALLS);
    if (strcmp(writer_report[c], want) != 0 ||
        !WIFEXITED(writer_status[c]) || WEXITSTATUS(writer_status[c]) != 0)
      TEST__FAIL("writer %d (status %d): %s", c, writer_status[c],
                 writer_report[c]);
  }
}

TEST(state_reader_never_saw_a_bad_file) {
  if (!WIFEXITED(reader_status) || WEXITSTATUS(reader_status) != 0)
    TEST__FAIL("reader (status %d): %s", reader_status, reader_report);
  /* it really read the file, many times */
  ASSERT(strstr(reader_report, "reads=0 ") != reader_report);
  ASSERT_CONTAINS(reader_report, " max_entries=8 ");
}

TEST(state_sim_saw_every_attempt) {
  /* two attempts per call: the failure, then the other provider */
  ASSERT_EQ(sim_stat(&sim, "requests"), NCHILD * NCALLS * 2);
}

static int cmp_key(const void *a, const void *b) {
  return strcmp((const char *)a, (const char *)b);
}

TEST(state_final_file_exact) {
  char sorted[NCHILD][2][65], want[4096], got[4096];
  struct stat st;
  size_t len = 0, n;
  int c, fd;
  lgw__kvlist_t kv = {NULL, 0};
  for (c = 0; c < NCHILD; c++) {
    memcpy(sorted[c][0], config_key[c], 65);
    memcpy(sorted[c][1], winner_key[c], 65);
  }
  qsort(sorted, NCHILD, sizeof sorted[0], cmp_key);
  /* Python's json.dump(indent=2, sort_keys=True) plus a newline */
  n = (size_t)snprintf(want, sizeof want, "{\n  \"preferred_by_config\": {");
  for (c = 0; c < NCHILD; c++)
    n += (size_t)snprintf(want + n, sizeof want - n, "%s\"%s\": \"%s\"",
                          c ? ",\n    " : "\n    ", sorted[c][0],
                          sorted[c][1]);
  snprintf(want + n, sizeof want - n, "\n  }\n}\n");
  fd = open(path, O_RDONLY);
  ASSERT(fd >= 0);
  ASSERT_EQ(fstat(fd, &st), 0);
  ASSERT_EQ(st.st_mode & 07777, 0600);
  while (len + 1 < sizeof got) {
    ssize_t k = read(fd, got + len, sizeof got - 1 - len);
    if (k <= 0) break;
    len += (size_t)k;
  }
  close(fd);
  got[len] = '\0';
  ASSERT_STREQ(got, want);
  /* and the library reads back what it wrote */
  ASSERT_EQ(lgw__state_load(path, &kv, NULL), 0);
  ASSERT_EQ(kv.n, NCHILD);
  for (c = 0; c < NCHILD; c++)
    ASSERT_STREQ(lgw__kvlist_get_ci(&kv, config_key[c]), winner_key[c]);
  lgw__kvlist_free(&kv);
}

/* Only the state file and its lock remain: no temp file left behind. */
TEST(state_no_leftovers) {
  DIR *d = opendir(dir);
  struct dirent *e;
  struct stat st;
  char lock[160];
  int others = 0;
  ASSERT(d != NULL);
  while ((e = readdir(d)) != NULL) {
    if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, "..") ||
        !strcmp(e->d_name, "provider-state.json") ||
        !strcmp(e->d_name, "provider-state.json.lock"))
      continue;
    fprintf(stderr, "  left over: %s\n", e->d_name);
    others++;
  }
  closedir(d);
  ASSERT_EQ(others, 0);
  snprintf(lock, sizeof lock, "%s.lock", path);
  ASSERT_EQ(stat(lock, &st), 0);
  ASSERT_EQ(st.st_mode & 077, 0);
}

/* ---- writers killed mid-write ------------------------------------------------- */

#define KILL_ROUNDS 50
#define KILL_WRITERS 3

/* A temp file name of the state file ("provider-state.json.tmp.*"). */
static int count_temps(void) {
  DIR *d = opendir(dir);
  struct dirent *e;
  int n = 0;
  while (d && (e = readdir(d)) != NULL)
    if (strncmp(e->d_name, "provider-state.json.tmp.", 24) == 0) n++;
  if (d) closedir(d);
  return n;
}

static void hex_key(const char *what, int i, char out[65]) {
  char text[64];
  snprintf(text, sizeof text, "%s-%d", what, i);
  lgw__sha256_hex(text, strlen(text), out);
}

/* Writes its own entry in a loop until killed. */
static void endless_writer(int w) {
  char ck[65], pk[65];
  int i;
  hex_key("killed-config", w, ck);
  alarm(CHILD_ALARM_S);
  for (i = 0;; i++) {
    hex_key("killed-provider", i, pk);
    lgw__state_remember(path, ck, pk);
  }
}

TEST(state_killed_writers_leave_nothing) {
  pid_t kids[KILL_WRITERS];
  int r, w, left = 0, status;
  char ck[65], pk[65];
  lgw__kvlist_t kv = {NULL, 0};
  unsigned seed = 7;
  for (r = 0; r < KILL_ROUNDS; r++) {
    struct timespec ts = {0, 0};
    fflush(NULL);
    for (w = 0; w < KILL_WRITERS; w++) {
      kids[w] = fork();
      ASSERT(kids[w] >= 0);
      if (kids[w] == 0) endless_writer(w);
    }
    seed = seed * 1103515245u + 12345u;
    ts.tv_nsec = 1000000L + (long)(seed >> 8) % 4000000L;
    nanosleep(&ts, NULL);
    for (w = 0; w < KILL_WRITERS; w++) {
      kill(kids[w], SIGKILL);
      ASSERT_EQ(waitpid(kids[w], &status, 0), kids[w]);
    }
    left += count_temps();
  }
  if (getenv("TEST_VERBOSE"))
    fprintf(stderr, "  temp files seen after the %d kills: %d\n",
            KILL_ROUNDS * KILL_WRITERS, left);
  /* the next writer cleans up */
  hex_key("last-config", 0, ck);
  hex_key("last-provider", 0, pk);
  lgw__state_remember(path, ck, pk);
  ASSERT_EQ(count_temps(), 0);
  ASSERT_EQ(lgw__state_load(path, &kv, NULL), 0);
  ASSERT_STREQ(lgw__kvlist_get_ci(&kv, ck), pk);
  ASSERT_STREQ(lgw__kvlist_get_ci(&kv, config_key[0]), winner_key[0]);
  lgw__kvlist_free(&kv);
}

static void remove_dir(void) {
  DIR *d = opendir(dir);
  struct dirent *e;
  char p[512];
  while (d && (e = readdir(d)) != NULL) {
    if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, "..")) continue;
    snprintf(p, sizeof p, "%s/%s", dir, e->d_name);
    unlink(p);
  }
  if (d) closedir(d);
  rmdir(dir);
}

static void quiet_log(lgw_log_level_t level, const char *msg, void *ud) {
  (void)level;
  (void)msg;
  (void)ud;
}

int main(void) {
  const char *tmp = getenv("TMPDIR");
  lgw_set_log(quiet_log, NULL, LGW_LOG_DEBUG);
  snprintf(dir, sizeof dir, "%s/lgw-state-conc-XXXXXX",
           tmp && *tmp && strlen(tmp) < 32 ? tmp : "/tmp");
  if (!mkdtemp(dir) || sim_start(&sim, NULL) != 0) {
    fprintf(stderr, "setup failed (temp dir or simulator)\n");
    printf("RESULT 0 1\n");
    return 1;
  }
  snprintf(path, sizeof path, "%s/provider-state.json", dir);
  if (run_processes() != 0) {
    fprintf(stderr, "could not start the processes\n");
    test__failed++;
  } else {
    if (getenv("TEST_VERBOSE"))
      fprintf(stderr, "  %d x %d calls in %.2fs; reader: %s\n", NCHILD,
              NCALLS, took, reader_report);
    RUN(state_writers_all_succeeded);
    RUN(state_reader_never_saw_a_bad_file);
    RUN(state_sim_saw_every_attempt);
    RUN(state_final_file_exact);
    RUN(state_no_leftovers);
    RUN(state_killed_writers_leave_nothing);
  }
  sim_stop(&sim);
  remove_dir();
  return TEST_SUMMARY();
}
