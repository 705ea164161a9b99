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

-- What args.parse raises: { exit = …, message = … } or { exit = 0, output = … }.
local function raised(argv)
  local ok, e = pcall(args.parse, argv)
  assert.is_false(ok, "parse succeeded: " .. table.concat(argv, " "))
  assert.is_table(e)
  return e
end

describe("cli.args.parse", function()
  it("reads --name value and --name=value, and names the command", function()
    local o, path = args.parse { "usage", "proxies", "--format", "csv" }
    assert.equal("csv", o.format)
    assert.equal("usage proxies", path)
    o = args.parse { "usage", "proxies", "--format=json" }
    assert.equal("json", o.format)
  end)

  it("collects a repeated option into a list", function()
    local o = args.parse { "usage", "proxies", "--application-id", "a", "--application-id=b" }
    assert.same({ "a", "b" }, o.application_id)
  end)

  it("gives the defaults: table, concurrency auto, 100 records a page", function()
    local o = args.parse { "usage", "proxies" }
    assert.same({ "table", "auto", 100 }, { o.format, o.concurrency, o.page_size })
    assert.is_nil(o.max_items)
    assert.is_nil(o.ca_file)
  end)

  it("takes --concurrency auto or a fixed number from 1 to 16", function()
    assert.equal("auto", args.parse({ "usage", "proxies", "--concurrency", "auto" }).concurrency)
    assert.equal(4, args.parse({ "usage", "proxies", "--concurrency", "4" }).concurrency)
  end)

  it("converts integers and TIMEs", function()
    local before = os.time()
    local o = args.parse { "usage", "proxies", "--max-items", "5", "--from", "2024-08-01", "--to", "1d",
      "--concurrency", "4" }
    assert.equal(5, o.max_items)
    assert.equal(4, o.concurrency)
    assert.equal(1722470400, o.from)
    assert.is_true(math.abs(o.to - (before - 86400)) <= 2)
  end)

  it("reads the ID of usage proxy, and the shell of completion", function()
    local o, path = args.parse { "usage", "proxy", "0191-x", "--format", "json" }
    assert.same({ "usage proxy", "0191-x", "json" }, { path, o.id, o.format })
    o, path = args.parse { "completion", "bash" }
    assert.same({ "completion", "bash" }, { path, o.shell })
  end)

  it("answers -h and --help with the command's help (exit 0)", function()
    for _, argv in ipairs { { "-h" }, { "usage", "proxies", "-h" }, { "me", "--help" } } do
      local e = raised(argv)
      assert.equal(0, e.exit)
      assert.matches("^Usage: acedata", e.output)
    end
    assert.matches("%-%-group%-by G", raised({ "usage", "proxies", "--help" }).output)
  end)

  it("refuses an unknown option, a missing value, a wrong choice, a single option twice (exit 2)", function()
    for argv, want in pairs {
      [{ "usage", "proxies", "--nope" }] = "unknown option '%-%-nope'",
      [{ "usage", "proxies", "--format" }] = "option '%-%-format' requires an argument",
      [{ "usage", "proxies", "--format", "xml" }] = "must be one of 'table', 'csv', 'jsonl', 'json'",
      [{ "usage", "proxies", "--format", "csv", "--format", "json" }] = "at most 1 time",
      [{ "usage", "proxies", "--max-items=-1" }] = "%-%-max%-items must be an integer at least 0",
      [{ "usage", "proxies", "--max-items", "-1" }] = "unknown option '%-1'",
      [{ "usage", "proxies", "--from", "yesterday" }] = "%-%-from: ",
      [{ "usage", "proxies", "--user-id", "" }] = "%-%-user%-id must not be empty",
      [{ "usage", "proxies", "extra" }] = "too many arguments",
      [{ "usage", "proxy" }] = "missing argument 'id'",
      [{ "usage" }] = "a command is required",
      [{ "nope" }] = "unknown command 'nope'",
      [{ "completion", "tcsh" }] = "must be one of 'bash', 'zsh', 'fish'",
    } do
      local e = raised(argv)
      assert.equal(2, e.exit, table.concat(argv, " "))
      assert.matches(want, e.message)
    end
  end)

  it("ends a usage error with the command's usage and where its help is", function()
    local e = raised { "usage", "proxies", "--nope" }
    assert.matches("\nUsage: acedata usage proxies ", e.message)
    assert.matches('Run "acedata usage proxies %-%-help" for help%.$', e.message)
  end)

  it("refuses a --ca-file that cannot be read", function()
    local e = raised { "me", "--ca-file", "/nonexistent/ca.pem" }
    assert.equal(2, e.exit)
    assert.matches('%-%-ca%-file: cannot read "/nonexistent/ca.pem"', e.message)
  end)
end)

