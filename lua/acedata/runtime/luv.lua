--- The runtime for luv (libuv): Neovim's `vim.uv` (or `vim.loop`), or `require "luv"` in plain Lua.
-- Requests never block: libcurl's multi socket API is driven from poll and timer handles of the
-- uv loop, and tasks (coroutines) are resumed when their request is done.
--
-- How a request goes (see src/http.h, "Event loops"):
--
-- 1. A task calls `get`: the request is added to the multi, the task is registered under the
--    request's id and yields; the loop's one timer is armed from `multi:timeout()` (0 ms after an
--    add), so the request is started from the uv loop, never from inside a task.
-- 2. Timer or socket readiness -> `multi:socket_action(fd, flags)`; then the socket interest
--    changes (`multi:poll_changes()`) are applied to `uv.new_poll(fd)` handles (created, restarted
--    or closed), the timer is re-armed from `multi:timeout()`, and the tasks whose ids are in
--    `multi:done()` are resumed.
-- 3. Idle (no request running): the timer is closed, and libcurl has asked to forget every socket,
--    so no handle of this runtime is left open; `uv.run()` returns in plain Lua and Neovim has
--    nothing to warn about on exit. `close()` closes whatever is left.
--
-- Nothing here ever blocks or waits: outside a task, `get`, `sleep` and `join` (of a task not
-- yet done) raise instead. Every uv callback is protected (luv exits the process on an error in a
-- callback outside Neovim): a failure of the multi is raised in the tasks waiting on it.
--
-- Needs coroutines that can yield across pcall and metamethods: Lua 5.2+ or LuaJIT (Neovim).
-- @module acedata.runtime.luv

local coroutines = require "acedata.runtime.coroutines"
local curl = require "acedata.runtime.curl"
local requests = require "acedata.runtime.requests"
local tasks = require "acedata.runtime.tasks"
local core = require "acedata.core"

local NOT_IN_TASK = "acedata: with runtime = \"luv\", call the API inside acedata.luv.run(…)"

local Runtime = {}
Runtime.__index = Runtime

local luv = { NOT_IN_TASK = NOT_IN_TASK }

--- luv itself: Neovim's `vim.uv` (0.10+) or `vim.loop`, else `require "luv"`.
function luv.uv()
  local vim = rawget(_G, "vim")
  if type(vim) == "table" then
    local uv = rawget(vim, "uv") or vim.loop
    if type(uv) == "table" then return uv end
  end
  return require "luv"
end

--- Can a coroutine yield across pcall here? (Not in PUC Lua 5.1.)
local function yield_across_pcall()
  local co = coroutine.create(function() return pcall(coroutine.yield, "yielded") end)
  local _, first = coroutine.resume(co)
  return first == "yielded"
end

local function close_handle(h)
  if h and not h:is_closing() then h:close() end
end

