-- Forward proxies (tinyproxy on loopback), as libcurl finds them in https_proxy / http_proxy: a
-- refused CONNECT is an error of kind "proxy" with the proxy's status, never retried; over plain
-- http a proxy's 407 is not the API refusing the token; a proxy password never shows in errors or
-- logs. Each case runs in a child process, which gets the proxy variables (Lua cannot set them).
local child = require "spec.helpers.child"
local cjson = require "cjson"
local logs = require "spec.helpers.logs"
local mock = require "spec.helpers.mock"
local pki = require "spec.helpers.pki"
local socket = require "socket"

local PASSWORD = logs.PROXY_PASSWORD

local function free_port()
  local s = assert(socket.bind("127.0.0.1", 0))
  local _, port = s:getsockname()
  s:close()
  return tonumber(port)
end

-- Starts tinyproxy with extra config lines; returns { port, pid, dir }.
local function start_tinyproxy(extra)
  local dir = os.tmpname()
  os.remove(dir)
  assert(os.execute("mkdir " .. child.quote(dir)))
  local port = free_port()
  local conf = assert(io.open(dir .. "/tinyproxy.conf", "w"))
  conf:write("Port ", port, "\nListen 127.0.0.1\nTimeout 10\nMaxClients 50\nAllow 127.0.0.1\n",
    'PidFile "', dir, '/pid"\nLogFile "', dir, '/log"\nLogLevel Info\n', extra, "\n")
  conf:close()
  assert(os.execute("tinyproxy -c " .. child.quote(dir .. "/tinyproxy.conf")))
  local pid
  for _ = 1, 50 do   -- at most ~5 s for the pid file and the port
    pid = child.read(dir .. "/pid")
    local c = pid and socket.connect("127.0.0.1", port)
    if c then c:close() break end
    socket.sleep(0.1)
  end
  assert(pid and pid:match("%d+"), "tinyproxy did not start")
  return { port = port, pid = pid:match("%d+"), dir = dir }
end

local function stop_tinyproxy(p)
  if not p then return end
  os.execute("kill " .. p.pid .. " 2>/dev/null")
  os.execute("rm -rf " .. child.quote(p.dir))
end

