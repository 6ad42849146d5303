--- llmgateway.prompt: building message lists and prompt text.
--
-- Messages are plain tables {role = , content = }, exactly what the gateway
-- takes. Templates use named placeholders, {{name}} (spaces inside the
-- braces are allowed); a missing value is an error naming every missing
-- placeholder, never an empty string in the prompt.

local args = require("llmgateway.args")
local argerror, typename = args.argerror, args.typename

local M = {}

local function message(role)
  return function(text)
    if type(text) ~= "string" then
      argerror(1, role, "string expected, got " .. typename(text))
    end
    return { role = role, content = text }
  end
end

--- A system message.
-- @param text its content (a string)
-- @return {role = "system", content = text}
M.system = message("system")
--- A user message.
-- @param text its content (a string)
-- @return {role = "user", content = text}
M.user = message("user")
--- An assistant message.
-- @param text its content (a string)
-- @return {role = "assistant", content = text}
M.assistant = message("assistant")

local function is_message(t)
  return type(t.role) == "string" and t.content ~= nil
end

--- A message list from messages, lists of messages and plain strings
-- (user turns). nil and false are skipped, so optional parts can be
-- written inline: prompt.messages(sys and prompt.system(sys), question).
-- @param ... messages, lists of messages, strings, nil or false
-- @return the message list
function M.messages(...)
  local out = {}
  for i = 1, select("#", ...) do
    local part = select(i, ...)
    if type(part) == "string" then
      out[#out + 1] = M.user(part)
    elseif type(part) == "table" and is_message(part) then
      out[#out + 1] = part
    elseif type(part) == "table" then
      for j, m in ipairs(part) do
        if type(m) ~= "table" or not is_message(m) then
          argerror(i, "messages", ("[%d]: message {role=, content=} expected, got %s"):format(
            j, typename(m)))
        end
        out[#out + 1] = m
      end
    elseif part then
      argerror(i, "messages", "message, list of messages or string expected, got " ..
        typename(part))
    end
  end
  return out
end

local PLACEHOLDER = "{{%s*([%a_][%w_]*)%s*}}"

local function text_of(v)
  local t = type(v)
  if t == "string" or t == "number" or t == "boolean" then return tostring(v) end
  local mt = getmetatable(v)
  if mt and mt.__tostring then return tostring(v) end
  return nil
end

-- str with every {{name}} replaced by tostring(vars.name), for function
-- fname whose argument n is vars; errors are raised at level 3.
local function fill(str, vars, fname, n)
  vars = vars or {}
  if type(vars) ~= "table" then
    argerror(n, fname, "table expected, got " .. typename(vars), 3)
  end
  local missing, seen, bad = {}, {}, nil
  local out = str:gsub(PLACEHOLDER, function(name)
    local v = vars[name]
    if v == nil then
      if not seen[name] then
        seen[name] = true
        missing[#missing + 1] = "{{" .. name .. "}}"
      end
      return nil
    end
    local s = text_of(v)
    if s == nil then
      bad = bad or ("{{%s}}: string or number expected, got %s"):format(name, typename(v))
    end
    return s
  end)
  if #missing > 0 then
    argerror(n, fname, ("missing value%s for %s"):format(#missing > 1 and "s" or "",
      table.concat(missing, ", ")), 3)
  end
  if bad then argerror(n, fname, bad, 3) end
  return out
end

--- A template: a function(vars) returning str with every {{name}}
-- replaced by tostring(vars.name). Values are inserted verbatim: a value
-- holding "{{x}}" is not expanded again; a missing one is an error naming
-- every missing placeholder.
-- @param str the text with {{name}} placeholders
-- @return function(vars) -> string
function M.template(str)
  if type(str) ~= "string" then
    argerror(1, "template", "string expected, got " .. typename(str))
  end
  return function(vars)
    local out = fill(str, vars, "template", 1)  -- not a tail call: levels
    return out
  end
end

--- str with its placeholders filled in at once: template(str)(vars).
-- @param str the text with {{name}} placeholders
-- @param vars a table of name = value (strings, numbers, booleans or
--   values with __tostring)
-- @return string
function M.render(str, vars)
  if type(str) ~= "string" then
    argerror(1, "render", "string expected, got " .. typename(str))
  end
  local out = fill(str, vars, "render", 2)
  return out
end

local FEW_SHOT_OPTIONS = { "system", "input_key", "output_key" }

--- A few-shot message list: the optional system message, then one
-- user/assistant pair per example.
-- @param examples a list of {input =, output =} (keys configurable) or
--   {input, output}
-- @param opts {system =, input_key = "input", output_key = "output"}
--   (optional)
-- @return the message list
function M.few_shot(examples, opts)
  if type(examples) ~= "table" then
    argerror(1, "few_shot", "table expected, got " .. typename(examples))
  end
  if opts ~= nil and type(opts) ~= "table" then
    argerror(2, "few_shot", "table expected, got " .. typename(opts))
  end
  opts = opts or {}
  args.check_keys(opts, FEW_SHOT_OPTIONS, 2, "few_shot")
  local in_key, out_key = opts.input_key or "input", opts.output_key or "output"
  local out = {}
  if opts.system ~= nil then out[1] = M.system(opts.system) end
  for i, ex in ipairs(examples) do
    local input, output
    if type(ex) == "table" then
      input = ex[in_key]
      output = ex[out_key]
      if input == nil and output == nil then input, output = ex[1], ex[2] end
    end
    input, output = text_of(input), text_of(output)
    if input == nil or output == nil then
      argerror(1, "few_shot", ("[%d]: example with string %s and %s expected"):format(i,
        in_key, out_key))
    end
    out[#out + 1] = M.user(input)
    out[#out + 1] = M.assistant(output)
  end
  return out
end

--- The messages of a one-turn chat.
-- @param system_text the system message's text, or nil for none
-- @param user_text the user message's text
-- @return {system, user}, or {user}
function M.chat(system_text, user_text)
  if system_text ~= nil and type(system_text) ~= "string" then
    argerror(1, "chat", "string or nil expected, got " .. typename(system_text))
  end
  if type(user_text) ~= "string" then
    argerror(2, "chat", "string expected, got " .. typename(user_text))
  end
  if system_text == nil then return { M.user(user_text) } end
  return { M.system(system_text), M.user(user_text) }
end

return M
