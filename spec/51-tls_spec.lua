-- TLS and where the token may go: a CA and a server certificate for "localhost" are made at test
-- time with openssl, a mock of our own serves the API over HTTPS (mock/server start --tls), and
-- the shared mock checks redirects.
local acedata = require "acedata"
local cjson = require "cjson"
local http = require "socket.http"
local mock = require "spec.helpers.mock"

local dataset = mock.dataset

local function sh_quote(s) return "'" .. s:gsub("'", "'\\''") .. "'" end

local function run(cmd)
  local ok = os.execute(cmd .. " >/dev/null 2>&1")
  assert(ok == true or ok == 0, "command failed: " .. cmd)
end

-- A CA, and a certificate for DNS:localhost only, signed by it.
local function make_pki(dir)
  local q = function(name) return sh_quote(dir .. "/" .. name) end
  local ec = "-newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes"
  run("openssl req -x509 " .. ec .. " -keyout " .. q("ca.key") .. " -out " .. q("ca.pem")
    .. " -days 2 -subj '/CN=acedata test CA' -addext basicConstraints=critical,CA:TRUE"
    .. " -addext keyUsage=critical,keyCertSign,cRLSign")
  run("openssl req " .. ec .. " -keyout " .. q("server.key") .. " -out " .. q("server.csr") .. " -subj /CN=localhost")
  local ext = assert(io.open(dir .. "/server.ext", "w"))
  ext:write("subjectAltName=DNS:localhost\nbasicConstraints=CA:FALSE\n",
    "keyUsage=digitalSignature\nextendedKeyUsage=serverAuth\n")
  ext:close()
  run("openssl x509 -req -in " .. q("server.csr") .. " -CA " .. q("ca.pem") .. " -CAkey " .. q("ca.key")
    .. " -CAcreateserial -days 2 -out " .. q("server.pem") .. " -extfile " .. q("server.ext"))
end

