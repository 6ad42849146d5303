-- Specs for `llmgateway worker` and its stop signals: SIGTERM stops
-- taking jobs and lets the job in hand finish within
-- settings.worker_grace, then exits 143; a handler that never yields is
-- interrupted when the grace is over; a second signal exits at once.
-- Against a real redis-server and llmgateway-sim on loopback.
package.path = "./tests/lua/?.lua;" .. package.path
local llm = require("llmgateway")
local redis = require("support.redis")
local spec = require("support.spec")
local socket = require("socket")

local HOST = spec.HOST
local quote, tmpfile, read = spec.quote, spec.tmpfile, spec.read

local start_worker = spec.start_worker
local function qname() return spec.queue_name("sig") end

describe("llmgateway worker signals", function()
  local s = spec.sim()
  local r

  lazy_setup(function() r = redis.start() end)
  lazy_teardown(function() r.stop() end)

  local function config(grace)
    return tmpfile(".yaml", ([[
settings:
  fallback_model: m1
%s
providers:
  - provider_type: openai
    api_style: openai_chat
    base_url: "%s"
    api_key: k
]]):format(grace and ("  worker_grace: " .. grace) or "", s.base))
  end

  -- Starts a worker on a new queue with the handler source; pushes one
  -- job and waits until the handler has it (it prints "started").
  local function with_job(handler, grace)
    local name, cfg = qname(), config(grace)
    local path = tmpfile(".lua", handler)
    local errf = os.tmpname()
    local w = start_worker("-c " .. quote(cfg) .. " --queue " .. r.url
      .. " --name " .. name .. " " .. quote(path), errf)
    local q = assert(llm.queue(r.url, name))
    local id = assert(q:push({prompt = "p"}))
    local deadline = socket.gettime() + 10
    while not read(errf):find("started") and socket.gettime() < deadline do
      socket.sleep(0.05)
    end
    return w, q, id, errf, function()
      os.remove(path)
      os.remove(cfg)
      os.remove(errf)
      q:close()
    end
  end

  it("SIGTERM lets the job in hand finish, then exits 143", function()
    local w, q, id, errf, done = with_job([[
local llm = require("llmgateway")
return function(request, gw)
  io.stderr:write("started\n")
  llm.sleep(1)
  return assert(gw:run_task("t", {{content = "finished " .. request.prompt}}))
end
]])
    local t0 = socket.gettime()
    os.execute("kill -TERM " .. w.pid)
    assert.equal(143, w.close())
    local took = socket.gettime() - t0
    assert.equal("echo(m1): finished p", q:wait(id, 5))
    assert.matches("stopping: finishing the jobs in hand (at most 30 s",
                   read(errf), 1, true)
    assert.is_true(took < 5, "took " .. took)
    done()
  end)

  it("a handler that never yields is interrupted after worker_grace",
     function()
    local w, q, id, errf, done = with_job([[
return function()
  io.stderr:write("started\n")
  while true do end
end
]], 0.5)
    local t0 = socket.gettime()
    os.execute("kill -TERM " .. w.pid)
    assert.equal(143, w.close())
    local took = socket.gettime() - t0
    assert.is_true(took < 3, "took " .. took)
    assert.matches("at most 0.5 s", read(errf), 1, true)
    -- no outcome: the job is delivered again later
    local v, err = q:wait(id, 0.2)
    assert.is_nil(v)
    assert.equal("timeout", err.code)
    done()
  end)

  it("a second signal exits at once", function()
    local w, _, _, _, done = with_job([[
local llm = require("llmgateway")
return function()
  io.stderr:write("started\n")
  llm.sleep(20)
end
]])
    os.execute("kill -TERM " .. w.pid)
    socket.sleep(0.3)
    local t0 = socket.gettime()
    os.execute("kill -TERM " .. w.pid)
    assert.equal(143, w.close())
    assert.is_true(socket.gettime() - t0 < 2)
    done()
  end)
end)
