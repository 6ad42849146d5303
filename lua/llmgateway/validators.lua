--- llmgateway.validators: ready-made validators for model output.
--
-- A validator is function(text, data) -> nil | {} (valid) | {error, ...}.
-- For JSON tasks `data` is the parsed value; for text tasks it is nil and
-- the JSON validators parse `text` themselves with llmgateway.parse_json.
-- Every error is one line a model can act on, naming the JSON path:
--
--   $.items[2].name: expected string, got number
--   $: missing required key "risk"
--   $.status: must be one of "ok", "fail" (got "maybe")
--
-- Array indices in paths are 0-based, as in JSONPath (what the model sees
-- in its own JSON). Misuse (a malformed schema, a wrong argument) raises
-- when the validator is built, not when it runs.

local args = require("llmgateway.args")
local compat = require("llmgateway.compat")
local argerror, typename = args.argerror, args.typename

-- The C module gives llm.null, the array metatable and the JSON parser;
-- without it (the pure parts tested alone) nothing is null and text is
-- not parsed.
local have_core, core = pcall(require, "llmgateway.core")
if not have_core or type(core) ~= "table" then core = {} end

local M = {}

local function is_null(v)
  return core.null ~= nil and v == core.null
end

-- parse_json gives arrays as tables with llm.array_mt and objects as plain
-- tables. Of other tables, one whose keys are exactly 1..n (n >= 1) is an
-- array, other non-empty tables are objects, and an empty table is both an
-- empty array and an empty object.
local function table_kind(t)
  if core.array_mt ~= nil and getmetatable(t) == core.array_mt then
    return "array"
  end
  local n = #t
  local count = 0
  for _ in pairs(t) do
    count = count + 1
    if count > n then return "object" end
  end
  if n == 0 then return "empty" end
  return "array"
end

-- The JSON type of a Lua value as a model would name it.
local function json_type(v)
  if is_null(v) then return "null" end
  local t = type(v)
  if t == "table" then
    local kind = table_kind(v)
    return kind == "empty" and "object" or kind
  end
  if t == "nil" then return "nothing" end
  return t
end

local TYPES = {
  string = true, number = true, integer = true, boolean = true,
  array = true, object = true, null = true,
}

local function has_type(v, name)
  if name == "null" then return is_null(v) end
  if name == "integer" then
    return type(v) == "number" and v == math.floor(v) and v - v == 0
  end
  if name == "array" or name == "object" then
    if type(v) ~= "table" then return false end
    local kind = table_kind(v)
    return kind == name or kind == "empty"
  end
  return type(v) == name
end

-- JSON text of a scalar, for messages: "ok", 3, true, null.
local ESCAPES = { ['"'] = '\\"', ['\\'] = '\\\\', ['\n'] = '\\n', ['\r'] = '\\r', ['\t'] = '\\t' }

local function show(v)
  if is_null(v) then return "null" end
  if type(v) == "string" then
    return '"' .. v:gsub('[%c"\\]', function(c)
      return ESCAPES[c] or string.format("\\u%04x", c:byte())
    end) .. '"'
  end
  return tostring(compat.math_type(v) == "float" and compat.tointeger(v) or v)
end

local function key_path(path, key)
  if type(key) == "string" and key:match("^[%a_][%w_]*$") then
    return path .. "." .. key
  end
  return path .. "[" .. show(key) .. "]"
end

local function index_path(path, i)
  return path .. "[" .. (i - 1) .. "]"
end

local function plural(n, word)
  return n .. " " .. word .. (n == 1 and "" or "s")
end

