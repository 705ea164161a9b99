--- The list route's query: parameter parsing/validation and "views" (the ordered index list
-- matching a filter set), computed lazily once per (filters, data set) and cached.

local dataset = require "mock.dataset"
local state = require "mock_state"

local query = {}

local floor = math.floor
local DEFAULT_LIMIT, MAX_LIMIT = 10, 1000
local KEY_SHIFT = 67108864 -- 2^26: sort keys are amount_k * 2^26 + index (index < 2^26)

local ORDERINGS = {
  ["created_at"] = true, ["-created_at"] = true,
  ["deducted_amount"] = true, ["-deducted_amount"] = true,
  ["used_amount"] = true, ["-used_amount"] = true,
}
local ORDERING_LIST = "created_at, -created_at, deducted_amount, -deducted_amount, used_amount, -used_amount"

local function last(v)
  if type(v) == "table" then return v[#v] end
  return v
end

local function values(v)
  if v == nil then return {} end
  if type(v) ~= "table" then return { v } end
  return v
end

local function nonneg_int(name, v, default)
  v = last(v)
  if v == nil then return default end
  if type(v) ~= "string" or not v:match("^%d+$") then
    return nil, name .. " must be a non-negative integer"
  end
  return tonumber(v)
end

-- A set from repeated values, ignoring empty ones; nil when nothing is left.
local function value_set(v)
  local set, list = {}, {}
  for _, s in ipairs(values(v)) do
    if type(s) == "string" and s ~= "" and not set[s] then
      set[s] = true
      list[#list + 1] = s
    end
  end
  if #list == 0 then return nil end
  table.sort(list)
  return set, table.concat(list, ",")
end

local function time_param(name, v)
  v = last(v)
  if v == nil or v == "" or v == true then return nil end
  local us = dataset.parse_iso8601_us(v)
  if not us then
    return nil, name .. " must be an ISO 8601 date-time, e.g. 2024-08-01T00:00:00Z"
  end
  return us
end

--- The offset a request asks for (for fault matching), or 0.
function query.offset_of(args)
  local v = last(args.offset)
  if type(v) == "string" and v:match("^%d+$") then return tonumber(v) end
  return 0
end

--- Parse the list query. Returns q or nil, message (a 400).
-- q = {limit, offset, ordering, apps, apps_key, proxies, proxies_key, from_us, to_us}
function query.parse(args)
  local q, err = {}
  q.limit, err = nonneg_int("limit", args.limit, DEFAULT_LIMIT)
  if not q.limit then return nil, err end
  if q.limit > MAX_LIMIT then q.limit = MAX_LIMIT end
  q.offset, err = nonneg_int("offset", args.offset, 0)
  if not q.offset then return nil, err end
  local ordering = last(args.ordering)
  if ordering == nil or ordering == "" then ordering = "-created_at" end
  if not ORDERINGS[ordering] then
    return nil, "ordering must be one of " .. ORDERING_LIST
  end
  q.ordering = ordering
  q.apps, q.apps_key = value_set(args.application_id)
  q.proxies, q.proxies_key = value_set(args.proxy_id)
  q.from_us, err = time_param("created_at_from", args.created_at_from)
  if err then return nil, err end
  q.to_us, err = time_param("created_at_to", args.created_at_to)
  if err then return nil, err end
  return q
end

-- First index in [1, n+1] whose creation time is >= us (creation time ascends with i).
local function first_at_or_after(us, n, seed)
  local lo, hi = 1, n + 1
  while lo < hi do
    local mid = floor((lo + hi) / 2)
    if dataset.created_us(mid, seed) >= us then hi = mid else lo = mid + 1 end
  end
  return lo
end

local function build_view(q, n, seed)
  local lo, hi = 1, n
  if q.from_us then lo = first_at_or_after(q.from_us, n, seed) end
  if q.to_us then hi = first_at_or_after(q.to_us + 1, n, seed) - 1 end -- inclusive "to"
  if hi < lo then return { count = 0, lo = 1, hi = 0 } end
  local desc = q.ordering:sub(1, 1) == "-"
  local field = desc and q.ordering:sub(2) or q.ordering
  if not q.apps and not q.proxies and field == "created_at" then
    return { count = hi - lo + 1, lo = lo, hi = hi, desc = desc } -- a plain range, no list
  end
  local apps, proxies = q.apps, q.proxies
  local APPS, PROXIES = dataset.APPLICATIONS, dataset.PROXIES
  local by_used = field == "used_amount"
  local by_deducted = field == "deducted_amount"
  local list, count = {}, 0
  for i = lo, hi do
    local app, proxy, _, used, deducted = dataset.keys(i, seed)
    if (not apps or apps[APPS[app]]) and (not proxies or proxies[PROXIES[proxy]]) then
      count = count + 1
      if by_used then list[count] = used * KEY_SHIFT + i
      elseif by_deducted then list[count] = deducted * KEY_SHIFT + i
      else list[count] = i end
    end
  end
  if by_used or by_deducted then
    table.sort(list) -- ties broken by index, i.e. by id (ids ascend with the index)
    for k = 1, count do list[k] = list[k] % KEY_SHIFT end
  end
  return { count = count, list = list, desc = desc }
end

--- The cached view for this query over the current data set.
function query.view(q)
  local n, seed = state.total(), state.seed()
  local key = table.concat({
    seed, n, q.ordering, q.apps_key or "", q.proxies_key or "",
    q.from_us or "", q.to_us or "",
  }, "|")
  local v = state.view_get(key)
  if not v then
    v = build_view(q, n, seed)
    state.view_put(key, v)
  end
  return v
end

--- Record index at 0-based position p of a view.
function query.at(v, p)
  if v.list then
    if v.desc then return v.list[v.count - p] end
    return v.list[p + 1]
  end
  if v.desc then return v.hi - p end
  return v.lo + p
end

--- The list response body for q (JSON text) over the records of the caller.
-- `owner_has_data` is false for users other than USER_ID (their data set is empty).
function query.page_body(q, owner_has_data, shape)
  local count, parts = 0, {}
  if owner_has_data then
    local v = query.view(q)
    count = v.count
    local stop = q.offset + q.limit
    if stop > count then stop = count end
    local n = 0
    for p = q.offset, stop - 1 do
      n = n + 1
      parts[n] = state.record_json(query.at(v, p))
    end
  end
  local items = table.concat(parts, ",")
  if shape == "results" then
    return '{"count":' .. string.format("%d", count) .. ',"next":null,"previous":null,"results":[' .. items .. "]}"
  end
  return '{"count":' .. string.format("%d", count) .. ',"items":[' .. items .. "]}"
end

return query
