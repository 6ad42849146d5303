--- llmgateway: the Lua API.
--
-- The C module llmgateway.core loads configuration, makes the HTTP calls
-- and schedules coroutines. This front adds what is naturally Lua: the
-- validation-retry loop (validators are Lua functions that run in the
-- caller's coroutine and may call the gateway themselves), JSON tasks,
-- batches with per-item errors, gather, and the pure-Lua helpers
-- (llm.validators, llm.prompt and llm.pipeline, each loaded on first use).
-- This file holds what require() sets up and the gateway methods' first
-- steps; the rest is compiled at its first use: llmgateway.methods (the
-- argument checks, the validation-retry loop, batches) and
-- llmgateway.extra (the tool loop, sessions, gather, q:serve).
local core = require("llmgateway.core")

local M = {}
-- builtins of the per-call paths, as upvalues
local type, getmetatable = type, getmetatable
for k, v in pairs(core) do
  if k:sub(1, 1) ~= "_" then M[k] = v end
end
M._VERSION = core._VERSION

-- Lua 5.1 counts a tail call as a level of the stack, so there a stub
-- that tail-calls what it stands for would move where an argument error
-- points: on 5.1 (not LuaJIT) llmgateway.extra is loaded now.
local EAGER = _VERSION == "Lua 5.1" and rawget(_G, "jit") == nil

-- true when the arguments are plainly well formed (then the checks have
-- nothing to say; false: run them)
local args_ok = core._args_ok
local call_task, call_limited = core._call_task, core._call_limited

-- Per gateway (fixed at creation): {rounds, validator_timeout}.
local settings = setmetatable({}, {__mode = "k"})

local function settings_of(gw)
  local s = settings[gw]
  if not s then
    s = {math.max(0, gw.runtime.retry_max) + 1, gw.validator_timeout}
    settings[gw] = s
  end
  return s
end

-- llmgateway.methods' table (L), loaded by load_methods() at the first need: the
-- methods below call its functions as they called their own (not as
-- tail calls), so that their argument errors point where they did.
local L
local function load_methods()
  L = L or require("llmgateway.methods")(settings_of)
  return L
end

-- ---------------------------------------------------------------------
-- Gateway methods added to the C methods table

local methods = core._gateway_methods

--- gw:call_async(request, callback) -> task: gw:call(request) in a task
-- of its own, then callback(result, err) there. For hosts that drive the
-- module from their own loop (llm.step, llmgateway.luv) without
-- coroutines of their own.
function methods:call_async(request, callback)
  if not L then load_methods() end
  L.check_self("call_async", self)
  if type(request) ~= "table" then
    L.argerror(1, "call_async", "table expected, got " .. L.typename(request))
  end
  if type(callback) ~= "function" then
    L.argerror(2, "call_async", "function expected, got "
               .. L.typename(callback))
  end
  local gw = self
  return core.spawn(function()
    local r, err = gw:call(request)
    callback(r, err)
  end)
end

--- gw:run_task_with_retry(task, messages, validator [, overrides])
-- -> text, errors, usage | nil, err
function methods:run_task_with_retry(task, messages, validator, overrides)
  if not args_ok(self, task, messages, validator, overrides) then
    if not L then load_methods() end
    L.check_self("run_task_with_retry", self)
    L.check_task_args("run_task_with_retry", task, messages, validator,
                      overrides, true)
    return L.text_result(L.with_retry(self, task, messages, validator,
                                      overrides, false))
  end
  -- plain arguments: the first round's call from this small frame, where
  -- the task waits for its answer (the loop's frame only after it)
  local call = call_task
  local out, usage, cost, cost_total, input, output, cached, reasoning =
    call(messages, self, task)
  if out and validator then
    -- the common round, as retry_rounds runs it (the totals, then the
    -- validator), without entering the loop: an answer that the validator
    -- accepts (it returns nil) ends it at once, with nothing more
    -- compiled; any other outcome goes on in the loop. (Few registers:
    -- this frame is live while the task waits, and its size is that of
    -- its largest part.)
    local acc = {usage_total = {input_tokens = 0 + input,
                                output_tokens = 0 + output,
                                cached_tokens = 0 + cached,
                                reasoning_tokens = 0 + reasoning},
                 rounds = 1, usage = usage, cost = cost,
                 cost_total = cost_total and 0 + cost_total}
    local ok, res, timed_out, where = call_limited(
      (settings[self] or settings_of(self))[2], validator, out, nil)
    if ok and res == nil then return out, {}, acc end
    if not L then load_methods() end
    return L.text_result(L.text_rounds(self, task, messages, validator, out,
                                       acc, ok, res, timed_out, where))
  end
  if not L then load_methods() end
  return L.text_result(L.retry_rounds(self, task, messages, validator, false,
                                      out, usage, cost, cost_total, input,
                                      output, cached, reasoning))
end

--- gw:run_json_task(task, messages [, overrides]) -> json_result | nil, err
function methods:run_json_task(task, messages, overrides)
  if not L then load_methods() end
  L.check_self("run_json_task", self)
  L.check_task_args("run_json_task", task, messages, nil, overrides, false)
  local res, err = self:call(L.request_of(task, messages, overrides))
  if not res then return nil, err end
  local data, perr = core.parse_json(res.text)
  local check = data ~= nil and L.schema_check(overrides)
  return L.json_result(task, res.text, data, data == nil and {perr.message}
                       or check and check(res.text, data) or {}, res)
end

--- gw:run_json_task_with_retry(task, messages, validator [, overrides])
-- -> json_result | nil, err
function methods:run_json_task_with_retry(task, messages, validator,
                                          overrides)
  if not args_ok(self, task, messages, validator, overrides) then
    if not L then load_methods() end
    L.check_self("run_json_task_with_retry", self)
    L.check_task_args("run_json_task_with_retry", task, messages, validator,
                      overrides, true)
    return L.json_out(task, L.with_retry(self, task, messages, validator,
                                         overrides, true))
  end
  -- as run_task_with_retry: the first call from this small frame
  local call = call_task
  local out, usage, cost, cost_total, input, output, cached, reasoning =
    call(messages, self, task)
  if not L then load_methods() end
  return L.json_out(task, L.retry_rounds(self, task, messages, validator,
                                         true, out, usage, cost, cost_total,
                                         input, output, cached, reasoning))
end

--- gw:run_tasks(requests [, {fail_fast = true, window = n}])
-- -> {result | {error=}, ...}
function methods:run_tasks(requests, opts)
  if not L then load_methods() end
  L.check_self("run_tasks", self)
  L.check_requests("run_tasks", requests)
  opts = L.check_batch_options("run_tasks", opts, 2)
  return L.batch(self, requests, opts,
                 function(_, req) return self:call(req) end)
end

--- gw:run_tasks_with_retry(requests [, validators [, opts]])
-- -> {{task=, text=, errors=, usage=, cost=, usage_total=, cost_total=,
--      rounds=} | {error=}, ...}
function methods:run_tasks_with_retry(requests, validators, opts)
  if not L then load_methods() end
  L.check_self("run_tasks_with_retry", self)
  L.check_requests("run_tasks_with_retry", requests, true)
  validators = L.check_validators("run_tasks_with_retry", validators,
                                  #requests)
  opts = L.check_batch_options("run_tasks_with_retry", opts, 3)
  return L.retry_batch(self, requests, validators, opts, false)
end

--- gw:run_json_tasks_with_retry(requests [, validators [, opts]])
-- -> {json_result | {error=}, ...}
function methods:run_json_tasks_with_retry(requests, validators, opts)
  if not L then load_methods() end
  L.check_self("run_json_tasks_with_retry", self)
  L.check_requests("run_json_tasks_with_retry", requests, true)
  validators = L.check_validators("run_json_tasks_with_retry", validators,
                                  #requests)
  opts = L.check_batch_options("run_json_tasks_with_retry", opts, 3)
  return L.retry_batch(self, requests, validators, opts, true)
end

-- ---------------------------------------------------------------------
-- The tool loop (gw:run_tools), sessions (llm.Session), gather and the
-- work queue's worker side (q:serve) are in llmgateway.extra, compiled at
-- the first call of one of them: each is a stub that loads it once and
-- tail-calls the real function (a tail call, so that its argument errors
-- point where they would; on Lua 5.1, where they would not, it is loaded
-- now and the real functions are the module's). The stubs stay in place,
-- so a function saved before its first call is the one the module holds.

local qmethods = core._queue_methods
local extra

local function load_extra()
  if not extra then extra = require("llmgateway.extra")(L or load_methods()) end
  return extra
end

if EAGER then
  load_extra()
  methods.run_tools, qmethods.serve = extra.run_tools, extra.serve
  M.Session, M.gather = extra.Session, extra.gather
else
  function methods.run_tools(...) return load_extra().run_tools(...) end
  function qmethods.serve(...) return load_extra().serve(...) end
  function M.Session(...) return load_extra().Session(...) end
  function M.gather(...) return load_extra().gather(...) end
end

-- ---------------------------------------------------------------------
-- Pure-Lua helpers, each loaded when first used (the validators are
-- those the validation loop uses)

local LAZY = {validators = true, prompt = true, pipeline = true}

return setmetatable(M, {
  __index = function(t, k)
    if LAZY[k] then
      local mod = require("llmgateway." .. k)
      rawset(t, k, mod)
      return mod
    end
  end,
})
