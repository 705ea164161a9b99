-- Test helper: the running mock API (started by scripts/test, URL in ACEDATA_MOCK_URL),
-- its control API, and clients pointed at it.
local cjson = require "cjson"
local http = require "socket.http"
local ltn12 = require "ltn12"
local dataset = require "mock.dataset"

local mock = { dataset = dataset, TOKEN = dataset.TOKEN }

function mock.url()
  local url = os.getenv "ACEDATA_MOCK_URL"
  assert(url and url ~= "", "ACEDATA_MOCK_URL is not set: run the specs through scripts/test")
  return url
end

-- One control call; returns the decoded JSON answer (or nil for an empty one).
local function control(method, path, body)
  local chunks = {}
  local payload = body ~= nil and cjson.encode(body) or nil
  local ok, status = http.request {
    url = mock.url() .. path, method = method,
    headers = payload and { ["content-type"] = "application/json", ["content-length"] = #payload } or nil,
    source = payload and ltn12.source.string(payload) or nil,
    sink = ltn12.sink.table(chunks),
  }
  assert(ok, "mock control call failed: " .. tostring(status))
  assert(status == 200, "mock control " .. method .. " " .. path .. " answered " .. tostring(status)
    .. ": " .. table.concat(chunks))
  local text = table.concat(chunks)
  if text == "" then return nil end
  return cjson.decode(text)
end

function mock.reset() return control("POST", "/__mock/reset") end
function mock.config(t) return control("POST", "/__mock/config", t) end
function mock.faults(rules) return control("POST", "/__mock/faults", rules) end
function mock.log() return control("GET", "/__mock/log") end
function mock.totals() return control("GET", "/__mock/totals") end

-- Scenarios (mock/README.md "Scenarios"): a server of its own under <mock>/__scenario/ID.
-- mock.scenario(body) -> id, base_url; mock.scenario_log(id) -> what it served; scenario_free(id).
function mock.scenario(body)
  local id = control("POST", "/__mock/scenarios", body).id
  return id, mock.url() .. "/__scenario/" .. id
end
function mock.scenario_log(id) return control("GET", "/__mock/scenarios/" .. id) end
function mock.scenario_free(id) return control("DELETE", "/__mock/scenarios/" .. id) end

-- The mock log's entries for the list route (what each{} and proxies{} asked for).
function mock.list_requests()
  local out = {}
  for _, r in ipairs(mock.log()) do
    if r.uri:find("^/api/v1/usage/proxies/?$") then out[#out + 1] = r end
  end
  return out
end

-- The ids of the first n records of the data set in the mock's default order (newest first).
function mock.newest_first_ids(n)
  local list = dataset.records(n)
  table.sort(list, function(a, b) return a.created_at > b.created_at end)
  local ids = {}
  for i, r in ipairs(list) do ids[i] = r.id end
  return ids
end

-- A client for the mock; quick backoff so retry specs stay fast.
function mock.client(opts)
  local acedata = require "acedata"
  local o = { token = mock.TOKEN, base_url = mock.url(), backoff_base = 0.01, backoff_cap = 0.05, timeout = 5 }
  for k, v in pairs(opts or {}) do o[k] = v end
  return acedata.new(o)
end

return mock
