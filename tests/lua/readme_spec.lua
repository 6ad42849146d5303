-- Every ```lua block of README.md runs as a script of the host against a
-- fresh simulator, so that the README cannot drift from the code. The
-- convention (described in the README's Tests section), in comment lines
-- at the top of a block:
--
--   -- sim: <directives>          x-sim header of every request it makes
--   -- readme: skip (<reason>)    not run; the reason is required
--
-- A block passes when the host exits with status 0.
package.path = "./tests/lua/?.lua;" .. package.path
local spec = require("support.spec")

local BUILD, HOST = spec.BUILD, spec.HOST
local quote, read, write = spec.quote, spec.read, spec.write

-- The ```lua blocks of text: {line =, code =, sim =, skip =}, where sim
-- and skip come from the comment lines at the top of the block.
local function lua_blocks(text)
  local blocks, cur, n = {}, nil, 0
  for line in (text .. "\n"):gmatch("(.-)\r?\n") do
    n = n + 1
    if cur then
      if line:match("^%s*```%s*$") then
        blocks[#blocks + 1] = cur
        cur = nil
      else
        cur.lines[#cur.lines + 1] = line
      end
    elseif line:match("^%s*```lua%s*$") then
      cur = {line = n, lines = {}}
    end
  end
  assert(cur == nil, "README.md: a ```lua block is not closed")
  for _, b in ipairs(blocks) do
    for _, l in ipairs(b.lines) do
      if not l:match("^%s*%-%-") then break end
      b.sim = b.sim or l:match("^%s*%-%- sim: (.*)$")
      local skip = l:match("^%s*%-%- readme: skip%s*(.*)$")
      if skip then
        assert(skip:match("^%(.+%)$"), ("README.md:%d: readme: skip needs "
          .. "a reason in parentheses"):format(b.line))
        b.skip = skip
      end
    end
    b.code = table.concat(b.lines, "\n") .. "\n"
  end
  return blocks
end

-- A YAML single-quoted scalar.
local function yaml_str(s) return "'" .. s:gsub("'", "''") .. "'" end

local function config(base, directives)
  return table.concat({
    "version: 1",
    "providers:",
    "  - provider_type: openai",
    "    api_style: openai_chat",
    "    base_url: " .. yaml_str(base),
    "    api_key: readme-key",
    "    headers: {x-sim: " .. yaml_str(directives or "") .. "}",
    "settings:",
    "  fallback_model: gpt-5.4-mini",
    "  strong_model: gpt-5.4",
    "  weak_model: gpt-5.4-mini",
    "  strong_reasoning_effort: high",
    "  weak_reasoning_effort: low",
    "  transport_retries: 1",
    "  retry_max: 1",
    "  backoff_base: 0.01",
    "  backoff_max: 0.02",
    "  timeout: 10",
    "tasks:",
    "  analysis: {tier: weak, max_tokens: 4000}",
    "  planner: {tier: strong, max_tokens: 8000}",
    "  judge: {tier: weak, max_tokens: 200}",
  }, "\n") .. "\n"
end

-- Runs code as a host script in dir; returns exit code, stdout, stderr.
local function run(dir, code)
  local script, out, err = dir .. "/block.lua", dir .. "/out", dir .. "/err"
  write(script, code)
  local env = table.concat({
    "HOME=" .. quote(dir),
    "LLMGATEWAY_CONFIG=" .. quote(dir .. "/config.yaml"),
    "LLMGATEWAY_USER_CONFIG_DIR=" .. quote(dir),
    "LLMGATEWAY_PROVIDER_STATE=" .. quote(dir .. "/provider-state.json"),
    "LUA_PATH=" .. quote("./lua/?.lua;./lua/?/init.lua;;"),
    "LUA_CPATH=" .. quote("./" .. BUILD .. "/?.so;;"),
  }, " ")
  local ok, _, rc = os.execute(("cd %s && env %s timeout 120 %s "
    .. "--no-progress %s </dev/null >%s 2>%s"):format(quote("."), env,
    quote(HOST), quote(script), quote(out), quote(err)))
  return ok and 0 or rc, read(out), read(err)
end

describe("README.md", function()
  local blocks = lua_blocks(read("README.md"))
  local s = spec.sim()
  local dir

  lazy_setup(function() dir = spec.tmpdir() end)
  lazy_teardown(function()
    os.execute("rm -rf " .. quote(dir))
  end)

  it("has lua blocks to run", function()
    assert.is_true(#blocks >= 2)
  end)

  for i, b in ipairs(blocks) do
    local name = ("lua block %d (README.md:%d)"):format(i, b.line)
    if b.skip then
      pending(name .. " " .. b.skip)
    else
      it(name .. " runs", function()
        s.reset()
        os.remove(dir .. "/provider-state.json")
        write(dir .. "/config.yaml", config(s.base, b.sim))
        local rc, out, err = run(dir, b.code)
        assert(rc == 0, ("%s exited with %s\n-- stdout:\n%s\n-- stderr:\n%s")
          :format(name, tostring(rc), out, err))
      end)
    end
  end
end)

describe("paths named in the README and the examples", function()
  -- build/... tokens in the README and in the examples' comments
  local function paths()
    local out = {}
    local files = {"README.md"}
    local p = io.popen("ls examples/*.lua")
    for f in p:lines() do files[#files + 1] = f end
    p:close()
    for _, f in ipairs(files) do
      local n = 0
      for line in io.lines(f) do
        n = n + 1
        for start, path in line:gmatch("()(build/[%w_%-%./]*[%w_])") do
          local command = line:sub(1, start - 1):match("^[%s%-]*$") ~= nil
          out[#out + 1] = {where = f .. ":" .. n, path = path,
                           command = command}
        end
      end
    end
    return out
  end

  local function kind(path)
    local f = io.popen("stat -L -c %F " .. quote(path) .. " 2>/dev/null")
    local k = f:read("*l")
    f:close()
    return k
  end

  it("exist after make, and a command is a program", function()
    if BUILD ~= "build" then
      pending("the build directory is " .. BUILD)
      return
    end
    local found = paths()
    assert.is_true(#found > 5)
    for _, p in ipairs(found) do
      local k = kind(p.path)
      assert(k ~= nil, p.where .. ": " .. p.path .. " does not exist")
      if p.command then
        assert(k == "regular file" and os.execute("test -x " .. quote(p.path)),
          p.where .. ": " .. p.path .. " is not a program")
      end
    end
  end)
end)

describe("the README block extractor", function()
  it("reads directives and skips from the top comment lines", function()
    local blocks = lua_blocks(table.concat({
      "text", "```lua", "-- sim: reply=ok", "print(1)", "```",
      "```yaml", "a: 1", "```",
      "```lua", "-- readme: skip (needs a worker)", "x()", "```",
      "```lua", "print(2)", "-- sim: late", "```"}, "\n"))
    assert.equal(3, #blocks)
    assert.same({2, "reply=ok", nil, "-- sim: reply=ok\nprint(1)\n"},
      {blocks[1].line, blocks[1].sim, blocks[1].skip, blocks[1].code})
    assert.equal("(needs a worker)", blocks[2].skip)
    assert.is_nil(blocks[3].sim)
  end)

  it("refuses a skip without a reason", function()
    assert.has_error(function()
      lua_blocks("```lua\n-- readme: skip\n```\n")
    end)
  end)
end)
