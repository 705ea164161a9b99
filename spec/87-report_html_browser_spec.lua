-- The HTML report (acedata.report.html): valid HTML5 that needs no network, then opened in
-- headless Chromium, where a check script reads the drawn chart and its table through the DOM:
-- one bar group per day with the data set's totals, segments per service that add up, heights in
-- proportion, distinct colours; and a screenshot.
local mock = require "spec.helpers.mock"
local browser = require "spec.helpers.browser"
local child = require "spec.helpers.child"
local model = require "acedata.report.model"
local html = require "acedata.report.html"

local dataset = mock.dataset
local N = 10000   -- about 4.3 days: five bars

--- Expected totals per day (count, deducted, deducted per service) of records 1..n.
local function days_of(n)
  local days = {}
  for _, rec in ipairs(dataset.records(n)) do
    local d = rec.created_at:sub(1, 10)
    local b = days[d] or { count = 0, deducted = 0, by_service = {} }
    days[d] = b
    b.count, b.deducted = b.count + 1, b.deducted + rec.deducted_amount
    b.by_service[rec.service.alias] = (b.by_service[rec.service.alias] or 0) + rec.deducted_amount
  end
  return days
end

local function write(path, text)
  local f = assert(io.open(path, "wb"))
  f:write(text)
  f:close()
end

