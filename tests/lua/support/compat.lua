-- Loaded before the specs (busted --helper, see tests/run.sh): on Lua 5.1
-- and LuaJIT, io.popen's close and os.execute report exit statuses as
-- from Lua 5.2 on (true | nil, "exit", code), which the specs read.
if _VERSION ~= "Lua 5.1" then return end

local popen, execute = io.popen, os.execute

-- The command runs in a group whose status goes to a file.
io.popen = function(cmd, mode)
  local sf = os.tmpname()
  -- "echo $$; exec CMD" (the pid, then the program in its place) runs
  -- CMD in a background subshell instead, to wait for its status; the
  -- subshell prints its own pid (a child's $PPID) before CMD starts
  local rest = cmd:match("^echo %$%$; exec (.*)$")
  local wrapped = rest and ("{ sh -c 'echo $PPID'; exec " .. rest
    .. "\n} & wait $!; echo $? > " .. sf) or ("{ " .. cmd .. "\n}; echo $? > " .. sf)
  local f, err = popen(wrapped, mode)
  if not f then
    os.remove(sf)
    return nil, err
  end
  local proxy = {}
  function proxy.read(_, ...) return f:read(...) end
  function proxy.lines(_, ...) return f:lines(...) end
  function proxy.write(self, ...) f:write(...) return self end
  function proxy.flush() return f:flush() end
  function proxy.setvbuf(_, ...) return f:setvbuf(...) end
  function proxy.close()
    f:close()
    local s = io.open(sf)
    local code = s and tonumber(s:read("*a"))
    if s then s:close() end
    os.remove(sf)
    if not code or code == 0 then return true, "exit", 0 end
    -- the shell tells no exit(143) from a SIGTERM: both read as exits
    return nil, "exit", code
  end
  return setmetatable(proxy, {__index = function(_, k)
    local v = f[k]
    if type(v) == "function" then
      return function(_, ...) return v(f, ...) end
    end
    return v
  end})
end

os.execute = function(cmd)
  if cmd == nil then return execute() end
  local rc = execute(cmd)
  local code = rc % 256 == 0 and rc / 256 or rc
  if code == 0 then return true, "exit", 0 end
  return nil, "exit", code
end
