-- OpenResty: the module inside a real nginx with the Lua module (Debian's nginx +
-- libnginx-mod-http-lua, LuaJIT 2.1) and ONE worker, talking to the mock through cosockets.
-- The handlers are spec/helpers/nginx_handlers.lua; nginx is started and stopped (by pid) by
-- spec/helpers/nginx_app.lua, with its prefix under .tmp/openresty-<port>/.
local acedata = require "acedata"
local cjson = require "cjson"
local SCALE = tonumber(os.getenv "ACEDATA_TIME_SCALE") or 1
local socket = require "socket"
local http = require "socket.http"
local mock = require "spec.helpers.mock"
local nginx_app = require "spec.helpers.nginx_app"

local dataset = mock.dataset

-- The mock's pending fault rules (a rule is consumed when its request reaches the mock).
local function faults_pending()
  local body = assert(http.request(mock.url() .. "/__mock/config"))
  return cjson.decode(body).faults_pending
end

-- Waits (bounded) until the mock has taken every pending fault: the request is then in flight.
local function wait_faults_taken(seconds)
  local deadline = socket.gettime() + seconds
  while socket.gettime() < deadline do
    if faults_pending() == 0 then return true end
    socket.sleep(0.01)
  end
  return false
end

local function ms(s) return string.format("%.1f", s * 1000) end

-- The OpenResty example of docs/openresty.md: the `location = /usage/total { … }` block of its
-- nginx snippet. The README shows the same block (checked below), so both run here.
local function example_location(path)
  local f = assert(io.open(path, "rb"))
  local text = f:read("*a")
  f:close()
  local conf = assert(text:match("\n```nginx\n(.-)\n```"), path .. " has no nginx snippet")
  local start = assert(conf:find("location = /usage/total {", 1, true), "no /usage/total location in " .. path)
  local depth, i = 0, start
  repeat
    local c = conf:sub(i, i)
    if c == "{" then depth = depth + 1 elseif c == "}" then depth = depth - 1 end
    i = i + 1
  until depth == 0 and c == "}" or i > #conf
  return conf:sub(start, i - 1)
end

-- The log-phase example of docs/openresty.md (its second nginx snippet, a `log_by_lua_block`),
-- put in a location of its own.
local function example_log_location(path)
  local f = assert(io.open(path, "rb"))
  local text = f:read("*a")
  f:close()
  local block
  for snippet in text:gmatch("\n```nginx\n(.-)\n```") do
    if snippet:find("^log_by_lua_block") then block = snippet end
  end
  assert(block, path .. " has no log_by_lua_block snippet")
  return "location = /example/log {\n content_by_lua_block { ngx.say(\"logged\") }\n" .. block .. "\n}"
end

