--- The tasks driver of the curl and luv runtimes: a task is a coroutine.
--
-- A task runs until it waits (`suspend` yields); `wake` puts it on the ready list, and the
-- runtime resumes the ready tasks from its own loop (`run_ready`). Resuming is never done from
-- inside `wake`, so finishing or cancelling a task never runs another task on the caller's stack.
-- Needs coroutines that can yield across pcall and metamethods for code that waits inside them:
-- the planner's tasks do not, so plain Lua 5.1 works for the curl runtime.
-- @module acedata.runtime.coroutines

local tasks = require "acedata.runtime.tasks"

local pack = tasks.pack
local unpack = table.unpack or unpack  -- luacheck: ignore (5.1)

local Driver = {}
Driver.__index = Driver

local coroutines = {}

--- Makes a driver. `on_ready()` (optional) is called whenever a task becomes ready, so a runtime
-- that is not always looping (luv) can schedule a turn.
-- @tparam[opt] function on_ready
function coroutines.new(on_ready)
  return setmetatable({
    by_co = setmetatable({}, { __mode = "k" }),   -- coroutine -> task
    ready = {},                                   -- tasks to resume, in order
    on_ready = on_ready,
  }, Driver)
end

-- Resumes `task` with `...` and records how it ended, when it did.
local function resume(self, task, ...)
  local co = task.co
  local r = pack(coroutine.resume(co, ...))
  if not r[1] then
    self.by_co[co] = nil
    task.on_finish(false, { r[2], n = 1 })
  elseif coroutine.status(co) == "dead" then
    -- Forget it now: the weak table alone would keep it on Lua 5.1/LuaJIT, whose weak keys are
    -- not ephemerons (the task refers to its coroutine), and with it the page it returned.
    self.by_co[co] = nil
    task.on_finish(true, pack(unpack(r, 2, r.n)))
  end
end

function Driver:launch(task, fn, args, finish)
  local co = coroutine.create(fn)
  task.co, task.on_finish = co, finish
  self.by_co[co] = task
  resume(self, task, unpack(args, 1, args.n))
end

function Driver:current()
  local co = coroutine.running()
  return co and self.by_co[co] or nil
end

--- Yields the running task; returns what it is resumed with (a failure of the loop, for luv).
function Driver.suspend(_, _)
  return coroutine.yield()
end

function Driver:wake(task)
  self.ready[#self.ready + 1] = task
  if self.on_ready then self.on_ready() end
end

--- Resumes the tasks made ready so far (`...` is passed to each); true when there were any.
function Driver:run_ready(...)
  local list = self.ready
  if #list == 0 then return false end
  self.ready = {}
  for i = 1, #list do
    local t = list[i]
    if not t.done and t.co and coroutine.status(t.co) == "suspended" then resume(self, t, ...) end
  end
  return true
end

--- Forgets a cancelled task's coroutine (it is never resumed again).
function Driver:forget(task)
  if task.co then self.by_co[task.co] = nil end
end

return coroutines
