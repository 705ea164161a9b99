--- The usage report as lines of text: the chart of deducted credits per day and service
-- (acedata.report.chart), the totals per service, application and day (acedata.report.model),
-- then one line per record. Pure Lua (no `vim`), so other plugins and plain scripts can use it;
-- `render` also gives the highlights of the chart (groups `AceDataService1`…, see `HIGHLIGHTS`).
--
-- Layout (amounts in credits, 4 decimals; days are UTC dates of `created_at`; a missing value
-- shows as "-"):
--
--    AceData Cloud proxy usage: 1000 records
--    Filters: user_id=me
--
--    Deducted credits per day (UTC), by service
--    2024-08-01 │█████████████▓▓▓▓▓▓▓▓▓▓▓▓▒▒▒▒▒▒▒▒▒▒▒▒▒  9106.9697
--    …                                                 (the chart: acedata.report.chart)
--
--    Total                                    count            used        deducted
--      all                                     1000     123456.7890     120000.0000
--
--    By service                               count            used        deducted
--      claude-proxy                             334      12345.6789      12000.0000
--    …
--    By application  …      By day  …
--
--    Records (created_at, service, application, deducted, id)
--      2024-08-01T10:16:40.123456Z  openai-proxy  3c1e5a7f-…  5.2500  0191…
-- @module acedata.nvim.report

local chart = require "acedata.report.chart"
local model = require "acedata.report.model"

local report = {}

--- The format of a totals line: name, count, used, deducted.
report.TOTALS_FORMAT = "  %-36s %8d %15.4f %15.4f"
--- The format of a section's title line.
report.TITLE_FORMAT = "%-38s %8s %15s %15s"
--- The format of a record line: created_at, service, application, deducted, id.
report.RECORD_FORMAT = "  %s  %s  %s  %.4f  %s"
--- The record fields the report reads (and `id`, which each{} always keeps).
report.FIELDS = { "created_at", "service", "application_id", "proxy_id", "used_amount", "deducted_amount" }

--- The highlight groups of the chart's series, in order, and the standard group each links to
-- by default (so colour schemes apply; `:highlight AceDataService1 guifg=…` overrides).
report.HIGHLIGHTS = {
  { "AceDataService1", "Identifier" }, { "AceDataService2", "Statement" }, { "AceDataService3", "Type" },
  { "AceDataService4", "Constant" }, { "AceDataService5", "PreProc" }, { "AceDataService6", "Special" },
}
--- The highlight group of the chart's title line (links to Title).
report.TITLE_HIGHLIGHT = { "AceDataTitle", "Title" }

local function num(v)
  return type(v) == "number" and v or 0
end

--- The service of a record, as every report names it (acedata.report.model.service_of):
-- `service.alias`, else `service.name`, else `service.id`, else "-".
function report.service_of(rec)
  return type(rec) == "table" and model.service_of(rec) or model.UNKNOWN
end

local function text(v)
  if type(v) == "string" and v ~= "" then return v end
  if type(v) == "number" then return tostring(v) end
  return model.UNKNOWN
end

--- The report model (acedata.report.model, per day) of a list of records.
-- @tparam table records array of usage records
function report.model(records)
  local r = model.new { period = "day" }
  for _, rec in ipairs(records) do r:add(rec) end
  return r
end

--- One totals line.
function report.totals_line(name, bucket)
  return report.TOTALS_FORMAT:format(name, bucket.count, bucket.used, bucket.deducted)
end

--- One record line.
function report.record_line(rec)
  return report.RECORD_FORMAT:format(text(rec.created_at), report.service_of(rec), text(rec.application_id),
    num(rec.deducted_amount), tostring(rec.id))
end

--- The report's lines and the highlights of its chart.
-- @tparam table records array of usage records (as `usage.proxies.all{}` returns them)
-- @tparam[opt] table opts `filters` (a string shown under the title), `records = false` (totals
--   only), `width` (of the chart, default 80), `chart = false` (no chart)
-- @treturn table array of strings (no newlines)
-- @treturn table highlights: `{ group, line, col_start, col_end }` (0-based line, byte columns,
--   end exclusive: the arguments of nvim_buf_add_highlight)
function report.render(records, opts)
  opts = opts or {}
  local r = report.model(records)
  local t = r.total
  local out, hl = {}, {}
  local function add(s) out[#out + 1] = s end
  add(("AceData Cloud proxy usage: %d record%s"):format(t.count, t.count == 1 and "" or "s"))
  if opts.filters and opts.filters ~= "" then add("Filters: " .. opts.filters) end
  if opts.chart ~= false then
    add("")
    local c = chart.render(r, { width = opts.width or 80 })
    local first = #out     -- 0-based index of the chart's first line
    for _, l in ipairs(c.lines) do add(l) end
    hl[#hl + 1] = { report.TITLE_HIGHLIGHT[1], first, 0, -1 }
    for _, s in ipairs(c.spans) do
      local group = report.HIGHLIGHTS[s[4]] or report.HIGHLIGHTS[#report.HIGHLIGHTS]
      hl[#hl + 1] = { group[1], first + s[1] - 1, s[2] - 1, s[3] }
    end
  end
  local function section(title, rows)
    add("")
    add(report.TITLE_FORMAT:format(title, "count", "used", "deducted"))
    for _, b in ipairs(rows) do add(report.totals_line(b.key, b)) end
  end
  section("Total", { { key = "all", count = t.count, used = t.used, deducted = t.deducted } })
  section("By service", r:rows("service"))
  section("By application", r:rows("application"))
  section("By proxy", r:rows("proxy"))
  section("By day", r:periods())
  if opts.records ~= false then
    add("")
    add("Records (created_at, service, application, deducted, id)")
    for _, rec in ipairs(records) do add(report.record_line(rec)) end
  end
  return out, hl
end

--- The report's lines (`render` without the highlights).
-- @tparam table records
-- @tparam[opt] table opts as for `render`
-- @treturn table array of strings
function report.lines(records, opts)
  return (report.render(records, opts))
end

return report
