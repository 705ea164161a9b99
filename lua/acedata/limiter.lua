--- How many requests to keep in flight, and how fast to send them: the controller behind
-- `concurrency = "auto"`. Pure Lua, no I/O: the caller tells it when attempts start and end
-- (with its own monotonic clock) and asks before each attempt.
--
--    local limiter = require "acedata.limiter"
--    local l = limiter.new { max = 16 }
--    -- before each attempt: wait while in flight >= l:limit() or now < l:next_send(now)
--    l:on_send(now)
--    -- when it ends:
--    l:on_result(now, { latency = s, status = 200, retry_after = nil, kind = nil })
--
-- Three mechanisms, each answering one kind of signal:
--
-- 1. **Concurrency from latency** (as TCP Vegas and Netflix's concurrency-limits, Envoy's
--    adaptive concurrency filter do). The no-load latency is the lowest median of a round (of
--    three answers or more), but at most 1.2 x the fastest answer seen: on a busy machine the
--    typical unloaded answer is slower than the fastest one, and a queue must not set the
--    baseline. It is measured again now and then at a quarter of the limit (a short probe, so a
--    server that got slower for every request, e.g. large offsets, is not mistaken for a queue). Results are taken in
--    rounds of `limit` answers to attempts sent after the last change; a round's median
--    latency over the no-load one is the gradient (a median, as Envoy's filter takes a
--    percentile: one slow answer on a busy machine is not a queue). Starting from 1 the limit
--    doubles per round (slow start) while the gradient stays under 1.15 and the limit was used;
--    then it grows by one per round under 1.15, holds up to 1.35, and above that falls to
--    `limit / gradient` + 1 (toward the knee: what the server serves without queueing).
--    429s and errors are no latency samples.
-- 2. **Multiplicative decrease on overload**: a 503/502/504 or a timeout halves the limit, a
--    network error takes a quarter off; once per round: answers to attempts sent before the
--    decrease do not decrease again. Before a shrink from latency alone, the no-load latency is
--    measured again (a probe, at most once a second).
-- 3. **Pacing under a rate limit.** A 429 pauses every attempt for its `retry_after` (what
--    `next_send` returns). When the first 429s arrive, the controller learns the rate the
--    server allows from the sending "episodes" between pauses: an episode that started with a
--    full bucket and sent S accepted requests in T seconds bounds the rate from above (S/T),
--    the accepted rate since the first 429 bounds it from below, and two episodes of different
--    length give the rate itself (S = burst + rate·T, a least-squares slope). It then paces
--    attempts (on a grid of 1/pace, so sends that wake a little late do not lower the rate)
--    at 97% of that estimate (within the bounds) and probes upward by 0.2% a second,
--    up to the estimate, while the pacing is what holds the client back, so after two or three
--    429s it holds just under the limit instead of sawing between pauses. The limit is cut too
--    (a quarter), but never below what the pace needs (1.5 x pace x no-load latency, >= 2).
--    After a minute without a 429 the pace may probe past what it learned (a raised limit).
--
-- The caller's `limit()` and `next_send()` checks are all it takes: the limiter never sleeps,
-- and counts the attempts in flight itself (on_send, on_result). A retry is an attempt like
-- another. Deterministic: the same calls give the same answers. Time is in seconds, any
-- monotonic origin.
-- @module acedata.limiter

local limiter = {}

local floor, max, min, sqrt, huge = math.floor, math.max, math.min, math.sqrt, math.huge

