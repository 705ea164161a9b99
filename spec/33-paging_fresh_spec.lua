local core = require "acedata.core"

describe("core.fresh (the duplicate check of each page)", function()
  local function ids(list)
    local out = {}
    for i, rec in ipairs(list) do out[i] = type(rec) == "table" and rec.id or rec end
    return out
  end

  it("returns the page itself when nothing repeats, with the set of its ids", function()
    local page = { { id = "a" }, { id = "b" }, { id = "c" } }
    local fresh, seen, skipped = core.fresh(page, nil)
    assert.equal(page, fresh)
    assert.same({ a = true, b = true, c = true }, seen)
    assert.equal(0, skipped)
  end)

  it("drops records whose id was on the previous page, keeping the order of the rest", function()
    local _, prev = core.fresh({ { id = "a" }, { id = "b" }, { id = "c" } })
    local fresh, seen, skipped = core.fresh({ { id = "b" }, { id = "c" }, { id = "d" }, { id = "e" } }, prev)
    assert.same({ "d", "e" }, ids(fresh))
    assert.same({ b = true, c = true, d = true, e = true }, seen)
    assert.equal(2, skipped)
  end)

  it("drops a repeat inside the same page", function()
    local fresh, _, skipped = core.fresh({ { id = "a" }, { id = "b" }, { id = "a" }, { id = "c" } })
    assert.same({ "a", "b", "c" }, ids(fresh))
    assert.equal(1, skipped)
  end)

  it("gives an empty array when every record was seen", function()
    local _, prev = core.fresh({ { id = 1 }, { id = 2 } })
    local fresh, _, skipped = core.fresh({ { id = 2 }, { id = 1 } }, prev)
    assert.same({}, fresh)
    assert.equal(2, skipped)
  end)

  it("keeps records without a usable id: not tables, nil, false and NaN ids", function()
    local odd = { "text", { name = "no id" }, { id = false }, { id = 0 / 0 }, 42 }
    local _, prev = core.fresh({ { id = "x" } })
    local fresh, seen, skipped = core.fresh(odd, prev)
    assert.equal(odd, fresh)
    assert.same({}, seen)
    assert.equal(0, skipped)
  end)

  it("reads the id field raw, ignoring metatables", function()
    local rec = setmetatable({}, { __index = function() return "a" end })
    local _, prev = core.fresh({ { id = "a" } })
    local fresh, _, skipped = core.fresh({ rec }, prev)
    assert.equal(rec, fresh[1])
    assert.equal(0, skipped)
  end)

  it("raises on misuse: a page that is not a table, a previous set that is not a table", function()
    assert.has_error(function() core.fresh("page") end)
    assert.has_error(function() core.fresh({}, "prev") end)
  end)
end)
