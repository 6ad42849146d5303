--- llmgateway.compat: what the Lua files need from Lua 5.3/5.4, for 5.1,
-- 5.2 and LuaJIT too. Without an integer subtype (5.1, 5.2, LuaJIT) a
-- whole number within 2^53 counts as an integer.
local M = {}

M.unpack = table.unpack or unpack
M.rawlen = rawlen or function(t) return #t end
M.pack = table.pack or function(...)
  return {n = select("#", ...), ...}
end

local LIMIT = 2 ^ 53

M.math_type = math.type or function(v)
  if type(v) ~= "number" then return nil end
  if v == math.floor(v) and v >= -LIMIT and v <= LIMIT then
    return "integer"
  end
  return "float"
end

M.tointeger = math.tointeger or function(v)
  if M.math_type(v) == "integer" then return v end
  return nil
end

-- utf8.len(s): the number of characters, or nil and the position of the
-- first byte that does not start a valid UTF-8 sequence.
M.utf8_len = utf8 and utf8.len or function(s)
  local n, i, len = 0, 1, #s
  while i <= len do
    local c = s:byte(i)
    local extra, min
    if c < 0x80 then extra, min = 0, 0
    elseif c >= 0xC2 and c < 0xE0 then extra, min = 1, 0x80
    elseif c >= 0xE0 and c < 0xF0 then extra, min = 2, 0x800
    elseif c >= 0xF0 and c < 0xF5 then extra, min = 3, 0x10000
    else return nil, i end
    local cp = extra == 0 and c or c % (2 ^ (6 - extra))
    for k = 1, extra do
      local b = s:byte(i + k)
      if not b or b < 0x80 or b > 0xBF then return nil, i end
      cp = cp * 64 + (b - 0x80)
    end
    if cp < min or cp > 0x10FFFF or (cp >= 0xD800 and cp <= 0xDFFF) then
      return nil, i
    end
    i = i + extra + 1
    n = n + 1
  end
  return n
end

return M
