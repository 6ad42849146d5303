-- Specs for the llmgateway executable (exit codes, the arg table, -e, -c,
-- --version, --help, tracebacks, SIGINT) and for examples/embed.c.
package.path = "./tests/lua/?.lua;" .. package.path
local sim = require("support.sim")

local BUILD = os.getenv("LLMGATEWAY_BUILD") or "build"

local function is_file(path)
  local f = io.open(path, "rb")
  if not f then return false end
  local _, err = f:read(0)  -- a directory opens but cannot be read
  f:close()
  return err == nil
end

-- The host: $LLMGATEWAY_HOST, else <build>/llmgateway when it is a file,
-- else <build>/bin/llmgateway.
local function host_path()
  local p = os.getenv("LLMGATEWAY_HOST")
  if p and p ~= "" then return p end
  if is_file(BUILD .. "/llmgateway") then return BUILD .. "/llmgateway" end
  return BUILD .. "/bin/llmgateway"
end

local HOST = host_path()

local function quote(s) return "'" .. tostring(s):gsub("'", "'\\''") .. "'" end

-- Runs a shell command; returns exit code, stdout, stderr.
local function sh(cmd)
  local errf = os.tmpname()
  local p = io.popen(cmd .. " 2>" .. errf)
  local out = p:read("a")
  local _, _, rc = p:close()
  local f = io.open(errf)
  local err = f:read("a")
  f:close()
  os.remove(errf)
  return rc, out, err
end

local function host(args)
  return sh(quote(HOST) .. " " .. args)
end

local function script(text)
  local path = os.tmpname() .. ".lua"
  local f = assert(io.open(path, "w"))
  f:write(text)
  f:close()
  return path
end

describe("llmgateway host", function()
  local s
  lazy_setup(function() s = sim.start() end)
  lazy_teardown(function() s.stop() end)

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
    assert.matches("^llmgateway 0%.2%.0 %(Lua 5%.4[%.%d]*%)\n$", out)
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
    assert.equal("2\nllmgateway 0.2.0\n", out)
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
