-- The terminal chart (acedata.report.chart): stacked bars per period and service, as text for
-- fixed widths, with ANSI colours, and for the mock's data set.
local mock = require "spec.helpers.mock"
local model = require "acedata.report.model"
local chart = require "acedata.report.chart"

local dataset = mock.dataset

-- Three days, three services: 40, 40 and 8 credits deducted.
local function small_report()
  local r = model.new { period = "day" }
  local function add(day, service, deducted)
    r:add { created_at = day .. "T12:00:00Z", service = { alias = service }, used_amount = deducted * 2,
      deducted_amount = deducted }
  end
  add("2024-08-01", "openai", 30)
  add("2024-08-01", "claude", 10)
  add("2024-08-02", "openai", 5)
  add("2024-08-02", "claude", 15)
  add("2024-08-02", "gemini", 20)
  add("2024-08-03", "gemini", 8)
  return r
end

local lines_of = require("spec.helpers.child").lines

describe("report.chart", function()
  it("draws one bar per day, stacked by service (largest first), for 40 columns", function()
    assert.equal(table.concat({
      "Deducted credits per day (UTC), by service",
      "2024-08-01 │██████████████▒▒▒▒▒  40.0000",
      "2024-08-02 │██▓▓▓▓▓▓▓▓▓▓▒▒▒▒▒▒▒  40.0000",
      "2024-08-03 │▓▓▓▓                  8.0000",
      "           └───────────────────",
      "            0           40.0000",
      "Total: 6 records, 3 days; used 176.0000, deducted 88.0000 credits",
      "  █ openai       35.0000   39.8%  2 records",
      "  ▓ gemini       28.0000   31.8%  2 records",
      "  ▒ claude       25.0000   28.4%  2 records",
    }, "\n") .. "\n", chart.text(chart.render(small_report(), { width = 40 })))
  end)

  it("uses the width it is given: 60 columns", function()
    assert.equal(table.concat({
      "Deducted credits per day (UTC), by service",
      "2024-08-01 │█████████████████████████████▒▒▒▒▒▒▒▒▒▒  40.0000",
      "2024-08-02 │█████▓▓▓▓▓▓▓▓▓▓▓▓▓▓▓▓▓▓▓▒▒▒▒▒▒▒▒▒▒▒▒▒▒▒  40.0000",
      "2024-08-03 │▓▓▓▓▓▓▓▓                                  8.0000",
      "           └───────────────────────────────────────",
      "            0                               40.0000",
    }, "\n"), table.concat(chart.render(small_report(), { width = 60 }).lines, "\n", 1, 6))
  end)

  it("keeps bars 10 cells wide at least when the terminal is narrower", function()
    local c = chart.render(small_report(), { width = 12 })
    assert.equal("2024-08-01 │████████▒▒  40.0000", c.lines[2])   -- 30/40 of 10 cells: 7.5, rounded
  end)

  it("fits every bar line in the width, and the longest bar fills it", function()
    for _, width in ipairs { 31, 41, 80, 132 } do
      local c = chart.render(small_report(), { width = width })
      for i = 2, 4 do assert.is_true(chart.cells(c.lines[i]) <= width, width .. ": " .. c.lines[i]) end
      assert.equal(width, chart.cells(c.lines[2]))
    end
  end)

  it("colours each service's cells with ANSI codes, every cell a full block", function()
    local text = chart.ansi(chart.render(small_report(), { width = 40, colour = true }))
    local l = lines_of(text)
    assert.equal("2024-08-01 │\27[34m" .. ("█"):rep(14) .. "\27[0m\27[32m" .. ("█"):rep(5) .. "\27[0m  40.0000", l[2])
    assert.equal("2024-08-03 │\27[33m████\27[0m                  8.0000", l[4])
    assert.equal("  \27[34m█\27[0m openai       35.0000   39.8%  2 records", l[8])
    -- without the escape codes, the same geometry
    local plain = text:gsub("\27%[%d+m", "")
    assert.equal("2024-08-02 │" .. ("█"):rep(19) .. "  40.0000", lines_of(plain)[3])
  end)

  it("draws the used amounts or the counts when asked", function()
    local c = chart.render(small_report(), { width = 40, measure = "count" })
    assert.equal("Records per day (UTC), by service", c.lines[1])
    -- 2 records each: ties in order of name (claude, gemini, openai); 1, 2 and 3 of 3 records in 25 cells
    assert.equal("2024-08-02 │████████▓▓▓▓▓▓▓▓▓▒▒▒▒▒▒▒▒  3", c.lines[3])
    assert.has_error(function() chart.render(small_report(), { measure = "euros" }) end,
      "acedata: measure must be deducted, used or count, got euros")
  end)

  it("notes the records whose amount is not a finite number", function()
    local r = small_report()
    r:add { created_at = "2024-08-01T00:00:00Z", service = { alias = "openai" }, used_amount = 1, deducted_amount = 1 / 0 }
    local lines = chart.render(r, { width = 40 }).lines
    assert.equal("Total: 7 records, 3 days; used 177.0000, deducted 88.0000 credits", lines[7])
    assert.equal("Note: 1 record had an amount that is not a finite number (counted as 0)", lines[8])
  end)

  it("says so when there is nothing to draw", function()
    assert.same({ "Deducted credits per day (UTC), by service", "(no records)" }, chart.render(model.new()).lines)
  end)

  it("shows the data set's total per day on each bar and per service in the legend", function()
    local N = 10000
    local r = model.new { period = "day" }
    for _, x in ipairs(dataset.records(N)) do r:add(x) end
    local c = chart.render(r, { width = 100 })
    local days = {}
    for _, x in ipairs(dataset.records(N)) do
      local d = x.created_at:sub(1, 10)
      days[d] = (days[d] or 0) + x.deducted_amount
    end
    local got = {}
    for _, l in ipairs(c.lines) do
      local day, v = l:match("^(%d%d%d%d%-%d%d%-%d%d) │.-%s+([%d.]+)$")
      if day then got[day] = v end
    end
    local want = {}
    for d, v in pairs(days) do want[d] = ("%.4f"):format(v) end
    assert.same(want, got)
    local t = dataset.totals(N)
    local legend = {}
    for _, l in ipairs(c.lines) do
      local name, v, n = l:match("^  %S+ (%S+)%s+([%d.]+)%s+[%d.]+%%%s+(%d+) records$")
      if name then legend[name] = v .. " " .. n end
    end
    want = {}
    for alias, b in pairs(t.by_service) do want[alias] = ("%.4f %d"):format(b.deducted, b.count) end
    assert.same(want, legend)
  end)
end)

