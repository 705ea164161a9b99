-- acedata.core HTTP: core.session (blocking) and core.multi (non-blocking), against a real local
-- HTTP/1.1 server (spec/helpers/http_fixture.py, started here; independent of the mock API).
local core = require "acedata.core"
local socket = require "socket"

local here = debug.getinfo(1, "S").source:match("^@(.*)[/\\][^/\\]*$") or "."
local now = socket.gettime

-- Starts the fixture; returns { base = "http://127.0.0.1:PORT", port, pid, closed_port }.
local function start_fixture()
  local cmd = "exec python3 '" .. here .. "/helpers/http_fixture.py' --lifetime 60"
  local handle = assert(io.popen(cmd, "r"))
  local line = handle:read("*l")
  local port, pid, closed = tostring(line):match("^(%d+) (%d+) (%d+)$")
  assert(port, "http fixture did not start: " .. tostring(line))
  return {
    handle = handle,
    port = tonumber(port),
    pid = tonumber(pid),
    closed_port = tonumber(closed),
    base = "http://127.0.0.1:" .. port,
  }
end

local function stop_fixture(fx)
  if not fx then return end
  os.execute("kill " .. fx.pid .. " 2>/dev/null")
  fx.handle:close()
end

-- Drives m with m:wait until `count` ids are done or `seconds` pass; returns the ids.
local function wait_done(m, count, seconds)
  local ids, deadline = {}, now() + (seconds or 5)
  while #ids < count and now() < deadline do
    m:wait(50)
    for _, id in ipairs(m:done()) do ids[#ids + 1] = id end
  end
  return ids
end

describe("acedata.core HTTP", function()
  local fx

  setup(function()
    fx = start_fixture()
  end)

  teardown(function()
    stop_fixture(fx)
  end)

  describe("core.curl_version", function()
    it("returns the version of the libcurl in use", function()
      assert.matches("^%d+%.%d+%.%d+", core.curl_version())
    end)
  end)

  describe("core.session", function()
    local s

    before_each(function()
      s = core.session { timeout = 5, connect_timeout = 5 }
    end)

    after_each(function()
      s:close()
    end)

    it("returns the status and the lower-cased, trimmed response headers", function()
      local status, hdrs = s:get(fx.base .. "/json")
      assert.equal(200, status)
      assert.equal("application/json", hdrs["content-type"])
      assert.equal("padded value", hdrs["x-fixture"])
      assert.equal(tostring(#s:body()), hdrs["content-length"])
    end)

    it("decodes the JSON body just received", function()
      assert.equal(200, (s:get(fx.base .. "/json")))
      local v = s:decode()
      assert.same({ ok = true, n = 42, items = { 1, 2, 3 }, name = "caf\195\169", none = core.null }, v)
    end)

    it("passes decode options through to the decoder", function()
      assert.equal(200, (s:get(fx.base .. "/json")))
      local v = s:decode { array_mt = true, null = "NULL" }
      assert.equal(core.array_mt, getmetatable(v.items))
      assert.equal("NULL", v.none)
    end)

    it("returns the raw body", function()
      assert.equal(200, (s:get(fx.base .. "/big?n=10")))
      assert.equal("xxxxxxxxxx", s:body())
    end)

    it("returns an HTTP error status as a response, not a failure", function()
      local status = s:get(fx.base .. "/status/404")
      assert.equal(404, status)
      assert.same({ detail = "status 404" }, s:decode())
    end)

    it("keeps the last of repeated response headers", function()
      local _, hdrs = s:get(fx.base .. "/folded")
      assert.equal("second", hdrs["x-multi"])
      assert.equal("MiXeD", hdrs["x-case"])
    end)

    it("reuses one connection for successive requests", function()
      for _ = 1, 3 do
        assert.equal(200, (s:get(fx.base .. "/json")))
      end
      local info = s:info()
      assert.equal(1, info.connects)
      assert.equal(fx.base .. "/json", info.url)
      assert.is_number(info.total_time)
    end)

    it("asks for compression and decodes a gzip body transparently", function()
      local status, hdrs = s:get(fx.base .. "/gzip")
      assert.equal(200, status)
      assert.equal("gzip", hdrs["content-encoding"])
      local v = s:decode()
      assert.matches("gzip", v.accept_encoding)
      assert.equal(100, #v.items)
    end)

    it("sends the given header lines and user agent", function()
      local ua = core.session { user_agent = "spec-agent/1.0" }
      assert.equal(200, (ua:get(fx.base .. "/headers", { "X-Api-Test: yes", "Accept: application/json" })))
      local v = ua:decode()
      ua:close()
      assert.equal("spec-agent/1.0", v["user-agent"])
      assert.equal("yes", v["x-api-test"])
      assert.equal("application/json", v["accept"])
    end)

    it("sends a default user agent naming acedata-lua and libcurl", function()
      assert.equal(200, (s:get(fx.base .. "/headers")))
      local ua = s:decode()["user-agent"]
      assert.matches("^acedata%-lua/", ua)
      assert.matches("libcurl/" .. core.curl_version(), ua, 1, true)
    end)

    it("fails with kind timeout when the server is too slow", function()
      local quick = core.session { timeout = 0.3 }
      local t0 = now()
      local status, kind, message, code = quick:get(fx.base .. "/slow?s=3")
      quick:close()
      assert.is_nil(status)
      assert.equal("timeout", kind)
      assert.is_string(message)
      assert.equal(28, code)
      assert.is_true(now() - t0 < 2.5)
    end)

    it("fails with kind network when the connection is refused", function()
      local status, kind, message, code = s:get("http://127.0.0.1:" .. fx.closed_port .. "/")
      assert.is_nil(status)
      assert.equal("network", kind)
      assert.matches("onnect", message)
      assert.equal(7, code)
    end)

    it("fails with kind network when the server closes without answering", function()
      local status, kind, _, code = s:get(fx.base .. "/drop")
      assert.is_nil(status)
      assert.equal("network", kind)
      assert.equal(52, code)
    end)

    it("fails with kind tls when the TLS handshake fails", function()
      local status, kind, _, code = s:get("https://127.0.0.1:" .. fx.port .. "/json")
      assert.is_nil(status)
      assert.equal("tls", kind)
      assert.equal(35, code)
    end)

    it("fails with kind tls when the CA file cannot be read", function()
      local bad = core.session { ca_file = "/nonexistent/ca.pem" }
      local status, kind = bad:get("https://127.0.0.1:" .. fx.port .. "/json")
      bad:close()
      assert.is_nil(status)
      assert.equal("tls", kind)
    end)

    it("aborts a body larger than max_body with kind network", function()
      local small = core.session { max_body = 1000 }
      local status, kind, message, code = small:get(fx.base .. "/big?n=5000")
      assert.is_nil(status)
      assert.equal("network", kind)
      assert.equal("response body larger than 1000 bytes", message)
      assert.equal(23, code)
      assert.equal("", small:body())
      assert.equal(200, (small:get(fx.base .. "/big?n=1000")))
      assert.equal(1000, #small:body())
      small:close()
    end)

    it("follows a redirect to the same host and keeps the Authorization header", function()
      local status = s:get(fx.base .. "/redirect?to=/headers", { "Authorization: Bearer secret" })
      assert.equal(200, status)
      assert.equal("Bearer secret", s:decode().authorization)
      assert.equal(fx.base .. "/headers", s:info().url)
    end)

    it("drops the Authorization header on a redirect to another host", function()
      local to = "http://localhost:" .. fx.port .. "/headers"
      local status, hdrs = s:get(fx.base .. "/redirect?to=" .. to, { "Authorization: Bearer secret" })
      assert.equal(200, status)
      local v = s:decode()
      assert.equal("localhost:" .. fx.port, v.host)
      assert.is_nil(v.authorization)
      assert.is_nil(hdrs.location) -- only the final response's headers
    end)

    it("refuses to follow a redirect to a protocol other than http(s)", function()
      local status, kind, _, code = s:get(fx.base .. "/redirect?to=file:///etc/passwd")
      assert.is_nil(status)
      assert.equal("network", kind)
      assert.equal(1, code)
    end)

    it("refuses URLs of other protocols", function()
      local status, kind, _, code = s:get("ftp://127.0.0.1:" .. fx.port .. "/")
      assert.is_nil(status)
      assert.equal("network", kind)
      assert.equal(1, code)
    end)

    it("never puts request header values into error messages", function()
      local _, _, message = s:get("http://127.0.0.1:" .. fx.closed_port .. "/",
        { "Authorization: Bearer topsecret" })
      assert.is_nil(message:find("topsecret", 1, true))
    end)

    it("raises on misuse of the header lines", function()
      assert.has_error(function() s:get(fx.base .. "/json", { 42 }) end,
        "header line 1 must be a string (got number)")
      assert.has_error(function() s:get(fx.base .. "/json", { "X-A: 1\r\nX-B: 2" }) end,
        "header line 1 contains a NUL, CR or LF byte")
      assert.has_error(function() s:get(fx.base .. "/json", "X-A: 1") end)
    end)

    it("raises when used after close, and closing twice is fine", function()
      s:close()
      s:close()
      assert.has_error(function() s:get(fx.base .. "/json") end, "session is closed")
      assert.has_error(function() s:decode() end, "session is closed")
      assert.has_error(function() s:body() end, "session is closed")
      assert.has_error(function() s:info() end, "session is closed")
    end)

    it("raises on an unknown option", function()
      assert.has_error(function() core.session { timeuot = 3 } end, "unknown session option 'timeuot'")
    end)

    it("raises on an option of the wrong type", function()
      assert.has_error(function() core.session { timeout = "3" } end,
        "session option 'timeout' must be a number of seconds (got string)")
      assert.has_error(function() core.session { ssl_verify = 1 } end,
        "session option 'ssl_verify' must be a boolean (got number)")
      assert.has_error(function() core.session { user_agent = false } end,
        "session option 'user_agent' must be a string (got boolean)")
      assert.has_error(function() core.session { max_body = 1.5 } end,
        "session option 'max_body' must be a non-negative integer")
      assert.has_error(function() core.session "fast" end, "session options must be a table (got string)")
    end)

    it("is closed by the garbage collector when dropped", function()
      local dropped = core.session {}
      assert.equal(200, (dropped:get(fx.base .. "/json")))
      dropped = nil -- luacheck: ignore 311
      collectgarbage()
      collectgarbage()
    end)

    if _VERSION == "Lua 5.4" then
      it("is closed when a to-be-closed variable goes out of scope", function()
        local chunk = assert(load([[
          local core, url = ...
          local kept
          do
            local s <close> = core.session {}
            kept = s
            assert(s:get(url) == 200)
          end
          return pcall(kept.get, kept, url)
        ]]))
        local ok, err = chunk(core, fx.base .. "/json")
        assert.is_false(ok)
        assert.matches("session is closed", err)
      end)
    end
  end)

  describe("core.multi", function()
    local m

    before_each(function()
      m = core.multi { timeout = 5 }
    end)

    after_each(function()
      m:close()
    end)

    it("runs requests concurrently", function()
      local t0 = now()
      local reqs = {}
      for i = 1, 3 do
        local req = m:add(fx.base .. "/slow?s=0.5")
        reqs[req:id()] = req
        assert.equal(i, req:id())
      end
      local ids = wait_done(m, 3, 5)
      local elapsed = now() - t0
      assert.equal(3, #ids)
      assert.is_true(elapsed < 1.3, "took " .. elapsed .. " s")
      for _, id in ipairs(ids) do
        local status = reqs[id]:result()
        assert.equal(200, status)
        assert.same({ slept = 0.5 }, reqs[id]:decode())
      end
    end)

    it("gives one request a shorter timeout with timeout_override", function()
      local slow = m:add(fx.base .. "/slow?s=2", nil, 0.3)
      local fine = m:add(fx.base .. "/slow?s=0.5")
      wait_done(m, 2, 5)
      local status, kind = slow:result()
      assert.is_nil(status)
      assert.equal("timeout", kind)
      assert.equal(200, (fine:result()))
    end)

    it("does not keep a pooled handle's timeout_override for the next request", function()
      local first = m:add(fx.base .. "/json", nil, 0.2)
      wait_done(m, 1, 5)
      assert.equal(200, (first:result()))
      local second = m:add(fx.base .. "/slow?s=0.5")
      wait_done(m, 1, 5)
      assert.equal(200, (second:result()))
    end)

    it("raises on a timeout_override that is not a positive number", function()
      assert.has_error(function() m:add(fx.base .. "/json", nil, 0) end)
      assert.has_error(function() m:add(fx.base .. "/json", nil, "1") end)
    end)

    it("returns status, headers and body per request", function()
      local req = m:add(fx.base .. "/json", { "X-Api-Test: yes" })
      assert.equal("running", req:state())
      assert.same({ req:id() }, wait_done(m, 1))
      assert.equal("done", req:state())
      local status, hdrs = req:result()
      assert.equal(200, status)
      assert.equal("padded value", hdrs["x-fixture"])
      assert.equal(42, req:decode().n)
      assert.matches('"n": 42', req:body(), 1, true)
      assert.equal(fx.base .. "/json", req:info().url)
    end)

    it("gives the status alone with req:status, and the headers table with req:headers", function()
      local req = m:add(fx.base .. "/json")
      wait_done(m, 1)
      assert.same({ 200 }, { req:status() })
      assert.equal("padded value", req:headers()["x-fixture"])
      local failed = m:add("http://127.0.0.1:" .. fx.closed_port .. "/")
      wait_done(m, 1)
      local st, kind, _, code = failed:status()
      assert.is_nil(st)
      assert.equal("network", kind)
      assert.equal(7, code)
      assert.same({}, failed:headers())
    end)

    it("releases a body: decode and body then raise, status and headers stay", function()
      local req = m:add(fx.base .. "/json")
      wait_done(m, 1)
      req:release()
      req:release()                      -- twice is fine
      assert.has_error(function() req:decode() end, "request body was released")
      assert.has_error(function() req:body() end, "request body was released")
      assert.equal(200, (req:status()))
      assert.equal("padded value", req:headers()["x-fixture"])
    end)

    it("reuses a released body's buffer without keeping its old bytes", function()
      local big = m:add(fx.base .. "/big?n=5000")
      wait_done(m, 1)
      assert.equal(5000, #big:body())
      big:release()
      local small = m:add(fx.base .. "/big?n=10")
      wait_done(m, 1)
      assert.equal("xxxxxxxxxx", small:body())
      local json = m:add(fx.base .. "/json")
      wait_done(m, 1)
      assert.equal(42, json:decode().n)
    end)

    it("does nothing when a running request is released", function()
      local req = m:add(fx.base .. "/slow?s=0.2")
      req:release()
      wait_done(m, 1)
      assert.same({ slept = 0.2 }, req:decode())
    end)

    it("waits in wait_done until a request has finished, and counts without tables", function()
      local fast = m:add(fx.base .. "/slow?s=0.2")
      local slow = m:add(fx.base .. "/slow?s=1.5")
      assert.equal(2, m:running())
      assert.equal(0, m:finished())
      local t0 = now()
      assert.equal(1, m:wait_done(5000))   -- back when the first finished, with one running
      local elapsed = now() - t0
      assert.is_true(elapsed >= 0.15 and elapsed < 1.4, "took " .. elapsed .. " s")
      assert.equal(1, m:finished())
      assert.same({ fast:id() }, m:done())
      assert.equal(0, m:finished())
      assert.equal("running", slow:state())
      assert.equal(1, m:running())
    end)

    it("returns from wait_done after ms when nothing finishes, and at once when nothing runs", function()
      m:add(fx.base .. "/slow?s=1")
      local t0 = now()
      assert.equal(1, m:wait_done(200))
      local elapsed = now() - t0
      assert.is_true(elapsed >= 0.15 and elapsed < 0.9, "took " .. elapsed .. " s")
      local idle = core.multi()
      t0 = now()
      assert.equal(0, idle:wait_done(2000))
      assert.is_true(now() - t0 < 0.5)
      assert.has_error(function() idle:wait_done(-1) end)
      idle:close()
      assert.has_error(function() idle:wait_done(10) end, "multi is closed")
    end)

    it("reuses connections across requests through its handle pool", function()
      for _ = 1, 3 do
        local req = m:add(fx.base .. "/json")
        assert.equal(1, #wait_done(m, 1))
        assert.equal(200, (req:result()))
      end
      assert.equal(1, m:info().connects)
      assert.equal(1, m:info().pooled)
    end)

    it("reports transport failures per request", function()
      local quick = core.multi { timeout = 0.3 }
      local slow = quick:add(fx.base .. "/slow?s=3")
      local refused = quick:add("http://127.0.0.1:" .. fx.closed_port .. "/")
      assert.equal(2, #wait_done(quick, 2, 3))
      local st, kind, _, code = slow:result()
      assert.is_nil(st)
      assert.equal("timeout", kind)
      assert.equal(28, code)
      st, kind, _, code = refused:result()
      assert.is_nil(st)
      assert.equal("network", kind)
      assert.equal(7, code)
      quick:close()
    end)

    it("raises when a result is asked of a running request", function()
      local req = m:add(fx.base .. "/slow?s=0.2")
      assert.has_error(function() req:result() end, "request is still running")
    end)

    it("cancels a running request", function()
      local req = m:add(fx.base .. "/slow?s=1")
      m:perform()
      assert.is_true(req:cancel())
      assert.is_false(req:cancel())
      assert.equal("cancelled", req:state())
      assert.equal(0, m:info().running)
      assert.has_error(function() req:result() end, "request was cancelled")
      assert.equal(0, m:wait(10))
    end)

    it("cancels a running request whose handle is collected", function()
      m:add(fx.base .. "/slow?s=1")
      assert.equal(1, m:info().running)
      collectgarbage()
      collectgarbage()
      assert.equal(0, m:info().running)
    end)

    it("reports socket interest changes and a timer for an event loop", function()
      local req = m:add(fx.base .. "/slow?s=0.2")
      assert.equal(0, m:timeout()) -- a new transfer wants to start at once
      assert.same({}, m:poll_changes())
      assert.equal(1, m:socket_action(-1, ""))
      local changes = m:poll_changes()
      assert.is_true(#changes >= 1)
      for _, c in ipairs(changes) do
        assert.is_true(c.fd >= 0)
        assert.is_truthy(({ r = true, w = true, rw = true, remove = true })[c.what])
      end
      assert.same({}, m:poll_changes()) -- consumed
      assert.is_number(m:timeout())
      local deadline = now() + 5
      while req:state() == "running" and now() < deadline do
        m:socket_action(-1, "")
        m:wait(20)
      end
      assert.equal(200, (req:result()))
    end)

    it("can be driven by socket readiness alone (select loop)", function()
      local watch = {}
      local function apply(changes)
        for _, c in ipairs(changes) do
          watch[c.fd] = c.what ~= "remove" and c.what or nil
        end
      end
      local reqs = { m:add(fx.base .. "/json"), m:add(fx.base .. "/slow?s=0.2") }
      local running = m:socket_action(-1, "")
      apply(m:poll_changes())
      local deadline = now() + 5
      while running > 0 and now() < deadline do
        local rd, wr = {}, {}
        for fd, what in pairs(watch) do
          local o = { fd = fd, getfd = function() return fd end }
          if what:find("r", 1, true) then rd[#rd + 1] = o end
          if what:find("w", 1, true) then wr[#wr + 1] = o end
        end
        local t = m:timeout()
        local wait = (t < 0 or t > 100) and 0.1 or t / 1000
        local r, w = socket.select(rd, wr, wait)
        local ready = {}
        for _, o in ipairs(r) do ready[o.fd] = "r" end
        for _, o in ipairs(w) do ready[o.fd] = (ready[o.fd] or "") .. "w" end
        if next(ready) == nil then
          running = m:socket_action(-1, "")
        else
          for fd, flags in pairs(ready) do running = m:socket_action(fd, flags) end
        end
        apply(m:poll_changes())
      end
      assert.equal(0, running)
      assert.equal(2, #m:done())
      assert.equal(200, (reqs[1]:result()))
      assert.equal(200, (reqs[2]:result()))
      assert.is_nil(next(watch)) -- every socket was handed back... or is idle in the cache
    end)

    it("cancels running requests when closed, and raises when used after close", function()
      local req = m:add(fx.base .. "/slow?s=1")
      m:perform()
      m:close()
      m:close()
      assert.equal("cancelled", req:state())
      assert.has_error(function() m:add(fx.base .. "/json") end, "multi is closed")
      assert.has_error(function() m:wait(10) end, "multi is closed")
    end)

    it("raises on an unknown option or a wrong type", function()
      assert.has_error(function() core.multi { concurrency = 3 } end, "unknown multi option 'concurrency'")
      assert.has_error(function() core.multi { timeout = true } end,
        "multi option 'timeout' must be a number of seconds (got boolean)")
    end)

    it("raises on bad socket_action arguments", function()
      assert.has_error(function() m:socket_action(-1, "x") end)
      assert.has_error(function() m:socket_action("r") end)
    end)
  end)
end)
