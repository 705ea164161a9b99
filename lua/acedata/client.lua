--- A client: options, a runtime, and the endpoints bound to them.
-- @module acedata.client

local config = require "acedata.config"
local core = require "acedata.core"
local misuse = require "acedata.misuse"
local request = require "acedata.request"
local runtime = require "acedata.runtime"
local usage = require "acedata.usage"

local client = {}

local Client = {}
Client.__index = Client

local ME_PATH = "/api/v1/platform-tokens/me/"

--- `acedata-lua/0.1.0 (Lua 5.4; libcurl/7.88.1)`, plus the caller's addition.
local function user_agent(extra)
  local lua = rawget(_G, "jit") and _G.jit.version or _VERSION
  local ua = string.format("acedata-lua/%s (%s; libcurl/%s)", core._VERSION, lua, core.curl_version())
  if extra and extra ~= "" then ua = ua .. " " .. extra end
  return ua
end

--- Makes a client. See the README for every option.
-- @tparam[opt] table opts
-- @return client
function client.new(opts)
  local cfg = config.build(opts)
  cfg.full_user_agent = user_agent(cfg.user_agent)
  local self = setmetatable({ cfg = cfg }, Client)
  self.runtime = runtime.open(cfg)
  self.runtime_name = self.runtime.name
  self.shared = { pause_until = 0 }   -- a 429 pauses every request of the client
  self.headers = { "Accept: application/json", "Authorization: Bearer " .. cfg.token }
  self.usage = { proxies = usage.proxies_api(self) }
  --- The token's owner: `GET /api/v1/platform-tokens/me/` -> `{id, username, email, …}`.
  self.me = function(deadline)   -- deadline: internal (monotonic time), see acedata.request
    if deadline == nil and cfg.deadline then deadline = self.runtime:now() + cfg.deadline end
    local me, err, attempts = self:get(cfg.base_url .. ME_PATH, deadline)
    if me ~= nil and type(me) == "table" and type(me.id) == "string" then self.me_id = me.id end
    return me, err, attempts
  end
  return self
end
client.new = misuse.guard(client.new)

--- One GET with retries; returns the decoded body or nil, err.
function Client:get(url, deadline, decode_opts)
  return request.get(self, url, deadline, decode_opts)
end

--- The caller's user id, asked once per client.
function Client:whoami(deadline)
  if self.me_id then return self.me_id end
  local me, err, attempts = self.me(deadline)
  if me == nil then return nil, err end
  if not self.me_id then
    return nil, require("acedata.errors").new({ kind = "decode", url = self.cfg.base_url .. ME_PATH,
      attempts = attempts, message = "unexpected response: expected an object with a string id" }, self.cfg.token)
  end
  return self.me_id
end

--- Frees the connection. The client must not be used afterwards.
function Client:close()
  if self.runtime.close then self.runtime:close() end
end

Client.__close = Client.close

return client
