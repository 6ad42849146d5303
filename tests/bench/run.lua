-- run.lua -- runs the benchmark workloads against the servers that run.sh
-- started, prints one table of figures and ratios, and rewrites the
-- generated part of RESULTS.md. Every figure is measured beside its
-- baseline in the same round; a ratio is the median over BENCH_REPEAT
-- rounds of the per-round ratio. Numbers never fail anything.
local system = require("system")

local env = os.getenv
local BUILD = env("BUILD") or "build"
local TMP = assert(env("BENCH_TMP"), "run through tests/bench/run.sh")
local REPEAT = tonumber(env("BENCH_REPEAT") or "3")
local PIN = env("BENCH_CLIENT_PIN") or ""
local NOFILE = tonumber(env("BENCH_NOFILE") or "1024")
local NGINX = env("NGINX_PORT") ~= "" and env("NGINX_PORT") or nil
local SIM = env("SIM_PORT") ~= "" and env("SIM_PORT") or nil
local DEAD = env("DEAD_PORT")
local TLS = env("TLS_PORT") ~= "" and env("TLS_PORT") or nil
local TLS1 = env("TLS1_PORT")
local CAFILE = env("BENCH_CAFILE")
local RESULTS = env("BENCH_RESULTS") or "tests/bench/RESULTS.md"
local PROFILE = env("BENCH_PROFILE") ~= "0"

-- Request counts (smaller for the slow Python client and the simulator).
local N_LOAD, C_LOAD = 20000, 64
local N_PY = tonumber(env("BENCH_PY_N") or "2000")
local N_SIM = tonumber(env("BENCH_SIM_N") or "20000")
local N_SEQ, N_SEQ_PY = 2000, 500
local N_FO = 500
local N_BIG, N_BIG_LUA = 20, 10
local INFLIGHT = math.min(10000, NOFILE - 256)

local LUA_ENV = "LUA_PATH_5_4='./lua/?.lua;./lua/?/init.lua;;' " ..
  "LUA_CPATH_5_4='./" .. BUILD .. "/?.so;;'"
local LOG = TMP .. "/clients.log"

local function sh_ok(cmd)
  return os.execute(cmd .. " >/dev/null 2>&1") == true
end

-- The bundled host: BENCH_HOST, else build/llmgateway, else build/bin/.
local HOST = env("BENCH_HOST")
if not HOST or HOST == "" then
  HOST = BUILD .. "/llmgateway"
  if not sh_ok("test -f " .. HOST .. " -a -x " .. HOST) then
    HOST = BUILD .. "/bin/llmgateway"
  end
end

local function file_exists(p)
  local f = io.open(p)
  if f then f:close() end
  return f ~= nil
end

local CLIENTS = {
  a = {label = "(a) C libcurl multi", cmd = BUILD .. "/bench/baseline_multi",
       ok = file_exists(BUILD .. "/bench/baseline_multi")},
  b = {label = "(b) llmgateway C API", cmd = BUILD .. "/bench/gw_client",
       ok = file_exists(BUILD .. "/bench/gw_client")},
  c = {label = "(c) llmgateway Lua", env = LUA_ENV,
       cmd = "lua5.4 tests/bench/lua_client.lua",
       ok = sh_ok(LUA_ENV .. " lua5.4 -e 'require \"llmgateway\"'")},
  d = {label = "(d) llmgateway host", env = LUA_ENV,
       cmd = HOST .. " tests/bench/lua_client.lua",
       ok = sh_ok("test -f " .. HOST .. " -a -x " .. HOST)},
  e = {label = "(e) Python httpx", cmd = "/usr/bin/python3 tests/bench/py_httpx.py",
       ok = sh_ok("/usr/bin/python3 -c 'import httpx'")},
  f = {label = "(f) lua-curl 5.1", cmd = "lua5.1 tests/bench/lua51_curl.lua",
       ok = sh_ok("lua5.1 -e 'require \"curl\"; require \"system\"'")},
}

-- ---- running one client ----------------------------------------------

