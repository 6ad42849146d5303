-- Specs for usage and cost: result.usage and usage_total over retries,
-- sums over validation rounds (text and JSON), prices, gw:totals().
package.path = "./tests/lua/?.lua;" .. package.path
local llm = require("llmgateway")
local spec = require("support.spec")

local user = spec.user

describe("usage and cost", function()
  local s = spec.sim()

  -- prices per million tokens: cost = input + 2 * output
  local function gateway(opts)
    return assert(llm.Gateway({
      providers = {{provider_type = "openai", api_style = "responses",
                    base_url = s.base, api_key = "usage-key"}},
      settings = {fallback_model = "m", transport_retries = 3,
                  backoff_base = 0.01, retry_max = 2,
                  prices = {m = {input = 1000000, output = 2000000}}},
    }, opts or {no_state = true}))
  end

  it("usage of the answer, usage_total over its retries", function()
    local gw = gateway()
    -- fault=empty: 200 with input tokens counted, no text: retried
    local res = assert(gw:call({task = "t", messages = user(
      "@sim times=1 id=u1 fault=empty\nhello world")}))
    assert.equal("echo(m): hello world", res.text)
    assert.same({input_tokens = 2, output_tokens = 3}, res.usage)
    assert.same({input_tokens = 4, output_tokens = 3, cached_tokens = 0,
                 reasoning_tokens = 0}, res.usage_total)
    assert.equal(8, res.cost)
    assert.equal(10, res.cost_total)
    assert.equal(2, #res.attempts)
    assert.same({input_tokens = 2, output_tokens = 0},
      res.attempts[1].usage)
    assert.equal(2, res.attempts[1].cost)
    assert.equal(1, res.attempts[2].configured_index)
  end)

  it("streamed calls report usage too", function()
    local gw = gateway()
    local res = assert(gw:stream("t", user("a b c"), function() end))
    assert.same({input_tokens = 3, output_tokens = 4}, res.usage)
    assert.equal(11, res.cost)
  end)

  it("no prices: no cost", function()
    local gw = assert(llm.Gateway({
      providers = {{provider_type = "openai", api_style = "responses",
                    base_url = s.base, api_key = "usage-key"}},
      settings = {fallback_model = "m"}}, {no_state = true}))
    local res = assert(gw:call({task = "t", messages = user("x")}))
    assert.is_nil(res.cost)
    assert.is_nil(res.cost_total)
    assert.is_nil(gw:totals().cost)  -- as res.cost_total
    gw:close()
    assert.is_nil(gw:totals().cost)
  end)

  it("a failure carries usage_total and cost_total", function()
    local gw = gateway()
    local res, err = gw:call({task = "t", messages = user(
      "@sim fault=empty\nfour words right here")})
    assert.is_nil(res)
    assert.same({input_tokens = 12, output_tokens = 0, cached_tokens = 0,
                 reasoning_tokens = 0}, err.usage_total)
    assert.equal(12, err.cost_total)
  end)

  it("validation rounds sum usage_total and cost_total", function()
    local rounds = {}
    local gw = gateway({no_state = true, on_event = function(e)
      if e.type == "request_end" then rounds[#rounds + 1] = e end
    end})
    local text, errors, u = gw:run_task_with_retry("t", user(
      "@sim times=1 id=v1 reply=bad\nq"), function(t)
        if t == "bad" then return {"not good"} end
      end)
    assert.equal("echo(m): Your previous output had the following issues:\n"
      .. "- not good\n\nPlease regenerate the full answer.", text)
    assert.same({}, errors)
    assert.equal(2, #rounds)
    assert.equal(2, u.rounds)
    local input = rounds[1].usage.input_tokens + rounds[2].usage.input_tokens
    local output = rounds[1].usage.output_tokens
      + rounds[2].usage.output_tokens
    assert.same({input_tokens = input, output_tokens = output,
                 cached_tokens = 0, reasoning_tokens = 0}, u.usage_total)
    assert.equal(input + 2 * output, u.cost_total)
    assert.equal(rounds[1].cost + rounds[2].cost, u.cost_total)
    assert.same(rounds[2].usage, {input_tokens = u.usage.input_tokens,
      output_tokens = u.usage.output_tokens, cached_tokens = 0,
      reasoning_tokens = 0})
    -- round 1: 1 input word ("q"), 1 output word ("bad")
    assert.same({input_tokens = 1, output_tokens = 1, cached_tokens = 0,
                 reasoning_tokens = 0}, rounds[1].usage)
  end)

  it("JSON results carry the totals of every round", function()
    local ends = {}
    local gw = gateway({no_state = true, on_event = function(e)
      if e.type == "request_end" then ends[#ends + 1] = e end
    end})
    -- round 1 answers "nope", later rounds echo the feedback: never JSON
    local r = assert(gw:run_json_task_with_retry("t", user(
      "@sim times=1 id=j1 reply=nope\nq"), nil))
    assert.equal(3, #ends)
    assert.is_nil(r.data)
    assert.equal(1, #r.errors)
    local sum = {input_tokens = 0, output_tokens = 0, cached_tokens = 0,
                 reasoning_tokens = 0}
    for _, e in ipairs(ends) do
      for k, v in pairs(e.usage) do sum[k] = sum[k] + v end
    end
    assert.same(sum, r.usage_total)
    assert.equal(sum.input_tokens + 2 * sum.output_tokens, r.cost_total)
    assert.equal(ends[3].usage.output_tokens, r.usage.output_tokens)
    local one = assert(gw:run_json_task("t", user("@sim reply=[2]")))
    assert.same({2}, one.data)
    assert.same({input_tokens = 0, output_tokens = 1}, one.usage)
    assert.equal(2, one.cost_total)
  end)

  it("gw:totals() sums every request of the gateway", function()
    local gw = gateway()
    assert(gw:call({task = "t", messages = user("one")}))       -- 1 in, 2 out
    assert(gw:call({task = "t", messages = user("two three")})) -- 2 in, 3 out
    assert.same({cost = 13, input_tokens = 3, output_tokens = 5,
                 cached_tokens = 0, reasoning_tokens = 0}, gw:totals())
    gw:close()
    assert.equal(13, gw:totals().cost)
  end)
end)
