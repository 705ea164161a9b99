--- The tasks core every runtime shares: spawn, join, cancel, results.
--
-- A task runs a function; `join` waits for it and returns everything it returned (any number of
-- values) or raises what it raised; `cancel` stops it, and whoever waits on it is woken and gets
-- the error `"acedata: cancelled"`. The bookkeeping (states, results, who waits on whom) lives
-- here once; how a task runs and how a waiter is put to sleep and woken is the driver's:
--
--    driver:launch(task, fn, args, finish)
--                                start running `fn(unpack(args, 1, args.n))` for `task`; call
--                                `finish(true, results)` when it returns (results packed with n)
--                                or `finish(false, { err, n = 1 })` when it raises
--    driver:current()            the task running now (a record the driver keeps), or nil
--    driver:suspend(task)        the running `task` waits until `driver:wake(task)`; may return
--                                early (callers re-check what they wait for)
--    driver:wake(task)           let a suspended task go on (now or soon)
--    driver:wait_outside(done [, arg])
--                                outside any task: wait until `done(arg)` is true, or raise
--    driver:abort(task)          drop what the task waits on (its request, its timer, its thread)
--
-- A task may carry `task.on_done(task)`, called once when it finishes (after its joiners are
-- woken). The curl and luv runtimes run tasks as coroutines (acedata.runtime.coroutines); the ngx runtime
-- as nginx light threads.
-- @module acedata.runtime.tasks

local unpack = table.unpack or unpack  -- luacheck: ignore (5.1)

local tasks = {}

--- What joining a cancelled task raises.
tasks.CANCELLED = "acedata: cancelled"

local Tasks = {}
Tasks.__index = Tasks

local function pack(...) return { n = select("#", ...), ... } end
tasks.pack = pack

--- A tasks core on a driver.
-- @tparam table driver see the module doc
function tasks.new(driver)
  return setmetatable({ driver = driver }, Tasks)
end

--- Ends a task with `ok` and its results, and wakes whoever joined it. A task ends once.
local function finish(self, task, ok, results)
  if task.done then return end
  task.done, task.ok, task.results = true, ok, results
  local joiners, on_done = task.joiners, task.on_done
  task.joiners, task.on_done = nil, nil
  for i = 1, joiners and #joiners or 0 do self.driver:wake(joiners[i]) end
  if on_done then on_done(task) end
end

--- Starts `fn(...)` as a task; it runs until it first waits.
-- @tparam function fn
-- @return the task
function Tasks:spawn(fn, ...)
  local task = { done = false }
  self.driver:launch(task, fn, pack(...), function(ok, results) finish(self, task, ok, results) end)
  return task
end

--- Waits for `task` and returns what its function returned; raises what it raised (or
-- `tasks.CANCELLED`).
function Tasks:join(task)
  if not task.done then
    local me = self.driver:current()
    if me == task then error("acedata: a task cannot join itself", 2) end
    if me then
      task.joiners = task.joiners or {}
      task.joiners[#task.joiners + 1] = me
      repeat self.driver:suspend(me) until task.done
    else
      self.driver:wait_outside(function() return task.done end)
    end
  end
  if not task.ok then error(task.results[1], 0) end
  return unpack(task.results, 1, task.results.n)
end

--- Stops `task`: what it waits on is dropped, and its joiners are woken (joining raises
-- `tasks.CANCELLED`). Does nothing to a task that has finished.
function Tasks:cancel(task)
  if task.done then return end
  self.driver:abort(task)
  finish(self, task, false, { tasks.CANCELLED, n = 1 })
end

--- Has `task` finished (returned, raised or been cancelled)?
function Tasks.done(_, task)
  return task.done
end

return tasks
