-- Specs for start-up: loading the module or starting the host does not
-- load libcurl (and its TLS and HTTP/2 libraries); the first gateway
-- does, and what works without a gateway works first.
package.path = "./tests/lua/?.lua;" .. package.path
local spec = require("support.spec")

local quote, host = spec.quote, spec.host

-- The interpreter of this run (a shell command).
local LUA = os.getenv("LLMGATEWAY_LUA") or "lua5.4"

-- Lua code that prints whether libcurl is mapped in its process.
local MAPPED = [[
local function mapped(name)
  local f = assert(io.open("/proc/self/maps"))
  local maps = f:read("*a")
  f:close()
  return maps:find(name, 1, true) ~= nil
end
local function curl_loaded() return mapped("libcurl") end
]]

-- Runs code in a fresh process of the interpreter, with this process's
-- package paths; exit code, stdout, stderr.
local function fresh(code)
  local prelude = ("package.path = %q; package.cpath = %q\n"):format(
    package.path, package.cpath)
  return spec.sh(LUA .. " -e " .. quote(prelude .. MAPPED
    .. code))
end

local GATEWAY = [[
local gw = assert(llm.Gateway({providers = {{provider_type = "openai",
  api_style = "openai_chat", base_url = "http://127.0.0.1:9/v1",
  api_key = "k"}}, settings = {fallback_model = "m"}}, {no_state = true}))
]]

local GATEWAY_LAZY = [[
local function gateway()
  return assert(require("llmgateway").Gateway({providers = {{
    provider_type = "openai", api_style = "openai_chat",
    base_url = "http://127.0.0.1:9/v1", api_key = "k"}},
    settings = {fallback_model = "m"}}, {no_state = true}))
end
]]

