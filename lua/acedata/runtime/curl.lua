--- The default runtime, for plain Lua: libcurl's multi interface, driven by blocking waits.
--
-- Outside any task, `get`, `sleep` and `join` block, driving every request and task of the
-- runtime meanwhile; inside a task they yield, and the runtime resumes the task when its request
-- is done or its time has come. One multi holds every connection of the client (kept alive and
-- reused); `n` requests in flight use up to `n` connections over HTTP/1.1, or one multiplexed
-- connection over HTTP/2. See docs/internals.md, "Runtimes", for the interface.
-- @module acedata.runtime.curl

local core = require "acedata.core"
local coroutines = require "acedata.runtime.coroutines"
local requests = require "acedata.runtime.requests"
local tasks = require "acedata.runtime.tasks"

local Runtime = {}
Runtime.__index = Runtime

local curl = {}

--- The options of core.multi / core.session for a client's options.
function curl.options(cfg)
  return {
    timeout = cfg.timeout, connect_timeout = cfg.connect_timeout, ssl_verify = cfg.ssl_verify,
    ca_file = cfg.ca_file, user_agent = cfg.full_user_agent, max_body = cfg.max_body,
  }
end

-- Wakes the tasks whose request finished or whose time came; true when any task ran.
local function dispatch(self)
  local driver = self.driver
  local ran = driver:run_ready()
  if self.multi:finished() > 0 then requests.wake_finished(self, self.multi:done()) end
  local timers = self.timers
  if #timers > 0 then
    local now, keep = core.now(), {}
    for i = 1, #timers do
      local t = timers[i]
      if t.due > now then keep[#keep + 1] = t elseif t.task then driver:wake(t.task) end
    end
    self.timers = keep
  end
  return driver:run_ready() or ran
end

-- One round: runs what is ready, else waits for network activity or the next timer. False when
-- there is nothing at all to wait for.
local function step(self)
  if dispatch(self) then return true end
  local next_due
  for _, t in ipairs(self.timers) do
    if not next_due or t.due < next_due then next_due = t.due end
  end
  local wait_ms = 1000
  if next_due then wait_ms = math.max(0, math.min(wait_ms, math.ceil((next_due - core.now()) * 1000))) end
  if self.multi:running() > 0 then
    -- Until a request finishes (or the next timer): nothing in Lua needs the wake-ups before.
    self.multi:wait_done(wait_ms)
  elseif next_due then
    core.sleep(wait_ms / 1000)
  else
    return false
  end
  dispatch(self)
  return true
end

--- Makes the runtime of one client.
-- @tparam table cfg the client's options (acedata.config)
function curl.new(cfg)
  local self = setmetatable({ name = "curl", concurrent = true, multi = core.multi(curl.options(cfg)),
    waiting = {}, timers = {} }, Runtime)
  local driver = coroutines.new()
  driver.wait_outside = function(_, done, arg)
    while not done(arg) do
      -- step() may finish the wait itself (multi:done() marks the requests it reports) and then
      -- find nothing left to wait for: only that with the wait still unfinished is a dead end.
      if not step(self) and not done(arg) then
        error("acedata: a task can never finish (nothing left to wait for)", 0)
      end
    end
  end
  driver.abort = function(d, task)
    requests.drop(self, task)
    for i = #self.timers, 1, -1 do
      if self.timers[i].task == task then table.remove(self.timers, i) end
    end
    d:forget(task)
  end
  self.driver, self.tasks = driver, tasks.new(driver)
  return self
end

local function finished(req) return req:state() ~= "running" end

--- One GET attempt: a response (`status`, `headers`, `:decode(opts)`), or nil and
-- `{kind = "network"|"timeout"|"tls"|"proxy", message = …, status = <a refusing proxy's status>}`.
function Runtime:get(url, header_lines, timeout)
  local req = self.multi:add(url, header_lines, timeout)
  local me = self.driver:current()
  if me then
    requests.wait_on(self, me, req)
    self.multi:perform()                -- send it now, not when someone next waits
    repeat self.driver:suspend(me) until req:state() ~= "running"
  else
    self.driver:wait_outside(finished, req)   -- no closure per request
  end
  return requests.outcome(req)
end

--- Waits `seconds`: yields inside a task, drives the runtime outside.
function Runtime:sleep(seconds)
  local due = core.now() + seconds
  local me = self.driver:current()
  if me then
    self.timers[#self.timers + 1] = { due = due, task = me }
    repeat self.driver:suspend(me) until core.now() >= due
  else
    self.timers[#self.timers + 1] = { due = due }   -- no task: only bounds the wait below
    self.driver:wait_outside(function() return core.now() >= due end)
  end
end

Runtime.now = core.now

--- Lets the transfers in flight progress without waiting (for a caller busy with other work).
function Runtime:poke()
  if self.multi:running() > 0 then self.multi:perform() end
  dispatch(self)
end

function Runtime:spawn(fn, ...) return self.tasks:spawn(fn, ...) end
function Runtime:join(task) return self.tasks:join(task) end
function Runtime:cancel(task) return self.tasks:cancel(task) end

--- Connection facts for checks: `{connects =, running =}`.
function Runtime:info() return self.multi:info() end

--- Cancels what runs and frees every connection.
function Runtime:close() self.multi:close() end

return curl
