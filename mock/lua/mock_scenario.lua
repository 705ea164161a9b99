--- Scenarios: servers with their own records, page behaviour, mutations and faults, each
-- under its own URL prefix, with a log of what was served (for randomized paging specs).
--
-- POST /__mock/scenarios {…} answers {"id": "s17"}; the client then uses the base URL
-- <mock>/__scenario/s17, whose list, detail and me routes are served from the scenario's state
-- only (the mock's own config, faults, inserted records and log are not used or touched).
-- GET /__mock/scenarios/s17 is the scenario's log; DELETE frees it. mock/README.md has the
-- whole format.

local dataset = require "mock.dataset"
local state = require "mock_state"
local respond = require "mock_respond"
local faults = require "mock_faults"
local router = require "mock_router"

local scenario = {}

local floor = math.floor
local MAX_SCENARIOS = 256   -- kept at once; creating more drops the oldest
local MAX_RECORDS = 100000  -- records of one scenario, inserted ones included
local MAX_LOG = 10000       -- log entries kept per scenario
local DEFAULT_LIMIT, MAX_LIMIT = 10, 1000

-- Fault kinds a scenario may use (insert_records and redirect are not: see `mutations`).
local FAULT_KINDS = {
  status = true, reset_before_headers = true, reset_mid_body = true, short_body = true,
  malformed = true, slow_first_byte = true, stall_mid_body = true,
}

local live = {}        -- id -> scenario
local order = {}       -- ids, oldest first
local next_id = 0

local function is_int(v) return type(v) == "number" and v == floor(v) end

local function int_in(v, lo, hi) return is_int(v) and v >= lo and v <= hi end

-- Page size draw for list request n: a stateless hash of (seed, n), the same for every run.
local M = 2147483647
local function draw(seed, n, lo, hi)
  local x = (seed * 48271 + n * 69621 + 12345) % M
  x = (x * 48271) % M
  x = (x * 48271 + floor(x / 65536)) % M
  return lo + x % (hi - lo + 1)
end

-- Checks the page behaviour keys of a scenario body into s.
local function check_pages(body, s)
  if body.cap ~= nil then
    if not int_in(body.cap, 1, MAX_LIMIT) then return "cap must be an integer in [1, 1000]" end
    s.cap = body.cap
  end
  if body.ignore_limit ~= nil then
    if not int_in(body.ignore_limit, 1, MAX_LIMIT) then return "ignore_limit must be an integer in [1, 1000]" end
    s.ignore_limit = body.ignore_limit
  end
  if body.vary ~= nil then
    local v = body.vary
    if type(v) ~= "table" or not int_in(v.min, 1, MAX_LIMIT) or not int_in(v.max, v.min, MAX_LIMIT) then
      return "vary must be {min, max, seed, ignore_limit} with 1 <= min <= max <= 1000"
    end
    if v.seed ~= nil and not int_in(v.seed, 0, 1000000000) then return "vary.seed must be a non-negative integer" end
    if v.ignore_limit ~= nil and type(v.ignore_limit) ~= "boolean" then return "vary.ignore_limit must be a boolean" end
    s.vary = { min = v.min, max = v.max, seed = v.seed or 1, ignore_limit = v.ignore_limit == true }
  end
  if body.repeat_page ~= nil then
    if type(body.repeat_page) ~= "boolean" then return "repeat_page must be a boolean" end
    s.repeat_page = body.repeat_page
  end
end

local function check_mutations(list, s)
  if list == nil then return end
  if type(list) ~= "table" then return "mutations must be an array" end
  local total = s.records
  for k = 1, #list do
    local m = list[k]
    local where = "mutations[" .. k .. "]: "
    if type(m) ~= "table" or not int_in(m.request, 1, 1000000) then
      return where .. "request must be a list request number (1-based)"
    end
    local out = { request = m.request }
    if m.insert ~= nil then
      if not int_in(m.insert, 1, MAX_RECORDS) then return where .. "insert must be a positive integer" end
      total = total + m.insert
      if total > MAX_RECORDS then return where .. "more than " .. MAX_RECORDS .. " records" end
      out.insert = m.insert
    end
    if m.delete ~= nil then
      if type(m.delete) ~= "table" or #m.delete == 0 then return where .. "delete must be an array of record indices" end
      out.delete = {}
      for j = 1, #m.delete do
        if not int_in(m.delete[j], 1, MAX_RECORDS) then return where .. "delete holds a record index (>= 1)" end
        out.delete[j] = m.delete[j]
      end
    end
    if not out.insert and not out.delete then return where .. "expected insert or delete" end
    s.mutations[k] = out
  end
end

local function check_faults(list, s)
  if list == nil then return end
  if type(list) ~= "table" then return "faults must be an array" end
  for k = 1, #list do
    local f = list[k]
    local where = "faults[" .. k .. "]: "
    if type(f) ~= "table" or not int_in(f.request, 1, 1000000) then
      return where .. "request must be a request number (1-based)"
    end
    local route = f.route == nil and "list" or f.route
    if route ~= "list" and route ~= "me" then return where .. "route must be list or me" end
    local probe = {}
    for key, v in pairs(f) do if key ~= "request" and key ~= "route" and key ~= "times" then probe[key] = v end end
    local rule, err = faults.check(probe, FAULT_KINDS)
    if not rule then return where .. err end
    rule.route, rule.request = route, f.request
    rule.times = f.times == nil and 1 or f.times
    if not int_in(rule.times, 1, 1000) then return where .. "times must be an integer in [1, 1000]" end
    s.faults[k] = rule
  end
end

--- Makes a scenario from a decoded JSON body; returns it or nil, message.
local function build(body)
  if type(body) ~= "table" then return nil, "a scenario must be a JSON object" end
  local known = { records = true, shape = true, cap = true, ignore_limit = true, vary = true, repeat_page = true,
                  mutations = true, faults = true }
  for k in pairs(body) do
    if not known[k] then return nil, "unknown scenario key " .. tostring(k) end
  end
  local s = { mutations = {}, faults = {}, log = setmetatable({}, dataset.array_mt), list_n = 0, me_n = 0,
              active = {}, applied = 0, deleted = setmetatable({}, dataset.array_mt), inserted = 0 }
  s.records = body.records == nil and 0 or body.records
  if not int_in(s.records, 0, MAX_RECORDS) then return nil, "records must be an integer in [0, " .. MAX_RECORDS .. "]" end
  s.shape = body.shape == nil and "items" or body.shape
  if s.shape ~= "items" and s.shape ~= "results" then return nil, 'shape must be "items" or "results"' end
  local err = check_pages(body, s) or check_mutations(body.mutations, s) or check_faults(body.faults, s)
  if err then return nil, err end
  s.rows = {}          -- record indices that exist now, ascending (oldest first)
  for i = 1, s.records do s.rows[i] = i end
  s.next_index = s.records + 1
  s.started = ngx.now()
  return s
end

--- POST /__mock/scenarios: creates a scenario; returns its id or nil, message.
function scenario.create(body)
  local s, err = build(body)
  if not s then return nil, err end
  next_id = next_id + 1
  local id = "s" .. next_id
  s.id = id
  live[id] = s
  order[#order + 1] = id
  while #order > MAX_SCENARIOS do
    live[table.remove(order, 1)] = nil
  end
  return id
end

--- DELETE /__mock/scenarios/ID (or every scenario with id nil); returns true if any was freed.
function scenario.free(id)
  if id == nil then
    local any = #order > 0
    live, order = {}, {}
    return any
  end
  if not live[id] then return false end
  live[id] = nil
  for k = 1, #order do
    if order[k] == id then table.remove(order, k) break end
  end
  return true
end

--- GET /__mock/scenarios/ID: what the scenario served, as a JSON-ready table (or nil).
function scenario.describe(id)
  local s = live[id]
  if not s then return nil end
  return {
    id = id, records = s.records, count = #s.rows, list_requests = s.list_n, me_requests = s.me_n,
    inserted = s.inserted, deleted = s.deleted, mutations_applied = s.applied,
    log = s.log, log_dropped = s.log_dropped or 0,
  }
end

--- The ids of every live scenario.
function scenario.ids()
  local out = setmetatable({}, dataset.array_mt)
  for k = 1, #order do out[k] = order[k] end
  return out
end

-- Mutations ------------------------------------------------------------------------------------

local function apply_mutations(s, n, entry)
  local done = setmetatable({}, dataset.array_mt)
  for k = 1, #s.mutations do
    local m = s.mutations[k]
    if m.request == n then
      if m.insert then
        for _ = 1, m.insert do
          s.rows[#s.rows + 1] = s.next_index
          s.next_index = s.next_index + 1
        end
        s.inserted = s.inserted + m.insert
        done[#done + 1] = { insert = m.insert }
      end
      if m.delete then
        local gone = {}
        for j = 1, #m.delete do gone[m.delete[j]] = true end
        local kept, removed = {}, setmetatable({}, dataset.array_mt)
        for j = 1, #s.rows do
          local i = s.rows[j]
          if gone[i] then removed[#removed + 1] = i else kept[#kept + 1] = i end
        end
        s.rows = kept
        for j = 1, #removed do s.deleted[#s.deleted + 1] = removed[j] end
        done[#done + 1] = { delete = removed }
      end
      s.applied = s.applied + 1
    end
  end
  if #done > 0 then entry.mutations = done end
end

-- Faults -----------------------------------------------------------------------------------------

-- The fault for request n of `route` at `offset`: one starting at this request number, or a
-- fault still active for this offset (a fault hits `times` requests: the one it names, then the
-- next requests for the same offset — so the retries of one page keep failing).
local function fault_for(s, route, n, offset)
  local key = route .. ":" .. (offset or 0)
  local a = s.active[key]
  if a then
    a.left = a.left - 1
    if a.left <= 0 then s.active[key] = nil end
    return a.rule
  end
  for k = 1, #s.faults do
    local rule = s.faults[k]
    if rule.route == route and rule.request == n then
      if rule.times > 1 then s.active[key] = { rule = rule, left = rule.times - 1 } end
      return rule
    end
  end
end

-- Routes -----------------------------------------------------------------------------------------

local function last(v)
  if type(v) == "table" then return v[#v] end
  return v
end

local function nonneg(args, name, default)
  local v = last(args[name])
  if v == nil then return default end
  if type(v) ~= "string" or not v:match("^%d+$") then return nil end
  return tonumber(v)
end

-- The number of records a list request gets, from its limit and the scenario's page behaviour.
local function page_size(s, limit, n)
  local size = limit
  if s.ignore_limit then size = s.ignore_limit end
  if s.vary then
    local d = draw(s.vary.seed, n, s.vary.min, s.vary.max)
    if s.vary.ignore_limit or s.ignore_limit then size = d else size = math.min(size, d) end
  end
  if s.cap then size = math.min(size, s.cap) end
  if limit == 0 and not s.ignore_limit and not (s.vary and s.vary.ignore_limit) then size = 0 end
  return size
end

local function handle_list(s, user_id, args, entry)
  local wanted = last(args.user_id)
  if wanted == "" or wanted == true then wanted = nil end
  local admin = user_id == dataset.ADMIN_USER_ID
  if (wanted == nil and not admin) or (wanted ~= nil and wanted ~= user_id and not admin) then
    return respond.error(403, "permission_denied", "You do not have permission to access the records of this user.")
  end
  local limit, offset = nonneg(args, "limit", DEFAULT_LIMIT), nonneg(args, "offset", 0)
  if not limit or not offset then
    return respond.error(400, "invalid_parameter", "limit and offset must be non-negative integers")
  end
  if limit > MAX_LIMIT then limit = MAX_LIMIT end
  local ordering = last(args.ordering)
  if ordering == nil or ordering == "" then ordering = "-created_at" end
  if ordering ~= "-created_at" and ordering ~= "created_at" then
    return respond.error(400, "invalid_parameter", "scenarios order by created_at or -created_at only")
  end
  local rows = s.rows
  if wanted ~= nil and wanted ~= dataset.USER_ID then rows = {} end -- every record is USER_ID's
  local count = #rows
  local at = s.repeat_page and 0 or offset
  local size = page_size(s, limit, entry.n)
  local stop = math.min(at + size, count)
  local parts, ids = {}, setmetatable({}, dataset.array_mt)
  local desc = ordering == "-created_at"
  for p = at, stop - 1 do
    local i = desc and rows[count - p] or rows[p + 1]
    ids[#ids + 1] = i
    parts[#parts + 1] = state.record_json(i)
  end
  entry.limit, entry.ordering, entry.count, entry.ids = limit, ordering, count, ids
  local items = table.concat(parts, ",")
  local c = string.format("%d", count)
  if s.shape == "results" then
    return respond.send(200, '{"count":' .. c .. ',"next":null,"previous":null,"results":[' .. items .. "]}")
  end
  return respond.send(200, '{"count":' .. c .. ',"items":[' .. items .. "]}")
end

local function handle_detail(s, user_id, id)
  local i = dataset.index_of(id, state.seed())
  local exists = false
  if i and (user_id == dataset.USER_ID or user_id == dataset.ADMIN_USER_ID) then
    for j = 1, #s.rows do if s.rows[j] == i then exists = true break end end
  end
  if not exists then return respond.detail(404, "Not found.") end
  return respond.send(200, state.record_json(i))
end

local function route_of(path)
  if path == "/api/v1/usage/proxies/" or path == "/api/v1/usage/proxies" then return "list" end
  local id = path:match("^/api/v1/usage/proxies/([^/]+)/?$")
  if id then return "detail", id end
  if path == "/api/v1/platform-tokens/me/" or path == "/api/v1/platform-tokens/me" then return "me" end
end

--- content_by_lua entry point for /__scenario/ID/….
function scenario.handle()
  local id, path = ngx.var.uri:match("^/__scenario/([%w_]+)(/.*)$")
  local s = id and live[id]
  ngx.header["X-Request-Id"] = ngx.var.request_id
  if not s then return respond.detail(404, "No such scenario.") end
  local route, record_id = route_of(path)
  if not route then return respond.detail(404, "Not found.") end
  if ngx.req.get_method() ~= "GET" then return respond.detail(405, "Method not allowed.", { Allow = "GET" }) end
  local args = ngx.req.get_uri_args(0)
  local entry = { route = route, t = floor((ngx.now() - s.started) * 1000) / 1000 }
  if route == "list" then
    s.list_n = s.list_n + 1
    entry.n = s.list_n
    entry.offset = nonneg(args, "offset", 0) or dataset.null
    apply_mutations(s, entry.n, entry)
  elseif route == "me" then
    s.me_n = s.me_n + 1
    entry.n = s.me_n
  end
  if #s.log < MAX_LOG then s.log[#s.log + 1] = entry else s.log_dropped = (s.log_dropped or 0) + 1 end
  ngx.ctx.scenario_entry = entry

  local rule = route ~= "detail" and fault_for(s, route, entry.n, route == "list" and entry.offset or nil)
  if rule then
    entry.fault = rule.fault
    if rule.fault == "status" then entry.fault = "status " .. rule.status end
    if faults.perform(rule) then return end
  end
  local user_id, me_or_fail = router.authenticate(ngx.var.http_authorization)
  if not user_id then return me_or_fail() end
  if route == "list" then return handle_list(s, user_id, args, entry) end
  if route == "detail" then return handle_detail(s, user_id, record_id) end
  return respond.json(200, me_or_fail)
end

--- log_by_lua: the status finally sent, and whether the client got the whole page.
function scenario.log_phase()
  local entry = ngx.ctx.scenario_entry
  if not entry then return end
  entry.status = ngx.ctx.status or ngx.status
  entry.served = entry.status == 200 and entry.fault == nil
  entry.duration = floor((ngx.now() - ngx.req.start_time()) * 1000) / 1000
end

return scenario
