--- Client options: defaults, the environment, and checks.
--
-- Environment variables, read when a client is made:
--
-- * `ACEDATACLOUD_PLATFORM_TOKEN`: the token (`platform-v1-…`)
-- * `PLATFORM_API_BASE_URL`: default `https://platform.acedata.cloud`
-- * `PLATFORM_REQUEST_TIMEOUT`: seconds for a whole request, default 30
-- * `CURL_CA_BUNDLE`, then `SSL_CERT_FILE`: the default `ca_file` (a PEM bundle of the CAs to
--   trust, e.g. a company CA behind a TLS-inspecting proxy), as curl and OpenSSL read them
-- * `ACEDATA_LOG`: `debug` or `info` writes one line per attempt to stderr (see acedata.log)
-- @module acedata.config

local log = require "acedata.log"
local misuse = require "acedata.misuse"
local query = require "acedata.query"

local config = {}

config.DEFAULT_BASE_URL = "https://platform.acedata.cloud"

--- Option name -> expected Lua type.
local TYPES = {
  token = "string", base_url = "string", timeout = "number", connect_timeout = "number",
  max_retries = "number", ssl_verify = "boolean", ca_file = "string", user_agent = "string",
  allow_insecure = "boolean", backoff_base = "number", backoff_cap = "number",
  max_retry_after = "number", deadline = "number", runtime = "any", transport = "any", max_body = "number",
  log = "function", on_response = "function",
}

local fail = misuse.raise

local function is_loopback(host)
  return host == "localhost" or host:find("^127%.%d+%.%d+%.%d+$") ~= nil or host == "[::1]"
end

--- Splits a base URL into scheme and host, raising when it is not http(s).
local function parse_base_url(url)
  -- No user information: "http://127.0.0.1:80@example.com/" is a request to example.com.
  if (url:match("^%a+://([^/?#]*)") or ""):find("@", 1, true) then
    fail("base_url must not contain user information (user@ or user:password@)")
  end
  local scheme, host = url:match("^(https?)://(%[[^%]]+%])")
  if not scheme then scheme, host = url:match("^(https?)://([^/:?#]+)") end
  if not scheme then
    fail("base_url must be an http:// or https:// URL, got " .. string.format("%q", url))
  end
  return scheme, host:lower()
end

local function env_number(name)
  local v = os.getenv(name)
  if v == nil or v == "" then return nil end
  local n = tonumber(v)
  if not n or n <= 0 then fail(name .. " must be a positive number of seconds, got " .. string.format("%q", v)) end
  return n
end

--- Builds a checked, complete option table from the caller's (which may be nil).
-- @tparam[opt] table opts
-- @treturn table
function config.build(opts)
  if opts ~= nil and type(opts) ~= "table" then fail("options must be a table, got " .. type(opts)) end
  opts = opts or {}
  for k, v in pairs(opts) do
    local t = TYPES[k]
    if not t then fail("unknown option " .. string.format("%q", tostring(k))) end
    if t ~= "any" and type(v) ~= t then fail("option " .. k .. " must be a " .. t .. ", got " .. type(v)) end
  end

  local c = {}
  for k, v in pairs(opts) do c[k] = v end
  -- `transport` is the 0.1 name of `runtime`.
  if c.transport ~= nil then
    if c.runtime ~= nil then fail("give runtime or transport (its old name), not both") end
    c.runtime, c.transport = c.transport, nil
  end

  c.token = c.token or os.getenv "ACEDATACLOUD_PLATFORM_TOKEN"
  if c.token == nil or c.token == "" then
    fail("no token: pass token = \"platform-v1-…\" or set ACEDATACLOUD_PLATFORM_TOKEN")
  end
  -- Control characters could forge headers; the message must not repeat the token.
  if c.token:find("[%z\1-\31\127]") then fail("token contains a control character") end

  local base = c.base_url or os.getenv "PLATFORM_API_BASE_URL"
  if base == nil or base == "" then base = config.DEFAULT_BASE_URL end
  query.check_text(base, "base_url")
  c.base_url = base:gsub("/+$", "")
  local scheme, host = parse_base_url(c.base_url)
  if scheme == "http" and not is_loopback(host) and not c.allow_insecure then
    fail("refusing to send the token over plain http:// to " .. host
      .. "; use https:// or set allow_insecure = true")
  end

  c.timeout = c.timeout or env_number("PLATFORM_REQUEST_TIMEOUT") or 30
  c.connect_timeout = c.connect_timeout or 10
  c.max_retries = c.max_retries or 2
  c.backoff_base = c.backoff_base or 0.5
  c.backoff_cap = c.backoff_cap or 8
  c.max_retry_after = c.max_retry_after or 120
  if c.ssl_verify == nil then c.ssl_verify = true end
  for _, k in ipairs { "timeout", "connect_timeout" } do
    if not (c[k] > 0) then fail(k .. " must be a positive number") end
  end
  for _, k in ipairs { "max_retries", "backoff_base", "backoff_cap", "max_retry_after" } do
    if not (c[k] >= 0) then fail(k .. " must not be negative") end
  end
  if c.max_retries ~= math.floor(c.max_retries) then fail("max_retries must be an integer") end
  if c.user_agent then query.check_text(c.user_agent, "user_agent") end
  if c.ca_file == nil then
    for _, name in ipairs { "CURL_CA_BUNDLE", "SSL_CERT_FILE" } do
      local v = os.getenv(name)
      if v and v ~= "" then c.ca_file = v break end
    end
  end
  if c.ca_file then query.check_text(c.ca_file, "ca_file") end

  local level_name = os.getenv "ACEDATA_LOG"
  local log_level, err = log.parse_level(level_name)
  if not log_level then fail(err) end
  if c.log then
    c.log_level = (level_name and level_name ~= "") and log_level or log.LEVELS.debug
  elseif log_level > 0 then
    c.log, c.log_level = log.stderr, log_level
  end
  return c
end

return config
