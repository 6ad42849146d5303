--- llmgateway.pipeline: running many steps at once: bounded map, fan-out,
-- chains of steps, and collecting spawned tasks.
--
-- Everything here runs on llmgateway.spawn tasks, so gateway calls inside
-- the steps overlap. A step fails when it raises or returns nil, err; a
-- failure is recorded for its item and never stops its siblings. Results
-- keep input order; results.n is the number of items, so holes left by
-- failed items are safe to unpack with table.unpack(results, 1, results.n).

local args = require("llmgateway.args")
local compat = require("llmgateway.compat")
local core = require("llmgateway.core")
local argerror, typename = args.argerror, args.typename

local M = {}

-- Run fn(i) for i = 1..count with at most `limit` running at a time: a
-- fixed pool of tasks pulls the next index, so no more than `limit` tasks
-- ever exist.
local function pool(count, limit, fn)
  local spawn = core.spawn
  local next_index = 0
  local function worker()
    while next_index < count do
      next_index = next_index + 1
      fn(next_index)
    end
  end
  local tasks = {}
  for w = 1, math.min(limit, count) do tasks[w] = spawn(worker) end
  for _, t in ipairs(tasks) do t:wait() end
end

-- Calls step(...) and classifies the outcome: true, value | false, err.
local function attempt(step, ...)
  local ok, value, err = core.pcall(step, ...)
  if not ok then return false, value end
  if value == nil and err ~= nil then return false, err end
  return true, value
end

-- A Gateway (or a table standing in for one); indexing is safe because
-- plain tables and userdata with a metatable are the only ones looked into.
local function is_gateway(v)
  local t = type(v)
  if t == "userdata" and getmetatable(v) == nil then return false end
  return (t == "userdata" or t == "table") and type(v.run_task) == "function"
end

local OPTIONS = { "concurrency" }

-- opts is argument n of function name.
local function check_limit(name, n, opts)
  if opts ~= nil and type(opts) ~= "table" then
    argerror(n, name, "table expected, got " .. typename(opts), 3)
  end
  if opts == nil then return nil end
  args.check_keys(opts, OPTIONS, n, name, 3)
  local limit = opts.concurrency
  if limit ~= nil and (compat.math_type(limit) ~= "integer" or limit < 1) then
    argerror(n, name, "concurrency: integer >= 1 expected, got "
      .. args.shown(limit), 3)
  end
  return limit
end

--- map([gw,] inputs, fn [, {concurrency = N}]) -> results, errors:
-- fn(input, i) runs for every input with at most N in flight. With a
-- gateway first, N defaults to its max_concurrent; otherwise to every
-- input at once (the gateway still bounds HTTP requests).
-- @param gw a Gateway (optional)
-- @param inputs a list
-- @param fn function(input, i) -> value | nil, err
-- @param opts {concurrency = N} (optional)
-- @return results (results[i] for input i, results.n = #inputs), errors
--   (a list of {index = i, error = err} in index order)
function M.map(...)
  local gw, inputs, fn, opts
  local first = 1  -- the position of inputs
  if is_gateway((...)) then
    gw, inputs, fn, opts = ...
    first = 2
  else
    inputs, fn, opts = ...
  end
  if type(inputs) ~= "table" then
    argerror(first, "map", "table expected, got " .. typename(inputs))
  end
  if type(fn) ~= "function" then
    argerror(first + 1, "map", "function expected, got " .. typename(fn))
  end
  local count = #inputs
  local limit = check_limit("map", first + 2, opts) or (gw and gw.runtime.max_concurrent) or count
  local results, errors = { n = count }, {}
  pool(count, limit, function(i)
    local ok, value = attempt(fn, inputs[i], i)
    if ok then
      results[i] = value
    else
      errors[#errors + 1] = { index = i, error = value }
    end
  end)
  table.sort(errors, function(a, b) return a.index < b.index end)
  return results, errors
end

--- fan_out(input, {name = fn, ...} [, {concurrency = N}]) -> results,
-- errors: runs every branch fn(input) at once.
-- @param input passed to every branch
-- @param branches a table of name = function(input)
-- @param opts {concurrency = N} (optional; default: all at once)
-- @return results (results[name] is each branch's value), errors (a list
--   of {name =, error =} sorted by name)
function M.fan_out(input, branches, opts)
  if type(branches) ~= "table" then
    argerror(2, "fan_out", "table expected, got " .. typename(branches))
  end
  local names = {}
  for name, fn in pairs(branches) do
    if type(fn) ~= "function" then
      argerror(2, "fan_out", ("%s: function expected, got %s"):format(
        tostring(name), typename(fn)))
    end
    names[#names + 1] = name
  end
  table.sort(names, function(a, b) return tostring(a) < tostring(b) end)
  local values, failures = M.map(names, function(name) return branches[name](input) end,
    { concurrency = check_limit("fan_out", 3, opts) or math.max(#names, 1) })
  local results, errors = {}, {}
  for i, name in ipairs(names) do results[name] = values[i] end
  for _, f in ipairs(failures) do errors[#errors + 1] = { name = names[f.index], error = f.error } end
  return results, errors
end

--- chain(step1, step2, ...): feeds each step's value to the next. The
-- first step to return nil stops the chain with its error and its
-- position; a step that raises raises through the chain.
-- @param ... the steps, functions(value) -> value | nil, err
-- @return function(input) -> value | nil, err, step
function M.chain(...)
  local steps = { ... }
  for i = 1, select("#", ...) do
    if type(steps[i]) ~= "function" then
      argerror(i, "chain", "function expected, got " .. typename(steps[i]))
    end
  end
  return function(input)
    local value = input
    for i, step in ipairs(steps) do
      local err
      value, err = step(value)
      if value == nil then return nil, err, i end
    end
    return value
  end
end

--- collect(tasks) -> results, errors: waits for spawned tasks in order.
-- @param tasks a list of tasks (llm.spawn)
-- @return results (results[i] is task i's value, results.n = #tasks),
--   errors (a list of {index = i, error = err} for tasks that raised or
--   returned nil, err)
function M.collect(tasks)
  if type(tasks) ~= "table" then
    argerror(1, "collect", "table expected, got " .. typename(tasks))
  end
  local results, errors = { n = #tasks }, {}
  for i, t in ipairs(tasks) do
    local ok, value = attempt(t.wait, t)
    if ok then
      results[i] = value
    else
      errors[#errors + 1] = { index = i, error = value }
    end
  end
  return results, errors
end

--- compact(results): the results without their holes.
-- @param results a list with holes and its size in results.n (as map
--   and collect return it), or a plain list
-- @return the non-nil results, in order
function M.compact(results)
  if type(results) ~= "table" then
    argerror(1, "compact", "table expected, got " .. typename(results))
  end
  local out = {}
  for i = 1, results.n or #results do
    if results[i] ~= nil then out[#out + 1] = results[i] end
  end
  return out
end

return M
