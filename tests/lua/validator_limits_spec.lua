-- Specs for validators that misbehave: raise, return non-tables or lists
-- with items that are not strings, return huge lists, or never finish
-- (validator_timeout, a limit on the validator's wall-clock time from its
-- start, enforced by a debug hook and a timer). The request ends with code
-- "validator"; the gateway keeps working; waits inside a validator count
-- against its limit and are cut short by it.
package.path = "./tests/lua/?.lua;" .. package.path
local llm = require("llmgateway")
local core = require("llmgateway.core")
local spec = require("support.spec")

local user = spec.user

local function now()
  local ok, system = pcall(require, "system")
  if ok then return system.monotime() end
  return os.clock()
end

describe("validator limits", function()
  local s = spec.sim()
  local gw

  local function config(settings)
    return spec.chat_config(s.base, {retry_max = 1}, settings)
  end

  lazy_setup(function()
    gw = assert(llm.Gateway(config(), {no_state = true,
                                       validator_timeout = 0.3}))
  end)
  lazy_teardown(function() gw:close() end)
  before_each(function() s.reset() end)
  after_each(function()
    -- the gateway still works and nothing is left behind
    assert.equal("echo(m): ok", gw:run_task("t", user("ok")))
    assert.equal(0, core._stats().calls)
    assert.is_nil(debug.gethook())
  end)

  it("has a default limit of 10 s and reads the option", function()
    local g = assert(llm.Gateway(config(), {no_state = true}))
    assert.equal(10, g.validator_timeout)
    g:close()
    assert.equal(0.3, gw.validator_timeout)
    assert.has_error(function()
      llm.Gateway(config(), {validator_timeout = 0})
    end, "bad argument #2 to 'Gateway' (validator_timeout: positive number "
      .. "of seconds expected, got 0)")
    assert.has_error(function()
      llm.Gateway(config(), {validator_timeout = "1"})
    end)
    local ok, e = pcall(function()
      return gw:run_task_with_retry("t", user("x"), nil,
                                    {validator_timeout = -1})
    end)
    assert.is_false(ok)
    assert.matches("bad argument #4 to 'run_task_with_retry' "
      .. "%(validator_timeout: positive number of seconds expected", e)
  end)

  it("a validator that never finishes ends with code 'validator'", function()
    local t0 = now()
    local text, err = gw:run_task_with_retry("t", user("q"), function()
      while true do end
    end)
    local took = now() - t0
    assert.is_nil(text)
    assert.equal("validator", err.code)
    assert.matches("^validator did not finish within its time limit "
      .. "%(validator_timeout = 0%.3 s; function at "
      .. "tests/lua/validator_limits_spec%.lua:%d+%)$", err.message)
    assert.is_true(took < 5, "took " .. took)
  end)

  it("a pcall inside the validator cannot swallow the limit", function()
    local _, err = gw:run_task_with_retry("t", user("q"), function()
      while true do pcall(function() while true do end end) end
    end)
    assert.equal("validator", err.code)
    assert.matches("time limit", err.message)
  end)

  it("coroutines inside the validator are limited too", function()
    local _, err = gw:run_task_with_retry("t", user("q"), function()
      local co = coroutine.wrap(function() while true do end end)
      co()
    end)
    assert.equal("validator", err.code)
    assert.matches("time limit", err.message)
  end)

  it("a per-call validator_timeout overrides the gateway's", function()
    local g = assert(llm.Gateway(config(), {no_state = true}))
    local t0 = now()
    local _, err = g:run_task_with_retry("t", user("q"), function()
      while true do end
    end, {validator_timeout = 0.05})
    g:close()
    assert.equal("validator", err.code)
    assert.matches("validator_timeout = 0.05 s", err.message, 1, true)
    assert.is_true(now() - t0 < 5)
  end)

  it("the limit applies to JSON tasks and batch items", function()
    local out = gw:run_tasks_with_retry({
      {task = "t", messages = user("spin")},
      {task = "t", messages = user("fine")},
    }, {function(text)
      if text:find("spin") then while true do end end
    end, false})
    assert.equal("validator", out[1].error.code)
    assert.equal("echo(m): fine", out[2].text)
    local res, err = gw:run_json_task_with_retry("t", user("{}"), function()
      while true do end
    end)
    assert.is_nil(res)
    assert.equal("validator", err.code)
  end)

  it("waits inside the validator count, sleeping or calling the gateway",
     function()
    -- Short waits within the limit are fine.
    local calls = 0
    local text, errors = gw:run_task_with_retry("t", user("q"),
      function(answer)
        llm.sleep(0.05)
        local judge = assert(gw:run_task("judge", user("judge " .. answer)))
        calls = calls + 1
        assert(judge:find("judge"))
        return {}
      end)
    assert.equal("echo(m): q", text)
    assert.same({}, errors)
    assert.equal(1, calls)
    -- A sleep past the limit ends at the limit, outside and inside tasks.
    local t0 = now()
    local _, err = gw:run_task_with_retry("t", user("q"), function()
      llm.sleep(2)
      calls = calls + 1
    end)
    assert.equal("validator", err.code)
    assert.matches("time limit (validator_timeout = 0.3 s; function at ",
                   err.message, 1, true)
    assert.is_true(now() - t0 < 1.5, "took " .. (now() - t0))
    local out, took = llm.run(function()
      local start = now()
      return gw:run_tasks_with_retry({
        {task = "a", messages = user("a")},
        {task = "b", messages = user("b")},
        {task = "c", messages = user("c")},
      }, {function()
        llm.sleep(2)
      end, function()
        return gw:run_task("judge", user("@sim delay_ms=2000\nx"))
      end, function()
        llm.spawn(function() llm.sleep(2) end):wait()
      end}), now() - start
    end)
    assert.is_true(took < 1.5, "took " .. took)
    for i = 1, 3 do
      assert.equal("validator", out[i].error.code)
      assert.matches("time limit", out[i].error.message)
    end
    -- a synchronous gateway call past the limit (outside any task)
    t0 = now()
    _, err = gw:run_task_with_retry("t", user("q"), function()
      gw:run_task("judge", user("@sim delay_ms=2000\nx"))
      calls = calls + 1
    end)
    assert.equal("validator", err.code)
    assert.is_true(now() - t0 < 1.5, "took " .. (now() - t0))
    assert.equal(1, calls)
  end)

  it("one spinning validator does not stop another task's", function()
    local t = llm.spawn(function()
      return gw:run_task_with_retry("t", user("slow judge"), function()
        llm.sleep(0.1)
      end)
    end)
    local _, err = gw:run_task_with_retry("t", user("q"), function()
      while true do end
    end)
    assert.equal("validator", err.code)
    assert.equal("echo(m): slow judge", (t:wait()))
  end)

  it("a raising validator: code 'validator' with its message", function()
    local _, err = gw:run_task_with_retry("t", user("q"), function()
      error({})
    end)
    assert.equal("validator", err.code)
    assert.matches("validator raised an error: table: ", err.message)
    local _, err2 = gw:run_task_with_retry("t", user("q"), function()
      error(setmetatable({}, {__tostring = function() error("no") end}))
    end)
    assert.equal("validator", err2.code)
    assert.equal("validator raised an error: (error object is a table "
      .. "value)", err2.message)
    local _, err3 = gw:run_task_with_retry("t", user("q"), function()
      error(string.rep("x", 100000), 0)
    end)
    assert.is_true(#err3.message < 3000)
  end)

  it("non-table returns: code 'validator' with a clear message", function()
    for _, case in ipairs({
      {42, "validator returned a number; expected nil or a list of strings"},
      {true, "validator returned a boolean; expected nil or a list of "
        .. "strings"},
      {print, "validator returned a function; expected nil or a list of "
        .. "strings"},
      {coroutine.create(function() end), "validator returned a thread; expected nil "
        .. "or a list of strings"},
      -- files have a __name from Lua 5.3 on
      {io.stdout, "validator returned a "
        .. (getmetatable(io.stdout).__name and "FILE*" or "userdata")
        .. "; expected nil or a list of strings"},
      {{"ok", {}}, "validator returned a list whose item 2 is a table; "
        .. "expected strings"},
      {{true}, "validator returned a list whose item 1 is a boolean; "
        .. "expected strings"},
    }) do
      local text, err = gw:run_task_with_retry("t", user("q"), function()
        return case[1]
      end)
      assert.is_nil(text)
      assert.equal("validator", err.code)
      assert.equal(case[2], err.message)
    end
  end)

  it("a list with a raising __index or __len is read raw", function()
    local weird = setmetatable({"e1"}, {
      __len = function() error("len") end,
      __index = function() error("index") end,
    })
    local n = 0
    local _, errors = gw:run_task_with_retry("t", user("q"), function()
      n = n + 1
      if n == 1 then return weird end
    end)
    assert.same({}, errors)
    assert.equal(2, n)
  end)

  it("a huge list: the feedback shows the first 50 problems", function()
    local n = 0
    local text, errors = gw:run_task_with_retry("t", user("q"), function()
      n = n + 1
      if n > 1 then return nil end
      local e = {}
      for i = 1, 1000000 do e[i] = "problem " .. i end
      e[1] = string.rep("y", 5000)
      return e
    end, {validator_timeout = 60})
    assert.same({}, errors)
    assert.equal(2, n)
    local msgs = s.stats().last_body.messages
    local fb = msgs[#msgs].content
    assert.matches("^Your previous output had the following issues:\n", fb)
    assert.truthy(fb:find("- problem 50\n- ... and 999950 more\n\n", 1, true))
    assert.falsy(fb:find("problem 51", 1, true))
    assert.truthy(fb:find("[... 3000 more bytes]", 1, true))
    assert.is_true(#fb < 10000, "feedback of " .. #fb .. " bytes")
    assert.equal("string", type(text))
  end)
end)
