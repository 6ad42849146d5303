-- Specs for the llmgateway executable (exit codes, the arg table, -e, -c,
-- --version, --help, tracebacks, SIGINT) and for examples/embed.c.
package.path = "./tests/lua/?.lua;" .. package.path
local spec = require("support.spec")
local sim = require("support.sim")
local llm = require("llmgateway")

local BUILD, HOST = spec.BUILD, spec.HOST
local quote, sh, host, script = spec.quote, spec.sh, spec.host, spec.script

describe("llmgateway host", function()
  local s = spec.sim()

  local function gateway_code()
    return ([[
local llm = require("llmgateway")
local gw = assert(llm.Gateway({providers = {{provider_type = "openai",
  api_style = "openai_chat", base_url = %q, api_key = "host-key"}},
  settings = {fallback_model = "m"}}, {no_state = true}))
]]):format(s.base)
  end

  it("--version prints the version", function()
    local rc, out = host("--version")
    assert.equal(0, rc)
    assert.matches("^llmgateway 0%.3%.0 %(Lua 5%.4[%.%d]*%)\n$", out)
    rc, out = host("-v")
    assert.equal(0, rc)
  end)

  it("--help is concise and has examples", function()
    local rc, out = host("--help")
    assert.equal(0, rc)
    assert.matches("^usage: llmgateway %[options%] %[script %[args%.%.%.%]%]",
      out)
    assert.matches("Examples:", out)
    assert.matches("%-e CODE", out)
    assert.matches("%-c CONFIG", out)
  end)

  it("rejects unknown options with exit 1", function()
    local rc, out, err = host("--frobnicate")
    assert.equal(1, rc)
    assert.equal("", out)
    assert.matches("^llmgateway: unrecognized option '%-%-frobnicate'\n",
      err)
  end)

  it("-e runs code", function()
    local rc, out = host("-e " .. quote("print(1 + 1)") .. " -e "
      .. quote("print(require('llmgateway')._VERSION)"))
    assert.equal(0, rc)
    assert.equal("2\nllmgateway 0.3.0\n", out)
  end)

  it("sets arg as lua does and passes the arguments as ...", function()
    local path = script([[
print(arg[0], arg[1], arg[2], #arg, ...)
print(arg[-3], arg[-2], arg[-1])
]])
    local rc, out = host("-e 'x=1' " .. quote(path) .. " one two")
    os.remove(path)
    assert.equal(0, rc)
    assert.equal(path .. "\tone\ttwo\t2\tone\ttwo\n" .. HOST
      .. "\t-e\tx=1\n", out)
  end)

  it("-c sets LLMGATEWAY_CONFIG for the script", function()
    local cfg = os.tmpname()
    local f = assert(io.open(cfg, "w"))
    f:write("settings:\n  fallback_model: from-c\n")
    f:close()
    local rc, out = host("-c " .. quote(cfg) .. " -e " .. quote(
      "print(os.getenv('LLMGATEWAY_CONFIG'), "
      .. "require('llmgateway').load_user_config().settings.fallback_model)"))
    os.remove(cfg)
    assert.equal(0, rc)
    assert.equal(cfg .. "\tfrom-c\n", out)
  end)

  it("runs the main chunk as a task next to spawned ones", function()
    local path = script(gateway_code() .. [[
local t = llm.spawn(function()
  return gw:run_task("t", {{content = "@sim delay_ms=30\nspawned"}})
end)
print(coroutine.isyieldable(), gw:run_task("t", {{content = "main"}}))
print(t:wait())
llm.spawn(function() llm.sleep(0.02) print("background done") end)
]])
    local rc, out, err = host(quote(path))
    os.remove(path)
    assert.equal("", err)
    assert.equal(0, rc)
    assert.equal("true\techo(m): main\necho(m): spawned\nbackground done\n",
      out)
  end)

  it("reports errors with a traceback and exits 1", function()
    local path = script("local function f()\n  error('boom')\nend\nf()\n")
    local rc, out, err = host(quote(path))
    assert.equal(1, rc)
    assert.equal("", out)
    assert.equal("llmgateway: " .. path .. ":2: boom\nstack traceback:\n"
      .. "\t[C]: in function 'error'\n\t" .. path .. ":2: in local 'f'\n\t"
      .. path .. ":4: in main chunk\n", err)
    os.remove(path)
  end)

  it("exits when the main chunk fails, whatever else runs", function()
    local path = script(gateway_code() .. [[
llm.spawn(function() gw:run_task("t", {{content = "@sim fault=hang\nx"}}) end)
llm.sleep(0.05)
error("main failed", 0)
]])
    local t0 = os.time()
    local rc, _, err = host(quote(path))
    os.remove(path)
    assert.equal(1, rc)
    assert.matches("^llmgateway: main failed\nstack traceback:", err)
    assert.is_true(os.time() - t0 < 5)
  end)

  it("uses __tostring of error objects", function()
    local rc, _, err = host("-e " .. quote(
      "error(setmetatable({}, {__tostring = function() return 'custom' end}))"))
    assert.equal(1, rc)
    assert.matches("^llmgateway: custom\n", err)
  end)

  it("reports syntax errors and missing scripts", function()
    local rc, _, err = host("-e " .. quote("local x ="))
    assert.equal(1, rc)
    assert.matches("^llmgateway: %(command line%):1: unexpected symbol", err)
    rc, _, err = host(quote("/nonexistent/script.lua"))
    assert.equal(1, rc)
    assert.equal("llmgateway: cannot open /nonexistent/script.lua: No such "
      .. "file or directory\n", err)
  end)

  it("reports tasks that can never finish", function()
    local rc, _, err = host("-e " .. quote(
      "local llm = require('llmgateway') "
      .. "local a, b "
      .. "a = llm.spawn(function() b:wait() end) "
      .. "b = llm.spawn(function() a:wait() end)"))
    assert.equal(1, rc)
    assert.matches("^llmgateway: nothing can happen any more: 2 task%(s%)",
      err)
  end)

  it("SIGINT cancels requests in flight and exits 130", function()
    local path = script(gateway_code() .. [[
print("started")
io.stdout:flush()
llm.spawn(function() gw:run_task("t", {{content = "@sim fault=hang\na"}}) end)
gw:run_task("t", {{content = "@sim fault=hang\nb"}})
print("not reached")
]])
    local t0 = os.time()
    local rc, out = sh("(" .. quote(HOST) .. " " .. quote(path)
      .. " & pid=$!; sleep 0.5; kill -INT $pid; wait $pid; echo \"rc=$?\")")
    os.remove(path)
    assert.equal(0, rc)
    assert.equal("started\nrc=130\n", out)
    assert.is_true(os.time() - t0 < 5)
  end)

  -- A batch of three: one fails (400 on both transports), two succeed.
  local function batch_code()
    return gateway_code() .. [[
local out = gw:run_tasks({
  {task = "t", messages = {{content = "one"}}},
  {task = "t", messages = {{content = "@sim status=400\ntwo"}}},
  {task = "t", messages = {{content = "three"}}}})
print(#out, out[2].error.code)
]]
  end

  it("--trace writes one JSON line per event, every key each time",
     function()
    local path = script(batch_code())
    local trace = os.tmpname()
    local rc, out, err = host("--trace " .. quote(trace) .. " "
      .. quote(path))
    os.remove(path)
    assert.equal("", err)
    assert.equal(0, rc)
    assert.equal("3\thttp\n", out)
    local f = assert(io.open(trace))
    local text = f:read("*a")
    f:close()
    os.remove(trace)
    local KEYS = {"attempt", "base_url", "breaker_cooldown", "cost",
                  "error_class", "latency", "message", "model",
                  "provider_index", "provider_type", "request_id",
                  "retry_delay", "status", "task", "ts", "ttft", "type",
                  "usage"}
    local types = {}
    for line in text:gmatch("[^\n]+") do
      -- keys as written (null values included)
      local keys = {}
      for k in line:gmatch('"([%w_]+)":') do keys[#keys + 1] = k end
      local ev = assert(llm.parse_json(line))
      types[#types + 1] = ev.type .. ":" .. ev.error_class
      assert.is_true(ev.ts > 1.6e9)
      assert.equal("t", ev.task)
      assert.is_nil(line:find("host-key", 1, true))
      local top = {}
      for _, k in ipairs(keys) do
        if not k:find("_tokens$") then top[#top + 1] = k end
      end
      table.sort(top)
      assert.same(KEYS, top)
    end
    table.sort(types)
    assert.same({"attempt_end:http", "attempt_end:ok", "attempt_end:ok",
                 "request_end:http", "request_end:ok", "request_end:ok"},
      types)
  end)

  it("--progress on a terminal shows done and failed counts", function()
    local path = script(batch_code())
    local log = os.tmpname()
    local rc = os.execute("script -qfec " .. quote(quote(HOST) .. " "
      .. quote(path) .. " 2>" .. quote(log) .. ".tty; cat " .. quote(log)
      .. ".tty >&2") .. " /dev/null > " .. quote(log) .. " 2>&1")
    os.remove(path)
    local f = assert(io.open(log))
    local text = f:read("*a")
    f:close()
    os.remove(log)
    os.remove(log .. ".tty")
    assert.is_true(rc)
    -- stderr was a file there: no progress line
    assert.is_nil(text:find("[llmgateway]", 1, true))
    path = script(batch_code())
    local p = io.popen("script -qfec " .. quote(quote(HOST) .. " "
      .. quote(path)) .. " /dev/null")
    text = p:read("*a")
    p:close()
    os.remove(path)
    assert.matches("%[llmgateway%] done 2  failed 1  in flight 0  [%d.]+ "
      .. "req/s  tokens %d+  elapsed 0:0%d\r?\n", text)
    p = io.popen("script -qfec " .. quote(quote(HOST)
      .. " --no-progress " .. quote(script(batch_code()))) .. " /dev/null")
    text = p:read("*a")
    p:close()
    assert.is_nil(text:find("[llmgateway]", 1, true))
  end)

  it("--progress also works when stderr is not a terminal", function()
    local path = script(batch_code())
    local rc, _, err = host("--progress " .. quote(path))
    os.remove(path)
    assert.equal(0, rc)
    assert.matches("%[llmgateway%] done 2  failed 1  in flight 0", err)
  end)

  it("--log-level filters the engine's log", function()
    -- a breaker opening is logged at level info
    local path = script(gateway_code():gsub('fallback_model = "m"',
      'fallback_model = "m", breaker_failures = 1, backoff_base = 0.01') .. [[
print(gw:run_task("t", {{content = "@sim status=503 times=1 id=ll\nx"}}))
]])
    s.reset()
    local _, _, quiet = host(quote(path))
    s.reset()
    local _, out, loud = host("--log-level info " .. quote(path))
    local rc, _, bad = host("--log-level loud " .. quote(path))
    os.remove(path)
    assert.equal("", quiet)
    assert.equal("echo(m): x\n", out)
    assert.matches("^llmgateway: info: provider #1 %(openai%): circuit "
      .. "breaker", loud)
    assert.equal(1, rc)
    assert.matches("bad %-%-log%-level 'loud'", bad)
  end)

end)

describe("examples/embed", function()
  it("drives its own loop and prints the answers", function()
    local s = sim.start()
    local rc, out, err = sh(quote(BUILD .. "/examples/embed") .. " "
      .. quote(s.base))
    s.stop()
    assert.equal("", err)
    assert.equal(0, rc)
    assert.equal("1: echo(embed-model): one\n2: echo(embed-model): two\n"
      .. "3: echo(embed-model): three\n", out)
  end)
end)
