--- The reports of `acedata usage proxies`: `--chart [day|week|month]` (a stacked bar chart on
-- standard output or in --output's file) and `--format html` (the page). The command line only
-- asks `period(o)` whether the run is a report, feeds the report every record, and calls `write`.
--
--    local period, err = reports.period(o)       -- nil (not a report), or "day" …; or nil, message
--    local r = reports.new(period)              -- acedata.report.model
--    for rec in each { fields = reports.FIELDS, … } do r:add(rec) end
--    reports.write(r, file, o, env, filters)
-- @module acedata.report.cli

local model = require "acedata.report.model"
local chart = require "acedata.report.chart"
local html = require "acedata.report.html"
local terminal = require "acedata.report.terminal"

local reports = {}

--- The periods of `--chart`.
reports.PERIODS = { "day", "week", "month" }
--- The record fields a report reads.
reports.FIELDS = model.FIELDS

--- Whether the options ask for a report, and per what.
-- @tparam table o the parsed options: `chart` (a period, true, a list of at most one period, or
--   nil), `format`, `group_by`
-- @treturn string|nil the period ("day" for `--format html` without `--chart`), nil when the run
--   is no report; or nil and a usage message when the options do not go together
function reports.period(o)
  local chart_period, fmt = o.chart, o.format
  -- lua-argparse (branch cli) gives an option of `args("?")` as the list of its values
  if type(chart_period) == "table" then chart_period = chart_period[1] or true end
  if chart_period == nil and fmt ~= "html" then return nil end
  if o.group_by then
    return nil, (chart_period and "--chart" or "--format html") .. " cannot be used with --group-by"
  end
  if chart_period ~= nil and fmt ~= nil and fmt ~= "table" and fmt ~= "html" then
    return nil, "--chart draws text or (with --format html) a page: it cannot be used with --format " .. fmt
  end
  if chart_period == true or chart_period == nil then chart_period = "day" end
  for _, p in ipairs(reports.PERIODS) do
    if p == chart_period then return p end
  end
  return nil, "--chart must be one of " .. table.concat(reports.PERIODS, ", ") .. ", got "
    .. string.format("%q", tostring(chart_period))
end

--- A new report per `period`.
function reports.new(period)
  return model.new { period = period }
end

--- Writes the report: the page for `--format html`, else the chart (coloured when it goes to a
-- colour terminal; as wide as the terminal).
-- @tparam table report
-- @param file where to write (`file:write`)
-- @tparam table o the parsed options (`format`, `output`)
-- @tparam table env the command's environment: `isatty(fd)`, optional `getenv(name)`, `size()`
-- @tparam[opt] table filters the filters the records were asked with (shown on the page)
function reports.write(report, file, o, env, filters)
  if o.format == "html" then
    file:write(html.render(report, { filters = filters, generated = os.date("!%Y-%m-%dT%H:%M:%SZ") }))
    return
  end
  local where = { isatty = env.isatty, getenv = env.getenv, size = env.size, file = o.output ~= nil }
  local colour = terminal.colour(where)
  local c = chart.render(report, { width = terminal.width(where), colour = colour })
  file:write(colour and chart.ansi(c) or chart.text(c))
end

return reports
