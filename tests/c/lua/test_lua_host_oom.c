/*
 * test_lua_host_oom.c -- the bundled host (src/host/, compiled in here
 * with its main renamed) when memory runs out: `llmgateway -e CODE
 * --log-level error --progress script.lua a b` runs in this process again and again
 * with the n-th allocation failing (Lua's allocator: from n on, or only
 * the n-th; the library's: from n on), for every n (a stride; a larger
 * one under valgrind) until a run succeeds. Each run either writes
 * exactly the output of a run with no limit and exits 0, or exits 1
 * with a memory error on stderr ("not enough memory", "out of memory");
 * every block of the library is freed, and SIGINT is left as it was
 * (the host's handler would otherwise run on a closed state).
 */
#include <signal.h>
#include <sys/time.h>
#include <unistd.h>

#include <lauxlib.h>
#include <lualib.h>

#include "lgw_lua.h"
#include "test.h"

/* ---- allocators (as in test_lua_oom.c) ------------------------------- */

static int armed;
static long lua_left = -1;
static int lua_once;
static int lua_failed;
static long lua_count;
static long lgw_left = -1;
static long lgw_count;

static void *l_alloc(void *ud, void *ptr, size_t osize, size_t nsize) {
  (void)ud;
  if (nsize == 0) {
    free(ptr);
    return NULL;
  }
  if (armed && (ptr == NULL || nsize > osize)) {
    lua_count++;
    if (lua_left == 0) {
      if (lua_once && ++lua_failed == 2) lua_left = -1;
      return NULL;
    }
    if (lua_left > 0) lua_left--;
  }
  return realloc(ptr, nsize);
}

static long lgw_live;

static int spend(void) {
  if (!armed) return 1;
  lgw_count++;
  if (lgw_left == 0) return 0;
  if (lgw_left > 0) lgw_left--;
  return 1;
}
static void *t_malloc(size_t n) {
  void *p = spend() ? malloc(n) : NULL;
  if (p) lgw_live++;
  return p;
}
static void *t_realloc(void *p, size_t n) {
  void *q = spend() ? realloc(p, n) : NULL;
  if (q && !p) lgw_live++;
  return q;
}
static void t_free(void *p) {
  if (p) lgw_live--;
  free(p);
}

/* ---- the host, in this process --------------------------------------- */

static lua_State *new_state(void) { return lua_newstate(l_alloc, NULL); }

int host_main(int argc, char **argv);
#define main host_main
#define luaL_newstate new_state
#include "../../../src/host/main.c"
#undef luaL_newstate
#undef main
#include "../../../src/host/args.c"
#include "../../../src/host/report.c"
#include "../../../src/host/script.c"
#include "../../../src/host/signals.c"
#include "../../../src/host/worker.c"

static char script_path[64] = "";

static const char script[] =
    "local a, b = ...\n"
    "local llm = require('llmgateway')\n"
    "local ts = {}\n"
    "for i = 1, 3 do\n"
    "  ts[i] = llm.spawn(function(x) llm.sleep(0.001 * i)\n"
    "    return x .. i end, a)\n"
    "end\n"
    "local s = {}\n"
    "for i, r in ipairs(llm.gather(ts)) do\n"
    "  if not r.ok then error(r.error, 0) end\n"
    "  s[i] = r[1]\n"
    "end\n"
    "local j = assert(llm.encode_json({x = X, s = s, b = b, n = #arg}))\n"
    "io.write(j, '\\n')\n"
    "print(arg[0] == SCRIPT, select('#', ...))\n";

/* The text written to f (malloc'd); f is emptied. */
static char *slurp(FILE *f) {
  int fd = fileno(f);
  off_t n = lseek(fd, 0, SEEK_END);
  char *s = calloc(1, (size_t)(n > 0 ? n : 0) + 1);
  if (n > 0 && pread(fd, s, (size_t)n, 0) != (ssize_t)n) s[0] = '\0';
  if (ftruncate(fd, 0) != 0 || lseek(fd, 0, SEEK_SET) != 0) s[0] = '\0';
  return s;
}

enum { LIMIT_LUA, LIMIT_LUA_ONCE, LIMIT_LGW };

static FILE *out_f, *err_f;

/* One run (n < 0: no limit): 1 exit 0 with *got (stdout) set, 0 exit 1
 * with a memory error, -1 anything else (printed). */
