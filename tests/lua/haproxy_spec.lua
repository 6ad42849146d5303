-- HAProxy as a host (Lua 5.3): tests/haproxy/task.lua, loaded with
-- lua-load, streams an answer from the simulator in a task of HAProxy's
-- (core.register_task) through llm.step/llm.timeout, while another task
-- keeps ticking. Needs haproxy built with Lua and the module built for Lua
-- 5.3 (build-lua5.3/); pending otherwise.
package.path = "./tests/lua/?.lua;" .. package.path
local sim = require("support.sim")

local CPATH = "build-lua5.3"

local function have(cmd)
  local ok = os.execute(cmd .. " > /dev/null 2>&1")
  return ok == true or ok == 0
end

describe("HAProxy", function()
  if not have("haproxy -vv | grep -q 'Built with Lua version : Lua 5.3'") or
     not have("test -e " .. CPATH .. "/llmgateway/core.so") then
    pending("needs haproxy (with Lua 5.3) and the Lua 5.3 build "
      .. "(make LUA=5.3)")
    return
  end

  local s, dir
  lazy_setup(function()
    s = sim.start()
    local p = assert(io.popen("mktemp -d"))
    dir = p:read("*l")
    p:close()
  end)
  lazy_teardown(function()
    s.stop()
    os.execute("rm -rf '" .. dir .. "'")
  end)

  it("a task of HAProxy's streams an answer while another task ticks",
     function()
    local cfg = dir .. "/haproxy.cfg"
    local f = assert(io.open(cfg, "w"))
    -- HAProxy needs a listener: a Unix socket nothing connects to
    f:write("global\n  nbthread 1\n  lua-load tests/haproxy/task.lua\n"
      .. "defaults\n  mode http\n  timeout client 1s\n  timeout server 1s\n"
      .. "  timeout connect 1s\n"
      .. "frontend idle\n  bind unix@" .. dir .. "/sock\n"
      .. "  http-request return status 200\n")
    f:close()
    local p = assert(io.popen("env ROOT=. SIM_BASE=" .. s.base
      .. " LLMGATEWAY_CPATH=" .. CPATH
      .. " timeout 30 haproxy -db -f " .. cfg .. " 2>&1"))
    local out = p:read("*a")
    p:close()
    local lua, ticks, ms, text = out:match(
      "RESULT lua=(Lua [%d.]+) ticks=(%d+) ms=(%d+) steps=%d+ text=([^\n]*)")
    assert.is_not_nil(ticks, out)
    assert.equal("Lua 5.3", lua)
    assert.equal("echo(m): one two three|echo(m): one two three", text)
    -- a streamed answer of about a second, during which HAProxy's other
    -- task (a 20 ms sleep each round) ran again and again
    assert.is_true(tonumber(ms) >= 1000, out)
    assert.is_true(tonumber(ticks) >= 5, out)
  end)
end)
