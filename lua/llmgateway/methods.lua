--- llmgateway.methods: what the gateway methods written in Lua
-- (init.lua: gw:run_task_with_retry, the JSON tasks, gw:call_async, the
-- batches) need beyond their first call -- the argument checks, the
-- validation-retry loop, the batch runner -- and the helpers that
-- llmgateway.extra shares, compiled at the first need of one of them
-- rather than at require("llmgateway"). Internal: init.lua calls the
-- function this returns once, with its settings_of(gw), and keeps the
-- table it gets.

local core = require("llmgateway.core")
-- builtins of the per-call paths, as upvalues
local type, getmetatable, rawequal = type, getmetatable, rawequal
-- init.lua's settings_of(gw) -> {rounds, validator_timeout} (set by the
-- function at the end)
local settings_of

-- What a script may never use is loaded at its first use: llmgateway.
-- compat and llmgateway.args (below), the validators. Lua 5.1 counts a
-- tail call as a level of the stack, so there a stub that tail-calls
-- what it stands for would move where an argument error points: on 5.1
-- (not LuaJIT) they are loaded now.
local EAGER = _VERSION == "Lua 5.1" and rawget(_G, "jit") == nil

-- A module's table, loaded (and its fields copied in) at the first read.
local function lazy(name)
  if EAGER then return require(name) end
  return setmetatable({}, {__index = function(t, k)
    local mod = require(name)
    setmetatable(t, nil)
    for key, v in pairs(mod) do rawset(t, key, v) end
    return mod[k]
  end})
end

