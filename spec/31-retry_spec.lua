local retry = require "acedata.retry"

describe("acedata.retry", function()
  local cfg = { backoff_base = 0.5, backoff_cap = 8 }

  describe("parse_retry_after", function()
    it("reads delta seconds", function()
      assert.equal(3, retry.parse_retry_after("3", 0))
    end)

    it("reads an HTTP date relative to now", function()
      -- Wed, 21 Oct 2015 07:28:00 GMT is 1445412480
      assert.equal(20, retry.parse_retry_after("Wed, 21 Oct 2015 07:28:00 GMT", 1445412460))
    end)

    it("never gives a negative wait for a date in the past", function()
      assert.equal(0, retry.parse_retry_after("Wed, 21 Oct 2015 07:28:00 GMT", 1445412490))
    end)

    it("ignores what it cannot read", function()
      assert.is_nil(retry.parse_retry_after("soon", 0))
      assert.is_nil(retry.parse_retry_after(nil, 0))
    end)
  end)

  describe("delay", function()
    it("is the server's Retry-After when given", function()
      assert.equal(7, retry.delay(cfg, 1, 7, function() return 0.5 end))
    end)

    it("draws from [0, base] on the first retry", function()
      assert.equal(0.5 * 0.999, retry.delay(cfg, 1, nil, function() return 0.999 end))
    end)

    it("doubles the ceiling each attempt", function()
      assert.equal(2, retry.delay(cfg, 3, nil, function() return 1 end))
    end)

    it("never exceeds the cap", function()
      assert.equal(8, retry.delay(cfg, 30, nil, function() return 1 end))
    end)
  end)

  describe("retryable", function()
    for _, status in ipairs { 408, 429, 500, 502, 503, 504 } do
      it("retries HTTP " .. status, function()
        assert.is_true(retry.retryable { kind = "server", status = status })
      end)
    end
    for _, status in ipairs { 400, 401, 403, 404, 422 } do
      it("does not retry HTTP " .. status, function()
        assert.is_false(retry.retryable { kind = "http", status = status })
      end)
    end

    it("retries network failures and timeouts", function()
      assert.is_true(retry.retryable { kind = "network" })
      assert.is_true(retry.retryable { kind = "timeout" })
    end)

    it("does not retry TLS failures", function()
      assert.is_false(retry.retryable { kind = "tls" })
    end)
  end)

  it("counts days from the epoch like a calendar", function()
    assert.equal(0, retry.days_from_civil(1970, 1, 1))
    assert.equal(19936, retry.days_from_civil(2024, 8, 1))
  end)
end)
