-- Specs for answers as providers really send them, seen from Lua: a
-- refusal ends the request with err.code "refused" and err.refusal (or
-- fails over when settings.failover_on_refusal says so), r.finish_reason,
-- error events inside a 200 stream, U+0000 kept in a text, and a deadline
-- of math.huge meaning no deadline.
package.path = "./tests/lua/?.lua;" .. package.path
local llm = require("llmgateway")
local spec = require("support.spec")

local STYLES = {"responses", "openai_chat", "anthropic", "litellm"}

local user = spec.user

-- A loopback server (its own process) that answers every request with
-- one canned body. Returns {base =, stop = function()}.
local SERVER = [[
local socket = require("socket")
local f = assert(io.open(arg[1], "rb"))
local body = f:read("*a")
f:close()
local srv = assert(socket.bind("127.0.0.1", 0))
local _, port = srv:getsockname()
io.write(port, "\n")
io.flush()
while true do
  local c = srv:accept()
  if c then
    c:settimeout(5)
    local len = 0
    while true do
      local line = c:receive("*l")
      if not line or line == "" then break end
      local n = line:lower():match("^content%-length:%s*(%d+)")
      if n then len = tonumber(n) end
    end
    if len > 0 then c:receive(len) end
    c:send("HTTP/1.1 200 OK\r\nContent-Type: " .. arg[2] ..
           "\r\nContent-Length: " .. #body .. "\r\nConnection: close\r\n\r\n" ..
           body)
    c:close()
  end
end
]]

local function canned(body, content_type)
  local script, file = os.tmpname(), os.tmpname()
  local f = assert(io.open(script, "wb"))
  f:write(SERVER)
  f:close()
  f = assert(io.open(file, "wb"))
  f:write(body)
  f:close()
  local proc = assert(io.popen("echo $$; exec " .. (os.getenv("LLMGATEWAY_LUA") or "lua5.4") .. " " .. script .. " " ..
                               file .. " '" .. content_type .. "'", "r"))
  local pid = tonumber(proc:read("*l"))
  local port = tonumber(proc:read("*l"))
  os.remove(script)
  os.remove(file)
  assert(port, "canned server did not start")
  return {base = "http://127.0.0.1:" .. port .. "/v1",
          stop = function()
            os.execute("kill -TERM " .. pid)
            proc:close()
          end}
end

describe("answers", function()
  local s = spec.sim()

  local function gateway(providers, settings)
    local st = {fallback_model = "m", transport_retries = 2,
                backoff_base = 0.01, backoff_max = 0.02}
    for k, v in pairs(settings or {}) do st[k] = v end
    return assert(llm.Gateway({providers = providers, settings = st},
                              {no_state = true}))
  end

  local function prov(style, xsim, base)
    return {provider_type = "p", api_style = style, base_url = base or s.base,
            api_key = "k", headers = xsim and {["x-sim"] = xsim} or nil}
  end

  for _, style in ipairs(STYLES) do
    for _, streamed in ipairs({false, true}) do
      local how = style .. (streamed and " streamed" or "")
      it(how .. ": a refusal ends the request with err.refusal", function()
        local gw = gateway({prov(style, "fault=refusal reply=Not today."),
                            prov(style)})
        local deltas = {}
        local res, err = gw:call({task = "t", messages = user("x"),
          on_delta = streamed and function(t) deltas[#deltas + 1] = t end
                     or nil})
        assert.is_nil(res)
        assert.equal("refused", err.code)
        assert.equal("Not today.", err.refusal)
        assert.equal("LLM request for task 't': the model refused to answer " ..
                     "(provider #1, p): Not today.", err.message)
        assert.equal(1, #err.attempts)
        assert.equal("refused", err.attempts[1].code)
        assert.same({input_tokens = 1, output_tokens = 2},
                    {input_tokens = err.usage_total.input_tokens,
                     output_tokens = err.usage_total.output_tokens})
        if style == "anthropic" and streamed then
          -- Anthropic sends the refused text as text, then stops
          assert.same({"Not", " today."}, deltas)
          assert.equal("Not today.", err.partial_text)
        else
          assert.same({}, deltas)
          assert.is_nil(err.partial_text)
        end
      end)

      it(how .. ": settings.failover_on_refusal tries the next provider",
         function()
        local gw = gateway({prov(style, "fault=refusal"), prov(style)},
                           {failover_on_refusal = true})
        local res, err = gw:call({task = "t", messages = user("x y"),
          on_delta = streamed and function() end or nil})
        if style == "anthropic" and streamed then
          -- its text was streamed already: the request is committed
          assert.is_nil(res)
          assert.equal("refused", err.code)
          assert.equal(1, #err.attempts)
          return
        end
        assert(res, err)
        assert.equal("echo(m): x y", res.text)
        assert.equal(2, res.provider.index)
        assert.equal("stop", res.finish_reason)
        assert.equal(2, #res.attempts)
        assert.equal("refused", res.attempts[1].code)
      end)
    end

    it(style .. ": an error event after the first delta keeps the text",
       function()
      local gw = gateway({prov(style,
                               "fault=sse_error after=1 error_status=529"),
                          prov(style)})
      local res, err = gw:stream("t", user("a b"), function() end)
      assert.is_nil(res)
      assert.equal("http", err.code)
      assert.equal("echo(m):", err.partial_text)
      assert.equal(1, #err.attempts)
    end)
  end

  it("failover_on_refusal must be true or false", function()
    local g, err = llm.Gateway({providers = {prov("responses")},
      settings = {fallback_model = "m", failover_on_refusal = "maybe"}},
      {no_state = true})
    assert.is_nil(g)
    assert.matches("settings.failover_on_refusal: expected true or false",
                   tostring(err.message or err), 1, true)
  end)

  it("U+0000 never cuts a text, streamed or not", function()
    local srv = canned('{"choices":[{"index":0,"message":{"role":' ..
      '"assistant","content":"he\\u0000llo"},"finish_reason":"length"}]}',
      "application/json")
    local ok, e = pcall(function()
      local gw = gateway({prov("openai_chat", nil, srv.base)})
      local res = assert(gw:call({task = "t", messages = user("x")}))
      assert.equal("he\0llo", res.text)
      assert.equal(6, #res.text)
      assert.equal("length", res.finish_reason)
      local got = {}
      res = assert(gw:stream("t", user("x"),
                             function(t) got[#got + 1] = t end))
      assert.equal("he\0llo", res.text)
      assert.equal("he\0llo", table.concat(got))
      assert.equal("he\0llo", assert(gw:run_task("t", user("x"))))
    end)
    srv.stop()
    assert(ok, e)
  end)

  it("deadline = math.huge or >= 1e9 s means no deadline", function()
    local gw = gateway({prov("openai_chat")})
    for _, d in ipairs({math.huge, 1e9, 1e300}) do
      local res = assert(gw:call({task = "t", messages = user("d"),
                                  deadline = d}))
      assert.equal("echo(m): d", res.text)
      assert.equal("echo(m): d",
                   assert(gw:run_task("t", user("d"), {deadline = d})))
    end
    local g2 = gateway({prov("openai_chat")}, {deadline = 1e12})
    assert.equal("echo(m): e", assert(g2:run_task("t", user("e"))))
    -- a real deadline still applies
    local res, err = gw:call({task = "t", deadline = 0.2,
                              messages = user("@sim delay_ms=3000\nz")})
    assert.is_nil(res)
    assert.equal("deadline", err.code)
  end)
end)
