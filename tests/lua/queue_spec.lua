-- Specs for the work queue from Lua (llm.queue, push / wait / results /
-- stats / serve, llm.encode_json) and for `llmgateway worker`, against a
-- real redis-server and llmgateway-sim on loopback, both started and
-- stopped here.
package.path = "./tests/lua/?.lua;" .. package.path
local llm = require("llmgateway")
local redis = require("support.redis")
local spec = require("support.spec")
local socket = require("socket")

local HOST = spec.HOST

-- Without redis-server the specs that need it are pending (skipped).
local HAVE_REDIS = os.execute("command -v redis-server >/dev/null 2>&1"
  .. " && command -v redis-cli >/dev/null 2>&1") == true
local function it_redis(name, fn)
  if HAVE_REDIS then return it(name, fn) end
  return pending(name .. " (redis-server is not installed)")
end

local quote, write, tmpfile, sh = spec.quote, spec.write, spec.tmpfile, spec.sh

local start_worker = spec.start_worker
local function qname() return spec.queue_name("spec") end

local function until_true(seconds, fn)
  local deadline = socket.gettime() + seconds
  while socket.gettime() < deadline do
    if fn() then return true end
    llm.sleep(0.05)
  end
  return false
end

describe("llm.encode_json", function()
  it("writes arrays for keys 1..n and objects otherwise, keys sorted", function()
    assert.equal('{"a":1,"b":[1,2,"x\\n\\"y\\""],"c":null,"d":1.5,"e":{}}',
      llm.encode_json({b = {1, 2, 'x\n"y"'}, a = 1, c = llm.null, d = 1.5,
                       e = {}}))
    assert.equal('{"1":"a","3":"c"}', llm.encode_json({[1] = "a", [3] = "c"}))
    assert.equal('"\\u0001\\t"', llm.encode_json("\1\t"))
    assert.equal("true", llm.encode_json(true))
    assert.equal("-7", llm.encode_json(-7))
    local t = {x = {1, {y = "z"}}, n = llm.null}
    assert.same({x = {1, {y = "z"}}, n = llm.null},
      llm.parse_json(llm.encode_json(t)))
  end)

  it("returns nil, err naming the path of what cannot be encoded", function()
    local v, err = llm.encode_json({a = {b = {print}}})
    assert.is_nil(v)
    assert.equal("invalid", err.code)
    assert.equal("cannot encode function as JSON (at a.b[1])", err.message)
    v, err = llm.encode_json({[{}] = 1})
    assert.is_nil(v)
    assert.matches("key that is not a string", err.message)
    v, err = llm.encode_json(0 / 0)
    assert.matches("not finite", err.message)
    local cyc = {}
    cyc.self = cyc
    v, err = llm.encode_json(cyc)
    assert.matches("nested too deeply", err.message)
  end)
end)

