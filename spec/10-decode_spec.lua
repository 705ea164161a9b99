-- acedata.core.decode: JSON text -> Lua values (the decoder behind the client and acedata.decode).
-- Runs on Lua 5.1-5.4 and LuaJIT; integer/float distinctions are asserted where Lua has them.
local core = require "acedata.core"
local decode = core.decode

local HAS_INTEGERS = math.type ~= nil

local function is_integer(x) return math.type(x) == "integer" end
local function is_float(x) return math.type(x) == "float" end

-- decode that must fail: returns the message
local function err_of(s, opts)
  local v, err = decode(s, opts)
  assert.is_nil(v)
  assert.is_string(err)
  return err
end

describe("acedata.decode", function()
  describe("numbers", function()
    it("decodes small integers to integers on 5.3+", function()
      local v = decode("42")
      assert.equal(42, v)
      if HAS_INTEGERS then assert.is_true(is_integer(v)) end
    end)

    it("decodes negative integers", function()
      assert.equal(-17, decode("-17"))
      if HAS_INTEGERS then assert.is_true(is_integer(decode("-17"))) end
    end)

    it("decodes the int64 limits exactly to integers on 5.3+", function()
      if not HAS_INTEGERS then return pending("no integers on " .. _VERSION) end
      local max, min = decode("9223372036854775807"), decode("-9223372036854775808")
      assert.is_true(is_integer(max) and is_integer(min))
      assert.equal(math.maxinteger, max)
      assert.equal(math.mininteger, min)
    end)

    it("turns integers beyond int64 into the nearest float", function()
      local v = decode("9223372036854775808")
      assert.equal(2 ^ 63, v)
      if HAS_INTEGERS then assert.is_true(is_float(v)) end
      assert.equal(-(2 ^ 63) - 2048, decode("-9223372036854777856"))
      local big = decode("123456789012345678901234567890")
      assert.equal(1.2345678901234568e29, big)
      if HAS_INTEGERS then assert.is_true(is_float(big)) end
    end)

    it("keeps large integers exact up to 2^53 on every Lua", function()
      assert.equal(9007199254740992, decode("9007199254740992"))
      assert.equal(-9007199254740991, decode("-9007199254740991"))
    end)

    it("decodes numbers with a fraction to floats", function()
      local v = decode("800.0")
      assert.equal(800, v)
      if HAS_INTEGERS then assert.is_true(is_float(v)) end
      assert.equal(2.5, decode("2.5"))
      assert.equal(-0.125, decode("-0.125"))
    end)

    it("decodes exponent forms to floats", function()
      assert.equal(100, decode("1e2"))
      assert.equal(100, decode("1E2"))
      assert.equal(100, decode("1e+2"))
      assert.equal(0.01, decode("1e-2"))
      assert.equal(1500, decode("1.5e3"))
      assert.equal(0, decode("0e0"))
      if HAS_INTEGERS then assert.is_true(is_float(decode("1e2"))) end
    end)

    it("rounds decimals correctly, like strtod", function()
      assert.equal(0.1, decode("0.1"))
      assert.equal(1 / 3, decode("0.33333333333333331"))
      assert.equal(2.2250738585072014e-308, decode("2.2250738585072014e-308"))
      assert.equal(1.7976931348623157e308, decode("1.7976931348623157e308"))
      assert.equal(5e-324, decode("5e-324"))
      assert.equal(2 ^ 53, decode("9007199254740993.0")) -- halfway: ties to even
      assert.equal(tonumber("3.141592653589793238462643383279"),
        decode("3.141592653589793238462643383279"))
      assert.equal(tonumber("1234567890.0987654321e-5"), decode("1234567890.0987654321e-5"))
    end)

    it("decodes out-of-range exponents to infinity and zero", function()
      assert.equal(math.huge, decode("1e400"))
      assert.equal(-math.huge, decode("-1e400"))
      assert.equal(0, decode("1e-400"))
    end)

    it("decodes -0 to the float -0.0", function()
      local v = decode("-0")
      assert.equal(0, v)
      assert.equal(-math.huge, 1 / v)
      if HAS_INTEGERS then assert.is_true(is_float(v)) end
      assert.equal(-math.huge, 1 / decode("-0.0"))
    end)

    it("decodes 0 to the integer 0", function()
      assert.equal(0, decode("0"))
      assert.equal(math.huge, 1 / decode("0"))
      if HAS_INTEGERS then assert.is_true(is_integer(decode("0"))) end
    end)

    it("rejects leading zeros", function()
      assert.equal("invalid number (leading zero) at byte 0", err_of("01"))
      assert.equal("invalid number (leading zero) at byte 1", err_of("[-012]"))
    end)

    it("rejects malformed numbers", function()
      for _, s in ipairs({ "1.", ".5", "+1", "-", "1e", "1e+", "0x10", "1.e5", "- 1", "-a" }) do
        assert.is_nil(decode(s), s)
      end
      assert.equal("invalid number at byte 1", err_of("[1.]"))
    end)

    it("rejects NaN and Infinity", function()
      for _, s in ipairs({ "NaN", "Infinity", "-Infinity", "[nan]", "inf" }) do
        assert.is_nil(decode(s), s)
      end
    end)

    it("keeps numbers next to delimiters intact", function()
      assert.same({ 1, -2, 300, 0.5 }, decode("[1,-2,3e2,0.5]"))
      assert.same({ a = -0.5, b = 7 }, decode('{"a":-0.5,"b":7}'))
    end)
  end)

  describe("strings", function()
    it("decodes the simple escapes", function()
      assert.equal('"\\/\b\f\n\r\t', decode([["\"\\\/\b\f\n\r\t"]]))
    end)

    it("decodes \\u escapes to UTF-8", function()
      assert.equal("A", decode([["\u0041"]]))
      assert.equal("\195\169", decode([["\u00e9"]]))
      assert.equal("\226\130\172", decode([["\u20AC"]]))
    end)

    it("decodes a surrogate pair to one 4-byte UTF-8 sequence", function()
      assert.equal("\240\159\152\128", decode([["\ud83d\ude00"]]))
      assert.equal("x\240\144\128\128y", decode([["x\uD800\uDC00y"]]))
    end)

    it("decodes \\u0000 to a NUL byte", function()
      assert.equal("a\0b", decode([["a\u0000b"]]))
    end)

    it("rejects a lone surrogate, naming its offset", function()
      assert.equal("unpaired UTF-16 surrogate at byte 3", err_of([["ab\ud800"]]))
      assert.equal("unpaired UTF-16 surrogate at byte 1", err_of([["\udc00\ud800"]]))
      assert.equal("unpaired UTF-16 surrogate at byte 1", err_of([["\ud800\u0041"]]))
      assert.equal("unpaired UTF-16 surrogate at byte 1", err_of([["\ud800x"]]))
    end)

    it("rejects invalid escapes, naming the backslash", function()
      assert.equal("invalid escape at byte 2", err_of([["a\x41"]]))
      assert.equal("invalid escape at byte 1", err_of([["\'"]]))
      assert.equal("invalid \\u escape at byte 1", err_of([["\u12G4"]]))
      assert.is_nil(decode([["\u12"]]))
    end)

    it("rejects raw control characters in strings", function()
      assert.equal("control character in string at byte 2", err_of('"a\tb"'))
      assert.equal("control character in string at byte 1", err_of('"\n"'))
      assert.is_nil(decode('"\0"'))
    end)

    it("accepts DEL and raw UTF-8", function()
      assert.equal("\127", decode('"\127"'))
      local s = "caf\195\169 \228\184\173\230\150\135 \240\159\154\128"
      assert.equal(s, decode('"' .. s .. '"'))
    end)

    it("rejects invalid UTF-8, naming the offset", function()
      assert.equal("invalid UTF-8 at byte 2", err_of('"a\255"'))
      assert.equal("invalid UTF-8 at byte 1", err_of('"\192\175"'))         -- overlong '/'
      assert.equal("invalid UTF-8 at byte 1", err_of('"\237\160\128"'))     -- encoded surrogate
      assert.equal("invalid UTF-8 at byte 1", err_of('"\244\144\128\128"')) -- above U+10FFFF
      assert.equal("invalid UTF-8 at byte 1", err_of('"\226\130"'))         -- truncated
      assert.equal("invalid UTF-8 at byte 9", err_of('"abcdefgh\128"'))
    end)

    it("rejects an unterminated string", function()
      assert.equal("unexpected end of input at byte 4", err_of('"abc'))
      assert.equal("unexpected end of input at byte 5", err_of('"ab\\n'))
    end)

    it("decodes huge strings", function()
      local plain = string.rep("abcdefghij", 1000000)
      assert.equal(plain, decode('"' .. plain .. '"'))
      local escaped = decode('"' .. string.rep("\\n\\u00e9x", 200000) .. '"')
      assert.equal(string.rep("\n\195\169x", 200000), escaped)
    end)

    it("decodes many escaped strings of growing size in one document", function()
      local parts, want = {}, {}
      for i = 1, 40 do
        parts[i] = '"' .. string.rep("a\\\"", i * 300) .. '"'
        want[i] = string.rep('a"', i * 300)
      end
      assert.same(want, decode("[" .. table.concat(parts, ",") .. "]"))
    end)
  end)

  describe("literals and structure", function()
    it("decodes any value at the top level", function()
      assert.equal(true, decode("true"))
      assert.equal(false, decode("false"))
      assert.equal("s", decode('"s"'))
      assert.equal(1, decode("1"))
      assert.same({}, decode("{}"))
      assert.same({}, decode("[]"))
    end)

    it("decodes nested objects and arrays", function()
      local v = decode('{"a":[1,{"b":[true,false]},"x"],"c":{"d":{}}}')
      assert.same({ a = { 1, { b = { true, false } }, "x" }, c = { d = {} } }, v)
    end)

    it("allows whitespace around every token", function()
      assert.same({ a = { 1, 2 } }, decode(' \t\r\n{ "a" : [ 1 , 2 ] } \n'))
    end)

    it("keeps the last of repeated keys", function()
      assert.same({ a = 3, b = 2 }, decode('{"a":1,"b":2,"a":3}'))
    end)

    it("keeps every key of objects with more keys than the key cache", function()
      local parts = {}
      for i = 1, 5000 do parts[i] = string.format('"k%d":%d', i, i) end
      local v = decode("{" .. table.concat(parts, ",") .. "}")
      for i = 1, 5000 do assert.equal(i, v["k" .. i]) end
    end)

    it("decodes escaped keys and the empty key", function()
      assert.same({ ["a\nb"] = 1, [""] = 2, ["\195\169"] = 3 }, decode('{"a\\nb":1,"":2,"\\u00e9":3}'))
    end)

    it("decodes siblings of changing shape (tables are only pre-sized)", function()
      local v = decode('[{"a":1,"b":2,"c":3},{"a":1},{"x":1,"y":2,"z":3,"w":4,"v":5},[1,2,3],[],[9]]')
      assert.same({ { a = 1, b = 2, c = 3 }, { a = 1 }, { x = 1, y = 2, z = 3, w = 4, v = 5 },
        { 1, 2, 3 }, {}, { 9 } }, v)
    end)

    it("decodes long arrays", function()
      local t = {}
      for i = 1, 100000 do t[i] = tostring(i) end
      local v = decode("[" .. table.concat(t, ",") .. "]")
      assert.equal(100000, #v)
      assert.equal(77777, v[77777])
    end)

    it("decodes a page of usage records", function()
      local v = decode('{"count":2,"items":[{"id":"r1","used_amount":2.5,"service":{"alias":"openai-proxy"},' ..
        '"metadata":{"model":"gpt-4o","prompt_tokens":123,"stream":true,"finish_reason":null}},' ..
        '{"id":"r2","used_amount":0.5,"service":{"alias":"claude-proxy"},' ..
        '"metadata":{"model":"o1","prompt_tokens":7,"stream":false,"finish_reason":"stop"}}]}')
      assert.equal(2, v.count)
      assert.equal("r2", v.items[2].id)
      assert.equal(2.5, v.items[1].used_amount)
      assert.equal("claude-proxy", v.items[2].service.alias)
      assert.equal(core.null, v.items[1].metadata.finish_reason)
      assert.equal("stop", v.items[2].metadata.finish_reason)
      assert.equal(123, v.items[1].metadata.prompt_tokens)
    end)
  end)

  describe("nesting", function()
    it("accepts 1000 nested arrays", function()
      local v = decode(string.rep("[", 1000) .. string.rep("]", 1000))
      for _ = 1, 999 do v = v[1] end
      assert.same({}, v)
    end)

    it("accepts 1000 nested objects", function()
      local v = decode(string.rep('{"a":', 999) .. "{}" .. string.rep("}", 999))
      for _ = 1, 999 do v = v.a end
      assert.same({}, v)
    end)

    it("rejects 1001 nested arrays at the offset of the 1001st", function()
      assert.equal("nesting deeper than 1000 at byte 1000",
        err_of(string.rep("[", 1001) .. string.rep("]", 1001)))
    end)

    it("rejects 1001 nested objects at the offset of the 1001st", function()
      assert.equal("nesting deeper than 1000 at byte 5000",
        err_of(string.rep('{"a":', 1000) .. "{}" .. string.rep("}", 1000)))
    end)

    it("rejects deep unclosed nesting without running out of anything", function()
      assert.equal("nesting deeper than 1000 at byte 1000", err_of(string.rep("[", 100000)))
    end)
  end)

  describe("null", function()
    it("decodes null to core.null, the same value as cjson.null", function()
      local v = decode("[null]")
      assert.equal("userdata", type(v[1]))
      assert.is_true(rawequal(core.null, v[1]))
      local ok, cjson = pcall(require, "cjson")
      if ok then assert.is_true(rawequal(cjson.null, v[1])) end
    end)

    it("uses the null option's value", function()
      local NULL = {}
      local v = decode('{"a":null,"b":[1,null,3]}', { null = NULL })
      assert.equal(NULL, v.a)
      assert.equal(NULL, v.b[2])
      assert.equal(3, v.b[3])
      assert.equal("none", decode("null", { null = "none" }))
      assert.equal(false, decode("null", { null = false }))
    end)
  end)

  describe("array_mt option", function()
    it("marks arrays, empty ones included, with core.array_mt", function()
      local v = decode('{"a":[],"b":{},"c":[[1]]}', { array_mt = true })
      assert.equal(core.array_mt, getmetatable(v.a))
      assert.equal(core.array_mt, getmetatable(v.c))
      assert.equal(core.array_mt, getmetatable(v.c[1]))
      assert.is_nil(getmetatable(v.b))
      assert.is_nil(getmetatable(v))
    end)

    it("leaves arrays without metatable by default", function()
      assert.is_nil(getmetatable(decode("[]")))
      assert.is_nil(getmetatable(decode("[]", { array_mt = false })))
    end)

    it("is a table", function()
      assert.equal("table", type(core.array_mt))
    end)
  end)

  describe("fields option", function()
    local PAGE = '{"count":2,"items":[{"id":"a","amount":1.5,"service":{"id":"s","name":"S"},"tags":[1,2]},'
      .. '{"id":"b","amount":2,"service":{"id":"t","name":"T"},"tags":[]}],"next":{"id":"n","x":1}}'

    it("keeps only the listed keys in each record of a page", function()
      local v = decode(PAGE, { fields = { "id", "amount" } })
      assert.same({ { id = "a", amount = 1.5 }, { id = "b", amount = 2 } }, v.items)
    end)

    it("keeps a listed object or array whole", function()
      local v = decode(PAGE, { fields = { "service", "tags" } })
      assert.same({ service = { id = "s", name = "S" }, tags = { 1, 2 } }, v.items[1])
      assert.same({ service = { id = "t", name = "T" }, tags = {} }, v.items[2])
    end)

    it("leaves the page's own keys and objects outside the records alone", function()
      local v = decode(PAGE, { fields = { "amount" } })
      assert.equal(2, v.count)
      assert.same({ id = "n", x = 1 }, v.next)
    end)

    it("does not filter a document that is a single record", function()
      assert.same({ id = "a", amount = 1 }, decode('{"id":"a","amount":1}', { fields = { "id" } }))
    end)

    it("applies to the results shape too", function()
      local v = decode('{"count":1,"results":[{"id":"a","x":[{"y":1}],"z":2}]}', { fields = { "z" } })
      assert.same({ { z = 2 } }, v.results)
    end)

    it("gives a record none of whose keys are listed as an empty table", function()
      assert.same({ {} }, decode('{"items":[{"a":1,"b":"c"}]}', { fields = { "zzz" } }).items)
    end)

    it("works with the null and array_mt options", function()
      local v = decode('{"items":[{"a":null,"b":[],"c":null}]}', { fields = { "a", "b" }, null = false, array_mt = true })
      assert.is_false(v.items[1].a)
      assert.equal(core.array_mt, getmetatable(v.items[1].b))
      assert.is_nil(v.items[1].c)
    end)

    it("rejects malformed JSON in a dropped value with the same message as without fields", function()
      for _, doc in ipairs {
        '{"items":[{"a":[1,2,}]}', '{"items":[{"a":"\\ud800"}]}', '{"items":[{"a":tru}]}',
        '{"items":[{"a":{"k" 1}}]}', '{"items":[{"a":01}]}', '{"items":[{"a":[', '{"items":[{"a":"\255"}]}',
        '{"items":[{"a":{"b":1,}}]}', '{"items":[{"a":1 "b":2}]}', '{"items":[{"a":"x\n"}]}',
        '{"items":[{"a":' .. ("["):rep(1000) .. ("]"):rep(1000) .. '}]}',
      } do
        local plain = err_of(doc)
        assert.equal(plain, err_of(doc, { fields = { "b" } }))
      end
    end)

    it("is an array of strings, or an error is raised", function()
      assert.has_error(function() decode("{}", { fields = "id" }) end,
        "acedata.decode: option 'fields' must be an array of strings, got string")
      assert.has_error(function() decode("{}", { fields = { "id", 5 } }) end,
        "acedata.decode: option 'fields' must hold strings, got number at [2]")
      assert.has_error(function() decode("{}", { fields = { id = true } }) end,
        "acedata.decode: option 'fields' must be an array of strings")
    end)
  end)

  describe("errors", function()
    it("names the 0-based byte offset of the problem", function()
      assert.equal("expected string key at byte 7", err_of('{"a":1,}'))
      assert.equal("expected ',' or ']' at byte 3", err_of("[1 2]"))
      assert.equal("expected ':' at byte 5", err_of('{"a" 1}'))
      assert.equal("expected ',' or '}' at byte 7", err_of('{"a":1 "b":2}'))
      assert.equal("expected value at byte 3", err_of("[1,]"))
      assert.equal("expected value at byte 0", err_of("tru"))
      assert.equal("expected string key at byte 1", err_of("{a:1}"))
    end)

    it("rejects empty and blank input", function()
      assert.equal("unexpected end of input at byte 0", err_of(""))
      assert.equal("unexpected end of input at byte 3", err_of(" \n\t"))
    end)

    it("rejects unterminated structures at the end offset", function()
      assert.equal("unexpected end of input at byte 4", err_of("[1,2"))
      assert.equal("unexpected end of input at byte 5", err_of('{"a":'))
      assert.equal("unexpected end of input at byte 1", err_of("{"))
    end)

    it("rejects trailing garbage", function()
      assert.equal("expected end of input at byte 4", err_of("[1] x"))
      assert.equal("expected end of input at byte 2", err_of("1 2"))
      assert.equal("expected end of input at byte 2", err_of("[]]"))
      assert.equal("expected end of input at byte 3", err_of("{} {}"))
      assert.is_nil(decode("1\0"))
    end)

    it("rejects comments, trailing commas and single quotes", function()
      for _, s in ipairs({ "[1,]", '{"a":1,}', "[1]//c", "/*c*/[1]", "['a']", "[,1]", "{,}" }) do
        assert.is_nil(decode(s), s)
      end
    end)

    it("rejects a byte-order mark", function()
      assert.equal("expected value at byte 0", err_of("\239\187\191[]"))
    end)

    it("returns exactly nil and a message, and exactly one value on success", function()
      assert.equal(2, select("#", decode("[")))
      assert.equal(1, select("#", decode("[]")))
    end)

    it("drops the partial value and keeps working after an error", function()
      for _ = 1, 100 do assert.is_nil(decode('{"a":[1,2,{"b":"c"},"d",')) end
      assert.same({ a = { 1 } }, decode('{"a":[1]}'))
    end)
  end)

  describe("misuse", function()
    it("raises on non-string input", function()
      assert.has_error(function() decode(42) end)
      assert.has_error(function() decode(nil) end)
      assert.has_error(function() decode({}) end)
      assert.has_error(function() decode() end)
    end)

    it("raises on an unknown option", function()
      assert.has_error(function() decode("[]", { nul = 1 }) end,
        "acedata.decode: unknown option 'nul'")
      assert.has_error(function() decode("[]", { [1] = true }) end)
    end)

    it("raises on a non-boolean array_mt and a non-table opts", function()
      assert.has_error(function() decode("[]", { array_mt = 1 }) end)
      assert.has_error(function() decode("[]", "opts") end)
    end)
  end)
end)
