--- The loop for luv (libuv): Neovim's `vim.loop`, or `require "luv"` in plain Lua. Requests never
-- block: libcurl's multi socket API is driven from poll and timer handles of the uv loop, and tasks
-- (coroutines) are resumed when their request is done. Same methods as acedata.loop.blocking.
--
-- How a request goes (see src/http.h, "Event loops"):
--
-- 1. A task calls `wait_request(req)` after `multi:add`: the task is registered under the
--    request's id and yields; the loop's one timer is armed from `multi:timeout()` (0 ms after an
--    add), so the request is started from the uv loop, never from inside a task.
-- 2. Timer or socket readiness -> `multi:socket_action(fd, flags)`; then the socket interest
--    changes (`multi:poll_changes()`) are applied to `uv.new_poll(fd)` handles (created, restarted
--    or closed), the timer is re-armed from `multi:timeout()`, and the tasks whose ids are in
--    `multi:done()` are resumed.
-- 3. Idle (no request running): the timer is closed, and libcurl has asked to forget every socket,
--    so no handle of this loop is left open; `uv.run()` returns in plain Lua and Neovim has
--    nothing to warn about on exit. `close()` closes whatever is left.
--
-- Nothing here ever blocks or waits: outside a task, `wait_request`, `sleep` and `join` (of a task
-- not yet done) raise instead. Every uv callback of this loop is protected (luv exits the process
-- on an error in a callback outside Neovim): a failure of the multi is delivered to the tasks
-- waiting on it, as a Lua error.
--
-- Needs coroutines that can yield across pcall and metamethods: Lua 5.2+ or LuaJIT (Neovim).
-- @module acedata.loop.luv

local unpack = table.unpack or unpack  -- luacheck: ignore (5.1)

local NOT_IN_TASK = "acedata: with transport = \"luv\", call the API inside acedata.luv.run(…)"

local Loop = {}
Loop.__index = Loop

local luv_loop = { NOT_IN_TASK = NOT_IN_TASK }

--- luv itself: Neovim's `vim.loop`, else `require "luv"`.
function luv_loop.uv()
  local vim = rawget(_G, "vim")
  if type(vim) == "table" and type(vim.loop) == "table" then return vim.loop end
  return require "luv"
end

--- Can a coroutine yield across pcall here? (Not in PUC Lua 5.1.)
local function yield_across_pcall()
  local co = coroutine.create(function() return pcall(coroutine.yield, "yielded") end)
  local _, first = coroutine.resume(co)
  return first == "yielded"
end

local function pack(...) return { n = select("#", ...), ... } end

local function close_handle(h)
  if h and not h:is_closing() then h:close() end
end

--- Makes a loop that owns `multi` (a core.multi).
-- @param multi a core.multi
-- @param[opt] uv luv (default: `vim.loop` in Neovim, else `require "luv"`)
function luv_loop.new(multi, uv)
  if not yield_across_pcall() then
    error("acedata: transport = \"luv\" needs Lua 5.2 or later, or LuaJIT (Neovim): "
      .. "a task must be able to yield across pcall", 0)
  end
  return setmetatable({
    uv = uv or luv_loop.uv(),
    multi = multi,
    tasks = setmetatable({}, { __mode = "k" }),   -- coroutine -> task
    waiting = {},                                 -- request id -> task
    polls = {},                                   -- fd -> uv poll handle
    timer = nil,                                  -- the one timer libcurl asks for
    deferred = {},                                -- functions for the next turn of the uv loop
    defer_timer = nil,
    closed = false,
  }, Loop)
end

--- The task running now, or nil outside any task of this loop.
function Loop:current()
  local co = coroutine.running()
  return co and self.tasks[co] or nil
end

--- Runs `fn()` on the next turn of the uv loop (never now), from a fresh uv callback.
function Loop:defer(fn)
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

local resume

local function finish(self, task, ok, results)
  task.done, task.ok, task.results = true, ok, results
  task.request = nil
  self.tasks[task.co] = nil
  local joiners, on_done = task.joiners, task.on_done
  task.joiners, task.on_done = nil, nil
  if on_done then on_done(task) end
  for _, t in ipairs(joiners or {}) do resume(self, t) end
end

