-- Specs for misuse: every public function of the module and every Gateway
-- method called with every wrong argument type in every position raises a
-- Lua error naming the position and the expected type (the process goes
-- on, and a real call works afterwards); configuration files that are
-- malformed, have wrong types, unknown keys, missing environment
-- variables, or are not readable files give clear errors with file:line.
package.path = "./tests/lua/?.lua;" .. package.path
local llm = require("llmgateway")
local core = require("llmgateway.core")
local sim = require("support.sim")
local spec = require("support.spec")

local user = spec.user

local function tmpfile(text) return spec.tmpfile("", text) end

-- The wrong values tried in every position (named for the report).
local WRONG = {
  {"nil", nil},
  {"boolean", true},
  {"number", 42},
  {"string", "x"},
  {"table", {}},
  {"function", function() end},
  {"thread", coroutine.create(function() end)},
  {"userdata", io.stdout},
  {"llm.null", llm.null},
}

local function kind(v)
  if v == llm.null then return "llm.null" end
  local mt = getmetatable(v)
  if type(v) == "userdata" and type(mt) == "table"
      and mt.__name == "llmgateway.Runtime" then
    return "Runtime"
  end
  if type(v) == "userdata" and type(mt) == "table"
      and mt.__name == "llmgateway.Gateway" then
    return "Gateway"
  end
  return type(v)
end

-- Signatures: one entry per argument, {accepted kinds, valid sample,
-- optional}. A number is accepted wherever a string is (Lua's own
-- convention, luaL_checkstring), so it is not tried there.
local S = {"string", "number"}
local T = {"table"}
local F = {"function"}

local function signatures(rt, tmp, gw)
  local fn = function() end
  return {
    load_user_config = {{S, tmp .. "/none.yaml", true}},
    write_user_config = {{T, {}}, {S, tmp .. "/w.yaml", true}},
    user_config_dir = {},
    resolve_user_config_file = {{S, "x", true}},
    resolve_provider_state_file = {{S, "x", true}},
    load_provider_state = {{S, tmp .. "/none.json", true}},
    write_provider_state = {{T, {}}, {S, tmp .. "/s.json", true}},
    update_provider_state = {{T, {}}, {S, tmp .. "/s.json", true}},
    provider_key = {{T, {provider_type = "openai"}}},
    config_key = {{{"table", "Runtime"}, {}}},
    parse_json = {{S, "{}"}},
    encode_json = {{{"string", "number", "boolean", "table", "function",
                     "thread", "userdata", "llm.null"}, {}}},
    queue = {{S, "redis://127.0.0.1:1/0"}, {S, "q"}, {T, {}, true}},
    set_log = {{F, fn, true}, {S, "warning", true}},
    Gateway = {{{"table", "Runtime"}, rt}, {T, {no_state = true}, true}},
    load_runtime_spec = {{S, tmp .. "/none.yaml"}},
    runtime_spec_from_dict = {{T, {}}},
    dump_runtime_spec = {{{"Runtime"}, rt}, {T, {}, true}},
    spawn = {{F, fn}},
    sleep = {{{"number"}, 0}},
    set_start_limit = {{{"number"}, 256}},
    run = {{F, fn}},
    gather = {{{"Task", "table"}, nil}},
    fd = {},
    timeout = {},
    step = {},
    Session = {{{"Gateway"}, gw}, {T, {}, true}},
  }
end

