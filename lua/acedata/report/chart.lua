--- A stacked bar chart of a report (acedata.report.model) as lines of text: one bar per period,
-- split by service, then the totals and a legend. The same lines serve the terminal (with ANSI
-- colours, `chart.ansi`) and Neovim (with highlight groups, from `spans`).
--
--    Deducted credits per day (UTC), by service
--    2024-08-01 │███████████████████▓▓▓▓▓▓▓▓▓▓▓▓▓▓▓▓▓▓▓▒▒▒▒▒▒▒▒▒▒▒▒▒▒▒▒▒▒  21192.5264
--    …
--    2024-08-05 │██████▓▓▓▓▓▒▒▒▒▒                                           6225.4336
--               └────────────────────────────────────────────────────────
--                0                                             21376.1299
--    Total: 10000 records, 5 days; used 102088.8262, deducted 91114.7129 credits
--      █ openai-proxy    30910.2979   33.9%  3315 records
--      ▓ claude-proxy    30879.2363   33.9%  3423 records
--      ▒ gemini-proxy    29325.1787   32.2%  3262 records
--
-- A bar is `width` cells at most, scaled to the largest period; a service takes the cells between
-- its cumulative start and end, each rounded to the nearest cell, so the segments of a bar add up
-- to the bar and a bar's length stays proportional to its total. Each series has its own glyph
-- (█ ▓ ▒ ░ ▞ ▚), so the chart reads without colour too; with `colour`, every series is drawn
-- with █ in its own colour. Negative amounts draw nothing (they still count in the totals).
-- @module acedata.report.chart

local model = require "acedata.report.model"

local chart = {}

--- Glyphs of the series, in order (the last one, "other", gets the last glyph).
chart.GLYPHS = { "█", "▓", "▒", "░", "▞", "▚" }
--- ANSI SGR colours of the series (blue, yellow, green, magenta, cyan, red).
chart.COLOURS = { "34", "33", "32", "35", "36", "31" }
--- At most this many series (the smallest services are merged into "other").
chart.MAX_SERIES = #chart.GLYPHS

local MEASURES = { deducted = "Deducted credits", used = "Used credits", count = "Records" }
local PERIOD_NAMES = { hour = "hour", day = "day", week = "ISO week", month = "month" }

local function amount(x, measure)
  if measure == "count" then return ("%d"):format(x) end
  return ("%.4f"):format(x)
end

--- The display width of UTF-8 text: one cell per code point (the chart uses no wide character).
-- @tparam string s
-- @treturn integer
function chart.cells(s)
  local _, n = s:gsub("[^\128-\191]", "")
  return n
end
local cells = chart.cells

