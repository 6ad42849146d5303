-- Specs for llmgateway.validators: the error lines a model is shown.
local v = require("llmgateway.validators")

-- The real module when the C core is built; the JSON-null and text-parsing
-- cases need it.
local have_llm, llm = pcall(require, "llmgateway")

describe("validators.json_object", function()
  local check = v.json_object { required = { "summary", "risk" },
                                types = { summary = "string", risk = { "number", "null" } } }

  it("accepts a matching object", function()
    assert.same({}, check("", { summary = "s", risk = 3 }))
  end)

  it("names each missing required key, in order", function()
    assert.same({ '$: missing required key "summary"', '$: missing required key "risk"' },
      check("", { other = 1 }))
  end)

  it("names the key and the types on a mismatch, keys sorted", function()
    assert.same({ "$.risk: expected number or null, got string",
                  "$.summary: expected string, got number" },
      check("", { summary = 1, risk = "high" }))
  end)

  it("rejects a non-object", function()
    assert.same({ "$: expected object, got array" }, check("", { 1, 2 }))
    assert.same({ "$: expected object, got string" }, check("", "x"))
  end)

  it("treats integer as a number without a fraction", function()
    local c = v.json_object { types = { n = "integer" } }
    assert.same({}, c("", { n = 3 }))
    assert.same({}, c("", { n = 3.0 }))
    assert.same({ "$.n: expected integer, got number" }, c("", { n = 3.5 }))
  end)

  it("raises at build time on an unknown type name", function()
    assert.has_error(function() v.json_object { types = { a = "strng" } } end,
      "bad argument #1 to 'json_object' (types.a: unknown type \"strng\" (expected one of string, "
      .. 'number, integer, boolean, array, object, null))')
    assert.has_error(function() v.json_object { requird = { "a" } } end,
      "bad argument #1 to 'json_object' (unknown key 'requird', did you mean 'required'?)")
  end)

  it("parses the text when no data is given", function()
    if not have_llm then return pending("llmgateway core not built") end
    assert.same({}, check('{"summary":"s","risk":null}'))
    assert.same({ '$: missing required key "risk"' }, check('{"summary":"s"}'))
    local errs = check("not json at all")
    assert.equals(1, #errs)
    assert.matches("^%$: not valid JSON %(", errs[1])
  end)

  it("counts llm.null as JSON null", function()
    if not have_llm then return pending("llmgateway core not built") end
    assert.same({}, check("", { summary = "s", risk = llm.null }))
    assert.same({ "$.summary: expected string, got null" },
      check("", { summary = llm.null, risk = 1 }))
  end)
end)

describe("validators.schema", function()
  local s = v.schema {
    type = "object",
    required = { "status", "items" },
    additionalProperties = false,
    properties = {
      status = { enum = { "ok", "fail" } },
      score = { type = "number", minimum = 0, maximum = 1 },
      items = {
        type = "array", minItems = 1, maxItems = 3,
        items = {
          type = "object", required = { "name" },
          properties = { name = { type = "string", minLength = 2, maxLength = 5 },
                         tags = { type = "array", items = { type = "string" } } },
        },
      },
    },
  }

  it("accepts a valid document", function()
    assert.same({}, s("", { status = "ok", score = 0.5,
      items = { { name = "ab", tags = { "x" } }, { name = "héllo" } } }))
  end)

  it("names nested paths with 0-based indices", function()
    assert.same({ "$.items[2].name: expected string, got number" },
      s("", { status = "ok", items = { { name = "ab" }, { name = "cd" }, { name = 7 } } }))
    assert.same({ "$.items[0].tags[1]: expected string, got boolean" },
      s("", { status = "ok", items = { { name = "ab", tags = { "a", true } } } }))
  end)

  it("lists enum values and what it got", function()
    assert.same({ '$.status: must be one of "ok", "fail" (got "maybe")' },
      s("", { status = "maybe", items = { { name = "ab" } } }))
  end)

  it("reports missing keys at their object", function()
    assert.same({ '$: missing required key "status"', '$.items[0]: missing required key "name"' },
      s("", { items = { { tags = {} } } }))
  end)

  it("checks string length in characters, not bytes", function()
    assert.same({ "$.items[0].name: string has 1 character; at least 2 required" },
      s("", { status = "ok", items = { { name = "é" } } }))
    assert.same({ "$.items[0].name: string has 6 characters; at most 5 allowed" },
      s("", { status = "ok", items = { { name = "abcdef" } } }))
  end)

  it("checks bounds and item counts", function()
    assert.same({ "$.score: must be <= 1 (got 2)" },
      s("", { status = "ok", score = 2, items = { { name = "ab" } } }))
    assert.same({ "$.score: must be >= 0 (got -0.5)" },
      s("", { status = "ok", score = -0.5, items = { { name = "ab" } } }))
    assert.same({ "$.items: array has 0 items; at least 1 required" },
      s("", { status = "ok", items = {} }))
    assert.same({ "$.items: array has 4 items; at most 3 allowed" },
      s("", { status = "ok", items = { { name = "ab" }, { name = "ab" }, { name = "ab" }, { name = "ab" } } }))
  end)

  it("rejects unexpected keys when additionalProperties is false", function()
    assert.same({ '$: unexpected key "extra"', '$: unexpected key "more stuff"' },
      s("", { status = "ok", items = { { name = "ab" } }, extra = 1, ["more stuff"] = 2 }))
  end)

  it("applies an additionalProperties schema to the other keys", function()
    local m = v.schema { type = "object", additionalProperties = { type = "integer" } }
    assert.same({}, m("", { a = 1, b = 2 }))
    assert.same({ '$["b c"]: expected integer, got string' }, m("", { a = 1, ["b c"] = "x" }))
  end)

  it("accepts a list of types", function()
    local t = v.schema { type = { "string", "null" } }
    assert.same({}, t("", "x"))
    assert.same({ "$: expected string or null, got number" }, t("", 1))
  end)

  it("treats an empty table as an empty array or object", function()
    assert.same({}, v.schema { type = "array" } ("", {}))
    assert.same({}, v.schema { type = "object" } ("", {}))
  end)

  it("raises at build time on a schema it does not understand", function()
    assert.has_error(function() v.schema { type = "object", propertise = {} } end,
      "bad argument #1 to 'schema' (schema: unknown key 'propertise', did you mean 'properties'?)")
    assert.has_error(function()
      v.schema { properties = { a = { type = "strng" } } }
    end, "bad argument #1 to 'schema' (schema.properties.a.type: unknown type \"strng\" (expected one "
      .. 'of string, number, integer, boolean, array, object, null))')
    assert.has_error(function() v.schema { minLength = "3" } end,
      "bad argument #1 to 'schema' (schema.minLength: number expected, got string)")
  end)

  it("escapes strings in messages as JSON does", function()
    local e = v.schema { enum = { "a" } }
    assert.same({ '$: must be one of "a" (got "x\\ny\\"z")' }, e("", 'x\ny"z'))
  end)
end)

describe("validators for text", function()
  it("length counts UTF-8 characters", function()
    local l = v.length { min = 10, max = 12 }
    assert.same({ "text is 3 characters; at least 10 required" }, l("abc"))
    assert.same({ "text is 1 character; at least 10 required" }, l("é"))
    assert.same({}, l("ééééééééééé"))
    assert.same({ "text is 13 characters; at most 12 allowed" }, l(string.rep("x", 13)))
    assert.same({ "text is not valid UTF-8 (byte 2)" }, l("a\255"))
  end)

  it("non_empty rejects blank text", function()
    assert.same({ "text is empty" }, v.non_empty()(""))
    assert.same({ "text is empty" }, v.non_empty()(" \n\t"))
    assert.same({}, v.non_empty()("x"))
  end)

  it("pattern names the description or the pattern", function()
    assert.same({}, v.pattern("^%d%d%d%d%-%d%d%-%d%d$")("2024-01-31"))
    assert.same({ "text does not match a date like 2024-01-31" },
      v.pattern("^%d%d%d%d%-%d%d%-%d%d$", "a date like 2024-01-31")("Jan 31"))
    assert.same({ 'text does not match the pattern "^%d+$"' }, v.pattern("^%d+$")("x"))
  end)
end)

describe("validator combinators", function()
  it("all_of concatenates every error", function()
    local c = v.all_of(v.non_empty(), v.length { min = 2 }, function() return nil end)
    assert.same({ "text is empty", "text is 0 characters; at least 2 required" }, c(""))
    assert.same({}, c("ab"))
  end)

  it("all_of passes data through", function()
    local c = v.all_of(v.json_object { required = { "a" } }, v.length { max = 100 })
    assert.same({ '$: missing required key "a"' }, c("{}", {}))
  end)

  it("any_of is valid when one alternative is, else labels each", function()
    local c = v.any_of(v.pattern("^yes$"), v.pattern("^no$"))
    assert.same({}, c("no"))
    assert.same({ 'alternative 1: text does not match the pattern "^yes$"',
                  'alternative 2: text does not match the pattern "^no$"' }, c("maybe"))
  end)

  it("hint adds its line only when there are errors", function()
    local h = v.hint(v.length { min = 3 }, 'for example "abc"')
    assert.same({}, h("abcd"))
    assert.same({ "text is 1 character; at least 3 required", 'for example "abc"' }, h("a"))
  end)

  it("rejects arguments that are not functions", function()
    assert.has_error(function() v.all_of(v.non_empty(), "x") end,
      "bad argument #2 to 'all_of' (validator function expected, got string)")
    assert.has_error(function() v.length { mn = 3 } end,
      "bad argument #1 to 'length' (unknown key 'mn', did you mean 'min'?)")
  end)
end)
