--- acedata on a luv (libuv) event loop: Neovim's `vim.loop`, or `require "luv"` in plain Lua.
-- Requests never block the loop; results come to callbacks.
--
--    local aluv = require "acedata.luv"
--    local client = aluv.new { token = "platform-v1-…" }   -- acedata.new's options
--
--    -- Any code that uses the client, run as a task of the loop:
--    aluv.run(client, function(c)
--      local total = 0
--      for rec in c.usage.proxies.each { page_size = 100, concurrency = 4 } do
--        total = total + rec.deducted_amount
--      end
--      return total
--    end, function(total, err)
--      if err then print("failed: " .. tostring(err)) else print("total", total) end
--    end)
--
--    -- Or the callback wrappers:
--    client.async.usage.proxies.all({ max_items = 500 }, function(list, err) … end)
--
--    require("luv").run()   -- plain Lua only: Neovim's loop is always running
--
-- Inside `run`, the client's whole API works as usual (`proxies{}`, `.each`, `.all`, `.get`,
-- `me()`) with the same retries, paging, concurrency and errors: each request yields the task to
-- the loop until libcurl has finished it. Outside a task, a call raises
-- `acedata: with runtime = "luv", call the API inside acedata.luv.run(…)` instead of blocking.
--
-- Callbacks are never called before `run` (or a wrapper) returns: they run from a uv callback of
-- their own, after the task has finished. In Neovim that is a "fast event" context where most of
-- `vim.api` is off limits: wrap them in `vim.schedule` (acedata.nvim does). Outside Neovim an
-- error raised by a callback is an error in a luv callback (luv prints it and exits).
--
-- Needs Lua 5.2+ or LuaJIT (tasks yield across pcall); on Lua 5.1, `new` raises.
-- @module acedata.luv

local client_mod = require "acedata.client"
local misuse = require "acedata.misuse"

local unpack = table.unpack or unpack  -- luacheck: ignore (5.1)

local aluv = {}

local function check_client(client)
  if type(client) ~= "table" or client.runtime_name ~= "luv" or not client.runtime then
    misuse.raise("expected a client made by acedata.luv.new (runtime = \"luv\")")
  end
end

local function check_callback(cb)
  if type(cb) ~= "function" then
    misuse.raise("callback must be a function, got " .. type(cb))
  end
end

--- Runs `fn(client, ...)` as a task of the client's loop and calls `callback` with what it
-- returned, or with `nil, err` when it raised (an acedata error, or a Lua error string for a bug).
-- `fn` starts at once and runs until its first request; `callback` is called later, from the loop.
-- @param client a client made by `aluv.new`
-- @tparam function fn `fn(client, ...)`: any code using the client's API
-- @tparam function callback `callback(results...)` or `callback(nil, err)`
-- @param ... extra arguments for `fn`
-- @treturn table a handle: `handle:cancel()` stops the task (its request is cancelled) and calls
--   `callback(nil, "acedata: cancelled")`; `handle:done()` tells whether it has finished
function aluv.run(client, fn, callback, ...)
  check_client(client)
  if type(fn) ~= "function" then misuse.raise("fn must be a function, got " .. type(fn)) end
  check_callback(callback)
  local loop = client.runtime
  local function on_done(task)
    local results = task.results
    if task.ok then
      loop:defer(function() callback(unpack(results, 1, results.n)) end)
    else
      loop:defer(function() callback(nil, results[1]) end)
    end
  end
  local task = loop:start(fn, on_done, client, ...)
  return {
    cancel = function() loop:cancel(task) end,
    done = function() return task.done == true end,
  }
end

--- The callback wrappers of one client (`client.async`).
-- @param client a client made by `aluv.new`
-- @treturn table `usage.proxies(params, cb)`, `usage.proxies.all(params, cb)`,
--   `usage.proxies.get(id, cb)`, `usage.proxies.each(params, on_record, cb)`, `me(cb)`,
--   `run(fn, cb)`
function aluv.async(client)
  check_client(client)
  local function call(cb, fn, ...)
    check_callback(cb)
    return aluv.run(client, fn, cb, ...)
  end
  local g = misuse.guard
  local proxies = setmetatable({
    --- Every matching record in one array: `cb(list)` or `cb(nil, err)`.
    all = g(function(params, cb)
      return call(cb, function(c) return c.usage.proxies.all(params) end)
    end),
    --- One record by id: `cb(record)` or `cb(nil, err)`.
    get = g(function(id, cb)
      return call(cb, function(c) return c.usage.proxies.get(id) end)
    end),
    --- Calls `on_record(rec)` for every matching record (from the loop, in order), then
    -- `cb(n)` with the number of records, or `cb(nil, err)`.
    each = g(function(params, on_record, cb)
      if type(on_record) ~= "function" then
        misuse.raise("on_record must be a function, got " .. type(on_record))
      end
      return call(cb, function(c)
        local n = 0
        for rec in c.usage.proxies.each(params) do
          n = n + 1
          on_record(rec)
        end
        return n
      end)
    end),
  }, {
    --- One page: `cb(page)` or `cb(nil, err)`.
    __call = g(function(_, params, cb)
      return call(cb, function(c) return c.usage.proxies(params) end)
    end),
  })
  return {
    usage = { proxies = proxies },
    --- The token's owner: `cb(me)` or `cb(nil, err)`.
    me = g(function(cb) return call(cb, function(c) return c.me() end) end),
    --- `aluv.run(client, fn, cb)`.
    run = g(function(fn, cb) return aluv.run(client, fn, cb) end),
  }
end

--- Makes a client whose requests go through the luv loop (`runtime = "luv"`).
-- @tparam[opt] table opts the options of `acedata.new` (token, base_url, timeout, …)
-- @return the client, with `client.async` (see `aluv.async`); `client:close()` frees it and
--   closes its uv handles
function aluv.new(opts)
  if opts ~= nil and type(opts) ~= "table" then
    misuse.raise("options must be a table, got " .. type(opts))
  end
  local o = {}
  for k, v in pairs(opts or {}) do o[k] = v end
  local asked = o.runtime or o.transport
  if asked ~= nil and asked ~= "luv" then
    misuse.raise("acedata.luv.new makes clients with runtime = \"luv\"")
  end
  o.runtime, o.transport = "luv", nil
  local client = client_mod.new(o)
  client.async = aluv.async(client)
  return client
end

-- Misuse raises at the caller's line (acedata.misuse).
for _, name in ipairs { "run", "async", "new" } do aluv[name] = misuse.guard(aluv[name]) end

--- The message a call made outside `run` raises.
aluv.NOT_IN_TASK = require("acedata.runtime.luv").NOT_IN_TASK

return aluv
