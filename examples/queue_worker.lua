-- queue_worker.lua -- the pipeline a worker runs on every job of a queue.
-- Start any number of workers, on any hosts that reach the same Redis:
--
--   build/bin/llmgateway worker -c examples/sim.yaml \
--     --queue redis://127.0.0.1:6379/0 --name notes examples/queue_worker.lua
--
-- The main chunk returns the pipeline function. It runs as a task per job
-- with the decoded request, a gateway built from the worker's config and
-- the job's {id, delivery, max_deliveries}; what it returns is stored as
-- the job's result (JSON). An error (raised, or nil, err) sends the job
-- back to the queue: it is delivered again after the visibility timeout,
-- and fails for good on its last delivery. Validators and multi-step
-- pipelines therefore run here, on the workers.
local llm = require("llmgateway")

-- A summary must be one line and mention what it summarizes.
local function one_line(text)
  if text:find("\n") then return { "the summary must be a single line" } end
end

return function(request, gw, job)
  if type(request.text) ~= "string" then
    -- Retrying cannot fix a malformed job: fail it at once.
    return nil, { message = "the job has no text", retry = false }
  end
  -- Step 1: a summary, checked by a validator (with feedback rounds).
  local summary, errors = gw:run_task_with_retry("analysis",
    llm.prompt.chat("Summarize in one line.", request.text), one_line)
  if not summary then return nil, errors end
  -- Step 2: keywords for the summary.
  local keywords, err = gw:run_task("analysis",
    llm.prompt.chat("List three keywords.", summary))
  if not keywords then return nil, err end
  return { summary = summary, keywords = keywords,
           problems = #errors, delivery = job.delivery }
end
