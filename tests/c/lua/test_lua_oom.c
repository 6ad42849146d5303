/*
 * test_lua_oom.c -- the Lua binding when memory runs out: scripts (require
 * and a gateway, a call in a task, a batch with a failover, a stream, a
 * validation round) run again and again, with the n-th allocation failing,
 * for every n (a stride under valgrind) until one runs whole. Lua's own
 * allocator (lua_newstate's) fails the n-th allocation of the script and
 * every later one, or only the n-th; the library's (lgw_set_allocator)
 * fails the n-th and every later one. Each run either gives exactly the
 * output of a run with no limit or fails with a memory error ("not enough
 * memory", "out of memory"); then lua_close frees everything (run it under
 * ASan or valgrind) and the next state of the same process works.
 */
#include <lauxlib.h>
#include <lualib.h>

#include "lgw_lua.h"
#include "sim_support.h"
#include "test.h"

static sim_t sim;
static long recovered;  /* runs whose script caught a memory error */

/* ---- allocators ------------------------------------------------------ */

static int armed;        /* a script is running under the limit */
static long lua_left;    /* Lua allocations left before failing, or -1 */
static int lua_once;     /* 1: only that one fails */
static int lua_failed;   /* ... so far */
static long lua_count;   /* Lua allocations while armed */
static long lgw_left = -1;  /* the library's: the same, always sticky */
static long lgw_count;

static void *l_alloc(void *ud, void *ptr, size_t osize, size_t nsize) {
  (void)ud;
  if (nsize == 0) {
    free(ptr);
    return NULL;
  }
  /* only growing requests count (Lua assumes shrinking never fails) */
  if (armed && (ptr == NULL || nsize > osize)) {
    lua_count++;
    if (lua_left == 0) {
      /* once: that one and Lua's retry after its emergency collection */
      if (lua_once && ++lua_failed == 2) lua_left = -1;
      return NULL;
    }
    if (lua_left > 0) lua_left--;
  }
  return realloc(ptr, nsize);
}

static long lgw_live;  /* the library's blocks not freed */

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
  (void)level;
  (void)msg;
  (void)ud;
}

/* ---- scripts --------------------------------------------------------- */

/* Run before each scenario, with no limit: out(v) formats a result. */
static const char prelude[] =
    "local keys = {'text', 'task', 'normalized_model', 'finish_reason',\n"
    "  'requested_model', 'code'}\n"
    "local function usage(u)\n"
    "  if not u then return '-' end\n"
    "  return (u.input_tokens or '?') .. '/' .. (u.output_tokens or '?')\n"
    "end\n"
    "function out(r)\n"
    "  if type(r) ~= 'table' then return tostring(r) end\n"
    "  if r.code == 'nomem' or r.code and r.message:find('out of memory')\n"
    "  then error(r) end\n"
    "  local s = {}\n"
    "  for _, k in ipairs(keys) do\n"
    "    if r[k] ~= nil then s[#s + 1] = k .. '=' .. tostring(r[k]) end\n"
    "  end\n"
    "  if r.code then s[#s + 1] = 'message=' .. r.message end\n"
    "  s[#s + 1] = 'usage=' .. usage(r.usage)\n"
    "  s[#s + 1] = 'total=' .. usage(r.usage_total)\n"
    "  if r.provider then s[#s + 1] = 'provider=' .. r.provider.index end\n"
    "  for i, a in ipairs(r.attempts or {}) do\n"
    "    s[#s + 1] = ('a%d=%d:%s:%s'):format(i, a.provider_index,\n"
    "      a.status, tostring(a.code))\n"
    "  end\n"
    "  return table.concat(s, ' ')\n"
    "end\n"
    "function user(text) return {{role = 'user', content = text}} end\n"
    "config = {\n"
    "  providers = {\n"
    "    {provider_type = 'openai', api_style = 'openai_chat',\n"
    "     base_url = BASE, api_key = 'sk-1'},\n"
    "    {provider_type = 'anthropic', api_style = 'anthropic',\n"
    "     base_url = BASE, api_key = 'sk-2'}},\n"
    "  settings = {fallback_model = 'm', retry_max = 1},\n"
    "}\n";

/* A scenario: setup (no limit; may be NULL) then the script under the
 * limit, which returns a string. */
typedef struct scenario {
  const char *name;
  int require;        /* the setup requires the module and makes gw */
  const char *script;
} scenario_t;

