-- Run by tests/lua/nvim_spec.lua inside `nvim --headless -u NONE`: loads
-- the module built for LuaJIT, streams an answer from the simulator
-- ($SIM_BASE, slowed down to about a second) into a scratch buffer through
-- llmgateway.luv, while a vim.defer_fn timer counts its ticks. Prints one
-- line "RESULT ticks=N ms=N lines=<buffer lines joined by |>" (or
-- "ERROR ...") and quits.
local root = os.getenv("ROOT") or "."
package.path = root .. "/lua/?.lua;" .. root .. "/lua/?/init.lua;"
  .. package.path
package.cpath = (os.getenv("LLMGATEWAY_CPATH") or root .. "/build-luajit")
  .. "/?.so;" .. package.cpath

local out = io.stdout
local function finish(line)
  out:write(line, "\n")
  out:flush()
  vim.cmd("qa!")
end

local ok, err = pcall(function()
  local llm = require("llmgateway")
  local uv = vim.uv or vim.loop
  local handle = require("llmgateway.luv").attach(uv)
  local gw = assert(llm.Gateway({
    providers = {{provider_type = "sim", api_style = "openai_chat",
                  base_url = os.getenv("SIM_BASE"), api_key = "k"}},
    settings = {fallback_model = "m"},
  }, {no_state = true}))
  local buf = vim.api.nvim_create_buf(false, true)
  local ticks, streaming, text = 0, true, ""
  local t0 = uv.hrtime()
  local function tick()
    if not streaming then return end
    ticks = ticks + 1
    vim.defer_fn(tick, 20)
  end
  vim.defer_fn(tick, 20)
  vim.defer_fn(function() finish("ERROR no answer within 20 s") end, 20000)
  gw:call_async({
    task = "t",
    messages = {{role = "user",
                 content = "@sim fault=slow slow_ms=1\none two three"}},
    on_delta = function(d)
      vim.schedule(function()
        text = text .. d
        vim.api.nvim_buf_set_lines(buf, 0, -1, false,
                                   vim.split(text, "\n", {plain = true}))
      end)
    end,
  }, function(r, e)
    vim.schedule(function()
      streaming = false
      handle.detach()
      if not r then return finish("ERROR " .. tostring(e and e.message)) end
      local lines = vim.api.nvim_buf_get_lines(buf, 0, -1, false)
      finish(("RESULT ticks=%d ms=%d lines=%s"):format(ticks,
        math.floor((uv.hrtime() - t0) / 1e6), table.concat(lines, "|")))
    end)
  end)
end)
if not ok then finish("ERROR " .. tostring(err)) end
