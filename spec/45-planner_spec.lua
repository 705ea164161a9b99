-- The paging planner against simulated servers, through a custom runtime (the documented
-- runtime interface, built on acedata.runtime.tasks): requests in flight are answered in a
-- seeded random order, and the server's behaviour (page cap, ignored limit, page sizes varying
-- per page, records created or deleted between requests) is drawn from the seed. Thousands of
-- runs in a few seconds; spec/44-paging_model_spec.lua does the same over real HTTP with faults.
--
-- Replay one seed: ACEDATA_PLANNER_SEED=N busted spec/45-planner_spec.lua
local acedata = require "acedata"
local cjson = require "cjson"
local coroutines = require "acedata.runtime.coroutines"
local response = require "acedata.runtime.response"
local tasks = require "acedata.runtime.tasks"

local RUNS = tonumber(os.getenv("ACEDATA_PLANNER_RUNS") or "") or 2000
local ONLY = tonumber(os.getenv("ACEDATA_PLANNER_SEED") or "")
local TOKEN = "platform-v1-" .. string.rep("ab", 32)

-- A small deterministic PRNG (the same on every Lua): rand(n) in 1..n.
local function prng(seed)
  local s = seed % 2147483647
  if s <= 0 then s = s + 2147483646 end
  return function(n)
    s = (s * 48271) % 2147483647
    return (s % n) + 1
  end
end

