-- Test helper: child processes with extra environment variables. Values go through a 0600 file
-- sourced by sh, never the command line, so a token never shows in the process list.
local child = {}

--- The interpreter running the specs (lua5.4, luajit, …).
function child.interpreter()
  local i = -1
  while arg and arg[i - 1] do i = i - 1 end
  return arg and arg[i] or "lua"
end

--- Quotes a word for sh.
function child.quote(s)
  return "'" .. tostring(s):gsub("'", "'\\''") .. "'"
end

--- A file's whole content, or nil.
function child.read(path)
  local f = io.open(path, "rb")
  if not f then return nil end
  local s = f:read("*a")
  f:close()
  return s
end

--- Writes a 0600 file of `export K='v'` lines (`unset K` for a value false); returns its path.
--- The lines of `s`, each ended by "\n" (a last line without one is not counted).
function child.lines(s)
  local t = {}
  for line in s:gmatch("(.-)\n") do t[#t + 1] = line end
  return t
end

function child.env_file(path, env)
  local f = assert(io.open(path, "w"))
  for k, v in pairs(env or {}) do
    if v then f:write("export ", k, "=", child.quote(v), "\n") else f:write("unset ", k, "\n") end
  end
  f:close()
  os.execute("chmod 600 " .. child.quote(path))
  return path
end

--- Runs `argv` (a list of words) with `env`; returns its stdout, stderr and exit status.
-- (The status comes back on stdout of the wrapping sh: Lua 5.1 and LuaJIT's close() of a
-- popen'd file does not report it.)
function child.exec(argv, env)
  local base = os.tmpname()
  local envfile, out, err = base .. ".env", base .. ".out", base .. ".err"
  child.env_file(envfile, env)
  local words = {}
  for i, a in ipairs(argv) do words[i] = child.quote(a) end
  local p = assert(io.popen("sh -c '. \"$0\"; shift; \"$@\" >" .. out .. " 2>" .. err .. "; echo \"$?\"' "
    .. child.quote(envfile) .. " x " .. table.concat(words, " ")))
  local status = tonumber(p:read("*a"):match("(%d+)"))
  p:close()
  local stdout, stderr = child.read(out), child.read(err)
  os.remove(base); os.remove(envfile); os.remove(out); os.remove(err)
  return stdout, stderr, status
end

--- Runs the Lua chunk `code` with `env` set; returns its output (stdout and stderr) and
-- whether it exited 0.
function child.run(code, env)
  local script = os.tmpname()
  local f = assert(io.open(script, "w")); f:write(code); f:close()
  local stdout, stderr, status = child.exec({ child.interpreter(), script }, env)
  os.remove(script)
  return (stdout or "") .. (stderr or ""), status == 0
end

return child
