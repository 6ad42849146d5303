-- tools.lua -- a two-tool agent: the model may call get_weather and
-- get_time, which are plain Lua functions; gw:run_tools runs the calls
-- it asks for (each in its own task, so both run at once), sends the
-- results back, and stops when the model answers with text.
--
--   build/bin/llmgateway -c examples/sim.yaml examples/tools.lua
--
-- Against the simulator the "@sim" line plays the model: it asks for both
-- tools at once, then for the weather in a second city, and finally
-- answers with the tool results it received.
local llm = require("llmgateway")

local gw = llm.Gateway(assert(llm.load_runtime_spec(llm.resolve_user_config_file())))

local function sim(directive)
  return os.getenv("LLMGATEWAY_SIM_URL") and ("\n@sim " .. directive) or ""
end

local tools = {
  {name = "get_weather", description = "Current weather in a city",
   parameters = {type = "object", required = {"city"},
                 properties = {city = {type = "string"}}}},
  {name = "get_time", description = "Local time in an IANA time zone",
   parameters = {type = "object", required = {"zone"},
                 properties = {zone = {type = "string"}}}},
}

local WEATHER = {Paris = {sky = "cloudy", celsius = 14},
                 Rome = {sky = "sunny", celsius = 21}}

local handlers = {
  get_weather = function(args)
    llm.sleep(0.05)  -- a slow lookup; get_time runs meanwhile
    local w = WEATHER[args.city]
    if not w then error("no weather station in " .. tostring(args.city), 0) end
    return {city = args.city, sky = w.sky, celsius = w.celsius}
  end,
  get_time = function(args)
    return args.zone .. " 09:30"
  end,
}

local request = {
  task = "analysis",
  tools = tools,
  messages = {
    {role = "system", content = "Use the tools; answer in one sentence."},
    {role = "user", content = "Should I walk to work in Paris this morning, "
      .. "or go to Rome for the day?"
      .. sim('tool=get_weather args={"city":"Paris"} '
        .. 'tool=get_time args={"zone":"Europe/Paris"} '
        .. 'then=get_weather args={"city":"Rome"}')},
  },
}

local result, err = gw:run_tools(request, handlers, {
  max_steps = 4,
  on_step = function(step)
    for i, call in ipairs(step.calls) do
      print(string.format("call %s(%s) -> %s%s", call.name, call.arguments_json,
        step.results[i].content, step.results[i].is_error and " (error)" or ""))
    end
  end,
})
if not result then
  print("tool loop failed: " .. tostring(err))
  os.exit(1)
end
print(string.format("%d step(s) with tools, %d messages in the conversation",
  #result.steps, #result.messages))
print(string.format("tokens over every step: %d in, %d out",
  result.usage_total.input_tokens, result.usage_total.output_tokens))
print("answer: " .. result.text)