local function sorted_keys(t)
  local keys = {}
  for k in pairs(t) do keys[#keys + 1] = k end
  table.sort(keys, function(a, b) return tostring(a) < tostring(b) end)
  return keys
end

-- "string" or {"string", "null"} -> list of names; nil, message if a
-- name is unknown.
local function type_list(spec)
  local list = type(spec) == "table" and spec or { spec }
  if #list == 0 then return nil, "empty type list" end
  for _, name in ipairs(list) do
    if not TYPES[name] then
      return nil, string.format("unknown type %s (expected one of string, "
        .. "number, integer, boolean, array, object, null)", show(name))
    end
  end
  return list
end

local function check_type(v, list, path, errs)
  for _, name in ipairs(list) do
    if has_type(v, name) then return true end
  end
  errs[#errs + 1] = string.format("%s: expected %s, got %s", path,
    table.concat(list, " or "), json_type(v))
  return false
end

-- The value to validate: `data` when given, else `text` parsed as JSON.
-- Returns value or nil, error line.
local function json_value(text, data)
  if data ~= nil then return data end
  if type(text) ~= "string" or not core.parse_json then
    return nil, "$: no JSON value to check"
  end
  local value, err = core.parse_json(text)
  if value == nil then
    return nil, "$: not valid JSON (" .. tostring(err) .. ")"
  end
  return value
end

local function utf8_length(s)
  local n, bad = compat.utf8_len(s)
  if n then return n end
  return nil, bad
end

--- What a validator returned, as its list of problems: nil or false is
-- none, a string is one, a list of strings (or numbers) is read raw (its
-- __index and __len are not called). Anything else is an error.
-- @param res the validator's return value
-- @return the list of problems ({} when valid), or nil and a message
function M.problems(res)
  if res == nil or res == false then return {} end
  if type(res) == "string" then return {res} end
  if type(res) ~= "table" then
    return nil, "validator returned a " .. typename(res)
      .. "; expected nil or a list of strings"
  end
  local errors = {}
  for i = 1, compat.rawlen(res) do
    local e = rawget(res, i)
    if type(e) ~= "string" and type(e) ~= "number" then
      return nil, ("validator returned a list whose item %d is a %s; "
        .. "expected strings"):format(i, typename(e))
    end
    errors[i] = e
  end
  return errors
end

-- Runs one validator of a combinator: its problems, or raises.
local function run(v, text, data)
  local errs, message = M.problems(v(text, data))
  if not errs then error(message, 0) end
  return errs
end

-- list is a table.pack of the arguments, so that a nil among them is seen.
local function check_validators(name, list)
  for i = 1, list.n do
    local v = list[i]
    if type(v) ~= "function" then
      argerror(i, name, "validator function expected, got " .. typename(v), 3)
    end
  end
end

---------------------------------------------------------------------------
-- json_object{required = {...}, types = {key = "string" | {...}}}

local JSON_OBJECT_OPTIONS = { "required", "types" }

--- A validator of a JSON object: its required keys and the types of
-- some keys.
-- @param opts {required = {key, ...}, types = {key = "string" |
--   {"number", "null"}, ...}} (type names: string, number, integer,
--   boolean, array, object, null)
-- @return the validator, function(text, data) -> list of problems
function M.json_object(opts)
  opts = opts or {}
  if type(opts) ~= "table" then
    argerror(1, "json_object", "table expected, got " .. typename(opts))
  end
  args.check_keys(opts, JSON_OBJECT_OPTIONS, 1, "json_object")
  local required = opts.required or {}
  if type(required) ~= "table" then
    argerror(1, "json_object", "required: table expected, got " .. typename(required))
  end
  if opts.types ~= nil and type(opts.types) ~= "table" then
    argerror(1, "json_object", "types: table expected, got " .. typename(opts.types))
  end
  local types = {}
  for _, key in ipairs(sorted_keys(opts.types or {})) do
    local list, err = type_list(opts.types[key])
    if not list then
      argerror(1, "json_object", ("types.%s: %s"):format(tostring(key), err))
    end
    types[#types + 1] = { key = key, list = list }
  end
  return function(text, data)
    local value, err = json_value(text, data)
    if value == nil then return { err } end
    local errs = {}
    if not check_type(value, { "object" }, "$", errs) then return errs end
    for _, key in ipairs(required) do
      if value[key] == nil then
        errs[#errs + 1] = string.format("$: missing required key %s", show(key))
      end
    end
    for _, t in ipairs(types) do
      local v = value[t.key]
      if v ~= nil then check_type(v, t.list, key_path("$", t.key), errs) end
    end
    return errs
  end
end

---------------------------------------------------------------------------
-- schema(s): a practical subset of JSON Schema.

local SCHEMA_KEYS = {
  type = true, required = true, properties = true, items = true, enum = true,
  minLength = true, maxLength = true, minimum = true, maximum = true,
  minItems = true, maxItems = true, additionalProperties = true,
  description = true, title = true,
}
local SCHEMA_KEY_LIST = {}
for k in pairs(SCHEMA_KEYS) do SCHEMA_KEY_LIST[#SCHEMA_KEY_LIST + 1] = k end
table.sort(SCHEMA_KEY_LIST)

-- Reject what this subset does not understand, so that a typo does not
-- silently accept everything. Returns nil or a message naming the place.
local function schema_problem(s, where)
  if type(s) ~= "table" then
    return where .. ": table expected, got " .. typename(s)
  end
  for _, k in ipairs(sorted_keys(s)) do
    if not SCHEMA_KEYS[k] then
      return where .. ": " .. args.unknown_key(tostring(k), SCHEMA_KEY_LIST)
    end
  end
  if s.type ~= nil then
    local ok, err = type_list(s.type)
    if not ok then return where .. ".type: " .. err end
  end
  for _, k in ipairs({ "minLength", "maxLength", "minimum", "maximum",
                       "minItems", "maxItems" }) do
    if s[k] ~= nil and type(s[k]) ~= "number" then
      return ("%s.%s: number expected, got %s"):format(where, k,
        typename(s[k]))
    end
  end
  if s.enum ~= nil and (type(s.enum) ~= "table" or #s.enum == 0) then
    return where .. ".enum: non-empty list expected"
  end
  if s.required ~= nil and type(s.required) ~= "table" then
    return where .. ".required: list of keys expected"
  end
  local problem
  if s.properties ~= nil then
    if type(s.properties) ~= "table" then
      return where .. ".properties: table expected, got "
        .. typename(s.properties)
    end
    for _, k in ipairs(sorted_keys(s.properties)) do
      problem = schema_problem(s.properties[k], key_path(where .. ".properties", k))
      if problem then return problem end
    end
  end
  if s.items ~= nil then
    problem = schema_problem(s.items, where .. ".items")
    if problem then return problem end
  end
  local ap = s.additionalProperties
  if ap ~= nil and ap ~= true and ap ~= false then
    return schema_problem(ap, where .. ".additionalProperties")
  end
end

local function check_length(kind, n, s, path, errs, lo_key, hi_key, unit)
  if s[lo_key] and n < s[lo_key] then
    errs[#errs + 1] = string.format("%s: %s has %s; at least %s required",
      path, kind, plural(n, unit), show(s[lo_key]))
  elseif s[hi_key] and n > s[hi_key] then
    errs[#errs + 1] = string.format("%s: %s has %s; at most %s allowed",
      path, kind, plural(n, unit), show(s[hi_key]))
  end
end

local function validate(s, v, path, errs)
  if s.type and not check_type(v, type_list(s.type), path, errs) then return end
  if s.enum then
    local found = false
    for _, e in ipairs(s.enum) do
      if v == e then found = true break end
    end
    if not found then
      local shown = {}
      for i, e in ipairs(s.enum) do shown[i] = show(e) end
      errs[#errs + 1] = string.format("%s: must be one of %s (got %s)", path,
        table.concat(shown, ", "),
        type(v) == "table" and json_type(v) or show(v))
      return
    end
  end
  if type(v) == "string" then
    local n, bad = utf8_length(v)
    if not n then
      errs[#errs + 1] = string.format("%s: string is not valid UTF-8 (byte %d)", path, bad)
    else
      check_length("string", n, s, path, errs, "minLength", "maxLength", "character")
    end
  elseif type(v) == "number" then
    if s.minimum and v < s.minimum then
      errs[#errs + 1] = string.format("%s: must be >= %s (got %s)", path, show(s.minimum), show(v))
    elseif s.maximum and v > s.maximum then
      errs[#errs + 1] = string.format("%s: must be <= %s (got %s)", path, show(s.maximum), show(v))
    end
  elseif type(v) == "table" then
    if has_type(v, "array") then
      check_length("array", #v, s, path, errs, "minItems", "maxItems", "item")
      if s.items then
        for i = 1, #v do validate(s.items, v[i], index_path(path, i), errs) end
      end
    end
    if has_type(v, "object") then
      for _, key in ipairs(s.required or {}) do
        if v[key] == nil then
          errs[#errs + 1] = string.format("%s: missing required key %s", path, show(key))
        end
      end
      local props = s.properties or {}
      for _, key in ipairs(sorted_keys(v)) do
        local sub = props[key]
        local ap = s.additionalProperties
        if sub then
          validate(sub, v[key], key_path(path, key), errs)
        elseif ap == false then
          errs[#errs + 1] = string.format("%s: unexpected key %s", path, show(key))
        elseif type(ap) == "table" then
          validate(ap, v[key], key_path(path, key), errs)
        end
      end
    end
  end
end

--- A validator of a practical subset of JSON Schema: type, required,
-- properties, items, enum, minLength/maxLength, minimum/maximum,
-- minItems/maxItems, additionalProperties (also a schema), description
-- and title. Any other key is an error when the validator is built.
-- @param s the schema (a table)
-- @return the validator, function(text, data) -> list of problems
function M.schema(s)
  if type(s) ~= "table" then
    argerror(1, "schema", "table expected, got " .. typename(s))
  end
  local problem = schema_problem(s, "schema")
  if problem then argerror(1, "schema", problem) end
  return function(text, data)
    local value, err = json_value(text, data)
    if value == nil then return { err } end
    local errs = {}
    validate(s, value, "$", errs)
    return errs
  end
end

---------------------------------------------------------------------------
-- Text validators.

local LENGTH_OPTIONS = { "min", "max" }

--- A validator of the text's length in characters (UTF-8).
-- @param opts {min = n, max = n} (at least one of them)
-- @return the validator, function(text) -> list of problems
function M.length(opts)
  if type(opts) ~= "table" then
    argerror(1, "length", "table expected, got " .. typename(opts))
  end
  args.check_keys(opts, LENGTH_OPTIONS, 1, "length")
  for _, k in ipairs(LENGTH_OPTIONS) do
    if opts[k] ~= nil and type(opts[k]) ~= "number" then
      argerror(1, "length", k .. ": number expected, got " .. typename(opts[k]))
    end
  end
  if opts.min == nil and opts.max == nil then
    argerror(1, "length", "min or max expected")
  end
  return function(text)
    local n, bad = utf8_length(text)
    if not n then return { string.format("text is not valid UTF-8 (byte %d)", bad) } end
    if opts.min and n < opts.min then
      return { string.format("text is %s; at least %d required", plural(n, "character"), opts.min) }
    end
    if opts.max and n > opts.max then
      return { string.format("text is %s; at most %d allowed", plural(n, "character"), opts.max) }
    end
    return {}
  end
end

--- A validator that the text has something besides white space.
-- @return the validator, function(text) -> list of problems
function M.non_empty()
  return function(text)
    if type(text) ~= "string" or not text:find("%S") then return { "text is empty" } end
    return {}
  end
end

--- A validator that the text matches a Lua pattern.
-- @param pat the pattern (string.find's)
-- @param description how the problem names it (default: "the pattern
--   <pat>")
-- @return the validator, function(text) -> list of problems
function M.pattern(pat, description)
  if type(pat) ~= "string" then
    argerror(1, "pattern", "string expected, got " .. typename(pat))
  end
  local what = description or string.format("the pattern %q", pat)
  return function(text)
    if text:find(pat) then return {} end
    return { "text does not match " .. what }
  end
end

---------------------------------------------------------------------------
-- Combinators.

--- A validator whose problems are those of every validator given.
-- @param ... validators
-- @return the validator, function(text, data) -> list of problems
function M.all_of(...)
  local list = compat.pack(...)
  check_validators("all_of", list)
  return function(text, data)
    local errs = {}
    for _, v in ipairs(list) do
      for _, e in ipairs(run(v, text, data)) do errs[#errs + 1] = e end
    end
    return errs
  end
end

--- A validator that passes when one of the validators given passes;
-- otherwise its problems are all of theirs, each labelled "alternative
-- <i>: ".
-- @param ... validators
-- @return the validator, function(text, data) -> list of problems
function M.any_of(...)
  local list = compat.pack(...)
  check_validators("any_of", list)
  return function(text, data)
    local errs = {}
    for i, v in ipairs(list) do
      local these = run(v, text, data)
      if #these == 0 then return {} end
      for _, e in ipairs(these) do
        errs[#errs + 1] = string.format("alternative %d: %s", i, tostring(e))
      end
    end
    return errs
  end
end

--- v, plus one more line when v finds problems: typically an example of
-- a correct answer, which helps a model more than the list of errors
-- alone.
-- @param v a validator
-- @param text the line added
-- @return the validator, function(text, data) -> list of problems
function M.hint(v, text)
  check_validators("hint", compat.pack(v))
  if type(text) ~= "string" then
    argerror(2, "hint", "string expected, got " .. typename(text))
  end
  return function(t, data)
    local errs = run(v, t, data)
    if #errs == 0 then return errs end
    local out = { compat.unpack(errs) }
    out[#out + 1] = text
    return out
  end
end

return M
