-- Concurrent paging and prefetch (each{concurrency = n}, each{prefetch = n}) against the mock.
local mock = require "spec.helpers.mock"

local dataset = mock.dataset
local newest_first_ids = mock.newest_first_ids
local list_requests = mock.list_requests
local N = 1000



local function connections(reqs)
  local ids, n = {}, 0
  for _, r in ipairs(reqs) do
    if not ids[r.connection_id] then ids[r.connection_id] = true n = n + 1 end
  end
  return n
end

describe("usage.proxies.each{concurrency = n}", function()
  before_each(function()
    mock.reset()
    mock.config { records = N }
  end)

  it("yields every record in server order", function()
    local want, got = newest_first_ids(N), {}
    for rec in mock.client().usage.proxies.each { page_size = 100, concurrency = 4 } do got[#got + 1] = rec.id end
    assert.same(want, got)
  end)

  it("totals deducted_amount exactly", function()
    local sum = 0
    for rec in mock.client().usage.proxies.each { page_size = 50, concurrency = 3 } do
      sum = sum + rec.deducted_amount
    end
    assert.equal(dataset.totals(N).deducted, sum)
  end)

  it("fetches over several connections at once", function()
    mock.config { page_delay_ms = 50 }
    for _ in mock.client().usage.proxies.each { page_size = 100, concurrency = 4 } do end
    local reqs = list_requests()
    assert.equal(10, #reqs)
    local conns = connections(reqs)
    assert.is_true(conns >= 2 and conns <= 4, "connections: " .. conns)
  end)

  it("stops at max_items without asking for pages beyond it", function()
    local n = 0
    for _ in mock.client().usage.proxies.each { page_size = 100, concurrency = 4, max_items = 250 } do n = n + 1 end
    assert.equal(250, n)
    assert.equal(3, #list_requests())
  end)

  it("raises the error of a failed page after the records before it", function()
    mock.faults { fault = "status", status = 404, offset = 300 }
    local n = 0
    local ok, err = pcall(function()
      for _ in mock.client().usage.proxies.each { page_size = 100, concurrency = 4 } do n = n + 1 end
    end)
    assert.is_false(ok)
    assert.equal("not_found", err.kind)
    assert.equal(300, n)
  end)

  it("retries a failed page without losing order", function()
    mock.faults { fault = "status", status = 503, offset = 500 }
    local want, got = newest_first_ids(N), {}
    for rec in mock.client().usage.proxies.each { page_size = 100, concurrency = 4 } do got[#got + 1] = rec.id end
    assert.same(want, got)
  end)

  it("slows every worker down after a 429", function()
    mock.faults { fault = "status", status = 429, offset = 200, headers = { ["Retry-After"] = "1" } }
    local core = require "acedata.core"
    local t0 = core.now()
    local n = 0
    for _ in mock.client().usage.proxies.each { page_size = 100, concurrency = 4 } do n = n + 1 end
    assert.equal(N, n)
    assert.is_true(core.now() - t0 >= 0.95)
    -- During the pause only the (at most 3) requests already in flight were answered.
    local reqs = list_requests()
    local throttled
    for _, r in ipairs(reqs) do if r.status == 429 then throttled = r.time end end
    local during = 0
    for _, r in ipairs(reqs) do
      if r.time > throttled and r.time - throttled < 0.9 then during = during + 1 end
    end
    assert.is_true(during <= 3, during .. " requests answered during the pause")
  end)

  it("cancels the pages in flight when the loop is left early", function()
    if _VERSION ~= "Lua 5.4" then return pending("to-be-closed variables are Lua 5.4") end
    local run = load([[
      local proxies = ...
      local n = 0
      for _ in proxies.each { page_size = 100, concurrency = 4 } do
        n = n + 1
        if n == 5 then break end
      end
      return n
    ]])
    local client = mock.client()
    assert.equal(5, run(client.usage.proxies))
    assert.equal(0, client.runtime:info().running)
  end)
end)

describe("usage.proxies.each{prefetch = n}", function()
  before_each(function()
    mock.reset()
    mock.config { records = N }
  end)

  it("has the next page on its way while the current one is consumed", function()
    local iter = mock.client().usage.proxies.each { page_size = 100, prefetch = 1 }
    assert.is_table(iter())
    local reqs = list_requests()
    assert.equal(2, #reqs)
    assert.truthy(reqs[2].args:find("offset=100", 1, true))
  end)

  it("yields every record in order", function()
    local want, got = newest_first_ids(N), {}
    for rec in mock.client().usage.proxies.each { page_size = 100, prefetch = 2 } do got[#got + 1] = rec.id end
    assert.same(want, got)
  end)

  it("is off by default", function()
    local iter = mock.client().usage.proxies.each { page_size = 100 }
    iter()
    assert.equal(1, #list_requests())
  end)
end)
