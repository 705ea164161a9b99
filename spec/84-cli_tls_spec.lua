-- The `acedata` command behind a private CA (a company CA, a TLS-inspecting proxy): it trusts the
-- CA given by --ca-file, $CURL_CA_BUNDLE or $SSL_CERT_FILE, against a mock serving HTTPS with a
-- certificate from a CA made at test time.
local child = require "spec.helpers.child"
local cjson = require "cjson"
local mock = require "spec.helpers.mock"
local pki = require "spec.helpers.pki"

describe("acedata behind a private CA", function()
  local dir, plain_url, tls_url

  setup(function()
    dir = pki.make()
    plain_url, tls_url = pki.start_mock(dir, 30)
  end)

  teardown(function()
    pki.stop(dir, plain_url)
  end)

  local function acedata(argv, env)
    local vars = { ACEDATACLOUD_PLATFORM_TOKEN = mock.TOKEN, PLATFORM_API_BASE_URL = tls_url,
      PLATFORM_REQUEST_TIMEOUT = "5", CURL_CA_BUNDLE = false, SSL_CERT_FILE = false }
    for k, v in pairs(env or {}) do vars[k] = v end
    local words = { child.interpreter(), "bin/acedata" }
    for _, a in ipairs(argv) do words[#words + 1] = a end
    return child.exec(words, vars)
  end

  it("refuses the server without the CA (exit 1, a tls error)", function()
    local out, err, status = acedata { "me" }
    assert.equal(1, status)
    assert.equal("", out)
    assert.matches("^acedata: tls error", err)
  end)

  it("trusts the CA given by --ca-file", function()
    local out, err, status = acedata { "usage", "proxies", "--format", "jsonl", "--ca-file", dir .. "/ca.pem" }
    assert.equal(0, status, err)
    local n = 0
    for line in out:gmatch("[^\n]+") do
      assert.is_string(cjson.decode(line).id)
      n = n + 1
    end
    assert.equal(30, n)
  end)

  it("trusts the CA of $CURL_CA_BUNDLE, then of $SSL_CERT_FILE", function()
    local out, err, status = acedata({ "me", "--format", "json" }, { CURL_CA_BUNDLE = dir .. "/ca.pem" })
    assert.equal(0, status, err)
    assert.equal(mock.dataset.USER_ID, cjson.decode(out).id)
    out, err, status = acedata({ "me", "--format", "json" }, { SSL_CERT_FILE = dir .. "/ca.pem" })
    assert.equal(0, status, err)
    assert.equal(mock.dataset.USER_ID, cjson.decode(out).id)
  end)

  it("prefers --ca-file to $CURL_CA_BUNDLE, and $CURL_CA_BUNDLE to $SSL_CERT_FILE", function()
    local wrong = "/etc/ssl/certs/ca-certificates.crt"   -- the public CAs: not ours
    local _, err, status = acedata({ "me", "--ca-file", dir .. "/ca.pem" }, { CURL_CA_BUNDLE = wrong })
    assert.equal(0, status, err)
    _, err, status = acedata({ "me" }, { CURL_CA_BUNDLE = wrong, SSL_CERT_FILE = dir .. "/ca.pem" })
    assert.equal(1, status)
    assert.matches("tls error", err)
  end)

  it("refuses a --ca-file that cannot be read, before any request (exit 2)", function()
    local out, err, status = acedata { "me", "--ca-file", dir .. "/missing.pem" }
    assert.equal(2, status)
    assert.equal("", out)
    assert.matches("^acedata: %-%-ca%-file: cannot read", err)
  end)
end)

describe("acedata.new's ca_file default", function()
  it("comes from CURL_CA_BUNDLE, then SSL_CERT_FILE; an explicit ca_file wins", function()
    local code = [[
      local acedata = require "acedata"
      local c = acedata.new { token = "platform-v1-x", base_url = "http://127.0.0.1:1" }
      local d = acedata.new { token = "platform-v1-x", base_url = "http://127.0.0.1:1", ca_file = "/given.pem" }
      print("ca_file=" .. tostring(c.cfg.ca_file) .. " given=" .. d.cfg.ca_file)
    ]]
    local out, ok = child.run(code, { CURL_CA_BUNDLE = "/a.pem", SSL_CERT_FILE = "/b.pem" })
    assert.is_true(ok, out)
    assert.matches("ca_file=/a.pem given=/given.pem", out)
    out, ok = child.run(code, { CURL_CA_BUNDLE = "", SSL_CERT_FILE = "/b.pem" })
    assert.is_true(ok, out)
    assert.matches("ca_file=/b.pem ", out)
    out = child.run(code, { CURL_CA_BUNDLE = false, SSL_CERT_FILE = false })
    assert.matches("ca_file=nil ", out)
  end)
end)
