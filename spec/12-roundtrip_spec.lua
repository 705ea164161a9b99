-- Round trips: fixed-seed random documents -> JSON text -> acedata.core.decode -> the same values.
-- lua-cjson 2.1.0 prints numbers with at most 14 significant digits (and integers as %.14g), so
-- exact number round trips use the small reference encoder below (%.17g for floats, %d for
-- integers, every string escape form); cjson.encode is used for documents whose numbers it can
-- print exactly.
local core = require "acedata.core"
local decode = core.decode
local null = core.null

local HAS_INTEGERS = math.type ~= nil
local floor, format, char, concat = math.floor, string.format, string.char, table.concat

-- Park-Miller generator: same stream on every Lua version.
local function rng(seed)
  local x = seed
  return function(n)
    x = (x * 16807) % 2147483647
    if n then return x % n end
    return x
  end
end

local function utf8_char(cp)
  if cp < 0x80 then return char(cp) end
  if cp < 0x800 then return char(0xC0 + floor(cp / 64), 0x80 + cp % 64) end
  if cp < 0x10000 then
    return char(0xE0 + floor(cp / 4096), 0x80 + floor(cp / 64) % 64, 0x80 + cp % 64)
  end
  return char(0xF0 + floor(cp / 262144), 0x80 + floor(cp / 4096) % 64,
    0x80 + floor(cp / 64) % 64, 0x80 + cp % 64)
end

