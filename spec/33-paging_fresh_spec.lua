local core = require "acedata.core"

describe("core.dedup (the duplicate check of each page; the ids kept in an opaque value)", function()
  local function ids(list)
    local out = {}
    for i, rec in ipairs(list) do out[i] = type(rec) == "table" and rec.id or rec end
    return out
  end

  it("returns the page itself when nothing repeats, with its ids", function()
    local page = { { id = "a" }, { id = "b" }, { id = "c" } }
    local fresh, seen, skipped = core.dedup(page, nil)
    assert.equal(page, fresh)
    assert.equal(3, #seen)
    assert.equal(0, skipped)
  end)

  it("drops records whose id was on the previous page, keeping the order of the rest", function()
    local _, prev = core.dedup({ { id = "a" }, { id = "b" }, { id = "c" } })
    local fresh, seen, skipped = core.dedup({ { id = "b" }, { id = "c" }, { id = "d" }, { id = "e" } }, prev)
    assert.same({ "d", "e" }, ids(fresh))
    assert.equal(4, #seen)
    assert.equal(2, skipped)
  end)

  it("drops a repeat inside the same page", function()
    local fresh, seen, skipped = core.dedup({ { id = "a" }, { id = "b" }, { id = "a" }, { id = "c" } })
    assert.same({ "a", "b", "c" }, ids(fresh))
    assert.equal(3, #seen)
    assert.equal(1, skipped)
  end)

  it("compares ids as table keys do: 1 and 1.0 are one id, the string \"1\" another", function()
    local _, prev = core.dedup({ { id = 1 }, { id = 2.5 } })
    local fresh, _, skipped = core.dedup({ { id = 1.0 }, { id = "1" }, { id = 2.5 } }, prev)
    assert.same({ "1" }, ids(fresh))
    assert.equal(2, skipped)
  end)

  it("compares long ids by their bytes", function()
    local long = string.rep("7f", 40)
    local _, prev = core.dedup({ { id = long } })
    local fresh, _, skipped = core.dedup({ { id = string.rep("7", 1) .. string.rep("f7", 39) .. "f" } }, prev)
    assert.same({}, fresh)
    assert.equal(1, skipped)
  end)

  it("keeps records without a usable id: not tables, nil, false and NaN ids", function()
    local odd = { "text", { name = "no id" }, { id = false }, { id = 0 / 0 }, 42 }
    local _, prev = core.dedup({ { id = "x" } })
    local fresh, seen, skipped = core.dedup(odd, prev)
    assert.equal(odd, fresh)
    assert.equal(0, #seen)
    assert.equal(0, skipped)
  end)

  it("drops every record of a page served twice, however long the page", function()
    local page = {}
    for i = 1, 3000 do page[i] = { id = "record-" .. i } end
    local _, prev = core.dedup(page)
    local fresh, _, skipped = core.dedup(page, prev)
    assert.same({}, fresh)
    assert.equal(3000, skipped)
  end)

  it("reads the id field raw, ignoring metatables", function()
    local rec = setmetatable({}, { __index = function() return "a" end })
    local _, prev = core.dedup({ { id = "a" } })
    local fresh, _, skipped = core.dedup({ rec }, prev)
    assert.equal(rec, fresh[1])
    assert.equal(0, skipped)
  end)

  -- The rule in plain Lua, with a set table: what core.dedup must agree with.
  local function reference(page, prev)
    local seen, fresh, skipped, copied = {}, {}, 0, false
    for i, rec in ipairs(page) do
      local id = type(rec) == "table" and rawget(rec, "id") or nil
      local dup = false
      if id ~= nil and id ~= false and id == id then
        dup = seen[id] or (prev ~= nil and prev[id]) or false
        seen[id] = true
      end
      if dup then skipped, copied = skipped + 1, true else fresh[#fresh + 1] = page[i] end
    end
    return copied and fresh or page, seen, skipped
  end

  it("agrees with a set-table reference on random pages of mixed ids", function()
    local shared = {}
    local pool = { "a", "b", "c", 1, 1.0, 2, 2.5, true, false, 0 / 0, shared, "1", string.rep("y", 50) }
    local seed = 12345
    local function random(n)            -- a small LCG: the same pages on every Lua
      seed = (seed * 1103515245 + 12345) % 2147483648
      return seed % n + 1
    end
    for _ = 1, 500 do
      local prev_fresh, prev_dedup
      for _ = 1, 4 do
        local page = {}
        for i = 1, random(12) - 1 do
          local r = random(10)
          page[i] = r == 1 and "text" or r == 2 and {} or { id = pool[random(#pool)] }
        end
        local f1, s1, k1 = reference(page, prev_fresh)
        local f2, s2, k2 = core.dedup(page, prev_dedup)
        assert.equal(k1, k2)
        assert.equal(f1 == page, f2 == page)
        assert.equal(#f1, #f2)
        for i = 1, #f1 do assert.equal(f1[i], f2[i]) end
        local n = 0
        for _ in pairs(s1) do n = n + 1 end
        assert.equal(n, #s2)
        prev_fresh, prev_dedup = s1, s2
      end
    end
  end)

  it("raises on misuse: a page that is not a table, previous ids that are not core.dedup's", function()
    assert.has_error(function() core.dedup("page") end)
    assert.has_error(function() core.dedup({}, {}) end)
  end)
end)
