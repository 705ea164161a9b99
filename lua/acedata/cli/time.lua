--- TIME arguments of the `acedata` command: ISO 8601, a date, or a time relative to now.
--
--    2024-08-01T00:00:00Z, 2024-08-01T02:00:00+02:00, 2024-08-01 00:00:00.5Z  (no zone = UTC)
--    2024-08-01                  midnight UTC
--    7d, 12h, 30m, 45s, 2w       now minus that much
--    now
-- @module acedata.cli.time

local retry = require "acedata.retry"

local time = {}

local UNITS = { s = 1, m = 60, h = 3600, d = 86400, w = 7 * 86400 }

local function leap(y) return y % 4 == 0 and (y % 100 ~= 0 or y % 400 == 0) end

local DAYS = { 31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31 }

local function days_in(y, m)
  if m == 2 and leap(y) then return 29 end
  return DAYS[m]
end

--- Parses a TIME argument.
-- @tparam string s
-- @tparam number now epoch seconds (the reference for relative forms)
-- @treturn number epoch seconds (UTC), or nil and a message
function time.parse(s, now)
  if type(s) ~= "string" or s == "" then return nil, "empty time" end
  if s == "now" then return now end
  local n, unit = s:match("^(%d+)([smhdw])$")
  if n then return now - tonumber(n) * UNITS[unit] end

  local y, mo, d, rest = s:match("^(%d%d%d%d)%-(%d%d)%-(%d%d)(.*)$")
  if not y then
    return nil, "expected ISO 8601 (2024-08-01T00:00:00Z), a date (2024-08-01) or a relative time "
      .. "(7d, 12h, 30m, 45s, 2w), got " .. string.format("%q", s)
  end
  y, mo, d = tonumber(y), tonumber(mo), tonumber(d)
  if mo < 1 or mo > 12 or d < 1 or d > days_in(y, mo) then
    return nil, "no such date: " .. string.format("%q", s)
  end
  local hh, mi, ss, frac, offset = 0, 0, 0, 0, 0
  if rest ~= "" then
    local h, m, tail = rest:match("^[Tt ](%d%d):(%d%d)(.*)$")
    if not h then return nil, "expected THH:MM after the date in " .. string.format("%q", s) end
    hh, mi = tonumber(h), tonumber(m)
    local sec, tail2 = tail:match("^:(%d%d)(.*)$")
    if sec then
      ss, tail = tonumber(sec), tail2
      local digits, tail3 = tail:match("^[.,](%d+)(.*)$")
      if digits then
        frac = tonumber("0." .. digits)
        tail = tail3
      end
    end
    if hh > 23 or mi > 59 or ss > 59 then return nil, "time of day out of range in " .. string.format("%q", s) end
    if tail ~= "" and tail ~= "Z" and tail ~= "z" then
      local sign, oh, om = tail:match("^([+-])(%d%d):?(%d%d)$")
      if not sign then
        sign, oh = tail:match("^([+-])(%d%d)$")
        om = "00"
      end
      if not sign or tonumber(oh) > 23 or tonumber(om) > 59 then
        return nil, "bad time zone in " .. string.format("%q", s) .. " (use Z, +HH:MM or -HH:MM)"
      end
      offset = (tonumber(oh) * 3600 + tonumber(om) * 60) * (sign == "-" and -1 or 1)
    end
  end
  return retry.days_from_civil(y, mo, d) * 86400 + hh * 3600 + mi * 60 + ss - offset + frac
end

return time
