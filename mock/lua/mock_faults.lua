--- Fault rules: validation, matching against a request, and the faults that replace the
-- response entirely (status, reset_before_headers, redirect). Body faults are handed to
-- mock_respond through ngx.ctx.body_fault; insert_records and slow_first_byte act and let
-- the request go on.

local state = require "mock_state"
local respond = require "mock_respond"
local dataset = require "mock.dataset"

local faults = {}

local KINDS = {
  status = "terminal", reset_before_headers = "terminal", redirect = "terminal",
  reset_mid_body = "body", short_body = "body", malformed = "body", stall_mid_body = "body",
  slow_first_byte = "prelude", insert_records = "prelude",
}
local ROUTES = { list = true, detail = true, me = true, any = true }

local function is_int(v) return type(v) == "number" and v == math.floor(v) end

local function check_rule(r, kinds)
  if type(r) ~= "table" then return nil, "a fault rule must be a JSON object" end
  local kind = r.fault
  if not KINDS[kind] or (kinds and not kinds[kind]) then return nil, "unknown fault kind " .. tostring(kind) end
  local rule = { fault = kind }
  rule.route = r.route == nil and "list" or r.route
  if not ROUTES[rule.route] then return nil, "route must be list, detail, me or any" end
  if r.offset ~= nil then
    if not is_int(r.offset) or r.offset < 0 then return nil, "offset must be a non-negative integer" end
    rule.offset = r.offset
  end
  rule.times = r.times == nil and 1 or r.times
  if not is_int(rule.times) or (rule.times < 1 and rule.times ~= -1) then
    return nil, "times must be a positive integer (or -1 for always)"
  end
  if kind == "status" then
    if not is_int(r.status) or r.status < 100 or r.status > 599 then
      return nil, "status must be an HTTP status code"
    end
    rule.status = r.status
    if r.body ~= nil and type(r.body) ~= "string" then return nil, "body must be a string" end
    rule.body = r.body
    if r.content_type ~= nil and type(r.content_type) ~= "string" then
      return nil, "content_type must be a string"
    end
    rule.content_type = r.content_type
  elseif kind == "redirect" then
    if type(r.location) ~= "string" or r.location == "" then return nil, "location is required" end
    rule.location = r.location
    rule.status = r.status == nil and 302 or r.status
    if not is_int(rule.status) or rule.status < 300 or rule.status > 399 then
      return nil, "redirect status must be 3xx"
    end
  elseif kind == "insert_records" then
    rule.count = r.count == nil and 1 or r.count
    if not is_int(rule.count) or rule.count < 0 or rule.count > 10000000 then
      return nil, "count must be a non-negative integer"
    end
  elseif kind == "slow_first_byte" or kind == "stall_mid_body" then
    rule.delay = r.delay == nil and 1 or r.delay
    if type(rule.delay) ~= "number" or rule.delay < 0 or rule.delay > 3600 then
      return nil, "delay must be a number of seconds"
    end
  elseif kind == "short_body" then
    rule.missing = r.missing == nil and 100 or r.missing
    if not is_int(rule.missing) or rule.missing < 1 then return nil, "missing must be a positive integer" end
  end
  if r.headers ~= nil then
    if type(r.headers) ~= "table" then return nil, "headers must be an object" end
    rule.headers = {}
    for k, v in pairs(r.headers) do
      if type(k) ~= "string" or (type(v) ~= "string" and type(v) ~= "number") then
        return nil, "headers must map names to strings"
      end
      rule.headers[k] = tostring(v)
    end
  end
  return rule
end

--- Checks one rule (a decoded JSON object); returns the normalized rule or nil, message.
-- `kinds` (optional): the set of fault kinds allowed (mock_scenario takes a subset).
faults.check = check_rule