-- Runs client.me() in a child with `env`; returns what it saw.
local CODE = [[
local acedata = require "acedata"
local cjson = require "cjson"
local lines, infos = {}, {}
local c = acedata.new { base_url = os.getenv("T_BASE"), ca_file = os.getenv("T_CA"), timeout = 5,
  max_retries = 2, backoff_base = 0.01, backoff_cap = 0.02,
  log = function(line) lines[#lines + 1] = line end,
  on_response = function(info) infos[#infos + 1] = info end }
local me, err = c.me()
io.write(cjson.encode { ok = me ~= nil, id = me and me.id, kind = err and err.kind, status = err and err.status,
  attempts = err and err.attempts, text = err and tostring(err), log = table.concat(lines, "\n"),
  responses = #infos })
]]

local function me_through(env)
  local vars = { ACEDATACLOUD_PLATFORM_TOKEN = mock.TOKEN, ACEDATA_LOG = false, no_proxy = false, NO_PROXY = false,
    http_proxy = false, https_proxy = false, HTTPS_PROXY = false, ALL_PROXY = false, all_proxy = false }
  for k, v in pairs(env) do vars[k] = v end
  local out, ok = child.run(CODE, vars)
  assert(ok, out)
  local r = cjson.decode(out)
  logs.keep("spec/55-proxy_spec.lua", r.log .. "\n" .. (r.text or ""))
  return r
end

describe("through a forward proxy", function()
  local dir, plain_url, tls_url, tls_port, open_proxy, strict_proxy

  setup(function()
    dir = pki.make()
    plain_url, tls_url = pki.start_mock(dir, 30)
    tls_port = tls_url:match(":(%d+)$")
    -- asks for a password, tunnels to the TLS mock's port only
    open_proxy = start_tinyproxy("BasicAuth user " .. PASSWORD .. "\nConnectPort " .. tls_port)
    -- tunnels to port 443 only: a CONNECT to the mock is refused with 403
    strict_proxy = start_tinyproxy("ConnectPort 443")
  end)

  teardown(function()
    stop_tinyproxy(open_proxy)
    stop_tinyproxy(strict_proxy)
    pki.stop(dir, plain_url)
  end)

  local function proxy_url(p, with_password)
    return "http://" .. (with_password and ("user:" .. PASSWORD .. "@") or "") .. "127.0.0.1:" .. p.port
  end

  it("reaches the API over https through the tunnel, with the proxy's credentials", function()
    local r = me_through { T_BASE = tls_url, T_CA = dir .. "/ca.pem", https_proxy = proxy_url(open_proxy, true) }
    assert.is_true(r.ok, r.text)
    assert.equal(mock.dataset.USER_ID, r.id)
    assert.truthy(child.read(open_proxy.dir .. "/log"):find("CONNECT", 1, true))
  end)

  it("fails with kind proxy and the proxy's 403 when it refuses the CONNECT, without a retry", function()
    local r = me_through { T_BASE = tls_url, T_CA = dir .. "/ca.pem", https_proxy = proxy_url(strict_proxy) }
    assert.is_false(r.ok)
    assert.same({ "proxy", 403, 1, 1 }, { r.kind, r.status, r.attempts, r.responses })
    assert.matches("^acedata: proxy error %(HTTP 403%)", r.text)
    assert.matches(" 403 [%d.]+ms attempt=1 error=proxy", r.log)
  end)

  it("fails with kind proxy and 407 when the CONNECT lacks the proxy's credentials, without a retry", function()
    local r = me_through { T_BASE = tls_url, T_CA = dir .. "/ca.pem", https_proxy = proxy_url(open_proxy) }
    assert.same({ "proxy", 407, 1 }, { r.kind, r.status, r.attempts })
  end)

  it("over plain http, reads the proxy's 407 as a proxy error, not as the API refusing the token", function()
    local r = me_through { T_BASE = plain_url, http_proxy = proxy_url(open_proxy) }
    assert.same({ "proxy", 407, 1 }, { r.kind, r.status, r.attempts })
    assert.matches("Proxy Authentication Required", r.text)
    assert.is_nil(r.text:find("auth error", 1, true))
  end)

  it("over plain http, reads the proxy's 401 for a wrong password as a proxy error, not an auth error", function()
    local r = me_through { T_BASE = plain_url, http_proxy = "http://user:wrong@127.0.0.1:" .. open_proxy.port }
    assert.same({ "proxy", 401, 1 }, { r.kind, r.status, r.attempts })
    assert.matches("not from the API", r.text)
  end)

  it("still reads the API's own 401 as an auth error through the proxy", function()
    local r = me_through { T_BASE = plain_url, http_proxy = proxy_url(open_proxy, true),
      ACEDATACLOUD_PLATFORM_TOKEN = "platform-v1-" .. string.rep("ab", 32) }
    assert.same({ "auth", 401 }, { r.kind, r.status })
  end)

  it("over plain http with the credentials, reaches the API", function()
    local r = me_through { T_BASE = plain_url, http_proxy = proxy_url(open_proxy, true) }
    assert.is_true(r.ok, r.text)
  end)

  it("never shows the proxy's password in an error or a log line", function()
    local wrong = "http://user:wr0ng-" .. PASSWORD .. "@127.0.0.1:" .. open_proxy.port
    -- Under scripts/check/sanitize, LeakSanitizer's tracer crashes (signal 11, google/sanitizers#1353)
    -- at the exit of the child whose CONNECT tinyproxy refuses with 401: that child runs with ASan
    -- but without the leak check (which could not run anyway). An open question, not a report.
    local asan = os.getenv("ASAN_OPTIONS")
    local no_lsan = asan and (asan:gsub("detect_leaks=1", "detect_leaks=0")) or nil
    for _, env in ipairs {
      { T_BASE = tls_url, T_CA = dir .. "/ca.pem", https_proxy = wrong, ASAN_OPTIONS = no_lsan },
      { T_BASE = plain_url, http_proxy = wrong },
      { T_BASE = tls_url, T_CA = dir .. "/ca.pem", https_proxy = "http://user:" .. PASSWORD .. "@127.0.0.1:1" },
      { T_BASE = tls_url, T_CA = dir .. "/ca.pem", https_proxy = "http://user:" .. PASSWORD .. "@no-such-proxy.invalid:3128" },
    } do
      local r = me_through(env)
      assert.is_false(r.ok)
      assert.is_nil(r.text:find(PASSWORD, 1, true), r.text)
      assert.is_nil(r.log:find(PASSWORD, 1, true), r.log)
      assert.is_nil(r.text:find(mock.TOKEN, 1, true))
    end
  end)

  it("fails with kind proxy when the proxy's name does not resolve, without a retry", function()
    local r = me_through { T_BASE = tls_url, T_CA = dir .. "/ca.pem", https_proxy = "http://no-such-proxy.invalid:3128" }
    assert.same({ "proxy", 1 }, { r.kind, r.attempts })
  end)
end)