local METHODS = {
  call = {{T, {task = "t", messages = user("hi")}}},
  call_async = {{T, {task = "t", messages = user("hi")}}, {F, function() end}},
  run_task = {{S, "t"}, {T, user("hi")}, {T, {}, true}},
  run_task_with_retry = {{S, "t"}, {T, user("hi")}, {F, nil, true},
                         {T, {}, true}},
  run_json_task = {{S, "t"}, {T, user("hi")}, {T, {}, true}},
  run_json_task_with_retry = {{S, "t"}, {T, user("hi")}, {F, nil, true},
                              {T, {}, true}},
  run_tasks = {{T, {}}, {T, {}, true}},
  run_tools = {{T, {task = "t", messages = user("hi")}}, {T, {}},
               {T, {}, true}},
  embed = {{{"string", "number", "table"}, "hi"}, {T, {}, true}},
  run_tasks_with_retry = {{T, {}}, {T, {}, true}, {T, {}, true}},
  run_json_tasks_with_retry = {{T, {}}, {T, {}, true}, {T, {}, true}},
  stream = {{S, "t"}, {T, user("hi")}, {F, function() end}, {T, {}, true}},
  totals = {},
  breaker_state = {{{"number"}, 1}},
  close = {},
  pending = {},
}

local function accepted(arg, v)
  local k = kind(v)
  if v == nil and arg[3] then return true end
  for _, a in ipairs(arg[1]) do
    if a == k then return true end
  end
  return false
end

