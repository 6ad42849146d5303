-- lua_client.lua -- llmgateway driven from Lua, for the benchmark. Runs
-- under plain lua5.4 (package paths pointing at ./build and ./lua) and
-- under the bundled host (build/llmgateway lua_client.lua).
--
-- Environment: BENCH_BASE (provider base URL), BENCH_N, BENCH_C, BENCH_TMP
-- (state file directory) and BENCH_MODE:
--   load  spawn BENCH_N tasks, each one gw:run_task_with_retry with a
--         trivial validator; max_concurrent BENCH_C
--   seq   BENCH_N calls one after the other, no tasks
--   big   BENCH_N run_task calls (text), then BENCH_N run_json_task
--         calls (text and JSON), one at a time
--   batch one gw:run_tasks of BENCH_N requests, each with its own message
--         list; every result is kept until the batch returns
--   tasks BENCH_N tasks spawned at once, each one gw:call with its own
--         message list and a check of r.text; a task keeps nothing
-- Prints "BENCH ..." lines.
local llm = require("llmgateway")
local system = require("system")

local function status_kb(field)
  local f = io.open("/proc/self/status")
  if not f then return 0 end
  local s = f:read("a")
  f:close()
  return tonumber(s:match(field .. ":%s*(%d+)")) or 0
end

local function report(what, n, ok, t0, c0, rss0)
  print(string.format(
    "BENCH what=%s n=%d ok=%d wall=%.6f cpu=%.6f rss0=%d rss=%d",
    what, n, ok, system.monotime() - t0, os.clock() - c0, rss0,
    status_kb("VmHWM")))
  io.stdout:flush()
end

local base = os.getenv("BENCH_BASE") or "http://127.0.0.1:8080/v1"
local mode = os.getenv("BENCH_MODE") or "load"
local n = tonumber(os.getenv("BENCH_N") or "1000")
local conc = math.min(tonumber(os.getenv("BENCH_C") or "64"), n)
local tmp = os.getenv("BENCH_TMP") or "/tmp"

local runtime = assert(llm.runtime_spec_from_dict({
  version = 1,
  providers = {{provider_type = "openai", api_style = "openai_chat",
                base_url = base, api_key = "bench-key"}},
  settings = {fallback_model = "bench-model", max_concurrent = conc,
              timeout = 120, transport_retries = 1},
}))
local gw = llm.Gateway(runtime, {state_file = tmp .. "/lua-state.json"})
local messages = {{role = "user", content = "Reply with ok."}}

local function validator(text)
  if text:find("ok", 1, true) then return nil end
  return {"missing ok"}
end

local function run_load()
  local ok, tasks = 0, {}
  local rss0 = status_kb("VmRSS")
  local t0, c0 = system.monotime(), os.clock()
  for i = 1, n do
    tasks[i] = llm.spawn(function()
      local text = gw:run_task_with_retry("bench", messages, validator)
      if text then ok = ok + 1 end
    end)
  end
  for i = 1, n do tasks[i]:wait() end
  report("lua", n, ok, t0, c0, rss0)
end

local function run_seq()
  local ok = 0
  local rss0 = status_kb("VmRSS")
  local t0, c0 = system.monotime(), os.clock()
  for _ = 1, n do
    if gw:run_task_with_retry("bench", messages, validator) then
      ok = ok + 1
    end
  end
  report("lua_seq", n, ok, t0, c0, rss0)
end

local function run_big()
  assert(gw:run_task("bench", messages))  -- opens the connection
  local ok = 0
  local t0, c0 = system.monotime(), os.clock()
  for _ = 1, n do
    local text = gw:run_task("bench", messages)
    if text and #text > 0 then ok = ok + 1 end
  end
  report("big_lua_text", n, ok, t0, c0, 0)
  ok = 0
  t0, c0 = system.monotime(), os.clock()
  for _ = 1, n do
    local res = gw:run_json_task("bench", messages)
    if res and type(res.data) == "table" then ok = ok + 1 end
  end
  report("big_lua_json", n, ok, t0, c0, 0)
end

local function run_batch()
  local requests = {}
  for i = 1, n do
    requests[i] = {task = "bench",
                   messages = {{role = "user", content = "Reply with ok. " .. i}}}
  end
  local rss0 = status_kb("VmRSS")
  local t0, c0 = system.monotime(), os.clock()
  local results = gw:run_tasks(requests)
  local ok = 0
  for i = 1, n do
    local r = results[i]
    if r and not r.error and r.text:find("ok", 1, true) then ok = ok + 1 end
  end
  report("lua_batch", n, ok, t0, c0, rss0)
end

local function run_tasks()
  local ok, tasks = 0, {}
  local rss0 = status_kb("VmRSS")
  local t0, c0 = system.monotime(), os.clock()
  for i = 1, n do
    tasks[i] = llm.spawn(function()
      local r = gw:call({task = "bench",
                         messages = {{role = "user",
                                      content = "Reply with ok. " .. i}}})
      if r and r.text:find("ok", 1, true) then ok = ok + 1 end
    end)
  end
  for i = 1, n do tasks[i]:wait() end
  report("lua_tasks", n, ok, t0, c0, rss0)
end

local run = ({load = run_load, seq = run_seq, big = run_big,
              batch = run_batch, tasks = run_tasks})[mode]
if mode == "seq" or coroutine.isyieldable() then
  run()
else
  llm.run(run)
end
