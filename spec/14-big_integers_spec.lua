-- Integers beyond 2^53, on every Lua. The decision (docs/usage.md, "Pages and records"):
--   * Lua 5.3/5.4: an integer that fits int64 is an exact Lua integer; beyond int64, the nearest float.
--   * Lua 5.1/5.2/LuaJIT: every number is a double, as in lua-cjson: integers up to 2^53 are exact,
--     larger ones become the nearest double (2^53 + 1 -> 2^53). Nothing is turned into strings
--     or cdata, so a value's type never depends on its size.
-- The API's own integers (count, limit, offset) are far below 2^53 and ids are strings.
local acedata = require "acedata"
local mock = require "spec.helpers.mock"

local HAS_INTEGERS = math.type ~= nil

-- The decimal digits of an integral number, whatever its subtype.
local function digits(v)
  if HAS_INTEGERS and math.type(v) == "integer" then return string.format("%d", v) end
  return string.format("%.0f", v)
end

describe("integers beyond 2^53", function()
  it("are exact up to 2^53 on every Lua", function()
    assert.equal("9007199254740991", digits(acedata.decode("9007199254740991")))
    assert.equal("9007199254740992", digits(acedata.decode("9007199254740992")))
    assert.equal("-9007199254740992", digits(acedata.decode("-9007199254740992")))
  end)

  it("beyond 2^53 are exact integers on 5.3+ and the nearest double on 5.1, 5.2 and LuaJIT", function()
    local v = acedata.decode("9007199254740993")
    local w = acedata.decode("1234567890123456789")
    if HAS_INTEGERS then
      assert.equal("integer", math.type(v))
      assert.equal("9007199254740993", digits(v))
      assert.equal("1234567890123456789", digits(w))
    else
      assert.equal("number", type(v))
      assert.equal("9007199254740992", digits(v))      -- 2^53 + 1 rounds to even: 2^53
      assert.equal(2 ^ 53, v)
      assert.equal("1234567890123456768", digits(w))   -- the nearest double
    end
  end)

  it("beyond int64 are the nearest float on every Lua", function()
    local v = acedata.decode("18446744073709551616")   -- 2^64
    assert.equal(2 ^ 64, v)
    if HAS_INTEGERS then assert.equal("float", math.type(v)) end
    assert.equal(-(2 ^ 63), acedata.decode("-9223372036854775808"))
  end)

  it("keep their type whatever their size: a number, never a string", function()
    for _, s in ipairs { "1", "9007199254740993", "9223372036854775807", "99999999999999999999999" } do
      assert.equal("number", type(acedata.decode(s)))
    end
  end)

  describe("in a response", function()
    before_each(function() mock.reset() end)

    it("decode the same way through the client", function()
      local body = '{"count": 9007199254740993, "items": [{"id": "r1", "elapsed": 12345678901234567}]}'
      mock.faults { fault = "status", status = 200, body = body, times = 2 }
      local client = mock.client { max_retries = 0 }
      local page = assert(client.usage.proxies { user_id = false })
      client:close()
      assert.equal("number", type(page.count))
      assert.equal("r1", page.results[1].id)
      if HAS_INTEGERS then
        assert.equal("9007199254740993", digits(page.count))
        assert.equal("12345678901234567", digits(page.results[1].elapsed))
      else
        assert.equal("9007199254740992", digits(page.count))
        assert.equal("12345678901234568", digits(page.results[1].elapsed))
      end
    end)
  end)
end)