local EDGE_NUMBERS = {
  0, 1, -1, 2 ^ 53, -(2 ^ 53), 2 ^ 53 + 2, 1e308, -1e308, 1.7976931348623157e308, 5e-324,
  -5e-324, 2.2250738585072014e-308, 0.1, 1 / 3, -0.0, 123.456, 1e-7, 6.02214076e23, 2 ^ 63,
  -(2 ^ 63), 2 ^ 64, 1e22, 1e23, 9007199254740993.0,
}
if HAS_INTEGERS then
  local two53 = math.tointeger(2 ^ 53)
  local ints = { math.maxinteger, math.mininteger, math.maxinteger - 1, math.mininteger + 1,
    two53 + 1, -two53 - 1, 0x7fffffff, 0x100000000, 42, -7 }
  for _, n in ipairs(ints) do EDGE_NUMBERS[#EDGE_NUMBERS + 1] = n end
end

local function random_number(r)
  local k = r(6)
  if k == 0 then return EDGE_NUMBERS[1 + r(#EDGE_NUMBERS)] end
  if k == 1 then return r(2000) - 1000 end                 -- small integer
  if k == 2 then return (r() - 1073741823) / r(100000 + 1) end -- arbitrary double
  if k == 3 then return (r(1000000) / 1000) * (r(2) == 0 and 1 or -1) end
  if k == 4 then return r() * 2 ^ (r(1900) - 1000) end     -- any finite exponent
  if HAS_INTEGERS then return r() * 0x100000000 + r() - r() * 0x80000000 end -- any int64
  return r() * 2 ^ 22 + r(2 ^ 22)
end

local CODEPOINTS = { 0x41, 0x7A, 0x20, 0x22, 0x5C, 0x2F, 0x0A, 0x09, 0x00, 0x1F, 0x7F, 0xE9, 0x3B1,
  0x4E2D, 0xFFFF, 0xFEFF, 0x1F600, 0x10FFFF, 0x10000, 0xD7FF, 0xE000 }

local function random_string(r)
  local t = {}
  for i = 1, r(24) do
    if r(3) == 0 then
      t[i] = utf8_char(CODEPOINTS[1 + r(#CODEPOINTS)])
    else
      t[i] = char(0x20 + r(95))
    end
  end
  return concat(t)
end

local function random_value(r, depth)
  local k = r(depth > 4 and 5 or 8)
  if k == 0 then return random_number(r) end
  if k == 1 then return random_string(r) end
  if k == 2 then return r(2) == 0 end
  if k == 3 then return null end
  if k == 4 then return random_number(r) end
  if k == 5 or k == 6 then
    local t = {}
    for i = 1, r(6) do t[i] = random_value(r, depth + 1) end
    return t
  end
  local t = {}
  for _ = 1, r(6) do t[random_string(r)] = random_value(r, depth + 1) end
  return t
end

-- The reference encoder: random but valid choices of escapes and whitespace.
local function ws(r) return ({ "", "", "", " ", "\n\t", "\r\n  " })[1 + r(6)] end

local function encode_string(r, s)
  local out = { '"' }
  local i, n = 1, #s
  while i <= n do
    local b = s:byte(i)
    local len = b < 0x80 and 1 or b < 0xE0 and 2 or b < 0xF0 and 3 or 4
    local c = s:sub(i, i + len - 1)
    local cp
    if len == 1 then cp = b
    elseif len == 2 then cp = (b - 0xC0) * 64 + s:byte(i + 1) - 0x80
    elseif len == 3 then cp = (b - 0xE0) * 4096 + (s:byte(i + 1) - 0x80) * 64 + s:byte(i + 2) - 0x80
    else
      cp = (b - 0xF0) * 262144 + (s:byte(i + 1) - 0x80) * 4096 + (s:byte(i + 2) - 0x80) * 64
        + s:byte(i + 3) - 0x80
    end
    if c == '"' then out[#out + 1] = '\\"'
    elseif c == "\\" then out[#out + 1] = "\\\\"
    elseif cp < 0x20 or r(4) == 0 then
      if cp >= 0x10000 then
        local v = cp - 0x10000
        out[#out + 1] = format("\\u%04x\\u%04X", 0xD800 + floor(v / 1024), 0xDC00 + v % 1024)
      else
        out[#out + 1] = format(r(2) == 0 and "\\u%04x" or "\\u%04X", cp)
      end
    elseif c == "/" and r(2) == 0 then out[#out + 1] = "\\/"
    else out[#out + 1] = c end
    i = i + len
  end
  out[#out + 1] = '"'
  return concat(out)
end

local function encode_number(x)
  if HAS_INTEGERS and math.type(x) == "integer" then return format("%d", x) end
  local s = format("%.17g", x)
  if HAS_INTEGERS and not s:find("[%.eEn]") then s = s .. ".0" end -- keep it a float
  return s
end

local function is_array(t)
  local n = #t
  for k in pairs(t) do
    if type(k) ~= "number" or k < 1 or k > n or k % 1 ~= 0 then return false end
  end
  return n > 0 or next(t) == nil
end

local function encode(r, v)
  local tv = type(v)
  if tv == "number" then return encode_number(v) end
  if tv == "string" then return encode_string(r, v) end
  if tv == "boolean" then return tostring(v) end
  if v == null then return "null" end
  local parts = {}
  if is_array(v) and (#v > 0 or r(2) == 0) then
    for i = 1, #v do parts[i] = ws(r) .. encode(r, v[i]) .. ws(r) end
    return "[" .. concat(parts, ",") .. "]"
  end
  for k, x in pairs(v) do
    parts[#parts + 1] = ws(r) .. encode_string(r, k) .. ws(r) .. ":" .. ws(r) .. encode(r, x)
  end
  return "{" .. concat(parts, ",") .. ws(r) .. "}"
end

-- Deep equality that also tells integers from floats (5.3+) and -0.0 from 0.
local function same(a, b, path)
  path = path or "$"
  if type(a) ~= type(b) then return false, path .. ": " .. type(a) .. " vs " .. type(b) end
  if type(a) == "number" then
    if HAS_INTEGERS and math.type(a) ~= math.type(b) then
      return false, path .. ": " .. math.type(a) .. " vs " .. math.type(b)
    end
    if a ~= b or (a == 0 and 1 / a ~= 1 / b) then
      return false, path .. format(": %.17g vs %.17g", a, b)
    end
    return true
  end
  if type(a) ~= "table" then
    if rawequal(a, b) then return true end
    return false, path .. ": " .. tostring(a) .. " vs " .. tostring(b)
  end
  for k, v in pairs(a) do
    local ok, why = same(v, b[k], path .. "." .. tostring(k))
    if not ok then return false, why end
  end
  for k in pairs(b) do
    if a[k] == nil then return false, path .. ": extra key " .. tostring(k) end
  end
  return true
end

describe("acedata.decode", function()
  describe("round trips", function()
    it("decodes the edge numbers to exactly the same values", function()
      local r = rng(1)
      for _, x in ipairs(EDGE_NUMBERS) do
        local text = encode(r, { x })
        local ok, why = same({ x }, decode(text))
        assert.is_true(ok, text .. " " .. tostring(why))
      end
    end)

    it("decodes 2000 random documents to equal values", function()
      local r = rng(20240816)
      for i = 1, 2000 do
        local doc = random_value(r, 0)
        local text = encode(r, doc)
        local v, err = decode(text)
        assert.is_nil(err, text)
        local ok, why = same(doc, v)
        assert.is_true(ok, "document " .. i .. ": " .. tostring(why) .. "\n" .. text)
      end
    end)

    it("decodes every code point from its \\u escape and from raw UTF-8", function()
      local cps = {}
      for cp = 0, 0x10FFFF, 97 do
        if cp < 0xD800 or cp > 0xDFFF then cps[#cps + 1] = cp end
      end
      local raw, want = {}, {}
      for i, cp in ipairs(cps) do
        want[i] = utf8_char(cp)
        raw[i] = encode_string(rng(cp + 1), want[i])
      end
      assert.same(want, decode("[" .. concat(raw, ",") .. "]"))
    end)

    it("decodes what lua-cjson encodes", function()
      local ok, cjson = pcall(require, "cjson")
      if not ok then return pending("lua-cjson not installed") end
      local r = rng(77)
      local function cjson_safe(depth)
        -- numbers cjson prints exactly with 14 digits
        local k = r(depth > 3 and 4 or 6)
        if k == 0 then return (r(2000000) - 1000000) / 8 end
        if k == 1 then return random_string(r) end
        if k == 2 then return r(2) == 0 end
        if k == 3 then return cjson.null end
        local t = {}
        if k == 4 then
          for i = 1, 1 + r(5) do t[i] = cjson_safe(depth + 1) end
        else
          for _ = 1, 1 + r(5) do t["k" .. r(50)] = cjson_safe(depth + 1) end
        end
        return t
      end
      for i = 1, 500 do
        local doc = cjson_safe(0)
        local text = cjson.encode(doc)
        local v = decode(text)
        -- cjson prints integral floats without a fraction: compare values, not subtypes
        local function loose(a, b)
          if type(a) == "table" and type(b) == "table" then
            for k, x in pairs(a) do if not loose(x, b[k]) then return false end end
            for k in pairs(b) do if a[k] == nil then return false end end
            return true
          end
          return rawequal(a, b) or a == b
        end
        assert.is_true(loose(doc, v), "document " .. i .. ": " .. text)
        assert.same(cjson.decode(text), v)
      end
    end)
  end)
end)
