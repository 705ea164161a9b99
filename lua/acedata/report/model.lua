--- The report model: the totals of a stream of usage records, per period (hour, day, week or
-- month, UTC) and per service, application and proxy, with count, used and deducted. The command
-- line (`--group-by`, `--chart`, `--format html`), the Neovim report and the HTML page all read
-- their numbers from here; only the totals are kept, never the records.
--
--    local model = require "acedata.report.model"
--    local r = model.new { period = "day" }
--    for rec in client.usage.proxies.each { fields = model.FIELDS } do r:add(rec) end
--    r.total                   --> { count = 1000, used = 1234.5, deducted = 1200.25 }
--    r:periods()               --> sorted { {key = "2024-08-01", count, used, deducted,
--                                            by_service = {[service] = bucket}}, … }
--    r:rows("service")         --> sorted { {key = "openai-proxy", count, used, deducted}, … }
--
-- A bucket is `{ key = …, count = n, used = x, deducted = y }` (amounts in credits).
--
-- Keys (one definition for every output):
--
-- * the service of a record is `service.alias`, else `service.name`, else `service.id` (the first
--   that is a non-empty string or a number), else `model.UNKNOWN`;
-- * application and proxy: `application_id` and `proxy_id`, else `model.UNKNOWN`;
-- * the period comes from `created_at`, in UTC (an offset such as `+02:00` is converted):
--   hour `2024-08-01T10`, day `2024-08-01`, week `2024-W31` (ISO 8601 weeks: from Monday, the
--   year of its Thursday), month `2024-08`; a record without a readable `created_at` goes to
--   `model.UNKNOWN`.
--
-- An amount that is missing, not a number, NaN or infinite counts as 0 (the record still counts),
-- and `r.invalid` counts such records, so that every output can say so.
-- @module acedata.report.model

local model = {}

--- The key of records without the field the grouping reads.
model.UNKNOWN = "-"

--- The periods a report can be made of.
model.PERIODS = { "hour", "day", "week", "month" }

--- The groupings `rows` knows: the periods and the three dimensions.
model.DIMENSIONS = { "service", "application", "proxy", "hour", "day", "week", "month" }

--- The record fields the model reads (so that each{fields = …} decodes only those).
model.FIELDS = { "created_at", "service", "application_id", "proxy_id", "used_amount", "deducted_amount" }

local floor = math.floor
local type, tostring, sub, byte, match = type, tostring, string.sub, string.byte, string.match

--- The service of a record: `service.alias`, else `service.name`, else `service.id`, else nil.
-- @tparam table rec a usage record
-- @treturn string|nil
function model.service_of(rec)
  local s = rec.service
  if type(s) ~= "table" then return nil end
  local k = s.alias
  if type(k) == "string" and k ~= "" then return k end
  k = s.name
  if type(k) == "string" and k ~= "" then return k end
  k = s.id
  if type(k) == "string" and k ~= "" then return k end
  if type(k) == "number" then return tostring(k) end
  return nil
end

--- Days since 1970-01-01 of a date (proleptic Gregorian calendar): the one of acedata.retry
-- (Retry-After dates), which the command line's times use too.
-- @function days_from_civil
-- @tparam integer y year
-- @tparam integer m month (1-12)
-- @tparam integer d day (1-31)
-- @treturn integer
model.days_from_civil = require("acedata.retry").days_from_civil
local days_from_civil = model.days_from_civil

--- The date of a day number (days since 1970-01-01).
-- @tparam integer z
-- @treturn integer year, month, day
function model.civil_from_days(z)
  z = z + 719468
  local era = floor(z / 146097)
  local doe = z - era * 146097
  local yoe = floor((doe - floor(doe / 1460) + floor(doe / 36524) - floor(doe / 146096)) / 365)
  local doy = doe - (365 * yoe + floor(yoe / 4) - floor(yoe / 100))
  local mp = floor((5 * doy + 2) / 153)
  local d = doy - floor((153 * mp + 2) / 5) + 1
  local m = mp < 10 and mp + 3 or mp - 9
  local y = yoe + era * 400
  if m <= 2 then y = y + 1 end
  return y, m, d
end
local civil_from_days = model.civil_from_days

local DAYS = { 31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31 }
local function valid_date(y, m, d)
  if m < 1 or m > 12 or d < 1 then return false end
  local n = DAYS[m]
  if m == 2 and y % 4 == 0 and (y % 100 ~= 0 or y % 400 == 0) then n = 29 end
  return d <= n
end

--- The ISO 8601 week of a date: "2024-W31".
-- @treturn string
function model.iso_week(y, m, d)
  local days = days_from_civil(y, m, d)
  local wday = (days + 3) % 7            -- 0 = Monday (1970-01-01 was a Thursday)
  local thursday = days - wday + 3
  local ty = civil_from_days(thursday)
  local week = floor((thursday - days_from_civil(ty, 1, 1)) / 7) + 1
  return ("%04d-W%02d"):format(ty, week)
end

