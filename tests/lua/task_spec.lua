-- Specs for the coroutine scheduler: spawn, wait, gather, sleep, run,
-- cancel; ordering and concurrency; errors inside tasks; validators that
-- call the gateway; what happens at exit and when a gateway is collected.
package.path = "./tests/lua/?.lua;" .. package.path
local llm = require("llmgateway")
local core = require("llmgateway.core")
local sim = require("support.sim")
local spec = require("support.spec")

local err_of = spec.err_of

-- Runs a Lua script in a fresh lua5.4; returns exit code, stdout+stderr.
local function run_lua(code)
  local path = os.tmpname()
  local f = assert(io.open(path, "w"))
  f:write("package.path = './lua/?.lua;./lua/?/init.lua;' .. package.path\n"
    .. "package.cpath = '" .. (os.getenv("LLMGATEWAY_CPATH") or "./build") .. "/?.so;' .. package.cpath\n" .. code)
  f:close()
  -- the exit status as the last line: Lua 5.1's close() does not give it
  local p = io.popen((os.getenv("LLMGATEWAY_LUA") or "lua5.4") .. " " .. path
    .. " 2>&1; echo \"exit $?\"")
  local out = p:read("*a")
  p:close()
  os.remove(path)
  local rc = tonumber(out:match("exit (%d+)\n$"))
  return rc, (out:gsub("exit %d+\n$", ""))
end

local user = spec.user

