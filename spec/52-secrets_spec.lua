-- Secrets: no error, and no string form of one, ever holds the token, whatever failed and
-- whatever the server echoed; tokens and values with control characters are refused before
-- anything is sent. (scripts/check/secrets scans the whole suite's output for the token.)
local acedata = require "acedata"
local mock = require "spec.helpers.mock"

local dataset = mock.dataset
local TOKEN = mock.TOKEN

--- Every string reachable from v (keys and values, metatables' __tostring output included).
local function strings_of(v, out, seen)
  out, seen = out or {}, seen or {}
  if type(v) == "string" then
    out[#out + 1] = v
  elseif type(v) == "table" and not seen[v] then
    seen[v] = true
    for k, x in pairs(v) do
      strings_of(k, out, seen)
      strings_of(x, out, seen)
    end
  end
  return out
end

local function assert_clean(err, what)
  assert.is_true(acedata.is_error(err), what .. ": not an acedata error: " .. tostring(err))
  local all = strings_of(err)
  all[#all + 1] = tostring(err)
  for _, s in ipairs(all) do
    -- plain find: the token itself, and its hex part alone
    assert.is_nil(s:find(TOKEN, 1, true), what .. ": the token appears in the error")
    assert.is_nil(s:find(TOKEN:sub(13), 1, true), what .. ": the token's digits appear in the error")
  end
end

local function closed_port()
  local s = assert(require("socket").bind("127.0.0.1", 0))
  local _, port = s:getsockname()
  s:close()
  return port
end

describe("secrets", function()
  before_each(function()
    mock.reset()
    mock.config { records = 30 }
  end)

  -- name, faults (nil: none), client options, call(client) -> value, err
  local CASES = {
    { "401 for a wrong token", nil, { token = dataset.OTHER_TOKEN .. "0" } },
    { "403 for another user", nil, {}, function(c) return c.usage.proxies { user_id = dataset.OTHER_USER_ID } end },
    { "404 from get()", nil, {}, function(c) return c.usage.proxies.get("no-such-id") end },
    { "400 for a bad parameter", nil, {}, function(c) return c.usage.proxies { ordering = "bogus" } end },
    { "500 that persists", { fault = "status", status = 500, times = -1 } },
    { "429 with Retry-After beyond the cap", { fault = "status", status = 429, headers = { ["Retry-After"] = "999" } } },
    { "an error body that echoes the token",
      { fault = "status", status = 400, body = '{"detail":"bad token ' .. TOKEN .. '","code":"' .. TOKEN .. '"}' } },
    { "an error body in the platform form that echoes the token",
      { fault = "status", status = 403, body = '{"error":{"code":"' .. TOKEN .. '","message":"Bearer ' .. TOKEN .. '"}}' } },
    { "a request id header that echoes the token",
      { fault = "status", status = 502, times = -1, headers = { ["X-Request-Id"] = TOKEN } } },
    { "validation errors that echo the token",
      { fault = "status", status = 422, body = '{"' .. TOKEN .. '":["' .. TOKEN .. '"]}' } },
    { "a malformed body", { fault = "malformed", times = -1 } },
    { "a page of the wrong shape", { fault = "status", status = 200, body = '{"token":"' .. TOKEN .. '"}' } },
    { "a reset before the headers", { fault = "reset_before_headers", times = -1 } },
    { "a reset mid-body", { fault = "reset_mid_body", times = -1 } },
    { "a short body", { fault = "short_body", times = -1 } },
    { "a timeout", { fault = "slow_first_byte", delay = 1, times = -1 }, { timeout = 0.2 } },
    { "a refused connection", nil, { base_url = "http://127.0.0.1:" .. closed_port() } },
    { "a redirect to a refused port",
      { fault = "redirect", times = -1, location = "http://127.0.0.1:" .. closed_port() .. "/x" } },
    { "a TLS failure", nil, { base_url = "https://127.0.0.1:" .. closed_port(), ca_file = "/nonexistent/ca.pem" } },
    { "a deadline", { fault = "slow_first_byte", delay = 1, times = -1 }, { deadline = 0.2 } },
    { "the token as a filter value (it is in the URL)", { fault = "status", status = 500, times = -1 }, {},
      function(c) return c.usage.proxies { application_id = TOKEN } end },
    { "the token in a URL of a wrong-shaped page", { fault = "status", status = 200, body = "[]" }, {},
      function(c) return c.usage.proxies { proxy_id = { "p", TOKEN } } end },
    { "me() failing", { fault = "status", status = 503, route = "me", times = -1 }, {}, function(c) return c.me() end },
  }

  for _, case in ipairs(CASES) do
    local name, faults, opts, call = case[1], case[2], case[3] or {}, case[4]
    it("are absent from the error for " .. name, function()
      if faults then mock.faults(faults) end
      local o = { max_retries = 1 }
      for k, v in pairs(opts) do o[k] = v end
      local c = mock.client(o)
      local v, err = (call or function(cl) return cl.usage.proxies { user_id = dataset.USER_ID } end)(c)
      assert.is_nil(v)
      assert_clean(err, name)
    end)
  end

  it("are absent from errors raised by each{}, and by all{} concurrently", function()
    mock.faults { fault = "status", status = 500, times = -1, offset = 10, body = '{"detail":"' .. TOKEN .. '"}' }
    local ok, err = pcall(function() for _ in mock.client { max_retries = 1 }.usage.proxies.each { page_size = 10 } do end end)
    assert.is_false(ok)
    assert_clean(err, "each{}")
    local list, err2 = mock.client { max_retries = 1 }.usage.proxies.all { page_size = 10, concurrency = 3 }
    assert.is_nil(list)
    assert_clean(err2, "all{} with concurrency")
  end)

  it("are scrubbed from a misuse error that quotes a value holding the token", function()
    local ok, msg = pcall(function() mock.client().usage.proxies { created_at_from = "x" .. TOKEN } end)
    assert.is_false(ok)
    assert.matches("52%-secrets_spec%.lua:%d+: acedata: created_at_from must be an ISO 8601 time", msg)
    assert.is_nil(msg:find(TOKEN, 1, true))
    assert.equal(0, #mock.log())
  end)

  it("are scrubbed from the same misuse error raised by each{}", function()
    local ok, msg = pcall(function() mock.client().usage.proxies.each { created_at_from = TOKEN } end)
    assert.is_false(ok)
    assert.matches("52%-secrets_spec%.lua:%d+: acedata: created_at_from", msg)
    assert.is_nil(msg:find(TOKEN, 1, true))
  end)

  it("are never logged by the mock (it only records whether a header was sent)", function()
    assert(mock.client().usage.proxies { limit = 1 })
    for _, e in ipairs(mock.log()) do
      for _, s in ipairs(strings_of(e)) do assert.is_nil(s:find(TOKEN, 1, true)) end
    end
  end)

  describe("control characters", function()
    local BAD = { "\r", "\n", "\r\n", "\0", "\t", "\27", "\127", "\1" }

    local function names(c)
      return ({ ["\r"] = "CR", ["\n"] = "LF", ["\r\n"] = "CRLF", ["\0"] = "NUL", ["\t"] = "TAB",
                ["\27"] = "ESC", ["\127"] = "DEL", ["\1"] = "SOH" })[c]
    end

    for _, ch in ipairs(BAD) do
      it("in the token (" .. names(ch) .. ") are refused, the token not repeated, nothing sent", function()
        local token = TOKEN .. ch .. "X-Injected: 1"
        local ok, msg = pcall(acedata.new, { token = token, base_url = mock.url() })
        assert.is_false(ok)
        assert.equal("acedata: token contains a control character", (msg:gsub("^.-:%d+: ", "")))
        assert.is_nil(msg:find(TOKEN, 1, true))
        assert.equal(0, #mock.log())
      end)

      it("in a parameter (" .. names(ch) .. ") are refused before anything is sent", function()
        local c = mock.client()
        for _, params in ipairs {
          { application_id = "app" .. ch .. "x" }, { proxy_id = { "ok", "p" .. ch } },
          { user_id = "u" .. ch }, { ordering = "-created_at" .. ch }, { created_at_from = "2024-08-01" .. ch },
        } do
          assert.has_error(function() c.usage.proxies(params) end)
          assert.has_error(function() c.usage.proxies.each(params) end)
          local ok = pcall(c.usage.proxies.all, params)
          assert.is_false(ok)
        end
        assert.has_error(function() c.usage.proxies.get("id" .. ch) end)
        assert.equal(0, #mock.log())
      end)
    end

    it("in the base_url or user_agent are refused", function()
      for _, ch in ipairs(BAD) do
        assert.has_error(function() acedata.new { token = TOKEN, base_url = mock.url() .. ch } end)
        assert.has_error(function() acedata.new { token = TOKEN, base_url = mock.url(), user_agent = "a" .. ch } end)
      end
      assert.equal(0, #mock.log())
    end)

    it("in header lines are refused by the C core too (the backstop)", function()
      local s = require("acedata.core").session {}
      for _, ch in ipairs { "\r", "\n", "\0" } do
        assert.has_error(function() s:get(mock.url() .. "/api/v1/platform-tokens/me/", { "Authorization: Bearer x" .. ch }) end)
      end
      s:close()
      assert.equal(0, #mock.log())
    end)
  end)
end)
