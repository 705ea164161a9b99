-- Test helper: headless Chromium (Debian's `chromium`) and an HTML5 check (Debian's
-- python3-html5lib in strict mode, plus a few rules of our own) for the HTML report.
local child = require "spec.helpers.child"

local browser = {}

local q = child.quote

local function sh(cmd)
  local ok = os.execute(cmd)
  return ok == true or ok == 0
end

function browser.available()
  return sh("command -v chromium >/dev/null 2>&1")
end

-- A fresh profile folder per run (Chromium writes its profile there, not in $HOME).
local function profile()
  local dir = os.tmpname()
  os.remove(dir)
  assert(sh("mkdir -p " .. q(dir)))
  return dir
end

-- chromium --headless with `args` on file `path`; at most 60 s. Returns stdout.
local function chromium(path, args)
  local dir = profile()
  local cmd = ("HOME=%s timeout -k 5 60 chromium --headless --no-sandbox --disable-gpu --disable-dev-shm-usage "
    .. "--no-first-run --disable-extensions --disable-background-networking --user-data-dir=%s %s %s 2>/dev/null")
    :format(q(dir), q(dir .. "/profile"), args, q("file://" .. path))
  local p = assert(io.popen(cmd))
  local out = p:read("*a")
  p:close()
  sh("rm -rf " .. q(dir))
  return out
end

--- The DOM of the page at `path` after its scripts ran (`--dump-dom`).
function browser.dump_dom(path)
  return chromium(path, "--virtual-time-budget=2000 --dump-dom")
end

--- Saves a screenshot of the page at `path` to `png` (width x height); returns true when the file is a PNG.
function browser.screenshot(path, png, width, height)
  os.remove(png)
  chromium(path, ("--hide-scrollbars --window-size=%d,%d --screenshot=%s"):format(width, height, q(png)))
  local data = child.read(png)
  return data ~= nil and data:sub(1, 8) == "\137PNG\r\n\26\n", data
end

--- Width and height of a PNG (from its IHDR chunk).
function browser.png_size(data)
  local function u32(i)
    local a, b, c, d = data:byte(i, i + 3)
    return ((a * 256 + b) * 256 + c) * 256 + d
  end
  return u32(17), u32(21)
end

