-- The fault matrix: every fault the network and the server can produce, injected for real by the
-- mock at the first, a middle and the last page of an each{} over 1000 records. Each run either
-- completes with exactly the data set (every id once, the exact total) or raises the documented
-- error kind, and never takes longer than the documented bound:
--   (max_retries + 1) * timeout + the waits between attempts (backoff ceilings or Retry-After)
-- for the faulty page, on top of what a clean iteration takes.
local acedata = require "acedata"
local core = require "acedata.core"
local socket = require "socket"
local mock = require "spec.helpers.mock"

local dataset = mock.dataset
local N, PAGE = 1000, 200
local POSITIONS = { { "first", 0 }, { "middle", 400 }, { "last", 800 } }
-- Under valgrind everything is slower: ACEDATA_TIME_SCALE stretches timeouts and delays alike.
local SCALE = tonumber(os.getenv "ACEDATA_TIME_SCALE") or 1
local OPTS = { timeout = 0.5 * SCALE, connect_timeout = 0.5 * SCALE, max_retries = 2,
               backoff_base = 0.01, backoff_cap = 0.05 }
local SLOW = 1.5 * SCALE            -- server delays: well beyond the timeout

local WANT_IDS, WANT_SUM = {}, dataset.totals(N).deducted
for _, r in ipairs(dataset.records(N)) do WANT_IDS[r.id] = true end

local function closed_port()
  local s = assert(socket.bind("127.0.0.1", 0))
  local _, port = s:getsockname()
  s:close()
  return port
end

local function http_date(t)
  return os.date("!%a, %d %b %Y %H:%M:%S GMT", t)
end

--- The longest wait before attempt n + 1 (n >= 1) the policy allows.
local function max_wait(n, retry_after)
  if retry_after then return retry_after end
  return math.min(OPTS.backoff_cap, OPTS.backoff_base * 2 ^ (n - 1))
end

--- The documented bound of one call that makes `attempts` attempts.
local function call_bound(attempts, retry_after)
  local b = attempts * OPTS.timeout
  for n = 1, attempts - 1 do b = b + max_wait(n, retry_after) end
  return b
end

--- Runs each{} to its end; records what came out.
local function with(extra)
  local o = {}
  for k, v in pairs(OPTS) do o[k] = v end
  for k, v in pairs(extra) do o[k] = v end
  return o
end

local function run(client)
  local r = { ids = {}, n = 0, sum = 0, dups = 0 }
  local t0 = core.now()
  r.ok, r.err = pcall(function()
    for rec in client.usage.proxies.each { page_size = PAGE } do
      if r.ids[rec.id] then r.dups = r.dups + 1 end
      r.ids[rec.id] = true
      r.n = r.n + 1
      r.sum = r.sum + rec.deducted_amount
    end
  end)
  r.elapsed = core.now() - t0
  return r
end

local function assert_exact(r)
  assert.is_true(r.ok, "iteration failed: " .. tostring(r.err))
  assert.equal(0, r.dups)
  assert.equal(N, r.n)
  for id in pairs(WANT_IDS) do assert.is_true(r.ids[id], "missing " .. id) end
  assert.equal(WANT_SUM, r.sum)
end

