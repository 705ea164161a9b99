local misuse = require "acedata.misuse"
local query = require "acedata.query"

describe("acedata.query", function()
  local SCHEMA = { application_id = "strings", user_id = "string", created_at_from = "time",
                   limit = "positive", offset = "integer" }

  describe("encode", function()
    it("sends names in sorted order", function()
      assert.equal("limit=50&offset=0&user_id=u1",
        query.encode(SCHEMA, { user_id = "u1", offset = 0, limit = 50 }))
    end)

    it("sends a list as repeated keys", function()
      assert.equal("application_id=a&application_id=b",
        query.encode(SCHEMA, { application_id = { "a", "b" } }))
    end)

    it("percent-encodes reserved characters and UTF-8", function()
      assert.equal("user_id=a%20b%26c%3Dd%2B%2F%C3%A9", query.encode(SCHEMA, { user_id = "a b&c=d+/é" }))
    end)

    it("leaves unreserved characters alone", function()
      assert.equal("user_id=Az09-._~", query.encode(SCHEMA, { user_id = "Az09-._~" }))
    end)

    it("formats epoch seconds as ISO 8601 UTC", function()
      assert.equal("created_at_from=2024-08-01T00%3A00%3A00Z",
        query.encode(SCHEMA, { created_at_from = 1722470400 }))
    end)

    it("passes an ISO 8601 string through", function()
      assert.equal("created_at_from=2024-08-01T00%3A00%3A00Z",
        query.encode(SCHEMA, { created_at_from = "2024-08-01T00:00:00Z" }))
    end)

    it("skips the names it is told to skip", function()
      assert.equal("limit=1", query.encode(SCHEMA, { limit = 1, page_size = 3 }, { page_size = true }))
    end)

    it("makes an empty string of no parameters", function()
      assert.equal("", query.encode(SCHEMA, {}))
    end)
  end)

  describe("misuse raises", function()
    -- Inside the module a misuse is an object; the public functions' guard makes it a message.
    local checked = misuse.guard(query.encode)
    local function encode(params) return function() checked(SCHEMA, params) end end

    it("on an unknown name", function()
      assert.has_error(encode { applicaton_id = "x" }, 'acedata: unknown parameter "applicaton_id"')
    end)

    it("on a number where a string is expected", function()
      assert.has_error(encode { user_id = 5 }, "acedata: user_id must be a string, got number")
    end)

    it("on a list holding a non-string", function()
      assert.has_error(encode { application_id = { "a", 2 } }, "acedata: application_id[2] must be a string, got number")
    end)

    it("on an empty list", function()
      assert.has_error(encode { application_id = {} }, "acedata: application_id must not be an empty list")
    end)

    it("on a table that is not a list", function()
      assert.has_error(encode { application_id = { x = "a" } }, "acedata: application_id must be a list (array) of strings")
    end)

    it("on CR or LF in a value", function()
      assert.has_error(encode { user_id = "a\r\nX-Evil: 1" }, "acedata: user_id contains a control character")
    end)

    it("on a NUL byte in a value", function()
      assert.has_error(encode { user_id = "a\0b" }, "acedata: user_id contains a control character")
    end)

    it("on a negative offset", function()
      assert.has_error(encode { offset = -1 }, "acedata: offset must be a non-negative integer, got -1")
    end)

    it("on a fractional limit", function()
      assert.has_error(encode { limit = 1.5 }, "acedata: limit must be a positive integer, got 1.5")
    end)

    it("on a zero limit", function()
      assert.has_error(encode { limit = 0 }, "acedata: limit must be a positive integer, got 0")
    end)

    it("on a time that is not ISO 8601", function()
      assert.has_error(encode { created_at_from = "yesterday" },
        'acedata: created_at_from must be an ISO 8601 time like 2024-08-01T00:00:00Z, got "yesterday"')
    end)

    it("on an infinite time", function()
      assert.has_error(encode { created_at_from = math.huge }, "acedata: created_at_from must be a finite number")
    end)
  end)

  describe("iso8601", function()
    it("formats the epoch", function()
      assert.equal("1970-01-01T00:00:00Z", query.iso8601(0))
    end)

    it("keeps microseconds of a fractional time", function()
      assert.equal("2024-08-01T00:00:00.250000Z", query.iso8601(1722470400.25))
    end)

    it("formats a leap day", function()
      assert.equal("2024-02-29T12:34:56Z", query.iso8601(1709210096))
    end)
  end)
end)
