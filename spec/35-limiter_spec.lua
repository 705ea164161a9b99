-- acedata.limiter: the controller of concurrency = "auto", driven by a simulated clock and a
-- simulated server (a small discrete-event model of what the mock's server model does: a fixed
-- latency with optional jitter, N workers serving first come first served, a token bucket per
-- client answering 429 with a whole-second Retry-After at once). The client in the simulation
-- does what the paging runtime does: it starts an attempt while fewer than l:limit() are in
-- flight and l:next_send(now) has passed, retries a throttled page, and reports every attempt.

local limiter = require "acedata.limiter"

-- A deterministic pseudo-random sequence in [0, 1) (an LCG; the same every run).
local function lcg(seed)
  local x = seed
  return function()
    x = (x * 1103515245 + 12345) % 2147483648
    return x / 2147483648
  end
end

-- Runs one paging job of `pages` pages through the simulated server. opts: latency (s),
-- jitter (s), workers (0 = unbounded), rate and burst (nil = no limit), max (the limiter's),
-- fixed (a fixed concurrency instead of the limiter), slower (s added to the latency per page
-- already fetched, a server that gets slower for every request), think (client seconds per page),
-- spike_every and spike (every n-th attempt takes `spike` s longer: a busy machine).
-- Returns { seconds, pages, attempts, throttled, max_inflight, latencies (of the 200s), limits }.
local function simulate(opts)
  local l = not opts.fixed and limiter.new { max = opts.max or 16 }
  local rand = lcg(opts.seed or 7)
  local latency, jitter, workers = opts.latency or 0.02, opts.jitter or 0, opts.workers or 0
  local rate, burst = opts.rate, opts.burst
  local tokens, bucket_t = burst, 0
  local now, pages_left, done = 0, opts.pages, 0
  local retry = 0                -- throttled pages waiting to be asked again
  local client_pause = -1        -- the fixed client also pauses for Retry-After
  local busy, queue, events = 0, {}, {}
  local inflight, max_inflight, attempts, throttled = 0, 0, 0, 0
  local latencies, limits = {}, {}
  local client_free = 0          -- the client's own time (think) per finished page

  local function schedule(t, ev) ev.t = t; events[#events + 1] = ev end
  local function serve(req, t)
    busy = busy + 1
    local d = latency + jitter * rand() + (opts.slower or 0) * done
    if opts.spike_every and (attempts % opts.spike_every) == 0 then d = d + opts.spike end
    schedule(t + d, { kind = "done", req = req })
  end
  local function arrive(req)
    if rate then
      tokens = math.min(burst, tokens + (now - bucket_t) * rate)
      bucket_t = now
      if tokens < 1 then
        local wait = math.max(1, math.ceil((1 - tokens) / rate))
        return schedule(now + 0.0005, { kind = "throttled", req = req, retry_after = wait })
      end
      tokens = tokens - 1
    end
    if workers == 0 or busy < workers then serve(req, now) else queue[#queue + 1] = req end
  end
  local function limit() return opts.fixed or l:limit() end
  local function next_send() if l then return l:next_send(now) end return client_pause end

  local guard = 0
  while done < opts.pages do
    guard = guard + 1
    assert(guard < 1e6, "simulation did not finish")
    -- start what may start
    while (pages_left > 0 or retry > 0) and inflight < limit() and next_send() <= now
        and client_free <= now do
      if retry > 0 then retry = retry - 1 else pages_left = pages_left - 1 end
      inflight, attempts = inflight + 1, attempts + 1
      if inflight > max_inflight then max_inflight = inflight end
      if l then l:on_send(now) end
      arrive({ sent = now })
    end
    -- the next event: an answer, or the time sending may resume
    local k, t = nil, math.huge
    for i, ev in ipairs(events) do if ev.t < t then k, t = i, ev.t end end
    local resume = math.max(next_send(), client_free)
    if (pages_left > 0 or retry > 0) and inflight < limit() and resume > now and resume < t then
      now = resume
    else
      assert(k, "nothing in flight and nothing to send")
      local ev = table.remove(events, k)
      now = ev.t
      inflight = inflight - 1
      local r = { latency = now - ev.req.sent }
      if ev.kind == "throttled" then
        throttled = throttled + 1
        retry = retry + 1
        r.status, r.retry_after = 429, ev.retry_after
        client_pause = math.max(client_pause, now + ev.retry_after)
      else
        busy = busy - 1
        if #queue > 0 then serve(table.remove(queue, 1), now) end
        r.status = 200
        done = done + 1
        latencies[#latencies + 1] = r.latency
        client_free = math.max(client_free, now) + (opts.think or 0)
      end
      if l then
        l:on_result(now, r)
        limits[#limits + 1] = l:limit()
      end
    end
  end
  return { seconds = now, pages = done, attempts = attempts, throttled = throttled,
    max_inflight = max_inflight, latencies = latencies, limits = limits, limiter = l }
end

local median = require("spec.helpers.stats").median

describe("acedata.limiter", function()
  describe("new", function()
    it("starts at one request in flight, sending at once", function()
      local l = limiter.new()
      assert.are.equal(1, l:limit())
      assert.is_true(l:next_send(5) <= 5)
      assert.is_nil(l:state().pace)
    end)

    it("refuses a max that is not a positive integer", function()
      for _, bad in ipairs { 0, -1, 2.5, "8", true } do
        assert.has_error(function() limiter.new { max = bad } end,
          "limiter.new: max must be an integer >= 1, got " .. tostring(bad))
      end
    end)

    it("refuses a result without a latency", function()
      local l = limiter.new()
      l:on_send(0)
      assert.has_error(function() l:on_result(1, { status = 200 }) end,
        "limiter: latency must be a number >= 0, got nil")
      assert.has_error(function() l:on_result(1) end, "limiter: on_result needs a result table")
    end)
  end)

  describe("decisions", function()
    -- A limiter that sent 50/s for a second and then got a 429 (Retry-After: 1): it paces now.
    local function paced_after_429()
      local l = limiter.new()
      local now = 0
      for _ = 1, 50 do
        l:on_send(now)
        now = now + 0.02
        l:on_result(now, { latency = 0.02, status = 200 })
      end
      l:on_send(now)
      l:on_result(now + 0.001, { latency = 0.001, status = 429, retry_after = 1 })
      return l, now
    end

    it("doubles the limit per round while latency stays at its minimum (slow start)", function()
      local l = limiter.new { max = 64 }
      local now, seen = 0, {}
      for _ = 1, 5 do
        local n = l:limit()
        seen[#seen + 1] = n
        for _ = 1, n do l:on_send(now) end
        now = now + 0.02
        for _ = 1, n do l:on_result(now, { latency = 0.02, status = 200 }) end
      end
      assert.are.same({ 1, 2, 4, 8, 16 }, seen)
      assert.are.equal(32, l:limit())
    end)

    it("does not grow while the caller keeps fewer in flight than allowed", function()
      local l = limiter.new { max = 16, initial = 4 }
      local now = 0
      for _ = 1, 20 do
        l:on_send(now)
        now = now + 0.02
        l:on_result(now, { latency = 0.02, status = 200 })
      end
      assert.are.equal(4, l:limit())
    end)

    it("falls toward limit / gradient when latency doubles and a quarter of the load cures it", function()
      local l = limiter.new { max = 64 }
      local now = 0
      local function round(lat)
        local n = l:limit()
        for _ = 1, n do l:on_send(now) end
        now = now + lat
        for _ = 1, n do l:on_result(now, { latency = lat, status = 200 }) end
      end
      round(0.02); round(0.02); round(0.02); round(0.02)   -- 1, 2, 4, 8 -> 16
      assert.are.equal(16, l:limit())
      round(0.04)                                          -- 16 in flight, twice the latency:
      assert.are.equal(4, l:limit())                       -- first a probe at a quarter
      round(0.02)                                          -- the latency is back: a queue
      assert.are.equal(16, l:limit())
      round(0.04)
      assert.are.equal(9, l:limit())                       -- 16 / 2 + 1
    end)

    it("halves the limit on a 503 and on a timeout, once per round", function()
      local l = limiter.new { max = 16, initial = 16 }
      for _ = 1, 16 do l:on_send(0) end
      l:on_result(0.1, { latency = 0.1, status = 503 })
      assert.are.equal(8, l:limit())
      l:on_result(0.1, { latency = 0.1, status = 503 })   -- sent before the decrease
      l:on_result(0.2, { latency = 0.2, kind = "timeout" })
      assert.are.equal(8, l:limit())
      l:on_send(0.3)
      l:on_result(0.5, { latency = 0.2, kind = "timeout" })
      assert.are.equal(4, l:limit())
    end)

    it("pauses every attempt for a Retry-After", function()
      local l = limiter.new()
      l:on_send(10)
      l:on_result(10.01, { latency = 0.01, status = 429, retry_after = 2 })
      assert.are.equal(12.01, l:next_send(10.5))
      assert.are.equal(12.01, l:next_send(12))
      assert.is_true(l:next_send(12.01) <= 12.01)
    end)

    it("paces attempts once a 429 arrived: no two closer than 1 / pace", function()
      local l, now = paced_after_429()
      local pace = l:state().pace
      assert.is_true(pace > 30 and pace < 50, "pace " .. tostring(pace))
      local t = l:next_send(now)
      l:on_send(t)
      assert.is_true(l:next_send(t) >= t + 0.5 / pace)
    end)

    it("keeps the pace when every send wakes late: late sends do not push the later ones back", function()
      local l, now = paced_after_429()
      local pace = l:state().pace
      local t = l:next_send(now)
      local first, gap, n = t, math.huge, 0
      local last
      for _ = 1, 200 do            -- each send 2 ms after it was allowed
        t = math.max(t, l:next_send(t)) + 0.002
        if last then gap = math.min(gap, t - last) end
        l:on_send(t)
        last, n = t, n + 1
      end
      local rate = (n - 1) / (last - first)
      assert.is_true(rate > 0.99 * pace and rate <= pace * 1.01, ("rate %.3f, pace %.3f"):format(rate, pace))
      assert.is_true(gap >= 0.5 / pace, "closest sends " .. gap)
    end)
    it("probes the pace up to what it learned, and past it only after a minute without a 429", function()
      local l, now = paced_after_429()
      local learned = l:state().pace
      local function run_until(t_end)     -- one attempt at a time, as fast as the pace allows
        while now < t_end do
          local due = l:next_send(now)
          if due > now then now = due end
          l:on_send(now)
          now = now + 0.01
          l:on_result(now, { latency = 0.01, status = 200 })
        end
      end
      run_until(50)
      local at50 = l:state().pace
      assert.is_true(at50 > learned, ("pace %.2f, learned %.2f"):format(at50, learned))
      assert.is_true(at50 <= 50 + 1e-9, "pace " .. at50)    -- the episode's S/T: 50 sends in 1 s
      run_until(200)
      assert.is_true(l:state().pace > 50, "pace " .. l:state().pace)
    end)
  end)

  describe("against a simulated server", function()
    it("grows up to max without a limit, and never above it", function()
      local r = simulate { pages = 1000, latency = 0.02, max = 16 }
      assert.are.equal(16, r.max_inflight)
      assert.are.equal(16, r.limits[#r.limits])
      for _, n in ipairs(r.limits) do assert.is_true(n <= 16) end
      -- sequential: 50 pages/s; the goal of concurrency = "auto" is >= 6x that
      local pps = r.pages / r.seconds
      assert.is_true(pps >= 300, ("%.0f pages/s"):format(pps))
      assert.are.equal(0, r.throttled)
    end)

    it("reaches max although one answer in seven is 25 ms late (a busy machine)", function()
      local r = simulate { pages = 1000, latency = 0.02, max = 16, spike_every = 7, spike = 0.025 }
      assert.are.equal(16, r.max_inflight)
      assert.is_true(r.pages / r.seconds >= 300, ("%.0f pages/s"):format(r.pages / r.seconds))
    end)

    it("reaches max when every answer is up to 50% slower than the fastest (noise, no queue)", function()
      local r = simulate { pages = 1000, latency = 0.02, jitter = 0.01, max = 16, seed = 11 }
      local at_max = 0
      for _, n in ipairs(r.limits) do if n == 16 then at_max = at_max + 1 end end
      assert.is_true(at_max >= 0.9 * #r.limits, ("at max for %d of %d answers"):format(at_max, #r.limits))
    end)

    it("keeps max_concurrency as its bound, whatever it is", function()
      for _, mx in ipairs { 1, 3, 5 } do
        local r = simulate { pages = 300, latency = 0.02, max = mx }
        assert.are.equal(mx, r.max_inflight)
      end
    end)

    it("settles near the worker bound: the best fixed throughput, latency <= 1.5x unloaded", function()
      local best = 0
      for _, n in ipairs { 1, 2, 4, 8, 16 } do
        local f = simulate { pages = 1000, latency = 0.02, workers = 4, fixed = n }
        best = math.max(best, f.pages / f.seconds)
      end
      local r = simulate { pages = 1000, latency = 0.02, workers = 4, max = 16 }
      local pps = r.pages / r.seconds
      assert.is_true(pps >= 0.9 * best, ("%.0f pages/s, best fixed %.0f"):format(pps, best))
      local med = median(r.latencies)
      assert.is_true(med <= 1.5 * 0.02, ("median latency %.1f ms"):format(med * 1000))
      local last = r.limits[#r.limits]
      assert.is_true(last >= 4 and last <= 6, "limit at the end " .. last)
    end)

    it("settles near the worker bound with jittery latency too", function()
      local r = simulate { pages = 2000, latency = 0.02, jitter = 0.01, workers = 4, max = 16 }
      local pps = r.pages / r.seconds
      -- 4 workers at 25 ms on average serve 160 pages/s
      assert.is_true(pps >= 0.9 * 160, ("%.0f pages/s"):format(pps))
      assert.is_true(median(r.latencies) <= 1.5 * 0.025, ("median %.1f ms"):format(median(r.latencies) * 1000))
    end)

    it("holds >= 90% of a 40 req/s limit (burst 10) with <= 5% 429s over 2,000 pages", function()
      local r = simulate { pages = 2000, latency = 0.02, rate = 40, burst = 10, max = 16 }
      assert.are.equal(2000, r.pages)
      local pps = r.pages / r.seconds
      assert.is_true(pps >= 36, ("%.1f pages/s"):format(pps))
      assert.is_true(r.throttled <= 0.05 * r.attempts, ("%d of %d attempts throttled"):format(r.throttled, r.attempts))
      local pace = r.limiter:state().pace
      assert.is_true(pace > 36 and pace <= 41, "pace " .. tostring(pace))
    end)

    it("beats a fixed concurrency = 4 under the same limit", function()
      local fixed = simulate { pages = 2000, latency = 0.02, rate = 40, burst = 10, fixed = 4 }
      local auto = simulate { pages = 2000, latency = 0.02, rate = 40, burst = 10, max = 16 }
      assert.is_true(auto.seconds < fixed.seconds, ("auto %.1f s, fixed 4 %.1f s"):format(auto.seconds, fixed.seconds))
      assert.is_true(auto.throttled < fixed.throttled)
    end)

    it("keeps its limit when the server gets slower for every request (large offsets)", function()
      -- 20 ms, +10 µs per page fetched: 40 ms at the end; no queue, so no reason to shrink
      local r = simulate { pages = 2000, latency = 0.02, slower = 0.00001, max = 16 }
      assert.is_true(r.limits[#r.limits] >= 12, "limit at the end " .. r.limits[#r.limits])
    end)

    it("is deterministic", function()
      local a = simulate { pages = 500, latency = 0.02, jitter = 0.01, workers = 4, rate = 100, burst = 5 }
      local b = simulate { pages = 500, latency = 0.02, jitter = 0.01, workers = 4, rate = 100, burst = 5 }
      assert.are.same({ a.seconds, a.attempts, a.throttled, a.max_inflight },
        { b.seconds, b.attempts, b.throttled, b.max_inflight })
      assert.are.same(a.limits, b.limits)
    end)
  end)
end)
