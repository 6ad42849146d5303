--- llmgateway.args: argument errors of the Lua API, worded as
-- luaL_argerror words them ("bad argument #2 to 'map' (table expected,
-- got nil)"), and the check for misspelt keys in option tables. Every Lua
-- file of the module raises its argument errors through argerror. Works
-- without the C module (then nothing is llm.null).
local M = {}

-- The C module when it is there: only its null sentinel is used.
local have_core, core = pcall(require, "llmgateway.core")
local null = have_core and type(core) == "table" and core.null or nil

--- The type name luaL_typeerror would give: the metatable's __name,
-- "light userdata" for llm.null, else type(v).
-- @param v any value
-- @return string
function M.typename(v)
  if null ~= nil and v == null then return "light userdata" end
  local mt = getmetatable(v)
  if type(mt) == "table" and type(rawget(mt, "__name")) == "string" then
    return mt.__name
  end
  return type(v)
end

--- A value as an argument error shows it after "got": a number itself,
-- anything else its type name.
-- @param v any value
-- @return string
function M.shown(v)
  if type(v) == "number" then return tostring(v) end
  return M.typename(v)
end

--- Raises "bad argument #n to 'fname' (msg)".
-- @param n argument position (1 is the first after self in a method)
-- @param fname the function's name as the caller wrote it
-- @param msg what is wrong: "table expected, got nil", "key: ..."
-- @param level where the error points: 2 (the default) the caller of the
--   function that calls argerror, 3 that function's caller, and so on
function M.argerror(n, fname, msg, level)
  error(("bad argument #%d to '%s' (%s)"):format(n, fname, msg),
        (level or 2) + 1)
end

-- Levenshtein distance of two short strings.
local function distance(a, b)
  local la, lb = #a, #b
  local row = {}
  for j = 0, lb do row[j] = j end
  for i = 1, la do
    local diag = row[0]
    row[0] = i
    local ca = a:byte(i)
    for j = 1, lb do
      local up = row[j]
      local best = diag + (ca == b:byte(j) and 0 or 1)
      if up + 1 < best then best = up + 1 end
      if row[j - 1] + 1 < best then best = row[j - 1] + 1 end
      diag = up
      row[j] = best
    end
  end
  return row[lb]
end

--- The message for an unknown key, naming the closest known one when it
-- is close (at most a third of the key's length in edits).
-- @param key the unknown key
-- @param known list of the known keys
-- @param prefix put before both names (a path such as "requests[2]."),
--   or nil
-- @return string: "unknown key 'modle', did you mean 'model'?"
function M.unknown_key(key, known, prefix)
  prefix = prefix or ""
  local best, bestd
  for _, k in ipairs(known) do
    local d = distance(key, k)
    if not bestd or d < bestd then best, bestd = k, d end
  end
  if best and bestd * 3 <= #key + 2 then
    return ("unknown key '%s%s', did you mean '%s%s'?"):format(prefix, key,
      prefix, best)
  end
  return ("unknown key '%s%s'"):format(prefix, key)
end

--- The problem with the keys of an option table: the unknown_key message
-- of its first string key (in sorted order, so that the message does not
-- depend on the table's layout) that is not known. Other keys are left
-- alone.
-- @param t the option table
-- @param known list of the known keys (a set of them is cached in it)
-- @param prefix as for unknown_key
-- @return the message, or nil when every key is known
function M.key_problem(t, known, prefix)
  local set = known.set
  if not set then
    set = {}
    for _, k in ipairs(known) do set[k] = true end
    known.set = set
  end
  local bad
  for k in pairs(t) do
    if type(k) == "string" and not set[k] and (not bad or k < bad) then
      bad = k
    end
  end
  return bad and M.unknown_key(bad, known, prefix)
end

--- Raises the argument error of key_problem, if there is one.
-- @param t the option table
-- @param known list of the known keys
-- @param n argument position of t
-- @param fname the function's name
-- @param level as for argerror (2, the default: the caller of the
--   function that calls check_keys)
-- @param prefix as for unknown_key
function M.check_keys(t, known, n, fname, level, prefix)
  local problem = M.key_problem(t, known, prefix)
  if problem then M.argerror(n, fname, problem, (level or 2) + 1) end
end

return M
