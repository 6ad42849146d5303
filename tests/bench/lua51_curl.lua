-- lua51_curl.lua -- the sequential workload with Debian's lua-curl on
-- Lua 5.1 (module "curl", easy interface only): one reused easy handle,
-- one request at a time, the answer's text found by pattern matching.
--
-- Environment: BENCH_BASE, BENCH_N. Prints one "BENCH ..." line.
local curl = require("curl")
local system = require("system")

local function status_kb(field)
  local f = io.open("/proc/self/status")
  if not f then return 0 end
  local s = f:read("*a")
  f:close()
  return tonumber(s:match(field .. ":%s*(%d+)")) or 0
end

local base = os.getenv("BENCH_BASE") or "http://127.0.0.1:8080/v1"
local n = tonumber(os.getenv("BENCH_N") or "100")
local body = '{"model":"bench-model","messages":[{"role":"user",' ..
  '"content":"Reply with ok."}],"max_tokens":4000,"temperature":0,' ..
  '"stream":false}'

local e = curl.easy_init()
local chunks
e:setopt(curl.OPT_URL, base .. "/chat/completions")
e:setopt(curl.OPT_POST, 1)
e:setopt(curl.OPT_HTTPHEADER, {"content-type: application/json",
                               "authorization: Bearer bench-key"})
e:setopt(curl.OPT_NOSIGNAL, 1)
e:setopt(curl.OPT_WRITEFUNCTION, function(s, len)
  chunks[#chunks + 1] = s
  return len
end)

local ok = 0
local rss0 = status_kb("VmRSS")
local t0, c0 = system.monotime(), os.clock()
for _ = 1, n do
  chunks = {}
  e:setopt(curl.OPT_POSTFIELDS, body)
  e:perform()
  local text = table.concat(chunks):match('"content":"(.-)"')
  if text and text:find("ok", 1, true) then ok = ok + 1 end
end
print(string.format(
  "BENCH what=lua51_curl n=%d ok=%d wall=%.6f cpu=%.6f rss0=%d rss=%d",
  n, ok, system.monotime() - t0, os.clock() - c0, rss0,
  status_kb("VmHWM")))
