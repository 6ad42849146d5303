-- Specs for what a caller acts on: error codes and providers_tried, the
-- checks of option keys and numbers, max_tokens = 0, batch item shapes,
-- and JSON values that survive a round trip (numbers, arrays, NUL).
package.path = "./tests/lua/?.lua;" .. package.path
local llm = require("llmgateway")
local spec = require("support.spec")

local err_of = spec.err_of

local user = spec.user

describe("errors", function()
  local s = spec.sim()
  before_each(function() s.reset() end)

  -- xsim: per provider, its x-sim header ("" for none)
  local function gateway(nproviders, xsim)
    local c = {providers = {}, settings = {fallback_model = "m",
                                           transport_retries = 1}}
    for i = 1, nproviders do
      c.providers[i] = {provider_type = "openai", api_style = "openai_chat",
                        base_url = s.base, api_key = "sk-api-spec",
                        headers = {["x-sim"] = xsim and xsim[i] or ""}}
    end
    return assert(llm.Gateway(c, {no_state = true}))
  end

  it("err.code is the class of the failure that decided the outcome",
     function()
    local gw = gateway(1)
    local r, err = gw:call({task = "t", messages = user("@sim status=401\nq")})
    assert.is_nil(r)
    assert.equal("auth", err.code)
    assert.equal(1, err.providers_tried)
    assert.equal("[llmgateway:auth] " .. err.message, tostring(err))
    assert.matches("across all configured providers", err.message)
    _, err = gw:call({task = "t", messages = user("@sim status=429\nq")})
    assert.equal("rate_limited", err.code)
    _, err = gw:call({task = "t", messages = user("@sim fault=empty\nq")})
    assert.equal("empty", err.code)
    _, err = gw:call({task = "t", messages = user("@sim status=400\nq")})
    assert.equal("http", err.code)
    gw:close()
  end)

  it("with several providers, the last attempt's class and the count",
     function()
    local gw = gateway(2, {"status=503", "status=401"})
    local _, err = gw:call({task = "t", messages = user("q")})
    assert.equal("auth", err.code)
    assert.equal(401, err.status)
    assert.equal(2, err.providers_tried)
    assert.same({"http", "auth"}, {err.attempts[1].code, err.attempts[2].code})
    gw:close()
    gw = gateway(2, {"status=401", "status=503"})
    _, err = gw:call({task = "t", messages = user("q")})
    assert.equal("http", err.code)
    assert.equal(503, err.status)
    gw:close()
  end)

  it("positions count from 1 in results, attempts, events and breakers",
     function()
    local events = {}
    local gw = assert(llm.Gateway({
      providers = {
        {provider_type = "openai", api_style = "openai_chat",
         base_url = s.base, headers = {["x-sim"] = "status=400"}},
        {provider_type = "openai", api_style = "openai_chat",
         base_url = s.base}},
      settings = {fallback_model = "m", transport_retries = 1}},
      {no_state = true, on_event = function(ev) events[#events + 1] = ev end}))
    local r = assert(gw:call({task = "t", messages = user("q")}))
    assert.equal(2, r.provider.index)
    assert.same({1, 1, 2, 2}, {r.attempts[1].provider_index,
      r.attempts[1].configured_index, r.attempts[2].provider_index,
      r.attempts[2].configured_index})
    assert.same({"attempt_end", 1}, {events[1].type, events[1].provider_index})
    assert.same({"request_end", 2}, {events[3].type, events[3].provider_index})
    assert.equal("closed", gw:breaker_state(1))
    assert.equal("bad argument #1 to 'breaker_state' (provider index from "
      .. "1 to 2 expected, got 0)", err_of(function()
        return gw:breaker_state(0)
      end))
    gw:close()
  end)

  it("a provider without a model ends with no_model", function()
    local gw = assert(llm.Gateway({providers = {{provider_type = "openai",
      base_url = s.base}}}, {no_state = true}))
    local _, err = gw:call({task = "t", messages = user("q")})
    assert.equal("no_model", err.code)
    assert.equal(1, err.providers_tried)
    gw:close()
  end)

  it("a branch on err.code", function()
    local gw = gateway(1)
    local function ask(text)
      local r, err = gw:call({task = "t", messages = user(text)})
      if r then return "ok" end
      if err.code == "auth" then return "check the key"
      elseif err.code == "rate_limited" or err.code == "timeout" then
        return "later"
      end
      return "failed: " .. err.code
    end
    assert.same({"ok", "check the key", "later", "failed: http"},
      {ask("a"), ask("@sim status=403\nb"), ask("@sim status=429\nc"),
       ask("@sim status=404\nd")})
    gw:close()
  end)

  it("max_tokens = 0 means the task's value", function()
    local gw = gateway(1)
    gw:close()
    gw = assert(llm.Gateway({
      providers = {{provider_type = "openai", api_style = "openai_chat",
                    base_url = s.base}},
      settings = {fallback_model = "m"},
      tasks = {t = {max_tokens = 77}}}, {no_state = true}))
    local r = assert(gw:call({task = "t", messages = user("q"),
                              max_tokens = 0}))
    assert.equal(77, r.max_tokens)
    assert.equal(77, s.stats().last_body.max_completion_tokens)
    assert.equal("echo(m): q", gw:run_task("t", user("q"), {max_tokens = 0}))
    assert.equal(77, s.stats().last_body.max_completion_tokens)
    gw:close()
  end)

  it("text batch items carry their task, as JSON ones do", function()
    local gw = gateway(1)
    local out = gw:run_tasks_with_retry({
      {task = "a", messages = user("x")},
      {task = "b", messages = user("@sim status=400\ny")}})
    assert.equal("a", out[1].task)
    assert.equal("echo(m): x", out[1].text)
    assert.same({}, out[1].errors)
    assert.equal(1, out[1].rounds)
    assert.equal("http", out[2].error.code)
    gw:close()
  end)
end)

describe("argument checks", function()
  local gw

  lazy_setup(function()
    gw = assert(llm.Gateway({providers = {{provider_type = "openai",
      base_url = "http://127.0.0.1:9"}}, settings = {fallback_model = "m"}},
      {no_state = true}))
  end)
  lazy_teardown(function() gw:close() end)

  it("name a misspelt key and the closest known one", function()
    assert.equal("bad argument #1 to 'call' (unknown key 'modle', did you "
      .. "mean 'model'?)", err_of(function()
        return gw:call({task = "t", messages = user("q"), modle = "x"})
      end))
    assert.equal("bad argument #3 to 'run_task' (unknown key 'max_token', "
      .. "did you mean 'max_tokens'?)", err_of(function()
        return gw:run_task("t", user("q"), {max_token = 5})
      end))
    assert.equal("bad argument #2 to 'Gateway' (unknown key 'state_fle', "
      .. "did you mean 'state_file'?)", err_of(function()
        return llm.Gateway(gw.runtime, {state_fle = "x"})
      end))
    assert.equal("bad argument #2 to 'dump_runtime_spec' (unknown key "
      .. "'with_key', did you mean 'with_keys'?)", err_of(function()
        return llm.dump_runtime_spec(gw.runtime, {with_key = true})
      end))
    assert.equal("bad argument #4 to 'run_task_with_retry' (unknown key "
      .. "'validator_timout', did you mean 'validator_timeout'?)",
      err_of(function()
        return gw:run_task_with_retry("t", user("q"), nil,
                                      {validator_timout = 1})
      end))
    assert.equal("bad argument #1 to 'run_tasks' (unknown key "
      .. "'requests[2].tier_', did you mean 'requests[2].tier'?)",
      err_of(function()
        return gw:run_tasks({{task = "t", messages = user("q")},
                             {task = "t", messages = user("q"), tier_ = 1}})
      end))
    assert.equal("bad argument #2 to 'run_tasks' (unknown key 'failfast', "
      .. "did you mean 'fail_fast'?)", err_of(function()
        return gw:run_tasks({}, {failfast = true})
      end))
    assert.equal("bad argument #1 to 'json_object' (unknown key 'requird', "
      .. "did you mean 'required'?)", err_of(function()
        return llm.validators.json_object{requird = {"a"}}
      end))
    assert.equal("bad argument #3 to 'map' (unknown key 'concurency', did "
      .. "you mean 'concurrency'?)", err_of(function()
        return llm.pipeline.map({}, print, {concurency = 2})
      end))
    assert.equal("bad argument #3 to 'queue' (unknown key "
      .. "'visibility_timout', did you mean 'visibility_timeout'?)",
      err_of(function()
        return llm.queue("redis://127.0.0.1:9/0", "q",
                         {visibility_timout = 5})
      end))
  end)

  it("a key far from every known one gets no suggestion", function()
    assert.equal("bad argument #1 to 'call' (unknown key 'colour')",
      err_of(function()
        return gw:call({task = "t", messages = user("q"), colour = 1})
      end))
    -- validator_timeout belongs to the validation loop, not to a call
    assert.equal("bad argument #1 to 'call' (unknown key "
      .. "'validator_timeout')", err_of(function()
        return gw:call({task = "t", messages = user("q"),
                        validator_timeout = 1})
      end))
  end)

  it("raise at the caller's line", function()
    -- (not tail calls: those leave no caller's line to name)
    local ok, e = pcall(function()
      local r = gw:call({task = "t", messages = {}, modle = 1})
      return r
    end)
    assert.is_false(ok)
    assert.matches("^tests/lua/api_spec.lua:%d+: bad argument", e)
    ok, e = pcall(function()
      local m = llm.prompt.few_shot({}, {sytem = 1})
      return m
    end)
    assert.matches("^tests/lua/api_spec.lua:%d+: bad argument", e)
    ok, e = pcall(function()
      local v = llm.validators.length{mx = 1}
      return v
    end)
    assert.matches("^tests/lua/api_spec.lua:%d+: bad argument", e)
  end)

  it("bad numbers are shown", function()
    assert.equal("bad argument #3 to 'run_task' (deadline: non-negative "
      .. "number expected, got -1)", err_of(function()
        return gw:run_task("t", user("q"), {deadline = -1})
      end))
    assert.equal("bad argument #3 to 'run_task' (max_tokens: integer from 0 "
      .. "to 100000000 expected, got -5)", err_of(function()
        return gw:run_task("t", user("q"), {max_tokens = -5})
      end))
    assert.equal("bad argument #1 to 'call' (deadline: non-negative number "
      .. "expected, got string)", err_of(function()
        return gw:call({task = "t", messages = user("q"), deadline = "1"})
      end))
  end)
end)

describe("JSON round trips", function()
  it("numbers print in their shortest exact form", function()
    -- 3.0 is a float from Lua 5.3 on; before, every number is a double
    -- and whole ones print as integers
    assert.equal("[0.1,0.5,0.3333333333333333,0.30000000000000004,1e+300,"
      .. (math.type and "3.0" or "3") .. ",100,-7]", llm.encode_json({0.1, 0.5, 1 / 3, 0.1 + 0.2, 1e300,
                                         3.0, 100, -7}))
    for _, x in ipairs({0.1, 1 / 3, 0.1 + 0.2, 2 ^ -1074, 1.7976931348623157e308,
                        123456.789}) do
      assert.equal(x, llm.parse_json(llm.encode_json({x}))[1])
    end
  end)

  it("arrays stay arrays, empty ones included", function()
    local v = llm.parse_json('{"tags":[],"n":[1,[],{}],"o":{}}')
    assert.equal(llm.array_mt, getmetatable(v.tags))
    assert.is_nil(getmetatable(v.o))
    assert.equal('{"n":[1,[],{}],"o":{},"tags":[]}', llm.encode_json(v))
    assert.equal("[]", llm.encode_json(llm.empty_array))
    assert.equal('{"a":[]}', llm.encode_json({a = llm.empty_array}))
    assert.equal("[]", llm.encode_json(setmetatable({}, llm.array_mt)))
    assert.equal("{}", llm.encode_json({}))
  end)

  it("a decoded empty array is an array to the validators", function()
    local c = llm.validators.schema{type = "object",
      properties = {tags = {type = "array"}, o = {type = "object"}}}
    assert.same({}, c("", llm.parse_json('{"tags":[],"o":{}}')))
    assert.same({"$.o: expected object, got array"},
      c("", llm.parse_json('{"tags":[],"o":[]}')))
  end)

  it("NUL inside strings survives", function()
    local v = llm.parse_json('{"s":"he\\u0000llo","t":"\\u0000"}')
    assert.equal("he\0llo", v.s)
    assert.equal(6, #v.s)
    assert.equal("\0", v.t)
    assert.equal('{"s":"he\\u0000llo","t":"\\u0000"}', llm.encode_json(v))
    assert.equal("a\0b", llm.parse_json(llm.encode_json("a\0b")))
  end)
end)
