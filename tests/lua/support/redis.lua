-- tests/lua/support/redis.lua -- starts and stops a real redis-server on
-- a free loopback port for busted specs (a helper, not a spec):
--
--   local redis = require("support.redis")
--   local r = redis.start()
--   ... r.url, r.port ...; r.cli("HLEN", "k") -> output; r.stop()
--
-- Persistence is off; the server's files go to a temporary directory.

local socket = require("socket")
local sim = require("support.sim")

local M = {}

local quote = sim.quote

local function sleep(seconds) socket.sleep(seconds) end

-- A port nothing listens on now: bind port 0 and let the kernel choose.
local function free_port()
  local s = assert(socket.bind("127.0.0.1", 0))
  local _, port = s:getsockname()
  s:close()
  return tonumber(port)
end

local function pings(port)
  local c = socket.tcp()
  c:settimeout(0.5)
  if not c:connect("127.0.0.1", port) then
    c:close()
    return false
  end
  c:send("PING\r\n")
  local line = c:receive("*l")
  c:close()
  return line == "+PONG"
end

local alive = sim.alive

-- Starts redis-server and waits (up to 5 s) until it answers PING.
-- Returns { port =, url =, pid =, stop = function(), cli = function(...) }.
function M.start()
  local dir = os.tmpname()
  os.remove(dir)
  assert(os.execute("mkdir -p " .. quote(dir)))
  local port = free_port()
  local proc = assert(io.popen(table.concat({
    "echo $$; exec redis-server --port", port, "--bind 127.0.0.1",
    "--save ''", "--appendonly no", "--daemonize no", "--dir", quote(dir),
    ">/dev/null 2>&1" }, " "), "r"))
  local pid = tonumber(proc:read("*l"))
  local up = false
  for _ = 1, 250 do
    if pings(port) then
      up = true
      break
    end
    if not (pid and alive(pid)) then break end
    sleep(0.02)
  end
  if not up then
    if pid and alive(pid) then os.execute("kill -KILL " .. pid) end
    proc:close()
    error("redis: redis-server did not start within 5 s", 2)
  end
  local r = { port = port, pid = pid,
              url = ("redis://127.0.0.1:%d/0"):format(port) }
  local stopped = false

  function r.stop()
    if stopped then return end
    stopped = true
    os.execute("kill -TERM " .. pid)
    proc:close()
    os.execute("rm -rf " .. quote(dir))
  end

  -- redis-cli --raw with the arguments; its output without the final
  -- newline.
  function r.cli(...)
    local args = {}
    for i, a in ipairs({ ... }) do args[i] = quote(a) end
    local p = assert(io.popen(("redis-cli -p %d --raw %s 2>/dev/null")
      :format(port, table.concat(args, " "))))
    local out = p:read("*a")
    p:close()
    return (out:gsub("\n$", ""))
  end

  return setmetatable(r, { __gc = function() r.stop() end })
end

return M
