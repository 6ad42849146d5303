-- failover.lua -- provider failover and the remembered provider.
--
--   build/bin/llmgateway -c examples/sim.yaml examples/failover.lua
--
-- Takes the last provider of the configuration as the healthy one and puts
-- a provider nobody answers for (a closed port) in front of it. The first
-- call retries the dead provider, fails over and succeeds; the gateway
-- remembers the provider that answered, so the second call goes straight
-- to it.
local llm = require("llmgateway")
local prompt = llm.prompt

local config = assert(llm.load_user_config())
local providers = config.providers or {}
assert(#providers > 0, "the configuration lists no providers")

local runtime = assert(llm.runtime_spec_from_dict {
  providers = {
    { provider_type = "openai", api_style = "openai_chat",
      base_url = "http://127.0.0.1:9", api_key = "unused" },
    providers[#providers],
  },
  settings = config.settings,
  tasks = config.tasks,
})

-- A private state file, so that every run starts with nothing remembered.
local state_file = os.tmpname()
os.remove(state_file)
local gw = llm.Gateway(runtime, { state_file = state_file })

local function show(label, result, err)
  print("== " .. label)
  local attempts = result and result.attempts or err.attempts or {}
  for i, a in ipairs(attempts) do
    print(string.format("attempt %d: %s -> %s%s (%.3f s%s)", i, a.base_url,
      a.code, a.status > 0 and (" " .. a.status) or "", a.elapsed,
      a.retry_delay > 0 and string.format(", then waited %.3f s", a.retry_delay) or ""))
  end
  if result then
    print(string.format("answered by provider %d (%s): %s", result.provider.index,
      result.provider.base_url, result.text))
  else
    print("failed: " .. tostring(err))
  end
end

local question = prompt.chat("Be brief.", "Name one benefit of provider failover.")
local first, err1 = gw:call { task = "analysis", messages = question }
show("first call", first, err1)
local second, err2 = gw:call { task = "analysis", messages = question }
show("second call (remembered provider first)", second, err2)

gw:close()
os.remove(state_file)
os.exit(first and second and 0 or 1)