static const char setup_gw[] =
    "llm = require('llmgateway')\n"
    "events = 0\n"
    "gw = assert(llm.Gateway(config, {no_state = true,\n"
    "  on_event = function(ev) events = events + #ev.type end}))\n";

static const scenario_t s_gateway = {
    "gateway", 0,
    "local llm = require('llmgateway')\n"
    "local gw = assert(llm.Gateway(config, {no_state = true}))\n"
    "local n = gw.runtime.provider_count\n"
    "gw:close()\n"
    "return 'providers=' .. n\n"};

static const scenario_t s_call = {
    "call", 1,
    "return llm.run(function()\n"
    "  local r = assert(gw:call{task = 't', messages = user('hello there'),\n"
    "                           max_tokens = 50})\n"
    "  return out(r)\n"
    "end)\n"};

static const scenario_t s_batch = {
    "batch", 1,
    "local reqs = {}\n"
    "for i = 1, 6 do\n"
    "  local text = 'item ' .. i\n"
    "  if i == 4 then text = '@sim status=401 times=1\\n' .. text end\n"
    "  reqs[i] = {task = 't', messages = user(text)}\n"
    "end\n"
    "local rs = gw:run_tasks(reqs)\n"
    "local s = {}\n"
    "for i, r in ipairs(rs) do s[i] = out(r.error or r) end\n"
    "return table.concat(s, '\\n')\n"};

static const scenario_t s_stream = {
    "stream", 1,
    "local parts = {}\n"
    "local r = assert(gw:stream('t', user('one two three four'),\n"
    "  function(text) parts[#parts + 1] = text end))\n"
    "return table.concat(parts, '|') .. ' ' .. out(r)\n"};

static const scenario_t s_retry = {
    "retry", 1,
    "local seen = 0\n"
    "local text, errors, info = gw:run_task_with_retry('t', user('check'),\n"
    "  function(t) seen = seen + 1\n"
    "    if seen == 1 then return 'too short' end end)\n"
    "assert(text, errors)\n"
    "return text .. ' ' .. #errors .. ' ' .. info.rounds .. ' ' .. seen\n"};

static const scenario_t s_tasks = {
    "tasks", 1,
    "local ts = {}\n"
    "for i = 1, 3 do\n"
    "  ts[i] = llm.spawn(function(q)\n"
    "    local text, err = gw:run_task('t', user(q))\n"
    "    return text or out(err)\n"
    "  end, 'q' .. i)\n"
    "end\n"
    "ts[4] = llm.spawn(function() return 'never' end)\n"
    "ts[4]:cancel()\n"
    "local s = {}\n"
    "for i, r in ipairs(llm.gather(ts)) do\n"
    "  if not r.ok and tostring(r.error):find('memory') then\n"
    "    error(r.error)\n"
    "  end\n"
    "  s[i] = tostring(r.ok) .. ':' .. out(r[1] or r.error)\n"
    "end\n"
    "return table.concat(s, '\\n')\n"};

/* A memory error caught by the script: the state goes on as if there
 * had been none (no task lost or stuck, the loop whole). */
static const scenario_t s_recover = {
    "recover", 1,
    "local function once()\n"
    "  return llm.run(function()\n"
    "    return out(assert(gw:call{task = 't', messages = user('again')}))\n"
    "  end)\n"
    "end\n"
    "local ok, r = pcall(once)\n"
    "if not ok then\n"
    "  assert(tostring(r):find('memory'), r)\n"
    "  recovered = true\n"
    "  r = once()\n"
    "  local st = require('llmgateway.core')._stats()\n"
    "  -- every task ended and every call record was freed\n"
    "  assert(st.tasks == 0 and st.calls == 0, st.tasks .. ' ' .. st.calls)\n"
    "end\n"
    "return r\n"};

/* Tables with long keys (Lua strings that are not interned) to JSON and
 * to a configuration. */
static const scenario_t s_json = {
    "json", 1,
    "local long = string.rep('k', 50)\n"
    "local t = {[long .. 1] = {1, 2, {x = long}}, [long .. 2] = 'v',\n"
    "           [3] = true}\n"
    "local text = assert(llm.encode_json(t))\n"
    "local back = assert(llm.parse_json(text))\n"
    "local c = {providers = {{provider_type = 'openai',\n"
    "  api_style = 'openai_chat', base_url = BASE, api_key = 'sk-1',\n"
    "  extra_body = {[long] = {[long .. 3] = 1}}}},\n"
    "  settings = {fallback_model = 'm'}}\n"
    "local rt = assert(llm.runtime_spec_from_dict(c))\n"
    "return text .. ' ' .. back[long .. 2] .. ' ' .. rt.provider_count\n"};

