-- examples/openresty: on_response feeding a lua_shared_dict, run in a real nginx (one worker,
-- cosockets) against the mock; the counters are read back from the example's /metrics location.
local cjson = require "cjson"
local http = require "socket.http"
local mock = require "spec.helpers.mock"
local nginx_app = require "spec.helpers.nginx_app"

-- The part of examples/openresty/nginx.conf between "# begin:NAME" and "# end:NAME".
local function part(text, name)
  return assert(text:match("# begin:" .. name .. "\n(.-)\n%s*# end:" .. name), "no " .. name .. " part")
end

describe("examples/openresty (on_response -> lua_shared_dict)", function()
  local app

  setup(function()
    mock.reset()
    local f = assert(io.open("examples/openresty/nginx.conf", "rb"))
    local conf = f:read("*a")
    f:close()
    app = nginx_app.start {
      mock_url = mock.url(),
      env = { ACEDATACLOUD_PLATFORM_TOKEN = mock.TOKEN, PLATFORM_API_BASE_URL = mock.url() },
      http_extra = part(conf, "http"),
      -- The test nginx's lua_package_path has the repository root, not examples/openresty/.
      server_extra = (part(conf, "server"):gsub('require%(?%s*"metrics"%s*%)?', 'require("examples.openresty.metrics")')),
    }
  end)

  teardown(function()
    if app then app:stop() end
  end)

  -- The /metrics text as { [line name with labels] = number }.
  local function read_metrics()
    local status, body = app:get("/metrics")
    assert.equal(200, status, body)
    local t = {}
    for name, value in body:gmatch("([^\n]-) ([%d.]+)\n") do t[name] = tonumber(value) end
    return t
  end

  it("counts every attempt by status, the retries, and the milliseconds", function()
    local before = read_metrics()
    local function delta(name) return (read_metrics()[name] or 0) - (before[name] or 0) end
    -- the list request fails once with 503 and is retried; me (for user_id) comes first
    mock.faults { fault = "status", status = 503, route = "list", times = 1 }
    local status, body = app:get("/usage/count")
    assert.equal(200, status, body .. app:error_log())
    assert.equal(cjson.decode((http.request(mock.url() .. "/__mock/config"))).total, tonumber(body:match("%d+")))
    assert.equal(2, delta('acedata_attempts_total{status="200"}'))
    assert.equal(1, delta('acedata_attempts_total{status="503",kind="server"}'))
    assert.equal(1, delta("acedata_retries_total"))
    assert.is_true(delta("acedata_attempt_milliseconds_sum") > 0)
  end)

  it("adds up across requests of the worker", function()
    local before = read_metrics()['acedata_attempts_total{status="200"}'] or 0
    for _ = 1, 3 do assert.equal(200, (app:get("/usage/count"))) end
    assert.equal(before + 6, read_metrics()['acedata_attempts_total{status="200"}'])
  end)
end)