describe("tasks", function()
  local s = spec.sim()
  local gw

  local function config(settings) return spec.chat_config(s.base, settings) end

  lazy_setup(function()
    gw = assert(llm.Gateway(config(), {no_state = true}))
  end)
  lazy_teardown(function() gw:close() end)
  before_each(function() s.reset() end)
  after_each(function()
    -- Nothing is left running or referenced between specs.
    assert.equal(0, core._stats().tasks)
    assert.equal(0, core._stats().calls)
  end)

  it("spawn returns a task; wait returns all its results", function()
    local t = llm.spawn(function(a, b) return a + b, "x", nil end, 1, 2)
    assert.matches("^llmgateway%.Task: 0x%x+ %(pending%)$", tostring(t))
    assert.is_false(t:done())
    local a, b, c = t:wait()
    assert.same({3, "x"}, {a, b})
    assert.is_nil(c)
    assert.equal(3, select("#", t:wait()))
    assert.is_true(t:done())
    assert.matches("%(done%)$", tostring(t))
  end)

  it("wait returns none, one (also nil) or many results, as returned",
     function()
    local none = llm.spawn(function() end)
    local one_nil = llm.spawn(function() return nil end)
    local one = llm.spawn(function(x) return x end, "v")
    local holes = llm.spawn(function() return nil, 2, nil end)
    assert.equal(0, select("#", none:wait()))
    assert.equal(1, select("#", one_nil:wait()))
    assert.is_nil(one_nil:wait())
    assert.same({"v"}, {one:wait()})
    assert.equal("v", one:wait())  -- again, the same
    assert.equal(3, select("#", holes:wait()))
    assert.equal(2, select(2, holes:wait()))
  end)

  -- A task spawned without arguments has no coroutine until it starts,
  -- and a finished one keeps only its results.
  it("a task waiting to start, or finished, costs no coroutine", function()
    local n, tasks = 2000, {}
    collectgarbage()
    collectgarbage()
    local k0 = collectgarbage("count")
    local f = function() return 1 end
    for i = 1, n do tasks[i] = llm.spawn(f) end
    local pending = (collectgarbage("count") - k0) * 1024 / n
    for i = 1, n do tasks[i]:wait() end
    collectgarbage()
    collectgarbage()
    local done = (collectgarbage("count") - k0) * 1024 / n
    -- a coroutine alone is about 1 KB (5.4: its state and 40 slots)
    assert.is_true(pending < 600, "pending task: " .. pending .. " bytes")
    assert.is_true(done < 600, "finished task: " .. done .. " bytes")
    assert.equal(1, tasks[n]:wait())
  end)

  -- An unfinished task is anchored, and so is its function or coroutine
  -- (before 5.3 in a registry slot of its own); a finished one is held
  -- only by what refers to it, even when its results refer to it.
  it("a task runs unreferenced, and is collected once finished", function()
    local weak = setmetatable({}, {__mode = "k"})
    local ran = 0
    -- functions and coroutines the registry holds itself
    local function held()
      local n = 0
      for _, v in pairs(debug.getregistry()) do
        if type(v) == "function" or type(v) == "thread" then n = n + 1 end
      end
      return n
    end
    llm.run(function() end)
    local held0 = held()
    do
      local box = {}
      local waiting = llm.spawn(function()
        llm.sleep(0)
        ran = ran + 1
        return box
      end)
      box.task = waiting
      local pending = llm.spawn(function(x) ran = ran + x end, 1)
      weak[waiting], weak[pending] = "function", "coroutine"
    end
    collectgarbage()
    collectgarbage()
    local left = {}
    for _, v in pairs(weak) do left[#left + 1] = v end
    table.sort(left)
    assert.same({"coroutine", "function"}, left)
    llm.run(function() end)
    assert.equal(2, ran)
    collectgarbage()
    collectgarbage()
    assert.is_nil(next(weak))
    assert.equal(held0, held())
  end)

  it("tasks start from the loop, in spawn order, and interleave", function()
    local log = {}
    local function worker(name)
      log[#log + 1] = name .. "1"
      llm.sleep(0)
      log[#log + 1] = name .. "2"
    end
    local t1, t2 = llm.spawn(worker, "a"), llm.spawn(worker, "b")
    assert.same({}, log)
    llm.gather(t1, t2)
    assert.same({"a1", "b1", "a2", "b2"}, log)
  end)

  it("sleep orders tasks by their wake-up time", function()
    local log = {}
    local ts = {}
    for _, d in ipairs({30, 10, 20}) do
      ts[#ts + 1] = llm.spawn(function()
        llm.sleep(d / 1000)
        log[#log + 1] = d
      end)
    end
    llm.gather((table.unpack or unpack)(ts))
    assert.same({10, 20, 30}, log)
  end)

  it("a plain coroutine.yield inside a task just lets others run", function()
    local log = {}
    local t1 = llm.spawn(function()
      log[#log + 1] = 1
      coroutine.yield("ignored")
      log[#log + 1] = 3
    end)
    local t2 = llm.spawn(function() log[#log + 1] = 2 end)
    llm.gather(t1, t2)
    assert.same({1, 2, 3}, log)
  end)

  it("errors inside tasks are kept and re-raised by wait", function()
    local t = llm.spawn(function() error("task exploded") end)
    local ok, e = pcall(t.wait, t)
    assert.is_false(ok)
    assert.matches("task_spec%.lua:%d+: task exploded$", e)
    local obj = {}
    local t2 = llm.spawn(function() error(obj) end)
    ok, e = pcall(t2.wait, t2)
    assert.equal(obj, e)
    assert.matches("%(failed%)$", tostring(t2))
  end)

  it("gather returns every task's results in order, errors included",
     function()
    local a = llm.spawn(function() llm.sleep(0.02) return "a", "second" end)
    local b = llm.spawn(function() return "b" end)
    assert.same({{ok = true, n = 2, "a", "second"}, {ok = true, n = 1, "b"}},
                llm.gather(a, b))
    local bad = llm.spawn(function() error("bad one", 0) end)
    local slow = llm.spawn(function() llm.sleep(0.02) return "slow" end)
    assert.same({{ok = true, n = 1, "slow"}, {ok = false, error = "bad one"}},
                llm.gather(slow, bad))
    assert.is_true(slow:done())
    assert.equal("bad argument #2 to 'gather' (llmgateway.Task or list of "
      .. "tasks expected, got number)",
      err_of(function() return llm.gather(a, 5) end))
  end)

  it("run drives the loop until every task is done", function()
    local log = {}
    local r1, r2 = llm.run(function(x)
      llm.spawn(function() llm.sleep(0.02) log[#log + 1] = "bg" end)
      return x, gw:run_task("t", user("from run"))
    end, "arg")
    assert.same({"arg", "echo(m): from run", {"bg"}}, {r1, r2, log})
    assert.equal("nested", llm.run(function()
      return llm.run(function() return "nested" end)
    end))
    assert.equal("boom", err_of(function()
      return llm.run(function() error("boom", 0) end)
    end))
  end)

  it("a call in a task yields; a call outside runs the loop", function()
    local order = {}
    local t = llm.spawn(function()
      order[#order + 1] = "task start"
      local text = gw:run_task("t", user("@sim delay_ms=50\nin task"))
      order[#order + 1] = text
      return text
    end)
    local main = gw:run_task("t", user("main"))
    order[#order + 1] = "main: " .. main
    t:wait()
    assert.same({"task start", "main: echo(m): main", "echo(m): in task"},
      order)
  end)

  it("1,000 tasks run concurrently within max_concurrent", function()
    local slow = sim.start({"--latency-ms", "20"})
    local c = config()
    c.providers[1].base_url = slow.base
    local g = assert(llm.Gateway(c, {no_state = true, max_concurrent = 8}))
    local tasks = {}
    for i = 1, 1000 do
      tasks[i] = llm.spawn(function()
        return g:run_task("t", user("n" .. i))
      end)
    end
    local answers = llm.gather(tasks)
    local ok = 0
    for i = 1, 1000 do
      if answers[i][1] == "echo(m): n" .. i then ok = ok + 1 end
    end
    assert.equal(1000, ok)
    local st = slow.stats()
    assert.equal(1000, st.requests)
    assert.equal(8, st.peak_concurrent)
    g:close()
    slow.stop()
  end)

  describe("validators", function()
    it("may call the gateway from inside a task", function()
      local judges = {}
      local text, errors = llm.spawn(function()
        return gw:run_task_with_retry("t",
          user("@sim times=1 id=v1 reply=draft\nq"), function(answer)
            local j = gw:run_task("judge", user("judge " .. answer))
            judges[#judges + 1] = j
            if answer == "draft" then return {j} end
          end)
      end):wait()
      assert.equal(2, #judges)
      assert.equal("echo(m): judge draft", judges[1])
      assert.equal("echo(m): Your previous output had the following issues:"
        .. "\n- echo(m): judge draft\n\nPlease regenerate the full answer.",
        text)
      assert.same({}, errors)
      assert.equal(4, s.stats().requests)
    end)

    it("may call the gateway outside a task too", function()
      local text = gw:run_task_with_retry("t", user("q"), function(answer)
        assert.equal("echo(m): check", gw:run_task("judge", user("check")))
        return {}
      end)
      assert.equal("echo(m): q", text)
    end)

    it("a raising validator ends only its request", function()
      local out = gw:run_tasks_with_retry(
        {{task = "t", messages = user("a")},
         {task = "t", messages = user("b")}},
        {function() error("no good") end, false})
      assert.equal("validator", out[1].error.code)
      assert.matches("no good", out[1].error.message)
      assert.same({text = "echo(m): b", errors = {}},
        {text = out[2].text, errors = out[2].errors})
    end)
  end)

  describe("cancel", function()
    it("a task that has not started fails with 'canceled'", function()
      local ran = false
      local t = llm.spawn(function() ran = true end)
      assert.is_true(t:cancel())
      local ok, e = pcall(t.wait, t)
      assert.is_false(ok)
      assert.equal("canceled", e.code)
      assert.is_false(ran)
      assert.is_false(t:cancel())
    end)

    it("so does one spawned with arguments", function()
      local ran = false
      local t = llm.spawn(function(a) ran = a end, true)
      assert.is_true(t:cancel())
      local ok, e = pcall(t.wait, t)
      assert.is_false(ok)
      assert.equal("canceled", e.code)
      assert.is_false(ran)
      assert.matches("%(failed%)$", tostring(t))
    end)

    it("a waiting call returns nil, canceled", function()
      local t = llm.spawn(function()
        local text, err = gw:run_task("t", user("@sim fault=hang\nx"))
        local again, err2 = gw:run_task("t", user("x"))
        return text, err.code, again, err2.code
      end)
      llm.sleep(0.05)
      assert.is_true(t:cancel())
      assert.same({nil, "canceled", nil, "canceled"}, {t:wait()})
    end)

    it("a sleeping task wakes at once", function()
      local t = llm.spawn(function() llm.sleep(30) return "woke" end)
      llm.sleep(0.01)
      local t0 = os.time()
      t:cancel()
      assert.equal("woke", t:wait())
      assert.is_true(os.time() - t0 < 5)
    end)
  end)

  it("refuses to wait where it cannot yield", function()
    local t = llm.spawn(function()
      local co = coroutine.wrap(function()
        return gw:run_task("t", user("x"))
      end)
      return co()
    end)
    local ok, e = pcall(t.wait, t)
    assert.is_false(ok)
    assert.matches("cannot wait here", e)
    assert.equal("bad argument #1 to 'spawn' (function expected, got "
      .. "number)", err_of(function() return llm.spawn(5) end))
    assert.equal("bad argument #1 to 'sleep' (non-negative number of "
      .. "seconds expected)", err_of(function() return llm.sleep(-1) end))
  end)

  describe("at exit", function()
    it("prints unawaited failures with a traceback", function()
      local rc, out = run_lua([[
local llm = require("llmgateway")
llm.spawn(function() error("nobody waits for me") end)
llm.sleep(0.01)
]])
      assert.equal(0, rc)
      assert.matches("a task failed and nothing waited for it: "
        .. "[^\n]*: nobody waits for me\nstack traceback:", out)
    end)

    it("collecting a gateway with work in flight cancels it", function()
      local t0 = os.time()
      local rc, out = run_lua(([[
local llm = require("llmgateway")
local gw = llm.Gateway({providers = {{provider_type = "openai",
  api_style = "openai_chat", base_url = %q}},
  settings = {fallback_model = "m"}}, {no_state = true})
llm.spawn(function() gw:run_task("t", {{content = "@sim fault=hang\nx"}}) end)
llm.sleep(0.05)
print("in flight", gw:pending())
os.exit(3, true)
]]):format(s.base))
      assert.equal(3, rc)
      assert.equal("in flight\t1\n", out)
      assert.is_true(os.time() - t0 < 5)
    end)

    it("tasks waiting for each other are reported, not hung", function()
      local rc, out = run_lua([[
local llm = require("llmgateway")
local a, b
a = llm.spawn(function() return b:wait() end)
b = llm.spawn(function() return a:wait() end)
print(pcall(a.wait, a))
]])
      assert.equal(0, rc)
      assert.matches("^false\t.*deadlock", out)
    end)
  end)
end)
