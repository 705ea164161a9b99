--- Sending responses: JSON bodies, error forms, and the body-level faults
-- (reset_mid_body, short_body, malformed, stall_mid_body) applied to the real body.

local dataset = require "mock.dataset"
local state = require "mock_state"

local respond = {}

local floor = math.floor

local function set_headers(status, headers)
  ngx.status = status
  ngx.header["Content-Type"] = "application/json"
  if headers then
    for k, v in pairs(headers) do ngx.header[k] = v end
  end
  ngx.ctx.status = status
end

-- Body faults send a fixed number of bytes: keep gzip out of them.
local function no_gzip()
  ngx.req.clear_header("Accept-Encoding")
end

local function send_with_fault(fault, body)
  local kind = fault.fault
  local half = floor(#body / 2)
  ngx.ctx.fault_applied = kind
  no_gzip()
  if kind == "malformed" then
    local bad = body:sub(1, half) .. " <html>oops</html>"
    ngx.header["Content-Length"] = #bad
    ngx.print(bad)
    return
  elseif kind == "reset_mid_body" then
    ngx.header["Content-Length"] = #body
    ngx.print(body:sub(1, half))
    ngx.flush(true)
    return ngx.exit(ngx.ERROR) -- closes the connection at once
  elseif kind == "short_body" then
    ngx.header["Content-Length"] = #body + (fault.missing or 100)
    ngx.print(body)
    ngx.flush(true)
    return ngx.exit(ngx.ERROR)
  elseif kind == "stall_mid_body" then
    ngx.header["Content-Length"] = #body
    ngx.print(body:sub(1, half))
    ngx.flush(true)
    ngx.sleep(fault.delay or 1)
    ngx.print(body:sub(half + 1))
    return
  end
  error("not a body fault: " .. tostring(kind))
end

--- Send `body` (a JSON text) with `status` and extra headers. A pending body fault of this
-- request (ngx.ctx.body_fault) is applied here, to the body the route would have sent.
function respond.send(status, body, headers)
  set_headers(status, headers)
  if state.config.gzip == false then no_gzip() end   -- POST /__mock/config {"gzip": false}
  local fault = ngx.ctx.body_fault
  if fault then
    ngx.ctx.body_fault = nil
    return send_with_fault(fault, body)
  end
  ngx.header["Content-Length"] = #body
  ngx.print(body)
end

--- Send a Lua table as JSON.
function respond.json(status, value, headers)
  return respond.send(status, dataset.to_json(value), headers)
end

--- `{"detail": message}` (DRF's default error form).
function respond.detail(status, message, headers)
  return respond.json(status, { detail = message }, headers)
end

--- `{"error": {"code": code, "message": message}}` (the platform's error form).
function respond.error(status, code, message, headers)
  return respond.json(status, { error = { code = code, message = message } }, headers)
end

return respond
