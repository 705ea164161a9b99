local errors = require "acedata.errors"

describe("acedata.errors", function()
  it("maps statuses to kinds", function()
    assert.equal("auth", errors.kind_for_status(401))
    assert.equal("permission", errors.kind_for_status(403))
    assert.equal("not_found", errors.kind_for_status(404))
    assert.equal("bad_request", errors.kind_for_status(400))
    assert.equal("bad_request", errors.kind_for_status(422))
    assert.equal("rate_limit", errors.kind_for_status(429))
    assert.equal("server", errors.kind_for_status(503))
    assert.equal("http", errors.kind_for_status(418))
  end)

  it("takes message and code from an error object body", function()
    local e = errors.from_response({ status = 401, headers = { ["x-request-id"] = "req-1" },
      body = { error = { code = "invalid_token", message = "Invalid token." } } }, { url = "u", attempts = 1 })
    assert.same({ "auth", 401, "invalid_token", "Invalid token.", "req-1" },
      { e.kind, e.status, e.code, e.message, e.request_id })
  end)

  it("takes the message from a detail body", function()
    local e = errors.from_response({ status = 404, headers = {}, body = { detail = "Not found." } }, {})
    assert.equal("Not found.", e.message)
  end)

  it("joins field errors of a validation body", function()
    local e = errors.from_response({ status = 400, headers = {},
      body = { limit = { "A valid integer is required." } } }, {})
    assert.equal("limit: A valid integer is required.", e.message)
  end)

  it("falls back to the status for a body it cannot read", function()
    local e = errors.from_response({ status = 502, headers = {} }, {})
    assert.equal("HTTP 502", e.message)
  end)

  it("prints every useful field", function()
    local e = errors.new { kind = "server", status = 503, code = "busy", message = "try later",
      request_id = "r-9", attempts = 3, url = "https://x/api" }
    assert.equal("acedata: server error (HTTP 503) [busy]: try later; request id r-9; 3 attempts; GET https://x/api",
      tostring(e))
  end)

  it("removes the secret from every string field", function()
    local e = errors.new({ kind = "auth", message = "bad token sk-123 here", url = "https://x/?t=sk-123" }, "sk-123")
    assert.equal("bad token [REDACTED] here", e.message)
    assert.equal("https://x/?t=[REDACTED]", e.url)
    assert.is_nil(tostring(e):find("sk-123", 1, true))
  end)

  it("is recognised by is()", function()
    assert.is_true(errors.is(errors.new { kind = "network" }))
    assert.is_false(errors.is({ kind = "network" }))
  end)
end)
