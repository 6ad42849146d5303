-- :LLMAsk {prompt} -- asks the model and streams the answer into a
-- scratch window, while the editor stays responsive (the gateway runs in
-- Neovim's own event loop through llmgateway.luv).
--
-- Set-up: the module built for LuaJIT on package.path/package.cpath (see
-- "Using it from other Lua hosts" in the README), this directory on
-- 'runtimepath', and a configuration file: vim.g.llm_ask_config, else
-- $LLMGATEWAY_CONFIG. Failover, retries and limits come from it;
-- vim.g.llm_ask_task names the task (default "ask").
if vim.g.loaded_llm_ask then return end
vim.g.loaded_llm_ask = true

local state = {}

local function gateway()
  if state.gw then return state.gw end
  local llm = require("llmgateway")
  local path = vim.g.llm_ask_config or os.getenv("LLMGATEWAY_CONFIG")
  if not path then
    return nil, "set vim.g.llm_ask_config or $LLMGATEWAY_CONFIG"
  end
  local rt, err = llm.load_runtime_spec(path)
  if not rt then return nil, tostring(err) end
  local gw, gerr = llm.Gateway(rt)
  if not gw then return nil, tostring(gerr) end
  state.handle = require("llmgateway.luv").attach(vim.uv or vim.loop)
  state.gw = gw
  return gw
end

local function show(buf, text)
  if vim.api.nvim_buf_is_valid(buf) then
    vim.api.nvim_buf_set_lines(buf, 0, -1, false,
                               vim.split(text, "\n", {plain = true}))
  end
end

vim.api.nvim_create_user_command("LLMAsk", function(opts)
  local gw, err = gateway()
  if not gw then
    vim.notify("LLMAsk: " .. err, vim.log.levels.ERROR)
    return
  end
  vim.cmd("botright new")
  local buf = vim.api.nvim_get_current_buf()
  vim.bo[buf].buftype = "nofile"
  vim.bo[buf].bufhidden = "wipe"
  vim.bo[buf].swapfile = false
  local text = ""
  -- on_delta and the callback run inside the loop's callbacks, where the
  -- editor's API is off limits: vim.schedule brings them back to it.
  gw:call_async({
    task = vim.g.llm_ask_task or "ask",
    messages = {{role = "user", content = opts.args}},
    on_delta = function(d)
      vim.schedule(function()
        text = text .. d
        show(buf, text)
      end)
    end,
  }, function(r, e)
    vim.schedule(function()
      if r then
        show(buf, r.text)
      else
        show(buf, text .. "\n[llmgateway:" .. tostring(e.code) .. "] "
          .. tostring(e.message))
      end
    end)
  end)
end, {nargs = "+", desc = "Ask the model; the answer streams into a scratch window"})
