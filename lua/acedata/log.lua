--- Seeing what happens: one log line per attempt, and the same facts as a table for metrics.
--
-- Turned on by `ACEDATA_LOG=debug|info` (lines go to stderr) or by the client options
-- `log = function(line) … end` (every line, as with debug) and `on_response = function(info) … end`.
--
--    debug  every attempt, and every wait before a retry
--    info   only what went wrong: failed attempts and the waits before their retries
--
-- A line, for an attempt and for a wait:
--
--    acedata: GET https://platform.acedata.cloud/api/v1/usage/proxies/?limit=100 200 41.3ms attempt=1 request_id=7f…
--    acedata: GET https://…/api/v1/usage/proxies/?limit=100 503 12.0ms attempt=1 request_id=7f… error=server: Service Unavailable
--    acedata: GET https://…/api/v1/usage/proxies/?limit=100 retry in 0.250s after attempt=1 (server, HTTP 503)
--
-- `on_response(info)` is called after every attempt with
--
--    { event = "response", method = "GET", url = "…", status = 200 | nil, ms = 41.2, attempt = 1,
--      request_id = "…" | nil, kind = nil | "server" | "network" | "proxy" | …, error = nil | "…" }
--
-- and before every wait with `{ event = "retry", method, url, attempt, wait = seconds, kind,
-- status }`. Nothing logged holds the token or a password of a URL (`user:password@`, e.g. of a
-- proxy): every string goes through `log.redact`. A log or on_response function that raises does
-- not break the request: the error is dropped.
-- @module acedata.log

local errors = require "acedata.errors"

local log = {}

--- Level names -> numbers (a line of level n is written when the client's level is >= n).
log.LEVELS = { off = 0, info = 1, debug = 2 }

--- The level for a value of `ACEDATA_LOG` (nil or "" is off), or nil and a message.
-- @tparam string|nil value
-- @treturn integer|nil
-- @treturn string|nil message
function log.parse_level(value)
  if value == nil or value == "" then return 0 end
  local level = log.LEVELS[value:lower()]
  if level then return level end
  return nil, "ACEDATA_LOG must be debug, info or off, got " .. string.format("%q", value)
end

--- `s` without `secret` and without the password of any URL in it (`scheme://user:pw@` ->
-- `scheme://[REDACTED]@`).
-- @tparam string s
-- @tparam[opt] string secret
-- @treturn string
function log.redact(s, secret)
  if type(s) ~= "string" then return s end
  s = errors.redact(s, secret)
  return (s:gsub("(%a[%w+.-]*://)[^/@%s]*@", "%1[REDACTED]@"))
end

--- A line on stderr (the writer `ACEDATA_LOG` installs).
function log.stderr(line)
  io.stderr:write(line, "\n")
end

local function ms_text(ms)
  return string.format("%.1fms", ms)
end

--- The text of one event (see the module doc).
-- @tparam table info
-- @treturn string
function log.line(info)
  local parts = { "acedata:", info.method or "GET", info.url or "?" }
  if info.event == "retry" then
    parts[#parts + 1] = string.format("retry in %.3fs after attempt=%d", info.wait, info.attempt)
    if info.kind then
      parts[#parts + 1] = "(" .. info.kind .. (info.status and (", HTTP " .. info.status) or "") .. ")"
    end
    return table.concat(parts, " ")
  end
  parts[#parts + 1] = info.status and tostring(info.status) or "-"
  parts[#parts + 1] = ms_text(info.ms or 0)
  parts[#parts + 1] = "attempt=" .. tostring(info.attempt)
  if info.request_id then parts[#parts + 1] = "request_id=" .. info.request_id end
  if info.kind then parts[#parts + 1] = "error=" .. info.kind .. (info.error and (": " .. info.error) or "") end
  return (table.concat(parts, " "):gsub("[%z\1-\31\127]", " "))
end

-- Calls fn(arg), dropping what it raises (a broken metrics hook must not fail the request).
local function call(fn, arg)
  pcall(fn, arg)
end

local function emit(cfg, info, level)
  if cfg.log and (cfg.log_level or 2) >= level then call(cfg.log, log.line(info)) end
  if cfg.on_response then call(cfg.on_response, info) end
end

--- Reports one attempt (called by acedata.request after each attempt).
-- @tparam table client the client (its `cfg`)
-- @tparam table ctx the request's context (`url`, `attempts`, `secret`)
-- @tparam number started `t:now()` before the attempt
-- @tparam number finished `t:now()` after it
-- @tparam[opt] table res the transport's response (nil on a transport failure)
-- @tparam[opt] table err the attempt's error (nil on success)
-- @treturn table|nil the info table, when anyone listens
function log.attempt(client, ctx, started, finished, res, err)
  local cfg = client.cfg
  if not cfg.log and not cfg.on_response then return nil end
  local h = res and res.headers or {}
  local info = {
    event = "response", method = "GET", url = log.redact(ctx.url, ctx.secret),
    status = res and res.status or (err and err.status) or nil, ms = (finished - started) * 1000,
    attempt = ctx.attempts, request_id = log.redact(h["x-request-id"] or h["request-id"], ctx.secret),
    kind = err and err.kind or nil, error = err and log.redact(err.message, ctx.secret) or nil,
  }
  emit(cfg, info, err and 1 or 2)
  return info
end

--- Reports the wait before the next attempt (called by acedata.request before it sleeps).
-- @tparam table client
-- @tparam table ctx
-- @tparam number wait seconds
-- @tparam[opt] table err the error that is retried
function log.retry(client, ctx, wait, err)
  local cfg = client.cfg
  if not cfg.log and not cfg.on_response then return end
  emit(cfg, {
    event = "retry", method = "GET", url = log.redact(ctx.url, ctx.secret), attempt = ctx.attempts,
    wait = wait, kind = err and err.kind or nil, status = err and err.status or nil,
  }, 1)
end

return log
