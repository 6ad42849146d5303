-- json_task.lua -- a JSON task checked by a validator: the first answer
-- breaks the schema, the model is told what was wrong, and the second
-- answer passes.
--
--   build/bin/llmgateway -c examples/sim.yaml examples/json_task.lua
--
-- Against the simulator the "@sim" line makes the first answer invalid
-- (times=1: only once, counted under a fresh id per run). The retry's
-- answer echoes the validator's feedback, whose example then parses as
-- the JSON answer.
local llm = require("llmgateway")
local prompt, validators = llm.prompt, llm.validators

local gw = llm.Gateway(assert(llm.load_runtime_spec(llm.resolve_user_config_file())))

local function sim(directive)
  return os.getenv("LLMGATEWAY_SIM_URL") and ("\n@sim " .. directive) or ""
end

local ticket = validators.hint(validators.schema {
  type = "object",
  required = { "title", "priority", "labels" },
  properties = {
    title = { type = "string", minLength = 10, maxLength = 80 },
    priority = { type = "integer", minimum = 1, maximum = 4 },
    labels = { type = "array", minItems = 1, items = { type = "string" } },
  },
}, 'Reply with JSON only, for example {"title": "Export times out on large reports", "priority": 2, "labels": ["export"]}')

-- Record what the validator saw each round, to show the retry.
local rounds = {}
local function check(text, data)
  local errs = ticket(text, data)
  rounds[#rounds + 1] = errs
  return errs
end

local messages = prompt.messages(
  prompt.system("You turn bug reports into tickets. Reply with JSON only."),
  prompt.user("Bug report: exporting a report with 12,000 rows spins for 30 seconds "
    .. "and then shows 'Gateway Timeout'. Return a JSON ticket with title, "
    .. "priority (1-4) and labels."
    .. sim(string.format('times=1 id=json-task-%d-%d reply={"title": "Export", "priority": "high"}',
      os.time(), math.random(1000000000)))))

local result, err = gw:run_json_task_with_retry("analysis", messages, check)
if not result then
  print("request failed: " .. tostring(err))
  os.exit(1)
end

for i, errs in ipairs(rounds) do
  if #errs == 0 then
    print(string.format("round %d: valid", i))
  else
    print(string.format("round %d: %d problem(s)", i, #errs))
    for _, e in ipairs(errs) do print("  - " .. e) end
  end
end
print(string.format("validation retries: %d", #rounds - 1))
if #result.errors > 0 then os.exit(1) end
print(string.format("ticket: %q, priority %d, labels %s", result.data.title,
  result.data.priority, table.concat(result.data.labels, ", ")))
