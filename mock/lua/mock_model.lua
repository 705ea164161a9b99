--- The server model: what makes the mock behave like a loaded, rate-limited backend.
--
-- Four behaviours, each off by default and set by `mock/server start` options or at run time
-- through POST /__mock/config (state.config holds them):
--   latency_ms, jitter_ms  every API answer takes latency_ms + U(0, jitter_ms) ms of server time
--   rate, burst            a token bucket per user (= per token): `rate` requests/s, at most
--                          `burst` at once; beyond it 429 with Retry-After (whole seconds, >= 1)
--                          and DRF's throttle body. A 429 is answered at once (no worker).
--   workers                at most this many requests are served at a time; the others wait
--                          for a worker (an ngx.semaphore), and the wait counts in latency
--   offset_cost_us         a list request spends this many µs more per 1000 of its offset,
--                          holding its worker (SQL's OFFSET n reads n rows)
-- and counters for benchmarks and specs (GET /__mock/stats): requests in flight now and at
-- most, requests holding a worker at most, answers by status, server-side durations.
--
-- The router calls model.enter() first, model.admit(...) once the caller is authenticated,
-- and model.leave() from the log phase (which runs for every request, whatever it sent).

local semaphore = require "ngx.semaphore"
local state = require "mock_state"

local model = {}

local floor, ceil, max, min = math.floor, math.ceil, math.max, math.min
local DURATIONS_LIMIT = 200000   -- server-side durations kept for the median
local WORKER_WAIT_LIMIT = 120    -- seconds a request waits for a worker before a 503

-- Counters since the last reset (POST /__mock/reset, DELETE /__mock/stats) ------------------

local stats
local function new_stats()
  return { inflight = 0, max_inflight = 0, requests = 0, by_status = {}, throttled = 0,
    max_waiting = 0, waiting = 0, serving = 0, max_serving = 0, durations = {}, durations_n = 0 }
end
stats = new_stats()

-- Token buckets, one per user id, and the worker pool -----------------------------------------

local buckets = {}          -- user id -> { tokens, t }
local bucket_params         -- "rate/burst" the buckets were made for
local pool, pool_size       -- the semaphore of `workers` and its size

--- Clears the counters, the buckets and the worker pool. Requests that started before keep
-- their worker of the old pool and are not counted in the new counters (a spec's leftovers,
-- e.g. a stalled answer its client gave up on, do not show up in the next one's).
function model.reset()
  stats = new_stats()
  buckets, bucket_params = {}, nil
  pool, pool_size = nil, nil
end

local function now()
  ngx.update_time()
  return ngx.now()
end

-- One request of `user` against its bucket: nil when allowed, else the seconds until one
-- token is back (the exact, fractional wait).
local function take_token(user, rate, burst)
  local params = rate .. "/" .. burst
  if bucket_params ~= params then buckets, bucket_params = {}, params end
  local t = now()
  local b = buckets[user]
  if not b then
    b = { tokens = burst, t = t }
    buckets[user] = b
  end
  b.tokens = min(burst, b.tokens + (t - b.t) * rate)
  b.t = t
  if b.tokens >= 1 then
    b.tokens = b.tokens - 1
    return nil
  end
  return (1 - b.tokens) / rate
end

--- The throttle answer as Django REST framework sends it: Retry-After in whole seconds
-- (rounded up, at least 1; RFC 9110 allows only integers or a date, although some servers send
-- fractions such as "0.5"), and the wait in the detail message.
local function throttled(wait)
  local secs = max(1, ceil(wait))
  stats.throttled = stats.throttled + 1
  local respond = require "mock_respond"
  ngx.ctx.faults = ngx.ctx.faults or { "throttled" }
  respond.detail(429, ("Request was throttled. Expected available in %d second%s.")
    :format(secs, secs == 1 and "" or "s"), { ["Retry-After"] = tostring(secs) })
end

local function worker_pool(n)
  if pool_size ~= n then
    pool, pool_size = semaphore.new(n), n
  end
  return pool
end

--- First thing of every API request: counts it in flight.
function model.enter()
  local ctx = ngx.ctx
  ctx.model_entered = now()
  ctx.model_stats = stats
  stats.inflight = stats.inflight + 1
  stats.requests = stats.requests + 1
  if stats.inflight > stats.max_inflight then stats.max_inflight = stats.inflight end
end

--- After authentication: the rate limit, a worker, the server time. Returns true when the
-- request has been answered (429, or 503 when no worker came free in time); otherwise the
-- route runs, holding its worker until model.leave().
function model.admit(user, route, offset)
  local c = state.config
  local rate = c.rate or 0
  if rate > 0 then
    local burst = (c.burst or 0) > 0 and c.burst or max(1, ceil(rate))
    local wait = take_token(user, rate, burst)
    if wait then
      throttled(wait)
      return true
    end
  end
  local ctx = ngx.ctx
  local workers = c.workers or 0
  if workers > 0 then
    local sema, st = worker_pool(workers), stats
    st.waiting = st.waiting + 1
    if st.waiting > st.max_waiting then st.max_waiting = st.waiting end
    local ok = sema:wait(0) or sema:wait(WORKER_WAIT_LIMIT)
    st.waiting = st.waiting - 1
    if not ok then
      require("mock_respond").error(503, "server_error", "No worker became free in time (mock).")
      return true
    end
    ctx.model_worker = sema
    if ctx.model_stats == stats then   -- not when the counters were reset while it waited
      ctx.model_serving = stats
      stats.serving = stats.serving + 1
      if stats.serving > stats.max_serving then stats.max_serving = stats.serving end
    end
  end
  local ms = (c.latency_ms or 0)
  local jitter = c.jitter_ms or 0
  if jitter > 0 then ms = ms + math.random() * jitter end
  local cost = c.offset_cost_us or 0
  if cost > 0 and route == "list" and offset and offset > 0 then
    ms = ms + cost * offset / 1000 / 1000
  end
  if ms > 0 then ngx.sleep(ms / 1000) end
  return false
end

--- Log phase of every API request: gives its worker back, counts the answer.
function model.leave()
  local ctx = ngx.ctx
  if ctx.model_worker then
    ctx.model_worker:post(1)
    ctx.model_worker = nil
    if ctx.model_serving == stats then stats.serving = stats.serving - 1 end
  end
  local t0 = ctx.model_entered
  if not t0 then return end
  ctx.model_entered = nil
  if ctx.model_stats ~= stats then return end   -- started before the counters were reset
  stats.inflight = stats.inflight - 1
  local status = tostring(ctx.status or ngx.status)
  stats.by_status[status] = (stats.by_status[status] or 0) + 1
  if stats.durations_n < DURATIONS_LIMIT then
    stats.durations_n = stats.durations_n + 1
    stats.durations[stats.durations_n] = now() - t0
  end
end

-- Quantile q (0..1) of the kept durations, in ms; nil when there are none.
local function quantile(q)
  local n = stats.durations_n
  if n == 0 then return nil end
  local s = {}
  for i = 1, n do s[i] = stats.durations[i] end
  table.sort(s)
  return s[min(n, max(1, floor(q * n + 0.5)))] * 1000
end

--- The counters as a JSON-ready table (GET /__mock/stats).
function model.describe()
  local by_status = {}
  for k, v in pairs(stats.by_status) do by_status[k] = v end
  return {
    inflight = stats.inflight, max_inflight = stats.max_inflight, requests = stats.requests,
    throttled = stats.throttled, max_waiting = stats.max_waiting, max_serving = stats.max_serving,
    by_status = by_status,
    answered = stats.durations_n,
    median_ms = quantile(0.5) or ngx.null, p90_ms = quantile(0.9) or ngx.null,
    min_ms = quantile(0) or ngx.null, max_ms = quantile(1) or ngx.null,
  }
end

--- Checks one model key of a config change: the value to store, or nil, message.
-- (`burst` 0 means: as many as `rate`, at least 1.)
function model.check(k, v)
  local function number(lo, hi, int)
    if type(v) ~= "number" or v ~= v or v < lo or v > hi or (int and v ~= floor(v)) then
      return nil, ("%s must be %s between %s and %s"):format(k, int and "an integer" or "a number", lo, hi)
    end
    return v
  end
  if k == "latency_ms" or k == "jitter_ms" then return number(0, 600000) end
  if k == "rate" then return number(0, 1000000) end
  if k == "burst" then return number(0, 1000000, true) end
  if k == "workers" then return number(0, 100000, true) end
  if k == "offset_cost_us" then return number(0, 1000000) end
  return nil
end

return model
