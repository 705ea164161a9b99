-- Seeing what happens: the `log` and `on_response` client options and ACEDATA_LOG (acedata.log).
local child = require "spec.helpers.child"
local log = require "acedata.log"
local logs = require "spec.helpers.logs"
local mock = require "spec.helpers.mock"

describe("the log option", function()
  before_each(function()
    mock.reset()
    mock.config { records = 30 }
  end)

  it("gets one line per attempt of a retried call, and one per wait before a retry", function()
    mock.faults { fault = "status", status = 503, route = "me", times = 2 }
    local lines = {}
    local c = mock.client { log = function(line) lines[#lines + 1] = line end }
    assert(c.me())
    logs.keep("spec/54-log_spec.lua", table.concat(lines, "\n"))
    assert.equal(5, #lines)
    local url = (mock.url() .. "/api/v1/platform-tokens/me/"):gsub("%p", "%%%0")
    assert.matches("^acedata: GET " .. url .. " 503 %d+%.%dms attempt=1 request_id=%x+ error=server: ", lines[1])
    assert.matches("^acedata: GET " .. url .. " retry in %d%.%d%d%ds after attempt=1 %(server, HTTP 503%)$", lines[2])
    assert.matches(" 503 %d+%.%dms attempt=2 ", lines[3])
    assert.matches(" retry in .* after attempt=2 ", lines[4])
    assert.matches("^acedata: GET " .. url .. " 200 %d+%.%dms attempt=3 request_id=%x+$", lines[5])
    for _, line in ipairs(lines) do assert.is_nil(line:find(mock.TOKEN, 1, true)) end
  end)

  it("gets the request id the server sent", function()
    local lines = {}
    assert(mock.client({ log = function(line) lines[#lines + 1] = line end }).me())
    local id = lines[1]:match("request_id=(%x+)")
    assert.equal(mock.log()[1].request_id, id)
  end)

  it("gets a transport failure: no status, its kind and message", function()
    local lines = {}
    local c = require("acedata").new { token = mock.TOKEN, base_url = "http://127.0.0.1:1", max_retries = 0,
      log = function(line) lines[#lines + 1] = line end }
    assert.is_nil(c.me())
    assert.equal(1, #lines)
    assert.matches("^acedata: GET http://127%.0%.0%.1:1/api/v1/platform%-tokens/me/ %- [%d.]+ms attempt=1 error=network: ",
      lines[1])
  end)

  it("does not break the request when it raises", function()
    local c = mock.client { log = function() error("broken logger") end,
      on_response = function() error("broken hook") end }
    assert.equal(mock.dataset.USER_ID, assert(c.me()).id)
  end)
end)

describe("the on_response option", function()
  before_each(function()
    mock.reset()
    mock.config { records = 250 }
  end)

  it("receives every attempt's facts as a table, and each wait before a retry", function()
    mock.faults { fault = "status", status = 500, offset = 100, times = 1 }
    local infos = {}
    local c = mock.client { on_response = function(info) infos[#infos + 1] = info end }
    local n = 0
    for _ in c.usage.proxies.each { page_size = 100 } do n = n + 1 end
    assert.equal(250, n)
    -- me, offset 0, offset 100 (500), its retry wait, offset 100 again, offset 200
    local events = {}
    for i, info in ipairs(infos) do
      events[i] = info.event .. ":" .. tostring(info.status) .. ":" .. info.attempt
      assert.equal("GET", info.method)
      assert.is_nil(info.url:find(mock.TOKEN, 1, true))
      if info.event == "response" then
        assert.is_number(info.ms)
        assert.is_true(info.ms >= 0)
        assert.is_string(info.request_id)
      end
    end
    assert.same({ "response:200:1", "response:200:1", "response:500:1", "retry:500:1", "response:200:2",
      "response:200:1" }, events)
    assert.equal("server", infos[3].kind)
    assert.matches("offset=100", infos[3].url)
    assert.is_number(infos[4].wait)
    assert.is_nil(infos[5].kind)
  end)
end)

describe("ACEDATA_LOG", function()
  local CODE = [[
    local c = require("acedata").new { base_url = os.getenv("T_BASE"), max_retries = 1, backoff_base = 0.01 }
    local me, err = c.me()
    io.stdout:write(me and "OK\n" or ("FAILED " .. tostring(err) .. "\n"))
  ]]

  local function run(level, base)
    return child.run(CODE, { ACEDATACLOUD_PLATFORM_TOKEN = mock.TOKEN, T_BASE = base or mock.url(),
      ACEDATA_LOG = level })
  end

  before_each(function() mock.reset() end)

  it("debug writes every attempt to stderr", function()
    local out, ok = run("debug")
    assert.is_true(ok, out)
    logs.keep("spec/54-log_spec.lua ACEDATA_LOG=debug", out)
    -- (child.run gives stdout, then stderr)
    assert.matches("^OK\nacedata: GET .*/api/v1/platform%-tokens/me/ 200 [%d.]+ms attempt=1 request_id=%x+\n$", out)
  end)

  it("info writes only failed attempts and retries", function()
    local out = run("info")
    assert.equal("OK\n", out)
    mock.faults { fault = "status", status = 502, route = "me", times = 1 }
    out = run("INFO")
    local lines = {}
    for line in out:gmatch("[^\n]+") do lines[#lines + 1] = line end
    assert.equal(3, #lines, out)
    assert.equal("OK", lines[1])
    assert.matches(" 502 .* attempt=1 .*error=server", lines[2])
    assert.matches(" retry in ", lines[3])
  end)

  it("off, or unset, writes nothing", function()
    assert.equal("OK\n", (run("off")))
    assert.equal("OK\n", (run(false)))
  end)

  it("refuses another value when the client is made", function()
    local out, ok = run("verbose")
    assert.is_false(ok)
    assert.matches('ACEDATA_LOG must be debug, info or off, got "verbose"', out)
  end)
end)

describe("acedata.log.redact", function()
  it("removes the token and the password of any URL", function()
    assert.equal("a [REDACTED] b", log.redact("a platform-v1-abc b", "platform-v1-abc"))
    assert.equal("via http://[REDACTED]@proxy:3128 and https://[REDACTED]@h/x",
      log.redact("via http://user:pw@proxy:3128 and https://u:p%40ss@h/x"))
    assert.equal("http://host/path?a=b@c", log.redact("http://host/path?a=b@c"))
  end)

  it("is applied to errors too", function()
    local errors = require "acedata.errors"
    local e = errors.new({ kind = "proxy", message = "Could not resolve proxy: http://user:secret@px" }, "tok")
    assert.equal("Could not resolve proxy: http://[REDACTED]@px", e.message)
  end)
end)
