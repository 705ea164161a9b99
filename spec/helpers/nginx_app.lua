-- Test helper: a real nginx with the Lua module (Debian's nginx + libnginx-mod-http-lua, whose
-- LuaJIT is the system luajit2) running spec/helpers/nginx_handlers.lua with ONE worker on a free
-- 127.0.0.1 port, plus a client side that measures answers with LuaSocket.
--
--   local app = nginx_app.start { mock_url = mock.url(), env = { NAME = value }, tls = tls }
--   local status, body = app:get("/app/fast")
--   local answers = app:fire({ "/app/fast", … }, 3)   -- all at once; latency of each
--   app:stop()                                        -- by pid, bounded waits
--
-- Everything lives in .tmp/openresty-<port>/ (conf/, logs/, tmp/, pid). The module is built for
-- LuaJIT into build/luajit (nginx_app.build). Values of `env` reach nginx through a 0600 file
-- sourced by sh, never a command line; nginx.conf names them with `env NAME;`.
local child = require "spec.helpers.child"
local socket = require "socket"

local nginx_app = {}
local App = {}
App.__index = App

local shell_quote, read_file = child.quote, child.read

local function sh(cmd)
  local ok = os.execute(cmd)
  return ok == true or ok == 0
end

local function write_file(path, text, mode)
  local f = assert(io.open(path, "wb"))
  f:write(text)
  f:close()
  if mode then sh("chmod " .. mode .. " " .. shell_quote(path)) end
end

--- The repository root (the specs run from it).
function nginx_app.root()
  local p = io.popen("pwd")
  local root = p:read("*l")
  p:close()
  return root
end

--- Builds build/luajit/acedata/core.so (incremental; serialised by a lock for parallel runs).
function nginx_app.build(root)
  local dir = root .. "/build/luajit"
  local cmd = ("mkdir -p %s/.tmp && env -u LD_PRELOAD flock %s/.tmp/build-luajit.lock sh -c "
    .. "'cmake -S %s -B %s -DLUA_VERSION=luajit >/dev/null && cmake --build %s -j 2 >/dev/null'")
    :format(shell_quote(root), shell_quote(root), root, dir, dir)
  assert(sh(cmd), "building the module for LuaJIT failed (try: cmake -S . -B build/luajit "
    .. "-DLUA_VERSION=luajit && cmake --build build/luajit)")
  assert(read_file(dir .. "/acedata/core.so"), "no " .. dir .. "/acedata/core.so")
  return dir
end

--- A free TCP port on 127.0.0.1 (bound, then released).
function nginx_app.free_port()
  local s = assert(socket.bind("127.0.0.1", 0))
  local _, port = s:getsockname()
  s:close()
  return tonumber(port)
end

local function is_root()
  local p = io.popen("id -u")
  local uid = p:read("*l")
  p:close()
  return uid == "0"
end

