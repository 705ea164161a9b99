--- The runtime for OpenResty: tasks are ngx.thread light threads, requests go over cosockets
-- (acedata.transport.ngx), waits are ngx.sleep, so nothing ever blocks the nginx worker. A task
-- waiting for another sleeps on an ngx.semaphore. Works in the phases that have cosockets
-- (rewrite, access, content, timers); elsewhere a request raises an error naming ngx.timer.at.
-- @module acedata.runtime.ngx

local core = require "acedata.core"
local tasks = require "acedata.runtime.tasks"
local http = require "acedata.transport.ngx"

local ngx = ngx  -- luacheck: ignore (read global of OpenResty; nil outside it)

local pack = tasks.pack
local unpack = table.unpack or unpack  -- luacheck: ignore (5.1)

local Runtime = {}
Runtime.__index = Runtime

local runtime = {}

--- Is this OpenResty (with light threads and cosockets)?
function runtime.available()
  return ngx ~= nil and type(ngx.thread) == "table" and type(ngx.socket) == "table" and ngx.get_phase ~= nil
end

local function new_driver()
  local semaphore = require "ngx.semaphore"
  local by_co = setmetatable({}, { __mode = "k" })   -- light thread (a coroutine) -> task
  local driver = {}
  function driver.launch(_, task, fn, args, finish)
    local thread, err = ngx.thread.spawn(function()
      local r = pack(pcall(fn, unpack(args, 1, args.n)))
      by_co[coroutine.running()] = nil
      if r[1] then finish(true, pack(unpack(r, 2, r.n))) else finish(false, { r[2], n = 1 }) end
    end)
    if not thread then
      finish(false, { "acedata: cannot start a light thread: " .. tostring(err), n = 1 })
      return
    end
    task.thread = thread
    if coroutine.status(thread) ~= "dead" and not task.done then by_co[thread] = task end
  end
  -- The entry thread, or any coroutine that is not a task, waits through a record of its own.
  function driver.current()
    local co = coroutine.running()
    local t = by_co[co]
    if not t then
      t = { done = false, waiter = true }
      by_co[co] = t
    end
    return t
  end
  function driver.suspend(_, task)
    task.sema = task.sema or semaphore.new(0)
    task.sema:wait(86400)
  end
  function driver.wake(_, task)
    task.sema = task.sema or semaphore.new(0)
    task.sema:post(1)
  end
  function driver.wait_outside()
    error("acedata: the ngx runtime has no waiting outside a light thread", 0)
  end
  function driver.abort(_, task)
    -- Only the thread that spawned a light thread may kill it; otherwise it runs on and its
    -- results are dropped (the task has ended already).
    if task.thread then pcall(ngx.thread.kill, task.thread) end
  end
  return driver
end

--- Makes the runtime of one client. Raises outside OpenResty.
-- @tparam table cfg the client's options
function runtime.new(cfg)
  if not runtime.available() then
    error("acedata: runtime \"ngx\" works only inside OpenResty / ngx_lua (no ngx.socket here)", 0)
  end
  local driver = new_driver()
  return setmetatable({ name = "ngx", concurrent = true, http = http.new(cfg), driver = driver,
    tasks = tasks.new(driver) }, Runtime)
end

function Runtime:get(url, header_lines, timeout)
  return self.http:get(url, header_lines, timeout)
end

function Runtime.sleep(_, seconds) ngx.sleep(seconds) end
--- Monotonic seconds: the C clock, usable in every phase (ngx.now is not, in init_by_lua).
Runtime.now = core.now
--- Light threads run on their own: nothing to drive.
function Runtime.poke() end

function Runtime:spawn(fn, ...) return self.tasks:spawn(fn, ...) end

--- Waits for a task; a finished light thread is reaped too (when this thread spawned it).
function Runtime:join(task)
  local ok, r = pcall(function() return pack(self.tasks:join(task)) end)
  if task.thread and coroutine.status(task.thread) == "dead" then
    pcall(ngx.thread.wait, task.thread)
    task.thread = nil
  end
  if not ok then error(r, 0) end
  return unpack(r, 1, r.n)
end

function Runtime:cancel(task) return self.tasks:cancel(task) end
function Runtime.close() end

return runtime