local GROW_BELOW = 1.15     -- gradient (round median / no-load latency) under which the limit grows
local SHRINK_ABOVE = 1.35   -- gradient above which it falls toward limit / gradient
local PROBE_EVERY = 10      -- seconds between no-load latency probes
local RECHECK_AFTER = 1     -- before a shrink from latency, probe again if the last is older
local PACE_MARGIN = 0.97    -- pace at this share of the estimated allowed rate
local FIRST_CUT = 0.9       -- the first 429 (one episode, no estimate yet): this share of S/T
local PROBE_RATE = 0.002    -- the pace grows by this share per second while it binds
local SENDS_KEPT = 4096     -- send times kept (to count an episode's sends)
local EPISODES_KEPT = 8
local EPSILON = 1e-6        -- seconds: a send at the instant a round starts belongs to it
local MIN_LATENCY = 1e-4    -- latencies below this (a coarse clock) count as this
local NOISE = 1.2           -- the no-load latency is at most this times the fastest answer
local MIN_PACE = 1          -- requests per second: the slowest pace learned from 429s
local CAP_LIFT = 60         -- seconds without a 429 after which the pace may pass what was learned

local Limiter = {}
Limiter.__index = Limiter

local function check_number(v, name, lo)
  if type(v) ~= "number" or v ~= v or v < lo or v == huge then
    error(("limiter: %s must be a number >= %s, got %s"):format(name, lo, tostring(v)), 3)
  end
end

--- A new controller.
-- @tparam[opt] table opts `max` (the most requests in flight, an integer >= 1, default 16),
--   `initial` (the limit to start from, default 1)
-- @return a limiter
function limiter.new(opts)
  opts = opts or {}
  if type(opts) ~= "table" then error("limiter.new: options must be a table", 2) end
  local mx = opts.max == nil and 16 or opts.max
  if type(mx) ~= "number" or mx < 1 or mx ~= floor(mx) or mx > 1e6 then
    error("limiter.new: max must be an integer >= 1, got " .. tostring(opts.max), 2)
  end
  local initial = opts.initial == nil and 1 or opts.initial
  if type(initial) ~= "number" or initial < 1 or initial ~= floor(initial) then
    error("limiter.new: initial must be an integer >= 1, got " .. tostring(opts.initial), 2)
  end
  return setmetatable({
    max = mx,
    cwnd = min(initial, mx),  -- the limit, fractional inside
    slow_start = true,
    inflight = 0,
    noload = nil,              -- the no-load latency: min(best_median, NOISE x min_sample)
    min_sample = nil,          -- the lowest latency of a normal answer
    best_median = nil,         -- the lowest median of a round of 3 answers or more
    -- the current round
    round_start = -huge, round_n = 0, round = {}, round_used = 0,
    last_cut = -huge,          -- attempts sent before this are not counted for a new decrease
    probe_due = nil, probing = nil, probed_at = -huge,
    -- pacing
    pause_until = -huge,
    pace = nil,                -- requests per second, nil while no 429 was seen
    pace_next = -huge,
    pace_binding = false, pace_t = nil,
    hi = nil,                  -- the last episode's S/T (an upper bound of the allowed rate)
    estimate = nil,            -- the allowed rate from the episodes' slope
    first429 = nil, ok_since_first = 0,
    episode_start = nil,
    episodes = {},
    sends = {}, sends_head = 0, sends_n = 0,
    -- counters (for benchmarks and specs)
    sent = 0, throttled = 0, overloads = 0,
  }, Limiter)
end

--- Requests that may be in flight now: an integer from 1 to max.
function Limiter:limit()
  if self.probing then return self.probing.limit end
  return max(1, min(self.max, floor(self.cwnd)))
end

--- The time before which no attempt should start: the end of a Retry-After pause, or the
-- pacing interval after the previous attempt. At or before `now`: go now.
-- @tparam number now the caller's monotonic clock
function Limiter:next_send(now)
  local t = self.pause_until
  if self.pace and self.pace_next > t then t = self.pace_next end
  if self.pace and t > now then self.pace_binding = true end
  return t
end

local function record_send(self, now)
  local head = self.sends_head % SENDS_KEPT + 1
  self.sends[head] = now
  self.sends_head = head
  if self.sends_n < SENDS_KEPT then self.sends_n = self.sends_n + 1 end
end

-- Sends with from <= t < to, counted back from the newest.
local function sends_between(self, from, to)
  local n, i = 0, self.sends_head
  for _ = 1, self.sends_n do
    local t = self.sends[i]
    if t < from then break end
    if t < to then n = n + 1 end
    i = i == 1 and SENDS_KEPT or i - 1
  end
  return n
end

--- An attempt starts now (a retry counts too).
-- @tparam number now the caller's monotonic clock
function Limiter:on_send(now)
  self.inflight = self.inflight + 1
  self.sent = self.sent + 1
  if self.inflight > self.round_used then self.round_used = self.inflight end
  record_send(self, now)
  if not self.episode_start then self.episode_start = now end
  if self.pace then
    -- sends keep to a grid of 1/pace: one that went a little late (a timer's wake-up, the loop's
    -- own work: up to half a step) does not push every later one back, so the rate sent is the
    -- pace, not less; no two sends are closer than half a step
    local step = 1 / self.pace
    self.pace_next = max(self.pace_next, now - step / 2) + step
  end
  local p = self.probing
  if p and not p.ready and self.inflight <= p.limit then p.ready = now end
  if not self.probe_due then self.probe_due = now + PROBE_EVERY end
end

local function new_round(self, now)
  self.round_start, self.round_n, self.round_used = now, 0, self.inflight
end

local function clamp(self)
  self.cwnd = max(1, min(self.max, self.cwnd))
end

local function cut(self, now, factor, floor_to)
  self.cwnd = max(floor_to or 1, self.cwnd * factor)
  clamp(self)
  self.slow_start = false
  self.last_cut = now
  self.overloads = self.overloads + 1
  new_round(self, now)
end

local function start_probe(self, now)
  local lim = max(1, floor(self.cwnd / 4))
  self.probing = { limit = lim, want = max(3, lim), n = 0, samples = {},
    ready = self.inflight <= lim and now or nil }
end

-- A round is complete: grow, hold or shrink from its median latency. Before a shrink, the no-load
-- latency is measured again unless it was a moment ago: a server that became slower for every
-- request is not a queue.
local function end_round(self, now)
  local r, n = self.round, self.round_n
  for i = #r, n + 1, -1 do r[i] = nil end
  table.sort(r)
  -- the median; of two or three answers the lower one (slow start's first rounds are small)
  local typical = r[floor((n + 1) / 2)]
  if n >= 4 and n % 2 == 0 then typical = (r[n / 2] + r[n / 2 + 1]) / 2 end
  if n >= 3 and (not self.best_median or typical < self.best_median) then
    self.best_median = typical
    self.noload = min(typical, NOISE * self.min_sample)
  end
  local gradient = typical / self.noload
  local used = self.round_used >= floor(self.cwnd)
  if gradient > SHRINK_ABOVE and floor(self.cwnd) >= 2 and now - self.probed_at > RECHECK_AFTER then
    start_probe(self, now)
    new_round(self, now)
    return
  end
  if gradient < GROW_BELOW then
    if used then
      if self.slow_start then self.cwnd = self.cwnd * 2 else self.cwnd = self.cwnd + 1 end
    end
  elseif gradient > SHRINK_ABOVE then
    self.slow_start = false
    self.cwnd = self.cwnd / gradient + 1
  else
    self.slow_start = false
  end
  clamp(self)
  new_round(self, now)
end

-- The no-load probe: a short stretch at a quarter of the limit; its answers give the no-load
-- latency anew (their fastest and their median).
local function probe_step(self, now, sent_at, latency)
  local p = self.probing
  if p then
    if p.ready and sent_at >= p.ready - EPSILON then
      p.n = p.n + 1
      p.samples[p.n] = latency
      if p.n >= p.want then
        local x = p.samples
        table.sort(x)
        self.min_sample, self.best_median = x[1], x[floor((p.n + 1) / 2)]
        self.noload = min(self.best_median, NOISE * self.min_sample)
        self.probing = nil
        self.probed_at = now
        self.probe_due = now + PROBE_EVERY
        new_round(self, now)
      end
    end
    return true
  end
  if self.probe_due and now >= self.probe_due and self.noload and floor(self.cwnd) >= 4 then
    start_probe(self, now)
    return true
  end
  return false
end

-- Least-squares slope of S over T across the episodes, when their lengths differ enough.
local function episodes_rate(self)
  local e = self.episodes
  if #e < 2 then return nil end
  local tmin, tmax, st, ss, n = huge, -huge, 0, 0, #e
  for i = 1, n do
    tmin, tmax = min(tmin, e[i].t), max(tmax, e[i].t)
    st, ss = st + e[i].t, ss + e[i].s
  end
  if tmax - tmin < 0.5 then return nil end
  local mt, ms, num, den = st / n, ss / n, 0, 0
  for i = 1, n do
    num = num + (e[i].t - mt) * (e[i].s - ms)
    den = den + (e[i].t - mt) ^ 2
  end
  local slope = num / den
  if slope > 0 then return slope end
  return nil
end

-- A 429 to an attempt sent at `sent_at`, the first of its episode: learn the allowed rate.
local function learn_rate(self, sent_at)
  local start = self.episode_start
  self.episode_start = nil
  if not start or sent_at <= start then return end
  local s = sends_between(self, start, sent_at)
  local t = sent_at - start
  if s < 1 then return end
  local hi = s / t
  local e = self.episodes
  e[#e + 1] = { s = s, t = t }
  if #e > EPISODES_KEPT then table.remove(e, 1) end
  local lo
  if self.first429 and sent_at - self.first429 > 0 then
    lo = self.ok_since_first / (sent_at - self.first429)
  else
    self.first429, self.ok_since_first = sent_at, 0
  end
  local new
  local rate = episodes_rate(self)
  self.estimate = rate
  if rate then
    new = min(hi, max(lo or 0, rate * PACE_MARGIN))
  elseif lo and lo > 0 then         -- (no answer accepted since the first 429 teaches nothing)
    new = max(lo, min(FIRST_CUT * hi, sqrt(lo * hi)))
  else
    new = FIRST_CUT * hi
  end
  if self.pace then new = min(new, self.pace * 0.98) end
  -- A short or noisy episode can make a slope of ~0 (or less): never pace slower than the lowest
  -- rate a 429 can teach, one request per second (a server wanting less says so in Retry-After).
  if not (new >= MIN_PACE) then new = MIN_PACE end
  self.pace, self.hi = new, hi
  self.pace_binding, self.pace_t = false, nil
end

--- An attempt ended.
-- @tparam number now the caller's monotonic clock
-- @tparam table r `latency` (seconds from its start, required), `status` (HTTP status, nil
--   when no answer came), `kind` (nil, "timeout" or "network" when no answer came),
--   `retry_after` (seconds the server asked to wait, or nil), `inflight` (ignored: the
--   limiter counts its own)
function Limiter:on_result(now, r)
  if type(r) ~= "table" then error("limiter: on_result needs a result table", 2) end
  check_number(now, "now", -huge)
  local latency = r.latency
  check_number(latency, "latency", 0)
  if self.inflight > 0 then self.inflight = self.inflight - 1 end
  local sent_at = now - latency
  local status = r.status
  local fresh = sent_at >= self.last_cut - EPSILON   -- sent after the last decrease
  local ra = r.retry_after
  if ra ~= nil then
    check_number(ra, "retry_after", 0)
    if now + ra > self.pause_until then self.pause_until = now + ra end
  end

  if status == 429 then
    self.throttled = self.throttled + 1
    self.last429 = now
    if fresh then
      learn_rate(self, sent_at)
      local floor_to = 2
      if self.pace and self.noload then
        floor_to = max(2, math.ceil(1.5 * self.pace * self.noload))
      end
      cut(self, now, 0.75, min(floor_to, self.cwnd))
      self.episode_start = nil   -- the next episode starts with the first send after the pause
    end
    return
  end
  if r.kind == "timeout" or status == 503 or status == 502 or status == 504 then
    if fresh then cut(self, now, 0.5) end
    return
  end
  if r.kind ~= nil or status == nil then
    if fresh then cut(self, now, 0.75) end
    return
  end
  if status >= 500 then return end  -- a server error says nothing about load

  -- a normal answer: a latency sample
  if self.first429 and sent_at >= self.first429 then self.ok_since_first = self.ok_since_first + 1 end
  if self.pace then
    if self.pace_binding then
      local dt = self.pace_t and (now - self.pace_t) or 0
      local up = self.pace * (1 + PROBE_RATE * dt)
      local cap = self.hi
      if self.estimate and self.estimate < cap then cap = self.estimate end
      -- a limit learned long ago may have been raised since: probe past it, slowly
      if cap and now - (self.last429 or now) < CAP_LIFT then up = min(up, cap) end
      self.pace = max(self.pace, up)
    end
    self.pace_t = now
    self.pace_binding = false
  end
  if latency < MIN_LATENCY then latency = MIN_LATENCY end
  if not self.min_sample or latency < self.min_sample then
    self.min_sample = latency
    self.noload = self.best_median and min(self.best_median, NOISE * latency) or latency
  end
  if probe_step(self, now, sent_at, latency) then return end
  if sent_at < self.round_start - EPSILON then return end
  self.round_n = self.round_n + 1
  self.round[self.round_n] = latency
  if self.round_n >= max(1, floor(self.cwnd)) then end_round(self, now) end
end

--- What the controller holds now, for reports and tests:
-- `{limit, pace (req/s or nil), estimate (the allowed rate learned, or nil), noload (s or nil),
-- inflight, sent, throttled, overloads,
-- slow_start, paused_until}`.
function Limiter:state()
  return { limit = self:limit(), pace = self.pace, estimate = self.estimate, noload = self.noload,
    inflight = self.inflight,
    sent = self.sent, throttled = self.throttled, overloads = self.overloads,
    slow_start = self.slow_start, paused_until = self.pause_until }
end

return limiter
