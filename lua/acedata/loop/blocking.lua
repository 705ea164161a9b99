--- A small coroutine scheduler over one `core.multi`, for plain Lua: many requests at once from
-- one thread, without callbacks.
--
-- Work runs in tasks (coroutines). Inside a task, `wait_request` and `sleep` yield; the loop
-- resumes the task when its request finishes or its time comes. Outside any task they block,
-- driving the loop (so code that does not know about tasks still works). `join` waits for a task.
--
-- Every loop (this one, acedata.loop.luv, acedata.loop.ngx) offers the same methods:
--    loop.multi (nil for ngx)      loop:spawn(fn, ...) -> task     loop:join(task) -> fn's results
--    loop:cancel(task)              loop:wait_request(req)          loop:sleep(seconds)
--    loop:poke()  (lets work in flight progress without waiting; may do nothing)
-- @module acedata.loop.blocking

local core = require "acedata.core"

local unpack = table.unpack or unpack  -- luacheck: ignore (5.1)

local Loop = {}
Loop.__index = Loop

local blocking = {}

--- Makes a loop that owns `multi` (a core.multi).
function blocking.new(multi)
  return setmetatable({
    multi = multi,
    tasks = setmetatable({}, { __mode = "k" }),   -- coroutine -> task
    waiting = {},                                 -- request id -> task
    timers = {},                                  -- { due = t, task = task }
  }, Loop)
end

--- The task running now, or nil outside any task of this loop.
function Loop:current()
  local co = coroutine.running()
  return co and self.tasks[co] or nil
end

local function resume(self, task, ...)
  if task.done then return end
  local ok, a, b, c, d = coroutine.resume(task.co, ...)
  if not ok then
    task.done, task.ok, task.results = true, false, { a }
  elseif coroutine.status(task.co) == "dead" then
    task.done, task.ok, task.results = true, true, { a, b, c, d }
  end
  if task.done then
    -- Forget it now: the weak table alone would keep it on Lua 5.1/LuaJIT, whose weak keys are
    -- not ephemerons (the task refers to its coroutine), and with it the page it returned.
    self.tasks[task.co] = nil
    local joiners = task.joiners
    task.joiners = nil
    for _, t in ipairs(joiners or {}) do resume(self, t) end
  end
end

--- Starts `fn(...)` as a task; it runs until it first waits.
function Loop:spawn(fn, ...)
  local task = { joiners = nil }
  task.co = coroutine.create(fn)
  self.tasks[task.co] = task
  resume(self, task, ...)
  return task
end

--- Resumes the tasks whose request finished or whose time came; true when any was resumed.
function Loop:dispatch()
  local progressed = false
  if self.multi then
    for _, id in ipairs(self.multi:done()) do
      local task = self.waiting[id]
      if task then
        self.waiting[id] = nil
        task.request = nil
        resume(self, task)
        progressed = true
      end
    end
  end
  local now = core.now()
  local due, keep = {}, {}
  for _, t in ipairs(self.timers) do
    if t.due <= now then due[#due + 1] = t else keep[#keep + 1] = t end
  end
  self.timers = keep
  for _, t in ipairs(due) do resume(self, t.task) end
  return progressed or #due > 0
end

--- One round: resumes who is ready, else waits for network activity or the next timer.
-- Returns false when there is nothing at all to wait for.
function Loop:step()
  if self:dispatch() then return true end
  local next_due
  for _, t in ipairs(self.timers) do
    if not next_due or t.due < next_due then next_due = t.due end
  end
  local wait_ms = 1000
  if next_due then wait_ms = math.max(0, math.min(wait_ms, math.ceil((next_due - core.now()) * 1000))) end
  if self.multi and self.multi:info().running > 0 then
    self.multi:wait(wait_ms)
  elseif next_due then
    core.sleep(wait_ms / 1000)
  else
    return false
  end
  self:dispatch()
  return true
end

--- Lets transfers in flight progress without waiting (for callers busy with other work).
function Loop:poke()
  if self.multi:info().running > 0 then
    self.multi:perform()
    self:dispatch()
  end
end

--- Waits until `req` (from self.multi:add) is no longer running.
function Loop:wait_request(req)
  local task = self:current()
  if task then
    self.waiting[req:id()] = task
    task.request = req
    self.multi:perform()              -- send it now, not when someone next waits
    coroutine.yield()
    return
  end
  while req:state() == "running" do
    if not self:step() then break end
  end
end

--- Sleeps `seconds`: yields inside a task, blocks outside.
function Loop:sleep(seconds)
  local task = self:current()
  if not task then return core.sleep(seconds) end
  self.timers[#self.timers + 1] = { due = core.now() + seconds, task = task }
  coroutine.yield()
end

--- Waits for a task and returns what its function returned (raises what it raised).
function Loop:join(task)
  if not task.done then
    local me = self:current()
    if me then
      task.joiners = task.joiners or {}
      task.joiners[#task.joiners + 1] = me
      coroutine.yield()
    else
      while not task.done do
        if not self:step() then break end
      end
    end
  end
  if not task.done then error("acedata: task can never finish (nothing left to wait for)", 2) end
  if not task.ok then error(task.results[1], 0) end
  return unpack(task.results, 1, 4)
end

--- Stops a task: its request is cancelled, its timers dropped; joining it raises.
function Loop:cancel(task)
  if task.done then return end
  if task.request then
    self.waiting[task.request:id()] = nil
    task.request:cancel()
    task.request = nil
  end
  for i = #self.timers, 1, -1 do
    if self.timers[i].task == task then table.remove(self.timers, i) end
  end
  self.tasks[task.co] = nil
  task.done, task.ok, task.results = true, false, { "acedata: cancelled" }
end

return blocking
