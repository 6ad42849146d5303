-- Specs for SIGINT around synchronous waits in plain lua5.4: the module
-- takes SIGINT over only while a wait runs the loop, and lua.c's handler
-- is back afterwards -- after a wait that ended normally, one that raised
-- (a time limit, a deadlock) and one that Ctrl-C ended -- so that Ctrl-C
-- still interrupts the plain Lua code that follows.
package.path = "./tests/lua/?.lua;" .. package.path
local spec = require("support.spec")

local BUILD, quote, sh, script = spec.BUILD, spec.quote, spec.sh, spec.script

-- Runs the script at path under lua5.4 (at most 10 s; timeout in the
-- foreground passes on every SIGINT), sends SIGINT after each delay (s)
-- and reports the exit status, the seconds from the first signal to the
-- exit, stdout and stderr.
local function interrupted(path, delays)
  local steps = {}
  for i, d in ipairs(delays) do
    steps[#steps + 1] = ("sleep %s; kill -INT $pid%s"):format(d,
      i == 1 and "; t0=$(date +%s%N)" or "")
  end
  local rc, out, err = sh("(LUA_PATH='./lua/?.lua;./lua/?/init.lua;;' "
    .. "LUA_CPATH=" .. quote(BUILD .. "/?.so;;")
    .. " timeout --foreground -s KILL 10 lua5.4 " .. quote(path)
    .. " & pid=$!; " .. table.concat(steps, "; ")
    .. "; wait $pid; echo \"rc=$?\"; echo \"ms=$((($(date +%s%N) - t0) / "
    .. "1000000))\")")
  assert.equal(0, rc)
  local code = tonumber(out:match("rc=(%d+)\n"))
  local ms = tonumber(out:match("ms=(%d+)\n"))
  return code, ms / 1000, out:gsub("rc=%d+\nms=%d+\n$", ""), err
end

describe("SIGINT around synchronous waits (plain lua5.4)", function()
  local s = spec.sim()

  it("lua.c's handler is back after waits that ended, normally or "
     .. "with an error", function()
    local path = script(([[
local llm = require("llmgateway")
local core = require("llmgateway.core")
local gw = assert(llm.Gateway({providers = {{provider_type = "openai",
  api_style = "openai_chat", base_url = %q, api_key = "k"}},
  settings = {fallback_model = "m", timeout = 60}}, {no_state = true}))
assert(gw:run_task("t", {{role = "user", content = "hi"}}))
llm.sleep(0.01)
llm.spawn(function() llm.sleep(0.01) end):wait()
llm.run(function() llm.sleep(0.01) end)
-- a wait that a time limit ends (raised inside the limited call)
local ok, e = core._call_limited(0.05, llm.sleep, 5)
assert(not ok and e:find("time limit", 1, true), e)
-- a failed llm.run
ok, e = pcall(llm.run, function() llm.sleep(0.01) error("boom") end)
assert(not ok and e:find("boom", 1, true), e)
-- a wait that ends in a deadlock error
local a, b
a = llm.spawn(function() llm.sleep(0) b:wait() end)
b = llm.spawn(function() llm.sleep(0) a:wait() end)
ok, e = pcall(a.wait, a)
assert(not ok and e:find("deadlock", 1, true), e)
print("started")
io.stdout:flush()
while true do end
]]):format(s.base))
    local code, took, out, err = interrupted(path, {1.5})
    os.remove(path)
    assert.equal("started\n", out)
    assert.equal(1, code)
    assert.is_true(took < 2, "took " .. took)
    assert.matches("^lua5%.4: [^\n]*interrupted!\n", err)
  end)

  it("after Ctrl-C ended a wait, the next Ctrl-C interrupts plain code",
     function()
    local path = script(([[
local llm = require("llmgateway")
local gw = assert(llm.Gateway({providers = {{provider_type = "openai",
  api_style = "openai_chat", base_url = %q, api_key = "k"}},
  settings = {fallback_model = "m", timeout = 60}}, {no_state = true}))
print("started")
io.stdout:flush()
local ok, e = pcall(gw.run_task, gw, "t",
                    {{role = "user", content = "@sim fault=hang\nx"}})
print(ok, e)
io.stdout:flush()
while true do end
]]):format(s.base))
    local code, took, out, err = interrupted(path, {0.7, 0.5})
    os.remove(path)
    assert.equal("started\nfalse\tinterrupted!\n", out)
    assert.equal(1, code)
    assert.is_true(took < 3, "took " .. took)
    assert.matches("^lua5%.4: [^\n]*interrupted!\n", err)
  end)
end)
