-- tests/lua/support/spec.lua -- what the busted specs share (a helper, not
-- a spec): files and commands, the host executable, a simulator for a
-- describe block, gateway configurations and error messages.
--
--   local spec = require("support.spec")
--   describe("x", function()
--     local s = spec.sim()          -- started once for the block
--     it("...", function()
--       local gw = assert(llm.Gateway(spec.chat_config(s.base), {no_state = true}))
--       local rc, out, err = spec.host("-e " .. spec.quote("print(1)"))
--     end)
--   end)

local sim = require("support.sim")
-- busted's functions: a spec's globals are not this module's
local busted = require("busted")
local luassert = require("luassert")

local M = {}

--- The build directory ($LLMGATEWAY_BUILD, default "build").
M.BUILD = os.getenv("LLMGATEWAY_BUILD") or "build"

-- True when path is a file that can be read (a directory opens but cannot
-- be read).
local function is_file(path)
  local f = io.open(path, "rb")
  if not f then return false end
  local _, err = f:read(0)
  f:close()
  return err == nil
end

--- The host: $LLMGATEWAY_HOST, else <build>/llmgateway when it is a file,
-- else <build>/bin/llmgateway.
M.HOST = os.getenv("LLMGATEWAY_HOST")
if not M.HOST or M.HOST == "" then
  M.HOST = is_file(M.BUILD .. "/llmgateway") and M.BUILD .. "/llmgateway"
    or M.BUILD .. "/bin/llmgateway"
end

--- s quoted for the shell.
M.quote = sim.quote

--- The contents of the file at path, or nil when it cannot be opened.
function M.read(path)
  local f = io.open(path, "rb")
  if not f then return nil end
  local text = f:read("*a")
  f:close()
  return text
end

--- Writes text to the file at path; returns path.
function M.write(path, text)
  local f = assert(io.open(path, "wb"))
  f:write(text)
  f:close()
  return path
end

--- A new temporary file holding text, named with suffix ("" for none).
function M.tmpfile(suffix, text)
  return M.write(os.tmpname() .. suffix, text)
end

--- A new temporary Lua script holding text.
function M.script(text)
  return M.tmpfile(".lua", text)
end

--- A new empty temporary directory.
function M.tmpdir()
  local d = os.tmpname()
  os.remove(d)
  assert(os.execute("mkdir -p " .. M.quote(d)))
  return d
end

--- Runs a shell command; returns its exit code, stdout and stderr.
function M.sh(cmd)
  local errf = os.tmpname()
  local p = io.popen(cmd .. " 2>" .. errf)
  local out = p:read("*a")
  local _, _, rc = p:close()
  local err = M.read(errf)
  os.remove(errf)
  return rc, out, err
end

--- Runs the host with args (shell words); returns exit code, stdout,
-- stderr.
function M.host(args)
  return M.sh(M.quote(M.HOST) .. " " .. args)
end

--- `llmgateway worker <args>` in the background, its stderr into errfile
-- (default /dev/null): {pid =, close = function() -> exit code, how}.
function M.start_worker(args, errfile)
  local p = assert(io.popen("echo $$; exec " .. M.quote(M.HOST) .. " worker "
    .. args .. " >/dev/null 2>" .. M.quote(errfile or "/dev/null"), "r"))
  local pid = tonumber(p:read("*l"))
  return {pid = pid, close = function()
    local _, how, code = p:close()
    return code, how
  end}
end

local seq = 0

--- A queue name no other run uses: <prefix><n>-<time>.
function M.queue_name(prefix)
  seq = seq + 1
  return ("%s%d-%d"):format(prefix or "spec", seq, os.time())
end

--- The message of the error f raises, without its "file:line: " prefix;
-- fails the spec when f does not raise.
function M.err_of(f)
  local ok, e = pcall(f)
  luassert.is_false(ok, "expected an error")
  return (tostring(e):gsub("^[^:]*:%d+: ", ""))
end

--- A message list of one user message.
function M.user(text)
  return {{role = "user", content = text}}
end

--- A simulator for the enclosing describe block: started (with the
-- command-line arguments args) before its first spec and stopped after
-- its last. Returns the handle of support.sim (port, base, stats, reset,
-- request, stop), filled in when the simulator starts.
function M.sim(args)
  local s = {}
  busted.lazy_setup(function()
    local h = sim.start(args)
    for k, v in pairs(h) do s[k] = v end
    s.handle = h
  end)
  busted.lazy_teardown(function()
    if s.stop then s.stop() end
  end)
  return s
end

--- A configuration of one openai_chat provider at base (API key
-- "sk-spec-secret") with settings {fallback_model = "m"}, then the keys
-- of each further table in order.
function M.chat_config(base, ...)
  local c = {
    providers = {{provider_type = "openai", api_style = "openai_chat",
                  base_url = base, api_key = "sk-spec-secret"}},
    settings = {fallback_model = "m"},
  }
  for i = 1, select("#", ...) do
    for k, v in pairs(select(i, ...) or {}) do c.settings[k] = v end
  end
  return c
end

return M
