--- HTTP over nginx cosockets, for the ngx runtime (acedata.runtime.ngx): one HTTP/1.1 exchange,
-- so a request never blocks the worker. It only does HTTP: the body comes back as a response
-- (acedata.runtime.response) that the request layer decodes with the C decoder.
--
-- Connections go back to nginx's pool with `setkeepalive` (one pool per origin and verification
-- mode); TLS uses `sslhandshake` with verification (the CAs come from nginx's
-- `lua_ssl_trusted_certificate`; `ca_file` is not used here); waits use `ngx.sleep`. Redirects are
-- followed (at most 5) as the curl transport does, dropping `Authorization` when the origin
-- changes. Responses are asked for compressed (gzip or deflate) and inflated with zlib
-- (`core.inflate`, at most `max_body` bytes once inflated).
--
-- Cosockets exist only in some of nginx's phases (rewrite, access, content, timers, some ssl_*):
-- elsewhere (init, init_worker, set, header/body filters, log, balancer) a request raises an
-- error that says so and names the fix: run it from `ngx.timer.at`.
-- @module acedata.transport.ngx

local core = require "acedata.core"
local response = require "acedata.runtime.response"

local ngx = ngx  -- luacheck: ignore (read global of OpenResty; nil outside it)

local transport = {}
transport.__index = transport

