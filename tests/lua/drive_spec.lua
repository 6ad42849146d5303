-- Specs for driving the module from a host's own loop: llm.fd(),
-- llm.timeout(), llm.step(), gw:call_async and llmgateway.luv.
package.path = "./tests/lua/?.lua;" .. package.path
local llm = require("llmgateway")
local spec = require("support.spec")
local socket = require("socket")

local user = spec.user

-- A host loop: step, then sleep what timeout() says (at most 5 ms, as a
-- poll() on fd would return earlier when something arrives).
local function drive(until_fn)
  local steps, deadline = 0, socket.gettime() + 10
  while not until_fn() and socket.gettime() < deadline do
    local t0 = socket.gettime()
    llm.step()
    steps = steps + 1
    assert.is_true(socket.gettime() - t0 < 0.5, "step blocked")
    local ms = llm.timeout()
    socket.sleep((ms < 0 or ms > 5) and 0.005 or ms / 1000)
  end
  return steps
end

describe("a host's loop", function()
  local s = spec.sim()
  local gw
  lazy_setup(function()
    gw = assert(llm.Gateway({
      providers = {{provider_type = "p", api_style = "openai_chat",
                    base_url = s.base, api_key = "k"}},
      settings = {fallback_model = "m"},
    }, {no_state = true}))
  end)
  lazy_teardown(function() gw:close() end)

  it("fd is a descriptor; nothing to do: timeout -1, step 0", function()
    assert.is_true(llm.fd() >= 0)
    -- what earlier specs left to close finishes first
    for _ = 1, 100 do
      if llm.timeout() ~= 0 then break end
      llm.step()
    end
    assert.equal(-1, llm.timeout())
    assert.equal(0, llm.step())
  end)

  it("a spawned task: timeout 0 until stepped, then its sleep", function()
    local done = false
    llm.spawn(function() llm.sleep(0.05) done = true end)
    assert.equal(0, llm.timeout())
    assert.equal(1, llm.step())
    local ms = llm.timeout()
    assert.is_true(ms > 0 and ms <= 50, tostring(ms))
    drive(function() return done end)
    assert.is_true(done)
    assert.equal(0, llm.step())
  end)

  it("gw:call_async calls back with the result, the loop never blocked",
     function()
    local got, gerr
    local task = gw:call_async({task = "t", messages = user("hi")},
      function(r, err) got, gerr = r, err end)
    local steps = drive(function() return got or gerr end)
    assert.is_nil(gerr)
    assert.equal("echo(m): hi", got.text)
    assert.is_true(steps >= 1)
    assert.is_true(task:done())
  end)

  it("gw:call_async checks its arguments", function()
    assert.has_error(function() gw:call_async("x", print) end,
      "bad argument #1 to 'call_async' (table expected, got string)")
    assert.has_error(function() gw:call_async({}, 5) end,
      "bad argument #2 to 'call_async' (function expected, got number)")
  end)

  it("step refuses to run inside a task", function()
    local err
    llm.run(function()
      local ok, e = pcall(llm.step)
      err = not ok and tostring(e)
    end)
    assert.truthy(err and err:find("cannot step here", 1, true), err)
  end)

  local have_luv, uv = pcall(require, "luv")
  local luv_it = have_luv and it or pending
  luv_it("llmgateway.luv runs calls from a luv loop (luv installed)",
         function()
    local handle = require("llmgateway.luv").attach(uv)
    local got, ticks = nil, 0
    local timer = uv.new_timer()
    timer:start(5, 5, function() ticks = ticks + 1 end)
    gw:call_async({task = "t", messages = user("luv")}, function(r)
      got = r
      timer:stop()
      timer:close()
      handle.detach()
    end)
    uv.run()
    assert.equal("echo(m): luv", got and got.text)
  end)
end)