-- A server over `records` ({id, amount}, in server order): answers list URLs.
--   cap: at most this many per page; fixed: this many whatever limit says; vary: per page a
--   random size in 1..limit; mutate(k): called before the k-th list request is served.
local function new_server(b)
  local srv = { records = b.records, served = 0, log = {} }
  function srv.serve(url)
    srv.served = srv.served + 1
    if b.mutate then b.mutate(srv, srv.served) end
    local limit = tonumber(url:match("[?&]limit=(%d+)")) or 10
    local offset = tonumber(url:match("[?&]offset=(%d+)")) or 0
    local n = limit
    if b.fixed then n = b.fixed end
    if b.cap then n = math.min(n, b.cap) end
    if b.vary then n = b.vary(limit) end
    local items = {}
    local recs = srv.records
    local from = srv.repeat_first and 0 or offset
    for i = from + 1, math.min(#recs, from + n) do
      items[#items + 1] = { id = recs[i].id, deducted_amount = recs[i].amount }
    end
    srv.log[#srv.log + 1] = { offset = offset, limit = limit, n = #items, count = #recs }
    return cjson.encode { count = #recs, items = setmetatable(items, cjson.empty_array_mt) }
  end
  return srv
end

-- The runtime: tasks are coroutines; a request in flight waits until the scheduler answers it,
-- in a random order drawn from `rand`.
local function sim_runtime(srv, rand)
  local rt = { name = "sim", pending = {}, clock = 0, max_inflight = 0 }
  local driver = coroutines.new()
  local function answer_one()
    local i = rand(#rt.pending)
    local p = table.remove(rt.pending, i)
    p.body = srv.serve(p.url)
    driver:wake(p.task)
  end
  driver.wait_outside = function(_, done)
    while not done() do
      driver:run_ready()
      if done() then return end
      if #rt.pending == 0 then error("simulated runtime: nothing left to wait for", 0) end
      answer_one()
      driver:run_ready()
    end
  end
  driver.abort = function(d, task)
    for i = #rt.pending, 1, -1 do
      if rt.pending[i].task == task then table.remove(rt.pending, i) end
    end
    d:forget(task)
  end
  local core = tasks.new(driver)
  function rt.get(_, url)
    local me = driver:current()
    local p = { url = url, task = me }
    if me then
      rt.pending[#rt.pending + 1] = p
      rt.max_inflight = math.max(rt.max_inflight, #rt.pending)
      repeat driver:suspend(me) until p.body
    else
      p.body = srv.serve(url)
    end
    return response.from_string(200, {}, p.body)
  end
  function rt.sleep(self, s) self.clock = self.clock + s end
  function rt.now(self) return self.clock end
  function rt.spawn(_, fn, ...) return core:spawn(fn, ...) end
  function rt.join(_, t) return core:join(t) end
  function rt.cancel(_, t) return core:cancel(t) end
  return rt
end

local MODES = {
  { name = "sequential", opts = {} },
  { name = "prefetch = 1", opts = { prefetch = 1 } },
  { name = "concurrency = 4", opts = { concurrency = 4 } },
  { name = "concurrency = \"auto\"", opts = { concurrency = "auto", max_concurrency = 6 } },
}

local function make_records(n, first)
  local list = {}
  for i = 1, n do list[i] = { id = ("r%06d"):format(first + i), amount = i % 7 } end
  return list
end

-- Draws a run from its seed: the server, the records, and what happens while paging.
local function draw(seed)
  local rand = prng(seed)
  local n = rand(301) - 1
  local b = { records = make_records(n, 0) }
  local shape = rand(4)
  if shape == 1 then b.cap = ({ 7, 50, 100 })[rand(3)]
  elseif shape == 2 then b.fixed = rand(40)
  elseif shape == 3 then b.vary = function(limit) return rand(limit) end end
  local page_size = rand(120)
  local drift = rand(4)        -- 1, 2: none; 3: newest records created meanwhile; 4: deleted
  local ordering = rand(2) == 1 and "-created_at" or "created_at"
  local created = 0
  if drift == 3 then
    b.mutate = function(srv, k)
      if k > 1 and rand(3) == 1 then
        local add = make_records(rand(5), 100000 + created)
        created = created + #add
        if ordering == "-created_at" then
          for i = #add, 1, -1 do table.insert(srv.records, 1, add[i]) end
        else
          for i = 1, #add do srv.records[#srv.records + 1] = add[i] end
        end
      end
    end
  elseif drift == 4 then
    b.mutate = function(srv, k)
      if k > 1 and #srv.records > 0 and rand(4) == 1 then table.remove(srv.records, rand(#srv.records)) end
    end
  end
  return { rand = rand, b = b, page_size = page_size, drift = drift, ordering = ordering, n = n }
end

local function ids_of(list)
  local out = {}
  for i, r in ipairs(list) do out[i] = r.id end
  return out
end

-- Runs one seed in one mode; returns nil when the invariant holds, else what went wrong.
local function run(seed, mode)
  local d = draw(seed)
  local initial = ids_of(d.b.records)
  local srv = new_server(d.b)
  local rt = sim_runtime(srv, d.rand)
  local c = acedata.new { token = TOKEN, base_url = "http://127.0.0.1:9", runtime = rt }
  local params = { page_size = d.page_size, user_id = false, ordering = d.ordering }
  for k, v in pairs(mode.opts) do params[k] = v end
  local got = {}
  local ok, err = pcall(function()
    for rec in c.usage.proxies.each(params) do got[#got + 1] = rec.id end
  end)
  local where = ("seed %d, %s (drift %d, %s): "):format(seed, mode.name, d.drift, d.ordering)
  if not ok and not acedata.is_error(err) then return where .. "a Lua error: " .. tostring(err) end
  local most = mode.opts.max_concurrency or math.max(1, (mode.opts.concurrency or 1), (mode.opts.prefetch or 0) + 1)
  if rt.max_inflight > most then
    return where .. rt.max_inflight .. " requests in flight"
  end
  local seen = {}
  for _, id in ipairs(got) do
    if seen[id] then return where .. "record " .. id .. " twice" end
    seen[id] = true
  end
  if srv.served > 20 + 4 * (d.n + 1) then return where .. srv.served .. " requests served" end
  if d.drift == 4 then
    if not ok then
      if err.kind ~= "drift" then return where .. "error " .. tostring(err) end
      return nil
    end
    -- Every record that was never deleted came, in order.
    local alive = {}
    for _, r in ipairs(srv.records) do alive[r.id] = true end
    local at = 1
    for _, id in ipairs(initial) do
      if alive[id] then
        while got[at] and got[at] ~= id do at = at + 1 end
        if not got[at] then return where .. "missing " .. id .. " (never deleted)" end
      end
    end
    return nil
  end
  if not ok then return where .. "error " .. tostring(err) end
  local want = initial
  if d.drift == 3 and d.ordering == "created_at" then
    -- The records of the start, then a prefix of the ones appended.
    for i = 1, #initial do
      if got[i] ~= initial[i] then return where .. "record " .. i .. " is " .. tostring(got[i]) .. ", not " .. initial[i] end
    end
    for i = #initial + 1, #got do
      if got[i] ~= srv.records[i].id then return where .. "appended record " .. i .. " out of order" end
    end
    return nil
  end
  if #got ~= #want then return where .. #got .. " records, not " .. #want end
  for i = 1, #want do
    if got[i] ~= want[i] then return where .. "record " .. i .. " is " .. got[i] .. ", not " .. want[i] end
  end
  return nil
end

describe("the paging planner, against simulated servers", function()
  for _, mode in ipairs(MODES) do
    it("keeps the invariant over seeded runs with " .. mode.name, function()
      local failures = {}
      local first, last = 1, RUNS
      if ONLY then first, last = ONLY, ONLY end
      for seed = first, last do
        local problem = run(seed, mode)
        if problem then failures[#failures + 1] = problem end
        if #failures >= 10 then break end
      end
      assert.equal(0, #failures, table.concat(failures, "\n"))
    end)
  end

  it("ends with a typed error, after a bounded number of requests, when the server ignores offset", function()
    local srv = new_server { records = make_records(50, 0), cap = 10 }
    srv.repeat_first = true
    local rt = sim_runtime(srv, prng(1))
    local c = acedata.new { token = TOKEN, base_url = "http://127.0.0.1:9", runtime = rt }
    local ok, err = pcall(function()
      for _ in c.usage.proxies.each { page_size = 10, user_id = false, concurrency = 4 } do end
    end)
    local n = srv.served
    assert.is_false(ok)
    assert.equal("paging", err.kind)
    assert.is_true(n <= 6, n .. " requests")
  end)

  it("honours a custom runtime with concurrency: the requests are its own", function()
    local srv = new_server { records = make_records(100, 0), cap = 10 }
    local rt = sim_runtime(srv, prng(7))
    local c = acedata.new { token = TOKEN, base_url = "http://127.0.0.1:9", runtime = rt }
    local got = c.usage.proxies.all { page_size = 10, user_id = false, concurrency = 4 }
    assert.equal(100, #got)
    assert.equal(4, rt.max_inflight)
  end)

  it("grows the requests in flight with concurrency = \"auto\", never past max_concurrency", function()
    local srv = new_server { records = make_records(2000, 0), cap = 10 }
    local rt = sim_runtime(srv, prng(11))
    local c = acedata.new { token = TOKEN, base_url = "http://127.0.0.1:9", runtime = rt }
    local got = c.usage.proxies.all { page_size = 10, user_id = false, concurrency = "auto", max_concurrency = 8 }
    assert.equal(2000, #got)
    assert.equal(8, rt.max_inflight)
  end)

  it("refuses concurrency on a custom runtime that cannot run tasks", function()
    local c = acedata.new { token = TOKEN, base_url = "http://127.0.0.1:9", runtime = {
      get = function() end, sleep = function() end, now = function() return 0 end } }
    assert.has_error(function() c.usage.proxies.each { concurrency = 2 } end,
      "acedata: concurrency needs a runtime that can run tasks (spawn, join, cancel); runtime \"custom\" has none")
  end)
end)
