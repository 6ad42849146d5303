-- llmgateway.args -- argument errors of the pure-Lua API, worded as
-- luaL_argerror words them ("bad argument #2 to 'map' (...)"), and the
-- check for misspelt keys in option tables. Needs no C module.
local M = {}

-- luaL_typeerror's naming: __name, "light userdata", or the type.
function M.typename(v)
  local mod = package.loaded["llmgateway"]
  if mod ~= nil and v == mod.null then return "light userdata" end
  local mt = getmetatable(v)
  if type(mt) == "table" and type(rawget(mt, "__name")) == "string" then
    return mt.__name
  end
  return type(v)
end

-- Raises "bad argument #n to 'fname' (msg)" at `level` (2: the caller of
-- the function that calls argerror).
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

-- The message for an unknown key, with the closest known one when it is
-- close (at most a third of the key's length in edits).
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

-- known: a list of names. Returns the message for the first string key of
-- t (in sorted order, so that the message does not depend on the table's
-- layout) that is not in known, or nil. Other keys are left alone.
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

-- Raises the bad argument error of key_problem, if any, at `level`.
function M.check_keys(t, known, n, fname, level, prefix)
  local problem = M.key_problem(t, known, prefix)
  if problem then M.argerror(n, fname, problem, (level or 2) + 1) end
end

return M
