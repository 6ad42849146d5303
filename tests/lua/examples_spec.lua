-- Specs for examples/: each script runs through the llmgateway host
-- against llmgateway-sim with examples/sim.yaml, and prints what a reader
-- of the example is promised. Without a built host the scripts run under
-- plain lua5.4 (they are ordinary Lua programs), with the config passed in
-- LLMGATEWAY_CONFIG instead of -c.
package.path = "./tests/lua/?.lua;" .. package.path
local sim = require("support.sim")
local spec = require("support.spec")

local BUILD, HOST, quote = spec.BUILD, spec.HOST, spec.quote

local function is_program(path)
  return os.execute("test -f " .. quote(path) .. " && test -x " .. quote(path)) == true
end

local have_host = is_program(HOST)

-- Runs a shell command with the given environment; returns its output
-- (stdout and stderr) and exit status.
local function run(env, command)
  local parts = {}
  for _, k in ipairs({ "LLMGATEWAY_SIM_URL", "LLMGATEWAY_PROVIDER_STATE", "LLMGATEWAY_CONFIG",
                       "LLMGATEWAY_HOST" }) do
    if env[k] then parts[#parts + 1] = k .. "=" .. quote(env[k]) end
  end
  parts[#parts + 1] = "LUA_PATH=" .. quote("./lua/?.lua;./lua/?/init.lua;;")
  parts[#parts + 1] = "LUA_CPATH=" .. quote("./" .. BUILD .. "/?.so;;")
  local p = assert(io.popen(table.concat(parts, " ") .. " " .. command .. " 2>&1"))
  local out = p:read("*a")
  local _, _, status = p:close()
  return out, status
end

local function has(out, line)
  assert(out:find(line, 1, true), "expected output to contain:\n  " .. line .. "\ngot:\n" .. out)
end

describe("examples", function()
  local s, state

  setup(function()
    s = sim.start()
  end)

  teardown(function()
    if s then s.stop() end
  end)

  -- A fresh provider state per script, so each one starts with nothing
  -- remembered and shows the failover of examples/sim.yaml.
  before_each(function()
    state = os.tmpname()
    os.remove(state)
  end)

  after_each(function()
    os.remove(state)
  end)

  local function example(name)
    local env = { LLMGATEWAY_SIM_URL = s.base, LLMGATEWAY_PROVIDER_STATE = state }
    local out, status
    if have_host then
      out, status = run(env, quote(HOST) .. " -c examples/sim.yaml examples/" .. name)
    else
      env.LLMGATEWAY_CONFIG = "examples/sim.yaml"
      out, status = run(env, (os.getenv("LLMGATEWAY_LUA") or "lua5.4") .. " examples/" .. name)
    end
    assert.equals(0, status, out)
    return out
  end

  it("quickstart summarizes, fails over and retries one invalid verdict", function()
    local out = example("quickstart.lua")
    has(out, "[1] echo(sim-mini): Summarize this note in one sentence for a status report: "
      .. "The build server ran out of disk")
    has(out, "[3] echo(sim-mini): Summarize this note in one sentence for a status report: "
      .. "The new onboarding flow")
    has(out, "answered by " .. s.base .. " (responses, model sim-mini), 3 attempt(s)")
    has(out, "attempts: http://127.0.0.1:9 connect (")
    has(out, " -> " .. s.base .. " ok 200 (")
    has(out, "round 1: rejected\n"
      .. '  - $.risk: must be one of "low", "medium", "high" (got "severe")\n')
    has(out, "round 2: valid\nvalidation retries: 1\n"
      .. "summary: Disk and export problems need fixing\nrisk: medium\n")
  end)

  it("json_task shows exactly one validation retry", function()
    local out = example("json_task.lua")
    has(out, "round 1: 4 problem(s)\n"
      .. '  - $: missing required key "labels"\n'
      .. "  - $.priority: expected integer, got string\n"
      .. "  - $.title: string has 6 characters; at least 10 required\n")
    has(out, "round 2: valid\nvalidation retries: 1\n")
    has(out, 'ticket: "Export times out on large reports", priority 2, labels export')
  end)

  it("batch reports per-item errors and the other answers", function()
    local out = example("batch.lua")
    has(out, "item  7 failed: http (")
    has(out, "HTTP 400 at " .. s.base)
    has(out, "first answer: echo(sim-mini): Item 1: is 1 a prime number?")
    has(out, "50 requests: 43 ok, 7 failed (items 7, 14, 21, 28, 35, 42, 49)")
    has(out, "max_concurrent 8")
  end)

  it("failover retries the dead provider, then remembers the live one", function()
    local out = example("failover.lua")
    has(out, "== first call\nattempt 1: http://127.0.0.1:9 -> connect (")
    has(out, "attempt 3: " .. s.base .. " -> ok 200 (")
    has(out, "answered by provider 2 (" .. s.base .. "): echo(sim-mini): "
      .. "Name one benefit of provider failover.")
    has(out, "== second call (remembered provider first)\nattempt 1: " .. s.base .. " -> ok 200 (")
  end)

  it("judge rejects once through a model-backed validator, then accepts", function()
    local out = example("judge.lua")
    has(out, "judge round 1: fail (it does not name a concrete next step)")
    has(out, "judge round 2: pass (states a concrete next step)")
    has(out, "judged 2 time(s); accepted")
  end)

  it("tools runs both tools at once, then a second step, then answers", function()
    local out = example("tools.lua")
    has(out, 'call get_weather({"city":"Paris"}) -> {"celsius":14,"city":"Paris","sky":"cloudy"}\n'
      .. 'call get_time({"zone":"Europe/Paris"}) -> Europe/Paris 09:30\n'
      .. 'call get_weather({"city":"Rome"}) -> {"celsius":21,"city":"Rome","sky":"sunny"}\n'
      .. "2 step(s) with tools, 8 messages in the conversation\n")
    has(out, 'answer: tool result: {"celsius":14,"city":"Paris","sky":"cloudy"}\n'
      .. "tool result: Europe/Paris 09:30\n"
      .. 'tool result: {"celsius":21,"city":"Rome","sky":"sunny"}\n')
  end)

  it("vision sends two images and a PDF as content parts", function()
    local out = example("vision.lua")
    has(out, "sent 67 image bytes and a 48-byte PDF\n"
      .. "answer: echo(sim-mini): What do these show? Compare them with the report. "
      .. "[3 attachments: image image/png 67 bytes, image url, file application/pdf 48 bytes]\n")
  end)

  it("demo.sh runs the quickstart offline and exits with its status", function()
    if not have_host then return pending("no llmgateway host at " .. HOST) end
    local out, status = run({ LLMGATEWAY_HOST = HOST }, "sh examples/demo.sh " .. quote(BUILD))
    assert.equals(0, status, out)
    has(out, "simulator at http://127.0.0.1:")
    has(out, "attempts: http://127.0.0.1:9 connect (")
    has(out, "validation retries: 1")
    has(out, "quickstart exited with status 0 after ")
  end)
end)
