-- Number precision: every number decodes to exactly the double a correctly rounding strtod gives.
--
-- The reference is glibc's strtod: Lua's own tonumber on 5.1-5.4 (lua_str2number is strtod), and
-- strtod itself through the FFI on LuaJIT (whose tonumber has its own scanner). Values are
-- compared as doubles (==, and the sign of zero), which is a comparison of bit patterns for
-- everything but NaN, which JSON cannot spell.
--
-- A million pseudo-random doubles (a fixed-seed generator over sign, exponent and mantissa bits,
-- subnormals among them) go through in their shortest round-trip form, in a few big arrays; then
-- the hard cases: midpoints between adjacent doubles written out exactly (ties to even), just
-- above and below them, their 17-digit neighbours, subnormals, huge exponents, long runs of
-- zeros before or after the point with huge exponents, and -0.
local core = require "acedata.core"
local decode = core.decode

local format, concat, rep = string.format, table.concat, string.rep
local floor, huge = math.floor, math.huge
local NEG0 = -1 / huge -- (a literal -0.0 is folded to 0 by Lua 5.1)
-- The random doubles: a million; scripts/check/{valgrind,sanitize} ask for fewer (a multiple of
-- 100,000) through ACEDATA_PRECISION_RUNS.
local RANDOM = tonumber(os.getenv "ACEDATA_PRECISION_RUNS") or 1000000
assert(RANDOM >= 100000 and RANDOM % 100000 == 0, "ACEDATA_PRECISION_RUNS: a multiple of 100000")

local strtod = tonumber
if jit then
  local ffi = require "ffi"
  ffi.cdef "double strtod(const char *s, char **end);"
  strtod = function(s) return ffi.C.strtod(s, nil) end
end

local function same(a, b)
  return type(a) == "number" and a == b and (a ~= 0 or 1 / a == 1 / b)
end

local function hex(x) -- %a where the C library's printf is reachable (not on 5.1)
  local ok, s = pcall(format, "%a", x)
  return ok and s or format("%.17g", x)
end

-- Park-Miller generator: the same stream on every Lua version.
local function rng(seed)
  local x = seed
  return function(n)
    x = (x * 16807) % 2147483647
    return n and x % n or x
  end
end

-- A double from random bits: sign, an 11-bit exponent (about 1 in 64 subnormal), 52 mantissa
-- bits; never inf or NaN. Built exactly: an integer below 2^53 times a power of two.
local function random_double(r)
  local mant = (r() % 67108864) * 67108864 + r() % 67108864 -- 52 bits
  local x
  if r(64) == 0 then
    x = mant * 2 ^ -1074 -- subnormal (or zero)
  else
    x = (4503599627370496 + mant) * 2 ^ (r(2046) - 1022 - 52)
  end
  if r(2) == 0 then x = -x end
  return x
end

-- The shortest of %.15g .. %.17g that reads back as x (17 digits always do; about half of
-- random doubles need them, so 16 is tried first).
local function shortest(x)
  local s16 = format("%.16g", x)
  if strtod(s16) ~= x then return format("%.17g", x) end
  local s15 = format("%.15g", x)
  return strtod(s15) == x and s15 or s16
end

-- Decodes the list of number texts as one JSON array; returns the texts that decode to anything
-- but strtod's double, with what came out.
local function mismatches(texts, expected)
  local arr = assert(decode("[" .. concat(texts, ",") .. "]"))
  local bad = {}
  for i, s in ipairs(texts) do
    local want = expected and expected[i] or strtod(s)
    if not same(arr[i], want) then
      bad[#bad + 1] = format("%s -> %s, strtod %s", #s > 60 and s:sub(1, 57) .. "..." or s,
        hex(arr[i]), hex(want))
      if #bad == 5 then break end
    end
  end
  return bad
end

-- Decimal digits of big integers, as arrays of base-10^6 limbs (least significant first).
local BASE = 1000000

