/*
 * test_lua_queue_oom.c -- the Lua binding of the work queue when memory
 * runs out: a script opens a queue on a real redis-server (loopback,
 * started and stopped here), pushes two jobs, serves them (one done, one
 * failed for good), waits for both outcomes, lists the results, reads the
 * counters and closes the queue -- again and again, with the n-th
 * allocation failing (a stride for the long runs, a larger one under
 * valgrind) until one runs whole. Lua's allocator fails the n-th
 * allocation and every later one, or only the n-th; the library's
 * (lgw_set_allocator) fails the n-th and every later one. Each run either
 * gives exactly the output of a run with no limit or fails with a memory
 * error (LUA_ERRMEM, "not enough memory", "out of memory", an error of
 * code "nomem"); lua_close then frees every block of the library, and the
 * next state of the same process works. A job whose delivery or outcome
 * could not be allocated is delivered again: it is never lost (the
 * script would time out) nor given two outcomes.
 */
#include <lauxlib.h>
#include <lualib.h>

#include "lgw_lua.h"
#include "redis_support.h"
#include "test.h"

static redis_srv_t srv;
static long qseq;  /* a fresh queue name per run */

/* ---- allocators (as in test_lua_oom.c) ------------------------------- */

static int armed;
static long lua_left;
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

static void quiet(lgw_log_level_t level, const char *msg, void *ud) {
  (void)ud;
  if (getenv("OOM_LOG")) fprintf(stderr, "  log %d: %s\n", (int)level, msg);
}

/* ---- the script ------------------------------------------------------ */

/* Run before each run, with no limit. */
static const char setup[] =
    "llm = require('llmgateway')\n"
    "function nomem(err)\n"
    "  if type(err) == 'table' and (err.code == 'nomem' or\n"
    "     tostring(err.message):find('out of memory')) then error(err) end\n"
    "  return err\n"
    "end\n"
    "function must(v, ...)\n"
    "  if v == nil then error(nomem(...)) end\n"
    "  return v, ...\n"
    "end\n"
    "function show(v)\n"
    "  if type(v) ~= 'table' then return tostring(v) end\n"
    "  local ks = {}\n"
    "  for k, x in pairs(v) do ks[#ks + 1] = tostring(k) .. '=' .. show(x)\n"
    "  end\n"
    "  table.sort(ks)\n"
    "  return '{' .. table.concat(ks, ',') .. '}'\n"
    "end\n"
    /* q:wait in short slices: a job retried after a shortage comes back
     * after the visibility timeout; a lost one fails the run, and so does
     * the server task's error (a memory error in its own allocations).
     * A job task that fails before its body runs (out of memory calling
     * it) leaves its Job to the collector, whose __gc hands the job back:
     * in a quiet script that needs a collection. */
    "function await(q, id, server)\n"
    "  for i = 1, 60 do\n"
    "    if server:done() then must(server:wait()) end\n"
    "    if i % 10 == 0 then collectgarbage() end\n"
    "    local v, err = q:wait(id, 0.05)\n"
    "    if v ~= nil then return 'ok ' .. show(v) end\n"
    "    if err.code ~= 'timeout' then\n"
    "      nomem(err)\n"
    "      return err.code .. ' ' .. err.error\n"
    "    end\n"
    "  end\n"
    "  error('job ' .. id .. ' never finished')\n"
    "end\n";

static const char script[] =
    "local q = must(llm.queue(URL, QNAME, {block = 0.01,\n"
    "  visibility_timeout = 0.1, max_deliveries = 50}))\n"
    "local ids = {must(q:push({n = 1})), must(q:push({n = 2}))}\n"
    "local server = llm.spawn(function()\n"
    "  return q:serve(function(req, gw, job)\n"
    "    if req.n == 2 then\n"
    "      return nil, {message = 'two is bad', retry = false}\n"
    "    end\n"
    "    return {got = req.n, twice = {req.n * 2, 'x'}}\n"
    "  end, {consumer = 'c'})\n"
    "end)\n"
    "local out = {await(q, ids[1], server), await(q, ids[2], server)}\n"
    "q:stop()\n"
    "local counts = must(server:wait())\n"
    "out[#out + 1] = 'served done=' .. counts.done ..\n"
    "  ' failed=' .. counts.failed\n"
    "local results, failed = must(q:results())\n"
    "out[#out + 1] = 'results ' .. show(results[ids[1]]) .. ' ' ..\n"
    "  tostring(results[ids[2]]) .. ' ' .. failed[ids[2]].code ..\n"
    "  ' ' .. failed[ids[2]].error .. ' ' .. tostring(failed[ids[1]])\n"
    "local st = must(q:stats())\n"
    "out[#out + 1] = ('stats %d %d %d %d'):format(st.length, st.in_flight,\n"
    "  st.done, st.failed)\n"
    "q:close()\n"
    "out[#out + 1] = tostring(q.closed)\n"
    "return table.concat(out, '\\n')\n";

