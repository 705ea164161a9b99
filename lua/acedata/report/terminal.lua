--- Where a chart goes in a terminal: how wide it may be, and whether it may have colour.
--
--    local terminal = require "acedata.report.terminal"
--    local width = terminal.width(env)     -- $COLUMNS, else the terminal's size, else 80
--    local colour = terminal.colour(env)   -- a terminal, NO_COLOR unset or empty, TERM not "dumb"
--
-- `env` gives the process's view of the world, so the command line and the specs can say what
-- is true: `getenv(name)`, `isatty(fd)`, `size()` (the terminal's columns, or nil), `file` (true
-- when the output goes to a file named on the command line). Every field is optional.
-- @module acedata.report.terminal

local terminal = {}

--- The width of a chart when nothing else says: 80 columns.
terminal.DEFAULT_WIDTH = 80

--- The columns of the controlling terminal (`stty size`), or nil.
function terminal.size()
  local p = io.popen("stty size </dev/tty 2>/dev/null")
  if not p then return nil end
  local out = p:read("*a") or ""
  p:close()
  local cols = tonumber(out:match("^%s*%d+%s+(%d+)"))
  if cols and cols > 0 then return cols end
  return nil
end

local function getenv(env, name)
  if env.getenv then return env.getenv(name) end
  return os.getenv(name)
end

--- The width for a chart: `$COLUMNS` when it is a positive number, else the terminal's columns
-- when standard output is a terminal, else 80.
-- @tparam[opt] table env
-- @treturn integer
function terminal.width(env)
  env = env or {}
  local cols = tonumber(getenv(env, "COLUMNS") or "")
  if cols and cols >= 1 and cols == math.floor(cols) then return cols end
  if not env.file and env.isatty and env.isatty(1) then
    local size = (env.size or terminal.size)()
    if size then return size end
  end
  return terminal.DEFAULT_WIDTH
end

--- Whether a chart may be coloured: standard output is a terminal (not a file), `NO_COLOR` is
-- unset or empty (https://no-color.org) and `TERM` is not "dumb".
-- @tparam[opt] table env
-- @treturn boolean
function terminal.colour(env)
  env = env or {}
  if env.file or not (env.isatty and env.isatty(1)) then return false end
  local no = getenv(env, "NO_COLOR")
  if no ~= nil and no ~= "" then return false end
  return getenv(env, "TERM") ~= "dumb"
end

return terminal
