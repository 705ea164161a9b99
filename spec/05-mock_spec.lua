-- The mock API itself: the data set module (pure Lua) and the HTTP behaviour of the running
-- mock at $ACEDATA_MOCK_URL (started here with mock/server when the variable is not set).
-- Requests go through LuaSocket, so the token never appears on a command line.

local http = require "socket.http"
local ltn12 = require "ltn12"
local socket = require "socket"
local cjson = require "cjson"

local ROOT = (debug.getinfo(1, "S").source:match("^@(.*)/spec/[^/]*$")) or "."
package.path = ROOT .. "/?.lua;" .. package.path
local dataset = require "mock.dataset"

local TOKEN, USER_ID = dataset.TOKEN, dataset.USER_ID
local LIST = "/api/v1/usage/proxies/"
local APP1, APP2, APP3 = dataset.APPLICATIONS[1], dataset.APPLICATIONS[2], dataset.APPLICATIONS[3]

local base -- URL of the mock
local started_here = false

local function request(method, path, opts)
  opts = opts or {}
  local headers = {}
  for k, v in pairs(opts.headers or {}) do headers[k] = v end
  if opts.token ~= false then headers.authorization = "Bearer " .. (opts.token or TOKEN) end
  local source
  if opts.body then
    local body = type(opts.body) == "string" and opts.body or cjson.encode(opts.body)
    source = ltn12.source.string(body)
    headers["content-length"] = tostring(#body)
    headers["content-type"] = "application/json"
  end
  local chunks = {}
  local ok, code, resp_headers = http.request({
    url = base .. path, method = method, headers = headers, source = source,
    sink = ltn12.sink.table(chunks), redirect = false,
  })
  if not ok then return nil, code end
  local body = table.concat(chunks)
  return { status = code, headers = resp_headers, body = body }
end

local function decode(resp)
  return cjson.decode(resp.body)
end

local function get(path, opts) return request("GET", path, opts) end

local function control(method, what, body)
  local resp = assert(request(method, "/__mock/" .. what, { token = false, body = body }))
  assert.are.equal(200, resp.status, resp.body)
  return decode(resp)
end

-- "?user_id=...&k=v..." from a list of {k, v} pairs (keys may repeat).
local function qs(pairs_list)
  local parts = { "user_id=" .. USER_ID }
  for _, kv in ipairs(pairs_list or {}) do parts[#parts + 1] = kv[1] .. "=" .. kv[2] end
  return "?" .. table.concat(parts, "&")
end

local function list(pairs_list, opts)
  local resp = assert(get(LIST .. qs(pairs_list), opts))
  assert.are.equal(200, resp.status, resp.body)
  return decode(resp), resp
end

local function ids(page)
  local out = {}
  for k, rec in ipairs(page.items or page.results) do out[k] = rec.id end
  return out
end

local function urlencode(s)
  return (s:gsub("[^%w%-%._~]", function(c) return string.format("%%%02X", c:byte()) end))
end

describe("mock dataset", function()
  it("computes the same record for the same index", function()
    assert.are.same(dataset.record(123), dataset.record(123))
    assert.are_not.same(dataset.record(123).id, dataset.record(124).id)
    assert.are.equal(USER_ID, dataset.record(77).user_id)
  end)

  it("gives unique ids that map back to their index", function()
    local seen = {}
    for i = 1, 5000 do
      local id = dataset.record(i).id
      assert.is_nil(seen[id])
      seen[id] = true
      assert.are.equal(i, dataset.index_of(id))
    end
    assert.is_nil(dataset.index_of("00000000-0000-7000-8000-000000000000"))
    assert.is_nil(dataset.index_of("not-an-id"))
  end)

  it("keeps amounts multiples of 1/1024 below 10000", function()
    for i = 1, 3000 do
      local r = dataset.record(i)
      for _, f in ipairs({ "remaining_amount", "used_amount", "deducted_amount", "original_amount" }) do
        local k = r[f] * 1024
        assert.is_true(k == math.floor(k) and r[f] >= 0 and r[f] < 10000, f .. " of record " .. i)
      end
    end
  end)

  it("creates records in ascending time, 37 s apart from 2024-08-01", function()
    local prev = 0
    for i = 1, 2000 do
      local t = assert(dataset.parse_iso8601(dataset.record(i).created_at))
      assert.is_true(t > prev)
      assert.is_true(t >= 1722470400 + i * 37 and t < 1722470400 + i * 37 + 1)
      prev = t
    end
    assert.are.equal("2024-08-01T10:16:40Z", dataset.record(1000).created_at) -- every 1000th: whole second
  end)

  it("formats and parses ISO 8601", function()
    assert.are.equal("2024-08-01T00:00:00Z", dataset.iso8601(1722470400))
    local stamp = "2024-08-16T07:51:15.603207Z"
    assert.are.equal(stamp, dataset.iso8601(dataset.parse_iso8601(stamp)))
    assert.are.equal(1722470400, dataset.parse_iso8601("2024-08-01"))
    assert.are.equal(1722470400, dataset.parse_iso8601("2024-08-01T00:00:00+00:00"))
    assert.are.equal(1722470400, dataset.parse_iso8601("2024-08-01T02:00:00+02:00"))
    assert.are.equal(1722470400.5, dataset.parse_iso8601("2024-08-01T00:00:00.5Z"))
    assert.are.equal(951782400, dataset.parse_iso8601("2000-02-29"))
    assert.is_nil(dataset.parse_iso8601("2023-02-29"))
    assert.is_nil(dataset.parse_iso8601("2024-08-01T00:00:00 00:00"))
    assert.is_nil(dataset.parse_iso8601("yesterday"))
  end)

  it("encodes records as JSON that decodes back to the record", function()
    for _, i in ipairs({ 1, 7, 49, 50, 100, 1000 }) do
      local rec = dataset.record(i)
      local back = cjson.decode(dataset.encode_record(rec))
      if rec.metadata.finish_reason == dataset.null then
        assert.are.equal(cjson.null, back.metadata.finish_reason)
        back.metadata.finish_reason = dataset.null
      end
      assert.are.same(rec, back)
    end
  end)

  it("has a fast record_json giving the same bytes as encode_record", function()
    for i = 1, 2000 do
      assert.are.equal(dataset.encode_record(dataset.record(i)), dataset.record_json(i))
    end
    assert.are.equal(dataset.encode_record(dataset.record(77, 3)), dataset.record_json(77, 3))
  end)

  it("writes the note raw (100) or with \\u escapes (50), same text either way", function()
    local raw, escaped = dataset.encode_record(dataset.record(100)), dataset.encode_record(dataset.record(50))
    assert.truthy(raw:find("🚀", 1, true))
    assert.truthy(escaped:find("\\ud83d\\ude80", 1, true))
    assert.are.equal(dataset.NOTE, cjson.decode(raw).metadata.note)
    assert.are.equal(dataset.NOTE, cjson.decode(escaped).metadata.note)
  end)

  it("prints floats like Python", function()
    assert.are.equal("5.0", dataset.encode_float(5))
    assert.are.equal("0.0009765625", dataset.encode_float(1 / 1024))
    assert.are.equal("0.1", dataset.encode_float(0.1))
    assert.are.equal("[1,2.5,null,true]", dataset.to_json({ 1, 2.5, dataset.null, true }))
    assert.are.equal('{"a":"x\\"y","b":{}}', dataset.to_json({ b = setmetatable({}, dataset.object_mt), a = 'x"y' }))
  end)

  it("totals the records exactly", function()
    local t = dataset.totals(500)
    local used, count = 0, 0
    for i = 1, 500 do used = used + dataset.record(i).used_amount end
    for _, b in pairs(t.by_service) do count = count + b.count end
    assert.are.equal(500, t.count)
    assert.are.equal(500, count)
    assert.are.equal(used, t.used)
  end)
end)

describe("mock API", function()
  setup(function()
    base = os.getenv("ACEDATA_MOCK_URL")
    if not base or base == "" then
      local p = assert(io.popen(ROOT .. "/mock/server start"))
      local line = p:read("*l")
      p:close()
      base = assert(line and line:match("^ACEDATA_MOCK_URL=(%S+)$"), "mock/server start failed")
      started_here = true
    end
    base = base:gsub("/+$", "")
  end)

  teardown(function()
    if base then pcall(request, "POST", "/__mock/reset", { token = false }) end
    if started_here then os.execute(ROOT .. "/mock/server stop " .. base .. " 2>/dev/null") end
  end)

  before_each(function()
    control("POST", "reset")
  end)

  describe("authentication", function()
    it("answers 401 with the detail form when no token is sent", function()
      local resp = assert(get(LIST .. qs(), { token = false }))
      assert.are.equal(401, resp.status)
      assert.are.same({ detail = "Authentication credentials were not provided." }, decode(resp))
      assert.matches("^application/json", resp.headers["content-type"])
      assert.truthy(resp.headers["x-request-id"])
    end)

    it("answers 401 with the error form for a wrong token", function()
      local resp = assert(get(LIST .. qs(), { token = "platform-v1-" .. string.rep("0", 64) }))
      assert.are.equal(401, resp.status)
      assert.are.same({ error = { code = "invalid_token", message = "Invalid token." } }, decode(resp))
    end)

    it("gives each response its own X-Request-Id", function()
      local a, b = assert(get(LIST .. qs())), assert(get(LIST .. qs()))
      assert.are_not.equal(a.headers["x-request-id"], b.headers["x-request-id"])
    end)

    it("answers 403 permission_denied without user_id or for another user", function()
      for _, path in ipairs({ LIST, LIST .. "?user_id=" .. dataset.OTHER_USER_ID }) do
        local resp = assert(get(path))
        assert.are.equal(403, resp.status)
        assert.are.equal("permission_denied", decode(resp).error.code)
      end
    end)

    it("serves /platform-tokens/me/ for each token", function()
      local resp = assert(get("/api/v1/platform-tokens/me/"))
      assert.are.equal(200, resp.status)
      assert.are.same(dataset.ME, decode(resp))
      resp = assert(get("/api/v1/platform-tokens/me/", { token = dataset.OTHER_TOKEN }))
      assert.are.equal(dataset.OTHER_USER_ID, decode(resp).id)
    end)

    it("shows another user an empty list", function()
      local resp = assert(get(LIST .. "?user_id=" .. dataset.OTHER_USER_ID, { token = dataset.OTHER_TOKEN }))
      assert.are.equal(200, resp.status)
      assert.are.same({ count = 0, items = {} }, decode(resp))
    end)
  end)

  describe("paging", function()
    it("defaults to 10 newest records with the total count", function()
      local page = list()
      assert.are.equal(1000, page.count)
      assert.are.equal(10, #page.items)
      assert.are.equal(dataset.record(1000).id, page.items[1].id)
      assert.are.equal(dataset.record(991).id, page.items[10].id)
    end)

    it("pages with limit and offset consistently", function()
      local all = ids(list({ { "limit", 30 } }))
      local a = ids(list({ { "limit", 10 }, { "offset", 0 } }))
      local b = ids(list({ { "limit", 20 }, { "offset", 10 } }))
      for k = 1, 10 do assert.are.equal(all[k], a[k]) end
      for k = 1, 20 do assert.are.equal(all[10 + k], b[k]) end
      assert.are.equal(5, #list({ { "offset", 995 } }).items)
      local past = list({ { "offset", 5000 } })
      assert.are.equal(1000, past.count)
      assert.are.equal(0, #past.items)
    end)

    it("clamps limit to 1000", function()
      control("POST", "config", { records = 1500 })
      assert.are.equal(1000, #list({ { "limit", 5000 } }).items)
    end)

    it("rejects a negative or non-integer limit/offset with 400", function()
      for _, kv in ipairs({ { "limit", "-1" }, { "limit", "abc" }, { "offset", "1.5" }, { "offset", "" } }) do
        local resp = assert(get(LIST .. qs({ kv })))
        assert.are.equal(400, resp.status)
        assert.are.equal("invalid_parameter", decode(resp).error.code)
      end
    end)

    it("serves the results shape when configured", function()
      control("POST", "config", { shape = "results" })
      local page = list({ { "limit", 3 } })
      assert.are.equal(1000, page.count)
      assert.are.equal(3, #page.results)
      assert.are.equal(cjson.null, page.next)
      assert.is_nil(page.items)
    end)

    it("sizes the data set with config records", function()
      control("POST", "config", { records = 42 })
      local page = list({ { "limit", 100 } })
      assert.are.equal(42, page.count)
      assert.are.equal(42, #page.items)
      assert.are.equal(42, control("GET", "totals").count)
    end)

    it("ignores unknown parameters and accepts the path without trailing slash", function()
      local resp = assert(get("/api/v1/usage/proxies" .. qs({ { "foo", "bar" } })))
      assert.are.equal(200, resp.status)
      assert.are.equal(1000, decode(resp).count)
    end)

    it("compresses with gzip when asked", function()
      local resp = assert(get(LIST .. qs({ { "limit", 50 } }), { headers = { ["accept-encoding"] = "gzip" } }))
      assert.are.equal("gzip", resp.headers["content-encoding"])
    end)
  end)

  describe("filters", function()
    local totals
    before_each(function() totals = control("GET", "totals") end)

    it("filters by application_id, repeated keys meaning OR", function()
      local one = list({ { "application_id", APP1 }, { "limit", 1000 } })
      assert.are.equal(totals.by_application[APP1].count, one.count)
      for _, rec in ipairs(one.items) do assert.are.equal(APP1, rec.application_id) end
      local two = list({ { "application_id", APP1 }, { "application_id", APP3 } })
      assert.are.equal(totals.by_application[APP1].count + totals.by_application[APP3].count, two.count)
      assert.are.equal(totals.by_application[APP2].count + two.count, 1000)
    end)

    it("filters by proxy_id", function()
      local proxy = dataset.PROXIES[2]
      local page = list({ { "proxy_id", proxy }, { "limit", 1000 } })
      assert.are.equal(totals.by_proxy[proxy].count, page.count)
      for _, rec in ipairs(page.items) do assert.are.equal(proxy, rec.proxy_id) end
    end)

    it("filters by created_at range, both ends inclusive", function()
      local from, to = dataset.record(100).created_at, dataset.record(109).created_at
      local page = list({ { "created_at_from", urlencode(from) }, { "created_at_to", urlencode(to) } })
      assert.are.equal(10, page.count)
      assert.are.equal(dataset.record(109).id, page.items[1].id)
      assert.are.equal(dataset.record(100).id, page.items[10].id)
      local by_date = list({ { "created_at_to", "2024-08-01" } })
      assert.are.equal(0, by_date.count)
      local offset = list({ { "created_at_from", urlencode("2024-08-01T02:00:00+02:00") },
        { "created_at_to", urlencode("2024-08-01T00:01:15Z") } })
      assert.are.equal(2, offset.count)
    end)

    it("rejects an unparsable date with 400", function()
      local resp = assert(get(LIST .. qs({ { "created_at_from", "yesterday" } })))
      assert.are.equal(400, resp.status)
    end)

    it("orders by created_at, -created_at (default) and amounts", function()
      local asc = list({ { "ordering", "created_at" }, { "limit", 5 } })
      assert.are.equal(dataset.record(1).id, asc.items[1].id)
      local desc = list({ { "limit", 5 } })
      assert.are.equal(dataset.record(1000).id, desc.items[1].id)
      local by_used = list({ { "ordering", "used_amount" }, { "limit", 1000 } })
      for k = 2, #by_used.items do
        assert.is_true(by_used.items[k - 1].used_amount <= by_used.items[k].used_amount)
      end
      local by_deducted = list({ { "ordering", "-deducted_amount" }, { "limit", 1000 } })
      for k = 2, #by_deducted.items do
        assert.is_true(by_deducted.items[k - 1].deducted_amount >= by_deducted.items[k].deducted_amount)
      end
    end)

    it("rejects an unknown ordering with 400", function()
      local resp = assert(get(LIST .. qs({ { "ordering", "color" } })))
      assert.are.equal(400, resp.status)
      assert.are.equal("invalid_parameter", decode(resp).error.code)
    end)
  end)

  describe("detail route", function()
    it("returns the record, with or without trailing slash", function()
      local id = dataset.record(321).id
      for _, path in ipairs({ LIST .. id, LIST .. id .. "/" }) do
        local resp = assert(get(path))
        assert.are.equal(200, resp.status)
        assert.are.equal(dataset.encode_record(dataset.record(321)), resp.body)
      end
    end)

    it("answers 404 for an unknown id or beyond the data set", function()
      for _, id in ipairs({ "nope", dataset.record(1001).id }) do
        local resp = assert(get(LIST .. id))
        assert.are.equal(404, resp.status)
        assert.are.same({ detail = "Not found." }, decode(resp))
      end
    end)
  end)

  describe("faults", function()
    it("injects a status with Retry-After, `times` times", function()
      control("POST", "faults", { fault = "status", status = 429, headers = { ["Retry-After"] = "1" }, times = 2 })
      for _ = 1, 2 do
        local resp = assert(get(LIST .. qs()))
        assert.are.equal(429, resp.status)
        assert.are.equal("1", resp.headers["retry-after"])
        assert.matches("throttled", decode(resp).detail)
      end
      assert.are.equal(200, assert(get(LIST .. qs())).status)
    end)

    it("hits only the given offset", function()
      control("POST", "faults", { { fault = "status", status = 503, offset = 20 } })
      assert.are.equal(200, assert(get(LIST .. qs({ { "offset", 10 } }))).status)
      local resp = assert(get(LIST .. qs({ { "offset", 20 } })))
      assert.are.equal(503, resp.status)
      assert.are.equal("server_error", decode(resp).error.code)
    end)

    it("sends a malformed body with a correct length", function()
      control("POST", "faults", { fault = "malformed" })
      local resp = assert(get(LIST .. qs()))
      assert.are.equal(200, resp.status)
      assert.are.equal(tonumber(resp.headers["content-length"]), #resp.body)
      assert.is_false(pcall(cjson.decode, resp.body))
    end)

    it("cuts the connection mid-body", function()
      control("POST", "faults", { fault = "reset_mid_body" })
      local resp, err = get(LIST .. qs({ { "limit", 100 } }))
      assert.is_nil(resp)
      assert.truthy(err)
      assert.are.equal(200, assert(get(LIST .. qs())).status)
    end)

    it("inserts newer records, shifting the offsets of older ones", function()
      local first = ids(list({ { "limit", 10 } }))
      control("POST", "faults", { fault = "insert_records", count = 3, offset = 10 })
      local second = list({ { "limit", 10 }, { "offset", 10 } })
      assert.are.equal(1003, second.count)
      local got = ids(second)
      assert.are.same({ first[8], first[9], first[10] }, { got[1], got[2], got[3] })
      assert.are.equal(1003, control("GET", "totals").count)
      assert.are.equal(200, assert(get(LIST .. dataset.record(1003).id)).status)
      assert.are.equal(dataset.record(1003).id, ids(list({ { "limit", 1 } }))[1])
    end)

    it("delays pages with page_delay_ms", function()
      control("POST", "config", { page_delay_ms = 150 })
      local t0 = socket.gettime()
      list()
      assert.is_true(socket.gettime() - t0 >= 0.14)
    end)

    it("rejects an unknown fault kind", function()
      local resp = assert(request("POST", "/__mock/faults", { token = false, body = { fault = "gremlins" } }))
      assert.are.equal(400, resp.status)
    end)
  end)

  describe("request log", function()
    it("records requests without the token", function()
      get(LIST .. qs({ { "limit", 2 } }), { headers = { ["user-agent"] = "spec-agent/1" } })
      get(LIST .. qs(), { token = false })
      local log = control("GET", "log")
      assert.are.equal(2, #log)
      local e = log[1]
      assert.are.equal("GET", e.method)
      assert.are.equal(LIST, e.uri)
      assert.are.equal("user_id=" .. USER_ID .. "&limit=2", e.args)
      assert.is_true(e.authorization_present)
      assert.are.equal("Bearer", e.auth_scheme)
      assert.are.equal("spec-agent/1", e.user_agent)
      assert.are.equal(200, e.status)
      assert.is_number(e.connection_id)
      assert.is_number(e.connection_requests)
      assert.is_false(log[2].authorization_present)
      assert.are.equal(401, log[2].status)
      local raw = assert(request("GET", "/__mock/log", { token = false })).body
      assert.is_nil(raw:find(TOKEN:sub(13), 1, true))
    end)

    it("is cleared by DELETE", function()
      get(LIST .. qs())
      control("DELETE", "log")
      assert.are.same({}, control("GET", "log"))
    end)
  end)
end)