--- The chart's lines and coloured spans.
-- @tparam table report a report of acedata.report.model
-- @tparam[opt] table opts `width` (total columns, default 80), `measure` ("deducted", "used",
--   "count"), `colour` (every bar cell is █), `title`
-- @treturn table `{ lines = {…}, spans = { {line, from, to, series} … }, series = {…} }`: `from`
--   and `to` are 1-based byte offsets into the line (inclusive); `series` indexes `series`
function chart.render(report, opts)
  opts = opts or {}
  local measure = opts.measure or "deducted"
  if not MEASURES[measure] then error("acedata: measure must be deducted, used or count, got " .. tostring(measure), 2) end
  local width = opts.width or 80
  if type(width) ~= "number" or width < 1 then error("acedata: width must be a positive number", 2) end
  local series = report:series(chart.MAX_SERIES, measure)
  local periods = report:periods()
  local lines, spans = {}, {}
  local function add(s) lines[#lines + 1] = s end
  local function glyph(i)
    if opts.colour then return "█" end
    return chart.GLYPHS[i] or chart.GLYPHS[#chart.GLYPHS]
  end

  add(opts.title or ("%s per %s (UTC), by service"):format(MEASURES[measure], PERIOD_NAMES[report.period]))
  if #periods == 0 then
    add("(no records)")
    return { lines = lines, spans = spans, series = series }
  end

  local label_w, value_w, max = 0, 0, 0
  for _, p in ipairs(periods) do
    label_w = math.max(label_w, #p.key)
    value_w = math.max(value_w, #amount(p[measure], measure))
    if p[measure] > max then max = p[measure] end
  end
  -- label, " │", the bar, two spaces, the value
  local bar_w = math.max(10, math.floor(width) - label_w - 2 - 2 - value_w)
  local scale = max > 0 and bar_w / max or 0

  for _, p in ipairs(periods) do
    local parts, pos, acc, start = {}, 0, 0, 0
    local line = ("%-" .. label_w .. "s │"):format(p.key)
    local offset = #line
    for i, s in ipairs(series) do
      local v = model.series_value(p, s, measure)
      if v > 0 then acc = acc + v end
      local stop = math.floor(acc * scale + 0.5)
      if stop > bar_w then stop = bar_w end
      local n = stop - start
      if n > 0 then
        local g = glyph(i)
        parts[#parts + 1] = g:rep(n)
        spans[#spans + 1] = { #lines + 1, offset + pos + 1, offset + pos + n * #g, i }
        pos = pos + n * #g
        start = stop
      end
    end
    local bar = table.concat(parts)
    add(line .. bar .. (" "):rep(bar_w - start) .. "  " .. ("%" .. value_w .. "s"):format(amount(p[measure], measure)))
  end
  local indent = (" "):rep(label_w + 1)
  add(indent .. "└" .. ("─"):rep(bar_w))
  local top = amount(max, measure)
  add(indent .. " 0" .. (" "):rep(math.max(1, bar_w - 1 - #top)) .. top)

  local t = report.total
  add(("Total: %d record%s, %d %s%s; used %.4f, deducted %.4f credits"):format(t.count, t.count == 1 and "" or "s",
    #periods, report.period, #periods == 1 and "" or "s", t.used, t.deducted))
  if report.invalid > 0 then
    add(("Note: %d record%s had an amount that is not a finite number (counted as 0)"):format(report.invalid,
      report.invalid == 1 and "" or "s"))
  end
  local name_w = 0
  for _, s in ipairs(series) do name_w = math.max(name_w, cells(s.name)) end
  for i, s in ipairs(series) do
    local g = glyph(i)
    local share = t[measure] ~= 0 and 100 * s[measure] / t[measure] or 0
    local l = ("  %s %s%s  %12.4f  %5.1f%%  %d record%s"):format(g, s.name, (" "):rep(name_w - cells(s.name)),
      s.deducted, share, s.count, s.count == 1 and "" or "s")
    if measure ~= "deducted" then l = l .. ("  (%s %s)"):format(measure, amount(s[measure], measure)) end
    add(l)
    spans[#spans + 1] = { #lines, 3, 2 + #g, i }
  end
  return { lines = lines, spans = spans, series = series }
end

--- The chart as text with ANSI colours: each span wrapped in `ESC[<colour>m … ESC[0m`.
-- @tparam table c what `render` returned
-- @treturn string the lines, each ending with "\n"
function chart.ansi(c)
  local by_line = {}
  for _, s in ipairs(c.spans) do
    local l = by_line[s[1]] or {}
    by_line[s[1]] = l
    l[#l + 1] = s
  end
  local out = {}
  for i, line in ipairs(c.lines) do
    local l = by_line[i]
    if l then
      table.sort(l, function(a, b) return a[2] < b[2] end)
      local parts, pos = {}, 1
      for _, s in ipairs(l) do
        local colour = chart.COLOURS[s[4]] or chart.COLOURS[#chart.COLOURS]
        parts[#parts + 1] = line:sub(pos, s[2] - 1)
        parts[#parts + 1] = "\27[" .. colour .. "m" .. line:sub(s[2], s[3]) .. "\27[0m"
        pos = s[3] + 1
      end
      parts[#parts + 1] = line:sub(pos)
      line = table.concat(parts)
    end
    out[#out + 1] = line .. "\n"
  end
  return table.concat(out)
end

--- The chart as plain text (no escape codes).
-- @treturn string the lines, each ending with "\n"
function chart.text(c)
  return table.concat(c.lines, "\n") .. "\n"
end

return chart
