-- Specs for llm.set_start_limit: tasks not yet started are held back
-- while the gateways have that many requests waiting beyond their
-- max_concurrent, and start in spawn order as the queue drains.
package.path = "./tests/lua/?.lua;" .. package.path
local llm = require("llmgateway")
local core = require("llmgateway.core")
local spec = require("support.spec")
local socket = require("socket")

local err_of, user = spec.err_of, spec.user

describe("llm.set_start_limit", function()
  local s = spec.sim()
  local slow = spec.sim({"--latency-ms", "100"})
  local gw, gw_slow

  local function gateway(base)
    return assert(llm.Gateway(spec.chat_config(base, {max_concurrent = 1}),
                              {no_state = true}))
  end

  lazy_setup(function()
    gw = gateway(s.base)
    gw_slow = gateway(slow.base)
  end)
  lazy_teardown(function()
    gw:close()
    gw_slow:close()
  end)
  before_each(function()
    s.reset()
    assert.equal(256, llm.set_start_limit(4))
  end)
  after_each(function()
    llm.set_start_limit(256)
    assert.equal(0, core._stats().tasks)
    assert.equal(0, core._stats().held)
    assert.equal(0, core._stats().calls)
  end)

  -- Spawns n tasks that each note their start, then make one call
  -- through g; st.started, st.live (started, not finished), st.max_live,
  -- st.order (task numbers in the order they started).
  local function spawn_calls(g, n)
    local st = {started = 0, live = 0, max_live = 0, order = {}}
    local tasks = {}
    for i = 1, n do
      tasks[i] = llm.spawn(function()
        st.started = st.started + 1
        st.live = st.live + 1
        if st.live > st.max_live then st.max_live = st.live end
        st.order[#st.order + 1] = i
        local text, err = g:run_task("t", user("q" .. i))
        st.live = st.live - 1
        return text, err
      end)
    end
    return tasks, st
  end

  local function range(n)
    local r = {}
    for i = 1, n do r[i] = i end
    return r
  end

  it("starts max_concurrent + limit tasks; the rest as the queue drains, "
     .. "in spawn order", function()
    llm.run(function()
      local tasks, st = spawn_calls(gw, 20)
      llm.sleep(0)
      -- 1 in the slot, then 4 queued: the 6th would be the 5th queued
      assert.equal(5, st.started)
      assert.equal(15, core._stats().held)
      assert.equal(21, core._stats().tasks)
      for i = 1, 20 do
        local text, err = tasks[i]:wait()
        assert.is_nil(err)
        assert.equal("echo(m): q" .. i, text)
      end
      assert.equal(20, st.started)
      assert.equal(5, st.max_live)
      assert.same(range(20), st.order)
    end)
  end)

  it("0 or math.huge: every task starts at once, as before", function()
    for _, off in ipairs({0, math.huge}) do
      llm.set_start_limit(off)
      llm.run(function()
        local tasks, st = spawn_calls(gw, 20)
        llm.sleep(0)
        assert.equal(20, st.started)
        assert.equal(0, core._stats().held)
        for i = 1, 20 do
          assert.equal("echo(m): q" .. i, (tasks[i]:wait()))
        end
        assert.equal(20, st.max_live)
      end)
    end
  end)

  it("a task spawned behind held ones runs once they start; waiting for "
     .. "it starts it at once", function()
    llm.run(function()
      local tasks, st = spawn_calls(gw_slow, 20)
      local ran = false
      local later = llm.spawn(function() ran = true end)
      local waited = llm.spawn(function() return 42 end)
      llm.sleep(0)
      assert.equal(5, st.started)
      assert.is_false(ran)
      assert.equal(17, core._stats().held)
      -- ahead of the queue: no call has ended yet (100 ms each)
      assert.equal(42, waited:wait())
      assert.equal(5, st.started)
      assert.equal(5, st.live)
      assert.is_false(ran)
      assert.equal(16, core._stats().held)
      for i = 1, 20 do
        assert.equal("echo(m): q" .. i, (tasks[i]:wait()))
      end
      -- started once the queue drained, without anyone waiting for it
      assert.is_true(ran)
      assert.is_true(later:done())
      later:wait()
      assert.same(range(20), st.order)
    end)
  end)

  it("outside a task: held tasks start during a synchronous call and a "
     .. "synchronous wait", function()
    local tasks, st = spawn_calls(gw, 20)
    -- the synchronous call has the slot, 4 tasks' calls queue behind it
    assert.equal("echo(m): sync", gw:run_task("t", user("sync")))
    assert.equal(4, st.started)
    for i = 20, 1, -1 do
      assert.equal("echo(m): q" .. i, (tasks[i]:wait()))
    end
    assert.equal(20, st.started)
  end)

  it("a gateway closed with tasks held: they start and see it closed",
     function()
    local g = gateway(slow.base)
    llm.run(function()
      local tasks, st = spawn_calls(g, 20)
      llm.sleep(0)
      assert.equal(5, st.started)
      g:close()
      for i = 1, 20 do
        local text, err = tasks[i]:wait()
        assert.is_nil(text)
        assert.equal("canceled", err.code)
      end
      assert.equal(20, st.started)
    end)
  end)

  it("a canceled held task finishes without starting", function()
    llm.run(function()
      local tasks, st = spawn_calls(gw, 8)
      llm.sleep(0)
      assert.equal(3, core._stats().held)
      assert.is_true(tasks[7]:cancel())
      assert.equal(2, core._stats().held)
      local ok, e = pcall(tasks[7].wait, tasks[7])
      assert.is_false(ok)
      assert.equal("canceled", e.code)
      for i = 1, 8 do
        if i ~= 7 then
          assert.equal("echo(m): q" .. i, (tasks[i]:wait()))
        end
      end
      assert.equal(7, st.started)
      assert.same({1, 2, 3, 4, 5, 6, 8}, st.order)
    end)
  end)

  it("a batch wider than the limit completes in order", function()
    local reqs = {}
    for i = 1, 30 do reqs[i] = {task = "t", messages = user("b" .. i)} end
    local results = gw:run_tasks(reqs, {window = 12})
    for i = 1, 30 do assert.equal("echo(m): b" .. i, results[i].text) end
  end)

  it("llm.step counts held tasks and starts them as the queue drains",
     function()
    local tasks, st = spawn_calls(gw, 20)
    assert.equal(20, llm.step())
    assert.equal(5, st.started)
    assert.equal(15, core._stats().held)
    local deadline = socket.gettime() + 10
    while socket.gettime() < deadline and llm.step() > 0 do
      local ms = llm.timeout()
      socket.sleep((ms < 0 or ms > 5) and 0.005 or ms / 1000)
    end
    assert.equal(0, llm.step())
    for i = 1, 20 do
      assert.equal("echo(m): q" .. i, (tasks[i]:wait()))
    end
    assert.same(range(20), st.order)
  end)

  it("a rate-limited gateway: held tasks start as its queue drains",
     function()
    local g = assert(llm.Gateway({
      providers = {{provider_type = "openai", api_style = "openai_chat",
                    base_url = s.base, api_key = "k", rpm = 1200}},
      settings = {fallback_model = "m", max_concurrent = 1},
    }, {no_state = true}))
    llm.run(function()
      local tasks, st = spawn_calls(g, 12)
      llm.sleep(0)
      assert.equal(5, st.started)
      for i = 1, 12 do
        assert.equal("echo(m): q" .. i, (tasks[i]:wait()))
      end
      assert.same(range(12), st.order)
    end)
    g:close()
  end)

  it("raising the limit starts held tasks", function()
    llm.run(function()
      local tasks, st = spawn_calls(gw_slow, 10)
      llm.sleep(0)
      assert.equal(5, st.started)
      assert.equal(4, llm.set_start_limit(6))
      llm.sleep(0)
      assert.equal(7, st.started)
      for i = 1, 10 do
        assert.equal("echo(m): q" .. i, (tasks[i]:wait()))
      end
    end)
  end)

  it("returns the previous limit (0: none) and checks its argument",
     function()
    assert.equal(4, llm.set_start_limit(math.huge))
    assert.equal(0, llm.set_start_limit(10))
    assert.equal(10, llm.set_start_limit(0))
    assert.equal(0, llm.set_start_limit(256))
    assert.equal("bad argument #1 to 'set_start_limit' (number expected, "
                 .. "got no value)", err_of(function()
                   llm.set_start_limit()
                 end))
    assert.equal("bad argument #1 to 'set_start_limit' (number expected, "
                 .. "got string)", err_of(function()
                   llm.set_start_limit("4")
                 end))
    assert.equal("bad argument #1 to 'set_start_limit' (non-negative "
                 .. "integer or math.huge expected, got -1)", err_of(function()
                   llm.set_start_limit(-1)
                 end))
    assert.equal("bad argument #1 to 'set_start_limit' (non-negative "
                 .. "integer or math.huge expected, got 2.5)", err_of(function()
                   llm.set_start_limit(2.5)
                 end))
    assert.equal("bad argument #1 to 'set_start_limit' (non-negative "
                 .. "integer or math.huge expected, got -inf)", err_of(function()
                   llm.set_start_limit(-math.huge)
                 end))
    assert.equal(256, llm.set_start_limit(256))
  end)
end)
