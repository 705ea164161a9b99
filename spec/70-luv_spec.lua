-- acedata.luv and acedata.runtime.luv in plain Lua, on luv's default loop, against the mock.
-- Every run ends by running the uv loop until it has nothing left to do (bounded by an unref'd
-- guard timer), then counts the uv handles still open: there must be none.
local mock = require "spec.helpers.mock"

local dataset = mock.dataset
local newest_first_ids = mock.newest_first_ids
local list_requests = mock.list_requests
local uv = require "luv"

-- PUC Lua 5.1 cannot yield across pcall: there the luv runtime refuses to start.
local YIELDABLE = coroutine.wrap(function() return pcall(coroutine.yield, true) end)() == true



--- uv handles not closing (every handle, after the close callbacks have run).
local function open_handles()
  local names = {}
  uv.walk(function(h)
    if not h:is_closing() then names[#names + 1] = tostring(h) end
  end)
  return #names, table.concat(names, ", ")
end

--- Runs the uv loop until nothing is active, at most `seconds`; returns the seconds it took.
local function run_loop(seconds)
  local guard, timed_out = uv.new_timer(), false
  guard:start(math.floor(seconds * 1000), 0, function()
    timed_out = true
    uv.stop()
  end)
  guard:unref()
  local t0 = uv.hrtime()
  uv.run()
  local took = (uv.hrtime() - t0) / 1e9
  guard:close()
  uv.run("nowait")                       -- runs the close callbacks
  assert.is_false(timed_out, "the uv loop was still busy after " .. seconds .. " s")
  return took
end

local function new_client(opts)
  local o = { token = mock.TOKEN, base_url = mock.url(), backoff_base = 0.01, backoff_cap = 0.05, timeout = 5 }
  for k, v in pairs(opts or {}) do o[k] = v end
  return require("acedata.luv").new(o)
end

if not YIELDABLE then
  describe("acedata.luv on Lua 5.1", function()
    it("refuses to make a client, saying why", function()
      local ok, err = pcall(new_client)
      assert.is_false(ok)
      assert.matches("needs Lua 5.2 or later, or LuaJIT", err, 1, true)
    end)
  end)
  return
end

describe("acedata.luv", function()
  local aluv = require "acedata.luv"
  local clients

  before_each(function()
    mock.reset()
    mock.config { records = 1000 }
    clients = {}
  end)

  after_each(function()
    for _, c in ipairs(clients) do c:close() end
    uv.run("nowait")
    local n, names = open_handles()
    assert.equal(0, n, "uv handles left open: " .. names)
  end)

  local function client(opts)
    local c = new_client(opts)
    clients[#clients + 1] = c
    return c
  end

  it("runs each{concurrency = 4} inside run() and yields every record in server order", function()
    local c, got, err = client(), nil, nil
    aluv.run(c, function(cl)
      local ids = {}
      for rec in cl.usage.proxies.each { page_size = 100, concurrency = 4 } do ids[#ids + 1] = rec.id end
      return ids
    end, function(ids, e) got, err = ids, e end)
    run_loop(10)
    assert.is_nil(err)
    assert.same(newest_first_ids(1000), got)
  end)

  it("has the pages of each{concurrency = 4} in flight together, over several connections", function()
    mock.config { page_delay_ms = 100 }
    local c, n = client(), nil
    aluv.run(c, function(cl)
      local count = 0
      for _ in cl.usage.proxies.each { page_size = 100, concurrency = 4 } do count = count + 1 end
      return count
    end, function(count) n = count end)
    local took = run_loop(10)
    assert.equal(1000, n)
    assert.is_true(took < 0.9, ("10 pages of 100 ms took %.3f s"):format(took))   -- one at a time: >= 1 s
    local conns = {}
    for _, r in ipairs(list_requests()) do conns[r.connection_id] = true end
    local k = 0
    for _ in pairs(conns) do k = k + 1 end
    assert.is_true(k >= 2 and k <= 4, "connections: " .. k)
  end)

  it("delivers (nil, err) to the callback when a request fails", function()
    mock.faults { fault = "status", status = 404, route = "list" }
    local c, calls, list, err = client(), 0, nil, nil
    c.async.usage.proxies.all({ page_size = 100 }, function(l, e)
      calls = calls + 1
      list, err = l, e
    end)
    run_loop(10)
    assert.equal(1, calls)
    assert.is_nil(list)
    assert.is_true(require("acedata").is_error(err))
    assert.equal("not_found", err.kind)
    assert.equal(404, err.status)
  end)

  it("delivers (nil, err) when each{} raises inside run()", function()
    mock.faults { fault = "status", status = 404, offset = 300 }
    local c, n, err = client(), 0, nil
    aluv.run(c, function(cl)
      for _ in cl.usage.proxies.each { page_size = 100, concurrency = 4 } do n = n + 1 end
      return n
    end, function(_, e) err = e end)
    run_loop(10)
    assert.equal("not_found", err.kind)
    assert.equal(300, n)
  end)

  it("retries with the same policy, waiting on a uv timer", function()
    mock.faults { fault = "status", status = 503, route = "list" }
    local c, page, err = client(), nil, nil
    c.async.usage.proxies({ limit = 5 }, function(p, e) page, err = p, e end)
    run_loop(10)
    assert.is_nil(err)
    assert.equal(1000, page.count)
    assert.equal(5, #page.results)
    assert.equal(2, #list_requests())
  end)

  it("raises at once, sending nothing, when the API is called outside run()", function()
    local c = client()
    local ok, err = pcall(function() return c.usage.proxies {} end)
    assert.is_false(ok)
    assert.equal('acedata: with runtime = "luv", call the API inside acedata.luv.run(…)', err)
    assert.equal(0, #mock.log())
  end)

  it("calls the callback from the loop, never before run() returns", function()
    local c, order = client(), {}
    aluv.run(c, function() return 42 end, function(v)
      order[#order + 1] = "callback " .. tostring(v)
    end)
    order[#order + 1] = "returned"
    run_loop(5)
    assert.same({ "returned", "callback 42" }, order)
  end)

  it("gives a bug in fn to the callback as (nil, message)", function()
    local c, res, err = client(), "unset", nil
    aluv.run(c, function() error("boom in fn") end, function(r, e) res, err = r, e end)
    run_loop(5)
    assert.is_nil(res)
    assert.matches("boom in fn", err, 1, true)
  end)

  it("wraps get, me and each for callbacks", function()
    local c, rec, me, n, seen = client(), nil, nil, nil, 0
    local id = dataset.record(7).id
    c.async.usage.proxies.get(id, function(r) rec = r end)
    c.async.me(function(m) me = m end)
    c.async.usage.proxies.each({ page_size = 50, max_items = 120 }, function() seen = seen + 1 end,
      function(count) n = count end)
    run_loop(10)
    assert.equal(id, rec.id)
    assert.equal(dataset.USER_ID, me.id)
    assert.equal(120, n)
    assert.equal(120, seen)
  end)

  it("leaves no uv handle open once a client is idle, its connection kept alive", function()
    local c, done = client(), false
    aluv.run(c, function(cl) return cl.usage.proxies.all { page_size = 100, max_items = 300 } end,
      function(list) done = #list == 300 end)
    run_loop(10)
    assert.is_true(done)
    assert.equal(0, c.runtime:handles())
    local n, names = open_handles()
    assert.equal(0, n, names)
    -- and the kept-alive connection is used again by the next run
    local again = false
    aluv.run(c, function(cl) return cl.usage.proxies { limit = 1 } end, function(p) again = p.count == 1000 end)
    run_loop(10)
    assert.is_true(again)
    assert.equal(1, c.runtime:info().connects)
  end)

  it("keeps a uv timer firing while a request waits on a slow server", function()
    mock.faults { fault = "slow_first_byte", delay = 1, route = "list" }
    local c, ticks, at_done, page = client(), 0, nil, nil
    local tick = uv.new_timer()
    tick:start(20, 20, function() ticks = ticks + 1 end)
    tick:unref()
    aluv.run(c, function(cl) return cl.usage.proxies { limit = 10 } end, function(p)
      page, at_done = p, ticks
    end)
    local took = run_loop(10)
    tick:close()
    uv.run("nowait")
    assert.equal(10, #page.results)
    assert.is_true(took >= 1, "took " .. took)
    assert.is_true(at_done >= 35, "ticks during a 1 s wait: " .. at_done)
  end)

  it("cancels a running task: its request stops and the callback gets (nil, \"acedata: cancelled\")", function()
    mock.faults { fault = "slow_first_byte", delay = 2, route = "list" }
    local c, res, err = client(), "unset", nil
    local handle = aluv.run(c, function(cl) return cl.usage.proxies { limit = 10 } end,
      function(r, e) res, err = r, e end)
    local stopper = uv.new_timer()
    stopper:start(100, 0, function()
      stopper:close()
      handle.cancel()
    end)
    local took = run_loop(10)
    assert.is_nil(res)
    assert.equal("acedata: cancelled", err)
    assert.is_true(handle.done())
    assert.is_true(took < 1, "took " .. took)
  end)

  it("closes its handles when the client is closed while a request runs", function()
    mock.faults { fault = "slow_first_byte", delay = 2, route = "list" }
    local c, err = new_client(), nil
    aluv.run(c, function(cl) return cl.usage.proxies { limit = 10 } end, function(_, e) err = e end)
    local closer = uv.new_timer()
    closer:start(100, 0, function()
      closer:close()
      c:close()
    end)
    local took = run_loop(10)
    assert.equal("acedata: cancelled", err)
    assert.is_true(took < 1, "took " .. took)
  end)

  it("runs several clients on the same uv loop at once", function()
    mock.config { page_delay_ms = 200 }
    local a, b, got = client(), client(), {}
    for _, c in ipairs { a, b } do
      aluv.run(c, function(cl) return cl.usage.proxies { limit = 3 } end, function(p) got[#got + 1] = #p.results end)
    end
    local took = run_loop(10)
    assert.same({ 3, 3 }, got)
    assert.is_true(took < 0.35, "two 200 ms pages took " .. took)   -- one after the other: >= 0.4 s
  end)

  it("refuses a client not made for luv, and a missing callback", function()
    local plain = mock.client()
    assert.has_error(function() aluv.run(plain, function() end, function() end) end,
      'acedata: expected a client made by acedata.luv.new (runtime = "luv")')
    local c = client()
    assert.has_error(function() c.async.usage.proxies({}, nil) end, "acedata: callback must be a function, got nil")
    plain:close()
  end)
end)
