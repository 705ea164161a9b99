-- The reports through the command line (`acedata usage proxies --chart`, `--format html`) against
-- the mock, and the three outputs (terminal chart, HTML page, Neovim report) agreeing with each
-- other and with the data set, per day and per service.
local mock = require "spec.helpers.mock"
local child = require "spec.helpers.child"
local browser = require "spec.helpers.browser"
local nvim = require "spec.helpers.nvim"

local dataset = mock.dataset
local N = 10000   -- about 4.3 days: five bars

local function acedata(argv, env)
  local vars = { ACEDATACLOUD_PLATFORM_TOKEN = mock.TOKEN, PLATFORM_API_BASE_URL = mock.url(), COLUMNS = "80",
    NO_COLOR = false, TERM = "xterm" }
  for k, v in pairs(env or {}) do vars[k] = v end
  local words = { child.interpreter(), "bin/acedata" }
  for _, a in ipairs(argv) do words[#words + 1] = a end
  return child.exec(words, vars)
end

--- Per day: deducted credits (and count); per service: deducted credits (and count), of records 1..n.
local function expected(n)
  local days, services = {}, {}
  for _, rec in ipairs(dataset.records(n)) do
    local d = rec.created_at:sub(1, 10)
    local b = days[d] or { count = 0, deducted = 0 }
    days[d] = b
    b.count, b.deducted = b.count + 1, b.deducted + rec.deducted_amount
    local s = services[rec.service.alias] or { count = 0, deducted = 0 }
    services[rec.service.alias] = s
    s.count, s.deducted = s.count + 1, s.deducted + rec.deducted_amount
  end
  return days, services
end

-- "%.4f" of each deducted, by key.
local function shown(t)
  local out = {}
  for k, b in pairs(t) do out[k] = ("%.4f"):format(b.deducted) end
  return out
end

--- The bars (period -> value text) and the legend (service -> deducted text) of a chart's text.
local function read_chart(text)
  local bars, legend = {}, {}
  for l in text:gmatch("(.-)\n") do
    local key, v = l:match("^(%S+) │.-%s+([%d.]+)$")
    if key then bars[key] = v end
    local name, d = l:match("^  %S+ (%S+)%s+([%d.]+)%s+[%d.]+%%%s+%d+ records?$")
    if name then legend[name] = d end
  end
  return bars, legend
end

describe("acedata usage proxies --chart", function()
  before_each(function()
    mock.reset()
    mock.config { records = N }
  end)

  it("draws the data set per day in 80 columns, plain when stdout is not a terminal", function()
    local out, err, status = acedata { "usage", "proxies", "--chart" }
    assert.equal(0, status, err)
    assert.equal("", err)
    assert.equal(table.concat({
      "Deducted credits per day (UTC), by service",
      "2024-08-01 │███████████████████▓▓▓▓▓▓▓▓▓▓▓▓▓▓▓▓▓▓▓▒▒▒▒▒▒▒▒▒▒▒▒▒▒▒▒▒▒  21192.5264",
      "2024-08-02 │███████████████████▓▓▓▓▓▓▓▓▓▓▓▓▓▓▓▓▓▓▓▒▒▒▒▒▒▒▒▒▒▒▒▒▒▒▒▒▒  21376.1299",
      "2024-08-03 │████████████████████▓▓▓▓▓▓▓▓▓▓▓▓▓▓▓▓▓▓▒▒▒▒▒▒▒▒▒▒▒▒▒▒▒▒▒▒  21187.1436",
      "2024-08-04 │██████████████████▓▓▓▓▓▓▓▓▓▓▓▓▓▓▓▓▓▓▓▓▒▒▒▒▒▒▒▒▒▒▒▒▒▒▒▒▒   21133.4795",
      "2024-08-05 │██████▓▓▓▓▓▒▒▒▒▒                                           6225.4336",
      "           └────────────────────────────────────────────────────────",
      "            0                                             21376.1299",
      "Total: 10000 records, 5 days; used 102088.8262, deducted 91114.7129 credits",
      "  █ openai-proxy    30910.2979   33.9%  3315 records",
      "  ▓ claude-proxy    30879.2363   33.9%  3423 records",
      "  ▒ gemini-proxy    29325.1787   32.2%  3262 records",
    }, "\n") .. "\n", out)
  end)

  it("is as wide as COLUMNS says", function()
    local out = acedata({ "usage", "proxies", "--chart", "--max-items", "100" }, { COLUMNS = "50" })
    local bar = out:match("\n(2024%-08%-05 │[^\n]*)\n")   -- the newest 100 records
    assert.equal(50, select(2, bar:gsub("[^\128-\191]", "")))
  end)

  it("sums per ISO week and per month, with the filters applied", function()
    local out, err, status = acedata { "usage", "proxies", "--chart", "week", "--from", "2024-08-02" }
    assert.equal(0, status, err)
    local days = expected(N)
    local w31 = days["2024-08-02"].deducted + days["2024-08-03"].deducted + days["2024-08-04"].deducted
    local bars = read_chart(out)
    assert.same({ ["2024-W31"] = ("%.4f"):format(w31), ["2024-W32"] = ("%.4f"):format(days["2024-08-05"].deducted) },
      bars)
    out = acedata { "usage", "proxies", "--chart", "month" }
    assert.same({ ["2024-08"] = ("%.4f"):format(dataset.totals(N).deducted) }, (read_chart(out)))
  end)

  it("colours each service on a terminal, and not with NO_COLOR", function()
    -- script(1) (bsdutils) gives the command a terminal as its stdout
    local cmd = child.quote(child.interpreter()) .. " bin/acedata usage proxies --chart --max-items 500"
    local function in_terminal(no_color)
      return (child.exec({ "script", "-qec", cmd, "/dev/null" }, { ACEDATACLOUD_PLATFORM_TOKEN = mock.TOKEN,
        PLATFORM_API_BASE_URL = mock.url(), COLUMNS = "80", NO_COLOR = no_color, TERM = "xterm" }))
    end
    local out = in_terminal(false)
    assert.matches("│\27%[34m[^\27]+\27%[0m\27%[33m[^\27]+\27%[0m\27%[32m[^\27]+\27%[0m  ", out)
    assert.not_matches(mock.TOKEN, out, 1, true)
    out = in_terminal("1")
    assert.not_matches("\27[", out, 1, true)
    assert.matches("│██", out, 1, true)
    assert.matches("█▓▓", out, 1, true)
    assert.matches("▓▒▒", out, 1, true)
    assert.not_matches(mock.TOKEN, out, 1, true)
  end)

  it("writes the chart without colour to --output", function()
    local path = os.tmpname()
    local out, err, status = acedata { "usage", "proxies", "--chart", "--output", path, "--max-items", "100" }
    assert.equal(0, status, err)
    assert.equal("", out)
    local text = child.read(path)
    os.remove(path)
    assert.matches("^Deducted credits per day %(UTC%), by service\n2024%-08%-05 │", text)
    assert.not_matches("\27[", text, 1, true)
  end)

  it("refuses what does not go with a chart (exit status 2)", function()
    for _, case in ipairs {
      { { "--chart", "--group-by", "day" }, "--chart cannot be used with --group-by" },
      { { "--format", "html", "--group-by", "day" }, "--format html cannot be used with --group-by" },
      { { "--chart", "--format", "csv" }, "--chart draws text or (with --format html) a page: it cannot be used with "
        .. "--format csv" },
      { { "--chart", "year" }, "argument for option '--chart' must be one of 'day', 'week', 'month'" },
    } do
      local argv = { "usage", "proxies" }
      for _, a in ipairs(case[1]) do argv[#argv + 1] = a end
      local out, err, status = acedata(argv)
      assert.equal(2, status, table.concat(case[1], " "))
      assert.equal("", out)
      assert.matches(case[2], err, 1, true)
    end
  end)
end)

describe("acedata usage proxies --format html", function()
  local dir
  setup(function()
    dir = os.tmpname()
    os.remove(dir)
    assert(os.execute("mkdir -p " .. child.quote(dir)))
  end)
  teardown(function() os.execute("rm -rf " .. child.quote(dir)) end)
  before_each(function()
    mock.reset()
    mock.config { records = N }
  end)

  it("writes one valid page with the filters, per week with --chart week", function()
    local path = dir .. "/weekly.html"
    local _, err, status = acedata { "usage", "proxies", "--format", "html", "--chart", "week", "--output", path,
      "--application-id", dataset.APPLICATIONS[1] }
    assert.equal(0, status, err)
    assert.equal("ok", browser.check_html(path))
    local page = child.read(path)
    assert.matches('data-period="2024-W31"', page, 1, true)
    assert.matches("application_id=" .. dataset.APPLICATIONS[1], page, 1, true)
    assert.not_matches(mock.TOKEN, page, 1, true)
  end)

  it("agrees with the terminal chart, the Neovim report and the data set, per day and per service", function()
    assert.is_true(browser.available(), "chromium is not installed (Debian package chromium)")
    assert.is_true(nvim.available(), "nvim is not installed (Debian package neovim)")
    local days, services = expected(N)

    -- the terminal chart
    local out, err, status = acedata { "usage", "proxies", "--chart" }
    assert.equal(0, status, err)
    local chart_days, chart_services = read_chart(out)

    -- the page, read by Chromium
    local path = dir .. "/report.html"
    out, err, status = acedata { "usage", "proxies", "--format", "html", "--output", path }
    assert.equal("", out)
    assert.equal(0, status, err)
    local page = browser.read_report(child.read(path), dir)
    local page_days, page_cells, page_services = {}, {}, {}
    for _, bar in ipairs(page.bars) do
      page_days[bar.period] = ("%.4f"):format(bar.deducted)
      for name, v in pairs(bar.series) do
        page_cells[bar.period .. " " .. name] = v
        page_services[name] = (page_services[name] or 0) + v
      end
    end
    for name, v in pairs(page_services) do page_services[name] = ("%.4f"):format(v) end

    -- the Neovim report
    local lines, output, ok = nvim.run([[
      vim.o.columns = 100
      require("acedata.nvim").setup { base_url = os.getenv("ACEDATA_MOCK_URL"), open = "current" }
      vim.api.nvim_create_autocmd("User", { pattern = "AceDataReport", once = true, callback = function()
        for _, l in ipairs(vim.api.nvim_buf_get_lines(0, 0, 40, false)) do out(l) end
        stop_guard()
        done()
      end })
      vim.cmd("AceDataUsage max_items=20000 page_size=1000")
    ]], { ACEDATA_MOCK_URL = mock.url(), ACEDATACLOUD_PLATFORM_TOKEN = mock.TOKEN })
    assert.is_true(ok, output)
    local nvim_days, nvim_services = read_chart(table.concat(lines, "\n") .. "\n")

    local want_days, want_services = shown(days), shown(services)
    assert.same(want_days, chart_days)
    assert.same(want_days, page_days)
    assert.same(want_days, nvim_days)
    assert.same(want_services, chart_services)
    assert.same(want_services, page_services)
    assert.same(want_services, nvim_services)
    -- per day and service (the page's segments), exactly
    local cells = {}
    for _, rec in ipairs(dataset.records(N)) do
      local k = rec.created_at:sub(1, 10) .. " " .. rec.service.alias
      cells[k] = (cells[k] or 0) + rec.deducted_amount
    end
    assert.same(cells, page_cells)
  end)
end)
