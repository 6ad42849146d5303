-- Specs for llmgateway.pipeline: bounded map, fan-out, chains and collect,
-- on the module's scheduler and against llmgateway-sim.
package.path = "./tests/lua/?.lua;" .. package.path
local llm = require("llmgateway")
local pipeline = require("llmgateway.pipeline")
local prompt = require("llmgateway.prompt")
local sim = require("support.sim")

-- fn(input, i) wrapper that tracks how many calls overlap.
local function tracked(fn)
  local state = { now = 0, peak = 0 }
  state.fn = function(...)
    state.now = state.now + 1
    state.peak = math.max(state.peak, state.now)
    local r = table.pack(pcall(fn, ...))
    state.now = state.now - 1
    if not r[1] then error(r[2], 0) end
    return table.unpack(r, 2, r.n)
  end
  return state
end

describe("pipeline.map", function()
  it("keeps input order and stays within the concurrency limit", function()
    local t = tracked(function(x, i)
      llm.sleep(0.002 * (6 - i))
      return x * 10
    end)
    local results, errors = pipeline.map({ 1, 2, 3, 4, 5 }, t.fn, { concurrency = 2 })
    assert.same({ 10, 20, 30, 40, 50, n = 5 }, results)
    assert.same({}, errors)
    assert.equals(2, t.peak)
  end)

  it("runs every input at once by default", function()
    local t = tracked(function(x) llm.sleep(0.005) return x end)
    pipeline.map({ 1, 2, 3, 4 }, t.fn)
    assert.equals(4, t.peak)
  end)

  it("records each failure by index without losing the siblings", function()
    local results, errors = pipeline.map({ "a", "b", "c", "d" }, function(x, i)
      if i == 2 then error({ code = "boom" }) end
      if i == 3 then return nil, "no answer for " .. x end
      llm.sleep(0.001)
      return x:upper()
    end, { concurrency = 3 })
    assert.same({ "A", nil, nil, "D", n = 4 }, results)
    assert.same({ { index = 2, error = { code = "boom" } },
                  { index = 3, error = "no answer for c" } }, errors)
    assert.same({ "A", "D" }, pipeline.compact(results))
  end)

  it("keeps a raised message", function()
    local _, errors = pipeline.map({ 1 }, function() error("broken step") end)
    assert.equals(1, #errors)
    assert.matches("broken step", errors[1].error)
  end)

  it("returns empty lists for no inputs", function()
    local results, errors = pipeline.map({}, function() error("never") end)
    assert.same({ n = 0 }, results)
    assert.same({}, errors)
  end)

  it("rejects misuse with a clear message", function()
    assert.has_error(function() pipeline.map({ 1 }) end,
      "bad argument #2 to 'map' (function expected, got nil)")
    assert.has_error(function() pipeline.map(nil, print) end,
      "bad argument #1 to 'map' (table expected, got nil)")
    assert.has_error(function() pipeline.map(llm.null, print) end,
      "bad argument #1 to 'map' (table expected, got light userdata)")
    assert.has_error(function() pipeline.map({ 1 }, print, { concurrency = 0 }) end,
      "bad argument #3 to 'map' (concurrency: integer >= 1 expected, got 0)")
    assert.has_error(function() pipeline.map({ 1 }, print, { concurency = 2 }) end,
      "bad argument #3 to 'map' (unknown key 'concurency', did you mean 'concurrency'?)")
  end)

  it("works inside a task", function()
    local results = llm.spawn(function()
      return pipeline.map({ 1, 2, 3 }, function(x) llm.sleep(0.001) return x + 1 end,
        { concurrency = 2 })
    end):wait()
    assert.same({ 2, 3, 4, n = 3 }, results)
  end)
end)

describe("pipeline.fan_out", function()
  it("runs the branches at once and names results and errors", function()
    local t = tracked(function(f, x) return f(x) end)
    local results, errors = pipeline.fan_out(3, {
      double = function(x) return t.fn(function(v) llm.sleep(0.005) return v * 2 end, x) end,
      square = function(x) return t.fn(function(v) llm.sleep(0.005) return v * v end, x) end,
      broken = function(x) return t.fn(function() llm.sleep(0.005) return nil, "no" end, x) end,
    })
    assert.same({ double = 6, square = 9 }, results)
    assert.same({ { name = "broken", error = "no" } }, errors)
    assert.equals(3, t.peak)
  end)

  it("rejects a branch that is not a function", function()
    assert.has_error(function() pipeline.fan_out(1, { a = 3 }) end,
      "bad argument #2 to 'fan_out' (a: function expected, got number)")
  end)
end)

describe("pipeline.chain", function()
  it("feeds each step's value to the next", function()
    local f = pipeline.chain(function(x) return x + 1 end, function(x) return x * 2 end)
    assert.equals(8, f(3))
  end)

  it("stops at the first nil with its error and position", function()
    local ran = false
    local f = pipeline.chain(function(x) return x end,
      function() return nil, "step failed" end,
      function() ran = true end)
    assert.same({ nil, "step failed", 2 }, { f(1) })
    assert.is_false(ran)
  end)

  it("rejects a step that is not a function", function()
    assert.has_error(function() pipeline.chain(print, nil, print) end,
      "bad argument #2 to 'chain' (function expected, got nil)")
  end)
end)

describe("pipeline.collect", function()
  it("waits for spawned tasks in order and separates failures", function()
    local tasks = {
      llm.spawn(function() llm.sleep(0.003) return "slow" end),
      llm.spawn(function() error("task broke") end),
      llm.spawn(function() return "fast" end),
    }
    local results, errors = pipeline.collect(tasks)
    assert.same({ "slow", nil, "fast", n = 3 }, results)
    assert.equals(1, #errors)
    assert.equals(2, errors[1].index)
    assert.matches("task broke", tostring(errors[1].error))
  end)
end)

describe("pipeline with a gateway", function()
  local s, gw, state_dir

  setup(function()
    s = sim.start()
    state_dir = os.tmpname()
    os.remove(state_dir)
    local runtime = assert(llm.runtime_spec_from_dict {
      providers = { { provider_type = "openai", api_style = "openai_chat",
                      base_url = s.base, api_key = "sim-key" } },
      settings = { fallback_model = "sim-model", max_concurrent = 2, transport_retries = 1 },
      tasks = { analysis = { max_tokens = 100 } },
    })
    gw = assert(llm.Gateway(runtime, { state_file = state_dir }))
  end)

  teardown(function()
    if gw then gw:close() end
    if s then s.stop() end
    os.remove(state_dir)
  end)

  before_each(function() s.reset() end)

  it("maps gateway calls, bounded by the gateway's max_concurrent", function()
    local inputs = {}
    for i = 1, 6 do inputs[i] = "question " .. i .. "\n@sim delay_ms=30" end
    local results, errors = pipeline.map(gw, inputs, function(q)
      return gw:run_task("analysis", { prompt.user(q) })
    end)
    assert.same({}, errors)
    for i = 1, 6 do assert.equals("echo(sim-model): question " .. i, results[i]) end
    assert.equals(2, s.stats().peak_concurrent)
  end)

  it("keeps per-item gateway errors next to the answers", function()
    local results, errors = pipeline.map(gw, { "ok one", "bad\n@sim status=400", "ok two" },
      function(q) return gw:run_task("analysis", { prompt.user(q) }) end)
    assert.equals("echo(sim-model): ok one", results[1])
    assert.is_nil(results[2])
    assert.equals("echo(sim-model): ok two", results[3])
    assert.equals(1, #errors)
    assert.equals(2, errors[1].index)
    assert.equals("http", errors[1].error.code)
    assert.equals(400, errors[1].error.attempts[1].status)
  end)

  it("chains gateway steps", function()
    local ask = function(q) return gw:run_task("analysis", { prompt.user(q) }) end
    local f = pipeline.chain(ask, function(text) return ask("again: " .. text) end)
    assert.equals("echo(sim-model): again: echo(sim-model): hi", f("hi"))
  end)

  it("stops a chain at a failing gateway step", function()
    local ask = function(q) return gw:run_task("analysis", { prompt.user(q) }) end
    local value, err, step = pipeline.chain(ask, function() return nil, "unreachable" end)(
      "x\n@sim status=401")
    assert.is_nil(value)
    assert.equals("auth", err.code)
    assert.equals(1, step)
  end)

  it("fans one input out to several tasks at once", function()
    local results, errors = pipeline.fan_out("the report", {
      short = function(x) return gw:run_task("analysis", { prompt.user("short: " .. x) }) end,
      long = function(x) return gw:run_task("analysis", { prompt.user("long: " .. x) }) end,
    })
    assert.same({}, errors)
    assert.same({ short = "echo(sim-model): short: the report",
                  long = "echo(sim-model): long: the report" }, results)
  end)
end)
