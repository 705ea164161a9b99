--- acedata: AceData Cloud's proxy usage records as plain Lua tables.
--
--    local acedata = require "acedata"
--    for rec in acedata.usage.proxies.each{ created_at_from = "2024-08-01T00:00:00Z" } do
--      print(rec.service.name, rec.deducted_amount)
--    end
--
-- The functions on the module itself use a default client made from the environment on first
-- use; `acedata.new{…}` makes one with explicit options.
-- @module acedata

local client = require "acedata.client"
local core = require "acedata.core"
local errors = require "acedata.errors"

local acedata = {
  --- The version, from the C core (CMakeLists.txt's `project(… VERSION …)`).
  _VERSION = core._VERSION,
  --- JSON null: a NULL light userdata, the very value of `cjson.null`.
  null = core.null,
  --- The metatable given to decoded arrays when `array_mt = true`.
  array_mt = core.array_mt,
}

--- Makes a client.
-- @tparam[opt] table opts token, base_url, timeout, connect_timeout, max_retries, ssl_verify,
--   ca_file, user_agent, allow_insecure, backoff_base, backoff_cap, max_retry_after, transport
acedata.new = client.new

--- Decodes JSON text into Lua values, with the decoder the client uses for responses.
-- @tparam string s JSON text
-- @tparam[opt] table opts `null = v` (what JSON null becomes), `array_mt = true`,
--   `fields = {…}` (the records of a page keep only these keys; the rest is checked, not made)
-- @return the value, or nil and an error of kind "decode"
function acedata.decode(s, opts)
  if type(s) ~= "string" then error("acedata: decode expects a string, got " .. type(s), 2) end
  local v, msg = core.decode(s, opts)
  if msg ~= nil then
    return nil, errors.new { kind = "decode", message = msg }
  end
  return v
end

--- Is `v` an error returned by this module?
acedata.is_error = errors.is

local default
--- The default client, made from the environment on first use.
function acedata.default_client()
  default = default or client.new()
  return default
end

local default_proxies = setmetatable({
  each = function(params) return acedata.default_client().usage.proxies.each(params) end,
  all = function(params) return acedata.default_client().usage.proxies.all(params) end,
  get = function(id) return acedata.default_client().usage.proxies.get(id) end,
}, { __call = function(_, params) return acedata.default_client().usage.proxies(params) end })

--- The usage endpoints, through the default client: `acedata.usage.proxies{…}` (one page),
-- `.each{…}`, `.all{…}` and `.get(id)`, as on a client (see docs/usage.md).
acedata.usage = { proxies = default_proxies }

--- The token's owner, through the default client.
function acedata.me() return acedata.default_client().me() end

return acedata
