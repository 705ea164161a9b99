-- acedata.limiter against the real mock and its server model (spec/06), through real HTTP:
-- the limiter wired by hand (spec/helpers/limiter_pager.lua) pages the mock with 20 ms pages,
-- without a limit, with 4 workers, and under a rate limit. The bounds are about decisions
-- (how many in flight, how many 429s, every record in order), never about wall time.

local mock = require "spec.helpers.mock"
local pager = require "spec.helpers.limiter_pager"

local function stats()
  local http = require "socket.http"
  local body = assert(http.request(mock.url() .. "/__mock/stats"))
  return require("cjson").decode(body)
end

local function clear_stats()
  local http = require "socket.http"
  assert(http.request { url = mock.url() .. "/__mock/stats", method = "DELETE" })
end

local median = require("spec.helpers.stats").median

describe("acedata.limiter against the mock's server model", function()
  local client
  before_each(function()
    mock.reset()
    client = mock.client { max_retries = 0 }
  end)
  after_each(function()
    client:close()
    mock.reset()
  end)

  it("grows while latency stays at its minimum, up to max and never above", function()
    -- Small pages: the mock's one nginx worker builds every body in turn, and with 16 pages of
    -- 100 records at once on a busy machine that alone is a queue the limiter rightly sees.
    mock.config { records = 3000, latency_ms = 20, gzip = false }
    clear_stats()
    local r = assert(pager.run(client, { pages = 300, page_size = 10, max = 16, user_id = mock.dataset.USER_ID,
      ids = true }))
    assert.are.equal(3000, r.records)
    assert.are.same(mock.newest_first_ids(3000), r.ids)        -- every record, in server order
    local s = stats()
    assert.is_true(s.max_inflight <= 16, "in flight " .. s.max_inflight)
    local top = 0
    for _, n in ipairs(r.limits) do top = math.max(top, n) end
    assert.is_true(top >= 8, ("the limit never passed %d (server-side median %.1f ms)"):format(top, s.median_ms))
    assert.are.equal(0, r.throttled)
  end)

  it("settles under a bound of 4 server workers instead of queueing up to max", function()
    mock.config { records = 30000, latency_ms = 20, workers = 4, gzip = false }
    clear_stats()
    local r = assert(pager.run(client, { pages = 300, max = 16, user_id = mock.dataset.USER_ID }))
    assert.are.equal(30000, r.records)
    local s = stats()
    assert.are.equal(4, s.max_serving)
    -- with 16 in flight every request would wait 80 ms; 8 in flight: 40 ms
    assert.is_true(s.median_ms < 40, ("server-side median %.1f ms"):format(s.median_ms))
    local late = {}
    for i = math.floor(#r.limits / 2), #r.limits do late[#late + 1] = r.limits[i] end
    local m = median(late)
    assert.is_true(m >= 3 and m <= 8, "median limit in the second half " .. m)
  end)

  it("backs off on 429s without failing, and learns to pace under the rate limit", function()
    mock.config { records = 30000, latency_ms = 20, rate = 40, burst = 10, gzip = false }
    clear_stats()
    local r = assert(pager.run(client, { pages = 300, max = 16, user_id = mock.dataset.USER_ID }))
    assert.are.equal(30000, r.records)                          -- no page failed
    local s = stats()
    assert.are.equal(r.throttled, s.throttled)
    -- a fixed concurrency = 4 gets about 8% of its requests throttled here, the sequential 1.5%
    assert.is_true(r.throttled <= 12, r.throttled .. " of " .. r.attempts .. " attempts throttled")
    local pace = r.limiter:state().pace
    assert.is_true(pace ~= nil and pace >= 25 and pace <= 45, "pace " .. tostring(pace))
  end)
end)