describe("OpenResty", function()
  local app, tls_dir

  setup(function()
    mock.reset()
    tls_dir = os.tmpname()
    os.remove(tls_dir)
    local tls = nginx_app.make_tls(tls_dir)
    -- The default client reads these; nginx passes them on because of `env NAME;` lines.
    app = nginx_app.start {
      mock_url = mock.url(), tls = tls,
      env = { ACEDATACLOUD_PLATFORM_TOKEN = mock.TOKEN, PLATFORM_API_BASE_URL = mock.url() },
      server_extra = example_location("docs/openresty.md") .. "\n" .. example_log_location("docs/openresty.md"),
    }
  end)

  teardown(function()
    if app then app:stop() end
    if tls_dir then os.execute("rm -rf '" .. tls_dir .. "'") end
    mock.reset()
  end)

  before_each(function() mock.reset() end)

  -- GET on the app; returns status and the decoded JSON answer.
  local function get(path, timeout)
    local status, body = app:get(path, timeout)
    assert(status, "no answer from nginx for " .. path .. ": " .. tostring(body) .. "\n" .. app:error_log())
    local ok, value = pcall(cjson.decode, body)
    return status, ok and value or body
  end

  local function list_entries()
    local out = {}
    for _, r in ipairs(mock.log()) do
      if r.route == "list" then out[#out + 1] = r end
    end
    return out
  end

  describe("the transport", function()
    it("is the cosocket one, picked automatically inside nginx", function()
      local status, v = get("/app/page")
      assert.equal(200, status, cjson.encode(v))
      assert.equal("ngx", v.transport)
      assert.equal(1000, v.count)
      assert.equal(5, v.n)
    end)

    it("can be forced with transport = \"ngx\"", function()
      local status, v = get("/app/page?transport=ngx&limit=7")
      assert.equal(200, status, cjson.encode(v))
      assert.equal("ngx", v.transport)
      assert.equal(7, v.n)
    end)

    it("refuses runtime = \"ngx\" outside OpenResty, with a clear error", function()
      assert.has_error(function()
        acedata.new { token = mock.TOKEN, base_url = mock.url(), runtime = "ngx" }
      end, "acedata: runtime \"ngx\" works only inside OpenResty / ngx_lua (no ngx.socket here)")
    end)

    it("takes transport, the 0.1 name of runtime", function()
      assert.has_error(function()
        acedata.new { token = mock.TOKEN, base_url = mock.url(), transport = "ngx" }
      end, "acedata: runtime \"ngx\" works only inside OpenResty / ngx_lua (no ngx.socket here)")
    end)

    it("serves the default client from the environment named by env directives", function()
      local status, v = get("/app/default")
      assert.equal(200, status, cjson.encode(v))
      assert.equal(1000, v.count)
      assert.equal(2, v.n)
      assert.equal("ngx", v.transport)
    end)
  end)

  describe("the example handler of docs/openresty.md and README.md", function()
    it("is the same location block in both", function()
      assert.equal(example_location("docs/openresty.md"), example_location("README.md"))
    end)

    it("the log-phase example makes its request from a timer, after the response", function()
      local log_before = #app:error_log()
      local status, body = app:get("/example/log")
      assert.equal(200, status, body)
      assert.equal("logged\n", body)
      local seen
      for _ = 1, 100 do                        -- at most ~5 s
        for _, r in ipairs(mock.list_requests()) do
          if ("&" .. r.args .. "&"):find("&limit=1&", 1, true) then seen = r end
        end
        if seen then break end
        socket.sleep(0.05)
      end
      assert.truthy(seen, "the timer's request never reached the mock")
      socket.sleep(0.2)                        -- the timer logs a failure once the answer is in
      local logged = app:error_log():sub(log_before + 1)
      assert.is_nil(logged:find("acedata", 1, true), logged)
    end)

    it("totals usage with the default client", function()
      local status, body = app:get("/usage/total")
      assert.equal(200, status, body)
      -- ngx.say prints numbers as %.14g
      assert.equal(("1000 records, %.14g credits\n"):format(dataset.totals(1000).deducted), body)
    end)
  end)

  describe("a handler totalling usage through the module", function()
    local N = 1234

    local function check_totals(v)
      local want = dataset.totals(N)
      assert.equal(want.count, v.count)
      assert.equal(want.used, v.used)
      assert.equal(want.deducted, v.deducted)
      for alias, b in pairs(want.by_service) do
        assert.same({ count = b.count, used = b.used, deducted = b.deducted }, v.by_service[alias])
      end
      local n = 0
      for _ in pairs(v.by_service) do n = n + 1 end
      assert.equal(#dataset.SERVICES, n)
    end

    before_each(function() mock.config { records = N } end)

    it("gets the data set's totals, page by page", function()
      local status, v = get("/app/totals?page_size=100")
      assert.equal(200, status, cjson.encode(v))
      assert.equal("ngx", v.transport)
      check_totals(v)
      assert.equal(13, #list_entries())
    end)

    it("gets them with concurrency = 4 (pages fetched by ngx.thread light threads)", function()
      local status, v = get("/app/totals?page_size=100&concurrency=4")
      assert.equal(200, status, cjson.encode(v))
      check_totals(v)
    end)

    it("decodes only the fields asked for, with the same totals", function()
      local status, v = get("/app/totals?page_size=100&fields=1")
      assert.equal(200, status, cjson.encode(v))
      check_totals(v)
      assert.equal(0, v.unasked)
    end)

    it("asks for gzip and inflates what comes back gzipped", function()
      local status, v = get("/app/raw?limit=50")
      assert.equal(200, status, cjson.encode(v))
      assert.equal("gzip", v.encoding)
      assert.same({ 200, N, 50 }, { v.status, v.count, v.n })
      assert.truthy(list_entries()[1].accept_encoding:find("gzip", 1, true))
    end)

    it("takes an uncompressed answer as it is", function()
      mock.config { gzip = false }
      local status, v = get("/app/raw?limit=50")
      assert.equal(200, status, cjson.encode(v))
      assert.is_nil(v.encoding)
      assert.same({ 200, N, 50 }, { v.status, v.count, v.n })
    end)

    it("reads chunked bodies", function()
      local status, v = get("/app/totals?page_size=250&base_url=" .. app.url .. "/chunked")
      assert.equal(200, status, cjson.encode(v))
      check_totals(v)
    end)

    it("reads bodies delimited by the server closing the connection", function()
      local status, v = get("/app/totals?page_size=250&base_url=" .. app.url .. "/close")
      assert.equal(200, status, cjson.encode(v))
      check_totals(v)
    end)
  end)

  describe("the worker", function()
    it("answers 50 other requests in under 100 ms each while one waits 2 s on a slow upstream", function()
      mock.faults { fault = "slow_first_byte", delay = 2, route = "list", times = 1 }
      local slow = app:send { "/app/page?limit=3" }
      assert.is_true(wait_faults_taken(2), "the slow request did not reach the mock")

      local paths = {}
      for i = 1, 50 do paths[i] = "/app/fast" end
      local fast = app:fire(paths, 3)
      app:collect(slow, 5)

      local s = slow[1]
      assert.is_nil(s.error)
      assert.equal(200, s.status, s.body)
      local sv = cjson.decode(s.body)
      assert.equal("ngx", sv.transport)
      assert.equal(1000, sv.count)
      assert.is_true(s.seconds >= 1.9, "the slow request took only " .. s.seconds .. " s")

      local latencies = {}
      for i, r in ipairs(fast) do
        assert.is_nil(r.error, "request " .. i .. ": " .. tostring(r.error))
        assert.equal(200, r.status)
        local v = cjson.decode(r.body)
        assert.equal(app.worker_pid, v.pid)            -- the same (only) worker
        assert.is_true(r.done_at < s.done_at, "request " .. i .. " finished after the slow one")
        latencies[i] = r.seconds
      end
      local lo, median, hi = nginx_app.summary(latencies)
      print(("\n[openresty] 50 concurrent requests while one waited %.2f s upstream (same worker): "
        .. "min %s ms, median %s ms, max %s ms"):format(s.seconds, ms(lo), ms(median), ms(hi)))
      assert.equal(50, #latencies)
      -- Not blocked: a blocked worker answers only after the slow request's 2 s. The bound leaves
      -- room for a loaded machine and for valgrind (ACEDATA_TIME_SCALE) on the client side.
      assert.is_true(hi < 0.25 * SCALE, "slowest of the 50 took " .. ms(hi) .. " ms")
    end)

    it("would be stalled by a blocking call (curl forced): the measurement can tell", function()
      mock.faults { fault = "slow_first_byte", delay = 2, route = "list", times = 1 }
      local slow = app:send { "/app/page?limit=3&transport=curl" }
      assert.is_true(wait_faults_taken(2), "the slow request did not reach the mock")
      local fast = app:fire({ "/app/fast", "/app/fast", "/app/fast" }, 5)
      app:collect(slow, 5)
      assert.equal(200, slow[1].status, slow[1].body)
      assert.equal("curl", cjson.decode(slow[1].body).transport)
      for _, r in ipairs(fast) do
        assert.equal(200, r.status)
        assert.is_true(r.seconds > 1, "expected the blocked worker to answer late, took " .. ms(r.seconds) .. " ms")
      end
    end)
  end)

  describe("connections", function()
    it("are kept alive and reused from nginx's pool across handler calls", function()
      for _ = 1, 3 do
        local status, v = get("/app/pages?n=4")
        assert.equal(200, status, cjson.encode(v))
        assert.equal(40, v.records)
      end
      local log, ids, n = mock.log(), {}, 0
      for _, r in ipairs(log) do
        if not ids[r.connection_id] then ids[r.connection_id] = true; n = n + 1 end
      end
      assert.equal(15, #log)                        -- 3 x (me + 4 pages)
      assert.equal(1, n)
    end)
  end)

  describe("retries", function()
    it("wait with ngx.sleep: a 503 with Retry-After 1, then success; the worker keeps answering", function()
      mock.faults { fault = "status", status = 503, headers = { ["Retry-After"] = "1" }, times = 1 }
      local slow = app:send { "/app/page?max_retries=2" }
      assert.is_true(wait_faults_taken(2), "the first attempt did not reach the mock")
      local paths = {}
      for i = 1, 20 do paths[i] = "/app/fast" end
      local fast = app:fire(paths, 3)
      app:collect(slow, 5)
      assert.equal(200, slow[1].status, slow[1].body)
      local v = cjson.decode(slow[1].body)
      assert.is_true(v.seconds >= 0.95, "waited only " .. v.seconds .. " s")
      local latencies = {}
      for i, r in ipairs(fast) do
        assert.equal(200, r.status)
        assert.is_true(r.done_at < slow[1].done_at)
        latencies[i] = r.seconds
      end
      local _, _, hi = nginx_app.summary(latencies)
      assert.is_true(hi < 0.1, "slowest answer during the retry wait took " .. ms(hi) .. " ms")
      local entries = list_entries()
      assert.equal(2, #entries)
      assert.equal(503, entries[1].status)
      assert.equal(200, entries[2].status)
    end)

    it("give up after max_retries with a server error", function()
      mock.faults { fault = "status", status = 503, times = -1 }
      local status, v = get("/app/page?max_retries=1")
      assert.equal(502, status)
      assert.equal("server", v.error.kind)
      assert.equal(503, v.error.status)
      assert.equal(2, #list_entries())
    end)
  end)

  describe("failures", function()
    it("a timeout is kind timeout", function()
      mock.faults { fault = "slow_first_byte", delay = 2, times = 1 }
      local status, v = get("/app/page?timeout=0.3&max_retries=0")
      assert.equal(502, status)
      assert.equal("timeout", v.error.kind)
    end)

    it("a refused connection is kind network", function()
      local port = nginx_app.free_port()
      local status, v = get("/app/page?max_retries=0&base_url=http://127.0.0.1:" .. port)
      assert.equal(502, status)
      assert.equal("network", v.error.kind)
      assert.truthy(v.error.message:find("connect to 127.0.0.1:" .. port, 1, true), v.error.message)
    end)

    it("the token never appears in an error", function()
      mock.faults { fault = "status", status = 500, times = -1 }
      local _, body = app:get("/app/page?max_retries=0")
      assert.is_nil(body:find(mock.TOKEN, 1, true))
      assert.truthy(body:find('"kind":"server"', 1, true))
    end)
  end)

  describe("redirects", function()
    it("are followed on the same origin, with the token", function()
      mock.faults { fault = "redirect", location = "/api/v1/usage/proxies/?user_id=" .. dataset.USER_ID .. "&limit=2" }
      local status, v = get("/app/page")
      assert.equal(200, status, cjson.encode(v))
      assert.equal(2, v.n)
      local entries = list_entries()
      assert.equal(2, #entries)
      assert.is_true(entries[2].authorization_present)
    end)

    it("to another origin do not carry the token", function()
      -- The other origin is this nginx, which proxies to the mock: the mock sees no token.
      mock.faults { fault = "redirect", location = app.url .. "/chunked/api/v1/usage/proxies/?user_id=x" }
      local status, v = get("/app/page?max_retries=0")
      assert.equal(502, status)
      assert.equal("auth", v.error.kind)
      local entries = list_entries()
      assert.equal(2, #entries)
      assert.is_true(entries[1].authorization_present)
      assert.is_false(entries[2].authorization_present)
    end)
  end)

  describe("phases without cosockets", function()
    local function assert_phase_error(text, phase)
      assert.is_string(text)
      assert.truthy(text:find("cannot make a request in nginx's " .. phase .. " phase (no cosockets there)", 1, true), text)
      assert.truthy(text:find("ngx.timer.at", 1, true), text)
    end

    it("init_by_lua: the error says so and names ngx.timer.at", function()
      local _, v = get("/app/result?key=init")
      assert_phase_error(v.value, "init")
    end)

    it("set_by_lua: the error says so and names ngx.timer.at", function()
      local status, body = app:get("/phase/set")
      assert.equal(200, status)
      assert_phase_error(body, "set")
    end)

    it("header_filter_by_lua: the error says so", function()
      assert.equal(200, (app:get("/phase/header_filter")))
      local _, v = get("/app/result?key=header_filter")
      assert_phase_error(v.value, "header_filter")
    end)

    it("log_by_lua: the error says so, and the fix it names (ngx.timer.at) works", function()
      assert.equal(200, (app:get("/phase/log")))
      local log_err, timer
      local deadline = socket.gettime() + 3
      repeat
        log_err = select(2, get("/app/result?key=log")).value
        timer = select(2, get("/app/result?key=timer")).value
        if not timer then socket.sleep(0.02) end
      until timer or socket.gettime() > deadline
      assert_phase_error(log_err, "log")
      assert.equal("count 1000 via ngx", timer)
    end)
  end)

  describe("https", function()
    it("verifies the server with the CAs of lua_ssl_trusted_certificate", function()
      local status, v = get("/app/page?base_url=https://127.0.0.1:" .. app.tls.port)
      assert.equal(200, status, cjson.encode(v))
      assert.equal(1000, v.count)
    end)

    it("refuses a certificate no trusted CA signed: kind tls", function()
      local status, v = get("/app/page?max_retries=0&base_url=https://127.0.0.1:" .. app.tls.bad_port)
      assert.equal(502, status)
      assert.equal("tls", v.error.kind, v.error.message)
    end)

    it("ssl_verify = false accepts it, and never lends that connection to a verifying client", function()
      local base = "https://127.0.0.1:" .. app.tls.bad_port
      local status, v = get("/app/page?ssl_verify=false&base_url=" .. base)
      assert.equal(200, status, cjson.encode(v))
      status, v = get("/app/page?max_retries=0&base_url=" .. base)
      assert.equal(502, status)
      assert.equal("tls", v.error.kind)
    end)
  end)
end)
