-- Specs for llm.gather: every task's results come back in order, without
-- loss -- several values, `nil, err` pairs, raised errors -- given as
-- arguments or as one list.
package.path = "./tests/lua/?.lua;" .. package.path
local llm = require("llmgateway")
local sim = require("support.sim")
local spec = require("support.spec")

local user = spec.user

describe("gather", function()
  it("keeps nil, err and every other value of each task", function()
    local failing = llm.spawn(function()
      return nil, {code = "auth", message = "no key"}
    end)
    local many = llm.spawn(function() return 1, nil, 3 end)
    local none = llm.spawn(function() end)
    local raised = llm.spawn(function() error({code = "boom"}) end)
    local out = llm.gather(failing, many, none, raised)
    assert.same({
      {ok = true, n = 2, nil, {code = "auth", message = "no key"}},
      {ok = true, n = 3, 1, nil, 3},
      {ok = true, n = 0},
      {ok = false, error = {code = "boom"}},
    }, out)
  end)

  it("accepts a list of tasks", function()
    local ts = {}
    for i = 1, 5 do
      ts[i] = llm.spawn(function() llm.sleep((6 - i) / 1000) return i * 10 end)
    end
    local out = llm.gather(ts)
    assert.equal(5, #out)
    for i = 1, 5 do assert.same({ok = true, n = 1, i * 10}, out[i]) end
    assert.same({}, llm.gather({}))
    assert.same({}, llm.gather())
    local ok, e = pcall(llm.gather, {ts[1], "x"})
    assert.is_false(ok)
    assert.matches("bad argument #1 to 'gather' (tasks[2]: llmgateway.Task "
      .. "expected, got string)", e, 1, true)
  end)

  it("returns a gateway failure's error table", function()
    local s = sim.start()
    local gw = assert(llm.Gateway({
      providers = {{provider_type = "openai", api_style = "openai_chat",
                    base_url = s.base, api_key = "sk-gather"}},
      settings = {fallback_model = "m", retry_max = 0},
    }, {no_state = true}))
    local good = llm.spawn(function() return gw:run_task("t", user("hi")) end)
    local bad = llm.spawn(function()
      return gw:run_task("t", user("@sim status=401\nhi"))
    end)
    local out = llm.gather({good, bad})
    gw:close()
    s.stop()
    assert.same({ok = true, n = 1, "echo(m): hi"}, out[1])
    assert.is_true(out[2].ok)
    assert.equal(2, out[2].n)
    assert.is_nil(out[2][1])
    assert.equal(llm.Error, getmetatable(out[2][2]))
    assert.equal(401, out[2][2].status)
  end)
end)
