-- Specs for the one-pass JSON decoder behind parse_json (a text that is
-- exactly one standard JSON value is decoded straight into Lua tables; any
-- other text takes the general path through the C core's parser): both
-- paths give the same values, and the collector, stopped while a large
-- answer is built, runs again afterwards unless the script had stopped it.
package.path = "./tests/lua/?.lua;" .. package.path
local llm = require("llmgateway")
local math_type = require("llmgateway.compat").math_type

-- A form feed is whitespace to the extractor (Python's str.strip) but not
-- to JSON, so "\f" .. text always takes the general path.
local function general(text) return llm.parse_json("\f" .. text) end

-- Equal values, types (integer or float), llm.null and array metatables.
local function same(a, b, path)
  path = path or "value"
  if type(a) ~= type(b) then
    return false, path .. ": " .. type(a) .. " vs " .. type(b)
  end
  if type(a) == "number" then
    if math_type(a) ~= math_type(b) then
      return false, path .. ": " .. tostring(math_type(a)) .. " vs "
        .. tostring(math_type(b))
    end
    if a ~= b and not (a ~= a and b ~= b) then
      return false, path .. ": " .. tostring(a) .. " vs " .. tostring(b)
    end
    if a == 0 and 1 / a ~= 1 / b then return false, path .. ": -0" end
    return true
  end
  if type(a) ~= "table" then
    if a ~= b then return false, path .. ": " .. tostring(a) .. " vs " .. tostring(b) end
    return true
  end
  if getmetatable(a) ~= getmetatable(b) then return false, path .. ": metatable" end
  for k, v in pairs(a) do
    local ok, why = same(v, b[k], path .. "." .. tostring(k))
    if not ok then return false, why end
  end
  for k in pairs(b) do
    if a[k] == nil then return false, path .. ": extra key " .. tostring(k) end
  end
  return true
end

local function check(text)
  local a, aerr = llm.parse_json(text)
  local b, berr = general(text)
  if a == nil or b == nil then
    assert.equal(b == nil, a == nil, text)
    return
  end
  local ok, why = same(a, b)
  assert(ok, string.format("%q: %s", text, tostring(why)))
  return a, aerr, berr
end

local function isrunning()
  if _VERSION == "Lua 5.1" and not jit then return nil end
  return collectgarbage("isrunning")
end

-- A JSON array of n rows, as the benchmark's big answers.
local function rows(n)
  local t = {}
  for i = 0, n - 1 do
    t[#t + 1] = string.format(
      '{"id": %d, "name": "item %d", "tags": ["alpha", "beta"], '
      .. '"score": %s, "ok": %s}', i, i, i * 0.5, tostring(i % 2 == 0))
  end
  return "[" .. table.concat(t, ", ") .. "]"
end

describe("parse_json's one-pass decoder", function()
  it("reads what the general path reads", function()
    for _, text in ipairs({
      '{"a":1}', "[]", "{}", "[[]]", '{"a":[]}', '[{}]', "42", "-0", "0",
      "-0.0", "1.0", "1.5", "1e2", "1E+2", "1e-2", "-1.25e-3", "2.5e400",
      "-2.5e400", "1e-400", "123456789012345", "1234567890123456",
      "12345678901234567", "9007199254740991", "9007199254740992",
      "-9007199254740993", "123456789012345678901234567890", "0.1",
      "0.30000000000000004", "5e-324", "1.7976931348623157e308",
      '"s"', '""', '"a\\"b\\\\c\\/d\\b\\f\\n\\r\\t"', '"\\u00e9\\u20ac\\u0041"',
      '"\\u0000x"', '"caf\xc3\xa9"', '"\\ud83d\\ude00"', '"\\ud83d"',
      '"\\udc00x"', '{"\\u0000k": 1}', '{"k\\u00e9": 1}', "true", "false",
      "null", "[true, false, null]", '{"a": null}', ' \t\r\n[1] \n',
      '{"a":1,"a":2}', '{"a":1,"b":2,"a":3}', "NaN", "[Infinity]",
      "-Infinity", "[1,]", "[1 2]", '{"a" 1}', '{"a":}', "[", "]", "",
      "   ", "01", "[01]", "-", "1.", "1.e5", ".5", "1e", "1e+", "[1e]",
      "tru", "nul", "[nul]", "nullx", '"\\x"', '"\\u12"', '"\\u12G4"',
      '"a\tb"', '"unterminated', '{"a":1} {"b":2}', "```json\n[1]\n```",
      'Here: {"a": [1, 2.5, "x"]} ok', '[1, {"b": [2, {"c": null}]}]',
      "\v[1]", "[1]\v", "\xc2\xa0[1]", "[1]\xc2\xa0", "[-]", "[--1]", "+1",
    }) do
      check(text)
    end
  end)

  it("reads large containers and deep nesting the same", function()
    local t = {}
    for i = 1, 100 do t[i] = tostring(i) end
    check("[" .. table.concat(t, ",") .. "]")
    local o = {}
    for i = 1, 100 do o[i] = string.format('"k%d": %d', i % 70, i) end
    check("{" .. table.concat(o, ",") .. "}")
    for _, depth in ipairs({10, 199, 200, 201, 300, 1500}) do
      check(string.rep("[", depth) .. "1" .. string.rep("]", depth))
      check(string.rep('{"a":', depth) .. "1" .. string.rep("}", depth))
    end
    check(rows(500))
  end)

  it("reads numbers as strtod does", function()
    for _, text in ipairs({"0.05", "123.456e-5", "1.23456789012345678",
      "0.000000000000000000000001", "100e-2", "4.35", "1e22", "1e23",
      "9007199254740993.0", "0.1e1", "-0.0e5", "8.589973e9", "2.2250738585072014e-308",
      "123456789012345.6", "1234567890123456.7", "0.00000000000000001234"}) do
      check(text)
    end
    math.randomseed(1616)
    local function digits(n)
      local t = {}
      for i = 1, n do t[i] = tostring(math.random(0, 9)) end
      return table.concat(t)
    end
    local nums = {}
    for i = 1, 3000 do
      local int = tostring(math.random(0, 9)) .. digits(math.random(0, 12))
      int = int:gsub("^0+(%d)", "%1")
      local s = (math.random(2) == 1 and "-" or "") .. int
      if math.random(3) > 1 then s = s .. "." .. digits(math.random(1, 12)) end
      if math.random(3) == 1 then
        s = s .. (math.random(2) == 1 and "e" or "E")
          .. ({"", "+", "-"})[math.random(3)] .. tostring(math.random(0, 30))
      end
      nums[i] = s
      check(s)
    end
    check("[" .. table.concat(nums, ",") .. "]")
  end)

  it("reads random documents the same", function()
    math.randomseed(16)
    local atoms = {"0", "-1", "7", "1.5", "-2.25e3", "1e5", "3E-2",
                   "123456789012345678", "0.1", "true", "false", "null",
                   '"x"', '""', '"\\n\\u00fc"', '"\\ud800"', "NaN"}
    local function gen(depth)
      local r = math.random(10)
      if depth > 4 or r <= 5 then return atoms[math.random(#atoms)] end
      local n, parts = math.random(0, 40), {}
      if r <= 8 then
        for i = 1, n do parts[i] = gen(depth + 1) end
        return "[" .. table.concat(parts, ", ") .. "]"
      end
      for i = 1, n do
        parts[i] = string.format('"k%d": %s', math.random(0, 45), gen(depth + 1))
      end
      return "{" .. table.concat(parts, ",") .. "}"
    end
    for _ = 1, 300 do check(gen(0)) end
  end)

  it("gives arrays llm.array_mt and keeps integers apart from floats", function()
    local v = llm.parse_json('{"a": [], "b": [1, 2.0, 2.5], "c": {}}')
    assert.equal(llm.array_mt, getmetatable(v.a))
    assert.equal(llm.array_mt, getmetatable(v.b))
    assert.is_nil(getmetatable(v.c))
    assert.is_nil(getmetatable(v))
    assert.equal("integer", math_type(v.b[1]))
    assert.equal("integer", math_type(v.b[2]))
    assert.equal("float", math_type(v.b[3]))
    assert.equal("[]", llm.encode_json(v.a))
  end)

  it("reports the same errors with positions", function()
    local v, err = llm.parse_json('[1, 2,\n 3, ]')
    assert.is_nil(v)
    assert.equal("JSON parse error: Expecting value: line 2 column 5 (char 11)",
                 err.message)
  end)

  it("leaves the collector running after a large decode", function()
    if isrunning() == nil then return end  -- Lua 5.1 cannot tell
    local text = rows(2000)
    assert.is_true(#text > 4096)
    collectgarbage("restart")
    assert.equal(2000, #llm.parse_json(text))
    assert.is_true(isrunning())
    assert.equal(2000, #llm.parse_json("\f" .. text))  -- general path
    assert.is_true(isrunning())
    -- given up at the end, then read by the general path (the first
    -- array in prose)
    assert.equal(2000, #llm.parse_json(text .. "x"))
    assert.is_true(isrunning())
  end)

  it("leaves a collector the script stopped stopped", function()
    if isrunning() == nil then return end
    local text = rows(2000)
    collectgarbage("stop")
    local ok, v = pcall(llm.parse_json, text)
    local ok2, v2 = pcall(llm.parse_json, "\f" .. text)
    local running = isrunning()
    collectgarbage("restart")
    assert.is_true(ok)
    assert.is_true(ok2)
    assert.equal(2000, #v)
    assert.equal(2000, #v2)
    assert.is_false(running)
  end)

  it("restarts the collector when a decode raises", function()
    if isrunning() == nil then return end
    -- nested deeper than a Lua value may be: an error while building
    local deep = string.rep("[", 2500) .. string.rep("]", 2500)
    collectgarbage("restart")
    local ok, err = pcall(llm.parse_json, deep)
    assert.is_false(ok)
    assert.matches("nested too deeply", tostring(err))
    assert.is_true(isrunning())
    collectgarbage("stop")
    ok = pcall(llm.parse_json, deep)
    local running = isrunning()
    collectgarbage("restart")
    assert.is_false(ok)
    assert.is_false(running)
  end)
end)
