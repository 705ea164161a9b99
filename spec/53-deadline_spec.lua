-- The overall deadline of a call or of a whole each{}/all{}, the per-attempt timeout it caps,
-- and err.attempts on every error a request can produce.
local acedata = require "acedata"
local core = require "acedata.core"
local mock = require "spec.helpers.mock"

local dataset = mock.dataset
local SCALE = tonumber(os.getenv "ACEDATA_TIME_SCALE") or 1
local SLACK = 0.3 * SCALE

local function list_offsets()
  local out = {}
  for _, e in ipairs(mock.log()) do
    if e.uri:find("^/api/v1/usage/proxies/?$") then out[#out + 1] = tonumber(e.args:match("offset=(%d+)")) end
  end
  return out
end

describe("deadline", function()
  before_each(function()
    mock.reset()
    mock.config { records = 1000 }
  end)

  describe("of each{}", function()
    it("cuts an attempt short: a server that never answers costs the deadline, not the timeouts", function()
      mock.faults { fault = "slow_first_byte", delay = 30, offset = 400, times = -1 }
      local c = mock.client { timeout = 5 * SCALE, max_retries = 5 }
      local n, t0 = 0, core.now()
      local ok, err = pcall(function()
        for _ in c.usage.proxies.each { page_size = 200, deadline = 1 * SCALE } do n = n + 1 end
      end)
      local elapsed = core.now() - t0
      assert.is_false(ok)
      assert.equal("timeout", err.kind)
      assert.equal(400, n)
      assert.is_true(err.attempts >= 1)
      assert.is_true(elapsed >= 0.9 * SCALE and elapsed < 1 * SCALE + SLACK, "took " .. elapsed .. " s")
    end)

    it("cuts an attempt short with concurrency too", function()
      mock.faults { fault = "slow_first_byte", delay = 30, offset = 400, times = -1 }
      local c = mock.client { timeout = 5 * SCALE, max_retries = 5 }
      local n, t0 = 0, core.now()
      local ok, err = pcall(function()
        for _ in c.usage.proxies.each { page_size = 200, concurrency = 3, deadline = 1 * SCALE } do n = n + 1 end
      end)
      local elapsed = core.now() - t0
      assert.is_false(ok)
      assert.equal("timeout", err.kind)
      assert.equal(400, n)
      assert.is_true(elapsed < 1 * SCALE + SLACK, "took " .. elapsed .. " s")
    end)

    it("does not wait for a Retry-After that ends after it", function()
      mock.faults { fault = "status", status = 429, headers = { ["Retry-After"] = "3" }, offset = 200 }
      local t0 = core.now()
      local ok, err = pcall(function()
        for _ in mock.client().usage.proxies.each { page_size = 200, deadline = 1 } do end
      end)
      assert.is_false(ok)
      assert.same({ "rate_limit", 3, 1 }, { err.kind, err.retry_after, err.attempts })
      assert.matches("deadline reached", err.message, 1, true)
      assert.is_true(core.now() - t0 < 0.5 * SCALE)
    end)

    it("sends no request once it has passed", function()
      local c = mock.client()
      local n = 0
      local ok, err = pcall(function()
        for _ in c.usage.proxies.each { page_size = 100, deadline = 0.2 * SCALE } do
          n = n + 1
          if n == 100 then core.sleep(0.3 * SCALE) end   -- the consumer dawdles past it
        end
      end)
      assert.is_false(ok)
      assert.same({ "timeout", 0 }, { err.kind, err.attempts })
      assert.matches("deadline reached before the request", err.message, 1, true)
      assert.equal(100, n)
      assert.same({ 0 }, list_offsets())
    end)

    it("lets an iteration that fits in it complete, retries included", function()
      mock.faults { fault = "status", status = 503, offset = 400 }
      local n = 0
      for _ in mock.client().usage.proxies.each { page_size = 200, deadline = 10 } do n = n + 1 end
      assert.equal(1000, n)
    end)
  end)

  describe("of all{}", function()
    it("returns nil and the error", function()
      mock.faults { fault = "slow_first_byte", delay = 30, offset = 0, times = -1 }
      local t0 = core.now()
      local list, err = mock.client { timeout = 5 * SCALE }.usage.proxies.all { deadline = 0.5 * SCALE }
      assert.is_nil(list)
      assert.equal("timeout", err.kind)
      assert.is_true(core.now() - t0 < 0.5 * SCALE + SLACK)
    end)
  end)

  describe("as a client option", function()
    it("bounds one call, retries included", function()
      mock.faults { fault = "slow_first_byte", delay = 30, route = "list", times = -1 }
      local c = mock.client { timeout = 5 * SCALE, max_retries = 3, deadline = 0.5 * SCALE }
      assert(c:whoami())
      local t0 = core.now()
      local page, err = c.usage.proxies { limit = 1 }
      assert.is_nil(page)
      assert.equal("timeout", err.kind)
      assert.is_true(core.now() - t0 < 0.5 * SCALE + SLACK)
    end)

    it("bounds get() and me()", function()
      mock.faults { fault = "slow_first_byte", delay = 30, route = "any", times = -1 }
      local c = mock.client { timeout = 5 * SCALE, deadline = 0.3 * SCALE }
      for _, call in ipairs { function() return c.me() end,
                              function() return c.usage.proxies.get(dataset.record(1).id) end } do
        local t0 = core.now()
        local v, err = call()
        assert.is_nil(v)
        assert.equal("timeout", err.kind)
        assert.is_true(core.now() - t0 < 0.3 * SCALE + SLACK)
      end
    end)

    it("is the default of each{}", function()
      mock.faults { fault = "slow_first_byte", delay = 30, offset = 200, times = -1 }
      local c = mock.client { timeout = 5 * SCALE, deadline = 0.5 * SCALE }
      local t0 = core.now()
      local ok, err = pcall(function() for _ in c.usage.proxies.each { page_size = 200 } do end end)
      assert.is_false(ok)
      assert.equal("timeout", err.kind)
      assert.is_true(core.now() - t0 < 0.5 * SCALE + SLACK)
    end)
  end)
end)

describe("core.session s:get timeout_override", function()
  local url, hdrs
  before_each(function()
    mock.reset()
    url = mock.url() .. "/api/v1/platform-tokens/me/"
    hdrs = { "Authorization: Bearer " .. mock.TOKEN }
  end)

  it("replaces the session's timeout for one call only", function()
    local s = core.session { timeout = 5 * SCALE }
    mock.faults { fault = "slow_first_byte", delay = 0.6 * SCALE, route = "me", times = 2 }
    local t0 = core.now()
    local status, kind = s:get(url, hdrs, 0.2 * SCALE)
    assert.same({ nil, "timeout" }, { status, kind })
    assert.is_true(core.now() - t0 < 0.2 * SCALE + SLACK)
    status = s:get(url, hdrs)                     -- the session's 5 s again: the slow answer comes
    assert.equal(200, status)
    s:close()
  end)

  it("raises on a value that is not a positive number of seconds", function()
    local s = core.session {}
    for _, bad in ipairs { "1", 0, -1, 0 / 0, 1e9, true } do
      assert.has_error(function() s:get(url, hdrs, bad) end)
    end
    assert.equal(0, #mock.log())
    s:close()
  end)
end)

describe("err.attempts", function()
  before_each(function()
    mock.reset()
    mock.config { records = 10 }
  end)

  it("is set on a page of the wrong shape", function()
    mock.faults { fault = "status", status = 200, body = '{"unexpected":true}' }
    local page, err = mock.client().usage.proxies { user_id = dataset.USER_ID }
    assert.is_nil(page)
    assert.same({ "decode", 1 }, { err.kind, err.attempts })
  end)

  it("counts the retries before a page of the wrong shape", function()
    mock.faults { { fault = "status", status = 502 }, { fault = "status", status = 200, body = "[]" } }
    local _, err = mock.client().usage.proxies { user_id = dataset.USER_ID }
    assert.same({ "decode", 2 }, { err.kind, err.attempts })
  end)

  it("is set when the caller's id cannot be read", function()
    mock.faults { fault = "status", status = 200, body = "{}", route = "me" }
    local _, err = mock.client().usage.proxies {}
    assert.same({ "decode", 1 }, { err.kind, err.attempts })
  end)

  it("is set on every kind of failure", function()
    local cases = {
      { { fault = "status", status = 401 }, "auth" },
      { { fault = "status", status = 500, times = -1 }, "server" },
      { { fault = "malformed", times = -1 }, "decode" },
      { { fault = "reset_before_headers", times = -1 }, "network" },
    }
    for _, case in ipairs(cases) do
      mock.reset()
      mock.faults(case[1])
      local _, err = mock.client { max_retries = 1 }.usage.proxies { user_id = dataset.USER_ID }
      assert.equal(case[2], err.kind)
      assert.is_number(err.attempts)
      assert.is_true(acedata.is_error(err))
    end
  end)
end)