local CHECK = [=[
import sys, html5lib
from html.parser import HTMLParser
text = open(sys.argv[1], encoding="utf-8").read()
problems = []
try:
    html5lib.HTMLParser(strict=True).parse(text)
except Exception as e:
    problems.append("html5lib: %s" % e)
VOID = {"area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "source", "track", "wbr"}
class Check(HTMLParser):
    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.stack, self.ids, self.seen, self.title = [], set(), [], ""
    def handle_decl(self, decl):
        self.seen.append("!" + decl.lower())
    def handle_starttag(self, tag, attrs):
        self.seen.append(tag)
        a = dict(attrs)
        if tag == "html" and not a.get("lang"):
            problems.append("<html> without lang")
        if tag == "script":
            problems.append("a <script>")
        if tag in ("link", "iframe", "object", "embed", "img", "image", "use", "font"):
            problems.append("an external-resource element <%s>" % tag)
        for k, v in attrs:
            v = (v or "").strip().lower()
            if k in ("src", "href", "xlink:href", "srcset", "action", "data") and not v.startswith("#"):
                problems.append("%s=%r on <%s>" % (k, v, tag))
            if "url(" in v:
                problems.append("url( in %s on <%s>" % (k, tag))
        if "id" in a:
            if a["id"] in self.ids:
                problems.append("duplicate id %s" % a["id"])
            self.ids.add(a["id"])
        if tag not in VOID:
            self.stack.append(tag)
    def handle_startendtag(self, tag, attrs):
        self.handle_starttag(tag, attrs)
        if tag not in VOID:
            self.stack.pop()
    def handle_endtag(self, tag):
        if not self.stack or self.stack[-1] != tag:
            problems.append("</%s> closes <%s>" % (tag, self.stack[-1] if self.stack else "nothing"))
        else:
            self.stack.pop()
    def handle_data(self, data):
        if self.stack and self.stack[-1] == "title" and "svg" not in self.stack:
            self.title += data
        if self.stack and self.stack[-1] == "style" and ("url(" in data or "@import" in data):
            problems.append("url( or @import in <style>")
c = Check()
c.feed(text)
c.close()
if c.stack:
    problems.append("left open: %s" % " ".join(c.stack))
if not c.seen or c.seen[0] != "!doctype html":
    problems.append("does not begin with <!DOCTYPE html>")
if not c.title.strip():
    problems.append("no <title>")
if '<meta charset="utf-8">' not in text.lower():
    problems.append('no <meta charset="utf-8">')
print("\n".join(problems) if problems else "ok")
]=]

--- Checks an HTML file as HTML5: "ok", or one problem a line.
function browser.check_html(path)
  local script = os.tmpname()
  local f = assert(io.open(script, "w"))
  f:write(CHECK)
  f:close()
  local p = assert(io.popen("/usr/bin/python3 " .. q(script) .. " " .. q(path) .. " 2>&1"))
  local out = p:read("*a")
  p:close()
  os.remove(script)
  return (out:gsub("\n$", ""))
end

-- Reads what the page shows, from inside the page, into <pre id="acedata-check"> (JSON).
browser.CHECK_SCRIPT = [[
<script>
(function () {
  var out = { bars: [], rows: [], fills: {} };
  out.resources = performance.getEntriesByType("resource").length;
  document.querySelectorAll("svg g.bar").forEach(function (g) {
    var bar = { period: g.getAttribute("data-period"), count: +g.getAttribute("data-count"),
      deducted: +g.getAttribute("data-deducted"), sum: 0, height: 0, series: {},
      title: g.querySelector(":scope > title").textContent, segments: 0, titled: 0 };
    g.querySelectorAll("rect").forEach(function (r) {
      var v = +r.getAttribute("data-deducted"), name = r.getAttribute("data-series");
      bar.sum += v;
      bar.height += r.getBBox().height;
      bar.series[name] = v;
      bar.segments += 1;
      if (r.querySelector("title")) bar.titled += 1;
      out.fills[name] = getComputedStyle(r).fill;
    });
    out.bars.push(bar);
  });
  document.querySelectorAll("#chart-data tbody tr").forEach(function (tr) {
    var cells = [];
    tr.querySelectorAll("th, td").forEach(function (c) { cells.push(c.textContent); });
    out.rows.push(cells);
  });
  var t = document.getElementById("totals");
  out.totals = { count: +t.getAttribute("data-count"), deducted: +t.getAttribute("data-deducted"),
    used: +t.getAttribute("data-used"), text: t.textContent };
  out.legend = [];
  document.querySelectorAll("svg .legend text").forEach(function (x) { out.legend.push(x.textContent); });
  out.cumulative = document.querySelectorAll("svg polyline.cumulative").length;
  out.svg_title = document.querySelector("svg > title").textContent;
  var pre = document.createElement("pre");
  pre.id = "acedata-check";
  pre.textContent = JSON.stringify(out);
  document.body.appendChild(pre);
})();
</script>
]]

--- Opens a copy of the report page `page` (text) with CHECK_SCRIPT in headless Chromium (in
-- folder `dir`) and returns what the script read: `bars` ({period, count, deducted, sum, height,
-- series = {[name] = deducted}, title, segments, titled}), `rows` (the data table's cells),
-- `fills` (series -> computed fill), `totals`, `legend`, `cumulative`, `svg_title`, `resources`.
function browser.read_report(page, dir)
  local wrapped = dir .. "/checked.html"
  local f = assert(io.open(wrapped, "wb"))
  f:write((page:gsub("</body>", function() return browser.CHECK_SCRIPT .. "</body>" end)))
  f:close()
  local dom = browser.dump_dom(wrapped)
  local json = dom:match('<pre id="acedata%-check">(.-)</pre>')
  assert(json, "no check output in the DOM Chromium printed:\n" .. dom:sub(1, 2000))
  json = json:gsub("&quot;", '"'):gsub("&lt;", "<"):gsub("&gt;", ">"):gsub("&amp;", "&")
  return require("cjson").decode(json)
end

return browser
