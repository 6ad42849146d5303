-- tests/soak/soak.lua -- a long run through the Lua API against the
-- provider simulator with mixed faults: SOAK_N requests (default
-- 500,000) in batches, checking every outcome, printing the client's RSS
-- (VmRSS, after a full collection) and its open file descriptors at
-- intervals. Exits non-zero when an outcome is wrong, when RSS after the
-- warm-up (the first 20%) grows by more than 5%, or when descriptors
-- leak (more open after the gateway is closed than before it was made).
-- Run by `make soak`; not part of `make test`.
local llm = require("llmgateway")
local core = require("llmgateway.core")
local sim = require("support.sim")

local N = tonumber(os.getenv("SOAK_N") or "") or 500000
local BATCH = tonumber(os.getenv("SOAK_BATCH") or "") or 250
local WARMUP = math.max(BATCH, N // 5)

local function rss_kb()
  local f = assert(io.open("/proc/self/status"))
  local kb
  for line in f:lines() do
    kb = kb or tonumber(line:match("^VmRSS:%s*(%d+)"))
  end
  f:close()
  return kb
end

local function pid()
  local f = assert(io.open("/proc/self/stat"))
  local p = f:read("a"):match("^(%d+)")
  f:close()
  return p
end

local PID = pid()

-- Open descriptors of this process (the pipe used to count them is open
-- in every reading alike).
local function fds()
  local p = assert(io.popen("ls /proc/" .. PID .. "/fd"))
  local n = 0
  for _ in p:lines() do n = n + 1 end
  p:close()
  return n
end

local function measure()
  collectgarbage("collect")
  collectgarbage("collect")
  return rss_kb(), fds()
end

-- The request mix: directive, what must come back.
local MIX = {
  {"", "ok"}, {"", "ok"}, {"", "ok"}, {"", "ok"}, {"", "ok"},
  {"", "ok"}, {"", "ok"}, {"", "ok"}, {"", "ok"}, {"", "ok"},
  {"@sim status=500\n", "http"},
  {"@sim status=401\n", "auth"},
  {"@sim status=429 retry_after_ms=1\n", "rate_limited"},
  {"@sim fault=reset\n", "http"},
  {"@sim fault=invalid_json\n", "response"},
  {"@sim fault=truncated\n", "response"},
  {"@sim fault=empty\n", "empty"},
  {"@sim delay_ms=5\n", "ok"},
}

local s = sim.start()
local fd0 = fds()
local config = {
  providers = {{provider_type = "openai", api_style = "openai_chat",
                base_url = s.base, api_key = "sk-soak"}},
  settings = {fallback_model = "m", timeout = 5, transport_retries = 2,
              backoff_base = 0.001, backoff_max = 0.002, retry_max = 0,
              max_concurrent = 64},
}
local gw = assert(llm.Gateway(config, {no_state = true}))
llm.set_log(function() end)  -- engine warnings are expected here

local done, wrong, ok_n, fail_n = 0, 0, 0, 0
local base_rss, max_rss, min_rss
local t0 = os.time()
local next_report = 0
local function validator(text)
  if not text:find("^echo") then return {"not an echo"} end
end

print(("soak: %d requests in batches of %d against %s (pid %s)"):format(
  N, BATCH, s.base, PID))
local rss, fd = measure()
print(("%9d requests  rss %7d kB  fds %3d"):format(0, rss, fd))

while done < N do
  local n = math.min(BATCH, N - done)
  local reqs, want = {}, {}
  for i = 1, n do
    local m = MIX[(done + i) % #MIX + 1]
    reqs[i] = {task = "soak", messages = {{role = "user",
      content = m[1] .. "request " .. (done + i)}}}
    want[i] = m[2]
  end
  local out
  if (done // BATCH) % 10 == 9 then
    local vs = {}
    for i = 1, n do vs[i] = validator end
    out = gw:run_tasks_with_retry(reqs, vs)
  else
    out = gw:run_tasks(reqs)
  end
  for i = 1, n do
    local r = out[i]
    local got = r.error and r.error.code or "ok"
    if got == "ok" then ok_n = ok_n + 1 else fail_n = fail_n + 1 end
    if got ~= want[i] then
      wrong = wrong + 1
      if wrong <= 10 then
        io.stderr:write(("soak: request %d: expected %s, got %s: %s\n")
          :format(done + i, want[i], got, r.error and tostring(r.error)
            or tostring(r.text)))
      end
    end
  end
  done = done + n
  if done >= WARMUP and not base_rss then
    base_rss = measure()
    max_rss, min_rss = base_rss, base_rss
    print(("%9d requests  rss %7d kB  (baseline after warm-up)"):format(
      done, base_rss))
    next_report = done
  end
  if done >= next_report or done == N then
    next_report = done + math.max(BATCH, N // 20)
    rss, fd = measure()
    if base_rss then
      max_rss = math.max(max_rss, rss)
      min_rss = math.min(min_rss, rss)
    end
    print(("%9d requests  rss %7d kB  fds %3d  lua heap %6.0f kB  %5.0f s")
      :format(done, rss, fd, collectgarbage("count"),
              os.difftime(os.time(), t0)))
  end
end

gw:close()
gw = nil
local rss_end, fd_end = measure()
local st = core._stats()
s.stop()
local secs = math.max(1, os.difftime(os.time(), t0))
local growth = base_rss and (max_rss - base_rss) / base_rss * 100 or 0
print(("soak: %d requests (%d ok, %d failed as intended, %d wrong) in %d s"
  .. " (%.0f/s)"):format(done, ok_n, fail_n, wrong, secs, done / secs))
print(("soak: rss baseline %d kB, max %d kB, min %d kB, end %d kB: max "
  .. "growth %.2f%%"):format(base_rss or 0, max_rss or 0, min_rss or 0,
  rss_end, growth))
print(("soak: fds before the gateway %d, after closing it %d; calls left "
  .. "%d, tasks left %d"):format(fd0, fd_end, st.calls, st.tasks))

local failed = false
if wrong > 0 then
  print("soak: FAIL: " .. wrong .. " wrong outcomes")
  failed = true
end
if growth > 5 then
  print("soak: FAIL: RSS grew by more than 5% after the warm-up")
  failed = true
end
if fd_end > fd0 then
  print("soak: FAIL: file descriptors leaked")
  failed = true
end
if st.calls ~= 0 or st.tasks ~= 0 then
  print("soak: FAIL: call records or tasks left behind")
  failed = true
end
print(failed and "soak: FAILED" or "soak: passed")
os.exit(failed and 1 or 0)
