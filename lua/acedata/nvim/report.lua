--- The usage report as lines of text: totals per service, per application and per day, then one
-- line per record. Pure Lua (no `vim`), so other plugins and plain scripts can use it.
--
-- Layout (amounts in credits, 4 decimals; days are UTC dates of `created_at`):
--
--    AceData Cloud proxy usage: 1000 records
--    Filters: user_id=me
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

local report = {}

--- The format of a totals line: name, count, used, deducted.
report.TOTALS_FORMAT = "  %-36s %8d %15.4f %15.4f"
--- The format of a section's title line.
report.TITLE_FORMAT = "%-38s %8s %15s %15s"
--- The format of a record line: created_at, service, application, deducted, id.
report.RECORD_FORMAT = "  %s  %s  %s  %.4f  %s"
--- The record fields the report reads (and `id`, which each{} always keeps).
report.FIELDS = { "created_at", "service", "application_id", "used_amount", "deducted_amount" }

local function num(v)
  return type(v) == "number" and v or 0
end

--- The service name of a record: `service.alias`, else `service.name`, else "?".
function report.service_of(rec)
  local s = type(rec) == "table" and rec.service
  if type(s) == "table" then
    if type(s.alias) == "string" and s.alias ~= "" then return s.alias end
    if type(s.name) == "string" and s.name ~= "" then return s.name end
  end
  return "?"
end

local function text(v)
  return type(v) == "string" and v ~= "" and v or "?"
end

--- The totals of a list of records.
-- @tparam table records array of usage records
-- @treturn table `{count, used, deducted, by_service = {[name] = bucket}, by_application = …,
--   by_day = {["YYYY-MM-DD"] = bucket}}`, bucket = `{count, used, deducted}`
function report.totals(records)
  local t = { count = 0, used = 0, deducted = 0, by_service = {}, by_application = {}, by_day = {} }
  local function add(tbl, key, used, deducted)
    local b = tbl[key]
    if not b then
      b = { count = 0, used = 0, deducted = 0 }
      tbl[key] = b
    end
    b.count, b.used, b.deducted = b.count + 1, b.used + used, b.deducted + deducted
  end
  for _, rec in ipairs(records) do
    local used, deducted = num(rec.used_amount), num(rec.deducted_amount)
    t.count, t.used, t.deducted = t.count + 1, t.used + used, t.deducted + deducted
    add(t.by_service, report.service_of(rec), used, deducted)
    add(t.by_application, text(rec.application_id), used, deducted)
    local day = type(rec.created_at) == "string" and rec.created_at:match("^%d%d%d%d%-%d%d%-%d%d") or "?"
    add(t.by_day, day, used, deducted)
  end
  return t
end

local function sorted_keys(tbl)
  local keys = {}
  for k in pairs(tbl) do keys[#keys + 1] = k end
  table.sort(keys)
  return keys
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

--- The report's lines.
-- @tparam table records array of usage records (as `usage.proxies.all{}` returns them)
-- @tparam[opt] table opts `filters` (a string shown under the title), `records = false` (totals only)
-- @treturn table array of strings (no newlines)
function report.lines(records, opts)
  opts = opts or {}
  local t = report.totals(records)
  local out = {}
  local function add(s) out[#out + 1] = s end
  add(("AceData Cloud proxy usage: %d record%s"):format(t.count, t.count == 1 and "" or "s"))
  if opts.filters and opts.filters ~= "" then add("Filters: " .. opts.filters) end
  local function section(title, tbl)
    add("")
    add(report.TITLE_FORMAT:format(title, "count", "used", "deducted"))
    for _, k in ipairs(sorted_keys(tbl)) do add(report.totals_line(k, tbl[k])) end
  end
  section("Total", { all = t })
  section("By service", t.by_service)
  section("By application", t.by_application)
  section("By day", t.by_day)
  if opts.records ~= false then
    add("")
    add("Records (created_at, service, application, deducted, id)")
    for _, rec in ipairs(records) do add(report.record_line(rec)) end
  end
  return out
end

return report
