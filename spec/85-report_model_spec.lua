-- The report model (acedata.report.model): the totals per period and per service, application
-- and proxy that the command line, Neovim and the HTML page all show.
local mock = require "spec.helpers.mock"
local cjson = require "cjson"
local model = require "acedata.report.model"

local dataset = mock.dataset

--- Expected totals per UTC day of records 1..n, and per day and service, from the data set.
local function day_totals(n)
  local days = {}
  for _, rec in ipairs(dataset.records(n)) do
    local d = rec.created_at:sub(1, 10)
    local b = days[d] or { count = 0, used = 0, deducted = 0, by_service = {} }
    days[d] = b
    b.count, b.used, b.deducted = b.count + 1, b.used + rec.used_amount, b.deducted + rec.deducted_amount
    local s = b.by_service[rec.service.alias] or { count = 0, deducted = 0 }
    b.by_service[rec.service.alias] = s
    s.count, s.deducted = s.count + 1, s.deducted + rec.deducted_amount
  end
  return days
end

local function rec(t)
  t.used_amount = t.used_amount or 1
  t.deducted_amount = t.deducted_amount or 1
  return t
end

describe("report.model.service_of", function()
  it("is service.alias, else service.name, else service.id", function()
    assert.equal("openai-proxy", model.service_of { service = { alias = "openai-proxy", name = "OpenAI", id = "s1" } })
    assert.equal("OpenAI", model.service_of { service = { alias = "", name = "OpenAI", id = "s1" } })
    assert.equal("s1", model.service_of { service = { name = cjson.null, id = "s1" } })
    assert.equal("42", model.service_of { service = { id = 42 } })
  end)

  it("is nil when the record has no service to name (the report shows model.UNKNOWN)", function()
    assert.is_nil(model.service_of {})
    assert.is_nil(model.service_of { service = "openai" })
    assert.is_nil(model.service_of { service = { alias = false } })
    local r = model.new()
    r:add(rec {})
    assert.same({ { key = "-", count = 1, used = 1, deducted = 1 } }, r:rows("service"))
  end)
end)

describe("report.model.period_of", function()
  it("gives the UTC hour, day, ISO week and month of created_at", function()
    local at = "2024-08-01T10:16:40.123456Z"
    assert.equal("2024-08-01T10", model.period_of(at, "hour"))
    assert.equal("2024-08-01", model.period_of(at, "day"))
    assert.equal("2024-W31", model.period_of(at, "week"))
    assert.equal("2024-08", model.period_of(at, "month"))
  end)

  it("converts an offset to UTC, across midnight and month ends", function()
    assert.equal("2024-07-31", model.period_of("2024-08-01T00:30:00+02:00", "day"))
    assert.equal("2024-09-01T01", model.period_of("2024-08-31T23:30:00-02:00", "hour"))
    assert.equal("2024-07", model.period_of("2024-08-01T01:00:00+0130", "month"))
  end)

  it("numbers weeks as ISO 8601 does (from Monday; the year of its Thursday)", function()
    assert.equal("2020-W53", model.period_of("2021-01-03T12:00:00Z", "week"))   -- a Sunday
    assert.equal("2021-W01", model.period_of("2021-01-04T00:00:00Z", "week"))   -- the Monday after
    assert.equal("2025-W01", model.period_of("2024-12-30T00:00:00Z", "week"))
    assert.equal("2026-W53", model.period_of("2026-12-31T00:00:00Z", "week"))
  end)

  it("is nil for a time it cannot read", function()
    for _, bad in ipairs { "yesterday", "2024-13-01T00:00:00Z", "2024-02-30T00:00:00Z", "2024-08-01T24:00:00Z",
        "2024-08-01T10:00:00+2", 20240801 } do
      assert.is_nil(model.period_of(bad, "day"), tostring(bad))
    end
  end)
end)

