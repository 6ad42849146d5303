-- queue_producer.lua -- pushes jobs to a queue and collects their results
-- (while workers run examples/queue_worker.lua, here or on other hosts):
--
--   build/bin/llmgateway examples/queue_producer.lua redis://127.0.0.1:6379/0 notes
--
-- push stores a request (any JSON value) and returns its job id; wait
-- returns the job's result once some worker finished it (each job gets
-- exactly one result, however often it ran); stats shows the queue.
local llm = require("llmgateway")

local url = arg[1] or "redis://127.0.0.1:6379/0"
local name = arg[2] or "notes"
local q = assert(llm.queue(url, name))

local notes = {
  "The release moves the config loader to C and keeps the YAML format.",
  "Workers take jobs from Redis and a dead worker's jobs are taken over.",
  "Every job ends with exactly one result, or in the dead letters.",
}

local ids = {}
for i, text in ipairs(notes) do
  ids[i] = assert(q:push({ text = text }))
end
local st = assert(q:stats())
print(("pushed %d jobs (waiting %d, in flight %d)"):format(#ids, st.length,
  st.in_flight))

for i, id in ipairs(ids) do
  local result, err = q:wait(id, 120)
  if result then
    print(("job %d: %s"):format(i, result.summary))
  else
    print(("job %d failed: %s"):format(i, err.message))
  end
end
st = assert(q:stats())
print(("done %d, failed %d"):format(st.done, st.failed))
q:close()