-- Period key of a valid UTC date + hour.
local PERIOD_OF = {
  hour = function(y, m, d, h) return ("%04d-%02d-%02dT%02d"):format(y, m, d, h) end,
  day = function(y, m, d) return ("%04d-%02d-%02d"):format(y, m, d) end,
  week = function(y, m, d) return model.iso_week(y, m, d) end,
  month = function(y, m) return ("%04d-%02d"):format(y, m) end,
}

-- Parses "YYYY-MM-DDTHH" and what follows into UTC y, m, d, h (nil when unreadable).
local function utc_parts(s)
  local y, m, d, h, mi, rest = match(s, "^(%d%d%d%d)%-(%d%d)%-(%d%d)[Tt ](%d%d):(%d%d)(.*)$")
  if not y then
    y, m, d = match(s, "^(%d%d%d%d)%-(%d%d)%-(%d%d)$")
    if not y then return nil end
    h, mi, rest = "00", "00", "Z"
  end
  y, m, d, h, mi = tonumber(y), tonumber(m), tonumber(d), tonumber(h), tonumber(mi)
  if not valid_date(y, m, d) or h > 23 or mi > 59 then return nil end
  rest = rest:gsub("^:%d%d", ""):gsub("^[.,]%d+", "")
  local offset = 0
  if rest ~= "" and rest ~= "Z" and rest ~= "z" then
    local sign, oh, om = match(rest, "^([+-])(%d%d):?(%d%d)$")
    if not sign then return nil end
    offset = (tonumber(oh) * 60 + tonumber(om)) * (sign == "-" and -1 or 1)
  end
  if offset ~= 0 then
    local minutes = days_from_civil(y, m, d) * 1440 + h * 60 + mi - offset
    local days = floor(minutes / 1440)
    h = floor((minutes - days * 1440) / 60)
    y, m, d = civil_from_days(days)
  end
  return y, m, d, h
end

--- The period (`hour`, `day`, `week` or `month`) of an ISO 8601 time, in UTC, or nil.
-- @tparam string created_at e.g. "2024-08-01T10:16:40.123456Z"
-- @tparam string period
-- @treturn string|nil e.g. "2024-08-01"
function model.period_of(created_at, period)
  if type(created_at) ~= "string" then return nil end
  local y, m, d, h = utc_parts(created_at)
  if not y then return nil end
  return PERIOD_OF[period](y, m, d, h)
end

local Report = {}
Report.__index = Report

local function bucket(key)
  return { key = key, count = 0, used = 0, deducted = 0 }
end

--- A new, empty report.
-- @tparam[opt] table opts `period`: "hour", "day" (default), "week" or "month"
-- @treturn table the report (`add`, `periods`, `rows`, `series`, …); `r.total` is the total bucket
function model.new(opts)
  opts = opts or {}
  local period = opts.period or "day"
  if not PERIOD_OF[period] then
    error("acedata: period must be one of hour, day, week, month, got " .. tostring(period), 2)
  end
  return setmetatable({
    period = period,
    total = bucket("total"),
    cells = {},   -- [period][service][application][proxy] = { count, used, deducted }
    by = nil,     -- the groups summed from the cells (see groups), until the next add
    -- created_at prefix -> period key: the prefix (up to the hour, "Z" times) decides the period,
    -- so a data set of a million records parses a few thousand distinct hours.
    cache = {},
    first = nil, last = nil,      -- the earliest and latest created_at seen (strings, as sent)
    invalid = 0,                  -- records with an amount that is not a finite number
  }, Report)
end

-- The period key of a created_at (cached by its hour prefix when it is a "Z" time).
local function period_key(self, at)
  if type(at) ~= "string" then return model.UNKNOWN end
  local last = byte(at, -1)
  local cache = self.cache
  if last == 90 or last == 122 then                  -- "Z" / "z": the first 13 bytes decide
    local prefix = sub(at, 1, 13)
    local k = cache[prefix]
    if k == nil then
      k = model.period_of(at, self.period) or false
      if k then cache[prefix] = k end
    end
    return k or model.UNKNOWN
  end
  return model.period_of(at, self.period) or model.UNKNOWN
end

local function text_key(v)
  if type(v) == "string" and v ~= "" then return v end
  if type(v) == "number" then return tostring(v) end
  return model.UNKNOWN
end

