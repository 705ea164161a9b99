-- Exact paging against servers that send fewer records than asked, and user_id = false on every
-- page (issue 10, items 1 and 2: both gave silently wrong data with exit status 0).
local mock = require "spec.helpers.mock"
local acedata = require "acedata"
local child = require "spec.helpers.child"

local dataset = mock.dataset
local N = 5000

local want_ids              -- the ids of records 1..N, newest first (the server's order)
local function newest_first()
  want_ids = want_ids or mock.newest_first_ids(N)
  return want_ids
end

-- A server with N records that answers 10 records per list request: `cap` honours a smaller
-- limit, `ignore_limit` sends 10 whatever limit says.
local SERVERS = {
  { what = "a server that caps limit at 10", body = { records = N, cap = 10 } },
  { what = "a server that ignores limit and sends 10 per page", body = { records = N, ignore_limit = 10 } },
}

local function client_for(base_url, token)
  return acedata.new { token = token or dataset.TOKEN, base_url = base_url, timeout = 10, backoff_base = 0.01,
                       backoff_cap = 0.05 }
end

local function ids_and_total(iter)
  local ids, total = {}, 0
  for rec in iter do
    ids[#ids + 1] = rec.id
    total = total + rec.deducted_amount
  end
  return ids, total
end

for _, server in ipairs(SERVERS) do
  describe("usage.proxies against " .. server.what, function()
    local id, base_url

    before_each(function()
      mock.reset()
      id, base_url = mock.scenario(server.body)
    end)

    after_each(function() mock.scenario_free(id) end)

    local modes = {
      { name = "sequential each{page_size = 100}", opts = { page_size = 100 } },
      { name = "each{page_size = 100, prefetch = 1}", opts = { page_size = 100, prefetch = 1 } },
      { name = "each{page_size = 100, concurrency = 4}", opts = { page_size = 100, concurrency = 4 } },
    }
    for _, mode in ipairs(modes) do
      it(mode.name .. " yields all 5,000 records exactly, in server order, with the exact total", function()
        local ids, total = ids_and_total(client_for(base_url).usage.proxies.each(mode.opts))
        assert.equal(N, #ids)
        assert.same(newest_first(), ids)
        assert.equal(dataset.totals(N).deducted, total)
      end)
    end

    it("all{page_size = 1000, concurrency = 4} returns all 5,000 records exactly", function()
      local list, err = client_for(base_url).usage.proxies.all { page_size = 1000, concurrency = 4 }
      assert.is_nil(err)
      local ids = {}
      for k, rec in ipairs(list) do ids[k] = rec.id end
      assert.equal(N, #ids)
      assert.same(newest_first(), ids)
    end)

    it("acedata usage proxies --concurrency 4 --format csv writes all 5,000 records", function()
      local out, err, status = child.exec({ child.interpreter(), "bin/acedata", "usage", "proxies", "--concurrency", "4",
        "--format", "csv" }, { ACEDATACLOUD_PLATFORM_TOKEN = mock.TOKEN, PLATFORM_API_BASE_URL = base_url })
      assert.equal(0, status, err)
      local rows = {}
      for line in out:gmatch("([^\r\n]*)\r\n") do rows[#rows + 1] = line end
      assert.equal(N + 1, #rows)              -- a header, then one row per record
      -- id, created_at, service, service_name, application_id, proxy_id, credential_id, user_id,
      -- used_amount, deducted_amount, …: none of the first ten is ever quoted.
      assert.equal("id", rows[1]:match("^([^,]*)"))
      assert.equal("deducted_amount", select(10, rows[1]:match(("([^,]*),"):rep(10))))
      local want, total = newest_first(), 0
      for k = 2, #rows do
        local fields = { rows[k]:match(("([^,]*),"):rep(10)) }
        assert.equal(want[k - 1], fields[1])
        total = total + tonumber(fields[10])
      end
      assert.equal(dataset.totals(N).deducted, total)
    end)
  end)
end

describe("usage.proxies.each with a retry on every page", function()
  -- 200 records, one per page; every first attempt of a page answers 503, the retry 200. The
  -- backoff is at most a microsecond, so many waits end before the runtime looks at its timers
  -- (the model found it: seed 99, a non-typed "a task can never finish" from a retry's sleep).
  local R = 200
  local faults = {}
  for k = 1, R do faults[k] = { request = 2 * k - 1, fault = "status", status = 503 } end

  local function tiny_backoff(base_url)
    return acedata.new { token = dataset.TOKEN, base_url = base_url, timeout = 10, max_retries = 2,
                         backoff_base = 1e-6, backoff_cap = 1e-6 }
  end

  -- Sequential only: with pages in flight, request numbers interleave and a page's retry may
  -- land on an odd (faulted) number again.
  it("yields every record once, whatever the backoff waits", function()
    mock.reset()
    local id, base_url = mock.scenario { records = R, faults = faults }
    local ok, ids = pcall(ids_and_total, tiny_backoff(base_url).usage.proxies.each { page_size = 1 })
    local log = mock.scenario_log(id)
    mock.scenario_free(id)
    assert(ok, tostring(ids))
    assert.equal(R, #ids)
    assert.same(mock.newest_first_ids(R), ids)
    assert.equal(2 * R, log.list_requests)
  end)
end)

describe("usage.proxies.each{user_id = false} and all{user_id = false}", function()
  local PAGES = 10

  before_each(function()
    mock.reset()
    mock.config { records = 1000 }
  end)

  local function admin() return mock.client { token = dataset.ADMIN_TOKEN } end

  local function list_args()
    local out = {}
    for _, r in ipairs(mock.list_requests()) do out[#out + 1] = r.args end
    return out
  end

  local function assert_no_user_id(args)
    for _, a in ipairs(args) do
      assert.is_nil(a:find("user_id", 1, true), "a page was asked with user_id: " .. a)
    end
    assert.equal(PAGES, #args)
  end

  it("a token that may list every user's records gets its own only with the default user_id", function()
    local n = 0
    for _ in admin().usage.proxies.each { page_size = 100 } do n = n + 1 end
    assert.equal(0, n)                        -- the admin user owns no records
  end)

  it("each{user_id = false} sends no user_id on any page and yields every user's records", function()
    local ids = ids_and_total(admin().usage.proxies.each { user_id = false, page_size = 100 })
    assert_no_user_id(list_args())
    assert.same(mock.newest_first_ids(1000), ids)
  end)

  it("each{user_id = false, concurrency = 4} sends no user_id on any page either", function()
    local ids = ids_and_total(admin().usage.proxies.each { user_id = false, page_size = 100, concurrency = 4 })
    assert_no_user_id(list_args())
    assert.same(mock.newest_first_ids(1000), ids)
  end)

  it("all{user_id = false} sends no user_id on any page and returns every user's records", function()
    local list, err = admin().usage.proxies.all { user_id = false, page_size = 100 }
    assert.is_nil(err)
    local ids = {}
    for k, rec in ipairs(list) do ids[k] = rec.id end
    assert_no_user_id(list_args())
    assert.same(mock.newest_first_ids(1000), ids)
  end)

  it("with a token that may not list every user's records, each{user_id = false} fails with permission", function()
    local ok, err = pcall(function()
      for _ in mock.client().usage.proxies.each { user_id = false, page_size = 100 } do end
    end)
    assert.is_false(ok)
    assert.is_true(acedata.is_error(err), tostring(err))
    assert.equal("permission", err.kind)
    assert.equal(403, err.status)
  end)
end)
