--- Typed errors: every runtime failure of the module is one of these tables.
--
-- An error is a plain table with a `__tostring`:
--
--    { kind = "server", status = 503, code = "server_error", message = "…",
--      request_id = "…", attempts = 3, url = "https://…", retry_after = 1 }
--
-- `kind` is one of `auth`, `permission`, `not_found`, `bad_request`, `rate_limit`, `server`,
-- `http`, `network`, `timeout`, `tls`, `proxy`, `decode`, and for iterations `drift` (the listing
-- changed in a way offset paging cannot follow: docs/paging.md) and `paging` (the server's pages
-- contradict each other: the same records again, or none before its count). The token never
-- appears in any field, nor the password of a URL (`scheme://user:password@…`, e.g. a proxy's).
--
-- `proxy`: the proxy between us and the API refused: it answered the CONNECT of an https://
-- request with a failure (`status` is the proxy's, e.g. 403 or 407), its name did not resolve,
-- or it answered a plain http:// request with 407 (Proxy Authentication Required). The API never
-- saw the request: it is not retried, and a 407 is never read as the API refusing the token.
-- @module acedata.errors

local errors = {}

local Error = {}
Error.__index = Error

--- Kinds, with the statuses that map to them.
local KIND_BY_STATUS = {
  [400] = "bad_request", [401] = "auth", [403] = "permission", [404] = "not_found",
  [407] = "proxy", [422] = "bad_request", [429] = "rate_limit",
}

--- The kind for an HTTP status that is not a success.
-- @tparam integer status
-- @treturn string
function errors.kind_for_status(status)
  return KIND_BY_STATUS[status] or (status >= 500 and status <= 599 and "server") or "http"
end

--- Replaces every occurrence of `secret` in `s` (plain text, not a pattern).
local function redact(s, secret)
  if type(s) ~= "string" or not secret or secret == "" then return s end
  local out, pos = {}, 1
  while true do
    local i, j = s:find(secret, pos, true)
    if not i then break end
    out[#out + 1] = s:sub(pos, i - 1)
    out[#out + 1] = "[REDACTED]"
    pos = j + 1
  end
  if pos == 1 then return s end
  out[#out + 1] = s:sub(pos)
  return table.concat(out)
end

--- Replaces every occurrence of `secret` in `s` with a placeholder (plain text, not a pattern).
-- @function redact
-- @tparam string s
-- @tparam string secret
-- @treturn string
errors.redact = redact

--- Is `v` an acedata error?
function errors.is(v)
  return getmetatable(v) == Error
end

--- Makes an error from its fields (see the module doc). String fields are redacted of `secret`.
-- @tparam table fields
-- @tparam[opt] string secret the token, to scrub from every string field
-- @return the error
function errors.new(fields, secret)
  local e = {}
  for k, v in pairs(fields) do
    v = redact(v, secret)
    if type(v) == "string" then v = v:gsub("(%a[%w+.-]*://)[^/@%s]*@", "%1[REDACTED]@") end
    e[k] = v
  end
  e.message = e.message or e.kind
  return setmetatable(e, Error)
end

function Error:__tostring()
  local parts = { "acedata: ", self.kind, " error" }
  if self.status then parts[#parts + 1] = " (HTTP " .. self.status .. ")" end
  if self.code then parts[#parts + 1] = " [" .. self.code .. "]" end
  parts[#parts + 1] = ": " .. tostring(self.message)
  if self.retry_after then parts[#parts + 1] = "; retry after " .. self.retry_after .. " s" end
  if self.request_id then parts[#parts + 1] = "; request id " .. self.request_id end
  if self.attempts and self.attempts > 1 then parts[#parts + 1] = "; " .. self.attempts .. " attempts" end
  if self.url then parts[#parts + 1] = "; GET " .. self.url end
  return table.concat(parts)
end

--- Picks the message and code out of an error body: `{"detail": …}` or `{"error": {"code", "message"}}`.
local function from_body(body)
  if type(body) ~= "table" then return nil, nil end
  local e = body.error
  if type(e) == "table" then
    local msg = type(e.message) == "string" and e.message or nil
    local code = type(e.code) == "string" and e.code or nil
    return msg, code
  elseif type(e) == "string" then
    return e, nil
  end
  if type(body.detail) == "string" then return body.detail, type(body.code) == "string" and body.code or nil end
  -- Validation errors in the style of {"limit": ["A valid integer is required."]}
  local keys = {}
  for k, v in pairs(body) do
    if type(k) == "string" and type(v) == "table" and type(v[1]) == "string" then
      keys[#keys + 1] = k .. ": " .. v[1]
    end
  end
  if #keys > 0 then
    table.sort(keys)
    return table.concat(keys, "; "), nil
  end
  return nil, nil
end

--- Does a plain http:// request to `url` go through a proxy (libcurl's variables: http_proxy,
-- all_proxy / ALL_PROXY, minus no_proxy / NO_PROXY)? Over https:// the answers come through the
-- tunnel, from the API itself.
-- @tparam string url
-- @treturn boolean
function errors.proxied(url)
  local scheme, host = url:match("^(%a+)://%[?([^/:%]]+)")
  if scheme ~= "http" then return false end
  local p = os.getenv("http_proxy") or os.getenv("all_proxy") or os.getenv("ALL_PROXY")
  if not p or p == "" then return false end
  host = host:lower()
  for entry in (os.getenv("no_proxy") or os.getenv("NO_PROXY") or ""):gmatch("[^,%s]+") do
    entry = entry:gsub("^%.", ""):lower()
    if entry == "*" or host == entry or host:sub(-#entry - 1) == "." .. entry then return false end
  end
  return true
end
local proxied = errors.proxied

--- The error for a response whose status is not a success.
-- @tparam table res `{status=, headers=, body=}` (body decoded, or nil)
-- @tparam table ctx `{url=, attempts=, secret=}`
function errors.from_response(res, ctx)
  local msg, code = from_body(res.body)
  local h = res.headers or {}
  local kind = errors.kind_for_status(res.status)
  if kind == "proxy" then msg = "the proxy asks for credentials (Proxy Authentication Required)" end
  -- A 401 that is not the API's (no API error body) over a proxied plain http:// request: the proxy
  -- refused the credentials (tinyproxy answers a wrong password so), not the API the token.
  if kind == "auth" and msg == nil and ctx.url and proxied(ctx.url) then
    kind, msg = "proxy", "the proxy refused its credentials (HTTP 401 from the proxy, not from the API)"
  end
  return errors.new({
    kind = kind,
    status = res.status,
    code = code,
    message = msg or ("HTTP " .. res.status),
    request_id = h["x-request-id"] or h["request-id"],
    url = ctx.url,
    attempts = ctx.attempts,
  }, ctx.secret)
end

return errors