local function render(o)
  local lines = {
    is_root() and "user root;" or "# not root: no user directive",
    "worker_processes 1;",
    "master_process on;",
    "daemon on;",
    "pid " .. o.prefix .. "/pid;",
    "error_log " .. o.prefix .. "/logs/error.log warn;",
  }
  for name in pairs(o.env or {}) do lines[#lines + 1] = "env " .. name .. ";" end
  lines[#lines + 1] = [[
load_module /usr/lib/nginx/modules/ndk_http_module.so;
load_module /usr/lib/nginx/modules/ngx_http_lua_module.so;

events { worker_connections 1024; }

http {
    access_log off;
    server_tokens off;
    client_body_temp_path @PREFIX@/tmp/client_body;
    proxy_temp_path       @PREFIX@/tmp/proxy;
    fastcgi_temp_path     @PREFIX@/tmp/fastcgi;
    uwsgi_temp_path       @PREFIX@/tmp/uwsgi;
    scgi_temp_path        @PREFIX@/tmp/scgi;
    keepalive_requests 100000;

    # The module: its Lua files, and its C core built for LuaJIT.
    lua_package_path "@ROOT@/lua/?.lua;@ROOT@/lua/?/init.lua;@ROOT@/?.lua;;";
    lua_package_cpath "@CPATH@/?.so;;";
    lua_shared_dict acedata_results 1m;
    lua_socket_log_errors off;
    @TLS_CA@
    @HTTP_EXTRA@

    init_by_lua_block {
        require("spec.helpers.nginx_handlers").init { mock_url = "@MOCK_URL@" }
    }

    server {
        listen 127.0.0.1:@PORT@;

        location /app/ {
            content_by_lua_block { require("spec.helpers.nginx_handlers").route() }
        }
        location = /phase/set {
            set_by_lua_block $phase_error { return require("spec.helpers.nginx_handlers").in_set_phase() }
            content_by_lua_block { ngx.say(ngx.var.phase_error) }
        }
        location = /phase/log {
            content_by_lua_block { ngx.say("ok") }
            log_by_lua_block { require("spec.helpers.nginx_handlers").in_log_phase() }
        }
        # The mock again, re-framed: chunked (no Content-Length), or delimited by closing.
        location /chunked/ {
            proxy_pass @MOCK_URL@/;
            proxy_http_version 1.1;
            proxy_set_header Connection "";
            header_filter_by_lua_block { ngx.header["Content-Length"] = nil }
        }
        location /close/ {
            proxy_pass @MOCK_URL@/;
            chunked_transfer_encoding off;
            keepalive_timeout 0;
            header_filter_by_lua_block { ngx.header["Content-Length"] = nil }
        }
        @SERVER_EXTRA@
        location = /phase/header_filter {
            content_by_lua_block { ngx.say("ok") }
            header_filter_by_lua_block { require("spec.helpers.nginx_handlers").in_header_filter_phase() }
        }
    }
@TLS_SERVER@
}
]]
  local values = { PREFIX = o.prefix, ROOT = o.root, CPATH = o.cpath, MOCK_URL = o.mock_url,
    PORT = tostring(o.port), TLS_CA = "", TLS_SERVER = "", SERVER_EXTRA = o.server_extra or "",
    HTTP_EXTRA = o.http_extra or "" }
  if o.tls then
    values.TLS_CA = "lua_ssl_trusted_certificate " .. o.tls.trusted .. ";\n    lua_ssl_verify_depth 2;"
    -- A TLS front for the mock, so the cosocket transport is checked over https too.
    -- On bad_port, a self-signed certificate no trusted CA signed: verification must fail.
    local servers = {}
    for _, s in ipairs { { o.tls.port, o.tls.cert, o.tls.key }, { o.tls.bad_port, o.tls.bad_cert, o.tls.bad_key } } do
      servers[#servers + 1] = table.concat({
        "    server {",
        "        listen 127.0.0.1:" .. s[1] .. " ssl;",
        "        ssl_certificate     " .. s[2] .. ";",
        "        ssl_certificate_key " .. s[3] .. ";",
        "        location / {",
        "            proxy_pass " .. o.mock_url .. ";",
        "            proxy_http_version 1.1;",
        "            proxy_set_header Connection \"\";",
        "        }",
        "    }",
      }, "\n")
    end
    values.TLS_SERVER = table.concat(servers, "\n")
  end
  local text = table.concat(lines, "\n")
  return (text:gsub("@([%u_]+)@", values))
end

--- A CA and a server certificate for 127.0.0.1 (SAN IP and DNS 127.0.0.1), plus an untrusted
-- self-signed one, made with openssl into `dir`.
function nginx_app.make_tls(dir)
  sh("mkdir -p " .. shell_quote(dir))
  local ok = sh("(" .. table.concat({
    "cd " .. shell_quote(dir),
    "openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj /CN=acedata-test-ca -keyout ca.key -out ca.pem",
    "openssl req -newkey rsa:2048 -nodes -subj /CN=127.0.0.1 -keyout server.key -out server.csr",
    "printf 'subjectAltName=IP:127.0.0.1,DNS:127.0.0.1\\nbasicConstraints=CA:FALSE\\n' > ext.cnf",
    "openssl x509 -req -in server.csr -CA ca.pem -CAkey ca.key -CAcreateserial -days 2 -extfile ext.cnf -out server.pem",
    -- a self-signed certificate that no trusted CA signed
    "openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj /CN=other-ca -keyout other.key -out other.pem",
  }, " && ") .. ") >/dev/null 2>&1")
  assert(ok, "openssl failed to make test certificates")
  return { trusted = dir .. "/ca.pem", cert = dir .. "/server.pem", key = dir .. "/server.key",
    bad_cert = dir .. "/other.pem", bad_key = dir .. "/other.key" }
