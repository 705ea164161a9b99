--- Retry policy: which failures are retried, and how long to wait before the next attempt.
--
-- Full-jitter exponential backoff: attempt n (1-based) waits a random time in
-- `[0, min(cap, base * 2^(n-1))]`. A `Retry-After` header (seconds or HTTP date) replaces that
-- wait; one longer than `max_retry_after` is not waited for.
-- @module acedata.retry

local retry = {}

--- Statuses worth another try of an idempotent GET.
local RETRY_STATUS = { [408] = true, [429] = true, [500] = true, [502] = true, [503] = true, [504] = true }

--- Transport failure kinds worth another try (a TLS failure will fail the same way again).
local RETRY_KIND = { network = true, timeout = true, decode = true }

--- Is this error worth another attempt?
-- @tparam table err an acedata error
-- @treturn boolean
function retry.retryable(err)
  -- The proxy refused (its status is not the API's): another try meets the same proxy.
  if err.kind == "proxy" then return false end
  if err.kind == "decode" then return true end   -- a truncated or garbled body may come right
  if err.status then return RETRY_STATUS[err.status] == true end
  return RETRY_KIND[err.kind] == true
end

local MONTHS = { Jan = 1, Feb = 2, Mar = 3, Apr = 4, May = 5, Jun = 6,
                 Jul = 7, Aug = 8, Sep = 9, Oct = 10, Nov = 11, Dec = 12 }

--- Days from 1970-01-01 to the given civil date (proleptic Gregorian), without os.time's
-- dependence on the local time zone.
local function days_from_civil(y, m, d)
  if m <= 2 then y = y - 1 end
  local era = math.floor(y / 400)
  local yoe = y - era * 400
  local mp = (m + 9) % 12
  local doy = math.floor((153 * mp + 2) / 5) + d - 1
  local doe = yoe * 365 + math.floor(yoe / 4) - math.floor(yoe / 100) + doy
  return era * 146097 + doe - 719468
end
retry.days_from_civil = days_from_civil

--- Parses a `Retry-After` value: delta seconds or an IMF-fixdate (`Wed, 21 Oct 2015 07:28:00 GMT`).
-- @tparam string value
-- @tparam number now epoch seconds (for the date form)
-- @treturn number|nil seconds to wait (>= 0), or nil when unparseable
function retry.parse_retry_after(value, now)
  if type(value) ~= "string" then return nil end
  local secs = value:match("^%s*(%d+)%s*$")
  if secs then return tonumber(secs) end
  local d, mon, y, hh, mm, ss = value:match("^%s*%a%a%a, (%d%d) (%a%a%a) (%d%d%d%d) (%d%d):(%d%d):(%d%d) GMT%s*$")
  if not d or not MONTHS[mon] then return nil end
  local t = days_from_civil(tonumber(y), MONTHS[mon], tonumber(d)) * 86400
    + tonumber(hh) * 3600 + tonumber(mm) * 60 + tonumber(ss)
  return math.max(0, t - now)
end

--- Seconds to wait before attempt `attempt + 1`.
-- @tparam table cfg client options (backoff_base, backoff_cap)
-- @tparam integer attempt attempts made so far (>= 1)
-- @tparam[opt] number retry_after the server's wish, in seconds
-- @tparam function random returns a float in [0, 1)
-- @treturn number
function retry.delay(cfg, attempt, retry_after, random)
  if retry_after then return retry_after end
  local ceiling = math.min(cfg.backoff_cap, cfg.backoff_base * 2 ^ (attempt - 1))
  return ceiling * random()
end

return retry
