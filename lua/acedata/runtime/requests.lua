--- What the curl and luv runtimes share about libcurl multi requests: which task waits on which
-- request, waking those whose request finished, dropping a cancelled task's request, and turning
-- a finished request into a response.
-- @module acedata.runtime.requests

local response = require "acedata.runtime.response"

local requests = {}

--- Registers `task` as waiting on `req` (in `rt.waiting`, by request id).
function requests.wait_on(rt, task, req)
  rt.waiting[req:id()] = task
  task.request = req
end

--- Wakes the tasks waiting on the requests whose ids are in `ids` (from `multi:done()`).
function requests.wake_finished(rt, ids)
  for i = 1, #ids do
    local task = rt.waiting[ids[i]]
    if task then
      rt.waiting[ids[i]] = nil
      task.request = nil
      rt.driver:wake(task)
    end
  end
end

--- Cancels the request a task waits on, if any.
function requests.drop(rt, task)
  local req = task.request
  if req then
    rt.waiting[req:id()] = nil
    req:cancel()
    task.request = nil
  end
end

--- A request that is no longer running -> a response, or nil and a transport failure.
function requests.outcome(req)
  if req:state() ~= "done" then return nil, { kind = "network", message = "request cancelled" } end
  local status, kind, message, _, proxy_status = req:status()
  if not status then return nil, { kind = kind, message = message, status = proxy_status } end
  return response.from_request(status, req)
end

return requests
