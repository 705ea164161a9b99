--- Where the `acedata` command writes: standard output, or `--output FILE` written atomically.
--
-- FILE is written to a temporary file beside it (same directory, so the same file system; created
-- with the process's umask) and renamed over FILE only when everything is written: a run that
-- fails half-way leaves an existing FILE as it was and nothing half-written under its name. The
-- temporary file is removed on every error path; `output.cleanup()` removes any that is still
-- open (acedata.cli.main calls it whatever ended the run, an interrupt included).
--
--    local out = output.open(env, path)   -- path nil: stdout
--    out.file:write(…)
--    out:commit()   -- or out:abort()
-- @module acedata.cli.output

local output = {}

-- Temporary files not yet committed or aborted: path -> file.
local pending = {}

local function fail(msg)
  error("cannot write: " .. msg, 0)
end

-- A name beside `path` that does not exist yet: "dir/.name.acedata-XXXXXXXX.tmp".
local function temp_name(path)
  local dir, base = path:match("^(.*/)([^/]*)$")
  if not dir then dir, base = "", path end
  for _ = 1, 20 do
    local tag = string.format("%08x", (math.random(0, 0x3fffffff) + os.time() + math.floor(os.clock() * 1e6))
      % 0x7fffffff)
    local name = dir .. "." .. base .. ".acedata-" .. tag .. ".tmp"
    local f = io.open(name, "rb")
    if not f then return name end
    f:close()
  end
  fail(path .. ": no free temporary name beside it")
end

local Out = {}
Out.__index = Out

--- Closes the output: for a file, renames the temporary file over FILE. Raises "cannot write: …".
function Out:commit()
  if not self.temp then
    local ok, err = self.file:flush()
    if not ok then fail(tostring(err)) end
    return
  end
  local temp = self.temp
  self.temp = nil
  pending[temp] = nil
  local ok, err = self.file:close()
  if ok then ok, err = os.rename(temp, self.path) end
  if not ok then
    os.remove(temp)
    fail(self.path .. ": " .. tostring(err))
  end
end

--- Gives up: the temporary file is closed and removed; FILE is untouched.
function Out:abort()
  if not self.temp then
    pcall(self.file.flush, self.file)
    return
  end
  local temp = self.temp
  self.temp = nil
  pending[temp] = nil
  pcall(self.file.close, self.file)
  os.remove(temp)
end

--- Opens the output: standard output when `path` is nil, else a temporary file beside `path`.
-- Raises "cannot write: …" when it cannot be created.
-- @tparam table env the command's environment (`stdout`, `isatty`)
-- @tparam[opt] string path
-- @return an output: `file`, `commit()`, `abort()`
function output.open(env, path)
  if not path then
    env.stdout:setvbuf(env.isatty(1) and "line" or "full")
    return setmetatable({ file = env.stdout }, Out)
  end
  if path == "" then fail("--output needs a file name") end
  local temp = temp_name(path)
  local f, err = io.open(temp, "wb")
  if not f then fail(path .. ": " .. tostring(err):gsub("^[^:]*: ", "")) end
  f:setvbuf("full")
  pending[temp] = f
  return setmetatable({ file = f, temp = temp, path = path }, Out)
end

--- Removes every temporary file still open (the run ended by an error or an interrupt).
function output.cleanup()
  for temp, f in pairs(pending) do
    pcall(f.close, f)
    os.remove(temp)
    pending[temp] = nil
  end
end

return output