-- Calls f(args) with args[i] replaced by each wrong value; returns the
-- list of failures (empty when every call raised the right error).
local function sweep(label, fname, sig, call)
  local failures, tried = {}, 0
  for i, arg in ipairs(sig) do
    for _, w in ipairs(WRONG) do
      local name, v = w[1], w[2]
      if not accepted(arg, v) then
        local args = {n = #sig}
        for j, a in ipairs(sig) do args[j] = a[2] end
        args[i] = v
        tried = tried + 1
        local ok, e = pcall(call, (table.unpack or unpack)(args, 1, args.n))
        local msg = tostring(e)
        local want = ("bad argument #%d to '%s' ("):format(i, fname)
        if ok then
          failures[#failures + 1] = ("%s arg #%d = %s: no error"):format(
            label, i, name)
        elseif not msg:find(want, 1, true) or not msg:find("expected")
            or not msg:find('^%[string "') then
          failures[#failures + 1] = ("%s arg #%d = %s: %s"):format(
            label, i, name, msg)
        end
      end
    end
  end
  return failures, tried
end

describe("wrong argument types", function()
  local s, rt, gw, tmp

  lazy_setup(function()
    s = sim.start()
    tmp = os.tmpname()
    os.remove(tmp)
    assert(os.execute("mkdir -p " .. tmp))
    rt = assert(llm.runtime_spec_from_dict({
      providers = {{provider_type = "openai", api_style = "openai_chat",
                    base_url = s.base, api_key = "sk-bad-input"}},
      settings = {fallback_model = "m"},
    }))
    gw = assert(llm.Gateway(rt, {no_state = true}))
  end)
  lazy_teardown(function()
    gw:close()
    s.stop()
    os.execute("rm -rf " .. tmp)
  end)

  it("every module function raises 'bad argument #N to NAME (... "
     .. "expected ...)'", function()
    local sigs = signatures(rt, tmp, gw)
    local all, total = {}, 0
    local names = {}
    for name, v in pairs(llm) do
      -- llm.pcall is Lua's pcall (on 5.1 one in which a task may wait)
      if type(v) == "function" and name ~= "pcall" then
        names[#names + 1] = name
      end
    end
    table.sort(names)
    for _, name in ipairs(names) do
      local sig = sigs[name]
      assert.is_not_nil(sig, "no signature for llm." .. name)
      -- llm.NAME(...) written out, so that the error names the function.
      local call = assert((loadstring or load)("local llm = ...; return function(...) "
        .. "local r = llm." .. name .. "(...) return r end"))(llm)
      local failures, tried = sweep("llm." .. name, name, sig, call)
      total = total + tried
      for _, f in ipairs(failures) do all[#all + 1] = f end
    end
    llm.set_log(nil)
    assert.same({}, all)
    assert.is_true(total > 80)
  end)

  it("every Gateway method raises the same way, self included", function()
    local all = {}
    local mt = getmetatable(gw).__index
    local names = {}
    for name in pairs(core._gateway_methods) do names[#names + 1] = name end
    table.sort(names)
    for _, name in ipairs(names) do
      local sig = METHODS[name]
      assert.is_not_nil(sig, "no signature for gw:" .. name)
      assert.equal("function", type(gw[name]), name)
      local call = assert((loadstring or load)("local gw = ...; return function(...) "
        .. "local r = gw:" .. name .. "(...) return r end"))(gw)
      local failures = sweep("gw:" .. name, name, sig, call)
      for _, f in ipairs(failures) do all[#all + 1] = f end
      -- a wrong self
      local plain = assert((loadstring or load)("local gw = ...; return function(self) "
        .. "return gw." .. name .. "(self) end"))(gw)
      for _, w in ipairs(WRONG) do
        local ok, e = pcall(plain, w[2])
        local msg = tostring(e)
        if ok or not msg:find(("bad argument #1 to '%s' (llmgateway.Gateway "
            .. "expected"):format(name), 1, true) then
          all[#all + 1] = ("gw.%s(self = %s): %s"):format(name, w[1], msg)
        end
      end
    end
    assert.is_not_nil(mt)
    assert.same({}, all)
  end)

  it("every helper function (validators, prompt, pipeline) raises the "
     .. "same way", function()
    local fn = function() end
    local ANY = {"string", "number", "boolean", "table", "function",
                 "thread", "userdata", "llm.null"}
    local helpers = {
      validators = {
        json_object = {{T, {}, true}}, schema = {{T, {}}},
        length = {{T, {min = 1}}}, non_empty = {}, pattern = {{S, "x"}},
        all_of = {{F, fn}}, any_of = {{F, fn}}, hint = {{F, fn}, {S, "t"}},
      },
      prompt = {
        system = {{S, "x"}}, user = {{S, "x"}}, assistant = {{S, "x"}},
        messages = {{{"string", "table"}, "x", true}},
        template = {{S, "x"}}, render = {{S, "x"}, {T, {}, true}},
        few_shot = {{T, {}}, {T, {}, true}}, chat = {{S, "s", true}, {S, "u"}},
      },
      pipeline = {
        map = {{T, {}}, {F, fn}, {T, {}, true}},
        fan_out = {{ANY, 1, true}, {T, {}}, {T, {}, true}},
        chain = {{F, fn}}, collect = {{T, {}}}, compact = {{T, {}}},
      },
    }
    local all, total = {}, 0
    for mname, sigs in pairs(helpers) do
      local names = {}
      for name, v in pairs(llm[mname]) do
        -- validators.problems reads any value a validator returns
        if type(v) == "function" and name ~= "problems" then
          names[#names + 1] = name
        end
      end
      table.sort(names)
      for _, name in ipairs(names) do
        local sig = sigs[name]
        assert.is_not_nil(sig, "no signature for llm." .. mname .. "." .. name)
        local call = assert((loadstring or load)("local m = ...; return "
          .. "function(...) local r = m." .. name .. "(...) return r end"))(
          llm[mname])
        local failures, tried = sweep(mname .. "." .. name, name, sig, call)
        total = total + tried
        for _, f in ipairs(failures) do all[#all + 1] = f end
      end
    end
    assert.same({}, all)
    assert.is_true(total > 100)
  end)

  it("left the module usable: a real call to the simulator succeeds",
     function()
    assert.equal("echo(m): still here", gw:run_task("t", user("still here")))
    local st = core._stats()
    assert.equal(0, st.tasks)
    assert.equal(0, st.calls)
  end)
end)

describe("bad configuration files", function()
  local lines

  local function load_yaml(text)
    local p = tmpfile(text)
    local rt, err = llm.load_runtime_spec(p)
    os.remove(p)
    return rt, err, p
  end

  before_each(function()
    lines = {}
    llm.set_log(function(level, msg)
      lines[#lines + 1] = level .. ": " .. msg
    end)
  end)
  after_each(function() llm.set_log(nil) end)

  it("malformed YAML: a config error with file:line:col", function()
    local rt, err, p = load_yaml("providers:\n  - [unclosed\n")
    assert.is_nil(rt)
    assert.equal("config", err.code)
    assert.truthy(err.message:find(p .. ":%d+:%d+"), err.message)
    local t, uerr = llm.load_user_config(tmpfile("a: [\n"))
    assert.is_nil(t)
    assert.equal("config", uerr.code)
  end)

  -- One case per field: the key path, what was expected and file:line.
  local FIELDS = {
    {"providers", "providers: 5\n", "expected a list or mapping"},
    {"provider", "provider: [1]\n", "expected a mapping"},
    {"providers[1].provider_type",
     "providers:\n  - provider_type: [1]\n", "expected a string", 2},
    {"providers[1].api_style", "providers:\n  - api_style: {a: 1}\n",
     "expected a string", 2},
    {"providers[1].base_url", "providers:\n  - base_url: [1]\n",
     "expected a string", 2},
    {"providers[1].api_key", "providers:\n  - api_key: [1]\n",
     "expected a string", 2},
    {"providers[1].headers", "providers:\n  - headers: [1]\n",
     "expected a mapping", 2},
    {"providers[1].model_map", "providers:\n  - model_map: 5\n",
     "expected a mapping", 2},
    {"providers[1].rpm", "providers:\n  - rpm: abc\n",
     "expected an integer", 2},
    {"providers[1].tpm", "providers:\n  - tpm: [1]\n",
     "expected an integer", 2},
    {"settings", "settings: 5\n", "expected a mapping"},
    {"settings.fallback_model", "settings:\n  fallback_model: [a]\n",
     "expected a string", 2},
    {"settings.strong_model", "settings:\n  strong_model: {a: 1}\n",
     "expected a string", 2},
    {"settings.weak_model", "settings:\n  weak_model: [a]\n",
     "expected a string", 2},
    {"settings.strong_reasoning_effort",
     "settings:\n  strong_reasoning_effort: [a]\n", "expected a string", 2},
    {"settings.weak_reasoning_effort",
     "settings:\n  weak_reasoning_effort: [a]\n", "expected a string", 2},
    {"settings.max_concurrent", "settings:\n  max_concurrent: many\n",
     "expected an integer", 2},
    {"settings.retry_max", "settings:\n  retry_max: [1]\n",
     "expected an integer", 2},
    {"settings.timeout", "settings:\n  timeout: abc\n", "expected a number",
     2},
    {"settings.transport_retries", "settings:\n  transport_retries: x\n",
     "expected an integer", 2},
    {"settings.connect_timeout", "settings:\n  connect_timeout: x\n",
     "expected a number", 2},
    {"settings.deadline", "settings:\n  deadline: soon\n",
     "expected a number", 2},
    {"settings.backoff_base", "settings:\n  backoff_base: x\n",
     "expected a number", 2},
    {"settings.backoff_max", "settings:\n  backoff_max: x\n",
     "expected a number", 2},
    {"settings.retry_after_max", "settings:\n  retry_after_max: x\n",
     "expected a number", 2},
    {"settings.max_response_bytes", "settings:\n  max_response_bytes: x\n",
     "expected an integer", 2},
    {"settings.prices", "settings:\n  prices: [1]\n", "expected a mapping",
     2},
    {"tasks", "tasks: [1]\n", "expected a mapping"},
    {"tasks.t", "tasks:\n  t: 5\n", nil},
    {"tasks.t.model", "tasks:\n  t:\n    model: [1]\n", "expected a string",
     3},
    {"tasks.t.tier", "tasks:\n  t:\n    tier: {a: 1}\n", "expected a string",
     3},
    {"tasks.t.temperature", "tasks:\n  t:\n    temperature: hot\n",
     "expected a number", 3},
    {"tasks.t.reasoning_effort", "tasks:\n  t:\n    reasoning_effort: [1]\n",
     "expected a string", 3},
    {"tasks.t.max_tokens", "tasks:\n  t:\n    max_tokens: abc\n",
     "expected an integer", 3},
  }

  for _, case in ipairs(FIELDS) do
    local path, yaml, expected, line = case[1], case[2], case[3], case[4]
    it("a wrong type in " .. path, function()
      local p = tmpfile(yaml)
      local rt, err = llm.load_runtime_spec(p)
      os.remove(p)
      if expected == nil then
        -- Python-compatible: ignored with a warning naming the key.
        assert.is_not_nil(rt)
        assert.truthy(table.concat(lines, "\n"):find(path, 1, true))
        return
      end
      assert.is_nil(rt, path)
      assert.equal("config", err.code)
      assert.truthy(err.message:find(path, 1, true), err.message)
      assert.truthy(err.message:find(expected, 1, true), err.message)
      assert.truthy(err.message:find(p .. ":" .. (line or 1) .. ":", 1,
                                     true), err.message)
    end)
  end

  it("unknown keys: a warning naming the key and file:line", function()
    local p = tmpfile("settings:\n  fallback_model: m\n  bogus_key: 1\n"
      .. "providers:\n  - provider_type: openai\n    colour: red\n")
    local rt = llm.load_runtime_spec(p)
    os.remove(p)
    assert.is_not_nil(rt)
    local all = table.concat(lines, "\n")
    assert.truthy(all:find("warning: settings.bogus_key: unknown key",
                           1, true), all)
    assert.truthy(all:find(p .. ":3:", 1, true), all)
    assert.truthy(all:find("providers[1].colour: unknown key", 1, true), all)
    assert.truthy(all:find(p .. ":6:", 1, true), all)
  end)

  it("set_log filters by level and set_log(nil) restores stderr", function()
    local got = {}
    llm.set_log(function(level, msg) got[#got + 1] = level .. msg end,
                "error")
    local p = tmpfile("settings:\n  bogus_key: 1\n")
    assert.is_not_nil(llm.load_runtime_spec(p))
    os.remove(p)
    assert.same({}, got)
    assert.has_error(function() llm.set_log(print, "loud") end)
    llm.set_log(nil)
  end)

  it("missing environment variables: the provider says what is missing",
     function()
    local p = tmpfile("providers:\n  - provider_type: openai\n"
      .. "    base_url: ${LLMGATEWAY_SPEC_UNSET_URL}\n"
      .. "    api_key: env:LLMGATEWAY_SPEC_UNSET_KEY\n"
      .. "settings:\n  fallback_model: m\n")
    local rt = assert(llm.load_runtime_spec(p))
    os.remove(p)
    local g = assert(llm.Gateway(rt, {no_state = true}))
    local text, err = g:run_task("t", user("hi"))
    g:close()
    assert.is_nil(text)
    assert.truthy(tostring(err):find("base_url is not configured", 1, true),
                  tostring(err))
  end)

  it("a config path that is a directory", function()
    local dir = os.tmpname()
    os.remove(dir)
    assert(os.execute("mkdir " .. dir))
    local rt, err = llm.load_runtime_spec(dir)
    local t, uerr = llm.load_user_config(dir)
    os.execute("rmdir " .. dir)
    assert.is_nil(rt)
    assert.truthy(err.message:find(dir, 1, true), err.message)
    assert.truthy(err.message:find("directory", 1, true), err.message)
    assert.is_nil(t)
    assert.truthy(uerr.message:find("directory", 1, true), uerr.message)
  end)

  it("an unreadable file", function()
    local f = io.popen("id -u")
    local uid = f:read("*l")
    f:close()
    if uid == "0" then
      pending("running as root: every file is readable")
      return
    end
    local p = tmpfile("settings: {}\n")
    os.execute("chmod 000 " .. p)
    local rt, err = llm.load_runtime_spec(p)
    os.remove(p)
    assert.is_nil(rt)
    assert.truthy(err.message:find(p, 1, true), err.message)
    assert.truthy(err.message:find("ermission denied", 1, true), err.message)
  end)
end)
