-- Specs for the time limit wherever user Lua code runs for the library
-- without yielding: validators (and xpcall message handlers inside them),
-- __tostring of the error objects converted to text, on_delta and
-- on_event. A function that never returns is cut short, and the error
-- names its source:line.
package.path = "./tests/lua/?.lua;" .. package.path
local llm = require("llmgateway")
local core = require("llmgateway.core")
local spec = require("support.spec")
local socket = require("socket")

local user = spec.user
local now = socket.gettime

describe("time limits", function()
  local s = spec.sim()
  local gw

  lazy_setup(function()
    gw = assert(llm.Gateway({
      providers = {{provider_type = "openai", api_style = "openai_chat",
                    base_url = s.base, api_key = "sk-limits"}},
      settings = {fallback_model = "m", retry_max = 0},
    }, {no_state = true, validator_timeout = 0.3}))
  end)
  lazy_teardown(function() gw:close() end)
  after_each(function()
    assert.equal("echo(m): ok", gw:run_task("t", user("ok")))
    assert.equal(0, core._stats().calls)
    assert.is_nil(debug.gethook())
  end)

  it("an xpcall message handler that never returns is cut short", function()
    local t0 = now()
    local _, err = gw:run_task_with_retry("t", user("q"), function()
      xpcall(function() error("first") end, function() while true do end end)
      while true do end
    end)
    assert.equal("validator", err.code)
    assert.matches("time limit", err.message)
    assert.is_true(now() - t0 < 5)
  end)

  it("a __tostring that never returns is cut short", function()
    local line = debug.getinfo(1, "l").currentline + 1
    local _, err = gw:run_task_with_retry("t", user("q"), function()
      error(setmetatable({}, {__tostring = function() while true do end end}))
    end)
    assert.equal("validator", err.code)
    assert.equal("validator did not finish within its time limit "
      .. "(validator_timeout = 0.3 s; function at "
      .. "tests/lua/time_limits_spec.lua:" .. line .. ")", err.message)
  end)

  it("a validator's error object with __tostring gives its text", function()
    local _, err = gw:run_task_with_retry("t", user("q"), function()
      error(setmetatable({}, {__tostring = function() return "mine" end}))
    end)
    assert.equal("validator raised an error: mine", err.message)
  end)

  it("on_delta that never returns cancels its request", function()
    local t0 = now()
    local line = debug.getinfo(1, "l").currentline + 1
    local r, err = gw:stream("t", user("q"), function() while true do end end)
    assert.is_nil(r)
    assert.equal("callback", err.code)
    assert.matches("on_delta raised an error: time limit of 0.3 s exceeded "
      .. "(function at tests/lua/time_limits_spec.lua:" .. line .. ")",
      err.message, 1, true)
    assert.is_true(now() - t0 < 5)
  end)

  it("on_event that never returns is cut short and logged", function()
    local lines = {}
    llm.set_log(function(_, msg) lines[#lines + 1] = msg end)
    local g = assert(llm.Gateway({
      providers = {{provider_type = "openai", api_style = "openai_chat",
                    base_url = s.base, api_key = "sk-limits"}},
      settings = {fallback_model = "m", retry_max = 0},
    }, {no_state = true, validator_timeout = 0.2, on_event = function(ev)
      if ev.type == "request_end" then while true do end end
    end}))
    local t0 = now()
    assert.equal("echo(m): hi", g:run_task("t", user("hi")))
    g:close()
    llm.set_log(nil)
    assert.is_true(now() - t0 < 5)
    assert.equal(1, #lines)
    assert.matches("^on_event raised an error %(ignored%): time limit of "
      .. "0%.2 s exceeded %(function at tests/lua/time_limits_spec%.lua:%d+%)$",
      lines[1])
  end)

  it("a loop compiled before the validator ran is cut short too",
     function()
    -- LuaJIT compiles spin's loop here; it runs no hooks in compiled
    -- code, so its compiler is off (its code flushed) while a limit runs,
    -- and on again afterwards
    local function spin(n)
      local x = 0
      for i = 1, n do x = x + i end
      return x
    end
    for _ = 1, 300 do spin(1000) end
    local compiling
    local t0 = now()
    local _, err = gw:run_task_with_retry("t", user("q"), function()
      compiling = jit and jit.status()
      spin(2 ^ 60)
    end)
    assert.equal("validator", err.code)
    assert.matches("time limit", err.message)
    assert.is_true(now() - t0 < 5)
    if jit then
      assert.is_false(compiling)
      assert.is_true((jit.status()))
    end
  end)

  it("a debug hook set before overlapping limits is back after them",
     function()
    -- (LuaJIT has one hook for all coroutines)
    local function hook() end
    debug.sethook(hook, "", 1000000)
    local a = llm.spawn(function()
      return gw:run_task_with_retry("t", user("a"), function()
        llm.sleep(0.05)
      end)
    end)
    local b = llm.spawn(function()
      return gw:run_task_with_retry("t", user("b"), function()
        llm.sleep(0.2)
      end)
    end)
    local ra, rb = a:wait(), b:wait()
    local h, mask, count = debug.gethook()
    debug.sethook()
    assert.equal("echo(m): a", ra)
    assert.equal("echo(m): b", rb)
    assert.equal(hook, h)
    assert.equal("", mask)
    assert.equal(1000000, count)
  end)

  it("a failed task's error object with a __tostring that never returns",
     function()
    local t0 = now()
    local t = llm.spawn(function()
      error(setmetatable({}, {__tostring = function() while true do end end}))
    end)
    local ok = pcall(t.wait, t)
    assert.is_false(ok)
    assert.is_true(now() - t0 < 5)
  end)
end)
