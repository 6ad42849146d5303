--- llmgateway.luv: runs the gateway inside a luv event loop (Neovim's
-- vim.uv / vim.loop, luvit), so that gateway calls made from tasks or
-- with gw:call_async complete while the host's loop keeps running.
--
--   local handle = require("llmgateway.luv").attach(vim.uv or vim.loop)
--   gw:call_async(request, function(r, err) ... end)
--   handle:detach()   -- when done (stops the handles)
--
-- The module keeps its own libuv loop; attach watches its descriptor
-- (llm.fd()) with a poll handle, wakes it at llm.timeout() with a timer,
-- and runs llm.step() from them and before each iteration of the host's
-- loop (a prepare handle), so work started from the host's callbacks is
-- picked up before the host waits again. Callbacks (on_delta, the
-- callback of call_async) run inside luv callbacks: in Neovim, use
-- vim.schedule for editor API calls there.
local args = require("llmgateway.args")
local core = require("llmgateway.core")

local M = {}

--- Drives the module from the luv loop uv until detached.
-- @param uv the luv module (vim.uv, vim.loop, require("luv"))
-- @param llm what gives fd, timeout and step: the llmgateway module or
--   llmgateway.core (the default)
-- @return a handle: handle.step() runs what is ready now,
--   handle.detach() stops and closes the luv handles
function M.attach(uv, llm)
  if type(uv) ~= "table" or type(uv.new_poll) ~= "function" then
    args.argerror(1, "attach", "luv module expected, got "
      .. args.typename(uv))
  end
  llm = llm or core
  local poll = uv.new_poll(llm.fd())
  local timer = uv.new_timer()
  local prepare = uv.new_prepare()
  local handle = {}
  local stepping = false

  local function arm()
    local ms = llm.timeout()
    timer:stop()
    if ms >= 0 then timer:start(ms, 0, handle.step) end
  end

  -- Runs what is ready, then re-arms the timer.
  function handle.step()
    if stepping then return end
    stepping = true
    local ok, err = pcall(llm.step)
    stepping = false
    arm()
    if not ok then error(err, 0) end
  end

  function handle.detach()
    if poll:is_closing() then return end
    poll:stop()
    timer:stop()
    prepare:stop()
    poll:close()
    timer:close()
    prepare:close()
  end

  poll:start("r", function() handle.step() end)
  prepare:start(function() handle.step() end)
  handle.step()
  return handle
end

return M