local function list_entries()
  local out = {}
  for _, e in ipairs(mock.log()) do
    if e.uri:find("^/api/v1/usage/proxies/?$") then out[#out + 1] = e end
  end
  return out
end

local function offset_of(e) return tonumber(e.args:match("offset=(%d+)")) or 0 end

-- Measured times, written for the report (never the token: only names and numbers).
local REPORT = {}
local function note(fault, where, outcome, elapsed, bound)
  REPORT[#REPORT + 1] = string.format("%-22s %-7s %-28s %6.3f s  bound %6.3f s", fault, where, outcome, elapsed, bound)
end

-- name, rule (fresh per run), the kind raised when the fault never stops, the retry-after the
-- client waits (nil: backoff).
local CLOSED = closed_port()
local FAULTS = {
  { "429 Retry-After secs", function() return { fault = "status", status = 429, headers = { ["Retry-After"] = "1" } } end,
    "rate_limit", 1 },
  -- an HTTP date 2 s ahead: the client waits 1 to 2 s (the date has a resolution of 1 s)
  { "429 Retry-After date", function()
      return { fault = "status", status = 429, headers = { ["Retry-After"] = http_date(os.time() + 2) } }
    end, "rate_limit", 2 },
  { "500", function() return { fault = "status", status = 500 } end, "server", nil },
  { "502", function() return { fault = "status", status = 502 } end, "server", nil },
  { "503", function() return { fault = "status", status = 503 } end, "server", nil },
  { "504", function() return { fault = "status", status = 504 } end, "server", nil },
  { "reset before headers", function() return { fault = "reset_before_headers" } end, "network", nil },
  { "reset mid-body", function() return { fault = "reset_mid_body" } end, "network", nil },
  { "short body", function() return { fault = "short_body", missing = 100 } end, "network", nil },
  { "malformed JSON 200", function() return { fault = "malformed" } end, "decode", nil },
  { "slow first byte", function() return { fault = "slow_first_byte", delay = SLOW } end, "timeout", nil },
  { "stall mid-body", function() return { fault = "stall_mid_body", delay = SLOW } end, "timeout", nil },
  -- the page's request is redirected to a port where nothing listens: its connection is refused
  { "connection refused", function()
      return { fault = "redirect", location = "http://127.0.0.1:" .. CLOSED .. "/api/v1/usage/proxies/" }
    end, "network", nil },
}

describe("fault matrix: each{} over 1000 records", function()
  local clean

  setup(function()
    mock.reset()
    mock.config { records = N }
    local c = mock.client(OPTS)
    assert(c:whoami())
    local worst = 0
    for _ = 1, 3 do
      local r = run(c)
      assert_exact(r)
      worst = math.max(worst, r.elapsed)
    end
    -- What the healthy pages of a run may take: a clean run, doubled, plus scheduling noise.
    clean = 2 * worst + 0.25 * SCALE
  end)

  before_each(function()
    mock.reset()
    mock.config { records = N }
  end)

  teardown(function()
    local dir = os.getenv "ACEDATA_REPORT_DIR"
    if dir and #REPORT > 0 then
      local f = io.open(dir .. "/fault-matrix-" .. (rawget(_G, "jit") and "luajit" or _VERSION:sub(5)) .. ".txt", "w")
      if f then f:write(table.concat(REPORT, "\n"), "\n") f:close() end
    end
  end)

  for _, f in ipairs(FAULTS) do
    local name, rule, kind, retry_after = f[1], f[2], f[3], f[4]

    for _, pos in ipairs(POSITIONS) do
      local where, offset = pos[1], pos[2]
      it(name .. " once at the " .. where .. " page: completes with exactly the data set", function()
        local r0 = rule()
        r0.offset, r0.times = offset, 1
        mock.faults(r0)
        local r = run(mock.client(OPTS))
        local bound = clean + call_bound(2, retry_after)
        note(name, where, r.ok and "completed exact" or ("raised " .. tostring(r.err and r.err.kind)), r.elapsed, bound)
        assert_exact(r)
        assert.is_true(r.elapsed < bound, ("took %.3f s, bound %.3f s"):format(r.elapsed, bound))
        -- the fault really happened (the rule was used up: it matches that page only), and the
        -- page was asked again
        assert.equal(0, mock.config({}).faults_pending, "the fault was not injected")
        local at = {}
        for _, e in ipairs(list_entries()) do
          if offset_of(e) == offset then at[#at + 1] = e end
        end
        assert.equal(2, #at)
        if retry_after then
          -- the retry came no sooner than Retry-After asked (a date: at least 1 s of the 2)
          local gap = at[#at].time - at[#at - 1].time
          assert.is_true(gap >= (retry_after == 2 and 0.95 or retry_after - 0.05), "retried after " .. gap .. " s")
        end
      end)
    end

    it(name .. " that persists at the middle page: raises " .. kind .. " after max_retries + 1 attempts", function()
      local r0 = rule()
      r0.offset, r0.times = 400, -1
      mock.faults(r0)
      local r = run(mock.client(OPTS))
      local attempts = OPTS.max_retries + 1
      local bound = clean + call_bound(attempts, retry_after)
      note(name .. " (persists)", "middle", r.ok and "completed?!" or ("raised " .. tostring(r.err and r.err.kind)),
        r.elapsed, bound)
      assert.is_false(r.ok, "a fault that never stops cannot give a complete result")
      assert.is_true(acedata.is_error(r.err), tostring(r.err))
      assert.equal(kind, r.err.kind)
      assert.equal(attempts, r.err.attempts)
      assert.equal(400, r.n)                      -- the records before the page, none after it
      assert.equal(0, r.dups)
      if kind == "rate_limit" then assert.is_number(r.err.retry_after) end
      assert.is_true(r.elapsed < bound, ("took %.3f s, bound %.3f s"):format(r.elapsed, bound))
      local n = 0
      for _, e in ipairs(list_entries()) do if offset_of(e) == 400 then n = n + 1 end end
      -- (a refused connection never reaches the mock: there the redirects are counted)
      if r0.fault == "reset_before_headers" then
        -- libcurl itself sends a request again, once, when a reused kept-alive connection gives
        -- nothing back (it cannot tell that from a connection the server closed while idle)
        assert.is_true(n == attempts or n == attempts + 1, n .. " requests")
      else
        assert.equal(attempts, n)
      end
    end)
  end

  describe("connection refused from the start", function()
    it("raises network after max_retries + 1 attempts, within the bound", function()
      local c = mock.client(with { base_url = "http://127.0.0.1:" .. closed_port() })
      local t0 = core.now()
      local ok, err = pcall(function()
        for _ in c.usage.proxies.each { page_size = PAGE, user_id = dataset.USER_ID } do end
      end)
      local elapsed = core.now() - t0
      local bound = call_bound(OPTS.max_retries + 1) + 0.25 * SCALE
      note("refused (base_url)", "first", ok and "completed?!" or ("raised " .. tostring(err.kind)), elapsed, bound)
      assert.is_false(ok)
      assert.same({ "network", OPTS.max_retries + 1 }, { err.kind, err.attempts })
      assert.is_true(elapsed < bound, ("took %.3f s, bound %.3f s"):format(elapsed, bound))
    end)
  end)

  describe("statuses never retried", function()
    for _, status in ipairs { 400, 401, 403, 404, 422 } do
      it(status .. " at the middle page raises at once, after one attempt", function()
        mock.faults { fault = "status", status = status, offset = 400, times = -1 }
        local r = run(mock.client(OPTS))
        assert.is_false(r.ok)
        assert.same({ status, 1 }, { r.err.status, r.err.attempts })
        assert.equal(400, r.n)
        local n = 0
        for _, e in ipairs(list_entries()) do if offset_of(e) == 400 then n = n + 1 end end
        assert.equal(1, n)
      end)
    end
  end)

  describe("Retry-After", function()
    it("as an HTTP date beyond max_retry_after is not waited for", function()
      mock.faults { fault = "status", status = 429, offset = 400, times = -1,
                    headers = { ["Retry-After"] = http_date(os.time() + 3600) } }
      local r = run(mock.client(OPTS))
      assert.is_false(r.ok)
      assert.same({ "rate_limit", 1 }, { r.err.kind, r.err.attempts })
      assert.is_true(r.err.retry_after >= 3590 and r.err.retry_after <= 3600)
      assert.is_true(r.elapsed < clean)
    end)

    it("in seconds beyond a lower max_retry_after is not waited for", function()
      mock.faults { fault = "status", status = 429, offset = 0, headers = { ["Retry-After"] = "5" } }
      local r = run(mock.client(with { max_retry_after = 2 }))
      assert.is_false(r.ok)
      assert.same({ "rate_limit", 5, 1 }, { r.err.kind, r.err.retry_after, r.err.attempts })
    end)
  end)
end)
