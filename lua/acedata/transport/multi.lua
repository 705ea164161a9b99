--- A transport over libcurl's multi interface: `get` waits through a loop (acedata.loop.*), so
-- many requests can be in flight at once (concurrent paging) or an event loop never blocks
-- (Neovim). Same interface as acedata.transport.curl.
-- @module acedata.transport.multi

local core = require "acedata.core"

local transport = {}
transport.__index = transport

--- Opens a transport on `loop`, whose `multi` carries the requests.
-- @tparam table cfg client options (unused: the loop's multi was made with them)
-- @tparam table loop an acedata loop with a `multi`
function transport.new(cfg, loop)
  return setmetatable({ cfg = cfg, loop = loop }, transport)
end

--- The options of core.multi / core.session for a client's options.
function transport.curl_options(cfg)
  return {
    timeout = cfg.timeout, connect_timeout = cfg.connect_timeout, ssl_verify = cfg.ssl_verify,
    ca_file = cfg.ca_file, user_agent = cfg.full_user_agent, max_body = cfg.max_body,
  }
end

--- One GET; yields to the loop until it is done.
function transport:get(url, headers, timeout, decode_opts)
  local req = self.loop.multi:add(url, headers, timeout)
  self.loop:wait_request(req)
  if req:state() ~= "done" then
    return nil, { kind = "network", message = "request cancelled" }
  end
  local status, hdrs, message, _, proxy_status = req:result()
  if not status then return nil, { kind = hdrs, message = message, status = proxy_status } end
  local body, decode_error = req:decode(decode_opts)
  return { status = status, headers = hdrs, body = body, decode_error = decode_error }
end

function transport:sleep(seconds) self.loop:sleep(seconds) end
function transport.now() return core.now() end
--- Closes the multi, through the loop when it has handles of its own to close (luv).
function transport:close()
  if self.loop.close then self.loop:close() else self.loop.multi:close() end
end

return transport
