-- Specs for rich requests from Lua: content parts, tools and tool calls,
-- the tool loop (gw:run_tools) and sessions, end to end through the
-- simulator on every transport, streamed and not.
package.path = "./tests/lua/?.lua;" .. package.path
local llm = require("llmgateway")
local spec = require("support.spec")

local STYLES = {"responses", "openai_chat", "anthropic", "litellm"}
local ID = {responses = "call_sim_", openai_chat = "call_sim_",
            anthropic = "toolu_sim_", litellm = "call_sim_"}

local TOOLS = {
  {name = "get_weather", description = "Weather in a city",
   parameters = {type = "object", properties = {city = {type = "string"}},
                 required = {"city"}}},
  {name = "get_time", parameters = {type = "object", properties = {}}},
}

describe("rich requests from Lua", function()
  local s = spec.sim()

  local function gateway(style)
    return assert(llm.Gateway({providers = {{provider_type = "p",
      api_style = style, base_url = s.base, api_key = "k"}},
      settings = {fallback_model = "m", transport_retries = 1}},
      {no_state = true}))
  end

  for _, style in ipairs(STYLES) do
    it(style .. ": image parts reach the provider", function()
      local gw = gateway(style)
      local r = assert(gw:call({task = "t", messages = {{role = "user",
        content = {{type = "text", text = "What is this?"},
                   {type = "image", data = "\137PNG\r\n", media_type = "image/png",
                    detail = "low"}}}}}))
      assert.equal("echo(m): What is this? [1 attachment: image image/png 6 bytes]",
                   r.text)
      assert.same({role = "assistant", content = r.text}, r.message)
      assert.is_nil(r.tool_calls)
    end)

    it(style .. ": tool calls in the result, then a tool result", function()
      local gw = gateway(style)
      local msgs = {{role = "user",
                     content = '@sim tool=get_weather args={"city":"Paris"}\nWeather?'}}
      local r = assert(gw:call({task = "t", messages = msgs, tools = TOOLS,
                                tool_choice = "auto", parallel_tool_calls = false}))
      assert.equal("tool_calls", r.finish_reason)
      local id = ID[style] .. "1"
      assert.same({{id = id, name = "get_weather", arguments = {city = "Paris"},
                    arguments_json = '{"city":"Paris"}'}}, r.tool_calls)
      assert.same({role = "assistant", content = "", tool_calls = {{id = id,
        name = "get_weather", arguments_json = '{"city":"Paris"}'}}}, r.message)
      msgs[2] = r.message
      msgs[3] = {role = "tool", tool_call_id = id, content = "sunny"}
      local r2 = assert(gw:call({task = "t", messages = msgs, tools = TOOLS}))
      assert.equal("tool result: sunny", r2.text)
      assert.equal("stop", r2.finish_reason)
    end)

    for _, streamed in ipairs({false, true}) do
      it(style .. (streamed and " streamed" or "") .. ": the tool loop",
         function()
        local gw = gateway(style)
        local deltas, steps = {}, {}
        local req = {task = "t", tools = TOOLS, messages = {{role = "user",
          content = '@sim tool=get_weather args={"city":"Paris"} tool=get_time '
            .. 'then=get_weather args={"city":"Rome"}\nPlan my day'}}}
        if streamed then
          req.on_delta = function(t) deltas[#deltas + 1] = t end
        end
        local r = assert(gw:run_tools(req, {
          get_weather = function(args, call)
            llm.sleep(0.01)
            assert.equal("get_weather", call.name)
            return {city = args.city, sky = "sunny"}
          end,
          get_time = function() error("clock broken", 0) end,
        }, {on_step = function(st) steps[#steps + 1] = #st.calls end}))
        local p = ID[style]
        local last = style == "responses"
          and 'tool result: {"city":"Paris","sky":"sunny"}\n'
            .. "tool result: error: clock broken\n"
            .. 'tool result: {"city":"Rome","sky":"sunny"}'
          or 'tool result: {"city":"Rome","sky":"sunny"}'
        assert.equal(last, r.text)
        assert.same({2, 1}, steps)
        assert.equal(2, #r.steps)
        assert.same({{role = "tool", tool_call_id = p .. "1",
                      content = '{"city":"Paris","sky":"sunny"}'},
                     {role = "tool", tool_call_id = p .. "2", is_error = true,
                      content = "error: clock broken"}}, r.steps[1].results)
        assert.equal(7, #r.messages)
        assert.same({role = "assistant", content = last}, r.messages[7])
        assert.same({"get_weather", "get_time"},
                    {r.steps[1].calls[1].name, r.steps[1].calls[2].name})
        assert.equal(r.usage_total.output_tokens,
          r.steps[1].usage.output_tokens + r.steps[2].usage.output_tokens
          + r.usage.output_tokens)
        if streamed then assert.equal(last, table.concat(deltas)) end
        if style == "anthropic" then
          local body = s.stats().last_body
          assert.is_true(body.messages[3].content[2].is_error)
        end
      end)
    end
  end

  for _, style in ipairs(STYLES) do
    it(style .. ": on_tool_delta gets the argument pieces", function()
      local gw = gateway(style)
      local pieces, texts = {}, {}
      local r = assert(gw:call({task = "t", tools = TOOLS, messages = {{content =
        '@sim tool=get_weather args={"city":"Paris"} tool=get_time\ngo'}},
        on_tool_delta = function(i, name, piece)
          pieces[#pieces + 1] = i .. " " .. name .. " " .. piece
        end}))
      assert.equal("tool_calls", r.finish_reason)
      local joined = {}
      for _, p in ipairs(pieces) do
        local i, name, piece = p:match("^(%d) (%S*) (.*)$")
        assert.equal(({"get_weather", "get_time"})[tonumber(i)], name)
        joined[tonumber(i)] = (joined[tonumber(i)] or "") .. piece
      end
      assert.same({'{"city":"Paris"}', "{}"}, joined)
      assert.equal('{"city":"Paris"}', r.tool_calls[1].arguments_json)
      -- with on_delta too: on_delta gets text only (none here)
      r = assert(gw:call({task = "t", tools = TOOLS, messages = {{content =
        "@sim tool=get_time\ngo"}}, on_delta = function(t) texts[#texts + 1] = t end,
        on_tool_delta = function() end}))
      assert.same({}, texts)
      assert.equal("get_time", r.tool_calls[1].name)
      local _, err = gw:call({task = "t", tools = TOOLS, messages = {{content =
        "@sim tool=get_time\ngo"}}, on_tool_delta = function() error("ui gone", 0) end})
      assert.equal("callback", err.code)
      assert.equal("on_tool_delta raised an error: ui gone", err.message)
    end)
  end

  it("a handler may call the gateway; handlers run concurrently", function()
    local gw = gateway("openai_chat")
    local order = {}
    local r = assert(gw:run_tools({task = "t", tools = TOOLS, messages = {{
      content = "@sim tool=get_weather tool=get_time\ngo"}}}, {
      get_weather = function()
        llm.sleep(0.05)
        order[#order + 1] = "weather"
        return gw:run_task("inner", {{content = "inner question"}})
      end,
      get_time = function() order[#order + 1] = "time"; return 12 end,
    }))
    assert.same({"time", "weather"}, order)
    assert.equal("tool result: echo(m): inner question\ntool result: 12",
                 r.text)
  end)

  it("missing handlers and invalid arguments become error results", function()
    local gw = gateway("openai_chat")
    local r = assert(gw:run_tools({task = "t", tools = TOOLS, messages = {{
      content = "@sim tool=nope\ngo"}}}, {}))
    assert.equal("tool result: error: no tool named 'nope'", r.text)
  end)

  it("max_steps ends the loop with code tool_loop", function()
    local gw = gateway("anthropic")
    local n = 0
    local r, err = gw:run_tools({task = "t", tools = TOOLS, messages = {{
      content = "@sim tool=get_time repeat=true\ngo"}}},
      {get_time = function() n = n + 1; return "now" end}, {max_steps = 3})
    assert.is_nil(r)
    assert.equal("tool_loop", err.code)
    assert.equal("the model still asked for tools after max_steps = 3 steps",
                 err.message)
    assert.equal(3, n)
    assert.equal(3, #err.steps)
    assert.equal(7, #err.messages)
    assert.is_true(err.usage_total.input_tokens > 0)
  end)

  it("sessions keep the history; fork copies it", function()
    local gw = gateway("responses")
    local sess = llm.Session(gw, {system = "Be brief.", tools = TOOLS,
      handlers = {get_time = function() return "noon" end}})
    assert.equal("echo(m): hello", assert(sess:send("hello")).text)
    assert.same({{role = "system", content = "Be brief."},
                 {role = "user", content = "hello"},
                 {role = "assistant", content = "echo(m): hello"}},
                sess.messages)
    local f = sess:fork()
    local r = assert(f:send({{type = "text", text = "@sim tool=get_time\nwhen?"}}))
    assert.equal("tool result: noon", r.text)
    assert.equal(7, #f.messages)
    assert.equal(3, #sess.messages)
    local seen = {}
    local streamed = llm.Session(gw, {on_delta = function(t) seen[#seen + 1] = t end})
    assert.equal("echo(m): one two", assert(streamed:send("one two")).text)
    assert.same({"echo(m):", " one", " two"}, seen)
    assert.has_error(function() gw:run_tools({task = "t"}, {}) end,
      "bad argument #1 to 'run_tools' (messages: table expected, got nil)")
    local plain = llm.Session(gw)
    assert.equal("echo(m): a b", assert(plain:send("a b", {model = "m"})).text)
    assert.equal(2, #plain.messages)
    local _, err = plain:send("@sim status=400 times=1\nx")
    assert.equal("http", err.code)
    assert.equal(2, #plain.messages)
  end)

  it("argument errors name the path", function()
    local gw = gateway("responses")
    local function msg(req)
      local ok, e = pcall(function() return gw:call(req) end)
      assert.is_false(ok)
      return (e:gsub("^.-bad argument", "bad argument"))
    end
    assert.equal("bad argument #1 to 'call' (unknown key 'messages[1].contnet', "
      .. "did you mean 'messages[1].content'?)",
      msg({task = "t", messages = {{contnet = "x"}}}))
    assert.equal("bad argument #1 to 'call' (messages[1].content[1].type: "
      .. "\"text\", \"image\" or \"file\" expected, got string)",
      msg({task = "t", messages = {{content = {{type = "video"}}}}}))
    assert.equal("bad argument #1 to 'call' (messages[1].content[1].media_type: "
      .. "string expected, got nil)",
      msg({task = "t", messages = {{content = {{type = "file", data = "x"}}}}}))
    assert.equal("bad argument #1 to 'call' (tools[1].name: string expected, "
      .. "got nil)", msg({task = "t", messages = {}, tools = {{}}}))
    assert.equal("bad argument #1 to 'call' (tool_choice: \"auto\", \"none\", "
      .. "\"required\" or {name=} expected, got string)",
      msg({task = "t", messages = {}, tool_choice = "any"}))
  end)

  local SCHEMA = {type = "object", required = {"summary", "risk"},
    properties = {summary = {type = "string"},
                  risk = {type = "string", enum = {"low", "medium", "high"}}}}

  for _, style in ipairs(STYLES) do
    it(style .. ": run_json_task sends the schema and checks it", function()
      local gw = gateway(style)
      local r = assert(gw:run_json_task("t", {{content = "Assess"}},
                                        {schema = SCHEMA, schema_name = "risk"}))
      assert.equal('{"risk":"low","summary":"x"}', r.text)
      assert.same({summary = "x", risk = "low"}, r.data)
      assert.same({}, r.errors)
      local body = s.stats().last_body
      local sent = style == "responses" and body.text.format.schema
        or style == "anthropic" and body.output_config.format.schema
        or body.response_format.json_schema.schema
      assert.same({"summary", "risk"}, sent.required)
      local bad = assert(gw:run_json_task("t", {{content =
        '@sim reply={"summary":"x","risk":"none"}'}}, {schema = SCHEMA}))
      assert.same({'$.risk: must be one of "low", "medium", "high" (got "none")'},
                  bad.errors)
    end)
  end

  it("run_json_task_with_retry feeds schema errors back", function()
    local gw = gateway("openai_chat")
    local r = assert(gw:run_json_task_with_retry("t", {{content =
      '@sim times=1 id=schema-retry reply={"summary":1}'}}, nil,
      {schema = SCHEMA}))
    assert.same({}, r.errors)
    assert.same({summary = "x", risk = "low"}, r.data)
    local body = s.stats().last_body
    assert.equal('{"summary":1}', body.messages[2].content)
    assert.matches("%$%.summary", body.messages[3].content)
  end)

  it("common parameters and extra reach the body", function()
    local gw = gateway("openai_chat")
    assert(gw:call({task = "t", messages = {{content = "x"}}, stop = {"END"},
      top_p = 0.5, seed = 7, user = "u1", metadata = {k = "v"},
      extra = {logprobs = true}}))
    local body = s.stats().last_body
    assert.same({{"END"}, 0.5, 7, "u1", {k = "v"}, true},
      {body.stop, body.top_p, body.seed, body.user, body.metadata,
       body.logprobs})
  end)

  it("gw:embed: vectors in input order, anthropic skipped, errors", function()
    local gw = assert(llm.Gateway({providers = {
      {provider_type = "a", api_style = "anthropic", base_url = s.base, api_key = "k"},
      {provider_type = "p", api_style = "openai_chat", base_url = s.base, api_key = "k"}},
      settings = {fallback_model = "m", transport_retries = 1}}, {no_state = true}))
    local r = assert(gw:embed({"hello world", "bye"}, {model = "emb", dimensions = 4,
                                                      task = "t"}))
    assert.same({{-0.67, 0.86, 0.894, 0.137}, {0.008, -0.964, 0.453, -0.519}},
                r.vectors)
    assert.equal("emb", r.model)
    assert.equal("t", r.task)
    assert.same({type = "p", base_url = s.base, index = 2, api_style = "openai_chat"},
                r.provider)
    assert.equal(3, r.usage.input_tokens)
    local one = assert(gw:embed("hello world", {model = "emb", dimensions = 2}))
    assert.same({{-0.67, 0.86}}, one.vectors)
    local _, err = gw:embed("@sim status=400\nx")
    assert.equal("http", err.code)
    assert.matches("has no embeddings endpoint", err.message)
    assert.has_error(function() gw:embed({}) end,
      "bad argument #1 to 'embed' (at least one input expected)")
    assert.has_error(function() gw:embed("x", {dims = 3}) end)
  end)
end)
