--- One HTTP response as the runtimes hand it to the request layer: `status`, `headers`
-- (lower-case names), and `res:decode(opts)`, which decodes the body with the C decoder
-- (`core.decode`'s options: `fields`, `null`, `array_mt`) and returns the value, or nil and a
-- message. Transports only do HTTP; the request layer decides whether and how to decode, and
-- calls `res:close()` (optional in a runtime) once it needs neither body nor headers any more.
-- @module acedata.runtime.response

local core = require "acedata.core"

local response = {}

-- A body still held by libcurl (a core.multi request): decoded straight from its buffer. The
-- headers table is built on first read only (a successful page never reads it).
local Held = {}
local held_methods = {}
function held_methods:decode(opts) return self.req:decode(opts) end
function held_methods:body() return self.req:body() end
-- The body's buffer goes back to the multi, for the next request (status and headers stay).
function held_methods:close() self.req:release() end
Held.__index = function(self, k)
  if k == "headers" then
    local h = self.req:headers()
    self.headers = h
    return h
  end
  return held_methods[k]
end

-- A body as a Lua string (cosockets, custom runtimes).
local Text = {}
Text.__index = Text
function Text:decode(opts) return core.decode(self.text, opts) end
function Text:body() return self.text end

--- A response whose body is in a finished core.multi request (its headers are read from it when
-- first asked for).
function response.from_request(status, req)
  return setmetatable({ status = status, req = req }, Held)
end

--- A response whose body is a string.
function response.from_string(status, headers, text)
  return setmetatable({ status = status, headers = headers, text = text }, Text)
end

return response
