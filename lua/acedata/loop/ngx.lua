--- The loop for OpenResty: tasks are ngx.thread light threads; cosockets never block, so
-- there is no multi and nothing to drive. Same methods as acedata.loop.blocking.
-- @module acedata.loop.ngx

local ngx = ngx  -- luacheck: ignore (read global of OpenResty)

local unpack = table.unpack or unpack  -- luacheck: ignore (5.1)

local Loop = {}
Loop.__index = Loop

local loop = {}

function loop.new()
  return setmetatable({}, Loop)
end

function Loop.spawn(_, fn, ...)
  return { thread = ngx.thread.spawn(fn, ...) }
end

function Loop.join(_, task)
  local res = { ngx.thread.wait(task.thread) }
  if not res[1] then error(res[2], 0) end
  return unpack(res, 2, 5)
end

function Loop.cancel(_, task)
  ngx.thread.kill(task.thread)
end

function Loop.sleep(_, seconds) ngx.sleep(seconds) end

--- Light threads run on their own: nothing to drive.
function Loop.poke() end

return loop
