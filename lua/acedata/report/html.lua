--- A report (acedata.report.model) as one self-contained HTML5 page: inline CSS and SVG, no
-- script, no font, no image and no link to fetch, so it opens without a network and can be mailed
-- or published as it is.
--
--    local html = require "acedata.report.html"
--    local page = html.render(report, { filters = "user_id=me", generated = "2024-09-01T00:00:00Z" })
--
-- The page holds: the period covered, the filters and the totals; a stacked bar chart of deducted
-- credits per period and service, with axes, labels, a legend and a line of cumulative spend
-- (right-hand axis); the data behind the chart as a table; the services, and the top applications
-- and proxies. Each bar is a `<g class="bar">` with an SVG `<title>` (read out by screen readers,
-- shown as a tooltip) and `data-period`, `data-count`, `data-used`, `data-deducted`; each of its
-- segments a `<rect>` with `data-series` and `data-deducted`. Numbers in `data-*` attributes are
-- exact (shortest text that reads back as the same double); numbers shown are rounded to 4 decimals.
-- @module acedata.report.html

local model = require "acedata.report.model"

local html = {}

--- Fill colours of the series (CSS classes s1…s6; the last one is also "other").
html.COLOURS = { "#4e79a7", "#f28e2b", "#59a14f", "#e15759", "#b07aa1", "#9c755f" }
--- At most this many series (the smallest services are merged into "other").
html.MAX_SERIES = #html.COLOURS
--- How many applications and proxies the page lists (the largest by deducted credits).
html.TOP = 10

local ESCAPES = { ["&"] = "&amp;", ["<"] = "&lt;", [">"] = "&gt;", ['"'] = "&quot;", ["'"] = "&#39;" }

--- Text escaped for HTML (element content and quoted attribute values).
-- @tparam string s
-- @treturn string
function html.escape(s)
  return (tostring(s):gsub("[&<>\"']", ESCAPES))
end
local esc = html.escape

--- The shortest decimal text of a number that reads back as the same number.
-- @tparam number x
-- @treturn string
function html.exact(x)
  if x ~= x or x == math.huge or x == -math.huge then return tostring(x) end
  if x == math.floor(x) and x > -2 ^ 53 and x < 2 ^ 53 then return ("%.0f"):format(x) end
  for digits = 15, 16 do
    local s = ("%." .. digits .. "g"):format(x)
    if tonumber(s) == x then return s end
  end
  return ("%.17g"):format(x)
end
local exact = html.exact

local function amount(x) return ("%.4f"):format(x) end

-- Lua 5.1's math.log has no base; 5.3+ has no math.log10.
local log10 = math.log10 or function(x) return math.log(x, 10) end

-- Short text of an axis value: 12500 -> "12.5k".
local function short(x)
  local a = math.abs(x)
  local function trim(s) return (s:gsub("%.?0+$", "")) end
  if a >= 1e6 then return trim(("%.2f"):format(x / 1e6)) .. "M" end
  if a >= 1e4 then return trim(("%.1f"):format(x / 1e3)) .. "k" end
  if a >= 100 or x == math.floor(x) then return ("%.0f"):format(x) end
  return trim(("%.2f"):format(x))
end

-- A "nice" step for about `n` ticks up to `max`: 1, 2 or 5 times a power of ten.
local function nice_step(max, n)
  if max <= 0 then return 1 end
  local raw = max / n
  local p = 10 ^ math.floor(log10(raw))
  for _, m in ipairs { 1, 2, 5, 10 } do
    if m * p >= raw then return m * p end
  end
  return 10 * p
end

-- An epoch time as ISO 8601 UTC ("2024-08-01T00:00:00Z"; fractions of a second kept).
local function iso(t)
  local days = math.floor(t / 86400)
  local secs = t - days * 86400
  local y, m, d = model.civil_from_days(days)
  local whole = math.floor(secs)
  local s = ("%04d-%02d-%02dT%02d:%02d:%02d"):format(y, m, d, math.floor(whole / 3600), math.floor(whole / 60) % 60,
    whole % 60)
  if secs ~= whole then s = s .. ("%.6f"):format(secs - whole):sub(2):gsub("0+$", "") end
  return s .. "Z"