static lua_State *open_state(void) {
  lua_State *L = lua_newstate(l_alloc, NULL);
  char name[32];
  if (!L) return NULL;
  luaL_openlibs(L);
  luaL_getsubtable(L, LUA_REGISTRYINDEX, LUA_PRELOAD_TABLE);
  lua_pushcfunction(L, luaopen_llmgateway_core);
  lua_setfield(L, -2, "llmgateway.core");
  lua_pop(L, 1);
  lua_getglobal(L, "package");
  lua_pushliteral(L, "./lua/?.lua;./lua/?/init.lua");
  lua_setfield(L, -2, "path");
  lua_pop(L, 1);
  lua_pushstring(L, srv.url);
  lua_setglobal(L, "URL");
  snprintf(name, sizeof name, "oom%ld", ++qseq);
  lua_pushstring(L, name);
  lua_setglobal(L, "QNAME");
  return L;
}

static int run_code(lua_State *L, const char *code, const char *name) {
  int st = luaL_loadbuffer(L, code, strlen(code), name);
  return st != LUA_OK ? st : lua_pcall(L, 0, 1, 0);
}

static int memory_error(lua_State *L, int st) {
  const char *msg;
  if (st == LUA_ERRMEM) return 1;
  if (lua_istable(L, -1)) {
    lua_getfield(L, -1, "code");
    if (lua_isstring(L, -1) && strcmp(lua_tostring(L, -1), "nomem") == 0)
      return 1;
    lua_pop(L, 1);
  }
  msg = luaL_tolstring(L, -1, NULL);
  return msg && (strstr(msg, "not enough memory") ||
                 strstr(msg, "out of memory"));
}

enum { LIMIT_LUA, LIMIT_LUA_ONCE, LIMIT_LGW };

/* One run with the limit (n < 0: none): 1 success (*got malloc'd), 0 a
 * memory error, -1 anything else (printed). */
static int run_once(int kind, long n, char **got, long *count) {
  long live = lgw_live;
  lua_State *L = open_state();
  int st, rc;
  *got = NULL;
  if (!L) return -1;
  if (run_code(L, setup, "=setup") != LUA_OK) {
    fprintf(stderr, "  setup: %s\n", lua_tostring(L, -1));
    lua_close(L);
    return -1;
  }
  lua_settop(L, 0);
  lua_count = lgw_count = 0;
  lua_left = kind == LIMIT_LGW ? -1 : n;
  lua_once = kind == LIMIT_LUA_ONCE;
  lua_failed = 0;
  lgw_left = kind == LIMIT_LGW ? n : -1;
  armed = 1;
  st = run_code(L, script, "=queue");
  armed = 0;
  lua_left = lgw_left = -1;
  *count = kind == LIMIT_LGW ? lgw_count : lua_count;
  if (st == LUA_OK && lua_isstring(L, -1)) {
    *got = strdup(lua_tostring(L, -1));
    rc = 1;
  } else if (st != LUA_OK && memory_error(L, st)) {
    rc = 0;
  } else {
    fprintf(stderr, "  %d at %ld: status %d: %s\n", kind, n, st,
            luaL_tolstring(L, -1, NULL));
    rc = -1;
  }
  lua_close(L);
  if (lgw_live != live && n >= 0) {
    fprintf(stderr, "  %d at %ld: %ld block(s) of the library not freed\n",
            kind, n, lgw_live - live);
    rc = -1;
  }
  return rc;
}

static long stride(long base, long valgrind) {
  return getenv("VALGRIND") ? valgrind : base;
}

/* n = first, first + step ... until a run succeeds past the allocations
 * of a run without a limit; each success gives the unlimited output. */
static void sweep(int kind, long step) {
  char *expected = NULL, *got = NULL;
  long n, count = 0, total = 0, runs = 0, failed = 0, bad = 0;
  long first = getenv("OOM_AT") ? atol(getenv("OOM_AT")) : 0;
  int rc = run_once(kind, -1, &expected, &total);
  long last = getenv("OOM_AT") ? first : 2 * total + 100;
  ASSERT_EQ(rc, 1);
  if (getenv("TEST_VERBOSE"))
    fprintf(stderr, "  queue/%d: %ld allocations:\n%s\n", kind, total,
            expected);
  for (n = first; n <= last; n += step) {
    rc = run_once(kind, n, &got, &count);
    runs++;
    if (rc < 0 && ++bad < 5) continue;
    if (rc < 0) break;
    if (rc == 1 && strcmp(got, expected) != 0) {
      fprintf(stderr, "  got:\n%s\n  expected:\n%s\n", got, expected);
      free(got);
      free(expected);
      TEST__FAIL("queue: allocation %ld: a wrong success", n);
    }
    free(got);
    if (rc == 0) failed++;
    if (rc == 1 && n >= total) break;
  }
  free(expected);
  if (getenv("TEST_VERBOSE"))
    fprintf(stderr, "  queue/%d: %ld runs, %ld failed\n", kind, runs,
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

TEST(queue_lua) { sweep(LIMIT_LUA, stride(9, 13)); }
TEST(queue_lua_once) { sweep(LIMIT_LUA_ONCE, stride(17, 23)); }
TEST(queue_lgw) { sweep(LIMIT_LGW, stride(3, 5)); }

int main(void) {
  lgw_set_allocator(t_malloc, t_realloc, t_free);
  lgw_set_log(quiet, NULL, LGW_LOG_DEBUG);
  if (!redis_installed()) {
    SKIP_REST("redis-server is not installed");
  } else if (redis_start(&srv, 0) != 0) {
    FAIL_REST("cannot start redis-server");
  } else {
    RUN_IF(queue_lua);
    RUN_IF(queue_lua_once);
    RUN_IF(queue_lgw);
    redis_stop(&srv);
  }
  return TEST_SUMMARY();
}
