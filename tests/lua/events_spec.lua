-- Specs for Gateway{on_event = fn}: the event sequence of a failover,
-- breaker events and gw:breaker_state, and on_event errors that must not
-- hurt the engine.
package.path = "./tests/lua/?.lua;" .. package.path
local llm = require("llmgateway")
local spec = require("support.spec")

local user = spec.user

describe("events", function()
  local s = spec.sim()

  local function gateway(settings, on_event)
    local st = {fallback_model = "m", transport_retries = 2,
                backoff_base = 0.01}
    for k, v in pairs(settings or {}) do st[k] = v end
    return assert(llm.Gateway({providers = {
      {provider_type = "a", api_style = "openai_chat", base_url = s.base,
       api_key = "event-key"},
      {provider_type = "b", api_style = "anthropic", base_url = s.base,
       api_key = "event-key"}}, settings = st},
      {no_state = true, on_event = on_event}))
  end

  local function brief(e)
    return ("%s p%d #%d %d %s"):format(e.type, e.provider_index, e.attempt,
                                       e.status, e.error_class)
  end

  it("one event per attempt and per request, in order, for a failover",
     function()
    local evs = {}
    local gw = gateway({breaker_failures = 2}, function(e)
      evs[#evs + 1] = e
    end)
    assert.equal("echo(m): hi", gw:run_task("t", user(
      "@sim status=503 times=3 id=f1\nhi")))
    local got = {}
    for i, e in ipairs(evs) do got[i] = brief(e) end
    assert.same({
      "attempt_end p1 #1 503 http",
      "attempt_end p1 #2 503 http",
      "breaker_open p1 #0 0 ok",
      "attempt_end p2 #1 503 http",
      "attempt_end p2 #2 200 ok",
      "request_end p2 #4 200 ok",
    }, got)
    local req = evs[6]
    assert.equal("t", req.task)
    assert.equal("b", req.provider_type)
    assert.equal("m", req.model)
    assert.equal(evs[1].request_id, req.request_id)
    assert.same({input_tokens = 1, output_tokens = 2, cached_tokens = 0,
                 reasoning_tokens = 0}, req.usage)
    assert.is_true(evs[1].retry_delay > 0)
    assert.is_true(req.latency >= evs[5].latency)
    assert.equal(30, evs[3].breaker_cooldown)
    assert.equal("open", gw:breaker_state(1))
    assert.equal("closed", gw:breaker_state(2))
    assert.has_error(function() gw:breaker_state(3) end,
      "bad argument #1 to 'breaker_state' (provider index from 1 to 2 "
      .. "expected, got 3)")
  end)

  it("streamed attempts report ttft", function()
    local evs = {}
    local gw = gateway(nil, function(e) evs[#evs + 1] = e end)
    assert(gw:stream("t", user("x"), function() end))
    assert.equal(2, #evs)
    assert.is_true(evs[1].ttft >= 0)
    local plain = {}
    gw = gateway(nil, function(e) plain[#plain + 1] = e end)
    assert(gw:call({task = "t", messages = user("x")}))
    assert.is_nil(plain[1].ttft)
  end)

  it("an error in on_event is logged and ignored", function()
    local lines = {}
    llm.set_log(function(_, msg) lines[#lines + 1] = msg end)
    local gw = gateway(nil, function() error("observer broke") end)
    assert.equal("echo(m): ok", gw:run_task("t", user("ok")))
    llm.set_log(nil)
    assert.equal(2, #lines)
    assert.matches("^on_event raised an error %(ignored%): .*observer broke",
      lines[1])
  end)

  it("on_event cannot yield or wait, even inside a task", function()
    local errs = {}
    local gw
    gw = gateway(nil, function(e)
      if e.type ~= "request_end" then return end
      errs[#errs + 1] = select(2, pcall(coroutine.yield))
      errs[#errs + 1] = select(2, pcall(gw.run_task, gw, "t", user("x")))
    end)
    local t = llm.spawn(function() return gw:run_task("t", user("in")) end)
    assert.equal("echo(m): in", t:wait())
    assert.equal(2, #errs)
    assert.matches("yield", tostring(errs[1]))
    assert.matches("cannot wait here", tostring(errs[2]))
  end)

  it("checks the option", function()
    assert.has_error(function()
      llm.Gateway({providers = {}}, {on_event = 1})
    end, "bad argument #2 to 'Gateway' (on_event: function expected, got "
      .. "number)")
  end)
end)