describe("start-up", function()
  it("require 'llmgateway' does not load libcurl; the first gateway does",
     function()
    local rc, out, err = fresh("local llm = require('llmgateway')\n"
      .. "print(curl_loaded())\n" .. GATEWAY .. "print(curl_loaded())\n"
      .. "gw:close()\n")
    assert.equal(0, rc, err)
    assert.equal("false\ntrue\n", out)
  end)

  it("what needs no gateway works first: fd, run, sleep, validators",
     function()
    local rc, out, err = fresh([[
local llm = require('llmgateway')
print(type(llm.fd()))
print(llm.run(function() llm.sleep(0.001) return 7 end))
print(tostring(llm.validators.json_object{required = {"a"}}(nil, {})[1]))
print(curl_loaded())
]])
    assert.equal(0, rc, err)
    assert.equal("number\n7\n$: missing required key \"a\"\nfalse\n", out)
  end)

  it("neither libyaml nor hiredis is loaded by require; the first YAML "
     .. "read loads libyaml", function()
    -- hiredis 1.x stays linked (the Makefile's HIREDIS_DL): then it is
    -- mapped from the start
    local _, elf = spec.sh("readelf -d " .. quote((os.getenv(
      "LLMGATEWAY_CPATH") or "./build") .. "/llmgateway/core.so"))
    local hiredis = tostring(elf:find("libhiredis", 1, true) ~= nil)
    local rc, out, err = fresh([[
local llm = require('llmgateway')
print(mapped("libyaml"), mapped("libhiredis"))
local path = os.tmpname()
local f = assert(io.open(path, "w"))
f:write("settings:\n  fallback_model: m\n")
f:close()
local spec = assert(llm.load_runtime_spec(path))
os.remove(path)
print(spec ~= nil, mapped("libyaml"), mapped("libhiredis"))
]])
    assert.equal(0, rc, err)
    assert.equal(("false\t%s\ntrue\ttrue\t%s\n"):format(hiredis, hiredis),
                 out)
  end)

  it("neither libuv nor libcJSON is loaded by require; plain JSON is "
     .. "decoded without libcJSON, the first loop loads libuv", function()
    local rc, out, err = fresh([[
local llm = require('llmgateway')
local core = require('llmgateway.core')
print(mapped("libuv"), mapped("libcjson"))
print(core.parse_json('{"a": [1]}').a[1], mapped("libuv"), mapped("libcjson"))
print(type(llm.fd()), mapped("libuv"))
]])
    assert.equal(0, rc, err)
    assert.equal("false\tfalse\n1\tfalse\tfalse\nnumber\ttrue\n", out)
  end)

  it("what few scripts use is compiled at its first use, and its argument "
     .. "errors point at the caller from the first call", function()
    local rc, out, err = fresh(GATEWAY_LAZY .. [[
local llm = require('llmgateway')
local core = require('llmgateway.core')
-- plain Lua 5.1 counts tail calls as stack levels: it loads them at once
local eager = _VERSION == "Lua 5.1" and rawget(_G, "jit") == nil
local function loaded(name) return package.loaded[name] ~= nil end
print(loaded("llmgateway.extra") == eager, loaded("llmgateway.args") == eager,
      loaded("llmgateway.compat") == eager)
local listed = {}
for k in pairs(llm) do listed[k] = true end
print(listed.Session, listed.gather, core._gateway_methods.run_tools ~= nil,
      core._queue_methods.serve ~= nil)
local gw = gateway()
local saved = llm.gather
local calls = {
  function() llm.gather(1) end,
  function() llm.Session(1) end,
  function() gw:run_tools(1) end,
  function() gw.run_tools(1) end,
  function() core._queue_methods.serve(1) end,
}
for _, f in ipairs(calls) do
  local msgs = {}
  for i = 1, 2 do  -- the first call (a stub, unless eager), then the real one
    local ok, e = pcall(f)
    msgs[i] = not ok and e
  end
  print(msgs[1] == msgs[2] and msgs[1])
end
print(loaded("llmgateway.extra"), saved == llm.gather)
local s = llm.Session(gw, {system = "s"})
print(getmetatable(s).__name, #s.messages, s:fork().messages[1].content)
gw:close()
]])
    assert.equal(0, rc, err)
    local line = "%(command line%):%d+: "
    local want = {
      "^true\ttrue\ttrue\n",
      "true\ttrue\ttrue\ttrue\n",
      line .. "bad argument #1 to 'gather' %(llmgateway.Task or list of "
        .. "tasks expected, got number%)\n",
      line .. "bad argument #1 to 'Session' %(llmgateway.Gateway expected, "
        .. "got number%)\n",
      line .. "bad argument #1 to 'run_tools' %(table expected, got "
        .. "number%)\n",
      line .. "bad argument #1 to 'run_tools' %(llmgateway.Gateway "
        .. "expected, got number%)\n",
      line .. "bad argument #1 to 'serve' %(llmgateway.Queue expected, got "
        .. "number%)\n",
      "true\ttrue\nllmgateway.Session\t1\ts\n$"}
    assert.matches(table.concat(want), out)
  end)

  it("the gateway methods written in Lua compile their checks and loop "
     .. "(llmgateway.methods) at their first need: the same function, "
     .. "listed, with the same argument errors from the first call",
     function()
    local names = {"call_async", "run_task_with_retry", "run_json_task",
                   "run_json_task_with_retry", "run_tasks",
                   "run_tasks_with_retry", "run_json_tasks_with_retry"}
    for _, name in ipairs(names) do
      local rc, out, err = fresh(GATEWAY_LAZY .. ([[
local llm = require('llmgateway')
local core = require('llmgateway.core')
local name = %q
local listed = rawget(core._gateway_methods, name)
-- plain Lua 5.1 loads llmgateway.extra at once, which needs it
local eager = _VERSION == "Lua 5.1" and rawget(_G, "jit") == nil
print((package.loaded["llmgateway.methods"] ~= nil) == eager, type(listed))
local gw = gateway()
local msgs = {}
for i = 1, 2 do  -- the first call loads llmgateway.methods
  local ok, e = pcall(function() gw[name](gw, 1) end)
  msgs[i] = not ok and e
end
print(msgs[1] == msgs[2] and msgs[1])
local ok, e = pcall(function() gw[name](1) end)
print(not ok and e)
print(package.loaded["llmgateway.methods"] ~= nil,
      listed == core._gateway_methods[name], listed == gw[name])
gw:close()
]]):format(name))
      assert.equal(0, rc, err)
      local line = "%(command line%):%d+: bad argument #1 to '" .. name
        .. "' %("
      assert.matches("^true\tfunction\n" .. line .. "[^\n]* expected, "
        .. "got number%)\n" .. line .. "llmgateway.Gateway expected, got "
        .. "number%)\ntrue\ttrue\ttrue\n$", out)
    end
  end)

  it("require makes no event loop: its first need does (fd(), a task, a "
     .. "sleep), and step and timeout work before it", function()
    local rc, out, err = fresh([[
local pid = assert(io.open("/proc/self/stat")):read("*n")
local function epolls()  -- the process's epoll descriptors
  local p = assert(io.popen("ls -l /proc/" .. pid .. "/fd"))
  local _, n = p:read("*a"):gsub("eventpoll", "")
  p:close()
  return n
end
local base = epolls()
local llm = require('llmgateway')
print(epolls() - base, llm.step(), llm.timeout())
local fd = llm.fd()
print(epolls() - base, fd == llm.fd(), llm.step(), llm.timeout())
print(llm.run(function() llm.sleep(0.001) return 7 end), epolls() - base)
]])
    assert.equal(0, rc, err)
    assert.equal("0\t0\t-1\n1\ttrue\t0\t-1\n7\t1\n", out)
    -- a first task, a first sleep from the main thread
    for _, code in ipairs({
      "print(llm.spawn(function() return 1 end):wait())",
      "llm.sleep(0.001) print(1)"}) do
      rc, out, err = fresh("local llm = require('llmgateway')\n" .. code)
      assert.equal(0, rc, err)
      assert.equal("1\n", out)
    end
  end)

  it("the host starts without libcurl and loads it for a gateway",
     function()
    local rc, out, err = host("-e " .. quote(MAPPED
      .. "print(curl_loaded())\nlocal llm = require('llmgateway')\n"
      .. "print(curl_loaded())\n" .. GATEWAY .. "print(curl_loaded())\n"
      .. "gw:close()"))
    assert.equal(0, rc, err)
    assert.equal("false\nfalse\ntrue\n", out)
  end)
end)
