--- `:checkhealth acedata`: can the Neovim plugin work here?
--
-- It reports the Lua Neovim runs, whether the C core (`acedata.core`, core.so) is found and loads
-- (its version, libcurl's, and the LuaJIT it was built for), whether a token is set (from
-- setup{} or `$ACEDATACLOUD_PLATFORM_TOKEN`; the token itself is never shown) and the base URL.
-- It sends no request.
--
-- Works with the report functions of every Neovim: `vim.health.start/ok/…` (0.9+),
-- `vim.health.report_*` (0.8) and the `health#report_*` functions (0.7).
-- @module acedata.health

local M = {}

local TOKEN_ENV = "ACEDATACLOUD_PLATFORM_TOKEN"
local BASE_URL_ENV = "PLATFORM_API_BASE_URL"

-- The report functions of this Neovim: start, ok, info, warn, error.
local function reporter()
  local ok, h = pcall(function() return vim.health end)
  if ok and type(h) == "table" and h.start then
    return { start = h.start, ok = h.ok, info = h.info, warn = h.warn, error = h.error }
  end
  if ok and type(h) == "table" and h.report_start then
    return { start = h.report_start, ok = h.report_ok, info = h.report_info, warn = h.report_warn,
      error = h.report_error }
  end
  local function fn(name)
    return function(msg, advice)
      if advice then vim.fn["health#report_" .. name](msg, advice) else vim.fn["health#report_" .. name](msg) end
    end
  end
  return { start = fn("start"), ok = fn("ok"), info = fn("info"), warn = fn("warn"), error = fn("error") }
end

-- The plugin's checkout (the folder holding lua/acedata/health.lua), or nil.
local function plugin_root()
  local src = debug.getinfo(1, "S").source
  if src:sub(1, 1) ~= "@" then return nil end
  return src:sub(2):match("^(.*)[/\\]lua[/\\]acedata[/\\]health%.lua$")
end

local function build_advice()
  local root = plugin_root() or "<the plugin's folder>"
  return {
    ("build it for LuaJIT: cmake -S %s -B %s/build/luajit -DLUA_VERSION=luajit && cmake --build %s/build/luajit")
      :format(root, root, root),
    "needs cmake, a C compiler and the headers of libcurl, zlib and LuaJIT 2.1"
      .. " (Debian: libcurl4-openssl-dev zlib1g-dev libluajit2-5.1-dev)",
    "built elsewhere: setup{ cpath = \"/path/to/build/luajit/?.so\" }",
  }
end

-- The C core: found, loads, its versions. Returns the core or nil.
local function check_core(r)
  local nvim = require "acedata.nvim"
  nvim.find_core()
  local path = package.searchpath and package.searchpath("acedata.core", package.cpath)
  if not path then
    r.error("acedata.core (core.so) not found on package.cpath", build_advice())
    return nil
  end
  local ok, core = pcall(require, "acedata.core")
  if not ok then
    r.error(("acedata.core found (%s) but does not load: %s"):format(path, tostring(core)), build_advice())
    return nil
  end
  r.ok(("acedata.core %s (%s)"):format(tostring(core._VERSION), path))
  r.ok("libcurl " .. core.curl_version())
  local built, runs = core.built_for, rawget(_G, "jit") and _G.jit.version
  if not built then
    r.warn("acedata.core does not say which Lua it was built for (an older build?)", build_advice())
  elseif not built:find("^LuaJIT") then
    r.error(("acedata.core was built for %s, Neovim runs %s"):format(built, tostring(runs)), build_advice())
  elseif built ~= runs then
    r.warn(("acedata.core was built for %s, Neovim runs %s"):format(built, tostring(runs)),
      { "the two are usually compatible; rebuild if the plugin misbehaves" })
  else
    r.ok(("acedata.core was built for %s, the LuaJIT Neovim runs"):format(built))
  end
  return core
end

-- Drops user information from a URL before showing it.
local function shown_url(url)
  return (url:gsub("^(%a+://)[^/?#]*@", "%1…@"))
end

local function check_settings(r)
  local opts = require("acedata.nvim").options()
  local token, from = opts.token, "setup{ token = … }"
  if token == nil then token, from = os.getenv(TOKEN_ENV), "$" .. TOKEN_ENV end
  if token == nil or token == "" then
    r.error("no token set", { "set $" .. TOKEN_ENV .. " before starting Neovim, or pass setup{ token = … }" })
  elseif type(token) ~= "string" or not token:find("^platform%-v1%-%x+$") then
    r.warn(("a token is set (from %s) but it does not look like platform-v1-<hex digits>; not shown"):format(from))
  else
    r.ok(("a token is set (from %s); not shown"):format(from))
  end
  local url, url_from = opts.base_url, "setup{ base_url = … }"
  if url == nil then
    url, url_from = os.getenv(BASE_URL_ENV), "$" .. BASE_URL_ENV
    if url == nil or url == "" then url, url_from = "https://platform.acedata.cloud", "the default" end
  end
  if type(url) ~= "string" or not url:find("^https?://[^/]") then
    r.error(("the base URL (from %s) is not an http:// or https:// URL"):format(url_from))
  else
    r.ok(("base URL %s (%s)"):format(shown_url(url), url_from))
  end
end

--- Runs the checks (what `:checkhealth acedata` calls).
function M.check()
  local r = reporter()
  r.start("acedata")
  local jit = rawget(_G, "jit")
  if jit then
    r.info("Neovim runs " .. jit.version)
  else
    r.error("Neovim's Lua is not LuaJIT (" .. _VERSION .. "): acedata.core is built for LuaJIT")
  end
  check_core(r)
  check_settings(r)
end

return M
