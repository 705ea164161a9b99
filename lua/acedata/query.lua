--- Query strings: checks the caller's parameters and encodes them.
--
-- Each endpoint declares its parameters as a schema `{ name = kind }` where kind is one of
-- `"string"`, `"strings"` (a string or a list of strings, sent as repeated keys), `"time"`
-- (ISO 8601 string or epoch seconds), `"integer"` (non-negative) or `"positive"` (integer >= 1).
-- Misuse (unknown name, wrong type, control characters) raises at once (acedata.misuse): nothing
-- is sent.
-- @module acedata.query

local misuse = require "acedata.misuse"

local query = {}

local fail = misuse.raise

--- Raises when `s` holds a control character (CR, LF, NUL, …): such a value could split a
-- header or a request line.
-- @tparam string s
-- @tparam string what the name used in the message
function query.check_text(s, what)
  if s:find("[%z\1-\31\127]") then
    fail(what .. " contains a control character")
  end
end

--- Percent-encodes everything but RFC 3986 unreserved characters.
-- @tparam string s
-- @treturn string
function query.escape(s)
  return (s:gsub("[^%w%-%._~]", function(c) return string.format("%%%02X", c:byte()) end))
end

local function is_integer(v)
  return type(v) == "number" and v == math.floor(v) and v > -2^63 and v < 2^63
end

--- Formats epoch seconds as ISO 8601 UTC: `2024-08-01T00:00:00Z`, with microseconds when the
-- number has a fraction (`…T00:00:00.250000Z`).
-- @tparam number t epoch seconds
-- @treturn string
function query.iso8601(t)
  local whole = math.floor(t)
  local frac = t - whole
  local s = os.date("!%Y-%m-%dT%H:%M:%S", whole)
  if frac > 0 then
    local us = math.floor(frac * 1e6 + 0.5)
    if us >= 1000000 then return query.iso8601(whole + 1) end
    if us > 0 then s = s .. string.format(".%06d", us) end
  end
  return s .. "Z"
end

local ISO_DATE = "^%d%d%d%d%-%d%d%-%d%d"

local CHECK = {}

function CHECK.string(name, v)
  if type(v) ~= "string" then fail(name .. " must be a string, got " .. type(v)) end
  query.check_text(v, name)
  return { v }
end

function CHECK.strings(name, v)
  if type(v) == "string" then return CHECK.string(name, v) end
  if type(v) ~= "table" then fail(name .. " must be a string or a list of strings, got " .. type(v)) end
  local out, n = {}, 0
  for k in pairs(v) do
    n = n + 1
    if type(k) ~= "number" or k ~= math.floor(k) or k < 1 then
      fail(name .. " must be a list (array) of strings")
    end
  end
  if n == 0 then fail(name .. " must not be an empty list") end
  for i = 1, n do
    local s = v[i]
    if type(s) ~= "string" then fail(name .. "[" .. i .. "] must be a string, got " .. type(s)) end
    query.check_text(s, name)
    out[i] = s
  end
  return out
end

function CHECK.time(name, v)
  if type(v) == "number" then
    if v ~= v or v == math.huge or v == -math.huge then fail(name .. " must be a finite number") end
    return { query.iso8601(v) }
  end
  if type(v) ~= "string" then
    fail(name .. " must be an ISO 8601 string or epoch seconds, got " .. type(v))
  end
  query.check_text(v, name)
  if not v:find(ISO_DATE) then
    fail(name .. " must be an ISO 8601 time like 2024-08-01T00:00:00Z, got " .. string.format("%q", v))
  end
  return { v }
end

function CHECK.integer(name, v)
  if not is_integer(v) or v < 0 then
    fail(name .. " must be a non-negative integer, got " .. tostring(v))
  end
  return { string.format("%d", v) }
end

function CHECK.positive(name, v)
  if not is_integer(v) or v < 1 then
    fail(name .. " must be a positive integer, got " .. tostring(v))
  end
  return { string.format("%d", v) }
end

--- Checks `params` against `schema` and returns the encoded query string (without `?`).
-- Names are sent in sorted order so equal calls make equal URLs.
-- @tparam table schema `{ name = kind }`
-- @tparam table params the caller's table
-- @tparam table skip names present in params that belong to the caller, not to the query
-- @treturn string
function query.encode(schema, params, skip)
  local names = {}
  for name in pairs(params) do
    if not (skip and skip[name]) then
      if type(name) ~= "string" then fail("parameter names must be strings, got " .. type(name)) end
      if not schema[name] then fail("unknown parameter " .. string.format("%q", name)) end
      names[#names + 1] = name
    end
  end
  table.sort(names)
  local parts = {}
  for _, name in ipairs(names) do
    local values = CHECK[schema[name]](name, params[name])
    for _, value in ipairs(values) do
      parts[#parts + 1] = query.escape(name) .. "=" .. query.escape(value)
    end
  end
  return table.concat(parts, "&")
end

return query