--- Runs `fn()` on the next turn of the uv loop (never now), from a fresh uv callback.
function Runtime:defer(fn)
  self.deferred[#self.deferred + 1] = fn
  if self.defer_timer then return end
  local t = self.uv.new_timer()
  self.defer_timer = t
  t:start(0, 0, function()
    close_handle(t)
    self.defer_timer = nil
    local list = self.deferred
    self.deferred = {}
    for i = 1, #list do list[i]() end
  end)
end

local sync

-- Resumes the ready tasks, then brings the uv handles in line with libcurl's wishes.
local function run_ready(self)
  self.driver:run_ready()
  local ok, err = pcall(sync, self)
  if not ok then self:fail_waiting(err) end
end

--- Applies libcurl's socket interest changes to poll handles. A "remove" comes before any new
-- interest in a reused fd number, so the old handle is closed before the new one is made.
local function apply_changes(self)
  for _, c in ipairs(self.multi:poll_changes()) do
    local fd, what = c.fd, c.what
    local p = self.polls[fd]
    if what == "remove" then
      self.polls[fd] = nil
      close_handle(p)
    else
      if not p then
        -- Fails only for an fd libuv cannot watch; libcurl's timeouts then still end the request.
        p = self.uv.new_poll(fd)
        self.polls[fd] = p
      end
      if p then
        if what == "" then
          p:stop()
        else
          p:start(what, function(err, events)
            local flags = ""
            if err then
              flags = "e"
            else
              if events:find("r", 1, true) then flags = flags .. "r" end
              if events:find("w", 1, true) then flags = flags .. "w" end
            end
            self:step(fd, flags)
          end)
        end
      end
    end
  end
end

--- Brings poll handles and the timer in line with libcurl's wishes; closes the timer when idle.
function sync(self)
  if self.closed then return end
  apply_changes(self)
  local ms = self.multi:timeout()
  if ms < 0 or (self.multi:info().running == 0 and next(self.waiting) == nil) then
    close_handle(self.timer)
    self.timer = nil
    return
  end
  if not self.timer then self.timer = self.uv.new_timer() end
  self.timer:start(ms, 0, function() self:step(-1, "") end)
end

--- The multi failed (closed, out of memory, a libcurl multi error): every waiting task gets the
-- error raised where it waits.
function Runtime:fail_waiting(err)
  for id, task in pairs(self.waiting) do
    self.waiting[id] = nil
    task.loop_error = "acedata: request failed in the luv loop: " .. tostring(err)
    self.driver:wake(task)
  end
end

--- One step, from a uv callback: lets libcurl act on `fd` (-1: its timer), then resumes the tasks
-- whose requests are done. Never raises.
function Runtime:step(fd, flags)
  if self.closed then return end
  local ok, err = pcall(function()
    self.multi:socket_action(fd, flags)
    apply_changes(self)
  end)
  if not ok then self:fail_waiting(err) return end
  local finished
  ok, finished = pcall(self.multi.done, self.multi)
  if not ok then self:fail_waiting(finished) return end
  requests.wake_finished(self, finished)
  ok, err = pcall(sync, self)
  if not ok then self:fail_waiting(err) end
end

--- Makes the runtime of one client, on `uv` (default: luv.uv()).
-- @tparam table cfg the client's options
-- @param[opt] uv luv
function luv.new(cfg, uv)
  if not yield_across_pcall() then
    error("acedata: runtime \"luv\" needs Lua 5.2 or later, or LuaJIT (Neovim): "
      .. "a task must be able to yield across pcall", 0)
  end
  local self = setmetatable({
    name = "luv", concurrent = true,
    uv = uv or luv.uv(),
    multi = core.multi(curl.options(cfg)),
    waiting = {},                                 -- request id -> task
    polls = {},                                   -- fd -> uv poll handle
    timer = nil,                                  -- the one timer libcurl asks for
    deferred = {},                                -- functions for the next turn of the uv loop
    defer_timer = nil,
    closed = false,
  }, Runtime)
  local driver
  driver = coroutines.new(function()
    if not self.ready_turn then
      self.ready_turn = true
      self:defer(function()
        self.ready_turn = false
        run_ready(self)
      end)
    end
  end)
  driver.wait_outside = function() error(NOT_IN_TASK, 0) end
  driver.abort = function(d, task)
    requests.drop(self, task)
    if task.sleep_timer then
      close_handle(task.sleep_timer)
      task.sleep_timer = nil
    end
    d:forget(task)
    pcall(sync, self)
  end
  self.driver, self.tasks = driver, tasks.new(driver)
  return self
end

--- One GET attempt (only inside a task): a response, or nil and a transport failure.
function Runtime:get(url, header_lines, timeout)
  local me = self.driver:current()
  if not me then error(NOT_IN_TASK, 0) end
  if self.closed then error("acedata: the luv runtime is closed", 0) end
  local req = self.multi:add(url, header_lines, timeout)
  requests.wait_on(self, me, req)
  sync(self)                      -- arms the timer: libcurl starts the request on the next turn
  repeat
    self.driver:suspend(me)
    local err = me.loop_error
    if err then
      me.loop_error = nil
      error(err, 0)
    end
  until req:state() ~= "running"
  return requests.outcome(req)
end

--- Sleeps `seconds` on a uv timer. Only inside a task.
function Runtime:sleep(seconds)
  local me = self.driver:current()
  if not me then error(NOT_IN_TASK, 0) end
  local t = self.uv.new_timer()
  me.sleep_timer = t
  local due = core.now() + seconds
  t:start(math.max(0, math.floor(seconds * 1000 + 0.5)), 0, function()
    close_handle(t)
    me.sleep_timer = nil
    self.driver:wake(me)
  end)
  repeat self.driver:suspend(me) until me.sleep_timer == nil or core.now() >= due
end

Runtime.now = core.now

--- The uv loop moves transfers on its own: nothing to do.
function Runtime.poke() end

--- Starts `fn(...)` as a task, with `on_done(task)` called once it has finished (returned,
-- raised or been cancelled).
function Runtime:start(fn, on_done, ...)
  if self.closed then error("acedata: the luv runtime is closed", 2) end
  local task = self.tasks:spawn(fn, ...)
  if task.done then on_done(task) else task.on_done = on_done end
  return task
end

function Runtime:spawn(fn, ...) return self.tasks:spawn(fn, ...) end
function Runtime:join(task) return self.tasks:join(task) end

--- Cancels `task`; its joiners are woken on the next turn of the uv loop.
function Runtime:cancel(task) return self.tasks:cancel(task) end

--- Handles of this runtime still open (poll and timer handles), for checks.
function Runtime:handles()
  local n = 0
  for _ in pairs(self.polls) do n = n + 1 end
  if self.timer then n = n + 1 end
  if self.defer_timer then n = n + 1 end
  return n
end

function Runtime:info() return self.multi:info() end

--- Cancels every task, closes every handle, and closes the multi.
function Runtime:close()
  if self.closed then return end
  local list = {}
  for _, task in pairs(self.driver.by_co) do list[#list + 1] = task end
  for _, task in ipairs(list) do self.tasks:cancel(task) end
  self.closed = true
  for fd, p in pairs(self.polls) do
    self.polls[fd] = nil
    close_handle(p)
  end
  close_handle(self.timer)
  self.timer = nil
  self.multi:close()
end

return luv
