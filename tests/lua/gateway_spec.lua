-- Specs for the Gateway: run_task, call, the validation-retry and JSON
-- methods, batches, errors and close, against the provider simulator.
package.path = "./tests/lua/?.lua;" .. package.path
local llm = require("llmgateway")
local spec = require("support.spec")

local err_of = spec.err_of
local user = spec.user

local FEEDBACK_TEXT = "Your previous output had the following issues:\n"
  .. "- e1\n- e2\n\nPlease regenerate the full answer."

describe("Gateway", function()
  local s = spec.sim()
  local gw

  local function config(settings) return spec.chat_config(s.base, settings) end

  lazy_setup(function()
    gw = assert(llm.Gateway(config(), {no_state = true}))
  end)
  lazy_teardown(function() gw:close() end)
  before_each(function() s.reset() end)

  describe("run_task", function()
    it("returns the answer text", function()
      assert.equal("echo(m): hi", gw:run_task("t", user("hi")))
    end)

    it("applies overrides", function()
      assert.equal("echo(other): hi",
        gw:run_task("t", user("hi"), {model = "other", max_tokens = 123}))
      assert.equal(123, s.stats().last_body.max_completion_tokens)
    end)

    it("rejects wrong arguments with luaL_argerror messages", function()
      assert.equal("bad argument #1 to 'run_task' (string expected, got "
        .. "boolean)", err_of(function() return gw:run_task(true, {}) end))
      assert.equal("bad argument #2 to 'run_task' (table expected, got "
        .. "number)", err_of(function() return gw:run_task("t", 5) end))
      assert.equal("bad argument #2 to 'run_task' (messages[1].content: "
        .. "string or table expected, got number)",
        err_of(function() return gw:run_task("t", {{content = 1}}) end))
      assert.equal("bad argument #2 to 'run_task' (messages[2]: table "
        .. "expected, got string)", err_of(function()
          return gw:run_task("t", {{content = "a"}, "b"})
        end))
      assert.equal("bad argument #3 to 'run_task' (table expected, got "
        .. "string)", err_of(function()
          return gw:run_task("t", user("x"), "o")
        end))
      assert.equal("bad argument #3 to 'run_task' (max_tokens: integer "
        .. "from 0 to 100000000 expected, got 1.5)", err_of(function()
          return gw:run_task("t", user("x"), {max_tokens = 1.5})
        end))
      assert.equal("bad argument #3 to 'run_task' (temperature: number "
        .. "expected, got string)", err_of(function()
          return gw:run_task("t", user("x"), {temperature = "hot"})
        end))
    end)
  end)

  describe("call", function()
    it("reads request fields that come from a metatable", function()
      local r = assert(gw:call(setmetatable(
        {task = "t", messages = user("q")},
        {__index = {max_tokens = 7, temperature = 0.25}})))
      assert.equal("echo(m): q", r.text)
      assert.equal(7, r.max_tokens)
      assert.equal(0.25, r.temperature)
    end)

    it("returns the full result", function()
      local r = assert(gw:call({task = "t", messages = user("two words"),
                                max_tokens = 50, temperature = 0.5}))
      assert.same({
        task = "t", text = "echo(m): two words", requested_model = "m",
        normalized_model = "m", reasoning_effort = "", temperature = 0.5,
        max_tokens = 50,
        provider = {type = "openai", base_url = s.base, index = 1,
                    api_style = "openai_chat"},
        usage = {input_tokens = 2, output_tokens = 3},
      }, {task = r.task, text = r.text, requested_model = r.requested_model,
          normalized_model = r.normalized_model,
          reasoning_effort = r.reasoning_effort,
          temperature = r.temperature, max_tokens = r.max_tokens,
          provider = r.provider, usage = r.usage})
      assert.equal(1, #r.attempts)
      local a = r.attempts[1]
      assert.same({1, "openai", s.base, "m", 200, "ok", ""},
        {a.provider_index, a.provider_type, a.base_url, a.model, a.status,
         a.code, a.message})
      assert.is_number(a.elapsed)
      assert.equal(0, a.retry_delay)
    end)

    it("returns nil and an llmgateway.Error on failure", function()
      local r, err = gw:call({task = "t",
                              messages = user("@sim status=401\nq")})
      assert.is_nil(r)
      assert.equal(llm.Error, getmetatable(err))
      assert.equal("auth", err.code)
      assert.equal(401, err.status)
      assert.equal(1, #err.attempts)
      assert.equal(401, err.attempts[1].status)
      assert.equal("auth", err.attempts[1].code)
      assert.equal("[llmgateway:auth] " .. err.message, tostring(err))
      assert.is_nil(tostring(err):find("sk-spec-secret", 1, true))
    end)

    it("rejects a request that is not a table", function()
      assert.equal("bad argument #1 to 'call' (table expected, got number)",
        err_of(function() return gw:call(5) end))
      assert.equal("bad argument #1 to 'call' (task: string expected, got "
        .. "nil)", err_of(function() return gw:call({messages = {}}) end))
      assert.equal("bad argument #1 to 'call' (messages: table expected, "
        .. "got nil)", err_of(function() return gw:call({task = "t"}) end))
    end)
  end)

  describe("construction", function()
    it("accepts a runtime or a table, and exposes gw.runtime", function()
      local rt = assert(llm.runtime_spec_from_dict(config()))
      local g = assert(llm.Gateway(rt, {no_state = true}))
      assert.equal(rt, g.runtime)
      assert.equal("echo(m): x", g:run_task("t", user("x")))
      g:close()
      assert.matches("^llmgateway%.Gateway: 0x%x+$", tostring(gw))
    end)

    it("returns nil, err for an invalid config", function()
      local g, err = llm.Gateway({settings = {max_concurrent = 0}})
      assert.is_nil(g)
      assert.equal("config", err.code)
      assert.matches("max_concurrent", err.message)
    end)

    it("rejects wrong arguments", function()
      assert.equal("bad argument #1 to 'Gateway' (llmgateway.Runtime or "
        .. "table expected, got number)",
        err_of(function() return llm.Gateway(5) end))
      assert.equal("bad argument #2 to 'Gateway' (max_concurrent: positive "
        .. "integer expected, got 0)", err_of(function()
          return llm.Gateway(config(), {max_concurrent = 0})
        end))
      assert.equal("bad argument #2 to 'Gateway' (state_file: string "
        .. "expected, got boolean)", err_of(function()
          return llm.Gateway(config(), {state_file = true})
        end))
    end)

    it("options.max_concurrent overrides the setting", function()
      local g = assert(llm.Gateway(config(), {no_state = true,
                                              max_concurrent = 3}))
      assert.equal(3, g.runtime.max_concurrent)
      assert.equal(12, gw.runtime.max_concurrent)
      g:close()
    end)

    it("remembers the provider in options.state_file", function()
      local dir = os.tmpname()
      os.remove(dir)
      local path = dir .. "/state/provider-state.json"
      local g = assert(llm.Gateway(config(), {state_file = path}))
      assert.equal("echo(m): x", g:run_task("t", user("x")))
      g:close()
      local state = llm.load_provider_state(path)
      local rt = assert(llm.runtime_spec_from_dict(config()))
      assert.equal(llm.provider_key(config().providers[1]),
        state[rt.config_key])
      os.execute("rm -rf '" .. dir .. "'")
    end)
  end)

  describe("run_task_with_retry", function()
    it("returns at once when the validator accepts", function()
      local text, errors = gw:run_task_with_retry("t", user("q"),
        function() return nil end)
      assert.equal("echo(m): q", text)
      assert.same({}, errors)
      assert.equal(1, s.stats().requests)
    end)

    it("appends the answer and the feedback, then asks again", function()
      local first = "@sim times=1 id=rt1 reply=bad\nq"
      local seen = {}
      local text, errors = gw:run_task_with_retry("t", user(first),
        function(t)
          seen[#seen + 1] = t
          if t == "bad" then return {"e1", "e2"} end
        end)
      assert.same({"bad", "echo(m): " .. FEEDBACK_TEXT}, seen)
      assert.equal("echo(m): " .. FEEDBACK_TEXT, text)
      assert.same({}, errors)
      local st = s.stats()
      assert.equal(2, st.requests)
      assert.same({
        {role = "user", content = first},
        {role = "assistant", content = "bad"},
        {role = "user", content = FEEDBACK_TEXT},
      }, st.last_body.messages)
    end)

    it("leaves the caller's message list as it was", function()
      local messages = user("@sim times=1 id=rt2 reply=bad\nq")
      local text = gw:run_task_with_retry("t", messages, function(t)
        if t == "bad" then return {"e1", "e2"} end
      end)
      assert.equal("echo(m): " .. FEEDBACK_TEXT, text)
      assert.equal(1, #messages)
      assert.equal(2, s.stats().requests)
    end)

    -- (__len of a table: Lua 5.2 and later)
    local has_len = #setmetatable({}, {__len = function() return 1 end}) == 1
    local it_len = has_len and it or pending
    it_len("reads a message list through its metatable", function()
      local inner = user("q")
      local proxy = setmetatable({}, {
        __index = inner, __len = function() return #inner end})
      local text = gw:run_task_with_retry("t", proxy, function() end)
      assert.equal("echo(m): q", text)
      assert.same({{role = "user", content = "q"}},
                  s.stats().last_body.messages)
    end)

    it("gives up after retry_max rounds with the last errors", function()
      local g = assert(llm.Gateway(config({retry_max = 2}),
                                   {no_state = true}))
      local n = 0
      local text, errors = g:run_task_with_retry("t", user("q"),
        function(t)
          n = n + 1
          return {"err " .. n, 5}
        end)
      g:close()
      assert.equal(3, n)
      assert.equal(3, s.stats().requests)
      assert.equal("echo(m): Your previous output had the following "
        .. "issues:\n- err 2\n- 5\n\nPlease regenerate the full answer.",
        text)
      assert.same({"err 3", 5}, errors)
      assert.equal(5, #s.stats().last_body.messages)
    end)

    it("ends the request with code 'validator' when it raises", function()
      local text, err = gw:run_task_with_retry("t", user("q"), function()
        error("validator exploded")
      end)
      assert.is_nil(text)
      assert.equal("validator", err.code)
      assert.matches("validator exploded", err.message)
      assert.equal(llm.Error, getmetatable(err))
    end)

    it("returns nil, err when generation fails", function()
      local g = assert(llm.Gateway(config({retry_max = 0}),
                                   {no_state = true}))
      local text, err = g:run_task_with_retry("t",
        user("@sim status=400\nq"), nil)
      g:close()
      assert.is_nil(text)
      assert.equal("http", err.code)
    end)

    it("asks again after a transient failure, with a pause", function()
      local g = assert(llm.Gateway(config({retry_max = 1,
                                           transport_retries = 1}),
                                   {no_state = true}))
      local t0 = os.time()
      local text, errors = g:run_task_with_retry("t",
        user("@sim status=503 times=1 id=tr1\nq"), nil)
      g:close()
      assert.equal("echo(m): q", text)
      assert.same({}, errors)
      assert.equal(2, s.stats().requests)
      assert.is_true(os.time() - t0 >= 1)
    end)

    it("does not ask again after a rejected request", function()
      local text, err = gw:run_task_with_retry("t",
        user("@sim status=400\nq"), nil)
      assert.is_nil(text)
      assert.equal("http", err.code)
      assert.equal(1, s.stats().requests)
    end)

    -- A round without overrides makes no request table: what it sends
    -- and how it words a message's errors are those of gw:call.
    it("sends plain, long and rich lists as gw:call does", function()
      local many = {}
      for i = 1, 10 do
        many[i] = {role = i % 2 == 1 and "user" or "assistant",
                   content = "m" .. i}
      end
      local lists = {
        {{content = "q"}},
        many,
        {{role = "user", content = "q", name = "bob"}},
        {{role = "user", content = {{type = "text", text = "q"}}}},
        {setmetatable({}, {__index = {role = "user", content = "q"}})},
      }
      for _, list in ipairs(lists) do
        assert(gw:call({task = "t", messages = list}))
        local want = s.stats().last_body.messages
        local text, errors, u = gw:run_task_with_retry("t", list,
          function() end)
        assert.is_string(text)
        assert.same({}, errors)
        assert.same(want, s.stats().last_body.messages)
        assert.equal(1, u.rounds)
        assert.same(u.usage_total, {input_tokens = u.usage.input_tokens,
          output_tokens = u.usage.output_tokens,
          cached_tokens = u.usage.cached_tokens or 0,
          reasoning_tokens = u.usage.reasoning_tokens or 0})
      end
    end)

    it("words a message's errors as gw:call does", function()
      for _, list in ipairs({
        {{role = "user", content = "q", foo = 1}},
        {{role = "user", content = {{type = "text", text = 5}}}},
        {{role = "assistant", tool_calls = {}}},
      }) do
        local want = err_of(function()
          return gw:call({task = "t", messages = list})
        end)
        assert.matches("^bad argument #1 to 'call' %(.*messages%[1%]", want)
        assert.equal(want, err_of(function()
          return gw:run_task_with_retry("t", list, function() end)
        end))
      end
      assert.equal("bad argument #2 to 'run_task_with_retry' "
        .. "(messages[2].role: string expected, got number)",
        err_of(function()
          return gw:run_task_with_retry("t", {{content = "a"},
                                              {role = 5, content = "b"}})
        end))
    end)

    it("takes a callable table as its validator", function()
      local n = 0
      local v = setmetatable({}, {__call = function(_, t)
        n = n + 1
        if n == 1 then return {"again"} end
      end})
      local text, errors, u = gw:run_task_with_retry("t", user("q"), v)
      assert.equal("echo(m): " .. "Your previous output had the following "
        .. "issues:\n- again\n\nPlease regenerate the full answer.", text)
      assert.same({}, errors)
      assert.equal(2, u.rounds)
    end)

    it("checks its arguments", function()
      assert.equal("bad argument #3 to 'run_task_with_retry' (function "
        .. "expected, got number)", err_of(function()
          return gw:run_task_with_retry("t", user("q"), 5)
        end))
      assert.equal("bad argument #2 to 'run_task_with_retry' (table "
        .. "expected, got nil)", err_of(function()
          return gw:run_task_with_retry("t")
        end))
    end)

    -- A task waits for the first answer in the method's own small frame
    -- (the loop's frame comes after it): on Lua 5.4 its coroutine's stack
    -- stays at its first size, as for a task waiting in gw:call (the
    -- loop's frame live at the wait grew it by 640 bytes).
    it("waits for the first answer at the memory cost of gw:call (5.4)",
       function()
      if _VERSION ~= "Lua 5.4" or rawget(_G, "jit") then return end
      local msgs = user("@sim delay_ms=50\nq")
      local function per_task(f)
        local n, ts = 64, {}
        -- tasks holding the coroutines kept for reuse (finished tasks'),
        -- so that every task measured makes its own
        local done, holders = false, {}
        for i = 1, 40 do
          holders[i] = llm.spawn(function()
            while not done do llm.sleep(0.01) end
          end)
        end
        llm.sleep(0)
        collectgarbage()
        collectgarbage()
        local k0 = collectgarbage("count")
        for i = 1, n do ts[i] = llm.spawn(f, msgs) end
        llm.sleep(0)  -- every task started and waiting
        local k = (collectgarbage("count") - k0) * 1024 / n
        for i = 1, n do assert(ts[i]:wait()) end
        done = true
        for i = 1, #holders do holders[i]:wait() end
        return k
      end
      local call = per_task(function(m)
        return gw:call({task = "t", messages = m})
      end)
      local retry = per_task(function(m)
        return gw:run_task_with_retry("t", m, function() end)
      end)
      local json = per_task(function(m)
        return gw:run_json_task_with_retry("t", m, function() end)
      end)
      assert.is_true(retry < call + 256, ("%.0f vs %.0f"):format(retry, call))
      assert.is_true(json < call + 256, ("%.0f vs %.0f"):format(json, call))
    end)
  end)

  describe("JSON tasks", function()
    it("run_json_task parses the answer", function()
      local r = assert(gw:run_json_task("t",
        user('@sim reply=Here: {"a": [1, 2]} as asked')))
      assert.equal("t", r.task)
      assert.same({a = {1, 2}}, r.data)
      assert.same({}, r.errors)
    end)

    it("tells a JSON null from a parse failure", function()
      local r = assert(gw:run_json_task("t", user("@sim reply=null")))
      assert.equal(llm.null, r.data)
      assert.same({}, r.errors)
      r = assert(gw:run_json_task("t", user("@sim reply=not json")))
      assert.equal("not json", r.text)
      assert.is_nil(r.data)
      assert.equal(1, #r.errors)
      assert.matches("^JSON parse error", r.errors[1])
    end)

    it("feeds a parse failure back as a validation error", function()
      local g = assert(llm.Gateway(config({retry_max = 1}),
                                   {no_state = true}))
      local r = assert(g:run_json_task_with_retry("t",
        user("@sim times=1 id=j1 reply=oops\nq"), nil))
      g:close()
      assert.is_nil(r.data)
      assert.matches("^JSON parse error", r.errors[1])
      local msgs = s.stats().last_body.messages
      assert.equal(3, #msgs)
      assert.same({role = "assistant", content = "oops"}, msgs[2])
      assert.matches("^Your previous output had the following issues:\n"
        .. "%- JSON parse error", msgs[3].content)
      assert.matches("\n\nPlease regenerate the full JSON only%.$",
        msgs[3].content)
    end)

    it("passes the parsed data to the validator", function()
      local seen = {}
      local r = assert(gw:run_json_task_with_retry("t",
        user('@sim times=1 id=j2 reply={"n": 1}\nq'), function(text, data)
          seen[#seen + 1] = data.n
          if data.n ~= 2 then return {'answer {"n": 2}'} end
        end))
      assert.same({1, 2}, seen)
      assert.same({n = 2}, r.data)
      assert.same({}, r.errors)
      assert.equal("Your previous output had the following issues:\n"
        .. '- answer {"n": 2}\n\nPlease regenerate the full JSON only.',
        s.stats().last_body.messages[3].content)
    end)
  end)

  describe("batches", function()
    local function req(text) return {task = "t", messages = user(text)} end

    it("run_tasks returns results in order with per-item errors", function()
      local out = gw:run_tasks({req("a"), req("@sim status=400\nb"),
                                req("c")})
      assert.equal(3, #out)
      assert.equal("echo(m): a", out[1].text)
      assert.equal("http", out[2].error.code)
      assert.equal(llm.Error, getmetatable(out[2].error))
      assert.equal("echo(m): c", out[3].text)
      assert.same({}, gw:run_tasks({}))
    end)

    it("keeps input order whatever the completion order", function()
      local out = gw:run_tasks({req("@sim delay_ms=60\nc"),
                                req("@sim delay_ms=30\nb"), req("a")})
      assert.same({"echo(m): c", "echo(m): b", "echo(m): a"},
        {out[1].text, out[2].text, out[3].text})
    end)

    it("fail_fast cancels the rest", function()
      local t0 = os.time()
      local out = gw:run_tasks({req("@sim status=400\na"),
                                req("@sim fault=hang\nb"),
                                req("@sim fault=hang\nc")},
                               {fail_fast = true})
      assert.is_true(os.time() - t0 < 5)
      assert.equal("http", out[1].error.code)
      assert.equal("canceled", out[2].error.code)
      assert.equal("canceled", out[3].error.code)
    end)

    it("runs at most window items at once (4 x max_concurrent by default)",
       function()
      local g = assert(llm.Gateway(config(), {no_state = true,
                                              max_concurrent = 2}))
      local function peak_pending(run)
        local peak, done = 0, false
        local sampler = llm.spawn(function()
          while not done do
            if g:pending() > peak then peak = g:pending() end
            llm.sleep(0.002)
          end
        end)
        local out = run()
        done = true
        sampler:wait()
        return peak, out
      end
      local reqs = {}
      for i = 1, 20 do reqs[i] = req("@sim delay_ms=30\nq" .. i) end
      local peak, out = peak_pending(function() return g:run_tasks(reqs) end)
      assert.equal(8, peak)
      assert.equal(20, #out)
      for i = 1, 20 do assert.equal("echo(m): q" .. i, out[i].text) end
      peak = peak_pending(function()
        return g:run_tasks(reqs, {window = 3})
      end)
      assert.equal(3, peak)
      assert.equal(2, s.stats().peak_concurrent)
      g:close()
    end)

    it("keeps order and per-item errors with any window", function()
      local reqs = {req("@sim delay_ms=40\na"), req("@sim status=400\nb"),
                    req("@sim delay_ms=10\nc"), req("d"), req("e")}
      for _, w in ipairs({1, 2, 5, 100}) do
        local out = gw:run_tasks(reqs, {window = w})
        assert.same({"echo(m): a", "http", "echo(m): c", "echo(m): d",
                     "echo(m): e"},
          {out[1].text, out[2].error.code, out[3].text, out[4].text,
           out[5].text})
      end
      -- validators run inside the window too
      local peak, active = 0, 0
      local function v()
        active = active + 1
        if active > peak then peak = active end
        llm.sleep(0.02)
        active = active - 1
      end
      local out = gw:run_tasks_with_retry({req("a"), req("b"), req("c"),
                                           req("d"), req("e")},
                                          {v, v, v, v, v}, {window = 2})
      assert.same({"echo(m): a", "echo(m): b", "echo(m): c", "echo(m): d",
                   "echo(m): e"},
        {out[1].text, out[2].text, out[3].text, out[4].text, out[5].text})
      assert.equal(2, peak)
    end)

    it("fail_fast starts no item after the first failure", function()
      local out = gw:run_tasks({req("@sim status=400\na"), req("b"),
                                req("c")}, {fail_fast = true, window = 1})
      assert.equal(1, s.stats().requests)
      assert.equal("http", out[1].error.code)
      for i = 2, 3 do
        assert.equal(llm.Error, getmetatable(out[i].error))
        assert.same({code = "canceled", message = "the task was canceled",
                     status = 0, attempts = {}, providers_tried = 0},
                    out[i].error)
      end
      s.reset()
      out = gw:run_tasks({req("@sim delay_ms=20 status=400\na"),
                          req("@sim fault=hang\nb"), req("c"), req("d")},
                         {fail_fast = true, window = 2})
      assert.equal(2, s.stats().requests)
      assert.same({"http", "canceled", "canceled", "canceled"},
        {out[1].error.code, out[2].error.code, out[3].error.code,
         out[4].error.code})
    end)

    it("counts an item's deadline from its start", function()
      local reqs = {}
      for i = 1, 3 do
        reqs[i] = {task = "t", messages = user("@sim delay_ms=150\nq" .. i),
                   deadline = 0.4}
      end
      local out = gw:run_tasks(reqs, {window = 1})
      for i = 1, 3 do assert.equal("echo(m): q" .. i, out[i].text) end
    end)

    it("checks the window option", function()
      assert.equal("bad argument #2 to 'run_tasks' (window: integer >= 1 "
        .. "expected, got 0)", err_of(function()
          return gw:run_tasks({}, {window = 0})
        end))
      assert.equal("bad argument #3 to 'run_json_tasks_with_retry' (window: "
        .. "integer >= 1 expected, got 1.5)", err_of(function()
          return gw:run_json_tasks_with_retry({}, nil, {window = 1.5})
        end))
    end)

    it("run_tasks_with_retry pairs validators with requests", function()
      local out = gw:run_tasks_with_retry(
        {req("@sim times=1 id=b1 reply=bad\na"), req("b")},
        {function(t) if t == "bad" then return {"e1", "e2"} end end, false})
      local function text_errors(r) return {text = r.text, errors = r.errors} end
      assert.same({text = "echo(m): " .. FEEDBACK_TEXT, errors = {}},
        text_errors(out[1]))
      assert.same({text = "echo(m): b", errors = {}}, text_errors(out[2]))
      assert.equal(2, out[1].rounds)
    end)

    it("run_json_tasks_with_retry returns json results in order", function()
      local out = gw:run_json_tasks_with_retry(
        {req('@sim reply=[1]'), req("@sim status=400\nx"),
         req('@sim reply={"k": "v"}')})
      assert.same({task = "t", text = "[1]", data = {1}, errors = {}},
        {task = out[1].task, text = out[1].text, data = out[1].data,
         errors = out[1].errors})
      assert.equal("http", out[2].error.code)
      assert.same({k = "v"}, out[3].data)
    end)

    it("checks requests and validators before starting", function()
      assert.equal("bad argument #2 to 'run_tasks_with_retry' (validators "
        .. "length must match requests length)", err_of(function()
          return gw:run_tasks_with_retry({req("a")}, {print, print})
        end))
      assert.equal("bad argument #1 to 'run_tasks' (requests[2].task: "
        .. "string expected, got nil)", err_of(function()
          return gw:run_tasks({req("a"), {messages = {}}})
        end))
      assert.equal(0, s.stats().requests)
    end)
  end)

  describe("close", function()
    it("cancels waiting calls and refuses new ones", function()
      local g = assert(llm.Gateway(config(), {no_state = true}))
      local t = llm.spawn(function()
        return g:run_task("t", user("@sim fault=hang\nx"))
      end)
      llm.sleep(0.1)
      assert.equal(1, g:pending())
      g:close()
      local text, err = t:wait()
      assert.is_nil(text)
      assert.equal("canceled", err.code)
      assert.matches("%(closed%)$", tostring(g))
      text, err = g:run_task("t", user("x"))
      assert.is_nil(text)
      assert.equal("canceled", err.code)
      g:close()
    end)

    -- <close> is Lua 5.4 syntax: compiled only there.
    local close_test = _VERSION == "Lua 5.4" and load([[
      local llm, config, user, assert = ...
      local g
      do
        local c <close> = assert(llm.Gateway(config(), {no_state = true}))
        g = c
        assert.equal("echo(m): x", c:run_task("t", user("x")))
      end
      assert.matches("%(closed%)$", tostring(g))
    ]])
    if close_test then
      it("works as a to-be-closed variable", function()
        close_test(llm, config, user, assert)
      end)
    else
      pending("works as a to-be-closed variable (<close> is Lua 5.4 "
        .. "syntax; " .. (jit and jit.version or _VERSION) .. " has none)")
    end
  end)
end)
