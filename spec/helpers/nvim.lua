-- Test helper: runs a Lua chunk inside headless Neovim (`nvim --headless --clean -u NONE`) with
-- this checkout on 'runtimepath' and build/luajit on package.cpath. Environment values (the mock's
-- token among them) go through a 0600 file the shell sources, never the command line.
--
-- The chunk runs as the body of a function `(out)`: `out(line)` records a line of results; it
-- must end Neovim itself with `done()` (or `fail(msg)`). A safety timer ends it after `timeout`
-- seconds, and `timeout(1)` kills it a little later still.
local nvim = {}

local function shell_quote(s)
  return "'" .. s:gsub("'", "'\\''") .. "'"
end

local function root()
  local src = debug.getinfo(1, "S").source:sub(2)
  local dir = src:match("^(.*)/spec/helpers/nvim%.lua$")
  if not dir or dir == "" then dir = "." end
  if dir:sub(1, 1) ~= "/" then
    local p = io.popen("pwd")
    local cwd = p:read("*l")
    p:close()
    dir = dir == "." and cwd or cwd .. "/" .. dir
  end
  return dir
end
nvim.root = root

local function exists(path)
  local f = io.open(path, "rb")
  if f then f:close() return true end
  return false
end

function nvim.available()
  local ok = os.execute("command -v nvim >/dev/null 2>&1")
  return ok == true or ok == 0
end

--- Brings build/luajit/acedata/core.so up to date (Neovim is LuaJIT; an incremental build costs
-- little), once per run; returns its ?.so pattern.
local built
function nvim.luajit_cpath()
  local r = root()
  if not built then
    local ok = os.execute("cd " .. shell_quote(r) .. " && bash -c '. scripts/lib.sh && build luajit' >/dev/null 2>&1")
    assert(ok == true or ok == 0, "could not build build/luajit/acedata/core.so (needs libluajit2-5.1-dev)")
    assert(exists(r .. "/build/luajit/acedata/core.so"), "no build/luajit/acedata/core.so after the build")
    built = true
  end
  return r .. "/build/luajit/?.so"
end

local PREAMBLE = [[
local OUT = assert(os.getenv("ACEDATA_NVIM_OUT"))
local lines = {}
local function out(s) lines[#lines + 1] = tostring(s) end
local function flush()
  local f = assert(io.open(OUT, "w"))
  f:write(table.concat(lines, "\n"), "\n")
  f:close()
end
local function done() flush(); vim.cmd("qa!") end
local function fail(msg) out("FAIL: " .. tostring(msg)); flush(); vim.cmd("cquit 1") end
vim.opt.runtimepath:prepend(os.getenv("ACEDATA_ROOT"))
package.cpath = os.getenv("ACEDATA_CPATH") .. ";" .. package.cpath
local guard = vim.loop.new_timer()
guard:start(tonumber(os.getenv("ACEDATA_NVIM_TIMEOUT")) * 1000, 0, vim.schedule_wrap(function()
  fail("timed out")
end))
guard:unref()
local function stop_guard() if not guard:is_closing() then guard:close() end end
local ok, err = xpcall(function()
]]

local POSTAMBLE = [[
end, debug.traceback)
if not ok then fail(err) end
]]

--- Runs `code` in headless Neovim. Returns the lines `out` recorded (array), Neovim's own output
-- and whether it exited 0.
function nvim.run(code, env, timeout)
  timeout = timeout or 30
  local base = os.tmpname()
  os.remove(base)
  local script, envfile, outfile = base .. ".lua", base .. ".env", base .. ".out"
  local f = assert(io.open(script, "w"))
  f:write(PREAMBLE, code, "\n", POSTAMBLE)
  f:close()
  f = assert(io.open(envfile, "w"))
  f:close()
  os.execute("chmod 600 " .. shell_quote(envfile))
  f = assert(io.open(envfile, "w"))
  local all = { ACEDATA_ROOT = root(), ACEDATA_CPATH = nvim.luajit_cpath(), ACEDATA_NVIM_OUT = outfile,
    ACEDATA_NVIM_TIMEOUT = tostring(timeout) }
  for k, v in pairs(env or {}) do all[k] = v end
  for k, v in pairs(all) do  -- a value false unsets the variable
    if v then f:write("export ", k, "=", shell_quote(v), "\n") else f:write("unset ", k, "\n") end
  end
  f:close()
  local cmd = "sh -c '. \"$0\"; timeout -k 5 " .. (timeout + 15)
    .. " nvim --headless --clean -u NONE -c \"luafile $1\" 2>&1; echo \"\nnvim-exit:$?\"' "
    .. shell_quote(envfile) .. " " .. shell_quote(script)
  local p = io.popen(cmd)
  local output = p:read("*a")
  p:close()
  local lines = {}
  f = io.open(outfile, "r")
  if f then
    for line in f:lines() do lines[#lines + 1] = line end
    f:close()
  end
  os.remove(script); os.remove(envfile); os.remove(outfile)
  local text, rc = output:match("^(.*)\nnvim%-exit:(%d+)\n$")
  return lines, text or output, rc == "0"
end

return nvim