--- Adds one record.
-- @tparam table rec a usage record (the fields of `model.FIELDS` are read)
function Report:add(rec)
  local used, deducted = rec.used_amount, rec.deducted_amount
  if type(used) ~= "number" or used - used ~= 0 or type(deducted) ~= "number" or deducted - deducted ~= 0 then
    -- (x - x is 0 for every finite number; NaN for NaN and the infinities)
    if type(used) ~= "number" or used - used ~= 0 then used = 0 end
    if type(deducted) ~= "number" or deducted - deducted ~= 0 then deducted = 0 end
    self.invalid = self.invalid + 1
  end
  local t = self.total
  t.count, t.used, t.deducted = t.count + 1, t.used + used, t.deducted + deducted
  local at = rec.created_at
  local app, proxy = rec.application_id, rec.proxy_id
  if type(app) ~= "string" or app == "" then app = text_key(app) end
  if type(proxy) ~= "string" or proxy == "" then proxy = text_key(proxy) end
  -- One cell per (period, service, application, proxy): four lookups and one sum per record;
  -- the totals per period, service, … are summed from the cells when asked for.
  local cells = self.cells
  local k = period_key(self, at)
  local a = cells[k]
  if not a then
    a = {}
    cells[k] = a
  end
  k = model.service_of(rec) or model.UNKNOWN
  local b = a[k]
  if not b then
    b = {}
    a[k] = b
  end
  local c = b[app]
  if not c then
    c = {}
    b[app] = c
  end
  local d = c[proxy]
  if d then
    d[1], d[2], d[3] = d[1] + 1, d[2] + used, d[3] + deducted
  else
    c[proxy] = { 1, used, deducted }
  end
  self.by = nil
  if type(at) == "string" then
    local first, last = self.first, self.last
    if not first or at < first then self.first = at end
    if not last or at > last then self.last = at end
  end
end

local function add_cell(tbl, key, cell)
  local b = tbl[key]
  if not b then
    b = { key = key, count = 0, used = 0, deducted = 0 }
    tbl[key] = b
  end
  b.count, b.used, b.deducted = b.count + cell[1], b.used + cell[2], b.deducted + cell[3]
  return b
end

-- The buckets per period (each with by_service), service, application and proxy, summed from the
-- cells (once after the last add).
local function groups(self)
  local by = self.by
  if by then return by end
  by = { period = {}, service = {}, application = {}, proxy = {} }
  for pk, a in pairs(self.cells) do
    local p = by.period[pk]
    if not p then
      p = { key = pk, count = 0, used = 0, deducted = 0, by_service = {} }
      by.period[pk] = p
    end
    for service, b in pairs(a) do
      for app, c in pairs(b) do
        for proxy, cell in pairs(c) do
          add_cell(by.period, pk, cell)
          add_cell(p.by_service, service, cell)
          add_cell(by.service, service, cell)
          add_cell(by.application, app, cell)
          add_cell(by.proxy, proxy, cell)
        end
      end
    end
  end
  self.by = by
  return by
end

local function sorted(tbl)
  local rows = {}
  for _, b in pairs(tbl) do rows[#rows + 1] = b end
  table.sort(rows, function(a, b) return a.key < b.key end)
  return rows
end

--- The periods, sorted (oldest first). Each is a bucket with `by_service` ({[service] = bucket}).
-- Only periods that have records are listed.
-- @treturn table array of buckets
function Report:periods()
  return sorted(groups(self).period)
end

--- The buckets of one grouping, sorted by key.
-- @tparam string by "service", "application", "proxy", or the report's period
-- @treturn table array of buckets
function Report:rows(by)
  if by == self.period then by = "period" end
  local tbl = groups(self)[by]
  if not tbl then error("acedata: cannot group a report by " .. tostring(by) .. " (period " .. self.period .. ")", 2) end
  return sorted(tbl)
end

--- The `n` largest buckets of a grouping by `measure` (default "deducted"), largest first (ties by key).
-- @tparam string by "service", "application" or "proxy"
-- @tparam[opt] integer n how many (default all)
-- @tparam[opt] string measure "deducted", "used" or "count"
function Report:top(by, n, measure)
  measure = measure or "deducted"
  local rows = self:rows(by)
  table.sort(rows, function(a, b)
    if a[measure] ~= b[measure] then return a[measure] > b[measure] end
    return a.key < b.key
  end)
  if n and #rows > n then
    for i = #rows, n + 1, -1 do rows[i] = nil end
  end
  return rows
end

--- The series of a chart split by service: the services by `measure`, largest first; when there
-- are more than `max`, the smallest are merged into one series named "other" (the last).
-- @tparam[opt] integer max at most this many series (default 6)
-- @tparam[opt] string measure "deducted" (default), "used" or "count"
-- @treturn table array of `{ name = …, services = {[service] = true}, count, used, deducted }`
function Report:series(max, measure)
  max = max or 6
  local top = self:top("service", nil, measure)
  local out = {}
  for i, b in ipairs(top) do
    if i < max or #top == max then
      out[#out + 1] = { name = b.key, services = { [b.key] = true }, count = b.count, used = b.used,
        deducted = b.deducted }
    else
      local other = out[max]
      if not other then
        other = { name = "other", other = true, services = {}, count = 0, used = 0, deducted = 0 }
        out[max] = other
      end
      other.services[b.key] = true
      other.count, other.used, other.deducted = other.count + b.count, other.used + b.used, other.deducted + b.deducted
    end
  end
  return out
end

--- The value of one series in one period (a bucket of `periods()`).
-- @treturn number
function model.series_value(period, series, measure)
  measure = measure or "deducted"
  local sum = 0
  for service in pairs(series.services) do
    local b = period.by_service[service]
    if b then sum = sum + b[measure] end
  end
  return sum
end

return model
