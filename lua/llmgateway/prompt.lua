-- llmgateway.prompt -- building message lists and prompt text.
--
-- Messages are plain tables {role = , content = }, exactly what the gateway
-- takes. Templates use named placeholders, {{name}} (spaces inside the
-- braces are allowed); a missing value is an error naming every missing
-- placeholder, never an empty string in the prompt.

local M = {}

local function message(role)
  return function(text)
    if type(text) ~= "string" then
      error(string.format("prompt.%s: expected a string, got %s", role, type(text)), 2)
    end
    return { role = role, content = text }
  end
end

M.system = message("system")
M.user = message("user")
M.assistant = message("assistant")

local function is_message(t)
  return type(t.role) == "string" and t.content ~= nil
end

-- messages(...): a message list from messages, lists of messages and plain
-- strings (user turns). nil and false are skipped, so optional parts can be
-- written inline: prompt.messages(sys and prompt.system(sys), question).
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
          error(string.format("prompt.messages: argument %d, item %d is not a message {role=, content=}", i, j), 2)
        end
        out[#out + 1] = m
      end
    elseif part then
      error(string.format("prompt.messages: argument %d is a %s; expected a message, a list of messages or a string",
        i, type(part)), 2)
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

-- template(str) -> function(vars) returning str with every {{name}}
-- replaced by tostring(vars.name). Values are inserted verbatim: a value
-- holding "{{x}}" is not expanded again.
function M.template(str)
  if type(str) ~= "string" then
    error("prompt.template: expected a string, got " .. type(str), 2)
  end
  return function(vars)
    vars = vars or {}
    if type(vars) ~= "table" then
      error("template: expected a table of values, got " .. type(vars), 2)
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
        bad = bad or string.format("template: value for {{%s}} is a %s; expected a string or a number",
          name, type(v))
      end
      return s
    end)
    if #missing > 0 then
      error(string.format("template: missing value%s for %s", #missing > 1 and "s" or "",
        table.concat(missing, ", ")), 2)
    end
    if bad then error(bad, 2) end
    return out
  end
end

function M.render(str, vars)
  if type(str) ~= "string" then
    error("prompt.render: expected a string, got " .. type(str), 2)
  end
  local ok, result = pcall(M.template(str), vars)
  if not ok then error(result, 2) end
  return result
end

-- few_shot(examples, {system=, input_key=, output_key=}) -> messages:
-- the optional system message, then one user/assistant pair per example.
-- An example is {input=, output=} (keys configurable) or {input, output}.
function M.few_shot(examples, opts)
  opts = opts or {}
  if type(examples) ~= "table" then
    error("prompt.few_shot: expected a list of examples, got " .. type(examples), 2)
  end
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
      error(string.format("prompt.few_shot: example %d needs string %s and %s", i,
        in_key, out_key), 2)
    end
    out[#out + 1] = M.user(input)
    out[#out + 1] = M.assistant(output)
  end
  return out
end

-- chat(system_text, user_text) -> {system, user}; system_text may be nil.
function M.chat(system_text, user_text)
  if user_text == nil then
    error("prompt.chat: expected (system_text, user_text)", 2)
  end
  if system_text == nil then return { M.user(user_text) } end
  return { M.system(system_text), M.user(user_text) }
end

return M
