-- The `acedata` command's output file, amounts and log, as a child process against the mock.
local child = require "spec.helpers.child"
local cjson = require "cjson"
local logs = require "spec.helpers.logs"
local mock = require "spec.helpers.mock"

local dataset = mock.dataset

local function acedata(argv, env)
  local vars = { ACEDATACLOUD_PLATFORM_TOKEN = mock.TOKEN, PLATFORM_API_BASE_URL = mock.url(), ACEDATA_LOG = false }
  for k, v in pairs(env or {}) do vars[k] = v end
  local words = { child.interpreter(), "bin/acedata" }
  for _, a in ipairs(argv) do words[#words + 1] = a end
  local out, err, status = child.exec(words, vars)
  logs.keep("spec/83-cli_output_spec.lua: acedata " .. table.concat(argv, " "), err)
  return out, err, status
end

local function write_file(path, s)
  local f = assert(io.open(path, "wb"))
  f:write(s)
  f:close()
end

-- The names in a directory.
local function listing(dir)
  local p = assert(io.popen("ls -A " .. child.quote(dir)))
  local names = {}
  for name in p:lines() do names[#names + 1] = name end
  p:close()
  table.sort(names)
  return names
end

local lines = child.lines

describe("acedata --output FILE", function()
  local dir

  before_each(function()
    mock.reset()
    mock.config { records = 2000 }
    dir = os.tmpname()
    os.remove(dir)
    assert(os.execute("mkdir " .. child.quote(dir)))
  end)

  after_each(function()
    os.execute("rm -rf " .. child.quote(dir))
  end)

  it("leaves an existing FILE as it was when the report fails half-way (a persistent 500 at offset 1000)", function()
    local path = dir .. "/report.csv"
    write_file(path, "yesterday's report\n")
    mock.faults { fault = "status", status = 500, offset = 1000, times = -1 }
    local out, err, status = acedata { "usage", "proxies", "--format", "csv", "--output", path }
    assert.equal(1, status)
    assert.equal("", out)
    assert.matches("server error %(HTTP 500%)", err)
    assert.equal("yesterday's report\n", child.read(path))
    assert.same({ "report.csv" }, listing(dir))         -- no temporary file left beside it
    -- the records before offset 1000 were fetched (and dropped): the failure came half-way
    local offsets = {}
    for _, r in ipairs(mock.list_requests()) do offsets[#offsets + 1] = tonumber(r.args:match("offset=(%d+)")) end
    assert.truthy(offsets[#offsets] == 1000, table.concat(offsets, ","))
  end)

  it("creates no FILE when the report fails half-way and there was none", function()
    mock.faults { fault = "status", status = 500, offset = 1000, times = -1 }
    local _, _, status = acedata { "usage", "proxies", "--format", "jsonl", "--output", dir .. "/new.jsonl" }
    assert.equal(1, status)
    assert.same({}, listing(dir))
  end)

  it("replaces FILE with the whole report when every record is in", function()
    local path = dir .. "/report.jsonl"
    write_file(path, "old\n")
    local _, err, status = acedata { "usage", "proxies", "--format", "jsonl", "--output", path }
    assert.equal(0, status, err)
    assert.equal(2000, #lines(child.read(path)))
    assert.same({ "report.jsonl" }, listing(dir))
  end)

  it("writes one object (me) the same way", function()
    local path = dir .. "/me.json"
    local _, err, status = acedata { "me", "--format", "json", "--output", path }
    assert.equal(0, status, err)
    assert.equal(dataset.USER_ID, cjson.decode(child.read(path)).id)
    assert.same({ "me.json" }, listing(dir))
  end)

  it("removes its temporary file when interrupted (SIGINT) half-way, leaving FILE as it was", function()
    local socket = require "socket"
    local path = dir .. "/report.csv"
    write_file(path, "yesterday's report\n")
    mock.config { records = 2000, page_delay_ms = 200 }
    local envfile = child.env_file(dir .. "/../" .. dir:match("[^/]+$") .. ".env", {
      ACEDATACLOUD_PLATFORM_TOKEN = mock.TOKEN, PLATFORM_API_BASE_URL = mock.url(), ACEDATA_LOG = false })
    local p = assert(io.popen("sh -c '. \"$0\"; \"$@\" >/dev/null 2>\"$0.err\" & echo $!' " .. child.quote(envfile) .. " "
      .. child.quote(child.interpreter()) .. " bin/acedata usage proxies --format csv --output " .. child.quote(path)))
    local pid = assert(tonumber(p:read("*a"):match("%d+")))
    p:close()
    local function alive() local ok = os.execute("kill -0 " .. pid .. " 2>/dev/null") return ok == true or ok == 0 end
    -- wait (at most 10 s) until the temporary file is there: records are being written
    local deadline = socket.gettime() + 10
    while #listing(dir) < 2 and socket.gettime() < deadline do socket.sleep(0.05) end
    assert.equal(2, #listing(dir))
    os.execute("kill -INT " .. pid)
    deadline = socket.gettime() + 10
    while alive() and socket.gettime() < deadline do socket.sleep(0.05) end
    assert.is_false(alive())
    local err = child.read(envfile .. ".err")
    os.remove(envfile)
    os.remove(envfile .. ".err")
    assert.equal("acedata: interrupted\n", err)
    assert.same({ "report.csv" }, listing(dir))
    assert.equal("yesterday's report\n", child.read(path))
  end)

  it("exits 1 when FILE's directory does not exist, naming FILE", function()
    local path = dir .. "/missing/report.csv"
    local _, err, status = acedata { "usage", "proxies", "--max-items", "3", "--output", path }
    assert.equal(1, status)
    assert.matches("^acedata: cannot write: " .. path:gsub("%p", "%%%0") .. ": No such file", err)
  end)
end)

describe("acedata amounts", function()
  before_each(function()
    mock.reset()
    mock.config { records = 50 }
  end)

  it("shows 4 decimals in the table", function()
    local out, err, status = acedata { "usage", "proxies", "--max-items", "5" }
    assert.equal(0, status, err)
    local t = lines(out)
    for i = 2, #t do
      local used, deducted = t[i]:match("(%S+)%s+(%S+)$")
      assert.matches("^%d+%.%d%d%d%d$", used)
      assert.matches("^%d+%.%d%d%d%d$", deducted)
    end
    local rec = dataset.record(50)
    assert.equal(string.format("%.4f", rec.deducted_amount), t[2]:match("(%S+)$"))
  end)

  it("keeps every digit in json, jsonl and csv (k/1024 amounts of up to 14 significant digits)", function()
    local out = acedata { "usage", "proxies", "--format", "json" }
    local sum = 0
    for _, rec in ipairs(cjson.decode(out)) do sum = sum + rec.used_amount end
    assert.equal(dataset.totals(50).used, sum)
    out = acedata { "usage", "proxies", "--group-by", "service", "--format", "json" }
    local rows = cjson.decode(out)
    assert.equal(dataset.totals(50).used, rows[#rows].used)
  end)
end)

describe("ACEDATA_LOG", function()
  before_each(function()
    mock.reset()
    mock.config { records = 30 }
  end)

  it("debug: one line per attempt of a retried call, and the wait before each retry", function()
    mock.faults { fault = "status", status = 503, times = 2 }
    local out, err, status = acedata({ "usage", "proxies", "--format", "jsonl" }, { ACEDATA_LOG = "debug" })
    assert.equal(0, status, err)
    assert.equal(30, #lines(out))
    local attempts, retries = {}, {}
    for _, line in ipairs(lines(err)) do
      if line:find(" retry in ", 1, true) then
        retries[#retries + 1] = line
      elseif line:find("/api/v1/usage/proxies/", 1, true) then
        attempts[#attempts + 1] = line
      end
    end
    -- me (for user_id), then the list: 503, 503, 200
    local list = {}
    for _, line in ipairs(attempts) do if line:find("offset=", 1, true) then list[#list + 1] = line end end
    assert.equal(3, #list, err)
    local url = mock.url():gsub("%p", "%%%0")
    for i, want in ipairs { "503", "503", "200" } do
      assert.matches("^acedata: GET " .. url .. "/api/v1/usage/proxies/%?%S+ " .. want .. " %d+%.%dms attempt=" .. i
        .. " request_id=%S+", list[i])
    end
    assert.equal(2, #retries)
    assert.matches("retry in %d+%.%d+s after attempt=1 %(server, HTTP 503%)$", retries[1])
    assert.is_nil(err:find(mock.TOKEN, 1, true))
  end)

  it("info: only the failed attempts and the retries", function()
    mock.faults { fault = "status", status = 503, times = 1 }
    local _, err, status = acedata({ "usage", "proxies", "--format", "jsonl" }, { ACEDATA_LOG = "info" })
    assert.equal(0, status, err)
    local t = lines(err)
    assert.equal(2, #t, err)
    assert.matches(" 503 %d+%.%dms attempt=1 .*error=server", t[1])
    assert.matches(" retry in ", t[2])
  end)

  it("refuses another level (exit 2)", function()
    local _, err, status = acedata({ "me" }, { ACEDATA_LOG = "loud" })
    assert.equal(2, status)
    assert.matches('ACEDATA_LOG must be debug, info or off, got "loud"', err)
  end)
end)
