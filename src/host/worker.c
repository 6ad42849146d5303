/*
 * worker.c -- worker mode: `llmgateway worker` consumes a work queue
 * with the pipeline function the script returns (its main task, in Lua,
 * below), until SIGTERM or SIGINT; then the jobs in hand finish within
 * settings.worker_grace.
 */
#include <stdio.h>

#include "host.h"

void host_print_worker_usage(FILE *f) {
  fprintf(f,
    "usage: %s worker --queue URL --name NAME [options] script.lua [args...]\n"
    "Consumes the jobs of queue NAME on the Redis at URL (redis://[[user]:\n"
    "password@]host[:port][/db]). The script's main chunk returns the\n"
    "pipeline function (or defines a global function `handle`):\n"
    "  function(request, gateway, job) ... return result end\n"
    "It runs as a task per job with the decoded request, a gateway built\n"
    "from the config (-c or LLMGATEWAY_CONFIG; nil without one) and\n"
    "job = {id=, delivery=, max_deliveries=}. Its value is the job's\n"
    "result (JSON); an error (raised, or nil, err) retries the job after\n"
    "the visibility timeout, and fails it for good on its last delivery\n"
    "(or at once when err.retry == false).\n"
    "\n"
    "Options:\n"
    "  --queue URL               the queue's Redis (default: the config's\n"
    "                            settings.state when it is a redis:// URL)\n"
    "  --name NAME               the queue's name (required)\n"
    "  --concurrency N           jobs run at once (default 8)\n"
    "  --visibility-timeout S    seconds before a job of a dead worker is\n"
    "                            taken over (default 30)\n"
    "  --max-deliveries N        deliveries before a job fails (default 5)\n"
    "  --prefix P                key prefix (default: settings.state_prefix)\n"
    "  --consumer ID             this worker's name (default host-pid)\n"
    "  -c CONFIG, --trace FILE, --progress, --no-progress, --log-level L\n"
    "                            as without `worker`\n"
    "\n"
    "SIGTERM or SIGINT: take no new jobs, let the jobs in hand finish\n"
    "within settings.worker_grace seconds (default 30; then they are\n"
    "interrupted), exit 143 (SIGTERM) or 130 (SIGINT); a second signal\n"
    "exits at once (unfinished jobs are delivered again after the\n"
    "visibility timeout).\n",
    host_progname);
}

/* set_grace(seconds): the worker's settings.worker_grace. */
static int l_set_grace(lua_State *L) {
  host.grace = luaL_checknumber(L, 1);
  return 0;
}

/* Worker mode's main task: worker(chunk, opts, args). */
static const char worker_runner[] =
  "local chunk, opts, args, set_grace = ...\n"
  "local llm = require('llmgateway')\n"
  "local handler = chunk(table.unpack(args, 1, args.n))\n"
  "if handler == nil then handler = rawget(_G, 'handle') end\n"
  "local mt = getmetatable(handler)\n"
  "if type(handler) ~= 'function' and not (type(mt) == 'table' and\n"
  "    mt.__call) then\n"
  "  error('the worker script must return its pipeline function '\n"
  "    .. '(or define a global function handle), not a '\n"
  "    .. type(handler), 0)\n"
  "end\n"
  "local gw\n"
  "local path = llm.resolve_user_config_file()\n"
  "local f = io.open(path)\n"
  "if f then\n"
  "  f:close()\n"
  "  local rt = assert(llm.load_runtime_spec(path))\n"
  "  gw = assert(llm.Gateway(rt))\n"
  "  set_grace(rt.worker_grace)\n"
  "end\n"
  "local url = opts.url or (gw and gw.runtime.state)\n"
  "if not url then\n"
  "  error('worker: no queue URL: give --queue redis://... (or set '\n"
  "    .. 'settings.state in the config)', 0)\n"
  "end\n"
  "local q = assert(llm.queue(url, opts.name, {\n"
  "  prefix = opts.prefix or (gw and gw.runtime.state_prefix),\n"
  "  concurrency = opts.concurrency, max_deliveries = opts.max_deliveries,\n"
  "  visibility_timeout = opts.visibility_timeout}))\n"
  "assert(q:serve(handler, {consumer = opts.consumer, gateway = gw}))\n"
  "q:close()\n"
  "if gw then gw:close() end\n";

void host_push_worker_runner(lua_State *L) {
  if (luaL_loadbuffer(L, worker_runner, sizeof worker_runner - 1,
                      "=llmgateway worker") != LUA_OK)
    lua_error(L);
}

void host_spawn_worker(lua_State *L, const host_args_t *a, int task) {
  /* worker_runner(chunk, options, args, set_grace) */
  lua_rawgeti(L, task + 1, 1);
  lua_pushvalue(L, a->wopts);
  lua_pushvalue(L, task + 3);
  lua_pushcfunction(L, l_set_grace);
  lua_pushvalue(L, task);
  lua_insert(L, -5);
  lgw_lua_spawn(L, 4);
  lua_replace(L, task);
  lua_settop(L, task);
}