static int run_once(int kind, long n, char **got, long *count) {
  static char a0[] = "llmgateway", a1[] = "-e", a2[] = "X = 40 + 2",
              a3[] = "--log-level", a4[] = "error", a5[] = "--progress",
              a7[] = "A", a8[] = "B";
  char *argv[] = {a0, a1, a2, a3, a4, a5, script_path, a7, a8, NULL};
  long live = lgw_live;
  int status, saved_out, saved_err, rc;
  struct sigaction sa;
  struct itimerval off;
  char *err;
  memset(&host, 0, sizeof host);
  host.grace = 30.0;
  fflush(stdout);
  fflush(stderr);
  saved_out = dup(1);
  saved_err = dup(2);
  dup2(fileno(out_f), 1);
  dup2(fileno(err_f), 2);
  lua_count = lgw_count = 0;
  lua_left = kind == LIMIT_LGW ? -1 : n;
  lua_once = kind == LIMIT_LUA_ONCE;
  lua_failed = 0;
  lgw_left = kind == LIMIT_LGW ? n : -1;
  armed = 1;
  status = host_main(9, argv);
  armed = 0;
  lua_left = lgw_left = -1;
  *count = kind == LIMIT_LGW ? lgw_count : lua_count;
  /* the host's bound on finalizers at exit: not here */
  sigaction(SIGINT, NULL, &sa);
  memset(&off, 0, sizeof off);
  setitimer(ITIMER_REAL, &off, NULL);
  signal(SIGALRM, SIG_DFL);
  fflush(stdout);
  fflush(stderr);
  dup2(saved_out, 1);
  dup2(saved_err, 2);
  close(saved_out);
  close(saved_err);
  lgw_set_log(NULL, NULL, LGW_LOG_ERROR);
  *got = slurp(out_f);
  err = slurp(err_f);
  if (status == 0 && !err[0]) {
    rc = 1;
  } else if (status == 1 && (strstr(err, "not enough memory") ||
                             strstr(err, "out of memory"))) {
    rc = 0;
  } else {
    fprintf(stderr, "  %d at %ld: exit %d: %s\n", kind, n, status, err);
    rc = -1;
  }
  free(err);
  if (sa.sa_handler != SIG_DFL) {
    fprintf(stderr, "  %d at %ld: SIGINT is still caught\n", kind, n);
    signal(SIGINT, SIG_DFL);
    rc = -1;
  }
  if (lgw_live != live && n >= 0) {
    fprintf(stderr, "  %d at %ld: %ld block(s) of the library not freed\n",
            kind, n, lgw_live - live);
    rc = -1;
  }
  if (rc != 1) {
    free(*got);
    *got = NULL;
  }
  return rc;
}

static long stride(long base, long valgrind) {
  return getenv("VALGRIND") ? valgrind : base;
}

static void sweep(int kind, long step) {
  char *expected = NULL, *got = NULL;
  long n, count = 0, total = 0, runs = 0, failed = 0, bad = 0;
  long first = getenv("OOM_AT") ? atol(getenv("OOM_AT")) : 0;
  int rc = run_once(kind, -1, &expected, &total);
  long last = getenv("OOM_AT") ? first : 2 * total + 100;
  ASSERT_EQ(rc, 1);
  if (getenv("TEST_VERBOSE"))
    fprintf(stderr, "  host/%d: %ld allocations: %s", kind, total,
            expected);
  for (n = first; n <= last; n += step) {
    rc = run_once(kind, n, &got, &count);
    runs++;
    if (rc < 0 && ++bad < 5) continue;
    if (rc < 0) break;
    if (rc == 1 && strcmp(got, expected) != 0) {
      fprintf(stderr, "  got:      %s  expected: %s", got, expected);
      free(got);
      free(expected);
      TEST__FAIL("host: allocation %ld: a wrong success", n);
    }
    free(got);
    if (rc == 0) failed++;
    if (rc == 1 && n >= total) break;
  }
  free(expected);
  if (getenv("TEST_VERBOSE"))
    fprintf(stderr, "  host/%d: %ld runs, %ld failed\n", kind, runs,
            failed);
  ASSERT_EQ(bad, 0);
  if (getenv("OOM_AT")) return;
  ASSERT(failed > 0);
  ASSERT_EQ(rc, 1);
}

static int want(const char *name) {
  const char *only = getenv("OOM_ONLY");
  return !only || strcmp(only, name) == 0;
}
#define RUN_IF(fn) \
  do { if (want(#fn)) RUN(fn); } while (0)

TEST(host_lua) { sweep(LIMIT_LUA, stride(1, 13)); }
TEST(host_lua_once) { sweep(LIMIT_LUA_ONCE, stride(1, 17)); }
TEST(host_lgw) { sweep(LIMIT_LGW, stride(1, 3)); }

int main(void) {
  FILE *f;
  int fd;
  strcpy(script_path, "/tmp/lgw_host_oom_XXXXXX");
  fd = mkstemp(script_path);
  f = fd >= 0 ? fdopen(fd, "w") : NULL;
  out_f = tmpfile();
  err_f = tmpfile();
  if (!f || !out_f || !err_f) {
    FAIL_REST("cannot make temporary files");
    return TEST_SUMMARY();
  }
  fprintf(f, "SCRIPT = '%s'\n%s", script_path, script);
  fclose(f);
  lgw_set_allocator(t_malloc, t_realloc, t_free);
  setenv("LUA_PATH", "./lua/?.lua;./lua/?/init.lua;;", 1);
  RUN_IF(host_lua);
  RUN_IF(host_lua_once);
  RUN_IF(host_lgw);
  unlink(script_path);
  fclose(out_f);
  fclose(err_f);
  return TEST_SUMMARY();
}
