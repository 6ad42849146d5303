-- Specs for the module surface: _VERSION, null, Error, the lazy helper
-- modules, configuration files and paths, provider state and keys,
-- runtimes, parse_json, and argument errors.
package.path = "./tests/lua/?.lua;" .. package.path
local llm = require("llmgateway")
local spec = require("support.spec")

local err_of, read, write = spec.err_of, spec.read, spec.write

local function mode(path)
  local p = io.popen("stat -c %a '" .. path .. "'")
  local m = p:read("*l")
  p:close()
  return m
end

-- Runs a Lua snippet in a fresh lua5.4 with env settings; returns stdout.
local function lua_with_env(env, code)
  local cmd = "env " .. env .. " " .. (os.getenv("LLMGATEWAY_LUA") or "lua5.4") .. " -e \"package.path='./lua/?.lua;"
    .. "./lua/?/init.lua;'..package.path; package.cpath='" .. (os.getenv("LLMGATEWAY_CPATH") or "./build") .. "/?.so;'"
    .. "..package.cpath\" -e '" .. code .. "'"
  local p = io.popen(cmd)
  local out = p:read("*a")
  p:close()
  return out
end

local tmp

local tmpdir = spec.tmpdir

describe("llmgateway module", function()
  lazy_setup(function() tmp = tmpdir() end)
  lazy_teardown(function() os.execute("rm -rf '" .. tmp .. "'") end)

  it("has a version, a null sentinel and no globals", function()
    assert.equal("llmgateway 0.3.0", llm._VERSION)
    assert.equal("userdata", type(llm.null))
    assert.equal(llm.null, require("llmgateway.core").null)
    assert.is_nil(rawget(_G, "llmgateway"))
    assert.is_nil(rawget(_G, "llm"))
  end)

  it("Error tables print as [llmgateway:<code>] <message>", function()
    local e = setmetatable({code = "timeout", message = "too slow"},
                           llm.Error)
    assert.equal("[llmgateway:timeout] too slow", tostring(e))
  end)

  it("loads the pure-Lua helpers when first used", function()
    assert.equal(require("llmgateway.validators"), llm.validators)
    assert.equal(require("llmgateway.prompt"), llm.prompt)
    assert.equal(require("llmgateway.pipeline"), llm.pipeline)
    assert.is_nil(llm.no_such_field)
  end)

  describe("parse_json", function()
    it("parses plain, fenced and embedded JSON", function()
      assert.same({a = 1}, llm.parse_json('{"a":1}'))
      assert.same({1, 2}, llm.parse_json("```json\n[1,2]\n```"))
      assert.same({a = {b = true}},
        llm.parse_json('Here it is: {"a": {"b": true}} -- done'))
      assert.equal(42, llm.parse_json("42"))
      assert.equal("integer", require("llmgateway.compat").math_type(llm.parse_json("42")))
      assert.equal(1.5, llm.parse_json("1.5"))
      assert.equal("s", llm.parse_json('"s"'))
    end)

    it("keeps whole numbers exact up to 2^53 on every Lua", function()
      local math_type = require("llmgateway.compat").math_type
      local id = llm.parse_json("9007199254740991")
      assert.equal(2 ^ 53 - 1, id)
      assert.equal("integer", math_type(id))
      assert.equal("9007199254740991", llm.encode_json(id))
      assert.equal('{"id":123456789012345,"n":-42}',
        llm.encode_json(llm.parse_json('{"id": 123456789012345, "n": -42}')))
      assert.equal("float", math_type(llm.parse_json("0.5")))
    end)

    it("returns llm.null for a JSON null", function()
      assert.equal(llm.null, llm.parse_json("null"))
      assert.same({1, llm.null, 3}, llm.parse_json("[1, null, 3]"))
    end)

    it("returns nil and a json error on failure", function()
      local v, err = llm.parse_json("no json here")
      assert.is_nil(v)
      assert.equal("json", err.code)
      assert.matches("^JSON parse error", err.message)
      assert.equal(llm.Error, getmetatable(err))
    end)

    it("wants a string", function()
      assert.equal("bad argument #1 to 'parse_json' (string expected, got "
        .. "no value)", err_of(function() return llm.parse_json() end))
    end)
  end)

  describe("paths", function()
    it("resolves explicit paths", function()
      assert.equal(tmp .. "/c.yaml",
        llm.resolve_user_config_file(tmp .. "/c.yaml"))
      assert.equal(tmp .. "/s.json",
        llm.resolve_provider_state_file(tmp .. "/s.json"))
    end)

    it("follows the environment overrides", function()
      assert.equal(tmp .. "/cfg\n" .. tmp .. "/cfg/config.yaml\n" .. tmp
        .. "/cfg/provider-state.json\n" .. tmp .. "/other.yaml\n",
        lua_with_env("LLMGATEWAY_USER_CONFIG_DIR=" .. tmp .. "/cfg "
          .. "LLMGATEWAY_CONFIG= LLMGATEWAY_PROVIDER_STATE=",
          'local llm = require("llmgateway") '
          .. 'print(llm.user_config_dir()) '
          .. 'print(llm.resolve_user_config_file()) '
          .. 'print(llm.resolve_provider_state_file()) '
          .. 'print(llm.resolve_user_config_file("' .. tmp
          .. '/other.yaml"))'))
      assert.equal(tmp .. "/x.yaml\n", lua_with_env(
        "LLMGATEWAY_CONFIG=" .. tmp .. "/x.yaml",
        'print(require("llmgateway").resolve_user_config_file())'))
    end)

    it("checks argument types", function()
      assert.equal("bad argument #1 to 'resolve_user_config_file' (string "
        .. "expected, got table)", err_of(function()
          return llm.resolve_user_config_file({})
        end))
    end)
  end)

  describe("user config", function()
    it("is {} when the file does not exist or is empty", function()
      assert.same({}, llm.load_user_config(tmp .. "/missing.yaml"))
      write(tmp .. "/empty.yaml", "")
      assert.same({}, llm.load_user_config(tmp .. "/empty.yaml"))
    end)

    it("resolves environment references", function()
      write(tmp .. "/env.yaml", "providers:\n- api_key: ${HOME}\n"
        .. "  base_url: ' ${LGW_SPEC_UNSET_VAR:-https://dflt} '\n"
        .. "  headers: {x: env:HOME}\nsettings:\n  fallback_model: m\n"
        .. "  timeout: 5\ntasks:\n  analysis:\n")
      local c = llm.load_user_config(tmp .. "/env.yaml")
      assert.same({
        providers = {{api_key = os.getenv("HOME"),
                      base_url = "https://dflt",
                      headers = {x = os.getenv("HOME")}}},
        settings = {fallback_model = "m", timeout = 5},
        tasks = {analysis = llm.null},
      }, c)
      assert.is_truthy(llm.runtime_spec_from_dict(c))
    end)

    it("is nil, err for malformed YAML, a directory or a list", function()
      write(tmp .. "/bad.yaml", "a: [1,\n")
      local c, err = llm.load_user_config(tmp .. "/bad.yaml")
      assert.is_nil(c)
      assert.equal("config", err.code)
      assert.matches("bad%.yaml:2:1", err.message)
      c, err = llm.load_user_config(tmp)
      assert.is_nil(c)
      assert.equal("io", err.code)
      write(tmp .. "/list.yaml", "- 1\n")
      c, err = llm.load_user_config(tmp .. "/list.yaml")
      assert.is_nil(c)
      assert.equal("Invalid llmgateway config: " .. tmp .. "/list.yaml "
        .. "(the top level must be a mapping, not a list)", err.message)
    end)

    it("writes sorted YAML atomically with mode 0600", function()
      local path = tmp .. "/new/dir/config.yaml"
      assert.equal(path, llm.write_user_config(
        {b = 1, a = {x = "é ${X}"}, l = {1, "two"}, n = llm.null}, path))
      assert.equal("a:\n  x: é ${X}\nb: 1\nl:\n- 1\n- two\nn: null\n",
        read(path))
      assert.equal("600", mode(path))
      assert.same({b = 1, a = {x = "é ${X}"}, l = {1, "two"},
                   n = llm.null}, llm.load_user_config(path))
    end)

    it("refuses values YAML cannot hold", function()
      local p, err = llm.write_user_config({a = {f = print}},
                                           tmp .. "/f.yaml")
      assert.is_nil(p)
      assert.equal("config", err.code)
      assert.equal("a.f: unsupported value of type function", err.message)
      assert.equal("bad argument #1 to 'write_user_config' (table expected, "
        .. "got string)", err_of(function()
          return llm.write_user_config("x")
        end))
    end)
  end)

  describe("provider state", function()
    it("is {} when missing, and round-trips", function()
      local path = tmp .. "/state/provider-state.json"
      assert.same({}, llm.load_provider_state(path))
      assert.equal(path, llm.write_provider_state(
        {k = "v", [" "] = "x", e = " ", n = 5}, path))
      assert.equal('{\n  "preferred_by_config": {\n    "k": "v",\n'
        .. '    "n": "5"\n  }\n}\n', read(path))
      assert.equal("600", mode(path))
      assert.same({k = "v", n = "5"}, llm.load_provider_state(path))
    end)

    it("ignores a broken file", function()
      write(tmp .. "/broken.json", "{not json")
      assert.same({}, llm.load_provider_state(tmp .. "/broken.json"))
    end)

    it("checks the mapping", function()
      assert.equal("bad argument #1 to 'write_provider_state' (keys and "
        .. "values must be strings)", err_of(function()
          return llm.write_provider_state({k = {}}, tmp .. "/x.json")
        end))
    end)
  end)

  describe("keys", function()
    local p1 = {provider_type = "glm", api_style = "openai_responses",
                base_url = "https://primary.example",
                api_key = "primary-secret"}
    local p2 = {provider_type = "openai", api_style = "responses",
                base_url = "https://secondary.example",
                api_key = "secondary-secret"}

    it("match the Python library bit for bit", function()
      assert.equal("7abb51cbbde36d7fa6c9702352c41888"
        .. "cb6256228c824133a53aef25f665c21c", llm.provider_key(p1))
      assert.equal("ae1eb675f9efd559d0e0dd72d2ea9466"
        .. "b940938a099bfbac08fe0ac26de3d447", llm.provider_key(p2))
      assert.equal("d6b49f1deeab999d6e26d021b1fef8c4"
        .. "f9059d3f8fc449b71b6479c3e83f0c62", llm.config_key({p1, p2}))
      local p3 = {provider_type = "openai", api_style = "responses",
                  base_url = "https://api.example/v1", api_key = "kë😀",
                  headers = {b = "2", a = "1\t/\""}, model_map = {x = "y"}}
      assert.equal("5ac56f768d8b0a200edba241997bdcf1"
        .. "fc651b417bfce6a13618f9ed2db3c40b", llm.provider_key(p3))
      assert.equal("eee3f155f5dcf7dd0be657c5bcad2dbe"
        .. "a31255f4bd2dd08b748f5bcb1315e59b", llm.config_key({p3}))
    end)

    it("config_key accepts a runtime", function()
      local rt = assert(llm.runtime_spec_from_dict({providers = {p1, p2}}))
      assert.equal(llm.config_key({p1, p2}), llm.config_key(rt))
      assert.equal(rt.config_key, llm.config_key(rt))
    end)

    it("check their arguments", function()
      assert.equal("bad argument #1 to 'provider_key' (table expected, got "
        .. "number)", err_of(function() return llm.provider_key(5) end))
      assert.equal("bad argument #1 to 'config_key' (table or "
        .. "llmgateway.Runtime expected, got string)",
        err_of(function() return llm.config_key("x") end))
      local k, err = llm.provider_key({api_style = "bogus"})
      assert.is_nil(k)
      assert.equal("config", err.code)
    end)
  end)

  describe("runtimes", function()
    local cfg = {
      providers = {{provider_type = "openai", api_style = "openai_chat",
                    base_url = "http://127.0.0.1:9", api_key = "${HOME}"}},
      settings = {fallback_model = "m", retry_max = 1},
      tasks = {summary = {model = "s", max_tokens = 99}},
    }

    it("runtime_spec_from_dict validates and resolves env refs", function()
      local rt = assert(llm.runtime_spec_from_dict(cfg))
      assert.matches("^llmgateway%.Runtime: 0x%x+ %(1 providers%)$",
        tostring(rt))
      assert.equal(1, rt.provider_count)
      assert.equal(12, rt.max_concurrent)
      assert.equal(1, rt.retry_max)
      assert.equal("m", rt.fallback_model)
      local d = llm.dump_runtime_spec(rt)
      assert.equal(1, d.version)
      assert.equal("<redacted>", d.provider.api_key)
      assert.equal(99, d.tasks.summary.max_tokens)
      assert.equal(os.getenv("HOME"),
        llm.dump_runtime_spec(rt, {with_keys = true}).provider.api_key)
    end)

    it("returns nil, err naming the key", function()
      local rt, err = llm.runtime_spec_from_dict(
        {providers = {{api_style = "bogus"}}})
      assert.is_nil(rt)
      assert.equal("config", err.code)
      assert.matches("api_style", err.message)
      rt, err = llm.runtime_spec_from_dict({settings = {timeout = print}})
      assert.is_nil(rt)
      assert.equal("settings.timeout: unsupported value of type function",
        err.message)
    end)

    it("load_runtime_spec reads a YAML file", function()
      write(tmp .. "/rt.yaml", "providers:\n- provider_type: openai\n"
        .. "  api_style: openai_chat\n  base_url: https://x\n"
        .. "settings:\n  max_concurrent: 3\n")
      local rt = assert(llm.load_runtime_spec(tmp .. "/rt.yaml"))
      assert.equal(3, rt.max_concurrent)
      local missing, err = llm.load_runtime_spec(tmp .. "/none.yaml")
      assert.is_nil(missing)
      assert.equal("io", err.code)
    end)

    it("check their arguments", function()
      assert.equal("bad argument #1 to 'load_runtime_spec' (string "
        .. "expected, got no value)",
        err_of(function() return llm.load_runtime_spec() end))
      assert.equal("bad argument #1 to 'runtime_spec_from_dict' (table "
        .. "expected, got string)",
        err_of(function() return llm.runtime_spec_from_dict("x") end))
      assert.equal("bad argument #1 to 'dump_runtime_spec' "
        .. "(llmgateway.Runtime expected, got table)",
        err_of(function() return llm.dump_runtime_spec({}) end))
    end)
  end)
end)
