-- The `acedata` command (bin/acedata) as a child process against the mock. The token goes
-- through a 0600 file sourced by sh, never the command line.
local mock = require "spec.helpers.mock"
local cjson = require "cjson"

local dataset = mock.dataset
local N = 1000

local child = require "spec.helpers.child"

--- Runs `acedata <argv…>`; returns stdout, stderr, exit status.
-- env: variables to set (default: the mock's token and URL); a value false unsets one.
local function acedata(argv, env)
  local vars = { ACEDATACLOUD_PLATFORM_TOKEN = mock.TOKEN, PLATFORM_API_BASE_URL = mock.url() }
  for k, v in pairs(env or {}) do vars[k] = v end
  local words = { child.interpreter(), "bin/acedata" }
  for _, a in ipairs(argv) do words[#words + 1] = a end
  return child.exec(words, vars)
end

local function lines(s, sep)
  local t = {}
  for line in s:gmatch("(.-)" .. (sep or "\n")) do t[#t + 1] = line end
  return t
end

-- RFC 4180 reader: rows of fields (quoted fields may hold commas, quotes and line breaks).
local function parse_csv(s)
  local rows, row, i, n = {}, {}, 1, #s
  while i <= n do
    local field
    if s:sub(i, i) == '"' then
      local parts = {}
      i = i + 1
      while true do
        local q = assert(s:find('"', i, true), "unterminated quote")
        parts[#parts + 1] = s:sub(i, q - 1)
        if s:sub(q + 1, q + 1) == '"' then
          parts[#parts + 1] = '"'
          i = q + 2
        else
          i = q + 1
          break
        end
      end
      field = table.concat(parts)
    else
      local j = s:find("[,\r]", i) or n + 1
      field = s:sub(i, j - 1)
      i = j
    end
    row[#row + 1] = field
    local c = s:sub(i, i)
    if c == "," then
      i = i + 1
    else
      assert(s:sub(i, i + 1) == "\r\n", "expected CRLF at " .. i)
      rows[#rows + 1] = row
      row = {}
      i = i + 2
    end
  end
  return rows
end

local function newest_first(n)
  local list = dataset.records(n)
  table.sort(list, function(a, b) return a.created_at > b.created_at end)
  return list
end

describe("acedata usage proxies", function()
  before_each(function()
    mock.reset()
    mock.config { records = N }
  end)

  it("writes csv: a header, then one row per record in server order", function()
    local out, err, status = acedata { "usage", "proxies", "--format", "csv" }
    assert.equal(0, status, err)
    local rows = parse_csv(out)
    assert.equal(N + 1, #rows)
    assert.equal("id", rows[1][1])
    local want = newest_first(N)
    local col = {}
    for i, name in ipairs(rows[1]) do col[name] = i end
    for i = 1, N do
      assert.equal(want[i].id, rows[i + 1][col.id])
      assert.equal(want[i].deducted_amount, tonumber(rows[i + 1][col.deducted_amount]))
      assert.equal(want[i].service.name, rows[i + 1][col.service_name])
    end
    -- Record 50's metadata note holds quotes, a backslash, a line break and a tab.
    local note
    for i = 2, #rows do
      local md = cjson.decode(rows[i][col.metadata])
      if md.note then note = md.note end
    end
    assert.equal(dataset.NOTE, note)
  end)

  it("writes jsonl: every line decodes, every field is kept", function()
    local out, err, status = acedata { "usage", "proxies", "--format", "jsonl" }
    assert.equal(0, status, err)
    local want, got, sum = newest_first(N), lines(out), 0
    assert.equal(N, #got)
    for i, line in ipairs(got) do
      local rec = cjson.decode(line)
      assert.equal(want[i].id, rec.id)
      assert.equal(want[i].trace_id, rec.trace_id)
      sum = sum + rec.deducted_amount
    end
    assert.equal(dataset.totals(N).deducted, sum)
  end)

  it("writes json: one array that decodes", function()
    local out, err, status = acedata { "usage", "proxies", "--format", "json", "--max-items", "250" }
    assert.equal(0, status, err)
    local list = cjson.decode(out)
    assert.equal(250, #list)
    assert.same(dataset.record(N).service, list[1].service)
  end)

  it("writes a table by default: a header and one line per record", function()
    local out, err, status = acedata { "usage", "proxies", "--max-items", "30" }
    assert.equal(0, status, err)
    local t = lines(out)
    assert.equal(31, #t)
    assert.matches("^id%s+created_at%s+service%s+app%s+proxy%s+used%s+deducted$", t[1])
    assert.equal(dataset.record(N).id, t[2]:match("^(%S+)"))
  end)

  it("gives the same records with --concurrency 4", function()
    local seq = acedata { "usage", "proxies", "--format", "csv" }
    local conc, err, status = acedata { "usage", "proxies", "--format", "csv", "--concurrency", "4" }
    assert.equal(0, status, err)
    assert.equal(seq, conc)
  end)

  it("totals per service equal the data set's, with a total row", function()
    local out, err, status = acedata { "usage", "proxies", "--group-by", "service", "--format", "csv" }
    assert.equal(0, status, err)
    local rows = parse_csv(out)
    local totals = dataset.totals(N)
    assert.same({ "service", "count", "used", "deducted" }, rows[1])
    assert.equal(#dataset.SERVICES + 2, #rows)
    for i = 2, #rows - 1 do
      local want = totals.by_service[rows[i][1]]
      assert.equal(want.count, tonumber(rows[i][2]))
      assert.equal(want.used, tonumber(rows[i][3]))
      assert.equal(want.deducted, tonumber(rows[i][4]))
    end
    assert.same({ "TOTAL", tostring(N), nil }, { rows[#rows][1], rows[#rows][2] })
    assert.equal(totals.used, tonumber(rows[#rows][3]))
    assert.equal(totals.deducted, tonumber(rows[#rows][4]))
  end)

  it("totals per application and per proxy equal the data set's (json, jsonl)", function()
    local totals = dataset.totals(N)
    local out, err, status = acedata { "usage", "proxies", "--group-by", "application", "--format", "json" }
    assert.equal(0, status, err)
    local rows = cjson.decode(out)
    assert.equal(#dataset.APPLICATIONS + 1, #rows)
    for i = 1, #rows - 1 do
      local want = totals.by_application[rows[i].application]
      assert.same({ want.count, want.used, want.deducted }, { rows[i].count, rows[i].used, rows[i].deducted })
    end
    assert.is_true(rows[#rows].total)
    assert.equal(totals.deducted, rows[#rows].deducted)

    out = acedata { "usage", "proxies", "--group-by", "proxy", "--format", "jsonl" }
    local got = lines(out)
    assert.equal(#dataset.PROXIES + 1, #got)
    for i = 1, #got - 1 do
      local row = cjson.decode(got[i])
      assert.equal(totals.by_proxy[row.proxy].deducted, row.deducted)
    end
  end)

  it("groups by UTC day and by month", function()
    local by_day, by_month = {}, {}
    for _, rec in ipairs(dataset.records(N)) do
      local d, m = rec.created_at:sub(1, 10), rec.created_at:sub(1, 7)
      by_day[d] = (by_day[d] or 0) + 1
      by_month[m] = (by_month[m] or 0) + 1
    end
    local out, err, status = acedata { "usage", "proxies", "--group-by", "day", "--format", "csv" }
    assert.equal(0, status, err)
    local rows, seen = parse_csv(out), 0
    assert.equal("day", rows[1][1])
    for i = 2, #rows - 1 do
      assert.equal(by_day[rows[i][1]], tonumber(rows[i][2]))
      if i > 2 then assert.is_true(rows[i - 1][1] < rows[i][1]) end
      seen = seen + 1
    end
    local days = 0
    for _ in pairs(by_day) do days = days + 1 end
    assert.equal(days, seen)

    out = acedata { "usage", "proxies", "--group-by", "month" }
    local t = lines(out)
    assert.matches("^month%s+count%s+used%s+deducted$", t[1])
    assert.equal(by_month["2024-08"], tonumber(t[2]:match("^2024%-08%s+(%d+)")))
    assert.matches("^TOTAL%s+" .. N .. "%s", t[#t])
  end)

  it("filters by application, --from and --to (a date, ISO 8601)", function()
    local app = dataset.APPLICATIONS[2]
    local out, err, status = acedata { "usage", "proxies", "--application-id", app, "--group-by", "service",
      "--format", "json" }
    assert.equal(0, status, err)
    local rows = cjson.decode(out)
    assert.equal(dataset.totals(N).by_application[app].count, rows[#rows].count)

    -- Record i is created 37·i s after 2024-08-01T00:00:00Z (plus microseconds); `to` is inclusive.
    out = acedata { "usage", "proxies", "--from", "2024-08-01", "--to", "2024-08-01T00:10:00Z", "--format", "jsonl" }
    assert.equal(16, #lines(out))
    out = acedata { "usage", "proxies", "--from", "2024-08-01T02:00:00+02:00", "--to", "2024-08-01T00:10:00Z",
      "--format", "jsonl" }
    assert.equal(16, #lines(out))
  end)

  it("reads relative TIMEs as now minus that much", function()
    local out, err, status = acedata { "usage", "proxies", "--from", "7d", "--format", "csv" }
    assert.equal(0, status, err)
    assert.equal(1, #parse_csv(out))          -- the data set is from 2024: only the header
    local sent
    for _, r in ipairs(mock.log()) do
      sent = sent or (r.args or ""):match("created_at_from=([^&]+)")
    end
    sent = sent:gsub("%%3A", ":")
    local at = dataset.parse_iso8601(sent)
    assert.is_true(math.abs(at - (os.time() - 7 * 86400)) < 60, sent)
    out = acedata { "usage", "proxies", "--from", "100000d", "--format", "jsonl" }
    assert.equal(N, #lines(out))
  end)

  it("stops at --max-items", function()
    local out = acedata { "usage", "proxies", "--max-items", "5", "--format", "jsonl" }
    assert.equal(5, #lines(out))
  end)

  it("writes nothing on stderr when it is not a terminal (no progress line)", function()
    local out, err, status = acedata { "usage", "proxies", "--format", "jsonl", "--concurrency", "2" }
    assert.equal(0, status)
    assert.equal(N, #lines(out))
    assert.equal("", err)
  end)

  it("writes to --output FILE instead of stdout", function()
    local path = os.tmpname()
    local out, err, status = acedata { "usage", "proxies", "--format", "csv", "--output", path, "--max-items", "10" }
    assert.equal(0, status, err)
    assert.equal("", out)
    assert.equal(11, #parse_csv(child.read(path)))
    os.remove(path)
  end)

  it("exits 1 with the API's message on stderr, leaving no output file", function()
    mock.faults { fault = "status", status = 403, times = -1 }
    local path = os.tmpname()
    os.remove(path)
    local out, err, status = acedata { "usage", "proxies", "--output", path }
    assert.equal(1, status)
    assert.equal("", out)
    assert.matches("permission error %(HTTP 403%)", err)
    assert.is_nil(child.read(path))
  end)

  it("exits 1 on a wrong token, without ever showing it", function()
    local token = "platform-v1-" .. string.rep("ab", 32)
    local out, err, status = acedata({ "usage", "proxies" }, { ACEDATACLOUD_PLATFORM_TOKEN = token })
    assert.equal(1, status)
    assert.equal("", out)
    assert.matches("auth error %(HTTP 401%)", err)
    assert.is_nil(err:find(token, 1, true))
  end)

  it("exits 1 when the server cannot be reached", function()
    local _, err, status = acedata({ "me" }, { PLATFORM_API_BASE_URL = "http://127.0.0.1:1",
      PLATFORM_REQUEST_TIMEOUT = "2" })
    assert.equal(1, status)
    assert.matches("network error", err)
  end)

  it("exits 2 on a usage error, before any request", function()
    mock.reset()
    for _, argv in ipairs {
      { "usage", "proxies", "--format", "xml" }, { "usage", "proxies", "--from", "yesterday" },
      { "usage", "proxies", "--group-by", "week" }, { "usage", "proxies", "--max-items", "-1" },
      { "usage", "proxies", "--concurrency", "0" }, { "usage", "proxies", "--nope" },
      { "usage", "proxies", "extra" }, { "usage", "proxy" }, { "usage", "nope" }, { "nope" }, {},
      { "usage", "proxies", "--token", "x" },
    } do
      local out, err, status = acedata(argv)
      assert.equal(2, status, table.concat(argv, " "))
      assert.equal("", out)
      assert.matches("^acedata: ", err)
    end
    assert.equal(0, #mock.log())
  end)

  it("exits 2 without a token", function()
    local _, err, status = acedata({ "me" }, { ACEDATACLOUD_PLATFORM_TOKEN = false })
    assert.equal(2, status)
    assert.matches("no token", err)
  end)

  it("prints help for every command, and exits 0", function()
    for _, argv in ipairs { { "--help" }, { "usage", "--help" }, { "usage", "proxies", "--help" },
        { "usage", "proxy", "--help" }, { "me", "-h" } } do
      local out, err, status = acedata(argv)
      assert.equal(0, status, err)
      assert.matches("^Usage: acedata", out)
    end
    local out = acedata { "usage", "proxies", "--help" }
    for _, opt in ipairs { "--application-id", "--proxy-id", "--user-id", "--from", "--to", "--ordering",
        "--max-items", "--group-by", "--format", "--concurrency", "--output", "7d" } do
      assert.truthy(out:find(opt, 1, true), opt)
    end
  end)
end)

describe("acedata usage proxy ID", function()
  before_each(function()
    mock.reset()
    mock.config { records = N }
  end)

  it("shows one record", function()
    local want = dataset.record(42)
    local out, err, status = acedata { "usage", "proxy", want.id, "--format", "json" }
    assert.equal(0, status, err)
    local rec = cjson.decode(out)
    assert.equal(want.id, rec.id)
    assert.equal(want.deducted_amount, rec.deducted_amount)
    out = acedata { "usage", "proxy", want.id }
    assert.matches("\ntrace_id%s+" .. want.trace_id .. "\n", out)
  end)

  it("exits 1 on an unknown id", function()
    local out, err, status = acedata { "usage", "proxy", "0191e7c6-0000-7000-8000-000000000000" }
    assert.equal(1, status)
    assert.equal("", out)
    assert.matches("not_found error %(HTTP 404%)", err)
  end)
end)

describe("acedata me", function()
  it("shows the token's owner", function()
    local out, err, status = acedata { "me", "--format", "json" }
    assert.equal(0, status, err)
    assert.equal(dataset.USER_ID, cjson.decode(out).id)
    out = acedata { "me" }
    assert.truthy(out:find("\nusername    " .. dataset.ME.username .. "\n", 1, true), out)
    out = acedata { "me", "--format", "csv" }
    local rows = parse_csv(out)
    assert.equal(2, #rows)
  end)
end)
