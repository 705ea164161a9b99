-- The Neovim plugin: the report's text and the argument parser in plain Lua, then the plugin
-- itself inside headless Neovim (Debian's, LuaJIT) against the mock: the editor's loop keeps
-- running while a request waits, and the report buffer holds the right totals.
local mock = require "spec.helpers.mock"
local nvim = require "spec.helpers.nvim"

local dataset = mock.dataset

-- The report's layout (acedata.nvim.report), spelled out here on purpose.
local TOTALS = "  %-36s %8d %15.4f %15.4f"
local function totals_line(name, b) return TOTALS:format(name, b.count, b.used, b.deducted) end

--- Expected totals per UTC day of records 1..n.
local function day_totals(n)
  local days = {}
  for _, rec in ipairs(dataset.records(n)) do
    local d = rec.created_at:sub(1, 10)
    local b = days[d] or { count = 0, used = 0, deducted = 0 }
    days[d] = b
    b.count, b.used, b.deducted = b.count + 1, b.used + rec.used_amount, b.deducted + rec.deducted_amount
  end
  return days
end

local function index_of(lines, wanted)
  for i, l in ipairs(lines) do
    if l == wanted then return i end
  end
  return nil
end

--- The lines of the section titled `title` (up to the next blank line).
local function section(lines, title)
  local out, inside = {}, false
  for _, l in ipairs(lines) do
    if inside then
      if l == "" then break end
      out[#out + 1] = l
    elseif l:sub(1, #title + 1) == title .. " " then
      inside = true
    end
  end
  return out
end

describe("acedata.nvim.report", function()
  local report = require "acedata.nvim.report"

  it("totals per service, application and day, then one line per record", function()
    local recs = dataset.records(3)
    local lines = report.lines(recs, { filters = "user_id=me" })
    local t = dataset.totals(3)
    assert.equal("AceData Cloud proxy usage: 3 records", lines[1])
    assert.equal("Filters: user_id=me", lines[2])
    assert.same({ totals_line("all", t) }, section(lines, "Total"))
    local by_service = {}
    for alias, b in pairs(t.by_service) do by_service[#by_service + 1] = totals_line(alias, b) end
    table.sort(by_service)
    assert.same(by_service, section(lines, "By service"))
    assert.same({ totals_line("2024-08-01", t) }, section(lines, "By day"))
    local r = recs[2]
    assert.truthy(index_of(lines, ("  %s  %s  %s  %.4f  %s"):format(r.created_at, r.service.alias, r.application_id,
      r.deducted_amount, r.id)))
  end)

  it("copes with records missing fields", function()
    local lines = report.lines({ { id = "x" } })
    assert.truthy(index_of(lines, totals_line("?", { count = 1, used = 0, deducted = 0 })))
    assert.truthy(index_of(lines, "  ?  ?  ?  0.0000  x"))
  end)
end)

describe("acedata.nvim.args", function()
  local args = require "acedata.nvim.args"

  it("parses the filters of :AceDataUsage", function()
    assert.same({
      application_id = { "a1", "a2" }, proxy_id = { "p1" },
      created_at_from = "2024-08-01T00:00:00Z", created_at_to = "2024-08-31T23:59:59.999999Z",
      user_id = "me", max_items = 50,
    }, args.parse("application_id=a1 proxy_id=p1 application_id=a2 from=2024-08-01 to=2024-08-31 user_id=me max_items=50"))
    assert.same({ created_at_to = "2024-08-02T10:00:00Z", user_id = false },
      args.parse("to=2024-08-02T10:00:00Z user_id=all"))
    assert.same({}, args.parse(""))
  end)

  it("refuses what it does not know", function()
    local f, err = args.parse("colour=red")
    assert.is_nil(f)
    assert.matches('unknown filter "colour"', err, 1, true)
    assert.is_nil((args.parse("max_items=-1")))
    assert.is_nil((args.parse("application_id")))
  end)
end)

describe("acedata.nvim in headless Neovim", function()
  local N = 5000   -- records over three UTC days

  before_each(function()
    assert.is_true(nvim.available(), "nvim is not installed (Debian package neovim)")
    mock.reset()
    mock.config { records = N }
  end)

  local function env()
    return { ACEDATA_MOCK_URL = mock.url(), ACEDATACLOUD_PLATFORM_TOKEN = mock.TOKEN }
  end

  it(":AceDataUsage keeps a 20 ms timer firing while a page waits 2 s, then shows the totals", function()
    mock.faults { fault = "slow_first_byte", delay = 2, route = "list", offset = 0 }
    local lines, output, ok = nvim.run([[
      local uv = vim.loop
      require("acedata.nvim").setup { base_url = os.getenv("ACEDATA_MOCK_URL"), timeout = 10 }
      -- uv.walk aborts in Neovim 0.7 (its own handles are not luv's): track what luv makes instead
      local made = {}
      for _, name in ipairs { "new_poll", "new_timer" } do
        local orig = uv[name]
        uv[name] = function(...)
          local h = orig(...)
          if h then made[#made + 1] = h end
          return h
        end
      end
      local ticks, t0 = 0, uv.hrtime()
      local tick = uv.new_timer()
      tick:start(20, 20, function() ticks = ticks + 1 end)
      vim.api.nvim_create_autocmd("User", { pattern = "AceDataReport", once = true, callback = function()
        out("ticks=" .. ticks)
        out(("elapsed_ms=%d"):format((uv.hrtime() - t0) / 1e6))
        tick:close()
        out("buftype=" .. vim.bo.buftype)
        out("filetype=" .. vim.bo.filetype)
        out("core=" .. tostring(package.searchpath("acedata.core", package.cpath)))
        for _, l in ipairs(vim.api.nvim_buf_get_lines(0, 0, -1, false)) do out("| " .. l) end
        -- a turn later: every handle the plugin opened is closed
        vim.defer_fn(function()
          local left = 0
          for _, h in ipairs(made) do
            if h ~= tick and not h:is_closing() then left = left + 1 end
          end
          out("handles_made=" .. #made)
          out("handles_left=" .. left)
          out("client_handles=" .. require("acedata.nvim").client().runtime:handles())
          stop_guard()
          done()
        end, 50)
      end })
      local c0 = uv.hrtime()
      vim.cmd("AceDataUsage max_items=10000 page_size=500")
      out(("command_ms=%d"):format((uv.hrtime() - c0) / 1e6))
    ]], env())
    assert.is_true(ok, output .. table.concat(lines, "\n"))
    local got, report = {}, {}
    for _, l in ipairs(lines) do
      local k, v = l:match("^([%w_]+)=(.*)$")
      if l:sub(1, 2) == "| " then report[#report + 1] = l:sub(3) elseif k then got[k] = v end
    end
    print(("\n    nvim: %s ticks of a 20 ms timer during %s ms (the first page waited 2 s); %s uv handles made; "
      .. ":AceDataUsage returned in %s ms"):format(got.ticks, got.elapsed_ms, got.handles_made, got.command_ms))
    assert.is_true(tonumber(got.elapsed_ms) >= 2000, "the slow page took only " .. got.elapsed_ms .. " ms")
    assert.is_true(tonumber(got.ticks) >= 50, "ticks: " .. got.ticks)
    assert.is_true(tonumber(got.command_ms) < 500, "the command blocked for " .. got.command_ms .. " ms")
    assert.equal("nofile", got.buftype)
    assert.equal("acedata", got.filetype)
    assert.equal(nvim.root() .. "/build/luajit/acedata/core.so", got.core)
    assert.is_true(tonumber(got.handles_made) >= 5, "uv handles made: " .. got.handles_made)   -- polls, timers
    assert.equal("0", got.handles_left)
    assert.equal("0", got.client_handles)

    local t = dataset.totals(N)
    assert.equal("AceData Cloud proxy usage: 5000 records", report[1])
    assert.same({ totals_line("all", t) }, section(report, "Total"))
    local want = {}
    for alias, b in pairs(t.by_service) do want[#want + 1] = totals_line(alias, b) end
    table.sort(want)
    assert.same(want, section(report, "By service"))
    want = {}
    for app, b in pairs(t.by_application) do want[#want + 1] = totals_line(app, b) end
    table.sort(want)
    assert.same(want, section(report, "By application"))
    want = {}
    for day, b in pairs(day_totals(N)) do want[#want + 1] = totals_line(day, b) end
    table.sort(want)
    assert.equal(3, #want)
    assert.same(want, section(report, "By day"))
    local recs = section(report, "Records")
    assert.equal(N, #recs)
    local newest = dataset.record(N)
    assert.equal(("  %s  %s  %s  %.4f  %s"):format(newest.created_at, newest.service.alias, newest.application_id,
      newest.deducted_amount, newest.id), recs[1])
  end)

  it("fetch(filters, cb) serves other plugins: records, or (nil, err), in the main context", function()
    mock.faults { fault = "status", status = 404, route = "list", offset = 100 }
    local lines, output, ok = nvim.run([[
      local an = require("acedata.nvim")
      an.setup { base_url = os.getenv("ACEDATA_MOCK_URL"), max_retries = 0 }
      an.fetch({ max_items = 40, page_size = 20 }, function(records, err)
        out("first=" .. #records .. " " .. tostring(err) .. " fast=" .. tostring(vim.in_fast_event()))
        an.fetch({ page_size = 100 }, function(records2, err2)
          out("second=" .. tostring(records2) .. " " .. tostring(err2 and err2.kind) .. " fast="
            .. tostring(vim.in_fast_event()))
          local bad = an.usage("colour=red", function(buf, perr) out("parse=" .. tostring(buf) .. " " .. perr) end)
          out("bad=" .. tostring(bad))
          stop_guard()
          done()
        end)
      end)
    ]], env())
    assert.is_true(ok, output .. table.concat(lines, "\n"))
    assert.same({
      "first=40 nil fast=false",
      "second=nil not_found fast=false",
      'parse=nil unknown filter "colour"; known: application_id proxy_id from to created_at_from created_at_to '
        .. "user_id ordering max_items page_size concurrency",
      "bad=nil",
    }, lines)
    assert.not_matches(mock.TOKEN, output, 1, true)
  end)
end)