describe("report.terminal", function()
  local terminal = require "acedata.report.terminal"
  local function env(vars, tty, size, file)
    return { getenv = function(k) return vars[k] end, isatty = function(fd) return fd == 1 and tty end,
      size = function() return size end, file = file }
  end

  it("takes the width from COLUMNS, else the terminal, else 80", function()
    assert.equal(132, terminal.width(env({ COLUMNS = "132" }, true, 100)))
    assert.equal(100, terminal.width(env({ COLUMNS = "wide" }, true, 100)))
    assert.equal(100, terminal.width(env({}, true, 100)))
    assert.equal(80, terminal.width(env({}, false, 100)))
    assert.equal(80, terminal.width(env({}, true, nil)))
    assert.equal(80, terminal.width(env({}, true, 100, true)))
  end)

  it("colours only a terminal, unless NO_COLOR is set (and not empty) or TERM is dumb", function()
    assert.is_true(terminal.colour(env({ TERM = "xterm-256color" }, true)))
    assert.is_true(terminal.colour(env({ NO_COLOR = "" }, true)))
    assert.is_false(terminal.colour(env({ NO_COLOR = "1" }, true)))
    assert.is_false(terminal.colour(env({ TERM = "dumb" }, true)))
    assert.is_false(terminal.colour(env({}, false)))
    assert.is_false(terminal.colour(env({}, true, nil, true)))
  end)
end)

describe("report.cli", function()
  local reports = require "acedata.report.cli"

  it("makes --chart (per day unless told) and --format html reports", function()
    assert.equal("day", reports.period { chart = "day", format = "table" })
    assert.equal("week", reports.period { chart = "week", format = "html" })
    assert.equal("day", reports.period { chart = true })
    assert.equal("day", reports.period { format = "html" })
    assert.is_nil(reports.period { format = "csv" })
  end)

  it("refuses options that do not go with a report", function()
    assert.same({ nil, "--chart cannot be used with --group-by" }, { reports.period { chart = "day", group_by = "day" } })
    assert.same({ nil, "--format html cannot be used with --group-by" },
      { reports.period { format = "html", group_by = "service" } })
    assert.same({ nil, "--chart draws text or (with --format html) a page: it cannot be used with --format csv" },
      { reports.period { chart = "day", format = "csv" } })
    assert.same({ nil, '--chart must be one of day, week, month, got "year"' }, { reports.period { chart = "year" } })
  end)

  it("writes the chart plain into a file, coloured to a colour terminal", function()
    local r = small_report()
    local chunks = {}
    local file = { write = function(_, s) chunks[#chunks + 1] = s end }
    local tty = { isatty = function() return true end, getenv = function(k) return ({ COLUMNS = "40" })[k] end }
    reports.write(r, file, { format = "table", output = "chart.txt" }, tty)
    assert.equal(chart.text(chart.render(r, { width = 40 })), table.concat(chunks))
    chunks = {}
    reports.write(r, file, { format = "table" }, tty)
    assert.equal(chart.ansi(chart.render(r, { width = 40, colour = true })), table.concat(chunks))
  end)
end)