--- Validate one rule or an array of rules and append them; returns the pending count.
function faults.add(body)
  local list = body
  if type(body) ~= "table" then return nil, "expected a fault rule or an array of rules" end
  if body.fault ~= nil then list = { body } end
  local rules = {}
  for k = 1, #list do
    local rule, err = check_rule(list[k])
    if not rule then return nil, "rule " .. k .. ": " .. err end
    rules[k] = rule
  end
  if #rules == 0 then return nil, "expected a fault rule or an array of rules" end
  for k = 1, #rules do state.faults[#state.faults + 1] = rules[k] end
  return #state.faults
end

local function matches(rule, route, offset)
  if rule.route ~= "any" and rule.route ~= route then return false end
  if rule.offset ~= nil and (route ~= "list" or rule.offset ~= offset) then return false end
  return true
end

-- Take the rules hitting this request: every matching prelude rule, and the first matching
-- terminal or body rule (rules after it stay for later requests). Consumes their `times`.
local function take(route, offset)
  local hit, kept = {}, {}
  local final = false
  for k = 1, #state.faults do
    local rule = state.faults[k]
    local use = false
    if matches(rule, route, offset) then
      if KINDS[rule.fault] == "prelude" then use = true
      elseif not final then use, final = true, true end
    end
    if use then
      hit[#hit + 1] = rule
      if rule.times > 0 then rule.times = rule.times - 1 end
      if rule.times ~= 0 then kept[#kept + 1] = rule end
    else
      kept[#kept + 1] = rule
    end
  end
  state.faults = kept
  return hit
end

local DEFAULT_BODIES = {
  [400] = { error = { code = "invalid_parameter", message = "Bad request." } },
  [401] = { detail = "Authentication credentials were not provided." },
  [403] = { error = { code = "permission_denied", message = "You do not have permission to perform this action." } },
  [404] = { detail = "Not found." },
  [405] = { detail = "Method not allowed." },
  [429] = { detail = "Request was throttled. Expected available in 1 second." },
}

local function default_body(status)
  local b = DEFAULT_BODIES[status]
  if b then return dataset.to_json(b) end
  if status >= 500 then
    local message = "Server error " .. status .. " (injected by the mock)."
    return dataset.to_json({ error = { code = "server_error", message = message } })
  end
  return dataset.to_json({ detail = "Error " .. status .. " (injected by the mock)." })
end

--- Performs one checked rule on the current request (mock_scenario calls it too).
-- Returns true when the response has been sent (or the connection dropped).
function faults.perform(rule)
  local kind = rule.fault
  if kind == "insert_records" then
    state.insert(rule.count)
  elseif kind == "slow_first_byte" then
    ngx.sleep(rule.delay)
  elseif kind == "reset_before_headers" then
    ngx.ctx.status = 444
    ngx.exit(444)
    return true
  elseif kind == "status" then
    local headers = {}
    for k, v in pairs(rule.headers or {}) do headers[k] = v end
    if rule.content_type then headers["Content-Type"] = rule.content_type end
    local body = rule.body or default_body(rule.status)
    if rule.status == 401 and not headers["WWW-Authenticate"] then
      headers["WWW-Authenticate"] = 'Bearer realm="api"'
    end
    respond.send(rule.status, body, headers)
    return true
  elseif kind == "redirect" then
    local headers = {}
    for k, v in pairs(rule.headers or {}) do headers[k] = v end
    headers["Location"] = rule.location
    respond.json(rule.status, { detail = "Moved." }, headers)
    return true
  else -- body fault: the route runs and mock_respond cuts its body
    ngx.ctx.body_fault = rule
  end
  return false
end

--- Apply the faults for this request. Returns true when the response has been sent
-- (or the connection dropped) and the route must not run.
function faults.apply(route, offset)
  if #state.faults == 0 then return false end
  local hit = take(route, offset)
  local names = {}
  for k = 1, #hit do
    names[#names + 1] = hit[k].fault
    ngx.ctx.faults = names
    if faults.perform(hit[k]) then return true end
  end
  return false
end

return faults
