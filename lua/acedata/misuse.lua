--- Misuse: a wrong argument raises at the public boundary, naming the caller's line.
--
-- Inside the module, a check that fails calls `misuse.raise("what is wrong")`, at any depth. Every
-- public function is wrapped once by `misuse.guard`, which turns that into the Lua error
-- `"acedata: what is wrong"` raised at its caller's line (as `error(msg, 2)` from the public
-- function itself would). Nothing else counts stack levels. Failures of the API are not misuse:
-- they are typed errors (acedata.errors), returned or raised as they are.
-- @module acedata.misuse

local errors = require "acedata.errors"

local misuse = {}

local Misuse = {}
Misuse.__index = Misuse
function Misuse:__tostring() return self.message end

local unpack = table.unpack or unpack  -- luacheck: ignore (5.1)

--- Raises a misuse error: `"acedata: " .. msg` at the caller of the public function.
-- @tparam string msg
function misuse.raise(msg)
  error(setmetatable({ message = "acedata: " .. msg }, Misuse), 0)
end

--- Is `v` a misuse error (before a guard turned it into a string)?
function misuse.is(v)
  return getmetatable(v) == Misuse
end

local function pack(...) return { n = select("#", ...), ... } end

-- Guards running now, per coroutine (the main thread of 5.1 has none: a key of its own).
local depth = setmetatable({}, { __mode = "k" })
local MAIN = {}

--- Wraps a public function: a misuse raised inside it is raised as a string at its caller's line,
-- scrubbed of `secret` (a function returning the token, or nil); every other error goes through
-- unchanged. A guarded function called by another one (in the same coroutine) leaves the
-- misuse to the outer guard, so the line named is always the user's.
-- @tparam function fn
-- @tparam[opt] function secret
-- @treturn function
function misuse.guard(fn, secret)
  return function(...)
    local co = coroutine.running() or MAIN
    local d = depth[co] or 0
    depth[co] = d + 1
    local r = pack(pcall(fn, ...))
    depth[co] = d
    if r[1] then return unpack(r, 2, r.n) end
    local e = r[2]
    if getmetatable(e) == Misuse then
      e.message = errors.redact(e.message, secret and secret())
      if d > 0 then error(e, 0) end
      error(e.message, 2)
    end
    error(e, 0)
  end
end

return misuse
