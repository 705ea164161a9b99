-- How the decoder builds tables: values wait on the Lua stack and each table is made at its
-- final size when its container closes (early, and then grown, for long ones); the pairs of an
-- object are set from the last unless a key may repeat. These cases sit on the edges of that:
-- repeated keys the key cache has forgotten, long containers, deep nesting; and strings longer
-- than 40 bytes, which Lua 5.2+ copies at every push, kept once per document in a cache of their own.
local core = require "acedata.core"
local decode = core.decode

local concat, format = table.concat, string.format

-- A seeded generator (Park-Miller): r(n) is 1..n, the same on every Lua.
local function rng(seed)
  local x = seed
  return function(n)
    x = (x * 16807) % 2147483647
    return x % n + 1
  end
end

local function keys(n, prefix)
  local t = {}
  for i = 1, n do t[i] = format('"%s%d":%d', prefix or "k", i, i) end
  return concat(t, ",")
end

describe("acedata.decode tables", function()
  it("keeps the last of repeated keys, whichever way the pairs are set", function()
    assert.same({ a = 3, b = 2 }, decode('{"a":1,"b":2,"a":3}'))
    assert.same({ a = 2 }, decode('{"a":1,"a":2}'))
    assert.same({ a = 2 }, decode('{"\\u0061":1,"a":2}'))
    assert.same({ a = 2 }, decode('{"a":1,"\\u0061":2}'))
    assert.same({ x = { a = 2 } }, decode('{"x":{"a":1,"a":2}}'))
  end)

  it("keeps the last of a repeated key the key cache forgot in between", function()
    -- 600 other keys evict "a" from its slots before it comes again
    local v = decode('{"a":1,' .. keys(600) .. ',"a":2}')
    assert.equal(2, v.a)
    assert.equal(600, v.k600)
    -- the same, the other keys in a nested object
    v = decode('{"a":1,"x":{' .. keys(600) .. '},"a":2}')
    assert.equal(2, v.a)
    assert.equal(600, v.x.k600)
    -- and in the records of an array between them
    local recs = {}
    for i = 1, 40 do recs[i] = "{" .. keys(20, "r" .. i .. "_") .. "}" end
    v = decode('{"a":1,"items":[' .. concat(recs, ",") .. '],"a":2}')
    assert.equal(2, v.a)
    assert.equal(20, v.items[40].r40_20)
  end)

  it("keeps the last of repeated keys in objects long enough to get their table early", function()
    for _, n in ipairs { 7, 8, 9, 15, 16, 17, 31, 32, 33, 63, 64, 65, 200 } do
      local v = decode('{"a":1,' .. keys(n) .. ',"a":2,"z":0}')
      assert.equal(2, v.a, n)
      assert.equal(n, v["k" .. n])
      local count = 0
      for _ in pairs(v) do count = count + 1 end
      assert.equal(n + 2, count)
    end
  end)

  it("decodes arrays of every length around the buffering steps", function()
    -- the stack is reserved 8 values at a time, the table made early past 32
    for _, n in ipairs { 0, 1, 7, 8, 9, 15, 16, 17, 31, 32, 33, 127, 128, 129, 1000, 5000 } do
      local t = {}
      for i = 1, n do t[i] = tostring(i) end
      local v = decode("[" .. concat(t, ",") .. "]")
      assert.equal(n, #v)
      for i = 1, n do
        if v[i] ~= i then error(format("element %d of %d is %s", i, n, tostring(v[i]))) end
      end
    end
  end)

  it("decodes many long siblings nested in each other (the stack budget is shared)", function()
    local inner = {}
    for i = 1, 100 do inner[i] = tostring(i) end
    inner = "[" .. concat(inner, ",") .. "]"
    local mid = {}
    for i = 1, 100 do mid[i] = inner end
    local doc = "[" .. concat({ "[" .. concat(mid, ",") .. "]", "[" .. concat(mid, ",") .. "]" },
      ",") .. "]"
    local v = decode(doc)
    assert.equal(2, #v)
    assert.equal(100, #v[2])
    assert.equal(100, v[2][100][100])
    -- objects in arrays in objects, all longer than a step
    local objs = {}
    for i = 1, 50 do objs[i] = "{" .. keys(40) .. "}" end
    v = decode('{"x":[' .. concat(objs, ",") .. '],' .. keys(70, "y") .. "}")
    assert.equal(50, #v.x)
    assert.equal(40, v.x[50].k40)
    assert.equal(70, v.y70)
  end)

  it("decodes nesting on both sides of the frames kept on the C stack, up to the limit", function()
    for _, n in ipairs { 30, 31, 32, 33, 100, 1000 } do
      local v = decode(string.rep("[", n) .. "7" .. string.rep("]", n))
      for _ = 1, n do v = v[1] end
      assert.equal(7, v)
      local o = decode(string.rep('{"a":', n) .. "7" .. string.rep("}", n))
      for _ = 1, n do o = o.a end
      assert.equal(7, o)
    end
    local v, err = decode(string.rep("[", 1001) .. string.rep("]", 1001))
    assert.is_nil(v)
    assert.equal("nesting deeper than 1000 at byte 1000", err)
  end)

  it("decodes records in arrays nested through every growth of the frames", function()
    -- each array holds two records and a third that goes deeper: the third is made at the
    -- size of the two before it, from its place in its parent's frame, while the frames move
    -- (at depths 32, 64, 128, 256 and 512) under it
    for _, k in ipairs { 15, 16, 17, 31, 32, 33, 63, 64, 65, 127, 128, 129, 255, 256, 400, 499 } do
      local doc = "7"
      for _ = 1, k do doc = '[{"x":1,"y":2},{"x":3,"y":4},{"x":5,"y":6,"z":' .. doc .. "}]" end
      local v = decode(doc)
      for _ = 1, k do
        if v[2].y ~= 4 or v[3].x ~= 5 then error(format("depth %d: a record lost its values", k)) end
        v = v[3].z
      end
      assert.equal(7, v, k)
    end
  end)

  it("gives arrays with array_mt their metatable at every length", function()
    for _, n in ipairs { 0, 1, 129 } do
      local t = {}
      for i = 1, n do t[i] = "1" end
      local v = decode("[[" .. concat(t, ",") .. "]]", { array_mt = true })
      assert.equal(core.array_mt, getmetatable(v))
      assert.equal(core.array_mt, getmetatable(v[1]))
      assert.equal(n, #v[1])
    end
  end)

  it("reports errors inside buffered containers at the same offsets", function()
    assert.same({ nil, "expected ',' or ']' at byte 7" }, { decode("[1,2,3 4]") })
    assert.same({ nil, "expected ',' or '}' at byte 13" }, { decode('{"a":1,"b":2 "c":3}') })
    assert.same({ nil, "unexpected end of input at byte 6" }, { decode('[{"a":') })
  end)
  it("keeps one copy of a long string that repeats", function()
    -- 2000 times the same 1000 bytes, plain and with escapes: 2 MB as copies, one copy shared
    local plain, escaped = string.rep("abcdefghij", 100), string.rep("a\\/b\\u00e9", 100)
    local expect_escaped = string.rep("a/b\195\169", 100)
    for _, case in ipairs { { plain, plain }, { escaped, expect_escaped } } do
      local t = {}
      for i = 1, 2000 do t[i] = '"' .. case[1] .. '"' end
      local doc = "[" .. concat(t, ",") .. "]"
      collectgarbage("collect")
      collectgarbage("stop")
      local before = collectgarbage("count")
      local v = decode(doc)
      local grew = collectgarbage("count") - before
      collectgarbage("restart")
      assert.equal(2000, #v)
      assert.equal(case[2], v[1])
      assert.equal(case[2], v[2000])
      assert.is_true(grew < 400, format("the decode grew the heap by %.0f kB", grew))
    end
  end)

  it("gives every string its own bytes, whatever the caches hold", function()
    -- strings alike in length, first, middle and last bytes (what the caches hash), differing
    -- elsewhere, plain or escaped, short and long, more of them than the caches keep, repeated
    -- in random orders: each decodes to its own value
    for seed = 1, 200 do
      local r = rng(seed)
      local pool, raw = {}, {}
      for i = 1, 150 do
        local n = i % 3 == 0 and 12 + r(28) or 41 + r(60)
        local b = {}
        for j = 1, n do b[j] = "x" end
        b[9 + r(n - 10)] = string.char(96 + r(26)) -- a byte the hash may not read
        b[9] = string.char(64 + i % 26)
        b[10] = string.char(64 + i % 7)
        local s = concat(b)
        pool[i], raw[i] = s, s
        if r(3) == 1 then raw[i] = s:gsub("x", "\\u0078", 1) end -- the same value, escaped
      end
      local picks, t = {}, {}
      for k = 1, 600 do
        picks[k] = r(#pool)
        t[k] = '"' .. raw[picks[k]] .. '"'
      end
      local v = decode("[" .. concat(t, ",") .. "]")
      for k = 1, 600 do
        if v[k] ~= pool[picks[k]] then
          error(format("seed %d, string %d: %q, not %q", seed, k, v[k], pool[picks[k]]))
        end
      end
    end
  end)

  it("decodes every key to itself, however the key that came next last time differs", function()
    -- records whose keys come in changing orders and subsets, from vocabularies of keys alike
    -- (prefixes of each other, one byte apart, escaped spellings of cached keys, more keys than
    -- the cache keeps), in nested objects and arrays of objects: the decoder expects each key
    -- to be the one that followed the previous key last time, and must see when it is not
    local function escaped(k) return (k:gsub("^.", function(c) return format("\\u%04x", c:byte()) end)) end
    for seed = 1, 300 do
      local r = rng(seed)
      local vocab = {}
      local size = seed % 5 == 0 and 200 or 4 + r(30)
      for i = 1, size do
        local base = ({ "a", "ab", "abc", "abcdefgh", "abcdefghi", "key_", "k" })[r(7)]
        vocab[i] = r(4) == 1 and base or base .. string.rep("x", r(3) - 1) .. i
      end
      local function object(depth)
        local n, used, order, parts, want = r(8) - 1, {}, {}, {}, {}
        for _ = 1, n do
          local k = vocab[r(#vocab)]
          if not used[k] then
            used[k] = true
            order[#order + 1] = k
          end
        end
        for i, k in ipairs(order) do
          local text, value
          local pick = r(depth < 3 and 4 or 2)
          if pick == 1 then
            value = i
            text = tostring(i)
          elseif pick == 2 then
            value = k
            text = '"' .. k .. '"'
          elseif pick == 3 then
            value, text = object(depth + 1)
          else
            local a, t = {}, {}
            for j = 1, r(4) do a[j], t[j] = object(depth + 1) end
            value, text = a, "[" .. concat(t, ",") .. "]"
          end
          want[k] = value
          parts[i] = '"' .. (r(10) == 1 and escaped(k) or k) .. '":' .. text
        end
        return want, "{" .. concat(parts, ",") .. "}"
      end
      local wants, texts = {}, {}
      for i = 1, 40 do wants[i], texts[i] = object(0) end
      local v = assert(decode("[" .. concat(texts, ",") .. "]"))
      local function check(a, b, path)
        if type(a) ~= "table" then
          if a ~= b then error(format("seed %d, %s: %s, not %s", seed, path, tostring(b), tostring(a))) end
          return
        end
        if type(b) ~= "table" then error(format("seed %d, %s: not a table", seed, path)) end
        for k, x in pairs(a) do check(x, b[k], path .. "." .. k) end
        for k in pairs(b) do
          if a[k] == nil then error(format("seed %d, %s: a key %q that is not in the text", seed, path, k)) end
        end
      end
      for i = 1, 40 do check(wants[i], v[i], "[" .. i .. "]") end
    end
  end)
end)
