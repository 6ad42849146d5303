-- Specs for secrets: a canary API key configured on every provider never
-- appears in an error, its tostring, its attempts, a dump (unless the
-- keys are asked for), a log line, or the host's stderr, whatever the
-- fault; and credentials are never sent to another host after a
-- redirect (the engine does not follow redirects: a 3xx is a failed
-- attempt).
package.path = "./tests/lua/?.lua;" .. package.path
local llm = require("llmgateway")
local spec = require("support.spec")

local CANARY = "sk-canary-SECRET-1234"

local user = spec.user

local quote = spec.quote

-- Every string reachable from v (keys, values, tostring of tables with a
-- __tostring), joined.
local function strings_of(v)
  local out, seen = {}, {}
  local function walk(x)
    local t = type(x)
    if t == "string" then
      out[#out + 1] = x
    elseif t == "number" or t == "boolean" then
      out[#out + 1] = tostring(x)
    elseif t == "table" and not seen[x] then
      seen[x] = true
      local mt = getmetatable(x)
      if mt and mt.__tostring then out[#out + 1] = tostring(x) end
      for k, val in pairs(x) do
        walk(k)
        walk(val)
      end
    end
  end
  walk(v)
  return table.concat(out, "\n")
end

local function assert_clean(what, text)
  assert.is_nil(text:find(CANARY, 1, true), what .. " contains the key:\n"
    .. text)
  assert.is_nil(text:find("SECRET", 1, true), what .. " contains the key")
end

describe("secrets", function()
  local s = spec.sim()
  local lines

  local STYLES = {
    {provider_type = "openai", api_style = "openai_chat"},
    {provider_type = "openai", api_style = "responses"},
    {provider_type = "anthropic", api_style = "anthropic"},
    {provider_type = "litellm", api_style = "litellm"},
  }

  local function config(style, base)
    return {
      providers = {{provider_type = style.provider_type,
                    api_style = style.api_style,
                    base_url = base or s.base, api_key = CANARY,
                    headers = {["x-extra"] = "h"}}},
      settings = {fallback_model = "m", timeout = 1, transport_retries = 2,
                  backoff_base = 0.01, backoff_max = 0.02, retry_max = 0},
    }
  end

  before_each(function()
    s.reset()
    lines = {}
    llm.set_log(function(level, msg)
      lines[#lines + 1] = level .. ": " .. msg
    end, "debug")
  end)
  after_each(function()
    llm.set_log(nil)
    assert_clean("the log", table.concat(lines, "\n"))
  end)

  local FAULTS = {"status=401", "status=403", "status=500", "status=429",
                  "fault=reset", "fault=hang", "fault=invalid_json",
                  "status=302", "fault=html", "fault=bad_shape",
                  "fault=truncated", "fault=empty"}

  for _, style in ipairs(STYLES) do
    for _, fault in ipairs(FAULTS) do
      it(style.api_style .. " with " .. fault, function()
        local rt = assert(llm.runtime_spec_from_dict(config(style)))
        local gw = assert(llm.Gateway(rt, {no_state = true}))
        local prompt = user("@sim " .. fault .. "\nhello")
        local text, err = gw:run_task("t", prompt)
        assert.is_nil(text)
        assert_clean("the error", strings_of(err))
        assert_clean("tostring(err)", tostring(err))
        if fault ~= "fault=hang" then  -- (each hang costs a timeout)
          local res, err2 = gw:call({task = "t", messages = prompt})
          assert.is_nil(res)
          assert_clean("call's error", strings_of(err2))
          local jr, err3 = gw:run_json_task_with_retry("t", prompt,
                                                       function() end)
          assert.is_nil(jr)
          assert_clean("the retry error", strings_of(err3))
        end
        gw:close()
        -- the key went to the simulator, so it was there to leak
        local hdrs = s.stats().last_headers
        assert.truthy((hdrs.authorization or hdrs["x-api-key"] or "")
          :find(CANARY, 1, true))
      end)
    end
  end

  it("dump_runtime_spec redacts keys unless with_keys", function()
    local rt = assert(llm.runtime_spec_from_dict(config(STYLES[1])))
    assert_clean("the dump", strings_of(llm.dump_runtime_spec(rt)))
    assert_clean("tostring(rt)", tostring(rt))
    assert.truthy(strings_of(llm.dump_runtime_spec(rt, {with_keys = true}))
      :find(CANARY, 1, true))
  end)

  it("a config error about the key does not show it", function()
    local c = config(STYLES[1])
    c.providers[1].api_style = "no-such-style"
    local rt, err = llm.runtime_spec_from_dict(c)
    assert.is_nil(rt)
    assert_clean("the config error", strings_of(err))
    c = config(STYLES[1])
    c.settings.max_concurrent = 0
    local _, err2 = llm.Gateway(c)
    assert_clean("the gateway error", strings_of(err2))
  end)

  it("the host's stderr when a script fails with such an error", function()
    local script = os.tmpname()
    local f = assert(io.open(script, "w"))
    f:write(([[
local llm = require("llmgateway")
llm.set_log(function(level, msg) io.stderr:write(level, ": ", msg, "\n") end,
            "debug")
local gw = assert(llm.Gateway({providers = {{provider_type = "openai",
  api_style = "openai_chat", base_url = %q, api_key = %q}},
  settings = {fallback_model = "m", timeout = 1, transport_retries = 1}},
  {no_state = true}))
local t = llm.spawn(function()
  return gw:run_task("t", {{content = "@sim status=401\nx"}})
end)
local _, e1 = t:wait()
io.stderr:write(tostring(e1), "\n")
local text, err = gw:run_task("t", {{content = "@sim fault=reset\nx"}})
error(err)
]]):format(s.base, CANARY))
    f:close()
    local host = spec.HOST
    local out = os.tmpname()
    local p = io.popen(quote(host) .. " " .. quote(script) .. " 2>"
      .. quote(out) .. "; echo $?")
    local rc = p:read("*a")
    p:close()
    local ef = assert(io.open(out))
    local stderr = ef:read("*a")
    ef:close()
    os.remove(script)
    os.remove(out)
    assert.equal("1", rc:match("%d+"))
    assert.truthy(stderr:find("[llmgateway:", 1, true), stderr)
    assert.truthy(stderr:find("traceback", 1, true), stderr)
    assert_clean("the host's stderr", stderr)
  end)

  it("a redirect is a failed attempt; the key goes nowhere else", function()
    -- A loopback server that answers every request with a 302 to the
    -- simulator and records the requests it saw.
    local log = os.tmpname()
    local port_file = os.tmpname()
    os.remove(port_file)
    local py = [[
import http.server, sys
target, log, port_file = sys.argv[1], sys.argv[2], sys.argv[3]
class H(http.server.BaseHTTPRequestHandler):
    def do_POST(self):
        n = int(self.headers.get("content-length") or 0)
        self.rfile.read(n)
        with open(log, "a") as f:
            f.write(self.path + "\n")
        self.send_response(302)
        self.send_header("Location", target + self.path)
        self.send_header("Content-Length", "0")
        self.end_headers()
    def log_message(self, *a):
        pass
srv = http.server.HTTPServer(("127.0.0.1", 0), H)
with open(port_file + ".tmp", "w") as f:
    f.write(str(srv.server_address[1]))
import os; os.rename(port_file + ".tmp", port_file)
srv.serve_forever()
]]
    local pyfile = os.tmpname()
    local f = assert(io.open(pyfile, "w"))
    f:write(py)
    f:close()
    local pid = io.popen("python3 " .. quote(pyfile) .. " " .. quote(s.base)
      .. " " .. quote(log) .. " " .. quote(port_file)
      .. " >/dev/null 2>&1 & echo $!"):read("*l")
    local port
    for _ = 1, 100 do
      local pf = io.open(port_file)
      if pf then
        port = pf:read("*l")
        pf:close()
        break
      end
      llm.sleep(0.05)
    end
    if not port then
      os.execute("kill " .. pid)
      pending("python3 is not available for the redirecting server")
      return
    end
    local rt = assert(llm.runtime_spec_from_dict(
      config(STYLES[1], "http://127.0.0.1:" .. port)))
    local gw = assert(llm.Gateway(rt, {no_state = true}))
    local text, err = gw:run_task("t", user("hello"))
    gw:close()
    os.execute("kill " .. pid)
    local lf = assert(io.open(log))
    local seen = lf:read("*a")
    lf:close()
    os.remove(log)
    os.remove(port_file)
    os.remove(pyfile)
    assert.is_nil(text)
    assert_clean("the redirect error", strings_of(err))
    assert.equal(302, err.attempts[1].status)
    -- one request per transport attempt, none followed
    local n = select(2, seen:gsub("\n", ""))
    assert.equal(#err.attempts, n)
    assert.equal(0, s.stats().requests)
  end)

  it("the simulator's own 302 is one failed attempt per try", function()
    local c = config(STYLES[1])
    c.settings.transport_retries = 1
    local gw = assert(llm.Gateway(c, {no_state = true}))
    local text, err = gw:run_task("t", user("@sim status=302\nx"))
    gw:close()
    assert.is_nil(text)
    assert.equal(1, #err.attempts)
    assert.equal(302, err.attempts[1].status)
    assert.equal(1, s.stats().requests)
  end)
end)
