-- Neovim as a host (LuaJIT, luv): tests/nvim/stream.lua streams an answer
-- into a buffer through llmgateway.luv while the editor keeps running its
-- timers. Needs nvim and the module built for LuaJIT (build-luajit/, or
-- $LLMGATEWAY_NVIM_CPATH); pending otherwise.
package.path = "./tests/lua/?.lua;" .. package.path
local spec = require("support.spec")

local CPATH = os.getenv("LLMGATEWAY_NVIM_CPATH") or "build-luajit"

local function have(cmd)
  local ok = os.execute(cmd .. " > /dev/null 2>&1")
  return ok == true or ok == 0
end

describe("Neovim", function()
  if not have("command -v nvim") or
     not have("test -e " .. CPATH .. "/llmgateway/core.so") then
    pending("needs nvim and the LuaJIT build (make LUA=luajit)")
    return
  end

  local s = spec.sim()

  it("streams into a buffer while its timers keep ticking", function()
    local p = assert(io.popen("env ROOT=. SIM_BASE=" .. s.base
      .. " LLMGATEWAY_CPATH=" .. CPATH
      .. " nvim --headless -u NONE -i NONE -n"
      .. " -c 'luafile tests/nvim/stream.lua' 2>&1"))
    local out = p:read("*a")
    p:close()
    local ticks, ms, lines = out:match("RESULT ticks=(%d+) ms=(%d+) lines=([^\n]*)")
    assert.is_not_nil(ticks, out)
    assert.equal("echo(m): one two three", lines)
    -- a streamed answer of about a second, during which the editor's
    -- 20 ms timer ran again and again
    assert.is_true(tonumber(ms) >= 1000, out)
    assert.is_true(tonumber(ticks) >= 5, out)
  end)

  it(":LLMAsk of examples/nvim streams the answer into a scratch window",
     function()
    local cfg = os.tmpname()
    local f = assert(io.open(cfg, "w"))
    f:write("providers:\n  - provider_type: sim\n    api_style: openai_chat\n"
      .. "    base_url: " .. s.base .. "\n    api_key: k\n"
      .. "settings:\n  fallback_model: m\n")
    f:close()
    local p = assert(io.popen("env ROOT=. LLMGATEWAY_CONFIG=" .. cfg
      .. " LLMGATEWAY_CPATH=" .. CPATH
      .. " nvim --headless -u NONE -i NONE -n"
      .. " -c 'luafile tests/nvim/ask.lua' 2>&1"))
    local out = p:read("*a")
    p:close()
    os.remove(cfg)
    assert.equal("RESULT lines=echo(m): one two\n", out)
  end)
end)