-- The TLS mock's control API (over its plain port).
local function control(base, method, path, body)
  local chunks, payload = {}, body and cjson.encode(body)
  local ok, status = http.request {
    url = base .. path, method = method, sink = require("ltn12").sink.table(chunks),
    headers = payload and { ["content-type"] = "application/json", ["content-length"] = #payload } or nil,
    source = payload and require("ltn12").source.string(payload) or nil,
  }
  assert(ok and status == 200, "control " .. path .. ": " .. tostring(status))
  local text = table.concat(chunks)
  return text ~= "" and cjson.decode(text) or nil
end

describe("TLS", function()
  local dir, plain_url, tls_url, tls_port

  setup(function()
    dir = os.tmpname()
    os.remove(dir)
    run("mkdir -p " .. sh_quote(dir))
    make_pki(dir)
    local p = io.popen("mock/server start --records 30 --tls " .. sh_quote(dir .. "/server.pem") .. " "
      .. sh_quote(dir .. "/server.key") .. " 2>&1")
    local out = p:read("*a")
    p:close()
    plain_url = out:match("ACEDATA_MOCK_URL=(%S+)")
    tls_url = out:match("ACEDATA_MOCK_TLS_URL=(%S+)")
    assert(plain_url and tls_url, "the TLS mock did not start: " .. out)
    tls_port = tls_url:match(":(%d+)$")
  end)

  teardown(function()
    if plain_url then os.execute("mock/server stop " .. sh_quote(plain_url) .. " >/dev/null 2>&1") end
    if dir then os.execute("rm -rf " .. sh_quote(dir)) end
  end)

  before_each(function()
    control(plain_url, "POST", "/__mock/reset")
  end)

  local function client(opts)
    local o = { token = mock.TOKEN, base_url = "https://localhost:" .. tls_port, timeout = 5,
                max_retries = 2, backoff_base = 0.01, backoff_cap = 0.02 }
    for k, v in pairs(opts or {}) do o[k] = v end
    return acedata.new(o)
  end

  it("refuses a certificate it cannot verify, by default, without retrying", function()
    local page, err = client().usage.proxies { user_id = dataset.USER_ID }
    assert.is_nil(page)
    assert.same({ "tls", 1 }, { err.kind, err.attempts })
    assert.is_nil(tostring(err):find(mock.TOKEN, 1, true))
    assert.same({}, control(plain_url, "GET", "/__mock/log"))   -- no request got through
  end)

  it("trusts the server with ca_file", function()
    local page = assert(client { ca_file = dir .. "/ca.pem" }.usage.proxies { limit = 5 })
    assert.equal(30, page.count)
    assert.equal(5, #page.results)
    local log = control(plain_url, "GET", "/__mock/log")
    assert.is_true(log[#log].authorization_present)
  end)

  it("iterates every record over TLS", function()
    local n = 0
    for _ in client { ca_file = dir .. "/ca.pem" }.usage.proxies.each { page_size = 7 } do n = n + 1 end
    assert.equal(30, n)
  end)

  -- libcurl speaks HTTP/2 over TLS when the server offers it, and multiplexes the requests in
  -- flight on one connection; over HTTP/1.1 (spec 42) concurrency = n opens up to n connections.
  it("multiplexes each{concurrency = 4} on one HTTP/2 connection", function()
    control(plain_url, "POST", "/__mock/config", { page_delay_ms = 30 })
    local c = client { ca_file = dir .. "/ca.pem" }
    local n = 0
    for _ in c.usage.proxies.each { page_size = 3, concurrency = 4 } do n = n + 1 end
    assert.equal(30, n)
    local conns, lists, protocols = {}, 0, {}
    for _, r in ipairs(control(plain_url, "GET", "/__mock/log")) do
      if r.route == "list" then
        lists = lists + 1
        protocols[r.protocol] = true
        if not conns[r.connection_id] then conns[r.connection_id] = true conns[#conns + 1] = r.connection_id end
      end
    end
    assert.equal(10, lists)
    assert.same({ ["HTTP/2.0"] = true }, protocols)
    assert.equal(1, #conns)
  end)

  it("refuses a certificate for another host name, even from a trusted CA", function()
    -- the certificate names localhost only; 127.0.0.1 is the same server under another name
    local c = client { ca_file = dir .. "/ca.pem", base_url = "https://127.0.0.1:" .. tls_port }
    local page, err = c.usage.proxies { user_id = dataset.USER_ID }
    assert.is_nil(page)
    assert.same({ "tls", 1 }, { err.kind, err.attempts })
    assert.same({}, control(plain_url, "GET", "/__mock/log"))
  end)

  it("fails with kind tls when ca_file cannot be read", function()
    local _, err = client { ca_file = dir .. "/missing.pem" }.usage.proxies { user_id = dataset.USER_ID }
    assert.equal("tls", err.kind)
  end)

  it("does not verify with ssl_verify = false", function()
    local page = assert(client { ssl_verify = false, base_url = "https://127.0.0.1:" .. tls_port }
      .usage.proxies { limit = 1 })
    assert.equal(30, page.count)
  end)

  it("drops the Authorization header on a redirect to another port of the same address", function()
    -- from the shared mock (127.0.0.1:P1) to this one's plain port (127.0.0.1:P2)
    mock.reset()
    mock.faults { fault = "redirect", route = "me", location = plain_url .. "/api/v1/platform-tokens/me/" }
    local me, err = mock.client().me()
    assert.is_nil(me)
    assert.same({ "auth", 401 }, { err.kind, err.status })
    assert.is_true(mock.log()[1].authorization_present)
    local log = control(plain_url, "GET", "/__mock/log")
    assert.equal(1, #log)
    assert.is_false(log[1].authorization_present)
  end)

  it("drops the Authorization header on a redirect from https to plain http", function()
    local plain_port = plain_url:match(":(%d+)$")
    control(plain_url, "POST", "/__mock/faults", { fault = "redirect", route = "me",
      location = "http://localhost:" .. plain_port .. "/api/v1/platform-tokens/me/" })
    local me, err = client { ca_file = dir .. "/ca.pem" }.me()
    assert.is_nil(me)
    assert.same({ "auth", 401 }, { err.kind, err.status })
    local log = control(plain_url, "GET", "/__mock/log")
    assert.equal(2, #log)
    assert.is_true(log[1].authorization_present)
    assert.is_false(log[2].authorization_present)
  end)
end)

describe("where the token goes", function()
  before_each(function()
    mock.reset()
    mock.config { records = 20 }
  end)

  describe("plain http://", function()
    it("is refused to a host that is not loopback, before anything is sent", function()
      for _, url in ipairs { "http://example.com", "http://10.0.0.1:8080", "http://127.0.0.1.example.com",
                             "http://localhost.example.com/api" } do
        assert.has_error(function() acedata.new { token = mock.TOKEN, base_url = url } end)
      end
    end)

    it("is refused when user information hides the real host", function()
      -- curl reads "http://127.0.0.1:80@example.com/" as user 127.0.0.1 at example.com
      for _, url in ipairs { "http://127.0.0.1:80@example.com/", "http://localhost@example.com",
                             "https://user:pw@example.com" } do
        assert.has_error(function() acedata.new { token = mock.TOKEN, base_url = url } end,
          "acedata: base_url must not contain user information (user@ or user:password@)")
      end
    end)

    it("is allowed to loopback hosts", function()
      for _, url in ipairs { "http://127.0.0.1:1", "http://localhost:1", "http://127.1.2.3", "http://[::1]:1",
                             "http://LOCALHOST" } do
        assert.is_table(acedata.new { token = mock.TOKEN, base_url = url })
      end
    end)

    it("is allowed to any host with allow_insecure = true", function()
      assert.is_table(acedata.new { token = mock.TOKEN, base_url = "http://example.com", allow_insecure = true })
    end)

    it("is refused for PLATFORM_API_BASE_URL too", function()
      local child = require "spec.helpers.child"
      local out, ok = child.run([[
        local ok, err = pcall(require("acedata").new, { token = "platform-v1-x" })
        print(ok, err)
      ]], { PLATFORM_API_BASE_URL = "http://example.com" })
      assert.is_true(ok, out)
      assert.truthy(out:find("false\tacedata: refusing to send the token over plain http:// to example.com", 1, true), out)
    end)
  end)

  describe("redirects", function()
    local function list_path() return "/api/v1/usage/proxies/?user_id=" .. dataset.USER_ID .. "&limit=1" end

    it("keep the Authorization header on the same host", function()
      mock.faults { fault = "redirect", location = list_path() }
      local page = assert(mock.client().usage.proxies { user_id = dataset.USER_ID, limit = 2 })
      assert.equal(1, #page.results)
      local log = mock.log()
      assert.equal(2, #log)
      assert.same({ true, true }, { log[1].authorization_present, log[2].authorization_present })
    end)

    it("never carry the Authorization header to another host name", function()
      -- the same mock, reached as localhost instead of 127.0.0.1: another host to libcurl
      local port = mock.url():match(":(%d+)$")
      mock.faults { fault = "redirect", location = "http://localhost:" .. port .. list_path() }
      local page, err = mock.client().usage.proxies { user_id = dataset.USER_ID, limit = 2 }
      assert.is_nil(page)
      assert.same({ "auth", 401, 1 }, { err.kind, err.status, err.attempts })
      local log = mock.log()
      assert.equal(2, #log)
      assert.is_true(log[1].authorization_present)
      assert.is_false(log[2].authorization_present)
    end)
  end)
end)
