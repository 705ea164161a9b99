--- Runtimes: how a client does HTTP, waits, and runs tasks side by side.
--
-- A client has one runtime, named by the `runtime` option (or given as a table):
--
-- * `"curl"` (the default in plain Lua): libcurl's multi interface, blocking waits
--   (acedata.runtime.curl);
-- * `"luv"`: libcurl driven from a luv event loop, never blocking (Neovim; acedata.luv);
-- * `"ngx"` (the default inside OpenResty): cosockets and light threads (acedata.runtime.ngx).
--
-- A table is a custom runtime. It must have `get`, `sleep` and `now`; with `spawn`, `join` and
-- `cancel` as well it can run `prefetch`/`concurrency`, without them asking for either raises.
-- The interface, in full (docs/internals.md, "Runtimes"):
--
--    rt:get(url, header_lines, timeout) -> res | nil, { kind = "network"|"timeout"|"tls"|…, message = "…" }
--        res.status (integer), res.headers (lower-case names), res:decode(opts) -> value | nil, msg
--    rt:sleep(seconds); rt:now() -> monotonic seconds
--    rt:spawn(fn, ...) -> task; rt:join(task) -> fn's results (raises what fn raised);
--    rt:cancel(task)  (joining a cancelled task raises "acedata: cancelled")
--    rt:poke()  (optional: let requests in flight progress); rt:close() (optional)
-- @module acedata.runtime

local misuse = require "acedata.misuse"

local runtime = {}

--- The names of the built-in runtimes.
runtime.NAMES = { curl = true, luv = true, ngx = true }

local REQUIRED = { "get", "sleep", "now" }
local CONCURRENT = { "spawn", "join", "cancel" }

local function callable(v)
  if type(v) == "function" then return true end
  local mt = getmetatable(v)
  return mt ~= nil and type(mt) == "table" and mt.__call ~= nil
end

--- Checks a custom runtime table; returns it, marked `concurrent` when it can run tasks.
local function custom(rt)
  for _, name in ipairs(REQUIRED) do
    if not callable(rt[name]) then
      misuse.raise("a runtime table needs a function " .. name .. " (see docs/internals.md, \"Runtimes\")")
    end
  end
  local n = 0
  for _, name in ipairs(CONCURRENT) do if callable(rt[name]) then n = n + 1 end end
  if n ~= 0 and n ~= #CONCURRENT then
    misuse.raise("a runtime table has spawn, join and cancel, or none of them")
  end
  if rt.concurrent == nil then rt.concurrent = n == #CONCURRENT end
  rt.name = rt.name or "custom"
  return rt
end

--- Opens the runtime a client's options ask for.
-- @tparam table cfg the client's options (`runtime`: a name, a table, or nil)
function runtime.open(cfg)
  local r = cfg.runtime
  if type(r) == "table" then return custom(r) end
  if r == nil then
    -- Outside OpenResty (no ngx global) the ngx runtime and its transport are not even loaded.
    r = rawget(_G, "ngx") ~= nil and require("acedata.runtime.ngx").available() and "ngx" or "curl"
  end
  if not runtime.NAMES[r] then
    misuse.raise("runtime must be \"curl\", \"luv\", \"ngx\" or a table, got " .. tostring(r))
  end
  local ok, rt = pcall(function() return require("acedata.runtime." .. r).new(cfg) end)
  if not ok then misuse.raise((tostring(rt):gsub("^acedata: ", ""))) end   -- not available here
  return rt
end

--- Raises unless `rt` can run several requests at once (asked for by `what`).
function runtime.check_concurrent(rt, what)
  if not rt.concurrent then
    misuse.raise(("%s needs a runtime that can run tasks (spawn, join, cancel); runtime %q has none")
      :format(what, tostring(rt.name)))
  end
end

return runtime
