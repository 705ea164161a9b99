-- The public API against the mock over real HTTP.
local acedata = require "acedata"
local cjson = require "cjson"
local mock = require "spec.helpers.mock"

local dataset = mock.dataset
local list_requests = mock.list_requests
local N = 230

-- The records of the mock's data set in its default order (newest first).
local function newest_first(n)
  local list = dataset.records(n)
  table.sort(list, function(a, b) return a.created_at > b.created_at end)
  return list
end


describe("acedata", function()
  before_each(function()
    mock.reset()
    mock.config { records = N }
  end)

  it("has a version", function()
    assert.matches("^%d+%.%d+%.%d+$", acedata._VERSION)  -- which one: spec/01-version_spec.lua
  end)

  it("shares its null with lua-cjson", function()
    assert.is_true(rawequal(acedata.null, cjson.null))
  end)

  describe("usage.proxies{}", function()
    it("returns a page with count, results, limit and offset", function()
      local page = assert(mock.client().usage.proxies { limit = 5, offset = 0 })
      assert.equal(N, page.count)
      assert.equal(5, #page.results)
      assert.equal(5, page.limit)
      assert.equal(0, page.offset)
    end)

    it("gives every field of a record as the server sent it", function()
      local page = assert(mock.client().usage.proxies { limit = 1 })
      local want = newest_first(N)[1]
      local rec = page.results[1]
      assert.equal(want.id, rec.id)
      assert.equal(want.deducted_amount, rec.deducted_amount)
      assert.equal(want.service.name, rec.service.name)
      assert.equal(want.credential_id, rec.credential_id)
      assert.equal(want.trace_id, rec.trace_id)
      assert.equal(want.created_at, rec.created_at)
      assert.equal(want.metadata.prompt_tokens, rec.metadata.prompt_tokens)
    end)

    it("decodes integers as integers and amounts as floats", function()
      local rec = assert(mock.client().usage.proxies { limit = 1 }).results[1]
      local want = newest_first(N)[1]
      assert.equal(want.metadata.prompt_tokens, rec.metadata.prompt_tokens)
      assert.equal(want.remaining_amount, rec.remaining_amount)
      if math.type then   -- Lua 5.1, 5.2 and LuaJIT have one number type
        assert.equal("integer", math.type(rec.metadata.prompt_tokens))
        assert.equal("float", math.type(rec.remaining_amount))
      end
    end)

    it("pages with limit and offset", function()
      local all = newest_first(N)
      local page = assert(mock.client().usage.proxies { limit = 3, offset = 10 })
      assert.same({ all[11].id, all[12].id, all[13].id },
        { page.results[1].id, page.results[2].id, page.results[3].id })
    end)

    it("keeps only the fields asked for, and id, in each record of the page", function()
      local page = assert(mock.client().usage.proxies { limit = 3, fields = { "created_at" } })
      local want = newest_first(N)
      assert.equal(N, page.count)
      for i = 1, 3 do assert.same({ id = want[i].id, created_at = want[i].created_at }, page.results[i]) end
      assert.is_nil(list_requests()[1].args:find("fields", 1, true))
    end)

    it("accepts the documented results shape as well as items", function()
      mock.config { shape = "results" }
      local page = assert(mock.client().usage.proxies { limit = 2 })
      assert.equal(N, page.count)
      assert.equal(2, #page.results)
    end)

    it("filters by one application", function()
      local app = dataset.APPLICATIONS[2]
      local want = 0
      for _, r in ipairs(dataset.records(N)) do if r.application_id == app then want = want + 1 end end
      local page = assert(mock.client().usage.proxies { application_id = app, limit = 1000 })
      assert.equal(want, page.count)
      for _, r in ipairs(page.results) do assert.equal(app, r.application_id) end
    end)

    it("sends a list of applications as repeated keys", function()
      local a, b = dataset.APPLICATIONS[1], dataset.APPLICATIONS[3]
      local page = assert(mock.client().usage.proxies { application_id = { a, b }, limit = 1000 })
      local want = 0
      for _, r in ipairs(dataset.records(N)) do
        if r.application_id == a or r.application_id == b then want = want + 1 end
      end
      assert.equal(want, page.count)
      local args = list_requests()[1].args
      assert.truthy(args:find("application_id=" .. a, 1, true))
      assert.truthy(args:find("application_id=" .. b, 1, true))
    end)

    it("filters by proxy", function()
      local proxy = dataset.PROXIES[1]
      local page = assert(mock.client().usage.proxies { proxy_id = proxy, limit = 1000 })
      assert.is_true(page.count > 0)
      for _, r in ipairs(page.results) do assert.equal(proxy, r.proxy_id) end
    end)

    it("filters by a time range given as epoch seconds and ISO 8601", function()
      local recs = newest_first(N)
      local from = dataset.parse_iso8601(recs[50].created_at)
      local page = assert(mock.client().usage.proxies {
        created_at_from = math.floor(from), created_at_to = recs[20].created_at, limit = 1000 })
      for _, r in ipairs(page.results) do
        assert.is_true(dataset.parse_iso8601(r.created_at) >= math.floor(from))
        assert.is_true(r.created_at <= recs[20].created_at)
      end
      assert.is_true(page.count >= 30 and page.count <= 32)
    end)

    it("orders as asked", function()
      local page = assert(mock.client().usage.proxies { ordering = "created_at", limit = 2 })
      assert.equal(dataset.record(1).id, page.results[1].id)
    end)

    it("sends the caller's own user_id by default", function()
      assert(mock.client().usage.proxies { limit = 1 })
      assert.truthy(list_requests()[1].args:find("user_id=" .. dataset.USER_ID, 1, true))
    end)

    it("asks who the caller is once per client", function()
      local c = mock.client()
      for _ = 1, 3 do assert(c.usage.proxies { limit = 1, user_id = "me" }) end
      local me_calls = 0
      for _, r in ipairs(mock.log()) do if r.uri:find("platform%-tokens/me") then me_calls = me_calls + 1 end end
      assert.equal(1, me_calls)
    end)

    it("sends Bearer auth, a descriptive User-Agent and asks for gzip", function()
      assert(mock.client { user_agent = "my-report/2" }.usage.proxies { limit = 1 })
      local r = list_requests()[1]
      assert.equal("Bearer", r.auth_scheme)
      assert.matches("^acedata%-lua/%d+%.%d+%.%d+ %(L[%w%. %-]+; libcurl/%d+%.%d+%.%d+%) my%-report/2$", r.user_agent)
      assert.truthy(r.accept_encoding:find("gzip", 1, true))
    end)

    it("reuses one connection for the calls of a client", function()
      local c = mock.client()
      for i = 1, 4 do assert(c.usage.proxies { limit = 1, offset = i }) end
      local ids = {}
      for _, r in ipairs(mock.log()) do ids[r.connection_id] = true end
      local n = 0
      for _ in pairs(ids) do n = n + 1 end
      assert.equal(1, n)
    end)
  end)

  describe("errors", function()
    it("are auth errors for a wrong token, without the token", function()
      local bad = "platform-v1-" .. string.rep("0", 64)
      local page, err = mock.client({ token = bad }).usage.proxies { user_id = dataset.USER_ID }
      assert.is_nil(page)
      assert.same({ "auth", 401, "invalid_token", 1 }, { err.kind, err.status, err.code, err.attempts })
      assert.equal("Invalid token.", err.message)
      assert.is_string(err.request_id)
      assert.is_nil(tostring(err):find(bad, 1, true))
    end)

    it("are permission errors for another user's records", function()
      local _, err = mock.client().usage.proxies { user_id = dataset.OTHER_USER_ID }
      assert.same({ "permission", 403, "permission_denied" }, { err.kind, err.status, err.code })
    end)

    it("are bad_request errors for a rejected parameter", function()
      local _, err = mock.client().usage.proxies { ordering = "nonsense" }
      assert.same({ "bad_request", 400 }, { err.kind, err.status })
    end)

    it("carry the URL that failed", function()
      local _, err = mock.client().usage.proxies { ordering = "nonsense" }
      assert.equal(mock.url() .. "/api/v1/usage/proxies/?ordering=nonsense&user_id=" .. dataset.USER_ID, err.url)
    end)

    it("are network errors when nothing listens", function()
      local _, err = mock.client({ base_url = "http://127.0.0.1:9", max_retries = 0 }).usage.proxies { user_id = "u" }
      assert.equal("network", err.kind)
    end)

    it("are timeouts when the first byte comes too late", function()
      mock.faults { fault = "slow_first_byte", delay = 2, route = "any" }
      local _, err = mock.client({ timeout = 0.3, max_retries = 0 }).usage.proxies { user_id = dataset.USER_ID }
      assert.equal("timeout", err.kind)
    end)

    it("are decode errors for a malformed body, after the retries", function()
      mock.faults { fault = "malformed", times = 3 }
      local _, err = mock.client().usage.proxies { user_id = dataset.USER_ID }
      assert.same({ "decode", 200, 3 }, { err.kind, err.status, err.attempts })
      assert.matches("at byte %d+", err.message)
    end)
  end)

  describe("retries", function()
    it("retry a 503 and succeed", function()
      mock.faults { fault = "status", status = 503 }
      local page = assert(mock.client().usage.proxies { user_id = dataset.USER_ID, limit = 2 })
      assert.equal(2, #page.results)
      assert.equal(2, #list_requests())
    end)

    it("give up after max_retries with the attempts counted", function()
      mock.faults { fault = "status", status = 502, times = 10 }
      local _, err = mock.client({ max_retries = 2 }).usage.proxies { user_id = dataset.USER_ID }
      assert.same({ "server", 502, 3 }, { err.kind, err.status, err.attempts })
      assert.equal(3, #list_requests())
    end)

    it("never retry a 404", function()
      mock.faults { fault = "status", status = 404, times = 10 }
      local _, err = mock.client().usage.proxies { user_id = dataset.USER_ID }
      assert.same({ "not_found", 1 }, { err.kind, err.attempts })
    end)

    it("wait as long as Retry-After says", function()
      mock.faults { fault = "status", status = 429, headers = { ["Retry-After"] = "1" } }
      local core = require "acedata.core"
      local t0 = core.now()
      assert(mock.client().usage.proxies { user_id = dataset.USER_ID, limit = 1 })
      local waited = core.now() - t0
      assert.is_true(waited >= 0.95 and waited < 5, "waited " .. waited)
    end)

    it("do not wait for a Retry-After beyond max_retry_after", function()
      mock.faults { fault = "status", status = 429, headers = { ["Retry-After"] = "3600" } }
      local _, err = mock.client().usage.proxies { user_id = dataset.USER_ID }
      assert.same({ "rate_limit", 3600, 1 }, { err.kind, err.retry_after, err.attempts })
    end)
  end)

  describe("usage.proxies.each{}", function()
    it("yields every record once, newest first", function()
      local want, got = newest_first(N), {}
      for rec in mock.client().usage.proxies.each { page_size = 50 } do got[#got + 1] = rec.id end
      assert.equal(N, #got)
      for i = 1, N do assert.equal(want[i].id, got[i]) end
    end)

    it("totals deducted_amount exactly", function()
      local sum = 0
      for rec in mock.client().usage.proxies.each { page_size = 100 } do sum = sum + rec.deducted_amount end
      assert.equal(dataset.totals(N).deducted, sum)
    end)

    it("fetches a page only when the previous one is used up", function()
      local iter = mock.client().usage.proxies.each { page_size = 10 }
      for _ = 1, 10 do assert.is_table(iter()) end
      assert.equal(1, #list_requests())
      iter()
      assert.equal(2, #list_requests())
    end)

    it("asks pages of page_size", function()
      for _ in mock.client().usage.proxies.each { page_size = 100 } do end
      local reqs = list_requests()
      assert.equal(3, #reqs)
      assert.truthy(reqs[3].args:find("limit=100&offset=200", 1, true))
    end)

    it("stops at max_items", function()
      local n = 0
      for _ in mock.client().usage.proxies.each { page_size = 7, max_items = 12 } do n = n + 1 end
      assert.equal(12, n)
      assert.equal(2, #list_requests())
    end)

    it("never yields an id twice when records are inserted while paging", function()
      mock.faults { fault = "insert_records", count = 5, offset = 50 }
      local seen, n = {}, 0
      for rec in mock.client().usage.proxies.each { page_size = 50 } do
        assert.is_nil(seen[rec.id], "id yielded twice: " .. rec.id)
        seen[rec.id] = true
        n = n + 1
      end
      assert.is_true(n >= N)
    end)

    it("skips a whole page of known records when more than a page is inserted", function()
      mock.faults { fault = "insert_records", count = 120, offset = 50 }
      local seen, n = {}, 0
      for rec in mock.client().usage.proxies.each { page_size = 50 } do
        assert.is_nil(seen[rec.id], "id yielded twice: " .. rec.id)
        seen[rec.id] = true
        n = n + 1
      end
      for _, r in ipairs(dataset.records(N)) do assert.is_true(seen[r.id], "missing " .. r.id) end
      -- Inserted records may show up too (those that landed where the iterator had yet to look).
      assert.is_true(n >= N and n <= N + 120)
    end)

    it("raises the error object when a page fails", function()
      mock.faults { fault = "status", status = 500, offset = 100, times = 10 }
      local n = 0
      local ok, err = pcall(function()
        for _ in mock.client({ max_retries = 1 }).usage.proxies.each { page_size = 50 } do n = n + 1 end
      end)
      assert.is_false(ok)
      assert.same({ "server", 500, 2 }, { err.kind, err.status, err.attempts })
      assert.equal(100, n)
    end)

    it("gives records with only the fields asked for, and id", function()
      local want, i = newest_first(N), 0
      for rec in mock.client().usage.proxies.each { page_size = 100, fields = { "deducted_amount", "service" } } do
        i = i + 1
        assert.same({ id = want[i].id, deducted_amount = want[i].deducted_amount, service = want[i].service }, rec)
      end
      assert.equal(N, i)
    end)

    it("totals exactly with fields, sequentially and with concurrency", function()
      for _, opts in ipairs { {}, { concurrency = 3 }, { prefetch = 1 } } do
        local sum, n = 0, 0
        opts.page_size, opts.fields = 40, { "deducted_amount" }
        for rec in mock.client().usage.proxies.each(opts) do sum, n = sum + rec.deducted_amount, n + 1 end
        assert.equal(N, n)
        assert.equal(dataset.totals(N).deducted, sum)
      end
    end)

    it("raises on fields that are not an array of field names, before sending anything", function()
      local proxies = mock.client().usage.proxies
      assert.has_error(function() proxies.each { fields = "id" } end,
        "acedata: fields must be a non-empty array of field names, got string")
      assert.has_error(function() proxies.each { fields = {} } end,
        "acedata: fields must be a non-empty array of field names, got an empty table")
      assert.has_error(function() proxies.each { fields = { "id", 3 } } end,
        "acedata: fields[2] must be a non-empty string, got number")
      assert.has_error(function() proxies.each { fields = { "id", x = 1 } } end,
        "acedata: fields must be an array of field names (keys 1..n only)")
      assert.equal(0, #mock.log())
    end)

    it("checks its parameters before sending anything", function()
      assert.has_error(function() mock.client().usage.proxies.each { page_sise = 5 } end,
        'acedata: unknown parameter "page_sise"')
      assert.equal(0, #mock.log())
    end)
  end)

  describe("usage.proxies.all{}", function()
    it("collects every record", function()
      local list = assert(mock.client().usage.proxies.all {})
      assert.equal(N, #list)
    end)

    it("stops at max_items", function()
      local list = assert(mock.client().usage.proxies.all { max_items = 15, page_size = 10 })
      assert.equal(15, #list)
    end)

    it("returns nil and the error when a page fails", function()
      mock.faults { fault = "status", status = 403, offset = 100 }
      local list, err = mock.client().usage.proxies.all {}
      assert.is_nil(list)
      assert.equal("permission", err.kind)
    end)
  end)

  describe("usage.proxies.get()", function()
    it("returns one record by id", function()
      local want = dataset.record(7)
      local rec = assert(mock.client().usage.proxies.get(want.id))
      assert.equal(want.id, rec.id)
      assert.equal(want.used_amount, rec.used_amount)
    end)

    it("returns not_found for an unknown id", function()
      local rec, err = mock.client().usage.proxies.get("no-such-id")
      assert.is_nil(rec)
      assert.same({ "not_found", 404, "Not found." }, { err.kind, err.status, err.message })
    end)

    it("raises on an id that is not a string", function()
      assert.has_error(function() mock.client().usage.proxies.get(42) end, "acedata: id must be a non-empty string")
    end)
  end)

  describe("me()", function()
    it("returns the token's owner", function()
      local me = assert(mock.client().me())
      assert.equal(dataset.USER_ID, me.id)
      assert.equal(dataset.ME.username, me.username)
    end)
  end)

  describe("new{}", function()
    it("raises on an unknown option", function()
      assert.has_error(function() acedata.new { token = mock.TOKEN, timout = 3 } end, 'acedata: unknown option "timout"')
    end)

    it("raises on a token with CR or LF, without repeating it", function()
      assert.has_error(function() acedata.new { token = "platform-v1-abc\r\nX: y" } end,
        "acedata: token contains a control character")
    end)

    it("refuses plain http to a host that is not loopback", function()
      assert.has_error(function() acedata.new { token = mock.TOKEN, base_url = "http://example.com" } end,
        "acedata: refusing to send the token over plain http:// to example.com; use https:// or set allow_insecure = true")
    end)

    it("allows plain http to another host when told", function()
      assert.is_table(acedata.new { token = mock.TOKEN, base_url = "http://example.com", allow_insecure = true })
    end)

    it("blames the caller's line for misuse", function()
      local ok, msg = pcall(function() mock.client().usage.proxies { bogus = 1 } end)
      assert.is_false(ok)
      assert.matches("40%-client_spec%.lua:%d+: acedata: unknown parameter", msg)
    end)
  end)
end)