/* The loop driven by step() (as from another event loop). */
static const scenario_t s_step = {
    "step", 1,
    "local core = require('llmgateway.core')\n"
    "local t = llm.spawn(function()\n"
    "  return out(assert(gw:call{task = 't', messages = user('stepped')}))\n"
    "end)\n"
    "while not t:done() do core.step() end\n"
    "return t:wait()\n"};

static lua_State *open_state(void) {
  lua_State *L = lua_newstate(l_alloc, NULL);
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
  lua_pushstring(L, sim.base);
  lua_setglobal(L, "BASE");
  return L;
}

static int run_code(lua_State *L, const char *code, const char *name) {
  int st = luaL_loadbuffer(L, code, strlen(code), name);
  return st != LUA_OK ? st : lua_pcall(L, 0, 1, 0);
}

/* A memory error: the status, or the text of the error value. */
static int memory_error(lua_State *L, int st) {
  const char *msg;
  if (st == LUA_ERRMEM) return 1;
  if (lua_istable(L, -1)) {  /* an error table of LGW_ENOMEM */
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

/* One run of scenario s with the limit (n < 0: none). Returns 1 when it
 * succeeded with *got (malloc'd) set, 0 when it failed with a memory
 * error, -1 otherwise (printed). */
static int run_once(const scenario_t *s, int kind, long n, char **got,
                    long *count) {
  long live = lgw_live;
  lua_State *L = open_state();
  int st, rc;
  *got = NULL;
  if (!L) return -1;
  sim_reset(&sim);
  if (run_code(L, prelude, "=prelude") != LUA_OK ||
      (s->require && run_code(L, setup_gw, "=setup") != LUA_OK)) {
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
  st = run_code(L, s->script, s->name);
  armed = 0;
  lua_left = lgw_left = -1;
  *count = kind == LIMIT_LGW ? lgw_count : lua_count;
  lua_getglobal(L, "recovered");
  recovered += lua_toboolean(L, -1);
  lua_pop(L, 1);
  if (st == LUA_OK && lua_isstring(L, -1)) {
    *got = strdup(lua_tostring(L, -1));
    rc = 1;
  } else if (st != LUA_OK && memory_error(L, st)) {
    rc = 0;
  } else {
    fprintf(stderr, "  %s at %ld: status %d: %s\n", s->name, n, st,
            luaL_tolstring(L, -1, NULL));
    rc = -1;
  }
  lua_close(L);
  if (lgw_live != live && n >= 0) {
    fprintf(stderr, "  %s at %ld: %ld block(s) of the library not freed\n",
            s->name, n, lgw_live - live);
    rc = -1;
  }
  return rc;
}

static long stride(long base) {
  return getenv("VALGRIND") ? base * 3 : base;
}

/* Runs s with the n-th allocation failing for n = 0, step, 2 step ...
 * until a run succeeds past the allocations of a run without a limit;
 * every success (a failed allocation may be one the script can do
 * without) gives the output of the run without a limit. */
static void sweep(const scenario_t *s, int kind, long step) {
  char *expected = NULL, *got = NULL;
  long n, count = 0, total = 0, runs = 0, failed = 0, bad = 0;
  /* OOM_AT=n: only that run (to debug it) */
  long first = getenv("OOM_AT") ? atol(getenv("OOM_AT")) : 0;
  int rc = run_once(s, kind, -1, &expected, &total);
  /* (the count varies a little with the collector's timing: a success
   * may need a few more) */
  long last = getenv("OOM_AT") ? first : 2 * total + 100;
  ASSERT_EQ(rc, 1);
  if (getenv("TEST_VERBOSE"))
    fprintf(stderr, "  %s/%d: %ld allocations: %s\n", s->name, kind, total,
            expected);
  for (n = first; n <= last; n += step) {
    rc = run_once(s, kind, n, &got, &count);
    runs++;
    if (rc < 0 && ++bad < 5) continue;  /* (printed) */
    if (rc < 0) break;
    if (rc == 1 && strcmp(got, expected) != 0) {
      fprintf(stderr, "  got:      %s\n  expected: %s\n", got, expected);
      free(got);
      free(expected);
      TEST__FAIL("%s: allocation %ld: a wrong success", s->name, n);
    }
    free(got);
    if (rc == 0) failed++;
    if (rc == 1 && n >= total) break;
  }
  free(expected);
  if (getenv("TEST_VERBOSE"))
    fprintf(stderr, "  %s/%d: %ld runs, %ld failed\n", s->name, kind, runs,
            failed);
  ASSERT_EQ(bad, 0);
  if (getenv("OOM_AT")) return;
  ASSERT(failed > 0);
  ASSERT_EQ(rc, 1);
}

/* OOM_ONLY=name: only that test */
static int want(const char *name) {
  const char *only = getenv("OOM_ONLY");
  return !only || strcmp(only, name) == 0;
}
#define RUN_IF(fn) \
  do { if (want(#fn)) RUN(fn); } while (0)

TEST(gateway_lua) { sweep(&s_gateway, LIMIT_LUA, stride(1)); }
TEST(gateway_lgw) { sweep(&s_gateway, LIMIT_LGW, stride(1)); }
TEST(call_lua) { sweep(&s_call, LIMIT_LUA, stride(1)); }
TEST(call_lua_once) { sweep(&s_call, LIMIT_LUA_ONCE, stride(1)); }
TEST(call_lgw) { sweep(&s_call, LIMIT_LGW, stride(1)); }
TEST(batch_lua) { sweep(&s_batch, LIMIT_LUA, stride(5)); }
TEST(batch_lgw) { sweep(&s_batch, LIMIT_LGW, stride(2)); }
TEST(stream_lua) { sweep(&s_stream, LIMIT_LUA, stride(1)); }
TEST(stream_lgw) { sweep(&s_stream, LIMIT_LGW, stride(2)); }
TEST(batch_lua_once) { sweep(&s_batch, LIMIT_LUA_ONCE, stride(5)); }
TEST(stream_lua_once) { sweep(&s_stream, LIMIT_LUA_ONCE, stride(1)); }
TEST(tasks_lua) { sweep(&s_tasks, LIMIT_LUA, stride(5)); }
TEST(tasks_lua_once) { sweep(&s_tasks, LIMIT_LUA_ONCE, stride(6)); }
TEST(tasks_lgw) { sweep(&s_tasks, LIMIT_LGW, stride(1)); }
TEST(recover_lua_once) {
  recovered = 0;
  sweep(&s_recover, LIMIT_LUA_ONCE, stride(1));
  ASSERT(recovered > 0);
}
TEST(json_lua) { sweep(&s_json, LIMIT_LUA, stride(1)); }
TEST(json_lgw) { sweep(&s_json, LIMIT_LGW, stride(1)); }
TEST(step_lua) { sweep(&s_step, LIMIT_LUA, stride(1)); }
TEST(step_lua_once) { sweep(&s_step, LIMIT_LUA_ONCE, stride(1)); }
TEST(retry_lua) { sweep(&s_retry, LIMIT_LUA, stride(5)); }
TEST(retry_lgw) { sweep(&s_retry, LIMIT_LGW, stride(1)); }

int main(void) {
  lgw_set_allocator(t_malloc, t_realloc, t_free);
  lgw_set_log(quiet, NULL, LGW_LOG_DEBUG);
  if (sim_start(&sim, NULL) != 0) FAIL_REST("cannot start the simulator");
  RUN_IF(gateway_lua);
  RUN_IF(gateway_lgw);
  RUN_IF(call_lua);
  RUN_IF(call_lua_once);
  RUN_IF(call_lgw);
  RUN_IF(batch_lua);
  RUN_IF(batch_lgw);
  RUN_IF(stream_lua);
  RUN_IF(stream_lgw);
  RUN_IF(batch_lua_once);
  RUN_IF(stream_lua_once);
  RUN_IF(tasks_lua);
  RUN_IF(tasks_lua_once);
  RUN_IF(tasks_lgw);
  RUN_IF(recover_lua_once);
  RUN_IF(json_lua);
  RUN_IF(json_lgw);
  RUN_IF(step_lua);
  RUN_IF(step_lua_once);
  RUN_IF(retry_lua);
  RUN_IF(retry_lgw);
  if (!test__rest_why) sim_stop(&sim);
  return TEST_SUMMARY();
}
