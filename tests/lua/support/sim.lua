-- tests/lua/support/sim.lua -- starts and stops llmgateway-sim for busted
-- specs (a helper, not a spec):
--
--   local sim = require("support.sim")
--   local s = sim.start({ "--latency-ms", "10" })
--   ... s.base, s.port ...; s.stats().requests; s.reset(); s.stop()
--
-- sim.quote(s) quotes for the shell; sim.alive(pid) is true while pid is a
-- live process (support.redis and support.spec use both).
--
-- The binary is $LLMGATEWAY_SIM, else $LLMGATEWAY_BUILD/llmgateway-sim
-- (build/ by default, relative to the repository root).

local M = {}

local have_system, system = pcall(require, "system")

local function sleep(seconds)
  if have_system then
    system.sleep(seconds)
  else
    os.execute("sleep " .. seconds)
  end
end

local function now()
  if have_system then return system.monotime() end
  return os.time()
end

-- s quoted for the shell.
local function quote(s)
  return "'" .. tostring(s):gsub("'", "'\\''") .. "'"
end
M.quote = quote

local function sim_path()
  local p = os.getenv("LLMGATEWAY_SIM")
  if p and p ~= "" then return p end
  return (os.getenv("LLMGATEWAY_BUILD") or "build") .. "/llmgateway-sim"
end

-- JSON text to a Lua value: llmgateway.parse_json when the module loads,
-- else dkjson (a busted dependency).
local function decode(text)
  local ok, llm = pcall(require, "llmgateway")
  if ok and type(llm) == "table" and type(llm.parse_json) == "function" then
    local value, err = llm.parse_json(text)
    if err == nil then return value end
  end
  local value, _, err = require("dkjson").decode(text)
  if err then error("sim: bad JSON from the simulator: " .. err, 2) end
  return value
end

-- One HTTP exchange: returns body, status. Uses LuaSocket when present,
-- else the curl command-line tool.
local function http(method, url, body, headers)
  local ok, socket_http = pcall(require, "socket.http")
  if ok then
    local ltn12 = require("ltn12")
    local out, hdrs = {}, {}
    for k, v in pairs(headers or {}) do hdrs[k:lower()] = v end
    if body then
      hdrs["content-length"] = tostring(#body)
      hdrs["content-type"] = hdrs["content-type"] or "application/json"
    end
    local _, code = socket_http.request({
      url = url, method = method, headers = hdrs,
      source = body and ltn12.source.string(body) or nil,
      sink = ltn12.sink.table(out),
    })
    return table.concat(out), tonumber(code)
  end
  local cmd = { "curl -s -m 10 -X", method, "-w '\\n%{http_code}'" }
  for k, v in pairs(headers or {}) do
    cmd[#cmd + 1] = "-H " .. quote(k .. ": " .. v)
  end
  if body then
    cmd[#cmd + 1] = "-H 'content-type: application/json' --data-binary "
      .. quote(body)
  end
  cmd[#cmd + 1] = quote(url)
  local f = assert(io.popen(table.concat(cmd, " ")))
  local all = f:read("*a")
  f:close()
  local text, code = all:match("^(.*)\n(%d+)$")
  return text, tonumber(code)
end

-- True while pid is a live (not zombie) process.
local function alive(pid)
  local f = io.open("/proc/" .. pid .. "/stat")
  if not f then return false end
  local stat = f:read("*a")
  f:close()
  local state = stat:match("%) (%a)")
  return state ~= nil and state ~= "Z"
end
M.alive = alive

-- Starts the simulator on an ephemeral port with the extra arguments in
-- args; waits (up to 5 s) for its port file. Returns a handle:
--   { port =, base =, pid =, stop = function() -> exit code,
--     stats = function() -> table, reset = function(),
--     request = function(method, path, body, headers) -> body, status }
function M.start(args)
  local port_file = os.tmpname()
  os.remove(port_file)
  local cmd = { "echo $$; exec", quote(sim_path()), "--port 0 --quiet",
                "--port-file", quote(port_file) }
  for _, a in ipairs(args or {}) do cmd[#cmd + 1] = quote(a) end
  cmd[#cmd + 1] = ">/dev/null"
  -- The shell execs the simulator, so $$ is its pid and closing proc
  -- waits for it to exit.
  local proc = assert(io.popen(table.concat(cmd, " "), "r"))
  local pid = tonumber(proc:read("*l"))
  local port
  local deadline = now() + 5
  while pid and not port and now() < deadline and alive(pid) do
    local f = io.open(port_file)
    if f then
      port = tonumber(f:read("*l"))
      f:close()
    end
    if not port then sleep(0.005) end
  end
  os.remove(port_file)
  if not port then
    if pid and alive(pid) then os.execute("kill -KILL " .. pid) end
    proc:close()
    error("sim: " .. sim_path() .. " did not start within 5 s", 2)
  end

  local s = { port = port, pid = pid,
              base = "http://127.0.0.1:" .. port }
  local stopped = false

  function s.stop()
    if stopped then return nil end
    stopped = true
    os.execute("kill -TERM " .. pid)
    local _, _, code = proc:close()
    return code
  end

  function s.request(method, path, body, headers)
    return http(method, s.base .. path, body, headers)
  end

  function s.stats()
    local body, status = http("GET", s.base .. "/_sim/stats")
    if status ~= 200 then error("sim: /_sim/stats failed", 2) end
    return decode(body)
  end

  function s.reset()
    local _, status = http("POST", s.base .. "/_sim/reset", "")
    if status ~= 200 then error("sim: /_sim/reset failed", 2) end
  end

  -- A forgotten handle still stops its simulator.
  return setmetatable(s, { __gc = function() s.stop() end })
end

return M
