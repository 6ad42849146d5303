-- Differential specs for gw:run_task_with_retry's first round: with plain
-- arguments the method ends a round whose validator accepts the answer
-- itself, and hands any other outcome of that validator to the loop; the
-- values must be those of the loop run from its start (a messages list
-- with a metatable, or an overrides table, takes that way): text,
-- errors, usage and errors' fields, key for key and in the order `next`
-- gives them, and the calls sent.
package.path = "./tests/lua/?.lua;" .. package.path
local llm = require("llmgateway")
local spec = require("support.spec")

local user = spec.user

-- Timings, which differ from call to call.
local TIMES = {elapsed = true, retry_delay = true, ttft = true}

-- {key, value} pairs of t in next's order, values flattened the same way
-- (tables compared by contents and order, metatables by identity); the
-- values of TIMES are left out.
local function flat(v, seen)
  if type(v) ~= "table" then return v end
  seen = seen or {}
  if seen[v] then return "<cycle>" end
  seen[v] = true
  local out = {mt = getmetatable(v)}
  for k, x in next, v do
    out[#out + 1] = {k, TIMES[k] and type(x) == "number" or flat(x, seen)}
  end
  return out
end

local function pack(...) return {n = select("#", ...), ...} end

-- The values of the three ways of calling (each with a validator of its
-- own from make()), flattened: plain (the first round in the method), a
-- list with a metatable and overrides {} (the loop from its start); then
-- the plain values themselves.
local function three(gw, text, make)
  local plain = pack(gw:run_task_with_retry("t", user(text), make()))
  local listed = pack(gw:run_task_with_retry("t",
    setmetatable(user(text), {}), make()))
  local over = pack(gw:run_task_with_retry("t", user(text), make(), {}))
  return flat(plain), flat(listed), flat(over), plain
end

describe("run_task_with_retry's first round", function()
  local s = spec.sim()
  local gw

  lazy_setup(function()
    gw = assert(llm.Gateway({
      providers = {{provider_type = "openai", api_style = "openai_chat",
                    base_url = s.base, api_key = "sk-spec"}},
      settings = {fallback_model = "m", retry_max = 2, backoff_base = 0.01,
                  prices = {m = {input = 1000000, output = 2000000}}},
    }, {no_state = true, validator_timeout = 0.3}))
  end)
  lazy_teardown(function() gw:close() end)
  before_each(function() s.reset() end)

  local function same(text, make)
    local a, b, c, plain = three(gw, text, make)
    assert.same(b, a)
    assert.same(c, a)
    return plain
  end

  it("an accepted answer: text, {}, the totals of one round", function()
    local r = same("hello ok", function()
      return function(t) assert(t:find("ok")) end
    end)
    assert.equal(3, r.n)
    assert.equal("echo(m): hello ok", r[1])
    assert.same({}, r[2])
    assert.is_nil(getmetatable(r[2]))
    assert.same({usage_total = {input_tokens = 2, output_tokens = 3,
                                cached_tokens = 0, reasoning_tokens = 0},
                 rounds = 1, usage = {input_tokens = 2, output_tokens = 3},
                 cost = 8, cost_total = 8}, r[3])
    assert.equal(3, s.stats().requests)
  end)

  it("no validator", function()
    local r = same("plain", function() return nil end)
    assert.equal("echo(m): plain", r[1])
  end)

  it("a validator that objects once, then accepts", function()
    local r = same("again", function()
      local n = 0
      return function()
        n = n + 1
        if n == 1 then return {"e1", "e2"} end
      end
    end)
    assert.matches("^echo%(m%): Your previous output had", r[1])
    assert.same({}, r[2])
    assert.equal(2, r[3].rounds)
    assert.equal(6, s.stats().requests)
  end)

  it("a validator that always objects", function()
    local r = same("never", function()
      return function() return {"wrong"} end
    end)
    assert.same({"wrong"}, r[2])
    assert.equal(3, r[3].rounds)
    assert.equal(9, s.stats().requests)
  end)

  it("a validator that returns an empty list", function()
    same("empty", function() return function() return {} end end)
  end)

  it("a validator that raises, with a string or an object", function()
    local r = same("raise", function()
      return function() error("boom", 0) end
    end)
    assert.is_nil(r[1])
    same("raise obj", function()
      return function()
        error(setmetatable({}, {__tostring = function() return "obj" end}))
      end
    end)
    local e = {}  -- one object: its address is in the message
    same("raise table", function()
      return function() error(e) end
    end)
  end)

  it("a validator that returns something other than a list", function()
    same("odd", function() return function() return 42 end end)
    same("odd2", function() return function() return {1, 2} end end)
  end)

  it("a validator that runs out of its time limit", function()
    local r = same("slow", function()
      return function() llm.sleep(1) end
    end)
    assert.is_nil(r[1])
    assert.matches("validator_timeout = 0.3 s; function at "
      .. "tests/lua/retry_first_round_spec.lua:%d+", r[2].message)
  end)

  it("a validator that waits, then accepts", function()
    same("waits", function()
      return function() llm.sleep(0.01) end
    end)
  end)

  it("a failed call", function()
    local r = same("@sim status=400\nbad", function()
      return function() error("not called") end
    end)
    assert.is_nil(r[1])
  end)

  it("the same values in a task", function()
    local a, b, c
    llm.run(function()
      a, b, c = three(gw, "in task ok", function()
        return function() end
      end)
    end)
    assert.same(b, a)
    assert.same(c, a)
  end)
end)
