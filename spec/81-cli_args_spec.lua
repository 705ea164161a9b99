-- The `acedata` command's building blocks, without a server: argument parsing, TIME parsing,
-- output formats, grouping, the progress line.
local args = require "acedata.cli.args"
local clitime = require "acedata.cli.time"
local format = require "acedata.cli.format"
local group = require "acedata.cli.group"
local progress = require "acedata.cli.progress"
local cjson = require "cjson"

local NOW = 1722470400 + 86400 * 10   -- 2024-08-11T00:00:00Z

-- A file-like sink collecting what is written.
local function sink()
  local parts = {}
  return {
    write = function(self, ...)
      for i = 1, select("#", ...) do parts[#parts + 1] = select(i, ...) end
      return self
    end,
    flush = function(self) return self end,
    text = function() return table.concat(parts) end,
  }
end

describe("cli.args.parse", function()
  local spec = { ["application-id"] = { many = true }, format = {}, help = { flag = true } }

  it("reads --name value and --name=value", function()
    local o = assert(args.parse({ "--format", "csv" }, spec))
    assert.equal("csv", o.format)
    o = assert(args.parse({ "--format=json" }, spec))
    assert.equal("json", o.format)
  end)

  it("collects a repeated option into a list", function()
    local o = assert(args.parse({ "--application-id", "a", "--application-id=b" }, spec))
    assert.same({ "a", "b" }, o["application-id"])
  end)

  it("keeps positional arguments, and everything after --", function()
    local o, rest = args.parse({ "x", "--help", "--", "--format" }, spec)
    assert.is_true(o.help)
    assert.same({ "x", "--format" }, rest)
  end)

  it("treats -h as --help", function()
    assert.is_true(assert(args.parse({ "-h" }, spec)).help)
  end)

  it("refuses an unknown option, a missing value, a value for a flag, a single option twice", function()
    local _, err = args.parse({ "--nope" }, spec)
    assert.matches("unknown option %-%-nope", err)
    _, err = args.parse({ "--format" }, spec)
    assert.matches("needs a value", err)
    _, err = args.parse({ "--help=1" }, spec)
    assert.matches("takes no value", err)
    _, err = args.parse({ "--format", "csv", "--format", "json" }, spec)
    assert.matches("given twice", err)
    _, err = args.parse({ "-x" }, spec)
    assert.matches("unknown option %-x", err)
  end)

  it("starts at the given index", function()
    local o, rest = args.parse({ "usage", "proxies", "--format", "csv" }, spec, 3)
    assert.equal("csv", o.format)
    assert.same({}, rest)
  end)
end)

describe("cli.args.integer and choice", function()
  it("accepts integers in range only", function()
    assert.equal(4, args.integer("concurrency", "4", 1, 16))
    assert.is_nil((args.integer("concurrency", "0", 1, 16)))
    assert.is_nil((args.integer("concurrency", "17", 1, 16)))
    assert.is_nil((args.integer("max-items", "-1", 0)))
    assert.is_nil((args.integer("max-items", "1.5", 0)))
    local _, err = args.integer("max-items", "x", 0)
    assert.matches("%-%-max%-items must be an integer at least 0", err)
  end)

  it("accepts one of the choices only", function()
    assert.equal("csv", args.choice("format", "csv", format.NAMES))
    local _, err = args.choice("format", "xml", format.NAMES)
    assert.matches("table, csv, jsonl, json", err, 1, true)
  end)
end)

describe("cli.time.parse", function()
  it("reads relative times as now minus that much", function()
    assert.equal(NOW - 7 * 86400, clitime.parse("7d", NOW))
    assert.equal(NOW - 12 * 3600, clitime.parse("12h", NOW))
    assert.equal(NOW - 30 * 60, clitime.parse("30m", NOW))
    assert.equal(NOW - 45, clitime.parse("45s", NOW))
    assert.equal(NOW - 2 * 7 * 86400, clitime.parse("2w", NOW))
    assert.equal(NOW, clitime.parse("now", NOW))
  end)

  it("reads a date as midnight UTC", function()
    assert.equal(1722470400, clitime.parse("2024-08-01", NOW))
    assert.equal(1709164800, clitime.parse("2024-02-29", NOW))
  end)

  it("reads ISO 8601 with Z, an offset, a fraction, or no zone (UTC)", function()
    assert.equal(1722470400, clitime.parse("2024-08-01T00:00:00Z", NOW))
    assert.equal(1722470400, clitime.parse("2024-08-01T02:00:00+02:00", NOW))
    assert.equal(1722470400, clitime.parse("2024-07-31T19:30:00-0430", NOW))
    assert.equal(1722470400, clitime.parse("2024-08-01T01:00+01", NOW))
    assert.equal(1722470400.25, clitime.parse("2024-08-01T00:00:00.25Z", NOW))
    assert.equal(1722470400, clitime.parse("2024-08-01 00:00:00", NOW))
  end)

  it("refuses what is not a time", function()
    for _, s in ipairs { "", "7", "7y", "d7", "-7d", "2024-13-01", "2023-02-29", "2024-08-01T24:00:00Z",
        "2024-08-01T00:00:00+25:00", "2024-08-01X", "yesterday", "2024-8-1" } do
      local v, err = clitime.parse(s, NOW)
      assert.is_nil(v, s)
      assert.is_string(err)
    end
  end)

  it("gives what the module sends as ISO 8601 UTC", function()
    local query = require "acedata.query"
    assert.equal("2024-08-04T00:00:00Z", query.iso8601(clitime.parse("7d", NOW)))
  end)
end)

describe("cli.format.number", function()
  it("writes the shortest text that reads back the same", function()
    assert.equal("0.1", format.number(0.1))
    assert.equal("2047.9990234375", format.number(2047.9990234375))
    assert.equal("0.30000000000000004", format.number(0.1 + 0.2))
    assert.equal("800", format.number(800.0))
    assert.equal("12", format.number(12))
    assert.equal("-3.5", format.number(-3.5))
  end)
end)

describe("cli.format.csv_field", function()
  it("quotes fields with a comma, a quote, CR or LF and doubles the quotes (RFC 4180)", function()
    assert.equal("plain", format.csv_field("plain"))
    assert.equal('"a,b"', format.csv_field("a,b"))
    assert.equal('"say ""hi"""', format.csv_field('say "hi"'))
    assert.equal('"two\nlines"', format.csv_field("two\nlines"))
    assert.equal('"cr\r"', format.csv_field("cr\r"))
  end)
end)

describe("cli.format.records", function()
  local rec = {
    id = "r1", created_at = "2024-08-01T00:00:37Z", application_id = "app-1", proxy_id = "px-1",
    service = { alias = "openai-proxy", name = "OpenAI, Proxy" }, used_amount = 1.5, deducted_amount = 0.75,
    metadata = { finish_reason = cjson.null }, trace_id = cjson.null,
  }

  it("writes csv: a header, then one CRLF line per record", function()
    local out = sink()
    local w = format.records("csv", out)
    w:row(rec)
    w:finish()
    local lines = {}
    for line in out.text():gmatch("(.-)\r\n") do lines[#lines + 1] = line end
    assert.equal(2, #lines)
    assert.matches("^id,created_at,service,service_name,", lines[1])
    assert.matches('^r1,2024%-08%-01T00:00:37Z,openai%-proxy,"OpenAI, Proxy",app%-1,px%-1,', lines[2])
    assert.matches('"{""finish_reason"":null}"$', lines[2])
  end)

  it("writes jsonl: one decodable line per record, null kept", function()
    local out = sink()
    local w = format.records("jsonl", out)
    w:row(rec)
    w:row(rec)
    w:finish()
    local n = 0
    for line in out.text():gmatch("(.-)\n") do
      n = n + 1
      local v = cjson.decode(line)
      assert.equal("r1", v.id)
      assert.equal(cjson.null, v.metadata.finish_reason)
      assert.equal(0.75, v.deducted_amount)
    end
    assert.equal(2, n)
  end)

  it("writes json: one array, empty or not", function()
    local out = sink()
    local w = format.records("json", out)
    w:finish()
    assert.same({}, cjson.decode(out.text()))
    out = sink()
    w = format.records("json", out)
    w:row(rec)
    w:row(rec)
    w:finish()
    local v = cjson.decode(out.text())
    assert.equal(2, #v)
    assert.equal("openai-proxy", v[2].service.alias)
  end)

  it("writes table: a header and fixed-width rows", function()
    local out = sink()
    local w = format.records("table", out)
    w:row(rec)
    w:finish()
    local lines = {}
    for line in out.text():gmatch("(.-)\n") do lines[#lines + 1] = line end
    assert.equal(2, #lines)
    assert.matches("^id%s+created_at%s+service%s+app%s+proxy%s+used%s+deducted$", lines[1])
    assert.matches("^r1%s+2024%-08%-01T00:00:37Z%s+openai%-proxy%s+app%-1%s+px%-1%s+1%.5%s+0%.75$", lines[2])
  end)

  it("raises a write error instead of losing rows", function()
    local broken = { write = function() return nil, "No space left on device" end,
      flush = function() return nil, "No space left on device" end }
    assert.has_error(function() format.records("csv", broken) end, "cannot write: No space left on device")
  end)
end)

describe("cli.group", function()
  local function rec(alias, app, day, used, deducted)
    return { service = { alias = alias }, application_id = app, proxy_id = "p",
      created_at = day .. "T10:00:00Z", used_amount = used, deducted_amount = deducted }
  end

  it("sums count, used and deducted per group, sorted, with a total last", function()
    local g = group.new("service")
    g:add(rec("b", "x", "2024-08-01", 1, 0.5))
    g:add(rec("a", "x", "2024-08-01", 2, 2))
    g:add(rec("b", "y", "2024-09-02", 4, 4))
    local rows, width = g:rows()
    assert.equal(3, #rows)
    assert.same({ key = "a", count = 1, used = 2, deducted = 2 }, rows[1])
    assert.same({ key = "b", count = 2, used = 5, deducted = 4.5 }, rows[2])
    assert.same({ count = 3, used = 7, deducted = 6.5, total = true }, rows[3])
    assert.equal(1, width)
  end)

  it("groups by UTC day and month of created_at", function()
    local d, m = group.new("day"), group.new("month")
    for _, r in ipairs { rec("a", "x", "2024-08-01", 1, 1), rec("a", "x", "2024-08-31", 1, 1),
        rec("a", "x", "2024-09-01", 1, 1) } do
      d:add(r)
      m:add(r)
    end
    local days, months = d:rows(), m:rows()
    assert.equal("2024-08-01", days[1].key)
    assert.equal("2024-09-01", days[3].key)
    assert.same({ "2024-08", "2024-09" }, { months[1].key, months[2].key })
    assert.equal(2, months[1].count)
  end)

  it("puts records without the key under -", function()
    local g = group.new("application")
    g:add({ used_amount = 1, deducted_amount = 1 })
    assert.equal("-", g:rows()[1].key)
  end)

  it("writes groups as csv with a TOTAL row, and as json objects with total = true", function()
    local g = group.new("service")
    g:add(rec("a", "x", "2024-08-01", 1.5, 1))
    local out = sink()
    local w = format.groups("csv", out, "service")
    for _, row in ipairs(g:rows()) do w:row(row) end
    w:finish()
    assert.equal("service,count,used,deducted\r\na,1,1.5,1\r\nTOTAL,1,1.5,1\r\n", out.text())
    out = sink()
    w = format.groups("json", out, "service")
    for _, row in ipairs(g:rows()) do w:row(row) end
    w:finish()
    assert.same({ { service = "a", count = 1, used = 1.5, deducted = 1 },
      { total = true, count = 1, used = 1.5, deducted = 1 } }, cjson.decode(out.text()))
  end)
end)

describe("cli.progress", function()
  it("shows records so far of the total, the rate and the time left", function()
    assert.equal("1,500 / 10,000 records  500/s  ETA 17s", progress.text(1500, 10000, 3))
    assert.equal("1,234,567 / 2,000,000 records  1,000/s  ETA 12m45s", progress.text(1234567, 2000000, 1234.567))
    assert.equal("10 records  0/s", progress.text(10, nil, 0))
  end)

  it("redraws in place with \\r, and erases itself", function()
    local out, t = sink(), 0
    local line = progress.new(out, function() return t end, 1000, 0.2)
    for _ = 1, 64 do line:tick() end
    assert.equal("", out.text())          -- not yet time
    t = 1
    for _ = 1, 64 do line:tick() end
    assert.matches("^\r128 / 1,000 records", out.text())
    line:clear()
    assert.matches("\r%s+\r$", out.text())
  end)

  it("tells a terminal from a file", function()
    assert.is_false(progress.isatty(99))
  end)
end)
