-- Specs for llmgateway.prompt: messages and templates.
local p = require("llmgateway.prompt")

describe("prompt messages", function()
  it("builds role/content tables", function()
    assert.same({ role = "system", content = "s" }, p.system("s"))
    assert.same({ role = "user", content = "u" }, p.user("u"))
    assert.same({ role = "assistant", content = "a" }, p.assistant("a"))
  end)

  it("rejects non-string content", function()
    assert.has_error(function() p.user(nil) end, "bad argument #1 to 'user' (string expected, got nil)")
  end)

  it("messages flattens lists, wraps strings and skips nil", function()
    local few = { p.user("q1"), p.assistant("a1") }
    assert.same({
      { role = "system", content = "s" },
      { role = "user", content = "q1" },
      { role = "assistant", content = "a1" },
      { role = "user", content = "q2" },
    }, p.messages(p.system("s"), nil, few, false, "q2"))
  end)

  it("messages rejects what is not a message", function()
    assert.has_error(function() p.messages(p.user("a"), 3) end,
      "bad argument #2 to 'messages' (message, list of messages or string expected, got number)")
    assert.has_error(function() p.messages({ { content = "x" } }) end,
      "bad argument #1 to 'messages' ([1]: message {role=, content=} expected, got table)")
  end)

  it("chat builds a system and a user turn", function()
    assert.same({ { role = "system", content = "be brief" }, { role = "user", content = "hi" } },
      p.chat("be brief", "hi"))
    assert.same({ { role = "user", content = "hi" } }, p.chat(nil, "hi"))
  end)
end)

describe("prompt templates", function()
  it("fills named placeholders", function()
    local t = p.template("Summarize {{topic}} in {{ n }} words. {{topic}}!")
    assert.equals("Summarize Lua in 10 words. Lua!", t { topic = "Lua", n = 10 })
  end)

  it("inserts values verbatim", function()
    assert.equals("a %1 {{b}}", p.render("a {{x}}", { x = "%1 {{b}}" }))
  end)

  it("names a missing placeholder", function()
    assert.has_error(function() p.render("about {{topic}}", {}) end,
      "bad argument #2 to 'render' (missing value for {{topic}})")
  end)

  it("names every missing placeholder once, in order", function()
    local t = p.template("{{a}} {{b}} {{a}} {{c}}")
    assert.has_error(function() t { b = 1 } end, "bad argument #1 to 'template' (missing values for {{a}}, {{c}})")
  end)

  it("rejects values that are not text", function()
    assert.has_error(function() p.render("{{x}}", { x = {} }) end,
      "bad argument #2 to 'render' ({{x}}: string or number expected, got table)")
  end)

  it("leaves text without placeholders alone", function()
    assert.equals("{ not } {{1x}}", p.render("{ not } {{1x}}"))
  end)
end)

describe("prompt.few_shot", function()
  it("turns examples into user/assistant pairs after a system message", function()
    assert.same({
      { role = "system", content = "Classify." },
      { role = "user", content = "great" }, { role = "assistant", content = "positive" },
      { role = "user", content = "awful" }, { role = "assistant", content = "negative" },
    }, p.few_shot({ { input = "great", output = "positive" }, { "awful", "negative" } },
                  { system = "Classify." }))
  end)

  it("uses the configured keys", function()
    assert.same({ { role = "user", content = "q" }, { role = "assistant", content = "a" } },
      p.few_shot({ { q = "q", a = "a" } }, { input_key = "q", output_key = "a" }))
  end)

  it("names a malformed example", function()
    assert.has_error(function() p.few_shot({ { input = "x" } }) end,
      "bad argument #1 to 'few_shot' ([1]: example with string input and output expected)")
    assert.has_error(function() p.few_shot({}, { sytem = "s" }) end,
      "bad argument #2 to 'few_shot' (unknown key 'sytem', did you mean 'system'?)")
  end)
end)