--- Phases in which cosockets exist (ngx_lua's documentation, "Context" of ngx.socket.tcp).
local COSOCKET_PHASES = {
  rewrite = true, access = true, content = true, timer = true,
  ssl_cert = true, ssl_session_fetch = true, ssl_client_hello = true,
}

local POOL_SIZE = 32
local KEEPALIVE_MS = 60000
local MAX_HEADER_LINES = 200
local MAX_INTERIM = 5            -- 1xx responses skipped before the real one
local MAX_REDIRECTS = 5
local DEFAULT_MAX_BODY = 268435456
local READ_CHUNK = 65536
local REDIRECT = { [301] = true, [302] = true, [303] = true, [307] = true, [308] = true }

local function check_phase()
  local phase = ngx.get_phase()
  if not COSOCKET_PHASES[phase] then
    error("acedata: cannot make a request in nginx's " .. phase .. " phase (no cosockets there); "
      .. "run it from a timer instead: ngx.timer.at(0, function() … end)", 0)
  end
end

--- Opens a transport. Raises outside OpenResty.
function transport.new(cfg)
  if not (ngx and ngx.socket and ngx.socket.tcp and ngx.get_phase) then
    error("acedata: runtime \"ngx\" works only inside OpenResty / ngx_lua (no ngx.socket here)", 0)
  end
  return setmetatable({ cfg = cfg }, transport)
end

--- scheme, host (IPv6 literals keep their brackets), port, path-and-query; nil when unparseable.
local function parse_url(url)
  local scheme, host, port, path = url:match("^(https?)://([^/:?#%[%]]+):?(%d*)([^#]*)$")
  if not scheme then
    scheme, host, port, path = url:match("^(https?)://(%[[^%]]+%]):?(%d*)([^#]*)$")
  end
  if not scheme then return nil end
  if path == "" or path:sub(1, 1) == "?" then path = "/" .. path end
  port = tonumber(port) or (scheme == "https" and 443 or 80)
  return scheme, host:lower(), port, path
end

local function origin(scheme, host, port)
  return scheme .. "://" .. host .. ":" .. port
end

--- The absolute URL a Location header points to, from the URL that answered.
local function resolve(base, location)
  if location:find("^https?://") then return location end
  local scheme, host, port = parse_url(base)
  if location:sub(1, 2) == "//" then return scheme .. ":" .. location end
  local root = scheme .. "://" .. host .. ":" .. port
  if location:sub(1, 1) == "/" then return root .. location end
  local path = base:match("^https?://[^/]+(/[^?#]*)") or "/"
  return root .. path:gsub("[^/]*$", "") .. location
end

local function remaining_ms(deadline)
  return math.floor((deadline - core.now()) * 1000)
end

local function classify(err)
  if err == "timeout" then return "timeout" end
  return "network"
end

local function too_big(max_body)
  return "response body larger than " .. max_body .. " bytes"
end

--- Reads a chunked body. Returns body or nil, message.
local function read_chunked(sock, max_body)
  local parts, total = {}, 0
  while true do
    local line, err = sock:receive("*l")
    if not line then return nil, err end
    local hex = line:match("^%s*(%x+)%s*[;]?")
    local size = hex and #hex <= 15 and tonumber(hex, 16)
    if not size then return nil, "bad chunk size line" end
    if size == 0 then
      for _ = 1, MAX_HEADER_LINES do   -- trailers, up to the empty line
        line, err = sock:receive("*l")
        if not line then return nil, err end
        if line == "" then return table.concat(parts) end
      end
      return nil, "too many trailer lines"
    end
    total = total + size
    if total > max_body then return nil, too_big(max_body) end
    local data
    data, err = sock:receive(size)
    if not data then return nil, err end
    parts[#parts + 1] = data
    line, err = sock:receive("*l")
    if not line then return nil, err end
    if line ~= "" then return nil, "missing CRLF after a chunk" end
  end
end

--- Reads until the server closes the connection.
local function read_to_close(sock, max_body)
  local parts, total = {}, 0
  while true do
    local data, err = sock:receiveany(READ_CHUNK)
    if not data then
      if err == "closed" then return table.concat(parts) end
      return nil, err
    end
    total = total + #data
    if total > max_body then return nil, too_big(max_body) end
    parts[#parts + 1] = data
  end
end

--- Reads the body as the headers describe it. Returns body, reusable (the connection may be
-- kept), or nil, message.
local function read_body(sock, status, headers, max_body)
  if status == 204 or status == 304 then return "", true end
  local te = headers["transfer-encoding"]
  if te and te:lower():find("chunked", 1, true) then
    local body, err = read_chunked(sock, max_body)
    return body, body and true, err
  end
  local cl = headers["content-length"]
  if cl then
    local len = cl:match("^%d+$") and tonumber(cl)
    if not len then return nil, nil, "bad Content-Length" end
    if len > max_body then return nil, nil, too_big(max_body) end
    if len == 0 then return "", true end
    local body, err = sock:receive(len)
    return body, body and true, err
  end
  local body, err = read_to_close(sock, max_body)
  return body, false, err
end

--- Status line and headers, skipping 1xx interim responses.
local function read_head(sock)
  for _ = 0, MAX_INTERIM do
    local line, err = sock:receive("*l")
    if not line then return nil, err end
    local minor, status = line:match("^HTTP/1%.([01]) (%d%d%d)")
    status = tonumber(status)
    if not status then return nil, "bad status line" end
    local headers, done = {}, false
    for _ = 1, MAX_HEADER_LINES do
      line, err = sock:receive("*l")
      if not line then return nil, err end
      if line == "" then done = true break end
      local name, value = line:match("^([^:%s]+):%s*(.-)%s*$")
      if name then headers[name:lower()] = value end
    end
    if not done then return nil, "more than " .. MAX_HEADER_LINES .. " header lines" end
    if status >= 200 then return status, headers, minor end
  end
  return nil, "too many interim (1xx) responses"
end

--- One request/response on one connection. Returns status, headers, body | nil, terr.
local function exchange(self, url, header_lines, deadline)
  local cfg = self.cfg
  local scheme, host, port, path = parse_url(url)
  if not scheme then return nil, { kind = "network", message = "cannot parse URL " .. url } end
  local where = host .. ":" .. port
  local left = remaining_ms(deadline)
  if left <= 0 then return nil, { kind = "timeout", message = "timed out before connecting to " .. where } end

  local sock = ngx.socket.tcp()
  sock:settimeouts(math.max(1, math.min(math.floor(cfg.connect_timeout * 1000), left)), left, left)
  -- One pool per origin and verification mode: a connection verified differently is never reused.
  local pool = "acedata " .. origin(scheme, host, port)
  if scheme == "https" then pool = pool .. (cfg.ssl_verify and " verify" or " noverify") end
  local ok, err = sock:connect(host, port, { pool = pool, pool_size = POOL_SIZE })
  if not ok then
    local msg = "connect to " .. where .. ": " .. tostring(err)
    if tostring(err):find("no resolver defined", 1, true) then
      msg = msg .. " (add a resolver directive to nginx.conf, e.g. \"resolver 127.0.0.53;\")"
    end
    return nil, { kind = classify(err), message = msg }
  end
  if scheme == "https" and sock:getreusedtimes() == 0 then
    ok, err = sock:sslhandshake(false, (host:gsub("^%[(.*)%]$", "%1")), cfg.ssl_verify)
    if not ok then
      sock:close()
      local msg = "TLS handshake with " .. where .. ": " .. tostring(err)
      if cfg.ssl_verify and tostring(err):find("certificate", 1, true) then
        msg = msg .. " (nginx takes the CAs from lua_ssl_trusted_certificate)"
      end
      return nil, { kind = classify(err) == "timeout" and "timeout" or "tls", message = msg }
    end
  end

  local default_port = (scheme == "https" and port == 443) or (scheme == "http" and port == 80)
  local req = { "GET ", path, " HTTP/1.1\r\nHost: ", host, default_port and "" or (":" .. port),
    "\r\nUser-Agent: ", cfg.full_user_agent, "\r\nAccept-Encoding: gzip, deflate\r\nConnection: keep-alive\r\n" }
  for _, line in ipairs(header_lines or {}) do
    -- The Lua layer checks values first; this is the backstop against a forged header.
    if type(line) ~= "string" or line:find("[%z\r\n]") then
      sock:close()
      error("acedata: a header line must be a string without NUL, CR or LF", 4)
    end
    req[#req + 1] = line
    req[#req + 1] = "\r\n"
  end
  req[#req + 1] = "\r\n"
  left = remaining_ms(deadline)
  if left <= 0 then sock:close() return nil, { kind = "timeout", message = "timed out sending to " .. where } end
  sock:settimeouts(1000, left, left)
  ok, err = sock:send(req)
  if not ok then sock:close() return nil, { kind = classify(err), message = "send to " .. where .. ": " .. err } end

  local status, headers, minor = read_head(sock)
  if not status then
    sock:close()
    return nil, { kind = classify(headers), message = "reading the response from " .. where .. ": " .. tostring(headers) }
  end
  left = remaining_ms(deadline)
  if left <= 0 then sock:close() return nil, { kind = "timeout", message = "timed out reading from " .. where } end
  sock:settimeouts(1000, left, left)
  local body, reusable, berr = read_body(sock, status, headers, cfg.max_body or DEFAULT_MAX_BODY)
  if not body then
    sock:close()
    return nil, { kind = classify(berr), message = "reading the response body from " .. where .. ": " .. tostring(berr) }
  end
  local conn = (headers["connection"] or ""):lower()
  local keep = reusable and not conn:find("close", 1, true)
    and (minor == "1" or conn:find("keep-alive", 1, true) ~= nil)
  if keep then sock:setkeepalive(KEEPALIVE_MS, POOL_SIZE) else sock:close() end
  return status, headers, body
end

--- The body as sent, inflated when Content-Encoding says so. nil, terr for an encoding this
-- transport did not ask for, or data that does not inflate.
local function inflated(body, headers, max_body)
  local enc = headers["content-encoding"]
  if enc == nil then return body end
  local name = enc:lower():match("^%s*(.-)%s*$")
  if name == "" or name == "identity" then return body end
  if name == "x-gzip" then name = "gzip" end
  if name ~= "gzip" and name ~= "deflate" then
    return nil, { kind = "network", message = "response in an unsupported Content-Encoding: " .. enc }
  end
  local plain, err = core.inflate(body, name, max_body)
  if not plain then return nil, { kind = "network", message = "reading the response body: " .. err } end
  return plain
end

--- Header lines without Authorization (for a redirect to another origin).
local function without_auth(lines)
  local out = {}
  for _, line in ipairs(lines or {}) do
    if not line:lower():find("^authorization%s*:") then out[#out + 1] = line end
  end
  return out
end

--- One GET attempt: a response (acedata.runtime.response), or nil and
-- `{kind = "network"|"timeout"|"tls", message = …}`. `timeout`: seconds for this attempt.
function transport:get(url, header_lines, timeout)
  check_phase()
  local deadline = core.now() + (timeout or self.cfg.timeout)
  for _ = 0, MAX_REDIRECTS do
    local status, headers, body = exchange(self, url, header_lines, deadline)
    if not status then return nil, headers end
    local location = REDIRECT[status] and headers.location
    if not location then
      local plain, ierr = inflated(body, headers, self.cfg.max_body or DEFAULT_MAX_BODY)
      if not plain then return nil, ierr end
      return response.from_string(status, headers, plain)
    end
    local next_url = resolve(url, location)
    local s1, h1, p1 = parse_url(url)
    local s2, h2, p2 = parse_url(next_url)
    if not s2 then
      return nil, { kind = "network", message = "redirect to an unsupported URL (only http and https are followed)" }
    end
    if origin(s1, h1, p1) ~= origin(s2, h2, p2) then header_lines = without_auth(header_lines) end
    url = next_url
  end
  return nil, { kind = "network", message = "more than " .. MAX_REDIRECTS .. " redirects" }
end


return transport
