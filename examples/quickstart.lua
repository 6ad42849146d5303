-- quickstart.lua -- a small llmgateway pipeline: summarize a few notes at
-- once, then ask for a JSON verdict that a validator checks (and has the
-- model redo when it is wrong).
--
--   build/bin/llmgateway -c ~/.llmgateway/config.yaml examples/quickstart.lua
--   sh examples/demo.sh build        (offline, against llmgateway-sim)
--
-- Against the simulator (LLMGATEWAY_SIM_URL set) the prompts carry "@sim"
-- lines that script its answers: the first verdict comes back with an
-- invalid "risk", so one validation retry is shown. The simulator echoes
-- the last user turn, i.e. the validator's feedback, whose example of a
-- correct answer then parses as the second verdict.
local llm = require("llmgateway")
local prompt, pipeline, validators = llm.prompt, llm.pipeline, llm.validators

local runtime = assert(llm.load_runtime_spec(llm.resolve_user_config_file()))
local gw = llm.Gateway(runtime)

-- A simulator directive line, or nothing against a real provider.
local function sim(directive)
  return os.getenv("LLMGATEWAY_SIM_URL") and ("\n@sim " .. directive) or ""
end

-- Time a result spent in HTTP attempts and backoff, in seconds.
local function seconds(attempts)
  local total = 0
  for _, a in ipairs(attempts or {}) do total = total + a.elapsed + a.retry_delay end
  return total
end

local function describe_attempts(attempts)
  local parts = {}
  for i, a in ipairs(attempts) do
    parts[i] = string.format("%s %s (%.3f s%s)", a.base_url,
      a.code .. (a.status > 0 and (" " .. a.status) or ""), a.elapsed,
      a.retry_delay > 0 and string.format(", then %.3f s backoff", a.retry_delay) or "")
  end
  return table.concat(parts, " -> ")
end

-- 1. Summaries, three at a time -------------------------------------------

local notes = {
  "The build server ran out of disk twice this week because old artifacts were never pruned.",
  "Customers report that exporting reports over 10,000 rows times out after 30 seconds.",
  "The new onboarding flow raised week-one retention from 41% to 48%.",
}
local ask = prompt.template("Summarize this note in one sentence for a status report: {{note}}")

print("== summaries")
local results, errors = pipeline.map(gw, notes, function(note)
  return gw:call { task = "analysis",
                   messages = prompt.chat("You write terse status reports.", ask { note = note }) }
end, { concurrency = 3 })

for i = 1, results.n do
  local r = results[i]
  if r then
    print(string.format("[%d] %s", i, r.text))
    print(string.format("    answered by %s (%s, model %s), %d attempt(s), %.3f s, %d+%d tokens",
      r.provider.base_url, r.provider.api_style, r.normalized_model, #r.attempts,
      seconds(r.attempts), r.usage.input_tokens or 0, r.usage.output_tokens or 0))
    if #r.attempts > 1 then print("    attempts: " .. describe_attempts(r.attempts)) end
  end
end
for _, e in ipairs(errors) do print(string.format("[%d] failed: %s", e.index, tostring(e.error))) end

-- 2. A JSON verdict, validated --------------------------------------------

local verdict_shape = validators.schema {
  type = "object",
  required = { "summary", "risk" },
  additionalProperties = false,
  properties = {
    summary = { type = "string", minLength = 10 },
    risk = { enum = { "low", "medium", "high" } },
  },
}
local check = validators.hint(verdict_shape,
  'Answer with one JSON object like {"summary": "Disk and export problems need fixing", "risk": "medium"}')

-- What the validator found each round, to show the retry.
local rounds = {}
local function counted(text, data)
  local errs = check(text, data)
  rounds[#rounds + 1] = errs
  return errs
end

local summaries = {}
for i = 1, results.n do summaries[#summaries + 1] = results[i] and results[i].text end

print("== verdict")
local verdict, err = gw:run_json_task_with_retry("planner", prompt.chat(
  "You are a release manager. Reply with JSON only.",
  "Given these status notes, return a JSON object with a one-sentence "
    .. "\"summary\" and a \"risk\" of low, medium or high.\n"
    .. table.concat(summaries, "\n")
    .. sim(string.format('times=1 id=quickstart-%d-%d reply={"summary": "Mixed week", "risk": "severe"}',
      os.time(), math.random(1000000000)))), counted)

if not verdict then
  print("verdict failed: " .. tostring(err))
  os.exit(1)
end
for i, errs in ipairs(rounds) do
  print(string.format("round %d: %s", i, #errs == 0 and "valid" or "rejected"))
  for _, e in ipairs(errs) do print("  - " .. e) end
end
print(string.format("validation retries: %d", #rounds - 1))
if #verdict.errors > 0 then os.exit(1) end
print(string.format("summary: %s", verdict.data.summary))
print(string.format("risk: %s", verdict.data.risk))
