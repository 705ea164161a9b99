--- The mock API's data set: deterministic proxy usage records computed from their index.
--
-- Pure Lua that runs unchanged in LuaJIT (inside nginx) and in Lua 5.1-5.4 (in tests):
-- no bit operators, no goto, no `//`, no string.pack; all arithmetic stays below 2^53 so
-- doubles and 5.3+ integers give the same results.
--
-- Record i (1-based) depends only on i and the seed, so a data set of any size needs no
-- storage. Records are created 37 s apart from 2024-08-01T00:00:00Z, so created_at ascends
-- with i; ids are UUIDv7-like (their first 48 bits are the creation time in ms), so id order
-- equals index order too. Amounts are multiples of 1/1024 below 2048, so sums are exact in
-- double whatever the order of addition.
--
-- Usage (from the repo root): `local dataset = require "mock.dataset"`.

local floor = math.floor
local format = string.format
local concat = table.concat
local sort = table.sort

local dataset = {}

-- Constants ---------------------------------------------------------------------------------

dataset.TOKEN = "platform-v1-7dd73c8ed3258cb08cae2b553ec81ad855fdc40bcc8f4263e2358c2d32a50bc7"
dataset.OTHER_TOKEN = "platform-v1-d7df91a190b861247b83f4121b07a0942886ed2ccdf78340077377c8ae0f9103"
dataset.USER_ID = "b87f67c1-b04f-4332-99a1-7a5e651331c6"
dataset.OTHER_USER_ID = "0d4c2a9e-6f1b-4c3d-8e2a-5b7f9c1d3e4f"
--- A token that may list every user's records (a list without user_id); its user owns none.
dataset.ADMIN_TOKEN = "platform-v1-a3d1f0c2b4e6a8c0d2f4b6a8c0e2d4f6b8a0c2e4d6f8a0b2c4e6d8f0a2b4c6e8"
dataset.ADMIN_USER_ID = "ad000000-1c2b-4d3e-8f4a-5b6c7d8e9f00"

dataset.ME = {
  id = dataset.USER_ID,
  username = "mock-user",
  email = "mock-user@example.com",
  nickname = "Mock User",
  is_active = true,
  created_at = "2024-01-15T08:30:00.123456Z",
}

dataset.OTHER_ME = {
  id = dataset.OTHER_USER_ID,
  username = "other-user",
  email = "other-user@example.com",
  nickname = "Other User",
  is_active = true,
  created_at = "2024-02-20T10:00:00Z",
}

dataset.ADMIN_ME = {
  id = dataset.ADMIN_USER_ID,
  username = "admin-user",
  email = "admin@example.com",
  nickname = "Admin",
  is_active = true,
  is_staff = true,
  created_at = "2024-01-01T00:00:00Z",
}

dataset.APPLICATIONS = {
  "3c1e5a7f-0b2d-4e6f-8a1c-3e5a7c9b1d2f",
  "5d2f6b8a-1c3e-4f7a-9b2d-4f6b8d0c2e3a",
  "7e3a7c9b-2d4f-4a8b-8c3e-5a7c9e1d3f4b",
}

--- One credential per application (credential_id follows application_id).
dataset.CREDENTIALS = {
  "c1a2b3c4-d5e6-4f70-8192-a3b4c5d6e7f8",
  "c2b3c4d5-e6f7-4081-92a3-b4c5d6e7f809",
  "c3c4d5e6-f708-4192-a3b4-c5d6e7f8091a",
}

dataset.PROXIES = {
  "9a1b2c3d-4e5f-4a6b-8c7d-8e9f0a1b2c3d",
  "9b2c3d4e-5f6a-4b7c-9d8e-9f0a1b2c3d4e",
  "9c3d4e5f-6a7b-4c8d-ae9f-0a1b2c3d4e5f",
  "9d4e5f6a-7b8c-4d9e-bf0a-1b2c3d4e5f6a",
}

