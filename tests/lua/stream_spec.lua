-- Specs for streaming: gw:stream, on_delta on call and run_task, the
-- stream timeouts, failover before the first delta and partial text
-- after it, and errors raised by on_delta.
package.path = "./tests/lua/?.lua;" .. package.path
local llm = require("llmgateway")
local spec = require("support.spec")

local STYLES = {"responses", "openai_chat", "anthropic", "litellm"}

local user = spec.user

describe("streaming", function()
  local s = spec.sim()

  local function gateway(styles, settings)
    local providers = {}
    for i, style in ipairs(styles) do
      providers[i] = {provider_type = "p" .. i, api_style = style,
                      base_url = s.base, api_key = "stream-key"}
    end
    local st = {fallback_model = "m", transport_retries = 1}
    for k, v in pairs(settings or {}) do st[k] = v end
    return assert(llm.Gateway({providers = providers, settings = st},
                              {no_state = true}))
  end

  for _, style in ipairs(STYLES) do
    it(style .. ": exact deltas, then the result of a plain call", function()
      local gw = gateway({style})
      local deltas = {}
      local res = assert(gw:stream("t", user("hi there you"),
        function(text) deltas[#deltas + 1] = text end))
      assert.same({"echo(m):", " hi", " there", " you"}, deltas)
      assert.equal("echo(m): hi there you", res.text)
      assert.same({input_tokens = 3, output_tokens = 4}, {
        input_tokens = res.usage.input_tokens,
        output_tokens = res.usage.output_tokens})
      assert.is_true(res.ttft >= 0 and res.ttft < 5)
      local plain = assert(gw:call({task = "t", messages = user("hi there you")}))
      assert.equal(plain.text, res.text)
      assert.is_nil(plain.ttft)
    end)
  end

  it("on_delta works on call and run_task (overrides) too", function()
    local gw = gateway({"openai_chat"})
    local a, b = {}, {}
    local res = assert(gw:call({task = "t", messages = user("x y"),
      on_delta = function(t) a[#a + 1] = t end}))
    assert.equal("echo(m): x y", res.text)
    assert.same({"echo(m):", " x", " y"}, a)
    local text = assert(gw:run_task("t", user("z"),
      {on_delta = function(t) b[#b + 1] = t end}))
    assert.equal("echo(m): z", text)
    assert.same({"echo(m):", " z"}, b)
  end)

  it("on_delta runs inside a task and cannot yield there", function()
    local gw = gateway({"responses"})
    local got
    local t = llm.spawn(function()
      return gw:run_task("t", user("q"), {on_delta = function(d)
        got = select(2, pcall(coroutine.yield))
      end})
    end)
    assert.equal("echo(m): q", t:wait())
    assert.matches("yield", tostring(got))
  end)

  it("first_token_timeout: a stall before the first delta is a timeout, "
     .. "then failover", function()
    local gw = gateway({"openai_chat", "anthropic"},
                       {first_token_timeout = 0.2})
    local deltas = {}
    local res = assert(gw:stream("t", user("@sim times=1 id=ftt "
      .. "fault=sse_stall after=0\nok now"), function(d)
        deltas[#deltas + 1] = d end))
    assert.equal("echo(m): ok now", res.text)
    assert.equal(2, #res.attempts)
    assert.equal("timeout", res.attempts[1].code)
    assert.equal(2, res.provider.index)
    assert.same({"echo(m):", " ok", " now"}, deltas)
  end)

  it("idle_timeout: a stall after the first delta ends the request with "
     .. "the partial text", function()
    local gw = gateway({"openai_chat", "anthropic"}, {idle_timeout = 0.2})
    local deltas = {}
    local res, err = gw:stream("t", user("@sim fault=sse_stall after=1\n"
      .. "a b c"), function(d) deltas[#deltas + 1] = d end)
    assert.is_nil(res)
    assert.equal("timeout", err.code)
    assert.equal("echo(m):", err.partial_text)
    assert.same({"echo(m):"}, deltas)
    assert.equal(1, #err.attempts)
  end)

  it("fails over before the first delta (sse_cut after=0)", function()
    local gw = gateway({"responses", "openai_chat"})
    local deltas = {}
    local res = assert(gw:stream("t", user("@sim times=1 id=cut0 "
      .. "fault=sse_cut after=0\nfine"), function(d)
        deltas[#deltas + 1] = d end))
    assert.equal("echo(m): fine", res.text)
    assert.same({"echo(m):", " fine"}, deltas)
    assert.equal(2, #res.attempts)
  end)

  it("never fails over after the first delta (sse_cut after=2)", function()
    local gw = gateway({"responses", "openai_chat"})
    local deltas = {}
    s.reset()
    local res, err = gw:stream("t", user("@sim fault=sse_cut after=2\n"
      .. "one two three"), function(d) deltas[#deltas + 1] = d end)
    assert.is_nil(res)
    assert.equal("echo(m): one", err.partial_text)
    assert.same({"echo(m):", " one"}, deltas)
    assert.equal(1, #err.attempts)
    assert.same({["/v1/responses"] = 1}, s.stats().by_path)
  end)

  it("an error raised by on_delta cancels the request: code 'callback'",
     function()
    local gw = gateway({"anthropic"})
    local n = 0
    local res, err = gw:stream("t", user("a b c"), function()
      n = n + 1
      error("stop here")
    end)
    assert.is_nil(res)
    assert.equal("callback", err.code)
    assert.matches("^on_delta raised an error: .*stop here", err.message)
    assert.equal("echo(m):", err.partial_text)
    assert.equal(1, n)
    -- the gateway goes on working
    assert.equal("echo(m): d", gw:run_task("t", user("d")))
  end)

  it("checks its arguments", function()
    local gw = gateway({"responses"})
    assert.has_error(function() gw:stream("t", user("x")) end,
      "bad argument #3 to 'stream' (function expected, got no value)")
    assert.has_error(function()
      gw:call({task = "t", messages = user("x"), on_delta = 1})
    end, "bad argument #1 to 'call' (on_delta: function expected, got number)")
  end)
end)