describe("llm.queue", function()
  local r

  lazy_setup(function() r = redis.start() end)
  lazy_teardown(function() r.stop() end)

  local function open(name, opts)
    opts = opts or {}
    opts.block = opts.block or 0.2
    return assert(llm.queue(r.url, name, opts))
  end

  it_redis("raises on bad arguments and fails on a bad URL", function()
    assert.has_error(function() llm.queue() end,
      "bad argument #1 to 'queue' (string expected, got no value)")
    assert.has_error(function() llm.queue(r.url) end,
      "bad argument #2 to 'queue' (string expected, got no value)")
    assert.has_error(function() llm.queue(r.url, "") end,
      "bad argument #2 to 'queue' (queue name: 1 to 127 bytes expected)")
    assert.has_error(function() llm.queue(r.url, "q", 5) end,
      "bad argument #3 to 'queue' (table expected, got number)")
    assert.has_error(function()
      llm.queue(r.url, "q", {max_deliveries = 0})
    end, "bad argument #3 to 'queue' (max_deliveries: positive integer "
      .. "expected, got a number out of range)")
    assert.has_error(function()
      llm.queue(r.url, "q", {visibility_timeout = "1"})
    end, "bad argument #3 to 'queue' (visibility_timeout: positive number "
      .. "expected, got string)")
    local q, err = llm.queue("http://x", "q")
    assert.is_nil(q)
    assert.equal("config", err.code)
    assert.matches("^queue URL: ", err.message)
  end)

  it_redis("push returns an id; wait, stats and results see the outcome", function()
    local q = open(qname())
    local id = assert(q:push({prompt = "hi", n = 1}))
    assert.matches("^%x+$", id)
    assert.equal(32, #id)
    local v, err = q:wait(id, 0.2)
    assert.is_nil(v)
    assert.equal("timeout", err.code)
    local st = assert(q:stats())
    assert.same({1, 0, 0, 0, 0}, {st.length, st.in_flight, st.done,
                                  st.failed, st.duplicates})
    local seen
    local server = llm.spawn(function()
      return q:serve(function(req, gw, job)
        seen = {req = req, gw = gw, id = job.id, delivery = job.delivery,
                max = job.max_deliveries}
        if type(req) == "string" then return req .. "!" end
        return {echo = req.prompt .. "!", n = req.n + 1}
      end, {consumer = "spec"})
    end)
    assert.same({echo = "hi!", n = 2}, q:wait(id, 10))
    assert.same({req = {prompt = "hi", n = 1}, id = id, delivery = 1,
                 max = 5}, seen)
    local id2 = assert(q:push("plain"))
    assert.equal("plain!", q:wait(id2, 10))
    q:stop()
    assert.same({done = 2, failed = 0, retried = 0}, server:wait())
    local results, failed = assert(q:results())
    assert.same({[id] = {echo = "hi!", n = 2}, [id2] = "plain!"}, results)
    assert.same({}, failed)
    st = assert(q:stats())
    assert.same({0, 0, 2, 0}, {st.length, st.in_flight, st.done, st.failed})
    assert.equal("number", type(st.rate))
    assert.same({held = 0, done = 2, failed = 0, retried = 0}, st["local"])
    q:close()
  end)

  it_redis("a raising handler is retried, then dead-lettered with its error", function()
    local name = qname()
    local q = open(name, {visibility_timeout = 0.3, max_deliveries = 3})
    local deliveries = {}
    local id = assert(q:push({boom = true}))
    local server = llm.spawn(function()
      return q:serve(function(_, _, job)
        deliveries[#deliveries + 1] = job.delivery
        error("boom " .. job.delivery, 0)
      end)
    end)
    local v, err = q:wait(id, 20)
    assert.is_nil(v)
    assert.equal("job_failed", err.code)
    assert.equal(id, err.id)
    assert.equal("boom 3", err.error)
    assert.equal("job " .. id .. " failed: boom 3", err.message)
    assert.same({1, 2, 3}, deliveries)
    q:stop()
    assert.same({done = 0, failed = 1, retried = 2}, server:wait())
    assert.equal("1", r.cli("XLEN", "llmgateway:queue:" .. name .. ":dead"))
    local st = assert(q:stats())
    assert.same({0, 0, 0, 1}, {st.length, st.in_flight, st.done, st.failed})
    local results, failed = assert(q:results())
    assert.same({}, results)
    assert.equal("boom 3", failed[id].error)
    q:close()
  end)

  it_redis("nil, err retries; err.retry == false fails at once", function()
    local q = open(qname(), {visibility_timeout = 0.3, max_deliveries = 2})
    local calls = {}
    local a = assert(q:push({kind = "soft"}))
    local b = assert(q:push({kind = "hard"}))
    local c = assert(q:push({kind = "nil"}))
    local server = llm.spawn(function()
      return q:serve(function(req)
        calls[req.kind] = (calls[req.kind] or 0) + 1
        if req.kind == "hard" then
          return nil, {message = "bad job", retry = false}
        elseif req.kind == "nil" then
          return nil
        end
        return nil, "not now"
      end)
    end)
    local _, ea = q:wait(a, 20)
    local _, eb = q:wait(b, 20)
    local _, ec = q:wait(c, 20)
    assert.equal("not now", ea.error)
    assert.equal("bad job", eb.error)
    assert.equal("the handler returned nil", ec.error)
    assert.same({soft = 2, hard = 1, ["nil"] = 2}, calls)
    q:stop()
    server:wait()
    q:close()
  end)

  it_redis("wait yields inside tasks; close wakes waiters with canceled", function()
    local q = open(qname())
    local id = assert(q:push({}))
    local ticks = 0
    local ticker = llm.spawn(function()
      for _ = 1, 5 do
        llm.sleep(0.02)
        ticks = ticks + 1
      end
    end)
    local waiter = llm.spawn(function() return q:wait(id, 0.3) end)
    local v, err = waiter:wait()
    assert.is_nil(v)
    assert.equal("timeout", err.code)
    ticker:wait()
    assert.equal(5, ticks)
    waiter = llm.spawn(function() return q:wait(id) end)
    llm.sleep(0.05)
    q:close()
    v, err = waiter:wait()
    assert.is_nil(v)
    assert.equal("canceled", err.code)
    assert.has_error(function() q:push({}) end, "the queue is closed")
  end)

  it_redis("checks the arguments of push, wait and serve", function()
    local q = open(qname())
    assert.has_error(function() q:push() end,
      "bad argument #1 to 'push' (value expected (llm.null for null))")
    assert.has_error(function() q:push({f = print}) end,
      "bad argument #1 to 'push' (cannot encode function as JSON (at f))")
    assert.has_error(function() q:wait() end,
      "bad argument #1 to 'wait' (string expected, got no value)")
    assert.has_error(function() q:wait("x", -1) end,
      "bad argument #2 to 'wait' (non-negative number of seconds expected)")
    assert.has_error(function() q:serve(42) end,
      "bad argument #2 to 'serve' (function expected, got number)")
    assert.has_error(function() q:serve(print, {gateway = 1}) end,
      "bad argument #3 to 'serve' (gateway: llmgateway.Gateway expected, "
      .. "got number)")
    q:close()
  end)
end)

describe("llmgateway worker", function()
  local s = spec.sim()
  local r

  lazy_setup(function() r = redis.start() end)
  lazy_teardown(function() r.stop() end)

  local function config()
    return tmpfile(".yaml", ([[
settings:
  fallback_model: m1
  max_concurrent: 16
providers:
  - provider_type: openai
    api_style: openai_chat
    base_url: "%s"
    api_key: k
]]):format(s.base))
  end

  local WORKER = [[
return function(request, gw, job)
  local text, err = gw:run_task("t", {{content = request.prompt}})
  if not text then return nil, err end
  return {text = text}
end
]]

  it_redis("reports usage errors with exit status 1", function()
    local rc, _, err = sh(quote(HOST) .. " worker --queue " .. r.url
      .. " x.lua")
    assert.equal(1, rc)
    assert.matches("llmgateway: worker: %-%-name is required", err)
    rc, _, err = sh(quote(HOST) .. " worker --name q --concurrency 0 x.lua")
    assert.equal(1, rc)
    assert.matches("%-%-concurrency needs a positive integer, not '0'", err)
    local rc2, out = sh(quote(HOST) .. " worker --help")
    assert.equal(0, rc2)
    assert.matches("^usage: llmgateway worker %-%-queue URL %-%-name NAME",
      out)
    local path = tmpfile(".lua", "return 42\n")
    rc, _, err = sh(quote(HOST) .. " worker --queue " .. r.url
      .. " --name q " .. quote(path))
    os.remove(path)
    assert.equal(1, rc)
    assert.matches("the worker script must return its pipeline function "
      .. "%(or define a global function handle%), not a number", err)
  end)

  it_redis("runs the script's function per job and stops on SIGTERM", function()
    local name = qname()
    local cfg = config()
    local path = tmpfile(".lua", [[
function handle(request, gw, job)
  local text = assert(gw:run_task("t", {{content = request.prompt}}))
  return text .. " #" .. job.delivery
end
]])
    local errf = os.tmpname()
    local w = start_worker("-c " .. quote(cfg) .. " --queue " .. r.url
      .. " --name " .. name .. " " .. quote(path), errf)
    local q = assert(llm.queue(r.url, name))
    local id = assert(q:push({prompt = "hello"}))
    assert.equal("echo(m1): hello #1", q:wait(id, 20))
    os.execute("kill -TERM " .. w.pid)
    assert.equal(143, w.close())
    local f = io.open(errf)
    local err = f:read("*a")
    f:close()
    assert.matches("stopping: finishing the jobs in hand", err)
    os.remove(errf)
    os.remove(path)
    os.remove(cfg)
    q:close()
  end)

  it_redis("4 workers drain 2,000 jobs, one killed with SIGKILL: one result "
    .. "per job, none lost", function()
    local N, name = 2000, qname()
    local cfg = config()
    local path = tmpfile(".lua", WORKER)
    local workers = {}
    for i = 1, 4 do
      workers[i] = start_worker(("-c %s --queue %s --name %s --consumer w%d "
        .. "--visibility-timeout 1 --concurrency 16 %s"):format(quote(cfg),
        r.url, name, i, quote(path)))
    end
    local q = assert(llm.queue(r.url, name))
    local ids, pushers = {}, {}
    for p = 1, 8 do
      pushers[p] = llm.spawn(function()
        for k = p, N, 8 do ids[k] = assert(q:push({prompt = "job " .. k})) end
      end)
    end
    for p = 1, 8 do pushers[p]:wait() end
    assert.is_true(until_true(60, function()
      return assert(q:stats()).done >= 300
    end))
    os.execute("kill -KILL " .. workers[1].pid)
    workers[1].close()
    assert.is_true(until_true(120, function()
      local st = assert(q:stats())
      return st.done + st.failed >= N
    end))
    local results, failed = assert(q:results())
    local right, count = 0, 0
    for k = 1, N do
      if results[ids[k]] and results[ids[k]].text == "echo(m1): job " .. k then
        right = right + 1
      end
    end
    for _ in pairs(results) do count = count + 1 end
    assert.same({}, failed)
    assert.equal(N, count)
    assert.equal(N, right)
    local st = assert(q:stats())
    assert.same({0, 0, N, 0}, {st.length, st.in_flight, st.done, st.failed})
    assert.equal(tostring(N), r.cli("HLEN", "llmgateway:queue:" .. name
      .. ":results"))
    for i = 2, 4 do
      os.execute("kill -TERM " .. workers[i].pid)
      assert.equal(143, workers[i].close())
    end
    os.remove(path)
    os.remove(cfg)
    q:close()
  end)
end)
