-- Specs for the result table of gw:call and gw:run_tasks as Lua sees
-- it: every field by name, the keys that pairs/next visit, the JSON
-- encoding, for short answers and for long ones (whose text the
-- assistant message's content shares, as one Lua string).
package.path = "./tests/lua/?.lua;" .. package.path
local llm = require("llmgateway")
local spec = require("support.spec")

local user = spec.user

local RESULT_KEYS = {"attempts", "finish_reason", "max_tokens", "message",
                     "normalized_model", "provider", "reasoning_effort",
                     "requested_model", "task", "temperature", "text",
                     "usage", "usage_total"}
local ATTEMPT_KEYS = {"base_url", "code", "configured_index", "elapsed",
                      "message", "model", "provider_index", "provider_type",
                      "retry_delay", "status", "usage"}

-- The keys pairs() and next() visit, sorted.
local function keys(t)
  local a, b = {}, {}
  for k in pairs(t) do a[#a + 1] = k end
  local k = next(t)
  while k ~= nil do
    b[#b + 1] = k
    k = next(t, k)
  end
  table.sort(a)
  table.sort(b)
  assert.same(a, b)
  return a
end

describe("results", function()
  local s = spec.sim()

  local function gateway()
    return assert(llm.Gateway({
      providers = {{provider_type = "openai", api_style = "openai_chat",
                    base_url = s.base, api_key = "k"}},
      settings = {fallback_model = "m"}}, {no_state = true}))
  end

  local function check(res, prompt)
    local text = "echo(m): " .. prompt
    assert.same(RESULT_KEYS, keys(res))
    assert.equal(text, res.text)
    assert.equal("t", res.task)
    assert.equal("m", res.requested_model)
    assert.equal("m", res.normalized_model)
    assert.equal("stop", res.finish_reason)
    assert.same({"content", "role"}, keys(res.message))
    assert.equal("assistant", res.message.role)
    assert.equal(text, res.message.content)
    assert.same({"api_style", "base_url", "index", "type"},
                keys(res.provider))
    assert.same({api_style = "openai_chat", base_url = s.base, index = 1,
                 type = "openai"}, res.provider)
    assert.same({"input_tokens", "output_tokens"}, keys(res.usage))
    assert.same({"cached_tokens", "input_tokens", "output_tokens",
                 "reasoning_tokens"}, keys(res.usage_total))
    assert.equal(res.usage.input_tokens, res.usage_total.input_tokens)
    assert.equal(1, #res.attempts)
    assert.same({1}, keys(res.attempts))
    local a = res.attempts[1]
    assert.same(ATTEMPT_KEYS, keys(a))
    assert.equal("ok", a.code)
    assert.equal(200, a.status)
    assert.same(res.usage, a.usage)
    -- each table is its own: changing one changes no other
    assert.is_false(rawequal(res.usage, a.usage))
    res.message.content = "changed"
    assert.equal(text, res.text)
    res.text = nil
    assert.equal("changed", res.message.content)
    assert.equal('{"content":"changed","role":"assistant"}',
                 llm.encode_json(res.message))
  end

  it("a short and a long answer: every field, the keys pairs and next " ..
     "visit, the JSON", function()
    local gw = gateway()
    for _, prompt in ipairs({"short", string.rep("long answer ", 300) .. "end",
                             string.rep("x", 31), string.rep("y", 32)}) do
      local res = assert(gw:call({task = "t", messages = user(prompt)}))
      local enc = llm.encode_json(res)
      assert.matches('"message":{"content":"echo(m): ' ..
                     prompt:sub(1, 20), enc, 1, true)
      check(res, prompt)
    end
  end)

  it("run_tasks: every result complete and its own", function()
    local gw = gateway()
    local reqs = {}
    for i = 1, 40 do
      reqs[i] = {task = "t",
                 messages = user((i % 2 == 0 and string.rep("z", 100) or "")
                                 .. "n" .. i)}
    end
    local out = gw:run_tasks(reqs)
    assert.equal(40, #out)
    for i = 1, 40 do check(out[i], reqs[i].messages[1].content) end
  end)
end)