dataset.SERVICES = {
  { id = "5e1f2a3b-4c5d-4e6f-8a7b-9c0d1e2f3a4b", alias = "openai-proxy", name = "OpenAI Proxy" },
  { id = "6f2a3b4c-5d6e-4f7a-9b8c-0d1e2f3a4b5c", alias = "claude-proxy", name = "Claude Proxy" },
  { id = "7a3b4c5d-6e7f-4a8b-ac9d-1e2f3a4b5c6d", alias = "gemini-proxy", name = "Gemini Proxy" },
}

local MODELS = {
  ["openai-proxy"] = { "gpt-4o-mini", "gpt-4o", "gpt-3.5-turbo" },
  ["claude-proxy"] = { "claude-3-5-sonnet-20240620", "claude-3-haiku-20240307" },
  ["gemini-proxy"] = { "gemini-1.5-pro", "gemini-1.5-flash" },
}

--- Creation time of record 0 (2024-08-01T00:00:00Z) and the spacing between records.
dataset.BASE_EPOCH = 1722470400
dataset.STEP_SECONDS = 37

--- Text put into metadata.note of every 50th record: quotes, backslash, control
-- characters, Latin-1, CJK and an emoji (outside the BMP, so \u escapes need a surrogate pair).
dataset.NOTE = 'He said "hi" \\ C:\\tmp\\x\n\tnaïve café — 日本語 🚀 done'

-- JSON helpers ------------------------------------------------------------------------------

--- The JSON null sentinel (finish_reason of some records).
dataset.null = setmetatable({}, {
  __tostring = function() return "null" end,
  __newindex = function() error("dataset.null is read-only", 2) end,
})

--- Metatables to force an empty table to encode as [] or {} (default: {} when empty).
dataset.array_mt = { __jsontype = "array" }
dataset.object_mt = { __jsontype = "object" }

local cjson_null
do
  local ok, cjson = pcall(require, "cjson")
  if ok and type(cjson) == "table" then cjson_null = cjson.null end
end

local ESCAPES = {
  ['"'] = '\\"', ["\\"] = "\\\\", ["\b"] = "\\b", ["\f"] = "\\f",
  ["\n"] = "\\n", ["\r"] = "\\r", ["\t"] = "\\t", ["\127"] = "\127",
}
for c = 0, 31 do
  local ch = string.char(c)
  if not ESCAPES[ch] then ESCAPES[ch] = format("\\u%04x", c) end
end

-- Decode one UTF-8 sequence to \uXXXX escape(s) (surrogate pair above U+FFFF).
local function utf8_to_escape(seq)
  local b1 = seq:byte(1)
  local cp, n
  if b1 >= 240 then cp, n = b1 - 240, 4
  elseif b1 >= 224 then cp, n = b1 - 224, 3
  else cp, n = b1 - 192, 2 end
  if #seq ~= n then return seq end -- not well formed: leave as is
  for k = 2, n do cp = cp * 64 + (seq:byte(k) - 128) end
  if cp >= 0x10000 then
    cp = cp - 0x10000
    return format("\\u%04x\\u%04x", 0xD800 + floor(cp / 1024), 0xDC00 + cp % 1024)
  end
  return format("\\u%04x", cp)
end