local function big(n) -- n: an integer below 2^53
  local t = {}
  repeat
    t[#t + 1] = n % BASE
    n = floor(n / BASE)
  until n == 0
  return t
end

local function big_mul(t, k) -- k * t in place; k * limb stays exact (k <= 2^20)
  local carry = 0
  for i = 1, #t do
    local v = t[i] * k + carry
    t[i] = v % BASE
    carry = floor(v / BASE)
  end
  while carry > 0 do
    t[#t + 1] = carry % BASE
    carry = floor(carry / BASE)
  end
end

local function big_add1(t)
  local i = 1
  while true do
    t[i] = (t[i] or 0) + 1
    if t[i] < BASE then return end
    t[i] = 0
    i = i + 1
  end
end

local function big_digits(t)
  local parts = { format("%d", t[#t]) }
  for i = #t - 1, 1, -1 do parts[#parts + 1] = format("%06d", t[i]) end
  return concat(parts)
end

-- The exact decimal of (2m + 1) * 2^(e - 1): the midpoint between m * 2^e and (m + 1) * 2^e.
-- Returns its digits and the power of ten they are scaled by.
local function midpoint(m, e)
  local t = big(m)
  big_mul(t, 2)
  big_add1(t)
  local k = e - 1
  if k >= 0 then
    while k > 0 do
      local step = k < 20 and k or 20
      big_mul(t, 2 ^ step)
      k = k - step
    end
    return big_digits(t), 0
  end
  local j = -k -- (2m + 1) / 2^j = (2m + 1) * 5^j / 10^j
  local left = j
  while left > 0 do
    local step = left < 8 and left or 8
    big_mul(t, 5 ^ step)
    left = left - step
  end
  return big_digits(t), -j
end

-- digits * 10^exp10 as JSON text, in scientific form d.ddd e N.
local function sci(digits, exp10)
  local e = exp10 + #digits - 1
  local frac = digits:sub(2)
  return digits:sub(1, 1) .. (frac ~= "" and "." .. frac or "") .. "e" .. e
end

-- The 17-significant-digit decimals just below and just above digits * 10^exp10.
local function round17(digits, exp10)
  if #digits <= 17 then return {} end
  local head, cut = digits:sub(1, 17), exp10 + #digits - 17
  -- head + 1, on limbs (17 digits are more than a double holds exactly)
  local up = {}
  for i = #head, 1, -6 do up[#up + 1] = tonumber(head:sub(i - 5 > 0 and i - 5 or 1, i)) end
  big_add1(up)
  return { sci(head, cut), sci(big_digits(up), cut) }
end

describe("acedata.decode number precision", function()
  it(("gives strtod's double for %d random doubles in shortest round-trip form"):format(RANDOM), function()
    local r = rng(20240601)
    local batch, total = 100000, 0
    for _ = 1, RANDOM / batch do
      local texts, values = {}, {}
      for i = 1, batch do
        local x = random_double(r)
        values[i] = x
        texts[i] = shortest(x)
      end
      local bad = mismatches(texts, values)
      assert.are.same({}, bad)
      total = total + batch
    end
    assert.are.equal(RANDOM, total)
  end)

  it("rounds midpoints between doubles to even, and their neighbours to the nearer double",
    function()
      local r = rng(7)
      local texts = {}
      local function add(s) texts[#texts + 1] = s end
      local exps = { -1074, -1074, -1073, -1060, -1023, -1022, -1000, -600, -300, -100, -60, -52,
        -30, -1, 0, 1, 10, 11, 30, 60, 100, 300, 600, 900, 970, 971 }
      for _, e in ipairs(exps) do
        for _ = 1, 4 do
          local m
          if e == -1074 then
            m = r(2) == 0 and r(1000) or r() * 2048 + r(2048) -- subnormal mantissas
          else
            m = 4503599627370496 + (r() % 67108864) * 67108864 + r() % 67108864
            if e == 971 then m = 9007199254740991 - r(3) end -- the last midpoints below 2^1024
          end
          local digits, exp10 = midpoint(m, e)
          add(sci(digits, exp10))                           -- the tie itself
          add(digits .. "1e" .. (exp10 - 1))               -- just above it
          for _, s in ipairs(round17(digits, exp10)) do add(s) end
          for _, n in ipairs { 19, 20, 25, 40 } do          -- truncated: just below it
            if #digits > n then add(sci(digits:sub(1, n), exp10 + #digits - n)) end
          end
          add("-" .. sci(digits, exp10))
        end
      end
      -- well-known ones
      for _, s in ipairs {
        "9007199254740993", "9007199254740995", "9007199254740993.0", "9007199254740994.9999999",
        "1.00000000000000011102230246251565404236316680908203125",
        "1.00000000000000011102230246251565404236316680908203124",
        "1.00000000000000011102230246251565404236316680908203126",
        "2.2250738585072011e-308", "2.2250738585072012e-308", "2.2250738585072014e-308",
        "4.9406564584124654e-324", "2.4703282292062327e-324", "2.4703282292062328e-324",
        "1.7976931348623157e308", "1.7976931348623158e308", "1.7976931348623159e308",
        "7.2057594037927933e16", "9214843084008499", "30078505129381147446200", "1e23", "8.98846567431158e307",
        "0.1", "0.3", "3.0000000000000004", "123456789012345678e-5", "1234567890123456789e-300",
        "1448997445238699", "4.4501477170144023e-308", "6.631236846766476e-316",
        "3.2379086165851934e-319", "1.00000000000000005e0", "-2.2250738585072011e-308",
      } do
        add(s)
      end
      assert.are.same({}, mismatches(texts))
    end)

  it("gives +-0.0 or +-inf for exponents far outside the doubles", function()
    local texts, want = {}, {}
    local function add(s, v)
      texts[#texts + 1] = s
      want[#want + 1] = v
    end
    add("1e308", 1e308)
    add("1e309", huge)
    add("-1e309", -huge)
    add("1e-324", 0)
    add("1e-325", 0)
    add("-1e-400", NEG0)
    add("1e999999999999999999999999999999", huge)
    add("-1e+999999999999999999999999999999", -huge)
    add("1e-999999999999999999999999999999", 0)
    add("123e-99999999999999999999999", 0)
    add("0e999999999999999999999", 0)
    add("-0e999999999999999999999", NEG0)
    add("0.0e-999999999999999999999", 0)
    add("12345678901234567890123e-999999999999", 0)
    add("12345678901234567890123e999999999999", huge)
    add("1" .. rep("0", 400) .. "e-100", 1e300)
    for i, s in ipairs(texts) do
      if want[i] ~= 0 or s:sub(1, 1) ~= "-" then
        assert.is_true(same(strtod(s), want[i]), s) -- the reference agrees
      end
    end
    assert.are.same({}, mismatches(texts, want))
  end)

  it("keeps the decimal exponent exact across long runs of zeros before or after the point",
    function()
      local texts = {}
      local function add(s) texts[#texts + 1] = s end
      for _, n in ipairs { 30, 1000, 99999 } do
        local z = rep("0", n)
        for _, k in ipairs { -326, -325, -324, -323, -308, -1, 0, 1, 22, 23, 308, 309, 310 } do
          add("0." .. z .. "1e" .. (n + 1 + k))               -- 10^k after n zeros
          add("-0." .. z .. "123456789012345678e" .. (n + 18 + k))
          add("1" .. z .. "e" .. (k - n))                     -- 10^k before n zeros
          add("1" .. z .. ".5e" .. (k - n))
          add("1." .. z .. "1e" .. k)                         -- just above 10^k
          add("9" .. rep("9", n) .. "e" .. (k - n - 1))       -- just below 10^k
          add("0." .. z .. "e" .. k)                          -- zero
        end
      end
      assert.are.same({}, mismatches(texts))
      -- the case that once decoded to 1: 0.000...0001e1000000 overflows
      local z = rep("0", 99999)
      assert.are.equal(huge, decode("0." .. z .. "1e1000000"))
      assert.are.equal(-huge, decode("-0." .. z .. "1e1000000"))
      assert.are.equal(100, decode("0." .. z .. "1e100002"))
      assert.is_true(same(decode("0." .. z .. "1e-1000000"), 0))
      assert.are.equal(huge, decode("[0." .. z .. "1e+1000000]")[1])
    end)

  it("keeps the sign of -0", function()
    for _, s in ipairs { "-0", "-0.0", "-0e0", "-0E+5", "-0.000e-999", "-1e-400" } do
      local v = decode(s)
      assert.are.equal(0, v)
      assert.are.equal(-huge, 1 / v, s)
    end
    assert.are.equal(huge, 1 / decode("0.0"))
  end)
end)
