-- Specs for the host's signals and exit: SIGINT interrupts Lua code that
-- never yields (a second SIGINT exits at once), Ctrl-C ends a blocking
-- call in plain lua5.4, a task that failed unobserved makes the exit
-- status 1, a finalizer that never returns does not keep the process
-- alive, --trace failures end the run, and the progress line stays clear
-- of what the script prints.
package.path = "./tests/lua/?.lua;" .. package.path
local spec = require("support.spec")
local socket = require("socket")

local BUILD, HOST = spec.BUILD, spec.HOST
local quote, sh, script = spec.quote, spec.sh, spec.script

-- Starts cmd in the background, sends the signals after the delays (s)
-- and reports the exit status, the output and the seconds from the first
-- signal to the exit.
local function signaled(cmd, signals)
  local steps = {}
  for _, sg in ipairs(signals) do
    steps[#steps + 1] = ("sleep %s; kill -%s $pid; %s"):format(sg[1], sg[2],
      #steps == 0 and "t0=$(date +%s%N)" or ":")
  end
  local rc, out, err = sh("(" .. cmd .. " & pid=$!; " .. table.concat(steps,
    "; ") .. "; wait $pid; echo \"rc=$?\"; echo \"ms=$((($(date +%s%N) - "
    .. "t0) / 1000000))\")")
  assert.equal(0, rc)
  local code = tonumber(out:match("rc=(%d+)\n"))
  local ms = tonumber(out:match("ms=(%d+)\n"))
  return code, ms / 1000, out:gsub("rc=%d+\nms=%d+\n$", ""), err
end

describe("host signals and exit status", function()
  local s = spec.sim()

  it("SIGINT interrupts a loop that never yields: exit 130", function()
    local code, took, _, err = signaled(quote(HOST)
      .. " -e 'while true do end'", {{0.5, "INT"}})
    assert.equal(130, code)
    assert.is_true(took < 2, "took " .. took)
    assert.equal("llmgateway: interrupted\n", err)
    -- in a spawned task and in a callback-free nested function too
    code, took = signaled(quote(HOST) .. " -e " .. quote([[
local llm = require("llmgateway")
llm.spawn(function() local function spin() while true do end end spin() end)
]]), {{0.5, "INT"}})
    assert.equal(130, code)
    assert.is_true(took < 2, "took " .. took)
  end)

  it("a second SIGINT exits at once", function()
    -- pcall swallows the first interruption
    local code, took = signaled(quote(HOST) .. " -e " .. quote(
      "while true do pcall(function() while true do end end) end"),
      {{0.5, "INT"}, {0.3, "INT"}})
    assert.equal(130, code)
    assert.is_true(took < 2, "took " .. took)
  end)

  it("Ctrl-C ends a blocking call in plain lua5.4 with 'interrupted!'",
     function()
    local path = script(([[
local llm = require("llmgateway")
local gw = assert(llm.Gateway({providers = {{provider_type = "openai",
  api_style = "openai_chat", base_url = %q, api_key = "k"}},
  settings = {fallback_model = "m", timeout = 60}}, {no_state = true}))
print("started")
io.stdout:flush()
print(gw:run_task("t", {{role = "user", content = "@sim fault=hang\nx"}}))
print("not reached")
]]):format(s.base))
    local code, took, out, err = signaled("LUA_PATH='./lua/?.lua;"
      .. "./lua/?/init.lua;;' LUA_CPATH=" .. quote(BUILD .. "/?.so;;")
      .. " lua5.4 " .. quote(path), {{0.7, "INT"}})
    os.remove(path)
    assert.equal(1, code)
    assert.is_true(took < 2, "took " .. took)
    assert.equal("started\n", out)
    assert.matches("^lua5%.4: [^\n]*interrupted!\n", err)
  end)

  it("exits 1 after a task failed that nothing waited for", function()
    local rc, out, err = sh(quote(HOST) .. " -e " .. quote([[
local llm = require("llmgateway")
llm.spawn(function() error("lost failure", 0) end)
llm.sleep(0.05)
print("main done")
]]))
    assert.equal(1, rc)
    assert.equal("main done\n", out)
    assert.matches("a task failed and nothing waited for it: lost failure",
                   err, 1, true)
    -- waited for, or canceled: exit 0
    rc, out, err = sh(quote(HOST) .. " -e " .. quote([[
local llm = require("llmgateway")
local t = llm.spawn(function() error("seen", 0) end)
print(pcall(t.wait, t))
local c = llm.spawn(function() llm.sleep(10) end)
llm.sleep(0.01)
c:cancel()
]]))
    assert.equal(0, rc)
    assert.equal("false\tseen\n", out)
    assert.equal("", err)
  end)

  it("a finalizer that never returns does not keep the process alive",
     function()
    local t0 = socket.gettime()
    local rc, out, err = sh(quote(HOST) .. " -e " .. quote(
      "setmetatable({}, {__gc = function() while true do end end}) "
      .. "print('done')"))
    local took = socket.gettime() - t0
    assert.equal(0, rc)
    assert.equal("done\n", out)
    assert.matches("finalizers did not finish at exit", err, 1, true)
    assert.is_true(took < 10, "took " .. took)
  end)

  it("--trace: an unwritable file is an error at start, a failed write "
     .. "later ends the run with status 1", function()
    local rc, out, err = sh(quote(HOST) .. " --trace /nonexistent/dir/t.jsonl"
      .. " -e 'print(1)'")
    assert.equal(1, rc)
    assert.equal("", out)
    assert.matches("cannot open trace file '/nonexistent/dir/t.jsonl'", err,
                   1, true)
    local path = script(([[
local llm = require("llmgateway")
local gw = assert(llm.Gateway({providers = {{provider_type = "openai",
  api_style = "openai_chat", base_url = %q, api_key = "k"}},
  settings = {fallback_model = "m"}}, {no_state = true}))
for i = 1, 3 do print(gw:run_task("t", {{role = "user", content = "x" .. i}})) end
]]):format(s.base))
    rc, out, err = sh(quote(HOST) .. " --trace /dev/full " .. quote(path))
    os.remove(path)
    assert.equal(1, rc)
    assert.matches("cannot write trace file '/dev/full': No space left on "
      .. "device", err, 1, true)
    assert.is_nil(out:find("x3", 1, true))
  end)

  it("the progress line is cleared and redrawn around the script's output",
     function()
    local path = script(([[
local llm = require("llmgateway")
local gw = assert(llm.Gateway({providers = {{provider_type = "openai",
  api_style = "openai_chat", base_url = %q, api_key = "k"}},
  settings = {fallback_model = "m"}}, {no_state = true}))
gw:run_task("t", {{role = "user", content = "x"}})
llm.sleep(0.5)
print("hello")
llm.sleep(0.5)
io.write("part")
llm.sleep(0.5)
io.write("ial\n")
io.stdout:write("world\n")
]]):format(s.base))
    local rc, out = sh("sh -c " .. quote(quote(HOST) .. " --progress "
      .. quote(path) .. " 2>&1"))
    os.remove(path)
    assert.equal(0, rc)
    -- every line of the script starts a line of its own
    assert.matches("\r\27%[Khello\n\r\27%[K%[llmgateway%] done 1", out)
    assert.matches("\r\27%[Kpartial\n", out)
    assert.matches("\r\27%[Kworld\n", out)
    assert.is_nil(out:find("elapsed 0:0%dhello"))
    assert.is_nil(out:find("part%[llmgateway%]"))
    -- on a terminal (script(1) gives the host a pty)
    path = script(([[
local llm = require("llmgateway")
local gw = assert(llm.Gateway({providers = {{provider_type = "openai",
  api_style = "openai_chat", base_url = %q, api_key = "k"}},
  settings = {fallback_model = "m"}}, {no_state = true}))
gw:run_task("t", {{role = "user", content = "x"}})
llm.sleep(0.5)
print("on a tty")
]]):format(s.base))
    local p = io.popen("script -qfec " .. quote(quote(HOST) .. " "
      .. quote(path)) .. " /dev/null")
    local text = p:read("*a")
    p:close()
    os.remove(path)
    assert.matches("\r\27%[Kon a tty\r?\n", text)
    assert.is_nil(text:find("elapsed 0:0%don a tty"))
  end)
end)
