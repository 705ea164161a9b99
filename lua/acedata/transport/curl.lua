--- The default transport: one blocking HTTP exchange through libcurl (acedata.core).
--
-- A transport does exactly one attempt; retries, paging and error mapping live in
-- acedata.request. Interface shared by every transport:
--
--    t = transport.new(cfg)
--    res, terr = t:get(url, header_lines [, timeout [, decode_opts]])
--      timeout: seconds for this attempt (what is left of a deadline, when less than the client's
--      timeout; a transport may ignore it); decode_opts: options for core.decode (`fields`; a
--      transport may ignore them: they only save work)
--      res  = { status = 200, headers = { ["x-request-id"] = "…" }, body = <decoded JSON or nil>,
--               decode_error = "… at byte N" | nil }
--      terr = { kind = "network"|"timeout"|"tls"|"proxy", message = "…",
--               status = <the proxy's answer to CONNECT, kind "proxy" only, or nil> }
--    t:sleep(seconds); t:now() -> monotonic seconds; t:close()
-- @module acedata.transport.curl

local core = require "acedata.core"

local transport = {}
transport.__index = transport

--- Opens a transport (one libcurl handle whose connection is kept alive).
-- @tparam table cfg client options
function transport.new(cfg)
  local session = core.session {
    timeout = cfg.timeout,
    connect_timeout = cfg.connect_timeout,
    ssl_verify = cfg.ssl_verify,
    ca_file = cfg.ca_file,
    user_agent = cfg.full_user_agent,
    max_body = cfg.max_body,
  }
  return setmetatable({ session = session }, transport)
end

--- One GET; `timeout` (seconds, optional) replaces the client's for this attempt only;
-- `decode_opts` (optional) are core.decode's options for the body.
function transport:get(url, headers, timeout, decode_opts)
  local s = self.session
  local status, hdrs, message, _, proxy_status = s:get(url, headers, timeout)
  if not status then
    return nil, { kind = hdrs, message = message, status = proxy_status }
  end
  local body, decode_error = s:decode(decode_opts)
  return { status = status, headers = hdrs, body = body, decode_error = decode_error }
end

transport.sleep = function(_, seconds) core.sleep(seconds) end
transport.now = function() return core.now() end

function transport:close()
  self.session:close()
end

return transport