--- Resumes a task; never raises (a task's error becomes its result).
function resume(self, task, ...)
  if task.done then return end
  local r = pack(coroutine.resume(task.co, ...))
  if not r[1] then
    finish(self, task, false, { r[2], n = 1 })
  elseif coroutine.status(task.co) == "dead" then
    finish(self, task, true, { n = r.n - 1, unpack(r, 2, r.n) })
  end
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
local function sync(self)
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
local function fail_waiting(self, err)
  local tasks = {}
  for id, task in pairs(self.waiting) do
    self.waiting[id] = nil
    tasks[#tasks + 1] = task
  end
  for _, task in ipairs(tasks) do resume(self, task, "acedata: request failed in the luv loop: " .. tostring(err)) end
end

--- One step, from a uv callback: lets libcurl act on `fd` (-1: its timer), then resumes the tasks
-- whose requests are done. Never raises.
function Loop:step(fd, flags)
  if self.closed then return end
  local ok, err = pcall(function()
    self.multi:socket_action(fd, flags)
    apply_changes(self)
  end)
  if not ok then return fail_waiting(self, err) end
  ok, err = pcall(self.multi.done, self.multi)
  if not ok then return fail_waiting(self, err) end
  for _, id in ipairs(err) do
    local task = self.waiting[id]
    if task then
      self.waiting[id] = nil
      task.request = nil
      resume(self, task)
    end
  end
  ok, err = pcall(sync, self)
  if not ok then fail_waiting(self, err) end
end

--- Makes a task of `fn(...)`, with `on_done(task)` called when it finishes, and runs it until it
-- first waits.
function Loop:start(fn, on_done, ...)
  if self.closed then error("acedata: the luv loop is closed", 2) end
  local task = { co = coroutine.create(fn), on_done = on_done }
  self.tasks[task.co] = task
  resume(self, task, ...)
  return task
end

--- Starts `fn(...)` as a task; it runs until it first waits.
function Loop:spawn(fn, ...)
  return self:start(fn, nil, ...)
end

--- Lets transfers in flight progress: the uv loop does that on its own.
function Loop.poke() end

--- Waits until `req` (from self.multi:add) is no longer running. Only inside a task.
function Loop:wait_request(req)
  local task = self:current()
  if not task then error(NOT_IN_TASK, 0) end
  if req:state() ~= "running" then return end
  self.waiting[req:id()] = task
  task.request = req
  sync(self)                      -- arms the timer: libcurl starts the request on the next turn
  local err = coroutine.yield()
  if err then error(err, 0) end
end

--- Sleeps `seconds` on a uv timer. Only inside a task.
function Loop:sleep(seconds)
  local task = self:current()
  if not task then error(NOT_IN_TASK, 0) end
  local t = self.uv.new_timer()
  task.sleep_timer = t
  t:start(math.max(0, math.floor(seconds * 1000 + 0.5)), 0, function()
    close_handle(t)
    task.sleep_timer = nil
    resume(self, task)
    pcall(sync, self)
  end)
  coroutine.yield()
end

--- Waits for a task and returns what its function returned (raises what it raised). Inside a
-- task it yields; outside, the task must be done already.
function Loop:join(task)
  if not task.done then
    local me = self:current()
    if not me then error(NOT_IN_TASK, 0) end
    task.joiners = task.joiners or {}
    task.joiners[#task.joiners + 1] = me
    coroutine.yield()
  end
  if not task.ok then error(task.results[1], 0) end
  return unpack(task.results, 1, task.results.n)
end

--- Stops a task: its request is cancelled, its timer closed; joining it raises "acedata: cancelled"
-- (its joiners are resumed on the next turn of the uv loop).
function Loop:cancel(task)
  if task.done then return end
  if task.request then
    self.waiting[task.request:id()] = nil
    task.request:cancel()
    task.request = nil
  end
  if task.sleep_timer then
    close_handle(task.sleep_timer)
    task.sleep_timer = nil
  end
  local joiners = task.joiners
  task.joiners = nil
  finish(self, task, false, { "acedata: cancelled", n = 1 })
  pcall(sync, self)
  if joiners then
    self:defer(function()
      for _, t in ipairs(joiners) do resume(self, t) end
    end)
  end
end

--- Handles of this loop still open (poll and timer handles), for checks.
function Loop:handles()
  local n = 0
  for _ in pairs(self.polls) do n = n + 1 end
  if self.timer then n = n + 1 end
  if self.defer_timer then n = n + 1 end
  return n
end

--- Cancels every task, closes every handle, and closes the multi.
function Loop:close()
  if self.closed then return end
  local tasks = {}
  for _, task in pairs(self.tasks) do tasks[#tasks + 1] = task end
  for _, task in ipairs(tasks) do self:cancel(task) end
  self.closed = true
  for fd, p in pairs(self.polls) do
    self.polls[fd] = nil
    close_handle(p)
  end
  close_handle(self.timer)
  self.timer = nil
  self.multi:close()
end

return luv_loop
