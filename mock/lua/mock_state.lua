--- Worker-level state of the mock: configuration, fault rules, request log, caches.
--
-- The mock runs exactly one nginx worker, so plain module tables are shared by every
-- request. init() runs in init_by_lua (master) and the state is inherited by the worker.

local dataset = require "mock.dataset"
local model_keys = { latency_ms = true, jitter_ms = true, rate = true, burst = true, workers = true,
  offset_cost_us = true }

local state = {}

local LOG_LIMIT = 100000        -- entries kept in the request log
local JSON_CACHE_LIMIT = 200000 -- encoded records kept per worker
local VIEW_CACHE_LIMIT = 16     -- filtered/sorted index lists kept

local startup = { records = 1000, shape = "items", page_delay_ms = 0, seed = 1, gzip = true,
  -- the server model (mock_model): all off
  latency_ms = 0, jitter_ms = 0, rate = 0, burst = 0, workers = 0, offset_cost_us = 0 }

state.config = {}
state.inserted = 0       -- records added by insert_records faults since the last reset/config
state.faults = {}
state.log = setmetatable({}, dataset.array_mt)
state.log_dropped = 0

local json_cache, json_cache_n, json_cache_seed = {}, 0, nil
local view_cache, view_cache_n = {}, 0
local totals_cache -- { seed = s, n = n, totals = t }

local function copy(t)
  local c = {}
  for k, v in pairs(t) do c[k] = v end
  return c
end

--- Called from init_by_lua with the values given to `mock/server start`.
function state.init(opts)
  for k, v in pairs(opts or {}) do startup[k] = v end
  state.reset()
end

--- Back to the start-up configuration; clears faults, inserted records and the log.
function state.reset()
  state.config = copy(startup)
  state.inserted = 0
  state.faults = {}
  state.clear_log()
end

function state.clear_log()
  state.log = setmetatable({}, dataset.array_mt)
  state.log_dropped = 0
end

--- Number of records in the data set of USER_ID (configured + inserted).
function state.total()
  return state.config.records + state.inserted
end

function state.seed()
  return state.config.seed
end

--- Apply a config change ({records, shape, page_delay_ms, seed, gzip} and the server model's
-- keys, checked by mock_model.check); nil, message if invalid.
-- Setting records makes the data set exactly that size (inserted records are dropped).
function state.configure(body)
  if type(body) ~= "table" then return nil, "config must be a JSON object" end
  local new = copy(state.config)
  local inserted = state.inserted
  for k, v in pairs(body) do
    if k == "records" or k == "seed" then
      if type(v) ~= "number" or v < 0 or v ~= math.floor(v) or v > 50000000 then
        return nil, k .. " must be an integer between 0 and 50000000"
      end
      new[k] = math.floor(v)
      if k == "records" then inserted = 0 end
    elseif k == "page_delay_ms" then
      if type(v) ~= "number" or v < 0 or v > 600000 then
        return nil, "page_delay_ms must be a number between 0 and 600000"
      end
      new[k] = v
    elseif k == "gzip" then
      if type(v) ~= "boolean" then return nil, "gzip must be true or false" end
      new[k] = v
    elseif k == "shape" then
      if v ~= "items" and v ~= "results" then return nil, 'shape must be "items" or "results"' end
      new[k] = v
    elseif model_keys[k] then
      local value, err = require("mock_model").check(k, v)
      if value == nil then return nil, err end
      new[k] = value
    else
      return nil, "unknown config key " .. tostring(k)
    end
  end
  state.config = new
  state.inserted = inserted
  return state.describe()
end

--- The current configuration as a JSON-ready table.
function state.describe()
  local c = copy(state.config)
  c.inserted = state.inserted
  c.total = state.total()
  c.faults_pending = #state.faults
  return c
end

--- Append records at the end of the data set (newest first under -created_at).
function state.insert(count)
  state.inserted = state.inserted + count
end

-- Encoded records ----------------------------------------------------------------------------

--- JSON text of record i under the current seed (cached per worker, bounded).
function state.record_json(i)
  local seed = state.config.seed
  if json_cache_seed ~= seed then
    json_cache, json_cache_n, json_cache_seed = {}, 0, seed
  end
  local s = json_cache[i]
  if s then return s end
  s = dataset.record_json(i, seed)
  if json_cache_n >= JSON_CACHE_LIMIT then json_cache, json_cache_n = {}, 0 end
  json_cache[i] = s
  json_cache_n = json_cache_n + 1
  return s
end

-- Views (cached index lists for a filter set) -----------------------------------------------

function state.view_get(key)
  return view_cache[key]
end

function state.view_put(key, view)
  if view_cache_n >= VIEW_CACHE_LIMIT then view_cache, view_cache_n = {}, 0 end
  view_cache[key] = view
  view_cache_n = view_cache_n + 1
end

-- Totals ---------------------------------------------------------------------------------------

--- Totals of the current data set, extended incrementally when records were inserted.
function state.totals()
  local seed, n = state.config.seed, state.total()
  local c = totals_cache
  if not c or c.seed ~= seed or c.n > n then
    c = { seed = seed, n = 0, totals = dataset.new_totals() }
    totals_cache = c
  end
  if c.n < n then
    dataset.accumulate(c.totals, c.n + 1, n, seed)
    c.n = n
  end
  return c.totals
end

-- Request log ------------------------------------------------------------------------------

function state.log_append(entry)
  if #state.log >= LOG_LIMIT then
    state.log_dropped = state.log_dropped + 1
    return
  end
  state.log[#state.log + 1] = entry
end

return state
