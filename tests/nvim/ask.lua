-- Run by tests/lua/nvim_spec.lua inside `nvim --headless -u NONE` with
-- examples/nvim on 'runtimepath': :LLMAsk streams into a new scratch
-- window. Prints "RESULT lines=<buffer lines joined by |>" and quits.
local root = os.getenv("ROOT") or "."
package.path = root .. "/lua/?.lua;" .. root .. "/lua/?/init.lua;"
  .. package.path
package.cpath = (os.getenv("LLMGATEWAY_CPATH") or root .. "/build-luajit")
  .. "/?.so;" .. package.cpath
vim.opt.runtimepath:append(root .. "/examples/nvim")
vim.cmd("runtime plugin/llm_ask.lua")

local function finish(line)
  io.stdout:write(line, "\n")
  io.stdout:flush()
  vim.cmd("qa!")
end

vim.defer_fn(function() finish("ERROR no answer within 20 s") end, 20000)
vim.cmd("LLMAsk one two")
local buf = vim.api.nvim_get_current_buf()
local function poll()
  local lines = vim.api.nvim_buf_get_lines(buf, 0, -1, false)
  local text = table.concat(lines, "|")
  if text == "echo(m): one two" then return finish("RESULT lines=" .. text) end
  vim.defer_fn(poll, 20)
end
poll()