describe("report.model", function()
  it("refuses a period it does not know, naming the ones it does", function()
    assert.has_error(function() model.new { period = "year" } end,
      "acedata: period must be one of hour, day, week, month, got year")
  end)

  it("refuses a grouping it does not have", function()
    local r = model.new { period = "day" }
    assert.has_error(function() r:rows("month") end, "acedata: cannot group a report by month (period day)")
  end)

  it("counts a record with a missing, non-number or non-finite amount, adding 0, and says how many", function()
    local r = model.new()
    r:add { created_at = "2024-08-01T00:00:00Z", used_amount = "12", deducted_amount = 0 / 0 }
    r:add { created_at = "2024-08-01T01:00:00Z", used_amount = 2, deducted_amount = 1.5 }
    r:add { created_at = "2024-08-01T02:00:00Z", used_amount = math.huge, deducted_amount = 1 }
    r:add { created_at = "2024-08-01T03:00:00Z" }
    assert.same({ key = "total", count = 4, used = 2, deducted = 2.5 }, r.total)
    assert.equal(3, r.invalid)
  end)

  it("puts records without a readable created_at under '-'", function()
    local r = model.new()
    r:add(rec { created_at = "not a time" })
    r:add(rec {})
    r:add(rec { created_at = "2024-08-01T00:00:00Z" })
    local keys = {}
    for _, p in ipairs(r:periods()) do keys[#keys + 1] = p.key .. "=" .. p.count end
    assert.same({ "-=2", "2024-08-01=1" }, keys)
  end)

  it("remembers the earliest and latest created_at", function()
    local r = model.new()
    for _, at in ipairs { "2024-08-02T00:00:00Z", "2024-08-01T05:00:00Z", "2024-08-03T00:00:00Z" } do
      r:add(rec { created_at = at })
    end
    assert.equal("2024-08-01T05:00:00Z", r.first)
    assert.equal("2024-08-03T00:00:00Z", r.last)
  end)

  it("sums 10,000 records of the data set per day, per day and service, and in total", function()
    local N = 10000
    local r = model.new { period = "day" }
    for _, x in ipairs(dataset.records(N)) do r:add(x) end
    local want, got = day_totals(N), {}
    for _, p in ipairs(r:periods()) do
      local services = {}
      for k, b in pairs(p.by_service) do services[k] = { count = b.count, deducted = b.deducted } end
      got[p.key] = { count = p.count, used = p.used, deducted = p.deducted, by_service = services }
    end
    assert.same(want, got)
    local keys = {}
    for _, p in ipairs(r:periods()) do keys[#keys + 1] = p.key end
    assert.same({ "2024-08-01", "2024-08-02", "2024-08-03", "2024-08-04", "2024-08-05" }, keys)
    local t = dataset.totals(N)
    assert.same({ key = "total", count = t.count, used = t.used, deducted = t.deducted }, r.total)
  end)

  it("sums per service, application and proxy as the data set does", function()
    local N = 3000
    local r = model.new { period = "month" }
    for _, x in ipairs(dataset.records(N)) do r:add(x) end
    local t = dataset.totals(N)
    for by, want in pairs { service = t.by_service, application = t.by_application, proxy = t.by_proxy } do
      local got = {}
      for _, b in ipairs(r:rows(by)) do got[b.key] = { count = b.count, used = b.used, deducted = b.deducted } end
      local expected = {}
      for k, b in pairs(want) do expected[k] = { count = b.count, used = b.used, deducted = b.deducted } end
      assert.same(expected, got, by)
    end
    assert.equal(1, #r:rows("month"))
  end)

  it("lists the largest first with top(), ties by key", function()
    local r = model.new()
    r:add(rec { application_id = "b", deducted_amount = 5 })
    r:add(rec { application_id = "a", deducted_amount = 5 })
    r:add(rec { application_id = "c", deducted_amount = 9 })
    local keys = {}
    for _, b in ipairs(r:top("application", 2)) do keys[#keys + 1] = b.key end
    assert.same({ "c", "a" }, keys)
  end)

  it("merges the smallest services into one series 'other' beyond the maximum", function()
    local r = model.new()
    for i, name in ipairs { "a", "b", "c", "d" } do
      r:add(rec { service = { alias = name }, created_at = "2024-08-01T00:00:00Z", deducted_amount = 10 * i })
    end
    local s = r:series(3)
    assert.same({ "d", "c", "other" }, { s[1].name, s[2].name, s[3].name })
    assert.same({ a = true, b = true }, s[3].services)
    assert.equal(30, s[3].deducted)
    assert.equal(30, model.series_value(r:periods()[1], s[3]))
    assert.equal(4, #r:series(4))
  end)

  it("gives the same totals from the mock over HTTP as the mock's own", function()
    mock.reset()
    mock.config { records = 2000 }
    local client = mock.client()
    local r = model.new { period = "hour" }
    for x in client.usage.proxies.each { page_size = 500, fields = model.FIELDS } do r:add(x) end
    local t = mock.totals()
    assert.same({ key = "total", count = t.count, used = t.used, deducted = t.deducted }, r.total)
    for _, b in ipairs(r:rows("service")) do
      assert.same({ count = t.by_service[b.key].count, used = t.by_service[b.key].used,
        deducted = t.by_service[b.key].deducted }, { count = b.count, used = b.used, deducted = b.deducted })
    end
    assert.equal(21, #r:periods())   -- 2000 records 37 s apart: 00:00 to 20:33
  end)
end)

describe("docs/reports.md", function()
  it("has a Lua example that runs against the mock", function()
    local child = require "spec.helpers.child"
    local f = assert(io.open("docs/reports.md", "rb"))
    local code = f:read("*a"):match("\n```lua\n(.-)\n```\n")
    f:close()
    assert.truthy(code, "no Lua block in docs/reports.md")
    mock.reset()
    local page = os.tmpname()
    code = code:gsub('"report%.html"', function() return ("%q"):format(page) end)
    local out, ok = child.run(code, { ACEDATACLOUD_PLATFORM_TOKEN = mock.TOKEN, PLATFORM_API_BASE_URL = mock.url() })
    local text = child.read(page) or ""
    os.remove(page)
    assert.is_true(ok, out)
    local t = dataset.totals(1000)
    assert.equal(("%d\t%s"):format(t.count, tostring(t.deducted)), out:match("^[^\n]*"))
    assert.matches("\n2024%-08%-01\t1000\t", out)
    assert.matches("Deducted credits per day (UTC), by service", out, 1, true)
    assert.matches("^<!DOCTYPE html>", text)
  end)
end)
