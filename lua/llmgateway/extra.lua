--- llmgateway.extra: the parts of the Lua API that fewer scripts use --
-- the tool loop (gw:run_tools), sessions (llm.Session), gather and the
-- work queue's worker side (q:serve) -- compiled at their first use
-- rather than at require("llmgateway"). Internal: llmgateway (init.lua)
-- calls the function this returns once, with the helpers it shares, and
-- puts the functions it gets in place of its stubs.

local core = require("llmgateway.core")
local compat = require("llmgateway.compat")
local args = require("llmgateway.args")
local unpack = compat.unpack
local typename, argerror = args.typename, args.argerror
local type, getmetatable = type, getmetatable
local Error = core.Error
-- a pcall inside which a task may wait, also on Lua 5.1
local pcall = core.pcall
-- init.lua's helpers (set by the function at the end)
local check_self, callable, new_error, error_text, clip, FEEDBACK_CHARS
local new_totals, add_totals, put_totals, OVERRIDES

-- ---------------------------------------------------------------------
-- Tool loop

-- The tool message answering call: the handler's result (a string as is,
-- a table JSON-encoded, nil as "", anything else through tostring), or
-- the error text with is_error when the handler is missing, raises or the
-- model's arguments are not a JSON object.
local function run_handler(handler, call)
  local function failed(msg)
    return {role = "tool", tool_call_id = call.id, is_error = true,
            content = "error: " .. msg}
  end
  if handler == nil then
    return failed(("no tool named '%s'"):format(call.name))
  end
  if call.arguments == nil then
    return failed(("invalid arguments for tool '%s': %s"):format(
      call.name, call.error or "missing"))
  end
  local ok, res = pcall(handler, call.arguments, call)
  if not ok then
    return failed(getmetatable(res) == Error and tostring(res.message)
                  or error_text(res))
  end
  if type(res) == "table" then
    local text, jerr = core.encode_json(res)
    if not text then return failed(jerr.message) end
    res = text
  elseif res == nil then
    res = ""
  elseif type(res) ~= "string" then
    res = tostring(res)
  end
  return {role = "tool", tool_call_id = call.id, content = res}
end

local function copy_list(t)
  local out = {}
  for i = 1, #t do out[i] = t[i] end
  return out
end