--- Encode a string as a JSON string literal. Non-ASCII stays raw UTF-8 unless `ascii` is
-- true, in which case it becomes \u escapes (like Python's json.dumps default).
local function encode_string(s, ascii)
  if not s:find('[%c"\\\128-\255]') then return '"' .. s .. '"' end
  s = s:gsub('[%c"\\]', ESCAPES)
  if ascii then s = s:gsub("[\192-\247][\128-\191]*", utf8_to_escape) end
  return '"' .. s .. '"'
end
dataset.encode_string = encode_string

--- Format a float like Python's repr: shortest text that reads back exactly, with ".0"
-- when integral ("5.0", "0.0009765625", "12.345").
local function encode_float(v)
  if v ~= v or v == math.huge or v == -math.huge then
    error("cannot encode non-finite number " .. tostring(v), 2)
  end
  local s = format("%.15g", v)
  if tonumber(s) ~= v then
    s = format("%.16g", v)
    if tonumber(s) ~= v then s = format("%.17g", v) end
  end
  if not s:find("[%.eEn]") then s = s .. ".0" end
  return s
end
dataset.encode_float = encode_float

local function encode_number(v)
  if v == floor(v) and v > -2 ^ 53 and v < 2 ^ 53 then return format("%d", v) end
  return encode_float(v)
end

local encode_value

local function is_array(t)
  local mt = getmetatable(t)
  if mt == dataset.array_mt then return true end
  if mt == dataset.object_mt then return false end
  local n = #t
  if n == 0 then return false end
  local count = 0
  for _ in pairs(t) do count = count + 1 end
  return count == n
end

local function key_less(a, b) return tostring(a) < tostring(b) end

encode_value = function(v, ascii, depth)
  local tv = type(v)
  if tv == "string" then return encode_string(v, ascii) end
  if tv == "number" then return encode_number(v) end
  if tv == "boolean" then return v and "true" or "false" end
  if v == nil or v == dataset.null or (cjson_null ~= nil and v == cjson_null) then return "null" end
  if tv ~= "table" then error("cannot encode a " .. tv .. " as JSON", 2) end
  depth = (depth or 0) + 1
  if depth > 100 then error("nesting too deep to encode", 2) end
  local out = {}
  if is_array(v) then
    for k = 1, #v do out[k] = encode_value(v[k], ascii, depth) end
    return "[" .. concat(out, ",") .. "]"
  end
  local keys = {}
  for k in pairs(v) do keys[#keys + 1] = k end
  sort(keys, key_less)
  for k = 1, #keys do
    local key = keys[k]
    out[k] = encode_string(tostring(key), ascii) .. ":" .. encode_value(v[key], ascii, depth)
  end
  return "{" .. concat(out, ",") .. "}"
end

--- Encode any Lua value (tables with sorted keys; integral numbers as integers).
function dataset.to_json(value)
  return encode_value(value, false, 0)
end

-- Time --------------------------------------------------------------------------------------

-- Days since 1970-01-01 of a proleptic Gregorian date (H. Hinnant's algorithm).
local function days_from_civil(y, m, d)
  if m <= 2 then y = y - 1 end
  local era = floor(y / 400)
  local yoe = y - era * 400
  local mp = (m + 9) % 12
  local doy = floor((153 * mp + 2) / 5) + d - 1
  local doe = yoe * 365 + floor(yoe / 4) - floor(yoe / 100) + doy
  return era * 146097 + doe - 719468
end

local function civil_from_days(z)
  z = z + 719468
  local era = floor(z / 146097)
  local doe = z - era * 146097
  local yoe = floor((doe - floor(doe / 1460) + floor(doe / 36524) - floor(doe / 146096)) / 365)
  local y = yoe + era * 400
  local doy = doe - (365 * yoe + floor(yoe / 4) - floor(yoe / 100))
  local mp = floor((5 * doy + 2) / 153)
  local d = doy - floor((153 * mp + 2) / 5) + 1
  local m = mp < 10 and mp + 3 or mp - 9
  if m <= 2 then y = y + 1 end
  return y, m, d
end

--- Format whole seconds + microseconds as ISO 8601 UTC the way DRF does: fraction with six
-- digits, omitted when zero ("2024-08-01T00:00:00Z").
local function iso8601_us(sec, usec)
  local days = floor(sec / 86400)
  local rem = sec - days * 86400
  local y, m, d = civil_from_days(days)
  local hh = floor(rem / 3600)
  local mm = floor((rem - hh * 3600) / 60)
  local ss = rem - hh * 3600 - mm * 60
  if usec == 0 then
    return format("%04d-%02d-%02dT%02d:%02d:%02dZ", y, m, d, hh, mm, ss)
  end
  return format("%04d-%02d-%02dT%02d:%02d:%02d.%06dZ", y, m, d, hh, mm, ss, usec)
end

--- ISO 8601 UTC text of an epoch time in seconds (float; rounded to the microsecond).
function dataset.iso8601(epoch)
  local sec = floor(epoch)
  local usec = floor((epoch - sec) * 1e6 + 0.5)
  if usec >= 1000000 then sec, usec = sec + 1, usec - 1000000 end
  return iso8601_us(sec, usec)
end

local DAYS_IN_MONTH = { 31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31 }

--- Parse ISO 8601 to integer microseconds since the epoch, or nil, message.
-- Accepts "2024-08-01", "2024-08-01T00:00:00", "...:00.123456", then "Z", "z",
-- "+00:00", "+0000", "+00" or nothing (naive = UTC). A space may replace the "T".
-- More than 6 fraction digits are truncated to microseconds.
function dataset.parse_iso8601_us(s)
  if type(s) ~= "string" then return nil, "not a string" end
  local y, mo, d, rest = s:match("^(%d%d%d%d)%-(%d%d)%-(%d%d)(.*)$")
  if not y then return nil, "expected YYYY-MM-DD" end
  y, mo, d = tonumber(y), tonumber(mo), tonumber(d)
  if mo < 1 or mo > 12 or d < 1 or d > DAYS_IN_MONTH[mo] then return nil, "date out of range" end
  if mo == 2 and d == 29 and not (y % 4 == 0 and (y % 100 ~= 0 or y % 400 == 0)) then
    return nil, "date out of range"
  end
  local hh, mi, ss, usec, offset = 0, 0, 0, 0, 0
  if rest ~= "" then
    local h, m, tail = rest:match("^[T ](%d%d):(%d%d)(.*)$")
    if not h then return nil, "expected THH:MM" end
    hh, mi = tonumber(h), tonumber(m)
    local sec, tail2 = tail:match("^:(%d%d)(.*)$")
    if sec then
      ss, tail = tonumber(sec), tail2
      local frac, tail3 = tail:match("^[.,](%d+)(.*)$")
      if frac then
        if #frac > 9 then return nil, "too many fraction digits" end
        usec = tonumber((frac .. "000000"):sub(1, 6))
        tail = tail3
      end
    end
    if hh > 23 or mi > 59 or ss > 59 then return nil, "time out of range" end
    if tail == "Z" or tail == "z" or tail == "" then
      offset = 0
    else
      local sign, oh, om = tail:match("^([+-])(%d%d):?(%d%d)$")
      if not sign then
        sign, oh = tail:match("^([+-])(%d%d)$")
        om = "00"
      end
      if not sign then return nil, "bad time zone" end
      oh, om = tonumber(oh), tonumber(om)
      if oh > 23 or om > 59 then return nil, "bad time zone" end
      offset = (oh * 3600 + om * 60) * (sign == "-" and -1 or 1)
    end
  end
  local sec = days_from_civil(y, mo, d) * 86400 + hh * 3600 + mi * 60 + ss - offset
  return sec * 1000000 + usec
end

--- Parse ISO 8601 to epoch seconds (float), or nil, message.
function dataset.parse_iso8601(s)
  local us, err = dataset.parse_iso8601_us(s)
  if not us then return nil, err end
  local sec = floor(us / 1000000)
  return sec + (us - sec * 1000000) / 1e6
end

-- Hashing -----------------------------------------------------------------------------------

-- A small nonlinear mixer over [0, M); every product stays below 2^53.
local M = 67108859

local function mix(x)
  x = x % M
  x = (x * x + 1013904223) % M
  x = (x * 69069 + floor(x / 8192)) % M
  x = (x * x + 12345) % M
  return (x * 40503 + floor(x / 4096)) % M
end

local function h(i, salt, seed)
  return mix(i * 131 + salt * 7919 + seed * 104729 + 977)
end

-- Cheap per-field accessors (used for filtering, sorting and totals) -------------------------

local function norm_seed(seed) return seed or 1 end

--- Creation time of record i as integer microseconds since the epoch.
local function created_us(i, seed)
  local usec = 0
  if i % 1000 ~= 0 then usec = h(i, 1, seed) % 1000000 end -- every 1000th on a whole second
  return (dataset.BASE_EPOCH + i * dataset.STEP_SECONDS) * 1000000 + usec
end
dataset.created_us = function(i, seed) return created_us(i, norm_seed(seed)) end

local function app_index(i, seed) return h(i, 6, seed) % 3 + 1 end
local function proxy_index(i, seed) return h(i, 7, seed) % 4 + 1 end
local function service_index(i, seed) return h(i, 8, seed) % 3 + 1 end

--- used_amount * 1024 and deducted_amount * 1024 of record i (integers; both < 2^21).
local function amounts_k(i, seed)
  local r = h(i, 9, seed)
  local used = 1 + r % 20480
  if r % 97 == 0 then used = used * 3 end
  local deducted
  if i % 17 == 0 then deducted = 0 -- free call
  elseif r % 5 == 0 then deducted = floor(used * 3 / 4) -- discounted
  else deducted = used end
  return used, deducted
end

--- Everything the server needs to filter and sort record i, without building it.
function dataset.keys(i, seed)
  seed = norm_seed(seed)
  local used, deducted = amounts_k(i, seed)
  return app_index(i, seed), proxy_index(i, seed), service_index(i, seed), used, deducted
end

-- Records -----------------------------------------------------------------------------------

local function hex_id(i, seed)
  local us = created_us(i, seed)
  local ms = floor(us / 1000)
  local ms_hi = floor(ms / 65536)
  local rand_a = h(i, 2, seed) % 4096
  local variant = 0x8000 + h(i, 3, seed) % 0x4000
  local rand_b = (h(i, 4, seed) % 16777216) * 16777216 + h(i, 5, seed) % 16777216
  return format("%08x-%04x-7%03x-%04x-%012x", ms_hi, ms - ms_hi * 65536, rand_a, variant, rand_b)
end

-- Every field of record i, flat (shared by record() and record_json()).
local function fields(i, seed)
  local app = app_index(i, seed)
  local svc = service_index(i, seed)
  local used_k, deducted_k = amounts_k(i, seed)
  local us = created_us(i, seed)
  local sec = floor(us / 1000000)
  local elapsed_ms = 50 + h(i, 12, seed) % 60000
  local models = MODELS[dataset.SERVICES[svc].alias]
  local finish
  if i % 7 == 0 then finish = nil -- JSON null
  elseif i % 11 == 0 then finish = "length"
  else finish = "stop" end
  return {
    id = hex_id(i, seed),
    app = app,
    proxy = proxy_index(i, seed),
    svc = svc,
    remaining = (5242880 + h(i, 11, seed) % 4194304) / 1024,
    used = used_k / 1024,
    deducted = deducted_k / 1024,
    original = (used_k + h(i, 10, seed) % 512) / 1024,
    elapsed = elapsed_ms / 1000,
    trace = format("%06x%06x%06x%06x%08x", h(i, 18, seed) % 16777216, h(i, 19, seed) % 16777216,
      h(i, 20, seed) % 16777216, h(i, 21, seed) % 16777216, h(i, 22, seed) * 37 % 4294967296),
    model = models[h(i, 16, seed) % #models + 1],
    prompt = 1 + h(i, 13, seed) % 4000,
    completion = h(i, 14, seed) % 2000,
    stream = h(i, 17, seed) % 2 == 0,
    finish = finish,
    note = i % 50 == 0,
    created = iso8601_us(sec, us - sec * 1000000),
    updated = iso8601_us(sec + 1 + floor(elapsed_ms / 1000), h(i, 15, seed) % 1000000),
  }
end

--- Record i (1-based) of the data set with the given seed (default 1).
function dataset.record(i, seed)
  local f = fields(i, norm_seed(seed))
  local svc = dataset.SERVICES[f.svc]
  local metadata = {
    model = f.model,
    prompt_tokens = f.prompt,
    completion_tokens = f.completion,
    stream = f.stream,
    finish_reason = f.finish == nil and dataset.null or f.finish,
  }
  if f.note then metadata.note = dataset.NOTE end
  return {
    id = f.id,
    user_id = dataset.USER_ID,
    application_id = dataset.APPLICATIONS[f.app],
    proxy_id = dataset.PROXIES[f.proxy],
    credential_id = dataset.CREDENTIALS[f.app],
    remaining_amount = f.remaining,
    used_amount = f.used,
    deducted_amount = f.deducted,
    original_amount = f.original,
    elapsed = f.elapsed,
    trace_id = f.trace,
    service = { id = svc.id, alias = svc.alias, name = svc.name },
    metadata = metadata,
    created_at = f.created,
    updated_at = f.updated,
  }
end

local SERVICE_JSON -- built lazily: {"id":..,"alias":..,"name":..} per service
local NOTE_JSON, NOTE_JSON_ASCII
local RECORD_FORMAT = '{"id":"%s","user_id":"%s","application_id":"%s","proxy_id":"%s",'
  .. '"credential_id":"%s","remaining_amount":%s,"used_amount":%s,"deducted_amount":%s,'
  .. '"original_amount":%s,"elapsed":%s,"trace_id":"%s","service":%s,"metadata":{"model":%s,'
  .. '"prompt_tokens":%d,"completion_tokens":%d,"stream":%s,"finish_reason":%s%s},'
  .. '"created_at":"%s","updated_at":"%s"}'

--- JSON text of record i: the same bytes as encode_record(record(i, seed)), ~4x faster.
function dataset.record_json(i, seed)
  if not SERVICE_JSON then
    SERVICE_JSON = {}
    for k, svc in ipairs(dataset.SERVICES) do
      SERVICE_JSON[k] = format('{"id":%s,"alias":%s,"name":%s}', encode_string(svc.id),
        encode_string(svc.alias), encode_string(svc.name))
    end
    NOTE_JSON = ',"note":' .. encode_string(dataset.NOTE, false)
    NOTE_JSON_ASCII = ',"note":' .. encode_string(dataset.NOTE, true)
  end
  local f = fields(i, norm_seed(seed))
  local note = ""
  if f.note then note = (i % 100 == 50) and NOTE_JSON_ASCII or NOTE_JSON end
  return format(RECORD_FORMAT, f.id, dataset.USER_ID, dataset.APPLICATIONS[f.app],
    dataset.PROXIES[f.proxy], dataset.CREDENTIALS[f.app], encode_float(f.remaining),
    encode_float(f.used), encode_float(f.deducted), encode_float(f.original),
    encode_float(f.elapsed), f.trace, SERVICE_JSON[f.svc], encode_string(f.model), f.prompt,
    f.completion, f.stream and "true" or "false", f.finish and encode_string(f.finish) or "null",
    note, f.created, f.updated)
end

--- Records 1..n.
function dataset.records(n, seed)
  local out = {}
  for i = 1, n do out[i] = dataset.record(i, seed) end
  return out
end

--- Index of the record with this id (for any data set size), or nil.
-- The index an id claims through its time prefix (not checked against the seed).
local function claimed_index(id)
  if type(id) ~= "string" then return nil end
  local hi, lo = id:match("^(%x%x%x%x%x%x%x%x)%-(%x%x%x%x)%-7%x%x%x%-%x%x%x%x%-%x%x%x%x%x%x%x%x%x%x%x%x$")
  if not hi then return nil end
  local ms = tonumber(hi, 16) * 65536 + tonumber(lo, 16)
  local sec = floor(ms / 1000)
  local i = (sec - dataset.BASE_EPOCH) / dataset.STEP_SECONDS
  if i < 1 or i ~= floor(i) then return nil end
  return floor(i)
end

function dataset.index_of(id, seed)
  local i = claimed_index(id)
  if not i or hex_id(i, norm_seed(seed)) ~= id then return nil end
  return i
end

local RECORD_KEYS = {
  "id", "user_id", "application_id", "proxy_id", "credential_id", "remaining_amount",
  "used_amount", "deducted_amount", "original_amount", "elapsed", "trace_id", "service",
  "metadata", "created_at", "updated_at",
}
local FLOAT_KEYS = {
  remaining_amount = true, used_amount = true, deducted_amount = true,
  original_amount = true, elapsed = true,
}
local SERVICE_KEYS = { "id", "alias", "name" }
local METADATA_KEYS = { "model", "prompt_tokens", "completion_tokens", "stream", "finish_reason", "note" }

-- Encode a table with the given keys first (in that order), then any other keys sorted.
local function encode_ordered(t, order, ascii, floats)
  local out, seen = {}, {}
  for k = 1, #order do
    local key = order[k]
    local v = t[key]
    seen[key] = true
    if v ~= nil then
      local text
      if floats and floats[key] and type(v) == "number" then text = encode_float(v)
      elseif key == "service" and type(v) == "table" then text = encode_ordered(v, SERVICE_KEYS, ascii)
      elseif key == "metadata" and type(v) == "table" then text = encode_ordered(v, METADATA_KEYS, ascii)
      else text = encode_value(v, ascii, 1) end
      out[#out + 1] = '"' .. key .. '":' .. text
    end
  end
  local extra = {}
  for key in pairs(t) do
    if not seen[key] then extra[#extra + 1] = key end
  end
  if #extra > 0 then
    sort(extra, key_less)
    for k = 1, #extra do
      local key = extra[k]
      out[#out + 1] = encode_string(tostring(key), ascii) .. ":" .. encode_value(t[key], ascii, 1)
    end
  end
  return "{" .. concat(out, ",") .. "}"
end

--- JSON text of a record: keys in a fixed order, amounts as Python-like floats.
-- Records whose index is an odd multiple of 50 (their note) come out with non-ASCII as
-- \u escapes (surrogate pairs for the emoji), the others as raw UTF-8: a decoder must give
-- the same string for both.
function dataset.encode_record(rec)
  local ascii = false
  local note = type(rec.metadata) == "table" and rec.metadata.note
  if note then
    local i = claimed_index(rec.id)
    ascii = i ~= nil and i % 100 == 50
  end
  return encode_ordered(rec, RECORD_KEYS, ascii, FLOAT_KEYS)
end

-- Totals ------------------------------------------------------------------------------------

local function new_bucket() return { count = 0, used = 0, deducted = 0 } end

--- An empty totals table (count, used, deducted, by_service, by_application, by_proxy).
function dataset.new_totals()
  local t = {
    count = 0, used = 0, deducted = 0,
    by_service = setmetatable({}, dataset.object_mt),
    by_application = setmetatable({}, dataset.object_mt),
    by_proxy = setmetatable({}, dataset.object_mt),
  }
  return t
end

local function add_to(bucket_table, key, used, deducted)
  local b = bucket_table[key]
  if not b then b = new_bucket(); bucket_table[key] = b end
  b.count = b.count + 1
  b.used = b.used + used
  b.deducted = b.deducted + deducted
end

--- Add records first..last to totals table t (in place); returns t.
function dataset.accumulate(t, first, last, seed)
  seed = norm_seed(seed)
  local used_k, deducted_k = 0, 0
  for i = first, last do
    local app, proxy, svc, used, deducted = app_index(i, seed), proxy_index(i, seed),
      service_index(i, seed), amounts_k(i, seed)
    used_k, deducted_k = used_k + used, deducted_k + deducted
    add_to(t.by_service, dataset.SERVICES[svc].alias, used / 1024, deducted / 1024)
    add_to(t.by_application, dataset.APPLICATIONS[app], used / 1024, deducted / 1024)
    add_to(t.by_proxy, dataset.PROXIES[proxy], used / 1024, deducted / 1024)
  end
  if last >= first then
    t.count = t.count + (last - first + 1)
    t.used = t.used + used_k / 1024
    t.deducted = t.deducted + deducted_k / 1024
  end
  return t
end

--- Totals of records 1..n: {count, used, deducted, by_service = {[alias] = {count, used,
-- deducted}}, by_application = {[id] = ...}, by_proxy = {[id] = ...}}.
function dataset.totals(n, seed)
  return dataset.accumulate(dataset.new_totals(), 1, n, seed)
end

return dataset
