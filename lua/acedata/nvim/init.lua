--- Neovim plugin: `:AceDataUsage [filters]` opens a report of your proxy usage, fetched without
-- freezing the editor.
--
--    require("acedata.nvim").setup {
--      token = "platform-v1-…",   -- default: $ACEDATACLOUD_PLATFORM_TOKEN
--      -- any other option of acedata.new (base_url, timeout, max_retries, …), plus:
--      max_items = 10000,          -- records per report at most (false: no limit)
--      page_size = 100, concurrency = 4,
--      open = "split",             -- "split", "vsplit", "tab" or "current"
--      cpath = nil,                -- e.g. "/path/to/acedata/build/luajit/?.so"
--    }
--
-- Requests run on Neovim's event loop (`vim.uv`; `vim.loop` before 0.10: luv) through acedata.luv:
-- libcurl's multi socket API is driven from poll and timer handles, and results come back with
-- `vim.schedule`. `:checkhealth acedata` says whether the C core loads and a token is set.
--
-- Functions for other plugins (callbacks run in Neovim's main context, through `vim.schedule`):
--
-- * `fetch(filters, cb)`: every matching record: `cb(records)` or `cb(nil, err)`
-- * `run(fn, cb)`: any code using the client, as a task: `cb(results…)` or `cb(nil, err)`
-- * `report_lines(records [, opts])`: the report as lines (acedata.nvim.report)
-- * `open_report(lines [, open])`: a scratch buffer (buftype nofile, filetype `acedata`) -> bufnr
-- * `usage(args [, done])`: what `:AceDataUsage args` does; `done(bufnr)` or `done(nil, err)`
-- * `client()`: the plugin's client (acedata.luv), made on first use; `close()` frees it
--
-- After a report opens, the autocommand event `User AceDataReport` fires (the report is the
-- current buffer).
--
-- The C core (`acedata.core`) must be built for LuaJIT: `build/luajit/acedata/core.so`. When the
-- plugin's own checkout has that file, it is put on `package.cpath` by itself; otherwise set
-- `cpath` (or `package.cpath`) to the `?.so` pattern of the build.
-- @module acedata.nvim

local args = require "acedata.nvim.args"
local report = require "acedata.nvim.report"

local unpack = table.unpack or unpack  -- luacheck: ignore (5.1)
local uv = vim.uv or vim.loop  -- vim.uv since Neovim 0.10; vim.loop (the same luv) before

local M = {}

--- setup{} keys that belong to the plugin; every other key is an option of acedata.new.
local PLUGIN_OPTIONS = { max_items = true, page_size = true, concurrency = true, open = true, cpath = true }
local OPEN = { split = "split", vsplit = "vsplit", tab = "tab split", current = false }

local config = { max_items = 10000, page_size = 100, concurrency = 4, open = "split" }
local client_opts = {}
local client            -- made on first use
local reports = 0       -- for unique buffer names

local function pack(...) return { n = select("#", ...), ... } end

--- The root of the plugin's checkout (the folder holding lua/acedata/nvim/init.lua), or nil.
local function plugin_root()
  local src = debug.getinfo(1, "S").source
  if src:sub(1, 1) ~= "@" then return nil end
  return src:sub(2):match("^(.*)[/\\]lua[/\\]acedata[/\\]nvim[/\\]init%.lua$")
end

--- Puts a `?.so` pattern first on package.cpath (once).
function M.add_cpath(pattern)
  if not package.cpath:find(pattern, 1, true) then package.cpath = pattern .. ";" .. package.cpath end
end

local function find_core()
  local root = plugin_root()
  if root and uv.fs_stat(root .. "/build/luajit/acedata/core.so") then
    M.add_cpath(root .. "/build/luajit/?.so")
  end
  if config.cpath then M.add_cpath(config.cpath) end
end

--- The plugin's client (made on first use, with setup{}'s options; acedata.luv).
function M.client()
  if not client then
    find_core()
    client = require("acedata.luv").new(client_opts)
  end
  return client
end

--- The options setup{} passes to acedata.new (a copy; `{}` before setup). For :checkhealth.
-- @treturn table
function M.options()
  local copy = {}
  for k, v in pairs(client_opts) do copy[k] = v end
  return copy
end

--- Where setup{} looks for the C core (the plugin's build/luajit, then setup{}'s cpath): puts
-- those `?.so` patterns first on package.cpath.
function M.find_core()
  find_core()
end

--- Frees the client (also done on VimLeavePre). The next use makes a new one.
function M.close()
  if client then
    client:close()
    client = nil
  end
end

--- Runs `fn(client)` as a task of the luv loop; `cb(results…)` or `cb(nil, err)` runs later,
-- through `vim.schedule`. Returns a handle with `cancel()`, or nil when the client could not be
-- made (cb then gets the message).
function M.run(fn, cb)
  if type(cb) ~= "function" then error("acedata: callback must be a function, got " .. type(cb), 2) end
  local function deliver(...)
    local r = pack(...)
    vim.schedule(function() cb(unpack(r, 1, r.n)) end)
  end
  local ok, c = pcall(M.client)
  if not ok then
    deliver(nil, c)
    return nil
  end
  local started, handle = pcall(require("acedata.luv").run, c, fn, deliver)
  if not started then
    deliver(nil, handle)
    return nil
  end
  return handle
