-- Specs for the "source:line" that a time limit's errors give for the
-- limited function (on Lua 5.3 and 5.4 it is looked up only when an error
-- needs it): the function itself, wherever the limit catches it running
-- (in the function, in a function it calls, under a pcall, in a coroutine
-- it made, in its error object's __tostring), or the __call function of
-- a callable table.
package.path = "./tests/lua/?.lua;" .. package.path
local llm = require("llmgateway")
local core = require("llmgateway.core")
local spec = require("support.spec")

local user = spec.user
local HERE = "tests/lua/limit_names_spec.lua:"

-- The line where the next function starts (the line after the call).
local function next_line()
  return debug.getinfo(2, "l").currentline + 1
end

describe("time limit names", function()
  local s = spec.sim()
  local gw

  lazy_setup(function()
    gw = assert(llm.Gateway({
      providers = {{provider_type = "openai", api_style = "openai_chat",
                    base_url = s.base, api_key = "sk-names"}},
      settings = {fallback_model = "m", retry_max = 0},
    }, {no_state = true, validator_timeout = 0.2}))
  end)
  lazy_teardown(function() gw:close() end)
  after_each(function()
    assert.equal(0, core._stats().calls)
    assert.is_nil(debug.gethook())
  end)

  local function timeout_message(line)
    return "validator did not finish within its time limit "
      .. "(validator_timeout = 0.2 s; function at " .. HERE .. line .. ")"
  end

  it("a loop in a function the validator calls", function()
    local function spin() while true do end end
    local line = next_line()
    local _, err = gw:run_task_with_retry("t", user("q"), function()
      spin()
    end)
    assert.equal(timeout_message(line), err.message)
  end)

  it("a loop under a pcall inside the validator", function()
    local line = next_line()
    local _, err = gw:run_task_with_retry("t", user("q"), function()
      pcall(function() while true do end end)
    end)
    assert.equal(timeout_message(line), err.message)
  end)

  it("a loop in a coroutine the validator made", function()
    local line = next_line()
    local _, err = gw:run_task_with_retry("t", user("q"), function()
      coroutine.wrap(function() while true do end end)()
    end)
    assert.equal(timeout_message(line), err.message)
  end)

  it("a validator that waits past its limit, in a task", function()
    local err
    local line
    llm.run(function()
      line = next_line()
      _, err = gw:run_task_with_retry("t", user("q"), function()
        llm.sleep(1)
      end)
    end)
    assert.equal(timeout_message(line), err.message)
  end)

  it("a callable table: its __call function", function()
    local line = next_line()
    local v = setmetatable({}, {__call = function()
      while true do end
    end})
    local _, err = gw:run_task_with_retry("t", user("q"), v)
    assert.equal(timeout_message(line), err.message)
  end)

  it("_call_limited's own results, in and out of a task", function()
    local line = next_line()
    local function spin() while true do end end
    local ok, e, timed_out, where = core._call_limited(0.05, spin)
    assert.same({false, "time limit of 0.05 s exceeded", true,
                 HERE .. line}, {ok, e, timed_out, where})
    line = next_line()
    local function nap() llm.sleep(1) end
    llm.run(function()
      ok, e, timed_out, where = core._call_limited(0.05, nap)
    end)
    assert.same({false, "time limit of 0.05 s exceeded", true,
                 HERE .. line}, {ok, e, timed_out, where})
    -- an error of the function's own: named too
    ok, e, timed_out, where = core._call_limited(1, error, "x", 0)
    assert.same({false, "x", false, "[C]:-1"}, {ok, e, timed_out, where})
    line = next_line()
    local function raise() error("y", 0) end
    ok, e, timed_out, where = core._call_limited(1, raise)
    assert.same({false, "y", false, HERE .. line}, {ok, e, timed_out, where})
    -- accepted: no name
    assert.same({true, 1, 2}, {core._call_limited(1, function()
      return 1, 2
    end)})
  end)

  it("nested limits name their own functions", function()
    local inner_line, outer_line
    local seen
    outer_line = next_line()
    local _, err = gw:run_task_with_retry("t", user("q"), function()
      inner_line = next_line()
      local ok, e, to, where = core._call_limited(0.05, function()
        while true do end
      end)
      seen = {ok, e, to, where}
    end)
    assert.same({false, "time limit of 0.05 s exceeded", true,
                 HERE .. inner_line}, seen)
    assert.same({}, err)  -- the validator returned: no problems
    assert.is_number(outer_line)
  end)
end)