end

local function pid_alive(pid)
  return pid and sh("kill -0 " .. pid .. " 2>/dev/null")
end

--- Starts nginx. opts: mock_url (required), env (name -> value for nginx's environment),
-- tls (from make_tls: adds TLS fronts of the mock on tls.port and tls.bad_port),
-- server_extra (nginx directives added to the server block, e.g. a location from the README),
-- http_extra (directives added to the http block, e.g. a lua_shared_dict),
-- ready_timeout (s, default 5).
function nginx_app.start(opts)
  local root = opts.root or nginx_app.root()
  local cpath = nginx_app.build(root)
  local app
  for _ = 1, 5 do                              -- a free port can be taken before nginx binds it
    local port = nginx_app.free_port()
    local prefix = root .. "/.tmp/openresty-" .. port
    assert(sh("mkdir -p " .. shell_quote(prefix .. "/conf") .. " " .. shell_quote(prefix .. "/logs")
      .. " " .. shell_quote(prefix .. "/tmp")))
    if opts.tls then opts.tls.port, opts.tls.bad_port = nginx_app.free_port(), nginx_app.free_port() end
    write_file(prefix .. "/conf/nginx.conf", render {
      prefix = prefix, root = root, cpath = cpath, port = port, mock_url = opts.mock_url,
      env = opts.env, tls = opts.tls, server_extra = opts.server_extra, http_extra = opts.http_extra,
    })
    write_file(prefix .. "/logs/error.log", "")
    local envfile = child.env_file(prefix .. "/conf/env.sh", opts.env)
    -- LD_PRELOAD (a sanitizer run of the suite) must not reach nginx.
    local started = sh("sh -c '. \"$0\"; exec env -u LD_PRELOAD -u ASAN_OPTIONS -u UBSAN_OPTIONS "
      .. "nginx -p \"$1/\" -c \"$1/conf/nginx.conf\" -e \"$1/logs/error.log\"' "
      .. shell_quote(envfile) .. " " .. shell_quote(prefix) .. " 2> " .. shell_quote(prefix .. "/logs/start.err"))
    os.remove(envfile)
    if started then
      app = setmetatable({ port = port, prefix = prefix, url = "http://127.0.0.1:" .. port, root = root,
        tls = opts.tls }, App)
      break
    end
    local err = read_file(prefix .. "/logs/start.err") or ""
    if not err:find("Address already in use", 1, true) then error("nginx did not start: " .. err) end
  end
  assert(app, "nginx did not start: no free port")
  local deadline = socket.gettime() + (opts.ready_timeout or 5)
  while socket.gettime() < deadline do
    app.pid = tonumber((read_file(app.prefix .. "/pid") or ""):match("%d+"))
    if app.pid then
      local status, body = app:get("/app/fast", 1)
      if status == 200 then
        app.worker_pid = tonumber(body:match('"pid":(%d+)'))
        return app
      end
    end
    socket.sleep(0.05)
  end
  local log = read_file(app.prefix .. "/logs/error.log") or ""
  app:stop()
  error("nginx did not answer within the ready timeout; error.log:\n" .. log)
end

--- Parses one HTTP/1.x response (the whole bytes of a Connection: close exchange).
local function parse_response(raw)
  local status = tonumber(raw:match("^HTTP/1%.%d (%d%d%d)"))
  local head_end = raw:find("\r\n\r\n", 1, true)
  if not status or not head_end then return nil, raw end
  local head, body = raw:sub(1, head_end), raw:sub(head_end + 4)
  if head:lower():find("\ntransfer%-encoding:%s*chunked") then
    local out, pos = {}, 1
    while true do
      local size_hex, after = body:match("^(%x+)[^\r\n]*\r\n()", pos)
      local size = size_hex and tonumber(size_hex, 16)
      if not size or size == 0 then break end
      out[#out + 1] = body:sub(after, after + size - 1)
      pos = after + size + 2
    end
    body = table.concat(out)
  end
  return status, body
end

--- One GET; returns status, body, seconds (or nil, message).
function App:get(path, timeout)
  local answers = self:fire({ path }, timeout or 10)
  local a = answers[1]
  if not a.status then return nil, a.error end
  return a.status, a.body, a.seconds
end

--- Sends every request at once, each on its own connection (Connection: close), without
-- waiting for answers. Returns a batch for App:collect.
function App:send(paths)
  local batch = {}
  for i, path in ipairs(paths) do
    local r = { parts = {}, path = path }
    batch[i] = r
    r.started = socket.gettime()
    local c = socket.tcp()
    c:settimeout(1)
    local ok, err = c:connect("127.0.0.1", self.port)
    if ok then
      ok, err = c:send("GET " .. path .. " HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n")
    end
    if ok then
      c:settimeout(0)
      r.sock = c
    else
      r.error = tostring(err)
      c:close()
    end
  end
  return batch
end

--- Reads the answers of a batch as they come (socket.select), bounded by `timeout` seconds in
-- all. Returns the batch, each entry now { status, body, seconds (connect to last byte),
-- done_at (socket.gettime()) }, or { error = "…" } for one that failed or did not finish in time.
function App.collect(_, batch, timeout)
  local deadline = socket.gettime() + (timeout or 5)
  local by_sock, open = {}, {}
  for _, r in ipairs(batch) do
    if r.sock then by_sock[r.sock] = r; open[#open + 1] = r.sock end
  end
  while #open > 0 do
    local left = deadline - socket.gettime()
    if left <= 0 then break end
    local readable = socket.select(open, nil, math.min(left, 0.5))
    for _, c in ipairs(readable) do
      local r = by_sock[c]
      local data, err, partial = c:receive(65536)
      data = data or partial
      if data and #data > 0 then r.parts[#r.parts + 1] = data end
      if err == "closed" then
        r.done_at = socket.gettime()
        r.seconds = r.done_at - r.started
        r.status, r.body = parse_response(table.concat(r.parts))
        if not r.status then r.error = "bad response: " .. tostring(r.body):sub(1, 200) end
        c:close()
        r.sock, by_sock[c] = nil, nil
        for j = #open, 1, -1 do if open[j] == c then table.remove(open, j) end end
      end
    end
  end
  for _, c in ipairs(open) do
    by_sock[c].error = "no complete answer within " .. (timeout or 5) .. " s"
    by_sock[c].sock = nil
    c:close()
  end
  return batch
end

--- App:send then App:collect.
function App:fire(paths, timeout)
  return self:collect(self:send(paths), timeout)
end

--- The error log (for failure messages).
function App:error_log()
  return read_file(self.prefix .. "/logs/error.log") or ""
end

--- Stops nginx by pid (QUIT, then TERM, then KILL; bounded), worker included.
function App:stop()
  local pids = { self.pid, self.worker_pid }
  if self.pid then sh("kill -QUIT " .. self.pid .. " 2>/dev/null") end
  for _, sig in ipairs { "QUIT", "TERM", "KILL" } do
    local deadline = socket.gettime() + 3
    while socket.gettime() < deadline and (pid_alive(pids[1]) or pid_alive(pids[2])) do socket.sleep(0.05) end
    if not (pid_alive(pids[1]) or pid_alive(pids[2])) then break end
    for _, pid in ipairs(pids) do
      if pid_alive(pid) then sh("kill -" .. sig .. " " .. pid .. " 2>/dev/null") end
    end
  end
  self.pid, self.worker_pid = nil, nil
end

--- min, median, max of a list of numbers.
function nginx_app.summary(xs)
  local s = {}
  for i, x in ipairs(xs) do s[i] = x end
  table.sort(s)
  local n = #s
  local median = n % 2 == 1 and s[(n + 1) / 2] or (s[n / 2] + s[n / 2 + 1]) / 2
  return s[1], median, s[n]
end

return nginx_app
