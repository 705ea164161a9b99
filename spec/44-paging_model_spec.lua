-- The paging model: usage.proxies.each{} against randomized servers (mock scenarios), in three
-- modes (sequential, prefetch = 1, concurrency = 4), checked against what the server served.
--
-- Each seed draws one run: a data set (0..300 records of the mock's data set, in either page
-- shape: items or results), a page size (1..120), a page behaviour (none; a cap of 7, 50 or 100;
-- a fixed page size whatever `limit` says; a page size drawn per request, within `limit` or
-- not), an ordering, mutations while paging (records inserted at the head of a newest-first
-- listing, appended at the tail of an oldest-first one, or deleted), and faults at random request
-- numbers (429 with Retry-After 0 or 1, 500/502/503/504, resets before headers and mid-body,
-- truncated and malformed bodies, stalls past the client's timeout; a fault may persist over the
-- retries of its page). The same seed draws the same run in every mode and on every Lua.
-- Mutations and faults are keyed by the server's request numbers, which follow arrival order: a
-- sequential replay is exact; with pages in flight, a replay may see a mutation or a fault land
-- on another page (the same class of run).
--
-- The invariant, per class of run (the server's log is the truth):
-- * exact (no mutations): every record of the data set exactly once, in server order, and the
--   exact total of deducted_amount; or a typed error (acedata.is_error, a documented kind), only
--   when a fault persisted beyond max_retries on one page (or on /me; a request the server took
--   0.8 x the client's timeout or more to answer counts as faulted: a loaded machine), or the
--   deadline passed (any fault may do it in the runs drawn with a short deadline).
-- * newest_inserts (`-created_at`, records inserted at the head while paging): exactly the
--   records that existed when the first list page was served, each once, in order; or a typed
--   error as above.
-- * oldest_appends (`created_at`, records appended at the tail while paging): the records that
--   existed at the first page, each once, in order, followed by a prefix (possibly empty) of the
--   appended ones, in order; or a typed error as above.
-- * deletes (records deleted while paging, either ordering): a typed error of kind "drift", or a
--   result with no id twice, in server order, holding every record never deleted. A run never
--   mixes inserts and deletes: one deletion and one insertion between two pages leave `count`
--   unchanged and shift the same offsets back and forth, so count-based offset paging cannot
--   see the deletion at all; such a run could miss a record with no way to tell.
-- * repeat_page (a server that ignores `offset` and always serves the first page): a typed error
--   after at most 2 * (ahead + 3) list requests (ahead = pages in flight beyond the current one),
--   never a silent partial result; exactly the data set when it fits in the first page.
-- In every run: no id twice, every record's deducted_amount is the server's, a non-typed Lua error
-- is a failure, the run ends within deadline + 1 s, and the server saw at most
-- 3 * (pages + 2 + ahead) + (faulted requests) list requests, where pages = ceil(records, inserted
-- included, / smallest page the server may send) + 1.
--
-- The first 250 seeds (ACEDATA_MODEL_EXTRA_RUNS) also run with concurrency = "auto", and with a
-- reference client (a plain loop over proxies{} that follows these rules, below): every class can
-- be passed, so a failure is the library's, not the model's.
--
-- ACEDATA_MODEL_RUNS=N: seeds 1..N per mode (default 1000; scripts/test: 1000 on 5.4, 100 on the
-- other Luas, 10 under ASan and valgrind). A failure prints its seed, mode and a replay command;
-- ACEDATA_MODEL_SEED=N replays one seed (ACEDATA_MODEL_MODE=sequential|prefetch|concurrency|auto|
-- reference: in one mode), after a build and `eval "$(mock/server start)"; export ACEDATA_MOCK_URL`.
-- ACEDATA_MODEL_VERBOSE=1 prints each run's scenario and what the server served;
-- ACEDATA_MODEL_STATS=1 a line of timings per class and mode, and every failing seed.
local mock = require "spec.helpers.mock"
local acedata = require "acedata"
local core = require "acedata.core"
local cjson = require "cjson"

local dataset = mock.dataset
local ceil, max, min = math.ceil, math.max, math.min

local SCALE = tonumber(os.getenv "ACEDATA_TIME_SCALE") or 1
local RUNS = tonumber(os.getenv "ACEDATA_MODEL_RUNS") or 1000
local ONLY_SEED = tonumber(os.getenv "ACEDATA_MODEL_SEED")
local ONLY_MODE = os.getenv "ACEDATA_MODEL_MODE"
local VERBOSE = (os.getenv "ACEDATA_MODEL_VERBOSE" or "") ~= ""
local STATS = (os.getenv "ACEDATA_MODEL_STATS" or "") ~= ""

local TIMEOUT = 0.15 * SCALE          -- the client's per-attempt timeout
local STALL = 0.5 * SCALE             -- a stall fault: longer than the timeout
local DEADLINE = 4 * SCALE            -- the usual deadline of a whole each{}
local SLACK = 1 * SCALE               -- what a run may take beyond its deadline
local REPLAY = "LUA_PATH='lua/?.lua;lua/?/init.lua;./?.lua;;' LUA_CPATH='build/5.4/?.so;;' "
  .. "lua5.4 /usr/bin/busted spec/44-paging_model_spec.lua"

local MODES = {
  { name = "sequential", opts = {}, ahead = 0 },
  { name = "prefetch", opts = { prefetch = 1 }, ahead = 1 },
  { name = "concurrency", opts = { concurrency = 4 }, ahead = 3 },
  -- concurrency = "auto" (at most max_concurrency = 16 in flight), on the first EXTRA_RUNS seeds
  { name = "auto", opts = { concurrency = "auto" }, ahead = 15, extra = true },
  -- the model's self-check (below): a correct client, on the first EXTRA_RUNS seeds
  { name = "reference", opts = {}, ahead = 0, reference = true, extra = true },
}
local EXTRA_RUNS = math.min(RUNS, tonumber(os.getenv "ACEDATA_MODEL_EXTRA_RUNS") or 250)

local CLASSES = {
  { name = "exact", what = "yields every record once, in server order, with the exact total, or a typed error "
    .. "for a persistent fault" },
  { name = "newest_inserts", what = "newest-first with records inserted at the head: exactly the records of the "
    .. "first page's moment" },
  { name = "oldest_appends", what = "oldest-first with records appended: the first page's records, then a prefix "
    .. "of the appended ones" },
  { name = "deletes", what = "records deleted while paging: a drift error, or no id twice and every record "
    .. "never deleted" },
  { name = "repeat_page", what = "a server that ignores offset: a typed error after a bounded number of requests" },
}

-- The documented error kinds (acedata.errors, docs/paging.md: drift and paging too).
local KINDS = {}
for _, k in ipairs { "auth", "permission", "not_found", "bad_request", "rate_limit", "server", "http", "network",
                     "timeout", "tls", "decode", "drift", "paging" } do KINDS[k] = true end

-- A small deterministic PRNG (Park-Miller, products below 2^53): the same numbers on 5.1-5.4
-- and LuaJIT, with doubles or integers.
local function rng(seed)
  local P = 2147483647
  local x = (seed * 7919 + 104729) % P
  if x == 0 then x = 1 end
  local r = {}
  function r.int(lo, hi)
    x = (x * 48271) % P
    return lo + x % (hi - lo + 1)
  end
  function r.chance(percent) return r.int(1, 100) <= percent end
  function r.pick(t) return t[r.int(1, #t)] end
  for _ = 1, 3 do r.int(0, 1) end
  return r
end

-- The smallest page the server may answer for a request with this limit.
local function smallest_page(body, limit)
  local s = body.ignore_limit or limit
  if body.vary then s = (body.vary.ignore_limit or body.ignore_limit) and body.vary.min or min(s, body.vary.min) end
  if body.cap then s = min(s, body.cap) end
  return s
end

local function draw_faults(r, sc, body)
  if sc.class == "repeat_page" or not r.chance(60) then return end
  local list, slow_429 = {}, false
  for k = 1, r.int(1, 3) do
    local f
    local roll = r.int(1, 100)
    if roll <= 23 then
      local ra = "0"
      if roll <= 3 and not slow_429 then ra, slow_429 = "1", true end
      f = { fault = "status", status = 429, headers = { ["Retry-After"] = ra } }
    elseif roll <= 53 then f = { fault = "status", status = r.pick { 500, 502, 503, 504 } }
    elseif roll <= 65 then f = { fault = "reset_before_headers" }
    elseif roll <= 77 then f = { fault = "reset_mid_body" }
    elseif roll <= 87 then f = { fault = "short_body" }
    elseif roll <= 92 then f = { fault = "malformed" }
    else f = { fault = r.pick { "slow_first_byte", "stall_mid_body" }, delay = STALL }
    end
    f.request = r.int(1, sc.pages + 2)
    if r.chance(10) then f.route, f.request = "me", 1 end
    local t = r.int(1, 100)
    f.times = t <= 80 and 1 or t <= 90 and 2 or sc.max_retries + 1
    if f.headers and f.headers["Retry-After"] == "1" then f.times = 1 end
    sc.fault_requests = sc.fault_requests + f.times
    list[k] = f
  end
  body.faults = list
  if r.chance(10) then sc.deadline, sc.short = (0.3 + r.int(0, 30) / 100) * SCALE, true end
end

--- The run of one seed: the scenario body, the each{} parameters and the client's options.
local function draw(seed)
  local r = rng(seed)
  local sc = { seed = seed, fault_requests = 0, deadline = DEADLINE, max_retries = r.int(2, 3) }
  local c = r.int(1, 100)
  sc.class = c <= 45 and "exact" or c <= 60 and "newest_inserts" or c <= 75 and "oldest_appends"
    or c <= 90 and "deletes" or "repeat_page"
  local k = r.int(1, 100)
  local n = k <= 5 and 0 or k <= 30 and r.int(1, 20) or r.int(21, 300)
  if sc.class == "deletes" and n == 0 then n = r.int(1, 300) end
  local body = { records = n }
  sc.page_size = max(r.chance(20) and r.int(1, 10) or r.int(1, 120), ceil(n / 30))

  local b = r.int(1, 100)
  if b > 30 and b <= 60 then body.cap = r.pick { 7, 50, 100 }
  elseif b > 60 and b <= 75 then body.ignore_limit = max(r.int(1, 120), ceil(n / 50))
  elseif b > 75 then
    if sc.class == "repeat_page" then body.cap = r.pick { 7, 50, 100 }
    else
      local lo = max(r.int(1, 60), ceil(n / 50))
      body.vary = { min = lo, max = r.int(lo, 120), seed = r.int(1, 1000000), ignore_limit = r.chance(30) }
    end
  end
  if sc.class == "repeat_page" then body.repeat_page = true end

  local o = r.int(1, 3)
  if sc.class == "newest_inserts" then sc.ordering = o == 1 and "-created_at" or nil
  elseif sc.class == "oldest_appends" then sc.ordering = "created_at"
  else sc.ordering = ({ "-created_at", "created_at", nil })[o] end

  local inserted = 0
  local pages = ceil(n / smallest_page(body, sc.page_size)) + 1
  if sc.class == "newest_inserts" or sc.class == "oldest_appends" then
    body.mutations = {}
    for j = 1, r.int(1, 3) do
      local count = r.chance(50) and r.int(1, 5) or r.int(1, 40)
      inserted = inserted + count
      body.mutations[j] = { request = r.int(1, pages + 1), insert = count }
    end
  elseif sc.class == "deletes" then
    body.mutations = {}
    for j = 1, r.int(1, 3) do
      local gone = {}
      for g = 1, r.int(1, 5) do gone[g] = r.int(1, n) end
      body.mutations[j] = { request = r.int(1, pages + 1), delete = gone }
    end
  end
  sc.pages = ceil((n + inserted) / smallest_page(body, sc.page_size)) + 1
  draw_faults(r, sc, body)
  if r.chance(50) then sc.fields = { "id", "deducted_amount" } end
  if r.chance(20) then body.shape = "results" end   -- {"count", "next", "previous", "results"}
  sc.body = body
  return sc
end

local drawn = {}
local function scenario_of(seed)
  if not drawn[seed] then drawn[seed] = draw(seed) end
  return drawn[seed]
end

-- A reference client: a plain sequential loop over proxies{} (one page per call, with the
-- client's retries) that follows the drift rules above. It is not the library's paging: it runs
-- on the same seeds to show that a correct client passes every class of the model (the model's
-- failures on the library are the library's, not the model's).
local errors = require "acedata.errors"

local function drift(message) error(errors.new { kind = "drift", message = message }, 0) end

local function reference_each(client, params, deadline_at, bound)
  local desc = params.ordering ~= "created_at"
  local seen = {}
  local yielded, c0, top, last_count, requests = 0, nil, nil, nil, 0
  return coroutine.wrap(function()
    while true do
      requests = requests + 1
      if requests > bound then drift("more requests than the data set can need") end
      local left = deadline_at - core.now()
      if left <= 0 then error(errors.new { kind = "timeout", message = "deadline reached" }, 0) end
      client.cfg.deadline = left   -- the whole loop's deadline bounds each call
      local offset = yielded
      if desc and c0 then offset = yielded + (last_count - c0) end  -- inserted records are at the head
      local page, err = client.usage.proxies { limit = params.page_size, offset = offset, ordering = params.ordering,
                                               fields = params.fields }
      if not page then error(err, 0) end
      if last_count and page.count < last_count then drift("the count went down: records were deleted") end
      if not c0 then
        c0 = page.count
        top = page.results[1] and page.results[1].id
      end
      local fresh = 0
      for _, rec in ipairs(page.results) do
        -- ids ascend with creation time: newer than the first page's first record means inserted since
        local newer = desc and top and rec.id > top
        if not seen[rec.id] and not newer then
          seen[rec.id] = true
          fresh, yielded = fresh + 1, yielded + 1
          coroutine.yield(rec)
        end
      end
      if #page.results > 0 and fresh == 0 and page.count == last_count then
        drift("a page held only records already seen")
      end
      last_count = page.count
      if #page.results == 0 or (desc and yielded >= c0) or (not desc and yielded >= page.count) then return end
    end
  end)
end

--- Runs each{} of one scenario in one mode: the ids and amounts yielded (or the error), the
-- elapsed time, and the scenario's log.
local function run(sc, mode)
  local id, base_url = mock.scenario(sc.body)
  local client = acedata.new {
    token = dataset.TOKEN, base_url = base_url, timeout = TIMEOUT, connect_timeout = 1 * SCALE,
    max_retries = sc.max_retries, backoff_base = 0.001, backoff_cap = 0.01, max_retry_after = 2,
  }
  local params = { page_size = sc.page_size, ordering = sc.ordering, deadline = sc.deadline, fields = sc.fields }
  for k, v in pairs(mode.opts) do params[k] = v end
  local ids, amounts = {}, {}
  local t0 = core.now()
  -- A hang that makes no request (a loop in Lua) would never end the suite: give up loudly.
  local give_up = t0 + sc.deadline + 5 * SCALE
  debug.sethook(function()
    if core.now() > give_up then error("model: each{} still running " .. (give_up - t0) .. " s after it started", 0) end
  end, "", 100000)
  local ok, err = pcall(function()
    local iter = mode.reference and reference_each(client, params, t0 + sc.deadline, 3 * sc.pages + 10)
      or client.usage.proxies.each(params)
    for rec in iter do
      ids[#ids + 1] = rec.id
      amounts[#amounts + 1] = rec.deducted_amount
    end
  end)
  debug.sethook()
  local elapsed = core.now() - t0
  client:close()
  local log = mock.scenario_log(id)
  mock.scenario_free(id)
  return { ok = ok, err = err, ids = ids, amounts = amounts, elapsed = elapsed, log = log }
end

-- The longest run of failed requests in a row for one page (or for /me): faulted, or so slow on
-- the server (a loaded machine) that the client's timeout may have passed.
local function longest_fault_run(entries)
  local run_of, longest = {}, 0
  for _, e in ipairs(entries) do
    local key = e.route == "me" and "me" or tostring(e.offset)
    if e.fault ~= nil or (e.duration or 0) >= TIMEOUT * 0.8 then
      run_of[key] = (run_of[key] or 0) + 1
      if run_of[key] > longest then longest = run_of[key] end
    else
      run_of[key] = 0
    end
  end
  return longest
end

local function first_served(entries)
  for _, e in ipairs(entries) do
    if e.route == "list" and e.served then return e end
  end
end

-- May this run end with a typed error (other than drift and repeat_page's)?
local function error_allowed(sc, res)
  if res.elapsed >= sc.deadline - 0.05 * SCALE then return true end
  local entries = res.log.log
  if sc.short then
    for _, e in ipairs(entries) do if e.fault ~= nil then return true end end
  end
  return longest_fault_run(entries) >= sc.max_retries + 1
end

-- Numbers as the server sent them (JSON integers decode as floats on some Luas).
local function show(v)
  if type(v) == "number" and v == math.floor(v) then return ("%d"):format(v) end
  return tostring(v)
end

local function range(from, to, step)
  local t = {}
  for i = from, to, step do t[#t + 1] = i end
  return t
end

-- Where `got` first differs from `want`, in words.
local function compare(want, got)
  local set, missing = {}, 0
  for _, i in ipairs(got) do set[i] = true end
  for _, i in ipairs(want) do if not set[i] then missing = missing + 1 end end
  for k = 1, max(#want, #got) do
    if want[k] ~= got[k] then
      return ("%d records instead of %d (%d missing); first difference at #%d: record %s instead of %s")
        :format(#got, #want, missing, k, show(got[k]), show(want[k]))
    end
  end
end

local function check_result(sc, res, indices)
  local desc = sc.ordering ~= "created_at"
  local n, entries = sc.body.records, res.log.log
  if sc.class == "exact" or sc.class == "repeat_page" then
    local want = desc and range(n, 1, -1) or range(1, n, 1)
    local diff = compare(want, indices)
    if diff then return (sc.class == "repeat_page" and "silent partial result: " or "") .. diff end
    local total, sum = 0, 0
    for _, i in ipairs(want) do total = total + select(5, dataset.keys(i)) / 1024 end
    for _, a in ipairs(res.amounts) do sum = sum + a end
    if sum ~= total then return ("deducted_amount totals %.10g instead of %.10g"):format(sum, total) end
    return nil
  end
  local first = first_served(entries)
  if not first then return "records yielded but no list page was served" end
  local c0 = math.floor(first.count)
  if sc.class == "newest_inserts" then
    return compare(range(c0, 1, -1), indices)
  elseif sc.class == "oldest_appends" then
    if #indices < c0 then return compare(range(1, c0, 1), indices) end
    for k, i in ipairs(indices) do
      if i ~= k then return ("record #%d is %d: not the first page's records then a prefix of the appended ones")
        :format(k, i) end
    end
    if #indices > res.log.count then return "more records than the server ever had" end
    return nil
  end
  -- deletes: a subsequence of the initial order holding every record never deleted
  local deleted = {}
  for _, i in ipairs(res.log.deleted) do deleted[i] = true end
  local seen = {}
  for k, i in ipairs(indices) do
    if i > n then return "record " .. i .. " never existed" end
    if k > 1 and (desc and i >= indices[k - 1] or not desc and i <= indices[k - 1]) then
      return ("record #%d (%d) is out of server order after %d"):format(k, i, indices[k - 1])
    end
    seen[i] = true
  end
  local missing = {}
  for i = 1, n do if not deleted[i] and not seen[i] then missing[#missing + 1] = i end end
  if #missing > 0 then
    return ("%d records never deleted are missing (e.g. %d), %d yielded, %d deleted")
      :format(#missing, missing[1], #indices, #res.log.deleted)
  end
end

--- Checks one run against the invariant; returns nil or what went wrong.
local function check(sc, mode, res)
  local bound = sc.class == "repeat_page" and 2 * (mode.ahead + 3)
    or 3 * (sc.pages + 2 + mode.ahead) + sc.fault_requests
  if res.log.list_requests > bound then
    return ("%d list requests, more than the bound %d"):format(res.log.list_requests, bound)
  end
  if res.elapsed > sc.deadline + SLACK then
    return ("took %.2f s, beyond the deadline %.2f s + %.1f s"):format(res.elapsed, sc.deadline, SLACK)
  end
  if not res.ok then
    local err = res.err
    if not acedata.is_error(err) then return "non-typed error: " .. tostring(err) end
    if not KINDS[err.kind] then return "error of an undocumented kind: " .. tostring(err) end
    if sc.class == "repeat_page" then return nil end
    if sc.class == "deletes" and err.kind == "drift" and #res.log.deleted > 0 then return nil end
    if error_allowed(sc, res) then return nil end
    return ("a typed error without a persistent fault or the deadline, after %d records (%.2f s): %s")
      :format(#res.ids, res.elapsed, tostring(err))
  end
  local indices, seen = {}, {}
  for k, id in ipairs(res.ids) do
    local i = dataset.index_of(id)
    if not i then return "yielded an id the server never sent: " .. tostring(id) end
    if seen[i] then return ("record %d yielded twice (#%d and #%d)"):format(i, seen[i], k) end
    seen[i] = k
    local want = select(5, dataset.keys(i)) / 1024
    if res.amounts[k] ~= want then
      return ("record %d: deducted_amount %s instead of %s"):format(i, tostring(res.amounts[k]), want)
    end
    indices[k] = i
  end
  return check_result(sc, res, indices)
end

local function describe_run(sc, mode, res)
  local out = { ("seed %d, %s, %s: %s"):format(sc.seed, mode.name, sc.class, cjson.encode(sc.body)),
    ("  page_size %d, ordering %s, deadline %.2f, max_retries %d, fields %s"):format(sc.page_size,
      tostring(sc.ordering), sc.deadline, sc.max_retries, sc.fields and "yes" or "no") }
  for _, e in ipairs(res.log.log) do
    out[#out + 1] = ("  #%s %s offset %s limit %s -> %s, %s records (count %s)%s%s"):format(show(e.n), e.route,
      show(e.offset), show(e.limit), show(e.status), e.ids and #e.ids or "-", show(e.count),
      e.fault and ", fault " .. e.fault or "", e.mutations and ", mutations " .. cjson.encode(e.mutations) or "")
  end
  out[#out + 1] = ("  result: %s, %d records, %.3f s"):format(res.ok and "ok" or tostring(res.err), #res.ids,
    res.elapsed)
  return table.concat(out, "\n")
end

local function seeds_of(class, mode)
  local out = {}
  local from, to = 1, mode.extra and EXTRA_RUNS or RUNS
  if ONLY_SEED then from, to = ONLY_SEED, ONLY_SEED end
  for seed = from, to do
    if scenario_of(seed).class == class then out[#out + 1] = seed end
  end
  return out
end

-- The scenario server itself: the model's truth is only as good as this.
describe("mock scenarios (the servers of the paging model)", function()
  local http = require "socket.http"
  local ltn12 = require "ltn12"

  setup(function() mock.reset() end)

  -- One list request to a scenario: status, decoded body.
  local function list(base_url, query, token)
    local chunks = {}
    local _, status = http.request {
      url = base_url .. "/api/v1/usage/proxies/?user_id=" .. dataset.USER_ID .. (query or ""),
      headers = { authorization = "Bearer " .. (token or dataset.TOKEN) }, sink = ltn12.sink.table(chunks),
    }
    local text = table.concat(chunks)
    return status, text ~= "" and cjson.decode(text) or nil
  end

  local function indices(body)
    local out = {}
    for k, rec in ipairs(body.items) do out[k] = dataset.index_of(rec.id) end
    return out
  end

  local function with(body, fn)
    local id, base_url = mock.scenario(body)
    local ok, err = pcall(fn, base_url, id)
    mock.scenario_free(id)
    if not ok then error(err, 0) end
  end

  it("serves records 1..n newest first, or oldest first, with the count", function()
    with({ records = 5 }, function(url)
      local status, body = list(url, "&limit=3&offset=1")
      assert.equal(200, status)
      assert.equal(5, body.count)
      assert.same({ 4, 3, 2 }, indices(body))
      assert.same({ 2, 3, 4 }, indices(select(2, list(url, "&limit=3&offset=1&ordering=created_at"))))
    end)
  end)

  it("caps a page at cap, and sends ignore_limit records whatever limit says", function()
    with({ records = 30, cap = 7 }, function(url)
      assert.equal(7, #select(2, list(url, "&limit=20")).items)
      assert.equal(3, #select(2, list(url, "&limit=3")).items)
    end)
    with({ records = 30, ignore_limit = 4 }, function(url)
      assert.equal(4, #select(2, list(url, "&limit=20")).items)
      assert.equal(4, #select(2, list(url, "&limit=1")).items)
    end)
  end)

  it("draws the page size of each request from vary, the same in every scenario of that seed", function()
    local sizes = {}
    for round = 1, 2 do
      with({ records = 300, vary = { min = 2, max = 9, seed = 5 } }, function(url)
        sizes[round] = {}
        for k = 1, 20 do
          local n = #select(2, list(url, "&limit=50&offset=" .. (k * 10))).items
          assert.is_true(n >= 2 and n <= 9, "page of " .. n)
          sizes[round][k] = n
        end
      end)
    end
    assert.same(sizes[1], sizes[2])
    local distinct = {}
    for _, n in ipairs(sizes[1]) do distinct[n] = true end
    assert.is_not_nil(next(distinct, next(distinct)), "every page had the same size")
  end)

  it("repeat_page serves the first page whatever the offset", function()
    with({ records = 30, repeat_page = true }, function(url)
      assert.same({ 30, 29, 28 }, indices(select(2, list(url, "&limit=3&offset=9"))))
    end)
  end)

  it("applies mutations before the list request they name, and logs them", function()
    with({ records = 10, mutations = { { request = 2, insert = 3 }, { request = 3, delete = { 12, 1 } } } },
      function(url, id)
        assert.equal(10, select(2, list(url, "&limit=2")).count)
        local _, second = list(url, "&limit=2")
        assert.equal(13, second.count)
        assert.same({ 13, 12 }, indices(second))
        local _, third = list(url, "&limit=2")
        assert.equal(11, third.count)
        assert.same({ 13, 11 }, indices(third))
        local log = mock.scenario_log(id)
        assert.equal(3, log.list_requests)
        assert.same({ 1, 12 }, log.deleted)          -- in data set order
        assert.same({ { insert = 3 } }, log.log[2].mutations)
        assert.same({ 13, 11 }, log.log[3].ids)
      end)
  end)

  it("faults the request it names, then the retries of the same page, `times` in all", function()
    with({ records = 30, faults = { { request = 2, fault = "status", status = 503, times = 2 } } }, function(url, id)
      assert.equal(200, (list(url, "&limit=5")))
      assert.equal(503, (list(url, "&limit=5&offset=5")))
      assert.equal(200, (list(url, "&limit=5&offset=10")))  -- another page: not faulted
      assert.equal(503, (list(url, "&limit=5&offset=5")))   -- the retry of the faulted page
      assert.equal(200, (list(url, "&limit=5&offset=5")))
      local log = mock.scenario_log(id).log
      assert.same({ true, false, true, false, true }, { log[1].served, log[2].served, log[3].served, log[4].served,
        log[5].served })
      assert.equal("status 503", log[2].fault)
    end)
  end)

  it("checks tokens and user_id like the mock's own list route", function()
    with({ records = 3 }, function(url)
      assert.equal(401, (list(url, "", "platform-v1-" .. ("0"):rep(64))))
      local chunks = {}
      local _, status = http.request { url = url .. "/api/v1/usage/proxies/",
        headers = { authorization = "Bearer " .. dataset.TOKEN }, sink = ltn12.sink.table(chunks) }
      assert.equal(403, status)
    end)
  end)

  it("answers 404 for a scenario that does not exist, and 400 for a bad one", function()
    local _, status = http.request(mock.url() .. "/__scenario/s999999/api/v1/usage/proxies/")
    assert.equal(404, status)
    local ok, err = pcall(mock.scenario, { records = 3, cap = 0 })
    assert.is_false(ok)
    assert.matches("cap must be an integer", err)
  end)
end)

describe("usage.proxies.each against randomized servers (the paging model)", function()
  setup(function() mock.reset() end)

  for _, mode in ipairs(MODES) do
    if not ONLY_MODE or ONLY_MODE == mode.name then
      describe(mode.name, function()
        for _, class in ipairs(CLASSES) do
          local seeds = seeds_of(class.name, mode)
          if #seeds > 0 then
            it(class.what .. " (" .. #seeds .. " seeds)", function()
              local failures, failed_seeds = {}, {}
              local t0, in_each, slowest, slowest_seed, errored = core.now(), 0, 0, nil, 0
              for _, seed in ipairs(seeds) do
                local sc = scenario_of(seed)
                local res = run(sc, mode)
                in_each = in_each + res.elapsed
                if not res.ok then errored = errored + 1 end
                if res.elapsed > slowest then slowest, slowest_seed = res.elapsed, seed end
                local why = check(sc, mode, res)
                if VERBOSE then print(describe_run(sc, mode, res) .. "\n  verdict: " .. (why or "ok")) end
                if why then
                  failed_seeds[#failed_seeds + 1] = seed
                  if STATS then print(("FAIL seed %d (%s, %s): %s"):format(seed, mode.name, class.name, why)) end
                  failures[#failures + 1] = ("seed %d (%s, %s): %s\n    replay: ACEDATA_MODEL_SEED=%d "
                    .. "ACEDATA_MODEL_MODE=%s ACEDATA_MODEL_VERBOSE=1 %s"):format(seed, mode.name, class.name, why,
                    seed, mode.name, REPLAY)
                end
              end
              if STATS then
                print(("%s %s: %d seeds in %.2f s, %.2f s of it in each{}; slowest seed %s (%.2f s); %d typed errors; "
                  .. "%d failed"):format(mode.name, class.name, #seeds, core.now() - t0, in_each, tostring(slowest_seed),
                  slowest, errored, #failures))
              end
              local shown = {}
              for k = 1, min(#failures, 25) do shown[k] = failures[k] end
              if #failures > 25 then shown[#shown + 1] = ("… and %d more"):format(#failures - 25) end
              assert(#failures == 0, ("%d of %d seeds failed (seeds %s):\n%s"):format(#failures, #seeds,
                table.concat(failed_seeds, " "), table.concat(shown, "\n")))
            end)
          end
        end
      end)
    end
  end
end)