local compat = lazy("llmgateway.compat")
local unpack = table.unpack or unpack  -- compat.unpack
-- a pcall inside which a task may wait, also on Lua 5.1
local pcall = core.pcall
local Error = core.Error
local args = lazy("llmgateway.args")
-- llmgateway.validators is loaded at its first use (llm.validators, the
-- first validator's answer checked, the first JSON task with a schema):
-- a script that uses none of them does not compile it.
local validation
local function validators()
  validation = validation or require("llmgateway.validators")
  return validation
end

-- ---------------------------------------------------------------------
-- Argument checking (messages as luaL_argerror writes them)

-- true when the arguments are plainly well formed (then the checks below
-- have nothing to say; false: run them)
local args_ok = core._args_ok

-- argerror's level: 2 (its default) in the API function itself, 3 in a
-- check_* helper the API function calls.
local typename, argerror
if EAGER then
  typename, argerror = args.typename, args.argerror
else  -- each puts args' function in its place at its first call
  typename = function(v)
    typename = args.typename
    return typename(v)
  end
  argerror = function(...)
    argerror = args.argerror
    return argerror(...)
  end
end

local function callable(v)
  if type(v) == "function" then return true end
  local mt = getmetatable(v)
  return type(mt) == "table" and mt.__call ~= nil
end

-- Problems with a messages list, or nil when it is well formed.
local function messages_problem(messages)
  if type(messages) ~= "table" then
    return "table expected, got " .. typename(messages)
  end
  for i = 1, #messages do
    local m = messages[i]
    if type(m) ~= "table" then
      return ("messages[%d]: table expected, got %s"):format(i, typename(m))
    end
    local c = m.content
    if type(c) ~= "string" and type(c) ~= "table"
        and not (c == nil and m.tool_calls ~= nil) then
      return ("messages[%d].content: string or table expected, got %s")
        :format(i, typename(c))
    end
    if m.role ~= nil and type(m.role) ~= "string" then
      return ("messages[%d].role: string expected, got %s"):format(
        i, typename(m.role))
    end
  end
end

-- Checks task, messages, validator and overrides of the *_with_retry and
-- JSON methods (argument numbers as seen by a method call).
-- The methods written here check self as the C methods do.
local gateway_mt  -- a metatable that passed the check below

local function check_self(fname, self)
  local mt = getmetatable(self)
  if mt ~= nil and rawequal(mt, gateway_mt) then return end
  if typename(self) ~= "llmgateway.Gateway" then
    argerror(1, fname, "llmgateway.Gateway expected, got " .. typename(self), 3)
  end
  gateway_mt = mt
end

-- validator_timeout in overrides or a request: nil or seconds > 0.
local function timeout_problem(t)
  local v = t.validator_timeout
  if v ~= nil and (type(v) ~= "number" or not (v > 0)) then
    return "validator_timeout: positive number of seconds expected, got "
      .. args.shown(v)
  end
end

-- The keys of overrides and requests (those gw:call reads, and the
-- validation loop's own).
local OVERRIDES = {"model", "tier", "temperature", "reasoning_effort",
                   "max_tokens", "deadline", "on_delta", "tools",
                   "tool_choice", "parallel_tool_calls", "schema",
                   "schema_name", "strict", "stop", "top_p", "seed", "user",
                   "metadata", "extra", "on_tool_delta"}
local RETRY_OVERRIDES = {"validator_timeout", unpack(OVERRIDES)}
local REQUEST_KEYS = {"task", "messages", unpack(OVERRIDES)}
local RETRY_REQUEST_KEYS = {"task", "messages", unpack(RETRY_OVERRIDES)}

local function check_task_args(fname, task, messages, validator, overrides,
                               has_validator)
  if type(task) ~= "string" then
    argerror(1, fname, "string expected, got " .. typename(task), 3)
  end
  local problem = messages_problem(messages)
  if problem then argerror(2, fname, problem, 3) end
  local oi = 3
  if has_validator then
    if validator ~= nil and not callable(validator) then
      argerror(3, fname, "function expected, got " .. typename(validator), 3)
    end
    oi = 4
  end
  if overrides ~= nil and type(overrides) ~= "table" then
    argerror(oi, fname, "table expected, got " .. typename(overrides), 3)
  end
  local tp = overrides and (args.key_problem(overrides, has_validator
    and RETRY_OVERRIDES or OVERRIDES) or timeout_problem(overrides))
  if tp then argerror(oi, fname, tp, 3) end
end

-- retry: requests of a *_with_retry batch (validator_timeout allowed).
local function check_requests(fname, requests, retry)
  local known = retry and RETRY_REQUEST_KEYS or REQUEST_KEYS
  if type(requests) ~= "table" then
    argerror(1, fname, "table expected, got " .. typename(requests), 3)
  end
  for i = 1, #requests do
    local r = requests[i]
    if type(r) ~= "table" then
      argerror(1, fname, ("requests[%d]: table expected, got %s"):format(
        i, typename(r)), 3)
    end
    local kp = args.key_problem(r, known, ("requests[%d]."):format(i))
    if kp then argerror(1, fname, kp, 3) end
    if type(r.task) ~= "string" then
      argerror(1, fname, ("requests[%d].task: string expected, got %s")
        :format(i, typename(r.task)), 3)
    end
    local problem = messages_problem(r.messages)
    if problem then
      argerror(1, fname, ("requests[%d].%s"):format(i,
        problem:find("^messages") and problem or "messages: " .. problem), 3)
    end
    local tp = timeout_problem(r)
    if tp then argerror(1, fname, ("requests[%d].%s"):format(i, tp), 3) end
  end
end

-- validators: nil or {} -> none; otherwise one per request (a function,
-- or false for none).
local function check_validators(fname, validators, n)
  if validators == nil then return {} end
  if type(validators) ~= "table" then
    argerror(2, fname, "table expected, got " .. typename(validators), 3)
  end
  if #validators == 0 then return {} end
  if #validators ~= n then
    argerror(2, fname, "validators length must match requests length", 3)
  end
  for i = 1, n do
    local v = validators[i]
    if v ~= false and not callable(v) then
      argerror(2, fname, ("validators[%d]: function expected, got %s")
        :format(i, typename(v)), 3)
    end
  end
  return validators
end

local BATCH_OPTIONS = {"fail_fast", "window"}

local function check_batch_options(fname, opts, n)
  if opts ~= nil and type(opts) ~= "table" then
    argerror(n, fname, "table expected, got " .. typename(opts), 3)
  end
  local kp = opts and args.key_problem(opts, BATCH_OPTIONS)
  if kp then argerror(n, fname, kp, 3) end
  local w = opts and opts.window
  if w ~= nil and (compat.math_type(w) ~= "integer" or w < 1) then
    argerror(n, fname, "window: integer >= 1 expected, got " .. args.shown(w),
             3)
  end
  return opts or {}
end

-- ---------------------------------------------------------------------
-- Errors

local function new_error(code, message)
  return setmetatable({code = code, message = message, status = 0,
                       attempts = {}, providers_tried = 0}, Error)
end

local function as_error(e)
  if getmetatable(e) == Error then return e end
  local text = tostring(e)
  -- a memory error (Lua's or the module's) keeps the class of LGW_ENOMEM
  if text:find("not enough memory", 1, true) or
     text:find("out of memory", 1, true) then
    return new_error("nomem", text)
  end
  return new_error("invalid", text)
end

-- ---------------------------------------------------------------------
-- Validation retry

-- Failures that may go away by themselves. The engine has already
-- retried and failed over; another round after a pause is worth it only
-- when some attempt failed this way (not for a rejected request or key,
-- a configuration problem, cancellation or a validator error).
local TRANSIENT = {timeout = true, deadline = true, connect = true,
                   rate_limited = true, empty = true, response = true}

local function transient(err)
  local attempts = err.attempts or {}
  -- err.code is the last attempt's class; the attempts decide when there
  -- are any (an over-tpm attempt is rate_limited but never transient)
  if #attempts == 0 or err.code == "deadline" then
    return TRANSIENT[err.code] or false
  end
  for _, a in ipairs(attempts) do
    local st = a.status or 0
    -- rate_limited without a status: larger than the provider's tpm, so
    -- it would never fit
    local over_tpm = a.code == "rate_limited" and st == 0
    if (TRANSIENT[a.code] and not over_tpm) or (a.code == "http" and
        (st >= 500 or st == 0 or st == 408 or st == 409 or st == 429)) then
      return true
    end
  end
  return false
end

local function request_of(task, messages, overrides)
  local req = {task = task, messages = messages}
  if overrides then
    for _, k in ipairs(OVERRIDES) do req[k] = overrides[k] end
  end
  return req
end

-- The feedback shows at most FEEDBACK_ITEMS problems of at most
-- FEEDBACK_CHARS bytes each, so that a validator returning a huge list
-- cannot make the next prompt explode.
local FEEDBACK_ITEMS, FEEDBACK_CHARS = 50, 2000

local function clip(s, n)
  if #s <= n then return s end
  return s:sub(1, n) .. (" [... %d more bytes]"):format(#s - n)
end

local function feedback(errors, json)
  local lines = {"Your previous output had the following issues:"}
  for i = 1, math.min(#errors, FEEDBACK_ITEMS) do
    lines[#lines + 1] = "- " .. clip(tostring(errors[i]), FEEDBACK_CHARS)
  end
  if #errors > FEEDBACK_ITEMS then
    lines[#lines + 1] = ("- ... and %d more"):format(#errors - FEEDBACK_ITEMS)
  end
  return table.concat(lines, "\n") .. "\n\n" .. (json
    and "Please regenerate the full JSON only."
    or "Please regenerate the full answer.")
end

-- The text of an error value, whatever it is (its __tostring may fail).
local function error_text(e)
  if type(e) == "string" then return clip(e, FEEDBACK_CHARS) end
  local ok, s = pcall(tostring, e)
  if ok and type(s) == "string" then return clip(s, FEEDBACK_CHARS) end
  return "(error object is a " .. typename(e) .. " value)"
end

local call_limited = core._call_limited

-- The outcome of a validator run with a limit of `limit` seconds of
-- wall-clock time from its start (time it spends waiting, e.g. for its
-- own gateway calls or llm.sleep, counts): ok, res, timed_out, where are
-- the results of call_limited(limit, validator, text, data), which the
-- caller makes. Returns its list of problems ({} when valid), or nil and
-- a "validator" error when it raised, ran out of time or returned
-- something else.
local function validate(limit, ok, res, timed_out, where)
  if ok and res == nil then return {} end
  if not ok then
    if timed_out then
      return nil, new_error("validator", ("validator did not finish within "
        .. "its time limit (validator_timeout = %g s; function at %s)")
        :format(limit, where))
    end
    return nil, new_error("validator", "validator raised an error: " ..
      error_text(res))
  end
  local errors, message = (validation or validators()).problems(res)
  if not errors then return nil, new_error("validator", message) end
  return errors
end

-- Usage and cost over the rounds of a request (every attempt of each).
-- (usage, cost and cost_total are filled in as rounds end.)
local function new_totals()
  return {usage_total = {input_tokens = 0, output_tokens = 0,
                         cached_tokens = 0, reasoning_tokens = 0},
          rounds = 0, usage = nil, cost = nil, cost_total = nil}
end

-- Adds the usage_total and cost_total of a result or error t.
local function add_totals(acc, t)
  acc.rounds = acc.rounds + 1
  local u = t.usage_total
  if u then
    local a = acc.usage_total
    a.input_tokens = a.input_tokens + (u.input_tokens or 0)
    a.output_tokens = a.output_tokens + (u.output_tokens or 0)
    a.cached_tokens = a.cached_tokens + (u.cached_tokens or 0)
    a.reasoning_tokens = a.reasoning_tokens + (u.reasoning_tokens or 0)
  end
  if t.cost_total then acc.cost_total = (acc.cost_total or 0) + t.cost_total end
end

-- Puts the totals of acc on t (a result, an error or a json_result).
local function put_totals(t, acc)
  t.usage_total, t.cost_total = acc.usage_total, acc.cost_total
  return t
end

-- gw:call returning only what the loop reads (text, usage, cost and the
-- totals, as values); called through a local named "call" so that its
-- argument errors read as gw:call's. call_task is the same for a round
-- without overrides, from (messages, gw, task): no request table.
local call_totals, call_task = core._call_totals, core._call_task

-- The local check of the schema sent with a JSON task (overrides.schema):
-- llm.validators.schema when the schema keeps to that validator's subset
-- of JSON Schema; nil otherwise (the provider's check alone).
local function schema_check(overrides)
  local s = overrides and overrides.schema
  if type(s) ~= "table" then return nil end
  local ok, v = pcall(validators().schema, s)
  if ok then return v end
end

-- The loop of the Python generate_text_with_retry, for text and JSON,
-- entered with the first round's answer (out to reasoning: the values of
-- call_task, or nil, err): returns text, errors, data (data only for
-- JSON), totals, or nil, err. totals (and err) carry usage_total and
-- cost_total summed over every round, and the answering round's usage and
-- cost as totals.usage and totals.cost. history: the messages sent (nil:
-- messages itself, until a round adds to them); req: the request table of
-- a call with overrides, or nil; check: the local schema check of a JSON
-- task, or nil; pre: {ok, res, timed_out, where}, the results of the
-- first round's validator when the caller ran it already, or nil.
-- (The first call is made by the caller so that a task waits for it in
-- a small frame: this function's registers, live from here to the end,
-- would grow a waiting coroutine's stack past its first 40 slots.)
local function retry_rounds(gw, task, messages, validator, json, out, usage,
                            cost, cost_total, input, output, cached,
                            reasoning, overrides, history, req, check, pre)
  history = history or messages
  local s = settings_of(gw)
  local rounds = s[1]
  local limit = overrides and overrides.validator_timeout or s[2]
  local text, errors, data
  local acc  -- the totals, made at the first round's end
  local round = 0
  while true do
    local final = round == rounds - 1
    if not out then
      local err = usage
      acc = acc or new_totals()
      add_totals(acc, err)
      if final or not transient(err) then return nil, put_totals(err, acc) end
      core.sleep(2 ^ round + 1)
    else
      -- the totals of this round
      if acc then
        acc.rounds = acc.rounds + 1
        local u = acc.usage_total
        u.input_tokens = u.input_tokens + input
        u.output_tokens = u.output_tokens + output
        u.cached_tokens = u.cached_tokens + cached
        u.reasoning_tokens = u.reasoning_tokens + reasoning
        if cost_total then
          acc.cost_total = (acc.cost_total or 0) + cost_total
        end
        acc.usage, acc.cost = usage, cost
      else
        -- as new_totals() and the sums above, in one table
        acc = {usage_total = {input_tokens = 0 + input,
                              output_tokens = 0 + output,
                              cached_tokens = 0 + cached,
                              reasoning_tokens = 0 + reasoning},
               rounds = 1, usage = usage, cost = cost,
               cost_total = cost_total and 0 + cost_total}
      end
      text, errors, data = out, nil, nil
      if json then
        local perr
        data, perr = core.parse_json(text)
        if data == nil then errors = {perr.message}
        elseif check then errors = check(text, data) end
      end
      if (errors == nil or #errors == 0) and validator then
        -- a validator that finds nothing (it returns nil) costs one call
        local ok, res, timed_out, where
        if pre then
          ok, res, timed_out, where = pre[1], pre[2], pre[3], pre[4]
          pre = nil
        else
          ok, res, timed_out, where = call_limited(limit, validator, text,
                                                   data)
        end
        if ok and res == nil then
          errors = {}
        else
          local verr
          errors, verr = validate(limit, ok, res, timed_out, where)
          if not errors then return nil, put_totals(verr, acc) end
        end
      end
      errors = errors or {}
      if #errors == 0 then return text, errors, data, acc end
      if not final then
        if history == messages then
          history = {}
          for i = 1, #messages do history[i] = messages[i] end
          if req then req.messages = history end
        end
        history[#history + 1] = {role = "assistant", content = text}
        history[#history + 1] = {role = "user",
                                 content = feedback(errors, json)}
      end
    end
    if final then return text, errors, data, acc end
    round = round + 1
    if req then
      local call = call_totals
      out, usage, cost, cost_total, input, output, cached, reasoning =
        call(req, gw)
    else
      local call = call_task
      out, usage, cost, cost_total, input, output, cached, reasoning =
        call(history, gw, task)
    end
  end
end

-- The validation loop from its start: as retry_rounds, for any checked
-- arguments (overrides, a messages list with a metatable).
local function with_retry(gw, task, messages, validator, overrides, json)
  -- a plain list is sent as it is until a round adds to it (then a
  -- copy); a table with a metatable is copied through it at once
  local history = messages
  if getmetatable(messages) ~= nil then
    history = {}
    for i = 1, #messages do history[i] = messages[i] end
  end
  -- without overrides, no request table: call_task(history, gw, task)
  local req = overrides and request_of(task, history, overrides)
  local check = json and schema_check(overrides) or nil
  local out, usage, cost, cost_total, input, output, cached, reasoning
  if req then
    local call = call_totals
    out, usage, cost, cost_total, input, output, cached, reasoning =
      call(req, gw)
  else
    local call = call_task
    out, usage, cost, cost_total, input, output, cached, reasoning =
      call(history, gw, task)
  end
  return retry_rounds(gw, task, messages, validator, json, out, usage, cost,
                      cost_total, input, output, cached, reasoning,
                      overrides, history, req, check)
end

-- acc: the totals of with_retry, or a single result.
local function json_result(task, text, data, errors, acc)
  return {task = task, text = text, data = data, errors = errors,
          usage = acc.usage, cost = acc.cost,
          usage_total = acc.usage_total, cost_total = acc.cost_total}
end

-- The values of gw:run_task_with_retry from those of the loop: the
-- totals are the usage: {usage=, cost=, usage_total=, cost_total=,
-- rounds=}.
local function text_result(text, errors, _, acc)
  if not text then return nil, errors end
  return text, errors, acc
end

-- The values of gw:run_json_task_with_retry from those of the loop.
local function json_out(task, text, errors, data, acc)
  if not text then return nil, errors end
  return json_result(task, text, data, errors, acc)
end


-- The loop of gw:run_task_with_retry after its first answer out, whose
-- totals acc were made from call_task's values, when the validator ran
-- already (with the results ok, res, timed_out, where) and did not accept
-- the answer at once: the loop goes on from that outcome.
local function text_rounds(gw, task, messages, validator, out, acc, ok, res,
                           timed_out, where)
  local u = acc.usage_total
  return retry_rounds(gw, task, messages, validator, false, out, acc.usage,
                      acc.cost, acc.cost_total, u.input_tokens,
                      u.output_tokens, u.cached_tokens, u.reasoning_tokens,
                      nil, nil, nil, nil, {ok, res, timed_out, where})
end

-- Items started at once by a batch, per request the gateway runs at
-- once, unless opts.window says otherwise: enough to keep the gateway
-- busy while some items wait in a validator or between rounds, few enough
-- that a queued item costs only its request.
local WINDOW_PER_SLOT = 4

-- The error of an item that fail_fast kept from starting (as a task
-- canceled before it started).
local function not_started()
  return new_error("canceled", "the task was canceled")
end

-- Runs item(i, request) for every request, at most `window` at a time
-- (opts.window, or WINDOW_PER_SLOT x max_concurrent): that many tasks
-- each take the next request when their item ends. Results in order, a
-- failed item as {error = err}. fail_fast cancels the items in flight at
-- the first failure and starts no other.
local function batch(gw, requests, opts, item)
  local n, results = #requests, {}
  if n == 0 then return results end
  local window = opts.window or WINDOW_PER_SLOT * gw.runtime.max_concurrent
  local fail_fast, stopped, nexti = opts.fail_fast, false, 0
  local workers = {}
  core._batch(n, 0)
  local function worker(me)
    while not stopped and nexti < n do
      nexti = nexti + 1
      local i = nexti
      local ok, r, err = pcall(item, i, requests[i])
      core._batch(0, 1)
      if not ok then
        results[i] = {error = as_error(r)}
      elseif r == nil then
        results[i] = {error = err}
        if fail_fast and not stopped then
          stopped = true
          for w = 1, #workers do
            if w ~= me then workers[w]:cancel() end
          end
        end
      else
        results[i] = r
      end
    end
  end
  for w = 1, math.min(window, n) do workers[w] = core.spawn(worker, w) end
  for w = 1, #workers do
    -- (a worker fails only when fail_fast canceled it before it started)
    local ok, e = pcall(workers[w].wait, workers[w])
    if not ok and not stopped then error(e, 0) end
  end
  for i = 1, n do
    if results[i] == nil then results[i] = {error = not_started()} end
  end
  return results
end

--- gw:run_tasks(requests [, {fail_fast = true, window = n}])
-- The items of a *_with_retry batch (arguments checked): each request
-- through the validation loop with its validator, as a text or JSON
-- result.
local function retry_batch(gw, requests, validators, opts, json)
  return batch(gw, requests, opts, function(i, req)
    local text, errors, data, acc = with_retry(gw, req.task, req.messages,
                                               validators[i] or nil, req,
                                               json)
    if not text then return nil, errors end
    if json then return json_result(req.task, text, data, errors, acc) end
    acc.task, acc.text, acc.errors = req.task, text, errors
    return acc
  end)
end

--- gw:run_tasks_with_retry(requests [, validators [, opts]])

return function(settings_of_gw)
  settings_of = settings_of_gw
  return {
    typename = typename, argerror = argerror,
    callable = callable, check_self = check_self,
    check_task_args = check_task_args, check_requests = check_requests,
    check_validators = check_validators,
    check_batch_options = check_batch_options,
    new_error = new_error, error_text = error_text, clip = clip,
    FEEDBACK_CHARS = FEEDBACK_CHARS, OVERRIDES = OVERRIDES,
    new_totals = new_totals, add_totals = add_totals,
    put_totals = put_totals, request_of = request_of,
    schema_check = schema_check, retry_rounds = retry_rounds,
    with_retry = with_retry, text_rounds = text_rounds,
    text_result = text_result, json_result = json_result,
    json_out = json_out, batch = batch, retry_batch = retry_batch,
  }
end