end

--- The parameters of `usage.proxies.all{}` for `filters`, with setup{}'s defaults.
function M.params(filters)
  local p = {}
  for k, v in pairs(filters or {}) do p[k] = v end
  for _, k in ipairs { "page_size", "concurrency", "max_items" } do
    if p[k] == nil and config[k] then p[k] = config[k] end
  end
  return p
end

--- Every matching record, fetched in the background.
-- @tparam[opt] table filters filters and options of `usage.proxies.all{}` (setup{}'s
--   max_items, page_size and concurrency apply when absent)
-- @tparam function cb `cb(records)` or `cb(nil, err)`, through `vim.schedule`
-- @return a handle with `cancel()`
function M.fetch(filters, cb)
  local p = M.params(filters)
  return M.run(function(c) return c.usage.proxies.all(p) end, cb)
end

--- The report's lines for `records` (see acedata.nvim.report).
-- @tparam table records
-- @tparam[opt] table opts `filters` (text shown under the title), `records = false` (totals only)
function M.report_lines(records, opts)
  return report.lines(records, opts)
end

--- Opens `lines` in a new scratch buffer (buftype nofile, not modifiable, filetype `acedata`).
-- @tparam table lines
-- @tparam[opt] string open "split", "vsplit", "tab" or "current" (default: setup{}'s)
-- @treturn integer the buffer number
function M.open_report(lines, open)
  local api = vim.api
  local buf = api.nvim_create_buf(false, true)
  api.nvim_buf_set_option(buf, "bufhidden", "wipe")
  api.nvim_buf_set_lines(buf, 0, -1, false, lines)
  api.nvim_buf_set_option(buf, "modifiable", false)
  reports = reports + 1
  pcall(api.nvim_buf_set_name, buf, "acedata://usage/" .. reports)
  local how = OPEN[open or config.open]
  if how == nil then how = OPEN.split end
  if how then vim.cmd(how) end
  api.nvim_win_set_buf(0, buf)
  api.nvim_buf_set_option(buf, "filetype", "acedata")
  return buf
end

local function notify(msg, level)
  vim.notify(msg, level or vim.log.levels.INFO)
end

--- What `:AceDataUsage args` does: parses the filters, fetches, opens the report, fires
-- `User AceDataReport`.
-- @tparam string|table input the command's arguments (see acedata.nvim.args)
-- @tparam[opt] function done `done(bufnr)` or `done(nil, err)` (in the main context)
function M.usage(input, done)
  local filters, perr = args.parse(input or "")
  if not filters then
    notify("acedata: " .. perr, vim.log.levels.ERROR)
    if done then done(nil, perr) end
    return nil
  end
  local shown = args.format(M.params(filters))
  notify("acedata: fetching usage " .. shown)
  local wanted = { fields = report.FIELDS }   -- only what the report shows is decoded
  for k, v in pairs(filters) do wanted[k] = v end
  return M.fetch(wanted, function(records, err)
    if not records then
      notify(tostring(err), vim.log.levels.ERROR)
      if done then done(nil, err) end
      return
    end
    local buf = M.open_report(report.lines(records, { filters = shown }))
    vim.api.nvim_exec_autocmds("User", { pattern = "AceDataReport", modeline = false })
    if done then done(buf) end
  end)
end

local function complete(lead)
  local out = {}
  for _, name in ipairs(args.NAMES) do
    if name:sub(1, #lead) == lead then out[#out + 1] = name end
  end
  return out
end

--- Configures the plugin and adds `:AceDataUsage [filters]`. Calling it again replaces the
-- options (and the client).
-- @tparam[opt] table opts options of acedata.new, plus max_items, page_size, concurrency, open, cpath
function M.setup(opts)
  if opts ~= nil and type(opts) ~= "table" then error("acedata: setup expects a table, got " .. type(opts), 2) end
  if opts and opts.open ~= nil and OPEN[opts.open] == nil then
    error("acedata: open must be \"split\", \"vsplit\", \"tab\" or \"current\"", 2)
  end
  config = { max_items = 10000, page_size = 100, concurrency = 4, open = "split" }
  client_opts = {}
  for k, v in pairs(opts or {}) do
    if PLUGIN_OPTIONS[k] then config[k] = v else client_opts[k] = v end
  end
  M.close()
  vim.api.nvim_create_user_command("AceDataUsage", function(o) M.usage(o.args) end, {
    nargs = "*", complete = complete,
    desc = "AceData Cloud proxy usage report: application_id= proxy_id= from= to= user_id= max_items=",
  })
  local group = vim.api.nvim_create_augroup("acedata", { clear = true })
  vim.api.nvim_create_autocmd("VimLeavePre", { group = group, callback = function() M.close() end })
  return M
end

return M
