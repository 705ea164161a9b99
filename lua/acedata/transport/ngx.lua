--- The OpenResty transport: one HTTP/1.1 exchange over an nginx cosocket, so a request never
-- blocks the worker. Picked automatically inside ngx_lua (or with `transport = "ngx"`).
--
-- Connections go back to nginx's pool with `setkeepalive`; TLS uses `sslhandshake` with
-- verification (the CAs come from nginx's `lua_ssl_trusted_certificate`); waits use `ngx.sleep`.
-- Bodies are decoded by the same C decoder as everywhere else.
-- @module acedata.transport.ngx

local core = require "acedata.core"

local ngx = ngx  -- luacheck: ignore (read global of OpenResty)

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

local function check_phase()
  local phase = ngx.get_phase()
  if not COSOCKET_PHASES[phase] then
    error("acedata: cannot make a request in nginx's " .. phase .. " phase (no cosockets there); "
      .. "run it from a timer instead: ngx.timer.at(0, function() … end)", 4)
  end
end

--- Opens a transport. cfg.ca_file is not used: nginx takes CAs from lua_ssl_trusted_certificate.
function transport.new(cfg)
  return setmetatable({ cfg = cfg }, transport)
end

local function parse_url(url)
  local scheme, host, port, path = url:match("^(https?)://([^/:?#]+):?(%d*)([^#]*)$")
  if not scheme then
    scheme, host, port, path = url:match("^(https?)://(%[[^%]]+%]):?(%d*)([^#]*)$")
  end
  if not scheme then return nil end
  if path == "" then path = "/" end
  port = tonumber(port) or (scheme == "https" and 443 or 80)
  return scheme, host, port, path
end

--- Reads the body: Content-Length, chunked, or until close. Returns body or nil, message.
local function read_body(sock, headers, max_body)
  local te = headers["transfer-encoding"]
  if te and te:lower():find("chunked", 1, true) then
    local parts, total = {}, 0
    while true do
      local line, err = sock:receive("*l")
      if not line then return nil, err end
      local size = tonumber(line:match("^%s*(%x+)"), 16)
      if not size then return nil, "bad chunk size" end
      if size == 0 then
        repeat
          line, err = sock:receive("*l")
          if not line then return nil, err end
        until line == ""
        return table.concat(parts)
      end
      total = total + size
      if total > max_body then return nil, "response body larger than " .. max_body .. " bytes" end
      local data
      data, err = sock:receive(size)
      if not data then return nil, err end
      parts[#parts + 1] = data
      sock:receive(2)
    end
  end
  local len = tonumber(headers["content-length"])
  if len then
    if len > max_body then return nil, "response body larger than " .. max_body .. " bytes" end
    if len == 0 then return "" end
    return sock:receive(len)
  end
  return sock:receive("*a")
end

local function classify(err)
  if err == "timeout" then return "timeout" end
  if type(err) == "string" and (err:find("handshake", 1, true) or err:find("certificate", 1, true)
      or err:find("ssl", 1, true)) then
    return "tls"
  end
  return "network"
end

--- One GET (see acedata.transport.curl for the interface).
function transport:get(url, header_lines)
  check_phase()
  local cfg = self.cfg
  local scheme, host, port, path = parse_url(url)
  if not scheme then return nil, { kind = "network", message = "cannot parse URL " .. url } end
  local deadline = ngx.now() + cfg.timeout
  local sock = ngx.socket.tcp()
  local function remaining_ms()
    ngx.update_time()
    return math.max(1, math.floor((deadline - ngx.now()) * 1000))
  end
  sock:settimeouts(math.floor(cfg.connect_timeout * 1000), remaining_ms(), remaining_ms())
  local pool = scheme .. "://" .. host .. ":" .. port
  local ok, err = sock:connect(host, port, { pool = pool, pool_size = POOL_SIZE })
  if not ok then return nil, { kind = classify(err), message = "connect to " .. host .. ":" .. port .. ": " .. err } end
  if scheme == "https" and sock:getreusedtimes() == 0 then
    local bare_host = host:gsub("^%[(.*)%]$", "%1")
    ok, err = sock:sslhandshake(nil, bare_host, cfg.ssl_verify)
    if not ok then
      sock:close()
      return nil, { kind = "tls", message = "TLS handshake with " .. host .. ": " .. err }
    end
  end

  local req = { "GET ", path, " HTTP/1.1\r\nHost: ", host,
    ((scheme == "https" and port ~= 443) or (scheme == "http" and port ~= 80)) and (":" .. port) or "",
    "\r\nUser-Agent: ", cfg.full_user_agent, "\r\nConnection: keep-alive\r\n" }
  for _, line in ipairs(header_lines) do req[#req + 1] = line; req[#req + 1] = "\r\n" end
  req[#req + 1] = "\r\n"
  sock:settimeouts(math.floor(cfg.connect_timeout * 1000), remaining_ms(), remaining_ms())
  ok, err = sock:send(req)
  if not ok then sock:close() return nil, { kind = classify(err), message = "send: " .. err } end

  local status_line
  status_line, err = sock:receive("*l")
  if not status_line then sock:close() return nil, { kind = classify(err), message = "receive: " .. err } end
  local status = tonumber(status_line:match("^HTTP/1%.[01] (%d%d%d)"))
  if not status then sock:close() return nil, { kind = "network", message = "bad status line" } end
  local headers = {}
  for _ = 1, MAX_HEADER_LINES do
    local line
    line, err = sock:receive("*l")
    if not line then sock:close() return nil, { kind = classify(err), message = "receive: " .. err } end
    if line == "" then break end
    local name, value = line:match("^([^:]+):%s*(.-)%s*$")
    if name then headers[name:lower()] = value end
  end
  sock:settimeouts(math.floor(cfg.connect_timeout * 1000), remaining_ms(), remaining_ms())
  local body
  body, err = read_body(sock, headers, cfg.max_body or 268435456)
  if not body then
    sock:close()
    return nil, { kind = classify(err), message = "receive body: " .. tostring(err) }
  end
  local conn = (headers["connection"] or ""):lower()
  if conn == "close" or (headers["content-length"] == nil and not headers["transfer-encoding"]) then
    sock:close()
  else
    sock:setkeepalive(KEEPALIVE_MS, POOL_SIZE)
  end
  local value, decode_error = core.decode(body)
  return { status = status, headers = headers, body = value, decode_error = decode_error }
end

function transport.sleep(_, seconds) ngx.sleep(seconds) end
function transport.now()
  ngx.update_time()
  return ngx.now()
end
function transport.close() end

return transport
