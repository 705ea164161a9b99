-- Test helper: runs a Lua chunk in a child interpreter (the same one running the specs) with
-- extra environment variables. Values go through a 0600 file, never the command line, so a
-- token never shows in the process list.
local child = {}

local function interpreter()
  local i = -1
  while arg and arg[i - 1] do i = i - 1 end
  return arg and arg[i] or "lua"
end

local function shell_quote(s)
  return "'" .. s:gsub("'", "'\\''") .. "'"
end

--- Runs `code` with `env` set; returns its stdout and whether it exited 0.
function child.run(code, env)
  local dir = os.tmpname()
  os.remove(dir)
  local script, envfile = dir .. ".lua", dir .. ".env"
  local f = assert(io.open(script, "w")); f:write(code); f:close()
  f = assert(io.open(envfile, "w"))
  for k, v in pairs(env or {}) do f:write("export ", k, "=", shell_quote(v), "\n") end
  f:close()
  os.execute("chmod 600 " .. shell_quote(envfile))
  -- The exit status comes back as a last line: Lua 5.1 and LuaJIT's close() of a popen'd file
  -- does not report it.
  local p = io.popen("sh -c '. \"$0\"; \"$1\" \"$2\" 2>&1; echo \"\nchild-exit:$?\"' " .. shell_quote(envfile) .. " "
    .. shell_quote(interpreter()) .. " " .. shell_quote(script))
  local all = p:read("*a")
  p:close()
  os.remove(script); os.remove(envfile)
  local out, status = all:match("^(.*)\nchild%-exit:(%d+)\n$")
  if not out then return all, false end
  return out, status == "0"
end

return child
