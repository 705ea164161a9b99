-- The mock's server model (mock/lua/mock_model.lua), measured against the running mock at
-- $ACEDATA_MOCK_URL: latency and jitter, the token bucket per token, a bounded number of
-- workers, the cost of a large offset, the in-flight counters, and the start options.
--
-- Requests go through the curl command (several at once with --parallel) reading a 0600 config
-- file, so the token never appears on a command line. Every timing bound is a lower bound the
-- model guarantees (a slow machine only makes requests slower), never an upper bound.

local cjson = require "cjson"
local http = require "socket.http"
local ltn12 = require "ltn12"

local ROOT = (debug.getinfo(1, "S").source:match("^@(.*)/spec/[^/]*$")) or "."
package.path = ROOT .. "/?.lua;" .. package.path
local dataset = require "mock.dataset"

local base = os.getenv "ACEDATA_MOCK_URL"
assert(base and base ~= "", "ACEDATA_MOCK_URL is not set: run the specs through scripts/test")

local function q(s) return "'" .. tostring(s):gsub("'", "'\\''") .. "'" end

local function control(method, what, body)
  local chunks, payload = {}, body and cjson.encode(body) or nil
  local ok, code = http.request {
    url = base .. "/__mock/" .. what, method = method, sink = ltn12.sink.table(chunks),
    headers = payload and { ["content-type"] = "application/json", ["content-length"] = #payload } or nil,
    source = payload and ltn12.source.string(payload) or nil,
  }
  assert(ok, code)
  return code, cjson.decode(table.concat(chunks))
end

local function configure(t)
  local code, answer = control("POST", "config", t)
  assert.are.equal(200, code, cjson.encode(answer))
  return answer
end

local function stats() return select(2, control("GET", "stats")) end

local function list_url(offset, user)
  return ("%s/api/v1/usage/proxies/?user_id=%s&limit=10&offset=%d"):format(base, user or dataset.USER_ID, offset or 0)
end

-- Runs the curl command over `urls` (all at once when parallel), with `token`'s Authorization
-- header from a 0600 config file. Returns one row per URL, in order:
-- { status, seconds, retry_after (string|nil), body }.
local function fetch(urls, parallel, token)
  local dir = os.tmpname()
  os.remove(dir)
  assert(os.execute("umask 077 && mkdir " .. q(dir)))
  local cfg = { 'header = "Authorization: Bearer ' .. (token or dataset.TOKEN) .. '"',
    'write-out = "%{http_code} %{time_total} [%header{retry-after}]\\n"' }
  for i, url in ipairs(urls) do
    cfg[#cfg + 1] = ('url = "%s"'):format(url)
    cfg[#cfg + 1] = ('output = "%s/%d.body"'):format(dir, i)
  end
  local f = assert(io.open(dir .. "/curl.cfg", "w"))
  f:write(table.concat(cfg, "\n"), "\n")
  f:close()
  local flags = parallel and ("--parallel --parallel-immediate --parallel-max " .. #urls) or ""
  local p = assert(io.popen("curl -sS --no-progress-meter " .. flags .. " -K " .. q(dir .. "/curl.cfg")))
  local out = p:read("*a")
  p:close()
  local rows = {}
  for code, secs, ra in out:gmatch("(%d+) (%S+) %[([^%]]*)%]") do
    rows[#rows + 1] = { status = tonumber(code), seconds = tonumber(secs), retry_after = ra ~= "" and ra or nil }
  end
  for i = 1, #urls do
    local bf = io.open(("%s/%d.body"):format(dir, i), "rb")
    if bf and rows[i] and not parallel then rows[i].body = bf:read("*a") end
    if bf then bf:close() end
    os.remove(("%s/%d.body"):format(dir, i))
  end
  os.remove(dir .. "/curl.cfg")
  os.remove(dir)
  assert.are.equal(#urls, #rows, "curl answered " .. out)
  return rows
end

local function repeated(url, n)
  local t = {}
  for i = 1, n do t[i] = url end
  return t
end

describe("the mock's server model", function()
  before_each(function()
    assert.are.equal(200, (control("POST", "reset")))
  end)
  after_each(function()
    control("POST", "reset")
  end)

  describe("latency", function()
    it("makes every answer take at least latency_ms", function()
      configure { latency_ms = 40 }
      local rows = fetch(repeated(list_url(0), 4))
      for _, r in ipairs(rows) do
        assert.are.equal(200, r.status)
        assert.is_true(r.seconds >= 0.040, ("took %.4f s"):format(r.seconds))
      end
      local s = stats()
      assert.are.equal(4, s.answered)
      -- the server's clock (ngx.now) has millisecond resolution
      assert.is_true(s.min_ms >= 39, "server-side minimum " .. s.min_ms)
    end)

    it("adds up to jitter_ms on top, spread over that range", function()
      configure { latency_ms = 10, jitter_ms = 60 }
      fetch(repeated(list_url(0), 24))
      local s = stats()
      assert.is_true(s.min_ms >= 9, "minimum " .. s.min_ms)
      -- 24 uniform draws over 60 ms all inside 15 ms of each other: p < 1e-13
      assert.is_true(s.max_ms - s.min_ms >= 15, ("spread %.1f ms"):format(s.max_ms - s.min_ms))
    end)

    it("is off by default: the stats see the requests without a floor", function()
      fetch(repeated(list_url(0), 3))
      local s = stats()
      assert.are.equal(3, s.requests)
      assert.are.same({ ["200"] = 3 }, s.by_status)
    end)
  end)

  describe("rate limit", function()
    it("answers 429 beyond the burst, with an integer Retry-After and DRF's throttle message", function()
      configure { rate = 0.1, burst = 3 }     -- one token back every 10 s
      local rows = fetch(repeated(list_url(0), 7))
      for i = 1, 3 do assert.are.equal(200, rows[i].status) end
      for i = 4, 7 do
        local r = rows[i]
        assert.are.equal(429, r.status)
        local secs = assert(tonumber(r.retry_after), "Retry-After " .. tostring(r.retry_after))
        assert.are.equal(math.floor(secs), secs)
        assert.is_true(secs >= 1 and secs <= 10, "Retry-After " .. secs)
        assert.are.same({ detail = ("Request was throttled. Expected available in %d second%s.")
          :format(secs, secs == 1 and "" or "s") }, cjson.decode(r.body))
      end
      local s = stats()
      assert.are.equal(4, s.throttled)
      assert.are.same({ ["200"] = 3, ["429"] = 4 }, s.by_status)
    end)

    it("keeps one bucket per token", function()
      configure { rate = 0.1, burst = 2 }
      local mine = fetch(repeated(list_url(0), 3))
      assert.are.same({ 200, 200, 429 }, { mine[1].status, mine[2].status, mine[3].status })
      local other = fetch(repeated(list_url(0, dataset.OTHER_USER_ID), 2), false, dataset.OTHER_TOKEN)
      assert.are.same({ 200, 200 }, { other[1].status, other[2].status })
    end)

    it("gives tokens back at the configured rate", function()
      configure { rate = 5, burst = 1 }        -- one every 200 ms
      assert.are.equal(200, fetch({ list_url(0) })[1].status)
      os.execute("sleep 0.3")
      assert.are.equal(200, fetch({ list_url(0) })[1].status)
    end)

    it("does not count requests that fail authentication", function()
      configure { rate = 0.1, burst = 1 }
      local bad = fetch({ list_url(0) }, false, "platform-v1-" .. ("0"):rep(64))
      assert.are.equal(401, bad[1].status)
      assert.are.equal(200, fetch({ list_url(0) })[1].status)
    end)
  end)

  describe("workers", function()
    it("serves at most `workers` requests at a time; the others queue", function()
      configure { workers = 2, latency_ms = 100 }
      local t0 = require("socket").gettime()
      local rows = fetch(repeated(list_url(0), 6), true)
      local wall = require("socket").gettime() - t0
      for _, r in ipairs(rows) do assert.are.equal(200, r.status) end
      local s = stats()
      assert.are.equal(2, s.max_serving)
      -- 6 requests, 2 at a time, 100 ms each: the last answer comes >= 300 ms after the first asked
      assert.is_true(wall >= 0.3, ("6 requests took %.3f s"):format(wall))
      table.sort(rows, function(a, b) return a.seconds < b.seconds end)
      assert.is_true(rows[6].seconds >= 0.2, ("slowest %.3f s"):format(rows[6].seconds))
    end)

    it("counts the requests in flight at once (max_inflight)", function()
      configure { latency_ms = 300 }
      fetch(repeated(list_url(0), 4), true)
      local s = stats()
      assert.are.equal(0, s.inflight)
      assert.is_true(s.max_inflight >= 2 and s.max_inflight <= 4, "max_inflight " .. s.max_inflight)
    end)
  end)

  describe("offset cost", function()
    it("makes a list request slower by offset_cost_us per 1000 of its offset", function()
      configure { offset_cost_us = 1000 }     -- 1 ms per 1000: offset 400000 costs 400 ms
      local far = fetch({ list_url(400000) })[1]
      assert.are.equal(200, far.status)
      assert.is_true(far.seconds >= 0.4, ("offset 400000 took %.3f s"):format(far.seconds))
      local near = fetch(repeated(list_url(0), 3))
      table.sort(near, function(a, b) return a.seconds < b.seconds end)
      assert.is_true(near[2].seconds < far.seconds / 2,
        ("offset 0: %.3f s, offset 400000: %.3f s"):format(near[2].seconds, far.seconds))
    end)
  end)

  describe("control API", function()
    it("rejects bad model values with a 400", function()
      for _, body in ipairs { { rate = -1 }, { workers = 1.5 }, { latency_ms = "20" }, { burst = -2 } } do
        local code, answer = control("POST", "config", body)
        assert.are.equal(400, code)
        assert.are.equal("invalid_request", answer.error.code)
      end
    end)

    it("resets the counters on DELETE /__mock/stats", function()
      fetch({ list_url(0) })
      assert.are.equal(1, stats().requests)
      assert.are.equal(200, (control("DELETE", "stats")))
      assert.are.equal(0, stats().requests)
    end)
  end)
end)

describe("mock/server start with model options", function()
  local function start(args)   -- (the exit status through the shell: 5.1's close has none)
    local p = assert(io.popen(ROOT .. "/mock/server start " .. args .. " 2>&1; echo \"exit=$?\""))
    local out = p:read("*a")
    p:close()
    return out, out:match("exit=(%d+)%s*$") == "0"
  end

  it("starts with the model configured", function()
    local out = start("--latency 25:5 --rate 3.5 --burst 2 --workers 3 --offset-cost 7")
    local url = assert(out:match("ACEDATA_MOCK_URL=(%S+)"), out)
    local saved = base
    base = url
    local ok, err = pcall(function()
      local _, c = control("GET", "config")
      assert.are.same({ 25, 5, 3.5, 2, 3, 7 },
        { c.latency_ms, c.jitter_ms, c.rate, c.burst, c.workers, c.offset_cost_us })
      -- reset goes back to the start-up model, not to "off"
      configure { latency_ms = 0 }
      control("POST", "reset")
      assert.are.equal(25, select(2, control("GET", "config")).latency_ms)
    end)
    base = saved
    os.execute(ROOT .. "/mock/server stop " .. q(url) .. " 2>/dev/null")
    assert(ok, err)
  end)

  it("refuses a bad option value", function()
    local out, ok = start("--workers many")
    assert.is_falsy(ok)
    assert.matches("--workers must be a non%-negative integer", out)
  end)
end)
