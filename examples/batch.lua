-- batch.lua -- fifty requests under the configured concurrency limit with
-- gateway:run_tasks. A failed item carries its error in place; the other
-- items still get their answers.
--
--   build/bin/llmgateway -c examples/sim.yaml examples/batch.lua
--
-- Against the simulator every seventh request is told to fail with HTTP
-- 400 (a request problem: not retried, and no other provider does better).
local llm = require("llmgateway")
local prompt = llm.prompt

local gw = llm.Gateway(assert(llm.load_runtime_spec(llm.resolve_user_config_file())))

local function sim(directive)
  return os.getenv("LLMGATEWAY_SIM_URL") and ("\n@sim " .. directive) or ""
end

local requests = {}
for i = 1, 50 do
  requests[i] = {
    task = "analysis",
    messages = prompt.chat("Answer with one word.",
      string.format("Item %d: is %d a prime number?", i, i) .. (i % 7 == 0 and sim("status=400") or "")),
  }
end

local results = gw:run_tasks(requests)

-- "HTTP 400 at <url>, connect at <url>": what each attempt ran into.
local function outcomes(attempts)
  local parts = {}
  for i, a in ipairs(attempts) do
    parts[i] = (a.status > 0 and ("HTTP " .. a.status) or a.code) .. " at " .. a.base_url
  end
  return table.concat(parts, ", ")
end

local ok, failed, tokens, busiest = 0, {}, 0, 0
for i, r in ipairs(results) do
  if r.error then
    failed[#failed + 1] = i
    print(string.format("item %2d failed: %s (%s)", i, r.error.code, outcomes(r.error.attempts)))
  else
    ok = ok + 1
    tokens = tokens + (r.usage.input_tokens or 0) + (r.usage.output_tokens or 0)
    for _, a in ipairs(r.attempts) do busiest = math.max(busiest, a.elapsed) end
  end
end
print(string.format("first answer: %s", results[1].text or "-"))
print(string.format("%d requests: %d ok, %d failed (items %s)", #requests, ok, #failed,
  #failed > 0 and table.concat(failed, ", ") or "none"))
print(string.format("tokens: %d; slowest attempt %.3f s; max_concurrent %d",
  tokens, busiest, gw.runtime.max_concurrent))
