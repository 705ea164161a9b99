--- The control API under /__mock/ (no auth): reset, config, faults, log, stats, totals, health.

local cjson = require "cjson.safe"
local dataset = require "mock.dataset"
local state = require "mock_state"
local respond = require "mock_respond"
local faults = require "mock_faults"
local model = require "mock_model"
local scenario = require "mock_scenario"

local control = {}

-- cjson.null inside decoded bodies means "absent" for our purposes.
local function strip_nulls(v)
  if type(v) ~= "table" then return v end
  for k, x in pairs(v) do
    if x == cjson.null then v[k] = nil else strip_nulls(x) end
  end
  return v
end

local function read_json()
  ngx.req.read_body()
  local data = ngx.req.get_body_data()
  if not data then
    local file = ngx.req.get_body_file()
    if file then
      local fh = io.open(file, "rb")
      if fh then data = fh:read("*a"); fh:close() end
    end
  end
  if not data or data:match("^%s*$") then return {} end
  local v, err = cjson.decode(data)
  if v == nil then return nil, "request body is not valid JSON: " .. tostring(err) end
  return strip_nulls(v)
end

local function bad(message)
  return respond.error(400, "invalid_request", message)
end

local function not_allowed(allow)
  return respond.detail(405, "Method not allowed.", { Allow = allow })
end

local function ok(extra)
  local t = { ok = true }
  for k, v in pairs(extra or {}) do t[k] = v end
  return respond.json(200, t)
end

local handlers = {}

handlers.health = function(method)
  if method ~= "GET" then return not_allowed("GET") end
  return ok({ pid = ngx.worker.pid(), total = state.total() })
end

handlers.reset = function(method)
  if method ~= "POST" then return not_allowed("POST") end
  state.reset()
  model.reset()
  scenario.free()
  return ok({ config = state.describe() })
end

handlers.config = function(method)
  if method == "GET" then return respond.json(200, state.describe()) end
  if method ~= "POST" then return not_allowed("GET, POST") end
  local body, err = read_json()
  if not body then return bad(err) end
  local described
  described, err = state.configure(body)
  if not described then return bad(err) end
  return respond.json(200, described)
end

handlers.faults = function(method)
  if method == "GET" then
    return respond.json(200, setmetatable(state.faults, dataset.array_mt))
  elseif method == "DELETE" then
    state.faults = {}
    return ok({ pending = 0 })
  elseif method ~= "POST" then
    return not_allowed("GET, POST, DELETE")
  end
  local body, err = read_json()
  if not body then return bad(err) end
  local pending
  pending, err = faults.add(body)
  if not pending then return bad(err) end
  return ok({ pending = pending })
end

handlers.log = function(method)
  if method == "GET" then return respond.json(200, state.log) end
  if method == "DELETE" then
    state.clear_log()
    return ok()
  end
  return not_allowed("GET, DELETE")
end

handlers.stats = function(method)
  if method == "GET" then return respond.json(200, model.describe()) end
  if method == "DELETE" then
    model.reset()
    return ok()
  end
  return not_allowed("GET, DELETE")
end

handlers.totals = function(method)
  if method ~= "GET" then return not_allowed("GET") end
  return respond.json(200, state.totals())
end

-- /__mock/scenarios (POST: create, GET: ids, DELETE: free all) and /__mock/scenarios/ID
-- (GET: its log, DELETE: free it). See mock_scenario.
handlers.scenarios = function(method, id)
  if id then
    if method == "GET" then
      local d = scenario.describe(id)
      if not d then return respond.detail(404, "No such scenario.") end
      return respond.json(200, d)
    elseif method == "DELETE" then
      if not scenario.free(id) then return respond.detail(404, "No such scenario.") end
      return ok()
    end
    return not_allowed("GET, DELETE")
  end
  if method == "GET" then return respond.json(200, { ids = scenario.ids() }) end
  if method == "DELETE" then
    scenario.free()
    return ok()
  end
  if method ~= "POST" then return not_allowed("GET, POST, DELETE") end
  local body, err = read_json()
  if not body then return bad(err) end
  local created
  created, err = scenario.create(body)
  if not created then return bad(err) end
  return ok({ id = created })
end

--- content_by_lua entry point for /__mock/.
function control.handle()
  ngx.header["X-Request-Id"] = ngx.var.request_id
  local uri = ngx.var.uri
  local name, id = uri:match("^/__mock/([%w_]+)/?$"), nil
  if not name then
    name, id = uri:match("^/__mock/(scenarios)/([%w_]+)/?$")
  end
  local h = name and handlers[name]
  if not h then return respond.detail(404, "Not found.") end
  return h(ngx.req.get_method(), id)
end

return control
