-- Specs for local limits seen from Lua: a request larger than a
-- provider's tpm fails at once, naming the limit, and is not tried again
-- by the validation rounds (it would never fit).
package.path = "./tests/lua/?.lua;" .. package.path
local llm = require("llmgateway")

describe("limits", function()
  it("a request over a provider's tpm fails at once, naming it", function()
    local g = assert(llm.Gateway({
      providers = {{provider_type = "openai", api_style = "openai_chat",
                    base_url = "http://127.0.0.1:9/v1", tpm = 1000}},
      settings = {fallback_model = "m", retry_max = 3},
    }, {no_state = true}))
    local t0 = os.time()
    local text, err = g:run_task_with_retry("t",
      {{role = "user", content = "hello"}}, nil)
    local t1 = os.time()
    g:close()
    assert.is_nil(text)
    assert.equal("rate_limited", err.code)
    assert.equal(1, #err.attempts)
    assert.equal("rate_limited", err.attempts[1].code)
    assert.equal("Request needs about 4001 tokens (message bytes / 4 + "
      .. "max_tokens 4000), more than the provider's tpm limit of 1000 "
      .. "tokens per minute.", err.attempts[1].message)
    -- another validation round would first sleep 2 s, then 3 s, 5 s
    assert.is_true(t1 - t0 <= 1)
  end)
end)