end

--- Filters as one line of text: `key=value` pairs sorted by key, lists joined with commas, times
-- (numbers, as the command line parses `--from` and `--to`) as ISO 8601 UTC.
-- @tparam table|string|nil filters the parameters of `usage.proxies.each{}`, or text
-- @treturn string
function html.filters_text(filters)
  if type(filters) ~= "table" then return filters and tostring(filters) or "" end
  local keys, parts = {}, {}
  for k, v in pairs(filters) do
    if v ~= nil and v ~= false and not (type(v) == "table" and #v == 0) then keys[#keys + 1] = tostring(k) end
  end
  table.sort(keys)
  for _, k in ipairs(keys) do
    local v = filters[k]
    if type(v) == "table" then v = table.concat(v, ",")
    elseif type(v) == "number" and k:find("^created_at_") then v = iso(v) end
    parts[#parts + 1] = k .. "=" .. tostring(v)
  end
  return table.concat(parts, " ")
end
local filters_text = html.filters_text

local CSS = [[
:root{color-scheme:light;--fg:#1f2328;--muted:#59636e;--line:#d1d9e0;--bg:#fff}
body{font:15px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;color:var(--fg);background:var(--bg);margin:0}
main{max-width:1000px;margin:0 auto;padding:24px}
h1{font-size:1.5em;margin:0 0 .3em}h2{font-size:1.15em;margin:1.6em 0 .5em}
.meta{color:var(--muted);margin:.2em 0}
dl.totals{display:flex;gap:32px;margin:16px 0}dl.totals div{display:flex;flex-direction:column}
dl.totals dt{color:var(--muted);font-size:.85em}dl.totals dd{margin:0;font-size:1.35em;font-variant-numeric:tabular-nums}
figure{margin:16px 0}figcaption{color:var(--muted);font-size:.9em}
svg{width:100%;height:auto;display:block}
svg text{font:12px system-ui,sans-serif;fill:var(--muted)}
svg .axis line,svg .axis path{stroke:#8c959f}svg .grid line{stroke:var(--line);stroke-dasharray:2 3}
svg .cumulative{fill:none;stroke:#1f2328;stroke-width:2}svg .cumulative-dot{fill:#1f2328}
svg .bar rect:hover{opacity:.8}svg .legend text{fill:var(--fg)}
table{border-collapse:collapse;margin:8px 0;font-variant-numeric:tabular-nums}
th,td{padding:4px 10px;border-bottom:1px solid var(--line);text-align:right}
th:first-child,td:first-child{text-align:left}thead th{color:var(--muted);font-weight:600}
tfoot td,tfoot th{font-weight:600}
.key{font-family:ui-monospace,SFMono-Regular,Menlo,monospace;font-size:.9em}
details{margin:12px 0}summary{cursor:pointer;color:var(--muted)}
]]

-- The SVG chart: stacked bars of deducted credits per period, a cumulative line, axes, legend.
local function svg_chart(report, periods, series, out)
  local W, H = 960, 440
  local left, right, top, bottom = 64, 72, 24, 96
  local pw, ph = W - left - right, H - top - bottom
  local n = #periods
  local max = 0
  for _, p in ipairs(periods) do if p.deducted > max then max = p.deducted end end
  local step = nice_step(max, 5)
  local ymax = math.max(step, math.ceil(max / step) * step)
  local total = report.total.deducted
  local cstep = nice_step(total, 5)
  local cmax = math.max(cstep, math.ceil(total / cstep) * cstep)
  local function y(v) return top + ph - (v > 0 and v or 0) / ymax * ph end
  local function cy(v) return top + ph - (v > 0 and v or 0) / cmax * ph end
  local band = pw / n
  local bw = math.max(1, band * 0.72)
  local function f(x) return ("%.2f"):format(x) end
  local add = function(s) out[#out + 1] = s end
  local title = ("Deducted credits per %s and service, %s to %s (UTC)"):format(report.period, periods[1].key,
    periods[n].key)
  add(('<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 %d %d" role="img" aria-labelledby="chart-title chart-desc">')
    :format(W, H))
  add('<title id="chart-title">' .. esc(title) .. '</title>')
  add(('<desc id="chart-desc">%d bars, one per %s, each split by service; the line is the cumulative spend '
    .. '(right-hand axis). The table below holds the same numbers.</desc>'):format(n, report.period))
  -- grid and the left axis
  add('<g class="grid">')
  for v = step, ymax, step do
    add(('<line x1="%d" x2="%d" y1="%s" y2="%s"/>'):format(left, left + pw, f(y(v)), f(y(v))))
  end
  add('</g>')
  add('<g class="axis axis-y">')
  add(('<line x1="%d" x2="%d" y1="%d" y2="%d"/>'):format(left, left, top, top + ph))
  for v = 0, ymax, step do
    add(('<text x="%d" y="%s" text-anchor="end" dominant-baseline="middle">%s</text>'):format(left - 6, f(y(v)), short(v)))
  end
  add(('<text transform="translate(14 %s) rotate(-90)" text-anchor="middle">credits deducted per %s</text>')
    :format(f(top + ph / 2), report.period))
  add('</g>')
  add('<g class="axis axis-cumulative">')
  add(('<line x1="%d" x2="%d" y1="%d" y2="%d"/>'):format(left + pw, left + pw, top, top + ph))
  for v = 0, cmax, cstep do
    add(('<text x="%d" y="%s" dominant-baseline="middle">%s</text>'):format(left + pw + 6, f(cy(v)), short(v)))
  end
  add(('<text transform="translate(%d %s) rotate(90)" text-anchor="middle">cumulative credits</text>')
    :format(W - 12, f(top + ph / 2)))
  add('</g>')
  -- bars
  add('<g class="bars">')
  for i, p in ipairs(periods) do
    local x = left + (i - 1) * band + (band - bw) / 2
    add(('<g class="bar" data-period="%s" data-count="%d" data-used="%s" data-deducted="%s">'):format(esc(p.key),
      p.count, exact(p.used), exact(p.deducted)))
    add(('<title>%s: %s credits deducted, %d record%s</title>'):format(esc(p.key), amount(p.deducted), p.count,
      p.count == 1 and "" or "s"))
    local acc = 0
    for k, s in ipairs(series) do
      local v = model.series_value(p, s, "deducted")
      -- one segment per series in every bar (an empty one has height 0), bottom up
      local y0, y1 = y(acc), y(acc + (v > 0 and v or 0))
      add(('<rect class="s%d" x="%s" y="%s" width="%s" height="%s" data-series="%s" data-deducted="%s">'
        .. '<title>%s, %s: %s credits</title></rect>'):format(k, f(x), f(y1), f(bw), f(y0 - y1), esc(s.name),
        exact(v), esc(p.key), esc(s.name), amount(v)))
      if v > 0 then acc = acc + v end
    end
    add('</g>')
  end
  add('</g>')
  -- the cumulative line
  local points, cum = {}, 0
  for i, p in ipairs(periods) do
    cum = cum + p.deducted
    points[#points + 1] = f(left + (i - 0.5) * band) .. "," .. f(cy(cum))
  end
  add(('<polyline class="cumulative" points="%s"><title>cumulative spend: %s credits deducted in all</title></polyline>')
    :format(table.concat(points, " "), amount(total)))
  -- the x axis and its labels (as many as fit side by side: about 7 px a character)
  add('<g class="axis axis-x">')
  add(('<line x1="%d" x2="%d" y1="%d" y2="%d"/>'):format(left, left + pw, top + ph, top + ph))
  local label_w = 0
  for _, p in ipairs(periods) do label_w = math.max(label_w, #p.key) end
  local every = math.max(1, math.ceil(n / math.max(1, math.floor(pw / (label_w * 7 + 14)))))
  for i, p in ipairs(periods) do
    if (i - 1) % every == 0 then
      local cx = left + (i - 0.5) * band
      add(('<text x="%s" y="%d" text-anchor="middle">%s</text>'):format(f(cx), top + ph + 18, esc(p.key)))
    end
  end
  add('</g>')
  -- legend
  add('<g class="legend">')
  local lx, ly = left, H - 30
  for k, s in ipairs(series) do
    add(('<rect class="s%d" x="%d" y="%d" width="12" height="12"/><text x="%d" y="%d">%s</text>'):format(k, lx,
      ly - 10, lx + 17, ly, esc(s.name)))
    lx = lx + 30 + 8 * #s.name
  end
  add(('<line class="cumulative" x1="%d" x2="%d" y1="%d" y2="%d"/><text x="%d" y="%d">cumulative</text>'):format(lx,
    lx + 18, ly - 4, ly - 4, lx + 23, ly))
  add('</g>')
  add('</svg>')
end

local function totals_table(caption, rows, total, key_name)
  local out = { '<table>', '<caption>' .. esc(caption) .. '</caption>',
    ('<thead><tr><th scope="col">%s</th><th scope="col">records</th><th scope="col">used</th>'
      .. '<th scope="col">deducted</th><th scope="col">share</th></tr></thead>'):format(esc(key_name)), '<tbody>' }
  for _, b in ipairs(rows) do
    local share = total.deducted ~= 0 and 100 * b.deducted / total.deducted or 0
    out[#out + 1] = ('<tr><th scope="row" class="key">%s</th><td>%d</td><td>%s</td><td>%s</td><td>%.1f%%</td></tr>')
      :format(esc(b.key), b.count, amount(b.used), amount(b.deducted), share)
  end
  out[#out + 1] = '</tbody></table>'
  return table.concat(out, "\n")
end

--- The page.
-- @tparam table report a report of acedata.report.model
-- @tparam[opt] table opts `title`, `filters` (text, or a table of filters), `generated` (text,
--   e.g. an ISO 8601 time; default none, so equal reports give equal pages)
-- @treturn string the HTML document
function html.render(report, opts)
  opts = opts or {}
  local title = opts.title or "AceData Cloud proxy usage"
  local periods = report:periods()
  local series = report:series(html.MAX_SERIES, "deducted")
  local t = report.total
  local out = {}
  local function add(s) out[#out + 1] = s end
  add('<!DOCTYPE html>')
  add('<html lang="en">')
  add('<head>')
  add('<meta charset="utf-8">')
  add('<meta name="viewport" content="width=device-width, initial-scale=1">')
  add('<meta name="generator" content="acedata">')
  add('<title>' .. esc(title) .. '</title>')
  local css = { CSS }
  for k, c in ipairs(html.COLOURS) do css[#css + 1] = (".s%d{fill:%s}"):format(k, c) end
  add('<style>\n' .. table.concat(css, "\n") .. '\n</style>')
  add('</head>')
  add('<body>')
  add('<main>')
  add('<h1>' .. esc(title) .. '</h1>')
  local first, last = periods[1], periods[#periods]
  if first then
    add(('<p class="meta" id="period">Period: <time>%s</time> to <time>%s</time> (UTC), per %s; records from '
      .. '<time>%s</time> to <time>%s</time></p>'):format(esc(first.key), esc(last.key), esc(report.period),
      esc(report.first or "-"), esc(report.last or "-")))
  else
    add('<p class="meta" id="period">No records.</p>')
  end
  local ft = filters_text(opts.filters)
  add('<p class="meta" id="filters">Filters: ' .. (ft ~= "" and ('<span class="key">' .. esc(ft) .. '</span>') or "none")
    .. '</p>')
  if report.invalid > 0 then
    add(('<p class="meta" id="invalid">Note: %d record%s had an amount that is not a finite number (counted as 0).</p>')
      :format(report.invalid, report.invalid == 1 and "" or "s"))
  end
  if opts.generated then add('<p class="meta" id="generated">Generated ' .. esc(opts.generated) .. '</p>') end
  add(('<dl class="totals" id="totals" data-count="%d" data-used="%s" data-deducted="%s">'):format(t.count,
    exact(t.used), exact(t.deducted)))
  add(('<div><dt>records</dt><dd>%d</dd></div><div><dt>credits used</dt><dd>%s</dd></div>'
    .. '<div><dt>credits deducted</dt><dd>%s</dd></div>'):format(t.count, amount(t.used), amount(t.deducted)))
  add('</dl>')

  if first then
    add('<section aria-labelledby="h-chart">')
    add(('<h2 id="h-chart">Spend per %s</h2>'):format(esc(report.period)))
    add('<figure>')
    svg_chart(report, periods, series, out)
    add(('<figcaption>Deducted credits per %s (UTC) and service, stacked; the line is the cumulative spend. '
      .. 'Hover a bar for its numbers.</figcaption>'):format(esc(report.period)))
    add('</figure>')
    -- the data behind the chart
    add('<details open>')
    add('<summary>The numbers behind the chart</summary>')
    add('<table id="chart-data">')
    add(('<caption>Deducted credits per %s and service</caption>'):format(esc(report.period)))
    local head = { ('<th scope="col">%s</th>'):format(esc(report.period)) }
    for _, s in ipairs(series) do head[#head + 1] = '<th scope="col" class="key">' .. esc(s.name) .. '</th>' end
    head[#head + 1] = '<th scope="col">total</th><th scope="col">cumulative</th><th scope="col">records</th>'
    add('<thead><tr>' .. table.concat(head) .. '</tr></thead>')
    add('<tbody>')
    local cum = 0
    for _, p in ipairs(periods) do
      cum = cum + p.deducted
      local cells = { ('<tr data-period="%s"><th scope="row">%s</th>'):format(esc(p.key), esc(p.key)) }
      for _, s in ipairs(series) do cells[#cells + 1] = '<td>' .. amount(model.series_value(p, s, "deducted")) .. '</td>' end
      cells[#cells + 1] = ('<td>%s</td><td>%s</td><td>%d</td></tr>'):format(amount(p.deducted), amount(cum), p.count)
      add(table.concat(cells))
    end
    add('</tbody>')
    local foot = { '<tfoot><tr><th scope="row">total</th>' }
    for _, s in ipairs(series) do foot[#foot + 1] = '<td>' .. amount(s.deducted) .. '</td>' end
    foot[#foot + 1] = ('<td>%s</td><td>%s</td><td>%d</td></tr></tfoot>'):format(amount(t.deducted), amount(t.deducted),
      t.count)
    add(table.concat(foot))
    add('</table>')
    add('</details>')
    add('</section>')

    add('<section aria-labelledby="h-services">')
    add('<h2 id="h-services">Services</h2>')
    add(totals_table("Credits per service", report:top("service"), t, "service"))
    add('</section>')
    add('<section aria-labelledby="h-applications">')
    add('<h2 id="h-applications">Top applications</h2>')
    add(totals_table(("Applications by credits deducted (at most %d)"):format(html.TOP), report:top("application", html.TOP), t,
      "application"))
    add('</section>')
    add('<section aria-labelledby="h-proxies">')
    add('<h2 id="h-proxies">Top proxies</h2>')
    add(totals_table(("Proxies by credits deducted (at most %d)"):format(html.TOP), report:top("proxy", html.TOP), t, "proxy"))
    add('</section>')
  end
  add('</main>')
  add('</body>')
  add('</html>')
  return table.concat(out, "\n") .. "\n"
end

return html