describe("report.html", function()
  local dir, page_path, page
  setup(function()
    dir = os.tmpname()
    os.remove(dir)
    assert(os.execute("mkdir -p " .. child.quote(dir)))
    mock.reset()
    mock.config { records = N }
    local r = model.new { period = "day" }
    for rec in mock.client().usage.proxies.each { page_size = 1000, fields = model.FIELDS } do r:add(rec) end
    page = html.render(r, { filters = "user_id=me", generated = "2024-09-01T00:00:00Z" })
    page_path = dir .. "/report.html"
    write(page_path, page)
  end)
  teardown(function()
    if dir then os.execute("rm -rf " .. child.quote(dir)) end
  end)

  it("is valid HTML5 that fetches nothing: no script, no external src or href", function()
    assert.equal("ok", browser.check_html(page_path))
  end)

  it("the HTML5 check finds what is wrong (a page that must fail it)", function()
    local bad = dir .. "/bad.html"
    write(bad, '<html><head><script src="https://cdn.example/x.js"></script></head><body><p><div></body></html>')
    local problems = browser.check_html(bad)
    assert.matches("html5lib: Unexpected start tag %(html%)", problems)
    assert.matches("<html> without lang", problems, 1, true)
    assert.matches("src='https://cdn.example/x.js' on <script>", problems, 1, true)
    assert.matches("does not begin with <!DOCTYPE html>", problems, 1, true)
  end)

  it("escapes every text it shows", function()
    local r = model.new()
    r:add { created_at = "2024-08-01T00:00:00Z", service = { alias = '<b>"x"&y</b>' }, used_amount = 1, deducted_amount = 1 }
    local text = html.render(r, { title = "A & B", filters = "<script>" })
    assert.not_matches("<b>", text, 1, true)
    assert.not_matches("<script>", text, 1, true)
    assert.matches("&lt;b&gt;&quot;x&quot;&amp;y&lt;/b&gt;", text, 1, true)
    assert.matches("<title>A &amp; B</title>", text, 1, true)
    local path = dir .. "/escaped.html"
    write(path, text)
    assert.equal("ok", browser.check_html(path))
  end)

  it("shows the filters as key=value, times as ISO 8601 UTC", function()
    assert.equal("application_id=a,b created_at_from=2024-08-01T00:00:00Z created_at_to=2024-08-01T00:00:00.25Z "
      .. "user_id=me", html.filters_text { application_id = { "a", "b" }, created_at_from = 1722470400,
        created_at_to = 1722470400.25, user_id = "me", proxy_id = {} })
    assert.matches('<p class="meta" id="filters">Filters: <span class="key">user_id=me</span></p>',
      html.render(model.new(), { filters = { user_id = "me" } }), 1, true)
    assert.matches('<p class="meta" id="filters">Filters: none</p>', html.render(model.new()), 1, true)
  end)

  it("notes the records whose amount is not a finite number", function()
    local r = model.new()
    r:add { created_at = "2024-08-01T00:00:00Z", used_amount = 0 / 0, deducted_amount = 2 }
    r:add { created_at = "2024-08-01T00:00:00Z", used_amount = 1, deducted_amount = -1 / 0 }
    local text = html.render(r)
    assert.matches('<p class="meta" id="invalid">Note: 2 records had an amount that is not a finite number '
      .. '(counted as 0).</p>', text, 1, true)
    assert.matches('data-deducted="2"', text, 1, true)
    assert.is_nil(text:lower():find("%f[%a]nan%f[%A]"))   -- no NaN or infinity written anywhere
    assert.is_nil(text:lower():find("%f[%a]inf%f[%A]"))
  end)

  it("is a valid page with no chart when there are no records", function()
    local text = html.render(model.new())
    assert.matches('<p class="meta" id="period">No records.</p>', text, 1, true)
    assert.not_matches("<svg", text, 1, true)
    local path = dir .. "/empty.html"
    write(path, text)
    assert.equal("ok", browser.check_html(path))
  end)

  describe("in headless Chromium", function()
    local result
    setup(function()
      assert.is_true(browser.available(), "chromium is not installed (Debian package chromium)")
      result = browser.read_report(page, dir)
    end)

    it("draws one bar group per day, with the data set's count and deducted credits", function()
      local days = days_of(N)
      local want, got = {}, {}
      for d, b in pairs(days) do want[#want + 1] = { period = d, count = b.count, deducted = b.deducted } end
      table.sort(want, function(a, b) return a.period < b.period end)
      for _, bar in ipairs(result.bars) do got[#got + 1] = { period = bar.period, count = bar.count, deducted = bar.deducted } end
      assert.equal(5, #got)
      assert.same(want, got)
    end)

    it("splits each bar into one titled segment per service, adding up to the bar", function()
      local days = days_of(N)
      for _, bar in ipairs(result.bars) do
        assert.same(days[bar.period].by_service, bar.series)
        assert.equal(bar.deducted, bar.sum)
        assert.equal(3, bar.segments)
        assert.equal(3, bar.titled)
        assert.equal(("%s: %.4f credits deducted, %d records"):format(bar.period, bar.deducted, bar.count), bar.title)
      end
    end)

    it("draws bar heights in proportion to their totals", function()
      local per = result.bars[1].height / result.bars[1].deducted
      assert.is_true(per > 0)
      for _, bar in ipairs(result.bars) do
        -- coordinates are written with 2 decimals: 3 segments, 0.005 each at most
        assert.is_true(math.abs(bar.height - bar.deducted * per) < 0.02, bar.period .. ": " .. bar.height)
      end
    end)

    it("colours each service differently", function()
      local seen, n = {}, 0
      for name, fill in pairs(result.fills) do
        assert.is_nil(seen[fill], name .. " shares its colour " .. fill)
        seen[fill] = name
        n = n + 1
      end
      assert.equal(3, n)
    end)

    it("has the same numbers in the table behind the chart, with the cumulative spend", function()
      local days = days_of(N)
      local keys = {}
      for d in pairs(days) do keys[#keys + 1] = d end
      table.sort(keys)
      local series = {}
      for _, name in ipairs(result.legend) do
        if name ~= "cumulative" then series[#series + 1] = name end
      end
      local cum = 0
      for i, d in ipairs(keys) do
        cum = cum + days[d].deducted
        local want = { d }
        for _, s in ipairs(series) do want[#want + 1] = ("%.4f"):format(days[d].by_service[s]) end
        for _, v in ipairs { ("%.4f"):format(days[d].deducted), ("%.4f"):format(cum), tostring(days[d].count) } do
          want[#want + 1] = v
        end
        assert.same(want, result.rows[i])
      end
    end)

    it("shows the data set's totals, a legend, a cumulative line and a chart title", function()
      local t = dataset.totals(N)
      assert.same({ count = t.count, used = t.used, deducted = t.deducted }, { count = result.totals.count,
        used = result.totals.used, deducted = result.totals.deducted })
      assert.matches(("%.4f"):format(t.deducted), result.totals.text, 1, true)
      local legend = {}
      for _, name in ipairs(result.legend) do legend[name] = true end
      assert.same({ ["openai-proxy"] = true, ["claude-proxy"] = true, ["gemini-proxy"] = true, cumulative = true }, legend)
      assert.equal(1, result.cumulative)
      assert.equal("Deducted credits per day and service, 2024-08-01 to 2024-08-05 (UTC)", result.svg_title)
    end)

    it("loads no resource at all", function()
      assert.equal(0, result.resources)
    end)

    it("saves a screenshot", function()
      local png = dir .. "/report.png"
      local ok, data = browser.screenshot(page_path, png, 1000, 800)
      assert.is_true(ok, "no PNG written")
      assert.same({ 1000, 800 }, { browser.png_size(data) })
      assert.is_true(#data > 20000, "a nearly empty screenshot: " .. #data .. " bytes")
      -- kept for a look: .tmp/report-screenshot.png
      os.execute("mkdir -p .tmp && cp " .. child.quote(png) .. " .tmp/report-screenshot.png")
    end)
  end)
end)
