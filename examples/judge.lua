-- judge.lua -- a validator that asks a model: one LLM judges another's
-- answer, and a rejection sends the answer back for another round.
--
--   build/bin/llmgateway -c examples/sim.yaml examples/judge.lua
--
-- Validators run in the caller's task, so the judge's own gateway call is
-- an ordinary call. Against the simulator the judge rejects the first
-- answer (an "@sim" reply, once) and accepts the second: its echoed prompt
-- contains the example verdict, which parses as the reply.
local llm = require("llmgateway")
local prompt, validators = llm.prompt, llm.validators

local gw = llm.Gateway(assert(llm.load_runtime_spec(llm.resolve_user_config_file())))

local function sim(directive)
  return os.getenv("LLMGATEWAY_SIM_URL") and ("\n@sim " .. directive) or ""
end

local verdict_shape = validators.json_object {
  required = { "pass", "reason" },
  types = { pass = "boolean", reason = "string" },
}
local run_id = string.format("%d-%d", os.time(), math.random(1000000000))
local judged = 0

-- judge(criteria) -> validator: fine when the judge model says it passes.
local function judge(criteria)
  return function(text)
    judged = judged + 1
    local verdict, err = gw:run_json_task("judge", prompt.chat(
      "You review answers strictly against the criteria.",
      "Criteria: " .. criteria .. "\n\nAnswer to review:\n" .. text
        .. '\n\nReply with JSON only, like {"pass": true, "reason": "states a concrete next step"}'
        .. sim('times=1 id=judge-' .. run_id
          .. ' reply={"pass": false, "reason": "it does not name a concrete next step"}')))
    if not verdict then return { "the judge could not be asked: " .. tostring(err) } end
    local problems = verdict_shape(verdict.text, verdict.data)
    if #problems > 0 then return { "the judge's verdict was unusable: " .. problems[1] } end
    print(string.format("judge round %d: %s (%s)", judged,
      verdict.data.pass and "pass" or "fail", verdict.data.reason))
    if verdict.data.pass then return {} end
    return { "a reviewer rejected the answer: " .. verdict.data.reason }
  end
end

local text, errors = gw:run_task_with_retry("analysis",
  prompt.chat("You are an on-call engineer.",
    "The nightly backup failed with 'disk full'. What should happen next?"),
  judge("names one concrete next step"))

if not text then
  print("request failed: " .. tostring(errors))
  os.exit(1)
end
print("answer: " .. text)
print(string.format("judged %d time(s); %s", judged,
  #errors == 0 and "accepted" or ("still rejected: " .. table.concat(errors, "; "))))
os.exit(#errors == 0 and 0 or 1)
