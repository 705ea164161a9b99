--- One HTTP response as the runtimes hand it to the request layer: `status`, `headers`
-- (lower-case names), and `res:decode(opts)`, which decodes the body with the C decoder
-- (`core.decode`'s options: `fields`, `null`, `array_mt`) and returns the value, or nil and a
-- message. Transports only do HTTP; the request layer decides whether and how to decode.
-- @module acedata.runtime.response

local core = require "acedata.core"

local response = {}

-- A body still held by libcurl (a core.multi request): decoded straight from its buffer.
local Held = {}
Held.__index = Held
function Held:decode(opts) return self.req:decode(opts) end
function Held:body() return self.req:body() end

-- A body as a Lua string (cosockets, custom runtimes).
local Text = {}
Text.__index = Text
function Text:decode(opts) return core.decode(self.text, opts) end
function Text:body() return self.text end

--- A response whose body is in a finished core.multi request.
function response.from_request(status, headers, req)
  return setmetatable({ status = status, headers = headers, req = req }, Held)
end

--- A response whose body is a string.
function response.from_string(status, headers, text)
  return setmetatable({ status = status, headers = headers, text = text }, Text)
end

return response
