-- UTF-8 in strings, checked 16 bytes at a time by the decoder: every boundary case of the
-- encoding at every position of a chunk, in plain and in escaped strings, against a byte-by-
-- byte reference (RFC 3629: no overlongs, no surrogates, nothing above U+10FFFF).
local core = require "acedata.core"
local decode = core.decode

local byte, char, format, rep = string.byte, string.char, string.format, string.rep

-- The offset (0-based, in s) of the first invalid sequence, or nil when s is valid UTF-8.
local function first_invalid(s)
  local i, n = 1, #s
  while i <= n do
    local c = byte(s, i)
    local len, lo, hi = 0, 0x80, 0xBF
    if c < 0x80 then
      len = 1
    elseif c >= 0xC2 and c <= 0xDF then
      len = 2
    elseif c >= 0xE0 and c <= 0xEF then
      len = 3
      if c == 0xE0 then lo = 0xA0 elseif c == 0xED then hi = 0x9F end
    elseif c >= 0xF0 and c <= 0xF4 then
      len = 4
      if c == 0xF0 then lo = 0x90 elseif c == 0xF4 then hi = 0x8F end
    end
    if len == 0 or i + len - 1 > n then return i - 1 end
    if len > 1 then
      local c2 = byte(s, i + 1)
      if c2 < lo or c2 > hi then return i - 1 end
      for k = i + 2, i + len - 1 do
        local ck = byte(s, k)
        if ck < 0x80 or ck > 0xBF then return i - 1 end
      end
    end
    i = i + len
  end
  return nil
end

local SEQS = {
  "\194\128", "\223\191", "\192\128", "\193\191", "\195\169", -- 2 bytes (C0, C1 overlong)
  "\224\160\128", "\224\159\191", "\237\159\191", "\237\160\128", "\239\191\191", -- 3 bytes
  "\228\184\173", "\226\130\172",
  "\240\144\128\128", "\240\143\191\191", "\244\143\191\191", "\244\144\128\128", -- 4 bytes
  "\240\159\152\128", "\245\128\128\128", "\248\128\128\128\128",
  "\128", "\191", "\255", "\254", -- never valid alone
  "\226\130", "\240\159\152", "\195", -- cut short
  "\226\130\172\226\130\172\226\130\172\226\130\172\226\130\172\226\130\172", -- a run
  "\195\169\195\169\195\169\195\169\195\169\195\169\195\169\195\169\195\169",
  "\240\159\152\128\240\159\152\128\240\159\152\128\240\159\152\128\240\159\152\128",
}

-- What the decoder must say about the JSON string made of prefix .. body .. suffix; raw is the
-- decoded prefix (escapes in it are decoded by the caller).
local function expect(doc_prefix_len, body, decoded_prefix, suffix)
  local content = body .. suffix
  local bad = first_invalid(content)
  if bad then return nil, format("invalid UTF-8 at byte %d", doc_prefix_len + bad) end
  return decoded_prefix .. content
end

local function check(doc, want, err)
  local v, e = decode(doc)
  if v ~= want or e ~= err then
    error(format("decode(%q) gave %q, %q; wanted %q, %q", doc, tostring(v), tostring(e),
      tostring(want), tostring(err)), 2)
  end
end

describe("acedata.decode UTF-8", function()
  it("checks every boundary sequence at every offset of a 16-byte chunk", function()
    for _, seq in ipairs(SEQS) do
      for off = 0, 35 do
        for _, suffix in ipairs { "", "b", "bcd", rep("x", 17) } do
          local prefix = rep("a", off)
          local doc = '"' .. prefix .. seq .. suffix .. '"'
          local want, err = expect(1 + off, seq, prefix, suffix)
          check(doc, want, err)
          -- the same in an array, with more after it
          local v, e = decode("[" .. doc .. ",1]")
          if err then
            assert.is_nil(v)
            assert.equal(format("invalid UTF-8 at byte %d", tonumber(err:match("%d+$")) + 1), e)
          else
            assert.equal(want, v[1])
          end
        end
      end
    end
  end)

  it("checks them the same way after an escape", function()
    for _, seq in ipairs(SEQS) do
      for off = 0, 35 do
        local prefix = rep("a", off)
        local doc = '"\\n' .. prefix .. seq .. 'z"'
        local want, err = expect(3 + off, seq, "\n" .. prefix, "z")
        check(doc, want, err)
        doc = '"' .. prefix .. '\\"' .. seq .. '\\u00e9"'
        local content = seq
        local bad = first_invalid(content)
        if bad then
          check(doc, nil, format("invalid UTF-8 at byte %d", 1 + off + 2 + bad))
        else
          check(doc, prefix .. '"' .. seq .. "\195\169", nil)
        end
      end
    end
  end)

  it("agrees with the reference on random mixes of interesting bytes", function()
    local pool = { 0x61, 0x62, 0x80, 0x9F, 0xA0, 0xBF, 0xC0, 0xC2, 0xDF, 0xE0, 0xE2, 0xED, 0xEF,
      0xF0, 0xF4, 0xF5, 0xFF }
    local x = 12345
    local function r(n)
      x = (x * 16807) % 2147483647
      return x % n
    end
    for _ = 1, 20000 do
      local t = {}
      for i = 1, 1 + r(40) do t[i] = char(pool[1 + r(#pool)]) end
      local body = table.concat(t)
      local want, err = expect(1, body, "", "")
      check('"' .. body .. '"', want, err)
    end
  end)

  it("rejects control characters inside and after multi-byte text at their offsets", function()
    for off = 0, 20 do
      local doc = '"' .. rep("\195\169", off) .. "\1" .. '"'
      check(doc, nil, format("control character in string at byte %d", 1 + 2 * off))
    end
  end)
end)