-- Runs client k with BENCH_* parameters; returns {what = record} where a
-- record has n, ok, wall, cpu, rss0, rss; nil when it failed.
local function run(k, params)
  local c = CLIENTS[k]
  if not c.ok then return nil end
  local parts = {}
  for key, v in pairs(params) do
    parts[#parts + 1] = string.format("BENCH_%s='%s'", key, tostring(v))
  end
  if params.CAFILE then
    -- the CA bundle, also where llmgateway and curl look for one
    parts[#parts + 1] = string.format("SSL_CERT_FILE='%s' CURL_CA_BUNDLE='%s'",
                                      params.CAFILE, params.CAFILE)
  end
  local cmd = string.format("env BENCH_TMP='%s' %s %s %s %s 2>>%s",
    TMP, table.concat(parts, " "), c.env or "", PIN, c.cmd, LOG)
  local p = io.popen(cmd)
  local out = p:read("a")
  p:close()
  local recs, good = {}, true
  for line in out:gmatch("[^\n]+") do
    if line:match("^BENCH ") then
      local r = {}
      for key, v in line:gmatch("(%w+)=(%S+)") do
        r[key] = tonumber(v) or v
      end
      recs[r.what] = r
      if r.ok < r.n then good = false end
    end
  end
  if not next(recs) or not good then
    io.stderr:write(string.format("bench: %s failed (%s); see below\n",
                                  c.label, k))
    local f = io.open(LOG)
    if f then
      local s = f:read("a")
      f:close()
      io.stderr:write(s:sub(-800), "\n")
    end
    return nil
  end
  return recs
end

-- ---- statistics and the table ----------------------------------------

local function median(t)
  if #t == 0 then return nil end
  local s = {}
  for i, v in ipairs(t) do s[i] = v end
  table.sort(s)
  local m = (#s + 1) // 2
  if #s % 2 == 1 then return s[m] end
  return (s[m] + s[m + 1]) / 2
end

local samples = {}
local function add(key, v)
  if v == nil then return end
  samples[key] = samples[key] or {}
  table.insert(samples[key], v)
end
local function med(key) return median(samples[key] or {}) end

local rows = {}
local function fmt(v, unit, digits)
  if v == nil then return "n/a" end
  return string.format("%." .. (digits or 1) .. "f%s", v, unit or "")
end
-- A table row; verdict is "ok", "MISS" or "" (no target).
local function row(work, item, value, rel, target, pass)
  local verdict = ""
  if pass then verdict = "ok" elseif pass == false then verdict = "MISS" end
  if rel == "n/a" or value == "n/a" then verdict = "" end
  rows[#rows + 1] = {work, item, value, rel or "", target or "", verdict}
end

local function ratio(x, y)
  if x and y and y > 0 then return x / y end
end

local function markdown(header, body)
  local widths = {}
  for _, r in ipairs({header, table.unpack(body)}) do
    for i, cell in ipairs(r) do
      widths[i] = math.max(widths[i] or 3, utf8.len(cell) or #cell)
    end
  end
  local function line(r)
    local cells = {}
    for i, cell in ipairs(r) do
      cells[i] = cell .. string.rep(" ", widths[i] - (utf8.len(cell) or #cell))
    end
    return "| " .. table.concat(cells, " | ") .. " |"
  end
  local out = {line(header)}
  local sep = {}
  for i, w in ipairs(widths) do sep[i] = string.rep("-", w) end
  out[2] = line(sep)
  for _, r in ipairs(body) do out[#out + 1] = line(r) end
  return table.concat(out, "\n")
end

-- ---- workload 1: overhead per request ---------------------------------

local function per_req(recs, what, field)
  local r = recs and recs[what]
  if r then return r[field] / r.n end
end

local function overhead(port, label, keys, n_main)
  local base = "http://127.0.0.1:" .. port .. "/v1"
  for _ = 1, REPEAT do
    local cpu = {}
    for _, k in ipairs(keys) do
      local n = k == "e" and N_PY or n_main
      local what = ({a = "baseline", b = "gateway", c = "lua", d = "lua",
                     e = "python"})[k]
      local recs = run(k, {BASE = base, N = n, C = C_LOAD, MODE = "load"})
      cpu[k] = per_req(recs, what, "cpu")
      add(label .. k, cpu[k])
      if recs and recs[what] then add(label .. k .. "rss", recs[what].rss) end
    end
    add(label .. "b/a", ratio(cpu.b, cpu.a))
    add(label .. "c/a", ratio(cpu.c, cpu.a))
    add(label .. "d/a", ratio(cpu.d, cpu.a))
    add(label .. "e/c", ratio(cpu.e, cpu.c))
  end
end

local function overhead_rows(label, title, keys)
  local us = function(k) return fmt(med(label .. k) and med(label .. k) * 1e6,
                                    " us CPU/req") end
  row(title, CLIENTS.a.label, us("a"), "1.00", "baseline")
  local targets = {b = 1.15, c = 1.35, d = 1.35}
  for _, k in ipairs(keys) do
    if targets[k] then
      local r = med(label .. k .. "/a")
      row(title, CLIENTS[k].label, us(k), fmt(r, "", 2) .. " x (a)",
          "<= " .. targets[k], r and r <= targets[k])
    elseif k == "e" then
      local r = med(label .. "e/c")
      row(title, CLIENTS.e.label .. " (n=" .. N_PY .. ")", us("e"),
          fmt(r, "", 1) .. " x (c)", ">= 20", r and r >= 20)
    end
  end
end

-- Peak RSS of workload 1's runs: every request submitted (C) or spawned
-- (Lua) at once, so all of them are queued at the start.
local function queued_rows(label, title, keys)
  local targets = {b = 16, c = 40, d = 40}
  local mb = function(k) return med(label .. k .. "rss") and
                                med(label .. k .. "rss") / 1024 end
  row(title, CLIENTS.a.label, fmt(mb("a"), " MB peak"), "1.00", "baseline")
  for _, k in ipairs(keys) do
    if targets[k] then
      local m = mb(k)
      row(title, CLIENTS[k].label, fmt(m, " MB peak"),
          fmt(ratio(m, mb("a")), "", 2) .. " x (a)",
          "<= " .. targets[k] .. " MB", m and m <= targets[k])
    end
  end
end

-- ---- workloads 2 and 7: in flight at once, 1 s server latency ---------

local function inflight(sizes, keys)
  local base = "http://127.0.0.1:" .. NGINX .. "/slow/v1"
  for _ = 1, REPEAT do
    for _, n in ipairs(sizes) do
      local got = {}
      for _, k in ipairs(keys) do
        local what = ({a = "baseline", b = "gateway", c = "lua",
                       d = "lua"})[k]
        local recs = run(k, {BASE = base, N = n, C = n, MODE = "load"})
        local r = recs and recs[what]
        got[k] = r
        if r then
          local key = "if" .. n .. k
          add(key .. "wall", r.wall)
          add(key .. "cpu", r.cpu / r.n)
          add(key .. "rss", r.rss)
          add(key .. "kb", (r.rss - r.rss0) / r.n)
        end
      end
      for _, k in ipairs(keys) do
        if got[k] and got.a then
          local key = "if" .. n .. k .. "/a"
          add(key .. "wall", got[k].wall / got.a.wall)
          add(key .. "rss", got[k].rss / got.a.rss)
        end
      end
    end
  end
end

local function inflight_rows(keys)
  local n = INFLIGHT
  local title = "2 in flight " .. n .. " @1s"
  for _, k in ipairs(keys) do
    local key = "if" .. n .. k
    local value = string.format("%s wall, %s peak, %s/req",
      fmt(med(key .. "wall"), " s", 2),
      fmt(med(key .. "rss") and med(key .. "rss") / 1024, " MB"),
      fmt(med(key .. "kb"), " KB", 1))
    if k == "a" then
      row(title, CLIENTS.a.label, value, "1.00", "baseline")
    else
      local w, r = med(key .. "/awall"), med(key .. "/arss")
      row(title, CLIENTS[k].label, value,
          string.format("wall %s, RSS %s", fmt(w, "", 2), fmt(r, "", 2)),
          "wall <= 1.05, RSS <= 1.0", w and r and w <= 1.05 and r <= 1.0)
    end
  end
end

local function scaling_rows(sizes, keys)
  local title = "7 scaling " .. table.concat(sizes, "/")
  local first, last = sizes[1], sizes[#sizes]
  local growth = {}
  for _, k in ipairs(keys) do
    local cpus, kbs = {}, {}
    for _, n in ipairs(sizes) do
      local c = med("if" .. n .. k .. "cpu")
      cpus[#cpus + 1] = fmt(c and c * 1e6, "", 0)
      kbs[#kbs + 1] = fmt(med("if" .. n .. k .. "kb"), "", 1)
    end
    local c0, c1 = med("if" .. first .. k .. "cpu"), med("if" .. last .. k .. "cpu")
    growth[k] = ratio(c1, c0)
    local value = table.concat(cpus, " / ") .. " us CPU/req; " ..
      table.concat(kbs, " / ") .. " KB/req"
    if k == "a" then
      row(title, CLIENTS.a.label, value,
          "growth " .. fmt(growth.a, "", 2), "baseline")
    else
      local rel = ratio(growth[k], growth.a)
      row(title, CLIENTS[k].label, value,
          string.format("growth %s (%s x (a)'s)", fmt(growth[k], "", 2),
                        fmt(rel, "", 2)),
          "flat: growth <= 1.25 x (a)'s", rel and rel <= 1.25)
    end
  end
end

-- ---- workload 3: sequential latency -----------------------------------

local function sequential()
  local base = "http://127.0.0.1:" .. NGINX .. "/v1"
  local plan = {
    {"a", "baseline", N_SEQ, {C = 1}}, {"b", "gateway", N_SEQ, {C = 1}},
    {"c", "lua_seq", N_SEQ, {MODE = "seq"}},
    {"d", "lua_seq", N_SEQ, {MODE = "seq"}},
    {"f", "lua51_curl", N_SEQ, {}}, {"e", "python", N_SEQ_PY, {C = 1}},
  }
  for _ = 1, REPEAT do
    local lat = {}
    for _, p in ipairs(plan) do
      local params = {BASE = base, N = p[3], C = 1}
      for key, v in pairs(p[4]) do params[key] = v end
      local recs = run(p[1], params)
      lat[p[1]] = per_req(recs, p[2], "wall")
      add("seq" .. p[1], lat[p[1]])
    end
    for _, p in ipairs(plan) do
      if lat[p[1]] and lat.a then add("seq+" .. p[1], lat[p[1]] - lat.a) end
    end
  end
  local title = "3 sequential x" .. N_SEQ
  row(title, CLIENTS.a.label, fmt(med("seqa") and med("seqa") * 1e6, " us/req"),
      "+0", "baseline")
  for _, p in ipairs(plan) do
    local k = p[1]
    if k ~= "a" then
      local added = med("seq+" .. k)
      local limit = ({b = 5, c = 10, d = 10})[k]
      local pass
      if limit and added then pass = added * 1e6 <= limit end
      row(title, CLIENTS[k].label .. (k == "e" and " (n=" .. N_SEQ_PY .. ")" or ""),
          fmt(med("seq" .. k) and med("seq" .. k) * 1e6, " us/req"),
          added and string.format("%+.1f us", added * 1e6) or "n/a",
          limit and "added <= " .. limit .. " us" or "compare", pass)
    end
  end
end

-- ---- workload 4: start-up ---------------------------------------------

local function startup()
  local cmds = {
    {"lua5.4 -e ''", "lua5.4 -e '' (reference)"},
    {HOST .. " -e ''", HOST .. " -e ''"},
    {"lua5.4 -e 'require \"llmgateway\"'", "lua5.4 require \"llmgateway\""},
  }
  local medians = {}
  if sh_ok("command -v hyperfine") then
    local args = {}
    for _, c in ipairs(cmds) do args[#args + 1] = "'" .. c[1]:gsub("'", "'\\''") .. "'" end
    local csv = TMP .. "/startup.csv"
    os.execute(string.format(
      "env %s %s hyperfine -N --style none --warmup 3 --runs 20 " ..
      "--export-csv %s %s >/dev/null 2>>%s", LUA_ENV, PIN, csv,
      table.concat(args, " "), LOG))
    local f = io.open(csv)
    if f then
      f:read("l")
      local i = 0
      for line in f:lines() do
        i = i + 1
        -- command,mean,stddev,median,user,system,min,max; the command may
        -- hold commas, so count fields from the end.
        local fields = {}
        for v in line:gmatch("[^,]+") do fields[#fields + 1] = v end
        medians[i] = tonumber(fields[#fields - 4])
      end
      f:close()
    end
  else
    for i, c in ipairs(cmds) do
      local t = {}
      for _ = 1, 20 do
        local t0 = system.monotime()
        os.execute(string.format("env %s %s >/dev/null 2>&1", LUA_ENV, c[1]))
        t[#t + 1] = system.monotime() - t0
      end
      medians[i] = median(t)
    end
  end
  local host_ok = CLIENTS.d.ok
  for i, c in ipairs(cmds) do
    local m = medians[i]
    if i == 2 and not host_ok then m = nil end
    if i == 3 and not CLIENTS.c.ok then m = nil end
    local pass
    if i > 1 and m then pass = m <= 0.005 end
    row("4 start-up (median of 20)", c[2], fmt(m and m * 1e3, " ms", 2),
        i == 1 and "" or fmt(ratio(m, medians[1]), "", 2) .. " x reference",
        i == 1 and "reference" or "<= 5 ms", pass)
  end
end

-- ---- workload 5: failover ---------------------------------------------

local function failover()
  for _ = 1, REPEAT do
    local recs = run("b", {MODE = "failover", N = N_FO,
      BASE = "http://127.0.0.1:" .. NGINX .. "/v1",
      DEAD = "http://127.0.0.1:" .. DEAD .. "/v1"})
    if recs then
      add("fo_added", recs.failover.wall / recs.failover.n -
                      recs.direct.wall / recs.direct.n)
      add("fo_first", recs.failover_first.wall - recs.direct_first.wall)
      add("fo_direct", recs.direct.wall / recs.direct.n)
    end
  end
  local title = "5 failover (dead port first)"
  local added = med("fo_added")
  row(title, "(b) per request, dead provider known",
      fmt(med("fo_direct") and med("fo_direct") * 1e6, " us/req direct"),
      added and string.format("%+.3f ms", added * 1e3) or "n/a",
      "added <= 2 ms", added and added <= 0.002)
  row(title, "(b) first failover (transport_retries 1)",
      fmt(med("fo_first") and med("fo_first") * 1e3, " ms", 2),
      "", "report")
end

-- ---- workload 6: big answers ------------------------------------------

local function big()
  -- Calls over the socket are timed by wall clock, extraction in process
  -- by CPU time (less disturbed by other load on the machine).
  local items = {
    {"a", "baseline", "(a) fetch only, wall", "wall"},
    {"b", "big_gateway", "(b) gateway call, wall", "wall"},
    {"b", "big_text", "(b) text extraction in process, CPU", "cpu"},
    {"b", "big_json", "(b) JSON extraction in process, CPU", "cpu"},
    {"c", "big_lua_text", "(c) Lua run_task, wall", "wall"},
    {"c", "big_lua_json", "(c) Lua run_json_task, wall", "wall"},
  }
  for _ = 1, REPEAT do
    for _, size in ipairs({1, 2}) do
      local base = "http://127.0.0.1:" .. NGINX .. "/big" .. size .. "/v1"
      local got = {
        a = run("a", {BASE = base, N = N_BIG, C = 1}),
        b = run("b", {BASE = base, N = N_BIG, MODE = "big",
                      FILE = TMP .. "/www/big" .. size .. ".json"}),
        c = run("c", {BASE = base, N = N_BIG_LUA, MODE = "big", C = 1}),
      }
      for _, it in ipairs(items) do
        add("big" .. size .. it[2], per_req(got[it[1]], it[2], it[4]))
      end
    end
  end
  for _, it in ipairs(items) do
    local m1, m2 = med("big1" .. it[2]), med("big2" .. it[2])
    local r = ratio(m2, m1)
    local pass
    if it[1] ~= "a" and r then pass = r <= 2.2 end
    row("6 big answers 1 MB / 2 MB", it[3],
        fmt(m1 and m1 * 1e3, "", 2) .. " / " .. fmt(m2 and m2 * 1e3, " ms/call", 2),
        fmt(r, "", 2) .. " (2 MB / 1 MB)",
        it[1] == "a" and "reference" or "~2 (<= 2.2)", pass)
  end
end

-- ---- workload 9: a Lua batch ------------------------------------------

-- N_BATCH tasks spawned at once, each one gw:call and a check of r.text
-- (the result dropped as the task ends); then one gw:run_tasks of N_BATCH
-- requests (each its own message list), every result kept until the
-- batch returns. Peak RSS of the whole process.
local N_BATCH = tonumber(env("BENCH_BATCH_N") or "100000")
local function batch()
  local base = "http://127.0.0.1:" .. NGINX .. "/v1"
  for _ = 1, REPEAT do
    local recs = run("c", {BASE = base, N = N_BATCH, C = C_LOAD, MODE = "tasks"})
    local r = recs and recs.lua_tasks
    if r then
      add("tasks_rss", r.rss / 1024)
      add("tasks_cpu", r.cpu / r.n)
    end
    recs = run("c", {BASE = base, N = N_BATCH, C = C_LOAD, MODE = "batch"})
    r = recs and recs.lua_batch
    if r then
      add("batch_rss", r.rss / 1024)
      add("batch_in", (r.rss0) / 1024)
      add("batch_cpu", r.cpu / r.n)
    end
  end
  local m = med("tasks_rss")
  row("9 Lua batch of " .. N_BATCH .. " tasks", "(c) llm.spawn each, gw:call + r.text",
      fmt(m, " MB") .. " peak",
      fmt(med("tasks_cpu") and med("tasks_cpu") * 1e6, " us CPU/req"),
      "<= 150 MB", m and m <= 150)
  m = med("batch_rss")
  local lower = N_BATCH * 1568 / 1e6
  row("9 Lua batch of " .. N_BATCH .. ", results kept", "(c) gw:run_tasks, all results kept",
      string.format("%s peak (%s before the batch, inputs built)",
                    fmt(m, " MB"), fmt(med("batch_in"), " MB")),
      fmt(med("batch_cpu") and med("batch_cpu") * 1e6, " us CPU/req"),
      string.format("<= 150 MB cannot hold them: their tables alone take %.0f MB", lower),
      nil)
end

-- ---- workload 8: HTTPS with HTTP/2 ------------------------------------

-- nginx logs one line per request on the HTTPS server: its connection's
-- serial number. The connections a run opened are the distinct numbers
-- in the lines it added.
local TLS_LOG = TMP .. "/tls-access.log"
local function log_size()
  local f = io.open(TLS_LOG)
  if not f then return 0 end
  local n = f:seek("end")
  f:close()
  return n
end
local function conns_since(offset)
  local f = io.open(TLS_LOG)
  if not f then return nil end
  f:seek("set", offset)
  local seen, n = {}, 0
  for id in f:lines() do
    if not seen[id] then seen[id], n = true, n + 1 end
  end
  f:close()
  return n
end

local N_TLS, N_COLD = 2000, 64
local TLS_PLAN = {
  -- key, client, record, extra parameters, label
  {"a64", "a", "baseline", {PIPEWAIT = 0},
   "(a) C libcurl multi, no PIPEWAIT"},
  {"a64ca", "a", "baseline", {PIPEWAIT = 0, NOCAPATH = 1},
   "(a) C libcurl multi, no PIPEWAIT, no CAPATH"},
  {"a1", "a", "baseline", {PIPEWAIT = 1, MAXHOST = 1},
   "(a) C libcurl multi, PIPEWAIT + MAX_HOST_CONNECTIONS 1"},
  {"b", "b", "gateway", {}, "(b) llmgateway C API (defaults)"},
  {"c", "c", "lua", {}, "(c) llmgateway Lua (defaults)"},
}

-- An HTTP/1.1-only HTTPS server still gets a connection per request in
-- flight: N_H1 requests at once against a 1 s answer.
local N_H1 = 64
local H1_PLAN = {
  {"a", "a", "baseline", {PIPEWAIT = 0, NOCAPATH = 1},
   "(a) C libcurl multi, no PIPEWAIT, no CAPATH"},
  {"b", "b", "gateway", {}, "(b) llmgateway C API (defaults)"},
  {"c", "c", "lua", {}, "(c) llmgateway Lua (defaults)"},
}
local function https_h1()
  local base = "https://127.0.0.1:" .. TLS1 .. "/slow/v1"
  for _ = 1, REPEAT do
    local got = {}
    for _, p in ipairs(H1_PLAN) do
      local params = {BASE = base, N = N_H1, C = N_H1, MODE = "load",
                      CAFILE = CAFILE}
      for k, v in pairs(p[4]) do params[k] = v end
      local off = log_size()
      local recs = run(p[2], params)
      local r = recs and recs[p[3]]
      if r then
        add("h1" .. p[1] .. "conns", conns_since(off))
        add("h1" .. p[1] .. "wall", r.wall)
        got[p[1]] = r
      end
    end
    for _, k in ipairs({"b", "c"}) do
      if got[k] and got.a then add("h1/" .. k, got[k].wall / got.a.wall) end
    end
  end
  local title = "8 HTTPS HTTP/1.1 only, " .. N_H1 .. " at once @1s"
  for _, p in ipairs(H1_PLAN) do
    local conns, wall = med("h1" .. p[1] .. "conns"), med("h1" .. p[1] .. "wall")
    local value = string.format("%s conn, %s wall", fmt(conns, "", 0),
                                fmt(wall, " s", 2))
    if p[1] == "a" then
      row(title, p[5], value, "1.00", "baseline")
    else
      local w = med("h1/" .. p[1])
      local pass
      if conns and w then pass = conns == N_H1 and w <= 1.2 end
      row(title, p[5], value, "wall " .. fmt(w, "", 2),
          N_H1 .. " conn, wall <= 1.2", pass)
    end
  end
end

-- More transfers in flight than a connection carries streams (libcurl
-- 100, nginx 128): with PIPEWAIT and no cap, libcurl 7.88 opens a new
-- connection for each transfer that starts while the second connection
-- is still being set up.
local C_WIDE = 256
local WIDE_PLAN = {
  {"a0", "a", "baseline", {PIPEWAIT = 1}, "(a) C libcurl multi, PIPEWAIT"},
  {"a2", "a", "baseline", {PIPEWAIT = 1, MAXHOST = 2},
   "(a) C libcurl multi, PIPEWAIT + MAX_HOST_CONNECTIONS 2"},
  {"b0", "b", "gateway", {}, "(b) llmgateway C API (defaults)"},
  {"b2", "b", "gateway", {MAXHOST = 2},
   "(b) llmgateway C API, max_connections_per_host 2"},
}
local function https_wide()
  local base = "https://127.0.0.1:" .. TLS .. "/v1"
  for _ = 1, REPEAT do
    for _, p in ipairs(WIDE_PLAN) do
      local params = {BASE = base, N = N_TLS, C = C_WIDE, MODE = "load",
                      CAFILE = CAFILE}
      for k, v in pairs(p[4]) do params[k] = v end
      local off = log_size()
      local recs = run(p[2], params)
      local r = recs and recs[p[3]]
      if r then
        add("wide" .. p[1] .. "conns", conns_since(off))
        add("wide" .. p[1] .. "wall", r.wall)
        add("wide" .. p[1] .. "cpu", r.cpu)
      end
    end
  end
  local title = "8 HTTPS h2 x" .. N_TLS .. " C=" .. C_WIDE
  for _, p in ipairs(WIDE_PLAN) do
    local k = "wide" .. p[1]
    row(title, p[5], string.format("%s conn, %s wall, %s CPU",
          fmt(med(k .. "conns"), "", 0), fmt(med(k .. "wall"), " s", 2),
          fmt(med(k .. "cpu"), " s", 2)), "", "report")
  end
end

local function https()
  local base = "https://127.0.0.1:" .. TLS .. "/v1"
  for _ = 1, REPEAT do
    local got = {}
    for _, p in ipairs(TLS_PLAN) do
      for _, n in ipairs({N_COLD, N_TLS}) do
        local params = {BASE = base, N = n, C = C_LOAD, MODE = "load",
                        CAFILE = CAFILE}
        for k, v in pairs(p[4]) do params[k] = v end
        local off = log_size()
        local recs = run(p[2], params)
        local r = recs and recs[p[3]]
        local key = "tls" .. n .. p[1]
        if r then
          add(key .. "conns", conns_since(off))
          add(key .. "wall", r.wall)
          add(key .. "cpu", r.cpu)
          add(key .. "rss", r.rss)
          if n == N_TLS then got[p[1]] = r end
        end
      end
    end
    for _, k in ipairs({"b", "c"}) do
      if got[k] and got.a1 then
        add("tls/" .. k .. "wall", got[k].wall / got.a1.wall)
        add("tls/" .. k .. "cpu", got[k].cpu / got.a1.cpu)
        add("tls/" .. k .. "rss", got[k].rss / got.a1.rss)
      end
    end
  end
  local title = "8 HTTPS h2 x" .. N_TLS .. " C=" .. C_LOAD
  for _, p in ipairs(TLS_PLAN) do
    local key = "tls" .. N_TLS .. p[1]
    local value = string.format("%s conn, %s wall, %s CPU, %s peak",
      fmt(med(key .. "conns"), "", 0), fmt(med(key .. "wall"), " s", 2),
      fmt(med(key .. "cpu"), " s", 2),
      fmt(med(key .. "rss") and med(key .. "rss") / 1024, " MB"))
    if p[1]:match("^a64") then
      row(title, p[5], value, "", "compare")
    elseif p[1] == "a1" then
      row(title, p[5], value, "1.00", "baseline")
    else
      local w, c, r = med("tls/" .. p[1] .. "wall"),
        med("tls/" .. p[1] .. "cpu"), med("tls/" .. p[1] .. "rss")
      local conns = med(key .. "conns")
      row(title, p[5], value,
          string.format("wall %s, CPU %s, RSS %s", fmt(w, "", 2),
                        fmt(c, "", 2), fmt(r, "", 2)),
          "<= 2 conn, wall/CPU <= 1.2, RSS <= 1.3",
          conns and w and c and r and conns <= 2 and w <= 1.2 and c <= 1.2 and
          r <= 1.3)
    end
  end
  title = "8 HTTPS h2 cold start, " .. N_COLD .. " at once"
  for _, p in ipairs(TLS_PLAN) do
    local key = "tls" .. N_COLD .. p[1]
    local conns = med(key .. "conns")
    local ours = p[1] == "b" or p[1] == "c"
    local pass
    if ours and conns then pass = conns <= 2 end
    local wall, cpu = med(key .. "wall"), med(key .. "cpu")
    row(title, p[5], string.format("%s handshakes, %s wall, %s CPU",
          fmt(conns, "", 0), fmt(wall and wall * 1e3, " ms", 1),
          fmt(cpu and cpu * 1e3, " ms", 1)),
        "", ours and "<= 2 handshakes" or "compare", pass)
  end
  if TLS1 and TLS1 ~= "" then https_h1() end
  https_wide()
end

-- ---- profile ----------------------------------------------------------

-- Per-request instruction counts (callgrind): each client runs n requests
-- and 1 request; (cost(n) - cost(1)) / (n - 1) removes start-up. Costs
-- are attributed to components (own instructions) and to the project's
-- functions (inclusive).
local profile_text = {}

-- Component of one callgrind_annotate "file:function [object]" entry.
local function component(spec)
  local obj = spec:match("%[(.-)%]%s*$") or ""
  local file = spec:match("^(.-):") or ""
  local src = file:match("src/([%w_/]+%.[ch])$")
  if src then return "llmgateway src/" .. src end
  if file:match("tests/bench/") then return "benchmark client" end
  if obj:match("llmgateway/core%.so$") or obj:match("bench/gw_client$") then
    return "llmgateway (no line info)"
  end
  if obj:match("libcurl") then return "libcurl" end
  if file:match("malloc") then return "libc malloc/free" end
  if obj:match("/libc%.so") then return "libc other" end
  if obj:match("libcjson") then return "cJSON" end
  if obj:match("libuv") then return "libuv" end
  if obj:match("lua5%.4") or obj:match("liblua") then return "Lua 5.4 VM" end
  if obj:match("ld%-linux") then return "dynamic loader" end
  if obj:match("libcrypto") or obj:match("libssl") then return "OpenSSL" end
  return obj:match("([^/]+)$") or "other"
end

-- {entry = Ir} from callgrind_annotate (every function, no threshold).
local function annotate(out, inclusive)
  local p = io.popen(string.format(
    "callgrind_annotate --auto=no --inclusive=%s --threshold=100 %s 2>/dev/null",
    inclusive and "yes" or "no", out))
  local s = p:read("a")
  p:close()
  local t = {}
  for line in s:gmatch("[^\n]+") do
    local ir, spec = line:match("^%s*([%d,]+)%s+%(%s*[%d%.]+%%%)%s+(.+)$")
    if ir and not spec:match("PROGRAM TOTALS") then
      t[spec] = (t[spec] or 0) + tonumber((ir:gsub(",", "")))
    end
  end
  return t
end

-- Per-request difference of two annotations, folded by key(spec).
local function per_request(big, small, n, key)
  local t = {}
  for spec, ir in pairs(big) do
    local k = key(spec)
    if k then t[k] = (t[k] or 0) + ir end
  end
  for spec, ir in pairs(small) do
    local k = key(spec)
    if k then t[k] = (t[k] or 0) - ir end
  end
  for k, v in pairs(t) do t[k] = v / (n - 1) end
  return t
end

-- Inclusive Ir per request of llmgateway's functions, by name. A function
-- may be listed twice (with and without its file); the larger entry
-- counts.
local function own_functions(big, small, n)
  local ours = {}
  local function fold(t)
    local byname = {}
    for spec, ir in pairs(t) do
      local file, fn = spec:match("^(.-):([%w_]+)")
      if fn then
        if file:match("src/[%w_/]+%.c$") or
           component(spec) == "llmgateway (no line info)" then
          ours[fn] = true
        end
        byname[fn] = math.max(byname[fn] or 0, ir)
      end
    end
    return byname
  end
  local b, s = fold(big), fold(small)
  local t = {}
  for fn in pairs(ours) do t[fn] = ((b[fn] or 0) - (s[fn] or 0)) / (n - 1) end
  return t
end

local function sorted_keys(t, by)
  local keys = {}
  for k in pairs(t) do keys[#keys + 1] = k end
  table.sort(keys, function(x, y) return (by[x] or 0) > (by[y] or 0) end)
  return keys
end

local function profile()
  if not PROFILE or not sh_ok("command -v valgrind") then return end
  local base = "http://127.0.0.1:" .. NGINX .. "/v1"
  local function grind(k, n)
    local c = CLIENTS[k]
    local out = string.format("%s/cg.%s.%d.out", TMP, k, n)
    os.execute(string.format(
      "env BENCH_TMP='%s' BENCH_BASE='%s' BENCH_N=%d BENCH_C=64 " ..
      "BENCH_MODE=load %s valgrind --tool=callgrind --callgrind-out-file=%s " ..
      "%s >/dev/null 2>>%s", TMP, base, n, c.env or "", out, c.cmd, LOG))
    local f = io.open(out)
    if not f then return nil end
    local s = f:read("a")
    f:close()
    return tonumber(s:match("\nsummary:%s*(%d+)") or
                    s:match("\ntotals:%s*(%d+)")), out
  end
  local N = {a = 2000, b = 2000, c = 1000}
  local keys = {}
  local per, comp, funcs = {}, {}, {}
  for _, k in ipairs({"a", "b", "c"}) do
    if CLIENTS[k].ok then
      local big_ir, big_out = grind(k, N[k])
      local small_ir, small_out = grind(k, 1)
      if big_ir and small_ir then
        keys[#keys + 1] = k
        per[k] = (big_ir - small_ir) / (N[k] - 1)
        comp[k] = per_request(annotate(big_out, false),
                              annotate(small_out, false), N[k], component)
        funcs[k] = own_functions(annotate(big_out, true),
                                 annotate(small_out, true), N[k])
      end
    end
  end
  if not per.a then return end

  local title = "1 overhead (callgrind Ir, nginx)"
  for _, k in ipairs(keys) do
    local value = string.format("%.0f Ir/req", per[k])
    if k == "a" then
      row(title, CLIENTS.a.label, value, "1.00", "baseline")
    else
      local limit = ({b = 1.15, c = 1.35})[k]
      local r = per[k] / per.a
      row(title, CLIENTS[k].label, value, fmt(r, "", 2) .. " x (a)",
          "<= " .. limit, r <= limit)
    end
  end

  local lines = {
    "Profile: callgrind instruction counts (Ir) per request, workload 1 " ..
    "against nginx, concurrency 64: (Ir of an n-request run - Ir of a " ..
    "1-request run) / (n - 1), n = " .. N.a .. " for (a) and (b), " ..
    N.c .. " for (c).", "",
    "By component (own instructions; \"src/...\" is llmgateway's code):", "",
  }
  local head = {"component"}
  for _, k in ipairs(keys) do head[#head + 1] = CLIENTS[k].label end
  local body = {}
  local last = keys[#keys]
  local union = {}
  for _, k in ipairs(keys) do
    for name in pairs(comp[k]) do union[name] = true end
  end
  for _, name in ipairs(sorted_keys(union, comp[last])) do
    local r, big = {name}, false
    for _, k in ipairs(keys) do
      local v = comp[k][name] or 0
      if math.abs(v) >= 500 then big = true end
      r[#r + 1] = string.format("%.0f", v)
    end
    if big then body[#body + 1] = r end
  end
  local total = {"total"}
  for _, k in ipairs(keys) do total[#total + 1] = string.format("%.0f", per[k]) end
  body[#body + 1] = total
  lines[#lines + 1] = markdown(head, body)
  for _, k in ipairs(keys) do
    if k ~= "a" then
      lines[#lines + 1] = ""
      lines[#lines + 1] = "llmgateway functions, inclusive Ir per request, " ..
        CLIENTS[k].label .. " (top 25; % of the request's total):"
      lines[#lines + 1] = ""
      lines[#lines + 1] = "```"
      for i, name in ipairs(sorted_keys(funcs[k], funcs[k])) do
        if i > 25 then break end
        lines[#lines + 1] = string.format("%8.0f  %5.1f%%  %s", funcs[k][name],
          100 * funcs[k][name] / per[k], name)
      end
      lines[#lines + 1] = "```"
    end
  end
  profile_text = lines
end

-- ---- the run, in workload order -----------------------------------------

-- BENCH_ONLY (e.g. "3,profile") runs a subset: 1, sim, 2, 3, 4, 5, 6, 7,
-- 8 (HTTPS), 9 (Lua batch), profile.
local only = {}
for id in (env("BENCH_ONLY") or ""):gmatch("[^,%s]+") do only[id] = true end
local function stage(id, name)
  if next(only) and not only[id] then return false end
  io.stderr:write("bench: ", name, "\n")
  return true
end

local t_start = system.monotime()
if NGINX and stage("1", "1 overhead per request (nginx)") then
  overhead(NGINX, "nx", {"a", "b", "c", "d", "e"}, N_LOAD)
  overhead_rows("nx", "1 overhead (nginx)", {"b", "c", "d", "e"})
  queued_rows("nx", "1 " .. N_LOAD .. " queued at once (nginx)",
              {"b", "c", "d"})
end
if SIM and stage("sim", "1 overhead per request (simulator)") then
  overhead(SIM, "sim", {"a", "b", "c"}, N_SIM)
  overhead_rows("sim", "1 overhead (simulator)", {"b", "c"})
end
if NGINX and stage("2", "2 in flight at once") then
  inflight({INFLIGHT}, {"a", "b", "c", "d"})
  inflight_rows({"a", "b", "c", "d"})
end
if NGINX and stage("3", "3 sequential latency") then sequential() end
if stage("4", "4 start-up") then startup() end
if NGINX and stage("5", "5 failover") then failover() end
if NGINX and stage("6", "6 big answers") then big() end
if NGINX and stage("7", "7 scaling curve") then
  if not samples["if" .. INFLIGHT .. "acpu"] then
    inflight({INFLIGHT}, {"a", "b", "c"})
  end
  inflight({100, 1000}, {"a", "b", "c"})
  scaling_rows({100, 1000, INFLIGHT}, {"a", "b", "c"})
end
if TLS and stage("8", "8 HTTPS with HTTP/2") then https() end
if NGINX and stage("9", "9 Lua batch") then batch() end
if NGINX and stage("profile", "profile (callgrind)") then profile() end
local elapsed = system.monotime() - t_start

-- ---- the table and RESULTS.md ------------------------------------------

local function capture(cmd)
  local p = io.popen(cmd .. " 2>&1")
  local s = p:read("a") or ""
  p:close()
  return (s:gsub("%s+$", ""))
end

local function cpu_model()
  local f = io.open("/proc/cpuinfo")
  local s = f and f:read("a") or ""
  if f then f:close() end
  return s:match("model name%s*:%s*([^\n]+)") or "unknown"
end

local function mem_total()
  local f = io.open("/proc/meminfo")
  local s = f and f:read("a") or ""
  if f then f:close() end
  local kb = tonumber(s:match("MemTotal:%s*(%d+)"))
  return kb and string.format("%.0f GiB", kb / 1048576) or "unknown"
end

local tbl = markdown({"workload", "client", "measured (median)",
                      "ratio (median)", "target", ""}, rows)
print(tbl)
print(string.format("(%d runs per figure, %.0f s in all)", REPEAT, elapsed))

local function nginx_version()
  return capture("nginx -v"):match("nginx/(%S+)") or "n/a"
end

local gen = {
  "<!-- bench:begin (generated by make bench; edit outside this block) -->",
  "",
  "Run: " .. os.date("!%Y-%m-%d %H:%M UTC") .. ", " .. REPEAT ..
    " runs per figure, " .. string.format("%.0f s", elapsed) .. " in all.",
  "",
  "Machine: " .. capture("nproc") .. " cores (" .. cpu_model() .. "), " ..
    mem_total() .. ", Linux " .. capture("uname -r") .. ", " ..
    capture("sed -n 's/^PRETTY_NAME=\"\\(.*\\)\"/\\1/p' /etc/os-release") .. ".",
  "",
  "Software: nginx " .. nginx_version() .. ", libcurl " ..
    capture("curl-config --version"):gsub("libcurl ", "") .. ", " ..
    capture("lua5.4 -v"):match("Lua %S+") .. ", Python " ..
    capture("/usr/bin/python3 -c 'import sys, httpx; print(sys.version.split()[0] + \", httpx \" + httpx.__version__)'") ..
    ". Client pinned with `" .. (PIN ~= "" and PIN or "no taskset") ..
    "`, server on the other core; open-file limit " .. NOFILE .. ".",
  "",
  tbl,
  "",
}
for _, l in ipairs(profile_text) do gen[#gen + 1] = l end
gen[#gen + 1] = ""
gen[#gen + 1] = "<!-- bench:end -->"
local block = table.concat(gen, "\n")

if RESULTS ~= "" then
  local f = io.open(RESULTS)
  local old = f and f:read("a")
  if f then f:close() end
  local text
  if old and old:find("<!-- bench:begin", 1, true) then
    local a = old:find("<!-- bench:begin", 1, true)
    local _, b = old:find("<!-- bench:end -->", 1, true)
    text = old:sub(1, a - 1) .. block .. old:sub(b + 1)
  else
    text = "# Benchmark results\n\n`make bench` rewrites the block below; " ..
      "the notes after it are kept.\n\n" .. block .. "\n"
  end
  f = assert(io.open(RESULTS, "w"))
  f:write(text)
  f:close()
  print("written to " .. RESULTS)
end