describe("cli.args.integer", function()
  it("accepts integers in range only", function()
    assert.equal(4, args.integer("concurrency", "4", 1, 16))
    assert.is_nil((args.integer("concurrency", "0", 1, 16)))
    assert.is_nil((args.integer("concurrency", "17", 1, 16)))
    assert.is_nil((args.integer("max-items", "-1", 0)))
    assert.is_nil((args.integer("max-items", "1.5", 0)))
    local _, err = args.integer("max-items", "x", 0)
    assert.matches("%-%-max%-items must be an integer at least 0", err)
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
    assert.matches("^r1%s+2024%-08%-01T00:00:37Z%s+openai%-proxy%s+app%-1%s+px%-1%s+1%.5000%s+0%.7500$", lines[2])
  end)

  it("writes every number of json exactly, nested ones too, and null, true, arrays and objects", function()
    assert.equal('{"a":[1,2.5,null,true]}', format.json { a = { 1, 2.5, cjson.null, true } })
    local text = format.json { metadata = { cost = 0.1 + 0.2, n = 3 } }
    assert.truthy(text:find('"cost":0.30000000000000004', 1, true), text)
    assert.equal(0.1 + 0.2, cjson.decode(text).metadata.cost)
    assert.equal('{"big":1000000000000000.5}', format.json { big = 1e15 + 0.5 })
    assert.has_error(function() format.json { x = math.huge } end, "cannot write: JSON has no inf")
  end)

  it("writes amounts with 4 decimals in table, exactly in csv, jsonl and json", function()
    local r = { id = "r2", used_amount = 23781.5986328125, deducted_amount = 0.1 + 0.2 }
    local out = sink()
    local w = format.records("table", out)
    w:row(r)
    w:finish()
    assert.matches("%s23781%.5986%s+0%.3000\n$", out.text())
    for _, name in ipairs { "jsonl", "json" } do
      out = sink()
      w = format.records(name, out)
      w:row(r)
      w:finish()
      assert.truthy(out.text():find('"used_amount":23781.5986328125', 1, true), out.text())
      assert.truthy(out.text():find('"deducted_amount":0.30000000000000004', 1, true), out.text())
      local v = cjson.decode(out.text())
      assert.equal(23781.5986328125, (v[1] or v).used_amount)
    end
    out = sink()
    w = format.records("csv", out)
    w:row(r)
    w:finish()
    assert.truthy(out.text():find(",23781.5986328125,0.30000000000000004,", 1, true), out.text())
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

  it("writes group amounts with 4 decimals in table", function()
    local g = group.new("service")
    g:add(rec("a", "x", "2024-08-01", 2047.9990234375, 1))
    local out = sink()
    local w = format.groups("table", out, "service", 1)
    for _, row in ipairs(g:rows()) do w:row(row) end
    w:finish()
    assert.matches("\na%s+1%s+2047%.9990%s+1%.0000\n", out.text())
    assert.matches("\nTOTAL%s+1%s+2047%.9990%s+1%.0000\n$", out.text())
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
