-- Specs for the provider-state file as a user meets it: replacing and
-- merging writes, what happens when the path holds something that is not
-- a state file (a symlink to a user's file, a FIFO, a corrupt file), and
-- how many warnings a run prints about it.
package.path = "./tests/lua/?.lua;" .. package.path
local spec = require("support.spec")
local llm = require("llmgateway")

local quote, read, write, sh = spec.quote, spec.read, spec.write, spec.sh

local function lines_of(cmd)
  local p = io.popen(cmd)
  local t = {}
  for l in p:lines() do t[#t + 1] = l end
  p:close()
  return t
end

local function count(s, pattern)
  local n = 0
  for _ in s:gmatch(pattern) do n = n + 1 end
  return n
end

local S = '{\n  "preferred_by_config": {\n%s\n  }\n}\n'

describe("provider state file", function()
  local s = spec.sim()
  local tmp

  lazy_setup(function()
    tmp = os.tmpname()
    os.remove(tmp)
    assert(os.execute("mkdir -p " .. quote(tmp)))
    -- the resolver returns symlink-free directories: compare against those
    tmp = lines_of("realpath " .. quote(tmp))[1]
  end)
  lazy_teardown(function()
    os.execute("rm -rf " .. quote(tmp))
  end)

  -- Runs the host with a one-provider gateway on the simulator, state in
  -- state_file, making one call; returns exit code, stdout, stderr.
  local function run_gateway(state_file)
    local code = ([[
local llm = require("llmgateway")
local gw = assert(llm.Gateway({providers = {{provider_type = "openai",
  api_style = "openai_chat", base_url = %q, api_key = "state-key"}},
  settings = {fallback_model = "m"}}, {state_file = %q}))
local r = assert(gw:call({task = "t", messages = {{role = "user",
  content = "hi"}}}))
print(r.text)
]]):format(s.base, state_file)
    local script = tmp .. "/run.lua"
    write(script, code)
    return sh(quote(spec.HOST) .. " " .. quote(script))
  end

  describe("write_provider_state", function()
    it("replaces the mapping", function()
      local path = tmp .. "/replace.json"
      write(path, S:format('    "old": "x"'))
      assert.equal(path, llm.write_provider_state({new = "y"}, path))
      assert.equal(S:format('    "new": "y"'), read(path))
      assert.same({new = "y"}, llm.load_provider_state(path))
    end)
  end)

  describe("update_provider_state", function()
    it("merges into what the file holds", function()
      local path = tmp .. "/merge.json"
      write(path, S:format('    "a": "1",\n    "b": "2"'))
      assert.equal(path, llm.update_provider_state({b = "3", c = 4}, path))
      assert.equal(S:format('    "a": "1",\n    "b": "3",\n    "c": "4"'),
        read(path))
    end)

    it("creates a missing file and its directories", function()
      local path = tmp .. "/new/dir/state.json"
      assert.equal(path, llm.update_provider_state({k = "v"}, path))
      assert.same({k = "v"}, llm.load_provider_state(path))
    end)

    it("checks the mapping", function()
      local ok, err = pcall(function()
        return llm.update_provider_state({k = true}, tmp .. "/x.json")
      end)
      assert.is_false(ok)
      assert.matches("bad argument #1 to 'update_provider_state' %(keys and "
        .. "values must be strings%)", err)
    end)
  end)

  describe("a symlink at the path", function()
    it("is not resolved by resolve_provider_state_file", function()
      local link = tmp .. "/resolve-link.json"
      assert(os.execute("ln -s /etc/hostname " .. quote(link)))
      assert.equal(link, llm.resolve_provider_state_file(link))
      -- directories on the way are still resolved
      assert(os.execute("ln -s " .. quote(tmp) .. " " .. quote(tmp .. "/d")))
      assert.equal(tmp .. "/s.json",
        llm.resolve_provider_state_file(tmp .. "/d/s.json"))
    end)

    it("leaves the user's file intact, with one warning", function()
      local user = tmp .. "/my-notes.txt"
      local link = tmp .. "/linked-state.json"
      write(user, "my notes\n")
      assert(os.execute("chmod 644 " .. quote(user)))
      assert(os.execute("ln -s " .. quote(user) .. " " .. quote(link)))
      local rc, out, err = run_gateway(link)
      assert.equal(0, rc)
      assert.equal("echo(m): hi\n", out)
      assert.equal("llmgateway: warning: ignoring provider state file "
        .. link .. ": not a regular file (symbolic link); it is neither "
        .. "read nor replaced\n", err)
      assert.equal("my notes\n", read(user))
      assert.same({"644"}, lines_of("stat -c %a " .. quote(user)))
      assert.same({"symbolic link"}, lines_of("stat -c %F " .. quote(link)))
    end)

    it("is refused by write and update", function()
      local user = tmp .. "/other-notes.txt"
      local link = tmp .. "/linked2.json"
      write(user, "keep\n")
      assert(os.execute("ln -s " .. quote(user) .. " " .. quote(link)))
      local path, err = llm.write_provider_state({k = "v"}, link)
      assert.is_nil(path)
      assert.equal("provider state file " .. link .. " not written: not a "
        .. "regular file (symbolic link)", err.message)
      path, err = llm.update_provider_state({k = "v"}, link)
      assert.is_nil(path)
      assert.equal("io", err.code)
      assert.equal("keep\n", read(user))
    end)
  end)

  it("a FIFO does not hang a run and is left in place", function()
    local fifo = tmp .. "/fifo.json"
    assert(os.execute("mkfifo " .. quote(fifo)))
    local rc, out, err = sh("timeout 10 " .. quote(spec.HOST) .. " -e "
      .. quote(("run = nil; local llm = require('llmgateway'); "
        .. "print(next(llm.load_provider_state(%q)))"):format(fifo)))
    assert.equal(0, rc)
    assert.equal("nil\n", out)
    assert.matches("not a regular file %(FIFO%)", err)
    assert.same({"fifo"}, lines_of("stat -c %F " .. quote(fifo)))
  end)

  it("a corrupt file gives one warning per run and is kept aside",
    function()
      local path = tmp .. "/corrupt.json"
      write(path, "{\"preferred_by_config\": ")
      local rc, out, err = run_gateway(path)
      assert.equal(0, rc)
      assert.equal("echo(m): hi\n", out)
      assert.equal(1, count(err, "warning"))
      assert.equal("llmgateway: warning: ignoring provider state file "
        .. path .. ": JSON parse error: Expecting value: line 1 column 25 "
        .. "(char 24); it is kept as " .. path .. ".corrupt-<UTC time> when "
        .. "the state is next written\n", err)
      local kept = lines_of("ls " .. quote(tmp)
        .. " | grep -F corrupt.json.corrupt-")
      assert.equal(1, #kept)
      assert.matches("^corrupt%.json%.corrupt%-%d%d%d%d%d%d%d%dT%d%d%d%d%d%dZ$",
        kept[1])
      assert.equal("{\"preferred_by_config\": ", read(tmp .. "/" .. kept[1]))
      local n = 0
      for _ in pairs(llm.load_provider_state(path)) do n = n + 1 end
      assert.equal(1, n)
    end)

  it("a lock failure names the state file", function()
    local path = tmp .. "/locked.json"
    assert(os.execute("mkdir " .. quote(path .. ".lock")))
    local p, err = llm.update_provider_state({k = "v"}, path)
    assert.is_nil(p)
    assert.equal("cannot lock provider state file " .. path .. ": Is a "
      .. "directory", err.message)
  end)
end)
