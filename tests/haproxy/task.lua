-- Loaded by HAProxy (lua-load) for tests/lua/haproxy_spec.lua: a task of
-- HAProxy's (core.register_task) streams an answer from the simulator
-- ($SIM_BASE, slowed down to about a second) through the module's
-- fd/timeout/step hook, while a second task counts its 20 ms ticks.
-- Prints one line "RESULT lua=<_VERSION> ticks=N ms=N text=<deltas>|<answer>"
-- (or "ERROR ...") and ends the process.
local root = os.getenv("ROOT") or "."
package.path = root .. "/lua/?.lua;" .. root .. "/lua/?/init.lua;"
  .. package.path
package.cpath = (os.getenv("LLMGATEWAY_CPATH") or root .. "/build-lua5.3")
  .. "/?.so;" .. package.cpath

local llm = require("llmgateway")

local function finish(line)
  io.stdout:write(line, "\n")
  io.stdout:flush()
  os.exit(0)
end

local streaming = true
local ticks = 0

core.register_task(function()
  while streaming do
    ticks = ticks + 1
    core.msleep(20)
  end
end)

core.register_task(function()
  local ok, err = pcall(function()
    local gw = assert(llm.Gateway({
      providers = {{provider_type = "sim", api_style = "openai_chat",
                    base_url = os.getenv("SIM_BASE"), api_key = "k"}},
      settings = {fallback_model = "m"},
    }, {no_state = true}))
    local text, result, failure = "", nil, nil
    local t0 = core.now()
    gw:call_async({
      task = "t",
      messages = {{role = "user",
                   content = "@sim fault=slow slow_ms=1\none two three"}},
      on_delta = function(d) text = text .. d end,
    }, function(r, e)
      result, failure = r, e
    end)
    -- HAProxy's Lua cannot watch a descriptor: the task runs what is
    -- ready, then sleeps until the module's next timer, at most 10 ms
    -- (when it waits for its descriptor)
    local steps = 0
    while not result and not failure do
      llm.step()
      steps = steps + 1
      local wait = llm.timeout()
      core.msleep((wait < 0 or wait > 10) and 10 or wait)
    end
    streaming = false
    gw:close()
    if not result then
      return finish("ERROR " .. tostring(failure and failure.message))
    end
    local t1 = core.now()
    local ms = (t1.sec - t0.sec) * 1000 + math.floor((t1.usec - t0.usec) / 1000)
    finish(("RESULT lua=%s ticks=%d ms=%d steps=%d text=%s|%s"):format(
      _VERSION, ticks, ms, steps, text, result.text))
  end)
  if not ok then finish("ERROR " .. tostring(err)) end
end)