--- gw:run_tools(request, handlers [, {max_steps = 8, on_step = fn}])
-- -> result | nil, err. Calls, runs each requested tool's handler in its
-- own task (concurrently), appends the assistant turn and the tool
-- results, and calls again until the model answers without tool calls.
-- The result has steps ({calls, results, text, usage, cost} each),
-- messages (the whole conversation) and usage_total/cost_total over every
-- step; reaching max_steps fails with code "tool_loop".
local function run_tools(self, request, handlers, opts)
  check_self("run_tools", self)
  if type(request) ~= "table" then
    argerror(1, "run_tools", "table expected, got " .. typename(request))
  end
  if type(handlers) ~= "table" then
    argerror(2, "run_tools", "table expected, got " .. typename(handlers))
  end
  if opts ~= nil and type(opts) ~= "table" then
    argerror(3, "run_tools", "table expected, got " .. typename(opts))
  end
  opts = opts or {}
  local kp = args.key_problem(opts, {"max_steps", "on_step"})
  if kp then argerror(3, "run_tools", kp) end
  local max_steps = opts.max_steps or 8
  if compat.math_type(max_steps) ~= "integer" or max_steps < 1 then
    argerror(3, "run_tools", "max_steps: positive integer expected, got "
      .. args.shown(max_steps))
  end
  if opts.on_step ~= nil and not callable(opts.on_step) then
    argerror(3, "run_tools", "on_step: function expected, got "
      .. typename(opts.on_step))
  end
  if type(request.messages) ~= "table" then
    argerror(1, "run_tools", "messages: table expected, got "
      .. typename(request.messages))
  end
  local messages = copy_list(request.messages)
  local req = {}
  for k, v in pairs(request) do req[k] = v end
  local steps, acc = {}, new_totals()
  for _ = 1, max_steps do
    req.messages = messages
    local res, err = self:call(req)
    if not res then
      add_totals(acc, err)
      err.steps = steps
      return nil, put_totals(err, acc)
    end
    add_totals(acc, res)
    messages[#messages + 1] = res.message
    local calls = res.tool_calls
    if not calls or #calls == 0 then
      res.steps, res.messages = steps, messages
      return put_totals(res, acc)
    end
    local tasks, results = {}, {}
    for i, c in ipairs(calls) do
      tasks[i] = core.spawn(run_handler, handlers[c.name], c)
    end
    for i = 1, #calls do
      results[i] = tasks[i]:wait()
      messages[#messages + 1] = results[i]
    end
    local step = {calls = calls, results = results, text = res.text,
                  usage = res.usage, cost = res.cost}
    steps[#steps + 1] = step
    if opts.on_step then opts.on_step(step) end
  end
  local err = new_error("tool_loop", ("the model still asked for tools "
    .. "after max_steps = %d steps"):format(max_steps))
  err.steps, err.messages = steps, messages
  return nil, put_totals(err, acc)
end

-- ---------------------------------------------------------------------
-- Sessions

local Session = {__name = "llmgateway.Session"}
Session.__index = Session

-- llm.Session's options (set with OVERRIDES, by the function at the end)
local SESSION_KEYS

--- llm.Session(gw [, {task=, system=, tools=, handlers=, max_steps=,
-- <request overrides>}]) -> session: a conversation whose history
-- (s.messages) grows with each s:send.
local function new_session(gw, opts)
  if typename(gw) ~= "llmgateway.Gateway" then
    argerror(1, "Session", "llmgateway.Gateway expected, got "
      .. typename(gw))
  end
  if opts ~= nil and type(opts) ~= "table" then
    argerror(2, "Session", "table expected, got " .. typename(opts))
  end
  opts = opts or {}
  local kp = args.key_problem(opts, SESSION_KEYS)
  if kp then argerror(2, "Session", kp) end
  if opts.system ~= nil and type(opts.system) ~= "string" then
    argerror(2, "Session", "system: string expected, got "
      .. typename(opts.system))
  end
  if opts.handlers ~= nil and type(opts.handlers) ~= "table" then
    argerror(2, "Session", "handlers: table expected, got "
      .. typename(opts.handlers))
  end
  local defaults = {}
  for k, v in pairs(opts) do defaults[k] = v end
  defaults.system, defaults.handlers, defaults.max_steps = nil, nil, nil
  defaults.task = opts.task or "session"
  local messages = {}
  if opts.system then messages[1] = {role = "system", content = opts.system} end
  return setmetatable({gw = gw, messages = messages, handlers = opts.handlers,
                       max_steps = opts.max_steps, defaults = defaults},
                      Session)
end

--- s:send(text_or_parts [, overrides]) -> result | nil, err. Appends the
-- user turn, calls (the tool loop when the session has handlers) and, on
-- success, keeps the user turn, the assistant turns and the tool results
-- in s.messages; on failure the history is unchanged.
function Session:send(input, overrides)
  if getmetatable(self) ~= Session then
    argerror(1, "send", "llmgateway.Session expected, got "
      .. typename(self))
  end
  if type(input) ~= "string" and type(input) ~= "table" then
    argerror(2, "send", "string or table expected, got " .. typename(input))
  end
  if overrides ~= nil and type(overrides) ~= "table" then
    argerror(3, "send", "table expected, got " .. typename(overrides))
  end
  local messages = copy_list(self.messages)
  messages[#messages + 1] = {role = "user", content = input}
  local req = {}
  for k, v in pairs(self.defaults) do req[k] = v end
  for k, v in pairs(overrides or {}) do req[k] = v end
  req.messages = messages
  local res, err
  if self.handlers then
    res, err = self.gw:run_tools(req, self.handlers,
                                 {max_steps = self.max_steps})
    if res then self.messages = res.messages end
  else
    res, err = self.gw:call(req)
    if res then
      messages[#messages + 1] = res.message
      self.messages = messages
    end
  end
  return res, err
end

--- s:fork() -> a new session with the same settings and a copy of the
-- history; sends to either do not show in the other.
function Session:fork()
  local f = setmetatable({}, Session)
  for k, v in pairs(self) do f[k] = v end
  f.messages = copy_list(self.messages)
  return f
end

-- ---------------------------------------------------------------------
-- Concurrency

--- gather(t1, t2, ...) or gather({t1, t2, ...}) -> a list with one entry
-- per task, in order, once every task has finished: {ok = true, n = k,
-- v1, ..., vk} holding everything the task returned (so `nil, err` is
-- kept), or {ok = false, error = e} for a task that raised. Never raises
-- a task's error.
local function gather(...)
  local n = select("#", ...)
  local tasks, list = {...}, false
  if n == 1 and type(tasks[1]) == "table" and not core._is_task(tasks[1])
  then
    tasks, list = tasks[1], true
    n = #tasks
  end
  for i = 1, n do
    if not core._is_task(tasks[i]) then
      if list then
        argerror(1, "gather", ("tasks[%d]: llmgateway.Task expected, got %s")
          :format(i, typename(tasks[i])))
      end
      argerror(i, "gather", "llmgateway.Task or list of tasks expected, "
        .. "got " .. typename(tasks[i]))
    end
  end
  local out = {}
  for i = 1, n do
    local r = compat.pack(pcall(tasks[i].wait, tasks[i]))
    if r[1] then
      local res = {ok = true, n = r.n - 1}
      for j = 2, r.n do res[j - 1] = r[j] end
      out[i] = res
    else
      out[i] = {ok = false, error = r[2]}
    end
  end
  return out
end

-- ---------------------------------------------------------------------
-- Work queue: the worker side (llm.queue and the other Queue methods are
-- in C)

-- The text of a job failure: an Error's message, a string, or whatever
-- tostring gives.
local function failure_text(e)
  if getmetatable(e) == Error then
    return ("[%s] %s"):format(tostring(e.code), tostring(e.message))
  end
  if type(e) == "table" and type(rawget(e, "message")) == "string" then
    return clip(e.message, FEEDBACK_CHARS)
  end
  return error_text(e)
end

-- Runs one delivered job as its own task: decode, call the handler,
-- write the outcome. A value becomes the result (as JSON); an error
-- (raised, or nil, err) retries the job (delivered again after the
-- visibility timeout) until its last delivery, which fails it for good;
-- an error table with retry = false fails it at once. The failure text:
-- "[code] message" of an llmgateway.Error, the message field of another
-- table, or the error as a string.
local function run_job(handler, gw, job, payload, id, delivery, max)
  local request = core._decode_json(payload)
  if request == nil then
    job:finish("failed", "the job is not JSON: " .. clip(payload, 200))
    return
  end
  local info = {id = id, delivery = delivery, max_deliveries = max}
  local ok, res, err = pcall(handler, request, gw, info)
  if ok and res ~= nil then
    local body, eerr = core.encode_json(res)
    if body then
      job:finish("done", body)
      return
    end
    err = new_error("invalid", "the handler's result cannot be stored: "
      .. eerr.message)
    err.retry = false
  elseif ok then
    err = err == nil and "the handler returned nil" or err
  else
    err = res
  end
  local final = delivery >= max or (type(err) == "table" and
    rawget(err, "retry") == false)
  if final then
    job:finish("failed", failure_text(err))
  else
    job:finish("retry")
  end
end

local SERVE_OPTIONS = {"consumer", "gateway"}

--- q:serve(handler [, {consumer =, gateway =}]) -> counts
-- Consumes jobs until q:stop() (or the worker host's SIGTERM / SIGINT):
-- handler(request, gateway, job) runs as a task per job (up to the
-- queue's concurrency at once) with the decoded request, opts.gateway
-- and {id =, delivery =, max_deliveries =}; then waits for the jobs in
-- hand and returns {done =, failed =, retried =} (this consumer's).
local function serve(self, handler, opts)
  if typename(self) ~= "llmgateway.Queue" then
    argerror(1, "serve", "llmgateway.Queue expected, got " .. typename(self))
  end
  if not callable(handler) then
    argerror(2, "serve", "function expected, got " .. typename(handler))
  end
  if opts ~= nil and type(opts) ~= "table" then
    argerror(3, "serve", "table expected, got " .. typename(opts))
  end
  opts = opts or {}
  local kp = args.key_problem(opts, SERVE_OPTIONS)
  if kp then argerror(3, "serve", kp) end
  if opts.consumer ~= nil and type(opts.consumer) ~= "string" then
    argerror(3, "serve", "consumer: string expected, got "
      .. typename(opts.consumer))
  end
  if opts.gateway ~= nil and typename(opts.gateway) ~= "llmgateway.Gateway"
  then
    argerror(3, "serve", "gateway: llmgateway.Gateway expected, got "
      .. typename(opts.gateway))
  end
  local consumer = opts.consumer or core._consumer_name()
  local gw = opts.gateway
  local ok, err = self:_consume(function(job, payload, id, delivery, max)
    -- an error here (out of memory) hands the job back at once: left to
    -- the collector, it could stay in hand for good
    local ran, e = pcall(run_job, handler, gw, job, payload, id, delivery,
                         max)
    if not ran then
      job:finish("retry")
      error(e, 0)
    end
  end, consumer)
  if not ok then return nil, err end
  self:_join()
  return self:_counts()
end

return function(h)
  check_self, callable, new_error = h.check_self, h.callable, h.new_error
  error_text, clip, FEEDBACK_CHARS = h.error_text, h.clip, h.FEEDBACK_CHARS
  new_totals, add_totals = h.new_totals, h.add_totals
  put_totals, OVERRIDES = h.put_totals, h.OVERRIDES
  SESSION_KEYS = {"task", "system", "tools", "handlers", "max_steps",
                  unpack(OVERRIDES)}
  return {run_tools = run_tools, Session = new_session, gather = gather,
          serve = serve}
end
